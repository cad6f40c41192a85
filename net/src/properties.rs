//! The message property string (spec §4.3): user and system key/value pairs
//! carried in a record's PROPERTIES field and in the send header's
//! `properties` (V2: `i`).
//!
//! # Format
//!
//! ```text
//! key 0x01 value 0x02 key 0x01 value ... key 0x01 value      (no trailing 0x02)
//! ```
//!
//! Java writes no trailing 0x02, but readers tolerate one. The reader follows
//! Java `MessageDecoder.string2messageProperties`: split on 0x02; a segment is
//! an entry only if its first 0x01 has at least one byte before it (the key)
//! and at least one after it (the value); other segments are skipped. A later
//! duplicate key replaces an earlier one (Java `HashMap.put`). The value may
//! itself contain 0x01 (only the first one splits).
//!
//! [`Properties`] is the owned, insertion-ordered map. [`find`] and
//! [`entries`] read a raw string without allocating, for the storage engine
//! which indexes `KEYS`, `TAGS` and `UNIQ_KEY` straight from a record view.

use std::collections::HashMap;

/// Separates a name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Separates entries.
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Separates the keys in the `KEYS` property.
pub const KEY_SEPARATOR: char = ' ';

/// User keys, space-separated; indexed.
pub const KEYS: &str = "KEYS";
/// The message tag; its Java hash code goes into the consume queue.
pub const TAGS: &str = "TAGS";
/// `"true"`/`"false"`: wait for flush/replication before answering.
pub const WAIT: &str = "WAIT";
/// Delay level 1..=18.
pub const DELAY: &str = "DELAY";
/// Original topic of a retried message.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Original topic of a delayed or half message.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Original queue id of a delayed or half message.
pub const REAL_QID: &str = "REAL_QID";
/// `"true"` on transactional half messages.
pub const TRAN_MSG: &str = "TRAN_MSG";
/// Producer group (transactional messages).
pub const PGROUP: &str = "PGROUP";
/// Queue min offset, added client-side after a pull.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Queue max offset, added client-side after a pull.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Legacy.
pub const BUYER_ID: &str = "BUYER_ID";
/// Original message id on retry/DLQ copies.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Reconsume count on a client fallback resend.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Region id.
pub const MSG_REGION: &str = "MSG_REGION";
/// Trace switch.
pub const TRACE_ON: &str = "TRACE_ON";
/// Client-generated unique message id (see `message_id`); indexed.
pub const UNIQ_KEY: &str = "UNIQ_KEY";
/// Max reconsume times on a client fallback resend.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// Set client-side when consumption starts.
pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
/// Half message queue offset, on op/check copies.
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Number of checks done on a half message.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// User-specified first-check delay.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Instance id.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request/reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Request/reply: the client to reply to.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request/reply: time to live.
pub const TTL: &str = "TTL";
/// Request/reply: arrival time.
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Request/reply: push reply time.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Broker cluster name, added by the broker on every send.
pub const CLUSTER: &str = "CLUSTER";
/// Reply message marker.
pub const MSG_TYPE: &str = "MSG_TYPE";
/// Light message queue dispatch.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// Light message queue offsets.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// Timer delivery time (commercial/5.x).
pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";
/// Legacy flag. Not in the spec table (so not in [`STANDARD_KEYS`]), but
/// Java's `MessageConst.STRING_HASH_SET` reserves it from user properties.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// RocketMQ 5 timer: absolute delivery time, epoch ms (`TIMER_DELIVER_MS`).
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// RocketMQ 5 timer: delivery delay in ms from the store time.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// RocketMQ 5 timer: delivery delay in seconds from the store time.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// RocketMQ 5 timer: the due time the broker computed, epoch ms (kept on delivery).
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// RocketMQ 5 timer: when the broker put the message into its timer wheel.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// RocketMQ 5 timer: when the broker took the message out of its timer wheel.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";

/// RocketMQ 5 POP: the receipt (`ExtraInfo`) of a popped message, added by the
/// broker to each message of a POP_MESSAGE reply (`MessageConst.PROPERTY_POP_CK`).
pub const POP_CK: &str = "POP_CK";
/// RocketMQ 5 POP: when the message was first popped, epoch ms
/// (`MessageConst.PROPERTY_FIRST_POP_TIME`), kept on its revived copies.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";

/// Every standard key above, for tools and tests.
pub const STANDARD_KEYS: [&str; 35] = [
    KEYS,
    TAGS,
    WAIT,
    DELAY,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QID,
    TRAN_MSG,
    PGROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    RECONSUME_TIME,
    MSG_REGION,
    TRACE_ON,
    UNIQ_KEY,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIME,
    TRAN_PREPARED_QUEUE_OFFSET,
    TRANSACTION_CHECK_TIMES,
    CHECK_IMMUNITY_TIME_IN_SECONDS,
    INSTANCE_ID,
    CORRELATION_ID,
    REPLY_TO_CLIENT,
    TTL,
    ARRIVE_TIME,
    PUSH_REPLY_TIME,
    CLUSTER,
    MSG_TYPE,
    INNER_MULTI_DISPATCH,
    INNER_MULTI_QUEUE_OFFSET,
    START_DELIVER_TIME,
];

/// The well-formed entries of a raw property string, in order, duplicates
/// included (a later duplicate wins in [`find`] and [`Properties::parse`]).
pub fn entries(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.split(PROPERTY_SEPARATOR).filter_map(|segment| {
        let (key, value) = segment.split_once(NAME_VALUE_SEPARATOR)?;
        (!key.is_empty() && !value.is_empty()).then_some((key, value))
    })
}

/// The value of `key` in a raw property string, without allocating.
pub fn find<'a>(raw: &'a str, key: &str) -> Option<&'a str> {
    entries(raw)
        .filter(|(k, _)| *k == key)
        .last()
        .map(|(_, v)| v)
}

/// Whether an entry survives encoding and parsing unchanged: non-empty key
/// and value, no separator in the key, no 0x02 in the value.
pub fn is_encodable(key: &str, value: &str) -> bool {
    !key.is_empty()
        && !value.is_empty()
        && !key.contains([NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR])
        && !value.contains(PROPERTY_SEPARATOR)
}

/// An owned property map that keeps insertion order (so encoding is
/// deterministic). Lookups are linear: messages carry about ten properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a raw property string by the Java rules (module doc):
    /// malformed segments are skipped, a later duplicate key wins (keeping
    /// the position of the first).
    pub fn parse(raw: &str) -> Self {
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (key, value) in self::entries(raw) {
            match index.get(key).and_then(|i| entries.get_mut(*i)) {
                Some(slot) => value.clone_into(&mut slot.1),
                None => {
                    index.insert(key, entries.len());
                    entries.push((key.to_owned(), value.to_owned()));
                }
            }
        }
        Self { entries }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`, returning the previous value. A new key goes
    /// last; an existing key keeps its position.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => Some(std::mem::replace(&mut slot.1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `TAGS`.
    pub fn tags(&self) -> Option<&str> {
        self.get(TAGS)
    }

    /// The space-separated `KEYS`, empty ones skipped.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.get(KEYS)
            .unwrap_or_default()
            .split(KEY_SEPARATOR)
            .filter(|k| !k.is_empty())
    }

    /// `UNIQ_KEY`.
    pub fn uniq_key(&self) -> Option<&str> {
        self.get(UNIQ_KEY)
    }

    /// `DELAY` as a number, `None` if absent or not a number.
    pub fn delay_level(&self) -> Option<i32> {
        self.get(DELAY)?.trim().parse().ok()
    }

    /// `WAIT`: true unless the property says `"false"` (Java default true).
    pub fn wait_store_msg_ok(&self) -> bool {
        self.get(WAIT) != Some("false")
    }

    /// Length of [`Properties::encode`]'s output, in bytes.
    pub fn encoded_len(&self) -> usize {
        let pairs: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum();
        pairs.saturating_sub(1)
    }

    /// Appends the encoded string (Java form: no trailing 0x02) to `out`.
    pub fn encode_into(&self, out: &mut String) {
        out.reserve(self.encoded_len());
        for (i, (key, value)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(PROPERTY_SEPARATOR);
            }
            out.push_str(key);
            out.push(NAME_VALUE_SEPARATOR);
            out.push_str(value);
        }
    }

    /// The encoded string (Java form: no trailing 0x02).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut props = Properties::new();
        for (k, v) in iter {
            props.insert(k, v);
        }
        props
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn java_form_has_no_trailing_separator() {
        let props: Properties = [(TAGS, "TagA"), (KEYS, "k1 k2")].into_iter().collect();
        assert_eq!(props.encode(), "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2");
        assert_eq!(props.encoded_len(), props.encode().len());
        assert_eq!(Properties::new().encode(), "");
        assert_eq!(Properties::new().encoded_len(), 0);
    }

    #[test]
    fn trailing_separator_is_tolerated() {
        let props = Properties::parse("TAGS\u{1}a\u{2}WAIT\u{1}true\u{2}");
        assert_eq!(props.len(), 2);
        assert_eq!(props.get(WAIT), Some("true"));
    }

    #[test]
    fn malformed_segments_are_skipped() {
        let raw = "\u{1}v\u{2}k\u{1}\u{2}ab\u{2}\u{2}x\u{2}KEYS\u{1}a b\u{2}k2\u{1}v\u{1}w";
        let props = Properties::parse(raw);
        let got: Vec<_> = props.iter().collect();
        assert_eq!(got, vec![(KEYS, "a b"), ("k2", "v\u{1}w")]);
        assert_eq!(props.keys().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn later_duplicate_wins_in_parse_and_find() {
        let raw = "a\u{1}1\u{2}b\u{1}2\u{2}a\u{1}3";
        assert_eq!(find(raw, "a"), Some("3"));
        let props = Properties::parse(raw);
        assert_eq!(
            props.iter().collect::<Vec<_>>(),
            vec![("a", "3"), ("b", "2")]
        );
    }

    #[test]
    fn typed_accessors_read_standard_keys() {
        let props = Properties::parse("DELAY\u{1}3\u{2}WAIT\u{1}false\u{2}UNIQ_KEY\u{1}ABC");
        assert_eq!(props.delay_level(), Some(3));
        assert!(!props.wait_store_msg_ok());
        assert!(Properties::new().wait_store_msg_ok());
        assert_eq!(props.uniq_key(), Some("ABC"));
    }

    #[test]
    fn insert_replaces_in_place_and_remove_deletes() {
        let mut props = Properties::new();
        assert_eq!(props.insert("a", "1"), None);
        props.insert("b", "2");
        assert_eq!(props.insert("a", "3"), Some("1".to_owned()));
        assert_eq!(props.encode(), "a\u{1}3\u{2}b\u{1}2");
        assert_eq!(props.remove("a"), Some("3".to_owned()));
        assert_eq!(props.remove("a"), None);
        assert_eq!(props.len(), 1);
    }

    fn arb_props() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec(("[A-Za-z_.]{1,12}", "[^\u{2}]{1,20}"), 0..12)
    }

    proptest! {
        #[test]
        fn encoded_properties_parse_back(pairs in arb_props()) {
            let props: Properties = pairs.into_iter().collect();
            let encoded = props.encode();
            prop_assert_eq!(Properties::parse(&encoded), props.clone());
            let mut trailing = encoded.clone();
            trailing.push(PROPERTY_SEPARATOR);
            prop_assert_eq!(Properties::parse(&trailing), props.clone());
            for (k, v) in props.iter() {
                prop_assert!(is_encodable(k, v));
                prop_assert_eq!(find(&encoded, k), Some(v));
            }
        }

        #[test]
        fn parse_never_panics_and_yields_encodable_entries(raw in "[a-cé\u{1}\u{2}]{0,200}") {
            let props = Properties::parse(&raw);
            for (k, v) in props.iter() {
                prop_assert!(!k.is_empty() && !v.is_empty());
                prop_assert!(!k.contains(NAME_VALUE_SEPARATOR));
            }
        }
    }
}
