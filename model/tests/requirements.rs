//! Requirement IDs cited by the code exist in the catalogue, and the rules that encode
//! requirements cite them: every property, every bug, every monitor.

use bootstrap_model::bugs::Bug;
use bootstrap_model::monitor::Monitor;
use bootstrap_model::profile::Profile;
use bootstrap_model::system::{BootstrapSystem, Config};
use std::collections::BTreeSet;
use std::path::Path;

fn ids_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(k) = text[i..].find("BS-") {
        let start = i + k;
        let mut end = start + 3;
        while end < b.len() && b[end].is_ascii_uppercase() {
            end += 1;
        }
        if end < b.len() && b[end] == b'-' && end + 2 < b.len() + 1 {
            let digits = &text[end + 1..(end + 3).min(text.len())];
            if digits.len() == 2 && digits.bytes().all(|c| c.is_ascii_digit()) {
                out.insert(text[start..end + 3].to_string());
            }
        }
        i = start + 3;
    }
    out
}

fn catalogue() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(dir.join("spec/requirements.md")).unwrap();
    // Only IDs defined in a table row (`| BS-XXX-NN |`) count as defined.
    text.lines()
        .filter_map(|l| l.strip_prefix("| BS-"))
        .filter_map(|l| l.split_whitespace().next())
        .map(|rest| format!("BS-{rest}"))
        .collect()
}

#[test]
fn the_vendored_catalogue_matches_the_shared_one_when_present() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = dir.join("../../shared/spec/requirements.md");
    if let Ok(theirs) = std::fs::read_to_string(&shared) {
        let ours = std::fs::read_to_string(dir.join("spec/requirements.md")).unwrap();
        assert_eq!(
            ours, theirs,
            "model/spec/requirements.md is stale: copy {shared:?}"
        );
    }
}

#[test]
fn every_id_cited_in_the_source_is_defined() {
    let defined = catalogue();
    assert!(defined.len() > 60, "catalogue parsed badly: {defined:?}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut unknown = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for id in ids_in(&text) {
            if !defined.contains(&id) {
                unknown.push(format!("{}: {id}", path.display()));
            }
        }
    }
    assert!(unknown.is_empty(), "unknown requirement IDs: {unknown:?}");
}

#[test]
fn every_property_monitor_and_bug_cites_a_defined_requirement() {
    let defined = catalogue();
    let cites = |s: &str| {
        let ids = ids_in(s);
        !ids.is_empty() && ids.iter().all(|i| defined.contains(i))
    };
    for m in Monitor::ALL {
        assert!(cites(m.title()), "{m:?}");
    }
    for b in Bug::ALL {
        assert!(cites(b.requirements()), "{b:?}");
    }
    for p in Profile::ALL {
        let model = BootstrapSystem::new(Config::default_for(p)).unwrap();
        for prop in stateright::Model::properties(&model) {
            let text = bootstrap_model::properties::describe(prop.name);
            if text.starts_with("reachable:") {
                continue;
            }
            assert!(cites(&text), "{text}");
        }
    }
}

#[test]
fn the_id_scanner_finds_ids_and_only_ids() {
    let ids = ids_in("see BS-WIPE-01, BS-KEEP-02/BS-DEL-03 and BS-X, BS-FOO-1, A-03");
    let want: BTreeSet<String> = ["BS-WIPE-01", "BS-KEEP-02", "BS-DEL-03"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ids, want);
}
