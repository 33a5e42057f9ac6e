//! Framing for tokio: a `tokio_util::codec` over `uhome-protocol`'s decoder.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Decoder;
use uhome_protocol::{Decoded, Frame, Header, HEADER_LEN};

/// A whole frame, owned: the header and exactly `length` payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    /// The header.
    pub header: Header,
    /// The payload.
    pub payload: Bytes,
}

impl OwnedFrame {
    /// A borrowed view for `uhome-protocol`.
    pub fn view(&self) -> Frame<'_> {
        Frame {
            header: self.header,
            payload: &self.payload,
        }
    }
}

/// Splits a byte stream into frames with [`Frame::decode`] ([UH-EXCHANGE-3],
/// [UH-EXCHANGE-4]). An incomplete frame left at the end of the stream is not a request
/// ([UH-FRAME-3]): the caller drops it.
#[derive(Debug, Default, Clone, Copy)]
pub struct FrameCodec;

impl Decoder for FrameCodec {
    type Item = OwnedFrame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<OwnedFrame>, std::io::Error> {
        match Frame::decode(src) {
            Decoded::Complete(frame, used) => {
                let header = frame.header;
                let mut whole = src.split_to(used);
                let payload = whole.split_off(HEADER_LEN).freeze();
                Ok(Some(OwnedFrame { header, payload }))
            }
            Decoded::Partial { needed } => {
                src.reserve(needed);
                Ok(None)
            }
        }
    }
}
