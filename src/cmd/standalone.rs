//! `ringmq standalone`: a nameserver and a broker in one process, the quick
//! start. The nameserver runs on its own thread (tokio); the broker runs its
//! own shard threads (compio). Ctrl-C or SIGTERM shuts both down cleanly:
//! the broker finishes in-flight work, flushes and unregisters first.
//!
//! Disk: the commit log preallocates fixed-size segments (the active one and
//! the next) on every shard. With RocketMQ's 1 GiB segments that is 2 GiB per
//! shard before the first message, too much for a first try on a laptop, so
//! standalone sizes its segments from a budget of
//! [`PREALLOCATED_BYTES_BUDGET`] over all shards (64 MiB segments on one or
//! two cores, smaller on more, never below the broker's minimum).
//! `ringmq broker` keeps RocketMQ's 1 GiB. `--segment-bytes` or
//! `--set segment_bytes=...` choose another size.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use ringmq_broker::config::SEGMENT_BYTES_MIN;
use ringmq_broker::{Broker, BrokerConfig, BrokerHandle, FlushMode};
use ringmq_nameserver::{NameserverConfig, NameserverThread};

/// Commit-log bytes standalone lets its shards preallocate together on first
/// start, before any message is stored.
pub const PREALLOCATED_BYTES_BUDGET: u64 = 256 * MIB;
/// Largest segment standalone picks by itself: 64 MiB holds 16 maximal (4 MiB)
/// messages and tens of thousands of ordinary ones, so segment roll-over stays
/// rare, while 2 of them per shard stay small on a laptop.
pub const SEGMENT_BYTES_STANDALONE_MAX: u64 = 64 * MIB;
/// Segments the commit log keeps preallocated per shard: the active one and
/// the next (the storage's segment allocator).
pub const SEGMENTS_PREALLOCATED_PER_SHARD: u64 = 2;
const MIB: u64 = 1024 * 1024;

/// Flags of `ringmq standalone`.
#[derive(clap::Args)]
pub struct Args {
    /// Where messages, offsets and topic configs are kept.
    #[arg(long, env = "RINGMQ_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Address both servers listen on (and the broker advertises).
    #[arg(long, env = "RINGMQ_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Nameserver port (RocketMQ's default is 9876).
    #[arg(long, env = "RINGMQ_NAMESRV_PORT", default_value_t = 9876)]
    pub namesrv_port: u16,
    /// Broker port (RocketMQ's default is 10911).
    #[arg(long, env = "RINGMQ_BROKER_PORT", default_value_t = 10911)]
    pub broker_port: u16,
    /// Broker shards (threads); default: one per core.
    #[arg(long, env = "RINGMQ_SHARDS")]
    pub shards: Option<usize>,
    /// Commit-log segment size in bytes; default: at most 64 MiB, so that
    /// all shards preallocate 256 MiB together (`ringmq broker`: 1 GiB).
    #[arg(long, env = "RINGMQ_SEGMENT_BYTES")]
    pub segment_bytes: Option<u64>,
    /// Set any broker config key, as `ringmq broker --set` does (repeatable;
    /// applied last). See `ringmq broker --print-default-config`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Where the Prometheus `/metrics` endpoint listens; empty = none. If
    /// the default is taken, standalone runs without it and says so.
    #[arg(long, default_value = STANDALONE_METRICS_ADDRESS)]
    pub metrics_address: String,
    /// The web dashboard (`--dashboard-listen`, `--no-dashboard`, `--auth`).
    #[command(flatten)]
    pub dashboard: super::dashboard::StandaloneArgs,
}

/// The gRPC port of `ringmq standalone` (RocketMQ proxy's default).
pub const STANDALONE_GRPC_PORT: u16 = 8081;

/// The default `/metrics` address of `ringmq standalone`.
pub const STANDALONE_METRICS_ADDRESS: &str = "127.0.0.1:5557";

/// The segment size standalone uses unless told otherwise: the budget shared
/// by `shards` shards, whole MiB, within the broker's minimum and
/// [`SEGMENT_BYTES_STANDALONE_MAX`].
pub fn standalone_segment_bytes(shards: usize) -> u64 {
    let shards = u64::try_from(shards.max(1)).unwrap_or(u64::MAX);
    let share = PREALLOCATED_BYTES_BUDGET / SEGMENTS_PREALLOCATED_PER_SHARD.saturating_mul(shards);
    (share / MIB * MIB).clamp(SEGMENT_BYTES_MIN, SEGMENT_BYTES_STANDALONE_MAX)
}

/// The broker's configuration in standalone: listening on `args.host`,
/// registered with `nameserver`, data under `args.data_dir/broker`; then
/// `--shards`, `--segment-bytes` and every `--set` pair (through the same
/// code path as `ringmq broker --set`); modest segments unless a size was
/// given; then validated.
pub fn broker_config(args: &Args, nameserver: SocketAddr) -> anyhow::Result<BrokerConfig> {
    let mut config = BrokerConfig {
        listen_address: args.host,
        listen_port: args.broker_port,
        advertised_address: args.host.to_string(),
        nameservers: vec![nameserver.to_string()],
        data_dir: args.data_dir.join("broker"),
        // A quick start creates what clients ask for; `ringmq broker`
        // does not unless told (RocketMQ's production advice).
        auto_create_topic_enable: true,
        auto_create_subscription_group: true,
        ..BrokerConfig::default()
    };
    if let Some(shards) = args.shards {
        config.shards = shards;
    }
    if let Some(segment_bytes) = args.segment_bytes {
        config.segment_bytes = segment_bytes;
    }
    // RocketMQ 5 clients find standalone where they find a local proxy;
    // `--set grpc_listen=` (empty) turns it off.
    config.grpc_listen = SocketAddr::new(args.host, STANDALONE_GRPC_PORT).to_string();
    super::broker::apply_set(&mut config, &args.set)?;
    // Sized last, so that a shard count given by `--set shards=N` counts. A
    // data directory made by an earlier run keeps the size it was made with.
    if args.segment_bytes.is_none() && !sets_key(&args.set, "segment_bytes") {
        config.segment_bytes = existing_segment_bytes(&config.data_dir)
            .unwrap_or_else(|| standalone_segment_bytes(config.shard_count()));
    }
    config.validate().context("invalid broker settings")?;
    Ok(config)
}

/// The size of a commit-log segment already in `broker_dir` (shard 0), if
/// there is one: a store must be reopened with the segment size it has.
fn existing_segment_bytes(broker_dir: &std::path::Path) -> Option<u64> {
    let commitlog = broker_dir.join("shard-0").join("commitlog");
    std::fs::read_dir(commitlog)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .find(|meta| meta.is_file() && meta.len() > 0)
        .map(|meta| meta.len())
}

/// Whether one of the `--set` pairs sets `key`.
fn sets_key(pairs: &[String], key: &str) -> bool {
    pairs
        .iter()
        .any(|pair| pair.split_once('=').is_some_and(|(k, _)| k.trim() == key))
}

/// `$HOME/.ringmq/standalone`, or `./ringmq-data` without a home directory.
fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".ringmq").join("standalone"),
        None => PathBuf::from("ringmq-data"),
    }
}

/// A nameserver thread and a broker in this process: what `standalone`
/// runs, and what `bench` starts when it is given no nameserver.
pub struct EmbeddedCluster {
    nameserver: NameserverThread,
    broker: BrokerHandle,
    data_dir: PathBuf,
    broker_config: BrokerConfig,
}

impl EmbeddedCluster {
    /// Starts the nameserver, then the broker registered with it; returns
    /// once both listen.
    pub fn start(args: &Args) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("cannot create the data dir {}", args.data_dir.display()))?;
        let namesrv_config = NameserverConfig {
            listen: SocketAddr::new(args.host, args.namesrv_port),
            ..NameserverConfig::default()
        };
        let nameserver =
            NameserverThread::start(namesrv_config).context("cannot start the nameserver")?;
        let broker_config = broker_config(args, nameserver.local_addr())?;
        let broker = Broker::start(broker_config.clone()).context("cannot start the broker")?;
        Ok(Self {
            nameserver,
            broker,
            data_dir: args.data_dir.clone(),
            broker_config,
        })
    }

    /// The lines of the banner saying where data goes and how much disk it
    /// takes: segment size, what is preallocated, retention.
    pub fn disk_policy(&self) -> Vec<String> {
        let config = &self.broker_config;
        let shards = u64::try_from(config.shard_count()).unwrap_or(u64::MAX);
        let preallocated = config
            .segment_bytes
            .saturating_mul(SEGMENTS_PREALLOCATED_PER_SHARD)
            .saturating_mul(shards);
        vec![
            format!("data:       {}", self.data_dir.display()),
            format!(
                "segments:   {} MiB commit-log segments, {SEGMENTS_PREALLOCATED_PER_SHARD} preallocated per shard x {shards} shard(s) = {} MiB up front",
                config.segment_bytes / MIB,
                preallocated / MIB
            ),
            format!(
                "retention:  full segments last written over {} h ago are deleted; sends are refused above {}% disk use",
                config.retention_hours, config.disk_usage_max_percent
            ),
            format!(
                "flush:      {}",
                match config.flush_mode {
                    FlushMode::Async => "async (acked once written; fsync in the background)",
                    FlushMode::Sync => "sync (acked once fsynced, group commit)",
                }
            ),
        ]
    }

    /// Where clients find the nameserver.
    pub fn namesrv_addr(&self) -> SocketAddr {
        self.nameserver.local_addr()
    }

    /// Stops the broker (in-flight work, flush, unregister), then the
    /// nameserver.
    pub fn stop(self) -> anyhow::Result<()> {
        self.broker.shutdown();
        self.nameserver.stop().context("nameserver failed")?;
        Ok(())
    }
}

/// Runs both servers until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cluster = EmbeddedCluster::start(&args)?;
    let namesrv_addr = cluster.namesrv_addr();
    println!("ringmq standalone is up");
    println!("  nameserver: {namesrv_addr}   (clients: --namesrv {namesrv_addr})");
    println!("  broker:     {}", cluster.broker.store_host());
    let grpc = super::broker::start_grpc(&cluster.broker);
    match &grpc {
        Some(Ok(server)) => println!(
            "  grpc:       {}   (RocketMQ 5 clients: endpoints {})",
            server.local_addr(),
            server.local_addr()
        ),
        Some(Err(err)) => println!("  grpc:       not served ({err})"),
        None => {}
    }
    for line in cluster.disk_policy() {
        println!("  {line}");
    }
    let metrics = (!args.metrics_address.is_empty()).then(|| {
        let broker = cluster.broker.metrics_renderer();
        let nameserver = cluster.nameserver.metrics_renderer();
        let both: ringmq_broker::metrics::Render = std::sync::Arc::new(move || {
            // One exposition: the first part's `# EOF` terminator dropped.
            let mut text = broker();
            if let Some(cut) = text.strip_suffix("# EOF\n") {
                text.truncate(cut.len());
            }
            text + &nameserver()
        });
        ringmq_broker::metrics::MetricsServer::start(&args.metrics_address, both)
    });
    match &metrics {
        Some(Ok(server)) => println!("  metrics:    http://{}/metrics", server.local_addr()),
        Some(Err(err)) => println!("  metrics:    not served ({err})"),
        None => {}
    }
    let dashboard = args.dashboard.start(namesrv_addr);
    match &dashboard {
        Some(Ok(server)) => println!("  dashboard:  http://{}/", server.local_addr()),
        Some(Err(err)) => println!("  dashboard:  not served ({err:#})"),
        None => {}
    }
    println!("Press Ctrl-C to stop.");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal runtime")?;
    runtime.block_on(wait_for_stop_signal());
    println!("stopping: flushing the broker and unregistering it");
    drop(metrics);
    drop(dashboard);
    drop(grpc);
    cluster.stop()?;
    println!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn wait_for_stop_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(err) => {
                tracing::warn!("cannot listen for SIGTERM ({err}); only Ctrl-C stops");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NAMESRV: &str = "127.0.0.1:9876";

    fn parse(argv: &[&str]) -> Args {
        crate::cmd::parse_args("standalone", argv).unwrap()
    }

    fn config(argv: &[&str]) -> anyhow::Result<BrokerConfig> {
        broker_config(&parse(argv), NAMESRV.parse().unwrap())
    }

    #[test]
    fn set_is_parsed_repeatedly_in_order() {
        let args = parse(&["--set", "flush_mode=sync", "--set", "retention_hours=5"]);
        assert_eq!(args.set, ["flush_mode=sync", "retention_hours=5"]);
    }

    #[test]
    fn standalone_auto_creates_topics_and_groups() {
        let set = config(&[]).unwrap();
        assert!(set.auto_create_topic_enable && set.auto_create_subscription_group);
        let plain = BrokerConfig::default();
        assert!(!plain.auto_create_topic_enable && !plain.auto_create_subscription_group);
    }

    #[test]
    fn set_reaches_the_broker_config() {
        let set = config(&[
            "--set",
            "flush_mode=sync",
            "--set",
            "retention_hours=5",
            "--set",
            "auto_create_topic_enable=false",
        ])
        .unwrap();
        assert_eq!(set.flush_mode, FlushMode::Sync);
        assert_eq!(set.retention_hours, 5);
        assert!(!set.auto_create_topic_enable);
        assert_eq!(set.nameservers, [NAMESRV]);
    }

    #[test]
    fn every_key_of_the_broker_file_is_accepted_by_set() {
        let text = BrokerConfig::default_toml();
        let mut keys = 0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.split_once(" = ") else {
                continue;
            };
            let value = if key == "nameservers" { NAMESRV } else { value };
            let pair = format!("{key}={value}");
            config(&["--set", &pair]).unwrap_or_else(|e| panic!("--set {pair}: {e:#}"));
            keys += 1;
        }
        assert!(keys >= 20, "only {keys} keys in the default file");
    }

    #[test]
    fn a_bad_set_names_the_key_or_the_pair() {
        let err = config(&["--set", "flush_mod=sync"]).unwrap_err();
        assert!(format!("{err:#}").contains("flush_mod"), "{err:#}");
        let err = config(&["--set", "flush_mode"]).unwrap_err();
        assert!(format!("{err:#}").contains("key=value"), "{err:#}");
        let err = config(&["--set", "segment_bytes=1"]).unwrap_err();
        assert!(format!("{err:#}").contains("segment_bytes"), "{err:#}");
    }

    #[test]
    fn a_data_dir_from_an_earlier_run_keeps_its_segment_size() {
        let dir = tempfile::tempdir().unwrap();
        let commitlog = dir.path().join("broker/shard-0/commitlog");
        std::fs::create_dir_all(&commitlog).unwrap();
        let segment = std::fs::File::create(commitlog.join("00000000000000000000")).unwrap();
        segment.set_len(1024 * MIB).unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let reopened = config(&["--data-dir", data_dir, "--shards", "2"]).unwrap();
        assert_eq!(reopened.segment_bytes, 1024 * MIB);
    }

    #[test]
    fn set_wins_over_the_standalone_flags() {
        let both = config(&[
            "--segment-bytes",
            "16777216",
            "--set",
            "segment_bytes=33554432",
        ]);
        assert_eq!(both.unwrap().segment_bytes, 32 * MIB);
        let flag = config(&["--segment-bytes", "16777216", "--shards", "16"]);
        assert_eq!(
            flag.unwrap().segment_bytes,
            16 * MIB,
            "a given size is kept"
        );
    }

    #[test]
    fn standalone_segments_are_modest_and_the_broker_keeps_rocketmq_s() {
        assert_eq!(standalone_segment_bytes(1), 64 * MIB);
        assert_eq!(standalone_segment_bytes(2), 64 * MIB);
        assert_eq!(standalone_segment_bytes(4), 32 * MIB);
        assert_eq!(standalone_segment_bytes(16), SEGMENT_BYTES_MIN);
        assert_eq!(standalone_segment_bytes(256), SEGMENT_BYTES_MIN);
        for shards in 1..=16 {
            let total = standalone_segment_bytes(shards)
                * SEGMENTS_PREALLOCATED_PER_SHARD
                * u64::try_from(shards).unwrap();
            assert!(
                total <= PREALLOCATED_BYTES_BUDGET,
                "{shards} shards: {total}"
            );
        }
        let two = config(&["--shards", "2"]).unwrap();
        assert_eq!(two.segment_bytes, 64 * MIB);
        let sixteen = config(&["--set", "shards=16"]).unwrap();
        assert_eq!(
            sixteen.segment_bytes, SEGMENT_BYTES_MIN,
            "sized for 16 shards"
        );
        assert_eq!(BrokerConfig::default().segment_bytes, 1024 * MIB);
    }
}
