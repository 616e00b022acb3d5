//! What the specification accepts as the client's answer to one input, computed from what
//! can be observed of the client before the input ([`Observable`]: the objects it holds,
//! whether a bootstrap session is open) and independently of the reference client's code
//! paths, so that an injected bug in the client is judged against this, not against itself.
//! Where several answers are allowed (ambiguities) the set holds all
//! of them. The configuration check of Bootstrap-Finish ([`finish_verdict`]) and the server
//! accounts ([`accounts`]) are written here apart from the client's
//! (`ObjectStore::consistency`, `ObjectStore::server_accounts`); a test compares them on every
//! reachable state.

use crate::client::{Input, Peer, WriteValue};
use crate::code::{CodeSet, ResponseCode};
use crate::objects::ServerUri;
use crate::path::{Path, ACCESS_CONTROL, DEVICE, SECURITY, SERVER};
use crate::profile::{
    missing_delete_codes, protected_delete_codes, refusal_codes, Operation, Profile, PushAcceptance,
};
use crate::store::ObjectStore;

/// What the suite can observe of a client before a step: the objects it holds (Discover
/// and Read show them) and whether a bootstrap session is open, which the system tracks
/// from the client's answers (a Bootstrap-Request answered 2.04 or a command it accepted
/// without one opens it; Finish answered 2.04, or EXCHANGE_LIFETIME, ends it), never from
/// the client's own phase.
#[derive(Clone, Copy, Debug)]
pub struct Observable<'a> {
    /// The objects.
    pub store: &'a ObjectStore,
    /// Whether a bootstrap session is open.
    pub in_session: bool,
    /// Whether the client lacks the Access Control object, as it declares (a feature, like
    /// its profile: BS-OBJ-05).
    pub no_access_control: bool,
    /// Whether the bootstrap server wrote Access Control instances in this session.
    pub access_control_delivered: bool,
}

/// A LwM2M Server Account as the specification defines it (BS-ACCT-01, BS-REG-02): a
/// Security instance that is not the Bootstrap-Server's, complete (URI, mode, keys, a Short
/// Server ID that is neither 0 nor 65535), joined by that Short Server ID to a Server
/// instance that carries a lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Account {
    /// Where the client registers.
    pub uri: ServerUri,
    /// `lt` of Register (/1/y/1).
    pub lifetime: u32,
}

/// The accounts of `store` (see [`Account`]), in Security instance order; each Security
/// instance with the first Server instance that has its Short Server ID and a lifetime.
pub fn accounts(store: &ObjectStore) -> Vec<Account> {
    let mut out = Vec::new();
    for (_, sec) in store.security.iter() {
        if sec.bootstrap != Some(false) {
            continue;
        }
        let (Some(uri), Some(ssid), Some(_), Some(_)) = (sec.uri, sec.ssid, sec.mode, sec.key)
        else {
            continue;
        };
        if ssid == 0 || ssid == u16::MAX {
            continue;
        }
        let server = store
            .server
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.ssid == Some(ssid) && s.lifetime.is_some());
        if let Some(lifetime) = server.and_then(|s| s.lifetime) {
            out.push(Account { uri, lifetime });
        }
    }
    out
}

/// What Bootstrap-Finish must answer on a configuration (BS-FIN-02/03, A-04).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishVerdict {
    /// Every client must accept it (2.04).
    Accept,
    /// A client may accept it or refuse it (A-04: unpaired or incomplete instances).
    Either,
    /// Every client must refuse it (4.06): two Bootstrap-Server Accounts (BS-ACCT-04), a
    /// reserved, missing or repeated Short Server ID (BS-ACCT-02), no complete server
    /// account (BS-ACCT-06, ETS int-9).
    Refuse,
}

/// The configuration check of Bootstrap-Finish, decided from the store alone.
pub fn finish_verdict(store: &ObjectStore) -> FinishVerdict {
    let reserved = |id: u16| id == 0 || id == u16::MAX;
    let bs_accounts = store
        .security
        .iter()
        .filter(|(_, s)| s.bootstrap == Some(true))
        .count();
    let server_ssids: Vec<Option<u16>> = store
        .security
        .iter()
        .filter(|(_, s)| s.bootstrap != Some(true))
        .map(|(_, s)| s.ssid)
        .collect();
    let security_bad = store
        .security
        .iter()
        .any(|(_, s)| s.bootstrap == Some(false) && s.ssid.is_none_or(reserved));
    let repeated = |ids: &[u16]| ids.iter().enumerate().any(|(i, x)| ids[..i].contains(x));
    let sec_ids: Vec<u16> = server_ssids.iter().flatten().copied().collect();
    let srv_ids: Vec<u16> = store.server.iter().filter_map(|(_, s)| s.ssid).collect();
    if bs_accounts > 1
        || security_bad
        || repeated(&sec_ids)
        || repeated(&srv_ids)
        || srv_ids.iter().any(|id| reserved(*id))
        || accounts(store).is_empty()
    {
        return FinishVerdict::Refuse;
    }
    let paired = accounts(store).len();
    let incomplete = store.security.iter().any(|(_, s)| {
        s.uri.is_none()
            || s.bootstrap.is_none()
            || s.mode.is_none()
            || s.key.is_none()
            || (s.bootstrap != Some(true) && s.ssid.is_none())
    });
    if incomplete || server_ssids.len() != paired || store.server.len() != paired {
        FinishVerdict::Either
    } else {
        FinishVerdict::Accept
    }
}

/// The response codes the specification accepts for `input` given what is observable of
/// the client before it, or `None` when the input gets no response (answers to the client's
/// own requests, timers) or is judged elsewhere (a CoAP duplicate, judged against the first
/// answer).
pub fn expected_codes(profile: Profile, pre: Observable<'_>, input: &Input) -> Option<CodeSet> {
    use ResponseCode::*;
    let from = match input {
        Input::Write { from, .. }
        | Input::Read { from, .. }
        | Input::Discover { from, .. }
        | Input::Delete { from, .. }
        | Input::Finish { from } => *from,
        Input::ExecuteBootstrapTrigger { instance, .. } => {
            return Some(
                if !profile.supports(Operation::BootstrapRequestTrigger)
                    || pre.store.server.get(*instance).is_none()
                {
                    CodeSet::of(&[NotFound])
                } else if pre.store.bootstrap_account().is_some() {
                    // BS-RB-03.
                    CodeSet::of(&[Changed])
                } else {
                    // BS-RB-06: nothing to bootstrap with; the answer is not specified.
                    CodeSet::of(&[Changed, BadRequest, MethodNotAllowed])
                },
            );
        }
        Input::ReBootstrapNotification { .. } => return Some(CodeSet::of(&[Changed])),
        _ => return None,
    };
    if from != Peer::BootstrapServer {
        // BS-OBJ-02: Security is invisible on the DM interface.
        return Some(CodeSet::of(&[Unauthorized]));
    }
    if pre.in_session {
        return Some(in_session(profile, pre, input));
    }
    let has_bs = pre.store.bootstrap_account().is_some();
    Some(match profile.push_acceptance() {
        PushAcceptance::Required if has_bs => in_session(profile, pre, input),
        PushAcceptance::Allowed if has_bs => {
            let a = in_session(profile, pre, input);
            CodeSet::of(&a.codes().chain(refusal_codes().codes()).collect::<Vec<_>>())
        }
        _ => refusal_codes(),
    })
}

/// The codes a bootstrap command from the bootstrap server may get in a session.
fn in_session(profile: Profile, pre: Observable<'_>, input: &Input) -> CodeSet {
    let no_acl = pre.no_access_control;
    match input {
        Input::Write { path, value, .. } => write_codes(path, value, no_acl),
        Input::Delete { path, .. } => delete_codes(pre.store, *path),
        Input::Discover { path, .. } => discover_codes(*path, no_acl),
        Input::Read { path, .. } => read_codes(profile, pre.store, *path, no_acl),
        Input::Finish { .. } => finish_codes(pre),
        _ => CodeSet::default(),
    }
}

/// Whether `store` holds instance `i` of object `o`.
fn exists(store: &ObjectStore, o: u16, i: u16) -> bool {
    match o {
        SECURITY => store.security.get(i).is_some(),
        SERVER => store.server.get(i).is_some(),
        ACCESS_CONTROL => store.access_control.get(i).is_some(),
        DEVICE => i == 0 && store.device,
        _ => false,
    }
}

/// BS-WRITE-06: a Bootstrap-Write of a value that fits its path is accepted, an undecodable
/// or unsupported payload refused; BS-OBJ-05, A-23: without the Access Control object, a
/// write to it may get any of several codes.
fn write_codes(path: &Path, value: &WriteValue, no_acl: bool) -> CodeSet {
    use ResponseCode::*;
    match (path, value) {
        // BS-OBJ-05, A-23: how a client without the Access Control object answers a write
        // to it is not said; Core 1.2 §6.1.5 only makes its Finish fail.
        (Path::Instance(ACCESS_CONTROL, _), WriteValue::AccessControl(_)) if no_acl => {
            CodeSet::of(&[
                Changed,
                BadRequest,
                NotFound,
                MethodNotAllowed,
                InternalServerError,
            ])
        }
        // BS-WRITE-06.
        _ => CodeSet::of(&[match (path, value) {
            (_, WriteValue::UnsupportedContentFormat) => UnsupportedContentFormat,
            (_, WriteValue::Undecodable) => BadRequest,
            (Path::Instance(SECURITY, _), WriteValue::Security(_))
            | (Path::Resource(SECURITY, _, 5), WriteValue::SecretKey(_))
            | (Path::Instance(SERVER, _), WriteValue::Server(_))
            | (Path::Resource(SERVER, _, 1), WriteValue::Lifetime(_))
            | (Path::Instance(ACCESS_CONTROL, _), WriteValue::AccessControl(_))
            | (Path::Object(SERVER), WriteValue::ServerObject(_)) => Changed,
            _ => BadRequest,
        }]),
    }
}

/// BS-DEL-01..05, A-06: a Bootstrap-Delete of the root, an object or an existing instance
/// is accepted, of a resource refused; the BS account and `/3/0` are protected.
fn delete_codes(store: &ObjectStore, path: Path) -> CodeSet {
    use ResponseCode::*;
    match path {
        Path::Resource(..) => CodeSet::of(&[BadRequest]),
        Path::Root | Path::Object(_) => CodeSet::of(&[Deleted]),
        Path::Instance(SECURITY, x) if store.security.get(x).is_some_and(|s| s.is_bootstrap()) => {
            protected_delete_codes()
        }
        Path::Instance(DEVICE, _) => protected_delete_codes(),
        Path::Instance(o, i) if exists(store, o, i) => CodeSet::of(&[Deleted]),
        Path::Instance(..) => missing_delete_codes(),
    }
}

/// BS-DISC-01, BS-DISC-05: a Bootstrap-Discover of the root or of an object the client has
/// succeeds, of another object is not found, of an instance or resource refused.
fn discover_codes(path: Path, no_acl: bool) -> CodeSet {
    use ResponseCode::*;
    match path {
        Path::Root => CodeSet::of(&[Content]),
        Path::Object(ACCESS_CONTROL) if no_acl => CodeSet::of(&[NotFound]),
        Path::Object(o) if o <= DEVICE => CodeSet::of(&[Content]),
        Path::Object(_) => CodeSet::of(&[NotFound]),
        _ => CodeSet::of(&[BadRequest]),
    }
}

/// BS-READ-01..04, A-05: a Bootstrap-Read of a readable object or existing instance
/// succeeds, of a missing instance is not found, of another target refused.
fn read_codes(profile: Profile, store: &ObjectStore, path: Path, no_acl: bool) -> CodeSet {
    use ResponseCode::*;
    match path.object() {
        // an object the client does not have: not found, or refused as a target.
        Some(ACCESS_CONTROL) if no_acl && profile.readable(ACCESS_CONTROL) => CodeSet::of(
            &refusal_codes()
                .codes()
                .chain([NotFound])
                .collect::<Vec<_>>(),
        ),
        Some(o) if profile.readable(o) => match path.instance() {
            Some(i) if !exists(store, o, i) => CodeSet::of(&[NotFound]),
            _ => CodeSet::of(&[Content]),
        },
        _ => refusal_codes(),
    }
}

/// BS-FIN-02/03, A-04: Bootstrap-Finish per [`finish_verdict`]; BS-OBJ-05: without Access
/// Control, several server accounts must be refused after Access Control instances were
/// delivered (Core 1.2 §6.1.5's example), and may be without them.
fn finish_codes(pre: Observable<'_>) -> CodeSet {
    use ResponseCode::*;
    let store = pre.store;
    let no_acl = pre.no_access_control;
    match finish_verdict(store) {
        FinishVerdict::Refuse => CodeSet::of(&[NotAcceptable]),
        _ if no_acl && accounts(store).len() > 1 && pre.access_control_delivered => {
            CodeSet::of(&[NotAcceptable])
        }
        _ if no_acl && accounts(store).len() > 1 => CodeSet::of(&[Changed, NotAcceptable]),
        FinishVerdict::Either => CodeSet::of(&[Changed, NotAcceptable]),
        FinishVerdict::Accept => CodeSet::of(&[Changed]),
    }
}
