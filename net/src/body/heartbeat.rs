//! The HEART_BEAT (34) body: who a client is, its producer groups and its
//! consumer groups with their subscriptions (spec §2.6).
//!
//! Enums travel as their Java names (`"CONSUME_PASSIVELY"`); sets are JSON
//! arrays (we keep them sorted).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::hash::java_string_hash;

/// `HeartbeatData`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatData {
    /// `clientID`: `ip@instanceName[@unitName]`.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// `consumerDataSet`.
    pub consumer_data_set: Vec<ConsumerData>,
    /// `producerDataSet`.
    pub producer_data_set: Vec<ProducerData>,
}

/// `ProducerData`: one producer group of the client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    /// `groupName`.
    pub group_name: String,
}

/// `ConsumerData`: one consumer group of the client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    /// `consumeFromWhere`.
    pub consume_from_where: ConsumeFromWhere,
    /// `consumeType`.
    pub consume_type: ConsumeType,
    /// `groupName`.
    pub group_name: String,
    /// `messageModel`.
    pub message_model: MessageModel,
    /// `subscriptionDataSet`.
    pub subscription_data_set: Vec<SubscriptionData>,
    /// `unitMode`.
    pub unit_mode: bool,
}

/// `SubscriptionData`: one topic subscription with its filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    /// `classFilterMode` (obsolete filter servers).
    pub class_filter_mode: bool,
    /// `codeSet`: Java `String.hashCode` of each tag.
    pub code_set: BTreeSet<i32>,
    /// `expressionType`: `TAG` or `SQL92`.
    pub expression_type: String,
    /// `subString`: the expression; `*` = everything.
    pub sub_string: String,
    /// `subVersion`: ms timestamp of the subscription.
    pub sub_version: i64,
    /// `tagsSet`.
    pub tags_set: BTreeSet<String>,
    /// `topic`.
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        Self {
            class_filter_mode: false,
            code_set: BTreeSet::new(),
            expression_type: EXPRESSION_TYPE_TAG.to_owned(),
            sub_string: SUB_ALL.to_owned(),
            sub_version: 0,
            tags_set: BTreeSet::new(),
            topic: String::new(),
        }
    }
}

/// `subString` that matches every message.
pub const SUB_ALL: &str = "*";
/// `expressionType` of tag filters.
pub const EXPRESSION_TYPE_TAG: &str = "TAG";
/// `expressionType` of SQL92 property filters.
pub const EXPRESSION_TYPE_SQL92: &str = "SQL92";

impl SubscriptionData {
    /// Builds a TAG subscription like Java's `FilterAPI.buildSubscriptionData`:
    /// an empty or `*` expression subscribes to everything; otherwise the
    /// expression is kept as `subString` and split on `||`, and each trimmed
    /// non-empty tag goes into `tagsSet` and its hash into `codeSet`.
    pub fn tag(topic: impl Into<String>, expression: &str, sub_version: i64) -> Self {
        let mut data = Self {
            topic: topic.into(),
            sub_version,
            ..Self::default()
        };
        if expression.is_empty() || expression == SUB_ALL {
            return data;
        }
        data.sub_string = expression.to_owned();
        for tag in expression
            .split("||")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            data.code_set.insert(java_string_hash(tag));
            data.tags_set.insert(tag.to_owned());
        }
        data
    }

    /// Whether this subscription takes every message (`*` or empty).
    pub fn is_all(&self) -> bool {
        let sub = self.sub_string.trim();
        sub.is_empty() || sub == SUB_ALL
    }
}

/// `ConsumeType`: pull (`CONSUME_ACTIVELY`) or push (`CONSUME_PASSIVELY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeType {
    /// Pull consumer.
    ConsumeActively,
    /// Push consumer.
    #[default]
    ConsumePassively,
    /// 5.x POP consumer.
    ConsumePop,
}

/// `MessageModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageModel {
    /// Every consumer of the group gets every message.
    Broadcasting,
    /// Each message goes to one consumer of the group.
    #[default]
    Clustering,
}

/// `ConsumeFromWhere`: where a group with no stored offset starts (§7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeFromWhere {
    /// The queue's end (the default).
    #[default]
    ConsumeFromLastOffset,
    /// Deprecated, treated as last offset.
    ConsumeFromLastOffsetAndFromMinWhenBootFirst,
    /// Deprecated, treated as last offset.
    ConsumeFromMinOffset,
    /// Deprecated, treated as last offset.
    ConsumeFromMaxOffset,
    /// The queue's start.
    ConsumeFromFirstOffset,
    /// The first message stored at or after the consumer's timestamp.
    ConsumeFromTimestamp,
}

/// `CheckClientRequestBody` (CHECK_CLIENT_CONFIG, 46): sent before a
/// heartbeat for non-TAG (SQL92) subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckClientRequestBody {
    /// `clientId`.
    pub client_id: String,
    /// `group`.
    pub group: String,
    /// `subscriptionData`.
    pub subscription_data: SubscriptionData,
}
