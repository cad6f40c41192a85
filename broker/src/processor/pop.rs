//! POP consumption requests of RocketMQ 5 clients (Java 5.x
//! `PopMessageProcessor`, `AckMessageProcessor`,
//! `ChangeInvisibleTimeProcessor`, `NotificationProcessor`):
//!
//! - POP_MESSAGE (200050): up to `maxMsgNums` (1..=32) messages from one
//!   queue or, with `queueId` -1, from every queue of the topic on this
//!   broker plus the group's POP retry topic `%RETRY%<group>_<topic>`
//!   (tried first one time in five, as Java's `popFromRetryProbability`
//!   20 %; FIFO pops read the topic only). The body is the records as PULL
//!   returns them, each with property `POP_CK` = its receipt; the header
//!   carries `popTime`, `invisibleTime`, `reviveQid`, `restNum`,
//!   `startOffsetInfo`, `msgOffsetInfo` (and `orderCountInfo` for FIFO).
//!   Nothing found: held up to `pollTime` (woken by new messages in any of
//!   the popped queues, or by the ack that unblocks a FIFO queue), then
//!   POLLING_TIMEOUT; POLLING_FULL when the broker holds too many waits.
//! - ACK_MESSAGE (200051): `extraInfo` + `offset`; SUCCESS also when the
//!   receipt no longer waits for an ack (acked before, or revived), as Java.
//! - CHANGE_MESSAGE_INVISIBLETIME (200053): the message is invisible for
//!   `invisibleTime` more ms from now; the response header is the new
//!   receipt's popTime/invisibleTime/reviveQid (the client's new receipt has
//!   `ckQueueOffset` = the message's offset). A receipt nothing waits for is
//!   answered NO_MESSAGE (Java would write a new checkpoint regardless and
//!   redeliver an acked message).
//! - NOTIFICATION (200054): whether a pop would find a message, held up to
//!   `pollTime` when not.
//!
//! Runs on the connection's shard; each queue's part runs on the shard that
//! owns the queue ([`crate::pop`]).

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use ringmq_net::body::heartbeat::{EXPRESSION_TYPE_TAG, SubscriptionData};
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::pop::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    ExtraInfo, NotificationRequestHeader, NotificationResponseHeader, POP_ORDER_REVIVE_QUEUE,
    PopMessageRequestHeader, PopMessageResponseHeader, retry_flag,
};
use ringmq_net::topic as topic_names;

use super::{Reply, error, header, success};
use crate::groups::SubscriptionGroupConfig;
use crate::pop::book::QueueKey;
use crate::pop::{AckAnswer, AckJob, ChangeAnswer, ChangeJob, PeekJob, PopQueueJob};
use crate::shard::Shard;
use crate::state::lock;
use crate::store::{QueueQuery, QueueQueryKind};
use crate::topics::TopicConfig;

/// Java's bound on `maxMsgNums`.
pub const POP_MESSAGES_MAX: i32 = 32;
/// One pop in this many reads the retry topic first (Java's
/// `popFromRetryProbability` default of 20 %).
const RETRY_FIRST_EVERY: u32 = 5;

/// One queue a pop reads.
#[derive(Debug, Clone)]
struct Source {
    topic: String,
    queue_id: i32,
}

impl Source {
    fn is_retry(&self) -> bool {
        topic_names::is_retry_topic(&self.topic)
    }
}

/// The topic and group checks shared by POP and NOTIFICATION.
fn admit(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    group: &str,
    topic: &str,
    queue_id: i32,
    bad_queue_code: i32,
) -> Result<(Rc<TopicConfig>, Rc<SubscriptionGroupConfig>), Reply> {
    let Some(config) = shard.topic(topic) else {
        return Err(error(
            req,
            response::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist, apply first please!"),
        ));
    };
    if !config.is_readable() {
        return Err(error(
            req,
            response::NO_PERMISSION,
            format!("the topic[{topic}] peeking message is forbidden"),
        ));
    }
    if queue_id >= config.read_queue_nums {
        return Err(error(
            req,
            bad_queue_code,
            format!(
                "queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]",
                config.read_queue_nums
            ),
        ));
    }
    let state = &shard.state;
    let auto = state.config.auto_create_subscription_group;
    let Some(found) = shard.find_or_create_group(group, auto) else {
        let remark = lock(&state.groups).missing_remark(group, auto);
        return Err(error(req, response::SUBSCRIPTION_GROUP_NOT_EXIST, remark));
    };
    if !found.consume_enable {
        return Err(error(
            req,
            response::NO_PERMISSION,
            format!("subscription group no permission, {group}"),
        ));
    }
    Ok((config, found))
}

/// The queues a pop of `topic` reads, in order (see the module doc).
fn sources(
    shard: &Rc<Shard>,
    topic: &TopicConfig,
    group: &str,
    queue_id: i32,
    fifo: bool,
) -> Vec<Source> {
    let own: Vec<Source> = if queue_id >= 0 {
        vec![Source {
            topic: topic.topic_name.clone(),
            queue_id,
        }]
    } else {
        let count = topic.read_queue_nums.max(0);
        let first = shard.next_queue(count.max(1));
        (0..count)
            .map(|i| Source {
                topic: topic.topic_name.clone(),
                queue_id: (first + i) % count.max(1),
            })
            .collect()
    };
    if fifo {
        return own;
    }
    let retry_name = topic_names::pop_retry_topic(&topic.topic_name, group);
    let retry: Vec<Source> = shard.topic(&retry_name).map_or_else(Vec::new, |retry| {
        (0..retry.read_queue_nums.max(0))
            .map(|queue_id| Source {
                topic: retry_name.clone(),
                queue_id,
            })
            .collect()
    });
    let retry_first =
        u32::try_from(shard.next_queue(i32::MAX)).unwrap_or(0) % RETRY_FIRST_EVERY == 0;
    if retry_first {
        retry.into_iter().chain(own).collect()
    } else {
        own.into_iter().chain(retry).collect()
    }
}

/// The tag codes a `TAG` expression accepts (`None` = all).
fn tag_filter(
    req: &RemotingCommand,
    topic: &str,
    kind: Option<&str>,
    exp: Option<&str>,
) -> Result<Option<BTreeSet<i32>>, Reply> {
    let kind = kind.unwrap_or(EXPRESSION_TYPE_TAG);
    if !kind.eq_ignore_ascii_case(EXPRESSION_TYPE_TAG) {
        return Err(error(
            req,
            response::SUBSCRIPTION_PARSE_FAILED,
            format!("expression type {kind} is not supported by this broker; use TAG"),
        ));
    }
    let exp = exp.filter(|e| !e.trim().is_empty()).unwrap_or("*");
    let sub = SubscriptionData::tag(topic.to_owned(), exp, 0);
    Ok((!sub.is_all()).then_some(sub.code_set))
}

/// What the pops of every source found.
#[derive(Default)]
struct Gathered {
    /// The pop time every receipt of this pop carries.
    pop_time: i64,
    body: Vec<u8>,
    count: usize,
    rest: i64,
    start_offset_info: Vec<String>,
    msg_offset_info: Vec<String>,
    order_count_info: Vec<String>,
    error: Option<String>,
}

async fn gather(
    shard: &Rc<Shard>,
    head: &PopMessageRequestHeader,
    sources: &[Source],
    template: &PopQueueJob,
) -> Gathered {
    let mut out = Gathered {
        pop_time: template.pop_time,
        ..Gathered::default()
    };
    let max = usize::try_from(head.max_msg_nums.clamp(1, POP_MESSAGES_MAX)).unwrap_or(1);
    for source in sources {
        let Some(room) = max.checked_sub(out.count).filter(|room| *room > 0) else {
            break;
        };
        let mut job = template.clone();
        job.key.topic = source.topic.clone();
        job.key.queue_id = source.queue_id;
        job.max = u32::try_from(room).unwrap_or(1);
        let answer = crate::pop::pop(shard, job).await;
        out.rest += answer.rest;
        if let Some(err) = answer.error {
            out.error.get_or_insert(err);
        }
        if answer.messages.is_empty() {
            continue;
        }
        let flag = retry_flag(source.is_retry());
        out.start_offset_info.push(format!(
            "{flag} {} {}",
            source.queue_id, answer.start_offset
        ));
        let offsets: Vec<String> = answer.offsets.iter().map(i64::to_string).collect();
        out.msg_offset_info
            .push(format!("{flag} {} {}", source.queue_id, offsets.join(",")));
        out.order_count_info
            .push(format!("{flag} {} {}", source.queue_id, answer.attempts));
        out.count += answer.messages.len();
        for message in answer.messages {
            out.body.extend(message);
        }
    }
    out
}

pub async fn pop_message(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: PopMessageRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    if head.max_msg_nums > POP_MESSAGES_MAX {
        return error(
            req,
            response::INVALID_PARAMETER,
            format!("the broker pop message's num is greater than {POP_MESSAGES_MAX}"),
        );
    }
    if head.invisible_time < 0 {
        return error(
            req,
            response::INVALID_PARAMETER,
            format!("invisibleTime {} is negative", head.invisible_time),
        );
    }
    let (topic, group) = match admit(
        shard,
        req,
        &head.consumer_group,
        &head.topic,
        head.queue_id,
        response::INVALID_PARAMETER,
    ) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let tags = match tag_filter(
        req,
        &head.topic,
        head.exp_type.as_deref(),
        head.exp.as_deref(),
    ) {
        Ok(tags) => tags,
        Err(reply) => return reply,
    };
    let fifo = head.order.unwrap_or(false);
    let sources = sources(shard, &topic, &head.consumer_group, head.queue_id, fifo);
    let pop_time = crate::clock::now_ms();
    let template = PopQueueJob {
        key: QueueKey::new(&head.consumer_group, &head.topic, 0),
        request_topic: head.topic.clone(),
        max: 1,
        invisible_time: head.invisible_time,
        pop_time,
        fifo,
        init_mode: head.init_mode,
        tags,
        retry_max_times: group.retry_max_times,
        broker_name: shard.state.config.broker_name.clone(),
    };
    let mut found = gather(shard, &head, &sources, &template).await;
    let mut code = response::SUCCESS;
    if found.count == 0 && found.error.is_none() {
        code = response::POLLING_TIMEOUT;
        let hold_ms = u64::try_from(head.poll_time).unwrap_or(0);
        if hold_ms > 0 && !shard.state.is_shutting_down() {
            let watched: Vec<(String, i32)> = sources
                .iter()
                .map(|s| (s.topic.clone(), s.queue_id))
                .collect();
            if crate::pop::wait_for_arrival(shard, &watched, hold_ms).await {
                let mut again = template.clone();
                again.pop_time = crate::clock::now_ms();
                // The retry topic may have appeared meanwhile.
                let sources =
                    self::sources(shard, &topic, &head.consumer_group, head.queue_id, fifo);
                found = gather(shard, &head, &sources, &again).await;
                if found.count > 0 {
                    code = response::SUCCESS;
                }
            } else {
                code = response::POLLING_FULL;
            }
        }
    }
    if found.count == 0
        && let Some(err) = found.error
    {
        return error(
            req,
            response::SYSTEM_ERROR,
            format!("the pop failed: {err}"),
        );
    }
    respond(shard, req, &head, fifo, code, found)
}

fn respond(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &PopMessageRequestHeader,
    fifo: bool,
    code: i32,
    found: Gathered,
) -> Reply {
    let remark = if code == response::SUCCESS {
        "FOUND"
    } else {
        "NO_MESSAGE_IN_QUEUE"
    };
    let header = PopMessageResponseHeader {
        pop_time: found.pop_time,
        invisible_time: head.invisible_time,
        revive_qid: if fifo { POP_ORDER_REVIVE_QUEUE } else { 0 },
        rest_num: found.rest,
        start_offset_info: Some(found.start_offset_info.join(";")),
        msg_offset_info: Some(found.msg_offset_info.join(";")),
        order_count_info: fifo.then(|| found.order_count_info.join(";")),
    };
    let reply =
        RemotingCommand::response_to(req, code, Some(remark.to_owned())).with_header(&header);
    if code != response::SUCCESS {
        return Reply::command(reply);
    }
    let state = &shard.state;
    state
        .counters
        .messages_got
        .fetch_add(found.count as u64, Ordering::Relaxed);
    state.metrics.message_out(
        shard.id,
        &head.consumer_group,
        &head.topic,
        found.count as u64,
        found.body.len() as u64,
    );
    Reply::command(reply.with_body(found.body))
}

/// The queue an ACK or CHANGE_INVISIBLETIME names: the POP retry topic when
/// the receipt says so and the client named the topic itself.
fn receipt_queue(group: &str, topic: &str, queue_id: i32, info: &ExtraInfo) -> QueueKey {
    let real = if info.retry && !topic_names::is_retry_topic(topic) {
        topic_names::pop_retry_topic(topic, group)
    } else {
        topic.to_owned()
    };
    QueueKey::new(group, &real, queue_id)
}

/// Checks an ACK or CHANGE's topic, queue and offset as Java does.
async fn check_receipt(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    topic: &str,
    key: &QueueKey,
    offset: i64,
    max_inclusive: bool,
) -> Result<(), Reply> {
    if shard.topic(topic).is_none() {
        return Err(error(
            req,
            response::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist, apply first please!"),
        ));
    }
    let real = shard.topic(&key.topic);
    let read_queues = real.as_ref().map_or(0, |t| t.read_queue_nums);
    if key.queue_id < 0 || key.queue_id >= read_queues {
        return Err(error(
            req,
            response::MESSAGE_ILLEGAL,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{read_queues}]",
                key.queue_id, key.topic
            ),
        ));
    }
    let min = shard
        .queue(QueueQuery::new(
            &key.topic,
            key.queue_id,
            QueueQueryKind::MinOffset,
        ))
        .await
        .value;
    let max = shard
        .queue(QueueQuery::new(
            &key.topic,
            key.queue_id,
            QueueQueryKind::MaxOffset,
        ))
        .await
        .value;
    let beyond = if max_inclusive {
        offset > max
    } else {
        offset >= max
    };
    if offset < min || beyond {
        return Err(error(
            req,
            response::NO_MESSAGE,
            format!(
                "offset is illegal, key:{}@{}, commit:{offset}, store:{min}~{max}",
                key.topic, key.queue_id
            ),
        ));
    }
    Ok(())
}

fn parse_receipt(req: &RemotingCommand, text: &str) -> Result<ExtraInfo, Reply> {
    ExtraInfo::parse(text).map_err(|err| {
        error(
            req,
            response::SYSTEM_ERROR,
            format!("extraInfo {text:?} is not a receipt: {err}"),
        )
    })
}

pub async fn ack_message(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: AckMessageRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let info = match parse_receipt(req, &head.extra_info) {
        Ok(info) => info,
        Err(reply) => return reply,
    };
    let key = receipt_queue(&head.consumer_group, &head.topic, head.queue_id, &info);
    if let Err(reply) = check_receipt(shard, req, &head.topic, &key, head.offset, true).await {
        return reply;
    }
    let job = AckJob {
        key,
        ck_start: info.ck_queue_offset,
        pop_time: info.pop_time,
        offset: head.offset,
    };
    match crate::pop::ack(shard, job).await {
        AckAnswer::Acked | AckAnswer::NotFound => Reply::command(success(req)),
        AckAnswer::Failed(why) => error(
            req,
            response::SYSTEM_ERROR,
            format!("the ack failed: {why}"),
        ),
    }
}

pub async fn change_invisible_time(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: ChangeInvisibleTimeRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    if head.invisible_time < 0 {
        return error(
            req,
            response::INVALID_PARAMETER,
            format!("invisibleTime {} is negative", head.invisible_time),
        );
    }
    let info = match parse_receipt(req, &head.extra_info) {
        Ok(info) => info,
        Err(reply) => return reply,
    };
    let key = receipt_queue(&head.consumer_group, &head.topic, head.queue_id, &info);
    if let Err(reply) = check_receipt(shard, req, &head.topic, &key, head.offset, false).await {
        return reply;
    }
    let job = ChangeJob {
        key,
        ck_start: info.ck_queue_offset,
        pop_time: info.pop_time,
        offset: head.offset,
        invisible_time: head.invisible_time,
        now: crate::clock::now_ms(),
    };
    match crate::pop::change(shard, job).await {
        ChangeAnswer::Changed {
            pop_time,
            invisible_time,
            revive_qid,
        } => Reply::command(
            success(req).with_header(&ChangeInvisibleTimeResponseHeader {
                pop_time,
                invisible_time,
                revive_qid,
            }),
        ),
        ChangeAnswer::NotFound => error(
            req,
            response::NO_MESSAGE,
            "no popped message waits for an ack with this receipt: it was acked, \
             or its invisible time passed and it was redelivered",
        ),
        ChangeAnswer::Failed(why) => error(
            req,
            response::SYSTEM_ERROR,
            format!("changing the invisible time failed: {why}"),
        ),
    }
}

pub async fn notification(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: NotificationRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let (topic, _) = match admit(
        shard,
        req,
        &head.consumer_group,
        &head.topic,
        head.queue_id,
        response::SYSTEM_ERROR,
    ) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let fifo = head.order.unwrap_or(false);
    let sources = sources(shard, &topic, &head.consumer_group, head.queue_id, fifo);
    let mut has_msg = any_message(shard, &head.consumer_group, &sources, fifo).await;
    let mut polling_full = false;
    let hold_ms = u64::try_from(head.poll_time).unwrap_or(0);
    if !has_msg && hold_ms > 0 && !shard.state.is_shutting_down() {
        let watched: Vec<(String, i32)> = sources
            .iter()
            .map(|s| (s.topic.clone(), s.queue_id))
            .collect();
        if crate::pop::wait_for_arrival(shard, &watched, hold_ms).await {
            has_msg = any_message(shard, &head.consumer_group, &sources, fifo).await;
        } else {
            polling_full = true;
        }
    }
    Reply::command(success(req).with_header(&NotificationResponseHeader {
        has_msg,
        polling_full,
    }))
}

async fn any_message(shard: &Rc<Shard>, group: &str, sources: &[Source], fifo: bool) -> bool {
    for source in sources {
        let job = PeekJob {
            key: QueueKey::new(group, &source.topic, source.queue_id),
            fifo,
            init_mode: crate::pop::queue::INIT_MODE_MIN,
            now: crate::clock::now_ms(),
        };
        if crate::pop::peek(shard, job).await {
            return true;
        }
    }
    false
}
