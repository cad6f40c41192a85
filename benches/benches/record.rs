//! Micro-benchmarks of the message record codec: encode and decode (with
//! the body CRC) of a record with a 1 KiB body, a zero-copy `RecordView`
//! parse of the same record, the recovery scanner exactly as recovery calls
//! it (`ringmq_storage::log_record::scan`, which is `ringmq_net::record::
//! scan_view` + the store's position and torn-write checks), and the
//! encoding of a 32 x 1 KiB SEND_BATCH_MESSAGE body.
//!
//! Run: `cargo bench -p ringmq-benches --bench record`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringmq_net::batch::{BatchEntry, encode_batch};
use ringmq_net::record::{MessageRecord, RecordView};
use ringmq_storage::log_record::{Scan, scan};

/// Body of the benchmarked record.
const BODY_BYTES: usize = 1024;
/// Messages in the benchmarked batch.
const BATCH_MESSAGES: usize = 32;

/// Properties as a typical producer sends them (fixture `produce-07`).
const PROPERTIES: &str = "TAGS\u{1}TagA\u{2}KEYS\u{1}key-0 run-r24aaa20ab6dfa3\u{2}\
    UNIQ_KEY\u{1}C000020224ABAC4C820C764EF7AE0000\u{2}WAIT\u{1}true\u{2}CLUSTER\u{1}DefaultCluster";

fn body() -> Vec<u8> {
    (0..BODY_BYTES).map(|i| (i % 251) as u8).collect()
}

fn record() -> MessageRecord {
    MessageRecord {
        queue_id: 1,
        flag: 0,
        queue_offset: 12_345,
        physical_offset: 987_654_321,
        sys_flag: 0,
        born_timestamp: 1_795_476_086_702,
        born_host: "127.0.0.1:51290".parse().unwrap_or_else(|_| unreachable!()),
        store_timestamp: 1_795_476_086_710,
        store_host: "127.0.0.1:10911".parse().unwrap_or_else(|_| unreachable!()),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: body().into(),
        topic: "RingProduce1".to_owned(),
        properties: PROPERTIES.to_owned(),
    }
}

fn bench_record(c: &mut Criterion) {
    let record = record();
    let encoded = record.to_vec().unwrap_or_default();
    let mut group = c.benchmark_group("record_1k");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    let mut out = Vec::with_capacity(encoded.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            std::hint::black_box(record.encode(&mut out))
        })
    });
    group.bench_function("decode_with_crc", |b| {
        b.iter(|| std::hint::black_box(MessageRecord::decode(std::hint::black_box(&encoded))))
    });
    group.bench_function("view_parse", |b| {
        b.iter(|| std::hint::black_box(RecordView::parse(std::hint::black_box(&encoded))))
    });
    let position = record.physical_offset;
    group.bench_function("recovery_scan", |b| {
        b.iter(|| {
            let found = scan(std::hint::black_box(&encoded), position, true);
            std::hint::black_box(matches!(found, Scan::Record(_)))
        })
    });
    group.finish();
}

fn bench_batch(c: &mut Criterion) {
    let entries: Vec<BatchEntry> = (0..BATCH_MESSAGES)
        .map(|i| BatchEntry {
            flag: 0,
            body: body().into(),
            properties: format!(
                "UNIQ_KEY\u{1}C000020224ABAC4C820C764EF7AE{i:04X}\u{2}TAGS\u{1}TagA"
            ),
        })
        .collect();
    let mut out = Vec::new();
    let mut group = c.benchmark_group("batch_32x1k");
    group.throughput(Throughput::Elements(BATCH_MESSAGES as u64));
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            std::hint::black_box(encode_batch(&entries, &mut out))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_record, bench_batch);
criterion_main!(benches);
