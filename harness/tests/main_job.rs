//! The README's main job is `cargo run --release` at the workspace root: that only works
//! while the workspace's default member is this crate and its default binary is
//! `lwm2m-certify` (a second binary here once made `cargo run` refuse to choose).

use std::path::Path;

fn manifest(rel: &str) -> toml::Table {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap();
    text.parse().unwrap()
}

#[test]
fn cargo_run_at_the_root_runs_lwm2m_certify() {
    let root = manifest("../Cargo.toml");
    let members = root["workspace"]["default-members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].as_str(), Some("harness"));
    let here = manifest("Cargo.toml");
    assert_eq!(
        here["package"]["default-run"].as_str(),
        Some("lwm2m-certify")
    );
    let bins: Vec<&str> = here["bin"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert!(bins.contains(&"lwm2m-certify"), "{bins:?}");
}
