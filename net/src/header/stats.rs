//! Headers of the broker statistics calls: VIEW_BROKER_STATS_DATA (315)
//! and GET_BROKER_CONSUME_STATS (317), as Java 4.9's
//! `ViewBrokerStatsDataRequestHeader` and `GetConsumeStatsInBrokerHeader`.

use crate::command_header;

command_header! {
    /// `ViewBrokerStatsDataRequestHeader` (315). Reply body:
    /// [`crate::body::BrokerStatsData`].
    pub struct ViewBrokerStatsDataRequestHeader {
        /// `statsName`: e.g. `TOPIC_PUT_NUMS`, `GROUP_GET_NUMS`.
        pub stats_name: String = "statsName",
        /// `statsKey`: a topic, `topic@group`, or the cluster name.
        pub stats_key: String = "statsKey",
    }
}

command_header! {
    /// `GetConsumeStatsInBrokerHeader` (317). Reply body:
    /// [`crate::body::ConsumeStatsList`].
    pub struct GetConsumeStatsInBrokerHeader {
        /// `isOrder`: only topics configured as ordered.
        pub is_order: bool = "isOrder" or_default,
        /// `timeoutMillis`: the caller's timeout (informational).
        pub timeout_millis: Option<i64> = "timeoutMillis",
    }
}
