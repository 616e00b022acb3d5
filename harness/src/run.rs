//! Running one vector through an adapter: the exchange as it happened (for the message
//! sequence chart) and the verdict, judged with `conformance::judge` (the judge the model's
//! own replay uses), step by step and after the last step.

use crate::adapter::{AdapterError, AdapterFactory, Observed};
use bootstrap_model::client::Peer;
use bootstrap_model::system::Action;
use conformance::catalogue::Tier;
use conformance::expectation::Expectation;
use conformance::judge::{judge, problems, Context, Finding};
use conformance::vector::Vector;
use conformance::wire::UriMap;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// One arrow of the message sequence chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Arrow {
    /// Step (0 = power-on).
    pub step: usize,
    /// Sender: `BS`, `DM0`, `Client`, or `Clock` for a timer.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// What was sent.
    pub message: String,
}

/// How a vector went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "verdict", rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Every step as expected.
    Pass,
    /// The client departed from the vector.
    Fail {
        /// Step (0 = power-on; one past the last step: after it).
        step: usize,
        /// Expected vs actual.
        detail: String,
        /// The tier the failure counts at when lower than the vector's (a step on behaviour
        /// whose timing the specification leaves to the client).
        #[serde(skip_serializing_if = "Option::is_none")]
        tier: Option<Tier>,
        /// The failure the client profile declares for this vector, when the client failed
        /// otherwise (another step, another detail): it fails differently than declared.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        declared: Option<String>,
    },
    /// The client hung, crashed or broke the protocol.
    Error {
        /// Step (0 = power-on).
        step: usize,
        /// What happened.
        detail: String,
    },
    /// Not run: the client lacks what the vector needs.
    Skip {
        /// Why.
        reason: String,
    },
    /// Failed, as the client profile expects.
    Xfail {
        /// The profile's reason.
        reason: String,
        /// The failure.
        detail: String,
    },
    /// Passed although the client profile expects a failure: the list is stale.
    Xpass {
        /// The profile's reason.
        reason: String,
    },
}

impl Verdict {
    /// Whether the vector counts as failed for the exit code (XPASS does).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Verdict::Fail { .. } | Verdict::Error { .. } | Verdict::Xpass { .. }
        )
    }
}

/// How a vector ran: the verdict and its evidence.
#[derive(Clone, Debug)]
pub struct Run {
    /// The verdict.
    pub verdict: Verdict,
    /// The message sequence chart.
    pub arrows: Vec<Arrow>,
    /// Wall time.
    pub elapsed: Duration,
    /// The datagrams, for adapters on the wire.
    pub wire: Vec<crate::wirelog::WireRecord>,
    /// The end of the client program's output, for adapters that launch one.
    pub client_output: String,
}

/// Why a vector whose management server refuses the client's DTLS handshake is skipped
/// on a transport without DTLS.
pub const NEEDS_DTLS: &str = "needs --dtls: a management server refuses the client's DTLS handshake (it holds another key), which only the DTLS transport can play (Transport 1.2 §5.2.10)";

/// Runs `v` on a fresh client from `factory`; every wait is bounded by `timeout`.
pub fn run_vector(factory: &dyn AdapterFactory, v: &Vector, timeout: Duration) -> Run {
    run_vector_with(factory, v, timeout, &[])
}

/// [`run_vector`] for a client whose profile declares that it breaks the timing rules
/// `deviations` (requirement IDs, e.g. `BS-FACT-05`): a violation of one of them does not
/// end the vector, so that the rest of it is still checked, but the vector cannot pass: at
/// best it is XFAIL, naming the deviation.
pub fn run_vector_with(
    factory: &dyn AdapterFactory,
    v: &Vector,
    timeout: Duration,
    deviations: &[String],
) -> Run {
    let start = Instant::now();
    let mut arrows = Vec::new();
    let (verdict, wire, client_output) = match factory.create() {
        Ok(mut adapter) => {
            let mut seen = Vec::new();
            let verdict = run(
                adapter.as_mut(),
                v,
                timeout,
                &mut arrows,
                deviations,
                &mut seen,
            );
            let verdict = match (verdict, seen.first()) {
                (Verdict::Pass, Some((step, d))) => Verdict::Xfail {
                    reason: "a timing deviation the client profile declares".into(),
                    detail: format!("step {step}: {d}"),
                },
                (v, _) => v,
            };
            adapter.stop();
            (verdict, adapter.wire_log(), adapter.client_output())
        }
        Err(e) => (
            Verdict::Error {
                step: 0,
                detail: e.to_string(),
            },
            Vec::new(),
            String::new(),
        ),
    };
    Run {
        verdict,
        arrows,
        elapsed: start.elapsed(),
        wire,
        client_output,
    }
}

/// The verdict of an observation: the expectation, then the timing rules (a violation of
/// a declared deviation is noted in `seen` instead).
fn check(
    ctx: Context<'_>,
    expect: &Expectation,
    o: &Observed,
    step: usize,
    deviations: &[String],
    seen: &mut Vec<(usize, String)>,
) -> Result<(), Verdict> {
    judge(ctx, expect, o.response.as_ref(), &o.sends).map_err(|f| match f {
        Finding::NotObserved(why) => Verdict::Skip {
            reason: format!("step {step}: not observed: {why}"),
        },
        // A rule the transport saw broken (a plain CoAP datagram to a coaps:// server, a
        // handshake with the wrong key) often explains why nothing came: it is named too.
        Finding::Fail { detail, tier } => Verdict::Fail {
            step,
            detail: match &o.violation {
                Some(v) => format!("{detail}; meanwhile {v}"),
                None => detail,
            },
            tier,
            declared: None,
        },
    })?;
    match &o.violation {
        Some(v) if deviations.iter().any(|id| v.contains(id.as_str())) => {
            seen.push((step, v.clone()));
            Ok(())
        }
        Some(v) => Err(Verdict::Fail {
            step,
            detail: v.clone(),
            tier: None,
            declared: None,
        }),
        None => Ok(()),
    }
}

/// The verdict of an adapter error at `step`: SKIP for what the adapter does not support,
/// ERROR otherwise.
fn adapter_error(step: usize, e: AdapterError) -> Verdict {
    match e {
        AdapterError::Unsupported(reason) => Verdict::Skip {
            reason: format!("step {step}: {reason}"),
        },
        e => Verdict::Error {
            step,
            detail: e.to_string(),
        },
    }
}

/// Plays `v` on `adapter`: power-on, every step, then what the client sends after the last
/// one; the first failure ends it.
fn run(
    adapter: &mut dyn crate::adapter::Adapter,
    v: &Vector,
    timeout: Duration,
    arrows: &mut Vec<Arrow>,
    deviations: &[String],
    seen: &mut Vec<(usize, String)>,
) -> Verdict {
    if v.needs_dtls() && !adapter.secure() {
        return Verdict::Skip {
            reason: NEEDS_DTLS.into(),
        };
    }
    let boot = match adapter.start(v, timeout) {
        Ok(o) => o,
        Err(e) => return adapter_error(0, e),
    };
    let uris = adapter.uris().unwrap_or_else(|| v.uris.clone());
    let ctx = Context {
        uris: &uris,
        endpoint: &v.endpoint,
    };
    record(arrows, 0, None, &boot, &uris);
    if let Err(verdict) = check(ctx, &v.boot, &boot, 0, deviations, seen) {
        return verdict;
    }
    for (i, step) in v.steps.iter().enumerate() {
        let n = i + 1;
        let (from, to, what) = stimulus_arrow(&step.stimulus, step.request.as_ref());
        arrows.push(Arrow {
            step: n,
            from: from.clone(),
            to,
            message: what,
        });
        let observed = match adapter.step(step, timeout) {
            Ok(o) => o,
            Err(e) => return adapter_error(n, e),
        };
        record(arrows, n, Some(&from), &observed, &uris);
        if let Err(verdict) = check(ctx, &step.expect, &observed, n, deviations, seen) {
            return verdict;
        }
    }
    after_last_step(adapter, v, ctx, arrows, deviations, seen)
}

/// Judged to the end: what the client sends while nobody answers it after the last step
/// must be something a conforming client may send then.
fn after_last_step(
    adapter: &mut dyn crate::adapter::Adapter,
    v: &Vector,
    ctx: Context<'_>,
    arrows: &mut Vec<Arrow>,
    deviations: &[String],
    seen: &mut Vec<(usize, String)>,
) -> Verdict {
    let after = v.steps.len() + 1;
    let window = adapter.drain_window(v);
    if window.is_zero() {
        return Verdict::Pass;
    }
    let observed = match adapter.drain(window) {
        Ok(o) => o,
        Err(e) => return adapter_error(after, e),
    };
    record(arrows, after, None, &observed, ctx.uris);
    match &observed.violation {
        Some(v) if deviations.iter().any(|id| v.contains(id.as_str())) => {
            seen.push((after, v.clone()));
        }
        Some(v) => {
            return Verdict::Fail {
                step: after,
                detail: v.clone(),
                tier: None,
                declared: None,
            }
        }
        None => {}
    }
    if let Some(m) = observed
        .sends
        .iter()
        .find(|m| !v.after_last.iter().any(|r| problems(ctx, r, m).is_empty()))
    {
        return Verdict::Fail {
            step: after,
            detail: format!(
                "after the last step, within {:.2} s of silence, the client sent {m}, which a conforming client does not send then{}",
                window.as_secs_f64(),
                may_send_after_last(ctx, v)
            ),
            tier: None,
            declared: None,
        };
    }
    Verdict::Pass
}

/// What a conforming client may send after the last step of `v`, for a failure's detail
/// (` (it may send only: ...)`), or nothing when it may send nothing.
fn may_send_after_last(ctx: Context<'_>, v: &Vector) -> String {
    if v.after_last.is_empty() {
        String::new()
    } else {
        format!(
            " (it may send only: {})",
            v.after_last
                .iter()
                .map(|r| conformance::judge::describe(ctx, r))
                .collect::<Vec<_>>()
                .join("; ")
        )
    }
}

fn peer_name(p: Peer) -> String {
    match p {
        Peer::BootstrapServer => "BS".into(),
        Peer::Server(k) => format!("DM{k}"),
    }
}

/// The name of the server at `uri` in the charts: `BS`, `BS-alt`, `DMk`, or the URI.
fn uri_name(uri: &str, uris: &UriMap) -> String {
    if uri == uris.bootstrap {
        return "BS".into();
    }
    if uri == uris.bootstrap_alternate {
        return "BS-alt".into();
    }
    uris.servers
        .iter()
        .position(|s| s == uri)
        .map_or_else(|| uri.to_string(), |k| format!("DM{k}"))
}

/// Who sends the stimulus, to whom, and what it is.
fn stimulus_arrow(
    a: &Action,
    request: Option<&conformance::wire::CoapRequest>,
) -> (String, String, String) {
    use bootstrap_model::client::Input;
    let client = "Client".to_string();
    let req = |r: &conformance::wire::CoapRequest| {
        let q = if r.query.is_empty() {
            String::new()
        } else {
            format!("?{}", r.query.join("&"))
        };
        format!("{} {}{q}", r.method, r.path)
    };
    match a.input() {
        Input::Write { from, .. }
        | Input::Read { from, .. }
        | Input::Discover { from, .. }
        | Input::Delete { from, .. }
        | Input::Finish { from }
        | Input::ExecuteBootstrapTrigger { from, .. }
        | Input::ReBootstrapNotification { from, .. } => (
            peer_name(from),
            client,
            request.map(req).unwrap_or_else(|| a.to_string()),
        ),
        Input::DuplicateFinish => ("BS".into(), client, "POST /bs (duplicate)".into()),
        Input::BootstrapRequestAnswer(c) => (
            "BS".into(),
            client,
            c.map_or("(no answer to Bootstrap-Request)".into(), |c| c.to_string()),
        ),
        Input::PackAnswer(_) => ("BS".into(), client, a.to_string()),
        Input::RegisterAnswer { server, .. } => (format!("DM{server}"), client, a.to_string()),
        Input::TimerExpired(_) => ("Clock".into(), client, a.to_string()),
    }
}

fn record(
    arrows: &mut Vec<Arrow>,
    step: usize,
    answer_to: Option<&str>,
    o: &Observed,
    uris: &UriMap,
) {
    if let Some(r) = &o.response {
        arrows.push(Arrow {
            step,
            from: "Client".into(),
            to: answer_to.unwrap_or("BS").into(),
            message: r.to_string(),
        });
    }
    for s in &o.sends {
        arrows.push(Arrow {
            step,
            from: "Client".into(),
            to: uri_name(&s.uri, uris),
            message: s.to_string(),
        });
    }
}
