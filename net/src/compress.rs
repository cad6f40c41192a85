//! Message body compression (spec §4.2): the zlib stream Java's
//! `Deflater`/`Inflater` produce (RFC 1950 header + Deflate + Adler-32),
//! level 5 as the Java producer uses, with a hard cap on decompressed size so
//! a small hostile body cannot expand into gigabytes (a "zip bomb").
//!
//! Which algorithm a body uses is in its SYSFLAG (see
//! [`crate::record::CompressionType`]); only zlib is implemented. LZ4 and ZSTD
//! bodies are reported as [`CompressError::Unsupported`].

use std::borrow::Cow;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use crate::record::CompressionType;

/// zlib level the Java producer uses (`compressLevel`, default 5).
pub const ZLIB_LEVEL: u32 = 5;
/// Bodies larger than this are compressed by the Java producer
/// (`compressMsgBodyOverHowmuch`).
pub const COMPRESS_BODY_OVER_BYTES: usize = 4 * 1024;
/// Largest body a decompression may produce (4x the 4 MiB message limit,
/// for brokers configured with a larger `maxMessageSize`).
pub const DECOMPRESSED_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Why a body could not be compressed or decompressed.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    /// The compressor's output could not be written.
    #[error("cannot compress the body: {0}")]
    Compress(#[source] std::io::Error),
    /// The zlib stream is malformed.
    #[error("corrupt zlib stream: {0}")]
    Corrupt(#[source] std::io::Error),
    /// Decompressing would exceed the size limit.
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was hit.
        limit: usize,
    },
    /// The body uses a compression this build does not implement.
    #[error("unsupported compression {0:?}")]
    Unsupported(CompressionType),
    /// SYSFLAG names an unknown compression type value.
    #[error("unknown compression type {0}")]
    UnknownType(i32),
}

/// Compresses `data` into a zlib stream at [`ZLIB_LEVEL`]. Writing into a
/// `Vec` does not fail in practice; if it ever did, the error is returned,
/// never an empty or partial stream.
pub fn zlib_compress(data: &[u8]) -> Result<Vec<u8>, CompressError> {
    zlib_compress_into(data, Vec::with_capacity(data.len() / 2 + 64))
}

/// Compresses `data` into `out` (a zlib stream at [`ZLIB_LEVEL`]) and gives
/// `out` back once the stream is complete.
pub fn zlib_compress_into<W: Write>(data: &[u8], out: W) -> Result<W, CompressError> {
    let mut encoder = ZlibEncoder::new(out, Compression::new(ZLIB_LEVEL));
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(CompressError::Compress)
}

/// Decompresses a zlib stream, failing if the output would exceed `limit`.
pub fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, CompressError> {
    let cap = limit.saturating_add(1);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    let mut decoder = ZlibDecoder::new(data).take(cap as u64);
    decoder
        .read_to_end(&mut out)
        .map_err(CompressError::Corrupt)?;
    if out.len() > limit {
        return Err(CompressError::TooLarge { limit });
    }
    Ok(out)
}

/// The plain body of a record: borrowed as is when SYSFLAG says it is not
/// compressed, else decompressed (zlib only) within [`DECOMPRESSED_MAX_BYTES`].
pub fn decompress_body(sys_flag: i32, body: &[u8]) -> Result<Cow<'_, [u8]>, CompressError> {
    match CompressionType::from_sys_flag(sys_flag).map_err(CompressError::UnknownType)? {
        None => Ok(Cow::Borrowed(body)),
        Some(CompressionType::Zlib) => {
            zlib_decompress(body, DECOMPRESSED_MAX_BYTES).map(Cow::Owned)
        }
        Some(other) => Err(CompressError::Unsupported(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{COMPRESSED_FLAG, COMPRESSION_LZ4, COMPRESSION_ZLIB};
    use proptest::prelude::*;

    #[test]
    fn output_is_a_standard_zlib_stream() {
        let out = zlib_compress(b"hello hello hello hello").unwrap();
        // CMF 0x78 (deflate, 32 KiB window); FCHECK makes CMF*256+FLG % 31 == 0.
        assert_eq!(out[0], 0x78);
        assert_eq!((u16::from(out[0]) * 256 + u16::from(out[1])) % 31, 0);
    }

    /// A sink that takes `room` bytes, then fails every write.
    #[derive(Debug)]
    struct FullDisk {
        room: usize,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::other("no space left"));
            }
            let taken = buf.len().min(self.room);
            self.room -= taken;
            Ok(taken)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_compression_is_an_error_not_an_empty_body() {
        let data = vec![7u8; 64 * 1024];
        for room in [0, 1, 10, 50] {
            let outcome = zlib_compress_into(&data, FullDisk { room });
            assert!(
                matches!(outcome, Err(CompressError::Compress(_))),
                "room {room}"
            );
        }
        let err = zlib_compress_into(&data, FullDisk { room: 0 }).unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
    }

    #[test]
    fn bomb_is_stopped_at_the_limit() {
        let big = vec![0u8; 1024 * 1024];
        let packed = zlib_compress(&big).unwrap();
        assert!(packed.len() < 8 * 1024);
        assert!(matches!(
            zlib_decompress(&packed, 1000),
            Err(CompressError::TooLarge { limit: 1000 })
        ));
        assert_eq!(zlib_decompress(&packed, big.len()).unwrap(), big);
    }

    #[test]
    fn garbage_is_a_corrupt_stream() {
        assert!(matches!(
            zlib_decompress(b"not zlib at all", 1024),
            Err(CompressError::Corrupt(_))
        ));
    }

    #[test]
    fn body_is_decompressed_according_to_sysflag() {
        let packed = zlib_compress(b"payload").unwrap();
        assert_eq!(&*decompress_body(0, b"plain").unwrap(), b"plain");
        assert_eq!(
            &*decompress_body(COMPRESSED_FLAG, &packed).unwrap(),
            b"payload"
        );
        assert_eq!(
            &*decompress_body(COMPRESSED_FLAG | COMPRESSION_ZLIB, &packed).unwrap(),
            b"payload"
        );
        assert!(matches!(
            decompress_body(COMPRESSED_FLAG | COMPRESSION_LZ4, &packed),
            Err(CompressError::Unsupported(CompressionType::Lz4))
        ));
        assert!(matches!(
            decompress_body(COMPRESSED_FLAG | 0x500, &packed),
            Err(CompressError::UnknownType(5))
        ));
    }

    proptest! {
        #[test]
        fn compressed_bodies_decompress_to_the_original(data in proptest::collection::vec(any::<u8>(), 0..8192)) {
            let packed = zlib_compress(&data).unwrap();
            prop_assert_eq!(zlib_decompress(&packed, data.len()).unwrap(), data);
        }

        #[test]
        fn arbitrary_bytes_never_panic_decompress(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = zlib_decompress(&data, 4096);
        }
    }
}
