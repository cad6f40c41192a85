//! Fuzzes the message-record side of the wire format on arbitrary bytes:
//! record decode, the recovery scan, the pull-body iterator, patching,
//! SEND_BATCH_MESSAGE body decode, property-string parsing and message-id
//! decoding. Nothing may panic; and whatever decodes must re-encode to the
//! bytes it came from (records and batch entries) or parse back unchanged
//! (properties).
#![no_main]

#[path = "../oracles/record_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
