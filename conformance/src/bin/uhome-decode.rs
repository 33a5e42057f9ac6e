//! `uhome-decode`: the reference decoder program of spec/conformance-contract.md — reads a
//! frame on stdin, prints the canonical decoded frame (exit 0) or the error code (exit 1).

use std::io::{Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("uhome-decode: cannot read stdin: {e}");
        return ExitCode::from(2);
    }
    let mut stdout = std::io::stdout().lock();
    let (text, code) = match uhome_conformance::canonical::decode(&input) {
        Ok(frame) => (frame.to_string(), ExitCode::SUCCESS),
        Err(refusal) => match uhome_protocol::Frame::decode(&input) {
            // [UH-FRAME-7]: the bytes still needed, after the code.
            uhome_protocol::Decoded::Partial { needed } if refusal.code == "incomplete" => {
                (format!("incomplete {needed}"), ExitCode::from(1))
            }
            _ => (refusal.code, ExitCode::from(1)),
        },
    };
    if writeln!(stdout, "{text}").is_err() {
        return ExitCode::from(2);
    }
    code
}
