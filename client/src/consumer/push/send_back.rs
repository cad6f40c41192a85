//! The client-side send-back fallback (Java
//! `DefaultMQPushConsumerImpl.sendMessageBack`): when the broker cannot be
//! asked to re-store a failed message (CONSUMER_SEND_MSG_BACK fails), the
//! consumer sends a copy itself to `%RETRY%<group>`, so nothing is lost.
//!
//! The copy carries the original's body, flag and properties, plus
//! `RETRY_TOPIC` (the real topic), `ORIGIN_MESSAGE_ID` (the first id of the
//! chain), `RECONSUME_TIME` / `MAX_RECONSUME_TIMES` (which the producer puts
//! in the send header, so the broker dead-letters a copy past its limit)
//! and `DELAY` = 3 + the original's reconsume times, as Java's copy does. Only if this send
//! fails too is the message consumed again locally.

use ringmq_net::properties as names;

use super::PushShared;
use crate::Message;
use crate::consumer::message_ext::{MessageExt, retry_topic};
use crate::producer::Producer;

/// Delay level of a client-side retry copy: this plus the times the
/// original was consumed before.
pub const RETRY_DELAY_LEVEL_BASE: i32 = 3;

/// Properties a pulled message carries that are the client's own and are
/// not copied.
const CLIENT_SIDE_PROPERTIES: [&str; 4] = [
    names::MIN_OFFSET,
    names::MAX_OFFSET,
    names::CONSUME_START_TIME,
    names::TRAN_MSG,
];

/// The copy of `msg` a consumer of `group` sends to its retry topic,
/// counted as consumed `reconsume_times` times (the original's count plus
/// one for a retry; the count itself for a dead letter).
pub(crate) fn retry_copy(
    msg: &MessageExt,
    group: &str,
    reconsume_times: i32,
    max_reconsume_times: i32,
) -> Message {
    let mut copy = Message::new(retry_topic(group), msg.body.clone()).with_flag(msg.flag);
    for (name, value) in msg.properties.iter() {
        if !CLIENT_SIDE_PROPERTIES.contains(&name) {
            copy.set_system_property(name, value);
        }
    }
    let origin = msg
        .property(names::ORIGIN_MESSAGE_ID)
        .filter(|id| !id.is_empty())
        .unwrap_or(&msg.msg_id)
        .to_string();
    copy.set_system_property(names::ORIGIN_MESSAGE_ID, origin);
    copy.set_system_property(names::RETRY_TOPIC, msg.topic.clone());
    copy.set_system_property(names::RECONSUME_TIME, reconsume_times.to_string());
    copy.set_system_property(names::MAX_RECONSUME_TIMES, max_reconsume_times.to_string());
    let level = RETRY_DELAY_LEVEL_BASE.saturating_add(msg.reconsume_times.max(0));
    copy.set_system_property(names::DELAY, level.to_string());
    copy
}

impl PushShared {
    /// The producer of retry copies, started on first use.
    fn retry_producer(&self) -> Option<Producer> {
        let mut slot = self.retry_producer.lock().ok()?;
        if let Some(producer) = slot.as_ref() {
            return Some(producer.clone());
        }
        let built = Producer::builder(self.config.group.clone())
            .namesrv(&self.config.client.namesrv_addrs.join(";"))
            .build();
        match built {
            Ok(producer) => {
                *slot = Some(producer.clone());
                Some(producer)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot start the producer of retry copies");
                None
            }
        }
    }

    /// Sends a retry copy of `msg` counted `reconsume_times`; whether it
    /// was stored.
    pub(crate) async fn resend_to_retry(&self, msg: &MessageExt, reconsume_times: i32) -> bool {
        let Some(producer) = self.retry_producer() else {
            return false;
        };
        let max = self.config.max_reconsume(self.is_orderly());
        let copy = retry_copy(msg, &self.config.group, reconsume_times, max);
        match producer.send(copy).await {
            Ok(sent) => {
                tracing::debug!(msg_id = %msg.msg_id, queue = %sent.queue, "sent a retry copy");
                true
            }
            Err(error) => {
                tracing::warn!(msg_id = %msg.msg_id, %error, "the retry copy could not be sent either");
                false
            }
        }
    }

    /// Stops the producer of retry copies, if one was started.
    pub(crate) async fn stop_retry_producer(&self) {
        let producer = self.retry_producer.lock().ok().and_then(|mut p| p.take());
        if let Some(producer) = producer {
            producer.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use ringmq_net::properties::Properties;

    fn pulled(props: &str) -> MessageExt {
        let host = "127.0.0.1:1".parse().unwrap();
        MessageExt {
            topic: "Orders".into(),
            broker_name: "b".into(),
            queue_id: 2,
            queue_offset: 7,
            commit_log_offset: 700,
            msg_id: "UNIQ1".into(),
            offset_msg_id: "OFF1".into(),
            body: Bytes::from_static(b"payload"),
            flag: 5,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 2,
            properties: Properties::parse(props),
        }
    }

    #[test]
    fn a_retry_copy_names_its_origin_count_and_delay() {
        let msg = pulled("TAGS\u{1}A\u{2}UNIQ_KEY\u{1}UNIQ1\u{2}MIN_OFFSET\u{1}0\u{2}k\u{1}v");
        let copy = retry_copy(&msg, "cg", 3, 16);
        assert_eq!(copy.topic(), "%RETRY%cg");
        assert_eq!(copy.body().as_ref(), b"payload");
        assert_eq!(copy.flag(), 5);
        assert_eq!(copy.tags(), Some("A"));
        assert_eq!(copy.property("k"), Some("v"));
        assert_eq!(copy.property("UNIQ_KEY"), Some("UNIQ1"));
        assert_eq!(copy.property("RETRY_TOPIC"), Some("Orders"));
        assert_eq!(copy.property("ORIGIN_MESSAGE_ID"), Some("UNIQ1"));
        assert_eq!(copy.property("RECONSUME_TIME"), Some("3"));
        assert_eq!(copy.property("MAX_RECONSUME_TIMES"), Some("16"));
        assert_eq!(copy.delay_level(), 5, "3 + the original's count");
        assert_eq!(copy.property("MIN_OFFSET"), None);
        assert_eq!(copy.validate(crate::message::BODY_SIZE_MAX), Ok(()));
    }

    #[test]
    fn a_copy_of_a_copy_keeps_the_first_origin() {
        let msg = pulled("ORIGIN_MESSAGE_ID\u{1}FIRST\u{2}RETRY_TOPIC\u{1}Orders");
        let copy = retry_copy(&msg, "cg", 1, 16);
        assert_eq!(copy.property("ORIGIN_MESSAGE_ID"), Some("FIRST"));
        assert_eq!(copy.delay_level(), 5);
    }
}
