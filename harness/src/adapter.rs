//! The adapter trait: how the harness drives a client. Sans-IO shaped: the harness plays the
//! bootstrap server and the management servers and hands the client one stimulus at a time;
//! the adapter returns what the client answered and what it sent next, within a timeout.
//! Each vector gets a fresh adapter (a factory-reset client).

use conformance::observation::ObservedResponse;
use conformance::vector::{Step, Vector};
use conformance::wire::{CoapMessage, UriMap};

use std::fmt;
use std::time::Duration;

/// What a client did in answer to a stimulus (or at power-on), as it did it: the response
/// code and payload, and its own requests with their real URIs, query and payload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The response to the stimulus, when the stimulus was a request to the client.
    pub response: Option<ObservedResponse>,
    /// The messages the client sent next.
    pub sends: Vec<CoapMessage>,
    /// A timing rule the client broke while doing so (a message sent before the timer that
    /// allows it expired), seen only on the wire.
    pub violation: Option<String>,
}

/// Why an adapter could not run a step: the client hung, died, or spoke nonsense.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterError {
    /// No answer within the timeout.
    Timeout {
        /// What the harness waited for.
        waiting_for: String,
        /// How long.
        after: Duration,
    },
    /// The client process ended.
    Crashed {
        /// Its exit status.
        status: String,
        /// The end of what it wrote on stderr.
        stderr_tail: String,
    },
    /// The client wrote something that is not the protocol.
    Protocol {
        /// The offending line, quoted.
        line: String,
        /// What is wrong with it.
        why: String,
    },
    /// The client could not be started.
    Spawn(String),
    /// The adapter cannot play this step (the vector is skipped, with the reason, which
    /// reads as a whole sentence).
    Unsupported(String),
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterError::Timeout { waiting_for, after } => {
                write!(
                    f,
                    "timeout: no {waiting_for} within {:.1} s",
                    after.as_secs_f64()
                )
            }
            AdapterError::Crashed {
                status,
                stderr_tail,
            } => {
                write!(f, "the client exited ({status})")?;
                if !stderr_tail.is_empty() {
                    write!(f, "; stderr ends with: {stderr_tail}")?;
                }
                Ok(())
            }
            AdapterError::Protocol { line, why } => write!(f, "protocol error: {why}: {line:?}"),
            AdapterError::Spawn(e) => write!(f, "cannot start the client: {e}"),
            AdapterError::Unsupported(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AdapterError {}

/// The profile vector `v` claims, as an adapter's error when it names none (the loader
/// refuses such a vector, so this is a harness bug made visible, not a panic).
pub fn vector_profile(v: &Vector) -> Result<bootstrap_model::profile::Profile, AdapterError> {
    v.profile
        .parse()
        .map_err(|e: bootstrap_model::profile::UnknownProfile| AdapterError::Spawn(e.to_string()))
}

/// A client under test, for one vector.
pub trait Adapter {
    /// Powers the client on with the vector's factory configuration; returns what it sends
    /// before any stimulus.
    fn start(&mut self, vector: &Vector, timeout: Duration) -> Result<Observed, AdapterError>;
    /// Delivers one step's stimulus; returns the client's answer and next messages.
    fn step(&mut self, step: &Step, timeout: Duration) -> Result<Observed, AdapterError>;
    /// After the last step: what the client sends within `window` while nobody answers it,
    /// and a rule it broke meanwhile (adapters without time, in process or over the
    /// JSON-lines protocol, see nothing).
    fn drain(&mut self, window: Duration) -> Result<Observed, AdapterError> {
        let _ = window;
        Ok(Observed::default())
    }
    /// The real URIs of the servers the client talks to, when the adapter has its own (on
    /// the wire: its ports); `None`: the vector's.
    fn uris(&self) -> Option<UriMap> {
        None
    }
    /// How long after the last step the client is listened to ([`Adapter::drain`]), for a
    /// vector: zero for adapters without time.
    fn drain_window(&self, vector: &Vector) -> Duration {
        let _ = vector;
        Duration::ZERO
    }
    /// Whether the adapter speaks CoAP over DTLS (`--dtls`): only then can a management
    /// server refuse the client's handshake, as the vectors that need it ask
    /// ([`Vector::needs_dtls`]); elsewhere they are skipped.
    fn secure(&self) -> bool {
        false
    }
    /// Stops the client (also done on drop by adapters that own a process).
    fn stop(&mut self) {}
    /// The datagrams exchanged so far (adapters on the wire).
    fn wire_log(&self) -> Vec<crate::wirelog::WireRecord> {
        Vec::new()
    }
    /// The end of what the client program wrote on stdout and stderr, if it is a program.
    fn client_output(&self) -> String {
        String::new()
    }
}

/// Makes a fresh adapter for each vector. Shared by the test threads.
pub trait AdapterFactory: Send + Sync {
    /// A fresh client.
    fn create(&self) -> Result<Box<dyn Adapter>, AdapterError>;
    /// How the client is named in reports.
    fn describe(&self) -> String;
}
