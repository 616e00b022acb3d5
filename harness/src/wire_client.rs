//! The UDP driver of the bundled reference client ([`crate::reference_node`]): one socket
//! on loopback and the system clock, nothing else. It feeds the node each datagram and the
//! time its next timer is due, and sends what the node asks.

use crate::coap_uri;
use crate::reference_node::{NodeConfig, ReferenceNode};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The reference client and its socket.
pub struct WireClient {
    node: ReferenceNode,
    socket: UdpSocket,
    verbose: bool,
}

impl WireClient {
    /// Binds the client's socket (`port`, or an ephemeral one, on the loopback address of
    /// the bootstrap server's family) and powers the client on.
    pub fn start(cfg: NodeConfig) -> Result<WireClient, String> {
        let verbose = cfg.verbose;
        let port = cfg.port;
        let node = ReferenceNode::boot(cfg, Instant::now())?;
        let local = if node.bootstrap_server().is_ipv6() {
            format!("[::1]:{port}")
        } else {
            format!("127.0.0.1:{port}")
        };
        // The harness checked the port free a moment ago; should something hold it for a
        // moment still, the bind is tried again for half a second before giving up.
        let mut attempt = 0;
        let socket = loop {
            match UdpSocket::bind(&local) {
                Ok(s) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempt < 50 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(format!("cannot bind {local}: {e}")),
            }
        };
        let mut c = WireClient {
            node,
            socket,
            verbose,
        };
        c.flush()?;
        Ok(c)
    }

    /// The address the client listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, String> {
        self.socket.local_addr().map_err(|e| e.to_string())
    }

    /// Sends what the node asks and prints its log with `--verbose`.
    fn flush(&mut self) -> Result<(), String> {
        while let Some(line) = self.node.poll_log() {
            if self.verbose {
                eprintln!("lwm2m-reference-client: {line}");
            }
        }
        while let Some(t) = self.node.poll_transmit() {
            if self.verbose && !t.note.is_empty() {
                eprintln!("lwm2m-reference-client: {} to {}", t.note, t.to);
            }
            self.socket
                .send_to(&t.bytes, t.to)
                .map_err(|e| format!("cannot send to {}: {e}", t.to))?;
        }
        Ok(())
    }

    /// Runs until `deadline` (forever when `None`), handling datagrams and timers.
    pub fn run(&mut self, deadline: Option<Instant>) -> Result<(), String> {
        let mut buf = vec![0u8; coap_uri::MAX_DATAGRAM];
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            if self.node.poll_timeout().is_some_and(|t| t <= now) {
                self.node.handle_timeout(now)?;
                self.flush()?;
            }
            let wake = [self.node.poll_timeout(), deadline]
                .into_iter()
                .flatten()
                .min();
            let wait = wake
                .map(|w| w.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(1))
                .clamp(Duration::from_millis(1), Duration::from_secs(1));
            self.socket
                .set_read_timeout(Some(wait))
                .map_err(|e| e.to_string())?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    self.node.handle_datagram(Instant::now(), from, &buf[..n])?;
                    self.flush()?;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                // An ICMP port unreachable from a server that went away: nothing to do.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(format!("cannot receive: {e}")),
            }
        }
    }
}
