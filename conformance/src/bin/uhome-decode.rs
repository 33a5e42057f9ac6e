//! `uhome-decode`: the reference decoder program of spec/conformance-contract.md — reads a
//! frame on stdin, prints the canonical decoded frame (exit 0) or the error code (exit 1);
//! with `UHOME_CONFORMANCE_STREAM=1` it serves the stream mode (a line of hex in, a line out).

use std::io::{BufRead, Read, Write};
use std::process::ExitCode;

use uhome_conformance::codec::{STREAM_ENV, STREAM_HELLO};

/// The answer to `input`: the canonical frame, or the code (with the bytes still needed
/// after `incomplete`, [UH-FRAME-7]); whether it is an acceptance.
fn answer(input: &[u8]) -> (String, bool) {
    match uhome_conformance::canonical::decode(input) {
        Ok(frame) => (frame.to_string(), true),
        Err(refusal) => match (refusal.code.as_str(), refusal.needed) {
            ("incomplete", Some(needed)) => (format!("incomplete {needed}"), false),
            _ => (refusal.code, false),
        },
    }
}

fn stream() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{STREAM_HELLO}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else {
            return ExitCode::from(2);
        };
        let text = match hex::decode(line.trim()) {
            Ok(input) => answer(&input).0,
            Err(e) => {
                eprintln!("uhome-decode: not hex: {e}");
                "internal".into()
            }
        };
        if writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    if std::env::var(STREAM_ENV).as_deref() == Ok("1") {
        return stream();
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("uhome-decode: cannot read stdin: {e}");
        return ExitCode::from(2);
    }
    let (text, accepted) = answer(&input);
    if writeln!(std::io::stdout().lock(), "{text}").is_err() {
        return ExitCode::from(2);
    }
    if accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
