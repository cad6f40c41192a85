//! `ringmq admin` against real processes: every command's `--json` output
//! is checked against what the test did to the cluster (topics created,
//! messages produced, offsets committed by a real consumer), and bad names
//! fail with one line and a non-zero exit.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Duration;

use ringmq_client::consumer::ConsumeFrom;
use ringmq_client::consumer::pull::PullConsumer;
use ringmq_client::producer::Producer;
use ringmq_client::{Message, MessageQueue};
use ringmq_tests::admin::{admin, admin_json};
use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

/// Rounds of a bounded wait for an asynchronous effect (a one-way commit).
const WAIT_ROUNDS: usize = 100;
const WAIT_STEP: Duration = Duration::from_millis(100);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sum(queues: &Value, field: &str) -> i64 {
    queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q[field].as_i64().unwrap())
        .sum()
}

/// Waits (bounded) until `consumer progress` shows `consumed` committed.
fn progress_with_consumed(namesrv: &str, group: &str, consumed: i64) -> Value {
    for _ in 0..WAIT_ROUNDS {
        let out = admin(namesrv, &["consumer", "progress", group]);
        if out.ok {
            let v: Value = serde_json::from_str(&out.stdout).unwrap();
            if sum(&v["queues"], "consumer_offset") == consumed {
                return v;
            }
        }
        std::thread::sleep(WAIT_STEP);
    }
    panic!("consumer progress of {group} never showed {consumed} consumed");
}

#[test]
fn admin_commands_report_what_the_cluster_holds() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let broker = cluster.brokers[0].name().to_owned();
    let topic = unique_name("AdminT");
    let group = unique_name("AdminG");

    // cluster list names the broker at its address.
    let clusters = admin_json(&ns, &["cluster", "list"]);
    let brokers = clusters["brokers"].as_array().unwrap();
    assert_eq!(brokers.len(), 1, "{clusters}");
    assert_eq!(brokers[0]["broker"], broker.as_str());
    assert_eq!(brokers[0]["addr"], cluster.brokers[0].addr().as_str());

    // topic create, then route and list see it.
    let created = admin_json(&ns, &["topic", "create", &topic, "--queues", "2"]);
    assert_eq!(created["queues"], 2);
    assert!(created["messageType"].is_null(), "{created}");
    let typed = unique_name("AdminTyped");
    let created = admin_json(&ns, &["topic", "create", &typed, "--message-type", "DELAY"]);
    assert_eq!(created["messageType"], "DELAY", "{created}");
    cluster
        .nameserver
        .wait_route(&topic, &[broker.as_str()])
        .expect("route registered");
    let route = admin_json(&ns, &["topic", "route", &topic]);
    assert_eq!(route["brokers"][0]["write_queues"], 2, "{route}");
    let list = admin_json(&ns, &["topic", "list"]);
    assert!(
        list["topics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == topic.as_str()),
        "{list}"
    );

    // 6 messages to queue 0 and 4 to queue 1; a consumer takes queue 1's 4.
    let rt = runtime();
    let first_offset_id = rt.block_on(async {
        let producer = Producer::builder(unique_name("AdminP"))
            .namesrv(&ns)
            .build()
            .unwrap();
        // send_to_queue needs the route: fetch it first.
        producer.queues(&topic).await.unwrap();
        let mut first = None;
        for i in 0..10 {
            let queue = MessageQueue::new(&topic, &broker, if i < 6 { 0 } else { 1 });
            let msg = Message::new(&topic, format!("body-{i}")).with_keys([format!("key-{i}")]);
            let sent = producer.send_to_queue(msg, &queue).await.unwrap();
            first.get_or_insert(sent.offset_msg_id);
        }
        producer.shutdown().await;
        first.unwrap()
    });
    rt.block_on(async {
        let consumer = PullConsumer::builder(group.as_str())
            .namesrv(&ns)
            .consume_from(ConsumeFrom::FirstOffset)
            .start()
            .unwrap();
        consumer
            .assign(vec![MessageQueue::new(&topic, &broker, 1)])
            .await
            .unwrap();
        let mut got = 0;
        for _ in 0..WAIT_ROUNDS {
            got += consumer.poll(WAIT_STEP).await.unwrap().len();
            if got >= 4 {
                break;
            }
        }
        assert_eq!(got, 4);
        consumer.commit().await;
        consumer.shutdown().await;
    });

    // topic status counts the 10 stored messages.
    let status = admin_json(&ns, &["topic", "status", &topic]);
    assert_eq!(status["messages"], 10, "{status}");

    // consumer progress: lag = produced - consumed, per queue and in total.
    let progress = progress_with_consumed(&ns, &group, 4);
    assert_eq!(progress["group"], group.as_str());
    assert_eq!(progress["total_lag"], 6, "{progress}");
    let queues: Vec<&Value> = progress["queues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["topic"] == topic.as_str())
        .collect();
    assert_eq!(queues.len(), 2, "{progress}");
    assert_eq!(queues[0]["broker_offset"], 6);
    assert_eq!(queues[0]["lag"], 6);
    assert_eq!(queues[1]["consumer_offset"], 4);
    assert_eq!(queues[1]["lag"], 0);
    assert!(queues[1]["last_timestamp"].as_i64().unwrap() > 0);

    // offset reset with the consumer stopped: committed directly.
    let reset = admin_json(&ns, &["offset", "reset", &group, &topic, "--to-earliest"]);
    assert_eq!(reset["applied_by"], "committed", "{reset}");
    let progress = progress_with_consumed(&ns, &group, 0);
    assert_eq!(progress["total_lag"], 10, "{progress}");
    admin_json(&ns, &["offset", "reset", &group, &topic, "--to-latest"]);
    let progress = progress_with_consumed(&ns, &group, 10);
    assert_eq!(progress["total_lag"], 0, "{progress}");

    // messages by key, by queue offset, by offset message id.
    let by_key = admin_json(
        &ns,
        &["message", "query", "--topic", &topic, "--key", "key-7"],
    );
    let found = by_key["messages"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{by_key}");
    assert_eq!(found[0]["body"], "body-7");
    assert_eq!(found[0]["queue_id"], 1);
    let at = admin_json(
        &ns,
        &[
            "message", "query", "--topic", &topic, "--queue", "0", "--offset", "2", "--count", "3",
        ],
    );
    let bodies: Vec<&str> = at["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["body-2", "body-3", "body-4"]);
    let by_id = admin_json(&ns, &["message", "get", &first_offset_id]);
    assert_eq!(by_id["messages"][0]["body"], "body-0", "{by_id}");

    // broker status and config come from the broker's own tables.
    let status = admin_json(&ns, &["broker", "status"]);
    let runtime_table = &status["brokers"][broker.as_str()]["runtime"];
    assert!(runtime_table["brokerVersionDesc"].is_string(), "{status}");
    let disk: f64 = runtime_table["commitLogDiskRatio"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..=1.0).contains(&disk), "{status}");
    let config = admin_json(&ns, &["broker", "config", "get", "brokerName"]);
    assert_eq!(config[broker.as_str()]["brokerName"], broker.as_str());

    // group list / config / create / delete.
    let made = unique_name("AdminMade");
    admin_json(&ns, &["group", "create", &made, "--retry-max-times", "3"]);
    let conf = admin_json(&ns, &["group", "config", &made]);
    assert_eq!(conf[broker.as_str()]["retryMaxTimes"], 3, "{conf}");
    let groups = admin_json(&ns, &["group", "list"]);
    assert!(groups["groups"].get(made.as_str()).is_some(), "{groups}");
    admin_json(&ns, &["group", "delete", &made]);
    assert!(!admin(&ns, &["group", "config", &made]).ok);

    // topic delete removes it from broker and nameserver.
    admin_json(&ns, &["topic", "delete", &topic]);
    assert!(!admin(&ns, &["topic", "route", &topic]).ok);
}

#[test]
fn bad_names_and_addresses_fail_with_one_line() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    for argv in [
        vec!["consumer", "progress", "NoSuchGroup"],
        vec!["topic", "status", "NoSuchTopic"],
        vec!["topic", "route", "NoSuchTopic"],
        vec![
            "offset",
            "reset",
            "NoSuchGroup",
            "NoSuchTopic",
            "--to-latest",
        ],
        vec!["broker", "status", "--broker", "nobody"],
        vec!["topic", "create", "bad topic name"],
    ] {
        let out = admin(&ns, &argv);
        assert!(!out.ok, "{argv:?} succeeded: {}", out.stdout);
        assert!(out.stdout.is_empty(), "{argv:?} printed {}", out.stdout);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{argv:?}: {}",
            out.stderr
        );
    }
    let out = admin("127.0.0.1:1", &["cluster", "list"]);
    assert!(!out.ok);
    assert!(out.stderr.contains("127.0.0.1:1"), "{}", out.stderr);
}

/// `offset reset` with a push consumer online: the broker tells it
/// (RESET_CONSUMER_CLIENT_OFFSET), it stores the new offsets and starts its
/// queues again from there, so every message is consumed a second time.
#[test]
fn offset_reset_moves_an_online_push_consumer() {
    use ringmq_client::consumer::ConsumeResult;
    use ringmq_client::consumer::push::PushConsumer;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    const MESSAGES: usize = 10;
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let topic = unique_name("ResetT");
    let group = unique_name("ResetG");
    cluster.create_topic(&topic, 2).expect("topic created");
    let seen: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let rt = runtime();
    let consumer = rt.block_on(async {
        let producer = Producer::builder(unique_name("ResetP"))
            .namesrv(&ns)
            .build()
            .unwrap();
        for i in 0..MESSAGES {
            producer
                .send(Message::new(&topic, format!("body-{i}")))
                .await
                .unwrap();
        }
        producer.shutdown().await;
        let seen = seen.clone();
        PushConsumer::builder(group.as_str())
            .namesrv(&ns)
            .subscribe(topic.as_str(), "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .listener(move |msgs| {
                let mut seen = seen.lock().unwrap();
                for msg in &msgs {
                    let body = String::from_utf8_lossy(&msg.body).into_owned();
                    *seen.entry(body).or_default() += 1;
                }
                async { ConsumeResult::Success }
            })
            .start()
            .await
            .unwrap()
    });
    let wait_for = |times: usize| {
        for _ in 0..WAIT_ROUNDS * 3 {
            let seen = seen.lock().unwrap();
            if seen.len() == MESSAGES && seen.values().all(|n| *n >= times) {
                return;
            }
            drop(seen);
            std::thread::sleep(WAIT_STEP);
        }
        panic!(
            "not every message consumed {times} time(s): {:?}",
            seen.lock().unwrap()
        );
    };
    wait_for(1);
    // Everything consumed once is committed before the reset asks.
    progress_with_consumed(&ns, &group, MESSAGES as i64);
    let reset = admin_json(&ns, &["offset", "reset", &group, &topic, "--to-earliest"]);
    assert_eq!(reset["applied_by"], "consumers", "{reset}");
    wait_for(2);
    rt.block_on(consumer.shutdown());
}
