//! The 5-byte frame header ([UH-FRAME-1]).

use nom::number::complete::{be_u16, u8 as byte};
use nom::Parser;

use crate::decoded::Decoded;

/// Bytes in a header.
pub const HEADER_LEN: usize = 5;
/// Largest payload a frame can carry ([UH-FRAME-2]).
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize;
/// Largest frame: header plus the largest payload.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN;

/// A decoded header: `u16 BE length | u16 BE version | u8 status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Payload bytes that follow the header ([UH-FRAME-2]).
    pub length: u16,
    /// Wire version ([UH-VERSION-1]).
    pub version: u16,
    /// Status byte, unsigned ([UH-FRAME-4]).
    pub status: u8,
}

impl Header {
    /// Decodes a header from the start of `bytes`.
    ///
    /// Returns `Complete(header, 5)`, or `Partial { needed }` with the number of header bytes
    /// still missing. Never fails: every 5 bytes are a header.
    pub fn decode(bytes: &[u8]) -> Decoded<Header> {
        if bytes.len() < HEADER_LEN {
            return Decoded::Partial {
                needed: HEADER_LEN - bytes.len(),
            };
        }
        match (be_u16::<_, nom::error::Error<&[u8]>>, be_u16, byte).parse(bytes) {
            Ok((_, (length, version, status))) => Decoded::Complete(
                Header {
                    length,
                    version,
                    status,
                },
                HEADER_LEN,
            ),
            // Unreachable with five bytes present; reported as a need for more, not a panic.
            Err(_) => Decoded::Partial { needed: 1 },
        }
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [l0, l1] = self.length.to_be_bytes();
        let [v0, v1] = self.version.to_be_bytes();
        [l0, l1, v0, v1, self.status]
    }

    /// Bytes of the whole frame this header starts: `5 + length`.
    pub const fn frame_len(&self) -> usize {
        HEADER_LEN + self.length as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_big_endian_unsigned_fields() {
        let bytes = [0xff, 0xfe, 0x00, 0x02, 0xff, 0xaa];
        let Decoded::Complete(h, used) = Header::decode(&bytes) else {
            panic!("complete header expected");
        };
        assert_eq!(used, 5);
        assert_eq!(h.length, 0xfffe);
        assert_eq!(h.version, 2);
        assert_eq!(h.status, 255);
        assert_eq!(h.frame_len(), 5 + 0xfffe);
        assert_eq!(h.to_bytes(), [0xff, 0xfe, 0x00, 0x02, 0xff]);
    }

    #[test]
    fn short_input_reports_missing_header_bytes() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                Header::decode(&[0u8; 4][..n]),
                Decoded::Partial {
                    needed: HEADER_LEN - n
                }
            );
        }
    }
}
