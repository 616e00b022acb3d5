//! `coap://` URIs and socket addresses (RFC 7252 §6): the address a URI names, the URI of
//! an address; the default port and the largest datagram the drivers read.

use std::net::{IpAddr, SocketAddr};

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
}
