//! Orderly consumption (Java `MessageListenerOrderly` and
//! `ConsumeMessageOrderlyService`): the listener trait, what it answers,
//! and the per-queue state that keeps one queue's messages in offset order.
//!
//! The push consumer ([`crate::consumer::push`]) runs an orderly listener
//! like this:
//!
//! - it locks a queue at its broker (LOCK_BATCH_MQ) before pulling it and
//!   renews every lock every [`LOCK_RENEW_INTERVAL_DEFAULT`]; a lock not
//!   renewed within the client lease ([`LOCK_LEASE_DEFAULT`], shorter than
//!   the broker's 60 s) is no longer trusted and is taken again before the
//!   next message;
//! - one worker consumes a queue at a time (the queue's consume turn), the
//!   lowest offsets first, and its offset is committed only after success;
//! - [`ConsumeOrderlyStatus::SuspendCurrentQueueAMoment`] puts the messages
//!   back in place, pauses the queue (default [`SUSPEND_DEFAULT`]) and
//!   offers them again with their reconsume count raised; past the maximum
//!   they go to the group's DLQ and the queue moves on;
//! - a queue taken away by rebalance is unlocked (UNLOCK_BATCH_MQ) only
//!   after the message in flight is finished and its offset stored.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ringmq_client::consumer::orderly::ConsumeOrderlyStatus;
//! use ringmq_client::consumer::push::PushConsumer;
//!
//! let consumer = PushConsumer::builder("orders-cg")
//!     .namesrv("127.0.0.1:9876")
//!     .subscribe("Orders", "*")
//!     .orderly_listener(|msgs, context| async move {
//!         for m in &msgs {
//!             println!("{} #{} of {}", m.msg_id, m.queue_offset, context.queue);
//!         }
//!         ConsumeOrderlyStatus::Success
//!     })
//!     .start()
//!     .await?;
//! consumer.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::message_ext::MessageExt;
use crate::instance::BoxFuture;
use crate::queue::MessageQueue;

/// How often an orderly consumer renews its queue locks (Java
/// `rebalance.lockInterval`).
pub const LOCK_RENEW_INTERVAL_DEFAULT: Duration = Duration::from_secs(20);
/// How long a granted lock is trusted without renewal (Java
/// `rocketmq.client.rebalance.lockMaxLiveTime`); below the broker's 60 s.
pub const LOCK_LEASE_DEFAULT: Duration = Duration::from_secs(30);
/// Pause of a queue whose listener asked to suspend it (Java
/// `suspendCurrentQueueTimeMillis`).
pub const SUSPEND_DEFAULT: Duration = Duration::from_secs(1);
/// Pause before trying again to lock a queue whose lock was lost.
pub const RELOCK_DELAY: Duration = Duration::from_secs(1);

/// What an orderly listener says about the messages it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeOrderlyStatus {
    /// Consumed; the queue's offset may move past them.
    Success,
    /// Not consumed; pause this queue and offer the same messages again.
    SuspendCurrentQueueAMoment,
}

/// Where the messages given to an orderly listener come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeOrderlyContext {
    /// The queue; all messages of one call belong to it.
    pub queue: MessageQueue,
}

/// A listener that consumes each queue's messages one call at a time, in
/// offset order.
pub trait MessageListenerOrderly: Send + Sync {
    /// Consumes `msgs` (consecutive messages of `context.queue`, lowest
    /// offset first).
    fn consume_message(
        &self,
        msgs: Vec<MessageExt>,
        context: ConsumeOrderlyContext,
    ) -> BoxFuture<'static, ConsumeOrderlyStatus>;
}

/// A closure as a [`MessageListenerOrderly`].
pub(crate) struct OrderlyFn<F>(pub F);

impl<F, Fut> MessageListenerOrderly for OrderlyFn<F>
where
    F: Fn(Vec<MessageExt>, ConsumeOrderlyContext) -> Fut + Send + Sync,
    Fut: Future<Output = ConsumeOrderlyStatus> + Send + 'static,
{
    fn consume_message(
        &self,
        msgs: Vec<MessageExt>,
        context: ConsumeOrderlyContext,
    ) -> BoxFuture<'static, ConsumeOrderlyStatus> {
        Box::pin((self.0)(msgs, context))
    }
}

/// The orderly state of one process queue: the pulled messages not yet
/// consumed (bounded by the push consumer's flow control), the broker lock
/// as this client last saw it, and the consume turn.
#[derive(Debug, Default)]
pub struct OrderlyQueue {
    msgs: Mutex<BTreeMap<i64, MessageExt>>,
    /// When the broker last granted the lock; `None` while not held.
    granted: Mutex<Option<Instant>>,
    /// Held by the one worker consuming the queue (Java's consume lock).
    pub(crate) turn: tokio::sync::Mutex<()>,
}

impl OrderlyQueue {
    /// Buffers pulled (or put back) messages by offset.
    pub fn put(&self, msgs: impl IntoIterator<Item = MessageExt>) {
        if let Ok(mut buffered) = self.msgs.lock() {
            for m in msgs {
                buffered.insert(m.queue_offset, m);
            }
        }
    }

    /// Takes up to `n` messages, lowest offsets first.
    pub fn take(&self, n: usize) -> Vec<MessageExt> {
        let Ok(mut buffered) = self.msgs.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while out.len() < n {
            let Some((_, m)) = buffered.pop_first() else {
                break;
            };
            out.push(m);
        }
        out
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.msgs.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records that the broker granted (or renewed) the lock at `now`.
    pub fn set_locked(&self, now: Instant) {
        if let Ok(mut granted) = self.granted.lock() {
            *granted = Some(now);
        }
    }

    /// Records that the broker refused the lock.
    pub fn set_unlocked(&self) {
        if let Ok(mut granted) = self.granted.lock() {
            *granted = None;
        }
    }

    /// Whether the broker granted the lock (however long ago).
    pub fn is_locked(&self) -> bool {
        self.granted.lock().map(|g| g.is_some()).unwrap_or(false)
    }

    /// Whether the lock was granted less than `lease` before `now`.
    pub fn lease_valid(&self, now: Instant, lease: Duration) -> bool {
        self.granted
            .lock()
            .ok()
            .and_then(|g| *g)
            .is_some_and(|at| now.saturating_duration_since(at) < lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ringmq_net::properties::Properties;

    fn msg(offset: i64) -> MessageExt {
        let host = "127.0.0.1:1".parse().unwrap();
        MessageExt {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: 0,
            queue_offset: offset,
            commit_log_offset: offset,
            msg_id: offset.to_string(),
            offset_msg_id: String::new(),
            body: Bytes::from_static(b"x"),
            flag: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            properties: Properties::new(),
        }
    }

    fn offsets(msgs: &[MessageExt]) -> Vec<i64> {
        msgs.iter().map(|m| m.queue_offset).collect()
    }

    #[test]
    fn messages_are_taken_lowest_offset_first_and_put_back_in_place() {
        let q = OrderlyQueue::default();
        q.put([msg(12), msg(10), msg(11), msg(13)]);
        let first = q.take(2);
        assert_eq!(offsets(&first), vec![10, 11]);
        q.put(first);
        assert_eq!(offsets(&q.take(3)), vec![10, 11, 12]);
        assert_eq!(offsets(&q.take(3)), vec![13]);
        assert!(q.take(1).is_empty());
        assert!(q.is_empty());
    }

    #[test]
    fn a_lock_is_trusted_only_within_its_lease() {
        let q = OrderlyQueue::default();
        let t0 = Instant::now();
        let lease = Duration::from_secs(30);
        assert!(!q.is_locked());
        assert!(!q.lease_valid(t0, lease));
        q.set_locked(t0);
        assert!(q.lease_valid(t0 + Duration::from_secs(29), lease));
        assert!(!q.lease_valid(t0 + Duration::from_secs(30), lease));
        assert!(q.is_locked());
        q.set_unlocked();
        assert!(!q.lease_valid(t0, lease));
    }
}
