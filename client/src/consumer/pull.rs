//! The lite pull consumer: the application calls [`PullConsumer::poll`] for
//! messages and commits when it wants; queues are either assigned by hand
//! or allocated by subscription with the group (Java `DefaultLitePullConsumer`).
//!
//! A prefetch task per queue long-polls the broker and feeds one bounded
//! channel (the flow control); `poll` takes from it. [`PullConsumer::seek`]
//! restarts a queue's prefetch at the new offset and discards what was
//! prefetched before (by generation number). Offsets are CLUSTERING-style,
//! on the broker: `commit` (and the auto-commit timer) writes the position
//! after the last polled message of each queue.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ringmq_client::consumer::pull::PullConsumer;
//! use std::time::Duration;
//!
//! let consumer = PullConsumer::builder("audit-cg").namesrv("127.0.0.1:9876").start()?;
//! consumer.subscribe("Orders", "*").await?;
//! let batch = consumer.poll(Duration::from_secs(1)).await?;
//! for m in &batch {
//!     println!("{} @ {}", m.msg_id, m.queue_offset);
//! }
//! consumer.commit().await;
//! consumer.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringmq_net::body::{ConsumeType, ConsumerData, MessageModel, SubscriptionData};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::broker::{self, PullOutcome, PullSpec};
use super::message_ext::MessageExt;
use super::offset_store::OffsetTable;
use super::rebalance::{self, Assignee, Rebalancer, Scope};
use super::subscription::Subscription;
use super::{ConsumeFrom, ConsumerError, DEFAULT_CONSUMER_GROUP};
use crate::allocate::{AllocateStrategy, Averagely};
use crate::instance::{ClientConfig, ClientInstance, subscribe_queues};
use crate::message::validate_group;
use crate::queue::MessageQueue;

/// Pulled batches buffered between the prefetch tasks and `poll`.
pub const PREFETCH_BATCHES_MAX: usize = 64;
/// Messages per pull.
pub const PULL_BATCH_SIZE_DEFAULT: i32 = 32;
/// Long-poll hold of a prefetch pull.
pub const PREFETCH_SUSPEND: Duration = Duration::from_secs(15);
/// Auto-commit interval.
pub const AUTO_COMMIT_INTERVAL_DEFAULT: Duration = Duration::from_secs(5);
/// Rebalance interval in subscribe mode.
pub const REBALANCE_INTERVAL_DEFAULT: Duration = Duration::from_secs(20);
/// Pause after a failed pull.
pub const PULL_RETRY_DELAY: Duration = Duration::from_secs(3);

/// Configures a [`PullConsumer`].
pub struct PullConsumerBuilder {
    group: String,
    client: ClientConfig,
    consume_from: ConsumeFrom,
    strategy: Arc<dyn AllocateStrategy>,
    batch: i32,
    auto_commit: bool,
    commit_interval: Duration,
    rebalance_interval: Duration,
}

impl PullConsumerBuilder {
    /// Signs every request with RocketMQ ACL credentials (see [`crate::acl`]).
    pub fn with_credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        self.client = self.client.with_credentials(access_key, secret_key);
        self
    }

    /// Nameserver addresses, `;`- or `,`-separated.
    pub fn namesrv(mut self, addrs: &str) -> Self {
        self.client = self.client.with_namesrv(addrs);
        self
    }

    /// Where to start on queues the group has no offset for.
    pub fn consume_from(mut self, from: ConsumeFrom) -> Self {
        self.consume_from = from;
        self
    }

    /// The allocation strategy in subscribe mode (default [`Averagely`]).
    pub fn allocate_strategy(mut self, strategy: Arc<dyn AllocateStrategy>) -> Self {
        self.strategy = strategy;
        self
    }

    /// Messages per pull (default 32).
    pub fn pull_batch_size(mut self, n: i32) -> Self {
        self.batch = n.clamp(1, 1_024);
        self
    }

    /// Commit polled positions automatically every `every` (default on, 5 s).
    pub fn auto_commit(mut self, on: bool, every: Duration) -> Self {
        self.auto_commit = on;
        self.commit_interval = every;
        self
    }

    /// Rebalance interval in subscribe mode (default 20 s).
    pub fn rebalance_interval(mut self, every: Duration) -> Self {
        self.rebalance_interval = every;
        self
    }

    /// Starts the client. Needs a tokio runtime.
    pub fn start(self) -> Result<PullConsumer, ConsumerError> {
        validate_group(&self.group, DEFAULT_CONSUMER_GROUP)?;
        if self.client.namesrv_addrs.is_empty() {
            return Err(ConsumerError::NoNameserver);
        }
        let instance = ClientInstance::start(self.client.clone());
        let (tx, rx) = mpsc::channel(PREFETCH_BATCHES_MAX);
        let shared = Arc::new(LiteShared {
            config: self,
            instance,
            subscriptions: Mutex::default(),
            assigned: Mutex::default(),
            subscribe_mode: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            positions: OffsetTable::default(),
            tx,
            rx: tokio::sync::Mutex::new(rx),
            timers: Mutex::default(),
        });
        shared.clone().spawn_timers();
        Ok(PullConsumer { shared })
    }
}

struct QueueSlot {
    generation: u64,
    task: JoinHandle<()>,
}

struct Prefetched {
    mq: MessageQueue,
    generation: u64,
    msgs: Vec<MessageExt>,
}

struct LiteShared {
    config: PullConsumerBuilder,
    instance: ClientInstance,
    subscriptions: Mutex<BTreeMap<String, Subscription>>,
    assigned: Mutex<HashMap<MessageQueue, QueueSlot>>,
    subscribe_mode: AtomicBool,
    generation: AtomicU64,
    /// Next offset to poll per queue = what `commit` writes.
    positions: OffsetTable,
    tx: mpsc::Sender<Prefetched>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Prefetched>>,
    timers: Mutex<Vec<JoinHandle<()>>>,
}

/// A lite pull consumer.
pub struct PullConsumer {
    shared: Arc<LiteShared>,
}

impl std::fmt::Debug for PullConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullConsumer")
            .field("group", &self.shared.config.group)
            .finish_non_exhaustive()
    }
}

impl PullConsumer {
    /// A builder for a consumer of `group`.
    pub fn builder(group: impl Into<String>) -> PullConsumerBuilder {
        PullConsumerBuilder {
            group: group.into(),
            client: ClientConfig::default(),
            consume_from: ConsumeFrom::default(),
            strategy: Arc::new(Averagely),
            batch: PULL_BATCH_SIZE_DEFAULT,
            auto_commit: true,
            commit_interval: AUTO_COMMIT_INTERVAL_DEFAULT,
            rebalance_interval: REBALANCE_INTERVAL_DEFAULT,
        }
    }

    /// The readable queues of `topic`.
    pub async fn fetch_queues(&self, topic: &str) -> Result<Vec<MessageQueue>, ConsumerError> {
        let route = self.shared.instance.update_route(topic).await?;
        Ok(subscribe_queues(topic, &route))
    }

    /// Subscribes to `topic`; its queues are shared with the group's other
    /// members (rebalanced every 20 s and on membership changes).
    pub async fn subscribe(&self, topic: &str, expression: &str) -> Result<(), ConsumerError> {
        let sub = Subscription::parse(topic, expression, ringmq_net::message_id::now_ms())?;
        if let Ok(mut subs) = self.shared.subscriptions.lock() {
            subs.insert(topic.to_string(), sub);
        }
        self.shared.subscribe_mode.store(true, Ordering::Release);
        self.shared.instance.update_route(topic).await?;
        self.shared.register();
        self.shared.instance.heartbeat_all().await;
        self.shared.rebalance().await;
        Ok(())
    }

    /// Consumes exactly `queues` (no group rebalancing), replacing any
    /// earlier assignment.
    pub async fn assign(&self, queues: Vec<MessageQueue>) -> Result<(), ConsumerError> {
        if queues.is_empty() {
            return Err(ConsumerError::NothingToConsume);
        }
        self.shared.subscribe_mode.store(false, Ordering::Release);
        for mq in &queues {
            if !self.shared.instance.has_route(&mq.topic) {
                self.shared.instance.update_route(&mq.topic).await?;
            }
        }
        self.shared.register();
        self.shared
            .set_assignment(queues.into_iter().collect())
            .await;
        Ok(())
    }

    /// The queues currently consumed, sorted.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        let mut queues: Vec<MessageQueue> = self
            .shared
            .assigned
            .lock()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        queues.sort();
        queues
    }

    /// Waits up to `timeout` for messages; returns an empty batch on timeout.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>, ConsumerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.shared.rx.lock().await;
        loop {
            let batch = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return Ok(Vec::new()),
                Ok(None) => return Err(ConsumerError::Shutdown),
                Ok(Some(batch)) => batch,
            };
            if let Some(msgs) = self.shared.accept(batch) {
                return Ok(msgs);
            }
        }
    }

    /// Moves `mq` so the next poll returns messages from `offset`.
    pub async fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<(), ConsumerError> {
        let known = self
            .shared
            .assigned
            .lock()
            .map(|a| a.contains_key(mq))
            .unwrap_or(false);
        if !known {
            return Err(ConsumerError::NothingToConsume);
        }
        self.shared.positions.update(mq, offset, false);
        self.shared.start_queue(mq.clone(), offset);
        Ok(())
    }

    /// The position (next offset to poll) of `mq`.
    pub fn position(&self, mq: &MessageQueue) -> Option<i64> {
        self.shared.positions.read(mq)
    }

    /// Commits the position of every assigned queue to the broker.
    pub async fn commit(&self) {
        self.shared.commit().await;
    }

    /// Commits (if auto-commit is on), stops prefetching and unregisters.
    pub async fn shutdown(&self) {
        if self.shared.config.auto_commit {
            self.shared.commit().await;
        }
        let timers: Vec<JoinHandle<()>> = self
            .shared
            .timers
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for t in timers {
            t.abort();
        }
        let slots: Vec<QueueSlot> = self
            .shared
            .assigned
            .lock()
            .map(|mut a| a.drain().map(|(_, s)| s).collect())
            .unwrap_or_default();
        for slot in slots {
            slot.task.abort();
        }
        self.shared.instance.shutdown().await;
    }
}

impl LiteShared {
    fn register(self: &Arc<Self>) {
        let subs: Vec<SubscriptionData> = self
            .subscriptions
            .lock()
            .map(|s| {
                s.values()
                    .map(|s| SubscriptionData::tag(&s.topic, &s.expression, s.version))
                    .collect()
            })
            .unwrap_or_default();
        let data = ConsumerData {
            consume_from_where: self.config.consume_from.wire(),
            consume_type: ConsumeType::ConsumeActively,
            group_name: self.config.group.clone(),
            message_model: MessageModel::Clustering,
            subscription_data_set: subs,
            unit_mode: false,
        };
        self.instance.register_consumer(data, None);
    }

    /// Checks a prefetched batch is still current, filters tags, advances
    /// the position; `None` if nothing in it is for the caller.
    fn accept(&self, batch: Prefetched) -> Option<Vec<MessageExt>> {
        let current = self
            .assigned
            .lock()
            .ok()?
            .get(&batch.mq)
            .map(|s| s.generation);
        if current != Some(batch.generation) {
            return None;
        }
        let last = batch.msgs.last()?.queue_offset;
        self.positions.update(&batch.mq, last + 1, false);
        let sub = self
            .subscriptions
            .lock()
            .ok()?
            .get(&batch.mq.topic)
            .cloned();
        let msgs: Vec<MessageExt> = batch
            .msgs
            .into_iter()
            .filter(|m| sub.as_ref().is_none_or(|s| s.matches(m.tags())))
            .collect();
        (!msgs.is_empty()).then_some(msgs)
    }

    async fn commit(&self) {
        let assigned: Vec<MessageQueue> = self
            .assigned
            .lock()
            .map(|a| a.keys().cloned().collect())
            .unwrap_or_default();
        for mq in assigned {
            if let Some(offset) = self.positions.read(&mq)
                && let Err(error) =
                    broker::update_offset(&self.instance, &self.config.group, &mq, offset).await
            {
                tracing::debug!(%mq, %error, "commit failed");
            }
        }
    }

    fn spawn_timers(self: Arc<Self>) {
        let weak = Arc::downgrade(&self);
        let mut stop = self.instance.shutdown_signal();
        let commit_every = self.config.commit_interval;
        let rebalance_every = self.config.rebalance_interval;
        let auto_commit = self.config.auto_commit;
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut commit = tokio::time::interval_at(start + commit_every, commit_every);
            let mut rebalance = tokio::time::interval_at(start + rebalance_every, rebalance_every);
            loop {
                let Some(me) = weak.upgrade() else { break };
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = commit.tick() => if auto_commit { me.commit().await },
                    _ = rebalance.tick() => me.rebalance().await,
                    _ = me.instance.rebalance_wanted().notified() => me.rebalance().await,
                }
            }
        });
        if let Ok(mut timers) = self.timers.lock() {
            timers.push(task);
        }
    }

    async fn rebalance(self: &Arc<Self>) {
        if !self.subscribe_mode.load(Ordering::Acquire) {
            return;
        }
        let topics: Vec<String> = self
            .subscriptions
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        let rebalancer = self.rebalancer();
        let mut mine = BTreeSet::new();
        for topic in topics {
            match rebalancer.allocation(&topic).await {
                Ok(queues) => mine.extend(queues),
                Err(error) => {
                    tracing::debug!(%topic, %error, "rebalance skipped");
                    return;
                }
            }
        }
        self.set_assignment(mine).await;
    }

    fn rebalancer(&self) -> Rebalancer<'_> {
        Rebalancer {
            instance: &self.instance,
            group: &self.config.group,
            model: MessageModel::Clustering,
            strategy: self.config.strategy.as_ref(),
            consume_from: self.config.consume_from,
        }
    }

    /// Makes `wanted` the whole assignment (subscribed or assigned by hand).
    async fn set_assignment(self: &Arc<Self>, wanted: BTreeSet<MessageQueue>) {
        let rebalancer = self.rebalancer();
        rebalance::apply(&rebalancer, &LiteAssignee(self), Scope::All, wanted).await;
    }

    /// (Re)starts the prefetch of `mq` at `offset` under a new generation.
    fn start_queue(self: &Arc<Self>, mq: MessageQueue, offset: i64) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let task = tokio::spawn(self.clone().prefetch(mq.clone(), generation, offset));
        if let Ok(mut a) = self.assigned.lock()
            && let Some(old) = a.insert(mq, QueueSlot { generation, task })
        {
            old.task.abort();
        }
    }

    async fn prefetch(self: Arc<Self>, mq: MessageQueue, generation: u64, mut offset: i64) {
        let expression = self
            .subscriptions
            .lock()
            .ok()
            .and_then(|s| s.get(&mq.topic).map(|s| (s.expression.clone(), s.version)))
            .unwrap_or_else(|| ("*".to_string(), 0));
        let mut stop = self.instance.shutdown_signal();
        while !*stop.borrow() {
            let spec = PullSpec {
                group: &self.config.group,
                mq: &mq,
                offset,
                batch: self.config.batch,
                commit_offset: None,
                suspend: Some(PREFETCH_SUSPEND),
                expression: Some(&expression.0),
                sub_version: expression.1,
            };
            let pulled = tokio::select! {
                _ = stop.changed() => break,
                pulled = broker::pull(&self.instance, &spec, true) => pulled,
            };
            match pulled {
                Ok(PullOutcome::Found { msgs, next_offset }) => {
                    offset = next_offset;
                    if msgs.is_empty() {
                        continue;
                    }
                    let batch = Prefetched {
                        mq: mq.clone(),
                        generation,
                        msgs,
                    };
                    if self.tx.send(batch).await.is_err() {
                        break;
                    }
                }
                Ok(PullOutcome::NoNewMessage { next_offset })
                | Ok(PullOutcome::OffsetMoved { next_offset }) => {
                    offset = next_offset;
                }
                Err(error) => {
                    tracing::debug!(%mq, %error, "prefetch pull failed; retrying later");
                    tokio::time::sleep(PULL_RETRY_DELAY).await;
                }
            }
        }
    }
}

/// The lite pull consumer as rebalance sees it.
struct LiteAssignee<'a>(&'a Arc<LiteShared>);

impl Assignee for LiteAssignee<'_> {
    fn owned(&self, scope: Scope<'_>) -> BTreeSet<MessageQueue> {
        self.0
            .assigned
            .lock()
            .map(|a| a.keys().filter(|mq| scope.contains(mq)).cloned().collect())
            .unwrap_or_default()
    }

    async fn release(&self, mq: MessageQueue) {
        let shared = self.0;
        let slot = shared.assigned.lock().ok().and_then(|mut a| a.remove(&mq));
        if let Some(slot) = slot {
            slot.task.abort();
        }
        if let Some(offset) = shared.positions.remove(&mq)
            && let Err(error) =
                broker::update_offset(&shared.instance, &shared.config.group, &mq, offset).await
        {
            tracing::debug!(%mq, %error, "offset commit of a dropped queue failed");
        }
    }

    async fn stored_offset(&self, mq: &MessageQueue) -> Result<Option<i64>, ConsumerError> {
        broker::query_offset(&self.0.instance, &self.0.config.group, mq).await
    }

    fn start(&self, mq: MessageQueue, offset: i64) {
        self.0.positions.update(&mq, offset, false);
        self.0.start_queue(mq, offset);
    }
}
