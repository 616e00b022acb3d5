//! CoAP over DTLS 1.2 with pre-shared keys (`coaps://`, RFC 7252 §9; LwM2M Security Mode
//! 0) as a driver of the vector player: [`DtlsDriver`] wraps any [`Driver`] whose sockets
//! carry the records, runs one server-side [`DtlsSession`] per server and client address,
//! and hands the player the CoAP datagrams inside them. The player, the endpoint and the
//! judge are the same as on plain UDP; only the URIs (`coaps://`) and the Security Mode the
//! bootstrap server writes (PSK, `conformance::wire::security_mode_on`) change.
//!
//! What the client must do becomes observable here, each a violation of the step that sees
//! it:
//! - a handshake must use the keys of the account paired with the server it goes to: the
//!   Bootstrap-Server Account's for the bootstrap server, each server account's for its
//!   server (BS-SEC-05, BS-SEC-01); the server accepts only those ([`ServerKeys`], which the
//!   player sets from its shadow of the client's configuration);
//! - data only inside an authenticated session (BS-SEC-02): a plain CoAP datagram to a
//!   `coaps://` server is dropped and reported.
//!
//! Every handshake is bounded: a session not established within [`HANDSHAKE_LIMIT`] is
//! dropped and reported, and a server holds at most [`MAX_HANDSHAKES`] handshakes at once,
//! so that a ClientHello flood costs bounded memory and time.

use crate::account_keys::ServerKeys;
use crate::adapter::AdapterError;
use crate::dtls::{is_client_hello, looks_like_dtls, DtlsError, DtlsSession, Role};
use crate::endpoint::is_request;
use crate::player::{Datagram, Driver, Gate, Handshake};
use conformance::vector::Vector;
use conformance::wire::UriMap;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The longest a client may take to complete a handshake once it started it.
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);

/// The most handshakes one server runs at once; a ClientHello beyond them is dropped.
pub const MAX_HANDSHAKES: usize = 16;

/// Names of the servers by index, for messages.
fn server_name(i: usize) -> String {
    match i {
        0 => "the bootstrap server".into(),
        1 => "the alternate bootstrap server".into(),
        k => format!("server DM{}", k - 2),
    }
}

struct Session {
    dtls: DtlsSession,
    started: Instant,
    /// Whether its establishment was noted.
    announced: bool,
    /// Whether the server holds another key than the account's ([`Gate::Refuse`]).
    refusing: bool,
    /// The highest sequence number of the server's epoch-0 records, for its alert.
    last_seq: u64,
}

/// The records of a DTLS datagram: (content type, epoch, sequence number) each.
fn records(bytes: &[u8]) -> Vec<(u8, u16, u64)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 13 <= bytes.len() {
        let epoch = u16::from_be_bytes([bytes[i + 3], bytes[i + 4]]);
        let mut seq = [0u8; 8];
        seq[2..].copy_from_slice(&bytes[i + 5..i + 11]);
        let len = usize::from(u16::from_be_bytes([bytes[i + 11], bytes[i + 12]]));
        out.push((bytes[i], epoch, u64::from_be_bytes(seq)));
        i += 13 + len;
    }
    out
}

/// A fatal `bad_record_mac` alert in the clear (epoch 0, sequence number `seq`): what a
/// server whose key differs sends when the client's Finished does not decrypt. RFC 6347
/// §4.1.2.7 allows it (a DTLS server that alerts on an invalid MAC MUST send this one,
/// fatal); RFC 5246 §7.2: on a fatal alert both sides close at once, and Transport 1.2
/// §5.2.10: the client "MUST consider the handshake failed". Without it a client learns of
/// the failure only from its own handshake timers, whose length the texts leave open.
fn bad_record_mac(seq: u64) -> Vec<u8> {
    let mut r = vec![21, 0xfe, 0xfd, 0, 0];
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&[0, 2, 2, 20]);
    r
}

/// A driver that speaks CoAP over DTLS-PSK on the sockets of the driver it wraps.
pub struct DtlsDriver<D: Driver> {
    inner: D,
    keys: Arc<Mutex<ServerKeys>>,
    sessions: HashMap<(usize, SocketAddr), Session>,
    /// CoAP datagrams decrypted and not yet taken.
    ready: VecDeque<Datagram>,
    /// What the client did wrong at the security layer, for the step that sees it.
    violations: Vec<String>,
    /// What happened at the security layer (handshakes, suites), for the report.
    notes: Vec<String>,
    /// Whether a flood was reported already.
    flood_noted: bool,
    /// Sessions the client closed (close_notify), by server and address: a server's request
    /// to it afterwards is an error of the client, not a server speaking first.
    closed: Vec<(usize, SocketAddr)>,
    /// How each server treats handshakes (absent: [`Gate::Open`]).
    gates: HashMap<usize, Gate>,
    /// The last ClientHello of a handshake a [`Gate::Hold`] holds, by server and address.
    held: HashMap<(usize, SocketAddr), Datagram>,
    /// Handshakes seen at servers whose gate is not open, not yet taken.
    handshakes: Vec<Handshake>,
}

impl<D: Driver> DtlsDriver<D> {
    /// Wraps `inner`, whose sockets then carry DTLS records.
    pub fn new(inner: D) -> DtlsDriver<D> {
        DtlsDriver {
            inner,
            keys: Arc::new(Mutex::new(ServerKeys::default())),
            sessions: HashMap::new(),
            ready: VecDeque::new(),
            violations: Vec::new(),
            notes: Vec::new(),
            flood_noted: false,
            closed: Vec::new(),
            gates: HashMap::new(),
            held: HashMap::new(),
            handshakes: Vec::new(),
        }
    }

    fn gate(&self, server: usize) -> Gate {
        self.gates.get(&server).copied().unwrap_or_default()
    }

    fn session_for(&mut self, server: usize, from: SocketAddr, now: Instant) -> Option<()> {
        let handshaking = self
            .sessions
            .iter()
            .filter(|((s, _), x)| *s == server && !x.dtls.is_established())
            .count();
        if handshaking >= MAX_HANDSHAKES {
            if !self.flood_noted {
                self.flood_noted = true;
                self.violations.push(format!(
                    "more than {MAX_HANDSHAKES} DTLS handshakes at once with {}: further ClientHellos dropped",
                    server_name(server)
                ));
            }
            return None;
        }
        let keys = Arc::clone(&self.keys);
        let refusing = self.gate(server) == Gate::Refuse;
        // A refusing server knows the account's identity but holds another key for it.
        let lookup = Arc::new(move |identity: &[u8]| {
            let key = keys
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .key(server, identity);
            match refusing {
                true => key.map(|k| k.iter().map(|b| !b).collect()),
                false => key,
            }
        });
        match DtlsSession::new(Role::Server(lookup), now) {
            Ok(dtls) => {
                self.sessions.insert(
                    (server, from),
                    Session {
                        dtls,
                        started: now,
                        announced: false,
                        refusing,
                        last_seq: 0,
                    },
                );
                Some(())
            }
            Err(e) => {
                self.violations
                    .push(format!("cannot start a DTLS session for {from}: {e}"));
                None
            }
        }
    }

    /// Takes one datagram from the wrapped driver: decrypts it into `ready`, or reports it.
    fn ingest(&mut self, d: Datagram) -> Result<(), AdapterError> {
        let key = (d.server, d.from);
        if !looks_like_dtls(&d.bytes) {
            let what = if coap_lite::Packet::from_bytes(&d.bytes).is_ok() {
                "plain CoAP"
            } else {
                "a datagram that is not DTLS"
            };
            self.violations.push(format!(
                "the client sent {what} ({} bytes) to {}, a coaps:// server: dropped (BS-SEC-02: data only in an authenticated DTLS session)",
                d.bytes.len(),
                server_name(d.server)
            ));
            return Ok(());
        }
        let fresh = is_client_hello(&d.bytes)
            && self
                .sessions
                .get(&key)
                .is_none_or(|s| s.dtls.is_established() || s.dtls.error().is_some());
        if fresh {
            match self.gate(d.server) {
                Gate::Open => {}
                Gate::Hold => {
                    if !self.held.contains_key(&key) {
                        self.handshakes.push(Handshake::Started {
                            server: d.server,
                            at: d.at,
                        });
                    }
                    self.held.insert(key, d);
                    return Ok(());
                }
                Gate::Refuse => self.handshakes.push(Handshake::Started {
                    server: d.server,
                    at: d.at,
                }),
            }
            if self.session_for(d.server, d.from, d.at).is_none() {
                return Ok(());
            }
        }
        let Some(s) = self.sessions.get_mut(&key) else {
            // A record of no session (its handshake was dropped): discarded, RFC 6347
            // §4.1.2.7.
            return Ok(());
        };
        let result = s.dtls.handle_datagram(d.at, &d.bytes);
        let identity = s.dtls.peer_identity().unwrap_or_default();
        let mut plains = Vec::new();
        while let Some(plain) = s.dtls.poll_plaintext() {
            plains.push(plain);
        }
        for plain in plains {
            if is_request(&plain) && !self.accepts(d.server, &identity) {
                self.violations.push(format!(
                    "the client sent a request to {} in its session keyed with PSK identity {:?}, which its account no longer holds ({}): when the security material of an account changes the client opens a new session with the new material (BS-WIPE-05, BS-SEC-05; A-17, A-25 in the README)",
                    server_name(d.server),
                    String::from_utf8_lossy(&identity),
                    self.accepted(d.server).join(", ")
                ));
            }
            self.ready.push_back(Datagram {
                server: d.server,
                from: d.from,
                bytes: plain,
                at: d.at,
                wall: d.wall,
            });
        }
        if let Err(e) = result {
            self.failed(key, &e);
        } else if self.sessions.get(&key).is_some_and(|s| s.dtls.is_closed()) {
            self.failed(key, &DtlsError::Closed);
        }
        self.announce(key);
        self.flush(key)?;
        self.refuse(key, &d.bytes, d.at)
    }

    /// A refusing server's session that got the client's ChangeCipherSpec: the client's
    /// Finished, under a key that differs from the server's, cannot be verified (OpenSSL
    /// drops it, RFC 6347 §4.1.2.7); the server ends the handshake with a fatal
    /// `bad_record_mac` and reports it.
    fn refuse(
        &mut self,
        key: (usize, SocketAddr),
        received: &[u8],
        at: Instant,
    ) -> Result<(), AdapterError> {
        let Some(s) = self.sessions.get(&key) else {
            return Ok(());
        };
        let final_flight = records(received).iter().any(|(t, _, _)| *t == 20);
        if !s.refusing || !final_flight || s.dtls.is_established() || s.dtls.error().is_some() {
            return Ok(());
        }
        let identity = s.dtls.presented_identity().unwrap_or_default();
        let alert = bad_record_mac(s.last_seq + 1);
        self.refused(key, identity, at, "fatal bad_record_mac");
        self.inner.send(key.0, key.1, &alert)
    }

    /// Drops the session `key` a refusing server failed (`how`), noting and reporting it.
    fn refused(&mut self, key: (usize, SocketAddr), identity: Vec<u8>, at: Instant, how: &str) {
        self.sessions.remove(&key);
        self.notes.push(format!(
            "DTLS handshake with {} from {} refused: the server holds another key for PSK identity {:?} ({how})",
            server_name(key.0),
            key.1,
            String::from_utf8_lossy(&identity)
        ));
        self.handshakes.push(Handshake::Refused {
            server: key.0,
            at,
            identity,
        });
    }

    fn announce(&mut self, key: (usize, SocketAddr)) {
        let Some(s) = self.sessions.get_mut(&key) else {
            return;
        };
        if s.dtls.is_established() && !s.announced {
            s.announced = true;
            self.notes.push(format!(
                "DTLS session with {} from {}: PSK identity {:?}, {}",
                server_name(key.0),
                key.1,
                String::from_utf8_lossy(&s.dtls.peer_identity().unwrap_or_default()),
                s.dtls.cipher().unwrap_or("?")
            ));
        }
    }

    /// Whether server `server` accepts PSK identity `identity` now.
    fn accepts(&self, server: usize, identity: &[u8]) -> bool {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .key(server, identity)
            .is_some()
    }

    /// The identities server `server` accepts now.
    fn accepted(&self, server: usize) -> Vec<String> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .identities(server)
    }

    fn failed(&mut self, (server, from): (usize, SocketAddr), e: &DtlsError) {
        let accepted = self.accepted(server);
        let refusing = self
            .sessions
            .get(&(server, from))
            .filter(|s| s.refusing)
            .map(|s| s.dtls.presented_identity().unwrap_or_default());
        if let (Some(identity), DtlsError::HandshakeFailed(why)) = (refusing, e) {
            // The server's own key made it fail (had OpenSSL alerted on the Finished
            // itself): a refusal, not the client's fault.
            let _ = self.flush((server, from));
            let at = self.inner.now();
            self.refused((server, from), identity, at, why);
            return;
        }
        let why = match e {
            DtlsError::BadRecord(_) => return,
            // Closing a session is the client's right; what it then misses is judged.
            DtlsError::Closed => {
                self.sessions.remove(&(server, from));
                self.closed.push((server, from));
                return;
            }
            DtlsError::UnknownIdentity(id) => format!(
                "the client presented PSK identity {:?} to {}, which takes the keys of its account only ({}) (BS-SEC-05)",
                String::from_utf8_lossy(id),
                server_name(server),
                if accepted.is_empty() {
                    "the client has no account for it".to_string()
                } else {
                    accepted.join(", ")
                }
            ),
            e => format!(
                "the client's DTLS session with {} from {from} failed: {e} (BS-SEC-05: the key of the account paired with the server)",
                server_name(server)
            ),
        };
        self.violations.push(why);
        // The fatal alert OpenSSL wrote (unknown_psk_identity, ...) tells the client at
        // once, rather than leaving it to retry until its own timers give up.
        let _ = self.flush((server, from));
        self.sessions.remove(&(server, from));
    }

    /// Sends the records session `key` has to send.
    fn flush(&mut self, key: (usize, SocketAddr)) -> Result<(), AdapterError> {
        let Some(s) = self.sessions.get_mut(&key) else {
            return Ok(());
        };
        let mut out = Vec::new();
        while let Some(r) = s.dtls.poll_transmit() {
            for (_, epoch, seq) in records(&r) {
                if epoch == 0 {
                    s.last_seq = s.last_seq.max(seq);
                }
            }
            out.push(r);
        }
        for r in out {
            self.inner.send(key.0, key.1, &r)?;
        }
        Ok(())
    }

    /// Retransmits handshake flights that are due and drops handshakes over their limit.
    fn timers(&mut self, now: Instant) -> Result<(), AdapterError> {
        let keys: Vec<_> = self.sessions.keys().copied().collect();
        for key in keys {
            let Some(s) = self.sessions.get_mut(&key) else {
                continue;
            };
            if !s.dtls.is_established() && now >= s.started + HANDSHAKE_LIMIT {
                self.violations.push(format!(
                    "the client's DTLS handshake with {} from {} did not complete within {} s: dropped (a client whose key is not the account's ends so: its Finished does not decrypt and is discarded, RFC 6347 §4.1.2.7; BS-SEC-05)",
                    server_name(key.0),
                    key.1,
                    HANDSHAKE_LIMIT.as_secs()
                ));
                self.sessions.remove(&key);
                continue;
            }
            if s.dtls.poll_timeout().is_some_and(|t| t <= now) {
                s.dtls.handle_timeout(now);
                if let Some(e) = s.dtls.error().cloned() {
                    self.failed(key, &e);
                    continue;
                }
            }
            self.flush(key)?;
        }
        Ok(())
    }

    fn next_timer(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| {
                let limit = (!s.dtls.is_established()).then_some(s.started + HANDSHAKE_LIMIT);
                [s.dtls.poll_timeout(), limit].into_iter().flatten().min()
            })
            .min()
    }
}

impl<D: Driver> Driver for DtlsDriver<D> {
    fn bind(&mut self, v: &Vector) -> Result<Vec<(String, SocketAddr)>, AdapterError> {
        self.inner.bind(v)
    }

    fn launch(&mut self, v: &Vector, uris: &UriMap) -> Result<Option<SocketAddr>, AdapterError> {
        self.inner.launch(v, uris)
    }

    fn knows_start(&self) -> bool {
        self.inner.knows_start()
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn wall(&self) -> SystemTime {
        self.inner.wall()
    }

    /// Encrypts `bytes` in the client's session with `server`. The client opens every
    /// session (it is the DTLS client); a vector in which a server speaks first, before the
    /// client opened a session with it (a 1.0 server-initiated bootstrap, a server reaching
    /// a client that has not contacted it), is skipped: the text does not say who opens
    /// the session then (ambiguity A-24 in the README).
    fn send(&mut self, server: usize, to: SocketAddr, bytes: &[u8]) -> Result<(), AdapterError> {
        let key = (server, to);
        let Some(s) = self
            .sessions
            .get_mut(&key)
            .filter(|s| s.dtls.is_established())
        else {
            if self.closed.contains(&key) {
                return Err(AdapterError::Protocol {
                    line: String::new(),
                    why: format!(
                        "the client closed its DTLS session with {} (close_notify) before the server's request to it",
                        server_name(server)
                    ),
                });
            }
            return Err(AdapterError::Unsupported(format!(
                "over DTLS: {} speaks first, with no session the client opened; who opens a DTLS session then is not settled (ambiguity A-24 in the README)",
                server_name(server)
            )));
        };
        if let Err(e) = s.dtls.send(bytes) {
            return Err(AdapterError::Protocol {
                line: String::new(),
                why: format!("{} cannot send to {to}: {e}", server_name(server)),
            });
        }
        self.flush(key)
    }

    /// The next CoAP datagram, or `None` at `until`, or early when a handshake at a server
    /// whose gate is not open was seen meanwhile ([`Driver::take_handshakes`]).
    fn next_datagram(&mut self, until: Instant) -> Result<Option<Datagram>, AdapterError> {
        let seen = self.handshakes.len();
        loop {
            if let Some(d) = self.ready.pop_front() {
                return Ok(Some(d));
            }
            let now = self.inner.now();
            self.timers(now)?;
            if now >= until || self.handshakes.len() > seen {
                return Ok(None);
            }
            let wake = self.next_timer().map_or(until, |t| t.min(until));
            match self.inner.next_datagram(wake.max(now))? {
                Some(d) => self.ingest(d)?,
                None if self.inner.now() >= until => return Ok(None),
                None => {}
            }
        }
    }

    fn wait_until(&mut self, until: Instant) -> Result<(), AdapterError> {
        // Handshakes go on meanwhile; their CoAP datagrams are held for later.
        while self.inner.now() < until {
            let wake = self.next_timer().map_or(until, |t| t.min(until));
            if let Some(d) = self.inner.next_datagram(wake)? {
                self.ingest(d)?;
            }
            self.timers(self.inner.now())?;
        }
        Ok(())
    }

    fn await_client(&mut self, addr: SocketAddr, timeout: Duration) -> Result<(), AdapterError> {
        self.inner.await_client(addr, timeout)
    }

    fn secure(&self) -> bool {
        true
    }

    fn set_keys(&mut self, keys: ServerKeys) {
        *self.keys.lock().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    fn take_violations(&mut self) -> Vec<String> {
        std::mem::take(&mut self.violations)
    }

    /// Sets how `server` treats handshakes; a handshake held for it goes on under the new
    /// gate at once (refused with [`Gate::Refuse`], accepted with [`Gate::Open`]).
    fn set_gate(&mut self, server: usize, gate: Gate) {
        self.gates.insert(server, gate);
        if gate == Gate::Hold {
            return;
        }
        let released: Vec<_> = self
            .held
            .keys()
            .filter(|k| k.0 == server)
            .copied()
            .collect();
        for key in released {
            if let Some(mut d) = self.held.remove(&key) {
                // Its handshake starts now: the limit counts from here.
                d.at = self.inner.now();
                if self.session_for(d.server, d.from, d.at).is_some() {
                    if let Err(e) = self.ingest(d) {
                        self.violations.push(e.to_string());
                    }
                }
            }
        }
    }

    fn take_handshakes(&mut self) -> Vec<Handshake> {
        std::mem::take(&mut self.handshakes)
    }

    fn stop(&mut self) {
        for s in self.sessions.values_mut() {
            s.dtls.close();
        }
        let keys: Vec<_> = self.sessions.keys().copied().collect();
        for key in keys {
            let _ = self.flush(key);
        }
        self.inner.stop();
    }

    /// What the client printed, then the harness's account of the DTLS sessions (the
    /// identity and suite of each), for the report.
    fn client_output(&self) -> String {
        let mut out = self.inner.client_output();
        if !self.notes.is_empty() {
            out.push_str("\n[harness] DTLS:\n");
            for n in &self.notes {
                out.push_str(n);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
