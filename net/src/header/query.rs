//! Headers of QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33) (spec §2.13).

use crate::command_header;

command_header! {
    /// `QueryMessageRequestHeader` (12), plus the extra `_UNIQUE_KEY_QUERY`
    /// field that marks `key` as a `UNIQ_KEY`.
    pub struct QueryMessageRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `key`: a message key or, with `_UNIQUE_KEY_QUERY`, a `UNIQ_KEY`.
        pub key: String = "key",
        /// `maxNum`: most messages to return.
        pub max_num: i32 = "maxNum",
        /// `beginTimestamp`, ms.
        pub begin_timestamp: i64 = "beginTimestamp",
        /// `endTimestamp`, ms.
        pub end_timestamp: i64 = "endTimestamp",
        /// `_UNIQUE_KEY_QUERY`: `"true"` when `key` is a `UNIQ_KEY`.
        pub unique_key_query: Option<bool> = "_UNIQUE_KEY_QUERY",
    }
}

command_header! {
    /// `QueryMessageResponseHeader` (12).
    pub struct QueryMessageResponseHeader {
        /// `indexLastUpdateTimestamp`.
        pub index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        /// `indexLastUpdatePhyoffset`.
        pub index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// `ViewMessageRequestHeader` (33, VIEW_MESSAGE_BY_ID).
    pub struct ViewMessageRequestHeader {
        /// `offset`: the record's commit-log physical offset.
        pub offset: i64 = "offset",
    }
}
