//! CoAP response codes used on the bootstrap interface, and sets of acceptable codes.
//!
//! Where the specification allows several answers (ambiguities in the
//! requirement catalogue) the model carries a [`CodeSet`] of all of them; the reference client
//! picks one.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A CoAP response code as the bootstrap interface uses it (T1.0 Table 5, BS-*-0x code rows).
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
#[repr(u8)]
pub enum ResponseCode {
    /// 2.02 Deleted (BS-DEL-05).
    Deleted = 0,
    /// 2.04 Changed (BS-WRITE-06, BS-FIN-02, BS-REQ-04).
    Changed,
    /// 2.05 Content (BS-READ-04, BS-DISC-05, BS-PACK-01).
    Content,
    /// 4.00 Bad Request.
    BadRequest,
    /// 4.01 Unauthorized (BS-OBJ-02).
    Unauthorized,
    /// 4.04 Not Found.
    NotFound,
    /// 4.05 Method Not Allowed.
    MethodNotAllowed,
    /// 4.06 Not Acceptable (BS-FIN-02: inconsistent configuration at Finish).
    NotAcceptable,
    /// 4.15 Unsupported Content-Format (BS-WRITE-06).
    UnsupportedContentFormat,
    /// 5.00 Internal Server Error (generic fallback).
    InternalServerError,
    /// 5.01 Not Implemented (BS-PACK-04).
    NotImplemented,
}

impl ResponseCode {
    /// Every code, in a fixed order.
    pub const ALL: [ResponseCode; 11] = [
        ResponseCode::Deleted,
        ResponseCode::Changed,
        ResponseCode::Content,
        ResponseCode::BadRequest,
        ResponseCode::Unauthorized,
        ResponseCode::NotFound,
        ResponseCode::MethodNotAllowed,
        ResponseCode::NotAcceptable,
        ResponseCode::UnsupportedContentFormat,
        ResponseCode::InternalServerError,
        ResponseCode::NotImplemented,
    ];

    /// The dotted CoAP form, e.g. `4.06`.
    pub fn dotted(self) -> &'static str {
        match self {
            ResponseCode::Deleted => "2.02",
            ResponseCode::Changed => "2.04",
            ResponseCode::Content => "2.05",
            ResponseCode::BadRequest => "4.00",
            ResponseCode::Unauthorized => "4.01",
            ResponseCode::NotFound => "4.04",
            ResponseCode::MethodNotAllowed => "4.05",
            ResponseCode::NotAcceptable => "4.06",
            ResponseCode::UnsupportedContentFormat => "4.15",
            ResponseCode::InternalServerError => "5.00",
            ResponseCode::NotImplemented => "5.01",
        }
    }

    /// Whether this is a 2.xx success code.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            ResponseCode::Deleted | ResponseCode::Changed | ResponseCode::Content
        )
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ResponseCode::Deleted => "Deleted",
            ResponseCode::Changed => "Changed",
            ResponseCode::Content => "Content",
            ResponseCode::BadRequest => "Bad Request",
            ResponseCode::Unauthorized => "Unauthorized",
            ResponseCode::NotFound => "Not Found",
            ResponseCode::MethodNotAllowed => "Method Not Allowed",
            ResponseCode::NotAcceptable => "Not Acceptable",
            ResponseCode::UnsupportedContentFormat => "Unsupported Content-Format",
            ResponseCode::InternalServerError => "Internal Server Error",
            ResponseCode::NotImplemented => "Not Implemented",
        };
        write!(f, "{} {}", self.dotted(), name)
    }
}

/// A set of response codes, all of which the specification accepts for one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CodeSet(u16);

impl CodeSet {
    /// The set holding exactly `codes`.
    pub fn of(codes: &[ResponseCode]) -> CodeSet {
        CodeSet(codes.iter().fold(0, |acc, c| acc | 1 << *c as u8))
    }

    /// Whether `code` is acceptable.
    pub fn contains(self, code: ResponseCode) -> bool {
        self.0 & (1 << code as u8) != 0
    }

    /// The codes in the set, in [`ResponseCode::ALL`] order.
    pub fn codes(self) -> impl Iterator<Item = ResponseCode> {
        ResponseCode::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

impl fmt::Display for CodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<&str> = self.codes().map(|c| c.dotted()).collect();
        write!(f, "{{{}}}", v.join(", "))
    }
}
