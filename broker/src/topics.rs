//! The topic table: every topic this broker serves, with its queue counts and
//! permission bits, the system topics created at start-up, auto-creation
//! through the `TBW102` template, and `config/topics.json` in Java's shape.
//!
//! Written under one `Mutex<TopicTable>` in [`crate::state::BrokerState`],
//! locked briefly and never across `.await`. The send and pull paths do not
//! take that lock: every change bumps the table's epoch (an atomic), and
//! each shard reads its own snapshot ([`TopicTable::snapshot`]), rebuilt
//! only when the epoch moved ([`crate::state::Snapshot`]).
//!
//! ```text
//! config/topics.json
//! {"dataVersion":{"counter":3,"timestamp":1700000000000},
//!  "topicConfigTable":{"T":{"order":false,"perm":6,"readQueueNums":8,
//!     "topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,
//!     "writeQueueNums":8}, ...}}
//! ```

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::BrokerConfig;
// The naming facts (template topic, retry/DLQ prefixes, forbidden topics,
// length limit) live in `ringmq_net::topic`; re-exported for existing callers.
use ringmq_net::topic::{self as names, SYSTEM_TOPIC_PREFIX, SYSTEM_TOPICS, TopicNameError};
pub use ringmq_net::topic::{
    AUTO_CREATE_TOPIC, DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, SEND_FORBIDDEN_TOPICS,
    TOPIC_NAME_BYTES_MAX,
};

// Java's `PermName` bits live with the route body in `ringmq_net`.
pub use ringmq_net::body::route::{PERM_INHERIT, PERM_READ, PERM_READ_WRITE, PERM_WRITE};

/// Queue count of an explicitly created topic when none is given.
pub const CREATED_TOPIC_QUEUE_NUMS: i32 = 8;
/// Upper bound on a topic's queue count (RocketMQ has none; we keep tables bounded).
pub const TOPIC_QUEUE_NUMS_MAX: i32 = 1024;
/// Default of `topics_max`: the number of topics a broker keeps.
pub const TOPICS_MAX_DEFAULT: usize = 100_000;
/// Largest `topics_max` accepted (the table lives in memory and in every
/// registration).
pub const TOPICS_MAX_CEILING: usize = 1_000_000;

/// One topic's configuration (`TopicConfig.java`), in Java's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfig {
    pub topic_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    #[serde(default = "single_tag")]
    pub topic_filter_type: String,
    #[serde(default, alias = "topicSynFlag")]
    pub topic_sys_flag: i32,
    #[serde(default)]
    pub order: bool,
    /// RocketMQ 5 topic attributes, e.g. `message.type`
    /// ([`ringmq_net::topic_attributes`]); written only when present, so a
    /// 4.x tool reads the same JSON as before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

fn single_tag() -> String {
    "SINGLE_TAG".to_owned()
}

impl TopicConfig {
    /// A topic with `queues` read and write queues and `perm`.
    pub fn new(name: &str, queues: i32, perm: i32) -> Self {
        TopicConfig {
            topic_name: name.to_owned(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm,
            topic_filter_type: single_tag(),
            topic_sys_flag: 0,
            order: false,
            attributes: BTreeMap::new(),
        }
    }

    /// The message type the topic accepts, `None` for every type.
    pub fn message_type(&self) -> Option<ringmq_net::topic_attributes::MessageType> {
        ringmq_net::topic_attributes::message_type(&self.attributes)
    }

    /// Whether the topic accepts a message of type `kind`.
    pub fn accepts(&self, kind: ringmq_net::topic_attributes::MessageType) -> bool {
        ringmq_net::topic_attributes::accepts(&self.attributes, kind)
    }

    pub fn is_readable(&self) -> bool {
        self.perm & PERM_READ != 0
    }

    pub fn is_writable(&self) -> bool {
        self.perm & PERM_WRITE != 0
    }

    /// Queue ids `0..max(read, write)`.
    pub fn queue_count(&self) -> i32 {
        self.read_queue_nums.max(self.write_queue_nums)
    }
}

/// `DataVersion.java`: bumped on every change so nameservers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DataVersion {
    pub timestamp: i64,
    pub counter: i64,
}

impl DataVersion {
    pub fn bump(&mut self) {
        self.counter = self.counter.saturating_add(1);
        self.timestamp = crate::clock::now_ms();
    }
}

/// The file form of the table (`TopicConfigSerializeWrapper`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfigWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    #[serde(default)]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

/// Why a topic could not be found or created; carries the response code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRefusal {
    pub code: i32,
    pub remark: String,
}

/// All topics of this broker.
#[derive(Debug)]
pub struct TopicTable {
    topics: BTreeMap<String, TopicConfig>,
    data_version: DataVersion,
    /// Bumped on every change, read by shards without the lock.
    epoch: Arc<AtomicU64>,
    /// `topics_max`: creating a topic beyond it is refused.
    topics_max: usize,
}

impl Default for TopicTable {
    fn default() -> Self {
        TopicTable {
            topics: BTreeMap::new(),
            data_version: DataVersion::default(),
            epoch: Arc::default(),
            topics_max: TOPICS_MAX_DEFAULT,
        }
    }
}

/// A shard's read-only copy of the topic table.
pub type TopicSnapshot = HashMap<String, Rc<TopicConfig>>;

impl TopicTable {
    /// The persisted table (if any) plus the system topics.
    pub fn load(saved: Option<TopicConfigWrapper>, config: &BrokerConfig) -> Self {
        let mut table = TopicTable {
            topics_max: config.topics_max,
            ..TopicTable::default()
        };
        if let Some(saved) = saved {
            table.topics = saved.topic_config_table;
            table.data_version = saved.data_version;
        }
        for topic in system_topics(config) {
            table
                .topics
                .entry(topic.topic_name.clone())
                .or_insert(topic);
        }
        table.changed();
        table
    }

    /// Records a change: new data version, new epoch.
    fn changed(&mut self) {
        self.data_version.bump();
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// The change counter shards compare their snapshot against.
    pub fn epoch(&self) -> Arc<AtomicU64> {
        self.epoch.clone()
    }

    /// A new data version with no topic changed, so that nameservers take
    /// the next registration (the broker's write permission changed).
    pub fn touch(&mut self) {
        self.changed();
    }

    /// A copy for one shard's [`crate::state::Snapshot`].
    pub fn snapshot(&self) -> TopicSnapshot {
        self.topics
            .iter()
            .map(|(name, topic)| (name.clone(), Rc::new(topic.clone())))
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&TopicConfig> {
        self.topics.get(name)
    }

    pub fn data_version(&self) -> DataVersion {
        self.data_version
    }

    /// A snapshot in file / registration form.
    pub fn to_wrapper(&self) -> TopicConfigWrapper {
        TopicConfigWrapper {
            data_version: self.data_version,
            topic_config_table: self.topics.clone(),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.topics.keys().cloned().collect()
    }

    /// Creates or replaces a topic; `true` when something changed.
    pub fn upsert(&mut self, topic: TopicConfig) -> Result<bool, TopicRefusal> {
        if self.topics.get(&topic.topic_name) == Some(&topic) {
            return Ok(false);
        }
        if self.topics.len() >= self.topics_max && !self.topics.contains_key(&topic.topic_name) {
            return Err(TopicRefusal {
                code: ringmq_net::code::response::SYSTEM_ERROR,
                remark: format!(
                    "topic[{}] not created: the broker already holds {} topics (topics_max); \
                     delete some or raise topics_max",
                    topic.topic_name, self.topics_max
                ),
            });
        }
        self.topics.insert(topic.topic_name.clone(), topic);
        self.changed();
        Ok(true)
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let removed = self.topics.remove(name).is_some();
        if removed {
            self.changed();
        }
        removed
    }

    /// The topic to send to, auto-creating it as RocketMQ does (spec §2.3
    /// step 3). `Ok((config, created))`.
    pub fn topic_for_send(
        &mut self,
        topic: &str,
        default_topic: &str,
        default_queue_nums: i32,
        auto_create: bool,
    ) -> Result<(TopicConfig, bool), TopicRefusal> {
        if let Some(existing) = self.topics.get(topic) {
            return Ok((existing.clone(), false));
        }
        if names::is_retry_topic(topic) || names::is_dlq_topic(topic) {
            // Java 4.9: a DLQ is created write-only, so its group cannot read it.
            let perm = if names::is_dlq_topic(topic) {
                PERM_WRITE
            } else {
                PERM_READ_WRITE
            };
            let created = TopicConfig::new(topic, 1, perm);
            self.upsert(created.clone())?;
            return Ok((created, true));
        }
        let template = self
            .topics
            .get(default_topic)
            .filter(|t| t.perm & PERM_INHERIT != 0);
        match template {
            Some(template) if auto_create => {
                let queues = default_queue_nums
                    .clamp(1, TOPIC_QUEUE_NUMS_MAX)
                    .min(template.write_queue_nums.max(1));
                let perm = template.perm & !PERM_INHERIT;
                let created = TopicConfig::new(topic, queues, perm);
                // Full table: the topic does not exist and will not be made.
                self.upsert(created.clone())
                    .map_err(|refusal| TopicRefusal {
                        code: ringmq_net::code::response::TOPIC_NOT_EXIST,
                        remark: refusal.remark,
                    })?;
                Ok((created, true))
            }
            _ => Err(TopicRefusal {
                code: ringmq_net::code::response::TOPIC_NOT_EXIST,
                remark: format!(
                    "topic[{topic}] not exist, apply first please! (auto-creation through {default_topic:?} is {})",
                    if auto_create {
                        "not possible: the template is missing or not inheritable"
                    } else {
                        "disabled"
                    }
                ),
            }),
        }
    }

    /// Creates `%RETRY%<group>` (1 queue, read-write) if missing.
    pub fn ensure_retry_topic(&mut self, group: &str) -> Result<bool, TopicRefusal> {
        let name = names::retry_topic(group);
        if self.topics.contains_key(&name) {
            return Ok(false);
        }
        self.upsert(TopicConfig::new(&name, 1, PERM_READ_WRITE))
    }
}

/// Whether UPDATE_AND_CREATE_TOPIC / DELETE must refuse `name`.
pub fn is_system_topic(name: &str, config: &BrokerConfig) -> bool {
    SYSTEM_TOPICS.contains(&name)
        || name == config.cluster_name
        || name == config.broker_name
        || name.starts_with(SYSTEM_TOPIC_PREFIX)
}

/// Checks a topic name as `TopicValidator` does (see
/// [`ringmq_net::topic::validate_topic_name`]). The error is the remark to send.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    names::validate_topic_name(name).map_err(|error| match error {
        TopicNameError::Blank => "the specified topic is blank".to_owned(),
        TopicNameError::TooLong { .. } => format!(
            "the specified topic is longer than topic max length {TOPIC_NAME_BYTES_MAX}"
        ),
        TopicNameError::IllegalCharacter { topic, character } => format!(
            "the specified topic[{topic}] contains illegal character {character:?}; allowed: [%|a-zA-Z0-9_-]"
        ),
    })
}

/// The topics a broker creates at start-up (spec §6.1).
fn system_topics(config: &BrokerConfig) -> Vec<TopicConfig> {
    let mut topics = vec![
        TopicConfig::new(names::SELF_TEST_TOPIC, 1, PERM_READ_WRITE),
        TopicConfig::new(&config.cluster_name, 16, PERM_INHERIT | PERM_READ_WRITE),
        TopicConfig::new(&config.broker_name, 1, PERM_INHERIT | PERM_READ_WRITE),
        TopicConfig::new(names::OFFSET_MOVED_EVENT_TOPIC, 1, PERM_READ_WRITE),
        TopicConfig::new(names::SCHEDULE_TOPIC, 18, PERM_READ_WRITE),
        TopicConfig::new(names::TRANS_HALF_TOPIC, 1, PERM_READ_WRITE),
        TopicConfig::new(names::TRANS_OP_HALF_TOPIC, 1, PERM_READ_WRITE),
        TopicConfig::new(names::TRANS_CHECK_MAX_TIME_TOPIC, 1, PERM_READ_WRITE),
        TopicConfig::new(
            &format!("{}{}", config.cluster_name, names::REPLY_TOPIC_SUFFIX),
            1,
            PERM_READ_WRITE,
        ),
    ];
    if config.auto_create_topic_enable {
        let queues =
            i32::try_from(config.default_topic_queue_nums).unwrap_or(CREATED_TOPIC_QUEUE_NUMS);
        topics.push(TopicConfig::new(
            AUTO_CREATE_TOPIC,
            queues,
            PERM_INHERIT | PERM_READ_WRITE,
        ));
    }
    topics
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ringmq_net::code::response;

    fn table() -> TopicTable {
        TopicTable::load(None, &auto_create_config())
    }

    fn auto_create_config() -> BrokerConfig {
        BrokerConfig {
            auto_create_topic_enable: true,
            ..BrokerConfig::default()
        }
    }

    #[test]
    fn topics_max_refuses_new_topics_but_not_updates() {
        let config = BrokerConfig {
            topics_max: 1,
            ..auto_create_config()
        };
        let mut table = TopicTable::load(None, &config);
        // The system topics already exceed one.
        let refused = table
            .upsert(TopicConfig::new("T9", 1, PERM_READ_WRITE))
            .unwrap_err();
        assert_eq!(refused.code, response::SYSTEM_ERROR);
        assert!(refused.remark.contains("topics_max"), "{}", refused.remark);
        let tbw = table.get(AUTO_CREATE_TOPIC).unwrap().clone();
        assert!(table.upsert(TopicConfig { perm: 7, ..tbw }).is_ok());
        let refused = table
            .topic_for_send("T9", AUTO_CREATE_TOPIC, 4, true)
            .unwrap_err();
        assert_eq!(refused.code, response::TOPIC_NOT_EXIST);
        assert!(refused.remark.contains("topics_max"), "{}", refused.remark);
    }

    #[test]
    fn broker_defaults_create_no_template() {
        let table = TopicTable::load(None, &BrokerConfig::default());
        assert!(table.get(AUTO_CREATE_TOPIC).is_none());
    }

    #[test]
    fn system_topics_exist_at_start_with_tbw102_inheritable() {
        let table = table();
        let tbw = table.get(AUTO_CREATE_TOPIC).unwrap();
        assert_eq!(tbw.perm, 7);
        assert_eq!(tbw.read_queue_nums, 8);
        assert!(table.get("SELF_TEST_TOPIC").is_some());
    }

    #[test]
    fn send_to_unknown_topic_auto_creates_with_requested_queue_count() {
        let mut table = table();
        let (topic, created) = table
            .topic_for_send("T1", AUTO_CREATE_TOPIC, 4, true)
            .unwrap();
        assert!(created);
        assert_eq!(
            (topic.read_queue_nums, topic.write_queue_nums, topic.perm),
            (4, 4, 6)
        );
        let (_, created) = table
            .topic_for_send("T1", AUTO_CREATE_TOPIC, 4, true)
            .unwrap();
        assert!(!created);
    }

    #[test]
    fn send_to_unknown_topic_without_auto_create_is_topic_not_exist() {
        let mut table = table();
        let refusal = table
            .topic_for_send("T1", AUTO_CREATE_TOPIC, 4, false)
            .unwrap_err();
        assert_eq!(refusal.code, response::TOPIC_NOT_EXIST);
    }

    #[test]
    fn retry_topics_get_one_queue() {
        let mut table = table();
        let (topic, _) = table
            .topic_for_send("%RETRY%g", AUTO_CREATE_TOPIC, 4, true)
            .unwrap();
        assert_eq!(topic.write_queue_nums, 1);
    }

    #[test]
    fn topic_names_are_validated() {
        assert!(validate_topic_name("Good_topic-1%|").is_ok());
        assert!(validate_topic_name("bad topic").is_err());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name(&"x".repeat(128)).is_err());
    }

    #[test]
    fn refusal_remarks_name_the_rule_broken() {
        assert_eq!(
            validate_topic_name(" "),
            Err("the specified topic is blank".to_owned())
        );
        assert_eq!(
            validate_topic_name(&"x".repeat(128)),
            Err("the specified topic is longer than topic max length 127".to_owned())
        );
        assert_eq!(
            validate_topic_name("a b"),
            Err(
                "the specified topic[a b] contains illegal character ' '; allowed: [%|a-zA-Z0-9_-]"
                    .to_owned()
            )
        );
    }

    #[test]
    fn table_round_trips_through_its_file_form() {
        let mut table = table();
        table
            .upsert(TopicConfig::new("T2", 3, PERM_READ_WRITE))
            .unwrap();
        let json = serde_json::to_string(&table.to_wrapper()).unwrap();
        let back: TopicConfigWrapper = serde_json::from_str(&json).unwrap();
        let reloaded = TopicTable::load(Some(back), &auto_create_config());
        assert_eq!(reloaded.get("T2"), table.get("T2"));
    }
}
