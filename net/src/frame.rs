//! The length-prefixed frame around every [`RemotingCommand`]: an
//! incremental decoder for byte streams and the encoders, including one that
//! writes only the prefix and header so a body can follow zero-copy.
//!
//! # Frame layout (big-endian)
//!
//! ```text
//! +--------------+------------------------------+-------------+--------+
//! | length (i32) | serType (u8) | hdrLen (u24)  | header      | body   |
//! +--------------+------------------------------+-------------+--------+
//!    4 bytes        4 bytes (the header word)     hdrLen bytes  rest
//!
//! length = 4 + hdrLen + bodyLen      (the bytes that FOLLOW the length field)
//! word   = (serType << 24) | hdrLen  (serType 0 = JSON, 1 = ROCKETMQ)
//! ```
//!
//! There is no magic and no checksum. A frame whose whole size
//! (`4 + length`) exceeds the decoder's limit, or whose lengths contradict
//! each other, is an error after which the stream cannot be resynchronised:
//! the caller closes the connection, as Java's `NettyDecoder` does.

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::{BinaryHeaderLimit, CommandError, RemotingCommand, SerializeType};

/// Java's default `com.rocketmq.remoting.frameMaxLength`: the largest whole
/// frame (length field included) a peer accepts.
pub const FRAME_MAX_BYTES_DEFAULT: usize = 16 * 1024 * 1024;
/// The bytes of the length field.
pub const LENGTH_FIELD_BYTES: usize = 4;
/// The bytes of the header word (serialize type + header length).
pub const HEADER_WORD_BYTES: usize = 4;
/// The largest header the 24-bit header length can describe.
pub const HEADER_MAX_BYTES: usize = 0x00FF_FFFF;

/// Why a frame could not be decoded. The stream is unusable afterwards.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length field is negative.
    #[error("frame length {length} is negative")]
    NegativeLength { length: i32 },
    /// The length is too small to hold even the header word.
    #[error("frame length {length} is shorter than the 4-byte header word")]
    TooShort { length: i32 },
    /// The whole frame is larger than the decoder accepts.
    #[error("frame of {frame_bytes} bytes exceeds the limit of {max_frame_bytes} bytes")]
    TooLarge {
        frame_bytes: usize,
        max_frame_bytes: usize,
    },
    /// The header length runs past the end of the frame.
    #[error("header length {header_bytes} exceeds the {available} bytes left in the frame")]
    HeaderOverrun {
        header_bytes: usize,
        available: usize,
    },
    /// The header word names a serialize type other than 0 or 1.
    #[error("unknown serialize type {0} in the header word")]
    UnknownSerializeType(u8),
    /// A single-frame buffer's length field disagrees with its size.
    #[error("frame length field says {declared} bytes follow but {actual} do")]
    LengthMismatch { declared: usize, actual: usize },
    /// The header bytes do not decode.
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// Why a command could not be encoded. Nothing is left in the output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The header does not fit the 24-bit header length.
    #[error("header of {header_bytes} bytes exceeds the {HEADER_MAX_BYTES}-byte limit")]
    HeaderTooLarge { header_bytes: usize },
    /// The frame does not fit the i32 length field.
    #[error("frame of {frame_bytes} bytes does not fit the 32-bit length field")]
    FrameTooLarge { frame_bytes: usize },
    /// A field does not fit the binary header.
    #[error(transparent)]
    Header(#[from] BinaryHeaderLimit),
}

/// Splits a byte stream into commands. Feed it the connection's read
/// buffer; it takes whole frames off the front and leaves partial ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    /// The largest whole frame (length field included) accepted.
    pub max_frame_bytes: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(FRAME_MAX_BYTES_DEFAULT)
    }
}

impl FrameDecoder {
    /// A decoder that rejects frames larger than `max_frame_bytes`.
    pub const fn new(max_frame_bytes: usize) -> Self {
        Self { max_frame_bytes }
    }

    /// Takes the next whole frame off the front of `buf` and decodes it.
    /// `Ok(None)`: more bytes are needed (nothing consumed; `buf` has been
    /// given room for the rest of the frame). The body shares `buf`'s
    /// allocation. On `Err` the connection must be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<RemotingCommand>, FrameError> {
        let Some(prefix) = buf.first_chunk::<LENGTH_FIELD_BYTES>() else {
            return Ok(None);
        };
        let length = i32::from_be_bytes(*prefix);
        let frame_bytes = self.frame_bytes(length)?;
        if buf.len() < frame_bytes {
            buf.reserve(frame_bytes - buf.len());
            return Ok(None);
        }
        let mut frame = buf.split_to(frame_bytes).freeze();
        let payload = frame.split_off(LENGTH_FIELD_BYTES);
        RemotingCommand::decode_payload(payload).map(Some)
    }

    /// The whole frame size for a length field, checked against the limits.
    fn frame_bytes(&self, length: i32) -> Result<usize, FrameError> {
        let payload_bytes =
            usize::try_from(length).map_err(|_| FrameError::NegativeLength { length })?;
        if payload_bytes < HEADER_WORD_BYTES {
            return Err(FrameError::TooShort { length });
        }
        let frame_bytes = LENGTH_FIELD_BYTES + payload_bytes;
        if frame_bytes > self.max_frame_bytes {
            return Err(FrameError::TooLarge {
                frame_bytes,
                max_frame_bytes: self.max_frame_bytes,
            });
        }
        Ok(frame_bytes)
    }
}

impl RemotingCommand {
    /// Decodes exactly one whole frame (length field included), e.g. a
    /// captured fixture. Uses the default frame limit.
    pub fn decode_frame(frame: Bytes) -> Result<RemotingCommand, FrameError> {
        let Some(prefix) = frame.first_chunk::<LENGTH_FIELD_BYTES>() else {
            return Err(FrameError::LengthMismatch {
                declared: 0,
                actual: frame.len(),
            });
        };
        let length = i32::from_be_bytes(*prefix);
        let frame_bytes = FrameDecoder::default().frame_bytes(length)?;
        if frame_bytes != frame.len() {
            return Err(FrameError::LengthMismatch {
                declared: frame_bytes - LENGTH_FIELD_BYTES,
                actual: frame.len().saturating_sub(LENGTH_FIELD_BYTES),
            });
        }
        Self::decode_payload(frame.slice(LENGTH_FIELD_BYTES..))
    }

    /// Decodes a frame without its length field: header word, header, body.
    /// The body is a slice of `payload` (no copy).
    pub fn decode_payload(payload: Bytes) -> Result<RemotingCommand, FrameError> {
        let Some(word) = payload.first_chunk::<HEADER_WORD_BYTES>() else {
            return Err(FrameError::TooShort {
                length: i32::try_from(payload.len()).unwrap_or(i32::MAX),
            });
        };
        let word = u32::from_be_bytes(*word);
        let type_byte = (word >> 24) as u8;
        let header_bytes = (word & 0x00FF_FFFF) as usize;
        let serialize_type = SerializeType::from_code(type_byte)
            .ok_or(FrameError::UnknownSerializeType(type_byte))?;
        let available = payload.len() - HEADER_WORD_BYTES;
        if header_bytes > available {
            return Err(FrameError::HeaderOverrun {
                header_bytes,
                available,
            });
        }
        let body_start = HEADER_WORD_BYTES + header_bytes;
        let header =
            payload
                .get(HEADER_WORD_BYTES..body_start)
                .ok_or(FrameError::HeaderOverrun {
                    header_bytes,
                    available,
                })?;
        let mut command = RemotingCommand::read_header(serialize_type, header)?;
        command.body = payload.slice(body_start..);
        Ok(command)
    }

    /// Appends the whole frame (length, header word, header, body).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        out.reserve(LENGTH_FIELD_BYTES + HEADER_WORD_BYTES + self.body.len() + 256);
        self.encode_prefix(self.body.len(), out)?;
        out.put_slice(&self.body);
        Ok(())
    }

    /// Appends the length field, header word and header of a frame whose
    /// body of `body_len` bytes the caller sends next by other means (e.g.
    /// from a segment file, zero-copy). `self.body` is ignored. On error
    /// `out` is left as it was.
    pub fn encode_prefix(&self, body_len: usize, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        out.put_u64(0); // length field and header word, patched below
        let result = self
            .write_header(out)
            .map_err(EncodeError::from)
            .and_then(|()| frame_words(out.len() - start, body_len, self.serialize_type));
        match result {
            Ok(words) => {
                if let Some(slot) = out.get_mut(start..start + 8) {
                    slot.copy_from_slice(&words);
                }
                Ok(())
            }
            Err(error) => {
                out.truncate(start);
                Err(error)
            }
        }
    }
}

/// The length field and header word for a prefix of `prefix_bytes`
/// (both words plus header) followed by `body_len` body bytes.
fn frame_words(
    prefix_bytes: usize,
    body_len: usize,
    serialize_type: SerializeType,
) -> Result<[u8; 8], EncodeError> {
    let header_bytes = prefix_bytes - LENGTH_FIELD_BYTES - HEADER_WORD_BYTES;
    if header_bytes > HEADER_MAX_BYTES {
        return Err(EncodeError::HeaderTooLarge { header_bytes });
    }
    let frame_bytes = prefix_bytes.saturating_add(body_len);
    let length = i32::try_from(frame_bytes - LENGTH_FIELD_BYTES)
        .map_err(|_| EncodeError::FrameTooLarge { frame_bytes })?;
    // header_bytes <= 0xFFFFFF, checked above.
    let word = (u32::from(serialize_type.code()) << 24) | header_bytes as u32;
    let mut words = [0u8; 8];
    let (length_slot, word_slot) = words.split_at_mut(LENGTH_FIELD_BYTES);
    length_slot.copy_from_slice(&length.to_be_bytes());
    word_slot.copy_from_slice(&word.to_be_bytes());
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::request;

    fn frame_of(command: &RemotingCommand) -> BytesMut {
        let mut out = BytesMut::new();
        command.encode(&mut out).unwrap();
        out
    }

    #[test]
    fn encoded_frame_has_length_and_header_word() {
        let command = RemotingCommand::request(request::HEART_BEAT).with_body(&b"abc"[..]);
        let frame = frame_of(&command);
        let length = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
        let word = u32::from_be_bytes(frame[4..8].try_into().unwrap());
        assert_eq!(length, frame.len() - 4);
        assert_eq!(word >> 24, 0);
        assert_eq!((word & 0xFF_FFFF) as usize, frame.len() - 8 - 3);
        assert_eq!(&frame[frame.len() - 3..], b"abc");
    }

    #[test]
    fn prefix_plus_body_equals_whole_frame() {
        let command = RemotingCommand::request(request::PULL_MESSAGE).with_body(vec![7u8; 100]);
        let mut prefix = BytesMut::new();
        command
            .encode_prefix(command.body.len(), &mut prefix)
            .unwrap();
        prefix.extend_from_slice(&command.body);
        assert_eq!(prefix, frame_of(&command));
    }

    #[test]
    fn decoder_waits_for_whole_frame_then_yields_it() {
        let command = RemotingCommand::request(request::SEND_MESSAGE).with_body(vec![1u8; 10]);
        let frame = frame_of(&command);
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::new();
        for byte in &frame[..frame.len() - 1] {
            buf.put_u8(*byte);
            assert_eq!(decoder.decode(&mut buf), Ok(None));
        }
        buf.put_u8(frame[frame.len() - 1]);
        assert_eq!(decoder.decode(&mut buf), Ok(Some(command)));
        assert!(buf.is_empty());
    }

    #[test]
    fn decoder_rejects_negative_short_and_oversized_lengths() {
        let mut decoder = FrameDecoder::new(1024);
        for (length, expected) in [
            (-1, FrameError::NegativeLength { length: -1 }),
            (3, FrameError::TooShort { length: 3 }),
            (
                1021,
                FrameError::TooLarge {
                    frame_bytes: 1025,
                    max_frame_bytes: 1024,
                },
            ),
        ] {
            let mut buf = BytesMut::from(&i32::to_be_bytes(length)[..]);
            assert_eq!(decoder.decode(&mut buf), Err(expected));
        }
    }

    #[test]
    fn decoder_rejects_header_longer_than_frame_and_unknown_type() {
        let mut decoder = FrameDecoder::default();
        let mut buf = BytesMut::new();
        buf.put_i32(8);
        buf.put_u32(5);
        buf.put_u32(0);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(FrameError::HeaderOverrun {
                header_bytes: 5,
                available: 4
            })
        );
        let mut buf = BytesMut::new();
        buf.put_i32(4);
        buf.put_u32(2 << 24);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(FrameError::UnknownSerializeType(2))
        );
    }

    #[test]
    fn failed_encode_leaves_output_unchanged() {
        let mut command = RemotingCommand::request(100_000);
        command.serialize_type = SerializeType::RocketMq;
        let mut out = BytesMut::from(&b"keep"[..]);
        assert!(command.encode(&mut out).is_err());
        assert_eq!(&out[..], b"keep");
    }

    #[test]
    fn oversized_header_is_an_encode_error() {
        let command = RemotingCommand::request(request::SEND_MESSAGE)
            .with_remark("x".repeat(HEADER_MAX_BYTES + 1));
        let mut out = BytesMut::new();
        assert!(matches!(
            command.encode(&mut out),
            Err(EncodeError::HeaderTooLarge { .. })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn decode_frame_rejects_length_mismatch() {
        let mut frame = frame_of(&RemotingCommand::request(request::HEART_BEAT));
        frame.put_u8(0);
        assert!(matches!(
            RemotingCommand::decode_frame(frame.freeze()),
            Err(FrameError::LengthMismatch { .. })
        ));
    }
}
