//! Long polling: a pull that finds an empty queue is held by the broker and
//! answered when a message for that queue is appended, not on a polling tick.
//!
//! The order of events is asserted (the pull got no answer before the send;
//! its answer carries the message sent afterwards); the latency from send to
//! pull answer is printed, never asserted. A pull nothing arrives for is
//! shown to be held for its suspend time (a lower bound only) and answered
//! PULL_NOT_FOUND, without messages.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_tests::raw::{
    PullRequest, RawConnection, RemotingFrame, SendRequest, code, pull_message_frame,
};
use ringmq_tests::stored::decode_records;
use ringmq_tests::{Cluster, unique_name};
use std::time::{Duration, Instant};

/// How long the test watches a parked pull for a premature answer.
const PARK_OBSERVE: Duration = Duration::from_millis(300);
/// Suspend time asked for in the pull: far longer than the test needs.
const SUSPEND_MS: u64 = 20_000;
/// Longest wait for the held pull's answer.
const ANSWER_WAIT_MAX: Duration = Duration::from_secs(30);
/// Timeout of a send.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack for timer and clock granularity when checking a pull was held.
const HOLD_MARGIN: Duration = Duration::from_millis(50);
/// Rounds of park → send → answer measured.
const ROUNDS: i64 = 20;

struct Round {
    /// From writing the send request to the pull answer.
    from_send_request: Duration,
    /// Pull answer time minus send-ack time (negative: the pull answer came first).
    answer_minus_ack_us: i128,
}

/// Parks a pull at `offset` of queue 0, checks it stays unanswered, sends one
/// message, and returns the timings once the pull is answered with it.
fn park_send_answer(cluster: &Cluster, topic: &str, group: &str, offset: i64) -> Round {
    let addr = cluster.brokers[0].addr();
    let mut puller = RawConnection::connect(&addr).expect("pull connection");
    let mut sender = RawConnection::connect(&addr).expect("send connection");
    let request = PullRequest {
        group,
        topic,
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        suspend_ms: Some(SUSPEND_MS),
    };
    let opaque = puller
        .send_request(pull_message_frame(&request))
        .expect("pull written");
    // Event 1: the pull is outstanding and unanswered.
    if let Ok(early) = puller.read_frame(PARK_OBSERVE) {
        panic!(
            "pull at offset {offset} of an empty tail was answered before any send \
             (not held): {}",
            early.describe()
        );
    }
    let reader = std::thread::spawn(move || {
        let frame = puller.read_response(opaque, ANSWER_WAIT_MAX);
        (frame, Instant::now())
    });
    // Event 2: the send.
    let body = format!("long-poll-{offset}").into_bytes();
    let send = SendRequest {
        group: "lp_pg",
        topic,
        queue_id: 0,
        body: &body,
        tag: Some("LP"),
        properties: &[],
    };
    let send_start = Instant::now();
    let ack = sender
        .send_message(&send, CALL_TIMEOUT)
        .expect("send acknowledged");
    let send_acked = Instant::now();
    assert_eq!(
        ack.queue_offset, offset,
        "the send lands at the parked offset"
    );
    // Event 3: the held pull's answer, carrying that message.
    let (answer, answered_at) = reader.join().expect("reader thread");
    let answer: RemotingFrame = answer.unwrap_or_else(|e| {
        panic!("held pull at offset {offset} not answered after the send: {e}")
    });
    assert_eq!(
        answer.code,
        code::SUCCESS,
        "held pull answer: {}",
        answer.describe()
    );
    let records = decode_records(&answer.body).expect("pull body decodes");
    let first = records.first().expect("at least one message in the answer");
    assert_eq!(
        first.body, body,
        "the answer carries the message sent after parking"
    );
    assert_eq!(first.queue_offset, offset);
    assert!(
        answered_at > send_start,
        "answer observed after the send started"
    );
    let ack_us = i128::try_from(send_acked.duration_since(send_start).as_micros()).unwrap();
    let answer_us = i128::try_from(answered_at.duration_since(send_start).as_micros()).unwrap();
    Round {
        from_send_request: answered_at.duration_since(send_start),
        answer_minus_ack_us: answer_us - ack_us,
    }
}

#[test]
fn held_pull_on_empty_queue_is_answered_by_the_next_send() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("LongPoll");
    cluster.create_topic(&topic, 4).expect("topic created");
    let group = unique_name("lp_cg");
    let mut rounds = Vec::new();
    for offset in 0..ROUNDS {
        rounds.push(park_send_answer(&cluster, &topic, &group, offset));
    }
    let mut latencies: Vec<Duration> = rounds.iter().map(|r| r.from_send_request).collect();
    latencies.sort();
    let answers_after_ack = rounds.iter().filter(|r| r.answer_minus_ack_us >= 0).count();
    println!(
        "long-poll latency, send request written -> held pull answered, {} rounds: \
         min {:?} p50 {:?} max {:?}; pull answer after send ack in {answers_after_ack}/{} rounds; \
         (answer - ack) in us: {:?}",
        latencies.len(),
        latencies.first().unwrap(),
        latencies[latencies.len() / 2],
        latencies.last().unwrap(),
        rounds.len(),
        rounds
            .iter()
            .map(|r| r.answer_minus_ack_us)
            .collect::<Vec<_>>()
    );
}

#[test]
fn held_pull_without_messages_is_answered_not_found_at_its_timeout() {
    const SHORT_SUSPEND_MS: u64 = 1_000;
    let cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("LongPollTimeout");
    cluster.create_topic(&topic, 4).expect("topic created");
    let addr = cluster.brokers[0].addr();
    let mut conn = RawConnection::connect(&addr).expect("connect");
    let mut sender = RawConnection::connect(&addr).expect("send connection");
    let request = PullRequest {
        group: "lp_timeout_cg",
        topic: &topic,
        queue_id: 1,
        queue_offset: 0,
        max_msg_nums: 32,
        suspend_ms: Some(SHORT_SUSPEND_MS),
    };
    let started = Instant::now();
    let opaque = conn
        .send_request(pull_message_frame(&request))
        .expect("pull written");
    // A message for another queue of the topic during the hold: it must not
    // answer the held pull.
    let send = SendRequest {
        group: "lp_pg",
        topic: &topic,
        queue_id: 0,
        body: b"not for queue 1",
        tag: Some("LP"),
        properties: &[],
    };
    sender
        .send_message(&send, CALL_TIMEOUT)
        .expect("send to queue 0 acknowledged");
    let answer = conn
        .read_response(opaque, ANSWER_WAIT_MAX)
        .expect("a held pull is answered at its timeout");
    let held = started.elapsed();
    println!("held pull with suspendTimeoutMillis={SHORT_SUSPEND_MS} answered after {held:?}");
    // Held: not answered before its suspend time (a lower bound only, which a
    // slow machine can only make longer)...
    assert!(
        held >= Duration::from_millis(SHORT_SUSPEND_MS) - HOLD_MARGIN,
        "answered after {held:?}, before its {SHORT_SUSPEND_MS} ms hold"
    );
    // ...and answered by the timeout, not by a message.
    assert_eq!(answer.code, code::PULL_NOT_FOUND, "{}", answer.describe());
    assert!(
        answer.body.is_empty(),
        "a timed-out pull carries no messages"
    );
    assert_eq!(answer.field_i64("nextBeginOffset").unwrap(), 0);
}
