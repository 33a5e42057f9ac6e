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
use crate::launch::{BoxFuture, Launcher, MeshAddrs, Running, ServiceSetup};
use crate::peers::{Mode, Peer};
use crate::profile::Profile;
use crate::runner::Target;

/// The reference nodes' idle timeout: the shortest the specification recommends.
pub const IDLE: Duration = Duration::from_secs(5);
/// The reference registry's health check interval here.
pub const HEALTH_INTERVAL: Duration = Duration::from_millis(300);
/// The reference registry's eviction threshold here.
pub const EVICT_AFTER: u32 = 2;
/// The reference service's backoff in the service role's cases: the specification's first
/// pause, doubling to the shortest cap it allows, so the cap is seen within seconds.
pub const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(1600));
/// The reference service's refresh interval in the service role's cases.
pub const REFRESH: Duration = Duration::from_secs(1);
/// The pattern the reference service subscribes to in the service role's cases.
pub const SUBSCRIPTION: &str = "conformance.reference.>";

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
        max_connections: Some(uhome_runtime::config::MAX_CONNECTIONS),
        health_interval: Some(HEALTH_INTERVAL),
        evict_after: Some(EVICT_AFTER),
        refresh_interval: Some(REFRESH),
        subscriptions: Some(vec![SUBSCRIPTION.into()]),
        features: vec!["pushAfterHealthRound".into()],
        node_id: None,
        security: None,
    }
}

/// The reference service's client deadlines in the service role's cases: longer than the
/// suite's delayed registration reply.
fn service_deadlines() -> Deadlines {
    Deadlines {
        connect: Duration::from_secs(2),
        write: Duration::from_secs(2),
        read: Duration::from_secs(2),
    }
}

/// Starts the reference service (`uhome_runtime::service`) in-process for each case of the
/// service role, against the suite's registry and broker.
pub struct ReferenceService;

impl Launcher for ReferenceService {
    fn start<'a>(&'a self, mesh: &'a MeshAddrs) -> BoxFuture<'a, Result<Box<dyn Running>, String>> {
        let builder = Service::builder("µHome/conformance/referenceService")
            .registry(mesh.registry.clone())
            .broker(mesh.broker.clone())
            .deadlines(service_deadlines())
            .server_config(ServerConfig {
                idle_timeout: IDLE,
                ..ServerConfig::default()
            })
            .handle(SUBSCRIPTION, |_request| async {
                uhome_runtime::Reply::response("received", "Received", serde_json::Map::new())
            })
            .subscribe(SUBSCRIPTION)
            .backoff(BACKOFF.0, BACKOFF.1)
            .refresh_interval(REFRESH);
        Box::pin(async move {
            let service = builder
                .spawn()
                .await
                .map_err(|e| format!("cannot start the reference service: {e}"))?;
            Ok(Box::new(ReferenceRunning(Some(service))) as Box<dyn Running>)
        })
    }

    fn describe(&self) -> String {
        "the reference service, in-process".into()
    }
}

struct ReferenceRunning(Option<Service>);

impl Running for ReferenceRunning {
    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if let Some(service) = self.0.take() {
                service.shutdown().await;
            }
            Ok(())
        })
    }

    fn exited(&mut self) -> Option<String> {
        self.0.is_none().then(|| "stopped".into())
    }

    fn output(&self) -> String {
        String::new()
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
            service: (role == Role::Service).then(|| ServiceSetup::new(Arc::new(ReferenceService))),
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
