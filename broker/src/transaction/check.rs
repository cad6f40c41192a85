//! The check-back service (Java `TransactionalMessageCheckService` +
//! `TransactionalMessageServiceImpl.check`): every
//! `transaction_check_interval_ms` it scans the half queue forward and asks
//! the producer group of each half still without an outcome, once it is
//! older than `transaction_timeout_ms` (or its own
//! `CHECK_IMMUNITY_TIME_IN_SECONDS`), by CHECK_TRANSACTION_STATE.
//!
//! # Progress
//!
//! As in Java, progress is two consumer offsets of the system group
//! [`CHECK_GROUP`]: on the half queue (the first half not yet passed) and on
//! the op queue (the first op record still needed). A scan reads a bounded
//! window of op records ([`OP_WINDOW_MAX`]) to skip halves resolved in
//! bulk, and looks a half up on disk (key index, [`resolve::has_outcome`])
//! before checking or discarding it, so memory stays bounded however many
//! halves are pending. Offsets are persisted with the other consumer
//! offsets; after a crash a scan may revisit halves it had passed, which is
//! harmless (their outcomes are found on disk).
//!
//! # A check
//!
//! The half is re-appended with `TRANSACTION_CHECK_TIMES` raised (so the
//! count survives restarts, as in Java), and the new copy is sent to a live
//! producer connection of its group. A half checked `transaction_check_max`
//! times is copied to `TRANS_CHECK_MAX_TIME_TOPIC` and rolled back.
//! A scan sends at most [`CHECKS_PER_SCAN_MAX`] checks, pausing
//! [`CHECK_SPREAD_PAUSE_MS`] after every [`CHECK_SPREAD_EVERY`], and visits
//! at most [`HALVES_PER_SCAN_MAX`] halves: a backlog is worked off over
//! several scans, not in one storm.
//!
//! The service runs on the shard that owns the half queue.

use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::CheckTransactionStateRequestHeader;
use ringmq_net::record::MessageRecord;
use ringmq_net::topic::{TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};
use ringmq_storage::GetStatus;

use super::half::HalfCopy;
use super::resolve::{self, Outcome};
use super::{CHECK_GROUP, HALF_QUEUE_ID, op};
use crate::outbound::Outbound;
use crate::shard::{Shard, owner_of};
use crate::state::lock;
use crate::store::PullJob;

/// Halves read from the half queue at a time.
pub const HALF_BATCH: u32 = 32;
/// Op records read at a time.
pub const OP_BATCH: u32 = 256;
/// Op records one scan keeps in memory.
pub const OP_WINDOW_MAX: usize = 4_096;
/// Halves one scan visits.
pub const HALVES_PER_SCAN_MAX: usize = 100_000;
/// Checks one scan sends.
pub const CHECKS_PER_SCAN_MAX: usize = 2_000;
/// Checks sent between two pauses of a scan.
pub const CHECK_SPREAD_EVERY: usize = 100;
/// The pause, so a backlog's checks reach producers spread out.
pub const CHECK_SPREAD_PAUSE_MS: u64 = 50;
/// Bytes read from a queue at a time.
const READ_BYTES_MAX: u32 = 4 * 1024 * 1024;

/// Whether the service runs on shard `id` of `shards`.
pub fn runs_on(id: usize, shards: usize) -> bool {
    owner_of(TRANS_HALF_TOPIC, HALF_QUEUE_ID, shards) == id
}

/// Scans every `transaction_check_interval_ms` until the broker stops.
pub async fn run(shard: Rc<Shard>) {
    let interval = Duration::from_millis(shard.state.config.transaction_check_interval_ms.max(1));
    loop {
        compio::time::sleep(interval).await;
        if shard.state.is_shutting_down() {
            return;
        }
        let report = scan(&shard).await;
        if report.checks > 0 || report.discarded > 0 {
            tracing::info!(?report, "transaction check scan");
        } else {
            tracing::debug!(?report, "transaction check scan");
        }
    }
}

/// What one scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    /// Halves looked at.
    pub visited: usize,
    /// CHECK_TRANSACTION_STATE sent (or attempted, when no producer was there).
    pub checks: usize,
    /// Halves moved to `TRANS_CHECK_MAX_TIME_TOPIC` and rolled back.
    pub discarded: usize,
    /// The half offset the next scan starts at.
    pub half_offset: i64,
    /// The op offset the next scan starts at.
    pub op_offset: i64,
}

enum Step {
    /// The half is dealt with; go on with the next.
    Next,
    /// Stop here; the next scan starts with this half.
    Stop,
}

/// One pass over the half queue.
pub async fn scan(shard: &Rc<Shard>) -> ScanReport {
    let started = crate::clock::now_ms();
    let (mut half_at, op_at) = progress(shard);
    let ops = OpWindow::load(shard, op_at).await;
    let mut report = ScanReport::default();
    let mut pending: VecDeque<MessageRecord> = VecDeque::new();
    let mut read_at = half_at;
    while report.visited < HALVES_PER_SCAN_MAX {
        let Some(record) = pending.pop_front() else {
            let batch = read(shard, TRANS_HALF_TOPIC, read_at, HALF_BATCH).await;
            if batch.records.is_empty() && batch.next <= read_at {
                break;
            }
            if batch.records.is_empty() {
                half_at = batch.next;
            }
            read_at = batch.next;
            pending.extend(batch.records);
            continue;
        };
        let offset = record.queue_offset;
        report.visited += 1;
        match step(shard, &ops, record, started, &mut report).await {
            Step::Next => half_at = offset.saturating_add(1),
            Step::Stop => break,
        }
    }
    report.half_offset = half_at;
    report.op_offset = ops.advance(half_at);
    if (report.half_offset, report.op_offset) != progress(shard) {
        let mut offsets = lock(&shard.state.offsets);
        offsets.commit(
            CHECK_GROUP,
            TRANS_HALF_TOPIC,
            HALF_QUEUE_ID,
            report.half_offset,
        );
        offsets.commit(
            CHECK_GROUP,
            TRANS_OP_HALF_TOPIC,
            HALF_QUEUE_ID,
            report.op_offset,
        );
    }
    report
}

fn progress(shard: &Rc<Shard>) -> (i64, i64) {
    let offsets = lock(&shard.state.offsets);
    let half = offsets.query(CHECK_GROUP, TRANS_HALF_TOPIC, HALF_QUEUE_ID);
    let op = offsets.query(CHECK_GROUP, TRANS_OP_HALF_TOPIC, HALF_QUEUE_ID);
    (half.unwrap_or(0).max(0), op.unwrap_or(0).max(0))
}

async fn step(
    shard: &Rc<Shard>,
    ops: &OpWindow,
    record: MessageRecord,
    started: i64,
    report: &mut ScanReport,
) -> Step {
    if ops.copies.contains(&record.queue_offset) {
        return Step::Next;
    }
    if record.store_timestamp >= started {
        return Step::Stop;
    }
    let copy = match HalfCopy::new(record) {
        Ok(copy) => copy,
        Err(err) => {
            tracing::warn!(%err, "skipping a record of the half queue that is not a usable half");
            return Step::Next;
        }
    };
    if ops.identities.contains(&copy.identity) {
        return Step::Next;
    }
    let config = &shard.state.config;
    let age = crate::clock::now_ms().saturating_sub(copy.record.born_timestamp);
    let timeout = i64::try_from(config.transaction_timeout_ms).unwrap_or(i64::MAX);
    let immunity = copy.immunity_ms().unwrap_or(timeout);
    if (0..immunity).contains(&age) {
        return immune(shard, &copy).await;
    }
    match resolve::has_outcome(shard, &copy).await {
        Ok(true) => return Step::Next,
        Ok(false) => {}
        Err(err) => {
            tracing::debug!(identity = copy.identity, %err, "half not checked this scan");
            return Step::Stop;
        }
    }
    if copy.check_times >= i64::from(config.transaction_check_max) {
        return discard(shard, &copy, report).await;
    }
    if report.checks >= CHECKS_PER_SCAN_MAX {
        return Step::Stop;
    }
    check(shard, &copy, report).await
}

/// A half still within its immunity: one with its own immunity is put back
/// (so it does not hold up the halves behind it, as Java does); the scan
/// stops at one within the broker-wide timeout (all behind it are younger).
async fn immune(shard: &Rc<Shard>, copy: &HalfCopy) -> Step {
    if copy.immunity_ms().is_none() {
        return Step::Stop;
    }
    match resolve::put(shard, copy.kept(), "the immune half put back").await {
        Ok(_) => Step::Next,
        Err(err) => {
            tracing::warn!(identity = copy.identity, %err, "cannot put an immune half back");
            Step::Stop
        }
    }
}

async fn discard(shard: &Rc<Shard>, copy: &HalfCopy, report: &mut ScanReport) -> Step {
    match resolve::resolve(shard, copy, Outcome::Discard).await {
        Ok(resolution) => {
            tracing::warn!(
                identity = copy.identity,
                group = %copy.group,
                topic = %copy.real_topic,
                checks = copy.check_times,
                ?resolution,
                "transaction checked the maximum number of times without an answer: \
                 moved to TRANS_CHECK_MAX_TIME_TOPIC and rolled back"
            );
            report.discarded += 1;
            Step::Next
        }
        Err(err) => {
            tracing::warn!(identity = copy.identity, %err, "cannot discard a half");
            Step::Stop
        }
    }
}

async fn check(shard: &Rc<Shard>, copy: &HalfCopy, report: &mut ScanReport) -> Step {
    let mut renewed = copy.renewed();
    match resolve::put(shard, renewed.clone(), "the re-appended half").await {
        Ok((physical, queue)) => {
            renewed.physical_offset = physical;
            renewed.queue_offset = queue;
        }
        Err(err) => {
            tracing::warn!(identity = copy.identity, %err, "cannot re-append a half to check it");
            return Step::Stop;
        }
    }
    match HalfCopy::new(renewed) {
        Ok(renewed) => send_check(shard, &renewed),
        Err(err) => tracing::warn!(%err, "the re-appended half is unusable"),
    }
    report.checks += 1;
    if report.checks.is_multiple_of(CHECK_SPREAD_EVERY) {
        compio::time::sleep(Duration::from_millis(CHECK_SPREAD_PAUSE_MS)).await;
    }
    Step::Next
}

/// Posts CHECK_TRANSACTION_STATE for `copy` to a producer of its group
/// (Java `Broker2Client.checkProducerTransactionState`).
fn send_check(shard: &Rc<Shard>, copy: &HalfCopy) {
    let state = &shard.state;
    let Some(body) = copy.check_body() else {
        tracing::warn!(
            identity = copy.identity,
            "the half cannot be encoded for a check"
        );
        return;
    };
    let uniq = copy.uniq_key().map(str::to_owned);
    let header = CheckTransactionStateRequestHeader {
        tran_state_table_offset: copy.record.queue_offset,
        commit_log_offset: copy.record.physical_offset,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(crate::message::offset_msg_id(
            state.store_host,
            copy.record.physical_offset,
        )),
        bname: None,
    };
    let mut command = RemotingCommand::request(request::CHECK_TRANSACTION_STATE)
        .with_header(&header)
        .with_body(body);
    command.set_oneway();
    let channel = lock(&state.clients)
        .producer_channel(&copy.group)
        .map(|c| c.outbound.clone());
    let Some(outbound) = channel else {
        tracing::warn!(group = %copy.group, identity = copy.identity, "no producer of the group is connected; check not sent");
        return;
    };
    let posted = Outbound::command(&command).is_some_and(|frame| outbound.try_post(frame));
    if !posted {
        tracing::warn!(group = %copy.group, identity = copy.identity, "the producer's connection is full or gone; check not sent");
    }
}

/// Op records read at the start of a scan.
struct OpWindow {
    /// (op queue offset, half copy offset it resolves) in queue order.
    entries: Vec<(i64, Option<i64>)>,
    copies: BTreeSet<i64>,
    identities: BTreeSet<i64>,
    /// Where the window starts (after skipping deleted records).
    start: i64,
}

impl OpWindow {
    async fn load(shard: &Rc<Shard>, from: i64) -> OpWindow {
        let mut window = OpWindow {
            entries: Vec::new(),
            copies: BTreeSet::new(),
            identities: BTreeSet::new(),
            start: from,
        };
        let mut at = from;
        while window.entries.len() < OP_WINDOW_MAX {
            let batch = read(shard, TRANS_OP_HALF_TOPIC, at, OP_BATCH).await;
            if batch.records.is_empty() && batch.next <= at {
                break;
            }
            if batch.records.is_empty() && window.entries.is_empty() {
                window.start = batch.next;
            }
            at = batch.next;
            for record in batch.records {
                let copy = op::decode_body(&record.body).ok();
                if let Some(copy) = copy {
                    window.copies.insert(copy);
                }
                if let Some(identity) = op::identity_of(&record.properties) {
                    window.identities.insert(identity);
                }
                window.entries.push((record.queue_offset, copy));
            }
        }
        window
    }

    /// The op offset to keep: past every leading op whose half copy is
    /// behind `half_at` (or that names none).
    fn advance(&self, half_at: i64) -> i64 {
        let mut at = self.start;
        for (op_offset, copy) in &self.entries {
            if copy.is_some_and(|c| c >= half_at) {
                break;
            }
            at = op_offset.saturating_add(1);
        }
        at
    }
}

/// Records read from a queue, and the offset to read from next.
struct Batch {
    records: Vec<MessageRecord>,
    next: i64,
}

/// Reads up to `max` records of `topic` queue 0 from `offset` (any shard).
/// A gap (deleted or too old records) moves `next` past it; the end of the
/// queue leaves `next` at `offset`.
async fn read(shard: &Rc<Shard>, topic: &str, offset: i64, max: u32) -> Batch {
    let outcome = shard
        .pull(PullJob {
            topic: topic.to_owned(),
            queue_id: HALF_QUEUE_ID,
            offset,
            max_count: max,
            max_bytes: READ_BYTES_MAX,
            tags: None,
            hold_ms: None,
        })
        .await;
    let mut batch = Batch {
        records: Vec::new(),
        next: offset,
    };
    match outcome.status {
        Some(GetStatus::Found) => batch.next = outcome.next_begin_offset.max(offset),
        Some(
            GetStatus::OffsetTooSmall
            | GetStatus::OffsetFoundNull
            | GetStatus::MessageWasRemoving
            | GetStatus::NoMatchedMessage,
        ) => {
            batch.next = outcome.next_begin_offset.max(offset);
            return batch;
        }
        _ => return batch,
    }
    for range in &outcome.ranges {
        let chunk = shard
            .maps
            .borrow_mut()
            .chunk(&range.path, range.position, range.len);
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                tracing::warn!(%err, topic, "cannot read a transaction queue");
                batch.next = batch.records.last().map_or(offset, |r| r.queue_offset + 1);
                return batch;
            }
        };
        let mut rest = chunk.as_slice();
        while !rest.is_empty() {
            let Ok((record, used)) = MessageRecord::decode(rest) else {
                tracing::warn!(topic, "a transaction queue record does not decode; skipped");
                break;
            };
            batch.records.push(record);
            rest = rest.get(used..).unwrap_or_default();
        }
    }
    batch
}
