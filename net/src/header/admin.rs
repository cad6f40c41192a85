//! Headers of broker admin calls made by operator tools: topic creation and
//! deletion, consume and topic stats, group and connection queries (spec
//! §2.11, §2.1). INVOKE_BROKER_TO_RESET_OFFSET (222) uses
//! [`super::ResetOffsetRequestHeader`].

use crate::command_header;

command_header! {
    /// `CreateTopicRequestHeader` (17, UPDATE_AND_CREATE_TOPIC).
    pub struct CreateTopicRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `defaultTopic`: ignored, conventionally `TBW102`.
        pub default_topic: String = "defaultTopic",
        /// `readQueueNums`.
        pub read_queue_nums: i32 = "readQueueNums",
        /// `writeQueueNums`.
        pub write_queue_nums: i32 = "writeQueueNums",
        /// `perm`: `PermName` bits (6 = read + write).
        pub perm: i32 = "perm",
        /// `topicFilterType`: `SINGLE_TAG` or `MULTI_TAG`.
        pub topic_filter_type: String = "topicFilterType",
        /// `topicSysFlag`.
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        /// `order`.
        pub order: bool = "order",
        /// `attributes` (RocketMQ 5): changes to the topic's attributes,
        /// e.g. `+message.type=FIFO` ([`crate::topic_attributes`]).
        pub attributes: Option<String> = "attributes",
    }
}

command_header! {
    /// `DeleteTopicRequestHeader` (215, DELETE_TOPIC_IN_BROKER).
    pub struct DeleteTopicRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
    }
}

command_header! {
    /// `GetConsumeStatsRequestHeader` (208). Reply body:
    /// [`crate::body::ConsumeStats`].
    pub struct GetConsumeStatsRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`: only this topic when set.
        pub topic: Option<String> = "topic",
    }
}

command_header! {
    /// `GetTopicStatsInfoRequestHeader` (202). Reply body:
    /// [`crate::body::TopicStatsTable`].
    pub struct GetTopicStatsInfoRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
    }
}

command_header! {
    /// `GetConsumerConnectionListRequestHeader` (203).
    pub struct GetConsumerConnectionListRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// `DeleteSubscriptionGroupRequestHeader` (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        /// `groupName`.
        pub group_name: String = "groupName",
        /// `removeOffset` (Java primitive, default false).
        pub remove_offset: bool = "removeOffset" or_default,
    }
}

command_header! {
    /// `QueryTopicConsumeByWhoRequestHeader` (300). Reply body:
    /// [`crate::body::GroupList`].
    pub struct QueryTopicConsumeByWhoRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
    }
}
