//! The broker's configuration: a TOML file with documented defaults,
//! overridable by `RINGMQ_*` environment variables and command-line flags.
//!
//! Precedence, lowest first: built-in defaults, the TOML file, the
//! environment, flags. Unknown keys are refused (a typo is an error that
//! names the key, not a silently ignored setting), and [`BrokerConfig::validate`]
//! checks relations between values before anything is started.
//!
//! The key names follow Rust style (`snake_case`); the RocketMQ name of each
//! setting is given in its doc comment where there is one.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

// The defaults of `frame_bytes_max` (Java's `frameMaxLength`) and of
// `message_bytes_max` (Java's `maxMessageSize`, also the largest body the
// record codec writes, hence the upper bound of `message_bytes_max`).
use ringmq_net::frame::FRAME_MAX_BYTES_DEFAULT;
use ringmq_net::record::BODY_MAX_BYTES;
/// Upper bound on the number of shards a broker may run.
pub const SHARDS_MAX: usize = 256;
/// Smallest commit-log segment we accept: one maximal message must fit.
pub const SEGMENT_BYTES_MIN: u64 = 8 * 1024 * 1024;

/// When a send is acknowledged relative to its fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushMode {
    /// Acknowledge after the write; a periodic flusher fsyncs (`ASYNC_FLUSH`).
    Async,
    /// Acknowledge after a group-commit fsync covers the message (`SYNC_FLUSH`).
    Sync,
}

impl FlushMode {
    /// RocketMQ's name of the mode (`FlushDiskType`).
    pub fn rocketmq_name(self) -> &'static str {
        match self {
            FlushMode::Async => "ASYNC_FLUSH",
            FlushMode::Sync => "SYNC_FLUSH",
        }
    }
}

/// Everything a broker needs to start. See [`BrokerConfig::default_toml`]
/// for the defaults as a commented file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// Address to listen on (RocketMQ binds every interface).
    pub listen_address: IpAddr,
    /// Port to listen on (`listenPort`); 0 picks a free port.
    pub listen_port: u16,
    /// `ip` or `ip:port` clients should use to reach this broker
    /// (`brokerIP1`): written into every record's STOREHOST, every message
    /// id and the nameserver registration. Empty = the listen address when
    /// it is a concrete one, else this host's outbound address; the port
    /// defaults to the bound port.
    pub advertised_address: String,
    /// `brokerName`.
    pub broker_name: String,
    /// `brokerClusterName`; also added to every message as `CLUSTER`.
    pub cluster_name: String,
    /// `brokerId`: 0 = master.
    pub broker_id: u64,
    /// Nameservers to register with (`namesrvAddr`), each `host:port`.
    pub nameservers: Vec<String>,
    /// Root of the broker's files: `shard-N/` stores and `config/*.json`.
    pub data_dir: PathBuf,
    /// Number of shards (event-loop threads); 0 = one per CPU core.
    pub shards: usize,
    /// `flushDiskType`.
    pub flush_mode: FlushMode,
    /// Commit-log segment size in bytes (`mappedFileSizeCommitLog`).
    pub segment_bytes: u64,
    /// Hours a commit-log segment is kept (`fileReservedTime`).
    pub retention_hours: u64,
    /// Sends are refused while the data disk is fuller than this (percent).
    pub disk_usage_max_percent: u8,
    /// Past this disk usage (percent) the oldest commit-log segments are
    /// deleted early, whatever `retention_hours` says (RocketMQ
    /// `diskMaxUsedSpaceRatio`).
    pub disk_max_used_space_percent: u8,
    /// Drill and test hook: a file holding the data disk's usage in
    /// percent, read instead of the file system's figures. Empty = off.
    pub disk_usage_file: String,
    /// Create unknown topics on first send through the `TBW102` template
    /// (`autoCreateTopicEnable`). Off for `ringmq broker`, as RocketMQ
    /// recommends in production; on in `ringmq standalone`.
    pub auto_create_topic_enable: bool,
    /// Create unknown subscription groups on first use
    /// (`autoCreateSubscriptionGroup`). Off for `ringmq broker`; on in
    /// `ringmq standalone`.
    pub auto_create_subscription_group: bool,
    /// Most topics this broker holds (system topics included); creating
    /// one more, explicitly or automatically, is refused.
    pub topics_max: usize,
    /// Most subscription groups this broker holds.
    pub subscription_groups_max: usize,
    /// Queues of `TBW102`, the auto-create template (`defaultTopicQueueNums`).
    pub default_topic_queue_nums: u32,
    /// Largest message body (and record) accepted (`maxMessageSize`).
    pub message_bytes_max: usize,
    /// Largest frame accepted from a connection; bigger ones close it.
    pub frame_bytes_max: usize,
    /// Client connections the broker holds at once; more are closed at accept.
    pub connections_max: usize,
    /// Client connections one remote IP address may hold at once.
    pub connections_per_address_max: usize,
    /// A connection that completes no request frame for this long, with
    /// nothing in flight, is closed (Java `serverChannelMaxIdleTimeSeconds`).
    pub connection_idle_timeout_ms: u64,
    /// Reply bytes queued for one connection before the broker stops
    /// reading its requests (a client that does not read its replies).
    pub connection_outbound_bytes_max: usize,
    /// Requests one connection may have in progress; more get SYSTEM_BUSY.
    pub connection_requests_in_flight_max: usize,
    /// Check RocketMQ ACL 1.0 signatures and permissions (`aclEnable`).
    pub acl_enable: bool,
    /// The `plain_acl.yml` file; reloaded when it changes. Empty =
    /// `<data_dir>/config/plain_acl.yml`.
    pub acl_file: String,
    /// ACL access key this broker signs its nameserver requests with
    /// (for nameservers with `acl_enable`); empty = unsigned.
    pub nameserver_access_key: String,
    /// ACL secret key matching `nameserver_access_key`.
    pub nameserver_secret_key: String,
    /// Hold pulls that find nothing until a message arrives (`longPollingEnable`).
    pub long_polling_enable: bool,
    /// Hold time when long polling is off (`shortPollingTimeMills`).
    pub short_polling_ms: u64,
    /// Period of nameserver registration (`registerNameServerPeriod`).
    pub register_period_ms: u64,
    /// Period of `consumerOffset.json` persistence (`flushConsumerOffsetInterval`).
    pub offset_persist_period_ms: u64,
    /// Client channels silent this long are dropped (`channelMaxIdleTimeSeconds`).
    pub client_idle_expiry_ms: u64,
    /// How long an orderly consumer's queue lock lasts unrenewed
    /// (`rocketmq.broker.rebalance.lockMaxLiveTime`, 60 s).
    pub rebalance_lock_max_live_time_ms: i64,
    /// Tell a group's consumers when its membership changes.
    pub notify_consumer_ids_changed_enable: bool,
    /// Delay of each delay level, level 1 first (`messageDelayLevel`):
    /// numbers with a unit s, m, h or d, separated by spaces.
    pub message_delay_level: String,
    /// Longest delay a timed message may ask for, in seconds (`timerMaxDelaySec`).
    pub timer_max_delay_sec: u64,
    /// A half message without an outcome is first checked back this long
    /// after it was born (`transactionTimeOut`).
    pub transaction_timeout_ms: u64,
    /// Period of the transaction check-back scan (`transactionCheckInterval`).
    pub transaction_check_interval_ms: u64,
    /// Checks of one half before it is rolled back (`transactionCheckMax`).
    pub transaction_check_max: u32,
    /// Unacked POP checkpoints (each up to 32 popped messages) one shard
    /// holds; pops beyond it find nothing until acks or revivals free room.
    pub pop_checkpoints_max: usize,
    /// `host:port` of the Prometheus `/metrics` endpoint; empty = none.
    pub metrics_address: String,
    /// `host:port` of the RocketMQ 5 gRPC endpoint (`apache.rocketmq.v2`,
    /// served by the `ringmq` binary, crate `ringmq-grpc`); empty = none.
    pub grpc_listen: String,
    /// Log level or filter (`ringmq --log-level`, which wins); empty = the
    /// default. Read once at start-up.
    pub log_level: String,
    /// Log line format, `text` or `json` (`--log-format` wins); empty =
    /// text. Read once at start-up.
    pub log_format: String,
    /// Sends are refused `[TIMEOUT_CLEAN_QUEUE]` while a record has waited
    /// longer than this for the commit-log writer (`waitTimeMillsInSendQueue`).
    pub wait_time_in_queue_ms: u64,
    /// Sends are refused `[PC_SYNCHRONIZED]` while a commit-log write has
    /// taken longer than this (`osPageCacheBusyTimeOutMills`).
    pub os_page_cache_busy_timeout_ms: u64,
    /// Appends in progress per shard before sends are refused `[OVERLOAD]`
    /// (`sendThreadPoolQueueCapacity`).
    pub send_pending_max: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen_address: IpAddr::from([0, 0, 0, 0]),
            listen_port: 10911,
            advertised_address: String::new(),
            broker_name: "broker-a".to_owned(),
            cluster_name: "DefaultCluster".to_owned(),
            broker_id: 0,
            nameservers: Vec::new(),
            data_dir: default_data_dir(),
            shards: 0,
            flush_mode: FlushMode::Async,
            segment_bytes: 1024 * 1024 * 1024,
            retention_hours: 72,
            disk_usage_max_percent: 90,
            disk_max_used_space_percent:
                ringmq_storage::config::DISK_MAX_USED_SPACE_PERCENT_DEFAULT,
            disk_usage_file: String::new(),
            auto_create_topic_enable: false,
            auto_create_subscription_group: false,
            topics_max: crate::topics::TOPICS_MAX_DEFAULT,
            subscription_groups_max: crate::groups::GROUPS_MAX_DEFAULT,
            default_topic_queue_nums: 8,
            message_bytes_max: BODY_MAX_BYTES,
            frame_bytes_max: FRAME_MAX_BYTES_DEFAULT,
            connections_max: crate::limits::CONNECTIONS_MAX_DEFAULT,
            connections_per_address_max: crate::limits::CONNECTIONS_PER_ADDRESS_MAX_DEFAULT,
            connection_idle_timeout_ms: crate::limits::CONNECTION_IDLE_TIMEOUT_MS_DEFAULT,
            connection_outbound_bytes_max: crate::limits::CONNECTION_OUTBOUND_BYTES_MAX_DEFAULT,
            connection_requests_in_flight_max: crate::limits::IN_FLIGHT_MAX_DEFAULT,
            acl_enable: false,
            acl_file: String::new(),
            nameserver_access_key: String::new(),
            nameserver_secret_key: String::new(),
            long_polling_enable: true,
            short_polling_ms: 1000,
            register_period_ms: 30_000,
            offset_persist_period_ms: 5_000,
            client_idle_expiry_ms: 120_000,
            rebalance_lock_max_live_time_ms: crate::locks::LOCK_EXPIRY_MS,
            notify_consumer_ids_changed_enable: true,
            message_delay_level: crate::schedule::DELAY_LEVELS_DEFAULT.to_owned(),
            timer_max_delay_sec: crate::schedule::TIMER_MAX_DELAY_SEC_DEFAULT,
            transaction_timeout_ms: 6_000,
            transaction_check_interval_ms: 60_000,
            transaction_check_max: 15,
            pop_checkpoints_max: crate::pop::POP_CHECKPOINTS_MAX_DEFAULT,
            metrics_address: String::new(),
            grpc_listen: String::new(),
            log_level: String::new(),
            log_format: String::new(),
            wait_time_in_queue_ms: crate::flow::WAIT_TIME_IN_QUEUE_MS_DEFAULT,
            os_page_cache_busy_timeout_ms: crate::flow::OS_PAGE_CACHE_BUSY_TIMEOUT_MS_DEFAULT,
            send_pending_max: crate::flow::SEND_PENDING_MAX_DEFAULT,
        }
    }
}

/// `$HOME/ringmq/broker`, or `./ringmq-data/broker` without a home.
fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join("ringmq").join("broker"),
        None => PathBuf::from("ringmq-data").join("broker"),
    }
}

/// Why a configuration was refused. Every variant names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl BrokerConfig {
    /// Reads a TOML file on top of the defaults.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text on top of the defaults; the error names the key.
    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|err| err.to_string())
    }

    /// The defaults as a commented TOML file (`--print-default-config`).
    pub fn default_toml() -> String {
        let body = toml::to_string(&BrokerConfig::default()).unwrap_or_default();
        let mut out = String::from(DEFAULT_TOML_HEADER);
        for line in body.lines() {
            let key = line.split(" =").next().unwrap_or("");
            if let Some(doc) = key_doc(key) {
                out.push_str("\n# ");
                out.push_str(doc);
                out.push('\n');
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Applies every `RINGMQ_<KEY>` environment variable (e.g.
    /// `RINGMQ_LISTEN_PORT=10911`, `RINGMQ_NAMESERVERS=a:9876;b:9876`).
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        self.apply_env_from(|var| std::env::var(var).ok())
    }

    /// [`BrokerConfig::apply_env`] with an injectable lookup (for tests).
    pub fn apply_env_from(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for key in ENV_KEYS {
            let var = format!("RINGMQ_{}", key.to_uppercase());
            if let Some(value) = lookup(&var) {
                self.set_key(key, &value)
                    .map_err(|message| ConfigError::Env {
                        var: var.clone(),
                        message,
                    })?;
            }
        }
        Ok(())
    }

    /// Sets one key from its string form, as TOML would read it. A list
    /// (`nameservers`) is split on `;` or `,`.
    pub fn set_key(&mut self, key: &str, value: &str) -> Result<(), String> {
        let toml_value = if key == "nameservers" {
            let items: Vec<toml::Value> = value
                .split([';', ','])
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_owned()))
                .collect();
            toml::Value::Array(items)
        } else {
            match toml::from_str::<toml::Table>(&format!("v = {value}")) {
                Ok(mut table) => match table.remove("v") {
                    Some(parsed) if !parsed.is_table() => parsed,
                    _ => literal_value(value),
                },
                Err(_) => literal_value(value),
            }
        };
        let mut table = toml::Table::try_from(&*self).map_err(|err| err.to_string())?;
        table.insert(key.to_owned(), toml_value);
        *self = toml::Value::Table(table)
            .try_into()
            .map_err(|err: toml::de::Error| format!("{key} = {value:?}: {}", err.message()))?;
        Ok(())
    }

    /// Checks the values against each other; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid =
            |key: &'static str, message: String| Err(ConfigError::Invalid { key, message });
        if self.pop_checkpoints_max == 0
            || self.pop_checkpoints_max > crate::pop::POP_CHECKPOINTS_MAX_LIMIT
        {
            return invalid(
                "pop_checkpoints_max",
                format!(
                    "{} is not within 1..={}",
                    self.pop_checkpoints_max,
                    crate::pop::POP_CHECKPOINTS_MAX_LIMIT
                ),
            );
        }
        if self.send_pending_max == 0 {
            return invalid("send_pending_max", "must be above 0".to_owned());
        }
        if self.shards > SHARDS_MAX {
            return invalid(
                "shards",
                format!("{} is above the limit of {SHARDS_MAX}", self.shards),
            );
        }
        if self.segment_bytes < SEGMENT_BYTES_MIN {
            return invalid(
                "segment_bytes",
                format!(
                    "{} is below the minimum of {SEGMENT_BYTES_MIN}",
                    self.segment_bytes
                ),
            );
        }
        if (self.segment_bytes as usize) < self.message_bytes_max.saturating_mul(2) {
            return invalid(
                "segment_bytes",
                format!(
                    "must hold at least two messages of message_bytes_max ({})",
                    self.message_bytes_max
                ),
            );
        }
        if self.message_bytes_max > BODY_MAX_BYTES {
            return invalid(
                "message_bytes_max",
                format!(
                    "{} is above {BODY_MAX_BYTES}, the largest body a message record holds",
                    self.message_bytes_max
                ),
            );
        }
        if self.message_bytes_max == 0 || self.message_bytes_max >= self.frame_bytes_max {
            return invalid(
                "message_bytes_max",
                format!(
                    "must be above 0 and below frame_bytes_max ({})",
                    self.frame_bytes_max
                ),
            );
        }
        if self.transaction_check_interval_ms == 0 {
            return invalid(
                "transaction_check_interval_ms",
                "must be above 0 (ms between check-back scans)".into(),
            );
        }
        if !(1..=100).contains(&self.disk_usage_max_percent) {
            return invalid("disk_usage_max_percent", "must be within 1..=100".into());
        }
        if !(1..=100).contains(&self.disk_max_used_space_percent) {
            return invalid(
                "disk_max_used_space_percent",
                "must be within 1..=100".into(),
            );
        }
        if self.broker_name.is_empty() || self.cluster_name.is_empty() {
            return invalid(
                "broker_name",
                "broker_name and cluster_name must not be empty".into(),
            );
        }
        // Both are topics of this broker too, registered with the nameserver.
        for (key, value) in [
            ("broker_name", &self.broker_name),
            ("cluster_name", &self.cluster_name),
        ] {
            ringmq_net::validate::name(ringmq_net::validate::NameKind::Topic, key, value).map_err(
                |err| ConfigError::Invalid {
                    key,
                    message: err.to_string(),
                },
            )?;
        }
        if !(1..=1024).contains(&self.default_topic_queue_nums) {
            return invalid("default_topic_queue_nums", "must be within 1..=1024".into());
        }
        if !(1000..=600_000).contains(&self.register_period_ms) {
            return invalid("register_period_ms", "must be within 1000..=600000".into());
        }
        if !(crate::locks::LOCK_EXPIRY_MS_MIN..=crate::locks::LOCK_EXPIRY_MS_MAX)
            .contains(&self.rebalance_lock_max_live_time_ms)
        {
            return invalid(
                "rebalance_lock_max_live_time_ms",
                format!(
                    "must be within {}..={}",
                    crate::locks::LOCK_EXPIRY_MS_MIN,
                    crate::locks::LOCK_EXPIRY_MS_MAX
                ),
            );
        }
        if self.offset_persist_period_ms == 0 || self.client_idle_expiry_ms == 0 {
            return invalid("offset_persist_period_ms", "periods must be above 0".into());
        }
        crate::schedule::validate_config(self)
            .map_err(|(key, message)| ConfigError::Invalid { key, message })?;
        crate::limits::validate_config(self)?;
        for addr in &self.nameservers {
            if !addr.contains(':') {
                return invalid("nameservers", format!("{addr:?} is not host:port"));
            }
        }
        if !self.advertised_address.is_empty() {
            parse_advertised(&self.advertised_address, 1).map_err(|message| {
                ConfigError::Invalid {
                    key: "advertised_address",
                    message,
                }
            })?;
        }
        Ok(())
    }

    /// The number of shards to run: the configured one, or the CPU count.
    pub fn shard_count(&self) -> usize {
        if self.shards > 0 {
            return self.shards;
        }
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .min(SHARDS_MAX)
    }

    /// The address clients reach this broker at, given the bound port.
    pub fn advertised_socket_addr(&self, bound_port: u16) -> SocketAddr {
        if let Ok(addr) = parse_advertised(&self.advertised_address, bound_port) {
            return addr;
        }
        let ip = if self.listen_address.is_unspecified() {
            outbound_ip().unwrap_or(IpAddr::from([127, 0, 0, 1]))
        } else {
            self.listen_address
        };
        SocketAddr::new(ip, bound_port)
    }
}

/// `ip` or `ip:port`.
fn parse_advertised(text: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, default_port))
        .map_err(|_| format!("{text:?} is neither an IP address nor ip:port"))
}

/// The local address the kernel would use to reach a public host; no packet
/// is sent (UDP connect only selects a route).
fn outbound_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

fn literal_value(value: &str) -> toml::Value {
    toml::Value::String(value.to_owned())
}

/// Keys settable from the environment: every key of the file.
const ENV_KEYS: &[&str] = &[
    "listen_address",
    "listen_port",
    "advertised_address",
    "broker_name",
    "cluster_name",
    "broker_id",
    "nameservers",
    "data_dir",
    "shards",
    "flush_mode",
    "segment_bytes",
    "retention_hours",
    "disk_usage_max_percent",
    "disk_max_used_space_percent",
    "disk_usage_file",
    "auto_create_topic_enable",
    "auto_create_subscription_group",
    "topics_max",
    "subscription_groups_max",
    "default_topic_queue_nums",
    "message_bytes_max",
    "frame_bytes_max",
    "connections_max",
    "connections_per_address_max",
    "connection_idle_timeout_ms",
    "connection_outbound_bytes_max",
    "connection_requests_in_flight_max",
    "acl_enable",
    "acl_file",
    "nameserver_access_key",
    "nameserver_secret_key",
    "long_polling_enable",
    "short_polling_ms",
    "register_period_ms",
    "offset_persist_period_ms",
    "client_idle_expiry_ms",
    "rebalance_lock_max_live_time_ms",
    "notify_consumer_ids_changed_enable",
    "message_delay_level",
    "timer_max_delay_sec",
    "transaction_timeout_ms",
    "transaction_check_interval_ms",
    "transaction_check_max",
    "pop_checkpoints_max",
    "metrics_address",
    "grpc_listen",
    "log_level",
    "log_format",
    "wait_time_in_queue_ms",
    "os_page_cache_busy_timeout_ms",
    "send_pending_max",
];

const DEFAULT_TOML_HEADER: &str = "# ringmq broker configuration (defaults).\n\
# Every key can also be set as RINGMQ_<KEY> in the environment, or by a flag.\n";

fn key_doc(key: &str) -> Option<&'static str> {
    Some(match key {
        "listen_address" => "Address to listen on.",
        "listen_port" => "Port to listen on (RocketMQ listenPort); 0 picks a free one.",
        "advertised_address" => {
            "ip or ip:port clients use to reach this broker (brokerIP1); empty = detect."
        }
        "broker_name" => "brokerName.",
        "cluster_name" => "brokerClusterName; added to every message as CLUSTER.",
        "broker_id" => "brokerId: 0 = master.",
        "nameservers" => "Nameservers to register with, host:port each (env: a:9876;b:9876).",
        "data_dir" => "Root directory of the stores and config/*.json.",
        "shards" => "Event-loop threads, one per core by default (0 = CPU count).",
        "flush_mode" => "\"async\" (ASYNC_FLUSH) or \"sync\" (SYNC_FLUSH, group commit).",
        "segment_bytes" => "Commit-log segment size in bytes.",
        "retention_hours" => "Hours a commit-log segment is kept.",
        "disk_usage_max_percent" => "Sends are refused while the data disk is fuller than this.",
        "disk_max_used_space_percent" => {
            "Past this disk usage the oldest segments are deleted early (diskMaxUsedSpaceRatio)."
        }
        "disk_usage_file" => {
            "Drill/test hook: file holding the disk usage percent, read instead of statvfs."
        }
        "auto_create_topic_enable" => {
            "Create unknown topics on first send (TBW102 template); off in production."
        }
        "auto_create_subscription_group" => {
            "Create unknown consumer groups on first use; off in production."
        }
        "topics_max" => "Most topics the broker holds; creating more is refused.",
        "subscription_groups_max" => "Most subscription groups the broker holds.",
        "default_topic_queue_nums" => "Queues of TBW102, the auto-create template.",
        "message_bytes_max" => "Largest message accepted (maxMessageSize).",
        "frame_bytes_max" => "Largest frame accepted; a bigger one closes the connection.",
        "connections_max" => "Client connections held at once; more are closed at accept.",
        "connections_per_address_max" => "Client connections one remote IP may hold at once.",
        "connection_idle_timeout_ms" => {
            "A connection completing no request this long (nothing in flight) is closed."
        }
        "connection_outbound_bytes_max" => {
            "Unread reply bytes per connection before its requests stop being read."
        }
        "connection_requests_in_flight_max" => {
            "Requests in progress per connection; more get SYSTEM_BUSY."
        }
        "acl_enable" => "Check RocketMQ ACL 1.0 signatures and permissions (plain_acl.yml).",
        "acl_file" => {
            "plain_acl.yml path, reloaded on change; empty = <data_dir>/config/plain_acl.yml."
        }
        "nameserver_access_key" => {
            "ACL access key for signing nameserver requests; empty = unsigned."
        }
        "nameserver_secret_key" => "ACL secret key matching nameserver_access_key.",
        "long_polling_enable" => "Hold empty pulls until a message arrives.",
        "short_polling_ms" => "Hold time of empty pulls when long polling is off.",
        "register_period_ms" => "Nameserver registration period.",
        "offset_persist_period_ms" => "consumerOffset.json persistence period.",
        "client_idle_expiry_ms" => "Client channels silent this long are dropped.",
        "rebalance_lock_max_live_time_ms" => {
            "An orderly consumer's queue lock lasts this long unrenewed (lockMaxLiveTime)."
        }
        "notify_consumer_ids_changed_enable" => "Tell consumers when their group changes.",
        "message_delay_level" => {
            "Delay of each delay level (messageDelayLevel), e.g. \"1s 5s 2m 1h\"."
        }
        "timer_max_delay_sec" => "Longest delay of a timed message, in seconds (timerMaxDelaySec).",
        "transaction_timeout_ms" => "A half message without an outcome is checked back after this.",
        "transaction_check_interval_ms" => "Period of the transaction check-back scan.",
        "transaction_check_max" => "Checks of a half message before it is rolled back.",
        "pop_checkpoints_max" => {
            "Unacked POP checkpoints (up to 32 messages each) a shard holds before pops pause."
        }
        "metrics_address" => "host:port of the Prometheus /metrics endpoint; empty = none.",
        "grpc_listen" => "host:port of the RocketMQ 5 gRPC endpoint; empty = none.",
        "log_level" => "Log level or filter at start-up; --log-level wins; empty = info.",
        "log_format" => "Log lines at start-up: text or json; --log-format wins; empty = text.",
        "wait_time_in_queue_ms" => {
            "Refuse sends [TIMEOUT_CLEAN_QUEUE] while a record waits longer for the writer."
        }
        "os_page_cache_busy_timeout_ms" => {
            "Refuse sends [PC_SYNCHRONIZED] while a commit-log write takes longer than this."
        }
        "send_pending_max" => "Appends in progress per shard before sends get [OVERLOAD].",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn default_toml_parses_back_to_the_defaults() {
        let text = BrokerConfig::default_toml();
        assert_eq!(
            BrokerConfig::from_toml_str(&text).unwrap(),
            BrokerConfig::default()
        );
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        let err = BrokerConfig::from_toml_str("listen_prot = 1\n").unwrap_err();
        assert!(err.contains("listen_prot"), "{err}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let err = BrokerConfig::from_toml_str("listen_port = \"x\"\n").unwrap_err();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn env_overrides_file_values() {
        let mut config = BrokerConfig::from_toml_str("listen_port = 1\n").unwrap();
        config
            .apply_env_from(|var| match var {
                "RINGMQ_LISTEN_PORT" => Some("2".into()),
                "RINGMQ_NAMESERVERS" => Some("a:1;b:2".into()),
                "RINGMQ_FLUSH_MODE" => Some("sync".into()),
                "RINGMQ_BROKER_NAME" => Some("b1".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.listen_port, 2);
        assert_eq!(config.nameservers, vec!["a:1".to_owned(), "b:2".to_owned()]);
        assert_eq!(config.flush_mode, FlushMode::Sync);
        assert_eq!(config.broker_name, "b1");
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let mut config = BrokerConfig::default();
        let err = config
            .apply_env_from(|var| (var == "RINGMQ_SHARDS").then(|| "many".into()))
            .unwrap_err();
        assert!(err.to_string().contains("RINGMQ_SHARDS"), "{err}");
    }

    #[test]
    fn validate_names_the_key() {
        let config = BrokerConfig {
            segment_bytes: 1,
            ..BrokerConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("segment_bytes")
        );
    }

    #[test]
    fn message_bytes_max_cannot_exceed_what_a_record_holds() {
        let config = BrokerConfig {
            message_bytes_max: BODY_MAX_BYTES + 1,
            ..BrokerConfig::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("message_bytes_max"), "{err}");
        let config = BrokerConfig {
            message_bytes_max: BODY_MAX_BYTES,
            ..BrokerConfig::default()
        };
        config.validate().unwrap();
    }

    #[test]
    fn advertised_address_defaults_to_the_bound_port() {
        let config = BrokerConfig {
            listen_address: IpAddr::from([127, 0, 0, 1]),
            ..BrokerConfig::default()
        };
        assert_eq!(
            config.advertised_socket_addr(4000).to_string(),
            "127.0.0.1:4000"
        );
        let config = BrokerConfig {
            advertised_address: "10.0.0.1".into(),
            ..BrokerConfig::default()
        };
        assert_eq!(
            config.advertised_socket_addr(4000).to_string(),
            "10.0.0.1:4000"
        );
    }
}
