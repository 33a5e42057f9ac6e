//! The broker (section 11): keeps the node list and subscriptions, and delivers published
//! events to every matching subscriber, concurrently and with deadlines.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use uhome_protocol::core_events::{
    pattern_matches, CoreType, Nodes, Publish, Subscription, BROKER_ID, DISCOVER, REGISTRY_ID,
};
use uhome_protocol::reply::{Queued, Response, Unsubscribed};
use uhome_protocol::{Code, Event, V2};

use crate::client::{Client, ClientError, Deadlines, ReplyEvent};
use crate::config::{
    Backoff, ServerConfig, MAX_DELIVERIES_IN_FLIGHT, MAX_DELIVERIES_PER_SUBSCRIBER, PUSH_BACKOFF,
};
use crate::delivery::PublishReport;
use crate::event::OwnedEvent;
use crate::kept::{self, KeptConnections};
use crate::node::{ready, Dispatch, Node, ReplyFuture};
use crate::nodes::{self, NodeEntry};
use crate::reply::Reply;
use crate::security::{with_member, Security};
use crate::server::{self, ServerHandle};

/// Broker settings.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Node id (`µHome/core/eventBroker`).
    pub id: String,
    /// The registry to ask for the list at start ([UH-BROKER-10]).
    pub registry: Option<String>,
    /// Deliveries in flight at once ([UH-SECURITY-4]).
    pub max_deliveries: usize,
    /// Deliveries in flight at once to one subscriber ([UH-BROKER-11]).
    pub max_deliveries_per_subscriber: usize,
    /// Deadlines of each delivery ([UH-BROKER-8]).
    pub deadlines: Deadlines,
    /// Server limits.
    pub server: ServerConfig,
    /// Signed frames (section 14 of `spec/protocol.md`); `None`: a 1.2 broker.
    pub security: Option<Arc<Security>>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            id: BROKER_ID.into(),
            registry: None,
            max_deliveries: MAX_DELIVERIES_IN_FLIGHT,
            max_deliveries_per_subscriber: MAX_DELIVERIES_PER_SUBSCRIBER,
            deadlines: Deadlines::default(),
            server: ServerConfig::default(),
            security: None,
        }
    }
}

#[derive(Default)]
struct State {
    /// The node list, in list order.
    nodes: Vec<NodeEntry>,
    /// Patterns per node id.
    subscriptions: HashMap<String, BTreeSet<String>>,
    /// Whether a list has arrived from the registry (a later discover reply is stale).
    listed: bool,
    /// Delivery slots of each listed node ([UH-BROKER-11]).
    slots: HashMap<String, Arc<Semaphore>>,
}

impl State {
    /// Installs a list from the registry, pushed or discovered ([UH-BROKER-1],
    /// [UH-BROKER-10]): subscriptions of kept ids stay, those of removed ids go
    /// ([UH-BROKER-2]). Returns what changed, for the log.
    fn install(&mut self, nodes: Vec<NodeEntry>) -> Option<String> {
        let change = nodes::change(&self.nodes, &nodes);
        self.subscriptions
            .retain(|id, _| nodes.iter().any(|n| &n.node_id == id));
        self.slots
            .retain(|id, _| nodes.iter().any(|n| &n.node_id == id));
        self.nodes = nodes;
        self.listed = true;
        change
    }

    fn is_listed(&self, node_id: &str) -> bool {
        self.nodes.iter().any(|n| n.node_id == node_id)
    }

    /// Each node with a matching subscription, once ([UH-BROKER-7]), with its delivery slots.
    fn targets(&mut self, event_type: &str, per_node: usize) -> Vec<(NodeEntry, Arc<Semaphore>)> {
        let State {
            nodes,
            subscriptions,
            slots,
            ..
        } = self;
        nodes
            .iter()
            .filter(|n| {
                subscriptions
                    .get(&n.node_id)
                    .is_some_and(|patterns| patterns.iter().any(|p| pattern_matches(p, event_type)))
            })
            .map(|n| {
                let slots = slots
                    .entry(n.node_id.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(per_node)))
                    .clone();
                (n.clone(), slots)
            })
            .collect()
    }
}

struct BrokerInner {
    config: BrokerConfig,
    client: Client,
    /// Delivers: connects only where the outbound allow-list allows ([UH-AUTH-25]).
    peers: Client,
    kept: KeptConnections,
    state: Mutex<State>,
    deliveries: Arc<Semaphore>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BrokerInner {
    /// With security, records the address of each listed node whose key is trusted.
    fn learn(&self, list: &[NodeEntry]) {
        if let Some(security) = self.client.security() {
            for node in list {
                security.learn_node(&node.node_id, &node.address);
            }
        }
    }

    /// With security, trusts the keys the list carries ([UH-AUTH-19]).
    fn learn_keys(&self, list: &[NodeEntry]) -> Result<(), String> {
        self.client
            .security()
            .map_or(Ok(()), |security| security.learn_keys(list))
    }

    /// Closes kept connections to addresses no longer listed with `keepAlive`.
    fn forget_kept(&self) {
        let kept: Vec<String> = lock(&self.state)
            .nodes
            .iter()
            .filter(|n| n.keep_alive)
            .map(|n| n.address.clone())
            .collect();
        self.kept
            .retain(|address| kept.iter().any(|k| k == address));
    }

    /// One delivery: on a kept connection to a node that declared `keepAlive` (sent again on a
    /// new connection when the kept one was closed before the node read it), else on a new
    /// connection ([UH-BROKER-7], [UH-BROKER-13]).
    async fn send(
        &self,
        address: &str,
        keep_alive: bool,
        request: &OwnedEvent,
        origin: Option<&str>,
    ) -> Result<ReplyEvent, ClientError> {
        let mut frame = self.peers.encode(request)?;
        if let Some(origin) = origin {
            frame = with_member(&frame, "origin", origin).map_err(ClientError::Encode)?;
        }
        if keep_alive {
            // Signed or not, a delivery to a node that keeps connections is pipelined on one;
            // each is signed with its own nonce and its reply verified in turn.
            let (sealed, check) = self.peers.seal(address, frame.clone())?;
            match self
                .kept
                .send_frame(address, sealed, self.config.deadlines)
                .await
            {
                Err(e) if kept::is_unsent(&e) => {
                    tracing::debug!(%address, error = %e, "kept connection closed; sending on a new one");
                }
                Ok(reply) => return self.peers.opened(address, &reply, check.as_ref()),
                Err(e) => return Err(e),
            }
        }
        self.peers.send_encoded(address, frame).await
    }

    fn subscribe(&self, event: &Event<'_>, kind: CoreType) -> Reply {
        let read = match kind {
            CoreType::Subscribe => Subscription::subscribe(event),
            _ => Subscription::unsubscribe(event),
        };
        let subscription = match read {
            Ok(s) => s,
            Err(e) => return Reply::for_error(&e, Some(kind)),
        };
        let node_id = subscription.node_id.to_string();
        let pattern = subscription.pattern.to_string();
        let mut state = lock(&self.state);
        if !state.is_listed(&node_id) {
            return Reply::for_code(
                Code::NotRegistered,
                Some(kind),
                Some("Node is not registered"),
            );
        }
        let patterns = state.subscriptions.entry(node_id.clone()).or_default();
        if kind == CoreType::Subscribe {
            if patterns.insert(pattern.clone()) {
                tracing::info!(node = %node_id, %pattern, "subscribed");
            } else {
                tracing::debug!(node = %node_id, %pattern, "subscription repeated");
            }
            Reply::data(&Response::of(Code::Subscribed))
        } else {
            let removed = patterns.remove(&pattern);
            tracing::info!(node = %node_id, %pattern, removed, "unsubscribed");
            Reply::data(&Unsubscribed::new(removed))
        }
    }

    /// Delivers to every matching subscriber concurrently, each on its own connection and
    /// within the client deadlines ([UH-BROKER-7], [UH-BROKER-8]). A delivery takes a slot of
    /// its subscriber, then one of the broker's ([UH-BROKER-11]); one that cannot start
    /// within the delivery deadline fails.
    async fn deliver(
        self: Arc<Self>,
        event: OwnedEvent,
        origin: Option<Arc<str>>,
    ) -> PublishReport {
        report(self.start_deliveries(event, origin)).await
    }

    /// Starts the deliveries of `event`; each task ends with the node id and whether a reply
    /// came.
    fn start_deliveries(
        self: &Arc<Self>,
        event: OwnedEvent,
        origin: Option<Arc<str>>,
    ) -> JoinSet<(String, bool)> {
        let targets =
            lock(&self.state).targets(&event.event_type, self.config.max_deliveries_per_subscriber);
        let request = Arc::new(event);
        let d = self.config.deadlines;
        let start_within = d.connect + d.write + d.read;
        let mut sends = JoinSet::new();
        for (
            NodeEntry {
                node_id,
                address,
                keep_alive,
                ..
            },
            own_slots,
        ) in targets
        {
            let shared = self.clone();
            let request = request.clone();
            let origin = origin.clone();
            sends.spawn(async move {
                let slots = async {
                    let own = own_slots.acquire_owned().await.ok()?;
                    let shared_slot = shared.deliveries.clone().acquire_owned().await.ok()?;
                    Some((own, shared_slot))
                };
                let Ok(Some(_permits)) = tokio::time::timeout(start_within, slots).await else {
                    tracing::debug!(node = %node_id, "delivery could not start in time");
                    return (node_id, false);
                };
                let outcome = shared
                    .send(&address, keep_alive, &request, origin.as_deref())
                    .await;
                if let Err(e) = &outcome {
                    tracing::debug!(node = %node_id, %address, error = %e, "delivery failed");
                }
                (node_id, outcome.is_ok())
            });
        }
        sends
    }
}

/// Waits for every delivery and counts them ([UH-BROKER-9]).
async fn report(mut sends: JoinSet<(String, bool)>) -> PublishReport {
    let mut report = PublishReport::default();
    while let Some(joined) = sends.join_next().await {
        match joined {
            Ok((_, true)) => report.delivered += 1,
            Ok((node_id, false)) => report.failed.push(node_id),
            Err(e) => tracing::error!(error = %e, "delivery task failed"),
        }
    }
    report
}

struct BrokerDispatch {
    shared: Arc<BrokerInner>,
}

impl Dispatch for BrokerDispatch {
    fn dispatch(&self, _version: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let kind = CoreType::of(&event.event_type)?;
        Some(match kind {
            CoreType::Nodes => ready(match Nodes::from_data(event.data) {
                Ok(list) => {
                    let count = list.len();
                    let list = nodes::owned(&list);
                    if let Err(reason) = self.shared.learn_keys(&list) {
                        return Some(ready(Reply::for_code(
                            Code::InvalidData,
                            Some(kind),
                            Some(&reason),
                        )));
                    }
                    self.shared.learn(&list);
                    let change = lock(&self.shared.state).install(list);
                    match change {
                        Some(change) => tracing::info!(nodes = count, "node list: {change}"),
                        None => tracing::debug!(nodes = count, "node list unchanged"),
                    }
                    self.shared.forget_kept();
                    Reply::data(&Response::of(Code::NodesUpdated))
                }
                Err(e) => Reply::for_error(&e, Some(kind)),
            }),
            CoreType::Subscribe | CoreType::Unsubscribe => {
                ready(self.shared.subscribe(event, kind))
            }
            CoreType::Publish => match Publish::from_data(event.data) {
                Ok(publish) => {
                    let delivery = OwnedEvent {
                        version: V2,
                        id: event.id.to_string(),
                        timestamp: event.timestamp.to_string(),
                        source: event.source.to_string(),
                        event_type: publish.event_type.to_string(),
                        data: publish.data.map(|d| d.as_str().to_string()),
                        error: None,
                    };
                    // The publisher's origin signature goes with every delivery, unchanged
                    // ([UH-AUTH-11]).
                    let origin = self
                        .shared
                        .client
                        .security()
                        .and_then(|_| origin_of(event.data))
                        .map(Arc::from);
                    if !publish.wait {
                        // [UH-BROKER-12]: answer once the deliveries have started.
                        let sends = self.shared.start_deliveries(delivery, origin);
                        let queued = sends.len();
                        tokio::spawn(async move {
                            let report = report(sends).await;
                            tracing::debug!(delivered = report.delivered, failed = ?report.failed, "queued publish delivered");
                        });
                        return Some(ready(Reply::data(&Queued::new(queued))));
                    }
                    let shared = self.shared.clone();
                    Box::pin(async move { shared.deliver(delivery, origin).await.reply() })
                }
                Err(e) => ready(Reply::for_error(&e, Some(kind))),
            },
            _ => return None,
        })
    }
}

/// Asks the registry for the list until it answers, unless a pushed list arrives first
/// ([UH-BROKER-10]).
async fn discover(shared: Arc<BrokerInner>, registry: String, stop: CancellationToken) {
    let mut backoff = Backoff::new(PUSH_BACKOFF);
    loop {
        if lock(&shared.state).listed {
            return;
        }
        if let Ok(reply) = shared
            .client
            .request(&registry, DISCOVER, Some(&json!({})))
            .await
        {
            let data = reply.event.data.as_deref().filter(|_| reply.is_success());
            let list = data.and_then(|text| uhome_protocol::RawJson::parse(text).ok());
            if let Ok(list) = Nodes::from_data(list) {
                let list = nodes::owned(&list);
                if let Err(reason) = shared.learn_keys(&list) {
                    // Refused as a pushed list would be; the next push or try brings another.
                    tracing::warn!("the registry's list was refused: {reason}");
                } else {
                    shared.learn(&list);
                    let mut state = lock(&shared.state);
                    if !state.listed {
                        state.install(list);
                        tracing::info!(
                            nodes = state.nodes.len(),
                            "node list obtained from the registry"
                        );
                    }
                    return;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.pause()) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// A running broker.
pub struct BrokerHandle {
    shared: Arc<BrokerInner>,
    server: ServerHandle,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The node list, in order.
    pub fn nodes(&self) -> Vec<NodeEntry> {
        lock(&self.shared.state).nodes.clone()
    }

    /// The patterns `node_id` subscribes to.
    pub fn subscriptions(&self, node_id: &str) -> Vec<String> {
        lock(&self.shared.state)
            .subscriptions
            .get(node_id)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Publishes as `source` without going through the network ([UH-BROKER-7]).
    pub async fn publish(
        &self,
        source: &str,
        event_type: &str,
        data: Option<&serde_json::Value>,
    ) -> PublishReport {
        self.shared
            .clone()
            .deliver(
                OwnedEvent {
                    data: data.map(|d| d.to_string()),
                    ..OwnedEvent::new(source, event_type, None)
                },
                None,
            )
            .await
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

/// The raw text of `data.origin` of a publish, when it has one.
fn origin_of(data: Option<uhome_protocol::RawJson<'_>>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct WithOrigin<'a> {
        #[serde(borrow)]
        origin: Option<&'a serde_json::value::RawValue>,
    }
    let parsed: WithOrigin<'_> = serde_json::from_str(data?.as_str()).ok()?;
    parsed.origin.map(|raw| raw.get().to_string())
}

/// Starts a broker listening on `listen`.
pub async fn start(listen: &str, config: BrokerConfig) -> std::io::Result<BrokerHandle> {
    let mut client = Client::with_deadlines(config.id.clone(), config.deadlines);
    if let Some(security) = &config.security {
        client = client.with_security(security.clone());
        if let Some(registry) = &config.registry {
            security.learn_node(REGISTRY_ID, registry);
        }
    }
    let peers = client.for_peer_addresses();
    let shared = Arc::new(BrokerInner {
        client,
        kept: KeptConnections::new(peers.clone()),
        peers,
        state: Mutex::new(State::default()),
        deliveries: Arc::new(Semaphore::new(config.max_deliveries)),
        config,
    });
    // A publish mostly waits on its deliveries, which the delivery bounds limit; a handler
    // bound below the connection bound would let publishes waiting on a silent subscriber
    // hold up every other request ([UH-BROKER-11]).
    let mut server_config = shared.config.server.clone();
    server_config.max_handlers_in_flight = server_config
        .max_handlers_in_flight
        .max(server_config.max_connections);
    let mut node = Node::new(
        shared.config.id.clone(),
        Arc::new(BrokerDispatch {
            shared: shared.clone(),
        }),
        server_config,
    );
    if let Some(security) = &shared.config.security {
        node = node.with_security(security.clone());
    }
    let node = Arc::new(node);
    let server = server::spawn(listen, node).await?;
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    if let Some(registry) = shared.config.registry.clone() {
        tasks.push(tokio::spawn(discover(
            shared.clone(),
            registry,
            stop.clone(),
        )));
    }
    tracing::info!(addr = %server.local_addr(), registry = ?shared.config.registry, "broker listening");
    Ok(BrokerHandle {
        shared,
        server,
        stop,
        tasks,
    })
}
