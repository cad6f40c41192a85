//! Ordered sends with this crate's client against real `ringmq` processes:
//! messages of one business id, sent through a hash selector, all land in
//! one queue in send order and a consumer reads them back in that order,
//! while the sends of many ids interleave.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;

use client_common::{CONSUME_WAIT_MAX, PROP_SEQ, test_runtime};
use ringmq_client::consumer::ConsumeFrom;
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::producer::{Producer, SelectByHash, SendResult};
use ringmq_client::{Message, MessageQueue};
use ringmq_tests::{Cluster, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Queues of the test topic on each of the two brokers.
const QUEUES_PER_BROKER: u32 = 4;
/// Business ids sending at the same time.
const KEYS: u32 = 12;
/// Messages per business id.
const PER_KEY: u32 = 100;
/// User property: the business id.
const PROP_ORDER_KEY: &str = "order.key";
/// User property: the message's position within its business id.
const PROP_ORDER_STEP: &str = "order.step";
/// Poll timeout of the pull consumer.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);

fn order_key(k: u32) -> String {
    format!("order-{k:04}")
}

/// Sends the `PER_KEY` messages of id `k` one after the other through the
/// hash selector; returns their send results in order.
async fn send_key(producer: Producer, topic: String, k: u32) -> Vec<SendResult> {
    let key = order_key(k);
    let mut results = Vec::new();
    for step in 0..PER_KEY {
        let msg = Message::new(topic.as_str(), format!("{key}:{step}").into_bytes())
            .with_keys([key.clone()])
            .with_property(PROP_SEQ, (k * PER_KEY + step).to_string())
            .with_property(PROP_ORDER_KEY, key.as_str())
            .with_property(PROP_ORDER_STEP, step.to_string());
        let sent = producer
            .send_with_selector(msg, &SelectByHash, &key)
            .await
            .unwrap_or_else(|e| panic!("ordered send {key}:{step} failed: {e}"));
        results.push(sent);
    }
    results
}

#[test]
fn selector_sends_arrive_in_order_per_business_id() {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name("Ordered");
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created on both brokers");
    let namesrv = cluster.namesrv_addr();
    test_runtime().block_on(async {
        let producer = Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .build()
            .expect("producer builds");
        // All ids send concurrently, each in its own order.
        let tasks: Vec<_> = (0..KEYS)
            .map(|k| tokio::spawn(send_key(producer.clone(), topic.clone(), k)))
            .collect();
        let mut queue_of_key = BTreeMap::new();
        for (k, task) in (0..KEYS).zip(tasks) {
            let results = tokio::time::timeout(CONSUME_WAIT_MAX, task)
                .await
                .expect("ordered sends finished in time")
                .expect("send task did not panic");
            let queues: BTreeSet<MessageQueue> = results.iter().map(|r| r.queue.clone()).collect();
            assert_eq!(
                queues.len(),
                1,
                "{} went to several queues: {queues:?}",
                order_key(k)
            );
            let offsets: Vec<i64> = results.iter().map(|r| r.queue_offset).collect();
            assert!(
                offsets.windows(2).all(|w| w[0] < w[1]),
                "{} stored out of send order: {offsets:?}",
                order_key(k)
            );
            queue_of_key.insert(order_key(k), results[0].queue.clone());
        }
        let used: BTreeSet<_> = queue_of_key.values().collect();
        assert!(
            used.len() > 1,
            "the ids spread over several queues: {queue_of_key:?}"
        );

        // One consumer reads every queue and sees each id's steps in order.
        let consumer = PullConsumer::builder(unique_name("ocg"))
            .namesrv(&namesrv)
            .consume_from(ConsumeFrom::FirstOffset)
            .start()
            .expect("pull consumer starts");
        let queues = consumer.fetch_queues(&topic).await.expect("topic queues");
        assert_eq!(
            queues.len(),
            usize::try_from(2 * QUEUES_PER_BROKER).unwrap()
        );
        consumer.assign(queues).await.expect("assign");
        let mut steps: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let total = usize::try_from(KEYS * PER_KEY).unwrap();
        let mut received = 0;
        let deadline = Instant::now() + CONSUME_WAIT_MAX;
        while received < total && Instant::now() < deadline {
            for m in consumer.poll(POLL_TIMEOUT).await.expect("poll") {
                let key = m.property(PROP_ORDER_KEY).unwrap_or_default().to_string();
                let step = m.property(PROP_ORDER_STEP).and_then(|s| s.parse().ok());
                let step = step.unwrap_or_else(|| panic!("message without a step: {m:?}"));
                assert_eq!(Some(&m.queue()), queue_of_key.get(&key), "queue of {key}");
                assert_eq!(m.body.as_ref(), format!("{key}:{step}").as_bytes());
                steps.entry(key).or_default().push(step);
                received += 1;
            }
        }
        consumer.shutdown().await;
        producer.shutdown().await;
        let counts: BTreeMap<_, _> = steps.iter().map(|(k, v)| (k.clone(), v.len())).collect();
        assert_eq!(
            received,
            total,
            "received {received}/{total} within {CONSUME_WAIT_MAX:?}; per id {counts:?}\n{}",
            cluster.log_tails()
        );
        let in_order: Vec<u32> = (0..PER_KEY).collect();
        for k in 0..KEYS {
            let key = order_key(k);
            assert_eq!(
                steps.get(&key),
                Some(&in_order),
                "steps of {key} as consumed"
            );
        }
    });
}
