//! The suite over CoAP/DTLS 1.2 with pre-shared keys (`--dtls`, issue #12): the bundled
//! reference client is certified; each misbehaviour of its keys is caught with the rule it
//! breaks named (BS-SEC-01, -02, -05); and an independent DTLS stack, libcoap's
//! `coap-client-openssl` (Debian's libcoap3-bin, installed by `.ci/run`), runs a
//! Bootstrap-Request and a Register against the harness's DTLS servers, and fails its
//! handshake with a wrong key.

mod common;

use common::{certify, text, verdicts_in};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Skips a conforming client may get over DTLS: the harness's lag on a loaded machine, the
/// single-server vectors of BS-OBJ-05, and the two ambiguities of DTLS (a server speaking
/// first, A-24; the seed's re-bootstrap notification, A-26).
fn allowed_skip(why: &str) -> bool {
    why.contains("cannot happen in real time")
        || why.contains("too loaded")
        || why.contains("expires before it in real time")
        || why.contains("the vector's order cannot be ensured")
        || why.contains("needs a client without the Access Control object")
        || why.contains("ambiguity A-24")
        || why.contains("ambiguity A-26")
}

#[test]
fn the_whole_suite_over_dtls_certifies_the_bundled_reference_client() {
    let d = tmp("suite");
    let o = certify(&[
        "--client",
        "wire-ref",
        "--dtls",
        "--report-dir",
        d.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("CoAP over DTLS 1.2"), "{}", text(&o));
    let all = verdicts_in(&d);
    let pass = all.iter().filter(|(_, v, _)| v == "PASS").count();
    assert!(pass >= 300, "only {pass} vectors passed over DTLS");
    // A server that holds another key fails the handshake; the client's registration
    // failure then takes its course (Transport 1.2 §5.2.10): every such vector passes.
    let refused: Vec<_> = all
        .iter()
        .filter(|(name, _, _)| name.contains("register-handshake-failed"))
        .collect();
    assert!(refused.len() >= 10, "{refused:?}");
    assert!(refused.iter().all(|(_, v, _)| v == "PASS"), "{refused:?}");
    for (name, verdict, why) in &all {
        match verdict.as_str() {
            "PASS" => {}
            "SKIP" => assert!(allowed_skip(why), "{name}: unexpected skip: {why}"),
            other => panic!("{name}: {other}: {why}"),
        }
    }
}

/// Each misbehaviour of the bundled client's keys fails over DTLS, named with the rule it
/// breaks; the same client on plain CoAP, where keys are not used, is certified (so it is
/// the DTLS layer that catches it).
#[test]
fn every_key_misbehaviour_is_caught_over_dtls() {
    // (misbehaviour, what the verdict names, the vectors run, the fewest it must fail)
    for (name, rule, filter, least) in [
        (
            "bootstrap-key-everywhere",
            "which takes the keys of its account only",
            "1.2/",
            20,
        ),
        ("wrong-bootstrap-key", "did not complete within", "1.2/", 20),
        ("plain-coap", "sent plain CoAP", "1.2/", 20),
        // Only the vectors in which a server's key changes and the client registers with
        // it again can show it (BS-WIPE-05).
        ("stale-key", "which its account no longer holds", "", 5),
        // Only the vectors whose server refuses the handshake can show it, each of them.
        (
            "plain-after-failed-handshake",
            "sent plain CoAP",
            "handshake-failed",
            10,
        ),
    ] {
        let d = tmp(name);
        let client = format!("wire-misbehave:{name}");
        let o = certify(&[
            "--client",
            &client,
            "--dtls",
            "--report-dir",
            d.to_str().unwrap(),
            "-q",
            filter,
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        let all = verdicts_in(&d);
        let failed = all.iter().filter(|(_, v, _)| v == "FAIL").count();
        let caught = all
            .iter()
            .filter(|(_, v, why)| v == "FAIL" && why.contains(rule) && why.contains("BS-SEC-0"))
            .count();
        // Most failures name the rule; a few end before the harness saw the session
        // (a vector whose last step waits for a Register that never gets through).
        assert!(
            caught >= least && caught * 10 >= failed * 9,
            "{name}: {caught} of {failed} failures name {rule:?}: {all:?}"
        );
        let plain = certify(&["--client", &client, "-q", "bs-wipe-05"]);
        assert_eq!(plain.status.code(), Some(0), "{name} on plain CoAP");
    }
}

/// libcoap's client, with DTLS from OpenSSL.
const COAP_CLIENT: &str = "coap-client-openssl";

/// The libcoap tests take turns: their attached harness listens on the canonical ports.
fn canonical_ports() -> std::sync::MutexGuard<'static, ()> {
    static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// `lwm2m-certify --attach --dtls` for one vector, in the background: its servers listen on
/// the canonical ports (the bootstrap server on 127.0.0.1:5783, DM0 on :5693).
fn attach(dir: &Path, profile: &str, vector: &str) -> Child {
    let p = dir.join("p.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"libcoap\"\nversion = \"4.3.1\"\nprofile = \"{profile}\"\nfactories = [\"bootstrap-only\", \"server-only\", \"server-and-bootstrap\"]\n"
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_lwm2m-certify"))
        .args(["--attach", "--dtls", "--client-profile"])
        .arg(&p)
        .args(["--step-timeout", "8", "--report-dir"])
        .arg(dir)
        .args(["-q", vector])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lwm2m-certify runs")
}

/// Runs `coap-client-openssl` with `args`, once the harness listens (it retries for a few
/// seconds while the handshake fails because nothing listens yet is not a thing DTLS can
/// tell apart: the harness's start is awaited by its "start the client now" line instead).
fn coap_client<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(COAP_CLIENT)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{COAP_CLIENT}: {e} (Debian's libcoap3-bin; .ci/run installs it)")
        })
}

/// Waits (bounded) until the attached harness has bound its ports.
fn until_listening(port: u16) {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the harness did not listen on port {port}");
}

fn finish(child: Child) -> (Option<i32>, String) {
    let o = child.wait_with_output().unwrap();
    (o.status.code(), text(&o))
}

/// The secret key of `KeyId(k)` (16 bytes each equal to `k`) as `coap-client -k` takes
/// it: the key's bytes as text (`k` is printable for the keys used here).
fn key_text(k: u8) -> String {
    char::from(k).to_string().repeat(16)
}

/// `coap-client` arguments for a Register with DM0 as the factory server account (PSK
/// identity key-50), giving up after `wait` seconds (`-B`).
fn register_with_dm0(wait: &str) -> Vec<String> {
    let key = key_text(50);
    [
        "-m",
        "post",
        "-B",
        wait,
        "-u",
        "key-50",
        "-k",
        &key,
        "-t",
        "40",
        "-e",
        "</1/0>,</2/0>,</3/0>",
        "coaps://127.0.0.1:5693/rd?ep=urn:dev:ref-1&lt=300&lwm2m=1.1&b=U",
    ]
    .map(str::to_string)
    .to_vec()
}

/// Plays `vector` in attach mode over DTLS while `coap-client-openssl` sends one request
/// (`args`) to the server on `port`: libcoap's output, then the harness's exit code and
/// output, and the report's directory.
fn libcoap_against<S: AsRef<std::ffi::OsStr>>(
    name: &str,
    vector: &str,
    port: u16,
    args: &[S],
) -> (Output, (Option<i32>, String), PathBuf) {
    let d = tmp(name);
    let h = attach(&d, "1.1", vector);
    until_listening(port);
    if port == 5783 {
        // A Bootstrap-Request comes after the factory's Client Hold Off Time (1 s,
        // BS-FACT-05): sent at once it could reach the harness while power-on still
        // expects nothing.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let c = coap_client(args);
    (c, finish(h), d)
}

/// The step a report's first vector ended at.
fn first_step(dir: &Path) -> u64 {
    common::report(dir)["results"][0]["verdict"]["step"]
        .as_u64()
        .unwrap()
}

#[test]
fn libcoap_runs_a_bootstrap_request_and_a_register_over_dtls_and_a_wrong_key_fails() {
    let _ports = canonical_ports();
    // Bootstrap-Request to the bootstrap server, with the factory BS account's PSK
    // (identity key-100, its key 16 bytes of 100).
    let (c, (code, out), d) = libcoap_against(
        "libcoap-bs",
        "bs-acct-01-register-accepted-nothing-7cfb97",
        5783,
        &[
            "-m",
            "post",
            "-B",
            "5",
            "-u",
            "key-100",
            "-k",
            &key_text(100),
            "coaps://127.0.0.1:5783/bs?ep=urn:dev:ref-1",
        ],
    );
    assert_eq!(c.status.code(), Some(0), "coap-client: {}", text(&c));
    assert_eq!(code, Some(1), "{out}");
    let all = verdicts_in(&d);
    // The Bootstrap-Request (step 2) passed; the vector stops where libcoap, which closed
    // its session after the answer, is to get the bootstrap server's first write.
    assert_eq!(all[0].1, "ERROR", "{all:?}");
    assert!(
        all[0]
            .2
            .contains("closed its DTLS session with the bootstrap server"),
        "{all:?}"
    );
    assert_eq!(first_step(&d), 3);
    let report = std::fs::read_to_string(d.join("report.md")).unwrap();
    assert!(report.contains("/bs?ep=urn:dev:ref-1"), "{report}");

    // The same with a wrong key: the handshake fails, nothing reaches the server.
    let (c, (code, out), d) = libcoap_against(
        "libcoap-wrong-key",
        "bs-acct-01-register-accepted-nothing-7cfb97",
        5783,
        &[
            "-m",
            "post",
            "-B",
            "3",
            "-u",
            "key-100",
            "-k",
            &key_text(99),
            "coaps://127.0.0.1:5783/bs?ep=urn:dev:ref-1",
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    let all = verdicts_in(&d);
    assert!(
        all[0].2.contains("at step 2") || all[0].2.contains("did not complete"),
        "{all:?}"
    );
    assert!(all[0].2.contains("did not complete within"), "{all:?}");
    assert!(!text(&c).contains("2.04"), "{}", text(&c));

    // Register with management server DM0, with the factory server account's PSK (key-50).
    let (c, (code, out), d) = libcoap_against(
        "libcoap-register",
        "bs-rb-06-bootstrap-request-trigger-4.05-nothing-997899",
        5693,
        &register_with_dm0("5"),
    );
    assert_eq!(c.status.code(), Some(0), "coap-client: {}", text(&c));
    assert_eq!(code, Some(1), "{out}");
    let all = verdicts_in(&d);
    // The Register was judged and answered 2.01 (step 1); libcoap, gone, does not get
    // the Execute of step 2.
    assert_eq!(all[0].1, "ERROR", "{all:?}");
    assert!(
        all[0].2.contains("closed its DTLS session with server DM0"),
        "{all:?}"
    );
    assert_eq!(first_step(&d), 2);
}

/// A management server that holds another key (`register-handshake-failed`, A-27) against
/// libcoap's DTLS client: its Register's handshake is held, then refused with a fatal
/// bad_record_mac, which libcoap takes as the end of the handshake at once, long before
/// its own timers (`-B 30`) would give up; nothing reaches the server.
#[test]
fn libcoap_is_refused_at_once_by_a_server_that_holds_another_key() {
    let _ports = canonical_ports();
    let d = tmp("libcoap-refused");
    let h = attach(
        &d,
        "1.1",
        "bs-fact-03-register-handshake-failed-nothing-aaeee0",
    );
    until_listening(5693);
    let started = Instant::now();
    let c = coap_client(&register_with_dm0("30"));
    let took = started.elapsed();
    let (code, out) = finish(h);
    assert!(!text(&c).contains("2.01"), "{}", text(&c));
    assert!(
        took < Duration::from_secs(10),
        "libcoap gave up after {took:?}: {}",
        text(&c)
    );
    // The handshake (power-on) and its refusal (step 1) passed; libcoap does not fall back
    // to the bootstrap server, which step 2 waits for (a fallback that does not come in
    // time is a SHOULD failure: the client's retry procedure may take longer).
    let all = verdicts_in(&d);
    assert_eq!(all[0].1, "FAIL", "{out}");
    assert!(all[0].2.contains("falls back later"), "{all:?}");
    assert_eq!((first_step(&d), code), (2, Some(0)), "{out}");
    let report = std::fs::read_to_string(d.join("report.md")).unwrap();
    assert!(
        report.contains("refused") && report.contains("\"key-50\""),
        "{report}"
    );
}

fn tmp(name: &str) -> PathBuf {
    common::tmp("dtls", name)
}
