//! Framing: a header followed by exactly `length` payload bytes ([UH-FRAME-2]).

use crate::header::{Header, HEADER_LEN};

/// The outcome of decoding from a byte stream, in the manner of `httparse::Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole item and the bytes it used.
    Complete(T, usize),
    /// More bytes are needed. Once the header is complete, `needed` is exactly the number of
    /// bytes missing from the frame; before that it is the number missing from the header.
    Partial {
        /// Bytes still missing.
        needed: usize,
    },
}

impl<T> Decoded<T> {
    /// The item, if complete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Decoded::Complete(item, used) => Some((item, used)),
            Decoded::Partial { .. } => None,
        }
    }
}

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

    #[test]
    fn zero_length_frame_is_complete() {
        let (frame, used) = Frame::decode(&[0, 0, 0, 2, 1])
            .complete()
            .expect("complete");
        assert_eq!(used, 5);
        assert!(frame.payload.is_empty());
    }
}
