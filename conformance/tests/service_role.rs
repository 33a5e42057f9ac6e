//! The service role catches broken services: a small service written here from the
//! specification passes every UH-SERVICE case, and each copy of it with one fault FAILs
//! exactly the cases of the requirement it breaks. The reference `uhome service` binary,
//! started with --start-cmd, passes them all.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use uhome_conformance::case::Verdict;

#[path = "support/faulty_service.rs"]
mod faulty_service;

use faulty_service::{role_cases, verdicts, Fault};

/// The faulty service FAILs exactly the cases whose IDs start with one of `prefixes`, and
/// PASSes every other.
async fn fails_exactly(fault: Fault, prefixes: &[&str]) {
    let results = verdicts(fault).await;
    assert_eq!(results.len(), role_cases().len());
    let failed: BTreeSet<&str> = results
        .iter()
        .filter(|(_, v, _)| *v == Verdict::Fail)
        .map(|(id, _, _)| id.as_str())
        .collect();
    let expected: BTreeSet<&str> = results
        .iter()
        .map(|(id, _, _)| id.as_str())
        .filter(|id| prefixes.iter().any(|p| id.starts_with(p)))
        .collect();
    assert!(
        fault == Fault::None || !expected.is_empty(),
        "{prefixes:?} names no case"
    );
    for (id, verdict, why) in &results {
        let should_fail = expected.contains(id.as_str());
        assert!(
            *verdict
                == if should_fail {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                },
            "{fault:?}: {id} is {verdict:?} ({why})\nfailed: {failed:?}\nexpected: {expected:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_written_from_the_spec_passes_every_case() {
    fails_exactly(Fault::None, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_registers_before_it_listens() {
    fails_exactly(Fault::RegistersBeforeListening, &["UH-SERVICE-1/"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_subscribes_before_its_registration_reply() {
    fails_exactly(
        Fault::SubscribesBeforeReply,
        &[
            "UH-SERVICE-2/no-subscribe-before-reply",
            "UH-SERVICE-2/no-subscribe-after-refusal",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_retries() {
    fails_exactly(Fault::NeverRetries, &["UH-SERVICE-3/", "UH-SERVICE-6/"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_does_not_unregister_when_it_stops() {
    fails_exactly(Fault::NoUnregister, &["UH-SERVICE-5/"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_gives_up_when_the_registry_is_down_at_its_start() {
    fails_exactly(
        Fault::GivesUpAtStart,
        &["UH-SERVICE-6/registry-and-broker-down-at-start"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_refreshes() {
    fails_exactly(Fault::NoRefresh, &["UH-SERVICE-7/"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_ignores_the_v001_not_registered_reason() {
    fails_exactly(
        Fault::IgnoresLegacyReason,
        &["UH-SERVICE-3/retries-legacy-not-registered"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_takes_node_already_exists_as_a_refusal() {
    fails_exactly(Fault::AlreadyExistsIsRefusal, &["UH-SERVICE-8/"]).await;
}

/// The `uhome` binary next to this crate's, built when it is not there yet.
fn uhome_binary() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_uhome-conformance"))
        .parent()
        .unwrap()
        .to_path_buf();
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "uhome-cli", "--bin", "uhome"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --bin uhome");
    dir.join("uhome")
}

#[test]
fn the_uhome_service_binary_passes_the_service_role_through_start_cmd() {
    let uhome = uhome_binary();
    let dir = tempfile::tempdir().unwrap();
    let (profile, json) = (dir.path().join("profile.json"), dir.path().join("r.json"));
    std::fs::write(
        &profile,
        r#"{"refreshInterval": "1s", "subscriptions": ["conformance.cli.>"], "idleTimeout": "5s"}"#,
    )
    .unwrap();
    let start = format!(
        "exec {} service --id conformance/cli --port 0 --registry {{registry}} --broker {{broker}} \
         --log 'conformance.cli.>' --refresh-interval 1s",
        uhome.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_uhome-conformance"))
        .args(["service", "--start-cmd", &start, "--profile"])
        .arg(&profile)
        .args(["--only", "UH-SERVICE-", "--only", "UH-CORE-2/", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let ids: BTreeSet<&str> = cases.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for case in role_cases() {
        assert!(ids.contains(case.info.id.as_str()), "{} ran", case.info.id);
    }
    assert!(
        ids.iter().any(|id| id.starts_with("UH-CORE-2/")),
        "the node cases ran against the started service"
    );
    assert!(cases.iter().all(|c| c["verdict"] == "PASS"), "{stdout}");
}
