//! Route-table requests over TCP: two brokers of one cluster register
//! topics; clients read routes, cluster info and topic lists; operators
//! delete topics, wipe and restore write permission, unregister brokers.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::*;
use ringmq_net::code::{request, response};
use ringmq_net::command::SerializeType;
use serde_json::json;

const A: &str = "10.0.0.1:10911";
const B: &str = "10.0.0.2:10911";

async fn two_brokers(server: &Server) -> (Client, Client) {
    let mut a = server.client().await;
    let mut b = server.client().await;
    let ra = a
        .call(register_request(
            "broker-a",
            A,
            0,
            register_body(1, &[("TopicA", 4), ("Shared", 4)]),
        ))
        .await;
    assert_eq!(ra.code, response::SUCCESS, "{:?}", ra.remark);
    let rb = b
        .call(register_request(
            "broker-b",
            B,
            0,
            register_body(1, &[("Shared", 8)]),
        ))
        .await;
    assert_eq!(rb.code, response::SUCCESS, "{:?}", rb.remark);
    (a, b)
}

#[tokio::test]
async fn route_of_a_shared_topic_lists_both_brokers_as_standard_json() {
    let server = Server::start_default().await;
    let (_a, _b) = two_brokers(&server).await;
    let mut client = server.client().await;
    let route = client.call(route_request("Shared")).await;
    assert_eq!(route.code, response::SUCCESS);
    assert_eq!(route.version, 409);
    let body = json_body(&route);
    assert_eq!(
        body["queueDatas"],
        json!([
            {"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},
            {"brokerName":"broker-b","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}
        ])
    );
    assert_eq!(body["brokerDatas"][0]["brokerName"], "broker-a");
    assert_eq!(body["brokerDatas"][0]["cluster"], "DefaultCluster");
    assert_eq!(body["brokerDatas"][0]["brokerAddrs"], json!({"0": A}));
    assert_eq!(body["brokerDatas"][1]["brokerAddrs"], json!({"0": B}));
    server.stop().await;
}

#[tokio::test]
async fn unknown_topic_gets_topic_not_exist_with_the_java_remark() {
    let server = Server::start_default().await;
    let mut client = server.client().await;
    let route = client.call(route_request("Nowhere")).await;
    assert_eq!(route.code, response::TOPIC_NOT_EXIST);
    let remark = route.remark.unwrap();
    assert!(
        remark.starts_with("No topic route info in name server for the topic: Nowhere"),
        "{remark}"
    );
    assert!(route.body.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn cluster_info_and_topic_lists_reflect_registrations() {
    let server = Server::start_default().await;
    let (_a, _b) = two_brokers(&server).await;
    let mut client = server.client().await;

    let info = json_body(
        &client
            .call(request_with(request::GET_BROKER_CLUSTER_INFO, &[]))
            .await,
    );
    assert_eq!(
        info["clusterAddrTable"],
        json!({"DefaultCluster": ["broker-a", "broker-b"]})
    );
    assert_eq!(
        info["brokerAddrTable"]["broker-b"]["brokerAddrs"],
        json!({"0": B})
    );

    let all = json_body(
        &client
            .call(request_with(
                request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
                &[],
            ))
            .await,
    );
    assert_eq!(all["topicList"], json!(["Shared", "TopicA"]));

    let by_cluster = client
        .call(request_with(
            request::GET_TOPICS_BY_CLUSTER,
            &[("cluster", "DefaultCluster")],
        ))
        .await;
    assert_eq!(
        json_body(&by_cluster)["topicList"],
        json!(["Shared", "TopicA"])
    );

    let system = json_body(
        &client
            .call(request_with(request::GET_SYSTEM_TOPIC_LIST_FROM_NS, &[]))
            .await,
    );
    assert_eq!(
        system["topicList"],
        json!(["DefaultCluster", "broker-a", "broker-b"])
    );
    assert_eq!(system["brokerAddr"], A);
    server.stop().await;
}

#[tokio::test]
async fn deleted_topic_has_no_route() {
    let server = Server::start_default().await;
    let (_a, _b) = two_brokers(&server).await;
    let mut client = server.client().await;
    let deleted = client
        .call(request_with(
            request::DELETE_TOPIC_IN_NAMESRV,
            &[("topic", "Shared")],
        ))
        .await;
    assert_eq!(deleted.code, response::SUCCESS);
    assert_eq!(
        client.call(route_request("Shared")).await.code,
        response::TOPIC_NOT_EXIST
    );
    assert_eq!(
        client.call(route_request("TopicA")).await.code,
        response::SUCCESS
    );
    server.stop().await;
}

#[tokio::test]
async fn wipe_and_add_write_perm_change_route_perm_and_report_counts() {
    let server = Server::start_default().await;
    let (_a, _b) = two_brokers(&server).await;
    let mut client = server.client().await;

    let wiped = client
        .call(request_with(
            request::WIPE_WRITE_PERM_OF_BROKER,
            &[("brokerName", "broker-a")],
        ))
        .await;
    assert_eq!(wiped.code, response::SUCCESS);
    assert_eq!(wiped.ext_fields["wipeTopicCount"], "2");
    let route = json_body(&client.call(route_request("Shared")).await);
    assert_eq!(route["queueDatas"][0]["perm"], 4);
    assert_eq!(route["queueDatas"][1]["perm"], 6);

    let added = client
        .call(request_with(
            request::ADD_WRITE_PERM_OF_BROKER,
            &[("brokerName", "broker-a")],
        ))
        .await;
    assert_eq!(added.ext_fields["addTopicCount"], "2");
    let route = json_body(&client.call(route_request("Shared")).await);
    assert_eq!(route["queueDatas"][0]["perm"], 6);
    server.stop().await;
}

#[tokio::test]
async fn unregistered_broker_leaves_routes_and_cluster() {
    let server = Server::start_default().await;
    let (mut a, _b) = two_brokers(&server).await;
    let unregistered = a
        .call(request_with(
            request::UNREGISTER_BROKER,
            &[
                ("brokerName", "broker-a"),
                ("brokerAddr", A),
                ("clusterName", "DefaultCluster"),
                ("brokerId", "0"),
            ],
        ))
        .await;
    assert_eq!(unregistered.code, response::SUCCESS);
    let mut client = server.client().await;
    assert_eq!(
        client.call(route_request("TopicA")).await.code,
        response::TOPIC_NOT_EXIST
    );
    let shared = json_body(&client.call(route_request("Shared")).await);
    assert_eq!(shared["queueDatas"].as_array().unwrap().len(), 1);
    let info = json_body(
        &client
            .call(request_with(request::GET_BROKER_CLUSTER_INFO, &[]))
            .await,
    );
    assert_eq!(
        info["clusterAddrTable"],
        json!({"DefaultCluster": ["broker-b"]})
    );
    server.stop().await;
}

#[tokio::test]
async fn new_data_version_rewrites_topics_and_query_data_version_reports_change() {
    let server = Server::start_default().await;
    let (mut a, _b) = two_brokers(&server).await;
    let same = a
        .call(
            request_with(
                request::QUERY_DATA_VERSION,
                &[
                    ("brokerName", "broker-a"),
                    ("brokerAddr", A),
                    ("clusterName", "DefaultCluster"),
                    ("brokerId", "0"),
                ],
            )
            .with_body(br#"{"counter":1,"timestamp":1700000000000}"#.to_vec()),
        )
        .await;
    assert_eq!(same.code, response::SUCCESS);
    assert_eq!(same.ext_fields["changed"], "false");
    assert_eq!(json_body(&same)["counter"], 1);

    let newer = a
        .call(
            request_with(
                request::QUERY_DATA_VERSION,
                &[
                    ("brokerName", "broker-a"),
                    ("brokerAddr", A),
                    ("clusterName", "DefaultCluster"),
                    ("brokerId", "0"),
                ],
            )
            .with_body(br#"{"counter":2,"timestamp":1700000000000}"#.to_vec()),
        )
        .await;
    assert_eq!(newer.ext_fields["changed"], "true");

    a.call(register_request(
        "broker-a",
        A,
        0,
        register_body(2, &[("TopicA", 16)]),
    ))
    .await;
    let route = json_body(&a.call(route_request("TopicA")).await);
    assert_eq!(route["queueDatas"][0]["writeQueueNums"], 16);
    server.stop().await;
}

#[tokio::test]
async fn slave_registration_learns_master_address() {
    let server = Server::start_default().await;
    let (_a, _b) = two_brokers(&server).await;
    let mut slave = server.client().await;
    let answer = slave
        .call(register_request(
            "broker-a",
            "10.0.0.9:10911",
            1,
            register_body(1, &[("TopicA", 4)]),
        ))
        .await;
    assert_eq!(answer.code, response::SUCCESS);
    assert_eq!(answer.ext_fields["masterAddr"], A);
    assert_eq!(answer.ext_fields["haServerAddr"], format!("{A}-ha"));
    let route = json_body(&slave.call(route_request("TopicA")).await);
    assert_eq!(
        route["brokerDatas"][0]["brokerAddrs"],
        json!({"0": A, "1": "10.0.0.9:10911"})
    );
    server.stop().await;
}

#[tokio::test]
async fn body_crc_mismatch_is_refused_with_system_error() {
    let server = Server::start_default().await;
    let mut client = server.client().await;
    let body = register_body(1, &[("T", 4)]);
    let good_crc = (crc32fast::hash(&body) & 0x7FFF_FFFF).to_string();
    let mut bad = register_request("broker-a", A, 0, body.clone());
    bad.ext_fields.insert("bodyCrc32".into(), "12345".into());
    let refused = client.call(bad).await;
    assert_eq!(refused.code, response::SYSTEM_ERROR);
    assert_eq!(refused.remark.as_deref(), Some("crc32 not match"));

    let mut good = register_request("broker-a", A, 0, body);
    good.ext_fields.insert("bodyCrc32".into(), good_crc);
    assert_eq!(client.call(good).await.code, response::SUCCESS);
    server.stop().await;
}

#[tokio::test]
async fn unknown_code_gets_request_code_not_supported() {
    let server = Server::start_default().await;
    let mut client = server.client().await;
    let answer = client.call(request_with(request::SEND_MESSAGE, &[])).await;
    assert_eq!(answer.code, response::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(
        answer.remark.as_deref(),
        Some(" request type 10 not supported")
    );
    server.stop().await;
}

#[tokio::test]
async fn missing_header_field_gets_system_error_naming_the_field() {
    let server = Server::start_default().await;
    let mut client = server.client().await;
    let answer = client
        .call(request_with(request::GET_ROUTEINFO_BY_TOPIC, &[]))
        .await;
    assert_eq!(answer.code, response::SYSTEM_ERROR);
    let remark = answer.remark.unwrap();
    assert!(
        remark.contains("GET_ROUTEINFO_BY_TOPIC") && remark.contains("topic"),
        "{remark}"
    );

    let garbage_body = register_request("broker-a", A, 0, b"{not json".to_vec());
    let answer = client.call(garbage_body).await;
    assert_eq!(answer.code, response::SYSTEM_ERROR);
    assert!(answer.remark.unwrap().contains("REGISTER_BROKER"));
    server.stop().await;
}

#[tokio::test]
async fn one_way_requests_are_processed_but_never_answered() {
    let server = Server::start_default().await;
    let mut client = server.client().await;
    let mut oneway = register_request("broker-a", A, 0, register_body(1, &[("OneWay", 2)]));
    oneway.set_oneway();
    oneway.opaque = 77;
    client.send(&oneway).await;
    let mut unknown = request_with(request::SEND_MESSAGE, &[]);
    unknown.set_oneway();
    unknown.opaque = 78;
    client.send(&unknown).await;
    // The next answer on this connection is the route reply (opaque 1), so
    // neither one-way request produced a frame.
    let route = client.call(route_request("OneWay")).await;
    assert_eq!(route.code, response::SUCCESS);
    server.stop().await;
}

#[tokio::test]
async fn response_uses_the_request_serialize_type() {
    let server = Server::start_default().await;
    let mut client = server.client().await;
    let mut binary = route_request("Nowhere");
    binary.serialize_type = SerializeType::RocketMq;
    let answer = client.call(binary).await;
    assert_eq!(answer.serialize_type, SerializeType::RocketMq);
    assert_eq!(answer.code, response::TOPIC_NOT_EXIST);
    server.stop().await;
}

#[tokio::test]
async fn compressed_registration_body_is_understood() {
    use ringmq_net::body::{
        DataVersion, RegisterBrokerBody, TopicConfig, TopicConfigSerializeWrapper, masked_crc32,
    };
    let server = Server::start_default().await;
    let mut broker = server.client().await;
    let mut wrapper = TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter: 3,
            timestamp: 1_700_000_000_000,
        },
        ..TopicConfigSerializeWrapper::default()
    };
    wrapper
        .topic_config_table
        .insert("Zipped".into(), TopicConfig::new("Zipped", 3));
    let body = RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: wrapper,
    }
    .encode(true)
    .unwrap();
    let mut register = register_request("broker-z", "10.0.0.26:10911", 0, body.clone());
    register
        .ext_fields
        .insert("compressed".into(), "true".into());
    register
        .ext_fields
        .insert("bodyCrc32".into(), masked_crc32(&body).to_string());
    let answer = broker.call(register).await;
    assert_eq!(answer.code, response::SUCCESS, "{:?}", answer.remark);
    let route = json_body(&broker.call(route_request("Zipped")).await);
    assert_eq!(route["queueDatas"][0]["writeQueueNums"], 3);
    assert_eq!(route["queueDatas"][0]["brokerName"], "broker-z");
    server.stop().await;
}

#[tokio::test]
async fn clients_older_than_4_9_4_get_legacy_unquoted_broker_ids_unless_they_ask_for_standard_json()
{
    let server = Server::start_default().await;
    let (_a, _b) = two_brokers(&server).await;
    let mut client = server.client().await;

    let mut old = route_request("Shared");
    old.version = 399; // V4_9_2
    let legacy = client.call(old.clone()).await;
    assert_eq!(legacy.code, response::SUCCESS);
    let text = String::from_utf8(legacy.body.to_vec()).unwrap();
    assert!(
        text.contains(&format!("\"brokerAddrs\":{{0:\"{A}\"}}")),
        "{text}"
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&legacy.body).is_err());
    let decoded: ringmq_net::body::TopicRouteData =
        ringmq_net::body::decode_json(&legacy.body).unwrap();
    assert_eq!(decoded.broker_datas[0].master_addr(), Some(A));

    old.ext_fields
        .insert("acceptStandardJsonOnly".into(), "true".into());
    let standard = client.call(old).await;
    assert_eq!(
        json_body(&standard)["brokerDatas"][0]["brokerAddrs"],
        json!({"0": A})
    );
    server.stop().await;
}
