//! Hostile clients against a real broker process: the huge-name heartbeat
//! that used to take a broker off the nameserver, idle and slowloris
//! connections, unread pipelined pulls, garbage and oversized frames, and
//! connection floods from one address. Each test asserts correctness (the
//! bad request is refused and nothing is created, the bad connection is
//! closed, a legitimate client keeps working, the broker stays routable at
//! the nameserver) and *prints* the legitimate client's p99 send latency
//! against a baseline and the broker's RssAnon; no timing is asserted.
//!
//! Counts are small by default (CI); `RINGMQ_HOSTILE_LONG=1` multiplies
//! them by [`LONG_FACTOR`].
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ringmq_tests::raw::{
    PullRequest, RawConnection, RemotingFrame, SendRequest, code, pull_message_frame,
};
use ringmq_tests::{Broker, Cluster, unique_name};

/// SYSTEM_ERROR, the code of a request with an invalid name.
const SYSTEM_ERROR: i32 = 1;
/// GET_ALL_TOPIC_CONFIG.
const GET_ALL_TOPIC_CONFIG: i32 = 21;
/// Timeout of one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The broker's idle timeout in these tests.
const IDLE_TIMEOUT_MS: u64 = 1_500;
/// Longest wait for the broker to close a connection it should close.
const CLOSE_WAIT_MAX: Duration = Duration::from_secs(30);
/// Multiplier of every count with `RINGMQ_HOSTILE_LONG=1`.
const LONG_FACTOR: usize = 10;
/// Sends of the legitimate client per measurement.
const LEGIT_SENDS: usize = 200;

fn scale(n: usize) -> usize {
    if std::env::var_os("RINGMQ_HOSTILE_LONG").is_some() {
        n * LONG_FACTOR
    } else {
        n
    }
}

fn cluster_with(sets: &[&str]) -> Cluster {
    Cluster::start_with(1, |options| {
        for set in sets {
            options.extra_args.push("--set".into());
            options.extra_args.push((*set).to_string());
        }
    })
    .expect("cluster starts")
}

/// The broker's RssAnon in KiB, from /proc.
fn rss_anon_kib(broker: &Broker) -> Option<u64> {
    let pid = broker.process.pid()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `count` messages one by one; returns the p99 latency.
fn legit_sends(conn: &mut RawConnection, topic: &str, count: usize) -> Duration {
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let body = format!("legit-{i}").into_bytes();
        let started = Instant::now();
        conn.send_message(
            &SendRequest {
                group: "legit_pg",
                topic,
                queue_id: 0,
                body: &body,
                tag: None,
                properties: &[],
            },
            CALL_TIMEOUT,
        )
        .expect("the legitimate client's send is served");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

fn report(test: &str, baseline: Duration, attacked: Duration, broker: &Broker) {
    println!(
        "[hostile] {test}: legit p99 baseline {:.2} ms, under attack {:.2} ms, broker RssAnon {} KiB",
        baseline.as_secs_f64() * 1e3,
        attacked.as_secs_f64() * 1e3,
        rss_anon_kib(broker).map_or("?".into(), |k| k.to_string())
    );
}

/// Waits (bounded) until the peer closes `stream`: a read returns 0 or a
/// reset. `false` if it stayed open for [`CLOSE_WAIT_MAX`].
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + CLOSE_WAIT_MAX;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

fn heartbeat_frame(group: &str) -> RemotingFrame {
    let body = serde_json::json!({
        "clientID": "127.0.0.1@hostile",
        "consumerDataSet": [{
            "groupName": group,
            "consumeType": "CONSUME_PASSIVELY",
            "messageModel": "CLUSTERING",
            "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "subscriptionDataSet": [{"topic": "HostileTopic", "subString": "*"}],
            "unitMode": false
        }],
        "producerDataSet": []
    });
    let mut frame = RemotingFrame::request(code::HEART_BEAT, &[]);
    frame.body = serde_json::to_vec(&body).unwrap();
    frame
}

fn topic_names(broker: &Broker) -> String {
    let mut conn = RawConnection::connect(&broker.addr()).unwrap();
    let answer = conn
        .call(
            RemotingFrame::request(GET_ALL_TOPIC_CONFIG, &[]),
            CALL_TIMEOUT,
        )
        .unwrap();
    assert_eq!(answer.code, code::SUCCESS, "{}", answer.describe());
    String::from_utf8_lossy(&answer.body).into_owned()
}

#[test]
fn a_huge_group_heartbeat_is_refused_and_the_broker_stays_routable() {
    let cluster = cluster_with(&[]);
    let broker = &cluster.brokers[0];
    let mut conn = RawConnection::connect(&broker.addr()).unwrap();
    let huge = "G".repeat(9 * 1024 * 1024);
    for _ in 0..2 {
        let answer = conn.call(heartbeat_frame(&huge), CALL_TIMEOUT).unwrap();
        assert_eq!(answer.code, SYSTEM_ERROR, "{}", answer.describe());
        let remark = answer.remark.unwrap_or_default();
        assert!(remark.contains("consumer group"), "{remark}");
        assert!(remark.len() < 1024, "the name is not echoed back");
    }
    let pull = pull_message_frame(&PullRequest {
        group: &"P".repeat(200),
        topic: "HostileTopic",
        queue_id: 0,
        queue_offset: 0,
        max_msg_nums: 1,
        suspend_ms: None,
    });
    let answer = conn.call(pull, CALL_TIMEOUT).unwrap();
    assert_eq!(answer.code, SYSTEM_ERROR, "{}", answer.describe());
    let mut back = RemotingFrame::request(
        code::SEND_MESSAGE,
        &[("topic", "a topic with spaces".to_string())],
    );
    back.body = b"x".to_vec();
    let answer = conn.call(back, CALL_TIMEOUT).unwrap();
    assert_eq!(answer.code, SYSTEM_ERROR, "{}", answer.describe());

    let topics = topic_names(broker);
    assert!(
        !topics.contains("%RETRY%GGGG"),
        "no retry topic was created"
    );
    // A legitimate heartbeat still works and the next registration goes through.
    let answer = conn
        .call(heartbeat_frame("legit_cg"), CALL_TIMEOUT)
        .unwrap();
    assert_eq!(answer.code, code::SUCCESS, "{}", answer.describe());
    assert!(topic_names(broker).contains("%RETRY%legit_cg"));
    let topic = unique_name("AfterHuge");
    cluster.create_topic(&topic, 2).expect("still routable");
    cluster
        .nameserver
        .wait_broker_registered(&broker.addr())
        .expect("the broker is still registered");
}

#[test]
fn idle_and_slowloris_connections_are_closed_while_a_legit_client_keeps_working() {
    let idle = format!("connection_idle_timeout_ms={IDLE_TIMEOUT_MS}");
    let cluster = cluster_with(&[&idle]);
    let broker = &cluster.brokers[0];
    let topic = unique_name("Idle");
    let mut legit = RawConnection::connect(&broker.addr()).unwrap();
    let baseline = legit_sends(&mut legit, &topic, LEGIT_SENDS);

    let mut idlers: Vec<TcpStream> = (0..scale(20))
        .map(|_| TcpStream::connect(broker.addr()).unwrap())
        .collect();
    // Slowloris: a valid frame length, then one byte at a time, never whole.
    let mut slow: Vec<TcpStream> = (0..scale(10))
        .map(|_| {
            let mut s = TcpStream::connect(broker.addr()).unwrap();
            s.write_all(&1000u32.to_be_bytes()).unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let mut attacked = Duration::ZERO;
    // Keep the legitimate client busy (and so not idle) while the others
    // trickle bytes for three idle timeouts.
    while started.elapsed() < Duration::from_millis(IDLE_TIMEOUT_MS * 3) {
        attacked = attacked.max(legit_sends(&mut legit, &topic, 20));
        for s in &mut slow {
            let _ = s.write_all(b"x");
        }
    }
    for (i, s) in idlers.iter_mut().enumerate() {
        assert!(closed_by_peer(s), "idle connection {i} was closed");
    }
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(closed_by_peer(s), "slowloris connection {i} was closed");
    }
    legit_sends(&mut legit, &topic, 10);
    report("idle+slowloris", baseline, attacked, broker);
}

#[test]
fn unread_pipelined_pulls_do_not_stop_other_clients() {
    let cluster = cluster_with(&[
        "frame_bytes_max=8388608",
        "connection_outbound_bytes_max=8388608",
    ]);
    let broker = &cluster.brokers[0];
    let topic = unique_name("Unread");
    let mut legit = RawConnection::connect(&broker.addr()).unwrap();
    let body = vec![b'p'; 64 * 1024];
    for _ in 0..scale(64) {
        legit
            .send_message(
                &SendRequest {
                    group: "legit_pg",
                    topic: &topic,
                    queue_id: 0,
                    body: &body,
                    tag: None,
                    properties: &[],
                },
                CALL_TIMEOUT,
            )
            .unwrap();
    }
    let baseline = legit_sends(&mut legit, &topic, LEGIT_SENDS);
    // Pipelined pulls whose replies are never read.
    let mut hogs = Vec::new();
    for _ in 0..scale(4) {
        let mut hog = TcpStream::connect(broker.addr()).unwrap();
        hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        for opaque in 0..2_000 {
            let mut frame = pull_message_frame(&PullRequest {
                group: "hog_cg",
                topic: &topic,
                queue_id: 0,
                queue_offset: 0,
                max_msg_nums: 32,
                suspend_ms: None,
            });
            frame.opaque = opaque;
            if hog.write_all(&frame.encode().unwrap()).is_err() {
                break; // the broker stopped reading: our writes block
            }
        }
        hogs.push(hog);
    }
    let attacked = legit_sends(&mut legit, &topic, LEGIT_SENDS);
    let records = legit
        .pull_queue_to_end("legit_cg", &topic, 0, 0, CALL_TIMEOUT)
        .expect("the legitimate client still pulls");
    assert!(records.len() >= scale(64) + 2 * LEGIT_SENDS);
    report("unread pipelined pulls", baseline, attacked, broker);
    drop(hogs);
    legit_sends(&mut legit, &topic, 10);
}

#[test]
fn garbage_and_oversized_frames_close_only_their_connection() {
    let cluster = cluster_with(&[]);
    let broker = &cluster.brokers[0];
    let topic = unique_name("Garbage");
    let mut legit = RawConnection::connect(&broker.addr()).unwrap();
    let baseline = legit_sends(&mut legit, &topic, LEGIT_SENDS);
    let mut bad: Vec<TcpStream> = Vec::new();
    for i in 0..scale(30) {
        let mut s = TcpStream::connect(broker.addr()).unwrap();
        let bytes: Vec<u8> = match i % 3 {
            // A length far over the frame limit.
            0 => u32::MAX.to_be_bytes().to_vec(),
            // A header length longer than the frame.
            1 => [8u32.to_be_bytes(), 4096u32.to_be_bytes(), [0; 4]].concat(),
            // A whole frame of garbage: unknown serialize type, random bytes.
            _ => {
                let mut frame = [508u32.to_be_bytes(), [0xFF; 4]].concat();
                frame.extend((0..504u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8));
                frame
            }
        };
        let _ = s.write_all(&bytes);
        bad.push(s);
    }
    let attacked = legit_sends(&mut legit, &topic, LEGIT_SENDS);
    for (i, s) in bad.iter_mut().enumerate() {
        assert!(closed_by_peer(s), "bad connection {i} was closed");
    }
    cluster
        .nameserver
        .wait_broker_registered(&broker.addr())
        .unwrap();
    report("garbage frames", baseline, attacked, broker);
}

#[test]
fn connections_beyond_the_per_address_limit_are_closed() {
    const LIMIT: usize = 8;
    let set = format!("connections_per_address_max={LIMIT}");
    let cluster = cluster_with(&[&set]);
    let broker = &cluster.brokers[0];
    let mut kept: Vec<RawConnection> = Vec::new();
    for _ in 0..LIMIT {
        let mut conn = RawConnection::connect(&broker.addr()).unwrap();
        // A served request proves the connection was admitted.
        let answer = conn
            .call(
                RemotingFrame::request(GET_ALL_TOPIC_CONFIG, &[]),
                CALL_TIMEOUT,
            )
            .unwrap();
        assert_eq!(answer.code, code::SUCCESS);
        kept.push(conn);
    }
    for _ in 0..scale(4) {
        let mut extra = TcpStream::connect(broker.addr()).unwrap();
        assert!(
            closed_by_peer(&mut extra),
            "a connection over the limit is closed"
        );
    }
    drop(kept.pop());
    // Its place is free again (the close is seen by the broker shortly).
    let deadline = Instant::now() + CLOSE_WAIT_MAX;
    loop {
        let mut conn = RawConnection::connect(&broker.addr()).unwrap();
        let answered = conn.call(
            RemotingFrame::request(GET_ALL_TOPIC_CONFIG, &[]),
            CALL_TIMEOUT,
        );
        if answered.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "a freed place is reused");
        std::thread::sleep(Duration::from_millis(100));
    }
}
