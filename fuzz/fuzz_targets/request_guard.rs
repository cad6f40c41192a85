//! Fuzzes the checks every request passes before a processor: a decoded
//! frame's names (`validate::request_names`), its ACL resources (including
//! a HEART_BEAT body), the heartbeat validator and the validators of names
//! carried in bodies (LOCK/UNLOCK_BATCH_MQ, subscription-group configs)
//! must judge any input without panicking.
#![no_main]

#[path = "../oracles/request_guard.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
