//! The UDP driver of the bundled reference client ([`crate::reference_node`]): one socket
//! on loopback and the system clock, nothing else. It feeds the node each datagram and the
//! time its next timer is due, and sends what the node asks: in the clear to a `coap://`
//! server, inside a DTLS session with the account's PSK to a `coaps://` one
//! ([`ReferenceNode::session_security`], BS-SEC-05).

use crate::coap_uri;
use crate::dtls::{DtlsSession, Psk, Role};
use crate::endpoint::is_request;
use crate::misbehave::KeyMisbehaviour;
use crate::reference_node::{NodeConfig, ReferenceNode, SessionSecurity};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The reference client and its socket.
pub struct WireClient {
    node: ReferenceNode,
    socket: UdpSocket,
    verbose: bool,
    /// Its DTLS sessions, by server address.
    sessions: HashMap<SocketAddr, Session>,
    /// The first key used with each server (`--key-misbehave stale-key` keeps it).
    first_psk: HashMap<SocketAddr, Psk>,
}

/// A DTLS session the client opened with a server, and the CoAP datagrams waiting for its
/// handshake to complete.
struct Session {
    psk: Psk,
    dtls: DtlsSession,
    queued: Vec<Vec<u8>>,
}

impl WireClient {
    /// Binds the client's socket (`port`, or an ephemeral one, on the loopback address of
    /// the bootstrap server's family) and powers the client on.
    pub fn start(cfg: NodeConfig) -> Result<WireClient, String> {
        let verbose = cfg.verbose;
        let port = cfg.port;
        let node = ReferenceNode::boot(cfg, Instant::now())?;
        let local = if node.bootstrap_server().is_ipv6() {
            format!("[::1]:{port}")
        } else {
            format!("127.0.0.1:{port}")
        };
        // The harness checked the port free a moment ago; should something hold it for a
        // moment still, the bind is tried again for half a second before giving up.
        let mut attempt = 0;
        let socket = loop {
            match UdpSocket::bind(&local) {
                Ok(s) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < 50 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(format!("cannot bind {local}: {e}")),
            }
        };
        let mut c = WireClient {
            node,
            socket,
            verbose,
            sessions: HashMap::new(),
            first_psk: HashMap::new(),
        };
        c.flush()?;
        Ok(c)
    }

    /// The address the client listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        self.socket.local_addr().map_err(|e| e.to_string())
    }

    /// Sends what the node asks and prints its log with `--verbose`.
    fn flush(&mut self) -> Result<(), String> {
        while let Some(line) = self.node.poll_log() {
            if self.verbose {
                eprintln!("lwm2m-reference-client: {line}");
            }
        }
        while let Some(t) = self.node.poll_transmit() {
            if self.verbose && !t.note.is_empty() {
                eprintln!("lwm2m-reference-client: {} to {}", t.note, t.to);
            }
            // An answer goes in the session its request came in, whatever was written
            // meanwhile (ambiguities ).
            if !is_request(&t.bytes) {
                if let Some(s) = self.sessions.get(&t.to) {
                    let psk = s.psk.clone();
                    self.send_secure(t.to, psk, t.bytes)?;
                    continue;
                }
            }
            match self.node.session_security(t.to) {
                SessionSecurity::NoSec => self.send_raw(t.to, &t.bytes)?,
                SessionSecurity::NoKeys => self.log(&format!(
                    "no keys for the coaps:// server at {}: not sent",
                    t.to
                )),
                SessionSecurity::Psk(psk) => {
                    let first = self.first_psk.entry(t.to).or_insert(psk.clone()).clone();
                    let psk = match self.node.key_misbehave() {
                        Some(KeyMisbehaviour::StaleKey) => first,
                        _ => psk,
                    };
                    self.send_secure(t.to, psk, t.bytes)?
                }
            }
        }
        self.flush_sessions()
    }

    fn log(&self, line: &str) {
        if self.verbose {
            eprintln!("lwm2m-reference-client: {line}");
        }
    }

    fn send_raw(&self, to: SocketAddr, bytes: &[u8]) -> Result<(), String> {
        self.socket
            .send_to(bytes, to)
            .map(drop)
            .map_err(|e| format!("cannot send to {to}: {e}"))
    }

    /// Sends `bytes` in the session with `to`, opening one (a handshake with `psk`) when
    /// there is none or the last failed, or when a request of its own (a Bootstrap-Request,
    /// a Register) finds the account's keys changed: a new key takes effect at the next
    /// session, answers go in the session they belong to (ambiguities: the client may
    /// defer the change until it next connects).
    fn send_secure(&mut self, to: SocketAddr, psk: Psk, bytes: Vec<u8>) -> Result<(), String> {
        let request = is_request(&bytes);
        let reuse = self.sessions.get(&to).is_some_and(|s| {
            (s.psk == psk || !request) && s.dtls.error().is_none() && !s.dtls.is_closed()
        });
        if !reuse {
            self.log(&format!(
                "DTLS handshake with {to} as {:?}",
                String::from_utf8_lossy(&psk.identity)
            ));
            let dtls = DtlsSession::new(Role::Client(psk.clone()), Instant::now())
                .map_err(|e| format!("DTLS with {to}: {e}"))?;
            self.sessions.insert(
                to,
                Session {
                    psk,
                    dtls,
                    queued: Vec::new(),
                },
            );
        }
        let Some(s) = self.sessions.get_mut(&to) else {
            return Ok(());
        };
        if s.dtls.is_established() {
            s.dtls
                .send(&bytes)
                .map_err(|e| format!("DTLS to {to}: {e}"))?;
        } else {
            s.queued.push(bytes);
        }
        Ok(())
    }

    /// Sends what the sessions have to send: handshake flights, records, and the CoAP
    /// datagrams a completed handshake released.
    fn flush_sessions(&mut self) -> Result<(), String> {
        let mut out = Vec::new();
        for (to, s) in &mut self.sessions {
            if s.dtls.is_established() {
                for q in s.queued.drain(..) {
                    s.dtls.send(&q).map_err(|e| format!("DTLS to {to}: {e}"))?;
                }
            }
            while let Some(r) = s.dtls.poll_transmit() {
                out.push((*to, r));
            }
        }
        for (to, r) in out {
            self.send_raw(to, &r)?;
        }
        Ok(())
    }

    /// A datagram from `from`: records of its session go through DTLS, plain CoAP only
    /// from a `coap://` server.
    fn receive(&mut self, from: SocketAddr, bytes: &[u8]) -> Result<(), String> {
        let now = Instant::now();
        let Some(s) = self.sessions.get_mut(&from) else {
            if self.node.session_security(from) == SessionSecurity::NoSec {
                self.node.handle_datagram(now, from, bytes)?;
            } else {
                self.log(&format!("dropped a datagram from {from}: no DTLS session"));
            }
            return self.flush();
        };
        let result = s.dtls.handle_datagram(now, bytes);
        let mut plain = Vec::new();
        while let Some(p) = s.dtls.poll_plaintext() {
            plain.push(p);
        }
        if let Err(e) = result {
            self.log(&format!("DTLS with {from}: {e}"));
            self.handshake_failed(now, from)?;
        }
        for p in plain {
            self.node.handle_datagram(now, from, &p)?;
        }
        self.flush()
    }

    /// The session with `to` failed before it was established (the server's fatal alert,
    /// or its own handshake timers): what was to go in it fails at once (Transport 1.2
    /// §5.2.10), so that a Register's failure takes its course (BS-REG-06).
    fn handshake_failed(&mut self, now: Instant, to: SocketAddr) -> Result<(), String> {
        let Some(s) = self.sessions.get_mut(&to) else {
            return Ok(());
        };
        if s.dtls.is_established() {
            return Ok(());
        }
        let why = s.dtls.error().map(|e| e.to_string()).unwrap_or_default();
        let queued = std::mem::take(&mut s.queued);
        if self.node.key_misbehave() == Some(KeyMisbehaviour::PlainAfterFailedHandshake) {
            self.log(&format!(
                "handshake with {to} failed; sending in the clear instead"
            ));
            for q in queued {
                self.send_raw(to, &q)?;
            }
            return Ok(());
        }
        self.node.session_failed(now, to, &why)
    }

    /// Handshake retransmissions that are due.
    fn session_timers(&mut self, now: Instant) -> Result<(), String> {
        let mut failed = Vec::new();
        for (to, s) in &mut self.sessions {
            if s.dtls.poll_timeout().is_some_and(|t| t <= now) {
                s.dtls.handle_timeout(now);
                if s.dtls.error().is_some() {
                    failed.push(*to);
                }
            }
        }
        for to in failed {
            self.handshake_failed(now, to)?;
        }
        self.flush_sessions()
    }

    fn next_session_timer(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| s.dtls.poll_timeout())
            .min()
    }

    /// Runs until `deadline` (forever when `None`), handling datagrams and timers.
    pub fn run(&mut self, deadline: Option<Instant>) -> Result<(), String> {
        let mut buf = vec![0u8; coap_uri::MAX_DATAGRAM];
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            if self.node.poll_timeout().is_some_and(|t| t <= now) {
                self.node.handle_timeout(now)?;
                self.flush()?;
            }
            self.session_timers(now)?;
            let wake = [
                self.node.poll_timeout(),
                self.next_session_timer(),
                deadline,
            ]
            .into_iter()
            .flatten()
            .min();
            let wait = wake
                .map(|w| w.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(1))
                .clamp(Duration::from_millis(1), Duration::from_secs(1));
            self.socket
                .set_read_timeout(Some(wait))
                .map_err(|e| e.to_string())?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => self.receive(from, &buf[..n])?,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                // An ICMP port unreachable from a server that went away: nothing to do.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(format!("cannot receive: {e}")),
            }
        }
    }
}
