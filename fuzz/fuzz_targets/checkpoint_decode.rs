//! Fuzzes the store's checkpoint file (`ringmq_storage::checkpoint`, 36
//! bytes): any bytes must decode or fail with a typed error, never panic;
//! a decoded checkpoint must encode back to exactly the bytes it came from.
//!
//! A random CRC almost never matches, so the input is also tried with its
//! CRC (bytes 32..36) recomputed over its first 32 bytes: that reaches the
//! magic/version checks and the field decoding behind the checksum.
#![no_main]

#[path = "../oracles/checkpoint_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
