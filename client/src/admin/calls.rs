//! One request each: the nameserver and broker calls the admin operations
//! are built from. Codes, headers and bodies as Java 4.9's
//! `MQClientAPIImpl` sends them (see docs/wire-format.md §4).

use std::collections::BTreeMap;

use ringmq_net::body::{
    ClusterInfo, ConsumeStats, ConsumerConnection, KvTable, MessageQueue, ProducerConnection,
    ResetOffsetBody, SubscriptionGroupConfig, TopicList, TopicRouteData, TopicStatsTable,
};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader,
    DeleteTopicFromNamesrvRequestHeader, DeleteTopicRequestHeader, GetConsumeStatsRequestHeader,
    GetConsumerConnectionListRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader, GetMinOffsetResponseHeader, GetProducerConnectionListRequestHeader,
    GetRouteInfoRequestHeader, GetTopicStatsInfoRequestHeader, PullMessageRequestHeader,
    PullMessageResponseHeader, PullSysFlag, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, QueryMessageRequestHeader, ResetOffsetRequestHeader,
    SearchOffsetRequestHeader, SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
    ViewMessageRequestHeader,
};
use serde::Deserialize;

use super::{Admin, AdminError, decode};
use crate::consumer::MessageExt;
use crate::consumer::message_ext::decode_pull_body;

/// Messages one pull asks for, at most.
pub const PULL_BATCH_MAX: i32 = 32;
/// Messages one key query returns, at most (Java's `maxNum` default is 32;
/// the broker caps it again).
pub const QUERY_MAX_NUM: i32 = 64;

/// A topic to create or update (UPDATE_AND_CREATE_TOPIC).
#[derive(Debug, Clone)]
pub struct TopicSpec {
    /// The name.
    pub topic: String,
    /// Read and write queues.
    pub queues: i32,
    /// `PermName` bits.
    pub perm: i32,
    /// Ordered topic.
    pub order: bool,
    /// The RocketMQ 5 message type the topic accepts (`None`: every type).
    pub message_type: Option<ringmq_net::topic_attributes::MessageType>,
}

/// `SubscriptionGroupWrapper` as GET_ALL_SUBSCRIPTIONGROUP_CONFIG answers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupTable {
    /// `subscriptionGroupTable`: name -> config.
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

/// What one pull found.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The response code (SUCCESS, PULL_NOT_FOUND, PULL_OFFSET_MOVED…).
    pub code: i32,
    /// Where the next pull starts.
    pub next_begin_offset: i64,
    /// The queue's bounds.
    pub min_offset: i64,
    /// The queue's bounds.
    pub max_offset: i64,
    /// The messages.
    pub messages: Vec<MessageExt>,
}

impl Admin {
    /// GET_BROKER_CLUSTER_INFO (106).
    pub async fn cluster_info(&self) -> Result<ClusterInfo, AdminError> {
        let req = RemotingCommand::request(request::GET_BROKER_CLUSTER_INFO);
        let (addr, reply) = self.call_namesrv("cluster info", req).await?;
        decode("cluster info", &addr, &reply)
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206).
    pub async fn topic_list(&self) -> Result<TopicList, AdminError> {
        let req = RemotingCommand::request(request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
        let (addr, reply) = self.call_namesrv("topic list", req).await?;
        decode("topic list", &addr, &reply)
    }

    /// GET_ROUTEINFO_BY_TOPIC (105); an unknown topic is [`AdminError::NotFound`].
    pub async fn topic_route(&self, topic: &str) -> Result<TopicRouteData, AdminError> {
        let req = RemotingCommand::request(request::GET_ROUTEINFO_BY_TOPIC).with_header(
            &GetRouteInfoRequestHeader {
                topic: topic.to_owned(),
                accept_standard_json_only: Some(true),
            },
        );
        match self.call_namesrv("topic route", req).await {
            Ok((addr, reply)) => decode("topic route", &addr, &reply),
            Err(AdminError::Refused { code, .. }) if code == response::TOPIC_NOT_EXIST => Err(
                AdminError::NotFound(format!("topic {topic} does not exist (no route)")),
            ),
            Err(err) => Err(err),
        }
    }

    /// DELETE_TOPIC_IN_NAMESRV (216) on every nameserver.
    pub async fn delete_topic_in_namesrv(&self, topic: &str) -> Result<(), AdminError> {
        for addr in self.namesrv_addrs() {
            let req = RemotingCommand::request(request::DELETE_TOPIC_IN_NAMESRV).with_header(
                &DeleteTopicFromNamesrvRequestHeader {
                    topic: topic.to_owned(),
                    cluster_name: None,
                },
            );
            self.call(addr, "delete topic in nameserver", req).await?;
        }
        Ok(())
    }

    /// GET_BROKER_RUNTIME_INFO (28): the broker's `KVTable`.
    pub async fn broker_runtime_info(&self, addr: &str) -> Result<KvTable, AdminError> {
        let req = RemotingCommand::request(request::GET_BROKER_RUNTIME_INFO);
        let reply = self.call(addr, "broker runtime info", req).await?;
        decode("broker runtime info", addr, &reply)
    }

    /// GET_BROKER_CONFIG (26): the properties text, parsed.
    pub async fn broker_config(&self, addr: &str) -> Result<BTreeMap<String, String>, AdminError> {
        let req = RemotingCommand::request(request::GET_BROKER_CONFIG);
        let reply = self.call(addr, "broker config", req).await?;
        Ok(parse_properties(&String::from_utf8_lossy(&reply.body)))
    }

    /// UPDATE_BROKER_CONFIG (25) of one key.
    pub async fn update_broker_config(
        &self,
        addr: &str,
        key: &str,
        value: &str,
    ) -> Result<(), AdminError> {
        if key.is_empty() || key.contains(['=', '\n']) || value.contains('\n') {
            return Err(AdminError::Invalid(format!(
                "bad config key or value: {key}"
            )));
        }
        let req = RemotingCommand::request(request::UPDATE_BROKER_CONFIG)
            .with_body(format!("{key}={value}\n").into_bytes());
        self.call(addr, "update broker config", req).await?;
        Ok(())
    }

    /// UPDATE_AND_CREATE_TOPIC (17).
    pub async fn create_topic(&self, addr: &str, spec: &TopicSpec) -> Result<(), AdminError> {
        let req = RemotingCommand::request(request::UPDATE_AND_CREATE_TOPIC).with_header(
            &CreateTopicRequestHeader {
                topic: spec.topic.clone(),
                default_topic: ringmq_net::topic::AUTO_CREATE_TOPIC.to_owned(),
                read_queue_nums: spec.queues,
                write_queue_nums: spec.queues,
                perm: spec.perm,
                topic_filter_type: "SINGLE_TAG".to_owned(),
                topic_sys_flag: Some(0),
                order: spec.order,
                attributes: spec
                    .message_type
                    .map(ringmq_net::topic_attributes::message_type_change),
            },
        );
        self.call(addr, "create topic", req).await?;
        Ok(())
    }

    /// DELETE_TOPIC_IN_BROKER (215).
    pub async fn delete_topic_in_broker(&self, addr: &str, topic: &str) -> Result<(), AdminError> {
        let req = RemotingCommand::request(request::DELETE_TOPIC_IN_BROKER).with_header(
            &DeleteTopicRequestHeader {
                topic: topic.to_owned(),
            },
        );
        self.call(addr, "delete topic", req).await?;
        Ok(())
    }

    /// GET_TOPIC_STATS_INFO (202).
    pub async fn topic_stats(
        &self,
        addr: &str,
        topic: &str,
    ) -> Result<TopicStatsTable, AdminError> {
        let req = RemotingCommand::request(request::GET_TOPIC_STATS_INFO).with_header(
            &GetTopicStatsInfoRequestHeader {
                topic: topic.to_owned(),
            },
        );
        let reply = self.call(addr, "topic stats", req).await?;
        decode("topic stats", addr, &reply)
    }

    /// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201).
    pub async fn groups(&self, addr: &str) -> Result<GroupTable, AdminError> {
        let req = RemotingCommand::request(request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        let reply = self.call(addr, "group list", req).await?;
        decode("group list", addr, &reply)
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200).
    pub async fn create_group(
        &self,
        addr: &str,
        config: &SubscriptionGroupConfig,
    ) -> Result<(), AdminError> {
        let body = ringmq_net::body::encode_json(config)
            .map_err(|err| AdminError::Invalid(err.to_string()))?;
        let req =
            RemotingCommand::request(request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(body);
        self.call(addr, "create group", req).await?;
        Ok(())
    }

    /// DELETE_SUBSCRIPTIONGROUP (207), with its offsets.
    pub async fn delete_group(&self, addr: &str, group: &str) -> Result<(), AdminError> {
        let req = RemotingCommand::request(request::DELETE_SUBSCRIPTIONGROUP).with_header(
            &DeleteSubscriptionGroupRequestHeader {
                group_name: group.to_owned(),
                remove_offset: true,
            },
        );
        self.call(addr, "delete group", req).await?;
        Ok(())
    }

    /// GET_CONSUME_STATS (208), of one topic or all the group consumed.
    pub async fn consume_stats(
        &self,
        addr: &str,
        group: &str,
        topic: Option<&str>,
    ) -> Result<ConsumeStats, AdminError> {
        let req = RemotingCommand::request(request::GET_CONSUME_STATS).with_header(
            &GetConsumeStatsRequestHeader {
                consumer_group: group.to_owned(),
                topic: topic.map(str::to_owned),
            },
        );
        let reply = self.call(addr, "consume stats", req).await?;
        decode("consume stats", addr, &reply)
    }

    /// VIEW_BROKER_STATS_DATA (315): the last minute, hour and day of the
    /// statistic `name` (e.g. `TOPIC_PUT_NUMS`) for `key` (a topic,
    /// `topic@group`, or the cluster name).
    pub async fn broker_stats(
        &self,
        addr: &str,
        name: &str,
        key: &str,
    ) -> Result<ringmq_net::body::BrokerStatsData, AdminError> {
        let req = RemotingCommand::request(request::VIEW_BROKER_STATS_DATA).with_header(
            &ringmq_net::header::ViewBrokerStatsDataRequestHeader {
                stats_name: name.to_owned(),
                stats_key: key.to_owned(),
            },
        );
        let reply = self.call(addr, "broker stats", req).await?;
        decode("broker stats", addr, &reply)
    }

    /// GET_BROKER_CONSUME_STATS (317): every group's consume stats on the
    /// broker (only ordered topics when `is_order`).
    pub async fn broker_consume_stats(
        &self,
        addr: &str,
        is_order: bool,
    ) -> Result<ringmq_net::body::ConsumeStatsList, AdminError> {
        let req = RemotingCommand::request(request::GET_BROKER_CONSUME_STATS).with_header(
            &ringmq_net::header::GetConsumeStatsInBrokerHeader {
                is_order,
                timeout_millis: i64::try_from(self.timeout.as_millis()).ok(),
            },
        );
        let reply = self.call(addr, "broker consume stats", req).await?;
        decode("broker consume stats", addr, &reply)
    }

    /// GET_CONSUMER_CONNECTION_LIST (203); `None` when the group is not online.
    pub async fn consumer_connections(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<Option<ConsumerConnection>, AdminError> {
        let req = RemotingCommand::request(request::GET_CONSUMER_CONNECTION_LIST).with_header(
            &GetConsumerConnectionListRequestHeader {
                consumer_group: group.to_owned(),
            },
        );
        let reply = self.call_any(addr, req).await?;
        match reply.code {
            response::SUCCESS => decode("consumer connections", addr, &reply).map(Some),
            response::CONSUMER_NOT_ONLINE => Ok(None),
            _ => Err(super::refused("consumer connections", addr, &reply)),
        }
    }

    /// GET_PRODUCER_CONNECTION_LIST (204); `None` when no producer is connected.
    pub async fn producer_connections(
        &self,
        addr: &str,
        group: &str,
    ) -> Result<Option<ProducerConnection>, AdminError> {
        let req = RemotingCommand::request(request::GET_PRODUCER_CONNECTION_LIST).with_header(
            &GetProducerConnectionListRequestHeader {
                producer_group: group.to_owned(),
            },
        );
        let reply = self.call_any(addr, req).await?;
        match reply.code {
            response::SUCCESS => decode("producer connections", addr, &reply).map(Some),
            // Java answers SYSTEM_ERROR "the producer group[..] not exist".
            response::SYSTEM_ERROR => Ok(None),
            _ => Err(super::refused("producer connections", addr, &reply)),
        }
    }

    /// INVOKE_BROKER_TO_RESET_OFFSET (222); `None` when no consumer of the
    /// group is online (the broker then changed nothing).
    pub async fn invoke_reset_offset(
        &self,
        addr: &str,
        group: &str,
        topic: &str,
        timestamp: i64,
    ) -> Result<Option<ResetOffsetBody>, AdminError> {
        let req = RemotingCommand::request(request::INVOKE_BROKER_TO_RESET_OFFSET).with_header(
            &ResetOffsetRequestHeader {
                topic: topic.to_owned(),
                group: group.to_owned(),
                timestamp,
                is_force: true,
            },
        );
        let reply = self.call_any(addr, req).await?;
        match reply.code {
            response::SUCCESS => decode("reset offset", addr, &reply).map(Some),
            response::CONSUMER_NOT_ONLINE => Ok(None),
            _ => Err(super::refused("reset offset", addr, &reply)),
        }
    }

    /// QUERY_CONSUMER_OFFSET (14); `None` when the group never committed.
    pub async fn consumer_offset(
        &self,
        addr: &str,
        group: &str,
        topic: &str,
        queue_id: i32,
    ) -> Result<Option<i64>, AdminError> {
        let req = RemotingCommand::request(request::QUERY_CONSUMER_OFFSET).with_header(
            &QueryConsumerOffsetRequestHeader {
                consumer_group: group.to_owned(),
                topic: topic.to_owned(),
                queue_id,
                bname: None,
            },
        );
        let reply = self.call_any(addr, req).await?;
        match reply.code {
            response::SUCCESS => reply
                .decode_header::<QueryConsumerOffsetResponseHeader>()
                .map(|h| Some(h.offset))
                .map_err(|err| malformed("consumer offset", addr, err)),
            response::QUERY_NOT_FOUND => Ok(None),
            _ => Err(super::refused("consumer offset", addr, &reply)),
        }
    }

    /// UPDATE_CONSUMER_OFFSET (15), as a request with an answer (not
    /// one-way), so the caller knows it was stored.
    pub async fn commit_offset(
        &self,
        addr: &str,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<(), AdminError> {
        let req = RemotingCommand::request(request::UPDATE_CONSUMER_OFFSET).with_header(
            &UpdateConsumerOffsetRequestHeader {
                consumer_group: group.to_owned(),
                topic: topic.to_owned(),
                queue_id,
                commit_offset: offset,
                bname: None,
            },
        );
        self.call(addr, "commit offset", req).await?;
        Ok(())
    }

    /// GET_MAX_OFFSET (30): the queue's end.
    pub async fn max_offset(
        &self,
        addr: &str,
        topic: &str,
        queue_id: i32,
    ) -> Result<i64, AdminError> {
        let req = RemotingCommand::request(request::GET_MAX_OFFSET).with_header(
            &GetMaxOffsetRequestHeader {
                topic: topic.to_owned(),
                queue_id,
                committed: None,
                bname: None,
            },
        );
        let reply = self.call(addr, "max offset", req).await?;
        reply
            .decode_header::<GetMaxOffsetResponseHeader>()
            .map(|h| h.offset)
            .map_err(|err| malformed("max offset", addr, err))
    }

    /// GET_MIN_OFFSET (31): the queue's oldest readable offset.
    pub async fn min_offset(
        &self,
        addr: &str,
        topic: &str,
        queue_id: i32,
    ) -> Result<i64, AdminError> {
        let req = RemotingCommand::request(request::GET_MIN_OFFSET).with_header(
            &GetMinOffsetRequestHeader {
                topic: topic.to_owned(),
                queue_id,
                bname: None,
            },
        );
        let reply = self.call(addr, "min offset", req).await?;
        reply
            .decode_header::<GetMinOffsetResponseHeader>()
            .map(|h| h.offset)
            .map_err(|err| malformed("min offset", addr, err))
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP (29): first offset stored at or after `ms`.
    pub async fn offset_at(
        &self,
        addr: &str,
        topic: &str,
        queue_id: i32,
        ms: i64,
    ) -> Result<i64, AdminError> {
        let req = RemotingCommand::request(request::SEARCH_OFFSET_BY_TIMESTAMP).with_header(
            &SearchOffsetRequestHeader {
                topic: topic.to_owned(),
                queue_id,
                timestamp: ms,
                bname: None,
            },
        );
        let reply = self.call(addr, "search offset", req).await?;
        reply
            .decode_header::<SearchOffsetResponseHeader>()
            .map(|h| h.offset)
            .map_err(|err| malformed("search offset", addr, err))
    }

    /// VIEW_MESSAGE_BY_ID (33): the record at a physical offset.
    pub async fn view_message(
        &self,
        addr: &str,
        broker_name: &str,
        physical_offset: i64,
    ) -> Result<MessageExt, AdminError> {
        let req = RemotingCommand::request(request::VIEW_MESSAGE_BY_ID).with_header(
            &ViewMessageRequestHeader {
                offset: physical_offset,
            },
        );
        let reply = self.call(addr, "view message", req).await?;
        decode_pull_body(&reply.body, broker_name, 0, 0)
            .into_iter()
            .next()
            .ok_or_else(|| AdminError::NotFound(format!("no message at offset {physical_offset}")))
    }

    /// QUERY_MESSAGE (12) by key, or by unique id when `unique`.
    pub async fn query_messages(
        &self,
        addr: &str,
        broker_name: &str,
        topic: &str,
        key: &str,
        range_ms: (i64, i64),
        unique: bool,
    ) -> Result<Vec<MessageExt>, AdminError> {
        let mut req = RemotingCommand::request(request::QUERY_MESSAGE).with_header(
            &QueryMessageRequestHeader {
                topic: topic.to_owned(),
                key: key.to_owned(),
                max_num: QUERY_MAX_NUM,
                begin_timestamp: range_ms.0,
                end_timestamp: range_ms.1,
                unique_key_query: unique.then_some(true),
            },
        );
        if unique {
            req.ext_fields
                .insert("_UNIQUE_KEY_QUERY".to_owned(), "true".to_owned());
        }
        let reply = self.call_any(addr, req).await?;
        match reply.code {
            response::SUCCESS => Ok(decode_pull_body(&reply.body, broker_name, 0, 0)),
            response::QUERY_NOT_FOUND => Ok(Vec::new()),
            _ => Err(super::refused("query message", addr, &reply)),
        }
    }

    /// PULL_MESSAGE (11) without suspend and without committing.
    pub async fn pull(
        &self,
        addr: &str,
        queue: &MessageQueue,
        group: &str,
        offset: i64,
        max: i32,
    ) -> Result<Pulled, AdminError> {
        let (broker_name, topic, queue_id) = (&queue.broker_name, &queue.topic, queue.queue_id);
        let req = RemotingCommand::request(request::PULL_MESSAGE).with_header(
            &PullMessageRequestHeader {
                consumer_group: group.to_owned(),
                topic: topic.to_owned(),
                queue_id,
                queue_offset: offset,
                max_msg_nums: max.clamp(1, PULL_BATCH_MAX),
                sys_flag: PullSysFlag::build(false, false, false).0,
                commit_offset: 0,
                suspend_timeout_millis: 0,
                subscription: Some("*".to_owned()),
                sub_version: 0,
                expression_type: Some("TAG".to_owned()),
                max_msg_bytes: None,
                bname: None,
            },
        );
        let reply = self.call_any(addr, req).await?;
        let head = reply
            .decode_header::<PullMessageResponseHeader>()
            .map_err(|err| malformed("pull", addr, err));
        match reply.code {
            response::SUCCESS
            | response::PULL_NOT_FOUND
            | response::PULL_RETRY_IMMEDIATELY
            | response::PULL_OFFSET_MOVED => {
                let head = head?;
                let messages = if reply.code == response::SUCCESS {
                    decode_pull_body(&reply.body, broker_name, head.min_offset, head.max_offset)
                } else {
                    Vec::new()
                };
                Ok(Pulled {
                    code: reply.code,
                    next_begin_offset: head.next_begin_offset,
                    min_offset: head.min_offset,
                    max_offset: head.max_offset,
                    messages,
                })
            }
            _ => Err(super::refused("pull", addr, &reply)),
        }
    }
}

fn malformed(what: &'static str, addr: &str, err: impl std::fmt::Display) -> AdminError {
    AdminError::Malformed {
        what,
        addr: addr.to_owned(),
        reason: err.to_string(),
    }
}

/// Java properties text (`key=value` lines, `#` comments) as a map.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_text_is_parsed_and_garbage_skipped() {
        let map = parse_properties("# c\nbrokerName=b\n\nflushDiskType = ASYNC_FLUSH\nnoequals\n");
        assert_eq!(map.get("brokerName").map(String::as_str), Some("b"));
        assert_eq!(
            map.get("flushDiskType").map(String::as_str),
            Some("ASYNC_FLUSH")
        );
        assert_eq!(map.len(), 2);
    }
}
