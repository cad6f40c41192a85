//! Transactional messages, as RocketMQ 4.9 brokers keep them.
//!
//! A send whose properties hold `TRAN_MSG=true` is stored as a *half*
//! message in `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 ([`half`]): its real topic
//! and queue move into `REAL_TOPIC` / `REAL_QID`, so no consumer of the real
//! topic sees it. END_TRANSACTION (`crate::processor` → [`resolve`]) commits
//! it (the real message is written to its topic) or rolls it back; either
//! way an *op record* ([`op`]) is appended to `RMQ_SYS_TRANS_OP_HALF_TOPIC`
//! queue 0. Halves left without an outcome are asked about by the check-back
//! service ([`check`]), which sends CHECK_TRANSACTION_STATE to a producer of
//! the half's group and, after `transaction_check_max` unanswered checks,
//! moves the half to `TRANS_CHECK_MAX_TIME_TOPIC` and rolls it back.
//!
//! # Identity of a transaction
//!
//! Each check re-appends the half to the half queue (with its check count
//! in `TRANSACTION_CHECK_TIMES`, as Java does), so one transaction may have
//! several *copies*. Every copy after the first carries the first copy's
//! queue offset in `TRAN_PREPARED_QUEUE_OFFSET`; that offset is the
//! transaction's *identity*. Op records carry it as their `KEYS`, so "has
//! this transaction an outcome?" is one key-index lookup on disk (no
//! per-half map in memory), and a late or duplicate END_TRANSACTION for any
//! copy finds it. A committed message also keeps the half's `UNIQ_KEY`
//! (indexed too), which covers a crash between writing the real message and
//! its op record.
//!
//! Concurrent outcomes for one identity are serialised by
//! [`TransactionState`], a small bounded set of identities being resolved.

pub mod check;
pub mod half;
pub mod op;
pub mod resolve;

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::state::lock;

/// The system consumer group whose offsets on the half and op queues are
/// the check-back service's progress (Java `CID_RMQ_SYS_TRANS`).
pub const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";
/// The one queue of the half and op topics.
pub const HALF_QUEUE_ID: i32 = 0;
/// Identities being resolved at once, across all shards; an outcome past
/// this is refused (logged) and the check-back resolves it later.
pub const RESOLVING_MAX: usize = 4_096;

/// What every shard shares about transactions: the identities whose
/// outcome is being written right now.
#[derive(Default)]
pub struct TransactionState {
    resolving: Mutex<BTreeSet<i64>>,
}

/// Why an identity could not be taken for resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Another outcome for the same transaction is being written.
    #[error("another outcome of this transaction is being written")]
    Busy,
    /// [`RESOLVING_MAX`] outcomes are being written.
    #[error("{RESOLVING_MAX} transaction outcomes are being written; try later")]
    Full,
}

impl TransactionState {
    /// Takes `identity` for resolution until the returned claim is dropped.
    pub fn claim(&self, identity: i64) -> Result<Claim<'_>, ClaimError> {
        let mut resolving = lock(&self.resolving);
        if resolving.contains(&identity) {
            return Err(ClaimError::Busy);
        }
        if resolving.len() >= RESOLVING_MAX {
            return Err(ClaimError::Full);
        }
        resolving.insert(identity);
        Ok(Claim {
            state: self,
            identity,
        })
    }
}

/// An identity held for resolution (see [`TransactionState::claim`]).
pub struct Claim<'a> {
    state: &'a TransactionState,
    identity: i64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        lock(&self.state.resolving).remove(&self.identity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_claimed_once_until_released() {
        let state = TransactionState::default();
        let first = state.claim(7).unwrap();
        assert_eq!(state.claim(7).err(), Some(ClaimError::Busy));
        assert!(state.claim(8).is_ok());
        drop(first);
        assert!(state.claim(7).is_ok());
    }

    #[test]
    fn claims_are_bounded() {
        let state = TransactionState::default();
        let held: Vec<_> = (0..RESOLVING_MAX as i64)
            .map(|i| state.claim(i).unwrap())
            .collect();
        assert_eq!(state.claim(-1).err(), Some(ClaimError::Full));
        drop(held);
        assert!(state.claim(-1).is_ok());
    }
}
