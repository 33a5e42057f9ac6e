//! Validated JSON values borrowed from the payload, navigated without recursion or copies.

use core::fmt;

use super::scan::{scan_string, skip_ws as whitespace};
use super::skip::skip_value;
use super::{validate, JsonError, JsonStr, ShapeMismatch, MAX_DEPTH};

/// The kind of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// One validated JSON value, borrowed as text without surrounding whitespace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a> {
    text: &'a str,
}

impl<'a> RawJson<'a> {
    /// Wraps text the validator accepted, trimmed of whitespace.
    pub(crate) const fn from_validated(text: &'a str) -> Self {
        RawJson { text }
    }

    /// Validates `text` as one JSON value (at most [`MAX_DEPTH`] deep).
    pub fn parse(text: &'a str) -> Result<Self, JsonError> {
        validate(text.as_bytes(), MAX_DEPTH)?;
        Ok(RawJson {
            text: text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')),
        })
    }

    /// The value's JSON text, exactly as received.
    pub const fn as_str(&self) -> &'a str {
        self.text
    }

    /// What kind of value this is.
    pub fn kind(&self) -> Kind {
        match self.text.as_bytes().first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        self.kind() == Kind::Null
    }

    /// The string, if this is one.
    pub fn as_string(&self) -> Option<JsonStr<'a>> {
        let inner = self.text.strip_prefix('"')?.strip_suffix('"')?;
        Some(JsonStr::from_validated(inner))
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The members of an object in document order (empty for other kinds). Repeated names
    /// are all yielded.
    pub fn members(&self) -> Members<'a> {
        Members {
            text: if self.kind() == Kind::Object {
                self.text
            } else {
                ""
            },
            pos: 1,
        }
    }

    /// The elements of an array in order (empty for other kinds).
    pub fn elements(&self) -> Elements<'a> {
        Elements {
            text: if self.kind() == Kind::Array {
                self.text
            } else {
                ""
            },
            pos: 1,
        }
    }

    /// The value of the first member named `name` (compared after unescaping).
    pub fn get(&self, name: &str) -> Option<RawJson<'a>> {
        self.members()
            .find(|(n, _)| n.eq_str(name))
            .map(|(_, value)| value)
    }

    /// Maps the value onto an application type with serde-json-core.
    ///
    /// serde-json-core hands `&str` fields over still escaped, and matches member names as
    /// written; use [`JsonStr`] navigation where escapes matter.
    pub fn deserialize<T: serde::Deserialize<'a>>(&self) -> Result<T, ShapeMismatch> {
        serde_json_core::from_str::<T>(self.text)
            .map(|(value, _)| value)
            .map_err(|_| ShapeMismatch)
    }
}

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

impl fmt::Display for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// Iterator over an object's members: `(name, value)`.
#[derive(Clone)]
pub struct Members<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, RawJson<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let mut i = whitespace(b, self.pos);
        if b.get(i) == Some(&b',') {
            i = whitespace(b, i + 1);
        }
        if b.get(i) != Some(&b'"') {
            self.pos = b.len();
            return None;
        }
        let (name_end, _) = scan_string(b, i + 1).ok()?;
        let name = self.text.get(i + 1..name_end - 1)?;
        let colon = whitespace(b, name_end);
        let start = whitespace(b, colon + 1);
        let end = skip_value(b, start);
        self.pos = end;
        let value = self.text.get(start..end)?;
        Some((
            JsonStr::from_validated(name),
            RawJson::from_validated(value),
        ))
    }
}

/// Iterator over an array's elements.
#[derive(Clone)]
pub struct Elements<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = RawJson<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let mut i = whitespace(b, self.pos);
        if b.get(i) == Some(&b',') {
            i = whitespace(b, i + 1);
        }
        match b.get(i) {
            None | Some(b']') => {
                self.pos = b.len();
                None
            }
            Some(_) => {
                let end = skip_value(b, i);
                if end <= i {
                    self.pos = b.len();
                    return None;
                }
                self.pos = end;
                Some(RawJson::from_validated(self.text.get(i..end)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigates_objects_and_arrays() {
        let v =
            RawJson::parse(r#" { "a" : [1, "x]", {"b":[]}] , "c\"d":true, "e":null } "#).unwrap();
        assert_eq!(v.kind(), Kind::Object);
        let mut m = v.members();
        let (n, a) = m.next().unwrap();
        assert!(n.eq_str("a"));
        let items: heapless::Vec<&str, 4> = a.elements().map(|e| e.as_str()).collect();
        assert_eq!(items.as_slice(), ["1", "\"x]\"", "{\"b\":[]}"]);
        let (n, c) = m.next().unwrap();
        assert!(n.eq_str("c\"d"));
        assert_eq!(c.as_bool(), Some(true));
        let (_, e) = m.next().unwrap();
        assert!(e.is_null());
        assert!(m.next().is_none());
        assert_eq!(v.get("e").map(|e| e.kind()), Some(Kind::Null));
        assert!(v.get("zz").is_none());
    }

    #[test]
    fn empty_containers_have_nothing() {
        assert_eq!(RawJson::parse("{ }").unwrap().members().count(), 0);
        assert_eq!(RawJson::parse("[ ]").unwrap().elements().count(), 0);
        assert_eq!(RawJson::parse("3").unwrap().elements().count(), 0);
    }

    #[test]
    fn deserializes_application_types() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct Reading {
            celsius: f32,
            room: heapless::String<8>,
        }
        let v = RawJson::parse(r#"{"room":"hall","celsius":21.5,"extra":[1]}"#).unwrap();
        assert_eq!(
            v.deserialize::<Reading>().unwrap(),
            Reading {
                celsius: 21.5,
                room: "hall".try_into().unwrap()
            }
        );
        assert!(RawJson::parse("[]")
            .unwrap()
            .deserialize::<Reading>()
            .is_err());
    }
}
