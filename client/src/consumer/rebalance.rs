//! The one rebalance core of every consumer (spec §7.2, §7.5): which queues
//! of a topic this client should own now (route, group members, allocation
//! strategy), where a newly owned queue starts, and how the owned set moves
//! to the wanted one.
//!
//! The push consumer and the lite pull consumer differ only in what owning
//! a queue means (a pull loop feeding listeners, or a prefetch task feeding
//! `poll`); they say it through [`Assignee`], and [`apply`] does the rest.

use std::collections::BTreeSet;
use std::future::Future;

use ringmq_net::body::MessageModel;

use super::{ConsumeFrom, ConsumerError, broker};
use crate::allocate::AllocateStrategy;
use crate::instance::{ClientInstance, subscribe_queues};
use crate::queue::MessageQueue;

/// What a consumer does when rebalance gives it a queue or takes one away.
pub(crate) trait Assignee: Sync {
    /// The queues owned now within `scope` (one topic, or every topic).
    fn owned(&self, scope: Scope<'_>) -> BTreeSet<MessageQueue>;

    /// Stops consuming `mq` (committing its offset) and forgets it.
    fn release(&self, mq: MessageQueue) -> impl Future<Output = ()> + Send;

    /// The offset stored for `mq` (on the broker, or locally), if any.
    fn stored_offset(
        &self,
        mq: &MessageQueue,
    ) -> impl Future<Output = Result<Option<i64>, ConsumerError>> + Send;

    /// The queues of `added` that may be started now (an orderly consumer
    /// first locks them at their brokers); by default all of them.
    fn admit(&self, added: Vec<MessageQueue>) -> impl Future<Output = Vec<MessageQueue>> + Send {
        async move { added }
    }

    /// Starts consuming `mq` at `offset`.
    fn start(&self, mq: MessageQueue, offset: i64);
}

/// Which owned queues a rebalance step may touch.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// The queues of one topic.
    Topic(&'a str),
    /// Every owned queue (a manual assignment).
    All,
}

impl Scope<'_> {
    /// Whether `mq` is within the scope.
    pub(crate) fn contains(self, mq: &MessageQueue) -> bool {
        match self {
            Scope::Topic(topic) => mq.topic == topic,
            Scope::All => true,
        }
    }
}

/// Who is rebalancing: the settings allocation needs.
pub(crate) struct Rebalancer<'a> {
    /// The client runtime.
    pub instance: &'a ClientInstance,
    /// The consumer group.
    pub group: &'a str,
    /// CLUSTERING shares queues; BROADCASTING takes them all.
    pub model: MessageModel,
    /// The allocation strategy.
    pub strategy: &'a dyn AllocateStrategy,
    /// Where to start a queue with no stored offset.
    pub consume_from: ConsumeFrom,
}

impl Rebalancer<'_> {
    /// The queues of `topic` this consumer should own now.
    pub(crate) async fn allocation(
        &self,
        topic: &str,
    ) -> Result<BTreeSet<MessageQueue>, ConsumerError> {
        let route = match self.instance.cached_route(topic) {
            Some(route) => route,
            None => self.instance.update_route(topic).await?,
        };
        let mq_all = subscribe_queues(topic, &route);
        if self.model == MessageModel::Broadcasting {
            return Ok(mq_all.into_iter().collect());
        }
        let Some(first) = mq_all.first() else {
            return Ok(BTreeSet::new());
        };
        let cid_all = broker::consumer_ids(self.instance, &first.broker_name, self.group).await?;
        let mine =
            self.strategy
                .allocate(self.group, self.instance.client_id(), &mq_all, &cid_all)?;
        Ok(mine.into_iter().collect())
    }

    /// Where to start `mq`: its stored offset, else per [`ConsumeFrom`]
    /// (a retry topic starts at its beginning unless asked for a time).
    pub(crate) async fn start_offset(
        &self,
        assignee: &impl Assignee,
        mq: &MessageQueue,
    ) -> Result<i64, ConsumerError> {
        if let Some(offset) = assignee.stored_offset(mq).await?.filter(|o| *o >= 0) {
            return Ok(offset);
        }
        let retry = ringmq_net::topic::is_retry_topic(&mq.topic);
        match self.consume_from {
            ConsumeFrom::FirstOffset => Ok(0),
            ConsumeFrom::LastOffset if retry => Ok(0),
            ConsumeFrom::LastOffset => broker::max_offset(self.instance, mq).await,
            ConsumeFrom::Timestamp(_) if retry => broker::max_offset(self.instance, mq).await,
            ConsumeFrom::Timestamp(ms) => broker::search_offset(self.instance, mq, ms).await,
        }
    }
}

/// Moves the owned queues within `scope` to `wanted`: releases the owned
/// ones not wanted, then starts the wanted ones not owned (those admitted,
/// at their start offsets). Returns whether anything changed.
pub(crate) async fn apply(
    rebalancer: &Rebalancer<'_>,
    assignee: &impl Assignee,
    scope: Scope<'_>,
    wanted: BTreeSet<MessageQueue>,
) -> bool {
    let (dropped, added) = diff(&assignee.owned(scope), &wanted);
    let mut changed = !dropped.is_empty();
    for mq in dropped {
        assignee.release(mq).await;
    }
    if added.is_empty() {
        return changed;
    }
    for mq in assignee.admit(added).await {
        match rebalancer.start_offset(assignee, &mq).await {
            Ok(offset) => {
                assignee.start(mq, offset);
                changed = true;
            }
            Err(error) => tracing::debug!(%mq, %error, "cannot start queue yet"),
        }
    }
    changed
}

/// The queues to drop (owned, not wanted) and to add (wanted, not owned),
/// each sorted.
pub(crate) fn diff(
    owned: &BTreeSet<MessageQueue>,
    wanted: &BTreeSet<MessageQueue>,
) -> (Vec<MessageQueue>, Vec<MessageQueue>) {
    let dropped = owned.difference(wanted).cloned().collect();
    let added = wanted.difference(owned).cloned().collect();
    (dropped, added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(topic: &str, id: i32) -> MessageQueue {
        MessageQueue::new(topic, "b", id)
    }

    #[test]
    fn diff_drops_the_unwanted_and_adds_the_missing() {
        let owned: BTreeSet<_> = [q("T", 0), q("T", 1), q("T", 2)].into();
        let wanted: BTreeSet<_> = [q("T", 2), q("T", 3)].into();
        let (dropped, added) = diff(&owned, &wanted);
        assert_eq!(dropped, vec![q("T", 0), q("T", 1)]);
        assert_eq!(added, vec![q("T", 3)]);
        assert_eq!(diff(&wanted, &wanted), (Vec::new(), Vec::new()));
    }

    #[test]
    fn a_topic_scope_covers_only_its_topic() {
        assert!(Scope::Topic("T").contains(&q("T", 0)));
        assert!(!Scope::Topic("T").contains(&q("U", 0)));
        assert!(Scope::All.contains(&q("U", 0)));
    }
}
