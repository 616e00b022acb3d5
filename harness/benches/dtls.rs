//! DTLS benchmark (not a timed test): DTLS 1.2 PSK handshakes per second between two
//! sessions of `harness::dtls` in memory, one thread, for each suite the harness accepts;
//! then one CoAP-sized record each way per session. Run: `cargo bench -p lwm2m-harness
//! --bench dtls`. The suite's wall time over DTLS against plain UDP is in the wire bench.

use harness::dtls::{DtlsConfig, DtlsSession, KeyLookup, Psk, Role, Suite};
use std::sync::Arc;
use std::time::Instant;

const HANDSHAKES: usize = 2000;

fn pair(suite: Suite) -> (DtlsSession, DtlsSession) {
    let config = DtlsConfig {
        suites: vec![suite],
        ..DtlsConfig::default()
    };
    let psk = Psk {
        identity: b"key-100".to_vec(),
        key: vec![100; 16],
    };
    let lookup: KeyLookup = Arc::new(|id: &[u8]| (id == b"key-100").then(|| vec![100; 16]));
    let now = Instant::now();
    (
        DtlsSession::with_config(Role::Client(psk), &config, now).expect("client"),
        DtlsSession::with_config(Role::Server(lookup), &config, now).expect("server"),
    )
}

/// Moves datagrams both ways until neither side has any.
fn pump(c: &mut DtlsSession, s: &mut DtlsSession) {
    for _ in 0..32 {
        let mut moved = false;
        while let Some(d) = c.poll_transmit() {
            moved = true;
            let _ = s.handle_datagram(Instant::now(), &d);
        }
        while let Some(d) = s.poll_transmit() {
            moved = true;
            let _ = c.handle_datagram(Instant::now(), &d);
        }
        if !moved {
            return;
        }
    }
}

fn main() {
    for suite in [Suite::Ccm8, Suite::CbcSha256] {
        let start = Instant::now();
        for _ in 0..HANDSHAKES {
            let (mut c, mut s) = pair(suite);
            pump(&mut c, &mut s);
            assert!(c.is_established() && s.is_established(), "handshake failed");
            c.send(b"\x44\x02\x12\x34bs-request").expect("send");
            s.send(b"\x64\x44\x12\x34").expect("send");
            pump(&mut c, &mut s);
            assert!(c.poll_plaintext().is_some() && s.poll_plaintext().is_some());
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{:<22} {HANDSHAKES} handshakes (and one record each way) in {secs:.3} s: {:.0} handshakes/s",
            suite.openssl_name(),
            HANDSHAKES as f64 / secs
        );
    }
}
