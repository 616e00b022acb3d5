//! The subprocess adapter: any program, in any language, that speaks the harness protocol
//! (`harness/PROTOCOL.md`) on its stdin and stdout (`--client 'CMD ARGS'`).
//!
//! The protocol is JSON lines, versioned ([`PROTOCOL_VERSION`]): the harness writes one
//! [`HarnessMessage`] per line (`start`, one `step` per stimulus, `stop`), the client answers
//! every `start` and `step` with exactly one [`AnswerMessage`] line. Its JSON Schema is
//! [`protocol_schema`] (committed as `harness/schema/protocol.schema.json`).
//!
//! Every wait is bounded: a reader thread turns the client's stdout into lines on a channel
//! that the adapter reads with a timeout, a writer thread feeds its stdin (so that a client
//! that stops reading cannot block the harness), and a third thread keeps the last 2 KiB of
//! its stderr for the report. Whatever the client does (hang, crash, print nonsense), the
//! adapter answers with an [`AdapterError`], kills the process and reaps it; nothing panics
//! and no process is left behind.
//!
//! [`serve`] is the other side: the model's reference client behind the protocol, which the
//! `lwm2m-reference-client` binary runs (and a vendor can read as an executable example).

use crate::adapter::{Adapter, AdapterError, AdapterFactory, Observed};
use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{Client, ClientSpec, Input};
use bootstrap_model::profile::Profile;
use bootstrap_model::store::ObjectStore;
use bootstrap_model::system::Action;
use conformance::observation::{render_message, render_response, ObservedResponse, Variations};
use conformance::vector::{Features, Step, Vector};
use conformance::wire::{CoapMessage, Encoded};
use conformance::wire::{CoapRequest, UriMap};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The protocol version this harness speaks. Every message carries it; a client answers with
/// the version it was sent or exits, and the harness refuses an answer in any other version.
pub const PROTOCOL_VERSION: u32 = 2;

/// How much of the client's stderr is kept for the report (the end of it).
pub const STDERR_TAIL_BYTES: usize = 2048;

/// How much of an offending line a protocol error quotes, in characters.
const QUOTE_CHARS: usize = 200;

/// The longest answer line read; a longer one is a protocol error (memory stays bounded).
const MAX_LINE_BYTES: usize = 16 << 20;

/// What the answer to `start` may take beyond the step timeout: it includes the start-up of
/// the client's process (an interpreter, a JVM), which is not the client's answer time and
/// on a loaded machine can take seconds. Documented in PROTOCOL.md.
pub const STARTUP_ALLOWANCE: Duration = Duration::from_secs(5);

/// How long a client may take to exit after `stop` before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// How long the adapter waits for the exit status of a client that closed its stdout.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// How long the adapter waits for the rest of a crashed client's stderr.
const STDERR_GRACE: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------------------
// The messages
// ---------------------------------------------------------------------------------------

/// The `op` of a [`StartMessage`]: always `"start"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StartOp {
    /// `"start"`.
    #[serde(rename = "start")]
    Start,
}

/// The `op` of a [`StepMessage`]: always `"step"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StepOp {
    /// `"step"`.
    #[serde(rename = "step")]
    Step,
}

/// The `op` of a [`StopMessage`]: always `"stop"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StopOp {
    /// `"stop"`.
    #[serde(rename = "stop")]
    Stop,
}

/// Harness → client, first line: power on with this factory configuration (a fresh process
/// for every vector: this is the factory reset). The client answers with what it sends
/// before any stimulus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StartMessage {
    /// The protocol version: always 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// `"start"`.
    pub op: StartOp,
    /// The vector's ID (`bsv-...`), for the client's logs.
    pub vector: String,
    /// The profile the vector applies to: `seed`, `1.0`, `1.1` or `1.2`.
    pub profile: String,
    /// The Endpoint Client Name the client must use.
    pub endpoint: String,
    /// The client's factory configuration, abstractly (as in the vector files).
    pub factory_objects: ObjectStore,
    /// Optional features the vector assumes (as in the vector files).
    pub features: Features,
    /// The URIs that stand for the abstract server names in `factory_objects` and in wire
    /// payloads.
    pub uris: UriMap,
}

/// Harness → client: one stimulus. The client answers with its response (if the stimulus is
/// a request to it) and the messages it sends next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepMessage {
    /// The protocol version: always 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// `"step"`.
    pub op: StepOp,
    /// The step number in the vector, from 1.
    #[schemars(range(min = 1))]
    pub n: u32,
    /// The stimulus in the vectors' step vocabulary (`{"step": "bootstrap-finish"}`).
    pub stimulus: Action,
    /// The same stimulus as the reference client's input: who sends what (or which timer
    /// fires), with the payload abstractly.
    pub input: Input,
    /// The stimulus as a CoAP request to the client, when it is one.
    pub request: Option<CoapRequest>,
}

/// Harness → client, last line: exit now. No answer; the harness kills a client that is
/// still running one second later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StopMessage {
    /// The protocol version: always 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// `"stop"`.
    pub op: StopOp,
}

/// A line the harness writes to the client. Clients ignore fields they do not know: the
/// harness may add fields within a protocol version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HarnessMessage {
    /// `op: "start"`.
    Start(StartMessage),
    /// `op: "step"`.
    Step(StepMessage),
    /// `op: "stop"`.
    Stop(StopMessage),
}

/// The client's response to the stimulus, when the stimulus was a request to it, as the
/// client sent it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerResponse {
    /// The CoAP response code, dotted (`"2.04"`), any `c.dd`.
    #[schemars(schema_with = "code_schema")]
    pub code: String,
    /// The payload as sent, with its Content-Format (`{"content_format":40,"hex":"...",
    /// "text":"</>;lwm2m=1.1,..."}`), or null.
    pub payload: Option<Encoded>,
}

/// Client → harness: the one line that answers a `start` or a `step`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerMessage {
    /// The version of the message answered: 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// The response to the stimulus; null when the stimulus was not a request to the client
    /// (an answer to the client's own request, a timer) and in the answer to `start`.
    pub response: Option<AnswerResponse>,
    /// The requests the client sends next on its own, as sent (method, the server's URI,
    /// path, query, Accept, payload), in any order; empty when none.
    pub sends: Vec<CoapMessage>,
}

/// Any line of the protocol, either direction: the root of [`protocol_schema`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(
    title = "LwM2M bootstrap harness protocol, version 2",
    description = "One JSON object per line. Harness to client: a HarnessMessage (start, step, stop). Client to harness: one AnswerMessage for every start and step. See harness/PROTOCOL.md."
)]
pub enum ProtocolMessage {
    /// Harness → client.
    Harness(Box<HarnessMessage>),
    /// Client → harness.
    Client(AnswerMessage),
}

fn protocol_version_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "integer", "const": PROTOCOL_VERSION })
}

fn code_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "pattern": "^[245]\\.[0-9][0-9]$" })
}

impl StartMessage {
    /// The `start` line for `v`.
    pub fn for_vector(v: &Vector) -> StartMessage {
        StartMessage {
            protocol: PROTOCOL_VERSION,
            op: StartOp::Start,
            vector: v.id.clone(),
            profile: v.profile.clone(),
            endpoint: v.endpoint.clone(),
            factory_objects: v.factory_objects.clone(),
            features: v.features.clone(),
            uris: v.uris.clone(),
        }
    }
}

impl StepMessage {
    /// The `step` line for step number `n` (from 1).
    pub fn for_step(n: u32, step: &Step) -> StepMessage {
        StepMessage {
            protocol: PROTOCOL_VERSION,
            op: StepOp::Step,
            n,
            stimulus: step.stimulus.clone(),
            input: step.stimulus.input(),
            request: step.request.clone(),
        }
    }
}

impl StopMessage {
    /// The `stop` line.
    pub fn new() -> StopMessage {
        StopMessage {
            protocol: PROTOCOL_VERSION,
            op: StopOp::Stop,
        }
    }
}

impl Default for StopMessage {
    fn default() -> Self {
        StopMessage::new()
    }
}

impl AnswerMessage {
    /// The answer line that reports `o` (what the reference client writes).
    pub fn from_observed(o: &Observed) -> AnswerMessage {
        AnswerMessage {
            protocol: PROTOCOL_VERSION,
            response: o.response.as_ref().map(|r| AnswerResponse {
                code: r.code.clone(),
                payload: r.payload.clone(),
            }),
            sends: o.sends.clone(),
        }
    }

    /// What the answer reports; `Err` names a code that is not a CoAP response code or a
    /// payload whose hex does not decode.
    pub fn into_observed(self) -> Result<Observed, String> {
        let response = match self.response {
            None => None,
            Some(r) => {
                if !is_response_code(&r.code) {
                    return Err(format!(
                        "{:?} is not a CoAP response code (c.dd, class 2, 4 or 5)",
                        r.code
                    ));
                }
                if let Some(p) = &r.payload {
                    p.bytes().map_err(|e| format!("response payload: {e}"))?;
                }
                Some(ObservedResponse {
                    code: r.code,
                    payload: r.payload,
                    accept: None,
                })
            }
        };
        for m in &self.sends {
            if let Some(p) = &m.payload {
                p.bytes()
                    .map_err(|e| format!("payload of {} {}: {e}", m.method, m.path))?;
            }
        }
        Ok(Observed {
            response,
            sends: self.sends,
            violation: None,
        })
    }
}

/// Whether `dotted` is a CoAP response code: class 2, 4 or 5, two detail digits.
pub fn is_response_code(dotted: &str) -> bool {
    let b = dotted.as_bytes();
    b.len() == 4
        && matches!(b[0], b'2' | b'4' | b'5')
        && b[1] == b'.'
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit()
}

/// The JSON Schema of every protocol line, both directions (root: [`ProtocolMessage`]),
/// pretty-printed with a final newline; committed as `harness/schema/protocol.schema.json`.
pub fn protocol_schema() -> String {
    conformance::vector::pretty(&schemars::schema_for!(ProtocolMessage))
}

/// One message as one line, newline included.
fn to_line<T: Serialize>(message: &T) -> Result<String, String> {
    let mut s = serde_json::to_string(message).map_err(|e| format!("cannot encode: {e}"))?;
    s.push('\n');
    Ok(s)
}

/// `line` cut to [`QUOTE_CHARS`] characters (an ellipsis marks the cut), for error messages.
fn quote(line: &str) -> String {
    match line.char_indices().nth(QUOTE_CHARS) {
        None => line.to_string(),
        Some((i, _)) => format!("{}…", &line[..i]),
    }
}

/// Reads one client line: the answer it reports, or why it is not an answer in
/// [`PROTOCOL_VERSION`] (a [`AdapterError::Protocol`] quoting the line).
pub fn parse_answer(line: &str) -> Result<Observed, AdapterError> {
    let error = |why: String| AdapterError::Protocol {
        line: quote(line),
        why,
    };
    let value: Value =
        serde_json::from_str(line).map_err(|e| error(format!("not a JSON line ({e})")))?;
    let Some(object) = value.as_object() else {
        return Err(error("not a JSON object".into()));
    };
    match object.get("protocol") {
        None => return Err(error("no \"protocol\" field".into())),
        Some(p) if p.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
        Some(p) => {
            return Err(error(format!(
                "protocol version {p}, but the harness speaks {PROTOCOL_VERSION} \
                 (a client answers in the version it was sent, or exits)"
            )))
        }
    }
    let answer: AnswerMessage =
        serde_json::from_value(value).map_err(|e| error(format!("not an answer ({e})")))?;
    answer.into_observed().map_err(error)
}

// ---------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------

/// Splits a command line into words the way a POSIX shell does in simple cases: words are
/// separated by whitespace; `'...'` is literal; in `"..."` a backslash escapes `"`, `\`, `$`
/// and `` ` ``; outside quotes a backslash escapes the next character. No expansion of any
/// kind (variables, globs, `~`), no operators.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated ' in {line:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated \" in {line:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated \" in {line:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("trailing backslash in {line:?}")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `word` as a shell would need it written (quoted when it holds anything special).
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Whether `path` is a file this process may execute.
fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Finds `program` as the OS will when it is spawned: a path when it holds a `/`, else the
/// first executable of that name on `PATH`.
pub(crate) fn find_program(program: &str) -> Result<(), String> {
    if program.contains('/') || program.contains(std::path::MAIN_SEPARATOR) {
        let p = Path::new(program);
        return if is_executable(p) {
            Ok(())
        } else if p.exists() {
            Err(format!(
                "--client: the client program {program:?} is not an executable file"
            ))
        } else {
            Err(format!(
                "--client: the client program {program:?} does not exist"
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program))) {
        Ok(())
    } else {
        Err(format!(
            "--client: the client program {program:?} is not found on PATH"
        ))
    }
}

// ---------------------------------------------------------------------------------------
// The factory and the adapter
// ---------------------------------------------------------------------------------------

/// Starts a client program per vector (`--client 'CMD ARGS'`), each a fresh process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubprocessFactory {
    argv: Vec<String>,
}

impl SubprocessFactory {
    /// Parses `cmdline` (see [`split_command_line`]) and checks that the program exists, so
    /// that a typo is one clear line naming it rather than an error per vector.
    pub fn new(cmdline: &str) -> Result<SubprocessFactory, String> {
        let argv = split_command_line(cmdline).map_err(|e| format!("--client: {e}"))?;
        let Some(program) = argv.first() else {
            return Err("--client: empty command".into());
        };
        find_program(program)?;
        Ok(SubprocessFactory { argv })
    }

    /// The program and its arguments.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Starts the client: the concrete adapter (tests use it for [`Subprocess::pid`]).
    pub fn spawn(&self) -> Result<Subprocess, AdapterError> {
        Subprocess::spawn(&self.argv, self.describe())
    }
}

impl AdapterFactory for SubprocessFactory {
    fn create(&self) -> Result<Box<dyn Adapter>, AdapterError> {
        Ok(Box::new(self.spawn()?))
    }

    fn describe(&self) -> String {
        self.argv
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What the I/O threads report to the adapter.
enum Event {
    /// One line from stdout, without its line ending.
    Line(Vec<u8>),
    /// A line longer than [`MAX_LINE_BYTES`] (its start).
    TooLong(Vec<u8>),
    /// stdout closed (or could not be read).
    Eof,
    /// Writing to stdin failed: the client is gone or closed its stdin.
    WriteFailed,
}

/// The end of what the client wrote on stderr, at most [`STDERR_TAIL_BYTES`].
#[derive(Default)]
pub(crate) struct Tail(pub(crate) Vec<u8>);

impl Tail {
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > STDERR_TAIL_BYTES {
            let cut = self.0.len() - STDERR_TAIL_BYTES;
            self.0.drain(..cut);
        }
    }
}

pub(crate) fn lock(tail: &Mutex<Tail>) -> std::sync::MutexGuard<'_, Tail> {
    tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A client program running for one vector.
pub struct Subprocess {
    command: String,
    child: Child,
    /// Lines for the writer thread; `None` once stdin is closed.
    to_child: Option<Sender<String>>,
    events: Receiver<Event>,
    stderr: Arc<Mutex<Tail>>,
    stderr_done: Receiver<()>,
    steps: u32,
    /// What the last answer answered (`answer to step 3`), for error messages.
    answered: String,
    /// Set by the first error (or `stop`): the exchange cannot go on after it.
    failed: Option<AdapterError>,
    reaped: bool,
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|e| format!("cannot start a thread: {e}"))
}

fn read_lines(stdout: ChildStdout, events: Sender<Event>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let event = match (&mut reader).take(limit).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => Event::Eof,
            Ok(_) if buf.last() == Some(&b'\n') => {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                Event::Line(buf)
            }
            Ok(_) if buf.len() > MAX_LINE_BYTES => {
                buf.truncate(4 * QUOTE_CHARS);
                Event::TooLong(buf)
            }
            // The last line, without a line ending.
            Ok(_) => Event::Line(buf),
        };
        let stop = matches!(event, Event::Eof | Event::TooLong(_));
        if events.send(event).is_err() || stop {
            return;
        }
    }
}

fn write_lines(mut stdin: ChildStdin, lines: Receiver<String>, events: Sender<Event>) {
    for line in lines {
        if stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .is_err()
        {
            let _ = events.send(Event::WriteFailed);
            return;
        }
    }
    // The adapter dropped its sender: closing stdin here tells the client to exit.
}

pub(crate) fn read_stderr(mut stderr: impl Read, tail: Arc<Mutex<Tail>>, done: Sender<()>) {
    let mut buf = [0u8; 4096];
    loop {
        match stderr.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => lock(&tail).push(&buf[..n]),
        }
    }
    let _ = done.send(());
}

impl Subprocess {
    fn spawn(argv: &[String], command: String) -> Result<Subprocess, AdapterError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(AdapterError::Spawn("empty command".into()));
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| AdapterError::Spawn(format!("{command}: {e}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(AdapterError::Spawn(format!("{command}: no pipes")));
        };
        let (event_tx, events) = mpsc::channel();
        let (to_child, lines) = mpsc::channel();
        let (done_tx, stderr_done) = mpsc::channel();
        let tail = Arc::new(Mutex::new(Tail::default()));
        let adapter = Subprocess {
            command,
            child,
            to_child: Some(to_child),
            events,
            stderr: tail.clone(),
            stderr_done,
            steps: 0,
            answered: "process start".into(),
            failed: None,
            reaped: false,
        };
        // On an error here `adapter` is dropped, which kills and reaps the child.
        let writer_events = event_tx.clone();
        spawn_thread("client-stdout", move || read_lines(stdout, event_tx))
            .and_then(|()| {
                spawn_thread("client-stdin", move || {
                    write_lines(stdin, lines, writer_events)
                })
            })
            .and_then(|()| {
                spawn_thread("client-stderr", move || read_stderr(stderr, tail, done_tx))
            })
            .map_err(|e| AdapterError::Spawn(format!("{}: {e}", adapter.command)))?;
        Ok(adapter)
    }

    /// The client's process ID while it has not been reaped (for tests checking that no
    /// process is left behind).
    pub fn pid(&self) -> Option<u32> {
        (!self.reaped).then(|| self.child.id())
    }

    /// The last [`STDERR_TAIL_BYTES`] the client wrote on stderr so far (for the report).
    pub fn stderr_tail(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr).0)
            .trim_end()
            .to_string()
    }

    /// The exit status if the client has exited within `grace` (reaping it).
    fn wait_exit(&mut self, grace: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return Some(status);
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Kills the client if it still runs, and reaps it (bounded: a process that SIGKILL
    /// cannot end within 2 s is left to the OS rather than hanging the harness).
    fn kill(&mut self) {
        self.to_child = None;
        if self.reaped {
            return;
        }
        if self.wait_exit(Duration::ZERO).is_none() {
            let _ = self.child.kill();
            self.wait_exit(Duration::from_secs(2));
        }
    }

    /// The error for a client that went away (`what`: how the harness noticed).
    fn crashed(&mut self, what: &str) -> AdapterError {
        let status = match self.wait_exit(EXIT_GRACE) {
            Some(status) => status.to_string(),
            None => {
                self.kill();
                format!("{what} but kept running; killed")
            }
        };
        let _ = self.stderr_done.recv_timeout(STDERR_GRACE);
        AdapterError::Crashed {
            status,
            stderr_tail: self.stderr_tail(),
        }
    }

    /// Writes `line` and waits at most `timeout` for the one answer line. After any error the
    /// client is killed and every later call returns the same error.
    fn exchange(
        &mut self,
        line: Result<String, String>,
        waiting_for: String,
        timeout: Duration,
    ) -> Result<Observed, AdapterError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.exchange_once(line, waiting_for, timeout);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
            self.kill();
        }
        result
    }

    fn exchange_once(
        &mut self,
        line: Result<String, String>,
        waiting_for: String,
        timeout: Duration,
    ) -> Result<Observed, AdapterError> {
        let line = line.map_err(AdapterError::Spawn)?;
        // Exactly one line per message: one waiting now was not asked for.
        match self.events.try_recv() {
            Ok(Event::Line(bytes) | Event::TooLong(bytes)) => {
                return Err(AdapterError::Protocol {
                    line: quote(&String::from_utf8_lossy(&bytes)),
                    why: format!("a line not asked for (after the {})", self.answered),
                })
            }
            Ok(Event::Eof) => return Err(self.crashed("closed its stdout")),
            Ok(Event::WriteFailed) => return Err(self.crashed("closed its stdin")),
            Err(_) => {}
        }
        let sent = self
            .to_child
            .as_ref()
            .is_some_and(|tx| tx.send(line).is_ok());
        if !sent {
            return Err(self.crashed("closed its stdin"));
        }
        let answer = match self.events.recv_timeout(timeout) {
            Ok(Event::Line(bytes)) => parse_answer(&String::from_utf8_lossy(&bytes)),
            Ok(Event::TooLong(start)) => Err(AdapterError::Protocol {
                line: quote(&String::from_utf8_lossy(&start)),
                why: format!("a line longer than {} MiB", MAX_LINE_BYTES >> 20),
            }),
            Ok(Event::Eof) | Err(RecvTimeoutError::Disconnected) => {
                Err(self.crashed("closed its stdout"))
            }
            // The process may have written its last words: take them if they come.
            Ok(Event::WriteFailed) => match self.events.recv_timeout(EXIT_GRACE) {
                Ok(Event::Line(bytes)) => parse_answer(&String::from_utf8_lossy(&bytes)),
                _ => Err(self.crashed("closed its stdin")),
            },
            Err(RecvTimeoutError::Timeout) => {
                return Err(AdapterError::Timeout {
                    waiting_for,
                    after: timeout,
                })
            }
        };
        self.answered = waiting_for;
        answer
    }
}

impl Adapter for Subprocess {
    fn start(&mut self, vector: &Vector, timeout: Duration) -> Result<Observed, AdapterError> {
        let line = to_line(&StartMessage::for_vector(vector));
        self.exchange(
            line,
            "answer to start".into(),
            timeout.saturating_add(STARTUP_ALLOWANCE),
        )
    }

    fn step(&mut self, step: &Step, timeout: Duration) -> Result<Observed, AdapterError> {
        self.steps = self.steps.saturating_add(1);
        let n = self.steps;
        let line = to_line(&StepMessage::for_step(n, step));
        let mut o = self.exchange(line, format!("answer to step {n}"), timeout)?;
        if let Some(r) = &mut o.response {
            r.accept = step.request.as_ref().and_then(|q| q.accept);
        }
        Ok(o)
    }

    /// Sends `stop`, closes stdin, gives the client one second to exit, then kills it.
    fn stop(&mut self) {
        if let Some(tx) = self.to_child.take() {
            if self.failed.is_none() {
                if let Ok(line) = to_line(&StopMessage::new()) {
                    let _ = tx.send(line);
                }
            }
        }
        if !self.reaped && self.wait_exit(STOP_GRACE).is_none() {
            self.kill();
        }
        self.failed.get_or_insert_with(|| {
            AdapterError::Spawn(format!("{}: used after stop", self.command))
        });
    }
}

impl Drop for Subprocess {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------
// The reference client behind the protocol
// ---------------------------------------------------------------------------------------

/// The Endpoint Client Name as the model wants it (`&'static`). The reference name is not
/// copied; any other is leaked, once per `start` (a process serves one vector).
fn static_endpoint(endpoint: &str) -> &'static str {
    const REFERENCE: &str = "urn:dev:ref-1";
    if endpoint == REFERENCE {
        REFERENCE
    } else {
        Box::leak(endpoint.to_string().into_boxed_str())
    }
}

/// Serves the protocol with the model's reference client (with `bugs` switched in), reading
/// harness lines from `input` and writing answers to `output`, until `stop` or end of input.
/// Same semantics as the in-process adapter: `start` boots [`Client::boot`] with
/// [`Choices::reference`] (Bootstrap-Pack as the vector's features say), each `step` is
/// [`Client::handle`] of the stimulus's input. `Err` says why it gave up (a line that is not
/// protocol version 2, a step before start, an unknown profile, an I/O error); per the
/// versioning rule it does not answer such a line.
pub fn serve(bugs: BugSet, input: impl BufRead, mut output: impl Write) -> Result<(), String> {
    let mut running: Option<(Client, ClientSpec, conformance::wire::UriMap)> = None;
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |why: String| format!("line {}: {why}: {}", i + 1, quote(&line));
        let value: Value =
            serde_json::from_str(&line).map_err(|e| at(format!("not JSON ({e})")))?;
        match value.get("protocol") {
            Some(p) if p.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
            p => {
                return Err(at(format!(
                    "protocol version {}; this client speaks {PROTOCOL_VERSION} only",
                    p.map_or("missing".into(), Value::to_string)
                )))
            }
        }
        let op = value.get("op").and_then(Value::as_str).unwrap_or("");
        let mut accept = None;
        let out = match op {
            "start" => {
                let m: StartMessage =
                    serde_json::from_value(value).map_err(|e| at(format!("bad start ({e})")))?;
                let profile: Profile = m.profile.parse().map_err(|e| at(format!("{e}")))?;
                let spec = ClientSpec {
                    profile,
                    endpoint: static_endpoint(&m.endpoint),
                    bugs,
                };
                let choices = m.features.choices(profile);
                let (client, out) = Client::boot(&spec, m.factory_objects, choices);
                running = Some((client, spec, m.uris));
                out
            }
            "step" => {
                let m: StepMessage =
                    serde_json::from_value(value).map_err(|e| at(format!("bad step ({e})")))?;
                let (client, spec, _) = running
                    .as_mut()
                    .ok_or_else(|| at("step before start".into()))?;
                accept = m.request.as_ref().and_then(|r| r.accept);
                client.handle(spec, &m.stimulus.input())
            }
            "stop" => return Ok(()),
            other => return Err(at(format!("unknown op {other:?}"))),
        };
        let Some((_, spec, uris)) = &running else {
            return Err(at("step before start".into()));
        };
        let plain = Variations::default();
        let answer = AnswerMessage::from_observed(&Observed {
            response: out
                .response
                .as_ref()
                .map(|r| render_response(r, spec.profile, uris, &plain, accept)),
            sends: out
                .send
                .iter()
                .map(|o| render_message(o, uris, &plain))
                .collect(),
            violation: None,
        });
        let text = to_line(&answer)?;
        output
            .write_all(text.as_bytes())
            .and_then(|()| output.flush())
            .map_err(|e| format!("cannot write stdout: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell_in_simple_cases() {
        let s = |l: &str| split_command_line(l).unwrap();
        assert_eq!(s("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(
            s("python3 'my dir/x.py' \"a b\" c\\ d"),
            ["python3", "my dir/x.py", "a b", "c d"]
        );
        assert_eq!(
            s(r#"x "q\"uote\\" 'it''s' "" ''"#),
            ["x", "q\"uote\\", "its", "", ""]
        );
        assert_eq!(s(r#"a"b"'c'd"#), ["abcd"]);
        assert_eq!(s(r#""\n""#), ["\\n"]);
        assert!(s("   ").is_empty());
        assert!(split_command_line("a 'b").is_err());
        assert!(split_command_line("a \"b").is_err());
        assert!(split_command_line("a \\").is_err());
    }

    #[test]
    fn describe_quotes_what_needs_it_and_round_trips() {
        for line in ["python3 adapter.py --port 5683", "a 'b c' \"it's\" ''"] {
            let f = SubprocessFactory {
                argv: split_command_line(line).unwrap(),
            };
            let again = split_command_line(&f.describe()).unwrap();
            assert_eq!(again, f.argv, "{}", f.describe());
        }
    }

    #[test]
    fn empty_and_missing_programs_are_refused() {
        assert!(SubprocessFactory::new("  ").unwrap_err().contains("empty"));
        let e = SubprocessFactory::new("./no/such/prog x").unwrap_err();
        assert!(e.contains("./no/such/prog"), "{e}");
        assert!(SubprocessFactory::new("sh -c true").is_ok());
    }

    #[test]
    fn quotes_are_cut_at_200_characters() {
        let long = "é".repeat(300);
        let q = quote(&long);
        assert_eq!(q.chars().count(), QUOTE_CHARS + 1);
        assert_eq!(quote("short"), "short");
    }

    #[test]
    fn answers_parse_or_say_why_not() {
        let ok =
            parse_answer(r#"{"protocol":2,"response":{"code":"4.06","payload":null},"sends":[]}"#)
                .unwrap();
        assert_eq!(ok.response.unwrap().code, "4.06");
        // Any CoAP response code is an observation (the judge names the wrong ones).
        let bad_option =
            parse_answer(r#"{"protocol":2,"response":{"code":"4.02","payload":null},"sends":[]}"#)
                .unwrap();
        assert_eq!(bad_option.response.unwrap().code, "4.02");
        let why = |l: &str| match parse_answer(l) {
            Err(AdapterError::Protocol { why, line }) => {
                assert_eq!(line, l);
                why
            }
            other => panic!("{other:?}"),
        };
        assert!(why("nope").contains("not a JSON line"));
        assert!(why("[1]").contains("not a JSON object"));
        assert!(why(r#"{"response":null,"sends":[]}"#).contains("no \"protocol\""));
        assert!(why(r#"{"protocol":1,"response":null,"sends":[]}"#).contains("version 1"));
        assert!(
            why(r#"{"protocol":2,"response":{"code":"2.9","payload":null},"sends":[]}"#)
                .contains("\"2.9\" is not a CoAP response code")
        );
        assert!(why(r#"{"protocol":2,"response":{"code":"2.05","payload":{"content_format":40,"hex":"zz","text":null}},"sends":[]}"#).contains("hex"));
        assert!(why(r#"{"protocol":2,"response":null,"sends":[],"extra":1}"#).contains("extra"));
    }

    #[test]
    fn stderr_tail_keeps_the_end() {
        let mut t = Tail::default();
        t.push(&[b'a'; 3000]);
        t.push(b"end");
        assert_eq!(t.0.len(), STDERR_TAIL_BYTES);
        assert!(t.0.ends_with(b"aend"));
    }
}
