//! The subprocess adapter: any program, in any language, that speaks the harness protocol
//! ([`crate::protocol`], `harness/PROTOCOL.md`) on its stdin and stdout
//! (`--client 'CMD ARGS'`), a fresh process per vector.
//!
//! Every wait is bounded: a reader thread turns the client's stdout into lines on a channel
//! that the adapter reads with a timeout, a writer thread feeds its stdin (so that a client
//! that stops reading cannot block the harness), and a third thread keeps the last 2 KiB of
//! its stderr for the report (the threads are those of `supervise.rs`). Whatever the client
//! does (hang, crash, print nonsense), the adapter answers with an [`AdapterError`], kills the
//! process and reaps it; nothing panics and no process is left behind.

use crate::adapter::{Adapter, AdapterError, AdapterFactory, Observed};
use crate::cmdline::{find_program, shell_quote, split_command_line};
use crate::protocol::{parse_answer, quote, to_line, StartMessage, StepMessage, StopMessage};
use crate::supervise::{
    capture_output, read_lines, spawn_thread, tail_text, write_lines, PipeEvent, Tail,
    MAX_LINE_BYTES,
};
use conformance::vector::{Step, Vector};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A client program running for one vector.
pub struct Subprocess {
    command: String,
    child: Child,
    /// Lines for the writer thread; `None` once stdin is closed.
    to_child: Option<Sender<String>>,
    events: Receiver<PipeEvent>,
    stderr: Arc<Mutex<Tail>>,
    stderr_done: Receiver<()>,
    steps: u32,
    /// What the last answer answered (`answer to step 3`), for error messages.
    answered: String,
    /// Set by the first error (or `stop`): the exchange cannot go on after it.
    failed: Option<AdapterError>,
    reaped: bool,
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
                spawn_thread("client-stderr", move || {
                    capture_output(stderr, tail, done_tx)
                })
            })
            .map_err(|e| AdapterError::Spawn(format!("{}: {e}", adapter.command)))?;
        Ok(adapter)
    }

    /// The client's process ID while it has not been reaped (for tests checking that no
    /// process is left behind).
    pub fn pid(&self) -> Option<u32> {
        (!self.reaped).then(|| self.child.id())
    }

    /// The end (2 KiB) of what the client wrote on stderr so far (for the report).
    pub fn stderr_tail(&self) -> String {
        tail_text(&self.stderr)
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
            Ok(PipeEvent::Line(bytes) | PipeEvent::TooLong(bytes)) => {
                return Err(AdapterError::Protocol {
                    line: quote(&String::from_utf8_lossy(&bytes)),
                    why: format!("a line not asked for (after the {})", self.answered),
                })
            }
            Ok(PipeEvent::Eof) => return Err(self.crashed("closed its stdout")),
            Ok(PipeEvent::WriteFailed) => return Err(self.crashed("closed its stdin")),
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
            Ok(PipeEvent::Line(bytes)) => parse_answer(&String::from_utf8_lossy(&bytes)),
            Ok(PipeEvent::TooLong(start)) => Err(AdapterError::Protocol {
                line: quote(&String::from_utf8_lossy(&start)),
                why: format!("a line longer than {} MiB", MAX_LINE_BYTES >> 20),
            }),
            Ok(PipeEvent::Eof) | Err(RecvTimeoutError::Disconnected) => {
                Err(self.crashed("closed its stdout"))
            }
            // The process may have written its last words: take them if they come.
            Ok(PipeEvent::WriteFailed) => match self.events.recv_timeout(EXIT_GRACE) {
                Ok(PipeEvent::Line(bytes)) => parse_answer(&String::from_utf8_lossy(&bytes)),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
