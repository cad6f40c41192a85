//! CLUSTERING with this crate's client against real `ringmq` processes:
//! push consumers of one group share a topic's queues, each message is
//! consumed exactly once in steady state, and adding or removing a consumer
//! rebalances the queues (each owned by exactly one consumer afterwards)
//! without losing a message.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;

use client_common::{
    CONSUME_WAIT_MAX, REBALANCE_WAIT_MAX, Recorder, is_partition, owners, send_range, test_runtime,
    wait_until,
};
use ringmq_client::MessageQueue;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};
use ringmq_client::producer::Producer;
use ringmq_tests::{Cluster, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Queues of the test topic (on one broker).
const QUEUES: u32 = 8;
/// Messages sent in each phase.
const PHASE_MESSAGES: u32 = 2_000;
/// Rebalance interval given to the consumers (the default is 20 s; the
/// broker's NOTIFY_CONSUMER_IDS_CHANGED usually triggers one sooner).
const REBALANCE_INTERVAL: Duration = Duration::from_secs(3);
/// Offset commit interval given to the consumers.
const PERSIST_INTERVAL: Duration = Duration::from_secs(1);

struct Member {
    index: usize,
    consumer: PushConsumer,
}

async fn start_member(
    namesrv: &str,
    group: &str,
    topic: &str,
    index: usize,
    recorder: &Recorder,
) -> Member {
    let recorder = recorder.clone();
    let consumer = PushConsumer::builder(group)
        .namesrv(namesrv)
        .instance_name(unique_name(&format!("member{index}")))
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .intervals(REBALANCE_INTERVAL, PERSIST_INTERVAL)
        .listener(move |msgs| {
            let recorder = recorder.clone();
            async move {
                for m in &msgs {
                    recorder.record(index, m);
                }
                ConsumeResult::Success
            }
        })
        .start()
        .await
        .unwrap_or_else(|e| panic!("consumer {index} starts: {e}"));
    Member { index, consumer }
}

fn topic_queues(member: &Member, topic: &str) -> Vec<MessageQueue> {
    member
        .consumer
        .assigned_queues()
        .into_iter()
        .filter(|q| q.topic == topic)
        .collect()
}

/// Waits until the live `members` split `all` so that each queue has exactly
/// one owner and each member has at least its averagely share; returns the
/// owner of each queue.
async fn wait_partition(
    members: &[Member],
    topic: &str,
    all: &BTreeSet<MessageQueue>,
    cluster: &Cluster,
) -> BTreeMap<MessageQueue, usize> {
    let share = all.len() / members.len();
    let settled = || {
        let assignments: Vec<_> = members.iter().map(|m| topic_queues(m, topic)).collect();
        is_partition(&owners(topic, &assignments, all))
            && assignments.iter().all(|queues| queues.len() >= share)
    };
    if !wait_until(REBALANCE_WAIT_MAX, settled).await {
        let assignments: Vec<_> = members
            .iter()
            .map(|m| (m.index, topic_queues(m, topic)))
            .collect();
        panic!(
            "{} consumers did not split {} queues within {REBALANCE_WAIT_MAX:?}; \
             assignments {assignments:?}\n{}",
            members.len(),
            all.len(),
            cluster.log_tails()
        );
    }
    let mut owner = BTreeMap::new();
    for m in members {
        for q in topic_queues(m, topic) {
            owner.insert(q, m.index);
        }
    }
    owner
}

/// Panics unless every delivery of `seqs` came from the queue's owner.
fn assert_owners_consumed(
    recorder: &Recorder,
    seqs: std::ops::Range<u32>,
    owner: &BTreeMap<MessageQueue, usize>,
) {
    for (seq, deliveries) in recorder.snapshot().range(seqs) {
        for d in deliveries {
            assert_eq!(
                owner.get(&d.queue),
                Some(&d.consumer),
                "message {seq} from {} consumed by consumer {} which does not own it; owners {owner:?}",
                d.queue,
                d.consumer
            );
        }
    }
}

#[test]
fn three_consumers_share_eight_queues_and_rebalance_without_loss() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("Clustering");
    cluster.create_topic(&topic, QUEUES).expect("topic created");
    let broker = cluster.brokers[0].name().to_string();
    let all: BTreeSet<MessageQueue> = (0..QUEUES)
        .map(|q| MessageQueue::new(topic.as_str(), broker.as_str(), i32::try_from(q).unwrap()))
        .collect();
    let namesrv = cluster.namesrv_addr();
    let group = unique_name("cg");
    let recorder = Recorder::default();
    test_runtime().block_on(async {
        let producer = Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .build()
            .expect("producer builds");
        let mut members = Vec::new();
        for index in 0..3 {
            members.push(start_member(&namesrv, &group, &topic, index, &recorder).await);
        }
        let owner = wait_partition(&members, &topic, &all, &cluster).await;

        // Steady state: exactly once.
        let phase1 = 0..PHASE_MESSAGES;
        send_range(&producer, &topic, phase1.clone(), "single").await;
        recorder
            .wait_all("steady state", phase1.clone(), CONSUME_WAIT_MAX, &cluster)
            .await;
        assert_eq!(
            recorder.duplicated(phase1.clone()),
            BTreeMap::new(),
            "messages consumed twice in steady state"
        );
        assert_owners_consumed(&recorder, phase1.clone(), &owner);
        assert_eq!(
            recorder.per_consumer().len(),
            3,
            "every consumer consumed: {:?}",
            recorder.per_consumer()
        );
        recorder.assert_intact("steady state", phase1, "single");

        // A fourth consumer joins while messages are being sent.
        let joining = 2 * PHASE_MESSAGES..3 * PHASE_MESSAGES;
        let (_, fourth) = tokio::join!(
            send_range(
                &producer,
                &topic,
                PHASE_MESSAGES..2 * PHASE_MESSAGES,
                "single"
            ),
            start_member(&namesrv, &group, &topic, 3, &recorder)
        );
        members.push(fourth);
        send_range(&producer, &topic, joining.clone(), "single").await;
        let owner = wait_partition(&members, &topic, &all, &cluster).await;
        assert!(
            owner.values().any(|&c| c == 3),
            "the joining consumer owns a queue: {owner:?}"
        );

        // The first consumer leaves while messages are being sent.
        let leaving = members.remove(0);
        let leaving_sends = 3 * PHASE_MESSAGES..4 * PHASE_MESSAGES;
        tokio::join!(
            send_range(&producer, &topic, leaving_sends, "single"),
            leaving.consumer.shutdown()
        );
        let owner = wait_partition(&members, &topic, &all, &cluster).await;
        assert!(
            owner.values().all(|&c| c != 0),
            "the departed consumer owns no queue: {owner:?}"
        );

        // Steady state again: exactly once, by the queue owners.
        let last = 4 * PHASE_MESSAGES..5 * PHASE_MESSAGES;
        send_range(&producer, &topic, last.clone(), "single").await;
        let everything = 0..5 * PHASE_MESSAGES;
        recorder
            .wait_all(
                "after rebalances",
                everything.clone(),
                CONSUME_WAIT_MAX,
                &cluster,
            )
            .await;
        assert_eq!(
            recorder.duplicated(last.clone()),
            BTreeMap::new(),
            "messages consumed twice after the rebalances settled"
        );
        assert_owners_consumed(&recorder, last, &owner);
        assert!(
            recorder
                .snapshot()
                .values()
                .flatten()
                .any(|d| d.consumer == 3),
            "the joining consumer consumed messages"
        );
        recorder.assert_intact("all phases", everything.clone(), "single");
        assert_eq!(recorder.outside(&everything), Vec::<u32>::new());
        println!(
            "deliveries per consumer {:?}; duplicates around rebalances {}",
            recorder.per_consumer(),
            recorder.duplicated(everything).len()
        );
        for m in &members {
            m.consumer.shutdown().await;
        }
        producer.shutdown().await;
    });
}
