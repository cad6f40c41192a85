//! POP consumption over the remoting protocol (RocketMQ 5 POP_MESSAGE,
//! ACK_MESSAGE, CHANGE_MESSAGE_INVISIBLETIME, NOTIFICATION) against a real
//! `ringmq broker` process, with raw frames: every message handed out once
//! and never again after its ack, redelivery after the invisible time with
//! the attempt count raised, the dead-letter queue past the group's
//! attempts, FIFO order, changed invisible times, and a kill -9 in the
//! middle of pop/ack traffic.
//!
//! Waits are bounded loops on a condition; invisible times are short
//! (about a second) so redeliveries come quickly. Nothing measures speed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_tests::raw::{RawConnection, RemotingFrame, SendRequest};
use ringmq_tests::stored::{StoredMessage, decode_records};
use ringmq_tests::{Cluster, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const POP_MESSAGE: i32 = 200_050;
const ACK_MESSAGE: i32 = 200_051;
const CHANGE_MESSAGE_INVISIBLETIME: i32 = 200_053;
const NOTIFICATION: i32 = 200_054;
const UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: i32 = 200;
const GET_MAX_OFFSET: i32 = 30;
const QUERY_CONSUMER_OFFSET: i32 = 14;
const SUCCESS: i32 = 0;
const POLLING_TIMEOUT: i32 = 210;
const NO_MESSAGE: i32 = 208;
const INVALID_PARAMETER: i32 = 29;
/// Timeout of one raw request (long enough for a held pop).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for a redelivery or for every message to be consumed.
const WAIT_MAX: Duration = Duration::from_secs(90);

fn start() -> Cluster {
    Cluster::start(1).expect("cluster starts")
}

fn addr(cluster: &Cluster) -> String {
    cluster.brokers[0].addr()
}

fn send(conn: &mut RawConnection, topic: &str, queue_id: i32, body: &str, tag: Option<&str>) {
    conn.send_message(
        &SendRequest {
            group: "pop_pg",
            topic,
            queue_id,
            body: body.as_bytes(),
            tag,
            properties: &[],
        },
        CALL_TIMEOUT,
    )
    .unwrap();
}

struct Pop<'a> {
    group: &'a str,
    topic: &'a str,
    queue_id: i32,
    max: i32,
    invisible_ms: i64,
    poll_ms: i64,
    order: bool,
    exp: Option<&'a str>,
}

impl<'a> Pop<'a> {
    fn new(group: &'a str, topic: &'a str) -> Self {
        Pop {
            group,
            topic,
            queue_id: -1,
            max: 32,
            invisible_ms: 60_000,
            poll_ms: 0,
            order: false,
            exp: None,
        }
    }
}

/// A popped message and its receipt fields.
#[derive(Debug, Clone)]
struct Popped {
    message: StoredMessage,
    extra_info: String,
    /// Queue id and retry flag from the receipt.
    queue_id: i32,
    retry: bool,
    offset: i64,
}

impl Popped {
    fn body(&self) -> String {
        String::from_utf8(self.message.body.clone()).unwrap()
    }
}

fn pop(conn: &mut RawConnection, request: &Pop<'_>) -> (RemotingFrame, Vec<Popped>) {
    let mut fields = vec![
        ("consumerGroup", request.group.to_string()),
        ("topic", request.topic.to_string()),
        ("queueId", request.queue_id.to_string()),
        ("maxMsgNums", request.max.to_string()),
        ("invisibleTime", request.invisible_ms.to_string()),
        ("pollTime", request.poll_ms.to_string()),
        ("bornTime", ringmq_tests::now_millis().to_string()),
        ("initMode", "0".to_string()),
        ("order", request.order.to_string()),
    ];
    if let Some(exp) = request.exp {
        fields.push(("expType", "TAG".to_string()));
        fields.push(("exp", exp.to_string()));
    }
    let reply = conn
        .call(RemotingFrame::request(POP_MESSAGE, &fields), CALL_TIMEOUT)
        .unwrap();
    if reply.code != SUCCESS {
        return (reply, Vec::new());
    }
    let popped = decode_records(&reply.body)
        .unwrap()
        .into_iter()
        .map(|message| {
            let extra_info = message
                .properties
                .get("POP_CK")
                .cloned()
                .unwrap_or_else(|| panic!("no POP_CK in {message:?}"));
            let parts: Vec<&str> = extra_info.split(' ').collect();
            assert_eq!(parts.len(), 8, "{extra_info}");
            Popped {
                queue_id: parts[6].parse().unwrap(),
                retry: parts[4] == "1",
                offset: parts[7].parse().unwrap(),
                extra_info,
                message,
            }
        })
        .collect();
    (reply, popped)
}

fn ack_receipt(
    conn: &mut RawConnection,
    group: &str,
    topic: &str,
    popped: &Popped,
) -> RemotingFrame {
    conn.call(
        RemotingFrame::request(
            ACK_MESSAGE,
            &[
                ("consumerGroup", group.to_string()),
                ("topic", topic.to_string()),
                ("queueId", popped.queue_id.to_string()),
                ("extraInfo", popped.extra_info.clone()),
                ("offset", popped.offset.to_string()),
            ],
        ),
        CALL_TIMEOUT,
    )
    .unwrap()
}

fn ack(conn: &mut RawConnection, group: &str, topic: &str, popped: &Popped) {
    let reply = ack_receipt(conn, group, topic, popped);
    assert_eq!(reply.code, SUCCESS, "ack: {}", reply.describe());
}

/// Pops until `count` messages arrived (bounded), acking none.
fn pop_until(conn: &mut RawConnection, request: &Pop<'_>, count: usize) -> Vec<Popped> {
    let deadline = Instant::now() + WAIT_MAX;
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} messages popped within {WAIT_MAX:?}",
            out.len()
        );
        let (reply, popped) = pop(conn, request);
        assert!(
            reply.code == SUCCESS || reply.code == POLLING_TIMEOUT,
            "{}",
            reply.describe()
        );
        out.extend(popped);
    }
    out
}

fn create_group(conn: &mut RawConnection, group: &str, retry_max_times: i32) {
    let mut frame = RemotingFrame::request(UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, &[]);
    frame.body = serde_json::to_vec(&serde_json::json!({
        "groupName": group,
        "consumeEnable": true,
        "retryMaxTimes": retry_max_times,
    }))
    .unwrap();
    let reply = conn.call(frame, CALL_TIMEOUT).unwrap();
    assert_eq!(reply.code, SUCCESS, "{}", reply.describe());
}

fn max_offset(conn: &mut RawConnection, topic: &str, queue_id: i32) -> i64 {
    let reply = conn
        .call(
            RemotingFrame::request(
                GET_MAX_OFFSET,
                &[
                    ("topic", topic.to_string()),
                    ("queueId", queue_id.to_string()),
                ],
            ),
            CALL_TIMEOUT,
        )
        .unwrap();
    assert_eq!(reply.code, SUCCESS, "{}", reply.describe());
    reply.field_i64("offset").unwrap()
}

fn consumer_offset(
    conn: &mut RawConnection,
    group: &str,
    topic: &str,
    queue_id: i32,
) -> Option<i64> {
    let reply = conn
        .call(
            RemotingFrame::request(
                QUERY_CONSUMER_OFFSET,
                &[
                    ("consumerGroup", group.to_string()),
                    ("topic", topic.to_string()),
                    ("queueId", queue_id.to_string()),
                ],
            ),
            CALL_TIMEOUT,
        )
        .unwrap();
    (reply.code == SUCCESS).then(|| reply.field_i64("offset").unwrap())
}

#[test]
fn n_of_n_are_popped_once_and_acked_ones_never_come_back() {
    let cluster = start();
    let topic = unique_name("PopAll");
    let group = unique_name("pop_all_g");
    cluster.create_topic(&topic, 4).unwrap();
    let mut conn = RawConnection::connect(&addr(&cluster)).unwrap();
    let total = 60;
    for i in 0..total {
        send(&mut conn, &topic, i % 4, &format!("m-{i}"), None);
    }
    let request = Pop {
        max: 7,
        ..Pop::new(&group, &topic)
    };
    let popped = pop_until(&mut conn, &request, total as usize);
    let bodies: BTreeSet<String> = popped.iter().map(Popped::body).collect();
    assert_eq!(bodies.len(), total as usize, "no message twice");
    assert_eq!(popped.len(), total as usize);
    for message in &popped {
        assert!(!message.retry);
        assert_eq!(message.message.reconsume_times, 0);
        ack(&mut conn, &group, &topic, message);
    }
    // Acked twice: still SUCCESS, nothing changes.
    ack(&mut conn, &group, &topic, &popped[0]);
    let (reply, again) = pop(&mut conn, &Pop::new(&group, &topic));
    assert_eq!(reply.code, POLLING_TIMEOUT, "{}", reply.describe());
    assert!(again.is_empty());
    // The group's consumed offsets show its progress.
    for queue_id in 0..4 {
        assert_eq!(
            consumer_offset(&mut conn, &group, &topic, queue_id),
            Some(max_offset(&mut conn, &topic, queue_id)),
            "queue {queue_id}"
        );
    }
}

#[test]
fn pop_answers_java_header_fields_and_refuses_bad_requests() {
    let cluster = start();
    let topic = unique_name("PopHeader");
    let group = unique_name("pop_header_g");
    cluster.create_topic(&topic, 2).unwrap();
    let mut conn = RawConnection::connect(&addr(&cluster)).unwrap();
    send(&mut conn, &topic, 1, "one", Some("TagA"));
    send(&mut conn, &topic, 1, "two", Some("TagB"));
    let request = Pop {
        queue_id: 1,
        exp: Some("TagB"),
        ..Pop::new(&group, &topic)
    };
    let (reply, popped) = pop(&mut conn, &request);
    assert_eq!(reply.code, SUCCESS, "{}", reply.describe());
    assert_eq!(popped.len(), 1, "the tag filter applies");
    assert_eq!(popped[0].body(), "two");
    let fields = &reply.ext_fields;
    assert_eq!(fields["invisibleTime"], "60000");
    assert_eq!(fields["reviveQid"], "0");
    assert_eq!(fields["msgOffsetInfo"], "0 1 1");
    assert_eq!(fields["startOffsetInfo"], "0 1 1");
    let pop_time = &fields["popTime"];
    assert_eq!(
        popped[0].extra_info,
        format!("1 {pop_time} 60000 0 0 {} 1 1", cluster.brokers[0].name())
    );
    let too_many = Pop {
        max: 33,
        ..Pop::new(&group, &topic)
    };
    assert_eq!(pop(&mut conn, &too_many).0.code, INVALID_PARAMETER);
    let bad_queue = Pop {
        queue_id: 2,
        ..Pop::new(&group, &topic)
    };
    assert_eq!(pop(&mut conn, &bad_queue).0.code, INVALID_PARAMETER);
    let garbage = conn
        .call(
            RemotingFrame::request(
                ACK_MESSAGE,
                &[
                    ("consumerGroup", group.clone()),
                    ("topic", topic.clone()),
                    ("queueId", "1".into()),
                    ("extraInfo", "not a receipt".into()),
                    ("offset", "1".into()),
                ],
            ),
            CALL_TIMEOUT,
        )
        .unwrap();
    assert_ne!(garbage.code, SUCCESS, "{}", garbage.describe());
}

#[test]
fn an_unacked_message_comes_back_after_its_invisible_time_with_its_attempt_raised() {
    let cluster = start();
    let topic = unique_name("PopRevive");
    let group = unique_name("pop_revive_g");
    cluster.create_topic(&topic, 1).unwrap();
    let mut conn = RawConnection::connect(&addr(&cluster)).unwrap();
    send(&mut conn, &topic, 0, "comes-back", None);
    let request = Pop {
        invisible_ms: 1_000,
        poll_ms: 2_000,
        ..Pop::new(&group, &topic)
    };
    let first = pop_until(&mut conn, &request, 1);
    assert_eq!(first[0].message.reconsume_times, 0);
    let again = pop_until(&mut conn, &request, 1);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body(), "comes-back");
    assert_eq!(again[0].message.reconsume_times, 1, "attempt raised");
    assert!(again[0].retry, "redelivered from the POP retry topic");
    assert_eq!(
        again[0].message.topic, topic,
        "shown under the popped topic"
    );
    // The old receipt acks nothing; the new one acks the redelivery.
    ack(&mut conn, &group, &topic, &first[0]);
    ack(&mut conn, &group, &topic, &again[0]);
    let quiet = Pop {
        poll_ms: 3_000,
        ..request
    };
    let (reply, none) = pop(&mut conn, &quiet);
    assert_eq!(reply.code, POLLING_TIMEOUT, "{}", reply.describe());
    assert!(none.is_empty(), "an acked redelivery is not revived again");
}

#[test]
fn past_the_groups_attempts_a_message_goes_to_the_dead_letter_queue() {
    let cluster = start();
    let topic = unique_name("PopDlq");
    let group = unique_name("pop_dlq_g");
    cluster.create_topic(&topic, 1).unwrap();
    let mut conn = RawConnection::connect(&addr(&cluster)).unwrap();
    create_group(&mut conn, &group, 1);
    send(&mut conn, &topic, 0, "doomed", None);
    let request = Pop {
        invisible_ms: 800,
        poll_ms: 2_000,
        ..Pop::new(&group, &topic)
    };
    let first = pop_until(&mut conn, &request, 1);
    assert_eq!(first[0].message.reconsume_times, 0);
    let second = pop_until(&mut conn, &request, 1);
    assert_eq!(second[0].message.reconsume_times, 1);
    let dlq = format!("%DLQ%{group}");
    let deadline = Instant::now() + WAIT_MAX;
    while max_offset(&mut conn, &dlq, 0) < 1 {
        assert!(Instant::now() < deadline, "nothing reached {dlq}");
        let (_, popped) = pop(&mut conn, &request);
        assert!(popped.is_empty(), "no third delivery: {popped:?}");
    }
    cluster.create_topic(&dlq, 1).unwrap();
    let dead = conn
        .pull_queue_to_end(&group, &dlq, 0, 0, CALL_TIMEOUT)
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, b"doomed");
    assert_eq!(dead[0].reconsume_times, 2);
}

#[test]
fn a_fifo_pop_hands_out_a_queues_next_message_only_after_the_previous_is_acked() {
    let cluster = start();
    let topic = unique_name("PopFifo");
    let group = unique_name("pop_fifo_g");
    cluster.create_topic(&topic, 1).unwrap();
    let mut conn = RawConnection::connect(&addr(&cluster)).unwrap();
    for i in 0..4 {
        send(&mut conn, &topic, 0, &format!("f-{i}"), None);
    }
    let request = Pop {
        max: 1,
        order: true,
        invisible_ms: 1_000,
        ..Pop::new(&group, &topic)
    };
    let (reply, first) = pop(&mut conn, &request);
    assert_eq!(reply.code, SUCCESS, "{}", reply.describe());
    assert_eq!(reply.ext_fields["reviveQid"], "999");
    assert_eq!(first[0].body(), "f-0");
    let (blocked, none) = pop(&mut conn, &request);
    assert_eq!(
        blocked.code,
        POLLING_TIMEOUT,
        "the queue is blocked: {}",
        blocked.describe()
    );
    assert!(none.is_empty());
    // Not acked in time: the same message again, one attempt more.
    let held = Pop {
        poll_ms: 2_000,
        ..request
    };
    let again = pop_until(&mut conn, &held, 1);
    assert_eq!(again[0].body(), "f-0");
    assert_eq!(again[0].message.reconsume_times, 1);
    ack(&mut conn, &group, &topic, &again[0]);
    let mut order = Vec::new();
    for _ in 1..4 {
        let next = pop_until(&mut conn, &held, 1);
        order.push(next[0].body());
        ack(&mut conn, &group, &topic, &next[0]);
    }
    assert_eq!(order, ["f-1", "f-2", "f-3"]);
}

#[test]
fn changing_the_invisible_time_keeps_a_message_hidden_under_a_new_receipt() {
    let cluster = start();
    let topic = unique_name("PopChange");
    let group = unique_name("pop_change_g");
    cluster.create_topic(&topic, 1).unwrap();
    let mut conn = RawConnection::connect(&addr(&cluster)).unwrap();
    send(&mut conn, &topic, 0, "hidden", None);
    let request = Pop {
        invisible_ms: 1_000,
        ..Pop::new(&group, &topic)
    };
    let popped = pop_until(&mut conn, &request, 1);
    let message = &popped[0];
    let reply = conn
        .call(
            RemotingFrame::request(
                CHANGE_MESSAGE_INVISIBLETIME,
                &[
                    ("consumerGroup", group.clone()),
                    ("topic", topic.clone()),
                    ("queueId", "0".into()),
                    ("extraInfo", message.extra_info.clone()),
                    ("offset", message.offset.to_string()),
                    ("invisibleTime", "60000".into()),
                ],
            ),
            CALL_TIMEOUT,
        )
        .unwrap();
    assert_eq!(reply.code, SUCCESS, "{}", reply.describe());
    assert_eq!(reply.ext_fields["invisibleTime"], "60000");
    let new_pop_time = &reply.ext_fields["popTime"];
    let broker = cluster.brokers[0].name();
    let renewed = Popped {
        extra_info: format!(
            "{} {new_pop_time} 60000 0 0 {broker} 0 {}",
            message.offset, message.offset
        ),
        ..message.clone()
    };
    // Well past the old invisible time, it does not come back.
    let quiet = Pop {
        poll_ms: 3_000,
        ..request
    };
    let (reply, none) = pop(&mut conn, &quiet);
    assert_eq!(reply.code, POLLING_TIMEOUT, "{}", reply.describe());
    assert!(none.is_empty());
    ack(&mut conn, &group, &topic, &renewed);
    // The old receipt is spent: changing it again answers NO_MESSAGE.
    let stale = conn
        .call(
            RemotingFrame::request(
                CHANGE_MESSAGE_INVISIBLETIME,
                &[
                    ("consumerGroup", group.clone()),
                    ("topic", topic.clone()),
                    ("queueId", "0".into()),
                    ("extraInfo", message.extra_info.clone()),
                    ("offset", message.offset.to_string()),
                    ("invisibleTime", "1000".into()),
                ],
            ),
            CALL_TIMEOUT,
        )
        .unwrap();
    assert_eq!(stale.code, NO_MESSAGE, "{}", stale.describe());
    assert_eq!(consumer_offset(&mut conn, &group, &topic, 0), Some(1));
}

#[test]
fn notification_says_whether_a_pop_would_find_a_message() {
    let cluster = start();
    let topic = unique_name("PopNotify");
    let group = unique_name("pop_notify_g");
    cluster.create_topic(&topic, 2).unwrap();
    let mut conn = RawConnection::connect(&addr(&cluster)).unwrap();
    let notify = |conn: &mut RawConnection, poll_ms: i64| {
        let reply = conn
            .call(
                RemotingFrame::request(
                    NOTIFICATION,
                    &[
                        ("consumerGroup", group.clone()),
                        ("topic", topic.clone()),
                        ("queueId", "-1".into()),
                        ("pollTime", poll_ms.to_string()),
                        ("bornTime", ringmq_tests::now_millis().to_string()),
                    ],
                ),
                CALL_TIMEOUT,
            )
            .unwrap();
        assert_eq!(reply.code, SUCCESS, "{}", reply.describe());
        reply.ext_fields["hasMsg"].clone()
    };
    assert_eq!(notify(&mut conn, 0), "false");
    send(&mut conn, &topic, 1, "here", None);
    assert_eq!(notify(&mut conn, 0), "true");
}

#[test]
fn a_kill9_during_pop_and_ack_traffic_loses_no_message_and_redelivers_no_acked_one() {
    let mut cluster = start();
    let topic = unique_name("PopCrash");
    let group = unique_name("pop_crash_g");
    cluster.create_topic(&topic, 4).unwrap();
    let broker_addr = addr(&cluster);
    let mut conn = RawConnection::connect(&broker_addr).unwrap();
    let total = 400usize;
    for i in 0..total {
        send(&mut conn, &topic, (i % 4) as i32, &format!("c-{i}"), None);
    }
    let invisible_ms = 2_000;
    // A consumer thread pops and acks until the broker dies; it records
    // each ack the broker confirmed, and the one in flight when it died
    // (durable or not: the test cannot know).
    let worker = {
        let (addr, topic, group) = (broker_addr.clone(), topic.clone(), group.clone());
        std::thread::spawn(move || {
            let mut acked = BTreeSet::new();
            let mut in_doubt = None;
            let Ok(mut conn) = RawConnection::connect(&addr) else {
                return (acked, in_doubt);
            };
            let request = Pop {
                max: 8,
                invisible_ms,
                ..Pop::new(&group, &topic)
            };
            while pop_and_ack(&mut conn, &request, &mut acked, &mut in_doubt) {}
            (acked, in_doubt)
        })
    };
    let deadline = Instant::now() + WAIT_MAX;
    while consumer_offset(&mut conn, &group, &topic, 0).unwrap_or(0) < 20 {
        assert!(Instant::now() < deadline, "the consumer made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.brokers[0].kill9().unwrap();
    let (acked_before, in_doubt) = worker.join().unwrap();
    assert!(!acked_before.is_empty());
    cluster.brokers[0].restart().unwrap();
    let mut conn = RawConnection::connect(&broker_addr).unwrap();
    let request = Pop {
        invisible_ms,
        poll_ms: 1_000,
        ..Pop::new(&group, &topic)
    };
    let mut acked_after = BTreeSet::new();
    let mut redelivered: BTreeMap<String, i32> = BTreeMap::new();
    let deadline = Instant::now() + WAIT_MAX;
    let consumed = |after: &BTreeSet<String>| {
        let mut all: BTreeSet<String> = acked_before.union(after).cloned().collect();
        all.extend(in_doubt.clone());
        all.len()
    };
    while consumed(&acked_after) < total {
        assert!(
            Instant::now() < deadline,
            "{} of {total} messages consumed after the restart",
            consumed(&acked_after)
        );
        let (reply, popped) = pop(&mut conn, &request);
        assert!(
            reply.code == SUCCESS || reply.code == POLLING_TIMEOUT,
            "{}",
            reply.describe()
        );
        for message in popped {
            let body = message.body();
            assert!(
                !acked_before.contains(&body),
                "{body} was acked before the crash and delivered again"
            );
            if message.message.reconsume_times > 0 {
                *redelivered.entry(body.clone()).or_default() += 1;
            }
            ack(&mut conn, &group, &topic, &message);
            acked_after.insert(body);
        }
    }
    assert_eq!(consumed(&acked_after), total, "every message consumed");
    assert!(acked_before.is_disjoint(&acked_after));
    assert!(
        redelivered.keys().all(|body| !acked_before.contains(body)),
        "{redelivered:?}"
    );
}

/// One pop and the acks of what it returned; `false` once the broker is
/// gone (connection error).
fn pop_and_ack(
    conn: &mut RawConnection,
    request: &Pop<'_>,
    acked: &mut BTreeSet<String>,
    in_doubt: &mut Option<String>,
) -> bool {
    let frame = RemotingFrame::request(
        POP_MESSAGE,
        &[
            ("consumerGroup", request.group.to_string()),
            ("topic", request.topic.to_string()),
            ("queueId", "-1".to_string()),
            ("maxMsgNums", request.max.to_string()),
            ("invisibleTime", request.invisible_ms.to_string()),
            ("pollTime", "0".to_string()),
            ("bornTime", ringmq_tests::now_millis().to_string()),
            ("initMode", "0".to_string()),
        ],
    );
    let Ok(reply) = conn.call(frame, CALL_TIMEOUT) else {
        return false;
    };
    if reply.code != SUCCESS {
        return true;
    }
    let Ok(records) = decode_records(&reply.body) else {
        return false;
    };
    for message in records {
        let Some(extra_info) = message.properties.get("POP_CK").cloned() else {
            return false;
        };
        let parts: Vec<&str> = extra_info.split(' ').collect();
        let (Some(queue_id), Some(offset)) = (parts.get(6), parts.get(7)) else {
            return false;
        };
        let frame = RemotingFrame::request(
            ACK_MESSAGE,
            &[
                ("consumerGroup", request.group.to_string()),
                ("topic", request.topic.to_string()),
                ("queueId", (*queue_id).to_string()),
                ("extraInfo", extra_info.clone()),
                ("offset", (*offset).to_string()),
            ],
        );
        let body = String::from_utf8_lossy(&message.body).into_owned();
        *in_doubt = Some(body.clone());
        match conn.call(frame, CALL_TIMEOUT) {
            Ok(reply) if reply.code == SUCCESS => {
                acked.insert(body);
                *in_doubt = None;
            }
            _ => return false,
        }
    }
    true
}
