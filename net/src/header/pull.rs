//! Headers of PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), which share
//! request and response headers (spec §2.4, §10).

use crate::command_header;

command_header! {
    /// `PullMessageRequestHeader`.
    pub struct PullMessageRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `queueOffset`: logical offset to start from.
        pub queue_offset: i64 = "queueOffset",
        /// `maxMsgNums`: batch size (push consumer default 32).
        pub max_msg_nums: i32 = "maxMsgNums",
        /// `sysFlag`: the pull flags ([`PullSysFlag`]).
        pub sys_flag: i32 = "sysFlag",
        /// `commitOffset`: consumer offset to piggy-back-commit (flag bit 0).
        pub commit_offset: i64 = "commitOffset",
        /// `suspendTimeoutMillis`: long-poll hold time.
        pub suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        /// `subscription`: filter expression (used when flag bit 2 is set).
        pub subscription: Option<String> = "subscription",
        /// `subVersion`: subscription version (ms timestamp).
        pub sub_version: i64 = "subVersion",
        /// `expressionType`: `TAG` (default) or `SQL92`.
        pub expression_type: Option<String> = "expressionType",
        /// `maxMsgBytes`: byte limit of the batch (5.x clients).
        pub max_msg_bytes: Option<i32> = "maxMsgBytes",
        /// `bname`: target broker name (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

command_header! {
    /// `PullMessageResponseHeader`.
    pub struct PullMessageResponseHeader {
        /// `suggestWhichBrokerId`: 0 = master, else the slave to pull from next.
        pub suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        /// `nextBeginOffset`: where the client must pull next.
        pub next_begin_offset: i64 = "nextBeginOffset",
        /// `minOffset`: queue min logical offset.
        pub min_offset: i64 = "minOffset",
        /// `maxOffset`: queue max logical offset (next to be written).
        pub max_offset: i64 = "maxOffset",
        /// `topicSysFlag` (5.x brokers).
        pub topic_sys_flag: Option<i32> = "topicSysFlag",
        /// `groupSysFlag` (5.x brokers).
        pub group_sys_flag: Option<i32> = "groupSysFlag",
    }
}

/// The bits of [`PullMessageRequestHeader::sys_flag`] (`PullSysFlag.java`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PullSysFlag(pub i32);

impl PullSysFlag {
    /// Bit 0: the broker should store `commitOffset` for the group.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Bit 1: the broker may hold the request (long polling).
    pub const SUSPEND: i32 = 0x2;
    /// Bit 2: use `subscription`/`expressionType` from the header.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Bit 3: class filter mode (obsolete).
    pub const CLASS_FILTER: i32 = 0x8;
    /// Bit 4: sent by a lite pull consumer.
    pub const LITE_PULL_MESSAGE: i32 = 0x10;

    /// Builds the flag the way `PullSysFlag.buildSysFlag` does.
    pub fn build(commit_offset: bool, suspend: bool, subscription: bool) -> Self {
        let mut bits = 0;
        if commit_offset {
            bits |= Self::COMMIT_OFFSET;
        }
        if suspend {
            bits |= Self::SUSPEND;
        }
        if subscription {
            bits |= Self::SUBSCRIPTION;
        }
        Self(bits)
    }

    /// Whether bit 0 (commit offset) is set.
    pub fn has_commit_offset(self) -> bool {
        self.0 & Self::COMMIT_OFFSET != 0
    }
    /// Whether bit 1 (suspend) is set.
    pub fn has_suspend(self) -> bool {
        self.0 & Self::SUSPEND != 0
    }
    /// Whether bit 2 (subscription in header) is set.
    pub fn has_subscription(self) -> bool {
        self.0 & Self::SUBSCRIPTION != 0
    }
    /// Whether bit 3 (class filter) is set.
    pub fn has_class_filter(self) -> bool {
        self.0 & Self::CLASS_FILTER != 0
    }
    /// Whether bit 4 (lite pull) is set.
    pub fn is_lite_pull(self) -> bool {
        self.0 & Self::LITE_PULL_MESSAGE != 0
    }
    /// The flag with bit 0 cleared (clients do this when pulling from a slave).
    pub fn without_commit_offset(self) -> Self {
        Self(self.0 & !Self::COMMIT_OFFSET)
    }
}
