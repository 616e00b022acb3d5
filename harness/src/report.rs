//! The certification report: a human summary by tier and by requirement, a JSON report
//! (schema committed as `harness/schema/report.schema.json`) and JUnit XML for CI systems.
//! Every failing vector carries the failing step, expected vs actual, and the whole exchange
//! as a message sequence chart: text for the terminal, Mermaid in the report files.

use crate::run::{Arrow, Verdict};
use conformance::catalogue::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The whole run.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunReport {
    /// Suite name and version.
    pub suite: String,
    /// The client under test.
    pub client: ClientInfo,
    /// Counts per tier.
    pub tiers: Vec<TierSummary>,
    /// Counts per requirement ID.
    pub requirements: Vec<RequirementSummary>,
    /// `CERTIFIED` when every MUST vector passed and no expected failure passed;
    /// `PROFILE MATCHED, NOT CERTIFIED (...)` when every failure is one the client profile
    /// expects (a client with known deviations, as its vendor declared them); `NOT
    /// CERTIFIED` otherwise.
    pub outcome: String,
    /// The exit code the run ends with: 0 when the results are what the client profile
    /// says (certified, or profile matched), 1 otherwise.
    pub exit_code: i32,
    /// One entry per vector.
    pub results: Vec<VectorResult>,
}

/// Who was tested.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClientInfo {
    /// Name from the client profile.
    pub name: String,
    /// Version from the client profile.
    pub version: String,
    /// Profiles claimed.
    pub profiles: Vec<String>,
    /// The adapter (in-process, command line).
    pub adapter: String,
}

/// Counts for one tier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TierSummary {
    /// MUST, SHOULD or MAY.
    pub tier: String,
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Errors (hang, crash, protocol).
    pub error: usize,
    /// Skipped.
    pub skip: usize,
    /// Expected failures.
    pub xfail: usize,
    /// Expected failures that passed.
    pub xpass: usize,
}

/// Counts for one requirement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequirementSummary {
    /// Requirement ID.
    pub id: String,
    /// Vectors citing it that passed.
    pub pass: usize,
    /// That failed or errored (XPASS included).
    pub fail: usize,
    /// That were skipped or expected to fail.
    pub other: usize,
}

/// One vector's result.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VectorResult {
    /// Vector ID.
    pub id: String,
    /// Vector name.
    pub name: String,
    /// Profile.
    pub profile: String,
    /// Tier.
    pub tier: Tier,
    /// Title.
    pub title: String,
    /// Requirement IDs.
    pub requirements: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Wall time.
    pub seconds: f64,
    /// The exchange, for vectors that did not pass.
    pub exchange: Vec<Arrow>,
    /// The exchange as a Mermaid sequence diagram, for vectors that did not pass.
    pub mermaid: Option<String>,
    /// The datagrams, for vectors that did not pass on the wire.
    pub wire: Vec<crate::wirelog::WireEntry>,
    /// The end of the client program's stdout and stderr, for vectors that did not pass.
    pub client_output: Option<String>,
    /// How many prologue steps stood in for the vector's factory configuration (0: none):
    /// its step numbers count them (issue #10).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prologue_steps: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The evidence of a vector that did not pass, after its chart: the wire log and the
/// client's output, indented by `indent`.
fn evidence(v: &VectorResult, indent: &str) -> String {
    let mut s = String::new();
    if !v.wire.is_empty() {
        let _ = writeln!(s, "{indent}wire log:");
        for line in crate::wirelog::render(&v.wire).lines() {
            let _ = writeln!(s, "{indent}  {line}");
        }
    }
    if let Some(out) = v.client_output.as_ref().filter(|o| !o.is_empty()) {
        let _ = writeln!(s, "{indent}client output (end):");
        for line in out.lines() {
            let _ = writeln!(s, "{indent}  {line}");
        }
    }
    s
}

/// The tier a result counts at: the vector's, or lower where it failed at a step whose
/// timing the specification leaves to the client (a late message, a SHOULD failure).
pub fn counted_tier(r: &VectorResult) -> Tier {
    match &r.verdict {
        Verdict::Fail { tier: Some(t), .. } => r.tier.max(*t),
        _ => r.tier,
    }
}

/// Counts, outcome and exit code from the results.
pub fn summarise(suite: String, client: ClientInfo, results: Vec<VectorResult>) -> RunReport {
    let mut tiers: BTreeMap<Tier, TierSummary> = BTreeMap::new();
    let mut reqs: BTreeMap<String, RequirementSummary> = BTreeMap::new();
    let mut certified = true;
    let must_xfail = results
        .iter()
        .filter(|r| r.tier == Tier::Must && matches!(r.verdict, Verdict::Xfail { .. }))
        .count();
    for r in &results {
        let tier = counted_tier(r);
        let t = tiers.entry(tier).or_insert_with(|| TierSummary {
            tier: tier_name(tier).into(),
            ..TierSummary::default()
        });
        match &r.verdict {
            Verdict::Pass => t.pass += 1,
            Verdict::Fail { .. } => t.fail += 1,
            Verdict::Error { .. } => t.error += 1,
            Verdict::Skip { .. } => t.skip += 1,
            Verdict::Xfail { .. } => t.xfail += 1,
            Verdict::Xpass { .. } => t.xpass += 1,
        }
        if matches!(r.verdict, Verdict::Xpass { .. })
            || (tier == Tier::Must && r.verdict.is_failure())
        {
            certified = false;
        }
        for id in &r.requirements {
            let s = reqs
                .entry(id.clone())
                .or_insert_with(|| RequirementSummary {
                    id: id.clone(),
                    ..RequirementSummary::default()
                });
            match &r.verdict {
                Verdict::Pass => s.pass += 1,
                v if v.is_failure() => s.fail += 1,
                _ => s.other += 1,
            }
        }
    }
    RunReport {
        suite,
        client,
        tiers: tiers.into_values().collect(),
        requirements: reqs.into_values().collect(),
        outcome: match (certified, must_xfail) {
            (true, 0) => "CERTIFIED".into(),
            (true, n) => format!(
                "PROFILE MATCHED, NOT CERTIFIED ({n} MUST vectors fail as the client profile expects)"
            ),
            (false, _) => "NOT CERTIFIED".into(),
        },
        exit_code: if certified { 0 } else { 1 },
        results,
    }
}

/// Puts the JSON reports of partitioned runs (`--partition`) back together, as one run
/// of all their vectors would have reported: the same suite and client in each (else an
/// error naming the file), no vector in two of them, results in profile and name order,
/// counts, outcome and exit code summarised again. Each report comes with the file it was
/// read from, for errors.
pub fn merge(reports: Vec<(String, RunReport)>) -> Result<RunReport, String> {
    let Some((first_file, first)) = reports.first() else {
        return Err("--merge: no report given".into());
    };
    let (suite, client) = (first.suite.clone(), first.client.clone());
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut results = Vec::new();
    for (file, r) in &reports {
        if r.suite != suite {
            return Err(format!(
                "{file}: suite {:?}, but {first_file} has {suite:?}: reports of different suites do not merge",
                r.suite
            ));
        }
        if r.client.name != client.name
            || r.client.version != client.version
            || r.client.adapter != client.adapter
        {
            return Err(format!(
                "{file}: client {} {} via {}, but {first_file} has {} {} via {}: reports of different clients do not merge",
                r.client.name, r.client.version, r.client.adapter, client.name, client.version, client.adapter
            ));
        }
        for v in &r.results {
            let key = (v.profile.clone(), v.name.clone());
            if let Some(other) = seen.insert(key, file.clone()) {
                return Err(format!(
                    "{file}: {}/{} is also in {other}: the shares overlap (give each run its own --partition K/N)",
                    v.profile, v.name
                ));
            }
            results.push(v.clone());
        }
    }
    let mut client = client;
    for (_, r) in &reports {
        for p in &r.client.profiles {
            if !client.profiles.contains(p) {
                client.profiles.push(p.clone());
            }
        }
    }
    results.sort_by(|a, b| (&a.profile, &a.name).cmp(&(&b.profile, &b.name)));
    Ok(summarise(suite, client, results))
}

fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Must => "MUST",
        Tier::Should => "SHOULD",
        Tier::May => "MAY",
    }
}

/// The human summary printed at the end of a run.
pub fn summary_text(r: &RunReport) -> String {
    let mut s = String::new();
    summary_header(&mut s, r);
    prologue_note(&mut s, r);
    requirements_summary(&mut s, r);
    for v in &r.results {
        not_passed_text(&mut s, v);
    }
    let _ = writeln!(s, "\n{} (exit code {})", r.outcome, r.exit_code);
    s
}

/// The summary's first lines: suite, client, profiles, and the counts by tier.
fn summary_header(s: &mut String, r: &RunReport) {
    let _ = writeln!(
        s,
        "\n{} — {} ({}) via {}",
        r.suite, r.client.name, r.client.version, r.client.adapter
    );
    let _ = writeln!(s, "profiles: {}", r.client.profiles.join(", "));
    let _ = writeln!(
        s,
        "{:<7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "tier", "pass", "fail", "error", "skip", "xfail", "xpass"
    );
    for t in &r.tiers {
        let _ = writeln!(
            s,
            "{:<7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            t.tier, t.pass, t.fail, t.error, t.skip, t.xfail, t.xpass
        );
    }
}

/// How many vectors ran after a prologue, if any did.
fn prologue_note(s: &mut String, r: &RunReport) {
    let with_prologue = r
        .results
        .iter()
        .filter(|v| v.prologue_steps > 0 && !matches!(v.verdict, Verdict::Skip { .. }))
        .count();
    if with_prologue > 0 {
        let _ = writeln!(
            s,
            "{with_prologue} vectors ran after a prologue: their factory configuration is not in the client profile, so a bootstrap session gave the client the same objects first"
        );
    }
}

/// The requirements exercised, and those failing with their counts.
fn requirements_summary(s: &mut String, r: &RunReport) {
    let failing: Vec<&RequirementSummary> = r.requirements.iter().filter(|q| q.fail > 0).collect();
    if failing.is_empty() {
        let _ = writeln!(
            s,
            "requirements: {} exercised, none failing",
            r.requirements.len()
        );
    } else {
        let _ = writeln!(
            s,
            "requirements failing ({} of {}):",
            failing.len(),
            r.requirements.len()
        );
        for q in failing {
            let _ = writeln!(s, "  {:<12} {} failing, {} passing", q.id, q.fail, q.pass);
        }
    }
}

/// What the summary says of a verdict that is not PASS or SKIP: its word, the step it is
/// at (for FAIL and ERROR), and its detail; `None` for PASS and SKIP.
fn not_passed(verdict: &Verdict) -> Option<(&'static str, Option<usize>, String)> {
    Some(match verdict {
        Verdict::Fail {
            step,
            detail,
            declared,
            ..
        } => (
            "FAIL",
            Some(*step),
            match declared {
                Some(d) => {
                    format!("{detail}\n  fails differently than its client profile declares: {d}")
                }
                None => detail.clone(),
            },
        ),
        Verdict::Error { step, detail } => ("ERROR", Some(*step), detail.clone()),
        Verdict::Xfail { reason, detail } => {
            ("XFAIL", None, format!("{detail} (expected: {reason})"))
        }
        Verdict::Xpass { reason } => (
            "XPASS",
            None,
            format!("passed, but the client profile expects a failure: {reason}"),
        ),
        Verdict::Pass | Verdict::Skip { .. } => return None,
    })
}

/// A vector that did not pass (nothing for PASS and SKIP): verdict, title, where and why,
/// its chart and evidence.
fn not_passed_text(s: &mut String, v: &VectorResult) {
    let Some((what, step, detail)) = not_passed(&v.verdict) else {
        return;
    };
    let _ = writeln!(
        s,
        "\n{what} [{}] {}/{} ({})",
        tier_name(v.tier),
        v.profile,
        v.name,
        v.id
    );
    let _ = writeln!(s, "  {}", v.title);
    if v.prologue_steps > 0 {
        let _ = writeln!(
            s,
            "  played after a {}-step prologue from bootstrap-only (step numbers count it)",
            v.prologue_steps
        );
    }
    match step {
        Some(0) => {
            let _ = writeln!(s, "  at power-on: {detail}");
        }
        Some(n) => {
            let _ = writeln!(s, "  at step {n}: {detail}");
        }
        None => {
            let _ = writeln!(s, "  {detail}");
        }
    }
    if !v.exchange.is_empty() {
        s.push_str(&msc_text(&v.exchange, step));
    }
    s.push_str(&evidence(v, "  "));
}

/// The exchange as a text message sequence chart; the failing step is marked.
pub fn msc_text(arrows: &[Arrow], failing: Option<usize>) -> String {
    let mut s = String::new();
    let mut last = usize::MAX;
    for a in arrows {
        let label = if a.step != last {
            last = a.step;
            if a.step == 0 {
                "  boot".to_string()
            } else {
                format!("{:>6}", format!("{}.", a.step))
            }
        } else {
            "      ".to_string()
        };
        let mark = if Some(a.step) == failing { " ✗" } else { "" };
        let _ = writeln!(
            s,
            "{label} {:>6} ──▶ {:<6} {}{mark}",
            a.from, a.to, a.message
        );
    }
    s
}

/// The exchange as a Mermaid sequence diagram, with a note at the failing step.
pub fn mermaid(arrows: &[Arrow], failing: Option<(usize, &str)>) -> String {
    let mut s = String::from("sequenceDiagram\n");
    let mut parts: Vec<&str> = vec!["BS", "Client"];
    for a in arrows {
        for p in [a.from.as_str(), a.to.as_str()] {
            if !parts.contains(&p) {
                parts.push(p);
            }
        }
    }
    for p in &parts {
        let _ = writeln!(s, "    participant {p}");
    }
    let clean = |t: &str| t.replace([';', '#'], " ").replace('\n', " ");
    let mut last = usize::MAX;
    for a in arrows {
        if a.step != last {
            last = a.step;
            let _ = writeln!(
                s,
                "    Note over BS,Client: {}",
                if a.step == 0 {
                    "power-on".into()
                } else {
                    format!("step {}", a.step)
                }
            );
        }
        let arrow = if a.from == "Client" { "-->>" } else { "->>" };
        let _ = writeln!(s, "    {}{arrow}{}: {}", a.from, a.to, clean(&a.message));
        if let Some((n, detail)) = failing {
            if n == a.step
                && arrows
                    .iter()
                    .rposition(|x| x.step == n)
                    .is_some_and(|i| std::ptr::eq(&arrows[i], a))
            {
                let _ = writeln!(s, "    Note over Client: ✗ {}", clean(detail));
            }
        }
    }
    s
}

/// `t` escaped for XML text and attribute values.
fn xml_escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The JUnit counts of `vs`: failures (FAIL, XPASS), errors, skipped.
fn junit_counts(vs: &[&VectorResult]) -> (usize, usize, usize) {
    let count = |f: fn(&Verdict) -> bool| vs.iter().filter(|v| f(&v.verdict)).count();
    (
        count(|v| matches!(v, Verdict::Fail { .. } | Verdict::Xpass { .. })),
        count(|v| matches!(v, Verdict::Error { .. })),
        count(|v| matches!(v, Verdict::Skip { .. })),
    )
}

/// The report as JUnit XML: one test suite per profile, one test case per vector.
pub fn junit_xml(r: &RunReport) -> String {
    let esc = xml_escape;
    let mut by_profile: BTreeMap<&str, Vec<&VectorResult>> = BTreeMap::new();
    for v in &r.results {
        by_profile.entry(&v.profile).or_default().push(v);
    }
    let all: Vec<&VectorResult> = r.results.iter().collect();
    let (failures, errors, skipped) = junit_counts(&all);
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        esc(&r.suite),
        all.len(),
    );
    for (profile, vs) in by_profile {
        let time: f64 = vs.iter().map(|v| v.seconds).sum();
        let (failures, errors, skipped) = junit_counts(&vs);
        let _ = writeln!(
            s,
            "  <testsuite name=\"profile {}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">",
            esc(profile),
            vs.len(),
            time
        );
        for v in vs {
            junit_testcase(&mut s, profile, v);
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

/// One vector as a JUnit test case of the suite of `profile`.
fn junit_testcase(s: &mut String, profile: &str, v: &VectorResult) {
    let esc = xml_escape;
    let _ = write!(
        s,
        "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{:.3}\"",
        esc(profile),
        tier_name(v.tier),
        esc(&v.name),
        v.seconds
    );
    let chart = || esc(&(msc_text(&v.exchange, None) + &evidence(v, "")));
    match &v.verdict {
        Verdict::Pass => s.push_str("/>\n"),
        Verdict::Fail { step, detail, .. } => {
            let _ = writeln!(
                s,
                ">\n      <failure message=\"step {step}: {}\">{}</failure>\n    </testcase>",
                esc(detail),
                chart()
            );
        }
        Verdict::Error { step, detail } => {
            let _ = writeln!(
                s,
                ">\n      <error message=\"step {step}: {}\">{}</error>\n    </testcase>",
                esc(detail),
                chart()
            );
        }
        Verdict::Skip { reason } => {
            let _ = writeln!(
                s,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                esc(reason)
            );
        }
        Verdict::Xfail { reason, detail } => {
            let _ = writeln!(
                s,
                ">\n      <system-out>XFAIL: {} ({})</system-out>\n    </testcase>",
                esc(detail),
                esc(reason)
            );
        }
        Verdict::Xpass { reason } => {
            let _ = writeln!(
                s,
                ">\n      <failure message=\"XPASS: expected to fail ({})\"/>\n    </testcase>",
                esc(reason)
            );
        }
    }
}

/// The report as Markdown: the summary, and each failing vector with its Mermaid chart.
pub fn markdown(r: &RunReport) -> String {
    let mut s = format!(
        "# Certification report\n\n```\n{}```\n",
        summary_text(r).replace("```", "'''")
    );
    for v in r.results.iter().filter(|v| v.mermaid.is_some()) {
        let _ = writeln!(
            s,
            "\n## {}/{} ({})\n\n{}\n\n```mermaid\n{}```",
            v.profile,
            v.name,
            v.id,
            v.title,
            v.mermaid.as_deref().unwrap_or("")
        );
        let ev = evidence(v, "");
        if !ev.is_empty() {
            let _ = writeln!(s, "\n```text\n{}```", ev.replace("```", "'''"));
        }
    }
    s
}

/// The JSON Schema of the JSON report (committed as `harness/schema/report.schema.json`).
pub fn report_schema() -> String {
    conformance::vector::pretty(&schemars::schema_for!(RunReport))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(tier: Tier, verdict: Verdict) -> VectorResult {
        VectorResult {
            id: "bsv-0".into(),
            name: "v".into(),
            profile: "1.1".into(),
            tier,
            title: "t".into(),
            requirements: vec!["BS-DEL-03".into()],
            verdict,
            seconds: 0.0,
            exchange: Vec::new(),
            mermaid: None,
            wire: Vec::new(),
            client_output: None,
            prologue_steps: 0,
        }
    }

    fn code(results: Vec<VectorResult>) -> i32 {
        let client = ClientInfo {
            name: "c".into(),
            version: "1".into(),
            profiles: vec!["1.1".into()],
            adapter: "a".into(),
        };
        summarise("s".into(), client, results).exit_code
    }

    #[test]
    fn exit_code_policy() {
        let fail = || Verdict::Fail {
            step: 1,
            detail: "d".into(),
            tier: None,
            declared: None,
        };
        assert_eq!(code(vec![result(Tier::Must, Verdict::Pass)]), 0);
        assert_eq!(code(vec![result(Tier::Must, fail())]), 1, "a MUST failure");
        assert_eq!(
            code(vec![result(
                Tier::Must,
                Verdict::Error {
                    step: 0,
                    detail: "hang".into()
                }
            )]),
            1
        );
        assert_eq!(
            code(vec![
                result(Tier::Should, fail()),
                result(Tier::May, fail())
            ]),
            0,
            "SHOULD/MAY failures are reported, not fatal"
        );
        assert_eq!(
            code(vec![result(
                Tier::Must,
                Verdict::Xfail {
                    reason: "r".into(),
                    detail: "d".into()
                }
            )]),
            0
        );
        assert_eq!(
            code(vec![result(
                Tier::May,
                Verdict::Xpass { reason: "r".into() }
            )]),
            1,
            "a stale expected-failure list"
        );
        assert_eq!(
            code(vec![result(
                Tier::Must,
                Verdict::Skip { reason: "r".into() }
            )]),
            0
        );
    }

    #[test]
    fn junit_escapes_and_counts() {
        let client = ClientInfo {
            name: "c".into(),
            version: "1".into(),
            profiles: vec!["1.1".into()],
            adapter: "a".into(),
        };
        let r = summarise(
            "s<&>".into(),
            client,
            vec![result(
                Tier::Must,
                Verdict::Fail {
                    step: 2,
                    detail: "expected \"2.04\" <x>".into(),
                    tier: None,
                    declared: None,
                },
            )],
        );
        let x = junit_xml(&r);
        assert!(
            x.contains("name=\"s&lt;&amp;&gt;\" tests=\"1\" failures=\"1\""),
            "{x}"
        );
        assert!(x.contains("expected &quot;2.04&quot; &lt;x&gt;"), "{x}");
    }
}
