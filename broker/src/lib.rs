//! The thread-per-core broker: shards, connections, request processors, long
//! polling, consumer groups and offsets, nameserver registration.
//!
//! # Embedding
//!
//! ```no_run
//! use ringmq_broker::{Broker, BrokerConfig};
//!
//! let config = BrokerConfig { listen_port: 0, ..BrokerConfig::default() };
//! let broker = Broker::start(config).expect("broker starts");
//! println!("listening on {}", broker.local_addr());
//! broker.shutdown(); // finish in-flight work, flush, unregister
//! ```
//!
//! # Shape
//!
//! - [`shard`]: one thread per shard, each a compio event loop owning the
//!   queues `(topic, queueId)` that hash to it (see [`shard::owner_of`]) and
//!   their [`store::ShardStore`]; requests for other shards' queues are
//!   forwarded over the owner's inbox.
//! - [`connection`]: per-connection reader/writer tasks on the shard that
//!   accepted the connection (`SO_REUSEPORT` listeners, one per shard).
//! - [`processor`]: one function per request code.
//! - [`state`]: what all shards share (config, topics, groups, offsets,
//!   client registry) behind short-held mutexes.
//! - [`control`]: a plain thread for persistence, nameserver registration
//!   and client expiry.
//! - [`long_poll`], [`transfer`] (zero-copy pull bodies), [`locks`]
//!   (orderly-consumer queue locks), [`message`], [`config`].
//!
//! On disk: `<data_dir>/shard-<i>/` is shard `i`'s store;
//! `<data_dir>/config/{topics,subscriptionGroup,consumerOffset}.json` hold
//! the metadata in RocketMQ's shapes. A data directory must be reopened
//! with the same shard count (checked at start).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod acl;
pub mod broker_stats;
pub mod clients;
mod clock;
pub mod config;
pub mod connection;
pub mod control;
pub mod disk;
pub mod flow;
pub mod gateway;
pub mod groups;
pub mod limits;
pub mod live_config;
pub mod locks;
pub mod long_poll;
pub mod message;
pub mod metrics;
pub mod offsets;
pub mod outbound;
pub mod persist;
pub mod pop;
pub mod processor;
pub mod registration;
pub mod schedule;
pub mod shard;
pub mod state;
pub mod store;
pub mod throttle;
pub mod topics;
pub mod tps;
pub mod transaction;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

pub use config::{BrokerConfig, ConfigError, FlushMode};

use crate::control::ConfigFiles;
use crate::groups::{SubscriptionGroupTable, SubscriptionGroupWrapper};
use crate::offsets::{ConsumerOffsetTable, ConsumerOffsetWrapper};
pub use crate::shard::ShardStartError;
use crate::shard::{SHARD_INBOX_MAX, ShardMessage, ShardStart};
use crate::state::{BrokerState, ControlEvent};
use crate::topics::{TopicConfigWrapper, TopicTable};

/// Listen backlog of each shard's listener.
const LISTEN_BACKLOG: i32 = 1024;

/// Why a broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is corrupt: {message}")]
    Metadata {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("the listener has no local address: {0}")]
    LocalAddr(#[source] std::io::Error),
    #[error("no listener was bound")]
    NoListener,
    #[error(transparent)]
    Shard(#[from] ShardStartError),
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
}

/// Entry point: [`Broker::start`].
pub struct Broker;

/// A running broker.
pub struct BrokerHandle {
    state: Arc<BrokerState>,
    local_addr: SocketAddr,
    shards: Vec<JoinHandle<()>>,
    control: Option<JoinHandle<()>>,
    metrics: Option<metrics::MetricsServer>,
}

impl Broker {
    /// Validates `config`, loads `config/*.json`, binds one listener per
    /// shard, opens every shard's store (recovering it) and starts serving.
    /// Returns once every shard accepts connections.
    pub fn start(config: BrokerConfig) -> Result<BrokerHandle, StartError> {
        config.validate()?;
        let shard_count = config.shard_count();
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        check_shard_count(&config, shard_count)?;
        let files = ConfigFiles::under(&config.data_dir);
        let topics: Option<TopicConfigWrapper> = load(&files.topics)?;
        let groups: Option<SubscriptionGroupWrapper> = load(&files.groups)?;
        let offsets: Option<ConsumerOffsetWrapper> = load(&files.offsets)?;
        let throttle_path = throttle::path(&config.data_dir);
        let throttles: Option<ringmq_net::body::throttle::ThrottleFile> = load(&throttle_path)?;
        let listeners = bind(&config, shard_count)?;
        // `bind` returns one listener per shard, and there is at least one.
        let local_addr = match listeners.first() {
            Some(listener) => listener.local_addr().map_err(StartError::LocalAddr)?,
            None => return Err(StartError::NoListener),
        };
        let store_host = config.advertised_socket_addr(local_addr.port());
        let (inbox_senders, inboxes): (Vec<_>, Vec<_>) = (0..shard_count)
            .map(|_| flume::bounded::<ShardMessage>(SHARD_INBOX_MAX))
            .unzip();
        let (control_tx, control_rx) = flume::unbounded();
        let topic_table = TopicTable::load(topics, &config);
        let groups_max = config.subscription_groups_max;
        let state = Arc::new(BrokerState::new(
            config,
            store_host,
            topic_table,
            SubscriptionGroupTable::load(groups, groups_max),
            ConsumerOffsetTable::load(offsets),
            inbox_senders,
            control_tx,
        ));
        if let Some(file) = throttles {
            state
                .throttles
                .install(file)
                .map_err(|err| StartError::Metadata {
                    path: throttle_path,
                    message: err.to_string(),
                })?;
        }
        let mut handle = BrokerHandle {
            state: state.clone(),
            local_addr,
            shards: Vec::new(),
            control: None,
            metrics: None,
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        for (id, (listener, inbox)) in listeners.into_iter().zip(inboxes).enumerate() {
            let start = ShardStart {
                id,
                state: state.clone(),
                listener,
                inbox,
                ready: ready_tx.clone(),
            };
            match shard::spawn(start) {
                Ok(thread) => handle.shards.push(thread),
                Err(err) => {
                    handle.stop();
                    return Err(StartError::Thread(err));
                }
            }
        }
        drop(ready_tx);
        for _ in 0..shard_count {
            let outcome = ready_rx.recv().unwrap_or(Err(ShardStartError::Died));
            if let Err(err) = outcome {
                handle.stop();
                return Err(StartError::Shard(err));
            }
        }
        let control_state = state.clone();
        let control = std::thread::Builder::new()
            .name("ringmq-control".into())
            .spawn(move || control::run(control_state, control_rx))
            .map_err(StartError::Thread);
        match control {
            Ok(thread) => handle.control = Some(thread),
            Err(err) => {
                handle.stop();
                return Err(err);
            }
        }
        if let Err(err) = tps::spawn(&state) {
            handle.stop();
            return Err(StartError::Thread(err));
        }
        if !state.config.metrics_address.is_empty() {
            let scraped = state.clone();
            let render: metrics::Render = Arc::new(move || scraped.metrics.render(&scraped));
            match metrics::MetricsServer::start(&state.config.metrics_address, render) {
                Ok(server) => {
                    tracing::info!(addr = %server.local_addr(), "metrics at http://{}/metrics", server.local_addr());
                    handle.metrics = Some(server);
                }
                Err(err) => {
                    handle.stop();
                    return Err(StartError::Metrics(err));
                }
            }
        }
        tracing::info!(
            %local_addr,
            %store_host,
            shards = shard_count,
            data_dir = %state.config.data_dir.display(),
            "broker {} of cluster {} serving",
            state.config.broker_name,
            state.config.cluster_name
        );
        Ok(handle)
    }
}

/// Queue ownership depends on the shard count, so a data directory must
/// always be served with the count it was created with.
fn check_shard_count(config: &BrokerConfig, shard_count: usize) -> Result<(), StartError> {
    let existing = std::fs::read_dir(&config.data_dir)
        .map_err(|source| StartError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|name| name.strip_prefix("shard-"))
                .is_some_and(|id| id.parse::<usize>().is_ok())
        })
        .count();
    if existing > 0 && existing != shard_count {
        return Err(StartError::Config(ConfigError::Invalid {
            key: "shards",
            message: format!(
                "the data directory {} holds {existing} shards; queues are assigned by shard count, so set shards = {existing}",
                config.data_dir.display()
            ),
        }));
    }
    Ok(())
}

/// Reads a JSON config file if it exists.
fn load<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<Option<T>, StartError> {
    let bytes = persist::read_if_exists(path).map_err(|source| StartError::DataDir {
        path: path.to_owned(),
        source,
    })?;
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    ringmq_net::body::decode_json(&bytes)
        .map(Some)
        .map_err(|err| StartError::Metadata {
            path: path.to_owned(),
            message: err.to_string(),
        })
}

/// One `SO_REUSEPORT` listener per shard, all on the same port (the first
/// one picks it when the configured port is 0).
fn bind(config: &BrokerConfig, shards: usize) -> Result<Vec<std::net::TcpListener>, StartError> {
    let mut address = SocketAddr::new(config.listen_address, config.listen_port);
    let mut listeners = Vec::with_capacity(shards);
    for _ in 0..shards {
        let listener =
            bind_one(address).map_err(|source| StartError::Listen { address, source })?;
        if let Ok(bound) = listener.local_addr() {
            address = bound;
        }
        listeners.push(listener);
    }
    Ok(listeners)
}

fn bind_one(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

impl BrokerHandle {
    /// The address the broker listens on (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served, if `metrics_address` was set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .map(metrics::MetricsServer::local_addr)
    }

    /// The Prometheus text of this broker (for a process that serves
    /// several components on one endpoint, like `ringmq standalone`).
    pub fn render_metrics(&self) -> String {
        self.state.metrics.render(&self.state)
    }

    /// A renderer of this broker's metrics that outlives the borrow.
    pub fn metrics_renderer(&self) -> metrics::Render {
        let state = self.state.clone();
        Arc::new(move || state.metrics.render(&state))
    }

    /// The address written into records and message ids (`brokerIP1:port`).
    pub fn store_host(&self) -> SocketAddr {
        self.state.store_host
    }

    /// The configuration the broker runs with.
    pub fn config(&self) -> &BrokerConfig {
        &self.state.config
    }

    /// An in-process entry to the processors, usable from any thread (the
    /// gRPC endpoint's; see [`gateway`]).
    pub fn gateway(&self) -> gateway::Gateway {
        gateway::Gateway::new(self.state.clone())
    }

    /// Graceful stop: stop accepting, answer parked pulls, finish in-flight
    /// requests (bounded wait), flush every store, persist offsets, topics
    /// and groups, unregister from the nameservers. Returns when done.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Waits until the broker stops (after [`BrokerHandle::shutdown`] from
    /// another thread via [`BrokerHandle::stopper`]).
    pub fn join(mut self) {
        for thread in self.shards.drain(..) {
            let _ = thread.join();
        }
        if let Some(control) = self.control.take() {
            let _ = control.join();
        }
    }

    /// A cloneable, `Send` trigger that starts the graceful stop from any
    /// thread (e.g. a signal handler); pair with [`BrokerHandle::join`].
    pub fn stopper(&self) -> BrokerStopper {
        BrokerStopper {
            state: self.state.clone(),
        }
    }

    fn stop(&mut self) {
        self.metrics.take();
        self.stopper().stop();
        self.join_all();
    }

    fn join_all(&mut self) {
        for thread in self.shards.drain(..) {
            let _ = thread.join();
        }
        if let Some(control) = self.control.take() {
            let _ = control.join();
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        if !self.shards.is_empty() || self.control.is_some() {
            self.stop();
        }
    }
}

/// Starts a graceful stop of a broker from any thread.
#[derive(Clone)]
pub struct BrokerStopper {
    state: Arc<BrokerState>,
}

impl BrokerStopper {
    /// Asks every shard and the control thread to stop; returns at once.
    /// Shards drain before the control thread persists offsets, so the last
    /// piggy-backed commits are included.
    pub fn stop(&self) {
        if self.state.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        for inbox in &self.state.shards {
            let _ = inbox.send(ShardMessage::Shutdown);
        }
        self.state.signal(ControlEvent::Shutdown);
    }
}
