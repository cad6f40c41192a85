//! The SEND_BATCH_MESSAGE body (spec §4.6): the messages of one batch,
//! back to back, each with its own flag, body and properties. Topic, queue,
//! timestamps and hosts are the batch's (from the request header).
//!
//! # Entry layout, all integers big-endian
//!
//! ```text
//! offset  size  field
//!      0     4  TOTALSIZE         i32 = 22 + N + P
//!      4     4  MAGICCODE         0 from the Java client; ignored
//!      8     4  BODYCRC           0 from the Java client; ignored (the broker computes it)
//!     12     4  FLAG              i32, the message's user flag
//!     16     4  BODYLENGTH        i32 = N
//!     20     N  BODY              never compressed in batches
//!   20+N     2  PROPERTIESLENGTH  i16 = P
//!   22+N     P  PROPERTIES        0x01/0x02 string (UNIQ_KEY, TAGS, KEYS, ...)
//! ```
//!
//! The broker turns each entry into a full record and appends the batch's
//! header properties to each entry's properties ([`append_batch_properties`]).

use bytes::Bytes;

use crate::properties::{self, NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR};
// A batch body is one request body: RocketMQ checks it against
// `maxMessageSize` as a whole, so its limit is the body limit.
use crate::record::{BODY_MAX_BYTES, ByteReader, PROPERTIES_MAX_BYTES};

/// Size of an entry with an empty body and no properties. A batch therefore
/// holds at most `BODY_MAX_BYTES / BATCH_ENTRY_MIN_BYTES` entries.
pub const BATCH_ENTRY_MIN_BYTES: usize = 22;

/// Why a batch body could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The body ends inside an entry's field.
    #[error("batch entry {index} truncated inside {field}")]
    Truncated {
        /// Entry number, from 0.
        index: usize,
        /// The field being read.
        field: &'static str,
    },
    /// TOTALSIZE is negative, too small, or does not match the fields.
    #[error("batch entry {index}: bad total size {total_size}")]
    BadTotalSize {
        /// Entry number, from 0.
        index: usize,
        /// TOTALSIZE.
        total_size: i32,
    },
    /// BODYLENGTH is negative.
    #[error("batch entry {index}: bad body length {len}")]
    BadBodyLength {
        /// Entry number, from 0.
        index: usize,
        /// BODYLENGTH.
        len: i32,
    },
    /// PROPERTIESLENGTH is negative.
    #[error("batch entry {index}: bad properties length {len}")]
    BadPropertiesLength {
        /// Entry number, from 0.
        index: usize,
        /// PROPERTIESLENGTH.
        len: i16,
    },
    /// PROPERTIES is not UTF-8.
    #[error("batch entry {index}: properties are not UTF-8")]
    InvalidUtf8 {
        /// Entry number, from 0.
        index: usize,
    },
    /// An entry's properties are longer than a signed short allows.
    #[error("batch entry {index}: properties of {len} bytes exceed {PROPERTIES_MAX_BYTES}")]
    PropertiesTooLong {
        /// Entry number, from 0.
        index: usize,
        /// Length in bytes.
        len: usize,
    },
    /// The whole batch body is larger than [`BODY_MAX_BYTES`].
    #[error("batch body of {len} bytes exceeds {BODY_MAX_BYTES}")]
    TooLarge {
        /// Length in bytes.
        len: usize,
    },
}

/// One message of a batch, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// The message's user flag.
    pub flag: i32,
    /// The message body.
    pub body: Bytes,
    /// The message's raw property string.
    pub properties: String,
}

/// One message of a batch, borrowed from the batch body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntryView<'a> {
    /// The message's user flag.
    pub flag: i32,
    /// The message body.
    pub body: &'a [u8],
    /// The message's raw property string.
    pub properties: &'a str,
}

impl BatchEntryView<'_> {
    /// An owned copy.
    pub fn to_entry(&self) -> BatchEntry {
        BatchEntry {
            flag: self.flag,
            body: Bytes::copy_from_slice(self.body),
            properties: self.properties.to_owned(),
        }
    }
}

impl BatchEntry {
    /// Length of this entry in a batch body.
    pub fn encoded_len(&self) -> usize {
        BATCH_ENTRY_MIN_BYTES + self.body.len() + self.properties.len()
    }
}

/// Length of the batch body holding `entries`.
pub fn encoded_batch_len(entries: &[BatchEntry]) -> usize {
    entries.iter().map(BatchEntry::encoded_len).sum()
}

/// Appends the batch body of `entries` to `out` (MAGICCODE and BODYCRC
/// written as 0, as the Java client does). On error nothing is appended.
pub fn encode_batch(entries: &[BatchEntry], out: &mut Vec<u8>) -> Result<(), BatchError> {
    let len = encoded_batch_len(entries);
    if len > BODY_MAX_BYTES {
        return Err(BatchError::TooLarge { len });
    }
    for (index, entry) in entries.iter().enumerate() {
        if entry.properties.len() > PROPERTIES_MAX_BYTES {
            let len = entry.properties.len();
            return Err(BatchError::PropertiesTooLong { index, len });
        }
    }
    out.reserve(len);
    for entry in entries {
        // Every length is bounded by BODY_MAX_BYTES or PROPERTIES_MAX_BYTES.
        out.extend_from_slice(&(entry.encoded_len() as i32).to_be_bytes());
        out.extend_from_slice(&[0u8; 8]);
        out.extend_from_slice(&entry.flag.to_be_bytes());
        out.extend_from_slice(&(entry.body.len() as i32).to_be_bytes());
        out.extend_from_slice(&entry.body);
        out.extend_from_slice(&(entry.properties.len() as i16).to_be_bytes());
        out.extend_from_slice(entry.properties.as_bytes());
    }
    Ok(())
}

/// Decodes a whole batch body into owned entries.
pub fn decode_batch(buf: &[u8]) -> Result<Vec<BatchEntry>, BatchError> {
    batch_entries(buf)
        .map(|entry| entry.map(|view| view.to_entry()))
        .collect()
}

/// The entries of a batch body, borrowed. Yields one error and stops if an
/// entry is malformed; a body over [`BODY_MAX_BYTES`] is an error.
pub fn batch_entries(buf: &[u8]) -> BatchEntries<'_> {
    BatchEntries {
        reader: ByteReader::new(buf),
        len: buf.len(),
        index: 0,
        done: false,
    }
}

/// Iterator returned by [`batch_entries`].
#[derive(Debug, Clone)]
pub struct BatchEntries<'a> {
    reader: ByteReader<'a>,
    len: usize,
    index: usize,
    done: bool,
}

impl<'a> Iterator for BatchEntries<'a> {
    type Item = Result<BatchEntryView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.reader.position() >= self.len {
            return None;
        }
        let item = if self.len > BODY_MAX_BYTES {
            Err(BatchError::TooLarge { len: self.len })
        } else {
            read_entry(&mut self.reader, self.index)
        };
        self.index += 1;
        self.done = item.is_err();
        Some(item)
    }
}

impl std::iter::FusedIterator for BatchEntries<'_> {}

fn read_entry<'a>(r: &mut ByteReader<'a>, index: usize) -> Result<BatchEntryView<'a>, BatchError> {
    let truncated = |field| BatchError::Truncated { index, field };
    let total_size = r.i32().ok_or(truncated("TOTALSIZE"))?;
    let bad_size = BatchError::BadTotalSize { index, total_size };
    let size = usize::try_from(total_size).map_err(|_| bad_size.clone())?;
    if size < BATCH_ENTRY_MIN_BYTES {
        return Err(bad_size);
    }
    r.take(8).ok_or(truncated("MAGICCODE/BODYCRC"))?;
    let flag = r.i32().ok_or(truncated("FLAG"))?;
    let body_len = r.i32().ok_or(truncated("BODYLENGTH"))?;
    let body_len_usize = usize::try_from(body_len).map_err(|_| BatchError::BadBodyLength {
        index,
        len: body_len,
    })?;
    let body = r.take(body_len_usize).ok_or(truncated("BODY"))?;
    let props_len = r.i16().ok_or(truncated("PROPERTIESLENGTH"))?;
    let props_len_usize =
        usize::try_from(props_len).map_err(|_| BatchError::BadPropertiesLength {
            index,
            len: props_len,
        })?;
    let props = r.take(props_len_usize).ok_or(truncated("PROPERTIES"))?;
    if BATCH_ENTRY_MIN_BYTES + body_len_usize + props_len_usize != size {
        return Err(bad_size);
    }
    let properties = std::str::from_utf8(props).map_err(|_| BatchError::InvalidUtf8 { index })?;
    Ok(BatchEntryView {
        flag,
        body,
        properties,
    })
}

/// The properties a batch entry is stored with: the entry's own raw
/// properties followed by the batch's header properties (RocketMQ 4.9
/// `MessageExtBatchEncoder`), with one 0x02 between them when needed.
///
/// Unlike Java, which appends the batch string byte for byte, a batch
/// property whose key the entry already has is not appended: readers let the
/// last duplicate win, so appending would replace per-message values (a
/// client that also sets `UNIQ_KEY` on the batch would otherwise give every
/// message the same id). Malformed batch segments are dropped. The result may
/// exceed [`PROPERTIES_MAX_BYTES`]; record encoding rejects that.
pub fn append_batch_properties(entry: &str, batch: &str) -> String {
    let mut out = String::with_capacity(entry.len() + batch.len() + 1);
    out.push_str(entry);
    for (key, value) in properties::entries(batch) {
        if properties::find(entry, key).is_some() {
            continue;
        }
        if !out.is_empty() && !out.ends_with(PROPERTY_SEPARATOR) {
            out.push(PROPERTY_SEPARATOR);
        }
        out.push_str(key);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(flag: i32, body: &'static [u8], properties: &str) -> BatchEntry {
        BatchEntry {
            flag,
            body: Bytes::from_static(body),
            properties: properties.to_owned(),
        }
    }

    #[test]
    fn entry_layout_matches_the_java_client() {
        let mut out = Vec::new();
        encode_batch(&[entry(3, b"ab", "K\u{1}v")], &mut out).unwrap();
        let expected: Vec<u8> = [
            &27i32.to_be_bytes()[..],
            &[0; 8],
            &3i32.to_be_bytes(),
            &2i32.to_be_bytes(),
            b"ab",
            &3i16.to_be_bytes(),
            b"K\x01v",
        ]
        .concat();
        assert_eq!(out, expected);
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert_eq!(
            decode_batch(&[0, 0, 0]),
            Err(BatchError::Truncated {
                index: 0,
                field: "TOTALSIZE"
            })
        );
        assert_eq!(
            decode_batch(&(-1i32).to_be_bytes()),
            Err(BatchError::BadTotalSize {
                index: 0,
                total_size: -1
            })
        );
        let mut good = Vec::new();
        encode_batch(&[entry(0, b"xyz", "a\u{1}b")], &mut good).unwrap();
        let mut wrong_size = good.clone();
        wrong_size[3] += 1;
        wrong_size.push(0);
        assert!(matches!(
            decode_batch(&wrong_size),
            Err(BatchError::BadTotalSize { .. })
        ));
        let mut negative_body = good.clone();
        negative_body[16..20].copy_from_slice(&(-3i32).to_be_bytes());
        assert_eq!(
            decode_batch(&negative_body),
            Err(BatchError::BadBodyLength { index: 0, len: -3 })
        );
        let mut bad_utf8 = good;
        let last = bad_utf8.len() - 1;
        bad_utf8[last] = 0xFF;
        assert_eq!(
            decode_batch(&bad_utf8),
            Err(BatchError::InvalidUtf8 { index: 0 })
        );
    }

    #[test]
    fn oversized_batches_are_refused_both_ways() {
        let big = BatchEntry {
            flag: 0,
            body: Bytes::from(vec![0u8; BODY_MAX_BYTES]),
            properties: String::new(),
        };
        let mut out = Vec::new();
        assert!(matches!(
            encode_batch(&[big], &mut out),
            Err(BatchError::TooLarge { .. })
        ));
        assert!(out.is_empty());
        let huge = vec![0u8; BODY_MAX_BYTES + 1];
        assert!(matches!(
            decode_batch(&huge),
            Err(BatchError::TooLarge { .. })
        ));
    }

    #[test]
    fn batch_properties_are_appended_without_overriding_the_entry() {
        let batch = "UNIQ_KEY\u{1}BATCH\u{2}WAIT\u{1}true\u{2}";
        assert_eq!(
            append_batch_properties("UNIQ_KEY\u{1}ONE\u{2}TAGS\u{1}t", batch),
            "UNIQ_KEY\u{1}ONE\u{2}TAGS\u{1}t\u{2}WAIT\u{1}true"
        );
        assert_eq!(
            append_batch_properties("", batch),
            "UNIQ_KEY\u{1}BATCH\u{2}WAIT\u{1}true"
        );
        assert_eq!(
            append_batch_properties("A\u{1}b\u{2}", "C\u{1}d"),
            "A\u{1}b\u{2}C\u{1}d"
        );
        assert_eq!(append_batch_properties("A\u{1}b", ""), "A\u{1}b");
    }

    fn arb_entry() -> impl Strategy<Value = BatchEntry> {
        (
            any::<i32>(),
            proptest::collection::vec(any::<u8>(), 0..512),
            "[a-z\u{1}\u{2}é]{0,64}",
        )
            .prop_map(|(flag, body, properties)| BatchEntry {
                flag,
                body: Bytes::from(body),
                properties,
            })
    }

    proptest! {
        #[test]
        fn encoded_batches_decode_to_the_same_entries(entries in proptest::collection::vec(arb_entry(), 0..20)) {
            let mut out = Vec::new();
            encode_batch(&entries, &mut out).unwrap();
            prop_assert_eq!(out.len(), encoded_batch_len(&entries));
            prop_assert_eq!(decode_batch(&out).unwrap(), entries);
        }

        #[test]
        fn arbitrary_bytes_never_panic_batch_decode(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_batch(&bytes);
        }

        #[test]
        fn appended_properties_hold_every_key_once(
            entry_pairs in proptest::collection::vec(("[A-D]", "[a-z]{1,4}"), 0..4),
            batch_pairs in proptest::collection::vec(("[A-F]", "[a-z]{1,4}"), 0..4),
        ) {
            let entry: properties::Properties = entry_pairs.into_iter().collect();
            let batch: properties::Properties = batch_pairs.into_iter().collect();
            let merged = append_batch_properties(&entry.encode(), &batch.encode());
            let parsed: Vec<_> = properties::entries(&merged).collect();
            let merged_props = properties::Properties::parse(&merged);
            prop_assert_eq!(parsed.len(), merged_props.len(), "no duplicate keys");
            for (k, v) in entry.iter() {
                prop_assert_eq!(merged_props.get(k), Some(v));
            }
            for (k, v) in batch.iter() {
                prop_assert_eq!(merged_props.get(k), Some(entry.get(k).unwrap_or(v)));
            }
        }
    }
}
