//! The checkpoint: how far the commit log is known durable and how far the
//! consume queues and key index files cover it. Written atomically (temp
//! file, then rename) after each index flush and at clean shutdown; read by
//! recovery to decide where to start verifying and re-dispatching.
//!
//! ```text
//! 0      4        8                 16                24              32     36
//! +------+--------+-----------------+-----------------+---------------+------+
//! | RMQC | ver=1  | log flushed end | indexed end     | last store ts | crc  |
//! +------+--------+-----------------+-----------------+---------------+------+
//! all big-endian; offsets are local log offsets (u64); crc = crc32 of 0..32
//! ```

use thiserror::Error;

pub const CHECKPOINT_MAGIC: u32 = 0x524D_5143; // "RMQC"
pub const CHECKPOINT_VERSION: u32 = 1;
pub const CHECKPOINT_BYTES: usize = 36;

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
    pub fn encode(&self) -> [u8; CHECKPOINT_BYTES] {
        let mut out = [0u8; CHECKPOINT_BYTES];
        let fields: [&[u8]; 5] = [
            &CHECKPOINT_MAGIC.to_be_bytes(),
            &CHECKPOINT_VERSION.to_be_bytes(),
            &self.log_flushed.to_be_bytes(),
            &self.indexed.to_be_bytes(),
            &self.last_store_timestamp.to_be_bytes(),
        ];
        let mut at = 0;
        for field in fields {
            if let Some(slot) = out.get_mut(at..at + field.len()) {
                slot.copy_from_slice(field);
            }
            at += field.len();
        }
        let crc = crc32fast::hash(out.get(..32).unwrap_or_default());
        if let Some(slot) = out.get_mut(32..36) {
            slot.copy_from_slice(&crc.to_be_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let bytes: &[u8; CHECKPOINT_BYTES] = bytes
            .try_into()
            .map_err(|_| CheckpointError::Length(bytes.len()))?;
        let (body, crc) = bytes.split_at(32);
        let u32_at = |at: usize| -> u32 {
            let mut arr = [0u8; 4];
            arr.copy_from_slice(bytes.get(at..at + 4).unwrap_or(&[0; 4]));
            u32::from_be_bytes(arr)
        };
        let u64_at = |at: usize| -> u64 {
            let mut arr = [0u8; 8];
            arr.copy_from_slice(bytes.get(at..at + 8).unwrap_or(&[0; 8]));
            u64::from_be_bytes(arr)
        };
        if crc32fast::hash(body).to_be_bytes() != crc {
            return Err(CheckpointError::Crc);
        }
        if u32_at(0) != CHECKPOINT_MAGIC || u32_at(4) != CHECKPOINT_VERSION {
            return Err(CheckpointError::Magic);
        }
        Ok(Checkpoint {
            log_flushed: u64_at(8),
            indexed: u64_at(16),
            last_store_timestamp: u64_at(24) as i64,
        })
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
    }
}
