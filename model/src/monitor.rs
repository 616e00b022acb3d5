//! Monitors: after every step the system judges what the client did against the
//! specification and records a violation bit per rule in the ghost state. Each monitor is an
//! `always` property named after the requirement it encodes ([`crate::properties`]). The
//! monitors read the state before and after the step, the client's response and its outgoing
//! messages; they never read the client's private bookkeeping to decide what is right.

use crate::client::{Input, Outgoing, Output, Phase, Registration, WriteValue};
use crate::code::ResponseCode;
use crate::objects::ServerUri;
use crate::path::{Path, SECURITY};
use crate::profile::{Operation, PushAcceptance};
use crate::spec::expected_codes;
use crate::store::ObjectStore;
use crate::system::{Action, BootstrapSystem, SystemState};
use serde::{Deserialize, Serialize};

macro_rules! monitors {
    ($( $(#[$doc:meta])* $name:ident = $id:literal, $title:literal; )*) => {
        /// A rule judged after every step; its property is named by [`Monitor::title`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Monitor { $( $(#[$doc])* $name, )* }

        impl Monitor {
            /// Every monitor.
            pub const ALL: &'static [Monitor] = &[ $( Monitor::$name, )* ];

            /// The property's name for the checker: short (stateright hashes every property
            /// name for every state it visits) and unique.
            pub fn id(self) -> &'static str {
                match self { $( Monitor::$name => $id, )* }
            }

            /// The property as printed: requirement IDs first, then the rule.
            pub fn title(self) -> &'static str {
                match self { $( Monitor::$name => $title, )* }
            }
        }
    };
}

monitors! {
    /// Every answer to a bootstrap command is one the specification accepts.
    ResponseCodes = "BS-WRITE-06 codes", "BS-WRITE-06/BS-DEL-05/BS-DISC-05/BS-READ-04/BS-FIN-02/BS-OBJ-02: every answer carries a code the specification accepts";
    /// Bootstrap-Delete never removes the BS account or /3/0.
    ProtectedSurviveDelete = "BS-DEL-03", "BS-DEL-03/BS-WIPE-03: the Bootstrap-Server Account and /3/0 survive every Bootstrap-Delete";
    /// Seed: nothing related to a removed account survives it.
    SeedCascade = "BS-WIPE-01", "BS-WIPE-01 (seed): no information related to a server outlives the removal of its account";
    /// Seed: keepServerInfo keeps all related information.
    SeedKeepServerInfo = "BS-KEEP-01", "BS-KEEP-01 (seed): with keepServerInfo the related information is all still there";
    /// 1.x: a Write changes only the instance it names.
    WriteOnlyNamedPath = "BS-KEEP-02", "BS-KEEP-02 (1.x): a Bootstrap-Write changes only the path it names";
    /// 1.x: keepServerInfo changes nothing.
    KeepServerInfoIgnoredInPublished = "BS-KEEP-03", "BS-KEEP-03 (1.x): the keepServerInfo option changes nothing";
    /// Registration targets a complete account with its parameters.
    RegisterCompleteAccount = "BS-REG-02", "BS-REG-02/BS-ACCT-01/BS-REG-03: Register goes only to the URI of a Security+Server pair sharing one Short Server ID, with its lifetime";
    /// Never register with the bootstrap server.
    RegisterNotBootstrapServer = "BS-ACCT-03", "BS-REG-01/BS-ACCT-03: the client never registers with the bootstrap server";
    /// Register only with a committed configuration.
    RegisterOnlyCommitted = "BS-FIN-05", "BS-FIN-05/BS-CI-08: the client registers only after a successful Finish (or Pack) or from its factory configuration";
    /// After Finish, Register to every server.
    RegisterEveryServer = "BS-REG-01", "BS-REG-01/BS-ACCT-05: after a successful Finish the client registers with every server account";
    /// The configuration in force is consistent.
    ConfigurationInForce = "BS-ACCT-02", "BS-ACCT-02/BS-ACCT-04: the configuration in force has unique Short Server IDs and at most one Bootstrap-Server Account";
    /// Finish outcome and bootstrap state agree.
    FinishOutcome = "BS-FIN-04", "BS-FIN-02/BS-FIN-04: a refused Finish leaves the client in bootstrap, an accepted one ends it";
    /// A failed bootstrap restores the BS account.
    FailedBootstrapRollback = "BS-CI-04", "BS-CI-04: a failed bootstrap leaves the Bootstrap-Server Account as it was";
    /// A session without Finish ends after EXCHANGE_LIFETIME.
    SessionTimeout = "BS-CI-03", "BS-CI-03: without Finish the bootstrap fails after EXCHANGE_LIFETIME";
    /// Hold-off before every attempt.
    HoldOffBeforeRequest = "BS-FACT-05", "BS-FACT-05 (A-11): every bootstrap attempt waits the Client Hold Off Time first";
    /// Request target.
    RequestTarget = "BS-CI-01", "BS-CI-01/BS-RB-02: Bootstrap-Request goes to the stored bootstrap URI (seed: to the URI of the Step 0 notification)";
    /// No command outside a session when the profile forbids it.
    NoCommandOutsideSession = "BS-RB-06", "BS-RB-06/BS-CI-08: bootstrap commands outside a session change nothing unless the profile allows a push and a BS account exists";
    /// Management servers cannot change Security.
    OnlyBootstrapServerProvisions = "BS-SEC-04", "BS-SEC-04/BS-OBJ-02: a management server cannot change the Security object";
    /// BS account timeout.
    AccountTimeout = "BS-FIN-06", "BS-FIN-06: the Bootstrap-Server Account is deleted when its timeout has run, and only then";
    /// Trigger leads to bootstrap.
    TriggerStartsBootstrap = "BS-RB-03", "BS-RB-03: an accepted Bootstrap-Request Trigger is followed by a bootstrap";
    /// Pack fallback and success.
    PackOutcome = "BS-PACK-04", "BS-PACK-04: a failed Bootstrap-Pack-Request falls back to Bootstrap-Request; a good pack needs no Finish";
    /// Duplicates are answered from the cache.
    DuplicateFinish = "BS-FIN-01 dup", "BS-FIN-01 (RFC 7252 4.5): a duplicated Finish gets the first answer and changes nothing";
}

/// A notable event of a step, for the `sometimes` properties that show each re-bootstrap
/// path and mechanism is reachable.
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
pub enum Event {
    /// Re-bootstrap after every (or a /1/y/16) registration failed (BS-REG-06, BS-RB-05).
    FallbackAfterRegistrationFailure,
    /// Bootstrap retried after EXCHANGE_LIFETIME (BS-CI-03).
    RetryAfterExchangeLifetime,
    /// Bootstrap retried after a refused or lost Bootstrap-Request (BS-REQ-04).
    RetryAfterRequestFailure,
    /// Finish accepted after an earlier refusal in the same session (BS-FIN-04).
    FinishAfterRefusal,
    /// A 1.0 Server Initiated Bootstrap opened a session (BS-RB-04).
    ServerInitiatedPush,
    /// A Bootstrap-Request Trigger started a bootstrap (BS-RB-03).
    TriggeredBootstrap,
    /// A seed Step 0 notification started a re-bootstrap (BS-RB-02).
    NotifiedReBootstrap,
    /// A Bootstrap-Pack configured the client (BS-PACK-02).
    PackApplied,
    /// A failed Pack-Request fell back to Bootstrap-Request (BS-PACK-04).
    PackFallback,
    /// The BS account was purged after its timeout (BS-FIN-06).
    BootstrapAccountPurged,
    /// Seed: related information was removed with an account (BS-WIPE-01).
    RelatedInformationRemoved,
    /// Seed: keepServerInfo kept related information (BS-KEEP-01).
    RelatedInformationKept,
    /// The client registered with a server (BS-REG-01).
    Registered,
}

/// Judges one step; sets violation bits and ghost facts in `next`; returns the step's event.
pub(crate) fn judge(
    m: &BootstrapSystem,
    pre: &SystemState,
    action: &Action,
    input: &Input,
    out: &Output,
    next: &mut SystemState,
) -> Option<Event> {
    let profile = m.config.profile;
    let mut v = Violations(0);
    let mut event = None;
    let before = &pre.client;
    let code = out.response.as_ref().map(|r| r.code);
    let pre_store = &before.store;
    let post_store = &next.client.store;

    // Every answer carries an acceptable code.
    let observable = crate::spec::Observable {
        store: &before.store,
        in_session: pre.ghost.in_session,
        no_access_control: before.choices.no_access_control,
        access_control_delivered: pre.ghost.access_control_delivered,
    };
    if let (Some(expected), Some(c)) = (expected_codes(profile, observable, input), code) {
        if !expected.contains(c) {
            v.set(Monitor::ResponseCodes);
        }
    }

    // Session bookkeeping.
    let opened = before.phase != Phase::Bootstrapping && next.client.phase == Phase::Bootstrapping;
    if opened {
        next.ghost.committed = false;
        next.ghost.bootstrap_at_session_start = pre_store.bootstrap_account().map(|(i, s)| (i, *s));
        next.ghost.may_request = false;
        next.ghost.finish_refused = false;
        next.ghost.session_changed = false;
        // A session answers any pending need to bootstrap, whoever opened it.
        next.ghost.fallback_due = false;
        if action.is_bootstrap_command() {
            event = Some(crate::monitor::Event::ServerInitiatedPush);
        }
    }

    match action {
        Action::BootstrapDelete { .. } if code.is_some_and(|c| c.is_success()) => {
            if let Some((iid, bs)) = pre_store.bootstrap_account() {
                if post_store.security.get(iid) != Some(bs) {
                    v.set(Monitor::ProtectedSurviveDelete);
                }
            }
            if pre_store.device && !post_store.device {
                v.set(Monitor::ProtectedSurviveDelete);
            }
            if profile.cascades_account_removal() {
                let after = post_store.security_ssids();
                for ssid in pre_store
                    .security_ssids()
                    .into_iter()
                    .filter(|s| !after.contains(s))
                {
                    if post_store.has_related(ssid) {
                        v.set(Monitor::SeedCascade);
                    } else if pre_store.has_related(ssid) {
                        event = Some(Event::RelatedInformationRemoved);
                    }
                }
            }
        }
        Action::BootstrapWrite {
            path,
            value,
            keep_server_info,
        } if code == Some(ResponseCode::Changed) && !opened_illegally(m, pre) => {
            judge_write(
                m,
                pre,
                *path,
                value,
                *keep_server_info,
                post_store,
                &mut v,
                &mut event,
            );
        }
        Action::BootstrapFinish if before.phase == Phase::Bootstrapping => {
            let in_bootstrap = next.client.phase == Phase::Bootstrapping;
            match code {
                Some(ResponseCode::Changed) => {
                    if in_bootstrap {
                        v.set(Monitor::FinishOutcome);
                    }
                    if pre.ghost.finish_refused {
                        event = Some(Event::FinishAfterRefusal);
                    }
                }
                Some(_) if !in_bootstrap => v.set(Monitor::FinishOutcome),
                Some(_) => next.ghost.finish_refused = true,
                None => {}
            }
        }
        Action::BootstrapFinishDuplicated => {
            let first = pre.last.and_then(|l| l.code);
            if code != first
                || *post_store != *pre_store
                || next.client.phase != before.phase
                || !out.send.is_empty()
            {
                v.set(Monitor::DuplicateFinish);
            }
        }
        Action::ExchangeLifetimeExpired => {
            if next.client.phase == Phase::Bootstrapping {
                v.set(Monitor::SessionTimeout);
            }
            let now = post_store.bootstrap_account().map(|(i, s)| (i, *s));
            if now != next.ghost.bootstrap_at_session_start
                || post_store.bootstrap_account_count() > 1
            {
                v.set(Monitor::FailedBootstrapRollback);
            }
            next.ghost.env_faulty = true;
            event = Some(Event::RetryAfterExchangeLifetime);
        }
        Action::BootstrapRequestRejected | Action::BootstrapRequestLost => {
            next.ghost.env_faulty = true;
            next.ghost.may_request = false;
            event = Some(Event::RetryAfterRequestFailure);
        }
        Action::BootstrapRequestAccepted => {}
        Action::BootstrapPackDelivered {
            consistent: true, ..
        } => {
            if !matches!(next.client.phase, Phase::Operating)
                || next
                    .client
                    .registrations
                    .iter()
                    .all(|r| *r == Registration::None)
            {
                v.set(Monitor::PackOutcome);
            } else {
                next.ghost.committed = true;
                next.ghost.may_request = false;
                event = Some(Event::PackApplied);
            }
        }
        Action::BootstrapPackDelivered {
            consistent: false, ..
        }
        | Action::BootstrapPackNotImplemented
        | Action::BootstrapPackLost => {
            if matches!(
                action,
                Action::BootstrapPackDelivered { .. } | Action::BootstrapPackLost
            ) {
                next.ghost.env_faulty = true;
            }
            let requested = out.send.iter().any(|o| {
                matches!(o, Outgoing::BootstrapRequest { .. })
                    // BS-PACK-05: after silence the client may also ask for the pack again.
                    || matches!(action, Action::BootstrapPackLost)
                        && matches!(o, Outgoing::BootstrapPackRequest { .. })
            });
            // Without a bootstrap URI left (BS-FIN-06 purge meanwhile) there is nothing to
            // fall back to (BS-RB-06).
            let can =
                next.ghost.request_target.is_some() || post_store.bootstrap_account().is_some();
            if requested != can || *post_store != *pre_store {
                v.set(Monitor::PackOutcome);
            } else {
                event = Some(Event::PackFallback);
            }
        }
        Action::RegisterAccepted { .. } => event = Some(Event::Registered),
        Action::RegisterRejected { server } | Action::RegisterLost { server } => {
            next.ghost.env_faulty = true;
            // Is a fallback due? Judged from the stored /1/y/16 and the registration states.
            if before.phase == Phase::Operating
                && before.registrations.get(*server as usize) == Some(&Registration::Pending)
                && pre_store.bootstrap_account().is_some()
            {
                let bof = pre_store
                    .server_accounts()
                    .iter()
                    .find(|a| a.uri == ServerUri::Server(*server))
                    .map(|a| a.bootstrap_on_failure)
                    .unwrap_or(true);
                let all_failed = before.registrations.iter().enumerate().all(|(k, r)| {
                    k == *server as usize || matches!(r, Registration::None | Registration::Failed)
                });
                if profile.rebootstrap_on_registration_failure(bof, all_failed) {
                    next.ghost.fallback_due = true;
                }
            }
        }
        Action::BootstrapRequestTrigger { .. }
            if code == Some(ResponseCode::Changed) && pre_store.bootstrap_account().is_some() =>
        {
            if matches!(
                next.client.phase,
                Phase::HoldOff { .. } | Phase::Requested { .. } | Phase::PackRequested { .. }
            ) {
                event = Some(Event::TriggeredBootstrap);
            } else {
                v.set(Monitor::TriggerStartsBootstrap);
            }
        }
        Action::ReBootstrapNotification { uri, .. } if code == Some(ResponseCode::Changed) => {
            next.ghost.request_target = Some(*uri);
            event = Some(Event::NotifiedReBootstrap);
        }
        Action::ServerWritesSecurity { .. }
        | Action::ServerReadsSecurity { .. }
        | Action::ServerDiscoversSecurity { .. }
            if *post_store != *pre_store =>
        {
            v.set(Monitor::OnlyBootstrapServerProvisions);
        }
        Action::ClientHoldOffExpired => next.ghost.may_request = true,
        Action::BootstrapAccountTimeoutExpired => {
            if post_store.bootstrap_account().is_some() {
                v.set(Monitor::AccountTimeout);
            } else {
                event = Some(Event::BootstrapAccountPurged);
            }
        }
        _ => {}
    }

    if action.is_bootstrap_command() {
        let beyond_bs = |st: &ObjectStore| {
            let mut st = st.clone();
            st.security.retain(|_, x| !x.is_bootstrap());
            st
        };
        if beyond_bs(pre_store) != beyond_bs(post_store) {
            next.ghost.session_changed = true;
        }
    }

    // A bootstrap command outside a session that the profile forbids changes nothing.
    if action.is_bootstrap_command()
        && before.phase != Phase::Bootstrapping
        && opened_illegally(m, pre)
        && (*post_store != *pre_store || next.client.phase != before.phase)
    {
        v.set(Monitor::NoCommandOutsideSession);
    }

    // A successful end of bootstrap: registrations to every account, timer armed.
    let finished = matches!(
        action,
        Action::BootstrapFinish | Action::BootstrapFinishDuplicated
    ) && code == Some(ResponseCode::Changed)
        && before.phase == Phase::Bootstrapping;
    if finished || event == Some(Event::PackApplied) {
        next.ghost.request_target = None;
    }
    if finished {
        next.ghost.committed = true;
        let mut want: Vec<ServerUri> = post_store.server_accounts().iter().map(|a| a.uri).collect();
        let mut got: Vec<ServerUri> = out
            .send
            .iter()
            .filter_map(|o| match o {
                Outgoing::Register { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        want.sort();
        got.sort();
        if want != got {
            v.set(Monitor::RegisterEveryServer);
        }
    }
    if finished || event == Some(Event::PackApplied) {
        let timeout = post_store
            .bootstrap_account()
            .and_then(|(_, s)| s.account_timeout)
            .unwrap_or(0);
        if timeout > 0 && !next.client.account_timeout_armed {
            v.set(Monitor::AccountTimeout);
        }
    }
    if pre_store.bootstrap_account().is_some()
        && post_store.bootstrap_account().is_none()
        && !matches!(
            action,
            Action::BootstrapAccountTimeoutExpired
                | Action::BootstrapWrite { .. }
                | Action::ExchangeLifetimeExpired
        )
    {
        // The BS account disappears only when its timeout runs out.
        v.set(Monitor::AccountTimeout);
    }

    // Outgoing messages.
    for o in &out.send {
        match o {
            Outgoing::Register { to, lifetime, .. } => {
                if matches!(to, ServerUri::Bootstrap | ServerUri::BootstrapAlternate)
                    || pre_store.bootstrap_account().and_then(|(_, s)| s.uri) == Some(*to)
                {
                    v.set(Monitor::RegisterNotBootstrapServer);
                }
                if !post_store
                    .server_accounts()
                    .iter()
                    .any(|a| a.uri == *to && a.lifetime == *lifetime)
                {
                    v.set(Monitor::RegisterCompleteAccount);
                }
                if next.client.phase == Phase::Bootstrapping || !next.ghost.committed {
                    v.set(Monitor::RegisterOnlyCommitted);
                }
            }
            Outgoing::BootstrapRequest { to, .. } | Outgoing::BootstrapPackRequest { to, .. } => {
                let pack_fallback = matches!(o, Outgoing::BootstrapRequest { .. })
                    && matches!(before.phase, Phase::PackRequested { .. });
                if !next.ghost.may_request && !pack_fallback {
                    v.set(Monitor::HoldOffBeforeRequest);
                }
                let want = next
                    .ghost
                    .request_target
                    .or_else(|| pre_store.bootstrap_account().and_then(|(_, s)| s.uri));
                if Some(*to) != want {
                    v.set(Monitor::RequestTarget);
                }
                if next.ghost.fallback_due {
                    next.ghost.fallback_due = false;
                    if event.is_none() {
                        event = Some(Event::FallbackAfterRegistrationFailure);
                    }
                }
            }
        }
    }

    // Without a BS account there is nothing to fall back to (BS-RB-06).
    if post_store.bootstrap_account().is_none() {
        next.ghost.fallback_due = false;
    }

    // The configuration in force.
    if next.ghost.committed && next.client.phase != Phase::Bootstrapping {
        if let Err(e) = post_store.consistency(false) {
            if e != crate::store::Inconsistency::NoServerAccount {
                v.set(Monitor::ConfigurationInForce);
            }
        }
    }

    // Finish on a configuration the specification calls inconsistent (even the A-04 part)
    // means the bootstrap server misbehaved.
    if matches!(action, Action::BootstrapFinish) && pre_store.consistency(true).is_err() {
        next.ghost.env_faulty = true;
    }
    if matches!(action, Action::BootstrapWrite { .. }) && before.phase != Phase::Bootstrapping {
        next.ghost.env_faulty = true;
    }

    next.ghost.violations |= v.0;
    event
}

/// Whether a bootstrap command arriving now (outside a session) is one the profile forbids
/// the client to act on.
fn opened_illegally(m: &BootstrapSystem, pre: &SystemState) -> bool {
    if pre.client.phase == Phase::Bootstrapping {
        return false;
    }
    let has_bs = pre.client.store.bootstrap_account().is_some();
    match m.config.profile.push_acceptance() {
        PushAcceptance::Required | PushAcceptance::Allowed => !has_bs,
        PushAcceptance::Refused => true,
    }
}

#[allow(clippy::too_many_arguments)]
fn judge_write(
    m: &BootstrapSystem,
    pre: &SystemState,
    path: Path,
    value: &WriteValue,
    ksi: bool,
    post: &ObjectStore,
    v: &mut Violations,
    event: &mut Option<Event>,
) {
    let profile = m.config.profile;
    let pre_store = &pre.client.store;
    if profile.cascades_account_removal() {
        // Seed: which accounts did this write remove or re-provision?
        let (Path::Instance(SECURITY, _), WriteValue::Security(sec)) = (path, value) else {
            return;
        };
        if sec.is_bootstrap() {
            return;
        }
        // Removed accounts, and the account re-provisioned under the same Short Server ID.
        let after = post.security_ssids();
        let mut touched: Vec<_> = pre_store
            .security_ssids()
            .into_iter()
            .filter(|s| !after.contains(s))
            .collect();
        if let Some(ssid) = sec.ssid {
            if pre_store.security_ssids().contains(&ssid) && !touched.contains(&ssid) {
                touched.push(ssid);
            }
        }
        let keep = ksi && profile.supports(Operation::KeepServerInfo);
        for ssid in touched {
            let was = pre_store.related_snapshot(ssid);
            let now = post.related_snapshot(ssid);
            if keep {
                if was != now {
                    v.set(Monitor::SeedKeepServerInfo);
                } else if !was.is_empty() {
                    *event = Some(Event::RelatedInformationKept);
                }
            } else if !now.is_empty() {
                v.set(Monitor::SeedCascade);
            } else if !was.is_empty() {
                *event = Some(Event::RelatedInformationRemoved);
            }
        }
    } else {
        // 1.x: only the named instance may change.
        if masked(pre_store, path) != masked(post, path) {
            v.set(Monitor::WriteOnlyNamedPath);
        }
        if ksi {
            // The same write without the option must give the same result.
            let mut plain = pre.client.clone();
            let input = Input::Write {
                from: crate::client::Peer::BootstrapServer,
                path,
                value: value.clone(),
                keep_server_info: false,
            };
            plain.handle(&m.spec, &input);
            if plain.store != *post {
                v.set(Monitor::KeepServerInfoIgnoredInPublished);
            }
        }
    }
}

/// The store without what `path` names (the whole instance for a resource path).
fn masked(s: &ObjectStore, path: Path) -> ObjectStore {
    let mut s = s.clone();
    match path {
        Path::Root => return ObjectStore::default(),
        Path::Object(0) => s.security = Default::default(),
        Path::Object(1) => s.server = Default::default(),
        Path::Object(2) => s.access_control = Default::default(),
        Path::Instance(0, i) | Path::Resource(0, i, _) => {
            s.security.remove(i);
        }
        Path::Instance(1, i) | Path::Resource(1, i, _) => {
            s.server.remove(i);
        }
        Path::Instance(2, i) | Path::Resource(2, i, _) => {
            s.access_control.remove(i);
        }
        _ => {}
    }
    s
}

struct Violations(u32);

impl Violations {
    fn set(&mut self, m: Monitor) {
        self.0 |= 1 << m as u32;
    }
}
