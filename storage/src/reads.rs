//! The read side of [`MessageStore`]: pulls by (queue, logical offset)
//! returning byte ranges in segment files (for sendfile/splice), copying
//! reads for small bodies and VIEW_MESSAGE_BY_ID, queue offset queries,
//! timestamp search and key queries. Reads never see a consume-queue unit
//! whose record is not written (units are added after the write completes).

use std::os::unix::io::{AsRawFd, RawFd};

use compio::fs::File;
use compio::io::AsyncReadAtExt;

use crate::config::RECORD_BYTES_MAX;
use crate::consume_queue::CqUnit;
use crate::error::ReadError;
use crate::key_index::KeyQuery;
use crate::log_record::{self, RECORD_BYTES_MIN, Scan};
use crate::physical_offset::{compose, local_of, shard_of};
use crate::store::MessageStore;

/// Candidates a key query reads beyond the `max` asked for, so that hash
/// collisions rejected on reading do not shorten the answer.
pub const KEY_QUERY_SLACK: usize = 32;
/// Fewest consume-queue units a pull may scan (RocketMQ: 16,000 bytes / 20).
pub const PULL_UNITS_SCANNED_MIN: u64 = 800;

/// Outcome of a pull lookup (RocketMQ `GetMessageStatus`, spec §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    Found,
    NoMessageInQueue,
    NoMatchedLogicQueue,
    OffsetTooSmall,
    OffsetOverflowOne,
    OffsetOverflowBadly,
    OffsetFoundNull,
    NoMatchedMessage,
    MessageWasRemoving,
}

impl GetStatus {
    /// The Java enum name, used as the pull response remark.
    pub fn name(self) -> &'static str {
        match self {
            GetStatus::Found => "FOUND",
            GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
            GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
            GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
            GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
            GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
            GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
            GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
            GetStatus::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
        }
    }
}

/// Where one record's bytes are: send `len` bytes of `file` from
/// `file_position` (e.g. with sendfile/splice on `raw_fd()`).
#[derive(Debug, Clone)]
pub struct RecordRange {
    /// The segment file; holding this keeps the file open even if retention
    /// deletes the segment meanwhile.
    pub file: File,
    pub file_position: u64,
    pub len: u32,
    pub physical_offset: i64,
    pub queue_offset: i64,
    pub tags_code: i64,
}

impl RecordRange {
    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// Answer to a pull lookup.
#[derive(Debug, Clone)]
pub struct GetResult {
    pub status: GetStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub records: Vec<RecordRange>,
}

impl GetResult {
    pub fn total_bytes(&self) -> u64 {
        self.records.iter().map(|r| u64::from(r.len)).sum()
    }

    fn empty(status: GetStatus, next: i64, min: i64, max: i64) -> Self {
        Self {
            status,
            next_begin_offset: next,
            min_offset: min,
            max_offset: max,
            records: Vec::new(),
        }
    }
}

/// Which consume-queue tag codes a pull accepts; `None` accepts all.
pub type TagFilter<'a> = Option<&'a dyn Fn(i64) -> bool>;

impl MessageStore {
    /// Looks up at most `max_count` records (and about `max_bytes`, at least
    /// one) of `topic`/`queue_id` from logical `offset`, skipping units whose
    /// tag code `filter` rejects. Returns their byte ranges, no copy.
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_count: u32,
        max_bytes: u32,
        filter: TagFilter<'_>,
    ) -> GetResult {
        let mut indexes = self.inner.indexes.borrow_mut();
        let Some(queue) = indexes.queues.get(topic, queue_id) else {
            return GetResult::empty(GetStatus::NoMatchedLogicQueue, 0, 0, 0);
        };
        let (min, max) = (queue.min_offset(), queue.max_offset());
        if max == 0 {
            return GetResult::empty(GetStatus::NoMessageInQueue, 0, min, max);
        }
        if offset < min {
            return GetResult::empty(GetStatus::OffsetTooSmall, min, min, max);
        }
        if offset == max {
            return GetResult::empty(GetStatus::OffsetOverflowOne, offset, min, max);
        }
        if offset > max {
            return GetResult::empty(GetStatus::OffsetOverflowBadly, max, min, max);
        }
        let scan_limit = PULL_UNITS_SCANNED_MIN.max(u64::from(max_count));
        let end = max.min(offset.saturating_add(i64::try_from(scan_limit).unwrap_or(i64::MAX)));
        let log = self.inner.log.borrow();
        let seg_bytes = self.inner.config.segment_bytes;
        let mut records = Vec::new();
        let mut bytes = 0u64;
        let mut removed = false;
        let mut next = offset;
        while next < end {
            let Some(unit) = indexes.queues.unit_in(queue, topic, queue_id, next) else {
                if records.is_empty() && !removed {
                    let per_file =
                        i64::try_from(self.inner.config.cq_units_per_file).unwrap_or(i64::MAX);
                    let next_file = (next / per_file + 1) * per_file;
                    return GetResult::empty(
                        GetStatus::OffsetFoundNull,
                        next_file.min(max),
                        min,
                        max,
                    );
                }
                break;
            };
            if records.len() >= max_count as usize
                || (!records.is_empty() && bytes + unit.size as u64 > u64::from(max_bytes))
            {
                break;
            }
            next += 1;
            let local = local_of(unit.physical_offset);
            let base = local - local % seg_bytes;
            let file = log.segments.get(&base).filter(|_| local >= log.min_offset);
            let Some(file) = file else {
                removed = true;
                continue;
            };
            if filter.is_some_and(|accepts| !accepts(unit.tags_code)) {
                continue;
            }
            bytes += unit.size as u64;
            records.push(range(file, local - base, unit, next - 1));
        }
        let status = if !records.is_empty() {
            GetStatus::Found
        } else if removed {
            GetStatus::MessageWasRemoving
        } else {
            GetStatus::NoMatchedMessage
        };
        GetResult {
            status,
            next_begin_offset: next,
            min_offset: min,
            max_offset: max,
            records,
        }
    }

    /// Next logical offset to be written in the queue (0 if unknown).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .indexes
            .borrow()
            .queues
            .get(topic, queue_id)
            .map_or(0, |q| q.max_offset())
    }

    /// Smallest readable logical offset of the queue (0 if unknown).
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .indexes
            .borrow()
            .queues
            .get(topic, queue_id)
            .map_or(0, |q| q.min_offset())
    }

    /// Smallest readable shard-qualified physical offset of the log.
    pub fn min_physical_offset(&self) -> i64 {
        compose(
            self.inner.config.shard_id,
            self.inner.log.borrow().min_offset,
        )
    }

    /// Shard-qualified physical offset where the next record will be written.
    pub fn max_physical_offset(&self) -> i64 {
        compose(self.inner.config.shard_id, self.inner.written.get())
    }

    fn unit_at(&self, topic: &str, queue_id: i32, logical: i64) -> Option<CqUnit> {
        self.inner
            .indexes
            .borrow_mut()
            .queues
            .unit(topic, queue_id, logical)
    }

    async fn unit_store_timestamp(&self, unit: CqUnit) -> Result<i64, ReadError> {
        let probe =
            log_record::STORE_TIMESTAMP_PROBE_BYTES.min(usize::try_from(unit.size).unwrap_or(0));
        let bytes = self.read_bytes(unit.physical_offset, probe).await?;
        log_record::store_timestamp(&bytes).map_err(|_| ReadError::NotARecord(unit.physical_offset))
    }

    /// First logical offset whose record was stored at or after `timestamp`
    /// (binary search; the queue's max offset if none).
    pub async fn offset_by_timestamp(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp: i64,
    ) -> Result<i64, ReadError> {
        let (mut low, mut high) = (
            self.min_offset(topic, queue_id),
            self.max_offset(topic, queue_id),
        );
        while low < high {
            let mid = low + (high - low) / 2;
            let Some(unit) = self.unit_at(topic, queue_id, mid) else {
                break;
            };
            if self.unit_store_timestamp(unit).await? < timestamp {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        Ok(low)
    }

    /// Store timestamp of the record at a logical offset, if it is readable
    /// (Java `getMessageStoreTimeStamp`; admin stats).
    pub async fn store_time_at(
        &self,
        topic: &str,
        queue_id: i32,
        logical: i64,
    ) -> Result<Option<i64>, ReadError> {
        match self.unit_at(topic, queue_id, logical) {
            Some(unit) => self.unit_store_timestamp(unit).await.map(Some),
            None => Ok(None),
        }
    }

    /// Store timestamp of the queue's oldest readable record.
    pub async fn earliest_store_time(
        &self,
        topic: &str,
        queue_id: i32,
    ) -> Result<Option<i64>, ReadError> {
        let min = self.min_offset(topic, queue_id);
        match self.unit_at(topic, queue_id, min) {
            Some(unit) => self.unit_store_timestamp(unit).await.map(Some),
            None => Ok(None),
        }
    }

    /// Copies `len` bytes of the log from a shard-qualified physical offset.
    pub async fn read_bytes(&self, physical_offset: i64, len: usize) -> Result<Vec<u8>, ReadError> {
        let shard = shard_of(physical_offset);
        if shard != self.inner.config.shard_id {
            return Err(ReadError::WrongShard(physical_offset, shard));
        }
        let local = local_of(physical_offset);
        let seg_bytes = self.inner.config.segment_bytes;
        let base = local - local % seg_bytes;
        let file = {
            let log = self.inner.log.borrow();
            let readable =
                local >= log.min_offset && local + len as u64 <= self.inner.written.get();
            let within_segment = local - base + len as u64 <= seg_bytes;
            log.segments
                .get(&base)
                .filter(|_| readable && within_segment)
                .cloned()
        };
        let file = file.ok_or(ReadError::OutOfRange(physical_offset))?;
        let compio::BufResult(result, buf) = file.read_exact_at(vec![0u8; len], local - base).await;
        result?;
        Ok(buf)
    }

    /// Copies the whole record at a physical offset (VIEW_MESSAGE_BY_ID),
    /// verifying it.
    pub async fn read_record(&self, physical_offset: i64) -> Result<Vec<u8>, ReadError> {
        let head = self.read_bytes(physical_offset, 4).await?;
        let size = head.try_into().map(i32::from_be_bytes).unwrap_or(0);
        let size = usize::try_from(size).unwrap_or(0);
        if !(RECORD_BYTES_MIN..=RECORD_BYTES_MAX).contains(&size) {
            return Err(ReadError::NotARecord(physical_offset));
        }
        let record = self.read_bytes(physical_offset, size).await?;
        match log_record::scan(&record, physical_offset, true) {
            Scan::Record(bytes) if bytes.len() == size => Ok(record),
            _ => Err(ReadError::NotARecord(physical_offset)),
        }
    }

    /// Records of `topic` with `key` (a KEYS element or UNIQ_KEY) stored
    /// within `[begin_ts, end_ts]`, newest first, at most `max`: (physical
    /// offset, record bytes). Every candidate the key index returns is read
    /// and kept only if it carries the key (hashes collide, and an entry
    /// may point at bytes a crash recovery rewrote).
    pub async fn query_key_records(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ts: i64,
        end_ts: i64,
    ) -> Vec<(i64, Vec<u8>)> {
        let candidates = {
            let query = KeyQuery {
                topic,
                key,
                begin_ts,
                end_ts,
                log_min: self.inner.log.borrow().min_offset,
                max: max.saturating_add(KEY_QUERY_SLACK),
            };
            self.inner.indexes.borrow().keys.query(&query)
        };
        let shard = self.inner.config.shard_id;
        let mut found = Vec::new();
        for local in candidates {
            if found.len() >= max {
                break;
            }
            let physical = compose(shard, local);
            let Ok(record) = self.read_record(physical).await else {
                continue;
            };
            let carries = log_record::dispatch_facts(&record).is_ok_and(|facts| {
                let in_time = (begin_ts..=end_ts).contains(&facts.store_timestamp);
                let keyed = facts.unique_key == Some(key)
                    || facts
                        .keys
                        .is_some_and(|keys| keys.split(' ').any(|k| k == key));
                facts.topic == topic && in_time && keyed
            });
            if carries {
                found.push((physical, record));
            }
        }
        found
    }

    /// Shard-qualified physical offsets of the records
    /// [`MessageStore::query_key_records`] returns.
    pub async fn query_keys(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ts: i64,
        end_ts: i64,
    ) -> Vec<i64> {
        self.query_key_records(topic, key, max, begin_ts, end_ts)
            .await
            .into_iter()
            .map(|(physical, _)| physical)
            .collect()
    }
}

fn range(file: &File, file_position: u64, unit: CqUnit, queue_offset: i64) -> RecordRange {
    RecordRange {
        file: file.clone(),
        file_position,
        len: u32::try_from(unit.size).unwrap_or(0),
        physical_offset: unit.physical_offset,
        queue_offset,
        tags_code: unit.tags_code,
    }
}
