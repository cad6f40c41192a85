//! [`MessageStore`]: one shard's commit log with its consume queues, key
//! index, group-commit flusher and index rebuilder. Lives on, and never
//! leaves, the shard's single-threaded compio event loop (`!Send`); the
//! write path takes no locks. Commit-log writes go through io_uring, except
//! those of at most `StoreConfig::inline_write_bytes_max` bytes (off by
//! default), which are plain page-cache `pwrite`s on the loop. Consume-queue
//! units are buffered per queue and written with one `pwrite` per queue per
//! dispatched chunk; key entries are stored into a memory-mapped file.
//!
//! Write path (all on the shard's loop):
//!
//! ```text
//! put ──reserve (sync: queue offset, physical offset, store time, stamp)──▶ pending chunks
//!       │                                        writer task: one io_uring write at a time
//!       │                                        ▼
//!       │                           written watermark ──▶ index rebuilder task
//!       │                                        │        (consume queues, key index,
//!       │                                        │         arrival listener)
//!       │                                        ▼               ▼
//!       │                                 flusher task     dispatched watermark
//!       │                                 (fdatasync)            │
//!       ◀──── flushed watermark (sync mode) ◀───┘               │
//!       ◀──── dispatched watermark (always) ◀────────────────────┘
//! ```
//!
//! `put` returns once its records are written and visible in their consume
//! queue (a pull issued after the ack finds them), and with
//! [`FlushMode::Sync`] once an fdatasync covering them completed (group
//! commit: one fdatasync releases every writer at or below its offset).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use compio::fs::{File, OpenOptions};
use compio::io::AsyncWriteAtExt;
use compio::runtime::JoinHandle;
use futures::channel::oneshot;

use crate::checkpoint::Checkpoint;
use crate::config::{DISK_CHECK_INTERVAL_MS, FaultPoint, FlushMode, RECORD_BYTES_MAX, StoreConfig};
use crate::error::PutError;
use crate::fileio::IoOp;
use crate::indexes::{IndexError, Indexes};
use crate::log_record::{self, BLANK_MARKER_BYTES};
use crate::physical_offset::compose;
use crate::recovery::{self, OpenError};
use crate::segment;
use crate::watermark::{Notify, Watermark};

/// Largest batch of appended bytes submitted as one write.
pub const WRITE_BATCH_BYTES_MAX: usize = 1 << 20;
/// Most records in one `put_batch`.
pub const BATCH_RECORDS_MAX: usize = 4096;
/// How long an injected slow fdatasync (a `TimedOut` fault at
/// `FaultPoint::CommitLogSync`) stalls before syncing.
pub const SYNC_STALL: Duration = Duration::from_millis(300);
/// How many in-progress index persists a caller waits out before giving up.
const PERSIST_WAITS_MAX: usize = 4;
/// How many times `put` waits for a segment to appear before giving up.
const SEGMENT_WAITS_MAX: usize = 4;

/// Where an appended record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutResult {
    /// Shard-qualified physical offset of the record's first byte.
    pub physical_offset: i64,
    /// Logical offset in its consume queue (0 for undispatched tx halves).
    pub queue_offset: i64,
    pub wrote_bytes: u32,
    pub store_timestamp: i64,
}

/// Whether `put` waits for durability (RocketMQ `WAIT` property).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Written and visible; plus, in sync-flush mode, flushed.
    Flush,
    /// Written and visible only.
    Visible,
}

/// Called by the index rebuilder after new units became visible in a
/// consume queue: (topic, queue id, new max offset). Use it to wake
/// long-polling pulls. It must not call back into `put`.
pub type ArrivalListener = Rc<dyn Fn(&str, i32, i64)>;

/// Called after each successful commit-log flush with how long its
/// fdatasyncs took (for a flush latency histogram).
pub type FlushListener = Rc<dyn Fn(Duration)>;

/// Appended bytes in one segment, reserved but not yet written.
pub(crate) struct Chunk {
    pub at: u64,
    pub bytes: Vec<u8>,
    /// Log offset after this chunk: `at + len`, or the next segment's base
    /// when the chunk ends with a blank end-of-file marker.
    pub end: u64,
    /// When its first bytes were reserved (for [`MessageStore::write_backlog`]).
    pub reserved_at: std::time::Instant,
}

/// How far the commit-log writer is behind ([`MessageStore::write_backlog`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteBacklog {
    /// Age of the oldest reserved record not yet handed to the writer, ms
    /// (0 when nothing waits).
    pub queued_ms: u64,
    /// How long the commit-log write in progress has taken so far, ms (0
    /// when none is in progress).
    pub writing_ms: u64,
}

pub(crate) struct LogState {
    pub segments: BTreeMap<u64, File>,
    pub reserve_at: u64,
    pub min_offset: u64,
    pub pending: VecDeque<Chunk>,
    pub next_queue_offset: HashMap<String, HashMap<i32, i64>>,
    pub last_store_timestamp: i64,
    pub allocating: bool,
    pub allocation_waiters: Vec<oneshot::Sender<()>>,
}

pub(crate) struct Inner {
    pub config: StoreConfig,
    pub log: RefCell<LogState>,
    pub written: Watermark,
    pub dispatched: Watermark,
    pub flushed: Watermark,
    pub indexes: RefCell<Indexes>,
    pub read_only: RefCell<Option<String>>,
    pub disk_full: Cell<Option<u8>>,
    pub writer_wake: Notify,
    pub dispatcher_wake: Notify,
    pub flusher_wake: Notify,
    pub allocator_wake: Notify,
    pub dispatch_queue: RefCell<VecDeque<Chunk>>,
    pub arrival_listener: RefCell<Option<ArrivalListener>>,
    pub published: Arc<AtomicU64>,
    pub index_persisting: Cell<bool>,
    /// Callers waiting for an index persist in progress to finish.
    pub index_persist_waiters: RefCell<Vec<oneshot::Sender<()>>>,
    /// When the commit-log write in progress started.
    pub write_started: Cell<Option<std::time::Instant>>,
    pub flush_listener: RefCell<Option<FlushListener>>,
    _lock: std::fs::File,
}

/// One shard's message store. Cheap to clone (a shared handle); background
/// tasks stop when the last handle is dropped.
#[derive(Clone)]
pub struct MessageStore {
    pub(crate) inner: Rc<Inner>,
    tasks: Rc<RefCell<Vec<JoinHandle<()>>>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl MessageStore {
    /// Opens (creating if needed) the store, running recovery, and starts its
    /// background tasks on the current compio runtime.
    pub async fn open(config: StoreConfig) -> Result<MessageStore, OpenError> {
        let recover_config = config.clone();
        let recovered = compio::runtime::spawn_blocking(move || recovery::recover(&recover_config))
            .await
            .map_err(|_| OpenError::Config("recovery task panicked".into()))??;
        if recovered.crashed {
            tracing::warn!(dir = %config.data_dir.display(), log_end = recovered.log_end, "recovered after a crash");
        }
        let mut segments = BTreeMap::new();
        for base in &recovered.segment_bases {
            let path = segment::path(&config.commitlog_dir(), *base);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .await
                .map_err(|source| OpenError::Io {
                    context: format!("opening {}", path.display()),
                    source,
                })?;
            segments.insert(*base, file);
        }
        let indexes = recovered.indexes;
        let mut next_queue_offset: HashMap<String, HashMap<i32, i64>> = HashMap::new();
        for (topic, queue_id, max) in indexes.queues.max_offsets() {
            if let Some(next) = next_queue_offset_mut(&mut next_queue_offset, topic, queue_id) {
                *next = max;
            }
        }
        let log_end = recovered.log_end;
        let log = LogState {
            min_offset: recovered
                .segment_bases
                .first()
                .copied()
                .unwrap_or(log_end - log_end % config.segment_bytes),
            segments,
            reserve_at: log_end,
            pending: VecDeque::new(),
            next_queue_offset,
            last_store_timestamp: recovered.last_store_timestamp,
            allocating: false,
            allocation_waiters: Vec::new(),
        };
        let inner = Rc::new(Inner {
            log: RefCell::new(log),
            written: Watermark::new(log_end),
            dispatched: Watermark::new(log_end),
            flushed: Watermark::new(log_end),
            indexes: RefCell::new(indexes),
            read_only: RefCell::new(None),
            disk_full: Cell::new(None),
            writer_wake: Notify::default(),
            dispatcher_wake: Notify::default(),
            flusher_wake: Notify::default(),
            allocator_wake: Notify::default(),
            dispatch_queue: RefCell::new(VecDeque::new()),
            arrival_listener: RefCell::new(None),
            published: Arc::new(AtomicU64::new(log_end)),
            index_persisting: Cell::new(false),
            index_persist_waiters: RefCell::new(Vec::new()),
            write_started: Cell::new(None),
            flush_listener: RefCell::new(None),
            _lock: recovered.lock,
            config,
        });
        let store = MessageStore {
            inner,
            tasks: Rc::new(RefCell::new(Vec::new())),
        };
        store.start_tasks();
        store.inner.check_disk_space();
        store.inner.allocator_wake.notify();
        Ok(store)
    }

    fn start_tasks(&self) {
        let mut tasks = self.tasks.borrow_mut();
        tasks.push(compio::runtime::spawn(run_writer(self.inner.clone())));
        tasks.push(compio::runtime::spawn(run_index_rebuilder(
            self.inner.clone(),
        )));
        tasks.push(compio::runtime::spawn(run_flusher(self.inner.clone())));
        tasks.push(compio::runtime::spawn(run_segment_allocator(
            self.inner.clone(),
        )));
        tasks.push(compio::runtime::spawn(run_index_flusher(
            self.inner.clone(),
        )));
        tasks.push(compio::runtime::spawn(run_disk_watcher(self.inner.clone())));
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Registers the callback told how long each commit-log flush took.
    pub fn set_flush_listener(&self, listener: FlushListener) {
        *self.inner.flush_listener.borrow_mut() = Some(listener);
    }

    /// Bytes of commit-log segments kept (min offset to end of the log).
    pub fn log_bytes(&self) -> u64 {
        let log = self.inner.log.borrow();
        log.reserve_at.saturating_sub(log.min_offset)
    }

    /// Registers the callback told about every consume queue that grew.
    pub fn set_arrival_listener(&self, listener: ArrivalListener) {
        *self.inner.arrival_listener.borrow_mut() = Some(listener);
    }

    /// Shared counter of the local log offset up to which segment bytes are
    /// written and immutable; any thread may read segment files below it.
    pub fn published_watermark(&self) -> Arc<AtomicU64> {
        self.inner.published.clone()
    }

    /// Local log offset of the oldest byte still kept (retention moves it).
    pub fn log_min_offset(&self) -> u64 {
        self.inner.log.borrow().min_offset
    }

    /// Local log offset below which records are durable.
    pub fn flushed_offset(&self) -> u64 {
        self.inner.flushed.get()
    }

    /// Local log offset where the next record will go (including records
    /// reserved but not yet written).
    pub fn reserved_offset(&self) -> u64 {
        self.inner.log.borrow().reserve_at
    }

    /// How far the writer is behind now (flow control reads it per send:
    /// no clock read when nothing waits).
    pub fn write_backlog(&self) -> WriteBacklog {
        let ms =
            |at: std::time::Instant| u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
        WriteBacklog {
            queued_ms: self
                .inner
                .log
                .borrow()
                .pending
                .front()
                .map_or(0, |chunk| ms(chunk.reserved_at)),
            writing_ms: self.inner.write_started.get().map_or(0, ms),
        }
    }

    /// Why the store refuses writes after an I/O failure, if it does.
    pub fn read_only_reason(&self) -> Option<String> {
        self.inner.read_only.borrow().clone()
    }

    /// Re-reads disk usage now (also done every second in the background);
    /// returns the usage in percent if writes are refused.
    pub fn check_disk_space(&self) -> Option<u8> {
        self.inner.check_disk_space()
    }

    /// Appends one encoded record (spec §4.1; queue offset, physical offset
    /// and store timestamp are assigned here) and waits per `WaitFor::Flush`.
    pub async fn put(&self, record: Vec<u8>) -> Result<PutResult, PutError> {
        let mut results = self.put_batch(vec![record], WaitFor::Flush).await?;
        results
            .pop()
            .ok_or_else(|| PutError::MessageIllegal("empty batch".into()))
    }

    /// Appends records contiguously in one segment (a SEND_BATCH_MESSAGE),
    /// with consecutive queue offsets per queue.
    pub async fn put_batch(
        &self,
        records: Vec<Vec<u8>>,
        wait: WaitFor,
    ) -> Result<Vec<PutResult>, PutError> {
        let inner = &self.inner;
        inner.admit()?;
        let total = inner.validate(&records)?;
        let mut records = Some(records);
        let mut reserved = None;
        for _ in 0..SEGMENT_WAITS_MAX {
            let Some(batch) = records.take() else { break };
            match inner.try_reserve(batch, total) {
                Ok(done) => {
                    reserved = Some(done);
                    break;
                }
                Err((batch, base)) => {
                    records = Some(batch);
                    inner.ensure_segment(base).await?;
                    inner.admit()?;
                }
            }
        }
        let (results, end) =
            reserved.ok_or_else(|| PutError::SegmentUnavailable("segment not ready".into()))?;
        let visible = inner.dispatched.wait_for(end);
        let sync_timeout = inner
            .config
            .sync_timeout()
            .filter(|_| wait == WaitFor::Flush);
        let durable = sync_timeout.and_then(|_| inner.flushed.wait_for(end));
        inner.writer_wake.notify();
        if let Some(visible) = visible {
            visible.await.map_err(|_| inner.failure())?;
        }
        if let (Some(durable), Some(timeout)) = (durable, sync_timeout) {
            inner.flusher_wake.notify();
            match compio::time::timeout(timeout, durable).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(inner.failure()),
                Err(_) => return Err(PutError::FlushTimeout(results)),
            }
        }
        Ok(results)
    }

    /// Makes everything appended so far durable: waits for it to be written,
    /// then for an fdatasync covering it.
    pub async fn flush(&self) -> Result<(), PutError> {
        let target = self.inner.log.borrow().reserve_at;
        if let Some(written) = self.inner.written.wait_for(target) {
            self.inner.writer_wake.notify();
            written.await.map_err(|_| self.inner.failure())?;
        }
        if let Some(flushed) = self.inner.flushed.wait_for(target) {
            self.inner.flusher_wake.notify();
            flushed.await.map_err(|_| self.inner.failure())?;
        }
        Ok(())
    }

    /// Flushes the log and the indexes and writes a clean checkpoint; the
    /// next open trusts it instead of scanning. Background tasks stop.
    pub async fn shutdown(self) -> Result<(), PutError> {
        let flushed = self.flush().await;
        let target = self.inner.log.borrow().reserve_at;
        if let Some(dispatched) = self.inner.dispatched.wait_for(target) {
            dispatched.await.map_err(|_| self.inner.failure())?;
        }
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        for task in tasks {
            let _ = task.cancel().await;
        }
        flushed?;
        self.inner.index_persisting.set(false);
        // A persist cancelled with its task never releases its waiters.
        self.inner.index_persist_waiters.borrow_mut().clear();
        self.inner.persist_indexes().await?;
        let abort = self.inner.config.abort_path();
        let io = self.inner.config.io.clone();
        compio::runtime::spawn_blocking(move || io.remove_file(&abort))
            .await
            .map_err(|_| std::io::Error::other("abort marker removal panicked"))
            .and_then(|result| result)
            .map_err(|err| PutError::ReadOnly(format!("removing abort marker: {err}")))?;
        Ok(())
    }

    /// Persists consume queues, key index and checkpoint now (normally done
    /// every `index_flush_interval_ms`).
    pub async fn flush_indexes(&self) -> Result<(), PutError> {
        self.inner.persist_indexes().await
    }
}

impl Inner {
    pub(crate) fn failure(&self) -> PutError {
        match self.read_only.borrow().clone() {
            Some(reason) => PutError::ReadOnly(reason),
            None => PutError::ReadOnly("store closed".into()),
        }
    }

    fn admit(&self) -> Result<(), PutError> {
        if let Some(reason) = self.read_only.borrow().clone() {
            return Err(PutError::ReadOnly(reason));
        }
        if let Some(usage_percent) = self.disk_full.get() {
            return Err(PutError::DiskFull { usage_percent });
        }
        Ok(())
    }

    fn validate(&self, records: &[Vec<u8>]) -> Result<u64, PutError> {
        if records.is_empty() || records.len() > BATCH_RECORDS_MAX {
            return Err(PutError::MessageIllegal(format!(
                "batch of {} records",
                records.len()
            )));
        }
        let mut total = 0u64;
        for record in records {
            if record.len() > RECORD_BYTES_MAX {
                return Err(PutError::MessageIllegal(format!(
                    "record of {} bytes above {RECORD_BYTES_MAX}",
                    record.len()
                )));
            }
            let head = log_record::head(record)
                .map_err(|err| PutError::MessageIllegal(err.to_string()))?;
            if !log_record::valid_topic_bytes(head.topic.as_bytes()) {
                return Err(PutError::MessageIllegal(format!(
                    "invalid topic name {:?}",
                    head.topic
                )));
            }
            total += record.len() as u64;
        }
        if total + BLANK_MARKER_BYTES as u64 > self.config.segment_bytes {
            return Err(PutError::MessageIllegal(format!(
                "{total} bytes do not fit in a segment"
            )));
        }
        Ok(total)
    }

    /// Assigns offsets and queues the records for writing, or says which
    /// segment must exist first (giving the records back).
    #[allow(clippy::type_complexity)]
    fn try_reserve(
        &self,
        mut records: Vec<Vec<u8>>,
        total: u64,
    ) -> Result<(Vec<PutResult>, u64), (Vec<Vec<u8>>, u64)> {
        let seg_bytes = self.config.segment_bytes;
        let mut log = self.log.borrow_mut();
        let at = log.reserve_at;
        let base = at - at % seg_bytes;
        let fits = at - base + total + BLANK_MARKER_BYTES as u64 <= seg_bytes;
        let target = if fits { base } else { base + seg_bytes };
        if !log.segments.contains_key(&base) {
            return Err((records, base));
        }
        if !log.segments.contains_key(&target) {
            return Err((records, target));
        }
        if !fits {
            let marker = log_record::blank_marker(seg_bytes - (at - base));
            push_chunk(&mut log, seg_bytes, at, &marker, target);
            log.reserve_at = target;
            self.allocator_wake.notify();
        }
        let timestamp = now_ms().max(log.last_store_timestamp);
        log.last_store_timestamp = timestamp;
        let mut results = Vec::with_capacity(records.len());
        for record in records.iter_mut() {
            let at = log.reserve_at;
            let physical_offset = compose(self.config.shard_id, at);
            let queue_offset = match log_record::head(record) {
                Ok(head) if head.dispatched => {
                    match next_queue_offset_mut(
                        &mut log.next_queue_offset,
                        head.topic,
                        head.queue_id,
                    ) {
                        Some(counter) => {
                            *counter += 1;
                            *counter - 1
                        }
                        None => 0,
                    }
                }
                _ => 0,
            };
            // Cannot fail: `validate` parsed this record.
            let _ = log_record::stamp(record, queue_offset, physical_offset, timestamp);
            let len = record.len() as u64;
            push_chunk(&mut log, seg_bytes, at, record, at + len);
            log.reserve_at = at + len;
            results.push(PutResult {
                physical_offset,
                queue_offset,
                wrote_bytes: u32::try_from(len).unwrap_or(u32::MAX),
                store_timestamp: timestamp,
            });
        }
        Ok((results, log.reserve_at))
    }

    /// Makes sure the segment at `base` exists, creating it once even if
    /// many writers ask.
    async fn ensure_segment(&self, base: u64) -> Result<(), PutError> {
        for _ in 0..SEGMENT_WAITS_MAX {
            let waiter = {
                let mut log = self.log.borrow_mut();
                if log.segments.contains_key(&base) {
                    return Ok(());
                }
                if log.allocating {
                    let (sender, receiver) = oneshot::channel();
                    log.allocation_waiters.push(sender);
                    Some(receiver)
                } else {
                    log.allocating = true;
                    None
                }
            };
            match waiter {
                Some(receiver) => {
                    let _ = receiver.await;
                }
                None => {
                    let result = self.create_segment(base).await;
                    let waiters = {
                        let mut log = self.log.borrow_mut();
                        log.allocating = false;
                        if let Ok(file) = &result {
                            log.segments.insert(base, file.clone());
                        }
                        std::mem::take(&mut log.allocation_waiters)
                    };
                    for waiter in waiters {
                        let _ = waiter.send(());
                    }
                    return result.map(|_| ());
                }
            }
        }
        Err(PutError::SegmentUnavailable(format!(
            "segment {base} still being created"
        )))
    }

    async fn create_segment(&self, base: u64) -> Result<File, PutError> {
        if let Some(usage_percent) = self.check_disk_space() {
            return Err(PutError::DiskFull { usage_percent });
        }
        if let Some(err) = self.config.fault(FaultPoint::SegmentCreate) {
            return Err(self.segment_error(err));
        }
        let dir = self.config.commitlog_dir();
        let len = self.config.segment_bytes;
        let create_dir = dir.clone();
        let io = self.config.io.clone();
        let created = compio::runtime::spawn_blocking(move || {
            segment::create_preallocated(&io, &create_dir, base, len)
        })
        .await
        .map_err(|_| PutError::SegmentUnavailable("segment creation panicked".into()))?;
        created.map_err(|err| self.segment_error(err))?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(segment::path(&dir, base))
            .await
            .map_err(|err| self.segment_error(err))
    }

    fn segment_error(&self, err: std::io::Error) -> PutError {
        if err.raw_os_error() == Some(libc::ENOSPC) {
            self.disk_full.set(Some(100));
            tracing::error!("no space left for a new commit-log segment; refusing writes");
            return PutError::DiskFull { usage_percent: 100 };
        }
        PutError::SegmentUnavailable(err.to_string())
    }

    pub(crate) fn check_disk_space(&self) -> Option<u8> {
        let limit = self.config.disk_usage_max_percent;
        match self.config.disk_usage_percent() {
            Ok(usage) if usage > limit => {
                if self.disk_full.get().is_none() {
                    tracing::error!(usage, limit, "disk usage above limit; refusing writes");
                }
                self.disk_full.set(Some(usage));
            }
            Ok(_) => {
                if self.disk_full.take().is_some() {
                    tracing::info!("disk usage back under limit; accepting writes");
                }
            }
            Err(err) => tracing::warn!(%err, "cannot read disk usage"),
        }
        self.disk_full.get()
    }

    /// Refuses all further writes and fails every waiting writer.
    pub(crate) fn enter_read_only(&self, reason: String) {
        tracing::error!(%reason, "store is now read-only until restart");
        *self.read_only.borrow_mut() = Some(reason);
        self.log.borrow_mut().pending.clear();
        self.written.fail_all();
        self.dispatched.fail_all();
        self.flushed.fail_all();
    }

    /// Writes pending consume-queue and key-index bytes, syncs them and
    /// records the checkpoint. One at a time; never holds a borrow across I/O.
    /// One persist at a time: a caller arriving during one waits for it and
    /// then persists again, so everything dispatched before the call is
    /// covered when it returns.
    async fn persist_indexes(&self) -> Result<(), PutError> {
        for _ in 0..PERSIST_WAITS_MAX {
            if !self.index_persisting.replace(true) {
                let result = self.persist_indexes_once().await;
                self.index_persisting.set(false);
                let waiters = std::mem::take(&mut *self.index_persist_waiters.borrow_mut());
                for waiter in waiters {
                    let _ = waiter.send(());
                }
                return result;
            }
            let (sender, receiver) = oneshot::channel();
            self.index_persist_waiters.borrow_mut().push(sender);
            let _ = receiver.await;
        }
        Err(PutError::SegmentUnavailable(
            "index persist kept being busy".into(),
        ))
    }

    /// fdatasyncs every index file written since the last persist (off the
    /// loop), then records the checkpoint: everything dispatched before the
    /// call is in the page cache of those files, so `indexed` covers it.
    async fn persist_indexes_once(&self) -> Result<(), PutError> {
        let indexed = self.dispatched.get();
        let log_flushed = self.flushed.get();
        let taken = {
            let mut indexes = self.indexes.borrow_mut();
            indexes.queues.take_dirty().map(|mut files| {
                files.extend(indexes.keys.take_dirty());
                let mut dirs = indexes.queues.take_new_dirs();
                dirs.extend(indexes.keys.take_new_dirs());
                (files, dirs)
            })
        };
        let (files, dirs) = match taken {
            Ok(taken) => taken,
            Err(err) => {
                let reason = format!("consume-queue write failed: {err}");
                self.enter_read_only(reason.clone());
                return Err(PutError::ReadOnly(reason));
            }
        };
        let io = self.config.io.clone();
        let synced = compio::runtime::spawn_blocking(move || {
            io.sync_paths(&files)?;
            dirs.iter().try_for_each(|dir| io.sync_dir(dir))
        })
        .await
        .map_err(|_| std::io::Error::other("index sync panicked"))
        .and_then(|result| result);
        if let Err(err) = synced {
            // A failed fsync is never retried: its pages may be lost.
            let reason = format!("index fdatasync failed: {err}");
            self.enter_read_only(reason.clone());
            return Err(PutError::ReadOnly(reason));
        }
        let checkpoint = Checkpoint {
            log_flushed,
            indexed,
            last_store_timestamp: self.log.borrow().last_store_timestamp,
        };
        let path = self.config.checkpoint_path();
        let io = self.config.io.clone();
        compio::runtime::spawn_blocking(move || io.write_atomically(&path, &checkpoint.encode()))
            .await
            .map_err(|_| std::io::Error::other("checkpoint writer panicked"))
            .and_then(|result| result)
            .map_err(|err| PutError::SegmentUnavailable(format!("writing the checkpoint: {err}")))
    }
}

/// The next queue offset counter of a queue; allocates the topic's name
/// only the first time the topic is seen (never `None`: the topic is
/// inserted first).
fn next_queue_offset_mut<'a>(
    table: &'a mut HashMap<String, HashMap<i32, i64>>,
    topic: &str,
    queue_id: i32,
) -> Option<&'a mut i64> {
    if !table.contains_key(topic) {
        table.insert(topic.to_owned(), HashMap::new());
    }
    table
        .get_mut(topic)
        .map(|queues| queues.entry(queue_id).or_insert(0))
}

/// Appends bytes to the pending chunk they continue, or starts a new one.
/// A chunk never spans segments (a blank marker can end exactly at a
/// segment's end, making the next segment's first record look contiguous).
fn push_chunk(log: &mut LogState, seg_bytes: u64, at: u64, bytes: &[u8], end: u64) {
    if let Some(tail) = log.pending.back_mut() {
        let same_segment = tail.at / seg_bytes == at / seg_bytes;
        let contiguous = same_segment && tail.at + tail.bytes.len() as u64 == at && tail.end == at;
        if contiguous && tail.bytes.len() + bytes.len() <= WRITE_BATCH_BYTES_MAX {
            tail.bytes.extend_from_slice(bytes);
            tail.end = end;
            return;
        }
    }
    log.pending.push_back(Chunk {
        at,
        bytes: bytes.to_vec(),
        end,
        reserved_at: std::time::Instant::now(),
    });
}

/// Writes pending chunks in order, one io_uring write at a time, and
/// advances the written watermark.
async fn run_writer(inner: Rc<Inner>) {
    loop {
        let next = inner.log.borrow_mut().pending.pop_front();
        let Some(chunk) = next else {
            inner.writer_wake.notified().await;
            continue;
        };
        let seg_bytes = inner.config.segment_bytes;
        let base = chunk.at - chunk.at % seg_bytes;
        let file = inner.log.borrow().segments.get(&base).cloned();
        let Some(file) = file else {
            inner.enter_read_only(format!("segment {base} missing for a reserved write"));
            continue;
        };
        let inline = chunk.bytes.len() <= inner.config.inline_write_bytes_max;
        inner.write_started.set(Some(std::time::Instant::now()));
        let ticket = inner.config.io.begin(|| IoOp::Write {
            path: segment::path(&inner.config.commitlog_dir(), base),
            at: chunk.at - base,
            len: chunk.bytes.len() as u64,
        });
        let result = match (inner.config.fault(FaultPoint::CommitLogWrite), ticket) {
            (Some(err), _) | (None, Err(err)) => (Err(err), chunk),
            (None, Ok(ticket)) if inline => (
                ticket.end(pwrite_all(&file, &chunk.bytes, chunk.at - base)),
                chunk,
            ),
            (None, Ok(ticket)) => {
                let Chunk {
                    at,
                    bytes,
                    end,
                    reserved_at,
                } = chunk;
                let mut target = &file;
                let compio::BufResult(result, bytes) = target.write_all_at(bytes, at - base).await;
                let chunk = Chunk {
                    at,
                    bytes,
                    end,
                    reserved_at,
                };
                (ticket.end(result), chunk)
            }
        };
        inner.write_started.set(None);
        match result {
            (Ok(()), chunk) => {
                let end = chunk.end;
                inner.written.advance(end);
                inner.published.store(end, Ordering::Release);
                inner.dispatch_queue.borrow_mut().push_back(chunk);
                inner.dispatcher_wake.notify();
                if inner.flushed.has_waiters() {
                    inner.flusher_wake.notify();
                }
            }
            (Err(err), _) => inner.enter_read_only(format!("commit-log write failed: {err}")),
        }
    }
}

/// Writes `bytes` at `at` with plain `pwrite` on the loop's thread: for a
/// small buffered write this costs less than an io_uring WRITE, which ext4
/// punts to an io-wq worker (a thread hop and a futex wake-up each).
fn pwrite_all(file: &File, mut bytes: &[u8], mut at: u64) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    while !bytes.is_empty() {
        let offset = libc::off_t::try_from(at).map_err(|_| std::io::Error::other("offset"))?;
        // SAFETY: the fd belongs to `file`, open for the call; the buffer is
        // valid for `bytes.len()` bytes.
        let n =
            unsafe { libc::pwrite(file.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), offset) };
        match usize::try_from(n) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                bytes = bytes.get(n..).unwrap_or_default();
                at += n as u64;
            }
            Err(_) => {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}

/// The index rebuilder: applies written chunks to the consume queues and key
/// index, then advances the dispatched watermark and tells the listener.
async fn run_index_rebuilder(inner: Rc<Inner>) {
    loop {
        let next = inner.dispatch_queue.borrow_mut().pop_front();
        let Some(chunk) = next else {
            inner.dispatcher_wake.notified().await;
            continue;
        };
        let arrivals = dispatch_chunk(&inner, &chunk);
        inner.dispatched.advance(chunk.end);
        let listener = inner.arrival_listener.borrow().clone();
        if let Some(listener) = listener {
            for (topic, queue_id, max) in &arrivals {
                listener(topic, *queue_id, *max);
            }
        }
    }
}

fn dispatch_chunk(inner: &Inner, chunk: &Chunk) -> Vec<(String, i32, i64)> {
    let mut arrivals: Vec<(String, i32, i64)> = Vec::new();
    let mut indexes = inner.indexes.borrow_mut();
    let mut pos = 0usize;
    while let Some(record) = chunk.bytes.get(pos..).and_then(log_record::written_record) {
        let local = chunk.at + pos as u64;
        // The writer wrote these bytes itself: only the header is checked
        // here; `apply` parses the record once.
        match indexes.apply(record, local) {
            Ok(Some((topic, queue_id, max))) => {
                match arrivals
                    .iter_mut()
                    .find(|(t, q, _)| t == topic && *q == queue_id)
                {
                    Some(arrival) => arrival.2 = max,
                    None => arrivals.push((topic.to_owned(), queue_id, max)),
                }
            }
            Ok(None) => {}
            Err(IndexError::Io(err)) => {
                drop(indexes);
                inner.enter_read_only(format!("index file write failed: {err}"));
                return arrivals;
            }
            Err(err) => tracing::warn!(%err, local, "written record not indexable"),
        }
        pos += record.len();
    }
    // One write per queue that grew (readers saw the units in its tail).
    if let Err(err) = indexes.queues.write_tails() {
        drop(indexes);
        inner.enter_read_only(format!("consume-queue write failed: {err}"));
    }
    arrivals
}

/// fdatasyncs the written log: in sync mode as soon as a writer waits (group
/// commit), in async mode every interval. A failed sync is never retried.
async fn run_flusher(inner: Rc<Inner>) {
    loop {
        match inner.config.flush {
            FlushMode::Sync { .. } => inner.flusher_wake.notified().await,
            FlushMode::Async { interval_ms } => {
                let tick = compio::time::sleep(Duration::from_millis(interval_ms));
                futures::future::select(Box::pin(tick), inner.flusher_wake.notified()).await;
            }
        }
        while inner.read_only.borrow().is_none() && inner.flushed.get() < inner.written.get() {
            if !flush_once(&inner).await {
                return;
            }
        }
    }
}

async fn flush_once(inner: &Inner) -> bool {
    let from = inner.flushed.get();
    let target = inner.written.get();
    let seg_bytes = inner.config.segment_bytes;
    let first = from - from % seg_bytes;
    let last = target.saturating_sub(1) - target.saturating_sub(1) % seg_bytes;
    let files: Vec<(u64, File)> = inner
        .log
        .borrow()
        .segments
        .range(first..=last)
        .map(|(base, f)| (*base, f.clone()))
        .collect();
    let started = std::time::Instant::now();
    for (base, file) in files {
        let ticket = inner
            .config
            .io
            .begin(|| IoOp::Sync(segment::path(&inner.config.commitlog_dir(), base)));
        let ticket = match ticket {
            Ok(ticket) => ticket,
            Err(err) => {
                inner.enter_read_only(format!("fdatasync failed: {err}"));
                return false;
            }
        };
        let result = match inner.config.fault(FaultPoint::CommitLogSync) {
            // Injected slow disk: the sync succeeds, but late.
            Some(err) if err.kind() == std::io::ErrorKind::TimedOut => {
                compio::time::sleep(SYNC_STALL).await;
                file.sync_data().await
            }
            Some(err) => Err(err),
            None => file.sync_data().await,
        };
        if let Err(err) = ticket.end(result) {
            inner.enter_read_only(format!("fdatasync failed: {err}"));
            return false;
        }
    }
    inner.flushed.advance(target);
    let listener = inner.flush_listener.borrow().clone();
    if let Some(listener) = listener {
        listener(started.elapsed());
    }
    true
}

/// Creates the segment after the active one ahead of time.
async fn run_segment_allocator(inner: Rc<Inner>) {
    loop {
        inner.allocator_wake.notified().await;
        let seg_bytes = inner.config.segment_bytes;
        let at = inner.log.borrow().reserve_at;
        let active = at - at % seg_bytes;
        for base in [active, active + seg_bytes] {
            if inner.read_only.borrow().is_some() {
                break;
            }
            if let Err(err) = inner.ensure_segment(base).await {
                tracing::warn!(%err, base, "could not preallocate a commit-log segment");
                break;
            }
        }
    }
}

/// Persists consume queues, key index and checkpoint periodically.
async fn run_index_flusher(inner: Rc<Inner>) {
    let period = Duration::from_millis(inner.config.index_flush_interval_ms.max(1));
    loop {
        compio::time::sleep(period).await;
        if let Err(err) = inner.persist_indexes().await {
            tracing::warn!(%err, "index flush failed");
        }
    }
}

/// Re-reads disk usage periodically so refused writes resume on their own.
async fn run_disk_watcher(inner: Rc<Inner>) {
    loop {
        compio::time::sleep(Duration::from_millis(DISK_CHECK_INTERVAL_MS)).await;
        let was_full = inner.disk_full.get().is_some();
        if inner.check_disk_space().is_none() && was_full {
            inner.allocator_wake.notify();
        }
    }
}
