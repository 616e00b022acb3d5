//! What a client did, as it did it: the response code and payload bytes it answered with,
//! and the requests it sent on its own, with real URIs, every query parameter and the
//! payload. Every adapter reports this (the wire decodes nothing away; the in-process and
//! model adapters render the reference client's abstract output through the same wire
//! encodings), and [`crate::judge`] judges it against a step's rules, so that reports show
//! the evidence as sent.
//!
//! [`Variations`] are ways in which conforming clients differ from the reference client
//! where the specification leaves room: more objects, other link attributes, another link
//! order, another version-element style, resources with defaults in a Read answer. Applied
//! when the reference client's output is rendered, they let the suite show that a client
//! differing in those ways still passes (issue #9).

use crate::links::VersionStyle;
use crate::wire::{self, CoapMessage, Encoded, UriMap, LINK_FORMAT};
use bootstrap_model::client::{Content, Link, Outgoing, Response};
use bootstrap_model::objects::ServerUri;
use bootstrap_model::path::Path;
use bootstrap_model::profile::{Profile, VersionForm};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A response as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservedResponse {
    /// The CoAP response code, dotted (`2.05`); any code, not only the interface's.
    pub code: String,
    /// The payload with its Content-Format, if there was one.
    pub payload: Option<Encoded>,
    /// The Accept of the request it answers, when that had one (set by the adapter, which
    /// sent the request): a 2.05 payload must come in that format, else the answer is 4.06
    /// (RFC 7252 §5.10.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<u16>,
}

impl fmt::Display for ObservedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", code_name(&self.code))?;
        if let Some(p) = &self.payload {
            write!(f, " {}", show_payload(p))?;
        }
        Ok(())
    }
}

/// A payload as a report shows it: its text when it is text, its hex always for binary
/// formats, with the Content-Format.
pub fn show_payload(p: &Encoded) -> String {
    match &p.text {
        Some(t) => format!("[cf {}] {t}", p.content_format),
        None => match p
            .bytes()
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| !s.is_empty() && s.chars().all(|c| !c.is_control()))
        {
            Some(t) => format!("[cf {}] {t} (0x{})", p.content_format, p.hex),
            None => format!("[cf {}] 0x{}", p.content_format, p.hex),
        },
    }
}

/// `4.02` → `4.02 Bad Option`: the CoAP name of a dotted code (RFC 7252 §12.1.2, RFC 7959,
/// RFC 8132), the code alone when it has none.
pub fn code_name(dotted: &str) -> String {
    let name = match dotted {
        "2.01" => "Created",
        "2.02" => "Deleted",
        "2.03" => "Valid",
        "2.04" => "Changed",
        "2.05" => "Content",
        "2.31" => "Continue",
        "4.00" => "Bad Request",
        "4.01" => "Unauthorized",
        "4.02" => "Bad Option",
        "4.03" => "Forbidden",
        "4.04" => "Not Found",
        "4.05" => "Method Not Allowed",
        "4.06" => "Not Acceptable",
        "4.08" => "Request Entity Incomplete",
        "4.09" => "Conflict",
        "4.12" => "Precondition Failed",
        "4.13" => "Request Entity Too Large",
        "4.15" => "Unsupported Content-Format",
        "4.22" => "Unprocessable Entity",
        "5.00" => "Internal Server Error",
        "5.01" => "Not Implemented",
        "5.02" => "Bad Gateway",
        "5.03" => "Service Unavailable",
        "5.04" => "Gateway Timeout",
        "5.05" => "Proxying Not Supported",
        _ => return dotted.to_string(),
    };
    format!("{dotted} {name}")
}

impl fmt::Display for CoapMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_handshake() {
            return write!(f, "a DTLS handshake (ClientHello) to {}", self.uri);
        }
        write!(f, "{} {}{}", self.method, self.uri, self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query.join("&"))?;
        }
        if let Some(a) = self.accept {
            write!(f, " (Accept {a})")?;
        }
        if let Some(p) = &self.payload {
            write!(f, " {}", show_payload(p))?;
        }
        Ok(())
    }
}

/// Conforming ways to differ from the reference client, applied when its output is
/// rendered (see the module documentation). Each is allowed by the clause its field cites.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variations {
    /// List more objects and instances in Discover and Register: `/4/0`, `/5/0`, `/6`
    /// (object without instance), `/3303/0` and a vendor object `/10241/0` (Core 1.2
    /// §6.1.7.3: the objects and instances the client supports; §6.2.1 Register).
    pub extra_objects: bool,
    /// Add the root link `</>;rt="oma.lwm2m";ct=...` to Register and `ver=` attributes to
    /// object links (Core 1.2 §6.2.1: other link parameters "MUST NOT be interpreted as an
    /// error"; §6.1.7.3 `ver`).
    pub root_link_and_ver: bool,
    /// List links in reverse order (no clause fixes the order).
    pub reverse_order: bool,
    /// Give the Bootstrap-Server's own Security instance a `uri=` attribute (Core 1.2
    /// §6.1.7.3: its URI "can also be omitted", so it can also be there).
    pub bootstrap_uri: bool,
    /// State the Discover version in the profile's other allowed style (A-02: the bare
    /// `lwm2m="1.1"` element in 1.1, the `</>;lwm2m=1.0` root link in 1.0; 1.2 has one
    /// style, so there the value is quoted instead).
    pub other_version_style: bool,
    /// Return Server object resources the specification gives a default for in Bootstrap-Read
    /// answers (Core 1.2 §6.2.1.1 table; /1/x/2, /1/x/5 object definition).
    pub read_defaults: bool,
    /// Register under an alternate path `/lwm2m` (`</lwm2m>;rt="oma.lwm2m"`, BS-OBJ-06).
    pub alternate_path: bool,
    /// The `pct` to send instead of the reference's, and the first format of Read answers
    /// (`None`: the reference's TLV).
    pub format: Option<u16>,
    /// Behaviour, applied by the drivers (the in-process adapter, the client on the wire),
    /// not by the model: never retry bootstrap after a failed attempt (retries to the
    /// bootstrap server are implementation dependent: BS-CI-09, Core 1.2 §6.2.1.1).
    pub no_retry: bool,
    /// Behaviour: make this many Register attempts before deeming a registration failed, as
    /// a client with its own retry procedure does (1.0 leaves it open; in 1.1+ a client
    /// without the optional /1/x/17-20 uses its own); 0 or 1: one.
    pub register_attempts: u8,
    /// Behaviour: no Access Control object (optional: LwM2M-OBJ-003-C-O, BS-OBJ-05): /2 is
    /// left out of Discover and Register, a Read of /2 is answered 4.04. Declared in the
    /// client profile (`features.access_control = false`), so vectors that need it are
    /// skipped.
    pub no_access_control: bool,
    /// Behaviour (1.0): refuse bootstrap commands that no Bootstrap-Request preceded
    /// (Server Initiated Bootstrap is optional: LwM2M-BOOT-005-C-O). Declared in the client
    /// profile (`features.server_initiated_bootstrap = false`).
    pub no_server_push: bool,
}

impl Variations {
    /// Every variation at once.
    pub fn all() -> Variations {
        Variations {
            extra_objects: true,
            root_link_and_ver: true,
            reverse_order: true,
            bootstrap_uri: true,
            other_version_style: true,
            read_defaults: true,
            alternate_path: true,
            format: Some(crate::wire::SENML_CBOR),
            no_retry: true,
            register_attempts: 3,
            no_access_control: true,
            no_server_push: true,
        }
    }

    /// Whether the variations change behaviour the client profile must declare (vectors
    /// needing Access Control or a 1.0 push are then skipped).
    pub fn declared(&self) -> bool {
        self.no_access_control || self.no_server_push
    }

    /// The variations by name, for command lines (`extra-objects,reverse-order`; `all`).
    pub fn parse(list: &str) -> Result<Variations, String> {
        let mut v = Variations::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "all" => v = Variations::all(),
                "extra-objects" => v.extra_objects = true,
                "root-link-and-ver" => v.root_link_and_ver = true,
                "reverse-order" => v.reverse_order = true,
                "bootstrap-uri" => v.bootstrap_uri = true,
                "other-version-style" => v.other_version_style = true,
                "read-defaults" => v.read_defaults = true,
                "alternate-path" => v.alternate_path = true,
                "pct-senml-cbor" => v.format = Some(crate::wire::SENML_CBOR),
                "no-retry" => v.no_retry = true,
                "register-attempts" => v.register_attempts = 3,
                "no-access-control" => v.no_access_control = true,
                "no-server-push" => v.no_server_push = true,
                other => {
                    return Err(format!(
                        "unknown variation {other:?} (known: {})",
                        Variations::NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(v)
    }

    /// The names [`Variations::parse`] knows, each alone.
    pub const NAMES: [&'static str; 12] = [
        "extra-objects",
        "root-link-and-ver",
        "reverse-order",
        "bootstrap-uri",
        "other-version-style",
        "read-defaults",
        "alternate-path",
        "pct-senml-cbor",
        "no-retry",
        "register-attempts",
        "no-access-control",
        "no-server-push",
    ];
}

/// The extra instances [`Variations::extra_objects`] lists: Connectivity Monitoring,
/// Firmware Update, Location as an object without instance, an IPSO temperature sensor and
/// a vendor object.
const EXTRA: [Path; 5] = [
    Path::Instance(4, 0),
    Path::Instance(5, 0),
    Path::Object(6),
    Path::Instance(3303, 0),
    Path::Instance(10241, 0),
];

/// The Accept an adapter puts on a request whose vector says `accept`, for a client with
/// the variations `v`: a Bootstrap-Read asks for the read format the client prefers (as the
/// UDP adapter asks for the first of the client profile's formats); any other Accept stays.
pub fn asked_accept(accept: Option<u16>, v: &Variations) -> Option<u16> {
    match (accept, v.format) {
        (Some(a), Some(f)) if wire::READ_FORMATS.contains(&a) => Some(f),
        _ => accept,
    }
}

/// The reference client's response to a request with `accept` rendered as sent, with
/// `v`'s variations: read content in the Accept's format (RFC 7252 §5.10.4), else in the
/// client's preferred one.
pub fn render_response(
    r: &Response,
    profile: Profile,
    uris: &UriMap,
    v: &Variations,
    accept: Option<u16>,
) -> ObservedResponse {
    if v.no_access_control && matches!(r.content, Some(Content::AccessControl(_))) {
        return ObservedResponse {
            code: "4.04".into(),
            payload: None,
            accept,
        };
    }
    let payload = match &r.content {
        None => None,
        Some(c @ Content::Links { .. }) => Some(Encoded::new(
            LINK_FORMAT,
            discover_text(c, profile, uris, v).as_bytes(),
        )),
        Some(c) => {
            let encodings = wire::read_content(c, profile, uris, v.read_defaults);
            let prefer = accept
                .filter(|a| wire::READ_FORMATS.contains(a))
                .or(v.format)
                .unwrap_or(wire::LWM2M_TLV);
            encodings
                .iter()
                .find(|e| e.content_format == prefer)
                .or(encodings.first())
                .filter(|e| !e.hex.is_empty())
                .cloned()
        }
    };
    ObservedResponse {
        code: r.code.dotted().to_string(),
        payload,
        accept,
    }
}

fn discover_text(c: &Content, profile: Profile, uris: &UriMap, v: &Variations) -> String {
    let Content::Links { version, links } = c else {
        return String::new();
    };
    let number = match version {
        VersionForm::Quoted10 => "1.0",
        VersionForm::Root11 => "1.1",
        VersionForm::Root12 => "1.2",
    };
    let style = match (version, v.other_version_style) {
        (VersionForm::Quoted10, false) | (VersionForm::Root11, true) => VersionStyle::Bare,
        _ => VersionStyle::RootLink,
    };
    let head = match (style, profile, v.other_version_style) {
        (VersionStyle::Bare, _, _) => format!("lwm2m=\"{number}\""),
        (VersionStyle::RootLink, Profile::V1_2, true) => format!("</>;lwm2m=\"{number}\""),
        (VersionStyle::RootLink, _, _) => format!("</>;lwm2m={number}"),
    };
    let mut parts: Vec<String> = links
        .iter()
        .filter(|l| !(v.no_access_control && l.path.object() == Some(2)))
        .map(|l| link_text(l, uris, v))
        .collect();
    if v.extra_objects {
        parts.extend(EXTRA.iter().map(|p| extra_text(*p, v)));
    }
    if v.reverse_order {
        parts.reverse();
    }
    std::iter::once(head)
        .chain(parts)
        .collect::<Vec<_>>()
        .join(",")
}

fn link_text(l: &Link, uris: &UriMap, v: &Variations) -> String {
    let mut s = format!("<{}>", l.path);
    if let Some(id) = l.ssid {
        s.push_str(&format!(";ssid={id}"));
    }
    if let Some(u) = l.uri {
        s.push_str(&format!(";uri=\"{}\"", uris.uri(u)));
    } else if v.bootstrap_uri && matches!(l.path, Path::Instance(0, _)) && l.ssid.is_none() {
        s.push_str(&format!(";uri=\"{}\"", uris.uri(ServerUri::Bootstrap)));
    }
    if v.root_link_and_ver && l.path.object() == Some(1) {
        s.push_str(";ver=1.1");
    }
    s
}

fn extra_text(p: Path, v: &Variations) -> String {
    if v.root_link_and_ver && p.object() == Some(3303) {
        format!("<{p}>;ver=1.1")
    } else {
        format!("<{p}>")
    }
}

/// A message of the reference client's rendered as sent, with `v`'s variations.
pub fn render_message(o: &Outgoing, uris: &UriMap, v: &Variations) -> CoapMessage {
    let mut m = wire::outgoing(o, uris);
    match o {
        Outgoing::BootstrapRequest { pct: Some(_), .. } => {
            if let Some(f) = v.format {
                m.query = m
                    .query
                    .into_iter()
                    .map(|q| {
                        if q.starts_with("pct=") {
                            format!("pct={f}")
                        } else {
                            q
                        }
                    })
                    .collect();
            }
        }
        Outgoing::Register { objects, .. } => {
            let prefix = if v.alternate_path { "/lwm2m" } else { "" };
            let mut links: Vec<String> = objects
                .iter()
                .filter(|p| !(v.no_access_control && p.object() == Some(2)))
                .map(|p| {
                    let ver = if v.root_link_and_ver && p.object() == Some(1) {
                        ";ver=1.1"
                    } else {
                        ""
                    };
                    format!("<{prefix}{p}>{ver}")
                })
                .collect();
            if v.extra_objects {
                links.extend(
                    EXTRA
                        .iter()
                        .map(|p| format!("<{prefix}{}", &extra_text(*p, v)[1..])),
                );
            }
            if v.reverse_order {
                links.reverse();
            }
            if v.alternate_path {
                links.insert(0, "</lwm2m>;rt=\"oma.lwm2m\";ct=11542".to_string());
            } else if v.root_link_and_ver {
                links.insert(0, "</>;rt=\"oma.lwm2m\";ct=11542".to_string());
            }
            m.payload = Some(Encoded::new(LINK_FORMAT, links.join(",").as_bytes()));
        }
        _ => {}
    }
    m
}
