//! Subscription groups (consumer group configurations): created by admins
//! or automatically on first use, persisted in `config/subscriptionGroup.json`
//! in Java's shape.
//!
//! Written under one `Mutex<SubscriptionGroupTable>` in
//! [`crate::state::BrokerState`], never locked across `.await`; the send
//! and pull paths read a per-shard snapshot instead, rebuilt when the
//! table's epoch moves (as for topics, see [`crate::topics`]).
//!
//! ```text
//! {"dataVersion":{"counter":1,"timestamp":...},
//!  "subscriptionGroupTable":{"g":{"brokerId":0,"consumeBroadcastEnable":true,
//!     "consumeEnable":true,"consumeFromMinEnable":true,"groupName":"g",
//!     "notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,
//!     "retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}}}
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::topics::DataVersion;

/// Default of `subscription_groups_max`.
pub const GROUPS_MAX_DEFAULT: usize = 100_000;
/// Largest `subscription_groups_max` accepted.
pub const GROUPS_MAX_CEILING: usize = 1_000_000;

/// `SubscriptionGroupConfig.java`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    pub group_name: String,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_broadcast_enable: bool,
    pub retry_queue_nums: i32,
    pub retry_max_times: i32,
    pub broker_id: i64,
    pub which_broker_when_consume_slowly: i64,
    pub notify_consumer_ids_changed_enable: bool,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
        }
    }
}

impl SubscriptionGroupConfig {
    pub fn named(group: &str) -> Self {
        SubscriptionGroupConfig {
            group_name: group.to_owned(),
            ..SubscriptionGroupConfig::default()
        }
    }
}

/// The file form of the table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default)]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

/// All subscription groups of this broker.
#[derive(Debug)]
pub struct SubscriptionGroupTable {
    groups: BTreeMap<String, SubscriptionGroupConfig>,
    data_version: DataVersion,
    dirty: bool,
    /// Bumped on every change, read by shards without the lock.
    epoch: Arc<AtomicU64>,
    /// `subscription_groups_max`: a group beyond it is not created.
    groups_max: usize,
}

impl Default for SubscriptionGroupTable {
    fn default() -> Self {
        SubscriptionGroupTable {
            groups: BTreeMap::new(),
            data_version: DataVersion::default(),
            dirty: false,
            epoch: Arc::default(),
            groups_max: GROUPS_MAX_DEFAULT,
        }
    }
}

/// A shard's read-only copy of the group table.
pub type GroupSnapshot = HashMap<String, Rc<SubscriptionGroupConfig>>;

impl SubscriptionGroupTable {
    /// The persisted table (if any), holding at most `groups_max` groups
    /// from now on (a saved table above it is kept, but does not grow).
    pub fn load(saved: Option<SubscriptionGroupWrapper>, groups_max: usize) -> Self {
        let mut table = SubscriptionGroupTable {
            groups_max,
            ..SubscriptionGroupTable::default()
        };
        if let Some(saved) = saved {
            table.groups = saved.subscription_group_table;
            table.data_version = saved.data_version;
        }
        table
    }

    pub fn get(&self, group: &str) -> Option<&SubscriptionGroupConfig> {
        self.groups.get(group)
    }

    /// The change counter shards compare their snapshot against.
    pub fn epoch(&self) -> Arc<AtomicU64> {
        self.epoch.clone()
    }

    /// A copy for one shard's [`crate::state::Snapshot`].
    pub fn snapshot(&self) -> GroupSnapshot {
        self.groups
            .iter()
            .map(|(name, group)| (name.clone(), Rc::new(group.clone())))
            .collect()
    }

    fn changed(&mut self) {
        self.data_version.bump();
        self.dirty = true;
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// The group's config, created with defaults when `auto_create` allows.
    pub fn find_or_create(
        &mut self,
        group: &str,
        auto_create: bool,
    ) -> Option<SubscriptionGroupConfig> {
        if let Some(found) = self.groups.get(group) {
            return Some(found.clone());
        }
        if !auto_create {
            return None;
        }
        let created = SubscriptionGroupConfig::named(group);
        self.upsert(created.clone()).ok()?;
        Some(created)
    }

    /// Creates or replaces a group; a new one beyond `groups_max` is
    /// refused, the error being the remark to send.
    pub fn upsert(&mut self, config: SubscriptionGroupConfig) -> Result<(), String> {
        if self.groups.len() >= self.groups_max && !self.groups.contains_key(&config.group_name) {
            return Err(self.full_remark(&config.group_name));
        }
        self.groups.insert(config.group_name.clone(), config);
        self.changed();
        Ok(())
    }

    fn full_remark(&self, group: &str) -> String {
        format!(
            "subscription group [{group}] not created: the broker already holds {} groups \
             (subscription_groups_max); delete some or raise subscription_groups_max",
            self.groups_max
        )
    }

    /// Why [`SubscriptionGroupTable::find_or_create`] found no `group`:
    /// the remark of a SUBSCRIPTION_GROUP_NOT_EXIST answer.
    pub fn missing_remark(&self, group: &str, auto_create: bool) -> String {
        if auto_create && self.groups.len() >= self.groups_max {
            return self.full_remark(group);
        }
        format!(
            "subscription group [{group}] does not exist; create it first \
             (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP), or set auto_create_subscription_group"
        )
    }

    pub fn remove(&mut self, group: &str) -> bool {
        let removed = self.groups.remove(group).is_some();
        if removed {
            self.changed();
        }
        removed
    }

    pub fn to_wrapper(&self) -> SubscriptionGroupWrapper {
        SubscriptionGroupWrapper {
            data_version: self.data_version,
            subscription_group_table: self.groups.clone(),
        }
    }

    /// Whether it changed since the last call (the control thread persists then).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_group_is_created_with_java_defaults_only_when_allowed() {
        let mut table = SubscriptionGroupTable::default();
        assert!(table.find_or_create("g", false).is_none());
        let created = table.find_or_create("g", true).unwrap();
        assert_eq!((created.retry_queue_nums, created.retry_max_times), (1, 16));
        assert!(table.take_dirty());
        assert!(!table.take_dirty());
    }

    #[test]
    fn groups_max_bounds_creation_and_says_so() {
        let mut table = SubscriptionGroupTable::load(None, 1);
        assert!(table.find_or_create("g1", true).is_some());
        assert!(table.find_or_create("g2", true).is_none());
        assert!(
            table
                .missing_remark("g2", true)
                .contains("subscription_groups_max")
        );
        assert!(table.missing_remark("g2", false).contains("does not exist"));
        let refused = table
            .upsert(SubscriptionGroupConfig::named("g3"))
            .unwrap_err();
        assert!(refused.contains("subscription_groups_max"), "{refused}");
        // Replacing an existing group is not creating one.
        assert!(table.upsert(SubscriptionGroupConfig::named("g1")).is_ok());
    }

    #[test]
    fn file_form_uses_java_field_names() {
        let mut table = SubscriptionGroupTable::default();
        table.upsert(SubscriptionGroupConfig::named("g")).unwrap();
        let json = serde_json::to_string(&table.to_wrapper()).unwrap();
        assert!(json.contains("\"subscriptionGroupTable\""), "{json}");
        assert!(
            json.contains("\"notifyConsumerIdsChangedEnable\":true"),
            "{json}"
        );
    }
}
