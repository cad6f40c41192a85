//! Fuzzes the `plain_acl.yml` parser and the ACL decision: any text must
//! parse or fail with a typed error, never panic; a parsed file must judge
//! any request without panicking.
#![no_main]

#[path = "../oracles/acl_config.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracle::check(data));
