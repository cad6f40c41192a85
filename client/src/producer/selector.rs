//! Choosing the queue for a send: [`MessageQueueSelector`] for ordered sends
//! (all messages of one business key to one queue), and the default
//! round-robin over writable queues that skips failing brokers.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::message::Message;
use crate::queue::MessageQueue;

use super::fault::LatencyFaults;

/// Picks a queue for a message; used by `Producer::send_with_selector`.
///
/// ```
/// use ringmq_client::producer::{MessageQueueSelector, SelectByHash};
/// use ringmq_client::{Message, MessageQueue};
///
/// let queues: Vec<_> = (0..4).map(|q| MessageQueue::new("T", "b", q)).collect();
/// let msg = Message::new("T", "x");
/// let a = SelectByHash.select(&queues, &msg, "order-1").unwrap();
/// let b = SelectByHash.select(&queues, &msg, "order-1").unwrap();
/// assert_eq!(a, b);
/// ```
pub trait MessageQueueSelector: Send + Sync {
    /// Returns one of `queues` for `msg` given the caller's `arg`.
    fn select(&self, queues: &[MessageQueue], msg: &Message, arg: &str) -> Option<MessageQueue>;
}

/// Selects `queues[java_hash(arg) % len]`, RocketMQ's `SelectMessageQueueByHash`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectByHash;

impl MessageQueueSelector for SelectByHash {
    fn select(&self, queues: &[MessageQueue], _msg: &Message, arg: &str) -> Option<MessageQueue> {
        if queues.is_empty() {
            return None;
        }
        let hash = i64::from(java_string_hash(arg)).unsigned_abs();
        let len = u64::try_from(queues.len()).ok()?;
        let index = usize::try_from(hash % len).ok()?;
        queues.get(index).cloned()
    }
}

impl<F> MessageQueueSelector for F
where
    F: Fn(&[MessageQueue], &Message, &str) -> Option<MessageQueue> + Send + Sync,
{
    fn select(&self, queues: &[MessageQueue], msg: &Message, arg: &str) -> Option<MessageQueue> {
        self(queues, msg, arg)
    }
}

/// Java `String.hashCode` (UTF-16 code units, wrapping).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Round-robin position over a topic's writable queues.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl RoundRobin {
    /// Starts at a random position, as Java does per thread.
    pub fn new_random() -> Self {
        Self {
            next: AtomicUsize::new(rand::random::<u16>().into()),
        }
    }

    /// Picks the next queue; avoids `last_broker` (the one that just failed)
    /// and, with `faults`, brokers currently isolated.
    pub fn pick<'q>(
        &self,
        queues: &'q [MessageQueue],
        last_broker: Option<&str>,
        faults: Option<&LatencyFaults>,
    ) -> Option<&'q MessageQueue> {
        if queues.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let candidate = |i: usize| queues.get((start + i) % queues.len());
        let acceptable = |mq: &MessageQueue| {
            last_broker != Some(mq.broker_name.as_str())
                && faults.is_none_or(|f| f.is_available(&mq.broker_name))
        };
        if let Some(mq) = (0..queues.len())
            .filter_map(candidate)
            .find(|mq| acceptable(mq))
        {
            return Some(mq);
        }
        // Every broker is suspect: take any queue not on the broker that just failed.
        let other = (0..queues.len())
            .filter_map(candidate)
            .find(|mq| last_broker != Some(mq.broker_name.as_str()));
        other.or_else(|| candidate(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_brokers() -> Vec<MessageQueue> {
        let mut v: Vec<_> = (0..2).map(|q| MessageQueue::new("T", "a", q)).collect();
        v.extend((0..2).map(|q| MessageQueue::new("T", "b", q)));
        v
    }

    #[test]
    fn java_string_hash_matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        assert_eq!(java_string_hash("hello"), 99_162_322);
    }

    #[test]
    fn round_robin_visits_every_queue_once_per_cycle() {
        let rr = RoundRobin::default();
        let queues = two_brokers();
        let mut seen: Vec<_> = (0..4)
            .filter_map(|_| rr.pick(&queues, None, None).cloned())
            .collect();
        seen.sort();
        let mut want = queues.clone();
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn retry_avoids_the_broker_that_just_failed() {
        let rr = RoundRobin::default();
        let queues = two_brokers();
        for _ in 0..8 {
            assert_eq!(rr.pick(&queues, Some("a"), None).unwrap().broker_name, "b");
        }
    }

    #[test]
    fn isolated_brokers_are_skipped() {
        let faults = LatencyFaults::default();
        faults.record("b", 0, true);
        let rr = RoundRobin::default();
        for _ in 0..8 {
            assert_eq!(
                rr.pick(&two_brokers(), None, Some(&faults))
                    .unwrap()
                    .broker_name
                    .as_str(),
                "a"
            );
        }
    }

    #[test]
    fn hash_selector_keeps_a_key_on_one_queue() {
        let queues = two_brokers();
        let msg = Message::new("T", "x");
        let first = SelectByHash.select(&queues, &msg, "k").unwrap();
        for _ in 0..4 {
            assert_eq!(SelectByHash.select(&queues, &msg, "k"), Some(first.clone()));
        }
    }
}
