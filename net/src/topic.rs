//! Topic and group naming rules shared by the broker and the client: the
//! legal character set, the length limit, the reserved system topics and the
//! per-group retry / dead-letter topic names (Java `TopicValidator`,
//! `MixAll.RETRY_GROUP_TOPIC_PREFIX` / `DLQ_GROUP_TOPIC_PREFIX`).
//!
//! ```text
//! topic name   1..=127 bytes of [%|a-zA-Z0-9_-]   (record TOPIC length is a signed byte)
//! retry topic  "%RETRY%" <consumer group>
//! DLQ topic    "%DLQ%"   <consumer group>
//! ```
//!
//! Group names use the same character set ([`is_legal_name`]): producer
//! groups up to [`GROUP_NAME_BYTES_MAX`] bytes (Java `Validators.CHARACTER_MAX_LENGTH`),
//! consumer groups up to [`CONSUMER_GROUP_BYTES_MAX`] so that their retry
//! topic still fits the topic limit. Request-level checks are in
//! [`crate::validate`].

/// Longest topic name: the commit-log record stores its length in a signed byte.
pub const TOPIC_NAME_BYTES_MAX: usize = 127;
/// Longest group name (Java `Validators.CHARACTER_MAX_LENGTH`).
pub const GROUP_NAME_BYTES_MAX: usize = 255;
/// Longest consumer group name: `%RETRY%<group>` must be a legal topic.
pub const CONSUMER_GROUP_BYTES_MAX: usize = TOPIC_NAME_BYTES_MAX - RETRY_GROUP_TOPIC_PREFIX.len();
/// The auto-create template topic (`TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`).
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Prefix of a consumer group's retry topic.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of a consumer group's dead-letter topic.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// Prefix shared by RocketMQ's internal system topics.
pub const SYSTEM_TOPIC_PREFIX: &str = "RMQ_SYS_";
/// Suffix of a cluster's request/reply topic (`<cluster>_REPLY_TOPIC`).
pub const REPLY_TOPIC_SUFFIX: &str = "_REPLY_TOPIC";

/// Delayed messages wait here until their level's delay passes.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Timed messages (RocketMQ 5 `TimerMessageStore.TIMER_TOPIC`) wait here.
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// Transactional half messages.
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Transactional op records (commit/rollback of half messages).
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages checked too often.
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// The broker's self-test topic.
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
/// Offset-moved events.
pub const OFFSET_MOVED_EVENT_TOPIC: &str = "OFFSET_MOVED_EVENT";
/// The benchmark tool's topic.
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
/// Message traces.
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

/// Topics producers may not send to directly (spec §2.3 step 2).
pub const SEND_FORBIDDEN_TOPICS: &[&str] = &[
    SCHEDULE_TOPIC,
    TIMER_TOPIC,
    TRANS_HALF_TOPIC,
    TRANS_OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
    SELF_TEST_TOPIC,
    OFFSET_MOVED_EVENT_TOPIC,
];

/// Fixed-name system topics that topic administration must not touch (the
/// broker adds its cluster and broker names and the [`SYSTEM_TOPIC_PREFIX`]).
pub const SYSTEM_TOPICS: &[&str] = &[
    AUTO_CREATE_TOPIC,
    SCHEDULE_TOPIC,
    TIMER_TOPIC,
    BENCHMARK_TOPIC,
    TRANS_HALF_TOPIC,
    TRANS_OP_HALF_TOPIC,
    TRACE_TOPIC,
    SELF_TEST_TOPIC,
    OFFSET_MOVED_EVENT_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
];

/// Why a topic name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    /// Empty or only whitespace.
    #[error("the topic name is blank; give 1 to {TOPIC_NAME_BYTES_MAX} bytes of [%|a-zA-Z0-9_-]")]
    Blank,
    /// Longer than [`TOPIC_NAME_BYTES_MAX`] bytes.
    #[error("the topic name is {len} bytes long; the limit is {TOPIC_NAME_BYTES_MAX} bytes")]
    TooLong {
        /// Length in bytes.
        len: usize,
    },
    /// Holds a character outside `[%|a-zA-Z0-9_-]`.
    #[error(
        "the topic name {topic:?} contains the character {character:?}; only [%|a-zA-Z0-9_-] is allowed"
    )]
    IllegalCharacter {
        /// The refused name.
        topic: String,
        /// The first character outside the allowed set.
        character: char,
    },
}

/// Whether `c` may appear in a topic or group name.
fn is_legal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')
}

/// Checks a topic name as Java `TopicValidator` does: not blank, at most
/// [`TOPIC_NAME_BYTES_MAX`] bytes, only `[%|a-zA-Z0-9_-]` (checked in that order).
pub fn validate_topic_name(topic: &str) -> Result<(), TopicNameError> {
    if topic.trim().is_empty() {
        return Err(TopicNameError::Blank);
    }
    if topic.len() > TOPIC_NAME_BYTES_MAX {
        return Err(TopicNameError::TooLong { len: topic.len() });
    }
    if let Some(character) = topic.chars().find(|c| !is_legal_char(*c)) {
        return Err(TopicNameError::IllegalCharacter {
            topic: topic.to_owned(),
            character,
        });
    }
    Ok(())
}

/// Whether every character of `name` is in `[%|a-zA-Z0-9_-]` (topics and
/// groups). The empty name passes: emptiness and length are the caller's checks.
pub fn is_legal_name(name: &str) -> bool {
    name.chars().all(is_legal_char)
}

/// Whether producers are refused when sending to `topic`.
pub fn is_send_forbidden(topic: &str) -> bool {
    SEND_FORBIDDEN_TOPICS.contains(&topic)
}

/// The retry topic of consumer group `group`: `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// The dead-letter topic of consumer group `group`: `%DLQ%<group>`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

/// The POP retry topic of `group` consuming `topic`:
/// `%RETRY%<group>_<topic>` (RocketMQ 5.1 `KeyBuilder.buildPopRetryTopic`
/// with `enableRetryTopicV2` off, its default).
pub fn pop_retry_topic(topic: &str, group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}_{topic}")
}

/// Whether `topic` is a group's retry topic.
pub fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
}

/// Whether `topic` is a group's dead-letter topic.
pub fn is_dlq_topic(topic: &str) -> bool {
    topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
}

/// The consumer group a retry topic belongs to, `None` for other topics.
pub fn retry_topic_group(topic: &str) -> Option<&str> {
    topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_of_the_allowed_set_up_to_127_bytes_are_accepted() {
        assert_eq!(validate_topic_name("Good_topic-1%|"), Ok(()));
        assert_eq!(validate_topic_name(&"t".repeat(127)), Ok(()));
        assert_eq!(validate_topic_name("%RETRY%g|x_y-z9"), Ok(()));
    }

    #[test]
    fn blank_names_are_refused() {
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Blank));
        assert_eq!(validate_topic_name(" \t"), Err(TopicNameError::Blank));
    }

    #[test]
    fn names_over_127_bytes_are_refused_with_their_length() {
        assert_eq!(
            validate_topic_name(&"t".repeat(128)),
            Err(TopicNameError::TooLong { len: 128 })
        );
        // 64 two-byte characters: 128 bytes, so the length check comes first.
        assert_eq!(
            validate_topic_name(&"é".repeat(64)),
            Err(TopicNameError::TooLong { len: 128 })
        );
    }

    #[test]
    fn the_first_illegal_character_is_named() {
        assert_eq!(
            validate_topic_name("a b/c"),
            Err(TopicNameError::IllegalCharacter {
                topic: "a b/c".into(),
                character: ' ',
            })
        );
        assert_eq!(
            validate_topic_name("é"),
            Err(TopicNameError::IllegalCharacter {
                topic: "é".into(),
                character: 'é',
            })
        );
    }

    #[test]
    fn error_messages_name_the_allowed_set_and_the_limit() {
        let illegal = validate_topic_name("a b").unwrap_err().to_string();
        assert!(illegal.contains("[%|a-zA-Z0-9_-]"), "{illegal}");
        let long = validate_topic_name(&"t".repeat(200))
            .unwrap_err()
            .to_string();
        assert!(long.contains("127 bytes"), "{long}");
    }

    #[test]
    fn system_topics_are_send_forbidden_but_user_topics_are_not() {
        assert!(is_send_forbidden(SCHEDULE_TOPIC));
        assert!(is_send_forbidden(OFFSET_MOVED_EVENT_TOPIC));
        assert!(!is_send_forbidden("Orders"));
        assert!(!is_send_forbidden(AUTO_CREATE_TOPIC));
    }

    #[test]
    fn retry_and_dlq_topics_are_named_after_the_group() {
        assert_eq!(retry_topic("cg"), "%RETRY%cg");
        assert_eq!(dlq_topic("cg"), "%DLQ%cg");
        assert!(is_retry_topic("%RETRY%cg") && !is_retry_topic("%DLQ%cg"));
        assert!(is_dlq_topic("%DLQ%cg") && !is_dlq_topic("cg"));
        assert_eq!(retry_topic_group("%RETRY%cg"), Some("cg"));
        assert_eq!(retry_topic_group("cg"), None);
    }

    #[test]
    fn the_empty_name_has_only_legal_characters() {
        assert!(is_legal_name(""));
        assert!(is_legal_name("orders-pg_1"));
        assert!(!is_legal_name("orders pg"));
    }

    proptest! {
        #[test]
        fn validation_is_blank_length_and_charset(topic in "[%|a-zA-Z0-9_ é/-]{0,140}") {
            let expected = !topic.trim().is_empty()
                && topic.len() <= TOPIC_NAME_BYTES_MAX
                && is_legal_name(&topic);
            prop_assert_eq!(validate_topic_name(&topic).is_ok(), expected);
        }

        #[test]
        fn retry_and_dlq_topics_of_legal_groups_are_legal_and_recognised(
            group in "[%|a-zA-Z0-9_-]{1,100}"
        ) {
            let retry = retry_topic(&group);
            prop_assert!(is_retry_topic(&retry));
            prop_assert_eq!(retry_topic_group(&retry), Some(group.as_str()));
            prop_assert_eq!(validate_topic_name(&retry), Ok(()));
            prop_assert!(is_dlq_topic(&dlq_topic(&group)));
        }
    }
}
