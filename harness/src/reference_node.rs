//! The bundled reference client on the wire, sans-IO: the model's [`Client`] over the
//! CoAP message layer of [`crate::endpoint`], so that the whole suite runs over real CoAP
//! with no third party, and every injected bug can be run on the wire too
//! (`lwm2m-reference-client wire --bug NAME`). No socket and no clock inside: a driver
//! feeds it datagrams and the time ([`ReferenceNode::handle_datagram`],
//! [`ReferenceNode::handle_timeout`]) and sends what it asks
//! ([`ReferenceNode::poll_transmit`]); [`crate::wire_client`] is the UDP driver.
//!
//! Server requests are decoded into the model's inputs ([`crate::lwm2m_codec::decode_request`])
//! and answered piggy-backed; the model's outgoing messages go out as Confirmable requests,
//! which the endpoint retransmits with the RFC 7252 timing ([`CoapTiming`], scaled by
//! `--coap-time-scale`) until answered; a request given up is "no answer" for the model
//! (BS-REQ-04). Duplicates of a server request are answered by the endpoint from its cache
//! (RFC 7252 §4.5); a duplicate Bootstrap-Finish goes to the model as
//! [`Input::DuplicateFinish`] so that the `no-deduplication` bug shows on the wire. The
//! model's timers fire from a [`Clock`].
//!
//! With `--block-size N` ([`NodeConfig::block_size`]) it is a client with small buffers: its
//! endpoint uses block-wise transfer (RFC 7959) for its own requests whose payload exceeds
//! N bytes (a Register's link-format, BS-REG-01), asks for the Bootstrap-Pack (BS-PACK-01)
//! with an early Block2 option of size N (§2.4), sends answers larger than N (Bootstrap-Read,
//! BS-READ-01; Discover, BS-DISC-01) as Block2 blocks, and refuses a server's request larger
//! than N with 4.13 and a size hint (§2.9.3), taking it in Block1 blocks.
//!
//! Content formats: the client takes writes and answers reads in every format of
//! [`NodeConfig::content_formats`] (TLV, SenML JSON, SenML CBOR, LwM2M CBOR, plain text,
//! opaque by default; `--content-formats` narrows it, e.g. to a SenML-CBOR-only or an
//! LwM2M-CBOR-only client). A write in another format is answered 4.15 and a read whose
//! Accept names another 4.06 (BS-WRITE-06, BS-READ-01); its Bootstrap-Pack-Request asks for
//! the first pack format of the list (Accept 112, 110 or 11544, BS-PACK-01) and the pack is
//! decoded by its Content-Format. Its Bootstrap-Request's `pct` is the first of those
//! formats BS-REQ-02 allows in its profile (LwM2M CBOR only in 1.2).
//!
//! The model names servers abstractly ([`ServerUri`]); the launcher passes the concrete
//! [`UriMap`] of the servers the harness listens on, and peers are told apart by the
//! address a datagram comes from.

use crate::coap_uri;
use crate::dtls::Psk;
use crate::endpoint::{
    self, Answer, Endpoint, Event, ExchangeId, Failure, Received, RequestId, RequestOptions,
    Transmit,
};
use crate::lwm2m_codec::{
    decode_request, encode_client_message_accepting, encode_response_for, response_type,
};
use crate::misbehave::{
    rewrite_message, rewrite_reply, KeyMisbehaviour, Memory, Misbehaviour, RequestView,
};
use crate::timing::{Armed, Clock, CoapTiming};
use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{
    Client, ClientSpec, Input, Outgoing, Output, PackAnswer, Peer, RegisterAnswer, Response,
};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::objects::ServerUri;
use bootstrap_model::profile::Profile;
use bootstrap_model::system::Factory;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use conformance::observation::{render_message, render_response, Variations};
use conformance::wire::{psk_identity, secret_key, UriMap};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How the reference client is started on the wire.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The profile it implements.
    pub profile: Profile,
    /// Its Endpoint Client Name (BS-CI-02).
    pub endpoint: String,
    /// Its factory configuration (BS-FACT-01).
    pub factory: Factory,
    /// Where the bootstrap and management servers listen.
    pub uris: UriMap,
    /// Injected bugs.
    pub bugs: BugSet,
    /// Whether it uses Bootstrap-Pack-Request (1.2); `None`: the profile's reference choice.
    pub pack: Option<bool>,
    /// Whether it lacks the Access Control object (BS-OBJ-05).
    pub no_access_control: bool,
    /// The RFC 7252 timing.
    pub timing: CoapTiming,
    /// The UDP port to listen on; 0: any free port (for the driver).
    pub port: u16,
    /// Log each datagram on stderr (for the driver).
    pub verbose: bool,
    /// Block-wise transfer (RFC 7959) with blocks of this many bytes (a power of two from
    /// 16 to 1024); `None`: every message in one datagram.
    pub block_size: Option<usize>,
    /// The Content-Formats it takes and answers in, the preferred first
    /// ([`NodeConfig::ALL_FORMATS`] unless narrowed).
    pub content_formats: Vec<u16>,
    /// Conforming variations (`--variations`): how its answers and messages look, and the
    /// behaviours the specification leaves open ([`Variations`]).
    pub vary: Variations,
    /// A misbehaviour applied to the messages it sends (`--misbehave`,
    /// [`crate::misbehave`]), for showing that the harness catches it on the wire.
    pub misbehave: Option<Misbehaviour>,
    /// The factory Bootstrap-Server Account's PSK as the launcher gives it
    /// (`{bs_psk_identity}`, `{bs_psk_key_hex}`); `None`: the factory's own keys.
    pub bs_psk: Option<Psk>,
    /// A misbehaviour of its secure sessions (`--key-misbehave`, [`KeyMisbehaviour`]),
    /// for showing that the harness's DTLS servers catch it.
    pub key_misbehave: Option<KeyMisbehaviour>,
    /// A factory Client Hold Off Time of its own, in seconds (`--hold-off`), as a device
    /// whose factory configuration cannot be provisioned with the vectors' 1 s has.
    pub hold_off: Option<u16>,
}

/// How the client secures its session with one server (BS-SEC-05).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionSecurity {
    /// A `coap://` server: plain CoAP (NoSec).
    NoSec,
    /// A `coaps://` server: DTLS with this PSK.
    Psk(Psk),
    /// A `coaps://` server for which the client holds no keys: it cannot talk to it.
    NoKeys,
}

impl NodeConfig {
    /// Every format the bundled client can take: TLV, SenML JSON, SenML CBOR, LwM2M CBOR
    /// (1.2), plain text, opaque (and link-format for Discover answers, which needs no
    /// listing).
    pub const ALL_FORMATS: [u16; 6] = [11542, 110, 112, 11544, 0, 42];
}

/// The reference client and its CoAP endpoint.
pub struct ReferenceNode {
    cfg: NodeConfig,
    spec: ClientSpec,
    client: Client,
    endpoint: Endpoint,
    clock: Clock,
    /// The model's messages in flight, by the endpoint's exchange.
    exchanges: HashMap<ExchangeId, Outgoing>,
    peers: Vec<(SocketAddr, Peer, ServerUri)>,
    /// A bootstrap attempt failed: the next Bootstrap-Request is a retry.
    failed: bool,
    /// Gave up bootstrapping ([`Variations::no_retry`]).
    gave_up: bool,
    /// Register attempts left per server before a refusal reaches the model
    /// ([`Variations::register_attempts`]).
    attempts: HashMap<ServerUri, u8>,
    /// What the misbehaviour remembers.
    memory: Memory,
    /// The Message ID of the first request it sent ([`Misbehaviour::ReusesMessageId`]).
    first_mid: Option<u16>,
    /// A Register to send again unasked, and when ([`Misbehaviour::RegistersAfterLastStep`]).
    again: Option<(Instant, Outgoing)>,
    log: VecDeque<String>,
}

fn leak(endpoint: &str) -> &'static str {
    Box::leak(endpoint.to_string().into_boxed_str())
}

impl ReferenceNode {
    /// Powers the client on at `now`: its factory configuration, what it sends first.
    pub fn boot(cfg: NodeConfig, now: Instant) -> Result<ReferenceNode, String> {
        let mut peers = Vec::new();
        let mut add = |uri: &str, peer: Peer, su: ServerUri| -> Result<(), String> {
            peers.push((coap_uri::socket_addr(uri)?, peer, su));
            Ok(())
        };
        add(
            &cfg.uris.bootstrap,
            Peer::BootstrapServer,
            ServerUri::Bootstrap,
        )?;
        add(
            &cfg.uris.bootstrap_alternate,
            Peer::BootstrapServer,
            ServerUri::BootstrapAlternate,
        )?;
        for (k, u) in cfg.uris.servers.iter().enumerate() {
            let k = u8::try_from(k).map_err(|_| "too many servers".to_string())?;
            add(u, Peer::Server(k), ServerUri::Server(k))?;
        }
        let spec = ClientSpec {
            profile: cfg.profile,
            endpoint: leak(&cfg.endpoint),
            bugs: cfg.bugs,
        };
        let choices = conformance::vector::Features {
            bootstrap_pack: cfg.pack,
            no_access_control: cfg.no_access_control,
            ..Default::default()
        }
        .choices(cfg.profile);
        let mut factory = cfg.factory.store();
        if let Some(h) = cfg.hold_off {
            crate::profile::fix_hold_off(&mut factory, h);
        }
        let (client, out) = Client::boot(&spec, factory, choices);
        let mut c = ReferenceNode {
            spec,
            client,
            endpoint: Endpoint::new(cfg.timing, cfg.block_size),
            clock: Clock::default(),
            exchanges: HashMap::new(),
            peers,
            failed: false,
            gave_up: false,
            attempts: HashMap::new(),
            memory: Memory::default(),
            first_mid: None,
            again: None,
            log: VecDeque::new(),
            cfg,
        };
        // Power-on arms what the boot state arms (BS-FACT-05: the hold-off runs first).
        c.clock.sync(Armed::none(), &c.client, now, c.cfg.timing);
        c.emit(now, out)?;
        Ok(c)
    }

    /// The address of the bootstrap server (the local socket takes its family).
    pub fn bootstrap_server(&self) -> SocketAddr {
        self.peers[0].0
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.endpoint.poll_transmit()
    }

    /// The next line of its log (what it received, sent, gave up).
    pub fn poll_log(&mut self) -> Option<String> {
        self.log.pop_front()
    }

    /// When [`ReferenceNode::handle_timeout`] is due next: a model timer, a retransmission.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.clock.next().map(|(_, d)| d),
            self.endpoint.poll_timeout(),
            self.again.as_ref().map(|(at, _)| *at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn note(&mut self, what: impl Into<String>) {
        self.log.push_back(what.into());
    }

    /// Takes a datagram from `from`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), String> {
        match self.endpoint.handle_datagram(now, from, bytes) {
            Received::Duplicate => self.note(format!("duplicate from {from}: answered again")),
            Received::Stale => self.note(format!("ignored a stale message from {from}")),
            _ => {}
        }
        self.events(now)
    }

    /// Fires expired timers, retransmits or gives up on unanswered requests.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), String> {
        if let Some((at, register)) = self.again.take() {
            if at <= now {
                self.note("registering again, unasked (--misbehave registers-after-last-step)");
                self.emit(
                    now,
                    Output {
                        response: None,
                        send: vec![register],
                    },
                )?;
            } else {
                self.again = Some((at, register));
            }
        }
        while let Some((t, at)) = self.clock.next() {
            if at > now {
                break;
            }
            self.clock.clear(t);
            self.note(format!("timer {t:?} expired"));
            if t == bootstrap_model::client::Timer::ExchangeLifetime {
                self.failed = true;
            }
            self.handle(now, &Input::TimerExpired(t))?;
        }
        self.endpoint.handle_timeout(now);
        self.events(now)
    }

    /// Feeds one input to the model, keeping the clock in step, and sends what it asks.
    fn handle(&mut self, now: Instant, input: &Input) -> Result<Option<Response>, String> {
        let before = Armed::of(&self.client);
        let mut out = self.client.handle(&self.spec, input);
        self.clock.sync(before, &self.client, now, self.cfg.timing);
        let response = out.response.take();
        self.emit(now, out)?;
        Ok(response)
    }

    /// What the endpoint has to say: server requests to answer, answers to the model's
    /// messages, messages given up.
    fn events(&mut self, now: Instant) -> Result<(), String> {
        while let Some(e) = self.endpoint.poll_event() {
            match e {
                Event::Request {
                    id,
                    from,
                    request,
                    again,
                } => self.server_request(now, id, from, &request, again)?,
                Event::Response { exchange, response } => {
                    if let Some(m) = self.exchanges.remove(&exchange) {
                        self.answered(now, m, &response)?;
                    }
                }
                Event::Failed { exchange, failure } => {
                    if let Some(m) = self.exchanges.remove(&exchange) {
                        self.failed_request(now, m, failure)?;
                    }
                }
                Event::Broken { from, why, .. } => {
                    self.note(format!("ignored a message from {from}: {why}"));
                }
                Event::MessageIdReused { from, mid, .. } => {
                    self.note(format!(
                        "{from} used Message ID {mid} again for another request"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Sends the model's outgoing messages as Confirmable requests (a Bootstrap-Pack
    /// request with an early Block2 when block-wise, RFC 7959 §2.4).
    fn emit(&mut self, now: Instant, out: Output) -> Result<(), String> {
        for m in out.send {
            match &m {
                Outgoing::BootstrapRequest { .. } | Outgoing::BootstrapPackRequest { .. }
                    if self.cfg.vary.no_retry && (self.failed || self.gave_up) =>
                {
                    self.gave_up = true;
                    self.note(format!("not retrying: {m} (--variations no-retry)"));
                    continue;
                }
                Outgoing::Register { to, .. } => {
                    let n = self.cfg.vary.register_attempts.max(1) - 1;
                    self.attempts.insert(*to, n);
                }
                _ => {}
            }
            let m = self.my_pct(m);
            let mut coap = render_message(
                &m,
                &self.cfg.uris,
                &Variations {
                    format: None,
                    ..self.cfg.vary.clone()
                },
            );
            if let Some(bad) = self.cfg.misbehave {
                rewrite_message(bad, &mut coap, &mut self.memory);
            }
            let to = coap_uri::socket_addr(&coap.uri)?;
            let pack = matches!(m, Outgoing::BootstrapPackRequest { .. });
            // A Bootstrap-Pack-Request asks for the first pack format the client lists.
            let accept = pack
                .then(|| {
                    self.cfg
                        .content_formats
                        .iter()
                        .copied()
                        .find(|f| PACK_FORMATS.contains(f))
                })
                .flatten();
            let bytes = encode_client_message_accepting(&coap, accept, 0, &[])?;
            let request = Packet::from_bytes(&bytes)
                .map_err(|e| format!("cannot re-read a request: {e:?}"))?;
            let reuse = self.cfg.misbehave == Some(Misbehaviour::ReusesMessageId);
            let options = RequestOptions {
                early_block2: pack,
                message_id: self.first_mid.filter(|_| reuse),
                ..Default::default()
            };
            let x = self.endpoint.request(now, to, request, options)?;
            let mid = self.endpoint.message_id(x);
            self.first_mid = self.first_mid.or(mid);
            self.note(format!(
                "sent {m} to {to} (MID {})",
                mid.unwrap_or_default()
            ));
            self.exchanges.insert(x, m);
        }
        Ok(())
    }

    /// How the client secures its session with the server at `to`: over `coaps://`, with
    /// the PSK identity and key (/0/x/3, /0/x/5) of the account whose URI names that server
    /// in its configuration now (BS-SEC-05); the factory's bootstrap account with the PSK
    /// it was given, if any. A new key takes effect at the next session: the driver opens a
    /// new one when the answer here changes.
    pub fn session_security(&self, to: SocketAddr) -> SessionSecurity {
        let Some((_, su)) = self.peer(to) else {
            return SessionSecurity::NoSec;
        };
        let secure = crate::coap_uri::is_secure(&self.cfg.uris.uri(su));
        if !secure || self.cfg.key_misbehave == Some(KeyMisbehaviour::PlainCoap) {
            return SessionSecurity::NoSec;
        }
        let store = &self.client.store;
        let account = |u: ServerUri| {
            store
                .security
                .iter()
                .map(|(_, s)| s)
                .find(|s| s.uri == Some(u) && s.key.is_some())
        };
        let chosen = match self.cfg.key_misbehave {
            Some(KeyMisbehaviour::BootstrapKeyEverywhere) => {
                store.bootstrap_account().map(|(_, s)| s)
            }
            _ => account(su),
        };
        let Some(s) = chosen else {
            return SessionSecurity::NoKeys;
        };
        let Some(k) = s.key else {
            return SessionSecurity::NoKeys;
        };
        let factory_key = self
            .cfg
            .factory
            .store()
            .bootstrap_account()
            .and_then(|(_, b)| b.key);
        let mut psk = match (&self.cfg.bs_psk, s.is_bootstrap() && Some(k) == factory_key) {
            (Some(given), true) => given.clone(),
            _ => Psk {
                identity: psk_identity(k),
                key: secret_key(k),
            },
        };
        if self.cfg.key_misbehave == Some(KeyMisbehaviour::WrongBootstrapKey) && s.is_bootstrap() {
            psk.key.iter_mut().for_each(|b| *b ^= 0x5a);
        }
        SessionSecurity::Psk(psk)
    }

    /// The secure session with `to` failed (its handshake was refused, `why`): the requests
    /// that were to go in it fail at once (Transport 1.2 §5.2.10: the client "MUST consider
    /// the handshake failed" and follow its Server object's error handling, so a Register
    /// fails as unanswered: its retry procedure, then BS-REG-06).
    pub fn session_failed(
        &mut self,
        now: Instant,
        to: SocketAddr,
        why: &str,
    ) -> Result<(), String> {
        self.endpoint.abandon(to, why);
        self.events(now)
    }

    /// The misbehaviour of its secure sessions, if any (for its driver).
    pub fn key_misbehave(&self) -> Option<KeyMisbehaviour> {
        self.cfg.key_misbehave
    }

    fn peer(&self, from: SocketAddr) -> Option<(Peer, ServerUri)> {
        self.peers
            .iter()
            .find(|(a, _, _)| *a == from)
            .map(|(_, p, u)| (*p, *u))
    }

    fn failed_request(
        &mut self,
        now: Instant,
        m: Outgoing,
        failure: Failure,
    ) -> Result<(), String> {
        match failure {
            Failure::Blockwise(why) => {
                self.note(format!("answer to {m}: {why}"));
                self.answer(now, &m, Some(ResponseCode::BadRequest))
            }
            Failure::Reset => {
                self.note("request reset by the server");
                self.answer(now, &m, None)
            }
            Failure::NoAnswer => {
                self.note(format!("no answer to {m}; giving up"));
                self.answer(now, &m, None)
            }
            Failure::Session(why) => {
                self.note(format!("{m} not sent: its DTLS handshake failed ({why})"));
                self.answer(now, &m, None)
            }
        }
    }

    /// The model's input for the answer `code` (`None`: none came) to `m`.
    fn answer(
        &mut self,
        now: Instant,
        m: &Outgoing,
        code: Option<ResponseCode>,
    ) -> Result<(), String> {
        match (m, code) {
            (Outgoing::BootstrapRequest { .. }, Some(ResponseCode::Changed)) => self.failed = false,
            // A refused or unanswered Bootstrap-Request is a failed attempt; a failed
            // Bootstrap-Pack-Request is not (its fallback is part of the attempt, BS-PACK-04).
            (Outgoing::BootstrapRequest { .. }, _) => self.failed = true,
            (Outgoing::BootstrapPackRequest { .. }, _) => {}
            (Outgoing::Register { to, .. }, _) => {
                // Its own retry procedure: the same Register again while attempts are left.
                let left = self.attempts.get(to).copied().unwrap_or(0);
                if left > 0 {
                    self.note(format!("Register to {to} failed; trying again"));
                    let again = Output {
                        response: None,
                        send: vec![m.clone()],
                    };
                    self.emit(now, again)?;
                    self.attempts.insert(*to, left - 1);
                    return Ok(());
                }
            }
        }
        let input = match m {
            Outgoing::BootstrapRequest { .. } => Input::BootstrapRequestAnswer(code),
            Outgoing::BootstrapPackRequest { .. } => Input::PackAnswer(match code {
                None => PackAnswer::NoAnswer,
                Some(c) => PackAnswer::Error(c),
            }),
            Outgoing::Register { to, .. } => {
                let ServerUri::Server(server) = to else {
                    return Ok(());
                };
                Input::RegisterAnswer {
                    server: *server,
                    answer: match code {
                        None => RegisterAnswer::NoAnswer,
                        Some(_) => RegisterAnswer::Rejected,
                    },
                }
            }
        };
        self.handle(now, &input).map(drop)
    }

    /// A server's answer to one of the model's messages, whole.
    fn answered(&mut self, now: Instant, m: Outgoing, p: &Packet) -> Result<(), String> {
        let MessageClass::Response(t) = p.header.code else {
            return Ok(());
        };
        self.note(format!("answer {t:?} to {m}"));
        let code = crate::lwm2m_codec::response_code(t);
        if matches!(m, Outgoing::Register { .. })
            && self.cfg.misbehave == Some(Misbehaviour::RegistersAfterLastStep)
            && self.again.is_none()
        {
            // Once answered, whatever the answer, as in process.
            self.again = Some((now + Duration::from_millis(300), m.clone()));
        }
        match (&m, code) {
            (Outgoing::Register { to, .. }, _) if t == ResponseType::Created => {
                let ServerUri::Server(server) = to else {
                    return Ok(());
                };
                let input = Input::RegisterAnswer {
                    server: *server,
                    answer: RegisterAnswer::Created,
                };
                self.handle(now, &input).map(drop)
            }
            (Outgoing::BootstrapPackRequest { .. }, Some(ResponseCode::Content)) => {
                let format = content_format(p).unwrap_or(110);
                let decoded = if self
                    .cfg
                    .content_formats
                    .iter()
                    .any(|f| u32::from(*f) == format)
                {
                    crate::lwm2m_codec::decode_pack_as(format, &p.payload, &self.cfg.uris)
                } else {
                    Err(format!(
                        "a pack in Content-Format {format}, which it does not take"
                    ))
                };
                let answer = match decoded {
                    Ok(pack) => PackAnswer::Pack(Box::new(pack)),
                    Err(e) => {
                        self.note(format!("cannot decode the pack: {e}"));
                        PackAnswer::Error(ResponseCode::BadRequest)
                    }
                };
                self.handle(now, &Input::PackAnswer(answer)).map(drop)
            }
            (m, code) => {
                // A code outside the bootstrap interface's set is still an error.
                let code = code.or(Some(if t == ResponseType::Created {
                    ResponseCode::Changed
                } else {
                    ResponseCode::BadRequest
                }));
                self.answer(now, &m.clone(), code)
            }
        }
    }

    /// A server's request, whole: decoded into the model's input and answered with the
    /// model's response (a duplicate Finish asked again: the model's answer to
    /// [`Input::DuplicateFinish`], or the first answer when it has none).
    fn server_request(
        &mut self,
        now: Instant,
        id: RequestId,
        from: SocketAddr,
        p: &Packet,
        again: bool,
    ) -> Result<(), String> {
        let Some((peer, _)) = self.peer(from) else {
            self.note(format!("ignored a request from unknown peer {from}"));
            self.endpoint.ignore(id);
            return Ok(());
        };
        if again {
            return match self.handle(now, &Input::DuplicateFinish)? {
                Some(r) => {
                    let reply = self.encode(&r, p)?;
                    self.endpoint.respond(now, id, reply, Answer::AskAgain)
                }
                None => self.endpoint.respond_as_before(now, id),
            };
        }
        // BS-OBJ-06 (`--variations alternate-path`): a management server addresses the
        // objects under `/lwm2m`, which the client strips; the bootstrap server uses plain
        // paths, which it maps itself.
        let p = match self.alternate_path_request(p, peer) {
            AltPath::Plain => p.clone(),
            AltPath::Mapped(q) => q,
            AltPath::NotHere => {
                self.note("a management server's request outside the alternate path /lwm2m: 4.04");
                let reply = empty_reply(ResponseType::NotFound);
                return self.endpoint.respond(now, id, reply, Answer::Cached);
            }
        };
        let method = match p.header.code {
            MessageClass::Request(m) => m,
            _ => RequestType::UnKnown,
        };
        let is_finish = method == RequestType::Post && endpoint::uri_path(&p) == [b"bs".to_vec()];
        let bytes = p
            .to_bytes_unlimited()
            .map_err(|e| format!("cannot re-read a request: {e:?}"))?;
        let reply = match decode_request(&bytes, peer, &self.cfg.uris) {
            Ok(input)
                if self.cfg.vary.no_server_push
                    && pushed(&input)
                    && self.client.phase != bootstrap_model::client::Phase::Bootstrapping =>
            {
                self.note(
                    "refused a bootstrap command outside a session (--variations no-server-push)",
                );
                empty_reply(ResponseType::BadRequest)
            }
            Ok(input) => {
                let input = self.only_my_formats(input, &p);
                self.note(format!("received {input:?} from {from}"));
                match self.handle(now, &input)? {
                    Some(r) => self.encode(&r, &p)?,
                    None => empty_reply(ResponseType::BadRequest),
                }
            }
            Err(e) => {
                self.note(format!("cannot decode a request from {from}: {e}"));
                empty_reply(ResponseType::BadRequest)
            }
        };
        let reply = match self.cfg.misbehave {
            Some(bad) => self.misbehave_reply(bad, &p, method, peer, reply),
            None => reply,
        };
        let how = if is_finish {
            Answer::AskAgain
        } else {
            Answer::Cached
        };
        self.endpoint.respond(now, id, reply, how)
    }

    /// `reply` to `p` as the misbehaviour `bad` rewrites it.
    fn misbehave_reply(
        &mut self,
        bad: Misbehaviour,
        p: &Packet,
        method: RequestType,
        peer: Peer,
        reply: Packet,
    ) -> Packet {
        let path = format!(
            "/{}",
            endpoint::uri_path(p)
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join("/")
        );
        let method = match method {
            RequestType::Get => "GET",
            RequestType::Put => "PUT",
            RequestType::Post => "POST",
            RequestType::Delete => "DELETE",
            _ => "?",
        };
        let accept = p
            .get_first_option(CoapOption::Accept)
            .and_then(|v| crate::lwm2m_codec::read_uint(v))
            .and_then(|v| u16::try_from(v).ok());
        let view = RequestView {
            method,
            path: &path,
            from_bootstrap_server: peer == Peer::BootstrapServer,
            accept,
        };
        rewrite_reply(bad, view, reply, &mut self.memory)
    }
}

/// An answer with `code` and nothing else.
fn empty_reply(code: ResponseType) -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.code = MessageClass::Response(code);
    p
}

/// The formats a Bootstrap-Pack can come in (BS-PACK-01): SenML CBOR, SenML JSON, LwM2M
/// CBOR; the bundled client decodes all three.
const PACK_FORMATS: [u16; 3] = [112, 110, 11544];

impl ReferenceNode {
    /// A Bootstrap-Request names as `pct` the first format of the client's list that
    /// BS-REQ-02 allows (SenML CBOR for a SenML-CBOR-only client), where the model says an
    /// allowed one (TLV); a `pct` outside the set (an injected bug) stays.
    fn my_pct(&self, m: Outgoing) -> Outgoing {
        let allowed = conformance::oracle::allowed_pct(self.cfg.profile);
        match m {
            Outgoing::BootstrapRequest {
                to,
                endpoint,
                pct: Some(p),
                device_info,
            } if allowed.contains(&p) => Outgoing::BootstrapRequest {
                to,
                endpoint,
                pct: Some(
                    self.cfg
                        .content_formats
                        .iter()
                        .copied()
                        .find(|f| allowed.contains(f))
                        .unwrap_or(p),
                ),
                device_info,
            },
            other => other,
        }
    }

    /// The response to a request `p` in the format its Accept asks (4.06 when the client
    /// does not take it), or the client's first format that has the content; rendered with
    /// the client's variations.
    fn encode(&self, r: &Response, p: &Packet) -> Result<Packet, String> {
        let accept = p
            .get_first_option(coap_lite::CoapOption::Accept)
            .and_then(|v| crate::lwm2m_codec::read_uint(v));
        let profile = self.cfg.profile;
        let (code, encodings, links) = match &r.content {
            Some(bootstrap_model::client::Content::Links { .. }) => {
                let o = render_response(r, profile, &self.cfg.uris, &self.cfg.vary, None);
                (r.code, o.payload.into_iter().collect(), true)
            }
            Some(bootstrap_model::client::Content::AccessControl(_))
                if self.cfg.vary.no_access_control =>
            {
                (ResponseCode::NotFound, Vec::new(), false)
            }
            Some(c) => (
                r.code,
                conformance::wire::read_content(
                    c,
                    profile,
                    &self.cfg.uris,
                    self.cfg.vary.read_defaults,
                ),
                false,
            ),
            None => (r.code, Vec::new(), false),
        };
        let bytes = encode_response_for(
            response_type(code),
            &encodings,
            links,
            0,
            p.get_token(),
            accept,
            &self.cfg.content_formats,
        )?;
        Packet::from_bytes(&bytes).map_err(|e| format!("cannot re-read an answer: {e:?}"))
    }

    /// Where `bytes`, a request from `peer`, stands with the client's alternate path.
    fn alternate_path_request(&self, p: &Packet, peer: Peer) -> AltPath {
        if !self.cfg.vary.alternate_path || peer == Peer::BootstrapServer {
            return AltPath::Plain;
        }
        let segs = endpoint::uri_path(p);
        let numeric = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        match strip_first_segment(p, b"lwm2m") {
            Some(b) => AltPath::Mapped(b),
            None if segs.first().is_some_and(|s| numeric(s)) => AltPath::NotHere,
            None => AltPath::Plain,
        }
    }

    /// A write in a Content-Format the client does not take is, for the model, a write in
    /// an unsupported format (BS-WRITE-06: 4.15).
    fn only_my_formats(&self, input: Input, p: &Packet) -> Input {
        match input {
            Input::Write {
                from,
                path,
                keep_server_info,
                ..
            } if !content_format(p)
                .is_some_and(|f| self.cfg.content_formats.iter().any(|x| u32::from(*x) == f)) =>
            {
                Input::Write {
                    from,
                    path,
                    value: bootstrap_model::client::WriteValue::UnsupportedContentFormat,
                    keep_server_info,
                }
            }
            other => other,
        }
    }
}

/// Whether `input` is a bootstrap command from the bootstrap server (a 1.0 push when no
/// session is open).
fn pushed(input: &Input) -> bool {
    matches!(
        input,
        Input::Write {
            from: Peer::BootstrapServer,
            ..
        } | Input::Read {
            from: Peer::BootstrapServer,
            ..
        } | Input::Discover {
            from: Peer::BootstrapServer,
            ..
        } | Input::Delete {
            from: Peer::BootstrapServer,
            ..
        } | Input::Finish {
            from: Peer::BootstrapServer
        }
    )
}

fn content_format(p: &Packet) -> Option<u32> {
    p.get_first_option(coap_lite::CoapOption::ContentFormat)
        .and_then(|v| crate::lwm2m_codec::read_uint(v))
}

/// How a request meets the client's alternate path (BS-OBJ-06).
enum AltPath {
    /// No alternate path, the bootstrap server, or not an object path: as it is.
    Plain,
    /// A management server's request under the alternate path, without it.
    Mapped(Packet),
    /// A management server's object request outside the alternate path.
    NotHere,
}

/// The request `p` without its first Uri-Path segment, if that segment is `prefix`.
fn strip_first_segment(p: &Packet, prefix: &[u8]) -> Option<Packet> {
    let segs = endpoint::uri_path(p);
    if segs.first().map(Vec::as_slice) != Some(prefix) {
        return None;
    }
    let mut q = p.clone();
    q.clear_option(CoapOption::UriPath);
    for s in &segs[1..] {
        q.add_option(CoapOption::UriPath, s.clone());
    }
    Some(q)
}
