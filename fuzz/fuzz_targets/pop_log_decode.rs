//! Fuzzes the broker's POP checkpoint log (`broker/src/pop/log.rs`): any
//! bytes replay to the records of their valid prefix, never a panic; every
//! record decoded re-encodes to bytes of the same length that decode to the
//! same record, and the valid prefix replays to the same records.
//!
//! A random CRC almost never matches, so the input is also tried as one
//! record body (`kind` onwards) framed with its length and correct CRC.
#![no_main]

#[path = "../oracles/pop_log_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
