//! The exchange, sans IO: what a node answers to one request frame ([UH-EXCHANGE-10]).
//!
//! [`answer`] applies the rules in the specification's order — the node's payload limit
//! ([UH-FRAME-6]), version ([UH-VERSION-4]), status ([UH-STATUS-3]), payload decoding
//! (sections 5 and 6), then dispatch by `type` — and returns either an [`Immediate`] reply
//! or the event to hand to a handler. It does no I/O and never allocates, so a shell on
//! tokio and a `no_std` node on a [`crate::FrameBuffer`] share it; the shell keeps
//! concurrency, deadlines and the catching of failed handlers ([UH-REPLY-7]).
//!
//! ```
//! use uhome_protocol::exchange::{answer, Answer, Immediate, Limits};
//! use uhome_protocol::{Decoded, Frame};
//!
//! let bytes = b"\x00\x02\x00\x07\x01{}";
//! let Decoded::Complete(frame, _) = Frame::decode(bytes) else { panic!("need more") };
//! let Answer::Reply(reply) = answer(&frame, &Limits::REFERENCE) else { panic!("a reply") };
//! assert_eq!(reply.code().as_str(), "unsupported_version");
//! assert_eq!(reply.status(), 2);
//! ```

use crate::buffer::Next;
use crate::code::Code;
use crate::core_events::HEALTHCHECK;
use crate::error::Error;
use crate::event::{Event, Message};
use crate::frame::Frame;
use crate::header::{Header, MAX_PAYLOAD_LEN};
use crate::json::{MAX_DEPTH, REQUIRED_DEPTH};
use crate::reply::{encode_error, encode_response, ErrorReply, ReplyEnvelope, Response};

/// What a node accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest payload accepted; a longer frame is answered `too_large` from its header
    /// alone ([UH-FRAME-6]). A conforming node accepts at least [`Limits::MIN_PAYLOAD`].
    pub max_payload: usize,
    /// Deepest nesting accepted ([UH-JSON-8]): at least [`REQUIRED_DEPTH`], at most
    /// [`MAX_DEPTH`].
    pub max_depth: usize,
}

impl Limits {
    /// The least payload limit a node may set ([UH-FRAME-6]).
    pub const MIN_PAYLOAD: usize = 4096;

    /// The reference node's: every payload ([UH-FRAME-6] SHOULD), depth 128.
    pub const REFERENCE: Limits = Limits {
        max_payload: MAX_PAYLOAD_LEN,
        max_depth: MAX_DEPTH,
    };

    /// Whether these limits conform: payloads of 4096 bytes and depth 64 accepted.
    pub const fn conform(&self) -> bool {
        self.max_payload >= Limits::MIN_PAYLOAD && self.max_depth >= REQUIRED_DEPTH
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::REFERENCE
    }
}

/// A reply decided without running a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Immediate {
    /// `µHome.error` for a frame refused by the first four rules of [UH-EXCHANGE-10].
    Refused(Error),
    /// `Service is healthy` ([UH-CORE-2]).
    Healthy,
    /// `No Handler for Event registered` ([UH-REPLY-5]).
    NoHandler,
}

impl Immediate {
    /// The reply's code.
    pub const fn code(&self) -> Code {
        match self {
            Immediate::Refused(error) => error.code(),
            Immediate::Healthy => Code::Healthy,
            Immediate::NoHandler => Code::NoHandler,
        }
    }

    /// The reply's status byte (Appendix B).
    pub const fn status(&self) -> u8 {
        match self.code().status() {
            Some(status) => status,
            None => crate::status::REQUESTER_FAULT,
        }
    }

    /// Whether the reply is a `µHome.response` (else a `µHome.error`).
    pub const fn is_response(&self) -> bool {
        !matches!(self, Immediate::Refused(_))
    }

    /// The `error` object of a refusal, with the error's description as `reason`.
    pub fn error_reply(&self) -> Option<ErrorReply<'static>> {
        match self {
            Immediate::Refused(error) => Some(ErrorReply::for_error(error, None)),
            Immediate::Healthy | Immediate::NoHandler => None,
        }
    }

    /// The `data` of a response.
    pub fn response(&self) -> Option<Response<'static>> {
        match self {
            Immediate::Healthy => Some(Response::healthy()),
            Immediate::NoHandler => Some(Response::no_handler()),
            Immediate::Refused(_) => None,
        }
    }

    /// Encodes the reply frame into `out` ([UH-REPLY-1], [UH-VERSION-5]) and returns its
    /// length; `BufferTooSmall` when it does not fit.
    pub fn encode(&self, out: &mut [u8], envelope: &ReplyEnvelope<'_>) -> Result<usize, Error> {
        match self {
            Immediate::Refused(error) => {
                encode_error(out, envelope, &ErrorReply::for_error(error, None))
            }
            Immediate::Healthy => encode_response(out, envelope, &Response::healthy()),
            Immediate::NoHandler => encode_response(out, envelope, &Response::no_handler()),
        }
    }
}

/// What to do with one request frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// Send this reply.
    Reply(Immediate),
    /// Hand the event to the handler of its type, or answer [`Immediate::NoHandler`] when
    /// there is none ([UH-REPLY-5]).
    Dispatch {
        /// The frame's wire version (1 or 2).
        version: u16,
        /// The event, borrowing the frame's payload.
        event: Event<'a>,
    },
}

/// The answer to a frame whose header alone decides it: a payload over the limit
/// ([UH-FRAME-6]) is `too_large` before any other rule.
pub const fn answer_header(header: &Header, limits: &Limits) -> Option<Immediate> {
    if header.length as usize > limits.max_payload {
        Some(Immediate::Refused(Error::TooLarge))
    } else {
        None
    }
}

/// The answer to one request frame, by the rules of [UH-EXCHANGE-10] in their order.
pub fn answer<'a>(frame: &Frame<'a>, limits: &Limits) -> Answer<'a> {
    if let Some(reply) = answer_header(&frame.header, limits) {
        return Answer::Reply(reply);
    }
    match frame.request_with_depth(limits.max_depth) {
        Err(error) => Answer::Reply(Immediate::Refused(error)),
        Ok(Message::Other(_)) => Answer::Reply(Immediate::NoHandler),
        Ok(Message::Event(event)) if event.event_type == HEALTHCHECK => {
            Answer::Reply(Immediate::Healthy)
        }
        Ok(Message::Event(event)) => Answer::Dispatch {
            version: frame.header.version,
            event,
        },
    }
}

/// The answer to what a [`crate::FrameBuffer`] yields: a frame longer than the buffer is
/// `too_large` ([UH-FRAME-6]), as is one over `limits`.
pub fn answer_next<'a>(next: Next<'a>, limits: &Limits) -> Answer<'a> {
    match next {
        Next::Frame(frame) => answer(&frame, limits),
        Next::Oversized(_) => Answer::Reply(Immediate::Refused(Error::TooLarge)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoded::Decoded;
    use crate::encode::encode_frame;
    use crate::event::V2;

    const HEALTH: &[u8] = b"{\"id\":\"1\",\"timestamp\":\"t\",\"source\":\"s\",\"type\":\"\xc2\xb5Home.core.healthcheck\"}";
    const LAMP: &[u8] = br#"{"id":"1","timestamp":"t","source":"s","type":"home.lamp"}"#;

    fn answer_to<'a>(out: &'a mut [u8], version: u16, status: u8, payload: &[u8]) -> Answer<'a> {
        let n = encode_frame(out, version, status, payload).unwrap();
        let Decoded::Complete(frame, _) = Frame::decode(&out[..n]) else {
            panic!("a whole frame")
        };
        answer(&frame, &Limits::REFERENCE)
    }

    fn code(answer: Answer<'_>) -> &'static str {
        match answer {
            Answer::Reply(reply) => reply.code().as_str(),
            Answer::Dispatch { .. } => "dispatch",
        }
    }

    #[test]
    fn rules_apply_in_the_order_of_uh_exchange_10() {
        let mut out = [0u8; 256];
        // Version before status before payload.
        assert_eq!(
            code(answer_to(&mut out, 3, 0, b"\xff")),
            "unsupported_version"
        );
        assert_eq!(code(answer_to(&mut out, 2, 0, b"\xff")), "bad_status");
        assert_eq!(code(answer_to(&mut out, 2, 1, b"\xff")), "invalid_utf8");
        assert_eq!(code(answer_to(&mut out, 2, 1, b"[1,")), "invalid_json");
        assert_eq!(code(answer_to(&mut out, 2, 1, b"[]")), "invalid_event");
        assert_eq!(code(answer_to(&mut out, 1, 1, b"[]")), "no_handler");
        assert_eq!(code(answer_to(&mut out, 2, 1, HEALTH)), "healthy");
        let Answer::Dispatch { version, event } = answer_to(&mut out, V2, 1, LAMP) else {
            panic!("dispatch expected")
        };
        assert_eq!(version, 2);
        assert!(event.event_type.eq_str("home.lamp"));
    }

    #[test]
    fn the_payload_limit_comes_first_and_is_decided_by_the_header() {
        let limits = Limits {
            max_payload: 4096,
            max_depth: 64,
        };
        assert!(limits.conform());
        let over = Header {
            length: 4097,
            version: 9,
            status: 0,
        };
        assert_eq!(
            answer_header(&over, &limits),
            Some(Immediate::Refused(Error::TooLarge))
        );
        let at = Header {
            length: 4096,
            ..over
        };
        assert_eq!(answer_header(&at, &limits), None);
        let frame = Frame {
            header: over,
            payload: &[0; 4097],
        };
        let Answer::Reply(reply) = answer(&frame, &limits) else {
            panic!("a reply")
        };
        assert_eq!((reply.status(), reply.code()), (2, Code::TooLarge));
        assert_eq!(
            answer_next(Next::Oversized(over), &Limits::REFERENCE),
            Answer::Reply(Immediate::Refused(Error::TooLarge))
        );
        assert!(!Limits {
            max_payload: 4095,
            max_depth: 128
        }
        .conform());
    }

    #[test]
    fn the_depth_limit_is_the_nodes() {
        let mut payload = [b'['; 130];
        payload[65..].fill(b']');
        let frame = Frame {
            header: Header {
                length: 130,
                version: 1,
                status: 1,
            },
            payload: &payload,
        };
        let shallow = Limits {
            max_payload: 4096,
            max_depth: 64,
        };
        assert_eq!(
            answer(&frame, &shallow),
            Answer::Reply(Immediate::Refused(Error::TooDeep { offset: 64 }))
        );
        assert_eq!(
            answer(&frame, &Limits::REFERENCE),
            Answer::Reply(Immediate::NoHandler)
        );
    }

    #[test]
    fn immediate_replies_encode_as_the_spec_says() {
        let envelope = ReplyEnvelope {
            id: "r1",
            timestamp: "t",
            source: "node",
        };
        let mut out = [0u8; 512];
        for (reply, status, body) in [
            (
                Immediate::Healthy,
                1,
                r#"{"message":"Service is healthy","code":"healthy"}"#,
            ),
            (
                Immediate::NoHandler,
                1,
                r#"{"message":"No Handler for Event registered","code":"no_handler"}"#,
            ),
            (
                Immediate::Refused(Error::BadStatus(0)),
                2,
                r#"{"message":"Error in Message","code":"bad_status","reason":"a request carries status 1, not 0"}"#,
            ),
        ] {
            let n = reply.encode(&mut out, &envelope).unwrap();
            let Decoded::Complete(frame, used) = Frame::decode(&out[..n]) else {
                panic!("a whole frame")
            };
            assert_eq!((used, frame.version(), frame.status()), (n, 2, status));
            assert_eq!(reply.status(), status);
            let Ok(Message::Event(event)) = frame.message() else {
                panic!("an event")
            };
            assert_eq!(event.source, "node");
            let got = event.data.or(event.error).unwrap();
            assert_eq!(got.as_str(), body);
            assert_eq!(reply.is_response(), event.data.is_some());
        }
        assert_eq!(
            Immediate::Healthy.encode(&mut out[..20], &envelope),
            Err(Error::BufferTooSmall)
        );
    }
}
