//! Retention: deletes commit-log segments whose last write is older than the
//! retention time (oldest first, never the segment being written), together
//! with the consume-queue files and key-index data that only point into
//! them; raises every queue's minimum offset accordingly. Also
//! `delete_topic`.
//!
//! Space pressure: while the disk is fuller than
//! `disk_max_used_space_percent` (RocketMQ's `diskMaxUsedSpaceRatio`, 75 %),
//! the oldest full segments are deleted whatever their age, one at a time
//! until usage is back under it, as RocketMQ cleans early. A consumer behind
//! the deleted data then gets OFFSET_TOO_SMALL and the new minimum offset.
//! When nothing is deletable (only the active segment is left) and usage is
//! above `disk_usage_max_percent`, writes stay refused until space returns.

use std::time::{Duration, SystemTime};

use crate::segment;
use crate::store::MessageStore;

/// Most segments deleted by one retention pass.
pub const SEGMENTS_DELETED_PER_PASS_MAX: usize = 64;

/// What one retention pass removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Local base offsets of the deleted segments.
    pub deleted_segments: Vec<u64>,
    /// Smallest readable local log offset afterwards.
    pub log_min_offset: u64,
}

impl MessageStore {
    /// Deletes expired segments as of `now` (pass `SystemTime::now()`).
    pub async fn run_retention(&self, now: SystemTime) -> std::io::Result<RetentionReport> {
        let retention = Duration::from_secs(self.inner.config.retention_hours.saturating_mul(3600));
        let seg_bytes = self.inner.config.segment_bytes;
        let mut report = RetentionReport::default();
        for _ in 0..SEGMENTS_DELETED_PER_PASS_MAX {
            let candidate = {
                let log = self.inner.log.borrow();
                let written = self.inner.written.get();
                let active = log.reserve_at - log.reserve_at % seg_bytes;
                log.segments
                    .iter()
                    .next()
                    .filter(|(base, _)| **base < active && **base + seg_bytes <= written)
                    .map(|(base, file)| (*base, file.clone()))
            };
            let Some((base, file)) = candidate else { break };
            let modified = file.metadata().await?.modified()?;
            let pressure = self.space_pressure();
            if modified + retention > now && pressure.is_none() {
                break;
            }
            drop(file);
            self.delete_oldest_segment(base).await?;
            if let Some(usage) = pressure {
                tracing::warn!(
                    base,
                    usage,
                    limit = self.inner.config.disk_max_used_space_percent,
                    "disk above disk_max_used_space_percent: deleted the oldest segment early"
                );
            }
            report.deleted_segments.push(base);
        }
        report.log_min_offset = self.inner.log.borrow().min_offset;
        Ok(report)
    }

    /// The disk usage in percent when it is above
    /// `disk_max_used_space_percent` (retention then deletes early).
    pub fn space_pressure(&self) -> Option<u8> {
        let limit = self.inner.config.disk_max_used_space_percent;
        match self.inner.config.disk_usage_percent() {
            Ok(usage) if usage > limit => Some(usage),
            _ => None,
        }
    }

    async fn delete_oldest_segment(&self, base: u64) -> std::io::Result<()> {
        let seg_bytes = self.inner.config.segment_bytes;
        let new_min = base + seg_bytes;
        {
            let mut log = self.inner.log.borrow_mut();
            log.segments.remove(&base);
            log.min_offset = log.min_offset.max(new_min);
        }
        let mut doomed = vec![segment::path(&self.inner.config.commitlog_dir(), base)];
        {
            let mut indexes = self.inner.indexes.borrow_mut();
            doomed.extend(indexes.queues.drop_below_log(new_min));
            doomed.extend(indexes.keys.drop_below_log(new_min));
        }
        let io = self.inner.config.io.clone();
        compio::runtime::spawn_blocking(move || {
            doomed.iter().try_for_each(|path| io.remove_file(path))?;
            // Durably gone: an unlink its directory's fsync does not cover
            // comes back after a power loss.
            let mut dirs: Vec<&std::path::Path> =
                doomed.iter().filter_map(|path| path.parent()).collect();
            dirs.sort();
            dirs.dedup();
            dirs.into_iter().try_for_each(|dir| io.sync_dir(dir))
        })
        .await
        .map_err(|_| std::io::Error::other("segment deletion panicked"))??;
        tracing::info!(base, "deleted expired commit-log segment");
        Ok(())
    }

    /// Forgets a topic's consume queues and queue offsets and deletes their
    /// files. Its records stay in the log until retention removes them.
    pub async fn delete_topic(&self, topic: &str) -> std::io::Result<()> {
        self.inner.indexes.borrow_mut().queues.remove_topic(topic);
        self.inner.log.borrow_mut().next_queue_offset.remove(topic);
        let dir = self.inner.config.consumequeue_dir().join(topic);
        if !crate::log_record::valid_topic_bytes(topic.as_bytes()) {
            return Ok(());
        }
        let io = self.inner.config.io.clone();
        let parent = self.inner.config.consumequeue_dir();
        let removed = compio::runtime::spawn_blocking(move || {
            io.remove_dir_all(&dir)?;
            io.sync_dir(&parent)
        });
        match removed.await {
            Ok(result) => result,
            Err(_) => Err(std::io::Error::other("topic deletion panicked")),
        }
    }
}
