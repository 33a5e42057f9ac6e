//! The properties the µHome fuzz targets assert, in one place usable from stable Rust.
//!
//! Each fuzz target in `fuzz/fuzz_targets/` is one line calling the function of the same
//! name here; `tests/replay.rs` calls the same functions on every test vector of
//! `spec/vectors/` and every file of `fuzz/regressions/<target>/`. A function returns
//! normally when every property holds and panics (with what differed) when one does not.
//! `fuzz/README.md` lists what each one asserts.
//!
//! Adding a target: a module with a `pub fn <name>(data: &[u8])`, an entry in [`TARGETS`]
//! and in [`run`], a one-line `fuzz/fuzz_targets/<name>.rs`, and its inputs in the replay
//! test.

mod connection;
mod frame;
mod json;
mod message;
pub mod reference;
mod roundtrip;
mod stream;
pub mod structured;

pub use connection::{connection, connection_served_with, connection_with};
pub use frame::{event_decode, event_decode_with, frame_decode};
pub use json::{json_differential, json_differential_raw};
pub use message::{check_message, check_str};
pub use roundtrip::{roundtrip, roundtrip_case, Case, CaseBody, Out, Style, Tree, Value};
pub use stream::{stream_chunks, stream_chunks_with};

/// The fuzz targets, by name (also the directory names under `fuzz/regressions/` and
/// `fuzz/corpus/`).
pub const TARGETS: [&str; 6] = [
    "frame_decode",
    "event_decode",
    "stream_chunks",
    "roundtrip",
    "json_differential",
    "connection",
];

/// Runs the check of `target` on raw fuzz input `data`, as its fuzz target does. Returns
/// `false` for an unknown target name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "frame_decode" => frame_decode(data),
        "event_decode" => event_decode(data),
        "stream_chunks" => stream_chunks(data),
        "roundtrip" => roundtrip(data),
        "json_differential" => json_differential(data),
        "connection" => connection(data),
        _ => return false,
    }
    true
}
