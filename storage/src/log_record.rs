//! What the store needs to know about a commit-log record (spec §4.1): the
//! few fields it stamps on append (queue offset, physical offset, store
//! timestamp), the fields the index rebuilder reads (topic, queue, tags,
//! keys), and the validation recovery applies (size, magic, body CRC,
//! physical offset, plus torn-write checks). Parsing, patching and the body
//! CRC come from the shared codec in `ringmq_net::record`; this module adds
//! what only the store knows (positions, timestamps, what a torn write
//! looks like) and the property lookups the index rebuilder needs.
//!
//! ```text
//! offset size field                      (IPv4 hosts; IPv6 adds 12 per host)
//!  0      4   TOTALSIZE (i32, whole record)
//!  4      4   MAGICCODE 0xDAA320A7 (blank end-of-file: 0xCBD43194)
//!  8      4   BODYCRC   crc32(body) & 0x7FFFFFFF
//! 12      4   QUEUEID
//! 16      4   FLAG
//! 20      8   QUEUEOFFSET            <- stamped by the store
//! 28      8   PHYSICALOFFSET         <- stamped by the store
//! 36      4   SYSFLAG
//! 40      8   BORNTIMESTAMP
//! 48   8/20   BORNHOST
//!  ..     8   STORETIMESTAMP         <- stamped by the store
//!  ..  8/20   STOREHOST
//!  ..     4   RECONSUMETIMES
//!  ..     8   PREPAREDTRANSACTIONOFFSET
//!  ..     4   BODYLENGTH, then BODY
//!  ..     1   TOPICLENGTH (i8), then TOPIC
//!  ..     2   PROPERTIESLENGTH (i16), then PROPERTIES
//!
//! blank end-of-file marker: [remaining bytes in file: i32][0xCBD43194]
//! ```

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use ringmq_net::properties as keys;
use ringmq_net::record::{self as codec, MessageRecord, RecordScan, RecordView};
use ringmq_net::topic::validate_topic_name;
use thiserror::Error;

/// Magic of a 4.x (V1) message record.
pub const MESSAGE_MAGIC: u32 = 0xDAA3_20A7;
/// Magic of the end-of-file filler written when a record does not fit.
pub const BLANK_MAGIC: u32 = 0xCBD4_3194;
/// Length of the blank end-of-file marker.
pub const BLANK_MARKER_BYTES: usize = codec::BLANK_MARKER_BYTES;
/// Smallest well-formed record (IPv4 hosts, empty body, topic, properties).
pub const RECORD_BYTES_MIN: usize = codec::RECORD_MIN_BYTES;
/// Bytes needed to read a record's store timestamp (IPv6 born host).
pub const STORE_TIMESTAMP_PROBE_BYTES: usize = codec::POS_BORN_HOST + 20 + 8;

const PROPERTY_NAME_SEPARATOR: u8 = 0x01;
const PROPERTY_SEPARATOR: u8 = 0x02;

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error(transparent)]
    Codec(#[from] codec::RecordError),
    #[error("bad magic {0:#010x}")]
    BadMagic(u32),
    #[error("record is {actual} bytes but TOTALSIZE says {total_size}")]
    BadSize { total_size: i32, actual: usize },
    #[error("record claims physical offset {stored}, found at {actual}")]
    WrongPosition { stored: i64, actual: i64 },
    #[error("record topic, properties or store timestamp hold impossible bytes (torn write)")]
    ImpossibleField,
    #[error("record too short to hold a store timestamp")]
    Truncated,
}

/// Result of looking at the bytes at a position of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan<'a> {
    /// A valid record: its bytes (TOTALSIZE of them).
    Record(&'a [u8]),
    /// The blank end-of-file marker: the rest of the segment is unused.
    EndOfSegment,
    /// Zero bytes or too few bytes: the end of the written log.
    End,
    /// Bytes that are not a record (torn or corrupt).
    Corrupt(RecordError),
}

fn be_u32(buf: &[u8], at: usize) -> Option<u32> {
    ringmq_net::codec::ByteReader::new(buf.get(at..)?).u32()
}

/// Looks at the bytes starting at a record boundary whose physical offset is
/// `position` and says what is there. `verify_crc` also checks the body CRC.
/// The scanner is `ringmq_net::record::scan_view` (the one the criterion
/// bench measures through this function); this adds the checks only the
/// store can make (position, torn-write zeros).
pub fn scan(buf: &[u8], position: i64, verify_crc: bool) -> Scan<'_> {
    match codec::scan_view(buf, verify_crc) {
        Ok(view) => match verify_stored(&view, position) {
            Ok(()) => Scan::Record(view.as_bytes()),
            Err(err) => Scan::Corrupt(err),
        },
        Err(RecordScan::EndOfFile { .. }) => Scan::EndOfSegment,
        Err(RecordScan::Incomplete) => Scan::End,
        Err(RecordScan::Corrupt(codec::RecordError::BadMagic { found })) => {
            Scan::Corrupt(RecordError::BadMagic(found))
        }
        Err(RecordScan::Corrupt(err)) => Scan::Corrupt(RecordError::Codec(err)),
        // `scan_view` reports valid records in its Ok arm.
        Err(RecordScan::Valid { .. }) => Scan::Corrupt(RecordError::ImpossibleField),
    }
}

/// The message record at the start of bytes the store itself wrote; `None`
/// at a blank marker or anything that is not a record.
pub fn written_record(buf: &[u8]) -> Option<&[u8]> {
    let (total, magic) = (be_u32(buf, 0)?, be_u32(buf, 4)?);
    let len = usize::try_from(total).ok()?;
    if magic != MESSAGE_MAGIC || len < RECORD_BYTES_MIN {
        return None;
    }
    buf.get(..len)
}

/// The checks the body CRC does not cover: the record is where it says it
/// is, and holds none of the zeros a torn write leaves in fields that can
/// never legitimately be zero.
fn verify_stored(view: &RecordView<'_>, position: i64) -> Result<(), RecordError> {
    if view.physical_offset() != position {
        return Err(RecordError::WrongPosition {
            stored: view.physical_offset(),
            actual: position,
        });
    }
    let stamped = view.store_timestamp() > 0;
    if !stamped
        || !valid_topic_bytes(view.topic().as_bytes())
        || view.properties_raw().as_bytes().contains(&0)
    {
        return Err(RecordError::ImpossibleField);
    }
    Ok(())
}

/// Whether a topic name is acceptable for the store: net's one rule
/// (`ringmq_net::topic::validate_topic_name`: 1..=127 bytes of
/// `[%|a-zA-Z0-9_-]`, so never `.`/`..` or a path separator, which matters
/// because it becomes a directory name).
pub fn valid_topic_bytes(topic: &[u8]) -> bool {
    std::str::from_utf8(topic).is_ok_and(|t| validate_topic_name(t).is_ok())
}

/// The blank end-of-file marker for a segment with `remaining` unused bytes.
pub fn blank_marker(remaining: u64) -> [u8; BLANK_MARKER_BYTES] {
    codec::encode_blank(i32::try_from(remaining).unwrap_or(i32::MAX))
}

/// Header facts `put` needs before stamping a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHead<'a> {
    pub topic: &'a str,
    pub queue_id: i32,
    /// Prepared and rollback transactional records get no queue offset and
    /// are not dispatched to consume queues.
    pub dispatched: bool,
}

/// Validates an encoded record handed to `put` and returns its head.
pub fn head(record: &[u8]) -> Result<RecordHead<'_>, RecordError> {
    let view = RecordView::parse(record)?;
    if view.total_size() != record.len() {
        let total_size = i32::try_from(view.total_size()).unwrap_or(i32::MAX);
        return Err(RecordError::BadSize {
            total_size,
            actual: record.len(),
        });
    }
    Ok(RecordHead {
        topic: view.topic(),
        queue_id: view.queue_id(),
        dispatched: view.transaction_type().is_consumable(),
    })
}

/// Writes the fields the store assigns into an encoded record.
pub fn stamp(
    record: &mut [u8],
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
) -> Result<(), RecordError> {
    Ok(codec::patch_stored_fields(
        record,
        queue_offset,
        physical_offset,
        store_timestamp,
    )?)
}

/// What the index rebuilder takes from a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchFacts<'a> {
    pub topic: &'a str,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub store_timestamp: i64,
    pub dispatched: bool,
    pub tags: Option<&'a str>,
    /// `KEYS` (space separated), raw.
    pub keys: Option<&'a str>,
    pub unique_key: Option<&'a str>,
    /// `DELAY` (delay level), raw.
    pub delay_level: Option<&'a str>,
    /// `TIMER_OUT_MS` (a timed message's due time), raw.
    pub timer_out_ms: Option<&'a str>,
}

/// Reads the dispatch facts of a record.
pub fn dispatch_facts(record: &[u8]) -> Result<DispatchFacts<'_>, RecordError> {
    let view = RecordView::parse(record)?;
    let mut facts = DispatchFacts {
        topic: view.topic(),
        queue_id: view.queue_id(),
        queue_offset: view.queue_offset(),
        physical_offset: view.physical_offset(),
        store_timestamp: view.store_timestamp(),
        dispatched: view.transaction_type().is_consumable(),
        tags: None,
        keys: None,
        unique_key: None,
        delay_level: None,
        timer_out_ms: None,
    };
    // One pass over the properties for the five names (the rebuilder runs
    // this for every record); the first non-empty value of a name wins, as
    // `property` finds it.
    for (key, value) in property_entries(view.properties_raw().as_bytes()) {
        let slot = match key {
            k if k == keys::TAGS.as_bytes() => &mut facts.tags,
            k if k == keys::KEYS.as_bytes() => &mut facts.keys,
            k if k == keys::UNIQ_KEY.as_bytes() => &mut facts.unique_key,
            k if k == keys::DELAY.as_bytes() => &mut facts.delay_level,
            k if k == keys::TIMER_OUT_MS.as_bytes() => &mut facts.timer_out_ms,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
    Ok(facts)
}

/// The `(name, value)` entries of a 0x01/0x02 property string with a
/// non-empty UTF-8 value, in order, without allocating.
fn property_entries(properties: &[u8]) -> impl Iterator<Item = (&[u8], &str)> {
    properties
        .split(|b| *b == PROPERTY_SEPARATOR)
        .filter_map(|entry| {
            let split = entry.iter().position(|b| *b == PROPERTY_NAME_SEPARATOR)?;
            let (key, rest) = entry.split_at(split);
            let value = rest.get(1..).filter(|v| !v.is_empty())?;
            Some((key, std::str::from_utf8(value).ok()?))
        })
}

/// Reads the store timestamp from the first [`STORE_TIMESTAMP_PROBE_BYTES`]
/// (or more) bytes of a record.
pub fn store_timestamp(record: &[u8]) -> Result<i64, RecordError> {
    let sys_flag = be_u32(record, codec::POS_SYS_FLAG).ok_or(RecordError::Truncated)? as i32;
    let at = codec::store_timestamp_pos(sys_flag);
    let bytes = record.get(at..at + 8).ok_or(RecordError::Truncated)?;
    Ok(i64::from_be_bytes(
        bytes.try_into().map_err(|_| RecordError::Truncated)?,
    ))
}

/// Finds `name` in a 0x01/0x02 property string (spec §4.3) without
/// allocating; the index rebuilder calls this for every record.
#[cfg(test)]
fn property<'a>(properties: &'a [u8], name: &str) -> Option<&'a str> {
    property_entries(properties).find_map(|(key, value)| (key == name.as_bytes()).then_some(value))
}

/// Java `String.hashCode` sign-extended to i64: the tags code of a unit.
pub fn tag_code(tag: &str) -> i64 {
    ringmq_net::hash::tag_code(tag)
}

/// Encodes a record (IPv4 loopback hosts, zero timestamps) for
/// `topic`/`queue_id` with `body` and a raw `properties` string, through the
/// shared codec. Used by tests, benchmarks and tools; the broker builds its
/// own `MessageRecord`.
pub fn encode_simple(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> Vec<u8> {
    let host = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 10911));
    let record = MessageRecord {
        queue_id,
        flag: 0,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: 0,
        born_timestamp: 0,
        born_host: host,
        store_timestamp: 0,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: bytes::Bytes::copy_from_slice(body),
        topic: topic.to_owned(),
        properties: properties.to_owned(),
    };
    let mut out = Vec::with_capacity(record.encoded_len());
    if record.encode(&mut out).is_err() {
        out.clear();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn props(pairs: &[(String, String)]) -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}\u{1}{v}"))
            .collect::<Vec<_>>()
            .join("\u{2}")
    }

    proptest! {
        /// The one-pass scan of `dispatch_facts` finds what a lookup per
        /// name finds: the first non-empty value, duplicates and empty
        /// values included.
        #[test]
        fn one_pass_facts_match_lookups_by_name(
            pairs in proptest::collection::vec(
                (prop_oneof![
                    Just(keys::TAGS.to_owned()), Just(keys::KEYS.to_owned()),
                    Just(keys::UNIQ_KEY.to_owned()), Just(keys::DELAY.to_owned()),
                    Just(keys::TIMER_OUT_MS.to_owned()), "[A-Z]{1,4}",
                ], "[a-z0-9 ]{0,3}"),
                0..12,
            )
        ) {
            let raw = props(&pairs);
            let record = encode_simple("T", 1, b"body", &raw);
            let facts = dispatch_facts(&record).unwrap();
            let bytes = raw.as_bytes();
            prop_assert_eq!(facts.tags, property(bytes, keys::TAGS));
            prop_assert_eq!(facts.keys, property(bytes, keys::KEYS));
            prop_assert_eq!(facts.unique_key, property(bytes, keys::UNIQ_KEY));
            prop_assert_eq!(facts.delay_level, property(bytes, keys::DELAY));
            prop_assert_eq!(facts.timer_out_ms, property(bytes, keys::TIMER_OUT_MS));
        }
    }

    #[test]
    fn an_empty_first_value_falls_through_to_the_next() {
        let raw = "TAGS\u{1}\u{2}TAGS\u{1}b\u{2}KEYS\u{1}k1 k2";
        let record = encode_simple("T", 0, b"", raw);
        let facts = dispatch_facts(&record).unwrap();
        assert_eq!(facts.tags, Some("b"));
        assert_eq!(facts.keys, Some("k1 k2"));
        assert_eq!(facts.unique_key, None);
    }
}
