//! `lwm2m-bootstrap`: the suite's command line.
//!
//! - `check` (the default when no subcommand is given): runs the model check for one or
//!   every profile and prints the number of states, each property's verdict and, for a
//!   violation, a numbered trace; can serve stateright's explorer on a loopback address and
//!   list the injectable bugs.
//! - `generate`: generates the test vectors into `vectors/` (or `--out`), or with `--check`
//!   only compares them with what is there.
//! - `coverage`: prints the coverage of the committed vectors and, with `--bugs`, which
//!   vector catches each injected bug.

use bootstrap_model::bugs::{Bug, BugSet};
use bootstrap_model::check::{self, CheckOptions, Outcome, Strategy};
use bootstrap_model::profile::Profile;
use bootstrap_model::system::{
    BootstrapSystem, ChoiceMode, Config, Factory, MAX_MANAGEMENT_SERVERS, MAX_OPS_PER_SESSION,
    MAX_REBOOTSTRAPS,
};
use bootstrap_model::{properties, trace};

mod commands;
use clap::{Parser, ValueEnum};
use stateright::Model;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "lwm2m-bootstrap",
    version,
    about = "LwM2M bootstrap conformance suite: model check, test vectors, coverage",
    allow_negative_numbers = true,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    check: CheckArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Check the model exhaustively (the default).
    Check(CheckArgs),
    /// Generate the test vectors from the model.
    Generate(GenerateArgs),
    /// Print the coverage of the vectors in a directory.
    Coverage(CoverageArgs),
}

#[derive(clap::Args, Debug)]
struct GenerateArgs {
    /// Profiles to generate (repeatable; default: all).
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Output directory.
    #[arg(long, default_value = "vectors")]
    out: std::path::PathBuf,
    /// Only compare with the files in the output directory; exit 1 if they differ.
    #[arg(long)]
    check: bool,
    /// Threads (profiles are generated in parallel; the bytes are the same for any count).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
}

#[derive(clap::Args, Debug)]
struct CoverageArgs {
    /// Directory holding the vectors.
    #[arg(long, default_value = "vectors")]
    dir: std::path::PathBuf,
    /// Also replay every vector against every injected bug and print which vector catches it.
    #[arg(long)]
    bugs: bool,
}

#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
struct CheckArgs {
    /// Profile to check: seed, 1.0, 1.1, 1.2, or all.
    #[arg(long, default_value = "all")]
    profile: String,
    /// Number of management servers.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=MAX_MANAGEMENT_SERVERS as i64))]
    servers: Option<u8>,
    /// Bootstrap commands per session before the bootstrap server must Finish.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=MAX_OPS_PER_SESSION as i64))]
    ops: Option<u8>,
    /// Environment events that lead back to bootstrap (refusals, losses, triggers, ...).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=MAX_REBOOTSTRAPS as i64))]
    rebootstraps: Option<u8>,
    /// Let the network lose requests.
    #[arg(long)]
    loss: bool,
    /// Let the network duplicate Bootstrap-Finish.
    #[arg(long)]
    duplication: bool,
    /// Factory configurations to start from (repeatable; default: all).
    #[arg(long, value_enum)]
    factory: Vec<FactoryArg>,
    /// Client behaviours the specification leaves open: explore all, or the reference's only.
    #[arg(long, value_enum, default_value = "all")]
    choices: ChoicesArg,
    /// Switch an injected bug into the reference client (repeatable; see `--list-bugs`).
    #[arg(long = "bug")]
    bugs: Vec<String>,
    /// The large benchmark configuration (2 servers, 3 ops, 2 re-bootstraps, loss, duplication).
    #[arg(long)]
    large: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// Explore depth-first (least memory) instead of breadth-first (shortest traces).
    #[arg(long)]
    dfs: bool,
    /// Print a trace for every reached `sometimes` property too.
    #[arg(long)]
    examples: bool,
    /// Fail (exit 1) when a `sometimes` property has no example.
    #[arg(long)]
    strict: bool,
    /// Serve stateright's explorer on this loopback address (e.g. 127.0.0.1:3000).
    #[arg(long, value_name = "ADDR")]
    explore: Option<SocketAddr>,
    /// List the injectable bugs and exit.
    #[arg(long)]
    list_bugs: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FactoryArg {
    BootstrapOnly,
    ServerAndBootstrap,
    ServerOnly,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ChoicesArg {
    All,
    Reference,
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
            let text = e.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => run(cli.check),
        Some(Command::Check(args)) => run(args),
        Some(Command::Generate(args)) => {
            commands::generate(args.profiles, args.out, args.check, args.threads)
        }
        Some(Command::Coverage(args)) => commands::coverage(args.dir, args.bugs),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// The `check` command: lists the bugs, serves the explorer, or checks each profile.
fn run(cli: CheckArgs) -> Result<ExitCode, String> {
    if cli.list_bugs {
        list_bugs();
        return Ok(ExitCode::SUCCESS);
    }
    let profiles: Vec<Profile> = if cli.profile == "all" {
        Profile::ALL.to_vec()
    } else {
        vec![cli.profile.parse::<Profile>().map_err(|e| e.to_string())?]
    };
    let bugs = injected_bugs(&cli.bugs)?;
    if cli.explore.is_some() && profiles.len() != 1 {
        return Err("--explore needs one --profile".into());
    }
    let mut failed = false;
    for profile in profiles {
        let model = BootstrapSystem::new(config(&cli, profile, bugs))?;
        if let Some(addr) = cli.explore {
            return serve_explorer(model, addr);
        }
        failed |= check_profile(&cli, &model);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `--list-bugs`: each injectable bug with how it is detected, its profiles and the
/// requirements it breaks.
fn list_bugs() {
    for b in Bug::ALL {
        let profiles: Vec<&str> = b.profiles().iter().map(|p| p.name()).collect();
        println!(
            "{:<42} {:<13} {:<16} {}",
            b.name(),
            format!("{:?}", b.detection()),
            profiles.join(","),
            b.requirements()
        );
    }
}

/// The bugs `--bug` names, all of them known.
fn injected_bugs(names: &[String]) -> Result<BugSet, String> {
    let mut bugs = BugSet::NONE;
    for name in names {
        let b = Bug::from_name(name)
            .ok_or_else(|| format!("unknown bug {name:?} (see --list-bugs)"))?;
        bugs = BugSet::from_bits(bugs.bits() | BugSet::only(b).bits());
    }
    Ok(bugs)
}

/// The configuration to check for `profile`: the default or large one, with the options
/// the command line sets.
fn config(cli: &CheckArgs, profile: Profile, bugs: BugSet) -> Config {
    let mut config = if cli.large {
        Config::large(profile)
    } else {
        Config::default_for(profile)
    };
    if let Some(n) = cli.servers {
        config.servers = n;
    }
    if let Some(n) = cli.ops {
        config.ops_per_session = n;
    }
    if let Some(n) = cli.rebootstraps {
        config.rebootstraps = n;
    }
    config.loss |= cli.loss;
    config.duplication |= cli.duplication;
    if !cli.factory.is_empty() {
        config.factories = cli
            .factory
            .iter()
            .map(|f| match f {
                FactoryArg::BootstrapOnly => Factory::BootstrapOnly,
                FactoryArg::ServerAndBootstrap => Factory::ServerAndBootstrap,
                FactoryArg::ServerOnly => Factory::ServerOnly,
            })
            .collect();
    }
    config.choices = match cli.choices {
        ChoicesArg::All => ChoiceMode::All,
        ChoicesArg::Reference => ChoiceMode::Reference,
    };
    config.bugs = bugs;
    config
}

/// `--explore`: serves stateright's explorer for `model` on a loopback address only.
fn serve_explorer(model: BootstrapSystem, addr: SocketAddr) -> Result<ExitCode, String> {
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--explore {addr}: the explorer binds loopback addresses only (127.0.0.1 or ::1)"
        ));
    }
    println!("serving stateright's explorer on http://{addr}/ (Ctrl-C to stop)");
    let _ = model.checker().serve(addr);
    Ok(ExitCode::SUCCESS)
}

/// Checks one model, prints the report; returns whether it failed.
fn check_profile(cli: &CheckArgs, model: &BootstrapSystem) -> bool {
    let c = &model.config;
    let opts = CheckOptions {
        threads: cli
            .threads
            .map(usize::from)
            .unwrap_or_else(|| CheckOptions::default().threads),
        strategy: if cli.dfs {
            Strategy::Dfs
        } else {
            Strategy::Bfs
        },
        stop_at_first_violation: false,
    };
    println!(
        "== profile {}: {} server(s), {} op(s)/session, {} re-bootstrap(s), loss {}, duplication {}, choices {:?}{}",
        c.profile,
        c.servers,
        c.ops_per_session,
        c.rebootstraps,
        on_off(c.loss),
        on_off(c.duplication),
        c.choices,
        if c.bugs == BugSet::NONE {
            String::new()
        } else {
            let names: Vec<&str> = c.bugs.iter().map(|b| b.name()).collect();
            format!(", bugs {}", names.join(","))
        }
    );
    let report = check::run(model, opts);
    println!(
        "   {} unique states ({} generated, max depth {}) in {:.2?}",
        report.unique_states, report.states, report.max_depth, report.elapsed
    );
    for v in &report.verdicts {
        let mark = match v.outcome {
            Outcome::Holds => "holds      ",
            Outcome::Violated => "VIOLATED   ",
            Outcome::Reached => "reached    ",
            Outcome::NotReached => "NOT REACHED",
        };
        println!("   {mark} {}", properties::describe(v.name));
        let show =
            v.outcome == Outcome::Violated || (cli.examples && v.outcome == Outcome::Reached);
        if let (true, Some(path)) = (show, &v.path) {
            print!("{}", trace::render(model, path, Some(v.name)));
        }
    }
    let violated = report.violations().count();
    let unreached = report.unreached().count();
    println!(
        "   verdict: {} violated, {} not reached, {} properties",
        violated,
        unreached,
        report.verdicts.len()
    );
    violated > 0 || (cli.strict && unreached > 0)
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}
