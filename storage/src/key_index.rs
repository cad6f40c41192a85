//! Key index: message `KEYS` (each space-separated key) and `UNIQ_KEY` to
//! the local log offsets of the records carrying them, for QUERY_MESSAGE.
//! An on-disk hash table modelled on RocketMQ's IndexFile
//! (`store/src/main/java/org/apache/rocketmq/store/index/IndexFile.java`:
//! a header, a slot table, and entries chained newest-first per slot, one
//! file per N entries); memory holds only each file's header.
//!
//! Files: `keyindex/<20-digit local offset of the first record indexed>`,
//! each `HEADER + 4 * slots + 28 * entries` bytes, created sparse and
//! written through a memory map. All integers big-endian:
//!
//! ```text
//! header (64 bytes)
//! 0      4      8        12        16         24       32          40        48      52    56        64
//! +------+------+--------+---------+----------+--------+-----------+---------+-------+-----+---------+
//! | RMQK | ver=1| slots  | capacity | begin ts | end ts | begin off | end off | count | crc | 0 (pad) |
//! +------+------+--------+---------+----------+--------+-----------+---------+-------+-----+---------+
//!   ts: store timestamps (i64 ms) of the first / last record indexed
//!   off: local log offsets (u64) of the first / last record indexed
//!   count: entries used (u32); crc: crc32 of bytes 0..52
//!
//! slot table: `slots` × u32 at 64 + 4 * (hash % slots)
//!   = number (1-based) of the newest entry of that slot, 0 = empty
//!
//! entry n (1-based) at 64 + 4 * slots + 28 * (n - 1)
//! 0          8              16                24       28
//! +----------+--------------+-----------------+--------+
//! | key hash | local offset | store timestamp | prev   |
//! +----------+--------------+-----------------+--------+
//!   key hash: FNV-1a 64 of "<topic>#<key>" (ringmq_net::hash)
//!   prev: number of the previous entry of the same slot (< n), 0 = none
//! ```
//!
//! RocketMQ uses 5,000,000 slots and 20,000,000 entries of 20 bytes (a
//! 32-bit hash and a seconds time delta) per file, ~420 MB preallocated.
//! ringmq defaults to [`KEY_INDEX_SLOTS_DEFAULT`] and
//! [`KEY_INDEX_ENTRIES_DEFAULT`] (~58 MB sparse: only written pages take
//! disk) and stores the 64-bit hash and the full timestamp.
//!
//! Correctness of answers: hashes collide, and after a crash an entry may
//! point at bytes recovery truncated and rewrote, so the read side
//! (`MessageStore::query_keys`) reads every candidate record and keeps it
//! only if it carries the key. Recovery also repairs the files: entries for
//! records at or after the trusted offset (re-dispatched from the log) are
//! cut, the slot chains of the file relinked, and files that begin there
//! deleted ([`KeyIndex::recover`]). Retention deletes whole files whose
//! last record is below the log minimum.

use std::io;
use std::path::{Path, PathBuf};

use ringmq_net::codec::{ByteReader, ByteWriter, Decode, Encode, encode_into};
use ringmq_net::hash::fnv1a64_parts;

use crate::fileio::Io;
use crate::mmap::MappedFile;

/// Most keys indexed per record (KEYS split on spaces, plus UNIQ_KEY).
pub const KEYS_PER_RECORD_MAX: usize = 64;
/// Default slot-table size of a key-index file.
pub const KEY_INDEX_SLOTS_DEFAULT: u32 = 500_000;
/// Default entries per key-index file.
pub const KEY_INDEX_ENTRIES_DEFAULT: u32 = 2_000_000;
/// Magic of a key-index file header ("RMQK").
pub const KEY_INDEX_MAGIC: u32 = 0x524D_514B;
pub const KEY_INDEX_VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER_BYTES: usize = 64;
/// Bytes of one slot.
pub const SLOT_BYTES: usize = 4;
/// Bytes of one entry.
pub const ENTRY_BYTES: usize = 28;
const HEADER_CRC_AT: usize = 52;

/// FNV-1a 64 of `topic#key`.
pub fn key_hash(topic: &str, key: &str) -> u64 {
    fnv1a64_parts(&[topic.as_bytes(), b"#", key.as_bytes()])
}

/// A key-index file header (layout in the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub slots: u32,
    pub capacity: u32,
    pub begin_timestamp: i64,
    pub end_timestamp: i64,
    pub begin_offset: u64,
    pub end_offset: u64,
    pub count: u32,
}

/// Why bytes are not a header or an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyIndexError {
    #[error("key-index bytes truncated")]
    Truncated,
    #[error("key-index header magic/version mismatch")]
    Magic,
    #[error("key-index header CRC mismatch")]
    Crc,
    #[error("key-index header counts are inconsistent")]
    Counts,
    #[error("empty key-index entry")]
    Empty,
}

impl Header {
    fn write_body(&self, w: &mut ByteWriter<'_>) {
        w.u32(KEY_INDEX_MAGIC)
            .u32(KEY_INDEX_VERSION)
            .u32(self.slots)
            .u32(self.capacity)
            .i64(self.begin_timestamp)
            .i64(self.end_timestamp)
            .u64(self.begin_offset)
            .u64(self.end_offset)
            .u32(self.count);
    }

    /// Bytes of a file with this geometry.
    pub fn file_bytes(slots: u32, capacity: u32) -> usize {
        HEADER_BYTES + SLOT_BYTES * slots as usize + ENTRY_BYTES * capacity as usize
    }

    fn slot_at(&self, hash: u64) -> usize {
        let slot = hash % u64::from(self.slots.max(1));
        HEADER_BYTES + SLOT_BYTES * usize::try_from(slot).unwrap_or(0)
    }

    fn entry_at(&self, number: u32) -> usize {
        HEADER_BYTES
            + SLOT_BYTES * self.slots as usize
            + ENTRY_BYTES * (number.saturating_sub(1) as usize)
    }
}

impl Encode for Header {
    const ENCODED_BYTES: usize = HEADER_BYTES;
    fn write(&self, w: &mut ByteWriter<'_>) {
        let mut body = [0u8; HEADER_CRC_AT];
        self.write_body(&mut ByteWriter::new(&mut body));
        w.bytes(&body)
            .u32(crc32fast::hash(&body))
            .bytes(&[0u8; HEADER_BYTES - HEADER_CRC_AT - 4]);
    }
}

impl Decode for Header {
    type Error = KeyIndexError;
    fn decode(bytes: &[u8]) -> Result<Header, KeyIndexError> {
        let body = bytes.get(..HEADER_CRC_AT).ok_or(KeyIndexError::Truncated)?;
        let mut r = ByteReader::new(bytes);
        let read = |r: &mut ByteReader<'_>| -> Option<(u32, u32, Header, u32)> {
            let magic = r.u32()?;
            let version = r.u32()?;
            let header = Header {
                slots: r.u32()?,
                capacity: r.u32()?,
                begin_timestamp: r.i64()?,
                end_timestamp: r.i64()?,
                begin_offset: r.u64()?,
                end_offset: r.u64()?,
                count: r.u32()?,
            };
            Some((magic, version, header, r.u32()?))
        };
        let (magic, version, header, crc) = read(&mut r).ok_or(KeyIndexError::Truncated)?;
        if magic != KEY_INDEX_MAGIC || version != KEY_INDEX_VERSION {
            return Err(KeyIndexError::Magic);
        }
        if crc != crc32fast::hash(body) {
            return Err(KeyIndexError::Crc);
        }
        if header.slots == 0 || header.count > header.capacity {
            return Err(KeyIndexError::Counts);
        }
        Ok(header)
    }
}

/// One entry (layout in the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub hash: u64,
    pub local_offset: u64,
    pub store_timestamp: i64,
    pub prev: u32,
}

impl Encode for Entry {
    const ENCODED_BYTES: usize = ENTRY_BYTES;
    fn write(&self, w: &mut ByteWriter<'_>) {
        w.u64(self.hash)
            .u64(self.local_offset)
            .i64(self.store_timestamp)
            .u32(self.prev);
    }
}

impl Decode for Entry {
    type Error = KeyIndexError;
    /// An entry; [`KeyIndexError::Empty`] for never-written bytes (a stored
    /// record's timestamp is always positive).
    fn decode(bytes: &[u8]) -> Result<Entry, KeyIndexError> {
        let mut r = ByteReader::new(bytes);
        let (Some(hash), Some(local_offset), Some(store_timestamp), Some(prev)) =
            (r.u64(), r.u64(), r.i64(), r.u32())
        else {
            return Err(KeyIndexError::Truncated);
        };
        if store_timestamp <= 0 {
            return Err(KeyIndexError::Empty);
        }
        Ok(Entry {
            hash,
            local_offset,
            store_timestamp,
            prev,
        })
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    ByteReader::new(bytes.get(at..).unwrap_or_default())
        .u32()
        .unwrap_or(0)
}

fn write_u32(bytes: &mut [u8], at: usize, v: u32) -> io::Result<()> {
    let slot = bytes
        .get_mut(at..at + 4)
        .ok_or_else(|| io::Error::other("slot beyond its file"))?;
    slot.copy_from_slice(&v.to_be_bytes());
    Ok(())
}

fn entry_of(bytes: &[u8], header: &Header, number: u32) -> Option<Entry> {
    if number == 0 || number > header.count {
        return None;
    }
    Entry::decode(bytes.get(header.entry_at(number)..)?).ok()
}

/// A key-index file known to the store: its name and its header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyFile {
    name: u64,
    header: Header,
}

/// The newest file, mapped for appends.
#[derive(Debug)]
struct Active {
    name: u64,
    header: Header,
    map: MappedFile,
}

impl Active {
    fn append(&mut self, hash: u64, local_offset: u64, store_timestamp: i64) -> io::Result<()> {
        let header = &mut self.header;
        let number = header.count + 1;
        let slot_at = header.slot_at(hash);
        let bytes = self.map.bytes_mut();
        let prev = read_u32(bytes, slot_at);
        let entry = Entry {
            hash,
            local_offset,
            store_timestamp,
            prev: if prev < number { prev } else { 0 },
        };
        let entry_at = header.entry_at(number);
        let slot = bytes
            .get_mut(entry_at..)
            .ok_or_else(|| io::Error::other("entry beyond its file"))?;
        encode_into(&entry, slot).map_err(io::Error::other)?;
        write_u32(bytes, slot_at, number)?;
        if header.count == 0 {
            header.begin_timestamp = store_timestamp;
            header.begin_offset = local_offset;
        }
        header.count = number;
        header.begin_timestamp = header.begin_timestamp.min(store_timestamp);
        header.end_timestamp = header.end_timestamp.max(store_timestamp);
        header.end_offset = header.end_offset.max(local_offset);
        encode_into(&*header, bytes).map_err(io::Error::other)
    }
}

/// The key index of one store.
#[derive(Debug)]
pub struct KeyIndex {
    root: PathBuf,
    slots: u32,
    capacity: u32,
    /// Full (older) files, ascending by name.
    files: Vec<KeyFile>,
    active: Option<Active>,
    dirty: Vec<PathBuf>,
    /// A file was created or removed since the last
    /// [`KeyIndex::take_new_dirs`] (the directory is due a sync).
    entries_changed: bool,
    /// Set by [`KeyIndex::recover`] when the newest file was damaged: the
    /// local log offset from which its records must be re-dispatched.
    pub damage: Option<u64>,
    io: Io,
}

/// A key-index query.
#[derive(Debug, Clone, Copy)]
pub struct KeyQuery<'a> {
    pub topic: &'a str,
    pub key: &'a str,
    pub begin_ts: i64,
    pub end_ts: i64,
    /// Entries below this local offset (deleted by retention) are skipped.
    pub log_min: u64,
    /// Most candidates returned.
    pub max: usize,
}

impl KeyIndex {
    pub fn new(io: &Io, root: &Path, slots: u32, capacity: u32) -> Self {
        Self {
            io: io.clone(),
            root: root.to_path_buf(),
            slots: slots.max(1),
            capacity: capacity.max(1),
            files: Vec::new(),
            active: None,
            dirty: Vec::new(),
            entries_changed: false,
            damage: None,
        }
    }

    fn path(&self, name: u64) -> PathBuf {
        file_path(&self.root, name)
    }

    fn file_bytes(&self) -> usize {
        Header::file_bytes(self.slots, self.capacity)
    }

    /// Indexes one key of the record at `local_offset`.
    pub fn add(
        &mut self,
        topic: &str,
        key: &str,
        local_offset: u64,
        store_timestamp: i64,
    ) -> io::Result<()> {
        if key.is_empty() {
            return Ok(());
        }
        let full = self
            .active
            .as_ref()
            .is_none_or(|a| a.header.count >= a.header.capacity);
        if full {
            self.rotate(local_offset)?;
        }
        let active = self
            .active
            .as_mut()
            .ok_or_else(|| io::Error::other("no active key-index file"))?;
        active.append(key_hash(topic, key), local_offset, store_timestamp)
    }

    fn rotate(&mut self, local_offset: u64) -> io::Result<()> {
        if let Some(old) = self.active.take() {
            self.dirty.push(self.path(old.name));
            self.files.push(KeyFile {
                name: old.name,
                header: old.header,
            });
        }
        let path = self.path(local_offset);
        let mut map = MappedFile::open(&self.io, &path, self.file_bytes(), true)?;
        let header = Header {
            slots: self.slots,
            capacity: self.capacity,
            ..Header::default()
        };
        encode_into(&header, map.bytes_mut()).map_err(io::Error::other)?;
        self.entries_changed = true;
        self.active = Some(Active {
            name: local_offset,
            header,
            map,
        });
        Ok(())
    }

    /// Paths of the files written since the last call (to be fdatasync'd).
    pub fn take_dirty(&mut self) -> Vec<PathBuf> {
        let mut dirty = std::mem::take(&mut self.dirty);
        if let Some(active) = &self.active
            && active.header.count > 0
        {
            dirty.push(self.path(active.name));
        }
        dirty
    }

    /// The directory, if a file was created in it or removed from it since
    /// the last call (to be fsync'd before a checkpoint covers the change).
    pub fn take_new_dirs(&mut self) -> Vec<PathBuf> {
        if std::mem::take(&mut self.entries_changed) {
            vec![self.root.clone()]
        } else {
            Vec::new()
        }
    }

    /// Local offsets of records that may carry the key, newest first, at
    /// most `query.max`, without duplicates. Callers verify each record.
    pub fn query(&self, query: &KeyQuery<'_>) -> Vec<u64> {
        let hash = key_hash(query.topic, query.key);
        let mut found = Vec::new();
        if let Some(active) = &self.active {
            walk(active.map.bytes(), &active.header, hash, query, &mut found);
        }
        for file in self.files.iter().rev() {
            if found.len() >= query.max {
                break;
            }
            let header = &file.header;
            if header.end_timestamp < query.begin_ts
                || header.begin_timestamp > query.end_ts
                || header.end_offset < query.log_min
            {
                continue;
            }
            let len = Header::file_bytes(header.slots, header.capacity);
            match MappedFile::open(&self.io, &self.path(file.name), len, false) {
                Ok(map) => walk(map.bytes(), header, hash, query, &mut found),
                Err(err) => tracing::warn!(%err, name = file.name, "key-index file unreadable"),
            }
        }
        found
    }

    /// Forgets full files whose last record is below `log_min` (retention);
    /// returns their paths to delete. The active file is never dropped.
    pub fn drop_below_log(&mut self, log_min: u64) -> Vec<PathBuf> {
        let (doomed, kept): (Vec<KeyFile>, Vec<KeyFile>) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|f| f.header.end_offset < log_min);
        self.files = kept;
        let doomed: Vec<PathBuf> = doomed.iter().map(|f| self.path(f.name)).collect();
        self.dirty.retain(|p| !doomed.contains(p));
        self.entries_changed |= !doomed.is_empty();
        doomed
    }

    /// Records that the directory's entries changed elsewhere (a recovery
    /// pass whose result was replaced), for the next
    /// [`KeyIndex::take_new_dirs`].
    pub fn note_changed_dirs(&mut self, dirs: &[PathBuf]) {
        self.entries_changed |= !dirs.is_empty();
    }

    /// Number of key-index files (full ones plus the active one).
    pub fn file_count(&self) -> usize {
        self.files.len() + usize::from(self.active.is_some())
    }

    /// Opens the key index under `root` after a clean or crashed run
    /// (blocking; recovery). Files beginning at or after `trusted_end` are
    /// deleted; a file holding entries at or after it, or with a torn
    /// header, is cut to its entries below it and its slots relinked.
    pub fn recover(
        io: &Io,
        root: &Path,
        slots: u32,
        capacity: u32,
        trusted_end: u64,
    ) -> io::Result<Self> {
        let mut index = KeyIndex::new(io, root, slots, capacity);
        let names = crate::segment::list(root)?;
        let last_name = names.iter().copied().filter(|n| *n < trusted_end).max();
        for name in names {
            let path = index.path(name);
            if name >= trusted_end {
                io.remove_file(&path)?;
                index.entries_changed = true;
                continue;
            }
            let actual = std::fs::metadata(&path)?.len();
            // A geometry other than the configured one is believed only if
            // the file has exactly its length: repair would otherwise grow
            // the file to whatever a damaged header claims (up to ~137 GB).
            let found = read_header(&path)?.filter(|h| {
                (h.slots, h.capacity) == (index.slots, index.capacity)
                    || Header::file_bytes(h.slots, h.capacity) as u64 == actual
            });
            let (slots, capacity) =
                found.map_or((index.slots, index.capacity), |h| (h.slots, h.capacity));
            let len = Header::file_bytes(slots, capacity);
            let truncated = actual < len as u64;
            let header = match found {
                Some(h) if h.end_offset < trusted_end && !truncated => h,
                _ => {
                    // Torn or truncated, or entries the log no longer vouches for.
                    let mut map = MappedFile::open(io, &path, len, false)?;
                    let header = repair(&mut map, slots, capacity, trusted_end)?;
                    drop(map);
                    io.sync_data(&path, &std::fs::File::open(&path)?)?;
                    header
                }
            };
            if found.is_none() || truncated {
                let point = if header.count > 0 {
                    header.end_offset
                } else {
                    name
                };
                if Some(name) == last_name {
                    // The newest entries were lost: re-dispatch them.
                    index.damage = Some(point);
                }
                tracing::warn!(name, point, "damaged key-index file repaired");
            }
            index.files.push(KeyFile { name, header });
        }
        index.reopen_active()?;
        Ok(index)
    }

    /// Maps the newest file for appends if it has room.
    fn reopen_active(&mut self) -> io::Result<()> {
        let room = self
            .files
            .last()
            .is_some_and(|f| f.header.count < f.header.capacity);
        if !room {
            return Ok(());
        }
        if let Some(file) = self.files.pop() {
            let len = Header::file_bytes(file.header.slots, file.header.capacity);
            let map = MappedFile::open(&self.io, &self.path(file.name), len, false)?;
            self.active = Some(Active {
                name: file.name,
                header: file.header,
                map,
            });
        }
        Ok(())
    }
}

/// The header of the file at `path`, `None` if torn or not a key-index
/// header.
fn read_header(path: &Path) -> io::Result<Option<Header>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let mut bytes = [0u8; HEADER_BYTES];
    let mut filled = 0;
    while filled < HEADER_BYTES {
        match file.read_at(bytes.get_mut(filled..).unwrap_or_default(), filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(Header::decode(&bytes).ok())
}

/// Walks the chain of `hash` in one file, newest first.
fn walk(bytes: &[u8], header: &Header, hash: u64, query: &KeyQuery<'_>, found: &mut Vec<u64>) {
    let mut number = read_u32(bytes, header.slot_at(hash));
    while let Some(entry) = entry_of(bytes, header, number) {
        if found.len() >= query.max {
            return;
        }
        let in_range = (query.begin_ts..=query.end_ts).contains(&entry.store_timestamp);
        if entry.hash == hash
            && in_range
            && entry.local_offset >= query.log_min
            && !found.contains(&entry.local_offset)
        {
            found.push(entry.local_offset);
        }
        if entry.prev >= number {
            return; // Chains strictly descend; anything else is damage.
        }
        number = entry.prev;
    }
}

/// Rebuilds a file in place: keeps the leading entries that are whole, in
/// log order and below `trusted_end`, zeroes the rest and the slot table,
/// relinks the chains and rewrites the header.
fn repair(map: &mut MappedFile, slots: u32, capacity: u32, trusted_end: u64) -> io::Result<Header> {
    let mut header = Header {
        slots,
        capacity,
        ..Header::default()
    };
    let bytes = map.bytes_mut();
    let mut last_offset = 0u64;
    let mut count = 0u32;
    while count < capacity {
        let at = header.entry_at(count + 1);
        let Some(entry) = bytes.get(at..).and_then(|b| Entry::decode(b).ok()) else {
            break;
        };
        if entry.local_offset >= trusted_end || entry.local_offset < last_offset {
            break;
        }
        last_offset = entry.local_offset;
        count += 1;
    }
    let entries_from = header.entry_at(count + 1);
    if let Some(rest) = bytes.get_mut(entries_from..) {
        rest.fill(0);
    }
    let slot_table = bytes
        .get_mut(HEADER_BYTES..HEADER_BYTES + SLOT_BYTES * slots as usize)
        .ok_or_else(|| io::Error::other("slot table beyond its file"))?;
    slot_table.fill(0);
    for number in 1..=count {
        let at = header.entry_at(number);
        let entry = bytes
            .get(at..)
            .and_then(|b| Entry::decode(b).ok())
            .ok_or_else(|| io::Error::other("entry vanished during repair"))?;
        let slot_at = header.slot_at(entry.hash);
        let relinked = Entry {
            prev: read_u32(bytes, slot_at),
            ..entry
        };
        let slot = bytes
            .get_mut(at..)
            .ok_or_else(|| io::Error::other("entry beyond its file"))?;
        encode_into(&relinked, slot).map_err(io::Error::other)?;
        write_u32(bytes, slot_at, number)?;
        if number == 1 {
            header.begin_timestamp = entry.store_timestamp;
            header.begin_offset = entry.local_offset;
        }
        header.end_timestamp = header.end_timestamp.max(entry.store_timestamp);
        header.end_offset = entry.local_offset;
    }
    header.count = count;
    encode_into(&header, bytes).map_err(io::Error::other)?;
    Ok(header)
}

/// Path of the key-index file named `name`.
pub fn file_path(root: &Path, name: u64) -> PathBuf {
    root.join(crate::segment::file_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn query<'a>(key: &'a str, max: usize) -> KeyQuery<'a> {
        KeyQuery {
            topic: "T",
            key,
            begin_ts: 0,
            end_ts: i64::MAX,
            log_min: 0,
            max,
        }
    }

    proptest! {
        #[test]
        fn header_round_trips(slots in 1u32.., capacity in any::<u32>(), a in any::<i64>(), b in any::<i64>(), c in any::<u64>(), d in any::<u64>(), count in any::<u32>()) {
            let header = Header { slots, capacity, begin_timestamp: a, end_timestamp: b, begin_offset: c, end_offset: d, count: count.min(capacity) };
            let mut bytes = [0u8; HEADER_BYTES];
            encode_into(&header, &mut bytes).unwrap();
            prop_assert_eq!(Header::decode(&bytes), Ok(header));
        }

        #[test]
        fn a_header_with_a_flipped_bit_is_rejected(byte in 0usize..HEADER_CRC_AT + 4, bit in 0u8..8) {
            let header = Header { slots: 7, capacity: 9, begin_timestamp: 1, end_timestamp: 2, begin_offset: 3, end_offset: 4, count: 5 };
            let mut bytes = [0u8; HEADER_BYTES];
            encode_into(&header, &mut bytes).unwrap();
            bytes[byte] ^= 1 << bit;
            prop_assert!(Header::decode(&bytes).is_err());
        }

        #[test]
        fn garbage_never_decodes_into_a_header_by_accident(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert!(Header::decode(&bytes).is_err());
        }

        #[test]
        fn entry_round_trips(hash in any::<u64>(), local in any::<u64>(), ts in 1i64.., prev in any::<u32>()) {
            let entry = Entry { hash, local_offset: local, store_timestamp: ts, prev };
            let mut bytes = [0u8; ENTRY_BYTES];
            encode_into(&entry, &mut bytes).unwrap();
            prop_assert_eq!(Entry::decode(&bytes), Ok(entry));
        }

        #[test]
        fn entry_garbage_decodes_or_is_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            match Entry::decode(&bytes) {
                Ok(entry) => prop_assert!(entry.store_timestamp > 0 && bytes.len() >= ENTRY_BYTES),
                Err(KeyIndexError::Truncated) => prop_assert!(bytes.len() < ENTRY_BYTES),
                Err(_) => {}
            }
        }

        /// Against a model (a list of (key, offset)): every key's offsets come
        /// back newest first, across rotations, reopen and repair.
        #[test]
        fn queries_match_a_model(keys in proptest::collection::vec(0u8..12, 1..150), slots in 1u32..8, capacity in 1u32..20, cut in 0usize..150) {
            let dir = tempfile::tempdir().unwrap();
            let mut index = KeyIndex::new(&Io::default(), dir.path(), slots, capacity);
            let mut model: Vec<(String, u64)> = Vec::new();
            for (i, k) in keys.iter().enumerate() {
                let key = format!("k{k}");
                let local = i as u64 * 10;
                index.add("T", &key, local, 1000 + i as i64).unwrap();
                model.push((key, local));
            }
            let expect = |model: &[(String, u64)], key: &str| -> Vec<u64> {
                model.iter().rev().filter(|(k, _)| k == key).map(|(_, o)| *o).collect()
            };
            for k in 0u8..12 {
                let key = format!("k{k}");
                prop_assert_eq!(index.query(&query(&key, 1000)), expect(&model, &key));
            }
            drop(index);
            // Crash recovery trusting only records below `cut * 10`.
            let trusted_end = cut as u64 * 10;
            let mut again = KeyIndex::recover(&Io::default(), dir.path(), slots, capacity, trusted_end).unwrap();
            model.retain(|(_, o)| *o < trusted_end);
            for k in 0u8..12 {
                let key = format!("k{k}");
                prop_assert_eq!(again.query(&query(&key, 1000)), expect(&model, &key));
            }
            // Appending after the repair continues the same chains.
            again.add("T", "k1", 5000, 9000).unwrap();
            model.push(("k1".into(), 5000));
            prop_assert_eq!(again.query(&query("k1", 1000)), expect(&model, "k1"));
        }
    }

    #[test]
    fn a_torn_header_and_tail_are_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = KeyIndex::new(&Io::default(), dir.path(), 4, 100);
        for i in 0..10u64 {
            index
                .add("T", &format!("k{}", i % 3), i * 10, 100 + i as i64)
                .unwrap();
        }
        drop(index);
        let path = file_path(dir.path(), 0);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40] ^= 0xFF; // torn header
        let header = Header {
            slots: 4,
            capacity: 100,
            ..Header::default()
        };
        let at = header.entry_at(8);
        // Entry 8 torn: its first half written, its second half (timestamp,
        // prev) still zeros.
        bytes[at + 14..at + ENTRY_BYTES].fill(0);
        std::fs::write(&path, &bytes).unwrap();
        let index = KeyIndex::recover(&Io::default(), dir.path(), 4, 100, u64::MAX).unwrap();
        // Entries 1..=7 survive (offsets 0..=60); 8 was torn, 9 and 10 follow it.
        assert_eq!(index.query(&query("k0", 10)), vec![60, 30, 0]);
        assert_eq!(index.query(&query("k1", 10)), vec![40, 10]);
        let header = Header::decode(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(header.count, 7);
    }

    #[test]
    fn a_truncated_file_is_extended_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = KeyIndex::new(&Io::default(), dir.path(), 4, 100);
        for i in 0..10u64 {
            index.add("T", "k", i * 10, 100 + i as i64).unwrap();
        }
        drop(index);
        let path = file_path(dir.path(), 0);
        let header = Header {
            slots: 4,
            capacity: 100,
            ..Header::default()
        };
        let cut = header.entry_at(6) + 3;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let index = KeyIndex::recover(&Io::default(), dir.path(), 4, 100, 1000).unwrap();
        assert_eq!(index.query(&query("k", 100)), vec![40, 30, 20, 10, 0]);
    }

    #[test]
    fn retention_drops_whole_files_below_the_log_minimum() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = KeyIndex::new(&Io::default(), dir.path(), 4, 3);
        for i in 0..10u64 {
            index.add("T", "k", i * 10, 100 + i as i64).unwrap();
        }
        assert_eq!(index.file_count(), 4);
        // Files: [0,10,20] [30,40,50] [60,70,80] [90] (active).
        let doomed = index.drop_below_log(55);
        assert_eq!(
            doomed,
            vec![file_path(dir.path(), 0), file_path(dir.path(), 30)]
        );
        let mut q = query("k", 100);
        q.log_min = 55;
        assert_eq!(index.query(&q), vec![90, 80, 70, 60]);
    }
}
