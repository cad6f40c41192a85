//! Headers of POP consumption (RocketMQ 5.x): POP_MESSAGE (200050),
//! ACK_MESSAGE (200051), PEEK_MESSAGE (200052),
//! CHANGE_MESSAGE_INVISIBLETIME (200053) and NOTIFICATION (200054), field
//! for field as Java's `PopMessageRequestHeader`, `PopMessageResponseHeader`,
//! `AckMessageRequestHeader`, `ChangeInvisibleTimeRequestHeader` /
//! `ResponseHeader`, `NotificationRequestHeader` / `ResponseHeader` and
//! `PeekMessageRequestHeader`.
//!
//! The receipt a popped message carries (`extraInfo`, the `POP_CK`
//! property) is [`ExtraInfo`]: eight fields joined by one blank
//! (`MessageConst.KEY_SEPARATOR`), as Java's `ExtraInfoUtil`:
//!
//! ```text
//! index  field           example
//!   0    ckQueueOffset   120          first queue offset of the pop's checkpoint
//!   1    popTime         1733130000000  ms since the epoch, when the pop happened
//!   2    invisibleTime   30000        ms the message stays invisible after popTime
//!   3    reviveQid       0            999 (POP_ORDER_REVIVE_QUEUE) for a FIFO pop
//!   4    retry flag      0            0 = the topic itself, 1 = %RETRY%<group>_<topic>
//!   5    brokerName      broker-a
//!   6    queueId         3
//!   7    msgQueueOffset  124          the message's own queue offset
//! ```
//!
//! The response header's `startOffsetInfo`, `msgOffsetInfo` and
//! `orderCountInfo` are `;`-joined entries of `retryFlag queueId value`
//! (`msgOffsetInfo`'s value a `,`-joined list of offsets), from which Java
//! clients build each message's `POP_CK`.

use crate::command_header;

/// `KeyBuilder.POP_ORDER_REVIVE_QUEUE`: the `reviveQid` of a FIFO pop's
/// receipt (how the broker tells an orderly ack from a checkpointed one).
pub const POP_ORDER_REVIVE_QUEUE: i32 = 999;
/// `MessageConst.KEY_SEPARATOR` between the fields of an [`ExtraInfo`].
pub const EXTRA_INFO_SEPARATOR: char = ' ';
/// Retry flag of a message read from the topic itself (`NORMAL_TOPIC`).
pub const RETRY_FLAG_NORMAL: &str = "0";
/// Retry flag of a message read from `%RETRY%<group>_<topic>` (`RETRY_TOPIC`).
pub const RETRY_FLAG_RETRY: &str = "1";
/// Longest `extraInfo` accepted: eight numbers and a broker name.
pub const EXTRA_INFO_MAX_LEN: usize = 512;

command_header! {
    /// `PopMessageRequestHeader` (200050).
    pub struct PopMessageRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`: a queue, or -1 (any negative) for every queue of the
        /// topic on this broker plus the group's POP retry topic.
        pub queue_id: i32 = "queueId",
        /// `maxMsgNums`: 1..=32.
        pub max_msg_nums: i32 = "maxMsgNums",
        /// `invisibleTime`: ms a popped message stays invisible.
        pub invisible_time: i64 = "invisibleTime",
        /// `pollTime`: ms to long-poll when nothing is there (0: answer now).
        pub poll_time: i64 = "pollTime",
        /// `bornTime`: the client's clock at send, ms.
        pub born_time: i64 = "bornTime",
        /// `initMode`: where a group without an offset starts
        /// (0 `ConsumeInitMode.MIN`, 1 `MAX`).
        pub init_mode: i32 = "initMode",
        /// `expType`: `TAG` or `SQL92`.
        pub exp_type: Option<String> = "expType",
        /// `exp`: the subscription expression.
        pub exp: Option<String> = "exp",
        /// `order`: FIFO pop (Java default false).
        pub order: Option<bool> = "order",
        /// `attemptId`: the client's id for this receive attempt.
        pub attempt_id: Option<String> = "attemptId",
    }
}

command_header! {
    /// `PopMessageResponseHeader` (200050).
    pub struct PopMessageResponseHeader {
        /// `popTime`: ms since the epoch.
        pub pop_time: i64 = "popTime",
        /// `invisibleTime`: ms.
        pub invisible_time: i64 = "invisibleTime",
        /// `reviveQid`: 0, or [`POP_ORDER_REVIVE_QUEUE`] for a FIFO pop.
        pub revive_qid: i32 = "reviveQid",
        /// `restNum`: messages still waiting in the popped queues.
        pub rest_num: i64 = "restNum",
        /// `startOffsetInfo`: `retryFlag queueId startOffset;...`.
        pub start_offset_info: Option<String> = "startOffsetInfo",
        /// `msgOffsetInfo`: `retryFlag queueId off,off,...;...`.
        pub msg_offset_info: Option<String> = "msgOffsetInfo",
        /// `orderCountInfo`: `retryFlag queueId count;...` (FIFO pops: how
        /// many times the queue's head was handed out before).
        pub order_count_info: Option<String> = "orderCountInfo",
    }
}

command_header! {
    /// `PeekMessageRequestHeader` (200052).
    pub struct PeekMessageRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `maxMsgNums`.
        pub max_msg_nums: i32 = "maxMsgNums",
    }
}

command_header! {
    /// `AckMessageRequestHeader` (200051). The response has no header.
    pub struct AckMessageRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`: the topic the group popped (not the retry topic).
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `extraInfo`: the message's receipt, see [`ExtraInfo`].
        pub extra_info: String = "extraInfo",
        /// `offset`: the message's queue offset.
        pub offset: i64 = "offset",
    }
}

command_header! {
    /// `ChangeInvisibleTimeRequestHeader` (200053).
    pub struct ChangeInvisibleTimeRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`.
        pub queue_id: i32 = "queueId",
        /// `extraInfo`: the message's current receipt.
        pub extra_info: String = "extraInfo",
        /// `offset`: the message's queue offset.
        pub offset: i64 = "offset",
        /// `invisibleTime`: ms from now until the message comes back.
        pub invisible_time: i64 = "invisibleTime",
    }
}

command_header! {
    /// `ChangeInvisibleTimeResponseHeader` (200053): the new receipt's parts.
    pub struct ChangeInvisibleTimeResponseHeader {
        /// `popTime`: the new checkpoint's pop time.
        pub pop_time: i64 = "popTime",
        /// `invisibleTime`.
        pub invisible_time: i64 = "invisibleTime",
        /// `reviveQid`.
        pub revive_qid: i32 = "reviveQid",
    }
}

command_header! {
    /// `NotificationRequestHeader` (200054).
    pub struct NotificationRequestHeader {
        /// `consumerGroup`.
        pub consumer_group: String = "consumerGroup",
        /// `topic`.
        pub topic: String = "topic",
        /// `queueId`: a queue or -1 for all.
        pub queue_id: i32 = "queueId",
        /// `pollTime`: ms to wait for a message.
        pub poll_time: i64 = "pollTime",
        /// `bornTime`.
        pub born_time: i64 = "bornTime",
        /// `order`.
        pub order: Option<bool> = "order",
        /// `attemptId`.
        pub attempt_id: Option<String> = "attemptId",
    }
}

command_header! {
    /// `NotificationResponseHeader` (200054).
    pub struct NotificationResponseHeader {
        /// `hasMsg`: a pop would find a message now.
        pub has_msg: bool = "hasMsg",
        /// `pollingFull`: the broker's waiting list is full.
        pub polling_full: bool = "pollingFull" or_default,
    }
}

/// A message's receipt (`extraInfo` / `POP_CK`), parsed. See the module doc
/// for the text layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraInfo {
    /// First queue offset of the checkpoint the message belongs to.
    pub ck_queue_offset: i64,
    /// When the pop happened, ms since the epoch.
    pub pop_time: i64,
    /// ms of invisibility from `pop_time`.
    pub invisible_time: i64,
    /// 0, or [`POP_ORDER_REVIVE_QUEUE`] for FIFO.
    pub revive_qid: i32,
    /// Read from the group's POP retry topic rather than the topic.
    pub retry: bool,
    /// The broker that handed the message out.
    pub broker_name: String,
    /// Queue of the topic (or of the retry topic) the message is in.
    pub queue_id: i32,
    /// The message's queue offset, when the receipt carries it.
    pub msg_queue_offset: Option<i64>,
}

/// Why an `extraInfo` string is not a receipt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtraInfoError {
    /// Longer than [`EXTRA_INFO_MAX_LEN`].
    #[error("extraInfo is {0} bytes, at most {EXTRA_INFO_MAX_LEN} are accepted")]
    TooLong(usize),
    /// Fewer than seven or more than eight fields.
    #[error("extraInfo has {0} blank-separated fields, expected 7 or 8")]
    FieldCount(usize),
    /// A field that must be a number is not one.
    #[error("extraInfo field {0} is not a number")]
    NotANumber(&'static str),
    /// The retry flag is neither `0` nor `1`.
    #[error("extraInfo retry flag {0:?} is neither 0 nor 1")]
    RetryFlag(String),
}

impl ExtraInfo {
    /// Parses a receipt as Java's `ExtraInfoUtil.split` + getters would.
    pub fn parse(text: &str) -> Result<ExtraInfo, ExtraInfoError> {
        if text.len() > EXTRA_INFO_MAX_LEN {
            return Err(ExtraInfoError::TooLong(text.len()));
        }
        let fields: Vec<&str> = text.split(EXTRA_INFO_SEPARATOR).collect();
        let &[
            ck,
            pop,
            invisible,
            revive,
            retry,
            broker,
            queue,
            ref rest @ ..,
        ] = fields.as_slice()
        else {
            return Err(ExtraInfoError::FieldCount(fields.len()));
        };
        let msg_queue_offset = match rest {
            [] => None,
            [offset] => Some(number(offset, "msgQueueOffset")?),
            _ => return Err(ExtraInfoError::FieldCount(fields.len())),
        };
        let retry = match retry {
            RETRY_FLAG_NORMAL => false,
            RETRY_FLAG_RETRY => true,
            other => return Err(ExtraInfoError::RetryFlag(other.to_owned())),
        };
        Ok(ExtraInfo {
            ck_queue_offset: number(ck, "ckQueueOffset")?,
            pop_time: number(pop, "popTime")?,
            invisible_time: number(invisible, "invisibleTime")?,
            revive_qid: i32::try_from(number(revive, "reviveQid")?)
                .map_err(|_| ExtraInfoError::NotANumber("reviveQid"))?,
            retry,
            broker_name: broker.to_owned(),
            queue_id: i32::try_from(number(queue, "queueId")?)
                .map_err(|_| ExtraInfoError::NotANumber("queueId"))?,
            msg_queue_offset,
        })
    }

    /// The receipt text, as Java's `ExtraInfoUtil.buildExtraInfo`.
    pub fn render(&self) -> String {
        let flag = retry_flag(self.retry);
        let mut text = format!(
            "{} {} {} {} {} {} {}",
            self.ck_queue_offset,
            self.pop_time,
            self.invisible_time,
            self.revive_qid,
            flag,
            self.broker_name,
            self.queue_id
        );
        if let Some(offset) = self.msg_queue_offset {
            text.push(EXTRA_INFO_SEPARATOR);
            text.push_str(&offset.to_string());
        }
        text
    }

    /// Whether this is a FIFO pop's receipt.
    pub fn is_order(&self) -> bool {
        self.revive_qid == POP_ORDER_REVIVE_QUEUE
    }
}

fn number(text: &str, field: &'static str) -> Result<i64, ExtraInfoError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ExtraInfoError::NotANumber(field));
    }
    text.parse().map_err(|_| ExtraInfoError::NotANumber(field))
}

/// The retry flag of `topic` as `ExtraInfoUtil.getRetry` writes it.
pub fn retry_flag(is_retry_topic: bool) -> &'static str {
    if is_retry_topic {
        RETRY_FLAG_RETRY
    } else {
        RETRY_FLAG_NORMAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CommandHeader, ExtFields};
    use proptest::prelude::*;

    #[test]
    fn pop_request_reads_java_field_names() {
        let fields: ExtFields = [
            ("consumerGroup", "g"),
            ("topic", "t"),
            ("queueId", "-1"),
            ("maxMsgNums", "32"),
            ("invisibleTime", "60000"),
            ("pollTime", "0"),
            ("bornTime", "1"),
            ("initMode", "0"),
            ("order", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let header = PopMessageRequestHeader::read_ext_fields(&fields).expect("decodes");
        assert_eq!(header.queue_id, -1);
        assert_eq!(header.max_msg_nums, 32);
        assert_eq!(header.order, Some(true));
        assert_eq!(header.exp, None);
    }

    #[test]
    fn ack_request_without_extra_info_is_refused() {
        let fields: ExtFields = [
            ("consumerGroup", "g"),
            ("topic", "t"),
            ("queueId", "0"),
            ("offset", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert!(AckMessageRequestHeader::read_ext_fields(&fields).is_err());
    }

    #[test]
    fn extra_info_parses_java_text() {
        let info = ExtraInfo::parse("120 1733130000000 30000 0 1 broker-a 3 124").expect("parses");
        assert_eq!(info.ck_queue_offset, 120);
        assert!(info.retry);
        assert_eq!(info.broker_name, "broker-a");
        assert_eq!(info.queue_id, 3);
        assert_eq!(info.msg_queue_offset, Some(124));
        assert!(!info.is_order());
        let seven = ExtraInfo::parse("1 2 3 999 0 b 0").expect("seven fields parse");
        assert!(seven.is_order());
        assert_eq!(seven.msg_queue_offset, None);
    }

    #[test]
    fn extra_info_garbage_is_refused() {
        for bad in [
            "",
            "1 2 3",
            "a 2 3 0 0 b 0 1",
            "1 2 3 0 7 b 0 1",
            "1 2 3 0 0 b 0 1 9",
            "1 2 3 99999999999 0 b 0",
            "1  2 3 0 0 b 0",
            "+1 2 3 0 0 b 0",
        ] {
            assert!(ExtraInfo::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ExtraInfo::parse(&"1 ".repeat(400)).is_err());
    }

    proptest! {
        #[test]
        fn extra_info_round_trips(
            ck in any::<i64>(), pop in any::<i64>(), inv in any::<i64>(), qid in any::<i32>(),
            retry in any::<bool>(), broker in "[a-zA-Z0-9_-]{1,40}", queue in any::<i32>(),
            offset in proptest::option::of(any::<i64>()),
        ) {
            let info = ExtraInfo {
                ck_queue_offset: ck, pop_time: pop, invisible_time: inv, revive_qid: qid, retry,
                broker_name: broker, queue_id: queue, msg_queue_offset: offset,
            };
            prop_assert_eq!(ExtraInfo::parse(&info.render()), Ok(info));
        }

        #[test]
        fn extra_info_never_panics(text in ".{0,600}") {
            let _ = ExtraInfo::parse(&text);
        }
    }
}
