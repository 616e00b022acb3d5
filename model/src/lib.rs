//! # LwM2M bootstrap interface: reference client semantics and system model
//!
//! The foundation of the conformance suite: everything else (vectors, harness, wire) derives
//! its expectations from this crate.
//!
//! - [`client`]: the reference client, sans-IO: an object store ([`store`], [`objects`]) and a
//!   function per input returning the response and the next outgoing messages.
//! - [`profile`]: the four profiles (`seed`, `1.0`, `1.1`, `1.2`) and every rule that differs
//!   between them, each a single `match` in that module.
//! - [`seed_ext`]: this suite's wire encoding of the seed's `keepServerInfo` and Step 0.
//! - [`spec`]: the answers the specification accepts for an input, independent of the client.
//! - [`system`]: the stateright model of client, bootstrap server, management servers and
//!   network; its [`system::Action`] enum is the step vocabulary of the test vectors.
//! - [`monitor`] and [`properties`]: the properties, named after requirement IDs.
//! - [`bugs`]: injectable client bugs; [`check`] and [`trace`]: running the checker and
//!   printing counterexamples.
//!
//! Invariants of the code: no module here performs I/O or reads a clock (the checker's own
//! timing in [`check`] aside); profiles differ only in [`profile`]; monitors judge the client
//! from what it says and sends, never from its private bookkeeping.

#![warn(missing_docs)]

pub mod bugs;
pub mod check;
pub mod client;
pub mod code;
pub mod monitor;
pub mod objects;
pub mod path;
pub mod profile;
pub mod properties;
pub mod seed_ext;
pub mod spec;
pub mod store;
pub mod system;
pub mod trace;
