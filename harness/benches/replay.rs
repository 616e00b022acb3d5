//! Replay benchmark (not a timed test): vectors per second through the in-process adapter
//! and through the subprocess adapter (the reference client behind the JSON-lines protocol,
//! one process per vector), one thread. Run: `cargo bench -p lwm2m-harness --bench replay`.

use conformance::load::Loader;
use harness::adapter::AdapterFactory;
use harness::inprocess::InProcessFactory;
use harness::run::{run_vector, Verdict};
use harness::subprocess::SubprocessFactory;
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    let vectors: Vec<_> = Loader::new()
        .load_dir(&dir)
        .expect("vectors")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let inprocess = InProcessFactory {
        bugs: bootstrap_model::bugs::BugSet::NONE,
        vary: Default::default(),
    };
    let subprocess = SubprocessFactory::new(env!("CARGO_BIN_EXE_lwm2m-reference-client"))
        .expect("reference client binary");
    let steps: usize = vectors.iter().map(|v| v.steps.len()).sum();
    println!("{} vectors, {steps} steps", vectors.len());
    for (name, factory) in [
        ("in-process", &inprocess as &dyn AdapterFactory),
        ("subprocess", &subprocess),
    ] {
        let start = Instant::now();
        let mut passed = 0;
        for v in &vectors {
            if run_vector(factory, v, Duration::from_secs(10)).verdict == Verdict::Pass {
                passed += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name:<11} {passed}/{} passed in {secs:.3} s: {:.0} vectors/s, {:.0} steps/s",
            vectors.len(),
            vectors.len() as f64 / secs,
            steps as f64 / secs
        );
    }
}
