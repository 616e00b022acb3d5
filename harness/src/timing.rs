//! Time on the wire. Two kinds of durations govern a bootstrap over CoAP:
//!
//! - the RFC 7252 message-layer parameters (ACK_TIMEOUT, MAX_RETRANSMIT, MAX_TRANSMIT_WAIT,
//!   EXCHANGE_LIFETIME): built-in constants of a CoAP stack, scaled here by one documented
//!   factor (`--coap-time-scale`) so that a client that honours it (the bundled reference
//!   client) runs the retransmission and EXCHANGE_LIFETIME rules (BS-CI-03) in a fraction of
//!   a second; a client that does not is run at scale 1 and its vectors that wait for these
//!   constants are `slow`;
//! - the LwM2M timers whose durations a vector provisions in resources: the Client Hold Off
//!   Time (/0/x/11, 1 s in the factory BS account, BS-FACT-05) and the Bootstrap-Server
//!   Account Timeout (/0/x/12, BS-FIN-06). They are never scaled: the vector's value is
//!   what the client must honour.
//!
//! [`Clock`] turns the sans-IO client's armed timers into deadlines. The reference client on
//! the wire uses it to fire its timers; the harness uses it on a shadow of the reference
//! client to know when a correct client's timer expires, so that it can wait for it and
//! catch a message sent too early.

use bootstrap_model::client::{Client, Phase, Timer};
use bootstrap_model::system::Action;
use conformance::vector::Vector;
use std::time::{Duration, Instant};

/// RFC 7252 §4.8 ACK_TIMEOUT.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// RFC 7252 §4.8 ACK_RANDOM_FACTOR.
pub const ACK_RANDOM_FACTOR: f64 = 1.5;
/// RFC 7252 §4.8 MAX_RETRANSMIT.
pub const MAX_RETRANSMIT: u32 = 4;
/// RFC 7252 §4.8.2 MAX_LATENCY.
pub const MAX_LATENCY: Duration = Duration::from_secs(100);
/// RFC 7252 §4.8.2 PROCESSING_DELAY (= ACK_TIMEOUT).
pub const PROCESSING_DELAY: Duration = ACK_TIMEOUT;

/// The RFC 7252 transmission parameters, scaled by one factor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoapTiming {
    /// The factor every RFC 7252 duration is multiplied by (1 = the RFC's values).
    pub scale: f64,
}

impl Default for CoapTiming {
    fn default() -> Self {
        CoapTiming { scale: 1.0 }
    }
}

impl CoapTiming {
    /// Checks and wraps a scale from the command line.
    pub fn new(scale: f64) -> Result<CoapTiming, String> {
        if scale.is_finite() && scale > 0.0 && scale <= 1.0 {
            Ok(CoapTiming { scale })
        } else {
            Err(format!(
                "--coap-time-scale {scale}: expected a factor in (0, 1]"
            ))
        }
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale)
    }

    /// The wait before the first retransmission (ACK_TIMEOUT; a sender may pick any value
    /// up to ACK_TIMEOUT × ACK_RANDOM_FACTOR, the harness and the reference pick the lowest).
    pub fn ack_timeout(&self) -> Duration {
        self.scaled(ACK_TIMEOUT)
    }

    /// The wait after transmission number `attempt` (0 = the first): the timeout doubles at
    /// each retransmission (RFC 7252 §4.2).
    pub fn retransmit_after(&self, attempt: u32) -> Duration {
        self.ack_timeout() * 2u32.pow(attempt.min(MAX_RETRANSMIT))
    }

    /// MAX_TRANSMIT_WAIT: the longest a compliant sender keeps waiting for an answer to a
    /// Confirmable message before it gives up (93 s unscaled).
    pub fn max_transmit_wait(&self) -> Duration {
        self.scaled(
            ACK_TIMEOUT.mul_f64((2u32.pow(MAX_RETRANSMIT + 1) - 1) as f64 * ACK_RANDOM_FACTOR),
        )
    }

    /// The earliest a compliant sender gives up on a Confirmable message: MAX_RETRANSMIT
    /// retransmissions from the lowest initial timeout (62 s unscaled).
    pub fn min_transmit_wait(&self) -> Duration {
        self.ack_timeout() * (2u32.pow(MAX_RETRANSMIT + 1) - 1)
    }

    /// EXCHANGE_LIFETIME (247 s unscaled): MAX_TRANSMIT_SPAN + 2 × MAX_LATENCY +
    /// PROCESSING_DELAY. The client's wait for Bootstrap-Finish (BS-CI-03).
    pub fn exchange_lifetime(&self) -> Duration {
        let span = ACK_TIMEOUT.mul_f64((2u32.pow(MAX_RETRANSMIT) - 1) as f64 * ACK_RANDOM_FACTOR);
        self.scaled(span + MAX_LATENCY * 2 + PROCESSING_DELAY)
    }
}

/// The duration of timer `t` for `client` now: hold-off and account timeout from its BS
/// account (BS-FACT-05, BS-FIN-06), EXCHANGE_LIFETIME from `coap`.
pub fn duration(client: &Client, t: Timer, coap: CoapTiming) -> Duration {
    let account = client.store.bootstrap_account().map(|(_, s)| s);
    match t {
        Timer::ClientHoldOff => {
            Duration::from_secs(account.and_then(|s| s.hold_off).unwrap_or(0).into())
        }
        Timer::BootstrapAccountTimeout => {
            Duration::from_secs(account.and_then(|s| s.account_timeout).unwrap_or(0).into())
        }
        Timer::ExchangeLifetime => coap.exchange_lifetime(),
    }
}

/// The least wall time a vector's own timers impose on the wire: the Client Hold Off Time
/// per hold-off expiry (1 s, the model's factory BS account, BS-FACT-05), MAX_TRANSMIT_WAIT
/// per lost message, EXCHANGE_LIFETIME, and the Bootstrap-Server Account Timeout per expiry
/// (5 s, the model's value, BS-FIN-06). An estimate from the steps' stimuli: the wire run
/// starts the longest vectors first with it, and the wire bench compares its time with it.
pub fn timer_floor(v: &Vector, coap: CoapTiming) -> Duration {
    v.steps
        .iter()
        .map(|s| match s.stimulus {
            Action::ClientHoldOffExpired => Duration::from_secs(1),
            Action::BootstrapRequestLost
            | Action::BootstrapPackLost
            | Action::RegisterLost { .. } => coap.max_transmit_wait(),
            Action::ExchangeLifetimeExpired => coap.exchange_lifetime(),
            Action::BootstrapAccountTimeoutExpired => Duration::from_secs(5),
            _ => Duration::ZERO,
        })
        .sum()
}

/// What [`Clock::sync`] compares: the part of the client's state that arms its timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Armed {
    phase: Phase,
    account_timeout: bool,
}

impl Armed {
    /// The arming state of `client` now (take it before handing the client an input).
    pub fn of(client: &Client) -> Armed {
        Armed {
            phase: client.phase,
            account_timeout: client.account_timeout_armed,
        }
    }

    /// Nothing armed: the state before power-on.
    pub fn none() -> Armed {
        Armed {
            phase: Phase::Operating,
            account_timeout: false,
        }
    }
}

/// Deadlines of the client's timers. A timer starts when the client enters the state that
/// arms it (hold-off: a new HoldOff phase; EXCHANGE_LIFETIME: entering Bootstrapping;
/// account timeout: armed at a successful Finish) and is dropped when the state ends.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    deadlines: Vec<(Timer, Instant)>,
}

impl Clock {
    /// Updates the deadlines after `client` moved from `before` to its current state at `now`.
    pub fn sync(&mut self, before: Armed, client: &Client, now: Instant, coap: CoapTiming) {
        let after = Armed::of(client);
        if before.phase != after.phase {
            self.deadlines
                .retain(|(t, _)| *t == Timer::BootstrapAccountTimeout);
            let started = match after.phase {
                Phase::HoldOff { .. } => Some(Timer::ClientHoldOff),
                Phase::Bootstrapping => Some(Timer::ExchangeLifetime),
                _ => None,
            };
            if let Some(t) = started {
                self.deadlines.push((t, now + duration(client, t, coap)));
            }
        }
        if before.account_timeout != after.account_timeout {
            self.deadlines
                .retain(|(t, _)| *t != Timer::BootstrapAccountTimeout);
            if after.account_timeout {
                let t = Timer::BootstrapAccountTimeout;
                self.deadlines.push((t, now + duration(client, t, coap)));
            }
        }
    }

    /// The deadline of `t`, if armed.
    pub fn deadline(&self, t: Timer) -> Option<Instant> {
        self.deadlines
            .iter()
            .find(|(x, _)| *x == t)
            .map(|(_, d)| *d)
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<(Timer, Instant)> {
        self.deadlines.iter().min_by_key(|(_, d)| *d).copied()
    }

    /// Removes `t` (it fired).
    pub fn clear(&mut self, t: Timer) {
        self.deadlines.retain(|(x, _)| *x != t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7252_values() {
        let t = CoapTiming::default();
        assert_eq!(t.max_transmit_wait(), Duration::from_secs(93));
        assert_eq!(t.exchange_lifetime(), Duration::from_secs(247));
        assert_eq!(t.retransmit_after(2), Duration::from_secs(8));
        let s = CoapTiming::new(0.01).unwrap();
        assert_eq!(s.exchange_lifetime(), Duration::from_millis(2470));
        assert!(CoapTiming::new(0.0).is_err() && CoapTiming::new(2.0).is_err());
    }
}
