//! The client profile: a TOML file the vendor writes. It names the client, the profile it
//! claims (`seed`, `1.0`, `1.1`, `1.2`), the content formats and optional features it
//! supports, and the vectors it is expected to fail, each with the reason. Vectors needing
//! what the client does not support are skipped with that reason; an expected failure is
//! reported as XFAIL, and as an error (XPASS) when it passes, so a stale list is noticed.
//!
//! ```toml
//! name = "acme-lwm2m"
//! version = "2.3.1"
//! profile = "1.1"
//! content_formats = [11542, 110, 0, 42, 40]
//!
//! # Factory configurations the launcher can give the client (on the wire; default:
//! # bootstrap-only, the one a bootstrap URI on the command line gives).
//! factories = ["bootstrap-only"]
//!
//! [features]
//! bootstrap_pack = false
//! access_control = true               # the Access Control object (optional, LwM2M-OBJ-003-C-O)
//! server_initiated_bootstrap = true   # 1.0: accepts pushes without a request (LwM2M-BOOT-005-C-O)
//! finish_consistency_check = true     # 1.0: Finish answers 4.06 when inconsistent (LwM2M-BOOT-016-C-O)
//!
//! [[expected_failures]]
//! vector = "bsv-86081e60da88"          # ID or file name of the vector
//! step = 4                             # where it fails, as the report numbers steps
//! detail = "4.04 Not Found"            # a piece of the failure's detail
//! reason = "Discover of /3 answers 4.04 (ticket ACME-12)"
//! ```

use bootstrap_model::profile::Profile;
use bootstrap_model::system::Factory;
use conformance::vector::Vector;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A vendor's client profile.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientProfile {
    /// Client name, for the report.
    pub name: String,
    /// Client version, for the report.
    pub version: String,
    /// The profile the client claims.
    pub profile: String,
    /// Content-Format numbers the client accepts in Bootstrap-Write and answers
    /// Bootstrap-Read in, the preferred first (default: TLV, SenML JSON, plain text,
    /// opaque; SenML CBOR is 112, LwM2M CBOR 11544). On the wire the harness sends the
    /// first of them a vector's payload has and asks a Bootstrap-Read for the first of TLV
    /// (11542), SenML JSON (110), SenML CBOR (112) and LwM2M CBOR (11544) listed.
    #[serde(default = "default_formats")]
    pub content_formats: Vec<u16>,
    /// The factory configurations (BS-FACT-01) the client can be started in, by name:
    /// `bootstrap-only`, `server-and-bootstrap`, `server-only`. Vectors starting from
    /// another are skipped. Default: `bootstrap-only`.
    #[serde(default = "default_factories")]
    pub factories: Vec<String>,
    /// Timing rules the client is known to break, by requirement ID (`BS-FACT-05`: it does
    /// not wait the Client Hold Off Time). On the wire a violation of one of them does not
    /// end the vector, so that the rest of it is still checked; the vector is then XFAIL at
    /// best, never PASS.
    #[serde(default)]
    pub timing_deviations: Vec<String>,
    /// The device's own Endpoint Client Name (BS-CI-02), for a device whose name is fixed
    /// (`urn:imei:...`), or a prefix ending in `*` (`urn:imei:*`, boards of one fleet): the
    /// vectors' `ep` is checked against it and `{endpoint}` gives it. `None`: the client
    /// takes the name each vector gives (`urn:dev:ref-1`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The device's factory Client Hold Off Time in seconds (/0/x/11 of its factory
    /// Bootstrap-Server Account, BS-FACT-05), when it is fixed and cannot be provisioned
    /// with the vectors' 1 s: the vectors' factory account takes this value, so that the
    /// harness waits the device's own hold-off and judges its timing against it (a vector
    /// whose order this makes impossible in real time is skipped with the reason).
    #[serde(default)]
    pub hold_off: Option<u16>,
    /// Optional features.
    #[serde(default)]
    pub features: Features,
    /// Vectors the client is known to fail.
    #[serde(default)]
    pub expected_failures: Vec<ExpectedFailure>,
}

/// Optional features a client may have. A vector that needs one the client lacks is
/// skipped, the feature named.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Whether the client uses Bootstrap-Pack-Request (1.2, BS-PACK-01). Absent: the
    /// adapter follows each vector's assumption (only the in-process reference can).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_pack: Option<bool>,
    /// Whether the client has the Access Control object (default true; optional in every
    /// version: LwM2M-OBJ-003-C-O, BS-OBJ-05). A client without it runs the single-server
    /// vectors of BS-OBJ-05, one with it skips them. Absent only from the bundled reference's
    /// built-in profile: its adapters build each vector's client with or without the object.
    #[serde(default = "some_yes", skip_serializing_if = "Option::is_none")]
    pub access_control: Option<bool>,
    /// Whether a 1.0 client accepts bootstrap commands no Bootstrap-Request preceded
    /// (Server Initiated Bootstrap; default true; optional in 1.0: LwM2M-BOOT-005-C-O).
    #[serde(default = "yes")]
    pub server_initiated_bootstrap: bool,
    /// Whether a 1.0 client refuses an inconsistent configuration at Finish with 4.06
    /// (default true; optional in 1.0: LwM2M-BOOT-016-C-O; required in 1.1+).
    #[serde(default = "yes")]
    pub finish_consistency_check: bool,
}

fn yes() -> bool {
    true
}

fn some_yes() -> Option<bool> {
    Some(true)
}

impl Default for Features {
    fn default() -> Features {
        Features {
            bootstrap_pack: None,
            access_control: Some(true),
            server_initiated_bootstrap: true,
            finish_consistency_check: true,
        }
    }
}

/// One expected failure, pinned to where and how the client fails (issue #10): a failure
/// at another step, or whose detail does not contain `detail`, is not this one, and the
/// vector FAILs as failing differently than declared.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// Vector ID (`bsv-...`) or name.
    pub vector: String,
    /// The step the failure is at, as the report numbers it (0: power-on; one past the
    /// last step: after it; a vector played after a prologue counts the prologue's steps).
    pub step: usize,
    /// A piece of the failure's detail, as the report prints it (case-sensitive).
    pub detail: String,
    /// Why the client fails it: the deviation from the specification.
    pub reason: String,
}

impl ExpectedFailure {
    /// Whether a failure at `step` with `detail` is this one.
    pub fn matches(&self, step: usize, detail: &str) -> bool {
        self.step == step && detail.contains(&self.detail)
    }

    /// The declared failure, in words, for a report.
    pub fn describe(&self) -> String {
        format!(
            "at step {}, with \"{}\" ({})",
            self.step, self.detail, self.reason
        )
    }
}

fn default_factories() -> Vec<String> {
    vec![Factory::BootstrapOnly.name().to_string()]
}

fn default_formats() -> Vec<u16> {
    vec![11542, 110, 0, 42]
}

/// Gives the Bootstrap-Server Account of a factory configuration the Client Hold Off Time
/// `seconds` (a device's fixed value, [`ClientProfile::hold_off`]).
pub fn fix_hold_off(factory: &mut bootstrap_model::store::ObjectStore, seconds: u16) {
    for (_, s) in factory.security.iter_mut() {
        if s.is_bootstrap() {
            s.hold_off = Some(seconds);
        }
    }
}

impl ClientProfile {
    /// The built-in profile of the bundled reference client claiming `profile`.
    pub fn reference(profile: Profile) -> ClientProfile {
        ClientProfile {
            name: "lwm2m-bootstrap-model reference client".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            profile: profile.name().into(),
            // TLV, SenML JSON, SenML CBOR, LwM2M CBOR, plain text, opaque: what it takes on
            // the wire (the harness picks the first a vector has, TLV, in every profile).
            content_formats: crate::reference_node::NodeConfig::ALL_FORMATS.to_vec(),
            factories: Factory::ALL.iter().map(|f| f.name().to_string()).collect(),
            timing_deviations: Vec::new(),
            endpoint: None,
            hold_off: None,
            features: Features {
                access_control: None,
                ..Features::default()
            },
            expected_failures: Vec::new(),
        }
    }

    /// The built-in profile of the bundled reference client with the conforming variations
    /// `vary`: the optional features they drop are declared absent.
    pub fn reference_with(
        profile: Profile,
        vary: &conformance::observation::Variations,
    ) -> ClientProfile {
        let mut p = ClientProfile::reference(profile);
        if vary.no_access_control {
            p.features.access_control = Some(false);
        }
        p.features.server_initiated_bootstrap = !vary.no_server_push;
        p
    }

    /// Reads and checks a profile file against the loaded vectors; the error names the file
    /// and the unknown key, bad value or unknown vector.
    pub fn load(file: &Path, vectors: &[Vector]) -> Result<ClientProfile, String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        let p: ClientProfile = toml::from_str(&text).map_err(|e| {
            let msg = e.message().to_string();
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].lines().count().max(1);
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            format!("{}: {at}{msg}", file.display())
        })?;
        if p.profile.parse::<Profile>().is_err() {
            return Err(format!(
                "{}: profile = {:?}: unknown profile (expected seed, 1.0, 1.1 or 1.2)",
                file.display(),
                p.profile
            ));
        }
        for f in &p.factories {
            if !Factory::ALL.iter().any(|x| x.name() == f) {
                return Err(format!(
                    "{}: factories: unknown factory configuration {f:?} (expected bootstrap-only, server-and-bootstrap or server-only)",
                    file.display()
                ));
            }
        }
        let v1_0 = matches!(p.profile.as_str(), "1.0" | "seed");
        if !p.features.finish_consistency_check && !v1_0 {
            return Err(format!(
                "{}: features.finish_consistency_check = false: only a 1.0 client may lack the check (LwM2M-BOOT-016-C-O); in {} Finish must answer 4.06 to an inconsistent configuration (BS-FIN-02)",
                file.display(),
                p.profile
            ));
        }
        for x in &p.expected_failures {
            if !vectors
                .iter()
                .any(|v| v.id == x.vector || v.name == x.vector)
            {
                return Err(format!(
                    "{}: expected_failures: unknown vector {:?}",
                    file.display(),
                    x.vector
                ));
            }
        }
        Ok(p)
    }

    /// Why the client cannot run `v`, if it cannot.
    pub fn skip_reason(&self, v: &Vector) -> Option<String> {
        let f = &v.features;
        if f.access_control && self.features.access_control == Some(false) {
            return Some("needs the Access Control object (the client profile says it has none: optional, LwM2M-OBJ-003-C-O)".into());
        }
        if f.no_access_control && self.features.access_control == Some(true) {
            return Some("needs a client without the Access Control object, which must refuse a multi-server configuration (BS-OBJ-05; the client profile says it has the object)".into());
        }
        if f.server_initiated_bootstrap && !self.features.server_initiated_bootstrap {
            return Some("needs 1.0 Server Initiated Bootstrap, commands without a Bootstrap-Request (the client profile says it has none: optional, LwM2M-BOOT-005-C-O)".into());
        }
        if f.finish_consistency_check && !self.features.finish_consistency_check {
            return Some("needs Finish to refuse an inconsistent configuration (the client profile says it does not check: optional in 1.0, LwM2M-BOOT-016-C-O)".into());
        }
        if let (Some(want), Some(has)) = (v.features.bootstrap_pack, self.features.bootstrap_pack) {
            if want != has {
                return Some(if want {
                    "needs Bootstrap-Pack-Request (the client profile says it has none)".into()
                } else {
                    "assumes a client without Bootstrap-Pack-Request".into()
                });
            }
        }
        for (n, s) in v.steps.iter().enumerate() {
            let Some(r) = &s.request else { continue };
            let success = s
                .expect
                .response
                .as_ref()
                .is_some_and(|e| e.codes.first().is_some_and(|c| c.starts_with('2')));
            if success
                && !r.payloads.is_empty()
                && !r
                    .payloads
                    .iter()
                    .any(|p| self.content_formats.contains(&p.content_format))
            {
                let formats: Vec<String> = r
                    .payloads
                    .iter()
                    .map(|p| p.content_format.to_string())
                    .collect();
                return Some(format!(
                    "step {} needs one of the content formats {} (the client profile lists {:?})",
                    n + 1,
                    formats.join(", "),
                    self.content_formats
                ));
            }
        }
        None
    }

    /// Why a client launched on the wire cannot start as `v` needs, if it cannot: the
    /// launcher gives it only the factory configurations its profile lists (the JSON-lines
    /// protocol hands every adapter the whole configuration instead).
    pub fn factory_skip(&self, v: &Vector) -> Option<String> {
        (!self.factories.iter().any(|f| f == v.factory.name())).then(|| {
            format!(
                "starts from the factory configuration {} (the client profile lists {:?})",
                v.factory.name(),
                self.factories
            )
        })
    }

    /// The failure the client is expected to have in `v`, if it is.
    pub fn expected_failure(&self, v: &Vector) -> Option<&ExpectedFailure> {
        self.expected_failures
            .iter()
            .find(|x| x.vector == v.id || x.vector == v.name)
    }
}

/// A piece of a failure's detail to pin an expected failure to: of its first line, the
/// longest stretch without a value that changes from run to run (a port or Message ID: four
/// or more digits; a token: six or more hex digits; a time in seconds; anything in
/// brackets, such as a log's timestamp) and before the client's own output, at most 80
/// characters, cut at a word.
pub fn pin_detail(detail: &str) -> String {
    static VARIABLE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let variable = VARIABLE.get_or_init(|| {
        regex::Regex::new(r"\d{4,}|\b[0-9a-f]{6,}\b|\d+(\.\d+)? s\b|\[[^\]]*\]?")
            .expect("a valid pattern")
    });
    let line = detail.lines().next().unwrap_or("");
    // The client's own output, quoted after this, is not the harness's words.
    let line = line.split("stderr ends with").next().unwrap_or(line);
    let best = variable
        .split(line)
        .map(|p| p.trim_matches([' ', ',', ':', ';', '"', '\'', '=', '/', '&']))
        .max_by_key(|p| p.chars().count())
        .filter(|p| !p.is_empty())
        // Nothing but changing values: the line itself, so that the pin is never empty
        // (an empty pin would match any failure at the step).
        .unwrap_or(line.trim());
    if best.chars().count() <= 80 {
        return best.to_string();
    }
    let mut cut: String = best.chars().take(80).collect();
    if let Some(k) = cut.rfind(' ') {
        cut.truncate(k);
    }
    cut.trim_end_matches([' ', ',', ':', ';', '(']).to_string()
}

/// A draft client profile from a run (`lwm2m-certify --write-profile`): `base` with its
/// expected failures replaced by what the run showed, for the vendor to review. Each
/// vector that failed gets an entry pinned to its step and to a piece of its detail
/// ([`pin_detail`]), keeping the reason `base` gave it, if any, else a reason to be
/// written; an expected failure that passed (XPASS) is dropped; those of vectors that did
/// not run are kept as they were.
pub fn draft(base: &ClientProfile, results: &[crate::report::VectorResult]) -> String {
    use crate::run::Verdict;
    let mut out = base.clone();
    out.expected_failures.clear();
    let old = |name: &str, id: &str| {
        base.expected_failures
            .iter()
            .find(|x| x.vector == name || x.vector == id)
    };
    for x in &base.expected_failures {
        let ran = results
            .iter()
            .find(|r| r.profile == base.profile && (x.vector == r.name || x.vector == r.id));
        if ran.is_none_or(|r| matches!(r.verdict, Verdict::Skip { .. })) {
            out.expected_failures.push(x.clone());
        }
    }
    for r in results.iter().filter(|r| r.profile == base.profile) {
        match &r.verdict {
            Verdict::Xfail { .. } => {
                if let Some(x) = old(&r.name, &r.id) {
                    out.expected_failures.push(x.clone());
                }
            }
            Verdict::Fail { step, detail, .. } | Verdict::Error { step, detail } => {
                out.expected_failures.push(ExpectedFailure {
                    vector: r.name.clone(),
                    step: *step,
                    detail: pin_detail(detail),
                    reason: old(&r.name, &r.id).map_or_else(
                        || {
                            "TO REVIEW: the deviation from the specification this failure shows"
                                .into()
                        },
                        |x| x.reason.clone(),
                    ),
                });
            }
            _ => {}
        }
    }
    out.expected_failures
        .sort_by(|a, b| a.vector.cmp(&b.vector));
    let body = toml::to_string(&out).unwrap_or_else(|e| format!("# cannot write: {e}\n"));
    format!(
        "# Draft client profile written by lwm2m-certify --write-profile from a run of {} vectors.\n# Review every expected failure: its step and detail pin where and how the client fails,\n# and its reason must name the deviation from the specification.\n{body}",
        results.iter().filter(|r| r.profile == base.profile).count()
    )
}

#[cfg(test)]
mod tests {
    use super::pin_detail;

    /// What changes from run to run is never pinned; what names the failure is.
    #[test]
    fn a_pin_leaves_out_ports_tokens_times_and_timestamps() {
        let d = "expected a Register POST coap://127.0.0.1:34361/rd?ep=urn:dev:ref-1&lt=300; the client sent POST coap://127.0.0.1:34361/rd?ep=urn:dev:ref-1&lt=86400, which has lt=86400, the lifetime written is 300 (BS-REG-03: lt = /1/y/1)";
        let p = pin_detail(d);
        assert!(d.contains(&p) && p.len() >= 20 && p.len() <= 80, "{p}");
        assert!(!p.contains("34361") && !p.contains("86400"), "{p}");
        let p = pin_detail(
            "the client exited (exit status: 1); stderr ends with: coap-node: [   2.291] FATAL",
        );
        assert_eq!(p, "the client exited (exit status: 1)");
        let p = pin_detail(
            "came 0.9 s too early: the Client Hold Off Time had not passed (BS-FACT-05)",
        );
        assert_eq!(
            p,
            "too early: the Client Hold Off Time had not passed (BS-FACT-05)"
        );
        assert_eq!(
            pin_detail("tok=ab778649 rejected with a Reset"),
            "rejected with a Reset"
        );
    }
}
