//! What a bench run measured and how it is printed: counters shared by the
//! load tasks ([`Tally`]), a latency histogram ([`Latencies`], HdrHistogram
//! in microseconds), and the final [`Report`] as text or JSON.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histogram tells apart (larger ones count as this).
pub const LATENCY_MAX_US: u64 = 600_000_000;

/// Significant decimal digits the histogram keeps.
pub const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Bytes in the MB of "MB/s" (decimal, as disks and networks count).
pub const BYTES_PER_MB: f64 = 1_000_000.0;

/// Counters updated by every load task.
#[derive(Debug, Default)]
pub struct Tally {
    /// Messages acknowledged (or written, one-way; or received).
    pub messages: AtomicU64,
    /// Body bytes of those messages.
    pub bytes: AtomicU64,
    /// Failed requests (a failed batch counts once).
    pub errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Tally {
    /// Counts `n` messages of `size` bytes each.
    pub fn add(&self, n: u64, size: u64) {
        self.messages.fetch_add(n, Ordering::Relaxed);
        self.bytes
            .fetch_add(n.saturating_mul(size), Ordering::Relaxed);
    }

    /// Counts a failure, keeping the first message for the report.
    pub fn fail(&self, error: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| error.to_string());
        }
    }

    /// Messages counted so far.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// The first failure, if any.
    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|e| e.clone())
    }
}

/// A latency histogram shared by the load tasks.
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

    /// Records one latency (clamped into the histogram's range).
    pub fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.record_us(us);
    }

    /// Records one latency in microseconds.
    pub fn record_us(&self, us: u64) {
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The result of one bench run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `produce`, `consume` or `e2e`.
    pub workload: String,
    /// `sync`, `async` or `oneway` (the sending side).
    pub send_mode: String,
    /// Body bytes per message.
    pub message_size: usize,
    /// Messages per send request.
    pub batch_size: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Producer clients.
    pub producers: usize,
    /// Consumer clients.
    pub consumers: usize,
    /// Messages measured (acknowledged, or received).
    pub messages: u64,
    /// Failed requests.
    pub errors: u64,
    /// Wall time of the measured phase.
    pub elapsed_secs: f64,
    /// `messages / elapsed_secs`.
    pub msgs_per_sec: f64,
    /// Body megabytes (10^6) per second.
    pub mb_per_sec: f64,
    /// Send→ack (produce) or send→receive (e2e) latency; none for consume.
    pub latency: Option<LatencySummary>,
    /// e2e: acknowledged messages of this run never received.
    pub missing: Option<u64>,
    /// Messages received that another run sent (old backlog).
    pub stale: Option<u64>,
    /// This run's messages delivered more than once (counted once).
    pub duplicates: Option<u64>,
    /// The first error seen.
    pub first_error: Option<String>,
}

/// Rates of `messages` of `message_size` bytes over `elapsed`.
pub fn rates(messages: u64, message_size: usize, elapsed: Duration) -> (f64, f64) {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return (0.0, 0.0);
    }
    let msgs_per_sec = messages as f64 / secs;
    (
        msgs_per_sec,
        msgs_per_sec * message_size as f64 / BYTES_PER_MB,
    )
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The report as lines for a person.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "ringmq bench {}: {} B messages, batch {}, {} in flight, {} producer(s), {} consumer(s), {} sends\n",
            self.workload,
            self.message_size,
            self.batch_size,
            self.in_flight,
            self.producers,
            self.consumers,
            self.send_mode
        );
        out.push_str(&format!(
            "  messages   {} in {:.2} s, errors {}\n  throughput {:.0} msgs/s, {:.2} MB/s\n",
            self.messages, self.elapsed_secs, self.errors, self.msgs_per_sec, self.mb_per_sec
        ));
        match &self.latency {
            Some(l) => out.push_str(&format!(
                "  latency    p50 {} | p99 {} | p999 {} | max {} | mean {} ({} samples)\n",
                human_us(l.p50_us),
                human_us(l.p99_us),
                human_us(l.p999_us),
                human_us(l.max_us),
                human_us(l.mean_us.round() as u64),
                l.samples
            )),
            None => out.push_str("  latency    -\n"),
        }
        if let Some(missing) = self.missing {
            out.push_str(&format!("  missing    {missing}\n"));
        }
        if let Some(stale) = self.stale.filter(|s| *s > 0) {
            out.push_str(&format!(
                "  stale      {stale} (older runs' messages, not counted)\n"
            ));
        }
        if let Some(duplicates) = self.duplicates.filter(|d| *d > 0) {
            out.push_str(&format!(
                "  duplicates {duplicates} (redelivered, counted once)\n"
            ));
        }
        if let Some(error) = &self.first_error {
            out.push_str(&format!("  first error: {error}\n"));
        }
        out
    }
}

/// `850 µs`, `12.3 ms`, `1.50 s`.
pub fn human_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.2} ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2} s", us as f64 / 1_000_000.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn report(latency: Option<LatencySummary>) -> Report {
        Report {
            workload: "produce".into(),
            send_mode: "sync".into(),
            message_size: 1024,
            batch_size: 1,
            in_flight: 64,
            producers: 1,
            consumers: 0,
            messages: 1000,
            errors: 2,
            elapsed_secs: 2.0,
            msgs_per_sec: 500.0,
            mb_per_sec: 0.512,
            latency,
            missing: None,
            stale: Some(0),
            duplicates: Some(3),
            first_error: Some("send timed out".into()),
        }
    }

    #[test]
    fn percentiles_of_a_uniform_spread_are_where_expected() {
        let lat = Latencies::new().unwrap();
        for us in 1..=1000 {
            lat.record_us(us);
        }
        let s = lat.summary().unwrap();
        assert_eq!(s.samples, 1000);
        assert_eq!(s.p50_us, 500);
        assert_eq!(s.p99_us, 990);
        assert_eq!(s.p999_us, 999);
        assert_eq!(s.max_us, 1000);
    }

    #[test]
    fn one_slow_outlier_shows_in_max_and_p999_only() {
        let lat = Latencies::new().unwrap();
        for _ in 0..999 {
            lat.record(Duration::from_micros(100));
        }
        lat.record(Duration::from_secs(2));
        let s = lat.summary().unwrap();
        assert_eq!(s.p50_us, 100);
        assert_eq!(s.p99_us, 100);
        assert_eq!(s.p999_us, 100);
        // 3 significant digits: 2 s is kept within 0.1%.
        assert!(s.max_us.abs_diff(2_000_000) <= 2_000);
    }

    #[test]
    fn latencies_beyond_the_range_are_clamped_not_lost() {
        let lat = Latencies::new().unwrap();
        lat.record_us(0);
        lat.record_us(u64::MAX);
        let s = lat.summary().unwrap();
        assert_eq!(s.samples, 2);
        assert!(s.max_us >= LATENCY_MAX_US);
    }

    #[test]
    fn no_samples_means_no_summary() {
        assert_eq!(Latencies::new().unwrap().summary(), None);
    }

    #[test]
    fn rates_are_messages_and_decimal_megabytes_per_second() {
        let (msgs, mb) = rates(10_000, 1000, Duration::from_secs(2));
        assert_eq!(msgs, 5000.0);
        assert_eq!(mb, 5.0);
        assert_eq!(rates(5, 1, Duration::ZERO), (0.0, 0.0));
    }

    #[test]
    fn tally_keeps_the_first_error_and_counts_all() {
        let tally = Tally::default();
        tally.fail(&"first");
        tally.fail(&"second");
        tally.add(3, 10);
        assert_eq!(tally.errors.load(Ordering::Relaxed), 2);
        assert_eq!(tally.first_error().as_deref(), Some("first"));
        assert_eq!(tally.bytes.load(Ordering::Relaxed), 30);
    }

    #[test]
    fn text_report_shows_throughput_percentiles_and_errors() {
        let text = report(Some(LatencySummary {
            samples: 1000,
            mean_us: 700.4,
            p50_us: 650,
            p99_us: 2_500,
            p999_us: 12_000,
            max_us: 1_500_000,
        }))
        .to_text();
        assert!(
            text.contains("messages   1000 in 2.00 s, errors 2"),
            "{text}"
        );
        assert!(text.contains("500 msgs/s, 0.51 MB/s"), "{text}");
        assert!(
            text.contains("p50 650 µs | p99 2.50 ms | p999 12.00 ms | max 1.50 s"),
            "{text}"
        );
        assert!(text.contains("first error: send timed out"), "{text}");
        assert!(!text.contains("stale"), "{text}");
        assert!(text.contains("duplicates 3"), "{text}");
    }

    #[test]
    fn json_report_has_the_documented_fields() {
        let json = report(None).to_json().unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["workload"], "produce");
        assert_eq!(value["messages"], 1000);
        assert_eq!(value["msgs_per_sec"], 500.0);
        assert!(value["latency"].is_null());
        assert_eq!(value["errors"], 2);
    }
}
