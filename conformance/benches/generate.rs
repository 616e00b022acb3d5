//! Generation benchmark (not a timed test): prints, per profile, the generation time, the
//! vectors per second and the paths explored per second, one thread each, then the whole
//! generation on all cores. Run: `cargo bench -p lwm2m-conformance --bench generate`.

use bootstrap_model::profile::Profile;
use conformance::files;
use conformance::generate::{default_config, generate_profile};
use std::time::Instant;

fn main() {
    let cfg = default_config();
    println!(
        "{:<8} {:>8} {:>9} {:>10} {:>13} {:>14}",
        "profile", "vectors", "secs", "vectors/s", "paths", "paths/s"
    );
    for p in Profile::ALL {
        let start = Instant::now();
        let out = generate_profile(p, &cfg).expect("generation");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{:<8} {:>8} {:>9.2} {:>10.1} {:>13} {:>14.0}",
            p.name(),
            out.vectors.len(),
            secs,
            out.vectors.len() as f64 / secs,
            out.explored,
            out.explored as f64 / secs
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let outs = files::generate_all(&Profile::ALL, &cfg, threads).expect("generation");
    let rendered = files::render(&outs, &cfg);
    let secs = start.elapsed().as_secs_f64();
    let n: usize = outs.iter().map(|o| o.vectors.len()).sum();
    println!(
        "all      {n:>8} {secs:>9.2} {:>10.1}   ({threads} threads, {} files rendered)",
        n as f64 / secs,
        rendered.len()
    );
}
