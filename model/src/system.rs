//! The system model: the client, the bootstrap server, N management servers and the network,
//! as a hand-written [`stateright::Model`]. Its [`Action`] enum is the step vocabulary of the
//! test vectors: every action is one stimulus a server sends or one condition the
//! environment creates (a lost message, an expired timer), named after the specification.
//!
//! The environment is nondeterministic within budgets so that the state space is finite:
//! each bootstrap session allows `ops_per_session` commands before Finish, and at most
//! `rebootstraps` environment events that lead back to bootstrap (a refused registration, a
//! trigger, a lost message, a silent bootstrap server, ...). Every behaviour path is therefore
//! finite, which makes the liveness properties exact: they are checked in terminal states
//! (see [`crate::properties`]).

use crate::bugs::BugSet;
use crate::client::{
    BootstrapPack, Choices, Client, ClientSpec, Input, PackAnswer, Peer, Phase, RegisterAnswer,
    Registration, Timer, WriteValue, MAX_SERVERS,
};
use crate::code::ResponseCode;
use crate::monitor::{self, Event, Monitor};
use crate::objects::{
    AccessControlInstance, KeyId, SecurityInstance, ServerInstance, ServerUri, ShortServerId,
};
use crate::path::Path;
use crate::profile::{Operation, Profile};
use crate::store::{Instances, ObjectStore};
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::client::MAX_SERVERS as MAX_MANAGEMENT_SERVERS;

/// Upper bound of [`Config::ops_per_session`].
pub const MAX_OPS_PER_SESSION: u8 = 6;
/// Upper bound of [`Config::rebootstraps`].
pub const MAX_REBOOTSTRAPS: u8 = 4;

/// A factory configuration the client may leave manufacturing with (BS-FACT-01).
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
#[serde(rename_all = "kebab-case")]
pub enum Factory {
    /// Only a Bootstrap-Server Account: the client must bootstrap (BS-CI-01).
    BootstrapOnly,
    /// A BS account and one complete server account with an ACL (pre-configured, and able
    /// to re-bootstrap).
    ServerAndBootstrap,
    /// One server account and no BS account: pre-configured only (seed 6.2.2.1).
    ServerOnly,
}

impl Factory {
    /// Every factory configuration.
    pub const ALL: [Factory; 3] = [
        Factory::BootstrapOnly,
        Factory::ServerAndBootstrap,
        Factory::ServerOnly,
    ];

    /// The configuration's name as vectors write it (`bootstrap-only`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Factory::BootstrapOnly => "bootstrap-only",
            Factory::ServerAndBootstrap => "server-and-bootstrap",
            Factory::ServerOnly => "server-only",
        }
    }

    /// The object store the client is built with.
    pub fn store(self) -> ObjectStore {
        let mut s = ObjectStore {
            device: true,
            ..ObjectStore::default()
        };
        if self != Factory::ServerOnly {
            s.security.put(
                BS_IID,
                SecurityInstance::bootstrap_account(ServerUri::Bootstrap, KeyId(100)),
            );
        }
        if self != Factory::BootstrapOnly {
            s.security.put(account_iid(0), account(0, KeyId(50)));
            s.server.put(0, server_instance(0));
            s.access_control.put(0, acl(0));
        }
        s
    }
}

/// How many of the allowed client behaviours (see [`Choices`]) the model explores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ChoiceMode {
    /// Only the reference client's choices.
    Reference,
    /// Every combination the profile allows.
    All,
    /// Exactly these choices (the vector generator fixes the optional features a vector
    /// assumes, such as Bootstrap-Pack).
    Fixed(Choices),
}

/// What the model explores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The profile of the client.
    pub profile: Profile,
    /// Number of management servers (1..=3).
    pub servers: u8,
    /// Bootstrap commands the bootstrap server may send per session before it must Finish.
    pub ops_per_session: u8,
    /// Environment events that lead back to bootstrap, in total over a run.
    pub rebootstraps: u8,
    /// Whether the network may lose the client's requests (seen as no answer).
    pub loss: bool,
    /// Whether the network may duplicate Bootstrap-Finish.
    pub duplication: bool,
    /// Whether the bootstrap server may send a bootstrap command outside a session (a 1.0
    /// Server Initiated Bootstrap, BS-RB-04). Off, the bootstrap server speaks only after a
    /// Bootstrap-Request, as it must for a client it cannot reach before the client asks.
    pub server_push: bool,
    /// Factory configurations to start from.
    pub factories: Vec<Factory>,
    /// Client behaviours explored.
    pub choices: ChoiceMode,
    /// Bugs switched into the client.
    pub bugs: BugSet,
}

impl Config {
    /// The default configuration of a profile: two management servers, two commands per
    /// session, one re-bootstrap, no loss or duplication, every factory configuration and
    /// every allowed client behaviour.
    pub fn default_for(profile: Profile) -> Config {
        Config {
            profile,
            servers: 2,
            ops_per_session: 2,
            rebootstraps: 1,
            loss: false,
            duplication: false,
            server_push: true,
            factories: Factory::ALL.to_vec(),
            choices: ChoiceMode::All,
            bugs: BugSet::NONE,
        }
    }

    /// A larger configuration for benchmarks: three commands per session, two
    /// re-bootstraps, loss and duplication on.
    pub fn large(profile: Profile) -> Config {
        Config {
            servers: 2,
            ops_per_session: 3,
            rebootstraps: 2,
            loss: true,
            duplication: true,
            server_push: true,
            ..Config::default_for(profile)
        }
    }

    /// Checks the configuration; the error names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 || self.servers as usize > MAX_SERVERS {
            return Err(format!(
                "servers = {} is out of range (1..={MAX_SERVERS})",
                self.servers
            ));
        }
        if self.ops_per_session > MAX_OPS_PER_SESSION {
            return Err(format!(
                "ops per session = {} is out of range (0..={MAX_OPS_PER_SESSION})",
                self.ops_per_session
            ));
        }
        if self.rebootstraps > MAX_REBOOTSTRAPS {
            return Err(format!(
                "rebootstraps = {} is out of range (0..={MAX_REBOOTSTRAPS})",
                self.rebootstraps
            ));
        }
        if self.factories.is_empty() {
            return Err("no factory configuration selected".to_string());
        }
        if self.ops_per_session == 0 && self.factories.contains(&Factory::BootstrapOnly) {
            return Err(
                "impossible configuration: factory bootstrap-only needs at least one operation per session to provision a server"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// The client's static parameters.
    pub fn client_spec(&self) -> ClientSpec {
        ClientSpec {
            bugs: self.bugs,
            ..ClientSpec::reference(self.profile)
        }
    }
}

/// An object ID no client implements, for a Bootstrap-Discover that must be answered 4.04
/// (BS-DISC-05): 2047, the last of the OMNA LwM2M registry's range 1024-2047 "Reserved for
/// future use", in which no organisation, vendor or test may register or use an object
/// (OMNA LwM2M Object and Resource Registry, Object ID classes). Object 5 (Firmware
/// Update), used before, is a standard object many clients implement.
pub const ABSENT_OBJECT: u16 = 2047;

/// The instance ID of the Bootstrap-Server Account in every factory configuration.
pub const BS_IID: u16 = 0;

/// Security instance ID of server `k`'s account.
pub fn account_iid(k: u8) -> u16 {
    k as u16 + 1
}

/// Short Server ID of server `k`.
pub fn ssid_of(k: u8) -> ShortServerId {
    k as u16 + 1
}

/// The Security half of server `k`'s account.
pub fn account(k: u8, key: KeyId) -> SecurityInstance {
    SecurityInstance::server_account(ServerUri::Server(k), ssid_of(k), key)
}

/// The Server instance of server `k` (instance ID `k`).
pub fn server_instance(k: u8) -> ServerInstance {
    ServerInstance::new(ssid_of(k), 300)
}

/// The ACL instance `k`: owned by server `k`, giving it all rights on its Server instance
/// (BS-OBJ-04).
pub fn acl(k: u8) -> AccessControlInstance {
    AccessControlInstance {
        object: crate::path::SERVER,
        instance: k as u16,
        acl: smallvec::smallvec![(ssid_of(k), 31)],
        owner: ssid_of(k),
    }
}

/// One step: a stimulus from a server or a condition of the environment. This is the step
/// vocabulary of the test vectors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Action {
    /// The bootstrap server answers Bootstrap-Request with 2.04 (BS-REQ-04).
    BootstrapRequestAccepted,
    /// The bootstrap server answers Bootstrap-Request with 4.00 (BS-REQ-04).
    BootstrapRequestRejected,
    /// Bootstrap-Request or its answer is lost (BS-REQ-04).
    BootstrapRequestLost,
    /// The bootstrap server answers Bootstrap-Pack-Request with a pack (BS-PACK-01).
    BootstrapPackDelivered {
        /// Whether the pack holds a consistent configuration.
        consistent: bool,
        /// The pack's objects when they are not the model's own [`pack`]: a prologue's pack
        /// carries a factory configuration's accounts (issue #10). Never explored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        objects: Option<Box<BootstrapPack>>,
    },
    /// The bootstrap server answers Bootstrap-Pack-Request with 5.01 (BS-PACK-04).
    BootstrapPackNotImplemented,
    /// Bootstrap-Pack-Request or its answer is lost.
    BootstrapPackLost,
    /// Bootstrap-Write (BS-WRITE-01), optionally with the seed's `keepServerInfo`.
    BootstrapWrite {
        /// Target.
        path: Path,
        /// Payload.
        value: WriteValue,
        /// The seed's `keepServerInfo`.
        keep_server_info: bool,
    },
    /// Bootstrap-Read (BS-READ-01).
    BootstrapRead {
        /// Target.
        path: Path,
    },
    /// Bootstrap-Discover (BS-DISC-01).
    BootstrapDiscover {
        /// Target.
        path: Path,
    },
    /// Bootstrap-Delete (BS-DEL-01).
    BootstrapDelete {
        /// Target.
        path: Path,
    },
    /// Bootstrap-Finish (BS-FIN-01).
    BootstrapFinish,
    /// The network delivers Bootstrap-Finish a second time (same Message ID).
    BootstrapFinishDuplicated,
    /// Management server `server` answers Register with 2.01 Created.
    RegisterAccepted {
        /// The server.
        server: u8,
    },
    /// Management server `server` answers Register with an error.
    RegisterRejected {
        /// The server.
        server: u8,
    },
    /// Register to `server` or its answer is lost.
    RegisterLost {
        /// The server.
        server: u8,
    },
    /// Management server `server` holds another pre-shared key than the client's account
    /// for it: the DTLS handshake in which the client's Register would go fails, so the
    /// Register never gets through. Transport 1.2 §5.2.10: the client "MUST consider the
    /// handshake failed" and follow the error handling of its Server object, i.e. a
    /// registration failure with its consequences (BS-REG-06, BS-RB-05; BS-SEC-05). For the
    /// client it is the same input as [`Action::RegisterLost`]; on the wire it is observed
    /// as a handshake, not a Register (a vector with it needs the DTLS transport).
    RegisterHandshakeFailed {
        /// The server.
        server: u8,
    },
    /// Management server `server` executes the Bootstrap-Request Trigger /1/y/9 (BS-RB-03).
    BootstrapRequestTrigger {
        /// The server.
        server: u8,
        /// The Server instance y.
        instance: u16,
    },
    /// Management server `server` sends the seed's Step 0 notification (BS-RB-02).
    ReBootstrapNotification {
        /// The server.
        server: u8,
        /// The URI it carries.
        uri: ServerUri,
    },
    /// Management server `server` tries to Write a Security instance (BS-OBJ-02).
    ServerWritesSecurity {
        /// The server.
        server: u8,
        /// Target.
        path: Path,
    },
    /// Management server `server` tries to Read the Security object (BS-OBJ-02: 4.01).
    ServerReadsSecurity {
        /// The server.
        server: u8,
        /// Target.
        path: Path,
    },
    /// Management server `server` tries to Discover the Security object (BS-OBJ-02: 4.01).
    ServerDiscoversSecurity {
        /// The server.
        server: u8,
        /// Target.
        path: Path,
    },
    /// The Client Hold Off Time has passed (BS-FACT-05).
    ClientHoldOffExpired,
    /// EXCHANGE_LIFETIME has passed without Bootstrap-Finish (BS-CI-03).
    ExchangeLifetimeExpired,
    /// The Bootstrap-Server Account Timeout has passed (BS-FIN-06).
    BootstrapAccountTimeoutExpired,
}

/// The kind of an [`Action`], without arguments: the unit of transition coverage.
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
pub enum ActionKind {
    /// See [`Action::BootstrapRequestAccepted`].
    BootstrapRequestAccepted,
    /// See [`Action::BootstrapRequestRejected`].
    BootstrapRequestRejected,
    /// See [`Action::BootstrapRequestLost`].
    BootstrapRequestLost,
    /// See [`Action::BootstrapPackDelivered`].
    BootstrapPackDelivered,
    /// See [`Action::BootstrapPackNotImplemented`].
    BootstrapPackNotImplemented,
    /// See [`Action::BootstrapPackLost`].
    BootstrapPackLost,
    /// See [`Action::BootstrapWrite`].
    BootstrapWrite,
    /// See [`Action::BootstrapRead`].
    BootstrapRead,
    /// See [`Action::BootstrapDiscover`].
    BootstrapDiscover,
    /// See [`Action::BootstrapDelete`].
    BootstrapDelete,
    /// See [`Action::BootstrapFinish`].
    BootstrapFinish,
    /// See [`Action::BootstrapFinishDuplicated`].
    BootstrapFinishDuplicated,
    /// See [`Action::RegisterAccepted`].
    RegisterAccepted,
    /// See [`Action::RegisterRejected`].
    RegisterRejected,
    /// See [`Action::RegisterLost`].
    RegisterLost,
    /// See [`Action::RegisterHandshakeFailed`].
    RegisterHandshakeFailed,
    /// See [`Action::BootstrapRequestTrigger`].
    BootstrapRequestTrigger,
    /// See [`Action::ReBootstrapNotification`].
    ReBootstrapNotification,
    /// See [`Action::ServerWritesSecurity`].
    ServerWritesSecurity,
    /// See [`Action::ServerReadsSecurity`].
    ServerReadsSecurity,
    /// See [`Action::ServerDiscoversSecurity`].
    ServerDiscoversSecurity,
    /// See [`Action::ClientHoldOffExpired`].
    ClientHoldOffExpired,
    /// See [`Action::ExchangeLifetimeExpired`].
    ExchangeLifetimeExpired,
    /// See [`Action::BootstrapAccountTimeoutExpired`].
    BootstrapAccountTimeoutExpired,
}

impl Action {
    /// The pack a Bootstrap-Pack step delivers: its own objects, else the model's [`pack`].
    pub fn delivered_pack(&self) -> Option<BootstrapPack> {
        match self.input() {
            Input::PackAnswer(PackAnswer::Pack(p)) => Some(*p),
            _ => None,
        }
    }

    /// The input the client sees for this step.
    // A table, kept in one piece: one arm per action, each the input it stands for.
    pub fn input(&self) -> Input {
        let bs = Peer::BootstrapServer;
        match self {
            Action::BootstrapRequestAccepted => {
                Input::BootstrapRequestAnswer(Some(ResponseCode::Changed))
            }
            Action::BootstrapRequestRejected => {
                Input::BootstrapRequestAnswer(Some(ResponseCode::BadRequest))
            }
            Action::BootstrapRequestLost => Input::BootstrapRequestAnswer(None),
            Action::BootstrapPackDelivered {
                consistent,
                objects,
            } => Input::PackAnswer(PackAnswer::Pack(Box::new(
                objects
                    .as_deref()
                    .cloned()
                    .unwrap_or_else(|| pack(*consistent)),
            ))),
            Action::BootstrapPackNotImplemented => {
                Input::PackAnswer(PackAnswer::Error(ResponseCode::NotImplemented))
            }
            Action::BootstrapPackLost => Input::PackAnswer(PackAnswer::NoAnswer),
            Action::BootstrapWrite {
                path,
                value,
                keep_server_info,
            } => Input::Write {
                from: bs,
                path: *path,
                value: value.clone(),
                keep_server_info: *keep_server_info,
            },
            Action::BootstrapRead { path } => Input::Read {
                from: bs,
                path: *path,
            },
            Action::BootstrapDiscover { path } => Input::Discover {
                from: bs,
                path: *path,
            },
            Action::BootstrapDelete { path } => Input::Delete {
                from: bs,
                path: *path,
            },
            Action::BootstrapFinish => Input::Finish { from: bs },
            Action::BootstrapFinishDuplicated => Input::DuplicateFinish,
            Action::RegisterAccepted { server } => Input::RegisterAnswer {
                server: *server,
                answer: RegisterAnswer::Created,
            },
            Action::RegisterRejected { server } => Input::RegisterAnswer {
                server: *server,
                answer: RegisterAnswer::Rejected,
            },
            Action::RegisterLost { server } | Action::RegisterHandshakeFailed { server } => {
                Input::RegisterAnswer {
                    server: *server,
                    answer: RegisterAnswer::NoAnswer,
                }
            }
            Action::BootstrapRequestTrigger { server, instance } => {
                Input::ExecuteBootstrapTrigger {
                    from: Peer::Server(*server),
                    instance: *instance,
                }
            }
            Action::ReBootstrapNotification { server, uri } => Input::ReBootstrapNotification {
                from: Peer::Server(*server),
                uri: *uri,
            },
            Action::ServerWritesSecurity { server, path } => Input::Write {
                from: Peer::Server(*server),
                path: *path,
                value: WriteValue::Security(account(*server, KeyId(66))),
                keep_server_info: false,
            },
            Action::ServerReadsSecurity { server, path } => Input::Read {
                from: Peer::Server(*server),
                path: *path,
            },
            Action::ServerDiscoversSecurity { server, path } => Input::Discover {
                from: Peer::Server(*server),
                path: *path,
            },
            Action::ClientHoldOffExpired => Input::TimerExpired(Timer::ClientHoldOff),
            Action::ExchangeLifetimeExpired => Input::TimerExpired(Timer::ExchangeLifetime),
            Action::BootstrapAccountTimeoutExpired => {
                Input::TimerExpired(Timer::BootstrapAccountTimeout)
            }
        }
    }

    /// The kind of the action.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::BootstrapRequestAccepted => ActionKind::BootstrapRequestAccepted,
            Action::BootstrapRequestRejected => ActionKind::BootstrapRequestRejected,
            Action::BootstrapRequestLost => ActionKind::BootstrapRequestLost,
            Action::BootstrapPackDelivered { .. } => ActionKind::BootstrapPackDelivered,
            Action::BootstrapPackNotImplemented => ActionKind::BootstrapPackNotImplemented,
            Action::BootstrapPackLost => ActionKind::BootstrapPackLost,
            Action::BootstrapWrite { .. } => ActionKind::BootstrapWrite,
            Action::BootstrapRead { .. } => ActionKind::BootstrapRead,
            Action::BootstrapDiscover { .. } => ActionKind::BootstrapDiscover,
            Action::BootstrapDelete { .. } => ActionKind::BootstrapDelete,
            Action::BootstrapFinish => ActionKind::BootstrapFinish,
            Action::BootstrapFinishDuplicated => ActionKind::BootstrapFinishDuplicated,
            Action::RegisterAccepted { .. } => ActionKind::RegisterAccepted,
            Action::RegisterRejected { .. } => ActionKind::RegisterRejected,
            Action::RegisterLost { .. } => ActionKind::RegisterLost,
            Action::RegisterHandshakeFailed { .. } => ActionKind::RegisterHandshakeFailed,
            Action::BootstrapRequestTrigger { .. } => ActionKind::BootstrapRequestTrigger,
            Action::ReBootstrapNotification { .. } => ActionKind::ReBootstrapNotification,
            Action::ServerWritesSecurity { .. } => ActionKind::ServerWritesSecurity,
            Action::ServerReadsSecurity { .. } => ActionKind::ServerReadsSecurity,
            Action::ServerDiscoversSecurity { .. } => ActionKind::ServerDiscoversSecurity,
            Action::ClientHoldOffExpired => ActionKind::ClientHoldOffExpired,
            Action::ExchangeLifetimeExpired => ActionKind::ExchangeLifetimeExpired,
            Action::BootstrapAccountTimeoutExpired => ActionKind::BootstrapAccountTimeoutExpired,
        }
    }

    /// Whether this is a command of the bootstrap server to the client.
    pub fn is_bootstrap_command(&self) -> bool {
        matches!(
            self,
            Action::BootstrapWrite { .. }
                | Action::BootstrapRead { .. }
                | Action::BootstrapDiscover { .. }
                | Action::BootstrapDelete { .. }
                | Action::BootstrapFinish
        )
    }
}

/// The pack the bootstrap server sends: server 0's account, or (inconsistent) server 0's
/// Server instance with server 1's Security half.
pub fn pack(consistent: bool) -> BootstrapPack {
    // The inconsistent pack names server 0 but carries the security half of server 1's
    // account only: server 0 has no account (BS-FIN-02). It is a pack every encoding can
    // carry (an object with no instance at all has no SenML record).
    let mut security = Instances::default();
    if consistent {
        security.put(account_iid(0), account(0, KeyId(70)));
    } else {
        security.put(account_iid(1), account(1, KeyId(71)));
    }
    let mut server = Instances::default();
    server.put(0, server_instance(0));
    BootstrapPack {
        security: Some(security),
        server: Some(server),
        access_control: None,
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::BootstrapRequestAccepted => {
                write!(f, "BS answers Bootstrap-Request: 2.04 Changed")
            }
            Action::BootstrapRequestRejected => {
                write!(f, "BS answers Bootstrap-Request: 4.00 Bad Request")
            }
            Action::BootstrapRequestLost => write!(f, "Bootstrap-Request lost (no answer)"),
            Action::BootstrapPackDelivered {
                consistent: true, ..
            } => write!(
                f,
                "BS answers Bootstrap-Pack-Request: 2.05 with a consistent pack"
            ),
            Action::BootstrapPackDelivered {
                consistent: false, ..
            } => write!(
                f,
                "BS answers Bootstrap-Pack-Request: 2.05 with an inconsistent pack"
            ),
            Action::BootstrapPackNotImplemented => {
                write!(f, "BS answers Bootstrap-Pack-Request: 5.01 Not Implemented")
            }
            Action::BootstrapPackLost => write!(f, "Bootstrap-Pack-Request lost (no answer)"),
            Action::BootstrapWrite {
                path,
                value,
                keep_server_info,
            } => {
                write!(
                    f,
                    "BS Bootstrap-Write {path}{} {}",
                    if *keep_server_info {
                        "?keepServerInfo"
                    } else {
                        ""
                    },
                    DisplayValue(value)
                )
            }
            Action::BootstrapRead { path } => write!(f, "BS Bootstrap-Read {path}"),
            Action::BootstrapDiscover { path } => write!(f, "BS Bootstrap-Discover {path}"),
            Action::BootstrapDelete { path } => write!(f, "BS Bootstrap-Delete {path}"),
            Action::BootstrapFinish => write!(f, "BS Bootstrap-Finish"),
            Action::BootstrapFinishDuplicated => write!(f, "network duplicates Bootstrap-Finish"),
            Action::RegisterAccepted { server } => {
                write!(f, "DM{server} answers Register: 2.01 Created")
            }
            Action::RegisterRejected { server } => {
                write!(f, "DM{server} answers Register: 4.03 Forbidden")
            }
            Action::RegisterLost { server } => write!(f, "Register to DM{server} lost (no answer)"),
            Action::RegisterHandshakeFailed { server } => write!(
                f,
                "DM{server} holds another key: the DTLS handshake for Register fails"
            ),
            Action::BootstrapRequestTrigger { server, instance } => write!(
                f,
                "DM{server} Execute /1/{instance}/9 (Bootstrap-Request Trigger)"
            ),
            Action::ReBootstrapNotification { server, uri } => {
                write!(f, "DM{server} notifies re-bootstrap needed at {uri}")
            }
            Action::ServerWritesSecurity { server, path } => {
                write!(f, "DM{server} Write {path} (Security object)")
            }
            Action::ServerReadsSecurity { server, path } => {
                write!(f, "DM{server} Read {path} (Security object)")
            }
            Action::ServerDiscoversSecurity { server, path } => {
                write!(f, "DM{server} Discover {path} (Security object)")
            }
            Action::ClientHoldOffExpired => write!(f, "Client Hold Off Time passes"),
            Action::ExchangeLifetimeExpired => write!(f, "EXCHANGE_LIFETIME passes without Finish"),
            Action::BootstrapAccountTimeoutExpired => {
                write!(f, "Bootstrap-Server Account Timeout passes")
            }
        }
    }
}

struct DisplayValue<'a>(&'a WriteValue);

impl fmt::Display for DisplayValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            WriteValue::Security(s) if s.is_bootstrap() => write!(
                f,
                "{{BS account uri={} timeout={:?}}}",
                s.uri.map(|u| u.to_string()).unwrap_or_default(),
                s.account_timeout
            ),
            WriteValue::Security(s) => write!(
                f,
                "{{account uri={} ssid={:?} key={:?}}}",
                s.uri.map(|u| u.to_string()).unwrap_or_default(),
                s.ssid,
                s.key.map(|k| k.0)
            ),
            WriteValue::Server(s) => {
                write!(f, "{{server ssid={:?} lt={:?}", s.ssid, s.lifetime)?;
                if let Some(b) = s.bootstrap_on_failure {
                    write!(f, " bootstrap-on-failure={b}")?;
                }
                write!(f, "}}")
            }
            WriteValue::AccessControl(a) => write!(
                f,
                "{{ACL on /{}/{} owner={} acl={:?}}}",
                a.object, a.instance, a.owner, a.acl
            ),
            WriteValue::SecretKey(k) => write!(f, "{{key={}}}", k.0),
            WriteValue::Lifetime(l) => write!(f, "{{lt={l}}}"),
            WriteValue::ServerObject(v) => write!(f, "{{{} server instances}}", v.len()),
            WriteValue::Undecodable => write!(f, "{{undecodable payload}}"),
            WriteValue::UnsupportedContentFormat => write!(f, "{{Content-Format 9999}}"),
        }
    }
}

/// What happened in the last step, kept so that `sometimes` properties can name every
/// operation, response code and re-bootstrap path as reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LastStep {
    /// The step's kind.
    pub kind: ActionKind,
    /// The client's response code, if it answered.
    pub code: Option<ResponseCode>,
    /// A re-bootstrap path or notable event the step took.
    pub event: Option<Event>,
}

/// Facts about the run that the client does not hold but the properties need; updated by
/// the system from what it observes (the client's answers and messages), never by the client.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Ghost {
    /// Violated monitors (bit per [`Monitor`]).
    pub violations: u32,
    /// The configuration in force came from the factory or a successful Finish or Pack.
    pub committed: bool,
    /// The environment misbehaved (lost or refused something, or the BS provisioned an
    /// inconsistent configuration): the registration liveness property does not apply.
    pub env_faulty: bool,
    /// A registration failure obliges the client to fall back to bootstrap.
    pub fallback_due: bool,
    /// The Client Hold Off Time has passed since the last failed or answered attempt.
    pub may_request: bool,
    /// The URI the next Bootstrap-Request must go to, set by a seed Step 0 notification.
    pub request_target: Option<ServerUri>,
    /// Finish was refused earlier in the current session (BS-FIN-04).
    pub finish_refused: bool,
    /// The BS account when the current session opened (BS-CI-04).
    pub bootstrap_at_session_start: Option<(u16, SecurityInstance)>,
    /// Whether a bootstrap session is open, as observed (see [`crate::spec::Observable`]).
    pub in_session: bool,
    /// The current session changed more than the BS account: a client that rolls back
    /// everything on failure would end elsewhere than one that restores only the BS
    /// account.
    pub session_changed: bool,
    /// The bootstrap server wrote Access Control instances in the current session, whatever
    /// the client answered: the multi-server configuration of Core 1.2 §6.1.5's example,
    /// which a client without the object must refuse at Finish (BS-OBJ-05).
    pub access_control_delivered: bool,
}

/// The environment's remaining budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Commands left in the current session.
    pub ops: u8,
    /// Environment events left that lead back to bootstrap.
    pub rebootstraps: u8,
}

/// A state of the whole system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SystemState {
    /// The client.
    pub client: Client,
    /// The environment's budgets.
    pub budget: Budget,
    /// Properties' bookkeeping.
    pub ghost: Ghost,
    /// The last step.
    pub last: Option<LastStep>,
}

/// The model: a configuration and the bootstrap server's catalogue derived from it.
#[derive(Debug)]
pub struct BootstrapSystem {
    /// The configuration.
    pub config: Config,
    /// The client's static parameters.
    pub spec: ClientSpec,
    /// Bootstrap commands the bootstrap server chooses from in a session.
    pub catalogue: Vec<Action>,
    /// Which `sometimes` properties have already been reported in this check (see
    /// [`BootstrapSystem::first_example`]).
    reported: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Clone for BootstrapSystem {
    /// A clone starts a check of its own: it shares nothing with the original.
    fn clone(&self) -> Self {
        BootstrapSystem {
            config: self.config.clone(),
            spec: self.spec,
            catalogue: self.catalogue.clone(),
            reported: Default::default(),
        }
    }
}

impl BootstrapSystem {
    /// Builds the model; fails with a one-line message naming the bad field.
    pub fn new(config: Config) -> Result<BootstrapSystem, String> {
        config.validate()?;
        let catalogue = catalogue(&config);
        Ok(BootstrapSystem {
            spec: config.client_spec(),
            config,
            catalogue,
            reported: Default::default(),
        })
    }

    /// Whether `holds` is the first example of `sometimes` property number `bit` in this
    /// check. stateright records a `sometimes` discovery again (cloning its path) at every
    /// state where the condition holds; answering true only once keeps the first example
    /// and spares that cost, which otherwise grows with the number of properties.
    pub fn first_example(&self, bit: u32, holds: bool) -> bool {
        use std::sync::atomic::Ordering;
        holds && self.reported.fetch_or(1 << bit, Ordering::Relaxed) & (1 << bit) == 0
    }

    /// The initial states: every factory configuration with every explored client
    /// behaviour, after power-on (BS-FACT-03).
    pub fn initial_states(&self) -> Vec<SystemState> {
        let choices = match self.config.choices {
            ChoiceMode::All => Choices::all_for(self.config.profile),
            ChoiceMode::Reference => vec![Choices::reference(self.config.profile)],
            ChoiceMode::Fixed(c) => vec![c],
        };
        let mut out = Vec::new();
        for f in &self.config.factories {
            for c in &choices {
                let (client, _boot) = Client::boot(&self.spec, f.store(), *c);
                let committed = !client.store.server_accounts().is_empty();
                out.push(SystemState {
                    client,
                    budget: Budget {
                        ops: self.config.ops_per_session,
                        rebootstraps: self.config.rebootstraps,
                    },
                    ghost: Ghost {
                        committed,
                        ..Ghost::default()
                    },
                    last: None,
                });
            }
        }
        out
    }

    /// Whether no step is possible from `s` (used by the liveness properties). Equivalent to
    /// `actions(s)` being empty (a test checks this on every reachable state), without
    /// building the actions: in every phase but `Operating` some step is always possible.
    pub fn is_terminal(&self, s: &SystemState) -> bool {
        let c = &s.client;
        if c.phase != Phase::Operating || c.account_timeout_armed {
            return false;
        }
        // With environment events left, a push is always possible.
        let faults = s.budget.rebootstraps > 0;
        let servers = &c.registrations[..self.config.servers as usize];
        !faults && !servers.contains(&Registration::Pending)
    }

    /// Applies `action` to `s`: the client handles the input, the budgets are charged, and
    /// the monitors judge what the client did. Returns the new state and the client's output.
    pub fn step(&self, s: &SystemState, action: &Action) -> (SystemState, crate::client::Output) {
        let mut next = s.clone();
        let input = action.input();
        let out = next.client.handle(&self.spec, &input);
        // Budgets.
        if action.is_bootstrap_command() && action != &Action::BootstrapFinish {
            next.budget.ops = next.budget.ops.saturating_sub(1);
        }
        let pushed = action.is_bootstrap_command() && s.client.phase != Phase::Bootstrapping;
        if consumes_rebootstrap(action) || pushed {
            next.budget.rebootstraps = next.budget.rebootstraps.saturating_sub(1);
        }
        if s.client.phase != Phase::Bootstrapping && next.client.phase == Phase::Bootstrapping {
            next.budget.ops = self.config.ops_per_session;
        }
        next.ghost.in_session = observed_session(s.ghost.in_session, action, &out);
        if next.ghost.in_session && !s.ghost.in_session {
            next.ghost.access_control_delivered = false;
        }
        // Tracked only where it matters, so that other clients' state spaces stay as they are.
        if let Action::BootstrapWrite { path, .. } = action {
            if path.object() == Some(crate::path::ACCESS_CONTROL)
                && next.ghost.in_session
                && next.client.choices.no_access_control
            {
                next.ghost.access_control_delivered = true;
            }
        }
        let event = monitor::judge(self, s, action, &input, &out, &mut next);
        next.last = Some(LastStep {
            kind: action.kind(),
            code: out.response.as_ref().map(|r| r.code),
            event,
        });
        (next, out)
    }
}

/// Whether a bootstrap session is open after `action`, from what the client answered: a
/// Bootstrap-Request answered 2.04 opens one (BS-REQ-04), and so does a bootstrap command
/// the client accepts without one (a 1.0 push, BS-RB-04, or an allowed 1.1+ one, A-10); an
/// accepted Finish ends it (BS-FIN-02), and so does EXCHANGE_LIFETIME without one (BS-CI-03).
fn observed_session(before: bool, action: &Action, out: &crate::client::Output) -> bool {
    let code = out.response.as_ref().map(|r| r.code);
    match action {
        Action::BootstrapRequestAccepted => true,
        Action::ExchangeLifetimeExpired => false,
        Action::BootstrapFinish | Action::BootstrapFinishDuplicated
            if code == Some(ResponseCode::Changed) =>
        {
            false
        }
        a if a.is_bootstrap_command() && !before && code.is_some_and(|c| c.is_success()) => true,
        _ => before,
    }
}

/// Whether the action is one of the environment events budgeted by `rebootstraps`.
fn consumes_rebootstrap(action: &Action) -> bool {
    matches!(
        action,
        Action::BootstrapRequestRejected
            | Action::BootstrapRequestLost
            | Action::BootstrapPackDelivered {
                consistent: false,
                ..
            }
            | Action::BootstrapPackLost
            | Action::RegisterRejected { .. }
            | Action::RegisterLost { .. }
            | Action::RegisterHandshakeFailed { .. }
            | Action::BootstrapRequestTrigger { .. }
            | Action::ReBootstrapNotification { .. }
            | Action::ServerWritesSecurity { .. }
            | Action::ServerReadsSecurity { .. }
            | Action::ServerDiscoversSecurity { .. }
            | Action::ExchangeLifetimeExpired
            | Action::BootstrapFinishDuplicated
    )
}

/// The bootstrap server's catalogue of commands for a configuration: valid provisioning of
/// each server, re-keying with and without `keepServerInfo`, deletes (including the
/// protected targets), discovery, reads, and invalid payloads and configurations.
pub fn catalogue(config: &Config) -> Vec<Action> {
    let mut c = provisioning(config.servers);
    c.extend(reprovisioning(config.profile, config.servers));
    c.extend(deletes());
    c.extend(queries(config.profile));
    c.extend(invalid_writes(config.servers));
    c
}

/// A Bootstrap-Write of `value` at `path`, without `keepServerInfo`.
fn write(path: Path, value: WriteValue) -> Action {
    Action::BootstrapWrite {
        path,
        value,
        keep_server_info: false,
    }
}

/// BS-WRITE-01/02, BS-ACCT-01: each of the `n` servers' Security and Server instances,
/// making complete accounts.
fn provisioning(n: u8) -> Vec<Action> {
    let mut c = Vec::new();
    for k in 0..n {
        c.push(write(
            Path::Instance(0, account_iid(k)),
            WriteValue::Security(account(k, KeyId(k))),
        ));
        c.push(write(
            Path::Instance(1, k as u16),
            WriteValue::Server(server_instance(k)),
        ));
    }
    c
}

/// Changes to what is provisioned: re-keying with `keepServerInfo` (BS-KEEP-01/03), an
/// Access Control instance, a secret key, a lifetime, Bootstrap on Registration Failure off
/// (BS-RB-05) and an object-level write of /1 (BS-WRITE-03).
fn reprovisioning(p: Profile, n: u8) -> Vec<Action> {
    let mut c = vec![
        // Re-provisioning server 0's account with new keys, with keepServerInfo (seed: keep
        // the related information, BS-KEEP-01; 1.x: an unknown option to ignore, BS-KEEP-03,
        // which the checker verifies; the vectors send it to seed clients only, see
        // `conformance::generate`).
        Action::BootstrapWrite {
            path: Path::Instance(0, account_iid(0)),
            value: WriteValue::Security(account(0, KeyId(10))),
            keep_server_info: true,
        },
        write(Path::Instance(2, 0), WriteValue::AccessControl(acl(0))),
        write(
            Path::Resource(0, account_iid(0), 5),
            WriteValue::SecretKey(KeyId(20)),
        ),
        write(Path::Resource(1, 0, 1), WriteValue::Lifetime(600)),
    ];
    // Server 0 with Bootstrap on Registration Failure off (/1/y/16 = false, BS-RB-05), where
    // the profile has the resource: a refused Register must then not lead to bootstrap.
    if p.has_registration_procedure_resources() {
        c.push(write(
            Path::Instance(1, 0),
            WriteValue::Server(ServerInstance {
                bootstrap_on_failure: Some(false),
                ..server_instance(0)
            }),
        ));
    }
    // An object-level write of every server's Server instance (BS-WRITE-03).
    let mut all = Instances::default();
    for k in 0..n {
        all.put(k as u16, server_instance(k));
    }
    c.push(write(Path::Object(1), WriteValue::ServerObject(all)));
    c
}

/// BS-DEL-01..05, BS-WIPE-03: Bootstrap-Delete of the root, of /0, of a server's account,
/// of the protected BS account, of a missing instance and of a resource.
fn deletes() -> Vec<Action> {
    [
        Path::Root,
        Path::Object(0),
        Path::Instance(0, account_iid(0)),
        Path::Instance(0, BS_IID),
        Path::Instance(2, 9),
        Path::Resource(0, account_iid(0), 5),
    ]
    .into_iter()
    .map(|path| Action::BootstrapDelete { path })
    .collect()
}

/// BS-DISC-01..05: Bootstrap-Discover of the root and of an absent object; BS-READ-01/02
/// (where the profile has Bootstrap-Read): Read of /1 and of /0.
fn queries(p: Profile) -> Vec<Action> {
    let mut c = vec![
        Action::BootstrapDiscover { path: Path::Root },
        Action::BootstrapDiscover {
            path: Path::Object(ABSENT_OBJECT),
        },
    ];
    if p.supports(Operation::BootstrapRead) {
        c.push(Action::BootstrapRead {
            path: Path::Object(1),
        });
        c.push(Action::BootstrapRead {
            path: Path::Object(0),
        });
    }
    c
}

/// Invalid payloads and configurations (BS-WRITE-06, BS-ACCT-02/04, BS-FIN-02/04), and a
/// new BS account with an account timeout (BS-WRITE-08, BS-FIN-06, BS-CI-04).
fn invalid_writes(n: u8) -> Vec<Action> {
    let spare = account_iid(n);
    vec![
        // Invalid payloads and configurations.
        write(
            Path::Instance(0, account_iid(0)),
            WriteValue::UnsupportedContentFormat,
        ),
        write(
            Path::Instance(0, spare),
            WriteValue::Security(SecurityInstance::bootstrap_account(
                ServerUri::Bootstrap,
                KeyId(101),
            )),
        ),
        write(
            Path::Instance(0, spare),
            WriteValue::Security(account(0, KeyId(30))),
        ),
        write(
            Path::Instance(1, n as u16),
            WriteValue::Server(ServerInstance::new(9, 300)),
        ),
        // A new BS account, at the bootstrap server's other URI, with an account timeout
        // (BS-WRITE-08, BS-FIN-06): where the next request goes shows whether it took effect
        // or was rolled back (BS-CI-04). The timeout is 5 s: short enough for a harness on
        // the wire to wait for it, long enough for the steps a vector takes after Finish.
        write(
            Path::Instance(0, BS_IID),
            WriteValue::Security(SecurityInstance {
                account_timeout: Some(5),
                ..SecurityInstance::bootstrap_account(ServerUri::BootstrapAlternate, KeyId(102))
            }),
        ),
    ]
}

/// The environment's moves in each phase of the client, for [`stateright::Model::actions`].
impl BootstrapSystem {
    /// BS-REQ-04: the bootstrap server accepts a Bootstrap-Request; with faults left, it
    /// refuses it or (with loss) the answer is lost.
    fn request_answers(&self, faults: bool, actions: &mut Vec<Action>) {
        actions.push(Action::BootstrapRequestAccepted);
        if faults {
            actions.push(Action::BootstrapRequestRejected);
            if self.config.loss {
                actions.push(Action::BootstrapRequestLost);
            }
        }
    }

    /// BS-PACK-02/04: the bootstrap server delivers a consistent pack or does not implement
    /// Pack; with faults left, it delivers an inconsistent one or (with loss) none arrives.
    fn pack_answers(&self, faults: bool, actions: &mut Vec<Action>) {
        actions.push(Action::BootstrapPackDelivered {
            consistent: true,
            objects: None,
        });
        actions.push(Action::BootstrapPackNotImplemented);
        if faults {
            actions.push(Action::BootstrapPackDelivered {
                consistent: false,
                objects: None,
            });
            if self.config.loss {
                actions.push(Action::BootstrapPackLost);
            }
        }
    }

    /// In a session: the catalogue's commands while the session's budget lasts, Finish, and
    /// with faults left the exchange lifetime running out (BS-CI-03).
    fn session_commands(&self, s: &SystemState, faults: bool, actions: &mut Vec<Action>) {
        if s.budget.ops > 0 {
            actions.extend(self.catalogue.iter().cloned());
        }
        actions.push(Action::BootstrapFinish);
        if faults {
            actions.push(Action::ExchangeLifetimeExpired);
        }
    }

    /// Server `k` once the client operates: its answer to a pending Register (BS-REG-06
    /// with faults), or, registered and with faults left, its trigger (BS-RB-03), its
    /// re-bootstrap notification (seed) and its attempts on the Security object (BS-SEC-04).
    fn server_actions(&self, client: &Client, k: u8, faults: bool, actions: &mut Vec<Action>) {
        let p = self.config.profile;
        match client.registrations[k as usize] {
            Registration::Pending => {
                actions.push(Action::RegisterAccepted { server: k });
                if faults {
                    actions.push(Action::RegisterRejected { server: k });
                    actions.push(Action::RegisterHandshakeFailed { server: k });
                    if self.config.loss {
                        actions.push(Action::RegisterLost { server: k });
                    }
                }
            }
            Registration::Registered if faults => {
                if p.supports(Operation::BootstrapRequestTrigger) {
                    if let Some(a) = client
                        .store
                        .server_accounts()
                        .into_iter()
                        .find(|a| a.uri == ServerUri::Server(k))
                    {
                        actions.push(Action::BootstrapRequestTrigger {
                            server: k,
                            instance: a.server_iid,
                        });
                    }
                }
                if p.supports(Operation::ReBootstrapNotification) {
                    actions.push(Action::ReBootstrapNotification {
                        server: k,
                        uri: ServerUri::BootstrapAlternate,
                    });
                }
                actions.push(Action::ServerWritesSecurity {
                    server: k,
                    path: Path::Instance(0, account_iid(k)),
                });
                actions.push(Action::ServerReadsSecurity {
                    server: k,
                    path: Path::Object(0),
                });
                actions.push(Action::ServerDiscoversSecurity {
                    server: k,
                    path: Path::Object(0),
                });
            }
            _ => {}
        }
    }
}

impl stateright::Model for BootstrapSystem {
    type State = SystemState;
    type Action = Action;

    fn init_states(&self) -> Vec<SystemState> {
        self.initial_states()
    }

    fn actions(&self, s: &SystemState, actions: &mut Vec<Action>) {
        let cfg = &self.config;
        let faults = s.budget.rebootstraps > 0;
        let client = &s.client;
        match client.phase {
            Phase::HoldOff { .. } => actions.push(Action::ClientHoldOffExpired),
            Phase::Requested { .. } => self.request_answers(faults, actions),
            Phase::PackRequested { .. } => self.pack_answers(faults, actions),
            Phase::Bootstrapping => self.session_commands(s, faults, actions),
            Phase::Operating => {
                for k in 0..cfg.servers {
                    self.server_actions(client, k, faults, actions);
                }
            }
        }
        if client.phase != Phase::Bootstrapping && faults && cfg.server_push {
            // A bootstrap command outside a session: a 1.0 Server Initiated Bootstrap
            // (BS-RB-04), which 1.1+ may refuse and the seed has not.
            actions.push(self.catalogue[0].clone());
        }
        if client.account_timeout_armed {
            actions.push(Action::BootstrapAccountTimeoutExpired);
        }
        if cfg.duplication
            && faults
            && s.last
                .is_some_and(|l| l.kind == ActionKind::BootstrapFinish)
        {
            actions.push(Action::BootstrapFinishDuplicated);
        }
    }

    fn next_state(&self, s: &SystemState, action: Action) -> Option<SystemState> {
        Some(self.step(s, &action).0)
    }

    fn format_action(&self, action: &Action) -> String {
        action.to_string()
    }

    fn properties(&self) -> Vec<stateright::Property<Self>> {
        crate::properties::properties(&self.config)
    }
}

impl Monitor {
    /// Whether this monitor has fired in `s`.
    pub fn violated_in(self, s: &SystemState) -> bool {
        s.ghost.violations & (1 << self as u32) != 0
    }
}
