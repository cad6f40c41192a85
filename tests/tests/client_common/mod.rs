//! Shared pieces of the tests that drive the `ringmq_client` crate against
//! real `ringmq` processes: a tokio runtime, numbered test messages (tag, key,
//! user properties), a recorder of what each consumer received, and bounded
//! waits that fail with counts and the servers' log tails.
//!
//! Not every test binary uses every item.
#![allow(dead_code)]

use ringmq_client::consumer::MessageExt;
use ringmq_client::{Message, MessageQueue};
use ringmq_tests::Cluster;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// User property holding the message's sequence number.
pub const PROP_SEQ: &str = "ringmq.seq";
/// User property telling how the message was sent.
pub const PROP_KIND: &str = "ringmq.kind";
/// Pause between polls of a bounded wait.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Longest wait for consumers to receive what was sent.
pub const CONSUME_WAIT_MAX: Duration = Duration::from_secs(120);
/// Longest wait for a group's queue assignment to settle.
pub const REBALANCE_WAIT_MAX: Duration = Duration::from_secs(90);

/// A multi-thread tokio runtime for a test body (the process harness is
/// blocking and runs outside it).
pub fn test_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// What test message `seq` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Body bytes.
    pub body: Vec<u8>,
    /// Tag.
    pub tag: String,
    /// Key.
    pub key: String,
    /// How it was sent.
    pub kind: String,
}

/// The content of message `seq` (bodies of 17..=272 bytes).
pub fn expected(seq: u32, kind: &str) -> Expected {
    let tag = ["TagA", "TagB", "TagC"][usize::try_from(seq % 3).unwrap_or(0)];
    let pad = usize::try_from(seq % 256).unwrap_or(0);
    let mut body = format!("body-{seq:07}-").into_bytes();
    body.extend(std::iter::repeat_n(
        b'a' + u8::try_from(seq % 26).unwrap_or(0),
        pad,
    ));
    Expected {
        body,
        tag: tag.to_string(),
        key: format!("key-{seq}"),
        kind: kind.to_string(),
    }
}

/// Message `seq` for `topic`, built with this crate's client.
pub fn message(topic: &str, seq: u32, kind: &str) -> Message {
    let e = expected(seq, kind);
    Message::new(topic, e.body)
        .with_tags(e.tag)
        .with_keys([e.key])
        .with_property(PROP_SEQ, seq.to_string())
        .with_property(PROP_KIND, kind)
}

/// The sequence number of a consumed test message.
pub fn seq_of(msg: &MessageExt) -> Option<u32> {
    msg.property(PROP_SEQ).and_then(|s| s.parse().ok())
}

/// One delivery of a test message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Which consumer (the test's own numbering).
    pub consumer: usize,
    /// The queue it came from.
    pub queue: MessageQueue,
    /// The queue offset.
    pub queue_offset: i64,
    /// Content as received.
    pub content: Expected,
}

/// Every delivery, per sequence number, in arrival order.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Deliveries of each sequence number.
    pub by_seq: BTreeMap<u32, Vec<Delivery>>,
    /// Messages without a `ringmq.seq` property.
    pub foreign: u64,
}

/// A shared [`Deliveries`], fed by listeners and poll loops.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Deliveries>>);

impl Recorder {
    /// Records that `consumer` received `msg`.
    pub fn record(&self, consumer: usize, msg: &MessageExt) {
        let mut d = self.0.lock().expect("recorder lock");
        let Some(seq) = seq_of(msg) else {
            d.foreign += 1;
            return;
        };
        let content = Expected {
            body: msg.body.to_vec(),
            tag: msg.tags().unwrap_or_default().to_string(),
            key: msg.keys().join(" "),
            kind: msg.property(PROP_KIND).unwrap_or_default().to_string(),
        };
        d.by_seq.entry(seq).or_default().push(Delivery {
            consumer,
            queue: msg.queue(),
            queue_offset: msg.queue_offset,
            content,
        });
    }

    /// Distinct sequence numbers received.
    pub fn distinct(&self) -> usize {
        self.0.lock().expect("recorder lock").by_seq.len()
    }

    /// Distinct sequence numbers received within `seqs`.
    pub fn distinct_in(&self, seqs: &std::ops::Range<u32>) -> usize {
        let d = self.0.lock().expect("recorder lock");
        d.by_seq.range(seqs.clone()).count()
    }

    /// Sequence numbers in `seqs` that never arrived.
    pub fn missing(&self, seqs: std::ops::Range<u32>) -> Vec<u32> {
        let d = self.0.lock().expect("recorder lock");
        seqs.filter(|s| !d.by_seq.contains_key(s)).collect()
    }

    /// Sequence numbers in `seqs` delivered more than once, with the count.
    pub fn duplicated(&self, seqs: std::ops::Range<u32>) -> BTreeMap<u32, usize> {
        let d = self.0.lock().expect("recorder lock");
        d.by_seq
            .range(seqs)
            .filter(|(_, v)| v.len() > 1)
            .map(|(s, v)| (*s, v.len()))
            .collect()
    }

    /// Received sequence numbers outside `seqs`.
    pub fn outside(&self, seqs: &std::ops::Range<u32>) -> Vec<u32> {
        let d = self.0.lock().expect("recorder lock");
        d.by_seq
            .keys()
            .filter(|s| !seqs.contains(s))
            .copied()
            .collect()
    }

    /// Deliveries per consumer.
    pub fn per_consumer(&self) -> BTreeMap<usize, usize> {
        let d = self.0.lock().expect("recorder lock");
        let mut out = BTreeMap::new();
        for delivery in d.by_seq.values().flatten() {
            *out.entry(delivery.consumer).or_insert(0) += 1;
        }
        out
    }

    /// A copy of every delivery.
    pub fn snapshot(&self) -> BTreeMap<u32, Vec<Delivery>> {
        self.0.lock().expect("recorder lock").by_seq.clone()
    }

    /// Waits (bounded by `limit`) until every sequence number in `seqs`
    /// arrived; panics with counts and the servers' log tails otherwise.
    pub async fn wait_all(
        &self,
        who: &str,
        seqs: std::ops::Range<u32>,
        limit: Duration,
        cluster: &Cluster,
    ) {
        let want = seqs.len();
        let ok = wait_until(limit, || self.distinct_in(&seqs) >= want).await;
        if !ok {
            let missing = self.missing(seqs.clone());
            panic!(
                "{who}: {} of {want} messages ({seqs:?}) missing after {limit:?} \
                 (first {:?}); deliveries per consumer {:?}\n{}",
                missing.len(),
                missing.iter().take(10).collect::<Vec<_>>(),
                self.per_consumer(),
                cluster.log_tails()
            );
        }
    }

    /// Panics unless every message in `seqs` arrived with exactly the
    /// content that was sent (as `kind`), in each of its deliveries.
    pub fn assert_intact(&self, who: &str, seqs: std::ops::Range<u32>, kind: &str) {
        let d = self.0.lock().expect("recorder lock");
        for seq in seqs {
            let deliveries = d
                .by_seq
                .get(&seq)
                .unwrap_or_else(|| panic!("{who}: message {seq} never arrived"));
            let want = expected(seq, kind);
            for delivery in deliveries {
                assert_eq!(delivery.content, want, "{who}: content of message {seq}");
            }
        }
    }
}

/// Polls `done` every [`POLL_INTERVAL`] until it holds or `limit` passed;
/// returns whether it held.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Whether `assignments` (queues of `topic` per consumer) give every one of
/// `all` to exactly one consumer; returns the owner count of each queue.
pub fn owners(
    topic: &str,
    assignments: &[Vec<MessageQueue>],
    all: &BTreeSet<MessageQueue>,
) -> BTreeMap<MessageQueue, usize> {
    let mut count: BTreeMap<MessageQueue, usize> = all.iter().map(|q| (q.clone(), 0)).collect();
    for queues in assignments {
        for q in queues.iter().filter(|q| q.topic == topic) {
            *count.entry(q.clone()).or_insert(0) += 1;
        }
    }
    count
}

/// Whether every queue in `owners` has exactly one owner.
pub fn is_partition(owners: &BTreeMap<MessageQueue, usize>) -> bool {
    owners.values().all(|n| *n == 1)
}

/// Sends still awaiting their answer at once, in [`send_range`].
pub const SENDS_IN_FLIGHT_MAX: usize = 16;
/// Longest wait for a whole [`send_range`].
pub const SEND_WAIT_MAX: Duration = Duration::from_secs(120);

/// Sends test messages `seqs` (as `kind`) with at most
/// [`SENDS_IN_FLIGHT_MAX`] in flight; panics on any failed send. Returns the
/// result of each, by sequence number.
pub async fn send_range(
    producer: &ringmq_client::producer::Producer,
    topic: &str,
    seqs: std::ops::Range<u32>,
    kind: &str,
) -> BTreeMap<u32, ringmq_client::producer::SendResult> {
    let work = async {
        let mut in_flight = tokio::task::JoinSet::new();
        let mut results = BTreeMap::new();
        for seq in seqs {
            if in_flight.len() >= SENDS_IN_FLIGHT_MAX {
                collect_one(&mut in_flight, &mut results).await;
            }
            let send = producer
                .send_async(message(topic, seq, kind))
                .unwrap_or_else(|e| panic!("message {seq} refused: {e}"));
            in_flight.spawn(async move { (seq, send.await) });
        }
        while !in_flight.is_empty() {
            collect_one(&mut in_flight, &mut results).await;
        }
        results
    };
    tokio::time::timeout(SEND_WAIT_MAX, work)
        .await
        .unwrap_or_else(|_| panic!("sends to {topic} did not finish within {SEND_WAIT_MAX:?}"))
}

type SendOutcome = (
    u32,
    Result<ringmq_client::producer::SendResult, ringmq_client::producer::SendError>,
);

async fn collect_one(
    in_flight: &mut tokio::task::JoinSet<SendOutcome>,
    results: &mut BTreeMap<u32, ringmq_client::producer::SendResult>,
) {
    if let Some(joined) = in_flight.join_next().await {
        let (seq, result) = joined.expect("send task did not panic");
        let sent = result.unwrap_or_else(|e| panic!("send of message {seq} failed: {e}"));
        results.insert(seq, sent);
    }
}
