//! Queue allocation: which of a topic's queues this consumer of a group
//! consumes, given every queue and every consumer id (spec §7.2).
//!
//! Each strategy is a pure function of its inputs, so every consumer of a
//! group, computing independently from the same sorted `mq_all`/`cid_all`,
//! arrives at a disjoint share. The six RocketMQ strategies are here under
//! their Java rule names; any type implementing [`AllocateStrategy`] plugs
//! into the push consumer.
//!
//! ```
//! use ringmq_client::allocate::{AllocateStrategy, Averagely};
//! use ringmq_client::MessageQueue;
//!
//! let queues: Vec<_> = (0..6).map(|q| MessageQueue::new("T", "broker-a", q)).collect();
//! let cids = vec!["c1".to_string(), "c2".to_string(), "c3".to_string()];
//! let mine = Averagely.allocate("g", "c2", &queues, &cids).unwrap();
//! assert_eq!(mine.iter().map(|q| q.queue_id).collect::<Vec<_>>(), vec![2, 3]);
//! ```

mod averagely;
mod by_circle;
mod by_config;
mod consistent_hash;
mod machine_room;
mod machine_room_nearby;

pub use averagely::Averagely;
pub use by_circle::AveragelyByCircle;
pub use by_config::ByConfig;
pub use consistent_hash::{ConsistentHash, VIRTUAL_NODE_COUNT_DEFAULT};
pub use machine_room::ByMachineRoom;
pub use machine_room_nearby::{MachineRoomNearby, MachineRoomResolver, RoomPrefixResolver};

use crate::queue::MessageQueue;

/// Why an allocation could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocateError {
    /// The calling consumer's id is empty (Java throws here too).
    #[error("the current consumer id is empty")]
    EmptyClientId,
}

/// A rule that picks this consumer's queues out of all queues of a topic.
pub trait AllocateStrategy: Send + Sync + std::fmt::Debug {
    /// The RocketMQ name of the rule (`AVG`, `AVG_BY_CIRCLE`, ...).
    fn name(&self) -> &str;

    /// Returns the queues `current_cid` should consume. `mq_all` and
    /// `cid_all` must be sorted (the consumer sorts them before calling).
    fn allocate(
        &self,
        group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError>;
}

/// Java's `AbstractAllocateMessageQueueStrategy.check`, returning my index
/// in `cid_all`, or `None` when there is nothing for me to take.
fn my_index(
    current_cid: &str,
    mq_all: &[MessageQueue],
    cid_all: &[String],
) -> Result<Option<usize>, AllocateError> {
    if current_cid.is_empty() {
        return Err(AllocateError::EmptyClientId);
    }
    if mq_all.is_empty() || cid_all.is_empty() {
        return Ok(None);
    }
    Ok(cid_all.iter().position(|cid| cid == current_cid))
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders shared by the strategy tests.
    use super::*;

    /// `n` queues of topic `T` on broker `broker`, ids 0..n.
    pub fn queues(broker: &str, n: i32) -> Vec<MessageQueue> {
        (0..n).map(|q| MessageQueue::new("T", broker, q)).collect()
    }

    /// Consumer ids `c0..c{n}`, sorted.
    pub fn cids(n: usize) -> Vec<String> {
        let mut all: Vec<String> = (0..n).map(|i| format!("c{i:03}")).collect();
        all.sort();
        all
    }

    /// Queue ids allocated to every consumer, in consumer order.
    pub fn allocation_of(
        strategy: &dyn AllocateStrategy,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Vec<Vec<MessageQueue>> {
        cid_all
            .iter()
            .map(|cid| strategy.allocate("g", cid, mq_all, cid_all).unwrap())
            .collect()
    }

    /// Asserts every queue of `eligible` is allocated exactly once and
    /// nothing else is allocated.
    pub fn assert_partition(eligible: &[MessageQueue], shares: &[Vec<MessageQueue>]) {
        let mut all: Vec<MessageQueue> = shares.iter().flatten().cloned().collect();
        all.sort();
        let mut want = eligible.to_vec();
        want.sort();
        assert_eq!(all, want);
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn empty_current_id_is_an_error_for_every_strategy() {
        let strategies: Vec<Box<dyn AllocateStrategy>> = vec![
            Box::new(Averagely),
            Box::new(AveragelyByCircle),
            Box::new(ConsistentHash::default()),
        ];
        for s in &strategies {
            assert_eq!(
                s.allocate("g", "", &queues("b", 4), &cids(2)),
                Err(AllocateError::EmptyClientId)
            );
        }
    }

    #[test]
    fn unknown_consumer_gets_nothing() {
        let got = Averagely
            .allocate("g", "stranger", &queues("b", 4), &cids(2))
            .unwrap();
        assert!(got.is_empty());
    }
}
