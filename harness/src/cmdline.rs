//! Client command lines (`--client 'CMD ARGS'`): splitting one into words as a shell would
//! in simple cases, quoting words back for a report, and checking that the program exists
//! before anything is started.

use std::path::Path;

/// Splits a command line into words the way a POSIX shell does in simple cases: words are
/// separated by whitespace; `'...'` is literal; in `"..."` a backslash escapes `"`, `\`, `$`
/// and `` ` ``; outside quotes a backslash escapes the next character. No expansion of any
/// kind (variables, globs, `~`), no operators.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated ' in {line:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated \" in {line:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated \" in {line:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("trailing backslash in {line:?}")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `word` as a shell would need it written (quoted when it holds anything special).
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Whether `path` is a file this process may execute.
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Finds `program` as the OS will when it is spawned: a path when it holds a `/`, else the
/// first executable of that name on `PATH`.
pub(crate) fn find_program(program: &str) -> Result<(), String> {
    if program.contains('/') || program.contains(std::path::MAIN_SEPARATOR) {
        let p = Path::new(program);
        return if is_executable(p) {
            Ok(())
        } else if p.exists() {
            Err(format!(
                "--client: the client program {program:?} is not an executable file"
            ))
        } else {
            Err(format!(
                "--client: the client program {program:?} does not exist"
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program))) {
        Ok(())
    } else {
        Err(format!(
            "--client: the client program {program:?} is not found on PATH"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_in_simple_cases() {
        let s = |l: &str| split_command_line(l).unwrap();
        assert_eq!(s("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(
            s("python3 'my dir/x.py' \"a b\" c\\ d"),
            ["python3", "my dir/x.py", "a b", "c d"]
        );
        assert_eq!(
            s(r#"x "q\"uote\\" 'it''s' "" ''"#),
            ["x", "q\"uote\\", "its", "", ""]
        );
        assert_eq!(s(r#"a"b"'c'd"#), ["abcd"]);
        assert_eq!(s(r#""\n""#), ["\\n"]);
        assert!(s("   ").is_empty());
        assert!(split_command_line("a 'b").is_err());
        assert!(split_command_line("a \"b").is_err());
        assert!(split_command_line("a \\").is_err());
    }
}
