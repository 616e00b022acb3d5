//! The in-process adapter: the model's reference client, optionally with an injected bug
//! (`--client ref`, `--client mutant:NAME`) or with conforming variations (`--variations`),
//! its output rendered as a client on the wire would send it
//! ([`conformance::observation`]).
//!
//! The behavioural variations are applied here, around the model, not in it: the model's
//! client stays the reference, and this driver drops a retry ([`Variations::no_retry`]),
//! sends a refused Register again ([`Variations::register_attempts`]) or refuses a 1.0 push
//! ([`Variations::no_server_push`]).

use crate::adapter::{Adapter, AdapterError, AdapterFactory, Observed};
use bootstrap_model::bugs::{Bug, BugSet};
use bootstrap_model::client::{Client, ClientSpec, Outgoing, Output, Phase};
use bootstrap_model::objects::ServerUri;
use bootstrap_model::system::Action;
use conformance::observation::{
    asked_accept, render_message, render_response, ObservedResponse, Variations,
};
use conformance::vector::{Step, Vector};
use conformance::wire::UriMap;
use std::time::Duration;

/// The reference client in this process.
pub struct InProcess {
    bugs: BugSet,
    vary: Variations,
    running: Option<Running>,
}

struct Running {
    client: Client,
    spec: ClientSpec,
    uris: UriMap,
    /// A bootstrap attempt failed: the next Bootstrap-Request is a retry.
    failed: bool,
    /// Gave up bootstrapping ([`Variations::no_retry`]).
    gave_up: bool,
    /// The last Register to each server, to send again.
    registers: Vec<(ServerUri, Outgoing)>,
}

impl Running {
    fn observe(&mut self, out: Output, vary: &Variations, accept: Option<u16>) -> Observed {
        let profile = self.spec.profile;
        let mut sends = Vec::new();
        for o in out.send {
            match &o {
                Outgoing::BootstrapRequest { .. } | Outgoing::BootstrapPackRequest { .. }
                    if vary.no_retry && (self.failed || self.gave_up) =>
                {
                    self.gave_up = true;
                    continue;
                }
                Outgoing::Register { to, .. } => {
                    self.registers.retain(|(t, _)| t != to);
                    self.registers.push((*to, o.clone()));
                }
                _ => {}
            }
            sends.push(render_message(&o, &self.uris, vary));
        }
        Observed {
            response: out
                .response
                .as_ref()
                .map(|r| render_response(r, profile, &self.uris, vary, accept)),
            sends,
            violation: None,
        }
    }
}

impl Adapter for InProcess {
    fn start(&mut self, v: &Vector, _timeout: Duration) -> Result<Observed, AdapterError> {
        let profile = crate::adapter::vector_profile(v)?;
        let spec = ClientSpec {
            profile,
            endpoint: "urn:dev:ref-1",
            bugs: self.bugs,
        };
        let choices = v.features.choices(profile);
        let (client, out) = Client::boot(&spec, v.factory_objects.clone(), choices);
        let mut r = Running {
            client,
            spec,
            uris: v.uris.clone(),
            failed: false,
            gave_up: false,
            registers: Vec::new(),
        };
        let o = r.observe(out, &self.vary, None);
        self.running = Some(r);
        Ok(o)
    }

    fn step(&mut self, step: &Step, _timeout: Duration) -> Result<Observed, AdapterError> {
        let vary = self.vary.clone();
        let r = self
            .running
            .as_mut()
            .ok_or_else(|| AdapterError::Spawn("step before start".into()))?;
        let a = &step.stimulus;
        if vary.no_server_push && a.is_bootstrap_command() && r.client.phase != Phase::Bootstrapping
        {
            // A 1.0 client without Server Initiated Bootstrap refuses the push.
            return Ok(Observed {
                response: Some(ObservedResponse {
                    code: "4.00".into(),
                    payload: None,
                    accept: None,
                }),
                ..Observed::default()
            });
        }
        let mut again = Vec::new();
        if let Action::RegisterRejected { server } | Action::RegisterLost { server } = a {
            // Its own retry procedure: the same Register again, refused (or lost) again.
            if let Some((_, reg)) = r
                .registers
                .iter()
                .find(|(t, _)| *t == ServerUri::Server(*server))
            {
                for _ in 1..vary.register_attempts.max(1) {
                    again.push(render_message(reg, &r.uris, &vary));
                }
            }
        }
        if matches!(
            a,
            Action::BootstrapRequestRejected
                | Action::BootstrapRequestLost
                | Action::ExchangeLifetimeExpired
        ) {
            r.failed = true;
        }
        if matches!(a, Action::BootstrapRequestAccepted) {
            r.failed = false;
        }
        let out = r.client.handle(&r.spec, &a.input());
        let accept = asked_accept(step.request.as_ref().and_then(|r| r.accept), &vary);
        let mut o = r.observe(out, &vary, accept);
        again.append(&mut o.sends);
        o.sends = again;
        Ok(o)
    }
}

/// Makes in-process reference clients, with `bugs` switched in and `vary` applied.
pub struct InProcessFactory {
    /// Injected bugs (none for `ref`).
    pub bugs: BugSet,
    /// Conforming variations.
    pub vary: Variations,
}

impl InProcessFactory {
    /// `ref` or `mutant:NAME`.
    pub fn parse(spec: &str) -> Option<Result<InProcessFactory, String>> {
        if spec == "ref" {
            return Some(Ok(InProcessFactory {
                bugs: BugSet::NONE,
                vary: Variations::default(),
            }));
        }
        let name = spec.strip_prefix("mutant:")?;
        Some(
            Bug::from_name(name)
                .map(|b| InProcessFactory {
                    bugs: BugSet::only(b),
                    vary: Variations::default(),
                })
                .ok_or_else(|| {
                    format!(
                        "--client {spec}: unknown bug {name:?} (see `lwm2m-bootstrap --list-bugs`)"
                    )
                }),
        )
    }
}

impl AdapterFactory for InProcessFactory {
    fn create(&self) -> Result<Box<dyn Adapter>, AdapterError> {
        Ok(Box::new(InProcess {
            bugs: self.bugs,
            vary: self.vary.clone(),
            running: None,
        }))
    }

    fn describe(&self) -> String {
        let vary = if self.vary == Variations::default() {
            String::new()
        } else {
            " with conforming variations".to_string()
        };
        match self.bugs.iter().next() {
            None => format!("reference client (in-process){vary}"),
            Some(b) => format!("reference client with bug {b} (in-process){vary}"),
        }
    }
}
