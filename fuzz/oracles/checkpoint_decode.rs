// The oracle of the `checkpoint_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/checkpoint_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/checkpoint_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use ringmq_storage::checkpoint::{CHECKPOINT_BYTES, Checkpoint};

/// Bytes covered by the CRC.
const CRC_COVERS: usize = 32;

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    check_bytes(data);
    if let Some(body) = data.get(..CRC_COVERS) {
        let mut fixed = [0u8; CHECKPOINT_BYTES];
        fixed[..CRC_COVERS].copy_from_slice(body);
        fixed[CRC_COVERS..].copy_from_slice(&crc32fast::hash(body).to_be_bytes());
        check_bytes(&fixed);
    }
}

fn check_bytes(bytes: &[u8]) {
    if let Ok(checkpoint) = Checkpoint::decode(bytes) {
        assert_eq!(&checkpoint.encode()[..], bytes);
        assert_eq!(Checkpoint::decode(&checkpoint.encode()), Ok(checkpoint));
    }
}
