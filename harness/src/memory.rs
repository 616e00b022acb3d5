//! The in-memory driver of the vector player ([`crate::player`]): the bundled reference
//! client ([`crate::reference_node`]) and the harness's servers exchange datagrams in memory
//! on a virtual clock. Every timer of the wire (retransmissions, the hold-off, the account
//! timeout, EXCHANGE_LIFETIME, the quiet times and drain windows) is a jump of the clock,
//! not a wait: the whole suite's wire logic, timers included, runs in about a second, and
//! it is exact (no harness lag, no scheduler). Loss, delay and reordering are injectable
//! ([`Faults`]), so the message layer's recovery is tested on every vector.
//!
//! The player and the client are the ones the UDP run uses; only the sockets, the process
//! and the clock are replaced.

use crate::adapter::{Adapter, AdapterError, AdapterFactory};
use crate::coap_uri;
use crate::misbehave::Misbehaviour;
use crate::player::{Datagram, Driver, Player, PlayerOptions};
use crate::reference_node::{NodeConfig, ReferenceNode};
use bootstrap_model::bugs::BugSet;
use conformance::observation::Variations;
use conformance::vector::Vector;
use conformance::wire::UriMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What happens to one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It arrives at once.
    Deliver,
    /// It is lost.
    Drop,
    /// It arrives this much later (later datagrams may overtake it).
    Delay(Duration),
}

/// Which way a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From a server of the harness to the client.
    ToClient,
    /// From the client to a server of the harness.
    ToServer,
}

/// The network's faults: for the `n`-th datagram of a vector (from 0) going `direction`,
/// its fate.
pub type Faults = Arc<dyn Fn(usize, Direction, &[u8]) -> Fate + Send + Sync>;

/// The bundled client as the in-memory driver runs it: its bugs, variations and
/// misbehaviour, as `lwm2m-reference-client wire` takes them.
#[derive(Clone, Debug, Default)]
pub struct ClientSetup {
    /// Injected bugs.
    pub bugs: BugSet,
    /// Conforming variations.
    pub vary: Variations,
    /// A misbehaviour on the wire.
    pub misbehave: Option<Misbehaviour>,
    /// Block-wise transfer with blocks of this many bytes.
    pub block_size: Option<usize>,
    /// The Content-Formats it takes (`None`: every one it can).
    pub content_formats: Option<Vec<u16>>,
    /// An Endpoint Client Name of its own (`None`: the vector's), as a stray device on the
    /// network has.
    pub endpoint: Option<String>,
}

/// Makes an in-memory player per vector.
pub struct MemoryFactory {
    options: PlayerOptions,
    client: ClientSetup,
    faults: Option<Faults>,
}

impl MemoryFactory {
    /// The bundled client set up as `client`, the player with `options`, a network with
    /// `faults` (`None`: every datagram arrives at once).
    pub fn new(options: PlayerOptions, client: ClientSetup, faults: Option<Faults>) -> Self {
        MemoryFactory {
            options,
            client,
            faults,
        }
    }
}

impl AdapterFactory for MemoryFactory {
    fn create(&self) -> Result<Box<dyn Adapter>, AdapterError> {
        let now = Instant::now();
        let driver = MemoryDriver {
            setup: self.client.clone(),
            coap: self.options.coap,
            faults: self.faults.clone(),
            t0: now,
            wall0: SystemTime::now(),
            now,
            servers: Vec::new(),
            node: None,
            failed: None,
            in_flight: Vec::new(),
            sent: 0,
        };
        Ok(Box::new(Player::new(driver, self.options.clone())))
    }

    fn describe(&self) -> String {
        "the bundled reference client in memory, on a virtual clock".into()
    }
}

/// The client's address in memory.
const CLIENT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 56830));

/// A datagram on its way, and when it arrives.
struct InFlight {
    at: Instant,
    to_server: Option<usize>,
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// The client, the network and the clock of one vector.
pub struct MemoryDriver {
    setup: ClientSetup,
    coap: crate::timing::CoapTiming,
    faults: Option<Faults>,
    t0: Instant,
    wall0: SystemTime,
    now: Instant,
    /// The servers' addresses, BS first.
    servers: Vec<SocketAddr>,
    node: Option<ReferenceNode>,
    /// How the client failed (it stops, as a process would exit).
    failed: Option<String>,
    /// Datagrams on their way, both directions.
    in_flight: Vec<InFlight>,
    /// Datagrams sent so far (for [`Faults`]).
    sent: usize,
}

impl MemoryDriver {
    /// Puts `bytes` on the network, subject to the faults.
    fn post(&mut self, to_server: Option<usize>, from: SocketAddr, bytes: Vec<u8>) {
        let n = self.sent;
        self.sent += 1;
        let direction = if to_server.is_some() {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let fate = self
            .faults
            .as_ref()
            .map_or(Fate::Deliver, |f| f(n, direction, &bytes));
        let at = match fate {
            Fate::Deliver => self.now,
            Fate::Drop => return,
            Fate::Delay(d) => self.now + d,
        };
        self.in_flight.push(InFlight {
            at,
            to_server,
            from,
            bytes,
        });
    }

    /// Moves what the client sends onto the network.
    fn pump(&mut self) {
        let client = CLIENT;
        let mut out = Vec::new();
        if let Some(node) = &mut self.node {
            while let Some(t) = node.poll_transmit() {
                out.push(t);
            }
            while node.poll_log().is_some() {}
        }
        for t in out {
            // A datagram to an address no server has is lost.
            if let Some(i) = self.servers.iter().position(|a| *a == t.to) {
                self.post(Some(i), client, t.bytes);
            }
        }
    }

    /// Runs the client's part of `result`: an error stops it.
    fn client_did(&mut self, result: Result<(), String>) {
        if let Err(e) = result {
            self.failed = Some(e);
            self.node = None;
        }
        self.pump();
    }
}

impl Driver for MemoryDriver {
    fn bind(&mut self, v: &Vector) -> Result<Vec<(String, SocketAddr)>, AdapterError> {
        let mut named = vec![
            ("BS".to_string(), &v.uris.bootstrap),
            ("BS-alt".to_string(), &v.uris.bootstrap_alternate),
        ];
        for (k, u) in v.uris.servers.iter().enumerate() {
            named.push((format!("DM{k}"), u));
        }
        let mut out = Vec::new();
        for (name, uri) in named {
            let addr = coap_uri::socket_addr(uri).map_err(AdapterError::Spawn)?;
            self.servers.push(addr);
            out.push((name, addr));
        }
        Ok(out)
    }

    fn launch(&mut self, v: &Vector, uris: &UriMap) -> Result<Option<SocketAddr>, AdapterError> {
        let profile = crate::adapter::vector_profile(v)?;
        let s = &self.setup;
        let cfg = NodeConfig {
            profile,
            endpoint: s.endpoint.clone().unwrap_or_else(|| v.endpoint.clone()),
            factory: v.factory,
            uris: uris.clone(),
            bugs: s.bugs,
            pack: v.features.bootstrap_pack,
            no_access_control: v.features.no_access_control,
            timing: self.coap,
            port: 0,
            verbose: false,
            block_size: s.block_size,
            content_formats: s
                .content_formats
                .clone()
                .unwrap_or_else(|| NodeConfig::ALL_FORMATS.to_vec()),
            vary: s.vary.clone(),
            misbehave: s.misbehave,
            bs_psk: None,
            key_misbehave: None,
            hold_off: None,
        };
        let node = ReferenceNode::boot(cfg, self.now).map_err(AdapterError::Spawn)?;
        self.node = Some(node);
        self.pump();
        Ok(Some(CLIENT))
    }

    fn knows_start(&self) -> bool {
        true
    }

    fn now(&self) -> Instant {
        self.now
    }

    fn wall(&self) -> SystemTime {
        self.wall0 + self.now.saturating_duration_since(self.t0)
    }

    fn send(&mut self, server: usize, to: SocketAddr, bytes: &[u8]) -> Result<(), AdapterError> {
        if to == CLIENT {
            let from = self.servers[server];
            self.post(None, from, bytes.to_vec());
        }
        Ok(())
    }

    fn next_datagram(&mut self, until: Instant) -> Result<Option<Datagram>, AdapterError> {
        self.run_until(until, true)
    }

    fn wait_until(&mut self, until: Instant) -> Result<(), AdapterError> {
        self.run_until(until, false).map(drop)
    }

    fn await_client(&mut self, _: SocketAddr, _: Duration) -> Result<(), AdapterError> {
        Ok(())
    }

    fn stop(&mut self) {
        self.node = None;
    }

    fn client_output(&self) -> String {
        self.failed.clone().unwrap_or_default()
    }
}

impl MemoryDriver {
    /// Moves the clock on to `until`, the client acting on what reaches it and on its
    /// timers; the first datagram for a server stops it there when `take` is set.
    fn run_until(&mut self, until: Instant, take: bool) -> Result<Option<Datagram>, AdapterError> {
        loop {
            if let Some(e) = &self.failed {
                return Err(AdapterError::Crashed {
                    status: "the in-memory client stopped".into(),
                    stderr_tail: e.clone(),
                });
            }
            let next_arrival = self
                .in_flight
                .iter()
                .enumerate()
                .filter(|(_, d)| take || d.to_server.is_none())
                .min_by_key(|(_, d)| d.at)
                .map(|(i, d)| (i, d.at));
            let timer = self.node.as_ref().and_then(ReferenceNode::poll_timeout);
            match (next_arrival, timer) {
                (Some((i, at)), t) if at <= until && t.is_none_or(|t| at <= t) => {
                    self.now = self.now.max(at);
                    let d = self.in_flight.remove(i);
                    match d.to_server {
                        Some(server) => {
                            return Ok(Some(Datagram {
                                server,
                                from: d.from,
                                bytes: d.bytes,
                                at: self.now,
                                wall: self.wall(),
                            }))
                        }
                        None => {
                            let now = self.now;
                            let r = match &mut self.node {
                                Some(n) => n.handle_datagram(now, d.from, &d.bytes),
                                None => Ok(()),
                            };
                            self.client_did(r);
                        }
                    }
                }
                (_, Some(t)) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    let r = match &mut self.node {
                        Some(n) => n.handle_timeout(now),
                        None => Ok(()),
                    };
                    self.client_did(r);
                }
                _ => {
                    self.now = self.now.max(until);
                    return Ok(None);
                }
            }
        }
    }
}
