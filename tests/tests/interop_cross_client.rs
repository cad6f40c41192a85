//! Cross-client interop through real `ringmq` processes: what this project's
//! client (`ringmq_client`) produces, the independent `rocketmq-client-rust`
//! 1.0.0 consumes intact, and the reverse. Both test-message definitions
//! (`common::expected`, `client_common::expected`) describe the same bytes,
//! tag, key and properties for a sequence number, so each side checks the
//! other's messages field by field.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;
mod common;

use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};
use ringmq_client::producer::Producer;
use ringmq_tests::{Cluster, unique_name};
use rocketmq_client_rust::{DefaultMQPushConsumer, MQPushConsumer};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use std::collections::BTreeMap;
use std::time::Duration;

/// Messages each direction.
const COUNT: u32 = 2_000;
/// Queues per broker.
const QUEUES_PER_BROKER: u32 = 4;
/// Longest wait for the consumer.
const CONSUME_WAIT_MAX: Duration = Duration::from_secs(120);

#[test]
fn independent_consumer_reads_what_ringmq_client_produced() {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name("CrossOurs");
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created");
    let namesrv = cluster.namesrv_addr();
    client_common::test_runtime().block_on(async {
        let producer = Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .build()
            .expect("ringmq_client producer builds");
        client_common::send_range(&producer, &topic, 0..COUNT, "single").await;
        producer.shutdown().await;

        let collector = common::Collector::default();
        let group = unique_name("cross_cg");
        let mut consumer = DefaultMQPushConsumer::builder(common::client_runtime("push-consumer"))
            .consumer_group(group)
            .name_server_addr(namesrv.clone())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_message_batch_max_size(common::CONSUME_BATCH_MAX)
            .build();
        consumer
            .subscribe(topic.as_str(), "*")
            .await
            .expect("subscribe");
        consumer
            .register_message_listener_concurrently(common::CollectingListener(collector.clone()));
        consumer.start().await.expect("independent consumer starts");
        common::assert_route_readable(&mut consumer, &topic).await;
        let got = collector.wait_for(COUNT as usize, CONSUME_WAIT_MAX).await;
        consumer.shutdown().await;
        println!(
            "independent consumer read {got}/{COUNT} from ringmq_client, per broker {:?}",
            collector.per_broker()
        );
        let want: BTreeMap<u32, common::Expected> = (0..COUNT)
            .map(|seq| (seq, common::expected(seq, "single")))
            .collect();
        collector.assert_matches("independent consumer", &want);
    });
}

#[test]
fn ringmq_client_consumer_reads_what_the_independent_producer_sent() {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name("CrossTheirs");
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created");
    let namesrv = cluster.namesrv_addr();
    common::test_runtime().block_on(async {
        let mut producer = common::start_producer(&namesrv, &unique_name("pg"))
            .await
            .expect("independent producer starts");
        for seq in 0..COUNT {
            producer
                .send_with_timeout(
                    common::message(&topic, seq, "single"),
                    common::SEND_TIMEOUT_MS,
                )
                .await
                .unwrap_or_else(|e| panic!("send {seq}: {}", common::error_chain(&e)))
                .expect("a send result");
        }
        producer.shutdown().await;

        let recorder = client_common::Recorder::default();
        let listener_recorder = recorder.clone();
        let consumer = PushConsumer::builder(unique_name("cross_cg"))
            .namesrv(&namesrv)
            .subscribe(&topic, "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .listener(move |msgs| {
                let recorder = listener_recorder.clone();
                async move {
                    for m in &msgs {
                        recorder.record(0, m);
                    }
                    ConsumeResult::Success
                }
            })
            .start()
            .await
            .unwrap_or_else(|e| panic!("ringmq_client consumer starts: {e}"));
        recorder
            .wait_all(
                "ringmq_client consumer",
                0..COUNT,
                CONSUME_WAIT_MAX,
                &cluster,
            )
            .await;
        consumer.shutdown().await;
        recorder.assert_intact("ringmq_client consumer", 0..COUNT, "single");
    });
}
