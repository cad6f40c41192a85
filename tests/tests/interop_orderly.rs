//! Orderly consumption across clients on real `ringmq` processes: keyed
//! messages sent by this crate's producer through a hash selector are read
//! by the independent `rocketmq-client-rust` 1.0.0 orderly listener (which
//! locks its queues with LOCK_BATCH_MQ), each key in send order; and when
//! that client and this crate's orderly consumer share one group, no queue
//! is ever inside both listeners at once.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use cheetah_string::CheetahString;
use ringmq_client::consumer::orderly::ConsumeOrderlyStatus as OurStatus;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, MessageExt as OurMessage};
use ringmq_client::producer::{Producer, SelectByHash};
use ringmq_client::{Message, MessageQueue};
use ringmq_tests::{Cluster, unique_name};
use rocketmq_client_rust::{
    ClientResult, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQPushConsumer,
    MQPushConsumer, MessageListenerOrderly,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queues of the test topic on its one broker.
const QUEUES: u32 = 8;
/// Business ids.
const KEYS: u32 = 12;
/// Messages per business id.
const PER_KEY: u32 = 50;
/// User property: the business id.
const PROP_KEY: &str = "order.key";
/// User property: the message's position within its business id.
const PROP_STEP: &str = "order.step";
/// Longest wait for everything to be consumed.
const CONSUME_WAIT_MAX: Duration = Duration::from_secs(120);

/// Which client a consumption came from.
const THEIRS: usize = 0;
const OURS: usize = 1;

/// A queue of the test topic: (broker name, queue id).
type QueueKey = (String, i32);

/// A queue two clients were inside at once: (queue, holder, intruder).
type Overlap = (QueueKey, usize, usize);

/// What both clients' listeners record.
#[derive(Default)]
struct Ledger {
    inside: Mutex<HashMap<QueueKey, usize>>,
    overlaps: Mutex<Vec<Overlap>>,
    /// (client, key, step) in consumption order.
    log: Mutex<Vec<(usize, String, u32)>>,
}

impl Ledger {
    fn enter(&self, queue: QueueKey, client: usize) {
        let mut inside = self.inside.lock().unwrap();
        if let Some(holder) = inside.insert(queue.clone(), client)
            && holder != client
        {
            self.overlaps.lock().unwrap().push((queue, holder, client));
        }
    }

    fn leave(&self, queue: &QueueKey, client: usize) {
        let mut inside = self.inside.lock().unwrap();
        if inside.get(queue) == Some(&client) {
            inside.remove(queue);
        }
    }

    fn record(&self, client: usize, key: String, step: u32) {
        self.log.lock().unwrap().push((client, key, step));
    }

    /// Per key, the steps in the order they were first consumed, and how
    /// many consumptions repeated an earlier one.
    fn first_steps(&self) -> (BTreeMap<String, Vec<u32>>, usize) {
        let log = self.log.lock().unwrap();
        let mut steps: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut repeats = 0;
        for (_, key, step) in log.iter() {
            let seen = steps.entry(key.clone()).or_default();
            if seen.contains(step) {
                repeats += 1;
            } else {
                seen.push(*step);
            }
        }
        (steps, repeats)
    }

    fn distinct(&self) -> usize {
        self.first_steps().0.values().map(Vec::len).sum()
    }
}

struct TheirListener(Arc<Ledger>);

impl MessageListenerOrderly for TheirListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &mut ConsumeOrderlyContext,
    ) -> ClientResult<ConsumeOrderlyStatus> {
        for msg in msgs {
            let queue = (msg.broker_name().to_string(), msg.queue_id());
            self.0.enter(queue.clone(), THEIRS);
            let props = msg.properties();
            let get = |name: &str| props.get(&CheetahString::from(name)).map(|v| v.to_string());
            let key = get(PROP_KEY).unwrap_or_default();
            let step = get(PROP_STEP).and_then(|s| s.parse().ok()).unwrap();
            self.0.record(THEIRS, key, step);
            self.0.leave(&queue, THEIRS);
        }
        Ok(ConsumeOrderlyStatus::Success)
    }
}

async fn start_theirs(
    namesrv: &str,
    group: &str,
    topic: &str,
    ledger: Arc<Ledger>,
) -> DefaultMQPushConsumer {
    let mut consumer = DefaultMQPushConsumer::builder(common::client_runtime("orderly-consumer"))
        .consumer_group(group.to_string())
        .name_server_addr(namesrv.to_string())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer.subscribe(topic, "*").await.expect("subscribe");
    consumer.register_message_listener_orderly(TheirListener(ledger));
    consumer.start().await.expect("orderly consumer start");
    common::assert_route_readable(&mut consumer, topic).await;
    consumer
}

async fn start_ours(namesrv: &str, group: &str, topic: &str, ledger: Arc<Ledger>) -> PushConsumer {
    PushConsumer::builder(group)
        .namesrv(namesrv)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .intervals(Duration::from_secs(1), Duration::from_millis(200))
        .lock_intervals(Duration::from_secs(1), Duration::from_secs(5))
        .pull_suspend(Duration::from_secs(1))
        .orderly_listener(move |msgs: Vec<OurMessage>, context| {
            let ledger = ledger.clone();
            async move {
                let queue: MessageQueue = context.queue;
                let queue = (queue.broker_name, queue.queue_id);
                ledger.enter(queue.clone(), OURS);
                tokio::time::sleep(Duration::from_millis(1)).await;
                for m in &msgs {
                    let key = m.property(PROP_KEY).unwrap_or_default().to_string();
                    let step = m.property(PROP_STEP).and_then(|s| s.parse().ok()).unwrap();
                    ledger.record(OURS, key, step);
                }
                ledger.leave(&queue, OURS);
                OurStatus::Success
            }
        })
        .start()
        .await
        .expect("our orderly consumer starts")
}

async fn send_all(namesrv: &str, topic: &str) {
    let producer = Producer::builder(unique_name("pg"))
        .namesrv(namesrv)
        .build()
        .expect("producer builds");
    for step in 0..PER_KEY {
        for k in 0..KEYS {
            let key = format!("key-{k:03}");
            let msg = Message::new(topic, format!("{key}:{step}").into_bytes())
                .with_keys([key.clone()])
                .with_property(PROP_KEY, key.as_str())
                .with_property(PROP_STEP, step.to_string());
            producer
                .send_with_selector(msg, &SelectByHash, &key)
                .await
                .unwrap_or_else(|e| panic!("send {key}:{step}: {e}"));
        }
    }
    producer.shutdown().await;
}

async fn wait_all(ledger: &Ledger, cluster: &Cluster) {
    let total = usize::try_from(KEYS * PER_KEY).unwrap();
    let deadline = Instant::now() + CONSUME_WAIT_MAX;
    while ledger.distinct() < total {
        assert!(
            Instant::now() < deadline,
            "consumed {}/{total} within {CONSUME_WAIT_MAX:?}\n{}",
            ledger.distinct(),
            cluster.log_tails()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_in_order(ledger: &Ledger) {
    let (steps, repeats) = ledger.first_steps();
    println!("repeated consumptions: {repeats}");
    let in_order: Vec<u32> = (0..PER_KEY).collect();
    assert_eq!(steps.len(), usize::try_from(KEYS).unwrap());
    for (key, got) in &steps {
        assert_eq!(got, &in_order, "steps of {key} in first-consumption order");
    }
}

#[test]
fn the_independent_orderly_listener_reads_each_key_in_send_order() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("OrderlyInterop");
    cluster.create_topic(&topic, QUEUES).expect("topic created");
    let namesrv = cluster.namesrv_addr();
    common::test_runtime().block_on(async {
        send_all(&namesrv, &topic).await;
        let ledger = Arc::new(Ledger::default());
        let mut theirs = start_theirs(&namesrv, &unique_name("iocg"), &topic, ledger.clone()).await;
        wait_all(&ledger, &cluster).await;
        theirs.shutdown().await;
        assert_in_order(&ledger);
    });
}

#[test]
fn the_independent_and_our_orderly_consumers_share_a_group_without_sharing_a_queue() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("OrderlyMixed");
    cluster.create_topic(&topic, QUEUES).expect("topic created");
    let namesrv = cluster.namesrv_addr();
    let group = unique_name("mocg");
    common::test_runtime().block_on(async {
        let ledger = Arc::new(Ledger::default());
        let ours = start_ours(&namesrv, &group, &topic, ledger.clone()).await;
        let mut theirs = start_theirs(&namesrv, &group, &topic, ledger.clone()).await;
        send_all(&namesrv, &topic).await;
        wait_all(&ledger, &cluster).await;
        theirs.shutdown().await;
        ours.shutdown().await;
        let overlaps = ledger.overlaps.lock().unwrap().clone();
        assert!(
            overlaps.is_empty(),
            "queues inside both clients at once: {overlaps:?}"
        );
        assert_in_order(&ledger);
        let log = ledger.log.lock().unwrap();
        let by_client = |c: usize| log.iter().filter(|(who, _, _)| *who == c).count();
        println!(
            "consumed: theirs {}, ours {}",
            by_client(THEIRS),
            by_client(OURS)
        );
    });
}
