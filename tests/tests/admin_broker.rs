//! `ringmq admin broker status` and `broker config get|set` against a real
//! broker: status shows the Java 4.9 runtime keys (TPS as three windows,
//! commit-log offsets that grow by what was sent, read-only state), and a
//! run-time key set through UPDATE_BROKER_CONFIG reads back with `get`
//! while a key that cannot change live is refused with a remark naming the
//! keys that can.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_client::Message;
use ringmq_client::producer::Producer;
use ringmq_tests::admin::{admin, admin_json};
use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

fn runtime_key(status: &Value, broker: &str, key: &str) -> String {
    status["brokers"][broker]["runtime"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .to_owned()
}

#[test]
fn broker_status_shows_store_keys_and_config_set_reads_back() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let broker = cluster.brokers[0].name().to_owned();
    let topic = unique_name("StatusT");
    cluster.create_topic(&topic, 2).unwrap();

    let before = admin_json(&ns, &["broker", "status"]);
    for key in [
        "brokerVersionDesc",
        "flushMode",
        "shards",
        "commitLogDiskRatio",
        "putTps",
        "getTransferedTps",
    ] {
        runtime_key(&before, &broker, key);
    }
    assert_eq!(runtime_key(&before, &broker, "readOnly"), "false");
    assert_eq!(runtime_key(&before, &broker, "flushMode"), "ASYNC_FLUSH");
    // Three space-separated windows (empty until that much history exists).
    assert_eq!(
        runtime_key(&before, &broker, "putTps").split(' ').count(),
        3
    );
    let max_before: u64 = runtime_key(&before, &broker, "commitLogMaxOffset")
        .parse()
        .unwrap();
    let min: u64 = runtime_key(&before, &broker, "commitLogMinOffset")
        .parse()
        .unwrap();
    assert!(min <= max_before);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    const BODY: usize = 100;
    const SENT: usize = 5;
    rt.block_on(async {
        let producer = Producer::builder(unique_name("StatusP"))
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
    });
    let after = admin_json(&ns, &["broker", "status"]);
    let max_after: u64 = runtime_key(&after, &broker, "commitLogMaxOffset")
        .parse()
        .unwrap();
    assert!(
        max_after >= max_before + (SENT * BODY) as u64,
        "the logs grew by at least the bodies sent: {max_before} -> {max_after}"
    );

    // A run-time key: set, then get shows it.
    let set = admin(
        &ns,
        &["broker", "config", "set", "wait_time_in_queue_ms", "350"],
    );
    assert!(set.ok, "{}", set.stderr);
    let got = admin_json(&ns, &["broker", "config", "get", "wait_time_in_queue_ms"]);
    assert_eq!(got[&broker]["wait_time_in_queue_ms"], "350", "{got}");
    let set = admin(
        &ns,
        &["broker", "config", "set", "long_polling_enable", "false"],
    );
    assert!(set.ok, "{}", set.stderr);
    let got = admin_json(&ns, &["broker", "config", "get", "long_polling_enable"]);
    assert_eq!(got[&broker]["long_polling_enable"], "false", "{got}");

    // A key that cannot change live, and a bad value, are refused.
    let refused = admin(&ns, &["broker", "config", "set", "segment_bytes", "1"]);
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("segment_bytes cannot be changed")
            && refused.stderr.contains("wait_time_in_queue_ms"),
        "{}",
        refused.stderr
    );
    let refused = admin(&ns, &["broker", "config", "set", "send_pending_max", "0"]);
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("must be 1 to"),
        "{}",
        refused.stderr
    );
    let got = admin_json(&ns, &["broker", "config", "get", "send_pending_max"]);
    assert_eq!(got[&broker]["send_pending_max"], "10000", "{got}");
}
