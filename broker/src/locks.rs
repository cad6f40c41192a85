//! Queue locks for orderly consumers (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ, spec
//! §2.7, §7.6): a (group, queue) is held by one client id; a lock not
//! renewed for the configured lease (`rebalance_lock_max_live_time_ms`,
//! default [`LOCK_EXPIRY_MS`]) may be taken by another client.
//!
//! Shared by all shards: one `Mutex<QueueLocks>` in
//! [`crate::state::BrokerState`], never locked across `.await`.

use std::collections::HashMap;

use ringmq_net::body::queue::MessageQueue;

/// Broker-side lock lifetime by default (`rocketmq.broker.rebalance.lockMaxLiveTime`).
pub const LOCK_EXPIRY_MS: i64 = 60_000;
/// Shortest configurable lock lifetime.
pub const LOCK_EXPIRY_MS_MIN: i64 = 1_000;
/// Longest configurable lock lifetime (one day).
pub const LOCK_EXPIRY_MS_MAX: i64 = 86_400_000;
/// Upper bound on locks held at once.
pub const LOCKS_MAX: usize = 1_000_000;

struct Holder {
    client_id: String,
    renewed_ms: i64,
}

/// Who holds which queue, per consumer group.
#[derive(Default)]
pub struct QueueLocks {
    held: HashMap<(String, MessageQueue), Holder>,
}

impl QueueLocks {
    /// Locks (or renews) each queue for `client_id` where possible; returns
    /// the queues the client now holds.
    pub fn lock(
        &mut self,
        group: &str,
        client_id: &str,
        queues: &[MessageQueue],
        now_ms: i64,
        lease_ms: i64,
    ) -> Vec<MessageQueue> {
        let mut granted = Vec::new();
        for queue in queues {
            let key = (group.to_owned(), queue.clone());
            let free = match self.held.get(&key) {
                Some(holder) => {
                    holder.client_id == client_id || now_ms - holder.renewed_ms > lease_ms
                }
                None => self.held.len() < LOCKS_MAX,
            };
            if free {
                self.held.insert(
                    key,
                    Holder {
                        client_id: client_id.to_owned(),
                        renewed_ms: now_ms,
                    },
                );
                granted.push(queue.clone());
            }
        }
        granted
    }

    /// Releases the queues `client_id` holds among `queues`.
    pub fn unlock(&mut self, group: &str, client_id: &str, queues: &[MessageQueue]) {
        for queue in queues {
            let key = (group.to_owned(), queue.clone());
            if self
                .held
                .get(&key)
                .is_some_and(|h| h.client_id == client_id)
            {
                self.held.remove(&key);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn queue(id: i32) -> MessageQueue {
        MessageQueue {
            broker_name: "b".into(),
            queue_id: id,
            topic: "T".into(),
        }
    }

    #[test]
    fn a_held_queue_goes_to_another_client_only_after_expiry_or_unlock() {
        let mut locks = QueueLocks::default();
        assert_eq!(
            locks
                .lock("g", "c1", &[queue(0), queue(1)], 0, LOCK_EXPIRY_MS)
                .len(),
            2
        );
        assert!(
            locks
                .lock("g", "c2", &[queue(0)], 1000, LOCK_EXPIRY_MS)
                .is_empty()
        );
        assert_eq!(
            locks
                .lock("g", "c1", &[queue(0)], 1000, LOCK_EXPIRY_MS)
                .len(),
            1
        );
        assert_eq!(
            locks
                .lock("g", "c2", &[queue(1)], LOCK_EXPIRY_MS + 1, LOCK_EXPIRY_MS)
                .len(),
            1
        );
        // A shorter lease (configured) frees it sooner.
        assert!(
            locks
                .lock(
                    "g",
                    "c3",
                    &[queue(1)],
                    LOCK_EXPIRY_MS + 1_502,
                    LOCK_EXPIRY_MS
                )
                .is_empty()
        );
        assert_eq!(
            locks
                .lock("g", "c3", &[queue(1)], LOCK_EXPIRY_MS + 1_502, 500)
                .len(),
            1
        );
        locks.unlock("g", "c1", &[queue(0)]);
        assert_eq!(
            locks
                .lock("g", "c2", &[queue(0)], 2000, LOCK_EXPIRY_MS)
                .len(),
            1
        );
    }
}
