//! Producer failover with this crate's client against real `ringmq`
//! processes: with two brokers serving a topic, one is killed with SIGKILL
//! and every later send still succeeds (a failed attempt is retried on the
//! other broker), and every one of those messages is consumable from the
//! live broker.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;

use client_common::{CONSUME_WAIT_MAX, Recorder, send_range, test_runtime};
use ringmq_client::consumer::ConsumeFrom;
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::producer::Producer;
use ringmq_tests::{Cluster, unique_name};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Queues of the test topic on each broker.
const QUEUES_PER_BROKER: u32 = 4;
/// Messages sent while both brokers live.
const BEFORE_KILL: u32 = 400;
/// Messages sent after one broker was killed.
const AFTER_KILL: u32 = 1_000;
/// Send timeout given to the producer (generous: the machine is loaded).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Poll timeout of the pull consumer.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);

fn count_per_broker<'a>(
    results: impl Iterator<Item = &'a ringmq_client::producer::SendResult>,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in results {
        *out.entry(r.queue.broker_name.clone()).or_insert(0) += 1;
    }
    out
}

#[test]
fn sends_after_a_broker_is_killed_succeed_on_the_other_broker() {
    let mut cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name("Failover");
    cluster
        .create_topic(&topic, QUEUES_PER_BROKER)
        .expect("topic created on both brokers");
    let namesrv = cluster.namesrv_addr();
    let dead = cluster.brokers[0].name().to_string();
    let live = cluster.brokers[1].name().to_string();
    let runtime = test_runtime();
    let producer = runtime.block_on(async {
        Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .send_timeout(SEND_TIMEOUT)
            .build()
            .expect("producer builds")
    });

    let before = runtime.block_on(send_range(&producer, &topic, 0..BEFORE_KILL, "single"));
    let per_broker = count_per_broker(before.values());
    assert!(
        per_broker.contains_key(&dead) && per_broker.contains_key(&live),
        "sends before the kill went to both brokers: {per_broker:?}"
    );

    cluster.brokers[0]
        .kill9()
        .expect("kill -9 the first broker");

    // Every send after the kill is acknowledged, by the live broker.
    let after_range = BEFORE_KILL..BEFORE_KILL + AFTER_KILL;
    let after = runtime.block_on(send_range(&producer, &topic, after_range.clone(), "single"));
    assert_eq!(after.len(), usize::try_from(AFTER_KILL).unwrap());
    let per_broker = count_per_broker(after.values());
    assert_eq!(
        per_broker.keys().collect::<Vec<_>>(),
        vec![&live],
        "sends after the kill were acknowledged by: {per_broker:?}"
    );

    // They are all readable from the live broker.
    let recorder = Recorder::default();
    runtime.block_on(async {
        let consumer = PullConsumer::builder(unique_name("fcg"))
            .namesrv(&namesrv)
            .consume_from(ConsumeFrom::FirstOffset)
            .start()
            .expect("pull consumer starts");
        let queues: Vec<_> = consumer
            .fetch_queues(&topic)
            .await
            .expect("topic queues")
            .into_iter()
            .filter(|q| q.broker_name == live)
            .collect();
        assert_eq!(queues.len(), usize::try_from(QUEUES_PER_BROKER).unwrap());
        consumer.assign(queues).await.expect("assign");
        let deadline = Instant::now() + CONSUME_WAIT_MAX;
        while recorder.distinct_in(&after_range) < after_range.len() && Instant::now() < deadline {
            for m in consumer.poll(POLL_TIMEOUT).await.expect("poll") {
                recorder.record(0, &m);
            }
        }
        consumer.shutdown().await;
        producer.shutdown().await;
    });
    let missing = recorder.missing(after_range.clone());
    assert!(
        missing.is_empty(),
        "{} of {AFTER_KILL} acknowledged messages not readable from {live} (first {:?})\n{}",
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        cluster.log_tails()
    );
    recorder.assert_intact("live broker", after_range.clone(), "single");
    let read = recorder.snapshot();
    for (seq, result) in &after {
        let read = read[seq][0].queue_offset;
        assert_eq!(read, result.queue_offset, "queue offset of message {seq}");
    }
}
