//! Readable, numbered traces of a path through the model: what each server did, what the
//! client answered and sent, and where a property broke.

use crate::monitor::Monitor;
use crate::store::ObjectStore;
use crate::system::{Action, BootstrapSystem, SystemState};
use std::fmt::Write;

/// A one-line summary of an object store, e.g.
/// `/0/0 BS coaps://bs; /0/1 coaps://dm0 ssid=1; /1/0 ssid=1 lt=300; /2/0 on /1/0 owner=1; /3/0`.
pub fn store_summary(s: &ObjectStore) -> String {
    let mut parts = Vec::new();
    for (i, sec) in s.security.iter() {
        let uri = sec.uri.map(|u| u.to_string()).unwrap_or_else(|| "?".into());
        if sec.is_bootstrap() {
            let t = sec
                .account_timeout
                .map(|t| format!(" timeout={t}s"))
                .unwrap_or_default();
            parts.push(format!("/0/{i} BS {uri}{t}"));
        } else {
            let ssid = sec
                .ssid
                .map(|x| x.to_string())
                .unwrap_or_else(|| "?".into());
            let key = sec
                .key
                .map(|k| k.0.to_string())
                .unwrap_or_else(|| "?".into());
            parts.push(format!("/0/{i} {uri} ssid={ssid} key={key}"));
        }
    }
    for (i, srv) in s.server.iter() {
        let ssid = srv
            .ssid
            .map(|x| x.to_string())
            .unwrap_or_else(|| "?".into());
        let lt = srv
            .lifetime
            .map(|x| x.to_string())
            .unwrap_or_else(|| "?".into());
        parts.push(format!("/1/{i} ssid={ssid} lt={lt}"));
    }
    for (i, a) in s.access_control.iter() {
        let entries: Vec<String> = a.acl.iter().map(|(s, r)| format!("{s}:{r}")).collect();
        parts.push(format!(
            "/2/{i} on /{}/{} owner={} acl=[{}]",
            a.object,
            a.instance,
            a.owner,
            entries.join(",")
        ));
    }
    if s.device {
        parts.push("/3/0".into());
    }
    if parts.is_empty() {
        "(empty)".into()
    } else {
        parts.join("; ")
    }
}

/// Renders `steps` (states and the action taken from each) as a numbered trace. When
/// `property` names a monitor, the step where it first fired is marked.
pub fn render(
    m: &BootstrapSystem,
    steps: &[(SystemState, Option<Action>)],
    property: Option<&str>,
) -> String {
    let monitor = property.and_then(|p| Monitor::ALL.iter().copied().find(|x| x.id() == p));
    let mut out = String::new();
    let Some((first, _)) = steps.first() else {
        return out;
    };
    let _ = writeln!(
        out,
        "  0. power-on ({} profile, client choices {:?})\n       store: {}\n       client: {:?}",
        m.config.profile,
        first.client.choices,
        store_summary(&first.client.store),
        first.client.phase
    );
    for (n, (state, action)) in steps.iter().enumerate() {
        let Some(action) = action else { continue };
        let (next, output) = m.step(state, action);
        let _ = writeln!(out, "{:>3}. {action}", n + 1);
        if let Some(r) = &output.response {
            let _ = writeln!(out, "       client answers {r}");
        }
        for o in &output.send {
            let _ = writeln!(out, "       client sends {o}");
        }
        if next.client.phase != state.client.phase {
            let _ = writeln!(out, "       client is now {:?}", next.client.phase);
        }
        if next.client.store != state.client.store {
            let _ = writeln!(out, "       store: {}", store_summary(&next.client.store));
        }
        if let Some(mon) = monitor {
            if mon.violated_in(&next) && !mon.violated_in(state) {
                let _ = writeln!(out, "       ✗ violates {}", mon.title());
            }
        }
    }
    out
}
