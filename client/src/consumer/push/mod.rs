//! The push consumer: long-polling pulls per assigned queue feed a pool of
//! listener workers; offsets are committed every 5 s and on shutdown;
//! queues are re-allocated every 20 s and when a broker says the group's
//! members changed (spec §7.2–§7.7). With an orderly listener
//! ([`PushConsumerBuilder::orderly_listener`]) each queue is locked at its
//! broker and consumed one call at a time in offset order
//! ([`crate::consumer::orderly`]). A failed message the broker cannot take
//! back is re-sent by the consumer itself to the group's retry topic.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ringmq_client::consumer::push::PushConsumer;
//! use ringmq_client::consumer::{ConsumeFrom, ConsumeResult};
//!
//! let consumer = PushConsumer::builder("orders-cg")
//!     .namesrv("127.0.0.1:9876")
//!     .subscribe("Orders", "created || paid")
//!     .consume_from(ConsumeFrom::FirstOffset)
//!     .listener(|msgs| async move {
//!         for m in &msgs {
//!             println!("{} {:?}", m.msg_id, m.body);
//!         }
//!         ConsumeResult::Success
//!     })
//!     .start()
//!     .await?;
//! // ... later
//! consumer.shutdown().await;
//! # Ok(()) }
//! ```

mod orderly;
mod pull_loop;
mod rebalance;
mod send_back;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ringmq_net::body::{
    ConsumeDirectlyOutcome, ConsumeMessageDirectlyResult, ConsumeType, ConsumerData,
    ConsumerRunningInfo, MessageModel, SubscriptionData, encode_json,
};
use ringmq_net::record::RecordView;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::message_ext::{MessageExt, retry_topic};
use super::offset_store::{LocalOffsetFile, OffsetTable};
use super::orderly::{
    ConsumeOrderlyContext, ConsumeOrderlyStatus, LOCK_LEASE_DEFAULT, LOCK_RENEW_INTERVAL_DEFAULT,
    MessageListenerOrderly, OrderlyFn, SUSPEND_DEFAULT,
};
use super::process_queue::ProcessQueue;
use super::subscription::Subscription;
use super::{ConsumeFrom, ConsumeResult, ConsumerError, DEFAULT_CONSUMER_GROUP};
use crate::allocate::{AllocateStrategy, Averagely};
use crate::instance::{BoxFuture, ClientConfig, ClientInstance, InboundConsumer};
use crate::message::validate_group;
use crate::queue::MessageQueue;

/// Messages per pull (`pullBatchSize`).
pub const PULL_BATCH_SIZE_DEFAULT: i32 = 32;
/// Largest pull batch a broker serves.
pub const PULL_BATCH_SIZE_MAX: i32 = 1_024;
/// Long-poll hold asked of the broker.
pub const PULL_SUSPEND_DEFAULT: Duration = Duration::from_secs(15);
/// Listener tasks running at once (`consumeThreadMax`).
pub const CONSUME_CONCURRENCY_DEFAULT: usize = 20;
/// Upper bound on the listener concurrency.
pub const CONSUME_CONCURRENCY_MAX: usize = 1_024;
/// Messages per listener call (`consumeMessageBatchMaxSize`).
pub const CONSUME_BATCH_SIZE_DEFAULT: usize = 1;
/// Flow control: buffered messages per queue (`pullThresholdForQueue`).
pub const QUEUE_CACHED_MESSAGES_MAX: usize = 1_000;
/// Flow control: buffered body bytes per queue (`pullThresholdSizeForQueue`).
pub const QUEUE_CACHED_BYTES_MAX: usize = 100 * 1024 * 1024;
/// Flow control: offset span buffered per queue (`consumeConcurrentlyMaxSpan`).
pub const QUEUE_SPAN_MAX: i64 = 2_000;
/// Retries before the broker moves a message to the DLQ, for a concurrent
/// consumer that set none (Java: `maxReconsumeTimes = -1` means 16).
pub const MAX_RECONSUME_TIMES_DEFAULT: i32 = 16;
/// `max_reconsume_times` unset (Java's -1): 16 for a concurrent consumer,
/// unlimited (`i32::MAX`, Java's `Integer.MAX_VALUE`) for an orderly one.
pub const MAX_RECONSUME_TIMES_UNSET: i32 = -1;
/// Rebalance interval.
pub const REBALANCE_INTERVAL_DEFAULT: Duration = Duration::from_secs(20);
/// Offset commit interval.
pub const PERSIST_INTERVAL_DEFAULT: Duration = Duration::from_secs(5);
/// Pause after a failed pull.
pub const PULL_RETRY_DELAY: Duration = Duration::from_secs(3);
/// Pause when flow control holds a queue.
pub const FLOW_CONTROL_DELAY: Duration = Duration::from_millis(50);
/// Pause before re-consuming messages whose send-back failed.
pub const LOCAL_RECONSUME_DELAY: Duration = Duration::from_secs(5);
/// How long shutdown waits for running listener calls.
pub const SHUTDOWN_CONSUME_WAIT: Duration = Duration::from_secs(30);
/// Local re-consumption attempts of a message the broker would not take back.
pub const LOCAL_RECONSUME_ATTEMPTS_MAX: u32 = 1_000;

/// A listener: given messages of one queue, says whether they were consumed.
pub type Listener = Arc<dyn Fn(Vec<MessageExt>) -> BoxFuture<'static, ConsumeResult> + Send + Sync>;

/// How a consumer consumes: concurrently, or one queue at a time in order.
#[derive(Clone)]
pub(crate) enum ListenerKind {
    /// Java `MessageListenerConcurrently`.
    Concurrently(Listener),
    /// Java `MessageListenerOrderly`.
    Orderly(Arc<dyn MessageListenerOrderly>),
}

/// Settings of a push consumer.
#[derive(Clone)]
pub struct PushConfig {
    pub(crate) group: String,
    pub(crate) client: ClientConfig,
    pub(crate) model: MessageModel,
    pub(crate) consume_from: ConsumeFrom,
    pub(crate) strategy: Arc<dyn AllocateStrategy>,
    pub(crate) pull_batch_size: i32,
    pub(crate) pull_suspend: Duration,
    pub(crate) consume_concurrency: usize,
    pub(crate) consume_batch_size: usize,
    pub(crate) max_reconsume_times: i32,
    pub(crate) rebalance_interval: Duration,
    pub(crate) persist_interval: Duration,
    pub(crate) offset_dir: PathBuf,
    pub(crate) lock_renew_interval: Duration,
    pub(crate) lock_lease: Duration,
    pub(crate) suspend_time: Duration,
}

/// Configures and starts a [`PushConsumer`].
pub struct PushConsumerBuilder {
    config: PushConfig,
    subscriptions: Vec<(String, String)>,
    listener: Option<ListenerKind>,
}

impl PushConsumerBuilder {
    /// Signs every request with RocketMQ ACL credentials (see [`crate::acl`]).
    pub fn with_credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        self.config.client = self.config.client.with_credentials(access_key, secret_key);
        self
    }

    /// Nameserver addresses, `;`- or `,`-separated.
    pub fn namesrv(mut self, addrs: &str) -> Self {
        self.config.client = self.config.client.with_namesrv(addrs);
        self
    }

    /// The instance name; BROADCASTING offsets are kept per instance name,
    /// so set it to resume after a restart.
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.config.client.instance_name = name.into();
        self
    }

    /// Subscribes to `topic` with a tag expression (`"*"`, `"A || B"`).
    pub fn subscribe(mut self, topic: impl Into<String>, expression: impl Into<String>) -> Self {
        self.subscriptions.push((topic.into(), expression.into()));
        self
    }

    /// CLUSTERING (default) or BROADCASTING.
    pub fn message_model(mut self, model: MessageModel) -> Self {
        self.config.model = model;
        self
    }

    /// Where to start on queues the group has no offset for.
    pub fn consume_from(mut self, from: ConsumeFrom) -> Self {
        self.config.consume_from = from;
        self
    }

    /// The queue allocation strategy (default [`Averagely`]).
    pub fn allocate_strategy(mut self, strategy: Arc<dyn AllocateStrategy>) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// Messages per pull (default 32, at most 1024).
    pub fn pull_batch_size(mut self, n: i32) -> Self {
        self.config.pull_batch_size = n.clamp(1, PULL_BATCH_SIZE_MAX);
        self
    }

    /// Long-poll hold asked of the broker (default 15 s).
    pub fn pull_suspend(mut self, hold: Duration) -> Self {
        self.config.pull_suspend = hold;
        self
    }

    /// Listener calls running at once (default 20).
    pub fn consume_concurrency(mut self, n: usize) -> Self {
        self.config.consume_concurrency = n.clamp(1, CONSUME_CONCURRENCY_MAX);
        self
    }

    /// Messages per listener call (default 1, at most 1024).
    pub fn consume_batch_size(mut self, n: usize) -> Self {
        self.config.consume_batch_size = n.clamp(1, 1_024);
        self
    }

    /// Retries before a message is dead-lettered (default: 16 for a
    /// concurrent listener, unlimited for an orderly one, as in Java).
    pub fn max_reconsume_times(mut self, n: i32) -> Self {
        self.config.max_reconsume_times = n;
        self
    }

    /// Rebalance and offset-commit intervals (default 20 s and 5 s).
    pub fn intervals(mut self, rebalance: Duration, persist: Duration) -> Self {
        self.config.rebalance_interval = rebalance;
        self.config.persist_interval = persist;
        self
    }

    /// Heartbeat and route refresh interval (default 30 s).
    pub fn heartbeat_interval(mut self, every: Duration) -> Self {
        self.config.client.heartbeat_interval = every;
        self.config.client.route_poll_interval = every;
        self
    }

    /// Base directory of BROADCASTING offsets (default `~/.rocketmq_offsets`).
    pub fn offset_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.offset_dir = dir.into();
        self
    }

    /// The function called with consumed messages.
    pub fn listener<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Vec<MessageExt>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsumeResult> + Send + 'static,
    {
        self.listener = Some(ListenerKind::Concurrently(Arc::new(move |msgs| {
            Box::pin(f(msgs))
        })));
        self
    }

    /// Consumes in order ([`crate::consumer::orderly`]): `f` is called with
    /// consecutive messages of one queue at a time.
    pub fn orderly_listener<F, Fut>(self, f: F) -> Self
    where
        F: Fn(Vec<MessageExt>, ConsumeOrderlyContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsumeOrderlyStatus> + Send + 'static,
    {
        self.message_listener_orderly(OrderlyFn(f))
    }

    /// Consumes in order with a [`MessageListenerOrderly`].
    pub fn message_listener_orderly(
        mut self,
        listener: impl MessageListenerOrderly + 'static,
    ) -> Self {
        self.listener = Some(ListenerKind::Orderly(Arc::new(listener)));
        self
    }

    /// Orderly consumption: how often queue locks are renewed at the
    /// brokers (default 20 s) and how long a granted lock is trusted
    /// without renewal (default 30 s; keep it below the broker's 60 s).
    pub fn lock_intervals(mut self, renew: Duration, lease: Duration) -> Self {
        self.config.lock_renew_interval = renew;
        self.config.lock_lease = lease;
        self
    }

    /// Orderly consumption: the pause of a suspended queue (default 1 s).
    pub fn suspend_current_queue_time(mut self, pause: Duration) -> Self {
        self.config.suspend_time = pause;
        self
    }

    /// Validates, starts the client, heartbeats, rebalances once and starts
    /// pulling. Needs a tokio runtime.
    pub async fn start(self) -> Result<PushConsumer, ConsumerError> {
        validate_group(&self.config.group, DEFAULT_CONSUMER_GROUP)?;
        if self.config.client.namesrv_addrs.is_empty() {
            return Err(ConsumerError::NoNameserver);
        }
        let listener = self.listener.ok_or(ConsumerError::NoListener)?;
        if self.subscriptions.is_empty() {
            return Err(ConsumerError::NothingToConsume);
        }
        let version = ringmq_net::message_id::now_ms();
        let mut subscriptions = BTreeMap::new();
        for (topic, expr) in &self.subscriptions {
            subscriptions.insert(topic.clone(), Subscription::parse(topic, expr, version)?);
        }
        if self.config.model == MessageModel::Clustering {
            let retry = retry_topic(&self.config.group);
            subscriptions.insert(retry.clone(), Subscription::parse(&retry, "*", version)?);
        }
        let instance = ClientInstance::start(self.config.client.clone());
        let local_file = (self.config.model == MessageModel::Broadcasting).then(|| {
            let key = format!(
                "{}@{}",
                instance.client_ip(),
                self.config.client.instance_name
            );
            LocalOffsetFile::new(&self.config.offset_dir, &key, &self.config.group)
        });
        let offsets = match &local_file {
            Some(file) => OffsetTable::with_offsets(file.load()?),
            None => OffsetTable::default(),
        };
        let shared = Arc::new(PushShared {
            workers: Arc::new(Semaphore::new(self.config.consume_concurrency)),
            config: self.config,
            instance,
            subscriptions,
            listener,
            releasing: Mutex::default(),
            retry_producer: Mutex::default(),
            commit_gate: tokio::sync::Mutex::default(),
            queues: Mutex::default(),
            offsets,
            local_file,
            stopping: AtomicBool::new(false),
            tasks: Mutex::default(),
        });
        shared.register();
        for topic in shared.subscriptions.keys() {
            if let Err(error) = shared.instance.update_route(topic).await {
                tracing::debug!(%topic, %error, "no route yet");
            }
        }
        shared.instance.heartbeat_all().await;
        shared.rebalance().await;
        shared.clone().spawn_timers();
        Ok(PushConsumer { shared })
    }
}

/// State shared by the pull loops, workers and timers of one consumer.
pub(crate) struct PushShared {
    pub(crate) config: PushConfig,
    pub(crate) instance: ClientInstance,
    pub(crate) subscriptions: BTreeMap<String, Subscription>,
    pub(crate) listener: ListenerKind,
    /// Orderly queues taken away whose lock is not yet released.
    pub(crate) releasing: Mutex<BTreeSet<MessageQueue>>,
    /// Sends retry copies when the broker cannot take a message back.
    pub(crate) retry_producer: Mutex<Option<crate::producer::Producer>>,
    /// Serializes offset commits to the brokers (timer, orderly release).
    pub(crate) commit_gate: tokio::sync::Mutex<()>,
    pub(crate) queues: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    pub(crate) offsets: OffsetTable,
    pub(crate) local_file: Option<LocalOffsetFile>,
    pub(crate) workers: Arc<Semaphore>,
    pub(crate) stopping: AtomicBool,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A running push consumer.
pub struct PushConsumer {
    shared: Arc<PushShared>,
}

impl std::fmt::Debug for PushConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConsumer")
            .field("group", &self.shared.config.group)
            .field("client_id", &self.shared.instance.client_id())
            .finish_non_exhaustive()
    }
}

impl PushConsumer {
    /// A builder for a consumer of `group`.
    pub fn builder(group: impl Into<String>) -> PushConsumerBuilder {
        PushConsumerBuilder {
            config: PushConfig {
                group: group.into(),
                client: ClientConfig::default(),
                model: MessageModel::Clustering,
                consume_from: ConsumeFrom::default(),
                strategy: Arc::new(Averagely),
                pull_batch_size: PULL_BATCH_SIZE_DEFAULT,
                pull_suspend: PULL_SUSPEND_DEFAULT,
                consume_concurrency: CONSUME_CONCURRENCY_DEFAULT,
                consume_batch_size: CONSUME_BATCH_SIZE_DEFAULT,
                max_reconsume_times: MAX_RECONSUME_TIMES_UNSET,
                rebalance_interval: REBALANCE_INTERVAL_DEFAULT,
                persist_interval: PERSIST_INTERVAL_DEFAULT,
                offset_dir: LocalOffsetFile::default_dir(),
                lock_renew_interval: LOCK_RENEW_INTERVAL_DEFAULT,
                lock_lease: LOCK_LEASE_DEFAULT,
                suspend_time: SUSPEND_DEFAULT,
            },
            subscriptions: Vec::new(),
            listener: None,
        }
    }

    /// The client id brokers see.
    pub fn client_id(&self) -> &str {
        self.shared.instance.client_id()
    }

    /// The queues currently assigned to this consumer, sorted.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut queues: Vec<MessageQueue> = self
            .shared
            .queues
            .lock()
            .map(|q| q.keys().cloned().collect())
            .unwrap_or_default();
        queues.sort();
        queues
    }

    /// The committed offset of `mq` as this consumer knows it.
    pub fn committed_offset(&self, mq: &MessageQueue) -> Option<i64> {
        self.shared.offsets.read(mq)
    }

    /// Rebalances now (normally every 20 s and on membership changes).
    pub async fn rebalance(&self) {
        self.shared.rebalance().await;
    }

    /// Stops pulling, waits for running listeners, commits offsets,
    /// unregisters from the brokers and closes connections.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        shared.stopping.store(true, Ordering::Release);
        let queues: Vec<Arc<ProcessQueue>> = shared
            .queues
            .lock()
            .map(|q| q.values().cloned().collect())
            .unwrap_or_default();
        for pq in &queues {
            pq.drop_queue();
        }
        let tasks: Vec<JoinHandle<()>> = shared
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for task in tasks {
            task.abort();
        }
        // Wait for in-flight listener calls: take every permit (bounded by
        // the pool size), then release them.
        let permits = u32::try_from(shared.config.consume_concurrency).unwrap_or(u32::MAX);
        let drained =
            tokio::time::timeout(SHUTDOWN_CONSUME_WAIT, shared.workers.acquire_many(permits)).await;
        if drained.is_err() {
            tracing::warn!(
                "listeners still running after {SHUTDOWN_CONSUME_WAIT:?}; committing what is done"
            );
        }
        shared.persist_offsets().await;
        shared.unlock_all().await;
        shared.stop_retry_producer().await;
        shared.instance.shutdown().await;
    }
}

impl PushConfig {
    /// The reconsume limit in force: as set, else Java's default for the
    /// listener kind (see [`MAX_RECONSUME_TIMES_UNSET`]).
    pub(crate) fn max_reconsume(&self, orderly: bool) -> i32 {
        match (self.max_reconsume_times, orderly) {
            (MAX_RECONSUME_TIMES_UNSET, false) => MAX_RECONSUME_TIMES_DEFAULT,
            (MAX_RECONSUME_TIMES_UNSET, true) => i32::MAX,
            (n, _) => n,
        }
    }
}

impl PushShared {
    fn consumer_data(&self) -> ConsumerData {
        ConsumerData {
            consume_from_where: self.config.consume_from.wire(),
            consume_type: ConsumeType::ConsumePassively,
            group_name: self.config.group.clone(),
            message_model: self.config.model,
            subscription_data_set: self.subscriptions.values().map(subscription_data).collect(),
            unit_mode: false,
        }
    }

    fn register(self: &Arc<Self>) {
        let inbound: Arc<dyn InboundConsumer> = Arc::new(Inbound(Arc::downgrade(self)));
        self.instance
            .register_consumer(self.consumer_data(), Some(inbound));
    }

    fn spawn_timers(self: Arc<Self>) {
        let weak = Arc::downgrade(&self);
        let mut stop = self.instance.shutdown_signal();
        let rebalance_every = self.config.rebalance_interval;
        let persist_every = self.config.persist_interval;
        let renew_every = self.config.lock_renew_interval;
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut rebalance = tokio::time::interval_at(start + rebalance_every, rebalance_every);
            let mut persist = tokio::time::interval_at(start + persist_every, persist_every);
            let mut renew = tokio::time::interval_at(start + renew_every, renew_every);
            rebalance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            persist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let Some(me) = weak.upgrade() else { break };
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = rebalance.tick() => me.rebalance().await,
                    _ = me.instance.rebalance_wanted().notified() => me.rebalance().await,
                    _ = persist.tick() => me.persist_offsets().await,
                    _ = renew.tick() => me.renew_locks().await,
                }
            }
        });
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.push(task);
        }
    }

    /// Commits every assigned queue's offset (broker or local file).
    pub(crate) async fn persist_offsets(&self) {
        // One commit round at a time, and never interleaved with an orderly
        // release: an older offset sent late would undo the release's.
        let _gate = self.commit_gate.lock().await;
        let assigned: Vec<MessageQueue> = self
            .queues
            .lock()
            .map(|q| q.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(file) = &self.local_file {
            if let Err(error) = file.save(&self.offsets.snapshot()) {
                tracing::warn!(%error, "cannot save local offsets");
            }
            return;
        }
        for mq in assigned {
            if let Some(offset) = self.offsets.read(&mq)
                && let Err(error) =
                    super::broker::update_offset(&self.instance, &self.config.group, &mq, offset)
                        .await
            {
                tracing::debug!(%mq, %error, "offset commit failed");
            }
        }
    }

    fn running_info(&self) -> ConsumerRunningInfo {
        let mut info = ConsumerRunningInfo::default();
        info.properties
            .insert("consumerGroup".into(), self.config.group.clone());
        info.properties.insert(
            "messageModel".into(),
            format!("{:?}", self.config.model).to_uppercase(),
        );
        info.properties
            .insert("consumeType".into(), "CONSUME_PASSIVELY".into());
        info.properties
            .insert("consumeOrderly".into(), self.is_orderly().to_string());
        info.properties
            .insert("PROP_CLIENT_VERSION".into(), "ringmq-client".into());
        // Java 4.9's `ConsumerRunningInfo.PROP_*` names, read by mqadmin.
        info.properties
            .insert("PROP_CONSUME_TYPE".into(), "CONSUME_PASSIVELY".into());
        info.properties
            .insert("PROP_CONSUMEORDERLY".into(), self.is_orderly().to_string());
        info.properties.insert(
            "PROP_NAMESERVER_ADDR".into(),
            self.config.client.namesrv_addrs.join(";"),
        );
        info.subscription_set = self.subscriptions.values().map(subscription_data).collect();
        if let Ok(queues) = self.queues.lock() {
            for (mq, pq) in queues.iter() {
                let value = serde_json::json!({
                    "cachedMsgCount": pq.count(),
                    "cachedMsgSizeInMiB": pq.bytes() / (1024 * 1024),
                    "commitOffset": self.offsets.read(mq).unwrap_or(-1),
                    "droped": pq.is_dropped(),
                });
                info.mq_table.insert(mq.clone(), value);
            }
        }
        info
    }
}

impl PushShared {
    /// Runs the listener on one message (CONSUME_MESSAGE_DIRECTLY).
    async fn consume_one(&self, msg: MessageExt) -> ConsumeDirectlyOutcome {
        match &self.listener {
            ListenerKind::Concurrently(listener) => match listener(vec![msg]).await {
                ConsumeResult::Success => ConsumeDirectlyOutcome::Success,
                ConsumeResult::ReconsumeLater => ConsumeDirectlyOutcome::Later,
            },
            ListenerKind::Orderly(listener) => {
                let context = ConsumeOrderlyContext { queue: msg.queue() };
                match listener.consume_message(vec![msg], context).await {
                    ConsumeOrderlyStatus::Success => ConsumeDirectlyOutcome::Success,
                    ConsumeOrderlyStatus::SuspendCurrentQueueAMoment => {
                        ConsumeDirectlyOutcome::Later
                    }
                }
            }
        }
    }
}

fn subscription_data(s: &Subscription) -> SubscriptionData {
    SubscriptionData::tag(&s.topic, &s.expression, s.version)
}

/// Answers broker→client calls for one consumer without keeping it alive.
struct Inbound(std::sync::Weak<PushShared>);

impl InboundConsumer for Inbound {
    fn running_info(&self) -> Vec<u8> {
        self.0
            .upgrade()
            .and_then(|s| encode_json(&s.running_info()).ok())
            .unwrap_or_default()
    }

    /// RESET_CONSUMER_CLIENT_OFFSET (Java `resetOffset`): drops the queues,
    /// stores the new offsets (at the broker in CLUSTERING, where the next
    /// rebalance reads a queue's start offset), then rebalances so the
    /// queues start again from there.
    fn reset_offsets(&self, topic: &str, offsets: BTreeMap<MessageQueue, i64>) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        let mut moved = Vec::new();
        for (mq, offset) in offsets {
            if mq.topic != topic {
                continue;
            }
            let pq = shared.queues.lock().ok().and_then(|mut q| q.remove(&mq));
            if let Some(pq) = pq {
                pq.drop_queue();
            }
            shared.offsets.update(&mq, offset, false);
            moved.push((mq, offset));
        }
        if let Ok(mut releasing) = shared.releasing.lock() {
            releasing.extend(moved.iter().map(|(mq, _)| mq.clone()));
        }
        tokio::spawn(async move {
            // No periodic commit of an older position may land in between.
            let gate = shared.commit_gate.lock().await;
            for (mq, offset) in &moved {
                // Again: a message settled after the drop raised it.
                shared.offsets.update(mq, *offset, false);
                if shared.config.model != MessageModel::Clustering {
                    continue;
                }
                let group = &shared.config.group;
                if let Err(error) =
                    super::broker::commit_offset(&shared.instance, group, mq, *offset).await
                {
                    tracing::warn!(%mq, %error, "the reset offset could not be stored");
                }
            }
            drop(gate);
            if let Ok(mut releasing) = shared.releasing.lock() {
                for (mq, _) in &moved {
                    releasing.remove(mq);
                }
            }
            shared.instance.rebalance_wanted().notify_one();
        });
    }

    fn consume_directly(&self, record: Bytes) -> BoxFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let Some(shared) = self.0.upgrade() else {
                return Vec::new();
            };
            let msg = RecordView::parse(&record)
                .ok()
                .and_then(|view| MessageExt::from_record(&view, ""));
            let mut result = ConsumeMessageDirectlyResult::default();
            let started = std::time::Instant::now();
            match msg {
                Some(msg) => result.consume_result = Some(shared.consume_one(msg).await),
                None => result.remark = Some("the message record does not decode".into()),
            }
            result.spent_time_mills =
                i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            encode_json(&result).unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod reconsume_limit_tests {
    use super::*;

    #[test]
    fn unset_limit_is_16_concurrently_and_unlimited_orderly_as_in_java() {
        let builder = PushConsumer::builder("g");
        assert_eq!(builder.config.max_reconsume(false), 16);
        assert_eq!(builder.config.max_reconsume(true), i32::MAX);
        let set = PushConsumer::builder("g").max_reconsume_times(3);
        assert_eq!(set.config.max_reconsume(false), 3);
        assert_eq!(set.config.max_reconsume(true), 3);
    }
}
