//! [`RemotingCommand`], the one message type of the remoting protocol, and
//! its two header encodings: fastjson-style JSON (serialize type 0, the
//! default) and the ROCKETMQ binary header (serialize type 1).
//!
//! The frame around a command (length prefix, header-length word, body) is
//! in [`crate::frame`]; this module only turns header fields into header
//! bytes and back.
//!
//! # JSON header (serialize type 0)
//!
//! Written exactly as fastjson 1.x writes the Java object: keys sorted,
//! `extFields` and `remark` omitted when empty/absent, enums by name:
//!
//! ```text
//! {"code":105,"extFields":{"topic":"T"},"flag":0,"language":"RUST",
//!  "opaque":3,"remark":"...","serializeTypeCurrentRPC":"JSON","version":409}
//! ```
//!
//! Read leniently: any key order, `language` as a name or a number, unknown
//! keys ignored, missing `extFields` means none, `extFields` values that are
//! JSON numbers or booleans are stringified and `null` values dropped.
//!
//! # ROCKETMQ binary header (serialize type 1), big-endian
//!
//! ```text
//! offset  size  field
//!   0      2    code (i16)
//!   2      1    language code byte
//!   3      2    version (i16)
//!   5      4    opaque (i32)
//!   9      4    flag (i32)
//!  13      4    remark length R (i32, 0 = no remark)
//!  17      R    remark, UTF-8
//!  17+R    4    extFields length E (i32, 0 = none)
//!  21+R    E    entries: key length (i16), key, value length (i32), value
//! ```
//!
//! An empty remark is sent as length 0 and so reads back as `None`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::code::{self, LanguageCode};
use crate::header::{CommandHeader, ExtFields, HeaderError};

/// How a command's header is encoded (the high byte of the header-length
/// word). A reply always uses its request's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// fastjson text, the Java default.
    #[default]
    Json = 0,
    /// The compact binary header (`RocketMQSerializable`).
    RocketMq = 1,
}

impl SerializeType {
    /// The wire byte.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The serialize type of a wire byte, if it is one.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Json),
            1 => Some(Self::RocketMq),
            _ => None,
        }
    }
}

/// One request or response of the remoting protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code ([`code::request`]) or response code ([`code::response`]).
    pub code: i32,
    /// Who sent it.
    pub language: LanguageCode,
    /// The sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id; a response carries its request's.
    pub opaque: i32,
    /// [`code::FLAG_RESPONSE`] and [`code::FLAG_ONEWAY`] bits.
    pub flag: i32,
    /// Human-readable text, error detail in responses.
    pub remark: Option<String>,
    /// The custom header: field name -> stringified value.
    pub ext_fields: ExtFields,
    /// How the header is (to be) encoded.
    pub serialize_type: SerializeType,
    /// Opaque body bytes, possibly empty.
    pub body: Bytes,
}

/// Why a command header could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The JSON header is not valid JSON or has a field of the wrong kind.
    #[error("the JSON command header is malformed: {0}")]
    Json(String),
    /// The JSON header lacks the `code` field.
    #[error("the JSON command header has no `code` field")]
    MissingCode,
    /// The binary header ends inside `field`.
    #[error("the binary command header ends inside `{field}`")]
    Truncated { field: &'static str },
    /// A length in the binary header is negative.
    #[error("the binary command header has a negative length {length} for `{field}`")]
    NegativeLength { field: &'static str, length: i64 },
    /// A string in the binary header is not UTF-8.
    #[error("the binary command header has a `{field}` that is not UTF-8")]
    InvalidUtf8 { field: &'static str },
    /// Bytes are left over after the binary header's last field.
    #[error("the binary command header has {extra} bytes after its last field")]
    TrailingBytes { extra: usize },
}

impl RemotingCommand {
    /// A new request with `code`, sent by us (language RUST, our version,
    /// flag 0, opaque 0: the connection assigns the opaque).
    pub fn request(code: i32) -> Self {
        Self {
            code,
            language: LanguageCode::Rust,
            version: code::CURRENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: ExtFields::new(),
            serialize_type: SerializeType::Json,
            body: Bytes::new(),
        }
    }

    /// The response to `request` with response `code`: same opaque and
    /// serialize type, the response flag bit set, our language and version.
    pub fn response_to(request: &RemotingCommand, code: i32, remark: Option<String>) -> Self {
        Self {
            code,
            language: LanguageCode::Rust,
            version: code::CURRENT_VERSION,
            opaque: request.opaque,
            flag: code::FLAG_RESPONSE,
            remark,
            ext_fields: ExtFields::new(),
            serialize_type: request.serialize_type,
            body: Bytes::new(),
        }
    }

    /// Adds every field of `header` to `extFields` (overwriting same names).
    pub fn with_header<H: CommandHeader>(mut self, header: &H) -> Self {
        self.ext_fields.reserve(H::FIELD_COUNT);
        header.write_ext_fields(&mut self.ext_fields);
        self
    }

    /// [`with_header`](Self::with_header) by value: the header's strings
    /// are moved into `extFields`, not copied.
    pub fn with_owned_header<H: CommandHeader>(mut self, header: H) -> Self {
        self.ext_fields.reserve(H::FIELD_COUNT);
        header.into_ext_fields(&mut self.ext_fields);
        self
    }

    /// Reads a typed header from `extFields`.
    pub fn decode_header<H: CommandHeader>(&self) -> Result<H, HeaderError> {
        H::read_ext_fields(&self.ext_fields)
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the remark.
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }

    /// Sets the opaque (request id).
    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    /// Whether this is a response (flag bit 0).
    pub fn is_response(&self) -> bool {
        self.flag & code::FLAG_RESPONSE != 0
    }

    /// Whether this is a one-way request (flag bit 1): never answer it.
    pub fn is_oneway(&self) -> bool {
        self.flag & code::FLAG_ONEWAY != 0
    }

    /// Marks this request one-way.
    pub fn set_oneway(&mut self) {
        self.flag |= code::FLAG_ONEWAY;
    }

    /// Appends the header bytes (no length words) in `self.serialize_type`.
    pub(crate) fn write_header(&self, out: &mut BytesMut) -> Result<(), BinaryHeaderLimit> {
        match self.serialize_type {
            SerializeType::Json => {
                self.write_json_header(out);
                Ok(())
            }
            SerializeType::RocketMq => self.write_binary_header(out),
        }
    }

    /// Decodes header bytes of the given type; the body is attached later.
    pub(crate) fn read_header(
        serialize_type: SerializeType,
        header: &[u8],
    ) -> Result<Self, CommandError> {
        match serialize_type {
            SerializeType::Json => json::read(header),
            SerializeType::RocketMq => read_binary_header(header),
        }
    }

    fn write_json_header(&self, out: &mut BytesMut) {
        out.put_slice(b"{\"code\":");
        put_int(out, self.code);
        if !self.ext_fields.is_empty() {
            out.put_slice(b",\"extFields\":{");
            for (index, (key, value)) in self.ext_fields.iter().enumerate() {
                if index > 0 {
                    out.put_u8(b',');
                }
                json::put_str(out, key);
                out.put_u8(b':');
                json::put_str(out, value);
            }
            out.put_u8(b'}');
        }
        out.put_slice(b",\"flag\":");
        put_int(out, self.flag);
        out.put_slice(b",\"language\":\"");
        out.put_slice(self.language.name().as_bytes());
        out.put_slice(b"\",\"opaque\":");
        put_int(out, self.opaque);
        if let Some(remark) = &self.remark {
            out.put_slice(b",\"remark\":");
            json::put_str(out, remark);
        }
        out.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
        put_int(out, self.version);
        out.put_u8(b'}');
    }

    fn write_binary_header(&self, out: &mut BytesMut) -> Result<(), BinaryHeaderLimit> {
        let code = i16::try_from(self.code).map_err(|_| BinaryHeaderLimit::Code(self.code))?;
        let version =
            i16::try_from(self.version).map_err(|_| BinaryHeaderLimit::Version(self.version))?;
        out.put_i16(code);
        out.put_u8(self.language.code());
        out.put_i16(version);
        out.put_i32(self.opaque);
        out.put_i32(self.flag);
        let remark = self.remark.as_deref().unwrap_or("");
        out.put_i32(i32_len(remark.len(), "remark")?);
        out.put_slice(remark.as_bytes());
        let mut fields_len: usize = 0;
        for (key, value) in &self.ext_fields {
            i16::try_from(key.len()).map_err(|_| BinaryHeaderLimit::Field("extFields key"))?;
            fields_len = fields_len.saturating_add(2 + key.len() + 4 + value.len());
        }
        out.put_i32(i32_len(fields_len, "extFields")?);
        for (key, value) in &self.ext_fields {
            // Length checked above.
            out.put_i16(key.len() as i16);
            out.put_slice(key.as_bytes());
            out.put_i32(i32_len(value.len(), "extFields value")?);
            out.put_slice(value.as_bytes());
        }
        Ok(())
    }
}

/// Why header fields cannot be written in the binary header (the frame
/// layer turns this into its encode error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BinaryHeaderLimit {
    /// The binary header stores `code` as an i16.
    #[error("code {0} does not fit the binary header's 16 bits")]
    Code(i32),
    /// The binary header stores `version` as an i16.
    #[error("version {0} does not fit the binary header's 16 bits")]
    Version(i32),
    /// A string is longer than its length field allows.
    #[error("`{0}` is longer than its length field allows")]
    Field(&'static str),
}

fn i32_len(len: usize, field: &'static str) -> Result<i32, BinaryHeaderLimit> {
    i32::try_from(len).map_err(|_| BinaryHeaderLimit::Field(field))
}

fn put_int(out: &mut BytesMut, value: i32) {
    let mut digits = itoa_buffer();
    out.put_slice(format_decimal(value.into(), &mut digits));
}

/// Room for the longest i64 in decimal: `-9223372036854775808`.
pub(crate) const I64_DECIMAL_BYTES_MAX: usize = 20;

/// A buffer for [`format_decimal`].
pub(crate) fn itoa_buffer() -> [u8; I64_DECIMAL_BYTES_MAX] {
    [0; I64_DECIMAL_BYTES_MAX]
}

/// Formats `value` in decimal (as Java's `toString()`) into the end of
/// `buf` and returns the digits: no formatter machinery, no allocation.
pub(crate) fn format_decimal(value: i64, buf: &mut [u8; I64_DECIMAL_BYTES_MAX]) -> &[u8] {
    let mut magnitude = value.unsigned_abs();
    let mut start = buf.len();
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        start -= 1;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'-';
        }
    }
    buf.get(start..).unwrap_or_default()
}

fn length(length: i64, field: &'static str) -> Result<usize, CommandError> {
    usize::try_from(length).map_err(|_| CommandError::NegativeLength { field, length })
}

/// A bounds-checked big-endian reader over the binary header.
struct HeaderReader<'a> {
    rest: &'a [u8],
}

impl<'a> HeaderReader<'a> {
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], CommandError> {
        if self.rest.len() < len {
            return Err(CommandError::Truncated { field });
        }
        let (head, tail) = self.rest.split_at(len);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CommandError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(CommandError::Truncated { field })?;
        self.rest = tail;
        Ok(*head)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, CommandError> {
        self.array(field).map(i16::from_be_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, CommandError> {
        self.array(field).map(i32::from_be_bytes)
    }

    fn string(&mut self, len: usize, field: &'static str) -> Result<String, CommandError> {
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CommandError::InvalidUtf8 { field })
    }
}

fn read_binary_header(header: &[u8]) -> Result<RemotingCommand, CommandError> {
    let mut reader = HeaderReader { rest: header };
    let code = i32::from(reader.i16("code")?);
    let [language] = reader.array::<1>("language")?;
    let version = i32::from(reader.i16("version")?);
    let opaque = reader.i32("opaque")?;
    let flag = reader.i32("flag")?;
    let remark_len = reader.i32("remark length")?;
    let remark_len = length(remark_len.into(), "remark")?;
    let remark = match remark_len {
        0 => None,
        len => Some(reader.string(len, "remark")?),
    };
    let fields_len = reader.i32("extFields length")?;
    let fields_len = length(fields_len.into(), "extFields")?;
    let mut fields = HeaderReader {
        rest: reader.take(fields_len, "extFields")?,
    };
    let ext_fields = read_binary_ext_fields(&mut fields)?;
    if !reader.rest.is_empty() {
        return Err(CommandError::TrailingBytes {
            extra: reader.rest.len(),
        });
    }
    Ok(RemotingCommand {
        code,
        language: LanguageCode::from_code(language.into()),
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        serialize_type: SerializeType::RocketMq,
        body: Bytes::new(),
    })
}

/// Bytes of a typical binary extFields entry (a short key and value plus
/// the 6 bytes of lengths), for sizing the decoded list.
const BINARY_FIELD_BYTES_TYPICAL: usize = 10;
/// Most entries room is reserved for before decoding (more still decode).
const BINARY_FIELDS_RESERVED_MAX: usize = 32;

/// Reads entries until the extFields bytes are used up. The number of
/// entries is bounded by the bytes: each takes at least 6.
fn read_binary_ext_fields(fields: &mut HeaderReader<'_>) -> Result<ExtFields, CommandError> {
    // Room for the entries the bytes can hold (each takes at least 6, and
    // real ones over 10), capped so a hostile length reserves little.
    let room = (fields.rest.len() / BINARY_FIELD_BYTES_TYPICAL).min(BINARY_FIELDS_RESERVED_MAX);
    let mut ext_fields = Vec::with_capacity(room);
    while !fields.rest.is_empty() {
        let key_len = fields.i16("extFields key length")?;
        let key_len = length(key_len.into(), "extFields key")?;
        let key = fields.string(key_len, "extFields key")?;
        let value_len = fields.i32("extFields value length")?;
        let value_len = length(value_len.into(), "extFields value")?;
        let value = fields.string(value_len, "extFields value")?;
        ext_fields.push((key, value));
    }
    Ok(ext_fields.into_iter().collect())
}

/// The JSON header: fastjson-exact writing, lenient reading.
mod json {
    use std::fmt;

    use bytes::{BufMut, BytesMut};
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

    use super::{CommandError, RemotingCommand, SerializeType};
    use crate::code::LanguageCode;
    use crate::header::ExtFields;

    /// Writes `text` as a quoted JSON string (escapes `"`, `\` and control
    /// characters; non-ASCII stays UTF-8, as fastjson does).
    pub(super) fn put_str(out: &mut BytesMut, text: &str) {
        out.put_u8(b'"');
        let bytes = text.as_bytes();
        let mut plain_from = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            let escape: &[u8] = match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0x00..=0x1f => b"",
                _ => continue,
            };
            out.put_slice(bytes.get(plain_from..index).unwrap_or_default());
            if escape.is_empty() {
                out.put_slice(b"\\u00");
                out.put_u8(hex_digit(byte >> 4));
                out.put_u8(hex_digit(byte & 0xf));
            } else {
                out.put_slice(escape);
            }
            plain_from = index + 1;
        }
        out.put_slice(bytes.get(plain_from..).unwrap_or_default());
        out.put_u8(b'"');
    }

    fn hex_digit(nibble: u8) -> u8 {
        match nibble {
            0..=9 => b'0' + nibble,
            _ => b'a' + (nibble - 10),
        }
    }

    pub(super) fn read(header: &[u8]) -> Result<RemotingCommand, CommandError> {
        let mut deserializer = serde_json::Deserializer::from_slice(header);
        let command = deserializer
            .deserialize_map(HeaderVisitor)
            .map_err(|error| CommandError::Json(error.to_string()))?;
        deserializer
            .end()
            .map_err(|error| CommandError::Json(error.to_string()))?;
        command
    }

    struct HeaderVisitor;

    impl<'de> Visitor<'de> for HeaderVisitor {
        type Value = Result<RemotingCommand, CommandError>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a RemotingCommand JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut code = None;
            let mut command = RemotingCommand {
                code: 0,
                language: LanguageCode::Java,
                version: 0,
                opaque: 0,
                flag: 0,
                remark: None,
                ext_fields: ExtFields::new(),
                serialize_type: SerializeType::Json,
                body: bytes::Bytes::new(),
            };
            while let Some(key) = map.next_key::<Key>()? {
                match key {
                    Key::Code => code = Some(map.next_value::<LenientInt>()?.0),
                    Key::Language => command.language = map.next_value::<Language>()?.0,
                    Key::Version => command.version = map.next_value::<LenientInt>()?.0,
                    Key::Opaque => command.opaque = map.next_value::<LenientInt>()?.0,
                    Key::Flag => command.flag = map.next_value::<LenientInt>()?.0,
                    Key::Remark => command.remark = map.next_value::<LenientString>()?.0,
                    Key::ExtFields => command.ext_fields = map.next_value::<LenientFields>()?.0,
                    Key::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(match code {
                Some(code) => {
                    command.code = code;
                    Ok(command)
                }
                None => Err(CommandError::MissingCode),
            })
        }
    }

    /// A header key, recognised without allocating.
    enum Key {
        Code,
        Language,
        Version,
        Opaque,
        Flag,
        Remark,
        ExtFields,
        Other,
    }

    impl<'de> de::Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_identifier(KeyVisitor)
        }
    }

    struct KeyVisitor;

    impl Visitor<'_> for KeyVisitor {
        type Value = Key;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a header key")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Key, E> {
            Ok(match value {
                "code" => Key::Code,
                "language" => Key::Language,
                "version" => Key::Version,
                "opaque" => Key::Opaque,
                "flag" => Key::Flag,
                "remark" => Key::Remark,
                "extFields" => Key::ExtFields,
                _ => Key::Other,
            })
        }
    }

    /// An i32 written as a JSON number or a numeric string.
    struct LenientInt(i32);

    impl<'de> de::Deserialize<'de> for LenientInt {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(LenientIntVisitor)
        }
    }

    struct LenientIntVisitor;

    impl Visitor<'_> for LenientIntVisitor {
        type Value = LenientInt;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a 32-bit integer")
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<LenientInt, E> {
            i32::try_from(value)
                .map(LenientInt)
                .map_err(|_| E::custom(format!("{value} does not fit 32 bits")))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<LenientInt, E> {
            i32::try_from(value)
                .map(LenientInt)
                .map_err(|_| E::custom(format!("{value} does not fit 32 bits")))
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<LenientInt, E> {
            value
                .trim()
                .parse()
                .map(LenientInt)
                .map_err(|_| E::custom(format!("{value:?} is not a 32-bit integer")))
        }
    }

    /// A language written as its name or its number.
    struct Language(LanguageCode);

    impl<'de> de::Deserialize<'de> for Language {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(LanguageVisitor)
        }
    }

    struct LanguageVisitor;

    impl Visitor<'_> for LanguageVisitor {
        type Value = Language;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a language name or number")
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Language, E> {
            Ok(Language(LanguageCode::from_code(value)))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Language, E> {
            Ok(Language(LanguageCode::from_code(
                i64::try_from(value).unwrap_or(-1),
            )))
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Language, E> {
            Ok(Language(LanguageCode::from_name(value)))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Language, E> {
            Ok(Language(LanguageCode::Java))
        }
    }

    /// A scalar as a string: strings as they are, numbers and booleans
    /// stringified, `null` as `None`.
    struct LenientString(Option<String>);

    impl<'de> de::Deserialize<'de> for LenientString {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(LenientStringVisitor)
        }
    }

    struct LenientStringVisitor;

    impl Visitor<'_> for LenientStringVisitor {
        type Value = LenientString;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, number, boolean or null")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<LenientString, E> {
            Ok(LenientString(Some(value.to_owned())))
        }

        fn visit_string<E: de::Error>(self, value: String) -> Result<LenientString, E> {
            Ok(LenientString(Some(value)))
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<LenientString, E> {
            Ok(LenientString(Some(value.to_string())))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<LenientString, E> {
            Ok(LenientString(Some(value.to_string())))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<LenientString, E> {
            Ok(LenientString(Some(value.to_string())))
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<LenientString, E> {
            Ok(LenientString(Some(value.to_string())))
        }

        fn visit_unit<E: de::Error>(self) -> Result<LenientString, E> {
            Ok(LenientString(None))
        }
    }

    /// `extFields`: an object of scalars (stringified), or `null`.
    struct LenientFields(ExtFields);

    impl<'de> de::Deserialize<'de> for LenientFields {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(LenientFieldsVisitor)
        }
    }

    struct LenientFieldsVisitor;

    impl<'de> Visitor<'de> for LenientFieldsVisitor {
        type Value = LenientFields;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of string values")
        }

        fn visit_unit<E: de::Error>(self) -> Result<LenientFields, E> {
            Ok(LenientFields(ExtFields::new()))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LenientFields, A::Error> {
            let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some(key) = map.next_key::<String>()? {
                if let LenientString(Some(value)) = map.next_value()? {
                    fields.push((key, value));
                }
            }
            Ok(LenientFields(fields.into_iter().collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::{request, response};

    fn json_of(command: &RemotingCommand) -> String {
        let mut out = BytesMut::new();
        command.write_header(&mut out).unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn json_header_is_written_like_fastjson() {
        let mut command = RemotingCommand::request(request::GET_ROUTEINFO_BY_TOPIC).with_opaque(3);
        command.language = LanguageCode::Java;
        command
            .ext_fields
            .insert("topic".into(), "TopicTest".into());
        assert_eq!(
            json_of(&command),
            r#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":409}"#
        );
    }

    #[test]
    fn json_header_omits_empty_ext_fields_and_writes_escaped_remark() {
        let request = RemotingCommand::request(request::HEART_BEAT).with_opaque(-7);
        let response = RemotingCommand::response_to(
            &request,
            response::SYSTEM_ERROR,
            Some("bad \"x\"\n\u{1}é".into()),
        );
        assert_eq!(
            json_of(&response),
            "{\"code\":1,\"flag\":1,\"language\":\"RUST\",\"opaque\":-7,\
             \"remark\":\"bad \\\"x\\\"\\n\\u0001é\",\
             \"serializeTypeCurrentRPC\":\"JSON\",\"version\":409}"
        );
    }

    #[test]
    fn json_reader_accepts_any_order_numbers_and_unknown_keys() {
        let header = br#"{"version":"401","opaque":5,"language":0,"flag":2,"x":[1,{"y":null}],
            "extFields":{"queueId":3,"unitMode":false,"n":null,"f":1.5,"s":"v"},"code":10}"#;
        let command = RemotingCommand::read_header(SerializeType::Json, header).unwrap();
        assert_eq!(command.code, 10);
        assert_eq!(command.version, 401);
        assert_eq!(command.opaque, 5);
        assert_eq!(command.flag, 2);
        assert_eq!(command.language, LanguageCode::Java);
        assert_eq!(command.remark, None);
        let fields: Vec<(&str, &str)> = command
            .ext_fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("f", "1.5"),
                ("queueId", "3"),
                ("s", "v"),
                ("unitMode", "false")
            ]
        );
    }

    #[test]
    fn json_reader_rejects_missing_code_and_bad_json() {
        assert_eq!(
            RemotingCommand::read_header(SerializeType::Json, br#"{"flag":0}"#),
            Err(CommandError::MissingCode)
        );
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"code\":\"x\"}",
            b"{\"code\":1} 2",
            b"\xff",
        ] {
            assert!(matches!(
                RemotingCommand::read_header(SerializeType::Json, bad),
                Err(CommandError::Json(_))
            ));
        }
    }

    #[test]
    fn binary_header_round_trips_with_empty_values() {
        let mut command = RemotingCommand::request(request::PULL_MESSAGE).with_opaque(9);
        command.serialize_type = SerializeType::RocketMq;
        command
            .ext_fields
            .insert("subscription".into(), String::new());
        command.ext_fields.insert("queueId".into(), "1".into());
        let mut out = BytesMut::new();
        command.write_header(&mut out).unwrap();
        let read = RemotingCommand::read_header(SerializeType::RocketMq, &out).unwrap();
        assert_eq!(read, command);
    }

    #[test]
    fn binary_header_rejects_codes_beyond_16_bits() {
        let mut command = RemotingCommand::request(70_000);
        command.serialize_type = SerializeType::RocketMq;
        assert_eq!(
            command.write_header(&mut BytesMut::new()),
            Err(BinaryHeaderLimit::Code(70_000))
        );
    }

    #[test]
    fn binary_header_rejects_negative_lengths_and_truncation() {
        let mut header = vec![0, 10, 12, 1, 153, 0, 0, 0, 1, 0, 0, 0, 0];
        header.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            RemotingCommand::read_header(SerializeType::RocketMq, &header),
            Err(CommandError::NegativeLength {
                field: "remark",
                length: -1
            })
        );
        assert!(matches!(
            RemotingCommand::read_header(SerializeType::RocketMq, &header[..7]),
            Err(CommandError::Truncated { .. })
        ));
    }

    #[test]
    fn integers_format_at_the_extremes() {
        let extremes = [
            0,
            7,
            -7,
            10,
            i32::MAX.into(),
            i32::MIN.into(),
            i64::MAX,
            i64::MIN,
        ];
        for value in extremes {
            let mut buf = itoa_buffer();
            assert_eq!(
                format_decimal(value, &mut buf),
                value.to_string().as_bytes()
            );
        }
    }

    #[test]
    fn response_copies_opaque_and_serialize_type() {
        let mut request = RemotingCommand::request(request::SEND_MESSAGE).with_opaque(42);
        request.serialize_type = SerializeType::RocketMq;
        request.set_oneway();
        assert!(request.is_oneway() && !request.is_response());
        let response = RemotingCommand::response_to(&request, response::SUCCESS, None);
        assert_eq!(response.opaque, 42);
        assert_eq!(response.serialize_type, SerializeType::RocketMq);
        assert!(response.is_response() && !response.is_oneway());
        assert_eq!(response.version, code::CURRENT_VERSION);
    }
}
