//! The client-side buffer of one assigned queue: messages pulled but not
//! yet consumed, keyed by offset, with the counters flow control reads and
//! the "next offset to commit" rule (spec §7.5).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use super::orderly::OrderlyQueue;

/// Counters and contents of one process queue.
#[derive(Debug, Default)]
struct Buffered {
    /// offset -> body size, for messages in flight.
    sizes: BTreeMap<i64, usize>,
    bytes: usize,
    /// The highest offset ever put (for the empty-queue commit rule).
    max_offset_seen: Option<i64>,
}

/// Messages of one queue between pull and consumption.
#[derive(Debug, Default)]
pub struct ProcessQueue {
    buffered: Mutex<Buffered>,
    dropped: AtomicBool,
    /// Wakes the pull loop when the queue is dropped.
    pub dropped_signal: Notify,
    /// The messages, broker lock and consume turn of orderly consumption.
    pub orderly: OrderlyQueue,
}

impl ProcessQueue {
    /// Records pulled messages `(offset, body size)`.
    pub fn put(&self, msgs: impl IntoIterator<Item = (i64, usize)>) {
        let Ok(mut b) = self.buffered.lock() else {
            return;
        };
        for (offset, size) in msgs {
            if b.sizes.insert(offset, size).is_none() {
                b.bytes += size;
            }
            b.max_offset_seen = Some(b.max_offset_seen.map_or(offset, |m| m.max(offset)));
        }
    }

    /// Removes consumed offsets; returns the offset to commit: the smallest
    /// still buffered, or one past the highest seen when none is left.
    pub fn remove(&self, offsets: impl IntoIterator<Item = i64>) -> Option<i64> {
        let mut b = self.buffered.lock().ok()?;
        for offset in offsets {
            if let Some(size) = b.sizes.remove(&offset) {
                b.bytes = b.bytes.saturating_sub(size);
            }
        }
        match b.sizes.keys().next() {
            Some(first) => Some(*first),
            None => b.max_offset_seen.map(|m| m + 1),
        }
    }

    /// Messages buffered.
    pub fn count(&self) -> usize {
        self.buffered.lock().map(|b| b.sizes.len()).unwrap_or(0)
    }

    /// Body bytes buffered.
    pub fn bytes(&self) -> usize {
        self.buffered.lock().map(|b| b.bytes).unwrap_or(0)
    }

    /// Distance between the lowest and highest buffered offsets.
    pub fn span(&self) -> i64 {
        let Ok(b) = self.buffered.lock() else {
            return 0;
        };
        match (b.sizes.keys().next(), b.sizes.keys().next_back()) {
            (Some(lo), Some(hi)) => hi - lo,
            _ => 0,
        }
    }

    /// Marks the queue dropped (no longer assigned); its pulls stop.
    pub fn drop_queue(&self) {
        self.dropped.store(true, Ordering::Release);
        self.dropped_signal.notify_waiters();
    }

    /// Whether the queue was dropped.
    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_offset_is_the_smallest_unconsumed_or_one_past_the_last() {
        let pq = ProcessQueue::default();
        pq.put([(10, 1), (11, 1), (12, 1)]);
        assert_eq!(pq.remove([11]), Some(10));
        assert_eq!(pq.remove([10]), Some(12));
        assert_eq!(pq.remove([12]), Some(13));
        assert_eq!(pq.count(), 0);
    }

    #[test]
    fn counters_follow_puts_and_removes() {
        let pq = ProcessQueue::default();
        pq.put([(0, 100), (5, 50)]);
        assert_eq!((pq.count(), pq.bytes(), pq.span()), (2, 150, 5));
        pq.remove([0]);
        assert_eq!((pq.count(), pq.bytes(), pq.span()), (1, 50, 0));
    }
}
