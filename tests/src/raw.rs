//! A tiny blocking RocketMQ remoting client for exact-frame tests.
//!
//! Written from RocketMQ's wire format (`docs/wire-format.md`), independently of
//! `ringmq_net`, so a test that passes proves the servers agree with a second
//! reading of the wire format, not only with their own codec.
//!
//! Frame (JSON header only):
//!
//! ```text
//! +-------------+------------------------+-------------+--------+
//! | length u32  | 0x00 | header len u24  | JSON header | body   |
//! +-------------+------------------------+-------------+--------+
//!   big endian    big endian              hdr bytes     rest
//! length = 4 + header len + body len (does not count itself)
//! ```

use crate::{HarnessError, HarnessResult};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Largest frame the raw client accepts: the servers' default limit (the
/// one number this client takes from `ringmq_net`; its codec is its own).
pub const FRAME_LEN_MAX: usize = ringmq_net::frame::FRAME_MAX_BYTES_DEFAULT;
/// Header `version` the raw client sends (a 4.9.x-or-later client).
pub const CLIENT_VERSION: i32 = 474;
/// Flag bit: this frame is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit: this request is one-way (no response).
pub const FLAG_ONEWAY: i32 = 2;
/// Frames of other opaques skipped while waiting for one response.
const UNRELATED_FRAMES_MAX: usize = 1024;

/// Request codes the tests use.
pub mod code {
    /// SEND_MESSAGE.
    pub const SEND_MESSAGE: i32 = 10;
    /// PULL_MESSAGE.
    pub const PULL_MESSAGE: i32 = 11;
    /// QUERY_CONSUMER_OFFSET.
    pub const QUERY_CONSUMER_OFFSET: i32 = 14;
    /// UPDATE_CONSUMER_OFFSET.
    pub const UPDATE_CONSUMER_OFFSET: i32 = 15;
    /// UPDATE_AND_CREATE_TOPIC.
    pub const UPDATE_AND_CREATE_TOPIC: i32 = 17;
    /// GET_MAX_OFFSET.
    pub const GET_MAX_OFFSET: i32 = 30;
    /// HEART_BEAT.
    pub const HEART_BEAT: i32 = 34;
    /// GET_ROUTEINFO_BY_TOPIC.
    pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
    /// GET_BROKER_CLUSTER_INFO.
    pub const GET_BROKER_CLUSTER_INFO: i32 = 106;
    /// Response SUCCESS.
    pub const SUCCESS: i32 = 0;
    /// Response PULL_NOT_FOUND.
    pub const PULL_NOT_FOUND: i32 = 19;
}

/// One remoting command as seen on the wire (JSON header).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemotingFrame {
    /// Request code, or response code for responses.
    pub code: i32,
    /// Header `flag` (bit 0 response, bit 1 one-way).
    pub flag: i32,
    /// Request id, copied into the response.
    pub opaque: i32,
    /// Header `version`.
    pub version: i32,
    /// Header `language` as sent (a name like `"RUST"`, or a number).
    pub language: String,
    /// Header `remark`.
    pub remark: Option<String>,
    /// Header `extFields`, all values strings.
    pub ext_fields: BTreeMap<String, String>,
    /// Body bytes (empty when absent).
    pub body: Vec<u8>,
}

impl RemotingFrame {
    /// A request with the given code and fields, no body.
    pub fn request(code: i32, fields: &[(&str, String)]) -> Self {
        Self {
            code,
            version: CLIENT_VERSION,
            language: "RUST".into(),
            ext_fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
            ..Self::default()
        }
    }

    /// Whether the response flag is set.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// An extField parsed as `i64`.
    pub fn field_i64(&self, name: &str) -> HarnessResult<i64> {
        let text = self.ext_fields.get(name).ok_or_else(|| {
            HarnessError::BadFrame(format!("field {name} missing in {}", self.describe()))
        })?;
        text.parse()
            .map_err(|_| HarnessError::BadFrame(format!("field {name}={text} is not a number")))
    }

    /// One line for assertion messages: code, remark and fields.
    pub fn describe(&self) -> String {
        format!(
            "code={} flag={} opaque={} remark={:?} fields={:?} body={}B",
            self.code,
            self.flag,
            self.opaque,
            self.remark,
            self.ext_fields,
            self.body.len()
        )
    }

    /// The whole frame, length prefix included.
    pub fn encode(&self) -> HarnessResult<Vec<u8>> {
        let mut header = Map::new();
        header.insert("code".into(), Value::from(self.code));
        header.insert("flag".into(), Value::from(self.flag));
        header.insert("language".into(), Value::from(self.language.clone()));
        header.insert("opaque".into(), Value::from(self.opaque));
        header.insert("serializeTypeCurrentRPC".into(), Value::from("JSON"));
        header.insert("version".into(), Value::from(self.version));
        if let Some(remark) = &self.remark {
            header.insert("remark".into(), Value::from(remark.clone()));
        }
        let fields: Map<String, Value> = self
            .ext_fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        header.insert("extFields".into(), Value::Object(fields));
        let header = serde_json::to_vec(&Value::Object(header))
            .map_err(|e| HarnessError::BadFrame(format!("encoding header: {e}")))?;
        let total = 4 + header.len() + self.body.len();
        let length =
            u32::try_from(total).map_err(|_| HarnessError::BadFrame("frame too large".into()))?;
        let header_len = u32::try_from(header.len())
            .map_err(|_| HarnessError::BadFrame("header too large".into()))?;
        let mut out = Vec::with_capacity(total + 4);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&(header_len & 0x00FF_FFFF).to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.body);
        Ok(out)
    }

    /// Decodes a frame without its 4-byte length prefix.
    pub fn decode(frame: &[u8]) -> HarnessResult<Self> {
        let word: [u8; 4] = frame
            .get(..4)
            .and_then(|w| w.try_into().ok())
            .ok_or_else(|| HarnessError::BadFrame("frame shorter than 4 bytes".into()))?;
        let word = u32::from_be_bytes(word);
        if word >> 24 != 0 {
            return Err(HarnessError::BadFrame(format!(
                "serialize type {} (only JSON is supported here)",
                word >> 24
            )));
        }
        let header_len = usize::try_from(word & 0x00FF_FFFF)
            .map_err(|_| HarnessError::BadFrame("header length".into()))?;
        let header = frame
            .get(4..4 + header_len)
            .ok_or_else(|| HarnessError::BadFrame("header longer than frame".into()))?;
        let body = frame.get(4 + header_len..).unwrap_or_default().to_vec();
        let value: Value = serde_json::from_slice(header)
            .map_err(|e| HarnessError::BadFrame(format!("header JSON: {e}")))?;
        Ok(Self {
            code: int_field(&value, "code")?,
            flag: int_field(&value, "flag").unwrap_or(0),
            opaque: int_field(&value, "opaque")?,
            version: int_field(&value, "version").unwrap_or(0),
            language: match value.get("language") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            },
            remark: value
                .get("remark")
                .and_then(Value::as_str)
                .map(str::to_string),
            ext_fields: ext_fields(&value)?,
            body,
        })
    }
}

fn int_field(value: &Value, name: &str) -> HarnessResult<i32> {
    value
        .get(name)
        .and_then(Value::as_i64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| HarnessError::BadFrame(format!("header field {name} missing or not an int")))
}

fn ext_fields(value: &Value) -> HarnessResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    match value.get("extFields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.insert(k.clone(), text);
            }
        }
        Some(other) => {
            return Err(HarnessError::BadFrame(format!(
                "extFields is not an object: {other}"
            )));
        }
    }
    Ok(out)
}

/// A blocking connection to a nameserver or broker.
pub struct RawConnection {
    stream: TcpStream,
    next_opaque: i32,
}

/// What a broker answered to a SEND_MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAck {
    /// Queue the message went to.
    pub queue_id: i32,
    /// Its logical offset in that queue.
    pub queue_offset: i64,
    /// The offset message id.
    pub msg_id: String,
}

impl RawConnection {
    /// Connects to `addr` (`host:port`).
    pub fn connect(addr: &str) -> HarnessResult<Self> {
        let stream = TcpStream::connect(addr)
            .map_err(|e| HarnessError::io(format!("connecting {addr}"), e))?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            next_opaque: 1,
        })
    }

    /// Writes a frame as is.
    pub fn write_frame(&mut self, frame: &RemotingFrame) -> HarnessResult<()> {
        let bytes = frame.encode()?;
        self.stream
            .write_all(&bytes)
            .map_err(|e| HarnessError::io("writing a frame", e))
    }

    /// Assigns the next opaque to `frame`, writes it and returns the opaque.
    pub fn send_request(&mut self, mut frame: RemotingFrame) -> HarnessResult<i32> {
        let opaque = self.next_opaque;
        self.next_opaque = self.next_opaque.wrapping_add(1);
        frame.opaque = opaque;
        self.write_frame(&frame)?;
        Ok(opaque)
    }

    /// Reads one frame, waiting at most `timeout`.
    pub fn read_frame(&mut self, timeout: Duration) -> HarnessResult<RemotingFrame> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .map_err(|e| HarnessError::io("setting a read timeout", e))?;
        let mut prefix = [0u8; 4];
        self.stream
            .read_exact(&mut prefix)
            .map_err(|e| HarnessError::io("reading a frame length", e))?;
        let len = usize::try_from(u32::from_be_bytes(prefix))
            .map_err(|_| HarnessError::BadFrame("length".into()))?;
        if !(4..=FRAME_LEN_MAX).contains(&len) {
            return Err(HarnessError::BadFrame(format!("frame length {len}")));
        }
        let mut frame = vec![0u8; len];
        self.stream
            .read_exact(&mut frame)
            .map_err(|e| HarnessError::io("reading a frame", e))?;
        RemotingFrame::decode(&frame)
    }

    /// Waits (bounded) for the response carrying `opaque`, skipping others.
    pub fn read_response(
        &mut self,
        opaque: i32,
        timeout: Duration,
    ) -> HarnessResult<RemotingFrame> {
        let deadline = Instant::now() + timeout;
        for _ in 0..UNRELATED_FRAMES_MAX {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let frame = self.read_frame(left)?;
            if frame.is_response() && frame.opaque == opaque {
                return Ok(frame);
            }
        }
        Err(HarnessError::Failed(format!(
            "no response with opaque {opaque} within {timeout:?}"
        )))
    }

    /// Sends a request and waits for its response.
    pub fn call(
        &mut self,
        frame: RemotingFrame,
        timeout: Duration,
    ) -> HarnessResult<RemotingFrame> {
        let opaque = self.send_request(frame)?;
        self.read_response(opaque, timeout)
    }

    /// SEND_MESSAGE (code 10) of one message to `topic`/`queue_id`, with
    /// `WAIT=true`, the tag and user properties; returns the ack or an error
    /// describing a non-SUCCESS response.
    pub fn send_message(
        &mut self,
        request: &SendRequest<'_>,
        timeout: Duration,
    ) -> HarnessResult<SendAck> {
        let frame = send_message_frame(request);
        let response = self.call(frame, timeout)?;
        if response.code != code::SUCCESS {
            return Err(HarnessError::Failed(format!(
                "SEND_MESSAGE to {}/{} refused: {}",
                request.topic,
                request.queue_id,
                response.describe()
            )));
        }
        Ok(SendAck {
            queue_id: i32::try_from(response.field_i64("queueId")?)
                .map_err(|_| HarnessError::BadFrame("queueId".into()))?,
            queue_offset: response.field_i64("queueOffset")?,
            msg_id: response
                .ext_fields
                .get("msgId")
                .cloned()
                .unwrap_or_default(),
        })
    }
}

impl RawConnection {
    /// Reads a whole queue from `from_offset` to its end with plain pulls
    /// (no suspend), at most [`PULLS_PER_QUEUE_MAX`] pulls; returns the
    /// decoded records in order.
    pub fn pull_queue_to_end(
        &mut self,
        group: &str,
        topic: &str,
        queue_id: i32,
        from_offset: i64,
        timeout: Duration,
    ) -> HarnessResult<Vec<crate::stored::StoredMessage>> {
        let mut out = Vec::new();
        let mut offset = from_offset;
        for _ in 0..PULLS_PER_QUEUE_MAX {
            let request = PullRequest {
                group,
                topic,
                queue_id,
                queue_offset: offset,
                max_msg_nums: 32,
                suspend_ms: None,
            };
            let response = self.call(pull_message_frame(&request), timeout)?;
            match response.code {
                code::SUCCESS => {
                    let records = crate::stored::decode_records(&response.body)?;
                    let next = response.field_i64("nextBeginOffset")?;
                    if next <= offset || records.is_empty() {
                        return Err(HarnessError::Failed(format!(
                            "pull of {topic}/{queue_id}@{offset} made no progress: {}",
                            response.describe()
                        )));
                    }
                    out.extend(records);
                    offset = next;
                }
                code::PULL_NOT_FOUND => return Ok(out),
                _ => {
                    return Err(HarnessError::Failed(format!(
                        "pull of {topic}/{queue_id}@{offset}: {}",
                        response.describe()
                    )));
                }
            }
        }
        Err(HarnessError::Failed(format!(
            "{topic}/{queue_id} not read to its end in {PULLS_PER_QUEUE_MAX} pulls"
        )))
    }
}

/// Most pulls [`RawConnection::pull_queue_to_end`] makes for one queue.
pub const PULLS_PER_QUEUE_MAX: usize = 10_000;

/// What to send with [`RawConnection::send_message`].
#[derive(Debug, Clone)]
pub struct SendRequest<'a> {
    /// Producer group.
    pub group: &'a str,
    /// Topic (auto-created through `TBW102` if unknown).
    pub topic: &'a str,
    /// Target queue.
    pub queue_id: i32,
    /// Message body.
    pub body: &'a [u8],
    /// Tag (`TAGS` property), if any.
    pub tag: Option<&'a str>,
    /// User properties.
    pub properties: &'a [(&'a str, &'a str)],
}

/// The SEND_MESSAGE frame for a request (long field names, as the
/// independent client sends by default).
pub fn send_message_frame(request: &SendRequest<'_>) -> RemotingFrame {
    let mut props = vec![("WAIT", "true")];
    if let Some(tag) = request.tag {
        props.push(("TAGS", tag));
    }
    props.extend_from_slice(request.properties);
    let mut frame = RemotingFrame::request(
        code::SEND_MESSAGE,
        &[
            ("producerGroup", request.group.to_string()),
            ("topic", request.topic.to_string()),
            ("defaultTopic", "TBW102".to_string()),
            ("defaultTopicQueueNums", "4".to_string()),
            ("queueId", request.queue_id.to_string()),
            ("sysFlag", "0".to_string()),
            ("bornTimestamp", crate::now_millis().to_string()),
            ("flag", "0".to_string()),
            ("properties", encode_properties(&props)),
            ("reconsumeTimes", "0".to_string()),
            ("unitMode", "false".to_string()),
            ("batch", "false".to_string()),
        ],
    );
    frame.body = request.body.to_vec();
    frame
}

/// What to pull with [`pull_message_frame`].
#[derive(Debug, Clone)]
pub struct PullRequest<'a> {
    /// Consumer group.
    pub group: &'a str,
    /// Topic.
    pub topic: &'a str,
    /// Queue.
    pub queue_id: i32,
    /// First logical offset wanted.
    pub queue_offset: i64,
    /// Most messages wanted.
    pub max_msg_nums: u32,
    /// Long-poll hold time; `None` means no suspend flag.
    pub suspend_ms: Option<u64>,
}

/// A PULL_MESSAGE frame with its own subscription (`*`, sysFlag bit 2) so no
/// heartbeat is needed; bit 1 (suspend) when `suspend_ms` is set.
pub fn pull_message_frame(request: &PullRequest<'_>) -> RemotingFrame {
    const FLAG_SUSPEND: u32 = 0x2;
    const FLAG_SUBSCRIPTION: u32 = 0x4;
    let sys_flag = FLAG_SUBSCRIPTION | request.suspend_ms.map_or(0, |_| FLAG_SUSPEND);
    RemotingFrame::request(
        code::PULL_MESSAGE,
        &[
            ("consumerGroup", request.group.to_string()),
            ("topic", request.topic.to_string()),
            ("queueId", request.queue_id.to_string()),
            ("queueOffset", request.queue_offset.to_string()),
            ("maxMsgNums", request.max_msg_nums.to_string()),
            ("sysFlag", sys_flag.to_string()),
            ("commitOffset", "0".to_string()),
            (
                "suspendTimeoutMillis",
                request.suspend_ms.unwrap_or(0).to_string(),
            ),
            ("subscription", "*".to_string()),
            ("subVersion", "0".to_string()),
            ("expressionType", "TAG".to_string()),
        ],
    )
}

/// The 0x01/0x02 property string: `name 0x01 value 0x02 ...`.
pub fn encode_properties(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        out.push_str(name);
        out.push('\u{1}');
        out.push_str(value);
        out.push('\u{2}');
    }
    out
}

/// Parses a 0x01/0x02 property string; pairs without a separator are skipped.
pub fn decode_properties(text: &str) -> BTreeMap<String, String> {
    text.split('\u{2}')
        .filter_map(|pair| pair.split_once('\u{1}'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips_through_encode_and_decode() {
        let mut frame = RemotingFrame::request(11, &[("topic", "T".into())]);
        frame.opaque = 7;
        frame.remark = Some("hi".into());
        frame.body = vec![1, 2, 3];
        let bytes = frame.encode().unwrap();
        assert_eq!(
            bytes.len() - 4,
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize
        );
        assert_eq!(RemotingFrame::decode(&bytes[4..]).unwrap(), frame);
    }

    #[test]
    fn captured_pull_response_fixture_decodes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/wire/consume-10-resp-code0.bin"
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("wire fixture {path}: {e}"));
        let frame = RemotingFrame::decode(&bytes[4..]).unwrap();
        assert_eq!(frame.code, 0);
        assert_eq!(frame.field_i64("nextBeginOffset").unwrap(), 32);
        let records = crate::stored::decode_records(&frame.body).unwrap();
        assert_eq!(records.len(), 32);
        assert_eq!(records[5].queue_offset, 5);
        assert_eq!(records[5].topic, "RingProduce1");
    }

    #[test]
    fn properties_round_trip() {
        let text = encode_properties(&[("TAGS", "a"), ("KEYS", "k1 k2")]);
        let map = decode_properties(&text);
        assert_eq!(map.get("KEYS").map(String::as_str), Some("k1 k2"));
        assert_eq!(map.len(), 2);
    }
}
