//! Kept-alive deliveries ([UH-REGISTRY-11], [UH-BROKER-13]): to a node that declared
//! `keepAlive` the broker pipelines deliveries on a few kept connections; every other node
//! gets a connection per delivery; a kept connection the node closes is replaced without a
//! lost delivery.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::codec::Decoder;
use uhome_protocol::core_events::{NODES, SUBSCRIBE};
use uhome_runtime::codec::FrameCodec;
use uhome_runtime::kept::CONNECTIONS_PER_NODE;
use uhome_runtime::service;
use uhome_runtime::{Client, NodeEntry, Reply};

const DELIVERIES: usize = 40;

#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    requests: AtomicUsize,
}

/// A subscriber that answers every request on a connection, in order; with `close_after`,
/// it closes each connection after that many replies, as an idle timeout would.
async fn subscriber(close_after: Option<usize>) -> (String, Arc<Counts>) {
    let listener = TcpListener::bind(common::LOOPBACK).await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let counts = Arc::new(Counts::default());
    let seen = counts.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            seen.connections.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = bytes::BytesMut::new();
                let mut replies = 0;
                loop {
                    while let Some(_frame) = FrameCodec.decode(&mut buf).unwrap() {
                        seen.requests.fetch_add(1, Ordering::SeqCst);
                        let reply = Reply::ok("Received").encode("kept/subscriber");
                        if stream.write_all(&reply).await.is_err() {
                            return;
                        }
                        replies += 1;
                        if close_after == Some(replies) {
                            let _ = stream.shutdown().await;
                            return;
                        }
                    }
                    match stream.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (addr, counts)
}

/// A broker listing one subscriber at `addr` (with `keep_alive`) subscribed to `k.x`.
async fn broker_with_subscriber(
    addr: &str,
    keep_alive: bool,
) -> uhome_runtime::broker::BrokerHandle {
    let broker = common::broker().await;
    let broker_addr = broker.local_addr().to_string();
    let mut entry = json!({ "nodeId": "kept/subscriber", "address": addr });
    if keep_alive {
        entry["keepAlive"] = json!(true);
    }
    let reply = Client::new("µHome/core/serviceRegistry")
        .request(&broker_addr, NODES, Some(&json!({ "nodes": [entry] })))
        .await
        .unwrap();
    assert!(reply.is_success(), "{}", reply.describe());
    let reply = Client::new("kept/subscriber")
        .request(
            &broker_addr,
            SUBSCRIBE,
            Some(&json!({ "subscribe": "k.x" })),
        )
        .await
        .unwrap();
    assert!(reply.is_success(), "{}", reply.describe());
    broker
}

/// Publishes `count` events, `concurrent` at a time; every one must be delivered.
async fn publish_all(broker: &str, count: usize, concurrent: usize) {
    let client = Client::new("kept/publisher");
    for batch in 0..count.div_ceil(concurrent) {
        let sends = (0..concurrent.min(count - batch * concurrent)).map(|i| {
            let (client, broker) = (client.clone(), broker.to_string());
            async move { service::publish(&client, &broker, "k.x", Some(&json!(i))).await }
        });
        for report in futures_util::future::join_all(sends).await {
            let report = report.unwrap();
            assert_eq!((report.delivered, report.failed.len()), (1, 0));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_a_keep_alive_node_share_a_few_connections() {
    let (addr, counts) = subscriber(None).await;
    let broker = broker_with_subscriber(&addr, true).await;
    publish_all(&broker.local_addr().to_string(), DELIVERIES, 8).await;
    assert_eq!(counts.requests.load(Ordering::SeqCst), DELIVERIES);
    let connections = counts.connections.load(Ordering::SeqCst);
    assert!(
        (1..=CONNECTIONS_PER_NODE).contains(&connections),
        "{DELIVERIES} deliveries on {connections} connections"
    );
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_keep_alive_gets_a_connection_per_delivery() {
    let (addr, counts) = subscriber(None).await;
    let broker = broker_with_subscriber(&addr, false).await;
    publish_all(&broker.local_addr().to_string(), DELIVERIES, 8).await;
    assert_eq!(counts.requests.load(Ordering::SeqCst), DELIVERIES);
    assert_eq!(counts.connections.load(Ordering::SeqCst), DELIVERIES);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_the_node_closes_loses_no_delivery() {
    // The node closes each connection after two replies: the broker's next delivery on it
    // finds it closed and goes again on a new connection.
    let (addr, counts) = subscriber(Some(2)).await;
    let broker = broker_with_subscriber(&addr, true).await;
    publish_all(&broker.local_addr().to_string(), 10, 1).await;
    assert_eq!(
        counts.requests.load(Ordering::SeqCst),
        10,
        "each delivered once"
    );
    assert!(counts.connections.load(Ordering::SeqCst) >= 5);
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_keeps_a_services_keep_alive_declaration_in_its_lists() {
    let mesh = common::Mesh::start().await;
    let service = mesh
        .service("kept/service")
        .listen(common::LOOPBACK)
        .handle("k.x", |_| async { Reply::ok("Received") })
        .subscribe("k.x")
        .start()
        .await
        .unwrap();
    let expected = vec![NodeEntry {
        keep_alive: true,
        ..NodeEntry::new("kept/service", service.advertised())
    }];
    assert_eq!(mesh.registry.nodes(), expected);
    assert!(
        common::eventually(Duration::from_secs(2), || mesh.broker.nodes() == expected).await,
        "the pushed list carries keepAlive"
    );
    let listed = service::discover(&Client::new("kept/probe"), &mesh.registry_addr())
        .await
        .unwrap();
    assert_eq!(listed, expected, "discover carries keepAlive");
    let report = service.publish("k.x", None).await.unwrap();
    assert_eq!((report.delivered, report.failed.len()), (1, 0));
    service.shutdown().await;
    mesh.shutdown().await;
}
