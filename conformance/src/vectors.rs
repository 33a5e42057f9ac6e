//! The test vectors of `spec/vectors` (format: `spec/vectors/README.md`), from `uhome-spec`.

pub use uhome_spec::vectors::*;
