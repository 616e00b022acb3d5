//! The LwM2M objects the bootstrap interface provisions, with the resources the requirement
//! catalogue names (BS-OBJ-01, BS-OBJ-03, BS-OBJ-04). Values are abstract: a URI names one of
//! the model's peers, a key is a small identifier of keying material. Resources are `Option`s
//! because Bootstrap-Write may create an instance from a single resource (ETS int-9 writes only
//! /1/x/5), leaving mandatory resources absent.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::fmt;

/// Short Server ID (/0/x/10, /1/y/0). 0 and 65535 are reserved and never name a server
/// (BS-ACCT-02); 65535 as an ACL owner means "the bootstrap server" (BS-OBJ-04).
pub type ShortServerId = u16;

/// The ACL owner value meaning "owned by the bootstrap server" (BS-OBJ-04).
pub const OWNER_BOOTSTRAP: ShortServerId = 65535;

/// An abstract server URI (/0/x/0). The model has one bootstrap server reachable under two
/// URIs (the second exists so that the seed's Step 0 notification can name a URI other than the
/// stored one, BS-RB-02) and up to [`crate::system::MAX_SERVERS`] management servers.
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
pub enum ServerUri {
    /// The bootstrap server's provisioned URI.
    Bootstrap,
    /// A second URI of the bootstrap server, only ever handed out by a seed Step 0
    /// notification.
    BootstrapAlternate,
    /// Management server number `k` (0-based).
    Server(u8),
}

impl fmt::Display for ServerUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerUri::Bootstrap => write!(f, "coaps://bs"),
            ServerUri::BootstrapAlternate => write!(f, "coaps://bs-alt"),
            ServerUri::Server(k) => write!(f, "coaps://dm{k}"),
        }
    }
}

/// Security Mode (/0/x/2, BS-OBJ-01).
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
pub enum SecurityMode {
    /// 0: Pre-Shared Key.
    Psk,
    /// 1: Raw Public Key.
    Rpk,
    /// 2: Certificate.
    Certificate,
    /// 3: NoSec.
    NoSec,
}

/// Abstract keying material (/0/x/3, /0/x/4, /0/x/5 taken together): two accounts with the same
/// `KeyId` use the same keys.
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
pub struct KeyId(pub u8);

/// A Security object instance (/0/x): either the Bootstrap-Server Account (/0/x/1 = true,
/// BS-ACCT-03) or the security half of a LwM2M Server Account (BS-ACCT-01). In the seed's words
/// this is the "LWM2M Server Account": URI, security mode and keying material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecurityInstance {
    /// /0/x/0 LwM2M Server URI.
    pub uri: Option<ServerUri>,
    /// /0/x/1 Bootstrap-Server flag.
    pub bootstrap: Option<bool>,
    /// /0/x/2 Security Mode.
    pub mode: Option<SecurityMode>,
    /// /0/x/3..5 keying material.
    pub key: Option<KeyId>,
    /// /0/x/10 Short Server ID (absent on the bootstrap account).
    pub ssid: Option<ShortServerId>,
    /// /0/x/11 Client Hold Off Time in seconds (BS-FACT-05).
    pub hold_off: Option<u16>,
    /// /0/x/12 Bootstrap-Server Account Timeout in seconds (BS-FIN-06).
    pub account_timeout: Option<u16>,
}

/// Hashes the instance as one packed integer: the checker fingerprints every state, and
/// hashing seven `Option`s field by field dominated its profile. Equal instances pack
/// equally, so this agrees with `Eq`.
impl std::hash::Hash for SecurityInstance {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let opt16 = |v: Option<u16>| v.map_or(0u128, |x| x as u128 + 1);
        let uri = match self.uri {
            None => 0u128,
            Some(ServerUri::Bootstrap) => 1,
            Some(ServerUri::BootstrapAlternate) => 2,
            Some(ServerUri::Server(k)) => 3 + k as u128,
        };
        let packed = uri
            | (self.bootstrap.map_or(0, |b| b as u128 + 1) << 9)
            | (self.mode.map_or(0, |m| m as u128 + 1) << 11)
            | (self.key.map_or(0, |k| k.0 as u128 + 1) << 14)
            | (opt16(self.ssid) << 23)
            | (opt16(self.hold_off) << 40)
            | (opt16(self.account_timeout) << 57);
        state.write_u128(packed);
    }
}

impl SecurityInstance {
    /// A complete Bootstrap-Server Account for `uri`. Its mode is NoSec: the suite runs
    /// plain CoAP, and a `coap://` URI is used in NoSec mode (Transport 1.2 §6.8.1), so that
    /// a client checking the pair accepts it; the keying material is written all the same.
    pub fn bootstrap_account(uri: ServerUri, key: KeyId) -> Self {
        SecurityInstance {
            uri: Some(uri),
            bootstrap: Some(true),
            mode: Some(SecurityMode::NoSec),
            key: Some(key),
            ssid: None,
            hold_off: Some(1),
            account_timeout: None,
        }
    }

    /// The complete security half of a server account (NoSec, see
    /// [`SecurityInstance::bootstrap_account`]).
    pub fn server_account(uri: ServerUri, ssid: ShortServerId, key: KeyId) -> Self {
        SecurityInstance {
            uri: Some(uri),
            bootstrap: Some(false),
            mode: Some(SecurityMode::NoSec),
            key: Some(key),
            ssid: Some(ssid),
            hold_off: None,
            account_timeout: None,
        }
    }

    /// Whether this instance is a Bootstrap-Server Account (/0/x/1 = true).
    pub fn is_bootstrap(&self) -> bool {
        self.bootstrap == Some(true)
    }

    /// Whether every resource a usable account needs is present: URI, flag, mode, keys, and
    /// the Short Server ID unless it is the bootstrap account (BS-ACCT-02).
    pub fn is_complete(&self) -> bool {
        self.uri.is_some()
            && self.bootstrap.is_some()
            && self.mode.is_some()
            && self.key.is_some()
            && (self.is_bootstrap() || self.ssid.is_some())
    }
}

/// A Server object instance (/1/y): the registration half of a LwM2M Server Account,
/// joined to its Security instance by the Short Server ID only (BS-ACCT-01).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServerInstance {
    /// /1/y/0 Short Server ID.
    pub ssid: Option<ShortServerId>,
    /// /1/y/1 Lifetime in seconds (becomes Register's `lt`, BS-REG-03).
    pub lifetime: Option<u32>,
    /// /1/y/16 Bootstrap on Registration Failure (1.1+; absent means true, BS-RB-05).
    pub bootstrap_on_failure: Option<bool>,
}

impl ServerInstance {
    /// A complete Server instance.
    pub fn new(ssid: ShortServerId, lifetime: u32) -> Self {
        ServerInstance {
            ssid: Some(ssid),
            lifetime: Some(lifetime),
            bootstrap_on_failure: None,
        }
    }

    /// Whether the mandatory resources the model tracks (0 and 1) are present.
    pub fn is_complete(&self) -> bool {
        self.ssid.is_some() && self.lifetime.is_some()
    }
}

/// Access rights bitmask of an ACL entry (BS-OBJ-04): Read 1, Write 2, Execute 4, Delete 8,
/// Create 16.
pub type AccessRights = u8;

/// An Access Control object instance (/2/z, BS-OBJ-04).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccessControlInstance {
    /// /2/z/0 Object ID the rights apply to.
    pub object: u16,
    /// /2/z/1 Object Instance ID (65535 = object level).
    pub instance: u16,
    /// /2/z/2 ACL: one entry per Short Server ID (0 = default entry). Inline up to two
    /// entries so that copying a state does not allocate.
    pub acl: SmallVec<[(ShortServerId, AccessRights); 2]>,
    /// /2/z/3 Access Control Owner (65535 = the bootstrap server).
    pub owner: ShortServerId,
}

impl AccessControlInstance {
    /// Whether the instance is related to server `ssid` in the sense of the seed's cascade
    /// (BS-WIPE-01): it is owned by `ssid` or it holds an ACL entry for `ssid`.
    pub fn relates_to(&self, ssid: ShortServerId) -> bool {
        self.owner == ssid || self.acl.iter().any(|(s, _)| *s == ssid)
    }
}
