//! `fuzz --exec` proven on planted bugs: faulty copies of the Python peer's decoder, one fault
//! each, are found within a fixed number of inputs at a fixed seed, each finding replays as a
//! failing vector against the faulty copy and a passing one against the peer; the unfaulted
//! peer and the reference decoder run the same inputs with no finding.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_uhome-conformance");
const INPUTS: &str = "5000";
const SEED: &str = "1";

fn peer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python")
}

/// A copy of the Python peer with `from` replaced by `to` in `uhome.py`.
fn faulty_peer(dir: &Path, from: &str, to: &str) -> String {
    for file in ["decode.py", "uhome.py", "service.py"] {
        std::fs::copy(peer().join(file), dir.join(file)).unwrap();
    }
    let source = std::fs::read_to_string(dir.join("uhome.py")).unwrap();
    assert!(
        source.contains(from),
        "the fault's text is in uhome.py: {from}"
    );
    std::fs::write(dir.join("uhome.py"), source.replacen(from, to, 1)).unwrap();
    format!("python3 {}", dir.join("decode.py").display())
}

fn fuzz(program: &str, out: &Path) -> Output {
    Command::new(BIN)
        .args([
            "fuzz",
            "--exec",
            program,
            "--seed",
            SEED,
            "--iterations",
            INPUTS,
        ])
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn replay(finding: &Path, program: &str) -> Option<i32> {
    Command::new(BIN)
        .args(["vectors", "--exec", program, "--vectors"])
        .arg(finding)
        .output()
        .unwrap()
        .status
        .code()
}

fn findings(out: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn planted(from: &str, to: &str) {
    let dir = tempfile::tempdir().unwrap();
    let faulty = faulty_peer(dir.path(), from, to);
    let out = dir.path().join("findings");
    let run = fuzz(&faulty, &out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "the fault is found: {stdout}");
    assert!(stdout.contains("FINDING "), "{stdout}");
    let files = findings(&out);
    assert!(!files.is_empty(), "{stdout}");
    let unfaulted = format!("python3 {}", peer().join("decode.py").display());
    for file in &files {
        assert_eq!(
            replay(file, &faulty),
            Some(1),
            "{} fails the faulty copy",
            file.display()
        );
        assert_eq!(
            replay(file, &unfaulted),
            Some(0),
            "{} passes the peer",
            file.display()
        );
    }
}

#[test]
fn a_decoder_that_accepts_a_leading_zero_is_found() {
    planted("(?:0|[1-9][0-9]*)", "(?:[0-9]+)");
}

#[test]
fn a_decoder_whose_depth_limit_is_one_off_is_found() {
    planted("if len(stack) >= max_depth:", "if len(stack) > max_depth:");
}

#[test]
fn a_decoder_that_misses_a_repeated_envelope_member_is_found() {
    planted(
        "            if name in seen:\n",
        "            if name in seen and seen[name] == value:\n",
    );
}

#[test]
fn the_peer_and_the_reference_decoder_have_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let peer = format!("python3 {}", peer().join("decode.py").display());
    for program in [peer.as_str(), env!("CARGO_BIN_EXE_uhome-decode")] {
        let out = dir.path().join("findings");
        let run = fuzz(program, &out);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert_eq!(run.status.code(), Some(0), "{program}: {stdout}");
        assert!(
            stdout.contains(&format!("NO FINDINGS: {INPUTS} inputs")),
            "{stdout}"
        );
        assert!(findings(&out).is_empty());
    }
}
