//! Services in a home: the mesh may start after them, restart with nothing remembered, or
//! not be a mesh at all ([UH-SERVICE-1], [UH-SERVICE-6], [UH-SERVICE-7]).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::json;
use uhome_protocol::core_events::HEALTHCHECK;
use uhome_runtime::broker::{self, BrokerConfig, BrokerHandle};
use uhome_runtime::registry::{self, RegistryConfig, RegistryHandle};
use uhome_runtime::service::{Service, ServiceBuilder, ServiceError, Unregistration};
use uhome_runtime::{Client, NodeEntry};

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A broker and a registry on fixed addresses, the registry's state in `dir`.
async fn mesh_at(
    broker_addr: &str,
    registry_addr: &str,
    dir: &Path,
) -> (BrokerHandle, RegistryHandle) {
    let broker = broker::start(
        broker_addr,
        BrokerConfig {
            deadlines: deadlines(500),
            ..BrokerConfig::default()
        },
    )
    .await
    .expect("broker binds");
    let registry = registry::start(
        registry_addr,
        RegistryConfig {
            broker: Some(broker_addr.to_string()),
            data_dir: Some(dir.to_path_buf()),
            health_interval: Duration::from_secs(3600),
            deadlines: deadlines(500),
            ..RegistryConfig::default()
        },
    )
    .await
    .expect("registry binds");
    (broker, registry)
}

fn patient(id: &str, broker: &str, registry: &str) -> ServiceBuilder {
    Service::builder(id)
        .registry(registry)
        .broker(broker)
        .deadlines(deadlines(500))
        .backoff(Duration::from_millis(50), Duration::from_millis(400))
        .refresh_interval(Duration::from_millis(300))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_started_before_the_mesh_registers_and_receives_a_publish() {
    let (broker_addr, registry_addr) = (free_addr(), free_addr());
    let (handler, mut received) = recorder();
    let service = patient("early", &broker_addr, &registry_addr)
        .handle("home.>", handler)
        .subscribe("home.>")
        .spawn()
        .await
        .unwrap();

    // Meanwhile it serves: health checks and its own handlers.
    let client = Client::with_deadlines("probe", deadlines(500));
    let addr = service.local_addr().to_string();
    let health = client.request(&addr, HEALTHCHECK, None).await.unwrap();
    assert_eq!(health.code().as_deref(), Some("healthy"));
    let direct = client.request(&addr, "home.direct", None).await.unwrap();
    assert!(direct.is_success());
    assert_eq!(
        drain(&mut received, Duration::from_millis(100)).await.len(),
        1
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    let dir = tempfile::tempdir().unwrap();
    let (broker, registry) = mesh_at(&broker_addr, &registry_addr, dir.path()).await;
    tokio::time::timeout(Duration::from_secs(10), service.ready())
        .await
        .expect("ready within 10 s of the mesh starting")
        .unwrap();
    assert_eq!(
        registry.nodes(),
        vec![service_entry("early", service.local_addr().to_string())]
    );
    let report = broker
        .publish("switch", "home.lamp.on", Some(&json!({"level": 1})))
        .await;
    assert_eq!((report.delivered, report.failed.len()), (1, 0));
    let got = drain(&mut received, Duration::from_millis(300)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type, "home.lamp.on");

    assert_eq!(service.shutdown().await, Unregistration::Unregistered);
    assert!(registry.nodes().is_empty());
    registry.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_mesh_restarts_with_nothing_remembered_the_service_registers_and_subscribes_again(
) {
    let (broker_addr, registry_addr) = (free_addr(), free_addr());
    let first_dir = tempfile::tempdir().unwrap();
    let (broker, registry) = mesh_at(&broker_addr, &registry_addr, first_dir.path()).await;
    let (handler, mut received) = recorder();
    let service = patient("steady", &broker_addr, &registry_addr)
        .handle("home.>", handler)
        .subscribe("home.>")
        .subscribe("home.door.*")
        .start()
        .await
        .unwrap();
    assert_eq!(broker.subscriptions("steady").len(), 2);
    registry.shutdown().await;
    broker.shutdown().await;

    let second_dir = tempfile::tempdir().unwrap();
    let (broker, registry) = mesh_at(&broker_addr, &registry_addr, second_dir.path()).await;
    assert!(
        registry.nodes().is_empty(),
        "a new data dir remembers nothing"
    );
    let advertised = service.local_addr().to_string();
    assert!(
        eventually(Duration::from_secs(10), || registry.nodes()
            == vec![service_entry("steady", advertised.clone())])
        .await,
        "registered again by itself"
    );
    assert!(
        eventually(Duration::from_secs(10), || broker.subscriptions("steady")
            == vec!["home.>".to_string(), "home.door.*".to_string()])
        .await,
        "subscribed again by itself: {:?}",
        broker.subscriptions("steady")
    );
    let report = broker.publish("switch", "home.door.open", None).await;
    assert_eq!((report.delivered, report.failed.len()), (1, 0));
    assert_eq!(
        drain(&mut received, Duration::from_millis(300)).await.len(),
        1
    );

    service.shutdown().await;
    registry.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_gets_the_subscriptions_again() {
    let (broker_addr, registry_addr) = (free_addr(), free_addr());
    let dir = tempfile::tempdir().unwrap();
    let (broker, registry) = mesh_at(&broker_addr, &registry_addr, dir.path()).await;
    let service = patient("kept", &broker_addr, &registry_addr)
        .handle("t", |_| async { uhome_runtime::Reply::ok("ok") })
        .subscribe("t")
        .start()
        .await
        .unwrap();
    broker.shutdown().await;
    let broker = broker::start(
        &broker_addr,
        BrokerConfig {
            registry: Some(registry_addr.clone()),
            ..BrokerConfig::default()
        },
    )
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || broker.subscriptions("kept")
            == vec!["t"])
        .await,
        "the subscription is sent again at a refresh"
    );
    service.shutdown().await;
    registry.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_gives_up_only_when_told_to() {
    let nobody = free_addr();
    let started = tokio::time::Instant::now();
    let error = patient("lonely", &nobody, &nobody)
        .give_up_after(Some(Duration::from_millis(600)))
        .start()
        .await
        .err()
        .expect("gives up");
    assert!(started.elapsed() >= Duration::from_millis(600));
    let ServiceError::GaveUp { after, last } = &error else {
        panic!("{error}")
    };
    assert_eq!(*after, Duration::from_millis(600));
    assert!(
        last.contains(&format!("cannot reach the registry at {nobody}")),
        "{last}"
    );

    let forever = patient("patient", &nobody, &nobody).spawn().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(1), forever.ready())
            .await
            .is_err(),
        "without a give-up time it keeps trying"
    );
    assert_eq!(
        forever.shutdown().await,
        Unregistration::NotNeeded,
        "never registered: nothing to unregister"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_is_a_broker_is_refused_for_good_with_a_clear_message() {
    let mesh = Mesh::start().await;
    let error = Service::builder("confused")
        .registry(mesh.broker_addr())
        .deadlines(deadlines(500))
        .start()
        .await
        .err()
        .expect("a broker cannot register anyone");
    assert_eq!(
        error.to_string(),
        format!(
            "{} has no handler for µHome.core.register: is it a µHome registry?",
            mesh.broker_addr()
        )
    );
    let error = Service::builder("confused")
        .registry(mesh.registry_addr())
        .broker(mesh.registry_addr())
        .subscribe("x")
        .deadlines(deadlines(500))
        .start()
        .await
        .err()
        .expect("a registry cannot subscribe anyone");
    assert_eq!(
        error.to_string(),
        format!(
            "{} has no handler for µHome.core.subscribe: is it a µHome broker?",
            mesh.registry_addr()
        )
    );
    assert!(
        mesh.registry.nodes().is_empty(),
        "unregistered after the failed start"
    );
    let refresh = Service::builder("x")
        .refresh_interval(Duration::from_secs(31))
        .start()
        .await
        .err()
        .expect("over 30 s");
    assert!(refresh.to_string().contains("at most 30s"), "{refresh}");
    mesh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_held_by_another_healthy_node_is_a_refusal_not_a_registration() {
    let mesh = Mesh::start().await;
    let first = mesh.service("twin").start().await.unwrap();
    let error = mesh
        .service("twin")
        .start()
        .await
        .err()
        .expect("a registry with codes refuses `already_registered`");
    let ServiceError::Refused {
        code, description, ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(code.as_deref(), Some("already_registered"));
    assert!(description.contains("Node already exists"), "{description}");
    assert_eq!(
        mesh.registry.nodes(),
        vec![service_entry("twin", first.local_addr().to_string())]
    );
    first.shutdown().await;
    mesh.shutdown().await;
}

/// A reference service's entry: it declares keepAlive when it registers ([UH-REGISTRY-11]).
fn service_entry(node_id: &str, address: String) -> NodeEntry {
    NodeEntry {
        keep_alive: true,
        ..NodeEntry::new(node_id, address)
    }
}
