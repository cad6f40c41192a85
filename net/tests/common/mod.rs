//! Where the net crate's golden tests find the captured wire frames: the
//! repository's `fixtures/wire/` (described in `fixtures/README.md`). A
//! missing fixture fails the test that asked for it; nothing is skipped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The one folder holding the captured frames, inside this repository.
pub const WIRE_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/wire");

/// The fixture folder as a path.
pub fn wire_dir() -> &'static Path {
    Path::new(WIRE_FIXTURES)
}

/// The bytes of one captured frame; panics (fails the test) naming the
/// path when it cannot be read.
pub fn wire_fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = wire_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("wire fixture {}: {e}", path.display()))
}
