//! The POP bookkeeping of one shard, in memory: for every
//! (group, topic, queue) the shard owns, how far it was popped (the
//! *frontier*) and the checkpoints of popped messages not yet acked or
//! revived. Pure state, no I/O: every change returns the [`LogRecord`]s
//! that make it durable, and [`PopBook::apply`] rebuilds the book from
//! those records at start-up ([`super::journal`]).
//!
//! Lives on the shard that owns the queues (`RefCell` in
//! [`super::ShardPop`], never borrowed across an `.await`).
//!
//! # Invariants
//!
//! - Every offset below a queue's frontier is *done* (acked, revived or
//!   filtered out) unless a live checkpoint of that queue covers it with
//!   its pending bit set.
//! - The group's consumed offset is therefore
//!   `min(frontier, start of the queue's first live checkpoint)`.
//! - Memory is one entry per queue plus one per live checkpoint (at most
//!   `pop_checkpoints_max`, each covering at most
//!   [`CHECKPOINT_SPAN_MAX`] offsets): nothing grows with the backlog.

use std::collections::{BTreeSet, HashMap};

use super::log::{CHECKPOINT_SPAN_MAX, Checkpoint, LogRecord};

/// One queue of one group, as the POP state knows it (`topic` is the
/// queue's real topic: a POP retry topic for redelivered messages).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueKey {
    pub group: String,
    pub topic: String,
    pub queue_id: i32,
}

impl QueueKey {
    pub fn new(group: &str, topic: &str, queue_id: i32) -> QueueKey {
        QueueKey {
            group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id,
        }
    }

    fn of(ck: &Checkpoint) -> QueueKey {
        QueueKey::new(&ck.group, &ck.topic, ck.queue_id)
    }
}

#[derive(Debug, Default)]
struct Cursor {
    /// Next offset to pop.
    frontier: i64,
    /// Live checkpoints of this queue: (start offset, id).
    live: BTreeSet<(i64, u64)>,
}

/// What a FIFO pop may do with a queue now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FifoTurn {
    /// Nothing handed out is waiting: pop new messages.
    Free,
    /// A handed-out message is still invisible: the queue is blocked.
    Blocked,
    /// This checkpoint's invisible time passed unacked: hand its pending
    /// messages out again, in order.
    Expired(Checkpoint),
}

/// A new checkpoint to create ([`PopBook::add`]).
#[derive(Debug, Clone)]
pub struct NewCheckpoint {
    pub pop_time: i64,
    pub invisible_time: i64,
    pub fifo: bool,
    pub attempts: i32,
    /// Queue offsets handed out, ascending, spanning at most
    /// [`CHECKPOINT_SPAN_MAX`] offsets.
    pub offsets: Vec<i64>,
}

/// Why a checkpoint cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error("the shard holds {0} unacked pop checkpoints, the pop_checkpoints_max limit")]
    Full(usize),
    #[error("the offsets handed out are empty, unordered or span more than {CHECKPOINT_SPAN_MAX}")]
    Span,
}

/// The POP state of one shard (see the module doc).
#[derive(Debug)]
pub struct PopBook {
    cursors: HashMap<QueueKey, Cursor>,
    checkpoints: HashMap<u64, Checkpoint>,
    /// (deadline, id) of live checkpoints the revive task handles (not FIFO).
    deadlines: BTreeSet<(i64, u64)>,
    /// Checkpoints whose revival (or FIFO dead-lettering) is under way.
    reviving: std::collections::HashSet<u64>,
    next_id: u64,
    checkpoints_max: usize,
}

impl PopBook {
    pub fn new(checkpoints_max: usize) -> PopBook {
        PopBook {
            cursors: HashMap::new(),
            checkpoints: HashMap::new(),
            deadlines: BTreeSet::new(),
            reviving: std::collections::HashSet::new(),
            next_id: 1,
            checkpoints_max,
        }
    }

    /// Live checkpoints.
    pub fn live(&self) -> usize {
        self.checkpoints.len()
    }

    /// Queues with POP state.
    pub fn queues(&self) -> usize {
        self.cursors.len()
    }

    /// Replays one record of the log (see [`super::log`]).
    pub fn apply(&mut self, record: &LogRecord) {
        match record {
            LogRecord::Checkpoint(ck) => {
                self.advance_to(&QueueKey::of(ck), ck.start_offset + i64::from(ck.count));
                self.next_id = self.next_id.max(ck.id.saturating_add(1));
                if ck.count > 0 && ck.pending != 0 {
                    self.insert(ck.clone());
                }
            }
            LogRecord::Ack { id, bit } => {
                let _ = self.clear_bit(*id, *bit);
            }
            LogRecord::Done { id } => {
                let _ = self.remove(*id);
            }
        }
    }

    /// Next offset to pop of a queue, if it has POP state.
    pub fn frontier(&self, key: &QueueKey) -> Option<i64> {
        self.cursors.get(key).map(|c| c.frontier)
    }

    /// The group's consumed offset of a queue: everything below is done.
    pub fn consumed(&self, key: &QueueKey) -> Option<i64> {
        let cursor = self.cursors.get(key)?;
        let first = cursor.live.first().map_or(i64::MAX, |(start, _)| *start);
        Some(cursor.frontier.min(first))
    }

    /// Moves a queue's frontier forward to `offset` (creating its state);
    /// the record to log when it moved.
    pub fn advance(&mut self, key: &QueueKey, offset: i64) -> Option<LogRecord> {
        let moved = self.frontier(key).is_none_or(|f| offset > f);
        self.advance_to(key, offset);
        moved.then(|| frontier_record(key, offset))
    }

    fn advance_to(&mut self, key: &QueueKey, offset: i64) {
        match self.cursors.get_mut(key) {
            Some(cursor) => cursor.frontier = cursor.frontier.max(offset),
            None => {
                self.cursors.insert(
                    key.clone(),
                    Cursor {
                        frontier: offset,
                        live: BTreeSet::new(),
                    },
                );
            }
        }
    }

    /// Records a pop of `new.offsets` from `key` and moves the frontier to
    /// at least `frontier`; the checkpoint to log.
    pub fn add(
        &mut self,
        key: &QueueKey,
        new: NewCheckpoint,
        frontier: i64,
    ) -> Result<Checkpoint, AddError> {
        if self.checkpoints.len() >= self.checkpoints_max {
            return Err(AddError::Full(self.checkpoints.len()));
        }
        self.add_unbounded(key, new, frontier)
    }

    /// [`PopBook::add`] without the limit: for a checkpoint that replaces
    /// offsets already handed out (FIFO redelivery, a changed invisible
    /// time), which never adds messages to the ones out.
    pub fn add_unbounded(
        &mut self,
        key: &QueueKey,
        new: NewCheckpoint,
        frontier: i64,
    ) -> Result<Checkpoint, AddError> {
        let (Some(&start), Some(&last)) = (new.offsets.first(), new.offsets.last()) else {
            return Err(AddError::Span);
        };
        let span = last.checked_sub(start).and_then(|d| d.checked_add(1));
        let count = span
            .and_then(|s| u8::try_from(s).ok())
            .filter(|c| *c <= CHECKPOINT_SPAN_MAX)
            .ok_or(AddError::Span)?;
        let mut pending = 0u32;
        let mut previous = None;
        for offset in &new.offsets {
            if previous.is_some_and(|p| p >= *offset) {
                return Err(AddError::Span);
            }
            previous = Some(*offset);
            // offset - start < count <= 32.
            pending |= 1u32 << (offset - start);
        }
        let ck = Checkpoint {
            id: self.next_id,
            pop_time: new.pop_time,
            invisible_time: new.invisible_time,
            queue_id: key.queue_id,
            start_offset: start,
            count,
            pending,
            fifo: new.fifo,
            attempts: new.attempts,
            group: key.group.clone(),
            topic: key.topic.clone(),
        };
        self.next_id += 1;
        self.advance_to(key, frontier.max(start + i64::from(count)));
        self.insert(ck.clone());
        Ok(ck)
    }

    fn insert(&mut self, ck: Checkpoint) {
        let key = QueueKey::of(&ck);
        self.advance_to(&key, ck.start_offset + i64::from(ck.count));
        if let Some(cursor) = self.cursors.get_mut(&key) {
            cursor.live.insert((ck.start_offset, ck.id));
        }
        if !ck.fifo {
            self.deadlines.insert((ck.deadline(), ck.id));
        }
        self.checkpoints.insert(ck.id, ck);
    }

    /// Forgets a checkpoint (done: acked, revived or replaced).
    pub fn remove(&mut self, id: u64) -> Option<Checkpoint> {
        let ck = self.checkpoints.remove(&id)?;
        self.deadlines.remove(&(ck.deadline(), id));
        self.reviving.remove(&id);
        if let Some(cursor) = self.cursors.get_mut(&QueueKey::of(&ck)) {
            cursor.live.remove(&(ck.start_offset, id));
        }
        Some(ck)
    }

    /// Clears one pending bit; `Some(true)` when that finished the
    /// checkpoint (it is removed), `None` when the bit was not pending.
    fn clear_bit(&mut self, id: u64, bit: u8) -> Option<bool> {
        let ck = self.checkpoints.get_mut(&id)?;
        let mask = 1u32.checked_shl(u32::from(bit))?;
        if ck.pending & mask == 0 {
            return None;
        }
        ck.pending &= !mask;
        let finished = ck.pending == 0;
        if finished {
            self.remove(id);
        }
        Some(finished)
    }

    /// The live checkpoint of `key` that handed out `offset` at
    /// `pop_time` from a checkpoint starting at `ck_start` (what a receipt
    /// names), with the offset still pending: (id, bit).
    pub fn find(
        &self,
        key: &QueueKey,
        ck_start: i64,
        pop_time: i64,
        offset: i64,
    ) -> Option<(u64, u8)> {
        let cursor = self.cursors.get(key)?;
        cursor
            .live
            .range((ck_start, 0)..=(ck_start, u64::MAX))
            .filter_map(|(_, id)| self.checkpoints.get(id))
            .filter(|ck| ck.pop_time == pop_time)
            .find_map(|ck| {
                let bit = u8::try_from(offset.checked_sub(ck.start_offset)?).ok()?;
                let pending = bit < ck.count && ck.pending & (1u32 << bit) != 0;
                pending.then_some((ck.id, bit))
            })
    }

    /// A live checkpoint by id.
    pub fn get(&self, id: u64) -> Option<&Checkpoint> {
        self.checkpoints.get(&id)
    }

    /// Acks offset `start + bit` of checkpoint `id`: the record to log and
    /// whether the checkpoint is finished. `None` if it was not pending.
    pub fn ack(&mut self, id: u64, bit: u8) -> Option<(LogRecord, bool)> {
        let finished = self.clear_bit(id, bit)?;
        Some((LogRecord::Ack { id, bit }, finished))
    }

    /// Whether a FIFO pop of `key` may hand out new messages at `now_ms`.
    pub fn fifo_turn(&self, key: &QueueKey, now_ms: i64) -> FifoTurn {
        let Some(cursor) = self.cursors.get(key) else {
            return FifoTurn::Free;
        };
        let mut expired = None;
        for (_, id) in &cursor.live {
            let Some(ck) = self.checkpoints.get(id) else {
                continue;
            };
            if ck.deadline() > now_ms || self.reviving.contains(id) {
                return FifoTurn::Blocked;
            }
            expired = expired.or(Some(ck));
        }
        expired.map_or(FifoTurn::Free, |ck| FifoTurn::Expired(ck.clone()))
    }

    /// Marks at most `max` checkpoints (not FIFO) whose invisible time
    /// ended by `now_ms` as being revived, and returns their ids. They stay
    /// in the book (holding the consumed offset back, acks still apply)
    /// until [`PopBook::end_revival`] or [`PopBook::abort_revival`].
    pub fn take_due(&mut self, now_ms: i64, max: usize) -> Vec<u64> {
        let due: Vec<(i64, u64)> = self
            .deadlines
            .iter()
            .take_while(|(deadline, _)| *deadline <= now_ms)
            .take(max)
            .copied()
            .collect();
        for entry in &due {
            self.deadlines.remove(entry);
            self.reviving.insert(entry.1);
        }
        due.into_iter().map(|(_, id)| id).collect()
    }

    /// Marks a FIFO checkpoint as being sent to the dead-letter queue
    /// (pops of its queue are blocked meanwhile).
    pub fn begin_revival(&mut self, id: u64) -> bool {
        self.checkpoints.contains_key(&id) && self.reviving.insert(id)
    }

    /// A revival finished: the checkpoint is done.
    pub fn end_revival(&mut self, id: u64) -> Option<Checkpoint> {
        self.reviving.remove(&id);
        self.remove(id)
    }

    /// A revival failed: the checkpoint is due again at `retry_at_ms`
    /// (in memory only: after a restart it is due at once).
    pub fn abort_revival(&mut self, id: u64, retry_at_ms: i64) {
        self.reviving.remove(&id);
        if let Some(ck) = self.checkpoints.get_mut(&id) {
            ck.invisible_time = retry_at_ms.saturating_sub(ck.pop_time).max(0);
            if !ck.fifo {
                self.deadlines.insert((ck.deadline(), id));
            }
        }
    }

    /// The records that rebuild this book (compaction): each queue's
    /// frontier, then every live checkpoint with its current pending bits.
    pub fn snapshot(&self) -> Vec<LogRecord> {
        let mut out = Vec::with_capacity(self.cursors.len() + self.checkpoints.len());
        let mut keys: Vec<&QueueKey> = self.cursors.keys().collect();
        keys.sort();
        for key in keys {
            let Some(cursor) = self.cursors.get(key) else {
                continue;
            };
            out.push(frontier_record(key, cursor.frontier));
            for (_, id) in &cursor.live {
                if let Some(ck) = self.checkpoints.get(id) {
                    out.push(LogRecord::Checkpoint(ck.clone()));
                }
            }
        }
        out
    }

    /// Every queue with POP state and its consumed offset.
    pub fn consumed_offsets(&self) -> Vec<(QueueKey, i64)> {
        self.cursors
            .keys()
            .filter_map(|key| Some((key.clone(), self.consumed(key)?)))
            .collect()
    }
}

/// The queue offsets whose bits are set in `ck.pending`, ascending.
pub fn pending_offsets(ck: &Checkpoint) -> Vec<i64> {
    (0..ck.count.min(CHECKPOINT_SPAN_MAX))
        .filter(|bit| ck.pending & (1u32 << bit) != 0)
        .map(|bit| ck.start_offset + i64::from(bit))
        .collect()
}

/// The record of a queue's frontier alone (a checkpoint covering nothing).
fn frontier_record(key: &QueueKey, offset: i64) -> LogRecord {
    LogRecord::Checkpoint(Checkpoint {
        id: 0,
        pop_time: 0,
        invisible_time: 0,
        queue_id: key.queue_id,
        start_offset: offset,
        count: 0,
        pending: 0,
        fifo: false,
        attempts: 0,
        group: key.group.clone(),
        topic: key.topic.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> QueueKey {
        QueueKey::new("g", "t", 0)
    }

    fn pop(book: &mut PopBook, offsets: &[i64], frontier: i64, fifo: bool) -> Checkpoint {
        book.add(
            &key(),
            NewCheckpoint {
                pop_time: 1_000,
                invisible_time: 500,
                fifo,
                attempts: 0,
                offsets: offsets.to_vec(),
            },
            frontier,
        )
        .unwrap()
    }

    #[test]
    fn consumed_offset_advances_past_fully_acked_prefixes_only() {
        let mut book = PopBook::new(16);
        assert!(book.advance(&key(), 10).is_some());
        let a = pop(&mut book, &[10, 11], 12, false);
        let b = pop(&mut book, &[12, 14], 15, false);
        assert_eq!(book.consumed(&key()), Some(10));
        let (id, bit) = book.find(&key(), 12, 1_000, 14).unwrap();
        assert_eq!((id, bit), (b.id, 2));
        book.ack(b.id, 0).unwrap();
        book.ack(b.id, 2).unwrap();
        assert_eq!(book.consumed(&key()), Some(10), "a is still out");
        book.ack(a.id, 1).unwrap();
        assert!(book.ack(a.id, 1).is_none(), "a second ack changes nothing");
        let (_, finished) = book.ack(a.id, 0).unwrap();
        assert!(finished);
        assert_eq!(book.consumed(&key()), Some(15));
        assert_eq!(book.live(), 0);
    }

    #[test]
    fn a_receipt_finds_only_its_own_pending_offset() {
        let mut book = PopBook::new(16);
        pop(&mut book, &[0, 1], 2, false);
        assert!(book.find(&key(), 0, 999, 1).is_none(), "other pop time");
        assert!(
            book.find(&key(), 1, 1_000, 1).is_none(),
            "other checkpoint start"
        );
        assert!(book.find(&key(), 0, 1_000, 2).is_none(), "outside the span");
        assert!(book.find(&key(), 0, 1_000, 1).is_some());
    }

    #[test]
    fn due_checkpoints_are_taken_once_and_fifo_ones_block_instead() {
        let mut book = PopBook::new(16);
        let normal = pop(&mut book, &[0], 1, false);
        assert!(book.take_due(1_499, 10).is_empty());
        let due = book.take_due(1_500, 10);
        assert_eq!(due, vec![normal.id]);
        assert!(book.take_due(1_500, 10).is_empty());
        assert_eq!(
            book.consumed(&key()),
            Some(0),
            "a revival holds the offset back"
        );
        book.abort_revival(normal.id, 2_000);
        assert!(book.take_due(1_999, 10).is_empty());
        assert_eq!(book.take_due(2_000, 10), vec![normal.id]);
        assert_eq!(book.end_revival(normal.id).map(|c| c.id), Some(normal.id));
        assert_eq!(book.consumed(&key()), Some(1));

        let fifo_key = QueueKey::new("g", "f", 0);
        let ck = book
            .add(
                &fifo_key,
                NewCheckpoint {
                    pop_time: 1_000,
                    invisible_time: 500,
                    fifo: true,
                    attempts: 0,
                    offsets: vec![0, 1],
                },
                2,
            )
            .unwrap();
        assert_eq!(book.fifo_turn(&fifo_key, 1_200), FifoTurn::Blocked);
        assert!(book.take_due(10_000, 10).is_empty(), "FIFO is not revived");
        assert_eq!(
            book.fifo_turn(&fifo_key, 1_500),
            FifoTurn::Expired(ck.clone())
        );
        book.ack(ck.id, 0).unwrap();
        book.ack(ck.id, 1).unwrap();
        assert_eq!(book.fifo_turn(&fifo_key, 1_200), FifoTurn::Free);
    }

    #[test]
    fn the_limit_refuses_new_checkpoints() {
        let mut book = PopBook::new(1);
        pop(&mut book, &[0], 1, false);
        let refused = book.add(
            &key(),
            NewCheckpoint {
                pop_time: 0,
                invisible_time: 0,
                fifo: false,
                attempts: 0,
                offsets: vec![1],
            },
            2,
        );
        assert_eq!(refused.unwrap_err(), AddError::Full(1));
        let wide = PopBook::new(4).add(
            &key(),
            NewCheckpoint {
                pop_time: 0,
                invisible_time: 0,
                fifo: false,
                attempts: 0,
                offsets: vec![0, i64::from(CHECKPOINT_SPAN_MAX)],
            },
            0,
        );
        assert_eq!(wide.unwrap_err(), AddError::Span);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Pop(u8),
        Ack(usize, u8),
        Revive(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u8..=CHECKPOINT_SPAN_MAX).prop_map(Op::Pop),
            (any::<usize>(), 0u8..CHECKPOINT_SPAN_MAX).prop_map(|(i, b)| Op::Ack(i, b)),
            (0i64..3_000).prop_map(Op::Revive),
        ]
    }

    proptest! {
        /// Replaying what the operations logged (or the snapshot of the
        /// result) rebuilds the same frontiers, consumed offsets and
        /// pending checkpoints.
        #[test]
        fn replaying_the_log_or_its_snapshot_rebuilds_the_book(ops in proptest::collection::vec(op(), 0..60)) {
            let mut book = PopBook::new(64);
            let mut log = Vec::new();
            let mut ids = Vec::new();
            let mut clock = 0i64;
            for op in ops {
                clock += 10;
                match op {
                    Op::Pop(n) => {
                        let start = book.frontier(&key()).unwrap_or(0);
                        let offsets: Vec<i64> = (start..start + i64::from(n)).collect();
                        if let Ok(ck) = book.add(&key(), NewCheckpoint {
                            pop_time: clock, invisible_time: 100, fifo: false, attempts: 0, offsets,
                        }, start + i64::from(n)) {
                            ids.push(ck.id);
                            log.push(LogRecord::Checkpoint(ck));
                        }
                    }
                    Op::Ack(i, bit) => {
                        if let Some(id) = ids.get(i % ids.len().max(1))
                            && let Some((record, _)) = book.ack(*id, bit) {
                            log.push(record);
                        }
                    }
                    Op::Revive(at) => {
                        for id in book.take_due(at, 4) {
                            book.end_revival(id);
                            log.push(LogRecord::Done { id });
                        }
                    }
                }
            }
            for records in [log, book.snapshot()] {
                let mut replayed = PopBook::new(64);
                for record in &records {
                    replayed.apply(record);
                }
                prop_assert_eq!(replayed.frontier(&key()), book.frontier(&key()));
                prop_assert_eq!(replayed.consumed(&key()), book.consumed(&key()));
                prop_assert_eq!(replayed.live(), book.live());
                for id in &ids {
                    prop_assert_eq!(replayed.get(*id).map(|c| c.pending), book.get(*id).map(|c| c.pending));
                }
            }
        }
    }
}
