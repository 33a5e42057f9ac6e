//! Navigation of text the scanner has already validated: skipping a value without judging it.

use super::words::skip_plain;

/// The index after the string whose opening quote is at `i - 1`, in validated text.
fn skip_string(b: &[u8], mut i: usize) -> usize {
    loop {
        i = skip_plain(b, i);
        match b.get(i) {
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
            None => return i,
        }
    }
}

/// The index after the value starting at `i` in text already validated. Never panics and
/// always ends, even on malformed text.
pub(crate) fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i + 1),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = i;
            loop {
                match b.get(i) {
                    None => return i,
                    Some(b'"') => i = skip_string(b, i + 1),
                    Some(b'{' | b'[') => {
                        depth += 1;
                        i += 1;
                    }
                    Some(b'}' | b']') => {
                        i += 1;
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return i;
                        }
                    }
                    Some(_) => i += 1,
                }
            }
        }
        Some(_) => {
            let mut i = i;
            while let Some(&c) = b.get(i) {
                if matches!(c, b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            i
        }
        None => i,
    }
}
