//! What the wire's integration tests share: running `lwm2m-certify`, its output, a fresh
//! directory per test, the verdicts of a report.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `lwm2m-certify` with `args` at the workspace root.
pub fn certify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lwm2m-certify"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("lwm2m-certify runs")
}

/// Its stdout, then its stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An empty directory `group/name` under the target's temporary directory.
pub fn tmp(group: &str, name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The JSON report a run wrote to `dir`.
pub fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).unwrap()
}

/// Name, verdict and detail (or reason) of each vector in report `r`.
pub fn verdicts(r: &serde_json::Value) -> Vec<(String, String, String)> {
    r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let verdict = &v["verdict"];
            let why = verdict["detail"]
                .as_str()
                .or(verdict["reason"].as_str())
                .unwrap_or_default();
            (
                v["name"].as_str().unwrap().to_string(),
                verdict["verdict"].as_str().unwrap().to_string(),
                why.to_string(),
            )
        })
        .collect()
}

/// The verdicts of the report a run wrote to `dir`.
pub fn verdicts_in(dir: &Path) -> Vec<(String, String, String)> {
    verdicts(&report(dir))
}
