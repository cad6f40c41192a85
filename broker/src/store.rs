//! The broker's view of one shard's [`MessageStore`]: the jobs shards send
//! each other (all `Send`, so they can cross shards) and their outcomes, and
//! [`ShardStore`], which runs them against the store on the owning shard.
//!
//! Pull results leave the owner as [`SegmentRange`]s (segment file path,
//! position, length) rather than bytes; the connection's shard maps them
//! ([`crate::transfer`]) and sends them zero-copy.
//!
//! Layout: shard `i` keeps its store in `<data_dir>/shard-<i>/`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::SystemTime;

use ringmq_storage::physical_offset::local_of;
use ringmq_storage::{GetStatus, MessageStore, PutError, StoreConfig, WaitFor};

use crate::config::{BrokerConfig, FlushMode};
use crate::shard::ShardStartError;

/// Async flush period (RocketMQ `flushIntervalCommitLog`).
pub const ASYNC_FLUSH_INTERVAL_MS: u64 = 500;
/// Sync flush wait before FLUSH_DISK_TIMEOUT (`syncFlushTimeout`).
pub const SYNC_FLUSH_TIMEOUT_MS: u64 = 5_000;

/// Records to append to one queue, already encoded (spec §4.1).
pub struct PutJob {
    pub topic: String,
    pub queue_id: i32,
    pub records: Vec<Vec<u8>>,
    /// The `WAIT` property: wait for the flush in sync-flush mode.
    pub wait_flush: bool,
}

/// How an append ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutStatus {
    Ok,
    /// Stored and visible but not flushed in time (FLUSH_DISK_TIMEOUT).
    FlushTimeout,
    /// Refused: bad record (MESSAGE_ILLEGAL).
    Illegal(String),
    /// Refused: store read-only, disk full, shard gone (SERVICE_NOT_AVAILABLE).
    Unavailable(String),
}

impl PutStatus {
    /// A remark for people saying what became of `what` (e.g. "the message
    /// sent back for retry") and, when it was not stored, what to do.
    pub fn remark(&self, what: &str) -> String {
        match self {
            PutStatus::Ok => format!("{what} was stored"),
            PutStatus::FlushTimeout => {
                format!("{what} was stored, but not flushed to disk within the flush timeout")
            }
            PutStatus::Illegal(why) => {
                format!("{what} was refused as malformed: {why}")
            }
            PutStatus::Unavailable(why) => {
                format!("{what} could not be stored: {why}; retry later or through another broker")
            }
        }
    }
}

/// Result of a [`PutJob`]: per record, (physical offset, queue offset).
pub struct PutOutcome {
    pub status: PutStatus,
    pub stored: Vec<(i64, i64)>,
}

impl PutOutcome {
    pub fn unavailable() -> PutOutcome {
        PutOutcome {
            status: PutStatus::Unavailable("the shard owning this queue is shutting down".into()),
            stored: Vec::new(),
        }
    }
}

/// A pull lookup on one queue.
#[derive(Clone)]
pub struct PullJob {
    pub topic: String,
    pub queue_id: i32,
    pub offset: i64,
    pub max_count: u32,
    pub max_bytes: u32,
    /// Tag codes accepted (`None` = all).
    pub tags: Option<BTreeSet<i32>>,
    /// Park for up to this long when nothing is there (suspend flag).
    pub hold_ms: Option<u64>,
}

/// Bytes of one or more adjacent records in a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRange {
    pub path: PathBuf,
    pub position: u64,
    pub len: usize,
}

/// Answer to a [`PullJob`].
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// `None`: the owning shard is gone.
    pub status: Option<GetStatus>,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub message_count: usize,
    pub ranges: Vec<SegmentRange>,
}

impl PullOutcome {
    pub fn unavailable() -> PullOutcome {
        PullOutcome {
            status: None,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            message_count: 0,
            ranges: Vec::new(),
        }
    }

    /// Whether a suspended pull should wait for new messages.
    pub fn is_empty_tail(&self) -> bool {
        matches!(
            self.status,
            Some(
                GetStatus::OffsetOverflowOne
                    | GetStatus::NoMessageInQueue
                    | GetStatus::NoMatchedLogicQueue
                    | GetStatus::OffsetFoundNull
            )
        )
    }
}

/// Which per-queue number to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueQueryKind {
    MaxOffset,
    MinOffset,
    /// First offset stored at or after this timestamp (ms).
    OffsetAt(i64),
    EarliestStoreTime,
    /// Store time (ms) of the record at this logical offset, -1 if none.
    StoreTimeAt(i64),
}

#[derive(Debug, Clone)]
pub struct QueueQuery {
    pub topic: String,
    pub queue_id: i32,
    pub kind: QueueQueryKind,
}

impl QueueQuery {
    pub fn new(topic: &str, queue_id: i32, kind: QueueQueryKind) -> QueueQuery {
        QueueQuery {
            topic: topic.to_owned(),
            queue_id,
            kind,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct QueueAnswer {
    pub value: i64,
}

/// A whole record, copied (VIEW_MESSAGE_BY_ID, QUERY_MESSAGE, send-back).
#[derive(Debug, Clone)]
pub struct RecordAt {
    pub physical_offset: i64,
    pub bytes: Vec<u8>,
}

/// A key-index lookup (QUERY_MESSAGE).
#[derive(Debug, Clone)]
pub struct KeyQuery {
    pub topic: String,
    pub key: String,
    pub max_num: usize,
    pub begin_ms: i64,
    pub end_ms: i64,
}

/// One shard's store and where its segment files are.
pub struct ShardStore {
    store: MessageStore,
    /// Appends in progress (for `crate::flow`).
    pending: std::rc::Rc<std::cell::Cell<usize>>,
    commitlog_dir: PathBuf,
    segment_bytes: u64,
}

/// Counts one append in progress while alive.
struct Pending(std::rc::Rc<std::cell::Cell<usize>>);

impl Pending {
    fn enter(count: &std::rc::Rc<std::cell::Cell<usize>>) -> Pending {
        count.set(count.get() + 1);
        Pending(count.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// The store directory of shard `id`.
pub fn shard_dir(config: &BrokerConfig, id: usize) -> PathBuf {
    config.data_dir.join(format!("shard-{id}"))
}

impl ShardStore {
    /// Opens (recovering) the store of shard `id`.
    pub async fn open(config: &BrokerConfig, id: usize) -> Result<ShardStore, ShardStartError> {
        let dir = shard_dir(config, id);
        let mut store_config = StoreConfig::new(&dir);
        store_config.shard_id = u16::try_from(id).map_err(|_| ShardStartError::Id { shard: id })?;
        store_config.segment_bytes = config.segment_bytes;
        store_config.retention_hours = config.retention_hours;
        store_config.disk_usage_max_percent = config.disk_usage_max_percent;
        store_config.disk_max_used_space_percent = config.disk_max_used_space_percent;
        if !config.disk_usage_file.is_empty() {
            store_config.disk_usage_probe = Some(crate::disk::usage_file_probe(PathBuf::from(
                &config.disk_usage_file,
            )));
        }
        store_config.delay_levels_ms = crate::schedule::delay_levels(config).into();
        store_config.flush = match config.flush_mode {
            FlushMode::Async => ringmq_storage::FlushMode::Async {
                interval_ms: ASYNC_FLUSH_INTERVAL_MS,
            },
            FlushMode::Sync => ringmq_storage::FlushMode::Sync {
                timeout_ms: SYNC_FLUSH_TIMEOUT_MS,
            },
        };
        let store =
            MessageStore::open(store_config)
                .await
                .map_err(|source| ShardStartError::Store {
                    shard: id,
                    path: dir.clone(),
                    source,
                })?;
        Ok(ShardStore {
            store,
            pending: std::rc::Rc::default(),
            commitlog_dir: dir.join("commitlog"),
            segment_bytes: config.segment_bytes,
        })
    }

    /// The store itself (for the arrival listener).
    pub fn inner(&self) -> &MessageStore {
        &self.store
    }

    /// Appends in progress on this shard.
    pub fn pending(&self) -> usize {
        self.pending.get()
    }

    /// A client send: refused early when the writer is behind
    /// (`crate::flow`), else [`ShardStore::put`].
    pub async fn put_send(
        &self,
        job: PutJob,
        limits: &crate::flow::Limits,
    ) -> Result<PutOutcome, crate::flow::Busy> {
        crate::flow::decide(limits, self.pending(), self.store.write_backlog())?;
        Ok(self.put(job).await)
    }

    pub async fn put(&self, job: PutJob) -> PutOutcome {
        let _pending = Pending::enter(&self.pending);
        let wait = if job.wait_flush {
            WaitFor::Flush
        } else {
            WaitFor::Visible
        };
        match self.store.put_batch(job.records, wait).await {
            Ok(results) => PutOutcome {
                status: PutStatus::Ok,
                stored: results
                    .iter()
                    .map(|r| (r.physical_offset, r.queue_offset))
                    .collect(),
            },
            Err(PutError::FlushTimeout(results)) => PutOutcome {
                status: PutStatus::FlushTimeout,
                stored: results
                    .iter()
                    .map(|r| (r.physical_offset, r.queue_offset))
                    .collect(),
            },
            Err(PutError::MessageIllegal(why)) => PutOutcome {
                status: PutStatus::Illegal(why),
                stored: Vec::new(),
            },
            Err(err) => PutOutcome {
                status: PutStatus::Unavailable(err.to_string()),
                stored: Vec::new(),
            },
        }
    }

    /// One pull lookup, no waiting.
    pub fn get(&self, job: &PullJob) -> PullOutcome {
        let accepts = |code: i64| {
            job.tags
                .as_ref()
                .is_none_or(|tags| tags.contains(&(code as i32)))
        };
        let filter: &dyn Fn(i64) -> bool = &accepts;
        let result = self.store.get_messages(
            &job.topic,
            job.queue_id,
            job.offset,
            job.max_count,
            job.max_bytes,
            job.tags.as_ref().map(|_| filter),
        );
        let mut ranges: Vec<SegmentRange> = Vec::new();
        for record in &result.records {
            let local = local_of(record.physical_offset);
            let base = local - local % self.segment_bytes;
            let path = ringmq_storage::segment::path(&self.commitlog_dir, base);
            let len = record.len as usize;
            if let Some(last) = ranges.last_mut()
                && last.path == path
                && last.position + last.len as u64 == record.file_position
            {
                last.len += len;
                continue;
            }
            ranges.push(SegmentRange {
                path,
                position: record.file_position,
                len,
            });
        }
        PullOutcome {
            status: Some(result.status),
            next_begin_offset: result.next_begin_offset,
            min_offset: result.min_offset,
            max_offset: result.max_offset,
            message_count: result.records.len(),
            ranges,
        }
    }

    pub async fn queue(&self, query: &QueueQuery) -> QueueAnswer {
        let (topic, queue) = (query.topic.as_str(), query.queue_id);
        let value = match query.kind {
            QueueQueryKind::MaxOffset => self.store.max_offset(topic, queue),
            QueueQueryKind::MinOffset => self.store.min_offset(topic, queue),
            QueueQueryKind::OffsetAt(ts) => self
                .store
                .offset_by_timestamp(topic, queue, ts)
                .await
                .unwrap_or_else(|_| self.store.max_offset(topic, queue)),
            QueueQueryKind::StoreTimeAt(logical) => self
                .store
                .store_time_at(topic, queue, logical)
                .await
                .ok()
                .flatten()
                .unwrap_or(-1),
            QueueQueryKind::EarliestStoreTime => self
                .store
                .earliest_store_time(topic, queue)
                .await
                .ok()
                .flatten()
                .unwrap_or(-1),
        };
        QueueAnswer { value }
    }

    pub async fn read_record(&self, physical_offset: i64) -> Option<RecordAt> {
        self.store
            .read_record(physical_offset)
            .await
            .ok()
            .map(|bytes| RecordAt {
                physical_offset,
                bytes,
            })
    }

    pub async fn query_key(&self, query: &KeyQuery) -> Vec<RecordAt> {
        self.store
            .query_key_records(
                &query.topic,
                &query.key,
                query.max_num,
                query.begin_ms,
                query.end_ms,
            )
            .await
            .into_iter()
            .map(|(physical_offset, bytes)| RecordAt {
                physical_offset,
                bytes,
            })
            .collect()
    }

    /// Deletes expired segments (called periodically), and any oldest ones
    /// while the disk is above `disk_max_used_space_percent`.
    pub async fn run_retention(&self) {
        match self.store.run_retention(SystemTime::now()).await {
            Ok(report) => {
                tracing::debug!(?report, "retention ran");
                if !report.deleted_segments.is_empty() {
                    crate::transfer::segments_deleted();
                }
            }
            Err(err) => tracing::warn!(%err, "retention failed"),
        }
    }

    /// Whether the disk is above `disk_max_used_space_percent` now.
    pub fn space_pressure(&self) -> bool {
        self.store.space_pressure().is_some()
    }

    /// Whether the store takes writes: not read-only after an I/O failure
    /// and not refusing them for a full disk (re-read now).
    pub fn is_writable(&self) -> bool {
        self.store.read_only_reason().is_none() && self.store.check_disk_space().is_none()
    }

    /// Deletes a topic's stored data (DELETE_TOPIC_IN_BROKER).
    pub async fn delete_topic(&self, topic: &str) {
        if let Err(err) = self.store.delete_topic(topic).await {
            tracing::warn!(topic, %err, "deleting a topic's data failed");
        }
    }

    /// Flushes everything and writes a clean checkpoint.
    pub async fn shutdown(&self) {
        if let Err(err) = self.store.clone().shutdown().await {
            tracing::error!(%err, "store shutdown failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_remarks_are_sentences_not_debug_text() {
        let what = "the message sent back for redelivery";
        let unavailable = PutStatus::Unavailable("the store is read-only".into()).remark(what);
        assert_eq!(
            unavailable,
            "the message sent back for redelivery could not be stored: the store is read-only; \
             retry later or through another broker"
        );
        let illegal = PutStatus::Illegal("body of 5000000 bytes exceeds 4194304".into())
            .remark("the committed transactional message");
        assert_eq!(
            illegal,
            "the committed transactional message was refused as malformed: \
             body of 5000000 bytes exceeds 4194304"
        );
        for status in [
            PutStatus::Ok,
            PutStatus::FlushTimeout,
            PutStatus::Illegal("x".into()),
            PutStatus::Unavailable("y".into()),
        ] {
            let remark = status.remark(what);
            assert!(remark.starts_with(what), "{remark}");
            for debug in ["Unavailable", "Illegal", "FlushTimeout", "(\"", "\")"] {
                assert!(!remark.contains(debug), "{remark}");
            }
        }
    }
}
