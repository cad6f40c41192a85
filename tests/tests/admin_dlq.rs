//! `ringmq admin dlq` against real processes: messages a consumer keeps
//! failing reach `%DLQ%<group>` (write-only, as a 4.x broker creates it),
//! `dlq list` shows them with their original topic and body, and `dlq
//! resend` puts each back on its topic exactly once, however often it is
//! run, including after a run "killed" between a send and its commit.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringmq_client::Message;
use ringmq_client::admin::Admin;
use ringmq_client::admin::remedy::{DLQ_SOURCE_PROPERTY, resend_group};
use ringmq_client::consumer::push::PushConsumer;
use ringmq_client::consumer::{ConsumeFrom, ConsumeResult, MessageExt};
use ringmq_client::producer::Producer;
use ringmq_tests::admin::{admin, admin_json};
use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

/// Messages that go dead.
const DEAD: usize = 5;
/// Rounds of a bounded wait, and their step.
const WAIT_ROUNDS: usize = 600;
const WAIT_STEP: Duration = Duration::from_millis(100);
/// How long to keep watching for a duplicate after everything arrived.
const SETTLE: Duration = Duration::from_secs(3);

fn dead_letters(namesrv: &str, group: &str) -> Vec<Value> {
    let v = admin_json(namesrv, &["dlq", "list", group, "--limit", "100"]);
    v["dead_letters"].as_array().unwrap().clone()
}

/// Resent copies received, by body.
type Copies = Arc<Mutex<BTreeMap<String, Vec<MessageExt>>>>;

async fn copies_consumer(namesrv: &str, group: &str, topic: &str, copies: Copies) -> PushConsumer {
    PushConsumer::builder(group)
        .namesrv(namesrv)
        .subscribe(topic, "*")
        .consume_from(ConsumeFrom::FirstOffset)
        .pull_suspend(Duration::from_secs(1))
        .listener(move |msgs: Vec<MessageExt>| {
            let copies = copies.clone();
            async move {
                for m in msgs {
                    if m.property(DLQ_SOURCE_PROPERTY).is_some() {
                        let body = String::from_utf8_lossy(&m.body).into_owned();
                        copies.lock().unwrap().entry(body).or_default().push(m);
                    }
                }
                ConsumeResult::Success
            }
        })
        .start()
        .await
        .unwrap()
}

#[test]
fn dead_letters_are_listed_and_resent_exactly_once() {
    let cluster = Cluster::start_with(1, |o| {
        o.extra_args = vec![
            "--set".into(),
            "message_delay_level=1s 1s 1s 1s 1s 1s".into(),
        ];
    })
    .expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let topic = unique_name("DlqT");
    let group = unique_name("DlqG");
    let dlq = format!("%DLQ%{group}");
    cluster.create_topic(&topic, 2).unwrap();
    let rt = common::test_runtime();

    // Every delivery fails; after 1 retry each message goes dead.
    let failing = rt.block_on(async {
        let producer = Producer::builder(unique_name("DlqP"))
            .namesrv(&ns)
            .build()
            .unwrap();
        for i in 0..DEAD {
            let msg = Message::new(&topic, format!("dead-{i}"))
                .with_keys([format!("key-{i}")])
                .with_tags("tg")
                .with_property("seq", i.to_string());
            producer.send(msg).await.unwrap();
        }
        producer.shutdown().await;
        PushConsumer::builder(group.as_str())
            .namesrv(&ns)
            .subscribe(&topic, "*")
            .consume_from(ConsumeFrom::FirstOffset)
            .max_reconsume_times(1)
            .pull_suspend(Duration::from_secs(1))
            .listener(|_msgs: Vec<MessageExt>| async { ConsumeResult::ReconsumeLater })
            .start()
            .await
            .unwrap()
    });
    let mut letters = Vec::new();
    for _ in 0..WAIT_ROUNDS {
        let run = admin(&ns, &["dlq", "list", &group]);
        if run.ok {
            let v: Value = serde_json::from_str(&run.stdout).unwrap();
            letters = v["dead_letters"].as_array().unwrap().clone();
            if letters.len() >= DEAD {
                break;
            }
        }
        std::thread::sleep(WAIT_STEP);
    }
    rt.block_on(failing.shutdown());
    assert_eq!(letters.len(), DEAD, "dead letters: {letters:?}");

    // dlq list: original topic, body, keys, tags, user property; not resent.
    let mut bodies: Vec<String> = Vec::new();
    for d in &letters {
        assert_eq!(d["original_topic"], topic.as_str(), "{d}");
        let body = d["body"].as_str().unwrap().to_owned();
        let i = body.strip_prefix("dead-").unwrap();
        assert_eq!(d["keys"], format!("key-{i}").as_str(), "{d}");
        assert_eq!(d["tags"], "tg", "{d}");
        assert_eq!(d["properties"]["seq"], i, "{d}");
        // Two deliveries, each sent back: 2.
        assert_eq!(d["reconsume_times"], 2, "{d}");
        assert_eq!(d["resent"], false, "{d}");
        bodies.push(body);
    }
    bodies.sort();
    let expected: Vec<String> = (0..DEAD).map(|i| format!("dead-{i}")).collect();
    assert_eq!(bodies, expected);
    // Listing did not leave the DLQ readable: a pull is still refused.
    rt.block_on(async {
        let admin = Admin::new(&ns);
        let broker = &cluster.brokers[0];
        let queue = ringmq_net::body::MessageQueue::new(&dlq, broker.name(), 0);
        let refused = admin
            .pull(&broker.addr(), &queue, "TOOLS_CONSUMER", 0, 1)
            .await;
        assert!(
            matches!(
                refused,
                Err(ringmq_client::admin::AdminError::Refused { code: 16, .. })
            ),
            "the DLQ stays write-only: {refused:?}"
        );
        admin.shutdown();
    });

    let copies: Copies = Arc::default();
    let watcher = rt.block_on(copies_consumer(
        &ns,
        &unique_name("DlqW"),
        &topic,
        copies.clone(),
    ));

    // --id resends one (not the first: the %RESEND% offset cannot cover it,
    // so --all must find its copy on the topic).
    assert_eq!(letters[2]["offset"], 2);
    let first = letters[2]["msg_id"].as_str().unwrap().to_owned();
    let one = admin_json(&ns, &["dlq", "resend", &group, "--id", &first]);
    assert_eq!(
        (
            one["resent"].as_u64(),
            one["skipped_already_resent"].as_u64()
        ),
        (Some(1), Some(0)),
        "{one}"
    );
    // --all resends the rest, not that one again.
    let all = admin_json(&ns, &["dlq", "resend", &group, "--all"]);
    assert_eq!(all["resent"].as_u64(), Some(DEAD as u64 - 1), "{all}");
    assert_eq!(all["skipped_already_resent"].as_u64(), Some(1), "{all}");
    assert_eq!(all["failed"].as_array().unwrap().len(), 0, "{all}");
    // Run again: nothing more.
    let again = admin_json(&ns, &["dlq", "resend", &group, "--all"]);
    assert_eq!(
        (
            again["resent"].as_u64(),
            again["skipped_already_resent"].as_u64()
        ),
        (Some(0), Some(0)),
        "{again}"
    );
    let again_id = admin_json(&ns, &["dlq", "resend", &group, "--id", &first]);
    assert_eq!(
        (
            again_id["resent"].as_u64(),
            again_id["skipped_already_resent"].as_u64()
        ),
        (Some(0), Some(1)),
        "{again_id}"
    );

    // A run killed after its sends but before any commit: the %RESEND%
    // offset is put back to the start; the re-run finds every copy on the
    // topic and sends none.
    rt.block_on(async {
        let admin = Admin::new(&ns);
        let broker = cluster.brokers[0].addr();
        admin
            .commit_offset(&broker, &resend_group(&group), &dlq, 0, 0)
            .await
            .unwrap();
        admin.shutdown();
    });
    let after_kill = admin_json(&ns, &["dlq", "resend", &group, "--all"]);
    assert_eq!(after_kill["resent"].as_u64(), Some(0), "{after_kill}");
    assert_eq!(
        after_kill["skipped_already_resent"].as_u64(),
        Some(DEAD as u64),
        "{after_kill}"
    );
    assert!(
        dead_letters(&ns, &group)
            .iter()
            .all(|d| d["resent"] == true)
    );

    // The topic's consumer got each dead letter back exactly once, as sent.
    for _ in 0..WAIT_ROUNDS {
        if copies.lock().unwrap().len() >= DEAD {
            break;
        }
        std::thread::sleep(WAIT_STEP);
    }
    std::thread::sleep(SETTLE);
    rt.block_on(watcher.shutdown());
    let copies = copies.lock().unwrap();
    assert_eq!(
        copies.keys().cloned().collect::<Vec<_>>(),
        expected,
        "distinct resent bodies"
    );
    assert_eq!(
        copies.values().map(Vec::len).sum::<usize>(),
        DEAD,
        "total resent deliveries"
    );
    for (body, got) in copies.iter() {
        let m = &got[0];
        let i = body.strip_prefix("dead-").unwrap();
        assert_eq!(m.topic, topic);
        assert_eq!(m.reconsume_times, 0, "reconsume count reset");
        assert_eq!(m.keys(), vec![format!("key-{i}")]);
        assert_eq!(m.tags(), Some("tg"));
        assert_eq!(m.property("seq"), Some(i));
        assert!(
            m.property("ORIGIN_MESSAGE_ID").is_some(),
            "ORIGIN_MESSAGE_ID kept"
        );
        assert!(
            m.property("RETRY_TOPIC").is_none(),
            "retry bookkeeping dropped"
        );
    }
}

#[test]
fn a_group_without_dead_letters_lists_none_and_bad_names_fail() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    assert!(dead_letters(&ns, &unique_name("NoDlq")).is_empty());
    let run = admin(&ns, &["dlq", "list", "bad name"]);
    assert!(!run.ok && run.stderr.contains("group"), "{}", run.stderr);
    let run = admin(&ns, &["dlq", "resend", &unique_name("NoDlq"), "--id", "x"]);
    assert!(
        !run.ok && run.stderr.contains("no dead letter"),
        "{}",
        run.stderr
    );
}
