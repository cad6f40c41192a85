//! fastjson's non-standard JSON (bare numeric keys, objects as keys, nulls)
//! decodes; strings that merely look like it are left alone; our writer
//! emits what Java reads.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;

use ringmq_net::body::fastjson::{DEPTH_MAX, normalize};
use ringmq_net::body::*;

fn normalized(input: &str) -> String {
    String::from_utf8(normalize(input.as_bytes()).unwrap()).unwrap()
}

#[test]
fn bare_numeric_keys_become_quoted() {
    assert_eq!(
        normalized(r#"{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}}"#),
        r#"{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}}"#
    );
    assert_eq!(
        normalized(r#"{ -1 : 2 , 3:[4,5]}"#),
        r#"{"-1":2,"3":[4,5]}"#
    );
}

#[test]
fn object_keys_become_strings_holding_the_object() {
    let out = normalized(r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:123}}"#);
    assert_eq!(
        out,
        r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"t\"}":123}}"#
    );
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["offsetTable"].as_object().unwrap().len(), 1);
}

#[test]
fn text_inside_strings_is_never_rewritten() {
    let input = r#"{"a":"{0:\"x\"} and {1:2}","b\"{0:":["{3:4}"]}"#;
    assert_eq!(normalized(input), input);
}

#[test]
fn standard_json_passes_through_unchanged() {
    let input = r#"{"a":[1,2.5e3,true,false,null,"\u00e9\n"],"b":{"c":{}}}"#;
    assert_eq!(normalized(input), input);
}

#[test]
fn broken_input_is_an_error_not_a_panic() {
    for input in [
        "", "{", "{0", "{0:", "{0:1", "{\"a\"", "[1,", "\"abc", "{}}", "{:1}", "{1 2}", "[}",
        "{{}:1", "\"\\",
    ] {
        assert!(normalize(input.as_bytes()).is_err(), "{input:?}");
    }
}

#[test]
fn nesting_beyond_the_limit_is_rejected() {
    let deep = "[".repeat(DEPTH_MAX + 2) + &"]".repeat(DEPTH_MAX + 2);
    assert_eq!(
        normalize(deep.as_bytes()).unwrap_err(),
        BodyError::TooDeep(DEPTH_MAX)
    );
    let ok = "[".repeat(DEPTH_MAX) + &"]".repeat(DEPTH_MAX);
    assert!(normalize(ok.as_bytes()).is_ok());
}

#[test]
fn route_data_with_bare_keys_and_old_spelling_decodes() {
    let legacy = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},
        "brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},
        "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,
        "topicSynFlag":1,"writeQueueNums":4}]}"#;
    let route: TopicRouteData = decode_json(legacy).unwrap();
    let broker = &route.broker_datas[0];
    assert_eq!(broker.master_addr(), Some("10.0.0.1:10911"));
    assert_eq!(broker.broker_addrs[&1], "10.0.0.2:10911");
    assert_eq!(route.queue_datas[0].topic_sys_flag, 1);
}

#[test]
fn nulls_count_as_absent() {
    let body = br#"{"orderTopicConf":null,"queueDatas":null,"brokerDatas":[{"brokerName":null,
        "brokerAddrs":{"0":"a:1"},"cluster":"c","zoneName":null}],"filterServerTable":null}"#;
    let route: TopicRouteData = decode_json(body).unwrap();
    assert!(route.queue_datas.is_empty());
    assert_eq!(route.broker_datas[0].broker_name, "");
    assert_eq!(route.order_topic_conf, None);
}

#[test]
fn offset_tables_with_object_keys_decode_and_encode_for_java() {
    let java = br#"{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"t"}:7,
        {"brokerName":"b","queueId":0,"topic":"t"}:123}}"#;
    let body: OffsetSerializeWrapper = decode_json(java).unwrap();
    let mut expected = BTreeMap::new();
    expected.insert(MessageQueue::new("t", "b", 0), 123);
    expected.insert(MessageQueue::new("t", "b", 1), 7);
    assert_eq!(body.offset_table, expected);

    let encoded = String::from_utf8(encode_json(&body).unwrap()).unwrap();
    assert_eq!(
        encoded,
        r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:123,{"brokerName":"b","queueId":1,"topic":"t"}:7}}"#
    );
    let standard = encode_standard_json(&body).unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&standard).is_ok());
    assert_eq!(
        decode_json::<OffsetSerializeWrapper>(&standard).unwrap(),
        body
    );
}

#[test]
fn object_keys_may_themselves_have_bare_keys_inside() {
    let java = br#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t","x":{5:6}}:1}}"#;
    let body: ResetOffsetBody = decode_json(java).unwrap();
    assert_eq!(body.offset_table[&MessageQueue::new("t", "b", 0)], 1);
}

#[test]
fn consume_stats_from_java_decode() {
    let java = br#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":1700000000000}}}"#;
    let stats: ConsumeStats = decode_json(java).unwrap();
    assert_eq!(stats.consume_tps, 1.5);
    assert_eq!(stats.total_diff(), 6);
    let again: ConsumeStats = decode_json(&encode_json(&stats).unwrap()).unwrap();
    assert_eq!(again, stats);
}

#[test]
fn consumer_status_nested_object_key_maps_round_trip() {
    let mut status = GetConsumerStatusBody::default();
    status
        .message_queue_table
        .insert(MessageQueue::new("t", "b", 2), 9);
    let mut inner = fastjson::ObjectKeyMap::default();
    inner.0.insert(MessageQueue::new("t", "b", 3), 11);
    status.consumer_table.insert("client-1".into(), inner);
    let bytes = encode_json(&status).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(r#"{"client-1":{{"brokerName":"b","queueId":3,"topic":"t"}:11}}"#));
    assert_eq!(
        decode_json::<GetConsumerStatusBody>(&bytes).unwrap(),
        status
    );
}

#[test]
fn encoding_sorts_keys_and_drops_nulls() {
    let route = TopicRouteData {
        broker_datas: vec![BrokerData {
            broker_addrs: [(0, "a:1".to_owned()), (10, "b:2".to_owned())].into(),
            broker_name: "bn".into(),
            cluster: "c".into(),
            enable_acting_master: false,
        }],
        ..TopicRouteData::default()
    };
    let text = String::from_utf8(encode_json(&route).unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"brokerDatas":[{"brokerAddrs":{"0":"a:1","10":"b:2"},"brokerName":"bn","cluster":"c","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[]}"#
    );
}

#[test]
fn message_queue_orders_and_prints_like_java() {
    let mut queues = vec![
        MessageQueue::new("b", "x", 0),
        MessageQueue::new("a", "y", 1),
        MessageQueue::new("a", "y", 0),
        MessageQueue::new("a", "x", 9),
    ];
    queues.sort();
    assert_eq!(
        queues,
        [
            MessageQueue::new("a", "x", 9),
            MessageQueue::new("a", "y", 0),
            MessageQueue::new("a", "y", 1),
            MessageQueue::new("b", "x", 0),
        ]
    );
    assert_eq!(
        MessageQueue::new("T", "B", 3).to_string(),
        "MessageQueue [topic=T, brokerName=B, queueId=3]"
    );
}
