//! The POP operations on the shard that owns the queue: pop (hand out up
//! to 32 messages and checkpoint them), ack, change invisible time, peek.
//!
//! Each runs its book changes synchronously (so concurrent pops of one
//! queue never hand out the same offset), then logs them and waits for the
//! log's sync before answering. A popped message leaves as its stored
//! record re-encoded with `POP_CK` = its receipt ([`ExtraInfo`]); one read
//! from the POP retry topic is shown under the topic the client popped,
//! as Java's `PopMessageProcessor` does.

use std::collections::BTreeSet;
use std::rc::Rc;

use ringmq_net::header::pop::{ExtraInfo, POP_ORDER_REVIVE_QUEUE};
use ringmq_net::properties as names;
use ringmq_net::record::MessageRecord;
use ringmq_net::topic as topics;
use ringmq_storage::GetStatus;

use super::book::{FifoTurn, NewCheckpoint, QueueKey, pending_offsets};
use super::log::{CHECKPOINT_SPAN_MAX, Checkpoint, LogRecord};
use crate::message;
use crate::processor::retry::{Destination, destination};
use crate::shard::Shard;
use crate::state::lock;

/// Remark when the owning shard is gone (shutting down).
pub const SHARD_GONE: &str = "the shard owning this queue is shutting down";
/// Byte budget of one queue's pop (RocketMQ's in-memory transfer limit).
pub const POP_BYTES_MAX: u32 = 256 * 1024;
/// Java `ConsumeInitMode.MIN`: a group without an offset starts at the
/// queue's first message (`MAX`, 1, at its last one).
pub const INIT_MODE_MIN: i32 = 0;

/// Pop one queue.
#[derive(Debug, Clone)]
pub struct PopQueueJob {
    /// The queue (its topic is the POP retry topic for redeliveries).
    pub key: QueueKey,
    /// The topic the client popped (retry messages are shown under it).
    pub request_topic: String,
    pub max: u32,
    pub invisible_time: i64,
    pub pop_time: i64,
    pub fifo: bool,
    pub init_mode: i32,
    /// Tag codes accepted (`None` = all).
    pub tags: Option<BTreeSet<i32>>,
    /// The group's `retryMaxTimes` (FIFO redeliveries beyond go to the DLQ).
    pub retry_max_times: i32,
    pub broker_name: String,
}

/// What one queue's pop handed out.
#[derive(Debug, Clone, Default)]
pub struct PopQueueAnswer {
    /// The records, re-encoded with their receipt, in queue order.
    pub messages: Vec<Vec<u8>>,
    /// Their queue offsets.
    pub offsets: Vec<i64>,
    /// First offset of the checkpoint (`ckQueueOffset` of the receipts).
    pub start_offset: i64,
    /// Deliveries of these messages before this one (FIFO `orderCount`).
    pub attempts: i32,
    /// Messages left in the queue after this pop.
    pub rest: i64,
    /// Why nothing could be handed out, if it was a failure.
    pub error: Option<String>,
}

impl PopQueueAnswer {
    pub fn unavailable() -> PopQueueAnswer {
        PopQueueAnswer {
            error: Some(SHARD_GONE.into()),
            ..PopQueueAnswer::default()
        }
    }

    fn empty(rest: i64) -> PopQueueAnswer {
        PopQueueAnswer {
            rest,
            ..PopQueueAnswer::default()
        }
    }
}

/// Ack one message: the receipt's checkpoint start and pop time, and the
/// message's offset.
#[derive(Debug, Clone)]
pub struct AckJob {
    pub key: QueueKey,
    pub ck_start: i64,
    pub pop_time: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckAnswer {
    /// Acked now (and durable).
    Acked,
    /// Nothing waits for this receipt: acked before, or revived (its
    /// invisible time passed), or never handed out. Java answers SUCCESS.
    NotFound,
    Failed(String),
}

/// Make one message invisible for `invisible_time` more ms from `now`.
#[derive(Debug, Clone)]
pub struct ChangeJob {
    pub key: QueueKey,
    pub ck_start: i64,
    pub pop_time: i64,
    pub offset: i64,
    pub invisible_time: i64,
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeAnswer {
    /// The new receipt's pop time, invisible time and revive queue id.
    Changed {
        pop_time: i64,
        invisible_time: i64,
        revive_qid: i32,
    },
    NotFound,
    Failed(String),
}

/// Would a pop of this queue find a message?
#[derive(Debug, Clone)]
pub struct PeekJob {
    pub key: QueueKey,
    pub fifo: bool,
    pub init_mode: i32,
    pub now: i64,
}

/// Where a group without POP state starts in a queue: its committed
/// offset, else by `init_mode` (Java `getInitOffset`; a retry topic starts
/// at its first message). For `MAX` a queue that still holds its first
/// message starts there, as Java with `initPopOffsetByCheckMsgInMem`
/// (default on) does for messages still in memory; else at the last one.
fn initial_offset(shard: &Shard, key: &QueueKey, init_mode: i32) -> i64 {
    let committed = lock(&shard.state.offsets).query(&key.group, &key.topic, key.queue_id);
    if let Some(offset) = committed {
        return offset;
    }
    let store = shard.store.inner();
    let min = store.min_offset(&key.topic, key.queue_id);
    if init_mode == INIT_MODE_MIN || topics::is_retry_topic(&key.topic) || min == 0 {
        return min;
    }
    (store.max_offset(&key.topic, key.queue_id) - 1).max(min)
}

/// POP of one queue on its owner.
pub async fn pop(shard: &Rc<Shard>, job: PopQueueJob) -> PopQueueAnswer {
    if job.fifo {
        let turn = shard.pop.book.borrow().fifo_turn(&job.key, job.pop_time);
        match turn {
            FifoTurn::Free => {}
            FifoTurn::Blocked => return PopQueueAnswer::empty(0),
            FifoTurn::Expired(ck) => {
                let max = job.retry_max_times;
                if destination(ck.attempts, 0, max) != Destination::DeadLetter {
                    return redeliver(shard, &job, ck).await;
                }
                if let Err(err) = super::revive::dead_letter_fifo(shard, ck).await {
                    return PopQueueAnswer {
                        error: Some(err),
                        ..PopQueueAnswer::default()
                    };
                }
            }
        }
    }
    pop_fresh(shard, &job).await
}

/// A FIFO checkpoint whose invisible time passed: the same messages again,
/// one attempt more.
async fn redeliver(shard: &Rc<Shard>, job: &PopQueueJob, old: Checkpoint) -> PopQueueAnswer {
    let offsets = pending_offsets(&old);
    let new = NewCheckpoint {
        pop_time: job.pop_time,
        invisible_time: job.invisible_time,
        fifo: true,
        attempts: old.attempts.saturating_add(1),
        offsets: offsets.clone(),
    };
    let added = {
        let mut book = shard.pop.book.borrow_mut();
        book.remove(old.id);
        let frontier = book.frontier(&job.key).unwrap_or(0);
        book.add_unbounded(&job.key, new, frontier)
    };
    let ck = match added {
        Ok(ck) => ck,
        Err(err) => return failed(err.to_string()),
    };
    let mut located = Vec::with_capacity(offsets.len());
    for offset in &offsets {
        if let Some(physical) = locate(shard, &job.key, *offset) {
            located.push((*offset, physical));
        }
    }
    let records = vec![
        LogRecord::Done { id: old.id },
        LogRecord::Checkpoint(ck.clone()),
    ];
    let rest = 0;
    deliver(shard, job, ck, records, located, rest).await
}

/// A fresh pop from the queue's frontier.
async fn pop_fresh(shard: &Rc<Shard>, job: &PopQueueJob) -> PopQueueAnswer {
    let start = match shard.pop.book.borrow().frontier(&job.key) {
        Some(frontier) => frontier,
        None => initial_offset(shard, &job.key, job.init_mode),
    };
    let mut found = get(shard, job, start);
    if matches!(
        found.status,
        GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly | GetStatus::OffsetFoundNull
    ) && found.next_begin_offset != start
    {
        // The stored queue moved (retention, deletion): follow it.
        found = get(shard, job, found.next_begin_offset);
    }
    let (begin, end) = (found.begin, found.next_begin_offset);
    let mut records = found.records;
    // One checkpoint covers at most CHECKPOINT_SPAN_MAX offsets.
    let mut frontier = end;
    if let Some(first) = records.first().map(|r| r.0) {
        let limit = first + i64::from(CHECKPOINT_SPAN_MAX);
        if let Some(cut) = records.iter().position(|r| r.0 >= limit) {
            frontier = records.get(cut).map_or(end, |r| r.0);
            records.truncate(cut);
        }
    }
    let rest = (found.max_offset - frontier).max(0);
    match checkpoint(shard, job, begin, frontier, &records) {
        Planned::Nothing(log) => {
            if let Err(err) = shard.pop.journal.write(&log).await {
                return failed(err.to_string());
            }
            PopQueueAnswer::empty(rest)
        }
        Planned::Refused => PopQueueAnswer::empty(rest),
        Planned::Deliver(ck, log) => deliver(shard, job, ck, log, records, rest).await,
    }
}

/// What a fresh pop's book change came to.
enum Planned {
    /// Nothing to hand out; the frontier records to log.
    Nothing(Vec<LogRecord>),
    /// `pop_checkpoints_max` reached.
    Refused,
    /// The checkpoint and every record to log.
    Deliver(Checkpoint, Vec<LogRecord>),
}

/// The synchronous book change of a fresh pop (no `.await` while the book
/// is borrowed).
fn checkpoint(
    shard: &Shard,
    job: &PopQueueJob,
    begin: i64,
    frontier: i64,
    records: &[(i64, i64)],
) -> Planned {
    let mut book = shard.pop.book.borrow_mut();
    let mut log: Vec<LogRecord> = book.advance(&job.key, begin).into_iter().collect();
    if records.is_empty() {
        log.extend(book.advance(&job.key, frontier));
        return Planned::Nothing(log);
    }
    let new = NewCheckpoint {
        pop_time: job.pop_time,
        invisible_time: job.invisible_time,
        fifo: job.fifo,
        attempts: 0,
        offsets: records.iter().map(|r| r.0).collect(),
    };
    match book.add(&job.key, new, frontier) {
        Ok(ck) => {
            log.push(LogRecord::Checkpoint(ck.clone()));
            Planned::Deliver(ck, log)
        }
        Err(err) => {
            tracing::warn!(group = %job.key.group, topic = %job.key.topic, %err, "pop refused");
            Planned::Refused
        }
    }
}

struct Found {
    status: GetStatus,
    /// The offset the lookup started from.
    begin: i64,
    next_begin_offset: i64,
    max_offset: i64,
    /// (queue offset, physical offset) of each accepted message.
    records: Vec<(i64, i64)>,
}

fn get(shard: &Shard, job: &PopQueueJob, offset: i64) -> Found {
    let accepts = |code: i64| {
        job.tags
            .as_ref()
            .is_none_or(|tags| i32::try_from(code).is_ok_and(|c| tags.contains(&c)))
    };
    let filter: &dyn Fn(i64) -> bool = &accepts;
    let result = shard.store.inner().get_messages(
        &job.key.topic,
        job.key.queue_id,
        offset,
        job.max.clamp(1, u32::from(CHECKPOINT_SPAN_MAX)),
        POP_BYTES_MAX,
        job.tags.as_ref().map(|_| filter),
    );
    Found {
        status: result.status,
        begin: offset,
        next_begin_offset: result.next_begin_offset.max(offset),
        max_offset: result.max_offset,
        records: result
            .records
            .iter()
            .map(|r| (r.queue_offset, r.physical_offset))
            .collect(),
    }
}

/// The physical offset of a queue offset, if it is still stored.
pub fn locate(shard: &Shard, key: &QueueKey, offset: i64) -> Option<i64> {
    let result =
        shard
            .store
            .inner()
            .get_messages(&key.topic, key.queue_id, offset, 1, POP_BYTES_MAX, None);
    result
        .records
        .first()
        .filter(|r| r.queue_offset == offset)
        .map(|r| r.physical_offset)
}

fn failed(why: String) -> PopQueueAnswer {
    PopQueueAnswer {
        error: Some(why),
        ..PopQueueAnswer::default()
    }
}

/// Reads and re-encodes the checkpoint's messages while its log records
/// are synced; a message no longer stored is acked at once (it cannot be
/// delivered, now or later).
async fn deliver(
    shard: &Rc<Shard>,
    job: &PopQueueJob,
    ck: Checkpoint,
    mut log: Vec<LogRecord>,
    located: Vec<(i64, i64)>,
    rest: i64,
) -> PopQueueAnswer {
    let mut answer = PopQueueAnswer {
        start_offset: ck.start_offset,
        attempts: ck.attempts,
        rest,
        ..PopQueueAnswer::default()
    };
    let receipt = |offset: i64| ExtraInfo {
        ck_queue_offset: ck.start_offset,
        pop_time: ck.pop_time,
        invisible_time: ck.invisible_time,
        revive_qid: if ck.fifo { POP_ORDER_REVIVE_QUEUE } else { 0 },
        retry: topics::is_retry_topic(&job.key.topic),
        broker_name: job.broker_name.clone(),
        queue_id: job.key.queue_id,
        msg_queue_offset: Some(offset),
    };
    for (offset, physical) in located {
        let record = shard.store.read_record(physical).await;
        let encoded = record.and_then(|r| reencode(&r.bytes, job, &ck, &receipt(offset)));
        if let Some(bytes) = encoded {
            answer.messages.push(bytes);
            answer.offsets.push(offset);
        }
    }
    // Offsets of the checkpoint that were not located or read are done.
    let handed: BTreeSet<i64> = answer.offsets.iter().copied().collect();
    let lost: Vec<i64> = pending_offsets(&ck)
        .into_iter()
        .filter(|o| !handed.contains(o))
        .collect();
    {
        let mut book = shard.pop.book.borrow_mut();
        for offset in &lost {
            if let Some((id, bit)) = book.find(&job.key, ck.start_offset, ck.pop_time, *offset)
                && let Some((record, _)) = book.ack(id, bit)
            {
                tracing::warn!(topic = %job.key.topic, queue = job.key.queue_id, offset, "a popped message is no longer readable; skipped");
                log.push(record);
            }
        }
    }
    if let Err(err) = shard.pop.journal.write(&log).await {
        return failed(err.to_string());
    }
    super::publish_offset(shard, &job.key);
    answer
}

/// The stored record with its receipt added (and, read from the POP retry
/// topic, shown under the popped topic; FIFO: its attempts as reconsume
/// times).
fn reencode(
    bytes: &[u8],
    job: &PopQueueJob,
    ck: &Checkpoint,
    receipt: &ExtraInfo,
) -> Option<Vec<u8>> {
    let (mut record, _) = MessageRecord::decode(bytes).ok()?;
    let mut properties = message::remove_property(&record.properties, names::POP_CK);
    message::append_property(&mut properties, names::POP_CK, &receipt.render());
    record.properties = properties;
    if topics::is_retry_topic(&record.topic) && record.topic != job.request_topic {
        record.topic = job.request_topic.clone();
    }
    if ck.fifo {
        record.reconsume_times = record.reconsume_times.max(ck.attempts);
    }
    record.to_vec().ok()
}

/// ACK on the owner.
pub async fn ack(shard: &Rc<Shard>, job: AckJob) -> AckAnswer {
    let acked = {
        let mut book = shard.pop.book.borrow_mut();
        book.find(&job.key, job.ck_start, job.pop_time, job.offset)
            .and_then(|(id, bit)| {
                let fifo = book.get(id).is_some_and(|ck| ck.fifo);
                book.ack(id, bit)
                    .map(|(record, finished)| (record, finished, fifo))
            })
    };
    let Some((record, finished, fifo)) = acked else {
        return AckAnswer::NotFound;
    };
    if let Err(err) = shard.pop.journal.write(&[record]).await {
        return AckAnswer::Failed(err.to_string());
    }
    if finished {
        super::publish_offset(shard, &job.key);
        if fifo {
            // The queue's next message may go now: wake its held pops.
            shard
                .holds
                .borrow_mut()
                .wake(&job.key.topic, job.key.queue_id);
        }
    }
    AckAnswer::Acked
}

/// CHANGE_MESSAGE_INVISIBLETIME on the owner: the message moves to a
/// checkpoint of its own with the new deadline (FIFO: keeping its pop
/// time, as Java's order path answers).
pub async fn change(shard: &Rc<Shard>, job: ChangeJob) -> ChangeAnswer {
    let changed = {
        let mut book = shard.pop.book.borrow_mut();
        let Some((id, bit)) = book.find(&job.key, job.ck_start, job.pop_time, job.offset) else {
            return ChangeAnswer::NotFound;
        };
        let Some(old) = book.get(id).cloned() else {
            return ChangeAnswer::NotFound;
        };
        let (pop_time, invisible_time) = if old.fifo {
            let deadline = job.now.saturating_add(job.invisible_time);
            (old.pop_time, deadline.saturating_sub(old.pop_time))
        } else {
            (job.now, job.invisible_time)
        };
        let new = NewCheckpoint {
            pop_time,
            invisible_time,
            fifo: old.fifo,
            attempts: old.attempts,
            offsets: vec![job.offset],
        };
        let frontier = book.frontier(&job.key).unwrap_or(0);
        let added = book.add_unbounded(&job.key, new, frontier);
        added.map(|ck| {
            let acked = book.ack(id, bit).map(|(record, _)| record);
            (ck, acked)
        })
    };
    let (ck, acked) = match changed {
        Ok(done) => done,
        Err(err) => return ChangeAnswer::Failed(err.to_string()),
    };
    let mut log = vec![LogRecord::Checkpoint(ck.clone())];
    log.extend(acked);
    if let Err(err) = shard.pop.journal.write(&log).await {
        return ChangeAnswer::Failed(err.to_string());
    }
    ChangeAnswer::Changed {
        pop_time: ck.pop_time,
        invisible_time: ck.invisible_time,
        revive_qid: if ck.fifo { POP_ORDER_REVIVE_QUEUE } else { 0 },
    }
}

/// Whether a pop of the queue would find a message now (NOTIFICATION).
pub fn peek(shard: &Shard, job: &PeekJob) -> bool {
    let book = shard.pop.book.borrow();
    if job.fifo {
        match book.fifo_turn(&job.key, job.now) {
            FifoTurn::Blocked => return false,
            FifoTurn::Expired(_) => return true,
            FifoTurn::Free => {}
        }
    }
    let frontier = book.frontier(&job.key);
    drop(book);
    let from = frontier.unwrap_or_else(|| initial_offset(shard, &job.key, job.init_mode));
    shard
        .store
        .inner()
        .max_offset(&job.key.topic, job.key.queue_id)
        > from
}
