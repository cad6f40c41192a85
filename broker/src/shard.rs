//! Shards: one thread per shard, each a compio event loop that owns a set of
//! queues and the message store holding them, accepts its share of the
//! connections, and serves requests forwarded by other shards.
//!
//! # Ownership rule
//!
//! Queue `(topic, queueId)` belongs to shard
//! `(fnv1a64(topic) + queueId) mod shards`: a topic's queues are dealt out
//! round-robin starting at a topic-dependent shard, so every shard gets an
//! even share of every topic with at least as many queues as shards. Only
//! the owner appends to a queue, reads its consume queue and parks long
//! polls on it; the rule depends only on the shard count, so keep that
//! count when restarting on the same data directory.
//!
//! # Forwarding
//!
//! A request for a queue owned by another shard is sent to the owner's inbox
//! as a [`ShardMessage`] carrying a oneshot for the answer; the connection's
//! shard awaits it and writes the reply. Pull answers carry segment byte
//! ranges, which the connection's shard maps and sends (published data is
//! immutable, so any shard may read it).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;

use crate::groups::{GroupSnapshot, SubscriptionGroupConfig};
use crate::long_poll::PullHolds;
use crate::state::{BrokerState, Snapshot, lock};
use crate::store::{
    KeyQuery, PullJob, PullOutcome, PutJob, PutOutcome, QueueAnswer, QueueQuery, RecordAt,
    ShardStore,
};
use crate::topics::{TopicConfig, TopicSnapshot};
use crate::transfer::SegmentMaps;

/// Messages waiting in a shard's inbox before forwarders wait for room.
pub const SHARD_INBOX_MAX: usize = 65_536;
/// How long a stopping shard waits for in-flight requests to finish.
pub const DRAIN_WAIT_MS_MAX: u64 = 5_000;
/// Period of the retention check (expired segment deletion).
pub const RETENTION_PERIOD_MS: u64 = 60_000;
/// Poll period of the drain wait.
const DRAIN_POLL_MS: u64 = 10;

/// The shard that owns `(topic, queue_id)` (see the module doc).
pub fn owner_of(topic: &str, queue_id: i32, shards: usize) -> usize {
    let hash = ringmq_net::hash::fnv1a64(topic.as_bytes());
    let shards = shards.max(1) as u64;
    (hash.wrapping_add(u64::from(queue_id as u32)) % shards) as usize
}

/// A request forwarded to the shard that owns its queue.
pub enum ShardMessage {
    Put(PutJob, oneshot::Sender<PutOutcome>),
    /// A client send, flow-controlled on the owner (`crate::flow`).
    Send(
        PutJob,
        oneshot::Sender<Result<PutOutcome, crate::flow::Busy>>,
    ),
    Pull(PullJob, oneshot::Sender<PullOutcome>),
    Queue(QueueQuery, oneshot::Sender<QueueAnswer>),
    ReadRecord(i64, oneshot::Sender<Option<RecordAt>>),
    QueryKey(KeyQuery, oneshot::Sender<Vec<RecordAt>>),
    /// The state of a shard's commit log (GET_BROKER_RUNTIME_INFO).
    StoreInfo(oneshot::Sender<StoreInfo>),
    /// Delete a topic's stored data (DELETE_TOPIC_IN_BROKER).
    DeleteTopic(String, oneshot::Sender<()>),
    /// A POP operation on a queue this shard owns (`crate::pop`).
    Pop(crate::pop::PopMessage),
    /// A request of an in-process client (`crate::gateway`), run through
    /// the processors on this shard.
    Gateway(
        crate::gateway::GatewayCall,
        oneshot::Sender<Option<ringmq_net::command::RemotingCommand>>,
    ),
    /// Stop accepting, finish in-flight work, flush, exit.
    Shutdown,
}

/// One shard's commit log: local offsets and read-only state.
#[derive(Debug, Clone, Default)]
pub struct StoreInfo {
    pub min_offset: u64,
    pub max_offset: u64,
    pub read_only: Option<String>,
    /// Long polls parked on this shard.
    pub held_pulls: usize,
}

/// One shard: lives on its own thread, shared by that thread's tasks (`Rc`).
pub struct Shard {
    pub id: usize,
    pub state: Arc<BrokerState>,
    pub store: ShardStore,
    pub holds: RefCell<PullHolds>,
    pub maps: RefCell<SegmentMaps>,
    /// Requests being processed on this shard (for the drain at shutdown).
    pub in_flight: Cell<usize>,
    /// This shard's copy of the topic table (read without a shared lock).
    pub topics: Snapshot<TopicSnapshot>,
    /// This shard's copy of the subscription group table.
    pub groups: Snapshot<GroupSnapshot>,
    /// Spreads sends with `queueId < 0` over a topic's write queues.
    pub next_queue: Cell<u32>,
    /// This shard's copy of the producer throttle rules.
    pub throttles: Snapshot<crate::throttle::ThrottleSnapshot>,
    /// POP state of the queues this shard owns (`crate::pop`).
    pub pop: crate::pop::ShardPop,
}

impl Shard {
    /// A topic's configuration from this shard's snapshot.
    pub fn topic(&self, name: &str) -> Option<Rc<TopicConfig>> {
        let state = &self.state;
        let topics = self
            .topics
            .read(&state.topics_epoch, || lock(&state.topics).snapshot());
        topics.get(name).cloned()
    }

    /// A subscription group's configuration from this shard's snapshot.
    pub fn group(&self, name: &str) -> Option<Rc<SubscriptionGroupConfig>> {
        let state = &self.state;
        let groups = self
            .groups
            .read(&state.groups_epoch, || lock(&state.groups).snapshot());
        groups.get(name).cloned()
    }

    /// A group from the snapshot, or created (under the table's lock) when
    /// missing and `auto_create` allows.
    pub fn find_or_create_group(
        &self,
        name: &str,
        auto_create: bool,
    ) -> Option<Rc<SubscriptionGroupConfig>> {
        if let Some(found) = self.group(name) {
            return Some(found);
        }
        lock(&self.state.groups)
            .find_or_create(name, auto_create)
            .map(Rc::new)
    }

    /// The next queue for a send that lets the broker choose, of `queues`.
    pub fn next_queue(&self, queues: i32) -> i32 {
        let n = u32::try_from(queues.max(1)).unwrap_or(1);
        let turn = self.next_queue.get();
        self.next_queue.set(turn.wrapping_add(1));
        // n <= i32::MAX, so the remainder fits.
        (turn % n) as i32
    }

    /// The owner shard of a queue.
    pub fn owner(&self, topic: &str, queue_id: i32) -> usize {
        owner_of(topic, queue_id, self.state.shard_count())
    }

    /// Sends `message` to shard `owner` and awaits its answer; `None` if
    /// that shard is gone (shutting down).
    pub async fn forward<T>(
        &self,
        owner: usize,
        build: impl FnOnce(oneshot::Sender<T>) -> ShardMessage,
    ) -> Option<T> {
        let inbox = self.state.shards.get(owner)?;
        let (tx, rx) = oneshot::channel();
        inbox.send_async(build(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Appends to a queue, here or on its owner.
    pub async fn put(self: &Rc<Self>, job: PutJob) -> PutOutcome {
        let owner = self.owner(&job.topic, job.queue_id);
        if owner == self.id {
            return self.store.put(job).await;
        }
        self.forward(owner, |tx| ShardMessage::Put(job, tx))
            .await
            .unwrap_or_else(PutOutcome::unavailable)
    }

    /// A client send's append, here or on its owner, refused early when
    /// the owner's writer is behind (`crate::flow`).
    pub async fn put_send(self: &Rc<Self>, job: PutJob) -> Result<PutOutcome, crate::flow::Busy> {
        let owner = self.owner(&job.topic, job.queue_id);
        if owner == self.id {
            return self.put_send_here(job).await;
        }
        self.forward(owner, |tx| ShardMessage::Send(job, tx))
            .await
            .unwrap_or_else(|| Ok(PutOutcome::unavailable()))
    }

    async fn put_send_here(&self, job: PutJob) -> Result<PutOutcome, crate::flow::Busy> {
        let limits = self.state.flow.get();
        let outcome = self.store.put_send(job, &limits).await;
        if let Err(busy) = &outcome {
            self.state.metrics.refused(self.id, busy.reason());
        }
        outcome
    }

    /// Pulls from a queue, here or on its owner (long polling included).
    pub async fn pull(self: &Rc<Self>, job: PullJob) -> PullOutcome {
        let owner = self.owner(&job.topic, job.queue_id);
        if owner == self.id {
            return crate::long_poll::pull_or_hold(self, job).await;
        }
        self.forward(owner, |tx| ShardMessage::Pull(job, tx))
            .await
            .unwrap_or_else(PullOutcome::unavailable)
    }

    /// Offsets / timestamps of a queue, here or on its owner.
    pub async fn queue(self: &Rc<Self>, query: QueueQuery) -> QueueAnswer {
        let owner = self.owner(&query.topic, query.queue_id);
        if owner == self.id {
            return self.store.queue(&query).await;
        }
        self.forward(owner, |tx| ShardMessage::Queue(query, tx))
            .await
            .unwrap_or_default()
    }

    /// The record at a physical offset (its shard is in the offset's top bits).
    pub async fn read_record(self: &Rc<Self>, physical_offset: i64) -> Option<RecordAt> {
        let owner = usize::from(ringmq_storage::physical_offset::shard_of(physical_offset));
        if owner == self.id {
            return self.store.read_record(physical_offset).await;
        }
        if owner >= self.state.shard_count() {
            return None;
        }
        self.forward(owner, |tx| ShardMessage::ReadRecord(physical_offset, tx))
            .await
            .flatten()
    }

    /// Records matching a key, asked of every shard (each has its own index).
    pub async fn query_key(self: &Rc<Self>, query: KeyQuery) -> Vec<RecordAt> {
        let mut found = Vec::new();
        for owner in 0..self.state.shard_count() {
            let part = if owner == self.id {
                self.store.query_key(&query).await
            } else {
                let query = query.clone();
                self.forward(owner, |tx| ShardMessage::QueryKey(query, tx))
                    .await
                    .unwrap_or_default()
            };
            found.extend(part);
            if found.len() >= query.max_num {
                found.truncate(query.max_num);
                break;
            }
        }
        found
    }

    /// This shard's [`StoreInfo`].
    pub fn store_info(&self) -> StoreInfo {
        let store = self.store.inner();
        StoreInfo {
            min_offset: store.log_min_offset(),
            max_offset: store.reserved_offset(),
            read_only: store.read_only_reason(),
            held_pulls: self.holds.borrow().held(),
        }
    }

    /// Every shard's [`StoreInfo`], in shard order.
    pub async fn store_infos(self: &Rc<Self>) -> Vec<StoreInfo> {
        let mut out = Vec::with_capacity(self.state.shard_count());
        for owner in 0..self.state.shard_count() {
            let info = if owner == self.id {
                self.store_info()
            } else {
                self.forward(owner, ShardMessage::StoreInfo)
                    .await
                    .unwrap_or_default()
            };
            out.push(info);
        }
        out
    }

    /// Deletes a topic's stored data on every shard.
    pub async fn delete_topic(self: &Rc<Self>, topic: &str) {
        for owner in 0..self.state.shard_count() {
            if owner == self.id {
                self.store.delete_topic(topic).await;
            } else {
                let topic = topic.to_owned();
                self.forward(owner, |tx| ShardMessage::DeleteTopic(topic, tx))
                    .await;
            }
        }
    }

    /// Serves one forwarded message (runs as its own task).
    async fn serve(self: Rc<Self>, message: ShardMessage) {
        match message {
            ShardMessage::Put(job, reply) => {
                let _ = reply.send(self.store.put(job).await);
            }
            ShardMessage::Send(job, reply) => {
                let _ = reply.send(self.put_send_here(job).await);
            }
            ShardMessage::Pull(job, reply) => {
                let _ = reply.send(crate::long_poll::pull_or_hold(&self, job).await);
            }
            ShardMessage::Queue(query, reply) => {
                let _ = reply.send(self.store.queue(&query).await);
            }
            ShardMessage::ReadRecord(offset, reply) => {
                let _ = reply.send(self.store.read_record(offset).await);
            }
            ShardMessage::QueryKey(query, reply) => {
                let _ = reply.send(self.store.query_key(&query).await);
            }
            ShardMessage::StoreInfo(reply) => {
                let _ = reply.send(self.store_info());
            }
            ShardMessage::DeleteTopic(topic, reply) => {
                self.store.delete_topic(&topic).await;
                let _ = reply.send(());
            }
            ShardMessage::Pop(message) => crate::pop::serve(&self, message).await,
            ShardMessage::Gateway(call, reply) => {
                let _ = reply.send(crate::gateway::serve(self, call).await);
            }
            ShardMessage::Shutdown => {}
        }
    }
}

/// Why one shard could not start serving.
#[derive(Debug, thiserror::Error)]
pub enum ShardStartError {
    /// Its compio runtime (io_uring or the polling driver) did not start.
    #[error("shard {shard}: cannot start its event loop: {source}")]
    Runtime {
        shard: usize,
        #[source]
        source: std::io::Error,
    },
    /// Its store could not be opened or recovered.
    #[error("shard {shard}: cannot open its store at {}: {source}", path.display())]
    Store {
        shard: usize,
        path: std::path::PathBuf,
        #[source]
        source: ringmq_storage::OpenError,
    },
    /// Its POP log could not be opened or replayed.
    #[error("shard {shard}: cannot open its POP log: {source}")]
    Pop {
        shard: usize,
        #[source]
        source: crate::pop::journal::JournalError,
    },
    /// The shard number does not fit the store's 16-bit shard id.
    #[error("shard {shard}: a store's shard id is 16 bits")]
    Id { shard: usize },
    /// Its listener could not be registered with the event loop.
    #[error("shard {shard}: cannot use its listener: {source}")]
    Listener {
        shard: usize,
        #[source]
        source: std::io::Error,
    },
    /// The thread ended without saying whether it started.
    #[error("a shard thread died while starting")]
    Died,
}

/// What a shard thread needs to start.
pub struct ShardStart {
    pub id: usize,
    pub state: Arc<BrokerState>,
    pub listener: std::net::TcpListener,
    pub inbox: flume::Receiver<ShardMessage>,
    pub ready: std::sync::mpsc::Sender<Result<(), ShardStartError>>,
}

/// Spawns the shard's thread; it reports on `ready` once it serves.
pub fn spawn(start: ShardStart) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("ringmq-shard-{}", start.id))
        .spawn(move || run_thread(start))
}

fn run_thread(start: ShardStart) {
    let runtime = match compio::runtime::RuntimeBuilder::new().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = start.ready.send(Err(ShardStartError::Runtime {
                shard: start.id,
                source: err,
            }));
            start
                .state
                .shards_running
                .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            return;
        }
    };
    let driver = format!("{:?}", runtime.driver_type());
    if !runtime.driver_type().is_iouring() {
        tracing::warn!(
            shard = start.id,
            driver,
            "io_uring is not available here; using the polling driver"
        );
    }
    let state = start.state.clone();
    runtime.block_on(run(start));
    state
        .shards_running
        .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
}

async fn run(start: ShardStart) {
    let ShardStart {
        id,
        state,
        listener,
        inbox,
        ready,
    } = start;
    let store = match ShardStore::open(&state.config, id).await {
        Ok(store) => store,
        Err(err) => {
            let _ = ready.send(Err(err));
            return;
        }
    };
    let pop = match crate::pop::ShardPop::open(&state.config, id) {
        Ok(pop) => pop,
        Err(source) => {
            let _ = ready.send(Err(ShardStartError::Pop { shard: id, source }));
            return;
        }
    };
    pop.publish_offsets(&state);
    let listener = match compio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            let _ = ready.send(Err(ShardStartError::Listener {
                shard: id,
                source: err,
            }));
            return;
        }
    };
    let shard = Rc::new(Shard {
        id,
        state,
        store,
        holds: RefCell::new(PullHolds::default()),
        maps: RefCell::new(SegmentMaps::default()),
        in_flight: Cell::new(0),
        topics: Snapshot::default(),
        groups: Snapshot::default(),
        next_queue: Cell::new(u32::try_from(id).unwrap_or(0)),
        throttles: Snapshot::default(),
        pop,
    });
    crate::long_poll::install_wakeup(&shard);
    let flush_state = shard.state.clone();
    shard.store.inner().set_flush_listener(Rc::new(move |took| {
        flush_state.metrics.flushed(id, took);
    }));
    let accept = compio::runtime::spawn(accept_loop(shard.clone(), listener));
    let retention = compio::runtime::spawn(crate::disk::watch(shard.clone()));
    let revive = compio::runtime::spawn(crate::pop::revive::run(shard.clone()));
    let schedule = crate::schedule::start(&shard).await;
    let transaction_check = crate::transaction::check::runs_on(id, shard.state.shard_count())
        .then(|| compio::runtime::spawn(crate::transaction::check::run(shard.clone())));
    let _ = ready.send(Ok(()));
    while let Ok(message) = inbox.recv_async().await {
        if matches!(message, ShardMessage::Shutdown) {
            break;
        }
        compio::runtime::spawn(shard.clone().serve(message)).detach();
    }
    drop(accept);
    drop(retention);
    drop(revive);
    schedule.stop().await;
    drop(transaction_check);
    stop(&shard).await;
}

/// Finishes in-flight work (bounded), answers parked pulls, flushes the store.
async fn stop(shard: &Rc<Shard>) {
    crate::long_poll::release_all(shard);
    let mut waited_ms = 0;
    while shard.in_flight.get() > 0 && waited_ms < DRAIN_WAIT_MS_MAX {
        compio::time::sleep(Duration::from_millis(DRAIN_POLL_MS)).await;
        waited_ms += DRAIN_POLL_MS;
    }
    if shard.in_flight.get() > 0 {
        tracing::warn!(
            shard = shard.id,
            in_flight = shard.in_flight.get(),
            "stopping with requests unfinished"
        );
    }
    shard.store.shutdown().await;
    tracing::info!(shard = shard.id, "shard stopped");
}

async fn accept_loop(shard: Rc<Shard>, listener: compio::net::TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => accept(&shard, stream, peer),
            Err(err) => {
                tracing::warn!(shard = shard.id, %err, "accept failed");
                compio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn accept(shard: &Rc<Shard>, stream: compio::net::TcpStream, peer: SocketAddr) {
    if shard.state.is_shutting_down() {
        return;
    }
    let _ = stream.set_nodelay(true);
    compio::runtime::spawn(crate::connection::serve(shard.clone(), stream, peer)).detach();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_queues_of_a_topic_alternate_between_two_shards() {
        let first = owner_of("T", 0, 2);
        assert_ne!(first, owner_of("T", 1, 2));
        assert_eq!(first, owner_of("T", 2, 2));
        assert_eq!(owner_of("T", 5, 1), 0);
    }
}
