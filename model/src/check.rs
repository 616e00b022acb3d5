//! Running the checker over a configuration and collecting one verdict per property, with a
//! readable trace for every violation (and every example, on request).

use crate::system::{Action, BootstrapSystem, SystemState};
use stateright::{Checker, Expectation, HasDiscoveries, Model};
use std::time::{Duration, Instant};

/// How to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Depth-first (least memory: fingerprints only).
    Dfs,
    /// Breadth-first (shortest counterexamples).
    Bfs,
}

/// Checker options.
#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// Worker threads.
    pub threads: usize,
    /// Exploration order.
    pub strategy: Strategy,
    /// Stop at the first violated `always` property instead of exploring everything.
    pub stop_at_first_violation: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            strategy: Strategy::Bfs,
            stop_at_first_violation: false,
        }
    }
}

/// The outcome of one property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An `always` property with no counterexample.
    Holds,
    /// An `always` property with a counterexample.
    Violated,
    /// A `sometimes` property with an example.
    Reached,
    /// A `sometimes` property with no example.
    NotReached,
}

/// One property's verdict.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The property's name (requirement IDs first).
    pub name: &'static str,
    /// Its outcome.
    pub outcome: Outcome,
    /// The path to the counterexample or example, as states and actions.
    pub path: Option<Vec<(SystemState, Option<Action>)>>,
}

/// What a check found.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// Distinct states visited.
    pub unique_states: usize,
    /// States generated, duplicates included.
    pub states: usize,
    /// Longest path explored.
    pub max_depth: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// One verdict per property, in the model's order.
    pub verdicts: Vec<Verdict>,
}

impl CheckReport {
    /// The violated `always` properties.
    pub fn violations(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::Violated)
    }

    /// The `sometimes` properties with no example.
    pub fn unreached(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::NotReached)
    }
}

/// Runs the checker on `model` and collects the verdicts.
pub fn run(model: &BootstrapSystem, opts: CheckOptions) -> CheckReport {
    let start = Instant::now();
    let properties = model.properties();
    let mut builder = model.clone().checker().threads(opts.threads.max(1));
    if opts.stop_at_first_violation {
        builder = builder.finish_when(HasDiscoveries::AnyFailures);
    }
    let (unique_states, states, max_depth, discoveries) = match opts.strategy {
        Strategy::Dfs => {
            let c = builder.spawn_dfs().join();
            (
                c.unique_state_count(),
                c.state_count(),
                c.max_depth(),
                c.discoveries(),
            )
        }
        Strategy::Bfs => {
            let c = builder.spawn_bfs().join();
            (
                c.unique_state_count(),
                c.state_count(),
                c.max_depth(),
                c.discoveries(),
            )
        }
    };
    let elapsed = start.elapsed();
    let verdicts = properties
        .iter()
        .map(|p| {
            let found = discoveries.get(p.name);
            let outcome = match (&p.expectation, found.is_some()) {
                (Expectation::Sometimes, true) => Outcome::Reached,
                (Expectation::Sometimes, false) => Outcome::NotReached,
                (_, true) => Outcome::Violated,
                (_, false) => Outcome::Holds,
            };
            let path = found.map(|path| {
                let mut steps = path.clone().into_vec();
                if outcome == Outcome::Violated {
                    // End the trace at the first state that breaks the property.
                    if let Some(i) = steps.iter().position(|(s, _)| !(p.condition)(model, s)) {
                        steps.truncate(i + 1);
                        steps[i].1 = None;
                    }
                }
                steps
            });
            Verdict {
                name: p.name,
                outcome,
                path,
            }
        })
        .collect();
    CheckReport {
        unique_states,
        states,
        max_depth,
        elapsed,
        verdicts,
    }
}
