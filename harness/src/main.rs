//! `lwm2m-certify`: replays the vectors against a client, one libtest trial per vector, and
//! writes the certification report. With no arguments it certifies the bundled reference
//! client on all four profiles. Exit code: 0 only when every MUST vector passes (or fails as
//! the client profile expects) and no expected failure passes; 1 otherwise; 2 on bad input.

use bootstrap_model::profile::Profile;
use clap::Parser;
use conformance::load::Loader;
use conformance::observation::Variations;
use conformance::vector::Vector;
use harness::adapter::AdapterFactory;
use harness::inprocess::InProcessFactory;
use harness::launch::Launcher;
use harness::misbehave::{MisbehavingFactory, Misbehaviour};
use harness::profile::{ClientProfile, ExpectedFailure};
use harness::report::{self, ClientInfo, VectorResult};
use harness::run::{run_vector_with, Run, Verdict};
use harness::subprocess::SubprocessFactory;
use harness::timing::CoapTiming;
use harness::udp::{UdpFactory, UdpOptions};
use harness::wirelog::WireRecord;
use libtest_mimic::{Failed, Trial};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "lwm2m-certify",
    version,
    about = "Certify an LwM2M client's bootstrap against the suite's vectors"
)]
struct Cli {
    /// The client: `ref`, `mutant:NAME` or `misbehave:NAME` (the reference client in process,
    /// with an injected bug or an independent misbehaviour); `wire-ref`, `wire-mutant:NAME` or
    /// `wire-misbehave:NAME` (the same over CoAP/UDP); a client program
    /// launched on the wire for each vector, whose command line holds placeholders such as
    /// `{bs_uri}` and `{endpoint}` (see --list-placeholders); or a command line speaking the
    /// JSON-lines protocol (harness/PROTOCOL.md).
    #[arg(long, default_value = "ref")]
    client: String,
    /// Conforming variations of the bundled reference client (`ref`, `wire-ref`),
    /// comma-separated, or `all`: extra-objects, root-link-and-ver, reverse-order,
    /// bootstrap-uri, other-version-style, read-defaults, alternate-path, pct-senml-cbor,
    /// no-retry, register-attempts, no-access-control, no-server-push. Each is a way real
    /// clients differ where the specification allows it; the suite must still pass.
    #[arg(long, default_value = "", value_name = "LIST")]
    variations: String,
    /// On the wire, wait for a client the user starts, on the vectors' canonical ports
    /// (bootstrap server 127.0.0.1:5783); vectors run one at a time, and --client is not
    /// used.
    #[arg(long)]
    attach: bool,
    /// Factor for the RFC 7252 timing on the wire, in (0, 1]; the client must honour it too
    /// (placeholder `{coap_time_scale}`). Default: 0.01 for wire-ref, 0.02 for a client
    /// command line with `{coap_time_scale}`, else 1.
    #[arg(long, value_name = "FACTOR")]
    coap_time_scale: Option<f64>,
    /// Run the `slow` vectors on the wire (they wait for MAX_TRANSMIT_WAIT or
    /// EXCHANGE_LIFETIME); implied by a scale below 1, and so by default for wire-ref and
    /// a client command line with `{coap_time_scale}`.
    #[arg(long)]
    slow: bool,
    /// Quiet time on the wire after a step's expectation is met, in milliseconds.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    settle_ms: u64,
    /// Listen on ::1 instead of 127.0.0.1.
    #[arg(long)]
    ipv6: bool,
    /// The address the bootstrap and management servers listen on: an interface address,
    /// 0.0.0.0 or :: (a device on the bench network must reach them). Default: loopback.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::IpAddr>,
    /// The host written into the server URIs the bootstrap server provisions and into
    /// `{bs_uri}`, when the device reaches the servers by another address than the one they
    /// listen on (NAT, a container). Default: the listening address.
    #[arg(long, value_name = "HOST")]
    advertise: Option<String>,
    /// With --attach: the bootstrap server's port (its alternate listens on the next one).
    #[arg(long, default_value_t = 5783, value_name = "PORT")]
    bs_port: u16,
    /// With --attach: the first management server's port (DM k listens on PORT + k).
    #[arg(long, default_value_t = 5693, value_name = "PORT")]
    dm_port: u16,
    /// With --attach: a command that factory-resets the device before each vector (a serial
    /// console, a power switch, a vendor script), with the placeholders of a client command
    /// line (`{endpoint}`, `{bs_uri}`, ...); bounded by 30 s, its output goes into the
    /// report, a failure is an ERROR of the vector.
    #[arg(long, value_name = "CMD")]
    reset_cmd: Option<String>,
    /// With --reset-cmd: seconds to wait after the reset for the device to boot.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    reset_wait: f64,
    /// Run a stable share of the selected vectors, as cargo-nextest does: `hash:K/N` (by
    /// a hash of the trial name) or `count:K/N` (round-robin in name order). N runs with
    /// K = 1..N run each vector exactly once; `--merge` combines their JSON reports.
    #[arg(long, value_name = "hash:K/N|count:K/N")]
    partition: Option<String>,
    /// Combine the JSON reports of partitioned runs (`--merge a/report.json --merge
    /// b/report.json ...`) into one report, written to `--report-dir`, with the summary,
    /// outcome and exit code one run of all their vectors would have; runs no vector.
    #[arg(long, value_name = "REPORT.json")]
    merge: Vec<PathBuf>,
    /// Speak CoAP over DTLS 1.2 with pre-shared keys: the servers are `coaps://`, the
    /// bootstrap server writes Security Mode PSK with each account's identity and key, and
    /// every session must use the keys of its account (BS-SEC-01, -02, -05). The factory's
    /// bootstrap PSK goes to the client as `{bs_psk_identity}` and `{bs_psk_key_hex}`.
    #[arg(long)]
    dtls: bool,
    /// Write every datagram of the run as a pcap file (opens in Wireshark; over DTLS, the
    /// CoAP inside the records).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// List the placeholders a client command line may use, and exit.
    #[arg(long)]
    list_placeholders: bool,
    /// The client profile (TOML). Default for `ref` and `mutant:`: every profile.
    #[arg(long, value_name = "FILE")]
    client_profile: Option<PathBuf>,
    /// Directory of vectors.
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
    /// Write report.json, report.xml (JUnit) and report.md (with Mermaid charts) here.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// After the run, write a draft client profile here: the --client-profile given, with
    /// its expected failures replaced by the failures of this run, each pinned to its step
    /// and a piece of its detail, for review.
    #[arg(long, value_name = "FILE")]
    write_profile: Option<PathBuf>,
    /// Only the vectors citing this requirement ID (any they cite, not only the one a trial
    /// is named after); repeat for several.
    #[arg(long, value_name = "ID")]
    requirement: Vec<String>,
    /// Only the vectors with this tag (`bootstrap.delete`, `timer.hold-off`, `slow`, ...);
    /// repeat for several.
    #[arg(long, value_name = "TAG")]
    tag: Vec<String>,
    /// Only the vectors of this tier: MUST, SHOULD or MAY.
    #[arg(long, value_name = "TIER")]
    tier: Option<String>,
    /// Only the vectors that start from this factory configuration: bootstrap-only,
    /// server-and-bootstrap or server-only.
    #[arg(long, value_name = "NAME")]
    factory: Option<String>,
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

/// Vectors run at once on the wire (each mostly waits for timers).
const WIRE_THREADS: usize = 128;

/// The bundled reference client on the wire, as a launcher command line, with the
/// conforming variations `vary` (names as `--variations` takes them).
fn wire_reference_cmdline(bug: Option<&str>, vary: &str) -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("lwm2m-reference-client")))
        .unwrap_or_else(|| PathBuf::from("lwm2m-reference-client"));
    let mut line = harness::launch::reference_cmdline(&exe, bug);
    if !vary.is_empty() {
        line.push_str(&format!(" --variations {vary}"));
    }
    line
}

/// What `--client` (with `--attach`) names.
struct ClientChoice {
    factory: Arc<dyn AdapterFactory>,
    /// Whether it is the bundled reference client (which claims every profile).
    reference: bool,
    /// The wire options, when the client is on the wire.
    wire: Option<UdpOptions>,
    /// Whether `slow` vectors run.
    runs_slow: bool,
    /// The launcher, for clients launched on the wire.
    launcher: Option<Launcher>,
}

impl ClientChoice {
    /// The client `--client` and `--attach` name, with its wire options.
    fn parse(cli: &Cli) -> Result<ClientChoice, String> {
        let c = cli.client.as_str();
        let wire_ref =
            c == "wire-ref" || c.starts_with("wire-mutant:") || c.starts_with("wire-misbehave:");
        let launched = !cli.attach && (wire_ref || c.contains('{'));
        if !(cli.attach || launched) {
            return ClientChoice::off_the_wire(cli);
        }
        let launcher = ClientChoice::launcher(cli, wire_ref)?;
        // A client whose command line takes {coap_time_scale} honours the factor it is
        // given: it runs scaled, and its slow vectors run by default.
        let honours_scale =
            !wire_ref && launcher.as_ref().is_some_and(|l| l.uses("coap_time_scale"));
        let scale = cli.coap_time_scale.unwrap_or(if wire_ref {
            0.01
        } else if honours_scale {
            0.02
        } else {
            1.0
        });
        let opts = wire_options(cli, scale)?;
        Ok(ClientChoice {
            factory: Arc::new(UdpFactory::new(launcher.clone(), opts.clone())),
            launcher,
            reference: wire_ref,
            runs_slow: cli.slow || scale < 1.0,
            wire: Some(opts),
        })
    }

    /// A client off the wire: the reference client in process (with a bug, variations or
    /// a misbehaviour), or a program speaking the JSON-lines protocol.
    fn off_the_wire(cli: &Cli) -> Result<ClientChoice, String> {
        let c = cli.client.as_str();
        if cli.pcap.is_some() || cli.coap_time_scale.is_some() || cli.dtls {
            return Err(format!(
                "--client {c:?}: --pcap, --coap-time-scale and --dtls need a client on the wire"
            ));
        }
        if cli.listen.is_some() || cli.advertise.is_some() || cli.reset_cmd.is_some() {
            return Err(format!(
                "--client {c:?}: --listen, --advertise and --reset-cmd need a client on the wire"
            ));
        }
        let (factory, reference): (Arc<dyn AdapterFactory>, bool) = if let Some(name) =
            c.strip_prefix("misbehave:")
        {
            (misbehaving_reference(cli, name)?, true)
        } else {
            match InProcessFactory::parse(c) {
                    Some(f) => (
                        Arc::new(InProcessFactory {
                            vary: Variations::parse(&cli.variations)
                                .map_err(|e| format!("--variations: {e}"))?,
                            ..f?
                        }),
                        true,
                    ),
                    None if !cli.variations.is_empty() => {
                        return Err(format!(
                            "--variations applies to the bundled reference client (ref, wire-ref), not to --client {c:?}"
                        ))
                    }
                    None => (Arc::new(SubprocessFactory::new(c)?), false),
                }
        };
        Ok(ClientChoice {
            factory,
            reference,
            wire: None,
            runs_slow: true,
            launcher: None,
        })
    }

    /// The launcher of a client on the wire: none with `--attach`, the bundled reference
    /// client's command line for `wire-ref` and its kin, else `--client` itself.
    fn launcher(cli: &Cli, wire_ref: bool) -> Result<Option<Launcher>, String> {
        let c = cli.client.as_str();
        if cli.attach {
            Ok(None)
        } else if wire_ref {
            Ok(Some(Launcher::new(&bundled_wire_cmdline(cli)?)?))
        } else if !cli.variations.is_empty() {
            Err(format!(
                "--variations applies to the bundled reference client (ref, wire-ref), not to --client {c:?}"
            ))
        } else {
            Ok(Some(Launcher::new(c)?))
        }
    }

    /// `v` as this client plays it when the client's launcher cannot give `v`'s factory
    /// configuration and `v` has a prologue that stands in for it (issue #10).
    fn with_prologue(&self, cp: &ClientProfile, v: &Vector) -> Option<Vector> {
        self.wire.as_ref()?;
        cp.factory_skip(v)?;
        v.with_prologue()
    }

    /// Why `v` does not run on the wire, if it does not.
    fn wire_skip(&self, cp: &ClientProfile, v: &Vector) -> Option<String> {
        self.wire.as_ref()?;
        if let Some(reason) = cp.factory_skip(v) {
            return Some(match &v.no_prologue {
                Some(why) => format!("{reason}, and no prologue stands in for it: {why}"),
                None => reason,
            });
        }
        if !self.runs_slow && v.tags.iter().any(|t| t == "slow") {
            return Some(slow_skip(v, self.wire.as_ref()?.coap));
        }
        let notified = |s: &conformance::vector::Step| {
            matches!(
                s.stimulus,
                bootstrap_model::system::Action::ReBootstrapNotification { .. }
            )
        };
        if !self.wire.as_ref()?.dtls && v.needs_dtls() {
            return Some(harness::run::NEEDS_DTLS.into());
        }
        if self.wire.as_ref()?.dtls && v.steps.iter().any(notified) {
            return Some(
                "over DTLS: the seed's re-bootstrap notification (/rbs) names a bootstrap server without keys to secure a session with it (ambiguity A-26 in the README)".into(),
            );
        }
        None
    }
}

/// The reference client in process with misbehaviour `name` (`--client misbehave:NAME`).
fn misbehaving_reference(cli: &Cli, name: &str) -> Result<Arc<dyn AdapterFactory>, String> {
    let c = cli.client.as_str();
    let m = Misbehaviour::from_name(name).ok_or_else(|| {
        format!("--client {c}: unknown misbehaviour {name:?} (see harness/src/misbehave.rs)")
    })?;
    Ok(Arc::new(MisbehavingFactory {
        inner: Box::new(InProcessFactory {
            bugs: bootstrap_model::bugs::BugSet::NONE,
            vary: Variations::parse(&cli.variations).map_err(|e| format!("--variations: {e}"))?,
        }),
        m,
    }))
}

/// The launcher command line of `wire-ref`, `wire-mutant:NAME` or `wire-misbehave:NAME`,
/// with `--variations`.
fn bundled_wire_cmdline(cli: &Cli) -> Result<String, String> {
    let c = cli.client.as_str();
    let bug = match c.strip_prefix("wire-mutant:") {
        Some(name) => Some(
            bootstrap_model::bugs::Bug::from_name(name)
                .ok_or_else(|| {
                    format!(
                        "--client {c}: unknown bug {name:?} (see `lwm2m-bootstrap --list-bugs`)"
                    )
                })?
                .name(),
        ),
        None => None,
    };
    Variations::parse(&cli.variations).map_err(|e| format!("--variations: {e}"))?;
    let mut line = wire_reference_cmdline(bug, &cli.variations);
    if let Some(name) = c.strip_prefix("wire-misbehave:") {
        if let Some(k) = harness::misbehave::KeyMisbehaviour::parse(name) {
            line.push_str(&format!(" --key-misbehave {}", k.name()));
            return Ok(line);
        }
        let m = Misbehaviour::from_name(name).ok_or_else(|| {
            format!("--client {c}: unknown misbehaviour {name:?} (see harness/src/misbehave.rs)")
        })?;
        line.push_str(&format!(" --misbehave {}", m.name()));
    }
    Ok(line)
}

/// The wire options of the run: the RFC 7252 timing at `scale`, `--settle-ms`, `--ipv6`,
/// `--attach`.
fn wire_options(cli: &Cli, scale: f64) -> Result<UdpOptions, String> {
    if cli.listen.is_some_and(|a| a.is_unspecified()) && cli.advertise.is_none() {
        return Err(format!(
            "--listen {}: a device cannot reach an unspecified address; add --advertise HOST (the address the device reaches the harness at)",
            cli.listen.map(|a| a.to_string()).unwrap_or_default()
        ));
    }
    let reset = match &cli.reset_cmd {
        None => None,
        Some(_) if !cli.attach => {
            return Err(
                "--reset-cmd restarts a device the harness attaches to: add --attach".into(),
            )
        }
        Some(cmd) => {
            let wait = Duration::try_from_secs_f64(cli.reset_wait)
                .ok()
                .filter(|w| *w <= Duration::from_secs(600))
                .ok_or_else(|| {
                    format!(
                        "--reset-wait {}: expected seconds from 0 to 600",
                        cli.reset_wait
                    )
                })?;
            Some((
                Launcher::new(cmd).map_err(|e| e.replace("--client", "--reset-cmd"))?,
                wait,
            ))
        }
    };
    Ok(UdpOptions {
        coap: CoapTiming::new(scale)?,
        settle: Duration::from_millis(cli.settle_ms),
        content_formats: UdpOptions::default().content_formats,
        host: match cli.listen {
            Some(addr) => addr,
            None if cli.ipv6 => std::net::Ipv6Addr::LOCALHOST.into(),
            None => std::net::Ipv4Addr::LOCALHOST.into(),
        },
        advertise: cli.advertise.clone(),
        attach: cli.attach,
        ports: (cli.bs_port, cli.dm_port),
        reset,
        dtls: cli.dtls,
    })
}

/// Progress on a terminal: vectors done out of those that run, and failures so far, on
/// stderr after each vector once the run has taken a few seconds (libtest's own lines then
/// write over it). Silent when stderr is not a terminal, with `-q` or another `--format`.
#[derive(Default)]
struct Progress {
    shown: AtomicBool,
    total: AtomicUsize,
    done: AtomicUsize,
    failing: AtomicUsize,
    since: OnceLock<Instant>,
}

impl Progress {
    fn start(&self, total: usize, shown: bool) {
        self.total.store(total, Ordering::Relaxed);
        self.shown.store(shown, Ordering::Relaxed);
        let _ = self.since.set(Instant::now());
    }

    fn done(&self, failed: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failing = self.failing.fetch_add(failed as usize, Ordering::Relaxed) + failed as usize;
        let long = self
            .since
            .get()
            .is_some_and(|t| t.elapsed() > Duration::from_secs(3));
        if self.shown.load(Ordering::Relaxed) && long {
            eprint!(
                "\r\x1b[K[{done}/{} vectors, {failing} failing]\r",
                self.total.load(Ordering::Relaxed)
            );
        }
    }
}

/// The vectors `--requirement`, `--tag`, `--tier` and `--factory` select (each option
/// any of its values; all options at once); a value no vector has is an error naming it.
fn select(cli: &Cli, vectors: Vec<Vector>) -> Result<Vec<Vector>, String> {
    let known = |what: &str, value: &str, any: &dyn Fn(&Vector) -> bool| {
        if vectors.iter().any(any) {
            Ok(())
        } else {
            Err(format!("--{what} {value}: no vector has it"))
        }
    };
    for r in &cli.requirement {
        known("requirement", r, &|v| v.requirements.contains(r))?;
    }
    for t in &cli.tag {
        known("tag", t, &|v| v.tags.contains(t))?;
    }
    let tier = match cli.tier.as_deref().map(str::to_uppercase).as_deref() {
        None => None,
        Some("MUST") => Some(conformance::catalogue::Tier::Must),
        Some("SHOULD") => Some(conformance::catalogue::Tier::Should),
        Some("MAY") => Some(conformance::catalogue::Tier::May),
        Some(other) => return Err(format!("--tier {other}: expected MUST, SHOULD or MAY")),
    };
    if let Some(f) = &cli.factory {
        if !bootstrap_model::system::Factory::ALL
            .iter()
            .any(|x| x.name() == f)
        {
            return Err(format!(
                "--factory {f}: expected bootstrap-only, server-and-bootstrap or server-only"
            ));
        }
    }
    Ok(vectors
        .into_iter()
        .filter(|v| {
            (cli.requirement.is_empty()
                || cli.requirement.iter().any(|r| v.requirements.contains(r)))
                && (cli.tag.is_empty() || cli.tag.iter().any(|t| v.tags.contains(t)))
                && tier.is_none_or(|t| v.tier == t)
                && cli.factory.as_ref().is_none_or(|f| v.factory.name() == f)
        })
        .collect())
}

/// Why a `slow` vector is skipped for a client that runs the RFC 7252 timing unscaled: the
/// constants it waits for and how long that would take.
fn slow_skip(v: &Vector, coap: harness::timing::CoapTiming) -> String {
    use bootstrap_model::system::Action;
    let (mut lost, mut lifetime) = (0u32, 0u32);
    for s in &v.steps {
        match s.stimulus {
            Action::BootstrapRequestLost
            | Action::BootstrapPackLost
            | Action::RegisterLost { .. } => lost += 1,
            Action::ExchangeLifetimeExpired => lifetime += 1,
            _ => {}
        }
    }
    let wait = coap.max_transmit_wait() * lost + coap.exchange_lifetime() * lifetime;
    let mut waits = Vec::new();
    if lost > 0 {
        waits.push(format!(
            "MAX_TRANSMIT_WAIT ({:.0} s) {lost} time{}",
            coap.max_transmit_wait().as_secs_f64(),
            if lost == 1 { "" } else { "s" }
        ));
    }
    if lifetime > 0 {
        waits.push(format!(
            "EXCHANGE_LIFETIME ({:.0} s) {lifetime} time{}",
            coap.exchange_lifetime().as_secs_f64(),
            if lifetime == 1 { "" } else { "s" }
        ));
    }
    format!(
        "slow: it waits for {}, about {:.0} s at the client's RFC 7252 timing; --slow runs it, or give the client {{coap_time_scale}} in its command line",
        waits.join(" and "),
        wait.as_secs_f64()
    )
}

/// Prints both kill tables; success when each kills at least 95 %.
fn mutants_outcome(
    rows: &[harness::mutants::Row],
    bad: &[harness::mutants::MisbehaviourRow],
) -> ExitCode {
    print!("{}", harness::mutants::render(rows));
    println!();
    print!("{}", harness::mutants::render_misbehaviours(bad));
    let (killed, of) = harness::mutants::kills(rows);
    let (bad_killed, bad_of) = harness::mutants::misbehaviour_kills(bad);
    if killed * 100 >= of * 95 && bad_killed * 100 >= bad_of * 95 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    if !cli.merge.is_empty() {
        return merge(&cli);
    }
    let partition = cli
        .partition
        .as_deref()
        .map(harness::partition::Partition::parse)
        .transpose()?;
    let timeout = step_timeout(&cli)?;
    let vectors = load_vectors(&cli)?;
    if cli.list_placeholders {
        print_placeholders();
        return Ok(ExitCode::SUCCESS);
    }
    let mut client = ClientChoice::parse(&cli)?;
    if cli.mutants {
        return mutants(&cli, &client, &vectors, timeout);
    }
    let profiles = client_profiles(&cli, &client, &vectors)?;
    prefer_profile_formats(&cli, &mut client, &profiles);
    if let Some(w) = client.wire.as_ref().filter(|w| w.attach) {
        announce_attach(&cli, w, &profiles[0]);
    }
    let factory = Arc::clone(&client.factory);
    let shared = Shared::new(cli.pcap.is_some());
    let (mut trials, mut skipped) =
        trials(&profiles, &vectors, &client, &factory, timeout, &shared);
    let listing = cli.libtest.list;
    let args = libtest_args(&cli, &client);
    if let Some(p) = partition {
        let selected: Vec<&str> = trials
            .iter()
            .filter(|t| !args.is_filtered_out(t))
            .map(|t| t.name())
            .collect();
        let share: std::collections::BTreeSet<String> = p
            .select(&selected)
            .into_iter()
            .map(str::to_string)
            .collect();
        trials.retain(|t| share.contains(t.name()));
        skipped.retain(|(name, _)| share.contains(name));
    }
    shared.progress.start(
        trials
            .iter()
            .filter(|t| !args.is_filtered_out(t) && !args.is_ignored(t))
            .count(),
        !listing && shows_progress(&args),
    );
    let conclusion = libtest_mimic::run(&args, trials);
    if listing {
        return Ok(ExitCode::SUCCESS);
    }
    let results = collect_results(&shared, skipped, &args);
    let report = summarise(&profiles, factory.as_ref(), results);
    print!("{}", report::summary_text(&report));
    write_outputs(&cli, &report, &profiles[0], &shared)?;
    let _ = conclusion;
    Ok(ExitCode::from(report.exit_code as u8))
}

/// Before an `--attach` run: in one line, what the device must be provisioned with, and
/// whether each vector resets it.
fn announce_attach(cli: &Cli, w: &UdpOptions, cp: &ClientProfile) {
    let host = w.advertise.clone().unwrap_or_else(|| w.host.to_string());
    eprintln!(
        "provision the device with bootstrap server {} (endpoint {}); the servers listen on {}:{} and {}:{}+k",
        harness::coap_uri::uri_of_host(&host, w.ports.0, w.dtls),
        cp.endpoint.as_deref().unwrap_or("as each vector names it"),
        w.host,
        w.ports.0,
        w.host,
        w.ports.1
    );
    if cli.reset_cmd.is_none() {
        eprintln!(
            "each vector starts from a factory reset: without --reset-cmd, reset the device by hand before each one (on a terminal the run waits for Enter)"
        );
    }
}

/// `--merge`: the partitioned runs' reports as one, printed and written to `--report-dir`.
fn merge(cli: &Cli) -> Result<ExitCode, String> {
    let mut reports = Vec::new();
    for file in &cli.merge {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| format!("--merge {name}: {e}"))?;
        let r: report::RunReport = serde_json::from_str(&text)
            .map_err(|e| format!("--merge {name}: not a report.json of lwm2m-certify: {e}"))?;
        reports.push((name, r));
    }
    let merged = report::merge(reports)?;
    print!("{}", report::summary_text(&merged));
    if let Some(dir) = &cli.report_dir {
        write_reports(dir, &merged)?;
    }
    Ok(ExitCode::from(merged.exit_code as u8))
}

/// The report files: JSON, JUnit XML, Markdown.
fn write_reports(dir: &std::path::Path, report: &report::RunReport) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    write("report.json", conformance::vector::pretty(report))?;
    write("report.xml", report::junit_xml(report))?;
    write("report.md", report::markdown(report))?;
    println!("reports written to {}", dir.display());
    Ok(())
}

/// `--step-timeout` as a duration, checked.
fn step_timeout(cli: &Cli) -> Result<Duration, String> {
    if !(cli.step_timeout > 0.0 && cli.step_timeout <= 3600.0) {
        return Err(format!(
            "--step-timeout {}: expected seconds in (0, 3600]",
            cli.step_timeout
        ));
    }
    Ok(Duration::from_secs_f64(cli.step_timeout))
}

/// The vectors of `--vectors` (or the default directory), as the options select them.
fn load_vectors(cli: &Cli) -> Result<Vec<Vector>, String> {
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
    select(cli, vectors)
}

/// `--list-placeholders`.
fn print_placeholders() {
    for (p, what) in harness::launch::PLACEHOLDERS {
        println!("{{{p}}}  {what}");
    }
}

/// `--mutants`: the kill tables, on the wire for `wire-ref`, else in process.
fn mutants(
    cli: &Cli,
    client: &ClientChoice,
    vectors: &[Vector],
    timeout: Duration,
) -> Result<ExitCode, String> {
    if client.wire.is_none() {
        let rows = harness::mutants::kill_table(vectors, timeout);
        let bad = harness::mutants::misbehaviour_table_in_process(vectors, timeout);
        return Ok(mutants_outcome(&rows, &bad));
    }
    let opts = client.wire.clone().unwrap_or_default();
    if cli.client != "wire-ref" {
        return Err("--mutants on the wire needs --client wire-ref".into());
    }
    let make = |bug: bootstrap_model::bugs::Bug| -> Box<dyn AdapterFactory> {
        let l = Launcher::new(&wire_reference_cmdline(Some(bug.name()), ""))
            .expect("the bundled client's command line is valid");
        Box::new(UdpFactory::new(Some(l), opts.clone()))
    };
    let fast: Vec<Vector> = vectors
        .iter()
        .filter(|v| client.runs_slow || !v.tags.iter().any(|t| t == "slow"))
        .cloned()
        .collect();
    let rows = harness::mutants::kill_table_with(&fast, timeout, &make);
    let misbehave = |m: harness::misbehave::Misbehaviour| -> Option<Box<dyn AdapterFactory>> {
        let line = format!(
            "{} --misbehave {}",
            wire_reference_cmdline(None, ""),
            m.name()
        );
        let l = Launcher::new(&line).expect("the bundled client's command line is valid");
        Some(Box::new(UdpFactory::new(Some(l), opts.clone())))
    };
    let bad = harness::mutants::misbehaviour_table(&fast, timeout, &misbehave);
    Ok(mutants_outcome(&rows, &bad))
}

/// The client profiles the run certifies against: `--client-profile`, or every profile
/// for the bundled reference client.
fn client_profiles(
    cli: &Cli,
    client: &ClientChoice,
    vectors: &[Vector],
) -> Result<Vec<ClientProfile>, String> {
    if cli.write_profile.is_some() && cli.client_profile.is_none() {
        return Err("--write-profile FILE needs --client-profile FILE: the draft is that profile with this run's failures as its expected failures".into());
    }
    match &cli.client_profile {
        Some(f) => Ok(vec![ClientProfile::load(f, vectors)?]),
        None if client.reference => {
            let vary =
                Variations::parse(&cli.variations).map_err(|e| format!("--variations: {e}"))?;
            Ok(Profile::ALL
                .iter()
                .map(|p| ClientProfile::reference_with(*p, &vary))
                .collect())
        }
        None if cli.attach => {
            Err("--attach: the client needs --client-profile FILE (which profile it claims)".into())
        }
        None => Err(format!(
            "--client {:?}: a client program needs --client-profile FILE (which profile it claims)",
            cli.client
        )),
    }
}

/// On the wire with `--client-profile`: requests carry the payload encoding the client's
/// profile prefers.
fn prefer_profile_formats(cli: &Cli, client: &mut ClientChoice, profiles: &[ClientProfile]) {
    if let (Some(opts), Some(_)) = (&mut client.wire, &cli.client_profile) {
        opts.content_formats = profiles[0].content_formats.clone();
        client.factory = Arc::new(UdpFactory::new(client.launcher.clone(), opts.clone()));
    }
}

/// What the trials share with the run: their results, the datagrams for `--pcap`, the
/// progress line.
struct Shared {
    results: Arc<Mutex<Vec<VectorResult>>>,
    capture: Arc<Mutex<Vec<WireRecord>>>,
    /// Whether every datagram is kept (`--pcap`), not only those of vectors that fail.
    keep_all_wire: bool,
    progress: Arc<Progress>,
}

impl Shared {
    fn new(keep_all_wire: bool) -> Shared {
        Shared {
            results: Arc::new(Mutex::new(Vec::new())),
            capture: Arc::new(Mutex::new(Vec::new())),
            keep_all_wire,
            progress: Arc::new(Progress::default()),
        }
    }

    /// Another handle on the same state, for a trial.
    fn handle(&self) -> Shared {
        Shared {
            results: Arc::clone(&self.results),
            capture: Arc::clone(&self.capture),
            keep_all_wire: self.keep_all_wire,
            progress: Arc::clone(&self.progress),
        }
    }
}

/// One vector as its trial plays it, under one client profile.
struct Plan {
    /// The vector as played (after a prologue, if one stands in for its factory).
    v: Vector,
    /// Why it is skipped, if it is.
    skip: Option<String>,
    xfail: Option<ExpectedFailure>,
    deviations: Vec<String>,
    prologue_steps: usize,
}

/// The libtest trials, one per vector of each client profile, and the results of those
/// skipped up front with their trial names. Skipped vectors are libtest's ignored trials,
/// which do not run: their results are recorded here and kept when the trial filter
/// selects them. On the wire the vectors that wait longest for their own timers start
/// first (longest-processing-time-first scheduling), so that the run ends close to its
/// longest vector's time rather than a wave later; the report sorts results by name.
fn trials(
    profiles: &[ClientProfile],
    vectors: &[Vector],
    client: &ClientChoice,
    factory: &Arc<dyn AdapterFactory>,
    timeout: Duration,
    shared: &Shared,
) -> (Vec<Trial>, Vec<(String, VectorResult)>) {
    let mut trials = Vec::new();
    let mut skipped = Vec::new();
    let floor = |v: &Vector| {
        client
            .wire
            .as_ref()
            .map_or(Duration::ZERO, |w| harness::timing::timer_floor(v, w.coap))
    };
    for cp in profiles {
        for v in vectors.iter().filter(|v| v.profile == cp.profile) {
            let name = trial_name(v);
            let plan = plan(cp, client, v);
            let kind = format!("{:?}", plan.v.tier).to_uppercase();
            let ignored = plan.skip.is_some();
            if let Some(reason) = &plan.skip {
                let verdict = Verdict::Skip {
                    reason: reason.clone(),
                };
                skipped.push((
                    name.clone(),
                    bare_result(&plan.v, verdict, 0.0, plan.prologue_steps),
                ));
            }
            let waits = floor(&plan.v);
            let (factory, shared) = (Arc::clone(factory), shared.handle());
            let trial = Trial::test(name, move || play(plan, factory.as_ref(), timeout, &shared))
                .with_kind(kind)
                .with_ignored_flag(ignored);
            trials.push((waits, trial));
        }
    }
    trials.sort_by_key(|(waits, _)| std::cmp::Reverse(*waits));
    (trials.into_iter().map(|(_, t)| t).collect(), skipped)
}

/// A trial's name. The vector's own requirement only, so that a line fits 120 columns;
/// select by any cited requirement, tag, tier or factory with the options.
fn trial_name(v: &Vector) -> String {
    format!(
        "{}/{} [{}] {}",
        v.profile,
        v.name,
        v.id,
        v.requirements.first().map_or("", String::as_str)
    )
}

/// How `v` is played under `cp`: after a prologue if one stands in for its factory, or
/// skipped, with its expected failure.
fn plan(cp: &ClientProfile, client: &ClientChoice, v: &Vector) -> Plan {
    let played = client.with_prologue(cp, v);
    let prologue_steps = played.as_ref().map_or(0, |p| p.steps.len() - v.steps.len());
    let mut v = played.unwrap_or_else(|| v.clone());
    // A device's own Endpoint Client Name stands wherever the vector says `ep`, and its
    // fixed hold-off in the vector's factory account.
    if let Some(ep) = &cp.endpoint {
        v.endpoint = ep.clone();
    }
    if let Some(h) = cp.hold_off {
        harness::profile::fix_hold_off(&mut v.factory_objects, h);
    }
    Plan {
        skip: cp
            .skip_reason(&v)
            .or_else(|| client.wire_skip(cp, &v))
            .or_else(|| {
                (client.wire.is_none() && v.needs_dtls()).then(|| harness::run::NEEDS_DTLS.into())
            }),
        xfail: cp.expected_failure(&v).cloned(),
        deviations: cp.timing_deviations.clone(),
        v,
        prologue_steps,
    }
}

/// A result with no evidence: the vector's identity, `verdict` and wall time.
fn bare_result(v: &Vector, verdict: Verdict, seconds: f64, prologue_steps: usize) -> VectorResult {
    VectorResult {
        id: v.id.clone(),
        name: v.name.clone(),
        profile: v.profile.clone(),
        tier: v.tier,
        title: v.title.clone(),
        requirements: v.requirements.clone(),
        verdict,
        seconds,
        exchange: Vec::new(),
        mermaid: None,
        wire: Vec::new(),
        client_output: None,
        prologue_steps,
    }
}

/// The body of a trial: plays the vector (unless skipped), judges the verdict against the
/// expected failure, records the result, and tells libtest.
fn play(
    plan: Plan,
    factory: &dyn AdapterFactory,
    timeout: Duration,
    shared: &Shared,
) -> Result<(), Failed> {
    let run = match &plan.skip {
        Some(reason) => Run {
            verdict: Verdict::Skip {
                reason: reason.clone(),
            },
            arrows: Vec::new(),
            elapsed: Duration::ZERO,
            wire: Vec::new(),
            client_output: String::new(),
        },
        None => run_vector_with(factory, &plan.v, timeout, &plan.deviations),
    };
    if shared.keep_all_wire {
        capture_lock(&shared.capture).extend(run.wire.iter().cloned());
    }
    let Run {
        verdict,
        arrows: exchange,
        elapsed,
        wire,
        client_output,
    } = run;
    let verdict = against_expected_failure(verdict, plan.xfail);
    let outcome = trial_outcome(&verdict);
    let failing = match &verdict {
        Verdict::Fail { step, detail, .. } | Verdict::Error { step, detail } => {
            Some((*step, detail.clone()))
        }
        Verdict::Xfail { detail, .. } => Some((usize::MAX, detail.clone())),
        _ => None,
    };
    shared.progress.done(verdict.is_failure());
    let keep = !matches!(verdict, Verdict::Pass | Verdict::Skip { .. });
    let mut result = bare_result(&plan.v, verdict, elapsed.as_secs_f64(), plan.prologue_steps);
    if keep {
        result.mermaid = Some(report::mermaid(
            &exchange,
            failing.as_ref().map(|(s, d)| (*s, d.as_str())),
        ));
        result.exchange = exchange;
        result.wire = wire.iter().map(|r| r.entry()).collect();
        result.client_output = Some(client_output);
    }
    shared
        .results
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(result);
    outcome
}

fn capture_lock(capture: &Mutex<Vec<WireRecord>>) -> std::sync::MutexGuard<'_, Vec<WireRecord>> {
    capture.lock().unwrap_or_else(|p| p.into_inner())
}

/// `verdict` read against the failure the client profile declares for the vector: the
/// declared failure is XFAIL, a pass XPASS, another failure a FAIL saying so.
fn against_expected_failure(verdict: Verdict, xfail: Option<ExpectedFailure>) -> Verdict {
    match (verdict, xfail) {
        (Verdict::Pass, Some(x)) => Verdict::Xpass { reason: x.reason },
        (Verdict::Fail { step, detail, .. } | Verdict::Error { step, detail }, Some(x))
            if x.matches(step, &detail) =>
        {
            Verdict::Xfail {
                reason: x.reason,
                detail: format!("step {step}: {detail}"),
            }
        }
        // Another failure than the one declared: the client has changed, or the profile
        // was pinned to the wrong step or detail.
        (Verdict::Fail { step, detail, .. } | Verdict::Error { step, detail }, Some(x)) => {
            Verdict::Fail {
                step,
                detail,
                tier: None,
                declared: Some(x.describe()),
            }
        }
        (v, _) => v,
    }
}

/// What libtest reports for `verdict`: a failure (FAIL, ERROR, XPASS) with its message.
fn trial_outcome(verdict: &Verdict) -> Result<(), Failed> {
    match verdict {
        Verdict::Fail {
            step,
            detail,
            declared: Some(d),
            ..
        } => Err(format!(
            "step {step}: {detail}\nfails differently than its client profile declares: {d}"
        )
        .into()),
        Verdict::Fail { step, detail, .. } | Verdict::Error { step, detail } => {
            Err(format!("step {step}: {detail}").into())
        }
        Verdict::Xpass { reason } => {
            Err(format!("XPASS: passed, but expected to fail ({reason})").into())
        }
        _ => Ok(()),
    }
}

/// libtest's arguments: on the wire, many vectors at once unless `--test-threads` says.
fn libtest_args(cli: &Cli, client: &ClientChoice) -> libtest_mimic::Arguments {
    let mut args = cli.libtest.clone();
    if client.wire.is_some() && args.test_threads.is_none() {
        // Vectors on the wire mostly wait (timers, the client's start): run many at once.
        args.test_threads = Some(if cli.attach { 1 } else { WIRE_THREADS });
    }
    args
}

/// Whether the progress line is shown: libtest's pretty output on a terminal.
fn shows_progress(args: &libtest_mimic::Arguments) -> bool {
    !args.quiet
        && args
            .format
            .is_none_or(|f| f == libtest_mimic::FormatSetting::Pretty)
        && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// The results of the trials that ran, with those skipped up front that the trial filter
/// selects, in profile and name order.
fn collect_results(
    shared: &Shared,
    skipped: Vec<(String, VectorResult)>,
    args: &libtest_mimic::Arguments,
) -> Vec<VectorResult> {
    let mut results =
        std::mem::take(&mut *shared.results.lock().unwrap_or_else(|p| p.into_inner()));
    if !(args.ignored || args.include_ignored) {
        let selected = |name: &str| {
            let hit = |f: &str| {
                if args.exact {
                    name == f
                } else {
                    name.contains(f)
                }
            };
            args.filter.as_deref().is_none_or(hit) && !args.skip.iter().any(|f| hit(f))
        };
        results.extend(
            skipped
                .into_iter()
                .filter(|(name, _)| selected(name))
                .map(|(_, r)| r),
        );
    }
    results.sort_by(|a, b| (&a.profile, &a.name).cmp(&(&b.profile, &b.name)));
    results
}

/// The report of the run: the client as its first profile names it, and the results.
fn summarise(
    profiles: &[ClientProfile],
    factory: &dyn AdapterFactory,
    results: Vec<VectorResult>,
) -> report::RunReport {
    let first = &profiles[0];
    let client = ClientInfo {
        name: first.name.clone(),
        version: first.version.clone(),
        profiles: profiles.iter().map(|p| p.profile.clone()).collect(),
        adapter: factory.describe(),
    };
    report::summarise(
        format!(
            "lwm2m bootstrap conformance suite {}",
            env!("CARGO_PKG_VERSION")
        ),
        client,
        results,
    )
}

/// The files the options ask for: `--report-dir`, `--write-profile` (drafted from
/// `first`), `--pcap`.
fn write_outputs(
    cli: &Cli,
    report: &report::RunReport,
    first: &ClientProfile,
    shared: &Shared,
) -> Result<(), String> {
    if let Some(dir) = &cli.report_dir {
        write_reports(dir, report)?;
    }
    if let Some(file) = &cli.write_profile {
        std::fs::write(file, harness::profile::draft(first, &report.results))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        println!(
            "draft client profile written to {}: review each expected failure",
            file.display()
        );
    }
    if let Some(file) = &cli.pcap {
        let mut records = std::mem::take(&mut *capture_lock(&shared.capture));
        records.sort_by_key(|r| r.at);
        std::fs::write(file, harness::wirelog::pcap(&records))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        println!("{} datagrams written to {}", records.len(), file.display());
    }
    Ok(())
}
