//! The data disk, watched per shard: deleting old segments early when the
//! disk fills, and telling the nameservers when a store stops (or resumes)
//! taking writes.
//!
//! Every [`DISK_WATCH_PERIOD_MS`] each shard
//!
//! - runs retention if the disk is above `disk_max_used_space_percent`
//!   (the oldest full segments go first, whatever their age; RocketMQ's
//!   `diskMaxUsedSpaceRatio`), and in any case every
//!   [`crate::shard::RETENTION_PERIOD_MS`];
//! - records whether its store takes writes ([`StoreHealth`]): a store is
//!   unwritable after a failed write or fsync (read-only until restart) or
//!   while the disk is above `disk_usage_max_percent`. When that changes,
//!   the topic table's data version is bumped and a registration sent at
//!   once; while any shard is unwritable, registrations carry every topic
//!   without the write bit (RocketMQ's wiped write permission), so
//!   producers send to other brokers, and the bit returns with the space.
//!
//! `disk_usage_file` (a drill and test hook) makes the disk usage the
//! number written in a file instead of the file system's figures.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ringmq_storage::config::DiskUsageProbe;

use crate::shard::{RETENTION_PERIOD_MS, Shard};
use crate::state::{ControlEvent, lock};

/// How often each shard looks at its disk and its store's health.
pub const DISK_WATCH_PERIOD_MS: u64 = 1_000;

/// Whether each shard's store takes writes, shared with the control thread.
pub struct StoreHealth {
    unwritable: Vec<AtomicBool>,
}

impl StoreHealth {
    /// Every shard writable.
    pub fn new(shards: usize) -> Self {
        StoreHealth {
            unwritable: (0..shards).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Records shard `id`'s state; `true` when it changed.
    pub fn set(&self, id: usize, writable: bool) -> bool {
        self.unwritable
            .get(id)
            .is_some_and(|flag| flag.swap(!writable, Ordering::AcqRel) == writable)
    }

    /// Whether every store takes writes.
    pub fn all_writable(&self) -> bool {
        self.unwritable
            .iter()
            .all(|flag| !flag.load(Ordering::Acquire))
    }
}

/// A disk-usage probe reading a percentage (0..=100) from `path`.
pub fn usage_file_probe(path: PathBuf) -> DiskUsageProbe {
    Arc::new(move |_| {
        let text = std::fs::read_to_string(&path)?;
        text.trim()
            .parse::<u8>()
            .ok()
            .filter(|usage| *usage <= 100)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} holds {:?}, not a percentage 0..=100",
                        path.display(),
                        text.trim()
                    ),
                )
            })
    })
}

/// The shard's disk watch (see the module doc); runs until the shard stops.
pub async fn watch(shard: Rc<Shard>) {
    let ticks_per_retention = (RETENTION_PERIOD_MS / DISK_WATCH_PERIOD_MS).max(1);
    let mut tick: u64 = 0;
    loop {
        compio::time::sleep(Duration::from_millis(DISK_WATCH_PERIOD_MS)).await;
        tick = tick.wrapping_add(1);
        if tick.is_multiple_of(ticks_per_retention) || shard.store.space_pressure() {
            shard.store.run_retention().await;
        }
        report_health(&shard);
    }
}

/// Records the store's health; a change is registered at once.
fn report_health(shard: &Shard) {
    let writable = shard.store.is_writable();
    let state = &shard.state;
    if state.store_health.set(shard.id, writable) {
        if writable {
            tracing::info!(
                shard = shard.id,
                "store takes writes again; registering topics writable"
            );
        } else {
            tracing::error!(
                shard = shard.id,
                "store refuses writes; registering topics not writable"
            );
        }
        lock(&state.topics).touch();
        state.signal(ControlEvent::TopicsChanged);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn health_reports_changes_only() {
        let health = StoreHealth::new(2);
        assert!(health.all_writable());
        assert!(!health.set(0, true));
        assert!(health.set(1, false));
        assert!(!health.all_writable());
        assert!(!health.set(1, false));
        assert!(health.set(1, true));
        assert!(health.all_writable());
        assert!(!health.set(9, false), "an unknown shard changes nothing");
    }

    #[test]
    fn usage_file_is_a_percentage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage");
        let probe = usage_file_probe(path.clone());
        assert!(probe(dir.path()).is_err(), "a missing file is an error");
        std::fs::write(&path, "80\n").unwrap();
        assert_eq!(probe(dir.path()).unwrap(), 80);
        std::fs::write(&path, "101").unwrap();
        assert!(probe(dir.path()).is_err());
        std::fs::write(&path, "full").unwrap();
        assert!(probe(dir.path()).is_err());
    }
}
