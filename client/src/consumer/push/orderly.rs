//! Orderly consumption in the push consumer (Java
//! `ConsumeMessageOrderlyService` and the orderly parts of `RebalanceImpl`):
//! broker locks taken before a queue is pulled and renewed on a timer, one
//! worker per queue consuming in offset order, suspension and local retry,
//! dead-lettering past the reconsume limit, and the release of a queue only
//! after its message in flight (see [`crate::consumer::orderly`]).
//!
//! Broker locks are a CLUSTERING matter; a BROADCASTING orderly consumer
//! owns every queue alone and only keeps the one-worker-per-queue order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ringmq_net::body::MessageModel;

use super::{ListenerKind, PushShared};
use crate::consumer::broker::{self, DELAY_LEVEL_DLQ};
use crate::consumer::message_ext::MessageExt;
use crate::consumer::orderly::{ConsumeOrderlyContext, ConsumeOrderlyStatus, RELOCK_DELAY};
use crate::consumer::process_queue::ProcessQueue;
use crate::queue::MessageQueue;

/// Shutdown waits for pending releases in steps of this, at most
/// [`RELEASE_WAIT_ROUNDS`] times (3 s in all).
const RELEASE_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(10);
const RELEASE_WAIT_ROUNDS: u32 = 300;

/// Groups queues by broker name.
fn by_broker(
    mqs: impl IntoIterator<Item = MessageQueue>,
) -> BTreeMap<String, BTreeSet<MessageQueue>> {
    let mut out: BTreeMap<String, BTreeSet<MessageQueue>> = BTreeMap::new();
    for mq in mqs {
        out.entry(mq.broker_name.clone()).or_default().insert(mq);
    }
    out
}

impl PushShared {
    /// Whether the listener is orderly.
    pub(crate) fn is_orderly(&self) -> bool {
        matches!(self.listener, ListenerKind::Orderly(_))
    }

    /// Whether queues must be locked at their brokers before consumption.
    pub(crate) fn needs_locks(&self) -> bool {
        self.is_orderly() && self.config.model == MessageModel::Clustering
    }

    /// The queues of `added` this client could lock now (those still being
    /// released are left for a later round).
    pub(crate) async fn lock_new_queues(&self, added: Vec<MessageQueue>) -> Vec<MessageQueue> {
        let releasing = self.releasing.lock().map(|r| r.clone()).unwrap_or_default();
        let wanted = added.into_iter().filter(|mq| !releasing.contains(mq));
        let mut granted = Vec::new();
        for (broker_name, mqs) in by_broker(wanted) {
            match broker::lock_batch(&self.instance, &self.config.group, &broker_name, mqs).await {
                Ok(locked) => granted.extend(locked),
                Err(error) => tracing::debug!(%broker_name, %error, "cannot lock queues"),
            }
        }
        granted
    }

    /// Renews the lock of every orderly queue held (Java `lockAll`); a queue
    /// the broker no longer grants stops being consumed until relocked.
    pub(crate) async fn renew_locks(&self) {
        if !self.needs_locks() || self.stopping.load(Ordering::Acquire) {
            return;
        }
        let held: Vec<(MessageQueue, Arc<ProcessQueue>)> = self
            .queues
            .lock()
            .map(|q| {
                q.iter()
                    .filter(|(_, pq)| !pq.is_dropped())
                    .map(|(mq, pq)| (mq.clone(), pq.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let pqs: BTreeMap<MessageQueue, Arc<ProcessQueue>> = held.into_iter().collect();
        for (broker_name, mqs) in by_broker(pqs.keys().cloned()) {
            let asked = mqs.clone();
            let now = Instant::now();
            match broker::lock_batch(&self.instance, &self.config.group, &broker_name, mqs).await {
                Ok(locked) => {
                    for mq in &asked {
                        let Some(pq) = pqs.get(mq) else { continue };
                        if locked.contains(mq) {
                            pq.orderly.set_locked(now);
                        } else {
                            tracing::info!(%mq, "the broker no longer grants this queue's lock");
                            pq.orderly.set_unlocked();
                        }
                    }
                }
                Err(error) => tracing::debug!(%broker_name, %error, "lock renewal failed"),
            }
        }
    }

    /// Takes `mq` away: its worker stops after the message in flight, then
    /// (in the background) its offset is stored and its lock released.
    pub(crate) fn release_orderly(self: &Arc<Self>, mq: MessageQueue, pq: Arc<ProcessQueue>) {
        pq.drop_queue();
        if let Ok(mut releasing) = self.releasing.lock() {
            releasing.insert(mq.clone());
        }
        let me = self.clone();
        tokio::spawn(async move {
            let turn = pq.orderly.turn.lock().await;
            me.commit_and_unlock(&mq).await;
            drop(turn);
            if let Ok(mut releasing) = me.releasing.lock() {
                releasing.remove(&mq);
            }
        });
    }

    /// Stores `mq`'s offset (waiting for the broker's answer), then unlocks it.
    async fn commit_and_unlock(&self, mq: &MessageQueue) {
        let _gate = self.commit_gate.lock().await;
        let group = &self.config.group;
        if let Some(offset) = self.offsets.remove(mq)
            && let Err(error) = broker::commit_offset(&self.instance, group, mq, offset).await
        {
            tracing::warn!(%mq, %error, "offset commit before unlock failed");
        }
        let mqs = BTreeSet::from([mq.clone()]);
        if let Err(error) = broker::unlock_batch(&self.instance, group, &mq.broker_name, mqs).await
        {
            tracing::debug!(%mq, %error, "unlock failed; the broker lock expires by itself");
        }
    }

    /// At shutdown (listeners finished): stores every offset, then unlocks
    /// every queue.
    pub(crate) async fn unlock_all(&self) {
        if !self.needs_locks() {
            return;
        }
        // Queues taken away just before are released by their own tasks;
        // let them finish while the connections are still open.
        for _ in 0..RELEASE_WAIT_ROUNDS {
            if self.releasing.lock().map(|r| r.is_empty()).unwrap_or(true) {
                break;
            }
            tokio::time::sleep(RELEASE_WAIT_STEP).await;
        }
        // Serialized with the timer's commits, as a release is: a timer
        // round that read an offset before the last message was settled
        // must not land after this commit and unlock.
        let _gate = self.commit_gate.lock().await;
        let held: Vec<MessageQueue> = self
            .queues
            .lock()
            .map(|q| q.keys().cloned().collect())
            .unwrap_or_default();
        for mq in &held {
            if let Some(offset) = self.offsets.read(mq)
                && let Err(error) =
                    broker::commit_offset(&self.instance, &self.config.group, mq, offset).await
            {
                tracing::debug!(%mq, %error, "offset commit at shutdown failed");
            }
        }
        for (broker_name, mqs) in by_broker(held) {
            let group = &self.config.group;
            if let Err(error) = broker::unlock_batch(&self.instance, group, &broker_name, mqs).await
            {
                tracing::debug!(%broker_name, %error, "unlock at shutdown failed");
            }
        }
    }

    /// Whether this client may consume `pq` now, locking it again if its
    /// lease ran out.
    async fn may_consume(&self, mq: &MessageQueue, pq: &ProcessQueue) -> bool {
        if !self.needs_locks()
            || pq
                .orderly
                .lease_valid(Instant::now(), self.config.lock_lease)
        {
            return true;
        }
        let now = Instant::now();
        let mqs = BTreeSet::from([mq.clone()]);
        let group = &self.config.group;
        match broker::lock_batch(&self.instance, group, &mq.broker_name, mqs).await {
            Ok(locked) if locked.contains(mq) => {
                pq.orderly.set_locked(now);
                true
            }
            Ok(_) => {
                pq.orderly.set_unlocked();
                false
            }
            Err(error) => {
                tracing::debug!(%mq, %error, "relock failed");
                false
            }
        }
    }

    /// The worker of one orderly queue: while it holds the queue's turn it
    /// consumes the buffered messages, lowest offset first, until none is
    /// left or the queue is taken away.
    pub(crate) async fn consume_orderly(self: Arc<Self>, mq: MessageQueue, pq: Arc<ProcessQueue>) {
        let ListenerKind::Orderly(listener) = &self.listener else {
            return;
        };
        let _turn = pq.orderly.turn.lock().await;
        let batch = self.config.consume_batch_size.max(1);
        while !pq.is_dropped() && !self.stopping.load(Ordering::Acquire) {
            if !self.may_consume(&mq, &pq).await {
                self.pause(&pq, RELOCK_DELAY).await;
                continue;
            }
            let msgs = pq.orderly.take(batch);
            if msgs.is_empty() {
                return;
            }
            let pause = {
                // The permit is held until the outcome is settled in the
                // offset table: shutdown waits for every permit and then
                // commits, so a permit returned before the settle let it
                // commit the offset before the last batch, and the next owner
                // consumed that batch again.
                let Ok(_permit) = self.workers.clone().acquire_owned().await else {
                    return;
                };
                if pq.is_dropped() {
                    return;
                }
                let context = ConsumeOrderlyContext { queue: mq.clone() };
                match listener.consume_message(msgs.clone(), context).await {
                    ConsumeOrderlyStatus::Success => {
                        self.settle_orderly(&mq, &pq, msgs.iter().map(|m| m.queue_offset));
                        false
                    }
                    ConsumeOrderlyStatus::SuspendCurrentQueueAMoment => {
                        self.requeue(&mq, &pq, msgs).await
                    }
                }
            };
            if pause {
                self.pause(&pq, self.config.suspend_time).await;
            }
        }
    }

    /// Removes consumed offsets and commits the queue's new position, even
    /// if the queue was just taken away: the release commits after this.
    fn settle_orderly(
        &self,
        mq: &MessageQueue,
        pq: &ProcessQueue,
        offsets: impl Iterator<Item = i64>,
    ) {
        if let Some(commit) = pq.remove(offsets) {
            self.offsets.update(mq, commit, true);
        }
    }

    /// A suspended batch: messages at the reconsume limit go to the DLQ;
    /// the others are put back in place with their count raised, and the
    /// queue pauses (by the caller, once its worker permit is returned).
    /// Returns whether the queue must pause (some messages are put back).
    async fn requeue(&self, mq: &MessageQueue, pq: &ProcessQueue, msgs: Vec<MessageExt>) -> bool {
        let max = self.config.max_reconsume(true);
        let mut again = Vec::new();
        let mut done = Vec::new();
        for mut msg in msgs {
            if msg.reconsume_times >= max && self.dead_letter(&msg).await {
                done.push(msg.queue_offset);
                continue;
            }
            msg.reconsume_times = msg.reconsume_times.saturating_add(1);
            again.push(msg);
        }
        self.settle_orderly(mq, pq, done.into_iter());
        if again.is_empty() {
            return false;
        }
        pq.orderly.put(again);
        true
    }

    /// Sends `msg` to the group's DLQ: CONSUMER_SEND_MSG_BACK with delay
    /// level -1, else as a message to the retry topic that the broker
    /// dead-letters for its count. Returns whether either was stored.
    async fn dead_letter(&self, msg: &MessageExt) -> bool {
        let group = &self.config.group;
        let max = self.config.max_reconsume(true);
        match broker::send_back(&self.instance, group, msg, max, DELAY_LEVEL_DLQ).await {
            Ok(()) => {
                tracing::warn!(msg_id = %msg.msg_id, reconsume_times = msg.reconsume_times, "orderly consumption gave up; message sent to the DLQ");
                true
            }
            Err(error) => {
                tracing::debug!(msg_id = %msg.msg_id, %error, "dead-letter send-back failed; resending");
                self.resend_to_retry(msg, msg.reconsume_times).await
            }
        }
    }
}
