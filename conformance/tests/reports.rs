//! The binary end to end: the embedded default conforms; reports validate (JSON against
//! its schema, JUnit as XML); exit statuses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::path::Path;
use std::process::{Command, Output};

use quick_xml::events::Event;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_uhome-conformance");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

fn schema() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/conformance-report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

/// Parses JUnit XML; returns (testsuite names, testcases, failures, errors, skipped).
fn junit(path: &Path) -> (Vec<String>, usize, usize, usize, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut suites, mut cases, mut failures, mut errors, mut skipped) = (Vec::new(), 0, 0, 0, 0);
    let mut depth = 0i32;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuite" => {
                let name = e
                    .try_get_attribute("name")
                    .unwrap()
                    .unwrap()
                    .unescape_value()
                    .unwrap()
                    .to_string();
                suites.push(name);
                depth += 1;
            }
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => {
                    assert!(e.try_get_attribute("classname").unwrap().is_some());
                    assert!(e.try_get_attribute("name").unwrap().is_some());
                    cases += 1;
                }
                b"failure" => failures += 1,
                b"error" => errors += 1,
                b"skipped" => skipped += 1,
                _ => {}
            },
            Event::End(e) if e.name().as_ref() == b"testsuite" => depth -= 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    (suites, cases, failures, errors, skipped)
}

#[test]
fn the_reference_runtime_conforms_and_the_reports_validate() {
    let dir = tempfile::tempdir().unwrap();
    let (json, xml, html) = (
        dir.path().join("report.json"),
        dir.path().join("report.xml"),
        dir.path().join("report.html"),
    );
    let out = run(&[
        "--json",
        json.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("CONFORMS"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let errors: Vec<String> = schema()
        .iter_errors(&report)
        .take(5)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let cases = report["cases"].as_array().unwrap();
    assert!(cases.len() > 1000);
    assert!(cases.iter().all(|c| c["verdict"] == "PASS"));
    for role in ["service", "registry", "broker"] {
        assert!(
            cases
                .iter()
                .any(|c| c["target"].as_str().unwrap().contains(role)),
            "{role} ran"
        );
    }
    let (suites, testcases, failures, errs, skipped) = junit(&xml);
    assert_eq!(testcases, cases.len());
    assert_eq!((failures, errs, skipped), (0, 0, 0));
    let mut areas: Vec<&str> = cases
        .iter()
        .map(|c| {
            c["requirements"][0]
                .as_str()
                .unwrap()
                .split('-')
                .nth(1)
                .unwrap()
        })
        .collect();
    areas.sort();
    areas.dedup();
    assert_eq!(suites, areas, "one testsuite per area");
    let page = std::fs::read_to_string(&html).unwrap();
    for c in cases {
        let id = uhome_conformance::report::html_escape(c["id"].as_str().unwrap());
        assert!(
            page.contains(&format!("<li>{id} ")),
            "{id} in the HTML report"
        );
    }
    for area in &areas {
        assert!(
            page.contains(&format!("<tr><td>{area}</td>")),
            "area {area} summarised"
        );
    }
    assert!(page.contains(&format!("Passed cases ({})", cases.len())));
}

#[test]
fn an_unreachable_target_is_a_harness_error_and_still_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let (json, xml) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let target = format!("127.0.0.1:{port}");
    let out = run(&[
        "node",
        "--target",
        &target,
        "--only",
        "UH-CORE-2",
        "--json",
        json.to_str().unwrap(),
        "--junit",
        xml.to_str().unwrap(),
        "--timeout",
        "1s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(schema().is_valid(&report));
    assert_eq!(report["cases"][0]["verdict"], "ERROR");
    assert!(report["cases"][0]["note"]
        .as_str()
        .unwrap()
        .contains("cannot connect"));
    let (_, cases, _, errors, _) = junit(&xml);
    assert_eq!((cases, errors), (1, 1));
}

#[test]
fn usage_errors_and_the_catalogue() {
    assert_eq!(
        run(&["node"]).status.code(),
        Some(2),
        "--target is required"
    );
    assert_eq!(
        run(&["--only", "nothing-matches-this"]).status.code(),
        Some(2),
        "no case selected"
    );
    let list = run(&["list"]);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("UH-EXCHANGE-3/split-in-header")
            && text.contains("[UH-EXCHANGE-3] A node MUST reassemble")
    );
    let json = run(&["list", "--as-json"]);
    let rows: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(rows.as_array().unwrap().iter().all(|r| r["requirementText"]
        .as_array()
        .is_some_and(|t| !t.is_empty())));
}

#[test]
fn the_reference_decoder_program_passes_every_vector_through_the_contract() {
    let decoder = env!("CARGO_BIN_EXE_uhome-decode");
    let out = run(&["vectors", "--exec", decoder]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let vectors = vector_count();
    assert!(vectors > 680);
    assert!(
        stdout.contains(&format!("CONFORMS: {vectors} passed")),
        "{stdout}"
    );
}

#[test]
fn a_decoder_that_crashes_or_lies_fails() {
    let out = run(&[
        "vectors",
        "--exec",
        "cat >/dev/null; echo '{}'",
        "--only",
        "codec/frame/",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "accepting everything as {{}} fails"
    );
    let out = run(&[
        "vectors",
        "--exec",
        "cat >/dev/null; exit 3",
        "--only",
        "codec/frame/length-0-v2",
    ]);
    assert_eq!(out.status.code(), Some(1), "exit 3 is a crash");
    assert!(String::from_utf8_lossy(&out.stdout).contains("crashed: exit status 3"));
}

/// The Python peer's decoder, started from the crate's directory.
fn python_decoder() -> String {
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python/decode.py");
    format!("python3 {}", peer.display())
}

#[test]
fn a_decoder_that_declares_the_stream_mode_gets_every_vector_in_one_process() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let limit = std::time::Duration::from_secs(10);
    let python = python_decoder();
    assert!(runtime.block_on(uhome_conformance::codec::declares_stream(&python, limit)));
    let stream = env!("CARGO_BIN_EXE_uhome-decode");
    assert!(runtime.block_on(uhome_conformance::codec::declares_stream(stream, limit)));
    // The same program, kept from seeing the request: one-shot.
    let one_shot = format!("env -u UHOME_CONFORMANCE_STREAM {stream}");
    assert!(!runtime.block_on(uhome_conformance::codec::declares_stream(&one_shot, limit)));

    // Each process logs its start: one per worker shows the vectors went through the stream.
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts");
    let logged = format!("echo start >> {}; exec {python}", starts.display());
    let out = run(&["vectors", "--exec", &logged, "--parallel", "2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let vectors = vector_count();
    assert!(
        stdout.contains(&format!("CONFORMS: {vectors} passed")),
        "{stdout}"
    );
    let processes = std::fs::read_to_string(&starts).unwrap().lines().count();
    assert_eq!(processes, 1 + 2, "the probe and one process per worker");
}

#[test]
fn a_stream_decoder_that_dies_fails_that_vector_and_is_started_again() {
    // Dies on one vector of frame.json, answers the others as the Python peer does.
    let first = uhome_conformance::vectors::embedded()
        .unwrap()
        .into_iter()
        .find(|f| f.name.contains("frame"))
        .unwrap()
        .vectors
        .into_iter()
        .find(|v| !v.hex.is_empty())
        .unwrap();
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python");
    let dying = format!(
        "python3 -c 'import os,sys,runpy; sys.path.insert(0, \"{dir}\"); \
         d=runpy.run_path(\"{path}\"); \
         print(d[\"STREAM_HELLO\"], flush=True); \
         [os._exit(3) if l.strip()==\"{hex}\" else print(d[\"answer\"](bytes.fromhex(l.strip()))[0], flush=True) for l in sys.stdin]'",
        dir = peer.display(),
        path = peer.join("decode.py").display(),
        hex = first.hex,
    );
    let out = run(&["vectors", "--exec", &dying, "--only", "codec/frame/"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("DOES NOT CONFORM"), "{stdout}");
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert!(
        failed[0].contains(&format!("codec/{}", first.id)),
        "{stdout}"
    );
}

/// How many vectors `spec/vectors` holds.
fn vector_count() -> usize {
    uhome_conformance::vectors::embedded()
        .unwrap()
        .iter()
        .map(|f| f.vectors.len())
        .sum()
}
