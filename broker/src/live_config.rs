//! The configuration keys UPDATE_BROKER_CONFIG may change while the broker
//! runs ([`LIVE_KEYS`]), and their current values. Every other key is
//! refused with a remark listing these.
//!
//! A key is here only if changing it is safe in this design: it is read on
//! each use from a shared atomic (no shard keeps a copy), so a change
//! applies to every shard at its next request, and nothing already on disk
//! or registered depends on it:
//!
//! - `wait_time_in_queue_ms`, `os_page_cache_busy_timeout_ms`,
//!   `send_pending_max`: the flow-control limits ([`crate::flow`]);
//! - `long_polling_enable`, `short_polling_ms`: how empty pulls are held.
//!
//! Not here, on purpose: store layout (`segment_bytes`, `shards`,
//! `data_dir`), identity and addresses, `flush_mode` (group commit is set
//! up at open), `message_bytes_max` (also bounds records already being
//! encoded), `auto_create_topic_enable` (it decides TBW102's registered
//! permission at start). A change lasts until the broker restarts; put it
//! in the config file to keep it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::config::BrokerConfig;
use crate::flow::{FlowLimits, Limits};

/// Keys UPDATE_BROKER_CONFIG accepts.
pub const LIVE_KEYS: &[&str] = &[
    "wait_time_in_queue_ms",
    "os_page_cache_busy_timeout_ms",
    "send_pending_max",
    "long_polling_enable",
    "short_polling_ms",
];
/// Largest value accepted for a millisecond key (one hour).
pub const LIVE_MS_MAX: u64 = 3_600_000;
/// Largest `send_pending_max` accepted.
pub const LIVE_SEND_PENDING_MAX: u64 = 1_000_000;

/// The live values that are not flow limits.
#[derive(Debug)]
pub struct LivePolling {
    long_polling_enable: AtomicBool,
    short_polling_ms: AtomicU64,
}

impl LivePolling {
    pub fn new(config: &BrokerConfig) -> LivePolling {
        LivePolling {
            long_polling_enable: AtomicBool::new(config.long_polling_enable),
            short_polling_ms: AtomicU64::new(config.short_polling_ms),
        }
    }

    pub fn long_polling_enable(&self) -> bool {
        self.long_polling_enable.load(Ordering::Relaxed)
    }

    pub fn short_polling_ms(&self) -> u64 {
        self.short_polling_ms.load(Ordering::Relaxed)
    }
}

/// Why an update was refused (the SYSTEM_ERROR remark).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveConfigError {
    #[error(
        "{key} cannot be changed while the broker runs (keys that can: {}); set it in the config file or RINGMQ_{} and restart",
        LIVE_KEYS.join(", "),
        key.to_uppercase()
    )]
    NotLive { key: String },
    #[error("{key} = {value:?}: {message}")]
    Value {
        key: String,
        value: String,
        message: String,
    },
}

/// Parsed `key=value` lines of an UPDATE_BROKER_CONFIG body (Java
/// `Properties` text: `#` comments and blank lines skipped).
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            l.split_once(['=', ':'])
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn number(key: &str, value: &str, min: u64, max: u64) -> Result<u64, LiveConfigError> {
    let bad = |message: String| LiveConfigError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        message,
    };
    let n: u64 = value
        .parse()
        .map_err(|_| bad("not a whole number".to_owned()))?;
    if n < min || n > max {
        return Err(bad(format!("must be {min} to {max}")));
    }
    Ok(n)
}

fn boolean(key: &str, value: &str) -> Result<bool, LiveConfigError> {
    value.parse().map_err(|_| LiveConfigError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        message: "must be true or false".to_owned(),
    })
}

/// Checks every pair, then applies them all (all or nothing).
pub fn apply(
    pairs: &[(String, String)],
    flow: &FlowLimits,
    polling: &LivePolling,
) -> Result<(), LiveConfigError> {
    let mut limits: Limits = flow.get();
    let mut long_polling = polling.long_polling_enable();
    let mut short_polling = polling.short_polling_ms();
    for (key, value) in pairs {
        match key.as_str() {
            "wait_time_in_queue_ms" => {
                limits.wait_time_in_queue_ms = number(key, value, 1, LIVE_MS_MAX)?;
            }
            "os_page_cache_busy_timeout_ms" => {
                limits.os_page_cache_busy_timeout_ms = number(key, value, 1, LIVE_MS_MAX)?;
            }
            "send_pending_max" => {
                limits.send_pending_max = number(key, value, 1, LIVE_SEND_PENDING_MAX)?;
            }
            "long_polling_enable" => long_polling = boolean(key, value)?,
            "short_polling_ms" => short_polling = number(key, value, 0, LIVE_MS_MAX)?,
            _ => return Err(LiveConfigError::NotLive { key: key.clone() }),
        }
    }
    flow.set(limits);
    polling
        .long_polling_enable
        .store(long_polling, Ordering::Relaxed);
    polling
        .short_polling_ms
        .store(short_polling, Ordering::Relaxed);
    Ok(())
}

/// The live keys' current values, for GET_BROKER_CONFIG.
pub fn current(flow: &FlowLimits, polling: &LivePolling) -> Vec<(&'static str, String)> {
    let limits = flow.get();
    vec![
        (
            "wait_time_in_queue_ms",
            limits.wait_time_in_queue_ms.to_string(),
        ),
        (
            "os_page_cache_busy_timeout_ms",
            limits.os_page_cache_busy_timeout_ms.to_string(),
        ),
        ("send_pending_max", limits.send_pending_max.to_string()),
        (
            "long_polling_enable",
            polling.long_polling_enable().to_string(),
        ),
        ("short_polling_ms", polling.short_polling_ms().to_string()),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fresh() -> (FlowLimits, LivePolling) {
        let config = BrokerConfig::default();
        (FlowLimits::new(&config), LivePolling::new(&config))
    }

    #[test]
    fn live_keys_change_and_read_back() {
        let (flow, polling) = fresh();
        let pairs = parse_properties(
            "# comment\nwait_time_in_queue_ms=50\n\nlong_polling_enable = false\n",
        );
        apply(&pairs, &flow, &polling).unwrap();
        assert_eq!(flow.get().wait_time_in_queue_ms, 50);
        assert!(!polling.long_polling_enable());
        let shown = current(&flow, &polling);
        assert!(shown.contains(&("wait_time_in_queue_ms", "50".to_owned())));
        assert_eq!(shown.len(), LIVE_KEYS.len());
    }

    #[test]
    fn other_keys_and_bad_values_are_refused_and_nothing_changes() {
        let (flow, polling) = fresh();
        let before = flow.get();
        let err = apply(
            &parse_properties("send_pending_max=5\nlisten_port=1"),
            &flow,
            &polling,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("listen_port cannot be changed"), "{err}");
        assert!(
            err.contains("wait_time_in_queue_ms, os_page_cache_busy_timeout_ms"),
            "{err}"
        );
        assert_eq!(flow.get(), before, "all or nothing");
        let err = apply(&parse_properties("send_pending_max=0"), &flow, &polling).unwrap_err();
        assert!(err.to_string().contains("must be 1 to"), "{err}");
        assert!(apply(&parse_properties("short_polling_ms=x"), &flow, &polling).is_err());
        assert!(
            apply(
                &parse_properties("long_polling_enable=yes"),
                &flow,
                &polling
            )
            .is_err()
        );
    }
}
