//! Bad vector files: each gives an error naming the file and the JSON path, never a panic.

use conformance::load::{LoadError, Loader};
use std::path::{Path, PathBuf};
use std::process::Command;

fn a_committed_vector() -> (PathBuf, String) {
    let mut files = Vec::new();
    conformance::load::collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors/1.1"),
        &mut files,
    )
    .unwrap();
    files.sort();
    let f = files.into_iter().next().expect("committed vectors");
    let text = std::fs::read_to_string(&f).unwrap();
    (f, text)
}

fn load(name: &str, text: &str) -> LoadError {
    let file = PathBuf::from(format!("bad/{name}.json"));
    Loader::new()
        .load_str(&file, text)
        .expect_err("must be refused")
}

#[test]
fn the_good_file_loads() {
    let (f, text) = a_committed_vector();
    Loader::new().load_str(&f, &text).unwrap();
}

#[test]
fn truncated_file() {
    let (_, text) = a_committed_vector();
    let e = load("truncated", &text[..text.len() / 2]);
    assert!(e.message.starts_with("not valid JSON"), "{e}");
    assert!(
        e.json_path.starts_with("$."),
        "a truncated file names where it stops: {e}"
    );
    assert!(e.to_string().starts_with("bad/truncated.json: $."), "{e}");
}

#[test]
fn garbage_and_empty_files() {
    for (name, text) in [
        ("garbage", "\u{0}\u{1}hello"),
        ("empty", ""),
        ("array", "[1,2]"),
    ] {
        let e = load(name, text);
        assert!(
            e.to_string().starts_with(&format!("bad/{name}.json: $")),
            "{e}"
        );
    }
}

#[test]
fn unknown_format_version() {
    let (_, text) = a_committed_vector();
    let e = load(
        "version",
        &text.replacen("\"format_version\": 2", "\"format_version\": 3", 1),
    );
    assert_eq!(e.json_path, "$.format_version");
    assert!(e.message.contains("unsupported format_version 3"), "{e}");
    let e = load(
        "version-type",
        &text.replacen("\"format_version\": 2", "\"format_version\": \"one\"", 1),
    );
    assert_eq!(e.json_path, "$.format_version");
}

/// Version 1 files copied the reference client's answers; they are refused in one line
/// that says what to do.
#[test]
fn format_version_1_is_refused_in_one_line() {
    let (_, text) = a_committed_vector();
    let e = load(
        "v1",
        &text.replacen("\"format_version\": 2", "\"format_version\": 1", 1),
    );
    assert_eq!(e.json_path, "$.format_version");
    assert!(
        e.message.contains("format_version 1 is no longer read"),
        "{e}"
    );
    assert!(e.message.contains("regenerate"), "{e}");
    assert_eq!(e.to_string().lines().count(), 1, "{e}");
}

#[test]
fn wrong_type() {
    let (_, text) = a_committed_vector();
    let e = load(
        "tier",
        &text.replacen("\"tier\": \"MUST\"", "\"tier\": 3", 1),
    );
    assert_eq!(e.json_path, "$.tier", "{e}");
    let e = load(
        "steps",
        &text
            .replacen("\"steps\": [", "\"steps\": {\"x\": [", 1)
            .replacen("\"provenance\"", "\"x2\": 0}, \"provenance\"", 1),
    );
    assert!(e.json_path.starts_with("$"), "{e}");
}

#[test]
fn unknown_field() {
    let (_, text) = a_committed_vector();
    let e = load("field", &text.replacen("{", "{\n  \"surprise\": true,", 1));
    assert_eq!(e.json_path, "$", "{e}");
    assert!(e.message.contains("surprise"), "{e}");
}

#[test]
fn unknown_requirement_id() {
    let (_, text) = a_committed_vector();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = v["requirements"][0].as_str().unwrap().to_string();
    let e = load(
        "requirement",
        &text.replacen(&format!("\"{first}\""), "\"BS-FOO-99\"", 1),
    );
    assert_eq!(e.json_path, "$.requirements[0]", "{e}");
    assert!(
        e.message.contains("unknown requirement ID BS-FOO-99"),
        "{e}"
    );
}

#[test]
fn edited_content_no_longer_matches_its_id() {
    let (_, text) = a_committed_vector();
    let e = load("edited", &text.replacen("\"2.04\"", "\"2.02\"", 1));
    assert_eq!(e.json_path, "$.id", "{e}");
}

#[test]
fn the_cli_reports_a_bad_file_in_one_line_naming_file_and_path() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad-vectors");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("1.1")).unwrap();
    let (_, text) = a_committed_vector();
    std::fs::write(dir.join("1.1/cut.json"), &text[..text.len() / 3]).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lwm2m-bootstrap"))
        .args(["coverage", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cut.json: $."), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_lwm2m-bootstrap"))
        .args(["generate", "--profile", "2.0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown profile \"2.0\""));
}

#[test]
fn a_vector_naming_a_server_the_model_lacks_is_a_mismatch_not_a_panic() {
    let (f, text) = a_committed_vector();
    let mut v = Loader::new().load_str(&f, &text).unwrap();
    v.steps.insert(
        0,
        conformance::vector::Step {
            stimulus: bootstrap_model::system::Action::RegisterRejected { server: 7 },
            request: None,
            expect: Default::default(),
            requirements: vec![],
        },
    );
    // Replaying must not panic; whatever the verdict, it names the vector.
    if let Err(m) = conformance::replay::replay_in_model(&v, bootstrap_model::bugs::BugSet::NONE) {
        assert_eq!(m.vector, v.name);
    }
}
