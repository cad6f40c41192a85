//! Headers of nameserver calls: routes, broker registration, KV config,
//! write permission, topic lists (spec §2.8–§2.10, §10).

use crate::command_header;

command_header! {
    /// `GetRouteInfoRequestHeader` (105, GET_ROUTEINFO_BY_TOPIC). Reply body:
    /// [`crate::body::TopicRouteData`].
    pub struct GetRouteInfoRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `acceptStandardJsonOnly`: ask for quoted map keys.
        pub accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
    }
}

command_header! {
    /// `RegisterBrokerRequestHeader` (103). Body:
    /// [`crate::body::RegisterBrokerBody`], zlib-compressed when
    /// `compressed` is true.
    pub struct RegisterBrokerRequestHeader {
        /// `brokerName`.
        pub broker_name: String = "brokerName",
        /// `brokerAddr`: `ip:port`.
        pub broker_addr: String = "brokerAddr",
        /// `clusterName`.
        pub cluster_name: String = "clusterName",
        /// `haServerAddr`: `ip:haPort`.
        pub ha_server_addr: String = "haServerAddr",
        /// `brokerId`: 0 = master.
        pub broker_id: i64 = "brokerId",
        /// `compressed` (Java primitive, default false).
        pub compressed: bool = "compressed" or_default,
        /// `bodyCrc32`: CRC32 of the body masked with 0x7FFFFFFF, 0 = unchecked.
        pub body_crc32: i32 = "bodyCrc32" or_default,
        /// `heartbeatTimeoutMillis` (5.x brokers).
        pub heartbeat_timeout_millis: Option<i64> = "heartbeatTimeoutMillis",
        /// `enableActingMaster` (5.x brokers).
        pub enable_acting_master: Option<bool> = "enableActingMaster",
    }
}

command_header! {
    /// `RegisterBrokerResponseHeader` (103). Body: a
    /// [`crate::body::KvTable`] of namespace `ORDER_TOPIC_CONFIG`, or none.
    pub struct RegisterBrokerResponseHeader {
        /// `haServerAddr`: the master's HA address (for slaves).
        pub ha_server_addr: Option<String> = "haServerAddr",
        /// `masterAddr`: the master's address (for slaves).
        pub master_addr: Option<String> = "masterAddr",
    }
}

command_header! {
    /// `UnregisterBrokerRequestHeader` (104).
    pub struct UnregisterBrokerRequestHeader {
        /// `brokerName`.
        pub broker_name: String = "brokerName",
        /// `brokerAddr`.
        pub broker_addr: String = "brokerAddr",
        /// `clusterName`.
        pub cluster_name: String = "clusterName",
        /// `brokerId`.
        pub broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// `QueryDataVersionRequestHeader` (322). Body: the broker's
    /// [`crate::body::DataVersion`].
    pub struct QueryDataVersionRequestHeader {
        /// `brokerName`.
        pub broker_name: String = "brokerName",
        /// `brokerAddr`.
        pub broker_addr: String = "brokerAddr",
        /// `clusterName`.
        pub cluster_name: String = "clusterName",
        /// `brokerId`.
        pub broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// `QueryDataVersionResponseHeader` (322). Body: the nameserver's
    /// [`crate::body::DataVersion`], if known.
    pub struct QueryDataVersionResponseHeader {
        /// `changed`: whether the broker's data version differs.
        pub changed: bool = "changed",
    }
}

command_header! {
    /// `PutKVConfigRequestHeader` (100).
    pub struct PutKvConfigRequestHeader {
        /// `namespace`.
        pub namespace: String = "namespace",
        /// `key`.
        pub key: String = "key",
        /// `value`.
        pub value: String = "value",
    }
}

command_header! {
    /// `GetKVConfigRequestHeader` (101).
    pub struct GetKvConfigRequestHeader {
        /// `namespace`.
        pub namespace: String = "namespace",
        /// `key`.
        pub key: String = "key",
    }
}

command_header! {
    /// `GetKVConfigResponseHeader` (101).
    pub struct GetKvConfigResponseHeader {
        /// `value`.
        pub value: Option<String> = "value",
    }
}

command_header! {
    /// `DeleteKVConfigRequestHeader` (102).
    pub struct DeleteKvConfigRequestHeader {
        /// `namespace`.
        pub namespace: String = "namespace",
        /// `key`.
        pub key: String = "key",
    }
}

command_header! {
    /// `GetKVListByNamespaceRequestHeader` (219). Reply body:
    /// [`crate::body::KvTable`].
    pub struct GetKvListByNamespaceRequestHeader {
        /// `namespace`.
        pub namespace: String = "namespace",
    }
}

command_header! {
    /// `WipeWritePermOfBrokerRequestHeader` (205).
    pub struct WipeWritePermOfBrokerRequestHeader {
        /// `brokerName`.
        pub broker_name: String = "brokerName",
    }
}

command_header! {
    /// `WipeWritePermOfBrokerResponseHeader` (205).
    pub struct WipeWritePermOfBrokerResponseHeader {
        /// `wipeTopicCount`: topics whose write permission was removed.
        pub wipe_topic_count: i32 = "wipeTopicCount",
    }
}

command_header! {
    /// `AddWritePermOfBrokerRequestHeader` (327).
    pub struct AddWritePermOfBrokerRequestHeader {
        /// `brokerName`.
        pub broker_name: String = "brokerName",
    }
}

command_header! {
    /// `AddWritePermOfBrokerResponseHeader` (327).
    pub struct AddWritePermOfBrokerResponseHeader {
        /// `addTopicCount`: topics whose write permission was restored.
        pub add_topic_count: i32 = "addTopicCount",
    }
}

command_header! {
    /// `GetTopicsByClusterRequestHeader` (224). Reply body:
    /// [`crate::body::TopicList`].
    pub struct GetTopicsByClusterRequestHeader {
        /// `cluster`.
        pub cluster: String = "cluster",
    }
}

command_header! {
    /// `DeleteTopicFromNamesrvRequestHeader` (216, DELETE_TOPIC_IN_NAMESRV).
    pub struct DeleteTopicFromNamesrvRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
        /// `clusterName`: only this cluster when set.
        pub cluster_name: Option<String> = "clusterName",
    }
}

command_header! {
    /// `RegisterTopicRequestHeader` (217, REGISTER_TOPIC_IN_NAMESRV, sent by
    /// 5.x brokers). Body: a [`crate::body::TopicRouteData`] holding the
    /// topic's queue data.
    pub struct RegisterTopicRequestHeader {
        /// `topic`.
        pub topic: String = "topic",
    }
}
