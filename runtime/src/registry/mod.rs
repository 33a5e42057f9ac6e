//! The registry (section 10): registers nodes after a health check, keeps the list on disk,
//! health-checks nodes periodically, and pushes the list to the broker.

pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use uhome_protocol::core_events::{CoreType, NodeRef, Unregister, HEALTHCHECK, NODES, REGISTRY_ID};
use uhome_protocol::reply::{Discovered, NodeEntry, NodeList, Registered, Response};
use uhome_protocol::{encode_event, Body, Code, Envelope, Event, Json, V2};

use crate::client::{Client, Deadlines};
use crate::config::{
    Backoff, ServerConfig, COMPACT_AFTER_RECORDS, EVICT_AFTER, HEALTH_INTERVAL,
    MAX_HEALTH_CHECKS_IN_FLIGHT, PUSH_BACKOFF,
};
use crate::node::{ready, Dispatch, Node, ReplyFuture};
use crate::reply::{encode_frame_vec, estimate, Reply};
use crate::server::{self, ServerHandle};
use store::{Record, Recovered, Store};

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

#[derive(Debug, Clone)]
struct Entry {
    node_id: String,
    address: String,
    failures: u32,
}

struct RegistryInner {
    config: RegistryConfig,
    client: Client,
    nodes: Mutex<Vec<Entry>>,
    /// Serializes changes of the list with their log records.
    changes: tokio::sync::Mutex<()>,
    store: Option<Arc<Mutex<Store>>>,
    /// Version of the list the broker should have; bumped on every change.
    wanted: watch::Sender<u64>,
    /// Version of the last list whose push was attempted.
    attempted: watch::Receiver<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RegistryInner {
    fn list(&self) -> Vec<(String, String)> {
        lock(&self.nodes)
            .iter()
            .map(|e| (e.node_id.clone(), e.address.clone()))
            .collect()
    }

    fn bump(&self) -> u64 {
        let mut version = 0;
        self.wanted.send_modify(|v| {
            *v += 1;
            version = *v;
        });
        version
    }

    async fn healthy(&self, address: &str) -> bool {
        matches!(self.client.request(address, HEALTHCHECK, None).await, Ok(reply) if reply.is_success())
    }

    async fn persist(&self, record: Record) -> std::io::Result<()> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let snapshot = self.list();
        tokio::task::spawn_blocking(move || {
            let mut store = lock(&store);
            store.append(&record)?;
            if store.appended() >= COMPACT_AFTER_RECORDS {
                store.compact(&snapshot)?;
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Waits until the push of list `version` has been attempted ([UH-REGISTRY-4]).
    async fn pushed(&self, version: u64) {
        let mut attempted = self.attempted.clone();
        let limit = self.config.deadlines.connect
            + self.config.deadlines.write
            + self.config.deadlines.read;
        let _ = tokio::time::timeout(limit, attempted.wait_for(|&v| v >= version)).await;
    }

    async fn register(self: Arc<Self>, node_id: String, address: String) -> Reply {
        let fail = |code: Code, reason: &str| {
            Reply::for_code(code, Some(CoreType::Register), Some(reason))
        };
        if !self.healthy(&address).await {
            return fail(Code::Unhealthy, "Unhealthy service");
        }
        let version;
        let moved_from;
        {
            let _change = self.changes.lock().await;
            let existing = lock(&self.nodes)
                .iter()
                .find(|e| e.node_id == node_id)
                .map(|e| e.address.clone());
            moved_from = existing.clone();
            match existing {
                Some(old) if old == address => {}
                Some(old) => {
                    if self.healthy(&old).await {
                        return fail(Code::AlreadyRegistered, "Node already exists");
                    }
                }
                None => {
                    let mut list = self.list();
                    list.push((node_id.clone(), address.clone()));
                    if !fits(&self.config.id, &list) {
                        return fail(Code::RegistryFull, "Registry is full");
                    }
                }
            }
            let record = Record::Register {
                node_id: node_id.clone(),
                address: address.clone(),
            };
            let previous = lock(&self.nodes).clone();
            {
                let mut nodes = lock(&self.nodes);
                match nodes.iter_mut().find(|e| e.node_id == node_id) {
                    Some(entry) => {
                        entry.address = address.clone();
                        entry.failures = 0;
                    }
                    None => nodes.push(Entry {
                        node_id: node_id.clone(),
                        address: address.clone(),
                        failures: 0,
                    }),
                }
            }
            if let Err(e) = self.persist(record).await {
                *lock(&self.nodes) = previous;
                tracing::error!(error = %e, "cannot write the registry state");
                return Reply::internal("the registry cannot store the registration");
            }
            version = self.bump();
        }
        match moved_from {
            None => tracing::info!(node = %node_id, %address, "registered"),
            Some(old) if old == address => {
                tracing::debug!(node = %node_id, %address, "registration repeated")
            }
            Some(old) => {
                tracing::info!(node = %node_id, %address, from = %old, "re-registered at a new address")
            }
        }
        self.pushed(version).await;
        Reply::data(&Registered::new(&node_id, &address))
    }

    async fn unregister(self: Arc<Self>, node_id: String) -> Reply {
        let _change = self.changes.lock().await;
        let previous = lock(&self.nodes).clone();
        if !previous.iter().any(|e| e.node_id == node_id) {
            return Reply::for_code(
                Code::NotRegistered,
                Some(CoreType::Unregister),
                Some("Node is not registered"),
            );
        }
        lock(&self.nodes).retain(|e| e.node_id != node_id);
        if let Err(e) = self
            .persist(Record::Unregister {
                node_id: node_id.clone(),
            })
            .await
        {
            *lock(&self.nodes) = previous;
            tracing::error!(error = %e, "cannot write the registry state");
            return Reply::internal("the registry cannot store the change");
        }
        self.bump();
        tracing::info!(node = %node_id, "unregistered");
        Reply::data(&Response::unregistered(&node_id))
    }

    /// One round of health checks; evicts nodes over the threshold ([UH-REGISTRY-5]) and
    /// pushes the list either way ([UH-REGISTRY-6]).
    async fn health_round(self: &Arc<Self>) {
        let targets = self.list();
        let permits = Arc::new(Semaphore::new(MAX_HEALTH_CHECKS_IN_FLIGHT));
        let mut checks = JoinSet::new();
        for (node_id, address) in targets {
            let shared = self.clone();
            let permits = permits.clone();
            checks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let healthy = shared.healthy(&address).await;
                (node_id, address, healthy)
            });
        }
        let mut results = Vec::new();
        while let Some(result) = checks.join_next().await {
            if let Ok(result) = result {
                results.push(result);
            }
        }
        let _change = self.changes.lock().await;
        let mut evicted = Vec::new();
        {
            let mut nodes = lock(&self.nodes);
            for (node_id, address, healthy) in results {
                let Some(entry) = nodes
                    .iter_mut()
                    .find(|e| e.node_id == node_id && e.address == address)
                else {
                    continue;
                };
                entry.failures = if healthy { 0 } else { entry.failures + 1 };
                if entry.failures >= self.config.evict_after {
                    evicted.push(node_id);
                }
            }
            nodes.retain(|e| !evicted.contains(&e.node_id));
        }
        for node_id in evicted {
            tracing::warn!(node = %node_id, "evicted after failed health checks");
            if let Err(e) = self.persist(Record::Unregister { node_id }).await {
                tracing::error!(error = %e, "cannot write the registry state");
            }
        }
        self.bump();
    }
}

/// A list as the protocol's reply entries.
fn entries(list: &[(String, String)]) -> Vec<NodeEntry<'_>> {
    list.iter()
        .map(|(id, addr)| NodeEntry {
            node_id: id,
            address: addr,
        })
        .collect()
}

/// Whether `list` fits in one `µHome.core.nodes` push and in one discover reply
/// ([UH-REGISTRY-9]).
fn fits(source: &str, list: &[(String, String)]) -> bool {
    let entries = entries(list);
    nodes_frame(source, list).is_ok()
        && Reply::data(&Discovered::new(&entries))
            .try_encode(source)
            .is_ok()
}

/// The encoded `µHome.core.nodes` request carrying `list`, or `TooLarge`.
fn nodes_frame(
    source: &str,
    list: &[(String, String)],
) -> Result<bytes::Bytes, uhome_protocol::Error> {
    let entries = entries(list);
    let id = crate::reply::new_id();
    let timestamp = crate::reply::now();
    let envelope = Envelope {
        id: &id,
        timestamp: &timestamp,
        source,
        event_type: NODES,
    };
    let data = NodeList { nodes: &entries };
    let size = estimate(
        list.iter()
            .map(|(id, addr)| id.len() + addr.len() + 32)
            .sum::<usize>()
            + 128,
    );
    encode_frame_vec(size, |out| {
        encode_event(
            out,
            V2,
            uhome_protocol::status::OK,
            &envelope,
            Body::Data(&Json(&data)),
        )
    })
}

/// Pushes the wanted list to the broker whenever it changes, retrying with backoff while the
/// broker is down ([UH-REGISTRY-4]).
async fn pusher(
    shared: Arc<RegistryInner>,
    attempted: watch::Sender<u64>,
    stop: CancellationToken,
) {
    let mut wanted = shared.wanted.subscribe();
    let mut backoff = Backoff::new(PUSH_BACKOFF);
    let mut pushed = 0u64;
    loop {
        let version = *wanted.borrow_and_update();
        if version > pushed {
            let ok = match &shared.config.broker {
                None => true,
                Some(broker) => {
                    let list = shared.list();
                    match nodes_frame(&shared.config.id, &list) {
                        Ok(frame) => match shared.client.send_frame(broker, &frame).await {
                            Ok(reply) => reply.header.status == uhome_protocol::status::OK,
                            Err(e) => {
                                tracing::debug!(error = %e, "list push failed");
                                false
                            }
                        },
                        Err(_) => false,
                    }
                }
            };
            attempted.send_if_modified(|v| {
                let changed = *v < version;
                *v = (*v).max(version);
                changed
            });
            if ok {
                pushed = version;
                backoff = Backoff::new(PUSH_BACKOFF);
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.pause()) => continue,
                changed = wanted.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
        } else {
            tokio::select! {
                changed = wanted.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
        }
    }
}

struct RegistryDispatch {
    shared: Arc<RegistryInner>,
}

impl Dispatch for RegistryDispatch {
    fn dispatch(&self, _version: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let shared = self.shared.clone();
        Some(match CoreType::of(&event.event_type)? {
            CoreType::Register => match NodeRef::from_data(event.data) {
                Ok(node) => {
                    Box::pin(shared.register(node.node_id.to_string(), node.address.to_string()))
                }
                Err(e) => ready(Reply::for_error(&e, Some(CoreType::Register))),
            },
            CoreType::Unregister => match Unregister::from_data(event.data) {
                Ok(u) => Box::pin(shared.unregister(u.node_id.to_string())),
                Err(e) => ready(Reply::for_error(&e, Some(CoreType::Unregister))),
            },
            CoreType::Discover => {
                let list = shared.list();
                let entries = entries(&list);
                ready(Reply::data(&Discovered::new(&entries)))
            }
            _ => return None,
        })
    }
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
    pub fn nodes(&self) -> Vec<(String, String)> {
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
    let (store, recovered) = match &config.data_dir {
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
    let shared = Arc::new(RegistryInner {
        client: Client::with_deadlines(config.id.clone(), config.deadlines),
        nodes: Mutex::new(
            recovered
                .nodes
                .iter()
                .map(|(node_id, address)| Entry {
                    node_id: node_id.clone(),
                    address: address.clone(),
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
    let node = Arc::new(Node::new(
        shared.config.id.clone(),
        Arc::new(RegistryDispatch {
            shared: shared.clone(),
        }),
        shared.config.server.clone(),
    ));
    let server = server::spawn(listen, node)
        .await
        .map_err(|source| RegistryError::Bind {
            addr: listen.to_string(),
            source,
        })?;
    let stop = CancellationToken::new();
    let health = {
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(shared.config.health_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = ticks.tick() => shared.health_round().await,
                    () = stop.cancelled() => return,
                }
            }
        })
    };
    let push = tokio::spawn(pusher(shared.clone(), attempted_tx, stop.clone()));
    tracing::info!(addr = %server.local_addr(), broker = ?shared.config.broker, "registry listening");
    Ok(RegistryHandle {
        shared,
        server,
        stop,
        tasks: vec![health, push],
        recovered,
    })
}
