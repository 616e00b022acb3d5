//! Helpers shared by the unit tests of the payload formats (SenML JSON, SenML CBOR, LwM2M
//! CBOR): one record, and bytes written out in hex by hand.

use crate::senml::SenmlValue;

/// A record: full path (`/o/i/r` or `/o/i/r/ri`) and value.
pub fn rec(path: &str, v: SenmlValue) -> (String, SenmlValue) {
    (path.to_string(), v)
}

/// The bytes of `s`, hex digits with any whitespace between them (test literals only: a
/// malformed literal panics the test).
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
