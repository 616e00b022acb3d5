//! The UDP driver of the vector player ([`crate::player`]): the harness's bootstrap and
//! management servers as real CoAP endpoints on loopback, against a client program it
//! launches for each vector ([`crate::launch`]) or one the user starts (`--attach`).
//!
//! Each server is a UDP socket on 127.0.0.1 (or ::1) with an ephemeral port (`--attach`: the
//! vectors' canonical ports), read by a thread of its own that stamps each datagram with its
//! arrival time (the kernel's, on Linux); the system clock is the player's. This is all the
//! I/O of the wire on the harness's side: sockets, threads, the launched client and the
//! port it is given, the clock.

use crate::account_keys::bootstrap_psk;
use crate::adapter::{Adapter, AdapterError, AdapterFactory};
use crate::coap_uri;
use crate::dtls_driver::DtlsDriver;
use crate::launch::{Launched, Launcher};
use crate::player::{Datagram, Driver, Player, PlayerOptions};
use crate::timing::CoapTiming;
use conformance::vector::Vector;
use conformance::wire::UriMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Settings of the wire, shared by every vector.
#[derive(Clone, Debug)]
pub struct UdpOptions {
    /// The RFC 7252 timing the client is asked to use (and the harness uses).
    pub coap: CoapTiming,
    /// Quiet time after a step's expectation is met, to catch extra messages.
    pub settle: Duration,
    /// Content formats the client accepts, the preferred first (from its profile).
    pub content_formats: Vec<u16>,
    /// The address the servers listen on: 127.0.0.1 or ::1 by default, any interface
    /// address, `0.0.0.0` or `::` where the user asks (`--listen`).
    pub host: IpAddr,
    /// The host written into the URIs the bootstrap server provisions and given as
    /// `{bs_uri}` (`--advertise`), when the device must reach the servers by another
    /// address than the one they listen on; `None`: the listening address.
    pub advertise: Option<String>,
    /// Listen on fixed ports and wait for a client the user starts (or a device the reset
    /// command restarts).
    pub attach: bool,
    /// With `attach`: the bootstrap server's port (its alternate on the next) and the first
    /// management server's (DM k on `dm_port + k`); the vectors' canonical 5783 and 5693 by
    /// default.
    pub ports: (u16, u16),
    /// With `attach`: a command that factory-resets the device before each vector
    /// (`--reset-cmd`, placeholders as a client command line), and the time it then takes
    /// to boot (`--reset-wait`).
    pub reset: Option<(Launcher, Duration)>,
    /// Speak CoAP over DTLS 1.2 with the accounts' pre-shared keys (`coaps://`,
    /// [`crate::dtls_driver`]) instead of plain CoAP.
    pub dtls: bool,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            coap: CoapTiming::default(),
            settle: Duration::from_millis(20),
            content_formats: vec![11542, 110, 0, 42],
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertise: None,
            attach: false,
            ports: (5783, 5693),
            reset: None,
            dtls: false,
        }
    }
}

impl UdpOptions {
    /// The player's share of the settings.
    pub fn player(&self) -> PlayerOptions {
        PlayerOptions {
            coap: self.coap,
            settle: self.settle,
            content_formats: self.content_formats.clone(),
            advertise: self.advertise.clone(),
            only_endpoint: !self.host.is_loopback(),
        }
    }
}

/// Makes a UDP player per vector.
pub struct UdpFactory {
    launcher: Option<Launcher>,
    options: UdpOptions,
}

impl UdpFactory {
    /// Launches `launcher` for each vector (`None`: `--attach`, the user starts the client).
    pub fn new(launcher: Option<Launcher>, options: UdpOptions) -> UdpFactory {
        UdpFactory { launcher, options }
    }
}

impl AdapterFactory for UdpFactory {
    fn create(&self) -> Result<Box<dyn Adapter>, AdapterError> {
        let driver = UdpDriver {
            launcher: self.launcher.clone(),
            opts: self.options.clone(),
            sockets: Vec::new(),
            rx: None,
            stop: Arc::new(AtomicBool::new(false)),
            client: None,
            port_lock: None,
            reset_output: String::new(),
            readers: Vec::new(),
        };
        let player = self.options.player();
        Ok(if self.options.dtls {
            Box::new(Player::new(DtlsDriver::new(driver), player))
        } else {
            Box::new(Player::new(driver, player))
        })
    }

    fn describe(&self) -> String {
        let wire = if self.options.dtls {
            "CoAP over DTLS 1.2 with pre-shared keys"
        } else {
            "CoAP over UDP"
        };
        match &self.launcher {
            Some(l) => format!("{} ({wire})", l.describe()),
            None => format!("a client started by the user ({wire}, --attach)"),
        }
    }
}

/// The sockets, reader threads and client of one vector.
pub struct UdpDriver {
    launcher: Option<Launcher>,
    opts: UdpOptions,
    /// BS, BS-alt, then DM0, DM1, ...
    sockets: Vec<UdpSocket>,
    rx: Option<Receiver<Datagram>>,
    stop: Arc<AtomicBool>,
    client: Option<Launched>,
    /// The lock on the client's port (`{client_port}`), held until the vector ends.
    port_lock: Option<std::fs::File>,
    /// What the reset command printed, for the report.
    reset_output: String,
    /// The reader threads, joined at the end so that the ports are free for the next
    /// vector (`--attach` binds the same ones).
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl UdpDriver {
    fn placeholders(
        &self,
        v: &Vector,
        uris: &UriMap,
        client_port: u16,
    ) -> Vec<(&'static str, String)> {
        let bs_psk = bootstrap_psk(&v.factory_objects);
        vec![
            ("client_port", client_port.to_string()),
            ("bs_uri", uris.bootstrap.clone()),
            ("bs_alt_uri", uris.bootstrap_alternate.clone()),
            ("server_uris", uris.servers.join(",")),
            ("endpoint", v.endpoint.clone()),
            ("profile", v.profile.clone()),
            ("factory", v.factory.name().to_string()),
            (
                "bootstrap_pack",
                v.features
                    .bootstrap_pack
                    .map_or("any".to_string(), |p| p.to_string()),
            ),
            (
                "access_control",
                (!v.features.no_access_control).to_string(),
            ),
            ("coap_time_scale", self.opts.coap.scale.to_string()),
            (
                "bs_psk_identity",
                bs_psk
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(&p.identity).into_owned())
                    .unwrap_or_default(),
            ),
            (
                "bs_psk_key_hex",
                bs_psk
                    .map(|p| crate::wirelog::hex(&p.key))
                    .unwrap_or_default(),
            ),
        ]
    }
}

impl Driver for UdpDriver {
    fn bind(&mut self, v: &Vector) -> Result<Vec<(String, SocketAddr)>, AdapterError> {
        let mut specs = vec!["BS".to_string(), "BS-alt".to_string()];
        specs.extend((0..v.uris.servers.len()).map(|k| format!("DM{k}")));
        let (tx, rx) = mpsc::channel();
        let mut bound = Vec::new();
        for (i, name) in specs.into_iter().enumerate() {
            let port = if self.opts.attach {
                let (bs, dm) = self.opts.ports;
                let at = |base: u16, k: usize| {
                    u16::try_from(k)
                        .ok()
                        .and_then(|k| base.checked_add(k))
                        .ok_or_else(|| AdapterError::Spawn(format!("no port {base}+{k}")))
                };
                if i < 2 {
                    at(bs, i)?
                } else {
                    at(dm, i - 2)?
                }
            } else {
                0
            };
            let want = SocketAddr::new(self.opts.host, port);
            let socket = UdpSocket::bind(want).map_err(|e| {
                AdapterError::Spawn(format!("cannot listen on {want} ({name}): {e}"))
            })?;
            let addr = socket
                .local_addr()
                .map_err(|e| AdapterError::Spawn(e.to_string()))?;
            let reader = socket
                .try_clone()
                .map_err(|e| AdapterError::Spawn(e.to_string()))?;
            reader
                .set_read_timeout(Some(Duration::from_millis(50)))
                .map_err(|e| AdapterError::Spawn(e.to_string()))?;
            let (tx, stop) = (tx.clone(), self.stop.clone());
            let reader = std::thread::Builder::new()
                .name(format!("udp-{name}"))
                .spawn(move || read_datagrams(reader, i, tx, stop))
                .map_err(|e| AdapterError::Spawn(format!("cannot start a thread: {e}")))?;
            self.readers.push(reader);
            self.sockets.push(socket);
            bound.push((name, addr));
        }
        self.rx = Some(rx);
        Ok(bound)
    }

    fn launch(&mut self, v: &Vector, uris: &UriMap) -> Result<Option<SocketAddr>, AdapterError> {
        if let (None, Some((reset, wait))) = (&self.launcher, self.opts.reset.clone()) {
            return self.reset_device(v, uris, &reset, wait).map(|()| None);
        }
        let Some(l) = &self.launcher else {
            let psk = match bootstrap_psk(&v.factory_objects) {
                Some(p) if uris.is_secure() => format!(
                    ", PSK identity {}, key {}",
                    String::from_utf8_lossy(&p.identity),
                    crate::wirelog::hex(&p.key)
                ),
                _ => String::new(),
            };
            eprintln!(
                "{}: start the client now (bootstrap server {}{psk}, endpoint {}, factory {})",
                v.name,
                uris.bootstrap,
                v.endpoint,
                v.factory.name()
            );
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprint!("factory-reset the device, then press Enter ");
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            }
            return Ok(None);
        };
        let mut port = 0;
        let mut addr = None;
        if l.uses("client_port") {
            let (probe, lock) = free_port(self.opts.host)?;
            port = probe.port();
            addr = Some(probe);
            self.port_lock = Some(lock);
        }
        let argv = l.argv(&self.placeholders(v, uris, port));
        self.client = Some(Launched::spawn(&argv)?);
        Ok(addr)
    }

    fn knows_start(&self) -> bool {
        self.launcher.is_some()
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn send(&mut self, server: usize, to: SocketAddr, bytes: &[u8]) -> Result<(), AdapterError> {
        self.sockets[server]
            .send_to(bytes, to)
            .map(drop)
            .map_err(|e| AdapterError::Protocol {
                line: String::new(),
                why: format!("cannot send to the client at {to}: {e}"),
            })
    }

    fn next_datagram(&mut self, until: Instant) -> Result<Option<Datagram>, AdapterError> {
        loop {
            if let Some(e) = self.client.as_mut().and_then(Launched::exited) {
                return Err(e);
            }
            let now = Instant::now();
            if now >= until {
                return Ok(None);
            }
            // Look at the client process at least every 20 ms.
            let wait = (until - now).min(Duration::from_millis(20));
            let Some(rx) = &self.rx else {
                return Ok(None);
            };
            match rx.recv_timeout(wait) {
                Ok(d) => return Ok(Some(d)),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    fn wait_until(&mut self, until: Instant) -> Result<(), AdapterError> {
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        Ok(())
    }

    /// Waits until the launched client has bound `addr`'s port, read from the kernel's
    /// socket table (Linux `/proc/net/udp*`), never by binding the port, which could race
    /// the client's own bind; elsewhere the request goes at once.
    fn await_client(&mut self, addr: SocketAddr, timeout: Duration) -> Result<(), AdapterError> {
        if self.client.is_none() {
            return Ok(());
        }
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Some(e) = self.client.as_mut().and_then(Launched::exited) {
                return Err(e);
            }
            if udp_port_bound(addr.port()) != Some(false) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(c) = &mut self.client {
            c.kill();
        }
        // Each reader wakes within its 50 ms read timeout and ends.
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.sockets.clear();
    }

    fn client_output(&self) -> String {
        let client = self
            .client
            .as_ref()
            .map(Launched::output)
            .unwrap_or_default();
        if self.reset_output.is_empty() {
            client
        } else {
            format!("[--reset-cmd]\n{}\n{client}", self.reset_output.trim_end())
        }
    }
}

impl UdpDriver {
    /// Runs the reset command for vector `v` (a factory reset of the device on the bench)
    /// and waits `wait` for the device to boot. The command is bounded by
    /// [`RESET_TIMEOUT`]; what it prints goes into the report; a failure is an error of the
    /// vector that names the command.
    fn reset_device(
        &mut self,
        v: &Vector,
        uris: &UriMap,
        reset: &Launcher,
        wait: Duration,
    ) -> Result<(), AdapterError> {
        let argv = reset.argv(&self.placeholders(v, uris, 0));
        let mut done =
            Launched::spawn(&argv).map_err(|e| AdapterError::Spawn(format!("--reset-cmd: {e}")))?;
        let until = Instant::now() + RESET_TIMEOUT;
        let status = loop {
            if let Some(AdapterError::Crashed { status, .. }) = done.exited() {
                break status;
            }
            if Instant::now() >= until {
                done.kill();
                return Err(AdapterError::Spawn(format!(
                    "--reset-cmd did not finish within {} s: {}",
                    RESET_TIMEOUT.as_secs(),
                    done.output().trim_end()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.reset_output = done.output();
        if status != "exit status: 0" {
            return Err(AdapterError::Spawn(format!(
                "--reset-cmd failed ({status}): {}",
                self.reset_output.trim_end()
            )));
        }
        std::thread::sleep(wait);
        Ok(())
    }
}

/// The longest a reset command may take.
pub const RESET_TIMEOUT: Duration = Duration::from_secs(30);

/// A UDP port for the client to bind, held for the vector: it is free now, it lies below
/// the kernel's ephemeral range (Linux: 32768 and up) where no ephemeral bind (the
/// harness's own servers among them) can take it meanwhile, and a lock file under the
/// temporary directory, held until the vector ends, keeps other harness processes running
/// at the same time from handing it out too.
fn free_port(host: IpAddr) -> Result<(SocketAddr, std::fs::File), AdapterError> {
    use std::sync::atomic::AtomicU32;
    const LOW: u32 = 20000;
    const SPAN: u32 = 12000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    let dir = std::env::temp_dir().join("lwm2m-certify-ports");
    std::fs::create_dir_all(&dir)
        .map_err(|e| AdapterError::Spawn(format!("{}: {e}", dir.display())))?;
    for _ in 0..SPAN {
        let port = (LOW + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        let Ok(lock) = std::fs::File::create(dir.join(format!("{port}.lock"))) else {
            continue;
        };
        if !try_lock(&lock) {
            continue;
        }
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(host, port)) {
            let addr = s
                .local_addr()
                .map_err(|e| AdapterError::Spawn(e.to_string()))?;
            return Ok((addr, lock));
        }
    }
    Err(AdapterError::Spawn(format!(
        "no free UDP port for the client on {host} between {LOW} and {}",
        LOW + SPAN
    )))
}

/// Whether some UDP socket on this machine is bound to `port`, from Linux's
/// `/proc/net/udp` and `/proc/net/udp6` (local address column, `ADDR:PORT` in hex); `None`
/// where those tables cannot be read.
fn udp_port_bound(port: u16) -> Option<bool> {
    let want = format!(":{port:04X}");
    let mut readable = false;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        if text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1))
            .any(|local| local.ends_with(&want))
        {
            return Some(true);
        }
    }
    readable.then_some(false)
}

/// An exclusive lock on `f`, without waiting; released when `f` is closed.
#[cfg(unix)]
fn try_lock(f: &std::fs::File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock(2) on a descriptor this File owns; no memory is involved.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Without flock, the port is only checked free.
#[cfg(not(unix))]
fn try_lock(_: &std::fs::File) -> bool {
    true
}

fn read_datagrams(
    socket: UdpSocket,
    server: usize,
    tx: mpsc::Sender<Datagram>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; coap_uri::MAX_DATAGRAM];
    let stamped = kernel_stamps(&socket);
    while !stop.load(Ordering::Relaxed) {
        match recv_stamped(&socket, &mut buf, stamped) {
            Ok((n, from, arrived)) => {
                let (now, wall_now) = (Instant::now(), SystemTime::now());
                // How long ago the kernel received it: the reader thread may have been
                // descheduled meanwhile, and timers are judged by arrival, not by reading.
                let ago = arrived
                    .and_then(|w| wall_now.duration_since(w).ok())
                    .unwrap_or(Duration::ZERO);
                let d = Datagram {
                    server,
                    from,
                    bytes: buf[..n].to_vec(),
                    at: now.checked_sub(ago).unwrap_or(now),
                    wall: wall_now - ago,
                };
                if tx.send(d).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// Asks the kernel to stamp each datagram with the time it was received (Linux
/// `SO_TIMESTAMPNS`); whether it will.
///
/// Linux switches stamping on for the whole machine in deferred work when the first socket
/// asks, and off when the last one closes; until then a datagram is stamped when it is
/// read. So one socket that asks is kept open for the life of the process, and the
/// per-vector sockets, opened and closed for each vector, find stamping already on.
#[cfg(target_os = "linux")]
fn kernel_stamps(socket: &UdpSocket) -> bool {
    use nix::sys::socket::{setsockopt, sockopt::ReceiveTimestampns};
    static KEEP_ON: std::sync::OnceLock<Option<UdpSocket>> = std::sync::OnceLock::new();
    KEEP_ON.get_or_init(|| {
        let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
        setsockopt(&s, ReceiveTimestampns, &true).ok()?;
        Some(s)
    });
    setsockopt(socket, ReceiveTimestampns, &true).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn kernel_stamps(_: &UdpSocket) -> bool {
    false
}

/// One datagram into `buf`: its length, its sender and, where the kernel stamped it (see
/// [`kernel_stamps`]), the wall-clock time it was received.
#[cfg(target_os = "linux")]
fn recv_stamped(
    socket: &UdpSocket,
    buf: &mut [u8],
    stamped: bool,
) -> std::io::Result<(usize, SocketAddr, Option<SystemTime>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    use std::os::fd::AsRawFd;
    if !stamped {
        let (n, from) = socket.recv_from(buf)?;
        return Ok((n, from, None));
    }
    let mut space = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .map_err(std::io::Error::from)?;
    let from = msg
        .address
        .and_then(|a| {
            a.as_sockaddr_in()
                .map(|v4| SocketAddr::from(std::net::SocketAddrV4::from(*v4)))
                .or_else(|| {
                    a.as_sockaddr_in6()
                        .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
                })
        })
        .ok_or_else(|| std::io::Error::other("a datagram without a sender address"))?;
    let mut arrived = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                arrived = u64::try_from(ts.tv_sec()).ok().map(|s| {
                    SystemTime::UNIX_EPOCH
                        + Duration::new(s, ts.tv_nsec().clamp(0, 999_999_999) as u32)
                });
            }
        }
    }
    Ok((msg.bytes, from, arrived))
}

#[cfg(not(target_os = "linux"))]
fn recv_stamped(
    socket: &UdpSocket,
    buf: &mut [u8],
    _: bool,
) -> std::io::Result<(usize, SocketAddr, Option<SystemTime>)> {
    let (n, from) = socket.recv_from(buf)?;
    Ok((n, from, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket table sees a bound port, and no longer once it is closed (Linux; where
    /// the table cannot be read the answer is `None` and the harness does not wait).
    #[test]
    fn a_bound_port_shows_in_the_socket_table() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        let Some(bound) = udp_port_bound(port) else {
            return;
        };
        assert!(bound);
        drop(s);
        assert_eq!(udp_port_bound(port), Some(false));
    }

    /// A datagram read late is stamped with when it arrived, not when it was read: the
    /// judge's timers see the client's timing even when the harness lags (Linux).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_datagram_read_late_keeps_its_arrival_time() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(kernel_stamps(&rx));
        // The kernel switches stamping on in deferred work: give it a moment.
        std::thread::sleep(Duration::from_millis(50));
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"late", rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = [0u8; 16];
        let (n, from, arrived) = recv_stamped(&rx, &mut buf, true).unwrap();
        assert_eq!((&buf[..n], from), (&b"late"[..], tx.local_addr().unwrap()));
        let ago = SystemTime::now().duration_since(arrived.unwrap()).unwrap();
        assert!(ago >= Duration::from_millis(150), "stamped {ago:?} ago");
    }
}
