//! Revival (Java `PopReviveService`): a popped message whose invisible
//! time passed without an ack is re-published, with its reconsume times
//! raised, to the group's POP retry topic `%RETRY%<group>_<topic>` (queue
//! 0, visible at once), from which later pops of the topic read it; past
//! the group's `retryMaxTimes` it goes to `%DLQ%<group>` instead
//! ([`crate::processor::retry::destination`] decides, as for 4.x
//! send-backs). FIFO checkpoints are not revived here: their queue's next
//! pop hands the same messages out again ([`super::queue`]), and past the
//! limit they are dead-lettered by [`dead_letter_fifo`].
//!
//! One task per shard, for the checkpoints of the queues it owns, every
//! [`REVIVE_TICK_MS`]; it also compacts the pop log when done records
//! dominate it. A checkpoint is marked done in the log only after its
//! copies are stored (visible; flushed in sync mode), so a crash between
//! the two repeats the copies (at least once), never loses them.

use std::rc::Rc;
use std::time::Duration;

use ringmq_net::properties as names;
use ringmq_net::record::{self, MessageRecord};
use ringmq_net::topic as topics;

use super::book::{QueueKey, pending_offsets};
use super::log::{Checkpoint, LogRecord};
use crate::message;
use crate::processor::retry::{Destination, destination};
use crate::shard::Shard;
use crate::state::{ControlEvent, lock};
use crate::store::{PutJob, PutStatus};

/// Period of the revive scan.
pub const REVIVE_TICK_MS: u64 = 200;
/// Checkpoints revived per scan (the rest wait for the next).
pub const REVIVE_BATCH_MAX: usize = 256;
/// A revival that could not store its copies is tried again this much later.
pub const REVIVE_RETRY_MS: i64 = 1_000;
/// Estimated encoded bytes of one snapshot record (compaction trigger).
const SNAPSHOT_RECORD_BYTES: u64 = 96;
/// Default `retryMaxTimes` when the group is unknown.
const RETRY_MAX_TIMES_DEFAULT: i32 = 16;

/// The revive loop of one shard (ends when the shard stops).
pub async fn run(shard: Rc<Shard>) {
    loop {
        compio::time::sleep(Duration::from_millis(REVIVE_TICK_MS)).await;
        if shard.state.is_shutting_down() {
            return;
        }
        let now = crate::clock::now_ms();
        let due = shard.pop.book.borrow_mut().take_due(now, REVIVE_BATCH_MAX);
        for id in due {
            revive(&shard, id).await;
        }
        compact_if_worth_it(&shard).await;
    }
}

fn retry_max_times(shard: &Shard, group: &str) -> i32 {
    shard
        .group(group)
        .map_or(RETRY_MAX_TIMES_DEFAULT, |g| g.retry_max_times)
}

/// Re-publishes the still-pending messages of checkpoint `id`.
async fn revive(shard: &Rc<Shard>, id: u64) {
    let Some(ck) = shard.pop.book.borrow().get(id).cloned() else {
        return;
    };
    let max = retry_max_times(shard, &ck.group);
    let key = QueueKey::new(&ck.group, &ck.topic, ck.queue_id);
    for offset in pending_offsets(&ck) {
        // An ack that arrived meanwhile still counts.
        let still = shard
            .pop
            .book
            .borrow()
            .find(&key, ck.start_offset, ck.pop_time, offset)
            .is_some();
        if !still {
            continue;
        }
        if let Err(err) = republish(shard, &ck, offset, max, false).await {
            tracing::warn!(group = %ck.group, topic = %ck.topic, offset, %err, "revive failed; retrying later");
            let retry_at = crate::clock::now_ms() + REVIVE_RETRY_MS;
            shard.pop.book.borrow_mut().abort_revival(id, retry_at);
            return;
        }
    }
    finish(shard, &key, id).await;
}

async fn finish(shard: &Rc<Shard>, key: &QueueKey, id: u64) {
    shard.pop.book.borrow_mut().end_revival(id);
    if let Err(err) = shard.pop.journal.write(&[LogRecord::Done { id }]).await {
        tracing::error!(%err, "cannot log a finished revival");
    }
    super::publish_offset(shard, key);
}

/// A FIFO checkpoint past the group's attempts: its pending messages go to
/// `%DLQ%<group>`, then the checkpoint is done (the queue moves on).
pub async fn dead_letter_fifo(shard: &Rc<Shard>, ck: Checkpoint) -> Result<(), String> {
    if !shard.pop.book.borrow_mut().begin_revival(ck.id) {
        return Err("this FIFO queue's messages are being dead-lettered".into());
    }
    let max = retry_max_times(shard, &ck.group);
    for offset in pending_offsets(&ck) {
        if let Err(err) = republish(shard, &ck, offset, max, true).await {
            let retry_at = crate::clock::now_ms() + REVIVE_RETRY_MS;
            shard.pop.book.borrow_mut().abort_revival(ck.id, retry_at);
            return Err(err);
        }
    }
    let key = QueueKey::new(&ck.group, &ck.topic, ck.queue_id);
    finish(shard, &key, ck.id).await;
    Ok(())
}

/// Stores the copy of offset `offset` of `ck`'s queue in the retry topic or
/// the DLQ. A message no longer stored is skipped (`Ok`).
async fn republish(
    shard: &Rc<Shard>,
    ck: &Checkpoint,
    offset: i64,
    max: i32,
    dead_letter: bool,
) -> Result<(), String> {
    let key = QueueKey::new(&ck.group, &ck.topic, ck.queue_id);
    let Some(physical) = super::queue::locate(shard, &key, offset) else {
        return Ok(());
    };
    let Some(stored) = shard.store.read_record(physical).await else {
        return Ok(());
    };
    let (original, _) = MessageRecord::decode(&stored.bytes)
        .map_err(|err| format!("the record at {physical} cannot be decoded: {err}"))?;
    let times = if ck.fifo {
        ck.attempts
    } else {
        original.reconsume_times
    };
    let target = if dead_letter || destination(times, 0, max) == Destination::DeadLetter {
        topics::dlq_topic(&ck.group)
    } else if topics::is_retry_topic(&ck.topic) {
        ck.topic.clone()
    } else {
        topics::pop_retry_topic(&ck.topic, &ck.group)
    };
    ensure_topic(shard, &target)?;
    let copy = MessageRecord {
        queue_id: 0,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: record::sys_flag_for_hosts(
            original.sys_flag,
            original.born_host,
            shard.state.store_host,
        ),
        store_timestamp: crate::clock::now_ms(),
        store_host: shard.state.store_host,
        reconsume_times: times.saturating_add(1),
        topic: target.clone(),
        properties: copy_properties(shard, ck, &original, physical),
        ..original
    };
    let bytes = copy
        .to_vec()
        .map_err(|err| format!("the revived copy cannot be encoded: {err}"))?;
    let outcome = shard
        .put(PutJob {
            topic: target,
            queue_id: 0,
            records: vec![bytes],
            wait_flush: false,
        })
        .await;
    match outcome.status {
        PutStatus::Ok | PutStatus::FlushTimeout => Ok(()),
        other => Err(other.remark("the revived message")),
    }
}

/// The original's properties without its receipt, with where it came from
/// (`RETRY_TOPIC`, `ORIGIN_MESSAGE_ID`) and when it was first popped.
fn copy_properties(
    shard: &Shard,
    ck: &Checkpoint,
    original: &MessageRecord,
    physical: i64,
) -> String {
    let mut properties = message::remove_property(&original.properties, names::POP_CK);
    if message::property(&properties, names::RETRY_TOPIC).is_none() {
        message::append_property(&mut properties, names::RETRY_TOPIC, &original.topic);
    }
    if message::property(&properties, names::ORIGIN_MESSAGE_ID).is_none() {
        let id = message::offset_msg_id(shard.state.store_host, physical);
        message::append_property(&mut properties, names::ORIGIN_MESSAGE_ID, &id);
    }
    if message::property(&properties, names::FIRST_POP_TIME).is_none() {
        message::append_property(
            &mut properties,
            names::FIRST_POP_TIME,
            &ck.pop_time.to_string(),
        );
    }
    properties
}

/// Creates the retry topic or DLQ when missing (as a send-back does).
fn ensure_topic(shard: &Shard, name: &str) -> Result<(), String> {
    if shard.topic(name).is_some() {
        return Ok(());
    }
    topics::validate_topic_name(name).map_err(|err| format!("topic {name}: {err}"))?;
    let found = lock(&shard.state.topics).topic_for_send(
        name,
        topics::AUTO_CREATE_TOPIC,
        1,
        shard.state.config.auto_create_topic_enable,
    );
    let (_, created) = found.map_err(|refusal| refusal.remark)?;
    if created {
        tracing::info!(topic = name, "POP retry or dead-letter topic created");
        shard.state.signal(ControlEvent::TopicsChanged);
    }
    Ok(())
}

/// Rewrites the pop log from the book when done records dominate it.
async fn compact_if_worth_it(shard: &Rc<Shard>) {
    let estimate = {
        let book = shard.pop.book.borrow();
        (book.queues() + book.live()) as u64 * SNAPSHOT_RECORD_BYTES
    };
    if !shard.pop.journal.wants_compaction(estimate) {
        return;
    }
    let snapshot = shard.pop.book.borrow().snapshot();
    if let Err(err) = shard.pop.journal.compact(&snapshot).await {
        tracing::error!(%err, "pop log compaction failed");
    }
}
