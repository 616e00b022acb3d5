//! The in-process adapter: the model's reference client, optionally with an injected bug
//! (`--client ref`, `--client mutant:NAME`).

use crate::adapter::{Adapter, AdapterError, AdapterFactory, Observed};
use bootstrap_model::bugs::{Bug, BugSet};
use bootstrap_model::client::{Choices, Client, ClientSpec};
use bootstrap_model::profile::Profile;
use conformance::vector::{Step, Vector};
use std::time::Duration;

/// The reference client in this process.
pub struct InProcess {
    bugs: BugSet,
    running: Option<(Client, ClientSpec)>,
}

impl Adapter for InProcess {
    fn start(&mut self, v: &Vector, _timeout: Duration) -> Result<Observed, AdapterError> {
        let profile: Profile =
            v.profile
                .parse()
                .map_err(|e: bootstrap_model::profile::UnknownProfile| {
                    AdapterError::Spawn(e.to_string())
                })?;
        let spec = ClientSpec {
            profile,
            endpoint: "urn:dev:ref-1",
            bugs: self.bugs,
        };
        let mut choices = Choices::reference(profile);
        if let Some(p) = v.features.bootstrap_pack {
            choices.pack = p;
        }
        let (client, out) = Client::boot(&spec, v.factory_objects.clone(), choices);
        self.running = Some((client, spec));
        Ok(Observed {
            response: out.response,
            sends: out.send,
            violation: None,
        })
    }

    fn step(&mut self, step: &Step, _timeout: Duration) -> Result<Observed, AdapterError> {
        let (client, spec) = self
            .running
            .as_mut()
            .ok_or_else(|| AdapterError::Spawn("step before start".into()))?;
        let out = client.handle(spec, &step.stimulus.input());
        Ok(Observed {
            response: out.response,
            sends: out.send,
            violation: None,
        })
    }
}

/// Makes in-process reference clients, with `bugs` switched in.
pub struct InProcessFactory {
    /// Injected bugs (none for `ref`).
    pub bugs: BugSet,
}

impl InProcessFactory {
    /// `ref` or `mutant:NAME`.
    pub fn parse(spec: &str) -> Option<Result<InProcessFactory, String>> {
        if spec == "ref" {
            return Some(Ok(InProcessFactory { bugs: BugSet::NONE }));
        }
        let name = spec.strip_prefix("mutant:")?;
        Some(
            Bug::from_name(name)
                .map(|b| InProcessFactory {
                    bugs: BugSet::only(b),
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
            running: None,
        }))
    }

    fn describe(&self) -> String {
        match self.bugs.iter().next() {
            None => "reference client (in-process)".into(),
            Some(b) => format!("reference client with bug {b} (in-process)"),
        }
    }
}
