//! `FrameBuffer`: reassembly of frames from a byte stream in a fixed buffer, for nodes with
//! no heap ([UH-EXCHANGE-3], [UH-EXCHANGE-4], [UH-FRAME-6]).

use heapless::Vec;

use crate::decoded::Decoded;
use crate::frame::Frame;
use crate::header::{Header, HEADER_LEN};

/// What [`FrameBuffer::pop`] yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    /// A whole frame.
    Frame(Frame<'a>),
    /// A frame longer than the buffer: its payload was read and discarded. Answer it with
    /// `too_large` ([UH-FRAME-6]).
    Oversized(Header),
}

/// Push chunks of a byte stream in, take whole frames out. Holds frames of up to `N` bytes
/// (`N - 5` payload bytes); a node accepting every payload needs `N` = 65540.
pub struct FrameBuffer<const N: usize> {
    bytes: Vec<u8, N>,
    start: usize,
    discarding: usize,
    oversized: Option<Header>,
}

impl<const N: usize> Default for FrameBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameBuffer<N> {
    const HOLDS_A_HEADER: () = assert!(N >= HEADER_LEN, "a FrameBuffer must hold a header");

    /// An empty buffer.
    pub const fn new() -> Self {
        let () = Self::HOLDS_A_HEADER;
        FrameBuffer {
            bytes: Vec::new(),
            start: 0,
            discarding: 0,
            oversized: None,
        }
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// Empties the buffer, as new: buffered bytes and a frame being discarded are dropped
    /// (a node does this when a connection ends).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.start = 0;
        self.discarding = 0;
        self.oversized = None;
    }

    /// Takes bytes from `chunk` and returns how many it took; fewer than `chunk.len()` only
    /// when the buffer is full of unread frames (take frames out with [`FrameBuffer::pop`],
    /// then push the rest).
    pub fn push(&mut self, chunk: &[u8]) -> usize {
        let skipped = self.discarding.min(chunk.len());
        self.discarding -= skipped;
        let chunk = chunk.get(skipped..).unwrap_or_default();
        if self.start > 0 && self.bytes.capacity() - self.bytes.len() < chunk.len() {
            self.compact();
        }
        let room = self.bytes.capacity() - self.bytes.len();
        let taken = chunk.len().min(room);
        let fits = self
            .bytes
            .extend_from_slice(chunk.get(..taken).unwrap_or_default());
        debug_assert!(fits.is_ok());
        skipped + if fits.is_ok() { taken } else { 0 }
    }

    /// The next whole frame, or `None` until more bytes arrive. The frame borrows the
    /// buffer until the next call.
    pub fn pop(&mut self) -> Option<Next<'_>> {
        if self.discarding > 0 {
            return None;
        }
        if let Some(header) = self.oversized.take() {
            return Some(Next::Oversized(header));
        }
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
        let pending = self.bytes.get(self.start..).unwrap_or_default();
        if let Decoded::Complete(header, _) = Header::decode(pending) {
            if header.frame_len() > N {
                let have = pending.len() - HEADER_LEN;
                self.discarding = header.length as usize - have;
                self.bytes.clear();
                self.start = 0;
                if self.discarding > 0 {
                    self.oversized = Some(header);
                    return None;
                }
                return Some(Next::Oversized(header));
            }
        }
        match Frame::decode(self.bytes.get(self.start..).unwrap_or_default()) {
            Decoded::Complete(frame, used) => {
                self.start += used;
                Some(Next::Frame(frame))
            }
            Decoded::Partial { .. } => None,
        }
    }

    fn compact(&mut self) {
        let len = self.bytes.len();
        self.bytes.copy_within(self.start..len, 0);
        self.bytes.truncate(len - self.start);
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        let n = crate::encode::encode_frame(&mut out, 2, 1, payload).unwrap();
        assert_eq!(n, 5 + payload.len());
        out
    }

    #[test]
    fn reassembles_byte_by_byte_and_pipelines() {
        let a = frame(b"[1]");
        let b = frame(b"{}");
        let stream: heapless::Vec<u8, 32> = a[..8].iter().chain(&b[..7]).copied().collect();
        let mut buf = FrameBuffer::<16>::new();
        let mut seen: heapless::Vec<heapless::Vec<u8, 8>, 4> = heapless::Vec::new();
        for byte in &stream {
            assert_eq!(buf.push(core::slice::from_ref(byte)), 1);
            while let Some(Next::Frame(f)) = buf.pop() {
                seen.push(f.payload.iter().copied().collect()).unwrap();
            }
        }
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].as_slice(), b"[1]");
        assert_eq!(seen[1].as_slice(), b"{}");
        assert_eq!(buf.buffered(), 0);
    }

    #[test]
    fn full_buffer_takes_nothing_until_frames_are_taken() {
        let a = frame(b"0123456789a");
        let mut buf = FrameBuffer::<16>::new();
        assert_eq!(buf.push(&a), 16);
        assert_eq!(buf.push(b"x"), 0);
        assert!(matches!(buf.pop(), Some(Next::Frame(f)) if f.payload == b"0123456789a"));
        assert_eq!(buf.push(b"\x00\x00\x00\x02\x01"), 5);
        assert!(matches!(buf.pop(), Some(Next::Frame(f)) if f.payload.is_empty()));
    }

    #[test]
    fn oversized_frames_are_discarded_then_reported() {
        let mut buf = FrameBuffer::<8>::new();
        assert_eq!(buf.push(&[0, 10, 0, 2, 1, b'a', b'b']), 7);
        assert_eq!(buf.pop(), None);
        assert_eq!(buf.push(b"cdefgh"), 6);
        assert_eq!(buf.pop(), None);
        assert_eq!(buf.push(b"ij\x00\x01\x00\x02\x01"), 7);
        assert_eq!(
            buf.pop(),
            Some(Next::Oversized(Header {
                length: 10,
                version: 2,
                status: 1
            }))
        );
        assert_eq!(buf.push(b"7"), 1);
        assert!(matches!(buf.pop(), Some(Next::Frame(f)) if f.payload == b"7"));
    }

    #[test]
    fn clear_drops_buffered_and_discarded_bytes() {
        let mut buf = FrameBuffer::<8>::new();
        assert_eq!(buf.push(&[0, 10, 0, 2, 1, b'a']), 6);
        buf.clear();
        assert_eq!(buf.buffered(), 0);
        assert_eq!(buf.push(b"\x00\x01\x00\x02\x017"), 6);
        assert!(matches!(buf.pop(), Some(Next::Frame(f)) if f.payload == b"7"));
        assert_eq!(buf.push(b"\x00\x02"), 2);
        buf.clear();
        assert_eq!((buf.buffered(), buf.pop()), (0, None));
    }
}
