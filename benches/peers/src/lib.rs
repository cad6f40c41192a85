//! Shared pieces of the peer load generators that `benches/compare.sh`
//! drives: a run bounded in count and time ([`Budget`]), a send→ack latency
//! histogram ([`Latencies`]), and the JSON [`Report`] compare.sh reads. The
//! report uses the same field names as `ringmq bench --json`, so one parser
//! reads every row.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histogram tells apart, in microseconds.
pub const LATENCY_MAX_US: u64 = 600_000_000;

/// Significant decimal digits the histogram keeps.
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Longest run any generator accepts, whatever it is asked.
pub const RUN_TIME_MAX: Duration = Duration::from_secs(600);

/// Bytes in the MB of "MB/s" (decimal, as `ringmq bench` counts).
pub const BYTES_PER_MB: f64 = 1_000_000.0;

/// A run's bound: at most `messages` taken, and nothing taken after
/// `deadline`; the first bound reached wins.
pub struct Budget {
    messages: u64,
    taken: AtomicU64,
    deadline: Instant,
}

impl Budget {
    /// A budget of `messages` within `duration` (capped at [`RUN_TIME_MAX`]).
    pub fn new(messages: u64, duration: Duration) -> Self {
        Self {
            messages,
            taken: AtomicU64::new(0),
            deadline: Instant::now() + duration.min(RUN_TIME_MAX),
        }
    }

    /// Takes one message from the budget; false once it is spent or late.
    pub fn take(&self) -> bool {
        if Instant::now() >= self.deadline {
            return false;
        }
        self.taken.fetch_add(1, Ordering::Relaxed) < self.messages
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A latency histogram shared by load tasks.
pub struct Latencies {
    histogram: Mutex<Histogram<u64>>,
}

impl Latencies {
    /// An empty histogram covering 1 µs ..= [`LATENCY_MAX_US`].
    pub fn new() -> anyhow::Result<Self> {
        let histogram = Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGNIFICANT_DIGITS)
            .map_err(|e| anyhow::anyhow!("cannot create the latency histogram: {e}"))?;
        Ok(Self {
            histogram: Mutex::new(histogram),
        })
    }

    /// Records the time since `started`.
    pub fn record_since(&self, started: Instant) {
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if let Ok(mut h) = self.histogram.lock() {
            h.saturating_record(us.clamp(1, LATENCY_MAX_US));
        }
    }

    /// p50/p99/p999/max, or `None` without samples.
    pub fn summary(&self) -> Option<LatencySummary> {
        let h = self.histogram.lock().ok()?;
        (!h.is_empty()).then(|| LatencySummary {
            samples: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        })
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    /// How many latencies were recorded.
    pub samples: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
}

/// Counters shared by load tasks.
#[derive(Default)]
pub struct Tally {
    /// Messages acknowledged (or received).
    pub messages: AtomicU64,
    /// Failed requests.
    pub errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    /// Counts `n` messages.
    pub fn add(&self, n: u64) {
        self.messages.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a failure, keeping the first one's text.
    pub fn fail(&self, error: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| error.to_string());
        }
    }

    /// The report of a run of `workload` that took `elapsed`.
    pub fn report(
        &self,
        workload: &str,
        message_size: usize,
        in_flight: usize,
        elapsed: Duration,
        latency: Option<LatencySummary>,
    ) -> Report {
        let messages = self.messages.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let msgs_per_sec = if secs > 0.0 {
            messages as f64 / secs
        } else {
            0.0
        };
        Report {
            workload: workload.to_string(),
            message_size,
            in_flight,
            messages,
            errors: self.errors.load(Ordering::Relaxed),
            elapsed_secs: secs,
            msgs_per_sec,
            mb_per_sec: msgs_per_sec * message_size as f64 / BYTES_PER_MB,
            latency,
            first_error: self.first_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// The result of one run, printed as JSON on stdout.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was measured (`publish`, `consume`, `produce`).
    pub workload: String,
    /// Body bytes per message.
    pub message_size: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Messages acknowledged or received.
    pub messages: u64,
    /// Failed requests.
    pub errors: u64,
    /// Wall time of the measured phase.
    pub elapsed_secs: f64,
    /// `messages / elapsed_secs`.
    pub msgs_per_sec: f64,
    /// Body megabytes (10^6) per second.
    pub mb_per_sec: f64,
    /// Send→ack latency; none for consume.
    pub latency: Option<LatencySummary>,
    /// The first error seen.
    pub first_error: Option<String>,
}

impl Report {
    /// Prints the report as one JSON document on stdout.
    pub fn print(&self) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(self)?);
        Ok(())
    }
}

/// A body of `size` bytes (a repeating pattern, not compressible to nothing
/// by accident of all-zero pages).
pub fn body(size: usize) -> bytes::Bytes {
    b"ringmq-peer-body-"
        .iter()
        .cycle()
        .take(size)
        .copied()
        .collect::<Vec<u8>>()
        .into()
}
