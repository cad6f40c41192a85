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

/// How log lines are written (`--log-format`, `RINGMQ_LOG_FORMAT`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields).
    Json,
}

/// `log_level` / `log_format` read from a config file (empty = unset).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileLogging {
    /// The file's `log_level`.
    pub level: Option<String>,
    /// The file's `log_format`.
    pub format: Option<String>,
}

impl FileLogging {
    /// From the two keys' values; an empty value is unset.
    pub fn new(level: String, format: String) -> FileLogging {
        let set = |value: String| (!value.trim().is_empty()).then_some(value);
        FileLogging {
            level: set(level),
            format: set(format),
        }
    }

    /// From `--set log_level=…` / `--set log_format=…` pairs (last wins).
    pub fn from_set(pairs: &[String]) -> FileLogging {
        let last = |key: &str| {
            pairs
                .iter()
                .filter_map(|pair| pair.split_once('='))
                .filter(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_owned())
                .next_back()
                .unwrap_or_default()
        };
        FileLogging::new(last("log_level"), last("log_format"))
    }
}

/// A config file's `log_format` (text when unset); anything else is an error.
pub fn file_log_format(value: Option<&str>) -> anyhow::Result<LogFormat> {
    use clap::ValueEnum;
    match value {
        None => Ok(LogFormat::Text),
        Some(value) => LogFormat::from_str(value.trim(), true).map_err(|_| {
            anyhow::anyhow!("log_format {value:?} (config file or --set) is neither text nor json")
        }),
    }
}

/// Logs go to stderr. The filter is `RUST_LOG` when set, else `level`
/// (`--log-level` / `RINGMQ_LOG_LEVEL`), else `default_level` (`"info"`,
/// or `"warn"` for a command whose output logs would garble). A level that
/// is not a valid filter is an error naming it.
pub fn init_tracing(
    default_level: &str,
    level: Option<&str>,
    format: LogFormat,
) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match EnvFilter::try_from_default_env() {
        Ok(filter) => filter,
        Err(_) => {
            let wanted = level.unwrap_or(default_level);
            EnvFilter::try_new(wanted).map_err(|err| {
                anyhow::anyhow!("--log-level {wanted:?} is not a log filter: {err}")
            })?
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
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
