//! The wire's logic in memory: the vector player and the bundled client's CoAP node, the
//! very code of the UDP run, exchanging datagrams on a virtual clock
//! (`harness::memory`). Every vector of every profile runs, timers included, in about a
//! second; injected bugs fail; lost and reordered datagrams are recovered by the message
//! layer.

use conformance::load::Loader;
use conformance::vector::Vector;
use harness::memory::{ClientSetup, Direction, Fate, Faults, MemoryFactory};
use harness::player::PlayerOptions;
use harness::run::{run_vector, Verdict};
use harness::timing::CoapTiming;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn vectors() -> Vec<Vector> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors"));
    Loader::new()
        .load_dir(root)
        .expect("the vectors load")
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

fn options() -> PlayerOptions {
    at_scale(0.01)
}

fn at_scale(scale: f64) -> PlayerOptions {
    PlayerOptions {
        // The scale `wire-ref` runs at: a hold-off of 1 s outlasts MAX_TRANSMIT_WAIT, so
        // that every vector's order can happen.
        coap: CoapTiming::new(scale).expect("a valid scale"),
        settle: Duration::from_millis(20),
        content_formats: vec![11542, 110, 112, 11544, 0, 42],
        advertise: None,
        only_endpoint: false,
    }
}

/// The verdicts that are not PASS, with the vector's name.
fn not_passed(factory: &MemoryFactory, vs: &[Vector]) -> Vec<(String, String)> {
    vs.iter()
        .filter_map(|v| {
            let r = run_vector(factory, v, Duration::from_secs(10));
            (!matches!(r.verdict, Verdict::Pass))
                .then(|| (v.name.clone(), format!("{:?}", r.verdict)))
        })
        .collect()
}

/// Every vector of every profile passes against the bundled client, as on the wire:
/// at scale 0.01 all but the five whose 5 s account timeout outlasts a Register left
/// unanswered (MAX_TRANSMIT_WAIT 0.62 s), which the player skips as it does on the wire,
/// and which pass at scale 0.1; and but those that need DTLS, skipped with the reason.
#[test]
fn every_vector_passes_in_memory() {
    let vs = vectors();
    let factory = MemoryFactory::new(options(), ClientSetup::default(), None);
    let started = Instant::now();
    let bad = not_passed(&factory, &vs);
    let took = started.elapsed();
    // The memory driver has no DTLS: the vectors whose server refuses the handshake skip.
    let (secure, bad): (Vec<_>, Vec<_>) = bad
        .into_iter()
        .partition(|(_, v)| v.contains(harness::run::NEEDS_DTLS));
    let needing = vs.iter().filter(|v| v.needs_dtls()).count();
    assert_eq!(
        (secure.len(), needing >= 10),
        (needing, true),
        "{secure:#?}"
    );
    let (timing, other): (Vec<_>, Vec<_>) = bad.into_iter().partition(|(_, v)| {
        v.contains("cannot happen in real time") && v.contains("Account Timeout")
    });
    assert!(
        other.is_empty(),
        "{} of {} did not pass: {other:#?}",
        other.len(),
        vs.len()
    );
    assert_eq!(timing.len(), 5, "{timing:#?}");
    let slower = MemoryFactory::new(at_scale(0.1), ClientSetup::default(), None);
    let those: Vec<Vector> = vs
        .iter()
        .filter(|v| timing.iter().any(|(n, _)| *n == v.name))
        .cloned()
        .collect();
    assert_eq!(not_passed(&slower, &those), []);
    eprintln!(
        "{} vectors in memory: {:.2} s wall",
        vs.len(),
        took.as_secs_f64()
    );
}

fn with(setup: ClientSetup) -> MemoryFactory {
    MemoryFactory::new(options(), setup, None)
}

/// Every injected bug the suite kills in process is killed in memory too, on the wire's
/// code: the player, the CoAP endpoints, the bundled client's node.
#[test]
fn injected_bugs_are_killed_in_memory_as_in_process() {
    use bootstrap_model::bugs::BugSet;
    let vs = vectors();
    let timeout = Duration::from_secs(10);
    let in_process = harness::mutants::kill_table(&vs, timeout);
    let in_memory = harness::mutants::kill_table_with(&vs, timeout, &|bug| {
        Box::new(with(ClientSetup {
            bugs: BugSet::only(bug),
            ..Default::default()
        }))
    });
    let killed = |rows: &[harness::mutants::Row]| -> Vec<(String, bool)> {
        rows.iter()
            .map(|r| (r.bug.name().to_string(), r.killed_by.is_some()))
            .collect()
    };
    assert_eq!(killed(&in_memory), killed(&in_process));
    let (k, of) = harness::mutants::kills(&in_memory);
    assert_eq!(k, of, "{}", harness::mutants::render(&in_memory));
}

/// Every independent misbehaviour (those of the message layer among them: a reused
/// Message ID, a Register sent after the last step) is caught in memory.
#[test]
fn misbehaviours_are_caught_in_memory() {
    let vs = vectors();
    let rows = harness::mutants::misbehaviour_table(&vs, Duration::from_secs(10), &|m| {
        Some(Box::new(with(ClientSetup {
            misbehave: Some(m),
            ..Default::default()
        })) as Box<dyn harness::adapter::AdapterFactory>)
    });
    let (k, of) = harness::mutants::misbehaviour_kills(&rows);
    assert_eq!(
        (k, of),
        (8, 8),
        "{}",
        harness::mutants::render_misbehaviours(&rows)
    );
}

/// The bundled client with every conforming variation a client profile need not declare
/// (those that do, no Access Control and no 1.0 push, skip vectors through the profile in
/// `lwm2m-certify`), and with 16-byte blocks, fails nothing: a retry the specification
/// leaves open is a SKIP, as on the wire.
#[test]
fn conforming_variations_and_small_blocks_pass_in_memory() {
    let vs = vectors();
    let vary = conformance::observation::Variations {
        no_access_control: false,
        no_server_push: false,
        ..conformance::observation::Variations::all()
    };
    for setup in [
        ClientSetup {
            vary,
            ..Default::default()
        },
        ClientSetup {
            block_size: Some(16),
            ..Default::default()
        },
    ] {
        let bad: Vec<_> = not_passed(&with(setup.clone()), &vs)
            .into_iter()
            .filter(|(_, v)| !v.starts_with("Skip"))
            .collect();
        assert!(bad.is_empty(), "{setup:?}: {bad:#?}");
    }
}

/// A network that loses datagrams, or delays them so that they overtake each other:
/// retransmission (RFC 7252 §4.2) and deduplication (§4.5) carry the exchanges through.
/// The first transmission of every third datagram is lost; then every datagram is delayed
/// by a varying few milliseconds.
#[test]
fn lost_and_reordered_datagrams_are_recovered() {
    // The 1.1 vectors that pass on a perfect network (the account-timeout ones are
    // skipped at this scale).
    let all: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| v.profile == "1.1")
        .collect();
    let skipped = not_passed(&with(ClientSetup::default()), &all);
    let vs: Vec<Vector> = all
        .into_iter()
        .filter(|v| !skipped.iter().any(|(n, _)| *n == v.name))
        .collect();
    assert!(vs.len() > 60, "{}", vs.len());
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let lose: Faults = {
        let seen = seen.clone();
        Arc::new(move |n, _, bytes: &[u8]| {
            // Its retransmission is the same bytes: it goes through.
            let first = seen.lock().unwrap().insert(bytes.to_vec());
            if first && n % 3 == 2 {
                Fate::Drop
            } else {
                Fate::Deliver
            }
        })
    };
    let shuffle: Faults = Arc::new(|n, d, _: &[u8]| {
        let ms = (n * 7 + if d == Direction::ToClient { 3 } else { 0 }) % 5;
        Fate::Delay(Duration::from_millis(ms as u64))
    });
    let mut dropped_any = false;
    for (name, faults) in [("loss", lose), ("reordering", shuffle)] {
        let factory = MemoryFactory::new(options(), ClientSetup::default(), Some(faults));
        let mut bad = Vec::new();
        for v in &vs {
            let r = run_vector(&factory, v, Duration::from_secs(10));
            dropped_any |= r.wire.iter().any(|w| w.note == "retransmission");
            if !matches!(r.verdict, Verdict::Pass) {
                bad.push((v.name.clone(), format!("{:?}", r.verdict)));
            }
        }
        assert!(
            bad.is_empty(),
            "{name}: {} of {}: {bad:#?}",
            bad.len(),
            vs.len()
        );
    }
    assert!(dropped_any, "no datagram was retransmitted");
}

/// Servers listening beyond loopback (`PlayerOptions::only_endpoint`, set when `--listen`
/// is not a loopback address) ignore a Bootstrap-Request or Register with another endpoint
/// name, and the step names it; on loopback the same client is judged (and fails on its
/// name); the client with the vector's name passes either way.
#[test]
fn beyond_loopback_the_servers_answer_only_the_declared_endpoint() {
    let vs: Vec<Vector> = vectors()
        .into_iter()
        .filter(|v| v.name.starts_with("bs-del-01"))
        .collect();
    assert!(!vs.is_empty());
    let only = PlayerOptions {
        only_endpoint: true,
        ..options()
    };
    let stray = ClientSetup {
        endpoint: Some("urn:dev:stray".into()),
        ..ClientSetup::default()
    };
    let guarded = MemoryFactory::new(only.clone(), stray.clone(), None);
    for (name, verdict) in not_passed(&guarded, &vs) {
        assert!(
            verdict.contains("ignored a Bootstrap-") && verdict.contains("ep=urn:dev:stray"),
            "{name}: {verdict}"
        );
    }
    assert_eq!(not_passed(&guarded, &vs).len(), vs.len());
    let open = MemoryFactory::new(options(), stray, None);
    assert_eq!(not_passed(&open, &vs).len(), vs.len());
    for (name, verdict) in not_passed(&open, &vs) {
        assert!(!verdict.contains("ignored a"), "{name}: {verdict}");
    }
    let right = MemoryFactory::new(only, ClientSetup::default(), None);
    assert_eq!(not_passed(&right, &vs), []);
}
