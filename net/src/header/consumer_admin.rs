//! Headers of the calls a broker makes to a client on the client's own
//! connection, on behalf of admin tools (spec §2.14). CHECK_TRANSACTION_STATE
//! is in [`super::transaction`], NOTIFY_CONSUMER_IDS_CHANGED in
//! [`super::client`].

use crate::command_header;

command_header! {
    /// `GetConsumerRunningInfoRequestHeader` (307). Reply body:
    /// [`crate::body::ConsumerRunningInfo`].
    pub struct GetConsumerRunningInfoRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `clientId`.
        pub client_id: String = "clientId",
        /// `jstackEnable` (Java primitive, default false).
        pub jstack_enable: bool = "jstackEnable" or_default,
    }
}

command_header! {
    /// `ConsumeMessageDirectlyResultRequestHeader` (309). Body: the raw
    /// record; reply body [`crate::body::ConsumeMessageDirectlyResult`].
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `clientId`.
        pub client_id: Option<String> = "clientId",
        /// `msgId`.
        pub msg_id: Option<String> = "msgId",
        /// `brokerName`.
        pub broker_name: Option<String> = "brokerName",
    }
}

command_header! {
    /// `ResetOffsetRequestHeader` (220, RESET_CONSUMER_CLIENT_OFFSET). Body:
    /// [`crate::body::ResetOffsetBody`].
    pub struct ResetOffsetRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `group`.
        pub group: String = "group",
        /// `timestamp`, ms.
        pub timestamp: i64 = "timestamp",
        /// `isForce`.
        pub is_force: bool = "isForce",
    }
}

command_header! {
    /// `GetConsumerStatusRequestHeader` (221, GET_CONSUMER_STATUS_FROM_CLIENT,
    /// and 223 INVOKE_BROKER_TO_GET_CONSUMER_STATUS). Reply body:
    /// [`crate::body::GetConsumerStatusBody`].
    pub struct GetConsumerStatusRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `group`.
        pub group: String = "group",
        /// `clientAddr`: only this client when set.
        pub client_addr: Option<String> = "clientAddr",
    }
}
