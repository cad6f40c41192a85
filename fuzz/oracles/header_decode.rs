// The oracle of the `header_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/header_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/header_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use std::fmt::Debug;

use ringmq_net::body::throttle::{
    ThrottleClearBody, ThrottleClearedBody, ThrottleEntry, ThrottleFile, ThrottleListBody,
    ThrottleRuleData,
};
use ringmq_net::body::{self, fastjson, *};
use ringmq_net::compress::zlib_compress;
use ringmq_net::header::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Most `extFields` entries built from one input.
const FUZZ_FIELDS_MAX: usize = 64;

type Decoder = fn(&[u8]);

/// Every header of `ringmq_net::header`.
const HEADERS: &[Decoder] = &[
    header::<CreateTopicRequestHeader>,
    header::<DeleteTopicRequestHeader>,
    header::<GetConsumeStatsRequestHeader>,
    header::<GetTopicStatsInfoRequestHeader>,
    header::<GetConsumerConnectionListRequestHeader>,
    header::<DeleteSubscriptionGroupRequestHeader>,
    header::<QueryTopicConsumeByWhoRequestHeader>,
    header::<UnregisterClientRequestHeader>,
    header::<GetConsumerListByGroupRequestHeader>,
    header::<NotifyConsumerIdsChangedRequestHeader>,
    header::<ConsumerSendMsgBackRequestHeader>,
    header::<GetConsumerRunningInfoRequestHeader>,
    header::<ConsumeMessageDirectlyResultRequestHeader>,
    header::<ResetOffsetRequestHeader>,
    header::<GetConsumerStatusRequestHeader>,
    header::<GetRouteInfoRequestHeader>,
    header::<RegisterBrokerRequestHeader>,
    header::<RegisterBrokerResponseHeader>,
    header::<UnregisterBrokerRequestHeader>,
    header::<QueryDataVersionRequestHeader>,
    header::<QueryDataVersionResponseHeader>,
    header::<PutKvConfigRequestHeader>,
    header::<GetKvConfigRequestHeader>,
    header::<GetKvConfigResponseHeader>,
    header::<DeleteKvConfigRequestHeader>,
    header::<GetKvListByNamespaceRequestHeader>,
    header::<WipeWritePermOfBrokerRequestHeader>,
    header::<WipeWritePermOfBrokerResponseHeader>,
    header::<AddWritePermOfBrokerRequestHeader>,
    header::<AddWritePermOfBrokerResponseHeader>,
    header::<GetTopicsByClusterRequestHeader>,
    header::<DeleteTopicFromNamesrvRequestHeader>,
    header::<RegisterTopicRequestHeader>,
    header::<QueryConsumerOffsetRequestHeader>,
    header::<QueryConsumerOffsetResponseHeader>,
    header::<UpdateConsumerOffsetRequestHeader>,
    header::<GetMaxOffsetRequestHeader>,
    header::<GetMaxOffsetResponseHeader>,
    header::<GetMinOffsetRequestHeader>,
    header::<GetMinOffsetResponseHeader>,
    header::<SearchOffsetRequestHeader>,
    header::<SearchOffsetResponseHeader>,
    header::<GetEarliestMsgStoretimeRequestHeader>,
    header::<GetEarliestMsgStoretimeResponseHeader>,
    header::<GetProducerConnectionListRequestHeader>,
    header::<GetBrokerConfigResponseHeader>,
    header::<QueryConsumeTimeSpanRequestHeader>,
    header::<PopMessageRequestHeader>,
    header::<PopMessageResponseHeader>,
    header::<PeekMessageRequestHeader>,
    header::<AckMessageRequestHeader>,
    header::<ChangeInvisibleTimeRequestHeader>,
    header::<ChangeInvisibleTimeResponseHeader>,
    header::<NotificationRequestHeader>,
    header::<NotificationResponseHeader>,
    header::<PullMessageRequestHeader>,
    header::<PullMessageResponseHeader>,
    header::<QueryMessageRequestHeader>,
    header::<QueryMessageResponseHeader>,
    header::<ViewMessageRequestHeader>,
    header::<SendMessageRequestHeader>,
    header::<SendMessageRequestHeaderV2>,
    header::<SendMessageResponseHeader>,
    header::<ViewBrokerStatsDataRequestHeader>,
    header::<GetConsumeStatsInBrokerHeader>,
    header::<EndTransactionRequestHeader>,
    header::<CheckTransactionStateRequestHeader>,
];

/// Every JSON body of `ringmq_net::body`, the nested ones too (a client
/// may send any of them where a list of them is expected).
const BODIES: &[Decoder] = &[
    json::<ClusterInfo>,
    json::<TopicList>,
    json::<KvTable>,
    json::<GroupList>,
    json::<SubscriptionGroupConfig>,
    json::<OffsetWrapper>,
    json::<ConsumeStats>,
    json::<TopicOffset>,
    json::<TopicStatsTable>,
    json::<Connection>,
    json::<ConsumerConnection>,
    json::<ProducerConnection>,
    json::<ConsumerListByGroupResponseBody>,
    json::<ResetOffsetBody>,
    json::<OffsetSerializeWrapper>,
    json::<GetConsumerStatusBody>,
    json::<ConsumerRunningInfo>,
    json::<ConsumeMessageDirectlyResult>,
    json::<HeartbeatData>,
    json::<ProducerData>,
    json::<ConsumerData>,
    json::<SubscriptionData>,
    json::<CheckClientRequestBody>,
    json::<QueueTimeSpan>,
    json::<QueryConsumeTimeSpanBody>,
    json::<MessageQueue>,
    json::<LockBatchRequestBody>,
    json::<LockBatchResponseBody>,
    json::<UnlockBatchRequestBody>,
    json::<DataVersion>,
    json::<TopicConfig>,
    json::<TopicConfigSerializeWrapper>,
    json::<RegisterBrokerBody>,
    json::<TopicRouteData>,
    json::<QueueData>,
    json::<BrokerData>,
    json::<BrokerStatsItem>,
    json::<BrokerStatsData>,
    json::<ConsumeStatsList>,
    throttle_rule,
    json::<ThrottleEntry>,
    json::<ThrottleListBody>,
    throttle_clear,
    json::<ThrottleClearedBody>,
    json::<ThrottleFile>,
];

/// The decoders that are neither a header nor a JSON body.
const EXTRAS: &[Decoder] = &[
    extra_info,
    topic_config_text,
    register_body_compressed,
    send_header_versions,
    normalize,
];

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let total = HEADERS.len() + BODIES.len() + EXTRAS.len();
    let index = usize::from(selector) % total;
    let decoder = HEADERS
        .iter()
        .chain(BODIES)
        .chain(EXTRAS)
        .nth(index)
        .copied();
    if let Some(decode) = decoder {
        decode(rest);
    }
}

fn ext_fields<H: HeaderFields>(data: &[u8]) -> ExtFields {
    let mut parts = data.split(|&b| b == 0);
    let mut fields = ExtFields::new();
    while let (Some(key), Some(value)) = (parts.next(), parts.next()) {
        if fields.len() >= FUZZ_FIELDS_MAX {
            break;
        }
        let name = match key {
            [index] if *index < 0x20 => H::FIELDS
                .get(usize::from(*index))
                .map(|spec| spec.name.to_owned()),
            _ => None,
        }
        .unwrap_or_else(|| String::from_utf8_lossy(key).into_owned());
        fields.insert(name, String::from_utf8_lossy(value).into_owned());
    }
    fields
}

fn header<H: CommandHeader + HeaderFields + PartialEq + Debug>(data: &[u8]) {
    let fields = ext_fields::<H>(data);
    if let Ok(header) = H::read_ext_fields(&fields) {
        let written = to_ext_fields(&header);
        assert_eq!(H::read_ext_fields(&written).as_ref(), Ok(&header));
    }
}

fn json<T: Serialize + DeserializeOwned + PartialEq + Debug>(data: &[u8]) {
    let _ = round_trip::<T>(data);
}

/// Decodes `data` as `T`; if that works, re-encodes (fastjson's form) and
/// checks that it decodes to the same value; standard JSON must not panic.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(data: &[u8]) -> Option<T> {
    let value = body::decode_json::<T>(data).ok()?;
    let encoded = match body::encode_json(&value) {
        Ok(encoded) => encoded,
        Err(err) => panic!("a decoded body must encode: {err}"),
    };
    assert_eq!(body::decode_json::<T>(&encoded).as_ref(), Ok(&value));
    if let Ok(standard) = body::encode_standard_json(&value) {
        let _ = body::decode_json::<T>(&standard);
    }
    Some(value)
}

fn throttle_rule(data: &[u8]) {
    if let Some(rule) = round_trip::<ThrottleRuleData>(data) {
        let _ = rule.validate();
    }
}

fn throttle_clear(data: &[u8]) {
    if let Some(clear) = round_trip::<ThrottleClearBody>(data) {
        let _ = clear.validate();
        let _ = clear.matches(&ThrottleRuleData::default());
    }
}

/// The POP receipt (`extraInfo`): parse -> render -> parse is the identity.
fn extra_info(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(info) = ExtraInfo::parse(&text) {
        let _ = info.is_order();
        assert_eq!(ExtraInfo::parse(&info.render()), Ok(info));
    }
}

/// `TopicConfig.decode` text (the compressed registration's entries).
fn topic_config_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(config) = TopicConfig::decode(&text) {
        assert_eq!(TopicConfig::decode(&config.encode()), Some(config));
    }
}

/// The compressed REGISTER_BROKER body: the input is deflated first so that
/// the fuzzer reaches the chunk parser behind the zlib layer; the raw input
/// is also tried as compressed bytes.
fn register_body_compressed(data: &[u8]) {
    let _ = RegisterBrokerBody::decode(data, true);
    let Ok(deflated) = zlib_compress(data) else {
        return;
    };
    if let Ok(body) = RegisterBrokerBody::decode(&deflated, true) {
        let encoded = match body.encode(true) {
            Ok(encoded) => encoded,
            Err(err) => panic!("a decoded registration must encode: {err}"),
        };
        assert_eq!(RegisterBrokerBody::decode(&encoded, true), Ok(body));
    }
}

/// SEND_MESSAGE's two header forms: V1 -> V2 -> V1 loses nothing.
fn send_header_versions(data: &[u8]) {
    let fields = ext_fields::<SendMessageRequestHeader>(data);
    if let Ok(v1) = SendMessageRequestHeader::read_ext_fields(&fields) {
        let v2 = SendMessageRequestHeaderV2::from(v1.clone());
        assert_eq!(SendMessageRequestHeader::from(v2), v1);
    }
}

/// The fastjson normalizer on its own (it also runs inside every body
/// decode whose strict parse fails).
fn normalize(data: &[u8]) {
    let _ = fastjson::normalize(data);
}
