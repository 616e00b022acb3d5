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

use serde::Serialize;

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
fn split(path: &str) -> (&str, &str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str, v: SenmlValue) -> (String, SenmlValue) {
        (path.to_string(), v)
    }

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
