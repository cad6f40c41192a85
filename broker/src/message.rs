//! Small message-format helpers the send path needs: reading and appending
//! to the property string (spec §4.3), offset message ids (§4.4) and the
//! SEND_BATCH_MESSAGE body entries (§4.6).
//!
//! ```text
//! properties:  key 0x01 value 0x02 key 0x01 value ...   (no trailing 0x02)
//! offset id:   hex(storeIP 4|16 bytes, storePort i32, physicalOffset i64), upper case
//! batch entry: TOTALSIZE i32 | MAGIC i32 | BODYCRC i32 | FLAG i32 |
//!              BODYLEN i32 | BODY | PROPLEN i16 | PROPERTIES
//! ```

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

const NAME_VALUE_SEPARATOR: char = '\u{1}';
const PROPERTY_SEPARATOR: char = '\u{2}';

/// Most messages one batch may hold.
pub const BATCH_MESSAGES_MAX: usize = 4096;

/// The value of property `key` in a property string.
pub fn property<'a>(properties: &'a str, key: &str) -> Option<&'a str> {
    properties.split(PROPERTY_SEPARATOR).find_map(|entry| {
        let (name, value) = entry.split_once(NAME_VALUE_SEPARATOR)?;
        (name == key && !value.is_empty()).then_some(value)
    })
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

/// Appends a whole property string (the batch-level properties).
pub fn append_properties(properties: &mut String, extra: &str) {
    if extra.is_empty() {
        return;
    }
    if !properties.is_empty() && !properties.ends_with(PROPERTY_SEPARATOR) {
        properties.push(PROPERTY_SEPARATOR);
    }
    properties.push_str(extra.trim_start_matches(PROPERTY_SEPARATOR));
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
    let mut raw = Vec::with_capacity(28);
    match store_host.ip() {
        IpAddr::V4(ip) => raw.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => raw.extend_from_slice(&ip.octets()),
    }
    raw.extend_from_slice(&i32::from(store_host.port()).to_be_bytes());
    raw.extend_from_slice(&physical_offset.to_be_bytes());
    raw.iter().map(|b| format!("{b:02X}")).collect()
}

/// The physical offset inside an offset message id.
pub fn physical_offset_of_msg_id(msg_id: &str) -> Option<i64> {
    let hex = msg_id.get(msg_id.len().checked_sub(16)?..)?;
    u64::from_str_radix(hex, 16).ok().map(|v| v as i64)
}

/// One message of a SEND_BATCH_MESSAGE body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    pub flag: i32,
    pub body: Bytes,
    pub properties: String,
}

/// Why a batch body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("batch entry {index} is truncated")]
    Truncated { index: usize },
    #[error("batch entry {index} declares size {size}, inconsistent with its fields")]
    BadSize { index: usize, size: i32 },
    #[error("batch entry {index} has properties that are not UTF-8")]
    BadProperties { index: usize },
    #[error("the batch has more than {BATCH_MESSAGES_MAX} messages")]
    TooMany,
    #[error("the batch is empty")]
    Empty,
}

fn read_i32(body: &Bytes, at: usize, index: usize) -> Result<i32, BatchError> {
    body.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_be_bytes)
        .ok_or(BatchError::Truncated { index })
}

/// Splits a batch body into its messages.
pub fn decode_batch(body: &Bytes) -> Result<Vec<BatchEntry>, BatchError> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < body.len() {
        let index = entries.len();
        if index >= BATCH_MESSAGES_MAX {
            return Err(BatchError::TooMany);
        }
        let size = read_i32(body, at, index)?;
        let flag = read_i32(body, at + 12, index)?;
        let body_len = usize::try_from(read_i32(body, at + 16, index)?)
            .map_err(|_| BatchError::BadSize { index, size })?;
        let body_start = at + 20;
        let body_end = body_start
            .checked_add(body_len)
            .ok_or(BatchError::Truncated { index })?;
        let message_body = body
            .get(body_start..body_end)
            .ok_or(BatchError::Truncated { index })?;
        let props_len = body
            .get(body_end..body_end + 2)
            .and_then(|b| b.try_into().ok())
            .map(i16::from_be_bytes)
            .ok_or(BatchError::Truncated { index })?;
        let props_len =
            usize::try_from(props_len).map_err(|_| BatchError::BadSize { index, size })?;
        let props_end = body_end + 2 + props_len;
        let props = body
            .get(body_end + 2..props_end)
            .ok_or(BatchError::Truncated { index })?;
        if usize::try_from(size).ok() != Some(props_end - at) {
            return Err(BatchError::BadSize { index, size });
        }
        let properties = std::str::from_utf8(props)
            .map_err(|_| BatchError::BadProperties { index })?
            .to_owned();
        entries.push(BatchEntry {
            flag,
            body: body.slice(body_start..body_end),
            properties,
        });
        let _ = message_body;
        at = props_end;
    }
    if entries.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(entries)
}

/// Encodes batch entries (what a client sends; used by tests and tools).
pub fn encode_batch(entries: &[BatchEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let props = entry.properties.as_bytes();
        let total = 20 + entry.body.len() + 2 + props.len();
        out.extend_from_slice(&(total as i32).to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&entry.flag.to_be_bytes());
        out.extend_from_slice(&(entry.body.len() as i32).to_be_bytes());
        out.extend_from_slice(&entry.body);
        out.extend_from_slice(&(props.len() as i16).to_be_bytes());
        out.extend_from_slice(props);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn truncated_batch_is_refused() {
        let body = Bytes::from(encode_batch(&[BatchEntry {
            flag: 0,
            body: Bytes::from_static(b"abc"),
            properties: String::new(),
        }]));
        assert!(decode_batch(&body.slice(..body.len() - 1)).is_err());
        assert!(decode_batch(&Bytes::new()).is_err());
    }

    proptest! {
        #[test]
        fn batch_round_trips(items in proptest::collection::vec((any::<i32>(), proptest::collection::vec(any::<u8>(), 0..64), "[a-z]{0,12}"), 1..8)) {
            let entries: Vec<BatchEntry> = items.into_iter().map(|(flag, body, properties)| BatchEntry { flag, body: Bytes::from(body), properties }).collect();
            let encoded = Bytes::from(encode_batch(&entries));
            prop_assert_eq!(decode_batch(&encoded).unwrap(), entries);
        }

        #[test]
        fn batch_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_batch(&Bytes::from(bytes));
        }
    }
}
