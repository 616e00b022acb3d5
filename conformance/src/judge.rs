//! The judge: what a client did ([`crate::observation`]) against what a step expects
//! ([`crate::expectation`]). One function for every adapter (in process, subprocess, on the
//! wire) and for the model's own replay, so a vector means the same everywhere.
//!
//! A failure names the rule, the clause it comes from, and quotes what the client sent.

use crate::catalogue::Tier;
use crate::expectation::{
    Attr, BindingRule, ContentRule, DiscoverRule, Expectation, LinkRule, Listing, Presence,
    ReadRule, ResourceValue, SendRule,
};
use crate::links::{self, Element};
use crate::observation::{code_name, show_payload, ObservedResponse};
use crate::records;
use crate::wire::{CoapMessage, UriMap, LINK_FORMAT};
use bootstrap_model::path::Path;
use std::fmt;

/// What the judge needs beyond the vector: where the servers really are, and the client's
/// Endpoint Client Name.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The real URIs of the servers (an adapter's own, with its ports).
    pub uris: &'a UriMap,
    /// The Endpoint Client Name the client must use.
    pub endpoint: &'a str,
}

/// Why a step is not passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The client broke a rule. `tier` is lower than the vector's where the step checks
    /// behaviour the specification leaves to the client (a late message).
    Fail {
        /// What is wrong, quoting what the client sent.
        detail: String,
        /// The tier the failure counts at, when not the vector's.
        tier: Option<Tier>,
    },
    /// The client did not do what the rest of the vector needs, which the specification
    /// allows: the vector ends here, not observed.
    NotObserved(String),
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Fail { detail, .. } => f.write_str(detail),
            Finding::NotObserved(why) => write!(f, "not observed: {why}"),
        }
    }
}

fn fail(detail: impl Into<String>) -> Finding {
    Finding::Fail {
        detail: detail.into(),
        tier: None,
    }
}

/// Judges one step: the response (when the stimulus was a request) and the messages the
/// client sent next.
pub fn judge(
    ctx: Context<'_>,
    expect: &Expectation,
    response: Option<&ObservedResponse>,
    sends: &[CoapMessage],
) -> Result<(), Finding> {
    judge_response(ctx, expect, response)?;
    judge_sends(ctx, expect, sends)
}

/// Judges only the response part of a step.
pub fn judge_response(
    ctx: Context<'_>,
    expect: &Expectation,
    response: Option<&ObservedResponse>,
) -> Result<(), Finding> {
    match (&expect.response, response) {
        (None, None) => Ok(()),
        (None, Some(r)) => Err(fail(format!("expected no response, got {r}"))),
        (Some(e), None) => Err(fail(format!(
            "expected a response ({}), got none",
            e.codes.join(" or ")
        ))),
        (Some(e), Some(r)) => {
            if !e.codes.contains(&r.code) {
                let allowed: Vec<String> = e.codes.iter().map(|c| code_name(c)).collect();
                return Err(fail(format!(
                    "expected {}, got {}",
                    allowed.join(" or "),
                    with_payload(r)
                )));
            }
            match &e.content {
                Some(rule) if r.code == "2.05" => judge_content(ctx, rule, r),
                // A payload on an answer that has no content is diagnostic text at most
                // (RFC 7252 §5.5.2) and is not judged.
                _ => Ok(()),
            }
        }
    }
}

fn with_payload(r: &ObservedResponse) -> String {
    r.to_string()
}

fn judge_content(
    ctx: Context<'_>,
    rule: &ContentRule,
    r: &ObservedResponse,
) -> Result<(), Finding> {
    match rule {
        ContentRule::Discover(d) => judge_discover(ctx, d, r),
        ContentRule::Read(d) => judge_read(d, r),
    }
}

fn judge_discover(
    ctx: Context<'_>,
    rule: &DiscoverRule,
    r: &ObservedResponse,
) -> Result<(), Finding> {
    let Some(p) = &r.payload else {
        return Err(fail(
            "a 2.05 answer to Bootstrap-Discover without a payload (BS-DISC-01: link-format)",
        ));
    };
    if p.content_format != LINK_FORMAT {
        return Err(fail(format!(
            "Bootstrap-Discover answered in Content-Format {}, not link-format 40 (BS-DISC-01): {}",
            p.content_format,
            show_payload(p)
        )));
    }
    let text = text_of(p)?;
    let elements = links::parse(&text).map_err(|e| {
        fail(format!(
            "the Bootstrap-Discover answer is not link-format ({e}): {text}"
        ))
    })?;
    let quote = || format!("in {text}");
    match links::version_element(&elements) {
        None => {
            return Err(fail(format!(
                "no version element lwm2m={} (BS-DISC-02/BS-DISC-03) {}",
                rule.version.version,
                quote()
            )))
        }
        Some(v) if v.version != rule.version.version => {
            return Err(fail(format!(
                "the version element states lwm2m={}, the profile is {} (BS-DISC-03) {}",
                v.version,
                rule.version.version,
                quote()
            )))
        }
        Some(v) if !rule.version.styles.contains(&v.style) => {
            return Err(fail(format!(
                "the version element is in the {:?} style, which LwM2M {} does not allow (BS-DISC-03, A-02: {}) {}",
                v.style,
                rule.version.version,
                if rule.version.styles.contains(&links::VersionStyle::RootLink) {
                    "</>;lwm2m=..."
                } else {
                    "lwm2m=\"...\""
                },
                quote()
            )))
        }
        Some(_) => {}
    }
    let listed = listed(&elements, None);
    if let Some((path, e)) = listed.iter().find(|(p, _)| matches!(p, Path::Resource(..))) {
        return Err(fail(format!(
            "Bootstrap-Discover lists the resource {path} ({}): objects and instances only (BS-DISC-02) {}",
            e.text,
            quote()
        )));
    }
    judge_listing(ctx, &rule.listing, &listed, "Bootstrap-Discover")
        .map_err(|d| fail(format!("{d} {}", quote())))
}

/// The LwM2M paths of `elements`' links (under the alternate path `prefix`), each with its
/// element.
fn listed<'e>(elements: &'e [Element], prefix: Option<&str>) -> Vec<(Path, &'e Element)> {
    elements
        .iter()
        .filter_map(|e| Some((links::object_path(e.target.as_deref()?, prefix)?, e)))
        .collect()
}

/// Judges a list of objects and instances against `rule`; the error says what is wrong.
fn judge_listing(
    ctx: Context<'_>,
    rule: &Listing,
    listed: &[(Path, &Element)],
    what: &str,
) -> Result<(), String> {
    lists_no_forbidden_object(rule, listed, what)?;
    for req in &rule.required {
        let Some((_, e)) = listed.iter().find(|(p, _)| *p == req.path) else {
            return Err(format!(
                "{what} does not list {} ({})",
                req.path,
                why_required(req.path)
            ));
        };
        listed_ssid(req, e, what)?;
        listed_uri(ctx, req, e, what)?;
    }
    lists_every_supported_object(rule, listed, what)?;
    lists_nothing_gone(rule, listed, what)
}

/// BS-REG-04, BS-OBJ-02: no object the rule forbids (Security, OSCORE in Register) is listed.
fn lists_no_forbidden_object(
    rule: &Listing,
    listed: &[(Path, &Element)],
    what: &str,
) -> Result<(), String> {
    for (path, e) in listed {
        if path
            .object()
            .is_some_and(|o| rule.forbidden_objects.contains(&o))
        {
            return Err(format!(
                "{what} lists {} ({}), which must not be listed (BS-REG-04, BS-OBJ-02)",
                path, e.text
            ));
        }
    }
    Ok(())
}

/// BS-ACCT-03, BS-DISC-04: a required instance's `ssid` attribute is the Short Server ID
/// written, and the Bootstrap-Server Account has none.
fn listed_ssid(req: &LinkRule, e: &Element, what: &str) -> Result<(), String> {
    match &req.ssid {
        Attr::Any => Ok(()),
        Attr::Absent if e.has("ssid") => Err(format!(
            "{what} gives {} an ssid ({}), but the Bootstrap-Server Account has no Short Server ID (BS-ACCT-03, BS-DISC-04)",
            req.path, e.text
        )),
        Attr::Absent => Ok(()),
        Attr::Equals(want) => match e.attr("ssid") {
            Some(v) if v.trim().parse::<u16>() == Ok(*want) => Ok(()),
            Some(v) => Err(format!(
                "{what} gives {} ssid={v}, the Short Server ID written is {want} (BS-DISC-04): {}",
                req.path, e.text
            )),
            None => Err(format!(
                "{what} lists {} without ssid={want} (BS-DISC-04): {}",
                req.path, e.text
            )),
        },
    }
}

/// BS-DISC-04 (1.1+): a required instance's `uri` attribute is the server URI written.
fn listed_uri(ctx: Context<'_>, req: &LinkRule, e: &Element, what: &str) -> Result<(), String> {
    match &req.uri {
        Attr::Any => Ok(()),
        Attr::Absent if e.has("uri") => Err(format!(
            "{what} gives {} a uri attribute: {}",
            req.path, e.text
        )),
        Attr::Absent => Ok(()),
        Attr::Equals(u) => {
            let want = ctx.uris.uri(*u);
            match e.attr("uri") {
                Some(v) if v == want => Ok(()),
                Some(v) => Err(format!(
                    "{what} gives {} uri=\"{v}\", the URI written is \"{want}\" (BS-DISC-04): {}",
                    req.path, e.text
                )),
                None => Err(format!(
                    "{what} lists {} without uri=\"{want}\" (BS-DISC-04, 1.1+): {}",
                    req.path, e.text
                )),
            }
        }
    }
}

/// BS-DISC-02: every object the client supports is listed, as `</o>` when it has no instance.
fn lists_every_supported_object(
    rule: &Listing,
    listed: &[(Path, &Element)],
    what: &str,
) -> Result<(), String> {
    for o in &rule.required_objects {
        if !listed.iter().any(|(p, _)| p.object() == Some(*o)) {
            return Err(format!(
                "{what} does not list object /{o}, which every client supports (BS-DISC-02: an object without instance is listed as </{o}>)"
            ));
        }
    }
    Ok(())
}

/// BS-DEL-02, BS-CI-04, BS-FIN-06, BS-WIPE-01/03/04, BS-PACK-02: no instance that must be
/// gone is listed, nor an instance of an object the rule names completely.
fn lists_nothing_gone(
    rule: &Listing,
    listed: &[(Path, &Element)],
    what: &str,
) -> Result<(), String> {
    for (path, e) in listed {
        if rule.absent.contains(path) {
            return Err(format!(
                "{what} lists {path} ({}), which must be gone ({})",
                e.text,
                why_absent(*path)
            ));
        }
        if let Path::Instance(o, _) = path {
            if rule.complete.contains(o) && !rule.required.iter().any(|r| r.path == *path) {
                return Err(format!(
                    "{what} lists {path} ({}), but every instance of /{o} was deleted or replaced and {path} was not written since (BS-WIPE-03/04, BS-PACK-02)",
                    e.text
                ));
            }
        }
    }
    Ok(())
}

fn why_required(p: Path) -> &'static str {
    match p.object() {
        Some(0) => {
            "the Security instances, the Bootstrap-Server's included, are listed: BS-DISC-04"
        }
        Some(3) => "the Device instance is never deleted and is listed: BS-DEL-03, BS-DISC-02",
        _ => "an instance the configuration holds: BS-DISC-02, BS-WRITE-02",
    }
}

fn why_absent(p: Path) -> &'static str {
    match p.object() {
        Some(0) => "deleted, rolled back or never accepted: BS-DEL-02, BS-CI-04, BS-FIN-06",
        _ => "deleted or removed with its account: BS-DEL-02, BS-WIPE-01/03/04",
    }
}

fn text_of(p: &crate::wire::Encoded) -> Result<String, Finding> {
    let bytes = p
        .bytes()
        .map_err(|e| fail(format!("a payload the harness cannot read back: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        fail(format!(
            "a link-format payload that is not UTF-8: 0x{}",
            p.hex
        ))
    })
}

/// Judges a Bootstrap-Read answer against `rule`: in the format asked for
/// ([`read_in_accepted_format`]), decodable, holding what was written
/// ([`read_holds_written`]) and nothing else ([`read_holds_nothing_else`]).
fn judge_read(rule: &ReadRule, r: &ObservedResponse) -> Result<(), Finding> {
    read_in_accepted_format(r)?;
    let records = match &r.payload {
        // An object with no instance may be answered with an empty payload.
        None => Vec::new(),
        Some(p) => {
            let bytes = p
                .bytes()
                .map_err(|e| fail(format!("a payload the harness cannot read back: {e}")))?;
            records::decode(p.content_format, &bytes, rule.target).map_err(|e| {
                fail(format!(
                    "the Bootstrap-Read answer does not decode ({e}): {}",
                    show_payload(p)
                ))
            })?
        }
    };
    read_holds_written(rule, &records, r)?;
    read_holds_nothing_else(rule, &records, r)
}

/// The payload of `r` as quoted in a failure (empty without one).
fn shown(r: &ObservedResponse) -> String {
    r.payload.as_ref().map(show_payload).unwrap_or_default()
}

/// BS-READ-01 (RFC 7252 §5.10.4): a 2.05 comes in the Content-Format the Accept asked for.
fn read_in_accepted_format(r: &ObservedResponse) -> Result<(), Finding> {
    if let (Some(p), Some(a)) = (&r.payload, r.accept) {
        if p.content_format != a {
            return Err(fail(format!(
                "the Bootstrap-Read answer is in Content-Format {}, but the request's Accept asked for {a}: a 2.05 must come in that format, or the answer be 4.06 Not Acceptable (RFC 7252 §5.10.4; BS-READ-01): {}",
                p.content_format,
                show_payload(p)
            )));
        }
    }
    Ok(())
}

/// BS-READ-01, BS-WRITE-02: the answer holds every instance of the target with the values
/// written.
fn read_holds_written(
    rule: &ReadRule,
    records: &[records::Record],
    r: &ObservedResponse,
) -> Result<(), Finding> {
    let object = rule.target.object().unwrap_or_default();
    for want in &rule.instances {
        if !records.iter().any(|x| x.instance == want.instance) && !want.resources.is_empty() {
            return Err(fail(format!(
                "the Bootstrap-Read answer lacks /{object}/{} (BS-READ-01: every instance of the target): {}",
                want.instance,
                shown(r)
            )));
        }
        for res in &want.resources {
            let got: Vec<&records::Record> = records
                .iter()
                .filter(|x| x.instance == want.instance && x.resource == res.resource)
                .collect();
            let at = format!("/{object}/{}/{}", want.instance, res.resource);
            read_value_written(&at, &res.value, &got, r)?;
        }
    }
    Ok(())
}

/// BS-READ-01, BS-WRITE-02: the records `got` of the resource `at` hold the value written.
fn read_value_written(
    at: &str,
    value: &ResourceValue,
    got: &[&records::Record],
    r: &ObservedResponse,
) -> Result<(), Finding> {
    match value {
        ResourceValue::Single(v) => match got {
            [one] if one.resource_instance.is_none() && v.matches(&one.value) => Ok(()),
            [one] => Err(fail(format!(
                "{at} is {} in the Bootstrap-Read answer, the value written is {v} (BS-WRITE-02): {}",
                one.value,
                shown(r)
            ))),
            [] => Err(fail(format!(
                "the Bootstrap-Read answer lacks {at}, written as {v} (BS-READ-01, BS-WRITE-02): {}",
                shown(r)
            ))),
            _ => Err(fail(format!(
                "{at} appears {} times in the Bootstrap-Read answer: {}",
                got.len(),
                shown(r)
            ))),
        },
        ResourceValue::Multiple(instances) => {
            let ok = got.len() == instances.len()
                && instances.iter().all(|(ri, v)| {
                    got.iter()
                        .any(|x| x.resource_instance == Some(*ri) && v.matches(&x.value))
                });
            if ok {
                return Ok(());
            }
            let want: Vec<String> = instances
                .iter()
                .map(|(ri, v)| format!("{ri}: {v}"))
                .collect();
            Err(fail(format!(
                "{at} in the Bootstrap-Read answer differs from what was written ({{{}}}) (BS-WRITE-02): {}",
                want.join(", "),
                shown(r)
            )))
        }
    }
}

/// BS-DEL-02, BS-WIPE-03/04, BS-WRITE-04 (Core 1.2 §6.1.7.5): the answer holds no instance
/// that must be gone or that the configuration lacks, and no resource nobody wrote but a
/// default the rule allows.
fn read_holds_nothing_else(
    rule: &ReadRule,
    records: &[records::Record],
    r: &ObservedResponse,
) -> Result<(), Finding> {
    let object = rule.target.object().unwrap_or_default();
    for x in records {
        if rule.absent.contains(&x.instance) {
            return Err(fail(format!(
                "the Bootstrap-Read answer holds /{object}/{}, which must be gone (BS-DEL-02, BS-WIPE-03/04): {}",
                x.instance,
                shown(r)
            )));
        }
        let want = rule.instances.iter().find(|w| w.instance == x.instance);
        let Some(want) = want else {
            if rule.complete {
                return Err(fail(format!(
                    "the Bootstrap-Read answer holds /{object}/{}, which the configuration does not have: {}",
                    x.instance,
                    shown(r)
                )));
            }
            continue;
        };
        if want.factory || want.resources.iter().any(|r| r.resource == x.resource) {
            continue;
        }
        match rule.allowed.iter().find(|a| a.resource == x.resource) {
            Some(a) => match &a.value {
                None => {}
                Some(v) if x.resource_instance.is_none() && v.matches(&x.value) => {}
                Some(v) => {
                    return Err(fail(format!(
                        "{} = {} in the Bootstrap-Read answer: nobody wrote it, and only its default {v} may appear ({}; BS-WRITE-04): {}",
                        x.path(),
                        x.value,
                        a.why,
                        shown(r)
                    )))
                }
            },
            None => {
                return Err(fail(format!(
                    "the Bootstrap-Read answer holds {} = {}, which nobody wrote and which has no default: a supported optional resource absent from the payload MUST NOT be instantiated (BS-WRITE-04, Core 1.2 §6.1.7.5): {}",
                    x.path(),
                    x.value,
                    shown(r)
                )))
            }
        }
    }
    Ok(())
}

/// Judges the messages sent: one of the allowed sets, each rule matched by its own message,
/// in any order, besides messages the step tolerates.
pub fn judge_sends(
    ctx: Context<'_>,
    expect: &Expectation,
    sends: &[CoapMessage],
) -> Result<(), Finding> {
    let alternatives: Vec<&Vec<SendRule>> = std::iter::once(&expect.sends)
        .chain(&expect.or_sends)
        .collect();
    for alt in &alternatives {
        if matching(ctx, alt, &expect.tolerated, sends).is_some() {
            return Ok(());
        }
    }
    // Nothing wrong was sent, something required is missing: the step's `if_absent` says
    // how that counts.
    let nothing_wrong = sends.iter().all(|m| {
        alternatives
            .iter()
            .any(|alt| alt.iter().any(|r| problems(ctx, r, m).is_empty()))
            || expect
                .tolerated
                .iter()
                .any(|r| problems(ctx, r, m).is_empty())
    });
    // Every message sent has its place (a rule or a tolerated repeat) in an allowed set
    // that the step still does not meet: something that set requires is missing.
    let fewer = alternatives
        .iter()
        .any(|alt| covers(ctx, alt, &expect.tolerated, sends));
    let detail = explain(ctx, &expect.sends, &expect.tolerated, sends);
    match &expect.if_absent {
        Some(a) if nothing_wrong && fewer => match a.tier {
            Tier::May => Err(Finding::NotObserved(format!("{detail}; {}", a.why))),
            t => Err(Finding::Fail {
                detail: format!("{detail}; {}", a.why),
                tier: Some(t),
            }),
        },
        _ => Err(fail(detail)),
    }
}

/// Whether the step can still pass if the client sends more: the response is right and
/// every message sent so far has its place in one of the allowed sets (or is tolerated).
/// A driver waiting on the wire stops waiting when this is false.
pub fn could_still_pass(
    ctx: Context<'_>,
    expect: &Expectation,
    response: Option<&ObservedResponse>,
    sends: &[CoapMessage],
) -> bool {
    judge_response(ctx, expect, response).is_ok()
        && std::iter::once(&expect.sends)
            .chain(&expect.or_sends)
            .any(|alt| covers(ctx, alt, &expect.tolerated, sends))
}

/// A matching of `rules` to distinct messages of `sends` where every other message matches
/// a tolerated rule: the indices of the messages the rules took.
fn matching(
    ctx: Context<'_>,
    rules: &[SendRule],
    tolerated: &[SendRule],
    sends: &[CoapMessage],
) -> Option<Vec<usize>> {
    fn go(
        ctx: Context<'_>,
        rules: &[SendRule],
        sends: &[CoapMessage],
        used: &mut Vec<usize>,
    ) -> bool {
        let Some((first, rest)) = rules.split_first() else {
            return true;
        };
        for (i, m) in sends.iter().enumerate() {
            if used.contains(&i) || !problems(ctx, first, m).is_empty() {
                continue;
            }
            used.push(i);
            if go(ctx, rest, sends, used) {
                return true;
            }
            used.pop();
        }
        false
    }
    let mut used = Vec::new();
    if !go(ctx, rules, sends, &mut used) {
        return None;
    }
    let rest_ok = sends
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .all(|(_, m)| tolerated.iter().any(|r| problems(ctx, r, m).is_empty()));
    rest_ok.then_some(used)
}

/// Whether every message of `sends` can take a distinct rule of `rules` (or a tolerated
/// one): what was sent is a part of what is expected.
fn covers(
    ctx: Context<'_>,
    rules: &[SendRule],
    tolerated: &[SendRule],
    sends: &[CoapMessage],
) -> bool {
    fn go(
        ctx: Context<'_>,
        rules: &[SendRule],
        tolerated: &[SendRule],
        sends: &[CoapMessage],
        used: &mut Vec<usize>,
    ) -> bool {
        let Some((m, rest)) = sends.split_first() else {
            return true;
        };
        if tolerated.iter().any(|r| problems(ctx, r, m).is_empty())
            && go(ctx, rules, tolerated, rest, used)
        {
            return true;
        }
        for (i, r) in rules.iter().enumerate() {
            if used.contains(&i) || !problems(ctx, r, m).is_empty() {
                continue;
            }
            used.push(i);
            if go(ctx, rules, tolerated, rest, used) {
                return true;
            }
            used.pop();
        }
        false
    }
    go(ctx, rules, tolerated, sends, &mut Vec::new())
}

/// Why `sends` does not meet `rules`: the first rule no message meets, with what the
/// closest message got wrong, or the first message no rule takes.
fn explain(
    ctx: Context<'_>,
    rules: &[SendRule],
    tolerated: &[SendRule],
    sends: &[CoapMessage],
) -> String {
    let shown: Vec<String> = sends.iter().map(|m| m.to_string()).collect();
    let sent = if shown.is_empty() {
        "nothing".to_string()
    } else {
        shown.join("; ")
    };
    for r in rules {
        if sends.iter().any(|m| problems(ctx, r, m).is_empty()) {
            continue;
        }
        let closest = sends
            .iter()
            .filter(|m| same_kind(r, m))
            .map(|m| (m, problems(ctx, r, m)))
            .min_by_key(|(_, p)| p.len());
        return match closest {
            Some((m, p)) => format!(
                "expected {}; the client sent {m}, which {}",
                describe(ctx, r),
                p.join("; ")
            ),
            None => format!("expected {}, the client sent {sent}", describe(ctx, r)),
        };
    }
    if let Some(m) = sends.iter().find(|m| {
        !rules.iter().any(|r| problems(ctx, r, m).is_empty())
            && !tolerated.iter().any(|r| problems(ctx, r, m).is_empty())
    }) {
        return format!(
            "the client sent {m}, which the step does not allow here (it expects {})",
            expected_list(ctx, rules)
        );
    }
    format!(
        "expected {}, the client sent {sent}",
        expected_list(ctx, rules)
    )
}

fn expected_list(ctx: Context<'_>, rules: &[SendRule]) -> String {
    if rules.is_empty() {
        "nothing".to_string()
    } else {
        rules
            .iter()
            .map(|r| describe(ctx, r))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

/// A rule as a failure message states it.
pub fn describe(ctx: Context<'_>, r: &SendRule) -> String {
    let to = ctx.uris.uri(r.to());
    match r {
        SendRule::BootstrapRequest { .. } => {
            format!("a Bootstrap-Request POST {to}/bs?ep={}", ctx.endpoint)
        }
        SendRule::BootstrapPackRequest { .. } => {
            format!(
                "a Bootstrap-Pack-Request GET {to}/bspack?ep={}",
                ctx.endpoint
            )
        }
        SendRule::Register { lifetime, .. } => {
            format!("a Register POST {to}/rd?ep={}&lt={lifetime}", ctx.endpoint)
        }
        SendRule::Handshake { .. } => format!("a DTLS handshake (ClientHello) to {to}"),
    }
}

fn path_is(m: &CoapMessage, method: &str, segment: &str) -> bool {
    m.method == method && m.path.trim_matches('/') == segment
}

/// Whether `m` is the kind of message `r` asks for, to the same server (so that its
/// problems explain the failure).
fn same_kind(r: &SendRule, m: &CoapMessage) -> bool {
    match r {
        SendRule::BootstrapRequest { .. } => path_is(m, "POST", "bs"),
        SendRule::BootstrapPackRequest { .. } => path_is(m, "GET", "bspack"),
        SendRule::Register { .. } => path_is(m, "POST", "rd"),
        // A Register that came through explains best why the handshake was not it.
        SendRule::Handshake { .. } => m.is_handshake() || path_is(m, "POST", "rd"),
    }
}

fn query<'m>(m: &'m CoapMessage, key: &str) -> Vec<&'m str> {
    m.query
        .iter()
        .filter_map(|q| match q.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if q == key => Some(""),
            _ => None,
        })
        .collect()
}

fn one<'m>(m: &'m CoapMessage, key: &str, problems: &mut Vec<String>) -> Option<&'m str> {
    let v = query(m, key);
    if v.len() > 1 {
        problems.push(format!("carries {key}= {} times", v.len()));
    }
    v.first().copied()
}

/// Everything `m` gets wrong against `r`; empty when it meets the rule.
pub fn problems(ctx: Context<'_>, r: &SendRule, m: &CoapMessage) -> Vec<String> {
    let mut p = Vec::new();
    let to = ctx.uris.uri(r.to());
    if m.uri != to {
        p.push(format!("goes to {}, not {to}", m.uri));
    }
    match r {
        SendRule::BootstrapRequest {
            pct, device_info, ..
        } => bootstrap_request_problems(ctx, m, pct, *device_info, &mut p),
        SendRule::BootstrapPackRequest { accept, .. } => {
            pack_request_problems(ctx, m, accept, &mut p)
        }
        SendRule::Register { .. } if m.is_handshake() => {
            p.push("is a DTLS handshake, not a Register".into())
        }
        SendRule::Register { .. } => register_problems(ctx, r, m, &mut p),
        SendRule::Handshake { .. } if !m.is_handshake() => p.push(
            "is a CoAP request, not a DTLS handshake: the server holds another key than the client's account, so no session can come up (BS-SEC-05)".into(),
        ),
        SendRule::Handshake { .. } => {}
    }
    p
}

/// Whether Endpoint Client Name `ep` is the one `expected` names: that name, or, when
/// `expected` ends in `*`, any longer name it begins (a device profile's
/// `urn:imei:*`, for a fleet whose boards each have their own name).
pub fn endpoint_matches(expected: &str, ep: &str) -> bool {
    match expected.strip_suffix('*') {
        Some(prefix) => ep.len() > prefix.len() && ep.starts_with(prefix),
        None => ep == expected,
    }
}

/// The `ep=` query parameter: the client's Endpoint Client Name, where `presence` says it
/// must be there (`clause` names the requirements).
fn endpoint_problems(
    ctx: Context<'_>,
    m: &CoapMessage,
    presence: Presence,
    clause: &str,
    p: &mut Vec<String>,
) {
    match (one(m, "ep", p), presence) {
        (Some(v), _) if endpoint_matches(ctx.endpoint, v) => {}
        (Some(v), _) => p.push(format!("has ep={v}, not ep={} ({clause})", ctx.endpoint)),
        (None, Presence::Required) => p.push(format!("has no ep= ({clause})")),
        (None, Presence::Optional) => {}
    }
}

/// A Bootstrap-Request: POST /bs (BS-REQ-01) with ep= (BS-CI-02), a `pct=` this version has
/// (BS-REQ-02), the seed's Step 1 information (BS-RB-02), and no payload.
fn bootstrap_request_problems(
    ctx: Context<'_>,
    m: &CoapMessage,
    pct: &[u16],
    device_info: bool,
    p: &mut Vec<String>,
) {
    if !path_is(m, "POST", "bs") {
        p.push("is not POST /bs (BS-REQ-01)".into());
        return;
    }
    endpoint_problems(ctx, m, Presence::Required, "BS-CI-02, BS-REQ-01", p);
    match one(m, "pct", p) {
        None => {}
        Some(v) if pct.is_empty() => p.push(format!(
            "carries pct={v}, a parameter this version's Bootstrap-Request does not have (BS-REQ-01)"
        )),
        Some(v) if v.parse::<u16>().is_ok_and(|f| pct.contains(&f)) => {}
        Some(v) => p.push(format!(
            "carries pct={v}, not one of {:?} (BS-REQ-02)",
            pct
        )),
    }
    if device_info {
        for k in [
            bootstrap_model::seed_ext::DEVICE_INFO_QUERY,
            bootstrap_model::seed_ext::SECURITY_MODES_QUERY,
        ] {
            if query(m, k).is_empty() {
                p.push(format!(
                    "has no {k}= (the seed's Step 1 sends device information and supported security modes: BS-RB-02)"
                ));
            }
        }
    }
    if m.payload.as_ref().is_some_and(|x| !x.hex.is_empty()) {
        p.push("has a payload (BS-REQ-01: none)".into());
    }
}

/// A Bootstrap-Pack-Request (BS-PACK-01): GET /bspack with ep=, asking for a format the
/// rule accepts.
fn pack_request_problems(ctx: Context<'_>, m: &CoapMessage, accept: &[u16], p: &mut Vec<String>) {
    if !path_is(m, "GET", "bspack") {
        p.push("is not GET /bspack (BS-PACK-01)".into());
        return;
    }
    endpoint_problems(ctx, m, Presence::Required, "BS-PACK-01", p);
    if let Some(a) = m.accept {
        if !accept.contains(&a) {
            p.push(format!(
                "asks for Content-Format {a}, not one of {accept:?} (BS-PACK-01)"
            ));
        }
    }
}

/// A Register: POST /rd (BS-REG-01) with the parameters of BS-REG-03 (ep=, lt=, lwm2m=,
/// b=) and the object list ([`object_list_problems`]).
fn register_problems(ctx: Context<'_>, r: &SendRule, m: &CoapMessage, p: &mut Vec<String>) {
    let SendRule::Register {
        endpoint,
        lifetime,
        version,
        binding,
        objects,
        objects_optional,
        ..
    } = r
    else {
        return;
    };
    if !path_is(m, "POST", "rd") {
        p.push("is not POST /rd (BS-REG-01)".into());
        return;
    }
    endpoint_problems(ctx, m, *endpoint, "BS-REG-03", p);
    match one(m, "lt", p) {
        Some(v) if v.parse::<u32>() == Ok(*lifetime) => {}
        Some(v) => p.push(format!(
            "has lt={v}, the lifetime written is {lifetime} (BS-REG-03: lt = /1/y/1)"
        )),
        None => p.push(format!("has no lt= (BS-REG-03: lt = /1/y/1 = {lifetime})")),
    }
    if let Some(want) = version {
        match one(m, "lwm2m", p) {
            Some(v) if v == want => {}
            Some(v) => p.push(format!("has lwm2m={v}, the profile is {want} (BS-REG-03)")),
            None => p.push(format!(
                "has no lwm2m= (BS-REG-03: the enabler version, {want})"
            )),
        }
    }
    binding_problems(binding, one(m, "b", p), p);
    object_list_problems(ctx, m, objects, *objects_optional, p);
}

/// BS-REG-03: a Register's `b=`, if any: in 1.0 the binding written (/1/y/7), else one
/// including U since the client registers over UDP.
fn binding_problems(binding: &BindingRule, b: Option<&str>, p: &mut Vec<String>) {
    match (binding, b) {
        (_, None) => {}
        (BindingRule::EqualsWritten(w), Some(v)) if v == w => {}
        (BindingRule::EqualsWritten(w), Some(v)) => p.push(format!(
            "has b={v}: in 1.0 the binding MUST be the /1/y/7 written, {w} (BS-REG-03)"
        )),
        (BindingRule::IncludesUdp, Some(v))
            if v.contains('U') && v.chars().all(|c| "UTSNQMH".contains(c)) => {}
        (BindingRule::IncludesUdp, Some(v)) => p.push(format!(
            "has b={v}, which does not include U although the client registers over UDP (BS-REG-03)"
        )),
    }
}

/// BS-REG-01/BS-REG-04: a Register's object list, in link-format, lists objects and
/// instances only, as the rule `objects` says (judged as any listing, [`judge_listing`]).
fn object_list_problems(
    ctx: Context<'_>,
    m: &CoapMessage,
    objects: &Listing,
    optional: bool,
    p: &mut Vec<String>,
) {
    let Some(pl) = &m.payload else {
        if !optional {
            p.push("has no object list (BS-REG-01: the objects and instances)".into());
        }
        return;
    };
    if pl.content_format != LINK_FORMAT {
        p.push(format!(
            "carries Content-Format {}, not link-format",
            pl.content_format
        ));
        return;
    }
    let elements = match text_of(pl).map(|text| links::parse(&text)) {
        Err(e) => return p.push(e.to_string()),
        Ok(Err(e)) => return p.push(format!("has an object list that is not link-format ({e})")),
        Ok(Ok(elements)) => elements,
    };
    let alt = links::alternate_path(&elements);
    let list = listed(&elements, alt.as_deref());
    if let Some((path, _)) = list.iter().find(|(x, _)| matches!(x, Path::Resource(..))) {
        p.push(format!(
            "lists the resource {path}: objects and instances only"
        ));
    }
    if let Err(e) = judge_listing(ctx, objects, &list, "its object list") {
        p.push(e);
    }
}

#[cfg(test)]
mod tests;
