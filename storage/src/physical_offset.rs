//! Shard-qualified physical offsets. Each shard has its own commit log whose
//! byte offsets start at 0; the offset the outside world sees (in records,
//! consume-queue units, offset message ids, VIEW_MESSAGE_BY_ID) carries the
//! shard id in its top bits so that one 64-bit value names a byte of one
//! shard's log:
//!
//! ```text
//!  63   62            52 51                                         0
//! +---+----------------+--------------------------------------------+
//! | 0 | shard id (11b) |  byte offset in that shard's log (52 bits)  |
//! +---+----------------+--------------------------------------------+
//! ```
//!
//! The sign bit stays 0 so Java clients see a positive `long`. 52 bits of
//! log is 4 PiB per shard; 11 bits is 2048 shards. Shard 0 offsets equal
//! plain RocketMQ offsets.

/// Bits of a physical offset that address bytes within one shard's log.
pub const LOCAL_OFFSET_BITS: u32 = 52;
/// Largest shard id that fits.
pub const SHARD_ID_MAX: u16 = (1 << 11) - 1;
const LOCAL_MASK: i64 = (1 << LOCAL_OFFSET_BITS) - 1;

/// Joins a shard id and a local log offset into a physical offset.
pub fn compose(shard_id: u16, local: u64) -> i64 {
    let shard = i64::from(shard_id.min(SHARD_ID_MAX));
    (shard << LOCAL_OFFSET_BITS) | (local as i64 & LOCAL_MASK)
}

/// The shard id of a physical offset.
pub fn shard_of(physical_offset: i64) -> u16 {
    u16::try_from((physical_offset >> LOCAL_OFFSET_BITS) & i64::from(SHARD_ID_MAX)).unwrap_or(0)
}

/// The byte offset in its shard's log of a physical offset.
pub fn local_of(physical_offset: i64) -> u64 {
    (physical_offset & LOCAL_MASK) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn shard_and_local_offset_round_trip(shard in 0u16..=SHARD_ID_MAX, local in 0u64..(1 << LOCAL_OFFSET_BITS)) {
            let physical = compose(shard, local);
            prop_assert!(physical >= 0);
            prop_assert_eq!(shard_of(physical), shard);
            prop_assert_eq!(local_of(physical), local);
        }
    }
}
