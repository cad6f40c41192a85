//! The nameserver's configuration: a TOML file with documented defaults,
//! overridable by `RINGMQ_NAMESRV_*` environment variables and then by flags.
//!
//! Precedence, lowest first: [`NameserverConfig::default`] → the TOML file
//! ([`NameserverConfig::from_toml_str`]) → environment
//! ([`NameserverConfig::apply_env`]) → command-line flags (set the fields).
//! [`NameserverConfig::validate`] runs last; every error names the key.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

// Java's `frameMaxLength`: the default and the upper bound of `max_frame_bytes`.
use ringmq_net::frame::FRAME_MAX_BYTES_DEFAULT;

/// Smallest `max_frame_bytes` accepted: a REGISTER_BROKER must fit.
pub const FRAME_BYTES_FLOOR: usize = 64 * 1024;
/// Upper bound for any configured interval (one day), so that arithmetic on
/// `Instant`s can never overflow.
pub const INTERVAL_MS_LIMIT: u64 = 24 * 60 * 60 * 1000;

/// Prefix of every environment variable read by [`NameserverConfig::apply_env`].
pub const ENV_PREFIX: &str = "RINGMQ_NAMESRV_";

/// Everything a nameserver needs to run. All keys are optional in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NameserverConfig {
    /// Address to listen on for brokers and clients (RocketMQ's port is 9876).
    pub listen: SocketAddr,
    /// Directory for persisted state (`kvConfig.json`). `None`: KV config
    /// lives in memory only and is lost at exit.
    pub data_dir: Option<PathBuf>,
    /// How often brokers are checked for liveness.
    pub scan_interval_ms: u64,
    /// A broker whose last registration is older than this is dropped.
    pub broker_expiry_ms: u64,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout_ms: u64,
    /// Largest accepted frame; a bigger one closes its connection.
    pub max_frame_bytes: usize,
    /// Most connections served at once; further ones are refused.
    pub max_connections: u32,
    /// Put `orderTopicConf` (KV namespace `ORDER_TOPIC_CONFIG`) in routes.
    pub order_message_enable: bool,
    /// Require ACL signatures on requests that change the nameserver.
    pub acl_enable: bool,
    /// The `plain_acl.yml` for `acl_enable` (required when it is on).
    pub acl_file: Option<PathBuf>,
    /// `host:port` of the Prometheus `/metrics` endpoint; empty = none.
    pub metrics_address: String,
    /// Log level or filter (`ringmq --log-level`, which wins); empty = the
    /// default. Read once at start-up.
    pub log_level: String,
    /// Log line format, `text` or `json` (`--log-format` wins); empty =
    /// text. Read once at start-up.
    pub log_format: String,
}

impl Default for NameserverConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9876)),
            data_dir: None,
            scan_interval_ms: 10_000,
            broker_expiry_ms: 120_000,
            idle_timeout_ms: 120_000,
            max_frame_bytes: FRAME_MAX_BYTES_DEFAULT,
            max_connections: 4096,
            order_message_enable: false,
            acl_enable: false,
            acl_file: None,
            metrics_address: String::new(),
            log_level: String::new(),
            log_format: String::new(),
        }
    }
}

/// The default configuration as a commented TOML file
/// (`ringmq nameserver --print-default-config`). A test checks that it parses
/// back to [`NameserverConfig::default`].
pub const DEFAULT_CONFIG_TOML: &str = r#"# ringmq nameserver configuration. Every key is optional; the values shown
# are the defaults. Environment variables RINGMQ_NAMESRV_<KEY> (upper case,
# e.g. RINGMQ_NAMESRV_LISTEN) override the file; command-line flags override both.

# Address to listen on for brokers and clients.
listen = "0.0.0.0:9876"

# Directory for persisted state (kvConfig.json). Without it, KV config is kept
# in memory only.
# data_dir = "/var/lib/ringmq/nameserver"

# How often brokers are checked for liveness, in milliseconds.
scan_interval_ms = 10000

# A broker that has not registered for this long is dropped, in milliseconds.
broker_expiry_ms = 120000

# A connection that sends nothing for this long is closed, in milliseconds.
idle_timeout_ms = 120000

# Largest accepted frame in bytes (at most 16777216); a bigger frame closes
# its connection.
max_frame_bytes = 16777216

# Most connections served at once; further ones are refused.
max_connections = 4096

# Add orderTopicConf (KV namespace ORDER_TOPIC_CONFIG) to topic routes.
order_message_enable = false

# Require RocketMQ ACL signatures (accounts of acl_file, plain_acl.yml) on
# requests that change the nameserver: broker (un)registration, topic
# deletion, KV writes, write-permission changes.
acl_enable = false
# acl_file = "/etc/ringmq/plain_acl.yml"
# host:port of the Prometheus /metrics endpoint; empty = none.
metrics_address = ""

# Log level or filter at start-up (e.g. "debug"); --log-level or
# RINGMQ_LOG_LEVEL wins; empty = info.
log_level = ""
# Log lines at start-up: "text" or "json"; --log-format or
# RINGMQ_LOG_FORMAT wins; empty = text.
log_format = ""
"#;

/// Why a configuration could not be used. Every variant names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not valid TOML for this schema (toml names the key).
    #[error("invalid nameserver config: {0}")]
    Parse(toml::de::Error),
    /// An environment variable has a value of the wrong type.
    #[error("environment variable {var}={value:?} is not a valid {expected}")]
    Env {
        var: String,
        value: String,
        expected: &'static str,
    },
    /// A value parsed but is out of range.
    #[error("config key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl NameserverConfig {
    /// Parses a TOML document; absent keys keep their defaults, unknown keys
    /// are an error.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(ConfigError::Parse)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_toml_str(&text)
    }

    /// Defaults, then `file` if given, then the process environment
    /// (`RINGMQ_NAMESRV_*`). Not yet validated: apply flags, then call
    /// [`Self::validate`] (or let [`crate::Nameserver::bind`] do it).
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies `RINGMQ_NAMESRV_<KEY>` overrides found by `lookup` (pass
    /// `|name| std::env::var(name).ok()` for the process environment).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let get = |key: &str| {
            let var = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
            lookup(&var).map(|value| (var, value))
        };
        if let Some((var, value)) = get("listen") {
            self.listen = parse_env(var, value, "socket address such as 0.0.0.0:9876")?;
        }
        if let Some((_, value)) = get("data_dir") {
            self.data_dir = (!value.is_empty()).then(|| PathBuf::from(value));
        }
        let numbers: [(&str, &mut u64); 3] = [
            ("scan_interval_ms", &mut self.scan_interval_ms),
            ("broker_expiry_ms", &mut self.broker_expiry_ms),
            ("idle_timeout_ms", &mut self.idle_timeout_ms),
        ];
        for (key, field) in numbers {
            if let Some((var, value)) = get(key) {
                *field = parse_env(var, value, "number of milliseconds")?;
            }
        }
        if let Some((var, value)) = get("max_frame_bytes") {
            self.max_frame_bytes = parse_env(var, value, "number of bytes")?;
        }
        if let Some((var, value)) = get("max_connections") {
            self.max_connections = parse_env(var, value, "number of connections")?;
        }
        if let Some((_, value)) = get("metrics_address") {
            self.metrics_address = value;
        }
        if let Some((var, value)) = get("order_message_enable") {
            self.order_message_enable = parse_env(var, value, "boolean (true or false)")?;
        }
        if let Some((var, value)) = get("acl_enable") {
            self.acl_enable = parse_env(var, value, "boolean (true or false)")?;
        }
        if let Some((_, value)) = get("acl_file") {
            self.acl_file = (!value.is_empty()).then(|| PathBuf::from(value));
        }
        Ok(())
    }

    /// Checks ranges; call after every override is applied.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let intervals = [
            ("scan_interval_ms", self.scan_interval_ms),
            ("broker_expiry_ms", self.broker_expiry_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ];
        for (key, value) in intervals {
            if value == 0 || value > INTERVAL_MS_LIMIT {
                return Err(ConfigError::Invalid {
                    key,
                    reason: format!("{value} is outside 1..={INTERVAL_MS_LIMIT} milliseconds"),
                });
            }
        }
        if !(FRAME_BYTES_FLOOR..=FRAME_MAX_BYTES_DEFAULT).contains(&self.max_frame_bytes) {
            return Err(ConfigError::Invalid {
                key: "max_frame_bytes",
                reason: format!(
                    "{} is outside {FRAME_BYTES_FLOOR}..={FRAME_MAX_BYTES_DEFAULT} bytes",
                    self.max_frame_bytes
                ),
            });
        }
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "max_connections",
                reason: "must be at least 1".to_string(),
            });
        }
        if self.acl_enable && self.acl_file.is_none() {
            return Err(ConfigError::Invalid {
                key: "acl_file",
                reason: "acl_enable = true needs the plain_acl.yml path".to_string(),
            });
        }
        Ok(())
    }

    /// [`Self::scan_interval_ms`] as a duration.
    pub fn scan_interval(&self) -> Duration {
        Duration::from_millis(self.scan_interval_ms)
    }

    /// [`Self::broker_expiry_ms`] as a duration.
    pub fn broker_expiry(&self) -> Duration {
        Duration::from_millis(self.broker_expiry_ms)
    }

    /// [`Self::idle_timeout_ms`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
}

fn parse_env<T: std::str::FromStr>(
    var: String,
    value: String,
    expected: &'static str,
) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Env {
        var,
        value,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_text_parses_to_the_defaults() {
        let parsed = NameserverConfig::from_toml_str(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(parsed, NameserverConfig::default());
        parsed.validate().unwrap();
    }

    #[test]
    fn absent_keys_keep_defaults() {
        let parsed = NameserverConfig::from_toml_str("listen = \"127.0.0.1:1234\"").unwrap();
        assert_eq!(parsed.listen, "127.0.0.1:1234".parse().unwrap());
        assert_eq!(parsed.broker_expiry_ms, 120_000);
    }

    #[test]
    fn unknown_key_is_named_in_the_error() {
        let err = NameserverConfig::from_toml_str("lisen = \"x\"").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }

    #[test]
    fn badly_typed_key_is_named_in_the_error() {
        let err = NameserverConfig::from_toml_str("scan_interval_ms = \"soon\"").unwrap_err();
        assert!(err.to_string().contains("scan_interval_ms"), "{err}");
    }

    #[test]
    fn out_of_range_value_is_named_in_the_error() {
        let config = NameserverConfig {
            broker_expiry_ms: 0,
            ..NameserverConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("broker_expiry_ms"), "{err}");
    }

    #[test]
    fn environment_overrides_file_values() {
        let mut config = NameserverConfig::default();
        config
            .apply_env(|var| match var {
                "RINGMQ_NAMESRV_LISTEN" => Some("127.0.0.1:19876".to_string()),
                "RINGMQ_NAMESRV_BROKER_EXPIRY_MS" => Some("5000".to_string()),
                "RINGMQ_NAMESRV_DATA_DIR" => Some("/tmp/ns".to_string()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.listen, "127.0.0.1:19876".parse().unwrap());
        assert_eq!(config.broker_expiry_ms, 5000);
        assert_eq!(config.data_dir, Some(PathBuf::from("/tmp/ns")));
    }

    #[test]
    fn bad_environment_value_names_the_variable() {
        let mut config = NameserverConfig::default();
        let err = config
            .apply_env(|var| (var == "RINGMQ_NAMESRV_SCAN_INTERVAL_MS").then(|| "x".to_string()))
            .unwrap_err();
        assert!(
            err.to_string().contains("RINGMQ_NAMESRV_SCAN_INTERVAL_MS"),
            "{err}"
        );
    }
}
