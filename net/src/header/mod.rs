//! Typed request/response headers, converted to and from a command's
//! `extFields` (every value a string, as Java's `makeCustomHeaderToNet` does).
//!
//! Each header is a plain struct declared with the [`command_header!`](crate::command_header) macro,
//! which derives [`CommandHeader`] and [`HeaderFields`] from one line per
//! field: `pub rust_name: Type = "javaName"`. The Rust type decides how a
//! field is read (spec §1.5):
//!
//! | Rust type            | Java         | absent             | unparsable     |
//! |----------------------|--------------|--------------------|----------------|
//! | `String`, `i32`, ... | `@CFNotNull` | [`HeaderError::Missing`] | [`HeaderError::Invalid`] |
//! | `Option<T>`          | nullable     | `None`             | `None`         |
//! | `T` + `or_default`   | primitive    | `T::default()`     | `T::default()` |
//!
//! Values are written as Java's `toString()` would (`"3"`, `"true"`), `None`
//! is not written at all. Integers parse like `Integer.parseInt` /
//! `Long.parseLong` (optional sign, decimal digits, no blanks); booleans like
//! `Boolean.parseBoolean` (only case-insensitive `"true"` is true, anything
//! else is false, so a boolean is never invalid).
//!
//! Submodules group the headers by who exchanges them:
//! [`send`], [`pull`], [`pop`], [`offset`], [`client`], [`transaction`], [`query`],
//! [`admin`], [`namesrv`] and [`consumer_admin`] (broker → client calls).

use std::collections::BTreeMap;

pub mod admin;
pub mod client;
pub mod consumer_admin;
pub mod namesrv;
pub mod offset;
pub mod ops;
pub mod pop;
pub mod pull;
pub mod query;
pub mod send;
pub mod stats;
pub mod transaction;

pub use admin::*;
pub use client::*;
pub use consumer_admin::*;
pub use namesrv::*;
pub use offset::*;
pub use ops::*;
pub use pop::*;
pub use pull::*;
pub use query::*;
pub use send::*;
pub use stats::*;
pub use transaction::*;

/// A command's `extFields`: header field name -> stringified value, each
/// name once, iterated sorted by name (fastjson emits keys sorted, and so
/// do we).
///
/// A sorted vector rather than a tree: a header has a handful of fields,
/// fastjson sends them already sorted (decoding appends), lookups scan one
/// contiguous run, and there are no node allocations. Decoders build it
/// with [`FromIterator`] (one sort, last duplicate wins, as repeated
/// `insert`s would), so an unsorted header of many fields costs
/// `n log n`, never `n²`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ExtFields {
    entries: Vec<(String, String)>,
}

/// Iterator over `(name, value)` pairs of [`ExtFields`], sorted by name.
#[derive(Debug, Clone)]
pub struct ExtFieldsIter<'a>(std::slice::Iter<'a, (String, String)>);

impl<'a> Iterator for ExtFieldsIter<'a> {
    type Item = (&'a String, &'a String);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for ExtFieldsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(key, value)| (key, value))
    }
}

impl ExactSizeIterator for ExtFieldsIter<'_> {}

impl ExtFields {
    /// No fields.
    pub const fn new() -> Self {
        ExtFields {
            entries: Vec::new(),
        }
    }

    /// No fields, room for `capacity`.
    pub fn with_capacity(capacity: usize) -> Self {
        ExtFields {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Makes room for `additional` more fields (a header about to be
    /// written: one allocation instead of a few regrowths).
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        match self.entries.last() {
            None => Err(0),
            Some((last, _)) if last.as_str() < key => Err(self.entries.len()),
            Some(_) => self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key)),
        }
    }

    /// Sets `key` to `value`; the previous value, if any.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.position(&key) {
            Ok(index) => self
                .entries
                .get_mut(index)
                .map(|(_, old)| std::mem::replace(old, value)),
            Err(index) => {
                self.entries.insert(index, (key, value));
                None
            }
        }
    }

    /// The value of `key`. A linear scan comparing lengths first: headers
    /// have a few short names (`a`..`n` for sends), for which this beats a
    /// binary search of `memcmp` calls; any map costs at most one pass.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.entries
            .iter()
            .find(|(name, _)| name.len() == key.len() && name.as_bytes() == key.as_bytes())
            .map(|(_, value)| value)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`; its value, if it was present.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.position(key).ok()?;
        Some(self.entries.remove(index).1)
    }

    /// `(name, value)` pairs sorted by name.
    pub fn iter(&self) -> ExtFieldsIter<'_> {
        ExtFieldsIter(self.entries.iter())
    }

    /// The names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(key, _)| key)
    }

    /// The values, in name order.
    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(_, value)| value)
    }
}

impl FromIterator<(String, String)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut entries: Vec<(String, String)> = iter.into_iter().collect();
        if !entries.is_sorted_by(|(a, _), (b, _)| a < b) {
            // Stable, so equal names keep their order; keep the last one.
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            let mut kept: Vec<(String, String)> = Vec::with_capacity(entries.len());
            for entry in entries {
                match kept.last_mut() {
                    Some(last) if last.0 == entry.0 => *last = entry,
                    _ => kept.push(entry),
                }
            }
            entries = kept;
        }
        ExtFields { entries }
    }
}

impl Extend<(String, String)> for ExtFields {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl From<BTreeMap<String, String>> for ExtFields {
    fn from(map: BTreeMap<String, String>) -> Self {
        ExtFields {
            entries: map.into_iter().collect(),
        }
    }
}

impl<const N: usize> From<[(String, String); N]> for ExtFields {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// `fields["name"]`, as on the `BTreeMap` this replaced: panics when the
/// name is absent, so only for tests; code uses [`ExtFields::get`].
impl std::ops::Index<&str> for ExtFields {
    type Output = String;
    fn index(&self, key: &str) -> &String {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no extFields entry named {key:?}"),
        }
    }
}

impl<'a> IntoIterator for &'a ExtFields {
    type Item = (&'a String, &'a String);
    type IntoIter = ExtFieldsIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for ExtFields {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// Why a header could not be read from `extFields`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A `@CFNotNull` field is absent.
    #[error("the required header field `{0}` is missing")]
    Missing(&'static str),
    /// A field is present but does not parse as its type.
    #[error("the header field `{field}` has the value {value:?}, which is not a valid {expected}")]
    Invalid {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// A typed header that lives in a command's `extFields`.
pub trait CommandHeader: Sized {
    /// How many fields the header has at most (room reserved before
    /// writing; [`command_header!`](crate::command_header) sets it).
    const FIELD_COUNT: usize = 0;
    /// Writes every non-null field as `name -> value.to_string()`.
    fn write_ext_fields(&self, fields: &mut ExtFields);
    /// Reads the header, failing on missing required fields or bad values.
    fn read_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError>;
    /// [`write_ext_fields`](Self::write_ext_fields) by value: string
    /// fields are moved in, not copied (the send path builds a header only
    /// to write it).
    fn into_ext_fields(self, fields: &mut ExtFields) {
        self.write_ext_fields(fields);
    }
}

/// Writes `header` into a fresh [`ExtFields`] map.
pub fn to_ext_fields<H: CommandHeader>(header: &H) -> ExtFields {
    let mut fields = ExtFields::new();
    header.write_ext_fields(&mut fields);
    fields
}

/// The Java type of a header field, as far as the wire cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// `String`.
    String,
    /// `Integer` / `int` (i32).
    Int,
    /// `Long` / `long` (i64).
    Long,
    /// `Boolean` / `boolean`.
    Bool,
}

/// What happens when a field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// `@CFNotNull`: absent is an error.
    Required,
    /// Nullable: absent is `None`, and `None` is not written.
    Optional,
    /// A Java primitive: absent means the default, and it is always written.
    Defaulted,
}

/// One field of a header: its `extFields` key, type and presence rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The key in `extFields` (the Java field name).
    pub name: &'static str,
    /// How the value is parsed.
    pub ty: FieldType,
    /// What happens when it is absent.
    pub presence: Presence,
}

/// The static description of a header's fields, for tests, fuzzing and
/// diagnostics. Generated by [`command_header!`](crate::command_header).
pub trait HeaderFields {
    /// Every field, in declaration order.
    const FIELDS: &'static [FieldSpec];
}

/// A value that can be stored in one `extFields` entry.
pub trait FieldValue: Sized + Default {
    /// The Java type, for [`FieldSpec`] and error messages.
    const TYPE: FieldType;
    /// Java's `toString()` of the value.
    fn to_field(&self) -> String;
    /// Java's parse of the value; `None` if it does not parse.
    fn parse_field(text: &str) -> Option<Self>;
    /// [`to_field`](Self::to_field) by value (a `String` is moved).
    fn into_field(self) -> String {
        self.to_field()
    }
}

impl FieldValue for String {
    const TYPE: FieldType = FieldType::String;
    fn to_field(&self) -> String {
        self.clone()
    }
    fn into_field(self) -> String {
        self
    }
    fn parse_field(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
}

/// Java's `toString()` of an integer, formatted without `fmt`.
fn decimal_field(value: i64) -> String {
    let mut digits = crate::command::itoa_buffer();
    // ASCII digits and a sign are always UTF-8: one exact allocation.
    std::str::from_utf8(crate::command::format_decimal(value, &mut digits))
        .unwrap_or_default()
        .to_owned()
}

impl FieldValue for i32 {
    const TYPE: FieldType = FieldType::Int;
    fn to_field(&self) -> String {
        decimal_field((*self).into())
    }
    fn parse_field(text: &str) -> Option<Self> {
        // Rust's parse accepts exactly what Integer.parseInt does: an
        // optional sign followed by ASCII digits.
        text.parse().ok()
    }
}

impl FieldValue for i64 {
    const TYPE: FieldType = FieldType::Long;
    fn to_field(&self) -> String {
        decimal_field(*self)
    }
    fn parse_field(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl FieldValue for bool {
    const TYPE: FieldType = FieldType::Bool;
    fn to_field(&self) -> String {
        if *self { "true" } else { "false" }.to_owned()
    }
    fn parse_field(text: &str) -> Option<Self> {
        Some(text.eq_ignore_ascii_case("true"))
    }
}

fn expected_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "string",
        FieldType::Int => "32-bit integer",
        FieldType::Long => "64-bit integer",
        FieldType::Bool => "boolean",
    }
}

/// How a header field of a given Rust type is read and written: plain types
/// are required, `Option<T>` is nullable. Implemented for every
/// [`FieldValue`] and its `Option` (an `Option` is never a `FieldValue`, so
/// the two impls do not overlap).
pub trait HeaderField: Sized {
    /// The field's Java type.
    const TYPE: FieldType;
    /// [`Presence::Required`] or [`Presence::Optional`].
    const PRESENCE: Presence;
    /// Writes the field unless it is `None`.
    fn write(&self, name: &'static str, fields: &mut ExtFields);
    /// [`write`](Self::write) by value: a string is moved, not copied.
    fn write_owned(self, name: &'static str, fields: &mut ExtFields);
    /// Reads the field under the rules of its presence.
    fn read(name: &'static str, fields: &ExtFields) -> Result<Self, HeaderError>;
    /// Reads a Java primitive: absent or unparsable gives the default.
    fn read_or_default(name: &'static str, fields: &ExtFields) -> Self;
}

impl<T: FieldValue> HeaderField for T {
    const TYPE: FieldType = T::TYPE;
    const PRESENCE: Presence = Presence::Required;
    fn write(&self, name: &'static str, fields: &mut ExtFields) {
        fields.insert(name.to_owned(), self.to_field());
    }
    fn write_owned(self, name: &'static str, fields: &mut ExtFields) {
        fields.insert(name.to_owned(), self.into_field());
    }
    fn read(name: &'static str, fields: &ExtFields) -> Result<Self, HeaderError> {
        let text = fields.get(name).ok_or(HeaderError::Missing(name))?;
        T::parse_field(text).ok_or_else(|| HeaderError::Invalid {
            field: name,
            value: text.clone(),
            expected: expected_name(T::TYPE),
        })
    }
    fn read_or_default(name: &'static str, fields: &ExtFields) -> Self {
        fields
            .get(name)
            .and_then(|text| T::parse_field(text))
            .unwrap_or_default()
    }
}

impl<T: FieldValue> HeaderField for Option<T> {
    const TYPE: FieldType = T::TYPE;
    const PRESENCE: Presence = Presence::Optional;
    fn write(&self, name: &'static str, fields: &mut ExtFields) {
        if let Some(value) = self {
            fields.insert(name.to_owned(), value.to_field());
        }
    }
    fn write_owned(self, name: &'static str, fields: &mut ExtFields) {
        if let Some(value) = self {
            fields.insert(name.to_owned(), value.into_field());
        }
    }
    fn read(name: &'static str, fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(fields.get(name).and_then(|text| T::parse_field(text)))
    }
    fn read_or_default(name: &'static str, fields: &ExtFields) -> Self {
        fields.get(name).and_then(|text| T::parse_field(text))
    }
}

/// Declares a header struct and derives [`CommandHeader`] and
/// [`HeaderFields`] for it.
///
/// ```
/// use ringmq_net::command_header;
/// use ringmq_net::header::{CommandHeader, ExtFields, HeaderError, to_ext_fields};
///
/// command_header! {
///     /// Doc of the header.
///     pub struct QueryExample {
///         /// Required: `Missing` when absent.
///         pub topic: String = "topic",
///         /// Nullable: `None` when absent or unparsable.
///         pub bname: Option<String> = "bname",
///         /// Java primitive: default when absent, always written.
///         pub unit_mode: bool = "unitMode" or_default,
///     }
/// }
///
/// let mut fields = ExtFields::new();
/// fields.insert("topic".into(), "T".into());
/// let header = QueryExample::read_ext_fields(&fields)?;
/// assert_eq!(header, QueryExample { topic: "T".into(), bname: None, unit_mode: false });
/// assert_eq!(to_ext_fields(&header).get("unitMode").map(String::as_str), Some("false"));
/// assert_eq!(
///     QueryExample::read_ext_fields(&ExtFields::new()),
///     Err(HeaderError::Missing("topic"))
/// );
/// # Ok::<(), HeaderError>(())
/// ```
#[macro_export]
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty = $key:literal $($rule:ident)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::header::CommandHeader for $name {
            const FIELD_COUNT: usize = <[&str]>::len(&[$($key),*]);
            #[allow(unused_variables)]
            fn write_ext_fields(&self, fields: &mut $crate::header::ExtFields) {
                $( $crate::header::HeaderField::write(&self.$field, $key, fields); )*
            }
            #[allow(unused_variables)]
            fn into_ext_fields(self, fields: &mut $crate::header::ExtFields) {
                $( $crate::header::HeaderField::write_owned(self.$field, $key, fields); )*
            }
            #[allow(unused_variables)]
            fn read_ext_fields(
                fields: &$crate::header::ExtFields,
            ) -> ::std::result::Result<Self, $crate::header::HeaderError> {
                Ok(Self {
                    $( $field: $crate::command_header!(@read $($rule)? $ty, $key, fields), )*
                })
            }
        }

        impl $crate::header::HeaderFields for $name {
            const FIELDS: &'static [$crate::header::FieldSpec] = &[
                $( $crate::header::FieldSpec {
                    name: $key,
                    ty: <$ty as $crate::header::HeaderField>::TYPE,
                    presence: $crate::command_header!(@presence $($rule)? $ty),
                }, )*
            ];
        }
    };

    (@read or_default $ty:ty, $key:literal, $fields:ident) => {
        <$ty as $crate::header::HeaderField>::read_or_default($key, $fields)
    };
    (@read $ty:ty, $key:literal, $fields:ident) => {
        <$ty as $crate::header::HeaderField>::read($key, $fields)?
    };

    (@presence or_default $ty:ty) => {
        $crate::header::Presence::Defaulted
    };
    (@presence $ty:ty) => {
        <$ty as $crate::header::HeaderField>::PRESENCE
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One edit of a field map.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(String, String),
        Remove(String),
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = "[a-e]{0,2}";
        prop_oneof![
            (key, ".{0,3}").prop_map(|(k, v)| Op::Insert(k, v)),
            key.prop_map(Op::Remove),
        ]
    }

    fn same(fields: &ExtFields, model: &BTreeMap<String, String>) -> bool {
        fields.iter().eq(model.iter()) && fields.len() == model.len()
    }

    proptest! {
        /// ExtFields behaves as the BTreeMap it replaced.
        #[test]
        fn ext_fields_match_a_btree_map(ops in proptest::collection::vec(op(), 0..40)) {
            let mut fields = ExtFields::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(
                        fields.insert(k.clone(), v.clone()),
                        model.insert(k, v)
                    ),
                    Op::Remove(k) => prop_assert_eq!(fields.remove(&k), model.remove(&k)),
                }
                prop_assert!(same(&fields, &model));
            }
            for key in ["", "a", "ab", "e", "z"] {
                prop_assert_eq!(fields.get(key), model.get(key));
                prop_assert_eq!(fields.contains_key(key), model.contains_key(key));
            }
        }

        /// Collecting pairs in any order equals inserting them one by one.
        #[test]
        fn collected_fields_equal_inserted_ones(
            pairs in proptest::collection::vec(("[a-d]{0,2}", ".{0,3}"), 0..30)
        ) {
            let collected: ExtFields = pairs.iter().cloned().collect();
            let mut inserted = ExtFields::new();
            let mut model = BTreeMap::new();
            for (k, v) in pairs {
                inserted.insert(k.clone(), v.clone());
                model.insert(k, v);
            }
            prop_assert_eq!(&collected, &inserted);
            prop_assert!(same(&collected, &model));
            prop_assert_eq!(ExtFields::from(model), collected);
        }
    }

    #[test]
    fn duplicate_names_keep_the_last_value() {
        let fields: ExtFields = [
            ("b".to_owned(), "1".to_owned()),
            ("a".to_owned(), "x".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]
        .into();
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "x"), ("b", "2")]);
    }
}
