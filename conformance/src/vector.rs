//! The test-vector format: versioned JSON, one file per vector, with a JSON Schema generated
//! from these types (`vectors/schema/vector.schema.json`). A vector is a factory
//! configuration of the client and a sequence of steps; each step is a stimulus (what a
//! server sends, or a condition the environment creates) and the client behaviour expected
//! ([`crate::expectation`]): constraints derived from the model's state and the
//! specification (the codes allowed, what a payload must and must not hold, the messages
//! the client must send next), never the reference client's bytes. Stimulus payloads are
//! given abstractly (the model's values) and in wire encodings (TLV, SenML JSON, SenML
//! CBOR, LwM2M CBOR, plain text) so that one file serves every adapter.
//!
//! Version 2 replaced version 1's copies of the reference client's answers with rules
//! (issue #9); a version 1 file is refused with a one-line message.

use crate::catalogue::Tier;
pub use crate::expectation::Expectation;
use crate::expectation::SendRule;
use crate::wire::{CoapRequest, UriMap};
use bootstrap_model::store::ObjectStore;
use bootstrap_model::system::{Action, Factory};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The format version this crate writes and reads. A reader refuses other versions.
pub const FORMAT_VERSION: u32 = 2;

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
    /// After the last step the harness keeps listening for a while (on the wire: the Client
    /// Hold Off Time plus ACK_TIMEOUT); anything new the client sends then must be one of
    /// these, the messages a conforming client may send when nobody answers it (a request
    /// after its hold-off, a fallback when a request goes unanswered). Empty: nothing.
    pub after_last: Vec<SendRule>,
    /// How a client that cannot be started in [`Vector::factory`] reaches an equivalent
    /// state through the bootstrap interface, when one does (issue #10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prologue: Option<Prologue>,
    /// Why no prologue stands in for the factory configuration, for a vector that does not
    /// start from `bootstrap-only` and has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_prologue: Option<String>,
    /// Where the vector comes from.
    pub provenance: Provenance,
}

/// The steps that stand in for a factory configuration a client's launcher cannot give:
/// the client is powered on with only a Bootstrap-Server Account, bootstrapped with the
/// factory's accounts (Bootstrap-Request, Bootstrap-Writes, Bootstrap-Finish, and the
/// Register that follows where the factory has a server account), and the vector's steps
/// follow. The generator checks in the model that this is the same start for the vector:
/// the client's objects after the prologue are the factory's, and every later step's rules
/// and what may follow the last step come out identical from either start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prologue {
    /// The factory configuration the prologue starts from (`bootstrap-only`).
    pub factory: Factory,
    /// Its objects.
    pub factory_objects: ObjectStore,
    /// What the client does when powered on in it.
    pub boot: Expectation,
    /// The prologue's steps, judged like any other.
    pub steps: Vec<Step>,
    /// The features the vector needs when played after the prologue.
    pub features: Features,
    /// What the generator checked, in words.
    pub equivalence: String,
}

impl Vector {
    /// Whether the vector needs the DTLS transport: a management server of its refuses the
    /// client's handshake ([`Action::RegisterHandshakeFailed`]), which only a secure
    /// transport can play and only its handshakes show ([`SendRule::Handshake`]).
    pub fn needs_dtls(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.stimulus, Action::RegisterHandshakeFailed { .. }))
    }

    /// The vector as played after its prologue: started from the prologue's factory, its
    /// steps the prologue's and then the vector's (step numbers count the prologue's).
    /// `None` when it has no prologue.
    pub fn with_prologue(&self) -> Option<Vector> {
        let p = self.prologue.as_ref()?;
        let mut v = self.clone();
        v.factory = p.factory;
        v.factory_objects = p.factory_objects.clone();
        v.boot = p.boot.clone();
        v.features = p.features.clone();
        v.steps = p.steps.iter().chain(&self.steps).cloned().collect();
        v.prologue = None;
        Some(v)
    }
}

/// Optional client features a vector depends on. A client profile that declares it lacks
/// one gets the vector skipped, the feature named.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// `Some(true)`: the client must use Bootstrap-Pack-Request (1.2, BS-PACK-01);
    /// `Some(false)`: it must not; `None`: irrelevant to this vector.
    pub bootstrap_pack: Option<bool>,
    /// The vector needs the client to accept bootstrap commands that no Bootstrap-Request
    /// preceded (1.0 Server Initiated Bootstrap, BS-RB-04; optional for a 1.0 client:
    /// LwM2M-BOOT-005-C-O).
    pub server_initiated_bootstrap: bool,
    /// The vector needs the Access Control object (optional: LwM2M-OBJ-003-C-O; BS-OBJ-05).
    pub access_control: bool,
    /// The vector needs Bootstrap-Finish to refuse an inconsistent configuration (4.06,
    /// BS-FIN-02/03; optional for a 1.0 client: LwM2M-BOOT-016-C-O).
    pub finish_consistency_check: bool,
    /// The vector needs a client without the Access Control object, which supports a
    /// single LwM2M Server only and must refuse a multi-server configuration at Finish
    /// (BS-OBJ-05, Core 1.2 §6.1.5). A client profile with the object skips it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_access_control: bool,
}

impl Features {
    /// The reference client's choices for a vector with these features under `profile`:
    /// Bootstrap-Pack as the vector assumes, the Access Control object unless the vector
    /// needs a client without it. Every reference adapter builds its client from this.
    pub fn choices(
        &self,
        profile: bootstrap_model::profile::Profile,
    ) -> bootstrap_model::client::Choices {
        let mut c = bootstrap_model::client::Choices::reference(profile);
        if let Some(p) = self.bootstrap_pack {
            c.pack = p;
        }
        c.no_access_control = self.no_access_control;
        c
    }
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
