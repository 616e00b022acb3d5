//! Launching a client program on the wire: `--client 'CMD ... {bs_uri} {endpoint}'`.
//!
//! The command line is a template; for each vector the harness fills the placeholders in
//! ([`PLACEHOLDERS`]) and starts a fresh process (a factory-reset client), captures what it
//! writes on stdout and stderr for the report, and at the end kills it by its process
//! group, so that a client started through a wrapper script leaves nothing behind either.

use crate::adapter::AdapterError;
use crate::cmdline::{find_program, split_command_line};
use crate::supervise::{
    capture_output, kill_process_group, own_process_group, spawn_thread, tail_text, Tail,
};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The placeholders a client command line may use, with what they stand for.
pub const PLACEHOLDERS: [(&str, &str); 12] = [
    (
        "bs_uri",
        "the bootstrap server's URI, coap://127.0.0.1:PORT (coaps:// with --dtls)",
    ),
    (
        "bs_psk_identity",
        "the PSK identity of the factory's Bootstrap-Server Account (/0/x/3), as text; empty when the factory has none",
    ),
    (
        "bs_psk_key_hex",
        "the pre-shared key of the factory's Bootstrap-Server Account (/0/x/5), lowercase hex",
    ),
    (
        "bs_alt_uri",
        "the URI of the alternate bootstrap server (the seed's Step 0)",
    ),
    (
        "server_uris",
        "the management servers' URIs, comma-separated, server 0 first",
    ),
    ("endpoint", "the Endpoint Client Name the vector expects"),
    (
        "client_port",
        "a free UDP port on loopback for the client to listen on (lets a server reach it before it sends anything)",
    ),
    ("profile", "the vector's profile: seed, 1.0, 1.1 or 1.2"),
    (
        "factory",
        "the factory configuration: bootstrap-only, server-and-bootstrap, server-only",
    ),
    (
        "bootstrap_pack",
        "whether the vector assumes Bootstrap-Pack-Request: true, false or any",
    ),
    (
        "access_control",
        "whether the vector assumes a client with the Access Control object: true, or false for the single-server vectors of BS-OBJ-05",
    ),
    (
        "coap_time_scale",
        "the factor for the RFC 7252 timing (--coap-time-scale)",
    ),
];

/// The launcher command line of the bundled reference client on the wire (the binary at
/// `exe`), optionally with an injected bug: what `--client wire-ref` and
/// `wire-mutant:NAME` stand for.
pub fn reference_cmdline(exe: &std::path::Path, bug: Option<&str>) -> String {
    let bug = bug.map(|b| format!(" --bug {b}")).unwrap_or_default();
    format!(
        "'{}' wire --profile {{profile}} --factory {{factory}} --endpoint {{endpoint}} --bootstrap {{bs_uri}} --bootstrap-alternate {{bs_alt_uri}} --servers {{server_uris}} --pack {{bootstrap_pack}} --access-control {{access_control}} --coap-time-scale {{coap_time_scale}} --port {{client_port}} --bs-psk-identity {{bs_psk_identity}} --bs-psk-key {{bs_psk_key_hex}}{bug}",
        exe.display()
    )
}

/// A client command line with placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launcher {
    template: Vec<String>,
}

impl Launcher {
    /// Parses the command line, checks its placeholders and that the program exists.
    pub fn new(cmdline: &str) -> Result<Launcher, String> {
        let template = split_command_line(cmdline).map_err(|e| format!("--client: {e}"))?;
        let program = template
            .first()
            .ok_or_else(|| "--client: empty command".to_string())?;
        for word in &template {
            let mut rest = word.as_str();
            while let Some(open) = rest.find('{') {
                let close = rest[open..]
                    .find('}')
                    .ok_or_else(|| format!("--client: unterminated placeholder in {word:?}"))?;
                let name = &rest[open + 1..open + close];
                if !PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
                    let known: Vec<String> = PLACEHOLDERS
                        .iter()
                        .map(|(p, _)| format!("{{{p}}}"))
                        .collect();
                    return Err(format!(
                        "--client: unknown placeholder {{{name}}} (known: {})",
                        known.join(" ")
                    ));
                }
                rest = &rest[open + close + 1..];
            }
        }
        find_program(program)?;
        Ok(Launcher { template })
    }

    /// The argument vector with `values` filled in (`values` maps placeholder names).
    pub fn argv(&self, values: &[(&str, String)]) -> Vec<String> {
        self.template
            .iter()
            .map(|w| {
                values
                    .iter()
                    .fold(w.clone(), |acc, (k, v)| acc.replace(&format!("{{{k}}}"), v))
            })
            .collect()
    }

    /// Whether the command line uses placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        let p = format!("{{{name}}}");
        self.template.iter().any(|w| w.contains(&p))
    }

    /// The command line as written (for reports).
    pub fn describe(&self) -> String {
        self.template.join(" ")
    }
}

/// A client process running for one vector.
pub struct Launched {
    command: String,
    child: Child,
    output: Arc<Mutex<Tail>>,
    readers_done: Receiver<()>,
    reaped: bool,
}

impl Launched {
    /// Starts `argv` in its own process group, stdin closed, stdout and stderr captured.
    pub fn spawn(argv: &[String]) -> Result<Launched, AdapterError> {
        let command = argv.join(" ");
        let Some((program, args)) = argv.split_first() else {
            return Err(AdapterError::Spawn("empty command".into()));
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        own_process_group(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| AdapterError::Spawn(format!("{command}: {e}")))?;
        let output = Arc::new(Mutex::new(Tail::default()));
        let (done_tx, readers_done) = mpsc::channel();
        let streams: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ];
        let mut launched = Launched {
            command,
            child,
            output: output.clone(),
            readers_done,
            reaped: false,
        };
        for s in streams.into_iter().flatten() {
            let (out, done) = (output.clone(), done_tx.clone());
            let spawned = spawn_thread("client-output", move || capture_output(s, out, done));
            if let Err(e) = spawned {
                launched.kill();
                return Err(AdapterError::Spawn(e));
            }
        }
        Ok(launched)
    }

    /// The process ID while the process has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        (!self.reaped).then(|| self.child.id())
    }

    /// The end of what the client wrote on stdout and stderr.
    pub fn output(&self) -> String {
        tail_text(&self.output)
    }

    /// If the client has exited: the error saying so, with the end of its output.
    pub fn exited(&mut self) -> Option<AdapterError> {
        if self.reaped {
            return None;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.reaped = true;
                // Let both readers (stdout, stderr) drain what the client wrote last.
                let until = Instant::now() + Duration::from_millis(300);
                for _ in 0..2 {
                    let left = until.saturating_duration_since(Instant::now());
                    if self.readers_done.recv_timeout(left).is_err() {
                        break;
                    }
                }
                Some(AdapterError::Crashed {
                    status: status.to_string(),
                    stderr_tail: self.output(),
                })
            }
            _ => None,
        }
    }

    /// Kills the client's process group and reaps the client (bounded: 2 s).
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        kill_process_group(&self.child);
        let _ = self.child.kill();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.reaped = true;
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        eprintln!("warning: {}: could not reap the client", self.command);
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_checked_and_filled() {
        let l = Launcher::new("true --bs {bs_uri} --ep={endpoint}").unwrap();
        assert_eq!(
            l.argv(&[("bs_uri", "coap://x".into()), ("endpoint", "e".into())]),
            ["true", "--bs", "coap://x", "--ep=e"]
        );
        let e = Launcher::new("true {bs_url}").unwrap_err();
        assert!(e.contains("unknown placeholder {bs_url}"), "{e}");
        assert!(Launcher::new("true {bs_uri").is_err());
        let e = Launcher::new("/no/such/client {bs_uri}").unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
    }
}
