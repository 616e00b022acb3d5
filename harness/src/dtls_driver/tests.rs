//! The DTLS driver over a scripted inner driver on a virtual clock, against real client
//! [`DtlsSession`]s in memory: the right key, another account's identity, the right
//! identity with a wrong key, junk, a handshake that stops halfway, a ClientHello flood,
//! a server speaking first, and a client reconnecting with a new key.

use super::*;
use crate::dtls::{DtlsConfig, Psk};
use bootstrap_model::objects::{KeyId, SecurityInstance, ServerUri};
use bootstrap_model::store::ObjectStore;
use conformance::wire::{psk_identity, secret_key};
use std::collections::HashSet;

/// The Bootstrap-Server Account's key (server 0 takes it) and DM0's account key (server 2).
const BS_KEY: u8 = 100;
const DM0_KEY: u8 = 1;
/// The Bootstrap-Server Account's key after a re-bootstrap.
const NEW_BS_KEY: u8 = 101;

/// One virtual step of a pump.
const STEP: Duration = Duration::from_millis(10);

/// How often the driver may ask the script for a datagram in one test: a driver that polls
/// without letting virtual time pass fails the test here instead of hanging it.
const MAX_CALLS: usize = 10_000;

/// A CoAP CON POST /bs?ep=node (the Bootstrap-Request) and an ACK 2.04 to it.
const BOOTSTRAP_REQUEST: &[u8] = b"\x40\x02\x12\x34\xb2bs\x47ep=node";
const CHANGED: &[u8] = b"\x60\x44\x12\x34";

/// A record the driver sent.
struct Sent {
    server: usize,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// The wrapped driver: a virtual clock, the datagrams the test queued, what was sent.
struct Script {
    now: Instant,
    inbound: VecDeque<Datagram>,
    sent: Vec<Sent>,
    calls: usize,
}

impl Driver for Script {
    fn bind(&mut self, _: &Vector) -> Result<Vec<(String, SocketAddr)>, AdapterError> {
        Ok(Vec::new())
    }

    fn launch(&mut self, _: &Vector, _: &UriMap) -> Result<Option<SocketAddr>, AdapterError> {
        Ok(None)
    }

    fn knows_start(&self) -> bool {
        true
    }

    fn now(&self) -> Instant {
        self.now
    }

    fn wall(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
    }

    fn send(&mut self, server: usize, to: SocketAddr, bytes: &[u8]) -> Result<(), AdapterError> {
        let bytes = bytes.to_vec();
        self.sent.push(Sent { server, to, bytes });
        Ok(())
    }

    /// The next queued datagram due by `until`; else the clock moves to `until`.
    fn next_datagram(&mut self, until: Instant) -> Result<Option<Datagram>, AdapterError> {
        self.calls += 1;
        assert!(self.calls <= MAX_CALLS, "the driver polls without end");
        match self.inbound.front() {
            Some(d) if d.at <= until => {
                self.now = self.now.max(d.at);
                Ok(self.inbound.pop_front())
            }
            _ => {
                self.now = self.now.max(until);
                Ok(None)
            }
        }
    }

    fn wait_until(&mut self, until: Instant) -> Result<(), AdapterError> {
        self.now = self.now.max(until);
        Ok(())
    }

    fn await_client(&mut self, _: SocketAddr, _: Duration) -> Result<(), AdapterError> {
        Ok(())
    }

    fn stop(&mut self) {}

    fn client_output(&self) -> String {
        String::new()
    }
}

type Tested = DtlsDriver<Script>;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn psk(k: u8) -> Psk {
    Psk {
        identity: psk_identity(KeyId(k)),
        key: secret_key(KeyId(k)),
    }
}

/// What the servers accept: the Bootstrap-Server Account's key `bs` at server 0, DM0's
/// account key at server 2.
fn keys(bs: u8) -> ServerKeys {
    let mut store = ObjectStore::default();
    let bootstrap = SecurityInstance::bootstrap_account(ServerUri::Bootstrap, KeyId(bs));
    let dm0 = SecurityInstance::server_account(ServerUri::Server(0), 101, KeyId(DM0_KEY));
    store.security.put(0, bootstrap);
    store.security.put(1, dm0);
    ServerKeys::of(&[&store], 3)
}

fn driver() -> Tested {
    let mut d = DtlsDriver::new(Script {
        now: Instant::now(),
        inbound: VecDeque::new(),
        sent: Vec::new(),
        calls: 0,
    });
    d.set_keys(keys(BS_KEY));
    d
}

/// Queues `bytes` from `from` to `server`, arriving now.
fn deliver(d: &mut Tested, server: usize, from: SocketAddr, bytes: Vec<u8>) {
    let at = d.inner.now;
    let wall = SystemTime::UNIX_EPOCH;
    let datagram = Datagram {
        server,
        from,
        bytes,
        at,
        wall,
    };
    d.inner.inbound.push_back(datagram);
}

/// The records the driver sent to `server`'s client at `to` since the last call; those to
/// others are dropped.
fn take_sent(d: &mut Tested, server: usize, to: SocketAddr) -> Vec<Vec<u8>> {
    let sent = std::mem::take(&mut d.inner.sent);
    let mine = sent
        .into_iter()
        .filter(|s| (s.server, s.to) == (server, to));
    mine.map(|s| s.bytes).collect()
}

/// The CoAP datagrams the driver hands over within one virtual step.
fn step(d: &mut Tested) -> Vec<Datagram> {
    let until = d.inner.now + STEP;
    std::iter::from_fn(|| d.next_datagram(until).unwrap()).collect()
}

/// A client's DTLS session with one of the driver's servers, from one address.
struct Client {
    dtls: DtlsSession,
    server: usize,
    addr: SocketAddr,
}

impl Client {
    /// A client with short timers, its ClientHello ready.
    fn new(server: usize, port: u16, psk: Psk) -> Client {
        let config = DtlsConfig {
            initial_retransmit: Duration::from_millis(20),
            max_retransmit: Duration::from_millis(40),
            ..DtlsConfig::default()
        };
        let dtls = DtlsSession::with_config(Role::Client(psk), &config, Instant::now()).unwrap();
        Client {
            dtls,
            server,
            addr: addr(port),
        }
    }

    /// Moves records both ways through the driver, a virtual step at a time, until
    /// neither side has any (bounded): the CoAP datagrams the driver handed over, and the
    /// client's errors.
    fn pump(&mut self, d: &mut Tested) -> (Vec<Datagram>, Vec<DtlsError>) {
        let (mut got, mut errors) = (Vec::new(), Vec::new());
        for _ in 0..32 {
            let mut moved = false;
            while let Some(r) = self.dtls.poll_transmit() {
                deliver(d, self.server, self.addr, r);
                moved = true;
            }
            got.extend(step(d));
            for r in take_sent(d, self.server, self.addr) {
                errors.extend(self.dtls.handle_datagram(d.inner.now, &r).err());
                moved = true;
            }
            if !moved {
                break;
            }
        }
        (got, errors)
    }

    /// A completed handshake, with nothing handed over and no error.
    fn connect(&mut self, d: &mut Tested) {
        let (got, errors) = self.pump(d);
        assert!(self.dtls.is_established(), "{:?}", self.dtls.error());
        assert_eq!((got.len(), errors), (0, vec![]));
    }

    /// Sends `coap` in the session: the datagram the driver hands over.
    fn exchange(&mut self, d: &mut Tested, coap: &[u8]) -> Datagram {
        self.dtls.send(coap).unwrap();
        let (mut got, errors) = self.pump(d);
        assert_eq!((got.len(), errors), (1, vec![]));
        got.remove(0)
    }

    /// `coap` from the driver's server reaches the client encrypted and decrypts there.
    fn receive(&mut self, d: &mut Tested, coap: &[u8]) {
        d.send(self.server, self.addr, coap).unwrap();
        let records = take_sent(d, self.server, self.addr);
        assert_eq!(records.len(), 1, "one record for one CoAP message");
        let record = &records[0];
        assert!(
            looks_like_dtls(record) && record[0] == 23,
            "application data"
        );
        assert!(!record.windows(coap.len()).any(|w| w == coap), "encrypted");
        self.dtls.handle_datagram(d.inner.now, record).unwrap();
        assert_eq!(self.dtls.poll_plaintext().as_deref(), Some(coap));
    }

    /// Its ClientHello.
    fn hello(&mut self) -> Vec<u8> {
        let hello = self.dtls.poll_transmit().unwrap();
        assert!(is_client_hello(&hello));
        hello
    }
}

/// The one violation since the last call; it contains each of `words`.
fn one_violation<S: AsRef<str>>(d: &mut Tested, words: &[S]) -> String {
    let v = d.take_violations();
    assert_eq!(v.len(), 1, "{v:?}");
    for w in words.iter().map(AsRef::as_ref) {
        assert!(v[0].contains(w), "{w:?} not in {:?}", v[0]);
    }
    v[0].clone()
}

fn did_not_complete(from: SocketAddr) -> [String; 3] {
    let limit = format!("did not complete within {} s", HANDSHAKE_LIMIT.as_secs());
    [limit, format!("from {from}"), "BS-SEC-05".into()]
}

#[test]
fn the_accounts_key_opens_a_session_that_carries_coap_both_ways() {
    let mut d = driver();
    let mut c = Client::new(0, 5683, psk(BS_KEY));
    c.connect(&mut d);

    let got = c.exchange(&mut d, BOOTSTRAP_REQUEST);
    assert_eq!((got.server, got.from), (0, c.addr));
    assert_eq!(got.bytes, BOOTSTRAP_REQUEST, "decrypted");
    c.receive(&mut d, CHANGED);

    // A datagram that comes while the player waits is held for later, decrypted.
    c.dtls.send(b"\x40\x02\x12\x35\xb2bs").unwrap();
    deliver(&mut d, 0, c.addr, c.dtls.poll_transmit().unwrap());
    let later = d.inner.now + STEP;
    d.wait_until(later).unwrap();
    assert_eq!(d.inner.now, later);
    let held = step(&mut d);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].bytes, b"\x40\x02\x12\x35\xb2bs");

    assert_eq!(d.take_violations(), Vec::<String>::new());
    assert!(d.client_output().contains("PSK identity \"key-100\""));
}

#[test]
fn another_accounts_identity_is_refused_and_named() {
    let mut d = driver();
    let start = d.inner.now;
    // DM0's account: its identity and key, presented to the bootstrap server.
    let mut c = Client::new(0, 5684, psk(DM0_KEY));
    let (got, _) = c.pump(&mut d);
    assert!(got.is_empty() && !c.dtls.is_established());
    let words = ["\"key-1\"", "the bootstrap server", "key-100", "BS-SEC-05"];
    one_violation(&mut d, &words);
    assert!(d.sessions.is_empty(), "the failed session is dropped");

    // Nothing comes through, and the failure is reported once.
    assert!(d
        .next_datagram(start + 2 * HANDSHAKE_LIMIT)
        .unwrap()
        .is_none());
    assert_eq!(d.take_violations(), Vec::<String>::new());
}

#[test]
fn the_right_identity_with_a_wrong_key_times_out_and_is_dropped() {
    let mut d = driver();
    let start = d.inner.now;
    let wrong = Psk {
        key: secret_key(KeyId(7)),
        ..psk(BS_KEY)
    };
    let mut c = Client::new(0, 5685, wrong);
    let (got, _) = c.pump(&mut d);
    assert!(got.is_empty() && !c.dtls.is_established());
    // The server discards the Finished it cannot decrypt (RFC 6347 §4.1.2.7) and waits.
    assert_eq!(d.sessions.len(), 1);
    assert_eq!(d.take_violations(), Vec::<String>::new());

    d.wait_until(start + HANDSHAKE_LIMIT - STEP).unwrap();
    assert_eq!((d.sessions.len(), d.take_violations().len()), (1, 0));
    d.wait_until(start + HANDSHAKE_LIMIT + STEP).unwrap();
    one_violation(&mut d, &did_not_complete(c.addr));
    assert!(d.sessions.is_empty(), "dropped");
    assert!(step(&mut d).is_empty());
}

#[test]
fn junk_is_dropped_or_reported_and_a_good_client_still_gets_through() {
    let mut d = driver();
    let junk_from = addr(6000);
    let hello = Client::new(0, 1, psk(BS_KEY)).hello();
    let mut bogus_length = hello.clone();
    bogus_length[11..13].copy_from_slice(&[0xff, 0xff]);
    let epoch_1_past_the_end = [&[23, 0xfe, 0xfd, 0, 1][..], &[0; 6], &[0x40, 0], &[7; 8]];
    let junk: [(&str, Vec<u8>, Option<&str>); 7] = [
        ("empty", vec![], Some("not DTLS")),
        (
            "garbage",
            b"\xde\xad\xbe\xef garbage".to_vec(),
            Some("not DTLS"),
        ),
        ("plain CoAP", BOOTSTRAP_REQUEST.to_vec(), Some("plain CoAP")),
        ("a bare header", hello[..13].to_vec(), None),
        ("past the end", epoch_1_past_the_end.concat(), None),
        (
            "truncated ClientHello",
            hello[..hello.len() - 9].to_vec(),
            None,
        ),
        ("ClientHello, bogus length", bogus_length, None),
    ];
    for (what, bytes, reported) in junk {
        deliver(&mut d, 0, junk_from, bytes);
        assert!(step(&mut d).is_empty(), "{what}");
        assert!(d.inner.inbound.is_empty(), "{what} taken");
        match reported {
            Some(word) => {
                let v = one_violation(&mut d, &[word, "BS-SEC-02", "the bootstrap server"]);
                assert!(!v.contains("plain CoAP") || what == "plain CoAP", "{v}");
            }
            // Invalid records are discarded (RFC 6347 §4.1.2.7).
            None => assert_eq!(d.take_violations(), Vec::<String>::new(), "{what}"),
        }
    }

    let mut c = Client::new(0, 5686, psk(BS_KEY));
    c.connect(&mut d);
    let got = c.exchange(&mut d, BOOTSTRAP_REQUEST);
    assert_eq!(
        (got.from, got.bytes.as_slice()),
        (c.addr, BOOTSTRAP_REQUEST)
    );
    c.receive(&mut d, CHANGED);
    assert_eq!(d.take_violations(), Vec::<String>::new());
}

#[test]
fn a_handshake_that_stops_after_the_client_hello_is_dropped_at_the_limit() {
    let mut d = driver();
    let start = d.inner.now;
    let mut c = Client::new(0, 5687, psk(BS_KEY));
    deliver(&mut d, 0, c.addr, c.hello());

    // The driver answers, then hears nothing: until just before the limit, all is well.
    let before = start + HANDSHAKE_LIMIT - STEP;
    assert!(d.next_datagram(before).unwrap().is_none());
    assert_eq!(d.inner.now, before, "None at its deadline");
    assert!(
        !take_sent(&mut d, 0, c.addr).is_empty(),
        "the server's flight"
    );
    assert_eq!((d.sessions.len(), d.take_violations().len()), (1, 0));

    let deadline = start + HANDSHAKE_LIMIT + STEP;
    assert!(d.next_datagram(deadline).unwrap().is_none());
    assert_eq!(d.inner.now, deadline, "None at its deadline");
    one_violation(&mut d, &did_not_complete(c.addr));
    assert!(d.sessions.is_empty(), "dropped");
    // With no session left, waiting costs one call of the inner driver.
    let calls = d.inner.calls;
    assert!(d
        .next_datagram(deadline + HANDSHAKE_LIMIT)
        .unwrap()
        .is_none());
    assert_eq!(d.inner.calls, calls + 1);
}

#[test]
fn a_client_hello_flood_keeps_at_most_max_handshakes() {
    let mut d = driver();
    let start = d.inner.now;
    let hello = Client::new(0, 1, psk(BS_KEY)).hello();
    let flood: Vec<SocketAddr> = (0..100).map(|i| addr(7000 + i)).collect();
    for from in &flood {
        deliver(&mut d, 0, *from, hello.clone());
    }
    assert!(step(&mut d).is_empty());
    assert!(d.inner.inbound.is_empty(), "every ClientHello taken");
    assert!(d.inner.calls < 2 * flood.len(), "{} calls", d.inner.calls);

    assert_eq!(d.sessions.len(), MAX_HANDSHAKES);
    let answered: HashSet<SocketAddr> = d.inner.sent.iter().map(|s| s.to).collect();
    assert_eq!(
        answered.len(),
        MAX_HANDSHAKES,
        "only the kept ones are answered"
    );
    let flood_word = format!("more than {MAX_HANDSHAKES} DTLS handshakes at once");
    one_violation(&mut d, &[flood_word.as_str(), "the bootstrap server"]);

    // A client that comes meanwhile is turned away; none of it is reported again.
    let mut late = Client::new(0, 5688, psk(BS_KEY));
    late.pump(&mut d);
    assert!(!late.dtls.is_established());
    assert_eq!(d.take_violations(), Vec::<String>::new());

    // The flood's handshakes end at the limit, and then a client gets through.
    d.wait_until(start + HANDSHAKE_LIMIT + STEP).unwrap();
    let dropped = d.take_violations();
    assert_eq!(dropped.len(), MAX_HANDSHAKES, "{dropped:?}");
    assert!(dropped.iter().all(|v| v.contains("did not complete")));
    assert!(d.sessions.is_empty());
    let mut c = Client::new(0, 5689, psk(BS_KEY));
    c.connect(&mut d);
    assert!(d.inner.calls < MAX_CALLS / 10, "{} calls", d.inner.calls);
}

#[test]
fn a_server_cannot_speak_first_over_dtls_a24() {
    let mut d = driver();
    let a24 = |r: Result<(), AdapterError>| match r {
        Err(AdapterError::Unsupported(why)) => assert!(why.contains("A-24"), "{why}"),
        other => panic!("{other:?}"),
    };
    // No session with that client at all.
    a24(d.send(0, addr(5690), CHANGED));
    // A handshake the client started and has not finished.
    let mut c = Client::new(0, 5691, psk(BS_KEY));
    deliver(&mut d, 0, c.addr, c.hello());
    step(&mut d);
    assert_eq!(d.sessions.len(), 1);
    let flight = d.inner.sent.len();
    a24(d.send(0, c.addr, CHANGED));
    assert_eq!(d.inner.sent.len(), flight, "nothing went out");
    // A session with another server.
    c.connect(&mut d);
    a24(d.send(2, c.addr, CHANGED));
    assert!(d.inner.sent.is_empty(), "nothing went out");
    c.receive(&mut d, CHANGED);
}

#[test]
fn a_client_hello_on_an_established_session_starts_a_fresh_one() {
    let mut d = driver();
    let mut first = Client::new(0, 5692, psk(BS_KEY));
    first.connect(&mut d);
    assert_eq!(
        first.exchange(&mut d, BOOTSTRAP_REQUEST).bytes,
        BOOTSTRAP_REQUEST
    );

    // Re-bootstrapped: the Bootstrap-Server Account has a new key, and the client opens
    // a new session with it from the same address.
    d.set_keys(keys(NEW_BS_KEY));
    let mut second = Client::new(0, 5692, psk(NEW_BS_KEY));
    second.connect(&mut d);
    assert_eq!(d.sessions.len(), 1, "the new session replaced the old");
    let got = second.exchange(&mut d, BOOTSTRAP_REQUEST);
    assert_eq!(
        (got.from, got.bytes.as_slice()),
        (second.addr, BOOTSTRAP_REQUEST)
    );
    second.receive(&mut d, CHANGED);

    assert_eq!(d.take_violations(), Vec::<String>::new());
    let notes = d.client_output();
    assert!(
        notes.contains("\"key-100\"") && notes.contains("\"key-101\""),
        "{notes}"
    );
}

#[test]
fn a_client_that_closes_its_session_is_not_reported_and_may_reconnect() {
    let mut d = driver();
    let mut c = Client::new(0, 5693, psk(BS_KEY));
    c.connect(&mut d);
    c.exchange(&mut d, BOOTSTRAP_REQUEST);
    c.dtls.close(); // close_notify (RFC 5246 §7.2.1)
    let (got, errors) = c.pump(&mut d);
    assert_eq!((got.len(), errors), (0, vec![]));

    // A closed session is neither a handshake that did not complete nor a failure.
    d.wait_until(d.inner.now + 2 * HANDSHAKE_LIMIT).unwrap();
    assert_eq!(d.take_violations(), Vec::<String>::new());
    assert!(d.sessions.is_empty(), "let go");

    // The client opens a new session from the same address, and it works at once.
    let mut again = Client::new(0, 5693, psk(BS_KEY));
    again.connect(&mut d);
    let got = again.exchange(&mut d, BOOTSTRAP_REQUEST);
    assert_eq!(
        (got.from, got.bytes.as_slice()),
        (again.addr, BOOTSTRAP_REQUEST)
    );
    assert_eq!(d.take_violations(), Vec::<String>::new());
}

/// A management server that holds another key (`register-handshake-failed`): the client's
/// ClientHello is reported and held while the gate holds it; once the gate refuses, the
/// handshake runs to the client's Finished, which cannot be verified, and the server's
/// fatal bad_record_mac ends it at the client at once, with no violation (the client did
/// nothing wrong) and the identity it presented reported. Opened again, the same account
/// gets its session.
#[test]
fn a_refusing_server_holds_then_fails_the_handshake_with_a_fatal_alert() {
    let mut d = driver();
    let mut c = Client::new(2, 5690, psk(DM0_KEY));
    d.set_gate(2, Gate::Hold);
    let (got, errors) = c.pump(&mut d);
    assert_eq!((got.len(), errors), (0, vec![]));
    assert!(!c.dtls.is_established());
    let started = d.take_handshakes();
    assert!(
        matches!(started[..], [Handshake::Started { server: 2, .. }]),
        "{started:?}"
    );
    assert!(d.sessions.is_empty(), "held, not answered");

    d.set_gate(2, Gate::Refuse);
    let (got, errors) = c.pump(&mut d);
    assert!(got.is_empty());
    assert!(
        matches!(c.dtls.error(), Some(DtlsError::HandshakeFailed(why)) if why.contains("bad record mac")),
        "the client learns at once from the alert: {:?} {errors:?}",
        c.dtls.error()
    );
    let refused = d.take_handshakes();
    assert!(
        matches!(&refused[..], [Handshake::Refused { server: 2, identity, .. }] if identity == b"key-1"),
        "{refused:?}"
    );
    assert_eq!(d.take_violations(), Vec::<String>::new());
    assert!(d.sessions.is_empty());
    assert!(d.client_output().contains("refused"));

    // A new handshake while it refuses is reported and refused again.
    let mut again = Client::new(2, 5691, psk(DM0_KEY));
    again.pump(&mut d);
    assert!(again.dtls.error().is_some());
    let seen = d.take_handshakes();
    assert!(
        matches!(
            seen[..],
            [
                Handshake::Started { server: 2, .. },
                Handshake::Refused { server: 2, .. }
            ]
        ),
        "{seen:?}"
    );

    // Open again: the account's key opens a session, nothing reported.
    d.set_gate(2, Gate::Open);
    let mut ok = Client::new(2, 5692, psk(DM0_KEY));
    ok.connect(&mut d);
    assert_eq!(d.take_handshakes(), vec![]);
    assert_eq!(d.take_violations(), Vec::<String>::new());
}

/// A refusing server still names a client that presents another account's identity: the
/// handshake fails on the identity (BS-SEC-05), not on the server's key.
#[test]
fn a_refusing_server_still_names_another_accounts_identity() {
    let mut d = driver();
    d.set_gate(2, Gate::Refuse);
    let mut c = Client::new(2, 5693, psk(BS_KEY));
    let (_, errors) = c.pump(&mut d);
    assert!(
        c.dtls.error().is_some(),
        "{errors:?} {:?} {:?}",
        d.take_violations(),
        d.take_handshakes()
    );
    one_violation(&mut d, &["\"key-100\"", "server DM0", "BS-SEC-05"]);
    let seen = d.take_handshakes();
    assert!(
        matches!(seen[..], [Handshake::Started { server: 2, .. }]),
        "{seen:?}"
    );
}
