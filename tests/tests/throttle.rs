//! Producer throttling against real processes, driven through
//! `ringmq admin throttle`: a throttled topic refuses sends over its rate
//! with SYSTEM_BUSY and every message still gets stored when the producer
//! retries (stored == acknowledged); an unthrottled topic and another
//! producer group see no refusal; the rule survives a broker restart and
//! `clear` lifts it. Only counts are checked, never durations.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::Duration;

use ringmq_client::Message;
use ringmq_client::producer::{Producer, SendError};
use ringmq_net::code::response;
use ringmq_tests::admin::admin_json;
use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

/// Messages each round sends.
const MESSAGES: u64 = 40;
/// The throttle rate: well below what one producer sends back to back.
const RATE: &str = "10";
/// Attempts one message gets before the test gives up on it.
const ATTEMPTS_MAX: u32 = 400;
/// Pause after a refusal before the next attempt.
const RETRY_PAUSE: Duration = Duration::from_millis(25);

/// What one round of sends saw.
#[derive(Debug, Default)]
struct Round {
    acked: u64,
    refused: u64,
}

/// Sends `MESSAGES` messages one by one, retrying each after a SYSTEM_BUSY
/// (the producer itself makes a single attempt, so every refusal is seen).
async fn send_round(namesrv: &str, group: &str, topic: &str) -> Round {
    let producer = Producer::builder(group)
        .namesrv(namesrv)
        .retries(0)
        .build()
        .unwrap();
    let mut round = Round::default();
    for i in 0..MESSAGES {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts <= ATTEMPTS_MAX, "message {i} never got through");
            match producer.send(Message::new(topic, format!("m-{i}"))).await {
                Ok(_) => {
                    round.acked += 1;
                    break;
                }
                Err(SendError::Broker { code, remark, .. }) if code == response::SYSTEM_BUSY => {
                    assert!(remark.contains(topic), "{remark}");
                    round.refused += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(err) => panic!("send {i} to {topic} failed: {err}"),
            }
        }
    }
    producer.shutdown().await;
    round
}

fn stored(namesrv: &str, topic: &str) -> u64 {
    let status = admin_json(namesrv, &["topic", "status", topic]);
    status["messages"].as_u64().unwrap()
}

fn rules(namesrv: &str) -> Vec<Value> {
    admin_json(namesrv, &["throttle", "list"])["throttles"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn throttled_sends_are_refused_then_stored_and_the_rule_survives_a_restart() {
    let mut cluster = Cluster::start(1).expect("cluster starts");
    let ns = cluster.namesrv_addr();
    let limited = unique_name("ThrT");
    let free = unique_name("ThrU");
    cluster.create_topic(&limited, 2).unwrap();
    cluster.create_topic(&free, 2).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let set = admin_json(
        &ns,
        &["throttle", "set", "--topic", &limited, "--rate", RATE],
    );
    assert_eq!(set["set"]["rate"], 10, "{set}");
    let listed = rules(&ns);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["rule"]["topic"], limited.as_str());
    assert_eq!(listed[0]["rejected"], 0);

    // Over the limit: refused with SYSTEM_BUSY, yet every message is stored.
    let group = unique_name("ThrP");
    let round = rt.block_on(send_round(&ns, &group, &limited));
    assert_eq!(round.acked, MESSAGES);
    assert!(
        round.refused > 0,
        "{MESSAGES} back-to-back sends at {RATE}/s: {round:?}"
    );
    assert_eq!(stored(&ns, &limited), MESSAGES, "stored == acknowledged");
    assert_eq!(
        rules(&ns)[0]["rejected"],
        round.refused,
        "the broker counted each refusal"
    );

    // Another topic is not affected.
    let round = rt.block_on(send_round(&ns, &group, &free));
    assert_eq!((round.acked, round.refused), (MESSAGES, 0));

    // The rule survives a restart.
    cluster.brokers[0].terminate().unwrap();
    cluster.brokers[0].restart().unwrap();
    let listed = rules(&ns);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["rule"]["rate"], 10);
    let round = rt.block_on(send_round(&ns, &group, &limited));
    assert_eq!(round.acked, MESSAGES);
    assert!(
        round.refused > 0,
        "still throttled after the restart: {round:?}"
    );
    assert_eq!(stored(&ns, &limited), 2 * MESSAGES);

    // A producer-group rule limits only that group.
    let other = unique_name("ThrQ");
    admin_json(
        &ns,
        &[
            "throttle",
            "set",
            "--topic",
            &free,
            "--producer-group",
            &other,
            "--rate",
            "1",
        ],
    );
    let round = rt.block_on(send_round(&ns, &group, &free));
    assert_eq!(
        (round.acked, round.refused),
        (MESSAGES, 0),
        "another group is free"
    );

    // clear removes the topic's rule; sends flow again.
    let cleared = admin_json(&ns, &["throttle", "clear", "--topic", &limited]);
    assert_eq!(cleared["removed"], 1);
    let left = rules(&ns);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["rule"]["producer_group"], other.as_str());
    let round = rt.block_on(send_round(&ns, &group, &limited));
    assert_eq!((round.acked, round.refused), (MESSAGES, 0));
    assert_eq!(stored(&ns, &limited), 3 * MESSAGES);
    let cleared = admin_json(&ns, &["throttle", "clear"]);
    assert_eq!(cleared["removed"], 1);
    assert!(rules(&ns).is_empty());
}
