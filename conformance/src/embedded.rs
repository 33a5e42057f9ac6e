//! The default target: the reference runtime's broker, registry and a service, started
//! in-process on ephemeral loopback ports with short timings, and a registry and a broker in
//! `secure` mode with keys made for the run.

use std::sync::Arc;
use std::time::Duration;

use uhome_protocol::auth::SigningKey;
use uhome_protocol::core_events::{BROKER_ID, REGISTRY_ID};
use uhome_runtime::broker::{self, BrokerConfig, BrokerHandle};
use uhome_runtime::client::Deadlines;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::registry::{self, RegistryConfig, RegistryHandle};
use uhome_runtime::security::{hex, Policy, Security};
use uhome_runtime::service::Service;

use crate::case::Role;
use crate::launch::{BoxFuture, Launcher, MeshAddrs, Running, ServiceSetup};
use crate::peers::{Mode, Peer};
use crate::profile::{Profile, ProfileIdentity, SecureProfile};
use crate::runner::Target;
use crate::signing::fresh_key;

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
    /// The secure registry and broker.
    pub secure: SecureReference,
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
        secure: start_secure(deadlines).await?,
    })
}

impl Reference {
    /// One target per role, the secure roles included.
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
        .into_iter()
        .chain(self.secure.targets())
        .collect()
    }

    /// Stops everything.
    pub async fn shutdown(self) {
        self.service.shutdown().await;
        self.registry.shutdown().await;
        self.broker.shutdown().await;
        self.secure.shutdown().await;
    }
}

/// The client the secure roles sign as: a node of the secure nodes' policy.
pub const SECURE_CLIENT: &str = "µHome/conformance/secureClient";
/// The type the secure client may publish.
pub const SECURE_ALLOWED: &str = "conformance.secure.allowed";
/// The secure service: it subscribes to [`SECURE_ALLOWED`].
pub const SECURE_SERVICE: &str = "µHome/conformance/secureService";

/// The keys of the secure nodes' policy.
#[derive(Clone)]
pub struct SecureKeys {
    /// The registry's.
    pub registry: SigningKey,
    /// The broker's.
    pub broker: SigningKey,
    /// The client's the suite signs as.
    pub client: SigningKey,
    /// The subscribing service's.
    pub service: SigningKey,
}

impl SecureKeys {
    /// Keys made for one run.
    pub fn fresh() -> SecureKeys {
        SecureKeys {
            registry: fresh_key(),
            broker: fresh_key(),
            client: fresh_key(),
            service: fresh_key(),
        }
    }
}

fn public(key: &SigningKey) -> String {
    hex(key.verifying_key().as_bytes())
}

/// The secure nodes' policy: the client may publish [`SECURE_ALLOWED`] and subscribe within
/// `conformance.secure.*`; the outbound list is 127.0.0.1 only, so 127.0.0.2 is outside it.
pub fn secure_policy(keys: &SecureKeys) -> Result<Policy, String> {
    Policy::parse(&secure_policy_text(keys))
        .map_err(|e| format!("the secure reference policy: {e}"))
}

/// The text of [`secure_policy`], for nodes that read a policy file.
pub fn secure_policy_text(keys: &SecureKeys) -> String {
    format!(
        "mode = \"secure\"\n\n[outbound]\nallow = [\"127.0.0.1/32\"]\n\n\
         [[node]]\nid = \"{REGISTRY_ID}\"\nkey = \"{}\"\nrole = \"registry\"\n\n\
         [[node]]\nid = \"{BROKER_ID}\"\nkey = \"{}\"\nrole = \"broker\"\n\n\
         [[node]]\nid = \"{SECURE_CLIENT}\"\nkey = \"{}\"\npublish = [\"{SECURE_ALLOWED}\"]\n\
         subscribe = [\"conformance.secure.*\"]\n\n\
         [[node]]\nid = \"{SECURE_SERVICE}\"\nkey = \"{}\"\n",
        public(&keys.registry),
        public(&keys.broker),
        public(&keys.client),
        public(&keys.service),
    )
}

/// The profile of a secure node whose key is `node`.
pub fn secure_profile(keys: &SecureKeys, node: &SigningKey) -> Profile {
    let identity = |node_id: &str, key: &SigningKey| ProfileIdentity {
        node_id: node_id.into(),
        secret: hex(&key.to_bytes()),
    };
    Profile {
        security: Some(SecureProfile {
            node_key: public(node),
            client: identity(SECURE_CLIENT, &keys.client),
            skew_ms: None,
            registry: Some(identity(REGISTRY_ID, &keys.registry)),
            broker: Some(identity(BROKER_ID, &keys.broker)),
            publish_allowed: Some(SECURE_ALLOWED.into()),
            publish_forbidden: Some("home.door.unlock".into()),
            subscribe_forbidden: Some("home.>".into()),
            outbound_denied: Some("127.0.0.2:9".into()),
            subscribed_type: Some(SECURE_ALLOWED.into()),
        }),
        ..Profile::default()
    }
}

/// A registry, a broker and a subscribing service in `secure` mode, and the broker the suite
/// plays for the registry.
pub struct SecureReference {
    /// The keys.
    pub keys: SecureKeys,
    /// The registry.
    pub registry: RegistryHandle,
    /// The broker.
    pub broker: BrokerHandle,
    /// Where the registry pushes, answering signed with the broker's key.
    pub fake_broker: Arc<Peer>,
    /// A service handling [`SECURE_ALLOWED`], registered nowhere: the suite delivers to it as
    /// the broker.
    pub service: Service,
}

/// Starts the secure registry and broker with `deadlines`.
pub async fn start_secure(deadlines: Deadlines) -> Result<SecureReference, String> {
    let keys = SecureKeys::fresh();
    let policy = secure_policy(&keys)?;
    let fake_broker = Arc::new(
        Peer::start(BROKER_ID, "127.0.0.1:0", Mode::Healthy)
            .await
            .map_err(|e| format!("cannot listen for the suite's broker: {e}"))?,
    );
    fake_broker.sign_with(keys.broker.clone());
    let broker = broker::start(
        "127.0.0.1:0",
        BrokerConfig {
            deadlines,
            security: Some(Arc::new(Security::from_policy(
                &policy,
                keys.broker.clone(),
            ))),
            ..BrokerConfig::default()
        },
    )
    .await
    .map_err(|e| format!("cannot start the secure reference broker: {e}"))?;
    let registry = registry::start(
        "127.0.0.1:0",
        RegistryConfig {
            broker: Some(fake_broker.addr()),
            deadlines,
            security: Some(Arc::new(Security::from_policy(
                &policy,
                keys.registry.clone(),
            ))),
            ..RegistryConfig::default()
        },
    )
    .await
    .map_err(|e| format!("cannot start the secure reference registry: {e}"))?;
    let service = Service::builder(SECURE_SERVICE)
        .security(Arc::new(Security::from_policy(
            &policy,
            keys.service.clone(),
        )))
        .handle(SECURE_ALLOWED, |_request| async {
            uhome_runtime::Reply::response("received", "Received", serde_json::Map::new())
        })
        .start()
        .await
        .map_err(|e| format!("cannot start the secure reference service: {e}"))?;
    Ok(SecureReference {
        keys,
        registry,
        broker,
        fake_broker,
        service,
    })
}

impl SecureReference {
    /// The secure registry, broker and service as targets.
    pub fn targets(&self) -> Vec<(Role, Target)> {
        let target =
            |role: Role, addr: String, key: &SigningKey, broker: Option<Arc<Peer>>| Target {
                label: format!("reference {}@{addr}", role.as_str()),
                addr,
                profile: secure_profile(&self.keys, key),
                broker,
                service: None,
            };
        vec![
            (
                Role::SecureRegistry,
                target(
                    Role::SecureRegistry,
                    self.registry.local_addr().to_string(),
                    &self.keys.registry,
                    Some(self.fake_broker.clone()),
                ),
            ),
            (
                Role::SecureBroker,
                target(
                    Role::SecureBroker,
                    self.broker.local_addr().to_string(),
                    &self.keys.broker,
                    None,
                ),
            ),
            (
                Role::SecureService,
                target(
                    Role::SecureService,
                    self.service.local_addr().to_string(),
                    &self.keys.service,
                    None,
                ),
            ),
        ]
    }

    /// Stops the three.
    pub async fn shutdown(self) {
        self.service.shutdown().await;
        self.registry.shutdown().await;
        self.broker.shutdown().await;
    }
}
