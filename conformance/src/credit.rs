//! The credit check (issue #10): no requirement is credited where the judge cannot fail it.
//!
//! A step credits requirement IDs ([`crate::attribution::exercised`]). Each requirement is
//! observed through some [`Aspect`] of what the client does at a step: the response code,
//! the response's content, the messages it sends, or its silence ([`observed_by`]). The
//! check replays a vector in the model and, at every step, breaks the reference client's
//! output in the aspects of each credited requirement (a code the step does not allow, a
//! link or instance dropped or added, a message dropped, redirected or altered, a stray
//! message added), renders each broken output as a client would send it, and asks the one
//! judge ([`crate::judge`]). A credit stands when at least one broken output fails the step;
//! otherwise the step credits a requirement it cannot fail, and the check names it.
//!
//! This is independent of the injected bugs (`coverage --bugs`), which break the reference
//! client's semantics: it checks every credit, including those no bug reaches.

use crate::attribution;
use crate::expectation::{ContentRule, Expectation};
use crate::judge::{judge, Context, Finding};
use crate::observation::{asked_accept, render_message, render_response, Variations};
use crate::replay::{model_for, Mismatch};
use crate::vector::Vector;
use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{Client, Content, DeviceInfo, Link, Outgoing, Output};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::objects::{
    AccessControlInstance, SecurityInstance, ServerInstance, ServerUri,
};
use bootstrap_model::path::Path;
use bootstrap_model::profile::{Profile, VersionForm};
use bootstrap_model::system::Factory;
use std::fmt;

/// A part of what a client does at a step, through which a requirement is observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aspect {
    /// The code of the response to the stimulus.
    Code,
    /// The payload of a 2.05 response (Discover links, Read instances).
    Content,
    /// The messages the client must send (their presence, destination and form).
    Sends,
    /// What the client must not send.
    Silence,
}

/// The aspects of a step through which requirement `id` is observed: the evidence a
/// credit rests on. A requirement not listed has no observation and cannot be credited.
pub fn observed_by(id: &str) -> &'static [Aspect] {
    use Aspect::*;
    match id {
        // Accepting (Finish 2.04) a configuration of complete accounts, and registering
        // through them.
        // The seed's Step 0 notification too: accepted, then the Bootstrap-Request.
        "BS-ACCT-01" | "BS-CI-05" | "BS-CI-08" | "BS-FIN-05" | "BS-RB-01" | "BS-RB-02"
        | "BS-RB-03" | "BS-WRITE-08" => &[Code, Sends],
        // Refusals and acceptances shown by the code alone.
        "BS-ACCT-02" | "BS-ACCT-04" | "BS-ACCT-06" | "BS-RB-04" | "BS-WRITE-01" | "BS-WRITE-03"
        | "BS-WRITE-05" | "BS-WRITE-06" | "BS-WRITE-07" | "BS-READ-02" | "BS-READ-04"
        | "BS-DISC-01" | "BS-DISC-05" | "BS-DEL-01" | "BS-DEL-04" | "BS-DEL-05" | "BS-FIN-01"
        | "BS-FIN-02" | "BS-FIN-03" | "BS-FIN-04" | "BS-OBJ-01" | "BS-OBJ-02" | "BS-OBJ-05"
        | "BS-OBJ-06" | "BS-SEC-04" => &[Code],
        // What the client holds, as Discover and Read show it.
        "BS-ACCT-03" | "BS-WIPE-01" | "BS-WIPE-03" | "BS-WIPE-04" | "BS-KEEP-02" | "BS-KEEP-03"
        | "BS-WRITE-04" | "BS-DISC-02" | "BS-DISC-03" | "BS-DISC-04" | "BS-DEL-03" => &[Content],
        // A write or delete whose code says it was taken and whose effect a later listing
        // shows; the seed's keepServerInfo write accepted, and what it kept.
        "BS-KEEP-01" | "BS-WRITE-02" | "BS-DEL-02" | "BS-READ-01" | "BS-READ-03" | "BS-OBJ-03"
        | "BS-OBJ-04" => &[Code, Content],
        // The client's own requests: Bootstrap-Request, Bootstrap-Pack-Request, Register.
        "BS-ACCT-05" | "BS-FACT-01" | "BS-FACT-02" | "BS-CI-01" | "BS-CI-02" | "BS-CI-04"
        | "BS-REQ-01" | "BS-REQ-02" | "BS-WIPE-05" | "BS-PACK-01" | "BS-PACK-02" | "BS-PACK-03"
        | "BS-REG-01" | "BS-REG-02" | "BS-REG-03" | "BS-REG-04" | "BS-REG-05" | "BS-REG-06" => {
            &[Sends]
        }
        // A request that is due, and none where none is.
        "BS-ACCT-08" | "BS-WIPE-02" | "BS-FACT-03" | "BS-FACT-05" | "BS-CI-03" | "BS-RB-05"
        | "BS-REQ-03" | "BS-REQ-04" | "BS-PACK-04" | "BS-PACK-05" => &[Sends, Silence],
        // Refused once the BS account is gone: the code, and no request after.
        "BS-RB-06" => &[Code, Silence],
        "BS-FIN-06" => &[Code, Sends, Silence],
        _ => &[],
    }
}

/// A credit the judge cannot fail: no break of the requirement's aspects fails the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbacked {
    /// The vector's name.
    pub vector: String,
    /// The step (1-based; 0 is power-on).
    pub step: usize,
    /// The step's stimulus (`register-accepted`), `power-on` for step 0.
    pub stimulus: String,
    /// The credited requirement.
    pub requirement: String,
    /// The aspects broken, and how many broken outputs were judged.
    pub tried: Vec<(Aspect, usize)>,
}

impl fmt::Display for Unbacked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vector {}, step {} ({}): credits {} but no break of ",
            self.vector, self.step, self.stimulus, self.requirement
        )?;
        if self.tried.is_empty() {
            return f.write_str("it is defined (no aspect observes it)");
        }
        let tried: Vec<String> = self
            .tried
            .iter()
            .map(|(a, n)| format!("{a:?} ({n} tried)"))
            .collect();
        write!(f, "{} fails the step", tried.join(", "))
    }
}

/// The credits of `v` the judge cannot fail, or the replay's own mismatch if the vector
/// no longer fits the model.
pub fn unbacked(v: &Vector) -> Result<Vec<Unbacked>, Mismatch> {
    let fail = |step: usize, detail: String| Mismatch {
        vector: v.name.clone(),
        step,
        detail,
    };
    let model = model_for(v, BugSet::NONE).map_err(|e| fail(0, e))?;
    let profile = model.spec.profile;
    let factory_index = Factory::ALL
        .iter()
        .position(|f| *f == v.factory)
        .unwrap_or(0);
    let mut state = model.initial_states()[factory_index].clone();
    let (_, boot) = Client::boot(&model.spec, v.factory.store(), state.client.choices);
    let mut found = Vec::new();
    let boot_credits: Vec<String> = attribution::at_boot(&boot.send)
        .into_iter()
        .filter(|id| v.requirements.iter().any(|r| r == id))
        .map(String::from)
        .collect();
    check_step(
        v,
        profile,
        (0, "power-on"),
        &v.boot,
        &boot,
        None,
        &boot_credits,
        &mut found,
    );
    for (i, step) in v.steps.iter().enumerate() {
        let (next, out) = model.step(&state, &step.stimulus);
        let accept = step.request.as_ref().and_then(|r| r.accept);
        check_step(
            v,
            profile,
            (i + 1, &stimulus_name(&step.stimulus)),
            &step.expect,
            &out,
            accept,
            &step.requirements,
            &mut found,
        );
        state = next;
    }
    Ok(found)
}

/// The stimulus as vectors name it (`register-accepted`).
fn stimulus_name(a: &bootstrap_model::system::Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.get("step").and_then(|s| s.as_str()).map(String::from))
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn check_step(
    v: &Vector,
    profile: Profile,
    (n, stimulus): (usize, &str),
    expect: &Expectation,
    out: &Output,
    accept: Option<u16>,
    credits: &[String],
    found: &mut Vec<Unbacked>,
) {
    let ctx = Context {
        uris: &v.uris,
        endpoint: &v.endpoint,
    };
    let vary = Variations::default();
    let accept = asked_accept(accept, &vary);
    let fails = |o: &Output| {
        let response = o
            .response
            .as_ref()
            .map(|r| render_response(r, profile, &v.uris, &vary, accept));
        let sends: Vec<_> = o
            .send
            .iter()
            .map(|m| render_message(m, &v.uris, &vary))
            .collect();
        matches!(
            judge(ctx, expect, response.as_ref(), &sends),
            Err(Finding::Fail { .. })
        )
    };
    for id in credits {
        let aspects = observed_by(id);
        let mut tried = Vec::new();
        let mut backed = false;
        for &a in aspects {
            let broken = breaks(a, out, expect, &v.endpoint);
            tried.push((a, broken.len()));
            if broken.iter().any(fails) {
                backed = true;
                break;
            }
        }
        if !backed {
            found.push(Unbacked {
                vector: v.name.clone(),
                step: n,
                stimulus: stimulus.to_string(),
                requirement: id.clone(),
                tried,
            });
        }
    }
}

/// The outputs that break `out` in aspect `a`.
fn breaks(a: Aspect, out: &Output, expect: &Expectation, endpoint: &str) -> Vec<Output> {
    let with = |f: &dyn Fn(&mut Output)| {
        let mut o = out.clone();
        f(&mut o);
        o
    };
    let mut v = Vec::new();
    match a {
        Aspect::Code => {
            if let Some(r) = &out.response {
                for c in ResponseCode::ALL.into_iter().filter(|c| *c != r.code) {
                    v.push(with(&|o| {
                        if let Some(r) = o.response.as_mut() {
                            r.code = c;
                            if c != ResponseCode::Content {
                                r.content = None;
                            }
                        }
                    }));
                }
            }
        }
        Aspect::Content => {
            let Some(content) = out.response.as_ref().and_then(|r| r.content.clone()) else {
                return v;
            };
            for c in broken_content(&content, expect) {
                v.push(with(&|o| {
                    if let Some(r) = o.response.as_mut() {
                        r.content = Some(c.clone());
                    }
                }));
            }
        }
        Aspect::Sends => {
            for i in 0..out.send.len() {
                v.push(with(&|o| {
                    o.send.remove(i);
                }));
                for m in altered(&out.send[i]) {
                    v.push(with(&|o| o.send[i] = m.clone()));
                }
            }
        }
        Aspect::Silence => {
            for m in strays(endpoint) {
                v.push(with(&|o| o.send.push(m.clone())));
            }
        }
    }
    v
}

/// Payloads that differ from `c` in one thing each.
fn broken_content(c: &Content, expect: &Expectation) -> Vec<Content> {
    match c {
        Content::Links { version, links } => broken_links(*version, links, expect),
        Content::Servers(xs) => broken_servers(xs),
        Content::AccessControl(xs) => broken_access_control(xs),
        Content::Security(xs) => broken_security(xs),
    }
}

/// Discover links broken in one thing each (BS-DISC-02..04): the other version form, a link
/// dropped, a link with another Short Server ID or one it lacked, and a link to a path the
/// rule says must not be listed.
fn broken_links(version: VersionForm, links: &[Link], expect: &Expectation) -> Vec<Content> {
    let mut v = Vec::new();
    let other = match version {
        VersionForm::Quoted10 => VersionForm::Root12,
        _ => VersionForm::Quoted10,
    };
    v.push(Content::Links {
        version: other,
        links: links.to_vec(),
    });
    for i in 0..links.len() {
        let mut l = links.to_vec();
        l.remove(i);
        v.push(Content::Links { version, links: l });
        let mut l = links.to_vec();
        l[i].ssid = match l[i].ssid {
            Some(s) => Some(s.wrapping_add(1)),
            None => Some(7),
        };
        v.push(Content::Links { version, links: l });
    }
    for p in unlisted_paths(expect) {
        let mut l = links.to_vec();
        l.push(Link {
            path: p,
            ssid: None,
            uri: None,
        });
        v.push(Content::Links { version, links: l });
    }
    v
}

/// Paths a Discover listing must not show (BS-DISC-02; BS-DEL-02, BS-WIPE-01/03):
/// instances the rule says must be gone, or outside a complete object, and objects it
/// forbids.
fn unlisted_paths(expect: &Expectation) -> Vec<Path> {
    let mut extra: Vec<Path> = Vec::new();
    if let Some(ContentRule::Discover(d)) =
        expect.response.as_ref().and_then(|r| r.content.as_ref())
    {
        extra.extend(d.listing.absent.iter().copied());
        extra.extend(d.listing.complete.iter().map(|o| Path::Instance(*o, 77)));
        extra.extend(d.listing.forbidden_objects.iter().map(|o| Path::Object(*o)));
    }
    extra
}

/// Server instances read back broken in one thing each (BS-READ-01): one added, one
/// dropped, or one with another lifetime, Short Server ID or Bootstrap on Registration
/// Failure.
fn broken_servers(xs: &[(u16, ServerInstance)]) -> Vec<Content> {
    let mut v = Vec::new();
    let mut l = xs.to_vec();
    l.push((77, ServerInstance::new(77, 77)));
    v.push(Content::Servers(l));
    for i in 0..xs.len() {
        let mut l = xs.to_vec();
        l.remove(i);
        v.push(Content::Servers(l));
        let mut l = xs.to_vec();
        l[i].1.lifetime = Some(l[i].1.lifetime.map_or(1, |t| t + 1));
        v.push(Content::Servers(l));
        let mut l = xs.to_vec();
        l[i].1.ssid = Some(l[i].1.ssid.map_or(1, |s| s.wrapping_add(1)));
        v.push(Content::Servers(l));
        let mut l = xs.to_vec();
        l[i].1.bootstrap_on_failure = Some(!l[i].1.bootstrap_on_failure.unwrap_or(true));
        v.push(Content::Servers(l));
    }
    v
}

/// Access Control instances read back broken in one thing each (BS-READ-01): one added,
/// one dropped, or one with another owner, another target instance or no ACL.
fn broken_access_control(xs: &[(u16, AccessControlInstance)]) -> Vec<Content> {
    let mut v = Vec::new();
    let mut l = xs.to_vec();
    l.push((
        77,
        AccessControlInstance {
            object: 1,
            instance: 77,
            acl: Default::default(),
            owner: 77,
        },
    ));
    v.push(Content::AccessControl(l));
    for i in 0..xs.len() {
        let mut l = xs.to_vec();
        l.remove(i);
        v.push(Content::AccessControl(l));
        let mut l = xs.to_vec();
        l[i].1.owner = l[i].1.owner.wrapping_add(1);
        v.push(Content::AccessControl(l));
        let mut l = xs.to_vec();
        l[i].1.instance = l[i].1.instance.wrapping_add(1);
        v.push(Content::AccessControl(l));
        let mut l = xs.to_vec();
        l[i].1.acl.clear();
        v.push(Content::AccessControl(l));
    }
    v
}

/// Security instances a client read back, with one dropped each (BS-READ-01/02).
fn broken_security(xs: &[(u16, SecurityInstance)]) -> Vec<Content> {
    let mut v = Vec::new();
    for i in 0..xs.len() {
        let mut l = xs.to_vec();
        l.remove(i);
        v.push(Content::Security(l));
    }
    v
}

/// A message the client sends, altered in one thing each: another destination, another or
/// no endpoint name, a content format outside the set, another lifetime or version, an
/// object dropped from the list or the Security object added to it.
fn altered(m: &Outgoing) -> Vec<Outgoing> {
    match m {
        Outgoing::BootstrapRequest {
            to,
            endpoint,
            pct,
            device_info,
        } => altered_bootstrap_request(m, *to, endpoint, *pct, device_info),
        Outgoing::BootstrapPackRequest { to, endpoint } => altered_pack_request(*to, endpoint),
        Outgoing::Register {
            to,
            endpoint,
            lifetime,
            version,
            objects,
        } => altered_register(*to, endpoint, *lifetime, version, objects),
    }
}

/// Another management server than `u`'s, or the first one where `u` is not a management
/// server's.
fn elsewhere(u: ServerUri) -> ServerUri {
    match u {
        ServerUri::Server(k) => ServerUri::Server(k.wrapping_add(1) % 2),
        _ => ServerUri::Server(0),
    }
}
/// A Bootstrap-Request `m` altered in one thing each (BS-CI-01/02, BS-REQ-01/02): sent to
/// a management server or to the bootstrap server's other URI, with another endpoint name,
/// a content format outside the set, or without its device information.
fn altered_bootstrap_request(
    m: &Outgoing,
    to: ServerUri,
    endpoint: &Option<String>,
    pct: Option<u16>,
    device_info: &Option<DeviceInfo>,
) -> Vec<Outgoing> {
    let base = |f: &dyn Fn(&mut Outgoing)| {
        let mut o = m.clone();
        f(&mut o);
        o
    };
    vec![
        Outgoing::BootstrapRequest {
            to: elsewhere(to),
            endpoint: endpoint.clone(),
            pct,
            device_info: device_info.clone(),
        },
        Outgoing::BootstrapRequest {
            to: if to == ServerUri::Bootstrap {
                ServerUri::BootstrapAlternate
            } else {
                ServerUri::Bootstrap
            },
            endpoint: endpoint.clone(),
            pct,
            device_info: device_info.clone(),
        },
        base(&|o| {
            if let Outgoing::BootstrapRequest { endpoint, .. } = o {
                *endpoint = Some("another-endpoint".into());
            }
        }),
        base(&|o| {
            if let Outgoing::BootstrapRequest { pct, .. } = o {
                *pct = Some(9999);
            }
        }),
        base(&|o| {
            if let Outgoing::BootstrapRequest { device_info, .. } = o {
                *device_info = None;
            }
        }),
    ]
}

/// A Bootstrap-Pack-Request altered in one thing each (BS-PACK-01): sent to a
/// management server, with another endpoint name, or a Bootstrap-Request in its place.
fn altered_pack_request(to: ServerUri, endpoint: &Option<String>) -> Vec<Outgoing> {
    vec![
        Outgoing::BootstrapPackRequest {
            to: elsewhere(to),
            endpoint: endpoint.clone(),
        },
        Outgoing::BootstrapPackRequest {
            to,
            endpoint: Some("another-endpoint".into()),
        },
        // A Bootstrap-Request where a Pack-Request is due, and the reverse below.
        Outgoing::BootstrapRequest {
            to,
            endpoint: endpoint.clone(),
            pct: None,
            device_info: None,
        },
    ]
}

/// A Register altered in one thing each (BS-REG-01..04): sent to another management server
/// or to the bootstrap server, with another lifetime, an object dropped from the list or the
/// Security object added to it, or another endpoint name.
fn altered_register(
    to: ServerUri,
    endpoint: &str,
    lifetime: u32,
    version: &Option<String>,
    objects: &[Path],
) -> Vec<Outgoing> {
    let reg = |to: ServerUri, lifetime: u32, objects: Vec<Path>| Outgoing::Register {
        to,
        endpoint: endpoint.to_string(),
        lifetime,
        version: version.clone(),
        objects,
    };
    let mut v = Vec::new();
    v.push(reg(elsewhere(to), lifetime, objects.to_vec()));
    v.push(reg(ServerUri::Bootstrap, lifetime, objects.to_vec()));
    v.push(reg(to, lifetime.wrapping_add(1), objects.to_vec()));
    for i in 0..objects.len() {
        let mut l = objects.to_vec();
        l.remove(i);
        v.push(reg(to, lifetime, l));
    }
    let mut l = objects.to_vec();
    l.push(Path::Instance(0, 0));
    v.push(reg(to, lifetime, l));
    v.push(Outgoing::Register {
        to,
        endpoint: "another-endpoint".into(),
        lifetime,
        version: version.clone(),
        objects: objects.to_vec(),
    });
    v
}

/// Messages a silent client must not send: a Bootstrap-Request, a Bootstrap-Pack-Request,
/// a Register to the first server.
fn strays(endpoint: &str) -> Vec<Outgoing> {
    vec![
        Outgoing::BootstrapRequest {
            to: ServerUri::Bootstrap,
            endpoint: Some(endpoint.into()),
            pct: None,
            device_info: None,
        },
        Outgoing::BootstrapPackRequest {
            to: ServerUri::Bootstrap,
            endpoint: Some(endpoint.into()),
        },
        Outgoing::Register {
            to: ServerUri::Server(0),
            endpoint: endpoint.into(),
            lifetime: 86400,
            version: None,
            objects: vec![Path::Instance(1, 0)],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn every_requirement_a_vector_can_credit_has_an_observation() {
        let catalogue = Catalogue::load();
        let missing: Vec<&String> = catalogue
            .by_id
            .keys()
            .filter(|id| observed_by(id).is_empty())
            .filter(|id| !attribution::EXCLUDED.iter().any(|(x, _, _)| x == id))
            .collect();
        assert!(missing.is_empty(), "no aspect for {missing:?}");
    }
}
