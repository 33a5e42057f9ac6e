//! # uhome-conformance
//!
//! Verifies any µHome implementation: the test vectors of `spec/vectors` against any decoder,
//! and black-box cases against live nodes over TCP.

pub mod canonical;
pub mod json_eq;
pub mod vectors;
