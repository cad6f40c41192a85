//! Generic server behaviour and input safety: unknown codes, one-way
//! requests, malformed frames, oversized messages.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::time::Instant;

use common::*;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader};

#[test]
fn unknown_request_code_is_answered_request_code_not_supported() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 1);
    let mut client = Client::connect(broker.local_addr());
    let reply = client.call(RemotingCommand::request(9999));
    assert_eq!(reply.code, response::REQUEST_CODE_NOT_SUPPORTED);
    assert!(reply.remark.unwrap().contains("9999"));
    broker.shutdown();
}

#[test]
fn oneway_request_is_applied_but_never_answered() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut client = Client::connect(broker.local_addr());
    let mut update = RemotingCommand::request(request::UPDATE_CONSUMER_OFFSET).with_header(
        &UpdateConsumerOffsetRequestHeader {
            consumer_group: "g".into(),
            topic: "T".into(),
            queue_id: 3,
            commit_offset: 42,
            bname: None,
        },
    );
    update.set_oneway();
    let oneway_opaque = client.send(update);
    let unknown_oneway = {
        let mut c = RemotingCommand::request(9999);
        c.set_oneway();
        c
    };
    client.send(unknown_oneway);
    let query = RemotingCommand::request(request::QUERY_CONSUMER_OFFSET).with_header(
        &QueryConsumerOffsetRequestHeader {
            consumer_group: "g".into(),
            topic: "T".into(),
            queue_id: 3,
            bname: None,
        },
    );
    let query_opaque = client.send(query);
    let first = client.read_frame(Instant::now() + REPLY_WAIT).unwrap();
    assert!(first.is_response());
    assert_eq!(
        first.opaque, query_opaque,
        "the one-way requests got an answer"
    );
    assert_ne!(first.opaque, oneway_opaque);
    assert_eq!(ext(&first, "offset"), "42");
    broker.shutdown();
}

#[test]
fn malformed_frame_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut healthy = Client::connect(broker.local_addr());
    let mut bad = Client::connect(broker.local_addr());
    bad.write_raw(&(-5i32).to_be_bytes());
    bad.write_raw(b"garbage!");
    assert!(bad.is_closed_by_peer(REPLY_WAIT));
    let mut bad_header = Client::connect(broker.local_addr());
    // a frame with serialize type 9 and a header that is not JSON
    let mut frame = Vec::new();
    frame.extend_from_slice(&12i32.to_be_bytes());
    frame.extend_from_slice(&(0x0900_0008u32).to_be_bytes());
    frame.extend_from_slice(b"{{{{{{{{");
    bad_header.write_raw(&frame);
    assert!(bad_header.is_closed_by_peer(REPLY_WAIT));
    let reply = healthy.call(send_v2("Safe", 0, b"still fine", &props("t", "k", "v")));
    assert_eq!(reply.code, response::SUCCESS);
    broker.shutdown();
}

#[test]
fn oversized_message_is_message_illegal() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), 1);
    config.message_bytes_max = 1024;
    let broker = start_with(config);
    let mut client = Client::connect(broker.local_addr());
    let reply = client.call(send_v1("Big", 0, &vec![b'x'; 1025], &props("t", "k", "v")));
    assert_eq!(reply.code, response::MESSAGE_ILLEGAL);
    assert!(reply.remark.unwrap().contains("1024"));
    let reply = client.call(send_v1("Big", 0, &vec![b'x'; 1024], &props("t", "k", "v")));
    assert_eq!(reply.code, response::SUCCESS, "{:?}", reply.remark);
    broker.shutdown();
}

#[test]
fn missing_required_header_field_is_answered_with_a_remark_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 1);
    let mut client = Client::connect(broker.local_addr());
    let reply = client.call(RemotingCommand::request(request::PULL_MESSAGE));
    assert_eq!(reply.code, response::SYSTEM_ERROR);
    assert!(reply.remark.unwrap().contains("consumerGroup"));
    let reply = client.call(send_v2("bad topic!", 0, b"x", ""));
    assert_eq!(reply.code, response::SYSTEM_ERROR);
    let reply = client.call(send_v2("SELF_TEST_TOPIC", 0, b"x", ""));
    assert_eq!(reply.code, response::NO_PERMISSION);
    broker.shutdown();
}
