//! The checkpoint: how far the commit log is known durable and how far the
//! consume queues and key index files cover it. Written atomically (temp
//! file, then rename) after each index flush and at clean shutdown; read by
//! recovery to decide where to start verifying and re-dispatching.
//!
//! ```text
//! 0      4        8                 16                24              32     36
//! +------+--------+-----------------+-----------------+---------------+------+
//! | RMQC | ver=2  | log flushed end | indexed end     | last store ts | crc  |
//! +------+--------+-----------------+-----------------+---------------+------+
//! all big-endian; offsets are local log offsets (u64); crc = crc32 of 0..32
//! ```

use ringmq_net::codec::{ByteReader, ByteWriter, Decode, Encode, encode_into};
use thiserror::Error;

pub const CHECKPOINT_MAGIC: u32 = 0x524D_5143; // "RMQC"
/// Version 2: the consume queues and key index are the paged on-disk
/// formats of `consume_queue` / `key_index`; a version-1 checkpoint is not
/// decoded, so recovery rebuilds the indexes from the log once.
pub const CHECKPOINT_VERSION: u32 = 2;
pub const CHECKPOINT_BYTES: usize = 36;
const CRC_AT: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Local log offset below which the commit log has been fdatasync'd.
    pub log_flushed: u64,
    /// Local log offset below which consume queues and key index are synced.
    pub indexed: u64,
    pub last_store_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckpointError {
    #[error("checkpoint is {0} bytes, expected {CHECKPOINT_BYTES}")]
    Length(usize),
    #[error("checkpoint magic/version mismatch")]
    Magic,
    #[error("checkpoint CRC mismatch")]
    Crc,
}

impl Checkpoint {
    fn write_body(&self, w: &mut ByteWriter<'_>) {
        w.u32(CHECKPOINT_MAGIC)
            .u32(CHECKPOINT_VERSION)
            .u64(self.log_flushed)
            .u64(self.indexed)
            .i64(self.last_store_timestamp);
    }

    pub fn encode(&self) -> [u8; CHECKPOINT_BYTES] {
        let mut out = [0u8; CHECKPOINT_BYTES];
        // Cannot fail: the layout is exactly CHECKPOINT_BYTES (round-trip test).
        let _ = encode_into(self, &mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        <Checkpoint as Decode>::decode(bytes)
    }
}

impl Encode for Checkpoint {
    const ENCODED_BYTES: usize = CHECKPOINT_BYTES;
    fn write(&self, w: &mut ByteWriter<'_>) {
        let mut body = [0u8; CRC_AT];
        self.write_body(&mut ByteWriter::new(&mut body));
        w.bytes(&body).u32(crc32fast::hash(&body));
    }
}

impl Decode for Checkpoint {
    type Error = CheckpointError;
    fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        if bytes.len() != CHECKPOINT_BYTES {
            return Err(CheckpointError::Length(bytes.len()));
        }
        let mut r = ByteReader::new(bytes);
        let fields = (|| {
            let magic = r.u32()?;
            let version = r.u32()?;
            let checkpoint = Checkpoint {
                log_flushed: r.u64()?,
                indexed: r.u64()?,
                last_store_timestamp: r.i64()?,
            };
            Some((magic, version, checkpoint, r.u32()?))
        })();
        // The length check above makes every read succeed.
        let (magic, version, checkpoint, crc) =
            fields.ok_or(CheckpointError::Length(bytes.len()))?;
        let body = bytes
            .get(..CRC_AT)
            .ok_or(CheckpointError::Length(bytes.len()))?;
        if crc32fast::hash(body) != crc {
            return Err(CheckpointError::Crc);
        }
        if magic != CHECKPOINT_MAGIC || version != CHECKPOINT_VERSION {
            return Err(CheckpointError::Magic);
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn checkpoint_round_trips(a in any::<u64>(), b in any::<u64>(), t in any::<i64>()) {
            let cp = Checkpoint { log_flushed: a, indexed: b, last_store_timestamp: t };
            prop_assert_eq!(Checkpoint::decode(&cp.encode()), Ok(cp));
        }

        #[test]
        fn checkpoint_with_a_flipped_bit_is_rejected(byte in 0usize..CHECKPOINT_BYTES, bit in 0u8..8) {
            let mut bytes = Checkpoint { log_flushed: 7, indexed: 9, last_store_timestamp: 1 }.encode();
            bytes[byte] ^= 1 << bit;
            prop_assert!(Checkpoint::decode(&bytes).is_err());
        }

        #[test]
        fn checkpoint_garbage_is_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert!(Checkpoint::decode(&bytes).is_err());
        }
    }

    #[test]
    fn a_version_1_checkpoint_is_not_trusted() {
        let mut bytes = Checkpoint {
            log_flushed: 7,
            indexed: 9,
            last_store_timestamp: 1,
        }
        .encode();
        bytes[4..8].copy_from_slice(&1u32.to_be_bytes());
        let crc = crc32fast::hash(&bytes[..32]);
        bytes[32..].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(Checkpoint::decode(&bytes), Err(CheckpointError::Magic));
    }
}
