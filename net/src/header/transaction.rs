//! Headers of END_TRANSACTION (37, producer → broker, one-way) and
//! CHECK_TRANSACTION_STATE (39, broker → producer, one-way) (spec §2.12).

use crate::command_header;

command_header! {
    /// `EndTransactionRequestHeader` (37).
    pub struct EndTransactionRequestHeader {
        /// `producerGroup`.
        pub producer_group: String = "producerGroup",
        /// `tranStateTableOffset`: the half message's queue offset.
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        /// `commitLogOffset`: the half message's physical offset.
        pub commit_log_offset: i64 = "commitLogOffset",
        /// `commitOrRollback`: one of the `TRANSACTION_*` constants below.
        pub commit_or_rollback: i32 = "commitOrRollback",
        /// `fromTransactionCheck`: true when answering a check.
        pub from_transaction_check: Option<bool> = "fromTransactionCheck",
        /// `msgId`: the client message id (`UNIQ_KEY`).
        pub msg_id: String = "msgId",
        /// `transactionId`.
        pub transaction_id: Option<String> = "transactionId",
        /// `topic` (5.x clients).
        pub topic: Option<String> = "topic",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}

impl EndTransactionRequestHeader {
    /// `commitOrRollback` = 0: state unknown, the broker does nothing.
    pub const TRANSACTION_NOT_TYPE: i32 = 0;
    /// `commitOrRollback` = 8: commit the half message.
    pub const TRANSACTION_COMMIT_TYPE: i32 = 8;
    /// `commitOrRollback` = 12: roll the half message back.
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 12;
}

command_header! {
    /// `CheckTransactionStateRequestHeader` (39). The body is the encoded
    /// half message with its real topic and queue restored.
    pub struct CheckTransactionStateRequestHeader {
        /// `tranStateTableOffset`: the half message's queue offset.
        pub tran_state_table_offset: i64 = "tranStateTableOffset",
        /// `commitLogOffset`: the half message's physical offset.
        pub commit_log_offset: i64 = "commitLogOffset",
        /// `msgId`: the client message id (`UNIQ_KEY`).
        pub msg_id: Option<String> = "msgId",
        /// `transactionId` (= `UNIQ_KEY`).
        pub transaction_id: Option<String> = "transactionId",
        /// `offsetMsgId`: the offset message id.
        pub offset_msg_id: Option<String> = "offsetMsgId",
        /// `bname` (4.9.5+).
        pub bname: Option<String> = "bname",
    }
}
