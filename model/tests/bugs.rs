//! Every injected bug is caught: the checker reports a counterexample for each bug that
//! breaks an invariant, in every profile where the bug changes behaviour; the bugs that only
//! change what the client says are listed (the test vectors must catch those) and shown to
//! pass the checker, so that the classification is honest.

use bootstrap_model::bugs::{Bug, BugSet, Detection};
use bootstrap_model::check::{self, CheckOptions, Strategy};
use bootstrap_model::profile::Profile;
use bootstrap_model::system::{BootstrapSystem, ChoiceMode, Config};

/// A configuration small enough to check quickly and rich enough for every bug: two
/// servers (multi-server bugs), two re-bootstraps (re-provisioning), loss and duplication.
fn hunting(profile: Profile, bug: Bug) -> Config {
    Config {
        servers: 2,
        rebootstraps: 2,
        loss: true,
        duplication: true,
        choices: ChoiceMode::Reference,
        bugs: BugSet::only(bug),
        ..Config::default_for(profile)
    }
}

fn first_violation(model: &BootstrapSystem) -> Option<&'static str> {
    let report = check::run(
        model,
        CheckOptions {
            threads: 2,
            strategy: Strategy::Dfs,
            stop_at_first_violation: true,
        },
    );
    let first = report.violations().next().map(|v| v.name);
    first
}

#[test]
fn every_invariant_bug_is_caught_in_every_profile_it_affects() {
    let mut table = Vec::new();
    let mut missed = Vec::new();
    for bug in Bug::ALL
        .iter()
        .filter(|b| b.detection() == Detection::Invariant)
    {
        for profile in bug.profiles() {
            let model = BootstrapSystem::new(hunting(*profile, *bug)).unwrap();
            match first_violation(&model) {
                Some(p) => table.push(format!("{:<42} {:<5} {p}", bug.name(), profile.name())),
                None => missed.push(format!("{} ({profile})", bug.name())),
            }
        }
    }
    println!("{}", table.join("\n"));
    assert!(
        missed.is_empty(),
        "bugs the checker does not catch: {missed:?}"
    );
}

#[test]
fn response_only_bugs_pass_the_checker_and_are_listed_for_the_vectors() {
    let mut listed = Vec::new();
    for bug in Bug::ALL
        .iter()
        .filter(|b| b.detection() == Detection::ResponseOnly)
    {
        for profile in bug.profiles() {
            let model = BootstrapSystem::new(hunting(*profile, *bug)).unwrap();
            assert_eq!(
                first_violation(&model),
                None,
                "{} is classified response-only but breaks an invariant in {profile}",
                bug.name()
            );
        }
        listed.push(format!("{} ({})", bug.name(), bug.requirements()));
    }
    println!(
        "response-only bugs, for the vectors to catch:\n{}",
        listed.join("\n")
    );
    assert!(listed.len() >= 5);
}

#[test]
fn a_bug_outside_its_profiles_changes_nothing() {
    // The seed-only cascade bugs are invisible in 1.1: the checker finds nothing.
    for bug in [Bug::AclSurvivesAccountRemoval, Bug::KeepServerInfoIgnored] {
        let model = BootstrapSystem::new(hunting(Profile::V1_1, bug)).unwrap();
        assert_eq!(first_violation(&model), None, "{bug}");
    }
}

#[test]
fn counterexample_trace_is_readable_and_stable() {
    let config = Config {
        choices: ChoiceMode::Reference,
        bugs: BugSet::only(Bug::DeleteRootRemovesBootstrapAccount),
        ..Config::default_for(Profile::V1_1)
    };
    let model = BootstrapSystem::new(config).unwrap();
    // One thread and breadth-first: the shortest counterexample, found deterministically.
    let report = check::run(
        &model,
        CheckOptions {
            threads: 1,
            strategy: Strategy::Bfs,
            stop_at_first_violation: true,
        },
    );
    let v = report.violations().next().expect("the bug must be caught");
    let trace = bootstrap_model::trace::render(&model, v.path.as_ref().unwrap(), Some(v.name));
    insta::assert_snapshot!(
        "counterexample_delete_root",
        format!("{}\n{trace}", bootstrap_model::properties::describe(v.name))
    );
}
