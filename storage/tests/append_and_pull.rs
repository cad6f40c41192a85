//! Appends, pulls, offsets, queries and clean/crash reopen of one store.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FlushMode, GetStatus, MessageStore, StoreConfig};

fn config(dir: &std::path::Path, flush: FlushMode) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = 64 * 1024;
    config.flush = flush;
    config.cq_units_per_file = 50;
    config
}

fn props(tag: &str, keys: &str) -> String {
    format!("TAGS\u{1}{tag}\u{2}KEYS\u{1}{keys}\u{2}UNIQ_KEY\u{1}U{keys}")
}

async fn pulled(
    store: &MessageStore,
    topic: &str,
    queue: i32,
    offset: i64,
    max: u32,
) -> Vec<Vec<u8>> {
    let result = store.get_messages(topic, queue, offset, max, u32::MAX, None);
    let mut out = Vec::new();
    for range in result.records {
        out.push(
            store
                .read_bytes(range.physical_offset, range.len as usize)
                .await
                .unwrap(),
        );
    }
    out
}

#[compio::test]
async fn appended_records_are_pulled_back_in_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path(), FlushMode::Async { interval_ms: 50 }))
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for i in 0..300u32 {
        let body = vec![u8::try_from(i % 251).unwrap(); 500];
        let result = store
            .put(encode_simple(
                "TopicA",
                (i % 2) as i32,
                &body,
                &props("t", &i.to_string()),
            ))
            .await
            .unwrap();
        assert_eq!(result.queue_offset, i64::from(i / 2));
        offsets.push(result.physical_offset);
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(store.max_offset("TopicA", 0), 150);
    let records = pulled(&store, "TopicA", 1, 10, 32).await;
    assert_eq!(records.len(), 32);
    let view = ringmq_storage::log_record::dispatch_facts(&records[0]).unwrap();
    assert_eq!((view.queue_id, view.queue_offset), (1, 10));
    let keys = store.query_keys("TopicA", "21", 10, 0, i64::MAX).await;
    assert_eq!(keys, vec![offsets[21]]);
    let record = store.read_record(offsets[21]).await.unwrap();
    assert_eq!(
        ringmq_storage::log_record::dispatch_facts(&record)
            .unwrap()
            .queue_offset,
        10
    );
    store.shutdown().await.unwrap();

    let store = MessageStore::open(config(dir.path(), FlushMode::Async { interval_ms: 50 }))
        .await
        .unwrap();
    assert_eq!(store.max_offset("TopicA", 1), 150);
    let again = store
        .put(encode_simple("TopicA", 1, b"after", ""))
        .await
        .unwrap();
    assert_eq!(again.queue_offset, 150);
    assert!(again.physical_offset > *offsets.last().unwrap());
    assert_eq!(pulled(&store, "TopicA", 1, 0, 200).await.len(), 151);
}

#[compio::test]
async fn pull_statuses_follow_the_rocketmq_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = MessageStore::open(config(dir.path(), FlushMode::Sync { timeout_ms: 5000 }))
        .await
        .unwrap();
    assert_eq!(
        store.get_messages("T", 0, 0, 32, 1 << 20, None).status,
        GetStatus::NoMatchedLogicQueue
    );
    for i in 0..5 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        store
            .put(encode_simple("T", 0, b"x", &props(tag, "k")))
            .await
            .unwrap();
    }
    let found = store.get_messages("T", 0, 0, 32, 1 << 20, None);
    assert_eq!(
        (found.status, found.next_begin_offset, found.records.len()),
        (GetStatus::Found, 5, 5)
    );
    let one = store.get_messages("T", 0, 5, 32, 1 << 20, None);
    assert_eq!(
        (one.status, one.next_begin_offset),
        (GetStatus::OffsetOverflowOne, 5)
    );
    let badly = store.get_messages("T", 0, 9, 32, 1 << 20, None);
    assert_eq!(
        (badly.status, badly.next_begin_offset),
        (GetStatus::OffsetOverflowBadly, 5)
    );
    let odd = ringmq_storage::log_record::tag_code("odd");
    let filter = move |code: i64| code == odd;
    let matched = store.get_messages("T", 0, 0, 32, 1 << 20, Some(&filter));
    assert_eq!(
        matched
            .records
            .iter()
            .map(|r| r.queue_offset)
            .collect::<Vec<_>>(),
        vec![1, 3]
    );
    let none = ringmq_storage::log_record::tag_code("none");
    let filter = move |code: i64| code == none;
    let unmatched = store.get_messages("T", 0, 0, 32, 1 << 20, Some(&filter));
    assert_eq!(
        (unmatched.status, unmatched.next_begin_offset),
        (GetStatus::NoMatchedMessage, 5)
    );
    let capped = store.get_messages("T", 0, 1, 2, 1 << 20, None);
    assert_eq!((capped.records.len(), capped.next_begin_offset), (2, 3));
    assert!(store.flushed_offset() >= store.reserved_offset());
}

#[compio::test]
async fn a_crashed_store_reopens_with_every_record_and_rebuilt_queues() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), FlushMode::Sync { timeout_ms: 5000 });
    {
        let store = MessageStore::open(cfg.clone()).await.unwrap();
        for i in 0..200 {
            store
                .put(encode_simple("C", i % 3, &[7u8; 300], ""))
                .await
                .unwrap();
        }
        // Dropped without shutdown: the abort marker stays, like a crash.
    }
    let store = MessageStore::open(cfg).await.unwrap();
    let total: i64 = (0..3).map(|q| store.max_offset("C", q)).sum();
    assert_eq!(total, 200);
    assert_eq!(pulled(&store, "C", 2, 0, 100).await.len(), 66);
}

#[compio::test]
async fn a_record_after_an_eight_byte_blank_marker_lands_in_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FlushMode::Sync { timeout_ms: 5000 });
    cfg.segment_bytes = 4096;
    let store = MessageStore::open(cfg).await.unwrap();
    // 96 bytes of fixed part + topic "E"; fill the segment to leave exactly
    // 8 bytes, the smallest blank marker.
    let fixed = encode_simple("E", 0, b"", "").len();
    let first = store
        .put(encode_simple("E", 0, &vec![1u8; 4096 - 8 - fixed], ""))
        .await
        .unwrap();
    assert_eq!(first.physical_offset, 0);
    let second = store
        .put(encode_simple("E", 0, b"next", "KEYS\u{1}k2"))
        .await
        .unwrap();
    assert_eq!(second.physical_offset, 4096);
    assert_eq!(pulled(&store, "E", 0, 0, 8).await.len(), 2);
    assert_eq!(
        store.query_keys("E", "k2", 4, 0, i64::MAX).await,
        vec![4096]
    );
    drop(store);
    let mut cfg = config(dir.path(), FlushMode::Sync { timeout_ms: 5000 });
    cfg.segment_bytes = 4096;
    let reopened = MessageStore::open(cfg).await.unwrap();
    assert_eq!(pulled(&reopened, "E", 0, 0, 8).await.len(), 2);
}
