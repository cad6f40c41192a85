//! Pull bodies: byte ranges of commit-log segment files, read with `pread`
//! into owned buffers and handed to the socket write.
//!
//! Why not memory maps: a segment file that shrinks under a mapping (an
//! operator's `truncate`, a damaged file system) or a disk that fails to
//! read turns the next access to a mapped page into SIGBUS, which kills
//! the whole broker. `pread` reports the same conditions as an error (a
//! short read, `EIO`) that fails one pull instead: the pull is answered
//! PULL_RETRY_IMMEDIATELY with a remark, and every other request goes on.
//! The price is one copy from the page cache into a buffer per pulled
//! byte (see BENCHMARKS.md).
//!
//! A [`SegmentMaps`] cache lives on each shard: one open descriptor per
//! segment file, bounded by [`OPEN_SEGMENTS_MAX`] (the name is kept from
//! the mappings it used to hold). A file that retention deletes stays
//! readable through a descriptor opened before, as Linux keeps an unlinked
//! file until its last descriptor closes; [`SegmentMaps::clear`] drops them.
//!
//! Only bytes below the store's published watermark are ever asked for;
//! those are never written again (docs/architecture.md).

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// Bumped whenever retention deletes segments anywhere in the process:
/// every shard's cache then closes its descriptors, so the space of the
/// deleted files is given back (an open descriptor keeps an unlinked file).
static SEGMENTS_DELETED: AtomicU64 = AtomicU64::new(0);

/// Records that segment files were deleted (see [`SEGMENTS_DELETED`]).
pub fn segments_deleted() {
    SEGMENTS_DELETED.fetch_add(1, Ordering::AcqRel);
}

/// Segment descriptors kept open per shard; the least recently opened is
/// closed first.
pub const OPEN_SEGMENTS_MAX: usize = 64;

/// A byte range of a segment file, read into memory.
#[derive(Clone)]
pub struct FileChunk {
    bytes: Bytes,
}

impl FileChunk {
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }
}

/// A piece of an outgoing frame: owned bytes or a segment file range.
pub enum WireChunk {
    Bytes(Bytes),
    File(FileChunk),
}

impl compio::buf::IoBuf for WireChunk {
    fn as_init(&self) -> &[u8] {
        match self {
            WireChunk::Bytes(bytes) => bytes,
            WireChunk::File(chunk) => chunk.as_slice(),
        }
    }
}

/// Per-shard cache of open segment files, keyed by path.
pub struct SegmentMaps {
    files: HashMap<PathBuf, Arc<File>>,
    order: VecDeque<PathBuf>,
    /// [`SEGMENTS_DELETED`] when the cache was last cleared.
    deletions_seen: u64,
}

impl Default for SegmentMaps {
    fn default() -> Self {
        SegmentMaps {
            files: HashMap::new(),
            order: VecDeque::new(),
            deletions_seen: SEGMENTS_DELETED.load(Ordering::Acquire),
        }
    }
}

impl SegmentMaps {
    /// The `len` bytes at `position` of the segment file at `path`. A range
    /// the file does not hold (it was truncated) or a failing read is an
    /// error, never a signal.
    pub fn chunk(&mut self, path: &Path, position: u64, len: usize) -> io::Result<FileChunk> {
        let file = self.file(path)?;
        let mut bytes = vec![0u8; len];
        match file.read_exact_at(&mut bytes, position) {
            Ok(()) => Ok(FileChunk {
                bytes: Bytes::from(bytes),
            }),
            Err(err) => {
                // A descriptor of a damaged file is not kept.
                self.forget(path);
                if err.kind() == io::ErrorKind::UnexpectedEof {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{} ends before {len} bytes at {position}: the segment was truncated",
                            path.display()
                        ),
                    ));
                }
                Err(err)
            }
        }
    }

    fn file(&mut self, path: &Path) -> io::Result<Arc<File>> {
        let deletions = SEGMENTS_DELETED.load(Ordering::Acquire);
        if deletions != self.deletions_seen {
            self.clear();
            self.deletions_seen = deletions;
        }
        if let Some(file) = self.files.get(path) {
            return Ok(file.clone());
        }
        let file = Arc::new(File::open(path)?);
        self.files.insert(path.to_owned(), file.clone());
        self.order.push_back(path.to_owned());
        while self.order.len() > OPEN_SEGMENTS_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.files.remove(&oldest);
            }
        }
        Ok(file)
    }

    fn forget(&mut self, path: &Path) {
        self.files.remove(path);
        self.order.retain(|p| p != path);
    }

    /// Closes every descriptor (e.g. after segments were deleted).
    pub fn clear(&mut self) {
        self.files.clear();
        self.order.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn chunk_reads_the_file_bytes_and_refuses_ranges_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"0123456789").unwrap();
        drop(file);
        let mut maps = SegmentMaps::default();
        assert_eq!(maps.chunk(&path, 2, 3).unwrap().as_slice(), b"234");
        assert!(maps.chunk(&path, 8, 3).is_err());
    }

    #[test]
    fn a_file_truncated_after_it_was_opened_is_an_error_not_a_signal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        std::fs::write(&path, vec![7u8; 1 << 16]).unwrap();
        let mut maps = SegmentMaps::default();
        assert_eq!(maps.chunk(&path, 4096, 8).unwrap().as_slice(), [7u8; 8]);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(100)
            .unwrap();
        let err = maps.chunk(&path, 4096, 8).err().unwrap();
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(maps.chunk(&path, 10, 4).unwrap().as_slice(), [7u8; 4]);
    }

    #[test]
    fn cache_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut maps = SegmentMaps::default();
        for i in 0..(OPEN_SEGMENTS_MAX + 3) {
            let path = dir.path().join(format!("{i}"));
            std::fs::write(&path, b"x").unwrap();
            maps.chunk(&path, 0, 1).unwrap();
        }
        assert_eq!(maps.files.len(), OPEN_SEGMENTS_MAX);
        assert_eq!(maps.order.len(), OPEN_SEGMENTS_MAX);
    }
}
