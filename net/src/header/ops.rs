//! Headers of the operator calls added for `ringmq admin` and any RocketMQ
//! 4.x admin tool: producer connections (204), broker configuration (25,
//! 26), consume time span (303), and ringmq's own throttle call (see
//! docs/wire-format.md).

use crate::command_header;

command_header! {
    /// `GetProducerConnectionListRequestHeader` (204). Reply body:
    /// [`crate::body::ProducerConnection`].
    pub struct GetProducerConnectionListRequestHeader {
        /// `producerGroup`.
        pub producer_group: String = "producerGroup",
    }
}

command_header! {
    /// `GetBrokerConfigResponseHeader` (26). Body: the configuration as
    /// Java properties text (`key=value` lines).
    pub struct GetBrokerConfigResponseHeader {
        /// `version`: the broker's `DataVersion` as JSON.
        pub version: Option<String> = "version",
    }
}

command_header! {
    /// `QueryConsumeTimeSpanRequestHeader` (303). Reply body:
    /// [`crate::body::QueryConsumeTimeSpanBody`].
    pub struct QueryConsumeTimeSpanRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `group`.
        pub group: String = "group",
    }
}
