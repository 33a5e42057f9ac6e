//! Replies (section 8): the data of `µHome.response` and the error object of `µHome.error`,
//! with the codes and message strings of Appendix B.

use core::fmt;

use serde::{Serialize, Serializer};

use crate::code::Code;
use crate::core_events::CoreType;
use crate::encode::{encode_event, Body, Envelope, Json};
use crate::error::Error;
use crate::event::V2;
use crate::status;

/// Who replies, with which id, when ([UH-REPLY-1]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyEnvelope<'a> {
    /// A fresh event id.
    pub id: &'a str,
    /// The time of the reply.
    pub timestamp: &'a str,
    /// The replying node's id.
    pub source: &'a str,
}

/// Text that serializes as a JSON string through `Display`, without allocating.
#[derive(Clone, Copy)]
pub enum Text<'a> {
    /// A plain string.
    Str(&'a str),
    /// `prefix'<name>'` — the v0.0.1 messages that quote a node id.
    Quoted(&'static str, &'a dyn fmt::Display),
    /// An error's description.
    Error(Error),
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Text::Str(s) => f.write_str(s),
            Text::Quoted(prefix, name) => write!(f, "{prefix}'{name}'"),
            Text::Error(e) => e.fmt(f),
        }
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Str(s) => serializer.serialize_str(s),
            _ => serializer.collect_str(self),
        }
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({self})")
    }
}

/// `data` of a `µHome.response` without extra members ([UH-REPLY-2]).
#[derive(Serialize, Clone, Copy)]
pub struct Response<'a> {
    /// `message`
    pub message: Text<'a>,
    /// `code`
    pub code: &'a str,
}

impl<'a> Response<'a> {
    /// A response with a code of Appendix B.1 whose message is fixed.
    pub fn of(code: Code) -> Self {
        Response {
            message: Text::Str(code.fixed_message().unwrap_or("")),
            code: code.as_str(),
        }
    }

    /// `Service is healthy` ([UH-CORE-2]).
    pub fn healthy() -> Self {
        Response::of(Code::Healthy)
    }

    /// `No Handler for Event registered` ([UH-REPLY-5]).
    pub fn no_handler() -> Self {
        Response::of(Code::NoHandler)
    }

    /// `Successfully unregistered microservice '<nodeId>'` ([UH-REGISTRY-7]).
    pub fn unregistered(node_id: &'a dyn fmt::Display) -> Self {
        Response {
            message: Text::Quoted("Successfully unregistered microservice ", node_id),
            code: Code::Unregistered.as_str(),
        }
    }
}

/// `data` of a successful registration ([UH-REGISTRY-3]).
#[derive(Serialize, Clone, Copy)]
pub struct Registered<'a> {
    /// `Successfully registered microservice '<nodeId>'`
    pub message: Text<'a>,
    /// `registered`
    pub code: &'a str,
    /// The registered address.
    pub address: &'a str,
}

impl<'a> Registered<'a> {
    /// The reply to a registration of `node_id` at `address`.
    pub fn new(node_id: &'a dyn fmt::Display, address: &'a str) -> Self {
        Registered {
            message: Text::Quoted("Successfully registered microservice ", node_id),
            code: Code::Registered.as_str(),
            address,
        }
    }
}

/// One entry of a node list.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeEntry<'a> {
    /// `nodeId`
    #[serde(rename = "nodeId")]
    pub node_id: &'a str,
    /// `address`
    pub address: &'a str,
    /// `keepAlive`, written only when true ([UH-REGISTRY-11]).
    #[serde(rename = "keepAlive", skip_serializing_if = "is_false")]
    pub keep_alive: bool,
    /// `key`: the node's public key, 64 lowercase hex characters, written when the registry
    /// knows it ([UH-AUTH-20]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `data` of `µHome.core.nodes` ([UH-BROKER-1]), as the registry sends it.
#[derive(Serialize, Clone, Copy)]
pub struct NodeList<'a> {
    /// The whole list.
    pub nodes: &'a [NodeEntry<'a>],
}

/// `data` of the reply to `µHome.core.discover` ([UH-REGISTRY-8]).
#[derive(Serialize, Clone, Copy)]
pub struct Discovered<'a> {
    /// `Active nodes`
    pub message: Text<'a>,
    /// `nodes`
    pub code: &'a str,
    /// The list in registration order.
    pub nodes: &'a [NodeEntry<'a>],
}

impl<'a> Discovered<'a> {
    /// The reply listing `nodes`.
    pub fn new(nodes: &'a [NodeEntry<'a>]) -> Self {
        Discovered {
            message: Text::Str(Code::Nodes.fixed_message().unwrap_or("")),
            code: Code::Nodes.as_str(),
            nodes,
        }
    }
}

/// `data` of the reply to `µHome.core.unsubscribe` ([UH-BROKER-5]).
#[derive(Serialize, Clone, Copy)]
pub struct Unsubscribed<'a> {
    /// `Successfully unsubscribed from event`
    pub message: Text<'a>,
    /// `unsubscribed`
    pub code: &'a str,
    /// Whether the node had that subscription.
    pub removed: bool,
}

impl Unsubscribed<'_> {
    /// The reply, saying whether a subscription was removed.
    pub fn new(removed: bool) -> Self {
        Unsubscribed {
            message: Text::Str(Code::Unsubscribed.fixed_message().unwrap_or("")),
            code: Code::Unsubscribed.as_str(),
            removed,
        }
    }
}

/// `data` of the reply to `µHome.core.publish` with `wait: false` ([UH-BROKER-12]).
#[derive(Serialize, Clone, Copy)]
pub struct Queued<'a> {
    /// `Event queued`
    pub message: Text<'a>,
    /// `queued`
    pub code: &'a str,
    /// Deliveries started.
    pub queued: usize,
}

impl Queued<'_> {
    /// The answer before delivery.
    pub fn new(queued: usize) -> Self {
        Queued {
            message: Text::Str(Code::Queued.fixed_message().unwrap_or("")),
            code: Code::Queued.as_str(),
            queued,
        }
    }
}

/// `data` of the reply to `µHome.core.publish` ([UH-BROKER-9]).
#[derive(Serialize, Clone, Copy)]
pub struct Published<'a> {
    /// `Event published`
    pub message: Text<'a>,
    /// `published`
    pub code: &'a str,
    /// Deliveries that got a reply.
    pub delivered: usize,
    /// Node ids whose delivery failed.
    pub failed: &'a [&'a str],
}

impl<'a> Published<'a> {
    /// The delivery report.
    pub fn new(delivered: usize, failed: &'a [&'a str]) -> Self {
        Published {
            message: Text::Str(Code::Published.fixed_message().unwrap_or("")),
            code: Code::Published.as_str(),
            delivered,
            failed,
        }
    }
}

/// The `error` object of a `µHome.error` and its status ([UH-REPLY-3]).
#[derive(Serialize, Clone, Copy)]
pub struct ErrorReply<'a> {
    /// Status 2 or 0 (not serialized; it goes in the header).
    #[serde(skip)]
    pub status: u8,
    /// `message`
    pub message: Text<'a>,
    /// `code`
    pub code: &'a str,
    /// `reason`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text<'a>>,
}

impl<'a> ErrorReply<'a> {
    /// An error with a code of Appendix B.2, the message of `request` where the code's
    /// message depends on the type, and an optional reason.
    pub fn new(code: Code, request: Option<CoreType>, reason: Option<Text<'a>>) -> Self {
        let message = code
            .fixed_message()
            .or(request.map(CoreType::failure_message))
            .unwrap_or("Invalid data");
        ErrorReply {
            status: code.status().unwrap_or(status::REQUESTER_FAULT),
            message: Text::Str(message),
            code: code.as_str(),
            reason,
        }
    }

    /// The reply to a decoding or validation error ([UH-EXCHANGE-10]): its code, the
    /// message for `request`'s type, and the error's description as the reason.
    pub fn for_error(error: &Error, request: Option<CoreType>) -> Self {
        let reason = match error {
            Error::InvalidData(reason) => Text::Str(reason),
            other => Text::Error(*other),
        };
        ErrorReply::new(error.code(), request, Some(reason))
    }
}

/// Encodes a `µHome.response` frame (status 1, version 2) carrying `data`.
pub fn encode_response<T: Serialize + ?Sized>(
    out: &mut [u8],
    envelope: &ReplyEnvelope<'_>,
    data: &T,
) -> Result<usize, Error> {
    encode_event(
        out,
        V2,
        status::OK,
        &Envelope {
            id: envelope.id,
            timestamp: envelope.timestamp,
            source: envelope.source,
            event_type: crate::core_events::RESPONSE,
        },
        Body::Data(&Json(data)),
    )
}

/// Encodes a `µHome.error` frame (version 2) with the reply's status.
pub fn encode_error(
    out: &mut [u8],
    envelope: &ReplyEnvelope<'_>,
    error: &ErrorReply<'_>,
) -> Result<usize, Error> {
    encode_event(
        out,
        V2,
        error.status,
        &Envelope {
            id: envelope.id,
            timestamp: envelope.timestamp,
            source: envelope.source,
            event_type: crate::core_events::ERROR,
        },
        Body::Error(&Json(error)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Message;
    use crate::frame::Frame;

    const ENV: ReplyEnvelope<'static> = ReplyEnvelope {
        id: "07a69a8b-266e-47ff-b4f9-11f6034cac65",
        timestamp: "2026-11-28T22:17:50.503Z",
        source: "µHome/core/serviceRegistry",
    };

    fn payload(out: &[u8], n: usize) -> &str {
        core::str::from_utf8(&out[5..n]).unwrap()
    }

    #[test]
    fn registered_reply_matches_the_capture_plus_code() {
        let mut out = [0u8; 400];
        let id = "µHome/dummyService";
        let n = encode_response(&mut out, &ENV, &Registered::new(&id, "127.0.0.1:5102")).unwrap();
        assert_eq!(
            payload(&out, n),
            r#"{"id":"07a69a8b-266e-47ff-b4f9-11f6034cac65","timestamp":"2026-11-28T22:17:50.503Z","source":"µHome/core/serviceRegistry","type":"µHome.response","data":{"message":"Successfully registered microservice 'µHome/dummyService'","code":"registered","address":"127.0.0.1:5102"}}"#
        );
        assert_eq!(out[4], 1);
    }

    #[test]
    fn error_replies_carry_code_message_reason_and_status() {
        let mut out = [0u8; 400];
        let e = ErrorReply::for_error(
            &Error::InvalidData(crate::core_events::REASON_NO_SUBSCRIBE),
            Some(CoreType::Subscribe),
        );
        let n = encode_error(&mut out, &ENV, &e).unwrap();
        assert!(payload(&out, n).ends_with(r#""type":"µHome.error","error":{"message":"Failed to subscribe for microservice to event","code":"invalid_data","reason":"Request did not contain a event to subscribe to"}}"#));
        assert_eq!(out[4], 2);
        let n = encode_error(
            &mut out,
            &ENV,
            &ErrorReply::for_error(&Error::BadStatus(0), None),
        )
        .unwrap();
        assert!(payload(&out, n).ends_with(
            r#""error":{"message":"Error in Message","code":"bad_status","reason":"a request carries status 1, not 0"}}"#
        ));
        let n = encode_error(&mut out, &ENV, &ErrorReply::new(Code::Internal, None, None)).unwrap();
        assert_eq!(out[4], 0);
        let (frame, _) = Frame::decode(&out[..n]).complete().unwrap();
        assert!(matches!(frame.message(), Ok(Message::Event(_))));
    }

    #[test]
    fn reasons_describe_decode_errors() {
        let mut out = [0u8; 400];
        let e = Error::InvalidJson {
            offset: 3,
            fault: crate::json::JsonFault::InvalidEscape,
        };
        let n = encode_error(&mut out, &ENV, &ErrorReply::for_error(&e, None)).unwrap();
        assert!(payload(&out, n).contains(r#""message":"Payload is not valid JSON","code":"invalid_json","reason":"invalid escape at byte 3""#));
    }
}
