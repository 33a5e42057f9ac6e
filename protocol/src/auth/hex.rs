//! Lowercase hexadecimal: the only form the authenticator's values take.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long.
pub(crate) fn encode(bytes: &[u8], out: &mut [u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = DIGITS.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            *lo = DIGITS.get(usize::from(b & 15)).copied().unwrap_or(b'0');
        }
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Reads exactly `2 * N` lowercase hex digits; anything else (upper case, an escape, another
/// length) is `None`.
pub(crate) fn decode<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *slot = nibble(*hi)? << 4 | nibble(*lo)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_only_and_exact_length() {
        let mut out = [0u8; 6];
        encode(&[0x00, 0xab, 0xf9], &mut out);
        assert_eq!(&out, b"00abf9");
        assert_eq!(decode::<3>(b"00abf9"), Some([0x00, 0xab, 0xf9]));
        assert_eq!(decode::<3>(b"00ABf9"), None);
        assert_eq!(decode::<3>(b"00abf"), None);
        assert_eq!(decode::<3>(b"00abf90"), None);
        assert_eq!(decode::<1>(b"g0"), None);
        assert_eq!(decode::<1>(b"\\u"), None);
    }
}
