//! The default target: the reference runtime's broker, registry and a service, started
//! in-process on ephemeral loopback ports with short timings.

use std::sync::Arc;
use std::time::Duration;

use uhome_runtime::broker::{self, BrokerConfig, BrokerHandle};
use uhome_runtime::client::Deadlines;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::registry::{self, RegistryConfig, RegistryHandle};
use uhome_runtime::service::Service;

use crate::case::Role;
use crate::peers::{Mode, Peer};
use crate::profile::Profile;
use crate::runner::Target;

/// The reference nodes' idle timeout: the shortest the specification recommends.
pub const IDLE: Duration = Duration::from_secs(5);
/// The reference registry's health check interval here.
pub const HEALTH_INTERVAL: Duration = Duration::from_millis(300);
/// The reference registry's eviction threshold here.
pub const EVICT_AFTER: u32 = 2;

/// The reference service's node id.
pub const SERVICE_ID: &str = "µHome/conformance/referenceService";

/// The running reference nodes.
pub struct Reference {
    /// The service.
    pub service: Service,
    /// The registry.
    pub registry: RegistryHandle,
    /// The broker.
    pub broker: BrokerHandle,
    /// The broker the suite plays for the registry.
    pub fake_broker: Arc<Peer>,
}

/// What the reference nodes declare.
pub fn profile() -> Profile {
    Profile {
        max_payload: None,
        idle_timeout: Some(IDLE),
        health_interval: Some(HEALTH_INTERVAL),
        evict_after: Some(EVICT_AFTER),
        features: vec!["pushAfterHealthRound".into()],
        node_id: None,
    }
}

/// Starts the reference nodes.
pub async fn start() -> Result<Reference, String> {
    let server = ServerConfig {
        idle_timeout: IDLE,
        ..ServerConfig::default()
    };
    let deadlines = Deadlines {
        connect: Duration::from_secs(1),
        write: Duration::from_secs(1),
        read: Duration::from_secs(1),
    };
    let fake_broker = Arc::new(
        Peer::start("µHome/core/eventBroker", "127.0.0.1:0", Mode::Healthy)
            .await
            .map_err(|e| format!("cannot listen for the suite's broker: {e}"))?,
    );
    let broker = broker::start(
        "127.0.0.1:0",
        BrokerConfig {
            server: server.clone(),
            deadlines,
            ..BrokerConfig::default()
        },
    )
    .await
    .map_err(|e| format!("cannot start the reference broker: {e}"))?;
    let registry = registry::start(
        "127.0.0.1:0",
        RegistryConfig {
            broker: Some(fake_broker.addr()),
            health_interval: HEALTH_INTERVAL,
            evict_after: EVICT_AFTER,
            deadlines,
            server: server.clone(),
            ..RegistryConfig::default()
        },
    )
    .await
    .map_err(|e| format!("cannot start the reference registry: {e}"))?;
    let service = Service::builder(SERVICE_ID)
        .server_config(server)
        .start()
        .await
        .map_err(|e| format!("cannot start the reference service: {e}"))?;
    Ok(Reference {
        service,
        registry,
        broker,
        fake_broker,
    })
}

impl Reference {
    /// One target per role.
    pub fn targets(&self) -> Vec<(Role, Target)> {
        let target = |role: Role, addr: String, broker: Option<Arc<Peer>>| Target {
            label: format!("reference {}@{addr}", role.as_str()),
            addr,
            profile: Profile {
                node_id: Some(
                    match role {
                        Role::Registry => "µHome/core/serviceRegistry",
                        Role::Broker => "µHome/core/eventBroker",
                        _ => SERVICE_ID,
                    }
                    .into(),
                ),
                ..profile()
            },
            broker,
        };
        vec![
            (
                Role::Service,
                target(Role::Service, self.service.local_addr().to_string(), None),
            ),
            (
                Role::Registry,
                target(
                    Role::Registry,
                    self.registry.local_addr().to_string(),
                    Some(self.fake_broker.clone()),
                ),
            ),
            (
                Role::Broker,
                target(Role::Broker, self.broker.local_addr().to_string(), None),
            ),
        ]
    }

    /// Stops everything.
    pub async fn shutdown(self) {
        self.service.shutdown().await;
        self.registry.shutdown().await;
        self.broker.shutdown().await;
    }
}
