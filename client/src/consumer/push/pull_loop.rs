//! The pull loop of one assigned queue and the hand-off of pulled messages
//! to the listener workers (spec §7.7).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringmq_net::body::MessageModel;

use super::{
    FLOW_CONTROL_DELAY, LOCAL_RECONSUME_ATTEMPTS_MAX, LOCAL_RECONSUME_DELAY, ListenerKind,
    PULL_RETRY_DELAY, PushShared, QUEUE_CACHED_BYTES_MAX, QUEUE_CACHED_MESSAGES_MAX,
    QUEUE_SPAN_MAX,
};
use crate::consumer::broker::{self, PullOutcome, PullSpec};
use crate::consumer::message_ext::{MessageExt, restore_retry_topic};
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::{ConsumeResult, ConsumerError};
use crate::queue::MessageQueue;

impl PushShared {
    /// Pulls `mq` from `offset` until the queue is dropped or the consumer stops.
    pub(crate) async fn pull_loop(
        self: Arc<Self>,
        mq: MessageQueue,
        pq: Arc<ProcessQueue>,
        mut offset: i64,
    ) {
        while !pq.is_dropped() && !self.stopping.load(Ordering::Acquire) {
            if self.flow_controlled(&pq) {
                self.pause(&pq, FLOW_CONTROL_DELAY).await;
                continue;
            }
            if self.needs_locks() && !pq.orderly.is_locked() {
                // Java pulls an orderly queue only while its broker lock is held.
                self.pause(&pq, PULL_RETRY_DELAY).await;
                continue;
            }
            let pulled = tokio::select! {
                _ = pq.dropped_signal.notified() => break,
                pulled = self.pull_once(&mq, offset) => pulled,
            };
            match pulled {
                Ok(PullOutcome::Found { msgs, next_offset }) => {
                    offset = next_offset;
                    self.dispatch(&mq, &pq, msgs, next_offset);
                }
                Ok(PullOutcome::NoNewMessage { next_offset }) => {
                    offset = next_offset;
                    self.advance_if_idle(&mq, &pq, next_offset);
                }
                Ok(PullOutcome::OffsetMoved { next_offset }) => {
                    tracing::warn!(%mq, offset, next_offset, "offset illegal; moving on");
                    offset = next_offset;
                    self.offsets.update(&mq, next_offset, false);
                }
                Err(error) => {
                    tracing::debug!(%mq, %error, "pull failed; retrying later");
                    self.pause(&pq, PULL_RETRY_DELAY).await;
                }
            }
        }
    }

    fn flow_controlled(&self, pq: &ProcessQueue) -> bool {
        // The span limit is for concurrent consumption only (as in Java): an
        // orderly queue never has gaps.
        pq.count() > QUEUE_CACHED_MESSAGES_MAX
            || pq.bytes() > QUEUE_CACHED_BYTES_MAX
            || (!self.is_orderly() && pq.span() > QUEUE_SPAN_MAX)
    }

    pub(crate) async fn pause(&self, pq: &ProcessQueue, delay: std::time::Duration) {
        tokio::select! {
            _ = pq.dropped_signal.notified() => {}
            _ = tokio::time::sleep(delay) => {}
        }
    }

    async fn pull_once(
        &self,
        mq: &MessageQueue,
        offset: i64,
    ) -> Result<PullOutcome, ConsumerError> {
        // An orderly queue commits only through the timer and its release
        // (serialized); a commit riding on a pull could land after the
        // release's and move the next owner back.
        let commit_offset = match self.config.model {
            MessageModel::Clustering if self.needs_locks() => None,
            MessageModel::Clustering => self.offsets.read(mq).filter(|o| *o > 0),
            MessageModel::Broadcasting => None,
        };
        let sub_version = self.subscriptions.get(&mq.topic).map_or(0, |s| s.version);
        let spec = PullSpec {
            group: &self.config.group,
            mq,
            offset,
            batch: self.config.pull_batch_size,
            commit_offset,
            suspend: Some(self.config.pull_suspend),
            expression: None,
            sub_version,
        };
        broker::pull(&self.instance, &spec, false).await
    }

    /// Nothing is buffered and the broker moved us on (filtered or empty
    /// pull): the committed offset follows (Java `correctTagsOffset`).
    fn advance_if_idle(&self, mq: &MessageQueue, pq: &ProcessQueue, next_offset: i64) {
        if pq.count() == 0 {
            self.offsets.update(mq, next_offset, true);
        }
    }

    fn dispatch(
        self: &Arc<Self>,
        mq: &MessageQueue,
        pq: &Arc<ProcessQueue>,
        msgs: Vec<MessageExt>,
        next_offset: i64,
    ) {
        let subscription = self.subscriptions.get(&mq.topic);
        let mut wanted: Vec<MessageExt> = msgs
            .into_iter()
            .filter(|m| subscription.is_none_or(|s| s.matches(m.tags())))
            .collect();
        if wanted.is_empty() {
            self.advance_if_idle(mq, pq, next_offset);
            return;
        }
        for m in &mut wanted {
            restore_retry_topic(m, &self.config.group);
        }
        pq.put(wanted.iter().map(|m| (m.queue_offset, m.body.len())));
        if self.is_orderly() {
            pq.orderly.put(wanted);
            tokio::spawn(self.clone().consume_orderly(mq.clone(), pq.clone()));
            return;
        }
        let batch = self.config.consume_batch_size.max(1);
        let mut rest = wanted;
        while !rest.is_empty() {
            let tail = rest.split_off(batch.min(rest.len()));
            let chunk = std::mem::replace(&mut rest, tail);
            let me = self.clone();
            let (mq, pq) = (mq.clone(), pq.clone());
            tokio::spawn(async move { me.consume(mq, pq, chunk).await });
        }
    }

    /// Runs the concurrent listener on one batch under a worker permit, then settles
    /// the offsets. In CLUSTERING, failed messages are sent back to the
    /// broker; those whose send-back fails are consumed again here after
    /// [`LOCAL_RECONSUME_DELAY`], up to [`LOCAL_RECONSUME_ATTEMPTS_MAX`] times.
    async fn consume(
        self: Arc<Self>,
        mq: MessageQueue,
        pq: Arc<ProcessQueue>,
        msgs: Vec<MessageExt>,
    ) {
        let ListenerKind::Concurrently(listener) = &self.listener else {
            return;
        };
        let mut msgs = msgs;
        for _attempt in 0..LOCAL_RECONSUME_ATTEMPTS_MAX {
            let outcome = {
                let Ok(_permit) = self.workers.clone().acquire_owned().await else {
                    return;
                };
                if pq.is_dropped() {
                    return;
                }
                listener(msgs.clone()).await
            };
            let offsets: Vec<i64> = msgs.iter().map(|m| m.queue_offset).collect();
            if outcome == ConsumeResult::Success {
                self.settle(&mq, &pq, offsets);
                return;
            }
            if self.config.model == MessageModel::Broadcasting {
                tracing::warn!(%mq, "broadcasting consumption failed; messages are dropped (as in Java)");
                self.settle(&mq, &pq, offsets);
                return;
            }
            let failed = self.send_back_all(msgs).await;
            let failed_offsets: Vec<i64> = failed.iter().map(|m| m.queue_offset).collect();
            self.settle(
                &mq,
                &pq,
                offsets
                    .into_iter()
                    .filter(|o| !failed_offsets.contains(o))
                    .collect(),
            );
            if failed.is_empty() {
                return;
            }
            msgs = failed;
            self.pause(&pq, LOCAL_RECONSUME_DELAY).await;
        }
        tracing::error!(%mq, "giving up on messages after {LOCAL_RECONSUME_ATTEMPTS_MAX} local attempts");
        self.settle(&mq, &pq, msgs.iter().map(|m| m.queue_offset).collect());
    }

    /// Sends every message back (through the broker, else as a retry copy
    /// of our own); returns those neither way could store.
    async fn send_back_all(&self, msgs: Vec<MessageExt>) -> Vec<MessageExt> {
        let mut failed = Vec::new();
        for msg in msgs {
            let sent = broker::send_back(
                &self.instance,
                &self.config.group,
                &msg,
                self.config.max_reconsume(false),
                broker::DELAY_LEVEL_BROKER,
            )
            .await;
            let Err(error) = sent else { continue };
            tracing::debug!(msg_id = %msg.msg_id, %error, "send-back failed; sending a retry copy");
            let next = msg.reconsume_times.saturating_add(1);
            if !self.resend_to_retry(&msg, next).await {
                tracing::debug!(msg_id = %msg.msg_id, "no retry copy either; consuming again locally");
                failed.push(msg);
            }
        }
        failed
    }

    fn settle(&self, mq: &MessageQueue, pq: &ProcessQueue, offsets: Vec<i64>) {
        if let Some(commit) = pq.remove(offsets)
            && !pq.is_dropped()
        {
            self.offsets.update(mq, commit, true);
        }
    }
}
