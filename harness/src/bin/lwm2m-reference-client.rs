//! The model's reference client behind the harness protocol (`harness/PROTOCOL.md`), on
//! stdin and stdout: `--client 'lwm2m-reference-client [--bug NAME]...'` runs the harness
//! against it as against any vendor's adapter. `--bug NAME` switches an injected bug in (see
//! `lwm2m-bootstrap --list-bugs`).
//!
//! `lwm2m-reference-client wire ...` runs the same client over CoAP/UDP instead (see
//! `harness::wire_client`): the harness launches it once per vector with the servers' URIs
//! (`--client wire-ref` does it for you). It runs until it is killed.
//!
//! Exit status: 0 after `stop` or the end of stdin, 1 when the harness spoke something this
//! client does not understand or the wire failed (reason on stderr), 2 on bad flags (one
//! line on stderr).

use bootstrap_model::bugs::{Bug, BugSet};
use std::process::ExitCode;

const USAGE: &str = "usage: lwm2m-reference-client [--bug NAME]... (serves the harness protocol version 2 on stdin/stdout)";

fn parse(args: impl Iterator<Item = String>) -> Result<Option<BugSet>, String> {
    let mut bits = 0u64;
    let mut args = args;
    while let Some(arg) = args.next() {
        let name = match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--bug" => args
                .next()
                .ok_or_else(|| "--bug needs a bug name".to_string())?,
            a => match a.strip_prefix("--bug=") {
                Some(name) => name.to_string(),
                None => return Err(format!("unknown argument {a:?} ({USAGE})")),
            },
        };
        let bug = Bug::from_name(&name).ok_or_else(|| {
            format!("--bug {name:?}: unknown bug (see `lwm2m-bootstrap --list-bugs`)")
        })?;
        bits |= BugSet::only(bug).bits();
    }
    Ok(Some(BugSet::from_bits(bits)))
}

/// `wire`: the reference client on CoAP/UDP.
#[derive(clap::Parser, Debug)]
#[command(name = "lwm2m-reference-client wire")]
struct Wire {
    /// The profile the client implements: seed, 1.0, 1.1 or 1.2.
    #[arg(long)]
    profile: String,
    /// Factory configuration: bootstrap-only, server-and-bootstrap or server-only.
    #[arg(long, default_value = "bootstrap-only")]
    factory: String,
    /// Endpoint Client Name.
    #[arg(long, default_value = "urn:dev:ref-1")]
    endpoint: String,
    /// The bootstrap server's URI (coap://127.0.0.1:PORT).
    #[arg(long)]
    bootstrap: String,
    /// The URI the seed's Step 0 may hand out as the alternate bootstrap server.
    #[arg(long)]
    bootstrap_alternate: Option<String>,
    /// The management servers' URIs, comma-separated, server 0 first.
    #[arg(long, value_delimiter = ',')]
    servers: Vec<String>,
    /// Whether to use Bootstrap-Pack-Request (1.2): true, false, or any (the profile's
    /// reference choice).
    #[arg(long, default_value = "any")]
    pack: String,
    /// Whether it has the Access Control object: true or false (a client without it
    /// supports a single server only, BS-OBJ-05).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    access_control: bool,
    /// Injected bug (repeatable).
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<String>,
    /// Factor for the RFC 7252 timing (ACK_TIMEOUT, EXCHANGE_LIFETIME), in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    coap_time_scale: f64,
    /// The UDP port to listen on (loopback); 0: any free port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Log every datagram and event on stderr.
    #[arg(long, short)]
    verbose: bool,
    /// Block-wise transfer (RFC 7959) with blocks of this many bytes (16, 32, ..., 1024):
    /// the client's own requests with a larger payload go as Block1, its answers to the
    /// servers' requests with a larger payload as Block2, and it asks for the
    /// Bootstrap-Pack with an early Block2 of this size. Without it: none.
    #[arg(long)]
    block_size: Option<usize>,
    /// The Content-Formats the client takes and answers in, comma-separated, the preferred
    /// first (default: 11542,110,112,11544,0,42). `112,0,42` makes a SenML-CBOR-only
    /// client, `11544,0,42` an LwM2M-CBOR-only one: other write formats get 4.15, a read
    /// asking for another gets 4.06.
    #[arg(long, value_delimiter = ',')]
    content_formats: Vec<u16>,
    /// Conforming variations, comma-separated (`all` for every one): extra-objects,
    /// root-link-and-ver, reverse-order, bootstrap-uri, other-version-style, read-defaults,
    /// alternate-path, pct-senml-cbor, no-retry, register-attempts, no-access-control,
    /// no-server-push. Each is a way real clients differ from the reference where the
    /// specification allows it (see `conformance::observation::Variations`).
    #[arg(long, default_value = "")]
    variations: String,
    /// A misbehaviour to show on the wire (see `harness::misbehave`):
    /// register-lists-security-instance, discover-without-ssid, keeps-deleted-instance,
    /// answers-server-read-of-security, read-adds-unwritten-resource,
    /// registers-after-last-step, reuses-message-id.
    #[arg(long)]
    misbehave: Option<String>,
    /// The PSK identity of the factory's Bootstrap-Server Account (`{bs_psk_identity}`),
    /// used to secure a `coaps://` bootstrap server's session; empty: the factory's own.
    #[arg(long, default_value = "")]
    bs_psk_identity: String,
    /// Its key in hex (`{bs_psk_key_hex}`).
    #[arg(long, default_value = "")]
    bs_psk_key: String,
    /// A misbehaviour of its DTLS sessions (see `harness::misbehave::KeyMisbehaviour`):
    /// bootstrap-key-everywhere, wrong-bootstrap-key, plain-coap, stale-key.
    #[arg(long)]
    key_misbehave: Option<String>,
    /// A factory Client Hold Off Time of its own, in seconds (a device whose factory
    /// configuration is fixed); default: the factory configuration's.
    #[arg(long)]
    hold_off: Option<u16>,
}

/// The factory bootstrap PSK given on the command line, if any.
fn bs_psk(w: &Wire) -> Result<Option<harness::dtls::Psk>, String> {
    if w.bs_psk_identity.is_empty() && w.bs_psk_key.is_empty() {
        return Ok(None);
    }
    let key = (0..w.bs_psk_key.len())
        .step_by(2)
        .map(|i| {
            w.bs_psk_key
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| format!("--bs-psk-key {:?}: expected the key in hex", w.bs_psk_key))?;
    if w.bs_psk_identity.is_empty() {
        return Err("--bs-psk-key needs --bs-psk-identity".into());
    }
    Ok(Some(harness::dtls::Psk {
        identity: w.bs_psk_identity.clone().into_bytes(),
        key,
    }))
}

fn wire(args: Vec<String>) -> ExitCode {
    use clap::Parser;
    let w = match Wire::try_parse_from(args) {
        Ok(w) => w,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let first = e.render().to_string();
            eprintln!(
                "lwm2m-reference-client: {}",
                first.lines().next().unwrap_or("bad arguments")
            );
            return ExitCode::from(2);
        }
    };
    let config = match wire_config(w) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lwm2m-reference-client: {e}");
            return ExitCode::from(2);
        }
    };
    let result = harness::wire_client::WireClient::start(config).and_then(|mut c| c.run(None));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lwm2m-reference-client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn wire_config(w: Wire) -> Result<harness::reference_node::NodeConfig, String> {
    use bootstrap_model::system::Factory;
    let profile = w
        .profile
        .parse()
        .map_err(|e: bootstrap_model::profile::UnknownProfile| format!("--profile: {e}"))?;
    let factory = Factory::ALL
        .into_iter()
        .find(|f| f.name() == w.factory)
        .ok_or_else(|| {
            format!(
                "--factory {:?}: expected bootstrap-only, server-and-bootstrap or server-only",
                w.factory
            )
        })?;
    let pack = match w.pack.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        "any" | "" => None,
        other => return Err(format!("--pack {other:?}: expected true, false or any")),
    };
    let mut bits = 0u64;
    for name in &w.bugs {
        let bug = Bug::from_name(name).ok_or_else(|| {
            format!("--bug {name:?}: unknown bug (see `lwm2m-bootstrap --list-bugs`)")
        })?;
        bits |= BugSet::only(bug).bits();
    }
    let bs_psk = bs_psk(&w)?;
    let timing = harness::timing::CoapTiming::new(w.coap_time_scale)?;
    let block_size = match w.block_size {
        None => None,
        Some(n @ (16 | 32 | 64 | 128 | 256 | 512 | 1024)) => Some(n),
        Some(n) => {
            return Err(format!(
                "--block-size {n}: expected 16, 32, 64, 128, 256, 512 or 1024 (RFC 7959 §2.2)"
            ))
        }
    };
    let alternate = w.bootstrap_alternate.unwrap_or_else(|| w.bootstrap.clone());
    for u in std::iter::once(&w.bootstrap)
        .chain([&alternate])
        .chain(&w.servers)
    {
        harness::coap_uri::socket_addr(u)?;
    }
    let key_misbehave = match &w.key_misbehave {
        None => None,
        Some(name) => Some(
            harness::misbehave::KeyMisbehaviour::parse(name)
                .ok_or_else(|| format!("--key-misbehave {name:?}: unknown misbehaviour"))?,
        ),
    };
    Ok(harness::reference_node::NodeConfig {
        bs_psk,
        key_misbehave,
        hold_off: w.hold_off,
        profile,
        endpoint: w.endpoint,
        factory,
        uris: conformance::wire::UriMap {
            bootstrap: w.bootstrap,
            bootstrap_alternate: alternate,
            servers: w.servers,
        },
        bugs: BugSet::from_bits(bits),
        pack,
        no_access_control: !w.access_control,
        timing,
        port: w.port,
        verbose: w.verbose,
        block_size,
        content_formats: if w.content_formats.is_empty() {
            harness::reference_node::NodeConfig::ALL_FORMATS.to_vec()
        } else {
            w.content_formats
        },
        vary: conformance::observation::Variations::parse(&w.variations)
            .map_err(|e| format!("--variations: {e}"))?,
        misbehave: match &w.misbehave {
            None => None,
            Some(name) => Some(
                harness::misbehave::Misbehaviour::from_name(name)
                    .ok_or_else(|| format!("--misbehave {name:?}: unknown misbehaviour"))?,
            ),
        },
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("wire") {
        return wire(args[1..].to_vec());
    }
    let bugs = match parse(std::env::args().skip(1)) {
        Ok(Some(bugs)) => bugs,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lwm2m-reference-client: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    match harness::protocol_client::serve(bugs, stdin, stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lwm2m-reference-client: {e}");
            ExitCode::FAILURE
        }
    }
}
