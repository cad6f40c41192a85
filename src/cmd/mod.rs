//! The subcommands of the `ringmq` binary, one module each.

pub mod admin;
pub mod bench;
pub mod broker;
pub mod consume;
pub mod nameserver;
pub mod produce;
pub mod standalone;

/// Logs go to stderr; `RUST_LOG` filters them (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The error a subcommand returns until it is built.
pub fn not_implemented(what: &str) -> anyhow::Error {
    anyhow::anyhow!("`ringmq {what}` is not implemented yet")
}
