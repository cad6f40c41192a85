//! The subcommands of the `ringmq` binary, one module each.

pub mod admin;
pub mod bench;
pub mod broker;
pub mod consume;
pub mod credentials;
pub mod dashboard;
pub mod nameserver;
pub mod produce;
pub mod standalone;
pub mod time_arg;

/// Logs go to stderr; `RUST_LOG` filters them, else `default_level`
/// (`"info"`, or `"warn"` for a command whose output logs would garble).
pub fn init_tracing(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parses a subcommand's flags alone, as `ringmq NAME ARGV...` would (tests).
#[cfg(test)]
pub fn parse_args<A: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    argv: &[&str],
) -> Result<A, clap::Error> {
    let command = A::augment_args(clap::Command::new(name));
    let matches =
        command.try_get_matches_from(std::iter::once(name).chain(argv.iter().copied()))?;
    A::from_arg_matches(&matches)
}
