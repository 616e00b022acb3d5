//! Suite strength: every injected bug switched into the reference client in turn, the
//! suite replayed against it; a bug is killed when some vector fails.

use crate::adapter::AdapterFactory;
use crate::inprocess::InProcessFactory;
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

/// The table as printed, the kill rate on its last line.
pub fn render(rows: &[Row]) -> String {
    let mut s = format!("{:<42} {}\n", "injected bug", "killed by (vector, step)");
    for r in rows {
        match &r.killed_by {
            Some((v, step)) => s.push_str(&format!("{:<42} {v} (step {step})\n", r.bug.name())),
            None => s.push_str(&format!("{:<42} SURVIVED\n", r.bug.name())),
        }
    }
    let killed = rows.iter().filter(|r| r.killed_by.is_some()).count();
    s.push_str(&format!(
        "kill rate: {killed}/{} ({:.1} %)\n",
        rows.len(),
        100.0 * killed as f64 / rows.len().max(1) as f64
    ));
    s
}
