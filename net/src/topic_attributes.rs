//! Topic attributes (RocketMQ 5): the key/value map a topic carries beside
//! its queue counts, and the one attribute ringmq knows, the topic's
//! message type (`TopicAttributes.TOPIC_MESSAGE_TYPE_ATTRIBUTE`).
//!
//! UPDATE_AND_CREATE_TOPIC carries changes to the map in its `attributes`
//! header field, as Java's `AttributeParser` writes them:
//!
//! ```text
//! attributes   change ("," change)*
//! change       "+" key "=" value      set key to value
//!            | "-" key                remove key (only when updating a topic)
//! e.g.         +message.type=FIFO
//! ```
//!
//! A topic without `message.type` (auto-created, or created by a 4.x tool)
//! accepts every type, so a 5.x producer can send a timed or transactional
//! message to it; a topic with a type accepts only that type.

use std::collections::BTreeMap;
use std::fmt;

/// The message-type attribute's key.
pub const MESSAGE_TYPE_ATTRIBUTE: &str = "message.type";
/// Longest `attributes` header value accepted.
pub const ATTRIBUTES_BYTES_MAX: usize = 4096;
/// Most changes one `attributes` value may carry.
pub const ATTRIBUTE_CHANGES_MAX: usize = 16;

/// What kind of messages a topic accepts (Java `TopicMessageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Plain messages.
    Normal,
    /// Messages with a message group, consumed in order per group.
    Fifo,
    /// Timed or delay-level messages.
    Delay,
    /// Transactional half messages.
    Transaction,
}

impl MessageType {
    /// Every type, in Java's order.
    pub const ALL: [MessageType; 4] = [
        MessageType::Normal,
        MessageType::Fifo,
        MessageType::Delay,
        MessageType::Transaction,
    ];

    /// The attribute value (`TopicMessageType.getValue()`).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Normal => "NORMAL",
            MessageType::Fifo => "FIFO",
            MessageType::Delay => "DELAY",
            MessageType::Transaction => "TRANSACTION",
        }
    }

    /// Parses an attribute value, case-insensitively.
    pub fn parse(value: &str) -> Option<MessageType> {
        MessageType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(value))
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message type a topic's attributes give; `Ok(None)` when unset
/// (the topic accepts every type). `MIXED` and `UNSPECIFIED`, Java's
/// "anything goes" values, read as unset.
pub fn message_type(attributes: &BTreeMap<String, String>) -> Option<MessageType> {
    attributes
        .get(MESSAGE_TYPE_ATTRIBUTE)
        .and_then(|value| MessageType::parse(value))
}

/// Whether a topic with these attributes accepts a message of type `kind`.
pub fn accepts(attributes: &BTreeMap<String, String>, kind: MessageType) -> bool {
    message_type(attributes).is_none_or(|own| own == kind)
}

/// One change of an `attributes` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeChange {
    /// `+key=value`.
    Set(String, String),
    /// `-key`.
    Remove(String),
}

/// Why an `attributes` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    /// Longer than [`ATTRIBUTES_BYTES_MAX`].
    #[error("the attributes are {len} bytes long; the limit is {ATTRIBUTES_BYTES_MAX}")]
    TooLong {
        /// Length in bytes.
        len: usize,
    },
    /// More than [`ATTRIBUTE_CHANGES_MAX`] changes.
    #[error("{count} attribute changes given; at most {ATTRIBUTE_CHANGES_MAX} are accepted")]
    TooMany {
        /// Changes given.
        count: usize,
    },
    /// A change that is neither `+key=value` nor `-key`.
    #[error("attribute change {0:?} is neither +key=value nor -key")]
    Malformed(String),
    /// The same key twice.
    #[error("attribute {0:?} is changed twice")]
    Duplicate(String),
    /// A key ringmq does not know.
    #[error("unsupported topic attribute {0:?}; supported: {MESSAGE_TYPE_ATTRIBUTE}")]
    Unsupported(String),
    /// A value the attribute does not take.
    #[error(
        "topic attribute {MESSAGE_TYPE_ATTRIBUTE}={0:?} is not one of NORMAL, FIFO, DELAY, TRANSACTION, MIXED"
    )]
    BadMessageType(String),
    /// `-key` while creating a topic.
    #[error("attribute {0:?} cannot be removed from a topic that is being created")]
    RemoveOnCreate(String),
}

/// Parses an `attributes` header value into its changes (empty input: none).
pub fn parse_changes(text: &str) -> Result<Vec<AttributeChange>, AttributeError> {
    if text.len() > ATTRIBUTES_BYTES_MAX {
        return Err(AttributeError::TooLong { len: text.len() });
    }
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = text.split(',').collect();
    if parts.len() > ATTRIBUTE_CHANGES_MAX {
        return Err(AttributeError::TooMany { count: parts.len() });
    }
    let mut changes: Vec<AttributeChange> = Vec::with_capacity(parts.len());
    for part in parts {
        let change = parse_change(part.trim())?;
        let key = match &change {
            AttributeChange::Set(key, _) | AttributeChange::Remove(key) => key,
        };
        if changes.iter().any(|c| change_key(c) == key) {
            return Err(AttributeError::Duplicate(key.clone()));
        }
        changes.push(change);
    }
    Ok(changes)
}

fn change_key(change: &AttributeChange) -> &str {
    match change {
        AttributeChange::Set(key, _) | AttributeChange::Remove(key) => key,
    }
}

fn parse_change(part: &str) -> Result<AttributeChange, AttributeError> {
    let malformed = || AttributeError::Malformed(part.to_owned());
    if let Some(rest) = part.strip_prefix('+') {
        let (key, value) = rest.split_once('=').ok_or_else(malformed)?;
        if key.is_empty() || value.is_empty() || value.contains('=') {
            return Err(malformed());
        }
        return Ok(AttributeChange::Set(key.to_owned(), value.to_owned()));
    }
    if let Some(key) = part.strip_prefix('-') {
        if key.is_empty() || key.contains('=') {
            return Err(malformed());
        }
        return Ok(AttributeChange::Remove(key.to_owned()));
    }
    Err(malformed())
}

/// Applies `changes` to a topic's `current` attributes (`None` when the
/// topic is being created), checking each key and value; the result is the
/// topic's new attribute map. As Java's `AttributeUtil.alterCurrentAttributes`.
pub fn apply_changes(
    current: Option<&BTreeMap<String, String>>,
    changes: &[AttributeChange],
) -> Result<BTreeMap<String, String>, AttributeError> {
    let mut next = current.cloned().unwrap_or_default();
    for change in changes {
        match change {
            AttributeChange::Set(key, value) => {
                check_value(key, value)?;
                next.insert(key.clone(), canonical_value(key, value));
            }
            AttributeChange::Remove(key) => {
                if current.is_none() {
                    return Err(AttributeError::RemoveOnCreate(key.clone()));
                }
                check_key(key)?;
                next.remove(key);
            }
        }
    }
    Ok(next)
}

fn check_key(key: &str) -> Result<(), AttributeError> {
    if key == MESSAGE_TYPE_ATTRIBUTE {
        Ok(())
    } else {
        Err(AttributeError::Unsupported(key.to_owned()))
    }
}

fn check_value(key: &str, value: &str) -> Result<(), AttributeError> {
    check_key(key)?;
    let any = value.eq_ignore_ascii_case("MIXED") || value.eq_ignore_ascii_case("UNSPECIFIED");
    if any || MessageType::parse(value).is_some() {
        Ok(())
    } else {
        Err(AttributeError::BadMessageType(value.to_owned()))
    }
}

fn canonical_value(key: &str, value: &str) -> String {
    if key == MESSAGE_TYPE_ATTRIBUTE {
        return value.to_ascii_uppercase();
    }
    value.to_owned()
}

/// The `attributes` value that gives a topic message type `kind`.
pub fn message_type_change(kind: MessageType) -> String {
    render_changes(&[AttributeChange::Set(
        MESSAGE_TYPE_ATTRIBUTE.to_owned(),
        kind.as_str().to_owned(),
    )])
}

/// Renders changes back into the header form (what our admin tool sends).
pub fn render_changes(changes: &[AttributeChange]) -> String {
    let rendered: Vec<String> = changes
        .iter()
        .map(|change| match change {
            AttributeChange::Set(key, value) => format!("+{key}={value}"),
            AttributeChange::Remove(key) => format!("-{key}"),
        })
        .collect();
    rendered.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_type_set_at_creation_is_kept_in_upper_case() {
        let changes = parse_changes("+message.type=fifo").unwrap();
        let attributes = apply_changes(None, &changes).unwrap();
        assert_eq!(attributes, map(&[("message.type", "FIFO")]));
        assert_eq!(message_type(&attributes), Some(MessageType::Fifo));
        assert!(accepts(&attributes, MessageType::Fifo));
        assert!(!accepts(&attributes, MessageType::Delay));
    }

    #[test]
    fn a_topic_without_a_type_or_mixed_accepts_every_type() {
        for attributes in [map(&[]), map(&[("message.type", "MIXED")])] {
            for kind in MessageType::ALL {
                assert!(accepts(&attributes, kind), "{attributes:?} {kind}");
            }
        }
    }

    #[test]
    fn removing_is_for_updates_only() {
        let changes = parse_changes("-message.type").unwrap();
        assert_eq!(
            apply_changes(None, &changes),
            Err(AttributeError::RemoveOnCreate("message.type".into()))
        );
        let current = map(&[("message.type", "DELAY")]);
        assert_eq!(apply_changes(Some(&current), &changes), Ok(map(&[])));
    }

    #[test]
    fn unknown_keys_bad_values_and_malformed_changes_are_refused() {
        let unknown = parse_changes("+queue.type=x").unwrap();
        assert_eq!(
            apply_changes(None, &unknown),
            Err(AttributeError::Unsupported("queue.type".into()))
        );
        let bad = parse_changes("+message.type=SOMETIMES").unwrap();
        assert_eq!(
            apply_changes(None, &bad),
            Err(AttributeError::BadMessageType("SOMETIMES".into()))
        );
        for text in ["message.type=FIFO", "+message.type", "+=x", "-", "+a=b=c"] {
            assert!(
                matches!(parse_changes(text), Err(AttributeError::Malformed(_))),
                "{text}"
            );
        }
        assert_eq!(
            parse_changes("+message.type=FIFO,-message.type"),
            Err(AttributeError::Duplicate("message.type".into()))
        );
        let many = vec!["+k=v"; ATTRIBUTE_CHANGES_MAX + 1].join(",");
        assert!(matches!(
            parse_changes(&many),
            Err(AttributeError::TooMany { .. })
        ));
        let long = format!("+k={}", "v".repeat(ATTRIBUTES_BYTES_MAX));
        assert!(matches!(
            parse_changes(&long),
            Err(AttributeError::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn rendered_changes_parse_back(
            keys in proptest::collection::btree_set("[a-z.]{1,12}", 0..ATTRIBUTE_CHANGES_MAX),
            values in proptest::collection::vec(proptest::option::of("[A-Za-z0-9_]{1,12}"), ATTRIBUTE_CHANGES_MAX),
        ) {
            let changes: Vec<AttributeChange> = keys
                .into_iter()
                .zip(values)
                .map(|(key, value)| match value {
                    Some(value) => AttributeChange::Set(key, value),
                    None => AttributeChange::Remove(key),
                })
                .collect();
            prop_assert_eq!(parse_changes(&render_changes(&changes)), Ok(changes));
        }

        #[test]
        fn garbage_never_panics(text in "\\PC{0,64}") {
            if let Ok(changes) = parse_changes(&text) {
                let _ = apply_changes(None, &changes);
                let _ = apply_changes(Some(&BTreeMap::new()), &changes);
            }
        }
    }
}
