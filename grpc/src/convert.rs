//! Messages between the two protocols: a gRPC `Message` becomes the
//! property string, sysflag and body of a remoting SEND_MESSAGE_V2, and a
//! stored record (as PULL or POP_MESSAGE return it) becomes a gRPC
//! `Message`, so that tag, keys, user properties and body survive both ways.
//!
//! # Property mapping
//!
//! | gRPC `SystemProperties`                  | remoting property                 |
//! |------------------------------------------|-----------------------------------|
//! | `message_id`                             | `UNIQ_KEY`                        |
//! | `tag`                                    | `TAGS`                            |
//! | `keys` (each)                            | `KEYS` (space separated)          |
//! | `message_group` (FIFO)                   | `__SHARDINGKEY`                   |
//! | `delivery_timestamp` (DELAY)             | `TIMER_DELIVER_MS`                |
//! | message type TRANSACTION                 | `TRAN_MSG=true`, sysflag prepared |
//! | `orphaned_transaction_recovery_duration` | `CHECK_IMMUNITY_TIME_IN_SECONDS`  |
//! | `trace_context`                          | `TRACE_CONTEXT`                   |
//!
//! `user_properties` travel as properties of their own names; a user
//! property whose name is one of the system names is refused
//! (`ILLEGAL_MESSAGE_PROPERTY_KEY`), so a message read back carries exactly
//! what was sent. On the way out every property that is not a system name
//! is a user property, whichever protocol wrote it.

use std::collections::HashMap;

use bytes::Bytes;
use ringmq_net::code::request;
use ringmq_net::command::RemotingCommand;
use ringmq_net::header::SendMessageRequestHeaderV2;
use ringmq_net::properties::{self as names, Properties};
use ringmq_net::record::{self, MessageRecord};

use crate::pb;

/// The property holding a FIFO message's group (Java `__SHARDINGKEY`).
pub const MESSAGE_GROUP: &str = "__SHARDINGKEY";
/// The property holding a message's trace context (Java `TRACE_CONTEXT`).
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// The property a POP reply puts on each message (its `extraInfo`).
pub const POP_CK: &str = "POP_CK";

/// System names besides [`names::STANDARD_KEYS`]: never user properties.
const SYSTEM_KEYS_EXTRA: [&str; 11] = [
    names::TIMER_DELIVER_MS,
    names::TIMER_DELAY_MS,
    names::TIMER_DELAY_SEC,
    names::TIMER_OUT_MS,
    names::TIMER_ENQUEUE_MS,
    names::TIMER_DEQUEUE_MS,
    MESSAGE_GROUP,
    TRACE_CONTEXT,
    POP_CK,
    "1ST_POP_TIME",
    "DLQ_ORIGIN_TOPIC",
];

/// Whether `key` is a property the broker or the protocol owns.
pub fn is_system_key(key: &str) -> bool {
    names::STANDARD_KEYS.contains(&key) || SYSTEM_KEYS_EXTRA.contains(&key)
}

/// How a message must be delivered, from its type and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Normal,
    /// In order within its group: every message of a group goes to one queue.
    Fifo {
        group: String,
    },
    /// Not before this time (ms since the epoch).
    Timed {
        at_ms: i64,
    },
    /// A half message, resolved by END_TRANSACTION or the check-back.
    Transaction,
}

impl Delivery {
    /// The gRPC message type of this delivery.
    pub fn message_type(&self) -> pb::MessageType {
        match self {
            Delivery::Normal => pb::MessageType::Normal,
            Delivery::Fifo { .. } => pb::MessageType::Fifo,
            Delivery::Timed { .. } => pb::MessageType::Delay,
            Delivery::Transaction => pb::MessageType::Transaction,
        }
    }
}

/// A gRPC message ready to be sent through the remoting processors.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub topic: String,
    pub message_id: String,
    pub delivery: Delivery,
    pub properties: Properties,
    pub sys_flag: i32,
    pub born_timestamp_ms: i64,
    pub body: Bytes,
}

/// Why a gRPC message cannot be sent; each maps to a gRPC status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("the message has no topic")]
    NoTopic,
    #[error("the message body is empty")]
    EmptyBody,
    #[error("the message has no message_id")]
    NoMessageId,
    #[error("user property {0:?} is a system property name")]
    ReservedProperty(String),
    #[error("property {0:?} cannot be stored (empty, or holds the 0x01/0x02 separators)")]
    BadProperty(String),
    #[error("the tag {0:?} is blank or holds '|'")]
    BadTag(String),
    #[error("a key is blank or holds a space")]
    BadKey,
    #[error("message type {declared:?} conflicts with the message's fields ({reason})")]
    TypeConflict {
        declared: pb::MessageType,
        reason: &'static str,
    },
    #[error("the body encoding {0:?} is not supported")]
    Encoding(pb::Encoding),
}

impl ConvertError {
    /// The gRPC status code a client expects for this refusal.
    pub fn code(&self) -> pb::Code {
        match self {
            ConvertError::NoTopic => pb::Code::IllegalTopic,
            ConvertError::EmptyBody => pb::Code::MessageBodyEmpty,
            ConvertError::NoMessageId => pb::Code::IllegalMessageId,
            ConvertError::ReservedProperty(_) | ConvertError::BadProperty(_) => {
                pb::Code::IllegalMessagePropertyKey
            }
            ConvertError::BadTag(_) => pb::Code::IllegalMessageTag,
            ConvertError::BadKey => pb::Code::IllegalMessageKey,
            ConvertError::TypeConflict { .. } => pb::Code::MessagePropertyConflictWithType,
            ConvertError::Encoding(_) => pb::Code::BadRequest,
        }
    }
}

/// Milliseconds of a protobuf timestamp (negative values clamp to 0).
pub fn timestamp_ms(at: &prost_types::Timestamp) -> i64 {
    at.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(at.nanos / 1_000_000))
        .max(0)
}

/// The protobuf timestamp of `ms` since the epoch.
pub fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds of a protobuf duration (negative values clamp to 0).
pub fn duration_ms(duration: &prost_types::Duration) -> i64 {
    duration
        .seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(duration.nanos / 1_000_000))
        .max(0)
}

/// The protobuf duration of `ms`.
pub fn duration(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Reads a gRPC message into what a remoting send needs.
pub fn outgoing(message: &pb::Message) -> Result<Outgoing, ConvertError> {
    let topic = message
        .topic
        .as_ref()
        .map(|t| t.name.clone())
        .filter(|t| !t.is_empty())
        .ok_or(ConvertError::NoTopic)?;
    if message.body.is_empty() {
        return Err(ConvertError::EmptyBody);
    }
    let system = message.system_properties.clone().unwrap_or_default();
    let encoding = system.body_encoding();
    if !matches!(encoding, pb::Encoding::Identity | pb::Encoding::Unspecified) {
        return Err(ConvertError::Encoding(encoding));
    }
    if system.message_id.is_empty() {
        return Err(ConvertError::NoMessageId);
    }
    let delivery = delivery_of(&system)?;
    let mut properties = Properties::new();
    for (key, value) in &message.user_properties {
        if is_system_key(key) {
            return Err(ConvertError::ReservedProperty(key.clone()));
        }
        put(&mut properties, key, value)?;
    }
    put(&mut properties, names::UNIQ_KEY, &system.message_id)?;
    if let Some(tag) = system.tag.as_deref() {
        if tag.trim().is_empty() || tag.contains('|') {
            return Err(ConvertError::BadTag(tag.to_owned()));
        }
        put(&mut properties, names::TAGS, tag)?;
    }
    if !system.keys.is_empty() {
        if system
            .keys
            .iter()
            .any(|k| k.trim().is_empty() || k.contains(names::KEY_SEPARATOR))
        {
            return Err(ConvertError::BadKey);
        }
        let keys = system.keys.join(&names::KEY_SEPARATOR.to_string());
        put(&mut properties, names::KEYS, &keys)?;
    }
    if let Some(trace) = system.trace_context.as_deref().filter(|t| !t.is_empty()) {
        put(&mut properties, TRACE_CONTEXT, trace)?;
    }
    let mut sys_flag = 0;
    match &delivery {
        Delivery::Normal => {}
        Delivery::Fifo { group } => put(&mut properties, MESSAGE_GROUP, group)?,
        Delivery::Timed { at_ms } => {
            put(&mut properties, names::TIMER_DELIVER_MS, &at_ms.to_string())?;
        }
        Delivery::Transaction => {
            put(&mut properties, names::TRAN_MSG, "true")?;
            sys_flag = record::TRANSACTION_PREPARED_TYPE;
            if let Some(recovery) = &system.orphaned_transaction_recovery_duration {
                let seconds = duration_ms(recovery) / 1000;
                if seconds > 0 {
                    put(
                        &mut properties,
                        names::CHECK_IMMUNITY_TIME_IN_SECONDS,
                        &seconds.to_string(),
                    )?;
                }
            }
        }
    }
    let born_timestamp_ms = system
        .born_timestamp
        .as_ref()
        .map(timestamp_ms)
        .unwrap_or_else(ringmq_net::message_id::now_ms);
    Ok(Outgoing {
        topic,
        message_id: system.message_id,
        delivery,
        properties,
        sys_flag,
        born_timestamp_ms,
        body: Bytes::copy_from_slice(&message.body),
    })
}

fn put(properties: &mut Properties, key: &str, value: &str) -> Result<(), ConvertError> {
    if key.is_empty() || !names::is_encodable(key, value) {
        return Err(ConvertError::BadProperty(key.to_owned()));
    }
    properties.insert(key, value);
    Ok(())
}

/// The delivery a message asks for; its declared type must agree with its
/// fields (a FIFO message has a group, a DELAY one a delivery time, ...).
fn delivery_of(system: &pb::SystemProperties) -> Result<Delivery, ConvertError> {
    let declared = system.message_type();
    let group = system.message_group.clone().filter(|g| !g.is_empty());
    let at_ms = system.delivery_timestamp.as_ref().map(timestamp_ms);
    let conflict = |reason| Err(ConvertError::TypeConflict { declared, reason });
    match declared {
        pb::MessageType::Transaction => {
            if group.is_some() || at_ms.is_some() {
                return conflict("a transactional message has no group and no delivery time");
            }
            Ok(Delivery::Transaction)
        }
        pb::MessageType::Fifo => match (group, at_ms) {
            (Some(group), None) => Ok(Delivery::Fifo { group }),
            _ => conflict("a FIFO message has a message group and no delivery time"),
        },
        pb::MessageType::Delay => match (group, at_ms) {
            (None, Some(at_ms)) => Ok(Delivery::Timed { at_ms }),
            _ => conflict("a DELAY message has a delivery time and no group"),
        },
        pb::MessageType::Normal => match (group, at_ms) {
            (None, None) => Ok(Delivery::Normal),
            _ => conflict("a NORMAL message has no group and no delivery time"),
        },
        _ => match (group, at_ms) {
            (Some(_), Some(_)) => {
                conflict("a message cannot have both a group and a delivery time")
            }
            (Some(group), None) => Ok(Delivery::Fifo { group }),
            (None, Some(at_ms)) => Ok(Delivery::Timed { at_ms }),
            (None, None) => Ok(Delivery::Normal),
        },
    }
}

/// The SEND_MESSAGE_V2 request for `message` to `queue_id` of its topic.
pub fn send_request(
    message: &Outgoing,
    producer_group: &str,
    queue_id: i32,
    default_queue_nums: i32,
) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2 {
        producer_group: producer_group.to_owned(),
        topic: message.topic.clone(),
        default_topic: ringmq_net::topic::AUTO_CREATE_TOPIC.to_owned(),
        default_topic_queue_nums: default_queue_nums,
        queue_id,
        sys_flag: message.sys_flag,
        born_timestamp: message.born_timestamp_ms,
        flag: 0,
        properties: Some(message.properties.encode()),
        reconsume_times: None,
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        broker_name: None,
        bname: None,
    };
    RemotingCommand::request(request::SEND_MESSAGE_V2)
        .with_header(&header)
        .with_body(message.body.clone())
}

/// What a received message carries besides the record itself.
#[derive(Debug, Clone, Default)]
pub struct Delivered {
    /// The receipt handle to ack it with (POP only).
    pub receipt_handle: Option<String>,
    /// How long it stays invisible (POP only).
    pub invisible_ms: Option<i64>,
    /// The topic the client subscribed to, when the record lives in another
    /// (a retry topic).
    pub topic: Option<String>,
}

/// Why a stored record cannot be handed to a gRPC client.
#[derive(Debug, thiserror::Error)]
pub enum RecordConvertError {
    #[error("the stored body cannot be decompressed: {0}")]
    Body(#[from] ringmq_net::compress::CompressError),
}

/// The gRPC message of a stored record.
pub fn incoming(
    record: &MessageRecord,
    store_host: std::net::SocketAddr,
    delivered: Delivered,
) -> Result<pb::Message, RecordConvertError> {
    let body = ringmq_net::compress::decompress_body(record.sys_flag, &record.body)?.into_owned();
    let properties = Properties::parse(&record.properties);
    let mut user_properties = HashMap::new();
    for (key, value) in properties.iter() {
        if !is_system_key(key) {
            user_properties.insert(key.to_owned(), value.to_owned());
        }
    }
    let message_id = properties.uniq_key().map_or_else(
        || ringmq_net::message_id::offset_msg_id(store_host, record.physical_offset),
        str::to_owned,
    );
    let group = properties.get(MESSAGE_GROUP).map(str::to_owned);
    let delivery_ms = properties
        .get(names::TIMER_DELIVER_MS)
        .and_then(|v| v.parse::<i64>().ok());
    let message_type = if properties.get(names::TRAN_MSG) == Some("true")
        || record::TransactionType::from_sys_flag(record.sys_flag)
            != record::TransactionType::NotType
    {
        pb::MessageType::Transaction
    } else if group.is_some() {
        pb::MessageType::Fifo
    } else if delivery_ms.is_some() || properties.contains_key(names::DELAY) {
        pb::MessageType::Delay
    } else {
        pb::MessageType::Normal
    };
    let topic = delivered
        .topic
        .clone()
        .or_else(|| properties.get(names::RETRY_TOPIC).map(str::to_owned))
        .unwrap_or_else(|| record.topic.clone());
    let checksum = format!("{:08X}", crc32fast::hash(&body));
    let system = pb::SystemProperties {
        tag: properties.tags().map(str::to_owned),
        keys: properties.keys().map(str::to_owned).collect(),
        message_id,
        body_digest: Some(pb::Digest {
            r#type: pb::DigestType::Crc32 as i32,
            checksum,
        }),
        body_encoding: pb::Encoding::Identity as i32,
        message_type: message_type as i32,
        born_timestamp: Some(timestamp(record.born_timestamp)),
        born_host: record.born_host.ip().to_string(),
        store_timestamp: Some(timestamp(record.store_timestamp)),
        store_host: record.store_host.to_string(),
        delivery_timestamp: delivery_ms.map(timestamp),
        receipt_handle: delivered.receipt_handle,
        queue_id: record.queue_id,
        queue_offset: Some(record.queue_offset),
        invisible_duration: delivered.invisible_ms.map(duration),
        delivery_attempt: Some(record.reconsume_times.saturating_add(1)),
        message_group: group,
        trace_context: properties.get(TRACE_CONTEXT).map(str::to_owned),
        ..Default::default()
    };
    Ok(pb::Message {
        topic: Some(pb::Resource {
            resource_namespace: String::new(),
            name: topic,
        }),
        user_properties,
        system_properties: Some(system),
        body,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn grpc_message(kind: pb::MessageType) -> pb::Message {
        pb::Message {
            topic: Some(pb::Resource {
                resource_namespace: String::new(),
                name: "T".into(),
            }),
            user_properties: [("color".to_owned(), "blue".to_owned())].into(),
            system_properties: Some(pb::SystemProperties {
                tag: Some("TagA".into()),
                keys: vec!["k1".into(), "k2".into()],
                message_id: "01ABC".into(),
                message_type: kind as i32,
                born_timestamp: Some(timestamp(1_700_000_000_123)),
                ..Default::default()
            }),
            body: b"hello".to_vec(),
        }
    }

    fn stored(out: &Outgoing) -> MessageRecord {
        MessageRecord {
            queue_id: 2,
            flag: 0,
            queue_offset: 7,
            physical_offset: 1234,
            sys_flag: out.sys_flag,
            born_timestamp: out.born_timestamp_ms,
            born_host: "10.0.0.1:5000".parse().unwrap(),
            store_timestamp: 1_700_000_000_200,
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: out.body.clone(),
            topic: out.topic.clone(),
            properties: out.properties.encode(),
        }
    }

    #[test]
    fn a_normal_message_survives_the_trip_through_a_record() {
        let sent = grpc_message(pb::MessageType::Normal);
        let out = outgoing(&sent).unwrap();
        assert_eq!(out.delivery, Delivery::Normal);
        let record = stored(&out);
        let back = incoming(&record, record.store_host, Delivered::default()).unwrap();
        assert_eq!(back.body, sent.body);
        assert_eq!(back.user_properties, sent.user_properties);
        let system = back.system_properties.unwrap();
        assert_eq!(system.tag.as_deref(), Some("TagA"));
        assert_eq!(system.keys, ["k1", "k2"]);
        assert_eq!(system.message_id, "01ABC");
        assert_eq!(system.message_type(), pb::MessageType::Normal);
        assert_eq!(system.queue_offset, Some(7));
        assert_eq!(system.born_timestamp, Some(timestamp(1_700_000_000_123)));
        assert_eq!(
            system.body_digest.unwrap().checksum,
            format!("{:08X}", crc32fast::hash(b"hello"))
        );
    }

    #[test]
    fn fifo_timed_and_transactional_messages_carry_their_properties() {
        let mut fifo = grpc_message(pb::MessageType::Fifo);
        if let Some(system) = fifo.system_properties.as_mut() {
            system.message_group = Some("order-1".into());
        }
        let out = outgoing(&fifo).unwrap();
        assert_eq!(out.properties.get(MESSAGE_GROUP), Some("order-1"));
        let back = incoming(
            &stored(&out),
            "127.0.0.1:1".parse().unwrap(),
            Delivered::default(),
        )
        .unwrap();
        let system = back.system_properties.unwrap();
        assert_eq!(system.message_group.as_deref(), Some("order-1"));
        assert_eq!(system.message_type(), pb::MessageType::Fifo);

        let mut timed = grpc_message(pb::MessageType::Delay);
        if let Some(system) = timed.system_properties.as_mut() {
            system.delivery_timestamp = Some(timestamp(1_800_000_000_000));
        }
        let out = outgoing(&timed).unwrap();
        assert_eq!(
            out.properties.get(names::TIMER_DELIVER_MS),
            Some("1800000000000")
        );

        let out = outgoing(&grpc_message(pb::MessageType::Transaction)).unwrap();
        assert_eq!(out.properties.get(names::TRAN_MSG), Some("true"));
        assert_eq!(out.sys_flag, record::TRANSACTION_PREPARED_TYPE);
    }

    #[test]
    fn conflicting_or_reserved_fields_are_refused_with_their_codes() {
        let fifo_without_group = grpc_message(pb::MessageType::Fifo);
        let err = outgoing(&fifo_without_group).unwrap_err();
        assert_eq!(err.code(), pb::Code::MessagePropertyConflictWithType);
        let mut reserved = grpc_message(pb::MessageType::Normal);
        reserved
            .user_properties
            .insert(names::TAGS.to_owned(), "x".into());
        assert_eq!(
            outgoing(&reserved).unwrap_err(),
            ConvertError::ReservedProperty(names::TAGS.to_owned())
        );
        let mut separator = grpc_message(pb::MessageType::Normal);
        separator
            .user_properties
            .insert("a\u{1}b".to_owned(), "x".into());
        assert!(matches!(
            outgoing(&separator),
            Err(ConvertError::BadProperty(_))
        ));
        let mut empty = grpc_message(pb::MessageType::Normal);
        empty.body.clear();
        assert_eq!(outgoing(&empty).unwrap_err(), ConvertError::EmptyBody);
    }

    #[test]
    fn a_remoting_message_without_uniq_key_gets_its_offset_id() {
        let out = outgoing(&grpc_message(pb::MessageType::Normal)).unwrap();
        let mut record = stored(&out);
        record.properties = "TAGS\u{1}X\u{2}plain\u{1}v\u{2}".to_owned();
        let back = incoming(&record, record.store_host, Delivered::default()).unwrap();
        let system = back.system_properties.unwrap();
        assert_eq!(
            system.message_id,
            ringmq_net::message_id::offset_msg_id(record.store_host, 1234)
        );
        assert_eq!(
            back.user_properties.get("plain").map(String::as_str),
            Some("v")
        );
        assert_eq!(system.tag.as_deref(), Some("X"));
    }
}
