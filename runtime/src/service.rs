//! Services (section 13): a builder for a node with application handlers that registers
//! with the registry and subscribes through the broker whatever order the nodes start in,
//! keeps both up to date after either restarts, publishes, and shuts down gracefully.
//!
//! A started service runs a keeper task: it registers (with capped exponential backoff
//! while the registry cannot be reached or refuses with a result that may change), then
//! subscribes each pattern, then every refresh interval checks that the registry still
//! lists it (`µHome.core.discover`, or registering again where the registry has no
//! discover) and sends its subscriptions again ([UH-SERVICE-6], [UH-SERVICE-7]). Its
//! handlers are served all along.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uhome_protocol::core_events::{
    self, is_valid_pattern, pattern_matches, BROKER_ID, REGISTRY_ID,
};
use uhome_protocol::Event;

use crate::client::{Client, ClientError, Deadlines, ReplyEvent};
use crate::config::{Backoff, ServerConfig, MAX_SERVICE_REFRESH, SERVICE_BACKOFF, SERVICE_REFRESH};
use crate::delivery::{PublishOutcome, PublishReport};
use crate::event::OwnedEvent;
use crate::node::{Dispatch, Node, ReplyFuture};
use crate::nodes::NodeEntry;
use crate::reply::Reply;
use crate::security::{hex, Security};
use crate::server::{self, ServerHandle};

/// An application handler.
pub type Handler = Arc<dyn Fn(OwnedEvent) -> ReplyFuture + Send + Sync>;

/// Why a service could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A handler or subscription pattern is not valid ([UH-BROKER-3]).
    #[error("invalid pattern {0:?}")]
    Pattern(String),
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
    /// No registry or broker address was configured for the operation.
    #[error("no {0} address configured")]
    NotConfigured(&'static str),
    /// A peer could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The peer answered `no_handler`: it is not the node it was taken for.
    #[error("{addr} has no handler for {event_type}: is it a µHome {role}?")]
    NoHandler {
        /// The peer's address.
        addr: String,
        /// The request's type.
        event_type: &'static str,
        /// `registry` or `broker`.
        role: &'static str,
    },
    /// A success reply lacks a member its type defines.
    #[error("{addr} answered {event_type} without `{member}`: is it a µHome {role}?")]
    MissingMember {
        /// The peer's address.
        addr: String,
        /// The request's type.
        event_type: &'static str,
        /// The missing member of `data`.
        member: &'static str,
        /// `registry` or `broker`.
        role: &'static str,
    },
    /// A peer refused.
    #[error("the {peer} refused {event_type}: {description}")]
    Refused {
        /// `registry` or `broker`.
        peer: &'static str,
        /// The request's type.
        event_type: &'static str,
        /// The reply's code; `None` for a reply without one (v0.0.1).
        code: Option<String>,
        /// The reply for people ([`ReplyEvent::describe`]).
        description: String,
    },
    /// The registry or the broker stayed out of reach longer than the give-up time.
    #[error("gave up after {}: {last}", humantime::format_duration(*.after))]
    GaveUp {
        /// The give-up time.
        after: Duration,
        /// The last failure.
        last: String,
    },
}

impl ServiceError {
    fn refused(peer: &'static str, event_type: &'static str, reply: &ReplyEvent) -> ServiceError {
        ServiceError::Refused {
            peer,
            event_type,
            code: reply.code(),
            description: reply.describe(),
        }
    }
}

/// How the unregistration at shutdown went ([UH-SERVICE-5]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unregistration {
    /// No registry is configured, or no registration succeeded.
    NotNeeded,
    /// The registry removed the node.
    Unregistered,
    /// The registry did not list the node (`not_registered`).
    NotListed,
    /// The registry has no unregister (`no_handler`: a v0.0.1 registry keeps the node).
    NoHandler,
    /// The registry refused otherwise.
    Refused(String),
    /// No reply came.
    Failed(String),
}

/// Builds a [`Service`].
pub struct ServiceBuilder {
    id: String,
    listen: String,
    advertise: Option<String>,
    registry: Option<String>,
    broker: Option<String>,
    handlers: Vec<(String, Handler)>,
    subscriptions: Vec<String>,
    server: ServerConfig,
    deadlines: Deadlines,
    backoff: (Duration, Duration),
    give_up_after: Option<Duration>,
    refresh: Duration,
    security: Option<Arc<Security>>,
}

impl ServiceBuilder {
    /// A service with node id `id`, listening on 127.0.0.1 on an ephemeral port.
    pub fn new(id: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder {
            id: id.into(),
            listen: "127.0.0.1:0".into(),
            advertise: None,
            registry: None,
            broker: None,
            handlers: Vec::new(),
            subscriptions: Vec::new(),
            server: ServerConfig::default(),
            deadlines: Deadlines::default(),
            backoff: SERVICE_BACKOFF,
            give_up_after: None,
            refresh: SERVICE_REFRESH,
            security: None,
        }
    }

    /// Signs requests and replies and verifies what arrives with `security`
    /// (section 14 of `spec/protocol.md`): the registry's and the broker's keys must be among its
    /// trusted keys.
    pub fn security(mut self, security: Arc<Security>) -> Self {
        self.security = Some(security);
        self
    }

    /// Where to listen (port 0 picks one).
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    /// The address to register (default: the bound address).
    pub fn advertise(mut self, addr: impl Into<String>) -> Self {
        self.advertise = Some(addr.into());
        self
    }

    /// Registers with this registry, keeps the registration, and unregisters on shutdown.
    pub fn registry(mut self, addr: impl Into<String>) -> Self {
        self.registry = Some(addr.into());
        self
    }

    /// Subscribes and publishes through this broker.
    pub fn broker(mut self, addr: impl Into<String>) -> Self {
        self.broker = Some(addr.into());
        self
    }

    /// Handles events whose type matches `pattern` ([UH-BROKER-3] syntax; a plain type
    /// matches itself). The first matching handler, in the order added, answers.
    pub fn handle<F, Fut>(mut self, pattern: impl Into<String>, handler: F) -> Self
    where
        F: Fn(OwnedEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |request| Box::pin(handler(request)));
        self.handlers.push((pattern.into(), handler));
        self
    }

    /// Subscribes to `pattern` once registered, and again at every refresh.
    pub fn subscribe(mut self, pattern: impl Into<String>) -> Self {
        self.subscriptions.push(pattern.into());
        self
    }

    /// Server limits and timeouts.
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.server = config;
        self
    }

    /// Client deadlines for calls to the registry and the broker.
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Pauses between attempts to reach the registry or the broker: `first`, doubling up
    /// to `max` (default 100 ms to 10 s, [UH-SERVICE-6]).
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = (first, max);
        self
    }

    /// Gives up once the registry or the broker has been out of reach (or refusing with a
    /// result that may change) for this long; `None`, the default, tries forever.
    pub fn give_up_after(mut self, after: Option<Duration>) -> Self {
        self.give_up_after = after;
        self
    }

    /// How often the service checks that the registry lists it and sends its
    /// subscriptions again (default 10 s, at most 30 s, [UH-SERVICE-7]).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh = interval;
        self
    }

    fn check(&self) -> Result<(), ServiceError> {
        for pattern in self
            .handlers
            .iter()
            .map(|(p, _)| p)
            .chain(&self.subscriptions)
        {
            if !is_valid_pattern(pattern) {
                return Err(ServiceError::Pattern(pattern.to_string()));
            }
        }
        if self.refresh.is_zero() || self.refresh > MAX_SERVICE_REFRESH {
            return Err(ServiceError::Config(format!(
                "the refresh interval must be more than 0 and at most {} (it is {})",
                humantime::format_duration(MAX_SERVICE_REFRESH),
                humantime::format_duration(self.refresh)
            )));
        }
        let (first, max) = self.backoff;
        if first.is_zero() || max < first {
            return Err(ServiceError::Config(
                "the backoff must start above 0 and its maximum be at least its start".into(),
            ));
        }
        if !self.subscriptions.is_empty() && self.broker.is_none() {
            return Err(ServiceError::NotConfigured("broker"));
        }
        Ok(())
    }

    /// Binds and serves, then starts the keeper in the background and returns at once:
    /// [`Service::ready`] waits for the first registration and subscriptions.
    pub async fn spawn(self) -> Result<Service, ServiceError> {
        self.check()?;
        let dispatch = Arc::new(Handlers {
            handlers: self.handlers,
        });
        let mut node = Node::new(self.id.clone(), dispatch, self.server);
        if let Some(security) = &self.security {
            node = node.with_security(security.clone());
        }
        let node = Arc::new(node);
        // Listening before registering: the registry health-checks the address while the
        // registration is pending ([UH-SERVICE-1]).
        let server =
            server::spawn(&self.listen, node)
                .await
                .map_err(|source| ServiceError::Bind {
                    addr: self.listen.clone(),
                    source,
                })?;
        let advertised = self
            .advertise
            .unwrap_or_else(|| server.local_addr().to_string());
        let mut patterns = Vec::new();
        for pattern in self.subscriptions {
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
        let mut client = Client::with_deadlines(self.id.clone(), self.deadlines);
        if let Some(security) = &self.security {
            client = client.with_security(security.clone());
            if let Some(registry) = &self.registry {
                security.learn_node(REGISTRY_ID, registry);
            }
            if let Some(broker) = &self.broker {
                security.learn_node(BROKER_ID, broker);
            }
        }
        let shared = Arc::new(ServiceInner {
            client,
            id: self.id,
            advertised,
            registry: self.registry,
            broker: self.broker,
            patterns: Mutex::new(patterns),
            subscribed: Mutex::new(HashSet::new()),
            ever_registered: AtomicBool::new(false),
            backoff: self.backoff,
            give_up_after: self.give_up_after,
            refresh: self.refresh,
            failure: Mutex::new(None),
        });
        let (state_tx, state) = watch::channel(Readiness::Starting);
        let stop = CancellationToken::new();
        let keeper = tokio::spawn(keep(shared.clone(), state_tx, stop.clone()));
        Ok(Service {
            shared,
            server,
            state,
            stop,
            keeper,
        })
    }

    /// Binds, serves, and returns once registered and subscribed — waiting for the
    /// registry and the broker as long as needed (see [`ServiceBuilder::give_up_after`]).
    pub async fn start(self) -> Result<Service, ServiceError> {
        let service = self.spawn().await?;
        match service.ready().await {
            Ok(()) => Ok(service),
            Err(e) => {
                service.shutdown().await;
                Err(e)
            }
        }
    }
}

struct Handlers {
    handlers: Vec<(String, Handler)>,
}

impl Dispatch for Handlers {
    fn dispatch(&self, version: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let event_type = event.event_type.to_string();
        let (_, handler) = self
            .handlers
            .iter()
            .find(|(pattern, _)| *pattern == event_type)
            .or_else(|| {
                self.handlers
                    .iter()
                    .find(|(pattern, _)| pattern_matches(pattern, &event_type))
            })?;
        Some(handler(OwnedEvent::from_event(version, event)))
    }
}

/// Where the keeper is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    Starting,
    Ready,
    Failed,
}

/// A step that did not succeed.
enum Failure {
    /// May change: try again after a backoff pause ([UH-SERVICE-6]).
    Retry(String),
    /// Will not change by trying again at once.
    Permanent(ServiceError),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct ServiceInner {
    id: String,
    advertised: String,
    registry: Option<String>,
    broker: Option<String>,
    client: Client,
    /// The patterns kept subscribed, in order.
    patterns: Mutex<Vec<String>>,
    /// Patterns whose subscription was logged since the last registration.
    subscribed: Mutex<HashSet<String>>,
    /// A registration succeeded once: only then does shutdown unregister the id, which
    /// may otherwise be another node's.
    ever_registered: AtomicBool,
    backoff: (Duration, Duration),
    give_up_after: Option<Duration>,
    refresh: Duration,
    failure: Mutex<Option<ServiceError>>,
}

/// How a registration succeeded.
enum Registered {
    Yes,
    /// A registry without codes refused with `Node already exists` ([UH-SERVICE-8]).
    Legacy,
}

impl ServiceInner {
    fn patterns(&self) -> Vec<String> {
        lock(&self.patterns).clone()
    }

    fn unreachable(role: &str, addr: &str, e: &ClientError) -> Failure {
        Failure::Retry(format!("cannot reach the {role} at {addr}: {e}"))
    }

    async fn register(&self, registry: &str) -> Result<Registered, Failure> {
        // The node serves pipelined requests on kept connections ([UH-REGISTRY-11]).
        let mut data = json!({ "nodeId": self.id, "address": self.advertised, "keepAlive": true });
        let key = self.client.security().and_then(|s| s.public_key());
        if let (Some(key), Some(map)) = (key, data.as_object_mut()) {
            // The key the registry checks against its policy ([UH-AUTH-14]).
            map.insert("key".into(), hex(key.as_bytes()).into());
        }
        let reply = self
            .client
            .request(registry, core_events::REGISTER, Some(&data))
            .await
            .map_err(|e| Self::unreachable("registry", registry, &e))?;
        let code = reply.effective_code();
        if reply.is_no_handler() {
            return Err(Failure::Permanent(ServiceError::NoHandler {
                addr: registry.to_string(),
                event_type: core_events::REGISTER,
                role: "registry",
            }));
        }
        if reply.is_success() {
            return Ok(Registered::Yes);
        }
        match code.as_deref() {
            Some("already_registered") if reply.code().is_none() => Ok(Registered::Legacy),
            Some("unhealthy" | "not_registered" | "internal" | "registry_full") => {
                Err(Failure::Retry(format!(
                    "the registry at {registry} refused the registration: {}",
                    reply.describe()
                )))
            }
            _ if reply.status == uhome_protocol::status::REPLIER_FAULT => Err(Failure::Retry(
                format!("the registry at {registry} failed: {}", reply.describe()),
            )),
            _ => Err(Failure::Permanent(ServiceError::refused(
                "registry",
                core_events::REGISTER,
                &reply,
            ))),
        }
    }

    /// Whether the registry lists this node at its address; `None` when the registry
    /// cannot tell (no discover: a v0.0.1 registry).
    async fn listed(&self, registry: &str) -> Result<Option<bool>, Failure> {
        let reply = self
            .client
            .request(registry, core_events::DISCOVER, None)
            .await
            .map_err(|e| Self::unreachable("registry", registry, &e))?;
        if reply.is_no_handler() {
            return Ok(None);
        }
        if !reply.is_success() {
            return Err(Failure::Retry(format!(
                "the registry at {registry} refused discover: {}",
                reply.describe()
            )));
        }
        let data = reply.data_value().unwrap_or_default();
        let Some(nodes) = data.get("nodes").and_then(Value::as_array) else {
            return Ok(None);
        };
        self.learn_keys(nodes);
        Ok(Some(nodes.iter().any(|n| {
            n.get("nodeId").and_then(Value::as_str) == Some(&self.id)
                && n.get("address").and_then(Value::as_str) == Some(&self.advertised)
        })))
    }

    /// With security, trusts the keys the discover reply's entries carry: the publishers'
    /// whose deliveries this node verifies ([UH-AUTH-19]).
    fn learn_keys(&self, nodes: &[Value]) {
        let Some(security) = self.client.security() else {
            return;
        };
        let list: Vec<NodeEntry> = nodes.iter().filter_map(entry_of).collect();
        if let Err(reason) = security.learn_keys(&list) {
            tracing::warn!("the registry's list was not learnt: {reason}");
        }
    }

    async fn subscribe_once(&self, broker: &str, pattern: &str) -> Result<(), Failure> {
        let data = json!({ "subscribe": pattern });
        let reply = self
            .client
            .request(broker, core_events::SUBSCRIBE, Some(&data))
            .await
            .map_err(|e| Self::unreachable("broker", broker, &e))?;
        if reply.is_no_handler() {
            return Err(Failure::Permanent(ServiceError::NoHandler {
                addr: broker.to_string(),
                event_type: core_events::SUBSCRIBE,
                role: "broker",
            }));
        }
        if reply.is_success() {
            if lock(&self.subscribed).insert(pattern.to_string()) {
                tracing::info!(node = %self.id, pattern, "subscribed");
            } else {
                tracing::debug!(node = %self.id, pattern, "subscription sent again");
            }
            return Ok(());
        }
        // [UH-SERVICE-3]: the broker may not have the registry's list yet.
        if reply.effective_code().as_deref() == Some("not_registered")
            || reply.status == uhome_protocol::status::REPLIER_FAULT
        {
            return Err(Failure::Retry(format!(
                "the broker at {broker} refused to subscribe {pattern}: {}",
                reply.describe()
            )));
        }
        Err(Failure::Permanent(ServiceError::refused(
            "broker",
            core_events::SUBSCRIBE,
            &reply,
        )))
    }

    /// One pass: make sure the registry lists the node, then send every subscription.
    async fn round(&self, keep: &mut Keep) -> Result<(), Failure> {
        if let Some(registry) = &self.registry {
            if keep.registered {
                match self.listed(registry).await? {
                    Some(true) => {}
                    Some(false) => {
                        tracing::warn!(node = %self.id, registry = %registry, "the registry no longer lists this node: registering again");
                        keep.registered = false;
                        lock(&self.subscribed).clear();
                    }
                    // Without discover, registering again is the check ([UH-SERVICE-7]).
                    None => keep.registered = false,
                }
            }
            if !keep.registered {
                match self.register(registry).await? {
                    Registered::Yes => {
                        if !keep.legacy {
                            tracing::info!(node = %self.id, address = %self.advertised, "registered");
                        }
                    }
                    Registered::Legacy => {
                        if !keep.legacy {
                            tracing::warn!(
                                node = %self.id,
                                registry = %registry,
                                "the registry (no codes: v0.0.1) answered `Node already exists`: taken as registered; it cannot tell whether another node holds this id"
                            );
                        }
                        keep.legacy = true;
                    }
                }
                keep.registered = true;
                self.ever_registered.store(true, Ordering::Relaxed);
            }
        }
        if let Some(broker) = &self.broker {
            for pattern in self.patterns() {
                self.subscribe_once(broker, &pattern).await?;
            }
        }
        Ok(())
    }
}

/// The keeper's memory between rounds.
#[derive(Default)]
struct Keep {
    registered: bool,
    /// The registry sends no codes; its warning was logged.
    legacy: bool,
}

/// Backoff between failed attempts, the give-up clock, and one log line per step.
struct Waiter {
    first: (Duration, Duration),
    backoff: Backoff,
    give_up_after: Option<Duration>,
    since: Option<Instant>,
    tries: u32,
    logged: Option<(Duration, String)>,
}

impl Waiter {
    fn new(shared: &ServiceInner) -> Waiter {
        Waiter {
            first: shared.backoff,
            backoff: Backoff::new(shared.backoff),
            give_up_after: shared.give_up_after,
            since: None,
            tries: 0,
            logged: None,
        }
    }

    /// The pause before the next try, or `None` to give up. Logs a wait when its pause or
    /// its cause differs from the last one logged.
    fn failed(&mut self, node: &str, what: &str) -> Option<Duration> {
        let since = *self.since.get_or_insert_with(Instant::now);
        self.tries += 1;
        let mut pause = self.backoff.pause();
        if let Some(limit) = self.give_up_after {
            let left = limit.checked_sub(since.elapsed())?;
            if left.is_zero() {
                return None;
            }
            pause = pause.min(left);
        }
        let entry = (pause, what.to_string());
        if self.logged.as_ref() != Some(&entry) {
            tracing::warn!(
                node,
                "{what}; next try in {}",
                humantime::format_duration(pause)
            );
            self.logged = Some(entry);
        }
        Some(pause)
    }

    fn succeeded(&mut self, node: &str) {
        if let Some(since) = self.since.take() {
            let waited = Duration::from_millis(since.elapsed().as_millis() as u64);
            tracing::info!(
                node,
                tries = self.tries + 1,
                "reached the registry and the broker after {}",
                humantime::format_duration(waited)
            );
        }
        self.backoff = Backoff::new(self.first);
        self.tries = 0;
        self.logged = None;
    }

    fn gave_up(&self) -> Duration {
        self.give_up_after.unwrap_or_default()
    }
}

async fn keep(shared: Arc<ServiceInner>, state: watch::Sender<Readiness>, stop: CancellationToken) {
    let mut keep = Keep::default();
    let mut waiter = Waiter::new(&shared);
    loop {
        let began = Instant::now();
        let outcome = tokio::select! {
            outcome = shared.round(&mut keep) => outcome,
            () = stop.cancelled() => return,
        };
        let pause = match outcome {
            Ok(()) => {
                waiter.succeeded(&shared.id);
                state.send_if_modified(|s| {
                    let starting = *s == Readiness::Starting;
                    *s = Readiness::Ready;
                    starting
                });
                // Rounds begin one refresh interval apart ([UH-SERVICE-7]: at least once
                // per interval).
                shared.refresh.saturating_sub(began.elapsed())
            }
            Err(Failure::Retry(what)) => match waiter.failed(&shared.id, &what) {
                Some(pause) => pause,
                None => {
                    let e = ServiceError::GaveUp {
                        after: waiter.gave_up(),
                        last: what,
                    };
                    tracing::error!(node = %shared.id, "{e}");
                    *lock(&shared.failure) = Some(e);
                    state.send_replace(Readiness::Failed);
                    return;
                }
            },
            Err(Failure::Permanent(e)) => {
                if *state.borrow() == Readiness::Starting {
                    *lock(&shared.failure) = Some(e);
                    state.send_replace(Readiness::Failed);
                    return;
                }
                tracing::error!(
                    node = %shared.id,
                    "{e}; trying again in {}",
                    humantime::format_duration(shared.refresh)
                );
                shared.refresh
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// A running service.
pub struct Service {
    shared: Arc<ServiceInner>,
    server: ServerHandle,
    state: watch::Receiver<Readiness>,
    stop: CancellationToken,
    keeper: JoinHandle<()>,
}

impl Service {
    /// A builder.
    pub fn builder(id: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder::new(id)
    }

    /// The node id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The address given to the registry.
    pub fn advertised(&self) -> &str {
        &self.shared.advertised
    }

    /// A client speaking as this service.
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The patterns the service keeps subscribed.
    pub fn subscriptions(&self) -> Vec<String> {
        self.shared.patterns()
    }

    fn failure(&self) -> ServiceError {
        lock(&self.shared.failure)
            .take()
            .unwrap_or_else(|| ServiceError::Config("the service has stopped".into()))
    }

    /// Waits until the service has registered and subscribed once; an error when it gave
    /// up or was refused for good before.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        let mut state = self.state.clone();
        let ready = matches!(
            state
                .wait_for(|s| *s != Readiness::Starting)
                .await
                .as_deref(),
            Ok(Readiness::Ready)
        );
        if ready {
            Ok(())
        } else {
            Err(self.failure())
        }
    }

    /// Resolves when the keeper has given up ([`ServiceBuilder::give_up_after`]), with
    /// why; never while it keeps trying.
    pub async fn failed(&self) -> ServiceError {
        let mut state = self.state.clone();
        let _ = state.wait_for(|s| *s == Readiness::Failed).await;
        self.failure()
    }

    fn broker(&self) -> Result<&str, ServiceError> {
        self.shared
            .broker
            .as_deref()
            .ok_or(ServiceError::NotConfigured("broker"))
    }

    /// Subscribes to `pattern` and keeps the subscription (sent again at every refresh).
    /// Retries with backoff while the broker is out of reach or does not know the node yet
    /// ([UH-SERVICE-3]), up to the give-up time.
    pub async fn subscribe(&self, pattern: &str) -> Result<(), ServiceError> {
        if !is_valid_pattern(pattern) {
            return Err(ServiceError::Pattern(pattern.to_string()));
        }
        let broker = self.broker()?;
        if self.shared.registry.is_some() {
            // Never a subscribe before a successful registration ([UH-SERVICE-2]).
            self.ready().await?;
        }
        {
            let mut patterns = lock(&self.shared.patterns);
            if !patterns.iter().any(|p| p == pattern) {
                patterns.push(pattern.to_string());
            }
        }
        let mut waiter = Waiter::new(&self.shared);
        loop {
            match self.shared.subscribe_once(broker, pattern).await {
                Ok(()) => return Ok(()),
                Err(Failure::Retry(what)) => match waiter.failed(&self.shared.id, &what) {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => {
                        return Err(ServiceError::GaveUp {
                            after: waiter.gave_up(),
                            last: what,
                        })
                    }
                },
                Err(Failure::Permanent(e)) => {
                    lock(&self.shared.patterns).retain(|p| p != pattern);
                    return Err(e);
                }
            }
        }
    }

    /// Removes the subscription to `pattern`; returns whether the broker had it.
    pub async fn unsubscribe(&self, pattern: &str) -> Result<bool, ServiceError> {
        let broker = self.broker()?;
        lock(&self.shared.patterns).retain(|p| p != pattern);
        lock(&self.shared.subscribed).remove(pattern);
        let data = json!({ "unsubscribe": pattern });
        let reply = self
            .shared
            .client
            .request(broker, core_events::UNSUBSCRIBE, Some(&data))
            .await?;
        if reply.is_no_handler() {
            return Err(ServiceError::NoHandler {
                addr: broker.to_string(),
                event_type: core_events::UNSUBSCRIBE,
                role: "broker",
            });
        }
        if !reply.is_success() {
            return Err(ServiceError::refused(
                "broker",
                core_events::UNSUBSCRIBE,
                &reply,
            ));
        }
        reply
            .data_value()
            .and_then(|d| d.get("removed").and_then(Value::as_bool))
            .ok_or_else(|| ServiceError::MissingMember {
                addr: broker.to_string(),
                event_type: core_events::UNSUBSCRIBE,
                member: "removed",
                role: "broker",
            })
    }

    /// Publishes an event of `event_type` through the broker ([UH-BROKER-6]).
    pub async fn publish(
        &self,
        event_type: &str,
        data: Option<&Value>,
    ) -> Result<PublishReport, ServiceError> {
        publish(&self.shared.client, self.broker()?, event_type, data).await
    }

    /// Publishes without waiting for the deliveries ([UH-BROKER-12]).
    pub async fn publish_without_waiting(
        &self,
        event_type: &str,
        data: Option<&Value>,
    ) -> Result<PublishOutcome, ServiceError> {
        publish_without_waiting(&self.shared.client, self.broker()?, event_type, data).await
    }

    /// Stops the keeper, unregisters ([UH-SERVICE-5]), stops accepting, and lets in-flight
    /// requests finish within the grace period.
    pub async fn shutdown(mut self) -> Unregistration {
        self.stop.cancel();
        let keeper = std::mem::replace(&mut self.keeper, tokio::spawn(async {}));
        let _ = keeper.await;
        let outcome = self.unregister().await;
        self.server.shutdown().await;
        outcome
    }

    async fn unregister(&self) -> Unregistration {
        let shared = &self.shared;
        let Some(registry) = &shared.registry else {
            return Unregistration::NotNeeded;
        };
        if !shared.ever_registered.load(Ordering::Relaxed) {
            return Unregistration::NotNeeded;
        }
        let data = json!({ "nodeId": shared.id });
        let node = &shared.id;
        match shared
            .client
            .request(registry, core_events::UNREGISTER, Some(&data))
            .await
        {
            Ok(reply) if reply.is_no_handler() => {
                tracing::info!(node = %node, registry = %registry, "the registry has no unregister (v0.0.1): it keeps this node");
                Unregistration::NoHandler
            }
            Ok(reply) if reply.is_success() => {
                tracing::info!(node = %node, "unregistered");
                Unregistration::Unregistered
            }
            Ok(reply) if reply.effective_code().as_deref() == Some("not_registered") => {
                tracing::info!(node = %node, "the registry did not list this node");
                Unregistration::NotListed
            }
            Ok(reply) => {
                let description = reply.describe();
                tracing::warn!(node = %node, "unregister refused: {description}");
                Unregistration::Refused(description)
            }
            Err(e) => {
                tracing::warn!(node = %node, error = %e, "unregister failed");
                Unregistration::Failed(e.to_string())
            }
        }
    }
}

/// Publishes through the broker at `broker` as `client`'s node id; a reply that is not a
/// publish report ([UH-BROKER-9]) is an error.
pub async fn publish(
    client: &Client,
    broker: &str,
    event_type: &str,
    data: Option<&Value>,
) -> Result<PublishReport, ServiceError> {
    let reply = publish_request(client, broker, event_type, data, true).await?;
    PublishReport::from_reply(&reply).map_err(|member| missing_in_publish(broker, member))
}

/// Publishes without waiting for the deliveries ([UH-BROKER-12]): the broker answers once
/// they have started, or, not knowing `wait`, after them with a report.
pub async fn publish_without_waiting(
    client: &Client,
    broker: &str,
    event_type: &str,
    data: Option<&Value>,
) -> Result<PublishOutcome, ServiceError> {
    let reply = publish_request(client, broker, event_type, data, false).await?;
    PublishOutcome::from_reply(&reply).map_err(|member| missing_in_publish(broker, member))
}

fn missing_in_publish(broker: &str, member: &'static str) -> ServiceError {
    ServiceError::MissingMember {
        addr: broker.to_string(),
        event_type: core_events::PUBLISH,
        member,
        role: "broker",
    }
}

/// Sends the publish; its successful reply, or the error.
async fn publish_request(
    client: &Client,
    broker: &str,
    event_type: &str,
    data: Option<&Value>,
    wait: bool,
) -> Result<ReplyEvent, ServiceError> {
    let mut request = serde_json::Map::new();
    request.insert("type".into(), event_type.into());
    if let Some(data) = data {
        request.insert("data".into(), data.clone());
    }
    if !wait {
        request.insert("wait".into(), Value::Bool(false));
    }
    let mut event = client.event(core_events::PUBLISH, None);
    if let Some(security) = client.security() {
        let envelope = uhome_protocol::Envelope {
            id: &event.id,
            timestamp: &event.timestamp,
            source: &event.source,
            event_type,
        };
        // The bytes signed are the bytes of `data.data` in the request (compact JSON).
        let text = data.map(Value::to_string);
        if let Some(origin) = security.origin(&envelope, text.as_deref()) {
            request.insert("origin".into(), origin);
        }
    }
    event.data = Some(Value::Object(request).to_string());
    let reply = client.send(broker, &event).await?;
    if reply.is_no_handler() {
        return Err(ServiceError::NoHandler {
            addr: broker.to_string(),
            event_type: core_events::PUBLISH,
            role: "broker",
        });
    }
    if !reply.is_success() {
        return Err(ServiceError::refused(
            "broker",
            core_events::PUBLISH,
            &reply,
        ));
    }
    Ok(reply)
}

/// The registry's node list ([UH-REGISTRY-8]); a reply without it is an error.
pub async fn discover(client: &Client, registry: &str) -> Result<Vec<NodeEntry>, ServiceError> {
    let reply = client
        .request(registry, core_events::DISCOVER, None)
        .await?;
    if reply.is_no_handler() {
        return Err(ServiceError::NoHandler {
            addr: registry.to_string(),
            event_type: core_events::DISCOVER,
            role: "registry",
        });
    }
    if !reply.is_success() {
        return Err(ServiceError::refused(
            "registry",
            core_events::DISCOVER,
            &reply,
        ));
    }
    let missing = ServiceError::MissingMember {
        addr: registry.to_string(),
        event_type: core_events::DISCOVER,
        member: "nodes",
        role: "registry",
    };
    let data = reply.data_value().unwrap_or_default();
    let Some(nodes) = data.get("nodes").and_then(Value::as_array) else {
        return Err(missing);
    };
    nodes
        .iter()
        .map(|n| {
            entry_of(n).ok_or_else(|| ServiceError::MissingMember {
                addr: registry.to_string(),
                event_type: core_events::DISCOVER,
                member: "nodes[].nodeId/address",
                role: "registry",
            })
        })
        .collect()
}

/// A list entry: `nodeId` and `address`, with `keepAlive` and `key` where given.
fn entry_of(n: &Value) -> Option<NodeEntry> {
    let id = n.get("nodeId").and_then(Value::as_str)?;
    let address = n.get("address").and_then(Value::as_str)?;
    Some(NodeEntry {
        keep_alive: n.get("keepAlive").and_then(Value::as_bool) == Some(true),
        // A key that is not a string keeps its JSON text, which no key check accepts.
        key: n
            .get("key")
            .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string)),
        ..NodeEntry::new(id, address)
    })
}
