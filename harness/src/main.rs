//! `lwm2m-certify`: replays the vectors against a client, one libtest trial per vector, and
//! writes the certification report. With no arguments it certifies the bundled reference
//! client on all four profiles. Exit code: 0 only when every MUST vector passes (or fails as
//! the client profile expects) and no expected failure passes; 1 otherwise; 2 on bad input.

use bootstrap_model::profile::Profile;
use clap::Parser;
use conformance::load::Loader;
use conformance::vector::Vector;
use harness::adapter::AdapterFactory;
use harness::inprocess::InProcessFactory;
use harness::profile::ClientProfile;
use harness::report::{self, ClientInfo, VectorResult};
use harness::run::{run_vector, Verdict};
use harness::subprocess::SubprocessFactory;
use libtest_mimic::{Failed, Trial};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "lwm2m-certify",
    version,
    about = "Certify an LwM2M client's bootstrap against the suite's vectors"
)]
struct Cli {
    /// The client: `ref`, `mutant:NAME` (an injected bug), or a command line speaking the
    /// JSON-lines protocol (harness/PROTOCOL.md).
    #[arg(long, default_value = "ref")]
    client: String,
    /// The client profile (TOML). Default for `ref` and `mutant:`: every profile.
    #[arg(long, value_name = "FILE")]
    client_profile: Option<PathBuf>,
    /// Directory of vectors.
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
    /// Write report.json, report.xml (JUnit) and report.md (with Mermaid charts) here.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Run the suite against every injected bug and print the kill table.
    #[arg(long)]
    mutants: bool,
    /// Seconds to wait for each answer of the client.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    step_timeout: f64,
    #[command(flatten)]
    libtest: libtest_mimic::Arguments,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "{}",
                e.render()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("error: bad arguments")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn vectors_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let here = PathBuf::from("vectors");
        if here.is_dir() {
            here
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors")
        }
    })
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    if !(cli.step_timeout > 0.0 && cli.step_timeout <= 3600.0) {
        return Err(format!(
            "--step-timeout {}: expected seconds in (0, 3600]",
            cli.step_timeout
        ));
    }
    let timeout = Duration::from_secs_f64(cli.step_timeout);
    let dir = vectors_dir(cli.vectors.clone());
    let vectors: Vec<Vector> = Loader::new()
        .load_dir(&dir)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    if vectors.is_empty() {
        return Err(format!("{}: no vectors", dir.display()));
    }
    if cli.mutants {
        let rows = harness::mutants::kill_table(&vectors, timeout);
        print!("{}", harness::mutants::render(&rows));
        let killed = rows.iter().filter(|r| r.killed_by.is_some()).count();
        return Ok(if killed * 100 >= rows.len() * 95 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let factory: Arc<dyn AdapterFactory> = match InProcessFactory::parse(&cli.client) {
        Some(f) => Arc::new(f?),
        None => Arc::new(SubprocessFactory::new(&cli.client)?),
    };
    let profiles: Vec<ClientProfile> = match &cli.client_profile {
        Some(f) => vec![ClientProfile::load(f, &vectors)?],
        None if InProcessFactory::parse(&cli.client).is_some() => Profile::ALL
            .iter()
            .map(|p| ClientProfile::reference(*p))
            .collect(),
        None => {
            return Err(format!(
            "--client {:?}: a client program needs --client-profile FILE (which profile it claims)",
            cli.client
        ))
        }
    };
    let results: Arc<Mutex<Vec<VectorResult>>> = Arc::new(Mutex::new(Vec::new()));
    let mut trials = Vec::new();
    for cp in &profiles {
        for v in vectors.iter().filter(|v| v.profile == cp.profile) {
            let name = format!(
                "{}/{} [{}] {} {}",
                v.profile,
                v.name,
                v.id,
                v.requirements.join(","),
                v.tags.join(",")
            );
            let skip = cp.skip_reason(v);
            let xfail = cp.expected_failure(v).map(str::to_string);
            let (factory, results, v) = (Arc::clone(&factory), Arc::clone(&results), v.clone());
            let kind = format!("{:?}", v.tier).to_uppercase();
            let ignored = skip.is_some();
            let trial = Trial::test(name, move || {
                let (verdict, exchange, elapsed) = match &skip {
                    Some(reason) => (
                        Verdict::Skip {
                            reason: reason.clone(),
                        },
                        Vec::new(),
                        Duration::ZERO,
                    ),
                    None => run_vector(factory.as_ref(), &v, timeout),
                };
                let verdict = match (verdict, xfail) {
                    (Verdict::Pass, Some(reason)) => Verdict::Xpass { reason },
                    (
                        Verdict::Fail { step, detail } | Verdict::Error { step, detail },
                        Some(reason),
                    ) => Verdict::Xfail {
                        reason,
                        detail: format!("step {step}: {detail}"),
                    },
                    (v, _) => v,
                };
                let outcome: Result<(), Failed> = match &verdict {
                    Verdict::Fail { step, detail } | Verdict::Error { step, detail } => {
                        Err(format!("step {step}: {detail}").into())
                    }
                    Verdict::Xpass { reason } => {
                        Err(format!("XPASS: passed, but expected to fail ({reason})").into())
                    }
                    _ => Ok(()),
                };
                let failing = match &verdict {
                    Verdict::Fail { step, detail } | Verdict::Error { step, detail } => {
                        Some((*step, detail.clone()))
                    }
                    Verdict::Xfail { detail, .. } => Some((usize::MAX, detail.clone())),
                    _ => None,
                };
                let keep = !matches!(verdict, Verdict::Pass | Verdict::Skip { .. });
                let result = VectorResult {
                    id: v.id.clone(),
                    name: v.name.clone(),
                    profile: v.profile.clone(),
                    tier: v.tier,
                    title: v.title.clone(),
                    requirements: v.requirements.clone(),
                    verdict,
                    seconds: elapsed.as_secs_f64(),
                    mermaid: keep.then(|| {
                        report::mermaid(&exchange, failing.as_ref().map(|(s, d)| (*s, d.as_str())))
                    }),
                    exchange: if keep { exchange } else { Vec::new() },
                };
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(result);
                outcome
            })
            .with_kind(kind)
            .with_ignored_flag(ignored);
            trials.push(trial);
        }
    }
    let listing = cli.libtest.list;
    let conclusion = libtest_mimic::run(&cli.libtest, trials);
    if listing {
        return Ok(ExitCode::SUCCESS);
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    results.sort_by(|a, b| (&a.profile, &a.name).cmp(&(&b.profile, &b.name)));
    let first = &profiles[0];
    let client = ClientInfo {
        name: first.name.clone(),
        version: first.version.clone(),
        profiles: profiles.iter().map(|p| p.profile.clone()).collect(),
        adapter: factory.describe(),
    };
    let report = report::summarise(
        format!(
            "lwm2m bootstrap conformance suite {}",
            env!("CARGO_PKG_VERSION")
        ),
        client,
        results,
    );
    print!("{}", report::summary_text(&report));
    if let Some(dir) = &cli.report_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text)
                .map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        write("report.json", conformance::vector::pretty(&report))?;
        write("report.xml", report::junit_xml(&report))?;
        write("report.md", report::markdown(&report))?;
        println!("reports written to {}", dir.display());
    }
    let _ = conclusion;
    Ok(ExitCode::from(report.exit_code as u8))
}
