//! The dashboard's memory of the recent past, for its charts: bounded rings
//! of samples (message rates in and out, each group's lag), filled by a
//! background task every few seconds.
//!
//! Memory is bounded by configuration alone: at most
//! [`HistoryConfig::series_max`] series of at most
//! [`HistoryConfig::points_per_series`] points each. A series beyond the cap
//! is not recorded (the page says so), and the series of a group that has
//! disappeared is dropped at the next sample.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

/// Points kept per series by default: 15 minutes at one sample per 5 s.
pub const POINTS_PER_SERIES_DEFAULT: usize = 180;
/// Series kept by default (the two rates and up to 62 groups' lags).
pub const SERIES_MAX_DEFAULT: usize = 64;
/// Time between two samples by default.
pub const SAMPLE_EVERY_DEFAULT: Duration = Duration::from_secs(5);
/// Upper bound on points per series a configuration may ask for.
pub const POINTS_PER_SERIES_LIMIT: usize = 100_000;
/// Upper bound on series a configuration may ask for.
pub const SERIES_LIMIT: usize = 10_000;

/// Name of the series of messages stored per second (cluster-wide).
pub const SERIES_IN: &str = "in";
/// Name of the series of messages pulled per second (cluster-wide).
pub const SERIES_OUT: &str = "out";
/// Prefix of a group's lag series.
pub const LAG_PREFIX: &str = "lag:";

/// How much history the dashboard keeps and how often it samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Points kept per series (older ones are dropped).
    pub points_per_series: usize,
    /// Series kept at most.
    pub series_max: usize,
    /// Time between two samples.
    pub sample_every: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            points_per_series: POINTS_PER_SERIES_DEFAULT,
            series_max: SERIES_MAX_DEFAULT,
            sample_every: SAMPLE_EVERY_DEFAULT,
        }
    }
}

impl HistoryConfig {
    /// The same configuration with every bound within its limit (at least
    /// one point, one series, a 100 ms period).
    pub fn bounded(self) -> Self {
        Self {
            points_per_series: self.points_per_series.clamp(1, POINTS_PER_SERIES_LIMIT),
            series_max: self.series_max.clamp(1, SERIES_LIMIT),
            sample_every: self.sample_every.max(Duration::from_millis(100)),
        }
    }
}

/// One sample: when (ms since the epoch) and what.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Sample time, ms since the epoch.
    pub at_ms: i64,
    /// The value.
    pub value: f64,
}

/// A ring of at most `capacity` points, oldest first.
#[derive(Debug, Clone)]
pub struct Ring {
    capacity: usize,
    points: VecDeque<Point>,
}

impl Ring {
    /// An empty ring holding at most `capacity` (at least 1) points.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            points: VecDeque::with_capacity(capacity.min(1024)),
        }
    }

    /// Appends `point`, dropping the oldest when full.
    pub fn push(&mut self, point: Point) {
        while self.points.len() >= self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(point);
    }

    /// The points, oldest first.
    pub fn points(&self) -> Vec<Point> {
        self.points.iter().copied().collect()
    }

    /// How many points are held.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether no point is held.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The newest point.
    pub fn last(&self) -> Option<Point> {
        self.points.back().copied()
    }
}

/// Named rings under one cap on their number.
#[derive(Debug, Clone)]
pub struct History {
    config: HistoryConfig,
    series: BTreeMap<String, Ring>,
    refused: BTreeSet<String>,
}

impl History {
    /// Empty history under `config` (bounded first).
    pub fn new(config: HistoryConfig) -> Self {
        Self {
            config: config.bounded(),
            series: BTreeMap::new(),
            refused: BTreeSet::new(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> HistoryConfig {
        self.config
    }

    /// Records `point` in series `name`. A new series beyond the cap is not
    /// created: returns false (and remembers the name, up to the same cap, so
    /// a page can say its chart is not kept).
    pub fn record(&mut self, name: &str, point: Point) -> bool {
        if let Some(ring) = self.series.get_mut(name) {
            ring.push(point);
            return true;
        }
        if self.series.len() >= self.config.series_max {
            if self.refused.len() < self.config.series_max {
                self.refused.insert(name.to_owned());
            }
            return false;
        }
        let mut ring = Ring::new(self.config.points_per_series);
        ring.push(point);
        self.series.insert(name.to_owned(), ring);
        self.refused.remove(name);
        true
    }

    /// The points of series `name`, oldest first (empty if unknown).
    pub fn points(&self, name: &str) -> Vec<Point> {
        self.series.get(name).map(Ring::points).unwrap_or_default()
    }

    /// The newest point of series `name`.
    pub fn last(&self, name: &str) -> Option<Point> {
        self.series.get(name).and_then(Ring::last)
    }

    /// Whether series `name` was refused for the cap.
    pub fn is_refused(&self, name: &str) -> bool {
        self.refused.contains(name)
    }

    /// How many series are held.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Drops every series starting with `prefix` whose name is not in `keep`.
    pub fn retain_prefixed(&mut self, prefix: &str, keep: &BTreeSet<String>) {
        self.series
            .retain(|name, _| !name.starts_with(prefix) || keep.contains(name));
        self.refused
            .retain(|name| !name.starts_with(prefix) || keep.contains(name));
    }
}

/// The name of `group`'s lag series.
pub fn lag_series(group: &str) -> String {
    format!("{LAG_PREFIX}{group}")
}

/// Turns monotonically growing totals into a rate: remembers the previous
/// total and time per source (a broker), and yields the per-second increase.
/// A total that went down (a restarted broker) counts as a fresh start.
#[derive(Debug, Default, Clone)]
pub struct RateMeter {
    previous: BTreeMap<String, (i64, u64)>,
}

/// Sources a [`RateMeter`] remembers at most (brokers of a cluster).
pub const RATE_SOURCES_MAX: usize = 4096;

impl RateMeter {
    /// The rate of `source` since its previous total, per second; `None` on
    /// the first sample of a source or when no time passed.
    pub fn rate(&mut self, source: &str, at_ms: i64, total: u64) -> Option<f64> {
        let before = self.previous.get(source).copied();
        if before.is_some() || self.previous.len() < RATE_SOURCES_MAX {
            self.previous.insert(source.to_owned(), (at_ms, total));
        }
        let (then_ms, then_total) = before?;
        let elapsed_ms = at_ms.checked_sub(then_ms).filter(|ms| *ms > 0)?;
        let delta = total.checked_sub(then_total).unwrap_or(total);
        Some(delta as f64 * 1000.0 / elapsed_ms as f64)
    }

    /// Forgets every source not in `keep`.
    pub fn retain(&mut self, keep: &BTreeSet<String>) {
        self.previous.retain(|source, _| keep.contains(source));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(at_ms: i64, value: f64) -> Point {
        Point { at_ms, value }
    }

    #[test]
    fn a_ring_keeps_the_newest_points_in_order() {
        let mut ring = Ring::new(3);
        for i in 0..5 {
            ring.push(p(i, i as f64));
        }
        let kept: Vec<i64> = ring.points().iter().map(|p| p.at_ms).collect();
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(ring.last(), Some(p(4, 4.0)));
    }

    #[test]
    fn a_zero_capacity_ring_still_holds_one_point() {
        let mut ring = Ring::new(0);
        ring.push(p(1, 1.0));
        ring.push(p(2, 2.0));
        assert_eq!(ring.points(), [p(2, 2.0)]);
    }

    #[test]
    fn series_beyond_the_cap_are_refused_and_named() {
        let mut history = History::new(HistoryConfig {
            points_per_series: 2,
            series_max: 2,
            sample_every: Duration::from_secs(1),
        });
        assert!(history.record("a", p(1, 1.0)));
        assert!(history.record("b", p(1, 1.0)));
        assert!(!history.record("c", p(1, 1.0)));
        assert!(history.is_refused("c"));
        assert!(history.points("c").is_empty());
        assert!(history.record("a", p(2, 2.0)));
        assert!(history.record("a", p(3, 3.0)));
        assert_eq!(history.points("a"), [p(2, 2.0), p(3, 3.0)]);
        assert_eq!(history.series_count(), 2);
    }

    #[test]
    fn vanished_groups_lose_their_series_and_free_the_slot() {
        let mut history = History::new(HistoryConfig {
            series_max: 2,
            ..HistoryConfig::default()
        });
        history.record(SERIES_IN, p(1, 1.0));
        history.record(&lag_series("g1"), p(1, 1.0));
        assert!(!history.record(&lag_series("g2"), p(1, 1.0)));
        let keep = BTreeSet::from([lag_series("g2")]);
        history.retain_prefixed(LAG_PREFIX, &keep);
        assert!(history.points(&lag_series("g1")).is_empty());
        assert_eq!(history.points(SERIES_IN).len(), 1, "other series stay");
        assert!(history.record(&lag_series("g2"), p(2, 5.0)));
        assert!(!history.is_refused(&lag_series("g2")));
    }

    #[test]
    fn rates_come_from_deltas_and_a_restart_starts_afresh() {
        let mut meter = RateMeter::default();
        assert_eq!(meter.rate("b", 0, 100), None, "first sample");
        assert_eq!(meter.rate("b", 2_000, 300), Some(100.0));
        assert_eq!(meter.rate("b", 2_000, 400), None, "no time passed");
        assert_eq!(meter.rate("b", 3_000, 50), Some(50.0), "restarted");
        meter.retain(&BTreeSet::new());
        assert_eq!(meter.rate("b", 4_000, 60), None, "forgotten");
    }

    #[test]
    fn configurations_are_bounded() {
        let huge = HistoryConfig {
            points_per_series: usize::MAX,
            series_max: 0,
            sample_every: Duration::ZERO,
        }
        .bounded();
        assert_eq!(huge.points_per_series, POINTS_PER_SERIES_LIMIT);
        assert_eq!(huge.series_max, 1);
        assert_eq!(huge.sample_every, Duration::from_millis(100));
    }

    proptest! {
        #[test]
        fn memory_never_exceeds_the_configuration(
            cap in 1usize..16,
            series_max in 1usize..8,
            names in proptest::collection::vec(0u8..20, 0..400),
        ) {
            let mut history = History::new(HistoryConfig {
                points_per_series: cap,
                series_max,
                sample_every: Duration::from_secs(1),
            });
            for (i, n) in names.iter().enumerate() {
                history.record(&format!("s{n}"), p(i as i64, 0.0));
                prop_assert!(history.series_count() <= series_max);
            }
            for n in 0u8..20 {
                let points = history.points(&format!("s{n}"));
                prop_assert!(points.len() <= cap);
                prop_assert!(points.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
            }
        }
    }
}
