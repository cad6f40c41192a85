//! Consume queues: per (topic, queueId), the index from logical offset to
//! the record's place in the commit log. Held in memory (20 bytes per
//! message) and persisted to RocketMQ-compatible files by the background
//! index flush; rebuilt from the commit log after a crash.
//!
//! Unit (spec §5.2), big-endian, at byte `(logical - file_first) * 20` of
//! the file `consumequeue/<topic>/<queueId>/<20-digit first_logical * 20>`:
//!
//! ```text
//! 0        8      12       20
//! +--------+------+--------+
//! | phys   | size | tags   |   phys: shard-qualified physical offset (i64)
//! +--------+------+--------+   size: TOTALSIZE (i32); tags: tag hash (i64)
//! ```
//!
//! A unit with size <= 0 ends a file (files are written append-only).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::physical_offset::local_of;

/// Bytes per consume-queue unit.
pub const CQ_UNIT_BYTES: usize = 20;

/// One consume-queue unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqUnit {
    /// Shard-qualified physical offset of the record.
    pub physical_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

impl CqUnit {
    pub fn encode(&self) -> [u8; CQ_UNIT_BYTES] {
        let mut out = [0u8; CQ_UNIT_BYTES];
        let (phys, rest) = out.split_at_mut(8);
        let (size, tags) = rest.split_at_mut(4);
        phys.copy_from_slice(&self.physical_offset.to_be_bytes());
        size.copy_from_slice(&self.size.to_be_bytes());
        tags.copy_from_slice(&self.tags_code.to_be_bytes());
        out
    }

    /// Decodes a unit; `None` if `bytes` is short or the unit is empty/invalid.
    pub fn decode(bytes: &[u8]) -> Option<CqUnit> {
        let phys = i64::from_be_bytes(bytes.get(0..8)?.try_into().ok()?);
        let size = i32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
        let tags_code = i64::from_be_bytes(bytes.get(12..20)?.try_into().ok()?);
        (size > 0 && phys >= 0).then_some(CqUnit {
            physical_offset: phys,
            size,
            tags_code,
        })
    }
}

/// The units of one consume-queue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CqFile {
    /// Logical offset of the file's first unit (a multiple of units-per-file).
    pub first: i64,
    pub bytes: Vec<u8>,
    /// Bytes of `bytes` already written and synced to the file.
    pub durable_len: usize,
}

impl CqFile {
    fn units(&self) -> i64 {
        (self.bytes.len() / CQ_UNIT_BYTES) as i64
    }

    fn end(&self) -> i64 {
        self.first + self.units()
    }
}

/// One (topic, queueId) consume queue.
#[derive(Debug, Clone, Default)]
pub struct ConsumeQueue {
    pub files: VecDeque<CqFile>,
    /// Smallest logical offset still readable (raised by retention).
    pub min_offset: i64,
}

impl ConsumeQueue {
    /// Next logical offset to be written (RocketMQ maxOffset).
    pub fn max_offset(&self) -> i64 {
        self.files.back().map_or(self.min_offset, CqFile::end)
    }

    pub fn min_offset(&self) -> i64 {
        self.min_offset
    }

    /// Appends a unit at `max_offset()`, starting a new file when needed.
    pub fn push(&mut self, unit: CqUnit, units_per_file: u64) {
        let next = self.max_offset();
        let per_file = i64::try_from(units_per_file.max(1)).unwrap_or(i64::MAX);
        let needs_file = self
            .files
            .back()
            .is_none_or(|file| file.units() >= per_file);
        if needs_file {
            let first = next - next.rem_euclid(per_file);
            self.files.push_back(CqFile {
                first,
                bytes: Vec::new(),
                durable_len: 0,
            });
        }
        if let Some(file) = self.files.back_mut() {
            file.bytes.extend_from_slice(&unit.encode());
        }
    }

    /// The unit at a logical offset, if present.
    pub fn unit(&self, logical: i64) -> Option<CqUnit> {
        let file = self.file_of(logical)?;
        let index = usize::try_from(logical - file.first).ok()?;
        let at = index.checked_mul(CQ_UNIT_BYTES)?;
        CqUnit::decode(file.bytes.get(at..at + CQ_UNIT_BYTES)?)
    }

    fn file_of(&self, logical: i64) -> Option<&CqFile> {
        let index = self.files.partition_point(|file| file.end() <= logical);
        self.files.get(index).filter(|file| file.first <= logical)
    }

    /// Drops units whose record starts at or after local log offset `end`.
    pub fn truncate_from_log(&mut self, end: u64) {
        while let Some(file) = self.files.back_mut() {
            let keep = (0..file.units())
                .take_while(|i| {
                    let at = usize::try_from(*i)
                        .unwrap_or(usize::MAX)
                        .saturating_mul(CQ_UNIT_BYTES);
                    file.bytes
                        .get(at..)
                        .and_then(CqUnit::decode)
                        .is_some_and(|unit| local_of(unit.physical_offset) < end)
                })
                .count();
            let keep_bytes = keep * CQ_UNIT_BYTES;
            file.bytes.truncate(keep_bytes);
            file.durable_len = file.durable_len.min(keep_bytes);
            if keep > 0 || self.files.len() == 1 {
                break;
            }
            self.files.pop_back();
        }
        if self.max_offset() < self.min_offset {
            self.min_offset = self.max_offset();
        }
    }

    /// Raises the minimum to the first unit whose record is at or after local
    /// log offset `log_min`, dropping whole files below it (never the last).
    /// Returns the first logical offsets of the dropped files.
    pub fn drop_below_log(&mut self, log_min: u64) -> Vec<i64> {
        let mut dropped = Vec::new();
        while self.files.len() > 1 {
            let last_unit = self.files.front().and_then(|file| {
                let at = file.bytes.len().checked_sub(CQ_UNIT_BYTES)?;
                CqUnit::decode(file.bytes.get(at..)?)
            });
            match last_unit {
                Some(unit) if local_of(unit.physical_offset) >= log_min => break,
                _ => {}
            }
            if let Some(file) = self.files.pop_front() {
                dropped.push(file.first);
            }
        }
        let mut min = self
            .files
            .front()
            .map_or(self.min_offset, |file| file.first);
        let max = self.max_offset();
        while min < max {
            match self.unit(min) {
                Some(unit) if local_of(unit.physical_offset) >= log_min => break,
                _ => min += 1,
            }
        }
        self.min_offset = self.min_offset.max(min);
        dropped
    }
}

/// All consume queues of a store, by topic then queue id.
#[derive(Debug, Default, Clone)]
pub struct ConsumeQueues {
    pub topics: HashMap<String, HashMap<i32, ConsumeQueue>>,
}

impl ConsumeQueues {
    pub fn get(&self, topic: &str, queue_id: i32) -> Option<&ConsumeQueue> {
        self.topics.get(topic)?.get(&queue_id)
    }

    pub fn get_or_create(&mut self, topic: &str, queue_id: i32) -> &mut ConsumeQueue {
        if !self.topics.contains_key(topic) {
            self.topics.insert(topic.to_owned(), HashMap::new());
        }
        self.topics
            .entry(topic.to_owned())
            .or_default()
            .entry(queue_id)
            .or_default()
    }

    pub fn truncate_from_log(&mut self, end: u64) {
        for queues in self.topics.values_mut() {
            for queue in queues.values_mut() {
                queue.truncate_from_log(end);
            }
        }
    }
}

/// Path of the file holding logical offsets from `first`.
pub fn file_path(root: &Path, topic: &str, queue_id: i32, first: i64) -> PathBuf {
    let byte_offset = u64::try_from(first)
        .unwrap_or(0)
        .saturating_mul(CQ_UNIT_BYTES as u64);
    root.join(topic)
        .join(queue_id.to_string())
        .join(crate::segment::file_name(byte_offset))
}

/// Loads every consume queue under `root` (blocking; used by recovery).
/// Files are read until the first empty or invalid unit.
pub fn load_all(root: &Path) -> std::io::Result<ConsumeQueues> {
    let mut queues = ConsumeQueues::default();
    let Ok(topics) = std::fs::read_dir(root) else {
        return Ok(queues);
    };
    for topic_dir in topics.flatten() {
        let Some(topic) = topic_dir.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        for queue_dir in std::fs::read_dir(topic_dir.path())?.flatten() {
            let Some(queue_id) = queue_dir
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let queue = load_queue(&queue_dir.path())?;
            if !queue.files.is_empty() {
                queues
                    .topics
                    .entry(topic.clone())
                    .or_default()
                    .insert(queue_id, queue);
            }
        }
    }
    Ok(queues)
}

fn load_queue(dir: &Path) -> std::io::Result<ConsumeQueue> {
    let mut queue = ConsumeQueue::default();
    let mut names: Vec<u64> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(crate::segment::parse_file_name)
        })
        .collect();
    names.sort_unstable();
    for name in names {
        let first = i64::try_from(name / CQ_UNIT_BYTES as u64).unwrap_or(i64::MAX);
        if queue.files.back().is_some_and(|file| file.end() != first) {
            break;
        }
        let bytes = std::fs::read(dir.join(crate::segment::file_name(name)))?;
        let units = bytes
            .chunks_exact(CQ_UNIT_BYTES)
            .take_while(|unit| CqUnit::decode(unit).is_some())
            .count();
        let len = units * CQ_UNIT_BYTES;
        let mut bytes = bytes;
        bytes.truncate(len);
        let complete = len > 0;
        if queue.files.is_empty() {
            queue.min_offset = first;
        }
        if complete {
            queue.files.push_back(CqFile {
                first,
                bytes,
                durable_len: len,
            });
        }
        if !complete {
            break;
        }
    }
    Ok(queue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cq_unit_round_trips(phys in 0i64..i64::MAX, size in 1i32..i32::MAX, tags in any::<i64>()) {
            let unit = CqUnit { physical_offset: phys, size, tags_code: tags };
            prop_assert_eq!(CqUnit::decode(&unit.encode()), Some(unit));
        }

        #[test]
        fn cq_unit_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Some(unit) = CqUnit::decode(&bytes) {
                prop_assert!(unit.size > 0 && unit.physical_offset >= 0);
            }
        }

        #[test]
        fn units_are_found_at_their_logical_offsets(count in 0usize..200, per_file in 1u64..20) {
            let mut queue = ConsumeQueue::default();
            for i in 0..count {
                queue.push(CqUnit { physical_offset: i as i64 * 100, size: 100, tags_code: 0 }, per_file);
            }
            prop_assert_eq!(queue.max_offset(), count as i64);
            for i in 0..count {
                prop_assert_eq!(queue.unit(i as i64).map(|u| u.physical_offset), Some(i as i64 * 100));
            }
            prop_assert_eq!(queue.unit(count as i64), None);
        }
    }
}
