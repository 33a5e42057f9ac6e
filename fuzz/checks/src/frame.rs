//! `frame_decode` and `event_decode`.

use uhome_protocol::json::MAX_DEPTH;
use uhome_protocol::{decode_payload, Decoded, Error, Frame, Header, HEADER_LEN};

use crate::message::check_message;

/// `frame_decode`: arbitrary bytes through `Frame::decode`, then `message()` and
/// `request()` on a complete frame.
pub fn frame_decode(data: &[u8]) {
    match Frame::decode(data) {
        Decoded::Complete(frame, consumed) => {
            assert!(
                data.len() >= HEADER_LEN,
                "complete frame from {} bytes",
                data.len()
            );
            let declared = usize::from(u16::from_be_bytes([data[0], data[1]]));
            assert_eq!(consumed, HEADER_LEN + declared);
            assert!(consumed <= data.len());
            assert_eq!(frame.payload, &data[HEADER_LEN..consumed]);
            assert_eq!(
                frame.header,
                Header {
                    length: declared as u16,
                    version: u16::from_be_bytes([data[2], data[3]]),
                    status: data[4],
                }
            );
            assert_eq!(frame.header.to_bytes(), data[..HEADER_LEN]);
            // Bytes after the frame belong to the next one: the frame alone decodes the same.
            assert_eq!(
                Frame::decode(&data[..consumed]),
                Decoded::Complete(frame, consumed)
            );
            check_frame(&frame);
        }
        Decoded::Partial { needed } => {
            if data.len() < HEADER_LEN {
                assert_eq!(needed, HEADER_LEN - data.len());
            } else {
                let declared = usize::from(u16::from_be_bytes([data[0], data[1]]));
                assert!(HEADER_LEN + declared > data.len());
                assert_eq!(needed, HEADER_LEN + declared - data.len());
            }
        }
    }
}

/// `message()` as the reference reads the payload; `request()` judges version, then
/// status, then the payload ([UH-EXCHANGE-10]).
pub(crate) fn check_frame(frame: &Frame<'_>) {
    let message = frame.message();
    assert_eq!(
        message,
        decode_payload(frame.version(), frame.payload, MAX_DEPTH)
    );
    check_message(frame.version(), frame.payload, &message);
    let request = frame.request();
    let expected = match (frame.version(), frame.status()) {
        (v, _) if v != 1 && v != 2 => Err(Error::UnsupportedVersion(v)),
        (_, s) if s != 1 => Err(Error::BadStatus(s)),
        _ => message,
    };
    assert_eq!(request, expected);
}

/// `event_decode`'s input: the version big-endian in the first two bytes, the payload after.
pub fn event_decode(data: &[u8]) {
    let (version, payload) = match data {
        [hi, lo, payload @ ..] => (u16::from_be_bytes([*hi, *lo]), payload),
        _ => return,
    };
    event_decode_with(version, payload);
}

/// `event_decode` on one version and payload.
pub fn event_decode_with(version: u16, payload: &[u8]) {
    let result = decode_payload(version, payload, MAX_DEPTH);
    check_message(version, payload, &result);
    // A lower limit changes nothing but the depth verdict ([UH-JSON-8]).
    let shallow = decode_payload(version, payload, 64);
    let too_deep = matches!(shallow, Err(Error::TooDeep { .. }));
    if shallow != result {
        assert!(too_deep, "limit 64 changed {result:?} into {shallow:?}");
        assert!(
            crate::reference::depth(&String::from_utf8_lossy(payload)) > 64,
            "too deep at 64 but the depth is at most 64"
        );
    }
}
