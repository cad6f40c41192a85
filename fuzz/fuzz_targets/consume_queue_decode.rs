//! Fuzzes the consume-queue formats of `ringmq_storage::consume_queue`:
//! the 20-byte unit decoder on every 20-byte window of the input, and the
//! file-level reader — start-up recovery ([`recover`]) over a queue
//! directory whose files are made from the input, then reads of every unit
//! the recovered queue claims and retention's `drop_below_log`.
//!
//! Oracles: nothing panics; a decoded unit encodes back to its 20 bytes;
//! a recovered queue has `min_offset <= max_offset`, and recovering the
//! files it left a second time finds the same queue (recovery is
//! idempotent).
//!
//! Input layout (all big-endian):
//!
//! ```text
//! 0       1 units per file - 1 (mod 8), so files are 1..=8 units
//! 1       1 bit 0: the previous run crashed; bits 1..3: files - 1
//! 2       8 trusted_end (local log offset)
//! 10      8 log_min (local log offset)
//! 18      8 retention's log_min after recovery
//! then per file: 1 name byte (0: the next file in sequence; n: file number n - 1),
//!                1 length byte (bytes of the file, at most a full file plus one unit),
//!                that many content bytes (fewer if the input ends)
//! ```
//!
//! Files live in a directory under `std::env::temp_dir()` named after the
//! process id (`TMPDIR=/dev/shm` keeps them in memory), wiped per input.
#![no_main]

#[path = "../oracles/consume_queue_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
