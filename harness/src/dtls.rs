//! DTLS 1.2 with pre-shared keys (LwM2M Security Mode 0: OMA LwM2M Transport §5, Core
//! §7.1), sans-IO: one session with one peer, between a UDP socket and the CoAP
//! [`Endpoint`](crate::endpoint::Endpoint); the DTLS server role for the harness's servers,
//! the client role for the bundled reference client.
//!
//! It gives the bootstrap exchange what BS-SEC-02 asks (both ends prove they hold the key,
//! then every message is encrypted and integrity protected) in the way BS-SEC-05 names
//! for Security Mode 0 (the identity and key of /0/x/3 and /0/x/5). One session holds one
//! set of credentials: a driver keeps the bootstrap session apart from the server sessions
//! (BS-SEC-01) by giving each its own [`DtlsSession`].
//!
//! The interface is the endpoint's: records go in with [`DtlsSession::handle_datagram`] and
//! out of [`DtlsSession::poll_transmit`]; CoAP messages go in with [`DtlsSession::send`] and
//! out of [`DtlsSession::poll_plaintext`], one datagram each; [`DtlsSession::poll_timeout`]
//! says when [`DtlsSession::handle_timeout`] is due.
//!
//! Built on OpenSSL (the `openssl` crate over the system OpenSSL 3): well kept, a system
//! library rather than cryptography of our own, PSK callbacks on both sides (the server
//! looks the key up by the identity the client presents), and it runs over any
//! `Read + Write`, here an in-memory datagram channel, which is what a sans-IO layer needs.
//! Protocol DTLS 1.2 only; suites exactly the two OMA LwM2M Transport requires for PSK,
//! `PSK-AES128-CCM8` (TLS_PSK_WITH_AES_128_CCM_8) and `PSK-AES128-CBC-SHA256`
//! (TLS_PSK_WITH_AES_128_CBC_SHA256).
//!
//! What OpenSSL decides:
//! - The retransmission timer (RFC 6347 §4.2.4) runs on OpenSSL's own clock. The session
//!   reads none: [`DtlsSession::poll_timeout`] is the caller's `now` plus what
//!   `DTLSv1_get_timeout` says remains, and [`DtlsSession::handle_timeout`] calls
//!   `DTLSv1_handle_timeout`, which retransmits only once the timer has run out in real
//!   time. A driver on the real clock is exact; one on a virtual clock sees no
//!   retransmission before real time catches up (in memory none is needed). The schedule
//!   is ours, set with `DTLS_set_timer_cb` ([`DtlsConfig`]); OpenSSL gives a flight up
//!   after [`MAX_RETRANSMISSIONS`].
//! - Invalid records (bad MAC or padding, a length past the datagram) are silently
//!   discarded (RFC 6347 §4.1.2.7), so a wrong key shows as a handshake that times out,
//!   not as an alert. A datagram that is not DTLS at all ([`looks_like_dtls`]; plain CoAP
//!   sent to a `coaps://` server) never reaches OpenSSL: [`DtlsError::BadRecord`], and
//!   the session goes on.
//!
//! The server does no cookie exchange (HelloVerifyRequest, RFC 6347 §4.2.1): LwM2M clients
//! cope either way, and bounding a flood of ClientHellos is the driver's job.

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::SslVersion;
use openssl::ssl::{ErrorCode, Ssl, SslContext, SslMethod, SslOptions, SslRef, SslStream};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::raw::{c_int, c_long, c_uint, c_void};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How many retransmissions of one flight OpenSSL sends before it gives the handshake up
/// (its `DTLS1_TMO_ALERT_COUNT`).
pub const MAX_RETRANSMISSIONS: u32 = 12;

/// The shortest timeout: OpenSSL counts a timer with under 15 ms left as run out.
const MIN_TIMEOUT: Duration = Duration::from_millis(20);

/// A DTLS record header: type, version, epoch, sequence number, length (RFC 6347 §4.1).
const RECORD_HEADER: usize = 13;

/// A pre-shared key and its identity (Security object /0/x/3 and /0/x/5 in Security Mode
/// 0, BS-SEC-05).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Psk {
    /// The PSK identity, sent in the clear. OpenSSL takes it as a C string: no zero byte.
    pub identity: Vec<u8>,
    /// The key.
    pub key: Vec<u8>,
}

/// A server's key lookup: the key for the identity the client presented, `None` for an
/// identity it does not know (the handshake then fails with `unknown_psk_identity`).
pub type KeyLookup = Arc<dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// Which end of the handshake the session plays, with its credentials (BS-SEC-02).
#[derive(Clone)]
pub enum Role {
    /// The LwM2M client: starts the handshake with its identity and key.
    Client(Psk),
    /// An LwM2M server or bootstrap server: answers, looking the key up by identity.
    Server(KeyLookup),
}

/// A cipher suite OMA LwM2M Transport requires for PSK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// TLS_PSK_WITH_AES_128_CCM_8 (RFC 6655), OpenSSL's `PSK-AES128-CCM8`.
    Ccm8,
    /// TLS_PSK_WITH_AES_128_CBC_SHA256 (RFC 5487), OpenSSL's `PSK-AES128-CBC-SHA256`.
    CbcSha256,
}

impl Suite {
    /// OpenSSL's name for the suite, as [`DtlsSession::cipher`] reports it.
    pub fn openssl_name(self) -> &'static str {
        match self {
            Suite::Ccm8 => "PSK-AES128-CCM8",
            Suite::CbcSha256 => "PSK-AES128-CBC-SHA256",
        }
    }
}

/// What a session may negotiate, and its handshake timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtlsConfig {
    /// The suites offered (client) or accepted (server), by preference.
    pub suites: Vec<Suite>,
    /// The largest datagram the session writes; handshake flights are fragmented to fit.
    pub mtu: u32,
    /// A flight's first retransmission timeout (RFC 6347 §4.2.4.1: 1 s), at least 20 ms.
    pub initial_retransmit: Duration,
    /// The longest, reached by doubling (RFC 6347: 60 s).
    pub max_retransmit: Duration,
}

impl Default for DtlsConfig {
    fn default() -> Self {
        DtlsConfig {
            suites: vec![Suite::Ccm8, Suite::CbcSha256],
            mtu: 1200,
            initial_retransmit: Duration::from_secs(1),
            max_retransmit: Duration::from_secs(60),
        }
    }
}

impl DtlsConfig {
    /// The first and longest timeout in microseconds, as OpenSSL takes them.
    fn timer_us(&self) -> (u32, u32) {
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        let initial = us(self.initial_retransmit.max(MIN_TIMEOUT));
        (initial, us(self.max_retransmit).max(initial))
    }

    /// When OpenSSL will have given up a flight sent at `sent` that nothing answers: after
    /// the timeouts of [`MAX_RETRANSMISSIONS`] retransmissions and of the last one. A
    /// caller bounds a handshake by this from its last flight.
    pub fn handshake_deadline(&self, sent: Instant) -> Instant {
        let (mut timeout, max) = self.timer_us();
        let mut total = Duration::ZERO;
        for _ in 0..=MAX_RETRANSMISSIONS {
            total += Duration::from_micros(timeout.into());
            timeout = timeout.saturating_mul(2).min(max);
        }
        sent + total
    }
}

/// Why a session failed, or refused a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DtlsError {
    /// The handshake failed (an alert from the peer, no answer, as with a wrong key): the
    /// session is dead (BS-SEC-02: no data without authentication).
    HandshakeFailed(String),
    /// The server had no key for the identity the client presented (the identity).
    UnknownIdentity(Vec<u8>),
    /// [`DtlsSession::send`] before the handshake completed.
    NotEstablished,
    /// A datagram that is not DTLS was dropped; the session goes on.
    BadRecord(String),
    /// The session was closed (close_notify sent or received).
    Closed,
    /// The established session broke (a fatal alert sent or received).
    Aborted(String),
    /// OpenSSL refused the configuration or an operation.
    Library(String),
}

impl fmt::Display for DtlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtlsError::HandshakeFailed(why) => write!(f, "DTLS handshake failed: {why}"),
            DtlsError::UnknownIdentity(id) => {
                let id = String::from_utf8_lossy(id);
                write!(f, "DTLS handshake failed: no key for PSK identity {id:?}")
            }
            DtlsError::NotEstablished => write!(f, "DTLS session not established yet"),
            DtlsError::BadRecord(why) => write!(f, "datagram dropped: {why}"),
            DtlsError::Closed => write!(f, "DTLS session closed"),
            DtlsError::Aborted(why) => write!(f, "DTLS session aborted: {why}"),
            DtlsError::Library(why) => write!(f, "OpenSSL: {why}"),
        }
    }
}

impl std::error::Error for DtlsError {}

/// Whether `bytes` begins with a DTLS record header: content type 20..=25
/// (change_cipher_spec, alert, handshake, application_data, heartbeat, tls12_cid) and
/// version DTLS 1.2 (0xfefd) or 1.0 (0xfeff, which ClientHellos may carry). A CoAP message
/// never does (its first byte is 0x40..=0x7f): a driver reports plain CoAP sent to a
/// `coaps://` server by it.
pub fn looks_like_dtls(bytes: &[u8]) -> bool {
    bytes.len() >= RECORD_HEADER
        && (20..=25).contains(&bytes[0])
        && bytes[1] == 0xfe
        && matches!(bytes[2], 0xfd | 0xff)
}

/// Whether `bytes` starts with a ClientHello in epoch 0. A server driver starts a server
/// session on one (a session given an epoch 0 alert first dies); one that comes to an
/// established session is a new session from the same address (RFC 6347 §4.2.8).
pub fn is_client_hello(bytes: &[u8]) -> bool {
    looks_like_dtls(bytes) && bytes[0] == 22 && bytes[3..5] == [0, 0] && bytes.get(13) == Some(&1)
}

/// The datagram channel OpenSSL runs over: `read` takes one whole inbound datagram (or
/// would block), `write` is one outbound datagram.
#[derive(Debug, Default)]
struct Channel {
    inbound: VecDeque<Vec<u8>>,
    outbound: VecDeque<Vec<u8>>,
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let datagram = self.inbound.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
        let n = datagram.len().min(buf.len());
        buf[..n].copy_from_slice(&datagram[..n]);
        Ok(n)
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbound.push_back(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A session's timer schedule and retransmission counts, in its SSL's ex data.
struct Timer {
    initial_us: u32,
    max_us: u32,
    /// Timeouts of the current flight (OpenSSL restarts its count with each flight).
    flight: AtomicU32,
    retransmissions: AtomicU32,
}

fn timer_index() -> Result<Index<Ssl, Timer>, ErrorStack> {
    static INDEX: OnceLock<Index<Ssl, Timer>> = OnceLock::new();
    if let Some(index) = INDEX.get() {
        return Ok(*index);
    }
    let index = Ssl::new_ex_index::<Timer>()?;
    Ok(*INDEX.get_or_init(|| index))
}

type TimerCallback = extern "C" fn(*mut openssl_sys::SSL, c_uint) -> c_uint;

extern "C" {
    // OpenSSL >= 1.1.1 (ssl.h); openssl-sys 0.9 does not bind it.
    fn DTLS_set_timer_cb(s: *mut openssl_sys::SSL, cb: Option<TimerCallback>);
}

/// OpenSSL's timer callback: a flight's first timeout when `previous_us` is 0, else the
/// next after a timeout, which is a retransmission unless OpenSSL gives the flight up on it.
extern "C" fn retransmit_timer(ssl: *mut openssl_sys::SSL, previous_us: c_uint) -> c_uint {
    // SAFETY: OpenSSL calls this from dtls1_start_timer / dtls1_handle_timeout with the
    // live SSL of the session that installed it; only its ex data is read.
    let ssl = unsafe { SslRef::from_ptr(ssl) };
    let Some(timer) = timer_index().ok().and_then(|index| ssl.ex_data(index)) else {
        return 1_000_000;
    };
    if previous_us == 0 {
        timer.flight.store(0, Relaxed);
        return timer.initial_us;
    }
    if timer.flight.fetch_add(1, Relaxed) < MAX_RETRANSMISSIONS {
        timer.retransmissions.fetch_add(1, Relaxed);
    }
    previous_us.saturating_mul(2).min(timer.max_us)
}

/// `struct timeval` as `DTLSv1_get_timeout` fills it (zeroed first, so that a 32-bit
/// `tv_usec` reads right too on little-endian targets).
#[derive(Default)]
#[repr(C)]
struct Timeval {
    tv_sec: c_long,
    tv_usec: c_long,
}

/// The SSL_ctrl commands behind the `DTLSv1_get_timeout` / `DTLSv1_handle_timeout` macros.
const DTLS_CTRL_GET_TIMEOUT: c_int = 73;
const DTLS_CTRL_HANDLE_TIMEOUT: c_int = 74;

#[derive(Debug)]
enum State {
    Handshaking,
    Established,
    Failed(DtlsError),
    Closed,
}

/// One DTLS 1.2 PSK session with one peer, sans-IO (see the module doc).
#[derive(Debug)]
pub struct DtlsSession {
    stream: SslStream<Channel>,
    state: State,
    plaintext: VecDeque<Vec<u8>>,
    deadline: Option<Instant>,
    /// Server: the identity the key lookup did not know, for [`DtlsError::UnknownIdentity`].
    unknown: Arc<Mutex<Option<Vec<u8>>>>,
}

impl DtlsSession {
    /// A session with [`DtlsConfig::default`] (both suites, MTU 1200, RFC 6347 timer).
    /// `now` anchors [`DtlsSession::poll_timeout`]. A client starts its handshake: the
    /// ClientHello is ready in [`DtlsSession::poll_transmit`].
    pub fn new(role: Role, now: Instant) -> Result<DtlsSession, DtlsError> {
        DtlsSession::with_config(role, &DtlsConfig::default(), now)
    }

    /// A session with `config`, as [`DtlsSession::new`].
    pub fn with_config(role: Role, config: &DtlsConfig, now: Instant) -> Result<Self, DtlsError> {
        if let Role::Client(psk) = &role {
            if psk.identity.contains(&0) || psk.key.is_empty() {
                let why = "a PSK identity with a zero byte, or an empty key, cannot be used";
                return Err(DtlsError::Library(why.into()));
            }
        }
        if config.suites.is_empty() {
            return Err(DtlsError::Library("no cipher suite configured".into()));
        }
        let unknown = Arc::new(Mutex::new(None));
        let client = matches!(role, Role::Client(_));
        let library = |e: ErrorStack| DtlsError::Library(e.to_string());
        let context = context(role, config, &unknown).map_err(library)?;
        let ssl = session_ssl(&context, config, client).map_err(library)?;
        let stream = SslStream::new(ssl, Channel::default()).map_err(library)?;
        let mut session = DtlsSession {
            stream,
            state: State::Handshaking,
            plaintext: VecDeque::new(),
            deadline: None,
            unknown,
        };
        if client {
            session.advance()?;
        }
        session.rearm(now);
        Ok(session)
    }

    /// Feeds one datagram from the peer: it advances the handshake or is decrypted into
    /// [`DtlsSession::poll_plaintext`]. Invalid records are discarded (`Ok`); a datagram
    /// that is not DTLS is dropped with [`DtlsError::BadRecord`]; a failed handshake gives
    /// [`DtlsError::HandshakeFailed`] or [`DtlsError::UnknownIdentity`], and a dead or
    /// closed session its failure or [`DtlsError::Closed`] again.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) -> Result<(), DtlsError> {
        self.usable()?;
        if !looks_like_dtls(bytes) {
            let why = format!("{} bytes that are not a DTLS record", bytes.len());
            return Err(DtlsError::BadRecord(why));
        }
        self.stream.get_mut().inbound.push_back(bytes.to_vec());
        let result = self.advance();
        self.rearm(now);
        result
    }

    /// The next decrypted application datagram (one CoAP message).
    pub fn poll_plaintext(&mut self) -> Option<Vec<u8>> {
        self.plaintext.pop_front()
    }

    /// Encrypts one application datagram into one record for
    /// [`DtlsSession::poll_transmit`]; [`DtlsError::NotEstablished`] during the handshake
    /// (BS-SEC-02: no data before authentication). An empty `plaintext` sends nothing.
    pub fn send(&mut self, plaintext: &[u8]) -> Result<(), DtlsError> {
        self.usable()?;
        if !self.is_established() {
            return Err(DtlsError::NotEstablished);
        }
        match self.stream.ssl_write(plaintext) {
            Ok(n) if n == plaintext.len() => Ok(()),
            Ok(n) => Err(DtlsError::Library(format!(
                "wrote {n} of {}",
                plaintext.len()
            ))),
            Err(e) => Err(DtlsError::Library(e.to_string())),
        }
    }

    /// The next record datagram to put on the wire.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.stream.get_mut().outbound.pop_front()
    }

    /// Retransmits the last flight if its timer has run out (RFC 6347 §4.2.4); after
    /// [`MAX_RETRANSMISSIONS`] the handshake fails ([`DtlsSession::error`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|deadline| now < deadline) {
            return;
        }
        if self.ctrl(DTLS_CTRL_HANDLE_TIMEOUT, None) < 0 {
            let (n, why) = (self.retransmissions(), ErrorStack::get());
            let why = format!("no answer after {n} retransmissions ({why})");
            self.state = State::Failed(DtlsError::HandshakeFailed(why));
        }
        self.rearm(now);
    }

    /// When [`DtlsSession::handle_timeout`] is next due, while a flight awaits its answer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// How many handshake retransmissions the session has sent.
    pub fn retransmissions(&self) -> u32 {
        let timer = timer_index()
            .ok()
            .and_then(|i| self.stream.ssl().ex_data(i));
        timer.map_or(0, |t| t.retransmissions.load(Relaxed))
    }

    /// Whether the handshake completed and the session is neither closed nor failed.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established)
    }

    /// Why the session failed, once it has.
    pub fn error(&self) -> Option<&DtlsError> {
        match &self.state {
            State::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// The PSK identity the handshake used: on a server, the one the client presented,
    /// which tells the server whose account it talks to (BS-SEC-05).
    pub fn peer_identity(&self) -> Option<Vec<u8>> {
        let identity = self.stream.ssl().psk_identity().map(<[u8]>::to_vec);
        identity.filter(|_| self.is_established())
    }

    /// On a server, the PSK identity the client presented in its ClientKeyExchange, also
    /// in a handshake that has not completed (a refusing server reports it).
    pub fn presented_identity(&self) -> Option<Vec<u8>> {
        self.stream.ssl().psk_identity().map(<[u8]>::to_vec)
    }

    /// The negotiated suite, by OpenSSL's name ([`Suite::openssl_name`]).
    pub fn cipher(&self) -> Option<&'static str> {
        let cipher = self.stream.ssl().current_cipher().map(|c| c.name());
        cipher.filter(|_| self.is_established())
    }

    /// Closes the session; an established one sends close_notify (RFC 5246 §7.2.1).
    pub fn close(&mut self) {
        if self.is_established() {
            // Best effort: nothing here depends on the close_notify going out.
            let _ = self.stream.shutdown();
        }
        if self.error().is_none() {
            self.state = State::Closed;
        }
        self.deadline = None;
    }

    /// Whether the session was closed (close_notify sent or received): it carries no more
    /// data, and the peer opens a new one to talk again.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// A failed or closed session's refusal.
    fn usable(&self) -> Result<(), DtlsError> {
        match &self.state {
            State::Failed(error) => Err(error.clone()),
            State::Closed => Err(DtlsError::Closed),
            State::Handshaking | State::Established => Ok(()),
        }
    }

    /// Runs the handshake as far as the queued datagrams take it, then reads application
    /// data.
    fn advance(&mut self) -> Result<(), DtlsError> {
        if let State::Handshaking = self.state {
            match self.stream.do_handshake() {
                Ok(()) => self.state = State::Established,
                Err(e) if e.code() == ErrorCode::WANT_READ => return Ok(()),
                Err(e) => {
                    let error = match self.unknown.lock().ok().and_then(|id| id.clone()) {
                        Some(identity) => DtlsError::UnknownIdentity(identity),
                        None => DtlsError::HandshakeFailed(e.to_string()),
                    };
                    self.state = State::Failed(error.clone());
                    return Err(error);
                }
            }
        }
        let mut buf = vec![0; 16 * 1024]; // the largest plaintext of a record
                                          // Bounded: one datagram holds fewer records than this.
        for _ in 0..u16::MAX {
            match self.stream.ssl_read(&mut buf) {
                Ok(n) if n > 0 => self.plaintext.push_back(buf[..n].to_vec()),
                Ok(_) => {}
                Err(e) if e.code() == ErrorCode::WANT_READ => break,
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.state = State::Closed;
                    break;
                }
                Err(e) => {
                    let error = DtlsError::Aborted(e.to_string());
                    self.state = State::Failed(error.clone());
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Reads OpenSSL's retransmission timer into `deadline`, from the caller's `now`.
    fn rearm(&mut self, now: Instant) {
        let mut left = Timeval::default();
        let running =
            self.usable().is_ok() && self.ctrl(DTLS_CTRL_GET_TIMEOUT, Some(&mut left)) > 0;
        self.deadline = running.then(|| {
            let secs = Duration::from_secs(left.tv_sec.max(0) as u64);
            now + secs + Duration::from_micros(left.tv_usec.max(0) as u64)
        });
    }

    /// `SSL_ctrl` with one of the two DTLS timer commands.
    fn ctrl(&self, command: c_int, timeval: Option<&mut Timeval>) -> c_long {
        let parg = timeval.map_or(std::ptr::null_mut(), |t| t as *mut Timeval as *mut c_void);
        // SAFETY: the SSL is live (owned by `self.stream`). DTLS_CTRL_GET_TIMEOUT writes one
        // `struct timeval` through `parg`, which then points at the caller's `Timeval`;
        // DTLS_CTRL_HANDLE_TIMEOUT ignores `parg` and writes records to the stream's BIO.
        unsafe { openssl_sys::SSL_ctrl(self.stream.ssl().as_ptr(), command, 0, parg) }
    }
}

/// The SSL context of one session: DTLS 1.2 only, the configured suites, the role's PSK
/// callback.
fn context(
    role: Role,
    config: &DtlsConfig,
    unknown: &Arc<Mutex<Option<Vec<u8>>>>,
) -> Result<SslContext, ErrorStack> {
    let mut builder = SslContext::builder(SslMethod::dtls())?;
    builder.set_min_proto_version(Some(SslVersion::DTLS1_2))?;
    builder.set_max_proto_version(Some(SslVersion::DTLS1_2))?;
    // OpenSSL >= 3.2 puts CCM_8 suites at level 0 (short tag); the list below is all the
    // session may negotiate, and there are no certificates for a level to judge.
    builder.set_security_level(0);
    let suites: Vec<&str> = config.suites.iter().map(|s| s.openssl_name()).collect();
    builder.set_cipher_list(&suites.join(":"))?;
    let options = SslOptions::NO_QUERY_MTU | SslOptions::NO_TICKET;
    builder.set_options(options | SslOptions::NO_RENEGOTIATION);
    match role {
        Role::Client(psk) => builder.set_psk_client_callback(move |_, _hint, identity, key| {
            Ok(client_psk(&psk, identity, key))
        }),
        Role::Server(lookup) => {
            let unknown = Arc::clone(unknown);
            builder.set_psk_server_callback(move |_, identity, key| {
                Ok(server_psk(
                    &lookup,
                    &unknown,
                    identity.unwrap_or_default(),
                    key,
                ))
            });
        }
    }
    Ok(builder.build())
}

/// Writes the client's identity (a C string) and key; 0, which fails the handshake, when
/// they do not fit OpenSSL's buffers.
fn client_psk(psk: &Psk, identity: &mut [u8], key: &mut [u8]) -> usize {
    let n = psk.identity.len();
    if n >= identity.len() || psk.key.len() > key.len() {
        return 0;
    }
    identity[..n].copy_from_slice(&psk.identity);
    identity[n] = 0;
    key[..psk.key.len()].copy_from_slice(&psk.key);
    psk.key.len()
}

/// The key for the client's identity; 0, which fails the handshake with
/// `unknown_psk_identity`, for an unknown identity or a key OpenSSL cannot take (empty, or
/// longer than its buffer).
fn server_psk(
    lookup: &KeyLookup,
    unknown: &Mutex<Option<Vec<u8>>>,
    id: &[u8],
    key: &mut [u8],
) -> usize {
    match lookup(id) {
        Some(found) if !found.is_empty() && found.len() <= key.len() => {
            key[..found.len()].copy_from_slice(&found);
            found.len()
        }
        _ => {
            if let Ok(mut slot) = unknown.lock() {
                *slot = Some(id.to_vec());
            }
            0
        }
    }
}

/// A session's SSL: MTU, timer, role.
fn session_ssl(context: &SslContext, config: &DtlsConfig, client: bool) -> Result<Ssl, ErrorStack> {
    let mut ssl = Ssl::new(context)?;
    ssl.set_mtu(config.mtu)?;
    let (initial_us, max_us) = config.timer_us();
    let (flight, retransmissions) = (AtomicU32::new(0), AtomicU32::new(0));
    let timer = Timer {
        initial_us,
        max_us,
        flight,
        retransmissions,
    };
    ssl.set_ex_data(timer_index()?, timer);
    // SAFETY: the SSL is live; the callback is a plain function, valid as long as the
    // program, that reads only the ex data set just above.
    unsafe { DTLS_set_timer_cb(ssl.as_ptr(), Some(retransmit_timer)) };
    if client {
        ssl.set_connect_state();
    } else {
        ssl.set_accept_state();
    }
    Ok(ssl)
}

#[cfg(test)]
mod tests;
