//! Typed request/response headers, converted to and from a command's
//! `extFields` (every value a string, as Java's `makeCustomHeaderToNet` does).

use std::collections::BTreeMap;

/// A command's `extFields`: header field name -> stringified value.
/// Sorted, because fastjson emits keys sorted and so do we.
pub type ExtFields = BTreeMap<String, String>;

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
    /// Writes every non-null field as `name -> value.to_string()`.
    fn write_ext_fields(&self, fields: &mut ExtFields);
    /// Reads the header, failing on missing required fields or bad values.
    fn read_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError>;
}
