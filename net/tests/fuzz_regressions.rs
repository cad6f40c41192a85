//! Replays `fuzz/regressions/<target>/` (inputs the fuzz targets found,
//! each fixed, plus seeds worth keeping) through the very oracles the fuzz
//! targets run (`fuzz/oracles/`), so CI keeps every finding fixed on
//! stable without libFuzzer. Here: ringmq-net's decoders: frames, every header and JSON body, records and
//! batches, the ACL file and the request checks.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

include!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fuzz/oracles/replay.rs"
));

mod frame_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/frame_decode.rs"
    ));
}

mod header_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/header_decode.rs"
    ));
}

mod record_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/record_decode.rs"
    ));
}

mod acl_config {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/acl_config.rs"
    ));
}

mod request_guard {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/request_guard.rs"
    ));
}

#[test]
fn frame_regressions_pass_their_oracle() {
    replay("frame_decode", frame_decode::check);
}

#[test]
fn header_regressions_pass_their_oracle() {
    replay("header_decode", header_decode::check);
}

#[test]
fn record_regressions_pass_their_oracle() {
    replay("record_decode", record_decode::check);
}

#[test]
fn acl_config_regressions_pass_their_oracle() {
    replay("acl_config", acl_config::check);
}

#[test]
fn request_guard_regressions_pass_their_oracle() {
    replay("request_guard", request_guard::check);
}
