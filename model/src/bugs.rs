//! A catalogue of realistic client bugs, each switchable into the reference client
//! ([`crate::client::Client`]) so that the checker, and later the vectors and the harness, can
//! be shown to catch them. Several are behaviours seen in real clients (see the notes in the
//! requirement catalogue on Wakaama, Zephyr, Anjay and Leshan).

use crate::profile::Profile;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a bug shows itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Detection {
    /// It breaks a property of the model: the checker reports a counterexample.
    Invariant,
    /// It changes only what the client says (payload, query parameters): no property of the
    /// model sees it; the test vectors must catch it by comparing responses and messages.
    ResponseOnly,
}

macro_rules! bugs {
    ($( $(#[$doc:meta])* $name:ident = $kebab:literal, $det:ident, $reqs:literal, $profiles:expr; )*) => {
        /// One injectable client bug.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "kebab-case")]
        pub enum Bug {
            $( $(#[$doc])* $name, )*
        }

        impl Bug {
            /// Every bug in the catalogue.
            pub const ALL: &'static [Bug] = &[ $( Bug::$name, )* ];

            /// The bug's name on the command line (`mutant:NAME`) and in reports.
            pub fn name(self) -> &'static str {
                match self { $( Bug::$name => $kebab, )* }
            }

            /// How the bug shows itself.
            pub fn detection(self) -> Detection {
                match self { $( Bug::$name => Detection::$det, )* }
            }

            /// The requirement IDs the bug violates.
            pub fn requirements(self) -> &'static str {
                match self { $( Bug::$name => $reqs, )* }
            }

            /// The profiles in which the bug's behaviour differs from a correct client.
            pub fn profiles(self) -> &'static [Profile] {
                match self { $( Bug::$name => $profiles, )* }
            }
        }
    };
}

const ALL: &[Profile] = &Profile::ALL;
const SEED: &[Profile] = &[Profile::Seed];
const PUBLISHED: &[Profile] = &[Profile::V1_0, Profile::V1_1, Profile::V1_2];
const V11_UP: &[Profile] = &[Profile::V1_1, Profile::V1_2];
const V12: &[Profile] = &[Profile::V1_2];

bugs! {
    /// Bootstrap-Delete "/" also removes the Bootstrap-Server Account.
    DeleteRootRemovesBootstrapAccount = "delete-root-removes-bootstrap-account", Invariant, "BS-WIPE-03, BS-DEL-03", ALL;
    /// Bootstrap-Delete "/" also removes /3/0.
    DeleteRootRemovesDevice = "delete-root-removes-device", Invariant, "BS-WIPE-03, BS-DEL-03", ALL;
    /// An explicit Bootstrap-Delete of the BS account's instance removes it.
    DeleteRemovesBootstrapInstance = "delete-removes-bootstrap-instance", Invariant, "BS-DEL-03", ALL;
    /// Seed cascade forgets the Access Control instances and entries of the removed server.
    AclSurvivesAccountRemoval = "acl-survives-account-removal", Invariant, "BS-WIPE-01", SEED;
    /// Seed cascade forgets the Server instance of the removed server.
    ServerInstanceSurvivesAccountRemoval = "server-instance-survives-account-removal", Invariant, "BS-WIPE-01", SEED;
    /// `keepServerInfo` is ignored: the related information is removed anyway.
    KeepServerInfoIgnored = "keep-server-info-ignored", Invariant, "BS-KEEP-01", SEED;
    /// `keepServerInfo` is applied without being asked: re-provisioning never cascades.
    KeepServerInfoAlways = "keep-server-info-always", Invariant, "BS-WIPE-01", SEED;
    /// A 1.x client applies the seed's cascade when an account is re-provisioned.
    CascadeInPublishedProfile = "cascade-in-published-profile", Invariant, "BS-KEEP-02", PUBLISHED;
    /// A 1.x client honours the seed's `keepServerInfo` query (changes behaviour on it).
    KeepServerInfoInPublishedProfile = "keep-server-info-in-published-profile", Invariant, "BS-KEEP-03", PUBLISHED;
    /// Bootstrap-Write of one Security instance wipes the other server accounts.
    WriteReplacesWholeObject = "write-replaces-whole-object", Invariant, "BS-KEEP-02, BS-WRITE-02", ALL;
    /// Bootstrap-Finish never answers 4.06 (Wakaama, Zephyr).
    FinishAcceptsInconsistent = "finish-accepts-inconsistent", Invariant, "BS-FIN-02, BS-FIN-03, BS-ACCT-06", ALL;
    /// After refusing Finish the client leaves bootstrap and registers anyway.
    FinishRefusalLeavesBootstrap = "finish-refusal-leaves-bootstrap", Invariant, "BS-FIN-04, BS-FIN-05", ALL;
    /// Finish on an inconsistent configuration is answered 4.00 instead of 4.06.
    FinishRefusedWithBadRequest = "finish-refused-with-bad-request", Invariant, "BS-FIN-02", ALL;
    /// Finish does not check that Short Server IDs are unique.
    DuplicateShortServerIdAccepted = "duplicate-short-server-id-accepted", Invariant, "BS-ACCT-02", PUBLISHED;
    /// A management server's Write on /0 is executed (the DM interface must answer 4.01).
    AcceptsBootstrapWriteFromServer = "accepts-bootstrap-write-from-server", Invariant, "BS-SEC-04, BS-OBJ-02", ALL;
    /// Bootstrap commands are accepted outside a session although the client has no BS
    /// account (or its profile has no push).
    AcceptsCommandsOutsideSession = "accepts-commands-outside-session", Invariant, "BS-RB-06, BS-CI-08", ALL;
    /// The client registers with the bootstrap server as if it were a management server.
    RegistersWithBootstrapServer = "registers-with-bootstrap-server", Invariant, "BS-REG-01, BS-ACCT-03", ALL;
    /// Security and Server instances are paired by instance ID instead of Short Server ID.
    PairsByInstanceId = "pairs-by-instance-id", Invariant, "BS-ACCT-01, BS-REG-02", ALL;
    /// The client registers as soon as an account is complete, before Finish.
    RegistersBeforeFinish = "registers-before-finish", Invariant, "BS-FIN-05, BS-CI-08", ALL;
    /// After Finish the client registers with the first server only.
    RegistersWithFirstServerOnly = "registers-with-first-server-only", Invariant, "BS-REG-01, BS-ACCT-05", ALL;
    /// Bootstrap-Request is sent at once, without the Client Hold Off Time.
    NoHoldOff = "no-hold-off", Invariant, "BS-FACT-05", ALL;
    /// Bootstrap-Delete of a missing instance is answered 4.04.
    DeleteMissingAnswersNotFound = "delete-missing-answers-not-found", Invariant, "BS-DEL-05", ALL;
    /// A Write in an unsupported Content-Format is answered 4.00 instead of 4.15.
    UnsupportedFormatAnswersBadRequest = "unsupported-format-answers-bad-request", Invariant, "BS-WRITE-06", ALL;
    /// Bootstrap-Read of /0 returns the Security instances, keys included.
    ReadExposesSecurity = "read-exposes-security", Invariant, "BS-READ-02", V11_UP;
    /// A failed bootstrap keeps the half-written BS account.
    NoBootstrapAccountRollback = "no-bootstrap-account-rollback", Invariant, "BS-CI-04", ALL;
    /// A bootstrap session never times out without Finish.
    IgnoresExchangeLifetime = "ignores-exchange-lifetime", Invariant, "BS-CI-03", ALL;
    /// The Bootstrap-Server Account Timeout (/0/x/12) is ignored.
    IgnoresAccountTimeout = "ignores-account-timeout", Invariant, "BS-FIN-06", ALL;
    /// Execute /1/x/9 is answered 2.04 but no bootstrap follows.
    TriggerIgnored = "trigger-ignored", Invariant, "BS-RB-03", V11_UP;
    /// The seed's Step 0 URI is ignored: re-bootstrap goes to the stored URI.
    NotificationUriIgnored = "notification-uri-ignored", Invariant, "BS-RB-02", SEED;
    /// A failed registration never leads back to bootstrap.
    NoFallbackOnRegistrationFailure = "no-fallback-on-registration-failure", Invariant, "BS-REG-06, BS-RB-05, BS-FACT-03", ALL;
    /// An error answer to Bootstrap-Pack-Request does not lead to Bootstrap-Request.
    PackErrorNoFallback = "pack-error-no-fallback", Invariant, "BS-PACK-04", V12;
    /// A CoAP duplicate of Finish is processed again instead of answered from the cache.
    NoDeduplication = "no-deduplication", Invariant, "BS-FIN-01", ALL;
    /// Bootstrap-Discover states the version as `lwm2m="1.0"` whatever the profile.
    DiscoverOldVersionForm = "discover-old-version-form", ResponseOnly, "BS-DISC-03", V11_UP;
    /// Bootstrap-Discover omits `ssid=` on server instances.
    DiscoverOmitsShortServerId = "discover-omits-short-server-id", ResponseOnly, "BS-DISC-04", ALL;
    /// Bootstrap-Discover gives the BS account a `uri=` attribute.
    DiscoverListsBootstrapUri = "discover-lists-bootstrap-uri", ResponseOnly, "BS-DISC-04", ALL;
    /// Bootstrap-Request carries no `ep=`.
    RequestWithoutEndpoint = "request-without-endpoint", ResponseOnly, "BS-CI-02, BS-REQ-01", ALL;
    /// Bootstrap-Request carries a `pct` outside the allowed set.
    RequestWithBadPct = "request-with-bad-pct", ResponseOnly, "BS-REQ-02", V11_UP;
    /// The seed's re-bootstrap request carries no device information or security modes.
    SeedRequestWithoutDeviceInfo = "seed-request-without-device-info", ResponseOnly, "BS-RB-02", SEED;
    /// Register lists the Security object's instances.
    RegisterListsSecurity = "register-lists-security", ResponseOnly, "BS-REG-04, BS-OBJ-02", ALL;
}

impl Bug {
    /// Why no test vector can catch this bug any more, when none can (issue #9: the vectors
    /// state what the specification requires, and these bugs are either allowed by it or
    /// show only in behaviour it leaves to the client). The model checker still reports the
    /// ones that break an invariant.
    pub fn unobservable_by_vectors(self) -> Option<&'static str> {
        match self {
            Bug::DiscoverListsBootstrapUri => Some(
                "not a bug: the Bootstrap-Server's URI \"can also be omitted\" from Discover (Core 1.2 §6.1.7.3), so it may be given; it is the conforming variation bootstrap-uri",
            ),
            Bug::KeepServerInfoInPublishedProfile => Some(
                "the vectors no longer send the seed's keepServerInfo to a 1.x client: no published version has the parameter, and a client may refuse an unknown one",
            ),
            Bug::IgnoresExchangeLifetime => Some(
                "a session that never times out shows only in the next Bootstrap-Request, and whether and when a client retries a failed bootstrap is implementation dependent (BS-CI-09, Core 1.2 §6.2.1.1): the vector ends there, not observed; the model checker catches it (BS-CI-03 property)",
            ),
            _ => None,
        }
    }

    /// Looks a bug up by its name.
    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.iter().copied().find(|b| b.name() == name)
    }

    /// Whether the bug changes behaviour under `profile`.
    pub fn applies_to(self, profile: Profile) -> bool {
        self.profiles().contains(&profile)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of bugs switched into the reference client (empty for the reference itself).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BugSet(u64);

impl BugSet {
    /// No bug: the reference client.
    pub const NONE: BugSet = BugSet(0);

    /// The set holding only `bug`.
    pub fn only(bug: Bug) -> BugSet {
        BugSet(1 << bug as u8)
    }

    /// Whether `bug` is switched in.
    #[inline]
    pub fn has(self, bug: Bug) -> bool {
        self.0 & (1 << bug as u8) != 0
    }

    /// The bugs in the set.
    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.iter().copied().filter(move |b| self.has(*b))
    }
}

impl BugSet {
    /// The raw bits (bit `n` is the `n`-th bug of [`Bug::ALL`]).
    pub fn bits(self) -> u64 {
        self.0
    }

    /// A set from raw bits.
    pub fn from_bits(bits: u64) -> BugSet {
        BugSet(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_large_and_names_are_unique() {
        assert!(Bug::ALL.len() >= 20);
        assert!(Bug::ALL.len() <= 64, "BugSet is a u64");
        for b in Bug::ALL {
            assert_eq!(Bug::from_name(b.name()), Some(*b));
            assert!(!b.profiles().is_empty());
            assert!(b.requirements().starts_with("BS-"));
        }
    }
}
