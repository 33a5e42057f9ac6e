//! # uhome-bridge
//!
//! A µHome ↔ MQTT bridge: a µHome service that publishes the µHome events it subscribes to
//! on MQTT topics, and publishes the MQTT messages it subscribes to into µHome through the
//! broker. It lets a mesh exchange events with Home Assistant, Zigbee2MQTT, Tasmota,
//! Node-RED or ESPHome, and reach past one machine through an MQTT broker.
//!
//! The MQTT side is [rumqttc](https://docs.rs/rumqttc): a maintained async client on tokio
//! that speaks MQTT 3.1.1 and 5 (`rumqttc::v5`), user name and password, and TLS through
//! rustls (here with the ring provider), and reconnects when polled after an error. The
//! µHome side is a [`uhome_runtime::service::Service`], which keeps its registration and
//! subscriptions through restarts of the registry and the broker.
//!
//! ## Mapping
//! - µHome → MQTT: an event of type `home.lamp.on` is published on `PREFIX/home/lamp/on`
//!   (prefix `uhome` by default) with the event's `data` JSON as payload (empty without
//!   data), or the whole event as a JSON object with [`BridgeConfig::envelope`]; QoS and
//!   retain are set per pattern ([`ToMqtt`]).
//! - MQTT → µHome: a message on `PREFIX/home/lamp/on` is published into µHome as type
//!   `home.lamp.on`; a topic outside the prefix keeps all its levels (`z2m/lamp` →
//!   `z2m.lamp`). A JSON payload is the event's `data`; any other payload is carried as a
//!   JSON string (non-UTF-8 bytes replaced by U+FFFD); an empty one gives no `data`.
//!   Topics that map to no valid type (see [`topics`]) are counted in
//!   [`Direction::unmappable`], logged, and dropped.
//! - Patterns and filters convert with [`topics::pattern_to_filter`] and
//!   [`topics::filter_to_pattern`] where the mapping is exact (`*` ↔ `+`, final `>` ↔
//!   `+/#`).
//!
//! ## No loops
//! The bridge marks what it publishes and drops what comes back marked:
//! - into µHome it publishes as its own node id, and never sends to MQTT an event whose
//!   `source` is that id;
//! - on MQTT 5 it subscribes with *no local* (the broker does not send the bridge its own
//!   messages) and puts the user property `uhome-bridge: NODE_ID` on every message; a
//!   message carrying its own id is dropped;
//! - on MQTT 3.1.1, which has neither, it remembers for 30 s the topic and payload of each
//!   message it published on a topic its filters match, and drops one message equal to a
//!   remembered one.
//!
//! Dropped echoes are counted in [`Direction::looped`].
//!
//! ## While a side is down
//! Each direction keeps at most [`BridgeConfig::buffer`] messages waiting for the other
//! side; past that the oldest is dropped and counted in [`Direction::dropped`]. The MQTT
//! connection and publishes into µHome are retried with capped exponential backoff; the
//! µHome registration and subscriptions are kept by the service. When a side is back, the
//! bridge logs how long it was away and what it buffered and dropped meanwhile
//! ([`Stats::last_mqtt_outage`], [`Stats::last_uhome_outage`]).
//!
//! Delivery is at least once into µHome: a publish whose reply is lost (the broker went
//! away after delivering) is sent again. Towards MQTT, a message handed to the client just
//! before the connection drops is resent by the client at QoS 1 and 2 and may be lost at
//! QoS 0.
//!
//! ## Home Assistant discovery
//! With [`BridgeConfig::discovery`], every connection publishes, retained, one discovery
//! config per [`HaEntity`] on `homeassistant/COMPONENT/NODE/OBJECT/config` (again whenever
//! Home Assistant announces `online` on `homeassistant/status`), with the entity's state
//! topic the µHome type's topic, and an availability topic `uhome-bridge/NODE/status` that
//! reads `online`, or `offline` (the last will) once the bridge is gone.

pub mod config;
mod discovery;
mod link;
pub mod topics;

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uhome_runtime::client::{ClientError, Deadlines};
use uhome_runtime::config::Backoff;
use uhome_runtime::service::{self, Service, ServiceError};
use uhome_runtime::{Client, OwnedEvent, Reply};

pub use config::{BridgeConfig, Discovery, FromMqtt, HaEntity, MqttConfig, MqttVersion, ToMqtt};
pub use link::MARKER_PROPERTY;

/// How long an MQTT 3.1.1 echo is waited for.
const ECHO_WINDOW: Duration = Duration::from_secs(30);
/// Most remembered MQTT 3.1.1 publishes.
const MAX_ECHOES: usize = 10_000;

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
    /// The µHome service could not start.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The counts of one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Direction {
    /// Messages taken in from the source side.
    pub received: u64,
    /// Messages handed to the other side (to the MQTT client, for MQTT; a message the
    /// client did not get across before its connection failed is buffered again and no
    /// longer counted).
    pub forwarded: u64,
    /// The bridge's own messages coming back, dropped.
    pub looped: u64,
    /// Messages whose type or topic maps to nothing on the other side, dropped.
    pub unmappable: u64,
    /// Payloads that were not JSON, carried as a JSON string (MQTT → µHome).
    pub wrapped: u64,
    /// Messages dropped because the buffer was full.
    pub dropped: u64,
    /// Messages the other side refused for good.
    pub rejected: u64,
    /// Messages waiting now.
    pub buffered: u64,
    /// The most messages that waited at once.
    pub max_buffered: u64,
}

/// A time one side was out of reach, and what happened meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// How long.
    pub duration: Duration,
    /// Messages waiting when the side came back.
    pub buffered: u64,
    /// Messages dropped (buffer full) since the last message that crossed before it.
    pub dropped: u64,
}

/// What the bridge has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// µHome → MQTT.
    pub to_mqtt: Direction,
    /// MQTT → µHome.
    pub from_mqtt: Direction,
    /// Whether the MQTT connection is up.
    pub mqtt_connected: bool,
    /// MQTT connections accepted by the broker.
    pub mqtt_connections: u64,
    /// MQTT connection failures (a lost connection, a failed attempt).
    pub mqtt_errors: u64,
    /// Publishes at QoS 1 or 2 the MQTT broker acknowledged (discovery configs included).
    pub mqtt_acks: u64,
    /// Publishes into µHome that found the broker out of reach (each retried).
    pub uhome_errors: u64,
    /// Home Assistant discovery configs published.
    pub discovery_published: u64,
    /// The last MQTT outage, once the connection came back.
    pub last_mqtt_outage: Option<Outage>,
    /// The last time the µHome broker was out of reach, once it answered again.
    pub last_uhome_outage: Option<Outage>,
}

#[derive(Default)]
struct Counts {
    received: AtomicU64,
    forwarded: AtomicU64,
    looped: AtomicU64,
    unmappable: AtomicU64,
    wrapped: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    max_buffered: AtomicU64,
}

fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Logs the first few occurrences of a recurring problem, then every thousandth.
fn worth_logging(n: u64) -> bool {
    n <= 10 || n % 1000 == 0
}

/// A bounded queue that drops its oldest entry when full.
struct Buffer<T> {
    items: Mutex<VecDeque<(u64, T)>>,
    next: AtomicU64,
    capacity: usize,
    notify: Notify,
}

impl<T: Clone> Buffer<T> {
    fn new(capacity: usize) -> Self {
        Buffer {
            items: Mutex::new(VecDeque::new()),
            next: AtomicU64::new(0),
            capacity,
            notify: Notify::new(),
        }
    }

    fn push(&self, item: T, counts: &Counts) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let mut items = lock(&self.items);
        if items.len() >= self.capacity {
            items.pop_front();
            let n = bump(&counts.dropped);
            if worth_logging(n) {
                tracing::warn!(
                    dropped = n,
                    capacity = self.capacity,
                    "buffer full: dropped the oldest message"
                );
            }
        }
        if self.capacity > 0 {
            items.push_back((seq, item));
        }
        counts
            .max_buffered
            .fetch_max(items.len() as u64, Ordering::Relaxed);
        drop(items);
        self.notify.notify_one();
    }

    /// Puts `item` back before every other entry: it is older than all of them, so a full
    /// buffer drops it. Returns whether it was kept.
    fn push_front(&self, item: T, counts: &Counts) -> bool {
        let mut items = lock(&self.items);
        if items.len() >= self.capacity {
            bump(&counts.dropped);
            return false;
        }
        let seq = items.front().map_or_else(
            || self.next.fetch_add(1, Ordering::Relaxed),
            |(s, _)| s.wrapping_sub(1),
        );
        items.push_front((seq, item));
        counts
            .max_buffered
            .fetch_max(items.len() as u64, Ordering::Relaxed);
        drop(items);
        self.notify.notify_one();
        true
    }

    fn len(&self) -> u64 {
        lock(&self.items).len() as u64
    }

    /// The oldest entry, waiting for one.
    async fn front(&self) -> (u64, T) {
        loop {
            let notified = self.notify.notified();
            if let Some(front) = lock(&self.items).front().cloned() {
                return front;
            }
            notified.await;
        }
    }

    /// Removes entry `seq` if it is still the oldest.
    fn remove(&self, seq: u64) {
        let mut items = lock(&self.items);
        if items.front().is_some_and(|(s, _)| *s == seq) {
            items.pop_front();
        }
    }
}

/// A message for MQTT.
#[derive(Clone)]
struct Outgoing {
    topic: String,
    payload: Vec<u8>,
    qos: u8,
    retain: bool,
}

/// A message for µHome.
#[derive(Clone)]
struct Incoming {
    event_type: String,
    data: Option<Value>,
}

/// When a side went away, and the drop count then.
struct Down {
    since: Instant,
    dropped: u64,
}

struct Shared {
    config: BridgeConfig,
    to_mqtt: Counts,
    from_mqtt: Counts,
    outbox: Buffer<Outgoing>,
    inbox: Buffer<Incoming>,
    mqtt: link::Sender,
    connected: watch::Sender<bool>,
    /// The broker acknowledged the subscriptions of the current connection.
    subscribed: watch::Sender<bool>,
    mqtt_connections: AtomicU64,
    mqtt_acks: AtomicU64,
    /// The µHome → MQTT drop count at the last publish to MQTT: drops after it belong to
    /// the outage that follows.
    to_mqtt_mark: AtomicU64,
    mqtt_errors: AtomicU64,
    uhome_errors: AtomicU64,
    discovery_published: AtomicU64,
    last_mqtt_outage: Mutex<Option<Outage>>,
    last_uhome_outage: Mutex<Option<Outage>>,
    /// MQTT 3.1.1: (topic, payload hash) of recent publishes that may come back.
    echoes: Mutex<HashMap<(String, u64), (u32, Instant)>>,
    /// The filters subscribed to on each connection.
    filters: Vec<(String, u8)>,
    closing: AtomicBool,
}

fn payload_hash(payload: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    payload.hash(&mut h);
    h.finish()
}

impl Shared {
    fn node_id(&self) -> &str {
        &self.config.node_id
    }

    fn v311(&self) -> bool {
        self.config.mqtt.version == MqttVersion::V311
    }

    /// A µHome event delivered to the bridge.
    fn on_uhome_event(&self, event: &OwnedEvent, qos: u8, retain: bool) {
        let counts = &self.to_mqtt;
        bump(&counts.received);
        if event.source == self.config.node_id {
            bump(&counts.looped);
            return;
        }
        let Some(topic) = topics::type_to_topic(&self.config.prefix, &event.event_type) else {
            let n = bump(&counts.unmappable);
            if worth_logging(n) {
                tracing::warn!(event_type = %event.event_type, unmappable = n, "µHome type maps to no MQTT topic; dropped");
            }
            return;
        };
        let payload = if self.config.envelope {
            envelope(event)
        } else {
            event.data.clone().unwrap_or_default()
        };
        self.outbox.push(
            Outgoing {
                topic,
                payload: payload.into_bytes(),
                qos,
                retain,
            },
            counts,
        );
    }

    /// Publishes on MQTT, remembering the message where it may come back (MQTT 3.1.1).
    async fn publish_mqtt(&self, message: &Outgoing) -> Result<(), String> {
        if self.v311()
            && self
                .filters
                .iter()
                .any(|(f, _)| topics::filter_matches(f, &message.topic))
        {
            let now = Instant::now();
            let mut echoes = lock(&self.echoes);
            if echoes.len() >= MAX_ECHOES {
                echoes.retain(|_, (_, at)| now.duration_since(*at) < ECHO_WINDOW);
            }
            if echoes.len() < MAX_ECHOES {
                let key = (message.topic.clone(), payload_hash(&message.payload));
                let entry = echoes.entry(key).or_insert((0, now));
                entry.0 += 1;
                entry.1 = now;
            }
        }
        self.mqtt
            .publish(
                &message.topic,
                message.qos,
                message.retain,
                message.payload.clone(),
                Some(self.node_id()),
            )
            .await
    }

    /// Takes back what the MQTT client held when its connection failed: µHome events go to
    /// the front of the buffer again (no longer counted as forwarded); the bridge's own
    /// discovery and availability messages are sent again on connecting anyway.
    fn requeue(&self, unsent: Vec<link::Unsent>) {
        let availability = discovery::availability_topic(self.node_id());
        let discovery = self
            .config
            .discovery
            .as_ref()
            .map(|d| format!("{}/", d.prefix));
        let mut requeued = 0u64;
        for u in unsent.into_iter().rev() {
            if u.topic == availability || discovery.as_ref().is_some_and(|d| u.topic.starts_with(d))
            {
                continue;
            }
            let _ =
                self.to_mqtt
                    .forwarded
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            let message = Outgoing {
                topic: u.topic,
                payload: u.payload,
                qos: u.qos,
                retain: u.retain,
            };
            if self.outbox.push_front(message, &self.to_mqtt) {
                requeued += 1;
            }
        }
        if requeued > 0 {
            tracing::info!(
                requeued,
                "messages the MQTT connection did not carry are buffered again"
            );
        }
    }

    /// Whether an MQTT 3.1.1 message is the echo of one the bridge published.
    fn is_echo(&self, topic: &str, payload: &[u8]) -> bool {
        let mut echoes = lock(&self.echoes);
        let key = (topic.to_string(), payload_hash(payload));
        let Some((count, at)) = echoes.get_mut(&key) else {
            return false;
        };
        let fresh = at.elapsed() < ECHO_WINDOW;
        *count -= 1;
        if *count == 0 {
            echoes.remove(&key);
        }
        fresh
    }

    /// A message from MQTT.
    fn on_mqtt_message(self: &Arc<Self>, message: link::Message) {
        if let (Some(d), Some(topic)) = (&self.config.discovery, &message.topic) {
            if *topic == discovery::status_topic(d) {
                if message.payload == b"online" {
                    let shared = self.clone();
                    tokio::spawn(async move { discovery::publish(&shared).await });
                }
                return;
            }
        }
        let counts = &self.from_mqtt;
        bump(&counts.received);
        if message.marker.as_deref() == Some(self.node_id()) {
            bump(&counts.looped);
            return;
        }
        let Some(topic) = message.topic else {
            let n = bump(&counts.unmappable);
            if worth_logging(n) {
                tracing::warn!(unmappable = n, "MQTT topic is not UTF-8; dropped");
            }
            return;
        };
        if self.v311() && self.is_echo(&topic, &message.payload) {
            bump(&counts.looped);
            return;
        }
        let Some(event_type) = topics::topic_to_type(&self.config.prefix, &topic) else {
            let n = bump(&counts.unmappable);
            if worth_logging(n) {
                tracing::warn!(%topic, unmappable = n, "MQTT topic maps to no µHome type; dropped");
            }
            return;
        };
        let data = if message.payload.is_empty() {
            None
        } else if let Ok(value) = serde_json::from_slice::<Value>(&message.payload) {
            Some(value)
        } else {
            bump(&counts.wrapped);
            Some(Value::String(
                String::from_utf8_lossy(&message.payload).into_owned(),
            ))
        };
        self.inbox.push(Incoming { event_type, data }, counts);
    }

    fn direction(&self, counts: &Counts, buffered: u64) -> Direction {
        Direction {
            received: get(&counts.received),
            forwarded: get(&counts.forwarded),
            looped: get(&counts.looped),
            unmappable: get(&counts.unmappable),
            wrapped: get(&counts.wrapped),
            dropped: get(&counts.dropped),
            rejected: get(&counts.rejected),
            buffered,
            max_buffered: get(&counts.max_buffered),
        }
    }

    fn stats(&self) -> Stats {
        Stats {
            to_mqtt: self.direction(&self.to_mqtt, self.outbox.len()),
            from_mqtt: self.direction(&self.from_mqtt, self.inbox.len()),
            mqtt_connected: *self.connected.borrow(),
            mqtt_connections: get(&self.mqtt_connections),
            mqtt_errors: get(&self.mqtt_errors),
            mqtt_acks: get(&self.mqtt_acks),
            uhome_errors: get(&self.uhome_errors),
            discovery_published: get(&self.discovery_published),
            last_mqtt_outage: lock(&self.last_mqtt_outage).clone(),
            last_uhome_outage: lock(&self.last_uhome_outage).clone(),
        }
    }
}

/// The whole event as a JSON object: `version`, `id`, `timestamp`, `source`, `type`, and
/// `data` and `error` when present.
fn envelope(event: &OwnedEvent) -> String {
    let text = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut out = format!(
        "{{\"version\":{},\"id\":{},\"timestamp\":{},\"source\":{},\"type\":{}",
        event.version,
        text(&event.id),
        text(&event.timestamp),
        text(&event.source),
        text(&event.event_type)
    );
    if let Some(data) = &event.data {
        out.push_str(",\"data\":");
        out.push_str(data);
    }
    if let Some(error) = &event.error {
        out.push_str(",\"error\":");
        out.push_str(error);
    }
    out.push('}');
    out
}

/// A running bridge.
pub struct Bridge {
    shared: Arc<Shared>,
    service: Service,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    driver: JoinHandle<()>,
}

fn check(config: &BridgeConfig) -> Result<(), BridgeError> {
    let bad = |m: String| Err(BridgeError::Config(m));
    for t in &config.to_mqtt {
        if !uhome_protocol::core_events::is_valid_pattern(&t.pattern) {
            return bad(format!("invalid µHome pattern {:?}", t.pattern));
        }
        if t.qos > 2 {
            return bad(format!("QoS {} of {:?} is not 0, 1 or 2", t.qos, t.pattern));
        }
    }
    for f in &config.from_mqtt {
        if !topics::is_valid_filter(&f.filter) {
            return bad(format!("invalid MQTT topic filter {:?}", f.filter));
        }
        if f.qos > 2 {
            return bad(format!("QoS {} of {:?} is not 0, 1 or 2", f.qos, f.filter));
        }
    }
    if config.prefix.contains(['+', '#', '\0']) || config.prefix.ends_with('/') {
        return bad(format!(
            "the topic prefix {:?} may not hold + or # or end with /",
            config.prefix
        ));
    }
    if config.buffer == 0 {
        return bad("the buffer must hold at least one message".into());
    }
    let (first, max) = config.backoff;
    if first.is_zero() || max < first {
        return bad("the backoff must start above 0 and its maximum be at least its start".into());
    }
    if let Some(d) = &config.discovery {
        for e in &d.entities {
            if topics::type_to_topic(&config.prefix, &e.event_type).is_none() {
                return bad(format!(
                    "discovery: {:?} maps to no MQTT topic",
                    e.event_type
                ));
            }
            if e.component.is_empty() || e.component.contains(['/', '+', '#']) {
                return bad(format!(
                    "discovery: {:?} is not a Home Assistant component",
                    e.component
                ));
            }
        }
    }
    Ok(())
}

impl Bridge {
    /// Starts the µHome service and the MQTT connection in the background and returns at
    /// once; [`Bridge::ready`] waits for both sides.
    pub async fn start(config: BridgeConfig) -> Result<Bridge, BridgeError> {
        check(&config)?;
        let mut filters: Vec<(String, u8)> = config
            .from_mqtt
            .iter()
            .map(|f| (f.filter.clone(), f.qos))
            .collect();
        let will = config.discovery.as_ref().map(|_| {
            (
                discovery::availability_topic(&config.node_id),
                "offline".to_string(),
            )
        });
        if let Some(d) = &config.discovery {
            for e in &d.entities {
                if let Some(topic) = e
                    .command_type
                    .as_deref()
                    .and_then(|t| topics::type_to_topic(&config.prefix, t))
                {
                    if !filters
                        .iter()
                        .any(|(f, _)| topics::filter_matches(f, &topic))
                    {
                        filters.push((topic, 1));
                    }
                }
            }
            filters.push((discovery::status_topic(d), 1));
        }
        let (mqtt, driver) = link::connect(&config.mqtt, will)?;
        let (connected, _) = watch::channel(false);
        let (subscribed, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            to_mqtt: Counts::default(),
            from_mqtt: Counts::default(),
            outbox: Buffer::new(config.buffer),
            inbox: Buffer::new(config.buffer),
            mqtt,
            connected,
            subscribed,
            mqtt_connections: AtomicU64::new(0),
            mqtt_acks: AtomicU64::new(0),
            to_mqtt_mark: AtomicU64::new(0),
            mqtt_errors: AtomicU64::new(0),
            uhome_errors: AtomicU64::new(0),
            discovery_published: AtomicU64::new(0),
            last_mqtt_outage: Mutex::new(None),
            last_uhome_outage: Mutex::new(None),
            echoes: Mutex::new(HashMap::new()),
            filters,
            closing: AtomicBool::new(false),
            config,
        });
        let config = &shared.config;
        let status = config.discovery.as_ref().map(discovery::status_topic);
        for (f, _) in shared
            .filters
            .iter()
            .filter(|(f, _)| Some(f) != status.as_ref())
        {
            match topics::filter_to_pattern(&config.prefix, f) {
                Some(p) => tracing::info!(filter = %f, pattern = %p, "MQTT → µHome"),
                None => {
                    tracing::info!(filter = %f, "MQTT → µHome (no single µHome pattern matches the same types)")
                }
            }
        }
        let mut builder = Service::builder(config.node_id.clone())
            .listen(config.listen.clone())
            .registry(config.registry.clone())
            .broker(config.broker.clone())
            .backoff(config.backoff.0, config.backoff.1);
        if let Some(advertise) = &config.advertise {
            builder = builder.advertise(advertise.clone());
        }
        if let Some(security) = &config.security {
            builder = builder.security(security.clone());
        }
        for t in &config.to_mqtt {
            let shared = shared.clone();
            let (qos, retain) = (t.qos, t.retain);
            builder = builder
                .handle(t.pattern.clone(), move |event: OwnedEvent| {
                    shared.on_uhome_event(&event, qos, retain);
                    async { Reply::ok("Bridged to MQTT") }
                })
                .subscribe(t.pattern.clone());
            match topics::pattern_to_filter(&config.prefix, &t.pattern) {
                Some(f) => tracing::info!(pattern = %t.pattern, filter = %f, "µHome → MQTT"),
                None => {
                    tracing::info!(pattern = %t.pattern, "µHome → MQTT (no single MQTT filter matches the same topics)")
                }
            }
        }
        let service = builder.spawn().await?;
        let stop = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(forward_to_mqtt(shared.clone(), stop.clone())),
            tokio::spawn(forward_to_uhome(shared.clone(), stop.clone())),
        ];
        let driver = tokio::spawn(drive(shared.clone(), driver));
        Ok(Bridge {
            shared,
            service,
            stop,
            tasks,
            driver,
        })
    }

    /// Waits until the µHome service has registered and subscribed, and the MQTT broker has
    /// accepted a connection and acknowledged the subscriptions.
    pub async fn ready(&self) -> Result<(), BridgeError> {
        self.service.ready().await?;
        self.mqtt_ready().await;
        Ok(())
    }

    /// Waits until the MQTT broker has accepted a connection and acknowledged the
    /// subscriptions.
    pub async fn mqtt_ready(&self) {
        let mut subscribed = self.shared.subscribed.subscribe();
        let _ = subscribed.wait_for(|s| *s).await;
    }

    /// The bridge's µHome node id.
    pub fn node_id(&self) -> &str {
        self.shared.node_id()
    }

    /// The address of the bridge's µHome node.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.service.local_addr()
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Resolves when the µHome service gives up (see
    /// [`uhome_runtime::service::ServiceBuilder::give_up_after`]); never while it retries.
    pub async fn failed(&self) -> ServiceError {
        self.service.failed().await
    }

    /// Stops: marks the bridge offline (with discovery), disconnects from MQTT, unregisters
    /// from µHome; returns the final counts.
    pub async fn shutdown(self) -> Stats {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.shared.closing.store(true, Ordering::Relaxed);
        if self.shared.config.discovery.is_some() && *self.shared.connected.borrow() {
            let _ = self
                .shared
                .mqtt
                .publish(
                    &discovery::availability_topic(self.shared.node_id()),
                    1,
                    true,
                    b"offline".to_vec(),
                    Some(self.shared.node_id()),
                )
                .await;
        }
        self.shared.mqtt.disconnect().await;
        let mut driver = self.driver;
        if tokio::time::timeout(Duration::from_secs(2), &mut driver)
            .await
            .is_err()
        {
            driver.abort();
        }
        self.service.shutdown().await;
        let stats = self.shared.stats();
        tracing::debug!(?stats, "bridge stopped");
        stats
    }
}

/// Polls the MQTT connection: reconnects with backoff, subscribes on every connection.
async fn drive(shared: Arc<Shared>, mut driver: link::Driver) {
    let mut backoff = Backoff::new(shared.config.backoff);
    let mut down: Option<Down> = None;
    let mut ever = false;
    loop {
        match driver.poll().await {
            Ok(link::Polled::Connected) => {
                bump(&shared.mqtt_connections);
                backoff = Backoff::new(shared.config.backoff);
                if let Some(down) = down.take() {
                    let outage = Outage {
                        duration: down.since.elapsed(),
                        buffered: shared.outbox.len(),
                        dropped: get(&shared.to_mqtt.dropped) - down.dropped,
                    };
                    tracing::info!(
                        buffered = outage.buffered,
                        dropped = outage.dropped,
                        "MQTT connection back after {}: {} messages buffered, {} dropped meanwhile",
                        humantime::format_duration(Duration::from_millis(
                            outage.duration.as_millis() as u64
                        )),
                        outage.buffered,
                        outage.dropped
                    );
                    *lock(&shared.last_mqtt_outage) = Some(outage);
                } else if !ever {
                    tracing::info!(
                        host = %shared.config.mqtt.host,
                        port = shared.config.mqtt.port,
                        "connected to the MQTT broker"
                    );
                }
                ever = true;
                shared.connected.send_replace(true);
                shared.subscribed.send_replace(shared.filters.is_empty());
                let shared = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = shared.mqtt.subscribe(&shared.filters).await {
                        tracing::warn!(error = %e, "MQTT subscribe failed");
                    }
                    if shared.config.discovery.is_some() {
                        discovery::publish(&shared).await;
                    }
                });
            }
            Ok(link::Polled::Subscribed) => {
                shared.subscribed.send_replace(true);
            }
            Ok(link::Polled::Acknowledged) => {
                bump(&shared.mqtt_acks);
            }
            Ok(link::Polled::Message(message)) => shared.on_mqtt_message(message),
            Ok(link::Polled::Other) => {}
            Err(e) => {
                if shared.closing.load(Ordering::Relaxed) {
                    return;
                }
                let n = bump(&shared.mqtt_errors);
                shared.subscribed.send_replace(false);
                shared.requeue(driver.take_unsent());
                if shared.connected.send_replace(false) || (down.is_none() && ever) {
                    tracing::warn!(error = %e, "MQTT connection lost; buffering");
                } else if worth_logging(n) {
                    tracing::warn!(error = %e, "cannot reach the MQTT broker");
                }
                if down.is_none() {
                    down = Some(Down {
                        since: Instant::now(),
                        dropped: get(&shared.to_mqtt_mark),
                    });
                }
                let pause = backoff.pause();
                tokio::time::sleep(pause).await;
                if shared.closing.load(Ordering::Relaxed) {
                    return;
                }
            }
        }
    }
}

/// Sends buffered µHome events to MQTT while connected.
async fn forward_to_mqtt(shared: Arc<Shared>, stop: CancellationToken) {
    let mut connected = shared.connected.subscribe();
    loop {
        let ready = async {
            let _ = connected.wait_for(|c| *c).await;
            shared.outbox.front().await
        };
        let (seq, message) = tokio::select! {
            item = ready => item,
            () = stop.cancelled() => return,
        };
        if !*shared.connected.borrow() {
            continue;
        }
        shared.outbox.remove(seq);
        match shared.publish_mqtt(&message).await {
            Ok(()) => {
                bump(&shared.to_mqtt.forwarded);
                shared
                    .to_mqtt_mark
                    .store(get(&shared.to_mqtt.dropped), Ordering::Relaxed);
            }
            Err(e) => {
                bump(&shared.to_mqtt.rejected);
                tracing::warn!(topic = %message.topic, error = %e, "MQTT publish refused");
            }
        }
    }
}

/// Whether a failed publish may succeed later.
fn retryable(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Client(
            ClientError::Connect { .. }
                | ClientError::Timeout { .. }
                | ClientError::Io(_)
                | ClientError::Closed
        )
    )
}

/// Publishes buffered MQTT messages into µHome; retries with backoff while the broker is
/// out of reach.
async fn forward_to_uhome(shared: Arc<Shared>, stop: CancellationToken) {
    let config = &shared.config;
    let mut client = Client::with_deadlines(config.node_id.clone(), Deadlines::default());
    if let Some(security) = &config.security {
        // The service learnt the broker's address for this security at its start.
        client = client.with_security(security.clone());
    }
    let mut backoff = Backoff::new(config.backoff);
    let mut down: Option<Down> = None;
    // Drops since the last success belong to the outage that follows.
    let mut dropped_mark = 0;
    loop {
        let (seq, message) = tokio::select! {
            item = shared.inbox.front() => item,
            () = stop.cancelled() => return,
        };
        // A publish under way finishes (within the client deadlines) before a shutdown.
        let sent = service::publish(
            &client,
            &config.broker,
            &message.event_type,
            message.data.as_ref(),
        )
        .await;
        match sent {
            Ok(_) => {
                let waiting = shared.inbox.len();
                shared.inbox.remove(seq);
                bump(&shared.from_mqtt.forwarded);
                dropped_mark = get(&shared.from_mqtt.dropped);
                backoff = Backoff::new(config.backoff);
                if let Some(down) = down.take() {
                    let outage = Outage {
                        duration: down.since.elapsed(),
                        buffered: waiting,
                        dropped: get(&shared.from_mqtt.dropped) - down.dropped,
                    };
                    tracing::info!(
                        "µHome broker back after {}: {} messages buffered, {} dropped meanwhile",
                        humantime::format_duration(Duration::from_millis(
                            outage.duration.as_millis() as u64
                        )),
                        outage.buffered,
                        outage.dropped
                    );
                    *lock(&shared.last_uhome_outage) = Some(outage);
                }
            }
            Err(e) if retryable(&e) => {
                let n = bump(&shared.uhome_errors);
                if down.is_none() {
                    tracing::warn!(broker = %config.broker, error = %e, "µHome broker out of reach; buffering");
                    down = Some(Down {
                        since: Instant::now(),
                        dropped: dropped_mark,
                    });
                } else if worth_logging(n) {
                    tracing::debug!(error = %e, "µHome broker still out of reach");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff.pause()) => {}
                    () = stop.cancelled() => return,
                }
            }
            Err(e) => {
                shared.inbox.remove(seq);
                let n = bump(&shared.from_mqtt.rejected);
                if worth_logging(n) {
                    tracing::warn!(event_type = %message.event_type, error = %e, "µHome refused the publish; dropped");
                }
            }
        }
    }
}
