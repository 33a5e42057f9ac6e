//! Replies: what handlers return, and the one place where protocol errors become the
//! spec's error replies ([UH-EXCHANGE-10], [UH-REPLY-3]).

use std::time::SystemTime;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};
use uhome_protocol::core_events::{CoreType, ERROR, RESPONSE};
use uhome_protocol::reply::{ErrorReply, Response, Text};
use uhome_protocol::{encode_event, Body, Code, Envelope, WriteJson, MAX_FRAME_LEN, V2};

/// What a node answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    status: u8,
    kind: Kind,
    /// The JSON text of `data` (a response) or `error` (an error), produced by serde_json.
    body: String,
    /// The body's `code`, when it is a string.
    code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Response,
    Error,
}

/// The body's JSON text and its `code`.
fn json<T: Serialize + ?Sized>(value: &T) -> (String, Option<String>) {
    // Serializing maps, strings and the protocol's reply structs cannot fail.
    let value = serde_json::to_value(value).unwrap_or_default();
    let code = value
        .get("code")
        .and_then(Value::as_str)
        .map(str::to_string);
    (value.to_string(), code)
}

impl Reply {
    /// A `µHome.response` whose data is `data` (which carries `message` and `code`).
    pub fn data<T: Serialize + ?Sized>(data: &T) -> Reply {
        let (body, code) = json(data);
        Reply {
            status: uhome_protocol::status::OK,
            kind: Kind::Response,
            body,
            code,
        }
    }

    /// A `µHome.response` with `code`, `message` and further members ([UH-REPLY-2]).
    pub fn response(code: &str, message: &str, extra: Map<String, Value>) -> Reply {
        let mut data = Map::new();
        data.insert("message".into(), message.into());
        data.insert("code".into(), code.into());
        data.extend(extra);
        Reply::data(&data)
    }

    /// A response with code `ok`.
    pub fn ok(message: &str) -> Reply {
        Reply::response("ok", message, Map::new())
    }

    /// A `µHome.error` with status 2 (the requester's fault) or 0 (the replier's).
    pub fn error(status: u8, code: &str, message: &str, reason: Option<&str>) -> Reply {
        let mut error = Map::new();
        error.insert("message".into(), message.into());
        error.insert("code".into(), code.into());
        if let Some(reason) = reason {
            error.insert("reason".into(), reason.into());
        }
        let (body, code) = json(&error);
        Reply {
            status,
            kind: Kind::Error,
            body,
            code,
        }
    }

    /// One of the protocol's error replies.
    pub fn from_error_reply(error: &ErrorReply<'_>) -> Reply {
        let (body, code) = json(error);
        Reply {
            status: error.status,
            kind: Kind::Error,
            body,
            code,
        }
    }

    /// The reply to a protocol error — decoding, validation of core data — for a request of
    /// type `request`. Every such error becomes a reply here and nowhere else.
    pub fn for_error(error: &uhome_protocol::Error, request: Option<CoreType>) -> Reply {
        Reply::from_error_reply(&ErrorReply::for_error(error, request))
    }

    /// An error with a code of Appendix B whose reason is given.
    pub fn for_code(code: Code, request: Option<CoreType>, reason: Option<&str>) -> Reply {
        Reply::from_error_reply(&ErrorReply::new(code, request, reason.map(Text::Str)))
    }

    /// `No Handler for Event registered` ([UH-REPLY-5]).
    pub fn no_handler() -> Reply {
        Reply::data(&Response::no_handler())
    }

    /// `Service is healthy` ([UH-CORE-2]).
    pub fn healthy() -> Reply {
        Reply::data(&Response::healthy())
    }

    /// `internal`, status 0 ([UH-REPLY-7]).
    pub fn internal(reason: &str) -> Reply {
        Reply::for_code(Code::Internal, None, Some(reason))
    }

    /// The status byte.
    pub fn status(&self) -> u8 {
        self.status
    }

    /// Whether this is a `µHome.response`.
    pub fn is_response(&self) -> bool {
        self.kind == Kind::Response
    }

    /// The `data` or `error` member's JSON text.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The reply's code, if its body has one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Encodes the reply frame sent by node `source` ([UH-REPLY-1], [UH-VERSION-5]): a fresh
    /// id and the current time. A reply that breaks the rules (a bad code, over 65535 bytes)
    /// becomes `internal`.
    pub fn encode(&self, source: &str) -> Bytes {
        let checked = match self.code() {
            Some(code) if Code::is_valid(code) => self,
            _ => &Reply::internal("the handler's reply has no valid code"),
        };
        match checked.try_encode(source) {
            Ok(bytes) => bytes,
            Err(_) => Reply::internal("the handler's reply does not fit in a frame")
                .try_encode(source)
                .unwrap_or_default(),
        }
    }

    /// Encodes the reply as it is: `TooLarge` when it does not fit in a frame.
    pub fn try_encode(&self, source: &str) -> Result<Bytes, uhome_protocol::Error> {
        let id = new_id();
        let timestamp = now();
        let envelope = Envelope {
            id: &id,
            timestamp: &timestamp,
            source,
            event_type: match self.kind {
                Kind::Response => RESPONSE,
                Kind::Error => ERROR,
            },
        };
        let body = Verbatim(&self.body);
        let body = match self.kind {
            Kind::Response => Body::Data(&body),
            Kind::Error => Body::Error(&body),
        };
        let size = estimate(self.body.len() + id.len() + timestamp.len() + source.len() + 16);
        encode_frame_vec(size, |out| {
            encode_event(out, V2, self.status, &envelope, body)
        })
    }
}

/// JSON text produced by serde_json, written as it is.
pub(crate) struct Verbatim<'a>(pub &'a str);

impl WriteJson for Verbatim<'_> {
    fn write_json(&self, out: &mut [u8]) -> Result<usize, uhome_protocol::Error> {
        let text = self.0.as_bytes();
        out.get_mut(..text.len())
            .ok_or(uhome_protocol::Error::BufferTooSmall)?
            .copy_from_slice(text);
        Ok(text.len())
    }
}

/// Runs an encoder into a buffer of about `estimate` bytes, or one sized for any frame when
/// that is too small, and returns the frame.
pub(crate) fn encode_frame_vec(
    estimate: usize,
    encode: impl Fn(&mut [u8]) -> Result<usize, uhome_protocol::Error>,
) -> Result<Bytes, uhome_protocol::Error> {
    let mut out = vec![0u8; estimate.min(MAX_FRAME_LEN)];
    let n = match encode(&mut out) {
        Err(uhome_protocol::Error::BufferTooSmall) if out.len() < MAX_FRAME_LEN => {
            out = vec![0u8; MAX_FRAME_LEN];
            encode(&mut out)?
        }
        other => other?,
    };
    out.truncate(n);
    Ok(Bytes::from(out))
}

/// Room for an envelope around `content` bytes of strings and body.
pub(crate) fn estimate(content: usize) -> usize {
    content + 160
}

/// A fresh event id: a UUID v4 ([UH-EVENT-7] recommends it).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The current time as v0.0.1 writes it: RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uhome_protocol::{Frame, Message};

    fn decode(bytes: &[u8]) -> (u8, String, Value) {
        let (frame, _) = Frame::decode(bytes).complete().unwrap();
        let Ok(Message::Event(e)) = frame.message() else {
            panic!()
        };
        let body = e.data.or(e.error).unwrap();
        (
            frame.status(),
            e.event_type.to_string(),
            serde_json::from_str(body.as_str()).unwrap(),
        )
    }

    #[test]
    fn replies_encode_with_envelope_and_status() {
        let (status, t, data) = decode(&Reply::healthy().encode("node"));
        assert_eq!((status, t.as_str()), (1, "µHome.response"));
        assert_eq!(
            data,
            serde_json::json!({"message": "Service is healthy", "code": "healthy"})
        );
        let (status, t, error) = decode(&Reply::internal("boom").encode("node"));
        assert_eq!((status, t.as_str()), (0, "µHome.error"));
        assert_eq!(error["code"], "internal");
        assert_eq!(error["reason"], "boom");
    }

    #[test]
    fn invalid_codes_and_oversized_replies_become_internal() {
        let (status, _, error) = decode(&Reply::ok("x").encode("n"));
        assert_eq!((status, error["code"].as_str()), (1, Some("ok")));
        let (status, _, error) = decode(&Reply::response("Bad Code", "x", Map::new()).encode("n"));
        assert_eq!((status, error["code"].as_str()), (0, Some("internal")));
        let big = "x".repeat(70_000);
        let (status, _, error) = decode(&Reply::ok(&big).encode("n"));
        assert_eq!((status, error["code"].as_str()), (0, Some("internal")));
    }

    #[test]
    fn a_small_estimate_falls_back_to_a_frame_sized_buffer() {
        let frame = encode_frame_vec(8, |out| {
            uhome_protocol::encode_frame(out, 2, 1, &[b' '; 300])
        })
        .unwrap();
        assert_eq!(frame.len(), 305);
        let too_big = encode_frame_vec(8, |out| {
            uhome_protocol::encode_frame(out, 2, 1, &[b' '; 70_000])
        });
        assert_eq!(too_big, Err(uhome_protocol::Error::TooLarge));
    }

    #[test]
    fn bodies_keep_v0_0_1_member_order() {
        let id = "µHome/dummyService";
        let reply = Reply::data(&uhome_protocol::reply::Registered::new(
            &id,
            "127.0.0.1:5102",
        ));
        assert_eq!(
            reply.body(),
            r#"{"message":"Successfully registered microservice 'µHome/dummyService'","code":"registered","address":"127.0.0.1:5102"}"#
        );
        assert_eq!(reply.code(), Some("registered"));
        let mut extra = Map::new();
        extra.insert("echo".into(), Value::Null);
        assert_eq!(
            Reply::response("echo", "Echo", extra).body(),
            r#"{"message":"Echo","code":"echo","echo":null}"#
        );
    }
}
