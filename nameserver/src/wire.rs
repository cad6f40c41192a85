//! Conversions between the route table and `ringmq_net`'s JSON bodies.
//!
//! Every body this nameserver writes is standard JSON with quoted map keys
//! (`{"brokerAddrs":{"0":"ip:port"}}`), whatever the client version: Java's
//! fastjson reads it, and so does every other client. Bodies it reads go
//! through `ringmq_net::body::decode_json`, which also accepts fastjson's
//! unquoted keys.

use std::collections::{BTreeMap, BTreeSet};

use ringmq_net::body::{
    BodyError, BrokerData, ClusterInfo, DataVersion, KvTable, QueueData, RegisterBrokerBody,
    TopicList, TopicRouteData, decode_json, encode_standard_json,
};
use ringmq_net::header::RegisterBrokerRequestHeader;

use crate::route::BrokerRegistration;

/// Decodes a REGISTER_BROKER body (JSON or compressed, per the header). An
/// empty body registers the broker with no topics and version zero, as Java
/// does.
pub fn registration(
    header: &RegisterBrokerRequestHeader,
    body: &[u8],
) -> Result<BrokerRegistration, BodyError> {
    let decoded = if body.is_empty() {
        RegisterBrokerBody::default()
    } else {
        RegisterBrokerBody::decode(body, header.compressed)?
    };
    let wrapper = decoded.topic_config_serialize_wrapper;
    Ok(BrokerRegistration {
        cluster: header.cluster_name.clone(),
        broker_name: header.broker_name.clone(),
        broker_addr: header.broker_addr.clone(),
        broker_id: header.broker_id,
        ha_server_addr: header.ha_server_addr.clone(),
        data_version: wrapper.data_version,
        topics: wrapper.topic_config_table.into_values().collect(),
    })
}

/// Decodes a QUERY_DATA_VERSION body; empty means version zero.
pub fn data_version(body: &[u8]) -> Result<DataVersion, BodyError> {
    if body.is_empty() {
        return Ok(DataVersion::default());
    }
    decode_json(body)
}

/// Decodes the queue datas of a REGISTER_TOPIC_IN_NAMESRV body (a
/// `TopicRouteData`).
pub fn route_queue_datas(body: &[u8]) -> Result<Vec<QueueData>, BodyError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let route: TopicRouteData = decode_json(body)?;
    Ok(route.queue_datas)
}

/// A `DataVersion` body.
pub fn data_version_json(version: &DataVersion) -> Result<Vec<u8>, String> {
    encode(version)
}

/// A GET_ROUTEINFO_BY_TOPIC body.
pub fn topic_route(
    mut route: TopicRouteData,
    order_topic_conf: Option<String>,
) -> Result<Vec<u8>, String> {
    route.order_topic_conf = order_topic_conf;
    encode(&route)
}

/// A GET_BROKER_CLUSTER_INFO body.
pub fn cluster_info(
    brokers: &BTreeMap<String, BrokerData>,
    clusters: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<u8>, String> {
    encode(&ClusterInfo {
        broker_addr_table: brokers.clone(),
        cluster_addr_table: clusters.clone(),
    })
}

/// A `TopicList` body.
pub fn topic_list(topics: Vec<String>, broker_addr: Option<String>) -> Result<Vec<u8>, String> {
    encode(&TopicList {
        broker_addr,
        topic_list: topics.into_iter().collect(),
    })
}

/// A `KVTable` body.
pub fn kv_table(table: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    encode(&KvTable {
        table: table.clone(),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, String> {
    encode_standard_json(value).map_err(|e| format!("cannot encode the response body: {e}"))
}
