//! The suite on the wire: the bundled reference client over CoAP/UDP passes every vector it
//! can play; injected bugs fail on the wire too; and every kind of bad client behaviour
//! (malformed CoAP, a wrong token, a Reset, a duplicate, an unknown content format,
//! silence, death, a port in use, a command that does not exist, a broken block-wise
//! transfer) gets a named verdict or error within its timeout, and leaves no process
//! behind; a client with 16-byte blocks (RFC 7959) is certified.

mod common;

use common::{certify, report, text, verdicts};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The skips a conforming client declared with the Access Control object may get on a
/// loaded machine: a vector whose order cannot happen in real time, or that the harness was
/// too loaded to keep; the single-server vectors of BS-OBJ-05, which need a client
/// without the object; and, on plain CoAP, the vectors whose server refuses the client's
/// DTLS handshake.
fn lag_or_single_server(why: &str) -> bool {
    why == harness::run::NEEDS_DTLS || lag_or_single_server_alone(why)
}

fn lag_or_single_server_alone(why: &str) -> bool {
    why.contains("cannot happen in real time")
        || why.contains("too loaded")
        || why.contains("expires before it in real time")
        // A lost request read late: the timer it starts may end within the step's wait.
        || why.contains("the vector's order cannot be ensured")
        || why.contains("needs a client without the Access Control object")
}

#[test]
fn the_whole_suite_passes_over_udp_against_the_bundled_reference_client() {
    let d = tmp("suite");
    let pcap = d.join("run.pcap");
    let o = certify(&[
        "--client",
        "wire-ref",
        "--report-dir",
        d.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&d);
    let all = verdicts(&r);
    let pass = all.iter().filter(|(_, v, _)| v == "PASS").count();
    assert!(pass >= 300, "only {pass} vectors passed on the wire");
    for (name, verdict, why) in &all {
        match verdict.as_str() {
            "PASS" => {}
            // Vectors whose order cannot happen in real time at this timing, named.
            "SKIP" => assert!(lag_or_single_server(why), "{name}: unexpected skip: {why}"),
            other => panic!("{name}: {other}: {why}"),
        }
    }
    // The capture holds every datagram, as pcap with raw IP packets.
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
    assert_eq!(&bytes[20..24], &101u32.to_le_bytes());
    assert!(bytes.len() > 24 + 1000 * 40, "{} bytes", bytes.len());
}

/// A request lost during a hold-off step, then server pushes (the 1.0 random walk with seed
/// 1592591339): the client's lost-request clock starts no earlier than the hold-off
/// expiry that triggered the request, so the pushes come before its next hold-off and the
/// vector plays (it was skipped as "cannot happen in real time" when the clock started at
/// the step's beginning).
#[test]
fn a_request_lost_after_the_hold_off_leaves_time_for_pushes() {
    let d = tmp("lost-then-push");
    let o = certify(&[
        "--client",
        "wire-ref",
        "--report-dir",
        d.to_str().unwrap(),
        "-q",
        "random-walk-1592591339",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let all = verdicts(&report(&d));
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].1, "PASS", "{all:?}");
}

/// A 1.1 or 1.2 client that takes only SenML CBOR (BS-WRITE-07: a client supports at least
/// its declared formats) is certifiable: the bundled client narrowed to SenML CBOR, plain
/// text and opaque (`--content-formats 112,0,42`: TLV and SenML JSON writes get 4.15, a
/// read asking for TLV or SenML JSON 4.06, its Bootstrap-Request says `pct=112` and its
/// Bootstrap-Pack-Request asks for SenML CBOR)
/// passes every vector of both profiles on the wire with a client profile that lists only
/// `[112, 0, 42, 40]`, so every write, read answer and pack went as SenML CBOR.
#[test]
fn a_senml_cbor_only_client_passes_over_udp() {
    let exe = Path::new(env!("CARGO_BIN_EXE_lwm2m-reference-client"));
    let client = format!(
        "{} --content-formats 112,0,42",
        harness::launch::reference_cmdline(exe, None)
    );
    for profile in ["1.1", "1.2"] {
        let d = tmp(&format!("senml-cbor-{profile}"));
        let p = d.join("p.toml");
        std::fs::write(
            &p,
            format!(
                "name = \"cbor-only\"\nversion = \"0\"\nprofile = \"{profile}\"\ncontent_formats = [112, 0, 42, 40]\nfactories = [\"bootstrap-only\", \"server-and-bootstrap\", \"server-only\"]\n"
            ),
        )
        .unwrap();
        let o = certify(&[
            "--client",
            &client,
            "--client-profile",
            p.to_str().unwrap(),
            "--coap-time-scale",
            "0.01",
            "--report-dir",
            d.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{profile}: {}", text(&o));
        let all = verdicts(&report(&d));
        let pass = all.iter().filter(|(_, v, _)| v == "PASS").count();
        assert!(pass >= 60, "{profile}: only {pass} vectors passed: {all:?}");
        for (name, verdict, why) in &all {
            match verdict.as_str() {
                "PASS" => {}
                // Only vectors whose order cannot happen in real time at this timing.
                "SKIP" => assert!(
                    lag_or_single_server(why),
                    "{profile} {name}: unexpected skip: {why}"
                ),
                other => panic!("{profile} {name}: {other}: {why}"),
            }
        }
    }
}

/// A client whose launcher gives it only a bootstrap URI (`factories = ["bootstrap-only"]`)
/// still runs every vector except those no prologue stands in for: the others start from
/// `bootstrap-only` or are played after their prologue, and pass. Its command line takes
/// `{coap_time_scale}`, so it runs scaled (0.02 by default) and its slow vectors run too.
#[test]
fn a_bootstrap_only_client_runs_nearly_every_vector_over_udp() {
    let exe = Path::new(env!("CARGO_BIN_EXE_lwm2m-reference-client"));
    let client = harness::launch::reference_cmdline(exe, None);
    let d = tmp("bootstrap-only");
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        "name = \"bootstrap-only\"\nversion = \"0\"\nprofile = \"1.1\"\ncontent_formats = [11542, 110, 112, 0, 42, 40]\nfactories = [\"bootstrap-only\"]\n",
    )
    .unwrap();
    let o = certify(&[
        "--client",
        &client,
        "--client-profile",
        p.to_str().unwrap(),
        "--report-dir",
        d.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&d);
    let all = verdicts(&r);
    let ran = all.iter().filter(|(_, v, _)| v != "SKIP").count();
    let prologue = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["prologue_steps"].as_u64().unwrap_or(0) > 0)
        .count();
    eprintln!(
        "1.1, bootstrap-only client: {ran} of {} vectors ran ({prologue} after a prologue)",
        all.len()
    );
    // The suite's own goal (issue #10): at least 90 % of the vectors can run for such a
    // client. A vector skipped because the harness was too loaded to keep its real time
    // counts as runnable: that is the machine, not the suite.
    let runnable = all
        .iter()
        .filter(|(_, v, why)| !(v == "SKIP" && why.contains("no prologue stands in for it")))
        .count();
    assert!(
        runnable * 100 >= all.len() * 90,
        "{runnable} of {}: {all:?}",
        all.len()
    );
    assert!(prologue >= 10, "{prologue} after a prologue");
    for (name, verdict, why) in &all {
        match verdict.as_str() {
            "PASS" => {}
            "SKIP" => assert!(
                why.contains("no prologue stands in for it")
                    || lag_or_single_server(why)
                    || why.contains("can expire"),
                "{name}: unexpected skip: {why}"
            ),
            other => panic!("{name}: {other}: {why}"),
        }
    }
    assert!(
        all.iter()
            .any(|(n, v, _)| n.contains("exchange-lifetime") && v == "PASS"),
        "slow vectors run by default for a client taking {{coap_time_scale}}: {all:?}"
    );
    // The same client without {coap_time_scale} runs the RFC's timing: the slow vectors
    // are skipped, the wait named.
    let plain = client.replace(" --coap-time-scale {coap_time_scale}", "");
    assert_ne!(plain, client);
    let o = certify(&[
        "--client",
        &plain,
        "--client-profile",
        p.to_str().unwrap(),
        "--tag",
        "slow",
        "--report-dir",
        d.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let all = verdicts(&report(&d));
    assert!(!all.is_empty());
    for (name, verdict, why) in &all {
        assert_eq!(verdict, "SKIP", "{name}: {why}");
        assert!(
            why.starts_with("slow: it waits for")
                && why.contains(" s at the client's RFC 7252 timing")
                && (why.contains("MAX_TRANSMIT_WAIT (93 s)")
                    || why.contains("EXCHANGE_LIFETIME (247 s)"))
                || why.contains("no prologue"),
            "{name}: {why}"
        );
    }
}

/// A Bootstrap-Pack-Request asking for LwM2M CBOR (Accept 11544, BS-PACK-01) gets the pack
/// in LwM2M CBOR: the bundled client listing 11544 first passes the pack vectors, and the
/// capture shows the 2.05 answers to its `GET /bspack` carrying Content-Format 11544 and a
/// payload that decodes as LwM2M CBOR to Security, Server and Access Control records.
#[test]
fn a_pack_request_for_lwm2m_cbor_gets_the_pack_in_lwm2m_cbor() {
    use coap_lite::{CoapOption, MessageClass, ResponseType};
    let exe = Path::new(env!("CARGO_BIN_EXE_lwm2m-reference-client"));
    let client = format!(
        "{} --content-formats 11544,112,0,42",
        harness::launch::reference_cmdline(exe, None)
    );
    let d = tmp("pack-11544");
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        "name = \"lwm2m-cbor\"\nversion = \"0\"\nprofile = \"1.2\"\ncontent_formats = [11544, 112, 0, 42, 40]\n[features]\nbootstrap_pack = true\n",
    )
    .unwrap();
    let pcap = d.join("run.pcap");
    let o = certify(&[
        "--client",
        &client,
        "--client-profile",
        p.to_str().unwrap(),
        "--coap-time-scale",
        "0.01",
        "--report-dir",
        d.to_str().unwrap(),
        "--pcap",
        pcap.to_str().unwrap(),
        "-q",
        "bootstrap-pack-delivered",
    ]);
    let all = verdicts(&report(&d));
    assert!(!all.is_empty(), "{}", text(&o));
    for (name, verdict, why) in &all {
        assert_eq!(verdict, "PASS", "{name}: {why}");
    }
    let packs: Vec<_> = pcap_messages(&std::fs::read(&pcap).unwrap())
        .into_iter()
        .filter(|m| {
            m.header.code == MessageClass::Response(ResponseType::Content)
                && m.get_first_option(CoapOption::ContentFormat)
                    .is_some_and(|v| v.iter().fold(0u32, |a, b| a << 8 | u32::from(*b)) == 11544)
        })
        .collect();
    assert!(!packs.is_empty(), "no pack in LwM2M CBOR on the wire");
    for m in &packs {
        let records = conformance::lwm2m_cbor::decode(&m.payload)
            .unwrap_or_else(|e| panic!("{e}: {:02x?}", m.payload));
        assert!(
            records.iter().any(|(n, _)| n.starts_with("/0/"))
                && records.iter().any(|(n, _)| n.starts_with("/1/")),
            "{records:?}"
        );
    }
}

/// A client that takes LwM2M CBOR (11544) and nothing else record-based is certifiable in
/// 1.2: the bundled client narrowed to LwM2M CBOR, plain text and opaque
/// (`--content-formats 11544,0,42`: TLV and SenML writes get 4.15, a read asking for them
/// 4.06, its Bootstrap-Request says `pct=11544` and its Bootstrap-Pack-Request asks for
/// LwM2M CBOR) passes every 1.2 vector on the wire with a client profile that lists only
/// `[11544, 0, 42, 40]`, so every write, read answer and pack went as LwM2M CBOR. (1.1 has
/// no LwM2M CBOR: BS-REQ-02 forbids its `pct` there, see `conformance::oracle::allowed_pct`.)
#[test]
fn an_lwm2m_cbor_only_client_is_certified_over_udp() {
    let exe = Path::new(env!("CARGO_BIN_EXE_lwm2m-reference-client"));
    let client = format!(
        "{} --content-formats 11544,0,42",
        harness::launch::reference_cmdline(exe, None)
    );
    let d = tmp("lwm2m-cbor-1.2");
    let p = d.join("p.toml");
    std::fs::write(
        &p,
        "name = \"lwm2m-cbor-only\"\nversion = \"0\"\nprofile = \"1.2\"\ncontent_formats = [11544, 0, 42, 40]\nfactories = [\"bootstrap-only\", \"server-and-bootstrap\", \"server-only\"]\n",
    )
    .unwrap();
    let o = certify(&[
        "--client",
        &client,
        "--client-profile",
        p.to_str().unwrap(),
        "--coap-time-scale",
        "0.01",
        "--report-dir",
        d.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&d);
    assert_eq!(r["outcome"], "CERTIFIED", "{}", text(&o));
    let all = verdicts(&r);
    let pass = all.iter().filter(|(_, v, _)| v == "PASS").count();
    assert!(pass >= 60, "only {pass} vectors passed: {all:?}");
    for (name, verdict, why) in &all {
        match verdict.as_str() {
            "PASS" => {}
            // Only vectors whose order cannot happen in real time at this timing.
            "SKIP" => assert!(lag_or_single_server(why), "{name}: unexpected skip: {why}"),
            other => panic!("{name}: {other}: {why}"),
        }
    }
    let names: Vec<&str> = all
        .iter()
        .filter(|(_, v, _)| v == "PASS")
        .map(|(n, _, _)| n.as_str())
        .collect();
    for kind in ["read", "write", "pack"] {
        assert!(
            names.iter().any(|n| n.contains(kind)),
            "no {kind} vector passed"
        );
    }
}

/// The vector the in-process kill table names for `bug` (`lwm2m-certify --mutants`).
fn killer(table: &str, bug: &str) -> String {
    table
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(bug)).then(|| words.next().unwrap_or_default().to_string())
        })
        .unwrap_or_else(|| panic!("{bug} is not in the kill table:\n{table}"))
}

/// Bugs of every kind (timing, deduplication, a Discover payload, the Register payload) are
/// caught on the wire, each by the vector that catches it in process; the same vector
/// passes against the reference client on the wire, so the failure is the bug's.
#[test]
fn injected_bugs_fail_on_the_wire() {
    let table = text(&certify(&["--mutants"]));
    for bug in [
        "no-hold-off",
        "register-lists-security",
        "discover-omits-short-server-id",
        "no-deduplication",
    ] {
        let vector = killer(&table, bug);
        let ok = certify(&["--client", "wire-ref", "-q", &vector]);
        let t = text(&ok);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{vector} against the reference: {t}"
        );
        assert!(t.contains("1 passed"), "{vector} did not run: {t}");
        let client = format!("wire-mutant:{bug}");
        let o = certify(&["--client", &client, "-q", &vector]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{bug} survived {vector}: {t}");
        assert!(t.contains("FAIL [MUST]"), "{bug}: {t}");
        assert!(
            t.contains("wire log:"),
            "{bug}: the report lacks the wire log: {t}"
        );
    }
}

/// A 1.0 vector that bootstraps at once and then asks the client something: hold-off,
/// Bootstrap-Request accepted, then Discover.
fn discover_vector() -> String {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/1.0"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.ok()?.path()).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            let steps: Vec<&str> = v["steps"]
                .as_array()?
                .iter()
                .filter_map(|s| s["stimulus"]["step"].as_str())
                .collect();
            (v["factory"] == "bootstrap-only"
                && steps
                    == [
                        "client-hold-off-expired",
                        "bootstrap-request-accepted",
                        "bootstrap-discover",
                    ]
                && v["steps"][2]["expect"]["response"]["codes"][0] == "2.05")
                .then(|| v["name"].as_str().unwrap().to_string())
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .expect("a hold-off, request, Discover vector")
}

/// A 1.0 vector that bootstraps at once and then writes an instance: hold-off,
/// Bootstrap-Request accepted, then a Bootstrap-Write answered 2.04.
fn write_vector() -> String {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/1.0"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.ok()?.path()).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            let steps: Vec<&str> = v["steps"]
                .as_array()?
                .iter()
                .filter_map(|s| s["stimulus"]["step"].as_str())
                .collect();
            (v["factory"] == "bootstrap-only"
                && steps.len() > 2
                && steps[..3]
                    == [
                        "client-hold-off-expired",
                        "bootstrap-request-accepted",
                        "bootstrap-write",
                    ]
                && v["steps"][2]["expect"]["response"]["codes"][0] == "2.04")
                .then(|| v["name"].as_str().unwrap().to_string())
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .expect("a hold-off, request, Write vector")
}

fn bad_client(behaviour: &str) -> (Output, Duration, PathBuf) {
    bad_client_on(behaviour, &discover_vector())
}

fn bad_client_on(behaviour: &str, vector: &str) -> (Output, Duration, PathBuf) {
    let d = tmp(behaviour);
    let pidfile = d.join("pid");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/adapters/bad_wire_client.py"
    );
    let client = format!(
        "python3 {script} {behaviour} {} {{bs_uri}} {{endpoint}}",
        pidfile.display()
    );
    let profile = d.join("p.toml");
    std::fs::write(
        &profile,
        "name = \"bad\"\nversion = \"0\"\nprofile = \"1.0\"\ncontent_formats = [11542]\n",
    )
    .unwrap();
    let started = Instant::now();
    let o = certify(&[
        "--client",
        &client,
        "--client-profile",
        profile.to_str().unwrap(),
        // Generous: a Python interpreter can take a second to start on a loaded machine.
        "--step-timeout",
        "3",
        "--report-dir",
        d.to_str().unwrap(),
        vector,
    ]);
    (o, started.elapsed(), pidfile)
}

fn gone(pidfile: &Path) -> bool {
    let pid = std::fs::read_to_string(pidfile).expect("the client wrote its PID");
    !Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[test]
fn a_misbehaving_client_gets_a_named_verdict_in_time_and_no_process_is_left() {
    let cases = [
        ("silent", "FAIL", "the client sent nothing"),
        ("malformed", "ERROR", "not CoAP"),
        ("dies", "ERROR", "the client exited (exit status: 3)"),
        (
            "wrong-token",
            "ERROR",
            "carries token eeeeee but the request had",
        ),
        // A Discover answer in a format that is not link-format breaks BS-DISC-01.
        ("unknown-format", "FAIL", "answered in Content-Format 9999"),
        ("reset", "ERROR", "the client rejected GET / with a Reset"),
        // A duplicate is recognised by its Message ID: the vector passes its step 1 and
        // the client's blanket 2.04 answers fail it later, at Discover.
        ("duplicate", "FAIL", "expected 2.05"),
    ];
    for (behaviour, verdict, needle) in cases {
        let (o, took, pidfile) = bad_client(behaviour);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{behaviour}: {t}");
        assert!(took < Duration::from_secs(20), "{behaviour} took {took:?}");
        let r = report(pidfile.parent().unwrap());
        let all = verdicts(&r);
        assert_eq!(all.len(), 1, "{behaviour}: {all:?}");
        let (_, v, why) = &all[0];
        assert_eq!(v, verdict, "{behaviour}: {why}");
        assert!(
            why.contains(needle),
            "{behaviour}: {why:?} lacks {needle:?}"
        );
        assert!(
            gone(&pidfile),
            "{behaviour}: the client process is still there"
        );
        if behaviour == "duplicate" {
            let wire = r["results"][0]["wire"].to_string();
            assert!(wire.contains("retransmission"), "{wire}");
        }
    }
}

/// `--attach` listens on the vectors' canonical ports for a client the user starts: here
/// the reference client, started by hand; and when a port is taken, the error names it.
#[test]
fn attach_waits_for_a_client_the_user_starts_and_names_a_port_in_use() {
    let d = tmp("attach");
    let profile = d.join("p.toml");
    std::fs::write(
        &profile,
        "name = \"by hand\"\nversion = \"0\"\nprofile = \"1.0\"\n",
    )
    .unwrap();
    let vector = discover_vector();
    let attach = |extra: &[&str]| {
        let mut args = vec![
            "--attach",
            "--client-profile",
            profile.to_str().unwrap(),
            "--coap-time-scale",
            "0.01",
            "--step-timeout",
            "2",
        ];
        args.extend_from_slice(extra);
        args.push(&vector);
        certify(&args)
    };
    {
        let taken = std::net::UdpSocket::bind("127.0.0.1:5783");
        if taken.is_ok() {
            let o = attach(&[]);
            let t = text(&o);
            assert_eq!(o.status.code(), Some(1), "{t}");
            assert!(t.contains("cannot listen on 127.0.0.1:5783 (BS)"), "{t}");
        }
    }
    let mut client = Command::new(env!("CARGO_BIN_EXE_lwm2m-reference-client"))
        .args([
            "wire",
            "--profile",
            "1.0",
            "--bootstrap",
            "coap://127.0.0.1:5783",
            "--servers",
            "coap://127.0.0.1:5693,coap://127.0.0.1:5694",
            "--coap-time-scale",
            "0.01",
        ])
        .spawn()
        .unwrap();
    let o = attach(&[]);
    let _ = client.kill();
    let _ = client.wait();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("start the client now"), "{t}");
}

#[test]
fn a_missing_program_and_a_bad_placeholder_are_named() {
    let o = certify(&["--client", "/no/such/lwm2m-client {bs_uri} {endpoint}"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("/no/such/lwm2m-client") && t.contains("does not exist"),
        "{t}"
    );
    let o = certify(&["--client", "true {bs_url}"]);
    assert!(
        text(&o).contains("unknown placeholder {bs_url}"),
        "{}",
        text(&o)
    );
}

/// A real third-party client, coap-node 0.2.5 (npm, pinned by clients/coap-node's
/// lockfile; `npm ci` there installs it): its results match its client profile exactly,
/// every failure expected with the deviation named, no XPASS.
#[test]
fn coap_node_matches_its_client_profile_exactly() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../clients/coap-node"));
    assert!(
        root.join("node_modules/coap-node/package.json").exists(),
        "coap-node is not installed: run `npm ci` in clients/coap-node (the README's test command does)"
    );
    let d = tmp("coap-node");
    let o = certify(&[
        "--client",
        "node clients/coap-node/launch.js {bs_uri} {endpoint}",
        "--client-profile",
        "clients/coap-node/profile.toml",
        "--report-dir",
        d.to_str().unwrap(),
        "-q",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let r = report(&d);
    assert!(
        r["outcome"]
            .as_str()
            .unwrap()
            .starts_with("PROFILE MATCHED, NOT CERTIFIED"),
        "{}",
        r["outcome"]
    );
    let all = verdicts(&r);
    let xfail = all.iter().filter(|(_, v, _)| v == "XFAIL").count();
    assert!(xfail >= 25, "only {xfail} expected failures ran: {all:?}");
    for (name, verdict, why) in &all {
        assert!(
            matches!(verdict.as_str(), "PASS" | "XFAIL" | "SKIP"),
            "{name}: {verdict}: {why}"
        );
    }
}

/// Every payload of the suite fits one datagram (RFC 7252 §4.6: 1024 bytes of payload
/// without block-wise transfer), which is why the harness sends Block1 requests of its own
/// only to a client that asks for smaller blocks with 4.13 (see
/// `a_client_with_16_byte_blocks_is_certified_over_udp`); a vector that outgrows it fails
/// here first.
#[test]
fn every_payload_fits_one_datagram() {
    use conformance::observation::{render_message, render_response, Variations};
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors"));
    let vectors = conformance::load::Loader::new().load_dir(dir).unwrap();
    let mut largest = 0;
    for (_, v) in &vectors {
        // The stimuli, and the reference client's answers and messages as it sends them,
        // with every conforming variation (the longest forms).
        let model = conformance::replay::model_for(v, bootstrap_model::bugs::BugSet::NONE).unwrap();
        let i = bootstrap_model::system::Factory::ALL
            .iter()
            .position(|f| *f == v.factory)
            .unwrap();
        let mut state = model.initial_states()[i].clone();
        let profile = v.profile.parse().unwrap();
        let vary = Variations::all();
        for s in &v.steps {
            let (next, out) = model.step(&state, &s.stimulus);
            state = next;
            let payloads = s.request.iter().flat_map(|r| r.payloads.iter().cloned());
            let answers = out
                .response
                .iter()
                .filter_map(|r| render_response(r, profile, &v.uris, &vary, None).payload);
            let sends = out
                .send
                .iter()
                .filter_map(|o| render_message(o, &v.uris, &vary).payload);
            for e in payloads.chain(answers).chain(sends) {
                largest = largest.max(e.bytes().unwrap().len());
            }
        }
    }
    assert!(
        largest <= 1024,
        "a payload of {largest} bytes needs block-wise transfer"
    );
    println!("largest payload: {largest} bytes");
}

/// The account-timeout vectors that cannot happen in real time at scale 0.01 (a Register
/// left unanswered while the 5 s timeout runs) play at scale 0.1, and catch the bug that
/// ignores the timeout on the wire too.
#[test]
fn account_timeout_vectors_play_at_a_larger_scale_and_catch_their_bug() {
    let run = |client: &str, d: &Path| {
        certify(&[
            "--client",
            client,
            "--coap-time-scale",
            "0.1",
            "--report-dir",
            d.to_str().unwrap(),
            "-q",
            "bs-fin-06-bootstrap-account-timeout-expired",
        ])
    };
    let d = tmp("account-timeout");
    let o = run("wire-ref", &d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let all = verdicts(&report(&d));
    assert!(all.len() >= 5, "{all:?}");
    for (name, verdict, why) in all {
        assert_eq!(verdict, "PASS", "{name}: {why}");
    }
    let o = run(
        "wire-mutant:ignores-account-timeout",
        &tmp("account-timeout-bug"),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

#[test]
fn bad_wire_flags_are_one_line_each() {
    for (args, needle) in [
        (
            &["--client", "wire-ref", "--coap-time-scale", "2"][..],
            "--coap-time-scale 2: expected a factor in (0, 1]",
        ),
        (
            &["--client", "ref", "--pcap", "x.pcap"][..],
            "--pcap, --coap-time-scale and --dtls need a client on the wire",
        ),
        (
            &["--client", "wire-ref", "--listen", "0.0.0.0"][..],
            "--listen 0.0.0.0: a device cannot reach an unspecified address; add --advertise HOST",
        ),
        (
            &["--client", "wire-ref", "--reset-cmd", "true"][..],
            "--reset-cmd restarts a device the harness attaches to: add --attach",
        ),
        (
            &["--client", "ref", "--listen", "127.0.0.2"][..],
            "--listen, --advertise and --reset-cmd need a client on the wire",
        ),
        (
            &["--client", "ref", "--dtls"][..],
            "--pcap, --coap-time-scale and --dtls need a client on the wire",
        ),
        (
            &["--client", "wire-misbehave:no-such-key-trick", "--dtls"][..],
            "unknown misbehaviour \"no-such-key-trick\"",
        ),
        (
            &["--client", "wire-mutant:no-such-bug"][..],
            "unknown bug \"no-such-bug\"",
        ),
        (
            &["--attach"][..],
            "--attach: the client needs --client-profile FILE",
        ),
    ] {
        let o = certify(args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(needle), "{args:?}: {t}");
        assert_eq!(t.trim().lines().count(), 1, "{args:?}: {t}");
    }
}

/// The datagrams of a pcap file written by `--pcap` (LINKTYPE_RAW: IPv4 or IPv6, UDP), as
/// CoAP messages; what is not CoAP is left out.
fn pcap_messages(bytes: &[u8]) -> Vec<coap_lite::Packet> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let packet = &bytes[at + 16..(at + 16 + len).min(bytes.len())];
        at += 16 + len;
        let ip = match packet.first().map(|b| b >> 4) {
            Some(4) => usize::from(packet[0] & 0x0f) * 4,
            Some(6) => 40,
            _ => continue,
        };
        if let Some(udp) = packet.get(ip + 8..) {
            if let Ok(p) = coap_lite::Packet::from_bytes(udp) {
                out.push(p);
            }
        }
    }
    out
}

/// The bundled reference client with `--block-size 16`, a client with small buffers that
/// uses block-wise transfer (RFC 7959) for every payload over 16 bytes, launched as a
/// client program (`--client 'lwm2m-reference-client wire ... --block-size 16'`): the 1.1
/// and 1.2 suites (Register, Discover, Bootstrap-Read, Bootstrap-Pack among them) are
/// CERTIFIED on the wire, and the capture shows the blocks: Block1 Registers answered 2.31
/// Continue, Block2 answers to Read/Discover fetched block by block, the Bootstrap-Pack
/// asked for with an early Block2 and served in blocks, and Writes refused 4.13 with a
/// Block1 size hint sent again by the harness in blocks.
#[test]
fn a_client_with_16_byte_blocks_is_certified_over_udp() {
    use coap_lite::{CoapOption, MessageClass, RequestType, ResponseType};
    use harness::blockwise::block_of;
    let exe = Path::new(env!("CARGO_BIN_EXE_lwm2m-reference-client"));
    let client = format!(
        "{} --block-size 16",
        harness::launch::reference_cmdline(exe, None)
    );
    // 0: Block1 request blocks with more to come (Register); 1: 2.31 Continue; 2: Block2
    // answers of the client's with more to come (Read, Discover); 3: the harness's requests
    // for their later blocks; 4: pack requests with an early Block2; 5: pack blocks the
    // harness serves with more to come; 6: the client's requests for later pack blocks;
    // 7: 4.13 with a Block1 size hint to a Write; 8: the harness's Write blocks that follow.
    let mut counts = [0usize; 9];
    for profile in ["1.1", "1.2"] {
        let d = tmp(&format!("block-{profile}"));
        let cp = d.join("p.toml");
        std::fs::write(
            &cp,
            format!(
                "name = \"reference, 16-byte blocks\"\nversion = \"0\"\nprofile = \"{profile}\"\nfactories = [\"bootstrap-only\", \"server-and-bootstrap\", \"server-only\"]\n"
            ),
        )
        .unwrap();
        let pcap = d.join("run.pcap");
        let started = Instant::now();
        let o = certify(&[
            "--client",
            &client,
            "--client-profile",
            cp.to_str().unwrap(),
            "--coap-time-scale",
            "0.01",
            "--report-dir",
            d.to_str().unwrap(),
            "--pcap",
            pcap.to_str().unwrap(),
            "-q",
        ]);
        println!("{profile}: {:?}", started.elapsed());
        assert_eq!(o.status.code(), Some(0), "{profile}: {}", text(&o));
        let r = report(&d);
        assert_eq!(r["outcome"], "CERTIFIED", "{profile}: {}", text(&o));
        let all = verdicts(&r);
        let pass = all.iter().filter(|(_, v, _)| v == "PASS").count();
        assert!(pass >= 50, "{profile}: only {pass} passed");
        for (name, verdict, why) in &all {
            assert!(
                verdict == "PASS" || (verdict == "SKIP" && lag_or_single_server(why)),
                "{name}: {verdict}: {why}"
            );
        }
        let names: Vec<&str> = all
            .iter()
            .filter(|(_, v, _)| v == "PASS")
            .map(|(n, _, _)| n.as_str())
            .collect();
        for kind in ["register", "discover"] {
            assert!(
                names.iter().any(|n| n.contains(kind)),
                "{profile}: no {kind} vector passed"
            );
        }
        if profile == "1.1" {
            assert!(
                names.iter().any(|n| n.contains("read")),
                "no Read vector passed"
            );
        } else {
            assert!(
                names.iter().any(|n| n.contains("pack")),
                "no Pack vector passed"
            );
        }
        let messages = pcap_messages(&std::fs::read(&pcap).unwrap());
        let pack = |p: &coap_lite::Packet| {
            p.get_option(CoapOption::UriPath)
                .is_some_and(|l| l.front().is_some_and(|s| s == b"bspack"))
        };
        // The reference client asks for every block of the pack with the same token.
        let pack_tokens: Vec<Vec<u8>> = messages
            .iter()
            .filter(|p| pack(p))
            .map(|p| p.get_token().to_vec())
            .collect();
        for p in &messages {
            let request = matches!(p.header.code, MessageClass::Request(_));
            let b1 = block_of(p, CoapOption::Block1).unwrap();
            let b2 = block_of(p, CoapOption::Block2).unwrap();
            let more2 = b2.as_ref().is_some_and(|b| b.more);
            let later2 = b2.as_ref().is_some_and(|b| b.num > 0);
            let of_pack = pack_tokens.iter().any(|t| t.as_slice() == p.get_token());
            let post = p.header.code == MessageClass::Request(RequestType::Post);
            let put = p.header.code == MessageClass::Request(RequestType::Put);
            let hit = [
                post && b1.as_ref().is_some_and(|b| b.more),
                p.header.code == MessageClass::Response(ResponseType::Continue),
                !request && more2 && !of_pack,
                request && later2 && !pack(p),
                request && pack(p) && b2.as_ref().is_some_and(|b| b.num == 0),
                !request && more2 && of_pack,
                request && later2 && pack(p),
                p.header.code == MessageClass::Response(ResponseType::RequestEntityTooLarge)
                    && b1.is_some(),
                put && b1.is_some(),
            ];
            for (c, h) in counts.iter_mut().zip(hit) {
                *c += usize::from(h);
            }
        }
    }
    println!("blocks seen: {counts:?}");
    assert!(counts.iter().all(|c| *c > 0), "blocks seen: {counts:?}");
}

/// A client that breaks block-wise transfer gets a named error within the timeout, and
/// its process is gone: a Block1 request with a missing block (answered 4.08 Request
/// Entity Incomplete), a Block2 answer whose block number does not match the one asked
/// for, and a 2.31 Continue that does not echo the Block1 block the harness sent after the
/// client asked for blocks with 4.13.
#[test]
fn broken_block_wise_transfers_are_named() {
    let write = write_vector();
    for (behaviour, needle, seen) in [
        ("block1-gap", "Block1 block 2 where block 1 was due", "4.08"),
        (
            "block2-mismatch",
            "Block2 block 2 where block 1 was due",
            "Block2: 1/0/16",
        ),
        (
            "block1-echo",
            "2.31 Continue for Block1 block 0 must echo its Block1 option (RFC 7959 §2.3), it carries block 5",
            "Block1: 0/1/16",
        ),
    ] {
        let vector = if behaviour == "block1-echo" {
            write.clone()
        } else {
            discover_vector()
        };
        let (o, took, pidfile) = bad_client_on(behaviour, &vector);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{behaviour}: {t}");
        assert!(took < Duration::from_secs(20), "{behaviour} took {took:?}");
        let r = report(pidfile.parent().unwrap());
        let all = verdicts(&r);
        assert_eq!(all.len(), 1, "{behaviour}: {all:?}");
        let (_, v, why) = &all[0];
        assert_eq!(v, "ERROR", "{behaviour}: {why}");
        assert!(
            why.contains(needle),
            "{behaviour}: {why:?} lacks {needle:?}"
        );
        assert!(
            gone(&pidfile),
            "{behaviour}: the client process is still there"
        );
        let wire = r["results"][0]["wire"].to_string();
        assert!(wire.contains(seen), "{behaviour}: {wire}");
    }
}

/// The bundled client differing as real clients do (each conforming variation alone, and
/// all together) is certified over UDP, with no failure of any tier: the vectors state what
/// the specification requires, not what the reference client happens to send (issue #9).
/// Two runs go at once, at `--coap-time-scale 0.02` (a lost request given up after 1.2 to
/// 1.9 s): they mostly wait for the vectors' timers, and with more at once, or at 0.01, the
/// harness can lag a client's give-up on a loaded two-core machine.
#[test]
fn every_conforming_variation_is_certified_over_udp() {
    let names: Vec<&str> = conformance::observation::Variations::NAMES
        .iter()
        .copied()
        .chain(["all"])
        .collect();
    let mut results = Vec::new();
    for pair in names.chunks(2) {
        let runs: Vec<_> = pair
            .iter()
            .map(|&name| {
                std::thread::spawn(move || {
                    let d = tmp(&format!("variation-{name}"));
                    let o = certify(&[
                        "--client",
                        "wire-ref",
                        "--variations",
                        name,
                        "--coap-time-scale",
                        "0.02",
                        "--report-dir",
                        d.to_str().unwrap(),
                        "-q",
                    ]);
                    (name, o, d)
                })
            })
            .collect();
        results.extend(runs.into_iter().map(|r| r.join().unwrap()));
    }
    for (name, o, d) in results {
        let t = text(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {t}");
        assert!(t.contains("CERTIFIED (exit code 0)"), "{name}: {t}");
        let all = verdicts(&report(&d));
        assert!(all.len() > 300, "{name}: {} vectors", all.len());
        for (vector, verdict, why) in &all {
            assert!(
                matches!(verdict.as_str(), "PASS" | "SKIP"),
                "{name}: {vector}: {verdict}: {why}"
            );
        }
        let passed = all.iter().filter(|(_, v, _)| v == "PASS").count();
        assert!(passed > 150, "{name}: only {passed} passed");
    }
}

/// The independent misbehaviours of `harness::misbehave`, written outside the model, fail
/// on the wire at the vector that catches each in process (the Message ID one, which only
/// the wire shows, at a vector with a registration; the Register sent again, at one whose
/// Register is answered), and the same vector passes against the well-behaved client.
#[test]
fn independent_misbehaviours_fail_on_the_wire() {
    let table = text(&certify(&["--mutants"]));
    let killer_of = |m: &str| match m {
        "reuses-message-id" => killer(&table, "register-lists-security-instance"),
        // On the wire the client sends its Register again once it is answered; the
        // in-process killer ends with the Register lost, so a vector ending with it
        // accepted shows it.
        "registers-after-last-step" => {
            let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/1.0"));
            let mut names: Vec<String> = conformance::load::Loader::new()
                .load_dir(dir)
                .unwrap()
                .into_iter()
                .filter(|(_, v)| {
                    v.factory == bootstrap_model::system::Factory::ServerAndBootstrap
                        && v.steps.len() == 1
                        && matches!(
                            v.steps[0].stimulus,
                            bootstrap_model::system::Action::RegisterAccepted { .. }
                        )
                })
                .map(|(_, v)| v.name)
                .collect();
            names.sort();
            names
                .first()
                .expect("a 1.0 vector ends with a Register accepted")
                .clone()
        }
        _ => killer(&table, m),
    };
    let runs: Vec<_> = harness::misbehave::Misbehaviour::ALL
        .iter()
        .map(|m| {
            let vector = killer_of(m.name());
            let name = m.name();
            std::thread::spawn(move || {
                let ok = certify(&["--client", "wire-ref", "-q", &vector]);
                let client = format!("wire-misbehave:{name}");
                let bad = certify(&["--client", &client, "-q", &vector]);
                (name, vector, ok, bad)
            })
        })
        .collect();
    for r in runs {
        let (name, vector, ok, bad) = r.join().unwrap();
        let t = text(&ok);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{vector} against the reference: {t}"
        );
        assert!(t.contains("1 passed"), "{vector} did not run: {t}");
        let t = text(&bad);
        assert_eq!(bad.status.code(), Some(1), "{name} survived {vector}: {t}");
        assert!(t.contains("FAIL [MUST]"), "{name}: {t}");
        let m = harness::misbehave::Misbehaviour::from_name(name).unwrap();
        assert!(
            t.contains(m.signature()),
            "{name} failed for another reason: {t}"
        );
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    common::tmp("wire", name)
}
