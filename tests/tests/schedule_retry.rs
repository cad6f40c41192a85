//! Delayed delivery against a real `ringmq broker` process: delay levels,
//! CONSUMER_SEND_MSG_BACK retries and the dead-letter queue, RocketMQ 5
//! timed messages, and both across a kill -9.
//!
//! Delays are short (delay levels of 1-3 s set with `--set`); nothing here
//! measures speed. "Not early" is checked on the broker's own store
//! timestamps: a delivered record is stored no earlier than the client's
//! send time plus the delay it asked for (same machine, same clock).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_tests::raw::{RawConnection, RemotingFrame, SendRequest, send_message_frame};
use ringmq_tests::stored::StoredMessage;
use ringmq_tests::{Cluster, now_millis, unique_name};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Timeout of one raw request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for delayed messages to show up.
const ARRIVAL_WAIT_MAX: Duration = Duration::from_secs(120);
/// CONSUMER_SEND_MSG_BACK.
const CONSUMER_SEND_MSG_BACK: i32 = 36;
/// Response MESSAGE_ILLEGAL.
const MESSAGE_ILLEGAL: i32 = 13;
/// Response NO_PERMISSION.
const NO_PERMISSION: i32 = 16;

fn start(extra: &[&str]) -> Cluster {
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_string()).collect();
    Cluster::start_with(1, move |o| o.extra_args = extra.clone()).expect("cluster starts")
}

fn now() -> i64 {
    i64::try_from(now_millis()).unwrap()
}

/// Pulls `topic`/`queue_id` from `offset` until at least `count` records
/// arrived (bounded wait).
fn wait_records(
    conn: &mut RawConnection,
    group: &str,
    topic: &str,
    queue_id: i32,
    count: usize,
) -> Vec<StoredMessage> {
    let deadline = Instant::now() + ARRIVAL_WAIT_MAX;
    loop {
        let got = conn
            .pull_queue_to_end(group, topic, queue_id, 0, CALL_TIMEOUT)
            .unwrap_or_else(|e| panic!("pull {topic}/{queue_id}: {e}"));
        if got.len() >= count || Instant::now() > deadline {
            assert!(
                got.len() >= count,
                "{topic}/{queue_id}: {} of {count} records arrived within {ARRIVAL_WAIT_MAX:?}",
                got.len()
            );
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn send(
    conn: &mut RawConnection,
    topic: &str,
    body: &str,
    props: &[(&str, &str)],
) -> RemotingFrame {
    let request = SendRequest {
        group: "schedule_pg",
        topic,
        queue_id: 0,
        body: body.as_bytes(),
        tag: Some("T"),
        properties: props,
    };
    conn.call(send_message_frame(&request), CALL_TIMEOUT)
        .expect("send answered")
}

fn prop<'a>(record: &'a StoredMessage, key: &str) -> Option<&'a str> {
    record.properties.get(key).map(String::as_str)
}

#[test]
fn delay_levels_wait_their_delay_clamp_to_the_last_level_and_survive_kill_9() {
    let mut cluster = start(&["--set", "message_delay_level=2s 3s 4s"]);
    let topic = unique_name("Delay");
    cluster.create_topic(&topic, 1).expect("topic");
    let addr = cluster.brokers[0].addr();
    let mut conn = RawConnection::connect(&addr).unwrap();
    let sent_at = now();
    // level -> delay: 1 -> 2 s, 2 -> 3 s, 9 (clamped to 3) -> 4 s; 0 is no delay.
    let cases = [
        ("d1", "1", 2_000),
        ("d2", "2", 3_000),
        ("d9", "9", 4_000),
        ("d0", "0", 0),
    ];
    for (body, level, _) in cases {
        let reply = send(&mut conn, &topic, body, &[("DELAY", level), ("k", body)]);
        assert_eq!(reply.code, 0, "{}", reply.describe());
    }
    cluster.brokers[0].kill9().expect("kill -9");
    cluster.brokers[0].restart().expect("restart");
    let mut conn = RawConnection::connect(&addr).unwrap();
    let records = wait_records(&mut conn, "delay_reader", &topic, 0, cases.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for record in &records {
        let body = String::from_utf8(record.body.clone()).unwrap();
        let (_, _, delay) = cases.iter().find(|c| c.0 == body).expect("a sent body");
        assert!(
            record.store_timestamp >= sent_at + delay,
            "{body} delivered {} ms after the send, before its {delay} ms",
            record.store_timestamp - sent_at
        );
        assert_eq!(prop(record, "k"), Some(body.as_str()), "user property kept");
        assert_eq!(prop(record, "TAGS"), Some("T"));
        // DELAY=0 is a plain message: nothing held it, nothing is removed.
        let cleared: &[&str] = if *delay > 0 {
            &["DELAY", "REAL_TOPIC", "REAL_QID"]
        } else {
            &["REAL_TOPIC", "REAL_QID"]
        };
        for key in cleared {
            assert_eq!(
                prop(record, key),
                None,
                "{key} removed on delivery of {body}"
            );
        }
        *seen.entry(body).or_default() += 1;
    }
    assert_eq!(seen.len(), cases.len(), "every message arrived: {seen:?}");
    println!("deliveries per message (duplicates allowed after the crash): {seen:?}");
}

fn send_back(
    conn: &mut RawConnection,
    record: &StoredMessage,
    group: &str,
    max: i32,
) -> RemotingFrame {
    let frame = RemotingFrame::request(
        CONSUMER_SEND_MSG_BACK,
        &[
            ("offset", record.physical_offset.to_string()),
            ("group", group.to_string()),
            ("delayLevel", "0".to_string()),
            ("originTopic", record.topic.clone()),
            ("maxReconsumeTimes", max.to_string()),
        ],
    );
    conn.call(frame, CALL_TIMEOUT).expect("send-back answered")
}

#[test]
fn sent_back_messages_retry_with_delays_then_land_in_an_unreadable_dlq() {
    const MAX: i32 = 3;
    let cluster = start(&["--set", "message_delay_level=1s 1s 1s 1s 1s 1s"]);
    let topic = unique_name("Retry");
    let group = unique_name("retry_cg");
    cluster.create_topic(&topic, 1).expect("topic");
    let mut conn = RawConnection::connect(&cluster.brokers[0].addr()).unwrap();
    let reply = send(&mut conn, &topic, "fail me", &[("order", "42")]);
    assert_eq!(reply.code, 0, "{}", reply.describe());
    let mut current = wait_records(&mut conn, &group, &topic, 0, 1).remove(0);
    let origin_topic = topic.clone();
    let retry_topic = format!("%RETRY%{group}");
    for round in 1..=MAX {
        let backed_at = now();
        let reply = send_back(&mut conn, &current, &group, MAX);
        assert_eq!(reply.code, 0, "round {round}: {}", reply.describe());
        let retried = wait_records(
            &mut conn,
            &group,
            &retry_topic,
            0,
            usize::try_from(round).unwrap(),
        );
        let next = retried.last().unwrap().clone();
        assert_eq!(next.reconsume_times, round, "reconsume count rises");
        assert!(
            next.store_timestamp >= backed_at + 1_000,
            "round {round} redelivered {} ms after the send-back, before its 1 s level",
            next.store_timestamp - backed_at
        );
        assert_eq!(next.body, b"fail me");
        assert_eq!(prop(&next, "order"), Some("42"));
        assert_eq!(prop(&next, "RETRY_TOPIC"), Some(origin_topic.as_str()));
        assert!(prop(&next, "ORIGIN_MESSAGE_ID").is_some());
        assert_eq!(prop(&next, "DELAY"), None);
        current = next;
    }
    let reply = send_back(&mut conn, &current, &group, MAX);
    assert_eq!(reply.code, 0, "to the DLQ: {}", reply.describe());
    let dlq = format!("%DLQ%{group}");
    let pull = ringmq_tests::raw::pull_message_frame(&ringmq_tests::raw::PullRequest {
        group: &group,
        topic: &dlq,
        queue_id: 0,
        queue_offset: 0,
        max_msg_nums: 1,
        suspend_ms: None,
    });
    let refused = conn.call(pull, CALL_TIMEOUT).unwrap();
    assert_eq!(
        refused.code,
        NO_PERMISSION,
        "the group cannot read its DLQ: {}",
        refused.describe()
    );
    // An operator grants READ; then the dead letter is there, properties kept.
    cluster.create_topic(&dlq, 1).expect("perm 6 on the DLQ");
    let dead = wait_records(&mut conn, "dlq_reader", &dlq, 0, 1);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, b"fail me");
    assert_eq!(dead[0].reconsume_times, MAX + 1);
    assert_eq!(prop(&dead[0], "order"), Some("42"));
    assert_eq!(prop(&dead[0], "RETRY_TOPIC"), Some(origin_topic.as_str()));
    assert_eq!(prop(&dead[0], "TAGS"), Some("T"));
}

#[test]
fn timed_messages_arrive_no_earlier_than_asked_and_survive_kill_9() {
    let mut cluster = start(&["--set", "timer_max_delay_sec=60"]);
    let topic = unique_name("Timer");
    cluster.create_topic(&topic, 1).expect("topic");
    let addr = cluster.brokers[0].addr();
    let mut conn = RawConnection::connect(&addr).unwrap();
    let sent_at = now();
    let at = (sent_at + 3_000).to_string();
    let cases: [(&str, &str, &str, i64); 3] = [
        ("ms", "TIMER_DELAY_MS", "2500", 2_500),
        ("sec", "TIMER_DELAY_SEC", "2", 2_000),
        ("at", "TIMER_DELIVER_MS", &at, 3_000),
    ];
    for (body, key, value, _) in &cases {
        let reply = send(&mut conn, &topic, body, &[(key, value)]);
        assert_eq!(reply.code, 0, "{}", reply.describe());
    }
    let too_late = send(&mut conn, &topic, "late", &[("TIMER_DELAY_SEC", "61")]);
    assert_eq!(too_late.code, MESSAGE_ILLEGAL, "{}", too_late.describe());
    assert!(too_late.remark.unwrap_or_default().contains("max delay"));
    cluster.brokers[0].kill9().expect("kill -9");
    cluster.brokers[0].restart().expect("restart");
    let mut conn = RawConnection::connect(&addr).unwrap();
    let records = wait_records(&mut conn, "timer_reader", &topic, 0, cases.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for record in &records {
        let body = String::from_utf8(record.body.clone()).unwrap();
        let (_, key, _, delay) = cases.iter().find(|c| c.0 == body).expect("a sent body");
        assert!(
            record.store_timestamp >= sent_at + delay,
            "{body} delivered {} ms after the send, before its {delay} ms",
            record.store_timestamp - sent_at
        );
        let due: i64 = prop(record, "TIMER_OUT_MS")
            .expect("TIMER_OUT_MS kept")
            .parse()
            .unwrap();
        assert!(record.store_timestamp >= due);
        assert!(
            prop(record, key).is_some(),
            "{key} kept as RocketMQ 5 keeps it"
        );
        assert!(prop(record, "TIMER_DEQUEUE_MS").is_some());
        assert_eq!(prop(record, "REAL_TOPIC"), None);
        assert_eq!(prop(record, "REAL_QID"), None);
        *seen.entry(body).or_default() += 1;
    }
    assert_eq!(
        seen.len(),
        cases.len(),
        "every timed message arrived: {seen:?}"
    );
    println!("deliveries per timed message: {seen:?}");
}

/// Sends `count` timed messages over one connection, `window` in flight.
fn send_timers(addr: &str, topic: &str, queues: i32, from: usize, count: usize, due_base: i64) {
    const WINDOW: usize = 256;
    let mut conn = RawConnection::connect(addr).unwrap();
    let mut in_flight = std::collections::VecDeque::new();
    for i in from..from + count {
        let body = format!("t{i:07}");
        let due = (due_base + i64::try_from(i % 2_000).unwrap()).to_string();
        let queue_id = i32::try_from(i).unwrap() % queues;
        let request = SendRequest {
            group: "timer_pg",
            topic,
            queue_id,
            body: body.as_bytes(),
            tag: None,
            properties: &[("TIMER_DELIVER_MS", &due)],
        };
        in_flight.push_back(conn.send_request(send_message_frame(&request)).unwrap());
        if in_flight.len() >= WINDOW {
            let opaque = in_flight.pop_front().unwrap();
            let reply = conn.read_response(opaque, CALL_TIMEOUT).unwrap();
            assert_eq!(reply.code, 0, "{}", reply.describe());
        }
    }
    for opaque in in_flight {
        let reply = conn.read_response(opaque, CALL_TIMEOUT).unwrap();
        assert_eq!(reply.code, 0, "{}", reply.describe());
    }
}

#[test]
fn a_hundred_thousand_pending_timers_all_arrive_after_kill_9() {
    const COUNT: usize = 100_000;
    const QUEUES: i32 = 4;
    const SENDERS: usize = 4;
    let mut cluster = start(&[]);
    let topic = unique_name("Timers");
    cluster
        .create_topic(&topic, u32::try_from(QUEUES).unwrap())
        .expect("topic");
    let addr = cluster.brokers[0].addr();
    // Due a while after the last send: all pending at the crash.
    let due_base = now() + 40_000;
    let per = COUNT / SENDERS;
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (addr, topic) = (addr.clone(), topic.clone());
            std::thread::spawn(move || send_timers(&addr, &topic, QUEUES, s * per, per, due_base))
        })
        .collect();
    for sender in senders {
        sender.join().expect("sender");
    }
    let pending_at_crash = now() < due_base;
    cluster.brokers[0].kill9().expect("kill -9");
    cluster.brokers[0].restart().expect("restart");
    let mut conn = RawConnection::connect(&addr).unwrap();
    let deadline = Instant::now() + ARRIVAL_WAIT_MAX + Duration::from_secs(60);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut offsets = vec![0i64; usize::try_from(QUEUES).unwrap()];
    while seen.len() < COUNT && Instant::now() < deadline {
        for queue_id in 0..QUEUES {
            let from = offsets[usize::try_from(queue_id).unwrap()];
            let got = conn
                .pull_queue_to_end("timers_reader", &topic, queue_id, from, CALL_TIMEOUT)
                .unwrap();
            offsets[usize::try_from(queue_id).unwrap()] += i64::try_from(got.len()).unwrap();
            for record in got {
                let due: i64 = prop(&record, "TIMER_DELIVER_MS").unwrap().parse().unwrap();
                assert!(
                    record.store_timestamp >= due,
                    "delivered {} ms early",
                    due - record.store_timestamp
                );
                *seen
                    .entry(String::from_utf8(record.body).unwrap())
                    .or_default() += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    println!(
        "timers delivered: {} distinct of {COUNT}, {duplicates} duplicates, pending at the crash: {pending_at_crash}",
        seen.len()
    );
    assert_eq!(seen.len(), COUNT, "no timer lost");
}
