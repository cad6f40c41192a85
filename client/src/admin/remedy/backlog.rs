//! `backlog_move`: a group's unconsumed backlog on a topic is copied to a
//! temporary topic, then the group's offsets are moved past it, so
//! temporary consumers drain the copy while the main flow resumes.
//!
//! ```text
//! per source queue q (broker B, topic T), planned at the start:
//!   start = the group's committed offset (the queue's min if none)
//!   end   = T's max offset on q
//!   copy [max(start, resume), end) to TEMP on B, queue q % TEMP's queues,
//!     each copy with MOVE_SOURCE = "<group> <T> <q> <offset> <B>"
//!   resume = 1 + the greatest source offset of q found scanning TEMP's
//!     queue backwards from its end (the copies of q are in source order)
//! then, every queue copied:
//!   consumers online  -> INVOKE_BROKER_TO_RESET_OFFSET at the time just
//!                        after the newest message planned (they are told)
//!   none online       -> UPDATE_CONSUMER_OFFSET to `end` on each queue
//! ```
//!
//! A run interrupted anywhere (or stopped by `max_copy`) and run again
//! copies nothing twice: the copies themselves say how far each source
//! queue was copied. The one duplicate window: a copy whose send answer was
//! lost but which the broker stores after the re-run's scan of TEMP.
//!
//! With consumers online, messages they consume while the copy runs are
//! both consumed by the group and copied. The reset is by time (the only
//! form 4.x brokers take): the broker's offset for that time is the end
//! planned, or later when more messages were stored within the same
//! millisecond; those are copied too ("gap" below). A Java broker answers
//! the offset *nearest* to the time, which may leave the group one message
//! before `end` (that message is then both in TEMP and redelivered).

use std::collections::BTreeMap;

use ringmq_net::body::{MessageQueue, PERM_READ_WRITE};
use ringmq_net::code::response;
use ringmq_net::properties::Properties;
use ringmq_net::topic as topic_names;
use serde::Serialize;

use super::super::calls::{PULL_BATCH_MAX, TopicSpec};
use super::super::ops::TOOLS_CONSUMER_GROUP;
use super::super::{Admin, AdminError};
use crate::consumer::MessageExt;
use ringmq_net::properties as names;

/// Property each copy carries: `<group> <topic> <queue> <offset> <broker>`.
pub const MOVE_SOURCE_PROPERTY: &str = "RINGMQ_MOVE_SOURCE";
/// Most queues a created TEMP gets per broker.
pub const TEMP_QUEUES_MAX: i32 = 1024;

/// What to move.
#[derive(Debug, Clone)]
pub struct MoveOptions {
    /// The consumer group.
    pub group: String,
    /// Its topic.
    pub topic: String,
    /// The temporary topic.
    pub to: String,
    /// Queues per broker when TEMP is created (default: the topic's).
    pub temp_queues: Option<i32>,
    /// Stop after copying this many (simulates an interruption; the
    /// offsets are then not moved).
    pub max_copy: Option<u64>,
}

/// One source queue of a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedQueue {
    /// Broker name.
    pub broker: String,
    /// Source queue id.
    pub queue_id: i32,
    /// TEMP's queue the copies went to.
    pub temp_queue_id: i32,
    /// The group's offset at the start.
    pub from: i64,
    /// The end planned (first offset not moved).
    pub to: i64,
    /// Copied by this run.
    pub copied: u64,
    /// Found copied by an earlier run.
    pub already_copied: u64,
}

/// What a move did.
#[derive(Debug, Clone, Serialize)]
pub struct MoveReport {
    /// The group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The temporary topic.
    pub to: String,
    /// Copied by this run.
    pub copied: u64,
    /// Found copied by an earlier run.
    pub already_copied: u64,
    /// Whether everything was copied and the offsets moved.
    pub complete: bool,
    /// `"consumers"` (told by their broker), `"committed"` (none online),
    /// or `""` (not moved: incomplete).
    pub applied_by: String,
    /// Per source queue.
    pub queues: Vec<MovedQueue>,
}

/// One planned source queue.
#[derive(Debug, Clone)]
struct Plan {
    addr: String,
    queue: MovedQueue,
}

/// `"<group> <topic> <queue> <offset> <broker>"`.
pub fn move_source(group: &str, topic: &str, queue_id: i32, offset: i64, broker: &str) -> String {
    format!("{group} {topic} {queue_id} {offset} {broker}")
}

/// The parts of a [`move_source`] value: (group, topic, queue, offset, broker).
pub fn parse_move_source(value: &str) -> Option<(&str, &str, i32, i64, &str)> {
    let mut parts = value.splitn(5, ' ');
    let group = parts.next()?;
    let topic = parts.next()?;
    let queue = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    let broker = parts.next()?;
    Some((group, topic, queue, offset, broker))
}

/// Scanning TEMP backwards: the greatest copied source offset of each of
/// `sources` in `batch` (newest last), added to `found` when not there.
pub fn note_last_copies(
    batch: &[MessageExt],
    group: &str,
    topic: &str,
    broker: &str,
    sources: &[i32],
    found: &mut BTreeMap<i32, i64>,
) {
    for m in batch.iter().rev() {
        let Some(source) = m.properties.get(MOVE_SOURCE_PROPERTY) else {
            continue;
        };
        let Some((g, t, q, offset, b)) = parse_move_source(source) else {
            continue;
        };
        if g == group && t == topic && b == broker && sources.contains(&q) {
            found.entry(q).or_insert(offset);
        }
    }
}

/// Where copying of a source queue resumes: after its last copy, never
/// before the group's offset.
pub fn resume_offset(start: i64, last_copied: Option<i64>) -> i64 {
    last_copied.map_or(start, |last| last.saturating_add(1).max(start))
}

/// The copy's properties: the source's, plus [`MOVE_SOURCE_PROPERTY`].
fn copy_properties(m: &MessageExt, source: String) -> Properties {
    let mut props = m.properties.clone();
    props.remove(names::MIN_OFFSET);
    props.remove(names::MAX_OFFSET);
    props.insert(MOVE_SOURCE_PROPERTY, source);
    props
}

fn validate(opts: &MoveOptions) -> Result<(), AdminError> {
    use ringmq_net::validate::{NameKind, name};
    let bad = |e: ringmq_net::validate::ValidateError| AdminError::Invalid(e.to_string());
    name(NameKind::ConsumerGroup, "group", &opts.group).map_err(bad)?;
    name(NameKind::Topic, "topic", &opts.topic).map_err(bad)?;
    name(NameKind::Topic, "to", &opts.to).map_err(bad)?;
    if opts.to == opts.topic {
        return Err(AdminError::Invalid("--to must differ from --topic".into()));
    }
    if topic_names::is_retry_topic(&opts.to)
        || topic_names::is_dlq_topic(&opts.to)
        || topic_names::SYSTEM_TOPICS.contains(&opts.to.as_str())
    {
        return Err(AdminError::Invalid(format!(
            "{} is a system topic; name an ordinary topic",
            opts.to
        )));
    }
    if let Some(n) = opts.temp_queues
        && !(1..=TEMP_QUEUES_MAX).contains(&n)
    {
        return Err(AdminError::Invalid(format!(
            "--queues {n}: give 1 to {TEMP_QUEUES_MAX}"
        )));
    }
    Ok(())
}

impl Admin {
    /// Moves `group`'s backlog on `topic` to `to` (module doc).
    pub async fn backlog_move(
        &self,
        group: &str,
        topic: &str,
        to: &str,
    ) -> Result<MoveReport, AdminError> {
        self.backlog_move_with(&MoveOptions {
            group: group.to_owned(),
            topic: topic.to_owned(),
            to: to.to_owned(),
            temp_queues: None,
            max_copy: None,
        })
        .await
    }

    /// [`Admin::backlog_move`] with every option.
    pub async fn backlog_move_with(&self, opts: &MoveOptions) -> Result<MoveReport, AdminError> {
        validate(opts)?;
        let masters = self.topic_masters(&opts.topic).await?;
        if !self.group_exists(&opts.group).await? {
            return Err(AdminError::NotFound(format!(
                "consumer group {} does not exist",
                opts.group
            )));
        }
        let (mut plans, reset_ms) = self.plan_move(opts, &masters).await?;
        let mut budget = opts.max_copy.unwrap_or(u64::MAX);
        for plan in &mut plans {
            self.copy_queue(opts, plan, &mut budget).await?;
        }
        let complete = plans.iter().all(copied_to_end);
        let mut report = MoveReport {
            group: opts.group.clone(),
            topic: opts.topic.clone(),
            to: opts.to.clone(),
            copied: plans.iter().map(|p| p.queue.copied).sum(),
            already_copied: plans.iter().map(|p| p.queue.already_copied).sum(),
            complete,
            applied_by: String::new(),
            queues: Vec::new(),
        };
        if complete {
            report.applied_by = self.advance(opts, &mut plans, &masters, reset_ms).await?;
            report.copied = plans.iter().map(|p| p.queue.copied).sum();
        }
        report.queues = plans.into_iter().map(|p| p.queue).collect();
        Ok(report)
    }

    /// Every source queue's range and TEMP queue; the reset time.
    async fn plan_move(
        &self,
        opts: &MoveOptions,
        masters: &[(String, String, i32, i32)],
    ) -> Result<(Vec<Plan>, i64), AdminError> {
        let mut plans = Vec::new();
        let mut newest = 0i64;
        for (name, addr, read, write) in masters {
            let temp_n = self
                .ensure_temp(addr, &opts.to, opts.temp_queues.unwrap_or(*write))
                .await?;
            let stats = self.topic_stats(addr, &opts.topic).await?;
            newest = stats
                .offset_table
                .values()
                .map(|o| o.last_update_timestamp)
                .fold(newest, i64::max);
            for queue_id in 0..*read {
                let committed = self
                    .consumer_offset(addr, &opts.group, &opts.topic, queue_id)
                    .await?;
                let min = self.min_offset(addr, &opts.topic, queue_id).await?;
                let end = self.max_offset(addr, &opts.topic, queue_id).await?;
                let from = committed.filter(|o| *o >= 0).unwrap_or(min).max(min);
                plans.push(Plan {
                    addr: addr.clone(),
                    queue: MovedQueue {
                        broker: name.clone(),
                        queue_id,
                        temp_queue_id: queue_id % temp_n,
                        from,
                        to: end.max(from),
                        copied: 0,
                        already_copied: 0,
                    },
                });
            }
        }
        self.note_resume(opts, &mut plans).await?;
        Ok((plans, newest.saturating_add(1)))
    }

    /// TEMP's queue count on `addr`, creating it with `queues` if missing.
    async fn ensure_temp(&self, addr: &str, to: &str, queues: i32) -> Result<i32, AdminError> {
        match self.topic_stats(addr, to).await {
            Ok(stats) => {
                let n = stats.offset_table.len();
                Ok(i32::try_from(n).unwrap_or(1).max(1))
            }
            Err(AdminError::Refused { code, .. }) if code == response::TOPIC_NOT_EXIST => {
                let queues = queues.clamp(1, TEMP_QUEUES_MAX);
                let spec = TopicSpec {
                    topic: to.to_owned(),
                    queues,
                    perm: PERM_READ_WRITE,
                    order: false,
                    message_type: None,
                };
                self.create_topic(addr, &spec).await?;
                Ok(queues)
            }
            Err(err) => Err(err),
        }
    }

    /// Sets each plan's `already_copied` from TEMP's tail.
    async fn note_resume(&self, opts: &MoveOptions, plans: &mut [Plan]) -> Result<(), AdminError> {
        let mut temp_queues: BTreeMap<(String, String, i32), Vec<i32>> = BTreeMap::new();
        for p in plans.iter() {
            temp_queues
                .entry((
                    p.addr.clone(),
                    p.queue.broker.clone(),
                    p.queue.temp_queue_id,
                ))
                .or_default()
                .push(p.queue.queue_id);
        }
        for ((addr, broker, temp_q), sources) in temp_queues {
            let last = self
                .last_copies(opts, &addr, &broker, temp_q, &sources)
                .await?;
            for p in plans
                .iter_mut()
                .filter(|p| p.addr == addr && p.queue.temp_queue_id == temp_q)
            {
                let resume = resume_offset(p.queue.from, last.get(&p.queue.queue_id).copied());
                let resume = resume.min(p.queue.to);
                p.queue.already_copied = u64::try_from(resume - p.queue.from).unwrap_or(0);
            }
        }
        Ok(())
    }

    /// Scans one TEMP queue backwards for the last copy of each source.
    async fn last_copies(
        &self,
        opts: &MoveOptions,
        addr: &str,
        broker: &str,
        temp_q: i32,
        sources: &[i32],
    ) -> Result<BTreeMap<i32, i64>, AdminError> {
        let queue = MessageQueue::new(&opts.to, broker, temp_q);
        let min = self.min_offset(addr, &opts.to, temp_q).await?;
        let mut pos = self.max_offset(addr, &opts.to, temp_q).await?;
        let mut found = BTreeMap::new();
        while pos > min && found.len() < sources.len() {
            let from = pos.saturating_sub(i64::from(PULL_BATCH_MAX)).max(min);
            let chunk = self.read_range(addr, &queue, from, pos).await?;
            note_last_copies(
                &chunk,
                &opts.group,
                &opts.topic,
                broker,
                sources,
                &mut found,
            );
            pos = from;
        }
        Ok(found)
    }

    /// The messages of `[from, to)` of one queue (at most a batch).
    async fn read_range(
        &self,
        addr: &str,
        queue: &MessageQueue,
        from: i64,
        to: i64,
    ) -> Result<Vec<MessageExt>, AdminError> {
        let mut out = Vec::new();
        let mut offset = from;
        while offset < to {
            let want = i32::try_from(to - offset).unwrap_or(PULL_BATCH_MAX);
            let pulled = self
                .pull(addr, queue, TOOLS_CONSUMER_GROUP, offset, want)
                .await?;
            if pulled.next_begin_offset <= offset {
                break;
            }
            offset = pulled.next_begin_offset;
            out.extend(pulled.messages.into_iter().filter(|m| m.queue_offset < to));
        }
        Ok(out)
    }

    /// Copies one source queue from where it stopped to its end.
    async fn copy_queue(
        &self,
        opts: &MoveOptions,
        plan: &mut Plan,
        budget: &mut u64,
    ) -> Result<(), AdminError> {
        let start = plan.queue.from + i64::try_from(plan.queue.already_copied).unwrap_or(0);
        self.copy_range(opts, plan, start, plan.queue.to, budget)
            .await
    }

    async fn copy_range(
        &self,
        opts: &MoveOptions,
        plan: &mut Plan,
        from: i64,
        to: i64,
        budget: &mut u64,
    ) -> Result<(), AdminError> {
        let (broker, queue_id, temp_q) = (
            plan.queue.broker.clone(),
            plan.queue.queue_id,
            plan.queue.temp_queue_id,
        );
        let source = MessageQueue::new(&opts.topic, &broker, queue_id);
        let mut offset = from;
        while offset < to && *budget > 0 {
            let batch = self
                .read_range(
                    &plan.addr,
                    &source,
                    offset,
                    offset.saturating_add(i64::from(PULL_BATCH_MAX)).min(to),
                )
                .await?;
            let Some(last) = batch.last().map(|m| m.queue_offset) else {
                break;
            };
            for m in &batch {
                if *budget == 0 {
                    return Ok(());
                }
                let tag = move_source(&opts.group, &opts.topic, queue_id, m.queue_offset, &broker);
                let props = copy_properties(m, tag);
                self.send_copy(&plan.addr, &opts.to, temp_q, m, &props)
                    .await?;
                plan.queue.copied += 1;
                *budget -= 1;
            }
            offset = last + 1;
        }
        Ok(())
    }

    /// Moves the group's offsets past what was copied; how it was applied.
    async fn advance(
        &self,
        opts: &MoveOptions,
        plans: &mut [Plan],
        masters: &[(String, String, i32, i32)],
        reset_ms: i64,
    ) -> Result<String, AdminError> {
        let mut applied_by = "consumers";
        for (name, addr, _, _) in masters {
            match self
                .invoke_reset_offset(addr, &opts.group, &opts.topic, reset_ms)
                .await
            {
                Ok(Some(body)) => {
                    for (mq, offset) in &body.offset_table {
                        self.copy_gap(opts, plans, name, mq.queue_id, *offset)
                            .await?;
                    }
                }
                Ok(None) | Err(AdminError::Refused { .. }) => {
                    applied_by = "committed";
                    for p in plans.iter().filter(|p| p.queue.broker == *name) {
                        self.commit_offset(
                            addr,
                            &opts.group,
                            &opts.topic,
                            p.queue.queue_id,
                            p.queue.to,
                        )
                        .await?;
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Ok(applied_by.to_owned())
    }

    /// Copies what the broker's reset skipped beyond the planned end.
    async fn copy_gap(
        &self,
        opts: &MoveOptions,
        plans: &mut [Plan],
        broker: &str,
        queue_id: i32,
        applied: i64,
    ) -> Result<(), AdminError> {
        let Some(plan) = plans
            .iter_mut()
            .find(|p| p.queue.broker == broker && p.queue.queue_id == queue_id)
        else {
            return Ok(());
        };
        let end = plan.queue.to;
        if applied > end {
            let mut unlimited = u64::MAX;
            self.copy_range(opts, plan, end, applied, &mut unlimited)
                .await?;
            plan.queue.to = applied;
        }
        Ok(())
    }
}

fn copied_to_end(p: &Plan) -> bool {
    let done =
        i64::try_from(p.queue.copied.saturating_add(p.queue.already_copied)).unwrap_or(i64::MAX);
    p.queue.from.saturating_add(done) >= p.queue.to
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn resume_starts_after_the_last_copy_never_before_the_group() {
        assert_eq!(resume_offset(10, None), 10);
        assert_eq!(resume_offset(10, Some(14)), 15);
        // A copy from an earlier, completed move: the group is past it.
        assert_eq!(resume_offset(10, Some(3)), 10);
        assert_eq!(resume_offset(10, Some(i64::MAX)), i64::MAX);
    }

    #[test]
    fn garbage_sources_are_not_parsed() {
        assert_eq!(parse_move_source(""), None);
        assert_eq!(parse_move_source("g t x 1 b"), None);
        assert_eq!(parse_move_source("g t 1 y b"), None);
        assert_eq!(parse_move_source("g t 1 2"), None);
        assert_eq!(
            parse_move_source("g t 1 2 broker with spaces"),
            Some(("g", "t", 1, 2, "broker with spaces"))
        );
    }

    fn copy(offset: i64, source: Option<&str>) -> MessageExt {
        let mut properties = Properties::new();
        if let Some(source) = source {
            properties.insert(MOVE_SOURCE_PROPERTY, source);
        }
        let host = "127.0.0.1:10911".parse().unwrap();
        MessageExt {
            topic: "TEMP".into(),
            broker_name: "b".into(),
            queue_id: 0,
            queue_offset: offset,
            commit_log_offset: 0,
            msg_id: String::new(),
            offset_msg_id: String::new(),
            body: bytes::Bytes::new(),
            flag: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            properties,
        }
    }

    #[test]
    fn the_tail_scan_keeps_the_newest_copy_of_each_source_of_this_move() {
        let batch = vec![
            copy(0, Some("g T 0 5 b")),
            copy(1, Some("g T 2 7 b")),
            copy(2, Some("g T 0 6 b")),
            copy(3, Some("other T 2 99 b")),
            copy(4, Some("g T 2 50 b2")),
            copy(5, Some("g T 9 1 b")),
            copy(6, None),
            copy(7, Some("garbage")),
        ];
        let mut found = BTreeMap::new();
        note_last_copies(&batch, "g", "T", "b", &[0, 2], &mut found);
        assert_eq!(found, BTreeMap::from([(0, 6), (2, 7)]));
        // An older chunk scanned next does not override what was found.
        note_last_copies(
            &[copy(0, Some("g T 0 1 b"))],
            "g",
            "T",
            "b",
            &[0, 2],
            &mut found,
        );
        assert_eq!(found.get(&0), Some(&6));
    }

    proptest! {
        #[test]
        fn move_source_round_trips(
            group in "[a-zA-Z0-9_%|-]{1,20}",
            topic in "[a-zA-Z0-9_%|-]{1,20}",
            queue in 0i32..1024,
            offset in 0i64..i64::MAX,
            broker in "[ -~]{1,20}",
        ) {
            let v = move_source(&group, &topic, queue, offset, &broker);
            prop_assert_eq!(
                parse_move_source(&v),
                Some((group.as_str(), topic.as_str(), queue, offset, broker.as_str()))
            );
        }
    }
}
