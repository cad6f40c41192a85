//! The consumer's requests to brokers: offsets (query, update, max, search),
//! the consumer list of a group, pulls, send-backs and the queue locks of
//! orderly consumption (spec §2.4, §2.5, §2.7).

use std::collections::BTreeSet;
use std::time::Duration;

use ringmq_net::body::{
    ConsumerListByGroupResponseBody, LockBatchRequestBody, LockBatchResponseBody,
    UnlockBatchRequestBody, decode_json, encode_json,
};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    ConsumerSendMsgBackRequestHeader, GetConsumerListByGroupRequestHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, PullMessageRequestHeader,
    PullMessageResponseHeader, QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader,
    SearchOffsetRequestHeader, SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};

use super::ConsumerError;
use super::message_ext::{MessageExt, decode_pull_body};
use crate::instance::ClientInstance;
use crate::queue::MessageQueue;

/// Client-side timeout of a long-polling pull (Java
/// `CONSUMER_TIMEOUT_MILLIS_WHEN_SUSPEND`).
pub const PULL_TIMEOUT_SUSPENDED: Duration = Duration::from_secs(30);

/// What one pull brought back.
#[derive(Debug)]
pub enum PullOutcome {
    /// Messages (not yet tag-filtered) and where to pull next.
    Found {
        /// The messages, in offset order.
        msgs: Vec<MessageExt>,
        /// Next offset to pull.
        next_offset: i64,
    },
    /// Nothing new (after the broker's hold); pull again at `next_offset`.
    NoNewMessage {
        /// Next offset to pull.
        next_offset: i64,
    },
    /// The requested offset is invalid; continue from `next_offset`.
    OffsetMoved {
        /// The broker's corrected offset.
        next_offset: i64,
    },
}

/// A pull to issue.
#[derive(Debug, Clone)]
pub struct PullSpec<'a> {
    /// Consumer group.
    pub group: &'a str,
    /// The queue.
    pub mq: &'a MessageQueue,
    /// Offset to pull from.
    pub offset: i64,
    /// Most messages to return.
    pub batch: i32,
    /// Offset to piggy-back-commit (only sent when `Some`).
    pub commit_offset: Option<i64>,
    /// Long-poll hold; `None` for a non-suspending pull.
    pub suspend: Option<Duration>,
    /// Subscription expression to send in the header (bit 2), if any.
    pub expression: Option<&'a str>,
    /// Subscription version.
    pub sub_version: i64,
}

fn master(instance: &ClientInstance, broker: &str) -> Result<String, ConsumerError> {
    instance
        .master_addr(broker)
        .or_else(|| instance.any_broker_addr(broker))
        .ok_or_else(|| ConsumerError::NoBrokerAddress(broker.to_string()))
}

fn refused(request: i32, reply: &RemotingCommand) -> ConsumerError {
    ConsumerError::Broker {
        request,
        code: reply.code,
        remark: reply.remark.clone().unwrap_or_default(),
    }
}

/// QUERY_CONSUMER_OFFSET; `None` when the broker has none (QUERY_NOT_FOUND).
pub async fn query_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
) -> Result<Option<i64>, ConsumerError> {
    let addr = master(instance, &mq.broker_name)?;
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group.to_string(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        bname: None,
    };
    let reply = instance
        .invoke(
            &addr,
            RemotingCommand::request(request::QUERY_CONSUMER_OFFSET).with_header(&header),
        )
        .await?;
    match reply.code {
        response::SUCCESS => Ok(Some(
            reply
                .decode_header::<QueryConsumerOffsetResponseHeader>()?
                .offset,
        )),
        response::QUERY_NOT_FOUND => Ok(None),
        _ => Err(refused(request::QUERY_CONSUMER_OFFSET, &reply)),
    }
}

/// UPDATE_CONSUMER_OFFSET, one-way as the Java push consumer sends it.
pub async fn update_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
    offset: i64,
) -> Result<(), ConsumerError> {
    let addr = master(instance, &mq.broker_name)?;
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_string(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        commit_offset: offset,
        bname: None,
    };
    let request = RemotingCommand::request(request::UPDATE_CONSUMER_OFFSET).with_header(&header);
    instance.invoke_oneway(&addr, request).await?;
    Ok(())
}

/// UPDATE_CONSUMER_OFFSET as a request: returns once the broker stored the
/// offset (before an orderly consumer releases the queue's lock).
pub async fn commit_offset(
    instance: &ClientInstance,
    group: &str,
    mq: &MessageQueue,
    offset: i64,
) -> Result<(), ConsumerError> {
    let addr = master(instance, &mq.broker_name)?;
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group.to_string(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        commit_offset: offset,
        bname: None,
    };
    let request = RemotingCommand::request(request::UPDATE_CONSUMER_OFFSET).with_header(&header);
    let reply = instance.invoke(&addr, request).await?;
    if reply.code != response::SUCCESS {
        return Err(refused(request::UPDATE_CONSUMER_OFFSET, &reply));
    }
    Ok(())
}

/// LOCK_BATCH_MQ to the master of `broker`: locks (or renews) `mqs` for
/// this client; returns the queues it now holds.
pub async fn lock_batch(
    instance: &ClientInstance,
    group: &str,
    broker: &str,
    mqs: BTreeSet<MessageQueue>,
) -> Result<BTreeSet<MessageQueue>, ConsumerError> {
    let addr = master(instance, broker)?;
    let body = LockBatchRequestBody {
        client_id: instance.client_id().to_string(),
        consumer_group: group.to_string(),
        mq_set: mqs,
        only_this_broker: false,
    };
    let request = RemotingCommand::request(request::LOCK_BATCH_MQ)
        .with_body(json(request::LOCK_BATCH_MQ, &body)?);
    let reply = instance.invoke(&addr, request).await?;
    if reply.code != response::SUCCESS {
        return Err(refused(request::LOCK_BATCH_MQ, &reply));
    }
    let answer: LockBatchResponseBody =
        decode_json(&reply.body).map_err(|e| ConsumerError::Broker {
            request: request::LOCK_BATCH_MQ,
            code: reply.code,
            remark: e.to_string(),
        })?;
    Ok(answer.lock_ok_mq_set)
}

/// UNLOCK_BATCH_MQ to the master of `broker`: releases this client's locks
/// on `mqs`.
pub async fn unlock_batch(
    instance: &ClientInstance,
    group: &str,
    broker: &str,
    mqs: BTreeSet<MessageQueue>,
) -> Result<(), ConsumerError> {
    let addr = master(instance, broker)?;
    let body = UnlockBatchRequestBody {
        client_id: instance.client_id().to_string(),
        consumer_group: group.to_string(),
        mq_set: mqs,
        only_this_broker: false,
    };
    let request = RemotingCommand::request(request::UNLOCK_BATCH_MQ)
        .with_body(json(request::UNLOCK_BATCH_MQ, &body)?);
    let reply = instance.invoke(&addr, request).await?;
    if reply.code != response::SUCCESS {
        return Err(refused(request::UNLOCK_BATCH_MQ, &reply));
    }
    Ok(())
}

fn json<T: serde::Serialize>(request: i32, body: &T) -> Result<Vec<u8>, ConsumerError> {
    encode_json(body).map_err(|e| ConsumerError::Broker {
        request,
        code: response::SYSTEM_ERROR,
        remark: format!("cannot encode a request body: {e}"),
    })
}

/// GET_MAX_OFFSET: the queue's end (next offset to be written).
pub async fn max_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
) -> Result<i64, ConsumerError> {
    let addr = master(instance, &mq.broker_name)?;
    let header = GetMaxOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        committed: None,
        bname: None,
    };
    let reply = instance
        .invoke(
            &addr,
            RemotingCommand::request(request::GET_MAX_OFFSET).with_header(&header),
        )
        .await?;
    if reply.code != response::SUCCESS {
        return Err(refused(request::GET_MAX_OFFSET, &reply));
    }
    Ok(reply.decode_header::<GetMaxOffsetResponseHeader>()?.offset)
}

/// SEARCH_OFFSET_BY_TIMESTAMP: first offset stored at or after `timestamp_ms`.
pub async fn search_offset(
    instance: &ClientInstance,
    mq: &MessageQueue,
    timestamp_ms: i64,
) -> Result<i64, ConsumerError> {
    let addr = master(instance, &mq.broker_name)?;
    let header = SearchOffsetRequestHeader {
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        timestamp: timestamp_ms,
        bname: None,
    };
    let reply = instance
        .invoke(
            &addr,
            RemotingCommand::request(request::SEARCH_OFFSET_BY_TIMESTAMP).with_header(&header),
        )
        .await?;
    if reply.code != response::SUCCESS {
        return Err(refused(request::SEARCH_OFFSET_BY_TIMESTAMP, &reply));
    }
    Ok(reply.decode_header::<SearchOffsetResponseHeader>()?.offset)
}

/// GET_CONSUMER_LIST_BY_GROUP from any broker of `broker`'s group, sorted.
pub async fn consumer_ids(
    instance: &ClientInstance,
    broker: &str,
    group: &str,
) -> Result<Vec<String>, ConsumerError> {
    let addr = master(instance, broker)?;
    let header = GetConsumerListByGroupRequestHeader {
        consumer_group: group.to_string(),
        bname: None,
    };
    let reply = instance
        .invoke(
            &addr,
            RemotingCommand::request(request::GET_CONSUMER_LIST_BY_GROUP).with_header(&header),
        )
        .await?;
    if reply.code != response::SUCCESS {
        return Err(refused(request::GET_CONSUMER_LIST_BY_GROUP, &reply));
    }
    let body: ConsumerListByGroupResponseBody =
        decode_json(&reply.body).map_err(|e| ConsumerError::Broker {
            request: request::GET_CONSUMER_LIST_BY_GROUP,
            code: reply.code,
            remark: e.to_string(),
        })?;
    let mut ids = body.consumer_id_list;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// PULL_MESSAGE to the queue's master.
pub async fn pull(
    instance: &ClientInstance,
    spec: &PullSpec<'_>,
    lite: bool,
) -> Result<PullOutcome, ConsumerError> {
    let addr = master(instance, &spec.mq.broker_name)?;
    let mut sys_flag = 0;
    if spec.commit_offset.is_some() {
        sys_flag |= 0x1;
    }
    if spec.suspend.is_some() {
        sys_flag |= 0x2;
    }
    if spec.expression.is_some() {
        sys_flag |= 0x4;
    }
    if lite {
        sys_flag |= 0x10;
    }
    let header = PullMessageRequestHeader {
        consumer_group: spec.group.to_string(),
        topic: spec.mq.topic.clone(),
        queue_id: spec.mq.queue_id,
        queue_offset: spec.offset,
        max_msg_nums: spec.batch,
        sys_flag,
        commit_offset: spec.commit_offset.unwrap_or(0),
        suspend_timeout_millis: spec
            .suspend
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        subscription: spec.expression.map(str::to_string),
        sub_version: spec.sub_version,
        // Java always names the expression type, even when the broker is to
        // use the heartbeat's subscription (bit 2 clear).
        expression_type: Some("TAG".to_string()),
        max_msg_bytes: None,
        bname: None,
    };
    let timeout = if spec.suspend.is_some() {
        PULL_TIMEOUT_SUSPENDED
    } else {
        instance.config().request_timeout
    };
    let request = RemotingCommand::request(request::PULL_MESSAGE).with_header(&header);
    let reply = instance.remoting().invoke(&addr, request, timeout).await?;
    let code = reply.code;
    if !matches!(
        code,
        response::SUCCESS
            | response::PULL_NOT_FOUND
            | response::PULL_RETRY_IMMEDIATELY
            | response::PULL_OFFSET_MOVED
    ) {
        return Err(refused(request::PULL_MESSAGE, &reply));
    }
    let h: PullMessageResponseHeader = reply.decode_header()?;
    Ok(match code {
        response::SUCCESS => PullOutcome::Found {
            msgs: decode_pull_body(
                &reply.body,
                &spec.mq.broker_name,
                h.min_offset,
                h.max_offset,
            ),
            next_offset: h.next_begin_offset,
        },
        response::PULL_OFFSET_MOVED => PullOutcome::OffsetMoved {
            next_offset: h.next_begin_offset,
        },
        _ => PullOutcome::NoNewMessage {
            next_offset: h.next_begin_offset,
        },
    })
}

/// The delay level of a send-back that goes straight to the group's DLQ.
pub const DELAY_LEVEL_DLQ: i32 = -1;
/// The delay level of a send-back whose delay the broker chooses
/// (3 + reconsume times).
pub const DELAY_LEVEL_BROKER: i32 = 0;

/// CONSUMER_SEND_MSG_BACK: hand a failed message to the broker's retry path
/// ([`DELAY_LEVEL_BROKER`]) or its DLQ ([`DELAY_LEVEL_DLQ`]).
pub async fn send_back(
    instance: &ClientInstance,
    group: &str,
    msg: &MessageExt,
    max_reconsume_times: i32,
    delay_level: i32,
) -> Result<(), ConsumerError> {
    let addr = master(instance, &msg.broker_name)?;
    let header = ConsumerSendMsgBackRequestHeader {
        offset: msg.commit_log_offset,
        group: group.to_string(),
        delay_level,
        origin_msg_id: Some(msg.msg_id.clone()),
        origin_topic: Some(msg.topic.clone()),
        unit_mode: false,
        max_reconsume_times: Some(max_reconsume_times),
        bname: None,
    };
    let reply = instance
        .invoke(
            &addr,
            RemotingCommand::request(request::CONSUMER_SEND_MSG_BACK).with_header(&header),
        )
        .await?;
    if reply.code != response::SUCCESS {
        return Err(refused(request::CONSUMER_SEND_MSG_BACK, &reply));
    }
    Ok(())
}
