//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) (spec §2.4, §10): checks,
//! tag filtering by hash, commit-offset piggyback, long polling (through the
//! owner shard), and the store status → response code table. The body is
//! the stored records themselves, sent zero-copy from the segment files.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use ringmq_net::body::heartbeat::{EXPRESSION_TYPE_TAG, SubscriptionData};
use ringmq_net::code::response;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::{PullMessageRequestHeader, PullMessageResponseHeader, PullSysFlag};
use ringmq_storage::GetStatus;

use super::{Reply, error, header};
use crate::shard::Shard;
use crate::state::lock;
use crate::store::{PullJob, PullOutcome};
use crate::transfer::FileChunk;

/// Most messages one pull returns, whatever `maxMsgNums` says.
pub const PULL_MESSAGES_MAX: u32 = 1024;
/// Default byte budget of one pull (RocketMQ in-memory transfer limit).
pub const PULL_BYTES_DEFAULT: u32 = 256 * 1024;
/// Largest byte budget a client may ask for with `maxMsgBytes`.
pub const PULL_BYTES_MAX: u32 = 4 * 1024 * 1024;

pub async fn pull(shard: &Rc<Shard>, req: &RemotingCommand) -> Reply {
    let head: PullMessageRequestHeader = match header(req) {
        Ok(head) => head,
        Err(reply) => return reply,
    };
    let job = match admit(shard, req, &head) {
        Ok(job) => job,
        Err(reply) => return reply,
    };
    let outcome = shard.pull(job).await;
    respond(shard, req, &head, outcome)
}

/// The pre-checks of spec §2.4 and the offset piggyback; the job to run.
fn admit(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &PullMessageRequestHeader,
) -> Result<PullJob, Reply> {
    let state = &shard.state;
    let flags = PullSysFlag(head.sys_flag);
    let group = shard.find_or_create_group(
        &head.consumer_group,
        state.config.auto_create_subscription_group,
    );
    let Some(group) = group else {
        let remark = lock(&state.groups).missing_remark(
            &head.consumer_group,
            state.config.auto_create_subscription_group,
        );
        return Err(error(req, response::SUBSCRIPTION_GROUP_NOT_EXIST, remark));
    };
    if !group.consume_enable {
        return Err(error(
            req,
            response::NO_PERMISSION,
            format!(
                "subscription group [{}] has consumeEnable=false",
                head.consumer_group
            ),
        ));
    }
    let topic = shard.topic(&head.topic);
    let Some(topic) = topic else {
        return Err(error(
            req,
            response::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please!", head.topic),
        ));
    };
    if !topic.is_readable() {
        return Err(error(
            req,
            response::NO_PERMISSION,
            format!(
                "the topic[{}] pulling message is forbidden (perm {})",
                head.topic, topic.perm
            ),
        ));
    }
    if head.queue_id < 0 || head.queue_id >= topic.read_queue_nums {
        return Err(error(
            req,
            response::SYSTEM_ERROR,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
                head.queue_id, head.topic, topic.read_queue_nums
            ),
        ));
    }
    let tags = subscription_tags(shard, req, head, flags)?;
    if flags.0 & PullSysFlag::COMMIT_OFFSET != 0 {
        lock(&state.offsets).commit(
            &head.consumer_group,
            &head.topic,
            head.queue_id,
            head.commit_offset,
        );
    }
    let max_bytes = head
        .max_msg_bytes
        .and_then(|b| u32::try_from(b).ok())
        .unwrap_or(PULL_BYTES_DEFAULT)
        .clamp(1, PULL_BYTES_MAX);
    Ok(PullJob {
        topic: head.topic.clone(),
        queue_id: head.queue_id,
        offset: head.queue_offset,
        max_count: u32::try_from(head.max_msg_nums)
            .unwrap_or(1)
            .clamp(1, PULL_MESSAGES_MAX),
        max_bytes,
        tags,
        hold_ms: (flags.0 & PullSysFlag::SUSPEND != 0)
            .then(|| u64::try_from(head.suspend_timeout_millis).unwrap_or(0)),
    })
}

/// The tag codes to filter on: from the header when the subscription flag is
/// set, else from the group's heartbeat. A consumer whose heartbeat has not
/// arrived yet gets everything (it re-filters by tag itself).
fn subscription_tags(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &PullMessageRequestHeader,
    flags: PullSysFlag,
) -> Result<Option<BTreeSet<i32>>, Reply> {
    let sub = if flags.0 & PullSysFlag::SUBSCRIPTION != 0 {
        let kind = head
            .expression_type
            .as_deref()
            .unwrap_or(EXPRESSION_TYPE_TAG);
        if !kind.eq_ignore_ascii_case(EXPRESSION_TYPE_TAG) {
            return Err(error(
                req,
                response::SUBSCRIPTION_PARSE_FAILED,
                format!("expression type {kind} is not supported by this broker; use TAG"),
            ));
        }
        Some(SubscriptionData::tag(
            head.topic.clone(),
            head.subscription.as_deref().unwrap_or("*"),
            head.sub_version,
        ))
    } else {
        lock(&shard.state.clients)
            .consumer_group(&head.consumer_group)
            .and_then(|info| info.subscriptions.get(&head.topic).cloned())
    };
    Ok(sub.filter(|s| !s.is_all()).map(|s| s.code_set))
}

/// Status → response code (spec §2.4 table) and the zero-copy body.
fn respond(
    shard: &Rc<Shard>,
    req: &RemotingCommand,
    head: &PullMessageRequestHeader,
    outcome: PullOutcome,
) -> Reply {
    let Some(status) = outcome.status else {
        return error(
            req,
            response::SYSTEM_BUSY,
            "[REJECTREQUEST] the broker is shutting down",
        );
    };
    let code = match status {
        GetStatus::Found => response::SUCCESS,
        GetStatus::NoMatchedMessage | GetStatus::MessageWasRemoving => {
            response::PULL_RETRY_IMMEDIATELY
        }
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue if head.queue_offset != 0 => {
            response::PULL_OFFSET_MOVED
        }
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue => response::PULL_NOT_FOUND,
        GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly => response::PULL_OFFSET_MOVED,
        GetStatus::OffsetOverflowOne | GetStatus::OffsetFoundNull => response::PULL_NOT_FOUND,
    };
    let reply = RemotingCommand::response_to(req, code, Some(status.name().to_owned()))
        .with_header(&PullMessageResponseHeader {
            suggest_which_broker_id: 0,
            next_begin_offset: outcome.next_begin_offset,
            min_offset: outcome.min_offset,
            max_offset: outcome.max_offset,
            topic_sys_flag: None,
            group_sys_flag: None,
        });
    if code != response::SUCCESS {
        return Reply::command(reply);
    }
    let mut chunks: Vec<FileChunk> = Vec::with_capacity(outcome.ranges.len());
    {
        let mut maps = shard.maps.borrow_mut();
        for range in &outcome.ranges {
            match maps.chunk(&range.path, range.position, range.len) {
                Ok(chunk) => chunks.push(chunk),
                Err(err) => {
                    tracing::warn!(path = %range.path.display(), %err, "cannot map a segment for a pull");
                    return error(
                        req,
                        response::PULL_RETRY_IMMEDIATELY,
                        format!("segment not readable: {err}"),
                    );
                }
            }
        }
    }
    shard
        .state
        .counters
        .messages_got
        .fetch_add(outcome.message_count as u64, Ordering::Relaxed);
    shard.state.metrics.message_out(
        shard.id,
        &head.consumer_group,
        &head.topic,
        outcome.message_count as u64,
        outcome.ranges.iter().map(|r| r.len as u64).sum(),
    );
    Reply::transfer(reply, chunks)
}
