//! Fuzzes the store's view of commit-log records (`ringmq_storage::log_record`),
//! which recovery runs over every byte of the log's tail and the index
//! rebuilder over every record: `scan` (at position 0 and at the position
//! the record claims, with and without the body CRC check), `head`,
//! `dispatch_facts`, `store_timestamp`, `written_record` and `stamp`.
//!
//! Oracles: nothing panics; a record `scan` accepts is a prefix of the
//! input that `head` and `dispatch_facts` accept with the same topic and
//! queue, whose `store_timestamp` agrees with the facts; a record stamped
//! with a queue offset, physical offset and store timestamp reads them back.
#![no_main]

#[path = "../oracles/commitlog_record_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
