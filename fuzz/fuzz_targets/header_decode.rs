//! Fuzzes the typed header readers and the JSON body decoders: any
//! `extFields` map and any body bytes must decode or fail with a typed
//! error, never panic; whatever decodes must survive re-encoding unchanged.
//!
//! Input layout: the first byte picks the target; for headers the rest is
//! `key 0x00 value 0x00 key 0x00 value ...`, where a key byte below 0x20
//! names the header's field number `byte` (so real field names are hit
//! often); for bodies the rest is the body. Selectors 12-18 are the
//! broker-statistics headers and bodies and the throttle bodies (rules,
//! clears and the broker's `throttle.json`).
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use ringmq_net::body::{self, fastjson};
use ringmq_net::header::*;

/// Most `extFields` entries built from one input.
const FUZZ_FIELDS_MAX: usize = 64;

/// Decodes `$data` as `$ty`; if that works, re-encodes and checks that it
/// decodes to the same value. A macro because the fuzz crate does not
/// depend on serde for the trait bounds.
macro_rules! json {
    ($ty:ty, $data:expr) => {{
        let data: &[u8] = $data;
        let _ = fastjson::normalize(data);
        if let Ok(value) = body::decode_json::<$ty>(data) {
            let encoded = match body::encode_json(&value) {
                Ok(encoded) => encoded,
                Err(err) => panic!("a decoded body must encode: {err}"),
            };
            assert_eq!(body::decode_json::<$ty>(&encoded).as_ref(), Ok(&value));
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 19 {
        12 => header::<ViewBrokerStatsDataRequestHeader>(rest),
        13 => header::<GetConsumeStatsInBrokerHeader>(rest),
        14 => json!(body::BrokerStatsData, rest),
        15 => json!(body::ConsumeStatsList, rest),
        16 => {
            json!(body::throttle::ThrottleRuleData, rest);
            if let Ok(rule) = body::decode_json::<body::throttle::ThrottleRuleData>(rest) {
                let _ = rule.validate();
            }
        }
        17 => {
            json!(body::throttle::ThrottleClearBody, rest);
            if let Ok(clear) = body::decode_json::<body::throttle::ThrottleClearBody>(rest) {
                let _ = clear.validate();
            }
        }
        18 => json!(body::throttle::ThrottleFile, rest),
        0 => header::<SendMessageRequestHeader>(rest),
        1 => header::<SendMessageRequestHeaderV2>(rest),
        2 => header::<PullMessageRequestHeader>(rest),
        3 => header::<RegisterBrokerRequestHeader>(rest),
        4 => header::<EndTransactionRequestHeader>(rest),
        5 => header::<ConsumerSendMsgBackRequestHeader>(rest),
        6 => json!(body::HeartbeatData, rest),
        7 => json!(body::TopicRouteData, rest),
        8 => json!(body::RegisterBrokerBody, rest),
        9 => json!(body::OffsetSerializeWrapper, rest),
        10 => json!(body::LockBatchRequestBody, rest),
        _ => {
            let _ = fastjson::normalize(rest);
            let _ = body::RegisterBrokerBody::decode(rest, true);
        }
    }
});

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
