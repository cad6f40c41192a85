// The oracle of the `timer_files_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/timer_files_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/timer_files_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use ringmq_net::codec::Decode;

use ringmq_broker::schedule::timer_files::{
    self, CHECKPOINT_BYTES, ENTRY_BYTES, LogEntry, SLOT_BYTES, Slot, TimerCheckpoint,
};

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    check_bytes(data);
    for len in [ENTRY_BYTES, CHECKPOINT_BYTES] {
        if let Some(body) = data.get(..len - 4) {
            let mut fixed = body.to_vec();
            fixed.extend_from_slice(&crc32fast::hash(body).to_be_bytes());
            check_bytes(&fixed);
        }
    }
}

fn check_bytes(bytes: &[u8]) {
    if let Ok(entry) = LogEntry::decode(bytes) {
        let again: [u8; ENTRY_BYTES] = timer_files::encode(&entry);
        assert_eq!(&again[..], bytes);
    }
    if let Ok(slot) = Slot::decode(bytes) {
        let again: [u8; SLOT_BYTES] = timer_files::encode(&slot);
        assert_eq!(&again[..], bytes);
    }
    if let Ok(point) = TimerCheckpoint::decode(bytes) {
        // The reserved word is not checked on decode and written as zero,
        // so only the value round-trips, not the bytes.
        let again: [u8; CHECKPOINT_BYTES] = timer_files::encode(&point);
        assert_eq!(TimerCheckpoint::decode(&again), Ok(point));
    }
}
