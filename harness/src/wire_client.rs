//! The bundled reference client on the wire: the model's sans-IO [`Client`] behind a UDP
//! driver, so that the whole suite runs over real CoAP with no third party, and every
//! injected bug can be run on the wire too (`lwm2m-reference-client wire --bug NAME`).
//!
//! The driver is the only I/O: one UDP socket on loopback; server requests are decoded into
//! the model's inputs ([`crate::coap::decode_request`]) and answered piggy-backed; the
//! model's outgoing messages go out as Confirmable requests, retransmitted with the RFC 7252
//! timing ([`CoapTiming`], scaled by `--coap-time-scale`) until answered, and given up after
//! MAX_TRANSMIT_WAIT, which the model sees as "no answer" (BS-REQ-04). Duplicates of a
//! server request (same peer and Message ID) are answered from a cache (RFC 7252 §4.5); a
//! duplicate Bootstrap-Finish goes to the model as [`Input::DuplicateFinish`] so that the
//! `no-deduplication` bug shows on the wire. The model's timers fire from a [`Clock`].
//!
//! With `--block-size N` ([`WireClientConfig::block_size`]) it is a client with small
//! buffers and uses block-wise transfer (RFC 7959) through [`crate::blockwise`]: a request
//! of its own whose payload exceeds N bytes (a Register's link-format, BS-REG-01) goes as
//! Block1 blocks, each next one after the server's 2.31 Continue (§2.5); it asks for the
//! Bootstrap-Pack (BS-PACK-01) with an early Block2 option of size N (§2.4) and fetches the
//! following blocks of a Block2 answer; and an answer of its own to a server's request
//! (Bootstrap-Read, BS-READ-01; Discover, BS-DISC-01) whose payload exceeds N bytes goes as
//! Block2 block 0, the later blocks served from the stored answer without the model (§2.4);
//! a server's request whose payload exceeds N bytes is refused 4.13 with a Block1 size hint
//! (§2.9.3) and taken in Block1 blocks, put back together before the model sees it (§2.3).
//!
//! Content formats: the client takes writes and answers reads in every format of
//! [`WireClientConfig::content_formats`] (TLV, SenML JSON, SenML CBOR, LwM2M CBOR, plain
//! text, opaque by default; `--content-formats` narrows it, e.g. to a SenML-CBOR-only or an
//! LwM2M-CBOR-only client). A write in
//! another format is answered 4.15 and a read whose Accept names another 4.06 (BS-WRITE-06,
//! BS-READ-01); its Bootstrap-Pack-Request asks for the first pack format of the list
//! (Accept 112, 110 or 11544, BS-PACK-01) and the pack is decoded by its Content-Format.
//!
//! Its Bootstrap-Request's `pct` is the first of those formats BS-REQ-02 allows in its
//! profile (LwM2M CBOR only in 1.2).
//!
//! The model names servers abstractly ([`ServerUri`]); the launcher passes the concrete
//! [`UriMap`] of the servers the harness listens on, and peers are told apart by the
//! address a datagram comes from.

use crate::blockwise::{self, Block2Fetch, Fetched};
use crate::coap::{
    decode_request, encode_client_message_accepting, encode_response_for, response_type,
};
use crate::misbehave::{rewrite_message, rewrite_reply, Memory, Misbehaviour, RequestView};
use crate::timing::{Armed, Clock, CoapTiming};
use crate::transport::{self, Ids};
use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{
    Client, ClientSpec, Input, Outgoing, Output, PackAnswer, Peer, RegisterAnswer, Response,
};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::objects::ServerUri;
use bootstrap_model::profile::Profile;
use bootstrap_model::system::Factory;
use coap_lite::block_handler::BlockValue;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};
use conformance::observation::{render_message, render_response, Variations};
use conformance::wire::UriMap;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How the reference client is started on the wire.
#[derive(Clone, Debug)]
pub struct WireClientConfig {
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
    /// The UDP port to listen on; 0: any free port.
    pub port: u16,
    /// Log each datagram on stderr.
    pub verbose: bool,
    /// Block-wise transfer (RFC 7959) with blocks of this many bytes (a power of two from
    /// 16 to 1024); `None`: every message in one datagram.
    pub block_size: Option<usize>,
    /// The Content-Formats it takes and answers in, the preferred first
    /// ([`WireClientConfig::ALL_FORMATS`] unless narrowed).
    pub content_formats: Vec<u16>,
    /// Conforming variations (`--variations`): how its answers and messages look, and the
    /// behaviours the specification leaves open ([`Variations`]).
    pub vary: Variations,
    /// A misbehaviour applied to the datagrams it sends (`--misbehave`,
    /// [`crate::misbehave`]), for showing that the harness catches it on the wire.
    pub misbehave: Option<Misbehaviour>,
}

impl WireClientConfig {
    /// Every format the bundled client can take: TLV, SenML JSON, SenML CBOR, LwM2M CBOR
    /// (1.2), plain text, opaque (and link-format for Discover answers, which needs no
    /// listing).
    pub const ALL_FORMATS: [u16; 6] = [11542, 110, 112, 11544, 0, 42];
}

/// A request of the client's own, awaiting its answer.
struct Exchange {
    message: Outgoing,
    to: SocketAddr,
    token: Vec<u8>,
    bytes: Vec<u8>,
    attempt: u32,
    /// When to retransmit (or give up); `None` once an empty ACK said a separate response
    /// will follow.
    next: Option<Instant>,
    /// When a separate response is given up on.
    give_up: Instant,
    /// The request without payload, for the requests of the next blocks.
    template: Packet,
    /// The whole body of a request that goes as Block1, and the block in flight.
    block1: Option<(Vec<u8>, BlockValue)>,
    /// The answer's body, fetched block by block (Block2).
    fetch: Option<Block2Fetch>,
}

/// The client and its socket.
pub struct WireClient {
    cfg: WireClientConfig,
    spec: ClientSpec,
    client: Client,
    socket: UdpSocket,
    ids: Ids,
    clock: Clock,
    exchanges: Vec<Exchange>,
    /// Responses sent, by peer and Message ID, with whether the request was a Finish.
    answered: HashMap<(SocketAddr, u16), (Vec<u8>, bool)>,
    peers: Vec<(SocketAddr, Peer, ServerUri)>,
    /// Block1 requests of the servers being received, by peer and Uri-Path.
    assembling: HashMap<(SocketAddr, Vec<Vec<u8>>), blockwise::Block1Assembly>,
    /// Answers sent as Block2, whole, by peer and Uri-Path: the later blocks come from here.
    served: HashMap<(SocketAddr, Vec<Vec<u8>>), Packet>,
    /// A bootstrap attempt failed: the next Bootstrap-Request is a retry.
    failed: bool,
    /// Gave up bootstrapping ([`Variations::no_retry`]).
    gave_up: bool,
    /// Register attempts left per server before a refusal reaches the model
    /// ([`Variations::register_attempts`]).
    attempts: HashMap<ServerUri, u8>,
    /// What the misbehaviour remembers.
    memory: Memory,
    /// The Message ID of the last request it sent ([`Misbehaviour::ReusesMessageId`]).
    last_mid: Option<u16>,
    /// A Register to send again unasked, and when ([`Misbehaviour::RegistersAfterLastStep`]).
    again: Option<(Instant, Outgoing)>,
}

fn leak(endpoint: &str) -> &'static str {
    Box::leak(endpoint.to_string().into_boxed_str())
}

impl WireClient {
    /// Binds the client's socket (an ephemeral port on the loopback address of the
    /// bootstrap server's family) and powers the client on.
    pub fn start(cfg: WireClientConfig) -> Result<WireClient, String> {
        let mut peers = Vec::new();
        let mut add = |uri: &str, peer: Peer, su: ServerUri| -> Result<(), String> {
            peers.push((transport::socket_addr(uri)?, peer, su));
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
        let local = if peers[0].0.is_ipv6() {
            format!("[::1]:{}", cfg.port)
        } else {
            format!("127.0.0.1:{}", cfg.port)
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
        let (client, out) = Client::boot(&spec, cfg.factory.store(), choices);
        let mut c = WireClient {
            spec,
            client,
            socket,
            ids: Ids::default(),
            clock: Clock::default(),
            exchanges: Vec::new(),
            answered: HashMap::new(),
            peers,
            served: HashMap::new(),
            assembling: HashMap::new(),
            failed: false,
            gave_up: false,
            attempts: HashMap::new(),
            memory: Memory::default(),
            last_mid: None,
            again: None,
            cfg,
        };
        // Power-on arms what the boot state arms (BS-FACT-05: the hold-off runs first).
        c.clock
            .sync(Armed::none(), &c.client, Instant::now(), c.cfg.timing);
        c.emit(out)?;
        Ok(c)
    }

    /// The address the client listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        self.socket.local_addr().map_err(|e| e.to_string())
    }

    fn log(&self, what: &str) {
        if self.cfg.verbose {
            eprintln!("lwm2m-reference-client: {what}");
        }
    }

    fn send(&self, bytes: &[u8], to: SocketAddr) -> Result<(), String> {
        self.socket
            .send_to(bytes, to)
            .map(drop)
            .map_err(|e| format!("cannot send to {to}: {e}"))
    }

    /// Feeds one input to the model, keeping the clock in step, and sends what it asks.
    fn handle(&mut self, input: &Input) -> Result<Option<Response>, String> {
        let before = Armed::of(&self.client);
        let mut out = self.client.handle(&self.spec, input);
        self.clock
            .sync(before, &self.client, Instant::now(), self.cfg.timing);
        let response = out.response.take();
        self.emit(out)?;
        Ok(response)
    }

    /// The SZX of `--block-size`, when block-wise transfer is on.
    fn szx(&self) -> Option<u8> {
        self.cfg
            .block_size
            .and_then(|s| blockwise::block(0, false, s))
            .map(|v| v.size_exponent)
    }

    /// Sends the model's outgoing messages as Confirmable requests (block 0 of a Block1
    /// request when the payload exceeds `--block-size`, RFC 7959 §2.5; a Bootstrap-Pack
    /// request with an early Block2, §2.4).
    fn emit(&mut self, out: Output) -> Result<(), String> {
        for m in out.send {
            match &m {
                Outgoing::BootstrapRequest { .. } | Outgoing::BootstrapPackRequest { .. }
                    if self.cfg.vary.no_retry && (self.failed || self.gave_up) =>
                {
                    self.gave_up = true;
                    self.log(&format!("not retrying: {m} (--variations no-retry)"));
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
            let to = transport::socket_addr(&coap.uri)?;
            let (mut mid, token) = (self.ids.mid(), self.ids.token());
            if self.cfg.misbehave == Some(Misbehaviour::ReusesMessageId) {
                mid = *self.last_mid.get_or_insert(mid);
            }
            // A Bootstrap-Pack-Request asks for the first pack format the client lists.
            let accept = matches!(m, Outgoing::BootstrapPackRequest { .. })
                .then(|| {
                    self.cfg
                        .content_formats
                        .iter()
                        .copied()
                        .find(|f| PACK_FORMATS.contains(f))
                })
                .flatten();
            let bytes = encode_client_message_accepting(&coap, accept, mid, &token)?;
            let mut template = Packet::from_bytes(&bytes)
                .map_err(|e| format!("cannot re-read a request: {e:?}"))?;
            let body = std::mem::take(&mut template.payload);
            let mut first = template.clone();
            first.payload.clone_from(&body);
            let mut block1 = None;
            if let Some(szx) = self.szx() {
                if body.len() > 1 << (szx + 4) {
                    let (v, bytes) = blockwise::chunk(&body, 0, szx).map_err(|e| e.to_string())?;
                    first.payload = bytes.to_vec();
                    blockwise::set_block(&mut first, CoapOption::Block1, &v);
                    block1 = Some((body, v));
                }
                if matches!(m, Outgoing::BootstrapPackRequest { .. }) {
                    let early = BlockValue {
                        num: 0,
                        more: false,
                        size_exponent: szx,
                    };
                    blockwise::set_block(&mut first, CoapOption::Block2, &early);
                }
            }
            let bytes = first
                .to_bytes()
                .map_err(|e| format!("cannot encode a request: {e:?}"))?;
            self.send(&bytes, to)?;
            self.log(&format!("sent {m} to {to} (MID {mid})"));
            let now = Instant::now();
            self.exchanges.push(Exchange {
                message: m,
                to,
                token,
                bytes,
                attempt: 0,
                next: Some(now + self.cfg.timing.retransmit_after(0)),
                give_up: now + self.cfg.timing.max_transmit_wait(),
                template,
                block1,
                fetch: None,
            });
        }
        Ok(())
    }

    /// Sends `q`, the request for the next block of exchange `i`, with a new Message ID,
    /// retransmitted like the first.
    fn resend(&mut self, i: usize, mut q: Packet) -> Result<(), String> {
        let mid = self.ids.mid();
        q.header.message_id = mid;
        q.header.set_type(MessageType::Confirmable);
        let bytes = q
            .to_bytes()
            .map_err(|e| format!("cannot encode a request: {e:?}"))?;
        let now = Instant::now();
        let (retransmit, give_up) = (
            now + self.cfg.timing.retransmit_after(0),
            now + self.cfg.timing.max_transmit_wait(),
        );
        let Some(e) = self.exchanges.get_mut(i) else {
            return Ok(());
        };
        e.bytes.clone_from(&bytes);
        e.attempt = 0;
        e.next = Some(retransmit);
        e.give_up = give_up;
        let to = e.to;
        self.log(&format!("sent the next block to {to} (MID {mid})"));
        self.send(&bytes, to)
    }

    fn peer(&self, from: SocketAddr) -> Option<(Peer, ServerUri)> {
        self.peers
            .iter()
            .find(|(a, _, _)| *a == from)
            .map(|(_, p, u)| (*p, *u))
    }

    /// Runs until `deadline` (forever when `None`), handling datagrams and timers.
    pub fn run(&mut self, deadline: Option<Instant>) -> Result<(), String> {
        let mut buf = vec![0u8; transport::MAX_DATAGRAM];
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            self.fire_due(now)?;
            let wake = [
                self.clock.next().map(|(_, d)| d),
                self.exchanges
                    .iter()
                    .map(|e| e.next.unwrap_or(e.give_up))
                    .min(),
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
                Ok((n, from)) => {
                    let datagram = buf[..n].to_vec();
                    self.datagram(&datagram, from)?
                }
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

    /// Fires expired timers and retransmits or gives up on unanswered requests.
    fn fire_due(&mut self, now: Instant) -> Result<(), String> {
        if let Some((at, register)) = self.again.take() {
            if at <= now {
                self.log("registering again, unasked (--misbehave registers-after-last-step)");
                self.emit(Output {
                    response: None,
                    send: vec![register],
                })?;
            } else {
                self.again = Some((at, register));
            }
        }
        while let Some((t, at)) = self.clock.next() {
            if at > now {
                break;
            }
            self.clock.clear(t);
            self.log(&format!("timer {t:?} expired"));
            if t == bootstrap_model::client::Timer::ExchangeLifetime {
                self.failed = true;
            }
            self.handle(&Input::TimerExpired(t))?;
        }
        let mut i = 0;
        while i < self.exchanges.len() {
            let e = &mut self.exchanges[i];
            match e.next {
                Some(at) if at <= now && e.attempt < crate::timing::MAX_RETRANSMIT => {
                    e.attempt += 1;
                    e.next = Some(now + self.cfg.timing.retransmit_after(e.attempt));
                    let (bytes, to) = (e.bytes.clone(), e.to);
                    self.send(&bytes, to)?;
                    self.log(&format!("retransmitted to {to}"));
                    i += 1;
                }
                Some(at) if at <= now => {
                    let e = self.exchanges.remove(i);
                    self.give_up(e)?;
                }
                None if e.give_up <= now => {
                    let e = self.exchanges.remove(i);
                    self.give_up(e)?;
                }
                _ => i += 1,
            }
        }
        Ok(())
    }

    fn give_up(&mut self, e: Exchange) -> Result<(), String> {
        self.log(&format!("no answer to {}; giving up", e.message));
        self.answer(&e.message, None)
    }

    /// The model's input for the answer `code` (`None`: none came) to `m`.
    fn answer(&mut self, m: &Outgoing, code: Option<ResponseCode>) -> Result<(), String> {
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
                    self.log(&format!("Register to {to} failed; trying again"));
                    let again = Output {
                        response: None,
                        send: vec![m.clone()],
                    };
                    self.emit(again)?;
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
        self.handle(&input).map(drop)
    }

    fn datagram(&mut self, bytes: &[u8], from: SocketAddr) -> Result<(), String> {
        let p = match Packet::from_bytes(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.log(&format!("ignored a malformed datagram from {from}: {e:?}"));
                return Ok(());
            }
        };
        let mid = p.header.message_id;
        match p.header.code {
            MessageClass::Request(method) => {
                let Some((peer, _)) = self.peer(from) else {
                    self.log(&format!("ignored a request from unknown peer {from}"));
                    return Ok(());
                };
                if let Some((cached, was_finish)) = self.answered.get(&(from, mid)).cloned() {
                    // RFC 7252 §4.5: a duplicate gets the same answer, not a second effect.
                    let reply = if was_finish {
                        match self.handle(&Input::DuplicateFinish)? {
                            Some(r) => self.encode(&r, &p, mid)?,
                            None => cached,
                        }
                    } else {
                        cached
                    };
                    self.log(&format!("duplicate MID {mid} from {from}: answered again"));
                    return self.send(&reply, from);
                }
                if let Some(reply) = self.serve_block(&p, from) {
                    self.answered.insert((from, mid), (reply.clone(), false));
                    return self.send(&reply, from);
                }
                let (whole, echo) = match self.receive_block1(&p, from) {
                    Block1In::Whole(whole, echo) => (whole, echo),
                    Block1In::Reply(reply) => {
                        let reply = if p.header.get_type() == MessageType::NonConfirmable {
                            retype(&reply, MessageType::NonConfirmable)
                        } else {
                            reply
                        };
                        self.answered.insert((from, mid), (reply.clone(), false));
                        return self.send(&reply, from);
                    }
                };
                let bytes = whole.as_deref().unwrap_or(bytes);
                // BS-OBJ-06 (`--variations alternate-path`): a management server addresses the
                // objects under `/lwm2m`, which the client strips; the bootstrap server uses
                // plain paths, which it maps itself.
                let mapped;
                let bytes = match self.alternate_path_request(bytes, peer) {
                    AltPath::Plain => bytes,
                    AltPath::Mapped(b) => {
                        mapped = b;
                        &mapped[..]
                    }
                    AltPath::NotHere => {
                        self.log(
                            "a management server's request outside the alternate path /lwm2m: 4.04",
                        );
                        let reply = not_found(mid, p.get_token());
                        self.answered.insert((from, mid), (reply.clone(), false));
                        return self.send(&reply, from);
                    }
                };
                let is_finish = method == RequestType::Post
                    && p.get_option(coap_lite::CoapOption::UriPath)
                        .is_some_and(|l| l.len() == 1 && l.front().is_some_and(|s| s == b"bs"));
                let reply = match decode_request(bytes, peer, &self.cfg.uris) {
                    Ok(input)
                        if self.cfg.vary.no_server_push
                            && pushed(&input)
                            && self.client.phase
                                != bootstrap_model::client::Phase::Bootstrapping =>
                    {
                        self.log("refused a bootstrap command outside a session (--variations no-server-push)");
                        bad_request(mid, p.get_token())
                    }
                    Ok(input) => {
                        let input = self.only_my_formats(input, &p);
                        self.log(&format!("received {input:?} from {from}"));
                        match self.handle(&input)? {
                            Some(r) => self.encode(&r, &p, mid)?,
                            None => bad_request(mid, p.get_token()),
                        }
                    }
                    Err(e) => {
                        self.log(&format!("cannot decode a request from {from}: {e}"));
                        bad_request(mid, p.get_token())
                    }
                };
                let reply = match self.cfg.misbehave {
                    Some(bad) => {
                        let path = format!(
                            "/{}",
                            uri_path(&p)
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
                            .and_then(|v| crate::coap::read_uint(v))
                            .and_then(|v| u16::try_from(v).ok());
                        let view = RequestView {
                            method,
                            path: &path,
                            from_bootstrap_server: peer == Peer::BootstrapServer,
                            accept,
                        };
                        rewrite_reply(bad, view, reply, &mut self.memory)
                    }
                    None => reply,
                };
                let reply = match echo {
                    // RFC 7959 §2.3: the answer to a Block1 request echoes its last block.
                    Some(b) => match Packet::from_bytes(&reply) {
                        Ok(mut r) => {
                            blockwise::set_block(&mut r, CoapOption::Block1, &b);
                            r.to_bytes().unwrap_or(reply)
                        }
                        Err(_) => reply,
                    },
                    None => reply,
                };
                let reply = self.first_block(reply, &p, from);
                // A Non-confirmable request gets a Non-confirmable response (RFC 7252 §5.2.3).
                let reply = if p.header.get_type() == MessageType::NonConfirmable {
                    retype(&reply, MessageType::NonConfirmable)
                } else {
                    reply
                };
                self.answered
                    .insert((from, mid), (reply.clone(), is_finish));
                self.send(&reply, from)
            }
            MessageClass::Empty => {
                // An empty ACK: a separate response follows. An RST: the request failed.
                let Some(i) = self
                    .exchanges
                    .iter()
                    .position(|e| e.to == from && mid_of(&e.bytes) == Some(mid))
                else {
                    return Ok(());
                };
                if p.header.get_type() == MessageType::Reset {
                    let e = self.exchanges.remove(i);
                    self.log("request reset by the server");
                    return self.answer(&e.message, None);
                }
                let give_up = Instant::now() + self.cfg.timing.exchange_lifetime();
                let e = &mut self.exchanges[i];
                e.next = None;
                e.give_up = give_up;
                Ok(())
            }
            MessageClass::Response(t) => {
                let kind = p.header.get_type();
                if matches!(kind, MessageType::Confirmable) {
                    self.send(&transport::empty(MessageType::Acknowledgement, mid), from)?;
                }
                let Some(i) = self
                    .exchanges
                    .iter()
                    .position(|e| e.to == from && e.token == p.get_token())
                else {
                    self.log(&format!(
                        "ignored a response with an unknown token from {from}"
                    ));
                    return Ok(());
                };
                let e = &self.exchanges[i];
                let blockwise = e.block1.is_some() || e.fetch.is_some();
                if blockwise
                    && kind == MessageType::Acknowledgement
                    && mid_of(&e.bytes) != Some(mid)
                {
                    // The blocks share a token: a piggy-backed answer to an earlier block's
                    // request (answered again after a retransmission) is stale.
                    self.log(&format!(
                        "ignored a late answer to an earlier block (MID {mid})"
                    ));
                    return Ok(());
                }
                let mut p = p;
                // RFC 7959 §2.3: 2.31 Continue asks for the next Block1 block.
                if t == ResponseType::Continue {
                    if let Some((body, sent)) = self.exchanges[i].block1.clone() {
                        let next = sent.num.saturating_add(1);
                        return match blockwise::chunk(&body, next, sent.size_exponent) {
                            Ok((v, bytes)) => {
                                let mut q = self.exchanges[i].template.clone();
                                q.payload = bytes.to_vec();
                                blockwise::set_block(&mut q, CoapOption::Block1, &v);
                                self.exchanges[i].block1 = Some((body, v));
                                self.resend(i, q)
                            }
                            Err(err) => {
                                let e = self.exchanges.remove(i);
                                self.log(&format!("2.31 Continue after the last block: {err}"));
                                self.answer(&e.message, Some(ResponseCode::BadRequest))
                            }
                        };
                    }
                }
                // RFC 7959 §2.4: a Block2 answer is fetched block by block.
                let step = match blockwise::block_of(&p, CoapOption::Block2) {
                    Ok(None) => None,
                    Ok(Some(b)) => Some(match self.exchanges[i].fetch.as_mut() {
                        Some(f) => f.offer(&b, &p.payload),
                        None => Block2Fetch::start(&b, &p.payload).map(|(f, next)| {
                            self.exchanges[i].fetch = Some(f);
                            next
                        }),
                    }),
                    Err(e) => Some(Err(e)),
                };
                match step {
                    None => {}
                    Some(Ok(Fetched::Next(want))) => {
                        let mut q = self.exchanges[i].template.clone();
                        q.clear_option(CoapOption::Block1);
                        blockwise::set_block(&mut q, CoapOption::Block2, &want);
                        return self.resend(i, q);
                    }
                    Some(Ok(Fetched::Complete(body))) => {
                        p.payload = body;
                        p.clear_option(CoapOption::Block2);
                    }
                    Some(Err(err)) => {
                        let e = self.exchanges.remove(i);
                        self.log(&format!("answer to {}: {err}", e.message));
                        return self.answer(&e.message, Some(ResponseCode::BadRequest));
                    }
                }
                let e = self.exchanges.remove(i);
                self.log(&format!("answer {t:?} to {}", e.message));
                let code = crate::coap::response_code(t);
                if matches!(e.message, Outgoing::Register { .. })
                    && self.cfg.misbehave == Some(Misbehaviour::RegistersAfterLastStep)
                    && self.again.is_none()
                {
                    // Once answered, whatever the answer, as in process.
                    self.again = Some((
                        Instant::now() + Duration::from_millis(300),
                        e.message.clone(),
                    ));
                }
                match (&e.message, code) {
                    (Outgoing::Register { to, .. }, _) if t == ResponseType::Created => {
                        let ServerUri::Server(server) = to else {
                            return Ok(());
                        };
                        self.handle(&Input::RegisterAnswer {
                            server: *server,
                            answer: RegisterAnswer::Created,
                        })
                        .map(drop)
                    }
                    (Outgoing::BootstrapPackRequest { .. }, Some(ResponseCode::Content)) => {
                        let format = content_format(&p).unwrap_or(110);
                        let decoded = if self
                            .cfg
                            .content_formats
                            .iter()
                            .any(|f| u32::from(*f) == format)
                        {
                            crate::coap::decode_pack_as(format, &p.payload, &self.cfg.uris)
                        } else {
                            Err(format!(
                                "a pack in Content-Format {format}, which it does not take"
                            ))
                        };
                        let answer = match decoded {
                            Ok(pack) => PackAnswer::Pack(Box::new(pack)),
                            Err(e) => {
                                self.log(&format!("cannot decode the pack: {e}"));
                                PackAnswer::Error(ResponseCode::BadRequest)
                            }
                        };
                        self.handle(&Input::PackAnswer(answer)).map(drop)
                    }
                    (m, code) => {
                        let m = m.clone();
                        // A code outside the bootstrap interface's set is still an error.
                        let code = code.or(Some(if t == ResponseType::Created {
                            ResponseCode::Changed
                        } else {
                            ResponseCode::BadRequest
                        }));
                        self.answer(&m, code)
                    }
                }
            }
            MessageClass::Reserved(_) => Ok(()),
        }
    }
}

/// What a server's request does with `--block-size`: the request to hand the model (the
/// datagram itself, or a Block1 request put back together, with the Block1 option its
/// answer echoes), or an answer that goes out at once.
enum Block1In {
    Whole(Option<Vec<u8>>, Option<BlockValue>),
    Reply(Vec<u8>),
}

impl WireClient {
    /// With `--block-size`, a server's request whose payload exceeds it is refused 4.13
    /// Request Entity Too Large with a Block1 size hint (RFC 7959 §2.9.3), and a Block1
    /// request is put back together: 2.31 Continue to each block but the last (§2.3), 4.08
    /// Request Entity Incomplete when a block is missing (§2.9.2).
    fn receive_block1(&mut self, p: &Packet, from: SocketAddr) -> Block1In {
        let Some(szx) = self.szx() else {
            return Block1In::Whole(None, None);
        };
        let (mid, token) = (p.header.message_id, p.get_token());
        let b = match blockwise::block_of(p, CoapOption::Block1) {
            Ok(Some(b)) => b,
            Ok(None) if p.payload.len() > 1 << (szx + 4) => {
                let hint = BlockValue {
                    num: 0,
                    more: false,
                    size_exponent: szx,
                };
                self.log(&format!(
                    "a request of {} bytes from {from}: 4.13 with a Block1 size hint",
                    p.payload.len()
                ));
                return Block1In::Reply(reply(
                    mid,
                    token,
                    ResponseType::RequestEntityTooLarge,
                    Some(&hint),
                ));
            }
            Ok(None) => return Block1In::Whole(None, None),
            Err(e) => {
                self.log(&format!("{e}"));
                return Block1In::Reply(bad_request(mid, token));
            }
        };
        let key = (from, uri_path(p));
        let offered = self
            .assembling
            .entry(key.clone())
            .or_default()
            .offer(&b, &p.payload);
        match offered {
            Ok(blockwise::Assembled::Continue(echo)) => {
                Block1In::Reply(reply(mid, token, ResponseType::Continue, Some(&echo)))
            }
            Ok(blockwise::Assembled::Complete(body, echo)) => {
                self.assembling.remove(&key);
                let mut whole = p.clone();
                whole.payload = body;
                whole.clear_option(CoapOption::Block1);
                match whole.to_bytes_unlimited() {
                    Ok(bytes) => Block1In::Whole(Some(bytes), Some(echo)),
                    Err(_) => Block1In::Reply(bad_request(mid, token)),
                }
            }
            Err(e) => {
                self.assembling.remove(&key);
                self.log(&format!("{e}"));
                Block1In::Reply(reply(
                    mid,
                    token,
                    ResponseType::RequestEntityIncomplete,
                    None,
                ))
            }
        }
    }

    /// A later block of an answer sent as Block2 (a server's request with Block2 NUM > 0
    /// for a path whose answer is stored), served without the model (RFC 7959 §2.4).
    fn serve_block(&self, p: &Packet, from: SocketAddr) -> Option<Vec<u8>> {
        let b = blockwise::block_of(p, CoapOption::Block2).ok()??;
        if b.num == 0 {
            return None;
        }
        let full = self.served.get(&(from, uri_path(p)))?;
        let reply = match blockwise::chunk(&full.payload, b.num, b.size_exponent) {
            Ok((v, bytes)) => {
                let mut r = full.clone();
                r.header.message_id = p.header.message_id;
                r.set_token(p.get_token().to_vec());
                r.payload = bytes.to_vec();
                blockwise::set_block(&mut r, CoapOption::Block2, &v);
                r.to_bytes().ok()?
            }
            Err(e) => {
                self.log(&format!("{e}"));
                bad_request(p.header.message_id, p.get_token())
            }
        };
        self.log(&format!("Block2 block {} served to {from}", b.num));
        Some(if p.header.get_type() == MessageType::NonConfirmable {
            retype(&reply, MessageType::NonConfirmable)
        } else {
            reply
        })
    }

    /// `reply` to request `p`, cut to its Block2 block 0 when its payload exceeds
    /// `--block-size` (RFC 7959 §2.4); the whole answer is kept for the later blocks.
    fn first_block(&mut self, reply: Vec<u8>, p: &Packet, from: SocketAddr) -> Vec<u8> {
        let Some(szx) = self.szx() else {
            return reply;
        };
        let Ok(mut r) = Packet::from_bytes(&reply) else {
            return reply;
        };
        if r.payload.len() <= 1 << (szx + 4) {
            return reply;
        }
        let Ok((v, bytes)) = blockwise::chunk(&r.payload, 0, szx) else {
            return reply;
        };
        self.served.insert((from, uri_path(p)), r.clone());
        r.payload = bytes.to_vec();
        blockwise::set_block(&mut r, CoapOption::Block2, &v);
        r.to_bytes().unwrap_or(reply)
    }
}

/// The Uri-Path options of a request.
fn uri_path(p: &Packet) -> Vec<Vec<u8>> {
    p.get_option(CoapOption::UriPath)
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default()
}

/// The formats a Bootstrap-Pack can come in (BS-PACK-01): SenML CBOR, SenML JSON, LwM2M
/// CBOR; the bundled client decodes all three.
const PACK_FORMATS: [u16; 3] = [112, 110, 11544];

impl WireClient {
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
    fn encode(&self, r: &Response, p: &Packet, mid: u16) -> Result<Vec<u8>, String> {
        let accept = p
            .get_first_option(coap_lite::CoapOption::Accept)
            .and_then(|v| crate::coap::read_uint(v));
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
        encode_response_for(
            response_type(code),
            &encodings,
            links,
            mid,
            p.get_token(),
            accept,
            &self.cfg.content_formats,
        )
    }

    /// Where `bytes`, a request from `peer`, stands with the client's alternate path.
    fn alternate_path_request(&self, bytes: &[u8], peer: Peer) -> AltPath {
        if !self.cfg.vary.alternate_path || peer == Peer::BootstrapServer {
            return AltPath::Plain;
        }
        let Ok(p) = Packet::from_bytes(bytes) else {
            return AltPath::Plain;
        };
        let segs = uri_path(&p);
        let numeric = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        match strip_first_segment(&p, b"lwm2m") {
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
        .and_then(|v| crate::coap::read_uint(v))
}

fn mid_of(bytes: &[u8]) -> Option<u16> {
    (bytes.len() >= 4).then(|| u16::from_be_bytes([bytes[2], bytes[3]]))
}

/// A piggy-backed answer with no payload, with a Block1 option when `block1` is given.
fn reply(mid: u16, token: &[u8], code: ResponseType, block1: Option<&BlockValue>) -> Vec<u8> {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.message_id = mid;
    p.header.code = MessageClass::Response(code);
    p.set_token(token.to_vec());
    if let Some(b) = block1 {
        blockwise::set_block(&mut p, CoapOption::Block1, b);
    }
    p.to_bytes().unwrap_or_default()
}

/// How a request meets the client's alternate path (BS-OBJ-06).
enum AltPath {
    /// No alternate path, the bootstrap server, or not an object path: as it is.
    Plain,
    /// A management server's request under the alternate path, re-encoded without it.
    Mapped(Vec<u8>),
    /// A management server's object request outside the alternate path.
    NotHere,
}

/// The request `p` without its first Uri-Path segment, re-encoded, if that segment is
/// `prefix`.
fn strip_first_segment(p: &Packet, prefix: &[u8]) -> Option<Vec<u8>> {
    let segs = uri_path(p);
    if segs.first().map(Vec::as_slice) != Some(prefix) {
        return None;
    }
    let mut q = p.clone();
    q.clear_option(CoapOption::UriPath);
    for s in &segs[1..] {
        q.add_option(CoapOption::UriPath, s.clone());
    }
    q.to_bytes().ok()
}

fn not_found(mid: u16, token: &[u8]) -> Vec<u8> {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.message_id = mid;
    p.header.code = MessageClass::Response(ResponseType::NotFound);
    p.set_token(token.to_vec());
    p.to_bytes().unwrap_or_default()
}

fn bad_request(mid: u16, token: &[u8]) -> Vec<u8> {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.message_id = mid;
    p.header.code = MessageClass::Response(ResponseType::BadRequest);
    p.set_token(token.to_vec());
    p.to_bytes().unwrap_or_default()
}

fn retype(bytes: &[u8], t: MessageType) -> Vec<u8> {
    match Packet::from_bytes(bytes) {
        Ok(mut p) => {
            p.header.set_type(t);
            p.to_bytes().unwrap_or_else(|_| bytes.to_vec())
        }
        Err(_) => bytes.to_vec(),
    }
}
