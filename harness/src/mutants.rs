//! Suite strength, in two tables: every injected bug switched into the reference client in
//! turn (the model's client switches, [`bootstrap_model::bugs`]), and every independent
//! misbehaviour written outside the model ([`crate::misbehave`]); the suite is replayed
//! against each, and it is killed when some vector fails.

use crate::adapter::AdapterFactory;
use crate::inprocess::InProcessFactory;
use crate::misbehave::{MisbehavingFactory, Misbehaviour};
use crate::run::{run_vector, Verdict};
use bootstrap_model::bugs::{Bug, BugSet};
use bootstrap_model::profile::Profile;
use conformance::vector::Vector;
use std::time::Duration;

/// One row of the kill table.
#[derive(Clone, Debug)]
pub struct Row {
    /// The bug.
    pub bug: Bug,
    /// The first vector that fails against it, with the step, or `None` if it survived.
    pub killed_by: Option<(String, usize)>,
}

/// Runs the suite against every bug in process (only the vectors of the profiles the bug
/// affects).
pub fn kill_table(vectors: &[Vector], timeout: Duration) -> Vec<Row> {
    kill_table_with(vectors, timeout, &|bug| {
        Box::new(InProcessFactory {
            bugs: BugSet::only(bug),
            vary: Default::default(),
        })
    })
}

/// The independent misbehaviours against the in-process reference client (the wire-only
/// ones are not run).
pub fn misbehaviour_table_in_process(
    vectors: &[Vector],
    timeout: Duration,
) -> Vec<MisbehaviourRow> {
    misbehaviour_table(vectors, timeout, &|m| {
        (!m.wire_only()).then(|| {
            Box::new(MisbehavingFactory {
                inner: Box::new(InProcessFactory {
                    bugs: BugSet::NONE,
                    vary: Default::default(),
                }),
                m,
            }) as Box<dyn AdapterFactory>
        })
    })
}

/// Runs the suite against every bug with the client `make` gives for it (the bugs in
/// parallel, each bug's vectors in order until one fails).
pub fn kill_table_with(
    vectors: &[Vector],
    timeout: Duration,
    make: &(dyn Fn(Bug) -> Box<dyn AdapterFactory> + Sync),
) -> Vec<Row> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = Bug::ALL
            .iter()
            .map(|bug| {
                scope.spawn(move || {
                    let factory = make(*bug);
                    let killed_by = vectors
                        .iter()
                        .filter(|v| {
                            v.profile
                                .parse::<Profile>()
                                .is_ok_and(|p| bug.applies_to(p))
                        })
                        .find_map(|v| match run_vector(factory.as_ref(), v, timeout).verdict {
                            Verdict::Fail { step, .. } | Verdict::Error { step, .. } => {
                                Some((v.name.clone(), step))
                            }
                            _ => None,
                        });
                    Row {
                        bug: *bug,
                        killed_by,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(Bug::ALL)
            .map(|(h, bug)| {
                h.join().unwrap_or(Row {
                    bug: *bug,
                    killed_by: None,
                })
            })
            .collect()
    })
}

/// The bugs the vectors can catch (the rest are named with the reason, see
/// [`Bug::unobservable_by_vectors`]) and how many of them `rows` kill.
pub fn kills(rows: &[Row]) -> (usize, usize) {
    let observable: Vec<&Row> = rows
        .iter()
        .filter(|r| r.bug.unobservable_by_vectors().is_none())
        .collect();
    let killed = observable.iter().filter(|r| r.killed_by.is_some()).count();
    (killed, observable.len())
}

/// The table as printed, the kill rate on its last line. Bugs no vector can catch any more
/// are listed with the reason and left out of the rate.
pub fn render(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<42} {}\n",
        "injected bug (client switch)", "killed by (vector, step)"
    );
    for r in rows {
        match (&r.killed_by, r.bug.unobservable_by_vectors()) {
            (Some((v, step)), _) => {
                s.push_str(&format!("{:<42} {v} (step {step})\n", r.bug.name()))
            }
            (None, Some(why)) => s.push_str(&format!("{:<42} UNOBSERVABLE: {why}\n", r.bug.name())),
            (None, None) => s.push_str(&format!("{:<42} SURVIVED\n", r.bug.name())),
        }
    }
    let (killed, of) = kills(rows);
    s.push_str(&format!(
        "kill rate: {killed}/{of} ({:.1} %), {} unobservable by the vectors\n",
        100.0 * killed as f64 / of.max(1) as f64,
        rows.len() - of
    ));
    s
}

/// One row of the table of independent misbehaviours ([`crate::misbehave`]).
#[derive(Clone, Debug)]
pub struct MisbehaviourRow {
    /// The misbehaviour.
    pub m: Misbehaviour,
    /// The first vector that fails against it, with the step; `None` if it survived.
    pub killed_by: Option<(String, usize)>,
    /// Not run: only the wire shows it and this run is in process.
    pub not_run: bool,
}

/// Runs the suite against every misbehaviour with the client `make` gives for it (`None`:
/// the adapter cannot show it), each in its own thread, each misbehaviour's vectors in order
/// until one fails for the rule it breaks ([`Misbehaviour::signature`]).
pub fn misbehaviour_table(
    vectors: &[Vector],
    timeout: Duration,
    make: &(dyn Fn(Misbehaviour) -> Option<Box<dyn AdapterFactory>> + Sync),
) -> Vec<MisbehaviourRow> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = Misbehaviour::ALL
            .iter()
            .map(|m| {
                scope.spawn(move || match make(*m) {
                    None => MisbehaviourRow {
                        m: *m,
                        killed_by: None,
                        not_run: true,
                    },
                    Some(factory) => MisbehaviourRow {
                        m: *m,
                        // Only a failure for the rule it breaks counts.
                        killed_by: vectors.iter().find_map(|v| {
                            match run_vector(factory.as_ref(), v, timeout).verdict {
                                Verdict::Fail { step, detail, .. }
                                    if detail.contains(m.signature()) =>
                                {
                                    Some((v.name.clone(), step))
                                }
                                _ => None,
                            }
                        }),
                        not_run: false,
                    },
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(Misbehaviour::ALL)
            .map(|(h, m)| {
                h.join().unwrap_or(MisbehaviourRow {
                    m,
                    killed_by: None,
                    not_run: false,
                })
            })
            .collect()
    })
}

/// The misbehaviours that ran, and how many of them were killed.
pub fn misbehaviour_kills(rows: &[MisbehaviourRow]) -> (usize, usize) {
    let ran: Vec<&MisbehaviourRow> = rows.iter().filter(|r| !r.not_run).collect();
    (
        ran.iter().filter(|r| r.killed_by.is_some()).count(),
        ran.len(),
    )
}

/// The table of misbehaviours as printed, its kill rate on its last line.
pub fn render_misbehaviours(rows: &[MisbehaviourRow]) -> String {
    let mut s = format!(
        "{:<42} {}\n",
        "independent misbehaviour", "killed by (vector, step)"
    );
    for r in rows {
        match (&r.killed_by, r.not_run) {
            (Some((v, step)), _) => s.push_str(&format!("{:<42} {v} (step {step})\n", r.m.name())),
            (None, true) => s.push_str(&format!(
                "{:<42} wire only: run with --client wire-ref --mutants\n",
                r.m.name()
            )),
            (None, false) => s.push_str(&format!("{:<42} SURVIVED\n", r.m.name())),
        }
    }
    let (killed, of) = misbehaviour_kills(rows);
    s.push_str(&format!(
        "misbehaviours killed: {killed}/{of} ({:.1} %)\n",
        100.0 * killed as f64 / of.max(1) as f64
    ));
    s
}
