//! The message a producer sends ([`Message`]) and its validation, done
//! before anything touches the network (Java `Validators`).
//!
//! Well-known properties (tags, keys, delay level) are stored in the same
//! property map that goes on the wire as the 0x01/0x02 property string
//! (spec §4.3); user properties may not reuse their names.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use ringmq_net::properties;
use ringmq_net::topic::{self as names, TopicNameError};

/// Longest topic name a 4.x record can hold (signed-byte length).
pub const TOPIC_LENGTH_MAX: usize = ringmq_net::topic::TOPIC_NAME_BYTES_MAX;
/// Longest producer/consumer group name (Java `CHARACTER_MAX_LENGTH`).
pub const GROUP_LENGTH_MAX: usize = 255;
/// Largest body a broker accepts by default (`maxMessageSize`, 4 MiB): the
/// record codec's limit, named here for the client's users.
pub const BODY_SIZE_MAX: usize = ringmq_net::record::BODY_MAX_BYTES;
/// Largest encoded property string (signed-short length in records).
pub const PROPERTIES_SIZE_MAX: usize = ringmq_net::record::PROPERTIES_MAX_BYTES;

/// Property: the message's single tag.
pub const PROPERTY_TAGS: &str = properties::TAGS;
/// Property: space-separated business keys.
pub const PROPERTY_KEYS: &str = properties::KEYS;
/// Property: wait for flush/replication before answering (`"true"`).
pub const PROPERTY_WAIT: &str = properties::WAIT;
/// Property: delay level 1..18.
pub const PROPERTY_DELAY: &str = properties::DELAY;
/// Property (RocketMQ 5 timer): deliver at this time, ms since the epoch.
pub const PROPERTY_TIMER_DELIVER_MS: &str = properties::TIMER_DELIVER_MS;
/// Property: the client-generated unique message id.
pub const PROPERTY_UNIQ_KEY: &str = properties::UNIQ_KEY;
/// Property: original topic of a retried message.
pub const PROPERTY_RETRY_TOPIC: &str = properties::RETRY_TOPIC;
/// Property: reconsume count on a client-side resend.
pub const PROPERTY_RECONSUME_TIME: &str = properties::RECONSUME_TIME;
/// Property: max reconsume count on a client-side resend.
pub const PROPERTY_MAX_RECONSUME_TIMES: &str = properties::MAX_RECONSUME_TIMES;
/// Property: original message id of a retry copy.
pub const PROPERTY_ORIGIN_MESSAGE_ID: &str = properties::ORIGIN_MESSAGE_ID;
/// Property: queue min offset, added client-side after a pull.
pub const PROPERTY_MIN_OFFSET: &str = properties::MIN_OFFSET;
/// Property: queue max offset, added client-side after a pull.
pub const PROPERTY_MAX_OFFSET: &str = properties::MAX_OFFSET;
/// Property: when consumption started, set client-side.
pub const PROPERTY_CONSUME_START_TIME: &str = properties::CONSUME_START_TIME;

/// Property names the system owns; user properties may not use them.
///
/// Java's reserved set (`MessageConst.STRING_HASH_SET`) is
/// [`properties::STANDARD_KEYS`] (the spec §4.3 table) plus the legacy
/// [`properties::MQ2_FLAG`], which the spec table leaves out; so this list is
/// not `STANDARD_KEYS` itself. A test pins the relation.
pub const RESERVED_PROPERTY_NAMES: &[&str] = &[
    properties::KEYS,
    properties::TAGS,
    properties::WAIT,
    properties::DELAY,
    properties::RETRY_TOPIC,
    properties::REAL_TOPIC,
    properties::REAL_QID,
    properties::TRAN_MSG,
    properties::PGROUP,
    properties::MIN_OFFSET,
    properties::MAX_OFFSET,
    properties::BUYER_ID,
    properties::ORIGIN_MESSAGE_ID,
    properties::TRANSFER_FLAG,
    properties::CORRECTION_FLAG,
    properties::MQ2_FLAG,
    properties::RECONSUME_TIME,
    properties::MSG_REGION,
    properties::TRACE_ON,
    properties::UNIQ_KEY,
    properties::MAX_RECONSUME_TIMES,
    properties::CONSUME_START_TIME,
    properties::TRAN_PREPARED_QUEUE_OFFSET,
    properties::TRANSACTION_CHECK_TIMES,
    properties::CHECK_IMMUNITY_TIME_IN_SECONDS,
    properties::INSTANCE_ID,
    properties::CORRELATION_ID,
    properties::REPLY_TO_CLIENT,
    properties::TTL,
    properties::ARRIVE_TIME,
    properties::PUSH_REPLY_TIME,
    properties::CLUSTER,
    properties::MSG_TYPE,
    properties::INNER_MULTI_DISPATCH,
    properties::INNER_MULTI_QUEUE_OFFSET,
    properties::START_DELIVER_TIME,
];

/// Timer properties of RocketMQ 5 the client sets itself; user properties
/// may not use them either.
pub const TIMER_PROPERTY_NAMES: &[&str] = &[
    properties::TIMER_DELIVER_MS,
    properties::TIMER_DELAY_MS,
    properties::TIMER_DELAY_SEC,
    properties::TIMER_OUT_MS,
    properties::TIMER_ENQUEUE_MS,
    properties::TIMER_DEQUEUE_MS,
];

/// Topics the broker refuses sends to (spec §2.3 step 2).
pub use ringmq_net::topic::SEND_FORBIDDEN_TOPICS;

/// Why a message, topic or group was refused before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The topic is empty or only whitespace.
    #[error("the topic is blank")]
    TopicBlank,
    /// The topic is longer than 127 bytes.
    #[error("the topic {0:?} is longer than {TOPIC_LENGTH_MAX} bytes")]
    TopicTooLong(String),
    /// The topic has characters outside `[%|a-zA-Z0-9_-]`.
    #[error("the topic {0:?} contains illegal characters; allowed are ^[%|a-zA-Z0-9_-]+$")]
    TopicIllegal(String),
    /// The topic is a system topic nobody may send to.
    #[error("sending to the system topic {0:?} is forbidden")]
    TopicForbidden(String),
    /// The group is empty, too long or has illegal characters.
    #[error("the group {0:?} is not a valid group name (1..=255 of [%|a-zA-Z0-9_-])")]
    GroupIllegal(String),
    /// The group is a reserved default group.
    #[error("the group {0:?} is reserved; choose your own group name")]
    GroupReserved(String),
    /// The body is empty.
    #[error("the message body is empty")]
    BodyEmpty,
    /// The body is over the size limit.
    #[error("the message body is {size} bytes, over the limit of {max} bytes")]
    BodyTooLarge {
        /// Body size in bytes.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A user property reuses a system property name.
    #[error("the property name {0:?} is used by the system; choose another")]
    PropertyReserved(String),
    /// A property name or value is empty or contains 0x01/0x02.
    #[error("the property {0:?} has an empty or illegal name or value (0x01/0x02 are separators)")]
    PropertyIllegal(String),
    /// The encoded properties exceed 32767 bytes.
    #[error("the message properties are {0} bytes encoded, over {PROPERTIES_SIZE_MAX}")]
    PropertiesTooLarge(usize),
    /// A batch is empty, mixes topics, or holds delayed/retry messages.
    #[error("the batch is invalid: {0}")]
    BatchIllegal(&'static str),
}

/// Checks a topic name against RocketMQ's rules
/// ([`ringmq_net::topic::validate_topic_name`]).
pub fn validate_topic(topic: &str) -> Result<(), ValidationError> {
    names::validate_topic_name(topic).map_err(|error| match error {
        TopicNameError::Blank => ValidationError::TopicBlank,
        TopicNameError::TooLong { .. } => ValidationError::TopicTooLong(topic.to_string()),
        TopicNameError::IllegalCharacter { .. } => ValidationError::TopicIllegal(topic.to_string()),
    })
}

/// Checks a topic may be the target of a send.
pub fn validate_send_topic(topic: &str) -> Result<(), ValidationError> {
    validate_topic(topic)?;
    if names::is_send_forbidden(topic) {
        return Err(ValidationError::TopicForbidden(topic.to_string()));
    }
    Ok(())
}

/// Checks a group name; `reserved` is the default group it may not equal.
pub fn validate_group(group: &str, reserved: &str) -> Result<(), ValidationError> {
    if group.is_empty() || group.len() > GROUP_LENGTH_MAX || !names::is_legal_name(group) {
        return Err(ValidationError::GroupIllegal(group.to_string()));
    }
    if group == reserved {
        return Err(ValidationError::GroupReserved(group.to_string()));
    }
    Ok(())
}

fn is_legal_property_text(text: &str) -> bool {
    !text.is_empty() && !text.contains(['\u{1}', '\u{2}'])
}

/// A message to send: topic, body, user flag and properties.
///
/// ```
/// use ringmq_client::Message;
///
/// let msg = Message::new("Orders", "hello")
///     .with_tags("created")
///     .with_keys(["order-17"])
///     .with_property("region", "eu")
///     .with_delay_level(3);
/// assert_eq!(msg.tags(), Some("created"));
/// assert_eq!(msg.keys(), vec!["order-17"]);
/// assert_eq!(msg.delay_level(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    topic: String,
    body: Bytes,
    flag: i32,
    properties: BTreeMap<String, String>,
    user_keys: BTreeSet<String>,
}

impl Message {
    /// A message for `topic` carrying `body`.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            topic: topic.into(),
            body: body.into(),
            flag: 0,
            properties: BTreeMap::new(),
            user_keys: BTreeSet::new(),
        }
    }

    /// Sets the tag the broker filters on.
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.properties.insert(PROPERTY_TAGS.into(), tags.into());
        self
    }

    /// Sets the business keys (indexed by the broker for queries).
    pub fn with_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_string()).collect();
        self.properties
            .insert(PROPERTY_KEYS.into(), joined.join(" "));
        self
    }

    /// Adds a user property. Names used by the system are refused at send.
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.user_keys.insert(name.clone());
        self.properties.insert(name, value.into());
        self
    }

    /// Delivers the message after delay level `level` (1..=18 on a default
    /// broker: 1s 5s 10s 30s 1m 2m ... 2h); 0 means no delay.
    pub fn with_delay_level(mut self, level: u32) -> Self {
        if level == 0 {
            self.properties.remove(PROPERTY_DELAY);
        } else {
            self.properties
                .insert(PROPERTY_DELAY.into(), level.to_string());
        }
        self
    }

    /// Delivers the message at `when` (RocketMQ 5's timer: the
    /// `TIMER_DELIVER_MS` property, ms since the epoch; a time before the
    /// epoch means "now"). Replaces any delay level.
    ///
    /// ```
    /// use ringmq_client::Message;
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let msg = Message::new("Orders", "x").deliver_at(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
    /// assert_eq!(msg.deliver_time_ms(), Some(1_700_000_000_123));
    /// ```
    pub fn deliver_at(mut self, when: std::time::SystemTime) -> Self {
        let ms = when
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        self.properties.remove(PROPERTY_DELAY);
        self.properties
            .insert(PROPERTY_TIMER_DELIVER_MS.into(), ms.to_string());
        self
    }

    /// Delivers the message `delay` from now (sets `TIMER_DELIVER_MS` to
    /// the local clock plus `delay`).
    pub fn deliver_after(self, delay: std::time::Duration) -> Self {
        let now = std::time::SystemTime::now();
        let when = now.checked_add(delay).unwrap_or(now);
        self.deliver_at(when)
    }

    /// The timed delivery, ms since the epoch, if one is set.
    pub fn deliver_time_ms(&self) -> Option<i64> {
        self.property(PROPERTY_TIMER_DELIVER_MS)?.parse().ok()
    }

    /// Sets the user flag stored verbatim with the message.
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Whether the broker should wait for flush/replication (default true).
    pub fn with_wait_store_ok(mut self, wait: bool) -> Self {
        self.properties
            .insert(PROPERTY_WAIT.into(), wait.to_string());
        self
    }

    /// The target topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The body as given (uncompressed).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The user flag.
    pub fn flag(&self) -> i32 {
        self.flag
    }

    /// The tag, if any.
    pub fn tags(&self) -> Option<&str> {
        self.property(PROPERTY_TAGS)
    }

    /// The business keys.
    pub fn keys(&self) -> Vec<&str> {
        self.property(PROPERTY_KEYS)
            .map(|k| k.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// The delay level, 0 when not delayed.
    pub fn delay_level(&self) -> u32 {
        self.property(PROPERTY_DELAY)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Any property, system or user.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// Every property (system and user), sorted by name.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// Sets a system property (used by the client itself, e.g. UNIQ_KEY).
    pub(crate) fn set_system_property(&mut self, name: &str, value: impl Into<String>) {
        self.properties.insert(name.to_string(), value.into());
    }

    /// Retargets the message (used for retry topics and namespaces).
    #[allow(dead_code)]
    pub(crate) fn set_topic(&mut self, topic: impl Into<String>) {
        self.topic = topic.into();
    }

    /// The property string size once encoded (`k 0x01 v 0x02 ...`).
    pub fn encoded_properties_len(&self) -> usize {
        let pairs: usize = self
            .properties
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum();
        pairs.saturating_sub(1)
    }

    /// Checks the message for a send with a body limit of `body_max`.
    pub fn validate(&self, body_max: usize) -> Result<(), ValidationError> {
        validate_send_topic(&self.topic)?;
        if self.body.is_empty() {
            return Err(ValidationError::BodyEmpty);
        }
        if self.body.len() > body_max {
            return Err(ValidationError::BodyTooLarge {
                size: self.body.len(),
                max: body_max,
            });
        }
        for name in &self.user_keys {
            if RESERVED_PROPERTY_NAMES.contains(&name.as_str())
                || TIMER_PROPERTY_NAMES.contains(&name.as_str())
            {
                return Err(ValidationError::PropertyReserved(name.clone()));
            }
        }
        for (name, value) in &self.properties {
            if !is_legal_property_text(name) || !is_legal_property_text(value) {
                return Err(ValidationError::PropertyIllegal(name.clone()));
            }
        }
        if let Some(raw) = self.property(PROPERTY_TIMER_DELIVER_MS)
            && raw.parse::<i64>().map_or(true, |ms| ms < 0)
        {
            return Err(ValidationError::PropertyIllegal(
                PROPERTY_TIMER_DELIVER_MS.to_string(),
            ));
        }
        let props = self.encoded_properties_len();
        if props > PROPERTIES_SIZE_MAX {
            return Err(ValidationError::PropertiesTooLarge(props));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_outside_the_charset_are_refused() {
        assert_eq!(validate_topic(""), Err(ValidationError::TopicBlank));
        assert_eq!(validate_topic("  "), Err(ValidationError::TopicBlank));
        assert!(matches!(
            validate_topic("a b"),
            Err(ValidationError::TopicIllegal(_))
        ));
        assert!(matches!(
            validate_topic("é"),
            Err(ValidationError::TopicIllegal(_))
        ));
        assert!(matches!(
            validate_topic(&"t".repeat(128)),
            Err(ValidationError::TopicTooLong(_))
        ));
        assert_eq!(validate_topic(&"t".repeat(127)), Ok(()));
        assert_eq!(validate_topic("%RETRY%g|x_y-z9"), Ok(()));
    }

    #[test]
    fn system_topics_cannot_be_sent_to() {
        assert!(matches!(
            validate_send_topic("SCHEDULE_TOPIC_XXXX"),
            Err(ValidationError::TopicForbidden(_))
        ));
    }

    #[test]
    fn empty_and_oversized_bodies_are_refused() {
        assert_eq!(
            Message::new("T", "").validate(10),
            Err(ValidationError::BodyEmpty)
        );
        assert_eq!(
            Message::new("T", vec![0u8; 11]).validate(10),
            Err(ValidationError::BodyTooLarge { size: 11, max: 10 })
        );
    }

    #[test]
    fn user_properties_may_not_shadow_system_ones() {
        let msg = Message::new("T", "x").with_property("TAGS", "sneaky");
        assert_eq!(
            msg.validate(BODY_SIZE_MAX),
            Err(ValidationError::PropertyReserved("TAGS".into()))
        );
        let msg = Message::new("T", "x").with_property("a\u{1}b", "v");
        assert!(matches!(
            msg.validate(BODY_SIZE_MAX),
            Err(ValidationError::PropertyIllegal(_))
        ));
    }

    #[test]
    fn timed_delivery_is_the_timer_deliver_ms_property() {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};
        let at = UNIX_EPOCH + Duration::from_millis(1_800_000_000_456);
        let msg = Message::new("T", "x").with_delay_level(3).deliver_at(at);
        assert_eq!(msg.property("TIMER_DELIVER_MS"), Some("1800000000456"));
        assert_eq!(msg.deliver_time_ms(), Some(1_800_000_000_456));
        assert_eq!(msg.delay_level(), 0, "a timer replaces the delay level");
        assert_eq!(msg.validate(BODY_SIZE_MAX), Ok(()));
        let before = SystemTime::now();
        let msg = Message::new("T", "x").deliver_after(Duration::from_secs(30));
        let ms = msg.deliver_time_ms().unwrap();
        let low = before.duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(30);
        assert!(ms >= i64::try_from(low.as_millis()).unwrap());
        let msg = Message::new("T", "x").deliver_at(UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(msg.deliver_time_ms(), Some(0));
    }

    #[test]
    fn timer_properties_cannot_be_set_as_user_properties() {
        for name in TIMER_PROPERTY_NAMES {
            let msg = Message::new("T", "x").with_property(*name, "5");
            assert_eq!(
                msg.validate(BODY_SIZE_MAX),
                Err(ValidationError::PropertyReserved((*name).to_string()))
            );
        }
    }

    #[test]
    fn reserved_groups_are_refused() {
        assert!(matches!(
            validate_group("DEFAULT_PRODUCER", "DEFAULT_PRODUCER"),
            Err(ValidationError::GroupReserved(_))
        ));
        assert!(matches!(
            validate_group("", "X"),
            Err(ValidationError::GroupIllegal(_))
        ));
        assert_eq!(validate_group("orders-pg", "DEFAULT_PRODUCER"), Ok(()));
    }

    #[test]
    fn reserved_names_are_the_standard_keys_and_mq2_flag() {
        let reserved: BTreeSet<&str> = RESERVED_PROPERTY_NAMES.iter().copied().collect();
        let mut expected: BTreeSet<&str> = properties::STANDARD_KEYS.into_iter().collect();
        expected.insert(properties::MQ2_FLAG);
        assert_eq!(reserved, expected);
        assert_eq!(RESERVED_PROPERTY_NAMES.len(), expected.len());
    }

    #[test]
    fn encoded_properties_length_counts_separators() {
        let msg = Message::new("T", "x")
            .with_tags("A")
            .with_keys(["k1", "k2"]);
        // "KEYS\x01k1 k2\x02TAGS\x01A"
        assert_eq!(
            msg.encoded_properties_len(),
            "KEYS\u{1}k1 k2\u{2}TAGS\u{1}A".len()
        );
    }
}
