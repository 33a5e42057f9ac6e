//! # uhome-runtime
//!
//! The µHome reference runtime on tokio.
