//! The secure roles (section 14 of spec/protocol.md) against the reference registry and
//! broker in `secure` mode: every case passes. A broker that serves unsigned requests
//! (compat, every address allowed) fails exactly the cases that require refusing them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: panicking is how it fails

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use uhome_conformance::case::{Role, Verdict};
use uhome_conformance::cases::{catalogue, for_role};
use uhome_conformance::peers::{Mode, Peer};
use uhome_conformance::profile::{Profile, ProfileIdentity, SecureProfile};
use uhome_conformance::runner::{run, CaseReport, Selection, Target};
use uhome_protocol::auth::SigningKey;
use uhome_protocol::core_events::{BROKER_ID, REGISTRY_ID};
use uhome_runtime::broker::{self, BrokerConfig};
use uhome_runtime::client::Deadlines;
use uhome_runtime::registry::{self, RegistryConfig};
use uhome_runtime::security::{hex, AllowList, Mode as SecurityMode, Policy, Security};

const CLIENT: &str = "conformance/secure/client";
const ALLOWED: &str = "conformance.secure.allowed";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn public(k: &SigningKey) -> String {
    hex(k.verifying_key().as_bytes())
}

fn secret(k: &SigningKey) -> String {
    hex(&k.to_bytes())
}

struct Keys {
    registry: SigningKey,
    broker: SigningKey,
    client: SigningKey,
}

fn keys() -> Keys {
    Keys {
        registry: key(41),
        broker: key(42),
        client: key(43),
    }
}

/// The policy both nodes read: the outbound list is loopback's 127.0.0.1 only, so that
/// 127.0.0.2 is outside it.
fn policy(k: &Keys) -> Policy {
    Policy::parse(&format!(
        r#"
mode = "secure"

[outbound]
allow = ["127.0.0.1/32"]

[[node]]
id = "{REGISTRY_ID}"
key = "{}"
role = "registry"

[[node]]
id = "{BROKER_ID}"
key = "{}"
role = "broker"

[[node]]
id = "{CLIENT}"
key = "{}"
publish = ["conformance.secure.allowed"]
subscribe = ["conformance.secure.*"]
"#,
        public(&k.registry),
        public(&k.broker),
        public(&k.client),
    ))
    .unwrap()
}

fn profile(k: &Keys, node: &SigningKey) -> Profile {
    let identity = |node_id: &str, key: &SigningKey| ProfileIdentity {
        node_id: node_id.into(),
        secret: secret(key),
    };
    Profile {
        security: Some(SecureProfile {
            node_key: public(node),
            client: identity(CLIENT, &k.client),
            skew_ms: None,
            registry: Some(identity(REGISTRY_ID, &k.registry)),
            broker: Some(identity(BROKER_ID, &k.broker)),
            publish_allowed: Some(ALLOWED.into()),
            publish_forbidden: Some("home.door.unlock".into()),
            subscribe_forbidden: Some("home.>".into()),
            outbound_denied: Some("127.0.0.2:9".into()),
        }),
        ..Profile::default()
    }
}

fn deadlines() -> Deadlines {
    Deadlines {
        connect: Duration::from_secs(1),
        write: Duration::from_secs(1),
        read: Duration::from_secs(1),
    }
}

async fn run_role(
    role: Role,
    addr: String,
    profile: Profile,
    broker: Option<Peer>,
) -> Vec<CaseReport> {
    let cases = for_role(&catalogue(), role);
    assert!(
        cases.iter().all(|c| c.info.id.starts_with("UH-AUTH-")),
        "a secure role runs section 14's cases only"
    );
    let target = Target {
        label: format!("{}@{addr}", role.as_str()),
        addr,
        profile,
        broker: broker.map(Arc::new),
        service: None,
    };
    run(
        &cases,
        &target,
        &Selection::default(),
        Duration::from_secs(3),
        "secure",
        |_| {},
    )
    .await
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
    let k = keys();
    let policy = policy(&k);
    let broker = broker::start(
        "127.0.0.1:0",
        BrokerConfig {
            deadlines: deadlines(),
            security: Some(Arc::new(Security::from_policy(&policy, k.broker.clone()))),
            ..BrokerConfig::default()
        },
    )
    .await
    .unwrap();
    let reports = run_role(
        Role::SecureBroker,
        broker.local_addr().to_string(),
        profile(&k, &k.broker),
        None,
    )
    .await;
    assert!(reports.len() >= 14, "{} cases", reports.len());
    assert_eq!(not_passed(&reports), Vec::<String>::new());

    let fake_broker = Peer::start(BROKER_ID, "127.0.0.1:0", Mode::Healthy)
        .await
        .unwrap();
    fake_broker.sign_with(k.broker.clone());
    let registry_security = Arc::new(Security::from_policy(&policy, k.registry.clone()));
    let registry = registry::start(
        "127.0.0.1:0",
        RegistryConfig {
            broker: Some(fake_broker.addr()),
            deadlines: deadlines(),
            security: Some(registry_security),
            ..RegistryConfig::default()
        },
    )
    .await
    .unwrap();
    let reports = run_role(
        Role::SecureRegistry,
        registry.local_addr().to_string(),
        profile(&k, &k.registry),
        Some(fake_broker),
    )
    .await;
    assert!(reports.len() >= 16, "{} cases", reports.len());
    assert_eq!(not_passed(&reports), Vec::<String>::new());
    let ids: BTreeSet<&str> = reports.iter().map(|r| r.info.id.as_str()).collect();
    assert!(ids.contains("UH-AUTH-20/keys-in-lists"));
    assert!(
        !ids.iter().any(|id| id.starts_with("UH-AUTH-16")),
        "broker cases ran against the registry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_serves_unsigned_requests_fails_exactly_the_cases_that_refuse_them() {
    let k = keys();
    let policy = policy(&k);
    let lenient = Security::from_policy(&policy, k.broker.clone())
        .with_mode(SecurityMode::Compat)
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
    let reports = run_role(
        Role::SecureBroker,
        broker.local_addr().to_string(),
        profile(&k, &k.broker),
        None,
    )
    .await;
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
