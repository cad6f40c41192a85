//! Retention deletes expired segments with their index data and raises queue
//! minimums; the arrival listener sees every queue that grows; timestamp
//! searches find the first record stored at or after a time.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, SystemTime};

use ringmq_storage::config::DiskUsageProbe;
use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FlushMode, GetStatus, MessageStore, PutError, StoreConfig};

fn config(dir: &std::path::Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    // The machine's own disk usage must not decide what is deleted.
    config.disk_usage_probe = Some(Arc::new(|_| Ok(10)));
    config.segment_bytes = 8192;
    config.cq_units_per_file = 10;
    config.key_index_entries = 64;
    config.flush = FlushMode::Sync { timeout_ms: 5000 };
    config
}

#[compio::test]
async fn expired_segments_are_deleted_with_their_index_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let mut puts = Vec::new();
    for i in 0..100 {
        puts.push(
            store
                .put(encode_simple(
                    "Old",
                    0,
                    &[1u8; 400],
                    &format!("KEYS\u{1}k{i}"),
                ))
                .await
                .unwrap(),
        );
    }
    let nothing = store.run_retention(SystemTime::now()).await.unwrap();
    assert!(nothing.deleted_segments.is_empty());
    let later = SystemTime::now() + Duration::from_secs(73 * 3600);
    let report = store.run_retention(later).await.unwrap();
    assert!(!report.deleted_segments.is_empty());
    let log_min = report.log_min_offset as i64;
    assert!(
        !dir.path()
            .join("commitlog")
            .join(format!("{:020}", 0))
            .exists()
    );
    // Key-index files: records 0..64 in the first (named 0), 64..100 in the
    // second. The first is deleted once all its records are below the log.
    let key_file = |name: i64| dir.path().join("keyindex").join(format!("{name:020}"));
    assert!(puts[63].physical_offset < log_min);
    assert!(!key_file(0).exists());
    assert!(key_file(puts[64].physical_offset).exists());
    // Consume-queue files below the log minimum are deleted too.
    let cq_file = |first: i64| {
        dir.path()
            .join("consumequeue/Old/0")
            .join(format!("{:020}", first * 20))
    };
    assert!(!cq_file(0).exists());
    assert!(cq_file(90).exists());
    // The segment being written is never deleted.
    assert!(store.read_record(puts[99].physical_offset).await.is_ok());
    let min = store.min_offset("Old", 0);
    let first_kept = puts
        .iter()
        .position(|p| p.physical_offset >= log_min)
        .unwrap();
    assert_eq!(min, first_kept as i64);
    let too_small = store.get_messages("Old", 0, 0, 32, u32::MAX, None);
    assert_eq!(
        (too_small.status, too_small.next_begin_offset),
        (GetStatus::OffsetTooSmall, min)
    );
    assert!(
        store
            .query_keys("Old", "k0", 4, 0, i64::MAX)
            .await
            .is_empty()
    );
    assert_eq!(
        store.query_keys("Old", "k99", 4, 0, i64::MAX).await,
        vec![puts[99].physical_offset]
    );
    assert!(store.read_record(puts[0].physical_offset).await.is_err());
    store.shutdown().await.unwrap();

    let reopened = MessageStore::open(config(dir.path())).await.unwrap();
    assert_eq!(reopened.min_offset("Old", 0), min);
    assert_eq!(reopened.max_offset("Old", 0), 100);
    let got = reopened.get_messages("Old", 0, min, 200, u32::MAX, None);
    assert_eq!(got.records.len(), 100 - first_kept);
}

/// A disk above `disk_max_used_space_percent` deletes the oldest segments
/// early, whatever their age, until usage is under it; consumers behind
/// them get OFFSET_TOO_SMALL and the new minimum. Above
/// `disk_usage_max_percent` with nothing left to delete, writes are
/// refused, and they resume when usage falls.
#[compio::test]
async fn a_full_disk_deletes_the_oldest_segments_first_then_refuses_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let usage = Arc::new(AtomicU8::new(10));
    let probe_usage = usage.clone();
    let probe: DiskUsageProbe = Arc::new(move |_| Ok(probe_usage.load(Ordering::SeqCst)));
    let mut cfg = config(dir.path());
    cfg.disk_usage_probe = Some(probe);
    cfg.disk_max_used_space_percent = 75;
    cfg.disk_usage_max_percent = 90;
    let store = MessageStore::open(cfg).await.unwrap();
    let mut puts = Vec::new();
    for _ in 0..100 {
        puts.push(
            store
                .put(encode_simple("Full", 0, &[2u8; 400], ""))
                .await
                .unwrap(),
        );
    }
    let segment = |base: u64| dir.path().join("commitlog").join(format!("{base:020}"));
    // Young segments, disk under the ratio: nothing goes.
    let report = store.run_retention(SystemTime::now()).await.unwrap();
    assert!(report.deleted_segments.is_empty());
    assert!(segment(0).exists());

    usage.store(80, Ordering::SeqCst);
    assert_eq!(store.space_pressure(), Some(80));
    let report = store.run_retention(SystemTime::now()).await.unwrap();
    assert_eq!(report.deleted_segments.first(), Some(&0), "{report:?}");
    assert!(!segment(0).exists());
    let min = store.min_offset("Full", 0);
    assert!(min > 0);
    let behind = store.get_messages("Full", 0, 0, 32, u32::MAX, None);
    assert_eq!(
        (behind.status, behind.next_begin_offset),
        (GetStatus::OffsetTooSmall, min)
    );
    // The active segment is never deleted, so pressure leaves it alone.
    let last = puts.last().unwrap().physical_offset;
    assert!(store.read_record(last).await.is_ok());

    usage.store(95, Ordering::SeqCst);
    assert_eq!(store.check_disk_space(), Some(95));
    let refused = store.put(encode_simple("Full", 0, b"x", "")).await;
    assert!(
        matches!(refused, Err(PutError::DiskFull { usage_percent: 95 })),
        "{refused:?}"
    );
    usage.store(50, Ordering::SeqCst);
    assert_eq!(store.check_disk_space(), None);
    let resumed = store.put(encode_simple("Full", 0, b"y", "")).await.unwrap();
    assert_eq!(resumed.queue_offset, 100);
    store.shutdown().await.unwrap();
}

#[compio::test]
async fn arrival_listener_hears_each_queue_that_grew() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let heard = Rc::new(RefCell::new(Vec::new()));
    let sink = heard.clone();
    store.set_arrival_listener(Rc::new(move |topic: &str, queue: i32, max: i64| {
        sink.borrow_mut().push((topic.to_owned(), queue, max));
    }));
    store.put(encode_simple("Hear", 2, b"a", "")).await.unwrap();
    // `put` returns after the unit is visible, so the listener already ran.
    assert_eq!(heard.borrow().as_slice(), &[("Hear".to_owned(), 2, 1)]);
    store.put(encode_simple("Hear", 2, b"b", "")).await.unwrap();
    assert_eq!(heard.borrow().last(), Some(&("Hear".to_owned(), 2, 2)));
}

#[compio::test]
async fn timestamp_search_finds_the_first_record_stored_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let mut stamps = Vec::new();
    for _ in 0..20 {
        stamps.push(
            store
                .put(encode_simple("Time", 0, b"t", ""))
                .await
                .unwrap()
                .store_timestamp,
        );
        compio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        store.earliest_store_time("Time", 0).await.unwrap(),
        Some(stamps[0])
    );
    for (i, ts) in stamps.iter().enumerate() {
        let first = stamps.iter().position(|s| s >= ts).unwrap();
        assert_eq!(
            store.offset_by_timestamp("Time", 0, *ts).await.unwrap(),
            first as i64,
            "record {i}"
        );
    }
    assert_eq!(
        store
            .offset_by_timestamp("Time", 0, stamps[19] + 1)
            .await
            .unwrap(),
        20
    );
    assert_eq!(store.offset_by_timestamp("Time", 0, 0).await.unwrap(), 0);
}

#[compio::test]
async fn schedule_topic_units_carry_the_delivery_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let put = store
        .put(encode_simple(
            "SCHEDULE_TOPIC_XXXX",
            2,
            b"later",
            "DELAY\u{1}3",
        ))
        .await
        .unwrap();
    let got = store.get_messages("SCHEDULE_TOPIC_XXXX", 2, 0, 1, u32::MAX, None);
    assert_eq!(got.records[0].tags_code, put.store_timestamp + 10_000);
}
