//! Reading vector files with errors that name the file and the JSON path: syntax (a
//! truncated file), an unknown `format_version`, a value that does not fit the schema or the
//! types (a wrong type, an unknown field), an unknown requirement ID, an ID that no longer
//! matches the content.

use crate::catalogue::Catalogue;
use crate::generate::content_id;
use crate::vector::{vector_schema, Vector, FORMAT_VERSION};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a vector file cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// The JSON path of the offending value (`$` for the document), when known.
    pub json_path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.file.display(),
            self.json_path,
            self.message
        )
    }
}

impl std::error::Error for LoadError {}

/// A compiled schema and the catalogue, reused across files.
pub struct Loader {
    schema: jsonschema::Validator,
    catalogue: Catalogue,
}

impl Default for Loader {
    fn default() -> Self {
        Loader::new()
    }
}

impl Loader {
    /// Compiles the vector schema.
    pub fn new() -> Loader {
        let schema: serde_json::Value =
            serde_json::from_str(&vector_schema()).expect("the generated schema is JSON");
        Loader {
            schema: jsonschema::validator_for(&schema).expect("the generated schema compiles"),
            catalogue: Catalogue::load(),
        }
    }

    /// Reads and checks one vector file.
    pub fn load_file(&self, file: &Path) -> Result<Vector, LoadError> {
        let text = std::fs::read_to_string(file).map_err(|e| LoadError {
            file: file.to_path_buf(),
            json_path: "$".into(),
            message: format!("cannot read: {e}"),
        })?;
        self.load_str(file, &text)
    }

    /// Checks vector text that came from `file`: its syntax, its format version, the schema,
    /// the types, then its meaning.
    pub fn load_str(&self, file: &Path, text: &str) -> Result<Vector, LoadError> {
        let err = |(json_path, message): Located| LoadError {
            file: file.to_path_buf(),
            json_path,
            message,
        };
        let value = parse_json(text).map_err(err)?;
        check_format_version(&value).map_err(err)?;
        // 3. The schema: every violation with its instance path, the first one reported.
        if let Some(e) = self.schema.iter_errors(&value).next() {
            return Err(err((
                pointer_to_path(e.instance_path().as_str()),
                e.to_string(),
            )));
        }
        // 4. The types.
        let vector: Vector = serde_path_to_error::deserialize(value)
            .map_err(|e| err((json_path(&e.path().to_string()), e.inner().to_string())))?;
        self.check_meaning(&vector).map_err(err)?;
        Ok(vector)
    }

    /// Step 5, meaning: a known profile and known requirement IDs, and an ID that matches the
    /// content.
    fn check_meaning(&self, vector: &Vector) -> Result<(), Located> {
        if vector
            .profile
            .parse::<bootstrap_model::profile::Profile>()
            .is_err()
        {
            return Err((
                "$.profile".into(),
                format!("unknown profile {:?}", vector.profile),
            ));
        }
        for (i, id) in vector.requirements.iter().enumerate() {
            if !self.catalogue.by_id.contains_key(id) {
                return Err((
                    format!("$.requirements[{i}]"),
                    format!("unknown requirement ID {id}"),
                ));
            }
        }
        for (s, step) in vector.steps.iter().enumerate() {
            for (i, id) in step.requirements.iter().enumerate() {
                if !self.catalogue.by_id.contains_key(id) {
                    return Err((
                        format!("$.steps[{s}].requirements[{i}]"),
                        format!("unknown requirement ID {id}"),
                    ));
                }
            }
        }
        let id = content_id(vector);
        if vector.id != id {
            return Err((
                "$.id".into(),
                format!("{} does not match the content (its ID is {id}): the file was edited or is stale", vector.id),
            ));
        }
        Ok(())
    }

    /// Reads every `*.json` vector under `dir` (recursively, manifest and schema files
    /// excluded), sorted by path.
    pub fn load_dir(&self, dir: &Path) -> Result<Vec<(PathBuf, Vector)>, LoadError> {
        let mut files = Vec::new();
        collect(dir, &mut files).map_err(|e| LoadError {
            file: dir.to_path_buf(),
            json_path: "$".into(),
            message: format!("cannot list: {e}"),
        })?;
        files.sort();
        files
            .into_iter()
            .map(|f| self.load_file(&f).map(|v| (f, v)))
            .collect()
    }
}

/// Where a check failed and why: the JSON path of the offending value and the message.
type Located = (String, String);

/// Step 1, syntax; a typed parse gives the path where a truncated file stops.
fn parse_json(text: &str) -> Result<serde_json::Value, Located> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(e) => {
            let mut de = serde_json::Deserializer::from_str(text);
            let path = match serde_path_to_error::deserialize::<_, Vector>(&mut de) {
                Err(pe) => json_path(&pe.path().to_string()),
                Ok(_) => "$".into(),
            };
            Err((path, format!("not valid JSON: {e}")))
        }
    }
}

/// Step 2, the format version, before anything else depends on it: this suite's, not version 1
/// (which copied the reference client's answers), not another.
fn check_format_version(value: &serde_json::Value) -> Result<(), Located> {
    let at = || "$.format_version".to_string();
    match value.get("format_version") {
        None => Err((at(), "missing".into())),
        Some(v) if v.as_u64() == Some(FORMAT_VERSION as u64) => Ok(()),
        Some(v) if v.as_u64() == Some(1) => Err((
            at(),
            format!("format_version 1 is no longer read: version 1 copied the reference client's answers, version {FORMAT_VERSION} states rules; regenerate the vectors (lwm2m-bootstrap generate)"),
        )),
        Some(v) if v.is_u64() => Err((
            at(),
            format!("unsupported format_version {v}: this suite reads {FORMAT_VERSION}"),
        )),
        Some(v) => Err((at(), format!("expected an unsigned integer, found {v}"))),
    }
}

/// The vector files under `dir`.
pub fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "schema") {
                collect(&p, out)?;
            }
        } else if p.extension().is_some_and(|e| e == "json")
            && !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("manifest.json" | "coverage.json")
            )
        {
            out.push(p);
        }
    }
    Ok(())
}

/// `steps[2].expect` → `$.steps[2].expect`; `.` → `$`.
fn json_path(p: &str) -> String {
    if p.is_empty() || p == "." {
        "$".into()
    } else {
        format!("$.{p}")
    }
}

/// `/steps/2/expect` → `$.steps[2].expect`.
fn pointer_to_path(p: &str) -> String {
    let mut out = String::from("$");
    for seg in p.split('/').skip(1) {
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push('.');
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_read_like_json_path() {
        assert_eq!(
            super::pointer_to_path("/steps/2/expect"),
            "$.steps[2].expect"
        );
        assert_eq!(super::pointer_to_path(""), "$");
        assert_eq!(super::json_path("steps[1].stimulus"), "$.steps[1].stimulus");
    }
}
