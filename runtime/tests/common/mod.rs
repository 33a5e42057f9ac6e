//! Shared test set-up: nodes on 127.0.0.1 with ephemeral ports and short timings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use uhome_runtime::broker::{self, BrokerConfig, BrokerHandle};
use uhome_runtime::client::Deadlines;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::registry::{self, RegistryConfig, RegistryHandle};
use uhome_runtime::service::{Service, ServiceBuilder};
use uhome_runtime::{OwnedEvent, Reply};

pub const LOOPBACK: &str = "127.0.0.1:0";

pub fn deadlines(ms: u64) -> Deadlines {
    let d = Duration::from_millis(ms);
    Deadlines {
        connect: d,
        write: d,
        read: d,
    }
}

pub async fn broker_with(config: BrokerConfig) -> BrokerHandle {
    broker::start(LOOPBACK, config)
        .await
        .expect("broker starts")
}

pub async fn broker() -> BrokerHandle {
    broker_with(BrokerConfig {
        deadlines: deadlines(1000),
        ..BrokerConfig::default()
    })
    .await
}

pub fn registry_config(broker: &BrokerHandle) -> RegistryConfig {
    RegistryConfig {
        broker: Some(broker.local_addr().to_string()),
        health_interval: Duration::from_secs(3600),
        deadlines: deadlines(1000),
        ..RegistryConfig::default()
    }
}

pub async fn registry_with(config: RegistryConfig) -> RegistryHandle {
    registry::start(LOOPBACK, config)
        .await
        .expect("registry starts")
}

pub struct Mesh {
    pub broker: BrokerHandle,
    pub registry: RegistryHandle,
}

impl Mesh {
    pub async fn start() -> Mesh {
        let broker = broker().await;
        let registry = registry_with(registry_config(&broker)).await;
        Mesh { broker, registry }
    }

    pub fn broker_addr(&self) -> String {
        self.broker.local_addr().to_string()
    }

    pub fn registry_addr(&self) -> String {
        self.registry.local_addr().to_string()
    }

    pub fn service(&self, id: &str) -> ServiceBuilder {
        Service::builder(id)
            .registry(self.registry_addr())
            .broker(self.broker_addr())
            .deadlines(deadlines(1000))
    }

    pub async fn shutdown(self) {
        self.registry.shutdown().await;
        self.broker.shutdown().await;
    }
}

pub type BoxedReply = std::pin::Pin<Box<dyn Future<Output = Reply> + Send>>;

/// A handler that reports each request on a channel and answers `Received`.
pub fn recorder() -> (
    impl Fn(OwnedEvent) -> BoxedReply + Send + Sync + Clone + 'static,
    mpsc::UnboundedReceiver<OwnedEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = move |request: OwnedEvent| {
        let tx = tx.clone();
        Box::pin(async move {
            let _ = tx.send(request);
            Reply::ok("Received")
        }) as BoxedReply
    };
    (handler, rx)
}

/// Drains what arrived within `wait`.
pub async fn drain(
    rx: &mut mpsc::UnboundedReceiver<OwnedEvent>,
    wait: Duration,
) -> Vec<OwnedEvent> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(r)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        out.push(r);
    }
    out
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn fast_server() -> ServerConfig {
    ServerConfig {
        idle_timeout: Duration::from_millis(1500),
        ..ServerConfig::default()
    }
}
