//! The route table: which brokers are alive, which cluster and broker name
//! each belongs to, and which queues every topic has on which broker.
//!
//! Pure logic, no I/O and no clock of its own: every call that depends on
//! time takes `now`. The server keeps one [`RouteTable`] behind a mutex and
//! never holds it across an `.await`.
//!
//! Shape (RocketMQ `RouteInfoManager`):
//!
//! ```text
//! clusters: cluster name -> { broker name }
//! brokers:  broker name  -> BrokerData { cluster, broker_addrs: broker id -> "ip:port" }  (id 0 = master)
//! topics:   topic        -> { broker name -> QueueData }
//! live:     broker addr  -> LiveBroker { last_seen, data_version, connection, ha_server_addr }
//! ```
//!
//! A broker disappears when it unregisters, when its registering connection
//! closes ([`RouteTable::connection_closed`]) or when it has not registered
//! for the expiry period ([`RouteTable::expire`]). When the last address of a
//! broker name goes, the name leaves its cluster and every topic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ringmq_net::body::{
    BrokerData, DataVersion, MASTER_ID, PERM_READ, PERM_WRITE, QueueData, TopicConfig,
    TopicRouteData,
};

/// Most topics the table holds; registrations beyond it are refused.
pub const TOPICS_LIMIT: usize = 1_000_000;
/// Most broker addresses the table holds; registrations beyond it are refused.
pub const BROKER_ADDRS_LIMIT: usize = 10_000;

/// Identifies one TCP connection of the server, so that a broker can be
/// dropped when the connection it registered over closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// What the table knows of a registered broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBroker {
    pub last_seen: Instant,
    pub data_version: DataVersion,
    pub connection: ConnectionId,
    pub ha_server_addr: String,
}

/// A REGISTER_BROKER request, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistration {
    pub cluster: String,
    pub broker_name: String,
    pub broker_addr: String,
    pub broker_id: i64,
    pub ha_server_addr: String,
    pub data_version: DataVersion,
    pub topics: Vec<TopicConfig>,
}

/// What a registering slave learns about its master (empty for a master).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationOutcome {
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
}

/// Why the table refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// [`BROKER_ADDRS_LIMIT`] would be exceeded.
    #[error(
        "the nameserver already tracks {BROKER_ADDRS_LIMIT} broker addresses; unregister some brokers first"
    )]
    TooManyBrokers,
    /// [`TOPICS_LIMIT`] would be exceeded.
    #[error("the nameserver already holds {TOPICS_LIMIT} topics; delete unused topics first")]
    TooManyTopics,
}

/// The whole routing state of one nameserver. See the module doc.
#[derive(Debug, Default)]
pub struct RouteTable {
    clusters: BTreeMap<String, BTreeSet<String>>,
    brokers: BTreeMap<String, BrokerData>,
    topics: BTreeMap<String, BTreeMap<String, QueueData>>,
    live: HashMap<String, LiveBroker>,
    /// broker name -> topic -> the data version whose registration last
    /// wrote that topic's queue data: a registration split in several
    /// requests of one version (RocketMQ 5 `splitRegistration`) writes
    /// every part, while a repeat of an applied version writes nothing.
    written: HashMap<String, HashMap<String, DataVersion>>,
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// REGISTER_BROKER: records the broker as alive at `now` and, for a
    /// master whose data version changed (or on first registration), rewrites
    /// its queue data from `registration.topics`.
    pub fn register_broker(
        &mut self,
        registration: BrokerRegistration,
        connection: ConnectionId,
        now: Instant,
    ) -> Result<RegistrationOutcome, RouteError> {
        let reg = registration;
        let known_addr = self.live.contains_key(&reg.broker_addr);
        if !known_addr && self.live.len() >= BROKER_ADDRS_LIMIT {
            return Err(RouteError::TooManyBrokers);
        }
        let new_topics = reg
            .topics
            .iter()
            .filter(|t| !self.topics.contains_key(&t.topic_name))
            .count();
        if self.topics.len().saturating_add(new_topics) > TOPICS_LIMIT {
            return Err(RouteError::TooManyTopics);
        }
        self.clusters
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let group = self
            .brokers
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                cluster: reg.cluster.clone(),
                broker_name: reg.broker_name.clone(),
                broker_addrs: BTreeMap::new(),
                enable_acting_master: false,
            });
        group.cluster.clone_from(&reg.cluster);
        // The same address under a different id replaces the old entry.
        group
            .broker_addrs
            .retain(|id, addr| *id == reg.broker_id || *addr != reg.broker_addr);
        let previous = group
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());
        let first_registration = previous.is_none();
        let master_addr = group.broker_addrs.get(&MASTER_ID).cloned();

        if reg.broker_id == MASTER_ID {
            for topic in &reg.topics {
                if first_registration || self.is_stale(&reg.broker_name, topic, &reg.data_version) {
                    self.put_queue_data(&reg.broker_name, topic);
                    self.written
                        .entry(reg.broker_name.clone())
                        .or_default()
                        .insert(topic.topic_name.clone(), reg.data_version);
                }
            }
        }
        self.live.insert(
            reg.broker_addr.clone(),
            LiveBroker {
                last_seen: now,
                data_version: reg.data_version,
                connection,
                ha_server_addr: reg.ha_server_addr.clone(),
            },
        );
        Ok(self.slave_outcome(reg.broker_id, master_addr))
    }

    /// Whether `topic`'s queue data on `broker_name` was not yet written by
    /// a registration of `version` (or is missing altogether).
    fn is_stale(&self, broker_name: &str, topic: &TopicConfig, version: &DataVersion) -> bool {
        let present = self
            .topics
            .get(&topic.topic_name)
            .is_some_and(|queues| queues.contains_key(broker_name));
        let written = self
            .written
            .get(broker_name)
            .and_then(|topics| topics.get(&topic.topic_name));
        !present || written != Some(version)
    }

    fn slave_outcome(&self, broker_id: i64, master_addr: Option<String>) -> RegistrationOutcome {
        if broker_id == MASTER_ID {
            return RegistrationOutcome::default();
        }
        let Some(master_addr) = master_addr else {
            return RegistrationOutcome::default();
        };
        let ha_server_addr = self
            .live
            .get(&master_addr)
            .map(|b| b.ha_server_addr.clone());
        RegistrationOutcome {
            master_addr: Some(master_addr),
            ha_server_addr,
        }
    }

    fn put_queue_data(&mut self, broker_name: &str, topic: &TopicConfig) {
        let data = QueueData {
            broker_name: broker_name.to_string(),
            read_queue_nums: topic.read_queue_nums,
            write_queue_nums: topic.write_queue_nums,
            perm: topic.perm,
            topic_sys_flag: topic.topic_sys_flag,
        };
        self.topics
            .entry(topic.topic_name.clone())
            .or_default()
            .insert(broker_name.to_string(), data);
    }

    /// True when `version` differs from the one last registered by `addr`
    /// (or `addr` is unknown).
    pub fn data_version_changed(&self, addr: &str, version: &DataVersion) -> bool {
        self.live
            .get(addr)
            .is_none_or(|b| b.data_version != *version)
    }

    /// QUERY_DATA_VERSION: returns whether `version` differs from the known
    /// one and the known one; when unchanged the broker counts as seen `now`.
    pub fn query_data_version(
        &mut self,
        addr: &str,
        version: &DataVersion,
        now: Instant,
    ) -> (bool, Option<DataVersion>) {
        let changed = self.data_version_changed(addr, version);
        let live = self.live.get_mut(addr);
        let known = live.as_ref().map(|b| b.data_version);
        if !changed && let Some(live) = live {
            live.last_seen = now;
        }
        (changed, known)
    }

    /// UNREGISTER_BROKER: forgets one broker id of a broker name.
    pub fn unregister_broker(
        &mut self,
        cluster: &str,
        broker_name: &str,
        broker_addr: &str,
        broker_id: i64,
    ) {
        self.live.remove(broker_addr);
        let Some(group) = self.brokers.get_mut(broker_name) else {
            return;
        };
        if group
            .broker_addrs
            .get(&broker_id)
            .is_some_and(|a| a == broker_addr)
        {
            group.broker_addrs.remove(&broker_id);
        }
        if group.broker_addrs.is_empty() {
            let cluster = if cluster.is_empty() {
                group.cluster.clone()
            } else {
                cluster.to_string()
            };
            self.remove_broker_name(&cluster, broker_name);
        }
    }

    /// The connection a broker registered over closed: drops every broker
    /// address whose latest registration came over it. Returns the addresses.
    pub fn connection_closed(&mut self, connection: ConnectionId) -> Vec<String> {
        let gone: Vec<String> = self
            .live
            .iter()
            .filter(|(_, b)| b.connection == connection)
            .map(|(addr, _)| addr.clone())
            .collect();
        for addr in &gone {
            self.drop_broker_addr(addr);
        }
        gone
    }

    /// Drops every broker not seen within `expiry` before `now`. Returns the
    /// addresses dropped with the connections they registered over (sorted
    /// by address), so the server can close those connections.
    pub fn expire(&mut self, now: Instant, expiry: Duration) -> Vec<(String, ConnectionId)> {
        let mut gone: Vec<(String, ConnectionId)> = self
            .live
            .iter()
            .filter(|(_, b)| now.saturating_duration_since(b.last_seen) > expiry)
            .map(|(addr, b)| (addr.clone(), b.connection))
            .collect();
        gone.sort();
        for (addr, _) in &gone {
            self.drop_broker_addr(addr);
        }
        gone
    }

    fn drop_broker_addr(&mut self, addr: &str) {
        self.live.remove(addr);
        let emptied: Vec<(String, String)> = self
            .brokers
            .values_mut()
            .filter_map(|group| {
                group.broker_addrs.retain(|_, a| a != addr);
                group
                    .broker_addrs
                    .is_empty()
                    .then(|| (group.cluster.clone(), group.broker_name.clone()))
            })
            .collect();
        for (cluster, broker_name) in emptied {
            self.remove_broker_name(&cluster, &broker_name);
        }
    }

    fn remove_broker_name(&mut self, cluster: &str, broker_name: &str) {
        self.brokers.remove(broker_name);
        self.written.remove(broker_name);
        if let Some(names) = self.clusters.get_mut(cluster) {
            names.remove(broker_name);
            if names.is_empty() {
                self.clusters.remove(cluster);
            }
        }
        self.topics.retain(|_, queues| {
            queues.remove(broker_name);
            !queues.is_empty()
        });
    }

    /// GET_ROUTEINFO_BY_TOPIC: `None` when the topic has no queues on a known
    /// broker.
    pub fn topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topics.get(topic)?;
        let broker_datas: Vec<BrokerData> = queues
            .keys()
            .filter_map(|name| self.brokers.get(name).cloned())
            .collect();
        if queues.is_empty() || broker_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData {
            queue_datas: queues.values().cloned().collect(),
            broker_datas,
            ..TopicRouteData::default()
        })
    }

    /// REGISTER_TOPIC_IN_NAMESRV: sets the topic's queues on each named
    /// broker that is registered; others are skipped. Returns how many were set.
    pub fn register_topic(
        &mut self,
        topic: &str,
        queue_datas: &[QueueData],
    ) -> Result<usize, RouteError> {
        if !self.topics.contains_key(topic) && self.topics.len() >= TOPICS_LIMIT {
            return Err(RouteError::TooManyTopics);
        }
        let mut set = 0;
        for data in queue_datas {
            if !self.brokers.contains_key(&data.broker_name) {
                continue;
            }
            self.topics
                .entry(topic.to_string())
                .or_default()
                .insert(data.broker_name.clone(), data.clone());
            set += 1;
        }
        Ok(set)
    }

    /// DELETE_TOPIC_IN_NAMESRV: removes the topic entirely, or only its
    /// queues on the brokers of `cluster` when one is given. Returns whether
    /// anything was removed.
    pub fn delete_topic(&mut self, topic: &str, cluster: Option<&str>) -> bool {
        for topics in self.written.values_mut() {
            topics.remove(topic);
        }
        let Some(cluster) = cluster.filter(|c| !c.is_empty()) else {
            return self.topics.remove(topic).is_some();
        };
        let Some(names) = self.clusters.get(cluster) else {
            return false;
        };
        let Some(queues) = self.topics.get_mut(topic) else {
            return false;
        };
        let before = queues.len();
        queues.retain(|name, _| !names.contains(name));
        let removed = queues.len() != before;
        if queues.is_empty() {
            self.topics.remove(topic);
        }
        removed
    }

    /// WIPE_WRITE_PERM_OF_BROKER: clears the write bit of every queue data of
    /// `broker_name`. Returns the number of topics changed.
    pub fn wipe_write_perm(&mut self, broker_name: &str) -> usize {
        self.update_perm(broker_name, |perm| perm & !PERM_WRITE)
    }

    /// ADD_WRITE_PERM_OF_BROKER: makes every queue data of `broker_name`
    /// readable and writable. Returns the number of topics changed.
    pub fn add_write_perm(&mut self, broker_name: &str) -> usize {
        self.update_perm(broker_name, |_| PERM_READ | PERM_WRITE)
    }

    fn update_perm(&mut self, broker_name: &str, change: impl Fn(i32) -> i32) -> usize {
        let mut count = 0;
        for queues in self.topics.values_mut() {
            if let Some(data) = queues.get_mut(broker_name) {
                data.perm = change(data.perm);
                count += 1;
            }
        }
        count
    }

    /// Every topic name, sorted.
    pub fn topic_names(&self) -> Vec<String> {
        self.topics.keys().cloned().collect()
    }

    /// Topics with queues on any broker of `cluster`, sorted.
    pub fn topics_of_cluster(&self, cluster: &str) -> Vec<String> {
        let Some(names) = self.clusters.get(cluster) else {
            return Vec::new();
        };
        self.topics
            .iter()
            .filter(|(_, queues)| queues.keys().any(|name| names.contains(name)))
            .map(|(topic, _)| topic.clone())
            .collect()
    }

    /// Cluster name -> broker names (GET_BROKER_CLUSTER_INFO).
    pub fn clusters(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.clusters
    }

    /// Broker name -> its group (GET_BROKER_CLUSTER_INFO).
    pub fn broker_groups(&self) -> &BTreeMap<String, BrokerData> {
        &self.brokers
    }

    /// The live entry of one broker address.
    pub fn live_broker(&self, addr: &str) -> Option<&LiveBroker> {
        self.live.get(addr)
    }

    /// GET_SYSTEM_TOPIC_LIST_FROM_NS: cluster names and broker names (they
    /// are topics in RocketMQ), plus the address of some master if any.
    pub fn system_topics(&self) -> (Vec<String>, Option<String>) {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for (cluster, brokers) in &self.clusters {
            names.insert(cluster.clone());
            names.extend(brokers.iter().cloned());
        }
        let addr = self
            .brokers
            .values()
            .find_map(|g| {
                g.broker_addrs
                    .get(&MASTER_ID)
                    .or_else(|| g.broker_addrs.values().next())
            })
            .cloned();
        (names.into_iter().collect(), addr)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const CONN_A: ConnectionId = ConnectionId(1);
    const CONN_B: ConnectionId = ConnectionId(2);

    fn topic(name: &str, queues: i32) -> TopicConfig {
        TopicConfig::new(name, queues)
    }

    fn registration(
        name: &str,
        addr: &str,
        id: i64,
        counter: i64,
        topics: Vec<TopicConfig>,
    ) -> BrokerRegistration {
        BrokerRegistration {
            cluster: "DefaultCluster".to_string(),
            broker_name: name.to_string(),
            broker_addr: addr.to_string(),
            broker_id: id,
            ha_server_addr: format!("{addr}-ha"),
            data_version: DataVersion {
                timestamp: 1,
                counter,
            },
            topics,
        }
    }

    fn two_brokers(now: Instant) -> RouteTable {
        let mut table = RouteTable::new();
        table
            .register_broker(
                registration("broker-a", "10.0.0.1:10911", 0, 1, vec![topic("T", 4)]),
                CONN_A,
                now,
            )
            .unwrap();
        table
            .register_broker(
                registration(
                    "broker-b",
                    "10.0.0.2:10911",
                    0,
                    1,
                    vec![topic("T", 8), topic("U", 2)],
                ),
                CONN_B,
                now,
            )
            .unwrap();
        table
    }

    #[test]
    fn route_lists_every_broker_of_a_topic_sorted_by_name() {
        let table = two_brokers(Instant::now());
        let route = table.topic_route("T").unwrap();
        let names: Vec<_> = route
            .queue_datas
            .iter()
            .map(|q| q.broker_name.as_str())
            .collect();
        assert_eq!(names, ["broker-a", "broker-b"]);
        assert_eq!(route.queue_datas[1].write_queue_nums, 8);
        assert_eq!(route.broker_datas[0].broker_addrs[&0], "10.0.0.1:10911");
        assert!(table.topic_route("nope").is_none());
    }

    #[test]
    fn unchanged_data_version_does_not_rewrite_queues() {
        let now = Instant::now();
        let mut table = two_brokers(now);
        table
            .register_broker(
                registration("broker-a", "10.0.0.1:10911", 0, 1, vec![topic("T", 16)]),
                CONN_A,
                now,
            )
            .unwrap();
        assert_eq!(
            table.topic_route("T").unwrap().queue_datas[0].write_queue_nums,
            4
        );
        table
            .register_broker(
                registration("broker-a", "10.0.0.1:10911", 0, 2, vec![topic("T", 16)]),
                CONN_A,
                now,
            )
            .unwrap();
        assert_eq!(
            table.topic_route("T").unwrap().queue_datas[0].write_queue_nums,
            16
        );
    }

    #[test]
    fn a_split_registration_of_one_version_writes_every_part_once() {
        let now = Instant::now();
        let mut table = two_brokers(now);
        let part =
            |topics: Vec<TopicConfig>| registration("broker-a", "10.0.0.1:10911", 0, 7, topics);
        table
            .register_broker(part(vec![topic("S1", 2)]), CONN_A, now)
            .unwrap();
        table
            .register_broker(part(vec![topic("S2", 3)]), CONN_A, now)
            .unwrap();
        assert_eq!(
            table.topic_route("S1").unwrap().queue_datas[0].write_queue_nums,
            2
        );
        assert_eq!(
            table.topic_route("S2").unwrap().queue_datas[0].write_queue_nums,
            3
        );
        // "T" was written by version 1; version 7 rewrites it in a later part.
        table
            .register_broker(part(vec![topic("T", 9)]), CONN_A, now)
            .unwrap();
        assert_eq!(
            table.topic_route("T").unwrap().queue_datas[0].write_queue_nums,
            9
        );
        // A repeat of version 7 does not undo an operator's wipe.
        table.wipe_write_perm("broker-a");
        table
            .register_broker(part(vec![topic("T", 9)]), CONN_A, now)
            .unwrap();
        assert_eq!(
            table.topic_route("T").unwrap().queue_datas[0].perm & PERM_WRITE,
            0
        );
    }

    #[test]
    fn slave_learns_its_master_and_does_not_write_topics() {
        let now = Instant::now();
        let mut table = two_brokers(now);
        let outcome = table
            .register_broker(
                registration("broker-a", "10.0.0.3:10911", 1, 9, vec![topic("S", 1)]),
                CONN_B,
                now,
            )
            .unwrap();
        assert_eq!(outcome.master_addr.as_deref(), Some("10.0.0.1:10911"));
        assert_eq!(outcome.ha_server_addr.as_deref(), Some("10.0.0.1:10911-ha"));
        assert!(table.topic_route("S").is_none());
        assert_eq!(table.broker_groups()["broker-a"].broker_addrs.len(), 2);
    }

    #[test]
    fn unregistering_the_last_address_removes_the_broker_everywhere() {
        let mut table = two_brokers(Instant::now());
        table.unregister_broker("DefaultCluster", "broker-b", "10.0.0.2:10911", 0);
        assert!(table.topic_route("U").is_none());
        assert_eq!(table.topic_route("T").unwrap().queue_datas.len(), 1);
        assert_eq!(table.clusters()["DefaultCluster"].len(), 1);
        table.unregister_broker("DefaultCluster", "broker-a", "10.0.0.1:10911", 0);
        assert!(table.clusters().is_empty());
        assert!(table.topic_names().is_empty());
    }

    #[test]
    fn closed_connection_drops_only_its_brokers() {
        let mut table = two_brokers(Instant::now());
        assert_eq!(table.connection_closed(CONN_B), ["10.0.0.2:10911"]);
        assert!(table.live_broker("10.0.0.2:10911").is_none());
        assert!(table.live_broker("10.0.0.1:10911").is_some());
        assert_eq!(table.topic_names(), ["T"]);
    }

    #[test]
    fn re_registration_over_a_new_connection_survives_the_old_one_closing() {
        let now = Instant::now();
        let mut table = two_brokers(now);
        table
            .register_broker(
                registration("broker-a", "10.0.0.1:10911", 0, 1, vec![]),
                CONN_B,
                now,
            )
            .unwrap();
        table.connection_closed(CONN_A);
        assert!(table.live_broker("10.0.0.1:10911").is_some());
    }

    #[test]
    fn silent_brokers_expire_and_fresh_ones_stay() {
        let start = Instant::now();
        let mut table = two_brokers(start);
        let later = start + Duration::from_secs(100);
        table
            .register_broker(
                registration("broker-a", "10.0.0.1:10911", 0, 1, vec![]),
                CONN_A,
                later,
            )
            .unwrap();
        let expiry = Duration::from_secs(120);
        assert!(
            table
                .expire(start + Duration::from_secs(120), expiry)
                .is_empty()
        );
        assert_eq!(
            table.expire(start + Duration::from_secs(121), expiry),
            [("10.0.0.2:10911".to_string(), CONN_B)]
        );
        assert_eq!(table.topic_names(), ["T"]);
    }

    #[test]
    fn query_data_version_refreshes_liveness_only_when_unchanged() {
        let start = Instant::now();
        let mut table = two_brokers(start);
        let later = start + Duration::from_secs(100);
        let same = DataVersion {
            timestamp: 1,
            counter: 1,
        };
        let (changed, known) = table.query_data_version("10.0.0.1:10911", &same, later);
        assert!(!changed);
        assert_eq!(known, Some(same));
        let newer = DataVersion { counter: 2, ..same };
        assert!(table.query_data_version("10.0.0.2:10911", &newer, later).0);
        let gone = table.expire(start + Duration::from_secs(121), Duration::from_secs(120));
        assert_eq!(gone, [("10.0.0.2:10911".to_string(), CONN_B)]);
    }

    #[test]
    fn wipe_and_add_write_perm_count_topics() {
        let mut table = two_brokers(Instant::now());
        assert_eq!(table.wipe_write_perm("broker-b"), 2);
        assert_eq!(
            table.topic_route("U").unwrap().queue_datas[0].perm,
            PERM_READ
        );
        assert_eq!(table.add_write_perm("broker-b"), 2);
        assert_eq!(
            table.topic_route("U").unwrap().queue_datas[0].perm,
            PERM_READ | PERM_WRITE
        );
        assert_eq!(table.wipe_write_perm("nobody"), 0);
    }

    #[test]
    fn delete_topic_whole_or_per_cluster() {
        let mut table = two_brokers(Instant::now());
        assert!(table.delete_topic("U", None));
        assert!(!table.delete_topic("U", None));
        assert!(!table.delete_topic("T", Some("OtherCluster")));
        assert!(table.delete_topic("T", Some("DefaultCluster")));
        assert!(table.topic_names().is_empty());
    }

    #[test]
    fn register_topic_only_for_known_brokers() {
        let mut table = two_brokers(Instant::now());
        let data = |name: &str| QueueData {
            broker_name: name.to_string(),
            read_queue_nums: 1,
            write_queue_nums: 1,
            perm: 6,
            topic_sys_flag: 0,
        };
        assert_eq!(
            table
                .register_topic("%RETRY%g", &[data("broker-a"), data("ghost")])
                .unwrap(),
            1
        );
        assert_eq!(table.topic_route("%RETRY%g").unwrap().queue_datas.len(), 1);
        assert_eq!(table.register_topic("X", &[data("ghost")]).unwrap(), 0);
        assert!(table.topic_route("X").is_none());
    }

    #[test]
    fn same_address_under_new_id_replaces_old_entry() {
        let now = Instant::now();
        let mut table = two_brokers(now);
        table
            .register_broker(
                registration("broker-a", "10.0.0.1:10911", 1, 5, vec![]),
                CONN_A,
                now,
            )
            .unwrap();
        let addrs = &table.broker_groups()["broker-a"].broker_addrs;
        assert_eq!(addrs.len(), 1);
        assert_eq!(addrs[&1], "10.0.0.1:10911");
    }

    #[test]
    fn topics_by_cluster_and_system_topics() {
        let table = two_brokers(Instant::now());
        assert_eq!(table.topics_of_cluster("DefaultCluster"), ["T", "U"]);
        assert!(table.topics_of_cluster("Other").is_empty());
        let (names, addr) = table.system_topics();
        assert_eq!(names, ["DefaultCluster", "broker-a", "broker-b"]);
        assert_eq!(addr.as_deref(), Some("10.0.0.1:10911"));
    }
}
