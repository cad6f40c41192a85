//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320)
//! (spec §2.3). CONSUMER_SEND_MSG_BACK is in [`super::retry`]; a send with
//! `TRAN_MSG=true` is stored as a half message ([`crate::transaction::half`])
//! and END_TRANSACTION is in [`super::transaction`].
//!
//! The connection's shard checks the request, auto-creates the topic,
//! encodes the commit-log records (born host = TCP peer, store host = the
//! advertised address, `CLUSTER` added) and hands them to the queue's owner.
//!
//! A message that must wait (`DELAY` level or RocketMQ 5 timer properties)
//! is stored where [`crate::schedule::hold`] says, not in its own queue.

use std::rc::Rc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use ringmq_net::record::{self, MessageRecord, TransactionType};

use super::{Reply, error, header};
use crate::connection::Connection;
use crate::message;
use crate::shard::Shard;
use crate::state::{ControlEvent, lock};
use crate::store::{PutJob, PutOutcome, PutStatus};
use crate::topics::{TopicConfig, validate_topic_name};
use ringmq_net::batch::{self as batch_body, BatchEntry};
use ringmq_net::properties as property_names;
use ringmq_net::topic as topic_names;

/// Longest offset message id (IPv6 store host), for sizing a batch's list.
const MSG_ID_HEX_MAX: usize = ringmq_net::message_id::MSG_ID_V6_HEX_LEN;
/// Region reported in every send response (`MSG_REGION`).
const REGION: &str = "DefaultRegion";
/// Sysflag bits a producer may set (compression and transaction type).
const PRODUCER_SYS_FLAG_MASK: i32 =
    record::COMPRESSED_FLAG | record::TRANSACTION_TYPE_MASK | record::COMPRESSION_TYPE_MASK;

/// The send header in whichever form the client used.
fn send_header(req: &RemotingCommand) -> Result<SendMessageRequestHeader, Reply> {
    let short = req.ext_fields.contains_key("b") && !req.ext_fields.contains_key("topic");
    if req.code == request::SEND_MESSAGE_V2 || short {
        header::<SendMessageRequestHeaderV2>(req).map(Into::into)
    } else {
        header::<SendMessageRequestHeader>(req)
    }
}

/// Where a send goes after the checks.
pub(super) struct Target {
    pub(super) topic: Rc<TopicConfig>,
    pub(super) queue_id: i32,
}

pub async fn send(shard: &Rc<Shard>, connection: &Rc<Connection>, req: &RemotingCommand) -> Reply {
    let mut head = match send_header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let batch = req.code == request::SEND_BATCH_MESSAGE;
    if let Err(reply) = super::throttle::admit(shard, req, &head, batch) {
        return reply;
    }
    if let Err(reply) = check_size(shard, req, &head) {
        return reply;
    }
    if let Err(reply) = reroute_to_dlq(shard, &mut head) {
        return reply;
    }
    let mut target = match target(shard, req, &head) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let reply_queue = target.queue_id;
    let mut properties = head.properties.clone().unwrap_or_default();
    // A half message waits for its outcome, not for a delay: it is never
    // held by the schedule (Java schedules only at commit).
    let half = !batch && crate::transaction::half::is_half(&properties);
    if half {
        target = match half_target(shard, req, &mut head, &mut properties, &target) {
            Ok(half) => half,
            Err(reply) => return reply,
        };
    }
    message::append_property(
        &mut properties,
        property_names::CLUSTER,
        &shard.state.config.cluster_name,
    );
    let wait_flush = message::property(&properties, property_names::WAIT) != Some("false");
    let mut store_at = (target.topic.clone(), target.queue_id);
    let records = if batch {
        if message::property(&properties, property_names::DELAY).is_some()
            || crate::schedule::is_timed(&properties)
            || TransactionType::from_sys_flag(head.sys_flag) != TransactionType::NotType
        {
            return error(
                req,
                response::MESSAGE_ILLEGAL,
                "batch messages cannot be delayed or transactional",
            );
        }
        batch_records(shard, connection, req, &head, &target, &properties)
    } else {
        let held = if half {
            Ok(None)
        } else {
            crate::schedule::hold(
                shard,
                &target.topic.topic_name,
                target.queue_id,
                &mut properties,
                head.sys_flag,
            )
        };
        match held {
            Ok(Some(held)) => store_at = (held.topic, held.queue_id),
            Ok(None) => {}
            Err(refusal) => return error(req, response::MESSAGE_ILLEGAL, refusal.to_string()),
        }
        let at = Target {
            topic: store_at.0.clone(),
            queue_id: store_at.1,
        };
        record_bytes(
            shard,
            connection.peer,
            &head,
            &at,
            req.body.clone(),
            head.flag,
            properties.clone(),
        )
        .map(|r| vec![r])
    };
    let records = match records {
        Ok(records) => records,
        Err(remark) => return error(req, response::MESSAGE_ILLEGAL, remark),
    };
    let count = records.len();
    let outcome = shard
        .put_send(PutJob {
            topic: store_at.0.topic_name.clone(),
            queue_id: store_at.1,
            records,
            wait_flush,
        })
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(busy) => return error(req, response::SYSTEM_BUSY, busy.remark()),
    };
    if matches!(outcome.status, PutStatus::Ok | PutStatus::FlushTimeout) {
        shard
            .state
            .counters
            .messages_put
            .fetch_add(count as u64, Ordering::Relaxed);
        shard.state.metrics.message_in(
            shard.id,
            &target.topic.topic_name,
            count as u64,
            req.body.len() as u64,
        );
    }
    put_reply(
        shard,
        req,
        reply_queue,
        message::property(&properties, property_names::UNIQ_KEY),
        outcome,
    )
}

/// A transactional send goes to the half queue (Java `parseHalfMessageInner`):
/// real topic and queue into properties, transaction bits cleared.
fn half_target(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &mut SendMessageRequestHeader,
    properties: &mut String,
    real: &Target,
) -> Result<Target, Reply> {
    let Some(topic) = shard.topic(topic_names::TRANS_HALF_TOPIC) else {
        return Err(error(
            req,
            response::SYSTEM_ERROR,
            "the half-message topic RMQ_SYS_TRANS_HALF_TOPIC is missing on this broker",
        ));
    };
    *properties = crate::transaction::half::half_properties(
        properties,
        &real.topic.topic_name,
        real.queue_id,
        &head.producer_group,
    );
    head.sys_flag = TransactionType::NotType.apply(head.sys_flag);
    Ok(Target {
        topic,
        queue_id: crate::transaction::HALF_QUEUE_ID,
    })
}

fn check_size(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &SendMessageRequestHeader,
) -> Result<(), Reply> {
    let max = shard.state.config.message_bytes_max;
    if req.body.len() > max {
        return Err(error(
            req,
            response::MESSAGE_ILLEGAL,
            format!(
                "the message body is {} bytes, above the broker's maximum of {max} bytes",
                req.body.len()
            ),
        ));
    }
    let props = head.properties.as_deref().map_or(0, str::len);
    if props > record::PROPERTIES_MAX_BYTES {
        return Err(error(
            req,
            response::MESSAGE_ILLEGAL,
            format!(
                "the message properties are {props} bytes, above the maximum of {}",
                record::PROPERTIES_MAX_BYTES
            ),
        ));
    }
    Ok(())
}

/// Spec §2.3 step 6: a `%RETRY%` send past its reconsume limit goes to the DLQ.
fn reroute_to_dlq(shard: &Rc<Shard>, head: &mut SendMessageRequestHeader) -> Result<(), Reply> {
    let Some(group) = topic_names::retry_topic_group(&head.topic) else {
        return Ok(());
    };
    let group_max = shard.group(group).map_or(16, |g| g.retry_max_times);
    let max = head.max_reconsume_times.unwrap_or(group_max);
    if head.reconsume_times.unwrap_or(0) >= max {
        head.topic = topic_names::dlq_topic(group);
        head.queue_id = 0;
    }
    Ok(())
}

/// Checks the topic (creating it if allowed) and picks the queue.
pub(super) fn target(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &SendMessageRequestHeader,
) -> Result<Target, Reply> {
    if let Err(remark) = validate_topic_name(&head.topic) {
        return Err(error(req, response::SYSTEM_ERROR, remark));
    }
    if topic_names::is_send_forbidden(&head.topic) {
        return Err(error(
            req,
            response::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", head.topic),
        ));
    }
    let topic = match shard.topic(&head.topic) {
        Some(topic) => topic,
        None => create_topic(shard, req, head)?,
    };
    if !topic.is_writable() {
        return Err(error(
            req,
            response::NO_PERMISSION,
            format!(
                "the topic[{}] not allow send, perm {}",
                head.topic, topic.perm
            ),
        ));
    }
    let queue_id = if head.queue_id < 0 {
        shard.next_queue(topic.write_queue_nums)
    } else {
        head.queue_id
    };
    if queue_id >= topic.queue_count() {
        return Err(error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "request queueId[{queue_id}] is illegal, topic {} has {} read and {} write queues",
                topic.topic_name, topic.read_queue_nums, topic.write_queue_nums
            ),
        ));
    }
    Ok(Target { topic, queue_id })
}

/// The slow path of [`target`]: the topic is not in this shard's snapshot,
/// so ask the table itself (under its lock), auto-creating it if allowed.
fn create_topic(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &SendMessageRequestHeader,
) -> Result<Rc<TopicConfig>, Reply> {
    let found = lock(&shard.state.topics).topic_for_send(
        &head.topic,
        &head.default_topic,
        head.default_topic_queue_nums,
        shard.state.config.auto_create_topic_enable,
    );
    let (topic, created) = found.map_err(|refusal| error(req, refusal.code, refusal.remark))?;
    if created {
        tracing::info!(topic = %topic.topic_name, queues = topic.write_queue_nums, "topic auto-created");
        shard.state.signal(ControlEvent::TopicsChanged);
    }
    Ok(Rc::new(topic))
}

/// Encodes one record for the target queue.
pub(super) fn record_bytes(
    shard: &Rc<Shard>,
    born_host: std::net::SocketAddr,
    head: &SendMessageRequestHeader,
    target: &Target,
    body: Bytes,
    flag: i32,
    properties: String,
) -> Result<Vec<u8>, String> {
    let store_host = shard.state.store_host;
    let mut sys_flag = head.sys_flag & PRODUCER_SYS_FLAG_MASK;
    if target.topic.topic_filter_type == "MULTI_TAG" {
        sys_flag |= record::MULTI_TAGS_FLAG;
    }
    let record = MessageRecord {
        queue_id: target.queue_id,
        flag,
        queue_offset: 0,
        physical_offset: 0,
        sys_flag: record::sys_flag_for_hosts(sys_flag, born_host, store_host),
        born_timestamp: head.born_timestamp,
        born_host,
        store_timestamp: crate::clock::now_ms(),
        store_host,
        reconsume_times: head.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
        body,
        topic: target.topic.topic_name.clone(),
        properties,
    };
    if record.body.len() > shard.state.config.message_bytes_max {
        return Err(format!(
            "a message body is {} bytes, above the broker's maximum of {} bytes",
            record.body.len(),
            shard.state.config.message_bytes_max
        ));
    }
    record
        .to_vec()
        .map_err(|err| format!("the message cannot be stored: {err}"))
}

/// Expands a batch body into records (batch properties appended to each).
fn batch_records(
    shard: &Rc<Shard>,
    connection: &Rc<Connection>,
    req: &RemotingCommand,
    head: &SendMessageRequestHeader,
    target: &Target,
    batch_properties: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let entries =
        batch_body::decode_batch(&req.body).map_err(|err| format!("bad batch body: {err}"))?;
    if entries.is_empty() {
        return Err("the batch holds no message".to_owned());
    }
    entries
        .into_iter()
        .map(
            |BatchEntry {
                 flag,
                 body,
                 properties,
             }| {
                let properties = batch_body::append_batch_properties(&properties, batch_properties);
                record_bytes(shard, connection.peer, head, target, body, flag, properties)
            },
        )
        .collect()
}

fn put_reply(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    queue_id: i32,
    uniq_key: Option<&str>,
    outcome: PutOutcome,
) -> Reply {
    let code = match &outcome.status {
        PutStatus::Ok => response::SUCCESS,
        PutStatus::FlushTimeout => response::FLUSH_DISK_TIMEOUT,
        PutStatus::Illegal(why) => return error(req, response::MESSAGE_ILLEGAL, why.clone()),
        PutStatus::Unavailable(why) => {
            return error(
                req,
                response::SERVICE_NOT_AVAILABLE,
                format!("the store refused the message: {why}"),
            );
        }
    };
    let store_host = shard.state.store_host;
    let msg_id = match outcome.stored.as_slice() {
        // The single send: the id itself, no list to join.
        [(physical, _)] => message::offset_msg_id(store_host, *physical),
        stored => {
            let mut ids = String::with_capacity(stored.len() * (MSG_ID_HEX_MAX + 1));
            for (index, (physical, _)) in stored.iter().enumerate() {
                if index > 0 {
                    ids.push(',');
                }
                ids.push_str(&message::offset_msg_id(store_host, *physical));
            }
            ids
        }
    };
    let queue_offset = outcome.stored.first().map_or(0, |(_, q)| *q);
    let remark =
        (code != response::SUCCESS).then(|| "stored, but not flushed to disk in time".to_owned());
    Reply::command(
        RemotingCommand::response_to(req, code, remark).with_owned_header(
            SendMessageResponseHeader {
                msg_id,
                queue_id,
                queue_offset,
                transaction_id: uniq_key.map(str::to_owned),
                msg_region: Some(REGION.to_owned()),
                trace_on: Some(true),
            },
        ),
    )
}
