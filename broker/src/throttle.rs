//! Producer throttling: per-topic and per (topic, producer group) limits on
//! messages per second, set at run time (RINGMQ_THROTTLE_SET / _LIST /
//! _CLEAR, ringmq-private request codes) and persisted in
//! `<data_dir>/config/throttle.json` (written atomically: temp, fsync,
//! rename, fsync of the directory; see [`crate::persist`]) so they survive a
//! restart. A send over a limit is answered SYSTEM_BUSY with a remark
//! naming the topic and the limit; each rule counts its refusals.
//!
//! # Cost on the send path
//!
//! The rules live in one [`Throttles`] table behind a mutex that only
//! admin requests take. Each shard reads them through its own
//! [`Snapshot`](crate::state::Snapshot) keyed by the table's epoch, exactly
//! like the topic table: the send path does one atomic load of the epoch
//! and, with no rule at all, one "is the map empty" check. With rules, it
//! is one hash lookup by topic in the shard's own map. No lock is taken.
//!
//! # A rate that holds across shards
//!
//! Sends of one topic arrive on every shard (connections are spread by the
//! kernel), so a per-shard share of the rate would be wrong whenever the
//! producers are not evenly spread. Each rule is instead one GCRA bucket
//! ([`Bucket`]): a single `AtomicU64` "theoretical arrival time" shared by
//! the shards through an `Arc`, advanced by compare-and-swap. Only sends of
//! throttled topics touch it, and they are by definition limited to the
//! rule's rate (refusals touch it only with a load), so its contention is
//! bounded by the rate an operator chose. The bucket admits bursts of up to
//! one second's worth of messages ([`BURST_NS`]).
//!
//! A send must pass the topic's rule and then its producer group's rule;
//! a refusal by the group rule after the topic rule admitted it still
//! spends the topic's tokens (conservative: never more than the limits).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ringmq_net::body::throttle::{
    THROTTLE_FILE_VERSION, THROTTLE_RULES_MAX, ThrottleClearBody, ThrottleEntry, ThrottleFile,
    ThrottleRuleData, ThrottleRuleError,
};

use crate::state::lock;

/// Burst a bucket admits: one second of its rate.
pub const BURST_NS: u64 = 1_000_000_000;
/// File name of the persisted rules under `<data_dir>/config/`.
pub const THROTTLE_FILE: &str = "throttle.json";

/// The path of the persisted rules.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("config").join(THROTTLE_FILE)
}

/// One rule's GCRA bucket and refusal count.
#[derive(Debug)]
pub struct Bucket {
    rule: ThrottleRuleData,
    /// Nanoseconds one message costs: 1 s / rate.
    interval_ns: u64,
    /// Theoretical arrival time, ns since [`Throttles`] was created.
    tat_ns: AtomicU64,
    rejected: AtomicU64,
}

impl Bucket {
    fn new(rule: ThrottleRuleData, rejected: u64) -> Bucket {
        let interval_ns = BURST_NS / u64::from(rule.rate.max(1));
        Bucket {
            rule,
            interval_ns: interval_ns.max(1),
            tat_ns: AtomicU64::new(0),
            rejected: AtomicU64::new(rejected),
        }
    }

    /// The rule.
    pub fn rule(&self) -> &ThrottleRuleData {
        &self.rule
    }

    /// Takes `count` messages' worth at `now_ns`, or refuses (and counts it).
    /// A batch bigger than the burst passes only when the bucket is full.
    pub fn try_take(&self, count: u64, now_ns: u64) -> bool {
        let cost = self.interval_ns.saturating_mul(count.max(1));
        let mut tat = self.tat_ns.load(Ordering::Acquire);
        loop {
            let start = tat.max(now_ns);
            let new_tat = start.saturating_add(cost);
            let over = new_tat.saturating_sub(now_ns) > BURST_NS;
            if over && tat > now_ns {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            match self.tat_ns.compare_exchange_weak(
                tat,
                new_tat,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => tat = seen,
            }
        }
    }

    /// Sends refused so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

/// The rules of one topic in a shard's snapshot.
#[derive(Debug, Default)]
pub struct TopicThrottles {
    pub topic: Option<Arc<Bucket>>,
    pub groups: HashMap<String, Arc<Bucket>>,
}

/// What a shard reads on the send path: rules by topic.
pub type ThrottleSnapshot = HashMap<String, TopicThrottles>;

type Key = (String, Option<String>);

/// Why a rule was not set.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleSetError {
    #[error(transparent)]
    Rule(#[from] ThrottleRuleError),
    #[error("the broker already holds {THROTTLE_RULES_MAX} throttle rules, its limit")]
    TooMany,
}

/// Why the persisted rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleLoadError {
    #[error("throttle file version {0} is not {THROTTLE_FILE_VERSION}")]
    Version(u32),
    #[error("a persisted throttle rule is invalid: {0}")]
    Rule(#[from] ThrottleSetError),
}

/// Every rule of the broker (see the module doc).
pub struct Throttles {
    rules: Mutex<BTreeMap<Key, Arc<Bucket>>>,
    epoch: AtomicU64,
    /// Serialises file writes, so the last one written is the newest table.
    writing: Mutex<()>,
    file: PathBuf,
    clock: Instant,
}

impl Throttles {
    /// No rules; persisted to `file`.
    pub fn new(file: PathBuf) -> Throttles {
        Throttles {
            rules: Mutex::default(),
            epoch: AtomicU64::new(0),
            writing: Mutex::default(),
            file,
            clock: Instant::now(),
        }
    }

    /// Installs the rules read from the file at start.
    pub fn install(&self, file: ThrottleFile) -> Result<(), ThrottleLoadError> {
        if file.version != THROTTLE_FILE_VERSION {
            return Err(ThrottleLoadError::Version(file.version));
        }
        for rule in file.rules {
            self.set(rule)?;
        }
        Ok(())
    }

    /// The epoch shards compare their snapshot against.
    pub fn epoch(&self) -> &AtomicU64 {
        &self.epoch
    }

    /// Nanoseconds since the table was created (the buckets' clock).
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// A shard's copy of the rules.
    pub fn snapshot(&self) -> ThrottleSnapshot {
        let mut out = ThrottleSnapshot::new();
        for ((topic, group), bucket) in lock(&self.rules).iter() {
            let entry = out.entry(topic.clone()).or_default();
            match group {
                None => entry.topic = Some(bucket.clone()),
                Some(group) => {
                    entry.groups.insert(group.clone(), bucket.clone());
                }
            }
        }
        out
    }

    /// Adds or replaces a rule (in memory; [`Throttles::persist`] writes it).
    /// Replacing keeps the rule's refusal count.
    pub fn set(&self, rule: ThrottleRuleData) -> Result<(), ThrottleSetError> {
        rule.validate()?;
        let key = (rule.topic.clone(), rule.producer_group.clone());
        let mut rules = lock(&self.rules);
        let rejected = match rules.get(&key) {
            Some(old) => old.rejected(),
            None if rules.len() >= THROTTLE_RULES_MAX => return Err(ThrottleSetError::TooMany),
            None => 0,
        };
        rules.insert(key, Arc::new(Bucket::new(rule, rejected)));
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Removes the rules `filter` matches; returns how many.
    pub fn clear(&self, filter: &ThrottleClearBody) -> usize {
        let mut rules = lock(&self.rules);
        let before = rules.len();
        rules.retain(|_, bucket| !filter.matches(&bucket.rule));
        let removed = before - rules.len();
        if removed > 0 {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Every rule with its refusals, sorted by topic then group.
    pub fn list(&self) -> Vec<ThrottleEntry> {
        lock(&self.rules)
            .values()
            .map(|bucket| ThrottleEntry {
                topic: bucket.rule.topic.clone(),
                producer_group: bucket.rule.producer_group.clone(),
                rate: bucket.rule.rate,
                rejected: bucket.rejected(),
            })
            .collect()
    }

    /// Refusals of every rule together.
    pub fn rejected_total(&self) -> u64 {
        lock(&self.rules).values().map(|b| b.rejected()).sum()
    }

    /// Writes the current rules to the file (blocking I/O: call it off the
    /// event loop).
    pub fn persist(&self) -> std::io::Result<()> {
        let _writing = lock(&self.writing);
        let file = ThrottleFile {
            version: THROTTLE_FILE_VERSION,
            rules: lock(&self.rules).values().map(|b| b.rule.clone()).collect(),
        };
        let bytes = ringmq_net::body::encode_json(&file)
            .map_err(|err| std::io::Error::other(err.to_string()))?;
        crate::persist::write_atomically(&self.file, &bytes)
    }
}

/// A send refused by a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub rule: ThrottleRuleData,
}

impl Throttled {
    /// The SYSTEM_BUSY remark: names the topic, the group and the limit.
    pub fn remark(&self) -> String {
        let who = match &self.rule.producer_group {
            Some(group) => format!(" for producer group {group}"),
            None => String::new(),
        };
        format!(
            "[THROTTLED]broker busy: topic {} is limited to {} messages/s{who}; retry later",
            self.rule.topic, self.rule.rate
        )
    }
}

/// Checks `count` messages to `topic` from `group` against `rules`.
pub fn check(
    rules: &ThrottleSnapshot,
    now_ns: u64,
    topic: &str,
    group: &str,
    count: u64,
) -> Result<(), Throttled> {
    if rules.is_empty() {
        return Ok(());
    }
    let Some(found) = rules.get(topic) else {
        return Ok(());
    };
    let buckets = found.topic.iter().chain(found.groups.get(group));
    for bucket in buckets {
        if !bucket.try_take(count, now_ns) {
            return Err(Throttled {
                rule: bucket.rule.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rule(topic: &str, group: Option<&str>, rate: u32) -> ThrottleRuleData {
        ThrottleRuleData {
            topic: topic.into(),
            producer_group: group.map(str::to_owned),
            rate,
        }
    }

    #[test]
    fn a_bucket_admits_one_second_of_burst_then_its_rate() {
        let bucket = Bucket::new(rule("T", None, 10), 0);
        let admitted = (0..100).filter(|_| bucket.try_take(1, 0)).count();
        assert_eq!(admitted, 10, "a burst of one second's worth");
        assert_eq!(bucket.rejected(), 90);
        // 100 ms later, one more message's worth has accrued.
        assert!(bucket.try_take(1, 100_000_000));
        assert!(!bucket.try_take(1, 100_000_000));
        // After a quiet second the burst is back.
        let later = 2 * BURST_NS;
        assert_eq!((0..20).filter(|_| bucket.try_take(1, later)).count(), 10);
    }

    #[test]
    fn a_batch_counts_each_message_and_a_huge_batch_needs_a_full_bucket() {
        let bucket = Bucket::new(rule("T", None, 10), 0);
        assert!(bucket.try_take(8, 0));
        assert!(!bucket.try_take(5, 0));
        let huge = Bucket::new(rule("T", None, 2), 0);
        assert!(
            huge.try_take(50, 0),
            "a full bucket lets one oversized batch through"
        );
        assert!(!huge.try_take(1, 0));
    }

    #[test]
    fn shards_sharing_a_bucket_share_its_rate() {
        let bucket = Arc::new(Bucket::new(rule("T", None, 1000), 0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let bucket = bucket.clone();
                std::thread::spawn(move || (0..1000).filter(|_| bucket.try_take(1, 0)).count())
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(admitted, 1000);
    }

    #[test]
    fn topic_and_group_rules_both_apply_and_others_pass() {
        let table = Throttles::new(PathBuf::from("/nonexistent/throttle.json"));
        let empty = table.snapshot();
        assert!(check(&empty, 0, "T", "PG", 1).is_ok());
        table.set(rule("T", Some("PG"), 1)).unwrap();
        table.set(rule("U", None, 1)).unwrap();
        let rules = table.snapshot();
        assert!(check(&rules, 0, "T", "PG", 1).is_ok());
        let refused = check(&rules, 0, "T", "PG", 1).unwrap_err();
        assert!(
            refused
                .remark()
                .contains("topic T is limited to 1 messages/s for producer group PG")
        );
        assert!(
            check(&rules, 0, "T", "OTHER", 1).is_ok(),
            "another group is not limited"
        );
        assert!(check(&rules, 0, "U", "ANY", 1).is_ok());
        assert!(check(&rules, 0, "U", "ANY", 1).is_err());
        assert!(
            check(&rules, 0, "V", "ANY", 100).is_ok(),
            "unthrottled topic"
        );
        assert_eq!(table.rejected_total(), 2);
    }

    #[test]
    fn set_replaces_keeping_the_count_and_clear_filters_and_bumps_the_epoch() {
        let table = Throttles::new(PathBuf::from("/nonexistent/throttle.json"));
        table.set(rule("T", None, 1)).unwrap();
        let rules = table.snapshot();
        let _ = check(&rules, 0, "T", "G", 1);
        let _ = check(&rules, 0, "T", "G", 1);
        table.set(rule("T", None, 5)).unwrap();
        table.set(rule("T", Some("G"), 5)).unwrap();
        let listed = table.list();
        assert_eq!(listed.len(), 2);
        assert_eq!((listed[0].rate, listed[0].rejected), (5, 1));
        let epoch = table.epoch().load(Ordering::Acquire);
        let filter = ThrottleClearBody {
            topic: None,
            producer_group: Some("G".into()),
        };
        assert_eq!(table.clear(&filter), 1);
        assert!(table.epoch().load(Ordering::Acquire) > epoch);
        assert_eq!(table.clear(&ThrottleClearBody::default()), 1);
        assert!(table.list().is_empty());
        assert!(table.set(rule("T", None, 0)).is_err());
    }

    #[test]
    fn rules_persist_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        let table = Throttles::new(file.clone());
        table.set(rule("T", Some("PG"), 7)).unwrap();
        table.persist().unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let loaded: ThrottleFile = ringmq_net::body::decode_json(&bytes).unwrap();
        let again = Throttles::new(file);
        again.install(loaded).unwrap();
        assert_eq!(again.list()[0].rate, 7);
        let bad = ThrottleFile {
            version: 9,
            rules: Vec::new(),
        };
        assert!(again.install(bad).is_err());
    }
}
