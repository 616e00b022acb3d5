//! Replaying a vector against a client and judging each step: the judgement the harness
//! uses for any client, and the staleness check that replays committed vectors inside the
//! model (the reference client, or with an injected bug to show which vectors catch it).

use crate::vector::{Expectation, Vector};
use crate::wire;
use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{Client, Content, Outgoing, Response};
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

/// Judges what a client did against an expectation: the response code must be one of the
/// acceptable codes, the payload equal (Discover links as a set after the version element),
/// and the messages sent equal, in any order, to the expected set or one of its alternatives
/// (a Bootstrap-Request's `pct` judged as [`allowed_pct`] of `profile` says).
pub fn judge(
    profile: Profile,
    expect: &Expectation,
    response: Option<&Response>,
    sends: &[Outgoing],
) -> Result<(), String> {
    match (&expect.response, response) {
        (None, Some(r)) => return Err(format!("expected no response, got {}", r.code.dotted())),
        (Some(e), None) => {
            return Err(format!(
                "expected a response ({}), got none",
                e.codes.join(" or ")
            ))
        }
        (Some(e), Some(r)) => {
            if !e.codes.iter().any(|c| c == r.code.dotted()) {
                return Err(format!(
                    "expected {}, got {}",
                    e.codes.join(" or "),
                    r.code.dotted()
                ));
            }
            match (&e.content, &r.content) {
                (None, None) => {}
                (Some(ec), Some(ac)) if same_content(&ec.value, ac) => {}
                (Some(ec), ac) => {
                    return Err(format!(
                        "expected payload {}, got {}",
                        show(Some(&ec.value)),
                        show(ac.as_ref())
                    ))
                }
                (None, Some(ac)) if e.codes.len() > 1 => {
                    // An allowed alternative code may come with a payload the reference has not.
                    let _ = ac;
                }
                (None, Some(ac)) => {
                    return Err(format!("expected no payload, got {}", show(Some(ac))))
                }
            }
        }
        (None, None) => {}
    }
    let want: Vec<&Outgoing> = expect.sends.iter().map(|s| &s.message).collect();
    if same_set(&want, sends, allowed_pct(profile)) {
        return Ok(());
    }
    for alt in &expect.or_sends {
        let want: Vec<&Outgoing> = alt.iter().map(|s| &s.message).collect();
        if same_set(&want, sends, allowed_pct(profile)) {
            return Ok(());
        }
    }
    let show_all = |v: &[&Outgoing]| {
        if v.is_empty() {
            "nothing".to_string()
        } else {
            v.iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    Err(format!(
        "expected the client to send {}, it sent {}",
        show_all(&want),
        show_all(&sends.iter().collect::<Vec<_>>())
    ))
}

fn show(c: Option<&Content>) -> String {
    match c {
        None => "none".into(),
        Some(c @ Content::Links { .. }) => c.link_format().unwrap_or_default(),
        Some(c) => format!("{c:?}"),
    }
}

fn same_content(want: &Content, got: &Content) -> bool {
    match (want, got) {
        (
            Content::Links {
                version: v1,
                links: l1,
            },
            Content::Links {
                version: v2,
                links: l2,
            },
        ) => v1 == v2 && l1.len() == l2.len() && l1.iter().all(|l| l2.contains(l)),
        _ => want == got,
    }
}

/// The `pct` values of a Bootstrap-Request that BS-REQ-02 allows in `profile`: none in the
/// seed and 1.0 (BS-REQ-01: `ep` only); TLV, SenML JSON and SenML CBOR in 1.1; LwM2M CBOR
/// too in 1.2. Which one a client prefers is its choice.
pub fn allowed_pct(profile: Profile) -> &'static [u16] {
    const ALL: [u16; 4] = [wire::LWM2M_TLV, wire::SENML_JSON, wire::SENML_CBOR, 11544];
    match profile {
        Profile::Seed | Profile::V1_0 => &[],
        Profile::V1_1 => &ALL[..3],
        Profile::V1_2 => &ALL,
    }
}

/// A message as the judgement compares it. `pct` is optional (BS-REQ-01) and its value the
/// client's choice among those BS-REQ-02 allows (`pct`): a Bootstrap-Request with an allowed
/// one is judged as one without (the vectors carry the reference client's choice, TLV; a
/// client that prefers SenML CBOR sends 112, one that states no preference sends none, and
/// both are as right). A `pct` outside the set still differs.
fn judged(o: &Outgoing, pct: &[u16]) -> Outgoing {
    match o {
        Outgoing::BootstrapRequest {
            to,
            endpoint,
            pct: Some(p),
            device_info,
        } if pct.contains(p) => Outgoing::BootstrapRequest {
            to: *to,
            endpoint: endpoint.clone(),
            pct: None,
            device_info: device_info.clone(),
        },
        other => other.clone(),
    }
}

fn same_set(want: &[&Outgoing], got: &[Outgoing], pct: &[u16]) -> bool {
    let want: Vec<Outgoing> = want.iter().map(|w| judged(w, pct)).collect();
    let got: Vec<Outgoing> = got.iter().map(|g| judged(g, pct)).collect();
    want.len() == got.len()
        && want.iter().all(|w| {
            got.iter().filter(|g| *g == w).count() == want.iter().filter(|x| *x == w).count()
        })
}

/// The model a vector was generated from, with `bugs` switched into its client.
pub fn model_for(v: &Vector, bugs: BugSet) -> Result<BootstrapSystem, String> {
    let profile: Profile = v
        .profile
        .parse()
        .map_err(|e: bootstrap_model::profile::UnknownProfile| e.to_string())?;
    let (model, _) = crate::generate::model_for(
        profile,
        &v.provenance.config,
        v.features.bootstrap_pack,
        bugs,
    )?;
    Ok(model)
}

/// Replays `v` inside the model with `bugs` in the client. With no bug, this is the check
/// that a committed vector still fits the model: outcomes, wire encodings and properties.
pub fn replay_in_model(v: &Vector, bugs: BugSet) -> Result<(), Mismatch> {
    let fail = |step: usize, detail: String| Mismatch {
        vector: v.name.clone(),
        step,
        detail,
    };
    let model = model_for(v, bugs).map_err(|e| fail(0, e))?;
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
    judge(model.spec.profile, &v.boot, None, &boot.send).map_err(|d| fail(0, d))?;
    for (i, step) in v.steps.iter().enumerate() {
        let n = i + 1;
        if bugs == BugSet::NONE && step.request != wire::stimulus(&step.stimulus, &v.uris) {
            return Err(fail(
                n,
                "the wire form of the stimulus differs from the model's encoding".into(),
            ));
        }
        let (next, out) = model.step(&state, &step.stimulus);
        judge(
            model.spec.profile,
            &step.expect,
            out.response.as_ref(),
            &out.send,
        )
        .map_err(|d| fail(n, d))?;
        if bugs == BugSet::NONE && next.ghost.violations != 0 {
            return Err(fail(n, "the step breaks a property of the model".into()));
        }
        state = next;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use bootstrap_model::objects::ServerUri;

    fn request(pct: Option<u16>) -> Outgoing {
        Outgoing::BootstrapRequest {
            to: ServerUri::Bootstrap,
            endpoint: Some("urn:dev:ref-1".into()),
            pct,
            device_info: None,
        }
    }

    /// Any `pct` BS-REQ-02 allows in the profile, or none (BS-REQ-01: it is optional),
    /// matches the vector's; one outside the set does not (the `request-with-bad-pct` bug
    /// sends 40), and in the seed and 1.0 none is allowed.
    #[test]
    fn any_allowed_pct_or_none_matches() {
        let want = request(Some(11542));
        let v1_2 = allowed_pct(Profile::V1_2);
        for p in v1_2.iter().map(|p| Some(*p)).chain([None]) {
            assert!(same_set(&[&want], &[request(p)], v1_2), "{p:?}");
        }
        for bad in [40, 0, 11543] {
            assert!(!same_set(&[&want], &[request(Some(bad))], v1_2), "{bad}");
        }
        let v1_1 = allowed_pct(Profile::V1_1);
        assert!(same_set(&[&want], &[request(Some(112))], v1_1));
        assert!(!same_set(&[&want], &[request(Some(11544))], v1_1));
        for p in [Profile::Seed, Profile::V1_0] {
            let none = allowed_pct(p);
            assert!(same_set(&[&request(None)], &[request(None)], none));
            assert!(!same_set(&[&request(None)], &[request(Some(11542))], none));
        }
        // Counting stays exact: two requests are not one.
        assert!(!same_set(
            &[&want],
            &[request(Some(112)), request(Some(11542))],
            v1_2
        ));
    }
}
