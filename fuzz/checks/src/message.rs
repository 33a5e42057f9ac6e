//! Checks shared by `frame_decode` and `event_decode`: a decoded payload against the
//! reference reading of sections 5 and 6, and every string against the reference unescaper.

use uhome_protocol::json::{BufferTooSmall, MAX_DEPTH};
use uhome_protocol::{Error, EventFault, JsonStr, Member, Message, RawJson};

use crate::reference;

/// The six envelope names, spelled out here rather than taken from the codec.
const NAMES: [(&str, Member); 6] = [
    ("id", Member::Id),
    ("timestamp", Member::Timestamp),
    ("source", Member::Source),
    ("type", Member::Type),
    ("data", Member::Data),
    ("error", Member::Error),
];

/// Every way of reading a [`JsonStr`] gives the same text, and that text is the reference
/// unescaping of the raw string (and serde_json's, when serde_json can decode it).
pub fn check_str(s: &JsonStr<'_>) {
    let raw = s.raw();
    let text = s.to_string();
    let expected = reference::unescape(raw);
    assert_eq!(text, expected, "unescaping {raw:?}");
    // serde_json decodes every string without a lone surrogate; it must agree.
    match serde_json::from_str::<String>(&format!("\"{raw}\"")) {
        Ok(theirs) => assert_eq!(text, theirs, "serde_json unescapes {raw:?} differently"),
        Err(_) => assert!(
            reference::has_lone_surrogate(&format!("\"{raw}\"")),
            "serde_json refuses string {raw:?} without a lone surrogate"
        ),
    }
    assert_eq!(s.chars().collect::<String>(), text);
    assert_eq!(s.char_count(), text.chars().count());
    assert_eq!(s.unescaped_len(), text.len());
    assert_eq!(s.is_empty(), text.is_empty(), "is_empty of {raw:?}");
    assert!(s.eq_str(&text));
    assert!(*s == text.as_str());
    if let Some(first) = text.chars().next() {
        assert!(s.starts_with(first.encode_utf8(&mut [0; 4])));
    }
    if let Some(plain) = s.as_plain() {
        assert!(!raw.contains('\\'));
        assert_eq!(plain, text);
    } else {
        assert!(raw.contains('\\'));
    }
    let mut buf = vec![0u8; text.len()];
    assert_eq!(s.unescape_into(&mut buf), Ok(text.as_str()));
    if !text.is_empty() {
        let mut short = vec![0u8; text.len() - 1];
        assert_eq!(s.unescape_into(&mut short), Err(BufferTooSmall));
    }
    match s.to_heapless::<32>() {
        Ok(h) => assert_eq!(h.as_str(), text),
        Err(e) => {
            assert_eq!(e, BufferTooSmall);
            assert!(text.len() > 32);
        }
    }
}

/// A `data` or `error` value: valid by itself, and the same text after re-validation.
fn check_value(value: &RawJson<'_>) {
    let text = value.as_str();
    let again = RawJson::parse(text).unwrap_or_else(|e| panic!("{text:?} re-validates: {e}"));
    assert_eq!(again.as_str(), text);
    assert!(
        reference::serde_accepts(text),
        "serde_json refuses {text:?}"
    );
    assert_eq!(text.trim_matches(reference::is_ws), text);
}

/// The checks of `event_decode` on one result of `decode_payload(version, payload, 128)`,
/// including its agreement with the reference reading of the specification.
pub fn check_message(version: u16, payload: &[u8], result: &Result<Message<'_>, Error>) {
    match result {
        Ok(Message::Event(event)) => {
            for s in [
                &event.id,
                &event.timestamp,
                &event.source,
                &event.event_type,
            ] {
                check_str(s);
                if version == 2 {
                    assert!(!s.to_string().is_empty(), "empty member in a v2 event");
                }
            }
            event.data.iter().chain(&event.error).for_each(check_value);
        }
        Ok(Message::Other(root)) => {
            assert_eq!(version, 1, "only version 1 has non-events");
            check_value(root);
        }
        Err(_) => {}
    }
    against_reference(version, payload, result);
}

/// What the specification says `decode_payload(version, payload, 128)` yields, computed
/// without the codec: serde_json's grammar verdict, the reference depth, and a member
/// splitter with the reference unescaper. Panics when `result` differs.
fn against_reference(version: u16, payload: &[u8], result: &Result<Message<'_>, Error>) {
    if version != 1 && version != 2 {
        assert_eq!(result, &Err(Error::UnsupportedVersion(version)));
        return;
    }
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(e) => {
            assert_eq!(
                result,
                &Err(Error::InvalidUtf8 {
                    offset: e.valid_up_to()
                })
            );
            return;
        }
    };
    if !reference::serde_accepts(text) {
        // A grammar fault; a too-deep bracket before it in byte order is reported instead.
        assert!(
            matches!(
                result,
                Err(Error::InvalidJson { .. } | Error::TooDeep { .. })
            ),
            "serde_json refuses {text:?}, the codec says {result:?}"
        );
        return;
    }
    if reference::depth(text) > MAX_DEPTH {
        assert!(
            matches!(result, Err(Error::TooDeep { .. })),
            "depth {} > 128 but {result:?}",
            reference::depth(text)
        );
        return;
    }
    let root = text.trim_matches(reference::is_ws);
    let members = reference::members(root);
    let envelope = |name: &str| -> Vec<&reference::RefMember<'_>> {
        members
            .iter()
            .flatten()
            .filter(|m| m.name == name)
            .collect()
    };
    let is_string = |value: &str| value.starts_with('"');
    let repeated: Vec<Member> = NAMES
        .iter()
        .filter(|(name, _)| envelope(name).len() > 1)
        .map(|&(_, m)| m)
        .collect();
    if !repeated.is_empty() {
        let type_decides = envelope("type").iter().any(|m| is_string(m.value));
        match result {
            Err(Error::DuplicateMember(m)) => {
                assert!(repeated.contains(m), "{m:?} named, repeated: {repeated:?}")
            }
            // [UH-EVENT-5] binds events; a v1 object with no string `type` is no event.
            Ok(Message::Other(other)) if version == 1 && !type_decides => {
                assert_eq!(other.as_str(), root)
            }
            other => panic!("repeated {repeated:?} in {text:?}: {other:?}"),
        }
        return;
    }
    let member = |name: &str| envelope(name).first().map(|m| m.value);
    let string = |name: &str| member(name).filter(|v| is_string(v));
    if version == 1 {
        let Some(event_type) = string("type").filter(|_| members.is_some()) else {
            match result {
                Ok(Message::Other(other)) => assert_eq!(other.as_str(), root),
                other => panic!("v1 non-event {text:?}: {other:?}"),
            }
            return;
        };
        let Ok(Message::Event(event)) = result else {
            panic!("v1 event {text:?}: {result:?}");
        };
        let text_of = |name: &str| string(name).map_or(String::new(), unquote);
        assert_eq!(event.id.to_string(), text_of("id"));
        assert_eq!(event.timestamp.to_string(), text_of("timestamp"));
        assert_eq!(event.source.to_string(), text_of("source"));
        assert_eq!(event.event_type.to_string(), unquote(event_type));
        assert_eq!(event.data.map(|d| d.as_str()), member("data"));
        assert_eq!(event.error.map(|d| d.as_str()), member("error"));
        return;
    }
    if members.is_none() {
        assert_eq!(
            result,
            &Err(Error::InvalidEvent(EventFault::NotAnObject)),
            "{text:?}"
        );
        return;
    }
    for (name, m) in &NAMES[..4] {
        let fault = match member(name) {
            None => Some(EventFault::Missing(*m)),
            Some(v) if !is_string(v) => Some(EventFault::NotAString(*m)),
            Some("\"\"") => Some(EventFault::Empty(*m)),
            Some(_) => None,
        };
        if let Some(fault) = fault {
            assert_eq!(result, &Err(Error::InvalidEvent(fault)), "{text:?}");
            return;
        }
    }
    let Ok(Message::Event(event)) = result else {
        panic!("v2 event {text:?}: {result:?}");
    };
    let text_of = |name: &str| string(name).map_or(String::new(), unquote);
    assert_eq!(event.id.to_string(), text_of("id"));
    assert_eq!(event.timestamp.to_string(), text_of("timestamp"));
    assert_eq!(event.source.to_string(), text_of("source"));
    assert_eq!(event.event_type.to_string(), text_of("type"));
    assert_eq!(event.data.map(|d| d.as_str()), member("data"));
    assert_eq!(event.error.map(|d| d.as_str()), member("error"));
}

/// The reference unescaping of a JSON string value `"…"`.
fn unquote(value: &str) -> String {
    reference::unescape(&value[1..value.len() - 1])
}
