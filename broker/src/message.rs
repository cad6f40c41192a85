//! Small message-format helpers the send path needs on top of
//! `ringmq_net`: editing the property string in place (spec §4.3) and
//! offset message ids (§4.4).
//!
//! ```text
//! properties:  key 0x01 value 0x02 key 0x01 value ...   (no trailing 0x02)
//! offset id:   hex(storeIP 4|16 bytes, storePort i32, physicalOffset i64), upper case
//! ```

use std::net::SocketAddr;

use ringmq_net::properties::{NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR};

/// The value of property `key` in a property string.
pub fn property<'a>(properties: &'a str, key: &str) -> Option<&'a str> {
    ringmq_net::properties::find(properties, key)
}

/// Appends `key=value` (replacing nothing; callers add keys not present).
pub fn append_property(properties: &mut String, key: &str, value: &str) {
    if !properties.is_empty() && !properties.ends_with(PROPERTY_SEPARATOR) {
        properties.push(PROPERTY_SEPARATOR);
    }
    properties.push_str(key);
    properties.push(NAME_VALUE_SEPARATOR);
    properties.push_str(value);
}

/// Removes every entry named `key`.
pub fn remove_property(properties: &str, key: &str) -> String {
    properties
        .split(PROPERTY_SEPARATOR)
        .filter(|entry| {
            entry
                .split_once(NAME_VALUE_SEPARATOR)
                .is_none_or(|(name, _)| name != key)
        })
        .collect::<Vec<_>>()
        .join(&PROPERTY_SEPARATOR.to_string())
}

/// The offset message id of a record stored at `physical_offset`.
pub fn offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    ringmq_net::message_id::offset_msg_id(store_host, physical_offset)
}

/// The physical offset inside an offset message id.
pub fn physical_offset_of_msg_id(msg_id: &str) -> Option<i64> {
    ringmq_net::message_id::decode_offset_msg_id(msg_id)
        .ok()
        .map(|(_, offset)| offset)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_read_and_appended_without_trailing_separator() {
        let mut props = "TAGS\u{1}a\u{2}KEYS\u{1}k1 k2".to_owned();
        assert_eq!(property(&props, "KEYS"), Some("k1 k2"));
        append_property(&mut props, "CLUSTER", "c");
        assert_eq!(props, "TAGS\u{1}a\u{2}KEYS\u{1}k1 k2\u{2}CLUSTER\u{1}c");
        assert_eq!(
            remove_property(&props, "KEYS"),
            "TAGS\u{1}a\u{2}CLUSTER\u{1}c"
        );
    }

    #[test]
    fn offset_msg_id_is_32_upper_hex_for_ipv4() {
        let id = offset_msg_id("127.0.0.1:10911".parse().unwrap(), 0x0EF7_E66D);
        assert_eq!(id, "7F00000100002A9F000000000EF7E66D");
        assert_eq!(physical_offset_of_msg_id(&id), Some(0x0EF7_E66D));
    }
}
