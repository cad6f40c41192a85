//! Injected I/O faults: a failed fdatasync or write makes the store
//! read-only (never retried) with a clear error, while reads keep working;
//! disk usage above the limit refuses writes until space is freed, and
//! ENOSPC when creating a segment is a refusal, not a crash; a consume-queue
//! file truncated under the store is a read error, not a SIGBUS.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use ringmq_storage::config::{DiskUsageProbe, FaultProbe};
use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FaultPoint, FlushMode, GetStatus, MessageStore, PutError, StoreConfig};

fn record(i: u8) -> Vec<u8> {
    encode_simple("Faults", 0, &[i; 100], "")
}

fn failing_at(point: FaultPoint, armed: Arc<AtomicBool>) -> FaultProbe {
    Arc::new(move |at| {
        (at == point && armed.load(Ordering::SeqCst))
            .then(|| std::io::Error::other("injected fault"))
    })
}

fn config(dir: &std::path::Path, flush: FlushMode) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = 16 * 1024;
    config.flush = flush;
    config
}

async fn assert_fault_makes_store_read_only(point: FaultPoint, flush: FlushMode) {
    let dir = tempfile::tempdir().unwrap();
    let armed = Arc::new(AtomicBool::new(false));
    let mut cfg = config(dir.path(), flush);
    cfg.fault_probe = Some(failing_at(point, armed.clone()));
    let store = MessageStore::open(cfg).await.unwrap();
    let acked = store.put(record(1)).await.unwrap();
    store.flush().await.unwrap();
    armed.store(true, Ordering::SeqCst);
    let failed = store.put(record(2)).await;
    let failed = match failed {
        // Async mode acknowledges before the sync that fails; flush reports it.
        Ok(_) => store.flush().await.map(|_| ()),
        Err(err) => Err(err),
    };
    assert!(
        matches!(failed, Err(PutError::ReadOnly(_))),
        "{point:?}: {failed:?}"
    );
    armed.store(false, Ordering::SeqCst);
    let refused = store.put(record(3)).await;
    assert!(
        matches!(refused, Err(PutError::ReadOnly(ref reason)) if reason.contains("injected")),
        "{refused:?}"
    );
    assert!(store.read_only_reason().is_some());
    // Reads still work on a read-only store.
    assert_eq!(
        store.read_record(acked.physical_offset).await.unwrap()[..4],
        record(1)[..4]
    );
    drop(store);
    let reopened = MessageStore::open(config(dir.path(), flush)).await.unwrap();
    assert!(reopened.read_only_reason().is_none());
    let got = reopened.get_messages("Faults", 0, 0, 32, u32::MAX, None);
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(got.records[0].physical_offset, acked.physical_offset);
    reopened.put(record(4)).await.unwrap();
}

#[compio::test]
async fn failed_fdatasync_makes_a_sync_flush_store_read_only() {
    assert_fault_makes_store_read_only(
        FaultPoint::CommitLogSync,
        FlushMode::Sync { timeout_ms: 5000 },
    )
    .await;
}

#[compio::test]
async fn failed_fdatasync_makes_an_async_flush_store_read_only() {
    assert_fault_makes_store_read_only(
        FaultPoint::CommitLogSync,
        FlushMode::Async { interval_ms: 20 },
    )
    .await;
}

#[compio::test]
async fn failed_write_makes_the_store_read_only() {
    assert_fault_makes_store_read_only(
        FaultPoint::CommitLogWrite,
        FlushMode::Sync { timeout_ms: 5000 },
    )
    .await;
}

#[compio::test]
async fn writes_are_refused_above_the_disk_usage_limit_and_resume_when_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let usage = Arc::new(AtomicU8::new(50));
    let probe_usage = usage.clone();
    let probe: DiskUsageProbe = Arc::new(move |_| Ok(probe_usage.load(Ordering::SeqCst)));
    let mut cfg = config(dir.path(), FlushMode::Sync { timeout_ms: 5000 });
    cfg.disk_usage_probe = Some(probe);
    let store = MessageStore::open(cfg).await.unwrap();
    store.put(record(1)).await.unwrap();
    usage.store(95, Ordering::SeqCst);
    assert_eq!(store.check_disk_space(), Some(95));
    let refused = store.put(record(2)).await;
    assert!(
        matches!(refused, Err(PutError::DiskFull { usage_percent: 95 })),
        "{refused:?}"
    );
    usage.store(60, Ordering::SeqCst);
    assert_eq!(store.check_disk_space(), None);
    let resumed = store.put(record(3)).await.unwrap();
    assert_eq!(resumed.queue_offset, 1);
}

#[compio::test]
async fn enospc_creating_a_segment_refuses_writes_without_crashing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let no_space = Arc::new(AtomicBool::new(false));
    let armed = no_space.clone();
    let probe: FaultProbe = Arc::new(move |at| {
        (at == FaultPoint::SegmentCreate && armed.load(Ordering::SeqCst))
            .then(|| std::io::Error::from_raw_os_error(libc::ENOSPC))
    });
    let mut cfg = config(dir.path(), FlushMode::Sync { timeout_ms: 5000 });
    cfg.fault_probe = Some(probe);
    let store = MessageStore::open(cfg).await.unwrap();
    store.put(record(0)).await.unwrap();
    no_space.store(true, Ordering::SeqCst);
    // Fill the current and the preallocated next segment, then need a third.
    let mut refused = None;
    for i in 0..1000u32 {
        if let Err(err) = store.put(record(u8::try_from(i % 200).unwrap())).await {
            refused = Some(err);
            break;
        }
    }
    assert!(
        matches!(refused, Some(PutError::DiskFull { .. })),
        "{refused:?}"
    );
    no_space.store(false, Ordering::SeqCst);
    assert_eq!(store.check_disk_space(), None);
    store.put(record(9)).await.unwrap();
    assert!(store.read_only_reason().is_none());
}

#[compio::test]
async fn a_slow_fdatasync_reports_flush_timeout_but_keeps_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let slow = Arc::new(AtomicBool::new(false));
    let armed = slow.clone();
    let probe: FaultProbe = Arc::new(move |at| {
        (at == FaultPoint::CommitLogSync && armed.load(Ordering::SeqCst))
            .then(|| std::io::Error::from(std::io::ErrorKind::TimedOut))
    });
    // The injected stall (300 ms) is far above the 20 ms sync-flush timeout.
    let mut cfg = config(dir.path(), FlushMode::Sync { timeout_ms: 20 });
    cfg.fault_probe = Some(probe);
    let store = MessageStore::open(cfg).await.unwrap();
    slow.store(true, Ordering::SeqCst);
    let late = store.put(record(1)).await;
    let Err(PutError::FlushTimeout(results)) = late else {
        panic!("expected FLUSH_DISK_TIMEOUT, got {late:?}");
    };
    assert_eq!(results.len(), 1);
    // Stored and visible even though not yet durable.
    assert_eq!(
        store
            .get_messages("Faults", 0, 0, 8, u32::MAX, None)
            .records
            .len(),
        1
    );
    slow.store(false, Ordering::SeqCst);
    store.flush().await.unwrap();
    assert!(store.flushed_offset() > results[0].physical_offset as u64);
    assert!(store.read_only_reason().is_none());
    // Still writable. A real fdatasync may itself outlast the 20 ms timeout
    // on a loaded machine; that is a timeout, not a refusal.
    match store.put(record(2)).await {
        Ok(_) | Err(PutError::FlushTimeout(_)) => {}
        Err(other) => panic!("the store refused a write after the stall: {other:?}"),
    }
    assert!(store.read_only_reason().is_none());
}

/// A consume-queue file that shrinks under the open store (what a failing
/// disk or a stray truncate does) reads as missing units: the pull answers
/// OFFSET_FOUND_NULL and the process lives. Through a memory map the same
/// read is a SIGBUS that kills it.
#[compio::test]
async fn a_consume_queue_file_truncated_under_the_store_is_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FlushMode::Sync { timeout_ms: 5000 });
    cfg.cq_units_per_file = 4;
    let store = MessageStore::open(cfg).await.unwrap();
    for i in 0..10 {
        store.put(record(i)).await.unwrap();
    }
    let first = dir
        .path()
        .join("consumequeue/Faults/0/00000000000000000000");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(0)
        .unwrap();
    let got = store.get_messages("Faults", 0, 0, 32, u32::MAX, None);
    assert_eq!(got.status, GetStatus::OffsetFoundNull);
    assert_eq!(got.next_begin_offset, 4);
    // The other files still serve, and appends go on.
    let got = store.get_messages("Faults", 0, 4, 32, u32::MAX, None);
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(got.records.len(), 6);
    assert_eq!(store.put(record(10)).await.unwrap().queue_offset, 10);
}
