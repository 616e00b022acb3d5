//! LwM2M CBOR (Content-Format 11544, `application/vnd.oma.lwm2m+cbor`, LwM2M TS 1.2 Core
//! "LwM2M CBOR" data format) for LwM2M resources: the same records as SenML JSON and SenML
//! CBOR ([`crate::senml`], [`crate::senml_cbor`]) as nested CBOR maps keyed by path
//! components. LwM2M 1.2 allows it for Bootstrap-Write (BS-WRITE-07, BS-WRITE-03),
//! Bootstrap-Read answers (BS-READ-01), the Bootstrap-Request's `pct` (BS-REQ-02) and the
//! Bootstrap-Pack (BS-PACK-01); 1.0 and 1.1 do not have it.
//!
//! The shape, as this module reads it:
//! - The payload is one CBOR map. Its keys are path components (unsigned integers: Object
//!   ID, then Object Instance ID, Resource ID, Resource Instance ID one nesting level
//!   each), and a key may also be an array of path components that stands for a chain of
//!   single-key maps (`{[1, 0]: {...}}` is `{1: {0: {...}}}`).
//! - Paths are absolute from the root: the first component is always the Object ID, even
//!   when the request targets an instance or a resource (a write to `/13/26/1` carries
//!   `{[13, 26, 1]: 42}` or `{13: {26: {1: 42}}}`).
//! - A resource value is a CBOR integer, boolean, text string or byte string (opaque); a
//!   multiple-instance resource is a nested map from Resource Instance IDs to values.
//!
//! Sources: the LwM2M TS 1.2 Core (OMA-TS-LightweightM2M_Core-V1_2-20201110-A, which
//! defines the "LwM2M CBOR" data format;
//! <https://openmobilealliance.org/RELEASE/LightweightM2M/V1_2-20201110-A/HTML-Version/OMA-TS-LightweightM2M_Core-V1_2-20201110-A.html>;
//! its section text was not at hand when this was written) and the IANA registration of
//! `application/vnd.oma.lwm2m+cbor`, which names that TS. The details above (absolute paths, array keys for any chain, the nested and the compressed
//! forms of the same payload accepted alike, the multi-instance map) are as AVSystem's
//! Anjay Lite decoder tests exercise them (`lwm2m_cbor_in_resource`: `{[13, 26, 1]: 42}`,
//! `{13: {26: {1: 42}}}`, `{[13]: {[26]: {[1]: 42}}}`, `{[13, 26]: {1: 42, 2: 21}}`,
//! `{[13, 26, 1]: 42, [13, 26]: {[2]: 21}}` all decode to the same resources,
//! `{[13, 26, 1]: {2: null, 3: 5}}` to two resource instances). Nothing of their code is used.
//!
//! [`encode`] writes the plain nested form: one map level per path component, no array
//! keys, keys in the order the records first name them, integers and strings in their
//! shortest definite-length form (RFC 8949 §4.2.1). [`decode`] reads both forms. CBOR
//! itself is written and read by `ciborium`; [`decode`] is total with the same guards as
//! [`crate::senml_cbor::decode`]: input length bounded ([`MAX_PAYLOAD_BYTES`]), nesting
//! bounded ([`MAX_DEPTH`]) by ciborium's recursion limit, and a declared length larger than
//! the input allocates nothing beyond the input's size.

use crate::senml::SenmlValue;
use ciborium::value::{Integer, Value};
use std::collections::BTreeSet;

/// The LwM2M CBOR Content-Format number (LwM2M TS 1.2; CoRE Parameters registry).
pub const CONTENT_FORMAT: u16 = 11544;

/// The longest payload [`decode`] reads: the bound the CBOR decoders share
/// ([`crate::senml_cbor::read_bounded`]).
pub const MAX_PAYLOAD_BYTES: usize = crate::senml_cbor::MAX_PACK_BYTES;

/// The deepest nesting [`decode`] lets ciborium read (shared, as above): four map levels, an
/// array key inside one of them and a tag make 6; anything deeper is refused without
/// recursing further.
pub const MAX_DEPTH: usize = crate::senml_cbor::MAX_DEPTH;

/// The path components of a record's full path `/o/i/r` or `/o/i/r/ri` (each a `u16`).
fn components(path: &str) -> Option<Vec<u16>> {
    let rest = path.strip_prefix('/')?;
    let ids = rest
        .split('/')
        .map(|c| {
            if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) || c.len() > 5 {
                None
            } else {
                c.parse::<u16>().ok()
            }
        })
        .collect::<Option<Vec<u16>>>()?;
    matches!(ids.len(), 3 | 4).then_some(ids)
}

/// A tree being built: a map from path components to values or subtrees, in first-use order.
enum Node {
    Leaf(SenmlValue),
    Map(Vec<(u16, Node)>),
}

fn leaf_value(v: &SenmlValue) -> Value {
    match v {
        SenmlValue::Int(i) => Value::Integer(Integer::from(*i)),
        SenmlValue::Bool(b) => Value::Bool(*b),
        SenmlValue::Str(s) => Value::Text(s.clone()),
        SenmlValue::Opaque(b) => Value::Bytes(b.clone()),
    }
}

fn to_value(entries: &[(u16, Node)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, n)| {
                let v = match n {
                    Node::Leaf(v) => leaf_value(v),
                    Node::Map(m) => to_value(m),
                };
                (Value::Integer(Integer::from(*k)), v)
            })
            .collect(),
    )
}

/// Encodes `records` (full path `/o/i/r` or `/o/i/r/ri`, value) as LwM2M CBOR: nested maps
/// from the Object ID down, one level per component, keys in the order the records first
/// name them; no records make the empty map `a0`.
///
/// A record list LwM2M CBOR cannot carry is an error naming the record: a path that is not
/// `/o/i/r` or `/o/i/r/ri` with 16-bit components, a path given twice, and a resource given
/// both as a value and with instances.
pub fn encode(records: &[(String, SenmlValue)]) -> Result<Vec<u8>, String> {
    let mut root: Vec<(u16, Node)> = Vec::new();
    for (index, (path, value)) in records.iter().enumerate() {
        let Some(ids) = components(path) else {
            return Err(format!(
                "record {index}: {path:?} is not /o/i/r or /o/i/r/ri"
            ));
        };
        let mut level = &mut root;
        let (last, parents) = match ids.split_last() {
            Some(split) => split,
            None => return Err(format!("record {index}: empty path")),
        };
        for id in parents {
            let pos = match level.iter().position(|(k, _)| k == id) {
                Some(p) => p,
                None => {
                    level.push((*id, Node::Map(Vec::new())));
                    level.len() - 1
                }
            };
            level = match &mut level[pos].1 {
                Node::Map(m) => m,
                Node::Leaf(_) => {
                    return Err(format!(
                        "record {index}: {path} lies under a resource given a value"
                    ))
                }
            };
        }
        if level.iter().any(|(k, _)| k == last) {
            return Err(format!("record {index}: {path} given twice"));
        }
        level.push((*last, Node::Leaf(value.clone())));
    }
    let mut out = Vec::new();
    ciborium::into_writer(&to_value(&root), &mut out)
        .map_err(|e| format!("writing CBOR failed: {e:?}"))?;
    Ok(out)
}

/// A CBOR value as an error message shows it (short).
fn kind(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("the integer {}", i128::from(*i)),
        Value::Bytes(b) => format!("a byte string of {} bytes", b.len()),
        Value::Float(f) => format!("the float {f}"),
        Value::Text(s) => format!("the text {s:?}"),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Null => "null".to_string(),
        Value::Tag(t, _) => format!("a value with tag {t}"),
        Value::Array(_) => "an array".to_string(),
        Value::Map(_) => "a map".to_string(),
        _ => "an unknown CBOR value".to_string(),
    }
}

/// A path as messages show it: `/` for the root, else `/1/0/...`.
fn show(path: &[u16]) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        path.iter().map(|c| format!("/{c}")).collect()
    }
}

/// One path component from a CBOR integer.
fn component(v: &Value, at: &[u16]) -> Result<u16, String> {
    match v {
        Value::Integer(i) => u16::try_from(i128::from(*i)).map_err(|_| {
            format!(
                "at {}: key {} is not a path component (0..=65535)",
                show(at),
                i128::from(*i)
            )
        }),
        other => Err(format!(
            "at {}: a key that is {}, not a path component",
            show(at),
            kind(other)
        )),
    }
}

/// The value of a resource or resource instance: an integer within `i64` (or a float with
/// an integral value, as the SenML decoders take `3.0`), a boolean, a text string or a
/// byte string.
fn resource_value(v: &Value, at: &[u16]) -> Result<SenmlValue, String> {
    // 2^63 as f64; every f64 in [-2^63, 2^63) with no fraction is an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match v {
        Value::Integer(i) => i64::try_from(i128::from(*i))
            .map(SenmlValue::Int)
            .map_err(|_| {
                format!(
                    "at {}: {} is not an integer within i64",
                    show(at),
                    i128::from(*i)
                )
            }),
        Value::Float(f) if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f) => {
            Ok(SenmlValue::Int(*f as i64))
        }
        Value::Bool(b) => Ok(SenmlValue::Bool(*b)),
        Value::Text(s) => Ok(SenmlValue::Str(s.clone())),
        Value::Bytes(b) => Ok(SenmlValue::Opaque(b.clone())),
        other => Err(format!(
            "at {}: a resource value that is {}",
            show(at),
            kind(other)
        )),
    }
}

/// The records found so far, and the paths seen (for duplicates, in O(log n)).
#[derive(Default)]
struct Found {
    records: Vec<(Vec<u16>, SenmlValue)>,
    seen: BTreeSet<Vec<u16>>,
}

fn walk(map: &[(Value, Value)], at: &mut Vec<u16>, out: &mut Found) -> Result<(), String> {
    for (k, v) in map {
        let depth = at.len();
        match k {
            Value::Array(ids) => {
                if ids.is_empty() {
                    return Err(format!("at {}: an empty array key", show(at)));
                }
                for id in ids {
                    let c = component(id, at)?;
                    at.push(c);
                }
            }
            other => {
                let c = component(other, at)?;
                at.push(c);
            }
        }
        if at.len() > 4 {
            let e = format!(
                "at {}: a path longer than /o/i/r/ri",
                show(&at[..depth.min(4)])
            );
            return Err(e);
        }
        match v {
            Value::Map(inner) => {
                if at.len() == 4 {
                    return Err(format!("at {}: a map below a resource instance", show(at)));
                }
                walk(inner, at, out)?;
            }
            leaf => {
                if at.len() < 3 {
                    return Err(format!(
                        "at {}: {} where a map of {} is due",
                        show(at),
                        kind(leaf),
                        if at.len() == 1 {
                            "instances"
                        } else {
                            "resources"
                        }
                    ));
                }
                let value = resource_value(leaf, at)?;
                if !out.seen.insert(at.clone()) {
                    return Err(format!("at {}: the path given twice", show(at)));
                }
                out.records.push((at.clone(), value));
            }
        }
        at.truncate(depth);
    }
    Ok(())
}

/// Decodes an LwM2M CBOR payload into (full path, value) records in the order of the
/// payload, the reverse of [`encode`]: nested maps and array keys alike (absolute paths
/// from the Object ID).
///
/// Rejected, the error naming the path where it went wrong: input longer than
/// [`MAX_PAYLOAD_BYTES`]; anything that is not one well-formed CBOR item (trailing bytes
/// included) or nests deeper than [`MAX_DEPTH`]; a top level that is not a map; a key that
/// is not an unsigned integer up to 65535 or a non-empty array of such; a path longer than
/// four components; a value above the resource level that is not a map, or a map below a
/// resource instance; a resource value that is not an integer within `i64` (an integral
/// float counts), a boolean, a text or a byte string (null, arrays, tags, other floats);
/// the same path twice (a resource both with a value and with instances included).
/// Never panics.
pub fn decode(bytes: &[u8]) -> Result<Vec<(String, SenmlValue)>, String> {
    let top = crate::senml_cbor::read_bounded(
        bytes,
        "LwM2M CBOR",
        "an LwM2M CBOR payload",
        "the payload",
    )?;
    let Value::Map(map) = top else {
        return Err(format!(
            "an LwM2M CBOR payload must be a CBOR map, not {}",
            kind(&top)
        ));
    };
    let mut out = Found::default();
    walk(&map, &mut Vec::with_capacity(4), &mut out)?;
    // A resource given a value and instances too: /o/i/r and /o/i/r/ri both present.
    for (p, _) in &out.records {
        if p.len() == 4 && out.seen.contains(&p[..3]) {
            return Err(format!(
                "at {}: a resource given both a value and instances",
                show(&p[..3])
            ));
        }
    }
    Ok(out
        .records
        .into_iter()
        .map(|(p, v)| (show(&p), v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    use crate::test_support::{hex, rec};

    /// The bytes written out by hand (RFC 8949 major types) for a Server instance, an
    /// Access Control instance with a multiple-instance ACL and a Security key, in the plain
    /// nested-map form (one level per path component, as in the decoder tests cited in the
    /// module doc): `{1: {0: {0: 1, 1: 300, 6: false, 7: "U"}}, 2: {0: {2: {1: 31},
    /// 3: -86400}}, 0: {1: {5: h'dead'}}}`.
    #[test]
    fn known_bytes() {
        let records = vec![
            rec("/1/0/0", SenmlValue::Int(1)),
            rec("/1/0/1", SenmlValue::Int(300)),
            rec("/1/0/6", SenmlValue::Bool(false)),
            rec("/1/0/7", SenmlValue::Str("U".into())),
            rec("/2/0/2/1", SenmlValue::Int(31)),
            rec("/2/0/3", SenmlValue::Int(-86400)),
            rec("/0/1/5", SenmlValue::Opaque(vec![0xde, 0xad])),
        ];
        let want = hex(concat!(
            "a3",             // map(3): objects 1, 2, 0
            "01 a1",          // 1: map(1)
            "00 a4",          //   0: map(4)
            "00 01",          //     0: 1
            "01 19 012c",     //     1: 300
            "06 f4",          //     6: false
            "07 61 55",       //     7: "U"
            "02 a1",          // 2: map(1)
            "00 a2",          //   0: map(2)
            "02 a1 01 18 1f", //  2: {1: 31}
            "03 3a 0001517f", //  3: -86400 (-1 - 86399)
            "00 a1",          // 0: map(1)
            "01 a1",          //   1: map(1)
            "05 42 dead",     //     5: bytes(2)
        ));
        assert_eq!(encode(&records), Ok(want.clone()));
        assert_eq!(decode(&want), Ok(records));
        assert_eq!(encode(&[]), Ok(vec![0xa0]));
        assert_eq!(decode(&[0xa0]), Ok(vec![]));
    }

    /// Array keys compress a chain of single-key maps; nested, compressed and mixed forms
    /// of the same resources decode alike, indefinite lengths included.
    #[test]
    fn array_keys_decode_as_nesting() {
        let two = Ok(vec![
            rec("/13/26/1", SenmlValue::Int(42)),
            rec("/13/26/2", SenmlValue::Int(21)),
        ]);
        // {[13, 26]: {1: 42, 2: 21}}
        assert_eq!(decode(&hex("a1 82 0d 181a a2 01 182a 02 15")), two);
        // {[13, 26, 1]: 42, [13, 26, 2]: 21}
        assert_eq!(decode(&hex("a2 83 0d 181a 01 182a 83 0d 181a 02 15")), two);
        // {[13, 26, 1]: 42, [13, 26]: {[2]: 21}}
        assert_eq!(
            decode(&hex("a2 83 0d 181a 01 182a 82 0d 181a a1 81 02 15")),
            two
        );
        // {13: {26: {1: 42, 2: 21}}}, indefinite-length maps
        assert_eq!(decode(&hex("bf 0d bf 181a bf 01 182a 02 15 ff ff ff")), two);
        // {[1, 0, 5, 7]: "x"}: a resource instance in one key; an integral float value.
        assert_eq!(
            decode(&hex("a2 84 01 00 05 07 61 78 83 01 00 06 f9 3c00")),
            Ok(vec![
                rec("/1/0/5/7", SenmlValue::Str("x".into())),
                rec("/1/0/6", SenmlValue::Int(1)),
            ])
        );
        // Empty maps carry no records.
        assert_eq!(decode(&hex("a1 01 a0")), Ok(vec![]));
    }

    #[test]
    fn malformed_payloads_are_rejected_with_the_path() {
        let cases: &[(&str, &str)] = &[
            ("", "not LwM2M CBOR"),
            ("ff", "not LwM2M CBOR"),
            ("a1", "not LwM2M CBOR"),
            ("a0 00", "not LwM2M CBOR: 1 bytes after the payload"),
            ("80", "must be a CBOR map, not an array"),
            (
                "a1 01 02",
                "at /1: the integer 2 where a map of instances is due",
            ),
            (
                "a1 82 01 00 02",
                "at /1/0: the integer 2 where a map of resources",
            ),
            ("a1 20 a0", "at /: key -1 is not a path component"),
            (
                "a1 1a 00010000 a0",
                "at /: key 65536 is not a path component",
            ),
            ("a1 61 31 a0", "at /: a key that is the text \"1\""),
            ("a1 80 a0", "at /: an empty array key"),
            ("a1 82 01 61 30 a0", "at /1: a key that is the text \"0\""),
            ("a1 85 01 00 00 00 00 01", "a path longer than /o/i/r/ri"),
            (
                "a1 84 01 00 00 00 a1 00 01",
                "at /1/0/0/0: a map below a resource instance",
            ),
            (
                "a1 83 01 00 00 f6",
                "at /1/0/0: a resource value that is null",
            ),
            (
                "a1 83 01 00 00 80",
                "at /1/0/0: a resource value that is an array",
            ),
            (
                "a1 83 01 00 00 c1 00",
                "at /1/0/0: a resource value that is a value with tag 1",
            ),
            (
                "a1 83 01 00 00 fb 3ff8000000000000",
                "at /1/0/0: a resource value that is the float 1.5",
            ),
            (
                "a1 83 01 00 00 1b 8000000000000000",
                "at /1/0/0: 9223372036854775808 is not an integer",
            ),
            (
                "a2 83 01 00 00 01 82 01 00 a1 00 02",
                "at /1/0/0: the path given twice",
            ),
            (
                "a2 83 01 00 00 01 83 01 00 00 a1 01 02",
                "at /1/0/0: a resource given both",
            ),
            // Declared lengths far beyond the input: an error, no allocation of that size.
            ("bb ffffffffffffffff", "not LwM2M CBOR"),
            ("a1 9b ffffffffffffffff", "not LwM2M CBOR"),
            ("a1 83 01 00 00 5b ffffffffffffffff 00", "not LwM2M CBOR"),
            ("a1 83 01 00 00 7b ffffffffffffffff", "not LwM2M CBOR"),
            // Invalid UTF-8 in a text string.
            ("a1 83 01 00 00 61 ff", "not LwM2M CBOR"),
        ];
        for (input, want) in cases {
            let got = decode(&hex(input));
            match &got {
                Err(e) if e.contains(want) => {}
                _ => panic!("{input}: got {got:?}, want an error with {want:?}"),
            }
        }
        // Deep nesting is refused by the recursion limit, not by a stack overflow.
        assert!(decode(&[0xa1; 100_000][..MAX_PAYLOAD_BYTES]).is_err());
        let deep = [[0xa1u8, 0x01].repeat(20), vec![0xa0]].concat();
        assert!(decode(&deep).is_err());
        assert!(
            decode(&vec![0xa0; MAX_PAYLOAD_BYTES + 1]).is_err_and(|e| e.contains("longer than"))
        );
    }

    #[test]
    fn unencodable_records_are_errors() {
        for (records, want) in [
            (
                vec![rec("/1/0", SenmlValue::Int(1))],
                "record 0: \"/1/0\" is not",
            ),
            (vec![rec("1/0/0", SenmlValue::Int(1))], "is not /o/i/r"),
            (vec![rec("/1/0/70000", SenmlValue::Int(1))], "is not /o/i/r"),
            (vec![rec("/1/0/+1", SenmlValue::Int(1))], "is not /o/i/r"),
            (
                vec![
                    rec("/1/0/0", SenmlValue::Int(1)),
                    rec("/1/0/0", SenmlValue::Int(2)),
                ],
                "record 1: /1/0/0 given twice",
            ),
            (
                vec![
                    rec("/1/0/0", SenmlValue::Int(1)),
                    rec("/1/0/0/1", SenmlValue::Int(2)),
                ],
                "record 1: /1/0/0/1 lies under a resource",
            ),
            (
                vec![
                    rec("/1/0/0/1", SenmlValue::Int(1)),
                    rec("/1/0/0", SenmlValue::Int(2)),
                ],
                "record 1: /1/0/0 given twice",
            ),
        ] {
            let got = encode(&records);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(want)),
                "{got:?}, want {want}"
            );
        }
    }

    /// The suite's record lists (as senml_cbor's tests use) round-trip and decode to what
    /// their SenML CBOR form decodes to.
    #[test]
    fn decode_inverts_encode_and_matches_senml() {
        let packs = vec![
            vec![],
            vec![
                rec("/0/0/0", SenmlValue::Str("coap://127.0.0.1:5783".into())),
                rec("/0/0/1", SenmlValue::Bool(true)),
                rec("/0/0/3", SenmlValue::Opaque(b"key-100".to_vec())),
                rec("/0/1/10", SenmlValue::Int(1)),
            ],
            vec![
                rec("/2/0/2/65535", SenmlValue::Int(1)),
                rec("/2/0/2/0", SenmlValue::Int(i64::MIN)),
                rec("/2/1/3", SenmlValue::Int(i64::MAX)),
                rec("/0/2/3", SenmlValue::Opaque(vec![])),
                rec("/0/2/9", SenmlValue::Str("a\"b\\c\nd\u{1}é".into())),
            ],
        ];
        for pack in packs {
            let cbor = encode(&pack).unwrap();
            assert_eq!(decode(&cbor), Ok(pack.clone()), "{cbor:02x?}");
            let senml = crate::senml_cbor::encode(&pack);
            assert_eq!(crate::senml_cbor::decode(&senml), decode(&cbor));
        }
    }

    fn value() -> impl Strategy<Value = SenmlValue> {
        prop_oneof![
            any::<i64>().prop_map(SenmlValue::Int),
            any::<bool>().prop_map(SenmlValue::Bool),
            ".{0,12}".prop_map(SenmlValue::Str),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(SenmlValue::Opaque),
        ]
    }

    /// A resource: a value, or instances (a non-empty map of resource-instance IDs).
    fn resource() -> impl Strategy<Value = Result<SenmlValue, BTreeMap<u16, SenmlValue>>> {
        prop_oneof![
            value().prop_map(Ok),
            proptest::collection::btree_map(any::<u16>(), value(), 1..4).prop_map(Err),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn decode_inverts_encode_for_any_records(
            tree in proptest::collection::btree_map(
                (0u16..4, any::<u16>()),
                proptest::collection::btree_map(any::<u16>(), resource(), 1..5),
                0..5,
            )
        ) {
            // Grouped by object then instance, as every record list of the suite is.
            let mut records = Vec::new();
            for ((o, i), resources) in &tree {
                for (r, res) in resources {
                    match res {
                        Ok(v) => records.push((format!("/{o}/{i}/{r}"), v.clone())),
                        Err(instances) => {
                            for (ri, v) in instances {
                                records.push((format!("/{o}/{i}/{r}/{ri}"), v.clone()));
                            }
                        }
                    }
                }
            }
            let cbor = encode(&records).unwrap();
            prop_assert_eq!(decode(&cbor), Ok(records.clone()));
            // The same records as SenML CBOR carry the same information.
            prop_assert_eq!(
                crate::senml_cbor::decode(&crate::senml_cbor::encode(&records)),
                decode(&cbor)
            );
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
