//! Property test: random sequences of appends (single and batch), flushes,
//! segment rotations (small segments), consume-queue file rotations and
//! map-cache evictions (7 units per file, 2 files mapped), key-index file
//! rotations (64 entries per file, 3 slots: long chains), clean and crash
//! reopens, pulls and key lookups agree with an in-memory model of every
//! queue and every key.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashMap;

use proptest::prelude::*;
use ringmq_net::record::RecordView;
use ringmq_storage::log_record::{encode_simple, tag_code};
use ringmq_storage::{FlushMode, GetStatus, MessageStore, StoreConfig, WaitFor};

const TOPICS: [&str; 2] = ["ModelA", "ModelB"];
const QUEUES: i32 = 3;
const TAGS: [&str; 3] = ["red", "green", "blue"];

#[derive(Debug, Clone)]
enum Op {
    Append {
        topic: usize,
        queue: i32,
        body_len: usize,
        tag: usize,
    },
    Batch {
        topic: usize,
        queue: i32,
        count: usize,
        body_len: usize,
    },
    Flush,
    Reopen {
        clean: bool,
    },
    Pull {
        topic: usize,
        queue: i32,
        offset: i64,
        max: u32,
        tag: Option<usize>,
    },
    QueryKey {
        topic: usize,
        group: usize,
    },
}

/// Records share one of these group keys (`g<n>`) besides their own key.
const KEY_GROUPS: usize = 5;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, 0..QUEUES, 0..1800usize, 0..3usize)
            .prop_map(|(topic, queue, body_len, tag)| Op::Append { topic, queue, body_len, tag }),
        1 => (0..2usize, 0..QUEUES, 1..6usize, 0..600usize)
            .prop_map(|(topic, queue, count, body_len)| Op::Batch { topic, queue, count, body_len }),
        1 => Just(Op::Flush),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        4 => (0..2usize, 0..QUEUES, 0..40i64, 1..40u32, proptest::option::of(0..3usize))
            .prop_map(|(topic, queue, offset, max, tag)| Op::Pull { topic, queue, offset, max, tag }),
        2 => (0..2usize, 0..KEY_GROUPS).prop_map(|(topic, group)| Op::QueryKey { topic, group }),
    ]
}

/// What the model remembers per record: body and tag index.
type Model = HashMap<(usize, i32), Vec<(Vec<u8>, usize)>>;
/// Physical offsets of the records carrying each (topic, key), oldest first.
type KeyModel = HashMap<(usize, String), Vec<i64>>;

fn config(dir: &std::path::Path, sync: bool) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = 8192;
    config.cq_units_per_file = 7;
    config.cq_mapped_files_max = 2;
    config.key_index_slots = 3;
    config.key_index_entries = 64;
    // Async runs write small chunks with pwrite, sync runs through io_uring.
    config.inline_write_bytes_max = if sync { 0 } else { 4096 };
    config.flush = if sync {
        FlushMode::Sync { timeout_ms: 5000 }
    } else {
        FlushMode::Async { interval_ms: 10 }
    };
    config
}

fn body(seq: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((seq * 31 + i) % 251).unwrap())
        .collect()
}

async fn run(ops: Vec<Op>, sync: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Some(MessageStore::open(config(dir.path(), sync)).await.unwrap());
    let mut model = Model::new();
    let mut keys = KeyModel::new();
    let mut seq = 0usize;
    for op in ops {
        let current = store.as_ref().unwrap();
        match op {
            Op::Append {
                topic,
                queue,
                body_len,
                tag,
            } => {
                seq += 1;
                let data = body(seq, body_len);
                let group = format!("g{}", seq % KEY_GROUPS);
                let props = format!("TAGS\u{1}{}\u{2}KEYS\u{1}k{seq} {group}", TAGS[tag]);
                let put = current
                    .put(encode_simple(TOPICS[topic], queue, &data, &props))
                    .await
                    .unwrap();
                let list = model.entry((topic, queue)).or_default();
                assert_eq!(put.queue_offset, list.len() as i64);
                list.push((data, tag));
                let found = current
                    .query_keys(TOPICS[topic], &format!("k{seq}"), 4, 0, i64::MAX)
                    .await;
                assert_eq!(found, vec![put.physical_offset]);
                keys.entry((topic, group))
                    .or_default()
                    .push(put.physical_offset);
            }
            Op::Batch {
                topic,
                queue,
                count,
                body_len,
            } => {
                let mut records = Vec::new();
                let mut bodies = Vec::new();
                for _ in 0..count {
                    seq += 1;
                    let data = body(seq, body_len);
                    records.push(encode_simple(TOPICS[topic], queue, &data, "TAGS\u{1}red"));
                    bodies.push((data, 0));
                }
                let puts = current.put_batch(records, WaitFor::Flush).await.unwrap();
                let list = model.entry((topic, queue)).or_default();
                for (i, put) in puts.iter().enumerate() {
                    assert_eq!(put.queue_offset, (list.len() + i) as i64);
                }
                assert!(
                    puts.windows(2).all(|w| w[1].physical_offset
                        == w[0].physical_offset + i64::from(w[0].wrote_bytes))
                );
                list.extend(bodies);
            }
            Op::Flush => {
                current.flush().await.unwrap();
                assert!(current.flushed_offset() >= current.reserved_offset());
            }
            Op::Reopen { clean } => {
                let old = store.take().unwrap();
                if clean {
                    old.shutdown().await.unwrap();
                } else {
                    drop(old);
                }
                store = Some(MessageStore::open(config(dir.path(), sync)).await.unwrap());
            }
            Op::Pull {
                topic,
                queue,
                offset,
                max,
                tag,
            } => {
                check_pull(current, &model, topic, queue, offset, max, tag).await;
            }
            Op::QueryKey { topic, group } => {
                check_key(current, &keys, topic, group).await;
            }
        }
    }
    for topic in 0..TOPICS.len() {
        for group in 0..KEY_GROUPS {
            check_key(store.as_ref().unwrap(), &keys, topic, group).await;
        }
    }
    let current = store.as_ref().unwrap();
    for topic in 0..TOPICS.len() {
        for queue in 0..QUEUES {
            check_pull(current, &model, topic, queue, 0, 10_000, None).await;
        }
    }
}

/// A group key's lookup returns exactly the model's records, newest first.
async fn check_key(store: &MessageStore, keys: &KeyModel, topic: usize, group: usize) {
    let key = format!("g{group}");
    let expected: Vec<i64> = keys
        .get(&(topic, key.clone()))
        .map(|list| list.iter().rev().copied().collect())
        .unwrap_or_default();
    let found = store
        .query_keys(TOPICS[topic], &key, 10_000, 0, i64::MAX)
        .await;
    assert_eq!(found, expected, "key {key} of topic {}", TOPICS[topic]);
}

async fn check_pull(
    store: &MessageStore,
    model: &Model,
    topic: usize,
    queue: i32,
    offset: i64,
    max: u32,
    tag: Option<usize>,
) {
    let expected = model
        .get(&(topic, queue))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let code = tag.map(|t| tag_code(TAGS[t]));
    let filter = move |c: i64| code.is_none_or(|want| want == c);
    let got = store.get_messages(TOPICS[topic], queue, offset, max, u32::MAX, Some(&filter));
    let len = expected.len() as i64;
    assert_eq!(got.max_offset, len);
    if len == 0 {
        assert_eq!(got.status, GetStatus::NoMatchedLogicQueue);
        return;
    }
    if offset >= len {
        let status = if offset == len {
            GetStatus::OffsetOverflowOne
        } else {
            GetStatus::OffsetOverflowBadly
        };
        assert_eq!(got.status, status);
        return;
    }
    let wanted: Vec<(i64, &Vec<u8>)> = expected
        .iter()
        .enumerate()
        .skip(usize::try_from(offset).unwrap())
        .filter(|(_, (_, t))| tag.is_none_or(|want| want == *t))
        .take(max as usize)
        .map(|(i, (b, _))| (i as i64, b))
        .collect();
    if wanted.is_empty() {
        assert_eq!(
            (got.status, got.next_begin_offset),
            (GetStatus::NoMatchedMessage, len)
        );
        return;
    }
    assert_eq!(got.status, GetStatus::Found);
    assert_eq!(got.records.len(), wanted.len());
    for (range, (queue_offset, data)) in got.records.iter().zip(wanted) {
        assert_eq!(range.queue_offset, queue_offset);
        let bytes = store
            .read_bytes(range.physical_offset, range.len as usize)
            .await
            .unwrap();
        let view = RecordView::parse(&bytes).unwrap();
        assert_eq!(
            (view.topic(), view.queue_id(), view.queue_offset()),
            (TOPICS[topic], queue, queue_offset)
        );
        assert_eq!(view.body(), data.as_slice());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_an_in_memory_model(ops in proptest::collection::vec(op(), 1..60), sync in any::<bool>()) {
        let runtime = compio::runtime::Runtime::new().unwrap();
        runtime.block_on(run(ops, sync));
    }
}
