//! Strict JSON (RFC 8259 on UTF-8, section 5 of the specification): a validator that never
//! recurses and never allocates, and borrowed views of validated text.

#[cfg(test)]
mod reference;
mod scan;
mod skip;
mod string;
mod value;
mod words;

pub use string::{JsonStr, Unescape};
pub use value::{Elements, Kind, Members, RawJson};

pub(crate) use scan::{scan, Visit};
pub(crate) use words::skip_plain;

use core::fmt;

/// The reference nesting limit ([UH-JSON-8]): depth 128 is accepted, 129 refused.
pub const MAX_DEPTH: usize = 128;
/// The depth every receiver must accept ([UH-JSON-8]).
pub const REQUIRED_DEPTH: usize = 64;

/// Why a JSON text was refused, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// What went wrong.
    pub fault: JsonFault,
    /// Byte offset in the text.
    pub offset: usize,
}

/// The faults the validator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonFault {
    /// Not UTF-8 ([UH-JSON-2]).
    InvalidUtf8,
    /// Deeper than the limit ([UH-JSON-8]).
    TooDeep,
    /// The text ended inside a value, or was empty.
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    UnexpectedByte,
    /// A number outside the grammar ([UH-JSON-4]).
    InvalidNumber,
    /// An escape outside the nine allowed forms ([UH-JSON-5]).
    InvalidEscape,
    /// A raw U+0000..U+001F inside a string ([UH-JSON-5]).
    ControlCharacter,
    /// A string without its closing quote.
    UnterminatedString,
    /// An object member name that is not a string.
    ExpectedName,
    /// A member name not followed by `:`.
    ExpectedColon,
    /// Something other than `,` or the closing bracket after a value.
    ExpectedSeparator,
    /// Bytes after the one top-level value ([UH-JSON-6]).
    TrailingCharacters,
}

impl JsonFault {
    /// A short description for people.
    pub const fn describe(self) -> &'static str {
        match self {
            JsonFault::InvalidUtf8 => "invalid UTF-8",
            JsonFault::TooDeep => "nesting deeper than the limit",
            JsonFault::UnexpectedEnd => "unexpected end of input",
            JsonFault::UnexpectedByte => "unexpected character",
            JsonFault::InvalidNumber => "invalid number",
            JsonFault::InvalidEscape => "invalid escape",
            JsonFault::ControlCharacter => "raw control character in string",
            JsonFault::UnterminatedString => "unterminated string",
            JsonFault::ExpectedName => "expected a member name",
            JsonFault::ExpectedColon => "expected ':'",
            JsonFault::ExpectedSeparator => "expected ',' or a closing bracket",
            JsonFault::TrailingCharacters => "characters after the value",
        }
    }
}

/// An unescaped string does not fit the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall;

/// A JSON value does not deserialize into the type asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeMismatch;

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("output buffer too small")
    }
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("does not match the expected shape")
    }
}

impl core::error::Error for JsonError {}
impl core::error::Error for BufferTooSmall {}
impl core::error::Error for ShapeMismatch {}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.fault.describe(), self.offset)
    }
}

/// Checks that `bytes` are UTF-8 ([UH-JSON-2]) and one strict JSON text no deeper than
/// `max_depth` (capped at [`MAX_DEPTH`]), and returns the text.
///
/// Invalid UTF-8 anywhere is reported before any grammar fault (the order of section 6).
pub fn validate(bytes: &[u8], max_depth: usize) -> Result<&str, JsonError> {
    let text = utf8(bytes)?;
    scan(text, max_depth, &mut ())?;
    Ok(text)
}

pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, JsonError> {
    core::str::from_utf8(bytes).map_err(|e| JsonError {
        fault: JsonFault::InvalidUtf8,
        offset: e.valid_up_to(),
    })
}
