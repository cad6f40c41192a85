//! `ringmq`: the one command-line entry point. Each subcommand lives in its
//! own module under `cmd/` and owns its flags.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc for every thread of the process (broker shards, nameserver,
/// bench client): per-thread heaps, no lock on the hot free path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A RocketMQ-compatible message broker, thread-per-core on io_uring.
#[derive(Parser)]
#[command(name = "ringmq", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level or filter (error, warn, info, debug, trace, or e.g.
    /// `info,ringmq_broker=debug`); `RUST_LOG`, when set, wins.
    #[arg(long, global = true, env = "RINGMQ_LOG_LEVEL")]
    log_level: Option<String>,
    /// Log line format: text or json (one object per line) [default: text,
    /// or the config file's log_format].
    #[arg(long, global = true, env = "RINGMQ_LOG_FORMAT", value_enum)]
    log_format: Option<cmd::LogFormat>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a nameserver and a broker in one process (the quick start).
    Standalone(cmd::standalone::Args),
    /// Run a nameserver: broker registry and topic routes.
    Nameserver(cmd::nameserver::Args),
    /// Run a broker: receives, stores and serves messages.
    Broker(cmd::broker::Args),
    /// Operator tool: topics, groups, offsets, cluster (like mqadmin).
    Admin(cmd::admin::Args),
    /// Load generator: produce, consume and end-to-end benchmarks.
    Bench(cmd::bench::Args),
    /// Send messages from the shell.
    Produce(cmd::produce::Args),
    /// Read messages from the shell.
    Consume(cmd::consume::Args),
    /// Web dashboard for a cluster (standalone serves one too).
    Dashboard(cmd::dashboard::Args),
}

impl Command {
    /// The log level when `RUST_LOG` is unset: INFO, except for `bench`,
    /// whose progress line and report an embedded cluster's INFO lines
    /// would interleave with (warnings and errors still show; `--verbose`
    /// brings INFO back).
    fn default_log_level(&self) -> &'static str {
        match self {
            Command::Bench(args) if !args.verbose => "warn",
            Command::Admin(_) => "warn",
            _ => "info",
        }
    }

    /// `log_level` / `log_format` of the broker's configuration (file,
    /// environment, `--set`), the nameserver's `--config` file, or
    /// standalone's `--set` pairs (a configuration that does not parse is
    /// reported later, by the subcommand itself).
    fn file_logging(&self) -> cmd::FileLogging {
        match self {
            Command::Broker(args) => cmd::broker::config_from(args)
                .ok()
                .map(|c| cmd::FileLogging::new(c.log_level, c.log_format)),
            Command::Standalone(args) => Some(cmd::FileLogging::from_set(&args.set)),
            Command::Nameserver(args) => args
                .config
                .as_deref()
                .and_then(|path| ringmq_nameserver::NameserverConfig::from_file(path).ok())
                .map(|c| cmd::FileLogging::new(c.log_level, c.log_format)),
            _ => None,
        }
        .unwrap_or_default()
    }
}

/// The log level and format: flag (or env), else config file, else default.
fn logging(cli: &Cli) -> anyhow::Result<(Option<String>, cmd::LogFormat)> {
    let file = cli.command.file_logging();
    let level = cli.log_level.clone().or(file.level);
    let format = match cli.log_format {
        Some(format) => format,
        None => cmd::file_log_format(file.format.as_deref())?,
    };
    Ok((level, format))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = logging(&cli).and_then(|(level, format)| {
        cmd::init_tracing(cli.command.default_log_level(), level.as_deref(), format)
    }) {
        eprintln!("ringmq: {err:#}");
        return ExitCode::from(2);
    }
    let outcome = match cli.command {
        Command::Standalone(args) => cmd::standalone::run(args),
        Command::Nameserver(args) => cmd::nameserver::run(args),
        Command::Broker(args) => cmd::broker::run(args),
        Command::Admin(args) => cmd::admin::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Produce(args) => cmd::produce::run(args),
        Command::Consume(args) => cmd::consume::run(args),
        Command::Dashboard(args) => cmd::dashboard::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ringmq: {err:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn level(argv: &[&str]) -> &'static str {
        let cli = Cli::try_parse_from(std::iter::once("ringmq").chain(argv.iter().copied()));
        cli.unwrap().command.default_log_level()
    }

    #[test]
    fn log_flags_are_global_and_checked() {
        let cli = Cli::try_parse_from([
            "ringmq",
            "broker",
            "--log-format",
            "json",
            "--log-level",
            "debug",
        ])
        .unwrap();
        assert_eq!(cli.log_format, Some(cmd::LogFormat::Json));
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        assert!(Cli::try_parse_from(["ringmq", "broker", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn bench_is_quiet_unless_verbose_and_the_servers_are_not() {
        assert_eq!(level(&["bench", "produce"]), "warn");
        assert_eq!(level(&["bench", "produce", "--verbose"]), "info");
        assert_eq!(level(&["standalone"]), "info");
        assert_eq!(level(&["broker"]), "info");
    }
}
