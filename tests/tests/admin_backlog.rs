//! `ringmq admin backlog move` against real processes: a stopped group's
//! backlog is copied to a temporary topic (whose consumer gets every
//! message exactly once), the group resumes after it (it gets what is
//! produced later and none of the moved messages), and a move interrupted
//! (`--max-copy`) and run again copies nothing twice.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringmq_client::Message;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageExt};
use ringmq_client::producer::Producer;
use ringmq_tests::admin::admin_json;
use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

/// Consumed before the consumer stops.
const BEFORE: usize = 4;
/// The backlog moved.
const BACKLOG: usize = 40;
/// Copied by the "interrupted" first run.
const FIRST_RUN: u64 = 15;
/// Produced after the move.
const AFTER: usize = 10;
const WAIT_ROUNDS: usize = 300;
const WAIT_STEP: Duration = Duration::from_millis(100);
/// How long to keep watching for a duplicate after everything arrived.
const SETTLE: Duration = Duration::from_secs(3);

/// Bodies received, with how often.
type Seen = Arc<Mutex<BTreeMap<String, usize>>>;

async fn consumer(namesrv: &str, group: &str, topic: &str, seen: Seen) -> PushConsumer {
    PushConsumer::builder(group)
        .namesrv(namesrv)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .pull_suspend(Duration::from_secs(1))
        .intervals(Duration::from_secs(1), Duration::from_millis(200))
        .listener(move |msgs: Vec<MessageExt>| {
            let seen = seen.clone();
            async move {
                for m in msgs {
                    let body = String::from_utf8_lossy(&m.body).into_owned();
                    *seen.lock().unwrap().entry(body).or_default() += 1;
                }
                ConsumeResult::Success
            }
        })
        .start()
        .await
        .unwrap()
}

fn wait_count(seen: &Seen, prefix: &str, count: usize) {
    for _ in 0..WAIT_ROUNDS {
        let n = seen
            .lock()
            .unwrap()
            .keys()
            .filter(|b| b.starts_with(prefix))
            .count();
        if n >= count {
            return;
        }
        std::thread::sleep(WAIT_STEP);
    }
}

fn with_prefix(seen: &Seen, prefix: &str) -> (usize, usize) {
    let seen = seen.lock().unwrap();
    let hits: Vec<usize> = seen
        .iter()
        .filter(|(b, _)| b.starts_with(prefix))
        .map(|(_, n)| *n)
        .collect();
    (hits.len(), hits.iter().sum())
}

fn sum(v: &Value, field: &str) -> i64 {
    v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q[field].as_i64().unwrap())
        .sum()
}

async fn produce(producer: &Producer, topic: &str, prefix: &str, count: usize) {
    for i in 0..count {
        producer
            .send(Message::new(topic, format!("{prefix}{i}")).with_keys([format!("k{i}")]))
            .await
            .unwrap();
    }
}

#[test]
fn a_moved_backlog_is_drained_once_from_temp_and_the_group_resumes_after_it() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let topic = unique_name("BackT");
    let temp = unique_name("BackTemp");
    let group = unique_name("BackG");
    cluster.create_topic(&topic, 2).unwrap();
    let rt = common::test_runtime();
    let producer = rt.block_on(async {
        Producer::builder(unique_name("BackP"))
            .namesrv(&ns)
            .build()
            .unwrap()
    });

    // The group consumes BEFORE messages, commits, and stops.
    let main: Seen = Arc::default();
    rt.block_on(produce(&producer, &topic, "before-", BEFORE));
    let c = rt.block_on(consumer(&ns, &group, &topic, main.clone()));
    wait_count(&main, "before-", BEFORE);
    let mut committed = 0;
    for _ in 0..WAIT_ROUNDS {
        let p = admin_json(&ns, &["consumer", "progress", &group]);
        committed = sum(&p, "consumer_offset");
        if committed == BEFORE as i64 {
            break;
        }
        std::thread::sleep(WAIT_STEP);
    }
    assert_eq!(
        committed, BEFORE as i64,
        "the group committed what it consumed"
    );
    rt.block_on(c.shutdown());

    // A backlog builds up.
    rt.block_on(produce(&producer, &topic, "backlog-", BACKLOG));
    let p = admin_json(&ns, &["consumer", "progress", &group]);
    assert_eq!(p["total_lag"], BACKLOG as i64, "{p}");

    // An interrupted move: FIRST_RUN copied, offsets not moved.
    let first = FIRST_RUN.to_string();
    let argv = [
        "backlog", "move", "--group", &group, "--topic", &topic, "--to", &temp,
    ];
    let mut limited = argv.to_vec();
    limited.extend(["--max-copy", first.as_str()]);
    let r1 = admin_json(&ns, &limited);
    assert_eq!(r1["copied"].as_u64(), Some(FIRST_RUN), "{r1}");
    assert_eq!(r1["complete"], false, "{r1}");
    let p = admin_json(&ns, &["consumer", "progress", &group]);
    assert_eq!(p["total_lag"], BACKLOG as i64, "offsets unmoved: {p}");

    // Run again: copies the rest only, then moves the offsets.
    let r2 = admin_json(&ns, &argv);
    assert_eq!(r2["already_copied"].as_u64(), Some(FIRST_RUN), "{r2}");
    assert_eq!(
        r2["copied"].as_u64(),
        Some(BACKLOG as u64 - FIRST_RUN),
        "{r2}"
    );
    assert_eq!(r2["complete"], true, "{r2}");
    assert_eq!(r2["applied_by"], "committed", "{r2}");
    // And once more: nothing left to copy.
    let r3 = admin_json(&ns, &argv);
    assert_eq!(
        (r3["copied"].as_u64(), r3["already_copied"].as_u64()),
        (Some(0), Some(0)),
        "{r3}"
    );
    let broker = cluster.brokers[0].name().to_owned();
    cluster
        .nameserver
        .wait_route(&temp, &[broker.as_str()])
        .expect("TEMP routed");
    let status = admin_json(&ns, &["topic", "status", &temp]);
    assert_eq!(
        status["messages"], BACKLOG as i64,
        "TEMP holds each message once: {status}"
    );
    let p = admin_json(&ns, &["consumer", "progress", &group]);
    assert_eq!(
        p["queues"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["topic"] == topic.as_str())
            .map(|q| q["lag"].as_i64().unwrap())
            .sum::<i64>(),
        0,
        "the group is past its backlog: {p}"
    );

    // A temporary consumer drains TEMP: every backlog message exactly once.
    let drained: Seen = Arc::default();
    let t = rt.block_on(consumer(
        &ns,
        &unique_name("BackTempG"),
        &temp,
        drained.clone(),
    ));
    wait_count(&drained, "backlog-", BACKLOG);

    // The group resumes: what is produced now, none of the moved ones.
    let c = rt.block_on(consumer(&ns, &group, &topic, main.clone()));
    rt.block_on(produce(&producer, &topic, "after-", AFTER));
    wait_count(&main, "after-", AFTER);
    std::thread::sleep(SETTLE);
    rt.block_on(async {
        t.shutdown().await;
        c.shutdown().await;
        producer.shutdown().await;
    });
    assert_eq!(
        with_prefix(&drained, "backlog-"),
        (BACKLOG, BACKLOG),
        "TEMP: distinct, total"
    );
    assert_eq!(
        with_prefix(&drained, "before-").0 + with_prefix(&drained, "after-").0,
        0
    );
    assert_eq!(
        with_prefix(&main, "after-"),
        (AFTER, AFTER),
        "the group got what came after"
    );
    assert_eq!(
        with_prefix(&main, "backlog-").1,
        0,
        "the group got none of the moved backlog"
    );
}
