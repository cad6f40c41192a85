//! The GET_ROUTEINFO_BY_TOPIC (105) reply body [`TopicRouteData`] with its
//! [`QueueData`] and [`BrokerData`] (spec §2.8); also the body of
//! REGISTER_TOPIC_IN_NAMESRV (217).
//!
//! `brokerAddrs` is keyed by broker id (0 = master). Old Java servers write
//! those keys unquoted; [`super::decode_json`] accepts that, and we always
//! write them quoted (which fastjson reads too).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `PermName` bit: topic may be used as an auto-create template.
pub const PERM_INHERIT: i32 = 0x1;
/// `PermName` bit: writable.
pub const PERM_WRITE: i32 = 0x2;
/// `PermName` bit: readable.
pub const PERM_READ: i32 = 0x4;
/// `PermName` bit: priority (unused by clients).
pub const PERM_PRIORITY: i32 = 0x8;
/// Read + write, the permission of an ordinary topic (`PERM_READ | PERM_WRITE`).
pub const PERM_READ_WRITE: i32 = PERM_READ | PERM_WRITE;
/// The broker id of a master in `brokerAddrs`.
pub const MASTER_ID: i64 = 0;

/// `TopicRouteData`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    /// `brokerDatas`: the brokers that hold queues of the topic.
    pub broker_datas: Vec<BrokerData>,
    /// `filterServerTable`: broker address -> filter servers (obsolete).
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `orderTopicConf`: `brokerName:queueNum;...`, only for ordered topics.
    pub order_topic_conf: Option<String>,
    /// `queueDatas`: queue counts and permissions per broker.
    pub queue_datas: Vec<QueueData>,
}

/// `QueueData`: one broker's queues of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    /// `brokerName`.
    pub broker_name: String,
    /// `perm`: `PERM_*` bits.
    pub perm: i32,
    /// `readQueueNums`.
    pub read_queue_nums: i32,
    /// `topicSysFlag` (spelled `topicSynFlag` before 4.9.0; both accepted).
    #[serde(alias = "topicSynFlag")]
    pub topic_sys_flag: i32,
    /// `writeQueueNums`.
    pub write_queue_nums: i32,
}

impl QueueData {
    /// Whether `perm` allows reading.
    pub fn is_readable(&self) -> bool {
        self.perm & PERM_READ != 0
    }
    /// Whether `perm` allows writing.
    pub fn is_writeable(&self) -> bool {
        self.perm & PERM_WRITE != 0
    }
}

/// `BrokerData`: one broker name's addresses (master and slaves).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// `brokerAddrs`: broker id -> `ip:port`; id 0 is the master.
    pub broker_addrs: BTreeMap<i64, String>,
    /// `brokerName`.
    pub broker_name: String,
    /// `cluster`.
    pub cluster: String,
    /// `enableActingMaster` (4.9.x/5.x slave-acting-master mode; always
    /// false here). Written because some clients, `rocketmq-client-rust`
    /// among them, refuse a `BrokerData` without it; Java ignores it.
    pub enable_acting_master: bool,
}

impl BrokerData {
    /// The master's address, if the broker has a master registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }

    /// The master's address, else the lowest-id slave's (what clients use
    /// for reads when the master is gone).
    pub fn any_addr(&self) -> Option<&str> {
        self.master_addr()
            .or_else(|| self.broker_addrs.values().next().map(String::as_str))
    }
}
