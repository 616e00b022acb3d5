//! Fuzz targets for every decoder of client input, and for the judge that reads what they
//! decode, driven by proptest so that they run in CI for a bounded number of cases:
//!
//! - `coap-response`: a client's response as the harness takes it in: `Packet::from_bytes`,
//!   `harness::lwm2m_codec::observed_response`, the payload through `conformance::records::decode`
//!   (the Bootstrap-Read decoder) for the targets /1, /2, /1/0 and the rule's own, as its
//!   own Content-Format and as each Read format (TLV, SenML JSON, SenML CBOR, LwM2M CBOR),
//!   and the observed response through `conformance::judge::judge` against the rule of the
//!   step it answers, a Discover rule and a Read rule of the committed vectors;
//! - `coap-request`: `harness::lwm2m_codec::decode_request` (the reference client's side);
//! - `coap-client-message`: a client's own request (Bootstrap-Request, Bootstrap-Pack-Request,
//!   Register): `Packet::from_bytes`, `harness::lwm2m_codec::client_request`, then `judge` against
//!   the send rules of the step that produced it;
//! - `tlv` (`conformance::tlv::decode` and its accessors), `link-format`
//!   (`conformance::links::parse`, `version_element`, `alternate_path`, `object_path`),
//!   `senml` (`conformance::senml::decode`), `senml-cbor` (`conformance::senml_cbor::decode`),
//!   `lwm2m-cbor` (`conformance::lwm2m_cbor::decode`);
//! - `fuzz_blockwise`: the block-wise transfer state machines (`harness::blockwise`, RFC 7959).
//!
//! Each byte target feeds arbitrary bytes and, four times as often, structure-aware
//! mutations of valid inputs (bit flips, truncations, byte and token insertions, duplicated
//! and deleted slices, splices of another seed, and edits of the parsed CoAP message, TLV,
//! SenML, CBOR or link-format), which get past the first checks into the deep code. The
//! valid inputs come from the committed vectors: the stimuli's payloads as the vectors hold
//! them, and the client's side (responses, its own requests, their payloads) from replaying
//! each vector in the model and rendering the reference client's output as sent
//! (`conformance::observation`, with no variation and with every conforming variation);
//! vectors hold rules, not the reference client's bytes. A crash is a panic: proptest
//! catches it, shrinks the input and the test fails with the minimal one (seed, mutations,
//! bytes). Decoding errors and failed judgements are expected and fine. Each target was
//! shown to find a panic planted in the code it targets (for `coap-response`, in
//! `records::decode` and in the judge's check of a Read answer; for `coap-client-message`,
//! in `client_request` and in the judge's check of a Register; for `link-format`, in
//! `links::parse`, `object_path` and `alternate_path`).
//!
//! `FUZZ_CASES` sets the number of cases per target (default 50000), `FUZZ_SEED` the RNG
//! seed (default fixed, so CI is reproducible). Each target prints
//! `fuzz <target>: N cases, 0 crashes` (see it with `--nocapture`).

use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{Client, Content, Output, Peer};
use bootstrap_model::code::ResponseCode;
use bootstrap_model::path::Path as LwPath;
use bootstrap_model::profile::Profile;
use bootstrap_model::system::Factory;
use coap_lite::{CoapOption, MessageClass, Packet};
use conformance::expectation::{ContentRule, Expectation};
use conformance::judge::{self, Context};
use conformance::links;
use conformance::load::Loader;
use conformance::observation::{render_message, render_response, ObservedResponse, Variations};
use conformance::records;
use conformance::tlv::{self, IdentifierType, RawTlv};
use conformance::vector::{Step as VectorStep, Vector};
use conformance::wire::{
    self, Encoded, UriMap, LINK_FORMAT, LWM2M_CBOR, LWM2M_TLV, SENML_CBOR, SENML_JSON,
    UNDECODABLE_LWM2M_CBOR, UNDECODABLE_SENML_CBOR, UNDECODABLE_SENML_JSON, UNDECODABLE_TLV,
};
use harness::lwm2m_codec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::{Once, OnceLock};
use std::time::Instant;

/// The valid inputs of every target, from the committed vectors, each once, with the rules
/// they are judged against.
struct Corpus {
    uris: UriMap,
    endpoint: String,
    /// The expectations of the steps whose stimulus is a request (each with its response
    /// rule), distinct: the contexts of `responses`.
    answers: Vec<Expectation>,
    /// The indices in `answers` of those with a Discover content rule.
    discover: Vec<usize>,
    /// The indices in `answers` of those with a Read content rule.
    read: Vec<usize>,
    /// The expectations of the steps (and of power-on) after which the client sends
    /// messages, without their response rule, each with the URI of the server a message
    /// went to (what `client_request` is told): the contexts of `messages`.
    outgoing: Vec<(Expectation, String)>,
    /// The client's CoAP responses, each with the index in `answers` of its step's rule.
    responses: Vec<(Vec<u8>, usize)>,
    /// CoAP requests to the client, one per payload alternative.
    stimuli: Vec<(Vec<u8>, usize)>,
    /// The client's own CoAP requests, each with the index in `outgoing` of its step's rules.
    messages: Vec<(Vec<u8>, usize)>,
    /// The responses and messages rendered without variations (the reference client's),
    /// which pass their step's rules.
    reference: BTreeSet<(Vec<u8>, usize)>,
    tlv: Vec<(Vec<u8>, usize)>,
    links: Vec<(Vec<u8>, usize)>,
    senml: Vec<(Vec<u8>, usize)>,
    senml_cbor: Vec<(Vec<u8>, usize)>,
    lwm2m_cbor: Vec<(Vec<u8>, usize)>,
}

/// The index of `x` in `list`, added at the end when absent.
fn index_of<T: PartialEq>(list: &mut Vec<T>, x: T) -> usize {
    match list.iter().position(|y| *y == x) {
        Some(i) => i,
        None => {
            list.push(x);
            list.len() - 1
        }
    }
}

/// Replays `v` in the model (no bug) and gives the output of power-on (no step) and of
/// each step.
fn outputs(v: &Vector) -> Vec<(Option<&VectorStep>, Output)> {
    let model = conformance::replay::model_for(v, BugSet::NONE).unwrap();
    let i = Factory::ALL
        .iter()
        .position(|f| *f == v.factory)
        .unwrap_or_else(|| panic!("{}: factory {:?} unknown", v.name, v.factory));
    let mut state = model.initial_states()[i].clone();
    let (_, boot) = Client::boot(&model.spec, v.factory.store(), state.client.choices);
    let mut out = vec![(None, boot)];
    for step in &v.steps {
        let (next, o) = model.step(&state, &step.stimulus);
        out.push((Some(step), o));
        state = next;
    }
    out
}

/// The model's response code of a dotted code the model renders.
fn code_of(dotted: &str) -> ResponseCode {
    ResponseCode::ALL
        .into_iter()
        .find(|c| c.dotted() == dotted)
        .unwrap_or_else(|| panic!("the model renders {dotted}"))
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let vectors = Loader::new()
            .load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors"))
            .unwrap();
        let uris = vectors[0].1.uris.clone();
        let endpoint = vectors[0].1.endpoint.clone();
        let mut answers: Vec<Expectation> = Vec::new();
        let mut outgoing: Vec<(Expectation, String)> = Vec::new();
        let mut responses = BTreeSet::new();
        let mut stimuli = BTreeSet::new();
        let mut messages = BTreeSet::new();
        let mut reference = BTreeSet::new();
        let (mut tlv, mut links, mut senml) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut senml_cbor = BTreeSet::new();
        let mut lwm2m_cbor = BTreeSet::new();
        let mut payload = |e: &Encoded| {
            let set = match e.content_format {
                LWM2M_TLV => &mut tlv,
                LINK_FORMAT => &mut links,
                SENML_JSON => &mut senml,
                SENML_CBOR => &mut senml_cbor,
                LWM2M_CBOR => &mut lwm2m_cbor,
                _ => return,
            };
            set.insert((e.bytes().unwrap(), 0));
        };
        for (_, v) in &vectors {
            assert_eq!(
                v.uris, uris,
                "{}: the fuzz targets assume one URI map",
                v.name
            );
            assert_eq!(
                v.endpoint, endpoint,
                "{}: the fuzz targets assume one endpoint",
                v.name
            );
            // The server's side: the stimuli as the vectors hold them.
            for step in &v.steps {
                let Some(req) = &step.request else { continue };
                for e in &req.payloads {
                    let one = wire::CoapRequest {
                        payloads: vec![e.clone()],
                        ..req.clone()
                    };
                    stimuli.insert((lwm2m_codec::encode_request(&one, 3, b"x").unwrap(), 0));
                    payload(e);
                }
                if req.payloads.is_empty() {
                    stimuli.insert((lwm2m_codec::encode_request(req, 3, b"x").unwrap(), 0));
                }
            }
            // The client's side: the reference client's output, rendered as sent (not where
            // a server refuses the handshake: its Register shows as the handshake there).
            if v.needs_dtls() {
                continue;
            }
            let profile: Profile = v.profile.parse().unwrap();
            let outs = outputs(v);
            for vary in [Variations::default(), Variations::all()] {
                let plain = vary == Variations::default();
                let mut seed = |set: &mut BTreeSet<(Vec<u8>, usize)>, s: (Vec<u8>, usize)| {
                    if plain {
                        reference.insert(s.clone());
                    }
                    set.insert(s);
                };
                for (step, out) in &outs {
                    let expect = step.map_or(&v.boot, |s| &s.expect);
                    for o in &out.send {
                        let m = render_message(o, &v.uris, &vary);
                        let rules = Expectation {
                            response: None,
                            ..expect.clone()
                        };
                        let k = index_of(&mut outgoing, (rules, m.uri.clone()));
                        let bytes = lwm2m_codec::encode_client_message(&m, 7, b"t").unwrap();
                        seed(&mut messages, (bytes, k));
                        // A Register's object list is link-format too.
                        if let Some(e) = &m.payload {
                            payload(e);
                        }
                    }
                    let (Some(step), Some(r)) = (step, &out.response) else {
                        continue;
                    };
                    if step.request.is_none() {
                        continue;
                    }
                    let a = index_of(&mut answers, step.expect.clone());
                    let sent = render_response(r, profile, &v.uris, &vary, None);
                    let encodings: Vec<Encoded> = sent.payload.iter().cloned().collect();
                    let bytes = lwm2m_codec::encode_response_for(
                        lwm2m_codec::response_type(code_of(&sent.code)),
                        &encodings,
                        true,
                        5,
                        b"tk",
                        None,
                        &[],
                    )
                    .unwrap();
                    seed(&mut responses, (bytes, a));
                    for e in &encodings {
                        payload(e);
                    }
                    // A Read answer in every format, each as the Accept asks for it.
                    let Some(c) = &r.content else { continue };
                    if matches!(c, Content::Links { .. }) {
                        continue;
                    }
                    let all = wire::read_content(c, profile, &v.uris, vary.read_defaults);
                    for e in &all {
                        let bytes = lwm2m_codec::encode_response_for(
                            lwm2m_codec::response_type(r.code),
                            &all,
                            false,
                            6,
                            b"tk",
                            Some(e.content_format.into()),
                            &lwm2m_codec::READ_FORMATS,
                        )
                        .unwrap();
                        seed(&mut responses, (bytes, a));
                        payload(e);
                    }
                }
            }
        }
        let rules_with = |want: fn(&ContentRule) -> bool| -> Vec<usize> {
            (0..answers.len())
                .filter(|i| {
                    answers[*i]
                        .response
                        .as_ref()
                        .and_then(|r| r.content.as_ref())
                        .is_some_and(want)
                })
                .collect()
        };
        let discover = rules_with(|c| matches!(c, ContentRule::Discover(_)));
        let read = rules_with(|c| matches!(c, ContentRule::Read(_)));
        assert!(
            discover.len() >= 3 && read.len() >= 3,
            "{} Discover and {} Read rules",
            discover.len(),
            read.len()
        );
        let c = Corpus {
            uris,
            endpoint,
            answers,
            discover,
            read,
            outgoing,
            responses: responses.into_iter().collect(),
            stimuli: stimuli.into_iter().collect(),
            messages: messages.into_iter().collect(),
            reference,
            tlv: tlv.into_iter().collect(),
            links: links.into_iter().collect(),
            senml: senml.into_iter().collect(),
            senml_cbor: senml_cbor.into_iter().collect(),
            lwm2m_cbor: lwm2m_cbor.into_iter().collect(),
        };
        for (name, seeds) in [
            ("responses", &c.responses),
            ("stimuli", &c.stimuli),
            ("messages", &c.messages),
            ("tlv", &c.tlv),
            ("links", &c.links),
            ("senml", &c.senml),
            ("senml-cbor", &c.senml_cbor),
            ("lwm2m-cbor", &c.lwm2m_cbor),
        ] {
            assert!(seeds.len() >= 10, "only {} {name} seeds", seeds.len());
        }
        c
    })
}

impl Corpus {
    fn context(&self) -> Context<'_> {
        Context {
            uris: &self.uris,
            endpoint: &self.endpoint,
        }
    }
}

/// Byte strings that mean something to one of the decoders: TLV type bytes and long
/// lengths, the CoAP payload marker and extended option deltas, link-format and SenML JSON
/// syntax, extreme numbers, base64 symbols outside the URL-safe alphabet.
const TOKENS: &[&[u8]] = &[
    &[0x00],
    &[0xff],
    &[0xff, 0xff],
    &[0x7f],
    &[0x80],
    &[0xc8, 0x00, 0xff],
    &[0xd8, 0x00, 0x00, 0xff],
    &[0xf8, 0x01, 0x00, 0xff, 0xff, 0xff],
    &[0x08, 0x00, 0x03],
    &[0x88, 0x02, 0x03, 0x41, 0x01, 0x1f],
    &[0x41, 0x01],
    &[0xe0, 0xff, 0xff],
    &[0xd0, 0xff],
    &[0xf0],
    &[0x0f],
    b"\"",
    b",",
    b";",
    b"<",
    b">",
    b"</>",
    b"=",
    b"/",
    b"lwm2m=\"1.0\"",
    b"</>;lwm2m=1.1",
    b";ssid=",
    b";uri=\"",
    b"65535",
    b"65536",
    b"-1",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b"\"bn\":",
    b"\"n\":",
    b"\"v\":",
    b"\"vb\":",
    b"\"vs\":",
    b"\"vd\":",
    b"\"bv\":",
    b"1e400",
    b"-0.5",
    b"1.0",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"null",
    b"true",
    b"\\u0000",
    b"\\ud800",
    b"\\",
    b"==",
    b"+/",
    b"/0/0/0/0/0",
    b"/1/0/",
    b"\xc3",
    b"\xf0\x9f\x98",
    // CBOR heads: huge declared lengths (byte string, text, array, map), indefinite
    // lengths and a break, half and double floats, a bignum tag, the SenML labels.
    &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x7a, 0xff, 0xff, 0xff, 0xff],
    &[0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x5f],
    &[0x9f],
    &[0xbf],
    &[0xf9, 0x7c, 0x00],
    &[0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
    &[0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x21],
    &[0x24],
    &[0x08],
];

/// One byte-level mutation; every position is an [`Index`] scaled to the input's current
/// length.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    InsertByte(Index, u8),
    InsertToken(Index, Index),
    Duplicate(Index, Index, Index),
    Delete(Index, Index),
    /// A slice of another seed of the same target inserted here.
    Splice(Index, Index, Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(p, b)| Mutation::SetByte(p, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(p, b)| Mutation::InsertByte(p, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(p, t)| Mutation::InsertToken(p, t)),
        (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(s, l, at)| Mutation::Duplicate(s, l, at)),
        (any::<Index>(), any::<Index>()).prop_map(|(s, l)| Mutation::Delete(s, l)),
        (
            any::<Index>(),
            any::<Index>(),
            any::<Index>(),
            any::<Index>()
        )
            .prop_map(|(seed, s, l, at)| Mutation::Splice(seed, s, l, at)),
    ]
}

/// The slice `[start, start + len)` of `b` that `s` and `l` pick (at most 64 bytes), if
/// `b` is not empty.
fn slice(b: &[u8], s: &Index, l: &Index) -> Option<(usize, usize)> {
    if b.is_empty() {
        return None;
    }
    let start = s.index(b.len());
    let len = 1 + l.index((b.len() - start).min(64));
    Some((start, len))
}

fn apply(b: &mut Vec<u8>, m: &Mutation, seeds: &[(Vec<u8>, usize)]) {
    let at = |p: &Index, b: &Vec<u8>| p.index(b.len() + 1);
    match m {
        Mutation::FlipBit(p, bit) if !b.is_empty() => {
            let i = p.index(b.len());
            b[i] ^= 1 << bit;
        }
        Mutation::SetByte(p, v) if !b.is_empty() => {
            let i = p.index(b.len());
            b[i] = *v;
        }
        Mutation::Truncate(p) => {
            let n = p.index(b.len() + 1);
            b.truncate(n);
        }
        Mutation::InsertByte(p, v) => {
            let i = at(p, b);
            b.insert(i, *v);
        }
        Mutation::InsertToken(p, t) => {
            let i = at(p, b);
            let tok = TOKENS[t.index(TOKENS.len())];
            b.splice(i..i, tok.iter().copied());
        }
        Mutation::Duplicate(s, l, p) => {
            if let Some((start, len)) = slice(b, s, l) {
                let copy = b[start..start + len].to_vec();
                let i = at(p, b);
                b.splice(i..i, copy);
            }
        }
        Mutation::Delete(s, l) => {
            if let Some((start, len)) = slice(b, s, l) {
                b.drain(start..start + len);
            }
        }
        Mutation::Splice(seed, s, l, p) => {
            let other = &seeds[seed.index(seeds.len())].0;
            if let Some((start, len)) = slice(other, s, l) {
                let i = at(p, b);
                b.splice(i..i, other[start..start + len].iter().copied());
            }
        }
        _ => {}
    }
}

/// A structure-aware edit: the input is parsed (CoAP message, TLV items, SenML JSON value,
/// link-format elements), `op` picks an operation on the structure and `a`, `b`, `c` its
/// operands, and the result is encoded again, so lengths and syntax stay right and the
/// damage lands in the meaning. An input that no longer parses is left as it is.
#[derive(Clone, Debug)]
struct Edit {
    op: u8,
    a: Index,
    b: Index,
    c: Index,
}

fn edit() -> impl Strategy<Value = Edit> {
    (any::<u8>(), any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(op, a, b, c)| Edit {
        op,
        a,
        b,
        c,
    })
}

/// The structure the edits of a target work on.
#[derive(Clone, Copy, Debug)]
enum Format {
    Coap,
    Tlv,
    Senml,
    SenmlCbor,
    Lwm2mCbor,
    Links,
}

fn pick<'a, T>(list: &'a [T], i: &Index) -> &'a T {
    &list[i.index(list.len())]
}

/// TLV leaf values: integers of every length (and a 3-byte one, which is none), booleans
/// and a non-boolean, the vectors' URIs and one they do not know, invalid UTF-8, secret
/// keys of the right and wrong lengths.
const TLV_VALUES: &[&[u8]] = &[
    &[],
    &[0],
    &[1],
    &[2],
    &[3],
    &[4],
    &[0x7f],
    &[0x80],
    &[0xff],
    &[0x00, 0x80],
    &[0xff, 0xff],
    &[1, 2, 3],
    &[0x7f, 0xff, 0xff, 0xff],
    &[0x80, 0, 0, 0],
    &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x80, 0, 0, 0, 0, 0, 0, 0],
    b"U",
    b"coap://127.0.0.1:5783",
    b"coap://127.0.0.1:5784",
    b"coap://127.0.0.1:5693",
    b"coap://127.0.0.1:5694",
    b"coap://127.0.0.1:5695",
    b"coap://elsewhere",
    &[0xc3, 0x28],
    b"key-1",
    &[7; 16],
    &[7; 15],
    &[7; 17],
    &[1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
];

const TLV_IDS: &[u16] = &[0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 16, 255, 256, 65535];

/// Encodes TLV items as they are, whatever their kind and place (containers from their
/// children), with the shortest length fields.
fn tlv_encode(items: &[RawTlv], out: &mut Vec<u8>) {
    for t in items {
        let value = if t.kind.is_container() {
            let mut body = Vec::new();
            tlv_encode(&t.children, &mut body);
            body
        } else {
            t.value.clone()
        };
        let len = value.len().min(0xff_ffff);
        let mut ty = t.kind.bits() << 6;
        if t.id > 0xff {
            ty |= 0x20;
        }
        let len_bytes = (len as u32).to_be_bytes();
        let len_field: &[u8] = match len {
            0..=7 => {
                ty |= len as u8;
                &[]
            }
            8..=0xff => {
                ty |= 0x08;
                &len_bytes[3..]
            }
            0x100..=0xffff => {
                ty |= 0x10;
                &len_bytes[2..]
            }
            _ => {
                ty |= 0x18;
                &len_bytes[1..]
            }
        };
        out.push(ty);
        if t.id > 0xff {
            out.extend_from_slice(&t.id.to_be_bytes());
        } else {
            out.push(t.id as u8);
        }
        out.extend_from_slice(len_field);
        out.extend_from_slice(&value[..len]);
    }
}

fn tlv_addresses(items: &[RawTlv], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    for (i, t) in items.iter().enumerate() {
        prefix.push(i);
        out.push(prefix.clone());
        tlv_addresses(&t.children, prefix, out);
        prefix.pop();
    }
}

/// The list holding the item at `addr`, and the item's index in it.
fn tlv_parent<'a>(items: &'a mut Vec<RawTlv>, addr: &[usize]) -> (&'a mut Vec<RawTlv>, usize) {
    match addr {
        [] => (items, 0),
        [i] => (items, *i),
        [first, rest @ ..] => tlv_parent(&mut items[*first].children, rest),
    }
}

/// TLV edits: a leaf's value or an item's ID set to an interesting one, an item deleted,
/// duplicated, given another identifier type, or copied into a container.
fn tlv_edit(bytes: &[u8], e: &Edit) -> Option<Vec<u8>> {
    let mut items = tlv::decode(bytes).ok()?;
    let mut addrs = Vec::new();
    tlv_addresses(&items, &mut Vec::new(), &mut addrs);
    if addrs.is_empty() {
        items.push(RawTlv {
            kind: IdentifierType::ResourceWithValue,
            id: *pick(TLV_IDS, &e.b),
            value: pick(TLV_VALUES, &e.c).to_vec(),
            children: vec![],
        });
    } else {
        let addr = pick(&addrs, &e.a).clone();
        let other = {
            let (list, i) = tlv_parent(&mut items, pick(&addrs, &e.b).as_slice());
            list[i].clone()
        };
        let (list, i) = tlv_parent(&mut items, &addr);
        match e.op % 6 {
            0 => {
                list[i].value = pick(TLV_VALUES, &e.c).to_vec();
                list[i].children.clear();
            }
            1 => list[i].id = *pick(TLV_IDS, &e.c),
            2 => {
                list.remove(i);
            }
            3 => {
                let copy = list[i].clone();
                list.insert(i, copy);
            }
            4 => {
                list[i].kind = *pick(
                    &[
                        IdentifierType::ObjectInstance,
                        IdentifierType::ResourceInstance,
                        IdentifierType::MultipleResource,
                        IdentifierType::ResourceWithValue,
                    ],
                    &e.c,
                )
            }
            _ => {
                if list[i].kind.is_container() {
                    list[i].children.push(other);
                } else {
                    list.insert(i, other);
                }
            }
        }
    }
    let mut out = Vec::new();
    tlv_encode(&items, &mut out);
    Some(out)
}

const SENML_KEYS: &[&str] = &[
    "bn", "n", "v", "vb", "vs", "vd", "bv", "bs", "t", "bt", "u", "s", "bver", "x_", "",
];

fn senml_values() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!(0),
        json!(1),
        json!(-1),
        json!(300),
        json!(65535),
        json!(65536),
        json!(1.5),
        json!(3.0),
        json!(-0.0),
        json!(1e19),
        json!(-9.3e18),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!("0"),
        json!("2/1"),
        json!("2/65536"),
        json!("/"),
        json!("/1/0/"),
        json!("/2/0/"),
        json!("/0/1/"),
        json!("/1/0/0"),
        json!("/2/0/2/1"),
        json!("/1/0/0/0/0"),
        json!("/1/x/0"),
        json!("Zg"),
        json!("Zg=="),
        json!("Z"),
        json!("Zh"),
        json!("+/8"),
        json!("AAAAAAAAAAAAAAAAAAAAAA"),
        json!("U"),
        json!("coap://127.0.0.1:5693"),
        json!("coap://elsewhere"),
        json!(true),
        json!(false),
        json!(null),
        json!([]),
        json!({}),
        json!([1]),
        json!({"n": "0", "v": 1}),
    ]
}

/// SenML edits on the JSON value: a field of a record set (any key, any JSON value),
/// removed or renamed; a record duplicated, removed or replaced by a non-object; the pack
/// replaced by a non-array.
fn senml_edit(bytes: &[u8], e: &Edit) -> Option<Vec<u8>> {
    use serde_json::Value;
    let mut pack: Value = serde_json::from_slice(bytes).ok()?;
    let values = senml_values();
    let Value::Array(recs) = &mut pack else {
        return None;
    };
    if recs.is_empty() || e.op % 7 == 6 {
        let mut rec = serde_json::Map::new();
        rec.insert(
            pick(SENML_KEYS, &e.b).to_string(),
            pick(&values, &e.c).clone(),
        );
        let i = e.a.index(recs.len() + 1);
        recs.insert(i, Value::Object(rec));
    } else {
        let i = e.a.index(recs.len());
        match e.op % 7 {
            0 | 1 => {
                if let Value::Object(rec) = &mut recs[i] {
                    rec.insert(
                        pick(SENML_KEYS, &e.b).to_string(),
                        pick(&values, &e.c).clone(),
                    );
                }
            }
            2 => {
                if let Value::Object(rec) = &mut recs[i] {
                    let keys: Vec<String> = rec.keys().cloned().collect();
                    if !keys.is_empty() {
                        let k = pick(&keys, &e.b);
                        let v = rec.remove(k);
                        if let (Some(v), true) = (v, e.op % 2 == 0) {
                            rec.insert(pick(SENML_KEYS, &e.c).to_string(), v);
                        }
                    }
                }
            }
            3 => {
                let copy = recs[i].clone();
                let at = e.b.index(recs.len() + 1);
                recs.insert(at, copy);
            }
            4 => {
                recs.remove(i);
            }
            _ => {
                if e.b.index(8) == 0 {
                    pack = pick(&values, &e.c).clone();
                } else {
                    recs[i] = pick(&values, &e.c).clone();
                }
            }
        }
    }
    serde_json::to_vec(&pack).ok()
}

/// SenML CBOR labels (RFC 8428 §6): the six the decoder reads, bv and bs (refused), bver,
/// times and units (ignored), unassigned ones, and keys that are not integers.
fn senml_cbor_keys() -> Vec<ciborium::Value> {
    use ciborium::Value;
    let mut keys: Vec<Value> = [-2i64, 0, 2, 3, 4, 8, -5, -6, -1, -3, 1, 6, 7, 9, 100, -100]
        .into_iter()
        .map(|l| Value::Integer(l.into()))
        .collect();
    keys.extend([
        Value::Text("n".into()),
        Value::Text("x_".into()),
        Value::Null,
        Value::Bytes(vec![0]),
        Value::Integer(u64::MAX.into()),
    ]);
    keys
}

/// SenML CBOR values: the JSON list's counterparts (the CBOR of each JSON value) and what
/// only CBOR has: byte strings, floats of every width, tags, integers beyond i64.
fn senml_cbor_values() -> Vec<ciborium::Value> {
    use ciborium::Value;
    let mut values: Vec<Value> = senml_values()
        .iter()
        .filter_map(|j| Value::serialized(j).ok())
        .collect();
    values.extend([
        Value::Bytes(vec![]),
        Value::Bytes(vec![7; 16]),
        Value::Bytes(b"key-1".to_vec()),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::Float(9.3e18),
        Value::Float(-(2f64.powi(63))),
        Value::Integer(u64::MAX.into()),
        Value::Integer(i64::MIN.into()),
        Value::Tag(2, Box::new(Value::Bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0]))),
        Value::Tag(0, Box::new(Value::Text("2026-01-01T00:00:00Z".into()))),
    ]);
    values
}

/// SenML CBOR edits on the CBOR value, as [`senml_edit`] on JSON: a label of a record set
/// (any key, any value), removed or renamed; a record duplicated, removed or replaced by a
/// non-map; the pack replaced by a non-array.
fn senml_cbor_edit(bytes: &[u8], e: &Edit) -> Option<Vec<u8>> {
    use ciborium::Value;
    let mut pack: Value = ciborium::from_reader(bytes).ok()?;
    let (keys, values) = (senml_cbor_keys(), senml_cbor_values());
    let Value::Array(recs) = &mut pack else {
        return None;
    };
    let set = |rec: &mut Vec<(Value, Value)>, k: Value, v: Value| match rec
        .iter_mut()
        .find(|(x, _)| *x == k)
    {
        Some(slot) => slot.1 = v,
        None => rec.push((k, v)),
    };
    if recs.is_empty() || e.op % 7 == 6 {
        let rec = vec![(pick(&keys, &e.b).clone(), pick(&values, &e.c).clone())];
        let i = e.a.index(recs.len() + 1);
        recs.insert(i, Value::Map(rec));
    } else {
        let i = e.a.index(recs.len());
        match e.op % 7 {
            0 | 1 => {
                if let Value::Map(rec) = &mut recs[i] {
                    set(rec, pick(&keys, &e.b).clone(), pick(&values, &e.c).clone());
                }
            }
            2 => {
                if let Value::Map(rec) = &mut recs[i] {
                    if !rec.is_empty() {
                        let (_, v) = rec.remove(e.b.index(rec.len()));
                        if e.op % 2 == 0 {
                            set(rec, pick(&keys, &e.c).clone(), v);
                        }
                    }
                }
            }
            3 => {
                let copy = recs[i].clone();
                let at = e.b.index(recs.len() + 1);
                recs.insert(at, copy);
            }
            4 => {
                recs.remove(i);
            }
            _ => {
                if e.b.index(8) == 0 {
                    pack = pick(&values, &e.c).clone();
                } else {
                    recs[i] = pick(&values, &e.c).clone();
                }
            }
        }
    }
    let mut out = Vec::new();
    ciborium::into_writer(&pack, &mut out).ok()?;
    Some(out)
}

/// LwM2M CBOR keys: path components (small, the largest, beyond 16 bits, negative), array
/// keys (a chain, empty, too long, with a bad element) and keys that are not integers.
fn lwm2m_cbor_keys() -> Vec<ciborium::Value> {
    use ciborium::Value;
    let int = |i: i64| Value::Integer(i.into());
    let mut keys: Vec<Value> = [0i64, 1, 2, 3, 5, 10, 65535, 65536, -1]
        .into_iter()
        .map(int)
        .collect();
    keys.extend([
        Value::Array(vec![int(1), int(0)]),
        Value::Array(vec![int(0), int(1), int(5)]),
        Value::Array(vec![int(2), int(0), int(2), int(1)]),
        Value::Array(vec![int(1), int(0), int(0), int(0), int(0)]),
        Value::Array(vec![]),
        Value::Array(vec![int(1), Value::Text("0".into())]),
        Value::Text("1".into()),
        Value::Null,
        Value::Bytes(vec![0]),
        Value::Integer(u64::MAX.into()),
    ]);
    keys
}

/// LwM2M CBOR edits on the CBOR value: at a map somewhere in the tree (the path chosen by
/// the edit), a key set to any key and value (a SenML CBOR value or a nested map), a pair
/// removed or re-keyed, duplicated under another key; the whole payload replaced by a value.
fn lwm2m_cbor_edit(bytes: &[u8], e: &Edit) -> Option<Vec<u8>> {
    use ciborium::Value;
    let mut top: Value = ciborium::from_reader(bytes).ok()?;
    let keys = lwm2m_cbor_keys();
    let mut values = senml_cbor_values();
    values.push(Value::Map(vec![]));
    values.push(Value::Map(vec![(
        Value::Integer(0.into()),
        Value::Integer(1.into()),
    )]));
    // Walk down a few levels, each step into the value of one pair that is a map: the
    // indices first, then the same way down mutably.
    let mut way = Vec::new();
    let mut look = &top;
    for depth in 0..e.b.index(5) {
        let Value::Map(pairs) = look else { break };
        let i = e.a.index(pairs.len().max(1) + depth);
        match pairs.get(i) {
            Some((_, v @ Value::Map(_))) => {
                way.push(i);
                look = v;
            }
            _ => break,
        }
    }
    let mut node = &mut top;
    for i in way {
        node = match node {
            Value::Map(pairs) => &mut pairs[i].1,
            _ => return None,
        };
    }
    match node {
        Value::Map(pairs) => {
            let k = pick(&keys, &e.b).clone();
            let v = pick(&values, &e.c).clone();
            match e.op % 5 {
                0 | 1 => match pairs.iter_mut().find(|(x, _)| *x == k) {
                    Some(slot) => slot.1 = v,
                    None => pairs.push((k, v)),
                },
                2 if !pairs.is_empty() => {
                    let (_, old) = pairs.remove(e.c.index(pairs.len()));
                    if e.op % 2 == 0 {
                        pairs.push((k, old));
                    }
                }
                3 if !pairs.is_empty() => {
                    let copy = pairs[e.c.index(pairs.len())].1.clone();
                    pairs.push((k, copy));
                }
                _ => *node = v,
            }
        }
        other => *other = pick(&values, &e.c).clone(),
    }
    let mut out = Vec::new();
    ciborium::into_writer(&top, &mut out).ok()?;
    Some(out)
}

const LINK_ELEMENTS: &[&str] = &[
    "lwm2m=\"1.0\"",
    "lwm2m=1.0",
    "</>;lwm2m=1.1",
    "</>;lwm2m=\"1.2\"",
    "</>;lwm2m=1.3",
    "</0/0>",
    "</0/1>;ssid=1;uri=\"coap://127.0.0.1:5693\"",
    "</0/2>;uri=\"coap://127.0.0.1:5784\"",
    "</1/0>;ssid=2",
    "</1/0>;ssid=65536",
    "</2/0>",
    "</3/0>",
    "</1/0/0/0>",
    "</1/0/7>",
    "<>",
    "</>",
    "<1/0>",
    "</1/0",
    "</65536>",
    "</x>",
    "",
    " ",
    "\"",
    "</0/0>;uri=\"coap://elsewhere\"",
    "</0/0>;uri=",
    "</0/0>;ssid",
    "</0/0>;;",
    "</0/0>;uri=\"a,b\"",
];

const LINK_ATTRIBUTES: &[&str] = &[
    ";ssid=1",
    ";ssid=-1",
    ";ssid=",
    ";ssid= 3 ",
    ";uri=\"coap://127.0.0.1:5783\"",
    ";uri=\"coap://127.0.0.1:5695\"",
    ";uri=\"x\"",
    ";uri",
    ";ssid=1;ssid=2",
    ";\"",
    ";=",
    ";lwm2m=1.1",
];

/// Link-format edits on the elements (split at commas): one replaced by, or preceded by, a
/// known element or a broken one; deleted, duplicated, swapped; an attribute appended.
fn links_edit(bytes: &[u8], e: &Edit) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut elems: Vec<String> = text.split(',').map(str::to_string).collect();
    let i = e.a.index(elems.len());
    match e.op % 6 {
        0 => elems[i] = pick(LINK_ELEMENTS, &e.b).to_string(),
        1 => elems.insert(i, pick(LINK_ELEMENTS, &e.b).to_string()),
        2 => {
            elems.remove(i);
        }
        3 => {
            let copy = elems[i].clone();
            elems.insert(e.b.index(elems.len() + 1), copy);
        }
        4 => {
            let j = e.b.index(elems.len());
            elems.swap(i, j);
        }
        _ => {
            let attribute: &str = LINK_ATTRIBUTES[e.b.index(LINK_ATTRIBUTES.len())];
            elems[i].push_str(attribute);
        }
    }
    Some(elems.join(",").into_bytes())
}

const COAP_OPTIONS: &[CoapOption] = &[
    CoapOption::UriPath,
    CoapOption::UriQuery,
    CoapOption::ContentFormat,
    CoapOption::Accept,
    CoapOption::ETag,
    CoapOption::Size1,
    CoapOption::Unknown(2048),
];

const COAP_VALUES: &[&[u8]] = &[
    b"",
    b"bs",
    b"bspack",
    b"rd",
    b"rbs",
    b"0",
    b"1",
    b"2",
    b"9",
    b"65536",
    b"x",
    b"keepServerInfo",
    b"ep=x",
    b"ep=urn:dev:ref-1",
    b"ep",
    b"lt=300",
    b"lt=86400",
    b"lt=x",
    b"lwm2m=1.1",
    b"lwm2m=1.0",
    b"b=U",
    b"b=T",
    b"b=UQ",
    b"pct=11542",
    b"pct=112",
    b"pct=x",
    b"sm=0,3",
    b"sm=0,x",
    b"sm=",
    b"dev=d",
    &[0xff],
    &[0xc3, 0x28],
    &[0x2d, 0x16],
    &[40],
    &[110],
    &[112],
    &[0x2d, 0x18],
    &[0],
    &[42],
    &[0x27, 0x0f],
    &[0x00, 0x00, 0x00, 0x00, 0x28],
];

/// CoAP edits on the parsed message: the payload edited as its Content-Format says (or
/// byte-mutated), replaced by another seed's payload and format, an option value set,
/// added or removed, the code changed.
fn coap_edit(bytes: &[u8], e: &Edit, seeds: &[(Vec<u8>, usize)]) -> Option<Vec<u8>> {
    let mut p = Packet::from_bytes(bytes).ok()?;
    match e.op % 8 {
        0..=2 => {
            let format = p
                .get_first_option(CoapOption::ContentFormat)
                .map(|v| v.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)));
            let edited = match format {
                Some(f) if f == u32::from(LWM2M_TLV) => tlv_edit(&p.payload, e),
                Some(f) if f == u32::from(SENML_JSON) => senml_edit(&p.payload, e),
                Some(f) if f == u32::from(SENML_CBOR) => senml_cbor_edit(&p.payload, e),
                Some(f) if f == u32::from(LWM2M_CBOR) => lwm2m_cbor_edit(&p.payload, e),
                Some(f) if f == u32::from(LINK_FORMAT) => links_edit(&p.payload, e),
                _ => None,
            };
            match edited {
                Some(payload) => p.payload = payload,
                None => {
                    let m = Mutation::InsertToken(e.a, e.b);
                    apply(&mut p.payload, &m, seeds);
                }
            }
        }
        3 => {
            let other = Packet::from_bytes(&pick(seeds, &e.a).0).ok()?;
            p.clear_option(CoapOption::ContentFormat);
            if let Some(list) = other.get_option(CoapOption::ContentFormat) {
                p.set_option(CoapOption::ContentFormat, list.clone());
            }
            p.payload = other.payload;
        }
        4 | 5 => {
            let o = *pick(COAP_OPTIONS, &e.b);
            let v = pick(COAP_VALUES, &e.c).to_vec();
            if e.op % 8 == 4 {
                p.clear_option(o);
            }
            p.add_option(o, v);
        }
        6 => p.clear_option(*pick(COAP_OPTIONS, &e.b)),
        _ => {
            let codes = [
                0x01, 0x02, 0x03, 0x04, 0x05, 0x41, 0x42, 0x44, 0x45, 0x80, 0x84, 0x8f,
            ];
            p.header.code = MessageClass::from(if e.b.index(4) == 0 {
                e.c.index(256) as u8
            } else {
                *pick(&codes, &e.c)
            });
        }
    }
    p.to_bytes().ok()
}

/// One step of a mutated input.
#[derive(Clone, Debug)]
enum Step {
    Bytes(Mutation),
    Structure(Edit),
}

/// One fuzz input: the bytes, the context index (the rules of the step a response or a
/// client's message belongs to), and how they were made, for the report of a crash.
#[derive(Clone)]
struct Case {
    bytes: Vec<u8>,
    context: usize,
    how: String,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: String = self.bytes.iter().map(|b| format!("{b:02x}")).collect();
        write!(
            f,
            "{} (context {}): {} bytes, hex {hex}, text {:?}",
            self.how,
            self.context,
            self.bytes.len(),
            String::from_utf8_lossy(&self.bytes)
        )
    }
}

/// Arbitrary bytes (a fifth of the cases) or a seed changed by one to four steps, two
/// thirds of them structure-aware edits. For a response or a client's message, one case in
/// eight is judged against another step's rules than its seed's.
fn input(
    seeds: &'static [(Vec<u8>, usize)],
    contexts: usize,
    format: Format,
) -> BoxedStrategy<Case> {
    let contexts = contexts.max(1);
    let step = prop_oneof![
        1 => mutation().prop_map(Step::Bytes),
        2 => edit().prop_map(Step::Structure),
    ];
    prop_oneof![
        1 => (proptest::collection::vec(any::<u8>(), 0..160), 0..contexts).prop_map(
            |(bytes, context)| Case {
                bytes,
                context,
                how: "arbitrary".to_string(),
            }
        ),
        4 => (
            any::<Index>(),
            proptest::collection::vec(step, 1..5),
            proptest::option::weighted(0.125, 0..contexts)
        )
            .prop_map(move |(seed, steps, other_context)| {
                let k = seed.index(seeds.len());
                let (mut bytes, context) = seeds[k].clone();
                for s in &steps {
                    match s {
                        Step::Bytes(m) => apply(&mut bytes, m, seeds),
                        Step::Structure(e) => {
                            // The edits parse with the decoders under test (TLV) and
                            // coap-lite: a panic there is left for the test body to find
                            // on these same bytes, where proptest catches and shrinks it.
                            let edited = std::panic::catch_unwind(|| match format {
                                Format::Coap => coap_edit(&bytes, e, seeds),
                                Format::Tlv => tlv_edit(&bytes, e),
                                Format::Senml => senml_edit(&bytes, e),
                                Format::SenmlCbor => senml_cbor_edit(&bytes, e),
                                Format::Lwm2mCbor => lwm2m_cbor_edit(&bytes, e),
                                Format::Links => links_edit(&bytes, e),
                            })
                            .ok()
                            .flatten();
                            if let Some(b) = edited {
                                bytes = b;
                            }
                        }
                    }
                }
                Case {
                    bytes,
                    context: other_context.unwrap_or(context),
                    how: format!("seed {k} changed by {steps:?}"),
                }
            }),
    ]
    .boxed()
}

thread_local! {
    /// Whether this thread is fuzzing: its panics are the expected way a crash shows, and
    /// proptest provokes hundreds while shrinking; they are recorded, not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Where the last recorded panic happened (proptest's report has only its message).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once, a panic hook that records the panics of fuzzing threads instead of
/// printing them, and leaves the others to the default hook.
fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(at));
            } else {
                default(info);
            }
        }));
    });
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Runs `decode` on `FUZZ_CASES` inputs made from `seeds`; fails with the minimal input if
/// it panics on any.
fn fuzz(
    target: &str,
    seeds: &'static [(Vec<u8>, usize)],
    contexts: usize,
    format: Format,
    decode: impl Fn(&[u8], usize),
) {
    let cases = env_u64("FUZZ_CASES", 50_000) as u32;
    let seed = env_u64("FUZZ_SEED", 0x00f0_2200);
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..8 + target.len().min(24)].copy_from_slice(&target.as_bytes()[..target.len().min(24)]);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
    quiet_panics();
    QUIET.with(|q| q.set(true));
    let start = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runner.run(&input(seeds, contexts, format), |case| {
            decode(&case.bytes, case.context);
            Ok(())
        })
    }));
    let secs = start.elapsed().as_secs_f64();
    QUIET.with(|q| q.set(false));
    let Ok(result) = result else {
        let at = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        panic!("fuzz {target}: the input generator panicked at {at}");
    };
    match result {
        Ok(()) => println!(
            "fuzz {target}: {cases} cases, 0 crashes ({secs:.2} s, seed {seed}, {} seeds)",
            seeds.len()
        ),
        Err(e) => {
            let at = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_default();
            println!("fuzz {target}: 1 crash, at {at} ({secs:.2} s, seed {seed})");
            panic!("fuzz {target}: the decoder panicked at {at}: {e}");
        }
    }
}

/// The Read targets a response payload is decoded for, besides its rule's own.
const READ_TARGETS: [LwPath; 3] = [LwPath::Object(1), LwPath::Object(2), LwPath::Instance(1, 0)];

/// The Read formats a response payload is decoded as, besides its own Content-Format.
const READ_FORMATS: [u16; 4] = [LWM2M_TLV, SENML_JSON, SENML_CBOR, LWM2M_CBOR];

/// The target of the Read rule of `e`, if it has one.
fn read_target(e: &Expectation) -> Option<LwPath> {
    match e.response.as_ref()?.content.as_ref()? {
        ContentRule::Read(r) => Some(r.target),
        ContentRule::Discover(_) => None,
    }
}

/// What the harness does with a client's response: the observed response, its payload
/// decoded as a Bootstrap-Read answer (every target and format), and the judgement of the
/// step's rule, a Discover rule and a Read rule.
fn take_response(c: &Corpus, bytes: &[u8], a: usize) {
    let Ok(p) = Packet::from_bytes(bytes) else {
        return;
    };
    let Ok(observed) = lwm2m_codec::observed_response(&p) else {
        return;
    };
    if let Some(e) = &observed.payload {
        if let Ok(payload) = e.bytes() {
            let targets = read_target(&c.answers[a]).into_iter().chain(READ_TARGETS);
            for target in targets {
                for format in std::iter::once(e.content_format).chain(READ_FORMATS) {
                    if let Ok(records) = records::decode(format, &payload, target) {
                        // The accessors a report uses are part of the decoder's surface.
                        for r in &records {
                            let _ = (r.path(), r.value.to_string());
                        }
                    }
                }
            }
        }
    }
    let _ = observed.to_string();
    let discover = c.discover[a % c.discover.len()];
    let read = c.read[a % c.read.len()];
    for i in [a, discover, read] {
        let _ = judge::judge(c.context(), &c.answers[i], Some(&observed), &[]);
    }
}

/// What the harness does with a request the client sends on its own: the message as sent,
/// judged alone and twice over against the send rules of the step that produced it.
fn take_message(c: &Corpus, bytes: &[u8], k: usize) {
    let Ok(p) = Packet::from_bytes(bytes) else {
        return;
    };
    let (rules, uri) = &c.outgoing[k];
    let Ok(m) = lwm2m_codec::client_request(&p, uri) else {
        return;
    };
    let _ = m.to_string();
    let _ = judge::judge(c.context(), rules, None, std::slice::from_ref(&m));
    let _ = judge::judge(c.context(), rules, None, &[m.clone(), m]);
}

/// What the judge reads of a link-format payload: the elements and their attributes, the
/// version element, the alternate path, each target's LwM2M path.
fn take_links(bytes: &[u8]) {
    let Ok(elements) = links::parse(&String::from_utf8_lossy(bytes)) else {
        return;
    };
    let _ = links::version_element(&elements);
    let alternate = links::alternate_path(&elements);
    for e in &elements {
        let _ = (e.attr("ssid"), e.attr("uri"), e.has("lwm2m"));
        if let Some(t) = &e.target {
            for prefix in [None, alternate.as_deref(), Some("/lwm2m"), Some("/")] {
                let _ = links::object_path(t, prefix);
            }
        }
    }
}

#[test]
fn fuzz_coap_response() {
    let c = corpus();
    fuzz(
        "coap-response",
        &c.responses,
        c.answers.len(),
        Format::Coap,
        |b, a| take_response(c, b, a),
    );
}

#[test]
fn fuzz_coap_decode_request() {
    let c = corpus();
    fuzz("coap-request", &c.stimuli, 1, Format::Coap, |b, _| {
        let _ = lwm2m_codec::decode_request(b, Peer::BootstrapServer, &c.uris);
    });
}

#[test]
fn fuzz_coap_client_message() {
    let c = corpus();
    fuzz(
        "coap-client-message",
        &c.messages,
        c.outgoing.len(),
        Format::Coap,
        |b, k| take_message(c, b, k),
    );
}

#[test]
fn fuzz_tlv_decode() {
    let c = corpus();
    fuzz("tlv", &c.tlv, 1, Format::Tlv, |b, _| {
        if let Ok(items) = tlv::decode(b) {
            // The accessors on what decoded are part of the decoder's surface.
            for t in items
                .iter()
                .chain(items.iter().flat_map(|t| t.children.iter()))
            {
                let _ = (t.integer(), t.boolean(), t.string());
            }
        }
    });
}

#[test]
fn fuzz_link_format() {
    let c = corpus();
    fuzz("link-format", &c.links, 1, Format::Links, |b, _| {
        take_links(b)
    });
}

#[test]
fn fuzz_senml_decode() {
    let c = corpus();
    fuzz("senml", &c.senml, 1, Format::Senml, |b, _| {
        let _ = conformance::senml::decode(b);
    });
}

#[test]
fn fuzz_senml_cbor_decode() {
    let c = corpus();
    fuzz("senml-cbor", &c.senml_cbor, 1, Format::SenmlCbor, |b, _| {
        let _ = conformance::senml_cbor::decode(b);
    });
}

#[test]
fn fuzz_lwm2m_cbor_decode() {
    let c = corpus();
    fuzz("lwm2m-cbor", &c.lwm2m_cbor, 1, Format::Lwm2mCbor, |b, _| {
        let _ = conformance::lwm2m_cbor::decode(b);
    });
}

/// The seeds are valid: each decodes without error, and the reference client's responses
/// and messages pass their step's rules (otherwise the mutations would start from the wrong
/// place and never reach the deep code: the judge's content and send rules). With every
/// variation some do not: a client without the Access Control object (a variation the
/// client profile declares, which skips the vectors that need it) answers a Read of /2 with
/// 4.04 and lists no /2/0.
#[test]
fn the_seeds_decode() {
    let c = corpus();
    let (mut passed, mut contents) = (0, 0);
    for s @ (b, a) in &c.responses {
        let p = Packet::from_bytes(b).unwrap();
        let observed: ObservedResponse = lwm2m_codec::observed_response(&p).unwrap();
        let expect = &c.answers[*a];
        if let (Some(target), Some(e), "2.05") = (
            read_target(expect),
            &observed.payload,
            observed.code.as_str(),
        ) {
            records::decode(e.content_format, &e.bytes().unwrap(), target)
                .unwrap_or_else(|err| panic!("{observed}: {err}"));
            contents += 1;
        }
        if let Some(e) = observed
            .payload
            .as_ref()
            .filter(|e| e.content_format == LINK_FORMAT)
        {
            links::parse(e.text.as_deref().unwrap()).unwrap();
            contents += 1;
        }
        match judge::judge_response(c.context(), expect, Some(&observed)) {
            Ok(()) => passed += 1,
            Err(f) if c.reference.contains(s) => panic!("{observed}: {f}"),
            Err(_) => {}
        }
    }
    assert!(
        passed * 10 >= c.responses.len() * 9 && contents > 100,
        "{passed} of {} responses pass their rule, {contents} with content",
        c.responses.len()
    );
    let mut fit = 0;
    for s @ (b, k) in &c.messages {
        let p = Packet::from_bytes(b).unwrap();
        let (rules, uri) = &c.outgoing[*k];
        let m = lwm2m_codec::client_request(&p, uri).unwrap();
        let fits = rules
            .sends
            .iter()
            .chain(rules.or_sends.iter().flatten())
            .chain(&rules.tolerated)
            .any(|r| judge::problems(c.context(), r, &m).is_empty());
        assert!(
            fits || !c.reference.contains(s),
            "{m} meets none of its step's rules"
        );
        fit += usize::from(fits);
    }
    assert!(
        fit * 10 >= c.messages.len() * 8,
        "{fit} of {} messages meet a rule of their step",
        c.messages.len()
    );
    println!(
        "seeds: {passed} of {} responses pass their rule ({contents} with content), \
         {fit} of {} messages meet one, {} reference",
        c.responses.len(),
        c.messages.len(),
        c.reference.len()
    );
    for (b, _) in &c.stimuli {
        lwm2m_codec::decode_request(b, Peer::BootstrapServer, &c.uris).unwrap();
    }
    // The payload of an Undecodable write is invalid on purpose.
    for (b, _) in c.tlv.iter().filter(|(b, _)| *b != UNDECODABLE_TLV) {
        tlv::decode(b).unwrap();
    }
    for (b, _) in c.senml.iter().filter(|(b, _)| b != UNDECODABLE_SENML_JSON) {
        conformance::senml::decode(b).unwrap();
    }
    for (b, _) in c
        .senml_cbor
        .iter()
        .filter(|(b, _)| *b != UNDECODABLE_SENML_CBOR)
    {
        conformance::senml_cbor::decode(b).unwrap();
    }
    for (b, _) in c
        .lwm2m_cbor
        .iter()
        .filter(|(b, _)| *b != UNDECODABLE_LWM2M_CBOR)
    {
        conformance::lwm2m_cbor::decode(b).unwrap();
    }
    let (mut discover, mut alternate) = (0, 0);
    for (b, _) in &c.links {
        let elements = links::parse(std::str::from_utf8(b).unwrap()).unwrap();
        if links::version_element(&elements).is_some() {
            discover += 1;
        }
        if links::alternate_path(&elements).is_some() {
            alternate += 1;
        }
    }
    assert!(discover >= 3 && alternate >= 3, "{discover} {alternate}");
}

proptest! {
    #![proptest_config(Config::with_cases(env_u64("FUZZ_CASES", 50000).min(20000) as u32))]

    /// Block-wise transfer (`harness::blockwise`): any sequence of Block option values and
    /// payloads, fed to the Block1 reassembly and the Block2 fetch, and any block asked of
    /// a stored body, ends in a block, a body no larger than `MAX_BODY`, or a named error;
    /// never a panic.
    #[test]
    fn fuzz_blockwise(
        blocks in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..4), 0usize..1100, any::<u8>()),
            1..40,
        ),
        body in proptest::collection::vec(any::<u8>(), 0..3000),
        num in any::<u16>(),
        szx in any::<u8>(),
    ) {
        use harness::blockwise::{self, Assembled, Block1Assembly, Block2Fetch, Fetched, MAX_BODY};
        let mut assembly = Block1Assembly::default();
        let mut fetch: Option<Block2Fetch> = None;
        for (option, len, fill) in &blocks {
            let mut p = Packet::new();
            p.add_option(CoapOption::Block1, option.clone());
            p.add_option(CoapOption::Block2, option.clone());
            let payload = vec![*fill; *len];
            if let Ok(Some(b)) = blockwise::block_of(&p, CoapOption::Block1) {
                if let Ok(Assembled::Complete(whole, _)) = assembly.offer(&b, &payload) {
                    prop_assert!(whole.len() <= MAX_BODY);
                }
            }
            if let Ok(Some(b)) = blockwise::block_of(&p, CoapOption::Block2) {
                let step = match fetch.as_mut() {
                    Some(f) => f.offer(&b, &payload),
                    None => Block2Fetch::start(&b, &payload).map(|(f, n)| {
                        fetch = Some(f);
                        n
                    }),
                };
                match step {
                    Ok(Fetched::Complete(whole)) => {
                        prop_assert!(whole.len() <= MAX_BODY);
                        fetch = None;
                    }
                    Ok(Fetched::Next(_)) => {}
                    Err(_) => fetch = None,
                }
            }
        }
        if let Ok((v, bytes)) = blockwise::chunk(&body, num, szx) {
            prop_assert!(bytes.len() <= v.size());
            let mut p = Packet::new();
            blockwise::set_block(&mut p, CoapOption::Block2, &v);
            prop_assert!(p.to_bytes().is_ok());
        }
        let _ = blockwise::block(usize::from(num), true, usize::from(szx) * 8);
    }
}
