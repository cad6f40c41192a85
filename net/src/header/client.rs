//! Headers a client sends about itself and its groups: UNREGISTER_CLIENT
//! (35), GET_CONSUMER_LIST_BY_GROUP (38), CONSUMER_SEND_MSG_BACK (36), and
//! the broker's NOTIFY_CONSUMER_IDS_CHANGED (40) (spec §2.6, §2.7).
//! HEART_BEAT (34), LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) carry no
//! header, only a JSON body (see [`crate::body`]).

use crate::command_header;

command_header! {
    /// `UnregisterClientRequestHeader` (35).
    pub struct UnregisterClientRequestHeader {
        /// `clientID`.
        pub client_id: String = "clientID",
        /// `producerGroup`.
        pub producer_group: Option<String> = "producerGroup",
        /// `consumerGroup`.
        pub consumer_group: Option<String> = "consumerGroup",
    }
}

command_header! {
    /// `GetConsumerListByGroupRequestHeader` (38). The reply body is
    /// [`crate::body::ConsumerListByGroupResponseBody`].
    pub struct GetConsumerListByGroupRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `NotifyConsumerIdsChangedRequestHeader` (40, broker → client, one-way).
    pub struct NotifyConsumerIdsChangedRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// `ConsumerSendMsgBackRequestHeader` (36).
    pub struct ConsumerSendMsgBackRequestHeader {
        /// `offset`: commit-log physical offset of the failed message.
        pub offset: i64 = "offset",
        /// `group`: the consumer group.
        pub group: String = "group",
        /// `delayLevel`: 0 = broker chooses, < 0 = straight to the DLQ.
        pub delay_level: i32 = "delayLevel",
        /// `originMsgId`: original (offset) message id.
        pub origin_msg_id: Option<String> = "originMsgId",
        /// `originTopic`: topic of the message as consumed.
        pub origin_topic: Option<String> = "originTopic",
        /// `unitMode` (Java primitive, default false).
        pub unit_mode: bool = "unitMode" or_default,
        /// `maxReconsumeTimes`: the client's limit (default 16).
        pub max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}
