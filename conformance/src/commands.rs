//! The `generate` and `coverage` subcommands.

use bootstrap_model::bugs::Bug;
use bootstrap_model::profile::Profile;
use conformance::files;
use conformance::generate::{self, ProfileCoverage};
use conformance::load::Loader;
use conformance::vector::Vector;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn parse_profiles(names: &[String]) -> Result<Vec<Profile>, String> {
    if names.is_empty() {
        return Ok(Profile::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| n.parse::<Profile>().map_err(|e| e.to_string()))
        .collect()
}

/// `generate`: writes the vectors, or compares them with `--check`.
pub fn generate(
    profiles: Vec<String>,
    out: PathBuf,
    check: bool,
    threads: Option<u16>,
) -> Result<ExitCode, String> {
    let profiles = parse_profiles(&profiles)?;
    let cfg = generate::default_config();
    let threads = threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let start = Instant::now();
    let outputs = files::generate_all(&profiles, &cfg, threads)?;
    let secs = start.elapsed().as_secs_f64();
    let total: usize = outputs.iter().map(|o| o.vectors.len()).sum();
    println!(
        "generated {total} vectors for {} profile(s) in {secs:.2} s ({:.0} vectors/s, {threads} thread(s))",
        outputs.len(),
        total as f64 / secs
    );
    for o in &outputs {
        println!(
            "  profile {}: {} vectors from {} explored paths",
            o.profile,
            o.vectors.len(),
            o.explored
        );
    }
    let mut rendered = files::render(&outputs, &cfg);
    if profiles.len() != Profile::ALL.len() {
        rendered.remove(&PathBuf::from("manifest.json"));
        rendered.remove(&PathBuf::from("coverage.json"));
    }
    print_coverage(&files::coverage_of(&outputs));
    if check {
        let diffs = files::differences(&out, &rendered);
        if diffs.is_empty() {
            println!("{}: up to date ({} files)", out.display(), rendered.len());
            return Ok(ExitCode::SUCCESS);
        }
        for d in &diffs {
            println!("{}: {d}", out.display());
        }
        println!(
            "{} difference(s): run `cargo run --release -p lwm2m-conformance -- generate` and review the diff",
            diffs.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let n = files::write(&out, &rendered).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("wrote {n} files under {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// `coverage`: the coverage of the vectors in `dir`, and with `bugs` the kill table.
pub fn coverage(dir: PathBuf, bugs: bool) -> Result<ExitCode, String> {
    let loader = Loader::new();
    let loaded = loader.load_dir(&dir).map_err(|e| e.to_string())?;
    if loaded.is_empty() {
        return Err(format!("{}: no vector files", dir.display()));
    }
    let cfg = generate::default_config();
    let mut reports = Vec::new();
    for p in Profile::ALL {
        let vs: Vec<Vector> = loaded
            .iter()
            .filter(|(_, v)| v.profile == p.name())
            .map(|(_, v)| v.clone())
            .collect();
        if vs.is_empty() {
            continue;
        }
        let reachable = generate::reachable_classes(p, &cfg)?;
        reports.push(generate::coverage(p, &vs, &reachable));
    }
    print_coverage(&reports);
    let complete = reports
        .iter()
        .all(|r| r.transitions_missing.is_empty() && r.requirements_missing.is_empty());
    let mut ok = complete;
    if bugs {
        ok &= bug_table(&loaded.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_coverage(reports: &[ProfileCoverage]) {
    println!(
        "{:<8} {:>7} {:>5} {:>6} {:>4} {:>22} {:>24}",
        "profile",
        "vectors",
        "MUST",
        "SHOULD",
        "MAY",
        "transitions (covered)",
        "requirements (covered)"
    );
    for r in reports {
        let t = |k: &str| r.vectors_per_tier.get(k).copied().unwrap_or(0);
        println!(
            "{:<8} {:>7} {:>5} {:>6} {:>4} {:>14}/{:<3} {:>3.0}% {:>16}/{:<3} {:>3.0}%",
            r.profile,
            r.vectors,
            t("MUST"),
            t("SHOULD"),
            t("MAY"),
            r.transitions_covered,
            r.transitions_reachable,
            100.0 * r.transitions_covered as f64 / r.transitions_reachable.max(1) as f64,
            r.requirements_covered,
            r.requirements_observable,
            100.0 * r.requirements_covered as f64 / r.requirements_observable.max(1) as f64,
        );
        for m in &r.transitions_missing {
            println!("         transition not covered: {m}");
        }
        for m in &r.requirements_missing {
            println!("         requirement not covered: {m}");
        }
    }
    // The requirements no vector exercises, by group (issue #10): a scope decision is not
    // an impossibility.
    type Listed = fn(&ProfileCoverage) -> &Vec<(String, String)>;
    let groups: [(&str, Listed); 4] = [
        ("unobservable on any interface", |r| {
            &r.requirements_unobservable
        }),
        ("out of scope today", |r| &r.requirements_out_of_scope),
        ("not yet exercised", |r| &r.requirements_not_yet_exercised),
        ("checked by the transport (--dtls), not a step", |r| {
            &r.requirements_by_transport
        }),
    ];
    for (title, of) in groups {
        let mut seen = std::collections::BTreeSet::new();
        let mut lines = Vec::new();
        for r in reports {
            for (id, why) in of(r) {
                if seen.insert(id.clone()) {
                    lines.push(format!("         {id}: {why}"));
                }
            }
        }
        println!("{title} ({}):", lines.len());
        for l in lines {
            println!("{l}");
        }
    }
}

/// Replays every vector against every injected bug; prints the first vector that catches
/// each. Returns whether every bug a vector can observe was caught (the others are listed
/// with the reason: [`Bug::unobservable_by_vectors`]), and none of those was.
pub fn bug_table(vectors: &[Vector]) -> bool {
    let (mut caught, mut unobservable, mut wrong) = (0, 0, 0);
    println!(
        "{:<42} {:<5} {:<60} detail",
        "bug", "prof.", "first vector that catches it (step)"
    );
    for bug in Bug::ALL {
        let hit = conformance::replay::first_catch(*bug, vectors);
        match (hit, bug.unobservable_by_vectors()) {
            (Some((v, m)), why) => {
                caught += 1;
                if why.is_some() {
                    wrong += 1;
                }
                let detail: String = m.detail.chars().take(90).collect();
                println!(
                    "{:<42} {:<5} {:<60} {detail}",
                    bug.name(),
                    v.profile,
                    format!("{} ({})", v.name, m.step)
                );
            }
            (None, Some(why)) => {
                unobservable += 1;
                println!("{:<42} {:<5} {:<60} {why}", bug.name(), "-", "UNOBSERVABLE");
            }
            (None, None) => println!("{:<42} {:<5} {:<60}", bug.name(), "-", "SURVIVED"),
        }
    }
    println!(
        "{caught} of {} injected bugs caught by a vector, {unobservable} unobservable by vectors",
        Bug::ALL.len() - unobservable
    );
    if wrong > 0 {
        println!("{wrong} bugs declared unobservable were caught: the declaration is stale");
    }
    // The requirements the vectors credit that no injected bug breaks: for those, nothing
    // yet shows that the judge fails a client that breaks them (issue #10).
    let broken: std::collections::BTreeSet<&str> = Bug::ALL
        .iter()
        .flat_map(|b| b.requirements().split(", "))
        .collect();
    let credited: std::collections::BTreeSet<&str> = vectors
        .iter()
        .flat_map(|v| v.requirements.iter().map(String::as_str))
        .collect();
    let unproven: Vec<&str> = credited.difference(&broken).copied().collect();
    println!(
        "{} of {} requirements the vectors credit are broken by an injected bug; not yet: {}",
        credited.len() - unproven.len(),
        credited.len(),
        unproven.join(" ")
    );
    caught + unobservable == Bug::ALL.len() && wrong == 0
}
