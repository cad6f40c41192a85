//! [`MessageQueue`] and the bodies of LOCK_BATCH_MQ (41) and
//! UNLOCK_BATCH_MQ (42) (spec §2.7).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One queue of a topic on one broker: `(topic, brokerName, queueId)`.
///
/// Ordered like Java's `MessageQueue.compareTo`: topic, then broker name,
/// then queue id. JSON: `{"brokerName":"b","queueId":0,"topic":"t"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    /// `brokerName`.
    pub broker_name: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `topic`.
    pub topic: String,
}

impl MessageQueue {
    /// A queue from its three parts.
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        Self {
            broker_name: broker_name.into(),
            queue_id,
            topic: topic.into(),
        }
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.topic
            .cmp(&other.topic)
            .then_with(|| self.broker_name.cmp(&other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Java's `toString()`: `MessageQueue [topic=T, brokerName=B, queueId=Q]`.
impl fmt::Display for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// `LockBatchRequestBody` (41): lock these queues for this client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    /// `clientId`.
    pub client_id: String,
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `mqSet`: the queues to lock.
    pub mq_set: BTreeSet<MessageQueue>,
    /// `onlyThisBroker`: do not forward to other brokers (4.9.x+).
    pub only_this_broker: bool,
}

/// `LockBatchResponseBody` (41): the queues now locked by the client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// `lockOKMQSet`.
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}

/// `UnlockBatchRequestBody` (42): release these queues.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UnlockBatchRequestBody {
    /// `clientId`.
    pub client_id: String,
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `mqSet`: the queues to unlock.
    pub mq_set: BTreeSet<MessageQueue>,
    /// `onlyThisBroker`.
    pub only_this_broker: bool,
}
