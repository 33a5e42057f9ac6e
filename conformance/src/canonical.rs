//! The canonical decoded frame of `spec/vectors/README.md`, as produced by the reference
//! codec `uhome-protocol`. This is what a decoder program prints under the contract of
//! `spec/conformance-contract.md`.

use serde_json::{Map, Number, Value};
use uhome_protocol::json::Kind;
use uhome_protocol::{Decoded, Event, Frame, JsonStr, Message, RawJson};

/// A decoder's refusal: the error code, and for `incomplete` the bytes still needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A code of Appendix B (`incomplete`, `invalid_json`, …).
    pub code: String,
    /// For `incomplete`.
    pub needed: Option<usize>,
}

/// Decodes the first frame of `bytes` with the reference codec.
pub fn decode(bytes: &[u8]) -> Result<Value, Refusal> {
    let frame = match Frame::decode(bytes) {
        Decoded::Complete(frame, _) => frame,
        Decoded::Partial { needed } => {
            return Err(Refusal {
                code: "incomplete".into(),
                needed: Some(needed),
            })
        }
    };
    let message = frame.message().map_err(|e| Refusal {
        code: e.code().as_str().into(),
        needed: None,
    })?;
    let mut out = Map::new();
    out.insert("version".into(), frame.header.version.into());
    out.insert("status".into(), frame.header.status.into());
    out.insert("length".into(), frame.header.length.into());
    match message {
        Message::Event(event) => {
            out.insert("event".into(), event_value(&event));
            if frame.header.version == uhome_protocol::V1 {
                if let Ok(Some(root)) = payload_root(frame.payload) {
                    out.insert("json".into(), value(root));
                }
            }
        }
        Message::Other(root) => {
            out.insert("json".into(), value(root));
        }
    }
    Ok(Value::Object(out))
}

fn payload_root(payload: &[u8]) -> Result<Option<RawJson<'_>>, ()> {
    let text = std::str::from_utf8(payload).map_err(|_| ())?;
    Ok(RawJson::parse(text).ok())
}

fn event_value(event: &Event<'_>) -> Value {
    let mut e = Map::new();
    e.insert("id".into(), string(&event.id));
    e.insert("timestamp".into(), string(&event.timestamp));
    e.insert("source".into(), string(&event.source));
    e.insert("type".into(), string(&event.event_type));
    if let Some(data) = event.data {
        e.insert("data".into(), value(data));
    }
    if let Some(error) = event.error {
        e.insert("error".into(), value(error));
    }
    Value::Object(e)
}

fn string(s: &JsonStr<'_>) -> Value {
    Value::String(s.to_string())
}

/// A validated JSON value as a `serde_json::Value`: strings unescaped (lone surrogates as
/// U+FFFD), numbers kept exact, the last of repeated member names kept.
pub fn value(raw: RawJson<'_>) -> Value {
    match raw.kind() {
        Kind::Null => Value::Null,
        Kind::Bool => Value::Bool(raw.as_bool().unwrap_or(false)),
        Kind::String => raw.as_string().map_or(Value::Null, |s| string(&s)),
        Kind::Number => serde_json::from_str::<Number>(raw.as_str())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Kind::Array => Value::Array(raw.elements().map(value).collect()),
        Kind::Object => Value::Object(
            raw.members()
                .map(|(name, v)| (name.to_string(), value(v)))
                .collect(),
        ),
    }
}
