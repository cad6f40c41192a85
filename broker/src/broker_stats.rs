//! Minute, hour and day windows of the broker's message tallies, for
//! VIEW_BROKER_STATS_DATA (315) as Java 4.9's `BrokerStatsManager` keeps
//! them (`StatsItem`: a snapshot every 10 s kept for a minute, every
//! 10 min kept for an hour, every hour kept for a day).
//!
//! Nothing here is on the send or pull path: the counts are the per-shard
//! tallies of [`crate::metrics`] (messages and bytes per topic and per
//! (group, topic)) and the broker's put/get counters, read by the TPS
//! sampler thread ([`crate::tps`]), which calls [`StatsWindows::tick`]
//! once a second; a level takes a snapshot only when its period is due.
//!
//! A window's `sum` is the total now minus the oldest snapshot the ring
//! holds, `tps` is that sum per second the window actually covers. A key
//! seen for the first time gets a zero snapshot at that level's previous
//! tick (or start-up), when it was known to be zero: a freshly started
//! broker reports everything it received so far. `avgpt` (Java: sum per
//! counted request) is 0.0: the tallies count messages and bytes, not
//! requests, and counting requests would add work to the hot path.
//!
//! Memory: at most [`LABEL_SETS_MAX`] topics and as many (group, topic)
//! pairs get rings (the tallies' own bound), each ring at most
//! [`LEVELS`]`.cap` snapshots.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use ringmq_net::body::{BrokerStatsData, BrokerStatsItem};

use crate::metrics::LABEL_SETS_MAX;
use crate::state::lock;

/// One window level: snapshot period and snapshots kept.
#[derive(Debug, Clone, Copy)]
pub struct Level {
    /// Milliseconds between snapshots.
    pub period_ms: i64,
    /// Snapshots kept (the window spans `period_ms * (cap - 1)`).
    pub cap: usize,
}

/// Minute, hour and day, as Java's `StatsItem`.
pub const LEVELS: [Level; 3] = [
    Level {
        period_ms: 10_000,
        cap: 7,
    },
    Level {
        period_ms: 600_000,
        cap: 7,
    },
    Level {
        period_ms: 3_600_000,
        cap: 25,
    },
];

/// The statistics VIEW_BROKER_STATS_DATA answers (Java's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsName {
    /// `TOPIC_PUT_NUMS`: messages stored per topic (key: topic).
    TopicPutNums,
    /// `TOPIC_PUT_SIZE`: bytes stored per topic (key: topic).
    TopicPutSize,
    /// `GROUP_GET_NUMS`: messages delivered (key: `topic@group`).
    GroupGetNums,
    /// `GROUP_GET_SIZE`: bytes delivered (key: `topic@group`).
    GroupGetSize,
    /// `BROKER_PUT_NUMS`: messages stored (key: cluster name).
    BrokerPutNums,
    /// `BROKER_GET_NUMS`: messages delivered (key: cluster name).
    BrokerGetNums,
}

impl StatsName {
    /// The name as the header carries it, if known.
    pub fn parse(name: &str) -> Option<StatsName> {
        Some(match name {
            "TOPIC_PUT_NUMS" => StatsName::TopicPutNums,
            "TOPIC_PUT_SIZE" => StatsName::TopicPutSize,
            "GROUP_GET_NUMS" => StatsName::GroupGetNums,
            "GROUP_GET_SIZE" => StatsName::GroupGetSize,
            "BROKER_PUT_NUMS" => StatsName::BrokerPutNums,
            "BROKER_GET_NUMS" => StatsName::BrokerGetNums,
            _ => return None,
        })
    }

    /// Which of a key's two values (messages, bytes) this statistic reads.
    fn index(self) -> usize {
        match self {
            StatsName::TopicPutSize | StatsName::GroupGetSize | StatsName::BrokerGetNums => 1,
            StatsName::TopicPutNums | StatsName::GroupGetNums | StatsName::BrokerPutNums => 0,
        }
    }
}

/// Current totals: per topic and per (group, topic) `[messages, bytes]`,
/// and the broker's `[put, got]` message counters.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    /// Topic -> `[messages, bytes]` stored.
    pub topics: HashMap<String, [u64; 2]>,
    /// (group, topic) -> `[messages, bytes]` delivered.
    pub pairs: HashMap<(String, String), [u64; 2]>,
    /// `[messages put, messages got]`.
    pub broker: [u64; 2],
}

#[derive(Debug, Clone, Copy)]
struct Snapshot {
    at_ms: i64,
    value: [u64; 2],
}

/// One key's rings, one per level.
#[derive(Debug)]
struct Rings([VecDeque<Snapshot>; 3]);

impl Rings {
    fn starting_at(last: &[i64; 3]) -> Rings {
        Rings(last.map(|at_ms| {
            VecDeque::from([Snapshot {
                at_ms,
                value: [0, 0],
            }])
        }))
    }

    fn push(&mut self, level: usize, snapshot: Snapshot) {
        let (Some(ring), Some(spec)) = (self.0.get_mut(level), LEVELS.get(level)) else {
            return;
        };
        ring.push_back(snapshot);
        while ring.len() > spec.cap {
            ring.pop_front();
        }
    }

    fn oldest(&self, level: usize) -> Option<Snapshot> {
        self.0.get(level)?.front().copied()
    }
}

#[derive(Debug)]
struct Inner {
    last: [i64; 3],
    topics: HashMap<String, Rings>,
    pairs: HashMap<(String, String), Rings>,
    broker: Rings,
}

/// The windows of every key (see the module doc).
#[derive(Debug)]
pub struct StatsWindows {
    inner: Mutex<Inner>,
}

fn ring_for<'a, K: std::hash::Hash + Eq + Clone>(
    map: &'a mut HashMap<K, Rings>,
    key: &K,
    last: &[i64; 3],
) -> Option<&'a mut Rings> {
    if !map.contains_key(key) {
        if map.len() >= LABEL_SETS_MAX {
            return None;
        }
        map.insert(key.clone(), Rings::starting_at(last));
    }
    map.get_mut(key)
}

impl StatsWindows {
    /// Empty windows whose zero snapshots are at `started_ms`.
    pub fn new(started_ms: i64) -> StatsWindows {
        let last = [started_ms; 3];
        StatsWindows {
            inner: Mutex::new(Inner {
                last,
                topics: HashMap::new(),
                pairs: HashMap::new(),
                broker: Rings::starting_at(&last),
            }),
        }
    }

    /// The levels whose snapshot is due at `now_ms` (so a caller gathers
    /// totals only when one is).
    pub fn due(&self, now_ms: i64) -> Vec<usize> {
        let inner = lock(&self.inner);
        due_levels(&inner.last, now_ms)
    }

    /// Takes the due levels' snapshots of `totals` at `now_ms`.
    pub fn tick(&self, now_ms: i64, totals: &Totals) {
        let mut inner = lock(&self.inner);
        let levels = due_levels(&inner.last, now_ms);
        if levels.is_empty() {
            return;
        }
        let last = inner.last;
        for (topic, value) in &totals.topics {
            if let Some(rings) = ring_for(&mut inner.topics, topic, &last) {
                push_levels(rings, &levels, now_ms, *value);
            }
        }
        for (pair, value) in &totals.pairs {
            if let Some(rings) = ring_for(&mut inner.pairs, pair, &last) {
                push_levels(rings, &levels, now_ms, *value);
            }
        }
        push_levels(&mut inner.broker, &levels, now_ms, totals.broker);
        for level in levels {
            if let Some(at) = inner.last.get_mut(level) {
                *at = now_ms;
            }
        }
    }

    /// The minute, hour and day of `name` for `key` given its total `now`
    /// (`[messages, bytes]`, or the broker's `[put, got]`), `None` when
    /// the key was never counted.
    pub fn data(
        &self,
        name: StatsName,
        key: &StatsKey,
        now: Option<[u64; 2]>,
        now_ms: i64,
    ) -> Option<BrokerStatsData> {
        let inner = lock(&self.inner);
        let rings = match key {
            StatsKey::Topic(topic) => inner.topics.get(topic),
            StatsKey::Pair(pair) => inner.pairs.get(pair),
            StatsKey::Broker => Some(&inner.broker),
        };
        if rings.is_none() && now.is_none() {
            return None;
        }
        let total = now.unwrap_or_default();
        let index = name.index();
        let item = |level: usize| {
            let oldest = rings
                .and_then(|rings| rings.oldest(level))
                .unwrap_or(Snapshot {
                    at_ms: inner.last.get(level).copied().unwrap_or(now_ms),
                    value: [0, 0],
                });
            window_item(
                total.get(index).copied().unwrap_or(0),
                oldest.value.get(index).copied().unwrap_or(0),
                now_ms.saturating_sub(oldest.at_ms),
            )
        };
        Some(BrokerStatsData {
            stats_minute: item(0),
            stats_hour: item(1),
            stats_day: item(2),
        })
    }
}

/// Takes the due snapshots of `state`'s tallies and counters (called by
/// the TPS sampler thread, never by a shard).
pub fn sample(state: &crate::state::BrokerState, now_ms: i64) {
    if state.stats_windows.due(now_ms).is_empty() {
        return;
    }
    let (topics, pairs) = state.metrics.tallies();
    let totals = Totals {
        topics,
        pairs,
        broker: broker_totals(state),
    };
    state.stats_windows.tick(now_ms, &totals);
}

/// The broker's `[messages put, messages got]` counters.
pub fn broker_totals(state: &crate::state::BrokerState) -> [u64; 2] {
    use std::sync::atomic::Ordering;
    [
        state.counters.messages_put.load(Ordering::Relaxed),
        state.counters.messages_got.load(Ordering::Relaxed),
    ]
}

/// Which key a statistic is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsKey {
    /// A topic.
    Topic(String),
    /// (group, topic), from Java's `topic@group`.
    Pair((String, String)),
    /// The broker itself.
    Broker,
}

fn due_levels(last: &[i64; 3], now_ms: i64) -> Vec<usize> {
    LEVELS
        .iter()
        .zip(last)
        .enumerate()
        .filter(|(_, (level, at))| now_ms.saturating_sub(**at) >= level.period_ms)
        .map(|(index, _)| index)
        .collect()
}

fn push_levels(rings: &mut Rings, levels: &[usize], at_ms: i64, value: [u64; 2]) {
    for &level in levels {
        rings.push(level, Snapshot { at_ms, value });
    }
}

fn window_item(total: u64, oldest: u64, covered_ms: i64) -> BrokerStatsItem {
    let sum = total.saturating_sub(oldest);
    let tps = if covered_ms > 0 {
        sum as f64 * 1000.0 / covered_ms as f64
    } else {
        0.0
    };
    BrokerStatsItem {
        sum: i64::try_from(sum).unwrap_or(i64::MAX),
        tps,
        avgpt: 0.0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn totals(topic: &str, n: u64) -> Totals {
        Totals {
            topics: HashMap::from([(topic.to_owned(), [n, n * 10])]),
            ..Totals::default()
        }
    }

    #[test]
    fn a_fresh_key_reports_everything_since_start() {
        let windows = StatsWindows::new(0);
        let key = StatsKey::Topic("t".into());
        let data = windows
            .data(StatsName::TopicPutNums, &key, Some([5, 50]), 5_000)
            .unwrap();
        assert_eq!(data.stats_minute.sum, 5);
        assert_eq!(data.stats_day.sum, 5);
        assert_eq!(data.stats_minute.tps, 1.0);
        let size = windows
            .data(StatsName::TopicPutSize, &key, Some([5, 50]), 5_000)
            .unwrap();
        assert_eq!(size.stats_hour.sum, 50);
    }

    #[test]
    fn an_unknown_key_has_no_data() {
        let windows = StatsWindows::new(0);
        let key = StatsKey::Topic("t".into());
        assert!(
            windows
                .data(StatsName::TopicPutNums, &key, None, 1)
                .is_none()
        );
        assert!(
            windows
                .data(StatsName::BrokerPutNums, &StatsKey::Broker, None, 1)
                .is_some()
        );
    }

    #[test]
    fn the_minute_window_slides_and_the_day_keeps_counting() {
        let windows = StatsWindows::new(0);
        let key = StatsKey::Topic("t".into());
        for i in 1..=20i64 {
            windows.tick(i * 10_000, &totals("t", i as u64 * 10));
        }
        let data = windows
            .data(StatsName::TopicPutNums, &key, Some([200, 0]), 200_000)
            .unwrap();
        // The minute ring holds the snapshots of 140 s..200 s.
        assert_eq!(data.stats_minute.sum, 60);
        assert_eq!(data.stats_minute.tps, 1.0);
        assert_eq!(data.stats_hour.sum, 200);
        assert_eq!(data.stats_day.sum, 200);
    }

    #[test]
    fn only_due_levels_take_snapshots() {
        let windows = StatsWindows::new(0);
        assert!(windows.due(9_999).is_empty());
        assert_eq!(windows.due(10_000), vec![0]);
        assert_eq!(windows.due(3_600_000), vec![0, 1, 2]);
    }

    #[test]
    fn rings_and_keys_are_bounded() {
        let windows = StatsWindows::new(0);
        let mut all = Totals::default();
        for i in 0..=LABEL_SETS_MAX {
            all.topics.insert(format!("t{i}"), [1, 1]);
        }
        for i in 1..100i64 {
            windows.tick(i * 3_600_000, &all);
        }
        let inner = lock(&windows.inner);
        assert_eq!(inner.topics.len(), LABEL_SETS_MAX);
        for rings in inner.topics.values() {
            for (ring, level) in rings.0.iter().zip(LEVELS) {
                assert!(ring.len() <= level.cap);
            }
        }
    }
}
