//! POP consumption state (RocketMQ 5): which messages of a queue a group
//! has been handed, which it acked, and the revival of the rest.
//!
//! The shard that owns a queue owns its POP state ([`ShardPop`]): the book
//! in memory ([`book`]) and the per-shard log that makes it durable
//! ([`journal`], record format in [`log`]). Every change is logged and
//! synced before the POP, ACK or CHANGE_INVISIBLE_TIME it serves is
//! answered; a restart (after `kill -9` too) replays the log, so an acked
//! message is never handed out again and a popped, unacked one always comes
//! back. The owner-side operations are in [`queue`]; [`revive`] re-publishes
//! messages whose invisible time passed to the group's POP retry topic
//! (`%RETRY%<group>_<topic>`), or past the group's `retryMaxTimes` to
//! `%DLQ%<group>`.
//!
//! Requests reach the owner as [`PopMessage`]s (inside
//! [`crate::shard::ShardMessage::Pop`]) when the connection lives on
//! another shard; the functions here route them.

pub mod book;
pub mod journal;
pub mod log;
pub mod queue;
pub mod revive;

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;

use crate::config::BrokerConfig;
use crate::shard::{Shard, ShardMessage};
use crate::state::lock;
use book::{PopBook, QueueKey};
use journal::{JournalError, PopJournal};
pub use queue::{AckAnswer, AckJob, ChangeAnswer, ChangeJob, PeekJob, PopQueueAnswer, PopQueueJob};

/// Default of `pop_checkpoints_max`: live checkpoints one shard holds.
pub const POP_CHECKPOINTS_MAX_DEFAULT: usize = 100_000;
/// Upper bound of `pop_checkpoints_max` (each checkpoint is ~100 bytes of
/// memory and covers at most 32 messages).
pub const POP_CHECKPOINTS_MAX_LIMIT: usize = 10_000_000;

/// The POP state of one shard.
pub struct ShardPop {
    pub book: RefCell<PopBook>,
    pub journal: Rc<PopJournal>,
}

/// Where shard `id` keeps its pop log.
pub fn dir(config: &BrokerConfig, id: usize) -> std::path::PathBuf {
    crate::store::shard_dir(config, id).join("pop")
}

impl ShardPop {
    /// Opens shard `id`'s pop log and rebuilds the book from it.
    pub fn open(config: &BrokerConfig, id: usize) -> Result<ShardPop, JournalError> {
        let (journal, records) = PopJournal::open(&dir(config, id))?;
        let mut book = PopBook::new(config.pop_checkpoints_max);
        for record in &records {
            book.apply(record);
        }
        if !records.is_empty() {
            tracing::info!(
                shard = id,
                records = records.len(),
                queues = book.queues(),
                checkpoints = book.live(),
                "POP state restored"
            );
        }
        Ok(ShardPop {
            book: RefCell::new(book),
            journal,
        })
    }

    /// Publishes every queue's consumed offset to the shared offset table
    /// (after a restart, so admin tools show the groups' progress).
    pub fn publish_offsets(&self, state: &crate::state::BrokerState) {
        let offsets = self.book.borrow().consumed_offsets();
        let mut table = lock(&state.offsets);
        for (key, offset) in offsets {
            table.commit(&key.group, &key.topic, key.queue_id, offset);
        }
    }
}

/// Commits the consumed offset of `key` to the shared offset table.
pub fn publish_offset(shard: &Shard, key: &QueueKey) {
    let consumed = shard.pop.book.borrow().consumed(key);
    if let Some(offset) = consumed {
        lock(&shard.state.offsets).commit(&key.group, &key.topic, key.queue_id, offset);
    }
}

/// A POP operation forwarded to the shard that owns its queue.
pub enum PopMessage {
    Pop(PopQueueJob, oneshot::Sender<PopQueueAnswer>),
    Ack(AckJob, oneshot::Sender<AckAnswer>),
    Change(ChangeJob, oneshot::Sender<ChangeAnswer>),
    Peek(PeekJob, oneshot::Sender<bool>),
    /// Wait (at most the ms given) for new messages in any of these queues.
    Wait(Vec<(String, i32)>, u64, oneshot::Sender<bool>),
}

/// Serves a forwarded operation on the owner.
pub async fn serve(shard: &Rc<Shard>, message: PopMessage) {
    match message {
        PopMessage::Pop(job, reply) => {
            let _ = reply.send(queue::pop(shard, job).await);
        }
        PopMessage::Ack(job, reply) => {
            let _ = reply.send(queue::ack(shard, job).await);
        }
        PopMessage::Change(job, reply) => {
            let _ = reply.send(queue::change(shard, job).await);
        }
        PopMessage::Peek(job, reply) => {
            let _ = reply.send(queue::peek(shard, &job));
        }
        PopMessage::Wait(queues, hold_ms, reply) => {
            let _ = reply.send(crate::long_poll::wait_for_arrival(shard, &queues, hold_ms).await);
        }
    }
}

/// Pops one queue, here or on its owner.
pub async fn pop(shard: &Rc<Shard>, job: PopQueueJob) -> PopQueueAnswer {
    let owner = shard.owner(&job.key.topic, job.key.queue_id);
    if owner == shard.id {
        return queue::pop(shard, job).await;
    }
    shard
        .forward(owner, |tx| ShardMessage::Pop(PopMessage::Pop(job, tx)))
        .await
        .unwrap_or_else(PopQueueAnswer::unavailable)
}

/// Acks one message, here or on its owner.
pub async fn ack(shard: &Rc<Shard>, job: AckJob) -> AckAnswer {
    let owner = shard.owner(&job.key.topic, job.key.queue_id);
    if owner == shard.id {
        return queue::ack(shard, job).await;
    }
    shard
        .forward(owner, |tx| ShardMessage::Pop(PopMessage::Ack(job, tx)))
        .await
        .unwrap_or_else(|| AckAnswer::Failed(queue::SHARD_GONE.into()))
}

/// Changes one message's invisible time, here or on its owner.
pub async fn change(shard: &Rc<Shard>, job: ChangeJob) -> ChangeAnswer {
    let owner = shard.owner(&job.key.topic, job.key.queue_id);
    if owner == shard.id {
        return queue::change(shard, job).await;
    }
    shard
        .forward(owner, |tx| ShardMessage::Pop(PopMessage::Change(job, tx)))
        .await
        .unwrap_or_else(|| ChangeAnswer::Failed(queue::SHARD_GONE.into()))
}

/// Whether a pop of one queue would find a message now.
pub async fn peek(shard: &Rc<Shard>, job: PeekJob) -> bool {
    let owner = shard.owner(&job.key.topic, job.key.queue_id);
    if owner == shard.id {
        return queue::peek(shard, &job);
    }
    shard
        .forward(owner, |tx| ShardMessage::Pop(PopMessage::Peek(job, tx)))
        .await
        .unwrap_or(false)
}

/// Waits at most `hold_ms` for new messages in any of `queues` (on
/// whichever shards own them); `false` when no shard could hold the wait.
pub async fn wait_for_arrival(shard: &Rc<Shard>, queues: &[(String, i32)], hold_ms: u64) -> bool {
    let mut by_owner: std::collections::BTreeMap<usize, Vec<(String, i32)>> =
        std::collections::BTreeMap::new();
    for (topic, queue_id) in queues {
        by_owner
            .entry(shard.owner(topic, *queue_id))
            .or_default()
            .push((topic.clone(), *queue_id));
    }
    let mut waits: Vec<futures::future::LocalBoxFuture<'_, bool>> = Vec::new();
    for (owner, queues) in by_owner {
        if owner == shard.id {
            waits.push(Box::pin(async move {
                crate::long_poll::wait_for_arrival(shard, &queues, hold_ms).await
            }));
        } else {
            waits.push(Box::pin(async move {
                shard
                    .forward(owner, |tx| {
                        ShardMessage::Pop(PopMessage::Wait(queues, hold_ms, tx))
                    })
                    .await
                    .unwrap_or(false)
            }));
        }
    }
    if waits.is_empty() {
        return false;
    }
    let (held, _, _) = futures::future::select_all(waits).await;
    held
}
