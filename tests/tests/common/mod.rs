//! Shared pieces of the integration tests that drive ringmq with the
//! independent `rocketmq-client-rust` 1.0.0 client: its runtime, a numbered
//! test message with tag, key and user properties, and a collector that
//! records what consumers received (and how often) for exact comparison.
//!
//! Not every test binary uses every item.
#![allow(dead_code)]

use cheetah_string::CheetahString;
use rocketmq_client_rust::{
    ClientResult, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus, DefaultMQProducer, MessageListenerConcurrently, TelemetryHandle,
};
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The client's own runtime owner: process-wide and never dropped, because
/// dropping a tokio runtime inside another runtime panics.
static CLIENT_RUNTIME_OWNER: LazyLock<RuntimeOwner> = LazyLock::new(|| {
    RuntimeOwner::plan(RuntimeConfig {
        thread_name: "independent-client".to_string(),
        ..Default::default()
    })
    .expect("the default runtime configuration is valid")
    .build()
    .expect("the client runtime starts")
});

/// User property holding the message's sequence number.
pub const PROP_SEQ: &str = "ringmq.seq";
/// User property telling how the message was sent (`single` / `batch`).
pub const PROP_KIND: &str = "ringmq.kind";
/// The independent client's consume batch: its default of 1 is known to
/// exhaust its runtime under a burst (fixtures README), so use 32.
pub const CONSUME_BATCH_MAX: u32 = 32;
/// Per-request send timeout given to the independent client.
pub const SEND_TIMEOUT_MS: u64 = 10_000;

/// A client runtime scope for one client (`scope` names its role).
pub fn client_runtime(scope: &'static str) -> Arc<ClientRuntime> {
    ClientRuntime::try_new(
        CLIENT_RUNTIME_OWNER.root_context().component(scope),
        ClientRuntimeConfig::default(),
        TelemetryHandle::noop(),
    )
    .expect("client runtime scope")
}

/// A started producer of the independent client.
pub async fn start_producer(namesrv: &str, group: &str) -> ClientResult<DefaultMQProducer> {
    let mut producer = DefaultMQProducer::builder(client_runtime("producer"))
        .producer_group(group.to_string())
        .name_server_addr(namesrv.to_string())
        .send_msg_timeout(u32::try_from(SEND_TIMEOUT_MS).unwrap_or(u32::MAX))
        .build();
    producer.start().await?;
    Ok(producer)
}

/// Fails the test at once, with the client's reason, when the independent
/// push consumer cannot read the topic's route (otherwise it would just
/// receive nothing until the test's wait runs out).
pub async fn assert_route_readable(
    consumer: &mut rocketmq_client_rust::DefaultMQPushConsumer,
    topic: &str,
) {
    match consumer.fetch_subscribe_message_queues(topic).await {
        Ok(queues) => assert!(!queues.is_empty(), "route of {topic} has no readable queue"),
        Err(e) => panic!(
            "the independent consumer cannot read the route of {topic}: {}",
            error_chain(&e)
        ),
    }
}

/// What a test message carries, to compare with what arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Body bytes.
    pub body: Vec<u8>,
    /// Tag.
    pub tag: String,
    /// Key (`KEYS`).
    pub key: String,
    /// `single` or `batch`.
    pub kind: String,
}

/// The expected content of message `seq`.
pub fn expected(seq: u32, kind: &str) -> Expected {
    let tag = match seq % 3 {
        0 => "TagA",
        1 => "TagB",
        _ => "TagC",
    };
    // Bodies of varying length (17..=272 bytes) with a recognisable prefix.
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

/// Builds message `seq` for `topic` with tag, key and user properties.
pub fn message(topic: &str, seq: u32, kind: &str) -> Message {
    let e = expected(seq, kind);
    Message::builder()
        .topic(topic)
        .tags(e.tag)
        .key(e.key)
        .body(e.body)
        .raw_property(PROP_SEQ, seq.to_string())
        .and_then(|b| b.raw_property(PROP_KIND, kind.to_string()))
        .expect("user property names are not reserved")
        .build_unchecked()
}

/// What arrived for one sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Body bytes.
    pub body: Vec<u8>,
    /// `TAGS`.
    pub tag: Option<String>,
    /// `KEYS`.
    pub key: Option<String>,
    /// `ringmq.kind`.
    pub kind: Option<String>,
    /// Broker the message was read from.
    pub broker: String,
}

/// Everything a consumer received, keyed by sequence number.
#[derive(Debug, Default)]
pub struct Collected {
    /// First delivery of each sequence number.
    pub messages: BTreeMap<u32, Received>,
    /// Deliveries of an already received sequence number.
    pub duplicates: u64,
    /// Messages without a parsable `ringmq.seq` (foreign traffic).
    pub foreign: u64,
}

/// A shared [`Collected`], fed by listeners and poll loops.
#[derive(Clone, Default)]
pub struct Collector(pub Arc<Mutex<Collected>>);

impl Collector {
    /// Records one delivered message.
    pub fn record(&self, msg: &MessageExt) {
        let props: &HashMap<CheetahString, CheetahString> = msg.properties();
        let get = |name: &str| props.get(&CheetahString::from(name)).map(|v| v.to_string());
        let mut collected = self.0.lock().expect("collector lock");
        let Some(seq) = get(PROP_SEQ).and_then(|s| s.parse::<u32>().ok()) else {
            collected.foreign += 1;
            return;
        };
        if collected.messages.contains_key(&seq) {
            collected.duplicates += 1;
            return;
        }
        let received = Received {
            body: msg.body().map(|b| b.to_vec()).unwrap_or_default(),
            tag: get("TAGS"),
            key: get("KEYS"),
            kind: get(PROP_KIND),
            broker: msg.broker_name().to_string(),
        };
        collected.messages.insert(seq, received);
    }

    /// How many distinct sequence numbers arrived.
    pub fn distinct(&self) -> usize {
        self.0.lock().expect("collector lock").messages.len()
    }

    /// Waits (bounded by `limit`) until `count` distinct messages arrived;
    /// returns how many did.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.distinct() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.distinct()
    }

    /// Panics with a precise message unless exactly the messages in
    /// `expected` arrived with identical body, tag, key and kind.
    pub fn assert_matches(&self, who: &str, expected: &BTreeMap<u32, Expected>) {
        let collected = self.0.lock().expect("collector lock");
        let missing: Vec<u32> = expected
            .keys()
            .filter(|seq| !collected.messages.contains_key(seq))
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "{who}: {} of {} messages missing (first: {:?})",
            missing.len(),
            expected.len(),
            missing.iter().take(10).collect::<Vec<_>>()
        );
        for (seq, want) in expected {
            let got = &collected.messages[seq];
            assert_eq!(got.body, want.body, "{who}: body of message {seq}");
            assert_eq!(
                got.tag.as_deref(),
                Some(want.tag.as_str()),
                "{who}: tag of {seq}"
            );
            assert_eq!(
                got.key.as_deref(),
                Some(want.key.as_str()),
                "{who}: key of {seq}"
            );
            assert_eq!(
                got.kind.as_deref(),
                Some(want.kind.as_str()),
                "{who}: kind of {seq}"
            );
        }
        let unexpected = collected
            .messages
            .keys()
            .filter(|seq| !expected.contains_key(seq))
            .count();
        assert_eq!(
            unexpected, 0,
            "{who}: received messages that were never sent"
        );
    }

    /// Messages received per broker name.
    pub fn per_broker(&self) -> BTreeMap<String, usize> {
        let collected = self.0.lock().expect("collector lock");
        let mut out = BTreeMap::new();
        for r in collected.messages.values() {
            *out.entry(r.broker.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Duplicate deliveries seen.
    pub fn duplicates(&self) -> u64 {
        self.0.lock().expect("collector lock").duplicates
    }
}

/// A concurrent listener that records into a [`Collector`].
pub struct CollectingListener(pub Collector);

impl MessageListenerConcurrently for CollectingListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        for msg in msgs {
            self.0.record(msg);
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// A multi-thread tokio runtime for a test body (the harness itself is
/// blocking and runs outside it).
pub fn test_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// An error with its whole `source()` chain, for failure messages (the
/// independent client's `Display` hides the details).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{e}");
    let mut next = e.source();
    let mut depth = 0;
    while let Some(cause) = next {
        out.push_str(&format!(" <- {cause}"));
        next = cause.source();
        depth += 1;
        if depth > 16 {
            break;
        }
    }
    out
}
