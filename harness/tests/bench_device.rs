//! A device on the bench (issue #13), on this machine's loopback: the harness listens on
//! 127.0.0.2 (all of 127/8 is loopback) and advertises it; the "device" is the bundled
//! client started as a separate process with its own fixed endpoint name, restarted by
//! `--reset-cmd` for each vector (its profile names the fleet's prefix, `urn:dev:bench-*`).
//! Its verdicts equal those of the same client launched by the harness; a reset command
//! that fails and a device with the wrong endpoint name get named verdicts in time, and no
//! device process is left behind.

mod common;

use common::{certify, text, verdicts_in};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The attach ports of each test (tests run at the same time): bootstrap server, DM0.
const PORTS_CERTIFIED: (u16, u16) = (25783, 25693);
const PORTS_NAMED: (u16, u16) = (26783, 26693);
/// The vectors the certified device plays: the whole 1.1 profile (75 vectors, three
/// minutes in attach mode, one vector at a time).
const PROFILE: &str = "1.1/";
/// The vectors the tests of failures play: the Bootstrap-Delete vectors of 1.1.
const SELECTION: &str = "1.1/bs-del";

/// The device's profile: 1.1, its factory holds a Bootstrap-Server Account only, and its
/// endpoint name is its own.
fn profile(dir: &Path, endpoint: &str) -> PathBuf {
    let p = dir.join("device.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"bench device\"\nversion = \"7\"\nprofile = \"1.1\"\nfactories = [\"bootstrap-only\"]\nendpoint = \"{endpoint}\"\n"
        ),
    )
    .unwrap();
    p
}

/// The device's reset script: stop the running device (its PID in a file), start a fresh
/// one in its own session (as a board would boot), configured as the device is at the
/// factory: the bootstrap server at 127.0.0.2, its endpoint `name`.
fn reset_script(dir: &Path, name: &str, (bs_port, dm_port): (u16, u16)) -> PathBuf {
    let exe = env!("CARGO_BIN_EXE_lwm2m-reference-client");
    let h = "127.0.0.2";
    let dms: Vec<String> = (0..3)
        .map(|k| format!("coap://{h}:{}", dm_port + k))
        .collect();
    let pid = dir.join("device.pid");
    let script = dir.join("reset.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ -f {pid} ] && kill $(cat {pid}) 2>/dev/null\nsetsid '{exe}' wire --profile 1.1 --factory bootstrap-only --endpoint {name} --bootstrap coap://{h}:{bs_port} --bootstrap-alternate coap://{h}:{} --servers {} --coap-time-scale 0.01 --access-control true --pack any >> {log} 2>&1 &\necho $! > {pid}\necho reset \"$1\"\n",
            bs_port + 1,
            dms.join(","),
            pid = pid.display(),
            log = dir.join("device.log").display(),
        ),
    )
    .unwrap();
    script
}

fn attach(
    dir: &Path,
    reset: &str,
    endpoint: &str,
    (bs_port, dm_port): (u16, u16),
    selection: &str,
) -> Output {
    let p = profile(dir, endpoint);
    let bs = bs_port.to_string();
    let dm = dm_port.to_string();
    certify(&[
        "--attach",
        "--listen",
        "127.0.0.2",
        "--advertise",
        "127.0.0.2",
        "--bs-port",
        &bs,
        "--dm-port",
        &dm,
        "--reset-cmd",
        reset,
        "--reset-wait",
        "0.05",
        "--client-profile",
        p.to_str().unwrap(),
        "--coap-time-scale",
        "0.01",
        "--step-timeout",
        "3",
        "--report-dir",
        dir.to_str().unwrap(),
        "-q",
        selection,
    ])
}

/// Whether the device whose PID is in `dir` still runs; stops it.
fn stop_device(dir: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(dir.join("device.pid")) else {
        return false;
    };
    let alive = Command::new("kill")
        .args(["-0", pid.trim()])
        .status()
        .is_ok_and(|s| s.success());
    let _ = Command::new("kill").arg(pid.trim()).status();
    alive
}

#[test]
fn a_device_reset_for_each_vector_is_certified_as_when_launched() {
    let d = tmp("device");
    let script = reset_script(&d, "urn:dev:bench-7", PORTS_CERTIFIED);
    let reset = format!("sh {} {{endpoint}}", script.display());
    // The profile names the fleet's prefix; the board's own name matches it.
    let o = attach(&d, &reset, "urn:dev:bench-*", PORTS_CERTIFIED, PROFILE);
    stop_device(&d);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("provision the device with bootstrap server coap://127.0.0.2:25783 (endpoint urn:dev:bench-*)"),
        "{t}"
    );
    let attached = verdicts_in(&d);
    assert_eq!(attached.len(), 77, "{attached:?}");
    // PASS, or SKIP with its reason (vectors whose factory no prologue can stand in for,
    // and those whose server refuses the DTLS handshake: this device runs plain CoAP).
    assert!(
        attached.iter().all(|(_, v, _)| v == "PASS" || v == "SKIP"),
        "{attached:?}"
    );
    assert!(attached.iter().filter(|(_, v, _)| v == "PASS").count() >= 60);

    // The same client launched by the harness (a fresh process per vector, on
    // 127.0.0.1): the same vectors and verdicts.
    let l = tmp("launched");
    let p = profile(&l, "urn:dev:bench-7");
    let client = launched();
    let o = certify(&[
        "--client",
        &client,
        "--client-profile",
        p.to_str().unwrap(),
        "--report-dir",
        l.to_str().unwrap(),
        "-q",
        PROFILE,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let names = |v: &[(String, String, String)]| {
        v.iter()
            .map(|(n, v, _)| (n.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&attached), names(&verdicts_in(&l)));
}

#[test]
fn a_reset_that_fails_and_a_device_with_another_name_get_named_verdicts() {
    // A reset command that fails: an ERROR per vector naming it, its output included.
    let d = tmp("reset-fails");
    let o = attach(
        &d,
        "sh -c 'echo no power switch on this bench >&2; exit 3'",
        "urn:dev:bench-7",
        PORTS_NAMED,
        SELECTION,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    for (name, verdict, why) in verdicts_in(&d) {
        assert_eq!(verdict, "ERROR", "{name}: {why}");
        assert!(
            why.contains("--reset-cmd failed (exit status: 3)") && why.contains("no power switch"),
            "{name}: {why}"
        );
    }
    // A device that boots with another endpoint name than its profile declares: each
    // vector fails at its Bootstrap-Request, naming the name.
    let d = tmp("wrong-name");
    let script = reset_script(&d, "urn:dev:someone-else", PORTS_NAMED);
    let reset = format!("sh {}", script.display());
    let o = attach(&d, &reset, "urn:dev:bench-7", PORTS_NAMED, SELECTION);
    stop_device(&d);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let all = verdicts_in(&d);
    assert!(!all.is_empty());
    for (name, verdict, why) in all {
        assert_eq!(verdict, "FAIL", "{name}: {why}");
        assert!(why.contains("urn:dev:someone-else"), "{name}: {why}");
    }
}

/// A device whose factory Client Hold Off Time is fixed (0 s, where the vectors provision
/// 1 s) declares it in its profile (`hold_off = 0`): the harness judges its timing against
/// its own hold-off, and the device is certified; the same device without the declaration
/// fails every vector, its Bootstrap-Request early for the vectors' 1 s (BS-FACT-05): at
/// power-on, where the vector allows nothing yet, or named too early.
#[test]
fn a_device_with_a_fixed_hold_off_is_judged_against_it() {
    let client = format!("{} --hold-off 0", launched());
    let run = |name: &str, declared: &str| {
        let d = tmp(name);
        let p = d.join("device.toml");
        std::fs::write(
            &p,
            format!("name = \"quick board\"\nversion = \"1\"\nprofile = \"1.1\"\nfactories = [\"bootstrap-only\"]\n{declared}"),
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
            SELECTION,
        ]);
        (o, d)
    };
    let (o, d) = run("hold-off-declared", "hold_off = 0\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(verdicts_in(&d).iter().all(|(_, v, _)| v == "PASS"));
    let (o, d) = run("hold-off-undeclared", "");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    for (name, verdict, why) in verdicts_in(&d) {
        assert_eq!(verdict, "FAIL", "{name}: {why}");
        // Sent during the power-on step, where the hold-off still runs, or named early.
        assert!(
            why.contains("/bs?ep=")
                && (why.contains("too early") || why.contains("does not allow here")),
            "{name}: {why}"
        );
    }
}

/// The bundled client as the harness launches it, placeholders and all, but without
/// `{client_port}`: a device's address is not known before it speaks, so the launched
/// client, compared with it, must not make its own known either.
fn launched() -> String {
    harness::launch::reference_cmdline(
        Path::new(env!("CARGO_BIN_EXE_lwm2m-reference-client")),
        None,
    )
    .replace(" --port {client_port}", "")
}

fn tmp(name: &str) -> PathBuf {
    common::tmp("bench", name)
}
