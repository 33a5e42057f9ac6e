//! # uhome-conformance
//!
//! Verifies any µHome implementation against `spec/protocol.md`: the test vectors of
//! `spec/vectors` through any decoder program, and black-box cases against live nodes over
//! TCP, with verdicts per case, JSON and JUnit reports, and CI exit statuses. The contract is
//! `spec/conformance-contract.md`.

pub mod audit;
pub mod canonical;
pub mod case;
pub mod cases;
pub mod codec;
pub mod ctx;
pub mod embedded;
pub mod fuzz;
pub mod fuzz_node;
pub mod json_eq;
pub mod launch;
pub mod mesh;
pub mod peers;
pub mod profile;
pub mod report;
pub mod runner;
pub mod signing;
pub mod spec;
pub mod vectors;
pub mod wire;
