//! Shard-qualified physical offsets, as defined by
//! `ringmq_net::message_id::ShardOffset` (the one definition shared with
//! message ids). Each shard has its own commit log whose byte offsets start
//! at 0; the offset the outside world sees (in records, consume-queue units,
//! offset message ids, VIEW_MESSAGE_BY_ID) carries the shard id in its top
//! bits:
//!
//! ```text
//!  63   62          55 54                                           0
//! +---+--------------+----------------------------------------------+
//! | 0 | shard (8 bit) |  byte offset in that shard's log (55 bits)   |
//! +---+--------------+----------------------------------------------+
//! ```
//!
//! Shard 0 offsets equal plain RocketMQ offsets. The store works with local
//! offsets (`u64`) internally and composes at its edges.

use ringmq_net::message_id::ShardOffset;

/// Largest shard id that fits.
pub const SHARD_ID_MAX: u16 = ShardOffset::MAX_SHARDS - 1;

/// Joins a shard id and a local log offset into a physical offset.
pub fn compose(shard_id: u16, local: u64) -> i64 {
    ShardOffset::compose(
        shard_id.min(SHARD_ID_MAX),
        i64::try_from(local).unwrap_or(ShardOffset::LOCAL_MAX),
    )
}

/// The shard id of a physical offset.
pub fn shard_of(physical_offset: i64) -> u16 {
    ShardOffset::split(physical_offset).0
}

/// The byte offset in its shard's log of a physical offset.
pub fn local_of(physical_offset: i64) -> u64 {
    u64::try_from(ShardOffset::split(physical_offset).1).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn shard_and_local_offset_round_trip(shard in 0u16..=SHARD_ID_MAX, local in 0u64..(1 << 55)) {
            let physical = compose(shard, local);
            prop_assert!(physical >= 0);
            prop_assert_eq!(shard_of(physical), shard);
            prop_assert_eq!(local_of(physical), local);
        }
    }
}
