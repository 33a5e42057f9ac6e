//! `json_differential`: the codec's validator against serde_json.

use serde::de::IgnoredAny;
use uhome_protocol::json::{validate, JsonFault, Kind, MAX_DEPTH};
use uhome_protocol::RawJson;

use arbitrary::Unstructured;

use crate::{reference, structured};

/// serde_json's `Value` refuses these valid texts, each for a documented reason.
fn value_refusal_is_documented(message: &str, text: &str) -> bool {
    // Any refusal: an object keyed by a private token is read as that token's payload.
    if reference::has_serde_json_magic_key(text) {
        return true;
    }
    let surrogate = [
        "lone leading surrogate in hex escape",
        "unexpected end of hex escape",
        "invalid unicode code point",
    ];
    (message.starts_with("recursion limit exceeded") && reference::depth(text) >= 128)
        || (message.starts_with("number out of range") && reference::has_infinite_number(text))
        || (surrogate.iter().any(|s| message.starts_with(s)) && reference::has_lone_surrogate(text))
}

/// `json_differential`: `json::validate(bytes, 128)` agrees with serde_json on validity.
///
/// The oracle is `serde_json::from_str::<IgnoredAny>` on the UTF-8 text: the grammar of
/// RFC 8259 with no number conversion, no surrogate pairing and no depth limit. The only
/// allowed disagreement is depth: the codec refuses nesting deeper than 128 ([UH-JSON-8]).
/// serde_json's `Value` is checked too: whatever it accepts the codec accepts, and whatever
/// it refuses that the codec accepts is a documented `Value` strictness (its recursion limit
/// at depth 128, numbers beyond `f64`, lone surrogates, its private magic keys).
///
/// When the first byte is in [`structured::SELECT`], the rest drives the structured
/// generator instead: a JSON text or an event payload ([`structured::json_bytes`],
/// [`structured::event_bytes`]) goes through the same checks, and an event payload also
/// through `event_decode`'s checks as version 1 and 2.
pub fn json_differential(data: &[u8]) {
    let Some(rest) = structured::selected(data) else {
        return json_differential_raw(data);
    };
    let mut u = Unstructured::new(rest);
    let event = u.arbitrary::<bool>().unwrap_or(false);
    let generated = if event {
        structured::event_bytes(&mut u)
    } else {
        structured::json_bytes(&mut u)
    };
    let Ok(bytes) = generated else { return };
    json_differential_raw(&bytes);
    if event {
        crate::frame::event_decode_with(1, &bytes);
        crate::frame::event_decode_with(2, &bytes);
    }
}

/// The checks of [`json_differential`] on the bytes as they are.
pub fn json_differential_raw(data: &[u8]) {
    let ours = validate(data, MAX_DEPTH);
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(e) => {
            let err = ours.expect_err("invalid UTF-8 accepted");
            assert_eq!(
                (err.fault, err.offset),
                (JsonFault::InvalidUtf8, e.valid_up_to())
            );
            return;
        }
    };
    let theirs = reference::serde_accepts(text);
    let depth = reference::depth(text);
    match (&ours, theirs) {
        (Ok(t), true) => {
            assert_eq!(*t, text);
            assert!(depth <= MAX_DEPTH, "depth {depth} accepted");
        }
        (Ok(_), false) => panic!("the codec accepts what serde_json refuses: {text:?}"),
        (Err(e), true) => assert!(
            e.fault == JsonFault::TooDeep && depth > MAX_DEPTH,
            "the codec refuses ({e}) what serde_json accepts, depth {depth}: {text:?}"
        ),
        (Err(e), false) => assert_ne!(e.fault, JsonFault::InvalidUtf8),
    }
    assert_eq!(RawJson::parse(text).is_ok(), ours.is_ok());
    if ours.is_ok() {
        // The depth limit is exact ([UH-JSON-8]).
        assert!(validate(data, depth).is_ok());
        if depth > 0 {
            let err = validate(data, depth - 1).expect_err("one level over the limit");
            assert_eq!(err.fault, JsonFault::TooDeep);
        }
        check_navigation(text);
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(_) => assert!(ours.is_ok(), "serde_json::Value accepts {text:?}"),
        Err(e) if ours.is_ok() => {
            let message = e.to_string();
            assert!(
                value_refusal_is_documented(&message, text),
                "serde_json::Value refuses a text the codec accepts ({message}): {text:?}"
            );
        }
        Err(_) => {}
    }
    // IgnoredAny from the bytes (SliceRead) agrees with the text for valid UTF-8.
    assert_eq!(serde_json::from_slice::<IgnoredAny>(data).is_ok(), theirs);
}

/// `RawJson` navigation of a valid text against the reference splitter, one level down.
fn check_navigation(text: &str) {
    let value = RawJson::parse(text).expect("valid");
    let root = text.trim_matches(reference::is_ws);
    assert_eq!(value.as_str(), root);
    let kind = match root.as_bytes()[0] {
        b'{' => Kind::Object,
        b'[' => Kind::Array,
        b'"' => Kind::String,
        b't' | b'f' => Kind::Bool,
        b'n' => Kind::Null,
        _ => Kind::Number,
    };
    assert_eq!(value.kind(), kind);
    let members: Vec<(String, &str)> = value
        .members()
        .map(|(name, v)| (name.to_string(), v.as_str()))
        .collect();
    let expected: Vec<(String, &str)> = reference::members(root)
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.name, m.value))
        .collect();
    assert_eq!(members, expected);
    for (name, _) in &expected {
        let first = expected.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(value.get(name).map(|r| r.as_str()), first, "get({name:?})");
    }
    let elements: Vec<&str> = value.elements().map(|e| e.as_str()).collect();
    assert_eq!(elements, reference::elements(root).unwrap_or_default());
    if let Some(s) = value.as_string() {
        crate::message::check_str(&s);
    }
    assert_eq!(
        value.as_bool(),
        match root {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    );
    assert_eq!(value.is_null(), root == "null");
}
