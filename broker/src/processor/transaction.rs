//! END_TRANSACTION (37, one-way; spec §2.12): the producer's outcome of a
//! half message (Java `EndTransactionProcessor`).
//!
//! The half is read back by its commit-log offset and checked as Java
//! checks it (`checkPrepareMessage`): it must be a half, of the producer
//! group the request names, at the queue offset the request names. Then
//! COMMIT writes the real message and ROLLBACK nothing, both followed by an
//! op record ([`crate::transaction::resolve`]); a transaction that already
//! has an outcome is left alone. UNKNOWN (`commitOrRollback` = 0) does
//! nothing: the check-back service will ask again.
//!
//! The request is one-way, so the refusals below are logged and their
//! reply is never sent (as Java's response is dropped for one-way calls).

use std::rc::Rc;

use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::EndTransactionRequestHeader;
use ringmq_net::record::MessageRecord;

use super::{Reply, error, header, success};
use crate::shard::Shard;
use crate::transaction::half::HalfCopy;
use crate::transaction::resolve::{Outcome, Resolution, resolve};

pub async fn end_transaction(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: EndTransactionRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let outcome = match head.commit_or_rollback {
        EndTransactionRequestHeader::TRANSACTION_COMMIT_TYPE => Outcome::Commit,
        EndTransactionRequestHeader::TRANSACTION_ROLLBACK_TYPE => Outcome::Rollback,
        EndTransactionRequestHeader::TRANSACTION_NOT_TYPE => {
            tracing::debug!(group = %head.producer_group, msg_id = %head.msg_id, "transaction state unknown; left for the check-back");
            return Reply::None;
        }
        other => {
            return refuse(
                req,
                &head,
                format!("commitOrRollback {other} is not 0 (unknown), 8 (commit) or 12 (rollback)"),
            );
        }
    };
    let copy = match half_of(shard, &head).await {
        Ok(copy) => copy,
        Err(remark) => return refuse(req, &head, remark),
    };
    match resolve(shard, &copy, outcome).await {
        Ok(Resolution::Written) => {
            tracing::debug!(identity = copy.identity, ?outcome, "transaction resolved");
            Reply::command(success(req))
        }
        Ok(Resolution::AlreadyResolved) => {
            tracing::info!(
                identity = copy.identity,
                ?outcome,
                from_check = head.from_transaction_check.unwrap_or(false),
                "late or duplicate END_TRANSACTION: the transaction already has an outcome"
            );
            Reply::command(success(req))
        }
        Err(err) => refuse(req, &head, format!("the outcome was not written: {err}")),
    }
}

/// The half the request names, checked against the request.
async fn half_of(
    shard: &Rc<Shard>,
    head: &EndTransactionRequestHeader,
) -> Result<HalfCopy, String> {
    let Some(found) = shard.read_record(head.commit_log_offset).await else {
        return Err(format!(
            "Find prepared transaction message failed: nothing at commit-log offset {}",
            head.commit_log_offset
        ));
    };
    let (record, _) = MessageRecord::decode(&found.bytes).map_err(|err| {
        format!(
            "the record at {} cannot be decoded: {err}",
            head.commit_log_offset
        )
    })?;
    let copy = HalfCopy::new(record).map_err(|err| err.to_string())?;
    if copy.group != head.producer_group {
        return Err(format!(
            "The producer group wrong: the half belongs to {}, the request names {}",
            copy.group, head.producer_group
        ));
    }
    if copy.record.queue_offset != head.tran_state_table_offset {
        return Err(format!(
            "The transaction state table offset wrong: the half is at {}, the request names {}",
            copy.record.queue_offset, head.tran_state_table_offset
        ));
    }
    if copy.record.physical_offset != head.commit_log_offset {
        return Err(format!(
            "The commit log offset wrong: the half is at {}, the request names {}",
            copy.record.physical_offset, head.commit_log_offset
        ));
    }
    Ok(copy)
}

fn refuse(req: &RemotingCommand, head: &EndTransactionRequestHeader, remark: String) -> Reply {
    tracing::warn!(
        group = %head.producer_group,
        msg_id = %head.msg_id,
        commit_log_offset = head.commit_log_offset,
        "END_TRANSACTION refused: {remark}"
    );
    error(req, response::SYSTEM_ERROR, remark)
}
