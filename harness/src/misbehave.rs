//! Independent misbehaviours: wrong client behaviours written outside the model's client,
//! so that the judge's predicates are shown to catch faults the model's own bug switches
//! ([`bootstrap_model::bugs`]) do not produce (issue #9). Each rewrites what the reference
//! client says, as a wrapper around the in-process adapter ([`MisbehavingFactory`]) and as
//! an option of the bundled client on the wire (`lwm2m-reference-client wire --misbehave`),
//! where it rewrites the datagrams it sends. The model never knows.

use crate::adapter::{Adapter, AdapterError, AdapterFactory, Observed};
use bootstrap_model::client::Input;
use bootstrap_model::path::Path;
use conformance::observation::ObservedResponse;
use conformance::senml::{self, SenmlValue};
use conformance::tlv::{self, IdentifierType, RawTlv, Tlv, TlvValue};
use conformance::vector::{Step, Vector};
use conformance::wire::{CoapMessage, Encoded, UriMap, LINK_FORMAT};
use std::time::Duration;

/// One misbehaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Register lists a Security instance (BS-REG-04: /0 MUST NOT be listed).
    RegisterListsSecurity,
    /// Bootstrap-Discover gives no `ssid` on the Security instances of servers (BS-DISC-04).
    DiscoverWithoutSsid,
    /// An instance a Bootstrap-Delete removed still shows in Discover (BS-DEL-02,
    /// BS-WIPE-03/04).
    KeepsDeletedInstance,
    /// A management server's Read of /0 is answered with its content (BS-OBJ-02: 4.01).
    AnswersServerReadOfSecurity,
    /// Bootstrap-Read answers carry a resource nobody wrote and that has no default
    /// (/1/y/3 Default Maximum Period; BS-WRITE-04).
    ReadAddsUnwrittenResource,
    /// After the last step the client registers again, unasked.
    RegistersAfterLastStep,
    /// A new request reuses the Message ID of the previous one (RFC 7252 §4.4: not within
    /// EXCHANGE_LIFETIME). On the wire only.
    ReusesMessageId,
    /// A client hosting its objects under an alternate path expects that path on the
    /// bootstrap interface too, so a Bootstrap-Write to a plain `/o/i` finds nothing
    /// (4.04) instead of being mapped (BS-OBJ-06).
    BootstrapPathsUnderAlternatePath,
}

/// A misbehaviour of the reference client's secure sessions (`--key-misbehave NAME`):
/// each breaks a rule about the keys of its accounts, which the harness's DTLS servers
/// must catch (`--dtls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMisbehaviour {
    /// Secures every session with the Bootstrap-Server Account's keys, the management
    /// servers' too (BS-SEC-05: each server account's own keys; BS-SEC-01: separate).
    BootstrapKeyEverywhere,
    /// Presents the bootstrap account's identity with a wrong key (BS-SEC-02, BS-SEC-05).
    WrongBootstrapKey,
    /// Speaks plain CoAP to `coaps://` servers (BS-SEC-02: data only in a secure session).
    PlainCoap,
    /// Keeps the first key it used with each server for every later session, ignoring a
    /// key the bootstrap server wrote since (BS-SEC-05: the keys the account holds now; a
    /// new key takes effect at the next session at the latest, A-17).
    StaleKey,
    /// When a server refuses its handshake, sends what was to go in the session in plain
    /// CoAP instead: a downgrade (BS-SEC-02: data only in an authenticated session; the
    /// failed handshake is a registration failure, Transport 1.2 §5.2.10).
    PlainAfterFailedHandshake,
}

impl KeyMisbehaviour {
    /// Every key misbehaviour.
    pub const ALL: [KeyMisbehaviour; 5] = [
        KeyMisbehaviour::BootstrapKeyEverywhere,
        KeyMisbehaviour::WrongBootstrapKey,
        KeyMisbehaviour::PlainCoap,
        KeyMisbehaviour::StaleKey,
        KeyMisbehaviour::PlainAfterFailedHandshake,
    ];

    /// The name on command lines.
    pub fn name(self) -> &'static str {
        match self {
            KeyMisbehaviour::BootstrapKeyEverywhere => "bootstrap-key-everywhere",
            KeyMisbehaviour::WrongBootstrapKey => "wrong-bootstrap-key",
            KeyMisbehaviour::PlainCoap => "plain-coap",
            KeyMisbehaviour::StaleKey => "stale-key",
            KeyMisbehaviour::PlainAfterFailedHandshake => "plain-after-failed-handshake",
        }
    }

    /// The misbehaviour called `name`.
    pub fn parse(name: &str) -> Option<KeyMisbehaviour> {
        KeyMisbehaviour::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl Misbehaviour {
    /// Every misbehaviour.
    pub const ALL: [Misbehaviour; 8] = [
        Misbehaviour::RegisterListsSecurity,
        Misbehaviour::DiscoverWithoutSsid,
        Misbehaviour::KeepsDeletedInstance,
        Misbehaviour::AnswersServerReadOfSecurity,
        Misbehaviour::ReadAddsUnwrittenResource,
        Misbehaviour::RegistersAfterLastStep,
        Misbehaviour::ReusesMessageId,
        Misbehaviour::BootstrapPathsUnderAlternatePath,
    ];

    /// The name on command lines and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Misbehaviour::RegisterListsSecurity => "register-lists-security-instance",
            Misbehaviour::DiscoverWithoutSsid => "discover-without-ssid",
            Misbehaviour::KeepsDeletedInstance => "keeps-deleted-instance",
            Misbehaviour::AnswersServerReadOfSecurity => "answers-server-read-of-security",
            Misbehaviour::ReadAddsUnwrittenResource => "read-adds-unwritten-resource",
            Misbehaviour::RegistersAfterLastStep => "registers-after-last-step",
            Misbehaviour::ReusesMessageId => "reuses-message-id",
            Misbehaviour::BootstrapPathsUnderAlternatePath => {
                "bootstrap-paths-under-alternate-path"
            }
        }
    }

    /// Looks one up by name.
    pub fn from_name(name: &str) -> Option<Misbehaviour> {
        Misbehaviour::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Text the failure that catches it must hold: the rule it breaks, so that a failure
    /// for another reason does not count as its kill.
    pub fn signature(self) -> &'static str {
        match self {
            Misbehaviour::RegisterListsSecurity => "must not be listed (BS-REG-04",
            Misbehaviour::DiscoverWithoutSsid => "without ssid=",
            Misbehaviour::KeepsDeletedInstance => "which must be gone",
            Misbehaviour::AnswersServerReadOfSecurity => "4.01",
            Misbehaviour::ReadAddsUnwrittenResource => "BS-WRITE-04",
            Misbehaviour::RegistersAfterLastStep => "after the last step",
            Misbehaviour::ReusesMessageId => "MUST NOT be reused within EXCHANGE_LIFETIME",
            Misbehaviour::BootstrapPathsUnderAlternatePath => "got 4.04",
        }
    }

    /// Whether only the wire can show it (no Message IDs in process).
    pub fn wire_only(self) -> bool {
        self == Misbehaviour::ReusesMessageId
    }
}

/// What a misbehaviour remembers across a vector.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    /// Instance links the last Discover answer listed.
    listed: Vec<(Path, String)>,
    /// Instances a Delete removed, with the link text to list them again.
    deleted: Vec<(Path, String)>,
    /// The last Register sent.
    pub last_register: Option<CoapMessage>,
}

/// What the misbehaviour needs to know of the request a response answers.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// `GET`, `PUT`, `POST`, `DELETE`.
    pub method: &'a str,
    /// The Uri-Path (`/1`).
    pub path: &'a str,
    /// Whether the bootstrap server sent it (not a management server).
    pub from_bootstrap_server: bool,
    /// Its Accept.
    pub accept: Option<u16>,
}

/// Rewrites a message the client sends.
pub fn rewrite_message(m: Misbehaviour, msg: &mut CoapMessage, memory: &mut Memory) {
    let register = msg.method == "POST" && msg.path.trim_matches('/') == "rd";
    if m == Misbehaviour::RegisterListsSecurity && register {
        if let Some(p) = &msg.payload {
            let text = p.text.clone().unwrap_or_default();
            msg.payload = Some(Encoded::new(
                LINK_FORMAT,
                format!("</0/1>,{text}").as_bytes(),
            ));
        }
    }
    if register {
        memory.last_register = Some(msg.clone());
    }
}

/// Rewrites the client's response `r` to the request `req`.
pub fn rewrite_response(
    m: Misbehaviour,
    req: RequestView<'_>,
    r: &mut ObservedResponse,
    memory: &mut Memory,
) {
    let discover = req.method == "GET" && req.accept == Some(LINK_FORMAT);
    match m {
        Misbehaviour::DiscoverWithoutSsid if discover => {
            map_links(r, |target, text| {
                if target.starts_with("/0/") {
                    text.split(';')
                        .filter(|a| !a.starts_with("ssid="))
                        .collect::<Vec<_>>()
                        .join(";")
                } else {
                    text.to_string()
                }
            });
        }
        Misbehaviour::KeepsDeletedInstance => keep_deleted(req, r, memory, discover),
        Misbehaviour::AnswersServerReadOfSecurity
            if !req.from_bootstrap_server
                && req.method == "GET"
                && req.path.trim_matches('/').split('/').next() == Some("0") =>
        {
            let items = vec![Tlv::ObjectInstance {
                id: 1,
                resources: vec![Tlv::Resource {
                    id: 0,
                    value: TlvValue::String("coap://leaked.example".into()),
                }],
            }];
            r.code = "2.05".into();
            r.payload = Some(Encoded::new(
                if discover {
                    LINK_FORMAT
                } else {
                    tlv::CONTENT_FORMAT
                },
                &if discover {
                    b"</0/0>,</0/1>".to_vec()
                } else {
                    tlv::encode(&items)
                },
            ));
        }
        Misbehaviour::BootstrapPathsUnderAlternatePath
            if req.from_bootstrap_server
                && req.method == "PUT"
                && req.path.parse::<Path>().is_ok_and(|p| p != Path::Root) =>
        {
            r.code = "4.04".into();
            r.payload = None;
        }
        Misbehaviour::ReadAddsUnwrittenResource
            if req.method == "GET" && req.path.trim_matches('/').starts_with('1') && !discover =>
        {
            if let Some(p) = &r.payload {
                if let Some(again) = with_default_max_period(p) {
                    r.payload = Some(again);
                }
            }
        }
        _ => {}
    }
}

/// `f(target, element text)` over the links of a link-format payload.
fn map_links(r: &mut ObservedResponse, f: impl Fn(&str, &str) -> String) {
    let Some(p) = &r.payload else { return };
    let Some(text) = p.text.clone() else { return };
    let out: Vec<String> = conformance::links::split_outside_quotes(&text, ',')
        .into_iter()
        .map(|e| {
            let target = e
                .split(';')
                .next()
                .unwrap_or_default()
                .trim_start_matches('<')
                .trim_end_matches('>');
            f(target, e)
        })
        .collect();
    r.payload = Some(Encoded::new(LINK_FORMAT, out.join(",").as_bytes()));
}

fn keep_deleted(
    req: RequestView<'_>,
    r: &mut ObservedResponse,
    memory: &mut Memory,
    discover: bool,
) {
    if req.method == "DELETE" && r.code == "2.02" {
        if let Ok(gone) = req.path.parse::<Path>() {
            let hit: Vec<(Path, String)> = memory
                .listed
                .iter()
                .filter(|(p, _)| gone.contains(*p) && matches!(p, Path::Instance(..)))
                .cloned()
                .collect();
            memory.deleted.extend(hit);
            if let Path::Instance(..) = gone {
                memory.deleted.push((gone, format!("<{gone}>")));
            }
        }
    }
    if discover && r.code == "2.05" {
        let Some(text) = r.payload.as_ref().and_then(|p| p.text.clone()) else {
            return;
        };
        let listed: Vec<(Path, String)> = conformance::links::parse(&text)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| {
                let p = conformance::links::object_path(e.target.as_deref()?, None)?;
                Some((p, e.text))
            })
            .collect();
        let mut out = text;
        for (p, link) in &memory.deleted {
            if !listed.iter().any(|(q, _)| q == p) {
                out.push(',');
                out.push_str(link);
            }
        }
        memory.listed = listed;
        r.payload = Some(Encoded::new(LINK_FORMAT, out.as_bytes()));
    }
}

/// The Read answer `p` with /1/y/3 (Default Maximum Period, no default) = 60 added to each
/// instance, in its own format (TLV, SenML JSON; others unchanged).
fn with_default_max_period(p: &Encoded) -> Option<Encoded> {
    let bytes = p.bytes().ok()?;
    match p.content_format {
        tlv::CONTENT_FORMAT => {
            let items = tlv::decode(&bytes).ok()?;
            let again: Vec<Tlv> = items
                .iter()
                .filter(|t| t.kind == IdentifierType::ObjectInstance)
                .map(|t| {
                    let mut resources: Vec<Tlv> = t.children.iter().map(raw).collect();
                    resources.push(Tlv::Resource {
                        id: 3,
                        value: TlvValue::Integer(60),
                    });
                    Tlv::ObjectInstance {
                        id: t.id,
                        resources,
                    }
                })
                .collect();
            Some(Encoded::new(tlv::CONTENT_FORMAT, &tlv::encode(&again)))
        }
        senml::CONTENT_FORMAT => {
            let mut records = senml::decode(&bytes).ok()?;
            let instances: Vec<String> = records
                .iter()
                .filter_map(|(n, _)| {
                    let parts: Vec<&str> = n.split('/').collect();
                    (parts.len() >= 3).then(|| format!("/{}/{}", parts[1], parts[2]))
                })
                .collect();
            let mut seen = Vec::new();
            for i in instances {
                if !seen.contains(&i) {
                    records.push((format!("{i}/3"), SenmlValue::Int(60)));
                    seen.push(i);
                }
            }
            Some(Encoded::new(
                senml::CONTENT_FORMAT,
                senml::encode(&records).as_bytes(),
            ))
        }
        _ => None,
    }
}

/// A decoded TLV item encoded again with its bytes as they were.
fn raw(t: &RawTlv) -> Tlv {
    match t.kind {
        IdentifierType::MultipleResource => Tlv::MultipleResource {
            id: t.id,
            instances: t
                .children
                .iter()
                .map(|c| (c.id, TlvValue::Opaque(c.value.clone())))
                .collect(),
        },
        _ => Tlv::Resource {
            id: t.id,
            value: TlvValue::Opaque(t.value.clone()),
        },
    }
}

/// Rewrites a CoAP response `reply` (what the bundled client on the wire sends) to the
/// request `req`; a message that is not a response is left as it is.
pub fn rewrite_reply(
    m: Misbehaviour,
    req: RequestView<'_>,
    mut reply: coap_lite::Packet,
    memory: &mut Memory,
) -> coap_lite::Packet {
    use coap_lite::{CoapOption, MessageClass};
    let Ok(mut r) = crate::lwm2m_codec::observed_response(&reply) else {
        return reply;
    };
    let before = r.clone();
    rewrite_response(m, req, &mut r, memory);
    if r == before {
        return reply;
    }
    let code = r
        .code
        .split_once('.')
        .and_then(|(c, d)| Some((c.parse::<u8>().ok()? << 5) | d.parse::<u8>().ok()?))
        .unwrap_or(0x45);
    reply.header.code = MessageClass::from(code);
    reply.clear_option(CoapOption::ContentFormat);
    reply.payload = Vec::new();
    if let Some(e) = &r.payload {
        reply.add_option(
            CoapOption::ContentFormat,
            crate::lwm2m_codec::uint(e.content_format.into()),
        );
        reply.payload = e.bytes().unwrap_or_default();
    }
    reply
}

/// The request view of a vector step's stimulus.
fn view_of(step: &Step) -> Option<RequestView<'_>> {
    let req = step.request.as_ref()?;
    let from_bootstrap_server = matches!(
        step.stimulus.input(),
        Input::Write {
            from: bootstrap_model::client::Peer::BootstrapServer,
            ..
        } | Input::Read {
            from: bootstrap_model::client::Peer::BootstrapServer,
            ..
        } | Input::Discover {
            from: bootstrap_model::client::Peer::BootstrapServer,
            ..
        } | Input::Delete {
            from: bootstrap_model::client::Peer::BootstrapServer,
            ..
        } | Input::Finish {
            from: bootstrap_model::client::Peer::BootstrapServer
        }
    );
    Some(RequestView {
        method: &req.method,
        path: &req.path,
        from_bootstrap_server,
        accept: req.accept,
    })
}

/// An adapter that rewrites another's observations with a misbehaviour.
pub struct Misbehaving {
    inner: Box<dyn Adapter>,
    m: Misbehaviour,
    memory: Memory,
}

impl Misbehaving {
    fn apply(&mut self, view: Option<RequestView<'_>>, mut o: Observed) -> Observed {
        if let (Some(v), Some(r)) = (view, o.response.as_mut()) {
            rewrite_response(self.m, v, r, &mut self.memory);
        }
        for s in &mut o.sends {
            rewrite_message(self.m, s, &mut self.memory);
        }
        o
    }
}

impl Adapter for Misbehaving {
    fn start(&mut self, v: &Vector, timeout: Duration) -> Result<Observed, AdapterError> {
        let o = self.inner.start(v, timeout)?;
        Ok(self.apply(None, o))
    }

    fn step(&mut self, step: &Step, timeout: Duration) -> Result<Observed, AdapterError> {
        let o = self.inner.step(step, timeout)?;
        Ok(self.apply(view_of(step), o))
    }

    fn drain_window(&self, v: &Vector) -> Duration {
        match self.m {
            Misbehaviour::RegistersAfterLastStep => Duration::from_millis(1),
            _ => self.inner.drain_window(v),
        }
    }

    fn drain(&mut self, window: Duration) -> Result<Observed, AdapterError> {
        let mut o = self.inner.drain(window)?;
        if self.m == Misbehaviour::RegistersAfterLastStep {
            // The last Register again, as the wire client does once it is answered.
            if let Some(again) = self.memory.last_register.clone() {
                o.sends.push(again);
            }
        }
        Ok(o)
    }

    fn uris(&self) -> Option<UriMap> {
        self.inner.uris()
    }

    fn stop(&mut self) {
        self.inner.stop()
    }

    fn wire_log(&self) -> Vec<crate::wirelog::WireRecord> {
        self.inner.wire_log()
    }

    fn client_output(&self) -> String {
        self.inner.client_output()
    }
}

/// Wraps every adapter of `inner` with misbehaviour `m`.
pub struct MisbehavingFactory {
    /// The well-behaved client.
    pub inner: Box<dyn AdapterFactory>,
    /// What it does wrong.
    pub m: Misbehaviour,
}

impl AdapterFactory for MisbehavingFactory {
    fn create(&self) -> Result<Box<dyn Adapter>, AdapterError> {
        Ok(Box::new(Misbehaving {
            inner: self.inner.create()?,
            m: self.m,
            memory: Memory::default(),
        }))
    }

    fn describe(&self) -> String {
        format!("{} misbehaving: {}", self.inner.describe(), self.m.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Misbehaviour::ALL {
            assert_eq!(Misbehaviour::from_name(m.name()), Some(m));
        }
    }

    #[test]
    fn read_answers_gain_an_unwritten_resource_in_their_format() {
        let items = vec![Tlv::ObjectInstance {
            id: 0,
            resources: vec![Tlv::Resource {
                id: 0,
                value: TlvValue::Integer(1),
            }],
        }];
        let p = Encoded::new(tlv::CONTENT_FORMAT, &tlv::encode(&items));
        let again = with_default_max_period(&p).unwrap();
        let records = conformance::records::decode(
            again.content_format,
            &again.bytes().unwrap(),
            Path::Object(1),
        )
        .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].path(), "/1/0/3");
        let json = Encoded::new(senml::CONTENT_FORMAT, br#"[{"bn":"/1/0/","n":"0","v":1}]"#);
        let again = with_default_max_period(&json).unwrap();
        let records = conformance::records::decode(
            again.content_format,
            &again.bytes().unwrap(),
            Path::Object(1),
        )
        .unwrap();
        let paths: Vec<String> = records.iter().map(|r| r.path()).collect();
        assert_eq!(paths, ["/1/0/0", "/1/0/3"]);
    }
}
