//! Frames captured from an independent RocketMQ client (`fixtures/wire`,
//! see `fixtures/README.md`) are accepted: SEND_MESSAGE with long header names, V2 and
//! batch sends, HEART_BEAT, GET_CONSUMER_LIST_BY_GROUP, PULL_MESSAGE with
//! the heartbeat's subscription, LITE_PULL_MESSAGE (361), one-way
//! UPDATE_CONSUMER_OFFSET and END_TRANSACTION, CONSUMER_SEND_MSG_BACK.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use ringmq_broker::BrokerConfig;
use ringmq_broker::message::physical_offset_of_msg_id;
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;

fn fixture(name: &str) -> RemotingCommand {
    RemotingCommand::decode_frame(Bytes::from(wire_fixture(name))).unwrap()
}

#[test]
fn captured_client_requests_are_served() {
    let produce = fixture("produce-07-req-code10.bin");
    let dir = tempfile::tempdir().unwrap();
    // One 1 s delay level: the send-back below is retried after 1 s.
    let broker = start_with(BrokerConfig {
        message_delay_level: "1s".into(),
        ..test_config(dir.path(), 2)
    });
    let mut client = Client::connect(broker.local_addr());

    let reply = client.call(produce);
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(ext(&reply, "queueId"), "3");
    let produced_at = physical_offset_of_msg_id(&ext(&reply, "msgId")).unwrap();
    for i in 0..3 {
        let reply = client.call(send_v1(
            "RingProduce1",
            1,
            format!("q1-{i}").as_bytes(),
            &props("t", "k", "v"),
        ));
        assert_eq!(reply.code, response::SUCCESS);
    }
    let reply = client.call(fixture("producev2-01-req-code310.bin"));
    assert_eq!(
        (reply.code, ext(&reply, "queueOffset")),
        (response::SUCCESS, "0".into())
    );
    let reply = client.call(fixture("batch-01-req-code320.bin"));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(ext(&reply, "msgId").split(',').count(), 20);

    let reply = client.call(fixture("consume-01-req-code34.bin"));
    assert_eq!(reply.code, response::SUCCESS);
    client.inbound.clear();
    let reply = client.call(fixture("consume-03-req-code38.bin"));
    assert_eq!(reply.code, response::SUCCESS);
    assert!(String::from_utf8_lossy(&reply.body).contains("consumerIdList"));
    let reply = client.call(fixture("consume-05-req-code14.bin"));
    assert_eq!(reply.code, response::QUERY_NOT_FOUND);

    let reply = client.call(fixture("consume-09-req-code11.bin"));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(records(&reply.body).len(), 3);
    let reply = client.call(fixture("pull-01-req-code361.bin"));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    assert_eq!(records(&reply.body).len(), 3);

    // one-way commit, then the captured query sees it
    client.send(fixture("consume-11-req-code15.bin"));
    let reply = client.call(fixture("consume-07-req-code14.bin"));
    assert_eq!(
        (reply.code, ext(&reply, "offset")),
        (response::SUCCESS, "253".into())
    );

    // transactional half message: invisible until committed
    let reply = client.call(fixture("txn-01-req-code10.bin"));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    let half_at = physical_offset_of_msg_id(&ext(&reply, "msgId")).unwrap();
    let half_slot = ext(&reply, "queueOffset");
    let reply = client.call(pull("tx", "RingTxn1", 3, 0, 32, None, "*"));
    assert_ne!(reply.code, response::SUCCESS);
    client.send(fixture("txn-03-req-code37.bin")); // captured offset: not ours, ignored
    let mut commit = fixture("txn-03-req-code37.bin");
    commit
        .ext_fields
        .insert("commitLogOffset".into(), half_at.to_string());
    commit
        .ext_fields
        .insert("tranStateTableOffset".into(), half_slot);
    client.send(commit);
    let mut committed = None;
    for _ in 0..100 {
        let reply = client.call(pull("tx", "RingTxn1", 3, 0, 32, None, "*"));
        if reply.code == response::SUCCESS {
            committed = Some(records(&reply.body));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let committed = committed.expect("the committed message became visible");
    assert_eq!(committed.len(), 1);
    assert!(property(&committed[0], "TRAN_MSG").is_none());

    // send-back of a consumed message lands in the group's retry topic
    let mut back = fixture("retry-01-req-code36.bin");
    back.ext_fields
        .insert("offset".into(), produced_at.to_string());
    let group = ext(&back, "group");
    let reply = client.call(back);
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    // Held for its delay level, then in the retry topic.
    let mut reply = None;
    for _ in 0..300 {
        let got = client.call(pull(
            &group,
            &format!("%RETRY%{group}"),
            0,
            0,
            32,
            None,
            "*",
        ));
        if got.code == response::SUCCESS {
            reply = Some(got);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let reply = reply.expect("the sent-back message reached the retry topic");
    let retried = records(&reply.body);
    assert_eq!(
        property(&retried[0], "RETRY_TOPIC").as_deref(),
        Some("RingProduce1")
    );
    assert_eq!(retried[0].reconsume_times, 1);

    // orderly consumers lock and unlock their queues
    let reply = client.call(fixture("ordered-03-req-code41.bin"));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    let locked = String::from_utf8_lossy(&reply.body).into_owned();
    assert!(
        locked.contains("lockOKMQSet") && locked.contains("queueId"),
        "{locked}"
    );
    let reply = client.call(fixture("ordered-05-req-code42.bin"));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);

    // nothing unanswered is left, and no stray replies to one-way requests
    assert!(
        client
            .read_frame(Instant::now() + Duration::from_millis(200))
            .is_none()
    );
    broker.shutdown();
}
