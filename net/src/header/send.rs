//! Headers of SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE
//! (320) and their response (spec §2.3).
//!
//! V1 uses the Java field names, V2 the same data under one-letter keys
//! `a`..`n` to save header bytes. Both convert into each other with `From`,
//! so a broker can read either and work with [`SendMessageRequestHeader`].

use crate::command_header;

command_header! {
    /// `SendMessageRequestHeader`: the long-name send header (codes 10, 320
    /// from some clients).
    pub struct SendMessageRequestHeader {
        /// `producerGroup`.
        pub producer_group: String = "producerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `defaultTopic`: the auto-create template topic, normally `TBW102`.
        pub default_topic: String = "defaultTopic",
        /// `defaultTopicQueueNums`: queues to create when auto-creating.
        pub default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// `queueId`: target queue, `< 0` lets the broker choose.
        pub queue_id: i32 = "queueId",
        /// `sysFlag`: message sysflag (compression, transaction type).
        pub sys_flag: i32 = "sysFlag",
        /// `bornTimestamp`: ms since the epoch, set by the client.
        pub born_timestamp: i64 = "bornTimestamp",
        /// `flag`: user flag, stored verbatim.
        pub flag: i32 = "flag",
        /// `properties`: the 0x01/0x02 property string.
        pub properties: Option<String> = "properties",
        /// `reconsumeTimes`: only for `%RETRY%` sends.
        pub reconsume_times: Option<i32> = "reconsumeTimes",
        /// `unitMode` (Java primitive, default false).
        pub unit_mode: bool = "unitMode" or_default,
        /// `batch` (Java primitive, default false).
        pub batch: bool = "batch" or_default,
        /// `maxReconsumeTimes`: only for `%RETRY%` sends.
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// `bname`: target broker name (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `SendMessageRequestHeaderV2`: the same data as
    /// [`SendMessageRequestHeader`] under one-letter keys (codes 310, 320).
    pub struct SendMessageRequestHeaderV2 {
        /// `a` = producerGroup.
        pub producer_group: String = "a",
        /// `b` = topic.
        pub topic: String = "b",
        /// `c` = defaultTopic.
        pub default_topic: String = "c",
        /// `d` = defaultTopicQueueNums.
        pub default_topic_queue_nums: i32 = "d",
        /// `e` = queueId.
        pub queue_id: i32 = "e",
        /// `f` = sysFlag.
        pub sys_flag: i32 = "f",
        /// `g` = bornTimestamp.
        pub born_timestamp: i64 = "g",
        /// `h` = flag.
        pub flag: i32 = "h",
        /// `i` = properties.
        pub properties: Option<String> = "i",
        /// `j` = reconsumeTimes.
        pub reconsume_times: Option<i32> = "j",
        /// `k` = unitMode (Java primitive, default false).
        pub unit_mode: bool = "k" or_default,
        /// `l` = maxReconsumeTimes.
        pub max_reconsume_times: Option<i32> = "l",
        /// `m` = batch (Java primitive, default false).
        pub batch: bool = "m" or_default,
        /// `n` = brokerName (4.9.5+).
        pub broker_name: Option<String> = "n",
        /// `bname`: target broker name (4.9.5+ `RpcRequestHeader`).
        pub bname: Option<String> = "bname",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        Self {
            producer_group: v2.producer_group,
            topic: v2.topic,
            default_topic: v2.default_topic,
            default_topic_queue_nums: v2.default_topic_queue_nums,
            queue_id: v2.queue_id,
            sys_flag: v2.sys_flag,
            born_timestamp: v2.born_timestamp,
            flag: v2.flag,
            properties: v2.properties,
            reconsume_times: v2.reconsume_times,
            unit_mode: v2.unit_mode,
            batch: v2.batch,
            max_reconsume_times: v2.max_reconsume_times,
            bname: v2.bname.or(v2.broker_name),
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        Self {
            producer_group: v1.producer_group,
            topic: v1.topic,
            default_topic: v1.default_topic,
            default_topic_queue_nums: v1.default_topic_queue_nums,
            queue_id: v1.queue_id,
            sys_flag: v1.sys_flag,
            born_timestamp: v1.born_timestamp,
            flag: v1.flag,
            properties: v1.properties,
            reconsume_times: v1.reconsume_times,
            unit_mode: v1.unit_mode,
            max_reconsume_times: v1.max_reconsume_times,
            batch: v1.batch,
            broker_name: v1.bname.clone(),
            bname: v1.bname,
        }
    }
}

command_header! {
    /// `SendMessageResponseHeader`, plus the two extra fields a broker adds
    /// to every send response (`MSG_REGION`, `TRACE_ON`).
    pub struct SendMessageResponseHeader {
        /// `msgId`: offset message id of the stored record; for a batch, a
        /// comma-separated list.
        pub msg_id: String = "msgId",
        /// `queueId`: the queue actually used.
        pub queue_id: i32 = "queueId",
        /// `queueOffset`: consume-queue offset (the first one for a batch).
        pub queue_offset: i64 = "queueOffset",
        /// `transactionId`: set for transactional half messages.
        pub transaction_id: Option<String> = "transactionId",
        /// `MSG_REGION`: the broker's region id, default `DefaultRegion`.
        pub msg_region: Option<String> = "MSG_REGION",
        /// `TRACE_ON`: whether the broker has message tracing on.
        pub trace_on: Option<bool> = "TRACE_ON",
    }
}

/// The default value of `MSG_REGION` (the broker config `regionId`).
pub const DEFAULT_REGION: &str = "DefaultRegion";
