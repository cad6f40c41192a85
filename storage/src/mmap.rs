//! Shared read-write memory maps of fixed-size index files (consume-queue
//! files, key-index files). Writes land in the page cache (file-backed
//! memory, not anonymous memory); the periodic index flush makes them
//! durable with an fdatasync of the file (which writes back pages dirtied
//! through any mapping of it).
//!
//! The file descriptor is closed right after mapping, so mapped files cost
//! no descriptors; callers bound how many files they keep mapped.
//!
//! Invariant that makes the mapping sound: the store's directory is
//! `flock`ed while the store is open and only the store creates, extends or
//! deletes its index files; a mapped file is never shrunk (recovery
//! zeroes ranges instead, and deletes only files it does not map).

use std::io;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::ptr::NonNull;

use crate::fileio::Io;

/// One file mapped `MAP_SHARED`, read-write, over its whole length.
#[derive(Debug)]
pub struct MappedFile {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned uniquely by this value (no aliasing handle
// exists), so moving it to another thread is sound; `&MappedFile` only
// hands out `&[u8]`.
unsafe impl Send for MappedFile {}

impl MappedFile {
    /// Maps the file at `path`, creating it (and extending a shorter one with
    /// zeros, sparse) to exactly `len` bytes. A longer file is refused.
    pub fn open(io: &Io, path: &Path, len: usize, create: bool) -> io::Result<MappedFile> {
        let file = io.open_sized(path, len, create)?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot map an empty file",
            ));
        }
        // SAFETY: mapping a regular file we opened read-write over exactly
        // its length; the kernel picks the address. The result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(MappedFile { ptr, len })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for the lifetime of `self`
        // (see the module invariant: the file is never shrunk under us).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only live
        // reference into the mapping.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region `open` mapped, once. Dirty
        // pages stay in the page cache and are written back by the kernel
        // or by the next fdatasync of the file.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_through_the_map_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file");
        {
            let mut map = MappedFile::open(&Io::default(), &path, 64, true).unwrap();
            map.bytes_mut()[10] = 7;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 64);
        assert_eq!(bytes[10], 7);
        let map = MappedFile::open(&Io::default(), &path, 64, false).unwrap();
        assert_eq!(map.bytes()[10], 7);
    }

    #[test]
    fn a_longer_file_is_refused_and_a_missing_one_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [0u8; 100]).unwrap();
        assert!(MappedFile::open(&Io::default(), &path, 64, false).is_err());
        assert!(MappedFile::open(&Io::default(), &dir.path().join("missing"), 64, false).is_err());
    }
}
