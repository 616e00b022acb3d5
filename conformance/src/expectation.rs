//! What a step expects of the client (vector `format_version` 2): constraints derived from
//! the model's state and the specification, never a copy of the reference client's bytes.
//! Each observation the suite makes has its rule:
//!
//! - a response: the codes the specification allows, and for a 2.05 the content rule
//!   ([`DiscoverRule`], [`ReadRule`]);
//! - the client's own requests: [`SendRule`] (Bootstrap-Request, Bootstrap-Pack-Request,
//!   Register), each stating what is required, what is forbidden, and leaving the rest free.
//!
//! A rule says what must be there (required links, written values), what must not (deleted
//! instances, the Security object in Register), and allows everything else: other objects
//! and instances, unknown attributes, any link order, `uri=` on the Bootstrap-Server's own
//! Security instance. [`crate::judge`] applies the rules; [`crate::oracle`] derives them.

use crate::catalogue::Tier;
use crate::links::VersionStyle;
use crate::records::Value;
use bootstrap_model::objects::ServerUri;
use bootstrap_model::path::Path;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The client behaviour a step expects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The response to the stimulus; `None` when the stimulus is not a request to the client.
    pub response: Option<ResponseRule>,
    /// The messages the client must send next, in any order; empty: none.
    pub sends: Vec<SendRule>,
    /// Other acceptable sets of messages, where the specification allows several.
    pub or_sends: Vec<Vec<SendRule>>,
    /// Messages the client may send in this step besides (a Register sent again to a server
    /// that refused it, while its registration retry procedure runs: Core 1.2 §6.2.1.1).
    pub tolerated: Vec<SendRule>,
    /// When the specification leaves it to the client whether or when the required messages
    /// come: how their absence counts. `None`: their absence is a failure of the vector's
    /// tier.
    pub if_absent: Option<IfAbsent>,
    /// Why several outcomes are acceptable, with the ambiguity or requirement IDs.
    pub note: Option<String>,
}

impl Expectation {
    /// Updates `held`, the management servers that hold the client's DTLS handshake (they
    /// hold another key, `register-handshake-failed`), for the step this expectation
    /// judges: a server it expects a handshake to ([`SendRule::Handshake`]) holds from this
    /// step on; one it expects a Register to is open again. A DTLS transport gates its
    /// servers so; a replay without one sees a Register to a held server as its handshake.
    pub fn update_held(&self, held: &mut std::collections::BTreeSet<u8>) {
        for r in self.sends.iter().chain(self.or_sends.iter().flatten()) {
            match r {
                SendRule::Handshake {
                    to: ServerUri::Server(k),
                } => {
                    held.insert(*k);
                }
                SendRule::Register {
                    to: ServerUri::Server(k),
                    ..
                } => {
                    held.remove(k);
                }
                _ => {}
            }
        }
    }
}

/// How the absence of a step's required messages counts, where the specification leaves
/// their timing (or their sending) to the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IfAbsent {
    /// `SHOULD`: a failure at that tier (reported, never fatal); `MAY`: the vector ends there,
    /// not observed.
    pub tier: Tier,
    /// Why, with the clause.
    pub why: String,
}

/// The expected response to a request of the harness's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseRule {
    /// Every code the specification allows here, dotted (`2.04`).
    pub codes: Vec<String>,
    /// The rule for the payload of a 2.05 Content answer.
    pub content: Option<ContentRule>,
}

/// The rule for a response payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ContentRule {
    /// A Bootstrap-Discover answer.
    Discover(DiscoverRule),
    /// A Bootstrap-Read answer.
    Read(ReadRule),
}

/// A Bootstrap-Discover answer (BS-DISC-02..04): link-format listing the objects and
/// instances the client supports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoverRule {
    /// The Discover's target (`/` or `/o`).
    pub target: Path,
    /// The enabler version the payload states, in any of the allowed styles.
    pub version: VersionRule,
    /// The objects and instances.
    pub listing: Listing,
}

/// The version element of a Discover answer (BS-DISC-03, A-02).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRule {
    /// The version it must state (`1.1`).
    pub version: String,
    /// The styles the profile's texts allow: the bare `lwm2m="1.0"` element of the 1.0
    /// examples, the `</>;lwm2m=1.1` root link of 1.1.1 and later.
    pub styles: Vec<VersionStyle>,
}

/// A list of objects and object instances, as Bootstrap-Discover and Register carry it
/// (CoRE links `</o>`, `</o/i>`). Links it does not name are allowed, in any order, with
/// any attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    /// Instances that must be listed, with the attributes they must carry.
    pub required: Vec<LinkRule>,
    /// Objects that must be listed, as `</o>` or through an instance (a supported object
    /// with no instance is listed as `</o>`, BS-DISC-02).
    pub required_objects: Vec<u16>,
    /// Instances that must not be listed: they must be gone.
    pub absent: Vec<Path>,
    /// Objects whose instances `required` names completely: any other instance of theirs
    /// must be gone too (after a Delete of the object or of `/`, or a Bootstrap-Pack).
    pub complete: Vec<u16>,
    /// Objects that must not appear at all (the Security object, and OSCORE in 1.1+, in
    /// Register: BS-REG-04).
    pub forbidden_objects: Vec<u16>,
}

/// A link that must be listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRule {
    /// `/o/i`.
    pub path: Path,
    /// The `ssid` attribute.
    pub ssid: Attr<u16>,
    /// The `uri` attribute, naming a server (compared with its real URI).
    pub uri: Attr<ServerUri>,
}

/// What an attribute of a required link must be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Attr<T> {
    /// Present or not, any value.
    Any,
    /// Not present.
    Absent,
    /// Present with this value.
    Equals(T),
}

/// A Bootstrap-Read answer (BS-READ-01, BS-WRITE-04): every instance of the target with
/// the resources written to it, carrying the values written; resources nobody wrote only
/// where the specification gives a default (or makes the resource mandatory).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRule {
    /// The Read's target (`/1`, `/2`, `/1/y`).
    pub target: Path,
    /// Instances that must be in the answer, with their written resources.
    pub instances: Vec<InstanceValues>,
    /// Instances that must not be.
    pub absent: Vec<u16>,
    /// Whether `instances` names every instance the answer may hold.
    pub complete: bool,
    /// Resources the client may add to any instance although nobody wrote them.
    pub allowed: Vec<Allowance>,
}

/// The resources written to one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceValues {
    /// Object Instance ID.
    pub instance: u16,
    /// The written resources.
    pub resources: Vec<ResourceRule>,
    /// Provisioned at the factory: the vector names only the resources it knows of, and
    /// the vendor's factory may have set others, which are then not judged.
    pub factory: bool,
}

/// A written resource and its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRule {
    /// Resource ID.
    pub resource: u16,
    /// A single value, or the instances of a multiple resource.
    pub value: ResourceValue,
}

/// The value of a resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceValue {
    /// A single-instance resource.
    Single(Value),
    /// A multiple resource: every resource instance, by ID.
    Multiple(Vec<(u16, Value)>),
}

/// A resource the client may hold without anyone writing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    /// Resource ID.
    pub resource: u16,
    /// The only value allowed (the specification's default); `None`: any value (a mandatory
    /// resource with no default, which the client must instantiate, Core 1.2 §7.1).
    pub value: Option<Value>,
    /// Why, with the clause.
    pub why: String,
}

/// Whether a query parameter must be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    /// It must be there (with the right value).
    Required,
    /// It may be left out; when there, it must have the right value.
    Optional,
}

/// What the `b` (binding) parameter of Register must be (BS-REG-03).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BindingRule {
    /// 1.0: absent (default `U`) or equal to the written /1/y/7.
    EqualsWritten(String),
    /// 1.1+: optional; when sent, a binding that includes UDP (`U`), the transport the
    /// client registers over (it SHOULD be /3/0/16, the device's supported bindings).
    IncludesUdp,
}

/// A message the client must send on its own initiative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "message", rename_all = "kebab-case")]
pub enum SendRule {
    /// `POST /bs?ep=...` to the bootstrap server (BS-REQ-01, BS-CI-01, BS-CI-02).
    BootstrapRequest {
        /// Where to.
        to: ServerUri,
        /// The `pct` values allowed (BS-REQ-02); the parameter is optional. Empty: no `pct`
        /// may be sent (seed, 1.0).
        pct: Vec<u16>,
        /// Whether the seed's Step 1 device information (`dev=`, `sm=`) must be sent
        /// (BS-RB-02).
        device_info: bool,
    },
    /// `GET /bspack?ep=...` (BS-PACK-01).
    BootstrapPackRequest {
        /// Where to.
        to: ServerUri,
        /// The Accept values allowed (the option is optional).
        accept: Vec<u16>,
    },
    /// `POST /rd?ep=...&lt=...&lwm2m=...` with the object list (BS-REG-01..04).
    Register {
        /// Where to.
        to: ServerUri,
        /// `ep`: required in 1.0, optional in 1.1+ (BS-REG-03).
        endpoint: Presence,
        /// `lt`: required, equal to /1/y/1 (BS-REG-03).
        lifetime: u32,
        /// `lwm2m`: required with this value; `None`: not judged (the seed predates it).
        version: Option<String>,
        /// `b`.
        binding: BindingRule,
        /// The object list.
        objects: Listing,
        /// Whether the object list may be left out (1.2: a Profile ID may stand for it).
        objects_optional: bool,
    },
    /// A DTLS handshake (its ClientHello) to a `coaps://` management server that holds
    /// another key than the client's account: where a Register would go, had the session
    /// come up ([`bootstrap_model::system::Action::RegisterHandshakeFailed`]). The PSK
    /// identity the client then presents is checked by the transport (BS-SEC-05); the
    /// failed handshake is a registration failure (Transport 1.2 §5.2.10, BS-REG-06).
    /// Observable only over DTLS: a vector with it is skipped on other transports.
    Handshake {
        /// Where to.
        to: ServerUri,
    },
}

impl SendRule {
    /// The server the message goes to.
    pub fn to(&self) -> ServerUri {
        match self {
            SendRule::BootstrapRequest { to, .. }
            | SendRule::BootstrapPackRequest { to, .. }
            | SendRule::Register { to, .. }
            | SendRule::Handshake { to } => *to,
        }
    }

    /// The message's name in the specification.
    pub fn kind(&self) -> &'static str {
        match self {
            SendRule::BootstrapRequest { .. } => "Bootstrap-Request",
            SendRule::BootstrapPackRequest { .. } => "Bootstrap-Pack-Request",
            SendRule::Register { .. } => "Register",
            SendRule::Handshake { .. } => "DTLS handshake",
        }
    }
}
