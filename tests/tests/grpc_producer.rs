//! Apache's official RocketMQ 5 Python SDK producing to ringmq's gRPC
//! endpoint (`ringmq standalone`), read back by a remoting consumer (the
//! `ringmq-client` crate): bodies, tags, keys, user properties and message
//! ids survive; FIFO groups land in one queue each, in order; a timed
//! message is not stored in its topic before its delivery time; committed
//! and orphaned (check-back) transactions become visible.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod grpc_common;

use std::collections::BTreeMap;
use std::time::Duration;

use grpc_common::{GrpcStandalone, remoting_pull, scenario};
use ringmq_tests::unique_name;
use serde_json::Value;

/// Longest a remoting consumer waits for what the SDK sent.
const PULL_WAIT: Duration = Duration::from_secs(30);

fn sent_ids(result: &Value) -> Vec<String> {
    result["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["message_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn python_sends_arrive_intact_at_a_remoting_consumer() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcNormal");
    let sent = scenario(&server, "produce", &["--topic", &topic, "--count", "20"]);
    let ids = sent_ids(&sent);
    assert_eq!(ids.len(), 20);
    let got = remoting_pull(&server.namesrv, &topic, 20, PULL_WAIT);
    assert_eq!(got.len(), 20, "exactly what was sent, no duplicates");
    let mut by_index = BTreeMap::new();
    for message in &got {
        let index: usize = message.property("index").unwrap().parse().unwrap();
        assert_eq!(message.body.as_ref(), format!("body-{index}").as_bytes());
        assert_eq!(message.tags(), Some("TagA"));
        assert_eq!(message.keys(), [format!("key-{index}")]);
        assert_eq!(message.property("color"), Some("blue"));
        assert_eq!(
            message.msg_id, ids[index],
            "UNIQ_KEY is the gRPC message id"
        );
        assert!(by_index.insert(index, ()).is_none(), "index {index} twice");
    }
    assert_eq!(by_index.len(), 20);
}

#[test]
fn fifo_message_groups_each_keep_one_queue_and_their_order() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcFifo");
    let args = [
        "--topic", &topic, "--count", "30", "--kind", "fifo", "--groups", "3",
    ];
    scenario(&server, "produce", &args);
    let got = remoting_pull(&server.namesrv, &topic, 30, PULL_WAIT);
    assert_eq!(got.len(), 30);
    let mut groups: BTreeMap<String, Vec<(i32, i64, usize)>> = BTreeMap::new();
    for message in &got {
        let group = message.property("__SHARDINGKEY").unwrap().to_owned();
        let index: usize = message.property("index").unwrap().parse().unwrap();
        assert_eq!(group, format!("group-{}", index % 3));
        groups
            .entry(group)
            .or_default()
            .push((message.queue_id, message.queue_offset, index));
    }
    assert_eq!(groups.len(), 3);
    for (group, mut members) in groups {
        let queue = members[0].0;
        assert!(
            members.iter().all(|m| m.0 == queue),
            "{group} spans queues: {members:?}"
        );
        members.sort();
        let order: Vec<usize> = members.iter().map(|m| m.2).collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "{group} out of order in its queue");
    }
}

#[test]
fn a_timed_message_is_not_in_its_topic_before_its_delivery_time() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcTimed");
    let args = ["--topic", &topic, "--kind", "delay", "--delay-seconds", "4"];
    let sent = scenario(&server, "produce", &args);
    let got = remoting_pull(&server.namesrv, &topic, 1, PULL_WAIT);
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert_eq!(message.msg_id, sent_ids(&sent)[0]);
    let due_ms: i64 = message
        .property("TIMER_DELIVER_MS")
        .unwrap()
        .parse()
        .unwrap();
    let sent_at_ms = sent["sent"][0]["sent_at_ms"].as_i64().unwrap();
    assert!(
        due_ms > sent_at_ms,
        "the delivery time {due_ms} is after the send {sent_at_ms}"
    );
    assert!(
        message.store_timestamp >= due_ms,
        "stored in {topic} at {}, before its delivery time {due_ms}",
        message.store_timestamp
    );
    assert_eq!(message.body.as_ref(), b"body-0");
}

#[test]
fn committed_transactional_messages_become_visible() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcTxn");
    let args = ["--topic", &topic, "--count", "3", "--kind", "transaction"];
    let sent = scenario(&server, "produce", &args);
    let got = remoting_pull(&server.namesrv, &topic, 3, PULL_WAIT);
    let mut ids: Vec<String> = got.iter().map(|m| m.msg_id.clone()).collect();
    ids.sort();
    let mut expected = sent_ids(&sent);
    expected.sort();
    assert_eq!(ids, expected);
    assert!(got.iter().all(|m| m.property("TRAN_MSG").is_none()));
}

#[test]
fn an_orphaned_transaction_is_resolved_by_the_check_back() {
    let server = GrpcStandalone::start(&[
        "transaction_timeout_ms=1000",
        "transaction_check_interval_ms=1000",
    ]);
    let topic = unique_name("GrpcOrphan");
    let result = scenario(&server, "orphan", &["--topic", &topic, "--timeout", "60"]);
    let id = result["message_id"].as_str().unwrap();
    assert_eq!(
        result["checked_id"], id,
        "the checker was asked about the half"
    );
    let got = remoting_pull(&server.namesrv, &topic, 1, PULL_WAIT);
    assert_eq!(got.len(), 1, "the checker's COMMIT made it visible");
    assert_eq!(got[0].msg_id, id);
}
