//! SenML JSON (Content-Format 110), SenML CBOR (112) and LwM2M CBOR (11544) on the wire,
//! against every committed vector: each expected Bootstrap-Read answer's record-based
//! encodings, carried in a CoAP response, decode to the vector's abstract content, and each
//! Bootstrap-Write's record-based payloads decode to the same input as its TLV payload.

use bootstrap_model::client::{Input, Peer, Response};
use bootstrap_model::code::ResponseCode;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use conformance::load::Loader;
use conformance::vector::Vector;
use conformance::wire::{CoapRequest, Encoded, LWM2M_CBOR, LWM2M_TLV, SENML_CBOR, SENML_JSON};

/// The record-based formats: SenML JSON, SenML CBOR, LwM2M CBOR.
const RECORD_FORMATS: [u16; 3] = [SENML_JSON, SENML_CBOR, LWM2M_CBOR];
use harness::coap;
use std::path::Path;

fn vectors() -> Vec<Vector> {
    Loader::new()
        .load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../vectors"))
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .collect()
}

fn code(dotted: &str) -> ResponseCode {
    ResponseCode::ALL
        .into_iter()
        .find(|c| c.dotted() == dotted)
        .unwrap()
}

/// A piggy-backed response carrying `e` as its payload.
fn response_packet(code: ResponseCode, e: &Encoded) -> Vec<u8> {
    let mut p = Packet::new();
    p.header.set_type(MessageType::Acknowledgement);
    p.header.message_id = 1;
    p.header.code = MessageClass::Response(coap::response_type(code));
    p.set_token(b"tk".to_vec());
    let cf = e.content_format.to_be_bytes();
    let skip = cf.iter().take_while(|b| **b == 0).count();
    p.add_option(CoapOption::ContentFormat, cf[skip..].to_vec());
    p.payload = e.bytes().unwrap();
    p.to_bytes().unwrap()
}

/// `req` with only `e` as its payload.
fn with_payload(req: &CoapRequest, e: &Encoded) -> CoapRequest {
    CoapRequest {
        payloads: vec![e.clone()],
        ..req.clone()
    }
}

#[test]
fn every_senml_read_answer_decodes_to_the_expected_content() {
    let mut n = 0;
    for v in vectors() {
        for (i, step) in v.steps.iter().enumerate() {
            let (Some(req), Some(expected)) = (&step.request, &step.expect.response) else {
                continue;
            };
            let Some(content) = &expected.content else {
                continue;
            };
            for e in content
                .encodings
                .iter()
                .filter(|e| RECORD_FORMATS.contains(&e.content_format))
            {
                let bytes = response_packet(code(&expected.codes[0]), e);
                let back = coap::decode_response(&bytes, req, &v.uris)
                    .unwrap_or_else(|err| panic!("{} step {}: {err}", v.name, i + 1));
                let want = Response {
                    code: code(&expected.codes[0]),
                    content: Some(content.value.clone()),
                };
                assert_eq!(back, want, "{} step {}: {:?}", v.name, i + 1, e.text);
                n += 1;
            }
        }
    }
    assert!(
        n > 450,
        "only {n} SenML and LwM2M CBOR answers in the vectors"
    );
    println!("{n} SenML answers decoded");
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
                let bytes = coap::encode_request(&with_payload(req, e), i as u16, b"x").unwrap();
                coap::decode_request(&bytes, from, &v.uris)
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

/// Hand-written packs the encoder never produces, but a client may send: names without a
/// base name, records out of order, a resource instance before another resource.
#[test]
fn senml_in_other_shapes_decodes_the_same() {
    let v = &vectors()[0];
    let read = |path: &str, json: &str| {
        let req = CoapRequest {
            method: "GET".into(),
            path: path.into(),
            query: vec![],
            accept: Some(LWM2M_TLV),
            payloads: vec![],
        };
        let e = Encoded::new(SENML_JSON, json.as_bytes());
        coap::decode_response(&response_packet(ResponseCode::Content, &e), &req, &v.uris)
    };
    let canonical = read(
        "/2",
        r#"[{"bn":"/2/0/","n":"0","v":1},{"n":"1","v":0},{"n":"2/1","v":31},{"n":"2/2","v":1},{"n":"3","v":1},{"bn":"/2/1/","n":"0","v":1},{"n":"1","v":1},{"n":"3","v":2}]"#,
    )
    .unwrap();
    let shuffled = read(
        "/2",
        r#"[{"n":"/2/0/2/1","v":31},{"n":"/2/0/0","v":1.0},{"n":"/2/1/0","v":1},{"n":"/2/0/1","v":0},{"bn":"/2/0/","n":"2/2","v":1},{"n":"3","v":1},{"bn":"/2/1/","n":"1","v":1},{"n":"3","v":2}]"#,
    )
    .unwrap();
    assert_eq!(shuffled, canonical);
    // The same shuffled records in SenML CBOR, answering a read that asked for it.
    let records = conformance::senml::decode(
        br#"[{"n":"/2/0/2/1","v":31},{"n":"/2/0/0","v":1},{"n":"/2/1/0","v":1},{"n":"/2/0/1","v":0},{"n":"/2/0/2/2","v":1},{"n":"/2/0/3","v":1},{"n":"/2/1/1","v":1},{"n":"/2/1/3","v":2}]"#,
    )
    .unwrap();
    let req = CoapRequest {
        method: "GET".into(),
        path: "/2".into(),
        query: vec![],
        accept: Some(SENML_CBOR),
        payloads: vec![],
    };
    let e = Encoded::new(SENML_CBOR, &conformance::senml_cbor::encode(&records));
    let cbor =
        coap::decode_response(&response_packet(ResponseCode::Content, &e), &req, &v.uris).unwrap();
    assert_eq!(cbor, canonical);
    // The same records in LwM2M CBOR with array keys (compressed paths), answering a read
    // that asked for it: {[2, 0]: {0: 1, 1: 0, 2: {1: 31, 2: 1}, 3: 1}, [2, 1]: {0: 1, 1: 1,
    // 3: 2}}, written out by hand.
    let lwm2m_cbor_bytes = [
        0xa2, 0x82, 0x02, 0x00, 0xa4, 0x00, 0x01, 0x01, 0x00, 0x02, 0xa2, 0x01, 0x18, 0x1f, 0x02,
        0x01, 0x03, 0x01, 0x82, 0x02, 0x01, 0xa3, 0x00, 0x01, 0x01, 0x01, 0x03, 0x02,
    ];
    let req = CoapRequest {
        accept: Some(LWM2M_CBOR),
        ..req
    };
    let e = Encoded::new(LWM2M_CBOR, &lwm2m_cbor_bytes);
    let lcbor =
        coap::decode_response(&response_packet(ResponseCode::Content, &e), &req, &v.uris).unwrap();
    assert_eq!(lcbor, canonical);
    // A record outside the path read is an error there too ({[1, 0, 0]: 1} answering /2).
    let e = Encoded::new(LWM2M_CBOR, &[0xa1, 0x83, 0x01, 0x00, 0x00, 0x01]);
    assert!(
        coap::decode_response(&response_packet(ResponseCode::Content, &e), &req, &v.uris).is_err()
    );
    // One instance read at its own path.
    let one = read(
        "/1/0",
        r#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":300}]"#,
    )
    .unwrap();
    let Some(bootstrap_model::client::Content::Servers(s)) = one.content else {
        panic!("{one:?}")
    };
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].0, s[0].1.ssid, s[0].1.lifetime),
        (0, Some(1), Some(300))
    );
    // Records outside the path, non-LwM2M names and bad SenML are errors, not guesses.
    for (path, json) in [
        ("/1/0", r#"[{"n":"/1/1/0","v":1}]"#),
        ("/1", r#"[{"n":"/2/0/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/0","v":1}]"#),
        ("/1", r#"[{"n":"1/0/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/x/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/0/0/0/0","v":1}]"#),
        ("/1", r#"[{"n":"/1/0/0","v":1.5}]"#),
        ("/1", r#"{"n":"/1/0/0","v":1}"#),
    ] {
        assert!(read(path, json).is_err(), "{path} {json}");
    }
    // A Bootstrap-Write whose SenML does not decode is Undecodable (4.00, BS-WRITE-06).
    let req = CoapRequest {
        method: "PUT".into(),
        path: "/1/0".into(),
        query: vec![],
        accept: None,
        payloads: vec![Encoded::new(SENML_JSON, b"[{\"n\":\"/1/0/1\"}]")],
    };
    let bytes = coap::encode_request(&req, 1, b"").unwrap();
    let Input::Write { value, .. } =
        coap::decode_request(&bytes, Peer::BootstrapServer, &v.uris).unwrap()
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
    let bytes = coap::encode_request(&req, 1, b"").unwrap();
    let Input::Write { value, .. } =
        coap::decode_request(&bytes, Peer::BootstrapServer, &v.uris).unwrap()
    else {
        panic!()
    };
    assert_eq!(value, bootstrap_model::client::WriteValue::Undecodable);
}
