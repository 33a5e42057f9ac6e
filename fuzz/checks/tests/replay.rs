//! Replays every test vector of `spec/vectors/*.json` and every file of
//! `fuzz/regressions/<target>/` through the fuzz checks, on stable Rust.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use uhome_fuzz_checks as checks;
use uhome_protocol::{Decoded, Frame, Message};

/// Only the byte strings of a vector file; everything else is skipped unread
/// (`serde::de::IgnoredAny`, which has no depth limit and keeps `1e400` as text).
#[derive(Deserialize)]
struct VectorFile {
    #[serde(default)]
    vectors: Option<Vec<Vector>>,
    #[serde(default)]
    exchanges: Option<Vec<Exchange>>,
}

#[derive(Deserialize)]
struct Vector {
    id: String,
    hex: String,
}

#[derive(Deserialize)]
struct Exchange {
    id: String,
    segments: Vec<Hex>,
    #[serde(rename = "legacyReplies")]
    legacy_replies: Vec<Hex>,
}

#[derive(Deserialize)]
struct Hex {
    hex: String,
}

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        root.join("spec/protocol.md").is_file() && root.join("fuzz/checks").is_dir(),
        "repository root not found from {}",
        env!("CARGO_MANIFEST_DIR")
    );
    root
}

fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len() % 2 == 0, "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// Runs the checks, counting the runs that returned and keeping every failure.
#[derive(Default)]
struct Replay {
    runs: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Replay {
    fn check(&mut self, target: &'static str, input: &str, f: impl FnOnce()) {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(()) => *self.runs.entry(target).or_default() += 1,
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.failures.push(format!("{target} on {input}: {why}"));
            }
        }
    }

    /// Every check that applies to one byte string of a vector.
    fn bytes(&mut self, id: &str, bytes: &[u8]) {
        self.check("frame_decode", id, || checks::frame_decode(bytes));
        for sizes in [&[1][..], &[bytes.len().max(1)], &[2, 0, 3, 5], &[4096]] {
            self.check("stream_chunks", id, || {
                checks::stream_chunks_with(bytes, sizes)
            });
        }
        self.check("json_differential", id, || {
            checks::json_differential_raw(bytes)
        });
        for sizes in [&[1][..], &[bytes.len().max(1)], &[3, 7]] {
            self.check("connection", id, || checks::connection_with(bytes, sizes));
            self.check("connection (runtime)", id, || {
                checks::connection_served_with(bytes, sizes)
            });
        }
        // The bytes as fuzz input of the structure-aware target, as a seed would be.
        self.check("roundtrip", id, || checks::roundtrip(bytes));
        // The same bytes as entropy for the structured generator (first byte 0xff).
        let selected = [&[0xff][..], bytes].concat();
        self.check("roundtrip", id, || checks::roundtrip(&selected));
        self.check("json_differential", id, || {
            checks::json_differential(&selected)
        });
        self.check("event_decode", id, || checks::event_decode(bytes));
        let Decoded::Complete(frame, _) = Frame::decode(bytes) else {
            return;
        };
        let payload = frame.payload;
        self.check("json_differential", id, || {
            checks::json_differential_raw(payload)
        });
        for version in [frame.version(), 1, 2] {
            self.check("event_decode", id, || {
                checks::event_decode_with(version, payload)
            });
        }
        // A decoded event, encoded again, must come back the same.
        if let Ok(Message::Event(event)) = frame.message() {
            let body = match (event.data, event.error) {
                (Some(d), _) => checks::CaseBody::Data(checks::Value::Text(d.as_str().into())),
                (None, Some(e)) => checks::CaseBody::Error(checks::Value::Text(e.as_str().into())),
                (None, None) => checks::CaseBody::None,
            };
            let mut case = checks::Case {
                version: frame.version(),
                status: frame.status(),
                id: event.id.to_string(),
                timestamp: event.timestamp.to_string(),
                source: event.source.to_string(),
                event_type: event.event_type.to_string(),
                body,
                wrap: 0,
                out: checks::Out::Max(0),
            };
            for out in [
                checks::Out::Max(3),
                checks::Out::Exact,
                checks::Out::Short(300),
            ] {
                case.out = out;
                self.check("roundtrip", id, || checks::roundtrip_case(&case));
            }
            // The 65535-byte boundary, with this event's strings.
            case.out = checks::Out::Max(0);
            for delta in -3..=3 {
                case.body = checks::CaseBody::Pad(delta);
                self.check("roundtrip", id, || checks::roundtrip_case(&case));
            }
        }
    }
}

#[test]
fn every_vector_and_regression_passes_every_check() {
    let root = repo_root();
    let mut replay = Replay::default();
    let mut vectors = 0;

    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("spec/vectors"))
        .expect("spec/vectors")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("vector file");
        let file: VectorFile =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for v in file.vectors.iter().flatten() {
            vectors += 1;
            replay.bytes(&v.id, &unhex(&v.hex));
        }
        for x in file.exchanges.iter().flatten() {
            vectors += 1;
            let segments: Vec<Vec<u8>> = x.segments.iter().map(|s| unhex(&s.hex)).collect();
            let stream = segments.concat();
            let cuts: Vec<usize> = segments.iter().map(Vec::len).collect();
            // The TCP segments v0.0.1's clients wrote, as the reads a node gets.
            replay.check("stream_chunks", &x.id, || {
                checks::stream_chunks_with(&stream, &cuts)
            });
            for bytes in segments.iter().chain(
                &x.legacy_replies
                    .iter()
                    .map(|r| unhex(&r.hex))
                    .collect::<Vec<_>>(),
            ) {
                replay.bytes(&x.id, bytes);
            }
            replay.bytes(&x.id, &stream);
        }
    }
    assert!(
        vectors > 0,
        "no vectors found in {}",
        root.join("spec/vectors").display()
    );

    let regressions = root.join("fuzz/regressions");
    if let Ok(dirs) = std::fs::read_dir(&regressions) {
        for dir in dirs {
            let dir = dir.expect("entry").path();
            if !dir.is_dir() {
                continue;
            }
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let target = checks::TARGETS
                .into_iter()
                .find(|t| *t == name)
                .unwrap_or_else(|| panic!("fuzz/regressions/{name}: no such target"));
            for file in std::fs::read_dir(&dir).expect("regression dir") {
                let file = file.expect("entry").path();
                let data = std::fs::read(&file).expect("regression file");
                let label = file.display().to_string();
                replay.check(target, &label, || {
                    assert!(checks::run(target, &data));
                });
            }
        }
    }

    eprintln!("{vectors} vectors; runs per check: {:?}", replay.runs);
    assert!(
        replay.failures.is_empty(),
        "{} failures:\n{}",
        replay.failures.len(),
        replay.failures.join("\n")
    );
    for target in checks::TARGETS {
        let runs = replay.runs.get(target).copied().unwrap_or(0);
        assert!(runs > 0, "check {target} never ran");
    }
}

#[test]
fn checks_fail_on_wrong_results() {
    // The checks are not vacuous: a frame whose payload is cut short is not complete, and
    // the reference disagrees with an invented result.
    let bytes = b"\x00\x02\x00\x02\x01{}";
    let frame = match Frame::decode(bytes) {
        Decoded::Complete(f, _) => f,
        Decoded::Partial { .. } => panic!("complete frame expected"),
    };
    let wrong: Result<Message<'_>, uhome_protocol::Error> = Err(
        uhome_protocol::Error::DuplicateMember(uhome_protocol::Member::Id),
    );
    let caught = catch_unwind(|| checks::check_message(2, frame.payload, &wrong));
    assert!(caught.is_err(), "a wrong verdict on {{}} passed the check");
    let right = frame.message();
    checks::check_message(2, frame.payload, &right);
    assert!(checks::run("frame_decode", bytes));
    assert!(!checks::run("no_such_target", bytes));
}
