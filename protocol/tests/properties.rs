//! Property tests: round trips, no panics on arbitrary bytes, stream reassembly.

use proptest::prelude::*;
use serde_json::Value;
use uhome_protocol::{
    encode_event, Body, Decoded, Envelope, Frame, FrameBuffer, Message, Next, RawJson, HEADER_LEN,
    V2,
};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn non_empty() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("non-empty", |s| !s.is_empty())
}

#[derive(Debug, Clone)]
enum TestBody {
    None,
    Data(Value),
    Error(Value),
}

fn body() -> impl Strategy<Value = TestBody> {
    prop_oneof![
        Just(TestBody::None),
        json_value().prop_map(TestBody::Data),
        json_value().prop_map(TestBody::Error),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn events_round_trip(
        id in non_empty(), timestamp in non_empty(), source in non_empty(), event_type in non_empty(),
        status in any::<u8>(), body in body(), pretty in any::<bool>(),
    ) {
        let text = match &body {
            TestBody::None => String::new(),
            TestBody::Data(v) | TestBody::Error(v) if pretty => serde_json::to_string_pretty(v).unwrap(),
            TestBody::Data(v) | TestBody::Error(v) => serde_json::to_string(v).unwrap(),
        };
        let raw = RawJson::parse(&text);
        let wire_body = match (&body, &raw) {
            (TestBody::None, _) => Body::None,
            (TestBody::Data(_), Ok(raw)) => Body::Data(raw),
            (TestBody::Error(_), Ok(raw)) => Body::Error(raw),
            (_, Err(e)) => return Err(TestCaseError::fail(format!("serde_json output refused: {e}"))),
        };
        let envelope = Envelope { id: &id, timestamp: &timestamp, source: &source, event_type: &event_type };
        let mut out = vec![0u8; 70_000];
        let n = match encode_event(&mut out, V2, status, &envelope, wire_body) {
            Ok(n) => n,
            Err(uhome_protocol::Error::TooLarge) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("encode: {e}"))),
        };
        let Decoded::Complete(frame, used) = Frame::decode(&out[..n]) else {
            return Err(TestCaseError::fail("partial"));
        };
        prop_assert_eq!(used, n);
        prop_assert_eq!(frame.status(), status);
        let Ok(Message::Event(event)) = frame.message() else {
            return Err(TestCaseError::fail("payload refused"));
        };
        prop_assert_eq!(event.id.to_string(), id);
        prop_assert_eq!(event.timestamp.to_string(), timestamp);
        prop_assert_eq!(event.source.to_string(), source);
        prop_assert_eq!(event.event_type.to_string(), event_type);
        // The value's text travels verbatim (whitespace around it aside).
        let sent = Some(text.trim());
        match body {
            TestBody::None => prop_assert!(event.data.is_none() && event.error.is_none()),
            TestBody::Data(_) => { prop_assert_eq!(event.data.map(|r| r.as_str()), sent); prop_assert!(event.error.is_none()); }
            TestBody::Error(_) => { prop_assert_eq!(event.error.map(|r| r.as_str()), sent); prop_assert!(event.data.is_none()); }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_framing_is_exact(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        match Frame::decode(&bytes) {
            Decoded::Complete(frame, used) => {
                prop_assert_eq!(used, HEADER_LEN + frame.header.length as usize);
                prop_assert_eq!(frame.payload, &bytes[HEADER_LEN..used]);
                let _ = frame.message();
            }
            Decoded::Partial { needed } => {
                prop_assert!(needed > 0);
                if bytes.len() >= HEADER_LEN {
                    let declared = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
                    prop_assert_eq!(needed, HEADER_LEN + declared - bytes.len());
                } else {
                    prop_assert_eq!(needed, HEADER_LEN - bytes.len());
                }
            }
        }
    }

    #[test]
    fn arbitrary_payloads_never_panic(version in 0u16..4, payload in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = uhome_protocol::decode_payload(version, &payload, 128);
    }

    #[test]
    fn json_shaped_text_never_panics(text in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,80}") {
        let _ = uhome_protocol::decode_payload(2, text.as_bytes(), 128);
        if let Ok(raw) = RawJson::parse(&text) {
            prop_assert!(serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok(), "we accepted what serde_json refuses: {}", text);
            for (name, value) in raw.members() { let _ = (name.to_string(), value.kind()); }
            for element in raw.elements() { let _ = element.kind(); }
        }
    }

    #[test]
    fn any_chunking_gives_the_frames_of_the_whole(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..6),
        tail in prop::collection::vec(any::<u8>(), 0..4),
        cuts in prop::collection::vec(0usize..400, 0..12),
    ) {
        let mut stream = Vec::new();
        for p in &payloads {
            stream.extend_from_slice(&(p.len() as u16).to_be_bytes());
            stream.extend_from_slice(&[0, 2, 1]);
            stream.extend_from_slice(p);
        }
        stream.extend_from_slice(&tail);
        let mut whole = Vec::new();
        let mut rest = &stream[..];
        while let Decoded::Complete(frame, used) = Frame::decode(rest) {
            whole.push((frame.header, frame.payload.to_vec(), frame.message().map(|_| ()).map_err(|e| e.code())));
            rest = &rest[used..];
        }
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
        points.push(stream.len());
        points.sort_unstable();
        let mut buf = FrameBuffer::<64>::new();
        let mut chunked = Vec::new();
        let mut start = 0;
        for end in points {
            let mut chunk = &stream[start..end];
            while !chunk.is_empty() {
                let taken = buf.push(chunk);
                chunk = &chunk[taken..];
                while let Some(next) = buf.pop() {
                    let Next::Frame(frame) = next else { return Err(TestCaseError::fail("oversized")) };
                    chunked.push((frame.header, frame.payload.to_vec(), frame.message().map(|_| ()).map_err(|e| e.code())));
                }
            }
            start = end;
        }
        prop_assert_eq!(chunked, whole);
        prop_assert_eq!(buf.buffered(), rest.len());
    }
}
