//! `stream_chunks`: `FrameBuffer` reassembly against decoding the stream whole.

use std::ops::Range;

use uhome_protocol::{Decoded, Frame, FrameBuffer, Header, Next, HEADER_LEN, MAX_FRAME_LEN};

/// The buffer of a node that accepts every payload ([UH-FRAME-6]).
const FULL: usize = MAX_FRAME_LEN;
/// A small buffer, so that arbitrary inputs hold frames larger than it (`Oversized`).
const SMALL: usize = 64;

/// `stream_chunks`'s input: byte 0 gives `k = (byte & 7) + 1`, the next `2k` bytes are `k`
/// chunk sizes (u16 big-endian, used in turn, 0 = an empty push), the rest is the stream.
pub fn stream_chunks(data: &[u8]) {
    let (stream, sizes) = chunked(data);
    stream_chunks_with(stream, &sizes);
}

/// Splits fuzz input into a stream and its chunk sizes: byte 0 gives `k = (byte & 7) + 1`,
/// the next `2k` bytes are `k` chunk sizes (u16 big-endian), the rest is the stream.
pub(crate) fn chunked(data: &[u8]) -> (&[u8], Vec<usize>) {
    let Some((&first, rest)) = data.split_first() else {
        return (&[], vec![1]);
    };
    let k = usize::from(first & 7) + 1;
    let split = (2 * k).min(rest.len());
    let sizes = rest[..split]
        .chunks_exact(2)
        .map(|s| usize::from(u16::from_be_bytes([s[0], s[1]])))
        .collect();
    (&rest[split..], sizes)
}

/// One frame of the whole-stream decoding.
struct Whole {
    header: Header,
    payload: Range<usize>,
}

/// Pushes `stream` in chunks of `sizes` (in turn) into a `FrameBuffer<65540>` and a
/// `FrameBuffer<64>`, and compares what they yield with decoding `stream` whole.
pub fn stream_chunks_with(stream: &[u8], sizes: &[usize]) {
    let mut whole = Vec::new();
    let mut at = 0;
    while let Decoded::Complete(frame, used) = Frame::decode(&stream[at..]) {
        whole.push(Whole {
            header: frame.header,
            payload: at + HEADER_LEN..at + used,
        });
        at += used;
    }
    let tail = &stream[at..];

    let sizes: Vec<usize> = if sizes.iter().all(|&s| s == 0) {
        vec![stream.len().max(1)]
    } else {
        sizes.to_vec()
    };
    let mut full: Box<FrameBuffer<FULL>> = Box::default();
    feed(&mut full, stream, &sizes, &whole);
    assert_eq!(full.buffered(), tail.len(), "FrameBuffer<{FULL}> leftover");

    let mut small = FrameBuffer::<SMALL>::new();
    feed(&mut small, stream, &sizes, &whole);
    // An incomplete frame too large for the buffer is being discarded, not buffered.
    let discarding = tail.len() >= HEADER_LEN
        && HEADER_LEN + usize::from(u16::from_be_bytes([tail[0], tail[1]])) > SMALL;
    let expected = if discarding { 0 } else { tail.len() };
    assert_eq!(small.buffered(), expected, "FrameBuffer<{SMALL}> leftover");
}

fn feed<const N: usize>(buf: &mut FrameBuffer<N>, stream: &[u8], sizes: &[usize], whole: &[Whole]) {
    let mut next = 0;
    let mut pop_all = |buf: &mut FrameBuffer<N>| -> usize {
        let mut popped = 0;
        while let Some(item) = buf.pop() {
            let expected = whole.get(next).unwrap_or_else(|| {
                panic!("FrameBuffer<{N}> yields more than {} frames", whole.len())
            });
            let frame_len = HEADER_LEN + usize::from(expected.header.length);
            match item {
                Next::Frame(frame) => {
                    assert!(
                        frame_len <= N,
                        "frame of {frame_len} bytes from FrameBuffer<{N}>"
                    );
                    assert_eq!(frame.header, expected.header);
                    assert_eq!(frame.payload, &stream[expected.payload.clone()]);
                    let reference = Frame {
                        header: expected.header,
                        payload: &stream[expected.payload.clone()],
                    };
                    assert_eq!(frame.message(), reference.message());
                }
                Next::Oversized(header) => {
                    assert!(
                        frame_len > N,
                        "{frame_len} bytes reported oversized by FrameBuffer<{N}>"
                    );
                    assert_eq!(header, expected.header);
                }
            }
            next += 1;
            popped += 1;
        }
        popped
    };
    pop_all(buf);
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at >= stream.len() {
            break;
        }
        let end = (at + size).min(stream.len());
        let mut chunk = &stream[at..end];
        loop {
            let taken = buf.push(chunk);
            assert!(taken <= chunk.len());
            chunk = &chunk[taken..];
            let popped = pop_all(buf);
            if chunk.is_empty() {
                break;
            }
            assert!(
                taken > 0 || popped > 0,
                "FrameBuffer<{N}> stuck: takes nothing and yields nothing"
            );
        }
        at = end;
    }
    assert_eq!(next, whole.len(), "FrameBuffer<{N}> frame count");
}
