//! Encoding frames and events into a caller's buffer ([UH-FRAME-5], [UH-EVENT-8]).

use serde::Serialize;

use crate::error::Error;
use crate::header::{Header, HEADER_LEN, MAX_FRAME_LEN, MAX_PAYLOAD_LEN};
use crate::json::skip_plain;
use crate::json::RawJson;

/// A JSON value that can write itself into a buffer.
pub trait WriteJson {
    /// Writes the value's JSON text at the start of `out` and returns its length, or
    /// [`Error::BufferTooSmall`].
    fn write_json(&self, out: &mut [u8]) -> Result<usize, Error>;
}

impl WriteJson for RawJson<'_> {
    fn write_json(&self, out: &mut [u8]) -> Result<usize, Error> {
        let text = self.as_str().as_bytes();
        out.get_mut(..text.len())
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(text);
        Ok(text.len())
    }
}

/// Any `serde::Serialize` value, written with serde-json-core.
///
/// serde-json-core cannot write `char` values; keep them out of serialized types.
#[derive(Debug, Clone, Copy)]
pub struct Json<'a, T: ?Sized>(pub &'a T);

impl<T: Serialize + ?Sized> WriteJson for Json<'_, T> {
    fn write_json(&self, out: &mut [u8]) -> Result<usize, Error> {
        serde_json_core::to_slice(self.0, out).map_err(|_| Error::BufferTooSmall)
    }
}

/// The string members of an envelope (section 6), unescaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `id`
    pub id: &'a str,
    /// `timestamp`
    pub timestamp: &'a str,
    /// `source`
    pub source: &'a str,
    /// `type`
    pub event_type: &'a str,
}

/// What follows the string members.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// Neither `data` nor `error`.
    None,
    /// A `data` member.
    Data(&'a dyn WriteJson),
    /// An `error` member.
    Error(&'a dyn WriteJson),
}

/// Writes a raw frame: header and `payload`. Returns the frame's length.
pub fn encode_frame(
    out: &mut [u8],
    version: u16,
    status: u8,
    payload: &[u8],
) -> Result<usize, Error> {
    let length = u16::try_from(payload.len()).map_err(|_| Error::TooLarge)?;
    let total = HEADER_LEN + payload.len();
    let frame = out.get_mut(..total).ok_or(Error::BufferTooSmall)?;
    let (head, body) = frame.split_at_mut(HEADER_LEN);
    head.copy_from_slice(
        &Header {
            length,
            version,
            status,
        }
        .to_bytes(),
    );
    body.copy_from_slice(payload);
    Ok(total)
}

/// Writes an event frame in v0.0.1's layout: compact JSON, members in the order `id`,
/// `timestamp`, `source`, `type`, then `data` or `error` ([UH-EVENT-8]). Returns the
/// frame's length; [`Error::TooLarge`] past 65535 payload bytes, [`Error::BufferTooSmall`]
/// when `out` is shorter than the frame.
pub fn encode_event(
    out: &mut [u8],
    version: u16,
    status: u8,
    envelope: &Envelope<'_>,
    body: Body<'_>,
) -> Result<usize, Error> {
    let limit = out.len().min(MAX_FRAME_LEN);
    let room_error = if out.len() >= MAX_FRAME_LEN {
        Error::TooLarge
    } else {
        Error::BufferTooSmall
    };
    let region = out.get_mut(..limit).ok_or(Error::BufferTooSmall)?;
    let (head, payload) = region
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(Error::BufferTooSmall)?;
    let mut w = Writer {
        out: payload,
        len: 0,
    };
    let written = (|| {
        w.raw(b"{\"id\":")?;
        w.string(envelope.id)?;
        w.raw(b",\"timestamp\":")?;
        w.string(envelope.timestamp)?;
        w.raw(b",\"source\":")?;
        w.string(envelope.source)?;
        w.raw(b",\"type\":")?;
        w.string(envelope.event_type)?;
        match body {
            Body::None => {}
            Body::Data(value) => {
                w.raw(b",\"data\":")?;
                w.json(value)?;
            }
            Body::Error(value) => {
                w.raw(b",\"error\":")?;
                w.json(value)?;
            }
        }
        w.raw(b"}")
    })();
    written.map_err(|_| room_error)?;
    let length = u16::try_from(w.len).map_err(|_| Error::TooLarge)?;
    debug_assert!(w.len <= MAX_PAYLOAD_LEN);
    head.copy_from_slice(
        &Header {
            length,
            version,
            status,
        }
        .to_bytes(),
    );
    Ok(HEADER_LEN + w.len)
}

struct Writer<'b> {
    out: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn rest(&mut self) -> Result<&mut [u8], Error> {
        self.out.get_mut(self.len..).ok_or(Error::BufferTooSmall)
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.rest()?
            .get_mut(..bytes.len())
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    /// A JSON string as JSON.stringify writes it: `"` and `\` escaped, U+0000..U+001F as
    /// `\b \f \n \r \t` or `\u00xx`, everything else raw.
    fn string(&mut self, s: &str) -> Result<(), Error> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let b = s.as_bytes();
        self.raw(b"\"")?;
        let mut start = 0;
        loop {
            let i = skip_plain(b, start);
            self.raw(b.get(start..i).unwrap_or_default())?;
            let Some(&c) = b.get(i) else { break };
            let hex = |n: u8| HEX.get(usize::from(n & 15)).copied().unwrap_or(b'0');
            match c {
                b'"' => self.raw(b"\\\"")?,
                b'\\' => self.raw(b"\\\\")?,
                b'\n' => self.raw(b"\\n")?,
                b'\r' => self.raw(b"\\r")?,
                b'\t' => self.raw(b"\\t")?,
                0x08 => self.raw(b"\\b")?,
                0x0c => self.raw(b"\\f")?,
                _ => self.raw(&[b'\\', b'u', b'0', b'0', hex(c >> 4), hex(c)])?,
            }
            start = i + 1;
        }
        self.raw(b"\"")
    }

    fn json(&mut self, value: &dyn WriteJson) -> Result<(), Error> {
        let n = value.write_json(self.rest()?)?;
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Message, V2};
    use crate::frame::Frame;

    const ENV: Envelope<'static> = Envelope {
        id: "b8008832-cd09-412a-85c4-f0dfea705ed1",
        timestamp: "2026-11-28T22:17:50.481Z",
        source: "µHome/dummyService",
        event_type: "µHome.core.register",
    };

    #[test]
    fn writes_v0_0_1_layout() {
        let data = RawJson::parse(r#"{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102"}"#)
            .unwrap();
        let mut out = [0u8; 300];
        let n = encode_event(&mut out, V2, 1, &ENV, Body::Data(&data)).unwrap();
        let expected = r#"{"id":"b8008832-cd09-412a-85c4-f0dfea705ed1","timestamp":"2026-11-28T22:17:50.481Z","source":"µHome/dummyService","type":"µHome.core.register","data":{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102"}}"#;
        assert_eq!(&out[..5], &[0x00, 0xd4, 0x00, 0x02, 0x01]);
        assert_eq!(&out[5..n], expected.as_bytes());
    }

    #[test]
    fn escapes_strings_and_round_trips() {
        let env = Envelope {
            id: "a\"b\\c\n\u{1}",
            ..ENV
        };
        #[derive(Serialize)]
        struct Reading<'a> {
            room: &'a str,
            celsius: f32,
        }
        let mut out = [0u8; 400];
        let n = encode_event(
            &mut out,
            V2,
            1,
            &env,
            Body::Error(&Json(&Reading {
                room: "hall",
                celsius: 21.5,
            })),
        )
        .unwrap();
        let text = core::str::from_utf8(&out[5..n]).unwrap();
        assert!(text.starts_with(r#"{"id":"a\"b\\c\n\u0001","#), "{text}");
        let (frame, used) = Frame::decode(&out[..n]).complete().unwrap();
        assert_eq!(used, n);
        let Message::Event(e) = frame.message().unwrap() else {
            panic!()
        };
        assert!(e.id.eq_str("a\"b\\c\n\u{1}"));
        assert_eq!(
            e.error.unwrap().as_str(),
            r#"{"room":"hall","celsius":21.5}"#
        );
    }

    #[test]
    fn refuses_instead_of_truncating() {
        let mut small = [0u8; 40];
        assert_eq!(
            encode_event(&mut small, V2, 1, &ENV, Body::None),
            Err(Error::BufferTooSmall)
        );
        let big = [b'x'; 70_000];
        let text = core::str::from_utf8(&big).unwrap();
        let mut out = [0u8; 80_000];
        let env = Envelope { id: text, ..ENV };
        assert_eq!(
            encode_event(&mut out, V2, 1, &env, Body::None),
            Err(Error::TooLarge)
        );
        assert_eq!(encode_frame(&mut out, V2, 1, &big), Err(Error::TooLarge));
        assert_eq!(
            encode_frame(&mut small, V2, 1, &big[..36]),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(encode_frame(&mut small, V2, 1, &big[..35]), Ok(40));
    }
}
