//! Backlog remedies: dead letters back to their topic ([`Admin::dlq_list`],
//! [`Admin::dlq_resend`]) and a group's backlog moved aside to a temporary
//! topic ([`Admin::backlog_move`], in [`backlog`]). Only standard RocketMQ
//! 4.x requests are used (PULL_MESSAGE, QUERY_MESSAGE, VIEW_MESSAGE_BY_ID,
//! SEND_MESSAGE, UPDATE_CONSUMER_OFFSET, UPDATE_AND_CREATE_TOPIC,
//! INVOKE_BROKER_TO_RESET_OFFSET), so both work against any 4.x broker.
//!
//! # Reading a DLQ
//!
//! A 4.x broker creates `%DLQ%<group>` with one queue and perm WRITE only,
//! and refuses PULL_MESSAGE on it (NO_PERMISSION) whoever pulls; RocketMQ's
//! own tools need an operator to grant READ first (RocketMQ 5 creates it
//! read-write). The admin pulls as `TOOLS_CONSUMER`; on NO_PERMISSION it
//! grants READ (UPDATE_AND_CREATE_TOPIC, perm RW, same queue count), reads,
//! and sets it back to WRITE only, so the DLQ is left as found. Nothing
//! subscribes to a DLQ, so the short READ window delivers nothing.
//!
//! # What a resend sends
//!
//! The dead letter's body, flag, born time, keys, tags and user properties,
//! to its original topic: `RETRY_TOPIC` (set by the first send-back), else
//! `REAL_TOPIC`. Dropped: the retry/delay bookkeeping (`RETRY_TOPIC`,
//! `REAL_TOPIC`, `REAL_QID`, `DELAY`, `WAIT`, `RECONSUME_TIME`,
//! `MAX_RECONSUME_TIMES`, `CONSUME_START_TIME`, `MIN_OFFSET`, `MAX_OFFSET`).
//! Kept: `UNIQ_KEY` (so the message id is the original's, as Java's
//! `DefaultMQProducer` keeps it when mqadmin resends a `MessageExt`) and
//! `ORIGIN_MESSAGE_ID`. The reconsume count is 0 (no `reconsumeTimes`).
//! Added: [`DLQ_SOURCE_PROPERTY`] = `<dlq topic> <queue> <offset> <broker>`.
//!
//! # Idempotence of `dlq_resend`
//!
//! Two records, both on the brokers:
//!
//! 1. the consumer offset of group [`resend_group`] (`%RESEND%<group>`) on
//!    each DLQ queue: every dead letter below it was resent (committed with
//!    UPDATE_CONSUMER_OFFSET, answered, after each resent message);
//! 2. for a dead letter at or above it, a QUERY_MESSAGE by unique key on
//!    every master of the original topic: a message there carrying
//!    [`DLQ_SOURCE_PROPERTY`] naming this dead letter means it was resent
//!    (by `--id`, or by a run killed between the send and the commit).
//!
//! So a run killed at any point and run again sends nothing twice, with one
//! window left: a send whose answer was lost (timeout, kill) but which the
//! broker stores *after* the re-run's check of that message, or which its
//! key index has not yet indexed at the check (Java indexes asynchronously,
//! milliseconds after the store; ringmq when the put completes). A dead
//! letter without `UNIQ_KEY` gets its DLQ offset message id as `UNIQ_KEY`,
//! so the check finds it too.

mod backlog;

use std::collections::BTreeMap;

use ringmq_net::body::{MessageQueue, PERM_READ_WRITE, PERM_WRITE};
use ringmq_net::code::{request, response};
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::SendMessageRequestHeader;
use ringmq_net::properties::{self as names, Properties};
use ringmq_net::topic as topic_names;
use serde::Serialize;

use super::calls::{PULL_BATCH_MAX, TopicSpec};
use super::ops::TOOLS_CONSUMER_GROUP;
use super::{Admin, AdminError};
use crate::consumer::MessageExt;

pub use backlog::{MoveOptions, MoveReport, MovedQueue};

/// Property a resent dead letter carries: `<dlq topic> <queue> <offset> <broker>`.
pub const DLQ_SOURCE_PROPERTY: &str = "RINGMQ_DLQ_SOURCE";
/// Prefix of the group whose offsets record what was resent.
pub const RESEND_GROUP_PREFIX: &str = "%RESEND%";
/// Producer group of the admin's sends (Java's `CLIENT_INNER_PRODUCER`).
pub const ADMIN_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
/// Most dead letters one `dlq_list` returns.
pub const DLQ_LIST_LIMIT_MAX: usize = 10_000;

/// Properties of the retry/delay bookkeeping a resend drops.
const RESEND_DROPPED: &[&str] = &[
    names::RETRY_TOPIC,
    names::REAL_TOPIC,
    names::REAL_QID,
    names::DELAY,
    names::WAIT,
    names::RECONSUME_TIME,
    names::MAX_RECONSUME_TIMES,
    names::CONSUME_START_TIME,
    names::MIN_OFFSET,
    names::MAX_OFFSET,
];

/// One message of a group's DLQ.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// Broker holding it.
    pub broker: String,
    /// DLQ queue id.
    pub queue_id: i32,
    /// Offset in the DLQ queue.
    pub offset: i64,
    /// Message id (UNIQ_KEY, else the offset id).
    pub msg_id: String,
    /// Where a resend sends it.
    pub original_topic: String,
    /// `KEYS`.
    pub keys: Option<String>,
    /// `TAGS`.
    pub tags: Option<String>,
    /// Deliveries before it went dead.
    pub reconsume_times: i32,
    /// When the DLQ stored it, ms.
    pub store_timestamp: i64,
    /// The body.
    pub body: Vec<u8>,
    /// Every property as stored.
    pub properties: BTreeMap<String, String>,
    /// Whether it was resent already (see the module doc).
    pub resent: bool,
}

/// Which dead letters to resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resend {
    /// The one(s) with this message id, offset message id or ORIGIN_MESSAGE_ID.
    Id(String),
    /// Every one not resent yet.
    All,
}

/// What a resend did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResendReport {
    /// Sent to the original topic by this run.
    pub resent: u64,
    /// Found resent by an earlier run, not sent again.
    pub skipped_already_resent: u64,
    /// `<msg id>: <reason>` of each dead letter that could not be resent.
    pub failed: Vec<String>,
}

/// One DLQ queue on one broker.
#[derive(Debug, Clone)]
struct DlqQueue {
    broker: String,
    addr: String,
    queue: MessageQueue,
    min: i64,
    max: i64,
}

/// `%RESEND%<group>`: the group whose offsets on `%DLQ%<group>` say how far
/// it was resent.
pub fn resend_group(group: &str) -> String {
    format!("{RESEND_GROUP_PREFIX}{group}")
}

/// The topic a dead letter came from: RETRY_TOPIC, else REAL_TOPIC (when
/// it is not itself a retry or DLQ topic).
pub fn original_topic(props: &Properties) -> Option<&str> {
    let usable = |t: &&str| !t.is_empty() && !topic_names::is_dlq_topic(t);
    props.get(names::RETRY_TOPIC).filter(usable).or_else(|| {
        props
            .get(names::REAL_TOPIC)
            .filter(usable)
            .filter(|t| !topic_names::is_retry_topic(t))
    })
}

/// The [`DLQ_SOURCE_PROPERTY`] value naming one dead letter.
pub fn dlq_source(dlq_topic: &str, queue_id: i32, offset: i64, broker: &str) -> String {
    format!("{dlq_topic} {queue_id} {offset} {broker}")
}

/// The properties a resent copy of `dead` carries (module doc).
pub fn resend_properties(dead: &MessageExt, source: &str) -> Properties {
    let mut props = dead.properties.clone();
    for name in RESEND_DROPPED {
        props.remove(name);
    }
    if !props.contains_key(names::UNIQ_KEY) {
        props.insert(names::UNIQ_KEY, dead.offset_msg_id.clone());
    }
    props.insert(DLQ_SOURCE_PROPERTY, source);
    props
}

fn validate_group(group: &str) -> Result<(), AdminError> {
    ringmq_net::validate::name(
        ringmq_net::validate::NameKind::ConsumerGroup,
        "group",
        &resend_group(group),
    )
    .map_err(|err| AdminError::Invalid(format!("group {group}: {err}")))
}

impl Admin {
    /// Up to `limit` dead letters of `group` (oldest first, every broker).
    pub async fn dlq_list(&self, group: &str, limit: usize) -> Result<Vec<DeadLetter>, AdminError> {
        validate_group(group)?;
        let limit = limit.clamp(1, DLQ_LIST_LIMIT_MAX);
        let mut out = Vec::new();
        for q in self.dlq_queues(group).await? {
            if out.len() >= limit {
                break;
            }
            let committed = self.resend_committed(&q, group).await?;
            let want = limit.saturating_sub(out.len());
            let granted = self.grant_read_if_refused(&q).await?;
            let read = self.read_dlq(&q, q.min, want).await;
            self.restore_write_only(&q, granted).await?;
            for m in read? {
                let resent = m.queue_offset < committed || self.was_resent(&q, &m).await?;
                out.push(dead_letter(&q, &m, resent));
            }
        }
        Ok(out)
    }

    /// Resends dead letters of `group` to their original topics (module doc).
    pub async fn dlq_resend(
        &self,
        group: &str,
        which: &Resend,
    ) -> Result<ResendReport, AdminError> {
        validate_group(group)?;
        let mut report = ResendReport::default();
        for q in self.dlq_queues(group).await? {
            match which {
                Resend::All => self.resend_queue(&q, group, &mut report).await?,
                Resend::Id(id) => self.resend_id(&q, group, id, &mut report).await?,
            }
        }
        if let Resend::Id(id) = which
            && report.resent == 0
            && report.skipped_already_resent == 0
            && report.failed.is_empty()
        {
            return Err(AdminError::NotFound(format!(
                "no dead letter {id} in {}",
                topic_names::dlq_topic(group)
            )));
        }
        Ok(report)
    }

    /// Every DLQ queue of `group` on every master (none: the group has no DLQ).
    async fn dlq_queues(&self, group: &str) -> Result<Vec<DlqQueue>, AdminError> {
        let dlq = topic_names::dlq_topic(group);
        let mut out = Vec::new();
        for b in self.masters(None).await? {
            let stats = match self.topic_stats(&b.addr, &dlq).await {
                Ok(stats) => stats,
                Err(AdminError::Refused { code, .. }) if code == response::TOPIC_NOT_EXIST => {
                    continue;
                }
                Err(err) => return Err(err),
            };
            for (mq, o) in stats.offset_table {
                out.push(DlqQueue {
                    broker: b.name.clone(),
                    addr: b.addr.clone(),
                    queue: MessageQueue::new(&dlq, &b.name, mq.queue_id),
                    min: o.min_offset,
                    max: o.max_offset,
                });
            }
        }
        Ok(out)
    }

    /// The `%RESEND%` offset of one DLQ queue (its min when never committed).
    async fn resend_committed(&self, q: &DlqQueue, group: &str) -> Result<i64, AdminError> {
        let stored = self
            .consumer_offset(
                &q.addr,
                &resend_group(group),
                &q.queue.topic,
                q.queue.queue_id,
            )
            .await?;
        Ok(stored.unwrap_or(q.min).max(q.min))
    }

    /// Grants READ when a pull is refused for want of it; true if it did.
    async fn grant_read_if_refused(&self, q: &DlqQueue) -> Result<bool, AdminError> {
        if q.max <= q.min {
            return Ok(false);
        }
        match self
            .pull(&q.addr, &q.queue, TOOLS_CONSUMER_GROUP, q.min, 1)
            .await
        {
            Ok(_) => Ok(false),
            Err(AdminError::Refused { code, .. }) if code == response::NO_PERMISSION => {
                self.set_dlq_perm(q, PERM_READ_WRITE).await?;
                Ok(true)
            }
            Err(err) => Err(err),
        }
    }

    async fn restore_write_only(&self, q: &DlqQueue, granted: bool) -> Result<(), AdminError> {
        if granted {
            self.set_dlq_perm(q, PERM_WRITE).await?;
        }
        Ok(())
    }

    async fn set_dlq_perm(&self, q: &DlqQueue, perm: i32) -> Result<(), AdminError> {
        let queues = self
            .topic_stats(&q.addr, &q.queue.topic)
            .await?
            .offset_table
            .len();
        let spec = TopicSpec {
            topic: q.queue.topic.clone(),
            queues: i32::try_from(queues.max(1)).unwrap_or(1),
            perm,
            order: false,
            message_type: None,
        };
        self.create_topic(&q.addr, &spec).await
    }

    /// Up to `want` messages of one DLQ queue from `from` (READ granted).
    async fn read_dlq(
        &self,
        q: &DlqQueue,
        from: i64,
        want: usize,
    ) -> Result<Vec<MessageExt>, AdminError> {
        let mut out = Vec::new();
        let mut offset = from;
        while offset < q.max && out.len() < want {
            let batch = i32::try_from(want - out.len()).unwrap_or(PULL_BATCH_MAX);
            let pulled = self
                .pull(&q.addr, &q.queue, TOOLS_CONSUMER_GROUP, offset, batch)
                .await?;
            if pulled.next_begin_offset <= offset {
                break;
            }
            offset = pulled.next_begin_offset;
            out.extend(pulled.messages.into_iter().take(want - out.len()));
        }
        Ok(out)
    }

    /// Whether a copy of `dead` naming it is on its original topic.
    async fn was_resent(&self, q: &DlqQueue, dead: &MessageExt) -> Result<bool, AdminError> {
        let Some(topic) = original_topic(&dead.properties) else {
            return Ok(false);
        };
        let key = dead
            .properties
            .uniq_key()
            .map_or_else(|| dead.offset_msg_id.clone(), str::to_owned);
        let source = dlq_source(
            &q.queue.topic,
            q.queue.queue_id,
            dead.queue_offset,
            &q.broker,
        );
        let masters = match self.topic_masters(topic).await {
            Ok(masters) => masters,
            Err(AdminError::NotFound(_)) => return Ok(false),
            Err(err) => return Err(err),
        };
        for (name, addr, _, _) in masters {
            let found = self
                .query_messages(&addr, &name, topic, &key, (0, i64::MAX), true)
                .await?;
            if found
                .iter()
                .any(|m| m.properties.get(DLQ_SOURCE_PROPERTY) == Some(source.as_str()))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `--all` on one DLQ queue: from the `%RESEND%` offset to the end,
    /// committing after each message.
    async fn resend_queue(
        &self,
        q: &DlqQueue,
        group: &str,
        report: &mut ResendReport,
    ) -> Result<(), AdminError> {
        let mut offset = self.resend_committed(q, group).await?;
        if offset >= q.max {
            return Ok(());
        }
        let granted = self.grant_read_if_refused(q).await?;
        let outcome = self.resend_range(q, group, &mut offset, report).await;
        self.restore_write_only(q, granted).await?;
        outcome
    }

    async fn resend_range(
        &self,
        q: &DlqQueue,
        group: &str,
        offset: &mut i64,
        report: &mut ResendReport,
    ) -> Result<(), AdminError> {
        let resend = resend_group(group);
        while *offset < q.max {
            let batch = self.read_dlq(q, *offset, PULL_BATCH_MAX as usize).await?;
            let Some(last) = batch.last().map(|m| m.queue_offset) else {
                break;
            };
            for m in &batch {
                self.resend_one(q, m, report).await?;
                self.commit_offset(
                    &q.addr,
                    &resend,
                    &q.queue.topic,
                    q.queue.queue_id,
                    m.queue_offset + 1,
                )
                .await?;
            }
            *offset = last + 1;
        }
        Ok(())
    }

    /// `--id`: the dead letters of one queue matching `id`.
    async fn resend_id(
        &self,
        q: &DlqQueue,
        group: &str,
        id: &str,
        report: &mut ResendReport,
    ) -> Result<(), AdminError> {
        let committed = self.resend_committed(q, group).await?;
        let found = self.find_dead(q, id).await?;
        for m in found {
            if m.queue_offset < committed {
                report.skipped_already_resent += 1;
                continue;
            }
            self.resend_one(q, &m, report).await?;
            if m.queue_offset == committed {
                self.commit_offset(
                    &q.addr,
                    &resend_group(group),
                    &q.queue.topic,
                    q.queue.queue_id,
                    committed + 1,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Dead letters of one queue whose id, offset id or ORIGIN_MESSAGE_ID
    /// is `id`: looked up by id first (no READ needed), else scanned.
    async fn find_dead(&self, q: &DlqQueue, id: &str) -> Result<Vec<MessageExt>, AdminError> {
        let topic = &q.queue.topic;
        let matches = |m: &MessageExt| {
            m.topic == *topic
                && m.queue_id == q.queue.queue_id
                && (m.msg_id == id
                    || m.offset_msg_id == id
                    || m.properties.get(names::ORIGIN_MESSAGE_ID) == Some(id))
        };
        let mut found: Vec<MessageExt> = self
            .query_messages(&q.addr, &q.broker, topic, id, (0, i64::MAX), true)
            .await?
            .into_iter()
            .filter(|m| matches(m))
            .collect();
        if found.is_empty() && q.max > q.min {
            let granted = self.grant_read_if_refused(q).await?;
            let scanned = self.scan_dlq(q, &matches).await;
            self.restore_write_only(q, granted).await?;
            found = scanned?;
        }
        found.sort_by_key(|m| m.queue_offset);
        found.dedup_by_key(|m| m.queue_offset);
        Ok(found)
    }

    async fn scan_dlq(
        &self,
        q: &DlqQueue,
        matches: &impl Fn(&MessageExt) -> bool,
    ) -> Result<Vec<MessageExt>, AdminError> {
        let mut found = Vec::new();
        let mut offset = q.min;
        while offset < q.max {
            let batch = self.read_dlq(q, offset, PULL_BATCH_MAX as usize).await?;
            let Some(last) = batch.last().map(|m| m.queue_offset) else {
                break;
            };
            found.extend(batch.into_iter().filter(|m| matches(m)));
            offset = last + 1;
        }
        Ok(found)
    }

    /// Sends one dead letter back unless it was already (module doc).
    async fn resend_one(
        &self,
        q: &DlqQueue,
        dead: &MessageExt,
        report: &mut ResendReport,
    ) -> Result<(), AdminError> {
        if self.was_resent(q, dead).await? {
            report.skipped_already_resent += 1;
            return Ok(());
        }
        let Some(topic) = original_topic(&dead.properties).map(str::to_owned) else {
            report.failed.push(format!(
                "{}: no RETRY_TOPIC or REAL_TOPIC property",
                dead.msg_id
            ));
            return Ok(());
        };
        let source = dlq_source(
            &q.queue.topic,
            q.queue.queue_id,
            dead.queue_offset,
            &q.broker,
        );
        let props = resend_properties(dead, &source);
        match self
            .send_to_topic(&topic, dead, &props, dead.queue_offset)
            .await
        {
            Ok(()) => report.resent += 1,
            Err(AdminError::Remoting(err)) => return Err(AdminError::Remoting(err)),
            Err(err) => report.failed.push(format!("{}: {err}", dead.msg_id)),
        }
        Ok(())
    }

    /// Sends a copy of `m` to some master of `topic` (queue chosen by `spread`).
    async fn send_to_topic(
        &self,
        topic: &str,
        m: &MessageExt,
        props: &Properties,
        spread: i64,
    ) -> Result<(), AdminError> {
        let masters = self.topic_masters(topic).await?;
        let writable: Vec<_> = masters.iter().filter(|(_, _, _, w)| *w > 0).collect();
        let count = i64::try_from(writable.len()).unwrap_or(1).max(1);
        let Some((_, addr, _, write)) = writable
            .get(usize::try_from(spread.rem_euclid(count)).unwrap_or(0))
            .copied()
        else {
            return Err(AdminError::NotFound(format!(
                "topic {topic} has no writable queue"
            )));
        };
        let queue_id = i32::try_from(spread.rem_euclid(i64::from(*write))).unwrap_or(0);
        self.send_copy(addr, topic, queue_id, m, props).await
    }

    /// SEND_MESSAGE (10) of `m`'s body and flag with `props` to one queue.
    pub(crate) async fn send_copy(
        &self,
        addr: &str,
        topic: &str,
        queue_id: i32,
        m: &MessageExt,
        props: &Properties,
    ) -> Result<(), AdminError> {
        let req = RemotingCommand::request(request::SEND_MESSAGE)
            .with_header(&SendMessageRequestHeader {
                producer_group: ADMIN_PRODUCER_GROUP.to_owned(),
                topic: topic.to_owned(),
                default_topic: topic_names::AUTO_CREATE_TOPIC.to_owned(),
                default_topic_queue_nums: 4,
                queue_id,
                sys_flag: 0,
                born_timestamp: m.born_timestamp,
                flag: m.flag,
                properties: Some(props.encode()),
                reconsume_times: None,
                unit_mode: false,
                batch: false,
                max_reconsume_times: None,
                bname: None,
            })
            .with_body(m.body.to_vec());
        let reply = self.call_any(addr, req).await?;
        match reply.code {
            response::SUCCESS
            | response::FLUSH_DISK_TIMEOUT
            | response::FLUSH_SLAVE_TIMEOUT
            | response::SLAVE_NOT_AVAILABLE => Ok(()),
            _ => Err(super::refused("send", addr, &reply)),
        }
    }
}

fn dead_letter(q: &DlqQueue, m: &MessageExt, resent: bool) -> DeadLetter {
    let mut properties: BTreeMap<String, String> = m
        .properties
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // Added by the pull decoder, not stored.
    properties.remove(names::MIN_OFFSET);
    properties.remove(names::MAX_OFFSET);
    DeadLetter {
        broker: q.broker.clone(),
        queue_id: m.queue_id,
        offset: m.queue_offset,
        msg_id: m.msg_id.clone(),
        original_topic: original_topic(&m.properties).unwrap_or_default().to_owned(),
        keys: m.properties.get(names::KEYS).map(str::to_owned),
        tags: m.tags().map(str::to_owned),
        reconsume_times: m.reconsume_times,
        store_timestamp: m.store_timestamp,
        body: m.body.to_vec(),
        properties,
        resent,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        let mut p = Properties::new();
        for (k, v) in pairs {
            p.insert(*k, *v);
        }
        p
    }

    #[test]
    fn original_topic_prefers_retry_topic_then_a_real_topic() {
        assert_eq!(
            original_topic(&props(&[(names::RETRY_TOPIC, "T")])),
            Some("T")
        );
        assert_eq!(
            original_topic(&props(&[
                (names::REAL_TOPIC, "T2"),
                (names::RETRY_TOPIC, "T")
            ])),
            Some("T")
        );
        assert_eq!(
            original_topic(&props(&[(names::REAL_TOPIC, "T2")])),
            Some("T2")
        );
        assert_eq!(
            original_topic(&props(&[(names::REAL_TOPIC, "%RETRY%g")])),
            None
        );
        assert_eq!(
            original_topic(&props(&[(names::RETRY_TOPIC, "%DLQ%g")])),
            None
        );
        assert_eq!(original_topic(&props(&[])), None);
    }

    #[test]
    fn resend_group_stays_within_the_group_name_limit() {
        assert!(validate_group("g").is_ok());
        let long = "g".repeat(ringmq_net::topic::CONSUMER_GROUP_BYTES_MAX);
        assert!(validate_group(&long).is_err());
        assert!(validate_group("bad name").is_err());
    }
}
