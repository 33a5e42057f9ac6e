//! What section 14 costs a publish: one publish with its delivery report to one subscriber
//! on loopback, unsigned (a 1.2 broker and service) and signed (secure broker and service,
//! a signing publisher with its origin), side by side in the same run. The subscriber is a
//! reference service, which registers `keepAlive`, so both go on the broker's kept
//! connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // a benchmark: failing loudly is right

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use uhome_protocol::auth::SigningKey;
use uhome_protocol::core_events::{BROKER_ID, REGISTRY_ID};
use uhome_runtime::broker::{self, BrokerConfig, BrokerHandle};
use uhome_runtime::client::Deadlines;
use uhome_runtime::registry::{self, RegistryConfig, RegistryHandle};
use uhome_runtime::security::{hex, Policy, Security};
use uhome_runtime::service::{self, Service};
use uhome_runtime::{Client, OwnedEvent, Reply};

const TYPE: &str = "bench.sensor.reading";

fn deadlines() -> Deadlines {
    Deadlines {
        connect: Duration::from_secs(2),
        write: Duration::from_secs(2),
        read: Duration::from_secs(2),
    }
}

struct Mesh {
    broker: String,
    publisher: Client,
    _nodes: (BrokerHandle, RegistryHandle, Service),
}

/// A broker, a registry, a subscribing service and a publisher; all signed when `policy`
/// (with the keys: registry, broker, service, publisher) is given.
async fn mesh(secure: Option<(Policy, [SigningKey; 4])>) -> Mesh {
    let security = |i: usize| {
        secure
            .as_ref()
            .map(|(policy, keys)| Arc::new(Security::from_policy(policy, keys[i].clone())))
    };
    let broker = broker::start(
        "127.0.0.1:0",
        BrokerConfig {
            deadlines: deadlines(),
            security: security(1),
            ..BrokerConfig::default()
        },
    )
    .await
    .unwrap();
    let broker_addr = broker.local_addr().to_string();
    let registry = registry::start(
        "127.0.0.1:0",
        RegistryConfig {
            broker: Some(broker_addr.clone()),
            health_interval: Duration::from_secs(3600),
            deadlines: deadlines(),
            security: security(0),
            ..RegistryConfig::default()
        },
    )
    .await
    .unwrap();
    let mut builder = Service::builder("bench/subscriber")
        .registry(registry.local_addr().to_string())
        .broker(broker_addr.clone())
        .deadlines(deadlines())
        .handle(TYPE, |_event: OwnedEvent| async { Reply::ok("Received") })
        .subscribe(TYPE);
    if let Some(s) = security(2) {
        builder = builder.security(s);
    }
    let service = builder.start().await.unwrap();
    let mut publisher = Client::with_deadlines("bench/publisher", deadlines());
    if let Some(s) = security(3) {
        s.learn_node(BROKER_ID, &broker_addr);
        publisher = publisher.with_security(s);
    }
    Mesh {
        broker: broker_addr,
        publisher,
        _nodes: (broker, registry, service),
    }
}

fn policy(keys: &[SigningKey; 4]) -> Policy {
    let public = |k: &SigningKey| hex(k.verifying_key().as_bytes());
    Policy::parse(&format!(
        "mode = \"secure\"\n\
         [[node]]\nid = \"{REGISTRY_ID}\"\nkey = \"{}\"\nrole = \"registry\"\n\
         [[node]]\nid = \"{BROKER_ID}\"\nkey = \"{}\"\nrole = \"broker\"\n\
         [[node]]\nid = \"bench/subscriber\"\nkey = \"{}\"\n\
         [[node]]\nid = \"bench/publisher\"\nkey = \"{}\"\npublish = [\"bench.>\"]\n",
        public(&keys[0]),
        public(&keys[1]),
        public(&keys[2]),
        public(&keys[3]),
    ))
    .unwrap()
}

fn publish_with_report(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let keys = [11u8, 12, 13, 14].map(|seed| SigningKey::from_bytes(&[seed; 32]));
    let plain = rt.block_on(mesh(None));
    let signed = rt.block_on(mesh(Some((policy(&keys), keys.clone()))));
    let data = json!({"celsius": 21.5, "room": "kitchen", "battery": 0.87});
    let mut group = c.benchmark_group("publish_to_one_subscriber_with_report");
    for (name, mesh) in [("unsigned", &plain), ("signed", &signed)] {
        let report = rt
            .block_on(service::publish(
                &mesh.publisher,
                &mesh.broker,
                TYPE,
                Some(&data),
            ))
            .unwrap();
        assert_eq!(report.delivered, 1, "{name}: {report:?}");
        group.bench_function(name, |b| {
            b.iter(|| {
                let report = rt
                    .block_on(service::publish(
                        &mesh.publisher,
                        &mesh.broker,
                        TYPE,
                        Some(&data),
                    ))
                    .unwrap();
                assert_eq!(report.delivered, 1);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, publish_with_report);
criterion_main!(benches);
