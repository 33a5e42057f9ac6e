//! Faults: dead addresses, dead subscribers, eviction, resets, restarts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use uhome_protocol::core_events::{HEALTHCHECK, REGISTER};
use uhome_protocol::Event;
use uhome_runtime::broker::BrokerConfig;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::registry::RegistryConfig;
use uhome_runtime::server::{self, ServerHandle};
use uhome_runtime::{Client, Dispatch, Node, NodeEntry, Reply, ReplyFuture};

struct Nothing;
impl Dispatch for Nothing {
    fn dispatch(&self, _: u16, _: &Event<'_>) -> Option<ReplyFuture> {
        None
    }
}

/// A node that answers only healthchecks.
async fn bare_node(id: &str) -> ServerHandle {
    server::spawn(
        LOOPBACK,
        Arc::new(Node::new(id, Arc::new(Nothing), ServerConfig::default())),
    )
    .await
    .unwrap()
}

/// An address where nothing listens: bound, then released.
async fn dead_address() -> String {
    let listener = tokio::net::TcpListener::bind(LOOPBACK).await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

async fn healthy(addr: &str) -> bool {
    matches!(Client::new("probe").request(addr, HEALTHCHECK, None).await, Ok(r) if r.is_success())
}

async fn register(registry: &str, id: &str, addr: &str) -> uhome_runtime::ReplyEvent {
    Client::new(id)
        .request(
            registry,
            REGISTER,
            Some(&json!({"nodeId": id, "address": addr})),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_a_dead_address_is_unhealthy_and_the_registry_keeps_running() {
    let mesh = Mesh::start().await;
    let reply = register(&mesh.registry_addr(), "ghost", &dead_address().await).await;
    assert_eq!(reply.status, 2);
    assert_eq!(reply.code().as_deref(), Some("unhealthy"));
    assert_eq!(reply.reason().as_deref(), Some("Unhealthy service"));
    assert!(mesh.registry.nodes().is_empty());
    let node = bare_node("alive").await;
    let reply = register(
        &mesh.registry_addr(),
        "alive",
        &node.local_addr().to_string(),
    )
    .await;
    assert_eq!(reply.code().as_deref(), Some("registered"));
    assert!(healthy(&mesh.registry_addr()).await);
    node.shutdown().await;
    mesh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_registration_follows_uh_registry_2() {
    let mesh = Mesh::start().await;
    let first = bare_node("n").await;
    let second = bare_node("n").await;
    let (a, b) = (
        first.local_addr().to_string(),
        second.local_addr().to_string(),
    );
    assert_eq!(
        register(&mesh.registry_addr(), "n", &a)
            .await
            .code()
            .as_deref(),
        Some("registered")
    );
    assert_eq!(
        register(&mesh.registry_addr(), "n", &a)
            .await
            .code()
            .as_deref(),
        Some("registered"),
        "same address"
    );
    let refused = register(&mesh.registry_addr(), "n", &b).await;
    assert_eq!(
        refused.code().as_deref(),
        Some("already_registered"),
        "the old address is healthy"
    );
    assert_eq!(refused.reason().as_deref(), Some("Node already exists"));
    first.shutdown().await;
    assert_eq!(
        register(&mesh.registry_addr(), "n", &b)
            .await
            .code()
            .as_deref(),
        Some("registered"),
        "the old address is dead"
    );
    assert_eq!(mesh.registry.nodes(), vec![NodeEntry::new("n", b.clone())]);
    assert!(
        eventually(Duration::from_secs(2), || mesh.broker.nodes()
            == vec![NodeEntry::new("n", b.clone())])
        .await
    );
    second.shutdown().await;
    mesh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_subscriber_fails_in_the_report_and_the_broker_keeps_serving() {
    let mesh = Mesh::start().await;
    let (handler, mut rx) = recorder();
    let survivor = mesh
        .service("survivor")
        .handle("t.>", handler)
        .subscribe("t.>")
        .start()
        .await
        .unwrap();
    let victim = bare_node("victim").await;
    let victim_addr = victim.local_addr().to_string();
    assert!(register(&mesh.registry_addr(), "victim", &victim_addr)
        .await
        .is_success());
    let subscribe = Client::new("victim")
        .request(
            &mesh.broker_addr(),
            uhome_protocol::core_events::SUBSCRIBE,
            Some(&json!({"subscribe": "t.x"})),
        )
        .await
        .unwrap();
    assert!(subscribe.is_success());
    victim.shutdown().await;
    let report = survivor.publish("t.x", Some(&json!(1))).await.unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(report.failed, vec!["victim".to_string()]);
    assert_eq!(drain(&mut rx, Duration::from_millis(200)).await.len(), 1);
    assert!(healthy(&mesh.broker_addr()).await);
    let report = survivor.publish("t.y", None).await.unwrap();
    assert_eq!(
        (report.delivered, report.failed.len()),
        (1, 0),
        "t.y does not reach the victim"
    );
    survivor.shutdown().await;
    mesh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_fails_at_its_deadline_without_delaying_the_others() {
    let broker = broker_with(BrokerConfig {
        deadlines: deadlines(300),
        ..BrokerConfig::default()
    })
    .await;
    let registry = registry_with(registry_config(&broker)).await;
    let mesh = Mesh { broker, registry };
    let (fast_handler, mut fast_rx) = recorder();
    let fast = mesh
        .service("fast")
        .handle("s", fast_handler)
        .subscribe("s")
        .start()
        .await
        .unwrap();
    let slow = mesh
        .service("slow")
        .handle("s", |_| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Reply::ok("late")
        })
        .subscribe("s")
        .start()
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let report = fast.publish("s", None).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the slow subscriber is cut off at the broker's deadline"
    );
    assert_eq!(report.delivered, 1);
    assert_eq!(report.failed, vec!["slow".to_string()]);
    assert_eq!(
        drain(&mut fast_rx, Duration::from_millis(100)).await.len(),
        1
    );
    fast.shutdown().await;
    slow.shutdown().await;
    mesh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_health_checks_evict_and_the_broker_list_follows() {
    let broker = broker().await;
    let registry = registry_with(RegistryConfig {
        health_interval: Duration::from_millis(100),
        evict_after: 2,
        deadlines: deadlines(300),
        ..registry_config(&broker)
    })
    .await;
    let stays = bare_node("stays").await;
    let dies = bare_node("dies").await;
    let registry_addr = registry.local_addr().to_string();
    assert!(
        register(&registry_addr, "stays", &stays.local_addr().to_string())
            .await
            .is_success()
    );
    assert!(
        register(&registry_addr, "dies", &dies.local_addr().to_string())
            .await
            .is_success()
    );
    assert!(eventually(Duration::from_secs(2), || broker.nodes().len() == 2).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        registry.nodes().len(),
        2,
        "healthy nodes are kept across rounds"
    );
    dies.shutdown().await;
    assert!(
        eventually(Duration::from_secs(3), || registry.nodes().len() == 1).await,
        "evicted"
    );
    assert_eq!(registry.nodes()[0].node_id, "stays");
    assert!(
        eventually(Duration::from_secs(2), || broker.nodes().len() == 1).await,
        "the broker's list follows"
    );
    stays.shutdown().await;
    registry.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_before_the_reply_and_mid_frame_do_not_hurt_the_node() {
    let mesh = Mesh::start().await;
    let service = mesh
        .service("slowpoke")
        .handle("slow", |_| async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Reply::ok("done")
        })
        .start()
        .await
        .unwrap();
    let addr = service.local_addr().to_string();
    let client = Client::new("c");
    let frame = client.encode(&client.event("slow", None)).unwrap();
    for cut in [frame.len(), 3, frame.len() / 2] {
        let stream = TcpStream::connect(&addr).await.unwrap();
        let mut stream = stream;
        stream.write_all(&frame[..cut]).await.unwrap();
        let std = stream.into_std().unwrap();
        socket_linger_zero(&std);
        drop(std);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(healthy(&addr).await, "the service still answers");
    let reply = Client::new("c").request(&addr, "slow", None).await.unwrap();
    assert_eq!(reply.message().as_deref(), Some("done"));
    service.shutdown().await;
    mesh.shutdown().await;
}

/// Closing with SO_LINGER 0 sends RST instead of FIN.
fn socket_linger_zero(stream: &std::net::TcpStream) {
    let socket = socket2::SockRef::from(stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_restarted_on_its_data_directory_has_the_same_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker().await;
    let config = RegistryConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..registry_config(&broker)
    };
    let nodes = [
        bare_node("a").await,
        bare_node("b").await,
        bare_node("c").await,
    ];
    let registry = registry_with(config.clone()).await;
    let addr = registry.local_addr().to_string();
    for (id, node) in ["a", "b", "c"].iter().zip(&nodes) {
        assert!(register(&addr, id, &node.local_addr().to_string())
            .await
            .is_success());
    }
    let unregister = Client::new("b")
        .request(
            &addr,
            uhome_protocol::core_events::UNREGISTER,
            Some(&json!({"nodeId": "b"})),
        )
        .await
        .unwrap();
    assert_eq!(unregister.code().as_deref(), Some("unregistered"));
    let before = registry.nodes();
    registry.shutdown().await;
    let restarted = registry_with(config).await;
    assert_eq!(restarted.nodes(), before);
    assert_eq!(
        before
            .iter()
            .map(|n| n.node_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "c"]
    );
    assert!(restarted.recovered().problems.is_empty());
    assert!(
        eventually(Duration::from_secs(2), || broker.nodes() == before).await,
        "pushed at start"
    );
    restarted.shutdown().await;
    for node in nodes {
        node.shutdown().await;
    }
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_is_reported_and_the_intact_records_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join(uhome_runtime::registry::store::LOG_FILE);
    let good = |id: &str| {
        let json = format!(r#"{{"op":"register","nodeId":"{id}","address":"127.0.0.1:9"}}"#);
        format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
    };
    std::fs::write(
        &log,
        format!(
            "{}garbage\n{}{}",
            good("one"),
            good("two"),
            &good("three")[..20]
        ),
    )
    .unwrap();
    let registry = registry_with(RegistryConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..RegistryConfig::default()
    })
    .await;
    let ids: Vec<String> = registry.nodes().into_iter().map(|n| n.node_id).collect();
    assert_eq!(ids, ["one", "two"]);
    assert_eq!(
        registry.recovered().problems.len(),
        2,
        "{:?}",
        registry.recovered().problems
    );
    assert!(registry
        .recovered()
        .backup
        .as_ref()
        .is_some_and(|b| b.exists()));
    registry.shutdown().await;

    let unreadable = tempfile::tempdir().unwrap();
    std::fs::create_dir(
        unreadable
            .path()
            .join(uhome_runtime::registry::store::LOG_FILE),
    )
    .unwrap();
    let failed = uhome_runtime::registry::start(
        LOOPBACK,
        RegistryConfig {
            data_dir: Some(unreadable.path().to_path_buf()),
            ..RegistryConfig::default()
        },
    )
    .await;
    let message = failed.err().expect("startup fails loudly").to_string();
    assert!(
        message.contains("cannot open the registry state"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_gets_the_list_again() {
    let first = broker().await;
    let port = first.local_addr().port();
    let registry = registry_with(RegistryConfig {
        health_interval: Duration::from_millis(200),
        ..registry_config(&first)
    })
    .await;
    let node = bare_node("keeper").await;
    assert!(register(
        &registry.local_addr().to_string(),
        "keeper",
        &node.local_addr().to_string()
    )
    .await
    .is_success());
    assert_eq!(first.nodes().len(), 1);
    first.shutdown().await;

    // Asking the registry at start ([UH-BROKER-10]).
    let asking = broker_with(BrokerConfig {
        registry: Some(registry.local_addr().to_string()),
        ..BrokerConfig::default()
    })
    .await;
    assert!(
        eventually(Duration::from_secs(2), || asking.nodes().len() == 1).await,
        "discovered"
    );
    asking.shutdown().await;

    // Or waiting for the registry's next push, on the old address ([UH-REGISTRY-6]).
    let second =
        uhome_runtime::broker::start(&format!("127.0.0.1:{port}"), BrokerConfig::default())
            .await
            .unwrap();
    assert!(
        eventually(Duration::from_secs(3), || second.nodes().len() == 1).await,
        "pushed again"
    );
    second.shutdown().await;
    node.shutdown().await;
    registry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_is_answered_internal_and_the_node_keeps_serving() {
    let service = uhome_runtime::service::Service::builder("fragile")
        .server_config(ServerConfig {
            handler_timeout: Duration::from_millis(300),
            ..ServerConfig::default()
        })
        .handle("boom", |_| async { panic!("handler bug") })
        .handle("stuck", |_| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Reply::ok("late")
        })
        .start()
        .await
        .unwrap();
    let addr = service.local_addr().to_string();
    for event_type in ["boom", "stuck"] {
        let reply = Client::new("c")
            .request(&addr, event_type, None)
            .await
            .unwrap();
        assert_eq!(
            (reply.status, reply.code().as_deref()),
            (0, Some("internal")),
            "{event_type}"
        );
        assert_eq!(reply.event.event_type, "µHome.error");
    }
    assert!(healthy(&addr).await);
    service.shutdown().await;
}
