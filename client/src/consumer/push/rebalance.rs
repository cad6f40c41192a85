//! The push consumer's side of rebalance ([`crate::consumer::rebalance`]):
//! owning a queue means a process queue and its pull loop; releasing one
//! stops the loop and commits its offset (spec §7.2, §7.5).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ringmq_net::body::MessageModel;

use super::PushShared;
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::rebalance::{self, Assignee, Rebalancer, Scope};
use crate::consumer::{ConsumerError, broker};
use crate::queue::MessageQueue;

impl PushShared {
    /// One rebalance round over every subscribed topic.
    pub(crate) async fn rebalance(self: &Arc<Self>) {
        if self.stopping.load(Ordering::Acquire) {
            return;
        }
        let rebalancer = self.rebalancer();
        let assignee = PushAssignee(self);
        let mut changed = false;
        for topic in self.subscriptions.keys() {
            match rebalancer.allocation(topic).await {
                Ok(mine) => {
                    changed |=
                        rebalance::apply(&rebalancer, &assignee, Scope::Topic(topic), mine).await;
                }
                Err(error) => tracing::debug!(%topic, %error, "rebalance skipped"),
            }
        }
        if changed {
            self.instance.heartbeat_all().await;
        }
    }

    fn rebalancer(&self) -> Rebalancer<'_> {
        Rebalancer {
            instance: &self.instance,
            group: &self.config.group,
            model: self.config.model,
            strategy: self.config.strategy.as_ref(),
            consume_from: self.config.consume_from,
        }
    }

    /// Persists a dropped queue's offset and forgets it (CLUSTERING).
    pub(crate) async fn commit_dropped(&self, mq: &MessageQueue) {
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

    fn start_queue(self: &Arc<Self>, mq: MessageQueue, offset: i64) {
        let pq = Arc::new(ProcessQueue::default());
        if self.needs_locks() {
            // Only queues the broker just granted are started.
            pq.orderly.set_locked(std::time::Instant::now());
        }
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

/// The push consumer as rebalance sees it.
struct PushAssignee<'a>(&'a Arc<PushShared>);

impl Assignee for PushAssignee<'_> {
    fn owned(&self, scope: Scope<'_>) -> BTreeSet<MessageQueue> {
        self.0
            .queues
            .lock()
            .map(|q| q.keys().filter(|mq| scope.contains(mq)).cloned().collect())
            .unwrap_or_default()
    }

    async fn release(&self, mq: MessageQueue) {
        let pq = self.0.queues.lock().ok().and_then(|mut q| q.remove(&mq));
        let Some(pq) = pq else { return };
        if self.0.needs_locks() {
            self.0.release_orderly(mq, pq);
        } else {
            pq.drop_queue();
            self.0.commit_dropped(&mq).await;
        }
    }

    async fn admit(&self, added: Vec<MessageQueue>) -> Vec<MessageQueue> {
        if self.0.needs_locks() {
            self.0.lock_new_queues(added).await
        } else {
            // A queue being released or reset comes back only after it is.
            let releasing = self
                .0
                .releasing
                .lock()
                .map(|r| r.clone())
                .unwrap_or_default();
            added
                .into_iter()
                .filter(|mq| !releasing.contains(mq))
                .collect()
        }
    }

    async fn stored_offset(&self, mq: &MessageQueue) -> Result<Option<i64>, ConsumerError> {
        let shared = self.0;
        match shared.config.model {
            MessageModel::Broadcasting => Ok(shared.offsets.read(mq)),
            MessageModel::Clustering => {
                broker::query_offset(&shared.instance, &shared.config.group, mq).await
            }
        }
    }

    fn start(&self, mq: MessageQueue, offset: i64) {
        self.0.offsets.update(&mq, offset, false);
        self.0.start_queue(mq, offset);
    }
}
