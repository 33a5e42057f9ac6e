//! The registry (section 10): registers nodes after a health check, keeps the list on disk,
//! health-checks nodes periodically, and pushes the list to the broker.
//!
//! Inside: `state` holds the list, `handlers` answers register, unregister and discover,
//! `health` runs the check rounds, `push` sends the list to the broker, and [`store`] is the
//! log on disk.

/// The target of every registry log line, whichever file writes it.
const LOG_TARGET: &str = "uhome_runtime::registry";

mod handlers;
mod health;
mod push;
mod state;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uhome_protocol::core_events::{BROKER_ID, REGISTRY_ID};

use crate::client::{Client, Deadlines};
use crate::config::{ServerConfig, EVICT_AFTER, HEALTH_INTERVAL};
use crate::node::Node;
use crate::nodes::NodeEntry;
use crate::security::Security;
use crate::server::{self, ServerHandle};
use handlers::RegistryDispatch;
use state::{Entry, RegistryInner};
use store::{Recovered, Store};

/// Registry settings.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Node id (`µHome/core/serviceRegistry`).
    pub id: String,
    /// Where to push the list ([UH-REGISTRY-4]); `None` pushes nowhere.
    pub broker: Option<String>,
    /// Directory of the state log; `None` keeps nothing on disk.
    pub data_dir: Option<PathBuf>,
    /// Interval of periodic health checks.
    pub health_interval: Duration,
    /// Failed checks in a row before eviction.
    pub evict_after: u32,
    /// Deadlines of health checks and pushes.
    pub deadlines: Deadlines,
    /// Server limits.
    pub server: ServerConfig,
    /// Signed frames (section 14 of `spec/protocol.md`); `None`: a 1.2 registry.
    pub security: Option<Arc<Security>>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            id: REGISTRY_ID.into(),
            broker: None,
            data_dir: None,
            health_interval: HEALTH_INTERVAL,
            evict_after: EVICT_AFTER,
            deadlines: Deadlines::default(),
            server: ServerConfig::default(),
            security: None,
        }
    }
}

/// Why a registry could not start.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The state directory could not be opened.
    #[error("cannot open the registry state in {dir}: {source}")]
    Store {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running registry.
pub struct RegistryHandle {
    shared: Arc<RegistryInner>,
    server: ServerHandle,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    recovered: Recovered,
}

impl RegistryHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The registered nodes, in registration order.
    pub fn nodes(&self) -> Vec<NodeEntry> {
        self.shared.list()
    }

    /// What was recovered from disk at start.
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    /// Stops the server and the background tasks.
    pub async fn shutdown(self) {
        self.stop.cancel();
        self.server.shutdown().await;
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts a registry listening on `listen`.
pub async fn start(listen: &str, config: RegistryConfig) -> Result<RegistryHandle, RegistryError> {
    let (store, mut recovered) = match &config.data_dir {
        None => (None, Recovered::default()),
        Some(dir) => {
            let (store, recovered) = Store::open(dir).map_err(|source| RegistryError::Store {
                dir: dir.clone(),
                source,
            })?;
            for problem in &recovered.problems {
                tracing::warn!(dir = %dir.display(), "registry state: {problem}");
            }
            if let Some(backup) = &recovered.backup {
                tracing::warn!(backup = %backup.display(), "the damaged registry log was kept; intact records were recovered");
            }
            tracing::info!(dir = %dir.display(), nodes = recovered.nodes.len(), "registry state loaded");
            (Some(Arc::new(Mutex::new(store))), recovered)
        }
    };
    let (wanted, _) = watch::channel(1u64);
    let (attempted_tx, attempted) = watch::channel(0u64);
    let mut client = Client::with_deadlines(config.id.clone(), config.deadlines);
    if let Some(security) = &config.security {
        client = client.with_security(security.clone());
        if let Some(broker) = &config.broker {
            security.learn_node(BROKER_ID, broker);
        }
        for node in &mut recovered.nodes {
            security.learn_node(&node.node_id, &node.address);
            node.key = security.key_of(&node.node_id);
        }
    }
    let shared = Arc::new(RegistryInner {
        peers: client.for_peer_addresses(),
        client,
        nodes: Mutex::new(
            recovered
                .nodes
                .iter()
                .map(|node| Entry {
                    node: node.clone(),
                    failures: 0,
                })
                .collect(),
        ),
        changes: tokio::sync::Mutex::new(()),
        store,
        wanted,
        attempted,
        config,
    });
    let mut node = Node::new(
        shared.config.id.clone(),
        Arc::new(RegistryDispatch {
            shared: shared.clone(),
        }),
        shared.config.server.clone(),
    );
    if let Some(security) = &shared.config.security {
        node = node.with_security(security.clone());
    }
    let node = Arc::new(node);
    let server = server::spawn(listen, node)
        .await
        .map_err(|source| RegistryError::Bind {
            addr: listen.to_string(),
            source,
        })?;
    let stop = CancellationToken::new();
    let health = health::spawn(shared.clone(), stop.clone());
    let push = tokio::spawn(push::pusher(shared.clone(), attempted_tx, stop.clone()));
    tracing::info!(addr = %server.local_addr(), broker = ?shared.config.broker, "registry listening");
    Ok(RegistryHandle {
        shared,
        server,
        stop,
        tasks: vec![health, push],
        recovered,
    })
}
