//! BROADCASTING with this crate's client against real `ringmq` processes:
//! every consumer of the group gets every message, and a consumer restarted
//! with the same instance name and offsets directory resumes from its local
//! offsets — it receives what was sent while it was down and nothing it had
//! already consumed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod client_common;

use client_common::{CONSUME_WAIT_MAX, Recorder, send_range, test_runtime, wait_until};
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageModel};
use ringmq_client::producer::Producer;
use ringmq_tests::{Cluster, unique_name};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Queues of the test topic.
const QUEUES: u32 = 4;
/// Messages sent while both consumers run.
const BOTH_RUNNING: u32 = 500;
/// Messages sent while the second consumer is down.
const WHILE_DOWN: u32 = 300;
/// Messages sent after it came back.
const AFTER_RESTART: u32 = 200;
/// Offset persist interval given to the consumers.
const PERSIST_INTERVAL: Duration = Duration::from_secs(1);
/// Rebalance interval given to the consumers.
const REBALANCE_INTERVAL: Duration = Duration::from_secs(3);
/// Longest wait for a consumer to be assigned every queue.
const ASSIGN_WAIT_MAX: Duration = Duration::from_secs(60);

async fn start_broadcast(
    namesrv: &str,
    group: &str,
    topic: &str,
    instance: &str,
    offset_dir: &Path,
    recorder: &Recorder,
) -> PushConsumer {
    let recorder = recorder.clone();
    PushConsumer::builder(group)
        .namesrv(namesrv)
        .instance_name(instance)
        .message_model(MessageModel::Broadcasting)
        .offset_dir(offset_dir)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .intervals(REBALANCE_INTERVAL, PERSIST_INTERVAL)
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
        .unwrap_or_else(|e| panic!("broadcasting consumer {instance} starts: {e}"))
}

async fn wait_all_queues(consumer: &PushConsumer, topic: &str, cluster: &Cluster) {
    let all = usize::try_from(QUEUES).unwrap();
    let assigned = || {
        consumer
            .assigned_queues()
            .iter()
            .filter(|q| q.topic == topic)
            .count()
            == all
    };
    if !wait_until(ASSIGN_WAIT_MAX, assigned).await {
        panic!(
            "broadcasting consumer not assigned all {all} queues within {ASSIGN_WAIT_MAX:?}: {:?}\n{}",
            consumer.assigned_queues(),
            cluster.log_tails()
        );
    }
}

/// Every `offsets.json` below `dir` (a bounded walk).
fn offset_files(dir: &Path) -> Vec<std::path::PathBuf> {
    const WALK_ENTRIES_MAX: usize = 1_000;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut visited = 0;
    while let Some(next) = pending.pop() {
        visited += 1;
        if visited > WALK_ENTRIES_MAX {
            break;
        }
        if next.is_dir() {
            for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
                pending.push(entry.path());
            }
        } else if next.file_name().is_some_and(|n| n == "offsets.json") {
            found.push(next);
        }
    }
    found
}

#[test]
fn broadcasting_delivers_to_every_consumer_and_resumes_from_local_offsets() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("Broadcast");
    cluster.create_topic(&topic, QUEUES).expect("topic created");
    let namesrv = cluster.namesrv_addr();
    let group = unique_name("bcg");
    let offsets = tempfile::tempdir().expect("offsets dir");
    let (name_a, name_b) = (unique_name("bca"), unique_name("bcb"));
    let (got_a, got_b, got_b_again) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    test_runtime().block_on(async {
        let producer = Producer::builder(unique_name("pg"))
            .namesrv(&namesrv)
            .build()
            .expect("producer builds");
        let a = start_broadcast(&namesrv, &group, &topic, &name_a, offsets.path(), &got_a).await;
        let b = start_broadcast(&namesrv, &group, &topic, &name_b, offsets.path(), &got_b).await;
        wait_all_queues(&a, &topic, &cluster).await;
        wait_all_queues(&b, &topic, &cluster).await;

        let first = 0..BOTH_RUNNING;
        send_range(&producer, &topic, first.clone(), "single").await;
        got_a
            .wait_all("consumer A", first.clone(), CONSUME_WAIT_MAX, &cluster)
            .await;
        got_b
            .wait_all("consumer B", first.clone(), CONSUME_WAIT_MAX, &cluster)
            .await;
        got_a.assert_intact("consumer A", first.clone(), "single");
        got_b.assert_intact("consumer B", first.clone(), "single");
        assert_eq!(
            got_a.duplicated(first.clone()),
            BTreeMap::new(),
            "A got duplicates"
        );
        assert_eq!(
            got_b.duplicated(first.clone()),
            BTreeMap::new(),
            "B got duplicates"
        );

        // B stops (persisting its local offsets); messages keep coming.
        b.shutdown().await;
        let files = offset_files(offsets.path());
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().contains(name_b.as_str())),
            "B's local offsets file under {}: {files:?}",
            offsets.path().display()
        );
        let down = BOTH_RUNNING..BOTH_RUNNING + WHILE_DOWN;
        send_range(&producer, &topic, down.clone(), "single").await;
        got_a
            .wait_all("consumer A", down.clone(), CONSUME_WAIT_MAX, &cluster)
            .await;
        assert_eq!(
            got_b.outside(&first),
            Vec::<u32>::new(),
            "B consumed after its shutdown"
        );

        // B comes back under the same name and offsets directory: it reads
        // what it missed and nothing it had already consumed. Per queue it
        // pulls in offset order, so any re-read of old messages would
        // arrive before the missed ones.
        let b_again = start_broadcast(
            &namesrv,
            &group,
            &topic,
            &name_b,
            offsets.path(),
            &got_b_again,
        )
        .await;
        got_b_again
            .wait_all(
                "restarted consumer B",
                down.clone(),
                CONSUME_WAIT_MAX,
                &cluster,
            )
            .await;
        let reread = got_b_again.outside(&down);
        assert!(
            reread.is_empty(),
            "restarted B re-received {} already consumed messages (first {:?})",
            reread.len(),
            reread.iter().take(10).collect::<Vec<_>>()
        );
        assert_eq!(got_b_again.duplicated(down.clone()), BTreeMap::new());
        got_b_again.assert_intact("restarted consumer B", down.clone(), "single");

        // Both keep receiving everything.
        let after = BOTH_RUNNING + WHILE_DOWN..BOTH_RUNNING + WHILE_DOWN + AFTER_RESTART;
        send_range(&producer, &topic, after.clone(), "single").await;
        got_a
            .wait_all("consumer A", after.clone(), CONSUME_WAIT_MAX, &cluster)
            .await;
        got_b_again
            .wait_all(
                "restarted consumer B",
                after.clone(),
                CONSUME_WAIT_MAX,
                &cluster,
            )
            .await;
        let everything = 0..after.end;
        assert_eq!(got_a.duplicated(everything.clone()), BTreeMap::new());
        got_a.assert_intact("consumer A", everything, "single");
        a.shutdown().await;
        b_again.shutdown().await;
        producer.shutdown().await;
    });
}
