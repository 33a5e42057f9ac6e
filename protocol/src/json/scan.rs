//! The validating scanner: one pass, an explicit bit stack instead of recursion.

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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of `v` that is `"`, `\` or a control byte: zero when there is none,
/// and the lowest set byte is always right. `^ 0x02` turns `"` into 0x20 and keeps controls
/// below it, so both are "below 0x21"; `^ 0x5c` turns `\` into 0. A borrow can only start
/// at such a byte, and bytes >= 0x80 are masked out.
#[inline(always)]
fn stops(v: u64) -> u64 {
    let quote_or_control = (v ^ (ONES * 0x02)).wrapping_sub(ONES * 0x21);
    let backslash = (v ^ (ONES * b'\\' as u64)).wrapping_sub(ONES);
    (quote_or_control | backslash) & !v & HIGHS
}

/// Index of the first `"`, `\` or control byte at or after `i` (or `b.len()`).
#[inline(always)]
pub(crate) fn skip_plain(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let hits = stops(u64::from_le_bytes(word));
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

/// Bytes that end a run of plain string text: `"`, `\` and the controls U+0000..U+001F.
static STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut rest: &mut [bool] = &mut table;
    let mut c = 0;
    while let [slot, tail @ ..] = rest {
        *slot = c < 0x20 || c == b'"' as usize || c == b'\\' as usize;
        rest = tail;
        c += 1;
    }
    table
};

#[inline(always)]
fn stop(c: u8) -> bool {
    STOP.get(usize::from(c)).copied().unwrap_or(true)
}

/// The first byte of `w` that ends a run of plain string text, and its index.
///
/// Tests in a chain rather than arithmetic on the word: each is a branch the processor
/// predicts, so the position of the next token does not wait on the load.
#[inline(always)]
fn first_stop(w: &[u8; 8]) -> Option<(usize, u8)> {
    let [c0, c1, c2, c3, c4, c5, c6, c7] = *w;
    if stop(c0) {
        Some((0, c0))
    } else if stop(c1) {
        Some((1, c1))
    } else if stop(c2) {
        Some((2, c2))
    } else if stop(c3) {
        Some((3, c3))
    } else if stop(c4) {
        Some((4, c4))
    } else if stop(c5) {
        Some((5, c5))
    } else if stop(c6) {
        Some((6, c6))
    } else if stop(c7) {
        Some((7, c7))
    } else {
        None
    }
}

/// Skips plain string text from `i` two words at a time: the index of the first stop byte,
/// or of the tail shorter than a word.
#[inline(always)]
fn skip_long(b: &[u8], i: usize) -> usize {
    let Some(mut rest) = b.get(i..) else {
        return i;
    };
    while let Some((pair, tail)) = rest.split_first_chunk::<16>() {
        let (low, high) = pair.split_at(8);
        let low = low
            .first_chunk::<8>()
            .map_or(0, |w| stops(u64::from_le_bytes(*w)));
        let high = high
            .first_chunk::<8>()
            .map_or(0, |w| stops(u64::from_le_bytes(*w)));
        if low | high != 0 {
            let at = if low != 0 {
                low.trailing_zeros() / 8
            } else {
                8 + high.trailing_zeros() / 8
            };
            return b.len() - rest.len() + at as usize;
        }
        rest = tail;
    }
    if let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let hits = stops(u64::from_le_bytes(*word));
        if hits != 0 {
            return b.len() - rest.len() + (hits.trailing_zeros() / 8) as usize;
        }
        rest = tail;
    }
    b.len() - rest.len()
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
    fn word_test_is_exact() {
        // Every byte at every position, among plain ASCII, high bytes and other stops.
        for background in [b'a', 0x80, 0xff, b'"'] {
            for x in 0..=255u8 {
                for at in 0..8 {
                    let mut word = [background; 8];
                    word[at] = x;
                    let hits = stops(u64::from_le_bytes(word));
                    let first = word.iter().position(|&c| stop(c));
                    assert_eq!(
                        (hits != 0).then(|| hits.trailing_zeros() as usize / 8),
                        first,
                        "{word:?}"
                    );
                }
            }
        }
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

    /// The scanner as first written, a byte at a time: the fast paths must agree with it on
    /// every text, fault and offset included.
    mod reference {
        use super::super::{JsonError, JsonFault, MAX_DEPTH};

        fn fail<T>(fault: JsonFault, offset: usize) -> Result<T, JsonError> {
            Err(JsonError { fault, offset })
        }

        fn ws(b: &[u8], mut i: usize) -> usize {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
                i += 1;
            }
            i
        }

        fn string(b: &[u8], mut i: usize) -> Result<(usize, bool), JsonError> {
            let mut escaped = false;
            loop {
                match b.get(i) {
                    Some(b'"') => return Ok((i + 1, escaped)),
                    Some(b'\\') => {
                        escaped = true;
                        match b.get(i + 1) {
                            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                            Some(b'u') => match b.get(i + 2..i + 6) {
                                Some(h) if h.iter().all(u8::is_ascii_hexdigit) => i += 6,
                                _ => return fail(JsonFault::InvalidEscape, i),
                            },
                            Some(_) => return fail(JsonFault::InvalidEscape, i),
                            None => return fail(JsonFault::UnterminatedString, i),
                        }
                    }
                    Some(&c) if c < 0x20 => return fail(JsonFault::ControlCharacter, i),
                    Some(_) => i += 1,
                    None => return fail(JsonFault::UnterminatedString, i),
                }
            }
        }

        fn digits(b: &[u8], mut i: usize) -> usize {
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
            i
        }

        fn number(b: &[u8], mut i: usize) -> Result<usize, JsonError> {
            if b.get(i) == Some(&b'-') {
                i += 1;
            }
            match b.get(i) {
                Some(b'0') => i += 1,
                Some(b'1'..=b'9') => i = digits(b, i + 1),
                _ => return fail(JsonFault::InvalidNumber, i),
            }
            if b.get(i) == Some(&b'.') {
                let d = digits(b, i + 1);
                if d == i + 1 {
                    return fail(JsonFault::InvalidNumber, i + 1);
                }
                i = d;
            }
            if let Some(b'e' | b'E') = b.get(i) {
                i += 1;
                if let Some(b'+' | b'-') = b.get(i) {
                    i += 1;
                }
                let d = digits(b, i);
                if d == i {
                    return fail(JsonFault::InvalidNumber, i);
                }
                i = d;
            }
            Ok(i)
        }

        fn literal(b: &[u8], i: usize, l: &[u8]) -> Result<usize, JsonError> {
            if b.get(i..i + l.len()) == Some(l) {
                Ok(i + l.len())
            } else {
                fail(JsonFault::UnexpectedByte, i)
            }
        }

        /// `"name" :` at `i`; returns where the value starts and the name's span.
        fn name(b: &[u8], i: usize) -> Result<(usize, (usize, usize, bool)), JsonError> {
            if b.get(i) != Some(&b'"') {
                return fail(JsonFault::ExpectedName, i);
            }
            let (end, escaped) = string(b, i + 1)?;
            let colon = ws(b, end);
            if b.get(colon) != Some(&b':') {
                return fail(JsonFault::ExpectedColon, colon);
            }
            Ok((ws(b, colon + 1), (i + 1, end - 1, escaped)))
        }

        /// Validates `text`, calling `visit` for each member of a top-level object.
        pub fn scan<'a>(
            text: &'a str,
            max_depth: usize,
            visit: &mut dyn FnMut(&'a [u8], bool, &'a str),
        ) -> Result<(), JsonError> {
            let b = text.as_bytes();
            let max_depth = max_depth.min(MAX_DEPTH);
            let mut stack: u128 = 0;
            let mut depth = 0usize;
            let mut member = ((0, 0, false), 0);
            let mut i = ws(b, 0);
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
                        i = ws(b, i + 1);
                        let close = if object { b'}' } else { b']' };
                        if b.get(i) == Some(&close) {
                            i += 1;
                            depth -= 1;
                            stack >>= 1;
                        } else {
                            if object {
                                let (start, span) = name(b, i)?;
                                if depth == 1 {
                                    member = (span, start);
                                }
                                i = start;
                            }
                            continue 'value;
                        }
                    }
                    b'"' => i = string(b, i + 1)?.0,
                    b'-' | b'0'..=b'9' => i = number(b, i)?,
                    b't' => i = literal(b, i, b"true")?,
                    b'f' => i = literal(b, i, b"false")?,
                    b'n' => i = literal(b, i, b"null")?,
                    _ => return fail(JsonFault::UnexpectedByte, i),
                }
                loop {
                    if depth == 0 {
                        i = ws(b, i);
                        return if i == b.len() {
                            Ok(())
                        } else {
                            fail(JsonFault::TrailingCharacters, i)
                        };
                    }
                    let object = stack & 1 == 1;
                    if depth == 1 && object {
                        let ((s, e, escaped), start) = member;
                        visit(&b[s..e], escaped, &text[start..i]);
                    }
                    i = ws(b, i);
                    match b.get(i) {
                        Some(b',') => {
                            i = ws(b, i + 1);
                            if object {
                                let (start, span) = name(b, i)?;
                                if depth == 1 {
                                    member = (span, start);
                                }
                                i = start;
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
    }

    /// Records up to 8 reported members; `n` counts them all.
    #[derive(Default, PartialEq, Debug)]
    struct Members<'a> {
        seen: [(&'a [u8], bool, &'a str); 8],
        n: usize,
    }

    impl<'a> Members<'a> {
        fn push(&mut self, name: &'a [u8], escaped: bool, value: &'a str) {
            if let Some(slot) = self.seen.get_mut(self.n) {
                *slot = (name, escaped, value);
            }
            self.n += 1;
        }
    }

    impl<'a> Visit<'a> for Members<'a> {
        fn root_member(&mut self, name: &'a [u8], escaped: bool, value: &'a str) {
            self.push(name, escaped, value);
        }
    }

    /// Scans `text` with both scanners and asserts they agree, members included.
    fn agree(text: &str, max_depth: usize) {
        let mut fast = Members::default();
        let got = scan(text, max_depth, &mut fast);
        let mut slow = Members::default();
        let want = reference::scan(text, max_depth, &mut |n, e, v| slow.push(n, e, v));
        assert_eq!(got, want, "{text:?} at depth {max_depth}");
        if want.is_ok() {
            assert_eq!(fast, slow, "{text:?}");
        }
    }

    /// A text built in a fixed buffer.
    struct Buf {
        bytes: [u8; 512],
        len: usize,
    }

    impl Buf {
        fn new() -> Self {
            Buf {
                bytes: [0; 512],
                len: 0,
            }
        }

        fn push(&mut self, piece: &[u8]) -> &mut Self {
            let end = (self.len + piece.len()).min(self.bytes.len());
            self.bytes[self.len..end].copy_from_slice(&piece[..end - self.len]);
            self.len = end;
            self
        }

        fn text(&self) -> Option<&str> {
            core::str::from_utf8(&self.bytes[..self.len]).ok()
        }
    }

    #[test]
    fn string_ends_at_every_offset_of_a_word() {
        // Each way a run of plain text can end, after 0 to 71 plain bytes: every offset in
        // and across the byte tests and the words, and the tail shorter than a word.
        let ends: [&[u8]; 14] = [
            b"\"",
            b"\\\"x\"",
            b"\\u00e9\"",
            b"\\uD83D\\uDE00\"",
            b"\\x\"",
            b"\\u12\"",
            b"\\",
            b"\x01\"",
            b"\x1f",
            b"\t\"",
            b"\0\"",
            b"",
            "é€😀\"".as_bytes(),
            b"\x7f\"",
        ];
        // Where the string sits: top level, element, member name and value (nested and at
        // the top level, where long runs take the word-at-a-time path).
        let contexts: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"[1,", b",2]"),
            (b"[{", b":1}]"),
            (b"[{\"k\":", b"}]"),
            (b"{", b":1}"),
            (b"{\"k\":", b"}"),
            (b"{\"k\":", b",\"z\":0}"),
        ];
        for (before, after) in contexts {
            for end in ends {
                for len in 0..72 {
                    for multibyte in [false, true] {
                        let mut buf = Buf::new();
                        buf.push(before).push(b"\"");
                        for k in 0..len {
                            // A two-byte character straddles the words at odd offsets.
                            if multibyte && k % 3 == 1 {
                                buf.push("µ".as_bytes());
                            } else {
                                buf.push(b"a");
                            }
                        }
                        buf.push(end).push(after);
                        let text = buf.text().expect("UTF-8");
                        agree(text, MAX_DEPTH);
                        // Cut short: every prefix ends inside or right after the string.
                        for cut in [1, 2, 3, 7, 8, 9] {
                            if let Some(t) = text.get(..text.len().saturating_sub(cut)) {
                                agree(t, MAX_DEPTH);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn root_members_and_depth_limits_agree() {
        let texts = [
            r#"{"a":{}}"#,
            r#"{"a":[1,[2]],"b":{"c":{"d":[]}}}"#,
            r#" { "a" : [ ] , "b" : "x" } "#,
            r#"{"a":1}{"#,
            r#"{"a":1"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":}"#,
            r#"{"a":"x" "b":1}"#,
            r#"{"t\u0079pe":"x","type":"y"}"#,
            r#"[{"a":1},{"b":[{"c":2}]}]"#,
            "[[[[]]]]",
            "[[[[1]]],[]]",
            "{}",
            "[]",
            "\"top\"",
            "-0.5e+7",
            "nul",
            "[tru]",
            "{\"a\":fals}",
        ];
        for text in texts {
            for depth in 0..6 {
                agree(text, depth);
            }
            agree(text, 500);
        }
    }

    /// xorshift64: deterministic inputs without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_texts_agree_with_the_reference() {
        const PIECES: [&[u8]; 40] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b"\"",
            b"\\",
            b" ",
            b"\n\t",
            b"0",
            b"-",
            b"17",
            b".",
            b"e",
            b"E+",
            b"true",
            b"false",
            b"null",
            b"tru",
            b"\\u",
            b"\\u00e9",
            b"\\n",
            b"\\x",
            b"\x00",
            b"\x1f",
            b"\x7f",
            b"\"id\":",
            b"\"type\":",
            b"\"abcdefghij\"",
            b"\"abcdefghijklmnopqrstuvwxyz0123\"",
            b"123456789012",
            b"0.5e-3",
            b"abcdefg",
            b"\"k\":[",
            b"{\"n\":{\"m\":",
            b"]}",
            b"\"sensor\":\"hall-12\",",
            b"\xc2\xb5",
            b"\xf0\x9f\x98\x80",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut checked = 0;
        for _ in 0..30_000 {
            let mut buf = Buf::new();
            // Mostly well-formed openings, then anything.
            if rng.below(2) == 0 {
                buf.push(b"{\"id\":\"");
            }
            for _ in 0..rng.below(40) {
                buf.push(PIECES[rng.below(PIECES.len())]);
            }
            if let Some(text) = buf.text() {
                agree(text, [0, 1, 2, 3, MAX_DEPTH][rng.below(5)]);
                checked += 1;
            }
        }
        assert!(checked > 20_000);
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
