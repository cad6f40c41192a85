//! A consumed message ([`MessageExt`]): the fields of a pulled commit-log
//! record with the body decompressed, plus the ids a user needs.
//!
//! Pull bodies are split record by record; as in Java, the first record
//! that fails to decode stops decoding of the rest (spec §4.7).

use std::net::SocketAddr;

use bytes::Bytes;
use ringmq_net::compress::decompress_body;
use ringmq_net::message_id::offset_msg_id;
use ringmq_net::properties::Properties;
use ringmq_net::record::{RecordView, records};

use crate::message::{
    PROPERTY_KEYS, PROPERTY_MAX_OFFSET, PROPERTY_MIN_OFFSET, PROPERTY_RETRY_TOPIC, PROPERTY_TAGS,
    PROPERTY_UNIQ_KEY,
};
use crate::queue::MessageQueue;

pub use ringmq_net::topic::{RETRY_GROUP_TOPIC_PREFIX as RETRY_TOPIC_PREFIX, retry_topic};

/// One consumed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageExt {
    /// The topic (for retried messages: the original topic).
    pub topic: String,
    /// The broker group the message was pulled from.
    pub broker_name: String,
    /// The queue id.
    pub queue_id: i32,
    /// The logical offset in the queue.
    pub queue_offset: i64,
    /// The commit-log offset (used by CONSUMER_SEND_MSG_BACK).
    pub commit_log_offset: i64,
    /// The user-facing id: UNIQ_KEY, or the offset id if there is none.
    pub msg_id: String,
    /// The broker's offset message id.
    pub offset_msg_id: String,
    /// The plain (decompressed) body.
    pub body: Bytes,
    /// The user flag.
    pub flag: i32,
    /// The record's sysflag.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker store timestamp, ms.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// How many times this message was consumed and sent back before.
    pub reconsume_times: i32,
    /// All properties.
    pub properties: Properties,
}

impl MessageExt {
    /// The tag, if any.
    pub fn tags(&self) -> Option<&str> {
        self.properties.get(PROPERTY_TAGS)
    }

    /// The business keys.
    pub fn keys(&self) -> Vec<&str> {
        self.properties
            .get(PROPERTY_KEYS)
            .map(|k| k.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    /// A property by name.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name)
    }

    /// The queue the message came from.
    pub fn queue(&self) -> MessageQueue {
        MessageQueue::new(&self.topic, &self.broker_name, self.queue_id)
    }

    /// Builds a message from one record view.
    pub fn from_record(view: &RecordView<'_>, broker_name: &str) -> Option<MessageExt> {
        let body = decompress_body(view.sys_flag(), view.body()).ok()?;
        let properties = Properties::parse(view.properties_raw());
        let offset_id = offset_msg_id(view.store_host(), view.physical_offset());
        let msg_id = properties
            .get(PROPERTY_UNIQ_KEY)
            .map(str::to_string)
            .unwrap_or_else(|| offset_id.clone());
        Some(MessageExt {
            topic: view.topic().to_string(),
            broker_name: broker_name.to_string(),
            queue_id: view.queue_id(),
            queue_offset: view.queue_offset(),
            commit_log_offset: view.physical_offset(),
            msg_id,
            offset_msg_id: offset_id,
            body: Bytes::copy_from_slice(&body),
            flag: view.flag(),
            sys_flag: view.sys_flag(),
            born_timestamp: view.born_timestamp(),
            born_host: view.born_host(),
            store_timestamp: view.store_timestamp(),
            store_host: view.store_host(),
            reconsume_times: view.reconsume_times(),
            properties,
        })
    }
}

/// Splits a pull body into messages, stopping at the first bad record,
/// and stamps each with the queue's min/max offsets.
pub fn decode_pull_body(
    body: &[u8],
    broker_name: &str,
    min_offset: i64,
    max_offset: i64,
) -> Vec<MessageExt> {
    let mut out = Vec::new();
    for view in records(body) {
        let Ok(view) = view else { break };
        let Some(mut msg) = MessageExt::from_record(&view, broker_name) else {
            break;
        };
        msg.properties
            .insert(PROPERTY_MIN_OFFSET, min_offset.to_string());
        msg.properties
            .insert(PROPERTY_MAX_OFFSET, max_offset.to_string());
        out.push(msg);
    }
    out
}

/// For a message pulled from a `%RETRY%` topic, restores the original topic.
pub fn restore_retry_topic(msg: &mut MessageExt, group: &str) {
    let retry = retry_topic(group);
    if let Some(original) = msg.properties.get(PROPERTY_RETRY_TOPIC)
        && msg.topic == retry
    {
        msg.topic = original.to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringmq_net::record::MessageRecord;

    fn record(offset: i64, body: &[u8], props: &str) -> Vec<u8> {
        let rec = MessageRecord {
            queue_id: 1,
            flag: 7,
            queue_offset: offset,
            physical_offset: 1000 + offset,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: "127.0.0.1:5000".parse().unwrap(),
            store_timestamp: 2,
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::copy_from_slice(body),
            topic: "T".into(),
            properties: props.into(),
        };
        rec.to_vec().unwrap()
    }

    #[test]
    fn a_pull_body_decodes_into_messages_with_ids() {
        let mut body = record(0, b"a", "UNIQ_KEY\u{1}ABC\u{2}TAGS\u{1}x");
        body.extend(record(1, b"b", ""));
        let msgs = decode_pull_body(&body, "broker-a", 0, 2);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].msg_id, "ABC");
        assert_eq!(msgs[0].tags(), Some("x"));
        assert_eq!(msgs[1].msg_id, msgs[1].offset_msg_id);
        assert_eq!(msgs[1].offset_msg_id.len(), 32);
        assert_eq!(msgs[1].property("MAX_OFFSET"), Some("2"));
    }

    #[test]
    fn decoding_stops_at_the_first_bad_record() {
        let mut body = record(0, b"a", "");
        body.extend_from_slice(&[0, 0, 0, 9, 1, 2, 3]);
        body.extend(record(1, b"b", ""));
        assert_eq!(decode_pull_body(&body, "b", 0, 0).len(), 1);
    }

    #[test]
    fn retried_messages_get_their_original_topic_back() {
        let body = record(0, b"a", "RETRY_TOPIC\u{1}Orders");
        let mut msg = decode_pull_body(&body, "b", 0, 0).remove(0);
        msg.topic = retry_topic("g");
        restore_retry_topic(&mut msg, "g");
        assert_eq!(msg.topic, "Orders");
    }
}
