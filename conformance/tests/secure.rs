//! The secure roles (section 14 of spec/protocol.md) against the reference registry and
//! broker in `secure` mode: every case passes. A broker that serves unsigned requests
//! (compat, every address allowed) fails exactly the cases that require refusing them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: panicking is how it fails

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use uhome_conformance::case::{Role, Verdict};
use uhome_conformance::cases::{catalogue, for_role};
use uhome_conformance::embedded::{secure_policy, secure_profile, start_secure, SecureKeys};
use uhome_conformance::runner::{run, CaseReport, Selection, Target};
use uhome_runtime::broker::{self, BrokerConfig};
use uhome_runtime::client::Deadlines;
use uhome_runtime::security::{AllowList, Mode, Security};

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
        cases.iter().all(|c| c.info.id.starts_with("UH-AUTH-")),
        "a secure role runs section 14's cases only"
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
async fn the_reference_registry_and_broker_pass_the_secure_roles() {
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
    assert!(!has(
        Role::SecureRegistry,
        "UH-AUTH-16/nodes-from-the-registry"
    ));
    assert!(!has(Role::SecureBroker, "UH-AUTH-20/keys-in-lists"));
    reference.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_serves_unsigned_requests_fails_exactly_the_cases_that_refuse_them() {
    let keys = SecureKeys::fresh();
    let lenient = Security::from_policy(&secure_policy(&keys).unwrap(), keys.broker.clone())
        .with_mode(Mode::Compat)
        .with_compat_allow(AllowList::any());
    let broker = broker::start(
        "127.0.0.1:0",
        BrokerConfig {
            deadlines: deadlines(),
            security: Some(Arc::new(lenient)),
            ..BrokerConfig::default()
        },
    )
    .await
    .unwrap();
    let addr = broker.local_addr().to_string();
    let target = Target {
        label: format!("lenient broker@{addr}"),
        addr,
        profile: secure_profile(&keys, &keys.broker),
        broker: None,
        service: None,
    };
    let reports = run_target(Role::SecureBroker, &target).await;
    let failed: BTreeSet<&str> = reports
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| r.info.id.as_str())
        .collect();
    assert_eq!(
        failed,
        BTreeSet::from(["UH-AUTH-22/unsigned-refused", "UH-AUTH-26/order"]),
        "{:?}",
        not_passed(&reports)
    );
    assert!(
        reports.iter().all(|r| r.verdict != Verdict::Error),
        "{:?}",
        not_passed(&reports)
    );
}
