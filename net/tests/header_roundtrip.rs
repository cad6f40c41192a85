//! Every typed header reads back what it wrote, and reads `extFields` by
//! Java's rules: required fields missing -> `Missing`, unparsable required
//! numbers -> `Invalid`, optional junk -> `None`, primitives -> default.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt::Debug;

use proptest::prelude::*;
use ringmq_net::header::*;

/// Calls `$check::<H>(..)` for every header type the crate defines.
macro_rules! for_every_header {
    ($check:ident ( $($arg:expr),* )) => {{
        $check::<SendMessageRequestHeader>($($arg),*);
        $check::<SendMessageRequestHeaderV2>($($arg),*);
        $check::<SendMessageResponseHeader>($($arg),*);
        $check::<PullMessageRequestHeader>($($arg),*);
        $check::<PullMessageResponseHeader>($($arg),*);
        $check::<QueryConsumerOffsetRequestHeader>($($arg),*);
        $check::<QueryConsumerOffsetResponseHeader>($($arg),*);
        $check::<UpdateConsumerOffsetRequestHeader>($($arg),*);
        $check::<GetMaxOffsetRequestHeader>($($arg),*);
        $check::<GetMaxOffsetResponseHeader>($($arg),*);
        $check::<GetMinOffsetRequestHeader>($($arg),*);
        $check::<GetMinOffsetResponseHeader>($($arg),*);
        $check::<SearchOffsetRequestHeader>($($arg),*);
        $check::<SearchOffsetResponseHeader>($($arg),*);
        $check::<GetEarliestMsgStoretimeRequestHeader>($($arg),*);
        $check::<GetEarliestMsgStoretimeResponseHeader>($($arg),*);
        $check::<UnregisterClientRequestHeader>($($arg),*);
        $check::<GetConsumerListByGroupRequestHeader>($($arg),*);
        $check::<NotifyConsumerIdsChangedRequestHeader>($($arg),*);
        $check::<ConsumerSendMsgBackRequestHeader>($($arg),*);
        $check::<EndTransactionRequestHeader>($($arg),*);
        $check::<CheckTransactionStateRequestHeader>($($arg),*);
        $check::<QueryMessageRequestHeader>($($arg),*);
        $check::<QueryMessageResponseHeader>($($arg),*);
        $check::<ViewMessageRequestHeader>($($arg),*);
        $check::<CreateTopicRequestHeader>($($arg),*);
        $check::<DeleteTopicRequestHeader>($($arg),*);
        $check::<GetConsumeStatsRequestHeader>($($arg),*);
        $check::<GetTopicStatsInfoRequestHeader>($($arg),*);
        $check::<GetConsumerConnectionListRequestHeader>($($arg),*);
        $check::<DeleteSubscriptionGroupRequestHeader>($($arg),*);
        $check::<QueryTopicConsumeByWhoRequestHeader>($($arg),*);
        $check::<GetRouteInfoRequestHeader>($($arg),*);
        $check::<RegisterBrokerRequestHeader>($($arg),*);
        $check::<RegisterBrokerResponseHeader>($($arg),*);
        $check::<UnregisterBrokerRequestHeader>($($arg),*);
        $check::<QueryDataVersionRequestHeader>($($arg),*);
        $check::<QueryDataVersionResponseHeader>($($arg),*);
        $check::<PutKvConfigRequestHeader>($($arg),*);
        $check::<GetKvConfigRequestHeader>($($arg),*);
        $check::<GetKvConfigResponseHeader>($($arg),*);
        $check::<DeleteKvConfigRequestHeader>($($arg),*);
        $check::<GetKvListByNamespaceRequestHeader>($($arg),*);
        $check::<WipeWritePermOfBrokerRequestHeader>($($arg),*);
        $check::<WipeWritePermOfBrokerResponseHeader>($($arg),*);
        $check::<AddWritePermOfBrokerRequestHeader>($($arg),*);
        $check::<AddWritePermOfBrokerResponseHeader>($($arg),*);
        $check::<GetTopicsByClusterRequestHeader>($($arg),*);
        $check::<DeleteTopicFromNamesrvRequestHeader>($($arg),*);
        $check::<RegisterTopicRequestHeader>($($arg),*);
        $check::<GetConsumerRunningInfoRequestHeader>($($arg),*);
        $check::<ConsumeMessageDirectlyResultRequestHeader>($($arg),*);
        $check::<ResetOffsetRequestHeader>($($arg),*);
        $check::<GetConsumerStatusRequestHeader>($($arg),*);
    }};
}

/// One random value per possible field: (present if optional, text, number, flag).
type Seed = (bool, String, i64, bool);

const SEED_LEN: usize = 20;

/// Canonical `extFields` for `H` built from `seeds`: required and primitive
/// fields always present, optional ones when the seed says so.
fn fields_for<H: HeaderFields>(seeds: &[Seed]) -> ExtFields {
    assert!(H::FIELDS.len() <= SEED_LEN, "raise SEED_LEN");
    let mut fields = ExtFields::new();
    for (spec, (present, text, number, flag)) in H::FIELDS.iter().zip(seeds) {
        if spec.presence == Presence::Optional && !present {
            continue;
        }
        let value = match spec.ty {
            FieldType::String => text.clone(),
            FieldType::Int => (*number as i32).to_string(),
            FieldType::Long => number.to_string(),
            FieldType::Bool => flag.to_string(),
        };
        fields.insert(spec.name.to_owned(), value);
    }
    fields
}

fn check_roundtrip<H>(seeds: &[Seed])
where
    H: CommandHeader + HeaderFields + PartialEq + Debug + Clone,
{
    let fields = fields_for::<H>(seeds);
    let header = H::read_ext_fields(&fields).unwrap();
    let written = to_ext_fields(&header);
    assert_eq!(written, fields, "{}", std::any::type_name::<H>());
    assert_eq!(H::read_ext_fields(&written).unwrap(), header);
    // Writing by value (the send path's `with_owned_header`) writes the same.
    let mut moved = ExtFields::new();
    header.clone().into_ext_fields(&mut moved);
    assert_eq!(moved, written, "{} by value", std::any::type_name::<H>());
    assert!(written.len() <= H::FIELD_COUNT && H::FIELD_COUNT == H::FIELDS.len());
}

proptest! {
    #[test]
    fn every_header_reads_back_what_it_wrote(
        seeds in proptest::collection::vec(any::<Seed>(), SEED_LEN)
    ) {
        for_every_header!(check_roundtrip(&seeds));
    }
}

fn full_fields<H: HeaderFields>() -> ExtFields {
    let seeds: Vec<Seed> = (0..SEED_LEN)
        .map(|i| (true, format!("v{i}"), i as i64, true))
        .collect();
    fields_for::<H>(&seeds)
}

fn check_missing<H: CommandHeader + HeaderFields + Debug>() {
    for spec in H::FIELDS {
        let mut fields = full_fields::<H>();
        fields.remove(spec.name);
        let result = H::read_ext_fields(&fields);
        match spec.presence {
            Presence::Required => {
                assert_eq!(result.unwrap_err(), HeaderError::Missing(spec.name))
            }
            Presence::Optional | Presence::Defaulted => assert!(result.is_ok()),
        }
    }
}

#[test]
fn a_missing_required_field_is_reported_by_name() {
    for_every_header!(check_missing());
}

fn check_bad_numbers<H: CommandHeader + HeaderFields + Debug>() {
    for spec in H::FIELDS {
        if !matches!(spec.ty, FieldType::Int | FieldType::Long) {
            continue;
        }
        let mut fields = full_fields::<H>();
        fields.insert(spec.name.to_owned(), "12x".to_owned());
        let result = H::read_ext_fields(&fields);
        match spec.presence {
            Presence::Required => assert!(
                matches!(result, Err(HeaderError::Invalid { field, ref value, .. })
                    if field == spec.name && value == "12x"),
                "{} {:?}",
                spec.name,
                result
            ),
            Presence::Optional | Presence::Defaulted => {
                let header = result.unwrap();
                // The junk field is dropped (None / default), so it is not
                // written back as "12x".
                let written = to_ext_fields(&header);
                assert_ne!(written.get(spec.name).map(String::as_str), Some("12x"));
            }
        }
    }
}

#[test]
fn an_unparsable_required_number_is_invalid_and_an_optional_one_is_dropped() {
    for_every_header!(check_bad_numbers());
}

#[test]
fn integers_parse_like_java() {
    let read = |value: &str| {
        let mut fields = full_fields::<QueryConsumerOffsetRequestHeader>();
        fields.insert("queueId".into(), value.into());
        QueryConsumerOffsetRequestHeader::read_ext_fields(&fields).map(|h| h.queue_id)
    };
    assert_eq!(read("7"), Ok(7));
    assert_eq!(read("+7"), Ok(7));
    assert_eq!(read("-1"), Ok(-1));
    assert_eq!(read("2147483647"), Ok(i32::MAX));
    for bad in ["", " 7", "7 ", "1.0", "0x10", "2147483648", "seven"] {
        assert!(
            matches!(
                read(bad),
                Err(HeaderError::Invalid {
                    field: "queueId",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn booleans_are_true_only_for_case_insensitive_true() {
    let read = |value: &str| {
        let mut fields = full_fields::<QueryDataVersionResponseHeader>();
        fields.insert("changed".into(), value.into());
        QueryDataVersionResponseHeader::read_ext_fields(&fields)
            .unwrap()
            .changed
    };
    assert!(read("true"));
    assert!(read("TRUE"));
    assert!(read("True"));
    assert!(!read("false"));
    assert!(!read("yes"));
    assert!(!read("1"));
    assert!(!read(""));
}

#[test]
fn primitive_booleans_default_to_false_and_are_always_written() {
    let mut fields = full_fields::<SendMessageRequestHeader>();
    fields.remove("unitMode");
    fields.remove("batch");
    let header = SendMessageRequestHeader::read_ext_fields(&fields).unwrap();
    assert!(!header.unit_mode);
    assert!(!header.batch);
    let written = to_ext_fields(&header);
    assert_eq!(written.get("unitMode").map(String::as_str), Some("false"));
    assert_eq!(written.get("batch").map(String::as_str), Some("false"));
}

fn send_header() -> impl Strategy<Value = SendMessageRequestHeader> {
    (
        (".{0,12}", ".{0,12}", ".{0,12}", any::<i32>(), any::<i32>()),
        (
            any::<i32>(),
            any::<i64>(),
            any::<i32>(),
            proptest::option::of(".{0,40}"),
        ),
        (
            proptest::option::of(any::<i32>()),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(any::<i32>()),
            proptest::option::of("[a-z-]{1,12}"),
        ),
    )
        .prop_map(
            |((pg, topic, dt, dtqn, qid), (sf, born, flag, props), (rt, um, batch, mrt, bname))| {
                SendMessageRequestHeader {
                    producer_group: pg,
                    topic,
                    default_topic: dt,
                    default_topic_queue_nums: dtqn,
                    queue_id: qid,
                    sys_flag: sf,
                    born_timestamp: born,
                    flag,
                    properties: props,
                    reconsume_times: rt,
                    unit_mode: um,
                    batch,
                    max_reconsume_times: mrt,
                    bname,
                }
            },
        )
}

proptest! {
    #[test]
    fn send_v1_survives_the_trip_through_v2_and_the_wire(v1 in send_header()) {
        let v2 = SendMessageRequestHeaderV2::from(v1.clone());
        let fields = to_ext_fields(&v2);
        prop_assert!(fields.keys().all(|k| k.len() == 1 || k == "bname"));
        let back = SendMessageRequestHeaderV2::read_ext_fields(&fields).unwrap();
        prop_assert_eq!(SendMessageRequestHeader::from(back), v1.clone());
        let long = SendMessageRequestHeader::read_ext_fields(&to_ext_fields(&v1)).unwrap();
        prop_assert_eq!(long, v1);
    }
}

#[test]
fn v2_uses_n_as_broker_name_when_bname_is_absent() {
    let mut fields = full_fields::<SendMessageRequestHeaderV2>();
    fields.remove("bname");
    fields.insert("n".into(), "broker-a".into());
    let v2 = SendMessageRequestHeaderV2::read_ext_fields(&fields).unwrap();
    assert_eq!(
        SendMessageRequestHeader::from(v2).bname.as_deref(),
        Some("broker-a")
    );
}

#[test]
fn pull_sys_flag_builds_and_reads_bits() {
    let flag = PullSysFlag::build(true, true, false);
    assert_eq!(flag.0, 3);
    assert!(flag.has_commit_offset() && flag.has_suspend());
    assert!(!flag.has_subscription() && !flag.is_lite_pull());
    assert_eq!(flag.without_commit_offset().0, 2);
    assert!(PullSysFlag(22).is_lite_pull());
}

#[test]
fn field_specs_match_the_java_names() {
    let names: Vec<&str> = PullMessageRequestHeader::FIELDS
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(
        names,
        [
            "consumerGroup",
            "topic",
            "queueId",
            "queueOffset",
            "maxMsgNums",
            "sysFlag",
            "commitOffset",
            "suspendTimeoutMillis",
            "subscription",
            "subVersion",
            "expressionType",
            "maxMsgBytes",
            "bname"
        ]
    );
    let unit_mode = SendMessageRequestHeader::FIELDS
        .iter()
        .find(|f| f.name == "unitMode")
        .unwrap();
    assert_eq!(unit_mode.presence, Presence::Defaulted);
    assert_eq!(unit_mode.ty, FieldType::Bool);
}
