//! Framing for tokio: a `tokio_util::codec` over `uhome-protocol`'s decoder.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};
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
/// [UH-EXCHANGE-4]); writes pre-encoded frames.
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

    /// An incomplete frame at the end of the stream is dropped: it is not a request
    /// ([UH-FRAME-3]).
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<OwnedFrame>, std::io::Error> {
        let frame = self.decode(src)?;
        if frame.is_none() {
            src.clear();
        }
        Ok(frame)
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, frame: Bytes, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        dst.extend_from_slice(&frame);
        Ok(())
    }
}
