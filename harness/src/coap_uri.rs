//! `coap://` and `coaps://` URIs and socket addresses (RFC 7252 §6.1, §6.2): the address a
//! URI names, the URI of an address; the default ports and the largest datagram the drivers
//! read.

use std::net::{IpAddr, SocketAddr};

/// The default CoAP port (RFC 7252 §6.1).
pub const COAP_PORT: u16 = 5683;

/// The default CoAP-over-DTLS port (RFC 7252 §6.2).
pub const COAPS_PORT: u16 = 5684;

/// The largest datagram read; CoAP over UDP stays below the IP MTU, this leaves room for a
/// client that does not.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// Whether `uri` is a `coaps://` URI: CoAP over DTLS, secured with the account's keys
/// (BS-SEC-05).
pub fn is_secure(uri: &str) -> bool {
    uri.starts_with("coaps://")
}

/// The socket address of a `coap://host:port` or `coaps://host:port` URI with a literal IP
/// host (the only kind the suite uses).
pub fn socket_addr(uri: &str) -> Result<SocketAddr, String> {
    let (rest, default_port) = match uri.strip_prefix("coaps://") {
        Some(rest) => (rest, COAPS_PORT),
        None => (
            uri.strip_prefix("coap://")
                .ok_or_else(|| format!("{uri:?}: not a coap:// or coaps:// URI"))?,
            COAP_PORT,
        ),
    };
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
        None => default_port,
    };
    Ok(SocketAddr::new(ip, port))
}

/// The `coap://` URI of a socket address, `coaps://` when `secure`.
pub fn uri_of(addr: SocketAddr, secure: bool) -> String {
    let scheme = if secure { "coaps" } else { "coap" };
    match addr {
        SocketAddr::V4(a) => format!("{scheme}://{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("{scheme}://[{}]:{}", a.ip(), a.port()),
    }
}

/// The URI of `host` (a name or an IP literal) and `port`, `coaps://` when `secure`; an
/// IPv6 literal gets its brackets.
pub fn uri_of_host(host: &str, port: u16, secure: bool) -> String {
    let scheme = if secure { "coaps" } else { "coap" };
    if host.contains(':') && !host.starts_with('[') {
        format!("{scheme}://[{host}]:{port}")
    } else {
        format!("{scheme}://{host}:{port}")
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
        assert_eq!(socket_addr("coaps://127.0.0.1").unwrap().port(), 5684);
        assert!(socket_addr("http://127.0.0.1:1").is_err());
        assert!(socket_addr("coap://dm0:1").is_err());
        let a: SocketAddr = "[::1]:7".parse().unwrap();
        assert_eq!(socket_addr(&uri_of(a, false)).unwrap(), a);
        assert_eq!(socket_addr(&uri_of(a, true)).unwrap(), a);
        assert!(is_secure(&uri_of(a, true)) && !is_secure(&uri_of(a, false)));
        assert_eq!(uri_of_host("::1", 7, false), uri_of(a, false));
        assert_eq!(
            uri_of_host("bench.lab", 5783, true),
            "coaps://bench.lab:5783"
        );
    }
}
