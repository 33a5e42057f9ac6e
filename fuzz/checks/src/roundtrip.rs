//! `roundtrip`: structure-aware events through `encode_event`, `Frame::decode` and
//! `message()`.

use arbitrary::{Result, Unstructured};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use uhome_protocol::json::MAX_DEPTH;
use uhome_protocol::{
    decode_payload, encode_event, Body, Decoded, Envelope, Error, EventFault, Frame, Json, Member,
    Message, RawJson, WriteJson, HEADER_LEN, MAX_FRAME_LEN, MAX_PAYLOAD_LEN,
};

use crate::{reference, structured};

/// A JSON value tree with members in the order given (repeated names kept).
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A negative or positive integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A finite float.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Tree>),
    /// An object.
    Object(Vec<(String, Tree)>),
}

impl Serialize for Tree {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Tree::Null => s.serialize_unit(),
            Tree::Bool(b) => s.serialize_bool(*b),
            Tree::Int(i) => s.serialize_i64(*i),
            Tree::Uint(u) => s.serialize_u64(*u),
            Tree::Float(f) => s.serialize_f64(*f),
            Tree::Str(v) => s.serialize_str(v),
            Tree::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                items.iter().try_for_each(|i| seq.serialize_element(i))?;
                seq.end()
            }
            Tree::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                members
                    .iter()
                    .try_for_each(|(k, v)| map.serialize_entry(k, v))?;
                map.end()
            }
        }
    }
}

/// How the `data` or `error` text is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `serde_json::to_string`, written verbatim.
    Compact,
    /// `serde_json::to_string_pretty`, written verbatim.
    Pretty,
    /// The codec's own `Json` writer (serde-json-core).
    SerdeJsonCore,
}

/// The `data` or `error` member of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A generated tree, serialized in a style.
    Tree(Tree, Style),
    /// JSON text taken as it is (for example a decoded vector's `data`).
    Text(String),
}

/// What follows the string members.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseBody {
    /// Neither `data` nor `error`.
    None,
    /// `data`
    Data(Value),
    /// `error`
    Error(Value),
    /// `data` a string of `x`, sized so the payload is `65535 + delta` bytes (`delta` in
    /// -3..=3), or as close above as the envelope allows.
    Pad(i8),
}

/// The output buffer handed to `encode_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// At least a largest frame (`65540 + extra` bytes).
    Max(u8),
    /// Exactly the frame's length, and one byte less.
    Exact,
    /// A buffer of this many bytes (below a largest frame).
    Short(u16),
}

/// One roundtrip case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Header version (1 or 2 are meaningful; any is encoded).
    pub version: u16,
    /// Header status.
    pub status: u8,
    /// `id`
    pub id: String,
    /// `timestamp`
    pub timestamp: String,
    /// `source`
    pub source: String,
    /// `type`
    pub event_type: String,
    /// `data` / `error`.
    pub body: CaseBody,
    /// Extra array levels wrapped around a tree body (to cross the depth limit).
    pub wrap: usize,
    /// The output buffer.
    pub out: Out,
}

fn text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let len = u.int_in_range(0..=max)?;
    let mut s = String::new();
    for _ in 0..len {
        let c = match u.int_in_range(0u8..=9)? {
            0..=3 => char::from(u.int_in_range(0x20u8..=0x7e)?),
            4 => *u.choose(&[
                '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1b}', '\u{1f}',
                '\u{7f}',
            ])?,
            5 => *u.choose(&['"', '\\', '/', '\''])?,
            6 => 'µ',
            7 => *u.choose(&[
                '😀',
                '\u{2028}',
                '\u{fffd}',
                '\u{feff}',
                'μ',
                '\u{80}',
                '\u{7ff}',
                '\u{800}',
                '\u{ffff}',
                '\u{10000}',
                '\u{10ffff}',
            ])?,
            _ => u.arbitrary::<char>()?,
        };
        s.push(c);
    }
    Ok(s)
}

fn float(u: &mut Unstructured<'_>) -> Result<f64> {
    let f = match u.int_in_range(0u8..=2)? {
        0 => f64::from_bits(u.arbitrary()?),
        1 => *u.choose(&[
            0.0,
            -0.0,
            0.1,
            1.0,
            -1.5,
            1e300,
            -1e-300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            9007199254740993.0,
        ])?,
        _ => f64::from(u.arbitrary::<i32>()?) / 1024.0,
    };
    Ok(if f.is_finite() { f } else { 0.5 })
}

/// Characters that long strings may still add to one case: enough to pass 65535 bytes,
/// bounded so that a large input does not build megabytes of JSON.
const LONG_BUDGET: usize = 100_000;

fn tree(u: &mut Unstructured<'_>, depth: usize, budget: &mut usize) -> Result<Tree> {
    let top = if depth == 0 { 5 } else { 7 };
    Ok(match u.int_in_range(0u8..=top)? {
        0 => Tree::Null,
        1 => Tree::Bool(u.arbitrary()?),
        2 => match u.int_in_range(0u8..=1)? {
            0 => Tree::Int(u.arbitrary()?),
            _ => Tree::Uint(u.arbitrary()?),
        },
        3 => Tree::Float(float(u)?),
        4 => Tree::Str(text(u, 16)?),
        // A long string: the way past 65535 bytes from a small input.
        5 => {
            let unit = text(u, 8)?;
            let most = (*budget / unit.chars().count().max(1)).min(12_000);
            let times = u.int_in_range(0..=most)?;
            *budget -= times * unit.chars().count();
            Tree::Str(unit.repeat(times))
        }
        6 => {
            let n = u.int_in_range(0..=5)?;
            Tree::Array(
                (0..n)
                    .map(|_| tree(u, depth - 1, budget))
                    .collect::<Result<_>>()?,
            )
        }
        _ => {
            let n = u.int_in_range(0..=5)?;
            Tree::Object(
                (0..n)
                    .map(|_| Ok((text(u, 8)?, tree(u, depth - 1, budget)?)))
                    .collect::<Result<_>>()?,
            )
        }
    })
}

impl Case {
    /// A case from fuzz bytes.
    pub fn arbitrary(u: &mut Unstructured<'_>) -> Result<Case> {
        let version = match u.int_in_range(0u8..=7)? {
            0..=2 => 1,
            3..=6 => 2,
            _ => u.arbitrary()?,
        };
        let status = if u.ratio(3, 4)? { 1 } else { u.arbitrary()? };
        let id = text(u, 40)?;
        let timestamp = text(u, 30)?;
        let source = text(u, 30)?;
        let event_type = text(u, 30)?;
        let value = |u: &mut Unstructured<'_>| -> Result<Value> {
            let style = *u.choose(&[Style::Compact, Style::Pretty, Style::SerdeJsonCore])?;
            let depth = u.int_in_range(0..=6)?;
            let mut budget = LONG_BUDGET;
            Ok(Value::Tree(tree(u, depth, &mut budget)?, style))
        };
        let body = match u.int_in_range(0u8..=6)? {
            0 => CaseBody::None,
            1..=3 => CaseBody::Data(value(u)?),
            4..=5 => CaseBody::Error(value(u)?),
            _ => CaseBody::Pad(u.int_in_range(-3..=3)?),
        };
        let wrap = if u.ratio(1, 8)? {
            u.int_in_range(100..=140)?
        } else {
            0
        };
        let out = match u.int_in_range(0u8..=3)? {
            0 | 1 => Out::Max(u.arbitrary()?),
            2 => Out::Exact,
            _ => Out::Short(u.arbitrary()?),
        };
        Ok(Case {
            version,
            status,
            id,
            timestamp,
            source,
            event_type,
            body,
            wrap,
            out,
        })
    }

    /// A case from the structured generator: an event payload from
    /// [`structured::event_bytes`] decoded as version 1 (checked against the reference
    /// reading); when it is an event, its strings unescaped and its `data` (or `error`) text
    /// make the case, else the strings come from [`Case::arbitrary`]'s alphabet and `data` is
    /// a [`structured::valid_json_text`].
    pub fn structured(u: &mut Unstructured<'_>) -> Result<Case> {
        let payload = structured::event_bytes(u)?;
        let decoded = decode_payload(1, &payload, MAX_DEPTH);
        crate::message::check_message(1, &payload, &decoded);
        let version = match u.int_in_range(0u8..=7)? {
            0..=2 => 1,
            3..=6 => 2,
            _ => u.arbitrary()?,
        };
        let status = if u.ratio(3, 4)? { 1 } else { u.arbitrary()? };
        let out = match u.int_in_range(0u8..=3)? {
            0 | 1 => Out::Max(u.arbitrary()?),
            2 => Out::Exact,
            _ => Out::Short(u.arbitrary()?),
        };
        let (id, timestamp, source, event_type, body) = match decoded {
            Ok(Message::Event(e)) => {
                let text = |raw: RawJson<'_>| Value::Text(raw.as_str().to_string());
                let body = match (e.data, e.error) {
                    (Some(_), Some(r)) if u.arbitrary::<bool>()? => CaseBody::Error(text(r)),
                    (Some(d), _) => CaseBody::Data(text(d)),
                    (None, Some(r)) => CaseBody::Error(text(r)),
                    (None, None) => CaseBody::None,
                };
                (
                    e.id.to_string(),
                    e.timestamp.to_string(),
                    e.source.to_string(),
                    e.event_type.to_string(),
                    body,
                )
            }
            _ => (
                text(u, 40)?,
                text(u, 30)?,
                text(u, 30)?,
                text(u, 30)?,
                CaseBody::Data(Value::Text(structured::valid_json_text(u)?)),
            ),
        };
        Ok(Case {
            version,
            status,
            id,
            timestamp,
            source,
            event_type,
            body,
            wrap: 0,
            out,
        })
    }
}

/// `roundtrip`'s input: bytes read as a [`Case`] with the `arbitrary` crate; when the first
/// byte is in [`structured::SELECT`], the rest makes a [`Case::structured`] instead.
pub fn roundtrip(data: &[u8]) {
    let case = match structured::selected(data) {
        Some(rest) => Case::structured(&mut Unstructured::new(rest)),
        None => Case::arbitrary(&mut Unstructured::new(data)),
    };
    if let Ok(case) = case {
        roundtrip_case(&case);
    }
}

/// JSON text written verbatim.
struct Verbatim<'a>(&'a str);

impl WriteJson for Verbatim<'_> {
    fn write_json(&self, out: &mut [u8]) -> std::result::Result<usize, Error> {
        let text = self.0.as_bytes();
        out.get_mut(..text.len())
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(text);
        Ok(text.len())
    }
}

fn wrapped(tree: &Tree, levels: usize) -> Tree {
    (0..levels).fold(tree.clone(), |t, _| Tree::Array(vec![t]))
}

/// Encodes the case, checks the bytes against a reference layout built with serde_json,
/// decodes them and checks that the same strings and `data`/`error` text come back.
pub fn roundtrip_case(case: &Case) {
    let quoted = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let head = format!(
        "{{\"id\":{},\"timestamp\":{},\"source\":{},\"type\":{}",
        quoted(&case.id),
        quoted(&case.timestamp),
        quoted(&case.source),
        quoted(&case.event_type)
    );
    let pad;
    let member: Option<(&str, &Value)> = match &case.body {
        CaseBody::None => None,
        CaseBody::Data(v) => Some(("data", v)),
        CaseBody::Error(v) => Some(("error", v)),
        CaseBody::Pad(delta) => {
            let target = MAX_PAYLOAD_LEN as isize + isize::from(*delta);
            let empty = head.len() + ",\"data\":\"\"}".len();
            let n = usize::try_from(target - empty as isize).unwrap_or(0);
            pad = Value::Text(quoted(&"x".repeat(n)));
            Some(("data", &pad))
        }
    };
    let deep;
    let member = match member {
        Some((name, Value::Tree(t, style))) if case.wrap > 0 => {
            deep = Value::Tree(wrapped(t, case.wrap), *style);
            Some((name, &deep))
        }
        other => other,
    };
    // The member's text as the writer given to the encoder writes it.
    let text = match member {
        None => String::new(),
        Some((_, Value::Tree(t, Style::SerdeJsonCore))) => {
            let theirs = serde_json::to_string(t).expect("serializes");
            let mut buf = vec![0u8; theirs.len() * 2 + 64];
            let n = serde_json_core::to_slice(t, &mut buf).expect("serde-json-core writes it");
            let core = String::from_utf8(buf[..n].to_vec()).expect("UTF-8 from serde-json-core");
            // serde-json-core writes `\u001F` and `1e233` where serde_json writes `\u001f`
            // and `1e+233`: the same JSON.
            assert_eq!(
                reference::canonical(&core),
                reference::canonical(&theirs),
                "serde-json-core and serde_json write different JSON"
            );
            core
        }
        Some((_, Value::Tree(t, Style::Pretty))) => {
            serde_json::to_string_pretty(t).expect("serializes")
        }
        Some((_, Value::Tree(t, _))) => serde_json::to_string(t).expect("serializes"),
        Some((_, Value::Text(t))) => t.clone(),
    };
    let mut expected = head.clone();
    if let Some((name, _)) = member {
        expected.push_str(&format!(",\"{name}\":{text}"));
    }
    expected.push('}');
    let len = expected.len();

    let envelope = Envelope {
        id: &case.id,
        timestamp: &case.timestamp,
        source: &case.source,
        event_type: &case.event_type,
    };
    let verbatim = Verbatim(&text);
    let core;
    let writer: &dyn WriteJson = match member {
        Some((_, Value::Tree(t, Style::SerdeJsonCore))) => {
            core = Json(t);
            &core
        }
        _ => &verbatim,
    };
    let encode = |out: &mut [u8]| {
        let b = match member {
            None => Body::None,
            Some(("data", _)) => Body::Data(writer),
            Some(_) => Body::Error(writer),
        };
        encode_event(out, case.version, case.status, &envelope, b)
    };
    let needed = HEADER_LEN + len;
    let (mut out, result) = match case.out {
        Out::Max(extra) => {
            let mut out = vec![0u8; MAX_FRAME_LEN + usize::from(extra % 16)];
            let r = encode(&mut out);
            if len > MAX_PAYLOAD_LEN {
                assert_eq!(r, Err(Error::TooLarge), "payload of {len} bytes");
                return;
            }
            (out, r)
        }
        Out::Exact if len > MAX_PAYLOAD_LEN => {
            let mut out = vec![0u8; MAX_FRAME_LEN];
            assert_eq!(
                encode(&mut out),
                Err(Error::TooLarge),
                "payload of {len} bytes"
            );
            return;
        }
        Out::Exact => {
            let mut short = vec![0u8; needed - 1];
            assert_eq!(encode(&mut short), Err(Error::BufferTooSmall));
            let mut out = vec![0u8; needed];
            let r = encode(&mut out);
            (out, r)
        }
        Out::Short(size) => {
            let mut out = vec![0u8; usize::from(size)];
            let r = encode(&mut out);
            if needed > out.len() {
                // Past 65535 bytes both refusals are true; the buffer is checked first.
                let ok = r == Err(Error::BufferTooSmall)
                    || (len > MAX_PAYLOAD_LEN && r == Err(Error::TooLarge));
                assert!(ok, "{needed}-byte frame into {size} bytes: {r:?}");
                return;
            }
            (out, r)
        }
    };
    let n = result.unwrap_or_else(|e| panic!("encoding a {len}-byte payload: {e:?}"));
    out.truncate(n);
    let payload = std::str::from_utf8(&out[HEADER_LEN..]).expect("UTF-8 payload");
    assert_eq!(n, needed);
    assert_eq!(payload, expected);
    let header = [
        &(len as u16).to_be_bytes()[..],
        &case.version.to_be_bytes(),
        &[case.status],
    ];
    assert_eq!(&out[..HEADER_LEN], header.concat().as_slice());

    let Decoded::Complete(frame, used) = Frame::decode(&out) else {
        panic!("an encoded frame is incomplete");
    };
    assert_eq!(used, n);
    crate::frame::check_frame(&frame);
    let message = frame.message();
    if case.version != 1 && case.version != 2 {
        assert_eq!(message, Err(Error::UnsupportedVersion(case.version)));
        return;
    }
    if reference::depth(payload) > MAX_DEPTH {
        assert!(matches!(message, Err(Error::TooDeep { .. })), "{message:?}");
        return;
    }
    let strings = [
        (&case.id, Member::Id),
        (&case.timestamp, Member::Timestamp),
        (&case.source, Member::Source),
        (&case.event_type, Member::Type),
    ];
    if case.version == 2 {
        if let Some((_, m)) = strings.iter().find(|(s, _)| s.is_empty()) {
            assert_eq!(message, Err(Error::InvalidEvent(EventFault::Empty(*m))));
            return;
        }
    }
    let Ok(Message::Event(event)) = message else {
        panic!("encoded event refused: {message:?}");
    };
    assert_eq!(event.id.to_string(), case.id);
    assert_eq!(event.timestamp.to_string(), case.timestamp);
    assert_eq!(event.source.to_string(), case.source);
    assert_eq!(event.event_type.to_string(), case.event_type);
    let got = |raw: Option<uhome_protocol::RawJson<'_>>, name: &str| {
        if member.is_some_and(|(m, _)| m == name) {
            let raw = raw.unwrap_or_else(|| panic!("{name} lost")).as_str();
            assert_eq!(raw, text);
        } else {
            assert!(raw.is_none(), "{name} decoded but not sent");
        }
    };
    got(event.data, "data");
    got(event.error, "error");
}
