//! The harness protocol (`harness/PROTOCOL.md`): the JSON lines a client program speaks on
//! its stdin and stdout, their version and their JSON Schema.
//!
//! The protocol is versioned ([`PROTOCOL_VERSION`]): the harness writes one
//! [`HarnessMessage`] per line (`start`, one `step` per stimulus, `stop`), the client answers
//! every `start` and `step` with exactly one [`AnswerMessage`] line. Its JSON Schema is
//! [`protocol_schema`] (committed as `harness/schema/protocol.schema.json`). The adapter that
//! speaks it to a program is [`crate::subprocess`]; the reference client behind it is
//! [`crate::protocol_client`].

use crate::adapter::{AdapterError, Observed};
use bootstrap_model::client::Input;
use bootstrap_model::store::ObjectStore;
use bootstrap_model::system::Action;
use conformance::observation::ObservedResponse;
use conformance::vector::{Features, Step, Vector};
use conformance::wire::{CoapMessage, Encoded};
use conformance::wire::{CoapRequest, UriMap};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this harness speaks. Every message carries it; a client answers with
/// the version it was sent or exits, and the harness refuses an answer in any other version.
pub const PROTOCOL_VERSION: u32 = 2;

/// How much of an offending line a protocol error quotes, in characters.
pub(crate) const QUOTE_CHARS: usize = 200;

// ---------------------------------------------------------------------------------------
// The messages
// ---------------------------------------------------------------------------------------

/// The `op` of a [`StartMessage`]: always `"start"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StartOp {
    /// `"start"`.
    #[serde(rename = "start")]
    Start,
}

/// The `op` of a [`StepMessage`]: always `"step"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StepOp {
    /// `"step"`.
    #[serde(rename = "step")]
    Step,
}

/// The `op` of a [`StopMessage`]: always `"stop"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StopOp {
    /// `"stop"`.
    #[serde(rename = "stop")]
    Stop,
}

/// Harness → client, first line: power on with this factory configuration (a fresh process
/// for every vector: this is the factory reset). The client answers with what it sends
/// before any stimulus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StartMessage {
    /// The protocol version: always 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// `"start"`.
    pub op: StartOp,
    /// The vector's ID (`bsv-...`), for the client's logs.
    pub vector: String,
    /// The profile the vector applies to: `seed`, `1.0`, `1.1` or `1.2`.
    pub profile: String,
    /// The Endpoint Client Name the client must use.
    pub endpoint: String,
    /// The client's factory configuration, abstractly (as in the vector files).
    pub factory_objects: ObjectStore,
    /// Optional features the vector assumes (as in the vector files).
    pub features: Features,
    /// The URIs that stand for the abstract server names in `factory_objects` and in wire
    /// payloads.
    pub uris: UriMap,
}

/// Harness → client: one stimulus. The client answers with its response (if the stimulus is
/// a request to it) and the messages it sends next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepMessage {
    /// The protocol version: always 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// `"step"`.
    pub op: StepOp,
    /// The step number in the vector, from 1.
    #[schemars(range(min = 1))]
    pub n: u32,
    /// The stimulus in the vectors' step vocabulary (`{"step": "bootstrap-finish"}`).
    pub stimulus: Action,
    /// The same stimulus as the reference client's input: who sends what (or which timer
    /// fires), with the payload abstractly.
    pub input: Input,
    /// The stimulus as a CoAP request to the client, when it is one.
    pub request: Option<CoapRequest>,
}

/// Harness → client, last line: exit now. No answer; the harness kills a client that is
/// still running one second later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StopMessage {
    /// The protocol version: always 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// `"stop"`.
    pub op: StopOp,
}

/// A line the harness writes to the client. Clients ignore fields they do not know: the
/// harness may add fields within a protocol version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum HarnessMessage {
    /// `op: "start"`.
    Start(StartMessage),
    /// `op: "step"`.
    Step(StepMessage),
    /// `op: "stop"`.
    Stop(StopMessage),
}

/// The client's response to the stimulus, when the stimulus was a request to it, as the
/// client sent it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerResponse {
    /// The CoAP response code, dotted (`"2.04"`), any `c.dd`.
    #[schemars(schema_with = "code_schema")]
    pub code: String,
    /// The payload as sent, with its Content-Format (`{"content_format":40,"hex":"...",
    /// "text":"</>;lwm2m=1.1,..."}`), or null.
    pub payload: Option<Encoded>,
}

/// Client → harness: the one line that answers a `start` or a `step`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerMessage {
    /// The version of the message answered: 2 ([`PROTOCOL_VERSION`]).
    #[schemars(schema_with = "protocol_version_schema")]
    pub protocol: u32,
    /// The response to the stimulus; null when the stimulus was not a request to the client
    /// (an answer to the client's own request, a timer) and in the answer to `start`.
    pub response: Option<AnswerResponse>,
    /// The requests the client sends next on its own, as sent (method, the server's URI,
    /// path, query, Accept, payload), in any order; empty when none.
    pub sends: Vec<CoapMessage>,
}

/// Any line of the protocol, either direction: the root of [`protocol_schema`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(
    title = "LwM2M bootstrap harness protocol, version 2",
    description = "One JSON object per line. Harness to client: a HarnessMessage (start, step, stop). Client to harness: one AnswerMessage for every start and step. See harness/PROTOCOL.md."
)]
pub enum ProtocolMessage {
    /// Harness → client.
    Harness(Box<HarnessMessage>),
    /// Client → harness.
    Client(AnswerMessage),
}

fn protocol_version_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "integer", "const": PROTOCOL_VERSION })
}

fn code_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "pattern": "^[245]\\.[0-9][0-9]$" })
}

impl StartMessage {
    /// The `start` line for `v`.
    pub fn for_vector(v: &Vector) -> StartMessage {
        StartMessage {
            protocol: PROTOCOL_VERSION,
            op: StartOp::Start,
            vector: v.id.clone(),
            profile: v.profile.clone(),
            endpoint: v.endpoint.clone(),
            factory_objects: v.factory_objects.clone(),
            features: v.features.clone(),
            uris: v.uris.clone(),
        }
    }
}

impl StepMessage {
    /// The `step` line for step number `n` (from 1).
    pub fn for_step(n: u32, step: &Step) -> StepMessage {
        StepMessage {
            protocol: PROTOCOL_VERSION,
            op: StepOp::Step,
            n,
            stimulus: step.stimulus.clone(),
            input: step.stimulus.input(),
            request: step.request.clone(),
        }
    }
}

impl StopMessage {
    /// The `stop` line.
    pub fn new() -> StopMessage {
        StopMessage {
            protocol: PROTOCOL_VERSION,
            op: StopOp::Stop,
        }
    }
}

impl Default for StopMessage {
    fn default() -> Self {
        StopMessage::new()
    }
}

impl AnswerMessage {
    /// The answer line that reports `o` (what the reference client writes).
    pub fn from_observed(o: &Observed) -> AnswerMessage {
        AnswerMessage {
            protocol: PROTOCOL_VERSION,
            response: o.response.as_ref().map(|r| AnswerResponse {
                code: r.code.clone(),
                payload: r.payload.clone(),
            }),
            sends: o.sends.clone(),
        }
    }

    /// What the answer reports; `Err` names a code that is not a CoAP response code or a
    /// payload whose hex does not decode.
    pub fn into_observed(self) -> Result<Observed, String> {
        let response = match self.response {
            None => None,
            Some(r) => {
                if !is_response_code(&r.code) {
                    return Err(format!(
                        "{:?} is not a CoAP response code (c.dd, class 2, 4 or 5)",
                        r.code
                    ));
                }
                if let Some(p) = &r.payload {
                    p.bytes().map_err(|e| format!("response payload: {e}"))?;
                }
                Some(ObservedResponse {
                    code: r.code,
                    payload: r.payload,
                    accept: None,
                })
            }
        };
        for m in &self.sends {
            if let Some(p) = &m.payload {
                p.bytes()
                    .map_err(|e| format!("payload of {} {}: {e}", m.method, m.path))?;
            }
        }
        Ok(Observed {
            response,
            sends: self.sends,
            violation: None,
        })
    }
}

/// Whether `dotted` is a CoAP response code: class 2, 4 or 5, two detail digits.
pub fn is_response_code(dotted: &str) -> bool {
    let b = dotted.as_bytes();
    b.len() == 4
        && matches!(b[0], b'2' | b'4' | b'5')
        && b[1] == b'.'
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit()
}

/// The JSON Schema of every protocol line, both directions (root: [`ProtocolMessage`]),
/// pretty-printed with a final newline; committed as `harness/schema/protocol.schema.json`.
pub fn protocol_schema() -> String {
    conformance::vector::pretty(&schemars::schema_for!(ProtocolMessage))
}

/// One message as one line, newline included.
pub(crate) fn to_line<T: Serialize>(message: &T) -> Result<String, String> {
    let mut s = serde_json::to_string(message).map_err(|e| format!("cannot encode: {e}"))?;
    s.push('\n');
    Ok(s)
}

/// `line` cut to [`QUOTE_CHARS`] characters (an ellipsis marks the cut), for error messages.
pub(crate) fn quote(line: &str) -> String {
    match line.char_indices().nth(QUOTE_CHARS) {
        None => line.to_string(),
        Some((i, _)) => format!("{}…", &line[..i]),
    }
}

/// Reads one client line: the answer it reports, or why it is not an answer in
/// [`PROTOCOL_VERSION`] (a [`AdapterError::Protocol`] quoting the line).
pub fn parse_answer(line: &str) -> Result<Observed, AdapterError> {
    let error = |why: String| AdapterError::Protocol {
        line: quote(line),
        why,
    };
    let value: Value =
        serde_json::from_str(line).map_err(|e| error(format!("not a JSON line ({e})")))?;
    let Some(object) = value.as_object() else {
        return Err(error("not a JSON object".into()));
    };
    match object.get("protocol") {
        None => return Err(error("no \"protocol\" field".into())),
        Some(p) if p.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
        Some(p) => {
            return Err(error(format!(
                "protocol version {p}, but the harness speaks {PROTOCOL_VERSION} \
                 (a client answers in the version it was sent, or exits)"
            )))
        }
    }
    let answer: AnswerMessage =
        serde_json::from_value(value).map_err(|e| error(format!("not an answer ({e})")))?;
    answer.into_observed().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_cut_at_200_characters() {
        let long = "é".repeat(300);
        let q = quote(&long);
        assert_eq!(q.chars().count(), QUOTE_CHARS + 1);
        assert_eq!(quote("short"), "short");
    }

    #[test]
    fn answers_parse_or_say_why_not() {
        let ok =
            parse_answer(r#"{"protocol":2,"response":{"code":"4.06","payload":null},"sends":[]}"#)
                .unwrap();
        assert_eq!(ok.response.unwrap().code, "4.06");
        // Any CoAP response code is an observation (the judge names the wrong ones).
        let bad_option =
            parse_answer(r#"{"protocol":2,"response":{"code":"4.02","payload":null},"sends":[]}"#)
                .unwrap();
        assert_eq!(bad_option.response.unwrap().code, "4.02");
        let why = |l: &str| match parse_answer(l) {
            Err(AdapterError::Protocol { why, line }) => {
                assert_eq!(line, l);
                why
            }
            other => panic!("{other:?}"),
        };
        assert!(why("nope").contains("not a JSON line"));
        assert!(why("[1]").contains("not a JSON object"));
        assert!(why(r#"{"response":null,"sends":[]}"#).contains("no \"protocol\""));
        assert!(why(r#"{"protocol":1,"response":null,"sends":[]}"#).contains("version 1"));
        assert!(
            why(r#"{"protocol":2,"response":{"code":"2.9","payload":null},"sends":[]}"#)
                .contains("\"2.9\" is not a CoAP response code")
        );
        assert!(why(r#"{"protocol":2,"response":{"code":"2.05","payload":{"content_format":40,"hex":"zz","text":null}},"sends":[]}"#).contains("hex"));
        assert!(why(r#"{"protocol":2,"response":null,"sends":[],"extra":1}"#).contains("extra"));
    }
}
