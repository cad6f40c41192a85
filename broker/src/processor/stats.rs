//! The admin queries operator tools send (`ringmq admin`, Java's
//! `mqadmin`, the RocketMQ dashboard), answered as the Java 4.9 broker's
//! `AdminBrokerProcessor` answers them, field for field:
//! GET_TOPIC_STATS_INFO (202), GET_CONSUME_STATS (208),
//! GET_CONSUMER_CONNECTION_LIST (203), GET_PRODUCER_CONNECTION_LIST (204),
//! QUERY_TOPIC_CONSUME_BY_WHO (300), QUERY_CONSUME_TIME_SPAN (303),
//! INVOKE_BROKER_TO_RESET_OFFSET (222, Java's `Broker2Client.resetOffset`),
//! GET_BROKER_CONFIG (26) and UPDATE_BROKER_CONFIG (25).
//!
//! Queue figures come from each queue's owner shard ([`Shard::queue`]);
//! nothing here holds a shared lock across an `.await`.

use std::collections::BTreeMap;
use std::rc::Rc;

use ringmq_net::body::{
    ConsumeStats, ConsumerConnection, MessageQueue, OffsetWrapper, ProducerConnection,
    QueryConsumeTimeSpanBody, QueueTimeSpan, ResetOffsetBody, TopicOffset, TopicStatsTable,
};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    GetBrokerConfigResponseHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetProducerConnectionListRequestHeader,
    GetTopicStatsInfoRequestHeader, QueryConsumeTimeSpanRequestHeader,
    QueryTopicConsumeByWhoRequestHeader, ResetOffsetRequestHeader,
};
use serde::Serialize;

use super::{Reply, error, header, success};
use crate::clients::ClientChannel;
use crate::outbound::Outbound;
use crate::shard::Shard;
use crate::state::lock;
use crate::store::{QueueQuery, QueueQueryKind};
use crate::topics::TopicConfig;

/// Topics one GET_CONSUME_STATS answer covers, at most (a group's offsets
/// table is bounded, this keeps one answer bounded too).
pub const CONSUME_STATS_TOPICS_MAX: usize = 1_024;
/// Largest properties body UPDATE_BROKER_CONFIG accepts.
pub const BROKER_CONFIG_BODY_BYTES_MAX: usize = 64 * 1024;

fn json_reply<T: Serialize>(req: &RemotingCommand, value: &T) -> Reply {
    match ringmq_net::body::encode_json(value) {
        Ok(body) => Reply::command(success(req).with_body(body)),
        Err(err) => error(req, response::SYSTEM_ERROR, err.to_string()),
    }
}

async fn queue_value(shard: &Rc<Shard>, topic: &str, queue_id: i32, kind: QueueQueryKind) -> i64 {
    shard
        .queue(QueueQuery::new(topic, queue_id, kind))
        .await
        .value
}

fn message_queue(shard: &Shard, topic: &str, queue_id: i32) -> MessageQueue {
    MessageQueue::new(topic, shard.state.config.broker_name.as_str(), queue_id)
}

/// The topic's config, or the TOPIC_NOT_EXIST reply Java gives the
/// per-queue admin requests.
fn existing_topic(
    shard: &Shard,
    req: &RemotingCommand,
    name: &str,
) -> Result<Rc<TopicConfig>, Reply> {
    shard.topic(name).ok_or_else(|| {
        error(
            req,
            response::TOPIC_NOT_EXIST,
            format!("topic[{name}] not exist"),
        )
    })
}

/// GET_TOPIC_STATS_INFO: min/max offset and last store time of each write
/// queue; TOPIC_NOT_EXIST for an unknown topic.
pub async fn topic_stats(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: GetTopicStatsInfoRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let topic = match existing_topic(shard, req, &head.topic) {
        Ok(topic) => topic,
        Err(reply) => return reply,
    };
    let mut stats = TopicStatsTable::default();
    for queue_id in 0..topic.write_queue_nums {
        let min = queue_value(shard, &head.topic, queue_id, QueueQueryKind::MinOffset).await;
        let max = queue_value(shard, &head.topic, queue_id, QueueQueryKind::MaxOffset).await;
        let last = if max > 0 {
            queue_value(
                shard,
                &head.topic,
                queue_id,
                QueueQueryKind::StoreTimeAt(max - 1),
            )
            .await
        } else {
            0
        };
        stats.offset_table.insert(
            message_queue(shard, &head.topic, queue_id),
            TopicOffset {
                last_update_timestamp: last,
                max_offset: max.max(0),
                min_offset: min.max(0),
            },
        );
    }
    json_reply(req, &stats)
}

/// GET_CONSUME_STATS: per queue the broker offset, the group's committed
/// offset and the store time of the last consumed message, for the named
/// topic or every topic the group committed offsets for.
pub async fn consume_stats(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: GetConsumeStatsRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let group = head.consumer_group;
    let topics = match head.topic.filter(|t| !t.is_empty()) {
        Some(topic) => vec![topic],
        None => lock(&shard.state.offsets).topics_of_group(&group),
    };
    let mut stats = ConsumeStats::default();
    for topic_name in topics.iter().take(CONSUME_STATS_TOPICS_MAX) {
        let Some(topic) = shard.topic(topic_name) else {
            continue;
        };
        add_topic_offsets(shard, &group, &topic, &mut stats).await;
    }
    json_reply(req, &stats)
}

/// Adds each read queue of `topic` with `group`'s offsets to `stats`
/// (shared by GET_CONSUME_STATS and GET_BROKER_CONSUME_STATS).
pub(super) async fn add_topic_offsets(
    shard: &Rc<Shard>,
    group: &str,
    topic: &crate::topics::TopicConfig,
    stats: &mut ConsumeStats,
) {
    for queue_id in 0..topic.read_queue_nums {
        let wrapper = queue_offsets(shard, group, &topic.topic_name, queue_id).await;
        stats
            .offset_table
            .insert(message_queue(shard, &topic.topic_name, queue_id), wrapper);
    }
}

async fn queue_offsets(
    shard: &Rc<Shard>,
    group: &str,
    topic: &str,
    queue_id: i32,
) -> OffsetWrapper {
    let broker_offset = queue_value(shard, topic, queue_id, QueueQueryKind::MaxOffset)
        .await
        .max(0);
    let consumer_offset = lock(&shard.state.offsets)
        .query(group, topic, queue_id)
        .unwrap_or(0)
        .max(0);
    let last_timestamp = if consumer_offset > 0 {
        queue_value(
            shard,
            topic,
            queue_id,
            QueueQueryKind::StoreTimeAt(consumer_offset - 1),
        )
        .await
        .max(0)
    } else {
        0
    };
    OffsetWrapper {
        broker_offset,
        consumer_offset,
        last_timestamp,
    }
}

fn connection_of(channel: &ClientChannel) -> ringmq_net::body::Connection {
    ringmq_net::body::Connection {
        client_addr: channel.remote.to_string(),
        client_id: channel.client_id.clone(),
        // The registry does not keep the client's language; Java fills
        // it from the heartbeat's header. Left empty rather than guessed.
        language: String::new(),
        version: channel.version,
    }
}

/// GET_CONSUMER_CONNECTION_LIST: the group's live members and
/// subscriptions; CONSUMER_NOT_ONLINE when it has none.
pub fn consumer_connections(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: GetConsumerConnectionListRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let clients = lock(&shard.state.clients);
    let Some(info) = clients.consumer_group(&head.consumer_group) else {
        return error(
            req,
            response::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{}] not online", head.consumer_group),
        );
    };
    let body = ConsumerConnection {
        connection_set: clients
            .consumer_channels(&head.consumer_group)
            .into_iter()
            .map(connection_of)
            .collect(),
        consume_from_where: Some(info.consume_from_where),
        consume_type: Some(info.consume_type),
        message_model: Some(info.message_model),
        subscription_table: info.subscriptions.clone(),
    };
    drop(clients);
    json_reply(req, &body)
}

/// GET_PRODUCER_CONNECTION_LIST: the group's live producers;
/// SYSTEM_ERROR when none is connected (as Java).
pub fn producer_connections(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: GetProducerConnectionListRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let connection_set: Vec<_> = lock(&shard.state.clients)
        .producer_channels(&head.producer_group)
        .into_iter()
        .map(connection_of)
        .collect();
    if connection_set.is_empty() {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("the producer group[{}] not exist", head.producer_group),
        );
    }
    json_reply(req, &ProducerConnection { connection_set })
}

/// QUERY_TOPIC_CONSUME_BY_WHO: groups subscribed to the topic now, plus
/// groups that committed offsets for it.
pub fn consume_by_who(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: QueryTopicConsumeByWhoRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let mut groups = ringmq_net::body::GroupList::default();
    groups
        .group_list
        .extend(lock(&shard.state.clients).groups_subscribed_to(&head.topic));
    groups
        .group_list
        .extend(lock(&shard.state.offsets).groups_of_topic(&head.topic));
    json_reply(req, &groups)
}

/// QUERY_CONSUME_TIME_SPAN: per queue the oldest and newest store times and
/// the store time of the group's last consumed message.
pub async fn consume_time_span(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: QueryConsumeTimeSpanRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let topic = match existing_topic(shard, req, &head.topic) {
        Ok(topic) => topic,
        Err(reply) => return reply,
    };
    let mut body = QueryConsumeTimeSpanBody::default();
    for queue_id in 0..topic.write_queue_nums {
        let t = head.topic.as_str();
        let min_time_stamp =
            queue_value(shard, t, queue_id, QueueQueryKind::EarliestStoreTime).await;
        let max = queue_value(shard, t, queue_id, QueueQueryKind::MaxOffset).await;
        let max_time_stamp = if max > 0 {
            queue_value(shard, t, queue_id, QueueQueryKind::StoreTimeAt(max - 1)).await
        } else {
            0
        };
        let offsets = queue_offsets(shard, &head.group, t, queue_id).await;
        let consume_time_stamp = if offsets.consumer_offset >= max {
            max_time_stamp
        } else {
            offsets.last_timestamp
        };
        body.consume_time_span_set.push(QueueTimeSpan {
            consume_time_stamp,
            delay_time: max_time_stamp.saturating_sub(consume_time_stamp).max(0),
            max_time_stamp,
            message_queue: message_queue(shard, t, queue_id),
            min_time_stamp,
        });
    }
    json_reply(req, &body)
}

/// INVOKE_BROKER_TO_RESET_OFFSET: computes each write queue's target
/// (`timestamp` -1 = the queue's end, else the first message stored at or
/// after it; kept at the committed offset when that is lower, unless
/// `isForce`), tells every online member with RESET_CONSUMER_CLIENT_OFFSET
/// (one-way) and answers the table. Like Java, the broker does not commit
/// the offsets itself: the consumers do. With no member online it answers
/// CONSUMER_NOT_ONLINE and changes nothing (tools then commit directly).
pub async fn reset_offset(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: ResetOffsetRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let Some(topic) = shard.topic(&head.topic) else {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "[reset-offset] reset offset failed, no topic in this broker. topic={}",
                head.topic
            ),
        );
    };
    let mut table = BTreeMap::new();
    for queue_id in 0..topic.write_queue_nums {
        let committed = lock(&shard.state.offsets).query(&head.group, &head.topic, queue_id);
        let Some(committed) = committed else {
            return error(
                req,
                response::SYSTEM_ERROR,
                format!("THe consumer group <{}> not exist", head.group),
            );
        };
        let kind = if head.timestamp == -1 {
            QueueQueryKind::MaxOffset
        } else {
            QueueQueryKind::OffsetAt(head.timestamp)
        };
        let target = queue_value(shard, &head.topic, queue_id, kind).await.max(0);
        let offset = if head.is_force || target < committed {
            target
        } else {
            committed
        };
        table.insert(message_queue(shard, &head.topic, queue_id), offset);
    }
    let body = ResetOffsetBody {
        offset_table: table,
    };
    let Ok(encoded) = ringmq_net::body::encode_json(&body) else {
        return error(
            req,
            response::SYSTEM_ERROR,
            "cannot encode the offset table",
        );
    };
    let mut notice = RemotingCommand::request(request::RESET_CONSUMER_CLIENT_OFFSET)
        .with_header(&head)
        .with_body(encoded.clone());
    notice.set_oneway();
    let members: Vec<_> = lock(&shard.state.clients)
        .consumer_channels(&head.group)
        .into_iter()
        .map(|c| c.outbound.clone())
        .collect();
    if members.is_empty() {
        return error(
            req,
            response::CONSUMER_NOT_ONLINE,
            format!(
                "Consumer not online, so can not reset offset, Group: {} Topic: {} Timestamp: {}",
                head.group, head.topic, head.timestamp
            ),
        );
    }
    for member in members {
        if let Some(frame) = Outbound::command(&notice) {
            member.try_post(frame);
        }
    }
    Reply::command(success(req).with_body(encoded))
}

/// GET_BROKER_CONFIG: every setting as properties text, ringmq's keys plus
/// the Java names tools read (`brokerName`, `brokerClusterName`,
/// `brokerId`, `flushDiskType`, `listenPort`, `namesrvAddr`,
/// `storePathRootDir`), and the topic table's data version.
pub fn broker_config(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let config = &shard.state.config;
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(table) = toml::Table::try_from(config) {
        for (key, value) in table {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(";"),
                other => other.to_string(),
            };
            lines.insert(key, text);
        }
    }
    for (key, value) in crate::live_config::current(&shard.state.flow, &shard.state.polling) {
        lines.insert(key.to_owned(), value);
    }
    lines.insert("brokerName".into(), config.broker_name.clone());
    lines.insert("brokerClusterName".into(), config.cluster_name.clone());
    lines.insert("brokerId".into(), config.broker_id.to_string());
    lines.insert(
        "flushDiskType".into(),
        config.flush_mode.rocketmq_name().to_owned(),
    );
    lines.insert(
        "listenPort".into(),
        shard.state.store_host.port().to_string(),
    );
    lines.insert("namesrvAddr".into(), config.nameservers.join(";"));
    lines.insert(
        "storePathRootDir".into(),
        config.data_dir.display().to_string(),
    );
    let body: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let version = serde_json::to_string(&lock(&shard.state.topics).data_version()).ok();
    Reply::command(
        success(req)
            .with_header(&GetBrokerConfigResponseHeader { version })
            .with_body(body.into_bytes()),
    )
}

/// UPDATE_BROKER_CONFIG: the body is properties text. ringmq's settings are
/// fixed for the life of the process (every shard reads them without a
/// lock), so a change is refused as a whole, naming the first key, and
/// nothing is applied; a malformed body is refused the same way.
pub fn update_broker_config(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    if req.body.len() > BROKER_CONFIG_BODY_BYTES_MAX {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("the configuration body is over {BROKER_CONFIG_BODY_BYTES_MAX} bytes"),
        );
    }
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return error(req, response::SYSTEM_ERROR, "string2Properties error");
    };
    let pairs = crate::live_config::parse_properties(text);
    let state = &shard.state;
    match crate::live_config::apply(&pairs, &state.flow, &state.polling) {
        Ok(()) => {
            if !pairs.is_empty() {
                tracing::info!(?pairs, "broker configuration changed at run time");
            }
            Reply::command(success(req))
        }
        Err(err) => error(req, response::SYSTEM_ERROR, err.to_string()),
    }
}
