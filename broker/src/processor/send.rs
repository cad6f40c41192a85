//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320)
//! (spec §2.3), CONSUMER_SEND_MSG_BACK (36, §2.7) and END_TRANSACTION (37,
//! §2.12).
//!
//! The connection's shard checks the request, auto-creates the topic,
//! encodes the commit-log records (born host = TCP peer, store host = the
//! advertised address, `CLUSTER` added) and hands them to the queue's owner.
//!
//! Not yet here (later issues): delay levels are not scheduled (a `DELAY`
//! message is stored for immediate delivery), sent-back messages go to
//! `%RETRY%<group>` without delay, and half messages are never checked back
//! (END_TRANSACTION commit re-appends the half message; rollback drops it).

use std::rc::Rc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{
    ConsumerSendMsgBackRequestHeader, EndTransactionRequestHeader, SendMessageRequestHeader,
    SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use ringmq_net::record::{self, MessageRecord, TransactionType};

use super::{Reply, error, header, success};
use crate::connection::Connection;
use crate::message;
use crate::shard::Shard;
use crate::state::{ControlEvent, lock};
use crate::store::{PutJob, PutOutcome, PutStatus};
use crate::topics::{TopicConfig, validate_topic_name};
use ringmq_net::batch::{self as batch_body, BatchEntry};
use ringmq_net::properties as property_names;
use ringmq_net::topic as topic_names;

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
struct Target {
    topic: Rc<TopicConfig>,
    queue_id: i32,
}

pub async fn send(shard: &Rc<Shard>, connection: &Rc<Connection>, req: &RemotingCommand) -> Reply {
    let mut head = match send_header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let batch = req.code == request::SEND_BATCH_MESSAGE;
    if let Err(reply) = check_size(shard, req, &head) {
        return reply;
    }
    if let Err(reply) = reroute_to_dlq(shard, &mut head) {
        return reply;
    }
    let target = match target(shard, req, &head) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let mut properties = head.properties.clone().unwrap_or_default();
    message::append_property(
        &mut properties,
        property_names::CLUSTER,
        &shard.state.config.cluster_name,
    );
    let wait_flush = message::property(&properties, property_names::WAIT) != Some("false");
    let records = if batch {
        if message::property(&properties, property_names::DELAY).is_some()
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
        record_bytes(
            shard,
            connection.peer,
            &head,
            &target,
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
        .put(PutJob {
            topic: target.topic.topic_name.clone(),
            queue_id: target.queue_id,
            records,
            wait_flush,
        })
        .await;
    if matches!(outcome.status, PutStatus::Ok | PutStatus::FlushTimeout) {
        shard
            .state
            .counters
            .messages_put
            .fetch_add(count as u64, Ordering::Relaxed);
        shard.state.metrics.message_in(
            &target.topic.topic_name,
            count as u64,
            req.body.len() as u64,
        );
    }
    put_reply(
        shard,
        req,
        target.queue_id,
        message::property(&properties, property_names::UNIQ_KEY),
        outcome,
    )
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
fn target(
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
fn record_bytes(
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
    let msg_id = outcome
        .stored
        .iter()
        .map(|(physical, _)| message::offset_msg_id(store_host, *physical))
        .collect::<Vec<_>>()
        .join(",");
    let queue_offset = outcome.stored.first().map_or(0, |(_, q)| *q);
    let remark =
        (code != response::SUCCESS).then(|| "stored, but not flushed to disk in time".to_owned());
    Reply::command(RemotingCommand::response_to(req, code, remark).with_header(
        &SendMessageResponseHeader {
            msg_id,
            queue_id,
            queue_offset,
            transaction_id: uniq_key.map(str::to_owned),
            msg_region: Some(REGION.to_owned()),
            trace_on: Some(true),
        },
    ))
}

/// CONSUMER_SEND_MSG_BACK: re-stores a failed message in `%RETRY%<group>`
/// (or `%DLQ%<group>` past its reconsume limit), with no delay yet.
pub async fn send_back(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: ConsumerSendMsgBackRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let state = &shard.state;
    let group =
        shard.find_or_create_group(&head.group, state.config.auto_create_subscription_group);
    let Some(group) = group else {
        return error(
            req,
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{}] does not exist", head.group),
        );
    };
    if group.retry_queue_nums <= 0 {
        return Reply::command(success(req));
    }
    let Some(original) = shard.read_record(head.offset).await else {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("look message by offset failed, {}", head.offset),
        );
    };
    let Ok((original, _)) = MessageRecord::decode(&original.bytes) else {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("the record at offset {} cannot be decoded", head.offset),
        );
    };
    let max = head.max_reconsume_times.unwrap_or(group.retry_max_times);
    let to_dlq = original.reconsume_times >= max || head.delay_level < 0;
    let target_topic = if to_dlq {
        topic_names::dlq_topic(&head.group)
    } else {
        topic_names::retry_topic(&head.group)
    };
    let mut properties = message::remove_property(&original.properties, property_names::WAIT);
    if message::property(&properties, property_names::RETRY_TOPIC).is_none() {
        message::append_property(
            &mut properties,
            property_names::RETRY_TOPIC,
            &original.topic,
        );
    }
    if message::property(&properties, property_names::ORIGIN_MESSAGE_ID).is_none() {
        let origin = head
            .origin_msg_id
            .clone()
            .unwrap_or_else(|| message::offset_msg_id(state.store_host, head.offset));
        message::append_property(&mut properties, property_names::ORIGIN_MESSAGE_ID, &origin);
    }
    message::append_property(&mut properties, property_names::WAIT, "false");
    let send_head = SendMessageRequestHeader {
        producer_group: head.group.clone(),
        topic: target_topic,
        default_topic: topic_names::AUTO_CREATE_TOPIC.to_owned(),
        default_topic_queue_nums: 1,
        queue_id: 0,
        sys_flag: original.sys_flag,
        born_timestamp: original.born_timestamp,
        flag: original.flag,
        properties: Some(properties.clone()),
        reconsume_times: Some(original.reconsume_times.saturating_add(1)),
        unit_mode: false,
        batch: false,
        max_reconsume_times: None,
        bname: None,
    };
    let target = match target(shard, req, &send_head) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let record = match record_bytes(
        shard,
        original.born_host,
        &send_head,
        &target,
        original.body.clone(),
        original.flag,
        properties,
    ) {
        Ok(record) => record,
        Err(remark) => return error(req, response::SYSTEM_ERROR, remark),
    };
    let outcome = shard
        .put(PutJob {
            topic: target.topic.topic_name.clone(),
            queue_id: 0,
            records: vec![record],
            wait_flush: false,
        })
        .await;
    match outcome.status {
        PutStatus::Ok | PutStatus::FlushTimeout => Reply::command(success(req)),
        other => error(
            req,
            response::SYSTEM_ERROR,
            other.remark("the message sent back for redelivery"),
        ),
    }
}

/// END_TRANSACTION (one-way): COMMIT re-appends the half message as a
/// normal message of its topic; ROLLBACK and UNKNOWN leave it unconsumable.
pub async fn end_transaction(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: EndTransactionRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    if TransactionType::from_sys_flag(head.commit_or_rollback) != TransactionType::Commit {
        return Reply::command(success(req));
    }
    let Some(half) = shard.read_record(head.commit_log_offset).await else {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("no half message at offset {}", head.commit_log_offset),
        );
    };
    let Ok((mut record, _)) = MessageRecord::decode(&half.bytes) else {
        return error(
            req,
            response::SYSTEM_ERROR,
            "the half message cannot be decoded",
        );
    };
    if TransactionType::from_sys_flag(record.sys_flag) != TransactionType::Prepared {
        return Reply::command(success(req));
    }
    record.sys_flag = TransactionType::Commit.apply(record.sys_flag);
    record.prepared_transaction_offset = head.commit_log_offset;
    record.properties = message::remove_property(&record.properties, property_names::TRAN_MSG);
    let Ok(bytes) = record.to_vec() else {
        return error(
            req,
            response::SYSTEM_ERROR,
            "the committed message cannot be encoded",
        );
    };
    let outcome = shard
        .put(PutJob {
            topic: record.topic.clone(),
            queue_id: record.queue_id,
            records: vec![bytes],
            wait_flush: false,
        })
        .await;
    match outcome.status {
        PutStatus::Ok | PutStatus::FlushTimeout => Reply::command(success(req)),
        other => error(
            req,
            response::SYSTEM_ERROR,
            other.remark("the committed transactional message"),
        ),
    }
}
