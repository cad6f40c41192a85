//! `MACHINE_ROOM`: only queues of brokers named `room@name` whose room is in
//! the configured set are eligible; they are split in blocks, with the
//! remainder dealt one each to the first consumers.

use std::collections::BTreeSet;

use super::{AllocateError, AllocateStrategy, my_index};
use crate::queue::MessageQueue;

/// AllocateMessageQueueByMachineRoom.
#[derive(Debug, Clone, Default)]
pub struct ByMachineRoom {
    consume_idcs: BTreeSet<String>,
}

impl ByMachineRoom {
    /// A strategy that consumes only from brokers in `rooms`.
    pub fn new<I, S>(rooms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            consume_idcs: rooms.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether `mq`'s broker name is `room@name` with an accepted room.
    /// Mirrors Java's `split("@")`, which drops trailing empty pieces.
    pub fn is_eligible(&self, mq: &MessageQueue) -> bool {
        let mut pieces: Vec<&str> = mq.broker_name.split('@').collect();
        while pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.pop();
        }
        match pieces.as_slice() {
            [room, _] => self.consume_idcs.contains(*room),
            _ => false,
        }
    }
}

impl AllocateStrategy for ByMachineRoom {
    fn name(&self) -> &str {
        "MACHINE_ROOM"
    }

    fn allocate(
        &self,
        _group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        let Some(index) = my_index(current_cid, mq_all, cid_all)? else {
            return Ok(Vec::new());
        };
        let eligible: Vec<&MessageQueue> =
            mq_all.iter().filter(|mq| self.is_eligible(mq)).collect();
        let c = cid_all.len();
        let block = eligible.len() / c;
        let rem = eligible.len() % c;
        let start = block * index;
        let mut mine: Vec<MessageQueue> = eligible
            .iter()
            .skip(start)
            .take(block)
            .map(|mq| (*mq).clone())
            .collect();
        if index < rem
            && let Some(extra) = eligible.get(block * c + index)
        {
            mine.push((*extra).clone());
        }
        Ok(mine)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use proptest::prelude::*;

    fn rooms_queues() -> Vec<MessageQueue> {
        let mut all = queues("hz@broker-a", 4);
        all.extend(queues("sh@broker-b", 3));
        all.extend(queues("plain", 2));
        all.sort();
        all
    }

    #[test]
    fn only_queues_in_accepted_rooms_are_allocated() {
        let s = ByMachineRoom::new(["hz"]);
        let shares = allocation_of(&s, &rooms_queues(), &cids(3));
        let got: Vec<Vec<(String, i32)>> = shares
            .iter()
            .map(|s| {
                s.iter()
                    .map(|q| (q.broker_name.clone(), q.queue_id))
                    .collect()
            })
            .collect();
        // 4 eligible, 3 consumers: block 1 each, remainder 1 to consumer 0
        // from the tail (index 3).
        let hz = |q| ("hz@broker-a".to_string(), q);
        assert_eq!(got, vec![vec![hz(0), hz(3)], vec![hz(1)], vec![hz(2)]]);
    }

    #[test]
    fn broker_names_without_exactly_one_room_are_not_eligible() {
        let s = ByMachineRoom::new(["hz"]);
        assert!(!s.is_eligible(&MessageQueue::new("T", "hz@a@b", 0)));
        assert!(!s.is_eligible(&MessageQueue::new("T", "hz", 0)));
        assert!(!s.is_eligible(&MessageQueue::new("T", "hz@", 0)));
        assert!(s.is_eligible(&MessageQueue::new("T", "hz@a", 0)));
    }

    proptest! {
        #[test]
        fn every_eligible_queue_goes_to_exactly_one_consumer(
            a in 0i32..20, b in 0i32..20, c in 1usize..12
        ) {
            let mut mq = queues("hz@a", a);
            mq.extend(queues("sh@b", b));
            mq.sort();
            let s = ByMachineRoom::new(["hz", "sh"]);
            let eligible: Vec<_> = mq.iter().filter(|q| s.is_eligible(q)).cloned().collect();
            assert_partition(&eligible, &allocation_of(&s, &mq, &cids(c)));
        }
    }
}
