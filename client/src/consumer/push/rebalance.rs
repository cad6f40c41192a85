//! Rebalance: recompute this consumer's queues per subscribed topic, stop
//! the dropped ones (committing their offsets) and start pulling the new
//! ones from their start offset (spec §7.2, §7.5).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringmq_net::body::MessageModel;

use super::PushShared;
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::{ConsumeFrom, ConsumerError, broker};
use crate::instance::subscribe_queues;
use crate::queue::MessageQueue;

impl PushShared {
    /// One rebalance round over every subscribed topic.
    pub(crate) async fn rebalance(self: &Arc<Self>) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        let mut changed = false;
        let topics: Vec<String> = self.subscriptions.keys().cloned().collect();
        for topic in topics {
            match self.allocation(&topic).await {
                Ok(mine) => changed |= self.apply(&topic, mine).await,
                Err(error) => tracing::debug!(%topic, %error, "rebalance skipped"),
            }
        }
        if changed {
            self.instance.heartbeat_all().await;
        }
    }

    /// The queues of `topic` this consumer should own now.
    async fn allocation(&self, topic: &str) -> Result<BTreeSet<MessageQueue>, ConsumerError> {
        let route = match self.instance.cached_route(topic) {
            Some(route) => route,
            None => self.instance.update_route(topic).await?,
        };
        let mq_all = subscribe_queues(topic, &route);
        if self.config.model == MessageModel::Broadcasting {
            return Ok(mq_all.into_iter().collect());
        }
        let Some(first) = mq_all.first() else {
            return Ok(BTreeSet::new());
        };
        let cid_all =
            broker::consumer_ids(&self.instance, &first.broker_name, &self.config.group).await?;
        let mine = self.config.strategy.allocate(
            &self.config.group,
            self.instance.client_id(),
            &mq_all,
            &cid_all,
        )?;
        Ok(mine.into_iter().collect())
    }

    /// Drops queues of `topic` not in `mine`, starts new ones; returns
    /// whether anything changed.
    async fn apply(self: &Arc<Self>, topic: &str, mine: BTreeSet<MessageQueue>) -> bool {
        let dropped: Vec<(MessageQueue, Arc<ProcessQueue>)> = match self.queues.lock() {
            Ok(mut queues) => {
                let gone: Vec<MessageQueue> = queues
                    .keys()
                    .filter(|mq| mq.topic == topic && !mine.contains(*mq))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .filter_map(|mq| queues.remove(&mq).map(|pq| (mq, pq)))
                    .collect()
            }
            Err(_) => return false,
        };
        let mut changed = !dropped.is_empty();
        for (mq, pq) in dropped {
            pq.drop_queue();
            self.commit_dropped(&mq).await;
        }
        let current: BTreeSet<MessageQueue> = self
            .queues
            .lock()
            .map(|q| q.keys().cloned().collect())
            .unwrap_or_default();
        for mq in mine.into_iter().filter(|mq| !current.contains(mq)) {
            match self.start_offset(&mq).await {
                Ok(offset) => {
                    self.offsets.update(&mq, offset, false);
                    self.start_queue(mq, offset);
                    changed = true;
                }
                Err(error) => tracing::debug!(%mq, %error, "cannot start queue yet"),
            }
        }
        changed
    }

    /// Persists a dropped queue's offset and forgets it (CLUSTERING).
    async fn commit_dropped(&self, mq: &MessageQueue) {
        if self.config.model == MessageModel::Broadcasting {
            return;
        }
        if let Some(offset) = self.offsets.remove(mq)
            && let Err(error) =
                broker::update_offset(&self.instance, &self.config.group, mq, offset).await
        {
            tracing::debug!(%mq, %error, "offset commit of a dropped queue failed");
        }
    }

    /// Where to start pulling `mq`: the stored offset, else per ConsumeFrom.
    async fn start_offset(&self, mq: &MessageQueue) -> Result<i64, ConsumerError> {
        let stored = match self.config.model {
            MessageModel::Broadcasting => self.offsets.read(mq),
            MessageModel::Clustering => {
                broker::query_offset(&self.instance, &self.config.group, mq).await?
            }
        };
        if let Some(offset) = stored.filter(|o| *o >= 0) {
            return Ok(offset);
        }
        let retry = ringmq_net::topic::is_retry_topic(&mq.topic);
        match self.config.consume_from {
            ConsumeFrom::FirstOffset => Ok(0),
            ConsumeFrom::LastOffset if retry => Ok(0),
            ConsumeFrom::LastOffset => broker::max_offset(&self.instance, mq).await,
            ConsumeFrom::Timestamp(_) if retry => broker::max_offset(&self.instance, mq).await,
            ConsumeFrom::Timestamp(ms) => broker::search_offset(&self.instance, mq, ms).await,
        }
    }

    fn start_queue(self: &Arc<Self>, mq: MessageQueue, offset: i64) {
        let pq = Arc::new(ProcessQueue::default());
        if let Ok(mut queues) = self.queues.lock() {
            queues.insert(mq.clone(), pq.clone());
        }
        let task = tokio::spawn(self.clone().pull_loop(mq, pq, offset));
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
        }
    }
}
