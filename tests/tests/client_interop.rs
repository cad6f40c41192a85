//! Wire interop of this crate's client with the independent
//! `rocketmq-client-rust` 1.0.0, both against real `ringmq` processes: what
//! the independent producer sends (single and batched) our push consumer
//! (also with a tag filter) and our pull consumer receive intact — body, tag,
//! key, user properties. The other direction (our producer, its consumer) is
//! `interop_cross_client.rs`.
//!
//! The independent client reads its routes straight from the ringmq
//! nameserver (it needs `enableActingMaster` in brokerData, which ringmq
//! writes; `independent_client_reads_routes_from_the_ringmq_nameserver` pins it).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;
mod common;

use client_common::{CONSUME_WAIT_MAX, Recorder};
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};
use ringmq_tests::{Cluster, unique_name};
use std::time::{Duration, Instant};

/// Queues of the test topic on each of the two brokers.
const QUEUES_PER_BROKER: u32 = 4;
/// Messages sent one by one.
const SINGLES: u32 = 1_000;
/// Messages sent in batches.
const BATCHED: u32 = 1_000;
/// Messages per batch.
const BATCH_SIZE: u32 = 50;
/// Poll timeout of our pull consumer.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);

fn singles() -> std::ops::Range<u32> {
    0..SINGLES
}

fn batched() -> std::ops::Range<u32> {
    SINGLES..SINGLES + BATCHED
}

fn two_broker_topic(prefix: &str) -> (Cluster, String) {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name(prefix);
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created on both brokers");
    (cluster, topic)
}

/// Sends every test message with the independent producer.
async fn independent_send_all(namesrv: &str, topic: &str) {
    let mut producer = common::start_producer(namesrv, &unique_name("ipg"))
        .await
        .expect("independent producer starts");
    for seq in singles() {
        producer
            .send_with_timeout(
                common::message(topic, seq, "single"),
                common::SEND_TIMEOUT_MS,
            )
            .await
            .unwrap_or_else(|e| panic!("independent send {seq}: {}", common::error_chain(&e)))
            .unwrap_or_else(|| panic!("independent send {seq} returned no result"));
    }
    let mut start = batched().start;
    while start < batched().end {
        let batch: Vec<_> = (start..start + BATCH_SIZE)
            .map(|seq| common::message(topic, seq, "batch"))
            .collect();
        producer
            .send_batch_with_timeout(batch, common::SEND_TIMEOUT_MS)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "independent batch from {start}: {}",
                    common::error_chain(&e)
                )
            });
        start += BATCH_SIZE;
    }
    producer.shutdown().await;
}

async fn start_our_push(
    namesrv: &str,
    topic: &str,
    tags: &str,
    recorder: &Recorder,
) -> PushConsumer {
    let recorder = recorder.clone();
    PushConsumer::builder(unique_name("opush"))
        .namesrv(namesrv)
        .subscribe(topic, tags)
        .consume_from(ConsumeFrom::FirstOffset)
        .listener(move |msgs| {
            let recorder = recorder.clone();
            async move {
                for m in &msgs {
                    recorder.record(0, m);
                }
                ConsumeResult::Success
            }
        })
        .start()
        .await
        .unwrap_or_else(|e| panic!("our push consumer starts: {e}"))
}

async fn our_pull_all(namesrv: &str, topic: &str, recorder: &Recorder) {
    let consumer = PullConsumer::builder(unique_name("opull"))
        .namesrv(namesrv)
        .consume_from(ConsumeFrom::FirstOffset)
        .start()
        .expect("our pull consumer starts");
    consumer.subscribe(topic, "*").await.expect("subscribe");
    let all = singles().start..batched().end;
    let deadline = Instant::now() + CONSUME_WAIT_MAX;
    while recorder.distinct_in(&all) < all.len() && Instant::now() < deadline {
        for m in consumer.poll(POLL_TIMEOUT).await.expect("poll") {
            recorder.record(0, &m);
        }
    }
    consumer.shutdown().await;
}

#[test]
fn our_consumers_read_what_the_independent_producer_sends() {
    let (cluster, topic) = two_broker_topic("TheirsToOurs");
    let namesrv = cluster.namesrv_addr();
    let (push, filtered, pull) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    common::test_runtime().block_on(async {
        independent_send_all(&namesrv, &topic).await;
        let push_consumer = start_our_push(&namesrv, &topic, "*", &push).await;
        let filtered_consumer = start_our_push(&namesrv, &topic, "TagA || TagB", &filtered).await;
        our_pull_all(&namesrv, &topic, &pull).await;
        let all = singles().start..batched().end;
        push.wait_all("our push consumer", all.clone(), CONSUME_WAIT_MAX, &cluster)
            .await;
        let tagged_ab = all.clone().filter(|seq| seq % 3 != 2).count();
        let done =
            client_common::wait_until(CONSUME_WAIT_MAX, || filtered.distinct_in(&all) >= tagged_ab)
                .await;
        push_consumer.shutdown().await;
        filtered_consumer.shutdown().await;
        assert!(
            done,
            "tag-filtered consumer got {}/{tagged_ab}\n{}",
            filtered.distinct(),
            cluster.log_tails()
        );
    });
    let all = singles().start..batched().end;
    let missing = pull.missing(all.clone());
    assert!(
        missing.is_empty(),
        "our pull consumer: {} of {} missing (first {:?})\n{}",
        missing.len(),
        all.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        cluster.log_tails()
    );
    for (who, recorder) in [("our push consumer", &push), ("our pull consumer", &pull)] {
        recorder.assert_intact(who, singles(), "single");
        recorder.assert_intact(who, batched(), "batch");
        assert_eq!(
            recorder.outside(&all),
            Vec::<u32>::new(),
            "{who}: unknown messages"
        );
    }
    let snapshot = filtered.snapshot();
    let wrong_tag: Vec<_> = snapshot.keys().filter(|seq| *seq % 3 == 2).collect();
    assert!(
        wrong_tag.is_empty(),
        "the TagA || TagB consumer received TagC messages {wrong_tag:?}"
    );
    for seq in snapshot.keys() {
        let kind = if singles().contains(seq) {
            "single"
        } else {
            "batch"
        };
        filtered.assert_intact("tag-filtered consumer", *seq..*seq + 1, kind);
    }
}

#[test]
fn independent_client_reads_routes_from_the_ringmq_nameserver() {
    let (cluster, topic) = two_broker_topic("DirectRoute");
    let namesrv = cluster.namesrv_addr();
    common::test_runtime().block_on(async {
        let mut producer = common::start_producer(&namesrv, &unique_name("ipg"))
            .await
            .expect("independent producer starts");
        let sent = producer
            .send_with_timeout(
                common::message(&topic, 0, "single"),
                common::SEND_TIMEOUT_MS,
            )
            .await;
        producer.shutdown().await;
        if let Err(e) = sent {
            panic!(
                "independent send through the ringmq nameserver's route: {}",
                common::error_chain(&e)
            );
        }
    });
}
