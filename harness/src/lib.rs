//! # The harness: replay the vectors against any client and hand back a certification report
//!
//! [`adapter`] is how the harness drives a client (one stimulus at a time, every wait
//! bounded); [`inprocess`] and [`subprocess`] are the adapters ([`protocol`] is what the
//! subprocess adapter speaks, [`protocol_client`] the reference client behind it);
//! [`profile`] is the vendor's client profile; [`run`] replays one vector; [`report`] writes the human, JSON and JUnit
//! reports with message sequence charts; [`mutants`] measures the suite's strength against
//! the injected bugs and the independent misbehaviours of [`misbehave`].

#![warn(missing_docs)]

pub mod account_keys;
pub mod adapter;
pub mod blockwise;
pub mod cmdline;
pub mod coap_uri;
pub mod dtls;
pub mod dtls_driver;
pub mod endpoint;
pub mod inprocess;
pub mod launch;
pub mod lwm2m_codec;
pub mod memory;
pub mod misbehave;
pub mod mutants;
pub mod partition;
pub mod player;
pub mod profile;
pub mod protocol;
pub mod protocol_client;
pub mod reference_node;
pub mod report;
pub mod run;
pub mod subprocess;
mod supervise;
pub mod timing;
pub mod udp;
pub mod wire_client;
pub mod wirelog;
