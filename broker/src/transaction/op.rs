//! Op records: one per outcome of a half message, appended to
//! `RMQ_SYS_TRANS_OP_HALF_TOPIC` queue 0 (Java `TransactionalMessageBridge`
//! `addRemoveTagInTransactionOp`).
//!
//! An op record is an ordinary commit-log record (see docs/disk-format.md)
//! with:
//!
//! ```text
//!   topic       RMQ_SYS_TRANS_OP_HALF_TOPIC, queue 0
//!   TAGS        "d"                       (Java REMOVETAG)
//!   KEYS        decimal identity           (ringmq: the first copy's queue offset)
//!   body        decimal queue offset of the half copy resolved, ASCII,
//!               1..=20 bytes, [0-9] only   (as Java: String.valueOf(queueOffset))
//!   sysflag     0 (an ordinary, consumable record)
//! ```
//!
//! The body is what Java writes and reads; `KEYS` is ringmq's addition,
//! indexed by the store's key index, so the outcome of a transaction can be
//! found on disk by its identity ([`super`]).

use std::net::SocketAddr;

use bytes::Bytes;
use ringmq_net::properties as names;
use ringmq_net::record::MessageRecord;
use ringmq_net::topic::TRANS_OP_HALF_TOPIC;

use super::HALF_QUEUE_ID;
use crate::message;

/// Tag of every op record (Java `TransactionalMessageUtil.REMOVETAG`).
pub const REMOVE_TAG: &str = "d";
/// Longest op body: the digits of `i64::MAX`.
pub const OP_BODY_BYTES_MAX: usize = 19;

/// Why an op body is not a queue offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpBodyError {
    /// Empty, or longer than [`OP_BODY_BYTES_MAX`].
    #[error("an op body is 1 to {OP_BODY_BYTES_MAX} bytes, this one {0}")]
    Length(usize),
    /// A byte other than an ASCII digit, or a value above `i64::MAX`.
    #[error("an op body is the decimal digits of a queue offset")]
    NotAnOffset,
}

/// The body of an op record for the half copy at `queue_offset`.
pub fn encode_body(queue_offset: i64) -> Vec<u8> {
    queue_offset.max(0).to_string().into_bytes()
}

/// The half queue offset an op body names.
pub fn decode_body(body: &[u8]) -> Result<i64, OpBodyError> {
    if body.is_empty() || body.len() > OP_BODY_BYTES_MAX {
        return Err(OpBodyError::Length(body.len()));
    }
    if !body.iter().all(u8::is_ascii_digit) {
        return Err(OpBodyError::NotAnOffset);
    }
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or(OpBodyError::NotAnOffset)
}

/// The identity an op record names in `KEYS`, if it is one of ours.
pub fn identity_of(properties: &str) -> Option<i64> {
    message::property(properties, names::KEYS)?.parse().ok()
}

/// What the op record needs to know of the half copy it resolves.
pub struct OpFor {
    pub copy_queue_offset: i64,
    pub identity: i64,
    pub born_host: SocketAddr,
}

/// The op record resolving one half copy.
pub fn op_record(op: &OpFor, store_host: SocketAddr) -> MessageRecord {
    let mut properties = String::new();
    message::append_property(&mut properties, names::TAGS, REMOVE_TAG);
    message::append_property(&mut properties, names::KEYS, &op.identity.to_string());
    message::append_property(&mut properties, names::WAIT, "false");
    let now = crate::clock::now_ms();
    MessageRecord {
        queue_id: HALF_QUEUE_ID,
        flag: 0,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: 0,
        born_timestamp: now,
        born_host: op.born_host,
        store_timestamp: now,
        store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(encode_body(op.copy_queue_offset)),
        topic: TRANS_OP_HALF_TOPIC.to_owned(),
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn body_round_trips(offset in 0i64..=i64::MAX) {
            prop_assert_eq!(decode_body(&encode_body(offset)), Ok(offset));
        }

        #[test]
        fn garbage_bodies_are_errors_not_panics(body in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(offset) = decode_body(&body) {
                prop_assert_eq!(encode_body(offset).len() <= body.len(), true);
            }
        }
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert_eq!(decode_body(b""), Err(OpBodyError::Length(0)));
        assert_eq!(decode_body(b"-1"), Err(OpBodyError::NotAnOffset));
        assert_eq!(decode_body(b" 1"), Err(OpBodyError::NotAnOffset));
        assert_eq!(
            decode_body(b"9999999999999999999"),
            Err(OpBodyError::NotAnOffset)
        );
        assert_eq!(
            decode_body(b"12345678901234567890"),
            Err(OpBodyError::Length(20))
        );
        assert_eq!(decode_body(b"0"), Ok(0));
    }

    #[test]
    fn op_record_names_the_copy_and_the_identity() {
        let host: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let record = op_record(
            &OpFor {
                copy_queue_offset: 42,
                identity: 7,
                born_host: host,
            },
            host,
        );
        assert_eq!(decode_body(&record.body), Ok(42));
        assert_eq!(identity_of(&record.properties), Some(7));
        assert_eq!(
            message::property(&record.properties, names::TAGS),
            Some("d")
        );
        let bytes = record.to_vec().unwrap();
        let (back, _) = MessageRecord::decode(&bytes).unwrap();
        assert_eq!(back.topic, TRANS_OP_HALF_TOPIC);
    }
}
