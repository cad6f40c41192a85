//! Storage benchmarks (issue 3). One run measures the machine's ceiling with
//! a raw io_uring writer (sequential 1 MiB writes; 1 KiB write + fdatasync
//! latency) and then the store against it: async-flush 1 KiB appends,
//! sync-flush group commit with 64 concurrent waiters versus one record per
//! fdatasync, consume-queue lookup + 32-record range read (criterion), and
//! crash recovery time of a large log. Figures are printed as
//! `RESULT <name> <value>` lines.
//!
//! Run: `cargo bench -p ringmq-benches --bench storage`
//! Sizes: RINGMQ_BENCH_APPEND_MIB (default 512), RINGMQ_BENCH_RECOVERY_MIB
//! (default 1024). RINGMQ_BENCH_INLINE_WRITE_BYTES sets the store's
//! `inline_write_bytes_max` (default: the store's default).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::os::unix::io::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hdrhistogram::Histogram;
use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FlushMode, MessageStore, StoreConfig, WaitFor};

const MIB: usize = 1 << 20;
const RECORD_BODY_BYTES: usize = 1024 - 91 - 5;
const SYNC_WAITERS: usize = 64;
const SYNC_RECORDS_PER_WAITER: usize = 200;
const SINGLE_SYNC_RECORDS: usize = 500;
const ASYNC_PRODUCERS: usize = 64;

fn env_mib(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn result(name: &str, value: impl std::fmt::Display) {
    println!("RESULT {name} {value}");
}

/// A 1 KiB record (91 fixed + 5 topic + body).
fn record_1k() -> Vec<u8> {
    let record = encode_simple("Bench", 0, &[0x5a; RECORD_BODY_BYTES], "");
    assert_eq!(record.len(), 1024);
    record
}

mod raw {
    //! The ceiling: io_uring used directly, no store logic.
    use super::*;
    use io_uring::{IoUring, opcode, types};

    fn run_one(ring: &mut IoUring, entry: io_uring::squeue::Entry) -> i32 {
        // SAFETY: every buffer referenced by `entry` outlives this call,
        // which waits for the completion before returning.
        unsafe { ring.submission().push(&entry).unwrap() };
        ring.submit_and_wait(1).unwrap();
        ring.completion().next().unwrap().result()
    }

    /// Sequential 1 MiB writes of `total` bytes then one fdatasync; returns
    /// bytes/s until the last write completed (page cache) and including
    /// the fdatasync (durable).
    pub fn sequential_write(dir: &std::path::Path, total: usize) -> (f64, f64) {
        let file = std::fs::File::create(dir.join("raw-seq")).unwrap();
        let fd = types::Fd(file.as_raw_fd());
        let buf = vec![0x5au8; MIB];
        let mut ring = IoUring::new(8).unwrap();
        let start = Instant::now();
        for i in 0..total / MIB {
            let write = opcode::Write::new(fd, buf.as_ptr(), MIB as u32)
                .offset((i * MIB) as u64)
                .build();
            assert_eq!(run_one(&mut ring, write), MIB as i32);
        }
        let written = start.elapsed().as_secs_f64();
        let sync = opcode::Fsync::new(fd)
            .flags(types::FsyncFlags::DATASYNC)
            .build();
        assert_eq!(run_one(&mut ring, sync), 0);
        let durable = start.elapsed().as_secs_f64();
        std::fs::remove_file(dir.join("raw-seq")).unwrap();
        (total as f64 / written, total as f64 / durable)
    }

    /// `count` times: write 1 KiB, fdatasync. Returns the fdatasync latency
    /// histogram (µs) and records/s.
    pub fn write_and_fdatasync(dir: &std::path::Path, count: usize) -> (Histogram<u64>, f64) {
        let file = std::fs::File::create(dir.join("raw-sync")).unwrap();
        // Preallocated like a store segment.
        // SAFETY: the fd is owned by `file`, open for the call.
        let rc =
            unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, (count * 1024 + MIB) as libc::off_t) };
        assert_eq!(rc, 0);
        file.sync_all().unwrap();
        let fd = types::Fd(file.as_raw_fd());
        let buf = vec![0x5au8; 1024];
        let mut ring = IoUring::new(8).unwrap();
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        let start = Instant::now();
        for i in 0..count {
            let write = opcode::Write::new(fd, buf.as_ptr(), 1024)
                .offset((i * 1024) as u64)
                .build();
            assert_eq!(run_one(&mut ring, write), 1024);
            let began = Instant::now();
            let sync = opcode::Fsync::new(fd)
                .flags(types::FsyncFlags::DATASYNC)
                .build();
            assert_eq!(run_one(&mut ring, sync), 0);
            histogram
                .record(began.elapsed().as_micros() as u64)
                .unwrap();
        }
        let rate = count as f64 / start.elapsed().as_secs_f64();
        std::fs::remove_file(dir.join("raw-sync")).unwrap();
        (histogram, rate)
    }
}

fn store_config(dir: &std::path::Path, flush: FlushMode) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.flush = flush;
    // The bench's disk is shared with other runs: only a really full disk
    // may refuse its writes.
    config.disk_usage_max_percent = 99;
    if let Some(bytes) = std::env::var("RINGMQ_BENCH_INLINE_WRITE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.inline_write_bytes_max = bytes;
    }
    config
}

/// `producers` tasks append `total` bytes of 1 KiB records, then flush;
/// bytes/s until the last ack (page cache) and including the flush.
async fn async_appends(dir: &std::path::Path, total: usize, producers: usize) -> (f64, f64) {
    let store = Rc::new(
        MessageStore::open(store_config(dir, FlushMode::Async { interval_ms: 500 }))
            .await
            .unwrap(),
    );
    let template = Rc::new(record_1k());
    let per_producer = total / 1024 / producers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..producers {
        let (store, template) = (store.clone(), template.clone());
        tasks.push(compio::runtime::spawn(async move {
            for _ in 0..per_producer {
                store
                    .put_batch(vec![template.to_vec()], WaitFor::Flush)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let acked = start.elapsed().as_secs_f64();
    store.flush().await.unwrap();
    let durable = start.elapsed().as_secs_f64();
    let bytes = (per_producer * producers * 1024) as f64;
    (bytes / acked, bytes / durable)
}

/// `waiters` tasks each append `per_waiter` records with SYNC_FLUSH; returns
/// the ack latency histogram (µs) and records/s.
async fn sync_appends(
    dir: &std::path::Path,
    waiters: usize,
    per_waiter: usize,
) -> (Histogram<u64>, f64) {
    let store = Rc::new(
        MessageStore::open(store_config(dir, FlushMode::Sync { timeout_ms: 5000 }))
            .await
            .unwrap(),
    );
    let template = Rc::new(record_1k());
    let histogram = Rc::new(std::cell::RefCell::new(Histogram::<u64>::new(3).unwrap()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..waiters {
        let (store, template, histogram) = (store.clone(), template.clone(), histogram.clone());
        tasks.push(compio::runtime::spawn(async move {
            for _ in 0..per_waiter {
                let began = Instant::now();
                store.put(template.to_vec()).await.unwrap();
                histogram
                    .borrow_mut()
                    .record(began.elapsed().as_micros() as u64)
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rate = (waiters * per_waiter) as f64 / start.elapsed().as_secs_f64();
    let histogram = histogram.borrow().clone();
    (histogram, rate)
}

/// Writes `total` bytes of 1 KiB records over 8 queues, crashes (drops the
/// store without shutdown), and times reopen with and without a checkpoint.
async fn recovery(dir: &std::path::Path, total: usize) -> (Duration, Duration) {
    {
        let store = MessageStore::open(store_config(dir, FlushMode::Async { interval_ms: 500 }))
            .await
            .unwrap();
        let mut batch = Vec::new();
        for i in 0..total / 1024 {
            batch.push(encode_simple(
                "Bench",
                (i % 8) as i32,
                &[0x5a; RECORD_BODY_BYTES],
                "",
            ));
            if batch.len() == 256 {
                store
                    .put_batch(std::mem::take(&mut batch), WaitFor::Visible)
                    .await
                    .unwrap();
            }
        }
        store.flush().await.unwrap();
        store.flush_indexes().await.unwrap();
    }
    let start = Instant::now();
    let store = MessageStore::open(store_config(dir, FlushMode::Async { interval_ms: 500 }))
        .await
        .unwrap();
    let with_checkpoint = start.elapsed();
    drop(store);
    std::fs::remove_file(dir.join("checkpoint")).unwrap();
    let start = Instant::now();
    let store = MessageStore::open(store_config(dir, FlushMode::Async { interval_ms: 500 }))
        .await
        .unwrap();
    let rebuild = start.elapsed();
    assert_eq!(
        (0..8).map(|q| store.max_offset("Bench", q)).sum::<i64>() as usize,
        total / 1024
    );
    (with_checkpoint, rebuild)
}

fn percentile_ms(histogram: &Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1000.0
}

fn main() {
    let runtime = compio::runtime::Runtime::new().unwrap();
    let append_total = env_mib("RINGMQ_BENCH_APPEND_MIB", 512) * MIB;
    let recovery_total = env_mib("RINGMQ_BENCH_RECOVERY_MIB", 1024) * MIB;

    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (raw_seq, raw_seq_durable) = raw::sequential_write(dir.path(), append_total);
    result(
        "raw_seq_write_page_cache_mib_s",
        format!("{:.0}", raw_seq / MIB as f64),
    );
    result(
        "raw_seq_write_incl_fdatasync_mib_s",
        format!("{:.0}", raw_seq_durable / MIB as f64),
    );
    for producers in [1, ASYNC_PRODUCERS] {
        let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
        let total = if producers == 1 {
            append_total / 8
        } else {
            append_total
        };
        let (acked, durable) = runtime.block_on(async_appends(dir.path(), total, producers));
        let name = format!("store_async_1k_{producers}_producers");
        result(
            &format!("{name}_acked_mib_s"),
            format!("{:.0}", acked / MIB as f64),
        );
        result(
            &format!("{name}_acked_vs_raw_page_cache"),
            format!("{:.2}", acked / raw_seq),
        );
        result(
            &format!("{name}_incl_flush_mib_s"),
            format!("{:.0}", durable / MIB as f64),
        );
        result(
            &format!("{name}_incl_flush_vs_raw_incl_fdatasync"),
            format!("{:.2}", durable / raw_seq_durable),
        );
    }

    // Measured right before the store's sync runs, away from the large
    // sequential write (whose deletion discards blocks on this disk).
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (raw_sync, raw_sync_rate) = raw::write_and_fdatasync(dir.path(), SINGLE_SYNC_RECORDS);
    result(
        "raw_fdatasync_p50_ms",
        format!("{:.3}", percentile_ms(&raw_sync, 0.5)),
    );
    result(
        "raw_fdatasync_p99_ms",
        format!("{:.3}", percentile_ms(&raw_sync, 0.99)),
    );
    result(
        "raw_one_record_per_fdatasync_per_s",
        format!("{raw_sync_rate:.0}"),
    );

    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (_, single_rate) = runtime.block_on(sync_appends(dir.path(), 1, SINGLE_SYNC_RECORDS));
    result("store_sync_1_waiter_per_s", format!("{single_rate:.0}"));
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (acks, group_rate) = runtime.block_on(sync_appends(
        dir.path(),
        SYNC_WAITERS,
        SYNC_RECORDS_PER_WAITER,
    ));
    result("store_sync_64_waiters_per_s", format!("{group_rate:.0}"));
    result(
        "store_sync_64_vs_store_1_waiter",
        format!("{:.1}", group_rate / single_rate),
    );
    result(
        "store_sync_64_vs_raw_one_per_fdatasync",
        format!("{:.1}", group_rate / raw_sync_rate),
    );
    result(
        "store_sync_64_ack_p50_ms",
        format!("{:.3}", percentile_ms(&acks, 0.5)),
    );
    result(
        "store_sync_64_ack_p99_ms",
        format!("{:.3}", percentile_ms(&acks, 0.99)),
    );
    result(
        "store_sync_64_ack_p99_vs_raw_fdatasync_p99",
        format!(
            "{:.2}",
            percentile_ms(&acks, 0.99) / percentile_ms(&raw_sync, 0.99)
        ),
    );

    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let (with_checkpoint, rebuild) = runtime.block_on(recovery(dir.path(), recovery_total));
    let mib = recovery_total / MIB;
    result(
        &format!("recovery_crash_{mib}mib_with_checkpoint_ms"),
        with_checkpoint.as_millis(),
    );
    result(
        &format!("recovery_crash_{mib}mib_full_rebuild_ms"),
        rebuild.as_millis(),
    );
    drop(dir);

    pull_bench(&runtime);
}

/// Consume-queue lookup of 32 records, and lookup + copying read of them.
fn pull_bench(runtime: &compio::runtime::Runtime) {
    const RECORDS: usize = 100_000;
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let store = runtime.block_on(async {
        let store = MessageStore::open(store_config(
            dir.path(),
            FlushMode::Async { interval_ms: 500 },
        ))
        .await
        .unwrap();
        for chunk in 0..RECORDS / 250 {
            let batch = (0..250).map(|_| record_1k()).collect();
            store.put_batch(batch, WaitFor::Visible).await.unwrap();
            let _ = chunk;
        }
        store.flush().await.unwrap();
        store
    });
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3));
    let mut offset = 0i64;
    criterion.bench_function("cq_lookup_32", |b| {
        b.iter(|| {
            offset = (offset + 7919) % (RECORDS as i64 - 32);
            let got = store.get_messages("Bench", 0, offset, 32, u32::MAX, None);
            assert_eq!(got.records.len(), 32);
            got
        })
    });
    let mut buf = vec![0u8; 32 * 1024];
    criterion.bench_function("cq_lookup_and_read_32", |b| {
        b.iter(|| {
            offset = (offset + 7919) % (RECORDS as i64 - 32);
            let got = store.get_messages("Bench", 0, offset, 32, u32::MAX, None);
            let mut at = 0usize;
            for range in &got.records {
                let len = range.len as usize;
                let target = &mut buf[at..at + len];
                // SAFETY: `target` is valid writable memory of `len` bytes and
                // the fd is kept open by `range.file`.
                let n = unsafe {
                    libc::pread(
                        range.raw_fd(),
                        target.as_mut_ptr().cast(),
                        len,
                        range.file_position as libc::off_t,
                    )
                };
                assert_eq!(n, len as isize);
                at += len;
            }
            at
        })
    });
    criterion.final_summary();
}
