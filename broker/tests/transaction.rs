//! Transactional messages on an in-process broker, driven frame by frame:
//! half messages are invisible until committed, outcomes are written once
//! (duplicates, late answers and foreign producer groups change nothing),
//! and halves without an outcome are checked back on a producer connection
//! of their group until `transaction_check_max`, then rolled back into
//! `TRANS_CHECK_MAX_TIME_TOPIC`.
//!
//! END_TRANSACTION is one-way for real clients; most tests here send it as
//! a two-way request (the broker answers those, as Java does) so that the
//! test knows when it was processed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;
use ringmq_broker::BrokerConfig;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, SendMessageRequestHeaderV2,
};
use ringmq_net::record::{MessageRecord, TransactionType};

const TOPIC: &str = "TxnOrders";
const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
const MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Longest wait for something the check-back service does.
const CHECK_WAIT: Duration = Duration::from_secs(30);
/// Polls of a bounded wait, 20 ms apart.
const POLLS_MAX: usize = 1_500;

/// Broker whose check-back never runs during the test (one hour).
fn quiet_config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        transaction_timeout_ms: 3_600_000,
        transaction_check_interval_ms: 3_600_000,
        ..test_config(dir, 2)
    }
}

/// Broker that checks halves older than 1 ms every 100 ms.
fn checking_config(dir: &std::path::Path, max: u32) -> BrokerConfig {
    BrokerConfig {
        transaction_timeout_ms: 1,
        transaction_check_interval_ms: 100,
        transaction_check_max: max,
        ..test_config(dir, 2)
    }
}

fn now_ms() -> i64 {
    ringmq_net::message_id::now_ms()
}

/// A stored half: where it is and its client id.
#[derive(Debug, Clone)]
struct Half {
    commit_log_offset: i64,
    queue_offset: i64,
    uniq: String,
}

fn send_half(client: &mut Client, group: &str, queue_id: i32, uniq: &str) -> Half {
    let props = format!(
        "TRAN_MSG\u{1}true\u{2}PGROUP\u{1}{group}\u{2}UNIQ_KEY\u{1}{uniq}\u{2}TAGS\u{1}t\u{2}WAIT\u{1}true"
    );
    let mut head = send_header(TOPIC, queue_id, &props);
    head.producer_group = group.into();
    head.sys_flag = ringmq_net::record::TRANSACTION_PREPARED_TYPE;
    head.born_timestamp = now_ms();
    let head: SendMessageRequestHeaderV2 = head.into();
    let reply = client.call(
        RemotingCommand::request(request::SEND_MESSAGE_V2)
            .with_header(&head)
            .with_body(format!("body-{uniq}").into_bytes()),
    );
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(
        ext(&reply, "queueId"),
        queue_id.to_string(),
        "the real queue is reported"
    );
    let commit_log_offset =
        ringmq_broker::message::physical_offset_of_msg_id(&ext(&reply, "msgId")).unwrap();
    Half {
        commit_log_offset,
        queue_offset: ext(&reply, "queueOffset").parse().unwrap(),
        uniq: uniq.into(),
    }
}

fn end(group: &str, half: &Half, commit_or_rollback: i32, from_check: bool) -> RemotingCommand {
    RemotingCommand::request(request::END_TRANSACTION).with_header(&EndTransactionRequestHeader {
        producer_group: group.into(),
        tran_state_table_offset: half.queue_offset,
        commit_log_offset: half.commit_log_offset,
        commit_or_rollback,
        from_transaction_check: Some(from_check),
        msg_id: half.uniq.clone(),
        transaction_id: Some(half.uniq.clone()),
        topic: None,
        bname: None,
    })
}

const COMMIT: i32 = EndTransactionRequestHeader::TRANSACTION_COMMIT_TYPE;
const ROLLBACK: i32 = EndTransactionRequestHeader::TRANSACTION_ROLLBACK_TYPE;
const UNKNOWN: i32 = EndTransactionRequestHeader::TRANSACTION_NOT_TYPE;

/// Every record of `topic` queue `queue_id` (no waiting).
fn stored(client: &mut Client, topic: &str, queue_id: i32) -> Vec<MessageRecord> {
    let reply = client.call(pull("txn-test-cg", topic, queue_id, 0, 64, None, "*"));
    if reply.code == response::SUCCESS {
        records(&reply.body)
    } else {
        Vec::new()
    }
}

/// Polls until `topic`/`queue_id` holds at least `n` records.
fn wait_stored(client: &mut Client, topic: &str, queue_id: i32, n: usize) -> Vec<MessageRecord> {
    for _ in 0..POLLS_MAX {
        let found = stored(client, topic, queue_id);
        if found.len() >= n {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{topic}/{queue_id} never held {n} records");
}

fn heartbeat_producer(client: &mut Client, group: &str) {
    let body = format!(
        "{{\"clientID\":\"txn-test@1\",\"consumerDataSet\":[],\"producerDataSet\":[{{\"groupName\":\"{group}\"}}]}}"
    );
    let reply =
        client.call(RemotingCommand::request(request::HEART_BEAT).with_body(body.into_bytes()));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
}

/// The next CHECK_TRANSACTION_STATE the broker sends on `client`.
fn next_check(client: &mut Client) -> (CheckTransactionStateRequestHeader, MessageRecord) {
    loop {
        let inbound = client
            .next_inbound(CHECK_WAIT)
            .expect("a CHECK_TRANSACTION_STATE within the wait");
        if inbound.code != request::CHECK_TRANSACTION_STATE {
            continue;
        }
        assert!(inbound.is_oneway(), "checks are one-way");
        let head: CheckTransactionStateRequestHeader = inbound.decode_header().unwrap();
        let (record, _) = MessageRecord::decode(&inbound.body).unwrap();
        return (head, record);
    }
}

fn half_from_check(head: &CheckTransactionStateRequestHeader) -> Half {
    Half {
        commit_log_offset: head.commit_log_offset,
        queue_offset: head.tran_state_table_offset,
        uniq: head.msg_id.clone().unwrap(),
    }
}

#[test]
fn a_half_is_invisible_until_committed_and_then_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(quiet_config(dir.path()));
    let mut client = Client::connect(broker.local_addr());
    let half = send_half(&mut client, "pg", 1, "U-commit");

    assert!(
        stored(&mut client, TOPIC, 1).is_empty(),
        "nothing visible before the commit"
    );
    let halves = stored(&mut client, HALF_TOPIC, 0);
    assert_eq!(halves.len(), 1);
    let h = &halves[0];
    assert_eq!(property(h, "REAL_TOPIC").as_deref(), Some(TOPIC));
    assert_eq!(property(h, "REAL_QID").as_deref(), Some("1"));
    assert_eq!(property(h, "PGROUP").as_deref(), Some("pg"));
    assert_eq!(property(h, "UNIQ_KEY").as_deref(), Some("U-commit"));
    assert_eq!(
        TransactionType::from_sys_flag(h.sys_flag),
        TransactionType::NotType
    );
    assert_eq!(
        (h.physical_offset, h.queue_offset),
        (half.commit_log_offset, half.queue_offset)
    );

    let reply = client.call(end("pg", &half, COMMIT, false));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    let real = stored(&mut client, TOPIC, 1);
    assert_eq!(real.len(), 1);
    assert_eq!(&real[0].body[..], b"body-U-commit");
    assert_eq!(property(&real[0], "TRAN_MSG"), None);
    assert_eq!(property(&real[0], "REAL_TOPIC"), None);
    assert_eq!(property(&real[0], "UNIQ_KEY").as_deref(), Some("U-commit"));
    assert_eq!(
        TransactionType::from_sys_flag(real[0].sys_flag),
        TransactionType::Commit
    );
    assert_eq!(real[0].prepared_transaction_offset, half.commit_log_offset);
    let ops = stored(&mut client, OP_TOPIC, 0);
    assert_eq!(ops.len(), 1);
    assert_eq!(&ops[0].body[..], half.queue_offset.to_string().as_bytes());
    assert_eq!(property(&ops[0], "TAGS").as_deref(), Some("d"));

    for (kind, from_check) in [(COMMIT, false), (COMMIT, true), (ROLLBACK, false)] {
        let reply = client.call(end("pg", &half, kind, from_check));
        assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    }
    assert_eq!(stored(&mut client, TOPIC, 1).len(), 1, "no second copy");
    assert_eq!(
        stored(&mut client, OP_TOPIC, 0).len(),
        1,
        "no second op record"
    );
}

#[test]
fn a_rolled_back_half_is_never_delivered_even_after_a_late_commit() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(quiet_config(dir.path()));
    let mut client = Client::connect(broker.local_addr());
    let half = send_half(&mut client, "pg", 0, "U-rollback");
    let reply = client.call(end("pg", &half, ROLLBACK, false));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(stored(&mut client, OP_TOPIC, 0).len(), 1);
    let reply = client.call(end("pg", &half, COMMIT, true));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert!(stored(&mut client, TOPIC, 0).is_empty(), "no resurrection");
    assert_eq!(stored(&mut client, OP_TOPIC, 0).len(), 1);
}

#[test]
fn an_end_transaction_that_does_not_match_the_half_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(quiet_config(dir.path()));
    let mut client = Client::connect(broker.local_addr());
    let half = send_half(&mut client, "pg", 2, "U-foreign");

    let reply = client.call(end("intruder-pg", &half, COMMIT, false));
    assert_eq!(reply.code, response::SYSTEM_ERROR);
    assert!(
        reply.remark.as_deref().unwrap().contains("producer group"),
        "{:?}",
        reply.remark
    );
    let wrong_slot = Half {
        queue_offset: half.queue_offset + 5,
        ..half.clone()
    };
    let reply = client.call(end("pg", &wrong_slot, COMMIT, false));
    assert_eq!(reply.code, response::SYSTEM_ERROR);
    let nowhere = Half {
        commit_log_offset: half.commit_log_offset + 1,
        ..half.clone()
    };
    let reply = client.call(end("pg", &nowhere, COMMIT, false));
    assert_eq!(reply.code, response::SYSTEM_ERROR);
    let reply = client.call(end("pg", &half, 5, false));
    assert_eq!(reply.code, response::SYSTEM_ERROR);
    assert!(stored(&mut client, TOPIC, 2).is_empty());
    assert!(stored(&mut client, OP_TOPIC, 0).is_empty());

    let reply = client.call(end("pg", &half, COMMIT, false));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(stored(&mut client, TOPIC, 2).len(), 1);
}

#[test]
fn a_one_way_commit_makes_the_message_visible() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(quiet_config(dir.path()));
    let mut client = Client::connect(broker.local_addr());
    let half = send_half(&mut client, "pg", 3, "U-oneway");
    let mut unknown = end("pg", &half, UNKNOWN, false);
    unknown.set_oneway();
    client.send(unknown);
    let mut commit = end("pg", &half, COMMIT, false);
    commit.set_oneway();
    client.send(commit);
    let real = wait_stored(&mut client, TOPIC, 3, 1);
    assert_eq!(real.len(), 1);
}

#[test]
fn an_unresolved_half_is_checked_back_on_a_producer_connection_of_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(checking_config(dir.path(), 15));
    let mut producer = Client::connect(broker.local_addr());
    heartbeat_producer(&mut producer, "pg");
    let mut other = Client::connect(broker.local_addr());
    heartbeat_producer(&mut other, "another-pg");
    let half = send_half(&mut producer, "pg", 1, "U-check");

    let (head, body) = next_check(&mut producer);
    assert_eq!(head.msg_id.as_deref(), Some("U-check"));
    assert_eq!(head.transaction_id.as_deref(), Some("U-check"));
    assert!(
        head.tran_state_table_offset > half.queue_offset,
        "a re-appended copy is checked"
    );
    let (_, offset) =
        ringmq_net::message_id::decode_offset_msg_id(head.offset_msg_id.as_deref().unwrap())
            .unwrap();
    assert_eq!(offset, head.commit_log_offset);
    assert_eq!(
        (body.topic.as_str(), body.queue_id),
        (TOPIC, 1),
        "the real topic and queue"
    );
    assert_eq!(&body.body[..], b"body-U-check");
    assert_eq!(
        property(&body, "TRANSACTION_CHECK_TIMES").as_deref(),
        Some("1")
    );
    assert_eq!(body.queue_offset, head.tran_state_table_offset);
    assert_eq!(body.physical_offset, head.commit_log_offset);

    let reply = producer.call(end("pg", &half_from_check(&head), COMMIT, true));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(stored(&mut producer, TOPIC, 1).len(), 1);
    let late = producer.call(end("pg", &half, COMMIT, false));
    assert_eq!(late.code, response::SUCCESS, "{:?}", late.remark);
    assert_eq!(
        stored(&mut producer, TOPIC, 1).len(),
        1,
        "the original copy's late commit adds nothing"
    );
    assert!(
        other.next_inbound(Duration::from_millis(300)).is_none(),
        "another group's producer is not asked"
    );
}

#[test]
fn a_half_never_answered_is_rolled_back_into_the_max_time_topic_after_the_maximum_checks() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_with(checking_config(dir.path(), 2));
    let mut producer = Client::connect(broker.local_addr());
    heartbeat_producer(&mut producer, "pg");
    let half = send_half(&mut producer, "pg", 0, "U-never");

    let mut times = Vec::new();
    for _ in 0..2 {
        let (head, body) = next_check(&mut producer);
        times.push(property(&body, "TRANSACTION_CHECK_TIMES").unwrap());
        let mut unknown = end("pg", &half_from_check(&head), UNKNOWN, true);
        unknown.set_oneway();
        producer.send(unknown);
    }
    assert_eq!(times, ["1", "2"]);
    let parked = wait_stored(&mut producer, MAX_TIME_TOPIC, 0, 1);
    assert_eq!(parked.len(), 1);
    assert_eq!(property(&parked[0], "UNIQ_KEY").as_deref(), Some("U-never"));
    assert_eq!(property(&parked[0], "REAL_TOPIC").as_deref(), Some(TOPIC));
    let ops = wait_stored(&mut producer, OP_TOPIC, 0, 1);
    assert_eq!(ops.len(), 1, "the discard is a rollback");

    let late = producer.call(end("pg", &half, COMMIT, false));
    assert_eq!(late.code, response::SUCCESS, "{:?}", late.remark);
    assert!(
        stored(&mut producer, TOPIC, 0).is_empty(),
        "no resurrection after the discard"
    );
    assert!(
        producer
            .next_inbound(Duration::from_millis(500))
            .is_none_or(|c| c.code != request::CHECK_TRANSACTION_STATE),
        "no check after the maximum"
    );
    let query = RemotingCommand::request(request::QUERY_CONSUMER_OFFSET).with_header(
        &ringmq_net::header::QueryConsumerOffsetRequestHeader {
            consumer_group: "CID_RMQ_SYS_TRANS".into(),
            topic: HALF_TOPIC.into(),
            queue_id: 0,
            bname: None,
        },
    );
    let reply = producer.call(query);
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert!(
        ext(&reply, "offset").parse::<i64>().unwrap() >= 3,
        "the scan's progress is kept"
    );
}
