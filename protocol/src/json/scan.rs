//! The validating scanner: one pass, an explicit bit stack instead of recursion.

use super::{JsonError, JsonFault, MAX_DEPTH};

/// Hooks into a scan. Only members of a top-level object are reported: that is all the
/// envelope needs, and it keeps the scan a single pass.
pub(crate) trait Visit<'a> {
    /// A member of the top-level object: its raw name (between the quotes), whether the
    /// name has escapes, and its value's text.
    fn root_member(&mut self, name: &'a str, escaped: bool, value: &'a str);
}

impl<'a> Visit<'a> for () {
    #[inline(always)]
    fn root_member(&mut self, _: &'a str, _: bool, _: &'a str) {}
}

#[inline]
fn fail<T>(fault: JsonFault, offset: usize) -> Result<T, JsonError> {
    Err(JsonError { fault, offset })
}

#[inline]
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    // Every whitespace byte is <= 0x20: one comparison settles the common compact case.
    while let Some(&c) = b.get(i) {
        if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte set where the byte is `"`, `\` or below 0x20 (exact for the lowest
/// set byte, which is all the caller uses).
#[inline(always)]
fn specials(v: u64) -> u64 {
    let quote = v ^ (ONES * b'"' as u64);
    let backslash = v ^ (ONES * b'\\' as u64);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    (zero(quote) | zero(backslash) | (v.wrapping_sub(ONES * 0x20) & !v)) & HIGHS
}

/// Index of the first `"`, `\` or control byte at or after `i` (or `b.len()`).
#[inline(always)]
pub(crate) fn skip_plain(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let hits = specials(u64::from_le_bytes(word));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Scans a string whose opening quote is at `i - 1`; returns the index after the closing
/// quote and whether it has escapes.
#[inline(always)]
pub(crate) fn scan_string(b: &[u8], mut i: usize) -> Result<(usize, bool), JsonError> {
    let mut escaped = false;
    loop {
        i = skip_plain(b, i);
        match b.get(i) {
            Some(b'"') => return Ok((i + 1, escaped)),
            Some(b'\\') => {
                escaped = true;
                match b.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => match b.get(i + 2..i + 6) {
                        Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => i += 6,
                        _ => return fail(JsonFault::InvalidEscape, i),
                    },
                    Some(_) => return fail(JsonFault::InvalidEscape, i),
                    None => return fail(JsonFault::UnterminatedString, i),
                }
            }
            Some(_) => return fail(JsonFault::ControlCharacter, i),
            None => return fail(JsonFault::UnterminatedString, i),
        }
    }
}

#[inline]
fn skip_digits(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?` ([UH-JSON-4]).
fn scan_number(b: &[u8], start: usize) -> Result<usize, JsonError> {
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = skip_digits(b, i + 1),
        _ => return fail(JsonFault::InvalidNumber, i),
    }
    if b.get(i) == Some(&b'.') {
        let digits = skip_digits(b, i + 1);
        if digits == i + 1 {
            return fail(JsonFault::InvalidNumber, i + 1);
        }
        i = digits;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let digits = skip_digits(b, i);
        if digits == i {
            return fail(JsonFault::InvalidNumber, i);
        }
        i = digits;
    }
    Ok(i)
}

fn scan_literal(b: &[u8], i: usize, literal: &[u8]) -> Result<usize, JsonError> {
    if b.get(i..i + literal.len()) == Some(literal) {
        Ok(i + literal.len())
    } else {
        fail(JsonFault::UnexpectedByte, i)
    }
}

/// Validates one JSON text ([UH-JSON-1] .. [UH-JSON-8]) in a single pass, reporting the
/// top-level object's members to `visit`. `text` is already known to be UTF-8.
pub(crate) fn scan<'a, V: Visit<'a>>(
    text: &'a str,
    max_depth: usize,
    visit: &mut V,
) -> Result<(), JsonError> {
    let b = text.as_bytes();
    let max_depth = max_depth.min(MAX_DEPTH);
    // Bit n set: the container at depth n+1 (counting from the innermost) is an object.
    let mut stack: u128 = 0;
    let mut depth = 0usize;
    // The current member of the top-level object: name span, escaped, value start.
    let mut name = (0usize, 0usize, false);
    let mut value_start = 0usize;
    let mut i = skip_ws(b, 0);

    'value: loop {
        let Some(&c) = b.get(i) else {
            return fail(JsonFault::UnexpectedEnd, i);
        };
        match c {
            b'{' | b'[' => {
                if depth >= max_depth {
                    return fail(JsonFault::TooDeep, i);
                }
                depth += 1;
                let object = c == b'{';
                stack = (stack << 1) | object as u128;
                i = skip_ws(b, i + 1);
                let close = if object { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    i += 1;
                    depth -= 1;
                    stack >>= 1;
                } else {
                    if object {
                        i = member_name(b, i, depth, &mut name, &mut value_start)?;
                    }
                    continue 'value;
                }
            }
            b'"' => i = scan_string(b, i + 1)?.0,
            b'-' | b'0'..=b'9' => i = scan_number(b, i)?,
            b't' => i = scan_literal(b, i, b"true")?,
            b'f' => i = scan_literal(b, i, b"false")?,
            b'n' => i = scan_literal(b, i, b"null")?,
            _ => return fail(JsonFault::UnexpectedByte, i),
        }
        // A value ended at `i`; close containers until another value is due.
        loop {
            if depth == 0 {
                i = skip_ws(b, i);
                return if i == b.len() {
                    Ok(())
                } else {
                    fail(JsonFault::TrailingCharacters, i)
                };
            }
            let object = stack & 1 == 1;
            if depth == 1 && object {
                if let (Some(n), Some(v)) = (text.get(name.0..name.1), text.get(value_start..i)) {
                    visit.root_member(n, name.2, v);
                }
            }
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => {
                    i = skip_ws(b, i + 1);
                    if object {
                        i = member_name(b, i, depth, &mut name, &mut value_start)?;
                    }
                    continue 'value;
                }
                Some(b'}') if object => {}
                Some(b']') if !object => {}
                Some(_) => return fail(JsonFault::ExpectedSeparator, i),
                None => return fail(JsonFault::UnexpectedEnd, i),
            }
            i += 1;
            depth -= 1;
            stack >>= 1;
        }
    }
}

/// Scans `"name" :` at `i` and returns where the value starts.
#[inline]
fn member_name(
    b: &[u8],
    i: usize,
    depth: usize,
    name: &mut (usize, usize, bool),
    value_start: &mut usize,
) -> Result<usize, JsonError> {
    if b.get(i) != Some(&b'"') {
        return fail(JsonFault::ExpectedName, i);
    }
    let (end, escaped) = scan_string(b, i + 1)?;
    let colon = skip_ws(b, end);
    if b.get(colon) != Some(&b':') {
        return fail(JsonFault::ExpectedColon, colon);
    }
    let start = skip_ws(b, colon + 1);
    if depth == 1 {
        *name = (i + 1, end - 1, escaped);
        *value_start = start;
    }
    Ok(start)
}

/// The index after the string whose opening quote is at `i - 1`, in validated text.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    loop {
        i = skip_plain(b, i);
        match b.get(i) {
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => return i,
        }
    }
}

/// The index after the value starting at `i` in text already validated. Never panics and
/// always ends, even on malformed text.
pub(crate) fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i + 1),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = i;
            loop {
                match b.get(i) {
                    None => return i,
                    Some(b'"') => i = skip_string(b, i + 1),
                    Some(b'{' | b'[') => {
                        depth += 1;
                        i += 1;
                    }
                    Some(b'}' | b']') => {
                        i += 1;
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i;
                        }
                    }
                    Some(_) => i += 1,
                }
            }
        }
        Some(_) => {
            let mut i = i;
            while let Some(&c) = b.get(i) {
                if matches!(c, b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            i
        }
        None => i,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        scan(s, MAX_DEPTH, &mut ()).is_ok()
    }

    fn fault(s: &str) -> JsonFault {
        scan(s, MAX_DEPTH, &mut ()).expect_err(s).fault
    }

    #[test]
    fn accepts_the_grammar() {
        for s in [
            "0",
            "-0",
            "1.5e-3",
            "1E+5",
            "1e400",
            "[]",
            "{}",
            " [ 1 , 2 ] ",
            "\"\\u00b5\\/\"",
            "{\"a\":{\"b\":[true,false,null]}}",
            "\"\\ud800\"",
            "\"\u{7f}\"",
            "\t\r\n1\n",
        ] {
            assert!(ok(s), "{s}");
        }
    }

    #[test]
    fn refuses_what_rfc_8259_refuses() {
        let cases: [(&str, JsonFault); 16] = [
            ("", JsonFault::UnexpectedEnd),
            ("01", JsonFault::TrailingCharacters),
            ("+1", JsonFault::UnexpectedByte),
            (".5", JsonFault::UnexpectedByte),
            ("1.", JsonFault::InvalidNumber),
            ("1e", JsonFault::InvalidNumber),
            ("-", JsonFault::InvalidNumber),
            ("NaN", JsonFault::UnexpectedByte),
            ("\"\\x\"", JsonFault::InvalidEscape),
            ("\"\\u12\"", JsonFault::InvalidEscape),
            ("\"a\u{1}\"", JsonFault::ControlCharacter),
            ("\"abc", JsonFault::UnterminatedString),
            ("[1,]", JsonFault::UnexpectedByte),
            ("{\"a\" 1}", JsonFault::ExpectedColon),
            ("{1:2}", JsonFault::ExpectedName),
            ("[1 2]", JsonFault::ExpectedSeparator),
        ];
        for (s, f) in cases {
            assert_eq!(fault(s), f, "{s:?}");
        }
        assert_eq!(fault("\u{feff}{}"), JsonFault::UnexpectedByte);
        assert_eq!(fault("{} {}"), JsonFault::TrailingCharacters);
        assert_eq!(fault("tru"), JsonFault::UnexpectedByte);
    }

    #[test]
    fn depth_limit_is_exact() {
        let deep = |n: usize| {
            let mut s = [0u8; 400];
            s[..n].fill(b'[');
            s[n..2 * n].fill(b']');
            (s, 2 * n)
        };
        let (s, len) = deep(128);
        let text = core::str::from_utf8(&s[..len]).unwrap();
        assert!(scan(text, MAX_DEPTH, &mut ()).is_ok());
        assert_eq!(
            scan(text, 127, &mut ()).unwrap_err().fault,
            JsonFault::TooDeep
        );
        let (s, len) = deep(129);
        let text = core::str::from_utf8(&s[..len]).unwrap();
        let err = scan(text, MAX_DEPTH, &mut ()).unwrap_err();
        assert_eq!((err.fault, err.offset), (JsonFault::TooDeep, 128));
    }

    #[test]
    fn swar_finds_the_first_special_byte() {
        let text = b"abcdefgh\"ijklmnop";
        assert_eq!(skip_plain(text, 0), 8);
        let text = b"abc\x1fdefgh";
        assert_eq!(skip_plain(text, 0), 3);
        let text = "aé€😀\\zzzzzzz".as_bytes();
        assert_eq!(skip_plain(text, 0), 1 + 2 + 3 + 4);
        assert_eq!(skip_plain(b"abc", 0), 3);
    }

    struct Collect<'a>([(&'a str, &'a str); 4], usize);
    impl<'a> Visit<'a> for Collect<'a> {
        fn root_member(&mut self, name: &'a str, _: bool, value: &'a str) {
            if let Some(slot) = self.0.get_mut(self.1) {
                *slot = (name, value);
            }
            self.1 += 1;
        }
    }

    #[test]
    fn reports_top_level_members_only() {
        let mut c = Collect([("", ""); 4], 0);
        scan(
            " { \"a\" : [1,{\"x\":2}] , \"b\":{} ,\"c\":\"s\\\"\" , \"d\" : -1.5e3 } ",
            MAX_DEPTH,
            &mut c,
        )
        .unwrap();
        assert_eq!(c.1, 4);
        assert_eq!(c.0[0], ("a", "[1,{\"x\":2}]"));
        assert_eq!(c.0[1], ("b", "{}"));
        assert_eq!(c.0[2], ("c", "\"s\\\"\""));
        assert_eq!(c.0[3], ("d", "-1.5e3"));
    }
}
