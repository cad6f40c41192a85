//! `ringmq standalone`: a nameserver and a broker in one process, the quick
//! start. The nameserver runs on its own thread (tokio); the broker runs its
//! own shard threads (compio). Ctrl-C or SIGTERM shuts both down cleanly:
//! the broker finishes in-flight work, flushes and unregisters first.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use ringmq_broker::{Broker, BrokerConfig, BrokerHandle};
use ringmq_nameserver::{NameserverConfig, NameserverThread};

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
    /// Commit-log segment size in bytes; default 1 GiB as in RocketMQ.
    #[arg(long, env = "RINGMQ_SEGMENT_BYTES")]
    pub segment_bytes: Option<u64>,
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
        let mut broker_config = BrokerConfig {
            listen_address: args.host,
            listen_port: args.broker_port,
            advertised_address: args.host.to_string(),
            nameservers: vec![nameserver.local_addr().to_string()],
            data_dir: args.data_dir.join("broker"),
            ..BrokerConfig::default()
        };
        if let Some(shards) = args.shards {
            broker_config.shards = shards;
        }
        if let Some(segment_bytes) = args.segment_bytes {
            broker_config.segment_bytes = segment_bytes;
        }
        broker_config
            .validate()
            .context("invalid broker settings")?;
        let broker = Broker::start(broker_config).context("cannot start the broker")?;
        Ok(Self {
            nameserver,
            broker,
            data_dir: args.data_dir.clone(),
        })
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
    println!("  data:       {}", cluster.data_dir.display());
    println!("Press Ctrl-C to stop.");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal runtime")?;
    runtime.block_on(wait_for_stop_signal());
    println!("stopping: flushing the broker and unregistering it");
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
