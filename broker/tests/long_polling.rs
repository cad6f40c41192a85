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
    let reply = consumer.call(send_v2("Quiet", 0, b"x", &props("t", "k", "v")));
    assert_eq!(reply.code, response::SUCCESS);
    let reply = consumer.call(pull("g", "Quiet", 1, 0, 32, Some(300), "*"));
    assert_eq!(reply.code, response::PULL_NOT_FOUND);
    assert_eq!(ext(&reply, "nextBeginOffset"), "0");
    broker.shutdown();
}
