//! `ringmq standalone`: a nameserver and a broker in one process, the quick
//! start. The nameserver runs on a small tokio runtime; the broker runs its
//! own shard threads (compio). Ctrl-C or SIGTERM shuts both down cleanly:
//! the broker finishes in-flight work, flushes and unregisters first.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use ringmq_broker::{Broker, BrokerConfig};
use ringmq_nameserver::{Nameserver, NameserverConfig};

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
}

/// `$HOME/.ringmq/standalone`, or `./ringmq-data` without a home directory.
fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".ringmq").join("standalone"),
        None => PathBuf::from("ringmq-data"),
    }
}

/// Runs both servers until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data dir {}", args.data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the nameserver runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let namesrv_config = NameserverConfig {
        listen: SocketAddr::new(args.host, args.namesrv_port),
        ..NameserverConfig::default()
    };
    let nameserver = Nameserver::bind(namesrv_config)
        .await
        .context("cannot start the nameserver")?;
    let namesrv_addr = nameserver.local_addr();
    let (stop_namesrv, namesrv_stopped) = tokio::sync::oneshot::channel::<()>();
    let namesrv_task = tokio::spawn(nameserver.serve(async {
        let _ = namesrv_stopped.await;
    }));

    let mut broker_config = BrokerConfig {
        listen_address: args.host,
        listen_port: args.broker_port,
        advertised_address: args.host.to_string(),
        nameservers: vec![namesrv_addr.to_string()],
        data_dir: args.data_dir.join("broker"),
        ..BrokerConfig::default()
    };
    if let Some(shards) = args.shards {
        broker_config.shards = shards;
    }
    broker_config.validate().context("invalid broker settings")?;
    let broker = tokio::task::spawn_blocking(move || Broker::start(broker_config))
        .await
        .context("broker start-up panicked")?
        .context("cannot start the broker")?;

    println!("ringmq standalone is up");
    println!("  nameserver: {namesrv_addr}   (clients: --namesrv {namesrv_addr})");
    println!("  broker:     {}", broker.store_host());
    println!("  data:       {}", args.data_dir.display());
    println!("Press Ctrl-C to stop.");

    wait_for_stop_signal().await;
    println!("stopping: flushing the broker and unregistering it");
    tokio::task::spawn_blocking(move || broker.shutdown())
        .await
        .context("broker shutdown panicked")?;
    let _ = stop_namesrv.send(());
    namesrv_task
        .await
        .context("nameserver task panicked")?
        .context("nameserver failed")?;
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
