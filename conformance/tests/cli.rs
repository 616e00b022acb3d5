//! The `lwm2m-bootstrap` command line (its `check` part): verdicts and traces on good input, a one-line error
//! naming the problem and a non-zero exit on bad input, never a panic.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lwm2m-bootstrap"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Bad input: exit status 2, exactly one line on stderr naming `needle`, no panic.
fn assert_one_line_error(args: &[&str], needle: &str) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err:?}"
    );
    assert!(
        err.contains(needle),
        "{args:?}: {err:?} does not name {needle:?}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
}

#[test]
fn unknown_profile_is_named() {
    assert_one_line_error(&["--profile", "2.0"], "unknown profile \"2.0\"");
}

#[test]
fn out_of_range_flags_are_named() {
    assert_one_line_error(&["--servers", "9"], "--servers");
    assert_one_line_error(&["--servers", "0"], "--servers");
    assert_one_line_error(&["--ops", "7"], "--ops");
    assert_one_line_error(&["--rebootstraps", "-1"], "--rebootstraps");
    assert_one_line_error(&["--threads", "0"], "--threads");
    assert_one_line_error(&["--servers", "two"], "--servers");
}

#[test]
fn unknown_flags_and_values_are_named() {
    assert_one_line_error(&["--frobnicate"], "--frobnicate");
    assert_one_line_error(&["--factory", "moon"], "moon");
    assert_one_line_error(&["--bug", "no-such-bug"], "no-such-bug");
}

#[test]
fn impossible_configuration_is_named() {
    assert_one_line_error(
        &[
            "--profile",
            "1.0",
            "--ops",
            "0",
            "--factory",
            "bootstrap-only",
        ],
        "impossible configuration",
    );
}

#[test]
fn explorer_refuses_non_loopback_addresses() {
    assert_one_line_error(
        &["--profile", "1.0", "--explore", "0.0.0.0:3000"],
        "loopback",
    );
    assert_one_line_error(
        &["--explore", "127.0.0.1:3000"],
        "--explore needs one --profile",
    );
}

#[test]
fn a_good_run_prints_states_and_verdicts_and_exits_zero() {
    let o = run(&["--profile", "seed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("unique states"), "{out}");
    assert!(out.contains("holds       BS-DEL-03"), "{out}");
    assert!(out.contains("reached     reachable:"), "{out}");
    assert!(out.contains("verdict: 0 violated, 0 not reached"), "{out}");
}

#[test]
fn a_violation_prints_a_numbered_trace_and_exits_one() {
    let o = run(&[
        "--profile",
        "1.1",
        "--choices",
        "reference",
        "--bug",
        "delete-root-removes-bootstrap-account",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("VIOLATED    BS-DEL-03"), "{out}");
    assert!(out.contains("  1. Client Hold Off Time passes"), "{out}");
    assert!(out.contains("✗ violates BS-DEL-03"), "{out}");
}

#[test]
fn the_bug_list_is_printed() {
    let o = run(&["--list-bugs"]);
    assert!(o.status.success());
    assert!(stdout(&o).lines().count() >= 20);
}

/// `coverage` lists the requirements without a vector in four groups, each with its
/// reason: the DTLS rules are checked by the transport (issue #12), not unobservable,
/// Certificate-with-EST is out of scope, and what the suite could test today is listed as
/// not yet exercised.
#[test]
fn coverage_splits_what_has_no_vector_into_four_groups() {
    let o = Command::new(env!("CARGO_BIN_EXE_lwm2m-bootstrap"))
        .arg("coverage")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("the binary runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let section = |title: &str| {
        let start = out
            .find(title)
            .unwrap_or_else(|| panic!("no {title:?} in {out}"));
        let rest = &out[start + title.len()..];
        let rest = &rest[rest.find('\n').map_or(rest.len(), |n| n + 1)..];
        let end = rest
            .find(":\n")
            .map_or(rest.len(), |e| rest[..e].rfind('\n').unwrap_or(0));
        rest[..end].to_string()
    };
    let unobservable = section("unobservable on any interface");
    let scope = section("out of scope today");
    let not_yet = section("not yet exercised");
    let transport = section("checked by the transport (--dtls), not a step");
    for id in ["BS-SEC-01", "BS-SEC-02", "BS-SEC-05"] {
        assert!(transport.contains(id), "{transport}");
        assert!(!scope.contains(id), "{scope}");
    }
    assert!(scope.contains("BS-SEC-06"), "{scope}");
    assert!(!unobservable.contains("BS-SEC-01"), "{unobservable}");
    assert!(!not_yet.contains("BS-"), "{not_yet}");
    // Core 1.2 §6.1.4: the window in which a push must be ignored is inside the client.
    assert!(unobservable.contains("BS-FACT-04"), "{unobservable}");
    // Exercised since issue #10: in no group.
    for id in ["BS-OBJ-05", "BS-OBJ-06"] {
        assert!(!out.contains(id), "{id}: {out}");
    }
}
