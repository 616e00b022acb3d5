//! The test-vector format: versioned JSON, one file per vector, with a JSON Schema generated
//! from these types (`vectors/schema/vector.schema.json`). A vector is a factory
//! configuration of the client and a sequence of steps; each step is a stimulus (what a
//! server sends, or a condition the environment creates) and the client behaviour expected:
//! the acceptable response codes, the payload, and the messages the client sends next.
//! Payloads are given abstractly (the model's values) and in wire encodings (TLV, SenML
//! JSON, plain text, link-format) so that one file serves every adapter.

use crate::catalogue::Tier;
use crate::wire::{CoapMessage, CoapRequest, Encoded, UriMap};
use bootstrap_model::client::{Content, Outgoing};
use bootstrap_model::store::ObjectStore;
use bootstrap_model::system::{Action, Factory};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The format version this crate writes and reads. A reader refuses other versions.
pub const FORMAT_VERSION: u32 = 1;

/// One test vector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Stable content-derived ID: `bsv-` and the first 12 hex digits of the SHA-256 of the
    /// vector's profile, features, factory and steps. Same content, same ID.
    pub id: String,
    /// File stem, named after the rule the vector checks.
    pub name: String,
    /// One line saying what the vector checks.
    pub title: String,
    /// The profile a client must claim for this vector to apply: `seed`, `1.0`, `1.1`, `1.2`.
    pub profile: String,
    /// Requirement IDs the vector exercises, the rule it was selected for first.
    pub requirements: Vec<String>,
    /// Tags in the style of the OMA interoperability cases, e.g. `bootstrap.delete`.
    pub tags: Vec<String>,
    /// Tier of the rule the vector was selected for.
    pub tier: Tier,
    /// Optional client features the vector assumes.
    pub features: Features,
    /// The client's factory configuration (BS-FACT-01).
    pub factory: Factory,
    /// The objects of that configuration, abstractly.
    pub factory_objects: ObjectStore,
    /// The client's Endpoint Client Name.
    pub endpoint: String,
    /// The URIs written into wire payloads (an adapter listening elsewhere re-encodes).
    pub uris: UriMap,
    /// What the client does when powered on, before any stimulus (BS-FACT-03).
    pub boot: Expectation,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Where the vector comes from.
    pub provenance: Provenance,
}

/// Optional client features a vector depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// `Some(true)`: the client must use Bootstrap-Pack-Request (1.2, BS-PACK-01);
    /// `Some(false)`: it must not; `None`: irrelevant to this vector.
    pub bootstrap_pack: Option<bool>,
}

/// One step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The stimulus, in the model's step vocabulary.
    pub stimulus: Action,
    /// The stimulus as a CoAP request to the client, when it is one.
    pub request: Option<CoapRequest>,
    /// What the client must do.
    pub expect: Expectation,
    /// Requirement IDs this step exercises.
    pub requirements: Vec<String>,
}

/// The client behaviour a step expects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The response to the stimulus; `None` when the stimulus is not a request to the client.
    pub response: Option<ExpectedResponse>,
    /// The messages the client sends next, in any order; empty: none.
    pub sends: Vec<ExpectedSend>,
    /// Other acceptable sets of messages, where the specification allows several.
    pub or_sends: Vec<Vec<ExpectedSend>>,
    /// Why several outcomes are acceptable, with the ambiguity or requirement ID.
    pub note: Option<String>,
}

/// An expected response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedResponse {
    /// Every acceptable code, dotted (`2.04`); the first is the reference client's.
    pub codes: Vec<String>,
    /// The expected payload, when the response has one.
    pub content: Option<ExpectedContent>,
}

/// An expected payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedContent {
    /// Abstractly. Links compare as a set, after the version element.
    pub value: Content,
    /// In wire encodings, the first the preferred one.
    pub encodings: Vec<Encoded>,
}

/// A message the client must send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSend {
    /// Abstractly.
    pub message: Outgoing,
    /// As CoAP.
    pub coap: CoapMessage,
}

/// How the vector was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Version of the model crate.
    pub model_version: String,
    /// Version of the generator crate.
    pub generator_version: String,
    /// The model configuration explored.
    pub config: GeneratorConfig,
    /// `shortest path to <transition>`, `shortest path exercising <ID>`, or
    /// `random walk, seed <n>`.
    pub method: String,
}

/// The model configuration the generator explores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Management servers.
    pub servers: u8,
    /// Bootstrap commands per session.
    pub ops_per_session: u8,
    /// Environment events leading back to bootstrap.
    pub rebootstraps: u8,
    /// Message loss.
    pub loss: bool,
    /// Duplication of Finish.
    pub duplication: bool,
    /// Random walks per profile (and feature variant).
    pub walks: u32,
    /// Longest random walk.
    pub walk_length: u32,
}

/// The manifest: every vector, in order, and the coverage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Version of the model crate.
    pub model_version: String,
    /// The configuration explored.
    pub config: GeneratorConfig,
    /// One entry per vector.
    pub vectors: Vec<ManifestEntry>,
}

/// A vector in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Vector ID.
    pub id: String,
    /// File, relative to the manifest.
    pub file: String,
    /// Profile.
    pub profile: String,
    /// Tier.
    pub tier: Tier,
    /// Title.
    pub title: String,
    /// Requirement IDs.
    pub requirements: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
}

/// The JSON Schema of a vector file, pretty-printed (committed as
/// `vectors/schema/vector.schema.json`).
pub fn vector_schema() -> String {
    pretty(&schemars::schema_for!(Vector))
}

/// The JSON Schema of the manifest.
pub fn manifest_schema() -> String {
    pretty(&schemars::schema_for!(Manifest))
}

/// Pretty JSON with a final newline: the one serialisation used for every file written.
pub fn pretty<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("serialisable");
    s.push('\n');
    s
}
