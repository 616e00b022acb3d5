//! The CoAP message layer (RFC 7252 §4) shared by both ends of the wire: addresses from
//! `coap://` URIs, Message IDs and tokens, empty ACKs, and the one-line description of a
//! datagram that wire logs print. Messages are encoded and parsed by coap-lite; what is
//! here is what coap-lite leaves to its user.

use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

/// The default CoAP port (RFC 7252 §6.1).
pub const COAP_PORT: u16 = 5683;

/// The largest datagram read; CoAP over UDP stays below the IP MTU, this leaves room for a
/// client that does not.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// The socket address of a `coap://host:port` URI with a literal loopback IP host (the
/// only kind the suite uses: it binds 127.0.0.1 or ::1 only).
pub fn socket_addr(uri: &str) -> Result<SocketAddr, String> {
    let rest = uri
        .strip_prefix("coap://")
        .ok_or_else(|| format!("{uri:?}: not a coap:// URI"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6
            .split_once(']')
            .ok_or_else(|| format!("{uri:?}: unterminated IPv6 literal"))?;
        (h, p.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("{uri:?}: the host must be an IP literal"))?;
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("{uri:?}: bad port {p:?}"))?,
        None => COAP_PORT,
    };
    Ok(SocketAddr::new(ip, port))
}

/// The `coap://` URI of a socket address.
pub fn uri_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("coap://{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("coap://[{}]:{}", a.ip(), a.port()),
    }
}

/// Message IDs and tokens for one endpoint. Message IDs count up from a start that differs
/// between processes (RFC 7252 §4.4 asks for an unpredictable start); tokens are 4 bytes,
/// fresh for every request.
#[derive(Clone, Debug)]
pub struct Ids {
    mid: u16,
    token: u32,
}

impl Default for Ids {
    fn default() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ std::process::id().rotate_left(16);
        Ids {
            mid: nanos as u16,
            token: nanos.rotate_left(7),
        }
    }
}

impl Ids {
    /// The next Message ID.
    pub fn mid(&mut self) -> u16 {
        self.mid = self.mid.wrapping_add(1);
        self.mid
    }

    /// The next token.
    pub fn token(&mut self) -> Vec<u8> {
        self.token = self.token.wrapping_add(0x9e37_79b9);
        self.token.to_be_bytes().to_vec()
    }
}

/// An empty ACK (RFC 7252 §4.2), or an empty RST, for Message ID `mid`.
pub fn empty(kind: MessageType, mid: u16) -> Vec<u8> {
    let mut p = Packet::new();
    p.header.set_type(kind);
    p.header.message_id = mid;
    p.header.code = MessageClass::Empty;
    p.to_bytes().unwrap_or_default()
}

/// The message type's RFC 7252 abbreviation.
pub fn type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::Confirmable => "CON",
        MessageType::NonConfirmable => "NON",
        MessageType::Acknowledgement => "ACK",
        MessageType::Reset => "RST",
    }
}

/// A datagram as a wire log shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Described {
    /// `CON`, `NON`, `ACK`, `RST`, or `?` when the datagram is not CoAP.
    pub kind: String,
    /// Method or response code: `POST`, `2.04 Changed`, `0.00` for an empty message.
    pub code: String,
    /// Message ID.
    pub mid: Option<u16>,
    /// Token, hex.
    pub token: String,
    /// Options: `Uri-Path: bs`, `Uri-Query: ep=urn:dev:ref-1`, `Content-Format: 11542`.
    pub options: Vec<String>,
    /// The payload as text when it is UTF-8 text, else `None`.
    pub payload_text: Option<String>,
    /// Why it is not CoAP, when it is not.
    pub malformed: Option<String>,
}

/// Bytes as lowercase hex, as wire logs and errors quote them.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn option_name(o: CoapOption) -> String {
    match o {
        CoapOption::UriPath => "Uri-Path".into(),
        CoapOption::UriQuery => "Uri-Query".into(),
        CoapOption::ContentFormat => "Content-Format".into(),
        CoapOption::Accept => "Accept".into(),
        CoapOption::LocationPath => "Location-Path".into(),
        CoapOption::Block1 => "Block1".into(),
        CoapOption::Block2 => "Block2".into(),
        other => format!("{other:?}"),
    }
}

/// Describes a datagram for a wire log; never fails (a datagram that is not CoAP says so).
pub fn describe(bytes: &[u8]) -> Described {
    let p = match Packet::from_bytes(bytes) {
        Ok(p) => p,
        Err(e) => {
            return Described {
                kind: "?".into(),
                code: String::new(),
                mid: None,
                token: String::new(),
                options: Vec::new(),
                payload_text: None,
                malformed: Some(format!("not a CoAP message: {e:?}")),
            }
        }
    };
    let code = match p.header.code {
        MessageClass::Empty => "0.00".to_string(),
        MessageClass::Request(r) => format!("{r:?}").to_uppercase(),
        MessageClass::Response(r) => format!("{} {r:?}", p.header.code),
        MessageClass::Reserved(c) => format!("{}.{:02} (reserved)", c >> 5, c & 0x1f),
    };
    let textual = |o: CoapOption| {
        matches!(
            o,
            CoapOption::UriPath | CoapOption::UriQuery | CoapOption::LocationPath
        )
    };
    let mut options = Vec::new();
    for (number, values) in p.options() {
        let o = CoapOption::from(*number);
        for v in values {
            let block = matches!(o, CoapOption::Block1 | CoapOption::Block2);
            let shown = if textual(o) {
                String::from_utf8_lossy(v).into_owned()
            } else if block && v.len() <= 3 {
                // RFC 7959 §2.2: NUM/M/size, as the RFC's figures write it.
                let x = v.iter().fold(0u32, |acc, x| acc << 8 | u32::from(*x));
                format!("{}/{}/{}", x >> 4, (x >> 3) & 1, 16u32 << (x & 7).min(6))
            } else if v.len() <= 4 {
                v.iter()
                    .fold(0u32, |acc, x| acc << 8 | u32::from(*x))
                    .to_string()
            } else {
                hex(v)
            };
            options.push(format!("{}: {shown}", option_name(o)));
        }
    }
    let payload_text = std::str::from_utf8(&p.payload)
        .ok()
        .filter(|t| !t.is_empty() && t.chars().all(|c| !c.is_control() || c == '\n'))
        .map(str::to_string);
    Described {
        kind: type_name(p.header.get_type()).into(),
        code,
        mid: Some(p.header.message_id),
        token: hex(p.get_token()),
        options,
        payload_text,
        malformed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            socket_addr("coap://127.0.0.1:5783").unwrap(),
            "127.0.0.1:5783".parse().unwrap()
        );
        assert_eq!(
            socket_addr("coap://[::1]:9").unwrap(),
            "[::1]:9".parse().unwrap()
        );
        assert_eq!(socket_addr("coap://127.0.0.1").unwrap().port(), 5683);
        assert!(socket_addr("coaps://127.0.0.1:1").is_err());
        assert!(socket_addr("coap://dm0:1").is_err());
        let a: SocketAddr = "[::1]:7".parse().unwrap();
        assert_eq!(socket_addr(&uri_of(a)).unwrap(), a);
    }

    #[test]
    fn describes_garbage_without_failing() {
        assert!(describe(&[0xff, 0, 1]).malformed.is_some());
        let d = describe(&empty(MessageType::Acknowledgement, 7));
        assert_eq!((d.kind.as_str(), d.mid), ("ACK", Some(7)));
        let mut p = Packet::new();
        p.add_option(CoapOption::Block2, vec![0x1a]);
        let d = describe(&p.to_bytes().unwrap());
        assert_eq!(d.options, ["Block2: 1/1/64"]);
    }
}
