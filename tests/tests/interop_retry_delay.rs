//! Interop of delayed delivery with the independent `rocketmq-client-rust`
//! 1.0.0: its delay-level and deliver-time sends, and its push consumer's
//! reconsume-later (CONSUMER_SEND_MSG_BACK) path, against a real `ringmq`.
//!
//! "Not early" is checked on store timestamps (the broker's clock, the same
//! machine as the test); no speed is measured.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use cheetah_string::CheetahString;
use common::{PROP_SEQ, message, start_producer, test_runtime};
use ringmq_tests::{Cluster, now_millis, unique_name};
use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultMQPushConsumer,
    MQPushConsumer, MessageListenerConcurrently,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_single::Message;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages sent with a delay level.
const DELAYED: u32 = 10;
/// Messages sent with a deliver time.
const TIMED: u32 = 5;
/// Deliveries each message gets before the listener accepts it.
const FAILURES: i32 = 2;
/// Longest wait for everything to be consumed.
const CONSUME_WAIT_MAX: Duration = Duration::from_secs(120);

fn now() -> i64 {
    i64::try_from(now_millis()).unwrap()
}

/// One delivery as the listener saw it.
#[derive(Debug, Clone)]
struct Seen {
    reconsume: i32,
    store_ms: i64,
    at_ms: i64,
}

/// Fails each message [`FAILURES`] times (reconsume later), then accepts it.
#[derive(Clone, Default)]
struct FailingListener(Arc<Mutex<BTreeMap<u32, Vec<Seen>>>>);

impl MessageListenerConcurrently for FailingListener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        let at_ms = now();
        let mut fail = false;
        let mut seen = self.0.lock().unwrap();
        for msg in msgs {
            let seq = msg
                .properties()
                .get(&CheetahString::from(PROP_SEQ))
                .and_then(|s| s.parse::<u32>().ok());
            let Some(seq) = seq else { continue };
            seen.entry(seq).or_default().push(Seen {
                reconsume: msg.reconsume_times(),
                store_ms: msg.store_timestamp(),
                at_ms,
            });
            fail |= msg.reconsume_times() < FAILURES;
        }
        Ok(if fail {
            ConsumeConcurrentlyStatus::ReconsumeLater
        } else {
            ConsumeConcurrentlyStatus::ConsumeSuccess
        })
    }
}

fn with_delay(topic: &str, seq: u32) -> Message {
    let mut msg = message(topic, seq, "delayed");
    msg.set_delay_time_level(2);
    msg
}

fn with_deliver_time(topic: &str, seq: u32, at_ms: i64) -> Message {
    let plain = message(topic, seq, "timed");
    let mut builder = Message::builder()
        .topic(topic)
        .body(plain.body().map(|b| b.to_vec()).unwrap_or_default())
        .deliver_time_ms(u64::try_from(at_ms).unwrap());
    builder = builder
        .raw_property(PROP_SEQ, seq.to_string())
        .expect("user property");
    builder.build_unchecked()
}

#[test]
fn delay_levels_deliver_times_and_reconsume_later_work_with_the_independent_client() {
    let extra = vec![
        "--set".to_string(),
        "message_delay_level=1s 2s 1s 1s".to_string(),
    ];
    let cluster = Cluster::start_with(1, move |o| o.extra_args = extra.clone()).expect("cluster");
    let topic = unique_name("IcRetry");
    cluster.create_topic(&topic, 2).expect("topic");
    let namesrv = cluster.namesrv_addr();
    let runtime = test_runtime();
    let listener = FailingListener::default();
    let sent = runtime.block_on(async {
        let group = unique_name("ic_retry_cg");
        let mut consumer = DefaultMQPushConsumer::builder(common::client_runtime("push-consumer"))
            .consumer_group(group)
            .name_server_addr(namesrv.clone())
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .consume_message_batch_max_size(1)
            .max_reconsume_times(FAILURES + 2)
            .build();
        consumer
            .subscribe(topic.as_str(), "*")
            .await
            .expect("subscribe");
        consumer.register_message_listener_concurrently(listener.clone());
        consumer.start().await.expect("consumer start");
        common::assert_route_readable(&mut consumer, &topic).await;

        let mut producer = start_producer(&namesrv, &unique_name("ic_retry_pg"))
            .await
            .expect("producer");
        let mut sent = BTreeMap::new();
        for seq in 0..DELAYED {
            sent.insert(seq, (now(), 2_000));
            producer
                .send_with_timeout(with_delay(&topic, seq), common::SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|e| panic!("delayed send {seq}: {}", common::error_chain(&e)));
        }
        for seq in DELAYED..DELAYED + TIMED {
            let at = now() + 1_500;
            sent.insert(seq, (at - 1_500, 1_500));
            producer
                .send_with_timeout(with_deliver_time(&topic, seq, at), common::SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|e| panic!("timed send {seq}: {}", common::error_chain(&e)));
        }
        let deadline = Instant::now() + CONSUME_WAIT_MAX;
        while Instant::now() < deadline {
            let done = listener
                .0
                .lock()
                .unwrap()
                .values()
                .filter(|seen| seen.iter().any(|s| s.reconsume >= FAILURES))
                .count();
            if done == sent.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        producer.shutdown().await;
        consumer.shutdown().await;
        sent
    });
    let seen = listener.0.lock().unwrap().clone();
    for (seq, (sent_ms, delay_ms)) in &sent {
        let deliveries = seen
            .get(seq)
            .unwrap_or_else(|| panic!("message {seq} never arrived"));
        let first = deliveries
            .iter()
            .find(|s| s.reconsume == 0)
            .unwrap_or_else(|| panic!("{seq}: no first delivery in {deliveries:?}"));
        assert!(
            first.store_ms >= sent_ms + delay_ms,
            "{seq} delivered {} ms after the send, before its {delay_ms} ms",
            first.store_ms - sent_ms
        );
        for round in 1..=FAILURES {
            let previous = deliveries
                .iter()
                .find(|s| s.reconsume == round - 1)
                .unwrap();
            let retry = deliveries
                .iter()
                .find(|s| s.reconsume == round)
                .unwrap_or_else(|| panic!("{seq}: retry {round} missing in {deliveries:?}"));
            // Level 3 + reconsumeTimes clamps to the last level: 1 s.
            assert!(
                retry.store_ms >= previous.at_ms + 1_000,
                "{seq}: retry {round} stored {} ms after the failure, before its 1 s delay",
                retry.store_ms - previous.at_ms
            );
        }
    }
    println!(
        "deliveries per message: {:?}",
        seen.iter()
            .map(|(k, v)| (*k, v.len()))
            .collect::<BTreeMap<_, _>>()
    );
}
