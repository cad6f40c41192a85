//! `ringmq admin consumer progress` names the client holding each queue:
//! the broker forwards GET_CONSUMER_RUNNING_INFO (307) to the consumer over
//! its own connection and the consumer's `mqTable` lists its queues.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::time::Duration;

use ringmq_client::Message;
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageExt};
use ringmq_client::producer::Producer;
use ringmq_tests::binary::ringmq_bin;
use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

const WAIT_ROUNDS: usize = 300;
const WAIT_STEP: Duration = Duration::from_millis(100);
const QUEUES: usize = 2;

fn progress(namesrv: &str, group: &str) -> Option<Value> {
    let out = Command::new(ringmq_bin().unwrap())
        .args([
            "admin",
            "--namesrv",
            namesrv,
            "--json",
            "consumer",
            "progress",
            group,
        ])
        .output()
        .expect("ringmq admin runs");
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

#[test]
fn progress_names_the_client_holding_each_queue() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let topic = unique_name("OwnT");
    let group = unique_name("OwnG");
    cluster.create_topic(&topic, QUEUES as u32).unwrap();
    let rt = common::test_runtime();
    let consumer = rt.block_on(async {
        let producer = Producer::builder(unique_name("OwnP"))
            .namesrv(&ns)
            .build()
            .unwrap();
        for i in 0..8 {
            producer
                .send(Message::new(&topic, format!("m{i}")))
                .await
                .unwrap();
        }
        producer.shutdown().await;
        PushConsumer::builder(group.as_str())
            .namesrv(&ns)
            .subscribe(&topic, "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .intervals(Duration::from_secs(1), Duration::from_millis(200))
            .listener(|_m: Vec<MessageExt>| async { ConsumeResult::Success })
            .start()
            .await
            .unwrap()
    });
    let me = consumer.client_id().to_owned();
    let mut last = Value::Null;
    let mut owners = Vec::new();
    for _ in 0..WAIT_ROUNDS {
        if let Some(p) = progress(&ns, &group) {
            owners = p["queues"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|q| q["topic"] == topic.as_str())
                .map(|q| q["client"].clone())
                .collect();
            last = p;
            if owners.len() == QUEUES && owners.iter().all(|c| *c == me.as_str()) {
                break;
            }
        }
        std::thread::sleep(WAIT_STEP);
    }
    rt.block_on(consumer.shutdown());
    assert_eq!(owners.len(), QUEUES, "{last}");
    assert!(
        owners.iter().all(|c| *c == me.as_str()),
        "client {me}: {last}"
    );
    // With the consumer gone, nobody holds the queues.
    let after = progress(&ns, &group).unwrap();
    assert!(
        after["queues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["client"].is_null()),
        "{after}"
    );
}
