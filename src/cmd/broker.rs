//! `ringmq broker`: runs a broker until SIGINT/SIGTERM, then stops it
//! gracefully (in-flight requests finished, stores flushed, offsets
//! persisted, nameservers told).
//!
//! Configuration precedence, lowest first: built-in defaults, `--config`
//! TOML file, `RINGMQ_*` environment variables, flags.

use std::path::PathBuf;

use anyhow::Context;
use ringmq_broker::{Broker, BrokerConfig};

/// Flags of `ringmq broker`.
#[derive(clap::Args)]
pub struct Args {
    /// TOML configuration file (see --print-default-config).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Print the default configuration as TOML and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Address to listen on.
    #[arg(long)]
    pub listen_address: Option<String>,
    /// Port to listen on (0 = any free port).
    #[arg(long, short = 'p')]
    pub listen_port: Option<u16>,
    /// ip or ip:port clients use to reach this broker (brokerIP1).
    #[arg(long)]
    pub advertised_address: Option<String>,
    /// Nameservers, separated by ';' or ','.
    #[arg(long, short = 'n')]
    pub nameservers: Option<String>,
    /// Root directory of the stores and config files.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Number of shards (0 = one per CPU core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Broker name.
    #[arg(long)]
    pub broker_name: Option<String>,
    /// Cluster name.
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// "async" or "sync".
    #[arg(long)]
    pub flush_mode: Option<String>,
    /// Set any other config key: --set key=value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Builds the configuration from defaults, file, environment and flags.
pub fn config_from(args: &Args) -> anyhow::Result<BrokerConfig> {
    let mut config = match &args.config {
        Some(path) => BrokerConfig::from_toml_file(path)?,
        None => BrokerConfig::default(),
    };
    config.apply_env()?;
    let flags: [(&str, Option<String>); 9] = [
        ("listen_address", args.listen_address.clone()),
        ("listen_port", args.listen_port.map(|p| p.to_string())),
        ("advertised_address", args.advertised_address.clone()),
        ("nameservers", args.nameservers.clone()),
        (
            "data_dir",
            args.data_dir.as_ref().map(|d| d.display().to_string()),
        ),
        ("shards", args.shards.map(|s| s.to_string())),
        ("broker_name", args.broker_name.clone()),
        ("cluster_name", args.cluster_name.clone()),
        ("flush_mode", args.flush_mode.clone()),
    ];
    for (key, value) in flags {
        if let Some(value) = value {
            config.set_key(key, &value).map_err(|message| {
                anyhow::anyhow!("flag --{}: {message}", key.replace('_', "-"))
            })?;
        }
    }
    apply_set(&mut config, &args.set)?;
    config.validate()?;
    Ok(config)
}

/// Applies `--set KEY=VALUE` pairs in order: any key of the broker's
/// configuration file, parsed as the file would parse it. `ringmq broker`
/// and `ringmq standalone` both take their `--set` through here.
pub fn apply_set(config: &mut BrokerConfig, pairs: &[String]) -> anyhow::Result<()> {
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("--set {pair:?}: expected key=value"))?;
        config
            .set_key(key.trim(), value.trim())
            .map_err(|message| anyhow::anyhow!("--set {pair:?}: {message}"))?;
    }
    Ok(())
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.print_default_config {
        print!("{}", BrokerConfig::default_toml());
        return Ok(());
    }
    let config = config_from(&args)?;
    let broker = Broker::start(config).context("the broker did not start")?;
    println!(
        "ringmq broker listening on {} (clients reach it at {})",
        broker.local_addr(),
        broker.store_host()
    );
    let grpc = start_grpc(&broker)
        .transpose()
        .context("the gRPC endpoint did not start")?;
    if let Some(server) = &grpc {
        println!("ringmq broker serves gRPC on {}", server.local_addr());
    }
    wait_for_stop_signal()?;
    tracing::info!("stop signal received; shutting down");
    drop(grpc);
    broker.shutdown();
    Ok(())
}

/// Starts the RocketMQ 5 gRPC endpoint on `grpc_listen` (none when empty);
/// routes name the broker's advertised host with the gRPC port.
pub fn start_grpc(
    broker: &ringmq_broker::BrokerHandle,
) -> Option<Result<ringmq_grpc::GrpcServer, ringmq_grpc::GrpcStartError>> {
    let listen = &broker.config().grpc_listen;
    if listen.is_empty() {
        return None;
    }
    Some(ringmq_grpc::GrpcServer::start(
        listen,
        broker.store_host().ip(),
        broker.gateway(),
    ))
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_stop_signal() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot set up signal handling")?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for SIGINT"),
            _ = term.recv() => Ok(()),
        }
    })
}
