//! Request processing: one remoting request in, at most one response out.
//! No I/O; the server calls [`Processor::process`] for every request frame.
//!
//! Every request is answered with version 409 in the request's serialize
//! type ([`RemotingCommand::response_to`]); one-way requests are processed
//! but never answered. A request with a bad header or body gets
//! `SYSTEM_ERROR` with a remark naming the request and what is wrong; an
//! unknown code gets `REQUEST_CODE_NOT_SUPPORTED` with Java's remark.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ringmq_net::body::fastjson::unquote_numeric_keys;
use ringmq_net::body::masked_crc32;
use ringmq_net::code::{VERSION_4_9_4, request as req, response as resp};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, CommandHeader,
    DeleteKvConfigRequestHeader, DeleteTopicFromNamesrvRequestHeader, GetKvConfigRequestHeader,
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader,
    RegisterTopicRequestHeader, UnregisterBrokerRequestHeader, WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};

use crate::kv::{KvConfig, ORDER_TOPIC_CONFIG};
use crate::route::{ConnectionId, RouteTable};
use crate::wire;

/// Remark of TOPIC_NOT_EXIST, as the Java nameserver words it (the topic
/// name goes between the two parts).
pub const TOPIC_NOT_EXIST_REMARK: &str = "No topic route info in name server for the topic: ";
/// The FAQ pointer Java appends to TOPIC_NOT_EXIST (`FAQUrl.suggestTodo`).
pub const TOPIC_NOT_EXIST_SUGGESTION: &str =
    "\nSee http://rocketmq.apache.org/docs/faq/ for further details.";

/// A failed request: response code and remark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub remark: String,
}

impl Failure {
    fn system(remark: impl Into<String>) -> Self {
        Self {
            code: resp::SYSTEM_ERROR,
            remark: remark.into(),
        }
    }
}

type Outcome = Result<RemotingCommand, Failure>;

/// The nameserver's state and request handlers. Shared by all connections;
/// each lock is held only inside one call, never across an `.await`.
#[derive(Debug)]
pub struct Processor {
    routes: Mutex<RouteTable>,
    kv: Mutex<KvConfig>,
    order_message_enable: bool,
    metrics: crate::metrics::NameserverMetrics,
}

impl Processor {
    /// A processor over an empty route table and the given KV config.
    pub fn new(kv: KvConfig, order_message_enable: bool) -> Self {
        Self {
            routes: Mutex::new(RouteTable::new()),
            kv: Mutex::new(kv),
            order_message_enable,
            metrics: crate::metrics::NameserverMetrics::default(),
        }
    }

    fn routes(&self) -> MutexGuard<'_, RouteTable> {
        // No handler panics while holding the lock; if one ever did, the
        // table is still structurally valid, so keep serving.
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The Prometheus text of this nameserver (`crate::metrics`).
    pub fn render_metrics(&self) -> String {
        self.metrics.render(&self.routes())
    }

    fn kv(&self) -> MutexGuard<'_, KvConfig> {
        self.kv.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles one request that arrived on `connection` at `now`. Returns
    /// the response, or `None` for a one-way request.
    pub fn process(
        &self,
        request: &RemotingCommand,
        connection: ConnectionId,
        now: Instant,
    ) -> Option<RemotingCommand> {
        self.metrics.request(request.code);
        let outcome = self.dispatch(request, connection, now);
        if request.is_oneway() {
            if let Err(failure) = &outcome {
                tracing::debug!(
                    code = request.code,
                    "one-way request failed: {}",
                    failure.remark
                );
            }
            return None;
        }
        Some(outcome.unwrap_or_else(|failure| {
            tracing::debug!(code = request.code, "request failed: {}", failure.remark);
            RemotingCommand::response_to(request, failure.code, Some(failure.remark))
        }))
    }

    fn dispatch(
        &self,
        request: &RemotingCommand,
        connection: ConnectionId,
        now: Instant,
    ) -> Outcome {
        // Every name in a header, as the broker checks them.
        ringmq_net::validate::request_names(request).map_err(|e| Failure::system(e.to_string()))?;
        match request.code {
            req::REGISTER_BROKER => self.register_broker(request, connection, now),
            req::UNREGISTER_BROKER => self.unregister_broker(request),
            req::QUERY_DATA_VERSION => self.query_data_version(request, now),
            req::GET_ROUTEINFO_BY_TOPIC => self.route_by_topic(request),
            req::GET_BROKER_CLUSTER_INFO => self.cluster_info(request),
            req::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                let topics = self.routes().topic_names();
                ok_with_body(request, wire::topic_list(topics, None))
            }
            req::GET_TOPICS_BY_CLUSTER => {
                let header: GetTopicsByClusterRequestHeader =
                    read_header(request, "GET_TOPICS_BY_CLUSTER")?;
                let topics = self.routes().topics_of_cluster(&header.cluster);
                ok_with_body(request, wire::topic_list(topics, None))
            }
            req::GET_SYSTEM_TOPIC_LIST_FROM_NS => {
                let (topics, addr) = self.routes().system_topics();
                ok_with_body(request, wire::topic_list(topics, addr))
            }
            req::DELETE_TOPIC_IN_NAMESRV => self.delete_topic(request),
            req::REGISTER_TOPIC_IN_NAMESRV => self.register_topic(request),
            req::WIPE_WRITE_PERM_OF_BROKER => self.wipe_write_perm(request),
            req::ADD_WRITE_PERM_OF_BROKER => self.add_write_perm(request),
            req::PUT_KV_CONFIG => self.put_kv(request),
            req::GET_KV_CONFIG => self.get_kv(request),
            req::DELETE_KV_CONFIG => self.delete_kv(request),
            req::GET_KVLIST_BY_NAMESPACE => self.kv_list(request),
            code => Err(Failure {
                code: resp::REQUEST_CODE_NOT_SUPPORTED,
                remark: format!(" request type {code} not supported"),
            }),
        }
    }

    fn register_broker(
        &self,
        request: &RemotingCommand,
        connection: ConnectionId,
        now: Instant,
    ) -> Outcome {
        let header: RegisterBrokerRequestHeader = read_header(request, "REGISTER_BROKER")?;
        // 0 means "unchecked"; otherwise the masked CRC32 of the body.
        if header.body_crc32 != 0 && masked_crc32(&request.body) != header.body_crc32 {
            return Err(Failure::system("crc32 not match"));
        }
        let registration = wire::registration(&header, &request.body).map_err(|e| {
            Failure::system(format!(
                "bad REGISTER_BROKER body from {}: {e}",
                header.broker_addr
            ))
        })?;
        let names = registration.topics.iter().map(|t| t.topic_name.as_str());
        ringmq_net::validate::topic_table(names).map_err(|e| {
            Failure::system(format!(
                "REGISTER_BROKER from {} refused, routes unchanged: {e}",
                header.broker_addr
            ))
        })?;
        let topic_count = registration.topics.len();
        let outcome = self
            .routes()
            .register_broker(registration, connection, now)
            .map_err(|e| Failure::system(e.to_string()))?;
        tracing::debug!(
            broker = %header.broker_addr,
            name = %header.broker_name,
            cluster = %header.cluster_name,
            id = header.broker_id,
            topics = topic_count,
            "broker registered"
        );
        let response_header = RegisterBrokerResponseHeader {
            ha_server_addr: outcome.ha_server_addr,
            master_addr: outcome.master_addr,
        };
        let order_config = self.kv().namespace(ORDER_TOPIC_CONFIG).map(wire::kv_table);
        let mut response = ok(request).with_header(&response_header);
        if let Some(body) = order_config {
            response = response.with_body(body.map_err(Failure::system)?);
        }
        Ok(response)
    }

    fn unregister_broker(&self, request: &RemotingCommand) -> Outcome {
        let h: UnregisterBrokerRequestHeader = read_header(request, "UNREGISTER_BROKER")?;
        self.routes().unregister_broker(
            &h.cluster_name,
            &h.broker_name,
            &h.broker_addr,
            h.broker_id,
        );
        tracing::info!(broker = %h.broker_addr, name = %h.broker_name, "broker unregistered");
        Ok(ok(request))
    }

    fn query_data_version(&self, request: &RemotingCommand, now: Instant) -> Outcome {
        let h: QueryDataVersionRequestHeader = read_header(request, "QUERY_DATA_VERSION")?;
        let version = wire::data_version(&request.body)
            .map_err(|e| Failure::system(format!("bad QUERY_DATA_VERSION body: {e}")))?;
        let (changed, known) = self
            .routes()
            .query_data_version(&h.broker_addr, &version, now);
        let mut response = ok(request).with_header(&QueryDataVersionResponseHeader { changed });
        if let Some(known) = known {
            response =
                response.with_body(wire::data_version_json(&known).map_err(Failure::system)?);
        }
        Ok(response)
    }

    fn route_by_topic(&self, request: &RemotingCommand) -> Outcome {
        let h: GetRouteInfoRequestHeader = read_header(request, "GET_ROUTEINFO_BY_TOPIC")?;
        let Some(route) = self.routes().topic_route(&h.topic) else {
            return Err(Failure {
                code: resp::TOPIC_NOT_EXIST,
                remark: format!(
                    "{TOPIC_NOT_EXIST_REMARK}{}{TOPIC_NOT_EXIST_SUGGESTION}",
                    h.topic
                ),
            });
        };
        let order_conf = if self.order_message_enable {
            self.kv()
                .get(ORDER_TOPIC_CONFIG, &h.topic)
                .map(str::to_string)
        } else {
            None
        };
        // Java (RouteInfoManager / DefaultRequestProcessor) answers clients
        // older than 4.9.4 in fastjson's legacy shape (unquoted Long keys of
        // brokerAddrs) unless they ask for standard JSON only.
        let legacy = request.version < VERSION_4_9_4 && h.accept_standard_json_only != Some(true);
        let body = wire::topic_route(route, order_conf);
        let body = if legacy {
            body.map(|json| unquote_numeric_keys(&json))
        } else {
            body
        };
        ok_with_body(request, body)
    }

    fn cluster_info(&self, request: &RemotingCommand) -> Outcome {
        let body = {
            let routes = self.routes();
            wire::cluster_info(routes.broker_groups(), routes.clusters())
        };
        ok_with_body(request, body)
    }

    fn delete_topic(&self, request: &RemotingCommand) -> Outcome {
        let h: DeleteTopicFromNamesrvRequestHeader =
            read_header(request, "DELETE_TOPIC_IN_NAMESRV")?;
        let removed = self
            .routes()
            .delete_topic(&h.topic, h.cluster_name.as_deref());
        tracing::info!(topic = %h.topic, cluster = ?h.cluster_name, removed, "topic deleted");
        Ok(ok(request))
    }

    fn register_topic(&self, request: &RemotingCommand) -> Outcome {
        let h: RegisterTopicRequestHeader = read_header(request, "REGISTER_TOPIC_IN_NAMESRV")?;
        let queue_datas = wire::route_queue_datas(&request.body).map_err(|e| {
            Failure::system(format!(
                "bad REGISTER_TOPIC_IN_NAMESRV body for topic {}: {e}",
                h.topic
            ))
        })?;
        let set = self
            .routes()
            .register_topic(&h.topic, &queue_datas)
            .map_err(|e| Failure::system(e.to_string()))?;
        tracing::debug!(topic = %h.topic, brokers = set, "topic registered");
        Ok(ok(request))
    }

    fn wipe_write_perm(&self, request: &RemotingCommand) -> Outcome {
        let h: WipeWritePermOfBrokerRequestHeader =
            read_header(request, "WIPE_WRITE_PERM_OF_BROKER")?;
        let count = self.routes().wipe_write_perm(&h.broker_name);
        tracing::info!(broker = %h.broker_name, topics = count, "write permission wiped");
        let wipe_topic_count = i32::try_from(count).unwrap_or(i32::MAX);
        Ok(ok(request).with_header(&WipeWritePermOfBrokerResponseHeader { wipe_topic_count }))
    }

    fn add_write_perm(&self, request: &RemotingCommand) -> Outcome {
        let h: AddWritePermOfBrokerRequestHeader =
            read_header(request, "ADD_WRITE_PERM_OF_BROKER")?;
        let count = self.routes().add_write_perm(&h.broker_name);
        tracing::info!(broker = %h.broker_name, topics = count, "write permission added");
        let add_topic_count = i32::try_from(count).unwrap_or(i32::MAX);
        Ok(ok(request).with_header(&AddWritePermOfBrokerResponseHeader { add_topic_count }))
    }

    fn put_kv(&self, request: &RemotingCommand) -> Outcome {
        let h: PutKvConfigRequestHeader = read_header(request, "PUT_KV_CONFIG")?;
        self.kv()
            .put(&h.namespace, &h.key, &h.value)
            .map_err(|e| Failure::system(e.to_string()))?;
        Ok(ok(request))
    }

    fn get_kv(&self, request: &RemotingCommand) -> Outcome {
        let h: GetKvConfigRequestHeader = read_header(request, "GET_KV_CONFIG")?;
        let value = self.kv().get(&h.namespace, &h.key).map(str::to_string);
        match value {
            Some(value) => {
                Ok(ok(request).with_header(&GetKvConfigResponseHeader { value: Some(value) }))
            }
            None => Err(Failure {
                code: resp::QUERY_NOT_FOUND,
                remark: format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
            }),
        }
    }

    fn delete_kv(&self, request: &RemotingCommand) -> Outcome {
        let h: DeleteKvConfigRequestHeader = read_header(request, "DELETE_KV_CONFIG")?;
        self.kv()
            .delete(&h.namespace, &h.key)
            .map_err(|e| Failure::system(e.to_string()))?;
        Ok(ok(request))
    }

    fn kv_list(&self, request: &RemotingCommand) -> Outcome {
        let h: GetKvListByNamespaceRequestHeader = read_header(request, "GET_KVLIST_BY_NAMESPACE")?;
        let body = self.kv().namespace(&h.namespace).map(wire::kv_table);
        match body {
            Some(body) => ok_with_body(request, body),
            None => Err(Failure {
                code: resp::QUERY_NOT_FOUND,
                remark: format!("No config item, Namespace: {}", h.namespace),
            }),
        }
    }

    /// Drops brokers whose registering connection closed; returns their
    /// addresses.
    pub fn connection_closed(&self, connection: ConnectionId) -> Vec<String> {
        self.routes().connection_closed(connection)
    }

    /// Drops brokers silent for longer than `expiry`; returns their
    /// addresses and registering connections.
    pub fn expire_brokers(&self, now: Instant, expiry: Duration) -> Vec<(String, ConnectionId)> {
        self.routes().expire(now, expiry)
    }
}

fn ok(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, resp::SUCCESS, None)
}

fn ok_with_body(request: &RemotingCommand, body: Result<Vec<u8>, String>) -> Outcome {
    Ok(ok(request).with_body(body.map_err(Failure::system)?))
}

/// Reads a request header, turning a bad one into SYSTEM_ERROR with a remark
/// that names the request and the field.
fn read_header<H: CommandHeader>(request: &RemotingCommand, name: &str) -> Result<H, Failure> {
    request
        .decode_header()
        .map_err(|e| Failure::system(format!("bad {name} request: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONN: ConnectionId = ConnectionId(7);

    /// Every code the processor handles, plus two it does not.
    const CODES: &[i32] = &[
        req::REGISTER_BROKER,
        req::UNREGISTER_BROKER,
        req::QUERY_DATA_VERSION,
        req::GET_ROUTEINFO_BY_TOPIC,
        req::GET_BROKER_CLUSTER_INFO,
        req::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
        req::GET_TOPICS_BY_CLUSTER,
        req::GET_SYSTEM_TOPIC_LIST_FROM_NS,
        req::DELETE_TOPIC_IN_NAMESRV,
        req::REGISTER_TOPIC_IN_NAMESRV,
        req::WIPE_WRITE_PERM_OF_BROKER,
        req::ADD_WRITE_PERM_OF_BROKER,
        req::PUT_KV_CONFIG,
        req::GET_KV_CONFIG,
        req::DELETE_KV_CONFIG,
        req::GET_KVLIST_BY_NAMESPACE,
        req::SEND_MESSAGE,
        -1,
    ];

    const FIELD_NAMES: &[&str] = &[
        "topic",
        "brokerName",
        "brokerAddr",
        "clusterName",
        "haServerAddr",
        "brokerId",
        "compressed",
        "bodyCrc32",
        "namespace",
        "key",
        "value",
        "cluster",
    ];

    fn processor() -> Processor {
        Processor::new(KvConfig::in_memory(), true)
    }

    #[test]
    fn one_way_request_gets_no_response_even_when_unknown() {
        let mut request = RemotingCommand::request(9999);
        request.set_oneway();
        assert!(
            processor()
                .process(&request, CONN, Instant::now())
                .is_none()
        );
    }

    #[test]
    fn unknown_code_gets_the_java_remark() {
        let request = RemotingCommand::request(9999).with_opaque(5);
        let response = processor().process(&request, CONN, Instant::now()).unwrap();
        assert_eq!(response.code, resp::REQUEST_CODE_NOT_SUPPORTED);
        assert_eq!(
            response.remark.as_deref(),
            Some(" request type 9999 not supported")
        );
        assert_eq!(response.opaque, 5);
        assert!(response.is_response());
    }

    #[test]
    fn ordered_topic_route_carries_order_topic_conf_when_enabled() {
        let processor = processor();
        let mut register = RemotingCommand::request(req::REGISTER_BROKER);
        for (k, v) in [
            ("brokerName", "b"),
            ("brokerAddr", "1.2.3.4:10911"),
            ("clusterName", "c"),
            ("haServerAddr", "1.2.3.4:10912"),
            ("brokerId", "0"),
        ] {
            register.ext_fields.insert(k.into(), v.into());
        }
        register.body = br#"{"topicConfigSerializeWrapper":{"dataVersion":{"counter":1,"timestamp":2},
            "topicConfigTable":{"T":{"topicName":"T","readQueueNums":2,"writeQueueNums":2,"perm":6}}}}"#
            .to_vec()
            .into();
        let now = Instant::now();
        assert_eq!(
            processor.process(&register, CONN, now).unwrap().code,
            resp::SUCCESS
        );
        let mut put = RemotingCommand::request(req::PUT_KV_CONFIG);
        for (k, v) in [
            ("namespace", ORDER_TOPIC_CONFIG),
            ("key", "T"),
            ("value", "b:2"),
        ] {
            put.ext_fields.insert(k.into(), v.into());
        }
        assert_eq!(
            processor.process(&put, CONN, now).unwrap().code,
            resp::SUCCESS
        );
        let mut route = RemotingCommand::request(req::GET_ROUTEINFO_BY_TOPIC);
        route.ext_fields.insert("topic".into(), "T".into());
        let answer = processor.process(&route, CONN, now).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["orderTopicConf"], "b:2");
    }

    proptest! {
        #[test]
        fn any_request_is_answered_without_panic(
            code in prop::sample::select(CODES),
            fields in prop::collection::vec(
                (prop::sample::select(FIELD_NAMES), prop_oneof!["-?[0-9]{1,12}", "[a-z:.0-9]{0,16}", "true|false"]),
                0..12,
            ),
            body in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..200),
                Just(br#"{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T"}}}}"#.to_vec()),
                Just(br#"{"queueDatas":[{"brokerName":"b","readQueueNums":1,"writeQueueNums":1,"perm":6}]}"#.to_vec()),
            ],
            compressed in any::<bool>(),
        ) {
            let processor = processor();
            let mut request = RemotingCommand::request(code).with_opaque(3).with_body(body);
            for (name, value) in fields {
                request.ext_fields.insert(name.to_string(), value);
            }
            if compressed {
                request.ext_fields.insert("compressed".into(), "true".into());
            }
            let response = processor.process(&request, CONN, Instant::now()).unwrap();
            prop_assert_eq!(response.opaque, 3);
            prop_assert!(response.is_response());
            if response.code != resp::SUCCESS {
                prop_assert!(response.remark.as_deref().is_some_and(|r| !r.is_empty()));
            }
        }
    }
}
