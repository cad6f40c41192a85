//! Crash-safe writes of the broker's small JSON files (`config/*.json`):
//! write a temporary file, fsync it, rename it over the old one, fsync the
//! directory. A kill -9 at any point leaves either the old or the new file,
//! never a torn one.
//!
//! Runs on the control thread (blocking I/O), never on a shard's event loop.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no directory"))?;
    fs::create_dir_all(dir)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    {
        let mut file = File::create(tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Reads `path`, or `None` when it does not exist.
pub fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config").join("x.json");
        write_atomically(&path, b"first, longer content").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(read_if_exists(&path).unwrap().unwrap(), b"second");
        assert!(!dir.path().join("config").join("x.json.tmp").exists());
        assert!(read_if_exists(&dir.path().join("none")).unwrap().is_none());
    }
}
