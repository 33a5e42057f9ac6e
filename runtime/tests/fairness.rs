//! Fairness between subscribers ([UH-BROKER-11]): a subscriber that accepts deliveries and
//! never answers holds only its own slots, so publishes to other types go on.

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
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use uhome_protocol::core_events::{NODES, SUBSCRIBE};
use uhome_runtime::broker::BrokerConfig;
use uhome_runtime::config::{MAX_DELIVERIES_IN_FLIGHT, MAX_DELIVERIES_PER_SUBSCRIBER};
use uhome_runtime::service::{self, Service};
use uhome_runtime::{Client, PublishOutcome};

const FLOOD: usize = 300;
const FAST: usize = 20;

/// A subscriber that accepts deliveries, reads them and never answers; counts connections.
async fn silent_subscriber() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(common::LOOPBACK).await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    (addr, accepted)
}

/// A broker whose deliveries wait 3 s for a reply, listing a silent subscriber
/// (`PREFIX/silent`, subscribed to `silent_pattern`) and a service that records what it
/// gets (`PREFIX/listener`, subscribed to `listener_pattern`).
struct Setup {
    broker: uhome_runtime::broker::BrokerHandle,
    broker_addr: String,
    silent_accepted: Arc<AtomicUsize>,
    listener: Service,
    received: tokio::sync::mpsc::UnboundedReceiver<uhome_runtime::OwnedEvent>,
}

async fn setup(prefix: &str, silent_pattern: &str, listener_pattern: &str) -> Setup {
    let broker = common::broker_with(BrokerConfig {
        deadlines: common::deadlines(3000),
        ..BrokerConfig::default()
    })
    .await;
    let broker_addr = broker.local_addr().to_string();
    let (silent_addr, silent_accepted) = silent_subscriber().await;
    let (handler, received) = common::recorder();
    let (silent, listening) = (format!("{prefix}/silent"), format!("{prefix}/listener"));
    let listener = Service::builder(listening.clone())
        .listen(common::LOOPBACK)
        .handle(listener_pattern, handler)
        .start()
        .await
        .unwrap();
    let list = json!({ "nodes": [
        { "nodeId": silent, "address": silent_addr },
        { "nodeId": listening, "address": listener.local_addr().to_string() },
    ]});
    assert!(Client::new("µHome/core/serviceRegistry")
        .request(&broker_addr, NODES, Some(&list))
        .await
        .unwrap()
        .is_success());
    for (node, pattern) in [(&silent, silent_pattern), (&listening, listener_pattern)] {
        let reply = Client::new(node.as_str())
            .request(
                &broker_addr,
                SUBSCRIBE,
                Some(&json!({ "subscribe": pattern })),
            )
            .await
            .unwrap();
        assert!(reply.is_success(), "{}", reply.describe());
    }
    Setup {
        broker,
        broker_addr,
        silent_accepted,
        listener,
        received,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_subscriber_delays_only_its_own_deliveries() {
    const { assert!(FLOOD > MAX_DELIVERIES_IN_FLIGHT) };
    // Deliveries wait 3 s for a reply: the window in which the fast publishes must finish.
    let Setup {
        broker,
        broker_addr,
        silent_accepted,
        listener: fast,
        received: mut fast_received,
    } = setup("fair", "slow.x", "fast.x").await;

    let publisher = Client::new("fair/publisher");
    let flood_answered = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        let (client, addr, answered) = (
            publisher.clone(),
            broker_addr.clone(),
            flood_answered.clone(),
        );
        flood.push(tokio::spawn(async move {
            let report = service::publish(&client, &addr, "slow.x", None).await;
            answered.fetch_add(1, Ordering::SeqCst);
            report
        }));
    }
    assert!(
        common::eventually(Duration::from_secs(2), || {
            silent_accepted.load(Ordering::SeqCst) >= MAX_DELIVERIES_PER_SUBSCRIBER
        })
        .await,
        "the flood reaches the silent subscriber"
    );

    // Publishes of another type are delivered while every delivery to the silent
    // subscriber is still waiting for its reply.
    for n in 0..FAST {
        let report = service::publish(&publisher, &broker_addr, "fast.x", Some(&json!(n)))
            .await
            .unwrap();
        assert_eq!(
            (report.delivered, report.failed.len()),
            (1, 0),
            "fast publish {n}"
        );
    }
    assert_eq!(
        flood_answered.load(Ordering::SeqCst),
        0,
        "the fast publishes finished before any delivery to the silent subscriber did"
    );
    assert_eq!(
        common::drain(&mut fast_received, Duration::from_millis(100))
            .await
            .len(),
        FAST
    );
    assert_eq!(
        silent_accepted.load(Ordering::SeqCst),
        MAX_DELIVERIES_PER_SUBSCRIBER,
        "deliveries in flight to one subscriber are bounded"
    );

    // The flood ends: every delivery to the silent subscriber failed, none hung.
    for publish in flood {
        if let Ok(report) = publish.await.unwrap() {
            assert_eq!(
                (report.delivered, report.failed),
                (0, vec!["fair/silent".to_string()])
            );
        }
    }
    fast.shutdown().await;
    broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_that_does_not_wait_is_answered_before_delivery() {
    let Setup {
        broker,
        broker_addr,
        silent_accepted,
        listener,
        mut received,
    } = setup("queued", "q.x", "q.x").await;
    let publisher = Client::new("queued/publisher");
    let outcome =
        service::publish_without_waiting(&publisher, &broker_addr, "q.x", Some(&json!(7)))
            .await
            .unwrap();
    // A report would have waited for the silent subscriber's deadline.
    assert_eq!(outcome, PublishOutcome::Queued(2));
    let events = common::drain(&mut received, Duration::from_millis(500)).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data.as_deref(), Some("7"));
    assert_eq!(events[0].source, "queued/publisher");
    assert!(
        common::eventually(Duration::from_secs(1), || silent_accepted
            .load(Ordering::SeqCst)
            == 1)
        .await,
        "the silent subscriber got its delivery too"
    );
    listener.shutdown().await;
    broker.shutdown().await;
}
