//! The subprocess adapter against the reference client as a program (it must agree with the
//! in-process adapter on every vector) and against a scripted Python stub that hangs, crashes
//! and speaks nonsense (every failure bounded, named, and no process left behind).

use bootstrap_model::bugs::{Bug, BugSet};
use conformance::load::Loader;
use conformance::vector::{Step, Vector};
use harness::adapter::{Adapter, AdapterError, AdapterFactory, Observed};
use harness::inprocess::InProcessFactory;
use harness::protocol::{protocol_schema, AnswerMessage, StartMessage, StepMessage};
use harness::protocol_client::serve;
use harness::subprocess::{Subprocess, SubprocessFactory};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const GENEROUS: Duration = Duration::from_secs(20);

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn vectors() -> &'static [Vector] {
    static V: OnceLock<Vec<Vector>> = OnceLock::new();
    V.get_or_init(|| {
        Loader::new()
            .load_dir(&manifest_dir().join("../vectors"))
            .expect("the committed vectors load")
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    })
}

fn reference_client() -> String {
    format!("'{}'", env!("CARGO_BIN_EXE_lwm2m-reference-client"))
}

/// Start, then every step; the first error and the step it happened at (0: start).
fn replay(adapter: &mut dyn Adapter, v: &Vector) -> Result<Vec<Observed>, (usize, AdapterError)> {
    let mut out = vec![adapter.start(v, GENEROUS).map_err(|e| (0, e))?];
    for (i, step) in v.steps.iter().enumerate() {
        out.push(adapter.step(step, GENEROUS).map_err(|e| (i + 1, e))?);
    }
    adapter.stop();
    Ok(out)
}

fn in_process(bugs: BugSet, v: &Vector) -> Vec<Observed> {
    let mut a = InProcessFactory {
        bugs,
        vary: Default::default(),
    }
    .create()
    .unwrap();
    replay(a.as_mut(), v).expect("the in-process adapter never fails")
}

fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

fn assert_gone(pid: u32) {
    // The adapter reaps before returning; a short grace covers /proc's bookkeeping.
    let deadline = Instant::now() + Duration::from_millis(500);
    while !gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        gone(pid),
        "process {pid} is still there (running or a zombie)"
    );
}

/// Every vector, every profile: the reference client as a program behaves exactly as the
/// reference client in process.
#[test]
fn reference_client_as_a_subprocess_matches_in_process_on_every_vector() {
    let factory = SubprocessFactory::new(&reference_client()).unwrap();
    let all = vectors();
    let mut per_profile = std::collections::BTreeMap::<&str, usize>::new();
    for v in all {
        let mut a = factory.create().unwrap();
        let sub = replay(a.as_mut(), v).unwrap_or_else(|(n, e)| panic!("{} step {n}: {e}", v.id));
        assert_eq!(sub, in_process(BugSet::NONE, v), "{} ({})", v.id, v.name);
        *per_profile.entry(v.profile.as_str()).or_default() += 1;
    }
    assert!(all.len() >= 40, "{} vectors", all.len());
    assert_eq!(per_profile.len(), 4, "{per_profile:?}");
}

/// `--bug NAME` switches the bug in: the program agrees with the in-process mutant.
#[test]
fn reference_client_with_a_bug_matches_the_in_process_mutant() {
    let bug = Bug::FinishAcceptsInconsistent;
    let factory =
        SubprocessFactory::new(&format!("{} --bug {}", reference_client(), bug.name())).unwrap();
    let mut differs = 0;
    for v in vectors().iter().step_by(4) {
        let mut a = factory.create().unwrap();
        let sub = replay(a.as_mut(), v).unwrap_or_else(|(n, e)| panic!("{} step {n}: {e}", v.id));
        let mutant = in_process(BugSet::only(bug), v);
        assert_eq!(sub, mutant, "{}", v.id);
        differs += usize::from(mutant != in_process(BugSet::NONE, v));
    }
    assert!(differs > 0, "the bug changed nothing: was it switched in?");
}

#[test]
fn reference_client_rejects_bad_flags_and_other_protocol_versions() {
    let bin = env!("CARGO_BIN_EXE_lwm2m-reference-client");
    for args in [&["--frobnicate"][..], &["--bug", "no-such-bug"], &["--bug"]] {
        let out = Command::new(bin).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"protocol\":1,\"op\":\"start\"}\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "answered a version it does not speak"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("protocol version 1"));
}

// --- The Python stub -------------------------------------------------------------------

fn stub(name: &str, script: &Value) -> SubprocessFactory {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("subprocess-stub");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(script).unwrap()).unwrap();
    let adapter = manifest_dir().join("tests/adapters/stub_adapter.py");
    SubprocessFactory::new(&format!(
        "python3 '{}' '{}'",
        adapter.display(),
        file.display()
    ))
    .unwrap()
}

/// A vector with at least `steps` steps.
fn vector_with_steps(steps: usize) -> &'static Vector {
    vectors().iter().find(|v| v.steps.len() >= steps).unwrap()
}

/// The stub answering with the in-process reference's answers is indistinguishable from it,
/// payloads included.
#[test]
fn python_stub_replaying_the_reference_answers_matches_it() {
    let mut picked: Vec<&Vector> = Vec::new();
    for profile in ["seed", "1.0", "1.1", "1.2"] {
        // The longest vector of the profile with a payload in some answer.
        let v = vectors()
            .iter()
            .filter(|v| v.profile == profile)
            .filter(|v| {
                in_process(BugSet::NONE, v)
                    .iter()
                    .any(|o| o.response.as_ref().is_some_and(|r| r.payload.is_some()))
            })
            .max_by_key(|v| v.steps.len())
            .unwrap_or_else(|| panic!("{profile}: no vector with a payload"));
        picked.push(v);
    }
    for v in picked {
        let expected = in_process(BugSet::NONE, v);
        let mut script = serde_json::Map::new();
        for (i, o) in expected.iter().enumerate() {
            let key = if i == 0 {
                "start".to_string()
            } else {
                i.to_string()
            };
            script.insert(
                key,
                serde_json::to_value(AnswerMessage::from_observed(o)).unwrap(),
            );
        }
        let factory = stub(&format!("replay-{}", v.id), &Value::Object(script));
        let mut a = factory.spawn().unwrap();
        let pid = a.pid().unwrap();
        let got = replay(&mut a, v).unwrap_or_else(|(n, e)| panic!("{} step {n}: {e}", v.id));
        for (n, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{} step {n}", v.id);
        }
        assert_eq!(got.len(), v.steps.len() + 1);
        assert_gone(pid);
    }
}

#[test]
fn a_hang_at_step_2_is_a_timeout_naming_step_2() {
    let test_started = Instant::now();
    let timeout = Duration::from_millis(500);
    let v = vector_with_steps(3);
    let mut a = stub("hang", &serde_json::json!({ "2": "hang" }))
        .spawn()
        .unwrap();
    let pid = a.pid().unwrap();
    a.start(v, GENEROUS).unwrap();
    a.step(&v.steps[0], timeout).unwrap();
    let asked = Instant::now();
    let e = a.step(&v.steps[1], timeout).unwrap_err();
    let waited = asked.elapsed();
    assert_eq!(
        e,
        AdapterError::Timeout {
            waiting_for: "answer to step 2".into(),
            after: timeout
        }
    );
    assert_eq!(e.to_string(), "timeout: no answer to step 2 within 0.5 s");
    assert!(
        waited >= timeout && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_gone(pid);
    // The exchange cannot go on: later steps fail at once with the same error.
    assert_eq!(a.step(&v.steps[2], timeout).unwrap_err(), e);
    a.stop();
    drop(a);
    assert!(
        test_started.elapsed() < Duration::from_secs(10),
        "{:?}",
        test_started.elapsed()
    );
}

#[test]
fn a_crash_reports_the_exit_status_and_stderr() {
    let v = vector_with_steps(2);
    let mut a = stub("crash", &serde_json::json!({ "1": "crash" }))
        .spawn()
        .unwrap();
    let pid = a.pid().unwrap();
    a.start(v, GENEROUS).unwrap();
    match a.step(&v.steps[0], GENEROUS).unwrap_err() {
        AdapterError::Crashed {
            status,
            stderr_tail,
        } => {
            assert_eq!(status, "exit status: 3");
            assert_eq!(stderr_tail, "stub: crashing at 1 as scripted");
        }
        other => panic!("{other:?}"),
    }
    assert_gone(pid);
    assert!(a.pid().is_none(), "reaped");
}

#[test]
fn a_crash_at_start_is_reported_too() {
    let v = vector_with_steps(1);
    let mut a = stub("crash-start", &serde_json::json!({ "start": "crash" }))
        .spawn()
        .unwrap();
    let pid = a.pid().unwrap();
    let e = a.start(v, GENEROUS).unwrap_err();
    assert!(
        matches!(&e, AdapterError::Crashed { status, .. } if status == "exit status: 3"),
        "{e:?}"
    );
    assert_gone(pid);
}

#[test]
fn garbage_is_a_protocol_error_quoting_the_line() {
    let v = vector_with_steps(2);
    let mut a = stub("garbage", &serde_json::json!({ "1": "garbage" }))
        .spawn()
        .unwrap();
    let pid = a.pid().unwrap();
    a.start(v, GENEROUS).unwrap();
    match a.step(&v.steps[0], GENEROUS).unwrap_err() {
        AdapterError::Protocol { line, why } => {
            assert_eq!(line, "this is not JSON at 1");
            assert!(why.contains("not a JSON line"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_gone(pid);
}

#[test]
fn a_wrong_protocol_version_is_a_protocol_error() {
    let v = vector_with_steps(1);
    let mut a = stub(
        "wrong-version",
        &serde_json::json!({ "start": "wrong-version" }),
    )
    .spawn()
    .unwrap();
    let pid = a.pid().unwrap();
    match a.start(v, GENEROUS).unwrap_err() {
        AdapterError::Protocol { line, why } => {
            assert_eq!(line, r#"{"protocol": 99, "response": null, "sends": []}"#);
            assert!(why.contains("protocol version 99"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_gone(pid);
}

#[test]
fn a_response_code_that_is_no_coap_code_is_a_protocol_error() {
    let v = vector_with_steps(1);
    let answer = serde_json::json!({
        "protocol": 2, "response": { "code": "2.3", "payload": null }, "sends": []
    });
    let mut a = stub("bad-code", &serde_json::json!({ "1": answer }))
        .spawn()
        .unwrap();
    a.start(v, GENEROUS).unwrap();
    match a.step(&v.steps[0], GENEROUS).unwrap_err() {
        AdapterError::Protocol { line, why } => {
            assert!(line.contains("2.3"), "{line}");
            assert!(why.contains("\"2.3\" is not a CoAP response code"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_second_line_for_one_message_is_a_protocol_error() {
    let v = vector_with_steps(1);
    let twice = r#"sh -c 'read l; a="{\"protocol\":2,\"response\":null,\"sends\":[]}"; echo "$a"; echo "$a"; read l; exec sleep 30'"#;
    let mut a = SubprocessFactory::new(twice).unwrap().spawn().unwrap();
    let pid = a.pid().unwrap();
    a.start(v, GENEROUS).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    match a.step(&v.steps[0], GENEROUS).unwrap_err() {
        AdapterError::Protocol { line, why } => {
            assert_eq!(line, r#"{"protocol":2,"response":null,"sends":[]}"#);
            assert_eq!(why, "a line not asked for (after the answer to start)");
        }
        other => panic!("{other:?}"),
    }
    assert_gone(pid);
}

#[test]
fn a_client_that_closes_stdout_but_runs_on_is_killed() {
    let v = vector_with_steps(1);
    let t = Instant::now();
    let mut a = SubprocessFactory::new("sh -c 'exec >&-; echo bye >&2; exec sleep 30'")
        .unwrap()
        .spawn()
        .unwrap();
    let pid = a.pid().unwrap();
    match a.start(v, GENEROUS).unwrap_err() {
        AdapterError::Crashed {
            status,
            stderr_tail,
        } => {
            assert_eq!(status, "closed its stdout but kept running; killed");
            assert_eq!(stderr_tail, "bye");
        }
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_gone(pid);
}

#[test]
fn a_missing_program_is_one_line_naming_it() {
    let e = SubprocessFactory::new("no-such-binary-xyz --flag").unwrap_err();
    assert!(e.contains("no-such-binary-xyz"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let e = SubprocessFactory::new("").unwrap_err();
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn stop_lets_the_client_exit_and_kills_one_that_ignores_it() {
    // A well-behaved client exits on stop, well within the grace second.
    let v = vector_with_steps(1);
    let mut a = stub("stop", &serde_json::json!({})).spawn().unwrap();
    let pid = a.pid().unwrap();
    a.start(v, GENEROUS).unwrap();
    let t = Instant::now();
    a.stop();
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_gone(pid);
    // A client that ignores stop is killed after one second.
    let mut a = SubprocessFactory::new("sleep 30").unwrap().spawn().unwrap();
    let pid = a.pid().unwrap();
    let t = Instant::now();
    a.stop();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_gone(pid);
    // Drop alone kills and reaps, at once.
    let a = SubprocessFactory::new("sleep 30").unwrap().spawn().unwrap();
    let pid = a.pid().unwrap();
    let t = Instant::now();
    drop(a);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_gone(pid);
}

#[test]
fn describe_names_the_command() {
    let f = SubprocessFactory::new("python3 -c 'print(1)'").unwrap();
    assert_eq!(f.describe(), "python3 -c 'print(1)'");
}

// --- The schema ------------------------------------------------------------------------

/// A validator for one direction: the committed schema with its root pointed at `def`.
fn validator(schema: &Value, def: &str) -> jsonschema::Validator {
    let mut s = schema.clone();
    let root = s.as_object_mut().unwrap();
    root.remove("anyOf");
    root.insert("$ref".into(), Value::String(format!("#/$defs/{def}")));
    jsonschema::validator_for(&s).unwrap()
}

fn errors(v: &jsonschema::Validator, line: &str) -> Vec<String> {
    let instance: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    v.iter_errors(&instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The committed schema is the generated one (`UPDATE_SCHEMA=1` rewrites it), and recorded
/// lines validate: the example exchange in PROTOCOL.md and a live one.
#[test]
fn committed_schema_is_current_and_recorded_lines_validate() {
    let file = manifest_dir().join("schema/protocol.schema.json");
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&file, protocol_schema()).unwrap();
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        protocol_schema(),
        "harness/schema/protocol.schema.json is stale: rerun with UPDATE_SCHEMA=1"
    );
    let schema: Value = serde_json::from_str(&text).unwrap();
    let any = jsonschema::validator_for(&schema).unwrap();
    let to_client = validator(&schema, "HarnessMessage");
    let to_harness = validator(&schema, "AnswerMessage");

    // The example exchange of PROTOCOL.md, recorded from the reference client.
    let doc = std::fs::read_to_string(manifest_dir().join("PROTOCOL.md")).unwrap();
    let (mut sent, mut answered) = (0, 0);
    for line in doc.lines() {
        if let Some(l) = line.strip_prefix("→ ") {
            assert_eq!(errors(&to_client, l), Vec::<String>::new(), "{l}");
            sent += 1;
        } else if let Some(l) = line.strip_prefix("← ") {
            assert_eq!(errors(&to_harness, l), Vec::<String>::new(), "{l}");
            answered += 1;
        }
    }
    assert!(
        sent >= 3 && answered >= 2,
        "PROTOCOL.md: {sent} sent, {answered} answered"
    );

    // A live exchange per profile: the harness's lines and the reference client's answers.
    for profile in ["seed", "1.0", "1.1", "1.2"] {
        let v = vectors()
            .iter()
            .filter(|v| v.profile == profile)
            .max_by_key(|v| v.steps.len())
            .unwrap();
        let mut input = serde_json::to_string(&StartMessage::for_vector(v)).unwrap() + "\n";
        for (i, step) in v.steps.iter().enumerate() {
            input += &(serde_json::to_string(&StepMessage::for_step(i as u32 + 1, step)).unwrap()
                + "\n");
        }
        input += "{\"protocol\":2,\"op\":\"stop\"}\n";
        let mut output = Vec::new();
        serve(BugSet::NONE, input.as_bytes(), &mut output).unwrap();
        let output = String::from_utf8(output).unwrap();
        assert_eq!(output.lines().count(), v.steps.len() + 1);
        for l in input.lines() {
            assert_eq!(errors(&to_client, l), Vec::<String>::new(), "{l}");
            assert!(!errors(&to_harness, l).is_empty(), "{l}");
        }
        for l in output.lines() {
            assert_eq!(errors(&to_harness, l), Vec::<String>::new(), "{l}");
            assert_eq!(errors(&any, l), Vec::<String>::new(), "{l}");
        }
    }
    // What the schema refuses.
    for bad in [
        r#"{"protocol":99,"response":null,"sends":[]}"#,
        r#"{"protocol":1,"response":null,"sends":[]}"#,
        r#"{"protocol":2,"response":{"code":"2.3","payload":null},"sends":[]}"#,
        r#"{"protocol":2,"response":{"code":"2.05","content":null},"sends":[]}"#,
        r#"{"protocol":2,"response":null}"#,
        r#"{"protocol":2,"response":null,"sends":[],"extra":true}"#,
    ] {
        assert!(!errors(&to_harness, bad).is_empty(), "{bad}");
    }
}

/// Steps are numbered from 1 and the request travels with the stimulus.
#[test]
fn step_lines_carry_number_stimulus_input_and_request() {
    let v = vectors()
        .iter()
        .find(|v| v.steps.iter().any(|s| s.request.is_some()))
        .unwrap();
    let (i, step): (usize, &Step) = v
        .steps
        .iter()
        .enumerate()
        .find(|(_, s)| s.request.is_some())
        .unwrap();
    let line: Value = serde_json::to_value(StepMessage::for_step(i as u32 + 1, step)).unwrap();
    let keys: Vec<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["protocol", "op", "n", "stimulus", "input", "request"]
    );
    assert_eq!(line["protocol"], 2);
    assert_eq!(line["op"], "step");
    assert_eq!(line["n"], i + 1);
    assert_eq!(
        line["stimulus"],
        serde_json::to_value(&step.stimulus).unwrap()
    );
    assert_eq!(
        line["input"],
        serde_json::to_value(step.stimulus.input()).unwrap()
    );
    assert_eq!(
        line["request"],
        serde_json::to_value(&step.request).unwrap()
    );
    let start = serde_json::to_value(StartMessage::for_vector(v)).unwrap();
    let keys: Vec<&str> = start
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "protocol",
            "op",
            "vector",
            "profile",
            "endpoint",
            "factory_objects",
            "features",
            "uris"
        ]
    );
}

/// The pid accessor is what the other tests rely on: it names a live child.
#[test]
fn pid_names_the_live_child() {
    let a: Subprocess = SubprocessFactory::new("sleep 30").unwrap().spawn().unwrap();
    let pid = a.pid().unwrap();
    assert!(!gone(pid));
    drop(a);
    assert_gone(pid);
}
