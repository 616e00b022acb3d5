//! `lwm2m-certify` end to end: the reference client passes; an injected bug fails with the
//! step, expected vs actual and a message sequence chart; libtest's flags select vectors;
//! skip, XFAIL and XPASS; the reports validate; the exit code policy; bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn certify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lwm2m-certify"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("runs")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn a_vector(profile: &str) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vectors")
        .join(profile);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap()
}

#[test]
fn the_reference_client_is_certified_on_every_profile() {
    let o = certify(&[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    let s = out(&o);
    assert!(s.contains("CERTIFIED (exit code 0)"), "{s}");
    assert!(s.contains("profiles: seed, 1.0, 1.1, 1.2"), "{s}");
    assert!(s.contains("test result: ok."), "{s}");
}

#[test]
fn a_mutant_fails_with_step_expected_actual_and_chart() {
    let o = certify(&["--client", "mutant:delete-root-removes-bootstrap-account"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let s = out(&o);
    assert!(s.contains("NOT CERTIFIED (exit code 1)"), "{s}");
    assert!(s.contains("FAIL [MUST]"), "{s}");
    assert!(s.contains("at step"), "{s}");
    assert!(s.contains("does not list /0/0"), "{s}");
    assert!(
        s.contains("──▶ Client") && s.contains(" ✗"),
        "no chart: {s}"
    );
}

#[test]
fn libtest_flags_select_by_id_profile_and_requirement() {
    let v = a_vector("1.1");
    let id = v["id"].as_str().unwrap();
    let o = certify(&["--list", id]);
    let lines: Vec<String> = out(&o)
        .lines()
        .filter(|l| l.contains(": test"))
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    // The tag is not in the name any more: `--tag bootstrap.pack` selects by it
    // (`trials_are_named_short_and_selected_by_options`).
    for filter in ["1.2/", "BS-OBJ-03"] {
        let o = certify(&["--list", filter]);
        let n = out(&o).lines().filter(|l| l.contains(": test")).count();
        assert!(n > 0, "{filter} selects nothing");
        assert!(
            out(&o)
                .lines()
                .filter(|l| l.contains(": test"))
                .all(|l| l.contains(filter)),
            "{filter}"
        );
    }
    let o = certify(&[id, "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("1 passed"), "{}", out(&o));
    let o = certify(&["--exact", "no-such-test"]);
    assert!(out(&o).contains("0 passed"), "{}", out(&o));
}

#[test]
fn skip_xfail_and_xpass_from_the_client_profile() {
    let d = tmp("profiles");
    // 1.2 without Bootstrap-Pack: the vectors that need it are skipped.
    std::fs::write(
        d.join("nopack.toml"),
        "name = \"x\"\nversion = \"1\"\nprofile = \"1.2\"\n[features]\nbootstrap_pack = false\n",
    )
    .unwrap();
    let o = certify(&["--client-profile", d.join("nopack.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("ignored"), "{}", out(&o));
    // A mutant's failures written as a draft profile (--write-profile), pinned to step and
    // detail: listed as expected, XFAIL, certified.
    let bug = "no-hold-off";
    let draft = d.join("draft.toml");
    let o = certify(&[
        "--client",
        &format!("mutant:{bug}"),
        "--client-profile",
        d.join("nopack.toml").to_str().unwrap(),
        "--write-profile",
        draft.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let text = std::fs::read_to_string(&draft).unwrap();
    assert!(
        text.contains("step = ") && text.contains("detail = "),
        "{text}"
    );
    assert!(text.contains("bootstrap_pack = false"), "{text}");
    let entries = text.matches("[[expected_failures]]").count();
    assert!(entries > 0, "{text}");
    let run = |profile: &Path, client: &str| {
        certify(&[
            "--client",
            client,
            "--client-profile",
            profile.to_str().unwrap(),
            "--quiet",
        ])
    };
    let o = run(&draft, &format!("mutant:{bug}"));
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(out(&o).matches("\nXFAIL [").count(), entries, "{}", out(&o));
    // The same client failing otherwise than declared (another detail, another step):
    // FAIL, naming both, not XFAIL.
    let other = d.join("other.toml");
    std::fs::write(
        &other,
        text.replacen("detail = \"", "detail = \"no such failure ", 1),
    )
    .unwrap();
    let o = run(&other, &format!("mutant:{bug}"));
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        out(&o).contains("fails differently than its client profile declares: at step"),
        "{}",
        out(&o)
    );
    assert_eq!(out(&o).matches("\nXFAIL [").count(), entries - 1);
    let moved = d.join("moved.toml");
    std::fs::write(&moved, text.replacen("step = ", "step = 9", 1)).unwrap();
    let o = run(&moved, &format!("mutant:{bug}"));
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("fails differently"), "{}", out(&o));
    // The same list against the correct client: every entry passes, XPASS, not certified.
    let o = run(&draft, "ref");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("XPASS [MUST]"), "{}", out(&o));
    // A profile entry without its step and detail is refused, the fields named.
    std::fs::write(
        d.join("unpinned.toml"),
        "name = \"x\"\nversion = \"1\"\nprofile = \"1.2\"\n[[expected_failures]]\nvector = \"x\"\nreason = \"r\"\n",
    )
    .unwrap();
    let o = run(&d.join("unpinned.toml"), "ref");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("step"), "{}", err(&o));
    // --write-profile needs a profile to start from.
    let o = certify(&["--write-profile", draft.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--client-profile"), "{}", err(&o));
}

#[test]
fn reports_are_written_and_valid() {
    let d = tmp("reports");
    let o = certify(&[
        "--client",
        "mutant:no-hold-off",
        "--report-dir",
        d.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1));
    // JSON against the committed schema, which is the generated one.
    let schema_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&schema_file, harness::report::report_schema()).unwrap();
    }
    let schema_text = std::fs::read_to_string(&schema_file).unwrap();
    assert_eq!(
        schema_text,
        harness::report::report_schema(),
        "harness/schema/report.schema.json is stale"
    );
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(report["outcome"], "NOT CERTIFIED");
    // JUnit XML parses, and its counts agree with the JSON report.
    let xml = std::fs::read_to_string(d.join("report.xml")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (0, 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    "testcase" => cases += 1,
                    "failure" => failures += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let results = report["results"].as_array().unwrap();
    assert_eq!(cases, results.len());
    let json_failures = results
        .iter()
        .filter(|r| r["verdict"]["verdict"] == "FAIL")
        .count();
    assert_eq!(failures, json_failures);
    assert!(failures > 0);
    let md = std::fs::read_to_string(d.join("report.md")).unwrap();
    assert!(md.contains("```mermaid\nsequenceDiagram"), "{md}");
}

#[test]
fn bad_input_is_one_line_naming_it() {
    let d = tmp("bad");
    let check = |args: &[&str], needle: &str| {
        let o = certify(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}{}", out(&o), err(&o));
        assert_eq!(
            err(&o).trim_end().lines().count(),
            1,
            "{args:?}: {}",
            err(&o)
        );
        assert!(err(&o).contains(needle), "{args:?}: {}", err(&o));
    };
    std::fs::write(
        d.join("key.toml"),
        "name = \"x\"\nversion = \"1\"\nprofile = \"1.1\"\ncolour = \"red\"\n",
    )
    .unwrap();
    check(
        &["--client-profile", d.join("key.toml").to_str().unwrap()],
        "colour",
    );
    std::fs::write(d.join("vec.toml"), "name = \"x\"\nversion = \"1\"\nprofile = \"1.1\"\n[[expected_failures]]\nvector = \"bsv-000000000000\"\nstep = 1\ndetail = \"d\"\nreason = \"r\"\n").unwrap();
    check(
        &["--client-profile", d.join("vec.toml").to_str().unwrap()],
        "bsv-000000000000",
    );
    std::fs::write(
        d.join("prof.toml"),
        "name = \"x\"\nversion = \"1\"\nprofile = \"2.0\"\n",
    )
    .unwrap();
    check(
        &["--client-profile", d.join("prof.toml").to_str().unwrap()],
        "2.0",
    );
    check(
        &[
            "--client",
            "/no/such/client-binary",
            "--client-profile",
            d.join("prof.toml").to_str().unwrap(),
        ],
        "/no/such/client-binary",
    );
    check(&["--client", "mutant:nonsense"], "nonsense");
    check(&["--step-timeout", "0"], "--step-timeout");
    check(&["--vectors", "/no/such/dir"], "/no/such/dir");
}

#[test]
fn mutants_prints_the_kill_table_with_the_rate_last() {
    let o = certify(&["--mutants"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let s = out(&o);
    let last = s.lines().last().unwrap();
    assert!(
        s.contains("kill rate: 36/36 (100.0 %), 3 unobservable"),
        "{s}"
    );
    // The independent misbehaviours, in process (the Message ID one needs the wire).
    assert!(
        last.starts_with("misbehaviours killed: 7/7 (100.0 %)"),
        "{last}"
    );
    assert!(
        s.contains("reuses-message-id                          wire only"),
        "{s}"
    );
    assert!(
        s.contains("discover-lists-bootstrap-uri               UNOBSERVABLE: not a bug"),
        "{s}"
    );
}

#[test]
fn a_hanging_crashing_or_garbling_client_gets_a_named_error_and_no_process_is_left() {
    let d = tmp("stub");
    let stub = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adapters/stub_adapter.py");
    std::fs::write(
        d.join("p.toml"),
        "name = \"stub\"\nversion = \"0\"\nprofile = \"1.1\"\n",
    )
    .unwrap();
    let id = a_vector("1.1")["id"].as_str().unwrap().to_string();
    for (behaviour, needle) in [
        ("hang", "timeout: no answer to start within 5.5 s"),
        ("crash", "stub: crashing at start as scripted"),
        ("garbage", "this is not JSON at start"),
    ] {
        let script = d.join(format!("{behaviour}.json"));
        std::fs::write(&script, format!("{{\"start\": \"{behaviour}\"}}")).unwrap();
        let client = format!("python3 {} {}", stub.display(), script.display());
        let started = std::time::Instant::now();
        let o = certify(&[
            "--client",
            &client,
            "--client-profile",
            d.join("p.toml").to_str().unwrap(),
            "--step-timeout",
            "0.5",
            &id,
        ]);
        assert!(
            started.elapsed().as_secs() < 20,
            "{behaviour}: took {:?}",
            started.elapsed()
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "{behaviour}: {}{}",
            out(&o),
            err(&o)
        );
        assert!(out(&o).contains("ERROR [MUST]"), "{behaviour}: {}", out(&o));
        assert!(out(&o).contains(needle), "{behaviour}: {}", out(&o));
        let left = Command::new("pgrep")
            .args(["-f", script.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            left.stdout.is_empty(),
            "{behaviour}: a client process was left behind"
        );
    }
}

/// The reference client differing as real clients do, where the specification allows it
/// (each conforming variation alone, and all together), is certified in process, with no
/// failure of any tier; the variations that drop an optional feature get the vectors that
/// need it skipped, naming it.
#[test]
fn every_conforming_variation_is_certified_in_process() {
    for name in conformance::observation::Variations::NAMES
        .iter()
        .copied()
        .chain(["all"])
    {
        let d = tmp(&format!("variation-{name}"));
        let o = certify(&[
            "--variations",
            name,
            "--report-dir",
            d.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", out(&o));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap();
        for r in report["results"].as_array().unwrap() {
            let v = r["verdict"]["verdict"].as_str().unwrap();
            assert!(
                v == "PASS" || v == "SKIP",
                "{name}: {}: {}",
                r["name"],
                r["verdict"]
            );
            if name == "no-access-control" && v == "SKIP" {
                let why = r["verdict"]["reason"].as_str().unwrap();
                assert!(
                    why.contains("Access Control")
                        || why.contains("not observed")
                        || why == harness::run::NEEDS_DTLS,
                    "{why}"
                );
            }
        }
    }
}

/// The independent misbehaviours, in process: each fails the suite, and the one that only
/// the wire shows says so.
#[test]
fn independent_misbehaviours_fail_in_process() {
    for m in harness::misbehave::Misbehaviour::ALL {
        if m.wire_only() {
            continue;
        }
        let client = format!("misbehave:{}", m.name());
        let o = certify(&["--client", &client, "-q"]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{} survived: {}",
            m.name(),
            out(&o)
        );
        assert!(out(&o).contains("NOT CERTIFIED"), "{}", m.name());
        // Failed for the rule it breaks, not for something else.
        assert!(out(&o).contains(m.signature()), "{}: {}", m.name(), out(&o));
    }
    let o = certify(&["--client", "misbehave:no-such-thing"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("unknown misbehaviour"), "{}", err(&o));
}

/// Trial names carry the vector's own requirement, so a line fits 120 columns; the options
/// select by any cited requirement, tag, tier or factory; a value no vector has is refused.
#[test]
fn trials_are_named_short_and_selected_by_options() {
    let list = |args: &[&str]| {
        let mut all = vec!["--list"];
        all.extend_from_slice(args);
        let o = certify(&all);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", err(&o));
        out(&o)
            .lines()
            .filter(|l| l.ends_with(": test"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let all = list(&[]);
    assert!(all.len() > 300, "{}", all.len());
    for l in &all {
        assert!(
            l.chars().count() <= 120,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    let vectors = harness_vectors();
    let citing = vectors
        .iter()
        .filter(|v| v.requirements.iter().any(|r| r == "BS-DEL-03"))
        .count();
    let named = vectors
        .iter()
        .filter(|v| v.requirements.first().is_some_and(|r| r == "BS-DEL-03"))
        .count();
    assert!(
        citing > named,
        "{citing} vectors cite BS-DEL-03, {named} are named after it"
    );
    assert_eq!(list(&["--requirement", "BS-DEL-03"]).len(), citing);
    let slow = vectors
        .iter()
        .filter(|v| v.tags.iter().any(|t| t == "slow"))
        .count();
    assert_eq!(list(&["--tag", "slow"]).len(), slow);
    let may = list(&["--tier", "MAY"]);
    assert!(
        !may.is_empty() && may.iter().all(|l| l.contains("[MAY]")),
        "{may:?}"
    );
    let so = vectors
        .iter()
        .filter(|v| v.factory.name() == "server-only" && v.tags.iter().any(|t| t == "slow"))
        .count();
    assert_eq!(
        list(&["--factory", "server-only", "--tag", "slow"]).len(),
        so
    );
    for (args, needle) in [
        (&["--requirement", "BS-NOPE-01"][..], "BS-NOPE-01"),
        (&["--tag", "no.such.tag"][..], "no.such.tag"),
        (&["--tier", "OFTEN"][..], "OFTEN"),
        (&["--factory", "bench"][..], "bench"),
    ] {
        let o = certify(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(err(&o).contains(needle), "{args:?}: {}", err(&o));
    }
    // Progress is for terminals: none when stderr is captured.
    let o = certify(&["--tag", "bootstrap.delete"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!err(&o).contains("vectors,"), "{}", err(&o));
}

fn harness_vectors() -> Vec<conformance::vector::Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors");
    conformance::load::Loader::new()
        .load_dir(&dir)
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

/// On the wire the vectors that wait longest for their own timers start first, so that a
/// run ends close to its longest vector (issue #11): `--list` shows the order trials start
/// in. In process, where no vector waits, they keep their profile and file order.
#[test]
fn on_the_wire_the_longest_vectors_start_first() {
    let vectors = harness_vectors();
    let coap = harness::timing::CoapTiming::new(0.01).unwrap();
    let floor = |line: &str| {
        let v = vectors
            .iter()
            .find(|v| line.contains(&format!("[{}]", v.id)))
            .unwrap_or_else(|| panic!("no vector for {line}"));
        harness::timing::timer_floor(v, coap)
    };
    let listed = |client: &str| {
        let o = certify(&["--client", client, "--list"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        out(&o)
            .lines()
            .filter(|l| l.ends_with(": test"))
            .map(floor)
            .collect::<Vec<_>>()
    };
    let wire = listed("wire-ref");
    assert!(wire.len() > 300, "{}", wire.len());
    assert!(
        wire.windows(2).all(|w| w[0] >= w[1]),
        "not longest first: {wire:?}"
    );
    assert!(wire[0] > wire[wire.len() - 1]);
    let inprocess = listed("ref");
    assert!(
        !inprocess.windows(2).all(|w| w[0] >= w[1]),
        "in process the file order is kept"
    );
}

/// `--partition K/N` runs a stable share of the selected vectors; `--merge` puts the
/// shares' JSON reports back together: for `hash` and `count`, three shares merged give
/// the same vectors, verdicts, tier counts, outcome and exit code as one run, for a
/// certified client and for one with an injected bug. Overlapping shares and bad
/// partitions are refused by name.
#[test]
fn partitions_merged_equal_one_run() {
    let run = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["--report-dir", dir.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        certify(&args)
    };
    let summary = |dir: &Path| {
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
                .unwrap();
        let results: Vec<(String, String, String)> = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["profile"].as_str().unwrap().to_string(),
                    v["name"].as_str().unwrap().to_string(),
                    v["verdict"]["verdict"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (
            results,
            r["tiers"].clone(),
            r["outcome"].clone(),
            r["exit_code"].clone(),
        )
    };
    for client in [
        &["--client", "ref"][..],
        &["--client", "mutant:no-hold-off"][..],
    ] {
        let whole = tmp("partition-whole");
        let one = run(&whole, client);
        let expected = summary(&whole);
        for kind in ["hash", "count"] {
            let mut merge_args: Vec<String> = Vec::new();
            let mut sizes = Vec::new();
            for k in 1..=3 {
                let d = tmp(&format!("partition-{kind}-{k}"));
                let p = format!("{kind}:{k}/3");
                let mut args = client.to_vec();
                args.extend(["--partition", &p]);
                run(&d, &args);
                sizes.push(summary(&d).0.len());
                merge_args.extend([
                    "--merge".into(),
                    d.join("report.json").display().to_string(),
                ]);
            }
            assert!(sizes.iter().all(|s| *s > 50), "{kind}: {sizes:?}");
            let merged = tmp(&format!("partition-{kind}-merged"));
            let mut args: Vec<&str> = merge_args.iter().map(String::as_str).collect();
            args.extend(["--report-dir", merged.to_str().unwrap()]);
            let o = certify(&args);
            assert_eq!(
                o.status.code(),
                one.status.code(),
                "{kind} {client:?}: {}",
                err(&o)
            );
            assert_eq!(summary(&merged), expected, "{kind} {client:?}");
            assert!(merged.join("report.xml").exists() && merged.join("report.md").exists());
        }
    }
    // The same share twice is an overlap; a report that is not one is named.
    let d = tmp("partition-hash-1");
    run(&d, &["--partition", "hash:1/3"]);
    let file = d.join("report.json");
    let f = file.to_str().unwrap();
    let o = certify(&["--merge", f, "--merge", f]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("the shares overlap"), "{}", err(&o));
    let junk = tmp("partition-junk").join("report.json");
    std::fs::write(&junk, "{not json").unwrap();
    let o = certify(&["--merge", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("not a report.json"), "{}", err(&o));
    let o = certify(&["--partition", "hash:4/3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("hash:K/N or count:K/N"), "{}", err(&o));
}
