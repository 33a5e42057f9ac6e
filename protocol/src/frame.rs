//! Framing: a header followed by exactly `length` payload bytes ([UH-FRAME-2]).

use crate::decoded::Decoded;
use crate::error::Error;
use crate::event::{decode_payload, Message, V1, V2};
use crate::header::{Header, HEADER_LEN};
use crate::json::MAX_DEPTH;

/// A frame borrowing its payload from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// Exactly `header.length` bytes.
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Decodes the first frame of `bytes`; bytes after it belong to the next frame.
    ///
    /// Never reads past the declared length, never allocates, never panics, never fails:
    /// the header alone delimits a frame ([UH-FRAME-2], [UH-FRAME-3]). Judging the version,
    /// status and payload is [`Frame::message`]'s job.
    pub fn decode(bytes: &'a [u8]) -> Decoded<Frame<'a>> {
        let header = match Header::decode(bytes) {
            Decoded::Complete(header, _) => header,
            Decoded::Partial { needed } => return Decoded::Partial { needed },
        };
        let total = header.frame_len();
        match bytes.get(HEADER_LEN..total) {
            Some(payload) => Decoded::Complete(Frame { header, payload }, total),
            None => Decoded::Partial {
                needed: total - bytes.len(),
            },
        }
    }

    /// The version field.
    pub const fn version(&self) -> u16 {
        self.header.version
    }

    /// The status byte.
    pub const fn status(&self) -> u8 {
        self.header.status
    }

    /// Decodes the payload with the reference depth limit ([`MAX_DEPTH`]).
    ///
    /// Checks, in the order of section 6: version, UTF-8, JSON grammar and depth, duplicate
    /// envelope members, the envelope. The status byte is not judged here: a frame with
    /// status 2 is a valid reply; a node refuses it as a request ([UH-STATUS-3]).
    pub fn message(&self) -> Result<Message<'a>, Error> {
        self.message_with_depth(MAX_DEPTH)
    }

    /// Decodes the frame as a request, in the order of [UH-EXCHANGE-10]: version, then
    /// status (a request carries 1, [UH-STATUS-3]), then the payload as [`Frame::message`].
    pub fn request(&self) -> Result<Message<'a>, Error> {
        self.request_with_depth(MAX_DEPTH)
    }

    /// As [`Frame::request`], refusing nesting deeper than `max_depth`.
    pub fn request_with_depth(&self, max_depth: usize) -> Result<Message<'a>, Error> {
        let version = self.header.version;
        if version != V1 && version != V2 {
            return Err(Error::UnsupportedVersion(version));
        }
        if self.header.status != crate::status::OK {
            return Err(Error::BadStatus(self.header.status));
        }
        self.message_with_depth(max_depth)
    }

    /// As [`Frame::message`], refusing nesting deeper than `max_depth` (at most
    /// [`MAX_DEPTH`]; at least 64 to conform, [UH-JSON-8]).
    pub fn message_with_depth(&self, max_depth: usize) -> Result<Message<'a>, Error> {
        decode_payload(self.header.version, self.payload, max_depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_exactly_the_declared_length() {
        let bytes = [0, 2, 0, 2, 1, b'{', b'}', 0, 0];
        let (frame, used) = Frame::decode(&bytes).complete().expect("complete");
        assert_eq!(used, 7);
        assert_eq!(frame.payload, b"{}");
        assert_eq!(frame.version(), 2);
        assert_eq!(frame.status(), 1);
    }

    #[test]
    fn partial_payload_reports_exact_need() {
        let bytes = [0, 10, 0, 2, 1, b'{'];
        assert_eq!(Frame::decode(&bytes), Decoded::Partial { needed: 9 });
        assert_eq!(Frame::decode(&bytes[..3]), Decoded::Partial { needed: 2 });
    }

    const HEALTH: &str =
        r#"{"id":"1","timestamp":"t","source":"s","type":"µHome.core.healthcheck"}"#;

    #[test]
    fn requests_check_version_then_status_then_payload() {
        let frame = |version, status, payload: &'static str| Frame {
            header: Header {
                length: payload.len() as u16,
                version,
                status,
            },
            payload: payload.as_bytes(),
        };
        assert_eq!(
            frame(3, 0, "x").request(),
            Err(Error::UnsupportedVersion(3))
        );
        assert_eq!(frame(2, 0, "x").request(), Err(Error::BadStatus(0)));
        assert_eq!(frame(2, 255, HEALTH).request(), Err(Error::BadStatus(255)));
        assert_eq!(
            frame(2, 1, "x").request().unwrap_err().code(),
            crate::Code::InvalidJson
        );
        assert!(frame(2, 1, HEALTH).request().is_ok());
        assert!(frame(2, 2, HEALTH).message().is_ok());
    }

    #[test]
    fn zero_length_frame_is_complete() {
        let (frame, used) = Frame::decode(&[0, 0, 0, 2, 1])
            .complete()
            .expect("complete");
        assert_eq!(used, 5);
        assert!(frame.payload.is_empty());
    }
}
