//! Bodies of nameserver queries and broker admin calls: [`ClusterInfo`]
//! (106), [`TopicList`] (206, 224, 304), [`KvTable`] (219, register reply,
//! runtime info), [`SubscriptionGroupConfig`] (200, 201),
//! [`ConsumeStats`] (208), [`TopicStatsTable`] (202), [`GroupList`] (300),
//! [`ConsumerConnection`] (203), [`ProducerConnection`] (204)
//! (spec §2.10, §2.11).
//!
//! The stats bodies are keyed by [`MessageQueue`] objects, which fastjson
//! writes as bare object keys; see [`super::fastjson::object_keys`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::fastjson::object_keys;
use super::{
    BrokerData, ConsumeFromWhere, ConsumeType, MessageModel, MessageQueue, SubscriptionData,
};

/// `ClusterInfo` (GET_BROKER_CLUSTER_INFO reply).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    /// `brokerAddrTable`: broker name -> its addresses.
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// `clusterAddrTable`: cluster name -> broker names.
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

/// `TopicList`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    /// `brokerAddr`: set by GET_SYSTEM_TOPIC_LIST_FROM_NS.
    pub broker_addr: Option<String>,
    /// `topicList`.
    pub topic_list: BTreeSet<String>,
}

/// `KVTable`: a flat string map.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    /// `table`.
    pub table: BTreeMap<String, String>,
}

/// `GroupList` (QUERY_TOPIC_CONSUME_BY_WHO reply).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    /// `groupList`.
    pub group_list: BTreeSet<String>,
}

/// `SubscriptionGroupConfig`: a consumer group as the broker knows it.
/// Defaults as in Java (§2.11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// `brokerId`: broker to consume from normally (0 = master).
    pub broker_id: i64,
    /// `consumeBroadcastEnable`.
    pub consume_broadcast_enable: bool,
    /// `consumeEnable`.
    pub consume_enable: bool,
    /// `consumeFromMinEnable`.
    pub consume_from_min_enable: bool,
    /// `groupName`.
    pub group_name: String,
    /// `notifyConsumerIdsChangedEnable`.
    pub notify_consumer_ids_changed_enable: bool,
    /// `retryMaxTimes`: deliveries before a message goes to the DLQ.
    pub retry_max_times: i32,
    /// `retryQueueNums`: queues of `%RETRY%<group>`.
    pub retry_queue_nums: i32,
    /// `whichBrokerWhenConsumeSlowly`.
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        Self {
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            group_name: String::new(),
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    /// The default config for `group_name`.
    pub fn new(group_name: impl Into<String>) -> Self {
        Self {
            group_name: group_name.into(),
            ..Self::default()
        }
    }
}

/// `OffsetWrapper`: one queue's offsets in [`ConsumeStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// `brokerOffset`: the queue's max offset.
    pub broker_offset: i64,
    /// `consumerOffset`: the group's committed offset.
    pub consumer_offset: i64,
    /// `lastTimestamp`: store time of the last consumed message, ms.
    pub last_timestamp: i64,
}

/// `ConsumeStats` (GET_CONSUME_STATS reply).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStats {
    /// `consumeTps`.
    pub consume_tps: f64,
    /// `offsetTable`: queue -> offsets (object keys).
    #[serde(with = "object_keys")]
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

impl ConsumeStats {
    /// Sum over queues of `brokerOffset - consumerOffset`.
    pub fn total_diff(&self) -> i64 {
        self.offset_table
            .values()
            .map(|w| w.broker_offset.saturating_sub(w.consumer_offset))
            .fold(0, i64::saturating_add)
    }
}

/// `TopicOffset`: one queue's bounds in [`TopicStatsTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    /// `lastUpdateTimestamp`, ms.
    pub last_update_timestamp: i64,
    /// `maxOffset`.
    pub max_offset: i64,
    /// `minOffset`.
    pub min_offset: i64,
}

/// `TopicStatsTable` (GET_TOPIC_STATS_INFO reply).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStatsTable {
    /// `offsetTable`: queue -> bounds (object keys).
    #[serde(with = "object_keys")]
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
}

/// `Connection`: one client channel as the broker sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// `clientAddr`: the peer's `ip:port`.
    pub client_addr: String,
    /// `clientId`.
    pub client_id: String,
    /// `language`: `LanguageCode` name, e.g. `JAVA`.
    pub language: String,
    /// `version`: the client's `MQVersion` ordinal.
    pub version: i32,
}

/// `ConsumerConnection` (GET_CONSUMER_CONNECTION_LIST reply).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    /// `connectionSet`.
    pub connection_set: Vec<Connection>,
    /// `consumeFromWhere`.
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// `consumeType`.
    pub consume_type: Option<ConsumeType>,
    /// `messageModel`.
    pub message_model: Option<MessageModel>,
    /// `subscriptionTable`: topic -> subscription.
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

/// `ProducerConnection` (GET_PRODUCER_CONNECTION_LIST reply).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    /// `connectionSet`.
    pub connection_set: Vec<Connection>,
}
