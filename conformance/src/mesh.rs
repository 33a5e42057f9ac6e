//! The registry and the broker the suite plays for a service under test: replies scripted by
//! the case, and a timeline of what the service sent and what the suite answered.

// `value[member] = …` below only writes members of objects this module builds itself.
#![allow(clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uhome_protocol::core_events::{self, address_ok, BROKER_ID, REGISTRY_ID};
use uhome_protocol::{Decoded, Frame, Message};

use crate::case::Transcript;
use crate::wire::{frame, fresh_id, Conn, Request};

/// Which node of the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The registry the suite plays.
    Registry,
    /// The broker the suite plays.
    Broker,
}

impl Side {
    fn id(self) -> &'static str {
        match self {
            Side::Registry => REGISTRY_ID,
            Side::Broker => BROKER_ID,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Side::Registry => "suite-registry",
            Side::Broker => "suite-broker",
        }
    }
}

/// Something that happened in the mesh.
#[derive(Debug, Clone)]
pub enum Happening {
    /// The service sent a request.
    Request {
        /// To which node.
        side: Side,
        /// `type`
        event_type: String,
        /// `source`
        source: String,
        /// `data`
        data: Option<Value>,
    },
    /// The suite writes its reply to that request (recorded as the write starts).
    Replied {
        /// From which node.
        side: Side,
        /// The request's type.
        event_type: String,
        /// The request's `data`.
        data: Option<Value>,
        /// Whether the reply was a success (status 1, or a refusal that counts as one).
        accepted: bool,
        /// What it said, for reports.
        summary: String,
    },
    /// The registry health-checked a registering address ([UH-REGISTRY-1]).
    HealthCheck {
        /// The address.
        address: String,
        /// The reply was status 1, `µHome.response`, code `healthy`.
        healthy: bool,
        /// What happened, for reports.
        summary: String,
    },
    /// The registry, on an unregister, tried to connect to the node's address.
    Probe {
        /// The address.
        address: String,
        /// The connection was accepted.
        listening: bool,
    },
}

/// A happening and when.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When.
    pub at: Instant,
    /// What.
    pub what: Happening,
}

impl Entry {
    /// A request of `event_type` to `side`.
    pub fn is_request(&self, side: Side, event_type: &str) -> bool {
        matches!(&self.what, Happening::Request { side: s, event_type: t, .. } if *s == side && t == event_type)
    }

    /// A reply to a request of `event_type` from `side`, accepted or not.
    pub fn is_reply(&self, side: Side, event_type: &str) -> Option<bool> {
        match &self.what {
            Happening::Replied {
                side: s,
                event_type: t,
                accepted,
                ..
            } if *s == side && t == event_type => Some(*accepted),
            _ => None,
        }
    }

    /// The request's `data` (of a request or a reply to it).
    pub fn data(&self) -> Option<&Value> {
        match &self.what {
            Happening::Request { data, .. } | Happening::Replied { data, .. } => data.as_ref(),
            _ => None,
        }
    }

    /// The subscribed pattern of a subscribe request.
    pub fn pattern(&self) -> Option<&str> {
        self.data()?.get("subscribe")?.as_str()
    }
}

/// How the registry answers.
#[derive(Debug, Clone, Default)]
pub struct RegistryScript {
    /// Wait this long before answering a registration.
    pub delay_register: Duration,
    /// Refuse this many registrations more with `unhealthy`.
    pub refuse_register: u32,
    /// Answer as v0.0.1 does: no `code`; every registration refused `Node already exists`;
    /// discover answered `no_handler`.
    pub legacy: bool,
}

/// How the broker answers.
#[derive(Debug, Clone, Default)]
pub struct BrokerScript {
    /// Refuse this many subscribes more with `not_registered`.
    pub refuse_subscribe: u32,
    /// Refuse them as v0.0.1 does: reason `Node is not registered`, no `code`.
    pub legacy: bool,
}

#[derive(Default)]
struct Scripts {
    registry: RegistryScript,
    broker: BrokerScript,
}

struct State {
    timeline: Mutex<Vec<Entry>>,
    scripts: Mutex<Scripts>,
    /// nodeId → address, in registration order.
    nodes: Mutex<Vec<(String, String)>>,
    /// (source, pattern) accepted by the broker.
    subscriptions: Mutex<BTreeMap<String, Vec<String>>>,
    changed: Notify,
    transcript: Transcript,
    timeout: Duration,
}

impl State {
    fn push(&self, what: Happening) {
        if let Ok(mut t) = self.timeline.lock() {
            t.push(Entry {
                at: Instant::now(),
                what,
            });
        }
        self.changed.notify_waiters();
    }
}

/// The registry and broker of one case.
pub struct Mesh {
    state: Arc<State>,
    registry: SocketAddr,
    broker: SocketAddr,
    registry_task: Mutex<Option<JoinHandle<()>>>,
    broker_task: Mutex<Option<JoinHandle<()>>>,
}

async fn reserve(addr: &str) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

impl Mesh {
    /// A mesh whose registry and broker will listen on these addresses (port 0: an
    /// ephemeral port, chosen now); neither listens until [`Mesh::listen`].
    pub async fn reserve(
        registry: &str,
        broker: &str,
        transcript: &Transcript,
        timeout: Duration,
    ) -> Result<Mesh, String> {
        let registry = reserve(registry).await?;
        let broker = reserve(broker).await?;
        Ok(Mesh {
            state: Arc::new(State {
                timeline: Mutex::new(Vec::new()),
                scripts: Mutex::new(Scripts::default()),
                nodes: Mutex::new(Vec::new()),
                subscriptions: Mutex::new(BTreeMap::new()),
                changed: Notify::new(),
                transcript: transcript.clone(),
                timeout,
            }),
            registry,
            broker,
            registry_task: Mutex::new(None),
            broker_task: Mutex::new(None),
        })
    }

    /// The registry's address.
    pub fn registry_addr(&self) -> String {
        self.registry.to_string()
    }

    /// The broker's address.
    pub fn broker_addr(&self) -> String {
        self.broker.to_string()
    }

    fn task(&self, side: Side) -> &Mutex<Option<JoinHandle<()>>> {
        match side {
            Side::Registry => &self.registry_task,
            Side::Broker => &self.broker_task,
        }
    }

    /// Starts listening as `side` (again).
    pub async fn listen(&self, side: Side) -> Result<(), String> {
        let addr = match side {
            Side::Registry => self.registry,
            Side::Broker => self.broker,
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen as the {} on {addr}: {e}", side.label()))?;
        let task = tokio::spawn(accept(listener, side, self.state.clone()));
        if let Ok(mut slot) = self.task(side).lock() {
            if let Some(old) = slot.replace(task) {
                old.abort();
            }
        }
        Ok(())
    }

    /// Stops listening as `side` and drops its connections.
    pub async fn close(&self, side: Side) {
        let task = self.task(side).lock().ok().and_then(|mut slot| slot.take());
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// The broker restarts with nothing remembered: its connections drop and its
    /// subscriptions are gone.
    pub async fn restart_broker(&self) -> Result<(), String> {
        self.close(Side::Broker).await;
        if let Ok(mut s) = self.state.subscriptions.lock() {
            s.clear();
        }
        self.state
            .transcript
            .note("the suite's broker restarted without its subscriptions");
        self.listen(Side::Broker).await
    }

    /// The registry forgets every node: discover answers without them.
    pub fn forget_nodes(&self) {
        if let Ok(mut n) = self.state.nodes.lock() {
            n.clear();
        }
        self.state
            .transcript
            .note("the suite's registry forgot every node");
    }

    /// Changes how the registry answers.
    pub fn registry_script(&self, change: impl FnOnce(&mut RegistryScript)) {
        if let Ok(mut s) = self.state.scripts.lock() {
            change(&mut s.registry);
        }
    }

    /// Changes how the broker answers.
    pub fn broker_script(&self, change: impl FnOnce(&mut BrokerScript)) {
        if let Ok(mut s) = self.state.scripts.lock() {
            change(&mut s.broker);
        }
    }

    /// Everything that happened so far.
    pub fn timeline(&self) -> Vec<Entry> {
        self.state
            .timeline
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Waits until `check` finds something in the timeline, or `wait` passes.
    pub async fn wait_for<T>(
        &self,
        wait: Duration,
        check: impl Fn(&[Entry]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.state.changed.notified();
            if let Some(found) = check(&self.timeline()) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.timeline());
            }
        }
    }

    /// Records a note in the case's transcript.
    pub fn note(&self, text: &str) {
        self.state.transcript.note(text);
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        for slot in [&self.registry_task, &self.broker_task] {
            if let Some(task) = slot.lock().ok().and_then(|mut s| s.take()) {
                task.abort();
            }
        }
    }
}

async fn accept(listener: TcpListener, side: Side, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        connections.spawn(serve(stream, side, state.clone()));
    }
}

async fn serve(mut stream: TcpStream, side: Side, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16384];
    loop {
        while let Decoded::Complete(_, used) = Frame::decode(&buf) {
            let bytes: Vec<u8> = buf.drain(..used).collect();
            state.transcript.received(side.label(), &bytes);
            let (reply, happening) = answer(side, &bytes, &state).await;
            state.transcript.sent(side.label(), &reply);
            // Recorded as the write starts: whatever the service sends in answer to the reply
            // comes after it in the timeline.
            if let Some(happening) = happening {
                state.push(happening);
            }
            if stream.write_all(&reply).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

/// A reply frame: `body` is `data` for status 1 and `error` otherwise.
fn reply(side: Side, status: u8, body: Value) -> Vec<u8> {
    let (event_type, member) = if status == 1 {
        (core_events::RESPONSE, "data")
    } else {
        (core_events::ERROR, "error")
    };
    let timestamp = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let mut event = json!({
        "id": fresh_id(),
        "timestamp": timestamp,
        "source": side.id(),
        "type": event_type,
    });
    event[member] = body;
    frame(2, status, event.to_string().as_bytes())
}

fn body(message: &str, code: Option<&str>, reason: Option<&str>) -> Value {
    let mut body = json!({ "message": message });
    if let Some(code) = code {
        body["code"] = code.into();
    }
    if let Some(reason) = reason {
        body["reason"] = reason.into();
    }
    body
}

struct Answer {
    status: u8,
    body: Value,
    accepted: bool,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: 1,
            body,
            accepted: true,
        }
    }

    fn refused(status: u8, body: Value) -> Answer {
        Answer {
            status,
            body,
            accepted: false,
        }
    }
}

async fn answer(side: Side, bytes: &[u8], state: &State) -> (Vec<u8>, Option<Happening>) {
    let parsed = Frame::decode(bytes)
        .complete()
        .and_then(|(f, _)| match f.message() {
            Ok(Message::Event(e)) => Some((
                e.event_type.to_string(),
                e.source.to_string(),
                e.data.map(crate::canonical::value),
            )),
            _ => None,
        });
    let Some((event_type, source, data)) = parsed else {
        let refusal = body("Invalid event", Some("invalid_event"), Some("not an event"));
        return (reply(side, 2, refusal), None);
    };
    state.push(Happening::Request {
        side,
        event_type: event_type.clone(),
        source: source.clone(),
        data: data.clone(),
    });
    let answer = match side {
        Side::Registry => registry(&event_type, data.as_ref(), state).await,
        Side::Broker => broker(&event_type, &source, data.as_ref(), state),
    };
    let summary = format!(
        "status {}, {}",
        answer.status,
        serde_json::to_string(&answer.body).unwrap_or_default()
    );
    let happening = Happening::Replied {
        side,
        event_type,
        data,
        accepted: answer.accepted,
        summary,
    };
    (reply(side, answer.status, answer.body), Some(happening))
}

fn no_handler(legacy: bool) -> Answer {
    let code = (!legacy).then_some("no_handler");
    Answer::ok(body("No Handler for Event registered", code, None))
}

const REGISTER_FAILED: &str = "Failed to register microservice";

async fn health_check(address: &str, state: &State) -> Happening {
    let request = Request::new(core_events::HEALTHCHECK, None).from(REGISTRY_ID);
    let outcome = match Conn::open(address, &state.transcript, state.timeout).await {
        Ok(mut conn) => conn.call(&request.encode()).await,
        Err(e) => Err(e),
    };
    let (healthy, summary) = match outcome {
        Ok(r) => (
            r.status == 1 && r.event_type == core_events::RESPONSE && r.code() == Some("healthy"),
            r.summary(),
        ),
        Err(crate::case::Problem::Violation { actual, .. }) => (false, actual),
        Err(crate::case::Problem::Harness(e)) | Err(crate::case::Problem::Skip(e)) => (false, e),
    };
    Happening::HealthCheck {
        address: address.to_string(),
        healthy,
        summary,
    }
}

async fn registry(event_type: &str, data: Option<&Value>, state: &State) -> Answer {
    let script = state
        .scripts
        .lock()
        .map(|s| s.registry.clone())
        .unwrap_or_default();
    let code = |c: &'static str| (!script.legacy).then_some(c);
    let node_id = data.and_then(|d| d.get("nodeId")).and_then(Value::as_str);
    match event_type {
        core_events::HEALTHCHECK if !script.legacy => {
            Answer::ok(body("Service is healthy", Some("healthy"), None))
        }
        core_events::REGISTER => {
            let address = data.and_then(|d| d.get("address")).and_then(Value::as_str);
            let (Some(node_id), Some(address)) = (node_id, address.filter(|a| address_ok(a)))
            else {
                return Answer::refused(
                    2,
                    body(
                        REGISTER_FAILED,
                        code("invalid_data"),
                        Some("nodeId or address"),
                    ),
                );
            };
            let check = health_check(address, state).await;
            let healthy = matches!(check, Happening::HealthCheck { healthy: true, .. });
            state.push(check);
            tokio::time::sleep(script.delay_register).await;
            if script.refuse_register > 0 || !healthy {
                if let Ok(mut s) = state.scripts.lock() {
                    s.registry.refuse_register = s.registry.refuse_register.saturating_sub(1);
                }
                return Answer::refused(
                    2,
                    body(
                        REGISTER_FAILED,
                        code("unhealthy"),
                        Some("Unhealthy service"),
                    ),
                );
            }
            if script.legacy {
                return Answer {
                    status: 2,
                    body: body(REGISTER_FAILED, None, Some("Node already exists")),
                    accepted: true,
                };
            }
            if let Ok(mut nodes) = state.nodes.lock() {
                nodes.retain(|(id, _)| id != node_id);
                nodes.push((node_id.to_string(), address.to_string()));
            }
            let mut data = body(
                &format!("Successfully registered microservice '{node_id}'"),
                Some("registered"),
                None,
            );
            data["address"] = address.into();
            Answer::ok(data)
        }
        core_events::UNREGISTER => {
            let known = state.nodes.lock().ok().and_then(|nodes| {
                nodes
                    .iter()
                    .find(|(id, _)| Some(id.as_str()) == node_id)
                    .map(|(_, a)| a.clone())
            });
            let address = known.or_else(|| {
                state.timeline.lock().ok().and_then(|t| {
                    t.iter().rev().find_map(|e| match &e.what {
                        Happening::HealthCheck { address, .. } => Some(address.clone()),
                        _ => None,
                    })
                })
            });
            if let Some(address) = address {
                let listening = tokio::time::timeout(state.timeout, TcpStream::connect(&address))
                    .await
                    .is_ok_and(|c| c.is_ok());
                state.push(Happening::Probe { address, listening });
            }
            if script.legacy {
                return no_handler(true);
            }
            let removed = state.nodes.lock().is_ok_and(|mut nodes| {
                let before = nodes.len();
                nodes.retain(|(id, _)| Some(id.as_str()) != node_id);
                nodes.len() < before
            });
            match node_id {
                Some(id) if removed => Answer::ok(body(
                    &format!("Successfully unregistered microservice '{id}'"),
                    code("unregistered"),
                    None,
                )),
                _ => Answer::refused(
                    2,
                    body(
                        "Failed to unregister microservice",
                        code("not_registered"),
                        Some("Node is not registered"),
                    ),
                ),
            }
        }
        core_events::DISCOVER if !script.legacy => {
            let nodes: Vec<Value> = state
                .nodes
                .lock()
                .map(|n| {
                    n.iter()
                        .map(|(id, a)| json!({ "nodeId": id, "address": a }))
                        .collect()
                })
                .unwrap_or_default();
            let mut data = body("Active nodes", Some("nodes"), None);
            data["nodes"] = nodes.into();
            Answer::ok(data)
        }
        _ => no_handler(script.legacy),
    }
}

const SUBSCRIBE_FAILED: &str = "Failed to subscribe for microservice to event";

fn broker(event_type: &str, source: &str, data: Option<&Value>, state: &State) -> Answer {
    let script = state
        .scripts
        .lock()
        .map(|s| s.broker.clone())
        .unwrap_or_default();
    let member = |name: &str| data.and_then(|d| d.get(name)).and_then(Value::as_str);
    match event_type {
        core_events::HEALTHCHECK => Answer::ok(body("Service is healthy", Some("healthy"), None)),
        core_events::SUBSCRIBE => {
            let Some(pattern) = member("subscribe").filter(|p| core_events::is_valid_pattern(p))
            else {
                return Answer::refused(
                    2,
                    body(
                        SUBSCRIBE_FAILED,
                        Some("invalid_data"),
                        Some(core_events::REASON_NO_SUBSCRIBE),
                    ),
                );
            };
            if script.refuse_subscribe > 0 {
                if let Ok(mut s) = state.scripts.lock() {
                    s.broker.refuse_subscribe = s.broker.refuse_subscribe.saturating_sub(1);
                }
                let code = (!script.legacy).then_some("not_registered");
                return Answer::refused(
                    2,
                    body(SUBSCRIBE_FAILED, code, Some("Node is not registered")),
                );
            }
            if let Ok(mut subs) = state.subscriptions.lock() {
                let list = subs.entry(source.to_string()).or_default();
                if !list.iter().any(|p| p == pattern) {
                    list.push(pattern.to_string());
                }
            }
            let code = (!script.legacy).then_some("subscribed");
            Answer::ok(body("Successful subscribed to event", code, None))
        }
        core_events::UNSUBSCRIBE => {
            let pattern = member("unsubscribe").unwrap_or_default();
            let removed = state.subscriptions.lock().is_ok_and(|mut subs| {
                subs.get_mut(source).is_some_and(|list| {
                    let before = list.len();
                    list.retain(|p| p != pattern);
                    list.len() < before
                })
            });
            let mut data = body(
                "Successfully unsubscribed from event",
                Some("unsubscribed"),
                None,
            );
            data["removed"] = removed.into();
            Answer::ok(data)
        }
        core_events::PUBLISH => {
            let mut data = body("Event published", Some("published"), None);
            data["delivered"] = 0.into();
            data["failed"] = json!([]);
            Answer::ok(data)
        }
        core_events::NODES => Answer::ok(body(
            "Succesfully updated active nodes",
            Some("nodes_updated"),
            None,
        )),
        _ => no_handler(false),
    }
}
