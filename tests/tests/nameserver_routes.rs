//! Topic routes as a client reads them from a real nameserver: an unknown
//! topic is TOPIC_NOT_EXIST with a remark, and a created topic's route is
//! standard JSON naming every broker, its master address and its queues,
//! with the fields the independent `rocketmq-client-rust` 1.0.0 requires.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_tests::{Cluster, unique_name};
use serde_json::Value;

/// TOPIC_NOT_EXIST.
const TOPIC_NOT_EXIST: i32 = 17;

#[test]
fn unknown_topic_route_is_topic_not_exist_with_a_remark() {
    let cluster = Cluster::start(1).expect("cluster starts");
    let answer = cluster
        .nameserver
        .route(&unique_name("Nowhere"))
        .expect("route answered");
    assert_eq!(answer.code, TOPIC_NOT_EXIST, "{}", answer.describe());
    assert!(answer.remark.is_some_and(|r| !r.is_empty()));
}

#[test]
fn created_topic_route_names_every_broker_with_the_fields_clients_require() {
    let cluster = Cluster::start(2).expect("cluster starts");
    let topic = unique_name("Routed");
    cluster.create_topic(&topic, 4).expect("topic created");
    let body = cluster
        .nameserver
        .wait_route(
            &topic,
            &[cluster.brokers[0].name(), cluster.brokers[1].name()],
        )
        .expect("route names both brokers");
    let route: Value = serde_json::from_str(&body).expect("route is standard JSON");
    let broker_datas = route["brokerDatas"].as_array().expect("brokerDatas array");
    assert_eq!(broker_datas.len(), 2, "{body}");
    for broker in &cluster.brokers {
        let data = broker_datas
            .iter()
            .find(|d| d["brokerName"] == broker.name())
            .unwrap_or_else(|| panic!("no brokerData for {}: {body}", broker.name()));
        assert_eq!(
            data["brokerAddrs"]["0"],
            broker.addr(),
            "master address: {body}"
        );
        assert_eq!(data["cluster"], cluster.name.as_str(), "{body}");
        // rocketmq-client-rust 1.0.0 refuses a route whose brokerData lacks
        // this 5.x field ("missing field `enableActingMaster`").
        assert!(
            data.get("enableActingMaster")
                .is_some_and(Value::is_boolean),
            "brokerData lacks enableActingMaster (the independent client cannot parse it): {body}"
        );
        let queues = route["queueDatas"]
            .as_array()
            .expect("queueDatas array")
            .iter()
            .find(|q| q["brokerName"] == broker.name())
            .unwrap_or_else(|| panic!("no queueData for {}: {body}", broker.name()));
        assert_eq!(queues["readQueueNums"], 4, "{body}");
        assert_eq!(queues["writeQueueNums"], 4, "{body}");
        assert_eq!(queues["perm"], 6, "{body}");
        assert!(queues.get("topicSysFlag").is_some(), "{body}");
    }
    assert!(
        route.get("filterServerTable").is_some_and(Value::is_object),
        "{body}"
    );
}
