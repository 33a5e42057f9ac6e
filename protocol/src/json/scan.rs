//! The grammar: the validating scanner, one pass, an explicit bit stack instead of recursion.

use super::words::{first_stop, skip_long, stop};
use super::{JsonError, JsonFault, MAX_DEPTH};

/// Hooks into a scan. Only members of a top-level object are reported: that is all the
/// envelope needs, and it keeps the scan a single pass.
pub(crate) trait Visit<'a> {
    /// A member of the top-level object: its raw name (the UTF-8 bytes between the quotes),
    /// whether the name has escapes, and its value's text.
    fn root_member(&mut self, name: &'a [u8], escaped: bool, value: &'a str);
}

impl<'a> Visit<'a> for () {
    #[inline(always)]
    fn root_member(&mut self, _: &'a [u8], _: bool, _: &'a str) {}
}

#[inline]
fn fail<T>(fault: JsonFault, offset: usize) -> Result<T, JsonError> {
    Err(JsonError { fault, offset })
}

/// The fault for a byte at `i` that is neither of the expected ones: `fault`, or
/// `UnexpectedEnd` past the end.
#[cold]
#[inline(never)]
fn fault_at(b: &[u8], i: usize, fault: JsonFault) -> JsonError {
    let fault = if i < b.len() {
        fault
    } else {
        JsonFault::UnexpectedEnd
    };
    JsonError { fault, offset: i }
}

/// A control byte at `i` inside a string, or the end of the text.
#[cold]
#[inline(never)]
fn string_fault(b: &[u8], i: usize) -> JsonError {
    let fault = if i < b.len() {
        JsonFault::ControlCharacter
    } else {
        JsonFault::UnterminatedString
    };
    JsonError { fault, offset: i }
}

/// The byte at `i`, or 0 past the end. A NUL byte is refused wherever it appears, so one
/// test covers both; the error paths tell them apart.
#[inline(always)]
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The first index at or after `i` that is not whitespace, and its byte (0 past the end).
#[inline(always)]
fn next(b: &[u8], mut i: usize) -> (usize, u8) {
    loop {
        let c = at(b, i);
        // Every whitespace byte is <= 0x20: one comparison settles the compact case.
        if c > b' ' || !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            return (i, c);
        }
        i += 1;
    }
}

#[inline]
pub(crate) fn skip_ws(b: &[u8], i: usize) -> usize {
    next(b, i).0
}

/// Scans a string whose opening quote is at `i - 1`; returns the index after the closing
/// quote and whether it has escapes. (The scanner's own hot paths inline `scan_str`.)
#[inline(never)]
pub(crate) fn scan_string(b: &[u8], i: usize) -> Result<(usize, bool), JsonError> {
    scan_str::<false>(b, i)
}

/// As [`scan_string`]. The first sixteen bytes of each run of plain text are tested one at
/// a time (most strings end there, and predicted tests keep the position of the next token
/// off the loads); longer runs are skipped two words at a time. With `LONG` (top-level
/// member values: ids, timestamps, node ids and types run to tens of bytes), whole words are
/// skipped from the start.
#[inline(always)]
fn scan_str<const LONG: bool>(b: &[u8], mut i: usize) -> Result<(usize, bool), JsonError> {
    let mut escaped = false;
    loop {
        if LONG {
            i = skip_long(b, i);
        }
        let c = if let Some(window) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
            let (head, tail) = window.split_at(8);
            let found = match head.first_chunk::<8>().and_then(first_stop) {
                Some(hit) => Some(hit),
                None => tail
                    .first_chunk::<8>()
                    .and_then(first_stop)
                    .map(|(k, c)| (8 + k, c)),
            };
            let Some((k, c)) = found else {
                i = skip_long(b, i + 16);
                continue;
            };
            i += k;
            c
        } else {
            // The last bytes of the text.
            let c = at(b, i);
            if !stop(c) {
                i += 1;
                continue;
            }
            c
        };
        if c == b'"' {
            return Ok((i + 1, escaped));
        }
        if c != b'\\' {
            return Err(string_fault(b, i));
        }
        escaped = true;
        i = escape(b, i)?;
    }
}

/// The index after the escape whose backslash is at `i`.
#[inline(always)]
fn escape(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let e = at(b, i + 1);
    if matches!(e, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') {
        return Ok(i + 2);
    }
    if e == b'u' {
        return match b.get(i + 2..i + 6) {
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(i + 6),
            _ => fail(JsonFault::InvalidEscape, i),
        };
    }
    if i + 1 < b.len() {
        fail(JsonFault::InvalidEscape, i)
    } else {
        fail(JsonFault::UnterminatedString, i)
    }
}

#[inline(always)]
fn skip_digits(b: &[u8], mut i: usize) -> usize {
    while at(b, i).wrapping_sub(b'0') < 10 {
        i += 1;
    }
    i
}

/// `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?` ([UH-JSON-4]); `c` is the byte at
/// `start`.
#[inline(always)]
fn scan_number(b: &[u8], start: usize, mut c: u8) -> Result<usize, JsonError> {
    let mut i = start;
    if c == b'-' {
        i += 1;
        c = at(b, i);
    }
    if c == b'0' {
        i += 1;
    } else if c.wrapping_sub(b'1') < 9 {
        i = skip_digits(b, i + 1);
    } else {
        return fail(JsonFault::InvalidNumber, i);
    }
    c = at(b, i);
    if c == b'.' {
        let digits = skip_digits(b, i + 1);
        if digits == i + 1 {
            return fail(JsonFault::InvalidNumber, i + 1);
        }
        i = digits;
        c = at(b, i);
    }
    if c | 0x20 == b'e' {
        i += 1;
        if let b'+' | b'-' = at(b, i) {
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

#[inline(always)]
fn scan_literal<const N: usize>(b: &[u8], i: usize, literal: &[u8; N]) -> Result<usize, JsonError> {
    if b.get(i..).and_then(<[u8]>::first_chunk::<N>) == Some(literal) {
        Ok(i + N)
    } else {
        fail(JsonFault::UnexpectedByte, i)
    }
}

/// Scans `"name" :` whose quote is at `i`; returns where the value starts and its byte.
#[inline(always)]
fn member(b: &[u8], i: usize) -> Result<(usize, u8), JsonError> {
    let (end, _) = scan_str::<false>(b, i + 1)?;
    let (colon, c) = next(b, end);
    if c != b':' {
        return fail(JsonFault::ExpectedColon, colon);
    }
    Ok(next(b, colon + 1))
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
    let (i, c) = next(b, 0);
    let end = if c == b'{' && max_depth > 0 {
        root_object(text, i, max_depth - 1, visit)?
    } else {
        value(b, i, c, max_depth)?
    };
    let (i, _) = next(b, end);
    if i == b.len() {
        Ok(())
    } else {
        fail(JsonFault::TrailingCharacters, i)
    }
}

/// The top-level object whose `{` is at `i`, its members reported to `visit`; `limit` is
/// the depth left for member values. Returns the index after the `}`.
#[inline(always)]
fn root_object<'a, V: Visit<'a>>(
    text: &'a str,
    i: usize,
    limit: usize,
    visit: &mut V,
) -> Result<usize, JsonError> {
    let b = text.as_bytes();
    let (mut i, mut c) = next(b, i + 1);
    if c == b'}' {
        return Ok(i + 1);
    }
    loop {
        if c != b'"' {
            return fail(JsonFault::ExpectedName, i);
        }
        let (name_end, escaped) = scan_str::<false>(b, i + 1)?;
        let (colon, c2) = next(b, name_end);
        if c2 != b':' {
            return fail(JsonFault::ExpectedColon, colon);
        }
        let (start, c3) = next(b, colon + 1);
        let stop = if c3 == b'"' {
            scan_str::<true>(b, start + 1)?.0
        } else {
            value(b, start, c3, limit)?
        };
        if let (Some(n), Some(v)) = (b.get(i + 1..name_end - 1), text.get(start..stop)) {
            visit.root_member(n, escaped, v);
        }
        let (j, c4) = next(b, stop);
        match c4 {
            b',' => (i, c) = next(b, j + 1),
            b'}' => return Ok(j + 1),
            _ => return Err(fault_at(b, j, JsonFault::ExpectedSeparator)),
        }
    }
}

/// A value other than an object or array at `i`, whose byte is `c`; returns the index
/// after it.
#[inline(always)]
fn scalar(b: &[u8], i: usize, c: u8) -> Result<usize, JsonError> {
    // Tests in order of frequency rather than a jump table.
    if c == b'"' {
        Ok(scan_string(b, i + 1)?.0)
    } else if c.wrapping_sub(b'0') < 10 || c == b'-' {
        scan_number(b, i, c)
    } else if c == b't' {
        scan_literal(b, i, b"true")
    } else if c == b'f' {
        scan_literal(b, i, b"false")
    } else if c == b'n' {
        scan_literal(b, i, b"null")
    } else {
        Err(fault_at(b, i, JsonFault::UnexpectedByte))
    }
}

/// Validates the value starting at `i` (whose byte is `c`) with at most `limit` levels of
/// nesting; returns the index after it.
#[inline]
fn value(b: &[u8], mut i: usize, mut c: u8, limit: usize) -> Result<usize, JsonError> {
    if c != b'{' && c != b'[' {
        return scalar(b, i, c);
    }
    // Bit n set: the container at depth n+1 (counting from the innermost) is an object.
    let mut stack: u128 = 0;
    let mut depth = 0usize;
    'value: loop {
        if c == b'"' {
            i = scan_str::<false>(b, i + 1)?.0;
        } else if c == b'{' || c == b'[' {
            if depth >= limit {
                return fail(JsonFault::TooDeep, i);
            }
            depth += 1;
            let object = c == b'{';
            stack = (stack << 1) | object as u128;
            (i, c) = next(b, i + 1);
            if object {
                if c == b'"' {
                    (i, c) = member(b, i)?;
                    continue 'value;
                }
                if c != b'}' {
                    return fail(JsonFault::ExpectedName, i);
                }
            } else if c != b']' {
                continue 'value;
            }
            i += 1;
            depth -= 1;
            stack >>= 1;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i = scalar(b, i, c)?;
        }
        // A value ended at `i`, inside a container; close containers until another value
        // is due.
        loop {
            let object = stack & 1 == 1;
            let (j, d) = next(b, i);
            if d == b',' {
                (i, c) = next(b, j + 1);
                if object {
                    if c != b'"' {
                        return fail(JsonFault::ExpectedName, i);
                    }
                    (i, c) = member(b, i)?;
                }
                continue 'value;
            }
            if d != if object { b'}' } else { b']' } {
                return Err(fault_at(b, j, JsonFault::ExpectedSeparator));
            }
            i = j + 1;
            depth -= 1;
            stack >>= 1;
            if depth == 0 {
                return Ok(i);
            }
        }
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

    struct Collect<'a>([(&'a [u8], &'a str); 4], usize);
    impl<'a> Visit<'a> for Collect<'a> {
        fn root_member(&mut self, name: &'a [u8], _: bool, value: &'a str) {
            if let Some(slot) = self.0.get_mut(self.1) {
                *slot = (name, value);
            }
            self.1 += 1;
        }
    }

    #[test]
    fn reports_top_level_members_only() {
        let mut c = Collect([(b"", ""); 4], 0);
        scan(
            " { \"a\" : [1,{\"x\":2}] , \"b\":{} ,\"c\":\"s\\\"\" , \"d\" : -1.5e3 } ",
            MAX_DEPTH,
            &mut c,
        )
        .unwrap();
        assert_eq!(c.1, 4);
        assert_eq!(c.0[0], (&b"a"[..], "[1,{\"x\":2}]"));
        assert_eq!(c.0[1], (&b"b"[..], "{}"));
        assert_eq!(c.0[2], (&b"c"[..], "\"s\\\"\""));
        assert_eq!(c.0[3], (&b"d"[..], "-1.5e3"));
    }
}
