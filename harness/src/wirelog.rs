//! The wire log: every datagram between the harness's servers and the client, as the
//! evidence of a failing vector (report: time, direction, CoAP type, code, Message ID, token,
//! options, payload decoded and in hex) and as a pcap file (`--pcap FILE`) that opens in
//! Wireshark. pcap is written here rather than with a crate: the format is a 24-byte file
//! header and a 16-byte header per packet (the libpcap file format), and the packets are
//! given synthetic IPv4/IPv6 and UDP headers (LINKTYPE_RAW) with the real addresses and
//! ports, so Wireshark dissects them as CoAP on any port with "Decode As".

use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// One datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireRecord {
    /// When it was sent or received.
    pub at: SystemTime,
    /// Time since the vector started.
    pub since_start: Duration,
    /// Whether the harness sent it to the client.
    pub to_client: bool,
    /// The harness's server it went from or to: `BS`, `BS-alt`, `DM0`, ...
    pub server: String,
    /// That server's address.
    pub server_addr: SocketAddr,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// The datagram.
    pub bytes: Vec<u8>,
    /// What the harness made of it (`retransmission`, `duplicate, answered again`, ...).
    pub note: String,
}

/// A datagram in a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WireEntry {
    /// Seconds since the vector started.
    pub t: f64,
    /// `BS -> Client` or `Client -> DM0`.
    pub direction: String,
    /// The datagram decoded.
    #[serde(flatten)]
    pub message: Described,
    /// The whole datagram, hex.
    pub hex: String,
    /// What the harness made of it.
    pub note: String,
}

impl WireRecord {
    /// The report's view of the datagram.
    pub fn entry(&self) -> WireEntry {
        WireEntry {
            t: self.since_start.as_secs_f64(),
            direction: if self.to_client {
                format!("{} -> Client", self.server)
            } else {
                format!("Client -> {}", self.server)
            },
            message: describe(&self.bytes),
            hex: hex(&self.bytes),
            note: self.note.clone(),
        }
    }
}

/// One line per datagram, for the text and Markdown reports.
pub fn render(entries: &[WireEntry]) -> String {
    let mut s = String::new();
    for e in entries {
        let m = &e.message;
        let mid = m.mid.map(|x| x.to_string()).unwrap_or_default();
        s.push_str(&format!(
            "{:>8.3}s  {:<15} {} {} MID={} token={}",
            e.t, e.direction, m.kind, m.code, mid, m.token
        ));
        for o in &m.options {
            s.push_str(&format!(" [{o}]"));
        }
        if let Some(t) = &m.payload_text {
            s.push_str(&format!(" payload={t:?}"));
        }
        if let Some(why) = &m.malformed {
            s.push_str(&format!(" MALFORMED: {why}"));
        }
        s.push_str(&format!(" hex={}", e.hex));
        if !e.note.is_empty() {
            s.push_str(&format!("  ({})", e.note));
        }
        s.push('\n');
    }
    s
}

/// LINKTYPE_RAW: each packet starts with an IPv4 or IPv6 header.
const LINKTYPE_RAW: u32 = 101;

/// The records as a pcap file.
pub fn pcap(records: &[WireRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    for r in records {
        let (src, dst) = if r.to_client {
            (r.server_addr, r.client_addr)
        } else {
            (r.client_addr, r.server_addr)
        };
        let packet = ip_udp(src, dst, &r.bytes);
        let t = r.at.duration_since(UNIX_EPOCH).unwrap_or_default();
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&(t.as_secs() as u32).to_le_bytes());
        out.extend_from_slice(&t.subsec_micros().to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&packet);
    }
    out
}

/// An IP packet carrying `payload` in UDP from `src` to `dst` (checksum 0: unchecked in
/// IPv4; Wireshark does not validate it by default in IPv6 either).
fn ip_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let udp_len = (8 + payload.len()).min(usize::from(u16::MAX)) as u16;
    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&payload[..usize::from(udp_len) - 8]);
    let mut ip = Vec::new();
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20u16.saturating_add(udp_len);
            ip.extend_from_slice(&[0x45, 0]);
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
            let sum = checksum(&ip);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            ip.extend_from_slice(&udp_len.to_be_bytes());
            ip.extend_from_slice(&[17, 64]);
            ip.extend_from_slice(&v6(s));
            ip.extend_from_slice(&v6(d));
        }
    }
    ip.extend_from_slice(&udp);
    ip
}

/// The Internet checksum (RFC 1071) of an IPv4 header.
fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::empty;

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

    #[test]
    fn pcap_layout() {
        let r = WireRecord {
            at: UNIX_EPOCH + Duration::from_micros(1_500_000),
            since_start: Duration::ZERO,
            to_client: false,
            server: "BS".into(),
            server_addr: "127.0.0.1:5783".parse().unwrap(),
            client_addr: "127.0.0.1:40000".parse().unwrap(),
            bytes: vec![0x40, 0x02, 0x00, 0x01],
            note: String::new(),
        };
        let p = pcap(&[r]);
        assert_eq!(p.len(), 24 + 16 + 20 + 8 + 4);
        assert_eq!(&p[24..28], &1u32.to_le_bytes());
        assert_eq!(&p[28..32], &500_000u32.to_le_bytes());
        // IPv4 header checksum verifies to zero.
        assert_eq!(checksum(&p[40..60]), 0);
        // UDP ports: client 40000 to server 5783.
        assert_eq!(&p[60..64], &[0x9c, 0x40, 0x16, 0x97]);
    }
}
