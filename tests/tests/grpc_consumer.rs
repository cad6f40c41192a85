//! Apache's official RocketMQ 5 Python SDK consuming from ringmq's gRPC
//! endpoint with its SimpleConsumer (POP underneath): N of N intact and no
//! repeat after ack, a remoting-sent message read intact over gRPC, an
//! unacked message back after its invisible time with its attempt raised,
//! and past the group's maximum attempts, the dead-letter queue.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod grpc_common;

use std::time::{Duration, Instant};

use grpc_common::{GrpcStandalone, runtime, scenario};
use ringmq_client::Message;
use ringmq_client::producer::Producer;
use ringmq_tests::admin::admin_json;
use ringmq_tests::unique_name;
use serde_json::Value;

fn received(result: &Value) -> Vec<Value> {
    result["received"].as_array().unwrap().clone()
}

#[test]
fn a_simple_consumer_receives_every_message_once_and_acked_ones_never_return() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcRecv");
    let group = unique_name("GrpcRecvG");
    let sent = scenario(&server, "produce", &["--topic", &topic, "--count", "20"]);
    let args = [
        "--topic",
        &topic,
        "--group",
        &group,
        "--count",
        "20",
        "--invisible-seconds",
        "3",
    ];
    let got = received(&scenario(&server, "receive", &args));
    assert_eq!(got.len(), 20, "{got:?}");
    let mut ids: Vec<&str> = got
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = sent["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["message_id"].as_str().unwrap())
        .collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "each message once");
    for message in &got {
        let index = message["properties"]["index"].as_str().unwrap();
        assert_eq!(message["body"], format!("body-{index}"));
        assert_eq!(message["tag"], "TagA");
        assert_eq!(message["keys"][0], format!("key-{index}"));
        assert_eq!(message["properties"]["color"], "blue");
        assert_eq!(message["corrupted"], false);
        assert_eq!(message["delivery_attempt"], 1);
    }
    // Longer than the invisible time: an unacked message would be back.
    let again = [
        "--topic",
        &topic,
        "--group",
        &group,
        "--count",
        "1",
        "--timeout",
        "8",
    ];
    let repeated = received(&scenario(&server, "receive", &again));
    assert!(
        repeated.is_empty(),
        "acked messages came back: {repeated:?}"
    );
}

#[test]
fn a_message_sent_over_remoting_is_received_intact_over_grpc() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcCross");
    let group = unique_name("GrpcCrossG");
    runtime().block_on(async {
        let producer = Producer::builder(unique_name("CrossP"))
            .namesrv(&server.namesrv)
            .build()
            .unwrap();
        for index in 0..5 {
            let message = Message::new(&topic, format!("body-{index}"))
                .with_tags("TagR")
                .with_keys([format!("key-{index}"), "shared".to_owned()])
                .with_property("index", index.to_string())
                .with_property("color", "blue");
            producer.send(message).await.unwrap();
        }
        producer.shutdown().await;
    });
    let args = ["--topic", &topic, "--group", &group, "--count", "5"];
    let got = received(&scenario(&server, "receive", &args));
    assert_eq!(got.len(), 5, "{got:?}");
    for message in &got {
        let index = message["properties"]["index"].as_str().unwrap();
        assert_eq!(message["body"], format!("body-{index}"));
        assert_eq!(message["topic"], topic.as_str());
        assert_eq!(message["tag"], "TagR");
        let keys = message["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2, "{message}");
        assert!(
            keys.iter()
                .any(|k| k == &Value::from(format!("key-{index}")))
        );
        assert_eq!(message["properties"]["color"], "blue");
        assert_eq!(message["corrupted"], false);
    }
}

#[test]
fn an_unacked_message_comes_back_after_its_invisible_time_with_its_attempt_raised() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcRetry");
    let group = unique_name("GrpcRetryG");
    scenario(&server, "produce", &["--topic", &topic]);
    let first_args = [
        "--topic",
        &topic,
        "--group",
        &group,
        "--count",
        "1",
        "--no-ack",
        "--invisible-seconds",
        "2",
    ];
    let first = received(&scenario(&server, "receive", &first_args));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["delivery_attempt"], 1);
    let again = [
        "--topic",
        &topic,
        "--group",
        &group,
        "--count",
        "1",
        "--timeout",
        "60",
    ];
    let second = received(&scenario(&server, "receive", &again));
    assert_eq!(second.len(), 1, "the unacked message came back");
    assert_eq!(second[0]["message_id"], first[0]["message_id"]);
    assert_eq!(second[0]["body"], first[0]["body"]);
    assert_eq!(second[0]["delivery_attempt"], 2);
}

#[test]
fn past_the_group_s_max_attempts_a_message_goes_to_the_dead_letter_queue() {
    let server = GrpcStandalone::start(&[]);
    let topic = unique_name("GrpcDlq");
    let group = unique_name("GrpcDlqG");
    admin_json(
        &server.namesrv,
        &["group", "create", &group, "--retry-max-times", "1"],
    );
    scenario(&server, "produce", &["--topic", &topic]);
    let never_ack = [
        "--topic",
        &topic,
        "--group",
        &group,
        "--count",
        "100",
        "--no-ack",
        "--invisible-seconds",
        "1",
        "--timeout",
        "20",
    ];
    let deliveries = received(&scenario(&server, "receive", &never_ack));
    assert!(!deliveries.is_empty());
    assert!(
        deliveries.len() <= 2,
        "delivered beyond max attempts: {deliveries:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let listed = admin_json(&server.namesrv, &["dlq", "list", &group, "--limit", "10"]);
        let letters = listed["dead_letters"].as_array().unwrap().clone();
        if !letters.is_empty() || Instant::now() > deadline {
            break letters;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(
        letters[0]["original_topic"],
        topic.as_str(),
        "{}",
        letters[0]
    );
    assert_eq!(letters[0]["body"], "body-0");
}
