//! Paths on the bootstrap interface: `/`, `/o`, `/o/i`, `/o/i/r` (BS-OBJ-06: always plain
//! object/instance/resource paths on this interface).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Object ID of the Security object (BS-OBJ-01).
pub const SECURITY: u16 = 0;
/// Object ID of the Server object (BS-OBJ-03).
pub const SERVER: u16 = 1;
/// Object ID of the Access Control object (BS-OBJ-04).
pub const ACCESS_CONTROL: u16 = 2;
/// Object ID of the Device object; its single instance /3/0 survives every Bootstrap-Delete
/// (BS-DEL-03).
pub const DEVICE: u16 = 3;

/// A target of a bootstrap operation. `Root` is CoAP `/` (Delete "/", Discover "/").
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(into = "String", try_from = "String")]
pub enum Path {
    /// `/`
    Root,
    /// `/o`
    Object(u16),
    /// `/o/i`
    Instance(u16, u16),
    /// `/o/i/r`
    Resource(u16, u16, u16),
}

impl Path {
    /// The object ID named by the path, if any.
    pub fn object(self) -> Option<u16> {
        match self {
            Path::Root => None,
            Path::Object(o) | Path::Instance(o, _) | Path::Resource(o, _, _) => Some(o),
        }
    }

    /// The instance ID named by the path, if any.
    pub fn instance(self) -> Option<u16> {
        match self {
            Path::Instance(_, i) | Path::Resource(_, i, _) => Some(i),
            _ => None,
        }
    }

    /// Whether `self` names `other` or one of its ancestors (`/` contains everything).
    pub fn contains(self, other: Path) -> bool {
        match (self, other) {
            (Path::Root, _) => true,
            (Path::Object(a), o) => o.object() == Some(a),
            (Path::Instance(a, b), o) => o.object() == Some(a) && o.instance() == Some(b),
            (r @ Path::Resource(..), o) => r == o,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => write!(f, "/"),
            Path::Object(o) => write!(f, "/{o}"),
            Path::Instance(o, i) => write!(f, "/{o}/{i}"),
            Path::Resource(o, i, r) => write!(f, "/{o}/{i}/{r}"),
        }
    }
}

impl From<Path> for String {
    fn from(p: Path) -> String {
        p.to_string()
    }
}

/// Why a string is not a bootstrap-interface path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPath(pub String);

impl fmt::Display for BadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a path of the form /, /o, /o/i or /o/i/r: {:?}",
            self.0
        )
    }
}

impl std::error::Error for BadPath {}

impl TryFrom<String> for Path {
    type Error = BadPath;
    fn try_from(s: String) -> Result<Path, BadPath> {
        s.parse()
    }
}

impl std::str::FromStr for Path {
    type Err = BadPath;
    fn from_str(s: &str) -> Result<Path, BadPath> {
        let bad = || BadPath(s.to_string());
        let rest = s.strip_prefix('/').ok_or_else(bad)?;
        if rest.is_empty() {
            return Ok(Path::Root);
        }
        let parts: Vec<u16> = rest
            .split('/')
            .map(|p| p.parse::<u16>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [o] => Ok(Path::Object(o)),
            [o, i] => Ok(Path::Instance(o, i)),
            [o, i, r] => Ok(Path::Resource(o, i, r)),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_depth() {
        for s in ["/", "/0", "/0/1", "/1/0/9"] {
            assert_eq!(s.parse::<Path>().unwrap().to_string(), s);
        }
        for s in ["", "0", "/a", "/0/1/2/3", "/0//1", "/70000"] {
            assert!(s.parse::<Path>().is_err(), "{s:?} must be refused");
        }
    }

    #[test]
    fn containment() {
        assert!(Path::Root.contains(Path::Instance(0, 1)));
        assert!(Path::Object(0).contains(Path::Resource(0, 1, 5)));
        assert!(!Path::Object(0).contains(Path::Instance(1, 0)));
        assert!(Path::Instance(0, 1).contains(Path::Resource(0, 1, 5)));
        assert!(!Path::Instance(0, 1).contains(Path::Instance(0, 2)));
    }
}
