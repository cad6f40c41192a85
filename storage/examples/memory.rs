//! Memory and recovery proof for the store (issue 9): appends `--records`
//! small records (each with a KEYS key and a UNIQ_KEY, spread over
//! `--queues` queues), printing the process's anonymous memory (`RssAnon`
//! from /proc/self/status) every `--every` records, then reopens the store
//! and prints RssAnon and the open time again. With the indexes on disk,
//! RssAnon stays flat as the record count grows.
//!
//! ```text
//! cargo run --release -p ringmq-storage --example memory -- \
//!     [--records 2000000] [--body 16] [--queues 8] [--every 500000] [--dir PATH]
//!     [--hold]         after appending, print HOLDING and wait (kill -9 it)
//!     [--reopen-only]  only open the store at --dir (time recovery), then exit
//! ```
//!
//! Output lines: `RSS records=<n> rss_anon_kib=<k>`, `OPEN ms=<t> ...`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FlushMode, MessageStore, StoreConfig, WaitFor};

/// Upper bound on `--records` (keeps a run bounded in disk and time).
const RECORDS_MAX: u64 = 50_000_000;
/// Records per put_batch.
const BATCH: u64 = 64;
/// Concurrent producers.
const PRODUCERS: u64 = 4;
/// Longest `--hold` wait before exiting on its own.
const HOLD_MAX: Duration = Duration::from_secs(600);

struct Args {
    records: u64,
    body: usize,
    queues: u64,
    every: u64,
    dir: Option<PathBuf>,
    hold: bool,
    reopen_only: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        records: 2_000_000,
        body: 16,
        queues: 8,
        every: 500_000,
        dir: None,
        hold: false,
        reopen_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("flag needs a value");
        match flag.as_str() {
            "--records" => args.records = value().parse::<u64>().unwrap().min(RECORDS_MAX),
            "--body" => args.body = value().parse().unwrap(),
            "--queues" => args.queues = value().parse::<u64>().unwrap().max(1),
            "--every" => args.every = value().parse::<u64>().unwrap().max(1),
            "--dir" => args.dir = Some(PathBuf::from(value())),
            "--hold" => args.hold = true,
            "--reopen-only" => args.reopen_only = true,
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn config(dir: &std::path::Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.flush = FlushMode::Async { interval_ms: 500 };
    config
}

async fn open(dir: &std::path::Path) -> MessageStore {
    let start = Instant::now();
    let store = MessageStore::open(config(dir)).await.unwrap();
    println!(
        "OPEN ms={} rss_anon_kib={} log_bytes={}",
        start.elapsed().as_millis(),
        rss_anon_kib(),
        store.reserved_offset()
    );
    store
}

async fn append(store: &Rc<MessageStore>, args: &Args) {
    let body = vec![0x5au8; args.body];
    let batches = args.records.div_ceil(BATCH);
    let next = Rc::new(std::cell::Cell::new(0u64));
    let mut tasks = Vec::new();
    for _ in 0..PRODUCERS {
        let (store, next, body) = (store.clone(), next.clone(), body.clone());
        let (queues, every, records) = (args.queues, args.every, args.records);
        tasks.push(compio::runtime::spawn(async move {
            loop {
                let batch = next.get();
                if batch >= batches {
                    break;
                }
                next.set(batch + 1);
                let first = batch * BATCH;
                let count = BATCH.min(records - first);
                let queue = i32::try_from(batch % queues).unwrap();
                let batch_records: Vec<Vec<u8>> = (first..first + count)
                    .map(|seq| {
                        let props =
                            format!("KEYS\u{1}key-{seq}\u{2}UNIQ_KEY\u{1}C0A80001{seq:024X}");
                        encode_simple("MemProof", queue, &body, &props)
                    })
                    .collect();
                store
                    .put_batch(batch_records, WaitFor::Visible)
                    .await
                    .unwrap();
                let done = first + count;
                if done / every != first / every || done == records {
                    println!("RSS records={done} rss_anon_kib={}", rss_anon_kib());
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

fn main() {
    let args = parse_args();
    let temp = tempfile::tempdir().unwrap();
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let runtime = compio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        if args.reopen_only {
            let store = open(&dir).await;
            let probe = store.query_keys("MemProof", "key-0", 4, 0, i64::MAX).await;
            println!("QUERY key-0 found={}", probe.len());
            store.shutdown().await.unwrap();
            return;
        }
        println!("START rss_anon_kib={}", rss_anon_kib());
        let store = Rc::new(open(&dir).await);
        let start = Instant::now();
        append(&store, &args).await;
        store.flush().await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "APPENDED records={} secs={secs:.1} rate={:.0}/s rss_anon_kib={}",
            args.records,
            args.records as f64 / secs,
            rss_anon_kib()
        );
        if args.hold {
            println!("HOLDING");
            compio::time::sleep(HOLD_MAX).await;
            return;
        }
        let store = Rc::try_unwrap(store).ok().unwrap();
        store.shutdown().await.unwrap();
        let store = open(&dir).await;
        let last = args.records.saturating_sub(1);
        let found = store
            .query_keys("MemProof", &format!("key-{last}"), 4, 0, i64::MAX)
            .await;
        println!(
            "QUERY key-{last} found={} rss_anon_kib={}",
            found.len(),
            rss_anon_kib()
        );
        store.shutdown().await.unwrap();
    });
}
