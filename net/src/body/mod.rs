//! JSON bodies of remoting commands (heartbeats, routes, broker
//! registration, queue locks, offsets, admin stats), read and written the way
//! fastjson 1.x does on the Java side.
//!
//! Decoding goes through [`decode_json`], which accepts standard JSON and
//! the three non-standard forms 4.x Java servers emit (spec §2.8, §8.4):
//!
//! - unquoted numeric map keys: `{"brokerAddrs":{0:"10.0.0.1:10911"}}`;
//! - objects as map keys: `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:12}}`;
//! - `null` for fields we model as plain values (treated as absent).
//!
//! Unknown fields are ignored and missing fields take their default
//! (`#[serde(default)]` everywhere), like fastjson.
//!
//! Encoding goes through [`encode_json`]: standard JSON with keys sorted and
//! `null` members left out, as fastjson writes beans, except that maps keyed
//! by [`MessageQueue`] are written in fastjson's object-key form so that Java
//! can read them (see [`fastjson`]).
//!
//! ```
//! use ringmq_net::body::{TopicRouteData, decode_json, encode_json};
//!
//! // What a pre-4.9.4 Java nameserver sends: a bare numeric map key.
//! let legacy = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},
//!     "brokerName":"broker-a","cluster":"DefaultCluster"}],"queueDatas":[]}"#;
//! let route: TopicRouteData = decode_json(legacy)?;
//! assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
//!
//! // What we send: standard JSON, keys sorted.
//! let bytes = encode_json(&route)?;
//! assert!(bytes.starts_with(br#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911"}"#));
//! # Ok::<(), ringmq_net::body::BodyError>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

pub mod admin;
pub mod consumer;
pub mod fastjson;
pub mod heartbeat;
pub mod ops;
pub mod queue;
pub mod register;
pub mod route;
pub mod stats;
pub mod throttle;

pub use admin::*;
pub use consumer::*;
pub use heartbeat::*;
pub use ops::*;
pub use queue::*;
pub use register::*;
pub use route::*;
pub use stats::*;

/// Why a body could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The bytes are not JSON of the expected shape, even after normalizing
    /// fastjson's quirks.
    #[error("invalid JSON body: {0}")]
    Json(String),
    /// The fastjson normalizer could not make sense of the bytes.
    #[error("malformed JSON at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset in the input.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// Nesting deeper than [`fastjson::DEPTH_MAX`].
    #[error("JSON nested deeper than {0} levels")]
    TooDeep(usize),
    /// A compressed REGISTER_BROKER body is damaged or over its limits.
    #[error("compressed register-broker body: {0}")]
    Compressed(&'static str),
    /// A value could not be written as JSON.
    #[error("cannot encode body: {0}")]
    Encode(String),
}

fn json_error(err: serde_json::Error) -> BodyError {
    BodyError::Json(err.to_string())
}

/// Decodes a JSON body of type `T`.
///
/// Tries strict `serde_json` first (the fast path for standard JSON); on
/// failure rewrites fastjson's non-standard keys with
/// [`fastjson::normalize`], drops `null` members and tries again. Never
/// panics; returns the first attempt's error if nothing works.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let first = match serde_json::from_slice::<T>(bytes) {
        Ok(value) => return Ok(value),
        Err(err) => json_error(err),
    };
    let Ok(normalized) = fastjson::normalize(bytes) else {
        return Err(first);
    };
    let Ok(mut tree) = serde_json::from_slice::<serde_json::Value>(&normalized) else {
        return Err(first);
    };
    fastjson::strip_nulls(&mut tree);
    serde_json::from_value(tree).map_err(|_| first)
}

/// Encodes `value` as fastjson would: sorted keys, no `null` members,
/// [`MessageQueue`]-keyed maps with object keys.
pub fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, BodyError> {
    let tree = serde_json::to_value(value).map_err(|err| BodyError::Encode(err.to_string()))?;
    let mut out = Vec::new();
    fastjson::write_value(&tree, &mut out);
    Ok(out)
}

/// Encodes `value` as standard JSON with sorted keys and no `null` members.
/// [`MessageQueue`]-keyed maps come out with keys that are strings holding
/// the queue's JSON, which Java cannot read: use [`encode_json`] for bodies
/// sent to Java.
pub fn encode_standard_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, BodyError> {
    let tree = serde_json::to_value(value).map_err(|err| BodyError::Encode(err.to_string()))?;
    let mut out = Vec::new();
    fastjson::write_standard_value(&tree, &mut out);
    Ok(out)
}
