//! Bodies of ringmq's producer-throttling requests
//! ([`crate::code::request::RINGMQ_THROTTLE_SET`] and its siblings in the
//! ringmq-private code range). RocketMQ has no such request; these are JSON
//! bodies in the same style as RocketMQ's admin bodies (camelCase, unknown
//! fields ignored, missing fields defaulted), so any remoting client can
//! send them.
//!
//! ```text
//! THROTTLE_SET   request body  {"producerGroup":"PG","rate":100,"topic":"T"}   (producerGroup optional)
//! THROTTLE_LIST  response body {"throttles":[{"producerGroup":"PG","rate":100,"rejected":7,"topic":"T"}]}
//! THROTTLE_CLEAR request body  {"producerGroup":"PG","topic":"T"}  (both optional: absent = any)
//!                response body {"removed":1}
//! ```
//!
//! The broker persists its rules as [`ThrottleFile`]:
//! `{"rules":[{"rate":100,"topic":"T"}],"version":1}`.

use serde::{Deserialize, Serialize};

use crate::validate::{self, NameKind, ValidateError};

/// Highest rate a rule may set, messages per second.
pub const THROTTLE_RATE_MAX: u32 = 10_000_000;
/// Most rules one broker holds.
pub const THROTTLE_RULES_MAX: usize = 10_000;
/// The [`ThrottleFile`] version this code writes and reads.
pub const THROTTLE_FILE_VERSION: u32 = 1;

/// One limit: messages per second into `topic`, from one producer group or
/// from all (`producer_group: None`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleRuleData {
    /// The topic limited.
    pub topic: String,
    /// The producer group limited; `None` = the whole topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer_group: Option<String>,
    /// Messages per second (a batch counts each message).
    pub rate: u32,
}

/// Why a throttle rule or filter cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleRuleError {
    #[error(transparent)]
    Name(#[from] ValidateError),
    #[error("a throttle rate must be 1 to {THROTTLE_RATE_MAX} messages per second, not {0}")]
    Rate(u32),
}

impl ThrottleRuleData {
    /// Checks the names and the rate.
    pub fn validate(&self) -> Result<(), ThrottleRuleError> {
        validate::name(NameKind::Topic, "topic", &self.topic)?;
        if let Some(group) = &self.producer_group {
            validate::name(NameKind::ProducerGroup, "producerGroup", group)?;
        }
        if self.rate == 0 || self.rate > THROTTLE_RATE_MAX {
            return Err(ThrottleRuleError::Rate(self.rate));
        }
        Ok(())
    }
}

/// One rule as THROTTLE_LIST answers it, with its refusals since start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleEntry {
    pub topic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer_group: Option<String>,
    pub rate: u32,
    /// Sends refused by this rule since the broker started.
    pub rejected: u64,
}

/// THROTTLE_LIST's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleListBody {
    pub throttles: Vec<ThrottleEntry>,
}

/// THROTTLE_CLEAR's request: which rules to remove (absent = any).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleClearBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer_group: Option<String>,
}

impl ThrottleClearBody {
    /// Checks the names given.
    pub fn validate(&self) -> Result<(), ThrottleRuleError> {
        if let Some(topic) = &self.topic {
            validate::name(NameKind::Topic, "topic", topic)?;
        }
        if let Some(group) = &self.producer_group {
            validate::name(NameKind::ProducerGroup, "producerGroup", group)?;
        }
        Ok(())
    }

    /// Whether `rule` is one this filter removes.
    pub fn matches(&self, rule: &ThrottleRuleData) -> bool {
        self.topic.as_ref().is_none_or(|t| *t == rule.topic)
            && self
                .producer_group
                .as_ref()
                .is_none_or(|g| rule.producer_group.as_ref() == Some(g))
    }
}

/// THROTTLE_CLEAR's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleClearedBody {
    /// Rules removed.
    pub removed: u64,
}

/// The broker's persisted rules (`<data_dir>/config/throttle.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ThrottleFile {
    pub version: u32,
    pub rules: Vec<ThrottleRuleData>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::body::{decode_json, encode_json};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_file_and_the_list_round_trip(
            topic in "[a-zA-Z0-9_%|-]{1,40}",
            group in proptest::option::of("[a-zA-Z0-9_-]{1,40}"),
            rate in 1u32..=THROTTLE_RATE_MAX,
            rejected in any::<u64>(),
        ) {
            let rule = ThrottleRuleData { topic: topic.clone(), producer_group: group.clone(), rate };
            prop_assert!(rule.validate().is_ok());
            let file = ThrottleFile { version: THROTTLE_FILE_VERSION, rules: vec![rule] };
            let back: ThrottleFile = decode_json(&encode_json(&file).unwrap()).unwrap();
            prop_assert_eq!(back, file);
            let list = ThrottleListBody {
                throttles: vec![ThrottleEntry { topic, producer_group: group, rate, rejected }],
            };
            let back: ThrottleListBody = decode_json(&encode_json(&list).unwrap()).unwrap();
            prop_assert_eq!(back, list);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_json::<ThrottleFile>(&bytes);
            let _ = decode_json::<ThrottleRuleData>(&bytes);
            let _ = decode_json::<ThrottleClearBody>(&bytes);
        }
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let rule = |topic: &str, rate| ThrottleRuleData {
            topic: topic.into(),
            producer_group: None,
            rate,
        };
        assert!(matches!(rule("T", 0).validate(), Err(ThrottleRuleError::Rate(0))));
        assert!(rule("T", THROTTLE_RATE_MAX + 1).validate().is_err());
        assert!(rule("bad topic", 5).validate().is_err());
        assert!(rule("", 5).validate().is_err());
        let json = br#"{"topic":"T","rate":5,"producerGroup":"PG"}"#;
        let parsed: ThrottleRuleData = decode_json(json).unwrap();
        assert_eq!(parsed.producer_group.as_deref(), Some("PG"));
        parsed.validate().unwrap();
    }

    #[test]
    fn a_clear_filter_matches_by_topic_and_group() {
        let rule = ThrottleRuleData {
            topic: "T".into(),
            producer_group: Some("PG".into()),
            rate: 1,
        };
        assert!(ThrottleClearBody::default().matches(&rule));
        let by_topic = ThrottleClearBody { topic: Some("T".into()), producer_group: None };
        assert!(by_topic.matches(&rule));
        let other = ThrottleClearBody { topic: Some("U".into()), producer_group: None };
        assert!(!other.matches(&rule));
        let by_group = ThrottleClearBody { topic: None, producer_group: Some("X".into()) };
        assert!(!by_group.matches(&rule));
    }
}
