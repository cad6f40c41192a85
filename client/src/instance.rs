//! The runtime one producer or consumer shares with its timers: client id,
//! transport, topic routes from the nameservers, broker addresses, and the
//! heartbeat that tells brokers who we are (Java `MQClientInstance`).
//!
//! Timers (spec §7.3): route refresh every 30 s, heartbeat every 30 s.
//! Broker→client requests arrive on the transport's inbound channel and are
//! dispatched here: NOTIFY_CONSUMER_IDS_CHANGED wakes the rebalance, the
//! consumer calls go to the registered [`InboundConsumer`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use ringmq_net::body::{
    ConsumerData, HeartbeatData, ProducerData, QueueData, TopicRouteData, decode_json, encode_json,
};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    GetRouteInfoRequestHeader, NotifyConsumerIdsChangedRequestHeader, UnregisterClientRequestHeader,
};
use tokio::sync::{Notify, mpsc, watch};

use crate::queue::MessageQueue;
use crate::remoting::{InboundRequest, RemotingClient, RemotingConfig, RemotingError};

/// The topic whose route a producer borrows for a topic that does not exist
/// yet (the broker auto-creates it on first send).
pub const AUTO_CREATE_TOPIC_KEY: &str = ringmq_net::topic::AUTO_CREATE_TOPIC;
/// Queues per broker for an auto-created topic (`defaultTopicQueueNums`).
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;
/// The inner producer group every Java client reports in heartbeats.
pub const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
/// Default nameserver/broker request timeout.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(3);
/// Default route refresh interval (`pollNameServerInterval`).
pub const ROUTE_POLL_INTERVAL_DEFAULT: Duration = Duration::from_secs(30);
/// Default heartbeat interval (`heartbeatBrokerInterval`).
pub const HEARTBEAT_INTERVAL_DEFAULT: Duration = Duration::from_secs(30);
/// Broker→client requests being answered at once, at most.
pub const INBOUND_ANSWERS_MAX: usize = 64;
/// Topics whose routes are kept, at most.
pub const ROUTED_TOPICS_MAX: usize = 10_000;

/// Why a topic route could not be obtained.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RouteError {
    /// No nameserver address was configured.
    #[error("no nameserver address configured")]
    NoNameserver,
    /// Every nameserver said the topic does not exist.
    #[error("topic {0:?} does not exist on the nameservers")]
    TopicNotExist(String),
    /// A nameserver answered with an error code.
    #[error("nameserver answered code {code} for topic {topic:?}: {remark}")]
    Nameserver {
        /// The topic asked for.
        topic: String,
        /// The response code.
        code: i32,
        /// The response remark.
        remark: String,
    },
    /// The route body did not decode.
    #[error("route of topic {topic:?} is malformed: {reason}")]
    Malformed {
        /// The topic asked for.
        topic: String,
        /// The decoder's message.
        reason: String,
    },
    /// The route names no broker with a master we can reach.
    #[error("topic {0:?} has no broker with a master address")]
    NoBroker(String),
    /// No nameserver could be reached.
    #[error(transparent)]
    Remoting(#[from] RemotingError),
}

/// A future returned by [`InboundConsumer`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A consumer's answers to broker→client calls.
pub trait InboundConsumer: Send + Sync {
    /// GET_CONSUMER_RUNNING_INFO: the JSON body of `ConsumerRunningInfo`.
    fn running_info(&self) -> Vec<u8>;
    /// RESET_CONSUMER_CLIENT_OFFSET: move these queues to these offsets.
    fn reset_offsets(&self, topic: &str, offsets: BTreeMap<MessageQueue, i64>);
    /// CONSUME_MESSAGE_DIRECTLY: run the listener on one raw record and
    /// return the JSON body of `ConsumeMessageDirectlyResult`.
    fn consume_directly(&self, record: Bytes) -> BoxFuture<'_, Vec<u8>>;
}

/// A transactional producer's answer to CHECK_TRANSACTION_STATE.
pub trait InboundProducer: Send + Sync {
    /// Checks the half message in `command` (sent by the broker at `from`)
    /// and answers the broker with END_TRANSACTION.
    fn check_transaction(&self, from: String, command: RemotingCommand) -> BoxFuture<'static, ()>;
}

/// How to reach the cluster and who we are.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Nameserver addresses (`host:port`).
    pub namesrv_addrs: Vec<String>,
    /// Instance name; `DEFAULT` is replaced by `<pid>#<nanos>` in the client id.
    pub instance_name: String,
    /// Our IP as reported to brokers (found from the route to a nameserver
    /// when not set).
    pub client_ip: Option<String>,
    /// Timeout of one request to a nameserver or broker.
    pub request_timeout: Duration,
    /// Route refresh interval.
    pub route_poll_interval: Duration,
    /// Heartbeat interval.
    pub heartbeat_interval: Duration,
    /// Sees every request before it is sent (ACL signing: [`ClientConfig::with_credentials`]).
    pub rpc_hook: Option<std::sync::Arc<dyn crate::acl::RpcHook>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            namesrv_addrs: Vec::new(),
            instance_name: "DEFAULT".into(),
            client_ip: None,
            request_timeout: REQUEST_TIMEOUT_DEFAULT,
            route_poll_interval: ROUTE_POLL_INTERVAL_DEFAULT,
            heartbeat_interval: HEARTBEAT_INTERVAL_DEFAULT,
            rpc_hook: None,
        }
    }
}

impl ClientConfig {
    /// Signs every request with these ACL credentials (RocketMQ ACL 1.0).
    pub fn with_credentials(
        mut self,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        self.rpc_hook = Some(crate::acl::AclClientRpcHook::new(access_key, secret_key).into_hook());
        self
    }

    /// Parses `"a:9876;b:9876"` (Java's separator) or comma lists.
    pub fn with_namesrv(mut self, addrs: &str) -> Self {
        self.namesrv_addrs = addrs
            .split([';', ','])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        self
    }
}

/// The IP of the interface that routes to `target` (no packet is sent).
pub fn local_ip_towards(target: &str) -> IpAddr {
    let probe = || -> std::io::Result<IpAddr> {
        let socket = UdpSocket::bind("0.0.0.0:0")?;
        socket.connect(target)?;
        Ok(socket.local_addr()?.ip())
    };
    probe().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Producer and consumer registrations that go into heartbeats.
#[derive(Default)]
struct Registrations {
    producer_groups: BTreeSet<String>,
    consumers: BTreeMap<String, ConsumerData>,
    inbound: HashMap<String, Arc<dyn InboundConsumer>>,
    transaction_checkers: HashMap<String, Arc<dyn InboundProducer>>,
}

/// A topic's route as last fetched, with its writable queues worked out
/// once per fetch: a producer picks from them on every send, so a send
/// clones one `Arc`, not the route.
struct CachedRoute {
    route: TopicRouteData,
    publish: Arc<[MessageQueue]>,
}

/// The shared client runtime; cheap to clone.
#[derive(Clone)]
pub struct ClientInstance {
    shared: Arc<Shared>,
}

struct Shared {
    config: ClientConfig,
    client_id: String,
    client_ip: IpAddr,
    remoting: RemotingClient,
    routes: RwLock<HashMap<String, Arc<CachedRoute>>>,
    brokers: RwLock<BTreeMap<String, BTreeMap<i64, String>>>,
    registrations: Mutex<Registrations>,
    namesrv_next: AtomicUsize,
    rebalance_wanted: Notify,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for ClientInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInstance")
            .field("client_id", &self.shared.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientInstance {
    /// Creates the runtime and starts its timers and inbound dispatcher.
    /// Must be called inside a tokio runtime.
    pub fn start(config: ClientConfig) -> Self {
        let (remoting, inbound) = RemotingClient::new(RemotingConfig {
            rpc_hook: config.rpc_hook.clone(),
            ..RemotingConfig::default()
        });
        let client_ip = match &config.client_ip {
            Some(ip) => ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            None => config
                .namesrv_addrs
                .first()
                .map(|a| local_ip_towards(a))
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        let instance = if config.instance_name == "DEFAULT" {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            format!("{}#{}", std::process::id(), nanos)
        } else {
            config.instance_name.clone()
        };
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            client_id: format!("{client_ip}@{instance}"),
            client_ip,
            config,
            remoting,
            routes: RwLock::default(),
            brokers: RwLock::default(),
            registrations: Mutex::default(),
            namesrv_next: AtomicUsize::new(0),
            rebalance_wanted: Notify::new(),
            shutdown,
        });
        let me = Self { shared };
        me.spawn_timers();
        tokio::spawn(me.clone().dispatch_inbound(inbound));
        me
    }

    /// `ip@instanceName`, as brokers know us.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// Our IP as reported to brokers.
    pub fn client_ip(&self) -> IpAddr {
        self.shared.client_ip
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The transport.
    pub fn remoting(&self) -> &RemotingClient {
        &self.shared.remoting
    }

    /// Woken when a broker says the group's consumers changed.
    pub fn rebalance_wanted(&self) -> &Notify {
        &self.shared.rebalance_wanted
    }

    /// A receiver that turns true on shutdown.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shared.shutdown.subscribe()
    }

    /// Registers a producer group for heartbeats.
    pub fn register_producer(&self, group: &str) {
        if let Ok(mut reg) = self.shared.registrations.lock() {
            reg.producer_groups.insert(group.to_string());
        }
    }

    /// Registers the CHECK_TRANSACTION_STATE handler of a producer group.
    pub fn register_transaction_checker(&self, group: &str, checker: Arc<dyn InboundProducer>) {
        if let Ok(mut reg) = self.shared.registrations.lock() {
            reg.transaction_checkers.insert(group.to_string(), checker);
        }
    }

    fn transaction_checker(&self, group: &str) -> Option<Arc<dyn InboundProducer>> {
        let reg = self.shared.registrations.lock().ok()?;
        reg.transaction_checkers.get(group).cloned()
    }

    /// Registers (or updates) a consumer group for heartbeats and inbound calls.
    pub fn register_consumer(&self, data: ConsumerData, inbound: Option<Arc<dyn InboundConsumer>>) {
        if let Ok(mut reg) = self.shared.registrations.lock() {
            if let Some(handler) = inbound {
                reg.inbound.insert(data.group_name.clone(), handler);
            }
            reg.consumers.insert(data.group_name.clone(), data);
        }
    }

    /// Sends `request` to `addr` with the configured timeout.
    pub async fn invoke(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<RemotingCommand, RemotingError> {
        let timeout = self.shared.config.request_timeout;
        self.shared.remoting.invoke(addr, request, timeout).await
    }

    /// Sends `request` one-way to `addr`.
    pub async fn invoke_oneway(
        &self,
        addr: &str,
        request: RemotingCommand,
    ) -> Result<(), RemotingError> {
        let timeout = self.shared.config.request_timeout;
        self.shared
            .remoting
            .invoke_oneway(addr, request, timeout)
            .await
    }

    /// Asks the nameservers for `topic`'s route (rotating through them on
    /// failure) and caches it.
    pub async fn update_route(&self, topic: &str) -> Result<TopicRouteData, RouteError> {
        let route = self.fetch_route(topic).await?;
        self.store_route(topic, route.clone());
        Ok(route)
    }

    /// The route of `topic`, for a producer: fetched if not cached; a topic
    /// unknown to the nameservers borrows `TBW102`'s brokers with
    /// `min(4, readQueueNums)` queues each so the broker can auto-create it.
    pub async fn publish_route(&self, topic: &str) -> Result<TopicRouteData, RouteError> {
        if let Some(route) = self.cached_route(topic) {
            return Ok(route);
        }
        match self.update_route(topic).await {
            Err(RouteError::TopicNotExist(_)) => {
                let mut template = match self.fetch_route(AUTO_CREATE_TOPIC_KEY).await {
                    Err(RouteError::TopicNotExist(_)) => {
                        // No auto-create template either: the topic is simply unknown.
                        return Err(RouteError::TopicNotExist(topic.to_string()));
                    }
                    other => other?,
                };
                for qd in &mut template.queue_datas {
                    let nums = DEFAULT_TOPIC_QUEUE_NUMS.min(qd.read_queue_nums);
                    qd.read_queue_nums = nums;
                    qd.write_queue_nums = nums;
                }
                self.store_route(topic, template.clone());
                Ok(template)
            }
            other => other,
        }
    }

    /// The cached route of `topic`.
    pub fn cached_route(&self, topic: &str) -> Option<TopicRouteData> {
        let cached = self.shared.routes.read().ok()?.get(topic).cloned()?;
        Some(cached.route.clone())
    }

    /// Whether a route of `topic` is cached (no copy of it is made).
    pub fn has_route(&self, topic: &str) -> bool {
        self.shared
            .routes
            .read()
            .is_ok_and(|routes| routes.contains_key(topic))
    }

    /// The writable queues of `topic` ([`publish_queues`] of its
    /// [`publish_route`](Self::publish_route)), shared: worked out once
    /// per fetched route, not per send. May be empty.
    pub async fn writable_queues(&self, topic: &str) -> Result<Arc<[MessageQueue]>, RouteError> {
        if let Some(queues) = self.cached_writable_queues(topic) {
            return Ok(queues);
        }
        let route = self.publish_route(topic).await?;
        // Not cached when the table is full (ROUTED_TOPICS_MAX): work them out here.
        Ok(self
            .cached_writable_queues(topic)
            .unwrap_or_else(|| publish_queues(topic, &route).into()))
    }

    fn cached_writable_queues(&self, topic: &str) -> Option<Arc<[MessageQueue]>> {
        let routes = self.shared.routes.read().ok()?;
        routes.get(topic).map(|cached| cached.publish.clone())
    }

    /// Forgets the cached route of `topic` (e.g. after the broker says it is gone).
    pub fn forget_route(&self, topic: &str) {
        if let Ok(mut routes) = self.shared.routes.write() {
            routes.remove(topic);
        }
    }

    /// The master address of broker group `broker_name`.
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        let brokers = self.shared.brokers.read().ok()?;
        brokers.get(broker_name)?.get(&0).cloned()
    }

    /// Any address of `broker_name`, the master first.
    pub fn any_broker_addr(&self, broker_name: &str) -> Option<String> {
        let brokers = self.shared.brokers.read().ok()?;
        let addrs = brokers.get(broker_name)?;
        addrs.get(&0).or_else(|| addrs.values().next()).cloned()
    }

    /// Sends a heartbeat to every known broker (all of them when consumers
    /// are registered, masters only for a pure producer).
    pub async fn heartbeat_all(&self) {
        let Some(body) = self.heartbeat_body() else {
            return;
        };
        let has_consumers = self
            .shared
            .registrations
            .lock()
            .map(|r| !r.consumers.is_empty())
            .unwrap_or(false);
        for addr in self.broker_addrs(!has_consumers) {
            let request = RemotingCommand::request(request::HEART_BEAT).with_body(body.clone());
            if let Err(error) = self.invoke(&addr, request).await {
                tracing::debug!(%addr, %error, "heartbeat failed");
            }
        }
    }

    /// Unregisters from every broker, stops the timers and closes connections.
    pub async fn shutdown(&self) {
        let (producers, consumers) = self
            .shared
            .registrations
            .lock()
            .map(|r| {
                (
                    r.producer_groups.iter().cloned().collect::<Vec<_>>(),
                    r.consumers.keys().cloned().collect::<Vec<_>>(),
                )
            })
            .unwrap_or_default();
        for addr in self.broker_addrs(false) {
            let groups = producers
                .iter()
                .map(|g| (Some(g.clone()), None))
                .chain(consumers.iter().map(|g| (None, Some(g.clone()))));
            for (producer_group, consumer_group) in groups {
                let header = UnregisterClientRequestHeader {
                    client_id: self.client_id().to_string(),
                    producer_group,
                    consumer_group,
                };
                let request =
                    RemotingCommand::request(request::UNREGISTER_CLIENT).with_header(&header);
                let _ = self.invoke(&addr, request).await;
            }
        }
        let _ = self.shared.shutdown.send(true);
        self.shared.remoting.shutdown();
    }

    fn heartbeat_body(&self) -> Option<Bytes> {
        let reg = self.shared.registrations.lock().ok()?;
        let mut producer_data_set = vec![ProducerData {
            group_name: CLIENT_INNER_PRODUCER_GROUP.into(),
        }];
        producer_data_set.extend(reg.producer_groups.iter().map(|g| ProducerData {
            group_name: g.clone(),
        }));
        let data = HeartbeatData {
            client_id: self.client_id().to_string(),
            consumer_data_set: reg.consumers.values().cloned().collect(),
            producer_data_set,
        };
        encode_json(&data).ok().map(Bytes::from)
    }

    fn broker_addrs(&self, masters_only: bool) -> Vec<String> {
        let Ok(brokers) = self.shared.brokers.read() else {
            return Vec::new();
        };
        brokers
            .values()
            .flat_map(|addrs| addrs.iter())
            .filter(|(id, _)| !masters_only || **id == 0)
            .map(|(_, addr)| addr.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    fn store_route(&self, topic: &str, route: TopicRouteData) {
        let mut new_broker = false;
        if let Ok(mut brokers) = self.shared.brokers.write() {
            for bd in &route.broker_datas {
                let previous = brokers.insert(bd.broker_name.clone(), bd.broker_addrs.clone());
                new_broker |= previous.as_ref() != Some(&bd.broker_addrs);
            }
        }
        if new_broker {
            // Introduce ourselves to new brokers now, not at the next tick.
            let me = self.clone();
            tokio::spawn(async move { me.heartbeat_all().await });
        }
        let cached = Arc::new(CachedRoute {
            publish: publish_queues(topic, &route).into(),
            route,
        });
        if let Ok(mut routes) = self.shared.routes.write()
            && (routes.len() < ROUTED_TOPICS_MAX || routes.contains_key(topic))
        {
            routes.insert(topic.to_string(), cached);
        }
    }

    async fn fetch_route(&self, topic: &str) -> Result<TopicRouteData, RouteError> {
        let addrs = &self.shared.config.namesrv_addrs;
        if addrs.is_empty() {
            return Err(RouteError::NoNameserver);
        }
        let start = self.shared.namesrv_next.load(Ordering::Relaxed);
        let mut last_error = RouteError::NoNameserver;
        for i in 0..addrs.len() {
            let index = (start + i) % addrs.len();
            let Some(addr) = addrs.get(index) else {
                continue;
            };
            let header = GetRouteInfoRequestHeader {
                topic: topic.to_string(),
                accept_standard_json_only: Some(true),
            };
            let request =
                RemotingCommand::request(request::GET_ROUTEINFO_BY_TOPIC).with_header(&header);
            match self.invoke(addr, request).await {
                Ok(reply) => {
                    self.shared.namesrv_next.store(index, Ordering::Relaxed);
                    return route_from_reply(topic, &reply);
                }
                Err(error) => last_error = error.into(),
            }
        }
        Err(last_error)
    }

    fn spawn_timers(&self) {
        let me = self.clone();
        let mut stop = self.shutdown_signal();
        tokio::spawn(async move {
            // The first route fetch and heartbeat happen on demand (first
            // send, consumer start, new broker seen); the timers keep them fresh.
            let start = tokio::time::Instant::now();
            let route_every = me.shared.config.route_poll_interval;
            let beat_every = me.shared.config.heartbeat_interval;
            let mut routes = tokio::time::interval_at(start + route_every, route_every);
            let mut beats = tokio::time::interval_at(start + beat_every, beat_every);
            routes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = routes.tick() => me.refresh_routes().await,
                    _ = beats.tick() => me.heartbeat_all().await,
                }
            }
        });
    }

    async fn refresh_routes(&self) {
        let topics: Vec<String> = self
            .shared
            .routes
            .read()
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default();
        for topic in topics {
            if let Err(error) = self.update_route(&topic).await {
                tracing::debug!(%topic, %error, "route refresh failed");
            }
        }
    }

    async fn dispatch_inbound(self, mut inbound: mpsc::Receiver<InboundRequest>) {
        let mut stop = self.shutdown_signal();
        let answering = Arc::new(tokio::sync::Semaphore::new(INBOUND_ANSWERS_MAX));
        loop {
            let request = tokio::select! {
                _ = stop.changed() => break,
                next = inbound.recv() => match next {
                    Some(r) => r,
                    None => break,
                },
            };
            let Ok(permit) = answering.clone().acquire_owned().await else {
                break;
            };
            let me = self.clone();
            tokio::spawn(async move {
                me.answer(request).await;
                drop(permit);
            });
        }
    }

    fn inbound_for(&self, group: &str) -> Option<Arc<dyn InboundConsumer>> {
        let reg = self.shared.registrations.lock().ok()?;
        reg.inbound
            .get(group)
            .or_else(|| reg.inbound.values().next())
            .cloned()
    }

    async fn answer(&self, inbound: InboundRequest) {
        let command = &inbound.command;
        let reply = match command.code {
            request::NOTIFY_CONSUMER_IDS_CHANGED => {
                let group = command
                    .decode_header::<NotifyConsumerIdsChangedRequestHeader>()
                    .map(|h| h.consumer_group)
                    .unwrap_or_default();
                tracing::debug!(%group, "consumer ids changed; rebalancing");
                self.shared.rebalance_wanted.notify_one();
                None
            }
            request::GET_CONSUMER_RUNNING_INFO => {
                let group = command
                    .ext_fields
                    .get("consumerGroup")
                    .cloned()
                    .unwrap_or_default();
                Some(match self.inbound_for(&group) {
                    Some(consumer) => {
                        RemotingCommand::response_to(command, response::SUCCESS, None)
                            .with_body(consumer.running_info())
                    }
                    None => not_here(command, &group),
                })
            }
            request::RESET_CONSUMER_CLIENT_OFFSET => {
                self.reset_offsets(command);
                Some(RemotingCommand::response_to(
                    command,
                    response::SUCCESS,
                    None,
                ))
            }
            request::CONSUME_MESSAGE_DIRECTLY => {
                let group = command
                    .ext_fields
                    .get("consumerGroup")
                    .cloned()
                    .unwrap_or_default();
                Some(match self.inbound_for(&group) {
                    Some(consumer) => {
                        let body = consumer.consume_directly(command.body.clone()).await;
                        RemotingCommand::response_to(command, response::SUCCESS, None)
                            .with_body(body)
                    }
                    None => not_here(command, &group),
                })
            }
            request::CHECK_TRANSACTION_STATE => {
                let group = crate::producer::transaction::check_group(command);
                match group.as_deref().and_then(|g| self.transaction_checker(g)) {
                    Some(checker) => {
                        tokio::spawn(
                            checker.check_transaction(inbound.from.clone(), command.clone()),
                        );
                    }
                    None => tracing::warn!(
                        ?group,
                        "CHECK_TRANSACTION_STATE for a producer group not running here"
                    ),
                }
                None
            }
            other => Some(RemotingCommand::response_to(
                command,
                response::REQUEST_CODE_NOT_SUPPORTED,
                Some(format!(" request type {other} not supported")),
            )),
        };
        if let Some(reply) = reply
            && !command.is_oneway()
        {
            inbound.responder.reply(reply).await;
        }
    }

    fn reset_offsets(&self, command: &RemotingCommand) {
        let group = command.ext_fields.get("group").cloned().unwrap_or_default();
        let topic = command.ext_fields.get("topic").cloned().unwrap_or_default();
        let Ok(body) = decode_json::<ringmq_net::body::ResetOffsetBody>(&command.body) else {
            return;
        };
        if let Some(consumer) = self.inbound_for(&group) {
            consumer.reset_offsets(&topic, body.offset_table);
        }
    }
}

fn not_here(command: &RemotingCommand, group: &str) -> RemotingCommand {
    RemotingCommand::response_to(
        command,
        response::SYSTEM_ERROR,
        Some(format!(
            "the consumer group {group} is not running in this client"
        )),
    )
}

fn route_from_reply(topic: &str, reply: &RemotingCommand) -> Result<TopicRouteData, RouteError> {
    match reply.code {
        response::SUCCESS => {
            decode_json::<TopicRouteData>(&reply.body).map_err(|e| RouteError::Malformed {
                topic: topic.to_string(),
                reason: e.to_string(),
            })
        }
        response::TOPIC_NOT_EXIST => Err(RouteError::TopicNotExist(topic.to_string())),
        code => Err(RouteError::Nameserver {
            topic: topic.to_string(),
            code,
            remark: reply.remark.clone().unwrap_or_default(),
        }),
    }
}

/// Writable queues of a route whose broker has a master, sorted
/// (producer view, spec §2.8).
pub fn publish_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    let with_master: BTreeSet<&str> = route
        .broker_datas
        .iter()
        .filter(|bd| bd.master_addr().is_some())
        .map(|bd| bd.broker_name.as_str())
        .collect();
    let mut queues = expand(topic, route, |qd| {
        if qd.is_writeable() && with_master.contains(qd.broker_name.as_str()) {
            qd.write_queue_nums
        } else {
            0
        }
    });
    queues.sort();
    queues
}

/// Readable queues of a route, sorted (consumer view).
pub fn subscribe_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    let mut queues = expand(topic, route, |qd| {
        if qd.is_readable() {
            qd.read_queue_nums
        } else {
            0
        }
    });
    queues.sort();
    queues
}

/// Queues per broker, at most, when expanding a route (guards hostile routes).
pub const QUEUES_PER_BROKER_MAX: i32 = 1_024;

fn expand(
    topic: &str,
    route: &TopicRouteData,
    count: impl Fn(&QueueData) -> i32,
) -> Vec<MessageQueue> {
    route
        .queue_datas
        .iter()
        .flat_map(|qd| {
            let n = count(qd).clamp(0, QUEUES_PER_BROKER_MAX);
            (0..n).map(move |q| MessageQueue::new(topic, qd.broker_name.clone(), q))
        })
        .collect()
}
