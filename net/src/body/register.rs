//! The REGISTER_BROKER (103) body and the topic configuration it carries:
//! [`RegisterBrokerBody`], [`TopicConfigSerializeWrapper`], [`DataVersion`],
//! [`TopicConfig`] (spec §2.9). Also GET_ALL_TOPIC_CONFIG's reply.
//!
//! Uncompressed, the body is JSON. With the header's `compressed=true` it
//! is a zlib stream (Java `DeflaterOutputStream`, best compression) holding,
//! all integers big-endian i32:
//!
//! ```text
//! +-----+----------------------+-------+--------------------------------+-----+------------------+
//! | len | DataVersion JSON     | count | count x (len | TopicConfig     | len | filterServerList |
//! | i32 | len bytes            | i32   |       i32    | .encode() text) | i32 | JSON array       |
//! +-----+----------------------+-------+--------------------------------+-----+------------------+
//! ```
//!
//! where `TopicConfig.encode()` is `"<name> <read> <write> <perm> <filterType>"`
//! (so `order` and `topicSysFlag` do not survive compression).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde::{Deserialize, Serialize};

use super::{BodyError, decode_json, encode_json};

/// Largest inflated size of a compressed register body we accept.
pub const REGISTER_BODY_INFLATED_MAX: usize = 64 * 1024 * 1024;

/// Default queue count of a new topic (`TopicConfig` defaults).
pub const DEFAULT_QUEUE_NUMS: i32 = 16;
use super::route::PERM_READ_WRITE;

/// `DataVersion`: a broker's topic-config version, bumped on every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    /// `counter`: incremented on every change.
    pub counter: i64,
    /// `timestamp`: ms of the last change.
    pub timestamp: i64,
}

impl DataVersion {
    /// The next version: counter + 1, stamped `now_ms`.
    pub fn next(self, now_ms: i64) -> Self {
        Self {
            counter: self.counter.wrapping_add(1),
            timestamp: now_ms,
        }
    }
}

/// `TopicFilterType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopicFilterType {
    /// One tag per message (the default).
    #[default]
    SingleTag,
    /// Several tags per message (unused).
    MultiTag,
}

impl TopicFilterType {
    /// The Java name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleTag => "SINGLE_TAG",
            Self::MultiTag => "MULTI_TAG",
        }
    }

    /// Parses the Java name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "SINGLE_TAG" => Some(Self::SingleTag),
            "MULTI_TAG" => Some(Self::MultiTag),
            _ => None,
        }
    }
}

/// `TopicConfig`: one topic as a broker stores and registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// `order`: an ordered topic.
    pub order: bool,
    /// `perm`: `PermName` bits.
    pub perm: i32,
    /// `readQueueNums`.
    pub read_queue_nums: i32,
    /// `topicFilterType`.
    pub topic_filter_type: TopicFilterType,
    /// `topicName`.
    pub topic_name: String,
    /// `topicSysFlag`.
    pub topic_sys_flag: i32,
    /// `writeQueueNums`.
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            order: false,
            perm: PERM_READ_WRITE,
            read_queue_nums: DEFAULT_QUEUE_NUMS,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: DEFAULT_QUEUE_NUMS,
        }
    }
}

impl TopicConfig {
    /// A topic with `queue_nums` read and write queues and read/write perm.
    pub fn new(topic_name: impl Into<String>, queue_nums: i32) -> Self {
        Self {
            topic_name: topic_name.into(),
            read_queue_nums: queue_nums,
            write_queue_nums: queue_nums,
            ..Self::default()
        }
    }

    /// Java `TopicConfig.encode()`: `"<name> <read> <write> <perm> <filterType>"`.
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type.as_str()
        )
    }

    /// Java `TopicConfig.decode()`: the inverse of [`Self::encode`]; other
    /// fields keep their defaults. `None` if the text is not five
    /// space-separated parts (a sixth part, 5.x attributes, is ignored).
    pub fn decode(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split(' ').collect();
        let [name, read, write, perm, filter, ..] = parts.as_slice() else {
            return None;
        };
        if parts.len() > 6 {
            return None;
        }
        Some(Self {
            topic_name: (*name).to_owned(),
            read_queue_nums: read.parse().ok()?,
            write_queue_nums: write.parse().ok()?,
            perm: perm.parse().ok()?,
            topic_filter_type: TopicFilterType::parse(filter)?,
            ..Self::default()
        })
    }
}

/// `TopicConfigSerializeWrapper`: all topics of a broker and their version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// `dataVersion`.
    pub data_version: DataVersion,
    /// `topicConfigTable`: topic name -> config.
    pub topic_config_table: BTreeMap<String, TopicConfig>,
}

/// `RegisterBrokerBody`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    /// `filterServerList` (obsolete filter servers).
    pub filter_server_list: Vec<String>,
    /// `topicConfigSerializeWrapper`.
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl RegisterBrokerBody {
    /// Encodes the body as JSON, or in the compressed form of the module doc.
    pub fn encode(&self, compressed: bool) -> Result<Vec<u8>, BodyError> {
        if !compressed {
            return encode_json(self);
        }
        let mut plain = Vec::new();
        let wrapper = &self.topic_config_serialize_wrapper;
        put_chunk(&mut plain, &encode_json(&wrapper.data_version)?)?;
        put_len(&mut plain, wrapper.topic_config_table.len())?;
        for config in wrapper.topic_config_table.values() {
            put_chunk(&mut plain, config.encode().as_bytes())?;
        }
        put_chunk(&mut plain, &encode_json(&self.filter_server_list)?)?;
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder
            .write_all(&plain)
            .map_err(|_| BodyError::Compressed("deflate failed"))?;
        encoder
            .finish()
            .map_err(|_| BodyError::Compressed("deflate failed"))
    }

    /// Decodes the body as JSON, or from the compressed form.
    pub fn decode(bytes: &[u8], compressed: bool) -> Result<Self, BodyError> {
        if !compressed {
            return decode_json(bytes);
        }
        let plain = inflate(bytes)?;
        let mut cursor = Chunks { rest: &plain };
        let data_version: DataVersion = decode_json(cursor.chunk()?)?;
        let count = cursor.int()?;
        let mut topic_config_table = BTreeMap::new();
        for _ in 0..count {
            let text = std::str::from_utf8(cursor.chunk()?)
                .map_err(|_| BodyError::Compressed("a topic config is not UTF-8"))?;
            let config = TopicConfig::decode(text)
                .ok_or(BodyError::Compressed("a topic config does not parse"))?;
            topic_config_table.insert(config.topic_name.clone(), config);
        }
        let filter_server_list: Vec<String> = decode_json(cursor.chunk()?)?;
        Ok(Self {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                topic_config_table,
            },
        })
    }
}

/// Java `UtilAll.crc32`: CRC32 masked to a non-negative int, as sent in
/// `bodyCrc32`.
pub fn masked_crc32(bytes: &[u8]) -> i32 {
    (crc32fast::hash(bytes) & 0x7FFF_FFFF) as i32
}

fn inflate(bytes: &[u8]) -> Result<Vec<u8>, BodyError> {
    let mut plain = Vec::new();
    let limit = REGISTER_BODY_INFLATED_MAX as u64 + 1;
    ZlibDecoder::new(bytes)
        .take(limit)
        .read_to_end(&mut plain)
        .map_err(|_| BodyError::Compressed("not a valid zlib stream"))?;
    if plain.len() > REGISTER_BODY_INFLATED_MAX {
        return Err(BodyError::Compressed("inflates beyond the size limit"));
    }
    Ok(plain)
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<(), BodyError> {
    let len = i32::try_from(len).map_err(|_| BodyError::Compressed("a length exceeds i32"))?;
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn put_chunk(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), BodyError> {
    put_len(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// Reads big-endian i32s and length-prefixed chunks from inflated bytes.
struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Chunks<'a> {
    fn int(&mut self) -> Result<usize, BodyError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<4>()
            .ok_or(BodyError::Compressed("truncated before a length"))?;
        self.rest = rest;
        usize::try_from(i32::from_be_bytes(*head))
            .map_err(|_| BodyError::Compressed("negative length or count"))
    }

    fn chunk(&mut self) -> Result<&'a [u8], BodyError> {
        let len = self.int()?;
        if len > self.rest.len() {
            return Err(BodyError::Compressed("a chunk runs past the end"));
        }
        let (chunk, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(chunk)
    }
}
