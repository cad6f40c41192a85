// The oracle of the `frame_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/frame_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/frame_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use bytes::{Bytes, BytesMut};
use ringmq_net::command::RemotingCommand;
use ringmq_net::frame::FrameDecoder;

/// Small, so that length checks are exercised with short inputs.
const FUZZ_FRAME_MAX_BYTES: usize = 64 * 1024;
/// A frame is at least the length field plus the header word.
const FRAME_BYTES_MIN: usize = 8;

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    let mut decoder = FrameDecoder::new(FUZZ_FRAME_MAX_BYTES);
    let mut buf = BytesMut::from(data);
    for _ in 0..=data.len() / FRAME_BYTES_MIN {
        match decoder.decode(&mut buf) {
            Ok(Some(command)) => assert_re_encodes(&command),
            Ok(None) | Err(_) => break,
        }
    }
    let _ = RemotingCommand::decode_frame(Bytes::copy_from_slice(data));
}

fn assert_re_encodes(command: &RemotingCommand) {
    let mut out = BytesMut::new();
    command
        .encode(&mut out)
        .expect("a decoded command must encode");
    let again = FrameDecoder::default()
        .decode(&mut out)
        .expect("a re-encoded command must decode")
        .expect("a re-encoded frame is whole");
    assert_eq!(&again, command);
    assert!(out.is_empty());
}
