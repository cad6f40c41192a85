//! `MACHINE_ROOM_NEARBY`: consume the queues of my own machine room, and
//! share the queues of rooms that have no consumer with everyone.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{AllocateError, AllocateStrategy, my_index};
use crate::queue::MessageQueue;

/// Tells in which machine room a broker's queue and a consumer live.
pub trait MachineRoomResolver: Send + Sync + std::fmt::Debug {
    /// The room of the broker hosting `mq`.
    fn broker_deploy_in(&self, mq: &MessageQueue) -> String;
    /// The room of consumer `cid`.
    fn consumer_deploy_in(&self, cid: &str) -> String;
}

/// Resolves rooms from name prefixes: the text before the first
/// `separator` of the broker name (`hz@broker-a` -> `hz`) and of the client
/// id (`hz@10.0.0.1@DEFAULT` -> `hz`, if ids are built that way).
#[derive(Debug, Clone)]
pub struct RoomPrefixResolver {
    separator: char,
}

impl RoomPrefixResolver {
    /// A resolver splitting both names at the first `separator`.
    pub fn new(separator: char) -> Self {
        Self { separator }
    }

    fn prefix<'a>(&self, name: &'a str) -> &'a str {
        name.split(self.separator).next().unwrap_or(name)
    }
}

impl MachineRoomResolver for RoomPrefixResolver {
    fn broker_deploy_in(&self, mq: &MessageQueue) -> String {
        self.prefix(&mq.broker_name).to_string()
    }

    fn consumer_deploy_in(&self, cid: &str) -> String {
        self.prefix(cid).to_string()
    }
}

/// AllocateMachineRoomNearby: an inner strategy applied per machine room.
#[derive(Debug, Clone)]
pub struct MachineRoomNearby {
    inner: Arc<dyn AllocateStrategy>,
    resolver: Arc<dyn MachineRoomResolver>,
}

impl MachineRoomNearby {
    /// Wraps `inner`, placing queues and consumers in rooms with `resolver`.
    pub fn new(inner: Arc<dyn AllocateStrategy>, resolver: Arc<dyn MachineRoomResolver>) -> Self {
        Self { inner, resolver }
    }
}

impl AllocateStrategy for MachineRoomNearby {
    fn name(&self) -> &str {
        "MACHINE_ROOM_NEARBY"
    }

    fn allocate(
        &self,
        group: &str,
        current_cid: &str,
        mq_all: &[MessageQueue],
        cid_all: &[String],
    ) -> Result<Vec<MessageQueue>, AllocateError> {
        if my_index(current_cid, mq_all, cid_all)?.is_none() {
            return Ok(Vec::new());
        }
        let mut room_queues: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
        for mq in mq_all {
            let room = self.resolver.broker_deploy_in(mq);
            room_queues.entry(room).or_default().push(mq.clone());
        }
        let mut room_consumers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for cid in cid_all {
            let room = self.resolver.consumer_deploy_in(cid);
            room_consumers.entry(room).or_default().push(cid.clone());
        }
        let my_room = self.resolver.consumer_deploy_in(current_cid);
        let mut mine = Vec::new();
        if let Some(local) = room_queues.remove(&my_room) {
            let neighbours = room_consumers
                .get(&my_room)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            mine.extend(
                self.inner
                    .allocate(group, current_cid, &local, neighbours)?,
            );
        }
        for (room, orphans) in &room_queues {
            if !room_consumers.contains_key(room) {
                mine.extend(self.inner.allocate(group, current_cid, orphans, cid_all)?);
            }
        }
        Ok(mine)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Averagely;
    use super::super::test_support::*;
    use super::*;
    use proptest::prelude::*;

    fn nearby() -> MachineRoomNearby {
        MachineRoomNearby::new(Arc::new(Averagely), Arc::new(RoomPrefixResolver::new('@')))
    }

    #[test]
    fn local_queues_stay_local_and_orphan_rooms_are_shared() {
        let mut mq = queues("hz@a", 2);
        mq.extend(queues("sh@b", 2));
        mq.extend(queues("bj@c", 2));
        mq.sort();
        let cid_all = vec!["hz@1".to_string(), "sh@1".to_string()];
        let hz = nearby().allocate("g", "hz@1", &mq, &cid_all).unwrap();
        let sh = nearby().allocate("g", "sh@1", &mq, &cid_all).unwrap();
        let names = |v: &[MessageQueue]| -> Vec<(String, i32)> {
            v.iter()
                .map(|q| (q.broker_name.clone(), q.queue_id))
                .collect()
        };
        // Room bj has no consumer: its two queues are split between both.
        assert_eq!(
            names(&hz),
            vec![("hz@a".into(), 0), ("hz@a".into(), 1), ("bj@c".into(), 0)]
        );
        assert_eq!(
            names(&sh),
            vec![("sh@b".into(), 0), ("sh@b".into(), 1), ("bj@c".into(), 1)]
        );
    }

    proptest! {
        #[test]
        fn every_queue_goes_to_exactly_one_consumer(
            rooms in proptest::collection::vec((0usize..3, 0i32..6), 1..4),
            consumers in proptest::collection::btree_set((0usize..4, 0u8..4), 1..8),
        ) {
            let names = ["r0", "r1", "r2", "r3"];
            let mut mq = Vec::new();
            for (i, (room, n)) in rooms.iter().enumerate() {
                let room = names.get(*room).unwrap();
                mq.extend(queues(&format!("{room}@b{i}"), *n));
            }
            mq.sort();
            let mut cid_all: Vec<String> = consumers
                .iter()
                .map(|(room, k)| format!("{}@{k}", names.get(*room).unwrap()))
                .collect();
            cid_all.sort();
            let s = nearby();
            assert_partition(&mq, &allocation_of(&s, &mq, &cid_all));
        }
    }
}
