//! The four profiles a client may claim, and every rule that differs between them.
//!
//! Invariant of the code base: a rule that differs between profiles is one `match` on
//! [`Profile`] here, in one place; nothing else in the crate matches on the profile.

use crate::code::{CodeSet, ResponseCode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A version of the bootstrap rules a client claims to follow.
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
pub enum Profile {
    /// The seed change request (`../shared/seed/`) exactly: account removal cascades to all
    /// related information unless `keepServerInfo` is given (BS-WIPE-01, BS-KEEP-01), and a
    /// server may notify the client that re-bootstrap is needed, giving the URI (BS-RB-02).
    /// The seed defines no message encodings; this suite runs it over the 1.0 operation
    /// vocabulary (Request, Write, Delete, Discover, Finish) plus the extension in
    /// [`crate::seed_ext`].
    #[serde(rename = "seed")]
    Seed,
    /// LwM2M Core TS 1.0.x.
    #[serde(rename = "1.0")]
    V1_0,
    /// LwM2M Core TS 1.1.x.
    #[serde(rename = "1.1")]
    V1_1,
    /// LwM2M Core TS 1.2.x.
    #[serde(rename = "1.2")]
    V1_2,
}

/// An operation of the bootstrap interface or of its surroundings, as a kind (no arguments).
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
pub enum Operation {
    /// Bootstrap-Request (BS-REQ-01).
    BootstrapRequest,
    /// Bootstrap-Write (BS-WRITE-01).
    BootstrapWrite,
    /// Bootstrap-Read (BS-READ-01, 1.1+).
    BootstrapRead,
    /// Bootstrap-Discover (BS-DISC-01, 1.0+ ).
    BootstrapDiscover,
    /// Bootstrap-Delete (BS-DEL-01).
    BootstrapDelete,
    /// Bootstrap-Finish (BS-FIN-01).
    BootstrapFinish,
    /// Bootstrap-Pack-Request (BS-PACK-01, 1.2).
    BootstrapPackRequest,
    /// 1.0 Server Initiated Bootstrap: BS commands without a preceding request (BS-RB-04).
    ServerInitiatedPush,
    /// Execute of the Bootstrap-Request Trigger /1/x/9 (BS-RB-03, 1.1+).
    BootstrapRequestTrigger,
    /// The seed's Step 0 re-bootstrap notification carrying a URI (BS-RB-02).
    ReBootstrapNotification,
    /// The seed's `keepServerInfo` parameter on a Bootstrap-Write (BS-KEEP-01).
    KeepServerInfo,
}

/// How Bootstrap-Discover states the enabler version (BS-DISC-03, ambiguity A-02).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum VersionForm {
    /// `lwm2m="1.0"` as a bare first element (1.0 examples).
    Quoted10,
    /// `</>;lwm2m=1.1` (RFC 6690 root link, 1.1.1+).
    Root11,
    /// `</>;lwm2m=1.2`.
    Root12,
}

impl Profile {
    /// Every profile, oldest first.
    pub const ALL: [Profile; 4] = [Profile::Seed, Profile::V1_0, Profile::V1_1, Profile::V1_2];

    /// The name used on the command line, in vectors and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Seed => "seed",
            Profile::V1_0 => "1.0",
            Profile::V1_1 => "1.1",
            Profile::V1_2 => "1.2",
        }
    }

    /// Whether the profile has `op` (BS-READ-01, BS-PACK-01, BS-RB-03, BS-RB-04, BS-RB-02,
    /// BS-KEEP-01; Discover from 1.0 ).
    pub fn supports(self, op: Operation) -> bool {
        use Operation::*;
        match op {
            BootstrapRequest | BootstrapWrite | BootstrapDiscover | BootstrapDelete
            | BootstrapFinish => true,
            BootstrapRead | BootstrapRequestTrigger => {
                matches!(self, Profile::V1_1 | Profile::V1_2)
            }
            BootstrapPackRequest => self == Profile::V1_2,
            ServerInitiatedPush => self == Profile::V1_0,
            ReBootstrapNotification | KeepServerInfo => self == Profile::Seed,
        }
    }

    /// Whether removing (or re-provisioning) a server's account removes all information
    /// related to that server: the seed's rule (BS-WIPE-01, BS-KEEP-01). The published
    /// versions remove only what Bootstrap-Delete names (BS-KEEP-02, A-03).
    pub fn cascades_account_removal(self) -> bool {
        match self {
            Profile::Seed => true,
            Profile::V1_0 | Profile::V1_1 | Profile::V1_2 => false,
        }
    }

    /// Whether the client may prune ACL entries and owners of vanished servers at the end of
    /// a bootstrap: allowed in the published versions, implied by the cascade in the
    /// seed.
    pub fn may_prune_orphans(self) -> bool {
        match self {
            Profile::Seed => false,
            Profile::V1_0 | Profile::V1_1 | Profile::V1_2 => true,
        }
    }

    /// Whether Bootstrap-Delete "/" spares the Bootstrap-Server Account and /3/0 (BS-WIPE-03,
    /// BS-DEL-03). The seed has no Delete "/" of its own; this suite gives it the 1.0 rule,
    /// since a seed client must keep its pre-provisioned bootstrap URI to re-bootstrap.
    pub fn delete_spares_bootstrap_account(self) -> bool {
        match self {
            Profile::Seed | Profile::V1_0 | Profile::V1_1 | Profile::V1_2 => true,
        }
    }

    /// Whether a client holding a BS account must, may or must not accept bootstrap commands
    /// that arrive without a preceding Bootstrap-Request: required in 1.0 (BS-RB-04), allowed
    /// in 1.1+ (A-10), absent from the seed (its server-initiated path is Step 0).
    pub fn push_acceptance(self) -> PushAcceptance {
        match self {
            Profile::V1_0 => PushAcceptance::Required,
            Profile::V1_1 | Profile::V1_2 => PushAcceptance::Allowed,
            Profile::Seed => PushAcceptance::Refused,
        }
    }

    /// The version element of Bootstrap-Discover (BS-DISC-03). The seed uses the 1.0 form.
    pub fn discover_version(self) -> VersionForm {
        match self {
            Profile::Seed | Profile::V1_0 => VersionForm::Quoted10,
            Profile::V1_1 => VersionForm::Root11,
            Profile::V1_2 => VersionForm::Root12,
        }
    }

    /// Whether Discover lists `uri="..."` on server Security instances (BS-DISC-04, 1.1+).
    pub fn discover_lists_uri(self) -> bool {
        match self {
            Profile::Seed | Profile::V1_0 => false,
            Profile::V1_1 | Profile::V1_2 => true,
        }
    }

    /// The `pct` the reference client sends in Bootstrap-Request (BS-REQ-01/02, 1.1+): TLV.
    pub fn preferred_content_format(self) -> Option<u16> {
        match self {
            Profile::Seed | Profile::V1_0 => None,
            Profile::V1_1 | Profile::V1_2 => Some(11542),
        }
    }

    /// Whether Bootstrap-Request carries the seed's device information and supported
    /// security modes (BS-RB-02 Step 1, encoded by [`crate::seed_ext`]).
    pub fn request_carries_device_info(self) -> bool {
        self == Profile::Seed
    }

    /// The `lwm2m=` value of Register (BS-REG-03); the seed predates the parameter.
    pub fn enabler_version(self) -> Option<&'static str> {
        match self {
            Profile::Seed => None,
            Profile::V1_0 => Some("1.0"),
            Profile::V1_1 => Some("1.1"),
            Profile::V1_2 => Some("1.2"),
        }
    }

    /// Whether a registration failure makes the client re-bootstrap. `bootstrap_on_failure`
    /// is /1/y/16 of the failed server (absent = true); `all_failed` says whether every
    /// server has now failed. Seed and 1.0: only when every registration failed (BS-FACT-03
    /// step 4, BS-REG-06; the seed's re-bootstrap, BS-RB-01, is taken on the same condition);
    /// 1.1+: per server, as /1/y/16 says (BS-RB-05).
    pub fn rebootstrap_on_registration_failure(
        self,
        bootstrap_on_failure: bool,
        all_failed: bool,
    ) -> bool {
        match self {
            Profile::Seed | Profile::V1_0 => all_failed,
            Profile::V1_1 | Profile::V1_2 => bootstrap_on_failure,
        }
    }

    /// Whether the Server object has the registration procedure resources /1/x/16 (Bootstrap
    /// on Registration Failure) and /1/x/17-20 (retry count and timers): 1.1 and later (Core
    /// 1.2 §6.2.1.1; 1.0's Server object ends at resource 8).
    pub fn has_registration_procedure_resources(self) -> bool {
        match self {
            Profile::Seed | Profile::V1_0 => false,
            Profile::V1_1 | Profile::V1_2 => true,
        }
    }

    /// Whether Bootstrap-Read may target object `object` (BS-READ-01/02: /1 and /2).
    pub fn readable(self, object: u16) -> bool {
        match self {
            Profile::V1_1 | Profile::V1_2 => {
                object == crate::path::SERVER || object == crate::path::ACCESS_CONTROL
            }
            Profile::Seed | Profile::V1_0 => false,
        }
    }
}

/// How a profile treats bootstrap commands outside a session (see
/// [`Profile::push_acceptance`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushAcceptance {
    /// The client must accept them (1.0 Server Initiated Bootstrap).
    Required,
    /// The client may accept or refuse them.
    Allowed,
    /// The client must refuse them.
    Refused,
}

/// Codes a client may use to refuse a bootstrap command it does not take (outside a session,
/// from the wrong peer in a way not covered by BS-OBJ-02, or an unsupported Read target,
/// the specification names no single code.
pub fn refusal_codes() -> CodeSet {
    CodeSet::of(&[
        ResponseCode::BadRequest,
        ResponseCode::Unauthorized,
        ResponseCode::MethodNotAllowed,
    ])
}

/// Codes for an explicit Bootstrap-Delete of a protected instance (BS account, /3/0): the
/// instance stays, the answer varies.
pub fn protected_delete_codes() -> CodeSet {
    CodeSet::of(&[
        ResponseCode::Deleted,
        ResponseCode::BadRequest,
        ResponseCode::MethodNotAllowed,
    ])
}

/// Codes for a Bootstrap-Delete of an instance that does not exist (A-06: the 1.0 table has
/// only 2.02 and 4.00).
pub fn missing_delete_codes() -> CodeSet {
    CodeSet::of(&[ResponseCode::Deleted, ResponseCode::BadRequest])
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown profile {:?} (expected one of: seed, 1.0, 1.1, 1.2)",
            self.0
        )
    }
}

impl std::error::Error for UnknownProfile {}

impl std::str::FromStr for Profile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}
