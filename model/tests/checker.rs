//! The model checked exhaustively in its default configuration, per profile: every
//! `always` property holds, every `sometimes` property has an example (so nothing holds only
//! because nothing happens), and the state counts are pinned.

use bootstrap_model::check::{self, CheckOptions, Outcome, Strategy};
use bootstrap_model::profile::Profile;
use bootstrap_model::system::{BootstrapSystem, Config};

fn opts() -> CheckOptions {
    CheckOptions {
        threads: 2,
        strategy: Strategy::Dfs,
        stop_at_first_violation: false,
    }
}

#[test]
fn default_configuration_of_every_profile_holds_and_reaches_everything() {
    let mut counts = String::new();
    for profile in Profile::ALL {
        let model = BootstrapSystem::new(Config::default_for(profile)).unwrap();
        let report = check::run(&model, opts());
        for v in &report.verdicts {
            assert_ne!(
                v.outcome,
                Outcome::Violated,
                "profile {profile}: {} violated:\n{}",
                v.name,
                bootstrap_model::trace::render(
                    &model,
                    v.path.as_deref().unwrap_or(&[]),
                    Some(v.name)
                )
            );
            assert_ne!(
                v.outcome,
                Outcome::NotReached,
                "profile {profile}: {} has no example",
                v.name
            );
        }
        counts.push_str(&format!(
            "{profile}: {} unique states, {} properties\n",
            report.unique_states,
            report.verdicts.len()
        ));
    }
    insta::assert_snapshot!("state_counts_default", counts);
}

#[test]
fn bfs_and_dfs_agree_on_the_state_count() {
    let model = BootstrapSystem::new(Config::default_for(Profile::Seed)).unwrap();
    let dfs = check::run(&model, opts()).unique_states;
    let bfs = check::run(
        &model,
        CheckOptions {
            strategy: Strategy::Bfs,
            ..opts()
        },
    )
    .unique_states;
    assert_eq!(dfs, bfs);
}

#[test]
fn a_configuration_with_loss_and_duplication_holds_too() {
    for profile in Profile::ALL {
        let config = Config {
            servers: 2,
            rebootstraps: 2,
            loss: true,
            duplication: true,
            choices: bootstrap_model::system::ChoiceMode::Reference,
            ..Config::default_for(profile)
        };
        let model = BootstrapSystem::new(config).unwrap();
        let report = check::run(&model, opts());
        let bad: Vec<_> = report.violations().map(|v| v.name).collect();
        assert!(bad.is_empty(), "profile {profile}: {bad:?}");
    }
}

#[test]
fn impossible_configurations_are_refused_with_the_field_named() {
    let mut c = Config::default_for(Profile::V1_1);
    c.servers = 0;
    assert!(BootstrapSystem::new(c.clone())
        .unwrap_err()
        .contains("servers"));
    c.servers = 4;
    assert!(BootstrapSystem::new(c.clone())
        .unwrap_err()
        .contains("servers"));
    c.servers = 1;
    c.ops_per_session = 0;
    assert!(BootstrapSystem::new(c.clone())
        .unwrap_err()
        .contains("bootstrap-only"));
    c.ops_per_session = 2;
    c.rebootstraps = 9;
    assert!(BootstrapSystem::new(c.clone())
        .unwrap_err()
        .contains("rebootstraps"));
    c.rebootstraps = 1;
    c.factories.clear();
    assert!(BootstrapSystem::new(c).unwrap_err().contains("factory"));
}

#[test]
fn is_terminal_agrees_with_the_action_list_on_every_reachable_state() {
    use stateright::Model;
    use std::collections::HashSet;
    for profile in Profile::ALL {
        let config = Config {
            loss: true,
            duplication: true,
            ..Config::default_for(profile)
        };
        let model = BootstrapSystem::new(config).unwrap();
        let mut seen = HashSet::new();
        let mut todo = model.init_states();
        let mut terminal = 0;
        while let Some(s) = todo.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            let mut actions = Vec::new();
            model.actions(&s, &mut actions);
            assert_eq!(model.is_terminal(&s), actions.is_empty(), "{s:?}");
            terminal += usize::from(actions.is_empty());
            todo.extend(model.next_states(&s));
        }
        assert!(terminal > 0, "profile {profile}: no terminal state at all");
    }
}

/// The specification's view of a client, written apart from the reference client's code
/// (`spec::Observable`, `spec::finish_verdict`, `spec::accounts`), agrees with the
/// reference's own bookkeeping on every reachable state of every profile, with every
/// allowed client behaviour: the session the system observes is the client's phase, the
/// Finish verdict is the client's consistency check (its strict part being what A-04
/// leaves open), and the accounts are the ones it registers with. Each side checks the
/// other.
#[test]
fn the_specifications_view_agrees_with_the_reference_client_everywhere() {
    use bootstrap_model::client::Phase;
    use bootstrap_model::spec::{accounts, finish_verdict, FinishVerdict};
    use stateright::Model;
    use std::collections::HashSet;
    let mut states = 0;
    for profile in Profile::ALL {
        let config = Config {
            loss: true,
            duplication: true,
            ..Config::default_for(profile)
        };
        let model = BootstrapSystem::new(config).unwrap();
        let mut seen = HashSet::new();
        let mut todo = model.init_states();
        while let Some(s) = todo.pop() {
            if !seen.insert(s.clone()) {
                continue;
            }
            let c = &s.client;
            assert_eq!(
                s.ghost.in_session,
                c.phase == Phase::Bootstrapping,
                "{profile}: {s:?}"
            );
            let want = match (c.store.consistency(false), c.store.consistency(true)) {
                (Err(_), _) => FinishVerdict::Refuse,
                (Ok(()), Err(_)) => FinishVerdict::Either,
                (Ok(()), Ok(())) => FinishVerdict::Accept,
            };
            assert_eq!(finish_verdict(&c.store), want, "{profile}: {:?}", c.store);
            let mut ours: Vec<_> = accounts(&c.store)
                .into_iter()
                .map(|a| (a.uri, a.lifetime))
                .collect();
            let mut theirs: Vec<_> = c
                .store
                .server_accounts()
                .into_iter()
                .map(|a| (a.uri, a.lifetime))
                .collect();
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "{profile}: {:?}", c.store);
            states += 1;
            todo.extend(model.next_states(&s));
        }
    }
    println!("{states} states agree");
}
