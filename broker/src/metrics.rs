//! The broker's Prometheus metrics and the HTTP endpoint that serves them
//! (`GET /metrics` on `metrics_address`, text exposition format 0.0.4).
//!
//! The send and pull paths touch only their own shard's state: messages and
//! bytes per topic (in) and per group and topic (out) are tallied in a
//! per-shard [`ShardTally`] (a lock only that shard and a scrape take), and
//! each shard observes its own latency histograms. A scrape folds the
//! tallies into the `prometheus-client` families. Figures that belong to the
//! shared tables or to the shards' stores — consumer lag, connections, disk
//! use — are computed when a scrape comes, on the endpoint's own std thread:
//! queue ends are asked of each owner shard through its inbox, as any
//! cross-shard request is.
//!
//! Commit-log flush times are observed by each shard into its own
//! histogram (a flush listener on its store); early send refusals
//! (`ringmq_rejected_total{reason}`: throttle, timeout_clean_queue,
//! pc_synchronized, overload) are per-shard atomic tallies folded at scrape
//! time; kept log bytes and parked long polls per shard are asked of each
//! shard through its inbox when a scrape comes.
//!
//! **Label cardinality is bounded**: at most [`LABEL_SETS_MAX`] topics and
//! as many (group, topic) pairs get their own series; the rest are counted
//! under the label value [`OTHER_LABEL`].
//!
//! The server is `tiny_http` on a dedicated thread (no tokio, no compio):
//! a scrape never runs on a shard's event loop.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::{BrokerState, lock};

/// Topics (and, separately, group/topic pairs) with their own series.
pub const LABEL_SETS_MAX: usize = 1_000;
/// The label value of everything beyond [`LABEL_SETS_MAX`].
pub const OTHER_LABEL: &str = "_other";
/// Queues one scrape asks the shards about for the lag gauges, at most.
pub const LAG_QUEUES_PER_SCRAPE_MAX: usize = 20_000;
/// Time a scrape waits for one shard's answer.
const SHARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupTopicLabels {
    group: String,
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    shard: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// Admits label values up to a bound; later ones become [`OTHER_LABEL`].
#[derive(Default)]
struct LabelGuard {
    admitted: Mutex<HashSet<String>>,
}

impl LabelGuard {
    fn admit(&self, value: &str) -> String {
        let mut admitted = lock(&self.admitted);
        if admitted.contains(value) {
            return value.to_owned();
        }
        if admitted.len() >= LABEL_SETS_MAX {
            return OTHER_LABEL.to_owned();
        }
        admitted.insert(value.to_owned());
        value.to_owned()
    }
}

/// Messages and bytes one shard stored per topic and delivered per (group,
/// topic), at most [`LABEL_SETS_MAX`] keys each (the rest under
/// [`OTHER_LABEL`]).
#[derive(Default)]
struct Tally {
    topics_in: HashMap<String, [u64; 2]>,
    pairs_out: HashMap<(String, String), [u64; 2]>,
}

/// One shard's [`Tally`]: its lock is taken by that shard and by scrapes,
/// never by another shard.
#[derive(Default)]
pub struct ShardTally {
    inner: Mutex<Tally>,
}

fn add_to<K: std::hash::Hash + Eq>(map: &mut HashMap<K, [u64; 2]>, key: K, other: K, n: [u64; 2]) {
    let key = if map.len() >= LABEL_SETS_MAX && !map.contains_key(&key) {
        other
    } else {
        key
    };
    let slot = map.entry(key).or_default();
    slot[0] = slot[0].saturating_add(n[0]);
    slot[1] = slot[1].saturating_add(n[1]);
}

impl ShardTally {
    fn message_in(&self, topic: &str, count: u64, bytes: u64) {
        let mut tally = lock(&self.inner);
        if let Some(slot) = tally.topics_in.get_mut(topic) {
            slot[0] = slot[0].saturating_add(count);
            slot[1] = slot[1].saturating_add(bytes);
            return;
        }
        add_to(
            &mut tally.topics_in,
            topic.to_owned(),
            OTHER_LABEL.to_owned(),
            [count, bytes],
        );
    }

    fn message_out(&self, group: &str, topic: &str, count: u64, bytes: u64) {
        let mut tally = lock(&self.inner);
        let key = (group.to_owned(), topic.to_owned());
        let other = (OTHER_LABEL.to_owned(), OTHER_LABEL.to_owned());
        add_to(&mut tally.pairs_out, key, other, [count, bytes]);
    }
}

/// Topic -> `[messages, bytes]` stored ([`BrokerMetrics::tallies`]).
pub type TopicTotals = HashMap<String, [u64; 2]>;
/// (group, topic) -> `[messages, bytes]` delivered.
pub type PairTotals = HashMap<(String, String), [u64; 2]>;

fn add_into(slot: &mut [u64; 2], n: [u64; 2]) {
    slot[0] = slot[0].saturating_add(n[0]);
    slot[1] = slot[1].saturating_add(n[1]);
}

/// Raises `counter` to `total` (tallies only grow, so this is their delta).
fn raise_to(counter: &Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

/// Why the broker refused a send early ([`BrokerMetrics::refused`]);
/// the label of `ringmq_rejected_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// Over a producer throttle rule (`crate::throttle`).
    Throttle,
    /// The oldest waiting write was older than `wait_time_in_queue_ms`.
    TimeoutCleanQueue,
    /// A commit-log write took longer than `os_page_cache_busy_timeout_ms`.
    PcSynchronized,
    /// The shard already had `send_pending_max` sends pending.
    Overload,
}

impl RefusalReason {
    /// Every reason, in counter order.
    pub const ALL: [RefusalReason; 4] = [
        RefusalReason::Throttle,
        RefusalReason::TimeoutCleanQueue,
        RefusalReason::PcSynchronized,
        RefusalReason::Overload,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::Throttle => "throttle",
            RefusalReason::TimeoutCleanQueue => "timeout_clean_queue",
            RefusalReason::PcSynchronized => "pc_synchronized",
            RefusalReason::Overload => "overload",
        }
    }
}

/// Every metric of one broker.
pub struct BrokerMetrics {
    registry: Registry,
    messages_in: Family<TopicLabels, Counter>,
    bytes_in: Family<TopicLabels, Counter>,
    messages_out: Family<GroupTopicLabels, Counter>,
    bytes_out: Family<GroupTopicLabels, Counter>,
    consumer_lag: Family<GroupTopicLabels, Gauge>,
    send_latency: Family<ShardLabels, Histogram>,
    pull_latency: Family<ShardLabels, Histogram>,
    rejected: Family<ReasonLabels, Counter>,
    connections: Gauge,
    disk_used_ratio: Gauge<f64, AtomicU64>,
    topics: LabelGuard,
    pairs: LabelGuard,
    /// Per shard: its tally and its own send and pull histograms.
    shards: Vec<(ShardTally, Histogram, Histogram)>,
    /// Early refusals by reason: per shard, one counter per
    /// [`RefusalReason`], folded into `refusals` at scrape time.
    refusal_tallies: Vec<[AtomicU64; 4]>,
    refusals: Family<ReasonLabels, Counter>,
    /// Per shard: its commit-log flush histogram (observed by that shard).
    flush_histograms: Vec<Histogram>,
    flush_latency: Family<ShardLabels, Histogram>,
    store_bytes: Family<ShardLabels, Gauge>,
    held_pulls: Family<ShardLabels, Gauge>,
    tcp_connections: Gauge,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~1.6 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

impl BrokerMetrics {
    /// The metrics of a broker with `shard_count` shards.
    pub fn new(shard_count: usize) -> Self {
        let mut registry = Registry::with_prefix("ringmq");
        let m = BrokerMetrics {
            registry: Registry::default(),
            messages_in: Family::default(),
            bytes_in: Family::default(),
            messages_out: Family::default(),
            bytes_out: Family::default(),
            consumer_lag: Family::default(),
            send_latency: Family::new_with_constructor(latency_histogram),
            pull_latency: Family::new_with_constructor(latency_histogram),
            rejected: Family::default(),
            connections: Gauge::default(),
            disk_used_ratio: Gauge::default(),
            topics: LabelGuard::default(),
            pairs: LabelGuard::default(),
            shards: Vec::new(),
            refusal_tallies: Vec::new(),
            refusals: Family::default(),
            flush_histograms: Vec::new(),
            flush_latency: Family::new_with_constructor(latency_histogram),
            store_bytes: Family::default(),
            held_pulls: Family::default(),
            tcp_connections: Gauge::default(),
        };
        registry.register(
            "messages_in",
            "Messages stored, by topic",
            m.messages_in.clone(),
        );
        registry.register(
            "bytes_in",
            "Message bytes received, by topic",
            m.bytes_in.clone(),
        );
        registry.register(
            "messages_out",
            "Messages delivered by pulls, by group and topic",
            m.messages_out.clone(),
        );
        registry.register(
            "bytes_out",
            "Record bytes delivered by pulls, by group and topic",
            m.bytes_out.clone(),
        );
        registry.register(
            "consumer_lag",
            "Messages stored but not yet committed by the group (at scrape time)",
            m.consumer_lag.clone(),
        );
        registry.register(
            "send_latency_seconds",
            "Time from a send request's arrival to its answer, by shard",
            m.send_latency.clone(),
        );
        registry.register(
            "pull_latency_seconds",
            "Time from a pull request's arrival to its answer (long-poll holds included), by shard",
            m.pull_latency.clone(),
        );
        registry.register(
            "rejected_requests",
            "Requests refused, by response code name",
            m.rejected.clone(),
        );
        registry.register(
            "rejected",
            "Sends refused early, by reason (throttle, timeout_clean_queue, pc_synchronized, overload)",
            m.refusals.clone(),
        );
        registry.register(
            "flush_latency_seconds",
            "Time of each commit-log flush (the fdatasyncs of one group commit), by shard",
            m.flush_latency.clone(),
        );
        registry.register(
            "store_bytes",
            "Commit-log bytes kept (oldest kept byte to end of log), by shard (at scrape time)",
            m.store_bytes.clone(),
        );
        registry.register(
            "held_pulls",
            "Long polls parked waiting for messages, by shard (at scrape time)",
            m.held_pulls.clone(),
        );
        registry.register(
            "tcp_connections",
            "Client TCP connections open (connections_max applies to these)",
            m.tcp_connections.clone(),
        );
        registry.register(
            "connections",
            "Client channels known from heartbeats",
            m.connections.clone(),
        );
        registry.register(
            "disk_used_ratio",
            "Used fraction of the file system holding the data directory",
            m.disk_used_ratio.clone(),
        );
        let shards = (0..shard_count.max(1))
            .map(|id| {
                let labels = ShardLabels {
                    shard: id.to_string(),
                };
                (
                    ShardTally::default(),
                    m.send_latency.get_or_create(&labels).clone(),
                    m.pull_latency.get_or_create(&labels).clone(),
                )
            })
            .collect();
        for reason in RefusalReason::ALL {
            drop(m.refusals.get_or_create(&ReasonLabels {
                reason: reason.label().to_owned(),
            }));
        }
        let refusal_tallies = (0..shard_count.max(1))
            .map(|_| Default::default())
            .collect();
        let flush_histograms = (0..shard_count.max(1))
            .map(|id| {
                m.flush_latency
                    .get_or_create(&ShardLabels {
                        shard: id.to_string(),
                    })
                    .clone()
            })
            .collect();
        BrokerMetrics {
            registry,
            shards,
            refusal_tallies,
            flush_histograms,
            ..m
        }
    }

    /// `shard` flushed its commit log in `took`.
    pub fn flushed(&self, shard: usize, took: Duration) {
        if let Some(histogram) = self.flush_histograms.get(shard) {
            histogram.observe(took.as_secs_f64());
        }
    }

    /// `shard` refused a send early for `reason`.
    pub fn refused(&self, shard: usize, reason: RefusalReason) {
        if let Some(slot) = self
            .refusal_tallies
            .get(shard)
            .and_then(|tally| tally.get(reason as usize))
        {
            slot.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// `shard` refused a send over a throttle rule.
    pub fn throttled(&self, shard: usize) {
        self.refused(shard, RefusalReason::Throttle);
    }

    /// Early refusals of every shard for `reason`.
    pub fn refusals(&self, reason: RefusalReason) -> u64 {
        self.refusal_tallies
            .iter()
            .filter_map(|tally| tally.get(reason as usize))
            .map(|slot| slot.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    fn fold_refusals(&self) {
        for reason in RefusalReason::ALL {
            let labels = ReasonLabels {
                reason: reason.label().to_owned(),
            };
            raise_to(&self.refusals.get_or_create(&labels), self.refusals(reason));
        }
    }

    /// `count` messages of `bytes` stored on `topic` by `shard`.
    pub fn message_in(&self, shard: usize, topic: &str, count: u64, bytes: u64) {
        if let Some((tally, _, _)) = self.shards.get(shard) {
            tally.message_in(topic, count, bytes);
        }
    }

    /// `count` messages of `bytes` delivered by `shard` to `group` from `topic`.
    pub fn message_out(&self, shard: usize, group: &str, topic: &str, count: u64, bytes: u64) {
        if let Some((tally, _, _)) = self.shards.get(shard) {
            tally.message_out(group, topic, count, bytes);
        }
    }

    /// Every shard's tallies summed, unlabelled: per topic and per (group,
    /// topic) `[messages, bytes]` (for [`crate::broker_stats`]).
    pub fn tallies(&self) -> (TopicTotals, PairTotals) {
        let mut topics = TopicTotals::new();
        let mut pairs = PairTotals::new();
        for (tally, _, _) in &self.shards {
            let tally = lock(&tally.inner);
            for (topic, n) in &tally.topics_in {
                add_into(topics.entry(topic.clone()).or_default(), *n);
            }
            for (pair, n) in &tally.pairs_out {
                add_into(pairs.entry(pair.clone()).or_default(), *n);
            }
        }
        (topics, pairs)
    }

    /// One topic's `[messages, bytes]` stored, if it was ever counted.
    pub fn topic_total(&self, topic: &str) -> Option<[u64; 2]> {
        let mut total = None;
        for (tally, _, _) in &self.shards {
            if let Some(n) = lock(&tally.inner).topics_in.get(topic) {
                add_into(total.get_or_insert([0, 0]), *n);
            }
        }
        total
    }

    /// One (group, topic)'s `[messages, bytes]` delivered, if ever counted.
    pub fn pair_total(&self, pair: &(String, String)) -> Option<[u64; 2]> {
        let mut total = None;
        for (tally, _, _) in &self.shards {
            if let Some(n) = lock(&tally.inner).pairs_out.get(pair) {
                add_into(total.get_or_insert([0, 0]), *n);
            }
        }
        total
    }

    /// Folds every shard's tally into the message and byte counters.
    fn fold_tallies(&self) {
        let mut topics: HashMap<String, [u64; 2]> = HashMap::new();
        let mut pairs: HashMap<(String, String), [u64; 2]> = HashMap::new();
        for (tally, _, _) in &self.shards {
            let tally = lock(&tally.inner);
            for (topic, n) in &tally.topics_in {
                let slot = topics.entry(self.topics.admit(topic)).or_default();
                slot[0] = slot[0].saturating_add(n[0]);
                slot[1] = slot[1].saturating_add(n[1]);
            }
            for ((group, topic), n) in &tally.pairs_out {
                let labels = self.pair(group, topic);
                let slot = pairs.entry((labels.group, labels.topic)).or_default();
                slot[0] = slot[0].saturating_add(n[0]);
                slot[1] = slot[1].saturating_add(n[1]);
            }
        }
        for (topic, [count, bytes]) in topics {
            let labels = TopicLabels { topic };
            raise_to(&self.messages_in.get_or_create(&labels), count);
            raise_to(&self.bytes_in.get_or_create(&labels), bytes);
        }
        for ((group, topic), [count, bytes]) in pairs {
            let labels = GroupTopicLabels { group, topic };
            raise_to(&self.messages_out.get_or_create(&labels), count);
            raise_to(&self.bytes_out.get_or_create(&labels), bytes);
        }
    }

    fn pair(&self, group: &str, topic: &str) -> GroupTopicLabels {
        match self.pairs.admit(&format!("{group}\u{0}{topic}")).as_str() {
            OTHER_LABEL => GroupTopicLabels {
                group: OTHER_LABEL.to_owned(),
                topic: OTHER_LABEL.to_owned(),
            },
            _ => GroupTopicLabels {
                group: group.to_owned(),
                topic: topic.to_owned(),
            },
        }
    }

    /// A request answered: latency of sends and pulls, refusals by code.
    pub fn answered(
        &self,
        shard: usize,
        request_code: i32,
        started: Instant,
        response_code: Option<i32>,
    ) {
        use ringmq_net::code::{request, response};
        let seconds = started.elapsed().as_secs_f64();
        let own = self.shards.get(shard);
        match request_code {
            request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE => {
                if let Some((_, send, _)) = own {
                    send.observe(seconds);
                }
            }
            request::PULL_MESSAGE | request::LITE_PULL_MESSAGE => {
                if let Some((_, _, pull)) = own {
                    pull.observe(seconds);
                }
            }
            _ => {}
        }
        let refused = match response_code {
            Some(
                code @ (response::SYSTEM_BUSY
                | response::SERVICE_NOT_AVAILABLE
                | response::MESSAGE_ILLEGAL
                | response::NO_PERMISSION
                | response::TOPIC_NOT_EXIST
                | response::FLOW_CONTROL
                | response::REQUEST_CODE_NOT_SUPPORTED
                | response::SUBSCRIPTION_GROUP_NOT_EXIST),
            ) => Some(code),
            _ => None,
        };
        if let Some(code) = refused {
            self.rejected
                .get_or_create(&ReasonLabels {
                    reason: response_code_name(code).to_owned(),
                })
                .inc();
        }
    }

    /// The text exposition of everything, after refreshing the scrape-time
    /// gauges from `state`.
    pub fn render(&self, state: &BrokerState) -> String {
        self.refresh(state);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    fn refresh(&self, state: &BrokerState) {
        self.fold_tallies();
        self.fold_refusals();
        let connections = lock(&state.clients).channel_count();
        self.connections
            .set(i64::try_from(connections).unwrap_or(i64::MAX));
        if let Some(ratio) = disk_used_ratio(&state.config.data_dir) {
            self.disk_used_ratio.set(ratio);
        }
        let open = state.connection_counts.total();
        self.tcp_connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
        self.refresh_stores(state);
        self.refresh_lag(state);
    }

    fn refresh_lag(&self, state: &BrokerState) {
        let committed = lock(&state.offsets).snapshot();
        self.consumer_lag.clear();
        let mut asked = 0usize;
        for (key, queues) in &committed.offset_table {
            let Some((topic, group)) = key.split_once('@') else {
                continue;
            };
            let mut lag = 0i64;
            for (queue_id, offset) in queues {
                if asked >= LAG_QUEUES_PER_SCRAPE_MAX {
                    break;
                }
                asked += 1;
                if let Some(max) = queue_end(state, topic, *queue_id) {
                    lag = lag.saturating_add(max.saturating_sub(*offset).max(0));
                }
            }
            self.consumer_lag
                .get_or_create(&self.pair(group, topic))
                .inc_by(lag);
        }
    }
}

impl BrokerMetrics {
    fn refresh_stores(&self, state: &BrokerState) {
        for shard in 0..state.shard_count() {
            let Some(info) = store_info(state, shard) else {
                continue;
            };
            let labels = ShardLabels {
                shard: shard.to_string(),
            };
            let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            self.store_bytes
                .get_or_create(&labels)
                .set(gauge(info.max_offset.saturating_sub(info.min_offset)));
            self.held_pulls
                .get_or_create(&labels)
                .set(gauge(info.held_pulls as u64));
        }
    }
}

/// A shard's store figures, asked of it from a non-shard thread.
fn store_info(state: &BrokerState, shard: usize) -> Option<crate::shard::StoreInfo> {
    let inbox = state.shards.get(shard)?;
    let (tx, rx) = futures::channel::oneshot::channel();
    inbox
        .send_timeout(
            crate::shard::ShardMessage::StoreInfo(tx),
            SHARD_ANSWER_TIMEOUT,
        )
        .ok()?;
    wait_answer(rx)
}

/// Polls a shard's answer until [`SHARD_ANSWER_TIMEOUT`].
fn wait_answer<T>(mut rx: futures::channel::oneshot::Receiver<T>) -> Option<T> {
    let deadline = Instant::now() + SHARD_ANSWER_TIMEOUT;
    loop {
        match rx.try_recv() {
            Ok(Some(answer)) => return Some(answer),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => return None,
        }
    }
}

/// The max offset of a queue, asked of its owner shard from a non-shard thread.
fn queue_end(state: &BrokerState, topic: &str, queue_id: i32) -> Option<i64> {
    use crate::shard::{ShardMessage, owner_of};
    use crate::store::{QueueQuery, QueueQueryKind};
    let owner = owner_of(topic, queue_id, state.shard_count());
    let inbox = state.shards.get(owner)?;
    let (tx, rx) = futures::channel::oneshot::channel();
    let query = QueueQuery::new(topic, queue_id, QueueQueryKind::MaxOffset);
    inbox
        .send_timeout(ShardMessage::Queue(query, tx), SHARD_ANSWER_TIMEOUT)
        .ok()?;
    let deadline = Instant::now() + SHARD_ANSWER_TIMEOUT;
    let mut rx = rx;
    loop {
        match rx.try_recv() {
            Ok(Some(answer)) => return Some(answer.value),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => return None,
        }
    }
}

/// Used fraction of the file system holding `path` (statvfs).
pub(crate) fn disk_used_ratio(path: &std::path::Path) -> Option<f64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` points to
    // writable memory of the right size; statvfs only writes into it.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised the struct.
    let stat = unsafe { stat.assume_init() };
    let total = stat.f_blocks as f64;
    (total > 0.0).then(|| (total - stat.f_bfree as f64) / total)
}

fn response_code_name(code: i32) -> &'static str {
    use ringmq_net::code::response;
    match code {
        response::SYSTEM_BUSY => "SYSTEM_BUSY",
        response::SERVICE_NOT_AVAILABLE => "SERVICE_NOT_AVAILABLE",
        response::MESSAGE_ILLEGAL => "MESSAGE_ILLEGAL",
        response::NO_PERMISSION => "NO_PERMISSION",
        response::TOPIC_NOT_EXIST => "TOPIC_NOT_EXIST",
        response::FLOW_CONTROL => "FLOW_CONTROL",
        response::REQUEST_CODE_NOT_SUPPORTED => "REQUEST_CODE_NOT_SUPPORTED",
        response::SUBSCRIPTION_GROUP_NOT_EXIST => "SUBSCRIPTION_GROUP_NOT_EXIST",
        _ => "OTHER",
    }
}

/// Renders the text exposition for one scrape.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// A running `/metrics` endpoint; dropping it stops the thread.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot serve metrics on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error("cannot start the metrics thread: {0}")]
    Thread(std::io::Error),
}

impl MetricsServer {
    /// Serves `render()` at `http://<addr>/metrics` (404 elsewhere).
    pub fn start(addr: &str, render: Render) -> Result<MetricsServer, MetricsError> {
        let bind_error = |reason: String| MetricsError::Bind {
            addr: addr.to_owned(),
            reason,
        };
        let server = tiny_http::Server::http(addr).map_err(|e| bind_error(e.to_string()))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| bind_error("not an IP listener".into()))?;
        let server = Arc::new(server);
        let serving = server.clone();
        let thread = std::thread::Builder::new()
            .name("ringmq-metrics".into())
            .spawn(move || serve(&serving, &render))
            .map_err(MetricsError::Thread)?;
        Ok(MetricsServer {
            server,
            thread: Some(thread),
            addr: bound,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server, render: &Render) {
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("");
        let response = if path == "/metrics" && *request.method() == tiny_http::Method::Get {
            let header = tiny_http::Header::from_bytes("Content-Type", CONTENT_TYPE);
            let mut response = tiny_http::Response::from_string(render());
            if let Ok(header) = header {
                response = response.with_header(header);
            }
            response
        } else {
            tiny_http::Response::from_string("only GET /metrics is served here\n")
                .with_status_code(404)
        };
        if let Err(err) = request.respond(response) {
            tracing::debug!(%err, "metrics response not delivered");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_are_bounded() {
        let guard = LabelGuard::default();
        for i in 0..LABEL_SETS_MAX {
            assert_eq!(guard.admit(&format!("t{i}")), format!("t{i}"));
        }
        assert_eq!(guard.admit("one-too-many"), OTHER_LABEL);
        assert_eq!(guard.admit("t0"), "t0");
    }

    #[test]
    fn a_shard_tally_is_bounded_and_counts_the_rest_as_other() {
        let tally = ShardTally::default();
        for i in 0..=LABEL_SETS_MAX {
            tally.message_in(&format!("t{i}"), 1, 1);
        }
        tally.message_in("t0", 1, 1);
        let inner = lock(&tally.inner);
        assert_eq!(inner.topics_in.len(), LABEL_SETS_MAX + 1);
        assert_eq!(inner.topics_in.get(OTHER_LABEL), Some(&[1, 1]));
        assert_eq!(inner.topics_in.get("t0"), Some(&[2, 2]));
    }

    #[test]
    fn counters_appear_in_the_text_format_with_their_labels() {
        let m = BrokerMetrics::new(2);
        m.message_in(0, "T", 1, 10);
        m.message_in(1, "T", 2, 20);
        m.message_out(1, "G", "T", 2, 20);
        m.fold_tallies();
        // A second fold adds nothing: tallies are totals, not deltas.
        m.fold_tallies();
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &m.registry).unwrap();
        assert!(
            out.contains("ringmq_messages_in_total{topic=\"T\"} 3"),
            "{out}"
        );
        assert!(
            out.contains("ringmq_bytes_in_total{topic=\"T\"} 30"),
            "{out}"
        );
        assert!(
            out.contains("ringmq_messages_out_total{group=\"G\",topic=\"T\"} 2"),
            "{out}"
        );
    }
}
