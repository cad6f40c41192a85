//! Timed messages at any moment (RocketMQ 5 `TimerMessageStore`): a timer
//! wheel over an on-disk timer log, one per shard, with memory bounded by
//! constants whatever the number of pending timers.
//!
//! A message with `TIMER_DELIVER_MS` / `TIMER_DELAY_MS` / `TIMER_DELAY_SEC`
//! is stored (by the send hook, [`super::hold`]) in `rmq_sys_wheel_timer`,
//! in the queue this shard owns ([`local_queue`]), with `TIMER_OUT_MS` = its
//! due time, which the store's index puts in the consume-queue tag code.
//! One task per shard then
//!
//! 1. **enqueues**: reads that consume queue from the checkpointed offset
//!    and, for each unit, appends a log entry (prev, commit-log offset,
//!    size, due) and links it at the head of the wheel slot of its tick
//!    ([`PRECISION_MS`]). A due time beyond the wheel's window
//!    ([`WINDOW_MS`]) goes in the window's last tick and is *rolled*
//!    (enqueued again) when that tick comes;
//! 2. **delivers**: once the clock has passed a tick's end, walks the tick's
//!    chain in chunks of [`DELIVER_CHUNK`], re-appends the entries that are
//!    due to `REAL_TOPIC`/`REAL_QID` (removing those two, adding
//!    `TIMER_DEQUEUE_MS`, keeping `TIMER_OUT_MS` and the asked-for timer
//!    properties, as RocketMQ 5's `convertMessage` does) and rolls the rest;
//!    then moves to the next tick. A message is never delivered before its
//!    due time (checked against the clock per entry) and at most one tick
//!    plus the delivery time late;
//! 3. **checkpoints** every [`CHECKPOINT_PERIOD_MS`] (or when too many wheel
//!    slots changed): writes and syncs the buffered log, then writes and
//!    syncs the changed slots, then replaces `timercheck` (queue offset,
//!    log end, delivered tick).
//!
//! # Crash recovery
//!
//! The wheel file changes only in step 3, after the log is synced, so every
//! slot on disk points at synced entries. Recovery truncates the log at the
//! first entry that fails its CRC after the checkpointed end, and resumes
//! from the checkpoint: units enqueued since are enqueued again, and ticks
//! delivered since are delivered again (the duplicate window, at most one
//! checkpoint period of both). A tick's slot is reused only for a tick a
//! whole window later, which the cap above keeps beyond the delivered tick,
//! so no undelivered chain is ever overwritten. Formats: [`super::timer_files`].
//!
//! Log segments are deleted once the delivered tick is a window past their
//! last write (every entry in them was then placed in a delivered tick).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use compio::runtime::JoinHandle;
use ringmq_net::codec::Decode;
use ringmq_net::properties as names;
use ringmq_net::topic::TIMER_TOPIC;
use ringmq_storage::GetStatus;

use super::timer_files::{
    self, ENTRY_BYTES, LogEntry, NO_ENTRY, SLOT_BYTES, Slot, TimerCheckpoint,
};
use crate::config::FlushMode;
use crate::shard::{Shard, owner_of};
use crate::store::{PutJob, PutStatus};

/// Length of one wheel tick (RocketMQ 5 `timerPrecisionMs` is 1000).
pub const PRECISION_MS: i64 = 50;
/// Slots of the wheel (a 64 MiB sparse file).
pub const WHEEL_SLOTS: u64 = 1 << 21;
/// Time the wheel spans (about 29 hours); later due times are rolled.
pub const WINDOW_MS: i64 = PRECISION_MS * WHEEL_SLOTS as i64;
/// Size of one timer-log segment (2 Mi entries).
pub const TIMER_LOG_SEGMENT_BYTES: i64 = 64 << 20;
/// Log bytes buffered before they are written.
pub const LOG_BUFFER_BYTES: usize = 1 << 20;
/// Changed wheel slots kept in memory before a checkpoint is forced.
pub const DIRTY_SLOTS_MAX: usize = 65_536;
/// Period of the checkpoint.
pub const CHECKPOINT_PERIOD_MS: i64 = 200;
/// Consume-queue units enqueued per round.
pub const ENQUEUE_BATCH: u32 = 1024;
/// Entries of a tick's chain delivered together.
pub const DELIVER_CHUNK: usize = 256;
/// Ticks delivered per round (catching up after a stop).
pub const TICKS_PER_ROUND: usize = 4096;
/// Longest idle sleep.
pub const IDLE_MS: i64 = 10;
/// Wait before retrying a re-append the store refused.
pub const RETRY_AFTER_MS: u64 = 1_000;
/// Longest wait for the task to finish at shutdown.
pub const STOP_WAIT_MS: u64 = 3_000;

/// Why the timer cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    #[error("timer file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the timer's sync task panicked")]
    Panicked,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> TimerError + '_ {
    move |source| TimerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The queue of the timer topic that shard `shard` of `shards` owns.
pub fn local_queue(shard: usize, shards: usize) -> i32 {
    let shards = shards.max(1);
    (0..shards)
        .find(|q| owner_of(TIMER_TOPIC, i32::try_from(*q).unwrap_or(0), shards) == shard)
        .and_then(|q| i32::try_from(q).ok())
        .unwrap_or(0)
}

fn tick_of(time_ms: i64) -> i64 {
    time_ms - time_ms.rem_euclid(PRECISION_MS)
}

fn now_ms() -> i64 {
    crate::clock::now_ms()
}

/// Fsyncs `file` off the event loop.
async fn sync_file(file: &File, path: &Path) -> Result<(), TimerError> {
    let clone = file.try_clone().map_err(io_at(path))?;
    compio::runtime::spawn_blocking(move || clone.sync_data())
        .await
        .map_err(|_| TimerError::Panicked)?
        .map_err(io_at(path))
}

/// The append-only timer log: segments named by their base position.
struct TimerLog {
    dir: PathBuf,
    segments: BTreeMap<i64, File>,
    /// Position of the next entry (buffered ones included).
    end: i64,
    /// Position up to which entries are in the files.
    written: i64,
    buffer: Vec<u8>,
    unsynced: BTreeSet<i64>,
}

fn segment_path(dir: &Path, base: i64) -> PathBuf {
    dir.join(format!("{base:020}"))
}

impl TimerLog {
    /// Opens the log, cutting it at the first bad entry at or after `from`.
    fn open(dir: &Path, from: i64) -> Result<TimerLog, TimerError> {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let mut segments = BTreeMap::new();
        for item in fs::read_dir(dir).map_err(io_at(dir))? {
            let item = item.map_err(io_at(dir))?;
            let name = item.file_name();
            let Some(base) = name.to_str().and_then(|n| n.parse::<i64>().ok()) else {
                continue;
            };
            let path = item.path();
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_at(&path))?;
            segments.insert(base, file);
        }
        let mut log = TimerLog {
            dir: dir.to_owned(),
            segments,
            end: 0,
            written: 0,
            buffer: Vec::new(),
            unsynced: BTreeSet::new(),
        };
        log.recover(from.max(0))?;
        Ok(log)
    }

    /// Finds the end of the valid entries from `from` and cuts the rest.
    fn recover(&mut self, from: i64) -> Result<(), TimerError> {
        let first = self.segments.keys().next().copied().unwrap_or(0);
        let mut end = from.max(first);
        let entry = i64::try_from(ENTRY_BYTES).unwrap_or(32);
        while self.read_file(end).is_some() {
            end += entry;
        }
        let base = end - end.rem_euclid(TIMER_LOG_SEGMENT_BYTES);
        let later: Vec<i64> = self.segments.range(base + 1..).map(|(b, _)| *b).collect();
        for stale in later {
            self.segments.remove(&stale);
            let path = segment_path(&self.dir, stale);
            fs::remove_file(&path).map_err(io_at(&path))?;
        }
        if let Some(file) = self.segments.get(&base) {
            let path = segment_path(&self.dir, base);
            file.set_len(u64::try_from(end - base).unwrap_or(0))
                .map_err(io_at(&path))?;
            self.unsynced.insert(base);
        }
        self.end = end;
        self.written = end;
        Ok(())
    }

    fn read_file(&self, pos: i64) -> Option<LogEntry> {
        let base = pos - pos.rem_euclid(TIMER_LOG_SEGMENT_BYTES);
        let file = self.segments.get(&base)?;
        let mut bytes = [0u8; ENTRY_BYTES];
        file.read_exact_at(&mut bytes, u64::try_from(pos - base).ok()?)
            .ok()?;
        LogEntry::decode(&bytes).ok()
    }

    /// The entry at `pos` (from the buffer or the files).
    fn read(&self, pos: i64) -> Option<LogEntry> {
        if pos >= self.written {
            let at = usize::try_from(pos - self.written).ok()?;
            let bytes = self.buffer.get(at..at.checked_add(ENTRY_BYTES)?)?;
            return LogEntry::decode(bytes).ok();
        }
        self.read_file(pos)
    }

    fn append(&mut self, entry: &LogEntry) -> Result<i64, TimerError> {
        let pos = self.end;
        let bytes: [u8; ENTRY_BYTES] = timer_files::encode(entry);
        self.buffer.extend_from_slice(&bytes);
        self.end += i64::try_from(ENTRY_BYTES).unwrap_or(32);
        if self.buffer.len() >= LOG_BUFFER_BYTES {
            self.write_buffer()?;
        }
        Ok(pos)
    }

    /// Writes the buffered entries into their segments (creating them).
    fn write_buffer(&mut self) -> Result<(), TimerError> {
        let mut offset = 0usize;
        while offset < self.buffer.len() {
            let pos = self.written;
            let base = pos - pos.rem_euclid(TIMER_LOG_SEGMENT_BYTES);
            let room = usize::try_from(base + TIMER_LOG_SEGMENT_BYTES - pos).unwrap_or(0);
            let take = room.min(self.buffer.len() - offset);
            let path = segment_path(&self.dir, base);
            let file = match self.segments.entry(base) {
                std::collections::btree_map::Entry::Occupied(found) => found.into_mut(),
                std::collections::btree_map::Entry::Vacant(slot) => slot.insert(
                    OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(&path)
                        .map_err(io_at(&path))?,
                ),
            };
            let chunk = self.buffer.get(offset..offset + take).unwrap_or(&[]);
            file.write_all_at(chunk, u64::try_from(pos - base).unwrap_or(0))
                .map_err(io_at(&path))?;
            self.unsynced.insert(base);
            offset += take;
            self.written += i64::try_from(take).unwrap_or(0);
        }
        self.buffer.clear();
        Ok(())
    }

    async fn sync(&mut self) -> Result<(), TimerError> {
        self.write_buffer()?;
        for base in std::mem::take(&mut self.unsynced) {
            if let Some(file) = self.segments.get(&base) {
                sync_file(file, &segment_path(&self.dir, base)).await?;
            }
        }
        Ok(())
    }

    /// Deletes segments (not the last) last written a window before `delivered_ms`.
    fn delete_delivered(&mut self, delivered_ms: i64) {
        let last = self.segments.keys().next_back().copied();
        let old: Vec<i64> = self
            .segments
            .iter()
            .filter(|(base, _)| Some(**base) != last)
            .filter(|(_, file)| {
                modified_ms(file).is_some_and(|m| m + WINDOW_MS + PRECISION_MS < delivered_ms)
            })
            .map(|(base, _)| *base)
            .collect();
        for base in old {
            self.segments.remove(&base);
            let path = segment_path(&self.dir, base);
            if let Err(err) = fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %err, "removing a delivered timer-log segment failed");
            }
        }
    }
}

fn modified_ms(file: &File) -> Option<i64> {
    let modified = file.metadata().ok()?.modified().ok()?;
    let since = modified.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}

/// The wheel file and the slots changed since the last checkpoint.
struct Wheel {
    path: PathBuf,
    file: File,
    dirty: HashMap<u64, Slot>,
}

fn slot_index(tick: i64) -> u64 {
    u64::try_from((tick / PRECISION_MS).rem_euclid(WHEEL_SLOTS as i64)).unwrap_or(0)
}

impl Wheel {
    fn open(path: &Path) -> Result<Wheel, TimerError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_at(path))?;
        let bytes = WHEEL_SLOTS * SLOT_BYTES as u64;
        if file.metadata().map_err(io_at(path))?.len() < bytes {
            file.set_len(bytes).map_err(io_at(path))?;
        }
        Ok(Wheel {
            path: path.to_owned(),
            file,
            dirty: HashMap::new(),
        })
    }

    /// The slot of `tick` (empty if it holds another round or is damaged).
    fn get(&self, tick: i64) -> Slot {
        let index = slot_index(tick);
        let stored = self.dirty.get(&index).copied().or_else(|| {
            let mut bytes = [0u8; SLOT_BYTES];
            self.file
                .read_exact_at(&mut bytes, index * SLOT_BYTES as u64)
                .ok()?;
            Slot::decode(&bytes).ok()
        });
        stored.filter(|slot| slot.time_ms == tick).unwrap_or(Slot {
            time_ms: tick,
            first: NO_ENTRY,
            last: NO_ENTRY,
            count: 0,
        })
    }

    fn put(&mut self, slot: Slot) {
        self.dirty.insert(slot_index(slot.time_ms), slot);
    }

    async fn flush(&mut self) -> Result<(), TimerError> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        for (index, slot) in &self.dirty {
            let bytes: [u8; SLOT_BYTES] = timer_files::encode(slot);
            self.file
                .write_all_at(&bytes, index * SLOT_BYTES as u64)
                .map_err(io_at(&self.path))?;
        }
        sync_file(&self.file, &self.path).await?;
        self.dirty.clear();
        Ok(())
    }
}

/// Everything the timer task owns.
struct TimerCore {
    dir: PathBuf,
    queue_id: i32,
    log: TimerLog,
    wheel: Wheel,
    queue_offset: i64,
    /// Start of the next tick to deliver.
    delivered_ms: i64,
    last_checkpoint_ms: i64,
}

fn read_checkpoint(path: &Path) -> Result<Option<TimerCheckpoint>, TimerError> {
    match crate::persist::read_if_exists(path).map_err(io_at(path))? {
        None => Ok(None),
        Some(bytes) => match TimerCheckpoint::decode(&bytes) {
            Ok(point) => Ok(Some(point)),
            Err(err) => {
                tracing::error!(path = %path.display(), %err, "the timer checkpoint is damaged; re-reading the timer queue from its start");
                Ok(None)
            }
        },
    }
}

impl TimerCore {
    fn open(dir: &Path, queue_id: i32) -> Result<TimerCore, TimerError> {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let point = read_checkpoint(&dir.join("timercheck"))?;
        let fresh = point.is_none();
        let point = point.unwrap_or_default();
        if fresh {
            // No trusted wheel: start from empty files.
            let _ = fs::remove_file(dir.join("timerwheel"));
            let _ = fs::remove_dir_all(dir.join("timerlog"));
        }
        let log = TimerLog::open(&dir.join("timerlog"), point.log_end)?;
        let wheel = Wheel::open(&dir.join("timerwheel"))?;
        let delivered_ms = if point.delivered_ms > 0 {
            tick_of(point.delivered_ms)
        } else {
            tick_of(now_ms())
        };
        Ok(TimerCore {
            dir: dir.to_owned(),
            queue_id,
            log,
            wheel,
            queue_offset: point.queue_offset,
            delivered_ms,
            last_checkpoint_ms: now_ms(),
        })
    }

    /// Links one timer into the wheel (the window's last tick if later).
    fn place(&mut self, due_ms: i64, phys: i64, size: i32) -> Result<(), TimerError> {
        let cap = self.delivered_ms + WINDOW_MS - PRECISION_MS;
        let tick = tick_of(due_ms.clamp(self.delivered_ms, cap));
        let mut slot = self.wheel.get(tick);
        let prev = if slot.count > 0 { slot.last } else { NO_ENTRY };
        let pos = self.log.append(&LogEntry {
            prev,
            phys,
            due_ms,
            size,
        })?;
        if slot.count == 0 {
            slot.first = pos;
        }
        slot.last = pos;
        slot.count = slot.count.saturating_add(1);
        self.wheel.put(slot);
        Ok(())
    }

    /// Enqueues what arrived in the timer queue; `true` if anything moved.
    fn enqueue(&mut self, shard: &Shard) -> Result<bool, TimerError> {
        let found = shard.store.inner().get_messages(
            TIMER_TOPIC,
            self.queue_id,
            self.queue_offset,
            ENQUEUE_BATCH,
            u32::MAX,
            None,
        );
        match found.status {
            GetStatus::Found => {
                for unit in &found.records {
                    let size = i32::try_from(unit.len).unwrap_or(i32::MAX);
                    self.place(unit.tags_code, unit.physical_offset, size)?;
                }
            }
            GetStatus::OffsetTooSmall
            | GetStatus::OffsetFoundNull
            | GetStatus::MessageWasRemoving
            | GetStatus::NoMatchedMessage => {}
            GetStatus::OffsetOverflowBadly => {
                tracing::warn!(
                    offset = self.queue_offset,
                    max = found.max_offset,
                    "timer progress is past its queue's end (the log lost its tail)"
                );
            }
            _ => return Ok(false),
        }
        let moved = found.next_begin_offset != self.queue_offset;
        self.queue_offset = found.next_begin_offset;
        Ok(moved)
    }

    /// Delivers the ticks whose end has passed; `Ok(true)` if any was.
    async fn deliver(&mut self, shard: &Rc<Shard>, stop: &Cell<bool>) -> Result<bool, TimerError> {
        let mut ticks = 0;
        while now_ms() >= self.delivered_ms + PRECISION_MS && ticks < TICKS_PER_ROUND {
            let slot = self.wheel.get(self.delivered_ms);
            let mut pos = if slot.count > 0 { slot.last } else { NO_ENTRY };
            while pos != NO_ENTRY {
                let mut chunk = Vec::with_capacity(DELIVER_CHUNK);
                while pos != NO_ENTRY && chunk.len() < DELIVER_CHUNK {
                    let Some(entry) = self.log.read(pos) else {
                        tracing::error!(
                            pos,
                            tick = self.delivered_ms,
                            "a timer-log entry is unreadable; the rest of its tick is lost"
                        );
                        pos = NO_ENTRY;
                        break;
                    };
                    pos = entry.prev;
                    chunk.push(entry);
                }
                while !self.deliver_chunk(shard, &chunk).await? {
                    if stop.get() {
                        return Ok(true);
                    }
                    compio::time::sleep(Duration::from_millis(RETRY_AFTER_MS)).await;
                }
            }
            self.delivered_ms += PRECISION_MS;
            ticks += 1;
        }
        Ok(ticks > 0)
    }

    /// Re-appends the due entries of `chunk` and rolls the others;
    /// `Ok(false)` if the store refused some (the chunk is retried).
    async fn deliver_chunk(
        &mut self,
        shard: &Rc<Shard>,
        chunk: &[LogEntry],
    ) -> Result<bool, TimerError> {
        let now = now_ms();
        let mut due = Vec::with_capacity(chunk.len());
        for entry in chunk {
            if entry.due_ms > now {
                self.place(entry.due_ms, entry.phys, entry.size)?;
            } else {
                due.push(entry.phys);
            }
        }
        let dequeued = now.to_string();
        let releases = futures::future::join_all(due.iter().map(|phys| {
            super::delay::build_release(
                shard,
                *phys,
                &[],
                Some((names::TIMER_DEQUEUE_MS, &dequeued)),
            )
        }))
        .await;
        let mut groups: BTreeMap<(String, i32), Vec<Vec<u8>>> = BTreeMap::new();
        for (topic, queue_id, record) in releases.into_iter().flatten() {
            groups.entry((topic, queue_id)).or_default().push(record);
        }
        let wait_flush = shard.state.config.flush_mode == FlushMode::Sync;
        let puts = groups.into_iter().map(|((topic, queue_id), records)| {
            shard.put(PutJob {
                topic,
                queue_id,
                records,
                wait_flush,
            })
        });
        let outcomes = futures::future::join_all(puts).await;
        let refused = outcomes.iter().find(|o| o.status != PutStatus::Ok);
        if let Some(refused) = refused {
            tracing::warn!(
                remark = refused.status.remark("a timed message due for delivery"),
                "re-append failed; retrying"
            );
            return Ok(false);
        }
        Ok(true)
    }

    fn checkpoint_due(&self) -> bool {
        self.wheel.dirty.len() >= DIRTY_SLOTS_MAX
            || now_ms() - self.last_checkpoint_ms >= CHECKPOINT_PERIOD_MS
    }

    /// Log, then wheel, then the checkpoint file (see the module doc).
    async fn checkpoint(&mut self) -> Result<(), TimerError> {
        self.last_checkpoint_ms = now_ms();
        let point = TimerCheckpoint {
            queue_offset: self.queue_offset,
            log_end: self.log.end,
            delivered_ms: self.delivered_ms,
        };
        self.log.sync().await?;
        self.wheel.flush().await?;
        let path = self.dir.join("timercheck");
        let bytes: [u8; timer_files::CHECKPOINT_BYTES] = timer_files::encode(&point);
        let target = path.clone();
        compio::runtime::spawn_blocking(move || crate::persist::write_atomically(&target, &bytes))
            .await
            .map_err(|_| TimerError::Panicked)?
            .map_err(io_at(&path))?;
        self.log.delete_delivered(self.delivered_ms);
        Ok(())
    }

    /// How long to sleep when nothing moved: to the current tick's end, at most [`IDLE_MS`].
    fn idle_ms(&self) -> u64 {
        let wait = self.delivered_ms + PRECISION_MS - now_ms();
        u64::try_from(wait.clamp(1, IDLE_MS)).unwrap_or(1)
    }
}

/// One shard's timer task.
pub struct TimerService {
    stop: Rc<Cell<bool>>,
    task: JoinHandle<()>,
}

impl TimerService {
    /// Opens (recovering) this shard's timer files and starts its task.
    pub async fn start(shard: &Rc<Shard>) -> Result<TimerService, TimerError> {
        let dir = crate::store::shard_dir(&shard.state.config, shard.id).join("timer");
        let queue_id = local_queue(shard.id, shard.state.shard_count());
        let open_dir = dir.clone();
        let core = compio::runtime::spawn_blocking(move || TimerCore::open(&open_dir, queue_id))
            .await
            .map_err(|_| TimerError::Panicked)??;
        let stop = Rc::new(Cell::new(false));
        let task = compio::runtime::spawn(run(core, shard.clone(), stop.clone()));
        Ok(TimerService { stop, task })
    }

    /// Asks the task to checkpoint and end; waits for it (bounded).
    pub async fn stop(self) {
        self.stop.set(true);
        let wait = compio::time::timeout(Duration::from_millis(STOP_WAIT_MS), self.task).await;
        if wait.is_err() {
            tracing::warn!(
                "the timer task did not stop in time; its last ticks are delivered again after the restart"
            );
        }
    }
}

async fn run(mut core: TimerCore, shard: Rc<Shard>, stop: Rc<Cell<bool>>) {
    if let Err(err) = run_rounds(&mut core, &shard, &stop).await {
        tracing::error!(shard = shard.id, %err, "the timer stopped after an I/O error; timed messages stay held until a restart");
    }
}

async fn run_rounds(
    core: &mut TimerCore,
    shard: &Rc<Shard>,
    stop: &Cell<bool>,
) -> Result<(), TimerError> {
    while !stop.get() {
        let enqueued = core.enqueue(shard)?;
        let delivered = core.deliver(shard, stop).await?;
        if core.checkpoint_due() {
            core.checkpoint().await?;
        }
        if !enqueued && !delivered {
            compio::time::sleep(Duration::from_millis(core.idle_ms())).await;
        }
    }
    core.checkpoint().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_owns_exactly_one_timer_queue() {
        for shards in 1..=8 {
            let mut queues: Vec<i32> = (0..shards).map(|s| local_queue(s, shards)).collect();
            for (shard, q) in queues.iter().enumerate() {
                assert_eq!(owner_of(TIMER_TOPIC, *q, shards), shard);
            }
            queues.sort_unstable();
            queues.dedup();
            assert_eq!(queues.len(), shards);
        }
    }

    #[test]
    fn log_reads_back_buffered_and_written_entries_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timerlog");
        let mut log = TimerLog::open(&path, 0).unwrap();
        let entry = |i: i64| LogEntry {
            prev: i - 32,
            phys: i,
            due_ms: 1000 + i,
            size: 10,
        };
        let mut positions = Vec::new();
        for i in 0..100 {
            positions.push(log.append(&entry(i * 32)).unwrap());
        }
        assert_eq!(log.read(positions[5]), Some(entry(5 * 32)));
        log.write_buffer().unwrap();
        log.append(&entry(100 * 32)).unwrap();
        assert_eq!(log.read(positions[99]), Some(entry(99 * 32)));
        assert_eq!(log.read(100 * 32), Some(entry(100 * 32)));
        log.write_buffer().unwrap();
        // A torn tail: half an entry of garbage after 101 entries.
        let file = log.segments.get(&0).unwrap();
        file.write_all_at(&[7u8; 16], 101 * 32).unwrap();
        drop(log);
        let reopened = TimerLog::open(&path, 32 * 50).unwrap();
        assert_eq!(reopened.end, 101 * 32);
        assert_eq!(
            std::fs::metadata(segment_path(&path, 0)).unwrap().len(),
            101 * 32
        );
        assert_eq!(reopened.read(100 * 32), Some(entry(100 * 32)));
        assert_eq!(reopened.read(101 * 32), None);
    }

    #[test]
    fn a_slot_of_another_round_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut wheel = Wheel::open(&dir.path().join("timerwheel")).unwrap();
        let tick = 1_000 * PRECISION_MS;
        wheel.put(Slot {
            time_ms: tick,
            first: 0,
            last: 32,
            count: 2,
        });
        assert_eq!(wheel.get(tick).count, 2);
        let later = wheel.get(tick + WINDOW_MS);
        assert_eq!(
            (later.time_ms, later.count, later.last),
            (tick + WINDOW_MS, 0, NO_ENTRY)
        );
    }

    #[test]
    fn far_timers_go_to_the_window_s_last_tick() {
        let dir = tempfile::tempdir().unwrap();
        let mut core = TimerCore::open(dir.path(), 0).unwrap();
        let start = core.delivered_ms;
        core.place(start + 10 * WINDOW_MS, 1, 10).unwrap();
        let last = start + WINDOW_MS - PRECISION_MS;
        assert_eq!(core.wheel.get(last).count, 1);
        core.place(start - 5_000, 2, 10).unwrap();
        assert_eq!(
            core.wheel.get(start).count,
            1,
            "past due goes to the next tick"
        );
    }
}
