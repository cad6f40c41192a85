//! Replays `fuzz/regressions/<target>/` (inputs the fuzz targets found,
//! each fixed, plus seeds worth keeping) through the very oracles the fuzz
//! targets run (`fuzz/oracles/`), so CI keeps every finding fixed on
//! stable without libFuzzer. Here: the broker's own files: the POP checkpoint log and the timer
//! log, wheel and checkpoint.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]

include!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fuzz/oracles/replay.rs"
));

mod pop_log_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/pop_log_decode.rs"
    ));
}

mod timer_files_decode {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/oracles/timer_files_decode.rs"
    ));
}

#[test]
fn pop_log_regressions_pass_their_oracle() {
    replay("pop_log_decode", pop_log_decode::check);
}

#[test]
fn timer_files_regressions_pass_their_oracle() {
    replay("timer_files_decode", timer_files_decode::check);
}
