//! The outcome of incremental decoding, in the manner of `httparse::Status`.

/// The outcome of decoding from a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole item and the bytes it used.
    Complete(T, usize),
    /// More bytes are needed. Once the header is complete, `needed` is exactly the number of
    /// bytes missing from the frame; before that it is the number missing from the header.
    Partial {
        /// Bytes still missing.
        needed: usize,
    },
}

impl<T> Decoded<T> {
    /// The item, if complete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Decoded::Complete(item, used) => Some((item, used)),
            Decoded::Partial { .. } => None,
        }
    }
}
