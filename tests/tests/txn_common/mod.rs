//! Shared pieces of the transactional-message tests: a cluster whose
//! broker checks halves back quickly, raw reads of queue lengths and
//! contents, and bounded waits that fail with the servers' log tails.
#![allow(dead_code)]

use ringmq_tests::raw::{RawConnection, RemotingFrame, code};
use ringmq_tests::{BrokerOptions, Cluster};
use std::time::{Duration, Instant};

/// The half, op and max-check-time topics (broker-local, queue 0).
pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Queues of each test topic.
pub const QUEUES: u32 = 2;
/// Timeout of one raw request.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the check-back service to settle what a test expects.
pub const SETTLE_WAIT_MAX: Duration = Duration::from_secs(90);
/// Pause between polls of a bounded wait.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// `--set` flags: halves older than 1 s are checked every 500 ms, at most `max` times.
pub fn quick_checks(options: &mut BrokerOptions, max: u32) {
    for set in [
        "transaction_timeout_ms=1000".to_string(),
        "transaction_check_interval_ms=500".to_string(),
        format!("transaction_check_max={max}"),
    ] {
        options.extra_args.push("--set".into());
        options.extra_args.push(set);
    }
}

/// A one-broker cluster with [`quick_checks`] and `topic` created.
pub fn cluster(topic: &str, max: u32) -> Cluster {
    let cluster = Cluster::start_with(1, |o| quick_checks(o, max)).expect("cluster starts");
    cluster.create_topic(topic, QUEUES).expect("topic created");
    cluster
}

/// The max offset of `topic`/`queue_id` on the broker at `addr`.
pub fn max_offset(addr: &str, topic: &str, queue_id: i32) -> i64 {
    let mut conn = RawConnection::connect(addr).expect("connect");
    let reply = conn
        .call(
            RemotingFrame::request(
                code::GET_MAX_OFFSET,
                &[
                    ("topic", topic.to_string()),
                    ("queueId", queue_id.to_string()),
                ],
            ),
            CALL_TIMEOUT,
        )
        .expect("GET_MAX_OFFSET answered");
    reply.field_i64("offset").unwrap_or(0)
}

/// Messages stored in all [`QUEUES`] queues of `topic`.
pub fn topic_total(addr: &str, topic: &str) -> i64 {
    (0..QUEUES)
        .map(|q| max_offset(addr, topic, i32::try_from(q).unwrap_or(0)))
        .sum()
}

/// The bodies stored in `topic`, sorted.
pub fn topic_bodies(addr: &str, topic: &str) -> Vec<String> {
    let mut conn = RawConnection::connect(addr).expect("connect");
    let mut bodies = Vec::new();
    for q in 0..QUEUES {
        let stored = conn
            .pull_queue_to_end(
                "txn-reader",
                topic,
                i32::try_from(q).unwrap_or(0),
                0,
                CALL_TIMEOUT,
            )
            .expect("queue read");
        bodies.extend(
            stored
                .into_iter()
                .map(|m| String::from_utf8_lossy(&m.body).into_owned()),
        );
    }
    bodies.sort();
    bodies
}

/// Polls `done` until it holds; fails with `what` and the log tails after
/// [`SETTLE_WAIT_MAX`].
pub fn settle(cluster: &Cluster, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE_WAIT_MAX;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "never settled: {what}\n{}",
            cluster.log_tails()
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Sorted bodies `prefix-0 .. prefix-(n-1)`.
pub fn bodies(prefix: &str, range: std::ops::Range<u32>) -> Vec<String> {
    let mut out: Vec<String> = range.map(|i| format!("{prefix}-{i}")).collect();
    out.sort();
    out
}
