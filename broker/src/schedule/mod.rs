//! Messages that must not be delivered yet: delay levels (RocketMQ 4.x
//! `ScheduleMessageService`) and timed messages at any moment (RocketMQ 5
//! `TimerMessageStore`).
//!
//! Both start at the send path's hook [`hold`]: a message that must wait is
//! stored in a system topic instead of its own, with `REAL_TOPIC` /
//! `REAL_QID` naming where it belongs, and acknowledged like any message
//! (durable per the flush mode). A delivery service on the shard that owns
//! the holding queue later re-appends it to its real queue:
//!
//! ```text
//! DELAY=n (n > 0)            -> SCHEDULE_TOPIC_XXXX queue n-1 (n clamped to the last level)
//!                               consume-queue tag code = store time + delay of level n
//! TIMER_DELIVER_MS / _DELAY_MS / _DELAY_SEC
//!                            -> rmq_sys_wheel_timer, the queue this shard owns
//!                               TIMER_OUT_MS = due time (also the tag code)
//! ```
//!
//! - [`delay`]: one task per level, reading that level's schedule queue in
//!   order; progress in `<shard dir>/delayOffset.json`.
//! - [`timer`]: a timer wheel over an on-disk timer log (formats in
//!   [`timer_files`]), for any delivery time within `timer_max_delay_sec`.
//!
//! Delivery is at least once: a crash after a re-append and before the
//! progress that covers it is persisted delivers that message again.

pub mod delay;
pub mod timer;
pub mod timer_files;

use std::rc::Rc;

use ringmq_net::properties as names;
use ringmq_net::record::TransactionType;
use ringmq_net::topic as topics;

use crate::config::BrokerConfig;
use crate::message;
use crate::shard::Shard;
use crate::topics::{PERM_READ_WRITE, TopicConfig};

/// RocketMQ's default `messageDelayLevel`.
pub const DELAY_LEVELS_DEFAULT: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";
/// Most delay levels accepted (the level is the schedule queue's id + 1).
pub const DELAY_LEVELS_MAX: usize = 64;
/// Longest single level accepted: 30 days.
pub const DELAY_LEVEL_MS_MAX: i64 = 30 * 86_400_000;
/// RocketMQ 5's default `timerMaxDelaySec`: 3 days.
pub const TIMER_MAX_DELAY_SEC_DEFAULT: u64 = 259_200;
/// Upper bound of `timer_max_delay_sec`: 400 days.
pub const TIMER_MAX_DELAY_SEC_LIMIT: u64 = 400 * 86_400;

/// Why a `message_delay_level` string is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelayLevelError {
    #[error("no level given; write delays like \"1s 5s 2m 1h\"")]
    Empty,
    #[error("{count} levels, above the limit of {DELAY_LEVELS_MAX}")]
    TooMany { count: usize },
    #[error("{item:?} is not a number followed by one of the units s, m, h, d")]
    Malformed { item: String },
    #[error("{item:?} is not within 1 ms..=30 days")]
    OutOfRange { item: String },
}

/// Parses RocketMQ's `messageDelayLevel` syntax ("1s 5s 2m 1h 1d") into the
/// delay of each level in ms, level 1 first.
pub fn parse_delay_levels(text: &str) -> Result<Vec<i64>, DelayLevelError> {
    let items: Vec<&str> = text.split_whitespace().collect();
    if items.is_empty() {
        return Err(DelayLevelError::Empty);
    }
    if items.len() > DELAY_LEVELS_MAX {
        return Err(DelayLevelError::TooMany { count: items.len() });
    }
    items.into_iter().map(parse_delay).collect()
}

fn parse_delay(item: &str) -> Result<i64, DelayLevelError> {
    let malformed = || DelayLevelError::Malformed {
        item: item.to_owned(),
    };
    let split = item.len().checked_sub(1).ok_or_else(malformed)?;
    let (number, unit) = (item.get(..split), item.get(split..));
    let unit_ms = match unit {
        Some("s") => 1_000,
        Some("m") => 60_000,
        Some("h") => 3_600_000,
        Some("d") => 86_400_000,
        _ => return Err(malformed()),
    };
    let number: i64 = number
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
        .ok_or_else(malformed)?;
    let ms = number.saturating_mul(unit_ms);
    if !(1..=DELAY_LEVEL_MS_MAX).contains(&ms) {
        return Err(DelayLevelError::OutOfRange {
            item: item.to_owned(),
        });
    }
    Ok(ms)
}

/// Checks the schedule keys of a broker configuration: `(key, message)`.
pub fn validate_config(config: &BrokerConfig) -> Result<(), (&'static str, String)> {
    parse_delay_levels(&config.message_delay_level)
        .map_err(|err| ("message_delay_level", err.to_string()))?;
    if !(1..=TIMER_MAX_DELAY_SEC_LIMIT).contains(&config.timer_max_delay_sec) {
        return Err((
            "timer_max_delay_sec",
            format!("must be within 1..={TIMER_MAX_DELAY_SEC_LIMIT}"),
        ));
    }
    Ok(())
}

/// The configured delay levels (validated at start-up; the default if not).
pub fn delay_levels(config: &BrokerConfig) -> Vec<i64> {
    parse_delay_levels(&config.message_delay_level).unwrap_or_else(|_| {
        parse_delay_levels(DELAY_LEVELS_DEFAULT).unwrap_or_else(|_| vec![1_000])
    })
}

/// Why a message that asks to wait cannot be accepted (MESSAGE_ILLEGAL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    #[error("the DELAY property {value:?} is not a delay level (an integer)")]
    BadLevel { value: String },
    #[error("the {key} property {value:?} is not an integer")]
    BadTimer { key: &'static str, value: String },
    /// RocketMQ 5's WHEEL_TIMER_MSG_ILLEGAL remark.
    #[error(
        "timer message illegal, the delay time should not be bigger than the max delay {max_ms}ms; asked for {asked_ms}ms"
    )]
    TooLate { max_ms: i64, asked_ms: i64 },
}

/// Where a held message is stored instead of its real queue.
pub struct Held {
    pub topic: Rc<TopicConfig>,
    pub queue_id: i32,
}

/// The send hook: for a message that must wait, rewrites `properties`
/// (`REAL_TOPIC`, `REAL_QID`, and the clamped `DELAY` or `TIMER_OUT_MS`) and
/// says where to store it. `None`: deliver at once, to `topic`/`queue_id`.
/// Prepared transactional halves and DLQ messages never wait.
pub fn hold(
    shard: &Shard,
    topic: &str,
    queue_id: i32,
    properties: &mut String,
    sys_flag: i32,
) -> Result<Option<Held>, HoldError> {
    let transaction = TransactionType::from_sys_flag(sys_flag);
    if !matches!(
        transaction,
        TransactionType::NotType | TransactionType::Commit
    ) || topics::is_dlq_topic(topic)
    {
        return Ok(None);
    }
    let now = crate::clock::now_ms();
    let held_before = message::property(properties, names::TIMER_OUT_MS).is_some();
    let due = if held_before {
        None
    } else {
        timer_due(properties, now, shard.state.config.timer_max_delay_sec)?
    };
    if let Some(due) = due {
        set_real_destination(properties, topic, queue_id);
        set_property(properties, names::TIMER_OUT_MS, &due.to_string());
        let queues = shard.state.shard_count();
        return Ok(Some(Held {
            topic: Rc::new(TopicConfig::new(
                topics::TIMER_TOPIC,
                i32::try_from(queues).unwrap_or(1),
                PERM_READ_WRITE,
            )),
            queue_id: timer::local_queue(shard.id, queues),
        }));
    }
    let Some(raw) = message::property(properties, names::DELAY) else {
        return Ok(None);
    };
    let level: i64 = raw.trim().parse().map_err(|_| HoldError::BadLevel {
        value: raw.to_owned(),
    })?;
    if level <= 0 {
        return Ok(None);
    }
    let levels = delay_levels(&shard.state.config);
    let max = i64::try_from(levels.len()).unwrap_or(1);
    let level = level.min(max);
    set_real_destination(properties, topic, queue_id);
    set_property(properties, names::DELAY, &level.to_string());
    Ok(Some(Held {
        topic: Rc::new(TopicConfig::new(
            topics::SCHEDULE_TOPIC,
            i32::try_from(max).unwrap_or(1),
            PERM_READ_WRITE,
        )),
        queue_id: i32::try_from(level - 1).unwrap_or(0),
    }))
}

/// Whether a property string asks for a timed delivery (batches refuse it).
pub fn is_timed(properties: &str) -> bool {
    [
        names::TIMER_DELIVER_MS,
        names::TIMER_DELAY_MS,
        names::TIMER_DELAY_SEC,
    ]
    .iter()
    .any(|key| message::property(properties, key).is_some())
}

/// The due time a timed message asks for (RocketMQ 5 order: TIMER_DELAY_SEC,
/// then TIMER_DELAY_MS, then TIMER_DELIVER_MS); `None` when it asks for none
/// or for a time not after `now` (delivered at once).
fn timer_due(properties: &str, now: i64, max_delay_sec: u64) -> Result<Option<i64>, HoldError> {
    let read = |key: &'static str| -> Result<Option<i64>, HoldError> {
        message::property(properties, key)
            .map(|value| {
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| HoldError::BadTimer {
                        key,
                        value: value.to_owned(),
                    })
            })
            .transpose()
    };
    let due = if let Some(sec) = read(names::TIMER_DELAY_SEC)? {
        now.saturating_add(sec.saturating_mul(1_000))
    } else if let Some(ms) = read(names::TIMER_DELAY_MS)? {
        now.saturating_add(ms)
    } else if let Some(at) = read(names::TIMER_DELIVER_MS)? {
        at
    } else {
        return Ok(None);
    };
    if due <= now {
        return Ok(None);
    }
    let max_ms = i64::try_from(max_delay_sec)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000);
    let asked_ms = due.saturating_sub(now);
    if asked_ms > max_ms {
        return Err(HoldError::TooLate { max_ms, asked_ms });
    }
    Ok(Some(due))
}

fn set_real_destination(properties: &mut String, topic: &str, queue_id: i32) {
    set_property(properties, names::REAL_TOPIC, topic);
    set_property(properties, names::REAL_QID, &queue_id.to_string());
}

/// Replaces (or adds) one property.
pub fn set_property(properties: &mut String, key: &str, value: &str) {
    let mut edited = message::remove_property(properties, key);
    message::append_property(&mut edited, key, value);
    *properties = edited;
}

/// Where a held message goes back to: its real topic and queue, with the
/// properties that held it removed. `None` if the record names no real
/// destination (it is then dropped with a warning).
pub fn release_properties(properties: &str, clear: &[&str]) -> Option<(String, i32, String)> {
    let topic = message::property(properties, names::REAL_TOPIC)?.to_owned();
    let queue_id: i32 = message::property(properties, names::REAL_QID)?
        .parse()
        .ok()?;
    if topics::validate_topic_name(&topic).is_err() || queue_id < 0 {
        return None;
    }
    let mut rest = properties.to_owned();
    for key in clear {
        rest = message::remove_property(&rest, key);
    }
    Some((topic, queue_id, rest))
}

/// The running delivery services of one shard; stopped with the shard.
pub struct Services {
    delay: delay::DelayService,
    timer: Option<timer::TimerService>,
}

/// Starts this shard's delivery services (the levels whose schedule queue
/// it owns, and its timer).
pub async fn start(shard: &Rc<Shard>) -> Services {
    let delay = delay::DelayService::start(shard);
    let timer = match timer::TimerService::start(shard).await {
        Ok(timer) => Some(timer),
        Err(err) => {
            tracing::error!(shard = shard.id, %err, "the timer service could not start; timed messages stay held");
            None
        }
    };
    Services { delay, timer }
}

impl Services {
    /// Stops the tasks and persists the progress reached.
    pub async fn stop(self) {
        self.delay.stop().await;
        if let Some(timer) = self.timer {
            timer.stop().await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_default_levels_are_rocketmq_s() {
        let levels = parse_delay_levels(DELAY_LEVELS_DEFAULT).unwrap();
        assert_eq!(levels.len(), 18);
        assert_eq!(levels.first(), Some(&1_000));
        assert_eq!(levels.get(4), Some(&60_000));
        assert_eq!(levels.last(), Some(&7_200_000));
        assert_eq!(
            levels.as_slice(),
            ringmq_storage::indexes::DELAY_LEVELS_MS.as_slice()
        );
    }

    #[test]
    fn units_and_bad_levels() {
        assert_eq!(
            parse_delay_levels("1s 2m 3h 1d").unwrap(),
            vec![1_000, 120_000, 10_800_000, 86_400_000]
        );
        assert_eq!(
            parse_delay_levels("  ").unwrap_err(),
            DelayLevelError::Empty
        );
        for bad in ["1", "s", "1x", "-1s", "1.5s", "1 s", "9999999999999d"] {
            assert!(parse_delay_levels(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_delay_levels("0s"),
            Err(DelayLevelError::OutOfRange { .. })
        ));
        let many = vec!["1s"; DELAY_LEVELS_MAX + 1].join(" ");
        assert!(matches!(
            parse_delay_levels(&many),
            Err(DelayLevelError::TooMany { .. })
        ));
    }

    #[test]
    fn timer_due_follows_rocketmq_5_precedence_and_limit() {
        let mut p = String::new();
        assert_eq!(timer_due(&p, 1_000, 10).unwrap(), None);
        message::append_property(&mut p, names::TIMER_DELIVER_MS, "5000");
        assert_eq!(timer_due(&p, 1_000, 10).unwrap(), Some(5_000));
        assert_eq!(timer_due(&p, 6_000, 10).unwrap(), None, "past: at once");
        message::append_property(&mut p, names::TIMER_DELAY_MS, "300");
        assert_eq!(timer_due(&p, 1_000, 10).unwrap(), Some(1_300));
        message::append_property(&mut p, names::TIMER_DELAY_SEC, "2");
        assert_eq!(timer_due(&p, 1_000, 10).unwrap(), Some(3_000));
        assert!(matches!(
            timer_due(&p, 1_000, 1),
            Err(HoldError::TooLate {
                max_ms: 1_000,
                asked_ms: 2_000
            })
        ));
        let mut bad = String::new();
        message::append_property(&mut bad, names::TIMER_DELAY_MS, "soon");
        assert!(matches!(
            timer_due(&bad, 0, 10),
            Err(HoldError::BadTimer { .. })
        ));
    }

    #[test]
    fn release_restores_the_destination_and_clears_the_holding_keys() {
        let mut p = String::new();
        message::append_property(&mut p, names::TAGS, "A");
        message::append_property(&mut p, names::DELAY, "3");
        set_real_destination(&mut p, "Orders", 2);
        let (topic, queue, rest) =
            release_properties(&p, &[names::DELAY, names::REAL_TOPIC, names::REAL_QID]).unwrap();
        assert_eq!((topic.as_str(), queue), ("Orders", 2));
        assert_eq!(message::property(&rest, names::TAGS), Some("A"));
        assert_eq!(message::property(&rest, names::DELAY), None);
        assert_eq!(message::property(&rest, names::REAL_TOPIC), None);
        let mut broken = String::new();
        message::append_property(&mut broken, names::REAL_TOPIC, "bad topic");
        message::append_property(&mut broken, names::REAL_QID, "0");
        assert!(release_properties(&broken, &[]).is_none());
    }
}
