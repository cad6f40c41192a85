//! Torn and corrupt tails: the last segment is cut at every byte position of
//! its last records (the rest reads as zeros, or the file is shortened), or
//! one bit is flipped in a validated field (size, magic, body CRC, physical
//! offset, body length, body) of those records. Recovery must stop exactly
//! at the last valid record before the damage, serve nothing after it, and
//! append the next record right there.
//!
//! Fields outside the body CRC (queue id, flags, timestamps, hosts, topic,
//! properties) are not covered by the RocketMQ record format's checksum, so
//! a flipped bit there is not detectable and is not tested.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FlushMode, GetStatus, MessageStore, PutResult, StoreConfig};

const RECORDS: usize = 12;
const DAMAGED_RECORDS: usize = 2;

fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = 64 * 1024;
    config.flush = FlushMode::Async { interval_ms: 500 };
    config
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A crashed store (no clean shutdown) holding `RECORDS` records in queue 0.
async fn crashed_template(dir: &Path) -> Vec<PutResult> {
    let store = MessageStore::open(config(dir)).await.unwrap();
    let mut results = Vec::new();
    for i in 0..RECORDS {
        let body = vec![u8::try_from(i).unwrap(); 40 + i * 3];
        results.push(
            store
                .put(encode_simple("Torn", 0, &body, "KEYS\u{1}k"))
                .await
                .unwrap(),
        );
    }
    store.flush_indexes().await.unwrap();
    results
}

/// Opens the damaged copy and checks that exactly `valid` records remain.
async fn assert_recovers_to(dir: &Path, results: &[PutResult], valid: usize, what: &str) {
    let store = MessageStore::open(config(dir)).await.unwrap();
    assert_eq!(store.max_offset("Torn", 0), valid as i64, "{what}");
    if valid > 0 {
        let got = store.get_messages("Torn", 0, 0, 64, u32::MAX, None);
        assert_eq!(got.status, GetStatus::Found, "{what}");
        assert_eq!(got.records.len(), valid, "{what}");
        for range in &got.records {
            store.read_record(range.physical_offset).await.unwrap();
        }
    }
    let next = store
        .put(encode_simple("Torn", 0, b"next", ""))
        .await
        .unwrap_or_else(|err| panic!("{what}: {err}"));
    assert_eq!(next.queue_offset, valid as i64, "{what}");
    let expected_at = match results.get(valid) {
        Some(result) => result.physical_offset,
        None => results
            .last()
            .map_or(0, |r| r.physical_offset + i64::from(r.wrote_bytes)),
    };
    assert_eq!(
        next.physical_offset, expected_at,
        "{what}: appends right after the last valid record"
    );
    store.read_record(next.physical_offset).await.unwrap();
}

fn segment_path(dir: &Path) -> std::path::PathBuf {
    dir.join("commitlog").join(format!("{:020}", 0))
}

#[compio::test]
async fn recovery_stops_at_the_last_whole_record_for_every_cut_position() {
    let template = tempfile::tempdir().unwrap();
    let results = crashed_template(template.path()).await;
    let first = usize::try_from(results[RECORDS - DAMAGED_RECORDS].physical_offset).unwrap();
    let last = results[RECORDS - 1];
    let end = usize::try_from(last.physical_offset).unwrap() + last.wrote_bytes as usize;
    for cut in first..=end {
        let in_last_record = cut >= usize::try_from(last.physical_offset).unwrap();
        for shorten_file in [false, true].into_iter().filter(|s| !s || in_last_record) {
            let dir = tempfile::tempdir().unwrap();
            copy_dir(template.path(), dir.path());
            let path = segment_path(dir.path());
            if shorten_file {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_len(cut as u64)
                    .unwrap();
            } else {
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[cut..].fill(0);
                std::fs::write(&path, bytes).unwrap();
            }
            let valid = results
                .iter()
                .filter(|r| {
                    usize::try_from(r.physical_offset).unwrap() + r.wrote_bytes as usize <= cut
                })
                .count();
            assert_recovers_to(
                dir.path(),
                &results,
                valid,
                &format!("cut at {cut}, shortened {shorten_file}"),
            )
            .await;
        }
    }
}

#[compio::test]
async fn recovery_stops_before_a_record_with_a_flipped_bit() {
    let template = tempfile::tempdir().unwrap();
    let results = crashed_template(template.path()).await;
    for (index, result) in results.iter().enumerate().skip(RECORDS - DAMAGED_RECORDS) {
        let start = usize::try_from(result.physical_offset).unwrap();
        let len = result.wrote_bytes as usize;
        let body_len = 40 + index * 3;
        let covered = (0..12).chain(28..36).chain(84..88).chain(88..88 + body_len);
        for offset in covered {
            assert!(offset < len);
            let dir = tempfile::tempdir().unwrap();
            copy_dir(template.path(), dir.path());
            let path = segment_path(dir.path());
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[start + offset] ^= 1 << (offset % 8);
            std::fs::write(&path, bytes).unwrap();
            assert_recovers_to(
                dir.path(),
                &results,
                index,
                &format!("record {index}, byte {offset}"),
            )
            .await;
        }
    }
}
