//! The secure roles (section 14 of spec/protocol.md) against the reference registry, broker
//! and a subscribing service in `secure` mode: every case passes. A broker that serves unsigned requests
//! (compat, every address allowed) fails exactly the cases that require refusing them, and a
//! subscriber that takes deliveries without origin those and the deliveries' case.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: panicking is how it fails

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use uhome_conformance::case::{Role, Verdict};
use uhome_conformance::cases::{catalogue, for_role};
use uhome_conformance::embedded::{
    secure_policy, secure_profile, start_secure, SecureKeys, SECURE_ALLOWED, SECURE_SERVICE,
};
use uhome_conformance::runner::{run, CaseReport, Selection, Target};
use uhome_runtime::broker::{self, BrokerConfig};
use uhome_runtime::client::Deadlines;
use uhome_runtime::security::{AllowList, Mode, Security};
use uhome_runtime::service::Service;
use uhome_runtime::Reply;

fn deadlines() -> Deadlines {
    Deadlines {
        connect: Duration::from_secs(1),
        write: Duration::from_secs(1),
        read: Duration::from_secs(1),
    }
}

async fn run_target(role: Role, target: &Target) -> Vec<CaseReport> {
    let cases = for_role(&catalogue(), role);
    assert!(
        cases
            .iter()
            .all(|c| c.info.id.starts_with("UH-AUTH-") || c.is_audit()),
        "a secure role runs section 14's cases and the audits only"
    );
    assert!(
        cases.iter().any(|c| c.is_audit()),
        "the replies are audited"
    );
    let reports = run(
        &cases,
        target,
        &Selection::default(),
        Duration::from_secs(3),
        "secure",
        |_| {},
    )
    .await;
    assert_eq!(reports.len(), cases.len());
    reports
}

fn not_passed(reports: &[CaseReport]) -> Vec<String> {
    reports
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| {
            format!(
                "{} {:?}: {:?} / {:?} {:?}",
                r.info.id, r.verdict, r.expected, r.actual, r.note
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_registry_broker_and_service_pass_the_secure_roles() {
    let reference = start_secure(deadlines()).await.unwrap();
    let mut ran = BTreeSet::new();
    for (role, target) in reference.targets() {
        let reports = run_target(role, &target).await;
        assert_eq!(
            not_passed(&reports),
            Vec::<String>::new(),
            "{}",
            target.label
        );
        for r in &reports {
            ran.insert((role, r.info.id.clone()));
        }
    }
    let has = |role: Role, id: &str| ran.contains(&(role, id.to_string()));
    assert!(has(Role::SecureRegistry, "UH-AUTH-20/keys-in-lists"));
    assert!(has(Role::SecureRegistry, "UH-AUTH-22/unsigned-refused"));
    assert!(has(Role::SecureBroker, "UH-AUTH-11/delivery-end-to-end"));
    assert!(has(Role::SecureService, "UH-AUTH-12/deliveries-verified"));
    assert!(has(Role::SecureService, "UH-AUTH-12/delivered-once"));
    assert!(!has(
        Role::SecureRegistry,
        "UH-AUTH-16/nodes-from-the-registry"
    ));
    assert!(!has(Role::SecureBroker, "UH-AUTH-20/keys-in-lists"));
    reference.shutdown().await;
}

fn failed(reports: &[CaseReport]) -> BTreeSet<&str> {
    assert!(
        reports.iter().all(|r| r.verdict != Verdict::Error),
        "{:?}",
        not_passed(reports)
    );
    reports
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| r.info.id.as_str())
        .collect()
}

/// `compat` with every address allowed: unsigned requests served, signed ones verified.
fn lenient(keys: &SecureKeys, key: &uhome_protocol::auth::SigningKey) -> Arc<Security> {
    Arc::new(
        Security::from_policy(&secure_policy(keys).unwrap(), key.clone())
            .with_mode(Mode::Compat)
            .with_compat_allow(AllowList::any()),
    )
}

fn target(label: &str, addr: String, profile: uhome_conformance::profile::Profile) -> Target {
    Target {
        label: format!("{label}@{addr}"),
        addr,
        profile,
        broker: None,
        service: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_serves_unsigned_requests_fails_exactly_the_cases_that_refuse_them() {
    let keys = SecureKeys::fresh();
    let broker = broker::start(
        "127.0.0.1:0",
        BrokerConfig {
            deadlines: deadlines(),
            security: Some(lenient(&keys, &keys.broker)),
            ..BrokerConfig::default()
        },
    )
    .await
    .unwrap();
    let target = target(
        "lenient broker",
        broker.local_addr().to_string(),
        secure_profile(&keys, &keys.broker),
    );
    let reports = run_target(Role::SecureBroker, &target).await;
    assert_eq!(
        failed(&reports),
        BTreeSet::from(["UH-AUTH-22/unsigned-refused", "UH-AUTH-26/order"]),
        "{:?}",
        not_passed(&reports)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_takes_deliveries_without_origin_fails_exactly_the_cases_that_refuse_them(
) {
    let keys = SecureKeys::fresh();
    let service = Service::builder(SECURE_SERVICE)
        .security(lenient(&keys, &keys.service))
        .handle(SECURE_ALLOWED, |_request| async { Reply::ok("Received") })
        .start()
        .await
        .unwrap();
    let target = target(
        "lenient service",
        service.local_addr().to_string(),
        secure_profile(&keys, &keys.service),
    );
    let reports = run_target(Role::SecureService, &target).await;
    assert_eq!(
        failed(&reports),
        BTreeSet::from([
            "UH-AUTH-12/deliveries-verified",
            "UH-AUTH-22/unsigned-refused",
            "UH-AUTH-26/order"
        ]),
        "{:?}",
        not_passed(&reports)
    );
    service.shutdown().await;
}

/// The Python peer's node (conformance/peers/python), stopped when dropped.
struct PythonNode(std::process::Child);

impl Drop for PythonNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_peers_node_in_secure_mode_passes_the_secure_service_role() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};

    let keys = SecureKeys::fresh();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("python.key");
    std::fs::write(
        &key_file,
        uhome_runtime::security::hex(&keys.service.to_bytes()),
    )
    .unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        uhome_conformance::embedded::secure_policy_text(&keys),
    )
    .unwrap();
    let peer = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python/node.py");
    let mut child = Command::new("python3")
        .arg(peer)
        .args(["--listen", "127.0.0.1:0", "--id", SECURE_SERVICE])
        .args(["--idle-timeout", "5", "--handle", SECURE_ALLOWED])
        .arg("--key-file")
        .arg(&key_file)
        .arg("--policy")
        .arg(&policy)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs the peer's node");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let node = PythonNode(child);
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the node prints its address: {line:?}"))
        .to_string();
    let reports = run_target(
        Role::SecureService,
        &target(
            "python secure node",
            addr,
            secure_profile(&keys, &keys.service),
        ),
    )
    .await;
    assert_eq!(not_passed(&reports), Vec::<String>::new());
    assert!(reports.len() >= 12, "{} cases", reports.len());
    drop(node);
}
