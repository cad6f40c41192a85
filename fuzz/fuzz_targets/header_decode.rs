//! Fuzzes every typed header reader (each struct of `ringmq_net::header`,
//! the POP receipt `ExtraInfo` among them) and every JSON body decoder of
//! `ringmq_net::body`: any `extFields` map, any receipt text and any body
//! bytes must decode or fail with a typed error, never panic; whatever
//! decodes must survive re-encoding unchanged (decode -> encode -> decode
//! gives the same value).
//!
//! Input layout: the first byte picks the decoder, modulo the number of
//! decoders ([`HEADERS`], then [`BODIES`], then [`EXTRAS`]); the rest is
//! its input. For a header the rest is `key 0x00 value 0x00 key 0x00
//! value ...`, where a one-byte key below 0x20 names the header's field
//! number `byte` (so real field names are hit often); for a body it is the
//! body; for an extra, see [`EXTRAS`].
#![no_main]

#[path = "../oracles/header_decode.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
