//! Crash-test child: opens a store with SYNC_FLUSH at the given directory
//! and appends records forever from several concurrent writers, printing
//! `ACK <seq> <physical offset>` on stdout after each acknowledged put. The
//! crash test kills it with SIGKILL at random moments and checks that every
//! acknowledged record survives. Not a user tool.
//!
//! Usage: `ringmq-storage-crash-child <data dir> <run index>`.
//! Record `seq = run * 1_000_000 + n`; body = seq (8 bytes BE) followed by a
//! fill of `seq % 251` repeated to a length derived from seq.

use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;

use ringmq_storage::log_record::encode_simple;
use ringmq_storage::{FlushMode, MessageStore, StoreConfig};

/// Concurrent writers (so acks are released by shared group commits).
const WRITERS: u64 = 8;
/// Records per run at most (the parent kills the child long before).
const RECORDS_PER_RUN_MAX: u64 = 100_000;
/// Segment size: small, so runs rotate segments often.
pub const CRASH_SEGMENT_BYTES: u64 = 256 * 1024;

/// The topic, queue and body of record `seq` (shared with the test).
pub fn record_for(seq: u64) -> (i32, Vec<u8>) {
    let queue = i32::try_from(seq % 4).unwrap_or(0);
    let fill = u8::try_from(seq % 251).unwrap_or(0);
    let len = usize::try_from(seq.wrapping_mul(7919) % 1500 + 8).unwrap_or(8);
    let mut body = vec![fill; len];
    if let Some(head) = body.get_mut(..8) {
        head.copy_from_slice(&seq.to_be_bytes());
    }
    (queue, body)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(run)) = (args.get(1), args.get(2).and_then(|r| r.parse::<u64>().ok()))
    else {
        eprintln!("usage: ringmq-storage-crash-child <data dir> <run index>");
        return ExitCode::FAILURE;
    };
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = CRASH_SEGMENT_BYTES;
    config.flush = FlushMode::Sync { timeout_ms: 10_000 };
    config.cq_units_per_file = 1000;
    config.index_flush_interval_ms = 20;
    let runtime = match compio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let store = match MessageStore::open(config).await {
            Ok(store) => Rc::new(store),
            Err(err) => {
                eprintln!("open: {err}");
                return ExitCode::FAILURE;
            }
        };
        println!("OPEN");
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            writers.push(compio::runtime::spawn(async move {
                let mut n = writer;
                while n < RECORDS_PER_RUN_MAX {
                    let seq = run * 1_000_000 + n;
                    let (queue, body) = record_for(seq);
                    let props = format!("KEYS\u{1}k{seq}");
                    match store
                        .put(encode_simple("Crash", queue, &body, &props))
                        .await
                    {
                        Ok(result) => {
                            let mut out = std::io::stdout().lock();
                            let _ = writeln!(out, "ACK {seq} {}", result.physical_offset);
                            let _ = out.flush();
                        }
                        Err(err) => {
                            eprintln!("put: {err}");
                            return;
                        }
                    }
                    n += WRITERS;
                }
            }));
        }
        for writer in writers {
            let _ = writer.await;
        }
        ExitCode::SUCCESS
    })
}
