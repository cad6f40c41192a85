//! Fuzzes the key-index formats of `ringmq_storage::key_index`: the
//! 64-byte header and 28-byte entry decoders, and the file-level reader —
//! start-up recovery ([`KeyIndex::recover`]: header checks, repair of torn
//! or truncated files, slot-chain relinking) over a directory of files
//! made from the input, then a query (which walks the slot chains of every
//! file) and an append.
//!
//! Oracles: nothing panics and nothing grows without bound (libFuzzer's
//! RSS limit and timeout catch a header whose geometry is believed); a
//! decoded header or entry encodes back to its bytes; a key appended after
//! recovery is found by the next query, first.
//!
//! Input layout (all big-endian):
//!
//! ```text
//! 0       1 configured slots - 1 (mod 8)
//! 1       1 configured entries per file - 1 (mod 8)
//! 2       1 bit 0: recompute each file's header CRC (to get past the checksum);
//!           bits 1..3: files - 1
//! 3       8 trusted_end (local log offset)
//! 11      1 key length, then the key (UTF-8, lossy) queried and appended
//! then per file: 1 name byte (the file's first local offset / 64),
//!                2 length bytes (at most FILE_BYTES_MAX), that many content bytes
//! ```
#![no_main]

#[path = "../oracles/key_index_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
