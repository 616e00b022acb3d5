//! Monitors: after every step the system judges what the client did against the
//! specification and records a violation bit per rule in the ghost state. Each monitor is an
//! `always` property named after the requirement it encodes ([`crate::properties`]). The
//! monitors read the state before and after the step, the client's response and its outgoing
//! messages; they never read the client's private bookkeeping to decide what is right.

use crate::client::{Client, Input, Outgoing, Output, Phase, Registration, WriteValue};
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
///
/// The rules run in this order: an event a later rule records replaces an earlier one, and
/// the end-of-bootstrap rules read the event the action's rule recorded.
pub(crate) fn judge(
    m: &BootstrapSystem,
    pre: &SystemState,
    action: &Action,
    input: &Input,
    out: &Output,
    next: &mut SystemState,
) -> Option<Event> {
    let s = Step {
        m,
        pre,
        action,
        input,
        out,
        code: out.response.as_ref().map(|r| r.code),
    };
    let mut j = Verdict::default();
    j.check(Monitor::ResponseCodes, !answers_with_accepted_code(&s));
    open_session(&s, next, &mut j);
    judge_action(&s, next, &mut j);
    note_session_change(&s, next);
    j.check(
        Monitor::NoCommandOutsideSession,
        acts_on_forbidden_push(&s, next),
    );
    judge_end_of_bootstrap(&s, next, &mut j);
    j.check(
        Monitor::AccountTimeout,
        bootstrap_account_vanished(&s, next),
    );
    judge_sends(&s, next, &mut j);
    // Without a BS account there is nothing to fall back to (BS-RB-06).
    if next.client.store.bootstrap_account().is_none() {
        next.ghost.fallback_due = false;
    }
    j.check(
        Monitor::ConfigurationInForce,
        configuration_in_force_inconsistent(next),
    );
    note_faulty_environment(&s, next);
    next.ghost.violations |= j.violations.0;
    j.event
}

/// One step as the monitors see it: the state before, the action, the client's input and
/// output, and the code it answered with.
struct Step<'a> {
    m: &'a BootstrapSystem,
    pre: &'a SystemState,
    action: &'a Action,
    input: &'a Input,
    out: &'a Output,
    code: Option<ResponseCode>,
}

impl Step<'_> {
    /// The client before the step.
    fn before(&self) -> &Client {
        &self.pre.client
    }

    /// The client's store before the step.
    fn pre_store(&self) -> &ObjectStore {
        &self.pre.client.store
    }

    /// A successful end of bootstrap: Finish (or its duplicate) accepted in a session.
    fn finished(&self) -> bool {
        matches!(
            self.action,
            Action::BootstrapFinish | Action::BootstrapFinishDuplicated
        ) && self.code == Some(ResponseCode::Changed)
            && self.before().phase == Phase::Bootstrapping
    }
}

/// What the monitors found in one step: the rules it broke and its notable event.
#[derive(Default)]
struct Verdict {
    violations: Violations,
    event: Option<Event>,
}

impl Verdict {
    /// Records that the step broke `rule`.
    fn violated(&mut self, rule: Monitor) {
        self.violations.set(rule);
    }

    /// Records that the step broke `rule` when `broken`.
    fn check(&mut self, rule: Monitor, broken: bool) {
        if broken {
            self.violated(rule);
        }
    }
}

/// BS-WRITE-06/BS-DEL-05/BS-DISC-05/BS-READ-04/BS-FIN-02/BS-OBJ-02: the answer carries a code
/// the specification accepts for the command in the state observed before it.
fn answers_with_accepted_code(s: &Step) -> bool {
    let before = s.before();
    let observable = crate::spec::Observable {
        store: &before.store,
        in_session: s.pre.ghost.in_session,
        no_access_control: before.choices.no_access_control,
        access_control_delivered: s.pre.ghost.access_control_delivered,
    };
    match (
        expected_codes(s.m.config.profile, observable, s.input),
        s.code,
    ) {
        (Some(expected), Some(c)) => expected.contains(c),
        _ => true,
    }
}

/// Session bookkeeping when the step opens a bootstrap session (BS-CI-04, BS-FIN-04, BS-RB-04):
/// the BS account to restore, fresh per-session facts, and a push when a command opened it.
fn open_session(s: &Step, next: &mut SystemState, j: &mut Verdict) {
    let opened =
        s.before().phase != Phase::Bootstrapping && next.client.phase == Phase::Bootstrapping;
    if !opened {
        return;
    }
    next.ghost.committed = false;
    next.ghost.bootstrap_at_session_start = s.pre_store().bootstrap_account().map(|(i, s)| (i, *s));
    next.ghost.may_request = false;
    next.ghost.finish_refused = false;
    next.ghost.session_changed = false;
    // A session answers any pending need to bootstrap, whoever opened it.
    next.ghost.fallback_due = false;
    if s.action.is_bootstrap_command() {
        j.event = Some(Event::ServerInitiatedPush);
    }
}

/// The rules of the action itself: one arm per action a rule speaks of.
fn judge_action(s: &Step, next: &mut SystemState, j: &mut Verdict) {
    let code = s.code;
    let pre_store = s.pre_store();
    match s.action {
        Action::BootstrapDelete { .. } if code.is_some_and(|c| c.is_success()) => {
            judge_delete(s, &next.client.store, j);
        }
        Action::BootstrapWrite {
            path,
            value,
            keep_server_info,
        } if code == Some(ResponseCode::Changed) && !opened_illegally(s.m, s.pre) => {
            judge_write(s, *path, value, *keep_server_info, &next.client.store, j);
        }
        Action::BootstrapFinish if s.before().phase == Phase::Bootstrapping => {
            judge_finish(s, next, j);
        }
        Action::BootstrapFinishDuplicated => {
            j.check(
                Monitor::DuplicateFinish,
                !duplicate_answered_from_cache(s, next),
            );
        }
        Action::ExchangeLifetimeExpired => judge_session_timeout(next, j),
        Action::BootstrapRequestRejected | Action::BootstrapRequestLost => {
            next.ghost.env_faulty = true;
            next.ghost.may_request = false;
            j.event = Some(Event::RetryAfterRequestFailure);
        }
        Action::BootstrapRequestAccepted => {}
        Action::BootstrapPackDelivered {
            consistent: true, ..
        } => judge_pack_applied(next, j),
        Action::BootstrapPackDelivered {
            consistent: false, ..
        }
        | Action::BootstrapPackNotImplemented
        | Action::BootstrapPackLost => judge_pack_fallback(s, next, j),
        Action::RegisterAccepted { .. } => j.event = Some(Event::Registered),
        Action::RegisterRejected { server }
        | Action::RegisterLost { server }
        | Action::RegisterHandshakeFailed { server } => {
            next.ghost.env_faulty = true;
            if fallback_due_after_failure(s, *server) {
                next.ghost.fallback_due = true;
            }
        }
        Action::BootstrapRequestTrigger { .. }
            if code == Some(ResponseCode::Changed) && pre_store.bootstrap_account().is_some() =>
        {
            if bootstrap_under_way(&next.client.phase) {
                j.event = Some(Event::TriggeredBootstrap);
            } else {
                j.violated(Monitor::TriggerStartsBootstrap);
            }
        }
        Action::ReBootstrapNotification { uri, .. } if code == Some(ResponseCode::Changed) => {
            next.ghost.request_target = Some(*uri);
            j.event = Some(Event::NotifiedReBootstrap);
        }
        Action::ServerWritesSecurity { .. }
        | Action::ServerReadsSecurity { .. }
        | Action::ServerDiscoversSecurity { .. }
            if next.client.store != *pre_store =>
        {
            j.violated(Monitor::OnlyBootstrapServerProvisions);
        }
        Action::ClientHoldOffExpired => next.ghost.may_request = true,
        Action::BootstrapAccountTimeoutExpired => {
            if next.client.store.bootstrap_account().is_some() {
                j.violated(Monitor::AccountTimeout);
            } else {
                j.event = Some(Event::BootstrapAccountPurged);
            }
        }
        _ => {}
    }
}

/// A successful Bootstrap-Delete: BS-DEL-03/BS-WIPE-03 (the BS account and /3/0 survive) and,
/// in the seed, BS-WIPE-01 (nothing related to a removed account survives it).
fn judge_delete(s: &Step, post: &ObjectStore, j: &mut Verdict) {
    let pre_store = s.pre_store();
    j.check(
        Monitor::ProtectedSurviveDelete,
        protected_instance_lost(pre_store, post),
    );
    if !s.m.config.profile.cascades_account_removal() {
        return;
    }
    let after = post.security_ssids();
    for ssid in pre_store
        .security_ssids()
        .into_iter()
        .filter(|s| !after.contains(s))
    {
        if post.has_related(ssid) {
            j.violated(Monitor::SeedCascade);
        } else if pre_store.has_related(ssid) {
            j.event = Some(Event::RelatedInformationRemoved);
        }
    }
}

/// BS-DEL-03/BS-WIPE-03: the Bootstrap-Server Account or /3/0 did not survive a Delete.
fn protected_instance_lost(pre: &ObjectStore, post: &ObjectStore) -> bool {
    let account_lost = pre
        .bootstrap_account()
        .is_some_and(|(iid, bs)| post.security.get(iid) != Some(bs));
    account_lost || (pre.device && !post.device)
}

/// Bootstrap-Finish in a session: BS-FIN-02/BS-FIN-04 (a refused Finish leaves the client in
/// bootstrap, an accepted one ends it); notes a refusal and an acceptance after one.
fn judge_finish(s: &Step, next: &mut SystemState, j: &mut Verdict) {
    let in_bootstrap = next.client.phase == Phase::Bootstrapping;
    match s.code {
        Some(ResponseCode::Changed) => {
            j.check(Monitor::FinishOutcome, in_bootstrap);
            if s.pre.ghost.finish_refused {
                j.event = Some(Event::FinishAfterRefusal);
            }
        }
        Some(_) if !in_bootstrap => j.violated(Monitor::FinishOutcome),
        Some(_) => next.ghost.finish_refused = true,
        None => {}
    }
}

/// BS-FIN-01 (RFC 7252 4.5): a duplicated Finish gets the first answer and changes nothing.
fn duplicate_answered_from_cache(s: &Step, next: &SystemState) -> bool {
    let first = s.pre.last.and_then(|l| l.code);
    s.code == first
        && next.client.store == *s.pre_store()
        && next.client.phase == s.before().phase
        && s.out.send.is_empty()
}

/// EXCHANGE_LIFETIME ran out: BS-CI-03 (the session is over) and BS-CI-04 (the BS account is
/// as it was when the session opened).
fn judge_session_timeout(next: &mut SystemState, j: &mut Verdict) {
    j.check(
        Monitor::SessionTimeout,
        next.client.phase == Phase::Bootstrapping,
    );
    let post = &next.client.store;
    let now = post.bootstrap_account().map(|(i, s)| (i, *s));
    j.check(
        Monitor::FailedBootstrapRollback,
        now != next.ghost.bootstrap_at_session_start || post.bootstrap_account_count() > 1,
    );
    next.ghost.env_faulty = true;
    j.event = Some(Event::RetryAfterExchangeLifetime);
}

/// BS-PACK-04: a good Bootstrap-Pack needs no Finish: the client operates and registers.
fn judge_pack_applied(next: &mut SystemState, j: &mut Verdict) {
    let registers = matches!(next.client.phase, Phase::Operating)
        && !next
            .client
            .registrations
            .iter()
            .all(|r| *r == Registration::None);
    if registers {
        next.ghost.committed = true;
        next.ghost.may_request = false;
        j.event = Some(Event::PackApplied);
    } else {
        j.violated(Monitor::PackOutcome);
    }
}

/// BS-PACK-04/BS-PACK-05: a failed Bootstrap-Pack-Request falls back to Bootstrap-Request
/// (or, after silence, asks for the pack again) when there is a bootstrap URI (BS-RB-06),
/// and changes nothing.
fn judge_pack_fallback(s: &Step, next: &mut SystemState, j: &mut Verdict) {
    if matches!(
        s.action,
        Action::BootstrapPackDelivered { .. } | Action::BootstrapPackLost
    ) {
        next.ghost.env_faulty = true;
    }
    let requested = s.out.send.iter().any(|o| {
        matches!(o, Outgoing::BootstrapRequest { .. })
            // BS-PACK-05: after silence the client may also ask for the pack again.
            || matches!(s.action, Action::BootstrapPackLost)
                && matches!(o, Outgoing::BootstrapPackRequest { .. })
    });
    let post = &next.client.store;
    // Without a bootstrap URI left (BS-FIN-06 purge meanwhile) there is nothing to
    // fall back to (BS-RB-06).
    let can = next.ghost.request_target.is_some() || post.bootstrap_account().is_some();
    if requested != can || *post != *s.pre_store() {
        j.violated(Monitor::PackOutcome);
    } else {
        j.event = Some(Event::PackFallback);
    }
}

/// BS-REG-06/BS-RB-05: whether the failed registration with `server` obliges the client to
/// fall back to bootstrap, judged from the stored /1/y/16 and the registration states.
fn fallback_due_after_failure(s: &Step, server: u8) -> bool {
    let before = s.before();
    let pre_store = s.pre_store();
    if before.phase != Phase::Operating
        || before.registrations.get(server as usize) != Some(&Registration::Pending)
        || pre_store.bootstrap_account().is_none()
    {
        return false;
    }
    let bof = pre_store
        .server_accounts()
        .iter()
        .find(|a| a.uri == ServerUri::Server(server))
        .map(|a| a.bootstrap_on_failure)
        .unwrap_or(true);
    let all_failed = before.registrations.iter().enumerate().all(|(k, r)| {
        k == server as usize || matches!(r, Registration::None | Registration::Failed)
    });
    s.m.config
        .profile
        .rebootstrap_on_registration_failure(bof, all_failed)
}

/// BS-RB-03: the client is on its way to a bootstrap (holding off or requesting).
fn bootstrap_under_way(phase: &Phase) -> bool {
    matches!(
        phase,
        Phase::HoldOff { .. } | Phase::Requested { .. } | Phase::PackRequested { .. }
    )
}

/// BS-CI-04: notes that a bootstrap command changed more than the BS account in the
/// current session.
fn note_session_change(s: &Step, next: &mut SystemState) {
    if !s.action.is_bootstrap_command() {
        return;
    }
    let beyond_bs = |st: &ObjectStore| {
        let mut st = st.clone();
        st.security.retain(|_, x| !x.is_bootstrap());
        st
    };
    if beyond_bs(s.pre_store()) != beyond_bs(&next.client.store) {
        next.ghost.session_changed = true;
    }
}

/// BS-RB-06/BS-CI-08: a bootstrap command outside a session that the profile forbids
/// changed the store or the phase.
fn acts_on_forbidden_push(s: &Step, next: &SystemState) -> bool {
    s.action.is_bootstrap_command()
        && s.before().phase != Phase::Bootstrapping
        && opened_illegally(s.m, s.pre)
        && (next.client.store != *s.pre_store() || next.client.phase != s.before().phase)
}

/// A successful end of bootstrap (Finish or a good Pack): the configuration is committed,
/// BS-REG-01/BS-ACCT-05 (Register to every server account after Finish) and BS-FIN-06 (the
/// account timeout is armed).
fn judge_end_of_bootstrap(s: &Step, next: &mut SystemState, j: &mut Verdict) {
    let finished = s.finished();
    let ended = finished || j.event == Some(Event::PackApplied);
    if ended {
        next.ghost.request_target = None;
    }
    if finished {
        next.ghost.committed = true;
        j.check(
            Monitor::RegisterEveryServer,
            !registers_every_server(s, &next.client.store),
        );
    }
    if ended {
        j.check(Monitor::AccountTimeout, account_timeout_unarmed(next));
    }
}

/// BS-REG-01/BS-ACCT-05: the step sends a Register to every server account, and only those.
fn registers_every_server(s: &Step, post: &ObjectStore) -> bool {
    let mut want: Vec<ServerUri> = post.server_accounts().iter().map(|a| a.uri).collect();
    let mut got: Vec<ServerUri> = s
        .out
        .send
        .iter()
        .filter_map(|o| match o {
            Outgoing::Register { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    want.sort();
    got.sort();
    want == got
}

/// BS-FIN-06: the BS account has a timeout but the client did not arm it.
fn account_timeout_unarmed(next: &SystemState) -> bool {
    let timeout = next
        .client
        .store
        .bootstrap_account()
        .and_then(|(_, s)| s.account_timeout)
        .unwrap_or(0);
    timeout > 0 && !next.client.account_timeout_armed
}

/// BS-FIN-06: the BS account disappeared otherwise than by its timeout (or a write over it,
/// or the rollback of a failed session).
fn bootstrap_account_vanished(s: &Step, next: &SystemState) -> bool {
    s.pre_store().bootstrap_account().is_some()
        && next.client.store.bootstrap_account().is_none()
        && !matches!(
            s.action,
            Action::BootstrapAccountTimeoutExpired
                | Action::BootstrapWrite { .. }
                | Action::ExchangeLifetimeExpired
        )
}

/// The rules of the messages the client sends: Register and Bootstrap-(Pack-)Request.
fn judge_sends(s: &Step, next: &mut SystemState, j: &mut Verdict) {
    for o in &s.out.send {
        match o {
            Outgoing::Register { to, lifetime, .. } => {
                j.check(
                    Monitor::RegisterNotBootstrapServer,
                    registers_with_bootstrap_server(s, *to),
                );
                j.check(
                    Monitor::RegisterCompleteAccount,
                    !registers_with_complete_account(next, *to, *lifetime),
                );
                j.check(
                    Monitor::RegisterOnlyCommitted,
                    next.client.phase == Phase::Bootstrapping || !next.ghost.committed,
                );
            }
            Outgoing::BootstrapRequest { to, .. } | Outgoing::BootstrapPackRequest { to, .. } => {
                j.check(
                    Monitor::HoldOffBeforeRequest,
                    requests_without_hold_off(s, next, o),
                );
                j.check(Monitor::RequestTarget, Some(*to) != request_target(s, next));
                if next.ghost.fallback_due {
                    next.ghost.fallback_due = false;
                    if j.event.is_none() {
                        j.event = Some(Event::FallbackAfterRegistrationFailure);
                    }
                }
            }
        }
    }
}

/// BS-REG-01/BS-ACCT-03: a Register to the bootstrap server (either of its URIs, or the URI
/// of the BS account).
fn registers_with_bootstrap_server(s: &Step, to: ServerUri) -> bool {
    matches!(to, ServerUri::Bootstrap | ServerUri::BootstrapAlternate)
        || s.pre_store().bootstrap_account().and_then(|(_, s)| s.uri) == Some(to)
}

/// BS-REG-02/BS-ACCT-01/BS-REG-03: a Register goes to the URI of a complete server account,
/// with its lifetime.
fn registers_with_complete_account(next: &SystemState, to: ServerUri, lifetime: u32) -> bool {
    next.client
        .store
        .server_accounts()
        .iter()
        .any(|a| a.uri == to && a.lifetime == lifetime)
}

/// BS-FACT-05: a bootstrap request sent before the Client Hold Off Time passed (a
/// Bootstrap-Request falling back from a Pack-Request needs none).
fn requests_without_hold_off(s: &Step, next: &SystemState, o: &Outgoing) -> bool {
    let pack_fallback = matches!(o, Outgoing::BootstrapRequest { .. })
        && matches!(s.before().phase, Phase::PackRequested { .. });
    !next.ghost.may_request && !pack_fallback
}

/// BS-CI-01/BS-RB-02: where a bootstrap request must go: the URI of the seed Step 0
/// notification, else the stored bootstrap URI.
fn request_target(s: &Step, next: &SystemState) -> Option<ServerUri> {
    next.ghost
        .request_target
        .or_else(|| s.pre_store().bootstrap_account().and_then(|(_, s)| s.uri))
}

/// BS-ACCT-02/BS-ACCT-04: the committed configuration in force is inconsistent (having no
/// server account is no inconsistency here).
fn configuration_in_force_inconsistent(next: &SystemState) -> bool {
    next.ghost.committed
        && next.client.phase != Phase::Bootstrapping
        && next
            .client
            .store
            .consistency(false)
            .is_err_and(|e| e != crate::store::Inconsistency::NoServerAccount)
}

/// Notes a misbehaving bootstrap server: Finish on a configuration the specification calls
/// inconsistent (even the A-04 part), or a Write outside a session.
fn note_faulty_environment(s: &Step, next: &mut SystemState) {
    if matches!(s.action, Action::BootstrapFinish) && s.pre_store().consistency(true).is_err() {
        next.ghost.env_faulty = true;
    }
    if matches!(s.action, Action::BootstrapWrite { .. }) && s.before().phase != Phase::Bootstrapping
    {
        next.ghost.env_faulty = true;
    }
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

/// An accepted Bootstrap-Write: in the seed BS-WIPE-01/BS-KEEP-01 (see [`judge_seed_write`]),
/// in 1.x BS-KEEP-02/BS-KEEP-03 (see [`judge_published_write`]).
fn judge_write(
    s: &Step,
    path: Path,
    value: &WriteValue,
    ksi: bool,
    post: &ObjectStore,
    j: &mut Verdict,
) {
    if s.m.config.profile.cascades_account_removal() {
        judge_seed_write(s, path, value, ksi, post, j);
    } else {
        judge_published_write(s, path, value, ksi, post, j);
    }
}

/// Seed BS-WIPE-01/BS-KEEP-01: a Security write that removes or re-provisions an account
/// removes its related information, unless keepServerInfo keeps all of it.
fn judge_seed_write(
    s: &Step,
    path: Path,
    value: &WriteValue,
    ksi: bool,
    post: &ObjectStore,
    j: &mut Verdict,
) {
    let profile = s.m.config.profile;
    let pre_store = s.pre_store();
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
                j.violated(Monitor::SeedKeepServerInfo);
            } else if !was.is_empty() {
                j.event = Some(Event::RelatedInformationKept);
            }
        } else if !now.is_empty() {
            j.violated(Monitor::SeedCascade);
        } else if !was.is_empty() {
            j.event = Some(Event::RelatedInformationRemoved);
        }
    }
}

/// 1.x BS-KEEP-02 (only the named instance changes) and BS-KEEP-03 (the same write without
/// keepServerInfo gives the same result).
fn judge_published_write(
    s: &Step,
    path: Path,
    value: &WriteValue,
    ksi: bool,
    post: &ObjectStore,
    j: &mut Verdict,
) {
    j.check(
        Monitor::WriteOnlyNamedPath,
        masked(s.pre_store(), path) != masked(post, path),
    );
    if ksi {
        // The same write without the option must give the same result.
        let mut plain = s.before().clone();
        let input = Input::Write {
            from: crate::client::Peer::BootstrapServer,
            path,
            value: value.clone(),
            keep_server_info: false,
        };
        plain.handle(&s.m.spec, &input);
        j.check(
            Monitor::KeepServerInfoIgnoredInPublished,
            plain.store != *post,
        );
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

/// The monitors a step violated, a bit per [`Monitor`].
#[derive(Default)]
struct Violations(u32);

impl Violations {
    fn set(&mut self, m: Monitor) {
        self.0 |= 1 << m as u32;
    }
}
