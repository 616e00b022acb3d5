//! SenML JSON (RFC 8428, Content-Format 110) encoder for LwM2M resources, as LwM2M 1.1+
//! uses it for Bootstrap-Write and Bootstrap-Read payloads (BS-WRITE-07, BS-READ-01).
//!
//! Output is compact JSON (no spaces). Each record carries `n`, the path relative to the
//! base name, and one value field: `v` (integer), `vb` (boolean), `vs` (string) or `vd`
//! (opaque). The first record carries `bn`, the instance prefix `/o/i/` of its path, and a
//! record repeats `bn` only when its instance differs from the previous record's (in
//! RFC 8428 a base name applies to every later record until the next one). Resource instances are named
//! `r/ri` relative to the instance, as in the LwM2M TS examples.
//!
//! `vd` is base64 with the URL-safe alphabet and no padding: RFC 8428 §4.3 requires it, and
//! OMA (OMA_LwM2M_for_Developers#553) confirmed it for LwM2M, whose TS text only said
//! "base64"; Leshan, Wakaama and Zephyr have since moved to it. A tiny encoder is here
//! rather than a new dependency.
//!
//! [`decode`] is the reverse, for what a client sends back (a Bootstrap-Read answer in
//! SenML JSON): it resolves base names as RFC 8428 §4.5.1 says and takes the same four
//! value fields, with [`base64url_decode`] for `vd`. It is total: no input makes it panic.

use serde::Serialize;
use serde_json::{Map, Value};

/// The SenML JSON Content-Format number.
pub const CONTENT_FORMAT: u16 = 110;

/// A resource value in a SenML record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SenmlValue {
    /// An integer: `"v"`.
    Int(i64),
    /// A boolean: `"vb"`.
    Bool(bool),
    /// A string: `"vs"`.
    Str(String),
    /// Opaque bytes: `"vd"`, base64url without padding.
    Opaque(Vec<u8>),
}

/// One record as serialised; fields in the order they appear in the JSON.
#[derive(Serialize)]
struct Record<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    bn: Option<&'a str>,
    n: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    v: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vb: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vs: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vd: Option<String>,
}

/// Splits a full path into its instance prefix (`/o/i/`, the base name) and the rest
/// (`r` or `r/ri`). A path with fewer than three segments splits at its last `/`.
pub(crate) fn split(path: &str) -> (&str, &str) {
    let cut = path
        .match_indices('/')
        .nth(2)
        .or_else(|| path.rmatch_indices('/').next())
        .map(|(i, _)| i + 1)
        .unwrap_or(0);
    path.split_at(cut)
}

/// Encodes `records` (full path such as `/0/1/0`, value) as a SenML JSON pack, e.g.
/// `[{"bn":"/0/1/","n":"0","vs":"coap://127.0.0.1:5693"},{"n":"1","vb":false}]`. Records
/// keep their order; an empty slice gives `[]`. Built with serde_json, so strings are
/// escaped correctly.
pub fn encode(records: &[(String, SenmlValue)]) -> String {
    let mut base = "";
    let mut pack = Vec::with_capacity(records.len());
    let encoded: Vec<Option<String>> = records
        .iter()
        .map(|(_, v)| match v {
            SenmlValue::Opaque(b) => Some(base64url(b)),
            _ => None,
        })
        .collect();
    for ((path, value), vd) in records.iter().zip(&encoded) {
        let (prefix, name) = split(path);
        let bn = (prefix != base).then_some(prefix);
        base = prefix;
        pack.push(Record {
            bn,
            n: name,
            v: match value {
                SenmlValue::Int(i) => Some(*i),
                _ => None,
            },
            vb: match value {
                SenmlValue::Bool(b) => Some(*b),
                _ => None,
            },
            vs: match value {
                SenmlValue::Str(s) => Some(s.as_str()),
                _ => None,
            },
            vd: vd.clone(),
        });
    }
    serde_json::to_string(&pack).expect("serialising strings, integers and booleans cannot fail")
}

/// Base64 with the URL-safe alphabet (RFC 4648 §5) and no padding, no line breaks: the
/// encoding of SenML `vd` (RFC 8428 §4.3).
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let sym = |i: u32| char::from(ALPHABET[(i & 63) as usize]);
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        if chunk.len() > 1 {
            out.push(sym(n >> 6));
        }
        if chunk.len() > 2 {
            out.push(sym(n));
        }
    }
    out
}

/// The value of one base64url symbol (RFC 4648 §5), `None` for any other byte.
fn base64url_symbol(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Decodes base64url (RFC 4648 §5), the reverse of [`base64url`]. Padding is optional:
/// without it (as RFC 8428 §4.3 writes `vd`) or with the one or two `=` that complete the
/// last group of four. Rejected, with the position: a character outside the URL-safe
/// alphabet (the standard `+` and `/` included), `=` anywhere else, a length that no byte
/// string encodes (one symbol left over), and non-zero bits after the last byte (no encoder
/// writes them, so they mean a damaged value).
pub fn base64url_decode(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let body_len = bytes.iter().rposition(|c| *c != b'=').map_or(0, |i| i + 1);
    let (body, padding) = bytes.split_at(body_len);
    if !padding.is_empty() && (padding.len() > 2 || bytes.len() % 4 != 0) {
        return Err(format!("bad base64url padding at position {body_len}"));
    }
    if body.len() % 4 == 1 {
        return Err(format!(
            "{} base64url symbols cannot encode whole bytes",
            body.len()
        ));
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for (k, chunk) in body.chunks(4).enumerate() {
        let mut n = 0u32;
        for (j, c) in chunk.iter().enumerate() {
            let s = base64url_symbol(*c).ok_or_else(|| {
                format!(
                    "bad base64url character {:?} at position {}",
                    char::from(*c),
                    k * 4 + j
                )
            })?;
            n |= s << (18 - 6 * j);
        }
        let [_, a, b, c] = n.to_be_bytes();
        let (whole, rest) = match chunk.len() {
            2 => (&[a][..], (n & 0xffff) != 0),
            3 => (&[a, b][..], (n & 0xff) != 0),
            _ => (&[a, b, c][..], false),
        };
        if rest {
            return Err(format!(
                "base64url value ends with non-zero bits at position {}",
                k * 4 + chunk.len() - 1
            ));
        }
        out.extend_from_slice(whole);
    }
    Ok(out)
}

/// The value of record `index`: exactly one of `v` (an integer, or a number with an
/// integral value within `i64`), `vb`, `vs` and `vd` (base64url).
fn record_value(index: usize, rec: &Map<String, Value>) -> Result<SenmlValue, String> {
    let err = |what: String| Err(format!("record {index}: {what}"));
    let present: Vec<&str> = ["v", "vb", "vs", "vd"]
        .into_iter()
        .filter(|k| rec.contains_key(*k))
        .collect();
    let field = match present.as_slice() {
        [one] => *one,
        [] => return err("no value field (v, vb, vs or vd)".to_string()),
        several => return err(format!("several value fields ({})", several.join(", "))),
    };
    let Some(value) = rec.get(field) else {
        return err(format!("value field {field} vanished"));
    };
    match (field, value) {
        ("v", Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                return Ok(SenmlValue::Int(i));
            }
            // 2^63 as f64; every f64 in [-2^63, 2^63) with no fraction is an i64.
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) => {
                    Ok(SenmlValue::Int(f as i64))
                }
                _ => err(format!("v is {n}, not an integer within i64")),
            }
        }
        ("vb", Value::Bool(b)) => Ok(SenmlValue::Bool(*b)),
        ("vs", Value::String(s)) => Ok(SenmlValue::Str(s.clone())),
        ("vd", Value::String(s)) => base64url_decode(s)
            .map(SenmlValue::Opaque)
            .or_else(|e| err(format!("vd: {e}"))),
        (f, other) => err(format!("{f} has the wrong JSON type: {other}")),
    }
}

/// Decodes a SenML JSON pack (RFC 8428) into (full name, value) pairs in record order,
/// the reverse of [`encode`]: the full name of a record is the base name in force (the
/// last `bn` seen, this record's included, RFC 8428 §4.5.1) followed by its `n`.
///
/// Rejected, the error naming the record index: anything but a JSON array of objects; a
/// `bn` or `n` that is not a string; an empty full name; a record with no value field or
/// with several; a `v` that is not an integer within `i64` (LwM2M integer resources; a
/// number such as `3.0` counts as 3); a `vd` that is not base64url ([`base64url_decode`]);
/// the base value and base sum (`bv`, `bs`), which would change values, and any field
/// ending in `_` (must-understand, RFC 8428 §4.4). Other fields (times, units, `bver`) are
/// ignored. Never panics; serde_json bounds the nesting depth.
pub fn decode(bytes: &[u8]) -> Result<Vec<(String, SenmlValue)>, String> {
    let pack: Value = serde_json::from_slice(bytes).map_err(|e| format!("not SenML JSON: {e}"))?;
    let Value::Array(records) = pack else {
        return Err("a SenML pack must be a JSON array".to_string());
    };
    let mut base = String::new();
    let mut out = Vec::with_capacity(records.len());
    for (index, rec) in records.iter().enumerate() {
        let Value::Object(rec) = rec else {
            return Err(format!("record {index}: not a JSON object"));
        };
        let text = |key: &str| match rec.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!("record {index}: {key} is not a string: {other}")),
        };
        if let Some(k) = rec
            .keys()
            .find(|k| k.ends_with('_') || matches!(k.as_str(), "bv" | "bs"))
        {
            return Err(format!("record {index}: unsupported field {k:?}"));
        }
        if let Some(bn) = text("bn")? {
            base = bn.to_string();
        }
        let name = format!("{base}{}", text("n")?.unwrap_or_default());
        if name.is_empty() {
            return Err(format!("record {index}: empty name (no bn and no n)"));
        }
        out.push((name, record_value(index, rec)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::rec;

    #[test]
    fn base64url_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64url(input.as_bytes()), want);
        }
        // The two URL-safe symbols (standard base64: "+/8=").
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn one_instance_with_every_value_type() {
        let got = encode(&[
            rec("/0/1/0", SenmlValue::Str("coaps://dm0".into())),
            rec("/0/1/1", SenmlValue::Bool(false)),
            rec("/0/1/2", SenmlValue::Int(0)),
            rec("/0/1/3", SenmlValue::Opaque(b"key-0".to_vec())),
            rec("/0/1/12", SenmlValue::Int(-86400)),
        ]);
        assert_eq!(
            got,
            r#"[{"bn":"/0/1/","n":"0","vs":"coaps://dm0"},{"n":"1","vb":false},{"n":"2","v":0},{"n":"3","vd":"a2V5LTA"},{"n":"12","v":-86400}]"#
        );
    }

    #[test]
    fn base_name_changes_with_the_instance() {
        let got = encode(&[
            rec("/1/0/0", SenmlValue::Int(1)),
            rec("/1/1/0", SenmlValue::Int(2)),
            rec("/1/1/7", SenmlValue::Str("U".into())),
        ]);
        assert_eq!(
            got,
            r#"[{"bn":"/1/0/","n":"0","v":1},{"bn":"/1/1/","n":"0","v":2},{"n":"7","vs":"U"}]"#
        );
    }

    #[test]
    fn resource_instances_and_short_paths() {
        let got = encode(&[
            rec("/2/0/2/1", SenmlValue::Int(31)),
            rec("/2/0/2/65535", SenmlValue::Int(1)),
        ]);
        assert_eq!(
            got,
            r#"[{"bn":"/2/0/","n":"2/1","v":31},{"n":"2/65535","v":1}]"#
        );
        assert_eq!(
            encode(&[rec("/3", SenmlValue::Bool(true))]),
            r#"[{"bn":"/","n":"3","vb":true}]"#
        );
        assert_eq!(encode(&[]), "[]");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            encode(&[rec("/0/0/0", SenmlValue::Str("a\"b\\c\nd\u{1}é".into()))]),
            r#"[{"bn":"/0/0/","n":"0","vs":"a\"b\\c\nd\u0001é"}]"#
        );
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;
    use proptest::prelude::*;

    use crate::test_support::rec;

    /// Record lists shaped like the suite's payloads: several instances (so `bn` comes
    /// back), resource instances, every value type, extreme integers, empty values.
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
                rec("/0/1/1", SenmlValue::Bool(false)),
                rec("/0/1/10", SenmlValue::Int(1)),
            ],
            vec![
                rec("/1/0/0", SenmlValue::Int(1)),
                rec("/1/0/1", SenmlValue::Int(86400)),
                rec("/1/1/0", SenmlValue::Int(2)),
                rec("/1/1/7", SenmlValue::Str("U".into())),
                // Back to an earlier instance: its base name is written again.
                rec("/1/0/16", SenmlValue::Bool(false)),
            ],
            vec![
                rec("/2/0/0", SenmlValue::Int(1)),
                rec("/2/0/2/1", SenmlValue::Int(31)),
                rec("/2/0/2/65535", SenmlValue::Int(1)),
                rec("/2/1/2/3", SenmlValue::Int(i64::MIN)),
                rec("/2/1/3", SenmlValue::Int(i64::MAX)),
            ],
            vec![
                rec("/0/2/3", SenmlValue::Opaque(vec![])),
                rec("/0/2/4", SenmlValue::Opaque(vec![0xfb, 0xff, 0x00, 0x80])),
                rec("/0/2/0", SenmlValue::Str(String::new())),
                rec("/0/2/9", SenmlValue::Str("a\"b\\c\nd\u{1}é".into())),
            ],
        ]
    }

    #[test]
    fn decode_inverts_encode() {
        for pack in packs() {
            let json = encode(&pack);
            assert_eq!(decode(json.as_bytes()), Ok(pack), "{json}");
        }
    }

    #[test]
    fn base_names_apply_until_the_next_one() {
        let got = decode(
            br#"[{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":2},{"bn":"/1/1/","n":"0","v":3},{"n":"7","vs":"U"}]"#,
        );
        assert_eq!(
            got,
            Ok(vec![
                rec("/1/0/0", SenmlValue::Int(1)),
                rec("/1/0/1", SenmlValue::Int(2)),
                rec("/1/1/0", SenmlValue::Int(3)),
                rec("/1/1/7", SenmlValue::Str("U".into())),
            ])
        );
        // A name with no base name, a base name with no name, times and units ignored.
        assert_eq!(
            decode(br#"[{"n":"/3/0/0","vs":"x","t":0,"u":"s"},{"bn":"/3/0/1","vb":true}]"#),
            Ok(vec![
                rec("/3/0/0", SenmlValue::Str("x".into())),
                rec("/3/0/1", SenmlValue::Bool(true)),
            ])
        );
    }

    #[test]
    fn integral_floats_are_integers() {
        let got = decode(br#"[{"n":"/1/0/1","v":86400.0},{"n":"/1/0/2","v":-2e3},{"n":"/1/0/3","v":-9223372036854775808}]"#);
        assert_eq!(
            got,
            Ok(vec![
                rec("/1/0/1", SenmlValue::Int(86400)),
                rec("/1/0/2", SenmlValue::Int(-2000)),
                rec("/1/0/3", SenmlValue::Int(i64::MIN)),
            ])
        );
    }

    #[test]
    fn malformed_packs_are_rejected_with_the_record() {
        let cases: &[(&str, &str)] = &[
            ("", "not SenML JSON"),
            ("[", "not SenML JSON"),
            (r#"{"n":"/1/0/0","v":1}"#, "must be a JSON array"),
            ("[1]", "record 0: not a JSON object"),
            (
                r#"[{"n":"/1/0/0","v":1},[]]"#,
                "record 1: not a JSON object",
            ),
            (r#"[{"n":"/1/0/0"}]"#, "record 0: no value field"),
            (
                r#"[{"n":"/1/0/0","v":1,"vb":true}]"#,
                "record 0: several value fields (v, vb)",
            ),
            (
                r#"[{"n":"/1/0/0","v":1.5}]"#,
                "record 0: v is 1.5, not an integer",
            ),
            (r#"[{"n":"/1/0/0","v":1e19}]"#, "record 0: v is"),
            (
                r#"[{"n":"/1/0/0","v":9223372036854775808}]"#,
                "record 0: v is",
            ),
            (
                r#"[{"n":"/1/0/0","v":"1"}]"#,
                "record 0: v has the wrong JSON type",
            ),
            (
                r#"[{"n":"/1/0/0","vb":1}]"#,
                "record 0: vb has the wrong JSON type",
            ),
            (
                r#"[{"n":"/1/0/0","vs":null}]"#,
                "record 0: vs has the wrong JSON type",
            ),
            (
                r#"[{"n":"/1/0/0","vd":"a+b"}]"#,
                "record 0: vd: bad base64url character '+' at position 1",
            ),
            (
                r#"[{"n":"/1/0/0","vd":"Zg=="},{"n":"1","vd":"Z"}]"#,
                "record 1: vd: 1 base64url symbols",
            ),
            (r#"[{"v":1}]"#, "record 0: empty name"),
            (r#"[{"bn":"","n":"","v":1}]"#, "record 0: empty name"),
            (r#"[{"n":5,"v":1}]"#, "record 0: n is not a string"),
            (
                r#"[{"bn":["/1/"],"n":"0","v":1}]"#,
                "record 0: bn is not a string",
            ),
            (
                r#"[{"n":"/1/0/0","v":1,"bv":1}]"#,
                "record 0: unsupported field \"bv\"",
            ),
            (
                r#"[{"n":"/1/0/0","v":1,"x_":1}]"#,
                "record 0: unsupported field \"x_\"",
            ),
        ];
        for (input, want) in cases {
            let got = decode(input.as_bytes());
            match &got {
                Err(e) if e.starts_with(want) || e.contains(want) => {}
                _ => panic!("{input}: got {got:?}, want an error with {want:?}"),
            }
        }
        // Deep nesting is refused by serde_json's depth limit, not by a stack overflow.
        let deep = "[".repeat(100_000);
        assert!(decode(deep.as_bytes()).is_err());
        assert!(decode(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn base64url_decoding() {
        for (text, want) in [
            ("", ""),
            ("Zg", "f"),
            ("Zg==", "f"),
            ("Zm8", "fo"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg", "foob"),
            ("Zm9vYmE", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(
                base64url_decode(text),
                Ok(want.as_bytes().to_vec()),
                "{text}"
            );
        }
        assert_eq!(base64url_decode("-_8"), Ok(vec![0xfb, 0xff]));
        for bad in [
            "Z", "Zg=", "Zg===", "Zm9v=", "=", "Z=g=", "Zh", "Zm9", "+/8", "Zm 9v", "Zé",
        ] {
            assert!(base64url_decode(bad).is_err(), "{bad}");
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decode_inverts_encode_for_any_records(
            pack in proptest::collection::vec(
                ("(/[0-9]{1,3}){1,4}|[a-z/]{1,6}", value()),
                0..12,
            )
        ) {
            let json = encode(&pack);
            prop_assert_eq!(decode(json.as_bytes()), Ok(pack));
        }

        #[test]
        fn base64url_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(base64url_decode(&base64url(&bytes)), Ok(bytes));
        }
    }
}
