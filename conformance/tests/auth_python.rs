//! The signed frames of spec/protocol.md section 14 verified by two implementations: the
//! codec's `uhome_protocol::auth` and the Python peer's `auth.py` (standard library only, its
//! own Ed25519 verifier), frame by frame. Each case also states the code section 14 gives, so
//! the two cannot agree on a wrong answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;
use uhome_protocol::auth::{
    sign_frame, verify_frame, KeyId, Nonce, ReplayCache, Signer, SigningKey, VerifyOptions,
    VerifyingKey,
};
use uhome_protocol::{Body, Envelope, Frame, RawJson, V2};

const NOW: u64 = 1_764_713_150_481;
const ENV: Envelope<'static> = Envelope {
    id: "5f2b3c1e-8d4a-4e6b-9c7d-1a2b3c4d5e6f",
    timestamp: "2026-12-02T18:40:00.000Z",
    source: "µHome/hall",
    event_type: "µHome.core.register",
};
const DATA: &str = r#"{"nodeId":"µHome/hall","address":"127.0.0.1:5102"}"#;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn signed(key: &SigningKey, ts: u64, nonce: u8, aud: Option<KeyId>) -> Vec<u8> {
    let data = RawJson::parse(DATA).unwrap();
    let signer = Signer {
        key,
        ts,
        nonce: Nonce([nonce; 16]),
        aud,
        re: None,
    };
    let mut out = vec![0u8; 1024];
    let n = sign_frame(&mut out, V2, 1, &ENV, Body::Data(&data), &signer).unwrap();
    out.truncate(n);
    out
}

fn fix_length(frame: &mut [u8]) {
    let len = u16::try_from(frame.len() - 5).unwrap();
    frame[..2].copy_from_slice(&len.to_be_bytes());
}

/// The payload offset of the `sig` value.
fn sig_at(frame: &[u8]) -> usize {
    let text = std::str::from_utf8(&frame[5..]).unwrap();
    5 + text.find("\"sig\":\"").unwrap() + 7
}

struct Case {
    name: &'static str,
    frame: Vec<u8>,
    now: u64,
    keys: Vec<VerifyingKey>,
    audience: Option<KeyId>,
    cache: &'static str,
    expect: &'static str,
}

fn cases() -> Vec<Case> {
    let (a, b) = (key(1), key(2));
    let ka = a.verifying_key();
    let base = |name, frame, expect| Case {
        name,
        frame,
        now: NOW,
        keys: vec![ka],
        audience: None,
        cache: name,
        expect,
    };
    let valid = signed(&a, NOW, 1, None);
    let mut in_data = valid.clone();
    let at = in_data.windows(4).position(|w| w == b"5102").unwrap();
    in_data[at + 3] = b'3';
    let mut version = valid.clone();
    version[3] = 1;
    let mut upper = valid.clone();
    let s = sig_at(&upper);
    upper[s..s + 128].make_ascii_uppercase();
    let mut short = valid.clone();
    short.remove(sig_at(&short));
    fix_length(&mut short);
    let mut other_key = signed(&b, NOW, 1, None);
    let (kid_a, kid_b) = (
        KeyId::of(&ka).to_hex(),
        KeyId::of(&b.verifying_key()).to_hex(),
    );
    let at = other_key.windows(16).position(|w| w == kid_b).unwrap();
    other_key[at..at + 16].copy_from_slice(&kid_a);
    let mut plain = Vec::new();
    let text = std::str::from_utf8(&valid[5..]).unwrap();
    let cut = text.find(",\"auth\":").unwrap();
    plain.extend_from_slice(&valid[..5]);
    plain.extend_from_slice(&text.as_bytes()[..cut]);
    plain.push(b'}');
    fix_length(&mut plain);
    let kid_of_b = KeyId::of(&b.verifying_key());
    vec![
        base("valid", valid.clone(), "ok"),
        Case {
            cache: "valid",
            ..base("the same frame again", valid.clone(), "replayed")
        },
        Case {
            cache: "valid",
            ..base(
                "the same nonce with another ts",
                signed(&a, NOW + 5, 1, None),
                "replayed",
            )
        },
        base("a payload byte altered in data", in_data, "bad_signature"),
        base("the header's version altered", version, "bad_signature"),
        base("sig in upper case", upper, "unauthenticated"),
        base("sig of 127 characters", short, "unauthenticated"),
        base(
            "signed by another key under this key's id",
            other_key,
            "bad_signature",
        ),
        base("no auth member", plain, "unauthenticated"),
        Case {
            keys: vec![b.verifying_key()],
            ..base("an unknown key", signed(&a, NOW, 3, None), "unknown_key")
        },
        Case {
            now: NOW + 30_001,
            ..base("ts 30.001 s in the past", signed(&a, NOW, 4, None), "stale")
        },
        Case {
            now: NOW - 30_001,
            ..base(
                "ts 30.001 s in the future",
                signed(&a, NOW, 5, None),
                "stale",
            )
        },
        Case {
            now: NOW + 30_000,
            ..base("ts 30 s in the past", signed(&a, NOW, 6, None), "ok")
        },
        Case {
            audience: Some(kid_of_b),
            ..base(
                "aud names this node",
                signed(&a, NOW, 7, Some(kid_of_b)),
                "ok",
            )
        },
        Case {
            audience: Some(kid_of_b),
            ..base(
                "aud names another node",
                signed(&a, NOW, 8, Some(KeyId::of(&ka))),
                "forbidden",
            )
        },
        Case {
            audience: Some(kid_of_b),
            ..base(
                "no aud for a node that has a key",
                signed(&a, NOW, 9, None),
                "forbidden",
            )
        },
    ]
}

/// The codec's verdict, with one replay cache per cache name.
fn rust_verdicts(cases: &[Case]) -> Vec<String> {
    let mut caches: BTreeMap<&str, ReplayCache<64>> = BTreeMap::new();
    cases
        .iter()
        .map(|c| {
            let keys: Vec<(KeyId, VerifyingKey)> =
                c.keys.iter().map(|k| (KeyId::of(k), *k)).collect();
            let (frame, _) = Frame::decode(&c.frame).complete().unwrap();
            let options = VerifyOptions {
                audience: c.audience,
                ..VerifyOptions::default()
            };
            let cache = caches.entry(c.cache).or_default();
            match verify_frame(&frame, keys.as_slice(), c.now, cache, &options) {
                Ok(_) => "ok".to_string(),
                Err(e) => e.wire_code().to_string(),
            }
        })
        .collect()
}

fn python_verdicts(cases: &[Case]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python/verify_auth.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut input = String::new();
    for c in cases {
        let keys: serde_json::Map<String, serde_json::Value> = c
            .keys
            .iter()
            .map(|k| {
                (
                    String::from_utf8(KeyId::of(k).to_hex().to_vec()).unwrap(),
                    json!(hex::encode(k.as_bytes())),
                )
            })
            .collect();
        let audience = c
            .audience
            .map(|k| String::from_utf8(k.to_hex().to_vec()).unwrap());
        let line = json!({
            "frame": hex::encode(&c.frame),
            "now": c.now,
            "keys": keys,
            "audience": audience,
            "cache": c.cache,
        });
        input.push_str(&format!("{line}\n"));
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "verify_auth.py exits 0");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_codec_and_the_python_peer_give_every_signed_frame_the_specified_code() {
    let cases = cases();
    let (rust, python) = (rust_verdicts(&cases), python_verdicts(&cases));
    assert_eq!(python.len(), cases.len(), "one line per frame: {python:?}");
    for ((case, rust), python) in cases.iter().zip(&rust).zip(&python) {
        assert_eq!(rust, case.expect, "{}: the codec", case.name);
        assert_eq!(python, case.expect, "{}: the Python peer", case.name);
    }
}

/// The Python peer answers every vector of `spec/vectors/auth.json` as the file says
/// (the codec does too: `protocol/tests/auth_vectors.rs`).
#[test]
fn the_python_peer_verifies_the_auth_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("../spec/vectors/auth.json");
    let out = Command::new("python3")
        .arg(root.join("peers/python/auth_vectors.py"))
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeMap<String, String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (id, code) = l.split_once(' ').unwrap();
            (id.to_string(), code.to_string())
        })
        .collect();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(got.len(), vectors.len(), "one line per vector");
    let mut wrong = Vec::new();
    for v in vectors {
        let want = v["error"].as_str().unwrap_or("valid");
        let also = v.get("alsoAcceptable").and_then(|a| a.as_array());
        let code = got[v["id"].as_str().unwrap()].as_str();
        if code != want && !also.is_some_and(|a| a.iter().any(|c| c == code)) {
            wrong.push(format!("{}: expected {want}, got {code}", v["id"]));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
