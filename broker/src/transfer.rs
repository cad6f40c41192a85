//! Zero-copy pull bodies: commit-log segment files are mapped read-only and
//! slices of the mapping are handed to the socket write as they are, so the
//! message bytes go from the page cache to the socket without being copied
//! into a user-space buffer first.
//!
//! A [`SegmentMaps`] cache lives on each shard (one mapping per segment file,
//! bounded by [`MAPPED_SEGMENTS_MAX`]); a [`FileChunk`] keeps its mapping
//! alive until the write that uses it has completed, so a segment deleted by
//! retention meanwhile stays readable until then.
//!
//! Safety: only bytes below the store's published watermark are ever
//! referenced; those are never written again (docs/architecture.md), and segment files
//! are preallocated at full size, so a mapped range never shrinks under us.
//! The `unsafe` code of this crate is confined to this module.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

/// Segment mappings kept per shard; the least recently added is dropped first.
pub const MAPPED_SEGMENTS_MAX: usize = 64;

/// One read-only mapping of a whole segment file.
pub struct SegmentMap {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and never unmapped before drop; sharing a
// pointer to immutable bytes between threads is sound.
unsafe impl Send for SegmentMap {}
// SAFETY: as above, `&SegmentMap` only gives out shared reads.
unsafe impl Sync for SegmentMap {}

impl SegmentMap {
    /// Maps the first `len` bytes of `file` read-only.
    pub fn map(file: &File, len: usize) -> io::Result<SegmentMap> {
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty segment"));
        }
        // SAFETY: a fresh shared read-only mapping of a valid descriptor; the
        // kernel picks the address. The result is checked for MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SegmentMap { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills the page tables for `start..start+len` in one call
    /// (`MADV_POPULATE_READ`), instead of one page fault per 4 KiB page
    /// while the socket send copies from the mapping. Best effort: older
    /// kernels refuse it and the faults then happen as usual.
    pub fn populate(&self, start: usize, len: usize) {
        const PAGE: usize = 4096;
        const MADV_POPULATE_READ: libc::c_int = 22;
        let first = start - start % PAGE;
        let Some(end) = start.checked_add(len).map(|e| e.min(self.len)) else {
            return;
        };
        if end <= first {
            return;
        }
        // SAFETY: the range lies inside our live mapping (first < end <=
        // len, first page-aligned); madvise only changes kernel state.
        unsafe {
            libc::madvise(
                self.ptr.cast::<u8>().add(first).cast(),
                end - first,
                MADV_POPULATE_READ,
            );
        }
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is a live read-only mapping owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for SegmentMap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `map`, once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// A byte range of a mapped segment, written to a socket as is.
#[derive(Clone)]
pub struct FileChunk {
    map: Arc<SegmentMap>,
    start: usize,
    len: usize,
}

impl FileChunk {
    /// `None` if the range is outside the mapping.
    pub fn new(map: Arc<SegmentMap>, start: usize, len: usize) -> Option<FileChunk> {
        let end = start.checked_add(len)?;
        if end > map.len() {
            return None;
        }
        map.populate(start, len);
        Some(FileChunk { map, start, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        self.map
            .bytes()
            .get(self.start..self.start + self.len)
            .unwrap_or_default()
    }
}

/// A piece of an outgoing frame: owned bytes or a mapped file range.
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

/// Per-shard cache of segment mappings, keyed by file path.
#[derive(Default)]
pub struct SegmentMaps {
    maps: HashMap<PathBuf, Arc<SegmentMap>>,
    order: std::collections::VecDeque<PathBuf>,
}

impl SegmentMaps {
    /// A chunk of `len` bytes at `position` of the segment file at `path`.
    /// Maps (or re-maps, if the file grew) the file as needed.
    pub fn chunk(&mut self, path: &Path, position: u64, len: usize) -> io::Result<FileChunk> {
        let start = usize::try_from(position)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "position out of range"))?;
        if let Some(map) = self.maps.get(path)
            && let Some(chunk) = FileChunk::new(map.clone(), start, len)
        {
            return Ok(chunk);
        }
        let file = File::open(path)?;
        let file_len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "segment too large"))?;
        let map = Arc::new(SegmentMap::map(&file, file_len)?);
        self.insert(path.to_owned(), map.clone());
        FileChunk::new(map, start, len).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} has {file_len} bytes; wanted {len} at {start}",
                    path.display()
                ),
            )
        })
    }

    fn insert(&mut self, path: PathBuf, map: Arc<SegmentMap>) {
        if self.maps.insert(path.clone(), map).is_none() {
            self.order.push_back(path);
        }
        while self.order.len() > MAPPED_SEGMENTS_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.maps.remove(&oldest);
            }
        }
    }

    /// Forgets every mapping (e.g. after segments were deleted).
    pub fn clear(&mut self) {
        self.maps.clear();
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
    fn cache_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut maps = SegmentMaps::default();
        for i in 0..(MAPPED_SEGMENTS_MAX + 3) {
            let path = dir.path().join(format!("{i}"));
            std::fs::write(&path, b"x").unwrap();
            maps.chunk(&path, 0, 1).unwrap();
        }
        assert_eq!(maps.maps.len(), MAPPED_SEGMENTS_MAX);
    }
}
