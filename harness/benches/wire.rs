//! Wire benchmark (not a timed test): the whole suite over CoAP/UDP against the bundled
//! reference client (and against coap-node when `clients/coap-node` is installed), next to
//! the in-process run of the same vectors. Prints wall time, vectors per second, the
//! harness's own CPU time against the clients' CPU time, and how much of the wall time the
//! vectors' own timers account for. Run: `cargo bench -p lwm2m-harness --bench wire`.
//!
//! Vectors run 128 at a time, longest timers first, as `lwm2m-certify` runs them on the
//! wire: each mostly waits for timers the vector provisions (the 1 s Client Hold Off Time
//! above all). The same
//! player against the bundled client's node in memory, on a virtual clock, shows what the
//! wire's logic costs without the waiting.

use conformance::load::Loader;
use conformance::vector::Vector;
use harness::adapter::AdapterFactory;
use harness::inprocess::InProcessFactory;
use harness::launch::Launcher;
use harness::profile::ClientProfile;
use harness::run::{run_vector_with, Verdict};
use harness::timing::CoapTiming;
use harness::udp::{UdpFactory, UdpOptions};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const THREADS: usize = 128;

/// User + system CPU seconds of this process and of its reaped children.
fn cpu() -> (f64, f64) {
    let get = |who| {
        // SAFETY: getrusage fills the struct it is given; a zeroed rusage is valid.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        t(u.ru_utime) + t(u.ru_stime)
    };
    (get(libc::RUSAGE_SELF), get(libc::RUSAGE_CHILDREN))
}

fn timer_floor(v: &Vector, coap: CoapTiming) -> f64 {
    harness::timing::timer_floor(v, coap).as_secs_f64()
}

struct Figures {
    wall: f64,
    /// The longest vector: name, wall seconds, timer floor.
    longest: (String, f64, f64),
    passed: usize,
    ran: usize,
    own_cpu: f64,
    client_cpu: f64,
    vector_wall: f64,
    floor: f64,
}

fn run(
    factory: &dyn AdapterFactory,
    vectors: &[&Vector],
    threads: usize,
    profile: Option<&ClientProfile>,
    coap: CoapTiming,
) -> Figures {
    let next = AtomicUsize::new(0);
    let totals = Mutex::new((0usize, 0usize, 0.0f64, 0.0f64));
    let longest = Mutex::new((String::new(), 0.0f64, 0.0f64));
    let deviations = profile
        .map(|p| p.timing_deviations.clone())
        .unwrap_or_default();
    let expected = |v: &Vector| profile.is_some_and(|p| p.expected_failure(v).is_some());
    let (own0, child0) = cpu();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(v) = vectors.get(i) else { return };
                let r = run_vector_with(factory, v, Duration::from_secs(10), &deviations);
                let mut t = totals.lock().unwrap();
                let secs = r.elapsed.as_secs_f64();
                if !matches!(r.verdict, Verdict::Skip { .. }) {
                    t.1 += 1;
                    t.2 += secs;
                    t.3 += timer_floor(v, coap);
                    let mut l = longest.lock().unwrap();
                    if secs > l.1 {
                        *l = (v.name.clone(), secs, timer_floor(v, coap));
                    }
                }
                let as_expected = match r.verdict {
                    Verdict::Pass => !expected(v),
                    Verdict::Xfail { .. } => true,
                    Verdict::Fail { .. } | Verdict::Error { .. } => expected(v),
                    _ => false,
                };
                if as_expected {
                    t.0 += 1;
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let (own1, child1) = cpu();
    let (passed, ran, vector_wall, floor) = *totals.lock().unwrap();
    Figures {
        wall,
        longest: longest.into_inner().unwrap(),
        passed,
        ran,
        own_cpu: own1 - own0,
        client_cpu: child1 - child0,
        vector_wall,
        floor,
    }
}

fn print(name: &str, f: &Figures) {
    println!(
        "{name:<22} {:>3} run, {:>3} as expected; wall {:>6.3} s, {:>8.1} vectors/s",
        f.ran,
        f.passed,
        f.wall,
        f.ran as f64 / f.wall,
    );
    if name.starts_with("UDP") {
        println!(
            "{:<22} CPU: harness {:.2} s, clients {:.2} s (harness {:.1} % of the CPU); the vectors' own timers are {:.1} % of the vectors' wall time; longest vector {:.2} s ({}, timers {:.2} s)",
            "",
            f.own_cpu,
            f.client_cpu,
            100.0 * f.own_cpu / (f.own_cpu + f.client_cpu).max(1e-9),
            100.0 * f.floor / f.vector_wall.max(1e-9),
            f.longest.1,
            f.longest.0,
            f.longest.2,
        );
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let all: Vec<Vector> = Loader::new()
        .load_dir(&root.join("vectors"))
        .expect("vectors")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let coap = CoapTiming::new(0.01).unwrap();
    let exe = env!("CARGO_BIN_EXE_lwm2m-reference-client");
    let reference = Launcher::new(&harness::launch::reference_cmdline(Path::new(exe), None))
        .expect("reference client binary");
    let wire = UdpFactory::new(
        Some(reference),
        UdpOptions {
            coap,
            ..UdpOptions::default()
        },
    );
    let inprocess = InProcessFactory {
        bugs: bootstrap_model::bugs::BugSet::NONE,
        vary: Default::default(),
    };
    // Longest timers first, as `lwm2m-certify` starts them on the wire.
    let mut every: Vec<&Vector> = all.iter().collect();
    every.sort_by(|a, b| timer_floor(b, coap).total_cmp(&timer_floor(a, coap)));
    println!(
        "{} vectors; on the wire {THREADS} at a time, --coap-time-scale {}",
        every.len(),
        coap.scale
    );
    print(
        "in-process, 1 thread",
        &run(&inprocess, &every, 1, None, coap),
    );
    let memory = harness::memory::MemoryFactory::new(
        harness::player::PlayerOptions {
            coap,
            settle: std::time::Duration::from_millis(20),
            content_formats: UdpOptions::default().content_formats,
            advertise: None,
            only_endpoint: false,
        },
        harness::memory::ClientSetup::default(),
        None,
    );
    print(
        "in memory (player + node, virtual clock), 1 thread",
        &run(&memory, &every, 1, None, coap),
    );
    let udp = run(&wire, &every, THREADS, None, coap);
    print("UDP, reference client", &udp);
    let dtls = UdpFactory::new(
        Some(
            Launcher::new(&harness::launch::reference_cmdline(Path::new(exe), None))
                .expect("reference client binary"),
        ),
        UdpOptions {
            coap,
            dtls: true,
            ..UdpOptions::default()
        },
    );
    // As `lwm2m-certify --dtls` does, without the vectors of the seed's re-bootstrap
    // notification (ambiguity A-26 in the README: no keys for the server it names).
    let securable: Vec<&Vector> = every
        .iter()
        .copied()
        .filter(|v| {
            !v.steps.iter().any(|s| {
                matches!(
                    s.stimulus,
                    bootstrap_model::system::Action::ReBootstrapNotification { .. }
                )
            })
        })
        .collect();
    let secure = run(&dtls, &securable, THREADS, None, coap);
    print("UDP+DTLS, reference client", &secure);
    println!(
        "{:<22} wall over DTLS / over UDP: {:.2} ({} and {} vectors run; DTLS skips the vectors of ambiguities A-24 and A-26)",
        "",
        secure.wall / udp.wall,
        secure.ran,
        udp.ran
    );
    let node = root.join("clients/coap-node");
    if node.join("node_modules/coap-node").exists() {
        let profile = ClientProfile::load(&node.join("profile.toml"), &all).expect("profile");
        let runnable: Vec<&Vector> = all
            .iter()
            .filter(|v| {
                v.profile == profile.profile
                    && profile.skip_reason(v).is_none()
                    && profile.factory_skip(v).is_none()
                    && !v.tags.iter().any(|t| t == "slow")
            })
            .collect();
        let launcher = Launcher::new(&format!(
            "node {} {{bs_uri}} {{endpoint}}",
            node.join("launch.js").display()
        ))
        .expect("node");
        let factory = UdpFactory::new(
            Some(launcher),
            UdpOptions {
                content_formats: profile.content_formats.clone(),
                ..UdpOptions::default()
            },
        );
        print(
            "UDP, coap-node",
            &run(
                &factory,
                &runnable,
                THREADS,
                Some(&profile),
                CoapTiming::default(),
            ),
        );
    } else {
        println!("coap-node: not installed (npm ci in clients/coap-node)");
    }
}
