//! The derived indexes of a commit log — consume queues and key index — and
//! the one function that applies a record to them. Used by the runtime
//! index rebuilder (following the written watermark) and by recovery
//! (re-dispatching the log tail), so both build exactly the same thing.

use std::sync::Arc;

use ringmq_net::topic::{SCHEDULE_TOPIC, TIMER_TOPIC};

use crate::config::StoreConfig;
use crate::consume_queue::{ConsumeQueues, CqUnit};
use crate::key_index::{KEYS_PER_RECORD_MAX, KeyIndex};
use crate::log_record::{self, RecordError};

/// Why a record could not be applied to the indexes.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The record does not parse (the store keeps going: it is skipped).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// An index file could not be created or mapped (the store turns
    /// read-only: its queues would otherwise miss records).
    #[error("index file: {0}")]
    Io(#[from] std::io::Error),
}

/// RocketMQ's default `messageDelayLevel`, in ms, for levels 1..=18.
pub const DELAY_LEVELS_MS: [i64; 18] = [
    1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000,
    480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
];

/// The tags code of a unit: Java `String.hashCode` of TAGS (0 without); for
/// the schedule topic the delivery time `store time + level delay` (levels
/// above the table clamp to its last, as RocketMQ does); for the timer topic
/// its `TIMER_OUT_MS` due time.
fn tags_code(facts: &log_record::DispatchFacts<'_>, delay_levels_ms: &[i64]) -> i64 {
    if facts.topic == SCHEDULE_TOPIC {
        let level = facts
            .delay_level
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(1);
        let index = level.clamp(1, delay_levels_ms.len().max(1)) - 1;
        let delay = delay_levels_ms.get(index).copied().unwrap_or(0);
        return facts.store_timestamp.saturating_add(delay);
    }
    if facts.topic == TIMER_TOPIC {
        return facts
            .timer_out_ms
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(facts.store_timestamp);
    }
    facts.tags.map_or(0, log_record::tag_code)
}

/// Consume queues and key index of one store.
#[derive(Debug)]
pub struct Indexes {
    pub queues: ConsumeQueues,
    pub keys: KeyIndex,
    /// The delay of each level (ms), for the schedule topic's tag codes.
    pub delay_levels_ms: Arc<[i64]>,
}

/// A consume queue that received a unit: (topic, queue id, new max offset).
pub type Arrival<'a> = (&'a str, i32, i64);

impl Indexes {
    /// Empty indexes rooted in the store's directories.
    pub fn empty(config: &StoreConfig) -> Self {
        Self {
            queues: ConsumeQueues::new(
                &config.io,
                &config.consumequeue_dir(),
                config.cq_units_per_file,
                config.cq_mapped_files_max,
            ),
            keys: KeyIndex::new(
                &config.io,
                &config.keyindex_dir(),
                config.key_index_slots,
                config.key_index_entries,
            ),
            delay_levels_ms: config.delay_levels_ms.clone(),
        }
    }

    /// Applies the record stored at local offset `local` to the indexes.
    /// Returns the queue that grew, or `None` for records that are not
    /// dispatched (prepared or rolled-back transactional halves) or already
    /// indexed.
    pub fn apply<'r>(
        &mut self,
        record: &'r [u8],
        local: u64,
    ) -> Result<Option<Arrival<'r>>, IndexError> {
        let facts = log_record::dispatch_facts(record)?;
        if !facts.dispatched {
            return Ok(None);
        }
        let unit = CqUnit {
            physical_offset: facts.physical_offset,
            size: i32::try_from(record.len()).map_err(|_| RecordError::Truncated)?,
            tags_code: tags_code(&facts, &self.delay_levels_ms),
        };
        let queue_max = self.queues.max_offset(facts.topic, facts.queue_id);
        if facts.queue_offset < queue_max {
            // Already indexed (re-dispatch of a record the files hold).
            return Ok(None);
        }
        if facts.queue_offset > queue_max {
            tracing::warn!(
                topic = facts.topic,
                queue_id = facts.queue_id,
                record_offset = facts.queue_offset,
                queue_max,
                "record queue offset ahead of its consume queue; appending at the queue's end"
            );
        }
        let max = self.queues.push(facts.topic, facts.queue_id, unit)?;
        let keys = facts.keys.into_iter().flat_map(|keys| keys.split(' '));
        for key in keys.chain(facts.unique_key).take(KEYS_PER_RECORD_MAX) {
            self.keys
                .add(facts.topic, key, local, facts.store_timestamp)?;
        }
        Ok(Some((facts.topic, facts.queue_id, max)))
    }
}
