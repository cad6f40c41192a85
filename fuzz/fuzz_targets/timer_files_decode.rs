//! Fuzzes the broker's timer files (`broker/src/schedule/timer_files.rs`):
//! the 32-byte timer-log entry, the 32-byte wheel slot and the 40-byte
//! timer checkpoint. Any bytes decode or fail with a typed error, never a
//! panic; whatever decodes encodes back to exactly its bytes (the checkpoint:
//! to bytes that decode to the same value).
//!
//! A random CRC almost never matches, so each layout is also tried with the
//! CRC of its body recomputed (the CRC is always the last 4 bytes).
#![no_main]

#[path = "../oracles/timer_files_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
