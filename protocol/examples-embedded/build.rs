//! Turns `spec/vectors` into a compact table compiled into flash (`$OUT_DIR/vectors.rs`):
//! each vector's bytes as literal runs and repeated patterns (the large frames are mostly
//! padding), and what this node must do with them — a node whose `FrameBuffer` holds
//! payloads of up to 4096 bytes, the least [UH-FRAME-6] allows.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

use serde::Deserialize;

/// The vector files, as `uhome-spec` lists them.
const FILES: [&str; 7] = [
    "frame.json",
    "version-status.json",
    "json.json",
    "utf8.json",
    "envelope.json",
    "core.json",
    "legacy.json",
];
/// The node's payload limit; must match `src/main.rs`.
const LIMIT: usize = 4096;
/// Runs of a pattern at least this long are stored as the pattern and a count.
const MIN_RUN: usize = 48;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    id: String,
    hex: String,
    result: String,
    error: Option<String>,
    reply: Option<Reply>,
}

#[derive(Deserialize)]
struct Reply {
    role: String,
    status: u8,
    code: String,
}

fn main() {
    let out = env::var("OUT_DIR").expect("OUT_DIR");
    let here = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let vectors = Path::new(&here).join("../../spec/vectors");
    fs::copy(
        Path::new(&here).join("memory.x"),
        Path::new(&out).join("memory.x"),
    )
    .expect("memory.x");
    println!("cargo:rustc-link-search={out}");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed={}", vectors.display());

    let mut table = String::from("pub static VECTORS: &[Vector] = &[\n");
    let mut count = 0;
    for name in FILES {
        let path = vectors.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).expect("vector file");
        let file: File = serde_json::from_str(&text).expect("vector file parses");
        for v in file.vectors {
            let bytes = hex::decode(&v.hex).expect("hex");
            let (decode, reply) = expected(&v, &bytes);
            writeln!(
                table,
                "    Vector {{ id: {:?}, stream: &[{}], decode: {decode}, reply: {reply} }},",
                v.id,
                segments(&bytes)
            )
            .expect("write");
            count += 1;
        }
    }
    table.push_str("];\n");
    writeln!(table, "pub const COUNT: usize = {count};").expect("write");
    fs::write(Path::new(&out).join("vectors.rs"), table).expect("vectors.rs");
}

/// What a node with a 4096-byte payload limit must do with the first frame of `bytes`.
fn expected(v: &Vector, bytes: &[u8]) -> (String, String) {
    let incomplete = (
        "Decode::Incomplete".to_string(),
        "Expect::Nothing".to_string(),
    );
    let Some(&[l0, l1]) = bytes
        .get(..2)
        .map(|b| <&[u8; 2]>::try_from(b).expect("2 bytes"))
    else {
        return check_incomplete(v, incomplete);
    };
    let total = 5 + usize::from(u16::from_be_bytes([l0, l1]));
    if bytes.len() < 5 || bytes.len() < total {
        return check_incomplete(v, incomplete);
    }
    if total - 5 > LIMIT {
        // [UH-FRAME-6]: read and discard, answer too_large, before any other rule.
        return (
            "Decode::Oversized".into(),
            "Expect::Reply(2, \"too_large\")".into(),
        );
    }
    let decode = match (v.result.as_str(), v.error.as_deref()) {
        ("valid", _) => "Decode::Valid".to_string(),
        ("invalid", Some(code)) => format!("Decode::Invalid({code:?})"),
        ("acceptable", Some(code)) => format!("Decode::Either({code:?})"),
        ("acceptable", None) => "Decode::Valid".to_string(),
        (result, error) => panic!("{}: {result} {error:?}", v.id),
    };
    let reply = match &v.reply {
        Some(r) if r.role == "any" => format!("Expect::Reply({}, {:?})", r.status, r.code),
        Some(_) => "Expect::Dispatch".to_string(),
        None => "Expect::Anything".to_string(),
    };
    (decode, reply)
}

fn check_incomplete(v: &Vector, incomplete: (String, String)) -> (String, String) {
    assert!(
        v.error.as_deref() == Some("incomplete") || v.result == "acceptable",
        "{}: the first frame is incomplete but the vector says {} {:?}",
        v.id,
        v.result,
        v.error
    );
    incomplete
}

/// `bytes` as `Seg::Lit(b"…")` and `Seg::Rep(b"pattern", times)` runs.
fn segments(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let mut best: Option<(usize, usize)> = None;
        for period in 1..=16 {
            let Some(pattern) = bytes.get(i..i + period) else {
                break;
            };
            let mut times = 1;
            while bytes.get(i + times * period..i + (times + 1) * period) == Some(pattern) {
                times += 1;
            }
            let run = times * period;
            if run >= MIN_RUN && best.is_none_or(|(p, t)| run > p * t) {
                best = Some((period, times));
            }
        }
        match best {
            Some((period, times)) => {
                if !literal.is_empty() {
                    write!(out, "Seg::Lit(b\"{}\"),", escape(&literal)).expect("write");
                    literal.clear();
                }
                write!(
                    out,
                    "Seg::Rep(b\"{}\", {times}),",
                    escape(&bytes[i..i + period])
                )
                .expect("write");
                i += period * times;
            }
            None => {
                literal.push(bytes[i]);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        write!(out, "Seg::Lit(b\"{}\"),", escape(&literal)).expect("write");
    }
    out
}

fn escape(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        match b {
            b' '..=b'~' if !matches!(b, b'"' | b'\\') => s.push(char::from(*b)),
            _ => write!(s, "\\x{b:02x}").expect("write"),
        }
        s
    })
}
