//! Interop with an independent client: the published `rocketmq-client-rust`
//! 1.0.0 produces to and consumes from real `ringmq` processes, through the
//! nameserver, and every message arrives intact (body, tag, key, user
//! properties).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{
    CONSUME_BATCH_MAX, CollectingListener, Collector, Expected, expected, message, start_producer,
    test_runtime,
};
use ringmq_tests::{Cluster, unique_name};
use rocketmq_client_rust::{
    DefaultLitePullConsumer, DefaultMQProducer, DefaultMQPushConsumer, MQPushConsumer,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Messages sent one by one (by [`SENDERS`] concurrent tasks).
const SINGLE_SENDS: u32 = 5_000;
/// Messages sent in batches of [`BATCH_SIZE`].
const BATCH_SENDS: u32 = 5_000;
/// Messages per SEND_BATCH_MESSAGE.
const BATCH_SIZE: u32 = 50;
/// Concurrent single-send tasks.
const SENDERS: u32 = 16;
/// Queues per broker of the test topic.
const QUEUES_PER_BROKER: u32 = 4;
/// Longest wait for all sends.
const SEND_WAIT_MAX: Duration = Duration::from_secs(90);
/// Longest wait for a consumer to receive everything.
const CONSUME_WAIT_MAX: Duration = Duration::from_secs(120);
/// Poll timeout of the lite pull consumer.
const POLL_TIMEOUT_MS: u64 = 1_000;

/// Sends `SINGLE_SENDS` single messages and `BATCH_SENDS` in batches; returns
/// the expected content and how many sends each broker acknowledged.
async fn send_all(
    producer: Arc<DefaultMQProducer>,
    topic: &str,
) -> (BTreeMap<u32, Expected>, BTreeMap<String, u32>) {
    let mut tasks = Vec::new();
    for sender in 0..SENDERS {
        let producer = Arc::clone(&producer);
        let topic = topic.to_string();
        tasks.push(tokio::spawn(async move {
            let mut brokers = BTreeMap::<String, u32>::new();
            let mut seq = sender;
            while seq < SINGLE_SENDS {
                let result = producer
                    .send_with_timeout(message(&topic, seq, "single"), common::SEND_TIMEOUT_MS)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("single send {seq} failed: {}", common::error_chain(&e))
                    })
                    .unwrap_or_else(|| panic!("single send {seq} returned no result"));
                let broker = result.message_queue.map(|q| q.broker_name().to_string());
                *brokers.entry(broker.unwrap_or_default()).or_insert(0) += 1;
                seq += SENDERS;
            }
            brokers
        }));
    }
    let batches = {
        let producer = Arc::clone(&producer);
        let topic = topic.to_string();
        tokio::spawn(async move {
            let mut brokers = BTreeMap::<String, u32>::new();
            let mut start = SINGLE_SENDS;
            while start < SINGLE_SENDS + BATCH_SENDS {
                let batch: Vec<_> = (start..start + BATCH_SIZE)
                    .map(|seq| message(&topic, seq, "batch"))
                    .collect();
                let result = producer
                    .send_batch_with_timeout(batch, common::SEND_TIMEOUT_MS)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "batch send from {start} failed: {}",
                            common::error_chain(&e)
                        )
                    });
                let broker = result.message_queue.map(|q| q.broker_name().to_string());
                *brokers.entry(broker.unwrap_or_default()).or_insert(0) += BATCH_SIZE;
                start += BATCH_SIZE;
            }
            brokers
        })
    };
    tasks.push(batches);
    let mut per_broker = BTreeMap::new();
    for task in tasks {
        let counts = tokio::time::timeout(SEND_WAIT_MAX, task)
            .await
            .expect("sends finished in time")
            .expect("send task did not panic");
        for (broker, n) in counts {
            *per_broker.entry(broker).or_insert(0) += n;
        }
    }
    let mut want = BTreeMap::new();
    for seq in 0..SINGLE_SENDS {
        want.insert(seq, expected(seq, "single"));
    }
    for seq in SINGLE_SENDS..SINGLE_SENDS + BATCH_SENDS {
        want.insert(seq, expected(seq, "batch"));
    }
    (want, per_broker)
}

async fn start_push_consumer(
    namesrv: &str,
    topic: &str,
    collector: Collector,
) -> DefaultMQPushConsumer {
    let group = unique_name("push");
    let mut consumer = DefaultMQPushConsumer::builder(common::client_runtime("push-consumer"))
        .consumer_group(group.clone())
        .name_server_addr(namesrv.to_string())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .consume_message_batch_max_size(CONSUME_BATCH_MAX)
        .build();
    consumer
        .subscribe(topic, "*")
        .await
        .expect("push subscribe");
    consumer.register_message_listener_concurrently(CollectingListener(collector));
    consumer.start().await.expect("push consumer start");
    common::assert_route_readable(&mut consumer, topic).await;
    consumer
}

async fn lite_pull_all(namesrv: &str, topic: &str, collector: Collector, want: usize) -> usize {
    let group = unique_name("lite");
    let consumer = DefaultLitePullConsumer::builder(common::client_runtime("lite-pull-consumer"))
        .consumer_group(group.clone())
        .name_server_addr(namesrv.to_string())
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .pull_batch_size(32)
        .poll_timeout_millis(POLL_TIMEOUT_MS)
        .auto_commit(true)
        .build()
        .expect("lite pull consumer builds");
    consumer.subscribe(topic).await.expect("lite subscribe");
    consumer.start().await.expect("lite pull consumer start");
    if let Err(e) = consumer.fetch_message_queues(topic).await {
        panic!(
            "the lite pull consumer cannot read the route of {topic}: {}",
            common::error_chain(&e)
        );
    }
    let deadline = tokio::time::Instant::now() + CONSUME_WAIT_MAX;
    while tokio::time::Instant::now() < deadline && collector.distinct() < want {
        for msg in consumer.poll_with_timeout(POLL_TIMEOUT_MS).await {
            collector.record(&msg);
        }
    }
    consumer.shutdown().await;
    collector.distinct()
}

#[test]
fn independent_client_round_trips_10000_messages_over_two_brokers() {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name("Interop");
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created on both brokers");
    let namesrv = cluster.namesrv_addr();
    let runtime = test_runtime();
    runtime.block_on(async {
        let producer = start_producer(&namesrv, &unique_name("pg"))
            .await
            .expect("producer starts");
        let producer = Arc::new(producer);
        let (want, sent_per_broker) = send_all(Arc::clone(&producer), &topic).await;
        println!("acknowledged sends per broker: {sent_per_broker:?}");
        for broker in &cluster.brokers {
            assert!(
                sent_per_broker.get(broker.name()).copied().unwrap_or(0) > 0,
                "no send went to broker {}: {sent_per_broker:?}",
                broker.name()
            );
        }

        let push = Collector::default();
        let mut push_consumer = start_push_consumer(&namesrv, &topic, push.clone()).await;
        let lite = Collector::default();
        let total = want.len();
        let (push_count, lite_count) = tokio::join!(
            push.wait_for(total, CONSUME_WAIT_MAX),
            lite_pull_all(&namesrv, &topic, lite.clone(), total)
        );
        push_consumer.shutdown().await;
        if let Ok(mut p) = Arc::try_unwrap(producer) {
            p.shutdown().await;
        }
        println!(
            "push consumer: {push_count}/{total} (duplicates {}), per broker {:?}",
            push.duplicates(),
            push.per_broker()
        );
        println!(
            "lite pull consumer: {lite_count}/{total} (duplicates {}), per broker {:?}",
            lite.duplicates(),
            lite.per_broker()
        );
        push.assert_matches("push consumer", &want);
        lite.assert_matches("lite pull consumer", &want);
        for broker in &cluster.brokers {
            assert!(
                push.per_broker().get(broker.name()).copied().unwrap_or(0) > 0,
                "push consumer read nothing from broker {}",
                broker.name()
            );
        }
    });
}

#[test]
fn independent_client_auto_creates_a_topic_through_tbw102_and_reads_it_back() {
    const COUNT: u32 = 200;
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("AutoCreated");
    let namesrv = cluster.namesrv_addr();
    let runtime = test_runtime();
    runtime.block_on(async {
        let mut producer = start_producer(&namesrv, &unique_name("pg"))
            .await
            .expect("producer starts");
        let mut want = BTreeMap::new();
        for seq in 0..COUNT {
            producer
                .send_with_timeout(message(&topic, seq, "single"), common::SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "send {seq} to an unknown topic failed: {}",
                        common::error_chain(&e)
                    )
                })
                .expect("a send result");
            want.insert(seq, expected(seq, "single"));
        }
        producer.shutdown().await;
        let push = Collector::default();
        let mut consumer = start_push_consumer(&namesrv, &topic, push.clone()).await;
        let got = push.wait_for(want.len(), CONSUME_WAIT_MAX).await;
        consumer.shutdown().await;
        println!("auto-created topic: received {got}/{COUNT}");
        push.assert_matches("push consumer", &want);
    });
}
