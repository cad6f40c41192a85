//! What every shard shares ("shared-something"): the configuration, the
//! metadata tables (topics, subscription groups, consumer offsets, client
//! registry), the senders of every shard's inbox, and counters.
//!
//! Lives in one `Arc` seen by all shard threads and the control thread.
//! Each table has one `std::sync::Mutex`; locks are held for a few map
//! operations and never across `.await`. Message data is never here: it
//! belongs to the shard that owns its queue.
//!
//! The topic and group tables are read on every send and pull; shards read
//! them from their own [`Snapshot`] instead of locking: a writer bumps the
//! table's epoch (an atomic only writers store to), and a shard rebuilds
//! its copy under the lock only when the epoch it last saw has moved.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clients::{ClientRegistry, GroupChange};
use crate::config::BrokerConfig;
use crate::groups::SubscriptionGroupTable;
use crate::offsets::ConsumerOffsetTable;
use crate::outbound::Outbound;
use crate::shard::ShardMessage;
use crate::topics::TopicTable;

/// Events for the control thread.
pub enum ControlEvent {
    /// Topics changed: persist `topics.json` and re-register now.
    TopicsChanged,
    /// Subscription groups changed: persist `subscriptionGroup.json`.
    GroupsChanged,
    /// Stop: persist everything, unregister, exit.
    Shutdown,
}

/// Shared broker state.
pub struct BrokerState {
    pub config: BrokerConfig,
    /// Address written as STOREHOST and used in message ids and registration.
    pub store_host: SocketAddr,
    pub topics: Mutex<TopicTable>,
    /// [`TopicTable::epoch`], readable without the lock.
    pub topics_epoch: Arc<AtomicU64>,
    pub groups: Mutex<SubscriptionGroupTable>,
    /// [`SubscriptionGroupTable::epoch`], readable without the lock.
    pub groups_epoch: Arc<AtomicU64>,
    pub offsets: Mutex<ConsumerOffsetTable>,
    pub clients: Mutex<ClientRegistry>,
    pub locks: Mutex<crate::locks::QueueLocks>,
    /// Inbox of each shard, indexed by shard id.
    pub shards: Vec<flume::Sender<ShardMessage>>,
    pub control: flume::Sender<ControlEvent>,
    pub started_ms: i64,
    next_connection_id: AtomicU64,
    pub shutting_down: AtomicBool,
    /// Shard threads not yet finished (the control thread persists offsets
    /// only after they drained).
    pub shards_running: AtomicUsize,
    pub counters: Counters,
    /// Transactions whose outcome is being written.
    pub transactions: crate::transaction::TransactionState,
    /// Open client connections, for `connections_max` (see [`crate::limits`]).
    pub connection_counts: Arc<crate::limits::ConnectionCounts>,
    /// The ACL in force when `acl_enable` is set.
    pub acl: crate::acl::Acl,
    /// Prometheus metrics (`crate::metrics`).
    pub metrics: crate::metrics::BrokerMetrics,
    /// Producer throttle rules (`crate::throttle`).
    pub throttles: crate::throttle::Throttles,
    /// Write-path flow-control limits (`crate::flow`), changeable live.
    pub flow: crate::flow::FlowLimits,
    /// Put/get TPS samples (`crate::tps`).
    pub tps: crate::tps::TpsSampler,
    /// Minute/hour/day windows for VIEW_BROKER_STATS_DATA (`crate::broker_stats`).
    pub stats_windows: crate::broker_stats::StatsWindows,
    /// Pull-holding keys changeable live (`crate::live_config`).
    pub polling: crate::live_config::LivePolling,
    /// Which shards' stores take writes (`crate::disk`).
    pub store_health: crate::disk::StoreHealth,
}

/// Monotonic counters for GET_BROKER_RUNTIME_INFO.
#[derive(Default)]
pub struct Counters {
    pub messages_put: AtomicU64,
    pub messages_got: AtomicU64,
    pub connections_open: AtomicU64,
}

/// Locks a table, recovering it if a panicking thread poisoned the lock
/// (the tables stay consistent: every update is a few map operations).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One shard's copy of a shared table (see the module doc).
pub struct Snapshot<T> {
    /// The epoch `current` was built at; `None` before the first build.
    seen: Cell<Option<u64>>,
    current: RefCell<Rc<T>>,
}

impl<T: Default> Default for Snapshot<T> {
    fn default() -> Self {
        Snapshot {
            seen: Cell::new(None),
            current: RefCell::new(Rc::default()),
        }
    }
}

impl<T> Snapshot<T> {
    /// The copy, rebuilt first with `build` (which locks the table) if
    /// `epoch` moved since the last build. The epoch is read before the
    /// build, so a change racing the build only causes another rebuild.
    pub fn read(&self, epoch: &AtomicU64, build: impl FnOnce() -> T) -> Rc<T> {
        let now = epoch.load(Ordering::Acquire);
        if self.seen.get() != Some(now) {
            let fresh = Rc::new(build());
            *self.current.borrow_mut() = fresh;
            self.seen.set(Some(now));
        }
        self.current.borrow().clone()
    }
}

impl BrokerState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: BrokerConfig,
        store_host: SocketAddr,
        topics: TopicTable,
        groups: SubscriptionGroupTable,
        offsets: ConsumerOffsetTable,
        shards: Vec<flume::Sender<ShardMessage>>,
        control: flume::Sender<ControlEvent>,
    ) -> BrokerState {
        let shard_count = shards.len();
        let acl = crate::acl::Acl::new(&config);
        let config_dir = config.data_dir.clone();
        let flow = crate::flow::FlowLimits::new(&config);
        let polling = crate::live_config::LivePolling::new(&config);
        BrokerState {
            config,
            store_host,
            topics_epoch: topics.epoch(),
            topics: Mutex::new(topics),
            groups_epoch: groups.epoch(),
            groups: Mutex::new(groups),
            offsets: Mutex::new(offsets),
            clients: Mutex::new(ClientRegistry::default()),
            locks: Mutex::new(crate::locks::QueueLocks::default()),
            shards,
            control,
            started_ms: crate::clock::now_ms(),
            next_connection_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            shards_running: AtomicUsize::new(shard_count),
            counters: Counters::default(),
            transactions: crate::transaction::TransactionState::default(),
            connection_counts: Arc::default(),
            acl,
            metrics: crate::metrics::BrokerMetrics::new(shard_count),
            throttles: crate::throttle::Throttles::new(crate::throttle::path(&config_dir)),
            flow,
            tps: crate::tps::TpsSampler::default(),
            stats_windows: crate::broker_stats::StatsWindows::new(crate::clock::now_ms()),
            polling,
            store_health: crate::disk::StoreHealth::new(shard_count),
        }
    }

    pub fn next_connection_id(&self) -> u64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Tells the control thread about a change (never blocks).
    pub fn signal(&self, event: ControlEvent) {
        let _ = self.control.try_send(event);
    }

    /// Posts NOTIFY_CONSUMER_IDS_CHANGED (one-way) to each member of each
    /// changed group. A full outbound queue drops the notice: the client
    /// rebalances every 20 s anyway.
    pub fn announce(&self, changes: Vec<GroupChange>) {
        if !self.config.notify_consumer_ids_changed_enable {
            return;
        }
        for change in changes {
            let enabled = lock(&self.groups)
                .get(&change.group)
                .is_none_or(|g| g.notify_consumer_ids_changed_enable);
            if !enabled {
                continue;
            }
            let mut notice = ringmq_net::command::RemotingCommand::request(
                ringmq_net::code::request::NOTIFY_CONSUMER_IDS_CHANGED,
            )
            .with_header(&ringmq_net::header::NotifyConsumerIdsChangedRequestHeader {
                consumer_group: change.group.clone(),
            });
            notice.set_oneway();
            for member in &change.members {
                if let Some(frame) = Outbound::command(&notice) {
                    member.try_post(frame);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::topics::TopicConfig;

    #[test]
    fn snapshot_is_rebuilt_only_when_the_table_changed() {
        let mut table = TopicTable::default();
        let epoch = table.epoch();
        let snapshot: Snapshot<crate::topics::TopicSnapshot> = Snapshot::default();
        let builds = Cell::new(0);
        let read = |table: &TopicTable| {
            snapshot.read(&epoch, || {
                builds.set(builds.get() + 1);
                table.snapshot()
            })
        };
        assert!(read(&table).is_empty());
        assert!(read(&table).is_empty());
        assert_eq!(builds.get(), 1, "unchanged table: no rebuild");
        table.upsert(TopicConfig::new("T", 4, 6)).unwrap();
        assert_eq!(read(&table).get("T").unwrap().write_queue_nums, 4);
        assert_eq!(builds.get(), 2);
        table.upsert(TopicConfig::new("T", 4, 6)).unwrap();
        read(&table);
        assert_eq!(
            builds.get(),
            2,
            "an upsert that changes nothing keeps the epoch"
        );
        assert!(table.remove("T"));
        assert!(read(&table).get("T").is_none());
        assert_eq!(builds.get(), 3);
    }
}
