//! Committed consumer offsets per (group, topic, queue), persisted in
//! `config/consumerOffset.json` in Java's shape every few seconds and at
//! shutdown by the control thread.
//!
//! Shared by all shards: one `Mutex<ConsumerOffsetTable>` in
//! [`crate::state::BrokerState`], never locked across `.await`.
//!
//! ```text
//! {"offsetTable":{"<topic>@<group>":{"0":123,"1":456}, ...}}
//! ```
//! (Java writes the queue-id keys unquoted; we write standard JSON.)

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Upper bound on (topic, group) pairs kept.
pub const OFFSET_KEYS_MAX: usize = 1_000_000;

/// The file form.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerOffsetWrapper {
    #[serde(default)]
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// All committed offsets.
#[derive(Debug, Default)]
pub struct ConsumerOffsetTable {
    table: BTreeMap<String, BTreeMap<i32, i64>>,
    dirty: bool,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl ConsumerOffsetTable {
    pub fn load(saved: Option<ConsumerOffsetWrapper>) -> Self {
        ConsumerOffsetTable {
            table: saved.map(|s| s.offset_table).unwrap_or_default(),
            dirty: false,
        }
    }

    /// The committed offset, if the group ever committed one for the queue.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.table.get(&key(topic, group))?.get(&queue_id).copied()
    }

    /// Stores a commit (negative offsets are ignored, as Java does).
    pub fn commit(&mut self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        if offset < 0 {
            return;
        }
        let k = key(topic, group);
        if !self.table.contains_key(&k) && self.table.len() >= OFFSET_KEYS_MAX {
            tracing::warn!(topic, group, "offset table full; commit dropped");
            return;
        }
        self.table.entry(k).or_default().insert(queue_id, offset);
        self.dirty = true;
    }

    /// Forgets every offset of a topic (DELETE_TOPIC_IN_BROKER).
    pub fn remove_topic(&mut self, topic: &str) {
        let prefix = format!("{topic}@");
        let before = self.table.len();
        self.table.retain(|k, _| !k.starts_with(&prefix));
        self.dirty |= self.table.len() != before;
    }

    /// Forgets every offset of a group (DELETE_SUBSCRIPTIONGROUP).
    pub fn remove_group(&mut self, group: &str) {
        let suffix = format!("@{group}");
        let before = self.table.len();
        self.table.retain(|k, _| !k.ends_with(&suffix));
        self.dirty |= self.table.len() != before;
    }

    /// Topics the group has committed offsets for (Java `whichTopicByConsumer`).
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        let suffix = format!("@{group}");
        self.table
            .keys()
            .filter_map(|k| k.strip_suffix(&suffix))
            .map(str::to_owned)
            .collect()
    }

    /// Groups with committed offsets for the topic (Java `whichGroupByTopic`).
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        let prefix = format!("{topic}@");
        self.table
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect()
    }

    /// The file form, if anything changed since the last snapshot.
    pub fn take_dirty_snapshot(&mut self) -> Option<ConsumerOffsetWrapper> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(self.snapshot())
    }

    pub fn snapshot(&self) -> ConsumerOffsetWrapper {
        ConsumerOffsetWrapper {
            offset_table: self.table.clone(),
        }
    }

    /// Number of (topic, group) entries.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commit_then_query_and_file_round_trip() {
        let mut table = ConsumerOffsetTable::default();
        assert_eq!(table.query("g", "t", 0), None);
        table.commit("g", "t", 0, 5);
        table.commit("g", "t", 1, 7);
        table.commit("g", "t", 1, -1);
        assert_eq!(table.query("g", "t", 1), Some(7));
        let snapshot = table.take_dirty_snapshot().unwrap();
        assert!(table.take_dirty_snapshot().is_none());
        let json = serde_json::to_string(&snapshot).unwrap();
        assert_eq!(json, r#"{"offsetTable":{"t@g":{"0":5,"1":7}}}"#);
        let back = ConsumerOffsetTable::load(Some(serde_json::from_str(&json).unwrap()));
        assert_eq!(back.query("g", "t", 0), Some(5));
    }

    #[test]
    fn removing_a_topic_or_group_forgets_its_offsets() {
        let mut table = ConsumerOffsetTable::default();
        table.commit("g", "t", 0, 5);
        table.commit("h", "u", 0, 5);
        table.remove_topic("t");
        table.remove_group("h");
        assert_eq!(table.len(), 0);
    }
}
