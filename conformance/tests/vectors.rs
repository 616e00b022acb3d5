//! The committed vectors: what the model generates (byte for byte, reviewed as insta
//! snapshots), deterministic, valid against the committed schema, still fitting the model,
//! covering everything reachable and observable, and catching every injected bug.

use bootstrap_model::bugs::{Bug, BugSet};
use bootstrap_model::profile::Profile;
use conformance::files;
use conformance::generate::{default_config, ProfileOutput};
use conformance::load::Loader;
use conformance::replay::replay_in_model;
use conformance::vector::{vector_schema, Vector};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors")
}

struct Generated {
    outputs: Vec<ProfileOutput>,
    files: BTreeMap<PathBuf, String>,
}

/// One generation for the whole test binary.
fn generated() -> &'static Generated {
    static G: OnceLock<Generated> = OnceLock::new();
    G.get_or_init(|| {
        let outputs = files::generate_all(&Profile::ALL, &default_config(), 2).expect("generation");
        let files = files::render(&outputs, &default_config());
        Generated { outputs, files }
    })
}

fn committed() -> Vec<(PathBuf, Vector)> {
    Loader::new()
        .load_dir(&vectors_dir())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn committed_vectors_are_what_the_model_generates() {
    let diffs = files::differences(&vectors_dir(), &generated().files);
    assert!(
        diffs.is_empty(),
        "vectors/ is not what the model generates; run `cargo run --release -p lwm2m-conformance -- generate`, \
         review the diff and accept the snapshots (`cargo insta review`):\n{}",
        diffs.join("\n")
    );
}

#[test]
fn every_vector_is_reviewed_as_an_insta_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/vectors");
    let mut expected = Vec::new();
    let mut failures = Vec::new();
    for (rel, text) in &generated().files {
        let Some(profile) = rel
            .parent()
            .and_then(|p| p.to_str())
            .filter(|p| Profile::ALL.iter().any(|x| x.name() == *p))
        else {
            continue;
        };
        let stem = rel.file_stem().unwrap().to_string_lossy();
        let name = format!("{profile}__{stem}");
        expected.push(format!("{name}.snap"));
        let result = std::panic::catch_unwind(|| {
            insta::with_settings!({
                snapshot_path => dir.clone(),
                prepend_module_to_snapshot => false,
                omit_expression => true,
            }, {
                insta::assert_snapshot!(name.clone(), text);
            });
        });
        if result.is_err() {
            failures.push(name);
        }
    }
    assert!(
        failures.is_empty(),
        "vectors changed, review with `cargo insta review`: {failures:?}"
    );
    // Unreferenced snapshots are rejected: every snapshot must belong to a current vector.
    let mut unreferenced = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("snapshot directory") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".snap") && !expected.contains(&name) {
            unreferenced.push(name);
        }
    }
    assert!(
        unreferenced.is_empty(),
        "snapshots of vectors that are not generated any more (delete them): {unreferenced:?}"
    );
}

#[test]
fn generation_is_deterministic_for_any_thread_count() {
    // One profile is enough to show it, and keeps the test short.
    let some = [Profile::Seed];
    let once = files::render(
        &files::generate_all(&some, &default_config(), 1).unwrap(),
        &default_config(),
    );
    let again = files::render(
        &files::generate_all(&some, &default_config(), 2).unwrap(),
        &default_config(),
    );
    assert_eq!(once, again);
    for (rel, text) in &once {
        if rel.parent().is_some_and(|p| p == Path::new("seed")) {
            assert_eq!(Some(text), generated().files.get(rel), "{}", rel.display());
        }
    }
}

#[test]
fn committed_schema_is_the_generated_one_and_every_vector_validates() {
    let schema_text =
        std::fs::read_to_string(vectors_dir().join("schema/vector.schema.json")).unwrap();
    assert_eq!(
        schema_text,
        vector_schema(),
        "the committed schema is stale"
    );
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut files = Vec::new();
    conformance::load::collect(&vectors_dir(), &mut files).unwrap();
    assert!(files.len() > 100);
    for f in files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
}

#[test]
fn committed_vectors_fit_the_model() {
    let stale: Vec<String> = committed()
        .iter()
        .flat_map(|(_, v)| {
            // As written, and as played after its prologue from bootstrap-only.
            [Some(v.clone()), v.with_prologue()]
                .into_iter()
                .flatten()
                .filter_map(|v| replay_in_model(&v, BugSet::NONE).err())
                .map(|m| m.to_string())
        })
        .collect();
    assert!(stale.is_empty(), "stale vectors:\n{}", stale.join("\n"));
}

/// Every vector that does not start from bootstrap-only either has a prologue or says why
/// not, and a prologue is a bootstrap session from bootstrap-only ending in Finish or in a
/// consistent pack.
#[test]
fn every_factory_vector_has_a_prologue_or_a_reason() {
    for (f, v) in committed() {
        if v.factory.name() == "bootstrap-only" {
            assert!(
                v.prologue.is_none() && v.no_prologue.is_none(),
                "{}",
                f.display()
            );
            continue;
        }
        match (&v.prologue, &v.no_prologue) {
            (Some(p), None) => {
                assert_eq!(p.factory.name(), "bootstrap-only", "{}", f.display());
                assert!(
                    p.steps.last().is_some_and(|s| matches!(
                        s.stimulus,
                        bootstrap_model::system::Action::BootstrapFinish
                            | bootstrap_model::system::Action::BootstrapPackDelivered {
                                consistent: true,
                                ..
                            }
                    )),
                    "{}",
                    f.display()
                );
            }
            (None, Some(why)) => assert!(!why.is_empty(), "{}", f.display()),
            _ => panic!(
                "{}: a prologue or a reason, not both or neither",
                f.display()
            ),
        }
    }
}

#[test]
fn a_stale_vector_is_named_with_its_step() {
    let (_, mut v) = committed()
        .into_iter()
        .find(|(_, v)| v.steps.len() >= 3 && v.steps[2].expect.response.is_some())
        .expect("a vector with a response at step 3");
    v.steps[2].expect.response.as_mut().unwrap().codes = vec!["5.00".into()];
    let m = replay_in_model(&v, BugSet::NONE)
        .expect_err("a corrupted expectation must not fit the model");
    assert_eq!(m.step, 3);
    assert_eq!(m.vector, v.name);
    assert!(
        m.to_string()
            .contains(&format!("vector {}, step 3: expected 5.00", v.name)),
        "{m}"
    );
}

#[test]
fn coverage_is_complete_for_every_profile() {
    for c in files::coverage_of(&generated().outputs) {
        assert!(
            c.transitions_missing.is_empty(),
            "{}: {:?}",
            c.profile,
            c.transitions_missing
        );
        assert!(
            c.requirements_missing.is_empty(),
            "{}: {:?}",
            c.profile,
            c.requirements_missing
        );
        assert_eq!(c.transitions_covered, c.transitions_reachable);
        assert!(c.requirements_covered > 50, "{c:?}");
        println!(
            "{}: {} vectors, transitions {}/{}, requirements {}/{} observable",
            c.profile,
            c.vectors,
            c.transitions_covered,
            c.transitions_reachable,
            c.requirements_covered,
            c.requirements_observable
        );
    }
}

#[test]
fn every_injected_bug_is_caught_by_a_vector() {
    let vectors = committed();
    let mut survivors = Vec::new();
    println!("{:<42} first vector that catches it", "bug");
    for bug in Bug::ALL {
        let hit = conformance::replay::first_catch(*bug, vectors.iter().map(|(_, v)| v));
        match (hit, bug.unobservable_by_vectors()) {
            (Some((_, m)), None) => println!("{:<42} {} (step {})", bug.name(), m.vector, m.step),
            (None, Some(why)) => println!("{:<42} unobservable: {why}", bug.name()),
            (Some((_, m)), Some(_)) => panic!(
                "{} is said to be unobservable, but {} catches it at step {}",
                bug.name(),
                m.vector,
                m.step
            ),
            (None, None) => survivors.push(bug.name()),
        }
    }
    assert!(
        survivors.is_empty(),
        "bugs no vector catches: {survivors:?}"
    );
}

/// Issue #10: no requirement is credited where the judge cannot fail it. Every credit of
/// every committed vector is backed by a break of the requirement's observation that the
/// judge fails.
#[test]
fn every_credit_is_backed_by_a_break_the_judge_fails() {
    let mut unbacked = Vec::new();
    for (path, v) in committed() {
        match conformance::credit::unbacked(&v) {
            Ok(u) => unbacked.extend(u),
            Err(m) => panic!("{}: {m}", path.display()),
        }
    }
    let shown: Vec<String> = unbacked.iter().map(|u| u.to_string()).collect();
    assert!(
        unbacked.is_empty(),
        "{} credits the judge cannot fail:\n{}",
        unbacked.len(),
        shown.join("\n")
    );
}

/// The credit check fails where a credit is unbacked: a step that allows every code credits
/// BS-FIN-02 for nothing, and a step where the client sends nothing cannot back BS-REG-01.
#[test]
fn the_credit_check_names_a_credit_the_judge_cannot_fail() {
    let (_, v) = committed()
        .into_iter()
        .find(|(_, v)| {
            v.steps.iter().any(|s| {
                s.requirements.iter().any(|r| r == "BS-FIN-02") && s.expect.response.is_some()
            })
        })
        .expect("a vector crediting BS-FIN-02");
    assert_eq!(conformance::credit::unbacked(&v).expect("replay"), vec![]);
    let n = v
        .steps
        .iter()
        .position(|s| s.requirements.iter().any(|r| r == "BS-FIN-02"))
        .expect("step");

    let mut any_code = v.clone();
    if let Some(r) = any_code.steps[n].expect.response.as_mut() {
        r.codes = bootstrap_model::code::ResponseCode::ALL
            .iter()
            .map(|c| c.dotted().to_string())
            .collect();
        r.content = None;
    }
    let found = conformance::credit::unbacked(&any_code).expect("replay");
    let shown: Vec<String> = found.iter().map(|u| u.to_string()).collect();
    assert!(
        found
            .iter()
            .any(|u| u.step == n + 1 && u.requirement == "BS-FIN-02"),
        "{shown:?}"
    );
    assert!(shown
        .iter()
        .any(|s| s.contains("credits BS-FIN-02 but no break of Code")));

    let mut silent = v.clone();
    let quiet = silent
        .steps
        .iter()
        .position(|s| s.expect.sends.is_empty() && s.expect.or_sends.is_empty())
        .expect("a step where the client sends nothing");
    silent.steps[quiet].requirements.push("BS-REG-01".into());
    let found = conformance::credit::unbacked(&silent).expect("replay");
    assert!(
        found
            .iter()
            .any(|u| u.step == quiet + 1 && u.requirement == "BS-REG-01"),
        "{found:?}"
    );
}

/// BS-OBJ-05 is judged: a client that claims no Access Control object but accepts the
/// multi-server configuration of Core 1.2 §6.1.5's example (the reference client with the
/// object) fails each profile's single-server vector at its Finish.
#[test]
fn a_client_with_access_control_fails_the_single_server_vectors() {
    let single: Vec<(PathBuf, Vector)> = committed()
        .into_iter()
        .filter(|(_, v)| v.features.no_access_control)
        .collect();
    assert_eq!(single.len(), 4, "one per profile");
    for (path, v) in single {
        assert_eq!(v.requirements[0], "BS-OBJ-05", "{}", path.display());
        replay_in_model(&v, BugSet::NONE).unwrap_or_else(|m| panic!("{m}"));
        let mut with_acl = v.clone();
        with_acl.features.no_access_control = false;
        let m = replay_in_model(&with_acl, BugSet::NONE).expect_err("must fail");
        let finish = v
            .steps
            .iter()
            .position(|s| matches!(s.stimulus, bootstrap_model::system::Action::BootstrapFinish))
            .unwrap();
        assert_eq!(m.step, finish + 1, "{m}");
        assert!(m.detail.contains("4.06"), "{m}");
    }
}
