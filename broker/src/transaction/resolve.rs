//! Writing the outcome of a transaction, once: the real message of a
//! commit, the `TRANS_CHECK_MAX_TIME_TOPIC` copy of a discard, and the op
//! record every outcome ends with (Java `EndTransactionProcessor` +
//! `TransactionalMessageServiceImpl.deletePrepareMessage`).
//!
//! Before writing, the transaction's identity is claimed
//! ([`super::TransactionState`]) and looked up on disk: an op record with
//! the identity as its key, or a committed message of the real topic with
//! the half's `UNIQ_KEY`, means the outcome is already written, and nothing
//! more is (no second copy after a commit, no resurrection after a
//! rollback). A commit whose op record is missing (the broker died between
//! the two writes) gets its op record then.

use std::rc::Rc;

use ringmq_net::record::{RecordView, TransactionType};
use ringmq_net::topic::TRANS_OP_HALF_TOPIC;

use super::half::HalfCopy;
use super::op::{OpFor, op_record};
use super::{ClaimError, HALF_QUEUE_ID};
use crate::shard::Shard;
use crate::store::{KeyQuery, PutJob, PutStatus};

/// How far before a half's born timestamp its outcome is looked for (the
/// producer's clock may run ahead of the broker's).
pub const CLOCK_SKEW_ALLOWANCE_MS: i64 = 3_600_000;
/// Committed messages with the half's `UNIQ_KEY` read to find a commit.
pub const COMMIT_LOOKUP_MAX: usize = 4;
/// Tries to claim an identity another outcome is being written for.
pub const CLAIM_TRIES_MAX: u32 = 200;
/// Pause between two tries.
pub const CLAIM_RETRY_MS: u64 = 5;

/// The outcome to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Commit,
    Rollback,
    /// Checks ran out: keep a copy in `TRANS_CHECK_MAX_TIME_TOPIC`, roll back.
    Discard,
}

/// What [`resolve`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Written,
    /// The transaction already had an outcome; nothing was written.
    AlreadyResolved,
}

/// Why an outcome was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error("{0}")]
    Store(String),
}

/// What is on disk about a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Nothing,
    Op,
    CommitWithoutOp,
}

/// Writes `outcome` for the transaction `copy` belongs to, unless it has one.
pub async fn resolve(
    shard: &Rc<Shard>,
    copy: &HalfCopy,
    outcome: Outcome,
) -> Result<Resolution, ResolveError> {
    let _claim = claim(shard, copy.identity).await?;
    if settled(shard, copy).await? {
        return Ok(Resolution::AlreadyResolved);
    }
    match outcome {
        Outcome::Commit => {
            put(shard, copy.committed(), "the committed message").await?;
        }
        Outcome::Discard => {
            put(shard, copy.discarded(), "the discarded half").await?;
        }
        Outcome::Rollback => {}
    }
    write_op(shard, copy).await?;
    Ok(Resolution::Written)
}

/// Whether the transaction has an outcome on disk (repairing a commit's
/// missing op record).
pub async fn has_outcome(shard: &Rc<Shard>, copy: &HalfCopy) -> Result<bool, ResolveError> {
    let _claim = claim(shard, copy.identity).await?;
    settled(shard, copy).await
}

/// Claims `identity`, waiting (bounded) while another outcome of it is
/// being written.
async fn claim(shard: &Rc<Shard>, identity: i64) -> Result<super::Claim<'_>, ClaimError> {
    let mut tries = 0;
    loop {
        match shard.state.transactions.claim(identity) {
            Err(ClaimError::Busy) if tries < CLAIM_TRIES_MAX => {
                tries += 1;
                compio::time::sleep(std::time::Duration::from_millis(CLAIM_RETRY_MS)).await;
            }
            other => return other,
        }
    }
}

async fn settled(shard: &Rc<Shard>, copy: &HalfCopy) -> Result<bool, ResolveError> {
    match lookup(shard, copy).await {
        Found::Nothing => Ok(false),
        Found::Op => Ok(true),
        Found::CommitWithoutOp => {
            tracing::info!(
                identity = copy.identity,
                "a committed transaction had no op record; writing it"
            );
            write_op(shard, copy).await?;
            Ok(true)
        }
    }
}

async fn lookup(shard: &Rc<Shard>, copy: &HalfCopy) -> Found {
    let since = copy
        .record
        .born_timestamp
        .min(copy.record.store_timestamp)
        .saturating_sub(CLOCK_SKEW_ALLOWANCE_MS);
    let ops = shard
        .query_key(KeyQuery {
            topic: TRANS_OP_HALF_TOPIC.to_owned(),
            key: copy.identity.to_string(),
            max_num: 1,
            begin_ms: since,
            end_ms: i64::MAX,
        })
        .await;
    if !ops.is_empty() {
        return Found::Op;
    }
    let Some(uniq) = copy.uniq_key() else {
        return Found::Nothing;
    };
    let committed = shard
        .query_key(KeyQuery {
            topic: copy.real_topic.clone(),
            key: uniq.to_owned(),
            max_num: COMMIT_LOOKUP_MAX,
            begin_ms: since,
            end_ms: i64::MAX,
        })
        .await;
    let is_commit = |bytes: &[u8]| {
        RecordView::parse(bytes).is_ok_and(|v| v.transaction_type() == TransactionType::Commit)
    };
    if committed.iter().any(|r| is_commit(&r.bytes)) {
        Found::CommitWithoutOp
    } else {
        Found::Nothing
    }
}

async fn write_op(shard: &Rc<Shard>, copy: &HalfCopy) -> Result<(), ResolveError> {
    let store_host = shard.state.store_host;
    let op = OpFor {
        copy_queue_offset: copy.record.queue_offset,
        identity: copy.identity,
        born_host: store_host,
    };
    put(shard, op_record(&op, store_host), "the op record").await?;
    Ok(())
}

/// Appends one record to its topic's queue; returns (physical, queue) offsets.
pub async fn put(
    shard: &Rc<Shard>,
    record: ringmq_net::record::MessageRecord,
    what: &str,
) -> Result<(i64, i64), ResolveError> {
    let bytes = record
        .to_vec()
        .map_err(|err| ResolveError::Store(format!("{what} cannot be encoded: {err}")))?;
    let queue_id = if record.topic == TRANS_OP_HALF_TOPIC {
        HALF_QUEUE_ID
    } else {
        record.queue_id
    };
    let outcome = shard
        .put(PutJob {
            topic: record.topic.clone(),
            queue_id,
            records: vec![bytes],
            wait_flush: true,
        })
        .await;
    match outcome.status {
        PutStatus::Ok | PutStatus::FlushTimeout => outcome
            .stored
            .first()
            .copied()
            .ok_or_else(|| ResolveError::Store(format!("{what} was stored nowhere"))),
        other => Err(ResolveError::Store(other.remark(what))),
    }
}
