//! Bad input never panics: random bytes, corrupted frames, negative,
//! oversized and inconsistent lengths give `Ok(None)` (need more bytes) or
//! a typed error, and the decoder never consumes a partial frame.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{BufMut, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use ringmq_net::code::request;
use ringmq_net::command::{CommandError, RemotingCommand, SerializeType};
use ringmq_net::frame::{FrameDecoder, FrameError};

/// A small limit so random lengths often exceed it.
const TEST_FRAME_MAX_BYTES: usize = 64 * 1024;
/// Random inputs up to this size.
const GARBAGE_BYTES_MAX: usize = 2048;

/// Runs the decoder over `input` until it needs more bytes or fails; the
/// number of rounds is bounded by the input size (each frame is >= 8 bytes).
fn drain(input: &[u8]) -> Result<usize, FrameError> {
    let mut decoder = FrameDecoder::new(TEST_FRAME_MAX_BYTES);
    let mut buf = BytesMut::from(input);
    let mut commands = 0;
    for _ in 0..=input.len() / 8 {
        let before = buf.len();
        match decoder.decode(&mut buf)? {
            Some(_) => {
                commands += 1;
                assert!(buf.len() + 8 <= before);
            }
            None => {
                assert_eq!(buf.len(), before, "a partial frame was consumed");
                return Ok(commands);
            }
        }
    }
    Ok(commands)
}

fn frame_with(word: u32, header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut frame = BytesMut::new();
    frame.put_i32((4 + header.len() + body.len()) as i32);
    frame.put_u32(word);
    frame.put_slice(header);
    frame.put_slice(body);
    frame.to_vec()
}

fn sample_frame(serialize_type: SerializeType) -> Vec<u8> {
    let mut command = RemotingCommand::request(request::SEND_MESSAGE_V2)
        .with_opaque(77)
        .with_remark("remark")
        .with_body(&b"body bytes"[..]);
    command.serialize_type = serialize_type;
    command.ext_fields.insert("a".into(), "group".into());
    command.ext_fields.insert("b".into(), "topic".into());
    let mut out = BytesMut::new();
    command.encode(&mut out).unwrap();
    out.to_vec()
}

proptest! {
    #[test]
    fn random_bytes_never_panic(input in vec(any::<u8>(), 0..GARBAGE_BYTES_MAX)) {
        let _ = drain(&input);
    }

    #[test]
    fn random_bytes_behind_a_valid_prefix_never_panic(
        word in any::<u32>(),
        rest in vec(any::<u8>(), 0..GARBAGE_BYTES_MAX),
    ) {
        // A consistent length with a random header word and random header.
        let mut input = BytesMut::new();
        input.put_i32((4 + rest.len()) as i32);
        input.put_u32(word & 0x01FF_FFFF);
        input.put_slice(&rest);
        let _ = drain(&input);
    }

    #[test]
    fn corrupted_frames_never_panic(
        binary in any::<bool>(),
        flips in vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let serialize_type = if binary { SerializeType::RocketMq } else { SerializeType::Json };
        let mut frame = sample_frame(serialize_type);
        for (at, byte) in flips {
            let i = at.index(frame.len());
            frame[i] ^= byte;
        }
        let _ = drain(&frame);
    }

    #[test]
    fn negative_lengths_are_rejected(length in i32::MIN..0, rest in vec(any::<u8>(), 0..16)) {
        let mut input = length.to_be_bytes().to_vec();
        input.extend(rest);
        prop_assert_eq!(drain(&input), Err(FrameError::NegativeLength { length }));
    }

    #[test]
    fn oversized_lengths_are_rejected_before_buffering(
        length in (TEST_FRAME_MAX_BYTES as i32 - 3)..=i32::MAX,
    ) {
        let input = length.to_be_bytes();
        let rejected = matches!(drain(&input), Err(FrameError::TooLarge { .. }));
        prop_assert!(rejected);
    }
}

#[test]
fn truncated_frames_wait_for_more_bytes() {
    for serialize_type in [SerializeType::Json, SerializeType::RocketMq] {
        let frame = sample_frame(serialize_type);
        for len in 0..frame.len() {
            assert_eq!(drain(&frame[..len]), Ok(0), "cut at {len}");
        }
        assert_eq!(drain(&frame), Ok(1));
    }
}

#[test]
fn lengths_too_short_for_the_header_word_are_rejected() {
    for length in 0..4 {
        let mut input = BytesMut::new();
        input.put_i32(length);
        input.put_slice(&[0; 8]);
        assert_eq!(drain(&input), Err(FrameError::TooShort { length }));
    }
}

#[test]
fn header_longer_than_the_frame_is_rejected() {
    let frame = frame_with(100, b"{}", b"");
    assert_eq!(
        drain(&frame),
        Err(FrameError::HeaderOverrun {
            header_bytes: 100,
            available: 2
        })
    );
}

#[test]
fn unknown_serialize_type_is_rejected() {
    let frame = frame_with(0x0500_0002, b"{}", b"");
    assert_eq!(drain(&frame), Err(FrameError::UnknownSerializeType(5)));
}

#[test]
fn malformed_json_header_is_a_command_error() {
    for header in [
        &b"{\"code\":"[..],
        b"null",
        b"{\"code\":1,}",
        b"{\"flag\":1}",
    ] {
        let frame = frame_with(header.len() as u32, header, b"");
        assert!(
            matches!(drain(&frame), Err(FrameError::Command(_))),
            "{:?}",
            String::from_utf8_lossy(header)
        );
    }
}

#[test]
fn binary_header_with_lengths_past_its_end_is_a_command_error() {
    // code, language, version, opaque, flag, then a remark length of 1000.
    let mut header = vec![0, 10, 12, 1, 153, 0, 0, 0, 1, 0, 0, 0, 0];
    header.extend_from_slice(&1000i32.to_be_bytes());
    let frame = frame_with(0x0100_0000 | header.len() as u32, &header, b"");
    assert_eq!(
        drain(&frame),
        Err(FrameError::Command(CommandError::Truncated {
            field: "remark"
        }))
    );
}

#[test]
fn binary_header_with_bytes_after_ext_fields_is_a_command_error() {
    let mut header = vec![0, 10, 12, 1, 153, 0, 0, 0, 1, 0, 0, 0, 0];
    header.extend_from_slice(&0i32.to_be_bytes()); // no remark
    header.extend_from_slice(&0i32.to_be_bytes()); // no extFields
    header.push(9);
    let frame = frame_with(0x0100_0000 | header.len() as u32, &header, b"");
    assert_eq!(
        drain(&frame),
        Err(FrameError::Command(CommandError::TrailingBytes {
            extra: 1
        }))
    );
}
