//! Headers of the offset calls: QUERY_CONSUMER_OFFSET (14),
//! UPDATE_CONSUMER_OFFSET (15), SEARCH_OFFSET_BY_TIMESTAMP (29),
//! GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32)
//! (spec §2.5).

use crate::command_header;

command_header! {
    /// `QueryConsumerOffsetRequestHeader` (14).
    pub struct QueryConsumerOffsetRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `QueryConsumerOffsetResponseHeader` (14).
    pub struct QueryConsumerOffsetResponseHeader {
        /// `offset`: the committed offset (next message to consume).
        pub offset: i64 = "offset",
    }
}

command_header! {
    /// `UpdateConsumerOffsetRequestHeader` (15, usually one-way). The
    /// response has no header.
    pub struct UpdateConsumerOffsetRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `commitOffset`: next offset to consume.
        pub commit_offset: i64 = "commitOffset",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `GetMaxOffsetRequestHeader` (30).
    pub struct GetMaxOffsetRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `committed` (5.x clients; Java default true).
        pub committed: Option<bool> = "committed",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `GetMaxOffsetResponseHeader` (30).
    pub struct GetMaxOffsetResponseHeader {
        /// `offset`: max logical offset (next to be written).
        pub offset: i64 = "offset",
    }
}

command_header! {
    /// `GetMinOffsetRequestHeader` (31).
    pub struct GetMinOffsetRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `GetMinOffsetResponseHeader` (31).
    pub struct GetMinOffsetResponseHeader {
        /// `offset`: min logical offset.
        pub offset: i64 = "offset",
    }
}

command_header! {
    /// `SearchOffsetRequestHeader` (29).
    pub struct SearchOffsetRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `timestamp`: ms since the epoch.
        pub timestamp: i64 = "timestamp",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `SearchOffsetResponseHeader` (29).
    pub struct SearchOffsetResponseHeader {
        /// `offset`: first consume-queue index whose store time is >= the
        /// requested timestamp.
        pub offset: i64 = "offset",
    }
}

command_header! {
    /// `GetEarliestMsgStoretimeRequestHeader` (32).
    pub struct GetEarliestMsgStoretimeRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `GetEarliestMsgStoretimeResponseHeader` (32).
    pub struct GetEarliestMsgStoretimeResponseHeader {
        /// `timestamp`: store time of the queue's first message, ms.
        pub timestamp: i64 = "timestamp",
    }
}
