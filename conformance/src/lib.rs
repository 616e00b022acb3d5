//! # Test vectors for the LwM2M bootstrap interface
//!
//! Generated from the model (`bootstrap_model`): [`generate`] explores each profile's state
//! space and selects short, named scenarios covering every reachable transition class and
//! every observable requirement; [`vector`] is the versioned JSON format with its schema;
//! [`oracle`] derives each step's rules ([`expectation`]) from the model's state and the
//! specification, and [`judge`] applies them to what a client did ([`observation`]);
//! [`wire`], [`tlv`], [`senml`], [`senml_cbor`] and [`lwm2m_cbor`] give every payload in the encodings adapters need;
//! [`observe`] says which requirements a step exercises; [`catalogue`] reads the requirement
//! catalogue.

#![warn(missing_docs)]

pub mod attribution;
pub mod catalogue;
pub mod credit;
pub mod expectation;
pub mod files;
pub mod generate;
pub mod judge;
pub mod links;
pub mod load;
pub mod lwm2m_cbor;
pub mod observation;
pub mod oracle;
pub mod records;
pub mod replay;
pub mod senml;
pub mod senml_cbor;
#[cfg(test)]
mod test_support;
pub mod tlv;
pub mod vector;
pub mod wire;
