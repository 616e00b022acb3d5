//! The specification oracle: each step's rules ([`crate::expectation`]) derived from the
//! model's state (the objects a conforming client holds, the server accounts they make) and
//! from the specification's texts, never from what the reference client answered or sent.
//!
//! The oracle reads the object store, which every conforming client must hold alike (the
//! model's monitors check it), and the stimuli of the vector so far ([`Knowledge`]: which
//! instances the vector has determined, which resources the bootstrap server wrote). It
//! never reads the client's private bookkeeping (its phase, timers, caches). Its account
//! derivation ([`accounts`], from `bootstrap_model::spec`) is written independently of the
//! client's (`ObjectStore::server_accounts`); the generator refuses to write a vector where
//! the reference client registers elsewhere, so each checks the other.

use crate::catalogue::Tier;
use crate::expectation::{
    Allowance, Attr, BindingRule, ContentRule, DiscoverRule, IfAbsent, InstanceValues, LinkRule,
    Listing, Presence, ReadRule, ResourceRule, ResourceValue, ResponseRule, SendRule, VersionRule,
};
use crate::links::VersionStyle;
use crate::records::Value;
use crate::tlv::{Tlv, TlvValue};
use crate::wire;
use bootstrap_model::client::{BootstrapPack, Outgoing, WriteValue};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::objects::ServerUri;
use bootstrap_model::path::{Path, ACCESS_CONTROL, DEVICE, SECURITY, SERVER};
use bootstrap_model::profile::{Operation, Profile};
use bootstrap_model::store::ObjectStore;
use bootstrap_model::system::Action;
use std::collections::{BTreeMap, BTreeSet};

/// The objects whose instances the bootstrap interface provisions and the oracle tracks:
/// Security, Server, Access Control.
const TRACKED: [u16; 3] = [SECURITY, SERVER, ACCESS_CONTROL];

/// The OSCORE object (1.1+), never listed in Register (BS-REG-04).
pub const OSCORE: u16 = 21;

/// What the vector's stimuli so far determine about the client's instances: which instances
/// of the tracked objects the vector has named (created, written, deleted), which objects
/// it has emptied or replaced completely, and the resources written to each instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Knowledge {
    touched: BTreeMap<u16, BTreeSet<u16>>,
    complete: BTreeSet<u16>,
    written: BTreeMap<(u16, u16), Written>,
}

/// The resources of one instance as the vector determined them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Written {
    resources: BTreeMap<u16, ResourceValue>,
    /// Provisioned at the factory: the vendor may have set other resources too.
    factory: bool,
}

fn value(v: &TlvValue) -> Value {
    match v {
        TlvValue::Integer(i) => Value::Int(*i),
        TlvValue::Bool(b) => Value::Bool(*b),
        TlvValue::String(s) => Value::String(s.clone()),
        TlvValue::Opaque(b) => Value::Opaque(wire::hex(b)),
    }
}

fn resource_map(items: &[Tlv]) -> BTreeMap<u16, ResourceValue> {
    let mut out = BTreeMap::new();
    for t in items {
        match t {
            Tlv::Resource { id, value: v } => {
                out.insert(*id, ResourceValue::Single(value(v)));
            }
            Tlv::MultipleResource { id, instances } => {
                out.insert(
                    *id,
                    ResourceValue::Multiple(
                        instances.iter().map(|(i, v)| (*i, value(v))).collect(),
                    ),
                );
            }
            Tlv::ObjectInstance { .. } => {}
        }
    }
    out
}

impl Knowledge {
    /// What the factory configuration `store` determines: its instances, with the resources
    /// the vector states for them (the vendor's factory may hold more).
    pub fn factory(store: &ObjectStore, profile: Profile) -> Knowledge {
        let mut k = Knowledge::default();
        for (i, _) in store.security.iter() {
            k.touch(SECURITY, i);
        }
        for (i, s) in store.server.iter() {
            k.touch(SERVER, i);
            let mut r = resource_map(&wire::server_resources(s, profile));
            r.retain(|id, _| *id == 0 || *id == 1);
            k.written.insert(
                (SERVER, i),
                Written {
                    resources: r,
                    factory: true,
                },
            );
        }
        for (i, a) in store.access_control.iter() {
            k.touch(ACCESS_CONTROL, i);
            k.written.insert(
                (ACCESS_CONTROL, i),
                Written {
                    resources: resource_map(&wire::access_control_resources(a)),
                    factory: true,
                },
            );
        }
        k
    }

    fn touch(&mut self, object: u16, instance: u16) {
        if TRACKED.contains(&object) {
            self.touched.entry(object).or_default().insert(instance);
        }
    }

    fn replace(&mut self, object: u16, instance: u16, items: &[Tlv]) {
        self.touch(object, instance);
        self.written.insert(
            (object, instance),
            Written {
                resources: resource_map(items),
                factory: false,
            },
        );
    }

    fn merge(&mut self, object: u16, instance: u16, items: &[Tlv]) {
        self.touch(object, instance);
        let w = self.written.entry((object, instance)).or_default();
        w.resources.extend(resource_map(items));
    }

    fn empty(&mut self, object: u16, keep: Option<u16>) {
        self.complete.insert(object);
        let gone: Vec<u16> = self
            .written
            .keys()
            .filter(|(o, i)| *o == object && Some(*i) != keep)
            .map(|(_, i)| *i)
            .collect();
        for i in gone {
            self.written.remove(&(object, i));
        }
    }

    /// Takes in a step: the stimulus `action` and the code the client answered it with
    /// (`None` when it was not a request), given the store before and after it.
    pub fn after(
        &mut self,
        profile: Profile,
        action: &Action,
        code: Option<ResponseCode>,
        pre: &ObjectStore,
        post: &ObjectStore,
    ) {
        let bs = pre.bootstrap_account().map(|(i, _)| i);
        match action {
            Action::BootstrapWrite { path, value: v, .. }
                if code == Some(ResponseCode::Changed) =>
            {
                self.after_write(profile, path, v)
            }
            Action::BootstrapDelete { path } if code == Some(ResponseCode::Deleted) => {
                self.after_delete(path, bs)
            }
            Action::BootstrapPackDelivered {
                consistent: true, ..
            } if *pre != *post => {
                let Some(pack) = action.delivered_pack() else {
                    return;
                };
                self.after_pack(profile, &pack, bs);
            }
            _ => {}
        }
        self.after_removal(pre, post);
    }

    /// An accepted Bootstrap-Write (BS-WRITE-02/03): the instance it names is determined;
    /// a Server or Access Control instance holds what was written, a resource is merged in.
    fn after_write(&mut self, profile: Profile, path: &Path, v: &WriteValue) {
        match (path, v) {
            (Path::Instance(SECURITY, i), WriteValue::Security(_)) => self.touch(SECURITY, *i),
            (Path::Resource(SECURITY, i, _), _) => self.touch(SECURITY, *i),
            (Path::Instance(SERVER, i), WriteValue::Server(s)) => {
                self.replace(SERVER, *i, &wire::server_resources(s, profile))
            }
            (Path::Instance(ACCESS_CONTROL, i), WriteValue::AccessControl(a)) => {
                self.replace(ACCESS_CONTROL, *i, &wire::access_control_resources(a))
            }
            (Path::Object(SERVER), WriteValue::ServerObject(all)) => {
                for (i, s) in all.iter() {
                    self.replace(SERVER, i, &wire::server_resources(s, profile));
                }
            }
            (Path::Resource(SERVER, i, 1), WriteValue::Lifetime(l)) => self.merge(
                SERVER,
                *i,
                &[Tlv::Resource {
                    id: 1,
                    value: TlvValue::Integer((*l).into()),
                }],
            ),
            _ => {}
        }
    }

    /// An accepted Bootstrap-Delete (BS-DEL-02/03, BS-WIPE-03): the root or an object is emptied but for
    /// the Bootstrap-Server Account `bs`; an instance is named and gone.
    fn after_delete(&mut self, path: &Path, bs: Option<u16>) {
        match path {
            Path::Root => {
                for o in TRACKED {
                    self.empty(o, if o == SECURITY { bs } else { None });
                }
            }
            Path::Object(o) if TRACKED.contains(o) => {
                self.empty(*o, if *o == SECURITY { bs } else { None })
            }
            Path::Instance(o, i) if TRACKED.contains(o) && !(*o == SECURITY && Some(*i) == bs) => {
                self.touch(*o, *i);
                self.written.remove(&(*o, *i));
            }
            _ => {}
        }
    }

    /// BS-PACK-02: each object a consistent pack carries replaces that object's instances
    /// (the Bootstrap-Server Account `bs` kept).
    fn after_pack(&mut self, profile: Profile, pack: &BootstrapPack, bs: Option<u16>) {
        if let Some(all) = &pack.security {
            self.empty(SECURITY, bs);
            for (i, _) in all.iter() {
                self.touch(SECURITY, i);
            }
        }
        if let Some(all) = &pack.server {
            self.empty(SERVER, None);
            for (i, s) in all.iter() {
                self.replace(SERVER, i, &wire::server_resources(s, profile));
            }
        }
        if let Some(all) = &pack.access_control {
            self.empty(ACCESS_CONTROL, None);
            for (i, a) in all.iter() {
                self.replace(ACCESS_CONTROL, i, &wire::access_control_resources(a));
            }
        }
    }

    /// Instances the step removed otherwise (the seed's cascade, a rollback, the account
    /// timeout; BS-WIPE-01, BS-CI-04, BS-FIN-06): named by the vector, gone now.
    fn after_removal(&mut self, pre: &ObjectStore, post: &ObjectStore) {
        for o in TRACKED {
            for i in ids(pre, o) {
                if !ids(post, o).contains(&i) {
                    self.touch(o, i);
                    self.written.remove(&(o, i));
                }
            }
        }
    }

    fn absent(&self, object: u16, store: &ObjectStore) -> Vec<u16> {
        let present = ids(store, object);
        self.touched
            .get(&object)
            .into_iter()
            .flatten()
            .copied()
            .filter(|i| !present.contains(i))
            .collect()
    }
}

fn ids(s: &ObjectStore, object: u16) -> Vec<u16> {
    match object {
        SECURITY => s.security.ids().collect(),
        SERVER => s.server.ids().collect(),
        ACCESS_CONTROL => s.access_control.ids().collect(),
        DEVICE if s.device => vec![0],
        _ => Vec::new(),
    }
}

pub use bootstrap_model::spec::{accounts, Account};

/// The Discover version-element styles `profile`'s texts allow (BS-DISC-03, A-02): 1.0
/// shows the bare `lwm2m="1.0"` element and nothing forbids the RFC 6690 root link; 1.1
/// (before 1.1.1) used the bare element, 1.1.1 the root link; 1.2 only the root link (its
/// note calls the old form an error servers MAY accept).
pub fn version_styles(profile: Profile) -> Vec<VersionStyle> {
    match profile {
        Profile::Seed | Profile::V1_0 | Profile::V1_1 => {
            vec![VersionStyle::Bare, VersionStyle::RootLink]
        }
        Profile::V1_2 => vec![VersionStyle::RootLink],
    }
}

/// The `pct` values BS-REQ-02 allows in `profile`: none in the seed and 1.0 (BS-REQ-01: `ep`
/// only); TLV, SenML JSON and SenML CBOR in 1.1; LwM2M CBOR too in 1.2.
pub fn allowed_pct(profile: Profile) -> Vec<u16> {
    let all = [
        wire::LWM2M_TLV,
        wire::SENML_JSON,
        wire::SENML_CBOR,
        wire::LWM2M_CBOR,
    ];
    match profile {
        Profile::Seed | Profile::V1_0 => Vec::new(),
        Profile::V1_1 => all[..3].to_vec(),
        Profile::V1_2 => all.to_vec(),
    }
}

/// The rule of a Bootstrap-Discover answer on `target` given the store (BS-DISC-02..04):
/// every Security instance (the Bootstrap-Server's without `ssid`, the others with their
/// `ssid` and, 1.1+, their `uri`), every Server instance with its `ssid`, every Access
/// Control instance, `/3/0`; the Server object listed even without instance; instances the
/// vector deleted must be gone.
pub fn discover_rule(
    profile: Profile,
    store: &ObjectStore,
    know: &Knowledge,
    target: Path,
) -> DiscoverRule {
    let version = profile.enabler_version().unwrap_or("1.0").to_string();
    let within = |p: Path| target.contains(p);
    let mut required = security_links(profile, store);
    required.extend(other_links(store));
    required.retain(|r| within(r.path));
    let mut absent = Vec::new();
    for o in TRACKED {
        absent.extend(
            know.absent(o, store)
                .into_iter()
                .map(|i| Path::Instance(o, i)),
        );
    }
    absent.retain(|p| within(*p));
    DiscoverRule {
        target,
        version: VersionRule {
            version,
            styles: version_styles(profile),
        },
        listing: Listing {
            required,
            required_objects: [SERVER]
                .into_iter()
                .filter(|o| within(Path::Object(*o)))
                .collect(),
            absent,
            complete: know
                .complete
                .iter()
                .copied()
                .filter(|o| within(Path::Object(*o)))
                .collect(),
            forbidden_objects: Vec::new(),
        },
    }
}

/// BS-DISC-04: the link of every Security instance, the Bootstrap-Server's without `ssid`,
/// the others with their `ssid` and (1.1+) their `uri`.
fn security_links(profile: Profile, store: &ObjectStore) -> Vec<LinkRule> {
    let mut required = Vec::new();
    for (i, s) in store.security.iter() {
        let (ssid, uri) = if s.is_bootstrap() {
            (Attr::Absent, Attr::Any)
        } else {
            (
                s.ssid.map_or(Attr::Any, Attr::Equals),
                match (s.uri, profile.discover_lists_uri()) {
                    (Some(u), true) => Attr::Equals(u),
                    _ => Attr::Any,
                },
            )
        };
        required.push(LinkRule {
            path: Path::Instance(SECURITY, i),
            ssid,
            uri,
        });
    }
    required
}

/// BS-DISC-02/04: the link of every Server instance with its `ssid`, of every Access Control
/// instance, and of `/3/0`.
fn other_links(store: &ObjectStore) -> Vec<LinkRule> {
    let mut required = Vec::new();
    for (i, s) in store.server.iter() {
        required.push(LinkRule {
            path: Path::Instance(SERVER, i),
            ssid: s.ssid.map_or(Attr::Any, Attr::Equals),
            uri: Attr::Any,
        });
    }
    for (i, _) in store.access_control.iter() {
        required.push(LinkRule {
            path: Path::Instance(ACCESS_CONTROL, i),
            ssid: Attr::Any,
            uri: Attr::Any,
        });
    }
    if store.device {
        required.push(LinkRule {
            path: Path::Instance(DEVICE, 0),
            ssid: Attr::Any,
            uri: Attr::Any,
        });
    }
    required
}

/// Resources of the Server object a client may hold although nobody wrote them: the
/// mandatory ones (0, 1, 6, 7: "MUST be instantiated in any Instance", Core 1.2 §7.1) and
/// the read-only ones the client keeps itself (11, 12; A-22) with any value, and those with
/// a default in the object definition or in the registration procedure's table (Core 1.2
/// §6.2.1.1), with that default only.
pub fn server_allowances(profile: Profile) -> Vec<Allowance> {
    let mut out = object_definition_allowances();
    if profile.supports(Operation::BootstrapRead) {
        out.extend(registration_procedure_allowances());
    }
    out
}

/// One allowance: `resource` may hold `value` (any value when `None`), because `why`.
fn allow(resource: u16, value: Option<Value>, why: &str) -> Allowance {
    Allowance {
        resource,
        value,
        why: why.into(),
    }
}

/// BS-READ-01, Core 1.2 §7.1: the mandatory resources of the Server object (0, 1, 6, 7)
/// with any value, and those with a default in the object definition (2, 5) with it.
fn object_definition_allowances() -> Vec<Allowance> {
    let mandatory = "a mandatory resource of the Server object (Core 1.2 §7.1)";
    vec![
        allow(0, None, mandatory),
        allow(1, None, mandatory),
        allow(
            2,
            Some(Value::Int(0)),
            "/1/x/2 default 0 (Server object definition)",
        ),
        allow(
            5,
            Some(Value::Int(86400)),
            "/1/x/5 default 86400 (Server object definition)",
        ),
        allow(6, None, mandatory),
        allow(7, None, mandatory),
    ]
}

/// BS-READ-01 (with Bootstrap-Read): the registration procedure's resources with the defaults of
/// Core 1.2 §6.2.1.1's table, 21 and 23 with theirs, and the read-only resources the client
/// keeps itself (11, 12; A-22) with any value.
fn registration_procedure_allowances() -> Vec<Allowance> {
    let table = "default of the registration procedure resources (Core 1.2 §6.2.1.1 table)";
    vec![
        allow(14, Some(Value::Int(0)), table),
        allow(15, Some(Value::Bool(false)), table),
        allow(16, Some(Value::Bool(true)), table),
        allow(17, Some(Value::Int(5)), table),
        allow(18, Some(Value::Int(60)), table),
        allow(19, Some(Value::Int(86400)), table),
        allow(20, Some(Value::Int(1)), table),
        allow(
            21,
            Some(Value::Bool(false)),
            "/1/x/21 default false (Server object 1.1+)",
        ),
        allow(
            23,
            Some(Value::Bool(true)),
            "/1/x/23 absent means Send is off, i.e. true (Server object 1.2)",
        ),
        // read-only resources the client keeps itself, not instantiated by a Write.
        allow(
            11,
            None,
            "/1/x/11 TLS-DTLS Alert Code: read-only, kept by the client (Server object 1.1+; A-22)",
        ),
        allow(
            12,
            None,
            "/1/x/12 Last Bootstrapped: read-only, kept by the client (Server object 1.1+; A-22)",
        ),
    ]
}

/// The rule of a Bootstrap-Read answer on `target` (`/1`, `/2` or an instance of theirs):
/// every instance the store holds there with the resources the vector wrote, instances the
/// vector deleted gone. Fails when the store holds an instance the oracle has no record of
/// or whose Short Server ID or lifetime differs from the one written: the reference client
/// and the oracle disagree, a bug in one of them.
pub fn read_rule(
    profile: Profile,
    store: &ObjectStore,
    know: &Knowledge,
    target: Path,
) -> Result<ReadRule, String> {
    let object = target.object().unwrap_or(SERVER);
    let mut instances = Vec::new();
    for i in ids(store, object) {
        if target.instance().is_some_and(|t| t != i) {
            continue;
        }
        let w = know
            .written
            .get(&(object, i))
            .ok_or_else(|| format!("the model holds /{object}/{i}, which no stimulus wrote"))?;
        if object == SERVER {
            let s =
                store
                    .server
                    .get(i)
                    .copied()
                    .unwrap_or(bootstrap_model::objects::ServerInstance {
                        ssid: None,
                        lifetime: None,
                        bootstrap_on_failure: None,
                    });
            let int = |r: u16| match w.resources.get(&r) {
                Some(ResourceValue::Single(Value::Int(v))) => Some(*v),
                _ => None,
            };
            if int(0) != s.ssid.map(i64::from) || int(1) != s.lifetime.map(i64::from) {
                return Err(format!(
                    "/1/{i}: the model holds ssid {:?} lifetime {:?}, the stimuli wrote {:?} {:?}",
                    s.ssid,
                    s.lifetime,
                    int(0),
                    int(1)
                ));
            }
        }
        instances.push(InstanceValues {
            instance: i,
            resources: w
                .resources
                .iter()
                .map(|(r, v)| ResourceRule {
                    resource: *r,
                    value: v.clone(),
                })
                .collect(),
            factory: w.factory,
        });
    }
    let absent = know
        .absent(object, store)
        .into_iter()
        .filter(|i| target.instance().is_none_or(|t| t == *i))
        .collect();
    Ok(ReadRule {
        target,
        instances,
        absent,
        complete: know.complete.contains(&object) || target.instance().is_some(),
        allowed: if object == SERVER {
            server_allowances(profile)
        } else {
            Vec::new()
        },
    })
}

/// The rule of a response: `codes` (the specification's set), and for a Discover or Read
/// that may succeed the rule of its content.
pub fn response_rule(
    profile: Profile,
    codes: Vec<String>,
    action: &Action,
    store: &ObjectStore,
    know: &Knowledge,
) -> Result<ResponseRule, String> {
    let success = codes.iter().any(|c| c == "2.05");
    let content = match action {
        Action::BootstrapDiscover { path } if success => Some(ContentRule::Discover(
            discover_rule(profile, store, know, *path),
        )),
        Action::BootstrapRead { path } if success => {
            Some(ContentRule::Read(read_rule(profile, store, know, *path)?))
        }
        _ => None,
    };
    Ok(ResponseRule { codes, content })
}

/// The rule of a message the client must send, derived from the store it holds when it
/// sends it: the Bootstrap-Request's target must be `target` (its BS account's URI, or the
/// seed's Step 0 URI), a Register's target and lifetime an account of [`accounts`]. `o` is
/// the reference client's message: only its kind and target are taken, and the target is
/// checked against the oracle's.
pub fn send_rule(
    profile: Profile,
    store: &ObjectStore,
    target: Option<ServerUri>,
    know: &Knowledge,
    o: &Outgoing,
) -> Result<SendRule, String> {
    match o {
        Outgoing::BootstrapRequest { to, .. } | Outgoing::BootstrapPackRequest { to, .. } => {
            if target != Some(*to) {
                return Err(format!(
                    "the reference client requests bootstrap at {to}, the oracle expects {target:?}"
                ));
            }
            Ok(bootstrap_request_rule(profile, o, *to))
        }
        Outgoing::Register { to, lifetime, .. } => {
            register_rule(profile, store, know, *to, *lifetime)
        }
    }
}

/// BS-CI-01/02, BS-REQ-01/02, BS-PACK-01: a Bootstrap-Request to `to` with the content
/// formats and device information the profile allows, or a Bootstrap-Pack-Request to `to`
/// accepting the SenML and LwM2M CBOR/JSON formats.
fn bootstrap_request_rule(profile: Profile, o: &Outgoing, to: ServerUri) -> SendRule {
    match o {
        Outgoing::BootstrapRequest { .. } => SendRule::BootstrapRequest {
            to,
            pct: allowed_pct(profile),
            device_info: profile.request_carries_device_info(),
        },
        _ => SendRule::BootstrapPackRequest {
            to,
            accept: vec![wire::SENML_CBOR, wire::SENML_JSON, wire::LWM2M_CBOR],
        },
    }
}

/// BS-REG-01..04: a Register to `to` goes to an account of [`accounts`] with its lifetime,
/// the endpoint name, version and binding the profile calls for, and the object list.
fn register_rule(
    profile: Profile,
    store: &ObjectStore,
    know: &Knowledge,
    to: ServerUri,
    lifetime: u32,
) -> Result<SendRule, String> {
    let Some(a) = accounts(store).into_iter().find(|a| a.uri == to) else {
        return Err(format!(
            "the reference client registers with {to}, for which the oracle sees no account"
        ));
    };
    if a.lifetime != lifetime {
        return Err(format!(
            "the reference client registers with {to} for {lifetime} s, the account says {} s",
            a.lifetime
        ));
    }
    let published = profile != Profile::Seed && profile != Profile::V1_0;
    Ok(SendRule::Register {
        to,
        endpoint: if published {
            Presence::Optional
        } else {
            Presence::Required
        },
        lifetime: a.lifetime,
        version: profile.enabler_version().map(str::to_string),
        binding: if published {
            BindingRule::IncludesUdp
        } else {
            BindingRule::EqualsWritten(wire::BINDING.to_string())
        },
        objects: register_objects(store, know, published),
        objects_optional: profile == Profile::V1_2,
    })
}

/// BS-REG-04: Register lists every Server, Access Control and Device instance the client
/// holds, none the vector deleted, and neither the Security object nor (as published, 1.1+)
/// the OSCORE object.
fn register_objects(store: &ObjectStore, know: &Knowledge, published: bool) -> Listing {
    let mut required: Vec<LinkRule> = Vec::new();
    for o in [SERVER, ACCESS_CONTROL, DEVICE] {
        for i in ids(store, o) {
            required.push(LinkRule {
                path: Path::Instance(o, i),
                ssid: Attr::Any,
                uri: Attr::Any,
            });
        }
    }
    let mut absent = Vec::new();
    for o in [SERVER, ACCESS_CONTROL] {
        absent.extend(
            know.absent(o, store)
                .into_iter()
                .map(|i| Path::Instance(o, i)),
        );
    }
    Listing {
        required,
        required_objects: Vec::new(),
        absent,
        complete: know
            .complete
            .iter()
            .copied()
            .filter(|o| *o != SECURITY)
            .collect(),
        forbidden_objects: if published {
            vec![SECURITY, OSCORE]
        } else {
            vec![SECURITY]
        },
    }
}

/// How the absence of a step's Bootstrap-Request counts when it follows an attempt that
/// failed: the retry is the client's business (BS-CI-09, Core 1.2 §6.2.1.1 "The registration
/// retry mechanisms for the Bootstrap Server are implementation dependent"), so its absence
/// ends the vector not observed.
pub fn retry_is_open() -> IfAbsent {
    IfAbsent {
        tier: Tier::May,
        why: "retrying bootstrap after a failed attempt, and when, is implementation dependent (BS-CI-09, A-07; Core 1.2 §6.2.1.1)".into(),
    }
}

/// How the absence of the Bootstrap-Request that follows a registration failure counts:
/// the client must fall back (BS-REG-06, BS-RB-05), but when it deems registration failed
/// depends on its registration retry procedure (the /1/x/17-20 resources are optional,
/// their defaults take minutes: Core 1.2 §6.2.1.1), so a late one is a SHOULD failure.
pub fn fallback_may_be_late() -> IfAbsent {
    IfAbsent {
        tier: Tier::Should,
        why: "a client whose registration retry procedure takes longer (optional /1/x/17-20 resources, defaults of minutes: Core 1.2 §6.2.1.1; 1.0 leaves the attempts to the client) falls back later than the step allows".into(),
    }
}
