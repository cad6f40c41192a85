//! Broker lifecycle seen from outside: a graceful stop (SIGTERM) exits
//! cleanly and unregisters from the nameserver, a crashed broker is dropped
//! from the nameserver when its connection closes, and committed consumer
//! offsets and topics survive a graceful restart.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_tests::cluster::{REGISTRATION_WAIT_MAX, cluster_info};
use ringmq_tests::raw::{RawConnection, RemotingFrame, SendRequest, code};
use ringmq_tests::{Cluster, unique_name};
use std::time::{Duration, Instant};

/// Timeout of one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits (bounded) until the nameserver no longer lists `broker_addr`.
fn wait_broker_gone(namesrv: &str, broker_addr: &str) -> Result<(), String> {
    let deadline = Instant::now() + REGISTRATION_WAIT_MAX;
    let mut last = String::new();
    while Instant::now() < deadline {
        match cluster_info(namesrv) {
            Ok(info) if !info.contains(broker_addr) => return Ok(()),
            Ok(info) => last = info,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last)
}

#[test]
fn sigterm_stops_the_broker_cleanly_and_unregisters_it() {
    let mut cluster = Cluster::start(1).expect("cluster starts");
    let addr = cluster.brokers[0].addr();
    let status = cluster.brokers[0]
        .terminate()
        .expect("broker exits after SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    if let Err(last) = wait_broker_gone(&cluster.namesrv_addr(), &addr) {
        panic!(
            "nameserver still lists {addr} {REGISTRATION_WAIT_MAX:?} after a graceful stop: \
             {last}\n{}",
            cluster.log_tails()
        );
    }
}

#[test]
fn killed_broker_is_dropped_by_the_nameserver_when_its_connection_closes() {
    let mut cluster = Cluster::start(1).expect("cluster starts");
    let addr = cluster.brokers[0].addr();
    cluster.brokers[0].kill9().expect("kill -9");
    if let Err(last) = wait_broker_gone(&cluster.namesrv_addr(), &addr) {
        panic!(
            "nameserver still lists {addr} {REGISTRATION_WAIT_MAX:?} after kill -9: {last}\n{}",
            cluster.log_tails()
        );
    }
}

fn query_offset(
    conn: &mut RawConnection,
    group: &str,
    topic: &str,
    queue_id: i32,
) -> RemotingFrame {
    conn.call(
        RemotingFrame::request(
            code::QUERY_CONSUMER_OFFSET,
            &[
                ("consumerGroup", group.to_string()),
                ("topic", topic.to_string()),
                ("queueId", queue_id.to_string()),
            ],
        ),
        CALL_TIMEOUT,
    )
    .expect("QUERY_CONSUMER_OFFSET answered")
}

#[test]
fn committed_offsets_and_topics_survive_a_graceful_restart() {
    const SENT: i64 = 5;
    const COMMITTED: i64 = 3;
    let mut cluster = Cluster::start(1).expect("cluster starts");
    let topic = unique_name("Offsets");
    let group = unique_name("offsets_cg");
    cluster.create_topic(&topic, 2).expect("topic created");
    let addr = cluster.brokers[0].addr();
    let mut conn = RawConnection::connect(&addr).expect("connect");
    for seq in 0..SENT {
        let body = format!("offset-{seq}").into_bytes();
        let request = SendRequest {
            group: "offsets_pg",
            topic: &topic,
            queue_id: 1,
            body: &body,
            tag: None,
            properties: &[],
        };
        conn.send_message(&request, CALL_TIMEOUT)
            .expect("send acknowledged");
    }
    let update = conn
        .call(
            RemotingFrame::request(
                code::UPDATE_CONSUMER_OFFSET,
                &[
                    ("consumerGroup", group.clone()),
                    ("topic", topic.clone()),
                    ("queueId", "1".to_string()),
                    ("commitOffset", COMMITTED.to_string()),
                ],
            ),
            CALL_TIMEOUT,
        )
        .expect("UPDATE_CONSUMER_OFFSET answered");
    assert_eq!(update.code, code::SUCCESS, "{}", update.describe());
    let before = query_offset(&mut conn, &group, &topic, 1);
    assert_eq!(before.code, code::SUCCESS, "{}", before.describe());
    assert_eq!(before.field_i64("offset").unwrap(), COMMITTED);
    drop(conn);

    let status = cluster.brokers[0].terminate().expect("graceful stop");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    cluster.brokers[0]
        .restart()
        .expect("restart on the same data dir");

    let mut conn = RawConnection::connect(&addr).expect("connect after restart");
    let after = query_offset(&mut conn, &group, &topic, 1);
    assert_eq!(
        after.code,
        code::SUCCESS,
        "after restart: {}",
        after.describe()
    );
    assert_eq!(
        after.field_i64("offset").unwrap(),
        COMMITTED,
        "offset after restart"
    );
    let records = conn
        .pull_queue_to_end(&group, &topic, 1, 0, CALL_TIMEOUT)
        .expect("the topic still serves its messages after restart");
    assert_eq!(records.len(), usize::try_from(SENT).unwrap());
    cluster
        .nameserver
        .wait_route(&topic, &[cluster.brokers[0].name()])
        .expect("the topic is routed again after restart");
}
