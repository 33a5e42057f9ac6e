//! Word-at-a-time fast paths: finding, eight bytes at a time, the bytes that end a run of
//! plain string text (`"`, `\` and the controls).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of `v` that is `"`, `\` or a control byte: zero when there is none,
/// and the lowest set byte is always right. `^ 0x02` turns `"` into 0x20 and keeps controls
/// below it, so both are "below 0x21"; `^ 0x5c` turns `\` into 0. A borrow can only start
/// at such a byte, and bytes >= 0x80 are masked out.
#[inline(always)]
pub(super) fn stops(v: u64) -> u64 {
    let quote_or_control = (v ^ (ONES * 0x02)).wrapping_sub(ONES * 0x21);
    let backslash = (v ^ (ONES * b'\\' as u64)).wrapping_sub(ONES);
    (quote_or_control | backslash) & !v & HIGHS
}

/// Index of the first `"`, `\` or control byte at or after `i` (or `b.len()`).
#[inline(always)]
pub(crate) fn skip_plain(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let hits = stops(u64::from_le_bytes(word));
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Bytes that end a run of plain string text: `"`, `\` and the controls U+0000..U+001F.
static STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut rest: &mut [bool] = &mut table;
    let mut c = 0;
    while let [slot, tail @ ..] = rest {
        *slot = c < 0x20 || c == b'"' as usize || c == b'\\' as usize;
        rest = tail;
        c += 1;
    }
    table
};

#[inline(always)]
pub(super) fn stop(c: u8) -> bool {
    STOP.get(usize::from(c)).copied().unwrap_or(true)
}

/// The first byte of `w` that ends a run of plain string text, and its index.
///
/// Tests in a chain rather than arithmetic on the word: each is a branch the processor
/// predicts, so the position of the next token does not wait on the load.
#[inline(always)]
pub(super) fn first_stop(w: &[u8; 8]) -> Option<(usize, u8)> {
    let [c0, c1, c2, c3, c4, c5, c6, c7] = *w;
    if stop(c0) {
        Some((0, c0))
    } else if stop(c1) {
        Some((1, c1))
    } else if stop(c2) {
        Some((2, c2))
    } else if stop(c3) {
        Some((3, c3))
    } else if stop(c4) {
        Some((4, c4))
    } else if stop(c5) {
        Some((5, c5))
    } else if stop(c6) {
        Some((6, c6))
    } else if stop(c7) {
        Some((7, c7))
    } else {
        None
    }
}

/// Skips plain string text from `i` two words at a time: the index of the first stop byte,
/// or of the tail shorter than a word.
#[inline(always)]
pub(super) fn skip_long(b: &[u8], i: usize) -> usize {
    let Some(mut rest) = b.get(i..) else {
        return i;
    };
    while let Some((pair, tail)) = rest.split_first_chunk::<16>() {
        let (low, high) = pair.split_at(8);
        let low = low
            .first_chunk::<8>()
            .map_or(0, |w| stops(u64::from_le_bytes(*w)));
        let high = high
            .first_chunk::<8>()
            .map_or(0, |w| stops(u64::from_le_bytes(*w)));
        if low | high != 0 {
            let at = if low != 0 {
                low.trailing_zeros() / 8
            } else {
                8 + high.trailing_zeros() / 8
            };
            return b.len() - rest.len() + at as usize;
        }
        rest = tail;
    }
    if let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let hits = stops(u64::from_le_bytes(*word));
        if hits != 0 {
            return b.len() - rest.len() + (hits.trailing_zeros() / 8) as usize;
        }
        rest = tail;
    }
    b.len() - rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_test_is_exact() {
        // Every byte at every position, among plain ASCII, high bytes and other stops.
        for background in [b'a', 0x80, 0xff, b'"'] {
            for x in 0..=255u8 {
                for at in 0..8 {
                    let mut word = [background; 8];
                    word[at] = x;
                    let hits = stops(u64::from_le_bytes(word));
                    let first = word.iter().position(|&c| stop(c));
                    assert_eq!(
                        (hits != 0).then(|| hits.trailing_zeros() as usize / 8),
                        first,
                        "{word:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn swar_finds_the_first_special_byte() {
        let text = b"abcdefgh\"ijklmnop";
        assert_eq!(skip_plain(text, 0), 8);
        let text = b"abc\x1fdefgh";
        assert_eq!(skip_plain(text, 0), 3);
        let text = "aé€😀\\zzzzzzz".as_bytes();
        assert_eq!(skip_plain(text, 0), 1 + 2 + 3 + 4);
        assert_eq!(skip_plain(b"abc", 0), 3);
    }
}
