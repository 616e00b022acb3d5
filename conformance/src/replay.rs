//! Replaying a vector inside the model: the staleness check that replays committed vectors
//! against the reference client, and, with an injected bug, which vectors catch it. The
//! model's output is rendered as a client on the wire would send it
//! ([`crate::observation`]) and judged by the one judge every adapter uses
//! ([`crate::judge`]).

use crate::judge::{judge, Context, Finding};
use crate::observation::{asked_accept, render_message, render_response, Variations};
use crate::vector::Vector;
use crate::wire;
use crate::wire::CoapMessage;
use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{Client, Outgoing, Output};
use bootstrap_model::objects::ServerUri;
use bootstrap_model::profile::Profile;
use bootstrap_model::system::{BootstrapSystem, Factory};
use std::fmt;

/// Where and how a client departed from a vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The vector's name.
    pub vector: String,
    /// The step (1-based); 0 is power-on.
    pub step: usize,
    /// What differs.
    pub detail: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.step == 0 {
            write!(f, "vector {}, power-on: {}", self.vector, self.detail)
        } else {
            write!(
                f,
                "vector {}, step {}: {}",
                self.vector, self.step, self.detail
            )
        }
    }
}

/// The model a vector was generated from, with `bugs` switched into its client.
pub fn model_for(v: &Vector, bugs: BugSet) -> Result<BootstrapSystem, String> {
    let profile: Profile = v
        .profile
        .parse()
        .map_err(|e: bootstrap_model::profile::UnknownProfile| e.to_string())?;
    let (model, _) = crate::generate::model_with(profile, &v.provenance.config, &v.features, bugs)?;
    Ok(model)
}

/// Replays `v` inside the model with `bugs` in the client, its output rendered with the
/// variations `vary`. With no bug and no variation, this is the check that a committed
/// vector still fits the model: outcomes, wire encodings and properties. A step the judge
/// finds not observed ends the replay as passed (the client did something the vector
/// cannot follow, which the specification allows).
pub fn replay_in_model_with(v: &Vector, bugs: BugSet, vary: &Variations) -> Result<(), Mismatch> {
    let fail = |step: usize, detail: String| Mismatch {
        vector: v.name.clone(),
        step,
        detail,
    };
    let model = model_for(v, bugs).map_err(|e| fail(0, e))?;
    let profile = model.spec.profile;
    let ctx = Context {
        uris: &v.uris,
        endpoint: &v.endpoint,
    };
    let factory_index = Factory::ALL
        .iter()
        .position(|f| *f == v.factory)
        .unwrap_or(0);
    if v.factory.store() != v.factory_objects {
        return Err(fail(
            0,
            format!(
                "factory objects differ from the model's {:?} configuration",
                v.factory
            ),
        ));
    }
    let mut state = model.initial_states()[factory_index].clone();
    let (_, boot) = Client::boot(&model.spec, v.factory.store(), state.client.choices);
    // Servers that refuse the client's handshake: its Register to them shows as the
    // handshake (the vector's `SendRule::Handshake`), as on a DTLS transport.
    let mut held = std::collections::BTreeSet::new();
    let mut judged =
        |n: usize, expect: &crate::expectation::Expectation, out: &Output, accept: Option<u16>| {
            expect.update_held(&mut held);
            let accept = asked_accept(accept, vary);
            let response = out
                .response
                .as_ref()
                .map(|r| render_response(r, profile, &v.uris, vary, accept));
            let sends: Vec<_> = out
                .send
                .iter()
                .map(|o| match o {
                    Outgoing::Register {
                        to: to @ ServerUri::Server(k),
                        ..
                    } if held.contains(k) => CoapMessage::handshake(v.uris.uri(*to)),
                    o => render_message(o, &v.uris, vary),
                })
                .collect();
            match judge(ctx, expect, response.as_ref(), &sends) {
                Ok(()) => Ok(true),
                Err(Finding::NotObserved(_)) => Ok(false),
                Err(f) => Err(fail(n, f.to_string())),
            }
        };
    judged(0, &v.boot, &boot, None)?;
    for (i, step) in v.steps.iter().enumerate() {
        let n = i + 1;
        if bugs == BugSet::NONE && step.request != wire::stimulus(&step.stimulus, profile, &v.uris)
        {
            return Err(fail(
                n,
                "the wire form of the stimulus differs from the model's encoding".into(),
            ));
        }
        let (next, out) = model.step(&state, &step.stimulus);
        if !judged(
            n,
            &step.expect,
            &out,
            step.request.as_ref().and_then(|r| r.accept),
        )? {
            return Ok(());
        }
        if bugs == BugSet::NONE && next.ghost.violations != 0 {
            return Err(fail(n, "the step breaks a property of the model".into()));
        }
        state = next;
    }
    Ok(())
}

/// [`replay_in_model_with`] without variations.
pub fn replay_in_model(v: &Vector, bugs: BugSet) -> Result<(), Mismatch> {
    replay_in_model_with(v, bugs, &Variations::default())
}

/// The first vector (in the given order) that catches `bug`, among those of the profiles the
/// bug affects: where the reference client with the bug departs from the vector.
pub fn first_catch<'a>(
    bug: bootstrap_model::bugs::Bug,
    vectors: impl IntoIterator<Item = &'a Vector>,
) -> Option<(&'a Vector, Mismatch)> {
    vectors
        .into_iter()
        .filter(|v| {
            v.profile
                .parse::<Profile>()
                .is_ok_and(|p| bug.applies_to(p))
        })
        .find_map(|v| replay_in_model(v, BugSet::only(bug)).err().map(|m| (v, m)))
}
