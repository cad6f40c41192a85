//! The derived indexes of a commit log — consume queues and key index — and
//! the one function that applies a record to them. Used by the runtime
//! index rebuilder (following the written watermark) and by recovery
//! (re-dispatching the log tail), so both build exactly the same thing.

use crate::consume_queue::{ConsumeQueues, CqUnit};
use crate::key_index::{KEYS_PER_RECORD_MAX, KeyEntry, KeyIndex};
use crate::log_record::{self, RecordError};

/// Consume queues and key index of one store.
#[derive(Debug, Default, Clone)]
pub struct Indexes {
    pub queues: ConsumeQueues,
    pub keys: KeyIndex,
}

/// A consume queue that received a unit: (topic, queue id, new max offset).
pub type Arrival<'a> = (&'a str, i32, i64);

impl Indexes {
    /// Applies the record stored at local offset `local` (in the segment
    /// starting at `segment_base`) to the indexes. Returns the queue that
    /// grew, or `None` for records that are not dispatched (prepared or
    /// rolled-back transactional halves).
    pub fn apply<'r>(
        &mut self,
        record: &'r [u8],
        local: u64,
        segment_base: u64,
        units_per_file: u64,
    ) -> Result<Option<Arrival<'r>>, RecordError> {
        let facts = log_record::dispatch_facts(record)?;
        if !facts.dispatched {
            return Ok(None);
        }
        let unit = CqUnit {
            physical_offset: facts.physical_offset,
            size: i32::try_from(record.len()).map_err(|_| RecordError::Truncated)?,
            tags_code: facts.tags.map_or(0, log_record::tag_code),
        };
        let queue = self.queues.get_or_create(facts.topic, facts.queue_id);
        if facts.queue_offset < queue.max_offset() {
            // Already indexed (re-dispatch of a record the files hold).
            return Ok(None);
        }
        if facts.queue_offset > queue.max_offset() {
            tracing::warn!(
                topic = facts.topic,
                queue_id = facts.queue_id,
                record_offset = facts.queue_offset,
                queue_max = queue.max_offset(),
                "record queue offset ahead of its consume queue; appending at the queue's end"
            );
        }
        queue.push(unit, units_per_file);
        let max = queue.max_offset();
        let entry = KeyEntry {
            local_offset: local,
            store_timestamp: facts.store_timestamp,
        };
        let keys = facts.keys.into_iter().flat_map(|keys| keys.split(' '));
        for key in keys.chain(facts.unique_key).take(KEYS_PER_RECORD_MAX) {
            self.keys.add(facts.topic, key, entry, segment_base);
        }
        Ok(Some((facts.topic, facts.queue_id, max)))
    }

    /// Drops everything derived from records at or after local offset `end`.
    pub fn truncate_from_log(&mut self, end: u64, segment_bytes: u64) {
        self.queues.truncate_from_log(end);
        self.keys.truncate_from_log(end, segment_bytes);
    }
}
