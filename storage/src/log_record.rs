//! What the store needs to know about a commit-log record (spec §4.1): the
//! few fields it stamps on append (queue offset, physical offset, store
//! timestamp), the fields the index rebuilder reads (topic, queue, tags,
//! keys), and the validation recovery applies (size, magic, body CRC,
//! physical offset). The full codec lives in `ringmq_net::record`; this
//! module is the store's narrow, panic-free view of the same bytes.
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

use thiserror::Error;

/// Magic of a 4.x (V1) message record.
pub const MESSAGE_MAGIC: u32 = 0xDAA3_20A7;
/// Magic of the end-of-file filler written when a record does not fit.
pub const BLANK_MAGIC: u32 = 0xCBD4_3194;
/// Length of the blank end-of-file marker.
pub const BLANK_MARKER_BYTES: usize = 8;
/// Smallest well-formed record (IPv4 hosts, empty body, topic, properties).
pub const RECORD_BYTES_MIN: usize = 91;

const QUEUE_ID_AT: usize = 12;
const QUEUE_OFFSET_AT: usize = 20;
const PHYSICAL_OFFSET_AT: usize = 28;
const SYSFLAG_AT: usize = 36;
const BORN_HOST_AT: usize = 48;
const BORNHOST_V6_FLAG: i32 = 0x10;
const STOREHOST_V6_FLAG: i32 = 0x20;
const TRANSACTION_TYPE_MASK: i32 = 0xC;
const TRANSACTION_PREPARED: i32 = 0x4;
const TRANSACTION_ROLLBACK: i32 = 0xC;
const PROPERTY_NAME_SEPARATOR: u8 = 0x01;
const PROPERTY_SEPARATOR: u8 = 0x02;

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("record truncated: needs {needed} bytes, have {have}")]
    Truncated { needed: usize, have: usize },
    #[error("bad magic {0:#010x}")]
    BadMagic(u32),
    #[error("bad total size {0}")]
    BadSize(i32),
    #[error("body CRC mismatch: stored {stored:#x}, computed {computed:#x}")]
    BadCrc { stored: u32, computed: u32 },
    #[error("record claims physical offset {stored}, found at {actual}")]
    WrongPosition { stored: i64, actual: i64 },
    #[error("record field lengths disagree with its total size")]
    Inconsistent,
    #[error("record topic, properties or store timestamp hold impossible bytes (torn write)")]
    ImpossibleField,
}

/// Result of looking at the bytes at a position of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// A valid record of `len` bytes.
    Record { len: usize },
    /// The blank end-of-file marker: the rest of the segment is unused.
    EndOfSegment,
    /// Zero bytes or too few bytes: the end of the written log.
    End,
    /// Bytes that are not a record (torn or corrupt).
    Corrupt(RecordError),
}

fn read_i32(buf: &[u8], at: usize) -> Result<i32, RecordError> {
    let bytes = buf.get(at..at + 4).ok_or(RecordError::Truncated {
        needed: at + 4,
        have: buf.len(),
    })?;
    let mut arr = [0u8; 4];
    arr.copy_from_slice(bytes);
    Ok(i32::from_be_bytes(arr))
}

fn read_i64(buf: &[u8], at: usize) -> Result<i64, RecordError> {
    let bytes = buf.get(at..at + 8).ok_or(RecordError::Truncated {
        needed: at + 8,
        have: buf.len(),
    })?;
    let mut arr = [0u8; 8];
    arr.copy_from_slice(bytes);
    Ok(i64::from_be_bytes(arr))
}

fn write_i64(buf: &mut [u8], at: usize, value: i64) -> Result<(), RecordError> {
    let have = buf.len();
    let slot = buf.get_mut(at..at + 8).ok_or(RecordError::Truncated {
        needed: at + 8,
        have,
    })?;
    slot.copy_from_slice(&value.to_be_bytes());
    Ok(())
}

/// Byte positions of the variable-offset fields of one record.
#[derive(Debug, Clone, Copy)]
struct Layout {
    store_timestamp_at: usize,
    body_at: usize,
    body_len: usize,
    topic_at: usize,
    topic_len: usize,
    properties_at: usize,
    properties_len: usize,
}

fn layout(buf: &[u8]) -> Result<Layout, RecordError> {
    let total = usize::try_from(read_i32(buf, 0)?).map_err(|_| RecordError::Inconsistent)?;
    let sysflag = read_i32(buf, SYSFLAG_AT)?;
    let born_host_len = if sysflag & BORNHOST_V6_FLAG != 0 {
        20
    } else {
        8
    };
    let store_host_len = if sysflag & STOREHOST_V6_FLAG != 0 {
        20
    } else {
        8
    };
    let store_timestamp_at = BORN_HOST_AT + born_host_len;
    let body_len_at = store_timestamp_at + 8 + store_host_len + 4 + 8;
    let body_len =
        usize::try_from(read_i32(buf, body_len_at)?).map_err(|_| RecordError::Inconsistent)?;
    let body_at = body_len_at + 4;
    let topic_len_at = body_at
        .checked_add(body_len)
        .ok_or(RecordError::Inconsistent)?;
    let topic_len = usize::from(*buf.get(topic_len_at).ok_or(RecordError::Inconsistent)?);
    if topic_len > 127 {
        return Err(RecordError::Inconsistent);
    }
    let topic_at = topic_len_at + 1;
    let props_len_at = topic_at + topic_len;
    let props_len_bytes = buf
        .get(props_len_at..props_len_at + 2)
        .ok_or(RecordError::Inconsistent)?;
    let properties_len = usize::try_from(i16::from_be_bytes([
        *props_len_bytes.first().ok_or(RecordError::Inconsistent)?,
        *props_len_bytes.get(1).ok_or(RecordError::Inconsistent)?,
    ]))
    .map_err(|_| RecordError::Inconsistent)?;
    let properties_at = props_len_at + 2;
    if properties_at + properties_len != total || total > buf.len() {
        return Err(RecordError::Inconsistent);
    }
    Ok(Layout {
        store_timestamp_at,
        body_at,
        body_len,
        topic_at,
        topic_len,
        properties_at,
        properties_len,
    })
}

/// Whether a topic name is acceptable: 1..=127 bytes of `[A-Za-z0-9%|_.-]`,
/// not `.` or `..` (it becomes a directory name).
pub fn valid_topic_bytes(topic: &[u8]) -> bool {
    !topic.is_empty()
        && topic.len() <= 127
        && topic != b"."
        && topic != b".."
        && topic
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"%|-_.".contains(b))
}

/// Body CRC as RocketMQ stores it: IEEE CRC32 masked to 31 bits.
pub fn body_crc(body: &[u8]) -> u32 {
    crc32fast::hash(body) & 0x7FFF_FFFF
}

/// Looks at the bytes starting at a record boundary whose physical offset is
/// `position` and says what is there. `verify_crc` also checks the body CRC.
pub fn scan(buf: &[u8], position: i64, verify_crc: bool) -> Scan {
    if buf.len() < BLANK_MARKER_BYTES {
        return Scan::End;
    }
    let (Ok(total), Ok(magic)) = (read_i32(buf, 0), read_i32(buf, 4)) else {
        return Scan::End;
    };
    let magic = magic as u32;
    if total == 0 && magic == 0 {
        return Scan::End;
    }
    if magic == BLANK_MAGIC {
        return Scan::EndOfSegment;
    }
    if magic != MESSAGE_MAGIC {
        return Scan::Corrupt(RecordError::BadMagic(magic));
    }
    let Ok(len) = usize::try_from(total) else {
        return Scan::Corrupt(RecordError::BadSize(total));
    };
    if len < RECORD_BYTES_MIN {
        return Scan::Corrupt(RecordError::BadSize(total));
    }
    let Some(record) = buf.get(..len) else {
        return Scan::Corrupt(RecordError::Truncated {
            needed: len,
            have: buf.len(),
        });
    };
    match verify(record, position, verify_crc) {
        Ok(()) => Scan::Record { len },
        Err(err) => Scan::Corrupt(err),
    }
}

fn verify(record: &[u8], position: i64, verify_crc: bool) -> Result<(), RecordError> {
    let layout = layout(record)?;
    let stored_position = read_i64(record, PHYSICAL_OFFSET_AT)?;
    if stored_position != position {
        return Err(RecordError::WrongPosition {
            stored: stored_position,
            actual: position,
        });
    }
    // A torn write leaves zeros; the body CRC does not cover these fields,
    // so reject the zeros they can never legitimately hold.
    let topic = record
        .get(layout.topic_at..layout.topic_at + layout.topic_len)
        .unwrap_or_default();
    let properties = record
        .get(layout.properties_at..layout.properties_at + layout.properties_len)
        .unwrap_or_default();
    let stamped = read_i64(record, layout.store_timestamp_at)? > 0;
    if !stamped || !valid_topic_bytes(topic) || properties.contains(&0) {
        return Err(RecordError::ImpossibleField);
    }
    if verify_crc {
        let stored = read_i32(record, 8)? as u32;
        let body = record
            .get(layout.body_at..layout.body_at + layout.body_len)
            .ok_or(RecordError::Inconsistent)?;
        let computed = body_crc(body);
        if stored != computed {
            return Err(RecordError::BadCrc { stored, computed });
        }
    }
    Ok(())
}

/// The blank end-of-file marker for a segment with `remaining` unused bytes.
pub fn blank_marker(remaining: u64) -> [u8; BLANK_MARKER_BYTES] {
    let remaining = i32::try_from(remaining).unwrap_or(i32::MAX);
    let mut marker = [0u8; BLANK_MARKER_BYTES];
    let (size, magic) = marker.split_at_mut(4);
    size.copy_from_slice(&remaining.to_be_bytes());
    magic.copy_from_slice(&BLANK_MAGIC.to_be_bytes());
    marker
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
    let total = read_i32(record, 0)?;
    if usize::try_from(total).ok() != Some(record.len()) {
        return Err(RecordError::BadSize(total));
    }
    let magic = read_i32(record, 4)? as u32;
    if magic != MESSAGE_MAGIC {
        return Err(RecordError::BadMagic(magic));
    }
    let layout = layout(record)?;
    let topic = record
        .get(layout.topic_at..layout.topic_at + layout.topic_len)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .ok_or(RecordError::Inconsistent)?;
    let sysflag = read_i32(record, SYSFLAG_AT)?;
    let tx = sysflag & TRANSACTION_TYPE_MASK;
    Ok(RecordHead {
        topic,
        queue_id: read_i32(record, QUEUE_ID_AT)?,
        dispatched: tx != TRANSACTION_PREPARED && tx != TRANSACTION_ROLLBACK,
    })
}

/// Writes the fields the store assigns into an encoded record.
pub fn stamp(
    record: &mut [u8],
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
) -> Result<(), RecordError> {
    let layout = layout(record)?;
    write_i64(record, QUEUE_OFFSET_AT, queue_offset)?;
    write_i64(record, PHYSICAL_OFFSET_AT, physical_offset)?;
    write_i64(record, layout.store_timestamp_at, store_timestamp)
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
}

/// Reads the dispatch facts of a record already known to be valid.
pub fn dispatch_facts(record: &[u8]) -> Result<DispatchFacts<'_>, RecordError> {
    let head = head(record)?;
    let layout = layout(record)?;
    let properties = record
        .get(layout.properties_at..layout.properties_at + layout.properties_len)
        .ok_or(RecordError::Inconsistent)?;
    Ok(DispatchFacts {
        topic: head.topic,
        queue_id: head.queue_id,
        queue_offset: read_i64(record, QUEUE_OFFSET_AT)?,
        physical_offset: read_i64(record, PHYSICAL_OFFSET_AT)?,
        store_timestamp: read_i64(record, layout.store_timestamp_at)?,
        dispatched: head.dispatched,
        tags: property(properties, "TAGS"),
        keys: property(properties, "KEYS"),
        unique_key: property(properties, "UNIQ_KEY"),
    })
}

/// Reads the store timestamp of a record.
pub fn store_timestamp(record: &[u8]) -> Result<i64, RecordError> {
    let sysflag = read_i32(record, SYSFLAG_AT)?;
    let born_host_len = if sysflag & BORNHOST_V6_FLAG != 0 {
        20
    } else {
        8
    };
    read_i64(record, BORN_HOST_AT + born_host_len)
}

/// Finds `name` in a 0x01/0x02 property string (spec §4.3).
fn property<'a>(properties: &'a [u8], name: &str) -> Option<&'a str> {
    properties
        .split(|b| *b == PROPERTY_SEPARATOR)
        .find_map(|entry| {
            let split = entry.iter().position(|b| *b == PROPERTY_NAME_SEPARATOR)?;
            let (key, rest) = entry.split_at(split);
            let value = rest.get(1..)?;
            if key == name.as_bytes() && !value.is_empty() {
                std::str::from_utf8(value).ok()
            } else {
                None
            }
        })
}

/// Java `String.hashCode` (UTF-16 code units, wrapping) sign-extended to
/// i64: the tags code of a consume-queue unit.
pub fn tag_code(tag: &str) -> i64 {
    let mut hash: i32 = 0;
    for unit in tag.encode_utf16() {
        hash = hash.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    i64::from(hash)
}

/// Encodes a minimal 4.x record (IPv4 hosts, zero timestamps and hosts) for
/// `topic`/`queue_id` with `body` and a raw `properties` string. Used by
/// tests, benchmarks and tools; the broker encodes with `ringmq_net::record`.
pub fn encode_simple(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> Vec<u8> {
    let topic = topic
        .as_bytes()
        .get(..topic.len().min(127))
        .unwrap_or_default();
    let properties = properties
        .as_bytes()
        .get(..properties.len().min(i16::MAX as usize))
        .unwrap_or_default();
    let total = RECORD_BYTES_MIN + body.len() + topic.len() + properties.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&i32::try_from(total).unwrap_or(i32::MAX).to_be_bytes());
    out.extend_from_slice(&MESSAGE_MAGIC.to_be_bytes());
    out.extend_from_slice(&body_crc(body).to_be_bytes());
    out.extend_from_slice(&queue_id.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // flag
    out.extend_from_slice(&0i64.to_be_bytes()); // queue offset
    out.extend_from_slice(&0i64.to_be_bytes()); // physical offset
    out.extend_from_slice(&0i32.to_be_bytes()); // sysflag
    out.extend_from_slice(&0i64.to_be_bytes()); // born timestamp
    out.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0]); // born host
    out.extend_from_slice(&0i64.to_be_bytes()); // store timestamp
    out.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0x27, 0x11]); // store host
    out.extend_from_slice(&0i32.to_be_bytes()); // reconsume times
    out.extend_from_slice(&0i64.to_be_bytes()); // prepared tx offset
    out.extend_from_slice(&i32::try_from(body.len()).unwrap_or(i32::MAX).to_be_bytes());
    out.extend_from_slice(body);
    out.push(u8::try_from(topic.len()).unwrap_or(127));
    out.extend_from_slice(topic);
    out.extend_from_slice(
        &i16::try_from(properties.len())
            .unwrap_or(i16::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(properties);
    out
}
