//! CONSUMER_SEND_MSG_BACK (36, spec §2.7): a consumer that failed a message
//! hands it back for a later retry (Java 4.9 `SendMessageProcessor.
//! consumerSendMsgBack`).
//!
//! The original record is looked up by its physical offset and re-published
//! with its body, flag, born time and host, and properties kept:
//!
//! ```text
//! reconsumeTimes >= max, or delayLevel < 0  -> %DLQ%<group>, queue 0, at once
//!     (created on demand with 1 queue and perm WRITE only: the group cannot
//!      read it until an operator grants READ)
//! otherwise                                  -> %RETRY%<group>, queue 0, DELAY = level
//!     level = delayLevel if > 0, else 3 + reconsumeTimes (clamped to the last level)
//! max = the header's maxReconsumeTimes, else the group's retryMaxTimes (16)
//! ```
//!
//! The new record carries `RETRY_TOPIC` (the original topic, unless already
//! set), `ORIGIN_MESSAGE_ID` (the first message's id, unless already set),
//! `WAIT=false`, and reconsume count + 1. The retry record is held by the
//! schedule service ([`crate::schedule`]) until its level's delay passes.

use std::rc::Rc;

use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader};
use ringmq_net::properties as property_names;
use ringmq_net::record::MessageRecord;
use ringmq_net::topic as topic_names;

use super::send::{Target, record_bytes, target};
use super::{Reply, error, header, success};
use crate::message;
use crate::shard::Shard;
use crate::state::lock;
use crate::store::{PutJob, PutStatus};

/// The first retry's delay level when the consumer asks for none (Java: `3 + reconsumeTimes`).
pub const RETRY_DELAY_LEVEL_BASE: i32 = 3;

/// Where a sent-back message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `%RETRY%<group>` after this delay level.
    Retry { level: i32 },
    /// `%DLQ%<group>`, at once.
    DeadLetter,
}

/// Java's rule for a message consumed `reconsume_times` times, sent back
/// with `delay_level`, under a limit of `max` reconsumptions.
pub fn destination(reconsume_times: i32, delay_level: i32, max: i32) -> Destination {
    if reconsume_times >= max || delay_level < 0 {
        return Destination::DeadLetter;
    }
    let level = if delay_level > 0 {
        delay_level
    } else {
        RETRY_DELAY_LEVEL_BASE.saturating_add(reconsume_times)
    };
    Destination::Retry { level }
}

pub async fn send_back(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: ConsumerSendMsgBackRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let state = &shard.state;
    let group =
        shard.find_or_create_group(&head.group, state.config.auto_create_subscription_group);
    let Some(group) = group else {
        let remark = lock(&state.groups)
            .missing_remark(&head.group, state.config.auto_create_subscription_group);
        return error(req, response::SUBSCRIPTION_GROUP_NOT_EXIST, remark);
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
    let destination = destination(original.reconsume_times, head.delay_level, max);
    let properties = sent_back_properties(shard, &head, &original, &destination);
    let topic = match destination {
        Destination::DeadLetter => topic_names::dlq_topic(&head.group),
        Destination::Retry { .. } => topic_names::retry_topic(&head.group),
    };
    let send_head = SendMessageRequestHeader {
        producer_group: head.group.clone(),
        topic,
        default_topic: topic_names::AUTO_CREATE_TOPIC.to_owned(),
        default_topic_queue_nums: 1,
        queue_id: 0,
        sys_flag: original.sys_flag,
        born_timestamp: original.born_timestamp,
        flag: original.flag,
        properties: Some(properties),
        reconsume_times: Some(original.reconsume_times.saturating_add(1)),
        unit_mode: false,
        batch: false,
        max_reconsume_times: None,
        bname: None,
    };
    store_sent_back(shard, req, &send_head, &original).await
}

/// The original's properties with the retry bookkeeping (see the module doc).
fn sent_back_properties(
    shard: &Shard,
    head: &ConsumerSendMsgBackRequestHeader,
    original: &MessageRecord,
    destination: &Destination,
) -> String {
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
            .unwrap_or_else(|| message::offset_msg_id(shard.state.store_host, head.offset));
        message::append_property(&mut properties, property_names::ORIGIN_MESSAGE_ID, &origin);
    }
    message::append_property(&mut properties, property_names::WAIT, "false");
    if let Destination::Retry { level } = destination {
        crate::schedule::set_property(&mut properties, property_names::DELAY, &level.to_string());
    }
    properties
}

/// Stores the sent-back record (held by the schedule service when delayed).
async fn store_sent_back(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    send_head: &SendMessageRequestHeader,
    original: &MessageRecord,
) -> Reply {
    let target = match target(shard, req, send_head) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let mut properties = send_head.properties.clone().unwrap_or_default();
    let held = crate::schedule::hold(
        shard,
        &target.topic.topic_name,
        target.queue_id,
        &mut properties,
        send_head.sys_flag,
    );
    let store_at = match held {
        Ok(Some(held)) => Target {
            topic: held.topic,
            queue_id: held.queue_id,
        },
        Ok(None) => target,
        Err(refusal) => return error(req, response::MESSAGE_ILLEGAL, refusal.to_string()),
    };
    let record = match record_bytes(
        shard,
        original.born_host,
        send_head,
        &store_at,
        original.body.clone(),
        original.flag,
        properties,
    ) {
        Ok(record) => record,
        Err(remark) => return error(req, response::SYSTEM_ERROR, remark),
    };
    let outcome = shard
        .put(PutJob {
            topic: store_at.topic.topic_name.clone(),
            queue_id: store_at.queue_id,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_follows_java_4_9() {
        assert_eq!(destination(0, 0, 16), Destination::Retry { level: 3 });
        assert_eq!(destination(5, 0, 16), Destination::Retry { level: 8 });
        assert_eq!(destination(5, 2, 16), Destination::Retry { level: 2 });
        assert_eq!(destination(15, 0, 16), Destination::Retry { level: 18 });
        assert_eq!(destination(16, 0, 16), Destination::DeadLetter);
        assert_eq!(destination(0, -1, 16), Destination::DeadLetter);
        assert_eq!(destination(2, 0, 2), Destination::DeadLetter);
        assert_eq!(destination(1, 0, 2), Destination::Retry { level: 4 });
    }
}
