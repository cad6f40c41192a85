//! Requests whose bodies carry bad names, bounded tables, and a broker's
//! disk: raw frames against real `ringmq broker` and `ringmq nameserver`
//! processes.
//!
//! - `ringmq broker` does not auto-create topics or groups unless told,
//!   and `topics_max` / `subscription_groups_max` bound its tables;
//! - names inside LOCK_BATCH_MQ, UNLOCK_BATCH_MQ, the subscription-group
//!   body and a REGISTER_BROKER topic table are checked like header names,
//!   refused with SYSTEM_ERROR and a remark naming the field, and the
//!   broker stays routable;
//! - a store that refuses writes (disk above `disk_usage_max_percent`,
//!   driven by `disk_usage_file`) is registered without the write bit, and
//!   with it again once space returns;
//! - a disk above `disk_max_used_space_percent` deletes the oldest
//!   segment, a consumer behind it is told PULL_OFFSET_MOVED with the new
//!   minimum, writes are refused above the limit and resume by themselves;
//! - a table of thousands of topics is registered in parts and routed whole;
//! - a segment truncated under a running broker fails the pull, not the
//!   process.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ringmq_net::code::{request, response};
use ringmq_tests::raw::{RawConnection, RemotingFrame, SendRequest, pull_message_frame};
use ringmq_tests::{Broker, Cluster, unique_name};

/// Timeout of one request.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a registration or a disk watch to take effect.
const CHANGE_WAIT_MAX: Duration = Duration::from_secs(40);
/// Poll period of those waits.
const POLL: Duration = Duration::from_millis(100);

fn cluster_with(sets: &[String], auto_create: bool) -> Cluster {
    Cluster::start_with(1, |options| {
        options.auto_create = auto_create;
        for set in sets {
            options.extra_args.push("--set".into());
            options.extra_args.push(set.clone());
        }
    })
    .expect("cluster starts")
}

fn call(addr: &str, frame: RemotingFrame) -> RemotingFrame {
    RawConnection::connect(addr)
        .unwrap()
        .call(frame, CALL_TIMEOUT)
        .unwrap()
}

fn with_body(code: i32, fields: &[(&str, String)], body: serde_json::Value) -> RemotingFrame {
    let mut frame = RemotingFrame::request(code, fields);
    frame.body = serde_json::to_vec(&body).unwrap();
    frame
}

fn send(addr: &str, topic: &str, body: &[u8]) -> RemotingFrame {
    call(
        addr,
        ringmq_tests::raw::send_message_frame(&SendRequest {
            group: "bodies_pg",
            topic,
            queue_id: 0,
            body,
            tag: None,
            properties: &[],
        }),
    )
}

fn pull(addr: &str, group: &str, topic: &str, offset: i64) -> RemotingFrame {
    call(
        addr,
        pull_message_frame(&ringmq_tests::raw::PullRequest {
            group,
            topic,
            queue_id: 0,
            queue_offset: offset,
            max_msg_nums: 32,
            suspend_ms: None,
        }),
    )
}

fn create_group(addr: &str, group: &str) -> RemotingFrame {
    call(
        addr,
        with_body(
            request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
            &[],
            serde_json::json!({"groupName": group, "consumeEnable": true}),
        ),
    )
}

fn assert_refused(answer: &RemotingFrame, code: i32, remark_has: &str) {
    assert_eq!(answer.code, code, "{}", answer.describe());
    let remark = answer.remark.clone().unwrap_or_default();
    assert!(
        remark.contains(remark_has),
        "{remark:?} lacks {remark_has:?}"
    );
}

/// The `perm` of `broker`'s queue data in the nameserver's route of `topic`.
fn route_perm(cluster: &Cluster, topic: &str) -> Option<i64> {
    let route = cluster.nameserver.route(topic).ok()?;
    if route.code != response::SUCCESS {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&route.body).ok()?;
    body["queueDatas"][0]["perm"].as_i64()
}

/// Waits (bounded) until `check` holds; panics with `what` otherwise.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + CHANGE_WAIT_MAX;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(POLL);
    }
    panic!("{what} did not happen within {CHANGE_WAIT_MAX:?}");
}

/// A broker that stays routable: a new topic reaches the nameserver.
fn assert_routable(cluster: &Cluster) {
    let topic = unique_name("StillRoutable");
    cluster.create_topic(&topic, 1).expect("still routable");
    cluster
        .nameserver
        .wait_broker_registered(&cluster.brokers[0].addr())
        .expect("still registered");
}

#[test]
fn broker_defaults_refuse_auto_create_and_tables_are_bounded() {
    let cluster = cluster_with(
        &["topics_max=40".into(), "subscription_groups_max=2".into()],
        false,
    );
    let addr = cluster.brokers[0].addr();
    let answer = send(&addr, &unique_name("NeverCreated"), b"x");
    assert_refused(&answer, response::TOPIC_NOT_EXIST, "disabled");

    let topic = unique_name("Bounded");
    cluster.create_topic(&topic, 1).unwrap();
    let answer = pull(&addr, "nobody_cg", &topic, 0);
    assert_refused(
        &answer,
        response::SUBSCRIPTION_GROUP_NOT_EXIST,
        "auto_create_subscription_group",
    );
    assert_eq!(create_group(&addr, "g_one").code, response::SUCCESS);
    assert_eq!(create_group(&addr, "g_two").code, response::SUCCESS);
    let answer = create_group(&addr, "g_three");
    assert_refused(&answer, response::SYSTEM_ERROR, "subscription_groups_max");
    assert_eq!(
        create_group(&addr, "g_one").code,
        response::SUCCESS,
        "updates pass"
    );

    let mut created = 0;
    let refusal = loop {
        let answer = call(
            &addr,
            RemotingFrame::request(
                request::UPDATE_AND_CREATE_TOPIC,
                &[
                    ("topic", format!("{topic}_{created}")),
                    ("defaultTopic", "TBW102".into()),
                    ("readQueueNums", "1".into()),
                    ("writeQueueNums", "1".into()),
                    ("perm", "6".into()),
                    ("topicFilterType", "SINGLE_TAG".into()),
                    ("topicSysFlag", "0".into()),
                    ("order", "false".into()),
                ],
            ),
        );
        if answer.code != response::SUCCESS {
            break answer;
        }
        created += 1;
        assert!(created <= 40, "topics_max=40 never refused");
    };
    assert_refused(&refusal, response::SYSTEM_ERROR, "topics_max");
    println!("[bodies] topics_max=40: {created} created beside the system topics, then refused");
    // Full, but still registered and routing what it holds.
    let last = format!("{topic}_{}", created - 1);
    cluster
        .nameserver
        .wait_route(&last, &[cluster.brokers[0].name()])
        .unwrap();
    cluster.nameserver.wait_broker_registered(&addr).unwrap();
}

#[test]
fn standalone_style_brokers_still_auto_create() {
    let cluster = cluster_with(&[], true);
    let addr = cluster.brokers[0].addr();
    let topic = unique_name("AutoMade");
    assert_eq!(send(&addr, &topic, b"x").code, response::SUCCESS);
    assert_eq!(pull(&addr, "auto_cg", &topic, 0).code, response::SUCCESS);
}

#[test]
fn names_inside_bodies_are_refused_and_the_broker_stays_routable() {
    let cluster = cluster_with(&[], true);
    let addr = cluster.brokers[0].addr();
    let broker_name = cluster.brokers[0].name().to_string();
    let queue =
        |topic: &str| serde_json::json!({"topic": topic, "brokerName": broker_name, "queueId": 0});
    let lock_body = |group: &str, client: &str, queues: Vec<serde_json::Value>| serde_json::json!({"consumerGroup": group, "clientId": client, "mqSet": queues});
    let cases = [
        (
            request::LOCK_BATCH_MQ,
            lock_body("bad group", "127.0.0.1@c", vec![queue("T")]),
            "consumerGroup",
        ),
        (
            request::LOCK_BATCH_MQ,
            lock_body("cg", "", vec![queue("T")]),
            "clientId",
        ),
        (
            request::LOCK_BATCH_MQ,
            lock_body("cg", "127.0.0.1@c", vec![queue("a/b")]),
            "mqSet.topic",
        ),
        (
            request::UNLOCK_BATCH_MQ,
            lock_body("cg", "127.0.0.1@c", vec![queue(&"t".repeat(128))]),
            "mqSet.topic",
        ),
        (
            request::LOCK_BATCH_MQ,
            lock_body(
                "cg",
                "127.0.0.1@c",
                (0..=ringmq_net::validate::QUEUE_BATCH_MAX as i64)
                    .map(|q| serde_json::json!({"topic": "T", "brokerName": "b", "queueId": q}))
                    .collect(),
            ),
            "queues in mqSet",
        ),
        (
            request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
            serde_json::json!({"groupName": "g with spaces"}),
            "groupName",
        ),
        (
            request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
            serde_json::json!({"groupName": "G".repeat(121)}),
            "120 bytes",
        ),
    ];
    for (code, body, field) in cases {
        let answer = call(&addr, with_body(code, &[], body));
        assert_refused(&answer, response::SYSTEM_ERROR, field);
        assert!(
            answer.remark.unwrap_or_default().len() < 512,
            "names are not echoed whole"
        );
    }
    // A legal lock is granted.
    let topic = unique_name("Lockable");
    cluster.create_topic(&topic, 1).unwrap();
    let answer = call(
        &addr,
        with_body(
            request::LOCK_BATCH_MQ,
            &[],
            lock_body("cg", "127.0.0.1@c", vec![queue(&topic)]),
        ),
    );
    assert_eq!(answer.code, response::SUCCESS, "{}", answer.describe());
    assert!(String::from_utf8_lossy(&answer.body).contains(&topic));

    // The nameserver checks the topic table of a registration and header names.
    let ns = cluster.namesrv_addr();
    let register = with_body(
        request::REGISTER_BROKER,
        &[
            ("brokerName", "intruder".into()),
            ("brokerAddr", "127.0.0.1:1".into()),
            ("clusterName", cluster.name.clone()),
            ("haServerAddr", "127.0.0.1:2".into()),
            ("brokerId", "0".into()),
            ("compressed", "false".into()),
            ("bodyCrc32", "0".into()),
        ],
        serde_json::json!({
            "topicConfigSerializeWrapper": {
                "dataVersion": {"counter": 1, "timestamp": 1},
                "topicConfigTable": {"bad topic": {
                    "topicName": "bad topic", "readQueueNums": 1, "writeQueueNums": 1, "perm": 6
                }}
            },
            "filterServerList": []
        }),
    );
    let answer = call(&ns, register);
    assert_refused(&answer, response::SYSTEM_ERROR, "topicConfigTable");
    assert!(
        !cluster
            .nameserver
            .cluster_info()
            .unwrap()
            .contains("intruder")
    );
    let answer = call(
        &ns,
        RemotingFrame::request(
            request::GET_ROUTEINFO_BY_TOPIC,
            &[("topic", "x".repeat(200))],
        ),
    );
    assert_refused(&answer, response::SYSTEM_ERROR, "127 bytes");
    assert_routable(&cluster);
}

fn set_usage(path: &Path, percent: u8) {
    std::fs::write(path, percent.to_string()).unwrap();
}

fn disk_cluster(usage_file: &Path, extra: &[&str]) -> Cluster {
    set_usage(usage_file, 10);
    let mut sets = vec![
        format!("disk_usage_file={}", usage_file.display()),
        "disk_usage_max_percent=90".into(),
        "disk_max_used_space_percent=75".into(),
        "shards=1".into(),
    ];
    sets.extend(extra.iter().map(|s| (*s).to_string()));
    cluster_with(&sets, false)
}

#[test]
fn a_store_refusing_writes_is_registered_not_writable_until_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let usage = dir.path().join("usage");
    let cluster = disk_cluster(&usage, &[]);
    let addr = cluster.brokers[0].addr();
    let topic = unique_name("ReadOnlyRoute");
    cluster.create_topic(&topic, 2).unwrap();
    assert_eq!(route_perm(&cluster, &topic), Some(6));
    assert_eq!(send(&addr, &topic, b"before").code, response::SUCCESS);

    set_usage(&usage, 95);
    wait_until("the route losing its write bit", || {
        route_perm(&cluster, &topic) == Some(4)
    });
    let refused = send(&addr, &topic, b"while full");
    assert_ne!(refused.code, response::SUCCESS, "{}", refused.describe());
    println!(
        "[bodies] disk 95% > 90%: route perm 4, send answered {} {:?}",
        refused.code, refused.remark
    );

    set_usage(&usage, 10);
    wait_until("the route getting its write bit back", || {
        route_perm(&cluster, &topic) == Some(6)
    });
    assert_eq!(send(&addr, &topic, b"after").code, response::SUCCESS);
}

/// The commit-log segment files of shard 0, sorted.
fn segments(broker: &Broker) -> Vec<PathBuf> {
    let dir = broker.process.dir().join("data/shard-0/commitlog");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn a_full_disk_deletes_the_oldest_segment_then_refuses_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let usage = dir.path().join("usage");
    let cluster = disk_cluster(
        &usage,
        &["segment_bytes=8388608", "message_bytes_max=1048576"],
    );
    let broker = &cluster.brokers[0];
    let addr = broker.addr();
    let topic = unique_name("FullDisk");
    cluster.create_topic(&topic, 1).unwrap();
    assert_eq!(create_group(&addr, "full_cg").code, response::SUCCESS);
    // 40 x 256 KiB: the first 8 MiB segment fills and a second is written.
    let body = vec![b'f'; 256 * 1024];
    for _ in 0..40 {
        let answer = send(&addr, &topic, &body);
        assert_eq!(answer.code, response::SUCCESS, "{}", answer.describe());
    }
    let first = segments(broker)[0].clone();
    assert!(first.ends_with("00000000000000000000"), "{first:?}");
    assert_eq!(pull(&addr, "full_cg", &topic, 0).code, response::SUCCESS);

    set_usage(&usage, 80);
    wait_until("the oldest segment being deleted early", || !first.exists());
    let behind = pull(&addr, "full_cg", &topic, 0);
    assert_eq!(
        behind.code,
        response::PULL_OFFSET_MOVED,
        "{}",
        behind.describe()
    );
    let min = behind.field_i64("minOffset").unwrap();
    assert!(min > 0 && behind.field_i64("nextBeginOffset").unwrap() == min);
    assert_eq!(pull(&addr, "full_cg", &topic, min).code, response::SUCCESS);
    println!("[bodies] disk 80% > 75%: segment 0 deleted, consumer at 0 moved to {min}");

    set_usage(&usage, 95);
    let refused = {
        let mut answer = send(&addr, &topic, b"full");
        let deadline = Instant::now() + CHANGE_WAIT_MAX;
        while answer.code == response::SUCCESS && Instant::now() < deadline {
            std::thread::sleep(POLL);
            answer = send(&addr, &topic, b"full");
        }
        answer
    };
    assert_refused(&refused, response::SERVICE_NOT_AVAILABLE, "disk usage 95%");
    set_usage(&usage, 40);
    wait_until("writes resuming", || {
        send(&addr, &topic, b"resumed").code == response::SUCCESS
    });
    assert!(broker.process.dir().join("data").exists());
}

#[test]
fn thousands_of_topics_are_registered_in_parts_and_all_routed() {
    const TOPICS: usize = 3_000;
    let mut cluster = cluster_with(&[], false);
    let broker = &mut cluster.brokers[0];
    broker.terminate().unwrap();
    let table: serde_json::Map<String, serde_json::Value> = (0..TOPICS)
        .map(|i| {
            let name = format!("Split{i:05}");
            let config = serde_json::json!({
                "topicName": name, "readQueueNums": 2, "writeQueueNums": 2, "perm": 6,
                "topicFilterType": "SINGLE_TAG", "topicSysFlag": 0, "order": false
            });
            (name, config)
        })
        .collect();
    let topics = serde_json::json!({
        "dataVersion": {"counter": 1, "timestamp": 1},
        "topicConfigTable": table
    });
    let config_dir = broker.process.dir().join("data/config");
    std::fs::write(config_dir.join("topics.json"), topics.to_string()).unwrap();
    broker.restart().unwrap();
    let ns = cluster.namesrv_addr();
    let mut listed = 0;
    wait_until("every topic listed by the nameserver", || {
        let answer = call(
            &ns,
            RemotingFrame::request(request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER, &[]),
        );
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let names = body["topicList"].as_array().cloned().unwrap_or_default();
        listed = names
            .iter()
            .filter(|n| n.as_str().is_some_and(|n| n.starts_with("Split")))
            .count();
        listed == TOPICS
    });
    for i in [0, 799, 800, 1_600, TOPICS - 1] {
        assert_eq!(
            route_perm(&cluster, &format!("Split{i:05}")),
            Some(6),
            "topic {i}"
        );
    }
    println!("[bodies] {TOPICS} topics registered in parts of 800: {listed} routed");
}

#[test]
fn a_segment_truncated_under_a_running_broker_fails_the_pull_not_the_process() {
    let mut cluster = cluster_with(&["shards=1".into()], true);
    let addr = cluster.brokers[0].addr();
    let topic = unique_name("Truncated");
    for i in 0..10 {
        let body = format!("m{i}");
        assert_eq!(send(&addr, &topic, body.as_bytes()).code, response::SUCCESS);
    }
    assert_eq!(pull(&addr, "trunc_cg", &topic, 0).code, response::SUCCESS);
    let segment = segments(&cluster.brokers[0])[0].clone();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(0)
        .unwrap();
    let answer = pull(&addr, "trunc_cg", &topic, 0);
    assert_refused(&answer, response::PULL_RETRY_IMMEDIATELY, "truncated");
    assert!(
        cluster.brokers[0].process.is_running(),
        "the broker survived"
    );
    let other = unique_name("AfterTruncation");
    assert_eq!(
        send(&addr, &other, b"still serving").code,
        response::SUCCESS
    );
    println!(
        "[bodies] truncated segment: pull answered {} {:?}",
        answer.code, answer.remark
    );
}
