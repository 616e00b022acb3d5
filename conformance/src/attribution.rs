//! Which requirements a step exercises: the requirement IDs whose rule the step's expected
//! outcome depends on, so that a client breaking the rule would fail the step. Some rules
//! show only later (a Delete's effect shows in the next Discover), so the judgement also
//! reads a summary of what happened earlier in the vector ([`History`]).
//!
//! Requirements no vector exercises are listed in [`EXCLUDED`] and [`EXCLUDED_IN`] with their
//! group ([`Exclusion`]) and the reason; the coverage report prints them by group.

use bootstrap_model::client::{Content, Link, Outgoing, Output, Phase, WriteValue};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::monitor::Event;
use bootstrap_model::path::Path;
use bootstrap_model::profile::Profile;
use bootstrap_model::store::Inconsistency;
use bootstrap_model::system::{Action, SystemState};

/// Why a requirement that applies to a profile has no vector (issue #10): three groups,
/// so that coverage does not mix what cannot be observed with scope decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exclusion {
    /// No interface shows it: a property of the product, of the deployment or of the
    /// bootstrap server, or a behaviour the text leaves wholly to the client.
    Unobservable,
    /// Observable, but outside what the suite drives today; the reason names the issue or
    /// plan that brings it.
    OutOfScope,
    /// Observable with what the suite has today, and not yet exercised.
    NotYetExercised,
    /// Exercised by the transport rather than by a vector step: over DTLS (`lwm2m-certify
    /// --dtls`) every session of every vector is checked against it, whatever the step.
    ByTransport,
}

/// Requirements that no vector exercises in some profiles, the profiles, the group and why.
pub const EXCLUDED_IN: &[(&str, &[Profile], Exclusion, &str)] = &[
    (
        "BS-WRITE-04",
        &[Profile::Seed, Profile::V1_0],
        Exclusion::Unobservable,
        "without Bootstrap-Read (1.1+) nothing shows which resources an instance holds: Discover lists instances only",
    ),
    (
        "BS-KEEP-03",
        &[Profile::V1_0, Profile::V1_1, Profile::V1_2],
        Exclusion::OutOfScope,
        "by decision: the vectors do not send the seed's keepServerInfo to a 1.x client (no published version has the parameter, and a client may refuse an unknown query parameter); BS-KEEP-02 covers what a 1.x write must and must not change",
    ),
];

/// Why `id` has no vector in `profile`, if it has none by design: the reason, whatever its
/// group ([`exclusion`]).
pub fn unobservable(id: &str, profile: Profile) -> Option<&'static str> {
    exclusion(id, profile).map(|(_, why)| why)
}

/// The group and the reason of a requirement no vector exercises in `profile`.
pub fn exclusion(id: &str, profile: Profile) -> Option<(Exclusion, &'static str)> {
    EXCLUDED
        .iter()
        .find(|(u, _, _)| *u == id)
        .map(|(_, g, why)| (*g, *why))
        .or_else(|| {
            EXCLUDED_IN
                .iter()
                .find(|(u, ps, _, _)| *u == id && ps.contains(&profile))
                .map(|(_, _, g, why)| (*g, *why))
        })
}

/// Requirements that no vector exercises in any profile, their group, and why.
pub const EXCLUDED: &[(&str, Exclusion, &str)] = &[
    ("BS-ACCT-07", Exclusion::Unobservable, "how a device is provisioned at manufacture (SHOULD hold a BS account) is a property of the product, not a behaviour on the wire"),
    ("BS-CI-06", Exclusion::Unobservable, "keeping or dropping registrations while bootstrapping is the client's choice (A-14): both are correct, nothing to check"),
    ("BS-CI-07", Exclusion::Unobservable, "ignoring other requests while bootstrapping is allowed, not required: both are correct, nothing to check"),
    ("BS-CI-09", Exclusion::Unobservable, "retry timing for the bootstrap server is implementation-specific: no rule to check"),
    ("BS-SEC-03", Exclusion::Unobservable, "key uniqueness across BS, servers and clients is a deployment property"),
    ("BS-OBJ-07", Exclusion::Unobservable, "an obligation of the bootstrap server (Create rights, ACL owners), not of the client"),
    ("BS-FIN-07", Exclusion::Unobservable, "key entropy of the BS account is invisible on the wire"),
    ("BS-SEC-01", Exclusion::ByTransport, "over --dtls each server takes only the keys of its own account, so the bootstrap session and each server's session are separate sessions with their own keys (harness dtls_driver.rs; bootstrap-key-everywhere is caught)"),
    ("BS-SEC-02", Exclusion::ByTransport, "over --dtls every datagram must come inside a DTLS-PSK session authenticated with the account's key; plain CoAP to a coaps:// server and a wrong key are violations (dtls_driver.rs; plain-coap and wrong-bootstrap-key are caught; TLS and OSCORE have no plan yet)"),
    ("BS-SEC-05", Exclusion::ByTransport, "over --dtls the bootstrap server takes the Bootstrap-Server Account's PSK and each management server its account's, as the client's configuration holds them at each step (account_keys.rs, dtls_driver.rs); a management server that holds another key fails the handshake, which the register-handshake-failed vectors judge as a registration failure (A-27)"),
    ("BS-SEC-06", Exclusion::OutOfScope, "Certificate-with-EST needs an EST server and certificates on the wire: no plan yet (the DTLS transport does PSK only)"),
    ("BS-REQ-05", Exclusion::OutOfScope, "OSCORE (Echo challenge): the suite runs CoAP and CoAP over DTLS, not OSCORE; no plan yet (ARCHITECTURE.md says where it would go)"),
    ("BS-FACT-06", Exclusion::OutOfScope, "smartcard bootstrap needs a smartcard and a way to drive it; no plan yet"),
    ("BS-FACT-04", Exclusion::Unobservable, "Core 1.2 §6.1.4 steps 1-2: a Server Initiated Bootstrap attempt is ignored until the client has tried smartcard or factory bootstrap; a client without a smartcard that can receive a datagram has already loaded its factory configuration (it starts with it), so no server can reach it inside that window. What a push before the client's first request must get is BS-RB-04 (1.0) or A-10 (1.1+), which the bs-rb-04 vectors check where the launcher gives {client_port}"),
];

/// Path-dependent facts the judgement needs, updated step by step. Session flags reset when
/// a bootstrap session opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct History {
    flags: u32,
}

const WRITE: u32 = 1 << 0;
const ACCOUNT_WRITE: u32 = 1 << 1;
const DELETE: u32 = 1 << 2;
const DELETE_ROOT: u32 = 1 << 3;
const DELETE_SECURITY_OBJECT: u32 = 1 << 4;
const DELETE_ACCOUNT: u32 = 1 << 5;
const DELETE_PROTECTED: u32 = 1 << 6;
const KEEP_SERVER_INFO: u32 = 1 << 7;
const CASCADED: u32 = 1 << 8;
const KEPT: u32 = 1 << 9;
const REKEY: u32 = 1 << 10;
const BS_ACCOUNT_WRITE: u32 = 1 << 11;
const SERVER_WRITE: u32 = 1 << 12;
const FINISH_REFUSED: u32 = 1 << 13;
const RELATED_AT_WRITE: u32 = 1 << 14;
const FAILED_AFTER_BS_WRITE: u32 = 1 << 15;
/// Not reset by a new session:
const PURGED: u32 = 1 << 16;
const BOOTSTRAPPED: u32 = 1 << 17;
const FALLBACK: u32 = 1 << 18;
const TRIGGERED: u32 = 1 << 19;
const NOTIFIED: u32 = 1 << 20;
const EXPIRED: u32 = 1 << 21;
const REFUSED: u32 = 1 << 22;
const REGISTERED: u32 = 1 << 24;
const SESSION_MASK: u32 = 0xffff;

impl History {
    fn has(self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Whether a bootstrap attempt failed (a refused or lost Bootstrap-Request, a session
    /// that ran out) and no new attempt has been made since: the next one is a retry.
    pub fn retrying(self) -> bool {
        self.has(REFUSED | EXPIRED)
    }

    /// Whether a registration failed and the client has not asked for bootstrap since.
    pub fn falling_back(self) -> bool {
        self.has(FALLBACK)
    }

    /// The history after `action` moved the system from `pre` to `post`.
    pub fn after(
        self,
        pre: &SystemState,
        action: &Action,
        out: &Output,
        post: &SystemState,
    ) -> History {
        let mut f = self.flags;
        if pre.client.phase != Phase::Bootstrapping && post.client.phase == Phase::Bootstrapping {
            f &= !SESSION_MASK;
        }
        let code = out.response.as_ref().map(|r| r.code);
        f |= action_flags(f, pre, action, code);
        // Why a bootstrap attempt happens is told by the request it leads to; after that
        // the reasons are spent (fewer distinct histories to explore).
        if out.send.iter().any(|o| {
            matches!(
                o,
                Outgoing::BootstrapRequest { .. } | Outgoing::BootstrapPackRequest { .. }
            )
        }) {
            f &= !(FALLBACK | TRIGGERED | NOTIFIED | EXPIRED | REFUSED | FAILED_AFTER_BS_WRITE);
        }
        if matches!(action, Action::BootstrapFinish) && code == Some(ResponseCode::Changed) {
            f &= !REGISTERED;
        }
        match post.last.and_then(|l| l.event) {
            Some(Event::RelatedInformationRemoved) => f |= CASCADED,
            Some(Event::RelatedInformationKept) => f |= KEPT,
            _ => {}
        }
        History { flags: f }
    }
}

/// The flags `action` answered with `code` adds to the flags `f` (session flags already
/// reset when it opened a session).
fn action_flags(f: u32, pre: &SystemState, action: &Action, code: Option<ResponseCode>) -> u32 {
    match action {
        Action::BootstrapWrite {
            path,
            value,
            keep_server_info,
        } if code == Some(ResponseCode::Changed) => {
            write_flags(pre, *path, value, *keep_server_info)
        }
        Action::BootstrapDelete { path } if code == Some(ResponseCode::Deleted) => {
            DELETE | delete_flags(pre, *path)
        }
        Action::BootstrapFinish if code == Some(ResponseCode::NotAcceptable) => FINISH_REFUSED,
        Action::BootstrapFinish if code == Some(ResponseCode::Changed) => BOOTSTRAPPED,
        Action::BootstrapPackDelivered {
            consistent: true, ..
        } => BOOTSTRAPPED,
        Action::BootstrapAccountTimeoutExpired => PURGED,
        Action::RegisterAccepted { .. } => REGISTERED,
        Action::RegisterRejected { .. }
        | Action::RegisterLost { .. }
        | Action::RegisterHandshakeFailed { .. } => FALLBACK,
        Action::BootstrapRequestTrigger { .. } => TRIGGERED,
        Action::ReBootstrapNotification { .. } => NOTIFIED,
        Action::ExchangeLifetimeExpired if f & BS_ACCOUNT_WRITE != 0 => {
            EXPIRED | FAILED_AFTER_BS_WRITE
        }
        Action::ExchangeLifetimeExpired => EXPIRED,
        Action::BootstrapRequestRejected | Action::BootstrapRequestLost => REFUSED,
        _ => 0,
    }
}

/// What an accepted Bootstrap-Write tells later steps: a write happened (BS-WRITE-05), with
/// keepServerInfo (BS-KEEP-01/03), to an account (BS-ACCT-02), a new bootstrap URI
/// (BS-CI-04), new keys (BS-REG-05/BS-WIPE-05), a server (BS-WRITE-04), or over an account
/// with related information (BS-KEEP-02).
fn write_flags(pre: &SystemState, path: Path, value: &WriteValue, keep_server_info: bool) -> u32 {
    let store = &pre.client.store;
    let mut f = WRITE;
    if keep_server_info {
        f |= KEEP_SERVER_INFO;
    }
    match value {
        WriteValue::Security(s) if s.is_bootstrap() => {
            // Only a new bootstrap URI shows where the next request goes.
            let before = store.bootstrap_account().and_then(|(_, b)| b.uri);
            if before.is_some() && s.uri != before {
                f |= BS_ACCOUNT_WRITE;
            }
        }
        WriteValue::Security(_) => f |= ACCOUNT_WRITE,
        WriteValue::SecretKey(_) => f |= REKEY,
        WriteValue::Server(_) | WriteValue::ServerObject(_) | WriteValue::Lifetime(_) => {
            f |= SERVER_WRITE
        }
        _ => {}
    }
    if matches!(value, WriteValue::Security(_))
        && path
            .instance()
            .is_some_and(|x| store.security.get(x).is_some())
    {
        f |= REKEY;
    }
    if let WriteValue::Security(s) = value {
        if s.ssid.is_some_and(|id| store.has_related(id)) {
            f |= RELATED_AT_WRITE;
        }
    }
    f
}

/// What an accepted Bootstrap-Delete of `path` removed, for the next Discover (BS-WIPE-03/04,
/// BS-DEL-02/03) and Finish (BS-WIPE-02, BS-CI-05).
fn delete_flags(pre: &SystemState, path: Path) -> u32 {
    match path {
        Path::Root => DELETE_ROOT | DELETE_PROTECTED,
        Path::Object(0) => DELETE_SECURITY_OBJECT | DELETE_PROTECTED,
        Path::Instance(0, x)
            if pre
                .client
                .store
                .security
                .get(x)
                .is_some_and(|s| s.is_bootstrap()) =>
        {
            DELETE_PROTECTED
        }
        Path::Instance(0, _) => DELETE_ACCOUNT,
        _ => 0,
    }
}

/// A situation the vectors must show besides their transition classes and requirements,
/// because its outcome differs from a look-alike only in what the client must not do: a
/// Register refused by a server whose /1/y/16 (Bootstrap on Registration Failure) is false,
/// after which no Bootstrap-Request may come (BS-RB-05).
pub fn scenario(pre: &SystemState, action: &Action) -> Option<&'static str> {
    let Action::RegisterRejected { server } = action else {
        return None;
    };
    let to = bootstrap_model::objects::ServerUri::Server(*server);
    pre.client
        .store
        .server_accounts()
        .iter()
        .any(|a| a.uri == to && !a.bootstrap_on_failure)
        .then_some("a Register refused by a server whose /1/y/16 is false: no fallback (BS-RB-05)")
}

/// The requirements a factory configuration's power-on exercises (BS-FACT-01/03).
pub fn at_boot(sends: &[Outgoing]) -> Vec<&'static str> {
    if sends.iter().any(|o| matches!(o, Outgoing::Register { .. })) {
        vec![
            "BS-FACT-01",
            "BS-FACT-02",
            "BS-FACT-03",
            "BS-REG-01",
            "BS-REG-02",
            "BS-REG-03",
            "BS-REG-04",
        ]
    } else {
        vec!["BS-FACT-03", "BS-ACCT-08"]
    }
}

/// The requirements exercised by `action` taken in `pre` with history `h`, producing `out`
/// and `post`. Unfiltered: the caller keeps those that apply to the profile.
pub fn exercised(
    profile: Profile,
    h: History,
    pre: &SystemState,
    action: &Action,
    out: &Output,
    post: &SystemState,
) -> Vec<&'static str> {
    let s = Step {
        profile,
        h,
        pre,
        action,
        out,
        post,
        code: out.response.as_ref().map(|x| x.code),
        in_session: pre.client.phase == Phase::Bootstrapping,
        published: profile != Profile::Seed,
    };
    let mut r: Vec<&'static str> = Vec::new();
    bootstrap_attempt(&s, &mut r);
    match action {
        Action::BootstrapRequestAccepted
        | Action::BootstrapRequestRejected
        | Action::BootstrapRequestLost => r.push("BS-REQ-04"),
        Action::BootstrapPackDelivered {
            consistent: true, ..
        } => r.extend(["BS-PACK-02", "BS-PACK-03", "BS-PACK-04", "BS-REG-01"]),
        Action::BootstrapPackDelivered {
            consistent: false, ..
        }
        | Action::BootstrapPackNotImplemented => r.push("BS-PACK-04"),
        Action::BootstrapPackLost => r.push("BS-PACK-05"),
        Action::BootstrapWrite {
            path,
            value,
            keep_server_info,
        } => write(&s, *path, value, *keep_server_info, &mut r),
        Action::ServerWritesSecurity { .. } => r.extend(["BS-OBJ-02", "BS-SEC-04"]),
        Action::ServerReadsSecurity { .. } | Action::ServerDiscoversSecurity { .. } => {
            r.push("BS-OBJ-02")
        }
        Action::BootstrapRead { path } if s.in_session => read(&s, *path, &mut r),
        Action::BootstrapDiscover { .. } if s.in_session => discover(&s, &mut r),
        Action::BootstrapDelete { path } if s.in_session => delete(&s, *path, &mut r),
        Action::BootstrapFinish | Action::BootstrapFinishDuplicated
            if s.in_session || matches!(action, Action::BootstrapFinishDuplicated) =>
        {
            finish(&s, &mut r)
        }
        Action::RegisterRejected { .. }
        | Action::RegisterLost { .. }
        | Action::RegisterHandshakeFailed { .. } => registration_failed(&s, &mut r),
        Action::BootstrapRequestTrigger { .. } => match s.code {
            Some(ResponseCode::Changed) => r.push("BS-RB-03"),
            _ => no_bootstrap_account(h, &mut r),
        },
        Action::ReBootstrapNotification { .. } => r.extend(["BS-RB-01", "BS-RB-02"]),
        Action::ExchangeLifetimeExpired => r.push("BS-CI-03"),
        Action::BootstrapAccountTimeoutExpired => r.push("BS-FIN-06"),
        _ => {}
    }
    r.sort_unstable();
    r.dedup();
    r
}

/// One step as [`exercised`] reads it.
struct Step<'a> {
    profile: Profile,
    h: History,
    pre: &'a SystemState,
    action: &'a Action,
    out: &'a Output,
    post: &'a SystemState,
    code: Option<ResponseCode>,
    in_session: bool,
    published: bool,
}

impl Step<'_> {
    /// The Bootstrap-Request the client sends, if any.
    fn requested(&self) -> Option<&Outgoing> {
        self.out
            .send
            .iter()
            .find(|o| matches!(o, Outgoing::BootstrapRequest { .. }))
    }

    /// Whether the client sends a Bootstrap-Pack-Request.
    fn packed(&self) -> bool {
        self.out
            .send
            .iter()
            .any(|o| matches!(o, Outgoing::BootstrapPackRequest { .. }))
    }

    /// How many Registers the client sends.
    fn registers(&self) -> usize {
        self.out
            .send
            .iter()
            .filter(|o| matches!(o, Outgoing::Register { .. }))
            .count()
    }
}

/// A bootstrap attempt (or its absence) in the step, whatever the action:
/// [`bootstrap_request`], [`pack_request`], [`no_fallback_due`], [`attempt_after_hold_off`].
fn bootstrap_attempt(s: &Step, r: &mut Vec<&'static str>) {
    if let Some(Outgoing::BootstrapRequest {
        pct, device_info, ..
    }) = s.requested()
    {
        bootstrap_request(s, pct.is_some(), device_info.is_some(), r);
    }
    if s.packed() {
        pack_request(r);
    }
    no_fallback_due(s, r);
    attempt_after_hold_off(s, r);
}

/// A Bootstrap-Request: BS-CI-01/02, BS-REQ-01/03, BS-FACT-02, BS-ACCT-08; `pct=` BS-REQ-02;
/// seed Step 1 after a notification BS-RB-02; not to a BS account written in a failed
/// session BS-CI-04; to the alternate bootstrap URI written in a bootstrap BS-WRITE-08.
fn bootstrap_request(s: &Step, pct: bool, device_info: bool, r: &mut Vec<&'static str>) {
    let h = s.h;
    r.extend([
        "BS-CI-01",
        "BS-CI-02",
        "BS-REQ-01",
        "BS-REQ-03",
        "BS-FACT-02",
        "BS-ACCT-08",
    ]);
    if pct {
        r.push("BS-REQ-02");
    }
    if device_info && h.has(NOTIFIED) {
        r.push("BS-RB-02");
    }
    if h.has(FAILED_AFTER_BS_WRITE) {
        // The BS account written in the failed session must not be the one used.
        r.push("BS-CI-04");
    }
    if h.has(BOOTSTRAPPED)
        && s.pre
            .client
            .store
            .bootstrap_account()
            .and_then(|(_, s)| s.uri)
            == Some(bootstrap_model::objects::ServerUri::BootstrapAlternate)
    {
        r.push("BS-WRITE-08");
    }
}

/// A Bootstrap-Pack-Request: BS-PACK-01, BS-CI-01, BS-ACCT-08.
fn pack_request(r: &mut Vec<&'static str>) {
    r.extend(["BS-PACK-01", "BS-CI-01", "BS-ACCT-08"]);
}

/// BS-RB-05 (1.x): no fallback where none is due (/1/y/16 = false): the hold-off after a
/// registration failure passes without a bootstrap request.
fn no_fallback_due(s: &Step, r: &mut Vec<&'static str>) {
    if s.requested().is_none()
        && !s.packed()
        && matches!(s.action, Action::ClientHoldOffExpired)
        && s.h.has(FALLBACK)
        && s.published
    {
        r.push("BS-RB-05");
    }
}

/// A bootstrap request when the Client Hold Off Time passes: BS-FACT-05, and the reason
/// that led to it: a registration failure (BS-REG-06, BS-FACT-03, BS-RB-05, BS-RB-01), a
/// trigger (BS-RB-03), a seed notification (BS-RB-01/02), a session that ran out (BS-CI-03),
/// a refused or lost request (BS-REQ-04).
fn attempt_after_hold_off(s: &Step, r: &mut Vec<&'static str>) {
    if !((s.requested().is_some() || s.packed())
        && matches!(s.action, Action::ClientHoldOffExpired))
    {
        return;
    }
    let h = s.h;
    r.push("BS-FACT-05");
    if h.has(FALLBACK) {
        r.extend(["BS-REG-06", "BS-FACT-03", "BS-RB-05", "BS-RB-01"]);
    }
    if h.has(TRIGGERED) {
        r.push("BS-RB-03");
    }
    if h.has(NOTIFIED) {
        r.extend(["BS-RB-01", "BS-RB-02"]);
    }
    if h.has(EXPIRED) {
        r.push("BS-CI-03");
    }
    if h.has(REFUSED) {
        r.push("BS-REQ-04");
    }
}

/// Bootstrap-Write: outside a session BS-RB-04 (accepted) or BS-RB-06/BS-CI-08 (refused
/// without a BS account, or in the seed); accepted see [`write_accepted`]; refused in a
/// session BS-WRITE-06.
fn write(
    s: &Step,
    path: Path,
    value: &WriteValue,
    keep_server_info: bool,
    r: &mut Vec<&'static str>,
) {
    let accepted = s.code == Some(ResponseCode::Changed);
    if !s.in_session {
        if accepted {
            r.push("BS-RB-04");
        } else if s.pre.client.store.bootstrap_account().is_none() || s.profile == Profile::Seed {
            r.extend(["BS-RB-06", "BS-CI-08"]);
        }
    }
    if accepted {
        write_accepted(s, path, value, keep_server_info, r);
    } else if s.code.is_some() && s.in_session {
        r.push("BS-WRITE-06");
    }
}

/// An accepted Bootstrap-Write: BS-WRITE-01/07, BS-SEC-04, BS-OBJ-06; creating an instance
/// BS-WRITE-02; a second write BS-WRITE-05; what it names (see [`write_target`]); seed
/// keepServerInfo BS-KEEP-01; seed re-provisioning of a Short Server ID BS-ACCT-02.
fn write_accepted(
    s: &Step,
    path: Path,
    value: &WriteValue,
    keep_server_info: bool,
    r: &mut Vec<&'static str>,
) {
    let store = &s.pre.client.store;
    // BS-OBJ-06 (1.1+): the plain /o/i path of the bootstrap interface reached
    // the object, whatever path the client hosts its objects under.
    r.extend(["BS-WRITE-01", "BS-WRITE-07", "BS-SEC-04", "BS-OBJ-06"]);
    let creates = match path.object() {
        Some(0) => path
            .instance()
            .is_some_and(|x| store.security.get(x).is_none()),
        Some(1) => path
            .instance()
            .is_some_and(|x| store.server.get(x).is_none()),
        Some(2) => path
            .instance()
            .is_some_and(|x| store.access_control.get(x).is_none()),
        _ => false,
    };
    if creates {
        r.push("BS-WRITE-02");
    }
    if s.h.has(WRITE) {
        r.push("BS-WRITE-05");
    }
    write_target(path, value, r);
    if keep_server_info && !s.published {
        r.push("BS-KEEP-01");
    }
    if let (Some(x), WriteValue::Security(sec)) = (path.instance(), value) {
        let elsewhere = store
            .security
            .iter()
            .any(|(i, s)| i != x && !s.is_bootstrap() && s.ssid.is_some() && s.ssid == sec.ssid);
        if !s.published && elsewhere {
            // The seed keeps Short Server IDs unique by replacing the old account.
            r.push("BS-ACCT-02");
        }
    }
    // A cascade (BS-WIPE-01) or its absence (BS-KEEP-01) shows in the next
    // Discover, which credits it (`CASCADED`, `KEPT`); the write's code does not.
}

/// What an accepted write names: a whole object BS-WRITE-03/BS-OBJ-03, the BS account
/// BS-WRITE-08/BS-OBJ-01, a Security instance or key BS-OBJ-01, a Server BS-OBJ-03, an
/// Access Control instance BS-OBJ-04.
fn write_target(path: Path, value: &WriteValue, r: &mut Vec<&'static str>) {
    match (path, value) {
        (Path::Object(_), _) => r.extend(["BS-WRITE-03", "BS-OBJ-03"]),
        (_, WriteValue::Security(s)) if s.is_bootstrap() => r.extend(["BS-WRITE-08", "BS-OBJ-01"]),
        (_, WriteValue::Security(_) | WriteValue::SecretKey(_)) => r.push("BS-OBJ-01"),
        (_, WriteValue::Server(_) | WriteValue::Lifetime(_)) => r.push("BS-OBJ-03"),
        (_, WriteValue::AccessControl(_)) => r.push("BS-OBJ-04"),
        _ => {}
    }
}

/// Bootstrap-Read in a session: BS-READ-04; answered BS-READ-01/03, a Server read after a
/// server write BS-WRITE-04, and 1.x instances a write over related information kept
/// BS-KEEP-02 (with keepServerInfo BS-KEEP-03); refused BS-READ-02.
fn read(s: &Step, path: Path, r: &mut Vec<&'static str>) {
    let h = s.h;
    r.push("BS-READ-04");
    if s.code != Some(ResponseCode::Content) {
        r.push("BS-READ-02");
        return;
    }
    r.extend(["BS-READ-01", "BS-READ-03"]);
    if path.object() == Some(1) && h.has(SERVER_WRITE) {
        r.push("BS-WRITE-04");
    }
    // Only instances the answer must hold show what a write kept.
    let holds = match s.out.response.as_ref().and_then(|x| x.content.as_ref()) {
        Some(Content::Servers(xs)) => !xs.is_empty(),
        Some(Content::AccessControl(xs)) => !xs.is_empty(),
        _ => false,
    };
    if s.published && h.has(RELATED_AT_WRITE) && holds {
        r.push("BS-KEEP-02");
        if h.has(KEEP_SERVER_INFO) {
            r.push("BS-KEEP-03");
        }
    }
}

/// Bootstrap-Discover in a session: BS-DISC-01; answered BS-DISC-02/03, the links (see
/// [`discover_links`]) and what earlier steps did (see [`discover_after`]); refused
/// BS-DISC-05.
fn discover(s: &Step, r: &mut Vec<&'static str>) {
    r.push("BS-DISC-01");
    if s.code != Some(ResponseCode::Content) {
        r.push("BS-DISC-05");
        return;
    }
    r.extend(["BS-DISC-02", "BS-DISC-03"]);
    if let Some(Some(Content::Links { links, .. })) =
        s.out.response.as_ref().map(|x| x.content.as_ref())
    {
        discover_links(links, r);
    }
    discover_after(s, r);
}

/// The links of a Discover answer: a Security instance with its Short Server ID BS-DISC-04,
/// one without (the BS account) BS-ACCT-03.
fn discover_links(links: &[Link], r: &mut Vec<&'static str>) {
    if links
        .iter()
        .any(|l| l.path.object() == Some(0) && l.ssid.is_some())
    {
        r.push("BS-DISC-04");
    }
    if links
        .iter()
        .any(|l| l.path.object() == Some(0) && l.path.instance().is_some() && l.ssid.is_none())
    {
        r.push("BS-ACCT-03");
    }
}

/// What an answered Discover shows of earlier steps: Deletes of `/` BS-WIPE-03, of `/0`
/// BS-WIPE-04, of protected instances BS-DEL-03, of an account BS-DEL-02; writes BS-WRITE-02;
/// a seed cascade BS-WIPE-01 or keepServerInfo BS-KEEP-01; 1.x writes over related
/// information BS-KEEP-02 (with keepServerInfo BS-KEEP-03).
fn discover_after(s: &Step, r: &mut Vec<&'static str>) {
    let h = s.h;
    if h.has(DELETE_ROOT) {
        r.extend(["BS-WIPE-03", "BS-DEL-03"]);
    }
    if h.has(DELETE_SECURITY_OBJECT) {
        r.extend(["BS-WIPE-04", "BS-DEL-03"]);
    }
    if h.has(DELETE_PROTECTED) {
        r.push("BS-DEL-03");
    }
    if h.has(DELETE_ACCOUNT) {
        r.push("BS-DEL-02");
    }
    if h.has(WRITE) {
        r.push("BS-WRITE-02");
    }
    if h.has(CASCADED) {
        r.push("BS-WIPE-01");
    }
    if h.has(KEPT) {
        r.push("BS-KEEP-01");
    }
    if s.published && h.has(RELATED_AT_WRITE) {
        r.push("BS-KEEP-02");
        if h.has(KEEP_SERVER_INFO) {
            r.push("BS-KEEP-03");
        }
    }
}

/// Bootstrap-Delete in a session: BS-DEL-01/05; a second Delete BS-DEL-04; a Security
/// instance BS-DEL-02. What a Delete of `/` or `/o` removes (BS-WIPE-03/04) and any cascade
/// (BS-WIPE-01) show in the next Discover, which credits them.
fn delete(s: &Step, path: Path, r: &mut Vec<&'static str>) {
    r.extend(["BS-DEL-01", "BS-DEL-05"]);
    if s.h.has(DELETE) {
        r.push("BS-DEL-04");
    }
    if let Path::Instance(0, _) = path {
        r.push("BS-DEL-02");
    }
}

/// Bootstrap-Finish (in a session, or duplicated): BS-FIN-01; accepted see
/// [`finish_accepted`], refused see [`finish_refused`].
fn finish(s: &Step, r: &mut Vec<&'static str>) {
    r.push("BS-FIN-01");
    match s.code {
        Some(ResponseCode::Changed) if s.in_session => finish_accepted(s, r),
        Some(ResponseCode::NotAcceptable) => finish_refused(s, r),
        _ => {}
    }
}

/// An accepted Finish: BS-FIN-02/05, BS-CI-08, BS-ACCT-01; the Registers BS-REG-01..04 (to
/// several servers BS-ACCT-05); after a refusal BS-FIN-04; a re-bootstrap that kept the old
/// configuration BS-CI-05; new keys BS-REG-05/BS-WIPE-05; deleted accounts of registered
/// servers BS-WIPE-02; the account timeout armed BS-FIN-06.
fn finish_accepted(s: &Step, r: &mut Vec<&'static str>) {
    let h = s.h;
    let registers = s.registers();
    r.extend(["BS-FIN-02", "BS-FIN-05", "BS-CI-08", "BS-ACCT-01"]);
    if registers > 0 {
        r.extend(["BS-REG-01", "BS-REG-02", "BS-REG-03", "BS-REG-04"]);
    }
    if registers > 1 {
        r.push("BS-ACCT-05");
    }
    if h.has(FINISH_REFUSED) {
        r.push("BS-FIN-04");
    }
    if h.has(BOOTSTRAPPED) && !h.has(DELETE_ROOT) {
        r.push("BS-CI-05");
    }
    if h.has(REKEY) && registers > 0 {
        r.extend(["BS-REG-05", "BS-WIPE-05"]);
    }
    if h.has(REGISTERED)
        && (h.has(DELETE_ACCOUNT) || h.has(DELETE_ROOT) || h.has(DELETE_SECURITY_OBJECT))
    {
        r.push("BS-WIPE-02");
    }
    if s.post.client.account_timeout_armed {
        r.push("BS-FIN-06");
    }
}

/// A refused Finish: BS-FIN-02/03; the multi-server configuration refused by a client
/// without Access Control BS-OBJ-05; and the inconsistency refused: no server account
/// BS-ACCT-06, two BS accounts BS-ACCT-04/BS-WRITE-08, a duplicate or reserved Short Server
/// ID BS-ACCT-02.
fn finish_refused(s: &Step, r: &mut Vec<&'static str>) {
    let store = &s.pre.client.store;
    r.extend(["BS-FIN-02", "BS-FIN-03"]);
    if s.pre.client.choices.no_access_control && store.server_accounts().len() > 1 {
        r.push("BS-OBJ-05");
    }
    match store.consistency(false) {
        Err(Inconsistency::NoServerAccount) => r.push("BS-ACCT-06"),
        Err(Inconsistency::TwoBootstrapAccounts) => r.extend(["BS-ACCT-04", "BS-WRITE-08"]),
        Err(Inconsistency::DuplicateShortServerId(_) | Inconsistency::ReservedShortServerId) => {
            r.push("BS-ACCT-02")
        }
        _ => {}
    }
}

/// A refused or lost Register: the hold-off before the fallback BS-FACT-03, or without a BS
/// account see [`no_bootstrap_account`]. A Register accepted asks nothing of the client; the
/// Register itself credited BS-REG-01. The fallback shows when the hold-off expires
/// (`FALLBACK`: BS-REG-06, BS-RB-01/05); the client is silent until then.
fn registration_failed(s: &Step, r: &mut Vec<&'static str>) {
    if matches!(s.post.client.phase, Phase::HoldOff { .. }) {
        r.push("BS-FACT-03");
    } else if s.pre.client.store.bootstrap_account().is_none() {
        r.push("BS-ACCT-08");
        no_bootstrap_account(s.h, r);
    }
}

/// Nothing to bootstrap from without a BS account: BS-RB-06, and BS-FIN-06 when its timeout
/// purged it.
fn no_bootstrap_account(h: History, r: &mut Vec<&'static str>) {
    r.push("BS-RB-06");
    if h.has(PURGED) {
        r.push("BS-FIN-06");
    }
}
