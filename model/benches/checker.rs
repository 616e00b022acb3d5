//! Checker benchmark (not a timed test): prints unique states, states per second and bytes
//! per state for the default and the large configuration of each profile, and stateright's
//! two-phase-commit example model measured in the same run for comparison.
//!
//! Run: `cargo bench -p lwm2m-bootstrap-model --bench checker` (add `-- quick` to skip the
//! large configurations).
//!
//! Each measurement runs in a child process (this binary, re-executed), so that its peak
//! resident memory (VmHWM) is its own. Bytes per state are reported twice: the whole peak
//! over the unique states, and the growth over the child's resident memory before the check
//! started (the process and the model's fixed cost left out).

use bootstrap_model::profile::Profile;
use bootstrap_model::system::{BootstrapSystem, Config};
use stateright::{Checker, Model, Property};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

const CHILD: &str = "BOOTSTRAP_BENCH_CHILD";

fn main() {
    if let Ok(case) = std::env::var(CHILD) {
        child(&case);
        return;
    }
    let quick = std::env::args().any(|a| a == "quick");
    println!(
        "{:<34} {:>7} {:>11} {:>9} {:>12} {:>10} {:>10} {:>9}",
        "case", "threads", "states", "secs", "states/s", "peak MiB", "B/state", "B/state*"
    );
    let mut cases = vec![];
    // Same run, same machine, one thread each: the comparison the goal is stated in.
    cases.push("2pc:8:dfs:1".to_string());
    for p in Profile::ALL {
        cases.push(format!("model:{}:default:dfs:1", p.name()));
    }
    for p in Profile::ALL {
        cases.push(format!("model:{}:default:dfs:2", p.name()));
    }
    if !quick {
        for p in Profile::ALL {
            cases.push(format!("model:{}:large:dfs:2", p.name()));
        }
        cases.push("model:1.1:large:bfs:2".to_string());
    }
    let mut twopc_rate = None;
    for case in cases {
        let out = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, &case)
            .output()
            .expect("re-executing the benchmark");
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(line) = text.lines().find(|l| l.starts_with("RESULT")) else {
            println!("{case}: failed: {}", String::from_utf8_lossy(&out.stderr));
            continue;
        };
        let field = |k: &str| -> f64 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0)
        };
        let (states, secs, peak_kb, base_kb) = (
            field("unique"),
            field("secs"),
            field("peak_kb"),
            field("base_kb"),
        );
        let threads = case.rsplit(':').next().unwrap();
        let rate = states / secs;
        if case.starts_with("2pc") {
            twopc_rate = Some(rate);
        }
        let ratio = match (case.starts_with("model") && threads == "1", twopc_rate) {
            (true, Some(r)) => format!("  ({:.2}x 2pc per thread)", rate / r),
            _ => String::new(),
        };
        println!(
            "{:<34} {:>7} {:>11} {:>9.2} {:>12.0} {:>10.1} {:>10.1} {:>9.1}{ratio}",
            case,
            threads,
            states as u64,
            secs,
            rate,
            peak_kb / 1024.0,
            peak_kb * 1024.0 / states,
            (peak_kb - base_kb).max(0.0) * 1024.0 / states,
        );
    }
    println!("B/state = peak RSS / unique states; B/state* = (peak RSS - RSS before the check) / unique states");
}

fn child(case: &str) {
    let parts: Vec<&str> = case.split(':').collect();
    let threads: usize = parts[parts.len() - 1].parse().unwrap();
    let dfs = parts[parts.len() - 2] == "dfs";
    let (unique, secs, base) = match parts[0] {
        "2pc" => {
            let model = TwoPhaseSys {
                rms: parts[1].parse().unwrap(),
            };
            measure(model, threads, dfs)
        }
        _ => {
            let profile: Profile = parts[1].parse().unwrap();
            let config = if parts[2] == "large" {
                Config::large(profile)
            } else {
                Config::default_for(profile)
            };
            measure(BootstrapSystem::new(config).unwrap(), threads, dfs)
        }
    };
    println!(
        "RESULT unique={unique} secs={secs} peak_kb={} base_kb={base}",
        status_kb("VmHWM")
    );
}

fn measure<M>(model: M, threads: usize, dfs: bool) -> (usize, f64, u64)
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + std::hash::Hash + Send + Sync + PartialEq,
    M::Action: Clone + std::fmt::Debug + PartialEq,
{
    let base = status_kb("VmRSS");
    let start = Instant::now();
    let builder = model.checker().threads(threads);
    let unique = if dfs {
        builder.spawn_dfs().join().unique_state_count()
    } else {
        builder.spawn_bfs().join().unique_state_count()
    };
    (unique, start.elapsed().as_secs_f64(), base)
}

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

// Two-phase commit (Gray and Lamport, "Consensus on Transaction Commit"), the model of
// stateright's own `examples/2pc.rs`, restated here because examples are not part of the
// published library. Same state, actions and properties, so the same state count.

#[derive(Clone)]
struct TwoPhaseSys {
    rms: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Msg {
    Prepared(usize),
    Commit,
    Abort,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Rm {
    Working,
    Prepared,
    Committed,
    Aborted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Tm {
    Init,
    Committed,
    Aborted,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TwoPhaseState {
    rm: Vec<Rm>,
    tm: Tm,
    prepared: Vec<bool>,
    msgs: BTreeSet<Msg>,
}

#[derive(Clone, Debug, PartialEq)]
enum TwoPhaseAction {
    TmRcvPrepared(usize),
    TmCommit,
    TmAbort,
    RmPrepare(usize),
    RmChooseToAbort(usize),
    RmRcvCommit(usize),
    RmRcvAbort(usize),
}

impl Model for TwoPhaseSys {
    type State = TwoPhaseState;
    type Action = TwoPhaseAction;

    fn init_states(&self) -> Vec<TwoPhaseState> {
        vec![TwoPhaseState {
            rm: vec![Rm::Working; self.rms],
            tm: Tm::Init,
            prepared: vec![false; self.rms],
            msgs: BTreeSet::new(),
        }]
    }

    fn actions(&self, s: &TwoPhaseState, a: &mut Vec<TwoPhaseAction>) {
        if s.tm == Tm::Init && s.prepared.iter().all(|p| *p) {
            a.push(TwoPhaseAction::TmCommit);
        }
        if s.tm == Tm::Init {
            a.push(TwoPhaseAction::TmAbort);
        }
        for r in 0..self.rms {
            if s.tm == Tm::Init && s.msgs.contains(&Msg::Prepared(r)) {
                a.push(TwoPhaseAction::TmRcvPrepared(r));
            }
            if s.rm[r] == Rm::Working {
                a.push(TwoPhaseAction::RmPrepare(r));
                a.push(TwoPhaseAction::RmChooseToAbort(r));
            }
            if s.msgs.contains(&Msg::Commit) {
                a.push(TwoPhaseAction::RmRcvCommit(r));
            }
            if s.msgs.contains(&Msg::Abort) {
                a.push(TwoPhaseAction::RmRcvAbort(r));
            }
        }
    }

    fn next_state(&self, last: &TwoPhaseState, action: TwoPhaseAction) -> Option<TwoPhaseState> {
        let mut s = last.clone();
        match action {
            TwoPhaseAction::TmRcvPrepared(r) => s.prepared[r] = true,
            TwoPhaseAction::TmCommit => {
                s.tm = Tm::Committed;
                s.msgs.insert(Msg::Commit);
            }
            TwoPhaseAction::TmAbort => {
                s.tm = Tm::Aborted;
                s.msgs.insert(Msg::Abort);
            }
            TwoPhaseAction::RmPrepare(r) => {
                s.rm[r] = Rm::Prepared;
                s.msgs.insert(Msg::Prepared(r));
            }
            TwoPhaseAction::RmChooseToAbort(r) => s.rm[r] = Rm::Aborted,
            TwoPhaseAction::RmRcvCommit(r) => s.rm[r] = Rm::Committed,
            TwoPhaseAction::RmRcvAbort(r) => s.rm[r] = Rm::Aborted,
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::sometimes("abort agreement", |_, s: &TwoPhaseState| {
                s.rm.iter().all(|r| *r == Rm::Aborted)
            }),
            Property::sometimes("commit agreement", |_, s: &TwoPhaseState| {
                s.rm.iter().all(|r| *r == Rm::Committed)
            }),
            Property::always("consistent", |_, s: &TwoPhaseState| {
                !(s.rm.contains(&Rm::Aborted) && s.rm.contains(&Rm::Committed))
            }),
        ]
    }
}
