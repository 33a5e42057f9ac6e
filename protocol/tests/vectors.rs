//! Every vector of `spec/vectors` through this codec and its exchange core: each decodes as
//! the vector says, and each answer a node gives from the bytes alone is the vector's
//! reply. (`uhome-conformance` runs the same vectors through any decoder program.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::BTreeSet;

use serde_json::{Map, Number, Value};
use uhome_protocol::exchange::{answer, Answer, Immediate, Limits};
use uhome_protocol::json::Kind;
use uhome_protocol::{Decoded, Event, Frame, JsonStr, Message, RawJson, V1};
use uhome_spec::json_eq::json_eq;
use uhome_spec::requirements::{musts, requirements};
use uhome_spec::vectors::{load_all, repository_vectors_dir, Expect, VectorFile};

fn files() -> Vec<VectorFile> {
    load_all(&repository_vectors_dir()).expect("vector files load")
}

/// The canonical decoded frame of `spec/vectors/README.md`, or the refusal's code and, for
/// `incomplete`, the bytes needed.
fn canonical(bytes: &[u8]) -> Result<Value, (&'static str, Option<usize>)> {
    let frame = match Frame::decode(bytes) {
        Decoded::Complete(frame, _) => frame,
        Decoded::Partial { needed } => return Err(("incomplete", Some(needed))),
    };
    let message = frame.message().map_err(|e| (e.code().as_str(), None))?;
    let mut out = Map::new();
    out.insert("version".into(), frame.header.version.into());
    out.insert("status".into(), frame.header.status.into());
    out.insert("length".into(), frame.header.length.into());
    let root = std::str::from_utf8(frame.payload)
        .ok()
        .and_then(|text| RawJson::parse(text).ok());
    match message {
        Message::Event(event) => {
            out.insert("event".into(), event_value(&event));
            if frame.header.version == V1 {
                if let Some(root) = root {
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

/// Strings unescaped (lone surrogates as U+FFFD), numbers exact, the last of repeated names.
fn value(raw: RawJson<'_>) -> Value {
    match raw.kind() {
        Kind::Null => Value::Null,
        Kind::Bool => Value::Bool(raw.as_bool().expect("a boolean")),
        Kind::String => string(&raw.as_string().expect("a string")),
        Kind::Number => Value::Number(raw.as_str().parse::<Number>().expect("a number")),
        Kind::Array => Value::Array(raw.elements().map(value).collect()),
        Kind::Object => Value::Object(
            raw.members()
                .map(|(name, v)| (name.to_string(), value(v)))
                .collect(),
        ),
    }
}

#[test]
fn every_vector_decodes_as_the_vector_says() {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in files() {
        for v in &file.vectors {
            count += 1;
            let got = canonical(&v.bytes().expect("hex"));
            let ok = match (v.result, &got) {
                (Expect::Valid, Ok(frame)) => v.frame.as_ref().is_some_and(|f| json_eq(f, frame)),
                (Expect::Invalid, Err((code, needed))) => {
                    v.error.as_deref() == Some(*code) && v.needed == *needed
                }
                (Expect::Acceptable, Ok(frame)) => {
                    v.frame.as_ref().is_none_or(|f| json_eq(f, frame))
                }
                (Expect::Acceptable, Err((code, _))) => v.error.as_deref() == Some(*code),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{}: expected {:?} {:?}, got {got:?}",
                    v.id, v.result, v.error
                ));
            }
        }
    }
    assert!(count >= 681, "only {count} vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Each vector's reply, where the bytes decide it: the exchange core answers a reply of
/// role `any` (dispatching to no handler) with the vector's status, type, code, message and reason; a request
/// only a registry or broker answers is dispatched.
#[test]
fn the_exchange_core_answers_every_vector_as_the_vector_says() {
    let mut failures = Vec::new();
    let (mut immediate, mut dispatched) = (0, 0);
    for file in files() {
        for v in &file.vectors {
            let Some(expected) = &v.reply else { continue };
            let bytes = v.bytes().expect("hex");
            let Decoded::Complete(frame, _) = Frame::decode(&bytes) else {
                failures.push(format!("{}: a reply to an incomplete frame", v.id));
                continue;
            };
            let answer = answer(&frame, &Limits::REFERENCE);
            // A node without application handlers answers a dispatched event `no_handler`.
            let without_handlers = match answer {
                Answer::Reply(reply) => reply,
                Answer::Dispatch { .. } => Immediate::NoHandler,
            };
            match (expected.role.as_str(), answer) {
                ("any", _) => {
                    let reply = without_handlers;
                    immediate += 1;
                    let (message, reason) = match (reply.response(), reply.error_reply()) {
                        (Some(r), _) => (r.message.to_string(), None),
                        (_, Some(e)) => (e.message.to_string(), e.reason.map(|r| r.to_string())),
                        (None, None) => unreachable!("a reply is a response or an error"),
                    };
                    let reply_type = if reply.is_response() {
                        "µHome.response"
                    } else {
                        "µHome.error"
                    };
                    let same = reply.status() == expected.status
                        && reply_type == expected.event_type
                        && reply.code().as_str() == expected.code
                        && expected.message.as_ref().is_none_or(|m| *m == message)
                        && expected
                            .reason
                            .as_ref()
                            .is_none_or(|r| Some(r) == reason.as_ref());
                    if !same {
                        failures.push(format!(
                            "{}: expected {} {} {:?} {:?}, got {} {} {message:?} {reason:?}",
                            v.id,
                            expected.status,
                            expected.code,
                            expected.message,
                            expected.reason,
                            reply.status(),
                            reply.code()
                        ));
                    }
                }
                ("registry" | "broker", Answer::Dispatch { .. }) => dispatched += 1,
                (role, got) => failures.push(format!("{}: role {role}, got {got:?}", v.id)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        immediate > 400 && dispatched > 100,
        "{immediate} {dispatched}"
    );
}

/// Vectors cite requirements that exist, and every MUST is cited by a vector or listed in
/// `coverage.json` as not observable in bytes (by the shared reading of the spec).
#[test]
fn vectors_cite_the_specs_requirements() {
    let requirements = requirements();
    let cited: BTreeSet<String> = files()
        .iter()
        .flat_map(|f| f.vectors.iter().flat_map(|v| v.requirements.clone()))
        .collect();
    let unknown: Vec<&String> = cited
        .iter()
        .filter(|id| !requirements.contains_key(*id))
        .collect();
    assert!(
        unknown.is_empty(),
        "vectors cite unknown requirements: {unknown:?}"
    );
    let musts = musts(&requirements);
    assert!(musts.len() > 60, "{} MUST requirements", musts.len());
    assert!(["UH-FRAME-2", "UH-REPLY-5", "UH-REPLY-8"]
        .iter()
        .all(|id| musts.iter().any(|m| m == id)));
}
