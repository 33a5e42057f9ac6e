//! A grammar-aware input generator: JSON texts, µHome event payloads and frames rendered to
//! bytes from an [`arbitrary::Unstructured`], so that a fuzzer's random bytes become inputs
//! that reach past the JSON grammar into the envelope rules (spec/protocol.md sections 2,
//! 5 and 6).
//!
//! Entry points, each total (it returns `Ok` for every input, also an empty one; bytes that
//! run out read as the first choice, so the output stays small):
//!
//! - [`json_bytes`]: one JSON text, usually valid, sometimes with one grammar fault;
//! - [`valid_json_text`]: one JSON text that is always valid (lone surrogate escapes
//!   included, which [UH-JSON-7] makes acceptable), with no whitespace around the root;
//! - [`event_bytes`]: an event envelope payload, usually valid, often with one envelope
//!   fault (a member missing, empty, of the wrong type, repeated — also repeated only after
//!   unescaping, such as `"typ\u0065"`), sometimes with a JSON fault;
//! - [`frame_bytes`]: a frame ([UH-FRAME-1]) around an event or JSON payload, with versions
//!   1, 2 or other, status 1 or other, occasionally a `length` that lies, and sometimes
//!   bytes of a next frame after it.
//!
//! What the generator draws from: strings with every escape of [UH-JSON-5], `\u` escapes in
//! either hex case, surrogate pairs (valid, reversed, lone high, lone low), raw characters at
//! the UTF-8 length boundaries; numbers with fractions, exponents, `-0`, huge magnitudes and
//! (as faults) leading zeros, `+`, bare `-`, `.5`, `1.`, empty exponents; nesting of exactly
//! 63, 64, 65, 66, 127, 128 or 129 levels (the limits of [UH-JSON-8] and of the reference
//! codec) as well as shallow trees; names of the envelope spelled plainly or with escapes;
//! the reserved `µHome.core.*` types and look-alikes (Greek mu, `\u00b5`).
//!
//! Driving it from random bytes (as a differential fuzzer does):
//!
//! ```
//! use arbitrary::Unstructured;
//! let seed = [7u8; 256];
//! let mut u = Unstructured::new(&seed);
//! let frame = uhome_fuzz_checks::structured::frame_bytes(&mut u).unwrap();
//! assert!(frame.len() >= 5);
//! ```

use arbitrary::{Result, Unstructured};

/// Depths the deep values nest to: the spec's floor (64) and the reference codec's limit
/// (128), each with its neighbours.
pub const EDGE_DEPTHS: [usize; 7] = [63, 64, 65, 66, 127, 128, 129];

/// An upper bound on the text one call builds (a large input must not build megabytes).
const BUDGET: usize = 16 * 1024;

/// The reserved and near-reserved types an event's `type` is drawn from.
pub const TYPES: [&str; 14] = [
    "µHome.core.healthcheck",
    "µHome.core.register",
    "µHome.core.unregister",
    "µHome.core.discover",
    "µHome.core.nodes",
    "µHome.core.subscribe",
    "µHome.core.unsubscribe",
    "µHome.core.publish",
    "µHome.response",
    "µHome.error",
    "µHome.core.unknown",
    "μHome.core.register", // U+03BC GREEK SMALL LETTER MU: another type ([UH-EVENT-7])
    "echo",
    "sensor.temperature",
];

/// The six envelope member names of section 6.
pub const MEMBERS: [&str; 6] = ["id", "timestamp", "source", "type", "data", "error"];

/// Raw characters at UTF-8 encoding-length boundaries and other interesting points.
const BOUNDARY_CHARS: [char; 16] = [
    '\u{7f}',
    '\u{80}',
    'µ',
    '\u{7ff}',
    '\u{800}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{fdd0}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '\u{10000}',
    '😀',
    '\u{10ffff}',
    '\u{2028}',
    'μ',
];

/// The state of one generation: whether faults may be injected, and what is left to spend.
struct Gen<'u, 'd> {
    u: &'u mut Unstructured<'d>,
    faults: bool,
    budget: usize,
}

impl Gen<'_, '_> {
    /// A fault injection point: true rarely, and never in valid-only mode.
    fn fault(&mut self) -> Result<bool> {
        Ok(self.faults && self.u.ratio(1, 24)?)
    }

    fn spent(&mut self, n: usize) {
        self.budget = self.budget.saturating_sub(n);
    }

    /// Optional whitespace between tokens ([UH-JSON-6]); as a fault, a character that is
    /// not JSON whitespace.
    fn ws(&mut self, out: &mut String) -> Result<()> {
        if self.u.ratio(7, 8)? {
            return Ok(());
        }
        if self.fault()? {
            out.push(
                *self
                    .u
                    .choose(&['\u{b}', '\u{c}', '\u{a0}', '\u{feff}', '\0'])?,
            );
            return Ok(());
        }
        let n = self.u.int_in_range(1..=3)?;
        for _ in 0..n {
            out.push(*self.u.choose(&[' ', '\t', '\n', '\r'])?);
        }
        Ok(())
    }

    fn hex4(&mut self, out: &mut String, v: u16) -> Result<()> {
        let upper = self.u.arbitrary::<bool>()?;
        if upper {
            out.push_str(&format!("\\u{v:04X}"));
        } else {
            out.push_str(&format!("\\u{v:04x}"));
        }
        Ok(())
    }

    /// The body of a string literal (no quotes).
    fn string_body(&mut self, out: &mut String, max: usize) -> Result<()> {
        let n = self.u.int_in_range(0..=max)?;
        for _ in 0..n {
            if self.budget == 0 {
                break;
            }
            let before = out.len();
            match self.u.int_in_range(0u8..=11)? {
                0..=3 => {
                    let c = char::from(self.u.int_in_range(0x20u8..=0x7e)?);
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                4 => out.push_str(
                    self.u
                        .choose(&["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"])?,
                ),
                5 => {
                    let v = self.u.arbitrary::<u16>()?;
                    self.hex4(out, v)?;
                }
                // A valid surrogate pair (U+1F600, or any supplementary character).
                6 => {
                    let c = if self.u.arbitrary::<bool>()? {
                        0x1f600
                    } else {
                        self.u.int_in_range(0x10000u32..=0x10ffff)?
                    };
                    let c = c - 0x10000;
                    self.hex4(out, 0xd800 | (c >> 10) as u16)?;
                    self.hex4(out, 0xdc00 | (c & 0x3ff) as u16)?;
                }
                // Lone and misordered surrogates ([UH-JSON-7]: acceptable).
                7 => match self.u.int_in_range(0u8..=3)? {
                    0 => {
                        let v = self.u.int_in_range(0xd800..=0xdbff)?;
                        self.hex4(out, v)?;
                    }
                    1 => {
                        let v = self.u.int_in_range(0xdc00..=0xdfff)?;
                        self.hex4(out, v)?;
                    }
                    2 => {
                        self.hex4(out, 0xdc00)?;
                        self.hex4(out, 0xd800)?;
                    }
                    _ => {
                        self.hex4(out, 0xd83d)?;
                        out.push('x');
                    }
                },
                8 => out.push(*self.u.choose(&BOUNDARY_CHARS)?),
                9 => {
                    // An escaped spelling of a plain letter (names equal after unescaping).
                    let c = self.u.int_in_range(b'a'..=b'z')?;
                    self.hex4(out, u16::from(c))?;
                }
                10 if self.fault()? => out.push_str(self.u.choose(&[
                    "\\x41", "\\u12", "\\u12g4", "\\U0041", "\\'", "\\", "\u{1}", "\n", "\t",
                    "\\0", "\\a",
                ])?),
                _ => {
                    let c = self.u.arbitrary::<char>()?;
                    // Raw control characters are refused ([UH-JSON-5]); write them escaped.
                    if (c as u32) < 0x20 || c == '"' || c == '\\' {
                        self.hex4(out, c as u16)?;
                    } else {
                        out.push(c);
                    }
                }
            }
            let added = out.len() - before;
            self.spent(added);
        }
        Ok(())
    }

    fn string(&mut self, out: &mut String, max: usize) -> Result<()> {
        if self.fault()? {
            // Single quotes, or an unterminated string.
            if self.u.arbitrary::<bool>()? {
                out.push('\'');
                self.string_body(out, max)?;
                out.push('\'');
            } else {
                out.push('"');
                self.string_body(out, max)?;
            }
            return Ok(());
        }
        out.push('"');
        self.string_body(out, max)?;
        out.push('"');
        Ok(())
    }

    fn digits(&mut self, out: &mut String, first_nonzero: bool, max: usize) -> Result<()> {
        let n = self.u.int_in_range(1..=max)?;
        for i in 0..n {
            let lo = if i == 0 && first_nonzero { 1 } else { 0 };
            out.push(char::from(b'0' + self.u.int_in_range(lo..=9u8)?));
        }
        Ok(())
    }

    /// A number of the grammar of [UH-JSON-4]; as a fault, one just outside it.
    fn number(&mut self, out: &mut String) -> Result<()> {
        if self.fault()? {
            out.push_str(self.u.choose(&[
                "01",
                "-01",
                "00",
                "+1",
                "-",
                "--1",
                ".5",
                "1.",
                "-.5",
                "1e",
                "1e+",
                "1E-",
                "1.e5",
                "0x10",
                "NaN",
                "Infinity",
                "-Infinity",
                "1_000",
                "1e5.5",
                "٣",
            ])?);
            return Ok(());
        }
        match self.u.int_in_range(0u8..=3)? {
            0 => out.push_str(self.u.choose(&[
                "0",
                "-0",
                "-0.0",
                "0e0",
                "-0E+0",
                "1e400",
                "-1e400",
                "1E-400",
                "5e-324",
                "1.7976931348623157e308",
                "9007199254740993",
                "18446744073709551616",
                "-9223372036854775809",
                "123456789012345678901234567890123456789",
                "0.000000000000000000000000000001",
            ])?),
            _ => {
                if self.u.arbitrary::<bool>()? {
                    out.push('-');
                }
                if self.u.ratio(1, 4)? {
                    out.push('0');
                } else {
                    self.digits(out, true, 20)?;
                }
                if self.u.ratio(1, 3)? {
                    out.push('.');
                    self.digits(out, false, 12)?;
                }
                if self.u.ratio(1, 3)? {
                    out.push(*self.u.choose(&['e', 'E'])?);
                    out.push_str(self.u.choose(&["", "+", "-"])?);
                    self.digits(out, false, 4)?;
                }
            }
        }
        Ok(())
    }

    /// A member name: an envelope name (plain or escaped) or a string.
    fn name(&mut self, out: &mut String) -> Result<()> {
        if self.u.arbitrary::<bool>()? {
            let m = *self.u.choose(&MEMBERS)?;
            self.name_spelled(out, m)
        } else {
            self.string(out, 8)
        }
    }

    /// `name` as a string literal, sometimes with some of its letters written as `\u`
    /// escapes (equal after unescaping, [UH-EVENT-5]).
    fn name_spelled(&mut self, out: &mut String, name: &str) -> Result<()> {
        out.push('"');
        let escape = self.u.ratio(1, 3)?;
        for c in name.chars() {
            if escape && self.u.arbitrary::<bool>()? {
                self.hex4(out, c as u16)?;
            } else {
                out.push(c);
            }
        }
        out.push('"');
        Ok(())
    }

    /// A value of depth at most `depth` (shallow trees; see [`Gen::deep`] for the edges).
    fn value(&mut self, out: &mut String, depth: usize) -> Result<()> {
        let top = if depth == 0 || self.budget == 0 { 4 } else { 7 };
        match self.u.int_in_range(0u8..=top)? {
            0 => {
                if self.fault()? {
                    out.push_str(
                        self.u
                            .choose(&["True", "nul", "falsey", "undefined", "n"])?,
                    )
                } else {
                    out.push_str(self.u.choose(&["null", "true", "false"])?)
                }
            }
            1 | 2 => self.number(out)?,
            3 | 4 => self.string(out, 12)?,
            5 | 6 => self.container(out, depth, true)?,
            _ => self.container(out, depth, false)?,
        }
        self.spent(1);
        Ok(())
    }

    fn container(&mut self, out: &mut String, depth: usize, object: bool) -> Result<()> {
        let (open, close) = if object { ('{', '}') } else { ('[', ']') };
        out.push(open);
        let n = self.u.int_in_range(0..=5)?;
        for i in 0..n {
            if self.budget == 0 {
                break;
            }
            if i > 0 {
                out.push(',');
            }
            self.ws(out)?;
            if object {
                self.name(out)?;
                self.ws(out)?;
                out.push(':');
                self.ws(out)?;
            }
            self.value(out, depth - 1)?;
            self.ws(out)?;
        }
        if self.fault()? {
            // A trailing comma, a missing close, a wrong close, a comment.
            out.push_str(self.u.choose(&[",", "", ":", "/**/"])?);
            out.push(*self.u.choose(&[close, if object { ']' } else { '}' }])?);
        } else {
            out.push(close);
        }
        Ok(())
    }

    /// A value nested exactly `levels` deep: brackets of both kinds, a scalar or an empty
    /// container innermost (an empty container is itself a level).
    fn deep(&mut self, out: &mut String, levels: usize) -> Result<()> {
        let mut closes = Vec::with_capacity(levels);
        let inner_empty = self.u.arbitrary::<bool>()?;
        let rings = if inner_empty { levels - 1 } else { levels };
        for _ in 0..rings {
            if self.u.arbitrary::<bool>()? {
                out.push('{');
                self.name(out)?;
                out.push(':');
                closes.push('}');
            } else {
                out.push('[');
                if self.u.ratio(1, 6)? {
                    // A sibling before the deep element does not change the depth.
                    self.value(out, 0)?;
                    out.push(',');
                }
                closes.push(']');
            }
        }
        if inner_empty {
            out.push_str(self.u.choose(&["[]", "{}"])?);
        } else {
            self.value(out, 0)?;
        }
        if self.fault()? {
            // The fault after the deepest bracket ([UH-JSON-10]).
            out.push(',');
        }
        while let Some(c) = closes.pop() {
            out.push(c);
        }
        Ok(())
    }

    /// A value: mostly shallow, sometimes at one of the [`EDGE_DEPTHS`].
    fn any_value(&mut self, out: &mut String) -> Result<()> {
        if self.u.ratio(1, 6)? {
            let levels = *self.u.choose(&EDGE_DEPTHS)?;
            self.deep(out, levels)
        } else {
            let depth = self.u.int_in_range(0..=5)?;
            self.value(out, depth)
        }
    }

    /// A JSON text: a value with whitespace around it, and as a fault something around it
    /// that makes it not one JSON text.
    fn text(&mut self) -> Result<String> {
        let mut out = String::new();
        if self.fault()? {
            match self.u.int_in_range(0u8..=3)? {
                0 => return Ok(String::new()),
                1 => out.push('\u{feff}'),
                2 => out.push_str("//c\n"),
                _ => {}
            }
        }
        self.ws(&mut out)?;
        self.any_value(&mut out)?;
        self.ws(&mut out)?;
        if self.fault()? {
            out.push_str(self.u.choose(&[" 1", "x", ",", "}", "]", " null", "\0"])?);
        }
        Ok(out)
    }

    /// A string of a required envelope member: plausible, empty, or made of anything.
    fn envelope_string(&mut self, out: &mut String, member: &str) -> Result<()> {
        match self.u.int_in_range(0u8..=9)? {
            0 => out.push_str("\"\""),
            1..=2 => self.string(out, 16)?,
            // Empty after unescaping is still empty; an escaped space is not.
            3 if self.u.arbitrary::<bool>()? => out.push_str("\"\\u0020\""),
            _ => {
                let plain = match member {
                    "id" => "3f2c1a9e-7b4d-4e8a-9c1f-0d2e3b4a5c6d".to_string(),
                    "timestamp" => "2026-11-28T22:17:50.481Z".to_string(),
                    "source" => (*self.u.choose(&["node-1", "broker", "µnode", ""])?).to_string(),
                    _ => {
                        let t = *self.u.choose(&TYPES)?;
                        if self.u.ratio(1, 6)? {
                            // µ as an escape: still the reserved type.
                            t.replacen('µ', "\\u00b5", 1)
                        } else {
                            t.to_string()
                        }
                    }
                };
                let plain = if plain.is_empty() {
                    "n".to_string()
                } else {
                    plain
                };
                out.push('"');
                out.push_str(&plain);
                out.push('"');
            }
        }
        Ok(())
    }

    /// A value of the wrong type for a string member.
    fn not_a_string(&mut self, out: &mut String) -> Result<()> {
        out.push_str(
            self.u
                .choose(&["null", "true", "0", "-1.5e3", "[]", "{}", "[\"id\"]"])?,
        );
        Ok(())
    }

    /// An event envelope payload (section 6).
    fn event(&mut self) -> Result<String> {
        // Not an object at all ([UH-EVENT-1]), now and then.
        if self.u.ratio(1, 16)? {
            return self.text();
        }
        let mut members: Vec<(String, String)> = Vec::new();
        for m in ["id", "timestamp", "source", "type"] {
            let mut name = String::new();
            self.name_spelled(&mut name, m)?;
            let mut value = String::new();
            match self.u.int_in_range(0u8..=19)? {
                0 => continue, // missing
                1 => self.not_a_string(&mut value)?,
                _ => self.envelope_string(&mut value, m)?,
            }
            members.push((name, value));
        }
        for m in ["data", "error"] {
            let present = if m == "data" {
                self.u.ratio(2, 3)?
            } else {
                self.u.ratio(1, 5)?
            };
            if present {
                let mut name = String::new();
                self.name_spelled(&mut name, m)?;
                let mut value = String::new();
                self.any_value(&mut value)?;
                members.push((name, value));
            }
        }
        // Unknown members ([UH-EVENT-4]), repeated names among them allowed.
        for _ in 0..self.u.int_in_range(0..=2)? {
            let mut name = String::new();
            self.string(&mut name, 6)?;
            let mut value = String::new();
            self.value(&mut value, 2)?;
            members.push((name, value));
        }
        // A repeated envelope member ([UH-EVENT-5]), often spelled differently.
        if self.u.ratio(1, 5)? {
            let m = *self.u.choose(&MEMBERS)?;
            let mut name = String::new();
            if m == "type" && self.u.arbitrary::<bool>()? {
                name.push_str("\"typ\\u0065\"");
            } else {
                self.name_spelled(&mut name, m)?;
            }
            let mut value = String::new();
            self.envelope_string(&mut value, m)?;
            members.push((name, value));
        }
        // Mostly in the recommended order ([UH-EVENT-8]); sometimes shuffled.
        if self.u.ratio(1, 4)? {
            for i in (1..members.len()).rev() {
                let j = self.u.int_in_range(0..=i)?;
                members.swap(i, j);
            }
        }
        let mut out = String::new();
        self.ws(&mut out)?;
        out.push('{');
        for (i, (name, value)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.ws(&mut out)?;
            out.push_str(name);
            self.ws(&mut out)?;
            out.push(':');
            self.ws(&mut out)?;
            out.push_str(value);
            self.ws(&mut out)?;
        }
        if self.fault()? {
            out.push(',');
        }
        out.push('}');
        self.ws(&mut out)?;
        Ok(out)
    }
}

/// Turns a generated text into bytes, and as a rare fault breaks its UTF-8 ([UH-JSON-2]).
fn to_bytes(u: &mut Unstructured<'_>, text: String, faults: bool) -> Result<Vec<u8>> {
    let mut bytes = text.into_bytes();
    if faults && u.ratio(1, 32)? {
        let bad: &[u8] = u.choose(&[
            &[0xc0, 0xaf][..],
            &[0xed, 0xa0, 0x80],
            &[0xf4, 0x90, 0x80, 0x80],
            &[0xe2, 0x82],
            &[0x80],
            &[0xff],
            &[0xf0, 0x9f, 0x98],
        ])?;
        let at = u.int_in_range(0..=bytes.len())?;
        bytes.splice(at..at, bad.iter().copied());
    }
    Ok(bytes)
}

/// One JSON text as bytes: valid more often than not, else with faults of the grammar
/// ([UH-JSON-3]..[UH-JSON-6]) or of UTF-8 ([UH-JSON-2]).
pub fn json_bytes(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let faults = u.ratio(2, 5)?;
    let text = Gen {
        u,
        faults,
        budget: BUDGET,
    }
    .text()?;
    to_bytes(u, text, faults)
}

/// One valid JSON text without whitespace around it (for a `data` member written
/// verbatim). It may nest up to 129 levels and hold lone surrogate escapes.
pub fn valid_json_text(u: &mut Unstructured<'_>) -> Result<String> {
    let mut out = String::new();
    Gen {
        u,
        faults: false,
        budget: BUDGET,
    }
    .any_value(&mut out)?;
    Ok(out)
}

/// One event envelope payload as bytes: valid or with an envelope fault (missing, empty,
/// wrong-typed or repeated members, also repeated only after unescaping), sometimes not an
/// object; in about one in four, JSON or UTF-8 faults may be injected too.
pub fn event_bytes(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let faults = u.ratio(1, 4)?;
    let text = Gen {
        u,
        faults,
        budget: BUDGET,
    }
    .event()?;
    to_bytes(u, text, faults)
}

/// A payload: an event (three times in four) or any JSON text.
pub fn payload_bytes(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    if u.ratio(3, 4)? {
        event_bytes(u)
    } else {
        json_bytes(u)
    }
}

/// One frame ([UH-FRAME-1]): a 5-byte header — `length` (u16 big-endian), `version` (1, 2
/// or another value), `status` (1 mostly) — and a [`payload_bytes`] payload. Now and then
/// `length` lies (one more or less, 0, 65535 or any), and sometimes the bytes of a next
/// frame follow.
pub fn frame_bytes(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    one_frame(u, &mut out)?;
    if u.ratio(1, 8)? {
        one_frame(u, &mut out)?;
    }
    Ok(out)
}

fn one_frame(u: &mut Unstructured<'_>, out: &mut Vec<u8>) -> Result<()> {
    let payload = payload_bytes(u)?;
    let real = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let length = if u.ratio(1, 10)? {
        match u.int_in_range(0u8..=4)? {
            0 => real.wrapping_add(1),
            1 => real.wrapping_sub(1),
            2 => 0,
            3 => u16::MAX,
            _ => u.arbitrary()?,
        }
    } else {
        real
    };
    let version: u16 = match u.int_in_range(0u8..=9)? {
        0..=3 => 2,
        4..=6 => 1,
        7 => 0,
        8 => 3,
        _ => u.arbitrary()?,
    };
    let status: u8 = match u.int_in_range(0u8..=9)? {
        0..=7 => 1,
        8 => *u.choose(&[0, 2, 3, 255])?,
        _ => u.arbitrary()?,
    };
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.push(status);
    out.extend_from_slice(&payload);
    Ok(())
}

/// The first byte values that select the structured generator in `roundtrip` and
/// `json_differential` (none of them starts valid UTF-8, so raw inputs lose little).
pub const SELECT: core::ops::RangeInclusive<u8> = 0xf5..=0xff;

/// Splits fuzz input: `Some(rest)` when the first byte selects the structured generator.
pub fn selected(data: &[u8]) -> Option<&[u8]> {
    match data {
        [first, rest @ ..] if SELECT.contains(first) => Some(rest),
        _ => None,
    }
}
