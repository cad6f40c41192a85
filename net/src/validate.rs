//! Every name and count a client request carries, checked before the request
//! is served: topics, consumer groups, producer groups and client ids in
//! header fields ([`request_names`]), and in bodies: HEART_BEAT
//! ([`heartbeat`]), LOCK_BATCH_MQ / UNLOCK_BATCH_MQ ([`queue_batch`]), the
//! subscription group of UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
//! ([`subscription_group`]) and the topic table of REGISTER_BROKER
//! ([`topic_table`]). The broker and the nameserver call these once per
//! request, so nothing unvalidated reaches a table, a file name or a
//! registration.
//!
//! ```text
//! kind            bytes     characters            header fields
//! topic           1..=127   [%|a-zA-Z0-9_-]       topic, defaultTopic, originTopic, b (V2 sends)
//! consumer group  1..=120   [%|a-zA-Z0-9_-]       consumerGroup, group, groupName
//! producer group  1..=255   [%|a-zA-Z0-9_-]       producerGroup, a (V2 sends)
//! client id       1..=255   printable ASCII       clientId
//! ```
//!
//! A consumer group is at most 120 bytes because its retry topic
//! `%RETRY%<group>` must be a legal topic (127 bytes). Client ids are
//! `ip@instance[@unit]` and Java instance names hold `#` and digits, so any
//! printable ASCII character but the space is allowed. A refused name is
//! quoted in the error shortened to [`QUOTED_NAME_CHARS_MAX`] characters,
//! so a 9 MB name never travels back in a remark.

use crate::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use crate::body::queue::MessageQueue;
use crate::code::request;
use crate::command::RemotingCommand;
use crate::topic::{
    CONSUMER_GROUP_BYTES_MAX, GROUP_NAME_BYTES_MAX, TOPIC_NAME_BYTES_MAX, is_legal_name,
};

/// Longest client id (`clientID`: `ip@instanceName[@unitName]`).
pub const CLIENT_ID_BYTES_MAX: usize = 255;
/// Consumer plus producer groups one heartbeat may carry.
pub const HEARTBEAT_GROUPS_MAX: usize = 1024;
/// Subscriptions one consumer group of a heartbeat may carry.
pub const SUBSCRIPTIONS_PER_GROUP_MAX: usize = 1024;
/// Longest subscription expression (`subString`).
pub const SUB_EXPRESSION_BYTES_MAX: usize = 16 * 1024;
/// Tags one subscription may name.
pub const TAGS_PER_SUBSCRIPTION_MAX: usize = 1024;
/// Queues one LOCK_BATCH_MQ / UNLOCK_BATCH_MQ body may name.
pub const QUEUE_BATCH_MAX: usize = 65_536;
/// Topics one REGISTER_BROKER body may carry (the nameserver's own table
/// bound is larger; a broker splits bigger tables into several requests).
pub const REGISTERED_TOPICS_MAX: usize = 1_000_000;
/// Characters of a refused name quoted in an error.
pub const QUOTED_NAME_CHARS_MAX: usize = 64;

/// What a name names; decides its length limit and character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Topic,
    ConsumerGroup,
    ProducerGroup,
    ClientId,
}

impl NameKind {
    /// The longest legal name of this kind, in bytes.
    pub fn bytes_max(self) -> usize {
        match self {
            NameKind::Topic => TOPIC_NAME_BYTES_MAX,
            NameKind::ConsumerGroup => CONSUMER_GROUP_BYTES_MAX,
            NameKind::ProducerGroup => GROUP_NAME_BYTES_MAX,
            NameKind::ClientId => CLIENT_ID_BYTES_MAX,
        }
    }

    fn label(self) -> &'static str {
        match self {
            NameKind::Topic => "topic",
            NameKind::ConsumerGroup => "consumer group",
            NameKind::ProducerGroup => "producer group",
            NameKind::ClientId => "client id",
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            NameKind::ClientId => "printable ASCII without spaces",
            _ => "[%|a-zA-Z0-9_-]",
        }
    }

    fn is_legal(self, name: &str) -> bool {
        match self {
            NameKind::ClientId => name.bytes().all(|b| b.is_ascii_graphic()),
            _ => is_legal_name(name),
        }
    }
}

/// Why a request was refused before it was served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    #[error("the {} in `{field}` is empty; give 1 to {} bytes of {}", kind.label(), kind.bytes_max(), kind.allowed())]
    Blank { kind: NameKind, field: &'static str },
    #[error("the {} in `{field}` is {len} bytes long; the limit is {} bytes", kind.label(), kind.bytes_max())]
    TooLong {
        kind: NameKind,
        field: &'static str,
        len: usize,
    },
    #[error("the {} in `{field}` ({quoted:?}) contains {character:?}; only {} is allowed", kind.label(), kind.allowed())]
    IllegalCharacter {
        kind: NameKind,
        field: &'static str,
        quoted: String,
        character: char,
    },
    #[error("the body carries {count} {what}; the limit is {limit}")]
    BodyTooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error("the heartbeat carries {count} {what}; the limit is {limit}")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error(
        "a subscription expression of {len} bytes is over the limit of {SUB_EXPRESSION_BYTES_MAX}"
    )]
    ExpressionTooLong { len: usize },
}

/// Checks one name of `kind` found in `field`.
pub fn name(kind: NameKind, field: &'static str, value: &str) -> Result<(), ValidateError> {
    if value.trim().is_empty() {
        return Err(ValidateError::Blank { kind, field });
    }
    if value.len() > kind.bytes_max() {
        return Err(ValidateError::TooLong {
            kind,
            field,
            len: value.len(),
        });
    }
    if !kind.is_legal(value) {
        let character = value
            .chars()
            .find(|c| !kind.is_legal(c.encode_utf8(&mut [0; 4])))
            .unwrap_or(' ');
        return Err(ValidateError::IllegalCharacter {
            kind,
            field,
            quoted: value.chars().take(QUOTED_NAME_CHARS_MAX).collect(),
            character,
        });
    }
    Ok(())
}

/// The header fields of request `code` that carry a name, and their kinds.
pub fn name_fields(code: i32) -> &'static [(&'static str, NameKind)] {
    const COMMON: &[(&str, NameKind)] = &[
        ("topic", NameKind::Topic),
        ("defaultTopic", NameKind::Topic),
        ("originTopic", NameKind::Topic),
        ("consumerGroup", NameKind::ConsumerGroup),
        ("group", NameKind::ConsumerGroup),
        ("groupName", NameKind::ConsumerGroup),
        ("producerGroup", NameKind::ProducerGroup),
        ("clientId", NameKind::ClientId),
    ];
    const SEND_V2: &[(&str, NameKind)] = &[("a", NameKind::ProducerGroup), ("b", NameKind::Topic)];
    // Java 4.9's END_TRANSACTION header names only the producer group;
    // RocketMQ 5 clients add an RPC `topic` they may leave empty.
    const END_TRANSACTION: &[(&str, NameKind)] = &[("producerGroup", NameKind::ProducerGroup)];
    match code {
        request::END_TRANSACTION => END_TRANSACTION,
        request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE | request::SEND_REPLY_MESSAGE_V2 => {
            SEND_V2
        }
        _ => COMMON,
    }
}

/// Checks every name-carrying header field of a request (see the module
/// doc); absent fields are the processor's business.
pub fn request_names(req: &RemotingCommand) -> Result<(), ValidateError> {
    for (field, kind) in name_fields(req.code) {
        if let Some(value) = req.ext_fields.get(field) {
            name(*kind, field, value)?;
        }
    }
    Ok(())
}

/// Checks a HEART_BEAT body: the client id, every group name, and the
/// counts and sizes of groups and subscriptions.
pub fn heartbeat(data: &HeartbeatData) -> Result<(), ValidateError> {
    name(NameKind::ClientId, "clientID", &data.client_id)?;
    let groups = data.consumer_data_set.len() + data.producer_data_set.len();
    at_most("groups", groups, HEARTBEAT_GROUPS_MAX)?;
    for producer in &data.producer_data_set {
        name(NameKind::ProducerGroup, "groupName", &producer.group_name)?;
    }
    data.consumer_data_set.iter().try_for_each(consumer)
}

fn consumer(data: &ConsumerData) -> Result<(), ValidateError> {
    name(NameKind::ConsumerGroup, "groupName", &data.group_name)?;
    let count = data.subscription_data_set.len();
    at_most(
        "subscriptions in one group",
        count,
        SUBSCRIPTIONS_PER_GROUP_MAX,
    )?;
    data.subscription_data_set.iter().try_for_each(subscription)
}

fn subscription(data: &SubscriptionData) -> Result<(), ValidateError> {
    name(NameKind::Topic, "topic", &data.topic)?;
    if data.sub_string.len() > SUB_EXPRESSION_BYTES_MAX {
        return Err(ValidateError::ExpressionTooLong {
            len: data.sub_string.len(),
        });
    }
    let tags = data.tags_set.len().max(data.code_set.len());
    at_most("tags in one subscription", tags, TAGS_PER_SUBSCRIPTION_MAX)
}

/// Checks a LOCK_BATCH_MQ or UNLOCK_BATCH_MQ body: its consumer group,
/// client id, the number of queues and the topic of each.
pub fn queue_batch<'a>(
    consumer_group: &str,
    client_id: &str,
    queues: impl ExactSizeIterator<Item = &'a MessageQueue>,
) -> Result<(), ValidateError> {
    name(NameKind::ConsumerGroup, "consumerGroup", consumer_group)?;
    name(NameKind::ClientId, "clientId", client_id)?;
    body_at_most("queues in mqSet", queues.len(), QUEUE_BATCH_MAX)?;
    queues
        .into_iter()
        .try_for_each(|queue| name(NameKind::Topic, "mqSet.topic", &queue.topic))
}

/// Checks the `groupName` of a `SubscriptionGroupConfig` body.
pub fn subscription_group(group_name: &str) -> Result<(), ValidateError> {
    name(NameKind::ConsumerGroup, "groupName", group_name)
}

/// Checks the topic names (and their count) of a registered topic table.
pub fn topic_table<'a>(
    topics: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), ValidateError> {
    body_at_most("topics", topics.len(), REGISTERED_TOPICS_MAX)?;
    topics
        .into_iter()
        .try_for_each(|topic| name(NameKind::Topic, "topicConfigTable.topicName", topic))
}

fn body_at_most(what: &'static str, count: usize, limit: usize) -> Result<(), ValidateError> {
    if count > limit {
        return Err(ValidateError::BodyTooMany { what, count, limit });
    }
    Ok(())
}

fn at_most(what: &'static str, count: usize, limit: usize) -> Result<(), ValidateError> {
    if count > limit {
        return Err(ValidateError::TooMany { what, count, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::heartbeat::ProducerData;
    use proptest::prelude::*;

    fn with_field(code: i32, field: &str, value: &str) -> RemotingCommand {
        let mut req = RemotingCommand::request(code);
        req.ext_fields.insert(field.to_owned(), value.to_owned());
        req
    }

    fn heartbeat_of(group: &str) -> HeartbeatData {
        HeartbeatData {
            client_id: "127.0.0.1@12345#99".into(),
            consumer_data_set: vec![ConsumerData {
                group_name: group.into(),
                subscription_data_set: vec![SubscriptionData::tag("T", "a||b", 0)],
                ..ConsumerData::default()
            }],
            producer_data_set: vec![ProducerData {
                group_name: "P".into(),
            }],
        }
    }

    #[test]
    fn legal_names_pass_at_their_limits() {
        name(NameKind::Topic, "topic", &"t".repeat(127)).unwrap();
        name(NameKind::ConsumerGroup, "g", &"g".repeat(120)).unwrap();
        name(NameKind::ProducerGroup, "p", &"p".repeat(255)).unwrap();
        name(NameKind::ClientId, "c", "10.0.0.1@4321#1735689600000@unit").unwrap();
        name(NameKind::ClientId, "c", "[::1]@pid").unwrap();
    }

    #[test]
    fn each_limit_is_enforced_and_named() {
        let err = name(NameKind::ConsumerGroup, "group", &"g".repeat(121)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the consumer group in `group` is 121 bytes long; the limit is 120 bytes"
        );
        assert!(name(NameKind::ProducerGroup, "p", &"p".repeat(256)).is_err());
        assert!(name(NameKind::Topic, "t", &"t".repeat(128)).is_err());
        assert!(name(NameKind::ClientId, "c", &"c".repeat(256)).is_err());
        let blank = name(NameKind::Topic, "topic", " ").unwrap_err().to_string();
        assert!(blank.contains("empty") && blank.contains("127"), "{blank}");
    }

    #[test]
    fn an_illegal_character_is_named_and_the_name_quoted_short() {
        let long_bad = format!("{} x", "a".repeat(100));
        let err = name(NameKind::ProducerGroup, "producerGroup", &long_bad).unwrap_err();
        let ValidateError::IllegalCharacter {
            quoted, character, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*character, ' ');
        assert_eq!(quoted.chars().count(), QUOTED_NAME_CHARS_MAX);
        assert!(name(NameKind::ClientId, "c", "a b").is_err());
        assert!(name(NameKind::ClientId, "c", "é").is_err());
    }

    #[test]
    fn a_huge_name_is_refused_without_being_echoed() {
        let huge = "G".repeat(9 * 1024 * 1024);
        let err = name(NameKind::ConsumerGroup, "groupName", &huge).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }

    #[test]
    fn request_fields_are_checked_by_code() {
        let req = with_field(request::PULL_MESSAGE, "consumerGroup", "bad group");
        assert!(request_names(&req).is_err());
        let req = with_field(request::SEND_MESSAGE_V2, "b", "bad topic");
        assert!(request_names(&req).is_err());
        // `b` is not a topic outside the V2 sends.
        let req = with_field(request::PULL_MESSAGE, "b", "anything at all");
        request_names(&req).unwrap();
        let req = with_field(request::SEND_MESSAGE, "topic", "%RETRY%cg");
        request_names(&req).unwrap();
        request_names(&RemotingCommand::request(request::HEART_BEAT)).unwrap();
        // rocketmq-client-rust answers a check with an empty `topic`.
        let req = with_field(request::END_TRANSACTION, "topic", "");
        request_names(&req).unwrap();
        let req = with_field(request::END_TRANSACTION, "producerGroup", "bad group");
        assert!(request_names(&req).is_err());
    }

    #[test]
    fn heartbeat_checks_names_counts_and_sizes() {
        heartbeat(&heartbeat_of("cg")).unwrap();
        assert!(heartbeat(&heartbeat_of(&"G".repeat(9_000_000))).is_err());
        assert!(heartbeat(&heartbeat_of("bad group")).is_err());
        let mut data = heartbeat_of("cg");
        data.client_id.clear();
        assert!(heartbeat(&data).is_err());
        let mut data = heartbeat_of("cg");
        data.producer_data_set = (0..HEARTBEAT_GROUPS_MAX)
            .map(|i| ProducerData {
                group_name: format!("p{i}"),
            })
            .collect();
        assert!(matches!(
            heartbeat(&data),
            Err(ValidateError::TooMany { limit, .. }) if limit == HEARTBEAT_GROUPS_MAX
        ));
        let mut data = heartbeat_of("cg");
        if let Some(group) = data.consumer_data_set.first_mut() {
            group.subscription_data_set =
                vec![SubscriptionData::tag("T", "*", 0); SUBSCRIPTIONS_PER_GROUP_MAX + 1];
        }
        assert!(heartbeat(&data).is_err());
        let mut data = heartbeat_of("cg");
        if let Some(group) = data.consumer_data_set.first_mut() {
            group.subscription_data_set = vec![SubscriptionData::tag(
                "T",
                &"x".repeat(SUB_EXPRESSION_BYTES_MAX + 1),
                0,
            )];
        }
        assert!(matches!(
            heartbeat(&data),
            Err(ValidateError::ExpressionTooLong { .. })
        ));
    }

    #[test]
    fn queue_batch_bodies_check_group_client_and_topics() {
        let good = [
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("%RETRY%g", "b", 0),
        ];
        queue_batch("g", "127.0.0.1@1", good.iter()).unwrap();
        let err = queue_batch("bad group", "127.0.0.1@1", good.iter()).unwrap_err();
        assert!(err.to_string().contains("consumerGroup"), "{err}");
        assert!(queue_batch("g", "", good.iter()).is_err());
        let bad = [MessageQueue::new("a topic", "b", 0)];
        let err = queue_batch("g", "c", bad.iter()).unwrap_err().to_string();
        assert!(err.contains("mqSet.topic") && err.contains("' '"), "{err}");
        let many: Vec<_> = (0..=QUEUE_BATCH_MAX as i32)
            .map(|q| MessageQueue::new("T", "b", q))
            .collect();
        assert!(matches!(
            queue_batch("g", "c", many.iter()),
            Err(ValidateError::BodyTooMany {
                limit: QUEUE_BATCH_MAX,
                ..
            })
        ));
    }

    #[test]
    fn group_and_topic_table_bodies_are_checked() {
        subscription_group("g").unwrap();
        assert!(subscription_group(&"g".repeat(121)).is_err());
        assert!(subscription_group("").is_err());
        topic_table(["T", "TBW102"].into_iter()).unwrap();
        let err = topic_table(["T", "bad/topic"].into_iter()).unwrap_err();
        assert!(err.to_string().contains("topicConfigTable"), "{err}");
    }

    proptest! {
        #[test]
        fn group_validation_is_length_and_charset(group in "[%|a-zA-Z0-9_ é-]{0,130}") {
            let expected = !group.trim().is_empty()
                && group.len() <= CONSUMER_GROUP_BYTES_MAX
                && is_legal_name(&group);
            prop_assert_eq!(name(NameKind::ConsumerGroup, "g", &group).is_ok(), expected);
        }

        #[test]
        fn any_header_value_is_judged_without_panic(value in any::<String>(), code in 0i32..400) {
            let _ = request_names(&with_field(code, "topic", &value));
            let _ = request_names(&with_field(code, "clientId", &value));
        }
    }
}
