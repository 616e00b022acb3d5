//! The model's reference client behind the harness protocol (`harness/PROTOCOL.md`), on
//! stdin and stdout: `--client 'lwm2m-reference-client [--bug NAME]...'` runs the harness
//! against it as against any vendor's adapter. `--bug NAME` switches an injected bug in (see
//! `lwm2m-bootstrap --list-bugs`).
//!
//! Exit status: 0 after `stop` or the end of stdin, 1 when the harness spoke something this
//! client does not understand (reason on stderr), 2 on bad flags (one line on stderr).

use bootstrap_model::bugs::{Bug, BugSet};
use std::process::ExitCode;

const USAGE: &str = "usage: lwm2m-reference-client [--bug NAME]... (serves the harness protocol version 1 on stdin/stdout)";

fn parse(args: impl Iterator<Item = String>) -> Result<Option<BugSet>, String> {
    let mut bits = 0u64;
    let mut args = args;
    while let Some(arg) = args.next() {
        let name = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--bug" => args
                .next()
                .ok_or_else(|| "--bug needs a bug name".to_string())?,
            a => match a.strip_prefix("--bug=") {
                Some(name) => name.to_string(),
                None => return Err(format!("unknown argument {a:?} ({USAGE})")),
            },
        };
        let bug = Bug::from_name(&name).ok_or_else(|| {
            format!("--bug {name:?}: unknown bug (see `lwm2m-bootstrap --list-bugs`)")
        })?;
        bits |= BugSet::only(bug).bits();
    }
    Ok(Some(BugSet::from_bits(bits)))
}

fn main() -> ExitCode {
    let bugs = match parse(std::env::args().skip(1)) {
        Ok(Some(bugs)) => bugs,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lwm2m-reference-client: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    match harness::subprocess::serve(bugs, stdin, stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lwm2m-reference-client: {e}");
            ExitCode::FAILURE
        }
    }
}
