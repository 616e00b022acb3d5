//! The vector player: the harness plays the bootstrap server and every management server
//! against a client, step by step, over CoAP, with no socket and no clock of its own. A
//! [`Driver`] gives it both: UDP sockets on loopback, a client program launched for each
//! vector and the system clock ([`crate::udp`]), or the bundled reference client in memory
//! on a virtual clock ([`crate::memory`]); a secure transport is meant to be one more
//! driver. Every time it reads comes from the driver, and every datagram goes through it.
//!
//! The vector's steps become CoAP exchanges, re-encoded with the driver's server
//! addresses ([`UriMap`]) by the same functions that wrote the vector
//! ([`conformance::wire::stimulus`]):
//!
//! - a server request (Write, Read, Discover, Delete, Finish, the triggers) goes out as a
//!   Confirmable request, retransmitted per RFC 7252 until the client answers (piggy-backed
//!   in the ACK, or an empty ACK and a separate response, which is acknowledged);
//! - a duplicate Bootstrap-Finish is the same datagram again (same Message ID);
//! - the client's own requests (Bootstrap-Request, Bootstrap-Pack-Request, Register) are
//!   held until the step that answers them (`bootstrap-request-accepted`: 2.04,
//!   `register-accepted`: 2.01, ...); their retransmissions are recognised by Message ID and
//!   bytes (the same Message ID for other bytes is a new request, and a violation within
//!   EXCHANGE_LIFETIME, RFC 7252 §4.4) and answered again from the cache once answered; a `*-lost` step never answers and waits
//!   MAX_TRANSMIT_WAIT for the client to give up;
//! - a timer step waits for the timer: the harness keeps a shadow of the reference client
//!   to know when a correct client's timer expires (Client Hold Off Time and account
//!   timeout as the vector provisions them, EXCHANGE_LIFETIME from the RFC 7252 timing), and
//!   a message that comes before that breaks the timing rule (BS-FACT-05).
//!
//! The message layer is each server's sans-IO CoAP endpoint ([`crate::endpoint`], the same
//! one the bundled client uses): Message IDs and tokens, retransmission, duplicates
//! answered from its cache, separate responses, and block-wise transfer (RFC 7959) below
//! the steps: a client request that comes as Block1 blocks is answered 2.31 Continue block
//! by block and reaches the steps once whole, its final answer echoing the last Block1
//! option (§2.3); a client answer with Block2 M=1 is fetched block by block and judged once
//! whole (§2.4); a client request with an early Block2 option (the Bootstrap-Pack-Request,
//! BS-PACK-01) gets block 0 of a larger answer, and the later blocks are served from the
//! stored answer (§2.4); a request of the harness's answered 4.13 with a Block1 size hint
//! goes again as Block1 blocks of that size (§2.9.3, §2.5). A gap, an out-of-order block, a
//! size change or a body over 64 KiB is a named protocol error (a Block1 one is also
//! answered 4.08 Request Entity Incomplete, §2.9.2), as is any other rule of the message
//! layer the client breaks ([`crate::endpoint::Event::Broken`]); a Message ID reused within
//! EXCHANGE_LIFETIME is a violation of the step that sees it. The wire log keeps every
//! block; the steps and their judgement see only whole messages.
//!
//! Content formats: a request with payload alternatives carries the first of the client
//! profile's `content_formats` that the vector has (BS-WRITE-07), and a Bootstrap-Read asks
//! (Accept) for the first of TLV, SenML JSON, SenML CBOR and LwM2M CBOR the profile lists
//! (BS-READ-01); the `pct` of the client's Bootstrap-Request, when the profile lists it,
//! goes before the rest (BS-REQ-02). A Bootstrap-Pack is answered in the format its
//! request's Accept names (SenML CBOR 112, SenML JSON 110 or LwM2M CBOR 11544), SenML JSON
//! when it has no Accept (BS-PACK-01); an Accept the harness cannot produce (any other)
//! makes the vector a SKIP naming it, since answering 4.06 would judge the client on the
//! harness's limitation.
//!
//! After each stimulus the adapter collects what the client sends until the step's
//! expectation is met and a short quiet time (`--settle-ms`) has passed, or the expectation
//! can no longer be met, or the step timeout runs out; the judgement is the same as for
//! every adapter. Every datagram goes into the wire log.

use crate::account_keys::{server_uri_of_index, ServerKeys};
use crate::adapter::{Adapter, AdapterError, Observed};
use crate::blockwise;
use crate::coap_uri;
use crate::dtls_driver::HANDSHAKE_LIMIT;
use crate::endpoint::{
    Answer, Endpoint, Event, ExchangeId, Failure, Received, RequestId, RequestOptions,
};
use crate::lwm2m_codec::{client_request, encode_request, observed_response};
use crate::timing::{Armed, Clock, CoapTiming};
use crate::wirelog::WireRecord;
use bootstrap_model::client::{Client, ClientSpec, Input, PackAnswer, Peer, Timer};
use bootstrap_model::profile::Profile;
use bootstrap_model::store::ObjectStore;
use bootstrap_model::system::Action;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, ResponseType};
use conformance::judge::{could_still_pass, judge, Context};
use conformance::observation::ObservedResponse;
use conformance::vector::{Expectation, Step, Vector};
use conformance::wire::{CoapMessage, CoapRequest, UriMap};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// Settings of the player, shared by every vector.
#[derive(Clone, Debug)]
pub struct PlayerOptions {
    /// The RFC 7252 timing the client is asked to use (and the harness uses).
    pub coap: CoapTiming,
    /// Quiet time after a step's expectation is met, to catch extra messages.
    pub settle: Duration,
    /// Content formats the client accepts, the preferred first (from its profile).
    pub content_formats: Vec<u16>,
    /// The host the servers' URIs name (`--advertise`); `None`: their listening address.
    pub advertise: Option<String>,
    /// Whether the servers answer only the vector's endpoint name (they listen beyond
    /// loopback, where another device may speak to them): a Bootstrap-Request or Register
    /// with another `ep` is ignored and named.
    pub only_endpoint: bool,
}

/// How a secure driver treats the client's DTLS handshakes with one server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Gate {
    /// Handshakes with the account's keys succeed (BS-SEC-05).
    #[default]
    Open,
    /// A new handshake is reported ([`Handshake::Started`]) and held, unanswered, as a
    /// Register is held until the step that answers it.
    Hold,
    /// The server holds another key than the client's account: each handshake, the held
    /// one first, goes on until the client's Finished, which then cannot be verified; the
    /// server ends it with a fatal alert ([`Handshake::Refused`];
    /// [`Action::RegisterHandshakeFailed`]).
    Refuse,
}

/// What a secure driver saw of a handshake at a server whose [`Gate`] is not open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// The client started one (a ClientHello with no session).
    Started {
        /// The server.
        server: usize,
        /// When the ClientHello came.
        at: Instant,
    },
    /// The server failed one that the client ran with `identity` to its Finished.
    Refused {
        /// The server.
        server: usize,
        /// When the server sent its alert.
        at: Instant,
        /// The PSK identity the client presented.
        identity: Vec<u8>,
    },
}

/// What the player needs from the world: the servers' sockets, the client, the clock.
pub trait Driver: Send {
    /// Listens for the vector's servers (BS, BS-alt, DM0, ...) and returns their names and
    /// addresses.
    fn bind(&mut self, v: &Vector) -> Result<Vec<(String, SocketAddr)>, AdapterError>;
    /// Starts the client of vector `v` with the servers at `uris`; returns the client's
    /// address when the driver gives it one in advance (`{client_port}`).
    fn launch(&mut self, v: &Vector, uris: &UriMap) -> Result<Option<SocketAddr>, AdapterError>;
    /// Whether the player knows when the client started, so that a message before its
    /// timer is a violation (not with `--attach`).
    fn knows_start(&self) -> bool;
    /// The time now, monotonic.
    fn now(&self) -> Instant;
    /// The time now, for the wire log.
    fn wall(&self) -> SystemTime;
    /// Sends `bytes` from server `server` to `to`.
    fn send(&mut self, server: usize, to: SocketAddr, bytes: &[u8]) -> Result<(), AdapterError>;
    /// The next datagram that arrives before `until`, or `None` (`now()` is then `until`
    /// or later); an error when the client died.
    fn next_datagram(&mut self, until: Instant) -> Result<Option<Datagram>, AdapterError>;
    /// Lets time pass until `until` without taking a datagram (one is held for later).
    fn wait_until(&mut self, until: Instant) -> Result<(), AdapterError>;
    /// Before the first request to a client that has sent nothing yet, at `addr`: waits, up
    /// to `timeout`, until it can receive.
    fn await_client(&mut self, addr: SocketAddr, timeout: Duration) -> Result<(), AdapterError>;
    /// Whether the servers speak CoAP over DTLS (`coaps://` URIs, BS-SEC-05); plain CoAP
    /// by default.
    fn secure(&self) -> bool {
        false
    }
    /// The keys each server accepts now (a secure driver's handshakes check them).
    fn set_keys(&mut self, _keys: ServerKeys) {}
    /// Rules of the security layer the client broke since the last call.
    fn take_violations(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// How server `server` treats the client's handshakes from now on (a secure driver).
    fn set_gate(&mut self, _server: usize, _gate: Gate) {}
    /// The handshakes seen at servers whose gate is not open, since the last call; a
    /// secure driver's `next_datagram` returns early when there are some.
    fn take_handshakes(&mut self) -> Vec<Handshake> {
        Vec::new()
    }
    /// Stops the client.
    fn stop(&mut self);
    /// What the client printed, for the report.
    fn client_output(&self) -> String;
}

/// One of the harness's servers.
struct Server {
    name: String,
    addr: SocketAddr,
    /// Its CoAP message layer.
    endpoint: Endpoint,
}

/// A datagram a server received.
pub struct Datagram {
    /// The server (BS 0, BS-alt 1, DM0 2, ...).
    pub server: usize,
    /// The client's address.
    pub from: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
    /// When it arrived, for the wire log.
    pub wall: SystemTime,
}

/// What a request of the client's own is, by its method and path (BS-REQ-01, BS-PACK-01,
/// BS-REG-01): which step may answer it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    BootstrapRequest,
    PackRequest,
    Register,
    /// Anything else (an Update, a De-register, a Send): judged, never answered.
    Other,
}

impl Kind {
    fn of(m: &CoapMessage) -> Kind {
        match (m.method.as_str(), m.path.trim_matches('/')) {
            ("POST", "bs") => Kind::BootstrapRequest,
            ("GET", "bspack") => Kind::PackRequest,
            ("POST", "rd") => Kind::Register,
            _ => Kind::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::BootstrapRequest => "Bootstrap-Request",
            Kind::PackRequest => "Bootstrap-Pack-Request",
            Kind::Register => "Register",
            Kind::Other => "request",
        }
    }
}

/// A request of the client's own, not answered yet.
struct Pending {
    server: usize,
    from: SocketAddr,
    /// Its server's endpoint's name for it.
    id: RequestId,
    mid: u16,
    confirmable: bool,
    kind: Kind,
    /// Its Accept option (a Bootstrap-Pack-Request's pack format, BS-PACK-01).
    accept: Option<u32>,
    /// The earliest the client can have sent it: the start of the step (or power-on) during
    /// which it came. The client's own clock for giving up on it starts at its send, which
    /// lies between this and `seen`.
    since: Instant,
    /// When the harness read it: the latest the client can have sent it (a loaded machine
    /// can read it well after it came).
    seen: Instant,
}

/// A request the harness sent, kept to send it again as a duplicate.
#[derive(Clone)]
struct SentRequest {
    server: usize,
    packet: Packet,
    mid: u16,
    token: Vec<u8>,
    req: CoapRequest,
}

/// What a received datagram is, once logged and handed to its endpoint.
enum Ingested {
    /// A new request of the client's own.
    Send(CoapMessage, Instant),
    /// A duplicate, a block, an answer, or nothing the step needs.
    Nothing,
}

/// The player for one vector, over driver `D`.
pub struct Player<D: Driver> {
    driver: D,
    opts: PlayerOptions,
    /// BS, BS-alt, then DM0, DM1, ...
    servers: Vec<Server>,
    uris: UriMap,
    endpoint: String,
    /// The client's address as each server last saw it.
    client_addrs: HashMap<usize, SocketAddr>,
    pending: Vec<Pending>,
    /// Requests a `*-lost` step dropped, by server: their retransmissions are not answered
    /// either.
    lost: Vec<(usize, RequestId)>,
    /// How the harness's requests ended, by server and exchange.
    outcomes: HashMap<(usize, ExchangeId), Result<Packet, Failure>>,
    /// How each server answered the client's last Register (`None`: not at all): a
    /// Register the client sends again while its registration retry procedure runs (Core
    /// 1.2 §6.2.1.1) gets the same answer, until it asks for bootstrap.
    register_answers: HashMap<usize, Option<ResponseType>>,
    /// The vector's profile.
    profile: Profile,
    /// Rules of the message layer the client broke, for the step that sees them.
    violations: Vec<String>,
    log: Vec<WireRecord>,
    t0: Instant,
    /// The reference client in step with the vector, for its timers.
    shadow: Option<(Client, ClientSpec)>,
    clock: Clock,
    /// The last Bootstrap-Finish sent: server, request, Message ID, token.
    last_finish: Option<SentRequest>,
    /// Whether a message before its timer is a violation (off with `--attach`, whose start
    /// time the harness does not know).
    early_checks: bool,
    /// When the current step (or power-on) began.
    window: Instant,
    /// The `pct` of the client's last Bootstrap-Request (BS-REQ-02).
    pct: Option<u16>,
    /// The alternate path (`/lwm2m`) each management server's last Register declared with
    /// its root link `</lwm2m>;rt="oma.lwm2m"`: that server's requests address the client's
    /// objects under it (Core 1.2 §6.2.1, BS-OBJ-06); the bootstrap server's never do.
    alternate_paths: BTreeMap<usize, String>,
    /// A datagram that came after the step reading it had ended (the harness lagged): it
    /// is the next step's, judged by when it arrived, not when it was read.
    held: Option<Datagram>,
    /// Handshakes a secure driver reported at servers whose gate is not open, not yet
    /// taken by a step ([`Driver::take_handshakes`]).
    handshakes: Vec<Handshake>,
    /// The management servers that hold (or refuse) the client's handshake now.
    held_servers: BTreeSet<u8>,
}

/// How a step waits for what the client does after its stimulus.
struct Wait {
    /// When the shadow's timers start: at the stimulus, or when a correct client gives up
    /// on a lost request at the earliest.
    shadow_at: Instant,
    /// Not done before this.
    at_least: Option<Instant>,
    /// Done at the latest at this.
    deadline: Instant,
    /// A message before this breaks the rule described.
    not_before: Option<(Instant, String)>,
}

/// How long a step may run past the timer it waits for before the harness looks again:
/// a correct client's timer starts after the shadow's (it learns of the stimulus later).
const TIMER_MARGIN: Duration = Duration::from_millis(100);

/// How much earlier than the shadow's deadline a message may come and still count as
/// on time (clock granularity).
const EARLY_TOLERANCE: Duration = Duration::from_millis(50);

fn protocol(why: impl Into<String>, bytes: &[u8]) -> AdapterError {
    AdapterError::Protocol {
        line: crate::wirelog::hex(bytes),
        why: why.into(),
    }
}

impl<D: Driver> Player<D> {
    /// A player for one vector over `driver`.
    pub fn new(driver: D, opts: PlayerOptions) -> Player<D> {
        let now = driver.now();
        Player {
            driver,
            opts,
            servers: Vec::new(),
            uris: UriMap::canonical(0),
            endpoint: String::new(),
            client_addrs: HashMap::new(),
            pending: Vec::new(),
            lost: Vec::new(),
            outcomes: HashMap::new(),
            register_answers: HashMap::new(),
            profile: Profile::V1_2,
            violations: Vec::new(),
            log: Vec::new(),
            t0: now,
            shadow: None,
            clock: Clock::default(),
            last_finish: None,
            early_checks: true,
            window: now,
            pct: None,
            alternate_paths: BTreeMap::new(),
            held: None,
            handshakes: Vec::new(),
            held_servers: BTreeSet::new(),
        }
    }

    fn bind(&mut self, v: &Vector) -> Result<(), AdapterError> {
        for (name, addr) in self.driver.bind(v)? {
            self.servers.push(Server {
                name,
                addr,
                endpoint: Endpoint::new(self.opts.coap, None),
            });
        }
        let secure = self.driver.secure();
        let advertise = self.opts.advertise.clone();
        let uri = |i: usize| {
            let addr = self.servers[i].addr;
            match &advertise {
                Some(host) => coap_uri::uri_of_host(host, addr.port(), secure),
                None => coap_uri::uri_of(addr, secure),
            }
        };
        self.uris = UriMap {
            bootstrap: uri(0),
            bootstrap_alternate: uri(1),
            servers: (2..self.servers.len()).map(uri).collect(),
        };
        Ok(())
    }

    fn record(
        &mut self,
        server: usize,
        to_client: bool,
        peer: SocketAddr,
        bytes: &[u8],
        at: (Instant, SystemTime),
        note: &str,
    ) {
        let s = &self.servers[server];
        self.log.push(WireRecord {
            at: at.1,
            since_start: at.0.saturating_duration_since(self.t0),
            to_client,
            server: s.name.clone(),
            server_addr: s.addr,
            client_addr: peer,
            bytes: bytes.to_vec(),
            note: note.to_string(),
        });
    }

    fn send(
        &mut self,
        server: usize,
        to: SocketAddr,
        bytes: &[u8],
        note: &str,
    ) -> Result<(), AdapterError> {
        let at = (self.driver.now(), self.driver.wall());
        self.record(server, true, to, bytes, at, note);
        self.driver.send(server, to, bytes)
    }

    /// The next datagram before `until`, or `None`; fails if the client died.
    fn next_datagram(&mut self, until: Instant) -> Result<Option<Datagram>, AdapterError> {
        if let Some(d) = self.held.take() {
            if d.at < until {
                return Ok(Some(d));
            }
            self.held = Some(d);
            // Nothing before `until`: the held datagram is later.
            self.driver.wait_until(until)?;
            self.violations.extend(self.driver.take_violations());
            return Ok(None);
        }
        let d = self.driver.next_datagram(until);
        self.violations.extend(self.driver.take_violations());
        self.handshakes.extend(self.driver.take_handshakes());
        d
    }

    /// The handshakes the client started since the last call, as the messages a step
    /// judges ([`CoapMessage::handshake`], `SendRule::Handshake`), with when they came.
    fn started_handshakes(&mut self) -> Vec<(CoapMessage, Instant)> {
        let mut out = Vec::new();
        self.handshakes.retain(|h| match h {
            Handshake::Started { server, at } => {
                let uri = server_uri_of_index(*server).map(|u| self.uris.uri(u));
                out.push((CoapMessage::handshake(uri.unwrap_or_default()), *at));
                false
            }
            Handshake::Refused { .. } => true,
        });
        out
    }

    /// Sets the gates of the management servers whose handshake `expect` holds or opens
    /// again ([`Expectation::update_held`]; a secure driver only): a handshake the step
    /// expects is held until the step that refuses it, as a Register is held until the step
    /// that answers it; a Register it expects needs the server open again.
    fn set_gates(&mut self, expect: &Expectation) {
        if !self.driver.secure() {
            return;
        }
        let before = self.held_servers.clone();
        expect.update_held(&mut self.held_servers);
        for k in self.held_servers.difference(&before) {
            self.driver.set_gate(2 + usize::from(*k), Gate::Hold);
        }
        for k in before.difference(&self.held_servers) {
            self.driver.set_gate(2 + usize::from(*k), Gate::Open);
        }
    }

    /// A `register-handshake-failed` step: server `k` now refuses the client's handshake
    /// (the one it held, and any new one) with a key other than the account's, and the
    /// step waits, up to [`HANDSHAKE_LIMIT`], until one is refused: a correct client
    /// learns of the failure from the server's alert then (Transport 1.2 §5.2.10), and its
    /// timers run from there.
    fn refuse_step(
        &mut self,
        k: u8,
        now: Instant,
        sends: &mut Vec<(CoapMessage, Instant)>,
        wait: &mut Wait,
    ) -> Result<(), AdapterError> {
        let server = 2 + usize::from(k);
        self.driver.set_gate(server, Gate::Refuse);
        let limit = now + HANDSHAKE_LIMIT;
        loop {
            self.handshakes.extend(self.driver.take_handshakes());
            sends.extend(self.started_handshakes());
            let refused = self.handshakes.iter().find_map(|h| match h {
                Handshake::Refused { server: s, at, .. } if *s == server => Some(*at),
                _ => None,
            });
            if let Some(at) = refused {
                self.handshakes
                    .retain(|h| !matches!(h, Handshake::Refused { server: s, .. } if *s == server));
                wait.shadow_at = at;
                wait.at_least = Some(at);
                return Ok(());
            }
            if self.driver.now() >= limit {
                // The client ended the handshake itself (its own timers), or the driver
                // named what it did wrong: the step goes on from here.
                return Ok(());
            }
            if let Some(d) = self.next_datagram(limit)? {
                if let Ingested::Send(o, at) = self.ingest(d)? {
                    sends.push((o, at));
                }
            }
        }
    }

    /// Tells the driver which keys each server accepts: those of the accounts in the
    /// shadow's configuration now and, when `input` is given, after it (a session the
    /// client opens while the step runs may use either, BS-SEC-05).
    fn update_keys(&mut self, input: Option<&Input>) {
        let Some((c, spec)) = self.shadow.as_ref().filter(|_| self.driver.secure()) else {
            return;
        };
        let next = input.map(|i| {
            let mut n = c.clone();
            let _ = n.handle(spec, i);
            n.store
        });
        let stores: Vec<&ObjectStore> = [Some(&c.store), next.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        self.driver
            .set_keys(ServerKeys::of(&stores, self.servers.len()));
    }

    /// Logs a received datagram, hands it to its server's endpoint (which answers
    /// duplicates and block-wise steps itself), and sorts what comes out: a new client
    /// request, or nothing the step needs.
    fn ingest(&mut self, d: Datagram) -> Result<Ingested, AdapterError> {
        let received = self.servers[d.server]
            .endpoint
            .handle_datagram(d.at, d.from, &d.bytes);
        let note = match received {
            Received::Retransmission(id) if self.lost.contains(&(d.server, id)) => {
                "retransmission of a lost request: not answered"
            }
            r => r.note(),
        };
        self.record(d.server, false, d.from, &d.bytes, (d.at, d.wall), note);
        self.flush(d.server)?;
        self.events(d.server, d.at)
    }

    /// Sends what server `server`'s endpoint asks.
    fn flush(&mut self, server: usize) -> Result<(), AdapterError> {
        while let Some(t) = self.servers[server].endpoint.poll_transmit() {
            self.send(server, t.to, &t.bytes, &t.note)?;
        }
        Ok(())
    }

    /// What server `server`'s endpoint has to say, at `at`: a new request of the client's,
    /// the answer (or failure) of the harness's request, a rule of the message layer broken.
    fn events(&mut self, server: usize, at: Instant) -> Result<Ingested, AdapterError> {
        let mut out = Ingested::Nothing;
        let name = self.servers[server].name.clone();
        while let Some(e) = self.servers[server].endpoint.poll_event() {
            match e {
                Event::Request {
                    id, from, request, ..
                } => {
                    if let Some(m) = self.client_request(server, id, from, &request, at)? {
                        out = Ingested::Send(m, at);
                    }
                }
                Event::Response { exchange, response } => {
                    self.outcomes.insert((server, exchange), Ok(response));
                }
                Event::Failed { exchange, failure } => {
                    self.outcomes.insert((server, exchange), Err(failure));
                }
                Event::MessageIdReused { mid, after, .. } => self.violations.push(format!(
                    "the client sent {name} a new request under Message ID {mid}, which it had used {:.3} s before for another request: a Message ID MUST NOT be reused within EXCHANGE_LIFETIME (RFC 7252 §4.4)",
                    after.as_secs_f64()
                )),
                Event::Broken { bytes, why, .. } => {
                    return Err(protocol(format!("the client's message to {name}: {why}"), &bytes));
                }
            }
        }
        Ok(out)
    }

    /// A request of the client's own, whole: judged by the step; held for the step that
    /// answers it (Bootstrap-Request, Bootstrap-Pack-Request, Register), answered as
    /// before when it is a Register sent again after a refusal or a loss.
    fn client_request(
        &mut self,
        server: usize,
        id: RequestId,
        from: SocketAddr,
        p: &Packet,
        at: Instant,
    ) -> Result<Option<CoapMessage>, AdapterError> {
        let name = self.servers[server].name.clone();
        let bytes = p.to_bytes_unlimited().unwrap_or_default();
        if let Some(b) = blockwise::block_of(p, CoapOption::Block2)
            .ok()
            .flatten()
            .filter(|b| b.num > 0)
        {
            return Err(protocol(
                format!(
                    "the client asked {name} for Block2 block {} of an answer the harness is not serving block-wise (RFC 7959 §2.4)",
                    b.num
                ),
                &bytes,
            ));
        }
        let uri = self.uris.uri(
            crate::account_keys::server_uri_of_index(server)
                .unwrap_or(bootstrap_model::objects::ServerUri::Bootstrap),
        );
        let message = client_request(p, &uri)
            .map_err(|e| protocol(format!("the client's request to {name}: {e}"), &bytes))?;
        let kind = Kind::of(&message);
        if self.opts.only_endpoint && !self.endpoint.is_empty() {
            let ep = message.query.iter().find_map(|q| q.strip_prefix("ep="));
            if matches!(
                kind,
                Kind::BootstrapRequest | Kind::PackRequest | Kind::Register
            ) && !ep.is_some_and(|ep| conformance::judge::endpoint_matches(&self.endpoint, ep))
            {
                // Beyond loopback another device may be on the network: not the client.
                self.violations.push(format!(
                    "{name} ignored a {} from {from} with ep={}: the servers listen beyond loopback and answer only the endpoint the client profile declares ({})",
                    kind.name(),
                    ep.unwrap_or("(none)"),
                    self.endpoint
                ));
                return Ok(None);
            }
        }
        self.client_addrs.insert(server, from);
        if matches!(kind, Kind::BootstrapRequest | Kind::PackRequest) {
            // The retry procedure of a failed registration ends with the fallback.
            self.register_answers.clear();
        }
        if kind == Kind::Register {
            self.learn_alternate_path(server, &message);
        }
        if kind == Kind::BootstrapRequest {
            self.pct = message
                .query
                .iter()
                .find_map(|q| q.strip_prefix("pct="))
                .and_then(|v| v.parse().ok());
        }
        let mid = p.header.message_id;
        // A request under the Message ID of one still pending replaces it.
        self.pending
            .retain(|q| (q.server, q.from, q.mid) != (server, from, mid));
        let pending = Pending {
            server,
            from,
            id,
            mid,
            confirmable: p.header.get_type() == MessageType::Confirmable,
            kind,
            accept: p
                .get_first_option(CoapOption::Accept)
                .and_then(|v| crate::lwm2m_codec::read_uint(v)),
            since: self.window,
            seen: at,
        };
        match (kind, self.register_answers.get(&server).copied()) {
            // A Register sent again after the server refused (or lost) the last: the same
            // answer (the step judges whether it may come).
            (Kind::Register, Some(Some(code))) => {
                self.pending.push(pending);
                self.answer(
                    "Register",
                    |q| q.kind == Kind::Register && q.id == id && q.server == server,
                    code,
                    None,
                    None,
                )?;
            }
            (Kind::Register, Some(None)) => self.lost.push((server, id)),
            (Kind::Other, _) => {}
            _ => self.pending.push(pending),
        }
        Ok(Some(message))
    }

    /// The alternate path a Register declares with its root link (BS-OBJ-06).
    fn learn_alternate_path(&mut self, server: usize, message: &CoapMessage) {
        let declared = message
            .payload
            .as_ref()
            .and_then(|p| p.bytes().ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| conformance::links::parse(&t).ok())
            .and_then(|e| conformance::links::alternate_path(&e));
        match declared {
            Some(prefix) => self.alternate_paths.insert(server, prefix),
            None => self.alternate_paths.remove(&server),
        };
    }

    /// The address to send server `server`'s requests to.
    fn client_addr(&self, server: usize) -> Result<SocketAddr, AdapterError> {
        self.client_addrs
            .get(&server)
            .or_else(|| self.client_addrs.iter().find(|(k, _)| **k != usize::MAX).map(|(_, a)| a))
            .or_else(|| self.client_addrs.get(&usize::MAX))
            .copied()
            .ok_or_else(|| {
                AdapterError::Unsupported(
                    "a server request before the client has sent anything: the server cannot know the client's address (a launcher with {client_port} makes it known)".into(),
                )
            })
    }

    /// Before the first request to a launched client that has sent nothing yet (its address
    /// is the `{client_port}` the driver gave it): the driver waits, up to `timeout`, until
    /// the client can receive, so that a slow start does not lose the request.
    fn await_client_port(&mut self, timeout: Duration) -> Result<(), AdapterError> {
        if self.client_addrs.keys().any(|k| *k != usize::MAX) {
            return Ok(());
        }
        match self.client_addrs.get(&usize::MAX).copied() {
            Some(addr) => self.driver.await_client(addr, timeout),
            None => Ok(()),
        }
    }

    /// Sends a request of the harness's and waits for the client's response; client
    /// requests that arrive meanwhile go to `sends`. The endpoint retransmits it, takes a
    /// separate response, sends it again in Block1 blocks after a 4.13 with a size hint
    /// (RFC 7959 §2.9.3) and fetches a Block2 answer block by block (§2.4), each datagram
    /// given `timeout`; the response is decoded once whole. `again`: the Message ID and
    /// token of a request sent before, for the same datagram again (a duplicate).
    fn request(
        &mut self,
        server: usize,
        req: &CoapRequest,
        packet: Packet,
        again: (u16, Vec<u8>),
        timeout: Duration,
        sends: &mut Vec<(CoapMessage, Instant)>,
    ) -> Result<ObservedResponse, AdapterError> {
        self.await_client_port(timeout)?;
        let to = self.client_addr(server)?;
        let name = self.servers[server].name.clone();
        let what = format!("the client's response to {} {}", req.method, req.path);
        let options = RequestOptions {
            message_id: Some(again.0),
            token: Some(again.1),
            patience: Some(timeout),
            ..Default::default()
        };
        let x = self.servers[server]
            .endpoint
            .request(self.driver.now(), to, packet, options)
            .map_err(AdapterError::Spawn)?;
        self.flush(server)?;
        loop {
            if let Some(outcome) = self.outcomes.remove(&(server, x)) {
                return match outcome {
                    Ok(p) => {
                        let bytes = p.to_bytes_unlimited().unwrap_or_default();
                        let mut o = observed_response(&p)
                            .map_err(|e| protocol(format!("{what}: {e}"), &bytes))?;
                        o.accept = req.accept;
                        Ok(o)
                    }
                    Err(Failure::Reset) => Err(protocol(
                        format!(
                            "the client rejected {} {} with a Reset",
                            req.method, req.path
                        ),
                        &[],
                    )),
                    Err(Failure::Blockwise(why) | Failure::Session(why)) => {
                        Err(protocol(format!("{what}: {why}"), &[]))
                    }
                    Err(Failure::NoAnswer) => Err(AdapterError::Timeout {
                        waiting_for: format!("response to {} {} from {name}", req.method, req.path),
                        after: timeout,
                    }),
                };
            }
            let until = self.servers[server]
                .endpoint
                .poll_timeout()
                .unwrap_or_else(|| self.driver.now() + timeout);
            match self.next_datagram(until)? {
                Some(d) => {
                    if let Ingested::Send(o, at) = self.ingest(d)? {
                        sends.push((o, at));
                    }
                }
                None => {
                    let now = self.driver.now();
                    self.servers[server].endpoint.handle_timeout(now);
                    self.flush(server)?;
                    if let Ingested::Send(o, at) = self.events(server, now)? {
                        sends.push((o, at));
                    }
                }
            }
        }
    }

    /// Answers the client's pending request that `pick` selects with `code`.
    fn answer(
        &mut self,
        what: &str,
        pick: impl Fn(&Pending) -> bool,
        code: ResponseType,
        location: Option<&str>,
        payload: Option<(u16, Vec<u8>)>,
    ) -> Result<(), AdapterError> {
        let i = self
            .pending
            .iter()
            .position(&pick)
            .ok_or_else(|| AdapterError::Protocol {
                line: String::new(),
                why: format!(
                    "the step answers the client's {what}, but the client has not sent one"
                ),
            })?;
        // Answered later than a correct client is bound to wait for it (it may give up from
        // MIN_TRANSMIT_WAIT after its first transmission on): the harness lagged, and what
        // the client does next cannot be judged.
        let late = self
            .driver
            .now()
            .saturating_duration_since(self.pending[i].seen);
        if self.pending[i].confirmable && late > self.opts.coap.min_transmit_wait() {
            return Err(AdapterError::Unsupported(format!(
                "the harness answers the client's {what} {:.2} s after it came, later than a correct client must wait for an answer at this --coap-time-scale (MIN_TRANSMIT_WAIT {:.2} s): the machine is too loaded for this factor; use a larger --coap-time-scale",
                late.as_secs_f64(),
                self.opts.coap.min_transmit_wait().as_secs_f64()
            )));
        }
        let q = self.pending.remove(i);
        if q.kind == Kind::Register {
            self.register_answers.insert(q.server, Some(code));
        }
        let mut p = Packet::new();
        p.header.code = MessageClass::Response(code);
        if let Some(l) = location {
            for seg in l.split('/').filter(|s| !s.is_empty()) {
                p.add_option(CoapOption::LocationPath, seg.as_bytes().to_vec());
            }
        }
        if let Some((format, bytes)) = payload {
            p.add_option(
                CoapOption::ContentFormat,
                crate::lwm2m_codec::uint(format.into()),
            );
            p.payload = bytes;
        }
        self.servers[q.server]
            .endpoint
            .respond(self.driver.now(), q.id, p, Answer::Cached)
            .map_err(AdapterError::Spawn)?;
        self.flush(q.server)
    }

    /// Drops the client's pending request that `pick` selects (a `*-lost` step).
    /// Returns the earliest and the latest the client can have sent the request: its own
    /// clock for giving up on it runs from then, not from this step.
    fn lose(
        &mut self,
        what: &str,
        pick: impl Fn(&Pending) -> bool,
    ) -> Result<(Instant, Instant), AdapterError> {
        let i = self
            .pending
            .iter()
            .position(pick)
            .ok_or_else(|| AdapterError::Protocol {
                line: String::new(),
                why: format!("the step loses the client's {what}, but the client has not sent one"),
            })?;
        let q = self.pending.remove(i);
        if q.kind == Kind::Register {
            self.register_answers.insert(q.server, None);
        }
        self.lost.push((q.server, q.id));
        Ok((q.since, q.seen))
    }

    /// Collects the client's requests until `expect` is met and the quiet time has passed
    /// (and not before `at_least`), until it cannot be met any more, or until `deadline`.
    /// A message that comes before `not_before` breaks a timing rule, described by `rule`.
    fn observe(
        &mut self,
        expect: &Expectation,
        response: Option<ObservedResponse>,
        mut sends: Vec<(CoapMessage, Instant)>,
        at_least: Option<Instant>,
        deadline: Instant,
        not_before: Option<(Instant, String)>,
    ) -> Result<Observed, AdapterError> {
        // When a correct client's next timer expires: once the step's expectation is met,
        // what arrives after that may be the timer's doing and belongs to a later step (the
        // vector's order puts the timer there), even when the harness reads it late.
        let timer_at = self.clock.next().map(|(_, at)| at);
        let (uris, endpoint) = (self.uris.clone(), self.endpoint.clone());
        let ctx = Context {
            uris: &uris,
            endpoint: &endpoint,
        };
        let mut quiet_until: Option<Instant> = None;
        loop {
            // Handshakes started at a held server (also while the step's request waited
            // for its answer) are messages of the step.
            sends.extend(self.started_handshakes());
            let now = self.driver.now();
            let plain: Vec<CoapMessage> = sends.iter().map(|(o, _)| o.clone()).collect();
            let met = judge(ctx, expect, response.as_ref(), &plain).is_ok();
            // What was sent (or answered) cannot be mended by more: the step only waits the
            // quiet time, for the report.
            let hopeless = !met && !could_still_pass(ctx, expect, response.as_ref(), &plain);
            let waited = at_least.is_none_or(|a| now >= a);
            let done = hopeless || (met && waited);
            let until = if done {
                *quiet_until.get_or_insert(now + self.opts.settle)
            } else {
                quiet_until = None;
                at_least.filter(|a| *a > now && met).unwrap_or(deadline)
            };
            if now >= deadline || (done && now >= until) {
                break;
            }
            match self.next_datagram(until.min(deadline))? {
                None => continue,
                // Arrived after this step's wait had ended, or after the client's next timer
                // once the step had what it needs: the harness read it late.
                Some(d)
                    if d.at >= deadline
                        || quiet_until.is_some_and(|q| d.at >= q)
                        || (met && timer_at.is_some_and(|t| d.at >= t)) =>
                {
                    self.held = Some(d);
                    break;
                }
                Some(d) => match self.ingest(d)? {
                    Ingested::Send(o, at) => sends.push((o, at)),
                    Ingested::Nothing => {}
                },
            }
        }
        // Only what the timer allows can be early: a message the step tolerates (a Register
        // sent again) is not waiting for it.
        let tolerated = |o: &CoapMessage| {
            expect
                .tolerated
                .iter()
                .any(|r| conformance::judge::problems(ctx, r, o).is_empty())
        };
        let layer = self.violations.drain(..).next();
        let violation = layer.or(match (&not_before, self.early_checks) {
            (Some((t, rule)), true) => sends
                .iter()
                .find(|(o, at)| *at + EARLY_TOLERANCE < *t && !tolerated(o))
                .map(|(o, at)| {
                    format!(
                        "{o} came {:.3} s too early: {rule}",
                        (*t - *at).as_secs_f64()
                    )
                }),
            _ => None,
        });
        Ok(Observed {
            response,
            sends: sends.into_iter().map(|(o, _)| o).collect(),
            violation,
        })
    }

    /// A step that is not a timer's comes, in the vector, before the client's next timer
    /// expires; a harness that gets to it only after that (it lagged) cannot ensure the
    /// vector's order: a correct client may already have acted on the timer.
    fn not_lagging(&self, step: &Step, input: &Input, now: Instant) -> Result<(), AdapterError> {
        if !matches!(input, Input::TimerExpired(_)) {
            if let Some((t, at)) = self.clock.next().filter(|(_, at)| now > *at + TIMER_MARGIN) {
                return Err(AdapterError::Unsupported(format!(
                "the harness gets to step {} {:.2} s after the client's {t:?} timer expired, which the vector has expire later: the machine is too loaded for this factor; use a larger --coap-time-scale",
                step.stimulus,
                (now - at).as_secs_f64()
            )));
            }
        }
        Ok(())
    }

    /// A step that answers the client's own request (Bootstrap-Request, Bootstrap-Pack,
    /// Register); `false` for any other step.
    fn answers_the_client(&mut self, action: &Action, input: &Input) -> Result<bool, AdapterError> {
        let register = |k: u8| (Kind::Register, Some(2 + usize::from(k)));
        let (what, (kind, server), code, location) = match action {
            Action::BootstrapRequestAccepted => (
                "Bootstrap-Request",
                (Kind::BootstrapRequest, None),
                ResponseType::Changed,
                None,
            ),
            Action::BootstrapRequestRejected => (
                "Bootstrap-Request",
                (Kind::BootstrapRequest, None),
                ResponseType::BadRequest,
                None,
            ),
            Action::BootstrapPackNotImplemented => (
                "Bootstrap-Pack-Request",
                (Kind::PackRequest, None),
                ResponseType::NotImplemented,
                None,
            ),
            Action::BootstrapPackDelivered { .. } => {
                self.deliver_pack(input)?;
                return Ok(true);
            }
            Action::RegisterAccepted { server } => (
                "Register",
                register(*server),
                ResponseType::Created,
                Some(format!("rd/{server}")),
            ),
            Action::RegisterRejected { server } => {
                ("Register", register(*server), ResponseType::Forbidden, None)
            }
            _ => return Ok(false),
        };
        let pick = |q: &Pending| q.kind == kind && server.is_none_or(|s| q.server == s);
        self.answer(what, pick, code, location.as_deref(), None)?;
        Ok(true)
    }

    /// Answers the client's Bootstrap-Pack-Request with the pack of `input`, in the format
    /// its Accept names, SenML JSON without one (BS-PACK-01).
    fn deliver_pack(&mut self, input: &Input) -> Result<(), AdapterError> {
        let is_pack = |q: &Pending| q.kind == Kind::PackRequest;
        let Input::PackAnswer(PackAnswer::Pack(pack)) = input else {
            return Err(AdapterError::Spawn("a pack step without a pack".into()));
        };
        let accept = self
            .pending
            .iter()
            .find(|p| is_pack(p))
            .and_then(|p| p.accept);
        let format = match accept {
            None => conformance::wire::SENML_JSON,
            Some(a) => u16::try_from(a).unwrap_or(u16::MAX),
        };
        let Some(bytes) = crate::lwm2m_codec::encode_pack_as(pack, &self.uris, format) else {
            return Err(AdapterError::Unsupported(format!(
                "the client's Bootstrap-Pack-Request asks for Content-Format {} (Accept), in which the harness cannot write a Bootstrap-Pack (it writes SenML JSON 110, SenML CBOR 112 and LwM2M CBOR 11544; BS-PACK-01)",
                accept.unwrap_or_default()
            )));
        };
        self.answer(
            "Bootstrap-Pack-Request",
            is_pack,
            ResponseType::Content,
            None,
            Some((format, bytes)),
        )
    }

    /// A `*-lost` step: the client's request is dropped, and the step waits until a correct
    /// client has given up on it.
    fn lose_step(
        &mut self,
        action: &Action,
        now: Instant,
        timeout: Duration,
        wait: &mut Wait,
    ) -> Result<(), AdapterError> {
        let (since, seen) = match action {
            Action::BootstrapRequestLost => {
                self.lose("Bootstrap-Request", |q| q.kind == Kind::BootstrapRequest)?
            }
            Action::BootstrapPackLost => {
                self.lose("Bootstrap-Pack-Request", |q| q.kind == Kind::PackRequest)?
            }
            Action::RegisterLost { server } => {
                let k = 2 + usize::from(*server);
                self.lose("Register", |q| q.kind == Kind::Register && q.server == k)?
            }
            _ => (now, now),
        };
        // A correct client gives up between these two, counted from its request: the
        // shadow takes the earliest, the wait the latest.
        wait.shadow_at = since + self.opts.coap.min_transmit_wait();
        let given_up = (seen + self.opts.coap.max_transmit_wait()).max(now) + TIMER_MARGIN;
        wait.at_least = Some(given_up);
        wait.deadline = given_up + timeout;
        Ok(())
    }

    /// A timer step: it waits for the timer as a correct client's runs (the shadow's), and
    /// a message before its expiry breaks the timer's rule.
    fn timer_step(
        &mut self,
        step: &Step,
        input: &Input,
        now: Instant,
        timeout: Duration,
        wait: &mut Wait,
    ) -> Result<(), AdapterError> {
        let Input::TimerExpired(t) = *input else {
            return Err(AdapterError::Spawn("a timer step without a timer".into()));
        };
        // hold-off, the step lasts as long as a fallback would have waited, so that
        // one that comes (wrongly) shows.
        let idle = match t {
            Timer::ClientHoldOff => self
                .shadow
                .as_ref()
                .and_then(|(c, _)| c.store.bootstrap_account().and_then(|(_, s)| s.hold_off))
                .map_or(Duration::ZERO, |s| Duration::from_secs(s.into())),
            _ => Duration::ZERO,
        };
        // When a correct client's timer expires; the step may start after that when
        // the harness lags, but a message is judged against the expiry itself (it is
        // timed by its arrival, not by when the harness reads it).
        let due = self.clock.deadline(t).unwrap_or(now + idle);
        let expiry = due.max(now);
        wait.shadow_at = expiry;
        // A correct client sends what the timer triggers no earlier than the shadow's
        // expiry (an earlier message breaks `not_before`), so a request that comes in
        // this step was sent after it: its lost-request clock cannot start sooner.
        self.window = self.window.max(expiry);
        self.clock.clear(t);
        if step.expect.sends.is_empty() && step.expect.or_sends.is_empty() {
            wait.at_least = Some(expiry + TIMER_MARGIN);
        }
        wait.deadline = expiry + TIMER_MARGIN + timeout;
        wait.not_before = Some((due, timer_rule(t).to_string()));
        Ok(())
    }

    /// The last Bootstrap-Finish again, the same datagram (same Message ID and token).
    fn duplicate_finish(
        &mut self,
        timeout: Duration,
        sends: &mut Vec<(CoapMessage, Instant)>,
    ) -> Result<ObservedResponse, AdapterError> {
        let Some(SentRequest {
            server,
            packet,
            mid,
            token,
            req,
        }) = self.last_finish.clone()
        else {
            return Err(AdapterError::Spawn(
                "a duplicate Finish before any Finish".into(),
            ));
        };
        self.request(server, &req, packet, (mid, token), timeout, sends)
    }

    /// A request of a server's (Write, Read, Discover, Delete, Finish, the triggers) in the
    /// client's preferred format, under the alternate path its Register declared to a
    /// management server (BS-OBJ-06); the client's response.
    fn server_request(
        &mut self,
        step: &Step,
        input: &Input,
        timeout: Duration,
        sends: &mut Vec<(CoapMessage, Instant)>,
    ) -> Result<ObservedResponse, AdapterError> {
        let Some(mut req) = conformance::wire::stimulus(&step.stimulus, self.profile, &self.uris)
        else {
            return Err(AdapterError::Spawn(format!(
                "no CoAP request for {}",
                step.stimulus
            )));
        };
        let from = match *input {
            Input::Write { from, .. }
            | Input::Read { from, .. }
            | Input::Discover { from, .. }
            | Input::Delete { from, .. }
            | Input::Finish { from }
            | Input::ExecuteBootstrapTrigger { from, .. }
            | Input::ReBootstrapNotification { from, .. } => from,
            _ => Peer::BootstrapServer,
        };
        let prefer = preferred_formats(&self.opts.content_formats, self.pct);
        if let Some(p) = prefer
            .iter()
            .find_map(|f| req.payloads.iter().find(|p| p.content_format == *f))
            .or(req.payloads.first())
            .cloned()
        {
            req.payloads = vec![p];
        }
        if let Some(a) = req.accept {
            req.accept = Some(read_accept(a, &prefer));
        }
        let server = self.server_index(from);
        // Object paths only: the seed's Step 0 (`/rbs`) is not an object.
        let object_path = req
            .path
            .parse::<bootstrap_model::path::Path>()
            .is_ok_and(|p| p != bootstrap_model::path::Path::Root);
        if let (Peer::Server(_), Some(prefix), true) =
            (from, self.alternate_paths.get(&server), object_path)
        {
            req.path = format!("{}{}", prefix.trim_end_matches('/'), req.path);
        }
        let (mid, token) = self.servers[server].endpoint.fresh_ids();
        let packet = encode_request(&req, mid, &token)
            .and_then(|b| Packet::from_bytes(&b).map_err(|e| format!("{e:?}")))
            .map_err(|e| AdapterError::Spawn(format!("cannot encode the request: {e}")))?;
        if matches!(step.stimulus, Action::BootstrapFinish) {
            self.last_finish = Some(SentRequest {
                server,
                packet: packet.clone(),
                mid,
                token: token.clone(),
                req: req.clone(),
            });
        }
        let again = (mid, token);
        let r = self.request(server, &req, packet, again, timeout, sends)?;
        if matches!(step.stimulus, Action::BootstrapFinish) && r.code == "2.04" {
            // A new configuration (a push session has no Bootstrap-Request): the
            // Registers that follow are new, not the refused ones sent again.
            self.register_answers.clear();
        }
        Ok(r)
    }

    /// A timer this step arms that can expire while the step still waits (a lost request
    /// is given up anywhere between MIN and MAX_TRANSMIT_WAIT, then the hold-off runs):
    /// a correct client may act on it within this step, before the vector's next one.
    fn no_timer_within(&self, step: &Step, at_least: Option<Instant>) -> Result<(), AdapterError> {
        if let (Some(waited), Some((t, at))) = (at_least, self.clock.next()) {
            let end = waited + self.opts.settle + TIMER_MARGIN;
            if at < end {
                return Err(AdapterError::Unsupported(format!(
                "{}: the client's {t:?} timer it starts can expire {:.2} s before the step's wait ends, so a correct client may act on it within this step: at this --coap-time-scale the vector's order cannot be ensured",
                step.stimulus,
                (end - at).as_secs_f64()
            )));
            }
        }
        Ok(())
    }

    /// Moves the shadow client on by `input`, its timers as of `at`.
    fn shadow_step(&mut self, input: &Input, at: Instant) {
        if let Some((c, spec)) = &mut self.shadow {
            let before = Armed::of(c);
            let _ = c.handle(spec, input);
            self.clock.sync(before, c, at, self.opts.coap);
        }
    }

    /// Whether the vector's order can happen in real time up to `horizon`, the end of the
    /// current step's wait: a correct client gives up on a request nobody answers after
    /// MAX_TRANSMIT_WAIT, and its timers expire on their own. A vector that has a timer
    /// expire, or an unanswered request time out, later than that is skipped: on the wire
    /// its order cannot be played at this timing (a larger `--coap-time-scale` may play it).
    fn feasible(&self, stimulus: &Action, horizon: Instant) -> Result<(), AdapterError> {
        let give_up = self.opts.coap.min_transmit_wait();
        if let Some(p) = self.pending.iter().find(|p| p.seen + give_up < horizon) {
            return Err(AdapterError::Unsupported(format!(
                "waiting for {stimulus} while the client's {} stays unanswered longer than a client waits (MAX_TRANSMIT_WAIT, at least {:.2} s at this --coap-time-scale): the vector's order cannot happen in real time",
                p.kind.name(),
                give_up.as_secs_f64()
            )));
        }
        let due = self.driver.now().max(horizon);
        let this = match stimulus.input() {
            Input::TimerExpired(t) => Some(t),
            _ => None,
        };
        if let Some((t, _)) = self
            .clock
            .next()
            .filter(|(t, at)| Some(*t) != this && *at + TIMER_MARGIN < due)
        {
            return Err(AdapterError::Unsupported(format!(
                "{stimulus}: the client's {t:?} timer expires before it in real time, which the vector's order does not allow"
            )));
        }
        Ok(())
    }

    fn server_index(&self, from: Peer) -> usize {
        match from {
            Peer::BootstrapServer => 0,
            Peer::Server(k) => 2 + usize::from(k),
        }
    }
}

/// The client profile's formats, the preferred first, with the Bootstrap-Request's `pct`
/// moved to the front when the profile lists it (BS-REQ-02).
pub fn preferred_formats(formats: &[u16], pct: Option<u16>) -> Vec<u16> {
    let mut out: Vec<u16> = pct.filter(|p| formats.contains(p)).into_iter().collect();
    out.extend(formats.iter().filter(|f| Some(**f) != pct));
    out
}

/// The Accept of a request whose vector says `accept`: a Bootstrap-Read (Accept TLV in the
/// vectors) asks for the first of TLV, SenML JSON, SenML CBOR and LwM2M CBOR in `prefer`
/// (BS-READ-01),
/// TLV when it lists none; any other Accept (link-format for Discover) stays.
pub fn read_accept(accept: u16, prefer: &[u16]) -> u16 {
    if !crate::lwm2m_codec::READ_FORMATS.contains(&accept) {
        return accept;
    }
    prefer
        .iter()
        .copied()
        .find(|f| crate::lwm2m_codec::READ_FORMATS.contains(f))
        .unwrap_or(accept)
}

fn timer_rule(t: Timer) -> &'static str {
    match t {
        Timer::ClientHoldOff => "the Client Hold Off Time had not passed (BS-FACT-05)",
        Timer::ExchangeLifetime => "EXCHANGE_LIFETIME had not passed (BS-CI-03)",
        Timer::BootstrapAccountTimeout => {
            "the Bootstrap-Server Account Timeout had not passed (BS-FIN-06)"
        }
    }
}

impl<D: Driver> Adapter for Player<D> {
    fn start(&mut self, v: &Vector, timeout: Duration) -> Result<Observed, AdapterError> {
        self.t0 = self.driver.now();
        self.bind(v)?;
        self.endpoint = v.endpoint.clone();
        let profile = crate::adapter::vector_profile(v)?;
        let spec = ClientSpec {
            profile,
            ..ClientSpec::reference(profile)
        };
        self.profile = profile;
        let choices = v.features.choices(profile);
        let (shadow, _) = Client::boot(&spec, v.factory_objects.clone(), choices);
        // The shadow's timers start before the client can start its own: a correct client
        // is never early.
        let now = self.driver.now();
        self.window = now;
        if let Some(addr) = self.driver.launch(v, &self.uris)? {
            self.client_addrs.insert(usize::MAX, addr);
        }
        self.early_checks = self.driver.knows_start();
        self.clock.sync(Armed::none(), &shadow, now, self.opts.coap);
        self.shadow = Some((shadow, spec));
        self.update_keys(None);
        self.set_gates(&v.boot);
        // A client needs a moment to start: what it sends at power-on is waited for with
        // the step timeout; when it should send nothing, the quiet time applies.
        self.observe(&v.boot, None, Vec::new(), None, now + timeout, None)
    }

    fn step(&mut self, step: &Step, timeout: Duration) -> Result<Observed, AdapterError> {
        let now = self.driver.now();
        self.window = now;
        let input = step.stimulus.input();
        self.not_lagging(step, &input, now)?;
        self.update_keys(Some(&input));
        self.set_gates(&step.expect);
        let mut sends = Vec::new();
        let mut wait = Wait {
            shadow_at: now,
            at_least: None,
            deadline: now + timeout,
            not_before: None,
        };
        let mut response = None;
        match &step.stimulus {
            Action::BootstrapRequestLost
            | Action::BootstrapPackLost
            | Action::RegisterLost { .. } => {
                self.lose_step(&step.stimulus, now, timeout, &mut wait)?
            }
            Action::ClientHoldOffExpired
            | Action::ExchangeLifetimeExpired
            | Action::BootstrapAccountTimeoutExpired => {
                self.timer_step(step, &input, now, timeout, &mut wait)?
            }
            Action::BootstrapFinishDuplicated => {
                response = Some(self.duplicate_finish(timeout, &mut sends)?)
            }
            Action::RegisterHandshakeFailed { server } => {
                if !self.driver.secure() {
                    return Err(AdapterError::Unsupported(crate::run::NEEDS_DTLS.into()));
                }
                self.refuse_step(*server, now, &mut sends, &mut wait)?
            }
            a if self.answers_the_client(a, &input)? => {}
            _ => response = Some(self.server_request(step, &input, timeout, &mut sends)?),
        }
        self.feasible(&step.stimulus, wait.at_least.unwrap_or(now))?;
        self.shadow_step(&input, wait.shadow_at);
        self.update_keys(None);
        self.no_timer_within(step, wait.at_least)?;
        self.observe(
            &step.expect,
            response,
            sends,
            wait.at_least,
            wait.deadline,
            wait.not_before,
        )
    }

    fn uris(&self) -> Option<UriMap> {
        Some(self.uris.clone())
    }

    fn secure(&self) -> bool {
        self.driver.secure()
    }

    /// The Client Hold Off Time of the vector's factory BS account (1 s when it has none)
    /// plus ACK_TIMEOUT at this scale: long enough for a retry, a fallback or a second
    /// Register that nothing asked for to show.
    fn drain_window(&self, v: &Vector) -> Duration {
        let hold_off = v
            .factory_objects
            .bootstrap_account()
            .and_then(|(_, s)| s.hold_off)
            .unwrap_or(1);
        Duration::from_secs(hold_off.into()) + self.opts.coap.ack_timeout()
    }

    /// Listens for `window` after the last step, answering nothing: the client's new
    /// requests (retransmissions and duplicates are recognised and left out).
    fn drain(&mut self, window: Duration) -> Result<Observed, AdapterError> {
        let until = self.driver.now() + window;
        self.window = self.driver.now();
        let mut out = Vec::new();
        loop {
            let d = match self.next_datagram(until) {
                Ok(Some(d)) => d,
                Ok(None) => break,
                // A client that ends cleanly once its work is done (or given up) sends
                // nothing more; a crash is still an error.
                Err(AdapterError::Crashed { status, .. }) if status == "exit status: 0" => break,
                Err(e) => return Err(e),
            };
            match self.ingest(d)? {
                Ingested::Send(m, _) => out.push(m),
                Ingested::Nothing => {}
            }
        }
        // With the handshakes started at a held or refusing server meanwhile.
        out.extend(self.started_handshakes().into_iter().map(|(m, _)| m));
        Ok(Observed {
            response: None,
            sends: out,
            violation: self.violations.drain(..).next(),
        })
    }

    fn stop(&mut self) {
        self.driver.stop();
    }

    fn wire_log(&self) -> Vec<WireRecord> {
        self.log.clone()
    }

    fn client_output(&self) -> String {
        self.driver.client_output()
    }
}

impl<D: Driver> Drop for Player<D> {
    fn drop(&mut self) {
        self.driver.stop();
    }
}
