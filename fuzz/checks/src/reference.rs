//! Independent reference helpers: small, obviously-correct re-implementations of what the
//! checks compare the codec against. None of them call `uhome-protocol`.
//!
//! Except for [`serde_accepts`] (serde_json's grammar check) they assume text that is
//! already known to be one valid JSON text, and stay total (never panic) on anything else.

use serde::de::IgnoredAny;

/// The whitespace of RFC 8259.
pub fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// serde_json's verdict on `text` as one JSON text, through `serde::de::IgnoredAny`.
///
/// That entry point walks the grammar without building values: it never converts numbers
/// (so `1e400` is accepted, as RFC 8259 allows), does not pair surrogate escapes (lone
/// surrogates are accepted) and keeps its nesting on a heap stack (no depth limit).
pub fn serde_accepts(text: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(text).is_ok()
}

/// The index just after the string whose opening quote is at `start` (or `b.len()`).
fn skip_string(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'"' => return i + 1,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    b.len()
}

/// Nesting depth as [UH-JSON-8] defines it: scalars 0, `[]` 1, `{"a":[1]}` 2.
pub fn depth(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_string(b, i);
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// The `\uXXXX` code units of every string in `text`, one `Vec` per string (in order).
fn escapes_per_string(text: &str) -> Vec<Vec<Option<u16>>> {
    // Each entry: Some(unit) for a \u escape, None for any other character or escape
    // (which breaks a surrogate pair).
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let end = skip_string(b, i);
        let inner = text
            .get(i + 1..end.saturating_sub(1).max(i + 1))
            .unwrap_or("");
        out.push(units(inner));
        i = end;
    }
    out
}

fn units(raw: &str) -> Vec<Option<u16>> {
    let mut out = Vec::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(None);
            continue;
        }
        match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(u16::from_str_radix(&hex, 16).ok());
            }
            _ => out.push(None),
        }
    }
    out
}

/// Whether any string in `text` holds a lone surrogate escape ([UH-JSON-7]).
pub fn has_lone_surrogate(text: &str) -> bool {
    escapes_per_string(text).iter().any(|units| {
        let mut i = 0;
        while i < units.len() {
            match units[i] {
                Some(0xd800..=0xdbff) => {
                    if matches!(units.get(i + 1), Some(Some(0xdc00..=0xdfff))) {
                        i += 2;
                        continue;
                    }
                    return true;
                }
                Some(0xdc00..=0xdfff) => return true,
                _ => {}
            }
            i += 1;
        }
        false
    })
}

/// Whether a string in `text` unescapes to one of serde_json's private magic keys
/// (`$serde_json::private::RawValue` with its `raw_value` feature,
/// `$serde_json::private::Number` with `arbitrary_precision`): `serde_json::Value` reads an
/// object whose first key is one of them as a raw value or number token, not as an object,
/// and refuses it when the member's value is not such a token.
pub fn has_serde_json_magic_key(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let end = skip_string(b, i);
        let inner = text
            .get(i + 1..end.saturating_sub(1).max(i + 1))
            .unwrap_or("");
        if unescape(inner).starts_with("$serde_json::private::") {
            return true;
        }
        i = end;
    }
    false
}

/// Whether `text` holds a number that is infinite as an `f64` (`1e400`): valid JSON that
/// serde_json's `Value` (without `arbitrary_precision`) refuses as "number out of range".
pub fn has_infinite_number(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = text.get(start..i).unwrap_or("0");
                if number.parse::<f64>().is_ok_and(f64::is_infinite) {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// Unescapes the text between a string's quotes as [UH-JSON-7] recommends: escapes
/// decoded, surrogate pairs joined, every lone surrogate replaced by U+FFFD.
pub fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    let mut pending_high: Option<u32> = None;
    let flush = |pending: &mut Option<u32>, out: &mut String| {
        if pending.take().is_some() {
            out.push('\u{fffd}');
        }
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush(&mut pending_high, &mut out);
            out.push(c);
            continue;
        }
        let simple = match chars.next() {
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = u32::from_str_radix(&hex, 16).unwrap_or(0xfffd);
                match unit {
                    0xd800..=0xdbff => {
                        flush(&mut pending_high, &mut out);
                        pending_high = Some(unit);
                    }
                    0xdc00..=0xdfff => match pending_high.take() {
                        Some(high) => out.push(
                            char::from_u32(0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00))
                                .unwrap_or('\u{fffd}'),
                        ),
                        None => out.push('\u{fffd}'),
                    },
                    _ => {
                        flush(&mut pending_high, &mut out);
                        out.push(char::from_u32(unit).unwrap_or('\u{fffd}'));
                    }
                }
                continue;
            }
            _ => '\u{fffd}',
        };
        flush(&mut pending_high, &mut out);
        out.push(simple);
    }
    flush(&mut pending_high, &mut out);
    out
}

/// The index just after the value starting at `i` in valid JSON `b`.
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'[' | b'{') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j);
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            j
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// One member of an object: the raw name (between the quotes) and the value's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefMember<'a> {
    /// The name as written, escapes included.
    pub raw_name: &'a str,
    /// The name unescaped ([`unescape`]).
    pub name: String,
    /// The value's text, without surrounding whitespace.
    pub value: &'a str,
}

/// The members of the object `text` (valid JSON, starting with `{` after trimming), in
/// document order, repeated names included. `None` when `text` is not an object.
pub fn members(text: &str) -> Option<Vec<RefMember<'_>>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    i = skip_ws(b, i + 1);
    while b.get(i) == Some(&b'"') {
        let name_end = skip_string(b, i);
        let raw_name = text.get(i + 1..name_end - 1)?;
        let colon = skip_ws(b, name_end);
        let start = skip_ws(b, colon + 1);
        let end = skip_value(b, start);
        out.push(RefMember {
            raw_name,
            name: unescape(raw_name),
            value: text.get(start..end)?,
        });
        i = skip_ws(b, end);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
    }
    Some(out)
}

/// The elements of the array `text` (valid JSON), in order. `None` when not an array.
pub fn elements(text: &str) -> Option<Vec<&str>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    i = skip_ws(b, i + 1);
    while i < b.len() && b[i] != b']' {
        let end = skip_value(b, i);
        out.push(text.get(i..end)?);
        i = skip_ws(b, end);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
    }
    Some(out)
}

/// Valid JSON text in a canonical spelling, for comparing two writers: the hex digits of
/// every `\u` escape in lower case (serde-json-core writes `\u001F`, serde_json `\u001f`)
/// and every number with a fraction or exponent respelled from its `f64` value
/// (serde-json-core writes `1e233`, serde_json `1e+233`). Integers are kept as written.
pub fn canonical(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = skip_string(b, i);
                let mut chars = text.get(i..end).unwrap_or("").chars();
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '\\' {
                        match chars.next() {
                            Some('u') => {
                                out.push('u');
                                out.extend(chars.by_ref().take(4).map(|h| h.to_ascii_lowercase()));
                            }
                            Some(other) => out.push(other),
                            None => {}
                        }
                    }
                }
                i = end;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = text.get(start..i).unwrap_or("");
                match number.parse::<f64>() {
                    Ok(f) if number.contains(['.', 'e', 'E']) => out.push_str(&format!("{f:e}")),
                    _ => out.push_str(number),
                }
            }
            _ => {
                let start = i;
                i += 1;
                while i < b.len() && !matches!(b[i], b'"' | b'-' | b'0'..=b'9') {
                    i += 1;
                }
                out.push_str(text.get(start..i).unwrap_or(""));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_uh_json_8() {
        assert_eq!(depth("1"), 0);
        assert_eq!(depth("\"[[[\""), 0);
        assert_eq!(depth("{}"), 1);
        assert_eq!(depth(r#"{"a":[1]}"#), 2);
        assert_eq!(depth(r#"[[],[[ "]\"]" ]]]"#), 3);
    }

    #[test]
    fn lone_surrogates_are_found() {
        assert!(!has_lone_surrogate(r#""\ud83d\ude00""#));
        assert!(has_lone_surrogate(r#""\ud800""#));
        assert!(has_lone_surrogate(r#""\udc00\ud800""#));
        assert!(has_lone_surrogate(r#"["\ud800", "\udc00"]"#));
        assert!(has_lone_surrogate(r#""\ud800\ud800\udc00""#));
        assert!(!has_lone_surrogate(r#""\\ud800""#));
    }

    #[test]
    fn serde_json_magic_keys_are_found() {
        assert!(has_serde_json_magic_key(
            r#"{"$serde_json::private::RawValue":""}"#
        ));
        assert!(has_serde_json_magic_key(
            r#"[{"\u0024serde_json::private::Number":1}]"#
        ));
        assert!(!has_serde_json_magic_key(
            r#"{"serde_json::private::RawValue":""}"#
        ));
    }

    #[test]
    fn infinite_numbers_are_found() {
        assert!(has_infinite_number("[1e400]"));
        assert!(has_infinite_number("-1E+999"));
        assert!(!has_infinite_number("[1e300, \"1e400\", 1e-400]"));
    }

    #[test]
    fn unescape_replaces_lone_surrogates() {
        assert_eq!(unescape(r#"a\"\\\/\b\f\n\r\t"#), "a\"\\/\u{8}\u{c}\n\r\t");
        assert_eq!(unescape(r"\u00b5\ud83d\ude00"), "µ😀");
        assert_eq!(
            unescape(r"\ud800x\udc00\ud800\ud800\udc00"),
            "\u{fffd}x\u{fffd}\u{fffd}\u{10000}"
        );
        assert_eq!(unescape(r"\ud800"), "\u{fffd}");
    }

    #[test]
    fn members_and_elements_split_valid_json() {
        let m = members(r#" { "a" : [1,{"x":"}"}] , "typ\u0065":"s" ,"a":-1.5e3 } "#).unwrap();
        let got: Vec<(&str, &str)> = m.iter().map(|m| (m.name.as_str(), m.value)).collect();
        assert_eq!(
            got,
            [
                ("a", r#"[1,{"x":"}"}]"#),
                ("type", "\"s\""),
                ("a", "-1.5e3")
            ]
        );
        assert_eq!(members("[]"), None);
        assert_eq!(members("{ }").unwrap().len(), 0);
        assert_eq!(
            elements(r#"[ 1 , "a]" , [ ] ,{}]"#).unwrap(),
            ["1", "\"a]\"", "[ ]", "{}"]
        );
    }

    #[test]
    fn serde_ignored_any_is_the_grammar() {
        assert!(serde_accepts("1e400"));
        assert!(serde_accepts(r#""\ud800""#));
        assert!(serde_accepts(&format!(
            "{}{}",
            "[".repeat(500),
            "]".repeat(500)
        )));
        for bad in [
            "",
            "01",
            "[1,]",
            "\"\\x\"",
            "\"a\u{1}\"",
            "{} {}",
            "\u{feff}{}",
            "tru",
        ] {
            assert!(!serde_accepts(bad), "{bad:?}");
        }
    }

    #[test]
    fn canonical_spelling_only_touches_escapes_and_floats() {
        assert_eq!(
            canonical(r#"["\u001F\\u00AB", "AB", 1e+233, 6.5E233, 10, -0.0, "1e+2"]"#),
            r#"["\u001f\\u00AB", "AB", 1e233, 6.5e233, 10, -0e0, "1e+2"]"#
        );
        assert_ne!(canonical("[1.5]"), canonical("[1.25]"));
    }
}
