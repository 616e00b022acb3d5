//! The CoAP message layer (RFC 7252 §4, §5.2; RFC 7959), sans-IO: one local endpoint and
//! its peers, with no socket and no clock inside.
//!
//! It owns what both ends of the wire need below the LwM2M exchanges: Message IDs and
//! tokens; the answers it sent, so that a duplicate request (same peer, same Message ID,
//! same bytes, RFC 7252 §4.5) is answered again without a second effect; Confirmable
//! retransmission with the RFC 7252 parameters of [`CoapTiming`] until an answer comes,
//! an empty ACK announces a separate response (§5.2.2), a Reset refuses the request, or
//! MAX_RETRANSMIT retransmissions go unanswered; the empty ACK of a Confirmable separate
//! response; and block-wise transfer in both directions (RFC 7959): a request whose
//! payload exceeds the endpoint's block size goes as Block1 blocks, each after the peer's
//! 2.31 Continue (§2.3, §2.5), and again in blocks when the peer answers 4.13 with a
//! smaller size hint (§2.9.3); an answer with Block2 is fetched block by block (§2.4); a
//! peer's Block1 request is put back together (2.31 Continue, 4.08 for a gap, §2.9.2) and
//! one too large for the block size refused 4.13 with a size hint (§2.9.3); an answer
//! larger than the block size, or than the early Block2 option of its request, goes as
//! Block2 block 0, the later blocks served from the stored answer (§2.4).
//!
//! The interface is quinn-proto's: what happens goes in ([`Endpoint::handle_datagram`],
//! [`Endpoint::handle_timeout`], [`Endpoint::request`], [`Endpoint::respond`], each with
//! the `now` of the caller's clock), and what to do comes out ([`Endpoint::poll_transmit`]:
//! datagrams to send, with a note for the wire log; [`Endpoint::poll_event`]: whole
//! requests and responses, failures; [`Endpoint::poll_timeout`]: when to call
//! [`Endpoint::handle_timeout`] next). A driver owns the socket and the clock: UDP for real
//! clients and the bundled one, memory and a virtual clock in tests.

use crate::blockwise::{self, Assembled, Block1Assembly, Block2Fetch, Fetched};
use crate::timing::{CoapTiming, MAX_RETRANSMIT};
use coap_lite::block_handler::BlockValue;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, ResponseType};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Message IDs and tokens for one endpoint. Message IDs count up from a start that differs
/// between processes (RFC 7252 §4.4 asks for an unpredictable start); tokens are 4 bytes,
/// fresh for every request.
#[derive(Clone, Debug)]
pub struct Ids {
    mid: u16,
    token: u32,
}

impl Default for Ids {
    fn default() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ std::process::id().rotate_left(16);
        Ids {
            mid: nanos as u16,
            token: nanos.rotate_left(7),
        }
    }
}

impl Ids {
    /// The next Message ID.
    pub fn mid(&mut self) -> u16 {
        self.mid = self.mid.wrapping_add(1);
        self.mid
    }

    /// The next token.
    pub fn token(&mut self) -> Vec<u8> {
        self.token = self.token.wrapping_add(0x9e37_79b9);
        self.token.to_be_bytes().to_vec()
    }
}

/// An empty ACK (RFC 7252 §4.2), or an empty RST, for Message ID `mid`.
pub fn empty(kind: MessageType, mid: u16) -> Vec<u8> {
    let mut p = Packet::new();
    p.header.set_type(kind);
    p.header.message_id = mid;
    p.header.code = MessageClass::Empty;
    p.to_bytes().unwrap_or_default()
}

/// A peer's request that the endpoint's user owes an answer ([`Endpoint::respond`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// One of the endpoint's own requests, from [`Endpoint::request`] to its answer or failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(u64);

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub to: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
    /// Why it goes, for the wire log ("" for a first transmission).
    pub note: String,
}

/// What the endpoint tells its user.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A peer's request, whole (Block1 blocks put back together): answer it with
    /// [`Endpoint::respond`]. `again` is set for a duplicate of a request whose answer was
    /// given with [`Answer::AskAgain`]: the user may answer it differently, or with
    /// [`Endpoint::respond_as_before`].
    Request {
        /// To answer it with.
        id: RequestId,
        /// The peer.
        from: SocketAddr,
        /// The request, whole.
        request: Packet,
        /// A duplicate whose answer the user asked to give again itself.
        again: bool,
    },
    /// The answer to one of the endpoint's own requests, whole (Block2 blocks fetched).
    Response {
        /// The request it answers.
        exchange: ExchangeId,
        /// The answer.
        response: Packet,
    },
    /// One of the endpoint's own requests ended without an answer.
    Failed {
        /// The request.
        exchange: ExchangeId,
        /// Why.
        failure: Failure,
    },
    /// A peer sent a new request under a Message ID it had used for another request
    /// less than EXCHANGE_LIFETIME before, which RFC 7252 §4.4 forbids; the request is
    /// taken as new (it is not a duplicate: other bytes).
    MessageIdReused {
        /// The peer.
        from: SocketAddr,
        /// The Message ID.
        mid: u16,
        /// How long after its first use.
        after: std::time::Duration,
    },
    /// A peer broke a rule of the message layer; the endpoint went on as RFC 7252 and
    /// RFC 7959 say (ignored the message, or answered 4.00 or 4.08).
    Broken {
        /// The peer.
        from: SocketAddr,
        /// The datagram.
        bytes: Vec<u8>,
        /// The rule, for a report.
        why: String,
    },
}

/// How one of the endpoint's own requests ended without an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No answer after MAX_RETRANSMIT retransmissions, or no separate response within
    /// EXCHANGE_LIFETIME of the empty ACK (RFC 7252 §4.2, §5.2.2).
    NoAnswer,
    /// The peer refused it with a Reset (RFC 7252 §4.2).
    Reset,
    /// The block-wise transfer of the request or its answer broke (RFC 7959).
    Blockwise(String),
    /// The secure session it was to go in failed (a DTLS handshake the server refused):
    /// the request never left ([`Endpoint::abandon`]).
    Session(String),
}

/// How an answer given with [`Endpoint::respond`] meets a duplicate of its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The same answer again, without the user (RFC 7252 §4.5).
    Cached,
    /// The duplicate goes to the user as [`Event::Request`] with `again` set (the reference
    /// client's model sees a duplicate Bootstrap-Finish, so that a bug that acts on it twice
    /// shows).
    AskAgain,
}

/// Per-request choices of [`Endpoint::request`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// Ask for the answer in blocks of the endpoint's block size from the start (an early
    /// Block2 option, RFC 7959 §2.4); nothing without a block size.
    pub early_block2: bool,
    /// Send under this Message ID instead of a fresh one (a duplicate sent on purpose, or
    /// showing that a peer catches a reused Message ID, RFC 7252 §4.4).
    pub message_id: Option<u16>,
    /// Send with this token instead of a fresh one (with `message_id`: the same datagram
    /// again, a duplicate sent on purpose).
    pub token: Option<Vec<u8>>,
    /// Wait this long for each datagram's answer, past the last retransmission and past
    /// an empty ACK, before giving up ([`Failure::NoAnswer`]); `None`: MAX_TRANSMIT_WAIT
    /// after the last retransmission's timeout, EXCHANGE_LIFETIME after an empty ACK.
    pub patience: Option<std::time::Duration>,
}

/// What the endpoint made of a datagram, for the wire log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// A new request, now an [`Event::Request`].
    Request,
    /// A duplicate of an answered request, answered again.
    Duplicate,
    /// A retransmission of a request not answered yet.
    Retransmission(RequestId),
    /// A block of a block-wise transfer, answered below the user.
    Block,
    /// An answer or empty message for one of the endpoint's requests.
    Answer,
    /// A stale answer (to an earlier block, or already given), or one nobody asked for.
    Stale,
    /// Not CoAP, or against the rules: see [`Event::Broken`].
    Broken,
}

impl Received {
    /// The note for the wire log ("" for the plain cases).
    pub fn note(self) -> &'static str {
        match self {
            Received::Request | Received::Answer => "",
            Received::Duplicate => "duplicate",
            Received::Retransmission(_) => "retransmission",
            Received::Block => "block",
            Received::Stale => "stale",
            Received::Broken => "malformed",
        }
    }
}

/// A peer's request the user has not answered yet.
struct Owed {
    from: SocketAddr,
    mid: u16,
    token: Vec<u8>,
    confirmable: bool,
    /// The request's datagram (its last block's, for a Block1 request).
    bytes: Vec<u8>,
    uri_path: Vec<Vec<u8>>,
    /// The last Block1 option of a request that came in blocks: the answer echoes it
    /// (RFC 7959 §2.3).
    echo: Option<BlockValue>,
    /// The request's early Block2 option (RFC 7959 §2.4).
    early_block2: Option<BlockValue>,
    /// The answer given before, for a duplicate asked again.
    before: Option<Vec<u8>>,
}

/// An answer sent, kept for the request's duplicates.
struct Answered {
    request: Vec<u8>,
    reply: Vec<u8>,
    how: Answer,
    at: Instant,
}

/// One of the endpoint's own requests in flight.
struct Exchange {
    id: ExchangeId,
    to: SocketAddr,
    /// The request without payload and without Block1 (with an early Block2 when asked).
    template: Packet,
    body: Vec<u8>,
    /// The datagram in flight, its Message ID and token.
    bytes: Vec<u8>,
    mid: u16,
    token: Vec<u8>,
    /// Message IDs of the earlier datagrams of this request (its earlier blocks).
    earlier: Vec<u16>,
    attempt: u32,
    /// When to retransmit (or give up); `None` once an empty ACK announced a separate
    /// response.
    next: Option<Instant>,
    /// When a separate response is given up on.
    give_up: Instant,
    /// The Block1 block in flight.
    block1: Option<BlockValue>,
    /// The answer fetched block by block, and the code of its block 0.
    fetch: Option<(Block2Fetch, MessageClass)>,
    /// [`RequestOptions::patience`].
    patience: Option<std::time::Duration>,
}

/// The CoAP message layer of one local endpoint (see the module documentation).
pub struct Endpoint {
    timing: CoapTiming,
    /// SZX of the endpoint's block size; `None`: no block-wise transfer of its own.
    szx: Option<u8>,
    ids: Ids,
    next_id: u64,
    owed: HashMap<RequestId, Owed>,
    answered: HashMap<(SocketAddr, u16), Answered>,
    /// Block1 requests being received, by peer and Uri-Path.
    assembling: HashMap<(SocketAddr, Vec<Vec<u8>>), Block1Assembly>,
    /// Answers sent as Block2, whole, by peer and Uri-Path.
    served: HashMap<(SocketAddr, Vec<Vec<u8>>), Packet>,
    exchanges: Vec<Exchange>,
    /// Every Message ID the endpoint sent a request under, by peer: an ACK under any other
    /// answers nothing it sent.
    sent: std::collections::HashSet<(SocketAddr, u16)>,
    /// Each peer request's bytes and arrival by peer and Message ID, for RFC 7252 §4.4.
    mids: HashMap<(SocketAddr, u16), (Vec<u8>, Instant)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl Endpoint {
    /// An endpoint with `timing`, and block-wise transfer of its own with blocks of
    /// `block_size` bytes (a power of two from 16 to 1024; `None`: whole messages).
    pub fn new(timing: CoapTiming, block_size: Option<usize>) -> Endpoint {
        Endpoint {
            timing,
            szx: block_size
                .and_then(|s| blockwise::block(0, false, s))
                .map(|v| v.size_exponent),
            ids: Ids::default(),
            next_id: 0,
            owed: HashMap::new(),
            answered: HashMap::new(),
            assembling: HashMap::new(),
            served: HashMap::new(),
            exchanges: Vec::new(),
            sent: std::collections::HashSet::new(),
            mids: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.exchanges
            .iter()
            .map(|e| e.next.unwrap_or(e.give_up))
            .min()
    }

    /// Whether any request of the endpoint's own is still in flight.
    pub fn busy(&self) -> bool {
        !self.exchanges.is_empty()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn transmit(&mut self, to: SocketAddr, bytes: Vec<u8>, note: impl Into<String>) {
        self.transmits.push_back(Transmit {
            to,
            bytes,
            note: note.into(),
        });
    }

    fn broken(&mut self, from: SocketAddr, bytes: &[u8], why: impl Into<String>) -> Received {
        self.events.push_back(Event::Broken {
            from,
            bytes: bytes.to_vec(),
            why: why.into(),
        });
        Received::Broken
    }

    /// Sends `request` (method, options and payload; its Message ID, type and token are the
    /// endpoint's) to `to` as a Confirmable request, in Block1 blocks when its payload
    /// exceeds the block size; its answer or failure comes as an event.
    pub fn request(
        &mut self,
        now: Instant,
        to: SocketAddr,
        mut request: Packet,
        options: RequestOptions,
    ) -> Result<ExchangeId, String> {
        let body = std::mem::take(&mut request.payload);
        request.clear_option(CoapOption::Block1);
        request.clear_option(CoapOption::Block2);
        if let (Some(szx), true) = (self.szx, options.early_block2) {
            let early = BlockValue {
                num: 0,
                more: false,
                size_exponent: szx,
            };
            blockwise::set_block(&mut request, CoapOption::Block2, &early);
        }
        let mut first = request.clone();
        let mut block1 = None;
        match self.szx {
            Some(szx) if body.len() > 1 << (szx + 4) => {
                let (v, bytes) = blockwise::chunk(&body, 0, szx).map_err(|e| e.to_string())?;
                first.payload = bytes.to_vec();
                blockwise::set_block(&mut first, CoapOption::Block1, &v);
                block1 = Some(v);
            }
            _ => first.payload.clone_from(&body),
        }
        let mid = options.message_id.unwrap_or_else(|| self.ids.mid());
        let token = options.token.unwrap_or_else(|| self.ids.token());
        self.sent.insert((to, mid));
        first.header.set_type(MessageType::Confirmable);
        first.header.message_id = mid;
        first.set_token(token.clone());
        let bytes = first
            .to_bytes()
            .map_err(|e| format!("cannot encode a request: {e:?}"))?;
        let id = ExchangeId(self.id());
        self.transmit(to, bytes.clone(), "");
        self.exchanges.push(Exchange {
            id,
            to,
            template: request,
            body,
            bytes,
            mid,
            token,
            earlier: Vec::new(),
            attempt: 0,
            next: Some(now + self.timing.retransmit_after(0)),
            give_up: now + options.patience.unwrap_or(self.timing.max_transmit_wait()),
            block1,
            fetch: None,
            patience: options.patience,
        });
        Ok(id)
    }

    /// A fresh Message ID and token, for a request the user wants to send again as the
    /// same datagram later ([`RequestOptions::message_id`], [`RequestOptions::token`]).
    pub fn fresh_ids(&mut self) -> (u16, Vec<u8>) {
        (self.ids.mid(), self.ids.token())
    }

    /// The Message ID of the datagram in flight of `exchange`.
    pub fn message_id(&self, exchange: ExchangeId) -> Option<u16> {
        self.exchanges
            .iter()
            .find(|e| e.id == exchange)
            .map(|e| e.mid)
    }

    /// Leaves request `id` unanswered (a request from a peer the user does not know).
    pub fn ignore(&mut self, id: RequestId) {
        self.owed.remove(&id);
    }

    /// Retransmits what is due and gives up on what has waited long enough.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.exchanges.len() {
            let e = &mut self.exchanges[i];
            match e.next {
                Some(at) if at <= now && e.attempt < MAX_RETRANSMIT => {
                    e.attempt += 1;
                    e.next = Some(now + self.timing.retransmit_after(e.attempt));
                    let (to, bytes) = (e.to, e.bytes.clone());
                    self.transmit(to, bytes, "retransmission");
                    i += 1;
                }
                Some(at) if at <= now && e.patience.is_some() && e.give_up > now => {
                    // Patient: no more retransmissions, the answer may still come.
                    e.next = None;
                    i += 1;
                }
                Some(at) if at <= now => self.fail(i, Failure::NoAnswer),
                None if e.give_up <= now => self.fail(i, Failure::NoAnswer),
                _ => i += 1,
            }
        }
        let lifetime = self.timing.exchange_lifetime();
        self.answered.retain(|_, a| a.at + lifetime > now);
        self.mids.retain(|_, (_, at)| *at + lifetime > now);
    }

    /// Gives up every request in flight to `to`, whose secure session failed (`why`):
    /// each ends as [`Failure::Session`] at once, as a client that got the server's fatal
    /// alert must consider its handshake failed (Transport 1.2 §5.2.10).
    pub fn abandon(&mut self, to: SocketAddr, why: &str) {
        while let Some(i) = self.exchanges.iter().position(|e| e.to == to) {
            self.fail(i, Failure::Session(why.to_string()));
        }
    }

    fn fail(&mut self, i: usize, failure: Failure) {
        let e = self.exchanges.remove(i);
        self.events.push_back(Event::Failed {
            exchange: e.id,
            failure,
        });
    }

    /// Takes a datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Received {
        let p = match Packet::from_bytes(bytes) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("a datagram that is not CoAP ({e:?})");
                return self.broken(from, bytes, why);
            }
        };
        match p.header.code {
            MessageClass::Request(_) => self.peer_request(now, from, bytes, p),
            MessageClass::Empty => self.empty(now, from, &p),
            MessageClass::Response(_) => self.response(now, from, bytes, p),
            MessageClass::Reserved(_) => {
                self.broken(from, bytes, "a message with a reserved code (RFC 7252 §3)")
            }
        }
    }

    fn peer_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        p: Packet,
    ) -> Received {
        let mid = p.header.message_id;
        if let Some(a) = self.answered.get(&(from, mid)) {
            if a.request == bytes {
                // RFC 7252 §4.5: a duplicate gets the same answer, not a second effect.
                if a.how == Answer::AskAgain {
                    let before = a.reply.clone();
                    self.owe(from, bytes, &p, None, Some(before), true);
                } else {
                    let reply = a.reply.clone();
                    self.transmit(from, reply, "answered again (RFC 7252 §4.5)");
                }
                return Received::Duplicate;
            }
            // Other bytes under a Message ID used before: a new request.
            self.answered.remove(&(from, mid));
        }
        if let Some((id, _)) = self
            .owed
            .iter()
            .find(|(_, o)| (o.from, o.mid) == (from, mid) && o.bytes == bytes)
        {
            return Received::Retransmission(*id);
        }
        // RFC 7252 §4.4: a Message ID is not used again for another message within
        // EXCHANGE_LIFETIME.
        if let Some((first, at)) = self.mids.get(&(from, mid)) {
            if *first != bytes && now < *at + self.timing.exchange_lifetime() {
                let after = now.saturating_duration_since(*at);
                self.events
                    .push_back(Event::MessageIdReused { from, mid, after });
            }
        }
        self.mids.insert((from, mid), (bytes.to_vec(), now));
        // A request under the Message ID of one still owed replaces it.
        self.owed.retain(|_, o| (o.from, o.mid) != (from, mid));
        let block = |which| blockwise::block_of(&p, which);
        let (block1, block2) = match (block(CoapOption::Block1), block(CoapOption::Block2)) {
            (Ok(b1), Ok(b2)) => (b1, b2),
            (Err(e), _) | (_, Err(e)) => {
                self.reply_now(now, from, bytes, &p, ResponseType::BadRequest, None, "4.00");
                return self.broken(from, bytes, e.to_string());
            }
        };
        let uri_path = uri_path(&p);
        if let Some(b) = block2.filter(|b| b.num > 0) {
            if let Some(whole) = self.served.get(&(from, uri_path.clone())).cloned() {
                return self.serve_block(now, from, bytes, &p, &whole, &b);
            }
        }
        let (p, echo) = match self.take_block1(now, from, bytes, p, block1, &uri_path) {
            Ok(whole) => whole,
            Err(r) => return r,
        };
        self.owe(from, bytes, &p, echo, None, false);
        Received::Request
    }

    /// A Block1 request's blocks: 2.31 Continue to each but the last, the last with the
    /// whole request; a request too large for the block size is refused 4.13 with a hint.
    fn take_block1(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        mut p: Packet,
        block1: Option<BlockValue>,
        uri_path: &[Vec<u8>],
    ) -> Result<(Packet, Option<BlockValue>), Received> {
        let Some(b) = block1 else {
            if let Some(szx) = self.szx.filter(|s| p.payload.len() > 1 << (s + 4)) {
                let hint = BlockValue {
                    num: 0,
                    more: false,
                    size_exponent: szx,
                };
                let note = "4.13 with a Block1 size hint (RFC 7959 §2.9.3)";
                let (code, hint) = (ResponseType::RequestEntityTooLarge, Some(&hint));
                self.reply_now(now, from, bytes, &p, code, hint, note);
                return Err(Received::Block);
            }
            return Ok((p, None));
        };
        let key = (from, uri_path.to_vec());
        match self
            .assembling
            .entry(key.clone())
            .or_default()
            .offer(&b, &p.payload)
        {
            Ok(Assembled::Continue(echo)) => {
                let note = "2.31 Continue: the next Block1 block, please (RFC 7959 §2.3)";
                let code = ResponseType::Continue;
                self.reply_now(now, from, bytes, &p, code, Some(&echo), note);
                Err(Received::Block)
            }
            Ok(Assembled::Complete(body, echo)) => {
                self.assembling.remove(&key);
                p.payload = body;
                p.clear_option(CoapOption::Block1);
                Ok((p, Some(echo)))
            }
            Err(e) => {
                self.assembling.remove(&key);
                let note = "4.08: block-wise transfer broken";
                let code = ResponseType::RequestEntityIncomplete;
                self.reply_now(now, from, bytes, &p, code, None, note);
                Err(self.broken(
                    from,
                    bytes,
                    format!("{e}; answered 4.08 Request Entity Incomplete (RFC 7959 §2.9.2)"),
                ))
            }
        }
    }

    fn owe(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        p: &Packet,
        echo: Option<BlockValue>,
        before: Option<Vec<u8>>,
        again: bool,
    ) {
        let id = RequestId(self.id());
        self.owed.insert(
            id,
            Owed {
                from,
                mid: p.header.message_id,
                token: p.get_token().to_vec(),
                confirmable: p.header.get_type() == MessageType::Confirmable,
                bytes: bytes.to_vec(),
                uri_path: uri_path(p),
                echo,
                early_block2: blockwise::block_of(p, CoapOption::Block2).ok().flatten(),
                before,
            },
        );
        self.events.push_back(Event::Request {
            id,
            from,
            request: p.clone(),
            again,
        });
    }

    /// A later block of an answer sent as Block2, from the stored answer (RFC 7959 §2.4).
    fn serve_block(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        p: &Packet,
        whole: &Packet,
        b: &BlockValue,
    ) -> Received {
        match blockwise::chunk(&whole.payload, b.num, b.size_exponent) {
            Ok((v, chunk)) => {
                let mut reply = whole.clone();
                reply.payload = chunk.to_vec();
                blockwise::set_block(&mut reply, CoapOption::Block2, &v);
                let note = "a later Block2 block, from the stored answer (RFC 7959 §2.4)";
                self.send_reply(now, from, bytes, p, reply, Answer::Cached, note);
                Received::Block
            }
            Err(e) => {
                self.reply_now(now, from, bytes, p, ResponseType::BadRequest, None, "4.00");
                self.broken(from, bytes, e.to_string())
            }
        }
    }

    /// Answers `p` at once with `code` and no payload (a block-wise step or a refusal),
    /// kept for its duplicates.
    #[allow(clippy::too_many_arguments)]
    fn reply_now(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        p: &Packet,
        code: ResponseType,
        block1: Option<&BlockValue>,
        note: &str,
    ) {
        let mut reply = Packet::new();
        reply.header.code = MessageClass::Response(code);
        if let Some(b) = block1 {
            blockwise::set_block(&mut reply, CoapOption::Block1, b);
        }
        self.send_reply(now, from, bytes, p, reply, Answer::Cached, note);
    }

    /// Sends `reply` to request `p` (bytes `bytes`): piggy-backed in the ACK of a
    /// Confirmable request, Non-confirmable to a Non-confirmable one (RFC 7252 §5.2), with
    /// the request's token; kept for the request's duplicates.
    #[allow(clippy::too_many_arguments)]
    fn send_reply(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        p: &Packet,
        mut reply: Packet,
        how: Answer,
        note: &str,
    ) {
        let confirmable = p.header.get_type() == MessageType::Confirmable;
        self.address(&mut reply, p.header.message_id, p.get_token(), confirmable);
        let Ok(out) = reply.to_bytes() else {
            return;
        };
        self.remember(now, from, p.header.message_id, bytes, out.clone(), how);
        self.transmit(from, out, note);
    }

    fn address(&mut self, reply: &mut Packet, mid: u16, token: &[u8], confirmable: bool) {
        if confirmable {
            reply.header.set_type(MessageType::Acknowledgement);
            reply.header.message_id = mid;
        } else {
            reply.header.set_type(MessageType::NonConfirmable);
            reply.header.message_id = self.ids.mid();
        }
        reply.set_token(token.to_vec());
    }

    fn remember(
        &mut self,
        now: Instant,
        from: SocketAddr,
        mid: u16,
        request: &[u8],
        reply: Vec<u8>,
        how: Answer,
    ) {
        self.answered.insert(
            (from, mid),
            Answered {
                request: request.to_vec(),
                reply,
                how,
                at: now,
            },
        );
    }

    /// Answers request `id` with `reply` (its code, options and payload; the message type,
    /// Message ID and token are the request's, RFC 7252 §5.2): the last Block1 option of a
    /// request that came in blocks is echoed (RFC 7959 §2.3), and an answer larger than the
    /// block size, or than the request's early Block2 option, goes as Block2 block 0, the
    /// later blocks served from it (§2.4).
    pub fn respond(
        &mut self,
        now: Instant,
        id: RequestId,
        mut reply: Packet,
        how: Answer,
    ) -> Result<(), String> {
        let Some(o) = self.owed.remove(&id) else {
            return Err(format!("no request {id:?} to answer"));
        };
        if let Some(b) = &o.echo {
            blockwise::set_block(&mut reply, CoapOption::Block1, b);
        }
        let mut note = "";
        let limit = [self.szx, o.early_block2.map(|b| b.size_exponent)]
            .into_iter()
            .flatten()
            .min();
        if let Some(szx) = limit.filter(|s| reply.payload.len() > 1 << (s + 4)) {
            let (v, chunk) = blockwise::chunk(&reply.payload, 0, szx)
                .map_err(|e| format!("cannot cut the answer in blocks: {e}"))?;
            let mut first = reply.clone();
            first.payload = chunk.to_vec();
            blockwise::set_block(&mut first, CoapOption::Block2, &v);
            self.served.insert((o.from, o.uri_path.clone()), reply);
            reply = first;
            note = "Block2 block 0 of the answer (RFC 7959 §2.4)";
        }
        self.address(&mut reply, o.mid, &o.token, o.confirmable);
        let out = reply
            .to_bytes()
            .map_err(|e| format!("cannot encode an answer: {e:?}"))?;
        self.remember(now, o.from, o.mid, &o.bytes, out.clone(), how);
        self.transmit(o.from, out, note);
        Ok(())
    }

    /// Answers a duplicate asked again ([`Answer::AskAgain`]) as before.
    pub fn respond_as_before(&mut self, now: Instant, id: RequestId) -> Result<(), String> {
        let Some(o) = self.owed.remove(&id) else {
            return Err(format!("no request {id:?} to answer"));
        };
        let Some(before) = o.before else {
            return Err(format!("request {id:?} has no earlier answer"));
        };
        self.remember(
            now,
            o.from,
            o.mid,
            &o.bytes,
            before.clone(),
            Answer::AskAgain,
        );
        self.transmit(o.from, before, "answered again (RFC 7252 §4.5)");
        Ok(())
    }

    /// An empty ACK (a separate response follows) or Reset (the request is refused).
    fn empty(&mut self, now: Instant, from: SocketAddr, p: &Packet) -> Received {
        let mid = p.header.message_id;
        let Some(i) = self
            .exchanges
            .iter()
            .position(|e| e.to == from && e.mid == mid)
        else {
            return Received::Stale;
        };
        match p.header.get_type() {
            MessageType::Reset => self.fail(i, Failure::Reset),
            MessageType::Acknowledgement => {
                let e = &mut self.exchanges[i];
                e.next = None;
                e.give_up = now + e.patience.unwrap_or(self.timing.exchange_lifetime());
            }
            // An empty CON is a ping (RFC 7252 §4.3): answered with a Reset.
            _ => {
                let rst = empty(MessageType::Reset, mid);
                self.transmit(from, rst, "Reset to an empty Confirmable (RFC 7252 §4.3)");
            }
        }
        Received::Answer
    }

    fn response(&mut self, now: Instant, from: SocketAddr, bytes: &[u8], p: Packet) -> Received {
        let mid = p.header.message_id;
        let kind = p.header.get_type();
        if kind == MessageType::Confirmable {
            let ack = empty(MessageType::Acknowledgement, mid);
            self.transmit(from, ack, "ACK of a separate response");
        }
        if kind == MessageType::Acknowledgement {
            if !self.sent.contains(&(from, mid)) {
                let why = format!(
                    "an ACK for Message ID {mid}, under which no request went to this peer"
                );
                return self.broken(from, bytes, why);
            }
            if let Some(e) = self.exchanges.iter().find(|e| e.to == from && e.mid == mid) {
                if e.token != p.get_token() {
                    let why = format!(
                        "the response carries token {} but the request had {} (RFC 7252 §5.3.2)",
                        token_hex(p.get_token()),
                        token_hex(&e.token)
                    );
                    return self.broken(from, bytes, why);
                }
            }
        }
        let Some(i) = self
            .exchanges
            .iter()
            .position(|e| e.to == from && e.token == p.get_token())
        else {
            // An answer to a request given up on, or to an earlier block's request
            // answered again after a retransmission.
            let in_flight = self.exchanges.iter().any(|e| e.to == from);
            if in_flight && kind != MessageType::Acknowledgement {
                let why = format!(
                    "a response with token {}, which no request in flight has (RFC 7252 §5.3.2)",
                    token_hex(p.get_token())
                );
                return self.broken(from, bytes, why);
            }
            return Received::Stale;
        };
        if kind == MessageType::Acknowledgement && self.exchanges[i].mid != mid {
            // A piggy-backed answer to an earlier block's request is stale.
            return Received::Stale;
        }
        match self.next_block(now, i, p) {
            Ok(Some(whole)) => {
                let e = self.exchanges.remove(i);
                self.events.push_back(Event::Response {
                    exchange: e.id,
                    response: whole,
                });
            }
            Ok(None) => {}
            Err(why) => self.fail(i, Failure::Blockwise(why)),
        }
        Received::Answer
    }

    /// The block-wise step an answer asks for: the next Block1 block after 2.31 Continue,
    /// the request again in blocks after 4.13 with a smaller hint, the next Block2 block;
    /// or the whole answer.
    fn next_block(
        &mut self,
        now: Instant,
        i: usize,
        mut p: Packet,
    ) -> Result<Option<Packet>, String> {
        let e = &self.exchanges[i];
        if p.header.code == MessageClass::Response(ResponseType::Continue) {
            if let Some(sent) = e.block1.clone() {
                let echo =
                    blockwise::block_of(&p, CoapOption::Block1).map_err(|e| e.to_string())?;
                if echo.as_ref().map(|b| b.num) != Some(sent.num) {
                    return Err(format!(
                        "2.31 Continue for Block1 block {} must echo its Block1 option (RFC 7959 §2.3), it carries {}",
                        sent.num,
                        echo.map_or("none".to_string(), |e| format!("block {}", e.num))
                    ));
                }
                if sent.more {
                    self.send_block1(now, i, sent.num.saturating_add(1), sent.size_exponent)?;
                    return Ok(None);
                }
            }
        }
        if p.header.code == MessageClass::Response(ResponseType::RequestEntityTooLarge)
            && e.block1.is_none()
        {
            let hint = blockwise::block_of(&p, CoapOption::Block1).map_err(|e| e.to_string())?;
            if let Some(h) = hint.filter(|h| e.body.len() > h.size()) {
                self.send_block1(now, i, 0, h.size_exponent)?;
                return Ok(None);
            }
        }
        let Some(got) = blockwise::block_of(&p, CoapOption::Block2).map_err(|e| e.to_string())?
        else {
            if self.exchanges[i].fetch.is_some() {
                return Err(
                    "an answer for a later Block2 block carries no Block2 option (RFC 7959 §2.4)"
                        .into(),
                );
            }
            return Ok(Some(p));
        };
        let e = &mut self.exchanges[i];
        let next = match &mut e.fetch {
            Some((fetch, code)) => {
                if p.header.code != *code {
                    return Err(format!(
                        "block {} came as {} after block 0 came as {code} (RFC 7959 §2.4)",
                        got.num, p.header.code
                    ));
                }
                fetch.offer(&got, &p.payload).map_err(|e| e.to_string())?
            }
            None => {
                let (fetch, next) =
                    Block2Fetch::start(&got, &p.payload).map_err(|e| e.to_string())?;
                e.fetch = Some((fetch, p.header.code));
                next
            }
        };
        match next {
            Fetched::Complete(body) => {
                p.payload = body;
                p.clear_option(CoapOption::Block2);
                Ok(Some(p))
            }
            Fetched::Next(want) => {
                let mut q = e.template.clone();
                blockwise::set_block(&mut q, CoapOption::Block2, &want);
                let note = format!(
                    "Block2 block {} of the answer, please (RFC 7959 §2.4)",
                    want.num
                );
                self.resend(now, i, q, note)?;
                Ok(None)
            }
        }
    }

    /// Sends Block1 block `num` of exchange `i`'s body in blocks of `szx`.
    fn send_block1(&mut self, now: Instant, i: usize, num: u16, szx: u8) -> Result<(), String> {
        let e = &mut self.exchanges[i];
        let (v, chunk) = blockwise::chunk(&e.body, num, szx).map_err(|e| e.to_string())?;
        let mut q = e.template.clone();
        q.payload = chunk.to_vec();
        blockwise::set_block(&mut q, CoapOption::Block1, &v);
        let note = format!(
            "Block1 block {num} of the request ({}-byte blocks, RFC 7959 §2.5)",
            v.size()
        );
        e.block1 = Some(v);
        self.resend(now, i, q, note)
    }

    /// Sends `q` as the next datagram of exchange `i`: a new Message ID and token,
    /// retransmitted like the first.
    fn resend(
        &mut self,
        now: Instant,
        i: usize,
        mut q: Packet,
        note: String,
    ) -> Result<(), String> {
        let (mid, token) = (self.ids.mid(), self.ids.token());
        q.header.set_type(MessageType::Confirmable);
        q.header.message_id = mid;
        q.set_token(token.clone());
        let bytes = q
            .to_bytes()
            .map_err(|e| format!("cannot encode a request: {e:?}"))?;
        let e = &mut self.exchanges[i];
        e.earlier.push(e.mid);
        e.mid = mid;
        e.token = token;
        e.bytes.clone_from(&bytes);
        e.attempt = 0;
        e.next = Some(now + self.timing.retransmit_after(0));
        e.give_up = now + e.patience.unwrap_or(self.timing.max_transmit_wait());
        let to = e.to;
        self.sent.insert((to, mid));
        self.transmit(to, bytes, note);
        Ok(())
    }
}

/// A token as a message quotes it.
fn token_hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "(empty)".into();
    }
    crate::wirelog::hex(b)
}

/// The Uri-Path options of a request.
pub fn uri_path(p: &Packet) -> Vec<Vec<u8>> {
    p.get_option(CoapOption::UriPath)
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default()
}

/// Whether a datagram is a CoAP request, read from its header alone: code class 0 and a
/// non-zero code (RFC 7252 §3, §12.1.1). The secure drivers use it on decrypted datagrams
/// before the endpoint sees them.
pub fn is_request(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[1] != 0 && bytes[1] >> 5 == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use coap_lite::RequestType;
    use std::time::Duration;

    const A: &str = "127.0.0.1:1000";
    const B: &str = "127.0.0.1:2000";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn timing() -> CoapTiming {
        CoapTiming::new(0.01).unwrap()
    }

    fn get(path: &str, payload: &[u8]) -> Packet {
        let mut p = Packet::new();
        p.header.code = MessageClass::Request(if payload.is_empty() {
            RequestType::Get
        } else {
            RequestType::Put
        });
        for s in path.split('/').filter(|s| !s.is_empty()) {
            p.add_option(CoapOption::UriPath, s.as_bytes().to_vec());
        }
        p.payload = payload.to_vec();
        p
    }

    fn content(payload: &[u8]) -> Packet {
        let mut p = Packet::new();
        p.header.code = MessageClass::Response(ResponseType::Content);
        p.payload = payload.to_vec();
        p
    }

    /// Delivers every datagram between `a` (at A) and `b` (at B) until both are quiet,
    /// dropping those `lose` picks; `b` answers each request with `answer`.
    fn pump(
        a: &mut Endpoint,
        b: &mut Endpoint,
        now: Instant,
        lose: &mut dyn FnMut(&Transmit) -> bool,
        answer: &dyn Fn(&Packet) -> Packet,
    ) -> Vec<Event> {
        let mut seen = Vec::new();
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(t) = a.poll_transmit() {
                moved = true;
                if !lose(&t) {
                    b.handle_datagram(now, addr(A), &t.bytes);
                }
            }
            while let Some(e) = b.poll_event() {
                if let Event::Request { id, request, .. } = &e {
                    b.respond(now, *id, answer(request), Answer::Cached)
                        .unwrap();
                }
                moved = true;
            }
            while let Some(t) = b.poll_transmit() {
                moved = true;
                if !lose(&t) {
                    a.handle_datagram(now, addr(B), &t.bytes);
                }
            }
            while let Some(e) = a.poll_event() {
                seen.push(e);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        seen
    }

    fn echo(p: &Packet) -> Packet {
        content(&p.payload)
    }

    #[test]
    fn a_request_gets_its_piggybacked_answer() {
        let (mut a, mut b, now) = (
            Endpoint::new(timing(), None),
            Endpoint::new(timing(), None),
            Instant::now(),
        );
        let x = a
            .request(now, addr(B), get("/1/0", b"hi"), RequestOptions::default())
            .unwrap();
        let events = pump(&mut a, &mut b, now, &mut |_| false, &echo);
        let [Event::Response { exchange, response }] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(*exchange, x);
        assert_eq!(response.payload, b"hi");
        assert_eq!(response.header.get_type(), MessageType::Acknowledgement);
        assert!(!a.busy());
    }

    #[test]
    fn an_unanswered_request_is_retransmitted_with_doubling_timeouts_then_given_up() {
        let mut a = Endpoint::new(timing(), None);
        let t0 = Instant::now();
        let x = a
            .request(t0, addr(B), get("/bs", b""), RequestOptions::default())
            .unwrap();
        let first = a.poll_transmit().unwrap();
        let mut at = Vec::new();
        let mut now = t0;
        while let Some(due) = a.poll_timeout() {
            now = due;
            a.handle_timeout(now);
            while let Some(t) = a.poll_transmit() {
                assert_eq!(
                    t.bytes, first.bytes,
                    "a retransmission is the same datagram"
                );
                at.push((now - t0).as_millis());
            }
        }
        // ACK_TIMEOUT 20 ms at scale 0.01: 20, 60, 140, 300 ms, and a give-up at 620 ms.
        assert_eq!(at, [20, 60, 140, 300]);
        assert_eq!((now - t0).as_millis(), 620);
        assert_eq!(
            a.poll_event(),
            Some(Event::Failed {
                exchange: x,
                failure: Failure::NoAnswer
            })
        );
    }

    #[test]
    fn a_lost_datagram_is_made_good_by_the_retransmission() {
        let (mut a, mut b, t0) = (
            Endpoint::new(timing(), None),
            Endpoint::new(timing(), None),
            Instant::now(),
        );
        a.request(t0, addr(B), get("/1", b""), RequestOptions::default())
            .unwrap();
        let mut n = 0;
        let mut lose_first = |_: &Transmit| {
            n += 1;
            n == 1
        };
        assert!(pump(&mut a, &mut b, t0, &mut lose_first, &echo).is_empty());
        let later = a.poll_timeout().unwrap();
        a.handle_timeout(later);
        let events = pump(&mut a, &mut b, later, &mut |_| false, &echo);
        assert!(matches!(events[..], [Event::Response { .. }]), "{events:?}");
    }

    #[test]
    fn a_duplicate_is_answered_again_without_a_second_request() {
        let (mut b, now) = (Endpoint::new(timing(), None), Instant::now());
        let mut req = get("/1/0", b"");
        req.header.set_type(MessageType::Confirmable);
        req.header.message_id = 7;
        let bytes = req.to_bytes().unwrap();
        assert_eq!(b.handle_datagram(now, addr(A), &bytes), Received::Request);
        let Some(Event::Request { id, .. }) = b.poll_event() else {
            panic!()
        };
        b.respond(now, id, content(b"x"), Answer::Cached).unwrap();
        let answer = b.poll_transmit().unwrap();
        assert_eq!(b.handle_datagram(now, addr(A), &bytes), Received::Duplicate);
        assert_eq!(b.poll_event(), None);
        assert_eq!(b.poll_transmit().unwrap().bytes, answer.bytes);
        // Other bytes under the same Message ID are a new request.
        let mut other = req.clone();
        other.payload = b"new".to_vec();
        let other = other.to_bytes().unwrap();
        assert_eq!(b.handle_datagram(now, addr(A), &other), Received::Request);
    }

    #[test]
    fn a_duplicate_asked_again_goes_to_the_user() {
        let (mut b, now) = (Endpoint::new(timing(), None), Instant::now());
        let mut req = get("/bs", b"");
        req.header.code = MessageClass::Request(RequestType::Post);
        req.header.message_id = 9;
        let bytes = req.to_bytes().unwrap();
        b.handle_datagram(now, addr(A), &bytes);
        let Some(Event::Request {
            id, again: false, ..
        }) = b.poll_event()
        else {
            panic!()
        };
        b.respond(now, id, content(b""), Answer::AskAgain).unwrap();
        let first = b.poll_transmit().unwrap();
        b.handle_datagram(now, addr(A), &bytes);
        let Some(Event::Request {
            id, again: true, ..
        }) = b.poll_event()
        else {
            panic!()
        };
        b.respond_as_before(now, id).unwrap();
        assert_eq!(b.poll_transmit().unwrap().bytes, first.bytes);
    }

    #[test]
    fn a_separate_response_is_acknowledged_and_delivered() {
        let (mut a, now) = (Endpoint::new(timing(), None), Instant::now());
        let x = a
            .request(now, addr(B), get("/1", b""), RequestOptions::default())
            .unwrap();
        let sent = Packet::from_bytes(&a.poll_transmit().unwrap().bytes).unwrap();
        let ack = empty(MessageType::Acknowledgement, sent.header.message_id);
        a.handle_datagram(now, addr(B), &ack);
        // No retransmission after the empty ACK; the separate response may take
        // EXCHANGE_LIFETIME.
        let due = a.poll_timeout().unwrap();
        assert_eq!(due - now, timing().exchange_lifetime());
        let mut r = content(b"late");
        r.header.set_type(MessageType::Confirmable);
        r.header.message_id = 500;
        r.set_token(sent.get_token().to_vec());
        a.handle_datagram(now, addr(B), &r.to_bytes().unwrap());
        let ack = Packet::from_bytes(&a.poll_transmit().unwrap().bytes).unwrap();
        assert_eq!(
            (ack.header.get_type(), ack.header.message_id),
            (MessageType::Acknowledgement, 500)
        );
        assert!(matches!(a.poll_event(), Some(Event::Response { exchange, .. }) if exchange == x));
    }

    #[test]
    fn a_reset_fails_the_request() {
        let (mut a, now) = (Endpoint::new(timing(), None), Instant::now());
        let x = a
            .request(now, addr(B), get("/1", b""), RequestOptions::default())
            .unwrap();
        let sent = Packet::from_bytes(&a.poll_transmit().unwrap().bytes).unwrap();
        let rst = empty(MessageType::Reset, sent.header.message_id);
        a.handle_datagram(now, addr(B), &rst);
        assert_eq!(
            a.poll_event(),
            Some(Event::Failed {
                exchange: x,
                failure: Failure::Reset
            })
        );
    }

    #[test]
    fn garbage_is_named_and_nothing_else_happens() {
        let (mut a, now) = (Endpoint::new(timing(), None), Instant::now());
        assert_eq!(
            a.handle_datagram(now, addr(B), &[0xff, 1]),
            Received::Broken
        );
        assert!(matches!(a.poll_event(), Some(Event::Broken { .. })));
        assert_eq!(a.poll_transmit(), None);
    }

    #[test]
    fn block1_out_and_block2_back_carry_whole_messages() {
        // A small client (16-byte blocks) and a server without a block size of its own.
        let (mut a, mut b, now) = (
            Endpoint::new(timing(), Some(16)),
            Endpoint::new(timing(), None),
            Instant::now(),
        );
        let body: Vec<u8> = (0..100).collect();
        let opts = RequestOptions {
            early_block2: true,
            ..Default::default()
        };
        a.request(now, addr(B), get("/rd", &body), opts).unwrap();
        let mut datagrams = 0;
        let mut count = |_: &Transmit| {
            datagrams += 1;
            false
        };
        let events = pump(&mut a, &mut b, now, &mut count, &echo);
        let [Event::Response { response, .. }] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(response.payload, body);
        assert_eq!(response.get_first_option(CoapOption::Block2), None);
        // 7 Block1 blocks out, 7 answers; then 6 more Block2 requests and answers.
        assert_eq!(datagrams, 26);
    }

    #[test]
    fn too_large_for_the_peer_goes_again_in_the_hinted_blocks() {
        let (mut a, mut b, now) = (
            Endpoint::new(timing(), None),
            Endpoint::new(timing(), Some(32)),
            Instant::now(),
        );
        let body: Vec<u8> = (0..70).collect();
        a.request(now, addr(B), get("/0", &body), RequestOptions::default())
            .unwrap();
        let mut codes = Vec::new();
        let mut log = |t: &Transmit| {
            codes.push(
                Packet::from_bytes(&t.bytes)
                    .unwrap()
                    .header
                    .code
                    .to_string(),
            );
            false
        };
        let events = pump(&mut a, &mut b, now, &mut log, &echo);
        let [Event::Response { response, .. }] = &events[..] else {
            panic!("{events:?}")
        };
        // Echoed whole: the server reassembled it; its answer goes as Block2 (32 bytes).
        assert_eq!(response.payload, body);
        assert_eq!(codes[..3], ["0.03", "4.13", "0.03"]);
    }

    #[test]
    fn a_gap_in_block1_is_refused_with_4_08_and_named() {
        let (mut b, now) = (Endpoint::new(timing(), None), Instant::now());
        let mut req = get("/0", &[1; 16]);
        req.header.set_type(MessageType::Confirmable);
        let v = blockwise::block(1, true, 16).unwrap();
        blockwise::set_block(&mut req, CoapOption::Block1, &v);
        assert_eq!(
            b.handle_datagram(now, addr(A), &req.to_bytes().unwrap()),
            Received::Broken
        );
        let reply = Packet::from_bytes(&b.poll_transmit().unwrap().bytes).unwrap();
        assert_eq!(
            reply.header.code,
            MessageClass::Response(ResponseType::RequestEntityIncomplete)
        );
        assert!(matches!(b.poll_event(), Some(Event::Broken { why, .. }) if why.contains("4.08")));
    }

    #[test]
    fn a_wrong_continue_echo_fails_the_request() {
        let (mut a, now) = (Endpoint::new(timing(), Some(16)), Instant::now());
        let x = a
            .request(
                now,
                addr(B),
                get("/rd", &[0; 40]),
                RequestOptions::default(),
            )
            .unwrap();
        let sent = Packet::from_bytes(&a.poll_transmit().unwrap().bytes).unwrap();
        let mut cont = Packet::new();
        cont.header.set_type(MessageType::Acknowledgement);
        cont.header.message_id = sent.header.message_id;
        cont.header.code = MessageClass::Response(ResponseType::Continue);
        cont.set_token(sent.get_token().to_vec());
        blockwise::set_block(
            &mut cont,
            CoapOption::Block1,
            &blockwise::block(3, true, 16).unwrap(),
        );
        a.handle_datagram(now, addr(B), &cont.to_bytes().unwrap());
        assert!(matches!(
            a.poll_event(),
            Some(Event::Failed { exchange, failure: Failure::Blockwise(_) }) if exchange == x
        ));
    }

    #[test]
    fn answers_expire_from_the_cache_after_the_exchange_lifetime() {
        let (mut b, now) = (Endpoint::new(timing(), None), Instant::now());
        let mut req = get("/1", b"");
        req.header.set_type(MessageType::Confirmable);
        let bytes = req.to_bytes().unwrap();
        b.handle_datagram(now, addr(A), &bytes);
        let Some(Event::Request { id, .. }) = b.poll_event() else {
            panic!()
        };
        b.respond(now, id, content(b""), Answer::Cached).unwrap();
        b.handle_timeout(now + timing().exchange_lifetime() + Duration::from_millis(1));
        assert_eq!(b.handle_datagram(now, addr(A), &bytes), Received::Request);
    }
}
