//! Supervising a client process, shared by the subprocess adapter ([`crate::subprocess`]) and
//! the wire launcher ([`crate::launch`]): I/O threads that never block the harness (lines
//! from stdout onto a channel the caller reads with a timeout, lines to stdin from a
//! channel, the end of the output kept for the report), and process groups, so that
//! killing a client started through a wrapper script leaves nothing behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

/// How much of a client's output is kept for the report (the end of it): its stderr behind
/// the subprocess adapter, its stdout and stderr together when launched on the wire.
pub(crate) const OUTPUT_TAIL_BYTES: usize = 2048;

/// The longest line read from a client's stdout; a longer one is reported as
/// [`PipeEvent::TooLong`] and ends the reading (memory stays bounded).
pub(crate) const MAX_LINE_BYTES: usize = 16 << 20;

/// How much of the start of a too long line is kept: enough for a protocol error to quote
/// [`QUOTE_CHARS`](crate::protocol::QUOTE_CHARS) characters of up to 4 bytes each.
const TOO_LONG_KEPT_BYTES: usize = 4 * crate::protocol::QUOTE_CHARS;

/// What the I/O threads of [`read_lines`] and [`write_lines`] report to the adapter.
pub(crate) enum PipeEvent {
    /// One line from stdout, without its line ending.
    Line(Vec<u8>),
    /// A line longer than [`MAX_LINE_BYTES`] (its start).
    TooLong(Vec<u8>),
    /// stdout closed (or could not be read).
    Eof,
    /// Writing to stdin failed: the client is gone or closed its stdin.
    WriteFailed,
}

/// The end of what the client wrote, at most [`OUTPUT_TAIL_BYTES`].
#[derive(Default)]
pub(crate) struct Tail(pub(crate) Vec<u8>);

impl Tail {
    /// Appends `bytes`, dropping the oldest beyond [`OUTPUT_TAIL_BYTES`].
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > OUTPUT_TAIL_BYTES {
            let cut = self.0.len() - OUTPUT_TAIL_BYTES;
            self.0.drain(..cut);
        }
    }
}

/// Locks a shared [`Tail`], even one a panicking reader left poisoned.
pub(crate) fn lock(tail: &Mutex<Tail>) -> std::sync::MutexGuard<'_, Tail> {
    tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The shared [`Tail`] as text for a report (lossy UTF-8, trailing whitespace trimmed).
pub(crate) fn tail_text(tail: &Mutex<Tail>) -> String {
    String::from_utf8_lossy(&lock(tail).0)
        .trim_end()
        .to_string()
}

/// Starts a named thread running `f`; `Err` says why it could not start.
pub(crate) fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|e| format!("cannot start a thread: {e}"))
}

/// The stdout reader thread: sends every line of `stdout` on `events`, until end of file,
/// a line longer than [`MAX_LINE_BYTES`], or a receiver that is gone.
pub(crate) fn read_lines(stdout: ChildStdout, events: Sender<PipeEvent>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let event = match (&mut reader).take(limit).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => PipeEvent::Eof,
            Ok(_) if buf.last() == Some(&b'\n') => {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                PipeEvent::Line(buf)
            }
            Ok(_) if buf.len() > MAX_LINE_BYTES => {
                buf.truncate(TOO_LONG_KEPT_BYTES);
                PipeEvent::TooLong(buf)
            }
            // The last line, without a line ending.
            Ok(_) => PipeEvent::Line(buf),
        };
        let stop = matches!(event, PipeEvent::Eof | PipeEvent::TooLong(_));
        if events.send(event).is_err() || stop {
            return;
        }
    }
}

/// The stdin writer thread: writes every line from `lines` to `stdin` (so that a client
/// that stops reading blocks this thread, not the harness), reporting a failed write on
/// `events`; closes stdin when the sender of `lines` is dropped.
pub(crate) fn write_lines(
    mut stdin: ChildStdin,
    lines: Receiver<String>,
    events: Sender<PipeEvent>,
) {
    for line in lines {
        if stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
            .is_err()
        {
            let _ = events.send(PipeEvent::WriteFailed);
            return;
        }
    }
    // The adapter dropped its sender: closing stdin here tells the client to exit.
}

/// An output reader thread: keeps the end of `stream` in `tail` until end of file, then
/// signals `done`.
pub(crate) fn capture_output(mut stream: impl Read, tail: Arc<Mutex<Tail>>, done: Sender<()>) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => lock(&tail).push(&buf[..n]),
        }
    }
    let _ = done.send(());
}

/// Makes the process `cmd` starts the leader of a new process group (Unix), so that
/// [`kill_process_group`] reaches everything it starts.
pub(crate) fn own_process_group(cmd: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    #[cfg(not(unix))]
    let _ = cmd;
}

/// Sends SIGKILL to the process group `child` leads (Unix; started with
/// [`own_process_group`]). Reaping the child is left to the caller.
pub(crate) fn kill_process_group(child: &Child) {
    #[cfg(unix)]
    {
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) with a negative pid signals the process group the client
            // leads (it was started with process_group(0)); no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_tail_keeps_the_end() {
        let mut t = Tail::default();
        t.push(&[b'a'; 3000]);
        t.push(b"end");
        assert_eq!(t.0.len(), OUTPUT_TAIL_BYTES);
        assert!(t.0.ends_with(b"aend"));
    }
}
