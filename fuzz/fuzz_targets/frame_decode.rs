//! Fuzzes the frame decoder and both command header decoders: any byte
//! stream must decode into commands, ask for more bytes, or fail with a
//! typed error, never panic; and every command it yields must survive
//! re-encoding unchanged.
#![no_main]

#[path = "../oracles/frame_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
