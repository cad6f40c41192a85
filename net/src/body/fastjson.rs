//! fastjson 1.x compatibility: a lenient pre-parser for the non-standard JSON
//! that 4.x Java servers emit, the writer that emits it back, and the serde
//! glue for maps whose keys are objects (spec §2.8, §8.4).
//!
//! fastjson writes a `Map` key that is not a `String` without quotes: a
//! number comes out bare (`{0:"10.0.0.1:10911"}`) and an object comes out as
//! the object itself:
//!
//! ```text
//! {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:123,
//!                 {"brokerName":"b","queueId":1,"topic":"t"}:7}}
//! ```
//!
//! [`normalize`] rewrites every such key into a JSON string and copies
//! everything else byte for byte, minus the blanks between tokens: `0`
//! becomes `"0"`, and an object key becomes a string holding the object's
//! (normalized) JSON text. Strings are copied untouched, so `"{0:"` inside a
//! string value is left alone.
//! After that `serde_json` can read it; map fields keyed by objects use
//! [`object_keys`] to parse the key strings back into values.
//!
//! Writing: [`object_keys`] serializes a map as a marker object
//! `{"@fastjson.objectKeys":[[key,value],...]}` and [`write_value`] turns
//! that marker into fastjson's object-key form, so standard serde never
//! fails on a non-string key and Java receives what it expects.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::BodyError;

/// Deepest nesting of objects and arrays [`normalize`] accepts (serde_json's
/// own recursion limit is the same).
pub const DEPTH_MAX: usize = 128;

/// The key of the marker object that stands for an object-keyed map between
/// serde and [`write_value`].
pub const OBJECT_KEYS_MARKER: &str = "@fastjson.objectKeys";

/// Rewrites fastjson's unquoted and object map keys into JSON strings (see
/// the module doc). The output is standard JSON if the input was fastjson
/// JSON; anything else is either rejected here or by the JSON parser after.
pub fn normalize(input: &[u8]) -> Result<Vec<u8>, BodyError> {
    let mut normalizer = Normalizer { input, pos: 0 };
    let mut out = Vec::with_capacity(input.len().saturating_add(input.len() / 8));
    normalizer.value(&mut out, 0)?;
    normalizer.skip_whitespace();
    if normalizer.pos != input.len() {
        return Err(normalizer.malformed("trailing characters after the JSON value"));
    }
    Ok(out)
}

/// A cursor over the input; every method copies what it consumed to `out`.
struct Normalizer<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Normalizer<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn malformed(&self, reason: &'static str) -> BodyError {
        BodyError::Malformed {
            offset: self.pos,
            reason,
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), BodyError> {
        if depth > DEPTH_MAX {
            return Err(BodyError::TooDeep(DEPTH_MAX));
        }
        self.skip_whitespace();
        match self.peek() {
            None => Err(self.malformed("unexpected end of input")),
            Some(b'{') => self.object(out, depth),
            Some(b'[') => self.array(out, depth),
            Some(b'"') => self.string(out),
            Some(_) => {
                let token = self.scalar()?;
                out.extend_from_slice(token);
                Ok(())
            }
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), BodyError> {
        self.pos += 1;
        out.push(b'{');
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            out.push(b'}');
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            self.key(out, depth)?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.malformed("expected ':' after an object key"));
            }
            self.pos += 1;
            out.push(b':');
            self.value(out, depth + 1)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    out.push(b',');
                }
                Some(b'}') => {
                    self.pos += 1;
                    out.push(b'}');
                    return Ok(());
                }
                _ => return Err(self.malformed("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), BodyError> {
        self.pos += 1;
        out.push(b'[');
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            out.push(b']');
            return Ok(());
        }
        loop {
            self.value(out, depth + 1)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    out.push(b',');
                }
                Some(b']') => {
                    self.pos += 1;
                    out.push(b']');
                    return Ok(());
                }
                _ => return Err(self.malformed("expected ',' or ']' in an array")),
            }
        }
    }

    /// A map key: a string is copied; an object or array is normalized and
    /// then quoted; a bare token (number, identifier) is quoted.
    fn key(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), BodyError> {
        match self.peek() {
            Some(b'"') => self.string(out),
            Some(b'{' | b'[') => {
                let start = self.pos;
                let mut inner = Vec::new();
                self.value(&mut inner, depth + 1)?;
                let text = std::str::from_utf8(&inner).map_err(|_| BodyError::Malformed {
                    offset: start,
                    reason: "an object key is not UTF-8",
                })?;
                write_string(text, out);
                Ok(())
            }
            _ => {
                let start = self.pos;
                let token = self.scalar()?;
                let text = std::str::from_utf8(token).map_err(|_| BodyError::Malformed {
                    offset: start,
                    reason: "a bare key is not UTF-8",
                })?;
                write_string(text, out);
                Ok(())
            }
        }
    }

    /// Copies a string literal, escapes and all, without interpreting it.
    fn string(&mut self, out: &mut Vec<u8>) -> Result<(), BodyError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.malformed("unterminated string"));
                }
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => self.pos += 1,
            }
        }
        let literal = self
            .input
            .get(start..self.pos)
            .ok_or(BodyError::Malformed {
                offset: start,
                reason: "unterminated string",
            })?;
        out.extend_from_slice(literal);
        Ok(())
    }

    /// A bare token (number, `true`, `null`, unquoted name) up to the next
    /// delimiter. The JSON parser validates it later.
    fn scalar(&mut self) -> Result<&[u8], BodyError> {
        let start = self.pos;
        while let Some(byte) = self.peek() {
            if matches!(
                byte,
                b',' | b':' | b'{' | b'}' | b'[' | b']' | b'"' | b' ' | b'\t' | b'\n' | b'\r'
            ) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.malformed("unexpected character"));
        }
        self.input.get(start..self.pos).ok_or(BodyError::Malformed {
            offset: start,
            reason: "unexpected end of input",
        })
    }
}

/// Removes every `null` member from every object in `value` (fastjson
/// treats a `null` field like an absent one; serde would reject it for a
/// non-`Option` field). `null`s inside arrays are kept.
pub fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, member| !member.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Writes `text` as a JSON string literal.
pub fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in text.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            ch if u32::from(ch) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(ch)).as_bytes());
            }
            ch => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// How an object-keyed map (the [`OBJECT_KEYS_MARKER`] object) is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyStyle {
    /// fastjson: the key object itself, unquoted.
    Fastjson,
    /// Standard JSON: the key object's text as a string.
    Standard,
}

/// Writes `value` the way fastjson writes beans: keys sorted, `null` members
/// left out, object-keyed maps with bare object keys.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    write_with(value, out, KeyStyle::Fastjson);
}

/// Like [`write_value`] but always standard JSON: object keys become strings.
pub fn write_standard_value(value: &Value, out: &mut Vec<u8>) {
    write_with(value, out, KeyStyle::Standard);
}

fn write_with(value: &Value, out: &mut Vec<u8>, style: KeyStyle) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
        Value::Number(number) => out.extend_from_slice(number.to_string().as_bytes()),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_with(item, out, style);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if let Some(pairs) = object_key_pairs(map) {
                write_object_keyed(&pairs, out, style);
                return;
            }
            let mut members: Vec<(&String, &Value)> =
                map.iter().filter(|(_, member)| !member.is_null()).collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (index, (key, member)) in members.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_with(member, out, style);
            }
            out.push(b'}');
        }
    }
}

/// The `[key, value]` pairs of a marker object, if `map` is one.
fn object_key_pairs(map: &serde_json::Map<String, Value>) -> Option<Vec<(&Value, &Value)>> {
    if map.len() != 1 {
        return None;
    }
    let Value::Array(items) = map.get(OBJECT_KEYS_MARKER)? else {
        return None;
    };
    items
        .iter()
        .map(|item| match item.as_array().map(Vec::as_slice) {
            Some([key, value]) => Some((key, value)),
            _ => None,
        })
        .collect()
}

fn write_object_keyed(pairs: &[(&Value, &Value)], out: &mut Vec<u8>, style: KeyStyle) {
    out.push(b'{');
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        match key {
            Value::String(plain) => write_string(plain, out),
            _ if style == KeyStyle::Standard => {
                let mut text = Vec::new();
                write_with(key, &mut text, KeyStyle::Standard);
                write_string(&String::from_utf8_lossy(&text), out);
            }
            _ => write_with(key, out, style),
        }
        out.push(b':');
        write_with(value, out, style);
    }
    out.push(b'}');
}

/// Parses one map key produced by [`normalize`] (or by a standard writer):
/// the key string holds the JSON text of the key value.
pub fn parse_key<K: DeserializeOwned>(key: &str) -> Result<K, BodyError> {
    let normalized = normalize(key.as_bytes())?;
    serde_json::from_slice(&normalized).map_err(|err| BodyError::Json(err.to_string()))
}

/// `#[serde(with = "fastjson::object_keys")]` for a `BTreeMap<K, V>` whose
/// keys are objects (e.g. [`super::MessageQueue`]).
///
/// Serializes as the [`OBJECT_KEYS_MARKER`] object (which [`write_value`]
/// turns into fastjson's form); deserializes from the marker object or from
/// a map whose keys are strings holding the key's JSON (what [`normalize`]
/// produces from fastjson's form).
pub mod object_keys {
    use super::*;

    /// Serializes `map` as the marker object.
    pub fn serialize<K, V, S>(map: &BTreeMap<K, V>, serializer: S) -> Result<S::Ok, S::Error>
    where
        K: Serialize,
        V: Serialize,
        S: Serializer,
    {
        let pairs: Vec<(&K, &V)> = map.iter().collect();
        let mut marker = serializer.serialize_map(Some(1))?;
        marker.serialize_entry(OBJECT_KEYS_MARKER, &pairs)?;
        marker.end()
    }

    /// Deserializes the marker object or a map with JSON-text keys.
    pub fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: DeserializeOwned + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        deserializer.deserialize_map(ObjectKeysVisitor(PhantomData))
    }
}

struct ObjectKeysVisitor<K, V>(PhantomData<(K, V)>);

impl<'de, K, V> Visitor<'de> for ObjectKeysVisitor<K, V>
where
    K: DeserializeOwned + Ord,
    V: Deserialize<'de>,
{
    type Value = BTreeMap<K, V>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a map keyed by JSON objects")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some(key) = access.next_key::<String>()? {
            if key == OBJECT_KEYS_MARKER {
                let pairs: Vec<(K, V)> = access.next_value()?;
                map.extend(pairs);
            } else {
                let parsed = parse_key::<K>(&key).map_err(de::Error::custom)?;
                map.insert(parsed, access.next_value()?);
            }
        }
        Ok(map)
    }
}

/// A `BTreeMap` with object keys, for use inside other containers where
/// `#[serde(with)]` cannot reach (e.g. `BTreeMap<String, ObjectKeyMap<..>>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKeyMap<K: Ord, V>(pub BTreeMap<K, V>);

impl<K: Ord, V> Default for ObjectKeyMap<K, V> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<K: Ord + Serialize, V: Serialize> Serialize for ObjectKeyMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        object_keys::serialize(&self.0, serializer)
    }
}

impl<'de, K: Ord + DeserializeOwned, V: Deserialize<'de>> Deserialize<'de> for ObjectKeyMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object_keys::deserialize(deserializer).map(Self)
    }
}

/// Writes standard JSON in the legacy fastjson shape that Java servers
/// before 4.9.4 send: object keys made only of digits (with an optional
/// leading `-`) lose their quotes, e.g. `{"0":"a:1"}` becomes `{0:"a:1"}`.
/// Everything else, text inside strings included, is copied unchanged.
/// Meant for bodies whose only digit-keyed maps are `Long`/`Integer` maps in
/// Java (such as `TopicRouteData.brokerAddrs`).
pub fn unquote_numeric_keys(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut pos = 0;
    while let Some(&byte) = json.get(pos) {
        if byte != b'"' {
            out.push(byte);
            pos += 1;
            continue;
        }
        let end = string_end(json, pos);
        let token = json.get(pos..end).unwrap_or_default();
        let inner = token
            .get(1..token.len().saturating_sub(1))
            .unwrap_or_default();
        let digits = inner.strip_prefix(b"-").unwrap_or(inner);
        let numeric =
            token.len() >= 2 && !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
        let next = json
            .get(end..)
            .unwrap_or_default()
            .iter()
            .find(|b| !b.is_ascii_whitespace());
        if numeric && next == Some(&b':') {
            out.extend_from_slice(inner);
        } else {
            out.extend_from_slice(token);
        }
        pos = end;
    }
    out
}

/// The index just past the string that opens at `start` (a `"`), honouring
/// backslash escapes; the input's end if the string is unterminated.
fn string_end(json: &[u8], start: usize) -> usize {
    let mut pos = start.saturating_add(1);
    while let Some(&byte) = json.get(pos) {
        match byte {
            b'\\' => pos = pos.saturating_add(2),
            b'"' => return pos + 1,
            _ => pos += 1,
        }
    }
    json.len()
}

#[cfg(test)]
mod legacy_key_tests {
    use super::{normalize, unquote_numeric_keys};

    #[test]
    fn digit_keys_lose_their_quotes_and_nothing_else_changes() {
        let standard = br#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911","-1":"x"},"brokerName":"b","note":"\"0\": stays"}],"n":"42"}"#;
        let legacy = unquote_numeric_keys(standard);
        assert_eq!(
            String::from_utf8(legacy.clone()).unwrap(),
            r#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",-1:"x"},"brokerName":"b","note":"\"0\": stays"}],"n":"42"}"#
        );
        assert_eq!(normalize(&legacy).unwrap(), standard.to_vec());
    }

    #[test]
    fn unterminated_input_is_copied_without_panicking() {
        for input in [&b"\""[..], b"{\"0", b"{\"0\\", b"{\"12\" :", b""] {
            let _ = unquote_numeric_keys(input);
        }
    }
}
