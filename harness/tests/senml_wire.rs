//! SenML JSON (Content-Format 110), SenML CBOR (112) and LwM2M CBOR (11544) on the wire,
//! against every committed vector: each Bootstrap-Read answer of the reference client
//! (replayed in the model, encoded by `conformance::wire::read_content` in the four Read
//! formats and carried in a CoAP response) decodes (`conformance::records::decode`) to the
//! same resources as its TLV form, passes the step's Read rule in every format, and fails
//! it when a written value is changed; and each Bootstrap-Write's record-based payloads
//! decode to the same input as its TLV payload.

use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{Content, Input, Output, Peer};
use bootstrap_model::path::Path as LwPath;
use bootstrap_model::profile::Profile;
use bootstrap_model::system::Factory;
use coap_lite::Packet;
use conformance::expectation::{
    ContentRule, Expectation, InstanceValues, ReadRule, ResourceRule, ResourceValue, ResponseRule,
};
use conformance::judge::{self, Context, Finding};
use conformance::load::Loader;
use conformance::observation::{render_message, ObservedResponse, Variations};
use conformance::records::{self, Decoded, Record, Value};
use conformance::senml::SenmlValue;
use conformance::tlv::{self, IdentifierType, RawTlv, Tlv, TlvValue};
use conformance::vector::{Step, Vector};
use conformance::wire::{CoapRequest, Encoded, LWM2M_CBOR, LWM2M_TLV, SENML_CBOR, SENML_JSON};

/// The record-based formats: SenML JSON, SenML CBOR, LwM2M CBOR.
const RECORD_FORMATS: [u16; 3] = [SENML_JSON, SENML_CBOR, LWM2M_CBOR];
use harness::lwm2m_codec;
use std::path::Path;

fn vectors() -> Vec<Vector> {
    Loader::new()
        .load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors"))
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

/// `req` with only `e` as its payload.
fn with_payload(req: &CoapRequest, e: &Encoded) -> CoapRequest {
    CoapRequest {
        payloads: vec![e.clone()],
        ..req.clone()
    }
}

/// One Bootstrap-Read of a vector that the reference client answers with content.
struct ReadAnswer<'v> {
    vector: &'v Vector,
    /// 1-based.
    step: usize,
    expect: &'v Expectation,
    rule: &'v ReadRule,
    /// The reference client's answer.
    content: Content,
    /// The reference client's output of the step (its messages besides the answer).
    output: Output,
}

impl ReadAnswer<'_> {
    fn name(&self) -> String {
        format!("{} step {}", self.vector.name, self.step)
    }

    fn profile(&self) -> Profile {
        self.vector.profile.parse().unwrap()
    }

    fn context(&self) -> Context<'_> {
        Context {
            uris: &self.vector.uris,
            endpoint: &self.vector.endpoint,
        }
    }
}

/// Every Bootstrap-Read answered with content, replaying each vector in the model (no bug).
fn read_answers(vectors: &[Vector]) -> Vec<ReadAnswer<'_>> {
    let mut out = Vec::new();
    for v in vectors {
        let model = conformance::replay::model_for(v, BugSet::NONE).unwrap();
        let i = Factory::ALL.iter().position(|f| *f == v.factory).unwrap();
        let mut state = model.initial_states()[i].clone();
        for (n, step) in v.steps.iter().enumerate() {
            let (next, o) = model.step(&state, &step.stimulus);
            state = next;
            let Some(rule) = read_rule(step) else {
                continue;
            };
            let Some(content) = o.response.as_ref().and_then(|r| r.content.clone()) else {
                continue;
            };
            assert!(
                !matches!(content, Content::Links { .. }),
                "{} step {}: a Read rule for a Discover answer",
                v.name,
                n + 1
            );
            out.push(ReadAnswer {
                vector: v,
                step: n + 1,
                expect: &step.expect,
                rule,
                content,
                output: o,
            });
        }
    }
    out
}

fn read_rule(step: &Step) -> Option<&ReadRule> {
    match step.expect.response.as_ref()?.content.as_ref()? {
        ContentRule::Read(r) => Some(r),
        ContentRule::Discover(_) => None,
    }
}

/// The response a client sends: `all` encoded as CoAP, in the format the Accept asks for,
/// then taken in as the harness does (an empty payload, a TLV answer without instances, is
/// no payload).
fn observed(all: &[Encoded], accept: u16) -> ObservedResponse {
    let bytes = lwm2m_codec::encode_response_for(
        coap_lite::ResponseType::Content,
        all,
        false,
        1,
        b"tk",
        Some(accept.into()),
        &lwm2m_codec::READ_FORMATS,
    )
    .unwrap();
    let mut o = lwm2m_codec::observed_response(&Packet::from_bytes(&bytes).unwrap()).unwrap();
    o.accept = Some(accept);
    let chosen = all.iter().find(|e| e.content_format == accept).unwrap();
    assert_eq!(
        o.payload.as_ref().map(|p| p.content_format),
        (!chosen.hex.is_empty()).then_some(accept),
        "{o}"
    );
    o
}

/// The records of a Read answer to `target`; none without a payload.
fn records_of(o: &ObservedResponse, target: LwPath) -> Result<Vec<Record>, String> {
    match &o.payload {
        None => Ok(Vec::new()),
        Some(e) => records::decode(e.content_format, &e.bytes().unwrap(), target),
    }
}

/// Typed `records` (SenML JSON, SenML CBOR, LwM2M CBOR) as (path, value), sorted.
fn typed(records: &[Record]) -> Vec<(String, Value)> {
    let mut out: Vec<_> = records
        .iter()
        .map(|r| match &r.value {
            Decoded::Typed(v) => (r.path(), Value::of(v)),
            Decoded::Raw(_) => panic!("{}: a TLV record has no type", r.path()),
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Whether the TLV `raw` records hold the same resources and values as the `typed` ones.
fn tlv_matches(raw: &[Record], typed: &[(String, Value)]) -> Result<(), String> {
    let mut raw: Vec<&Record> = raw.iter().collect();
    raw.sort_by_key(|r| r.path());
    if raw.len() != typed.len() {
        return Err(format!("{} TLV records, {} typed", raw.len(), typed.len()));
    }
    for (r, (path, v)) in raw.iter().zip(typed) {
        if r.path() != *path || !v.matches(&r.value) {
            return Err(format!(
                "TLV {} = {}, typed {path} = {v}",
                r.path(),
                r.value
            ));
        }
    }
    Ok(())
}

#[test]
fn every_read_answer_gives_the_same_records_in_every_format() {
    let vectors = vectors();
    let mut n = 0;
    for a in read_answers(&vectors) {
        for defaults in [false, true] {
            let all = coap_formats(&a, defaults);
            let decode = |f: u16| {
                records_of(&observed(&all, f), a.rule.target)
                    .unwrap_or_else(|err| panic!("{} ({f}): {err}", a.name()))
            };
            let via_tlv = decode(LWM2M_TLV);
            let via_json = typed(&decode(SENML_JSON));
            tlv_matches(&via_tlv, &via_json).unwrap_or_else(|e| panic!("{}: {e}", a.name()));
            for f in [SENML_CBOR, LWM2M_CBOR] {
                assert_eq!(typed(&decode(f)), via_json, "{} ({f})", a.name());
                n += 1;
            }
            n += 1;
        }
    }
    assert!(
        n > 450,
        "only {n} SenML and LwM2M CBOR answers in the vectors"
    );
    println!("{n} SenML and LwM2M CBOR answers decoded like their TLV form");
}

/// The four encodings of `a`'s answer (TLV, SenML JSON, SenML CBOR, LwM2M CBOR), with the
/// Server resources that have a default when `defaults`.
fn coap_formats(a: &ReadAnswer<'_>, defaults: bool) -> Vec<Encoded> {
    let all = conformance::wire::read_content(&a.content, a.profile(), &a.vector.uris, defaults);
    let formats: Vec<u16> = all.iter().map(|e| e.content_format).collect();
    assert_eq!(formats, lwm2m_codec::READ_FORMATS, "{}", a.name());
    all
}

/// The first resource with a single value that `rule` says was written, as `(instance,
/// resource)`.
fn written(rule: &ReadRule) -> Option<(u16, u16)> {
    rule.instances.iter().find_map(|i: &InstanceValues| {
        i.resources
            .iter()
            .find_map(|r: &ResourceRule| match r.value {
                ResourceValue::Single(_) => Some((i.instance, r.resource)),
                ResourceValue::Multiple(_) => None,
            })
    })
}

/// A different value of the same type.
fn changed(v: &SenmlValue) -> SenmlValue {
    match v {
        SenmlValue::Int(i) => SenmlValue::Int(i ^ 1),
        SenmlValue::Bool(b) => SenmlValue::Bool(!b),
        SenmlValue::Str(s) => SenmlValue::Str(format!("{s}x")),
        SenmlValue::Opaque(b) => SenmlValue::Opaque([b.as_slice(), &[0]].concat()),
    }
}

/// TLV items back to the encoder's form, values as their bytes.
fn tlv_items(raw: &[RawTlv]) -> Vec<Tlv> {
    raw.iter()
        .map(|t| match t.kind {
            IdentifierType::ObjectInstance => Tlv::ObjectInstance {
                id: t.id,
                resources: tlv_items(&t.children),
            },
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
        })
        .collect()
}

/// `e` with the value of `/o/instance/resource` changed (its last byte, for TLV, which
/// carries no type: another integer, the other boolean, another last character), `None`
/// when the payload does not hold it.
fn with_changed_value(e: &Encoded, instance: u16, resource: u16, name: &str) -> Option<Encoded> {
    let bytes = e.bytes().unwrap();
    let out = match e.content_format {
        LWM2M_TLV => {
            let mut items = tlv::decode(&bytes).unwrap();
            let leaf = items
                .iter_mut()
                .filter(|t| t.kind == IdentifierType::ObjectInstance && t.id == instance)
                .flat_map(|t| t.children.iter_mut())
                .find(|r| r.kind == IdentifierType::ResourceWithValue && r.id == resource)?;
            match leaf.value.last_mut() {
                Some(b) => *b ^= 1,
                None => leaf.value.push(b'x'),
            }
            tlv::encode(&tlv_items(&items))
        }
        f => {
            let mut records = match f {
                SENML_JSON => conformance::senml::decode(&bytes),
                SENML_CBOR => conformance::senml_cbor::decode(&bytes),
                _ => conformance::lwm2m_cbor::decode(&bytes),
            }
            .unwrap();
            let (_, v) = records.iter_mut().find(|(n, _)| n == name)?;
            *v = changed(v);
            match f {
                SENML_JSON => conformance::senml::encode(&records).into_bytes(),
                SENML_CBOR => conformance::senml_cbor::encode(&records),
                _ => conformance::lwm2m_cbor::encode(&records).unwrap(),
            }
        }
    };
    Some(Encoded::new(e.content_format, &out))
}

#[test]
fn every_read_answer_passes_its_rule_in_every_format_and_a_changed_value_fails() {
    let vectors = vectors();
    let (mut passed, mut caught) = (0, 0);
    for a in read_answers(&vectors) {
        let sends: Vec<_> = a
            .output
            .send
            .iter()
            .map(|o| render_message(o, &a.vector.uris, &Variations::default()))
            .collect();
        for defaults in [false, true] {
            let all = coap_formats(&a, defaults);
            for f in lwm2m_codec::READ_FORMATS {
                let o = observed(&all, f);
                judge::judge(a.context(), a.expect, Some(&o), &sends)
                    .unwrap_or_else(|e| panic!("{} ({f}, defaults {defaults}): {e}", a.name()));
                passed += 1;
            }
            let Some((instance, resource)) = written(a.rule) else {
                continue;
            };
            let object = a.rule.target.object().unwrap();
            let name = format!("/{object}/{instance}/{resource}");
            let wrong: Vec<Encoded> = all
                .iter()
                .map(|e| {
                    with_changed_value(e, instance, resource, &name)
                        .unwrap_or_else(|| panic!("{}: {name} not in {}", a.name(), e.hex))
                })
                .collect();
            for f in lwm2m_codec::READ_FORMATS {
                let o = observed(&wrong, f);
                match judge::judge(a.context(), a.expect, Some(&o), &sends) {
                    Err(Finding::Fail { detail, .. }) if detail.contains(&name) => caught += 1,
                    other => panic!(
                        "{} ({f}): {name} changed, the judge says {other:?}",
                        a.name()
                    ),
                }
            }
        }
    }
    assert!(
        passed > 600 && caught > 100,
        "{passed} passed, {caught} caught"
    );
    println!("{passed} Read answers pass their rule, {caught} with a changed value fail it");
}

#[test]
fn every_senml_write_decodes_like_its_tlv_payload() {
    let mut n = 0;
    for v in vectors() {
        for (i, step) in v.steps.iter().enumerate() {
            let Some(req) = &step.request else { continue };
            let senml: Vec<&Encoded> = req
                .payloads
                .iter()
                .filter(|e| RECORD_FORMATS.contains(&e.content_format))
                .collect();
            if senml.is_empty() {
                continue;
            }
            assert_eq!(
                senml.len(),
                3,
                "{} step {}: SenML JSON, SenML CBOR and LwM2M CBOR",
                v.name,
                i + 1
            );
            let tlv = req
                .payloads
                .iter()
                .find(|e| e.content_format == LWM2M_TLV)
                .unwrap_or_else(|| panic!("{} step {}: SenML but no TLV", v.name, i + 1));
            let from = match step.stimulus.input() {
                Input::Write { from, .. } => from,
                other => panic!("{} step {}: a payload for {other:?}", v.name, i + 1),
            };
            let decode = |e: &Encoded| {
                let bytes =
                    lwm2m_codec::encode_request(&with_payload(req, e), i as u16, b"x").unwrap();
                lwm2m_codec::decode_request(&bytes, from, &v.uris)
                    .unwrap_or_else(|err| panic!("{} step {}: {err}", v.name, i + 1))
            };
            let via_tlv = decode(tlv);
            for e in senml {
                assert_eq!(
                    decode(e),
                    via_tlv,
                    "{} step {}: {} {}",
                    v.name,
                    i + 1,
                    e.content_format,
                    e.hex
                );
            }
            // The TLV payload itself decodes to the model's input (no Undecodable on both).
            assert_eq!(via_tlv, step.stimulus.input(), "{} step {}", v.name, i + 1);
            n += 1;
        }
    }
    assert!(n > 200, "only {n} SenML writes in the vectors");
    println!("{n} SenML writes decoded");
}

/// The Access Control instances of the hand-written packs below, in the encoder's shape.
const CANONICAL: &str = r#"[{"bn":"/2/0/","n":"0","v":1},{"n":"1","v":0},{"n":"2/1","v":31},{"n":"2/2","v":1},{"n":"3","v":1},{"bn":"/2/1/","n":"0","v":1},{"n":"1","v":1},{"n":"3","v":2}]"#;

/// The same records without base names, out of order, a value as `1.0`.
const SHUFFLED: &str = r#"[{"n":"/2/0/2/1","v":31},{"n":"/2/0/0","v":1.0},{"n":"/2/1/0","v":1},{"n":"/2/0/1","v":0},{"bn":"/2/0/","n":"2/2","v":1},{"n":"3","v":1},{"bn":"/2/1/","n":"1","v":1},{"n":"3","v":2}]"#;

/// A Read rule of /2 naming every resource of [`CANONICAL`].
fn access_control_rule() -> Expectation {
    let single = |resource: u16, v: i64| ResourceRule {
        resource,
        value: ResourceValue::Single(Value::Int(v)),
    };
    Expectation {
        response: Some(ResponseRule {
            codes: vec!["2.05".into()],
            content: Some(ContentRule::Read(ReadRule {
                target: LwPath::Object(2),
                instances: vec![
                    InstanceValues {
                        instance: 0,
                        resources: vec![
                            single(0, 1),
                            single(1, 0),
                            ResourceRule {
                                resource: 2,
                                value: ResourceValue::Multiple(vec![
                                    (1, Value::Int(31)),
                                    (2, Value::Int(1)),
                                ]),
                            },
                            single(3, 1),
                        ],
                        factory: false,
                    },
                    InstanceValues {
                        instance: 1,
                        resources: vec![single(0, 1), single(1, 1), single(3, 2)],
                        factory: false,
                    },
                ],
                absent: vec![],
                complete: true,
                allowed: vec![],
            })),
        }),
        ..Expectation::default()
    }
}

/// Hand-written packs the encoder never produces, but a client may send: names without a
/// base name, records out of order, a resource instance before another resource; the same
/// records in SenML CBOR and in LwM2M CBOR with array keys. They decode to the same
/// resources and pass the same Read rule; a changed value fails it.
#[test]
fn senml_in_other_shapes_decodes_the_same() {
    let v = &vectors()[0];
    let read = |format: u16, target: &str, bytes: &[u8]| {
        records::decode(format, bytes, target.parse::<LwPath>().unwrap())
    };
    let json = |target: &str, text: &str| read(SENML_JSON, target, text.as_bytes());
    let canonical = typed(&json("/2", CANONICAL).unwrap());
    assert_eq!(canonical.len(), 8);
    let shuffled = typed(&json("/2", SHUFFLED).unwrap());
    assert_eq!(shuffled, canonical);
    // The same shuffled records in SenML CBOR.
    let records = conformance::senml::decode(
        br#"[{"n":"/2/0/2/1","v":31},{"n":"/2/0/0","v":1},{"n":"/2/1/0","v":1},{"n":"/2/0/1","v":0},{"n":"/2/0/2/2","v":1},{"n":"/2/0/3","v":1},{"n":"/2/1/1","v":1},{"n":"/2/1/3","v":2}]"#,
    )
    .unwrap();
    let senml_cbor_bytes = conformance::senml_cbor::encode(&records);
    let cbor = typed(&read(SENML_CBOR, "/2", &senml_cbor_bytes).unwrap());
    assert_eq!(cbor, canonical);
    // The same records in LwM2M CBOR with array keys (compressed paths): {[2, 0]: {0: 1,
    // 1: 0, 2: {1: 31, 2: 1}, 3: 1}, [2, 1]: {0: 1, 1: 1, 3: 2}}, written out by hand.
    let lwm2m_cbor_bytes = [
        0xa2, 0x82, 0x02, 0x00, 0xa4, 0x00, 0x01, 0x01, 0x00, 0x02, 0xa2, 0x01, 0x18, 0x1f, 0x02,
        0x01, 0x03, 0x01, 0x82, 0x02, 0x01, 0xa3, 0x00, 0x01, 0x01, 0x01, 0x03, 0x02,
    ];
    let lcbor = typed(&read(LWM2M_CBOR, "/2", &lwm2m_cbor_bytes).unwrap());
    assert_eq!(lcbor, canonical);
    // A record outside the path read is an error there too ({[1, 0, 0]: 1} answering /2).
    assert!(read(LWM2M_CBOR, "/2", &[0xa1, 0x83, 0x01, 0x00, 0x00, 0x01]).is_err());
    // Every shape, carried in a CoAP response, passes a Read rule naming these values.
    let rule = access_control_rule();
    let ctx = Context {
        uris: &v.uris,
        endpoint: &v.endpoint,
    };
    for (format, bytes) in [
        (SENML_JSON, CANONICAL.as_bytes()),
        (SENML_JSON, SHUFFLED.as_bytes()),
        (SENML_CBOR, senml_cbor_bytes.as_slice()),
        (LWM2M_CBOR, lwm2m_cbor_bytes.as_slice()),
    ] {
        let o = observed(&[Encoded::new(format, bytes)], format);
        judge::judge(ctx, &rule, Some(&o), &[]).unwrap_or_else(|e| panic!("{o}: {e}"));
    }
    // A changed value fails it, named: a resource instance, a resource.
    for (text, at) in [
        (SHUFFLED.replace(r#""v":31"#, r#""v":32"#), "/2/0/2"),
        (SHUFFLED.replace(r#""v":2}"#, r#""v":3}"#), "/2/1/3"),
    ] {
        let o = observed(&[Encoded::new(SENML_JSON, text.as_bytes())], SENML_JSON);
        match judge::judge(ctx, &rule, Some(&o), &[]) {
            Err(Finding::Fail { detail, .. }) if detail.contains(at) => {}
            other => panic!("{o}: {other:?}"),
        }
    }
    // One instance read at its own path.
    let one = typed(
        &json(
            "/1/0",
            r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300}]"#,
        )
        .unwrap(),
    );
    assert_eq!(
        one,
        vec![
            ("/1/0/0".to_string(), Value::Int(1)),
            ("/1/0/1".to_string(), Value::Int(300))
        ]
    );
    // Records outside the path, non-LwM2M names and bad SenML are errors, not guesses.
    for (path, text) in [
        ("/1/0", r#"[{"n":"/1/1/0","v":1}]"#),
        ("/1", r#"[{"n":"/2/0/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/0","v":1}]"#),
        ("/1", r#"[{"n":"1/0/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/x/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/0/0/0/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/0/0","v":1.5}]"#),
        ("/1", r#"{"n":"/1/0/0","v":1}"#),
    ] {
        assert!(json(path, text).is_err(), "{path} {text}");
    }
    // A Bootstrap-Write whose SenML does not decode is Undecodable (4.00, BS-WRITE-06).
    let req = CoapRequest {
        method: "PUT".into(),
        path: "/1/0".into(),
        query: vec![],
        accept: None,
        payloads: vec![Encoded::new(SENML_JSON, b"[{\"n\":\"/1/0/1\"}]")],
    };
    let bytes = lwm2m_codec::encode_request(&req, 1, b"").unwrap();
    let Input::Write { value, .. } =
        lwm2m_codec::decode_request(&bytes, Peer::BootstrapServer, &v.uris).unwrap()
    else {
        panic!()
    };
    assert_eq!(value, bootstrap_model::client::WriteValue::Undecodable);
    // The same in SenML CBOR: a record without a value (array(1), map(1), n "/1/0/1").
    let req = CoapRequest {
        payloads: vec![Encoded::new(
            SENML_CBOR,
            &[0x81, 0xa1, 0x00, 0x66, b'/', b'1', b'/', b'0', b'/', b'1'],
        )],
        ..req
    };
    let bytes = lwm2m_codec::encode_request(&req, 1, b"").unwrap();
    let Input::Write { value, .. } =
        lwm2m_codec::decode_request(&bytes, Peer::BootstrapServer, &v.uris).unwrap()
    else {
        panic!()
    };
    assert_eq!(value, bootstrap_model::client::WriteValue::Undecodable);
}
