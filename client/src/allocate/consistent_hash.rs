//! `CONSISTENT_HASH`: a ring of virtual nodes per consumer; a queue belongs
//! to the first virtual node clockwise from the queue's hash.
//!
//! Hash = the first four bytes of MD5(key), read as an unsigned big-endian
//! integer. Virtual node keys are `"<cid>-<index>"`; queue keys are Java's
//! `MessageQueue.toString()`. A later virtual node with the same hash
//! replaces an earlier one, as Java's `TreeMap.put` does.

use std::collections::BTreeMap;

use md5::{Digest, Md5};

use super::{AllocateError, AllocateStrategy, my_index};
use crate::queue::MessageQueue;

/// Virtual nodes per consumer when not configured (Java default).
pub const VIRTUAL_NODE_COUNT_DEFAULT: usize = 10;
/// Upper bound on virtual nodes per consumer, to bound the ring's size.
pub const VIRTUAL_NODE_COUNT_MAX: usize = 1024;

/// AllocateMessageQueueConsistentHash.
#[derive(Debug, Clone, Copy)]
pub struct ConsistentHash {
    virtual_nodes: usize,
}

impl Default for ConsistentHash {
    fn default() -> Self {
        Self {
            virtual_nodes: VIRTUAL_NODE_COUNT_DEFAULT,
        }
    }
}

impl ConsistentHash {
    /// A ring with `virtual_nodes` per consumer, clamped to 1..=1024.
    pub fn new(virtual_nodes: usize) -> Self {
        Self {
            virtual_nodes: virtual_nodes.clamp(1, VIRTUAL_NODE_COUNT_MAX),
        }
    }

    fn ring<'a>(&self, cid_all: &'a [String]) -> BTreeMap<u32, &'a str> {
        let mut ring = BTreeMap::new();
        for cid in cid_all {
            for index in 0..self.virtual_nodes {
                ring.insert(ring_hash(&format!("{cid}-{index}")), cid.as_str());
            }
        }
        ring
    }
}

/// The first four MD5 bytes of `key`, big-endian.
pub fn ring_hash(key: &str) -> u32 {
    let digest = Md5::digest(key.as_bytes());
    let mut first = [0u8; 4];
    for (dst, src) in first.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    u32::from_be_bytes(first)
}

impl AllocateStrategy for ConsistentHash {
    fn name(&self) -> &str {
        "CONSISTENT_HASH"
    }

    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        if my_index(current_cid, mq_all, cid_all)?.is_none() {
            return Ok(Vec::new());
        }
        let ring = self.ring(cid_all);
        let owner = |mq: &MessageQueue| -> Option<&str> {
            let hash = ring_hash(&mq.to_string());
            ring.range(hash..)
                .next()
                .or_else(|| ring.iter().next())
                .map(|(_, cid)| *cid)
        };
        Ok(mq_all
            .iter()
            .filter(|mq| owner(mq) == Some(current_cid))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ring_hash_is_the_first_four_md5_bytes_big_endian() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(ring_hash(""), 0xd41d_8cd9);
        // MD5("abc") = 900150983cd24fb0d6963f7d28e17f72
        assert_eq!(ring_hash("abc"), 0x9001_5098);
    }

    #[test]
    fn a_single_consumer_owns_every_queue() {
        let mq = queues("b", 5);
        let got = ConsistentHash::default()
            .allocate("g", "c000", &mq, &cids(1))
            .unwrap();
        assert_eq!(got, mq);
    }

    #[test]
    fn adding_a_consumer_only_moves_queues_to_the_newcomer() {
        let mq = queues("b", 32);
        let s = ConsistentHash::default();
        let before = allocation_of(&s, &mq, &cids(3));
        let after = allocation_of(&s, &mq, &cids(4));
        for (old, new) in before.iter().zip(after.iter()) {
            assert!(
                new.iter().all(|q| old.contains(q)),
                "a queue moved between old consumers"
            );
        }
    }

    proptest! {
        #[test]
        fn every_queue_goes_to_exactly_one_consumer(
            n in 1i32..48, c in 1usize..12, v in 1usize..20
        ) {
            let mq = queues("b", n);
            assert_partition(&mq, &allocation_of(&ConsistentHash::new(v), &mq, &cids(c)));
        }
    }
}
