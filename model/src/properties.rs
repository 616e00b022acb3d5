//! The properties the checker verifies, each named after the requirement IDs it checks.
//!
//! - One `always` property per [`Monitor`]: the rule judged after every step.
//! - Two liveness properties, checked exactly in terminal states: every behaviour of the
//!   model is finite (the environment works within budgets, see [`crate::system`]), so "in
//!   every terminal state, X holds or the obligation was discharged" is "X eventually holds
//!   on every path". (stateright's own `eventually` can miss counterexamples where paths
//!   join, which this formulation avoids.)
//! - `sometimes` properties showing that every operation, every response code and every
//!   re-bootstrap path is reachable, so that a property that holds only because nothing
//!   happens is caught.

use crate::code::ResponseCode;
use crate::monitor::{Event, Monitor};
use crate::profile::{Operation, Profile};
use crate::system::{ActionKind, BootstrapSystem, Config, SystemState};
use stateright::Property;

/// Name of the registration liveness property.
pub const EVENTUALLY_REGISTERS: &str = "live BS-FACT-03";
/// Name of the fallback liveness property.
pub const EVENTUALLY_FALLS_BACK: &str = "live BS-REG-06";

/// Property names (short, because stateright hashes each name for every state it visits)
/// and what they say.
const DESCRIPTIONS: &[(&str, &str)] = &[
    (EVENTUALLY_REGISTERS, "BS-FACT-03/BS-FIN-05/BS-REG-01 (liveness): without environment faults the client eventually registers"),
    (EVENTUALLY_FALLS_BACK, "BS-REG-06/BS-RB-05/BS-FACT-03 (liveness): after a registration failure that calls for it, the client eventually requests bootstrap"),
];

/// What the property named `name` says, as printed in reports.
pub fn describe(name: &str) -> String {
    if let Some(m) = Monitor::ALL.iter().find(|m| m.id() == name) {
        return m.title().to_string();
    }
    if let Some((_, d)) = DESCRIPTIONS.iter().find(|(n, _)| *n == name) {
        return d.to_string();
    }
    match name.split_once(' ') {
        Some(("step", k)) => format!("reachable: step {k}"),
        Some(("code", c)) => format!("reachable: client answers {c}"),
        Some(("event", e)) => format!("reachable: {e}"),
        _ => name.to_string(),
    }
}

macro_rules! always_monitor {
    ($m:ident) => {
        Property::<BootstrapSystem>::always(Monitor::$m.id(), |_, s| !Monitor::$m.violated_in(s))
    };
}

macro_rules! sometimes_kind {
    ($k:ident, $name:literal) => {
        (
            ActionKind::$k,
            Property::<BootstrapSystem>::sometimes(concat!("step ", $name), |_, s| {
                s.last.is_some_and(|l| l.kind == ActionKind::$k)
            }),
        )
    };
}

macro_rules! sometimes_code {
    ($c:ident, $name:literal) => {
        (
            ResponseCode::$c,
            Property::<BootstrapSystem>::sometimes(concat!("code ", $name), |_, s| {
                s.last.is_some_and(|l| l.code == Some(ResponseCode::$c))
            }),
        )
    };
}

macro_rules! sometimes_event {
    ($e:ident, $name:literal) => {
        (
            Event::$e,
            Property::<BootstrapSystem>::sometimes(concat!("event ", $name), |_, s| {
                s.last.is_some_and(|l| l.event == Some(Event::$e))
            }),
        )
    };
}

/// The properties for a configuration: the rules ([`rules`]), then the steps, answer
/// codes and events that must be reachable.
pub fn properties(config: &Config) -> Vec<Property<BootstrapSystem>> {
    let mut v = rules();
    v.extend(reachable_steps(config));
    v.extend(reachable_codes(config.profile));
    v.extend(reachable_events(config.profile));
    v
}

/// BS-FACT-03/BS-FIN-05/BS-REG-01 (liveness, exact in terminal states): without
/// environment faults the client eventually registers.
fn eventually_registers(m: &BootstrapSystem, s: &SystemState) -> bool {
    s.ghost.env_faulty || s.client.registered_anywhere() || !m.is_terminal(s)
}

/// BS-REG-06/BS-RB-05/BS-FACT-03 (liveness, exact in terminal states): after a registration
/// failure that calls for it, the client eventually requests bootstrap.
fn eventually_falls_back(m: &BootstrapSystem, s: &SystemState) -> bool {
    !s.ghost.fallback_due || !m.is_terminal(s)
}

/// The rules: one `always` property per monitor, then the two liveness properties. A
/// table, kept in one piece.
fn rules() -> Vec<Property<BootstrapSystem>> {
    let v = vec![
        always_monitor!(ResponseCodes),
        always_monitor!(ProtectedSurviveDelete),
        always_monitor!(SeedCascade),
        always_monitor!(SeedKeepServerInfo),
        always_monitor!(WriteOnlyNamedPath),
        always_monitor!(KeepServerInfoIgnoredInPublished),
        always_monitor!(RegisterCompleteAccount),
        always_monitor!(RegisterNotBootstrapServer),
        always_monitor!(RegisterOnlyCommitted),
        always_monitor!(RegisterEveryServer),
        always_monitor!(ConfigurationInForce),
        always_monitor!(FinishOutcome),
        always_monitor!(FailedBootstrapRollback),
        always_monitor!(SessionTimeout),
        always_monitor!(HoldOffBeforeRequest),
        always_monitor!(RequestTarget),
        always_monitor!(NoCommandOutsideSession),
        always_monitor!(OnlyBootstrapServerProvisions),
        always_monitor!(AccountTimeout),
        always_monitor!(TriggerStartsBootstrap),
        always_monitor!(PackOutcome),
        always_monitor!(DuplicateFinish),
        Property::always(EVENTUALLY_REGISTERS, eventually_registers),
        Property::always(EVENTUALLY_FALLS_BACK, eventually_falls_back),
    ];
    debug_assert_eq!(v.len(), Monitor::ALL.len() + 2);
    v
}

/// `sometimes` properties: every kind of step the configuration can take is reachable.
fn reachable_steps(config: &Config) -> Vec<Property<BootstrapSystem>> {
    let kinds = [
        sometimes_kind!(BootstrapRequestAccepted, "Bootstrap-Request accepted"),
        sometimes_kind!(BootstrapRequestRejected, "Bootstrap-Request rejected"),
        sometimes_kind!(BootstrapRequestLost, "Bootstrap-Request lost"),
        sometimes_kind!(BootstrapPackDelivered, "Bootstrap-Pack delivered"),
        sometimes_kind!(
            BootstrapPackNotImplemented,
            "Bootstrap-Pack-Request answered 5.01"
        ),
        sometimes_kind!(BootstrapPackLost, "Bootstrap-Pack-Request lost"),
        sometimes_kind!(BootstrapWrite, "Bootstrap-Write"),
        sometimes_kind!(BootstrapRead, "Bootstrap-Read"),
        sometimes_kind!(BootstrapDiscover, "Bootstrap-Discover"),
        sometimes_kind!(BootstrapDelete, "Bootstrap-Delete"),
        sometimes_kind!(BootstrapFinish, "Bootstrap-Finish"),
        sometimes_kind!(BootstrapFinishDuplicated, "Bootstrap-Finish duplicated"),
        sometimes_kind!(RegisterAccepted, "Register accepted"),
        sometimes_kind!(RegisterRejected, "Register rejected"),
        sometimes_kind!(RegisterLost, "Register lost"),
        sometimes_kind!(RegisterHandshakeFailed, "DTLS handshake for Register fails"),
        sometimes_kind!(BootstrapRequestTrigger, "Bootstrap-Request Trigger /1/x/9"),
        sometimes_kind!(ReBootstrapNotification, "seed Step 0 notification"),
        sometimes_kind!(ServerWritesSecurity, "management server writes /0"),
        sometimes_kind!(ServerReadsSecurity, "management server reads /0"),
        sometimes_kind!(ServerDiscoversSecurity, "management server discovers /0"),
        sometimes_kind!(ClientHoldOffExpired, "Client Hold Off Time passes"),
        sometimes_kind!(ExchangeLifetimeExpired, "EXCHANGE_LIFETIME passes"),
        sometimes_kind!(
            BootstrapAccountTimeoutExpired,
            "Bootstrap-Server Account Timeout passes"
        ),
    ];
    kinds
        .into_iter()
        .filter(|(k, _)| kind_reachable(config, *k))
        .map(|(_, p)| p)
        .collect()
}

/// `sometimes` properties: the client answers every response code the profile has.
fn reachable_codes(profile: Profile) -> Vec<Property<BootstrapSystem>> {
    let codes = [
        sometimes_code!(Deleted, "2.02"),
        sometimes_code!(Changed, "2.04"),
        sometimes_code!(Content, "2.05"),
        sometimes_code!(BadRequest, "4.00"),
        sometimes_code!(Unauthorized, "4.01"),
        sometimes_code!(NotFound, "4.04"),
        sometimes_code!(MethodNotAllowed, "4.05"),
        sometimes_code!(NotAcceptable, "4.06"),
        sometimes_code!(UnsupportedContentFormat, "4.15"),
    ];
    codes
        .into_iter()
        .filter(|(c, _)| {
            *c != ResponseCode::MethodNotAllowed || profile.supports(Operation::BootstrapRead)
        })
        .map(|(_, p)| p)
        .collect()
}

/// `sometimes` properties: every re-bootstrap path and mechanism the profile has is
/// reachable.
fn reachable_events(profile: Profile) -> Vec<Property<BootstrapSystem>> {
    let events = [
        sometimes_event!(
            FallbackAfterRegistrationFailure,
            "re-bootstrap after registration failure"
        ),
        sometimes_event!(
            RetryAfterExchangeLifetime,
            "re-bootstrap after EXCHANGE_LIFETIME"
        ),
        sometimes_event!(
            RetryAfterRequestFailure,
            "retry after a refused Bootstrap-Request"
        ),
        sometimes_event!(FinishAfterRefusal, "Finish accepted after a refusal"),
        sometimes_event!(ServerInitiatedPush, "server-initiated (push) bootstrap"),
        sometimes_event!(TriggeredBootstrap, "re-bootstrap by the /1/x/9 trigger"),
        sometimes_event!(
            NotifiedReBootstrap,
            "re-bootstrap by the seed Step 0 notification"
        ),
        sometimes_event!(PackApplied, "configuration by Bootstrap-Pack"),
        sometimes_event!(PackFallback, "Bootstrap-Pack fallback to Bootstrap-Request"),
        sometimes_event!(
            BootstrapAccountPurged,
            "Bootstrap-Server Account purged after its timeout"
        ),
        sometimes_event!(
            RelatedInformationRemoved,
            "seed cascade removes related information"
        ),
        sometimes_event!(
            RelatedInformationKept,
            "seed keepServerInfo keeps related information"
        ),
        sometimes_event!(Registered, "registration"),
    ];
    events
        .into_iter()
        .filter(|(e, _)| event_reachable(profile, *e))
        .map(|(_, p)| p)
        .collect()
}

fn kind_reachable(config: &Config, k: ActionKind) -> bool {
    let p = config.profile;
    match k {
        ActionKind::BootstrapRequestLost | ActionKind::RegisterLost => config.loss,
        ActionKind::BootstrapPackLost => config.loss && p.supports(Operation::BootstrapPackRequest),
        ActionKind::BootstrapFinishDuplicated => config.duplication,
        ActionKind::BootstrapPackDelivered | ActionKind::BootstrapPackNotImplemented => {
            p.supports(Operation::BootstrapPackRequest)
        }
        ActionKind::BootstrapRead => p.supports(Operation::BootstrapRead),
        ActionKind::BootstrapRequestTrigger => p.supports(Operation::BootstrapRequestTrigger),
        ActionKind::ReBootstrapNotification => p.supports(Operation::ReBootstrapNotification),
        _ => true,
    }
}

fn event_reachable(p: Profile, e: Event) -> bool {
    match e {
        Event::ServerInitiatedPush => {
            p.push_acceptance() != crate::profile::PushAcceptance::Refused
        }
        Event::TriggeredBootstrap => p.supports(Operation::BootstrapRequestTrigger),
        Event::NotifiedReBootstrap => p.supports(Operation::ReBootstrapNotification),
        Event::PackApplied | Event::PackFallback => p.supports(Operation::BootstrapPackRequest),
        Event::RelatedInformationRemoved | Event::RelatedInformationKept => {
            p.cascades_account_removal()
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_bits_do_not_overlap() {
        // `first_example` packs step kinds in bits 0..24, codes in 24..40, events in 40..64.
        assert!((ActionKind::BootstrapAccountTimeoutExpired as u32) < 24);
        assert!(ResponseCode::ALL.len() <= 16);
        assert!((Event::Registered as u32) < 24);
    }
}
