//! Long polling: a pull that finds nothing with the suspend flag is held
//! and answered as soon as a message for its queue is stored (on queues of
//! both shards), or at its timeout with PULL_NOT_FOUND.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use ringmq_net::code::response;

/// How long we check that a held pull has not been answered yet.
const STILL_HELD_CHECK: Duration = Duration::from_millis(300);
/// Hold time asked for by the pull that times out.
const HOLD_MS: i64 = 1_000;
/// Slack for timer and clock granularity when checking it was held.
const HOLD_MARGIN: Duration = Duration::from_millis(50);

#[test]
fn held_pull_is_answered_by_the_next_send_to_its_queue() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 2);
    let mut consumer = Client::connect(broker.local_addr());
    let mut producer = Client::connect(broker.local_addr());
    for queue in 0..2 {
        // create the queue with one message, then wait at its end
        let reply = producer.call(send_v2("Hold", queue, b"first", &props("t", "k", "v")));
        assert_eq!(reply.code, response::SUCCESS);
        let opaque = consumer.send(pull("g", "Hold", queue, 1, 32, Some(20_000), "*"));
        // event 1: nothing yet (the pull is parked, not answered)
        assert!(
            consumer
                .read_frame(Instant::now() + STILL_HELD_CHECK)
                .is_none()
        );
        // event 2: a send to another queue does not release it
        let other = producer.call(send_v2(
            "Hold",
            queue + 2,
            b"elsewhere",
            &props("t", "k", "v"),
        ));
        assert_eq!(other.code, response::SUCCESS);
        assert!(
            consumer
                .read_frame(Instant::now() + STILL_HELD_CHECK)
                .is_none()
        );
        // event 3: the send to its queue is acknowledged
        let reply = producer.call(send_v2("Hold", queue, b"second", &props("t", "k", "v")));
        assert_eq!(reply.code, response::SUCCESS);
        // event 4: the held pull returns that message
        let answer = consumer.response(opaque);
        assert_eq!(answer.code, response::SUCCESS, "{:?}", answer.remark);
        let got = records(&answer.body);
        assert_eq!(got.len(), 1);
        assert_eq!(&got[0].body[..], b"second");
        assert_eq!(got[0].queue_offset, 1);
    }
    broker.shutdown();
}

#[test]
fn held_pull_on_an_empty_queue_times_out_with_pull_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path(), 1);
    let mut consumer = Client::connect(broker.local_addr());
    let mut producer = Client::connect(broker.local_addr());
    let reply = producer.call(send_v2("Quiet", 0, b"x", &props("t", "k", "v")));
    assert_eq!(reply.code, response::SUCCESS);
    let asked_at = Instant::now();
    let opaque = consumer.send(pull("g", "Quiet", 1, 0, 32, Some(HOLD_MS), "*"));
    // A send to another queue during the hold must not answer it.
    let other = producer.call(send_v2("Quiet", 0, b"y", &props("t", "k", "v")));
    assert_eq!(other.code, response::SUCCESS);
    let reply = consumer.response(opaque);
    let held = asked_at.elapsed();
    // Held: not answered before its hold time (a lower bound only, which a
    // slow machine can only make longer)...
    assert!(
        held >= Duration::from_millis(HOLD_MS.unsigned_abs()) - HOLD_MARGIN,
        "answered after {held:?}, before the {HOLD_MS} ms hold"
    );
    // ...and answered by the timeout, not by a message.
    assert_eq!(reply.code, response::PULL_NOT_FOUND, "{:?}", reply.remark);
    assert!(
        reply.body.is_empty(),
        "a timed-out pull carries no messages"
    );
    assert_eq!(ext(&reply, "nextBeginOffset"), "0");
    broker.shutdown();
}
