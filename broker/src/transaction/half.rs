//! Half messages: how a transactional send is stored (Java
//! `TransactionalMessageBridge.parseHalfMessageInner`), and the records
//! derived from a stored half: the committed real message, the re-appended
//! copy of a check, the copy moved to `TRANS_CHECK_MAX_TIME_TOPIC`, and the
//! body of CHECK_TRANSACTION_STATE.
//!
//! A half is an ordinary record of `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 (its
//! transaction bits cleared, so the store indexes it there like any other
//! message) with these properties added to the producer's:
//!
//! ```text
//!   REAL_TOPIC                  the topic the producer sent to
//!   REAL_QID                    the queue chosen in it
//!   PGROUP                      the producer group (kept if the producer set it)
//!   TRANSACTION_CHECK_TIMES     checks sent so far (absent = 0)
//!   TRAN_PREPARED_QUEUE_OFFSET  on re-appended copies: the identity
//! ```

use ringmq_net::properties as names;
use ringmq_net::record::{MessageRecord, TransactionType};
use ringmq_net::topic::{TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC};

use super::HALF_QUEUE_ID;
use crate::message;

/// Longest per-message check immunity honoured
/// (`CHECK_IMMUNITY_TIME_IN_SECONDS`), one day.
pub const CHECK_IMMUNITY_SECONDS_MAX: i64 = 86_400;

/// Whether a send is the half of a transaction (Java reads only `TRAN_MSG`).
pub fn is_half(properties: &str) -> bool {
    message::property(properties, names::TRAN_MSG) == Some("true")
}

/// The properties of the half stored for a send to `real_topic`/`real_qid`.
pub fn half_properties(
    properties: &str,
    real_topic: &str,
    real_qid: i32,
    producer_group: &str,
) -> String {
    let mut out = message::remove_property(properties, names::REAL_TOPIC);
    out = message::remove_property(&out, names::REAL_QID);
    message::append_property(&mut out, names::REAL_TOPIC, real_topic);
    message::append_property(&mut out, names::REAL_QID, &real_qid.to_string());
    if message::property(&out, names::PGROUP).is_none() {
        message::append_property(&mut out, names::PGROUP, producer_group);
    }
    out
}

/// Why a stored record is not a usable half.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HalfError {
    #[error("the record at {0} is in topic {1}, not a half message")]
    NotHalf(i64, String),
    #[error("the half message at {0} has no valid {1} property")]
    Property(i64, &'static str),
}

/// One stored copy of a half, with what its properties say.
#[derive(Debug, Clone)]
pub struct HalfCopy {
    pub record: MessageRecord,
    pub identity: i64,
    pub real_topic: String,
    pub real_qid: i32,
    pub group: String,
    pub check_times: i64,
}

impl HalfCopy {
    /// Reads a decoded half record.
    pub fn new(record: MessageRecord) -> Result<HalfCopy, HalfError> {
        let at = record.physical_offset;
        if record.topic != TRANS_HALF_TOPIC {
            return Err(HalfError::NotHalf(at, record.topic.clone()));
        }
        let props = record.properties.as_str();
        let real_topic = message::property(props, names::REAL_TOPIC)
            .filter(|t| ringmq_net::topic::validate_topic_name(t).is_ok())
            .ok_or(HalfError::Property(at, names::REAL_TOPIC))?
            .to_owned();
        let real_qid = message::property(props, names::REAL_QID)
            .and_then(|q| q.parse::<i32>().ok())
            .filter(|q| *q >= 0)
            .ok_or(HalfError::Property(at, names::REAL_QID))?;
        let group = message::property(props, names::PGROUP)
            .filter(|g| !g.is_empty())
            .ok_or(HalfError::Property(at, names::PGROUP))?
            .to_owned();
        let identity = message::property(props, names::TRAN_PREPARED_QUEUE_OFFSET)
            .and_then(|o| o.parse::<i64>().ok())
            .filter(|o| *o >= 0)
            .unwrap_or(record.queue_offset);
        let check_times = message::property(props, names::TRANSACTION_CHECK_TIMES)
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0)
            .max(0);
        Ok(HalfCopy {
            record,
            identity,
            real_topic,
            real_qid,
            group,
            check_times,
        })
    }

    /// The producer's client message id, if it set one.
    pub fn uniq_key(&self) -> Option<&str> {
        message::property(&self.record.properties, names::UNIQ_KEY)
    }

    /// The per-message check immunity in ms, if the producer set one.
    pub fn immunity_ms(&self) -> Option<i64> {
        message::property(
            &self.record.properties,
            names::CHECK_IMMUNITY_TIME_IN_SECONDS,
        )
        .and_then(|s| s.parse::<i64>().ok())
        .map(|s| s.clamp(0, CHECK_IMMUNITY_SECONDS_MAX) * 1000)
    }

    /// The real message a commit writes (Java `endMessageTransaction`):
    /// the real topic and queue, COMMIT in the sysflag, the half's offset
    /// as PREPAREDTRANSACTIONOFFSET, `TRAN_MSG`/`REAL_*` cleared.
    pub fn committed(&self) -> MessageRecord {
        let mut record = self.record.clone();
        let mut props = record.properties.clone();
        for name in [names::TRAN_MSG, names::REAL_TOPIC, names::REAL_QID] {
            props = message::remove_property(&props, name);
        }
        record.properties = props;
        record.topic = self.real_topic.clone();
        record.queue_id = self.real_qid;
        record.sys_flag = TransactionType::Commit.apply(record.sys_flag);
        record.prepared_transaction_offset = self.record.physical_offset;
        record.store_timestamp = crate::clock::now_ms();
        record
    }

    /// The copy a check re-appends to the half queue, its check count
    /// raised (Java `renewHalfMessageInner` + `needDiscard`).
    pub fn renewed(&self) -> MessageRecord {
        let mut record = self.record.clone();
        let mut props = record.properties.clone();
        for name in [
            names::TRANSACTION_CHECK_TIMES,
            names::TRAN_PREPARED_QUEUE_OFFSET,
            names::WAIT,
        ] {
            props = message::remove_property(&props, name);
        }
        let times = self.check_times.saturating_add(1).to_string();
        message::append_property(&mut props, names::TRANSACTION_CHECK_TIMES, &times);
        let identity = self.identity.to_string();
        message::append_property(&mut props, names::TRAN_PREPARED_QUEUE_OFFSET, &identity);
        message::append_property(&mut props, names::WAIT, "false");
        record.properties = props;
        record.queue_id = HALF_QUEUE_ID;
        record.store_timestamp = crate::clock::now_ms();
        record
    }

    /// The same copy unchanged but for the identity (an immunity put-back:
    /// Java `putImmunityMsgBackToHalfQueue`).
    pub fn kept(&self) -> MessageRecord {
        let mut record = self.renewed();
        let mut props =
            message::remove_property(&record.properties, names::TRANSACTION_CHECK_TIMES);
        if self.check_times > 0 {
            let times = self.check_times.to_string();
            message::append_property(&mut props, names::TRANSACTION_CHECK_TIMES, &times);
        }
        record.properties = props;
        record
    }

    /// The copy kept in `TRANS_CHECK_MAX_TIME_TOPIC` when checks ran out
    /// (Java `DefaultTransactionalMessageCheckListener.toMessageExtBrokerInner`).
    pub fn discarded(&self) -> MessageRecord {
        let mut record = self.record.clone();
        record.properties = message::remove_property(&record.properties, names::WAIT);
        message::append_property(&mut record.properties, names::WAIT, "false");
        record.topic = TRANS_CHECK_MAX_TIME_TOPIC.to_owned();
        record.queue_id = 0;
        record.store_timestamp = crate::clock::now_ms();
        record
    }

    /// The body of CHECK_TRANSACTION_STATE: the half with its real topic
    /// and queue restored, encoded as a commit-log record (Java
    /// `MessageDecoder.encode(msgExt, false)` after `sendCheckMessage`
    /// restores them).
    pub fn check_body(&self) -> Option<Vec<u8>> {
        let mut record = self.record.clone();
        record.topic = self.real_topic.clone();
        record.queue_id = self.real_qid;
        record.to_vec().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    pub(crate) fn half_record(props: &str, queue_offset: i64) -> MessageRecord {
        let host = "127.0.0.1:10911".parse().unwrap();
        MessageRecord {
            queue_id: 0,
            flag: 0,
            queue_offset,
            physical_offset: 1000 + queue_offset,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: host,
            store_timestamp: 2,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from_static(b"body"),
            topic: TRANS_HALF_TOPIC.to_owned(),
            properties: props.to_owned(),
        }
    }

    fn sent_props() -> String {
        let mut props = String::new();
        message::append_property(&mut props, names::TRAN_MSG, "true");
        message::append_property(&mut props, names::UNIQ_KEY, "U1");
        props
    }

    #[test]
    fn a_half_keeps_its_real_topic_queue_and_group() {
        let props = half_properties(&sent_props(), "Orders", 3, "pg");
        let copy = HalfCopy::new(half_record(&props, 5)).unwrap();
        assert_eq!(
            (copy.real_topic.as_str(), copy.real_qid, copy.group.as_str()),
            ("Orders", 3, "pg")
        );
        assert_eq!((copy.identity, copy.check_times), (5, 0));
        assert_eq!(copy.uniq_key(), Some("U1"));
    }

    #[test]
    fn commit_restores_the_real_topic_and_clears_tran_msg() {
        let props = half_properties(&sent_props(), "Orders", 3, "pg");
        let real = HalfCopy::new(half_record(&props, 5)).unwrap().committed();
        assert_eq!((real.topic.as_str(), real.queue_id), ("Orders", 3));
        assert_eq!(message::property(&real.properties, names::TRAN_MSG), None);
        assert_eq!(message::property(&real.properties, names::REAL_TOPIC), None);
        assert_eq!(
            message::property(&real.properties, names::UNIQ_KEY),
            Some("U1")
        );
        assert_eq!(
            TransactionType::from_sys_flag(real.sys_flag),
            TransactionType::Commit
        );
        assert_eq!(real.prepared_transaction_offset, 1005);
    }

    #[test]
    fn a_renewed_copy_counts_checks_and_keeps_the_identity() {
        let props = half_properties(&sent_props(), "Orders", 3, "pg");
        let first = HalfCopy::new(half_record(&props, 5)).unwrap();
        let mut second = first.renewed();
        second.queue_offset = 9;
        let second = HalfCopy::new(second).unwrap();
        assert_eq!((second.identity, second.check_times), (5, 1));
        let mut third = second.renewed();
        third.queue_offset = 12;
        let third = HalfCopy::new(third).unwrap();
        assert_eq!((third.identity, third.check_times), (5, 2));
        let mut kept = third.kept();
        kept.queue_offset = 13;
        let kept = HalfCopy::new(kept).unwrap();
        assert_eq!((kept.identity, kept.check_times), (5, 2));
    }

    #[test]
    fn records_that_are_not_halves_are_refused() {
        let mut other = half_record(&sent_props(), 1);
        other.topic = "Orders".into();
        assert!(matches!(HalfCopy::new(other), Err(HalfError::NotHalf(..))));
        let no_real = half_record(&sent_props(), 1);
        assert_eq!(
            HalfCopy::new(no_real).err(),
            Some(HalfError::Property(1001, names::REAL_TOPIC))
        );
        let mut bad_qid = sent_props();
        message::append_property(&mut bad_qid, names::REAL_TOPIC, "Orders");
        message::append_property(&mut bad_qid, names::REAL_QID, "-4");
        assert_eq!(
            HalfCopy::new(half_record(&bad_qid, 1)).err(),
            Some(HalfError::Property(1001, names::REAL_QID))
        );
    }

    #[test]
    fn check_body_is_the_half_under_its_real_topic() {
        let props = half_properties(&sent_props(), "Orders", 3, "pg");
        let body = HalfCopy::new(half_record(&props, 5))
            .unwrap()
            .check_body()
            .unwrap();
        let (back, _) = MessageRecord::decode(&body).unwrap();
        assert_eq!(
            (back.topic.as_str(), back.queue_id, back.queue_offset),
            ("Orders", 3, 5)
        );
    }
}
