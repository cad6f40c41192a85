//! Delay levels (RocketMQ 4.x `ScheduleMessageService`): a message sent
//! with `DELAY=n` waits in `SCHEDULE_TOPIC_XXXX` queue `n-1`, whose
//! consume-queue tag code is its due time (store time + delay of level n,
//! computed by the store's index, `ringmq_storage::indexes`).
//!
//! One task per level, on the shard that owns that level's queue, reads the
//! queue in order from its progress offset. Within a level the due times
//! rise with the store order, so the task sleeps until the head is due, then
//! re-appends it to `REAL_TOPIC`/`REAL_QID` with `DELAY`, `REAL_TOPIC` and
//! `REAL_QID` removed, and moves on.
//!
//! # Progress file
//!
//! `<shard dir>/delayOffset.json`, RocketMQ's shape with string keys:
//!
//! ```text
//! {"offsetTable":{"<level>":<next schedule-queue offset to deliver>, ...}}
//! ```
//!
//! Written atomically (tmp + fsync + rename + fsync of the directory, off the
//! event loop) at most every [`PERSIST_PERIOD_MS`], and only with offsets
//! whose messages were re-appended durably (visible in async flush mode,
//! whose writes survive kill -9; flushed in sync mode). After a crash the
//! messages re-appended since the last write are delivered again: that is
//! the duplicate window (at most one period of deliveries per level). No
//! message is delivered before its due time: the due time is checked
//! against the clock before every re-append.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use compio::runtime::JoinHandle;
use ringmq_net::properties as names;
use ringmq_net::record::MessageRecord;
use ringmq_net::topic::SCHEDULE_TOPIC;
use ringmq_storage::GetStatus;
use serde::{Deserialize, Serialize};

use crate::config::FlushMode;
use crate::shard::Shard;
use crate::store::{PutJob, PutStatus};

/// Name of the progress file in a shard's store directory.
pub const PROGRESS_FILE: &str = "delayOffset.json";
/// Period of the progress file write (RocketMQ `flushDelayOffsetInterval` is 10 s).
pub const PERSIST_PERIOD_MS: u64 = 1_000;
/// Longest sleep of a level task (it re-checks the queue and the clock).
pub const IDLE_POLL_MS: u64 = 100;
/// Units read from a schedule queue per lookup.
pub const UNITS_PER_READ: u32 = 32;
/// Wait before retrying a re-append the store refused.
pub const RETRY_AFTER_MS: u64 = 1_000;

/// The file form of the progress table.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelayOffsets {
    pub offset_table: BTreeMap<u32, i64>,
}

/// Shared between the level tasks and the persister of one shard.
struct Progress {
    path: PathBuf,
    table: RefCell<DelayOffsets>,
    /// The table as last written.
    written: RefCell<DelayOffsets>,
}

impl Progress {
    fn offset(&self, level: u32) -> i64 {
        self.table
            .borrow()
            .offset_table
            .get(&level)
            .copied()
            .unwrap_or(0)
    }

    fn set(&self, level: u32, offset: i64) {
        self.table.borrow_mut().offset_table.insert(level, offset);
    }

    /// Writes the table if it changed since the last write.
    async fn persist(&self) {
        let table = self.table.borrow().clone();
        if *self.written.borrow() == table {
            return;
        }
        let Ok(json) = serde_json::to_vec(&table) else {
            return;
        };
        let path = self.path.clone();
        let result =
            compio::runtime::spawn_blocking(move || crate::persist::write_atomically(&path, &json))
                .await;
        match result {
            Ok(Ok(())) => *self.written.borrow_mut() = table,
            Ok(Err(err)) => {
                tracing::error!(path = %self.path.display(), %err, "writing the delay progress failed")
            }
            Err(_) => tracing::error!("the delay progress writer panicked"),
        }
    }
}

/// Reads a progress file; a missing file is an empty table, a damaged one
/// is reported and read as empty (messages are then delivered again).
fn load(path: &std::path::Path) -> DelayOffsets {
    match crate::persist::read_if_exists(path) {
        Ok(None) => DelayOffsets::default(),
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            tracing::error!(path = %path.display(), %err, "the delay progress file is damaged; delivering from the start");
            DelayOffsets::default()
        }),
        Err(err) => {
            tracing::error!(path = %path.display(), %err, "the delay progress file cannot be read");
            DelayOffsets::default()
        }
    }
}

/// The level tasks and persister of one shard.
pub struct DelayService {
    progress: Rc<Progress>,
    tasks: Vec<JoinHandle<()>>,
}

impl DelayService {
    /// Starts one task per level whose schedule queue this shard owns.
    pub fn start(shard: &Rc<Shard>) -> DelayService {
        let path = crate::store::shard_dir(&shard.state.config, shard.id).join(PROGRESS_FILE);
        let table = load(&path);
        let progress = Rc::new(Progress {
            path,
            written: RefCell::new(table.clone()),
            table: RefCell::new(table),
        });
        let levels = super::delay_levels(&shard.state.config).len();
        let mut tasks = Vec::new();
        for level in 1..=u32::try_from(levels).unwrap_or(0) {
            let queue_id = i32::try_from(level - 1).unwrap_or(0);
            if shard.owner(SCHEDULE_TOPIC, queue_id) != shard.id {
                continue;
            }
            tasks.push(compio::runtime::spawn(run_level(
                shard.clone(),
                progress.clone(),
                level,
            )));
        }
        let persister = progress.clone();
        tasks.push(compio::runtime::spawn(async move {
            loop {
                compio::time::sleep(Duration::from_millis(PERSIST_PERIOD_MS)).await;
                persister.persist().await;
            }
        }));
        DelayService { progress, tasks }
    }

    /// Cancels the tasks (a cancelled re-append is delivered again after a
    /// restart) and writes the progress reached.
    pub async fn stop(self) {
        drop(self.tasks);
        self.progress.persist().await;
    }
}

/// What a level task does next.
enum Step {
    /// Messages were delivered (or skipped): look again at once.
    Continue,
    /// Sleep this long before looking again.
    Sleep(u64),
}

async fn run_level(shard: Rc<Shard>, progress: Rc<Progress>, level: u32) {
    let queue_id = i32::try_from(level - 1).unwrap_or(0);
    loop {
        let step = deliver_due(&shard, &progress, level, queue_id).await;
        if let Step::Sleep(ms) = step {
            compio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

/// Delivers the due messages at the head of one level's queue.
async fn deliver_due(shard: &Rc<Shard>, progress: &Progress, level: u32, queue_id: i32) -> Step {
    let offset = progress.offset(level);
    let found = shard.store.inner().get_messages(
        SCHEDULE_TOPIC,
        queue_id,
        offset,
        UNITS_PER_READ,
        u32::MAX,
        None,
    );
    match found.status {
        GetStatus::Found => {}
        GetStatus::OffsetTooSmall
        | GetStatus::OffsetFoundNull
        | GetStatus::MessageWasRemoving
        | GetStatus::NoMatchedMessage => {
            progress.set(level, found.next_begin_offset);
            return Step::Continue;
        }
        GetStatus::OffsetOverflowBadly => {
            tracing::warn!(
                level,
                offset,
                max = found.max_offset,
                "delay progress is past its queue's end (log lost its tail); resuming at the end"
            );
            progress.set(level, found.max_offset);
            return Step::Continue;
        }
        _ => return Step::Sleep(IDLE_POLL_MS),
    }
    for unit in &found.records {
        let now = crate::clock::now_ms();
        if unit.tags_code > now {
            let wait = u64::try_from(unit.tags_code - now).unwrap_or(0);
            return Step::Sleep(wait.min(IDLE_POLL_MS));
        }
        if !redeliver(shard, unit.physical_offset, &[names::DELAY]).await {
            return Step::Sleep(RETRY_AFTER_MS);
        }
        progress.set(level, unit.queue_offset + 1);
    }
    Step::Continue
}

/// Re-appends the held record at `physical_offset` to its real queue,
/// removing `REAL_TOPIC`, `REAL_QID` and `clear`. `false`: the store refused
/// it (retry later); an unreadable record or one without a real destination
/// is dropped with an error log and counts as done.
pub async fn redeliver(shard: &Rc<Shard>, physical_offset: i64, clear: &[&str]) -> bool {
    let Some(bytes) = build_release(shard, physical_offset, clear, None).await else {
        return true;
    };
    let (topic, queue_id, record) = bytes;
    let outcome = shard
        .put(PutJob {
            topic,
            queue_id,
            records: vec![record],
            wait_flush: shard.state.config.flush_mode == FlushMode::Sync,
        })
        .await;
    match outcome.status {
        PutStatus::Ok => true,
        other => {
            tracing::warn!(
                physical_offset,
                remark = other.remark("a delayed message due for delivery"),
                "re-append failed; retrying"
            );
            false
        }
    }
}

/// The record to re-append for the held record at `physical_offset`:
/// (real topic, real queue, bytes), `REAL_TOPIC`, `REAL_QID` and `clear`
/// removed, `add` set.
pub(super) async fn build_release(
    shard: &Rc<Shard>,
    physical_offset: i64,
    clear: &[&str],
    add: Option<(&str, &str)>,
) -> Option<(String, i32, Vec<u8>)> {
    let Some(held) = shard.read_record(physical_offset).await else {
        tracing::error!(physical_offset, "a held message cannot be read; skipped");
        return None;
    };
    let Ok((mut record, _)) = MessageRecord::decode(&held.bytes) else {
        tracing::error!(physical_offset, "a held message cannot be decoded; skipped");
        return None;
    };
    let mut keys = vec![names::REAL_TOPIC, names::REAL_QID];
    keys.extend_from_slice(clear);
    let Some((topic, queue_id, properties)) = super::release_properties(&record.properties, &keys)
    else {
        tracing::error!(physical_offset, topic = %record.topic, "a held message names no valid real topic and queue; skipped");
        return None;
    };
    record.topic = topic.clone();
    record.queue_id = queue_id;
    record.properties = properties;
    if let Some((key, value)) = add {
        super::set_property(&mut record.properties, key, value);
    }
    match record.to_vec() {
        Ok(bytes) => Some((topic, queue_id, bytes)),
        Err(err) => {
            tracing::error!(physical_offset, %err, "a held message cannot be re-encoded; skipped");
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_file_has_rocketmq_s_shape_and_reads_back() {
        let mut table = DelayOffsets::default();
        table.offset_table.insert(1, 5);
        table.offset_table.insert(3, 0);
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(json, r#"{"offsetTable":{"1":5,"3":0}}"#);
        assert_eq!(serde_json::from_str::<DelayOffsets>(&json).unwrap(), table);
    }

    #[test]
    fn a_damaged_progress_file_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROGRESS_FILE);
        std::fs::write(&path, b"{\"offsetTable\":{\"1\":").unwrap();
        assert_eq!(load(&path), DelayOffsets::default());
        assert_eq!(load(&dir.path().join("missing")), DelayOffsets::default());
    }
}
