//! Every vector of `spec/vectors/auth.json` through `uhome_protocol::auth`: requests
//! with `verify_frame`, replies with `verify_reply`, deliveries with `verify_frame` then
//! `verify_origin`, each giving the vector's result and code. The vectors were signed by the
//! Python generator (`spec/tools/auth_vectors.py`), so this is also ed25519-dalek checking
//! an independent signer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use uhome_protocol::auth::{
    verify_frame, verify_origin, verify_reply, AuthError, KeyId, Nonce, ReplayCache, SigningKey,
    VerifyOptions, VerifyingKey,
};
use uhome_protocol::Frame;

/// The verifier's replay cache capacity, as the file's `verifier.replayCache` says.
const CACHE: usize = 4;

struct Key {
    node_id: String,
    public: VerifyingKey,
    kid: KeyId,
}

struct Setup {
    keys: BTreeMap<String, Key>,
    now: u64,
    skew: u64,
    verifier: Value,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn array<const N: usize>(s: &str) -> [u8; N] {
    unhex(s).try_into().unwrap()
}

fn load() -> (Setup, Vec<Value>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/auth.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut keys = BTreeMap::new();
    for (name, k) in doc["keys"].as_object().unwrap() {
        let secret = SigningKey::from_bytes(&array(k["secret"].as_str().unwrap()));
        let public = VerifyingKey::from_bytes(&array(k["public"].as_str().unwrap())).unwrap();
        assert_eq!(
            secret.verifying_key(),
            public,
            "{name}: public is the secret's"
        );
        let kid = KeyId::of(&public);
        assert_eq!(
            &kid.to_hex(),
            k["kid"].as_str().unwrap().as_bytes(),
            "{name}: kid"
        );
        let node_id = k["nodeId"].as_str().unwrap().to_string();
        keys.insert(
            name.clone(),
            Key {
                node_id,
                public,
                kid,
            },
        );
    }
    let verifier = doc["verifier"].clone();
    assert_eq!(verifier["replayCache"], CACHE);
    let setup = Setup {
        keys,
        now: verifier["nowMs"].as_u64().unwrap(),
        skew: verifier["skewMs"].as_u64().unwrap(),
        verifier,
    };
    (setup, doc["vectors"].as_array().unwrap().clone())
}

impl Setup {
    fn table(&self, names: &Value) -> Vec<(KeyId, VerifyingKey)> {
        names
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let k = &self.keys[n.as_str().unwrap()];
                (k.kid, k.public)
            })
            .collect()
    }

    fn kid(&self, role: &str, member: &str) -> KeyId {
        self.keys[self.verifier[role][member].as_str().unwrap()].kid
    }

    fn options(&self, audience: Option<KeyId>) -> VerifyOptions {
        VerifyOptions {
            skew_ms: self.skew,
            audience,
        }
    }
}

/// The verifier of one kind, with its caches: what a node keeps across the frames it reads.
struct Verifier<'s> {
    setup: &'s Setup,
    frames: ReplayCache<CACHE>,
    deliveries: ReplayCache<CACHE>,
}

impl Verifier<'_> {
    /// `valid`, or the code the frame is refused with.
    fn verify(&mut self, v: &Value) -> &'static str {
        let bytes = unhex(v["hex"].as_str().unwrap());
        let Some((frame, _)) = Frame::decode(&bytes).complete() else {
            return "incomplete";
        };
        match self.verify_frame(v, &frame) {
            Ok(()) => "valid",
            Err(e) => e.wire_code(),
        }
    }

    fn verify_frame(&mut self, v: &Value, frame: &Frame<'_>) -> Result<(), AuthError> {
        let s = self.setup;
        match v["kind"].as_str().unwrap() {
            "request" => {
                let keys = s.table(&s.verifier["request"]["trusted"]);
                let options = s.options(Some(s.kid("request", "self")));
                verify_frame(frame, keys.as_slice(), s.now, &mut self.frames, &options).map(|_| ())
            }
            "reply" => {
                let keys = s.table(&s.verifier["reply"]["trusted"]);
                let request = Nonce(array(v["requestNonce"].as_str().unwrap()));
                verify_reply(frame, keys.as_slice(), s.now, &request, &s.options(None)).map(|_| ())
            }
            "delivery" => {
                let broker = &s.keys[s.verifier["delivery"]["broker"].as_str().unwrap()];
                let options = s.options(Some(s.kid("delivery", "self")));
                let verified = verify_frame(
                    frame,
                    &[(broker.kid, broker.public)],
                    s.now,
                    &mut self.frames,
                    &options,
                )?;
                let publishers = s.table(&s.verifier["delivery"]["publishers"]);
                let source = s
                    .keys
                    .values()
                    .find(|k| verified.event.source == *k.node_id);
                let expected = source.map(|k| k.kid);
                verify_origin(
                    verified.origin()?,
                    &verified.event,
                    publishers.as_slice(),
                    s.now,
                    &mut self.deliveries,
                    s.skew,
                    expected.as_ref(),
                )
                .map(|_| ())
            }
            other => panic!("unknown kind {other}"),
        }
    }
}

#[test]
fn every_auth_vector_verifies_as_it_says() {
    let (setup, vectors) = load();
    let by_id: BTreeMap<&str, &Value> = vectors
        .iter()
        .map(|v| (v["id"].as_str().unwrap(), v))
        .collect();
    let mut failures = Vec::new();
    let mut codes = BTreeMap::<&str, usize>::new();
    for v in &vectors {
        let mut verifier = Verifier {
            setup: &setup,
            frames: ReplayCache::new(),
            deliveries: ReplayCache::new(),
        };
        for before in v["after"].as_array().unwrap() {
            let before = by_id[before.as_str().unwrap()];
            let got = verifier.verify(before);
            assert_eq!(got, "valid", "{}: {} refused", v["id"], before["id"]);
        }
        let got = verifier.verify(v);
        let want = v["error"].as_str().unwrap_or("valid");
        assert_eq!(
            v["result"] == "valid",
            want == "valid",
            "{}: result and error disagree",
            v["id"]
        );
        *codes.entry(want).or_default() += 1;
        let also = v.get("alsoAcceptable").and_then(Value::as_array);
        if got != want && !also.is_some_and(|a| a.iter().any(|c| c == got)) {
            failures.push(format!("{}: expected {want}, got {got}", v["id"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
    // Every code of section 14 is exercised, and valid frames of each kind.
    for c in [
        "valid",
        "unauthenticated",
        "unknown_key",
        "stale",
        "bad_signature",
        "forbidden",
        "replayed",
    ] {
        assert!(codes.get(c).is_some_and(|n| *n >= 2), "{c}: {codes:?}");
    }
    for kind in ["request", "reply", "delivery"] {
        assert!(
            vectors
                .iter()
                .any(|v| v["kind"] == kind && v["result"] == "valid"),
            "no valid {kind}"
        );
    }
}

/// Each vector cites the requirements of `spec/protocol.md` whose rule its result shows:
/// UH-AUTH IDs, and a decoding requirement where decoding answers first.
#[test]
fn every_auth_vector_cites_the_specs_requirements() {
    let requirements = uhome_spec::requirements::requirements();
    let (_, vectors) = load();
    for v in &vectors {
        assert!(v.get("sections").is_none(), "{}: sections", v["id"]);
        let cited = v["requirements"].as_array().expect("requirements");
        assert!(!cited.is_empty(), "{} cites nothing", v["id"]);
        assert!(
            cited
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("UH-AUTH-")),
            "{} cites no UH-AUTH requirement",
            v["id"]
        );
        for r in cited {
            let r = r.as_str().unwrap();
            assert!(
                requirements.contains_key(r),
                "{} cites unknown {r}",
                v["id"]
            );
        }
    }
}
