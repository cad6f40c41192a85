//! Helpers for integration tests that start real `ringmq` processes on loopback.
//!
//! - [`admin`]: `ringmq admin --json` as a child process, parsed.
//! - [`binary`]: finds the `ringmq` executable (`RINGMQ_BIN` or next to the test
//!   executable in the cargo target profile directory).
//! - [`process`]: one child server process with its own temp directory, logs
//!   captured to files, bounded readiness wait, SIGKILL on drop, SIGTERM and
//!   restart on the same data directory.
//! - [`cluster`]: a nameserver plus brokers, waiting until every broker has
//!   registered with the nameserver.
//! - [`raw`]: a tiny blocking remoting client (JSON header frames) for tests
//!   that need exact requests and responses; written independently of
//!   `ringmq_net` so it acts as a second opinion on the wire format.
//! - [`stored`]: a minimal decoder of the commit-log records in pull bodies.
//!
//! Every wait here is bounded; a failed wait returns an error whose text holds
//! the tail of the server logs.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod admin;
pub mod binary;
pub mod cluster;
pub mod process;
pub mod raw;
pub mod stored;

pub use cluster::{Broker, BrokerOptions, Cluster, Nameserver};
pub use process::ServerProcess;
pub use raw::{RawConnection, RemotingFrame};

/// Errors of the harness (processes, waits, raw client).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// An I/O error while spawning, connecting or reading.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A bounded wait ran out or a process misbehaved.
    #[error("{0}")]
    Failed(String),
    /// A frame from the server could not be decoded.
    #[error("bad frame from server: {0}")]
    BadFrame(String),
}

impl HarnessError {
    /// Wraps an I/O error with what the harness was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result type of the harness.
pub type HarnessResult<T> = Result<T, HarnessError>;

/// Milliseconds since the Unix epoch (for `bornTimestamp` and unique names).
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A name unique to this process and call, usable as topic or group name
/// (only `[a-zA-Z0-9_-]`).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}_{}_{}_{seq}",
        std::process::id(),
        now_millis() % 1_000_000
    )
}
