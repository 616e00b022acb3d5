//! The reference client: the client side of the bootstrap interface as plain Rust, with no
//! sockets and no clocks (sans-IO). One function, [`Client::handle`], takes an [`Input`] (a
//! message from a server, an answer to the client's own request, or a timer the caller fires)
//! and returns an [`Output`]: the response to send, if any, and the client's next outgoing
//! messages. Timers are requests in the client state ([`Client::armed_timers`]); whoever
//! drives the client decides when they expire (the model: nondeterministically; a wire
//! adapter: with a clock).
//!
//! Injected bugs ([`crate::bugs`]) are switched in through [`ClientSpec::bugs`]; with the empty
//! set this is the reference behaviour.

use crate::bugs::{Bug, BugSet};
use crate::code::ResponseCode;
use crate::objects::{
    AccessControlInstance, KeyId, SecurityInstance, ServerInstance, ServerUri, ShortServerId,
    OWNER_BOOTSTRAP,
};
use crate::path::{Path, ACCESS_CONTROL, DEVICE, SECURITY, SERVER};
use crate::profile::{Operation, Profile, PushAcceptance, VersionForm};
use crate::seed_ext;
use crate::store::{Instances, ObjectStore, ServerAccount};
use serde::{Deserialize, Serialize};

/// Number of management servers a client can track (the model's upper bound).
pub const MAX_SERVERS: usize = 3;

/// Who sent a message to the client. The client knows it from the security session the
/// message arrived on (BS-SEC-01).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Peer {
    /// The bootstrap server.
    BootstrapServer,
    /// Management server `k`.
    Server(u8),
}

/// The payload of a Bootstrap-Write, abstractly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum WriteValue {
    /// A whole Security instance (`PUT /0/x`).
    Security(SecurityInstance),
    /// A whole Server instance (`PUT /1/y`).
    Server(ServerInstance),
    /// A whole Access Control instance (`PUT /2/z`).
    AccessControl(AccessControlInstance),
    /// Several Server instances in one object-level write (`PUT /1`, BS-WRITE-03).
    ServerObject(Instances<ServerInstance>),
    /// New keying material (`PUT /0/x/5`).
    SecretKey(KeyId),
    /// A new lifetime (`PUT /1/y/1`).
    Lifetime(u32),
    /// A payload that does not decode in its Content-Format (BS-WRITE-06: 4.00).
    Undecodable,
    /// A payload in a Content-Format the client does not support (BS-WRITE-06: 4.15).
    UnsupportedContentFormat,
}

/// A Bootstrap-Pack (BS-PACK-02): for each object it carries, the complete new set of
/// instances.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct BootstrapPack {
    /// New Security instances, if the pack carries object 0.
    pub security: Option<Instances<SecurityInstance>>,
    /// New Server instances, if the pack carries object 1.
    pub server: Option<Instances<ServerInstance>>,
    /// New Access Control instances, if the pack carries object 2.
    pub access_control: Option<Instances<AccessControlInstance>>,
}

/// The bootstrap server's answer to Bootstrap-Pack-Request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum PackAnswer {
    /// 2.05 with the pack.
    Pack(Box<BootstrapPack>),
    /// An error code (5.01 when the server has no Pack support, ...).
    Error(ResponseCode),
    /// No answer before the client gives up.
    NoAnswer,
}

/// A management server's answer to Register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum RegisterAnswer {
    /// 2.01 Created.
    Created,
    /// An error response (4.00, 4.03, ...).
    Rejected,
    /// No answer before the client gives up.
    NoAnswer,
}

/// A timer the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Timer {
    /// Client Hold Off Time before Bootstrap-Request (BS-FACT-05, A-11).
    ClientHoldOff,
    /// EXCHANGE_LIFETIME without Bootstrap-Finish (BS-CI-03).
    ExchangeLifetime,
    /// Bootstrap-Server Account Timeout (BS-FIN-06).
    BootstrapAccountTimeout,
}

/// Everything that can happen to the client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Input {
    /// The answer to the client's Bootstrap-Request (`None`: no answer).
    BootstrapRequestAnswer(Option<ResponseCode>),
    /// The answer to the client's Bootstrap-Pack-Request.
    PackAnswer(PackAnswer),
    /// Bootstrap-Write (`PUT`), optionally with the seed's `keepServerInfo`.
    Write {
        /// Sender.
        from: Peer,
        /// Target.
        path: Path,
        /// Payload.
        value: WriteValue,
        /// The seed's `keepServerInfo` query option (see [`crate::seed_ext`]).
        keep_server_info: bool,
    },
    /// Bootstrap-Read (`GET`, 1.1+).
    Read {
        /// Sender.
        from: Peer,
        /// Target.
        path: Path,
    },
    /// Bootstrap-Discover (`GET` Accept 40).
    Discover {
        /// Sender.
        from: Peer,
        /// Target.
        path: Path,
    },
    /// Bootstrap-Delete (`DELETE`).
    Delete {
        /// Sender.
        from: Peer,
        /// Target.
        path: Path,
    },
    /// Bootstrap-Finish (`POST /bs` from the server).
    Finish {
        /// Sender.
        from: Peer,
    },
    /// A CoAP duplicate of the last Bootstrap-Finish (same Message ID).
    DuplicateFinish,
    /// A management server's answer to Register.
    RegisterAnswer {
        /// The server.
        server: u8,
        /// Its answer.
        answer: RegisterAnswer,
    },
    /// Execute of the Bootstrap-Request Trigger /1/y/9 (1.1+).
    ExecuteBootstrapTrigger {
        /// Sender.
        from: Peer,
        /// Server instance y.
        instance: u16,
    },
    /// The seed's Step 0 re-bootstrap notification carrying a URI.
    ReBootstrapNotification {
        /// Sender.
        from: Peer,
        /// The URI to re-bootstrap at.
        uri: ServerUri,
    },
    /// A timer the client armed has expired.
    TimerExpired(Timer),
}

/// One link of a Bootstrap-Discover answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Link {
    /// `</o>` or `</o/i>`.
    pub path: Path,
    /// `ssid=` attribute.
    pub ssid: Option<ShortServerId>,
    /// `uri="..."` attribute (1.1+).
    pub uri: Option<ServerUri>,
}

/// A response payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Content {
    /// Bootstrap-Discover: the version element and the links (BS-DISC-02).
    Links {
        /// Version element form.
        version: VersionForm,
        /// Links in order.
        links: Vec<Link>,
    },
    /// Bootstrap-Read of /1 or /1/y.
    Servers(Vec<(u16, ServerInstance)>),
    /// Bootstrap-Read of /2 or /2/z.
    AccessControl(Vec<(u16, AccessControlInstance)>),
    /// What a buggy client returns for a Read of /0.
    Security(Vec<(u16, SecurityInstance)>),
}

impl Content {
    /// The CoRE link-format (RFC 6690) rendering of a Discover answer, e.g.
    /// `lwm2m="1.0",</0/0>;ssid=1,</0/1>,</1/0>;ssid=1,</3/0>` (BS-DISC-02..04), with the
    /// model's symbolic URIs.
    pub fn link_format(&self) -> Option<String> {
        self.link_format_with(|u| u.to_string())
    }

    /// The link-format rendering with `uri` giving each server's URI (a wire adapter uses
    /// its real addresses).
    pub fn link_format_with(&self, uri: impl Fn(ServerUri) -> String) -> Option<String> {
        let Content::Links { version, links } = self else {
            return None;
        };
        let mut parts = vec![match version {
            VersionForm::Quoted10 => "lwm2m=\"1.0\"".to_string(),
            VersionForm::Root11 => "</>;lwm2m=1.1".to_string(),
            VersionForm::Root12 => "</>;lwm2m=1.2".to_string(),
        }];
        for l in links {
            let mut s = format!("<{}>", l.path);
            if let Some(id) = l.ssid {
                s.push_str(&format!(";ssid={id}"));
            }
            if let Some(u) = l.uri {
                s.push_str(&format!(";uri=\"{}\"", uri(u)));
            }
            parts.push(s);
        }
        Some(parts.join(","))
    }
}

/// The client's response to the message it just received.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Response {
    /// Response code.
    pub code: ResponseCode,
    /// Payload, where the operation has one.
    pub content: Option<Content>,
}

/// The seed's Step 1 information in a Bootstrap-Request (see [`crate::seed_ext`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceInfo {
    /// `dev=`.
    pub device: String,
    /// `sm=`.
    pub security_modes: Vec<u8>,
}

/// A message the client sends on its own initiative.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Outgoing {
    /// `POST /bs?ep=...[&pct=...]` (BS-REQ-01).
    BootstrapRequest {
        /// Where to.
        to: ServerUri,
        /// `ep=`.
        endpoint: Option<String>,
        /// `pct=` (1.1+).
        pct: Option<u16>,
        /// Seed Step 1 information.
        device_info: Option<DeviceInfo>,
    },
    /// `GET /bspack?ep=...` (BS-PACK-01, 1.2).
    BootstrapPackRequest {
        /// Where to.
        to: ServerUri,
        /// `ep=`.
        endpoint: Option<String>,
    },
    /// `POST /rd?ep=...&lt=...&lwm2m=...` with the object list (BS-REG-01/03/04).
    Register {
        /// Where to.
        to: ServerUri,
        /// `ep=`.
        endpoint: String,
        /// `lt=` (/1/y/1).
        lifetime: u32,
        /// `lwm2m=`.
        version: Option<String>,
        /// Object instances in the payload.
        objects: Vec<Path>,
    },
}

/// What [`Client::handle`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Output {
    /// The response to the input, if it was a request.
    pub response: Option<Response>,
    /// Messages the client sends next.
    pub send: Vec<Outgoing>,
}

/// Where the client is in its life cycle (BS-FACT-03).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Phase {
    /// Decided to bootstrap; waiting the Client Hold Off Time, then requesting at `target`.
    HoldOff {
        /// Bootstrap URI to request at.
        target: ServerUri,
    },
    /// Bootstrap-Pack-Request sent (1.2).
    PackRequested {
        /// Where it went.
        target: ServerUri,
    },
    /// Bootstrap-Request sent, no answer yet.
    Requested {
        /// Where it went.
        target: ServerUri,
    },
    /// In a bootstrap session: bootstrap commands accepted until Finish.
    Bootstrapping,
    /// Using the configuration: registering or registered with its servers (or idle when
    /// there is none).
    Operating,
}

/// Registration state with one management server.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Registration {
    /// Not registering.
    #[default]
    None,
    /// Register sent, no answer yet.
    Pending,
    /// Registered.
    Registered,
    /// Registration failed.
    Failed,
}

/// Behaviours the specification leaves to the client. The model explores every allowed
/// combination so that no property forbids an allowed behaviour.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Choices {
    /// prune ACL entries and owners of vanished servers when a bootstrap ends (1.x).
    pub prune_orphans: bool,
    /// refuse Finish on unpaired or incomplete Security/Server instances.
    pub strict_pairing: bool,
    /// accept 1.0-style pushed bootstrap commands (1.1+).
    pub legacy_push: bool,
    /// BS-PACK-01 (MAY): try Bootstrap-Pack-Request before Bootstrap-Request (1.2).
    pub pack: bool,
    /// a failed bootstrap (no Finish within EXCHANGE_LIFETIME) rolls back everything
    /// the session changed, as Anjay's data-model transaction does, not only the
    /// Bootstrap-Server Account that BS-CI-04 requires.
    pub rollback_all: bool,
    /// A client feature, not a choice among allowed behaviours: the client lacks the Access
    /// Control object (optional: LwM2M-OBJ-003-C-O), so it supports a single LwM2M Server
    /// only and refuses a multi-server configuration at Finish (Core 1.2 §6.1.5, BS-OBJ-05).
    /// Never varied by [`Choices::all_for`]; set from the client's declared features.
    pub no_access_control: bool,
}

impl Choices {
    /// Every combination that makes a difference under `profile`.
    pub fn all_for(profile: Profile) -> Vec<Choices> {
        let mut out = Vec::new();
        for bits in 0u8..32 {
            let c = Choices {
                prune_orphans: bits & 1 != 0,
                strict_pairing: bits & 2 != 0,
                legacy_push: bits & 4 != 0,
                pack: bits & 8 != 0,
                rollback_all: bits & 16 != 0,
                no_access_control: false,
            };
            if c.prune_orphans && !profile.may_prune_orphans()
                || c.legacy_push && profile.push_acceptance() != PushAcceptance::Allowed
                || c.pack && !profile.supports(Operation::BootstrapPackRequest)
            {
                continue;
            }
            out.push(c);
        }
        out
    }

    /// The reference client's choices under `profile`: lenient Finish, no pruning, no legacy
    /// push, Pack first where the profile has it.
    pub fn reference(profile: Profile) -> Choices {
        Choices {
            pack: profile.supports(Operation::BootstrapPackRequest),
            ..Choices::default()
        }
    }
}

/// What does not change while a client runs: its profile, endpoint name and injected bugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSpec {
    /// The profile the client claims.
    pub profile: Profile,
    /// Endpoint Client Name (BS-CI-02).
    pub endpoint: &'static str,
    /// Injected bugs (empty for the reference client).
    pub bugs: BugSet,
}

impl ClientSpec {
    /// The reference client for `profile`.
    pub fn reference(profile: Profile) -> ClientSpec {
        ClientSpec {
            profile,
            endpoint: "urn:dev:ref-1",
            bugs: BugSet::NONE,
        }
    }

    #[inline]
    fn bug(&self, b: Bug) -> bool {
        self.bugs.has(b)
    }
}

/// The reference client's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Client {
    /// Objects held.
    pub store: ObjectStore,
    /// Life-cycle phase.
    pub phase: Phase,
    /// Registration with each management server, by server number.
    pub registrations: [Registration; MAX_SERVERS],
    /// Whether the Bootstrap-Server Account Timeout is running (BS-FIN-06).
    pub account_timeout_armed: bool,
    /// The BS account as it was when the current session opened (BS-CI-04).
    pub bootstrap_snapshot: Option<(u16, SecurityInstance)>,
    /// The whole store as it was when the current session opened, kept only by a client
    /// that rolls everything back (A-20, [`Choices::rollback_all`]).
    pub session_snapshot: Option<Box<ObjectStore>>,
    /// CoAP deduplication cache: the code last sent in answer to Finish (RFC 7252 §4.5).
    pub finish_cache: Option<ResponseCode>,
    /// The URI of a seed Step 0 notification, used for re-bootstrap until one succeeds
    /// (BS-RB-02).
    pub notified_uri: Option<ServerUri>,
    /// Behaviours left to the client.
    pub choices: Choices,
}

impl Client {
    /// Powers the client on with a factory configuration (BS-FACT-01, BS-FACT-03): it
    /// registers with the servers it was built with, or else bootstraps if it holds a BS
    /// account.
    pub fn boot(spec: &ClientSpec, store: ObjectStore, choices: Choices) -> (Client, Output) {
        let mut c = Client {
            store,
            phase: Phase::Operating,
            registrations: [Registration::None; MAX_SERVERS],
            account_timeout_armed: false,
            bootstrap_snapshot: None,
            session_snapshot: None,
            finish_cache: None,
            notified_uri: None,
            choices,
        };
        let mut out = Output::default();
        c.start_registration(spec, &mut out);
        (c, out)
    }

    /// The timers the client currently asks for.
    pub fn armed_timers(&self) -> Vec<Timer> {
        let mut t = Vec::new();
        match self.phase {
            Phase::HoldOff { .. } => t.push(Timer::ClientHoldOff),
            Phase::Bootstrapping => t.push(Timer::ExchangeLifetime),
            _ => {}
        }
        if self.account_timeout_armed {
            t.push(Timer::BootstrapAccountTimeout);
        }
        t
    }

    /// Whether the client is registered with at least one server.
    pub fn registered_anywhere(&self) -> bool {
        self.registrations.contains(&Registration::Registered)
    }

    /// Handles one input and returns the response and the next outgoing messages.
    pub fn handle(&mut self, spec: &ClientSpec, input: &Input) -> Output {
        let mut out = Output::default();
        match input {
            Input::TimerExpired(t) => self.timer(spec, *t, &mut out),
            Input::BootstrapRequestAnswer(code) => {
                self.bootstrap_request_answer(spec, *code, &mut out)
            }
            Input::PackAnswer(answer) => self.pack_answer(spec, answer, &mut out),
            Input::Write {
                from,
                path,
                value,
                keep_server_info,
            } => {
                let r = self.bootstrap_command(spec, *from, &mut out, |c, spec, out| {
                    c.write(spec, *path, value, *keep_server_info, out)
                });
                out.response = Some(r);
            }
            Input::Read { from, path } => {
                let r =
                    self.bootstrap_command(spec, *from, &mut out, |c, spec, _| c.read(spec, *path));
                out.response = Some(r);
            }
            Input::Discover { from, path } => {
                let r = self
                    .bootstrap_command(spec, *from, &mut out, |c, spec, _| c.discover(spec, *path));
                out.response = Some(r);
            }
            Input::Delete { from, path } => {
                let r = self
                    .bootstrap_command(spec, *from, &mut out, |c, spec, _| c.delete(spec, *path));
                out.response = Some(r);
            }
            Input::Finish { from } => {
                let r = self
                    .bootstrap_command(spec, *from, &mut out, |c, spec, out| c.finish(spec, out));
                if *from == Peer::BootstrapServer {
                    self.finish_cache = Some(r.code);
                }
                out.response = Some(r);
            }
            Input::DuplicateFinish => {
                let r = self.duplicate_finish(spec, &mut out);
                out.response = Some(r);
            }
            Input::RegisterAnswer { server, answer } => {
                self.register_answer(spec, *server, *answer, &mut out)
            }
            Input::ExecuteBootstrapTrigger { from: _, instance } => {
                let r = self.trigger(spec, *instance, &mut out);
                out.response = Some(r);
            }
            Input::ReBootstrapNotification { from: _, uri } => {
                self.rebootstrap_notification(spec, *uri, &mut out)
            }
        }
        out
    }

    /// The bootstrap server's answer to a Bootstrap-Request: 2.04 opens the session; any
    /// other answer, or none, means this attempt failed (BS-REQ-04).
    fn bootstrap_request_answer(
        &mut self,
        spec: &ClientSpec,
        code: Option<ResponseCode>,
        out: &mut Output,
    ) {
        if let Phase::Requested { target } = self.phase {
            if code == Some(ResponseCode::Changed) {
                self.open_session();
            } else {
                // BS-REQ-04: any other answer means this attempt failed.
                self.decide_bootstrap(spec, target, out);
            }
        }
    }

    /// A CoAP duplicate of Bootstrap-Finish gets the first answer and changes nothing
    /// (BS-FIN-01, RFC 7252 §4.5); without a first answer it is a Finish.
    fn duplicate_finish(&mut self, spec: &ClientSpec, out: &mut Output) -> Response {
        let cached = self
            .finish_cache
            .filter(|_| !spec.bug(Bug::NoDeduplication));
        match cached {
            Some(code) => code_only(code),
            None => {
                let r = self.bootstrap_command(spec, Peer::BootstrapServer, out, |c, spec, out| {
                    c.finish(spec, out)
                });
                self.finish_cache = Some(r.code);
                r
            }
        }
    }

    /// A seed Step 0 re-bootstrap notification: accepted (2.04), its URI remembered, and a
    /// bootstrap attempt decided towards it (BS-RB-02, BS-CI-01).
    fn rebootstrap_notification(&mut self, spec: &ClientSpec, uri: ServerUri, out: &mut Output) {
        if !spec.bug(Bug::NotificationUriIgnored) {
            self.notified_uri = Some(uri);
        }
        let target = self.request_target().unwrap_or(uri);
        self.decide_bootstrap(spec, target, out);
        out.response = Some(code_only(ResponseCode::Changed));
    }

    fn bootstrap_uri(&self) -> Option<ServerUri> {
        self.store.bootstrap_account().and_then(|(_, s)| s.uri)
    }

    /// Where a bootstrap attempt goes now: the URI of a seed Step 0 notification, else the
    /// stored BS account's URI (BS-CI-01, BS-RB-02); `None` when neither exists (BS-RB-06).
    pub fn request_target(&self) -> Option<ServerUri> {
        self.notified_uri.or_else(|| self.bootstrap_uri())
    }

    fn timer(&mut self, spec: &ClientSpec, t: Timer, out: &mut Output) {
        match (t, self.phase) {
            (Timer::ClientHoldOff, Phase::HoldOff { .. }) => {
                // The BS account may have been purged meanwhile (BS-FIN-06, BS-RB-06): with
                // no bootstrap URI left there is nothing to request.
                match self.request_target() {
                    Some(target) => self.send_request(spec, target, out),
                    None => self.start_registration(spec, out),
                }
            }
            (Timer::ExchangeLifetime, Phase::Bootstrapping) => {
                if spec.bug(Bug::IgnoresExchangeLifetime) {
                    return;
                }
                // BS-CI-03/04: the bootstrap failed; the BS account keeps its old values (and
                // with A-20 everything else too).
                if !spec.bug(Bug::NoBootstrapAccountRollback) {
                    if let Some(whole) = self.session_snapshot.take() {
                        self.store = *whole;
                    }
                    self.store.security.retain(|_, s| !s.is_bootstrap());
                    if let Some((iid, bs)) = self.bootstrap_snapshot {
                        self.store.security.put(iid, bs);
                    }
                }
                self.bootstrap_snapshot = None;
                self.session_snapshot = None;
                match self.request_target() {
                    Some(uri) => self.decide_bootstrap(spec, uri, out),
                    // Nowhere to retry, and the half-written configuration was never
                    // accepted (BS-FIN-05): the client stays idle.
                    None => self.phase = Phase::Operating,
                }
            }
            (Timer::BootstrapAccountTimeout, _) if self.account_timeout_armed => {
                // BS-FIN-06: the BS account is deleted once its timeout has run.
                self.account_timeout_armed = false;
                self.store.security.retain(|_, s| !s.is_bootstrap());
            }
            _ => {}
        }
    }

    /// The client has decided to (re-)bootstrap at `target`: registrations are dropped
    /// (A-14 lets the client keep them; the reference drops them) and the Client Hold Off
    /// Time runs first (BS-FACT-05, A-11).
    /// A pending Bootstrap-Server Account Timeout is cancelled: the bootstrap about to run
    /// needs the account, and its own successful end arms the timeout anew (BS-FIN-06; the
    /// specification does not say what happens when the two overlap).
    fn decide_bootstrap(&mut self, spec: &ClientSpec, target: ServerUri, out: &mut Output) {
        self.registrations = [Registration::None; MAX_SERVERS];
        self.account_timeout_armed = false;
        if spec.bug(Bug::NoHoldOff) {
            self.send_request(spec, target, out);
        } else {
            self.phase = Phase::HoldOff { target };
        }
    }

    fn send_request(&mut self, spec: &ClientSpec, target: ServerUri, out: &mut Output) {
        let endpoint = Some(spec.endpoint.to_string());
        if self.choices.pack && spec.profile.supports(Operation::BootstrapPackRequest) {
            self.phase = Phase::PackRequested { target };
            out.send.push(Outgoing::BootstrapPackRequest {
                to: target,
                endpoint,
            });
        } else {
            self.send_bootstrap_request(spec, target, out);
        }
    }

    fn send_bootstrap_request(&mut self, spec: &ClientSpec, target: ServerUri, out: &mut Output) {
        let profile = spec.profile;
        self.phase = Phase::Requested { target };
        let device_info = (profile.request_carries_device_info()
            && !spec.bug(Bug::SeedRequestWithoutDeviceInfo))
        .then(|| DeviceInfo {
            device: seed_ext::REFERENCE_DEVICE_INFO.to_string(),
            security_modes: seed_ext::REFERENCE_SECURITY_MODES.to_vec(),
        });
        let pct = if spec.bug(Bug::RequestWithBadPct) {
            Some(40)
        } else {
            profile.preferred_content_format()
        };
        out.send.push(Outgoing::BootstrapRequest {
            to: target,
            endpoint: (!spec.bug(Bug::RequestWithoutEndpoint)).then(|| spec.endpoint.to_string()),
            pct,
            device_info,
        });
    }

    fn open_session(&mut self) {
        self.phase = Phase::Bootstrapping;
        self.registrations = [Registration::None; MAX_SERVERS];
        self.bootstrap_snapshot = self.store.bootstrap_account().map(|(i, s)| (i, *s));
        self.session_snapshot = self
            .choices
            .rollback_all
            .then(|| Box::new(self.store.clone()));
        self.finish_cache = None;
        // A new bootstrap decides anew whether the BS account times out (BS-FIN-06).
        self.account_timeout_armed = false;
    }

    fn pack_answer(&mut self, spec: &ClientSpec, answer: &PackAnswer, out: &mut Output) {
        if !matches!(self.phase, Phase::PackRequested { .. }) {
            return;
        }
        if let PackAnswer::Pack(pack) = answer {
            // BS-PACK-02: each object in the pack replaces that object's instances; the BS
            // account and /3/0 stay. The pack is applied only if the result is consistent.
            let mut next = self.store.clone();
            if let Some(sec) = &pack.security {
                next.security.retain(|_, s| s.is_bootstrap());
                for (i, s) in sec.iter() {
                    if !s.is_bootstrap() {
                        next.security.put(i, *s);
                    }
                }
            }
            if let Some(srv) = &pack.server {
                next.server = srv.clone();
            }
            if let Some(acl) = &pack.access_control {
                next.access_control = acl.clone();
            }
            if next.consistency(self.choices.strict_pairing).is_ok() {
                self.store = next;
                self.notified_uri = None;
                self.arm_account_timeout(spec);
                self.start_registration(spec, out);
                return;
            }
        }
        // BS-PACK-04: an inconsistent pack or any error falls back to Bootstrap-Request.
        match self.request_target() {
            Some(target) if !spec.bug(Bug::PackErrorNoFallback) => {
                self.send_bootstrap_request(spec, target, out)
            }
            _ => self.start_registration(spec, out),
        }
    }

    /// Runs a bootstrap command if `from` may send it now; refuses it otherwise.
    fn bootstrap_command(
        &mut self,
        spec: &ClientSpec,
        from: Peer,
        out: &mut Output,
        run: impl FnOnce(&mut Client, &ClientSpec, &mut Output) -> Response,
    ) -> Response {
        if from != Peer::BootstrapServer {
            // BS-OBJ-02, BS-SEC-04: /0 is invisible on the DM interface.
            if spec.bug(Bug::AcceptsBootstrapWriteFromServer) {
                return run(self, spec, out);
            }
            return code_only(ResponseCode::Unauthorized);
        }
        if self.phase != Phase::Bootstrapping {
            let has_bs = self.store.bootstrap_account().is_some();
            let accept = match spec.profile.push_acceptance() {
                PushAcceptance::Required => has_bs,
                PushAcceptance::Allowed => has_bs && self.choices.legacy_push,
                PushAcceptance::Refused => false,
            } || spec.bug(Bug::AcceptsCommandsOutsideSession);
            if !accept {
                return code_only(ResponseCode::BadRequest);
            }
            // BS-RB-04: a 1.0 Server Initiated Bootstrap opens a session.
            self.open_session();
        }
        run(self, spec, out)
    }

    fn write(
        &mut self,
        spec: &ClientSpec,
        path: Path,
        value: &WriteValue,
        keep_server_info: bool,
        out: &mut Output,
    ) -> Response {
        let code = match (path, value) {
            (_, WriteValue::UnsupportedContentFormat) => {
                if spec.bug(Bug::UnsupportedFormatAnswersBadRequest) {
                    ResponseCode::BadRequest
                } else {
                    ResponseCode::UnsupportedContentFormat
                }
            }
            (_, WriteValue::Undecodable) => ResponseCode::BadRequest,
            (Path::Instance(SECURITY, x), WriteValue::Security(sec)) => {
                self.write_security(spec, x, *sec, keep_server_info);
                ResponseCode::Changed
            }
            (Path::Resource(SECURITY, x, 5), WriteValue::SecretKey(k)) => {
                // BS-WRITE-02: Write creates the instance when absent.
                let mut sec = self
                    .store
                    .security
                    .get(x)
                    .copied()
                    .unwrap_or(EMPTY_SECURITY);
                sec.key = Some(*k);
                self.store.security.put(x, sec);
                ResponseCode::Changed
            }
            (Path::Instance(SERVER, y), WriteValue::Server(s)) => {
                self.store.server.put(y, *s);
                ResponseCode::Changed
            }
            (Path::Resource(SERVER, y, 1), WriteValue::Lifetime(l)) => {
                let mut s = self.store.server.get(y).copied().unwrap_or(EMPTY_SERVER);
                s.lifetime = Some(*l);
                self.store.server.put(y, s);
                ResponseCode::Changed
            }
            (Path::Instance(ACCESS_CONTROL, _), WriteValue::AccessControl(_))
                if self.choices.no_access_control =>
            {
                // BS-OBJ-05: no such object here (the reference answers 4.04, A-23).
                ResponseCode::NotFound
            }
            (Path::Instance(ACCESS_CONTROL, z), WriteValue::AccessControl(a)) => {
                self.store.access_control.put(z, a.clone());
                ResponseCode::Changed
            }
            (Path::Object(SERVER), WriteValue::ServerObject(v)) => {
                // BS-WRITE-03; instances absent from the payload stay.
                for (y, srv) in v.iter() {
                    self.store.server.put(y, *srv);
                }
                ResponseCode::Changed
            }
            _ => ResponseCode::BadRequest,
        };
        if code == ResponseCode::Changed
            && spec.bug(Bug::RegistersBeforeFinish)
            && self.registrations == [Registration::None; MAX_SERVERS]
            && !self.accounts(spec).is_empty()
        {
            self.start_registration(spec, out);
            self.phase = Phase::Bootstrapping;
        }
        code_only(code)
    }

    /// Bootstrap-Write of a whole Security instance. In the seed profile, provisioning the
    /// account of a server that already has one removes the old account and everything
    /// related to that server, unless `keepServerInfo` asks to keep it and only update the
    /// account (BS-WIPE-01, BS-KEEP-01); overwriting instance x also removes the account
    /// that was there. 1.x: only instance x changes (BS-KEEP-02); `keepServerInfo` is an
    /// unknown query option and changes nothing (BS-KEEP-03).
    fn write_security(&mut self, spec: &ClientSpec, x: u16, sec: SecurityInstance, ksi: bool) {
        let profile = spec.profile;
        if spec.bug(Bug::WriteReplacesWholeObject) && !sec.is_bootstrap() {
            self.store
                .security
                .retain(|i, s| i == x || s.is_bootstrap());
        }
        let cascade = profile.cascades_account_removal()
            || spec.bug(Bug::CascadeInPublishedProfile)
            || (ksi && spec.bug(Bug::KeepServerInfoInPublishedProfile));
        if cascade && !sec.is_bootstrap() {
            let keep = if profile.supports(Operation::KeepServerInfo) {
                (ksi && !spec.bug(Bug::KeepServerInfoIgnored))
                    || spec.bug(Bug::KeepServerInfoAlways)
            } else {
                false
            };
            let mut gone: Vec<ShortServerId> = Vec::new();
            if let Some(old) = self.store.security.get(x) {
                if !old.is_bootstrap() {
                    gone.extend(old.ssid);
                }
            }
            if let Some(ssid) = sec.ssid {
                let before = self.store.security.len();
                self.store
                    .security
                    .retain(|i, s| i == x || s.is_bootstrap() || s.ssid != Some(ssid));
                if before != self.store.security.len() || gone.contains(&ssid) {
                    gone.push(ssid);
                }
            }
            if !keep {
                for ssid in gone {
                    self.remove_related(spec, ssid);
                }
            }
        }
        self.store.security.put(x, sec);
    }

    fn remove_related(&mut self, spec: &ClientSpec, ssid: ShortServerId) {
        let servers = self.store.server.clone();
        let acls = self.store.access_control.clone();
        self.store.remove_related(ssid);
        if spec.bug(Bug::ServerInstanceSurvivesAccountRemoval) {
            self.store.server = servers;
        }
        if spec.bug(Bug::AclSurvivesAccountRemoval) {
            self.store.access_control = acls;
        }
    }

    fn delete(&mut self, spec: &ClientSpec, path: Path) -> Response {
        let cascade = spec.profile.cascades_account_removal();
        let before: Vec<ShortServerId> = self.store.security_ssids();
        let code = match path {
            Path::Resource(..) => ResponseCode::BadRequest,
            Path::Root => {
                // BS-WIPE-03: everything but the BS account and /3/0.
                let all = spec.bug(Bug::DeleteRootRemovesBootstrapAccount);
                self.store.security.retain(|_, s| !all && s.is_bootstrap());
                self.store.server = Instances::default();
                self.store.access_control = Instances::default();
                if spec.bug(Bug::DeleteRootRemovesDevice) {
                    self.store.device = false;
                }
                ResponseCode::Deleted
            }
            Path::Object(SECURITY) => {
                self.store.security.retain(|_, s| s.is_bootstrap());
                ResponseCode::Deleted
            }
            Path::Object(SERVER) => {
                self.store.server = Instances::default();
                ResponseCode::Deleted
            }
            Path::Object(ACCESS_CONTROL) => {
                self.store.access_control = Instances::default();
                ResponseCode::Deleted
            }
            Path::Object(_) => ResponseCode::Deleted,
            Path::Instance(SECURITY, x) => match self.store.security.get(x) {
                Some(s) if s.is_bootstrap() => {
                    // BS-DEL-03: the BS account is never deleted (A-06: reference says 2.02).
                    if spec.bug(Bug::DeleteRemovesBootstrapInstance) {
                        self.store.security.remove(x);
                    }
                    ResponseCode::Deleted
                }
                Some(_) => {
                    self.store.security.remove(x);
                    ResponseCode::Deleted
                }
                None => self.missing_delete(spec),
            },
            Path::Instance(SERVER, y) => {
                if self.store.server.remove(y) {
                    ResponseCode::Deleted
                } else {
                    self.missing_delete(spec)
                }
            }
            Path::Instance(ACCESS_CONTROL, z) => {
                if self.store.access_control.remove(z) {
                    ResponseCode::Deleted
                } else {
                    self.missing_delete(spec)
                }
            }
            // BS-DEL-03: /3/0 is never deleted.
            Path::Instance(_, _) => ResponseCode::Deleted,
        };
        if cascade {
            let after = self.store.security_ssids();
            for ssid in before.into_iter().filter(|s| !after.contains(s)) {
                self.remove_related(spec, ssid);
            }
        }
        code_only(code)
    }

    fn missing_delete(&self, spec: &ClientSpec) -> ResponseCode {
        if spec.bug(Bug::DeleteMissingAnswersNotFound) {
            ResponseCode::NotFound
        } else {
            ResponseCode::Deleted
        }
    }

    /// Bootstrap-Discover of `path` (BS-DISC-01..05): the root or a supported object lists
    /// its instances, an unsupported object is not found, a deeper path is refused.
    fn discover(&self, spec: &ClientSpec, path: Path) -> Response {
        let supported =
            |o: u16| o <= DEVICE && !(o == ACCESS_CONTROL && self.choices.no_access_control);
        let objects: Vec<u16> = match path {
            Path::Root => [SECURITY, SERVER, ACCESS_CONTROL, DEVICE]
                .into_iter()
                .filter(|o| supported(*o))
                .collect(),
            Path::Object(o) if supported(o) => vec![o],
            Path::Object(_) => return code_only(ResponseCode::NotFound),
            _ => return code_only(ResponseCode::BadRequest),
        };
        let mut links = Vec::new();
        for o in objects {
            let instances = self.instance_links(spec, o);
            if instances.is_empty() {
                // BS-DISC-02: an object with no instance is listed by itself.
                links.push(Link {
                    path: Path::Object(o),
                    ssid: None,
                    uri: None,
                });
            } else {
                links.extend(instances);
            }
        }
        let version = if spec.bug(Bug::DiscoverOldVersionForm) {
            VersionForm::Quoted10
        } else {
            spec.profile.discover_version()
        };
        Response {
            code: ResponseCode::Content,
            content: Some(Content::Links { version, links }),
        }
    }

    /// The Discover links of object `o`'s instances (BS-DISC-02..04): Security instances
    /// with their `ssid` and (1.1+) `uri` but the BS account's with neither, Server instances
    /// with their `ssid`, Access Control instances and `/3/0` bare.
    fn instance_links(&self, spec: &ClientSpec, o: u16) -> Vec<Link> {
        let mut links = Vec::new();
        match o {
            SECURITY => {
                for (i, s) in self.store.security.iter() {
                    let bs = s.is_bootstrap();
                    links.push(Link {
                        path: Path::Instance(SECURITY, i),
                        ssid: s
                            .ssid
                            .filter(|_| !bs && !spec.bug(Bug::DiscoverOmitsShortServerId)),
                        uri: s.uri.filter(|_| {
                            if bs {
                                spec.bug(Bug::DiscoverListsBootstrapUri)
                            } else {
                                spec.profile.discover_lists_uri()
                            }
                        }),
                    });
                }
            }
            SERVER => {
                for (i, s) in self.store.server.iter() {
                    links.push(Link {
                        path: Path::Instance(SERVER, i),
                        ssid: s
                            .ssid
                            .filter(|_| !spec.bug(Bug::DiscoverOmitsShortServerId)),
                        uri: None,
                    });
                }
            }
            ACCESS_CONTROL => {
                for i in self.store.access_control.ids() {
                    links.push(Link {
                        path: Path::Instance(ACCESS_CONTROL, i),
                        ssid: None,
                        uri: None,
                    });
                }
            }
            _ => {
                if self.store.device {
                    links.push(Link {
                        path: Path::Instance(DEVICE, 0),
                        ssid: None,
                        uri: None,
                    });
                }
            }
        }
        links
    }

    fn read(&self, spec: &ClientSpec, path: Path) -> Response {
        let Some(o) = path.object() else {
            return code_only(ResponseCode::BadRequest);
        };
        if o == SECURITY && spec.bug(Bug::ReadExposesSecurity) {
            let v = self.store.security.iter().map(|(i, s)| (i, *s)).collect();
            return Response {
                code: ResponseCode::Content,
                content: Some(Content::Security(v)),
            };
        }
        if !spec.profile.readable(o) {
            // BS-READ-02: an error (A-05: the reference answers 4.05).
            return code_only(ResponseCode::MethodNotAllowed);
        }
        if o == ACCESS_CONTROL && self.choices.no_access_control {
            return code_only(ResponseCode::NotFound);
        }
        let want = |i: u16| match path {
            Path::Instance(_, x) => x == i,
            _ => true,
        };
        let content = if o == SERVER {
            let v: Vec<_> = self
                .store
                .server
                .iter()
                .filter(|(i, _)| want(*i))
                .map(|(i, s)| (i, *s))
                .collect();
            if v.is_empty() && path.instance().is_some() {
                return code_only(ResponseCode::NotFound);
            }
            Content::Servers(v)
        } else {
            let v: Vec<_> = self
                .store
                .access_control
                .iter()
                .filter(|(i, _)| want(*i))
                .map(|(i, a)| (i, a.clone()))
                .collect();
            if v.is_empty() && path.instance().is_some() {
                return code_only(ResponseCode::NotFound);
            }
            Content::AccessControl(v)
        };
        Response {
            code: ResponseCode::Content,
            content: Some(content),
        }
    }

    fn finish(&mut self, spec: &ClientSpec, out: &mut Output) -> Response {
        let verdict = match self.store.consistency(self.choices.strict_pairing) {
            _ if spec.bug(Bug::FinishAcceptsInconsistent) => Ok(()),
            Err(crate::store::Inconsistency::DuplicateShortServerId(_))
                if spec.bug(Bug::DuplicateShortServerIdAccepted) =>
            {
                let mut relaxed = self.store.clone();
                dedup_ssids(&mut relaxed);
                relaxed.consistency(self.choices.strict_pairing)
            }
            // BS-OBJ-05 (Core 1.2 §6.1.5): without Access Control, a single server only.
            Ok(()) if self.choices.no_access_control && self.store.server_accounts().len() > 1 => {
                Err(crate::store::Inconsistency::MultiServerWithoutAccessControl)
            }
            v => v,
        };
        match verdict {
            Ok(()) => {
                if self.choices.prune_orphans && spec.profile.may_prune_orphans() {
                    self.prune_orphans();
                }
                self.phase = Phase::Operating;
                self.bootstrap_snapshot = None;
                self.session_snapshot = None;
                self.notified_uri = None;
                self.arm_account_timeout(spec);
                self.start_registration(spec, out);
                code_only(ResponseCode::Changed)
            }
            Err(_) => {
                if spec.bug(Bug::FinishRefusalLeavesBootstrap) {
                    self.phase = Phase::Operating;
                    self.start_registration(spec, out);
                }
                code_only(if spec.bug(Bug::FinishRefusedWithBadRequest) {
                    ResponseCode::BadRequest
                } else {
                    ResponseCode::NotAcceptable
                })
            }
        }
    }

    /// drop ACL entries and ACL instances owned by servers that have no account.
    fn prune_orphans(&mut self) {
        let live = self.store.security_ssids();
        self.store
            .access_control
            .retain(|_, a| a.owner == OWNER_BOOTSTRAP || live.contains(&a.owner));
        for (_, a) in self.store.access_control.iter_mut() {
            a.acl.retain(|(s, _)| *s == 0 || live.contains(s));
        }
    }

    fn arm_account_timeout(&mut self, spec: &ClientSpec) {
        let timeout = self
            .store
            .bootstrap_account()
            .and_then(|(_, s)| s.account_timeout)
            .unwrap_or(0);
        self.account_timeout_armed = timeout > 0 && !spec.bug(Bug::IgnoresAccountTimeout);
    }

    /// The accounts the client registers with (BS-REG-01, BS-REG-02).
    fn accounts(&self, spec: &ClientSpec) -> Vec<ServerAccount> {
        let mut accounts = if spec.bug(Bug::PairsByInstanceId) {
            self.store
                .security
                .iter()
                .filter(|(_, s)| !s.is_bootstrap() && s.uri.is_some())
                .filter_map(|(i, s)| {
                    let srv = self.store.server.get(i)?;
                    Some(ServerAccount {
                        ssid: s.ssid.unwrap_or(0),
                        security_iid: i,
                        server_iid: i,
                        uri: s.uri?,
                        lifetime: srv.lifetime.unwrap_or(0),
                        bootstrap_on_failure: srv.bootstrap_on_failure.unwrap_or(true),
                    })
                })
                .collect()
        } else {
            self.store.server_accounts()
        };
        if spec.bug(Bug::RegistersWithBootstrapServer) {
            if let Some((i, bs)) = self.store.bootstrap_account() {
                accounts.push(ServerAccount {
                    ssid: 0,
                    security_iid: i,
                    server_iid: i,
                    uri: bs.uri.unwrap_or(ServerUri::Bootstrap),
                    lifetime: 86400,
                    bootstrap_on_failure: true,
                });
            }
        }
        if spec.bug(Bug::RegistersWithFirstServerOnly) {
            accounts.truncate(1);
        }
        accounts
    }

    /// Registers with every server account (BS-REG-01), or bootstraps when there is none
    /// and a BS account exists (BS-FACT-03 step 4).
    fn start_registration(&mut self, spec: &ClientSpec, out: &mut Output) {
        self.phase = Phase::Operating;
        self.registrations = [Registration::None; MAX_SERVERS];
        let accounts = self.accounts(spec);
        if accounts.is_empty() {
            if let Some(uri) = self.bootstrap_uri() {
                self.decide_bootstrap(spec, uri, out);
            }
            return;
        }
        let mut objects: Vec<Path> = Vec::new();
        if spec.bug(Bug::RegisterListsSecurity) {
            objects.extend(
                self.store
                    .security
                    .ids()
                    .map(|i| Path::Instance(SECURITY, i)),
            );
        }
        objects.extend(self.store.server.ids().map(|i| Path::Instance(SERVER, i)));
        objects.extend(
            self.store
                .access_control
                .ids()
                .map(|i| Path::Instance(ACCESS_CONTROL, i)),
        );
        if self.store.device {
            objects.push(Path::Instance(DEVICE, 0));
        }
        for a in accounts {
            if let ServerUri::Server(k) = a.uri {
                if let Some(r) = self.registrations.get_mut(k as usize) {
                    *r = Registration::Pending;
                }
            }
            out.send.push(Outgoing::Register {
                to: a.uri,
                endpoint: spec.endpoint.to_string(),
                lifetime: a.lifetime,
                version: spec.profile.enabler_version().map(str::to_string),
                objects: objects.clone(),
            });
        }
    }

    fn register_answer(
        &mut self,
        spec: &ClientSpec,
        k: u8,
        answer: RegisterAnswer,
        out: &mut Output,
    ) {
        let Some(slot) = self.registrations.get_mut(k as usize) else {
            return;
        };
        if *slot != Registration::Pending || self.phase != Phase::Operating {
            return;
        }
        if answer == RegisterAnswer::Created {
            *slot = Registration::Registered;
            return;
        }
        *slot = Registration::Failed;
        let bootstrap_on_failure = self
            .store
            .server_accounts()
            .iter()
            .find(|a| a.uri == ServerUri::Server(k))
            .map(|a| a.bootstrap_on_failure)
            .unwrap_or(true);
        let all_failed = self
            .registrations
            .iter()
            .all(|r| matches!(r, Registration::None | Registration::Failed));
        if spec
            .profile
            .rebootstrap_on_registration_failure(bootstrap_on_failure, all_failed)
            && !spec.bug(Bug::NoFallbackOnRegistrationFailure)
        {
            if let Some(uri) = self.bootstrap_uri() {
                self.decide_bootstrap(spec, uri, out);
            }
        }
    }

    fn trigger(&mut self, spec: &ClientSpec, instance: u16, out: &mut Output) -> Response {
        if !spec.profile.supports(Operation::BootstrapRequestTrigger) {
            return code_only(ResponseCode::NotFound);
        }
        if self.store.server.get(instance).is_none() {
            return code_only(ResponseCode::NotFound);
        }
        match self.bootstrap_uri() {
            // BS-RB-03: 2.04, then Client Initiated Bootstrap.
            Some(uri) => {
                if !spec.bug(Bug::TriggerIgnored) {
                    self.decide_bootstrap(spec, uri, out);
                }
                code_only(ResponseCode::Changed)
            }
            // BS-RB-06: no BS account, no bootstrap.
            None => code_only(ResponseCode::MethodNotAllowed),
        }
    }
}

/// A Security instance with no resource, which a resource-level Write fills.
const EMPTY_SECURITY: SecurityInstance = SecurityInstance {
    uri: None,
    bootstrap: None,
    mode: None,
    key: None,
    ssid: None,
    hold_off: None,
    account_timeout: None,
};

/// A Server instance with no resource.
const EMPTY_SERVER: ServerInstance = ServerInstance {
    ssid: None,
    lifetime: None,
    bootstrap_on_failure: None,
};

fn code_only(code: ResponseCode) -> Response {
    Response {
        code,
        content: None,
    }
}

/// What a client that does not check SSID uniqueness sees: the first instance per SSID.
fn dedup_ssids(store: &mut ObjectStore) {
    let mut seen = Vec::new();
    store.security.retain(|_, s| match s.ssid {
        Some(id) if !s.is_bootstrap() => {
            let fresh = !seen.contains(&id);
            seen.push(id);
            fresh
        }
        _ => true,
    });
    let mut seen = Vec::new();
    store.server.retain(|_, s| match s.ssid {
        Some(id) => {
            let fresh = !seen.contains(&id);
            seen.push(id);
            fresh
        }
        None => true,
    });
}

impl Outgoing {
    /// The message's Uri-Query options, in order: `ep`, `pct` and (seed Step 1, see
    /// [`seed_ext`]) `dev`, `sm` for Bootstrap-Request (BS-REQ-01); `ep` for
    /// Bootstrap-Pack-Request (BS-PACK-01); `ep`, `lt`, `lwm2m`, `b=U` for Register (BS-REG-03).
    pub fn query(&self) -> Vec<String> {
        let mut q = Vec::new();
        match self {
            Outgoing::BootstrapRequest {
                endpoint,
                pct,
                device_info,
                ..
            } => {
                q.extend(endpoint.iter().map(|ep| format!("ep={ep}")));
                q.extend(pct.iter().map(|p| format!("pct={p}")));
                if let Some(d) = device_info {
                    q.push(format!("{}={}", seed_ext::DEVICE_INFO_QUERY, d.device));
                    q.push(format!(
                        "{}={}",
                        seed_ext::SECURITY_MODES_QUERY,
                        seed_ext::security_modes_query_value(&d.security_modes)
                    ));
                }
            }
            Outgoing::BootstrapPackRequest { endpoint, .. } => {
                q.extend(endpoint.iter().map(|ep| format!("ep={ep}")));
            }
            Outgoing::Register {
                endpoint,
                lifetime,
                version,
                ..
            } => {
                q.push(format!("ep={endpoint}"));
                q.push(format!("lt={lifetime}"));
                q.extend(version.iter().map(|v| format!("lwm2m={v}")));
                // The model's servers all use UDP binding.
                q.push("b=U".to_string());
            }
        }
        q
    }
}

impl std::fmt::Display for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = self.query().join("&");
        match self {
            Outgoing::BootstrapRequest { to, .. } => {
                write!(f, "Bootstrap-Request POST {to}/bs?{q}")
            }
            Outgoing::BootstrapPackRequest { to, .. } => {
                write!(f, "Bootstrap-Pack-Request GET {to}/bspack?{q}")
            }
            Outgoing::Register { to, objects, .. } => {
                let links: Vec<String> = objects.iter().map(|p| format!("<{p}>")).collect();
                write!(f, "Register POST {to}/rd?{q} {}", links.join(","))
            }
        }
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        match &self.content {
            Some(c @ Content::Links { .. }) => {
                write!(f, " {}", c.link_format().unwrap_or_default())
            }
            Some(Content::Servers(v)) => {
                let ids: Vec<String> = v
                    .iter()
                    .map(|(i, s)| format!("/1/{i} ssid={:?}", s.ssid))
                    .collect();
                write!(f, " [{}]", ids.join(", "))
            }
            Some(Content::AccessControl(v)) => {
                let ids: Vec<String> = v.iter().map(|(i, _)| format!("/2/{i}")).collect();
                write!(f, " [{}]", ids.join(", "))
            }
            Some(Content::Security(v)) => {
                write!(f, " [{} Security instances, keys included]", v.len())
            }
            None => Ok(()),
        }
    }
}
