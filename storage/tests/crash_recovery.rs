//! Crash recovery against a real process: a child appends with SYNC_FLUSH
//! and prints each acknowledged record; it is killed with SIGKILL at random
//! moments, many times (RINGMQ_CRASH_CYCLES, default 100). After every kill
//! the store is reopened and every acknowledged record must be readable,
//! intact, exactly once, with contiguous queue offsets in log order; no torn
//! record is ever served.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use ringmq_storage::log_record::dispatch_facts;
use ringmq_storage::{FlushMode, GetStatus, MessageStore, StoreConfig};

const CHILD: &str = env!("CARGO_BIN_EXE_ringmq-storage-crash-child");
const CYCLES_DEFAULT: usize = 100;
/// Longest a cycle waits for the child's acknowledgements before killing it.
const CYCLE_WAIT_MAX: Duration = Duration::from_secs(10);
const QUEUES: i32 = 4;

/// Same derivation as the child (src/bin/ringmq-storage-crash-child.rs).
fn record_for(seq: u64) -> (i32, Vec<u8>) {
    let queue = i32::try_from(seq % 4).unwrap_or(0);
    let fill = u8::try_from(seq % 251).unwrap_or(0);
    let len = usize::try_from(seq.wrapping_mul(7919) % 1500 + 8).unwrap_or(8);
    let mut body = vec![fill; len];
    body[..8].copy_from_slice(&seq.to_be_bytes());
    (queue, body)
}

fn body_of(record: &[u8]) -> &[u8] {
    // IPv4 hosts: BODYLENGTH at 84, body at 88.
    let len = i32::from_be_bytes(record[84..88].try_into().unwrap()) as usize;
    &record[88..88 + len]
}

/// Runs the child until it acknowledged `acks_wanted` records (or was killed
/// right after start when 0) and returns the acknowledged (seq, offset)s.
fn run_child_and_kill(
    dir: &std::path::Path,
    run: u64,
    acks_wanted: usize,
    early_kill: Option<Duration>,
) -> Vec<(u64, i64)> {
    let mut child = Command::new(CHILD)
        .arg(dir)
        .arg(run.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = Vec::new();
    match early_kill {
        Some(delay) => std::thread::sleep(delay),
        None => {
            let deadline = Instant::now() + CYCLE_WAIT_MAX;
            while acks.len() < acks_wanted && Instant::now() < deadline {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(line) => acks.extend(parse_ack(&line)),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    acks.extend(rx.try_iter().filter_map(|line| parse_ack(&line)));
    acks
}

fn parse_ack(line: &str) -> Option<(u64, i64)> {
    let mut parts = line.split(' ');
    (parts.next()? == "ACK").then_some(())?;
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn config(dir: &std::path::Path) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = 256 * 1024;
    config.flush = FlushMode::Sync { timeout_ms: 10_000 };
    config.cq_units_per_file = 1000;
    config
}

/// Reopens the store and checks every acknowledged record; returns the number
/// of records present.
async fn verify(dir: &std::path::Path, acked: &HashMap<u64, i64>) -> usize {
    let store = MessageStore::open(config(dir)).await.unwrap();
    let mut seen = HashSet::new();
    let mut last_physical = HashMap::new();
    for queue in 0..QUEUES {
        let max = store.max_offset("Crash", queue);
        let mut offset = 0;
        while offset < max {
            let result = store.get_messages("Crash", queue, offset, 64, u32::MAX, None);
            assert_eq!(
                result.status,
                GetStatus::Found,
                "queue {queue} offset {offset} of {max}"
            );
            for range in &result.records {
                assert_eq!(range.queue_offset, offset);
                let record = store.read_record(range.physical_offset).await.unwrap();
                let facts = dispatch_facts(&record).unwrap();
                assert_eq!((facts.queue_id, facts.queue_offset), (queue, offset));
                let body = body_of(&record);
                let seq = u64::from_be_bytes(body[..8].try_into().unwrap());
                assert_eq!(
                    record_for(seq),
                    (queue, body.to_vec()),
                    "record {seq} intact"
                );
                assert!(seen.insert(seq), "record {seq} appears twice");
                if let Some(physical) = acked.get(&seq) {
                    assert_eq!(*physical, range.physical_offset, "record {seq} moved");
                }
                let previous = last_physical.insert(queue, range.physical_offset);
                assert!(
                    previous.is_none_or(|p| p < range.physical_offset),
                    "queue order follows log order"
                );
                offset += 1;
            }
        }
    }
    for seq in acked.keys() {
        assert!(seen.contains(seq), "acknowledged record {seq} lost");
    }
    seen.len()
}

#[test]
fn acknowledged_records_survive_repeated_sigkill() {
    let cycles = std::env::var("RINGMQ_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CYCLES_DEFAULT);
    let seed = std::env::var("RINGMQ_CRASH_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0x5eed_u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let runtime = compio::runtime::Runtime::new().unwrap();
    let mut acked = HashMap::new();
    let mut present = 0;
    for run in 0..cycles as u64 {
        let early_kill = rng
            .gen_bool(0.15)
            .then(|| Duration::from_millis(rng.gen_range(0..30)));
        let acks_wanted = rng.gen_range(1..100);
        for (seq, physical) in run_child_and_kill(dir.path(), run, acks_wanted, early_kill) {
            acked.insert(seq, physical);
        }
        present = runtime.block_on(verify(dir.path(), &acked));
        assert!(present >= acked.len());
    }
    eprintln!(
        "{cycles} cycles, {} acknowledged, {present} present",
        acked.len()
    );
}
