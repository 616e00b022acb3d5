//! The model's reference client behind the harness protocol ([`crate::protocol`]): what the
//! `lwm2m-reference-client` binary runs by default, and what a vendor can read as an
//! executable example of the client side of the protocol.

use crate::adapter::Observed;
use crate::protocol::{quote, to_line, AnswerMessage, StartMessage, StepMessage, PROTOCOL_VERSION};
use bootstrap_model::bugs::BugSet;
use bootstrap_model::client::{Client, ClientSpec};
use bootstrap_model::profile::Profile;
use conformance::observation::{render_message, render_response, Variations};
use serde_json::Value;
use std::io::{BufRead, Write};

/// The Endpoint Client Name as the model wants it (`&'static`). The reference name is not
/// copied; any other is leaked, once per `start` (a process serves one vector).
fn static_endpoint(endpoint: &str) -> &'static str {
    const REFERENCE: &str = "urn:dev:ref-1";
    if endpoint == REFERENCE {
        REFERENCE
    } else {
        Box::leak(endpoint.to_string().into_boxed_str())
    }
}

/// Serves the protocol with the model's reference client (with `bugs` switched in), reading
/// harness lines from `input` and writing answers to `output`, until `stop` or end of input.
/// Same semantics as the in-process adapter: `start` boots [`Client::boot`] with the
/// reference choices of [`Features::choices`](conformance::vector::Features::choices)
/// (Bootstrap-Pack and Access Control as the vector's features say), each `step` is
/// [`Client::handle`] of the stimulus's input. `Err` says why it gave up (a line that is not
/// protocol version 2, a step before start, an unknown profile, an I/O error); per the
/// versioning rule it does not answer such a line.
pub fn serve(bugs: BugSet, input: impl BufRead, mut output: impl Write) -> Result<(), String> {
    let mut running: Option<(Client, ClientSpec, conformance::wire::UriMap)> = None;
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |why: String| format!("line {}: {why}: {}", i + 1, quote(&line));
        let value: Value =
            serde_json::from_str(&line).map_err(|e| at(format!("not JSON ({e})")))?;
        match value.get("protocol") {
            Some(p) if p.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {}
            p => {
                return Err(at(format!(
                    "protocol version {}; this client speaks {PROTOCOL_VERSION} only",
                    p.map_or("missing".into(), Value::to_string)
                )))
            }
        }
        let op = value.get("op").and_then(Value::as_str).unwrap_or("");
        let mut accept = None;
        let out = match op {
            "start" => {
                let m: StartMessage =
                    serde_json::from_value(value).map_err(|e| at(format!("bad start ({e})")))?;
                let profile: Profile = m.profile.parse().map_err(|e| at(format!("{e}")))?;
                let spec = ClientSpec {
                    profile,
                    endpoint: static_endpoint(&m.endpoint),
                    bugs,
                };
                let choices = m.features.choices(profile);
                let (client, out) = Client::boot(&spec, m.factory_objects, choices);
                running = Some((client, spec, m.uris));
                out
            }
            "step" => {
                let m: StepMessage =
                    serde_json::from_value(value).map_err(|e| at(format!("bad step ({e})")))?;
                let (client, spec, _) = running
                    .as_mut()
                    .ok_or_else(|| at("step before start".into()))?;
                accept = m.request.as_ref().and_then(|r| r.accept);
                client.handle(spec, &m.stimulus.input())
            }
            "stop" => return Ok(()),
            other => return Err(at(format!("unknown op {other:?}"))),
        };
        let Some((_, spec, uris)) = &running else {
            return Err(at("step before start".into()));
        };
        let plain = Variations::default();
        let answer = AnswerMessage::from_observed(&Observed {
            response: out
                .response
                .as_ref()
                .map(|r| render_response(r, spec.profile, uris, &plain, accept)),
            sends: out
                .send
                .iter()
                .map(|o| render_message(o, uris, &plain))
                .collect(),
            violation: None,
        });
        let text = to_line(&answer)?;
        output
            .write_all(text.as_bytes())
            .and_then(|()| output.flush())
            .map_err(|e| format!("cannot write stdout: {e}"))?;
    }
    Ok(())
}
