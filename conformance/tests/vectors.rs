//! Every vector of `spec/vectors` through the reference codec `uhome-protocol`, and the
//! vector files against their schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::Value;
use uhome_conformance::canonical::decode;
use uhome_conformance::json_eq::json_eq;
use uhome_conformance::spec::Level;
use uhome_conformance::vectors::{
    load_all, parse_json, repository_vectors_dir, Expect, VectorFile,
};

/// The signed-frame vectors of section 14 (`spec/vectors/README.md`, "Signed-frame
/// vectors").
const AUTH_FILE: &str = "auth.json";

fn files() -> Vec<VectorFile> {
    load_all(&repository_vectors_dir()).expect("vector files load")
}

/// `UH-AREA-n` → whether it is a MUST, by the shared reading of `spec/protocol.md`.
fn requirements() -> Vec<(String, bool)> {
    uhome_conformance::spec::requirements()
        .into_values()
        .map(|r| (r.id, r.level == Level::Must))
        .collect()
}

#[test]
fn every_vector_decodes_as_the_vector_says() {
    let mut failures = Vec::new();
    let mut count = 0;
    for file in files() {
        for v in &file.vectors {
            count += 1;
            let bytes = v.bytes().unwrap();
            let got = decode(&bytes);
            let ok = match (v.result, &got) {
                (Expect::Valid, Ok(frame)) => v.frame.as_ref().is_some_and(|f| json_eq(f, frame)),
                (Expect::Invalid, Err(refusal)) => {
                    v.error.as_deref() == Some(refusal.code.as_str()) && v.needed == refusal.needed
                }
                (Expect::Acceptable, Ok(frame)) => {
                    v.frame.as_ref().is_none_or(|f| json_eq(f, frame))
                }
                (Expect::Acceptable, Err(refusal)) => {
                    v.error.as_deref() == Some(refusal.code.as_str())
                }
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{}: expected {:?} {} {:?}, got {:?}",
                    v.id,
                    v.result,
                    v.error.as_deref().unwrap_or(""),
                    v.frame,
                    got
                ));
            }
        }
    }
    assert!(count >= 200, "only {count} vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn vector_ids_are_unique_and_requirements_exist() {
    let known: BTreeSet<String> = requirements().into_iter().map(|(id, _)| id).collect();
    assert!(known.len() > 60, "requirement IDs not found in protocol.md");
    let mut ids = BTreeSet::new();
    for file in files() {
        for v in &file.vectors {
            assert!(ids.insert(v.id.clone()), "duplicate id {}", v.id);
            assert!(
                v.id.starts_with(&format!("{}/", file.name)),
                "{} outside its file",
                v.id
            );
            assert!(!v.requirements.is_empty(), "{} cites nothing", v.id);
            for r in &v.requirements {
                assert!(known.contains(r), "{} cites unknown {r}", v.id);
            }
            for f in &v.flags {
                assert!(
                    file.flags.contains_key(f),
                    "{}: flag {f} not defined in {}",
                    v.id,
                    file.name
                );
            }
        }
    }
}

/// Every MUST that bytes can show is cited by a vector; the rest are listed, with the
/// reason, in `spec/vectors/coverage.json`.
#[test]
fn every_byte_observable_must_has_a_vector() {
    let mut cited: BTreeSet<String> = files()
        .iter()
        .flat_map(|f| f.vectors.iter().flat_map(|v| v.requirements.clone()))
        .collect();
    let exchanges = parse_json(
        &fs::read_to_string(
            repository_vectors_dir().join(uhome_conformance::vectors::EXCHANGES_FILE),
        )
        .unwrap(),
    )
    .unwrap();
    for exchange in exchanges["exchanges"].as_array().expect("exchanges") {
        for r in exchange["requirements"].as_array().expect("requirements") {
            cited.insert(r.as_str().unwrap().to_string());
        }
    }
    // The signed-frame vectors (their own layout, not decode vectors) cite UH-AUTH IDs.
    let auth =
        parse_json(&fs::read_to_string(repository_vectors_dir().join(AUTH_FILE)).unwrap()).unwrap();
    for v in auth["vectors"].as_array().expect("auth vectors") {
        for r in v["requirements"].as_array().expect("requirements") {
            cited.insert(r.as_str().unwrap().to_string());
        }
    }
    let coverage: Value =
        parse_json(&fs::read_to_string(repository_vectors_dir().join("coverage.json")).unwrap())
            .unwrap();
    let excluded = coverage["notObservableInBytes"]
        .as_object()
        .expect("notObservableInBytes");
    let musts: Vec<String> = requirements()
        .into_iter()
        .filter(|(_, m)| *m)
        .map(|(id, _)| id)
        .collect();
    let uncovered: Vec<&String> = musts
        .iter()
        .filter(|id| !cited.contains(*id) && !excluded.contains_key(*id))
        .collect();
    assert!(
        uncovered.is_empty(),
        "MUST requirements without vectors: {uncovered:?}"
    );
    for (id, reason) in excluded {
        assert!(
            musts.contains(id),
            "{id} is listed in coverage.json but is not a MUST requirement"
        );
        assert!(
            !cited.contains(id),
            "{id} is listed as not observable but vectors cite it"
        );
        assert!(
            reason.as_str().is_some_and(|r| r.len() > 10),
            "{id} needs a reason"
        );
    }
}

fn validator(schema_path: &Path) -> jsonschema::Validator {
    let schema = parse_json(&fs::read_to_string(schema_path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

#[test]
fn vector_files_match_schema_json() {
    let dir = repository_vectors_dir();
    let validator = validator(&dir.join("schema.json"));
    let mut names: Vec<&str> = uhome_conformance::vectors::VECTOR_FILES.to_vec();
    names.push(uhome_conformance::vectors::EXCHANGES_FILE);
    for name in names {
        let doc = parse_json(&fs::read_to_string(dir.join(name)).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .take(5)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    let broken = parse_json(r#"{"name":"x","description":"d","specVersion":"1.3.0","flags":{},"vectors":[{"id":"x/a","description":"d","hex":"zz","result":"valid","requirements":[],"flags":[]}]}"#).unwrap();
    assert!(
        !validator.is_valid(&broken),
        "schema.json accepts a broken vector file"
    );
}

/// `auth.json` has its own layout, described by `auth.schema.json`.
#[test]
fn auth_json_matches_auth_schema_json() {
    let dir = repository_vectors_dir();
    let validator = validator(&dir.join("auth.schema.json"));
    let doc = parse_json(&fs::read_to_string(dir.join(AUTH_FILE)).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{AUTH_FILE}: {errors:?}");
    let mut broken = doc.clone();
    broken["vectors"][0]["sections"] = serde_json::json!(["3.1"]);
    assert!(
        !validator.is_valid(&broken),
        "auth.schema.json accepts a vector with sections"
    );
    let mut broken = doc;
    broken["vectors"][0]["requirements"] = serde_json::json!(["UH-EVENT-5"]);
    assert!(
        !validator.is_valid(&broken),
        "auth.schema.json accepts a vector citing no UH-AUTH requirement"
    );
}

/// A validator for a file of `spec/schema`, with every other schema file registered so
/// that cross-file `$ref`s resolve offline.
fn spec_schema(path: &str) -> jsonschema::Validator {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/schema");
    let mut options = jsonschema::options();
    for rel in [
        "defs.json",
        "envelope.json",
        "core/register.json",
        "core/unregister.json",
        "core/nodes.json",
        "core/subscribe.json",
        "core/unsubscribe.json",
        "core/publish.json",
        "core/healthcheck.json",
        "core/discover.json",
    ] {
        let doc = parse_json(&fs::read_to_string(root.join(rel)).unwrap()).unwrap();
        let uri = doc["$id"].as_str().unwrap().to_string();
        options = options.with_resource(
            uri,
            jsonschema::Resource::from_contents(doc).expect("schema resource"),
        );
    }
    let schema = parse_json(&fs::read_to_string(root.join(path)).unwrap()).unwrap();
    options.build(&schema).expect("schema compiles")
}

/// The JSON Schemas of `spec/schema` and the vectors agree: every decoded v2 event fits
/// `envelope.json`; every core `data` a node accepts fits its schema, and every `data` a
/// node refuses for its shape does not (duplicate names aside: a schema cannot see them).
#[test]
fn spec_schemas_agree_with_the_vectors() {
    let envelope = spec_schema("envelope.json");
    let core_types = [
        "register",
        "unregister",
        "nodes",
        "subscribe",
        "unsubscribe",
        "publish",
    ];
    let core: Vec<(String, jsonschema::Validator)> = core_types
        .iter()
        .map(|t| {
            (
                format!("µHome.core.{t}"),
                spec_schema(&format!("core/{t}.json")),
            )
        })
        .collect();
    let (mut checked_envelopes, mut accepted, mut refused) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in files() {
        for v in &file.vectors {
            let Some(frame) = &v.frame else { continue };
            if frame["version"] != 2 || v.result == Expect::Invalid {
                continue;
            }
            let event = &frame["event"];
            checked_envelopes += 1;
            if !envelope.is_valid(event) {
                failures.push(format!("{}: envelope.json refuses a valid event", v.id));
            }
            let Some((_, schema)) = core.iter().find(|(t, _)| event["type"] == t.as_str()) else {
                continue;
            };
            let Some(data) = event.get("data") else {
                continue;
            };
            let shape_refused = v.reply.as_ref().is_some_and(|r| {
                ["invalid_data", "invalid_pattern", "reserved_type"].contains(&r.code.as_str())
            });
            let sees_it = !v
                .flags
                .iter()
                .any(|f| f.contains("Duplicate") || f == "Precedence" || f == "RepeatedNodeId");
            match (shape_refused, schema.is_valid(data)) {
                (false, true) => accepted += 1,
                (true, false) => refused += 1,
                (true, true) if !sees_it => {}
                (true, true) => {
                    failures.push(format!("{}: schema accepts data a node refuses", v.id))
                }
                (false, false) => {
                    failures.push(format!("{}: schema refuses data a node accepts", v.id))
                }
            }
        }
    }
    assert!(
        checked_envelopes > 300 && accepted > 20 && refused > 20,
        "{checked_envelopes} {accepted} {refused}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
