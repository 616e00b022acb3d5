//! Vector generation: a breadth-first exploration of the model's state space per profile
//! (and per Bootstrap-Pack variant in 1.2), selecting the shortest path to every reachable
//! transition class (step kind x outcome) and to a step exercising every observable
//! requirement, plus seeded random walks for depth.
//!
//! Only steps whose outcome is the same for every client behaviour the specification allows
//! are followed further ([`alternatives`]); a step where allowed clients part ways may only
//! end a vector, and its expectation lists every allowed outcome. Generation is single-
//! threaded per profile and uses no randomness but the recorded seeds: the bytes written are
//! the same every time and with any number of threads.

use crate::attribution::{self, History};
use crate::catalogue::{Catalogue, Tier};
use crate::expectation::{IfAbsent, SendRule};
use crate::oracle::{self, Knowledge};
use crate::vector::{
    Expectation, Features, GeneratorConfig, Prologue, Provenance, Step, Vector, FORMAT_VERSION,
};
use crate::wire::{self, UriMap};
use bootstrap_model::client::{Choices, Client, Outgoing, Output, Phase};
use bootstrap_model::code::CodeSet;
use bootstrap_model::path::Path;
use bootstrap_model::profile::{Operation, Profile};
use bootstrap_model::spec::expected_codes;
use bootstrap_model::system::{Action, BootstrapSystem, ChoiceMode, Config, Factory, SystemState};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The configuration the committed vectors are generated with.
pub fn default_config() -> GeneratorConfig {
    GeneratorConfig {
        servers: 2,
        ops_per_session: 2,
        rebootstraps: 2,
        loss: true,
        duplication: true,
        walks: 4,
        walk_length: 24,
    }
}

/// What generation produced for one profile.
#[derive(Clone, Debug)]
pub struct ProfileOutput {
    /// The profile.
    pub profile: Profile,
    /// Its vectors, in selection order.
    pub vectors: Vec<Vector>,
    /// Transition classes reachable in the model (all variants).
    pub reachable: BTreeSet<String>,
    /// Paths explored (distinct states with distinct histories, all variants).
    pub explored: usize,
}

/// Coverage of one profile, as the report prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileCoverage {
    /// Profile.
    pub profile: String,
    /// Vectors.
    pub vectors: usize,
    /// Vectors per tier.
    pub vectors_per_tier: BTreeMap<String, usize>,
    /// Reachable transition classes (step kind x outcome).
    pub transitions_reachable: usize,
    /// Of those, covered by at least one vector step.
    pub transitions_covered: usize,
    /// Reachable classes no vector covers.
    pub transitions_missing: Vec<String>,
    /// Requirements that apply to the profile and are observable.
    pub requirements_observable: usize,
    /// Of those, exercised by at least one vector step.
    pub requirements_covered: usize,
    /// Observable requirements no vector exercises.
    pub requirements_missing: Vec<String>,
    /// Requirements that apply but no interface shows, with the reason.
    pub requirements_unobservable: Vec<(String, String)>,
    /// Requirements outside what the suite drives today, with the issue or plan.
    pub requirements_out_of_scope: Vec<(String, String)>,
    /// Requirements the suite could exercise today and does not yet, with the reason.
    pub requirements_not_yet_exercised: Vec<(String, String)>,
    /// Requirements the transport checks in every vector rather than a step (DTLS's keys),
    /// with where.
    #[serde(default)]
    pub requirements_by_transport: Vec<(String, String)>,
}

/// Why a path was selected.
#[derive(Clone, Debug)]
enum Reason {
    Transition(String),
    Requirement(&'static str),
    /// The first occurrence of a stimulus with its arguments (each command of the bootstrap
    /// server's catalogue, each timer, ...), so that every one is seen with its effect.
    Stimulus(String),
}

/// The transition class of a step: its kind, the response code, and the kinds of messages
/// the client sends next.
pub fn class_of(action: &Action, out: &Output) -> String {
    let code = out.response.as_ref().map_or("-", |r| r.code.dotted());
    let mut sends: Vec<&str> = out.send.iter().map(send_kind).collect();
    sends.dedup();
    let sends = if sends.is_empty() {
        "nothing".to_string()
    } else {
        sends.join("+")
    };
    format!("{} {code} -> {sends}", kebab(action.kind()))
}

/// `BootstrapWrite` → `bootstrap-write`.
fn kebab(kind: bootstrap_model::system::ActionKind) -> String {
    let mut out = String::new();
    for (i, c) in format!("{kind:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn send_kind(o: &Outgoing) -> &'static str {
    match o {
        Outgoing::BootstrapRequest { .. } => "bootstrap-request",
        Outgoing::BootstrapPackRequest { .. } => "pack-request",
        Outgoing::Register { .. } => "register",
    }
}

/// The outcomes the specification allows for `action` in `pre`, over every allowed client
/// behaviour: the acceptable codes, whether the clients' states part ways, and the other
/// acceptable message sets.
pub struct Alternatives {
    /// Every acceptable response code, the reference's first.
    pub codes: Vec<bootstrap_model::code::ResponseCode>,
    /// Allowed clients end in different states or send different messages.
    pub divergent: bool,
    /// Other acceptable sets of messages, each with the state the client that sends it is
    /// in afterwards.
    pub or_sends: Vec<(Vec<Outgoing>, SystemState)>,
    /// Why.
    pub note: Option<String>,
}

/// Computes [`Alternatives`]. Only Finish and bootstrap commands outside a session depend on
/// the client's allowed choices; Bootstrap-Pack-Request after silence may
/// be retried (BS-PACK-05).
pub fn alternatives(
    model: &BootstrapSystem,
    allowed: &[Choices],
    pre: &SystemState,
    action: &Action,
    out: &Output,
    post: &SystemState,
) -> Alternatives {
    let profile = model.config.profile;
    let observable = bootstrap_model::spec::Observable {
        store: &pre.client.store,
        in_session: pre.ghost.in_session,
        no_access_control: pre.client.choices.no_access_control,
        access_control_delivered: pre.ghost.access_control_delivered,
    };
    let spec: CodeSet = expected_codes(profile, observable, &action.input()).unwrap_or_default();
    let mut alt = Alternatives {
        codes: out.response.iter().map(|r| r.code).collect(),
        divergent: false,
        or_sends: Vec::new(),
        note: None,
    };
    let mut notes = Vec::new();
    if choice_dependent(pre, action) {
        other_clients(model, allowed, pre, action, out, post, &mut alt);
        if matches!(action, Action::ExchangeLifetimeExpired) && pre.ghost.session_changed {
            // a client that rolls everything back ends elsewhere than the reference,
            // which restores only the BS account (BS-CI-04); the snapshot it would need is
            // not in the reference's state, so the divergence is read from the ghost.
            alt.divergent = true;
        }
        if alt.divergent {
            notes.push("allowed clients part ways here (A-03 pruning, A-04 strict pairing, A-10 legacy push, A-20 full rollback): the vector ends at this step");
        }
    }
    if matches!(action, Action::BootstrapPackLost) {
        if let Some(Outgoing::BootstrapRequest { to, .. }) = out.send.first() {
            alt.divergent = true;
            alt.or_sends.push((
                vec![Outgoing::BootstrapPackRequest {
                    to: *to,
                    endpoint: Some(model.spec.endpoint.to_string()),
                }],
                post.clone(),
            ));
            notes.push("BS-PACK-05: after silence the client may ask for the pack again instead of falling back");
        }
    }
    for c in spec.codes() {
        if !alt.codes.contains(&c) {
            alt.codes.push(c);
        }
    }
    let unsupported_object = pre.client.choices.no_access_control
        && matches!(action, Action::BootstrapWrite { path, .. }
            if path.object() == Some(bootstrap_model::path::ACCESS_CONTROL));
    if unsupported_object {
        notes.push("A-23: the text does not say how a client without the Access Control object answers a Bootstrap-Write to it; Core 1.2 §6.1.5 only requires its Finish to fail (BS-OBJ-05)");
    } else if spec.codes().count() > 1 {
        notes.push("the specification allows every listed code (A-04, A-05, A-06 or A-10)");
    }
    alt.note = (!notes.is_empty()).then(|| notes.join("; "));
    alt
}

/// Whether what the client does depends on its allowed choices:
/// Finish, the end of a session, and bootstrap commands outside a session.
fn choice_dependent(pre: &SystemState, action: &Action) -> bool {
    matches!(
        action,
        Action::BootstrapFinish
            | Action::BootstrapFinishDuplicated
            | Action::ExchangeLifetimeExpired
    ) || action.is_bootstrap_command() && pre.client.phase != Phase::Bootstrapping
}

/// Plays `action` for every other allowed client: adds the codes they answer with, and
/// where one ends elsewhere or answers or sends otherwise, marks the step divergent and
/// adds what it sends.
fn other_clients(
    model: &BootstrapSystem,
    allowed: &[Choices],
    pre: &SystemState,
    action: &Action,
    out: &Output,
    post: &SystemState,
    alt: &mut Alternatives,
) {
    for c in allowed.iter().filter(|c| **c != pre.client.choices) {
        let mut other = pre.clone();
        other.client.choices = *c;
        let (mut t2, out2) = model.step(&other, action);
        t2.client.choices = post.client.choices;
        if let Some(r) = &out2.response {
            if !alt.codes.contains(&r.code) {
                alt.codes.push(r.code);
            }
        }
        let same_content =
            out2.response.as_ref().map(|r| &r.content) == out.response.as_ref().map(|r| &r.content);
        if t2.client != post.client || !same_content || out2.send != out.send {
            alt.divergent = true;
            if out2.send != out.send && !alt.or_sends.iter().any(|(o, _)| *o == out2.send) {
                alt.or_sends.push((out2.send.clone(), t2));
            }
        }
    }
}

/// The model vectors of `profile` are generated from (and replayed in): the configuration
/// `cfg`, the reference client with Bootstrap-Pack as `pack` says (the profile's reference
/// when `None`), and `bugs` switched in; with the client behaviours allowed for that variant.
pub fn model_for(
    profile: Profile,
    cfg: &GeneratorConfig,
    pack: Option<bool>,
    bugs: bootstrap_model::bugs::BugSet,
) -> Result<(BootstrapSystem, Vec<Choices>), String> {
    let features = Features {
        bootstrap_pack: pack,
        ..Features::default()
    };
    model_with(profile, cfg, &features, bugs)
}

/// [`model_for`] with the client features a vector declares: Bootstrap-Pack, and a client
/// without the Access Control object (BS-OBJ-05).
pub fn model_with(
    profile: Profile,
    cfg: &GeneratorConfig,
    features: &Features,
    bugs: bootstrap_model::bugs::BugSet,
) -> Result<(BootstrapSystem, Vec<Choices>), String> {
    let reference = features.choices(profile);
    let config = Config {
        profile,
        servers: cfg.servers,
        ops_per_session: cfg.ops_per_session,
        rebootstraps: cfg.rebootstraps,
        loss: cfg.loss,
        duplication: cfg.duplication,
        server_push: true,
        factories: Factory::ALL.to_vec(),
        choices: ChoiceMode::Fixed(reference),
        bugs,
    };
    let allowed = Choices::all_for(profile)
        .into_iter()
        .filter(|c| c.pack == reference.pack)
        .map(|c| Choices {
            no_access_control: reference.no_access_control,
            ..c
        })
        .collect();
    Ok((BootstrapSystem::new(config)?, allowed))
}

/// The vector of BS-OBJ-05, which exploring the reference client (which has the Access
/// Control object) cannot reach: a client without the object, given the multi-server
/// configuration of Core 1.2 §6.1.5's example (two server accounts and an Access Control
/// instance), must refuse it at Finish. The stimuli are chosen here; what the client must
/// answer to each comes from the model and the oracle, as for every vector.
fn single_server_vector(
    profile: Profile,
    cfg: &GeneratorConfig,
    catalogue: &Catalogue,
) -> Result<(Vector, String), String> {
    use bootstrap_model::client::WriteValue;
    use bootstrap_model::objects::KeyId;
    use bootstrap_model::path::{ACCESS_CONTROL, SECURITY, SERVER};
    use bootstrap_model::system::{account, account_iid, acl, server_instance};
    // Bootstrap-Request, not Pack: the configuration is written step by step.
    let pack = variants(profile).into_iter().last().flatten();
    let features = Features {
        bootstrap_pack: pack,
        no_access_control: true,
        ..Features::default()
    };
    let (model, allowed) =
        model_with(profile, cfg, &features, bootstrap_model::bugs::BugSet::NONE)?;
    let factory_index = model
        .config
        .factories
        .iter()
        .position(|f| *f == Factory::BootstrapOnly)
        .ok_or("the model has no bootstrap-only start")?;
    let write = |path, value| Action::BootstrapWrite {
        path,
        value,
        keep_server_info: false,
    };
    let mut actions = vec![
        Action::ClientHoldOffExpired,
        Action::BootstrapRequestAccepted,
    ];
    for k in 0..2u8 {
        actions.push(write(
            Path::Instance(SECURITY, account_iid(k)),
            WriteValue::Security(account(k, KeyId(k))),
        ));
        actions.push(write(
            Path::Instance(SERVER, k as u16),
            WriteValue::Server(server_instance(k)),
        ));
    }
    actions.push(write(
        Path::Instance(ACCESS_CONTROL, 0),
        WriteValue::AccessControl(acl(0)),
    ));
    actions.push(Action::BootstrapFinish);
    let mut v = build(
        &model,
        &allowed,
        catalogue,
        cfg,
        pack,
        factory_index,
        &actions,
        Some("BS-OBJ-05"),
        "a multi-server configuration for a client without Access Control (BS-OBJ-05, Core 1.2 §6.1.5)".into(),
    )
    .map_err(|e| format!("profile {profile}, BS-OBJ-05: {e}"))?;
    v.features.access_control = false;
    v.features.no_access_control = true;
    Ok((v, "bootstrap-finish 4.06 without access control".into()))
}

/// The Bootstrap-Pack variants of a profile.
fn variants(profile: Profile) -> Vec<Option<bool>> {
    if profile.supports(Operation::BootstrapPackRequest) {
        vec![Some(true), Some(false)]
    } else {
        vec![None]
    }
}

struct Explored {
    states: Vec<SystemState>,
    parent: Vec<Option<(u32, Action)>>,
    root: Vec<u8>,
    history: Vec<History>,
    selections: Vec<(u32, Action, Vec<Reason>)>,
    reachable: BTreeSet<String>,
    /// The requirement IDs and stimuli the selections cover.
    covered: BTreeSet<&'static str>,
    stimuli: BTreeSet<String>,
}

fn explore(
    model: &BootstrapSystem,
    allowed: &[Choices],
    catalogue: &Catalogue,
) -> Result<Explored, String> {
    let profile = model.config.profile;
    let mut e = Explored {
        states: Vec::new(),
        parent: Vec::new(),
        root: Vec::new(),
        history: Vec::new(),
        selections: Vec::new(),
        reachable: BTreeSet::new(),
        covered: BTreeSet::new(),
        stimuli: BTreeSet::new(),
    };
    // Path-dependent facts (the history) are part of what makes two paths different for
    // the vectors: a state reached with and without, say, a rolled-back BS account write is
    // explored once for each.
    // The index holds a 64-bit hash of (state, history) and the indices with that hash,
    // compared in full on a hit: half the memory of keeping every state twice.
    let mut index: HashMap<u64, Vec<u32>> = HashMap::new();
    for (i, s) in model.initial_states().into_iter().enumerate() {
        index
            .entry(state_key(&s, &History::default()))
            .or_default()
            .push(e.states.len() as u32);
        e.states.push(s);
        e.parent.push(None);
        e.root.push(i as u8);
        e.history.push(History::default());
    }
    let mut head = 0;
    let mut actions = Vec::new();
    while head < e.states.len() {
        let s = e.states[head].clone();
        actions.clear();
        stateright::Model::actions(model, &s, &mut actions);
        actions.retain(|a| sent_in_vectors(profile, a));
        for a in actions.drain(..) {
            let (t, out) = model.step(&s, &a);
            if t.ghost.violations != 0 {
                return Err(format!(
                    "profile {profile}: the reference client breaks a property at {a}"
                ));
            }
            let alt = alternatives(model, allowed, &s, &a, &out, &t);
            let exercised = attribution::exercised(profile, e.history[head], &s, &a, &out, &t);
            let reasons = e.reasons(catalogue, profile, &s, &a, &out, exercised);
            if !reasons.is_empty() {
                e.selections.push((head as u32, a.clone(), reasons));
            }
            let h = e.history[head].after(&s, &a, &out, &t);
            let k = state_key(&t, &h);
            let known = index.get(&k).is_some_and(|v| {
                v.iter()
                    .any(|&i| e.history[i as usize] == h && e.states[i as usize] == t)
            });
            if !alt.divergent && !known {
                index.entry(k).or_default().push(e.states.len() as u32);
                e.states.push(t);
                e.parent.push(Some((head as u32, a)));
                e.root.push(e.root[head]);
                e.history.push(h);
            }
        }
        head += 1;
    }
    Ok(e)
}

/// The key of `(s, h)` in the exploration's index: a 64-bit hash.
fn state_key(s: &SystemState, h: &History) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut hasher);
    h.hash(&mut hasher);
    hasher.finish()
}

impl Explored {
    /// Why `a` taken in `s` is selected for a vector, if it is: the first step of its
    /// transition class, else a stimulus (or scenario) not seen yet, and every observable
    /// requirement among `exercised` that no selection covers yet.
    fn reasons(
        &mut self,
        catalogue: &Catalogue,
        profile: Profile,
        s: &SystemState,
        a: &Action,
        out: &Output,
        exercised: Vec<&'static str>,
    ) -> Vec<Reason> {
        let class = class_of(a, out);
        let mut reasons = Vec::new();
        if self.reachable.insert(class.clone()) {
            reasons.push(Reason::Transition(class.clone()));
        }
        let stimulus = format!("{a} [{class}]");
        if self.stimuli.insert(stimulus.clone()) && reasons.is_empty() {
            reasons.push(Reason::Stimulus(stimulus));
        }
        if let Some(scenario) = attribution::scenario(s, a) {
            if self.stimuli.insert(scenario.to_string()) {
                reasons.push(Reason::Stimulus(scenario.to_string()));
            }
        }
        for id in exercised {
            if observable(catalogue, id, profile) && self.covered.insert(id) {
                reasons.push(Reason::Requirement(id));
            }
        }
        reasons
    }
}

/// What an exploration's selections covered.
struct Seen {
    reachable: BTreeSet<String>,
    covered: BTreeSet<&'static str>,
    stimuli: BTreeSet<String>,
}

/// Whether the vectors of `profile` may send `a`. The seed's `keepServerInfo` goes to seed
/// clients only: no published version has the parameter and a client may refuse an unknown
/// one (issue #9), so BS-KEEP-03 is left to the model checker.
fn sent_in_vectors(profile: Profile, a: &Action) -> bool {
    !matches!(
        a,
        Action::BootstrapWrite {
            keep_server_info: true,
            ..
        }
    ) || profile.supports(Operation::KeepServerInfo)
}

/// Keeps of `pushed`'s selections only the reasons `first` did not cover: what only a
/// bootstrap command outside a session reaches.
fn only_new(first: &Seen, pushed: &mut Explored) {
    pushed.selections.retain_mut(|(_, _, reasons)| {
        reasons.retain(|r| match r {
            Reason::Transition(c) => !first.reachable.contains(c),
            Reason::Requirement(id) => !first.covered.contains(id),
            Reason::Stimulus(s) => !first.stimuli.contains(s),
        });
        !reasons.is_empty()
    });
}

/// Whether `id` applies to `profile` and can be observed.
pub fn observable(catalogue: &Catalogue, id: &str, profile: Profile) -> bool {
    catalogue.applies(id, profile) && attribution::unobservable(id, profile).is_none()
}

fn path_to(e: &Explored, mut i: u32) -> Vec<Action> {
    let mut v = Vec::new();
    while let Some((p, a)) = &e.parent[i as usize] {
        v.push(a.clone());
        i = *p;
    }
    v.reverse();
    v
}

/// Builds the vector of `actions` from the model's initial state `factory_index`, with the
/// prologue that stands in for its factory configuration where one does ([`prologue`]).
#[allow(clippy::too_many_arguments)]
fn build(
    model: &BootstrapSystem,
    allowed: &[Choices],
    catalogue: &Catalogue,
    cfg: &GeneratorConfig,
    pack: Option<bool>,
    factory_index: usize,
    actions: &[Action],
    primary: Option<&'static str>,
    method: String,
) -> Result<Vector, String> {
    let mut v = build_path(
        model,
        allowed,
        catalogue,
        cfg,
        pack,
        factory_index,
        actions,
        primary,
        method.clone(),
    )?;
    if v.factory != Factory::BootstrapOnly {
        match prologue(model, allowed, catalogue, cfg, pack, actions, &v, method)? {
            Ok(p) => v.prologue = Some(p),
            Err(why) => v.no_prologue = Some(why),
        }
    }
    Ok(v)
}

/// The bootstrap session that gives a client started from `bootstrap-only` the objects of
/// `v`'s factory configuration: Client Hold Off Time, Bootstrap-Request accepted, one
/// Bootstrap-Write per Security (but the BS account's), Server and Access Control instance
/// of the factory, Bootstrap-Finish; for a client that uses Bootstrap-Pack-Request, one
/// pack with those instances instead. The Register the factory's server account makes the
/// client send then is what the vector's first steps answer, as they answer it at boot.
///
/// Checked in the model (issue #10): the store after the prologue must equal the factory's,
/// and the vector's steps played after it must come out with the same stimuli, the same
/// rules and the same `after_last` as from the factory. `Ok(Err(why))` when there is no
/// such prologue: a vector whose point is the factory itself (its rule is BS-FACT-*), a
/// factory without a Bootstrap-Server Account (no bootstrap session can take the client's
/// away: BS-DEL-03), or a check that fails, named.
#[allow(clippy::too_many_arguments)]
fn prologue(
    model: &BootstrapSystem,
    allowed: &[Choices],
    catalogue: &Catalogue,
    cfg: &GeneratorConfig,
    pack: Option<bool>,
    actions: &[Action],
    v: &Vector,
    method: String,
) -> Result<Result<Prologue, String>, String> {
    // A random walk has no single point: its first requirement is only the first in order,
    // so the equivalence check below decides for it.
    let walk = method.starts_with("random walk");
    if let Some(rule) = v
        .requirements
        .first()
        .filter(|r| r.starts_with("BS-FACT-") && !walk)
    {
        return Ok(Err(format!(
            "its point is the factory configuration itself ({rule}): no bootstrap session stands in for it"
        )));
    }
    let store = v.factory.store();
    let Some((bs_iid, _)) = store.bootstrap_account() else {
        return Ok(Err(
            "the factory configuration has no Bootstrap-Server Account, and no bootstrap session can remove the client's (BS-DEL-03)".into(),
        ));
    };
    let Some(from) = model
        .config
        .factories
        .iter()
        .position(|f| *f == Factory::BootstrapOnly)
    else {
        return Ok(Err("the model has no bootstrap-only start".into()));
    };
    let steps = prologue_steps(&store, bs_iid, pack);
    let n = steps.len();
    // The store the prologue leaves.
    let mut state = model.initial_states()[from].clone();
    for a in &steps {
        state = model.step(&state, a).0;
    }
    if state.client.store != store {
        return Ok(Err(format!(
            "the prologue's bootstrap session leaves other objects than the factory's: {:?}",
            state.client.store
        )));
    }
    let all: Vec<Action> = steps.iter().chain(actions).cloned().collect();
    let played = build_path(
        model, allowed, catalogue, cfg, pack, from, &all, None, method,
    )?;
    if let Some(why) = prologue_mismatch(&played, &steps, v) {
        return Ok(Err(why));
    }
    Ok(Ok(Prologue {
        factory: Factory::BootstrapOnly,
        factory_objects: Factory::BootstrapOnly.store(),
        boot: played.boot,
        steps: played.steps[..n].to_vec(),
        features: played.features,
        equivalence: format!(
            "checked in the model: after these {n} steps the client holds the objects of {}, and the vector's {} steps and what may follow them are judged by the same rules as from {}",
            v.factory.name(),
            v.steps.len(),
            v.factory.name()
        ),
    }))
}

/// The prologue's stimuli for the factory objects `store` (BS account `bs_iid`): the
/// Client Hold Off Time, then one pack (BS-PACK-02) or a Bootstrap-Request accepted, one
/// Bootstrap-Write per instance but the BS account's and Bootstrap-Finish.
fn prologue_steps(
    store: &bootstrap_model::store::ObjectStore,
    bs_iid: u16,
    pack: Option<bool>,
) -> Vec<Action> {
    use bootstrap_model::client::WriteValue;
    let write = |path, value| Action::BootstrapWrite {
        path,
        value,
        keep_server_info: false,
    };
    let mut steps = vec![Action::ClientHoldOffExpired];
    if pack == Some(true) {
        // A client that uses Bootstrap-Pack-Request asks for the pack: one pack with the
        // factory's accounts (BS-PACK-02: each object it carries replaces that object's
        // instances; the BS account stays).
        let mut security = store.security.clone();
        security.retain(|i, _| i != bs_iid);
        steps.push(Action::BootstrapPackDelivered {
            consistent: true,
            objects: Some(Box::new(bootstrap_model::client::BootstrapPack {
                security: Some(security),
                server: Some(store.server.clone()),
                access_control: (!store.access_control.is_empty())
                    .then(|| store.access_control.clone()),
            })),
        });
    } else {
        steps.push(Action::BootstrapRequestAccepted);
        for (iid, sec) in store.security.iter().filter(|(i, _)| *i != bs_iid) {
            steps.push(write(
                Path::Instance(bootstrap_model::path::SECURITY, iid),
                WriteValue::Security(*sec),
            ));
        }
        for (iid, srv) in store.server.iter() {
            steps.push(write(
                Path::Instance(bootstrap_model::path::SERVER, iid),
                WriteValue::Server(*srv),
            ));
        }
        for (iid, acl) in store.access_control.iter() {
            steps.push(write(
                Path::Instance(bootstrap_model::path::ACCESS_CONTROL, iid),
                WriteValue::AccessControl(acl.clone()),
            ));
        }
        steps.push(Action::BootstrapFinish);
    }
    steps
}

/// Why the vector `played` after the prologue `steps` is not equivalent to `v` played from
/// its factory (issue #10): the prologue does not go through, or a later step or what may
/// follow the last one is judged differently.
fn prologue_mismatch(played: &Vector, steps: &[Action], v: &Vector) -> Option<String> {
    let n = steps.len();
    if played.steps.len() < n
        || played.steps[..n]
            .iter()
            .map(|s| &s.stimulus)
            .ne(steps.iter())
    {
        return Some("the prologue's bootstrap session does not go through in the model".into());
    }
    let later = &played.steps[n..];
    if later.len() != v.steps.len() {
        return Some(format!(
            "after the prologue the vector has {} steps, from the factory {}",
            later.len(),
            v.steps.len()
        ));
    }
    for (k, (a, b)) in later.iter().zip(&v.steps).enumerate() {
        if (&a.stimulus, &a.request, &a.expect) != (&b.stimulus, &b.request, &b.expect) {
            return Some(format!(
                "step {} is judged differently after the prologue than from the factory",
                k + 1
            ));
        }
    }
    if played.after_last != v.after_last {
        return Some("what may follow the last step differs after the prologue".into());
    }
    None
}

/// Builds the vector for a path from a factory configuration. Each step's rules come from
/// the oracle ([`oracle`]): the codes the specification allows, the content rules from the
/// store before the step, the message rules from the store after it. Fails where the
/// reference client and the oracle disagree (which server to register with, where to ask
/// for bootstrap, which resources an instance holds): a bug in one of them.
#[allow(clippy::too_many_arguments)]
fn build_path(
    model: &BootstrapSystem,
    allowed: &[Choices],
    catalogue: &Catalogue,
    cfg: &GeneratorConfig,
    pack: Option<bool>,
    factory_index: usize,
    actions: &[Action],
    primary: Option<&'static str>,
    method: String,
) -> Result<Vector, String> {
    let profile = model.config.profile;
    let uris = UriMap::canonical(model.config.servers as usize);
    let factory = model.config.factories[factory_index];
    let (mut w, boot) = Walk::start(model, allowed, catalogue, &uris, factory_index, pack)?;
    let mut all: Vec<Action> = actions.to_vec();
    let mut i = 0;
    while i < all.len() {
        let a = all[i].clone();
        let divergent = w.play(&a)?;
        i += 1;
        if divergent {
            break;
        }
        if i == actions.len() {
            all.extend(observation(profile, &a, &w.state));
        }
    }
    let mut boot = boot;
    refused_handshakes(&mut boot, &mut w.steps);
    // After the last step the client is as it was then: a Register its retry procedure
    // may send again stays allowed.
    let mut after_last = quiet_closure(model, &w.state, &w.know)?;
    for r in w.retrying_registers {
        if !after_last.contains(&r) {
            after_last.push(r);
        }
    }
    let (requirements, tier) =
        ranked_requirements(catalogue, actions.len(), &w.steps, &w.requirements, primary);
    let (steps, features) = (w.steps, w.features);
    Ok(Vector {
        format_version: FORMAT_VERSION,
        id: String::new(),
        name: String::new(),
        title: String::new(),
        profile: profile.name().to_string(),
        requirements,
        tags: tags(factory, &steps, &boot),
        tier,
        features,
        factory,
        factory_objects: factory.store(),
        endpoint: model.spec.endpoint.to_string(),
        uris,
        boot,
        steps,
        after_last,
        prologue: None,
        no_prologue: None,
        provenance: Provenance {
            model_version: env!("CARGO_PKG_VERSION").to_string(),
            generator_version: env!("CARGO_PKG_VERSION").to_string(),
            config: cfg.clone(),
            method,
        },
    })
}

/// Where a step has a management server fail the client's DTLS handshake
/// ([`Action::RegisterHandshakeFailed`]: it holds another key), the Register the client
/// was to send it, in the last expectation before (a step's or the boot's), becomes the
/// handshake it starts: no Register can come out of a session that never comes up, and
/// what the step can see of the client is its ClientHello (the identity it presents is the
/// transport's to check, BS-SEC-05). The harness's server holds that handshake until the
/// step that fails it, as it holds a Register until the step that answers it.
fn refused_handshakes(boot: &mut Expectation, steps: &mut [Step]) {
    for j in 0..steps.len() {
        let Action::RegisterHandshakeFailed { server } = steps[j].stimulus else {
            continue;
        };
        let to = bootstrap_model::objects::ServerUri::Server(server);
        let is_register = |r: &SendRule| matches!(r, SendRule::Register { to: t, .. } if *t == to);
        let earlier = steps[..j]
            .iter_mut()
            .rev()
            .map(|s| &mut s.expect)
            .chain(std::iter::once(&mut *boot))
            .find(|e| {
                e.sends
                    .iter()
                    .chain(e.or_sends.iter().flatten())
                    .any(is_register)
            });
        if let Some(e) = earlier {
            for rules in std::iter::once(&mut e.sends).chain(e.or_sends.iter_mut()) {
                for r in rules.iter_mut().filter(|r| is_register(r)) {
                    *r = SendRule::Handshake { to };
                }
            }
        }
    }
}

/// The walk along a path while [`build_path`] builds its steps: the model's state, what the
/// oracle knows and the history there, and what the steps so far collected.
struct Walk<'a> {
    model: &'a BootstrapSystem,
    allowed: &'a [Choices],
    catalogue: &'a Catalogue,
    uris: &'a UriMap,
    state: SystemState,
    know: Knowledge,
    history: History,
    /// The requirements the boot and the steps so far exercise.
    requirements: BTreeSet<&'static str>,
    features: Features,
    steps: Vec<Step>,
    /// Registers the client may send again while its registration retry procedure runs
    /// (Core 1.2 §6.2.1.1), from a refused or lost Register until it asks for bootstrap.
    retrying_registers: Vec<SendRule>,
}

impl<'a> Walk<'a> {
    /// The walk at the model's initial state `factory_index`, and the rules of what the
    /// client sends at boot (BS-FACT-01/03).
    fn start(
        model: &'a BootstrapSystem,
        allowed: &'a [Choices],
        catalogue: &'a Catalogue,
        uris: &'a UriMap,
        factory_index: usize,
        pack: Option<bool>,
    ) -> Result<(Self, Expectation), String> {
        let profile = model.config.profile;
        let factory = model.config.factories[factory_index];
        let state = model.initial_states()[factory_index].clone();
        let (_, boot_out) = Client::boot(&model.spec, factory.store(), state.client.choices);
        let know = Knowledge::factory(&state.client.store, profile);
        let boot = Expectation {
            sends: send_rules(profile, &state, &know, &boot_out.send)?,
            ..Expectation::default()
        };
        let w = Walk {
            model,
            allowed,
            catalogue,
            uris,
            requirements: attribution::at_boot(&boot_out.send)
                .into_iter()
                .filter(|id| catalogue.applies(id, profile))
                .collect(),
            features: Features {
                bootstrap_pack: pack,
                access_control: !factory.store().access_control.is_empty(),
                ..Features::default()
            },
            state,
            know,
            history: History::default(),
            steps: Vec::new(),
            retrying_registers: Vec::new(),
        };
        Ok((w, boot))
    }

    /// Plays `a` in the model and records its step with the oracle's rules; returns whether
    /// allowed clients part ways there (the vector ends at this step).
    fn play(&mut self, a: &Action) -> Result<bool, String> {
        let profile = self.model.config.profile;
        let pre = &self.state;
        let (next, out) = self.model.step(pre, a);
        let alt = alternatives(self.model, self.allowed, pre, a, &out, &next);
        let ex: Vec<&'static str> =
            attribution::exercised(profile, self.history, pre, a, &out, &next)
                .into_iter()
                .filter(|id| self.catalogue.applies(id, profile))
                .collect();
        self.requirements.extend(ex.iter().copied());
        let code = out.response.as_ref().map(|r| r.code);
        let response = match out.response {
            None => None,
            Some(_) => Some(oracle::response_rule(
                profile,
                codes_of(a, &alt, pre),
                a,
                &pre.client.store,
                &self.know,
            )?),
        };
        let mut after = self.know.clone();
        after.after(profile, a, code, &pre.client.store, &next.client.store);
        if let Action::RegisterRejected { server } | Action::RegisterLost { server } = a {
            let again = register_again(profile, pre, &self.know, *server)?;
            self.retrying_registers.extend(again);
        }
        // A client whose handshake failed may start another while its registration retry
        // procedure runs (Transport 1.2 §5.2.10: an alert that recommends a retry); the
        // server still holds another key, so each is a handshake again, never a Register.
        if let Action::RegisterHandshakeFailed { server } = a {
            let again = SendRule::Handshake {
                to: bootstrap_model::objects::ServerUri::Server(*server),
            };
            if !self.retrying_registers.contains(&again) {
                self.retrying_registers.push(again);
            }
        }
        let sends = send_rules(profile, &next, &after, &out.send)?;
        let mut or_sends = Vec::new();
        for (o, other) in &alt.or_sends {
            or_sends.push(send_rules(profile, other, &after, o)?);
        }
        let asks = out.send.iter().any(|o| {
            matches!(
                o,
                Outgoing::BootstrapRequest { .. } | Outgoing::BootstrapPackRequest { .. }
            )
        });
        let tolerated = self.retrying_registers.clone();
        if asks || next.client.phase == Phase::Bootstrapping {
            self.retrying_registers.clear();
        }
        note_features(profile, &mut self.features, pre, a, &response);
        self.steps.push(Step {
            stimulus: a.clone(),
            request: wire::stimulus(a, profile, self.uris),
            expect: Expectation {
                response,
                sends,
                or_sends,
                tolerated,
                if_absent: if_absent(self.history, a, asks),
                note: alt.note.clone(),
            },
            requirements: ex.into_iter().map(str::to_string).collect(),
        });
        self.history = self.history.after(&self.state, a, &out, &next);
        self.state = next;
        self.know = after;
        Ok(alt.divergent)
    }
}

/// What a missing bootstrap request after the Client Hold Off Time means: a fallback
/// (BS-REG-06) or a retry (BS-REQ-04) may come later than the reference's.
fn if_absent(history: History, a: &Action, asks: bool) -> Option<IfAbsent> {
    match a {
        Action::ClientHoldOffExpired if asks && history.falling_back() => {
            Some(oracle::fallback_may_be_late())
        }
        Action::ClientHoldOffExpired if asks && history.retrying() => Some(oracle::retry_is_open()),
        _ => None,
    }
}

/// The vector's requirement IDs, the rule it checks first: the requirement it was selected
/// for (`primary`), else the strongest requirement its target step (the last of the
/// `targets` actions) exercises, else the strongest of any step; then the others by
/// strength. Also the tier of the first.
fn ranked_requirements(
    catalogue: &Catalogue,
    targets: usize,
    steps: &[Step],
    requirements: &BTreeSet<&'static str>,
    primary: Option<&'static str>,
) -> (Vec<String>, Tier) {
    let by_strength =
        |v: &mut Vec<&'static str>| v.sort_by_key(|r| (catalogue.tier(r), r.to_string()));
    let mut target: Vec<&'static str> = targets
        .checked_sub(1)
        .and_then(|i| steps.get(i))
        .map(|s| {
            requirements
                .iter()
                .copied()
                .filter(|r| s.requirements.iter().any(|x| x == r))
                .collect()
        })
        .unwrap_or_default();
    by_strength(&mut target);
    let mut rest: Vec<&'static str> = requirements.iter().copied().collect();
    by_strength(&mut rest);
    let primary = primary
        .or_else(|| target.first().copied())
        .or_else(|| rest.first().copied());
    let mut ids: Vec<String> = primary.iter().map(|p| p.to_string()).collect();
    ids.extend(
        rest.iter()
            .filter(|r| Some(**r) != primary)
            .map(|s| s.to_string()),
    );
    let tier = primary.map_or(Tier::May, |p| catalogue.tier(p));
    (ids, tier)
}

/// The codes a step's response may carry: every code an allowed client answers with and
/// every code the specification accepts ([`alternatives`]), the reference's first; a Read
/// of an Access Control object with no instance may also be answered 4.04 by a client
/// without that optional object (LwM2M-OBJ-003-C-O, BS-OBJ-05).
fn codes_of(a: &Action, alt: &Alternatives, pre: &SystemState) -> Vec<String> {
    let mut codes: Vec<String> = alt.codes.iter().map(|c| c.dotted().to_string()).collect();
    if let Action::BootstrapRead { path } = a {
        if path.object() == Some(bootstrap_model::path::ACCESS_CONTROL)
            && pre.client.store.access_control.is_empty()
            && !codes.iter().any(|c| c == "4.04")
        {
            codes.push("4.04".to_string());
        }
    }
    codes
}

/// The optional client features step `a` needs (see [`Features`]): a bootstrap command
/// accepted without a preceding request in 1.0 (BS-RB-04), an Access Control instance
/// written or read, a Finish that must be refused.
fn note_features(
    profile: Profile,
    f: &mut Features,
    pre: &SystemState,
    a: &Action,
    response: &Option<crate::expectation::ResponseRule>,
) {
    let codes: Vec<&str> = response
        .iter()
        .flat_map(|r| r.codes.iter().map(String::as_str))
        .collect();
    let pushed = a.is_bootstrap_command() && !pre.ghost.in_session;
    if pushed
        && profile.push_acceptance() == bootstrap_model::profile::PushAcceptance::Required
        && codes.iter().any(|c| c.starts_with("2."))
    {
        f.server_initiated_bootstrap = true;
    }
    match a {
        Action::BootstrapWrite { path, .. }
            if path.object() == Some(bootstrap_model::path::ACCESS_CONTROL) =>
        {
            f.access_control = true
        }
        Action::BootstrapFinish | Action::BootstrapFinishDuplicated
            if !codes.is_empty() && !codes.contains(&"2.04") =>
        {
            f.finish_consistency_check = true
        }
        _ => {}
    }
    if !pre.client.store.access_control.is_empty() {
        f.access_control = true;
    }
}

/// The rules of the messages `sends` a client sends, from the state `post` it is in when
/// it sends them.
fn send_rules(
    profile: Profile,
    post: &SystemState,
    know: &Knowledge,
    sends: &[Outgoing],
) -> Result<Vec<SendRule>, String> {
    let target = post.ghost.request_target.or_else(|| {
        post.client
            .store
            .bootstrap_account()
            .and_then(|(_, s)| s.uri)
    });
    sends
        .iter()
        .map(|o| oracle::send_rule(profile, &post.client.store, target, know, o))
        .collect()
}

/// The Register to `server` a client may send again after it was refused or lost.
fn register_again(
    profile: Profile,
    pre: &SystemState,
    know: &Knowledge,
    server: u8,
) -> Result<Vec<SendRule>, String> {
    let to = bootstrap_model::objects::ServerUri::Server(server);
    let Some(a) = oracle::accounts(&pre.client.store)
        .into_iter()
        .find(|a| a.uri == to)
    else {
        return Ok(Vec::new());
    };
    let again = Outgoing::Register {
        to,
        endpoint: String::new(),
        lifetime: a.lifetime,
        version: None,
        objects: Vec::new(),
    };
    Ok(vec![oracle::send_rule(
        profile,
        &pre.client.store,
        None,
        know,
        &again,
    )?])
}

/// What a conforming client may still send after the vector's last step when nobody
/// answers it: what its timers and the loss of its pending requests lead to, two steps
/// deep (a lost Register, then the hold-off, then a Bootstrap-Request), and the Registers
/// its retry procedure may send again. The environment is enumerated here the way the
/// model does it, whatever its budgets (on the wire, silence needs none).
fn quiet_closure(
    model: &BootstrapSystem,
    end: &SystemState,
    know: &Knowledge,
) -> Result<Vec<SendRule>, String> {
    let profile = model.config.profile;
    let mut out: Vec<SendRule> = Vec::new();
    let mut frontier = vec![(end.clone(), know.clone())];
    for _ in 0..3 {
        let mut next = Vec::new();
        for (s, k) in frontier {
            let mut silence = Vec::new();
            match s.client.phase {
                Phase::HoldOff { .. } => silence.push(Action::ClientHoldOffExpired),
                Phase::Requested { .. } => silence.push(Action::BootstrapRequestLost),
                Phase::PackRequested { .. } => silence.push(Action::BootstrapPackLost),
                Phase::Bootstrapping => silence.push(Action::ExchangeLifetimeExpired),
                Phase::Operating => {}
            }
            for server in 0..model.config.servers {
                if s.client.registrations[server as usize]
                    == bootstrap_model::client::Registration::Pending
                {
                    silence.push(Action::RegisterLost { server });
                    for r in register_again(profile, &s, &k, server)? {
                        if !out.contains(&r) {
                            out.push(r);
                        }
                    }
                }
            }
            if s.client.account_timeout_armed {
                silence.push(Action::BootstrapAccountTimeoutExpired);
            }
            for a in silence {
                let (t, o) = model.step(&s, &a);
                let mut k2 = k.clone();
                k2.after(profile, &a, None, &s.client.store, &t.client.store);
                for r in send_rules(profile, &t, &k2, &o.send)? {
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
                next.push((t, k2));
            }
        }
        frontier = next;
    }
    Ok(out)
}

/// Steps appended after a selected path so that its effect shows: the configuration while
/// a session is open (Discover, and Read in 1.1+), the next Bootstrap-Request while the
/// client holds off, and whether a BS account is left after its timeout (a trigger in 1.1+,
/// a push in 1.0).
fn observation(profile: Profile, last: &Action, state: &SystemState) -> Vec<Action> {
    let observing = matches!(
        last,
        Action::BootstrapDiscover { .. } | Action::BootstrapRead { .. }
    );
    match state.client.phase {
        Phase::Bootstrapping if !observing => {
            let mut v = vec![Action::BootstrapDiscover { path: Path::Root }];
            if profile.supports(Operation::BootstrapRead) {
                v.push(Action::BootstrapRead {
                    path: Path::Object(1),
                });
                v.push(Action::BootstrapRead {
                    path: Path::Object(2),
                });
            }
            v
        }
        Phase::HoldOff { .. } => vec![Action::ClientHoldOffExpired],
        // A registration failed and the client, rightly, does not fall back (/1/y/16 =
        // false, BS-RB-05; or other servers still registered): the time a fallback would
        // take passes, and nothing may come.
        Phase::Operating
            if matches!(
                last,
                Action::RegisterRejected { .. }
                    | Action::RegisterLost { .. }
                    | Action::RegisterHandshakeFailed { .. }
            ) && state.client.store.bootstrap_account().is_some() =>
        {
            vec![Action::ClientHoldOffExpired]
        }
        Phase::Operating if matches!(last, Action::BootstrapAccountTimeoutExpired) => {
            if profile.supports(Operation::BootstrapRequestTrigger) {
                let accounts = state.client.store.server_accounts();
                accounts
                    .first()
                    .map(|a| match a.uri {
                        bootstrap_model::objects::ServerUri::Server(k) => {
                            vec![Action::BootstrapRequestTrigger {
                                server: k,
                                instance: a.server_iid,
                            }]
                        }
                        _ => vec![],
                    })
                    .unwrap_or_default()
            } else if profile.supports(Operation::ServerInitiatedPush) {
                vec![Action::BootstrapDiscover { path: Path::Root }]
            } else {
                vec![]
            }
        }
        _ => vec![],
    }
}

fn tags(factory: Factory, steps: &[Step], boot: &Expectation) -> Vec<String> {
    let mut t: BTreeSet<&str> = BTreeSet::new();
    if factory != Factory::BootstrapOnly
        && boot
            .sends
            .iter()
            .any(|s| matches!(s, SendRule::Register { .. }))
    {
        t.insert("bootstrap.factory");
    }
    for s in steps {
        let tag = match &s.stimulus {
            Action::BootstrapRequestAccepted
            | Action::BootstrapRequestRejected
            | Action::BootstrapRequestLost => "bootstrap.client-initiated",
            Action::BootstrapPackDelivered { .. }
            | Action::BootstrapPackNotImplemented
            | Action::BootstrapPackLost => "bootstrap.pack",
            Action::BootstrapWrite {
                keep_server_info: true,
                ..
            } => "bootstrap.keep-server-info",
            Action::BootstrapWrite { .. } => "bootstrap.write",
            Action::BootstrapRead { .. } => "bootstrap.read",
            Action::BootstrapDiscover { .. } => "bootstrap.discover",
            Action::BootstrapDelete { .. } => "bootstrap.delete",
            Action::BootstrapFinish | Action::BootstrapFinishDuplicated => "bootstrap.finish",
            Action::RegisterAccepted { .. } => "registration",
            Action::RegisterRejected { .. }
            | Action::RegisterLost { .. }
            | Action::RegisterHandshakeFailed { .. } => "bootstrap.rebootstrap",
            Action::BootstrapRequestTrigger { .. } | Action::ReBootstrapNotification { .. } => {
                "bootstrap.server-initiated"
            }
            Action::ServerWritesSecurity { .. }
            | Action::ServerReadsSecurity { .. }
            | Action::ServerDiscoversSecurity { .. } => "access.security-object",
            Action::ClientHoldOffExpired => "timer.hold-off",
            Action::ExchangeLifetimeExpired => "timer.exchange-lifetime",
            Action::BootstrapAccountTimeoutExpired => "timer.account-timeout",
        };
        t.insert(tag);
        if matches!(
            s.stimulus,
            Action::BootstrapRequestLost | Action::BootstrapPackLost | Action::RegisterLost { .. }
        ) {
            t.insert("network.loss");
        }
        // On the wire these wait for a built-in RFC 7252 constant: MAX_TRANSMIT_WAIT (93 s)
        // or EXCHANGE_LIFETIME (247 s), unless the client runs a scaled timing.
        if matches!(
            s.stimulus,
            Action::BootstrapRequestLost
                | Action::BootstrapPackLost
                | Action::RegisterLost { .. }
                | Action::ExchangeLifetimeExpired
        ) {
            t.insert("slow");
        }
        if matches!(s.stimulus, Action::BootstrapFinishDuplicated) {
            t.insert("network.duplication");
        }
        if matches!(s.stimulus, Action::RegisterHandshakeFailed { .. }) {
            t.insert("transport.dtls");
        }
        if matches!(s.stimulus, Action::BootstrapWrite { .. })
            && s.request.is_some()
            && s.expect
                .response
                .as_ref()
                .is_some_and(|r| r.codes[0] == "2.04")
            && s.requirements.iter().any(|r| r == "BS-RB-04")
        {
            t.insert("bootstrap.server-initiated");
        }
    }
    t.into_iter().map(str::to_string).collect()
}

/// The content-derived ID of a vector: SHA-256 over the canonical JSON of its profile,
/// features, factory, steps and what may follow them.
pub fn content_id(v: &Vector) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        profile: &'a str,
        features: &'a Features,
        factory: Factory,
        boot: &'a Expectation,
        steps: &'a [Step],
        after_last: &'a [SendRule],
        #[serde(skip_serializing_if = "Option::is_none")]
        prologue: Option<&'a Prologue>,
    }
    let key = Key {
        prologue: v.prologue.as_ref(),
        profile: &v.profile,
        features: &v.features,
        factory: v.factory,
        boot: &v.boot,
        steps: &v.steps,
        after_last: &v.after_last,
    };
    let bytes = serde_json::to_vec(&key).expect("serialisable");
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("bsv-{hex}")
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Names, titles and IDs the vectors; drops exact duplicates.
fn finish(catalogue: &Catalogue, mut vectors: Vec<(Vector, String)>) -> Vec<Vector> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (mut v, label) in vectors.drain(..) {
        v.id = content_id(&v);
        if !seen.insert(v.id.clone()) {
            continue;
        }
        let rule = v
            .requirements
            .first()
            .cloned()
            .unwrap_or_else(|| "no-requirement".into());
        v.name = format!("{}-{}-{}", slug(&rule), slug(&label), &v.id[4..10]);
        let text = catalogue
            .by_id
            .get(&rule)
            .map(|r| r.text.as_str())
            .unwrap_or("");
        let short: String = text.chars().take(90).collect();
        v.title = if short.is_empty() {
            label.clone()
        } else {
            format!(
                "{rule}: {short}{} ({label})",
                if text.chars().count() > 90 { "..." } else { "" }
            )
        };
        out.push(v);
    }
    out
}

/// Generates the vectors of one profile.
pub fn generate_profile(profile: Profile, cfg: &GeneratorConfig) -> Result<ProfileOutput, String> {
    let catalogue = Catalogue::load();
    let mut raw: Vec<(Vector, String)> = Vec::new();
    let mut reachable = BTreeSet::new();
    let mut explored = 0;
    for pack in variants(profile) {
        let (model, allowed) = model_for(profile, cfg, pack, bootstrap_model::bugs::BugSet::NONE)?;
        // Vectors are shortest paths in which the bootstrap server speaks only after the
        // client's Bootstrap-Request, which every client can be tested with; then shortest
        // paths with a bootstrap command outside a session (BS-RB-04) for what only that
        // reaches (a client the server cannot reach before it asks skips those).
        let asked = BootstrapSystem::new(Config {
            server_push: false,
            ..model.config.clone()
        })?;
        // One exploration in memory at a time: the first's vectors are built, then only what
        // it covered is kept.
        let first = explore(&asked, &allowed, &catalogue)?;
        select(&asked, &allowed, &catalogue, cfg, pack, &first, &mut raw)?;
        explored += first.states.len();
        // Destructured so that the states and paths are freed here.
        let Explored {
            reachable: first_reachable,
            covered,
            stimuli,
            ..
        } = first;
        let seen = Seen {
            reachable: first_reachable,
            covered,
            stimuli,
        };
        let mut pushed = explore(&model, &allowed, &catalogue)?;
        only_new(&seen, &mut pushed);
        select(&model, &allowed, &catalogue, cfg, pack, &pushed, &mut raw)?;
        explored += pushed.states.len();
        reachable.extend(seen.reachable);
        reachable.extend(pushed.reachable.iter().cloned());
        for w in 0..cfg.walks {
            let seed = walk_seed(profile, pack, w);
            let (factory_index, path) =
                random_walk(&model, &allowed, seed, cfg.walk_length as usize);
            let v = build(
                &model,
                &allowed,
                &catalogue,
                cfg,
                pack,
                factory_index,
                &path,
                None,
                format!("random walk, seed {seed}"),
            )
            .map_err(|e| format!("profile {profile}, random walk {seed}: {e}"))?;
            raw.push((v, format!("random walk {seed}")));
        }
    }
    if catalogue.applies("BS-OBJ-05", profile) {
        raw.push(single_server_vector(profile, cfg, &catalogue)?);
    }
    let mut vectors = finish(&catalogue, raw);
    merge_pack_variants(&mut vectors);
    Ok(ProfileOutput {
        profile,
        vectors,
        reachable,
        explored,
    })
}

/// The vectors of an exploration's selections: the shortest path to each, built.
#[allow(clippy::too_many_arguments)]
fn select(
    model: &BootstrapSystem,
    allowed: &[Choices],
    catalogue: &Catalogue,
    cfg: &GeneratorConfig,
    pack: Option<bool>,
    e: &Explored,
    raw: &mut Vec<(Vector, String)>,
) -> Result<(), String> {
    for (from, action, reasons) in &e.selections {
        let mut path = path_to(e, *from);
        path.push(action.clone());
        let primary = reasons.iter().find_map(|r| match r {
            Reason::Requirement(id) => Some(*id),
            _ => None,
        });
        let label = match &reasons[0] {
            Reason::Transition(c) => c.clone(),
            Reason::Requirement(_) | Reason::Stimulus(_) => class_of_step(model, e, *from, action),
        };
        let method = match &reasons[0] {
            Reason::Transition(c) => format!("shortest path to transition {c}"),
            Reason::Requirement(id) => format!("shortest path exercising {id}"),
            Reason::Stimulus(s) => format!("shortest path to stimulus {s}"),
        };
        let v = build(
            model,
            allowed,
            catalogue,
            cfg,
            pack,
            e.root[*from as usize] as usize,
            &path,
            primary,
            method.clone(),
        )
        .map_err(|e| format!("profile {}, {method}: {e}", model.config.profile))?;
        raw.push((v, label));
    }
    Ok(())
}

fn class_of_step(model: &BootstrapSystem, e: &Explored, from: u32, action: &Action) -> String {
    let (_, out) = model.step(&e.states[from as usize], action);
    class_of(action, &out)
}

/// Vectors that are the same whether or not the client uses Bootstrap-Pack keep one copy,
/// marked as not depending on it.
fn merge_pack_variants(vectors: &mut Vec<Vector>) {
    let mut by_body: BTreeMap<String, usize> = BTreeMap::new();
    let mut keep = vec![true; vectors.len()];
    for i in 0..vectors.len() {
        let mut probe = vectors[i].clone();
        probe.features.bootstrap_pack = None;
        let body = content_id(&probe);
        if let Some(&j) = by_body.get(&body) {
            if vectors[j].features.bootstrap_pack != vectors[i].features.bootstrap_pack {
                keep[i] = false;
                vectors[j].features.bootstrap_pack = None;
            }
        } else {
            by_body.insert(body, i);
        }
    }
    let mut k = 0;
    vectors.retain(|_| {
        k += 1;
        keep[k - 1]
    });
    for v in vectors.iter_mut() {
        v.id = content_id(v);
        let stem = v
            .name
            .rsplit_once('-')
            .map(|(a, _)| a.to_string())
            .unwrap_or_default();
        v.name = format!("{stem}-{}", &v.id[4..10]);
    }
}

/// The recorded seed of walk `w` of a profile and variant.
pub fn walk_seed(profile: Profile, pack: Option<bool>, w: u32) -> u64 {
    let p = Profile::ALL.iter().position(|x| *x == profile).unwrap_or(0) as u64;
    let v = match pack {
        None => 0,
        Some(true) => 1,
        Some(false) => 2,
    };
    0x5eed_0000 + p * 1000 + v * 100 + w as u64
}

/// A random walk through the model driven by a proptest strategy (a vector of
/// `proptest::sample::Index`, one per step) from a fixed seed; it stops where allowed
/// clients part ways or nothing can happen.
fn random_walk(
    model: &BootstrapSystem,
    allowed: &[Choices],
    seed: u64,
    length: usize,
) -> (usize, Vec<Action>) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(PtConfig::default(), rng);
    let picks = proptest::collection::vec(
        proptest::arbitrary::any::<proptest::sample::Index>(),
        length + 1,
    )
    .new_tree(&mut runner)
    .expect("a vector of indices")
    .current();
    let inits = model.initial_states();
    let factory_index = picks[0].index(inits.len());
    let mut s = inits[factory_index].clone();
    let mut path = Vec::new();
    let mut actions = Vec::new();
    for p in &picks[1..] {
        actions.clear();
        stateright::Model::actions(model, &s, &mut actions);
        // A refused handshake needs the DTLS transport: the walks stay playable on all.
        actions.retain(|a| {
            sent_in_vectors(model.config.profile, a)
                && !matches!(a, Action::RegisterHandshakeFailed { .. })
        });
        if actions.is_empty() {
            break;
        }
        let a = actions[p.index(actions.len())].clone();
        let (t, out) = model.step(&s, &a);
        let divergent = alternatives(model, allowed, &s, &a, &out, &t).divergent;
        path.push(a);
        if divergent {
            break;
        }
        s = t;
    }
    (factory_index, path)
}

/// Coverage of `vectors` (one profile) against the classes reachable in the model.
pub fn coverage(
    profile: Profile,
    vectors: &[Vector],
    reachable: &BTreeSet<String>,
) -> ProfileCoverage {
    let catalogue = Catalogue::load();
    let mut covered_classes = BTreeSet::new();
    let mut covered_reqs = BTreeSet::new();
    let mut tiers: BTreeMap<String, usize> = BTreeMap::new();
    for v in vectors {
        *tiers
            .entry(format!("{:?}", v.tier).to_uppercase())
            .or_default() += 1;
        covered_reqs.extend(v.requirements.iter().cloned());
        for s in &v.steps {
            covered_classes.insert(step_class(s));
        }
    }
    let applicable: Vec<&str> = catalogue
        .by_id
        .keys()
        .map(String::as_str)
        .filter(|id| catalogue.applies(id, profile))
        .collect();
    let observable: Vec<&str> = applicable
        .iter()
        .copied()
        .filter(|id| observable(&catalogue, id, profile))
        .collect();
    let group = |g: attribution::Exclusion| -> Vec<(String, String)> {
        applicable
            .iter()
            .filter_map(|id| {
                attribution::exclusion(id, profile)
                    .filter(|(x, _)| *x == g)
                    .map(|(_, why)| (id.to_string(), why.to_string()))
            })
            .collect()
    };
    ProfileCoverage {
        profile: profile.name().to_string(),
        vectors: vectors.len(),
        vectors_per_tier: tiers,
        transitions_reachable: reachable.len(),
        transitions_covered: reachable
            .iter()
            .filter(|c| covered_classes.contains(*c))
            .count(),
        transitions_missing: reachable
            .iter()
            .filter(|c| !covered_classes.contains(*c))
            .cloned()
            .collect(),
        requirements_observable: observable.len(),
        requirements_covered: observable
            .iter()
            .filter(|id| covered_reqs.contains(**id))
            .count(),
        requirements_missing: observable
            .iter()
            .filter(|id| !covered_reqs.contains(**id))
            .map(|s| s.to_string())
            .collect(),
        requirements_unobservable: group(attribution::Exclusion::Unobservable),
        requirements_out_of_scope: group(attribution::Exclusion::OutOfScope),
        requirements_not_yet_exercised: group(attribution::Exclusion::NotYetExercised),
        requirements_by_transport: group(attribution::Exclusion::ByTransport),
    }
}

/// The transition class a vector step stands for (its reference outcome).
pub fn step_class(s: &Step) -> String {
    let code = s
        .expect
        .response
        .as_ref()
        .map_or("-".to_string(), |r| r.codes[0].clone());
    let mut sends: Vec<&str> = s
        .expect
        .sends
        .iter()
        .map(|x| match x {
            SendRule::BootstrapRequest { .. } => "bootstrap-request",
            SendRule::BootstrapPackRequest { .. } => "pack-request",
            // The model's Register, observed as the handshake a refused session shows.
            SendRule::Register { .. } | SendRule::Handshake { .. } => "register",
        })
        .collect();
    sends.dedup();
    let sends = if sends.is_empty() {
        "nothing".to_string()
    } else {
        sends.join("+")
    };
    format!("{} {code} -> {sends}", kebab(s.stimulus.kind()))
}

/// The transition classes reachable in the model of `profile` (all variants), for the
/// coverage of vectors read from disk.
pub fn reachable_classes(
    profile: Profile,
    cfg: &GeneratorConfig,
) -> Result<BTreeSet<String>, String> {
    let catalogue = Catalogue::load();
    let mut out = BTreeSet::new();
    for pack in variants(profile) {
        let (model, allowed) = model_for(profile, cfg, pack, bootstrap_model::bugs::BugSet::NONE)?;
        out.extend(explore(&model, &allowed, &catalogue)?.reachable);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factory_vector(profile: Profile, factory: Factory, actions: &[Action]) -> Vector {
        let cfg = default_config();
        let (model, allowed) = model_for(profile, &cfg, None, Default::default()).unwrap();
        let index = model
            .config
            .factories
            .iter()
            .position(|f| *f == factory)
            .unwrap();
        build(
            &model,
            &allowed,
            &Catalogue::load(),
            &cfg,
            None,
            index,
            actions,
            None,
            "test".into(),
        )
        .unwrap()
    }

    /// The equivalence check is not vacuous: a vector whose later steps would be judged
    /// otherwise after the prologue gets none, the step named.
    #[test]
    fn a_prologue_is_refused_when_a_later_step_is_judged_differently() {
        let actions = [
            Action::RegisterAccepted { server: 0 },
            Action::BootstrapRequestTrigger {
                server: 0,
                instance: 0,
            },
        ];
        let v = factory_vector(Profile::V1_1, Factory::ServerAndBootstrap, &actions);
        assert!(v.prologue.is_some(), "{:?}", v.no_prologue);
        let cfg = default_config();
        let (model, allowed) = model_for(Profile::V1_1, &cfg, None, Default::default()).unwrap();
        let refused = |other: &Vector| {
            prologue(
                &model,
                &allowed,
                &Catalogue::load(),
                &cfg,
                None,
                &actions,
                other,
                "test".into(),
            )
            .unwrap()
            .unwrap_err()
        };
        let mut other = v.clone();
        other.steps[0]
            .expect
            .tolerated
            .push(v.boot.sends[0].clone());
        let why = refused(&other);
        assert!(why.contains("step 1 is judged differently"), "{why}");
        let mut other = v.clone();
        other.after_last.clear();
        other.after_last.push(v.boot.sends[0].clone());
        let why = refused(&other);
        assert!(why.contains("what may follow"), "{why}");
    }

    /// A factory without a BS account has no prologue, and says why.
    #[test]
    fn a_server_only_factory_has_no_prologue() {
        let v = factory_vector(
            Profile::V1_1,
            Factory::ServerOnly,
            &[
                Action::RegisterAccepted { server: 0 },
                Action::BootstrapRequestTrigger {
                    server: 0,
                    instance: 0,
                },
            ],
        );
        assert!(v.prologue.is_none());
        assert!(v.no_prologue.unwrap().contains("BS-DEL-03"));
    }
}
