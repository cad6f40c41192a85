//! Every body decodes back to what it encoded (proptest), the compressed
//! REGISTER_BROKER form round-trips, and garbage is a `BodyError`, never a
//! panic.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use proptest::collection::{btree_map, btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use ringmq_net::body::fastjson::normalize;
use ringmq_net::body::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn name() -> impl Strategy<Value = String> {
    // Anything printable, including quotes, braces and non-ASCII.
    "[a-zA-Z0-9%_{}:\"\\\\ é中-]{0,12}"
}

fn message_queue() -> impl Strategy<Value = MessageQueue> {
    (name(), name(), any::<i32>()).prop_map(|(t, b, q)| MessageQueue::new(t, b, q))
}

fn subscription() -> impl Strategy<Value = SubscriptionData> {
    (
        any::<bool>(),
        btree_set(any::<i32>(), 0..4),
        prop_oneof![Just("TAG".to_owned()), Just("SQL92".to_owned())],
        name(),
        any::<i64>(),
        btree_set(name(), 0..4),
        name(),
    )
        .prop_map(
            |(
                class_filter_mode,
                code_set,
                expression_type,
                sub_string,
                sub_version,
                tags_set,
                topic,
            )| {
                SubscriptionData {
                    class_filter_mode,
                    code_set,
                    expression_type,
                    sub_string,
                    sub_version,
                    tags_set,
                    topic,
                }
            },
        )
}

fn consumer_data() -> impl Strategy<Value = ConsumerData> {
    (
        prop_oneof![
            Just(ConsumeFromWhere::ConsumeFromLastOffset),
            Just(ConsumeFromWhere::ConsumeFromFirstOffset),
            Just(ConsumeFromWhere::ConsumeFromTimestamp),
            Just(ConsumeFromWhere::ConsumeFromMinOffset),
        ],
        prop_oneof![
            Just(ConsumeType::ConsumeActively),
            Just(ConsumeType::ConsumePassively)
        ],
        name(),
        prop_oneof![
            Just(MessageModel::Broadcasting),
            Just(MessageModel::Clustering)
        ],
        vec(subscription(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(consume_from_where, consume_type, group_name, message_model, subs, unit_mode)| {
                ConsumerData {
                    consume_from_where,
                    consume_type,
                    group_name,
                    message_model,
                    subscription_data_set: subs,
                    unit_mode,
                }
            },
        )
}

fn heartbeat() -> impl Strategy<Value = HeartbeatData> {
    (
        name(),
        vec(consumer_data(), 0..3),
        vec(
            name().prop_map(|group_name| ProducerData { group_name }),
            0..3,
        ),
    )
        .prop_map(
            |(client_id, consumer_data_set, producer_data_set)| HeartbeatData {
                client_id,
                consumer_data_set,
                producer_data_set,
            },
        )
}

fn route() -> impl Strategy<Value = TopicRouteData> {
    let broker = (btree_map(any::<i64>(), name(), 0..3), name(), name()).prop_map(
        |(broker_addrs, broker_name, cluster)| BrokerData {
            broker_addrs,
            broker_name,
            cluster,
            enable_acting_master: false,
        },
    );
    let queue = (
        name(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
    )
        .prop_map(
            |(broker_name, perm, read_queue_nums, topic_sys_flag, write_queue_nums)| QueueData {
                broker_name,
                perm,
                read_queue_nums,
                topic_sys_flag,
                write_queue_nums,
            },
        );
    (
        vec(broker, 0..3),
        btree_map(name(), vec(name(), 0..2), 0..2),
        option::of(name()),
        vec(queue, 0..3),
    )
        .prop_map(
            |(broker_datas, filter_server_table, order_topic_conf, queue_datas)| TopicRouteData {
                broker_datas,
                filter_server_table,
                order_topic_conf,
                queue_datas,
            },
        )
}

/// Topic configs as they survive the compressed form: names without
/// spaces, default `order` and `topicSysFlag`.
fn register_body() -> impl Strategy<Value = RegisterBrokerBody> {
    let config = (
        "[a-zA-Z0-9%_-]{1,20}",
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(|(topic_name, read, write, perm, multi)| TopicConfig {
            perm,
            read_queue_nums: read,
            write_queue_nums: write,
            topic_filter_type: if multi {
                TopicFilterType::MultiTag
            } else {
                TopicFilterType::SingleTag
            },
            topic_name,
            ..TopicConfig::default()
        });
    (
        vec(name(), 0..3),
        any::<i64>(),
        any::<i64>(),
        vec(config, 0..20),
    )
        .prop_map(
            |(filter_server_list, counter, timestamp, configs)| RegisterBrokerBody {
                filter_server_list,
                topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                    data_version: DataVersion { counter, timestamp },
                    topic_config_table: configs
                        .into_iter()
                        .map(|c| (c.topic_name.clone(), c))
                        .collect(),
                },
            },
        )
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let fastjson = encode_json(value).unwrap();
    assert_eq!(&decode_json::<T>(&fastjson).unwrap(), value);
    let standard = encode_standard_json(value).unwrap();
    serde_json::from_slice::<serde_json::Value>(&standard).unwrap();
    assert_eq!(&decode_json::<T>(&standard).unwrap(), value);
}

proptest! {
    #[test]
    fn heartbeat_round_trips(value in heartbeat()) {
        round_trip(&value);
    }

    #[test]
    fn route_data_round_trips(value in route()) {
        round_trip(&value);
    }

    #[test]
    fn register_broker_body_round_trips_plain_and_compressed(value in register_body()) {
        round_trip(&value);
        let compressed = value.encode(true).unwrap();
        prop_assert_eq!(RegisterBrokerBody::decode(&compressed, true).unwrap(), value.clone());
        let plain = value.encode(false).unwrap();
        prop_assert_eq!(RegisterBrokerBody::decode(&plain, false).unwrap(), value);
    }

    #[test]
    fn lock_bodies_round_trip(
        client_id in name(),
        consumer_group in name(),
        mq_set in btree_set(message_queue(), 0..5),
        only_this_broker in any::<bool>(),
    ) {
        round_trip(&LockBatchRequestBody {
            client_id: client_id.clone(),
            consumer_group: consumer_group.clone(),
            mq_set: mq_set.clone(),
            only_this_broker,
        });
        round_trip(&UnlockBatchRequestBody { client_id, consumer_group, mq_set: mq_set.clone(), only_this_broker });
        round_trip(&LockBatchResponseBody { lock_ok_mq_set: mq_set });
    }

    #[test]
    fn object_keyed_offset_tables_round_trip(
        table in btree_map(message_queue(), any::<i64>(), 0..6),
        wrappers in btree_map(message_queue(), any::<(i64, i64, i64)>(), 0..4),
        tps in -1_000_000i64..1_000_000,
    ) {
        round_trip(&ResetOffsetBody { offset_table: table.clone() });
        round_trip(&OffsetSerializeWrapper { offset_table: table.clone() });
        round_trip(&GetConsumerStatusBody {
            consumer_table: [("c".to_owned(), fastjson::ObjectKeyMap(table.clone()))].into(),
            message_queue_table: table,
        });
        let offset_table = wrappers
            .iter()
            .map(|(mq, &(b, c, l))| (mq.clone(), OffsetWrapper { broker_offset: b, consumer_offset: c, last_timestamp: l }))
            .collect();
        round_trip(&ConsumeStats { consume_tps: tps as f64 / 4.0, offset_table });
        let stats = wrappers
            .into_iter()
            .map(|(mq, (a, b, c))| (mq, TopicOffset { last_update_timestamp: a, max_offset: b, min_offset: c }))
            .collect();
        round_trip(&TopicStatsTable { offset_table: stats });
    }

    #[test]
    fn admin_bodies_round_trip(
        names in btree_set(name(), 0..4),
        table in btree_map(name(), name(), 0..4),
        group in name(),
        retry in any::<i32>(),
    ) {
        round_trip(&TopicList { broker_addr: None, topic_list: names.clone() });
        round_trip(&TopicList { broker_addr: Some("a:1".into()), topic_list: names.clone() });
        round_trip(&GroupList { group_list: names.clone() });
        round_trip(&KvTable { table });
        round_trip(&ConsumerListByGroupResponseBody { consumer_id_list: names.iter().cloned().collect() });
        round_trip(&ClusterInfo {
            broker_addr_table: BTreeMap::new(),
            cluster_addr_table: [("DefaultCluster".to_owned(), names)].into(),
        });
        let mut config = SubscriptionGroupConfig::new(group);
        config.retry_max_times = retry;
        round_trip(&config);
    }

    #[test]
    fn garbage_never_panics(bytes in vec(any::<u8>(), 0..256)) {
        let _ = normalize(&bytes);
        let _ = decode_json::<HeartbeatData>(&bytes);
        let _ = decode_json::<TopicRouteData>(&bytes);
        let _ = decode_json::<RegisterBrokerBody>(&bytes);
        let _ = decode_json::<ConsumeStats>(&bytes);
        let _ = decode_json::<OffsetSerializeWrapper>(&bytes);
        let _ = RegisterBrokerBody::decode(&bytes, true);
    }

    #[test]
    fn mutated_and_truncated_bodies_never_panic(
        value in heartbeat(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = encode_json(&value).unwrap();
        let at = cut.index(bytes.len());
        bytes[at] = byte;
        let _ = decode_json::<HeartbeatData>(&bytes);
        // A strict prefix of a JSON object is never a whole JSON value.
        prop_assert!(decode_json::<HeartbeatData>(&bytes[..at]).is_err());
    }
}

#[test]
fn garbage_is_a_json_error() {
    for input in [
        &b""[..],
        b"{",
        b"not json",
        b"[1,2]",
        b"{\"clientID\":5}",
        b"\xff\xfe",
    ] {
        assert!(matches!(
            decode_json::<HeartbeatData>(input),
            Err(BodyError::Json(_))
        ));
    }
}

#[test]
fn damaged_compressed_register_bodies_are_rejected() {
    let body = RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion::default().next(1_700_000_000_000),
            topic_config_table: [("T".to_owned(), TopicConfig::new("T", 4))].into(),
        },
    };
    let compressed = body.encode(true).unwrap();
    assert_eq!(RegisterBrokerBody::decode(&compressed, true).unwrap(), body);
    for cut in [0, 1, 5, compressed.len() / 2, compressed.len() - 1] {
        assert!(
            RegisterBrokerBody::decode(&compressed[..cut], true).is_err(),
            "cut at {cut}"
        );
    }
    assert!(matches!(
        RegisterBrokerBody::decode(b"plainly not zlib", true),
        Err(BodyError::Compressed(_))
    ));
}

#[test]
fn topic_config_text_form_matches_java() {
    let config = TopicConfig::new("TopicTest", 4);
    assert_eq!(config.encode(), "TopicTest 4 4 6 SINGLE_TAG");
    assert_eq!(
        TopicConfig::decode("TopicTest 4 4 6 SINGLE_TAG"),
        Some(config)
    );
    assert_eq!(TopicConfig::decode("TopicTest 4 4 6"), None);
    assert_eq!(TopicConfig::decode("TopicTest x 4 6 SINGLE_TAG"), None);
    assert_eq!(TopicConfig::decode("TopicTest 4 4 6 OTHER"), None);
}

#[test]
fn subscription_group_defaults_match_java() {
    let config: SubscriptionGroupConfig = decode_json(br#"{"groupName":"g"}"#).unwrap();
    assert_eq!(config.group_name, "g");
    assert!(config.consume_enable && config.consume_from_min_enable);
    assert!(config.consume_broadcast_enable && config.notify_consumer_ids_changed_enable);
    assert_eq!((config.retry_queue_nums, config.retry_max_times), (1, 16));
    assert_eq!(
        (config.broker_id, config.which_broker_when_consume_slowly),
        (0, 1)
    );
}

#[test]
fn tag_subscriptions_hash_tags_like_java() {
    let sub = SubscriptionData::tag("T", "TagA || TagB", 7);
    assert_eq!(sub.sub_string, "TagA || TagB");
    assert_eq!(
        sub.tags_set,
        BTreeSet::from(["TagA".to_owned(), "TagB".to_owned()])
    );
    // "TagA".hashCode() == 2598919 (spec §2.6 example)
    assert!(sub.code_set.contains(&2_598_919));
    let all = SubscriptionData::tag("T", "*", 7);
    assert!(all.is_all() && all.tags_set.is_empty());
}

#[test]
fn unknown_fields_are_ignored_and_missing_ones_default() {
    let beat: HeartbeatData = decode_json(
        br#"{"clientID":"c","heartbeatFingerprint":0,"withoutSub":false,"consumerDataSet":[{"groupName":"g"}]}"#,
    )
    .unwrap();
    assert_eq!(beat.client_id, "c");
    let consumer = &beat.consumer_data_set[0];
    assert_eq!(consumer.message_model, MessageModel::Clustering);
    assert!(consumer.subscription_data_set.is_empty());
}

#[test]
fn connection_and_check_client_bodies_decode_java_json() {
    let java = br#"{"connectionSet":[{"clientAddr":"10.0.0.9:53211","clientId":"10.0.0.9@1234","language":"JAVA","version":409}],"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"T":{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1,"tagsSet":[],"topic":"T"}}}"#;
    let connection: ConsumerConnection = decode_json(java).unwrap();
    assert_eq!(connection.connection_set[0].version, 409);
    assert_eq!(connection.message_model, Some(MessageModel::Clustering));
    assert!(connection.subscription_table["T"].is_all());
    round_trip(&connection);

    let check = CheckClientRequestBody {
        client_id: "c".into(),
        group: "g".into(),
        subscription_data: SubscriptionData {
            expression_type: EXPRESSION_TYPE_SQL92.into(),
            sub_string: "a > 1".into(),
            topic: "T".into(),
            ..SubscriptionData::default()
        },
    };
    round_trip(&check);
    round_trip(&ProducerConnection::default());
}
