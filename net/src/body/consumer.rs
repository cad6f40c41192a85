//! Bodies about consumers: the consumer list (38), offset reset (220, 222),
//! consumer status (221, 223), running info (307), direct consumption
//! (309), and the broadcasting consumer's local offset file
//! [`OffsetSerializeWrapper`] (spec §2.7, §2.14, §7.5).
//!
//! Offset tables are keyed by [`MessageQueue`] objects, which fastjson
//! writes as bare object keys; see [`super::fastjson::object_keys`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fastjson::{ObjectKeyMap, object_keys};
use super::{MessageQueue, SubscriptionData};

/// `GetConsumerListByGroupResponseBody` (38): client ids of a group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerListByGroupResponseBody {
    /// `consumerIdList`.
    pub consumer_id_list: Vec<String>,
}

/// `ResetOffsetBody` (220): the offsets a consumer must jump to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResetOffsetBody {
    /// `offsetTable`: queue -> offset (object keys).
    #[serde(with = "object_keys")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

/// `OffsetSerializeWrapper`: the broadcasting consumer's
/// `offsets.json` (§7.5).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetSerializeWrapper {
    /// `offsetTable`: queue -> next offset to consume (object keys).
    #[serde(with = "object_keys")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

/// `GetConsumerStatusBody` (221, 223).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerStatusBody {
    /// `consumerTable`: client id -> its queue offsets.
    pub consumer_table: BTreeMap<String, ObjectKeyMap<MessageQueue, i64>>,
    /// `messageQueueTable`: queue -> offset (one client's answer).
    #[serde(with = "object_keys")]
    pub message_queue_table: BTreeMap<MessageQueue, i64>,
}

/// `ConsumerRunningInfo` (307), minimal: what admin tools print. The
/// per-queue and per-topic statistics are kept as raw JSON values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerRunningInfo {
    /// `jstack`: thread dump, when asked for.
    pub jstack: Option<String>,
    /// `mqTable`: queue -> `ProcessQueueInfo` (object keys).
    #[serde(with = "object_keys")]
    pub mq_table: BTreeMap<MessageQueue, serde_json::Value>,
    /// `properties`: consumer settings and start time.
    pub properties: BTreeMap<String, String>,
    /// `statusTable`: topic -> `ConsumeStatus`.
    pub status_table: BTreeMap<String, serde_json::Value>,
    /// `subscriptionSet`.
    pub subscription_set: Vec<SubscriptionData>,
}

/// `ConsumeMessageDirectlyResult` (309 reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeMessageDirectlyResult {
    /// `autoCommit`.
    pub auto_commit: bool,
    /// `consumeResult`.
    pub consume_result: Option<ConsumeDirectlyOutcome>,
    /// `order`: consumed by an orderly listener.
    pub order: bool,
    /// `remark`.
    pub remark: Option<String>,
    /// `spentTimeMills` (sic).
    pub spent_time_mills: i64,
}

impl Default for ConsumeMessageDirectlyResult {
    fn default() -> Self {
        Self {
            auto_commit: true,
            consume_result: None,
            order: false,
            remark: None,
            spent_time_mills: 0,
        }
    }
}

/// `CMResult`: how a directly consumed message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConsumeDirectlyOutcome {
    /// `CR_SUCCESS`.
    #[serde(rename = "CR_SUCCESS")]
    Success,
    /// `CR_LATER`.
    #[serde(rename = "CR_LATER")]
    Later,
    /// `CR_ROLLBACK`.
    #[serde(rename = "CR_ROLLBACK")]
    Rollback,
    /// `CR_COMMIT`.
    #[serde(rename = "CR_COMMIT")]
    Commit,
    /// `CR_THROW_EXCEPTION`.
    #[serde(rename = "CR_THROW_EXCEPTION")]
    ThrowException,
    /// `CR_RETURN_NULL`.
    #[serde(rename = "CR_RETURN_NULL")]
    ReturnNull,
}
