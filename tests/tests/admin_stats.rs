//! VIEW_BROKER_STATS_DATA (315) and GET_BROKER_CONSUME_STATS (317)
//! against a real broker, through `ringmq admin broker stats` and
//! `broker consume-stats` and the admin API: after N messages sent to a
//! fresh topic and M of them pulled and committed by a group, the topic's
//! put count and the pair's get count are exactly N and M in every window
//! (a fresh broker's windows start at zero), the broker's put count holds
//! at least N, an unknown key or name is refused with Java's remark, and
//! the group's backlog is N − M.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_client::Message;
use ringmq_client::admin::Admin;
use ringmq_client::producer::Producer;
use ringmq_net::body::MessageQueue;
use ringmq_tests::admin::{admin, admin_json};
use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

const SENT: i64 = 7;
const CONSUMED: i64 = 3;
const BODY: usize = 50;

fn stats(namesrv: &str, broker: &str, name: &str, key: &str) -> Value {
    let out = admin_json(
        namesrv,
        &[
            "broker", "stats", "--name", name, "--key", key, "--broker", broker,
        ],
    );
    out[broker].clone()
}

#[test]
fn stats_data_counts_puts_and_gets_and_consume_stats_shows_the_backlog() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let broker = cluster.brokers[0].name().to_owned();
    let addr = cluster.brokers[0].addr();
    let topic = unique_name("StatsT");
    let group = unique_name("StatsG");
    cluster.create_topic(&topic, 1).unwrap();
    let created = admin(&ns, &["group", "create", &group]);
    assert!(created.ok, "{}", created.stderr);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = Admin::new(&ns);
    rt.block_on(async {
        let producer = Producer::builder(unique_name("StatsP"))
            .namesrv(&ns)
            .build()
            .unwrap();
        for _ in 0..SENT {
            producer
                .send(Message::new(&topic, vec![b'x'; BODY]))
                .await
                .unwrap();
        }
        producer.shutdown().await;
        let queue = MessageQueue::new(&topic, &broker, 0);
        let pulled = api
            .pull(&addr, &queue, &group, 0, CONSUMED as i32)
            .await
            .unwrap();
        assert_eq!(pulled.messages.len() as i64, CONSUMED);
        api.commit_offset(&addr, &group, &topic, 0, CONSUMED)
            .await
            .unwrap();
    });

    let put = stats(&ns, &broker, "TOPIC_PUT_NUMS", &topic);
    for window in ["statsMinute", "statsHour", "statsDay"] {
        assert_eq!(put[window]["sum"], SENT, "{window}: {put}");
        assert!(put[window]["tps"].as_f64().unwrap() >= 0.0, "{put}");
    }
    let size = stats(&ns, &broker, "TOPIC_PUT_SIZE", &topic);
    assert!(
        size["statsMinute"]["sum"].as_i64().unwrap() >= SENT * BODY as i64,
        "{size}"
    );
    let pair = format!("{topic}@{group}");
    let got = stats(&ns, &broker, "GROUP_GET_NUMS", &pair);
    for window in ["statsMinute", "statsHour", "statsDay"] {
        assert_eq!(got[window]["sum"], CONSUMED, "{window}: {got}");
    }
    let cluster_name = cluster.brokers[0].options.cluster.clone();
    let all = stats(&ns, &broker, "BROKER_PUT_NUMS", &cluster_name);
    assert!(all["statsDay"]["sum"].as_i64().unwrap() >= SENT, "{all}");

    // Never counted, a wrong cluster, an unknown name: Java's remark.
    for (name, key) in [
        ("TOPIC_PUT_NUMS", "NoSuchTopicEver"),
        ("BROKER_PUT_NUMS", "NoSuchCluster"),
        ("NO_SUCH_STATS", topic.as_str()),
    ] {
        let refused = admin(
            &ns,
            &[
                "broker", "stats", "--name", name, "--key", key, "--broker", &broker,
            ],
        );
        assert!(!refused.ok, "{name} {key}: {}", refused.stdout);
        let remark = format!("The stats <{name}> <{key}> not exist");
        assert!(refused.stderr.contains(&remark), "{}", refused.stderr);
    }
    let err = rt
        .block_on(api.broker_stats(&addr, "GROUP_GET_NUMS", "no-at-sign"))
        .unwrap_err();
    assert!(err.to_string().contains("not exist"), "{err}");

    // GET_BROKER_CONSUME_STATS: the group, its one queue, backlog N - M.
    let list = rt.block_on(api.broker_consume_stats(&addr, false)).unwrap();
    assert_eq!(list.broker_addr, addr);
    let entry = list
        .consume_stats_list
        .iter()
        .find_map(|entry| entry.get(&group))
        .unwrap_or_else(|| panic!("{group} listed: {list:?}"));
    assert_eq!(entry.len(), 1, "{entry:?}");
    assert_eq!(entry[0].total_diff(), SENT - CONSUMED);
    assert_eq!(
        list.total_diff,
        SENT - CONSUMED,
        "only this group has a backlog"
    );
    // The topic is not ordered: an isOrder query lists the group with nothing.
    let ordered = rt.block_on(api.broker_consume_stats(&addr, true)).unwrap();
    let entry = ordered
        .consume_stats_list
        .iter()
        .find_map(|entry| entry.get(&group))
        .unwrap();
    assert!(entry.is_empty(), "{entry:?}");

    let cli = admin_json(&ns, &["broker", "consume-stats", "--broker", &broker]);
    assert_eq!(cli[&broker]["totalDiff"], SENT - CONSUMED, "{cli}");
}
