//! Input safety of a real broker process, driven with exact frames: an
//! unknown request code is answered REQUEST_CODE_NOT_SUPPORTED, a one-way
//! request is never answered, an oversized message gets MESSAGE_ILLEGAL, and
//! a garbage frame closes only its own connection.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_tests::raw::{
    FLAG_ONEWAY, RawConnection, RemotingFrame, SendRequest, code, send_message_frame,
};
use ringmq_tests::{Cluster, unique_name};
use std::io::{Read, Write};
use std::time::Duration;

/// REQUEST_CODE_NOT_SUPPORTED.
const REQUEST_CODE_NOT_SUPPORTED: i32 = 3;
/// MESSAGE_ILLEGAL.
const MESSAGE_ILLEGAL: i32 = 13;
/// A request code no RocketMQ version defines.
const UNKNOWN_CODE: i32 = 9_999;
/// Timeout of one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A body larger than the default 4 MiB message limit.
const OVERSIZED_BODY_BYTES: usize = 4 * 1024 * 1024 + 1;

#[test]
fn unknown_request_code_is_answered_not_supported_and_the_connection_stays_usable() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).expect("connect");
    let answer = conn
        .call(RemotingFrame::request(UNKNOWN_CODE, &[]), CALL_TIMEOUT)
        .expect("unknown code answered");
    assert_eq!(
        answer.code,
        REQUEST_CODE_NOT_SUPPORTED,
        "{}",
        answer.describe()
    );
    assert!(answer.remark.is_some(), "a remark explains the refusal");
    let topic = unique_name("Safety");
    let body = b"still-works".to_vec();
    let ack = conn.send_message(
        &SendRequest {
            group: "safety_pg",
            topic: &topic,
            queue_id: 0,
            body: &body,
            tag: None,
            properties: &[],
        },
        CALL_TIMEOUT,
    );
    assert!(
        ack.is_ok(),
        "the same connection still serves sends: {ack:?}"
    );
}

#[test]
fn one_way_request_gets_no_reply() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).expect("connect");
    let topic = unique_name("Oneway");
    let mut oneway = RemotingFrame::request(
        code::UPDATE_CONSUMER_OFFSET,
        &[
            ("consumerGroup", "oneway_cg".to_string()),
            ("topic", topic.clone()),
            ("queueId", "0".to_string()),
            ("commitOffset", "0".to_string()),
        ],
    );
    oneway.flag = FLAG_ONEWAY;
    let oneway_opaque = conn.send_request(oneway).expect("one-way written");
    let follow_up = conn
        .send_request(RemotingFrame::request(UNKNOWN_CODE, &[]))
        .expect("follow-up written");
    let first = conn.read_frame(CALL_TIMEOUT).expect("a response arrives");
    assert_eq!(
        first.opaque,
        follow_up,
        "the first frame back answers the follow-up, not the one-way request \
         (opaque {oneway_opaque}): {}",
        first.describe()
    );
}

#[test]
fn oversized_message_is_refused_message_illegal() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).expect("connect");
    let topic = unique_name("Oversized");
    let body = vec![b'x'; OVERSIZED_BODY_BYTES];
    let frame = send_message_frame(&SendRequest {
        group: "oversized_pg",
        topic: &topic,
        queue_id: 0,
        body: &body,
        tag: None,
        properties: &[],
    });
    let answer = conn
        .call(frame, CALL_TIMEOUT)
        .expect("oversized send answered");
    assert_eq!(answer.code, MESSAGE_ILLEGAL, "{}", answer.describe());
}

#[test]
fn garbage_frame_closes_only_its_own_connection() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let addr = cluster.brokers[0].addr();
    let mut healthy = RawConnection::connect(&addr).expect("healthy connection");
    let mut garbage = std::net::TcpStream::connect(&addr).expect("garbage connection");
    // Length 12, header word claiming a 1 MiB JSON header: impossible.
    garbage
        .write_all(&[0, 0, 0, 12, 0, 0x10, 0, 0, b'{', b'x', b'}', 0, 0, 0, 0, 0])
        .expect("garbage written");
    garbage.set_read_timeout(Some(CALL_TIMEOUT)).unwrap();
    let mut buf = [0u8; 64];
    match garbage.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the broker should close a connection sending garbage; got {other:?}"),
    }
    let answer = healthy
        .call(RemotingFrame::request(UNKNOWN_CODE, &[]), CALL_TIMEOUT)
        .expect("the other connection is still served");
    assert_eq!(answer.code, REQUEST_CODE_NOT_SUPPORTED);
}
