//! Key index: message `KEYS` (each space-separated key) and `UNIQ_KEY` to
//! the physical offsets of the records carrying them, for QUERY_MESSAGE.
//! Held in memory as a hash map, persisted as one append-only file per
//! commit-log segment (`keyindex/<20-digit segment base>`) so that deleting
//! a segment deletes its index data with it; rebuilt from the commit log
//! after a crash.
//!
//! Entry (24 bytes, big-endian):
//!
//! ```text
//! 0           8                 16                24
//! +-----------+-----------------+-----------------+
//! | key hash  | local log offset| store timestamp |
//! +-----------+-----------------+-----------------+
//! key hash = FNV-1a 64 of "<topic>#<key>" (UTF-8)
//! ```
//!
//! Hash collisions are possible in principle (64 bits); callers that need
//! certainty compare the keys of the returned records, as the RocketMQ
//! client does.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Bytes per persisted key-index entry.
pub const KEY_ENTRY_BYTES: usize = 24;
/// Most keys indexed per record (KEYS split on spaces, plus UNIQ_KEY).
pub const KEYS_PER_RECORD_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEntry {
    pub local_offset: u64,
    pub store_timestamp: i64,
}

/// The persisted state of one segment's key-index file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    /// Bytes already in the file and synced.
    pub durable_len: u64,
    /// Entries appended since, not yet written.
    pub pending: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    pub entries: HashMap<u64, Vec<KeyEntry>>,
    pub files: BTreeMap<u64, KeyFile>,
}

/// FNV-1a 64 of `topic#key`.
pub fn key_hash(topic: &str, key: &str) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    topic
        .as_bytes()
        .iter()
        .chain(b"#")
        .chain(key.as_bytes())
        .fold(OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
        })
}

fn encode_entry(hash: u64, entry: KeyEntry) -> [u8; KEY_ENTRY_BYTES] {
    let mut out = [0u8; KEY_ENTRY_BYTES];
    let (h, rest) = out.split_at_mut(8);
    let (o, t) = rest.split_at_mut(8);
    h.copy_from_slice(&hash.to_be_bytes());
    o.copy_from_slice(&entry.local_offset.to_be_bytes());
    t.copy_from_slice(&entry.store_timestamp.to_be_bytes());
    out
}

fn decode_entry(bytes: &[u8]) -> Option<(u64, KeyEntry)> {
    let hash = u64::from_be_bytes(bytes.get(0..8)?.try_into().ok()?);
    let local_offset = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
    let store_timestamp = i64::from_be_bytes(bytes.get(16..24)?.try_into().ok()?);
    Some((
        hash,
        KeyEntry {
            local_offset,
            store_timestamp,
        },
    ))
}

impl KeyIndex {
    /// Indexes one key of the record at `local_offset` in segment `segment_base`.
    pub fn add(&mut self, topic: &str, key: &str, entry: KeyEntry, segment_base: u64) {
        if key.is_empty() {
            return;
        }
        let hash = key_hash(topic, key);
        self.entries.entry(hash).or_default().push(entry);
        self.files
            .entry(segment_base)
            .or_default()
            .pending
            .extend_from_slice(&encode_entry(hash, entry));
    }

    /// Local offsets of records with `key` stored in `[begin_ts, end_ts]`,
    /// newest first, at most `max`.
    pub fn query(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ts: i64,
        end_ts: i64,
    ) -> Vec<u64> {
        let Some(entries) = self.entries.get(&key_hash(topic, key)) else {
            return Vec::new();
        };
        entries
            .iter()
            .rev()
            .filter(|e| e.store_timestamp >= begin_ts && e.store_timestamp <= end_ts)
            .map(|e| e.local_offset)
            .take(max)
            .collect()
    }

    /// Drops entries for records at or after local offset `end` (recovery).
    pub fn truncate_from_log(&mut self, end: u64, segment_bytes: u64) {
        self.entries.retain(|_, list| {
            list.retain(|e| e.local_offset < end);
            !list.is_empty()
        });
        let end_base = end - end % segment_bytes.max(1);
        self.files.retain(|base, _| *base <= end_base);
        if let Some(file) = self.files.get_mut(&end_base) {
            file.pending.retain_entries(|(_, e)| e.local_offset < end);
        }
    }

    /// Drops entries of records below local offset `log_min` (retention);
    /// returns the segment bases whose files can be deleted.
    pub fn drop_below_log(&mut self, log_min: u64) -> Vec<u64> {
        self.entries.retain(|_, list| {
            list.retain(|e| e.local_offset >= log_min);
            !list.is_empty()
        });
        let rest = self.files.split_off(&log_min);
        let dropped = std::mem::replace(&mut self.files, rest);
        dropped.into_keys().collect()
    }

    /// Loads one segment's file (blocking; recovery), keeping whole entries
    /// of records below `end`. Returns the byte length kept.
    pub fn load_file(&mut self, segment_base: u64, bytes: &[u8], end: u64) -> u64 {
        let mut kept = 0u64;
        for chunk in bytes.chunks_exact(KEY_ENTRY_BYTES) {
            let Some((hash, entry)) = decode_entry(chunk) else {
                break;
            };
            if entry.local_offset >= end || entry.local_offset < segment_base {
                break;
            }
            self.entries.entry(hash).or_default().push(entry);
            kept += KEY_ENTRY_BYTES as u64;
        }
        self.files.insert(
            segment_base,
            KeyFile {
                durable_len: kept,
                pending: Vec::new(),
            },
        );
        kept
    }
}

trait RetainEntries {
    fn retain_entries(&mut self, keep: impl Fn(&(u64, KeyEntry)) -> bool);
}

impl RetainEntries for Vec<u8> {
    fn retain_entries(&mut self, keep: impl Fn(&(u64, KeyEntry)) -> bool) {
        let kept: Vec<u8> = self
            .chunks_exact(KEY_ENTRY_BYTES)
            .filter_map(decode_entry)
            .filter(|entry| keep(entry))
            .flat_map(|(hash, entry)| encode_entry(hash, entry))
            .collect();
        *self = kept;
    }
}

/// Path of the key-index file of the segment starting at `segment_base`.
pub fn file_path(root: &Path, segment_base: u64) -> std::path::PathBuf {
    root.join(crate::segment::file_name(segment_base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn key_entry_round_trips(hash in any::<u64>(), local in any::<u64>(), ts in any::<i64>()) {
            let entry = KeyEntry { local_offset: local, store_timestamp: ts };
            prop_assert_eq!(decode_entry(&encode_entry(hash, entry)), Some((hash, entry)));
        }

        #[test]
        fn loading_a_key_file_keeps_only_whole_entries_below_the_end(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            end in any::<u64>(),
        ) {
            let mut index = KeyIndex::default();
            let kept = index.load_file(0, &bytes, end);
            prop_assert_eq!(kept % KEY_ENTRY_BYTES as u64, 0);
            prop_assert!(kept <= bytes.len() as u64);
        }
    }
}
