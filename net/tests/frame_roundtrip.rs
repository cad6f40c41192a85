//! Property tests: any command encodes to a frame that decodes back to an
//! equal command, in both serialize types, whole or fed to the stream
//! decoder in arbitrary pieces, and `encode_prefix` + body equals `encode`.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use ringmq_net::code::LanguageCode;
use ringmq_net::command::{RemotingCommand, SerializeType};
use ringmq_net::frame::FrameDecoder;
use ringmq_net::header::ExtFields;

/// Bodies up to this size keep the cases fast while crossing chunk borders.
const BODY_BYTES_MAX: usize = 4096;
/// Commands per generated stream.
const STREAM_COMMANDS_MAX: usize = 8;

fn language() -> impl Strategy<Value = LanguageCode> {
    proptest::sample::select(LanguageCode::ALL.to_vec())
}

/// Any string, including control characters, quotes and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,24}",
        ".{0,24}",
        "[a-zA-Z0-9_%]{0,16}",
        Just("\"\\/\u{0}\u{1f}\u{7f}\u{2028}é中😀".to_owned()),
    ]
}

fn ext_fields() -> impl Strategy<Value = ExtFields> {
    btree_map(text(), text(), 0..12).prop_map(ExtFields::from)
}

fn body() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..BODY_BYTES_MAX).prop_map(Bytes::from)
}

/// A command the JSON header can carry: every field free.
fn json_command() -> impl Strategy<Value = RemotingCommand> {
    (
        (
            any::<i32>(),
            language(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
        ),
        proptest::option::of(text()),
        ext_fields(),
        body(),
    )
        .prop_map(
            |((code, language, version, opaque, flag), remark, ext_fields, body)| RemotingCommand {
                code,
                language,
                version,
                opaque,
                flag,
                remark,
                ext_fields,
                serialize_type: SerializeType::Json,
                body,
            },
        )
}

/// A command the binary header can carry: 16-bit code and version, and a
/// remark that is absent or non-empty (an empty one reads back as absent).
fn binary_command() -> impl Strategy<Value = RemotingCommand> {
    (
        (
            any::<i16>(),
            language(),
            any::<i16>(),
            any::<i32>(),
            any::<i32>(),
        ),
        proptest::option::of(text().prop_filter("non-empty", |r| !r.is_empty())),
        ext_fields(),
        body(),
    )
        .prop_map(
            |((code, language, version, opaque, flag), remark, ext_fields, body)| RemotingCommand {
                code: code.into(),
                language,
                version: version.into(),
                opaque,
                flag,
                remark,
                ext_fields,
                serialize_type: SerializeType::RocketMq,
                body,
            },
        )
}

fn any_command() -> impl Strategy<Value = RemotingCommand> {
    prop_oneof![json_command(), binary_command()]
}

fn encode(command: &RemotingCommand) -> BytesMut {
    let mut out = BytesMut::new();
    command.encode(&mut out).unwrap();
    out
}

proptest! {
    #[test]
    fn json_command_round_trips(command in json_command()) {
        let frame = encode(&command).freeze();
        prop_assert_eq!(RemotingCommand::decode_frame(frame).unwrap(), command);
    }

    #[test]
    fn binary_command_round_trips(command in binary_command()) {
        let frame = encode(&command).freeze();
        prop_assert_eq!(RemotingCommand::decode_frame(frame).unwrap(), command);
    }

    #[test]
    fn prefix_then_body_is_the_whole_frame(command in any_command()) {
        let mut out = BytesMut::new();
        command.encode_prefix(command.body.len(), &mut out).unwrap();
        out.extend_from_slice(&command.body);
        prop_assert_eq!(out, encode(&command));
    }

    #[test]
    fn stream_split_at_random_points_yields_every_command_in_order(
        commands in vec(any_command(), 1..STREAM_COMMANDS_MAX),
        cuts in vec(any::<proptest::sample::Index>(), 0..16),
    ) {
        let mut stream = BytesMut::new();
        for command in &commands {
            command.encode(&mut stream).unwrap();
        }
        let mut cut_points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cut_points.push(stream.len());
        cut_points.sort_unstable();

        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut fed = 0;
        for cut in cut_points {
            buf.extend_from_slice(&stream[fed..cut]);
            fed = cut;
            while let Some(command) = decoder.decode(&mut buf).unwrap() {
                decoded.push(command);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, commands);
    }

    #[test]
    fn every_proper_prefix_of_a_frame_needs_more_bytes(
        command in any_command(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let frame = encode(&command);
        let len = cut.index(frame.len());
        let mut buf = BytesMut::from(&frame[..len]);
        prop_assert_eq!(FrameDecoder::default().decode(&mut buf), Ok(None));
        prop_assert_eq!(buf.len(), len);
    }
}
