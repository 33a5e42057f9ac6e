//! # uhome-spec
//!
//! The specification as data, for tests and build scripts: the requirement paragraphs of
//! `spec/protocol.md` ([`requirements`]), the vector files of `spec/vectors` ([`vectors`]),
//! and JSON equality as the vectors define it ([`json_eq`]). It depends on no µHome crate,
//! so the codec's own tests can use it.

pub mod json_eq;
pub mod requirements;
pub mod vectors;

/// `spec/protocol.md`, compiled in.
pub const PROTOCOL_MD: &str = include_str!("../../protocol.md");
