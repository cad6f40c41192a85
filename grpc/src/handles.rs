//! Opaque strings handed to gRPC clients that come back in later calls:
//! the transaction id of a half message (given in `SendResultEntry`, returned
//! in `EndTransactionRequest` and in `RecoverOrphanedTransactionCommand`),
//! and the receipt handle of a received message (given in its
//! `SystemProperties`, returned in ack, invisibility change and DLQ calls).
//!
//! # Receipt handle layout
//!
//! ```text
//! 0               16
//! +---------------+-------------------------------------------+
//! | commitLogOff  | extraInfo (the POP_CK of the message)     |
//! +---------------+-------------------------------------------+
//! ```
//!
//! `commitLogOff` (16 upper-case hex digits) is the message's physical
//! offset, which CONSUMER_SEND_MSG_BACK needs to move it to the DLQ; the
//! rest is the remoting receipt ([`ExtraInfo`], what ACK_MESSAGE and
//! CHANGE_MESSAGE_INVISIBLETIME take), validated when parsed.
//!
//! # Transaction id layout
//!
//! 32 upper-case hex digits, two big-endian `i64`s:
//!
//! ```text
//! 0               16              32
//! +---------------+---------------+
//! | commitLogOff  | tranStateOff  |
//! +---------------+---------------+
//! ```
//!
//! `commitLogOff` is the half's physical offset, `tranStateOff` its queue
//! offset in the half queue: exactly what END_TRANSACTION needs to find the
//! half (the broker checks both against the stored record, so a forged id
//! can at most name another existing half, which the producer-group and
//! message-id checks then refuse).

use ringmq_net::header::pop::{ExtraInfo, ExtraInfoError};

/// Hex digits of one encoded offset.
const OFFSET_HEX_DIGITS: usize = 16;
/// Length of an encoded transaction id.
pub const TRANSACTION_ID_LEN: usize = 2 * OFFSET_HEX_DIGITS;

/// Where a half message is: what END_TRANSACTION needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionHandle {
    pub commit_log_offset: i64,
    pub queue_offset: i64,
}

/// Why a transaction id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("a transaction id is {TRANSACTION_ID_LEN} hex digits, this one has {0} characters")]
    Length(usize),
    #[error("a transaction id is hex digits only")]
    NotHex,
}

impl TransactionHandle {
    /// The id given to clients (see the module doc).
    pub fn render(self) -> String {
        format!(
            "{:016X}{:016X}",
            self.commit_log_offset as u64, self.queue_offset as u64
        )
    }

    /// Reads an id made by [`TransactionHandle::render`].
    pub fn parse(id: &str) -> Result<TransactionHandle, HandleError> {
        if id.len() != TRANSACTION_ID_LEN {
            return Err(HandleError::Length(id.len()));
        }
        let (first, second) = id
            .split_at_checked(OFFSET_HEX_DIGITS)
            .ok_or(HandleError::NotHex)?;
        let offset = |part: &str| {
            if !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(HandleError::NotHex);
            }
            u64::from_str_radix(part, 16)
                .map(|v| v as i64)
                .map_err(|_| HandleError::NotHex)
        };
        Ok(TransactionHandle {
            commit_log_offset: offset(first)?,
            queue_offset: offset(second)?,
        })
    }
}

/// A received message's receipt (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptHandle {
    pub physical_offset: i64,
    pub extra_info: ExtraInfo,
}

/// Why a receipt handle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("a receipt handle starts with {OFFSET_HEX_DIGITS} hex digits")]
    Offset,
    #[error("the receipt handle's extraInfo is not valid: {0}")]
    ExtraInfo(#[from] ExtraInfoError),
}

impl ReceiptHandle {
    /// The handle given to clients.
    pub fn render(&self) -> String {
        format!(
            "{:016X}{}",
            self.physical_offset as u64,
            self.extra_info.render()
        )
    }

    /// Reads a handle made by [`ReceiptHandle::render`].
    pub fn parse(handle: &str) -> Result<ReceiptHandle, ReceiptError> {
        let (offset, rest) = handle
            .split_at_checked(OFFSET_HEX_DIGITS)
            .ok_or(ReceiptError::Offset)?;
        if !offset.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReceiptError::Offset);
        }
        let physical_offset =
            u64::from_str_radix(offset, 16).map_err(|_| ReceiptError::Offset)? as i64;
        Ok(ReceiptHandle {
            physical_offset,
            extra_info: ExtraInfo::parse(rest)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn extra_info(queue_id: i32, msg_queue_offset: i64, retry: bool) -> ExtraInfo {
        ExtraInfo {
            ck_queue_offset: msg_queue_offset,
            pop_time: 1_733_130_000_000,
            invisible_time: 30_000,
            revive_qid: 0,
            retry,
            broker_name: "broker-a".into(),
            queue_id,
            msg_queue_offset: Some(msg_queue_offset),
        }
    }

    proptest! {
        #[test]
        fn a_receipt_handle_round_trips(physical_offset: i64, queue_id in 0i32..1024, offset in 0i64..i64::MAX, retry: bool) {
            let handle = ReceiptHandle { physical_offset, extra_info: extra_info(queue_id, offset, retry) };
            prop_assert_eq!(ReceiptHandle::parse(&handle.render()).unwrap(), handle);
        }

        #[test]
        fn garbage_receipt_handles_are_refused_without_panicking(handle in ".{0,80}") {
            let _ = ReceiptHandle::parse(&handle);
        }
    }

    #[test]
    fn a_receipt_handle_without_its_offset_or_extra_info_is_a_typed_error() {
        assert_eq!(ReceiptHandle::parse("12"), Err(ReceiptError::Offset));
        let no_hex = format!("{}{}", "Z".repeat(16), extra_info(0, 1, false).render());
        assert_eq!(ReceiptHandle::parse(&no_hex), Err(ReceiptError::Offset));
        assert!(matches!(
            ReceiptHandle::parse(&"0".repeat(16)),
            Err(ReceiptError::ExtraInfo(_))
        ));
    }

    proptest! {
        #[test]
        fn a_transaction_id_round_trips(commit_log_offset: i64, queue_offset: i64) {
            let handle = TransactionHandle { commit_log_offset, queue_offset };
            let id = handle.render();
            prop_assert_eq!(id.len(), TRANSACTION_ID_LEN);
            prop_assert_eq!(TransactionHandle::parse(&id).unwrap(), handle);
        }

        #[test]
        fn garbage_ids_are_refused_without_panicking(id in ".{0,40}") {
            if let Ok(handle) = TransactionHandle::parse(&id) {
                prop_assert_eq!(handle.render(), id.to_ascii_uppercase());
            }
        }
    }

    #[test]
    fn wrong_lengths_and_non_hex_are_typed_errors() {
        assert_eq!(TransactionHandle::parse("12"), Err(HandleError::Length(2)));
        let bad = "G".repeat(TRANSACTION_ID_LEN);
        assert_eq!(TransactionHandle::parse(&bad), Err(HandleError::NotHex));
        let signed = format!("+{}", "0".repeat(TRANSACTION_ID_LEN - 1));
        assert_eq!(TransactionHandle::parse(&signed), Err(HandleError::NotHex));
        let multibyte = format!("é{}", "0".repeat(TRANSACTION_ID_LEN - 2));
        assert!(TransactionHandle::parse(&multibyte).is_err());
    }
}
