//! OMA LwM2M TLV (Content-Format 11542): encoder and decoder.
//!
//! Hand-written because no maintained Rust crate implements the LwM2M TLV format; it is small
//! enough (LwM2M Core TS 1.x, "TLV" data format) to carry here, with no I/O. The vectors use
//! it for Bootstrap-Write payloads of whole instances (BS-WRITE-07) and for Bootstrap-Read
//! answers (BS-READ-01); the decoder lets an adapter check what a client sent back.
//!
//! Layout of one item:
//!
//! - type byte: bits 7-6 identifier type (00 object instance, 01 resource instance,
//!   10 multiple resource, 11 resource with value); bit 5 identifier length (0: 8 bits,
//!   1: 16 bits); bits 4-3 length type (00: the length is bits 2-0, 01: an 8-bit length
//!   follows, 10: 16-bit, 11: 24-bit); bits 2-0 the length when the length type is 00;
//! - the identifier (1 or 2 bytes, big-endian);
//! - the length field (0 to 3 bytes, big-endian);
//! - the value: for an object instance, its resources as TLV items; for a multiple resource,
//!   its resource instances as TLV items; otherwise the value bytes.
//!
//! Value encodings: integers are signed big-endian in the smallest of 1, 2, 4 or 8 bytes
//! that holds them; booleans one byte 0 or 1; strings UTF-8; opaque values raw.

use std::fmt;

/// The LwM2M TLV Content-Format number.
pub const CONTENT_FORMAT: u16 = 11542;

/// The largest value length the 24-bit length field can state.
pub const MAX_VALUE_LEN: usize = 0xff_ffff;

/// A typed resource value, as the encoder writes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TlvValue {
    /// A signed integer: big-endian in the smallest of 1, 2, 4, 8 bytes that holds it.
    Integer(i64),
    /// A boolean: one byte, 0 or 1.
    Bool(bool),
    /// A string: its UTF-8 bytes, no terminator.
    String(String),
    /// Opaque bytes, as they are.
    Opaque(Vec<u8>),
}

impl TlvValue {
    /// The bytes of the value field for this value.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            TlvValue::Integer(v) => integer_bytes(*v),
            TlvValue::Bool(b) => vec![u8::from(*b)],
            TlvValue::String(s) => s.as_bytes().to_vec(),
            TlvValue::Opaque(b) => b.clone(),
        }
    }
}

/// The TLV integer encoding of `v`: signed big-endian in the smallest of 1, 2, 4 or 8 bytes
/// that holds it (86400 takes 4 bytes, 65535 takes 4, 127 takes 1, 128 takes 2).
pub fn integer_bytes(v: i64) -> Vec<u8> {
    let n = if i8::try_from(v).is_ok() {
        1
    } else if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    };
    v.to_be_bytes().iter().skip(8 - n).copied().collect()
}

/// One TLV item to encode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tlv {
    /// An object instance (identifier type 00) wrapping its resources; used when a payload
    /// names instance IDs (object-level Write, BS-WRITE-03; Read of an object, BS-READ-01).
    ObjectInstance {
        /// Object instance ID.
        id: u16,
        /// Its resources ([`Tlv::Resource`] or [`Tlv::MultipleResource`]).
        resources: Vec<Tlv>,
    },
    /// A single-instance resource with its value (identifier type 11).
    Resource {
        /// Resource ID.
        id: u16,
        /// Value.
        value: TlvValue,
    },
    /// A multiple-instance resource (identifier type 10) wrapping resource instances
    /// (identifier type 01), e.g. the ACL /2/z/2 (BS-OBJ-04).
    MultipleResource {
        /// Resource ID.
        id: u16,
        /// (resource instance ID, value) pairs, in order.
        instances: Vec<(u16, TlvValue)>,
    },
}

/// The identifier type of a TLV item (bits 7-6 of the type byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentifierType {
    /// 00: object instance, its value is resource TLVs.
    ObjectInstance,
    /// 01: resource instance inside a multiple resource, its value is the value bytes.
    ResourceInstance,
    /// 10: multiple resource, its value is resource-instance TLVs.
    MultipleResource,
    /// 11: single resource, its value is the value bytes.
    ResourceWithValue,
}

impl IdentifierType {
    /// The two bits (0..=3) of the type byte's bits 7-6.
    pub fn bits(self) -> u8 {
        match self {
            IdentifierType::ObjectInstance => 0,
            IdentifierType::ResourceInstance => 1,
            IdentifierType::MultipleResource => 2,
            IdentifierType::ResourceWithValue => 3,
        }
    }

    fn from_bits(bits: u8) -> IdentifierType {
        match bits & 3 {
            0 => IdentifierType::ObjectInstance,
            1 => IdentifierType::ResourceInstance,
            2 => IdentifierType::MultipleResource,
            _ => IdentifierType::ResourceWithValue,
        }
    }

    /// Whether items of this type carry nested TLV items rather than a value.
    pub fn is_container(self) -> bool {
        matches!(
            self,
            IdentifierType::ObjectInstance | IdentifierType::MultipleResource
        )
    }
}

/// Encodes `items` one after the other (no outer wrapper). Identifiers above 255 take 16
/// bits; lengths up to 7 sit in the type byte, longer ones take the smallest length field.
///
/// # Panics
///
/// If a value (or a container's content) is longer than [`MAX_VALUE_LEN`] bytes, which TLV
/// cannot state; the suite's payloads are a few hundred bytes at most.
pub fn encode(items: &[Tlv]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        encode_item(&mut out, item);
    }
    out
}

fn encode_item(out: &mut Vec<u8>, item: &Tlv) {
    match item {
        Tlv::ObjectInstance { id, resources } => {
            let body = encode(resources);
            put_item(out, IdentifierType::ObjectInstance, *id, &body);
        }
        Tlv::Resource { id, value } => {
            put_item(
                out,
                IdentifierType::ResourceWithValue,
                *id,
                &value.to_bytes(),
            );
        }
        Tlv::MultipleResource { id, instances } => {
            let mut body = Vec::new();
            for (ri, v) in instances {
                put_item(
                    &mut body,
                    IdentifierType::ResourceInstance,
                    *ri,
                    &v.to_bytes(),
                );
            }
            put_item(out, IdentifierType::MultipleResource, *id, &body);
        }
    }
}

/// Writes one item: type byte, identifier, length field, value.
fn put_item(out: &mut Vec<u8>, kind: IdentifierType, id: u16, value: &[u8]) {
    let len = value.len();
    assert!(
        len <= MAX_VALUE_LEN,
        "TLV value of {len} bytes exceeds the 24-bit length field"
    );
    let mut t = kind.bits() << 6;
    if id > 0xff {
        t |= 0x20;
    }
    let len_bytes = (len as u32).to_be_bytes();
    let len_field: &[u8] = match len {
        0..=7 => {
            t |= len as u8;
            &[]
        }
        8..=0xff => {
            t |= 0x08;
            &len_bytes[3..]
        }
        0x100..=0xffff => {
            t |= 0x10;
            &len_bytes[2..]
        }
        _ => {
            t |= 0x18;
            &len_bytes[1..]
        }
    };
    out.push(t);
    if id > 0xff {
        out.extend_from_slice(&id.to_be_bytes());
    } else {
        out.push(id as u8);
    }
    out.extend_from_slice(len_field);
    out.extend_from_slice(value);
}

/// One decoded TLV item, kept close to the bytes: an adapter compares it with what it
/// expected without this module guessing value types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RawTlv {
    /// Identifier type (bits 7-6 of the type byte).
    pub kind: IdentifierType,
    /// Object instance, resource or resource instance ID.
    pub id: u16,
    /// The raw value field (for containers: the encoded nested items).
    pub value: Vec<u8>,
    /// The nested items, decoded, for object instances and multiple resources; empty for
    /// the other types.
    pub children: Vec<RawTlv>,
}

impl RawTlv {
    /// The value as a TLV integer (1, 2, 4 or 8 bytes, signed big-endian); `None` for
    /// containers and other lengths.
    pub fn integer(&self) -> Option<i64> {
        if self.kind.is_container() {
            return None;
        }
        let v = &self.value;
        match v.len() {
            1 | 2 | 4 | 8 => {
                let fill = if v.first().is_some_and(|b| b & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut buf = [fill; 8];
                for (dst, src) in buf.iter_mut().skip(8 - v.len()).zip(v) {
                    *dst = *src;
                }
                Some(i64::from_be_bytes(buf))
            }
            _ => None,
        }
    }

    /// The value as a TLV boolean (one byte, 0 or 1); `None` otherwise.
    pub fn boolean(&self) -> Option<bool> {
        match (self.kind.is_container(), self.value.as_slice()) {
            (false, [0]) => Some(false),
            (false, [1]) => Some(true),
            _ => None,
        }
    }

    /// The value as a UTF-8 string; `None` for containers and invalid UTF-8.
    pub fn string(&self) -> Option<&str> {
        if self.kind.is_container() {
            return None;
        }
        std::str::from_utf8(&self.value).ok()
    }
}

/// What is wrong with a TLV payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TlvProblem {
    /// The type byte announces an identifier longer than the bytes left.
    TruncatedIdentifier,
    /// The type byte announces a length field longer than the bytes left.
    TruncatedLength,
    /// The stated value length runs past the end of the payload (or of the enclosing item).
    TruncatedValue {
        /// The length the item states.
        declared: usize,
        /// The bytes actually left.
        available: usize,
    },
    /// An item of a type that cannot appear where it is: inside an object instance only
    /// resources and multiple resources, inside a multiple resource only resource instances.
    Misplaced {
        /// The item's type.
        kind: IdentifierType,
        /// The enclosing item's type.
        inside: IdentifierType,
    },
}

/// Why [`decode`] refused a payload, and where.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlvError {
    /// Byte offset, from the start of the whole payload, of the type byte of the offending
    /// item.
    pub offset: usize,
    /// What is wrong.
    pub problem: TlvProblem,
}

impl fmt::Display for TlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid TLV at byte {}: ", self.offset)?;
        match &self.problem {
            TlvProblem::TruncatedIdentifier => write!(f, "identifier cut short"),
            TlvProblem::TruncatedLength => write!(f, "length field cut short"),
            TlvProblem::TruncatedValue {
                declared,
                available,
            } => write!(
                f,
                "value of {declared} bytes declared, only {available} left"
            ),
            TlvProblem::Misplaced { kind, inside } => {
                write!(f, "{kind:?} cannot appear inside {inside:?}")
            }
        }
    }
}

impl std::error::Error for TlvError {}

/// The integer value of resource `id` among `items`.
pub fn integer_resource(items: &[RawTlv], id: u16) -> Option<i64> {
    items
        .iter()
        .find(|t| t.id == id && t.kind == IdentifierType::ResourceWithValue)
        .and_then(|t| t.integer())
}

/// The bytes of resource `id` among `items`.
pub fn opaque_resource(items: &[RawTlv], id: u16) -> Option<&[u8]> {
    items
        .iter()
        .find(|t| t.id == id && t.kind == IdentifierType::ResourceWithValue)
        .map(|t| t.value.as_slice())
}

/// Decodes a TLV payload into its items. Total: never panics, whatever the input (bounds
/// are checked on every read); an empty payload is an empty list. The bits 2-0 of a type
/// byte whose length type is not 00 are ignored, and non-minimal lengths are accepted
/// (the format defines no canonical form); nesting is checked (see
/// [`TlvProblem::Misplaced`]), which also bounds the recursion depth to three.
pub fn decode(bytes: &[u8]) -> Result<Vec<RawTlv>, TlvError> {
    decode_level(bytes, 0, None)
}

fn decode_level(
    bytes: &[u8],
    base: usize,
    parent: Option<IdentifierType>,
) -> Result<Vec<RawTlv>, TlvError> {
    let mut items = Vec::new();
    let mut pos = 0usize;
    while let Some(&t) = bytes.get(pos) {
        let start = pos;
        let err = |problem| TlvError {
            offset: base + start,
            problem,
        };
        let kind = IdentifierType::from_bits(t >> 6);
        let allowed = match parent {
            None => true,
            Some(IdentifierType::ObjectInstance) => matches!(
                kind,
                IdentifierType::ResourceWithValue | IdentifierType::MultipleResource
            ),
            Some(IdentifierType::MultipleResource) => kind == IdentifierType::ResourceInstance,
            Some(_) => false,
        };
        if let (false, Some(inside)) = (allowed, parent) {
            return Err(err(TlvProblem::Misplaced { kind, inside }));
        }
        pos += 1;
        let id_len = if t & 0x20 != 0 { 2 } else { 1 };
        let id_bytes = bytes
            .get(pos..pos + id_len)
            .ok_or_else(|| err(TlvProblem::TruncatedIdentifier))?;
        let id = id_bytes
            .iter()
            .fold(0u16, |acc, b| (acc << 8) | u16::from(*b));
        pos += id_len;
        let len_len = usize::from((t >> 3) & 3);
        let len = if len_len == 0 {
            usize::from(t & 7)
        } else {
            let len_bytes = bytes
                .get(pos..pos + len_len)
                .ok_or_else(|| err(TlvProblem::TruncatedLength))?;
            pos += len_len;
            len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let available = bytes.len().saturating_sub(pos);
        let value = pos
            .checked_add(len)
            .and_then(|end| bytes.get(pos..end))
            .ok_or_else(|| {
                err(TlvProblem::TruncatedValue {
                    declared: len,
                    available,
                })
            })?;
        let children = if kind.is_container() {
            decode_level(value, base + pos, Some(kind))?
        } else {
            Vec::new()
        };
        items.push(RawTlv {
            kind,
            id,
            value: value.to_vec(),
            children,
        });
        pos += len;
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn res(id: u16, value: TlvValue) -> Tlv {
        Tlv::Resource { id, value }
    }

    /// Re-encodes decoded items canonically.
    fn reencode(items: &[RawTlv]) -> Vec<u8> {
        let mut out = Vec::new();
        for i in items {
            let body = if i.kind.is_container() {
                reencode(&i.children)
            } else {
                i.value.clone()
            };
            put_item(&mut out, i.kind, i.id, &body);
        }
        out
    }

    /// Asserts that a decoded item is the item that was encoded.
    fn same(raw: &RawTlv, t: &Tlv) {
        match t {
            Tlv::ObjectInstance { id, resources } => {
                assert_eq!((raw.kind, raw.id), (IdentifierType::ObjectInstance, *id));
                assert_eq!(raw.value, encode(resources));
                assert_eq!(raw.children.len(), resources.len());
                for (r, t) in raw.children.iter().zip(resources) {
                    same(r, t);
                }
            }
            Tlv::Resource { id, value } => {
                assert_eq!((raw.kind, raw.id), (IdentifierType::ResourceWithValue, *id));
                assert_eq!(raw.value, value.to_bytes());
                assert!(raw.children.is_empty());
                match value {
                    TlvValue::Integer(v) => assert_eq!(raw.integer(), Some(*v)),
                    TlvValue::Bool(b) => assert_eq!(raw.boolean(), Some(*b)),
                    TlvValue::String(s) => assert_eq!(raw.string(), Some(s.as_str())),
                    TlvValue::Opaque(_) => {}
                }
            }
            Tlv::MultipleResource { id, instances } => {
                assert_eq!((raw.kind, raw.id), (IdentifierType::MultipleResource, *id));
                assert_eq!(raw.children.len(), instances.len());
                for (r, (ri, v)) in raw.children.iter().zip(instances) {
                    assert_eq!((r.kind, r.id), (IdentifierType::ResourceInstance, *ri));
                    assert_eq!(r.value, v.to_bytes());
                }
            }
        }
    }

    fn round_trip(items: &[Tlv]) {
        let bytes = encode(items);
        let raw = decode(&bytes).unwrap_or_else(|e| panic!("{e} in {}", hex(&bytes)));
        assert_eq!(raw.len(), items.len());
        for (r, t) in raw.iter().zip(items) {
            same(r, t);
        }
        assert_eq!(reencode(&raw), bytes);
    }

    /// xorshift64: a dependency-free pseudo-random sequence for the fuzz-ish tests.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn spec_example_one_byte_integer() {
        assert_eq!(hex(&encode(&[res(0, TlvValue::Integer(1))])), "c10001");
    }

    #[test]
    fn spec_example_four_byte_integer() {
        assert_eq!(
            hex(&encode(&[res(1, TlvValue::Integer(86400))])),
            "c401 00015180".replace(' ', "")
        );
    }

    #[test]
    fn integers_take_the_smallest_signed_width() {
        let cases: [(i64, &str); 12] = [
            (0, "00"),
            (127, "7f"),
            (-128, "80"),
            (128, "0080"),
            (-1, "ff"),
            (300, "012c"),
            (32767, "7fff"),
            (32768, "00008000"),
            (65535, "0000ffff"),
            (-32769, "ffff7fff"),
            (1 << 31, "0000000080000000"),
            (i64::MIN, "8000000000000000"),
        ];
        for (v, want) in cases {
            assert_eq!(hex(&integer_bytes(v)), want, "{v}");
            let raw = RawTlv {
                kind: IdentifierType::ResourceWithValue,
                id: 0,
                value: integer_bytes(v),
                children: vec![],
            };
            assert_eq!(raw.integer(), Some(v));
        }
    }

    #[test]
    fn bool_string_opaque_and_lengths() {
        assert_eq!(hex(&encode(&[res(1, TlvValue::Bool(false))])), "c10100");
        assert_eq!(hex(&encode(&[res(1, TlvValue::Bool(true))])), "c10101");
        assert_eq!(
            hex(&encode(&[res(7, TlvValue::String("U".into()))])),
            "c10755"
        );
        assert_eq!(hex(&encode(&[res(3, TlvValue::Opaque(vec![]))])), "c003");
        // 8 bytes: an 8-bit length field.
        assert_eq!(
            hex(&encode(&[res(5, TlvValue::Opaque(vec![7; 8]))])),
            "c805080707070707070707"
        );
        // 16-bit identifier.
        assert_eq!(hex(&encode(&[res(300, TlvValue::Integer(1))])), "e1012c01");
        // 16-bit and 24-bit length fields.
        let b = encode(&[res(0, TlvValue::Opaque(vec![0; 256]))]);
        assert_eq!(hex(&b[..4]), "d0000100");
        assert_eq!(b.len(), 4 + 256);
        let b = encode(&[res(0, TlvValue::Opaque(vec![0; 0x10000]))]);
        assert_eq!(hex(&b[..5]), "d800010000");
        round_trip(&[res(0, TlvValue::Opaque(vec![9; 0x10000]))]);
    }

    #[test]
    fn containers() {
        // The ACL of BS-OBJ-04 with one entry: SSID 1 gets 31.
        let acl = Tlv::MultipleResource {
            id: 2,
            instances: vec![(1, TlvValue::Integer(31))],
        };
        assert_eq!(hex(&encode(std::slice::from_ref(&acl))), "830241011f");
        let inst = Tlv::ObjectInstance {
            id: 0,
            resources: vec![res(0, TlvValue::Integer(1)), acl],
        };
        assert_eq!(
            hex(&encode(&[inst])),
            "0800 08 c10001 830241011f".replace(' ', "")
        );
        // The Device example of the TS (resource 6, two instances).
        let power = Tlv::MultipleResource {
            id: 6,
            instances: vec![(0, TlvValue::Integer(1)), (1, TlvValue::Integer(5))],
        };
        assert_eq!(hex(&encode(&[power])), "8606410001410105");
        let empty = Tlv::MultipleResource {
            id: 2,
            instances: vec![],
        };
        assert_eq!(hex(&encode(std::slice::from_ref(&empty))), "8002");
        round_trip(&[empty]);
    }

    #[test]
    fn round_trips() {
        round_trip(&[]);
        round_trip(&[
            res(0, TlvValue::String("coap://127.0.0.1:5693".into())),
            res(1, TlvValue::Bool(false)),
            res(2, TlvValue::Integer(0)),
            res(3, TlvValue::Opaque(b"key-0".to_vec())),
            res(5, TlvValue::Opaque(vec![0; 16])),
            res(10, TlvValue::Integer(1)),
        ]);
        round_trip(&[
            Tlv::ObjectInstance {
                id: 0,
                resources: vec![res(0, TlvValue::Integer(1))],
            },
            Tlv::ObjectInstance {
                id: 65535,
                resources: vec![
                    res(1, TlvValue::Integer(i64::MAX)),
                    Tlv::MultipleResource {
                        id: 2,
                        instances: vec![(0, TlvValue::Integer(1)), (65535, TlvValue::Bool(true))],
                    },
                ],
            },
        ]);
    }

    fn random_value(rng: &mut XorShift) -> TlvValue {
        match rng.below(4) {
            0 => TlvValue::Integer(match rng.below(4) {
                0 => rng.next() as i8 as i64,
                1 => rng.next() as i16 as i64,
                2 => rng.next() as i32 as i64,
                _ => rng.next() as i64,
            }),
            1 => TlvValue::Bool(rng.below(2) == 1),
            2 => {
                let n = rng.below(300) as usize;
                TlvValue::String(
                    (0..n)
                        .map(|_| (b'a' + rng.below(26) as u8) as char)
                        .collect(),
                )
            }
            _ => {
                let n = rng.below(300) as usize;
                TlvValue::Opaque(rng.bytes(n))
            }
        }
    }

    fn random_id(rng: &mut XorShift) -> u16 {
        if rng.below(2) == 0 {
            rng.below(256) as u16
        } else {
            rng.next() as u16
        }
    }

    fn random_resource(rng: &mut XorShift) -> Tlv {
        if rng.below(4) == 0 {
            let n = rng.below(4);
            Tlv::MultipleResource {
                id: random_id(rng),
                instances: (0..n)
                    .map(|_| (random_id(rng), random_value(rng)))
                    .collect(),
            }
        } else {
            res(random_id(rng), random_value(rng))
        }
    }

    fn random_items(rng: &mut XorShift) -> Vec<Tlv> {
        let n = rng.below(4);
        (0..n)
            .map(|_| {
                if rng.below(3) == 0 {
                    let m = rng.below(4);
                    Tlv::ObjectInstance {
                        id: random_id(rng),
                        resources: (0..m).map(|_| random_resource(rng)).collect(),
                    }
                } else {
                    random_resource(rng)
                }
            })
            .collect()
    }

    #[test]
    fn random_trees_round_trip() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..500 {
            round_trip(&random_items(&mut rng));
        }
    }

    /// Container values cleared: what is left once the nesting is decoded.
    fn strip(items: &[RawTlv]) -> Vec<RawTlv> {
        items
            .iter()
            .map(|i| RawTlv {
                value: if i.kind.is_container() {
                    Vec::new()
                } else {
                    i.value.clone()
                },
                children: strip(&i.children),
                ..*i
            })
            .collect()
    }

    /// Decoding must be total; whatever it accepts re-encodes canonically to a payload that
    /// decodes to the same items and re-encodes to itself.
    fn decode_is_total(input: &[u8]) {
        if let Ok(items) = decode(input) {
            let canonical = reencode(&items);
            let again = decode(&canonical).unwrap_or_else(|e| panic!("{e}: {}", hex(input)));
            assert_eq!(strip(&again), strip(&items), "{}", hex(input));
            assert_eq!(reencode(&again), canonical, "{}", hex(input));
        }
    }

    #[test]
    fn decoder_never_panics() {
        for a in 0..=255u8 {
            decode_is_total(&[a]);
            for b in 0..=255u8 {
                decode_is_total(&[a, b]);
            }
        }
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..5000 {
            let n = rng.below(48) as usize;
            decode_is_total(&rng.bytes(n));
        }
        // Mutations of valid payloads reach deeper into the nesting.
        for _ in 0..3000 {
            let mut bytes = encode(&random_items(&mut rng));
            if bytes.is_empty() {
                continue;
            }
            for _ in 0..=rng.below(3) {
                let i = rng.below(bytes.len() as u64) as usize;
                bytes[i] = rng.next() as u8;
            }
            let cut = rng.below(bytes.len() as u64 + 1) as usize;
            decode_is_total(&bytes[..cut]);
            decode_is_total(&bytes);
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        assert_eq!(decode(&[]), Ok(vec![]));
        // `ff ff`: a 16-bit identifier and a 24-bit length need 5 more bytes.
        assert_eq!(
            decode(&[0xff, 0xff]),
            Err(TlvError {
                offset: 0,
                problem: TlvProblem::TruncatedIdentifier
            })
        );
        assert_eq!(
            decode(&[0xc1, 0x00, 0x01, 0xc8, 0x05]),
            Err(TlvError {
                offset: 3,
                problem: TlvProblem::TruncatedLength
            })
        );
        assert_eq!(
            decode(&[0xc3, 0x00, 0x01]),
            Err(TlvError {
                offset: 0,
                problem: TlvProblem::TruncatedValue {
                    declared: 3,
                    available: 1
                }
            })
        );
        // An object instance (at byte 2) inside an object instance.
        let err = decode(&[0x03, 0x07, 0x01, 0x05, 0x09]).unwrap_err();
        assert_eq!(
            err,
            TlvError {
                offset: 2,
                problem: TlvProblem::Misplaced {
                    kind: IdentifierType::ObjectInstance,
                    inside: IdentifierType::ObjectInstance
                }
            }
        );
        assert_eq!(
            err.to_string(),
            "invalid TLV at byte 2: ObjectInstance cannot appear inside ObjectInstance"
        );
        // Offsets count from the start of the payload, also inside a container.
        assert_eq!(
            decode(&[0x08, 0x00, 0x05, 0xc1, 0x00, 0x01, 0xc3, 0x01]),
            Err(TlvError {
                offset: 6,
                problem: TlvProblem::TruncatedValue {
                    declared: 3,
                    available: 0
                }
            })
        );
        // A resource with value inside a multiple resource.
        assert!(matches!(
            decode(&[0x83, 0x02, 0xc1, 0x01, 0x1f]),
            Err(TlvError {
                offset: 2,
                problem: TlvProblem::Misplaced { .. }
            })
        ));
    }

    #[test]
    fn accessors_refuse_mismatched_values() {
        let raw = decode(&[0xc3, 0x00, 0x01, 0x02, 0x03]).unwrap();
        assert_eq!(raw[0].integer(), None);
        assert_eq!(raw[0].boolean(), None);
        let raw = decode(&[0xc1, 0x00, 0x02]).unwrap();
        assert_eq!(raw[0].boolean(), None);
        assert_eq!(raw[0].integer(), Some(2));
        let raw = decode(&[0xc2, 0x00, 0xff, 0xfe]).unwrap();
        assert_eq!(raw[0].string(), None);
        assert_eq!(raw[0].integer(), Some(-2));
        let raw = decode(&[0x80, 0x02]).unwrap();
        assert_eq!(raw[0].integer(), None);
        assert_eq!(raw[0].string(), None);
    }
}
