//! SenML CBOR (RFC 8428 §6, Content-Format 112) for LwM2M resources: the same records as
//! SenML JSON ([`crate::senml`]) in the binary representation, which LwM2M 1.1+ allows for
//! Bootstrap-Write (BS-WRITE-07, BS-WRITE-03), Bootstrap-Read answers (BS-READ-01), the
//! Bootstrap-Request's `pct` (BS-REQ-02) and the Bootstrap-Pack (BS-PACK-01).
//!
//! A pack is a CBOR array of maps whose keys are the integer labels of RFC 8428 §6 (Table 6):
//! `bn` = -2, `n` = 0, `v` = 2, `vs` = 3, `vb` = 4, `vd` = 8. The records, their order and the
//! base-name rule are the JSON encoder's: the first record carries `bn`, the instance prefix
//! `/o/i/`, and a record repeats it only when its instance differs from the previous
//! record's. Unlike JSON, `vd` is a CBOR byte string, not base64 (RFC 8428 §6).
//!
//! CBOR itself is written and read by the `ciborium` crate; this module only maps records to
//! CBOR values and back. [`decode`] is total: no input makes it panic, the nesting depth is
//! bounded ([`MAX_DEPTH`]), the input length is bounded ([`MAX_PACK_BYTES`]), and a
//! declared length larger than the input allocates nothing beyond the input's size
//! (ciborium reads strings in chunks of its scratch buffer and grows arrays and maps one
//! element at a time, so a header claiming 2^64 bytes or items fails at the end of the
//! input; a test keeps it so).

use crate::senml::SenmlValue;
use ciborium::value::{Integer, Value};

/// The SenML CBOR Content-Format number (RFC 8428 §12.3).
pub const CONTENT_FORMAT: u16 = 112;

/// Label of the base name `bn` (RFC 8428 §6).
pub const LABEL_BN: i8 = -2;
/// Label of the name `n`.
pub const LABEL_N: i8 = 0;
/// Label of the numeric value `v`.
pub const LABEL_V: i8 = 2;
/// Label of the string value `vs`.
pub const LABEL_VS: i8 = 3;
/// Label of the boolean value `vb`.
pub const LABEL_VB: i8 = 4;
/// Label of the data value `vd` (a byte string in CBOR).
pub const LABEL_VD: i8 = 8;
/// Labels of the base value `bv` and base sum `bs`, which would change values: rejected,
/// as by the JSON decoder.
const LABEL_BV: i128 = -5;
const LABEL_BS: i128 = -6;

/// The longest pack [`decode`] reads: far more than one CoAP datagram carries, so that no
/// payload of the suite or of a client comes near it, and a bound on all work.
pub const MAX_PACK_BYTES: usize = 64 * 1024;

/// The deepest nesting [`decode`] lets ciborium read: a pack is an array of maps of scalar
/// values (depth 2); anything deeper is refused without recursing further.
pub const MAX_DEPTH: usize = 8;

fn label(l: i8) -> Value {
    Value::Integer(Integer::from(l))
}

/// Encodes `records` (full path such as `/0/1/0`, value) as a SenML CBOR pack: the CBOR
/// twin of [`crate::senml::encode`], with the same records, order and base names. Maps
/// carry `bn` (when written), `n`, then the one value label; integers, strings and byte
/// strings in their shortest definite-length form (RFC 8949 §4.2.1).
pub fn encode(records: &[(String, SenmlValue)]) -> Vec<u8> {
    let mut base = "";
    let mut pack = Vec::with_capacity(records.len());
    for (path, value) in records {
        let (prefix, name) = crate::senml::split(path);
        let mut map = Vec::with_capacity(3);
        if prefix != base {
            map.push((label(LABEL_BN), Value::Text(prefix.to_string())));
        }
        base = prefix;
        map.push((label(LABEL_N), Value::Text(name.to_string())));
        map.push(match value {
            SenmlValue::Int(i) => (label(LABEL_V), Value::Integer(Integer::from(*i))),
            SenmlValue::Bool(b) => (label(LABEL_VB), Value::Bool(*b)),
            SenmlValue::Str(s) => (label(LABEL_VS), Value::Text(s.clone())),
            SenmlValue::Opaque(b) => (label(LABEL_VD), Value::Bytes(b.clone())),
        });
        pack.push(Value::Map(map));
    }
    let mut out = Vec::new();
    match ciborium::into_writer(&Value::Array(pack), &mut out) {
        Ok(()) => out,
        // Writing into a Vec cannot fail; an empty pack keeps the function total.
        Err(_) => vec![0x80],
    }
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

/// The name of a known label, for messages.
fn label_name(l: i128) -> &'static str {
    match l {
        -2 => "bn",
        0 => "n",
        2 => "v",
        3 => "vs",
        4 => "vb",
        8 => "vd",
        _ => "?",
    }
}

/// The value of a record from its one value field (`label`, `value`): `v` an integer (or
/// a float with an integral value within `i64`, as the JSON decoder takes `3.0`), `vb` a
/// boolean, `vs` a text string, `vd` a byte string.
fn record_value(label: i128, value: &Value) -> Result<SenmlValue, String> {
    // 2^63 as f64; every f64 in [-2^63, 2^63) with no fraction is an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match (label, value) {
        (2, Value::Integer(i)) => i64::try_from(i128::from(*i))
            .map(SenmlValue::Int)
            .map_err(|_| format!("v is {}, not an integer within i64", i128::from(*i))),
        (2, Value::Float(f)) if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f) => {
            Ok(SenmlValue::Int(*f as i64))
        }
        (2, Value::Float(f)) => Err(format!("v is {f}, not an integer within i64")),
        (4, Value::Bool(b)) => Ok(SenmlValue::Bool(*b)),
        (3, Value::Text(s)) => Ok(SenmlValue::Str(s.clone())),
        (8, Value::Bytes(b)) => Ok(SenmlValue::Opaque(b.clone())),
        (l, other) => Err(format!(
            "{} has the wrong CBOR type: {}",
            label_name(l),
            kind(other)
        )),
    }
}

/// One CBOR data item read with the guards every CBOR decoder here shares: at most
/// [`MAX_PACK_BYTES`] of input, nesting at most [`MAX_DEPTH`] (ciborium's recursion limit,
/// so deeper input is refused without recursing further), nothing after the item.
/// `format` names the format in errors, `whole` the payload ("a SenML CBOR pack") and
/// `item` the item ("the pack"). Used by this module and [`crate::lwm2m_cbor`].
pub(crate) fn read_bounded(
    bytes: &[u8],
    format: &str,
    whole: &str,
    item: &str,
) -> Result<Value, String> {
    if bytes.len() > MAX_PACK_BYTES {
        return Err(format!(
            "{whole} of {} bytes is longer than the {MAX_PACK_BYTES} this decoder reads",
            bytes.len()
        ));
    }
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|e| format!("not {format}: {e:?}"))?;
    if !rest.is_empty() {
        return Err(format!("not {format}: {} bytes after {item}", rest.len()));
    }
    Ok(value)
}

/// Decodes a SenML CBOR pack (RFC 8428 §6) into (full name, value) pairs in record order,
/// the reverse of [`encode`] and the CBOR twin of [`crate::senml::decode`]: the full name of
/// a record is the base name in force (the last `bn` seen, this record's included, RFC 8428
/// §4.5.1) followed by its `n`.
///
/// Rejected, the error naming the record index where there is one: input longer than
/// [`MAX_PACK_BYTES`]; anything that is not one well-formed CBOR item (trailing bytes
/// included) or nests deeper than [`MAX_DEPTH`]; anything but an array of maps; a `bn` or
/// `n` that is not a text string; a label given twice; an empty full name; a record with no
/// value field or with several; a `v` that is not an integer within `i64` (a float with an
/// integral value counts); a `vd` that is not a byte string; the base value and base sum
/// (`bv` -5, `bs` -6), which would change values, and any text key ending in `_`
/// (must-understand, RFC 8428 §4.4). Other labels (times, units, `bver`) are ignored.
/// Never panics.
pub fn decode(bytes: &[u8]) -> Result<Vec<(String, SenmlValue)>, String> {
    let pack = read_bounded(bytes, "SenML CBOR", "a SenML CBOR pack", "the pack")?;
    let Value::Array(records) = pack else {
        return Err(format!(
            "a SenML pack must be a CBOR array, not {}",
            kind(&pack)
        ));
    };
    let mut base = String::new();
    let mut out = Vec::with_capacity(records.len());
    for (index, rec) in records.iter().enumerate() {
        let err = |what: String| format!("record {index}: {what}");
        let Value::Map(fields) = rec else {
            return Err(err(format!("not a CBOR map but {}", kind(rec))));
        };
        let mut bn = None;
        let mut n = None;
        let mut value: Option<(i128, &Value)> = None;
        let mut seen: Vec<i128> = Vec::with_capacity(fields.len());
        for (k, v) in fields {
            let l = match k {
                Value::Integer(i) => i128::from(*i),
                Value::Text(t) if t.ends_with('_') => {
                    return Err(err(format!("unsupported field {t:?}")));
                }
                // Text keys are not RFC 8428 §6 labels: unknown, so ignored.
                Value::Text(_) => continue,
                other => return Err(err(format!("a key that is {}", kind(other)))),
            };
            if seen.contains(&l) {
                return Err(err(format!("label {l} given twice")));
            }
            seen.push(l);
            let text = |what: &str| match v {
                Value::Text(s) => Ok(s.as_str()),
                other => Err(err(format!("{what} is not a text string: {}", kind(other)))),
            };
            match l {
                -2 => bn = Some(text("bn")?),
                0 => n = Some(text("n")?),
                2 | 3 | 4 | 8 => {
                    if let Some((first, _)) = value {
                        return Err(err(format!(
                            "several value fields ({}, {})",
                            label_name(first),
                            label_name(l)
                        )));
                    }
                    value = Some((l, v));
                }
                LABEL_BV => return Err(err("unsupported field bv (-5)".to_string())),
                LABEL_BS => return Err(err("unsupported field bs (-6)".to_string())),
                _ => {}
            }
        }
        if let Some(bn) = bn {
            base = bn.to_string();
        }
        let name = format!("{base}{}", n.unwrap_or_default());
        if name.is_empty() {
            return Err(err("empty name (no bn and no n)".to_string()));
        }
        let Some((l, v)) = value else {
            return Err(err("no value field (v, vb, vs or vd)".to_string()));
        };
        out.push((name, record_value(l, v).map_err(err)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::test_support::{hex, rec};

    /// The bytes written out by hand from RFC 8949 major types and the RFC 8428 §6 labels.
    #[test]
    fn known_bytes() {
        let records = vec![
            rec("/0/1/0", SenmlValue::Str("U".into())),
            rec("/0/1/1", SenmlValue::Bool(false)),
            rec("/0/1/2", SenmlValue::Int(300)),
            rec("/0/1/3", SenmlValue::Opaque(vec![0xde, 0xad])),
            rec("/0/1/12", SenmlValue::Int(-86400)),
            rec("/0/2/2/1", SenmlValue::Bool(true)),
        ];
        let want = hex(concat!(
            "86",               // array(6)
            "a3",               // map(3)
            "21 65 2f302f312f", // bn (-2): text(5) "/0/1/"
            "00 61 30",         // n (0): "0"
            "03 61 55",         // vs (3): "U"
            "a2 00 61 31",      // map(2), n: "1"
            "04 f4",            // vb (4): false
            "a2 00 61 32",      // n: "2"
            "02 19 012c",       // v (2): 300
            "a2 00 61 33",      // n: "3"
            "08 42 dead",       // vd (8): bytes(2)
            "a2 00 62 3132",    // n: "12"
            "02 3a 0001517f",   // v: -86400 (-1 - 86399)
            "a3",               // map(3)
            "21 65 2f302f322f", // bn: "/0/2/" (the instance changed)
            "00 63 322f31",     // n: "2/1"
            "04 f5",            // vb: true
        ));
        assert_eq!(encode(&records), want);
        assert_eq!(decode(&want), Ok(records));
        assert_eq!(encode(&[]), [0x80]);
        assert_eq!(decode(&[0x80]), Ok(vec![]));
    }

    /// Record lists shaped like the suite's payloads (the JSON decoder's tests use the same).
    fn packs() -> Vec<Vec<(String, SenmlValue)>> {
        vec![
            vec![],
            vec![rec("/3", SenmlValue::Bool(true))],
            vec![
                rec("/0/0/0", SenmlValue::Str("coap://127.0.0.1:5783".into())),
                rec("/0/0/1", SenmlValue::Bool(true)),
                rec("/0/0/2", SenmlValue::Int(0)),
                rec("/0/0/3", SenmlValue::Opaque(b"key-100".to_vec())),
                rec("/0/0/5", SenmlValue::Opaque(vec![100; 16])),
                rec("/0/1/0", SenmlValue::Str("coap://127.0.0.1:5693".into())),
                rec("/0/1/10", SenmlValue::Int(1)),
            ],
            vec![
                rec("/1/0/0", SenmlValue::Int(1)),
                rec("/1/1/0", SenmlValue::Int(2)),
                rec("/1/0/16", SenmlValue::Bool(false)),
            ],
            vec![
                rec("/2/0/2/65535", SenmlValue::Int(1)),
                rec("/2/1/2/3", SenmlValue::Int(i64::MIN)),
                rec("/2/1/3", SenmlValue::Int(i64::MAX)),
                rec("/0/2/3", SenmlValue::Opaque(vec![])),
                rec("/0/2/0", SenmlValue::Str(String::new())),
                rec("/0/2/9", SenmlValue::Str("a\"b\\c\nd\u{1}é".into())),
            ],
        ]
    }

    #[test]
    fn decode_inverts_encode_and_matches_json() {
        for pack in packs() {
            let cbor = encode(&pack);
            assert_eq!(decode(&cbor), Ok(pack.clone()), "{cbor:02x?}");
            // The same records as SenML JSON decodes to the same list.
            let json = crate::senml::encode(&pack);
            assert_eq!(crate::senml::decode(json.as_bytes()), decode(&cbor));
        }
    }

    #[test]
    fn base_names_and_ignored_fields() {
        // bn only, n only, text keys and unknown labels (t = 6, u = 1, bver = -1) ignored.
        let cbor = hex(concat!(
            "83",
            "a3 00 66 2f332f302f30 03 61 78 06 00", // n "/3/0/0", vs "x", t 0
            "a3 21 66 2f332f302f31 04 f5 01 61 73", // bn "/3/0/1", vb true, u "s"
            "a4 20 0a 62 7a7a 01 00 60 02 fb 4095180000000000", // bver, "zz": 1, n "", v 1350.0
        ));
        assert_eq!(
            decode(&cbor),
            Ok(vec![
                rec("/3/0/0", SenmlValue::Str("x".into())),
                rec("/3/0/1", SenmlValue::Bool(true)),
                rec("/3/0/1", SenmlValue::Int(1350)),
            ])
        );
    }

    #[test]
    fn integral_floats_are_integers() {
        // v as half (f9), single (fa) and double (fb) floats.
        let cbor = hex(concat!(
            "83",
            "a2 00 61 31 02 f9 3c00",             // 1.0
            "a2 00 61 32 02 fa c4fa0000",         // -2000.0
            "a2 00 61 33 02 fb c3e0000000000000", // -2^63
        ));
        assert_eq!(
            decode(&cbor),
            Ok(vec![
                rec("1", SenmlValue::Int(1)),
                rec("2", SenmlValue::Int(-2000)),
                rec("3", SenmlValue::Int(i64::MIN)),
            ])
        );
    }

    #[test]
    fn malformed_packs_are_rejected_with_the_record() {
        let cases: &[(&str, &str)] = &[
            ("", "not SenML CBOR"),
            ("ff", "not SenML CBOR"),
            ("81", "not SenML CBOR"),
            ("80 00", "not SenML CBOR: 1 bytes after the pack"),
            ("a0", "must be a CBOR array, not a map"),
            ("81 01", "record 0: not a CBOR map but the integer 1"),
            (
                "82 a2 00 61 31 02 01 80",
                "record 1: not a CBOR map but an array",
            ),
            ("81 a1 00 61 31", "record 0: no value field"),
            (
                "81 a3 00 61 31 02 01 04 f5",
                "record 0: several value fields (v, vb)",
            ),
            (
                "81 a2 00 61 31 02 fb 3ff8000000000000",
                "record 0: v is 1.5, not an integer",
            ),
            ("81 a2 00 61 31 02 fb 43e0000000000000", "record 0: v is"),
            (
                "81 a2 00 61 31 02 1b 8000000000000000",
                "record 0: v is 9223372036854775808",
            ),
            (
                "81 a2 00 61 31 02 3b ffffffffffffffff",
                "record 0: v is -18446744073709551616",
            ),
            (
                "81 a2 00 61 31 02 61 31",
                "record 0: v has the wrong CBOR type: the text \"1\"",
            ),
            (
                "81 a2 00 61 31 04 01",
                "record 0: vb has the wrong CBOR type",
            ),
            (
                "81 a2 00 61 31 03 f6",
                "record 0: vs has the wrong CBOR type: null",
            ),
            // vd as base64 text, as JSON writes it, is not CBOR's byte string.
            (
                "81 a2 00 61 31 08 62 5a67",
                "record 0: vd has the wrong CBOR type",
            ),
            ("81 a1 02 01", "record 0: empty name"),
            ("81 a3 21 60 00 60 02 01", "record 0: empty name"),
            ("81 a2 00 01 02 01", "record 0: n is not a text string"),
            (
                "81 a3 21 41 2f 00 61 30 02 01",
                "record 0: bn is not a text string",
            ),
            (
                "81 a3 00 61 31 00 61 32 02 01",
                "record 0: label 0 given twice",
            ),
            (
                "81 a3 00 61 31 02 01 24 01",
                "record 0: unsupported field bv",
            ),
            (
                "81 a3 00 61 31 02 01 25 01",
                "record 0: unsupported field bs",
            ),
            (
                "81 a3 00 61 31 02 01 62 785f 01",
                "record 0: unsupported field \"x_\"",
            ),
            ("81 a2 f6 00 02 01", "record 0: a key that is null"),
            // Declared lengths far beyond the input: an error, no allocation of that size.
            ("9b ffffffffffffffff", "not SenML CBOR"),
            ("81 bb ffffffffffffffff", "not SenML CBOR"),
            ("81 a2 00 7b ffffffffffffffff", "not SenML CBOR"),
            ("81 a2 00 61 31 08 5b ffffffffffffffff 00", "not SenML CBOR"),
            ("81 a2 00 61 31 08 5f 5b 00ffffffffffffff", "not SenML CBOR"),
            // Invalid UTF-8 in a text string.
            ("81 a2 00 61 ff 02 01", "not SenML CBOR"),
        ];
        for (input, want) in cases {
            let got = decode(&hex(input));
            match &got {
                Err(e) if e.contains(want) => {}
                _ => panic!("{input}: got {got:?}, want an error with {want:?}"),
            }
        }
        // Deep nesting is refused by the recursion limit, not by a stack overflow.
        assert!(decode(&[0x81; 100_000][..MAX_PACK_BYTES]).is_err());
        let deep = [vec![0x81u8; 20], vec![0x80]].concat();
        assert!(decode(&deep).is_err());
        assert!(decode(&vec![0x80; MAX_PACK_BYTES + 1]).is_err_and(|e| e.contains("longer than")));
    }

    fn value() -> impl Strategy<Value = SenmlValue> {
        prop_oneof![
            any::<i64>().prop_map(SenmlValue::Int),
            any::<bool>().prop_map(SenmlValue::Bool),
            ".{0,12}".prop_map(SenmlValue::Str),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(SenmlValue::Opaque),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decode_inverts_encode_for_any_records(
            pack in proptest::collection::vec(
                ("(/[0-9]{1,3}){1,4}|[a-z/]{1,6}", value()),
                0..12,
            )
        ) {
            let cbor = encode(&pack);
            prop_assert_eq!(decode(&cbor), Ok(pack.clone()));
            // The same records as JSON carry the same information.
            prop_assert_eq!(crate::senml::decode(crate::senml::encode(&pack).as_bytes()), decode(&cbor));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
