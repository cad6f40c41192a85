//! Replays `fuzz/regressions/<target>/` (inputs the fuzz targets found,
//! each fixed, plus seeds worth keeping) through the very oracles the fuzz
//! targets run (`fuzz/oracles/`), so CI keeps every finding fixed on
//! stable without libFuzzer. Here: the store's files: checkpoint, commit-log records, consume-queue
//! units and files,
//! key-index headers, entries and files.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

include!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fuzz/oracles/replay.rs"
));

mod checkpoint_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/checkpoint_decode.rs"
    ));
}

mod commitlog_record_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/commitlog_record_decode.rs"
    ));
}

mod consume_queue_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/consume_queue_decode.rs"
    ));
}

mod key_index_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/key_index_decode.rs"
    ));
}

#[test]
fn checkpoint_regressions_pass_their_oracle() {
    replay("checkpoint_decode", checkpoint_decode::check);
}

#[test]
fn commitlog_record_regressions_pass_their_oracle() {
    replay("commitlog_record_decode", commitlog_record_decode::check);
}

#[test]
fn consume_queue_regressions_pass_their_oracle() {
    replay("consume_queue_decode", consume_queue_decode::check);
}

#[test]
fn key_index_regressions_pass_their_oracle() {
    replay("key_index_decode", key_index_decode::check);
}
