//! A Bootstrap-Read answer (BS-READ-01) decoded into its resources, whatever the format the
//! client chose among those the request accepted: LwM2M TLV (11542), SenML JSON (110),
//! SenML CBOR (112) or LwM2M CBOR (11544). Every resource is kept, so that the judge can
//! check each one: written resources carry the values written, others are allowed only with
//! a default the specification gives (BS-WRITE-04).

use crate::senml::SenmlValue;
use crate::tlv::{self, IdentifierType, RawTlv};
use crate::{lwm2m_cbor, senml, senml_cbor};
use bootstrap_model::path::Path;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A resource value as the vectors state it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string.
    String(String),
    /// Opaque bytes, lowercase hex.
    Opaque(String),
}

impl Value {
    /// The value of a SenML value.
    pub fn of(v: &SenmlValue) -> Value {
        match v {
            SenmlValue::Int(i) => Value::Int(*i),
            SenmlValue::Bool(b) => Value::Bool(*b),
            SenmlValue::Str(s) => Value::String(s.clone()),
            SenmlValue::Opaque(b) => Value::Opaque(crate::wire::hex(b)),
        }
    }

    /// Whether the decoded `got` carries this value. A TLV value carries no type, so its
    /// bytes are read as this value's type (an integer in 1, 2, 4 or 8 bytes, a boolean in
    /// one byte 0 or 1, UTF-8 text, raw bytes).
    pub fn matches(&self, got: &Decoded) -> bool {
        match got {
            Decoded::Typed(v) => Value::of(v) == *self,
            Decoded::Raw(bytes) => {
                let raw = RawTlv {
                    kind: IdentifierType::ResourceWithValue,
                    id: 0,
                    value: bytes.clone(),
                    children: Vec::new(),
                };
                match self {
                    Value::Int(i) => raw.integer() == Some(*i),
                    Value::Bool(b) => raw.boolean() == Some(*b),
                    Value::String(s) => raw.string() == Some(s.as_str()),
                    Value::Opaque(h) => crate::wire::hex(bytes) == *h,
                }
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Opaque(h) => write!(f, "0x{h}"),
        }
    }
}

/// A decoded value: typed (the SenML and CBOR formats carry the type) or the raw bytes of a
/// TLV resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// With its type.
    Typed(SenmlValue),
    /// TLV value bytes.
    Raw(Vec<u8>),
}

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decoded::Typed(v) => write!(f, "{}", Value::of(v)),
            Decoded::Raw(b) => match std::str::from_utf8(b) {
                Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control()) => {
                    write!(f, "{s:?} (0x{})", crate::wire::hex(b))
                }
                _ => write!(f, "0x{}", crate::wire::hex(b)),
            },
        }
    }
}

/// One resource (or resource instance) of a Read answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Object ID.
    pub object: u16,
    /// Object Instance ID.
    pub instance: u16,
    /// Resource ID.
    pub resource: u16,
    /// Resource Instance ID, for a multiple resource.
    pub resource_instance: Option<u16>,
    /// The value.
    pub value: Decoded,
}

impl Record {
    /// `/o/i/r` or `/o/i/r/ri`.
    pub fn path(&self) -> String {
        match self.resource_instance {
            None => format!("/{}/{}/{}", self.object, self.instance, self.resource),
            Some(ri) => format!("/{}/{}/{}/{ri}", self.object, self.instance, self.resource),
        }
    }
}

/// Decodes a Read answer to `target` (`/o` or `/o/i`) in `content_format`. A record outside
/// the target, a malformed payload or a format other than the four is an error that says
/// which.
pub fn decode(content_format: u16, payload: &[u8], target: Path) -> Result<Vec<Record>, String> {
    let Some(object) = target.object() else {
        return Err(format!("a Read of {target} has no object"));
    };
    let records = match content_format {
        tlv::CONTENT_FORMAT => from_tlv(payload, object, target.instance())?,
        senml::CONTENT_FORMAT => from_senml(senml::decode(payload)?)?,
        senml_cbor::CONTENT_FORMAT => from_senml(senml_cbor::decode(payload)?)?,
        lwm2m_cbor::CONTENT_FORMAT => from_senml(lwm2m_cbor::decode(payload)?)?,
        f => {
            return Err(format!(
                "Content-Format {f} is none of the Read formats (TLV 11542, SenML JSON 110, SenML CBOR 112, LwM2M CBOR 11544)"
            ))
        }
    };
    if let Some(r) = records
        .iter()
        .find(|r| r.object != object || target.instance().is_some_and(|i| i != r.instance))
    {
        return Err(format!("the answer holds {}, outside {target}", r.path()));
    }
    Ok(records)
}

fn from_tlv(bytes: &[u8], object: u16, instance: Option<u16>) -> Result<Vec<Record>, String> {
    let items = tlv::decode(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut loose = Vec::new();
    for t in items {
        if t.kind == IdentifierType::ObjectInstance {
            resources(&t.children, object, t.id, &mut out);
        } else {
            loose.push(t);
        }
    }
    if !loose.is_empty() {
        // Resources without an instance wrapper belong to the instance the Read named.
        let Some(i) = instance else {
            return Err(format!(
                "TLV resources outside an object instance in an answer for /{object}"
            ));
        };
        resources(&loose, object, i, &mut out);
    }
    Ok(out)
}

fn resources(items: &[RawTlv], object: u16, instance: u16, out: &mut Vec<Record>) {
    for r in items {
        match r.kind {
            IdentifierType::MultipleResource => {
                for ri in &r.children {
                    out.push(Record {
                        object,
                        instance,
                        resource: r.id,
                        resource_instance: Some(ri.id),
                        value: Decoded::Raw(ri.value.clone()),
                    });
                }
            }
            _ => out.push(Record {
                object,
                instance,
                resource: r.id,
                resource_instance: None,
                value: Decoded::Raw(r.value.clone()),
            }),
        }
    }
}

fn from_senml(records: Vec<(String, SenmlValue)>) -> Result<Vec<Record>, String> {
    records
        .into_iter()
        .map(|(name, value)| {
            let ids: Vec<u16> = name
                .strip_prefix('/')
                .ok_or_else(|| format!("record name {name:?} is not an LwM2M path"))?
                .split('/')
                .map(|s| {
                    s.parse::<u16>()
                        .map_err(|_| format!("record name {name:?} is not an LwM2M path"))
                })
                .collect::<Result<_, _>>()?;
            let (object, instance, resource, resource_instance) = match ids.as_slice() {
                [o, i, r] => (*o, *i, *r, None),
                [o, i, r, ri] => (*o, *i, *r, Some(*ri)),
                _ => {
                    return Err(format!(
                        "record name {name:?} is not a resource or resource instance"
                    ))
                }
            };
            Ok(Record {
                object,
                instance,
                resource,
                resource_instance,
                value: Decoded::Typed(value),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlv::{Tlv, TlvValue};

    #[test]
    fn every_format_gives_the_same_records() {
        let items = vec![Tlv::ObjectInstance {
            id: 0,
            resources: vec![
                Tlv::Resource {
                    id: 0,
                    value: TlvValue::Integer(1),
                },
                Tlv::Resource {
                    id: 7,
                    value: TlvValue::String("U".into()),
                },
            ],
        }];
        let from_tlv = decode(tlv::CONTENT_FORMAT, &tlv::encode(&items), Path::Object(1)).unwrap();
        let records = vec![
            ("/1/0/0".to_string(), SenmlValue::Int(1)),
            ("/1/0/7".to_string(), SenmlValue::Str("U".into())),
        ];
        let json = senml::encode(&records);
        let from_json = decode(senml::CONTENT_FORMAT, json.as_bytes(), Path::Object(1)).unwrap();
        assert_eq!(from_tlv.len(), 2);
        assert_eq!(from_json.len(), 2);
        for (a, b) in from_tlv.iter().zip(&from_json) {
            assert_eq!(a.path(), b.path());
        }
        assert!(Value::Int(1).matches(&from_tlv[0].value));
        assert!(Value::Int(1).matches(&from_json[0].value));
        assert!(Value::String("U".into()).matches(&from_tlv[1].value));
        assert!(!Value::Int(2).matches(&from_tlv[0].value));
        assert!(!Value::Bool(true).matches(&from_json[0].value));
    }

    #[test]
    fn records_outside_the_target_and_unknown_formats_are_named() {
        let records = vec![("/2/0/0".to_string(), SenmlValue::Int(1))];
        let json = senml::encode(&records);
        let e = decode(senml::CONTENT_FORMAT, json.as_bytes(), Path::Object(1)).unwrap_err();
        assert!(e.contains("/2/0/0"), "{e}");
        let e = decode(40, b"</1>", Path::Object(1)).unwrap_err();
        assert!(e.contains("40"), "{e}");
    }
}
