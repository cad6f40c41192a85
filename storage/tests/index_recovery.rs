//! The on-disk indexes across restarts: key lookups after clean and crash
//! restarts (with key-index file rotations), truncated / missing
//! consume-queue files and torn / truncated key-index files repaired from
//! the log on recovery, and key answers verified against the records (an
//! entry whose hash lies is never answered).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;

use ringmq_storage::key_index::{self, ENTRY_BYTES, HEADER_BYTES, SLOT_BYTES};
use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FlushMode, GetStatus, MessageStore, PutResult, StoreConfig};

const SLOTS: u32 = 7;
const ENTRIES: u32 = 64;

fn config(dir: &Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = 64 * 1024;
    config.cq_units_per_file = 10;
    config.cq_mapped_files_max = 3;
    config.key_index_slots = SLOTS;
    config.key_index_entries = ENTRIES;
    config.flush = FlushMode::Sync { timeout_ms: 5000 };
    config
}

async fn put_keyed(store: &MessageStore, range: std::ops::Range<usize>) -> Vec<PutResult> {
    let mut puts = Vec::new();
    for i in range {
        let props = format!("KEYS\u{1}k{i} g{}", i % 3);
        let record = encode_simple("Idx", 0, format!("body-{i}").as_bytes(), &props);
        puts.push(store.put(record).await.unwrap());
    }
    puts
}

/// Every record is found by its own key and by its group key, newest first.
async fn check_keys(store: &MessageStore, puts: &[PutResult]) {
    check_keys_lost(store, puts, 0).await;
}

/// As `check_keys`, but records below `lost` are not found at all.
async fn check_keys_lost(store: &MessageStore, puts: &[PutResult], lost: usize) {
    for (i, put) in puts.iter().enumerate() {
        let found = store
            .query_keys("Idx", &format!("k{i}"), 4, 0, i64::MAX)
            .await;
        let expected = if i < lost {
            vec![]
        } else {
            vec![put.physical_offset]
        };
        assert_eq!(found, expected, "key k{i}");
    }
    for group in 0..3 {
        let expected: Vec<i64> = puts
            .iter()
            .enumerate()
            .rev()
            .filter(|(i, _)| i % 3 == group && *i >= lost)
            .map(|(_, p)| p.physical_offset)
            .collect();
        let found = store
            .query_keys("Idx", &format!("g{group}"), 10_000, 0, i64::MAX)
            .await;
        assert_eq!(found, expected, "group g{group}");
    }
}

/// Every record is pulled back from its queue in order.
fn check_queue(store: &MessageStore, puts: &[PutResult]) {
    let got = store.get_messages("Idx", 0, 0, 10_000, u32::MAX, None);
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(got.max_offset, puts.len() as i64);
    let offsets: Vec<i64> = got.records.iter().map(|r| r.physical_offset).collect();
    let expected: Vec<i64> = puts.iter().map(|p| p.physical_offset).collect();
    assert_eq!(offsets, expected);
}

fn key_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("keyindex"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[compio::test]
async fn keys_are_found_after_clean_and_crash_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let mut puts = put_keyed(&store, 0..150).await;
    check_keys(&store, &puts).await;
    store.shutdown().await.unwrap();
    // 2 keys per record, 64 entries per file: several files.
    assert!(key_files(dir.path()).len() >= 4);

    let store = MessageStore::open(config(dir.path())).await.unwrap();
    check_keys(&store, &puts).await;
    puts.extend(put_keyed(&store, 150..260).await);
    // Crash: no shutdown, no index flush since the last records.
    drop(store);

    let store = MessageStore::open(config(dir.path())).await.unwrap();
    check_keys(&store, &puts).await;
    check_queue(&store, &puts);
    puts.extend(put_keyed(&store, 260..300).await);
    check_keys(&store, &puts).await;
    store.shutdown().await.unwrap();
}

#[compio::test]
async fn truncated_and_missing_consume_queue_files_are_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let puts = put_keyed(&store, 0..95).await;
    store.shutdown().await.unwrap();
    let queue_dir = dir.path().join("consumequeue/Idx/0");
    // The last file (units 90..95) cut inside its third unit; a middle file
    // (units 40..50) lost.
    let last = queue_dir.join(format!("{:020}", 90 * 20));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(2 * 20 + 7)
        .unwrap();
    std::fs::remove_file(queue_dir.join(format!("{:020}", 40 * 20))).unwrap();

    let store = MessageStore::open(config(dir.path())).await.unwrap();
    check_queue(&store, &puts);
    check_keys(&store, &puts).await;
    store.shutdown().await.unwrap();
}

#[compio::test]
async fn torn_and_truncated_key_index_files_are_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let puts = put_keyed(&store, 0..100).await;
    store.shutdown().await.unwrap();
    let files = key_files(dir.path());
    let newest = files.last().unwrap();
    // Torn header of the newest file and its tail cut mid-entry.
    let mut bytes = std::fs::read(newest).unwrap();
    bytes[44] ^= 0x5A;
    let entries_at = HEADER_BYTES + SLOT_BYTES * SLOTS as usize;
    bytes.truncate(entries_at + 5 * ENTRY_BYTES + 11);
    std::fs::write(newest, &bytes).unwrap();
    // An older file cut to its header: its entries are gone for good, but
    // nothing it answers may be wrong.
    let older = &files[0];
    std::fs::OpenOptions::new()
        .write(true)
        .open(older)
        .unwrap()
        .set_len(HEADER_BYTES as u64)
        .unwrap();

    let store = MessageStore::open(config(dir.path())).await.unwrap();
    // Records indexed by the newest file are re-dispatched: all found.
    let lost_in_older = 32; // the first file held 64 entries: records 0..32
    check_keys_lost(&store, &puts, lost_in_older).await;
    check_queue(&store, &puts);
    store.shutdown().await.unwrap();
}

#[compio::test]
async fn an_entry_whose_hash_lies_is_not_answered() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path())).await.unwrap();
    let puts = put_keyed(&store, 0..2).await;
    store.shutdown().await.unwrap();
    // Entry 1 is record 0's key "k0": make it claim the hash of "k1".
    let file = &key_files(dir.path())[0];
    let mut bytes = std::fs::read(file).unwrap();
    let entry_at = HEADER_BYTES + SLOT_BYTES * SLOTS as usize;
    let lie = key_index::key_hash("Idx", "k1");
    bytes[entry_at..entry_at + 8].copy_from_slice(&lie.to_be_bytes());
    // Chain it into k1's slot as its newest entry's predecessor.
    let slot_at = HEADER_BYTES + SLOT_BYTES * (lie % u64::from(SLOTS)) as usize;
    let k1_newest = u32::from_be_bytes(bytes[slot_at..slot_at + 4].try_into().unwrap());
    let k1_entry_at = entry_at + ENTRY_BYTES * (k1_newest as usize - 1);
    bytes[k1_entry_at + 24..k1_entry_at + 28].copy_from_slice(&1u32.to_be_bytes());
    std::fs::write(file, &bytes).unwrap();

    let store = MessageStore::open(config(dir.path())).await.unwrap();
    assert_eq!(
        store.query_keys("Idx", "k1", 10, 0, i64::MAX).await,
        vec![puts[1].physical_offset]
    );
    store.shutdown().await.unwrap();
}
