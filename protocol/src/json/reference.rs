//! The scanner as first written, a byte at a time: the fast paths of [`super::scan`] must
//! agree with it on every text, fault and offset included.

use super::{JsonError, JsonFault, MAX_DEPTH};

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

mod agreement {
    use super::scan as reference;
    use crate::json::scan::{scan, Visit};
    use crate::json::MAX_DEPTH;

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
        let want = reference(text, max_depth, &mut |n, e, v| slow.push(n, e, v));
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
}
