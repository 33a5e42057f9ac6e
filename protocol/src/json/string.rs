//! Borrowed JSON strings: the escaped text as it is on the wire, unescaped on demand.

use core::fmt;

use super::BufferTooSmall;

/// A validated JSON string, borrowed in its escaped form (without the quotes).
///
/// Nothing is copied when an event is decoded; [`JsonStr::chars`] unescapes lazily,
/// [`JsonStr::unescape_into`] into a caller's buffer, [`JsonStr::to_heapless`] into a
/// `heapless::String`. Lone surrogate escapes become U+FFFD ([UH-JSON-7]).
#[derive(Clone, Copy)]
pub struct JsonStr<'a> {
    raw: &'a str,
}

impl<'a> JsonStr<'a> {
    /// Wraps the text between the quotes of a string the validator accepted.
    pub(crate) const fn from_validated(raw: &'a str) -> Self {
        JsonStr { raw }
    }

    /// The escaped text between the quotes, exactly as received.
    pub const fn raw(&self) -> &'a str {
        self.raw
    }

    /// The string itself when it has no escapes, so no copy is needed.
    pub fn as_plain(&self) -> Option<&'a str> {
        (!self.raw.as_bytes().contains(&b'\\')).then_some(self.raw)
    }

    /// Whether the string has no characters ([UH-EVENT-2]): any escape is a character.
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The unescaped characters.
    pub fn chars(&self) -> Unescape<'a> {
        Unescape {
            rest: self.raw.chars(),
        }
    }

    /// Number of characters (Unicode scalar values) after unescaping.
    pub fn char_count(&self) -> usize {
        self.chars().count()
    }

    /// Bytes of the unescaped UTF-8.
    pub fn unescaped_len(&self) -> usize {
        self.chars().map(char::len_utf8).sum()
    }

    /// Unescapes into `buf` and returns the text, or [`BufferTooSmall`].
    pub fn unescape_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, BufferTooSmall> {
        if let Some(plain) = self.as_plain() {
            let out = buf.get_mut(..plain.len()).ok_or(BufferTooSmall)?;
            out.copy_from_slice(plain.as_bytes());
            return core::str::from_utf8(out).map_err(|_| BufferTooSmall);
        }
        let mut len = 0;
        for c in self.chars() {
            let end = len + c.len_utf8();
            let slot = buf.get_mut(len..end).ok_or(BufferTooSmall)?;
            c.encode_utf8(slot);
            len = end;
        }
        let out = buf.get(..len).ok_or(BufferTooSmall)?;
        core::str::from_utf8(out).map_err(|_| BufferTooSmall)
    }

    /// Unescapes into a `heapless::String` of capacity `N`.
    pub fn to_heapless<const N: usize>(&self) -> Result<heapless::String<N>, BufferTooSmall> {
        let mut out = heapless::String::new();
        for c in self.chars() {
            out.push(c).map_err(|_| BufferTooSmall)?;
        }
        Ok(out)
    }

    /// Compares with `other` after unescaping, without copying ([UH-EVENT-7]).
    pub fn eq_str(&self, other: &str) -> bool {
        match self.as_plain() {
            Some(plain) => plain == other,
            None => self.chars().eq(other.chars()),
        }
    }

    /// Whether the unescaped string starts with `prefix`.
    pub fn starts_with(&self, prefix: &str) -> bool {
        let mut chars = self.chars();
        prefix.chars().all(|p| chars.next() == Some(p))
    }
}

impl PartialEq<str> for JsonStr<'_> {
    fn eq(&self, other: &str) -> bool {
        self.eq_str(other)
    }
}

impl PartialEq<&str> for JsonStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.eq_str(other)
    }
}

impl PartialEq for JsonStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw || self.chars().eq(other.chars())
    }
}

impl Eq for JsonStr<'_> {}

impl fmt::Display for JsonStr<'_> {
    /// Writes the unescaped string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_plain() {
            Some(plain) => f.write_str(plain),
            None => self.chars().try_for_each(|c| fmt::Write::write_char(f, c)),
        }
    }
}

impl fmt::Debug for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.raw)
    }
}

/// Iterator over the unescaped characters of a [`JsonStr`].
#[derive(Clone)]
pub struct Unescape<'a> {
    rest: core::str::Chars<'a>,
}

impl Unescape<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let mut value = 0;
        for _ in 0..4 {
            value = value * 16 + self.rest.next()?.to_digit(16)?;
        }
        Some(value)
    }

    /// A `\uXXXX` low surrogate next in the input, consumed only if it is one.
    fn low_surrogate(&mut self) -> Option<u32> {
        let mut ahead = self.clone();
        if ahead.rest.next()? != '\\' || ahead.rest.next()? != 'u' {
            return None;
        }
        let low = ahead.hex4()?;
        if (0xdc00..=0xdfff).contains(&low) {
            *self = ahead;
            Some(low)
        } else {
            None
        }
    }
}

impl Iterator for Unescape<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.rest.next()?;
        if c != '\\' {
            return Some(c);
        }
        Some(match self.rest.next() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => match self.hex4() {
                Some(high @ 0xd800..=0xdbff) => match self.low_surrogate() {
                    Some(low) => char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
                        .unwrap_or(char::REPLACEMENT_CHARACTER),
                    None => char::REPLACEMENT_CHARACTER,
                },
                Some(code) => char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
                None => char::REPLACEMENT_CHARACTER,
            },
            // Not produced by validated text; kept total rather than panicking.
            _ => char::REPLACEMENT_CHARACTER,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &str) -> JsonStr<'_> {
        JsonStr::from_validated(raw)
    }

    #[test]
    fn unescapes_every_form() {
        let mut buf = [0u8; 64];
        let raw = r#"a\"\\\/\b\f\n\r\t\u00b5\u00B5\ud83d\ude00"#;
        assert_eq!(
            s(raw).unescape_into(&mut buf).unwrap(),
            "a\"\\/\u{8}\u{c}\n\r\tµµ😀"
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let v: heapless::String<16> = s(r"\ud800x\udc00\ud800\ud800").to_heapless().unwrap();
        assert_eq!(v.as_str(), "\u{fffd}x\u{fffd}\u{fffd}\u{fffd}");
    }

    #[test]
    fn compares_after_unescaping() {
        assert!(s(r"typ\u0065").eq_str("type"));
        assert!(s(r"\u00b5Home.core.healthcheck").eq_str("µHome.core.healthcheck"));
        assert!(!s(r"\u03bcHome").eq_str("µHome"));
        assert!(s("µHome.x") == s(r"\u00b5Home.x"));
        assert!(s(r"\u00b5Home.core.x").starts_with("µHome."));
        assert!(!s("µHom").starts_with("µHome."));
    }

    #[test]
    fn reports_small_buffers() {
        let mut buf = [0u8; 3];
        assert_eq!(s("abcd").unescape_into(&mut buf), Err(BufferTooSmall));
        assert_eq!(
            s(r"\u00b5\u00b5").unescape_into(&mut buf),
            Err(BufferTooSmall)
        );
        assert_eq!(s(r"\u00b5").unescape_into(&mut buf), Ok("µ"));
        assert!(s("abcd").to_heapless::<3>().is_err());
    }
}
