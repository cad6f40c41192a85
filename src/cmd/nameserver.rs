//! `ringmq nameserver`: runs a nameserver (broker registry and topic
//! routes) until SIGINT or SIGTERM, then shuts down gracefully.
//!
//! Configuration precedence: built-in defaults → `--config FILE` →
//! `RINGMQ_NAMESRV_*` environment variables → flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use ringmq_nameserver::{DEFAULT_CONFIG_TOML, Nameserver, NameserverConfig};

/// Worker threads of the nameserver's runtime: it is slim.
const RUNTIME_WORKER_THREADS: usize = 2;

/// Flags of `ringmq nameserver`.
#[derive(clap::Args)]
pub struct Args {
    /// TOML config file (see --print-default-config for every key).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 0.0.0.0:9876; env RINGMQ_NAMESRV_LISTEN].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for persisted KV config [env RINGMQ_NAMESRV_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print the default configuration (commented TOML) and exit.
    #[arg(long)]
    pub print_default_config: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.print_default_config {
        print!("{DEFAULT_CONFIG_TOML}");
        return Ok(());
    }
    let config = resolve_config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKER_THREADS)
        .thread_name("ringmq-namesrv")
        .enable_all()
        .build()
        .context("cannot start the nameserver runtime")?;
    runtime.block_on(async {
        let metrics_address = config.metrics_address.clone();
        let server = Nameserver::bind(config).await?;
        tracing::info!(addr = %server.local_addr(), "nameserver listening");
        let _metrics = if metrics_address.is_empty() {
            None
        } else {
            let metrics = ringmq_broker::metrics::MetricsServer::start(
                &metrics_address,
                server.metrics_renderer(),
            )?;
            tracing::info!("metrics at http://{}/metrics", metrics.local_addr());
            Some(metrics)
        };
        server.serve(shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

/// Defaults → file → environment → flags, validated.
fn resolve_config(args: &Args) -> anyhow::Result<NameserverConfig> {
    let mut config = NameserverConfig::load(args.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = Some(dir.clone());
    }
    config.validate()?;
    Ok(config)
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
