//! Power loss: a bounded workload (single and batched appends to four
//! queues, commit-log segment rolls every ~25 records, consume-queue file
//! rolls every 4 units, key-index file rolls every 32 records, checkpoints,
//! a crash restart and a clean restart) runs under the power-loss model
//! (`ringmq_storage::fileio::power`). Power is cut before every file-system
//! operation it issues; each cut leaves three disk images (only what was
//! synced; synced plus a random mix of un-synced sectors, with garbage in
//! the commit log; directory entries as they were live but file contents
//! only as synced), and the store is reopened from each and checked:
//!
//! - every record served through a consume queue is whole (CRC, stamped
//!   offsets), is one that was sent, and is where its queue says;
//! - the surviving acknowledged records are a prefix of the log, and each
//!   is found by its key;
//! - sync flush: every acknowledged record survives, at its offsets;
//! - async flush: an acknowledged record is lost only if no completed
//!   flush covered it when power went (docs/architecture.md, "What an
//!   acknowledgement means": what the flusher has not synced yet);
//! - the reopened store takes a new record at the next queue offset.
//!
//! A third test reopens a store from such an image under a fresh model,
//! writes more and cuts again: recovery's own file changes must be durable
//! before the checkpoint that trusts them.
//!
//! `RINGMQ_POWER_LOSS_ROUNDS` (default 16) and
//! `RINGMQ_POWER_LOSS_SECOND_IMAGES` (default 6) make a longer run.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ringmq_net::record::RecordView;
use ringmq_storage::fileio::Io;
use ringmq_storage::fileio::power::{Cut, CutPlan, PowerLossModel, Variant};
use ringmq_storage::log_record::{dispatch_facts, encode_simple};
use ringmq_storage::{FlushMode, GetStatus, MessageStore, StoreConfig, WaitFor};

/// The queues written: three of one topic, one of another.
const QUEUES: [(&str, i32); 4] = [("PowerA", 0), ("PowerA", 1), ("PowerA", 2), ("PowerB", 0)];
/// Records of each batch append.
const BATCH_RECORDS: u64 = 3;
/// Async flush interval of the workload (the background flusher also runs).
const ASYNC_INTERVAL_MS: u64 = 50;
/// Ids of the probe records the checker appends after each reopen.
const PROBE_ID_BASE: u64 = 1 << 40;

/// A scratch directory, on tmpfs where there is one: the model decides
/// what is durable, so real fsyncs would only cost time.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(dir: &Path, sync: bool, io: Io) -> StoreConfig {
    let mut config = StoreConfig::new(dir);
    config.segment_bytes = 4096;
    config.cq_units_per_file = 4;
    config.cq_mapped_files_max = 2;
    config.key_index_slots = 5;
    config.key_index_entries = 64;
    // Checkpoints only where the workload asks for them.
    config.index_flush_interval_ms = 3_600_000;
    config.flush = if sync {
        FlushMode::Sync { timeout_ms: 60_000 }
    } else {
        FlushMode::Async {
            interval_ms: ASYNC_INTERVAL_MS,
        }
    };
    // Async runs write with pwrite, sync runs through io_uring.
    config.inline_write_bytes_max = if sync { 0 } else { 4096 };
    config.io = io;
    config
}

fn body(id: u64) -> Vec<u8> {
    let len = 40 + usize::try_from(id * 37 % 160).unwrap();
    (0..len)
        .map(|i| u8::try_from((id as usize * 31 + i) % 251).unwrap())
        .collect()
}

fn record(id: u64, (topic, queue): (&str, i32)) -> Vec<u8> {
    let props = format!("KEYS\u{1}k{id} g{}", id % 4);
    encode_simple(topic, queue, &body(id), &props)
}

/// One acknowledged record.
#[derive(Debug, Clone)]
struct Ack {
    id: u64,
    queue: (&'static str, i32),
    queue_offset: i64,
    physical_offset: i64,
    /// Local log offset after the record.
    end: u64,
    /// Operations the model had seen when the append returned: a cut
    /// before any later operation must keep the record (sync flush).
    op: u64,
    at: Instant,
}

/// What a workload did, for the checks.
#[derive(Debug, Default)]
struct History {
    /// Every record id sent, and its queue.
    sent: HashMap<u64, (&'static str, i32)>,
    acks: Vec<Ack>,
    /// (operations seen, flushed watermark read just before): every record
    /// below the watermark was synced by operations before that index.
    flushed: Vec<(u64, u64)>,
}

impl History {
    /// The flushed watermark a cut before operation `op` must keep.
    fn flushed_before(&self, op: u64) -> u64 {
        self.flushed
            .iter()
            .filter(|(seen, _)| *seen <= op)
            .map(|(_, flushed)| *flushed)
            .max()
            .unwrap_or(0)
    }
}

/// Drives a store under a model, recording acknowledgements.
struct Workload {
    dir: std::path::PathBuf,
    sync: bool,
    model: Arc<PowerLossModel>,
    store: Option<MessageStore>,
    next_id: u64,
    history: History,
}

impl Workload {
    async fn open(dir: &Path, sync: bool, plan: CutPlan, first_id: u64) -> Workload {
        let model = PowerLossModel::new(dir, Some(plan)).unwrap();
        let mut workload = Workload {
            dir: dir.to_path_buf(),
            sync,
            model,
            store: None,
            next_id: first_id,
            history: History::default(),
        };
        workload.reopen().await;
        workload
    }

    async fn reopen(&mut self) {
        let io = Io::with_hook(self.model.clone());
        let store = MessageStore::open(config(&self.dir, self.sync, io))
            .await
            .unwrap();
        self.store = Some(store);
    }

    fn store(&self) -> MessageStore {
        self.store.clone().unwrap()
    }

    fn sample_flushed(&mut self) {
        let flushed = self.store().flushed_offset();
        let op = self.model.ops();
        self.history.flushed.push((op, flushed));
    }

    fn take_id(&mut self, queue: (&'static str, i32)) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.history.sent.insert(id, queue);
        id
    }

    /// One append per queue of `queues`, concurrently (one queue each, so
    /// ids grow along every queue): single records, and a batch to the
    /// last queue (which one rotates with `round`).
    async fn round(&mut self, round: usize, queues: &[(&'static str, i32)]) {
        let store = self.store();
        let mut appends = Vec::new();
        for k in 0..queues.len() {
            let queue = queues[(round + k) % queues.len()];
            let count = if k + 1 == queues.len() {
                BATCH_RECORDS
            } else {
                1
            };
            let ids: Vec<u64> = (0..count).map(|_| self.take_id(queue)).collect();
            let (store, model) = (store.clone(), self.model.clone());
            appends.push(async move {
                let records = ids.iter().map(|id| record(*id, queue)).collect();
                let puts = store.put_batch(records, WaitFor::Flush).await.unwrap();
                let flushed = store.flushed_offset();
                let op = model.ops();
                let at = Instant::now();
                let acks: Vec<Ack> = ids
                    .iter()
                    .zip(puts)
                    .map(|(id, put)| Ack {
                        id: *id,
                        queue,
                        queue_offset: put.queue_offset,
                        physical_offset: put.physical_offset,
                        end: u64::try_from(put.physical_offset).unwrap()
                            + u64::from(put.wrote_bytes),
                        op,
                        at,
                    })
                    .collect();
                (acks, (op, flushed))
            });
        }
        for (acks, flushed) in futures::future::join_all(appends).await {
            self.history.acks.extend(acks);
            self.history.flushed.push(flushed);
        }
        self.sample_flushed();
    }

    /// The standard script: rounds with checkpoints (async: taken before
    /// the log is flushed), explicit flushes, a crash restart at a third and
    /// a clean restart at two thirds.
    async fn script(&mut self, rounds: usize, queues: &[(&'static str, i32)]) {
        for round in 0..rounds {
            self.round(round, queues).await;
            if round % 3 == 2 {
                self.store().flush_indexes().await.unwrap();
            }
            if round % 4 == 3 {
                self.store().flush().await.unwrap();
                self.sample_flushed();
            }
            if round == rounds / 3 {
                drop(self.store.take());
                self.reopen().await;
            }
            if round == 2 * rounds / 3 {
                self.store.take().unwrap().shutdown().await.unwrap();
                self.reopen().await;
            }
        }
    }

    /// Stops (as a crash) and returns the cuts plus one final image set.
    fn finish(mut self, variants: &[Variant]) -> (Vec<Cut>, History) {
        drop(self.store.take());
        let mut cuts = self.model.take_cuts();
        let op = self.model.ops();
        for variant in variants {
            cuts.push(Cut {
                op,
                at: Instant::now(),
                variant: *variant,
                image: self.model.image(*variant).unwrap(),
            });
        }
        (cuts, self.history)
    }
}

/// What one reopened image showed.
#[derive(Debug, Default)]
struct Outcome {
    /// Records present (acknowledged or not).
    present: usize,
    /// Acknowledged before the cut but gone.
    lost_acked: usize,
    /// Age at the cut of the oldest lost acknowledgement, ms.
    oldest_lost_ms: u128,
}

/// A present record: (queue offset, physical offset).
type Present = HashMap<u64, (i64, i64)>;

/// Reads every queue of `store` and checks each record served; returns
/// the records by id.
async fn read_all(
    store: &MessageStore,
    sent: &HashMap<u64, (&str, i32)>,
) -> Result<Present, String> {
    let mut present = Present::new();
    for (topic, queue) in QUEUES {
        let got = store.get_messages(topic, queue, 0, 100_000, u32::MAX, None);
        if got.max_offset == 0 {
            continue;
        }
        if got.status != GetStatus::Found || got.min_offset != 0 {
            return Err(format!(
                "{topic}/{queue}: {:?} from 0 (min {}, max {})",
                got.status, got.min_offset, got.max_offset
            ));
        }
        if got.records.len() as i64 != got.max_offset {
            return Err(format!(
                "{topic}/{queue}: {} records served for max offset {}",
                got.records.len(),
                got.max_offset
            ));
        }
        let mut last_id = None;
        for (i, range) in got.records.iter().enumerate() {
            let at = format!(
                "{topic}/{queue} offset {i} (physical {})",
                range.physical_offset
            );
            let bytes = store
                .read_record(range.physical_offset)
                .await
                .map_err(|err| format!("{at}: served a record that does not verify: {err}"))?;
            let view = RecordView::parse(&bytes).map_err(|err| format!("{at}: {err}"))?;
            let facts = dispatch_facts(&bytes).map_err(|err| format!("{at}: {err}"))?;
            let id: u64 = facts
                .keys
                .and_then(|keys| keys.split(' ').next())
                .and_then(|key| key.strip_prefix('k'))
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| format!("{at}: no id key"))?;
            let expected_queue = if id >= PROBE_ID_BASE {
                Some(&("PowerB", 0))
            } else {
                sent.get(&id)
            };
            let whole = bytes.len() == range.len as usize
                && (view.topic(), view.queue_id()) == (topic, queue)
                && view.queue_offset() == i as i64
                && range.queue_offset == i as i64
                && view.physical_offset() == range.physical_offset
                && expected_queue == Some(&(topic, queue))
                && (id >= PROBE_ID_BASE || view.body() == body(id).as_slice());
            if !whole {
                return Err(format!(
                    "{at}: served record {id} of {}/{} at queue offset {} is not the one sent there",
                    view.topic(),
                    view.queue_id(),
                    view.queue_offset()
                ));
            }
            if last_id.is_some_and(|last| last >= id) {
                return Err(format!("{at}: record {id} after record {last_id:?}"));
            }
            last_id = Some(id);
            if present
                .insert(id, (i as i64, range.physical_offset))
                .is_some()
            {
                return Err(format!("{at}: record {id} served twice"));
            }
        }
    }
    Ok(present)
}

/// Reopens the store from `cut` and checks it against `history` (plus
/// `durable`, records that were on disk before the workload began).
async fn check_cut(
    cut: &Cut,
    history: &History,
    durable: &[Ack],
    sync: bool,
) -> Result<Outcome, String> {
    let dir = scratch_dir();
    cut.image
        .write_to(dir.path())
        .map_err(|err| err.to_string())?;
    let store = MessageStore::open(config(dir.path(), sync, Io::default()))
        .await
        .map_err(|err| format!("recovery failed: {err}"))?;
    let present = read_all(&store, &history.sent).await?;
    let flushed = history.flushed_before(cut.op);
    let mut outcome = Outcome {
        present: present.len(),
        ..Outcome::default()
    };
    for ack in durable
        .iter()
        .chain(history.acks.iter().filter(|a| a.op <= cut.op))
    {
        let found = present.get(&ack.id);
        let required = sync || ack.end <= flushed || ack.op == 0;
        if found.is_none() {
            outcome.lost_acked += 1;
            outcome.oldest_lost_ms = outcome
                .oldest_lost_ms
                .max(cut.at.saturating_duration_since(ack.at).as_millis());
        }
        match found {
            Some(place) if *place != (ack.queue_offset, ack.physical_offset) => {
                return Err(format!(
                    "record {} moved: acknowledged at {:?}, found at {place:?}",
                    ack.id,
                    (ack.queue_offset, ack.physical_offset)
                ));
            }
            None if required => {
                let why = if sync {
                    "sync flush"
                } else {
                    "below the flushed watermark"
                };
                return Err(format!(
                    "acknowledged record {} lost ({why}, queue {:?} offset {})",
                    ack.id, ack.queue, ack.queue_offset
                ));
            }
            _ => {}
        }
    }
    // The surviving acknowledged records are a prefix of the log.
    let mut by_offset: Vec<&Ack> = durable.iter().chain(history.acks.iter()).collect();
    by_offset.sort_by_key(|a| a.physical_offset);
    if let Some(gap) = by_offset.iter().position(|a| !present.contains_key(&a.id))
        && let Some(later) = by_offset[gap..]
            .iter()
            .find(|a| present.contains_key(&a.id))
    {
        return Err(format!(
            "record {} survived but the earlier record {} did not",
            later.id, by_offset[gap].id
        ));
    }
    for (id, (_, physical)) in &present {
        let topic = history.sent.get(id).map_or("PowerB", |q| q.0);
        let found = store
            .query_keys(topic, &format!("k{id}"), 4, 0, i64::MAX)
            .await;
        if found != vec![*physical] {
            return Err(format!("key k{id}: found {found:?}, expected [{physical}]"));
        }
    }
    // The store goes on: the next record takes the next queue offset.
    let max = store.max_offset("PowerB", 0);
    let probe_id = PROBE_ID_BASE + cut.op;
    let put = store
        .put(record(probe_id, ("PowerB", 0)))
        .await
        .map_err(|err| format!("append after recovery: {err}"))?;
    if put.queue_offset != max {
        return Err(format!(
            "append after recovery at queue offset {}, max was {max}",
            put.queue_offset
        ));
    }
    let found = store
        .query_keys("PowerB", &format!("k{probe_id}"), 4, 0, i64::MAX)
        .await;
    if found != vec![put.physical_offset] {
        return Err(format!(
            "the record appended after recovery is not found by its key: {found:?}"
        ));
    }
    Ok(outcome)
}

/// Totals over the cuts of one run.
#[derive(Debug, Default)]
struct Report {
    recoveries: usize,
    failures: Vec<String>,
    max_lost_acked: usize,
    cuts_losing_acked: usize,
    oldest_lost_ms: u128,
    min_present: usize,
}

impl Report {
    async fn check_all(cuts: &[Cut], history: &History, durable: &[Ack], sync: bool) -> Report {
        let mut report = Report {
            min_present: usize::MAX,
            ..Report::default()
        };
        for cut in cuts {
            report.recoveries += 1;
            match check_cut(cut, history, durable, sync).await {
                Ok(outcome) => {
                    report.max_lost_acked = report.max_lost_acked.max(outcome.lost_acked);
                    report.cuts_losing_acked += usize::from(outcome.lost_acked > 0);
                    report.oldest_lost_ms = report.oldest_lost_ms.max(outcome.oldest_lost_ms);
                    report.min_present = report.min_present.min(outcome.present);
                }
                Err(err) => report.failures.push(format!(
                    "cut before op {} ({:?}): {err}",
                    cut.op, cut.variant
                )),
            }
        }
        report
    }

    fn print(&self, what: &str, ops: u64, acked: usize) {
        println!(
            "power loss, {what}: {ops} ops, {} recoveries from cut images, {acked} records acknowledged; \
             failures {}; acknowledged records lost: at most {} per cut, at {} cuts, the oldest {} ms before its cut",
            self.recoveries,
            self.failures.len(),
            self.max_lost_acked,
            self.cuts_losing_acked,
            self.oldest_lost_ms,
        );
        for failure in self.failures.iter().take(10) {
            println!("  {failure}");
        }
    }
}

const ALL_VARIANTS: [Variant; 3] = [
    Variant::Durable,
    Variant::Torn { seed: 13 },
    Variant::NamesLive,
];

async fn run_and_check(sync: bool) -> (Report, u64, usize) {
    let dir = scratch_dir();
    let plan = CutPlan {
        every: 1,
        variants: ALL_VARIANTS.to_vec(),
    };
    let mut workload = Workload::open(dir.path(), sync, plan, 0).await;
    workload
        .script(env_or("RINGMQ_POWER_LOSS_ROUNDS", 16), &QUEUES)
        .await;
    let ops = workload.model.ops();
    let (cuts, history) = workload.finish(&ALL_VARIANTS);
    let report = Report::check_all(&cuts, &history, &[], sync).await;
    (report, ops, history.acks.len())
}

#[compio::test]
async fn sync_flush_keeps_every_acknowledged_record_at_every_cut() {
    let (report, ops, acked) = run_and_check(true).await;
    report.print("sync flush", ops, acked);
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert_eq!(report.max_lost_acked, 0);
    assert!(report.recoveries as u64 > ops);
}

#[compio::test]
async fn async_flush_loses_only_what_no_completed_flush_covered() {
    let (report, ops, acked) = run_and_check(false).await;
    report.print(
        &format!("async flush every {ASYNC_INTERVAL_MS} ms"),
        ops,
        acked,
    );
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.recoveries as u64 > ops);
}

/// Power is lost, the store recovers from what survived, takes more
/// records (first only to one queue, so queues whose files recovery cut
/// stay quiet while checkpoints move on), and loses power again.
#[compio::test]
async fn a_second_power_loss_after_recovery_keeps_what_recovery_found() {
    // The first run: async flush, checkpoints ahead of the flushed log.
    let first = scratch_dir();
    let plan = CutPlan {
        every: 1,
        variants: vec![Variant::Durable],
    };
    let mut workload = Workload::open(first.path(), false, plan, 0).await;
    workload
        .script(env_or("RINGMQ_POWER_LOSS_ROUNDS", 16), &QUEUES)
        .await;
    let next_id = workload.next_id;
    let (first_cuts, first_history) = workload.finish(&[]);
    let images = env_or("RINGMQ_POWER_LOSS_SECOND_IMAGES", 6);
    let step = (first_cuts.len() / images.max(1)).max(1);
    let mut total = Report::default();
    let mut ops_total = 0;
    let mut acked_total = 0;
    for (n, cut) in first_cuts
        .iter()
        .skip(step / 2)
        .step_by(step)
        .take(images)
        .enumerate()
    {
        let dir = scratch_dir();
        cut.image.write_to(dir.path()).unwrap();
        let plan = CutPlan {
            every: 1,
            variants: vec![Variant::Durable, Variant::Torn { seed: n as u64 }],
        };
        let mut workload = Workload::open(dir.path(), true, plan, next_id).await;
        workload
            .history
            .sent
            .extend(first_history.sent.iter().map(|(k, v)| (*k, *v)));
        // What recovery found is durable: a later cut must keep it.
        let survivors: Vec<Ack> = read_all(&workload.store(), &first_history.sent)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, (queue_offset, physical_offset))| Ack {
                id,
                queue: first_history.sent[&id],
                queue_offset,
                physical_offset,
                end: 0,
                op: 0,
                at: Instant::now(),
            })
            .collect();
        let quiet: HashSet<(&str, i32)> = HashSet::from([("PowerB", 0)]);
        let one_queue: Vec<(&'static str, i32)> = QUEUES
            .iter()
            .copied()
            .filter(|q| quiet.contains(q))
            .collect();
        for round in 0..4 {
            workload.round(round, &one_queue).await;
        }
        workload.store().flush_indexes().await.unwrap();
        for round in 0..4 {
            workload.round(round, &QUEUES).await;
        }
        workload.store().flush_indexes().await.unwrap();
        ops_total += workload.model.ops();
        let (cuts, history) = workload.finish(&[Variant::Durable]);
        acked_total += history.acks.len();
        let report = Report::check_all(&cuts, &history, &survivors, true).await;
        total.recoveries += report.recoveries;
        total.failures.extend(
            report
                .failures
                .into_iter()
                .map(|f| format!("image {n} (first run's cut before op {}): {f}", cut.op)),
        );
        total.max_lost_acked = total.max_lost_acked.max(report.max_lost_acked);
    }
    total.print(
        &format!("second loss after recovery from {images} cut images, sync flush"),
        ops_total,
        acked_total,
    );
    assert!(total.failures.is_empty(), "{:#?}", total.failures);
    assert_eq!(total.max_lost_acked, 0);
}
