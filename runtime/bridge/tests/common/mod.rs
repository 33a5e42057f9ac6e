//! Shared test set-up: a real mosquitto on an ephemeral loopback port, a µHome mesh
//! in-process, and an MQTT client that records what it receives.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};
use uhome_bridge::{BridgeConfig, MqttConfig, MqttVersion};
use uhome_runtime::broker::{self, BrokerConfig, BrokerHandle};
use uhome_runtime::client::Deadlines;
use uhome_runtime::registry::{self, RegistryConfig, RegistryHandle};
use uhome_runtime::security::Security;
use uhome_runtime::service::{Service, ServiceBuilder};
use uhome_runtime::{Client, OwnedEvent, Reply};

pub const LOOPBACK: &str = "127.0.0.1:0";

/// The mosquitto binary: on PATH, or where Debian installs it.
pub fn mosquitto_binary() -> Option<PathBuf> {
    let candidates = [
        "mosquitto",
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ];
    candidates.iter().map(PathBuf::from).find(|bin| {
        Command::new(bin)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// A mosquitto process, killed on drop.
pub struct Mosquitto {
    bin: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts mosquitto on a free loopback port; `None` (with a message) when it is not
    /// installed.
    pub async fn start() -> Option<Mosquitto> {
        Mosquitto::start_with(false, "allow_anonymous true\n").await
    }

    /// With `persistence`, retained messages outlive a [`Mosquitto::terminate`]; `settings`
    /// follow the loopback listener's line (more listeners may come after).
    pub async fn start_with(persistence: bool, settings: &str) -> Option<Mosquitto> {
        let Some(bin) = mosquitto_binary() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "mosquitto is not installed: .ci/run installs it, CI never skips these tests"
            );
            eprintln!(
                "SKIPPED: mosquitto is not installed (apt-get install -y mosquitto); \
                 this test needs a real MQTT broker"
            );
            return None;
        };
        let port = TcpListener::bind(LOOPBACK)
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut config = format!("user root\nlistener {port} 127.0.0.1\n");
        if persistence {
            config.push_str(&format!(
                "persistence true\npersistence_location {}/\n",
                dir.path().display()
            ));
        } else {
            config.push_str("persistence false\n");
        }
        config.push_str(settings);
        std::fs::write(dir.path().join("mosquitto.conf"), config).unwrap();
        let mut m = Mosquitto {
            bin,
            port,
            dir,
            child: None,
        };
        m.spawn().await;
        Some(m)
    }

    async fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("mosquitto did not listen on {addr}");
    }

    /// Kills the broker and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker with SIGTERM (it saves its state when persistent) and waits.
    pub fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn deadlines(ms: u64) -> Deadlines {
    let d = Duration::from_millis(ms);
    Deadlines {
        connect: d,
        write: d,
        read: d,
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind(LOOPBACK)
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A broker and a registry on loopback.
pub struct Mesh {
    pub broker: BrokerHandle,
    pub registry: RegistryHandle,
}

impl Mesh {
    pub async fn start() -> Mesh {
        Mesh::start_secured(None, None).await
    }

    /// With the registry's and the broker's security, when given.
    pub async fn start_secured(
        registry_security: Option<Arc<Security>>,
        broker_security: Option<Arc<Security>>,
    ) -> Mesh {
        let broker = broker::start(
            LOOPBACK,
            BrokerConfig {
                deadlines: deadlines(1000),
                security: broker_security,
                ..BrokerConfig::default()
            },
        )
        .await
        .unwrap();
        let registry = registry::start(
            LOOPBACK,
            RegistryConfig {
                broker: Some(broker.local_addr().to_string()),
                health_interval: Duration::from_secs(3600),
                deadlines: deadlines(1000),
                security: registry_security,
                ..RegistryConfig::default()
            },
        )
        .await
        .unwrap();
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

    /// A client publishing as `source`.
    pub fn client(&self, source: &str) -> Client {
        Client::with_deadlines(source, deadlines(1000))
    }

    /// A bridge config for this mesh and `mosquitto`, short backoff.
    pub fn bridge(&self, mosquitto: &Mosquitto, version: MqttVersion) -> BridgeConfig {
        BridgeConfig {
            registry: self.registry_addr(),
            broker: self.broker_addr(),
            mqtt: MqttConfig {
                port: mosquitto.port,
                version,
                client_id: format!("bridge-{}", uuid_ish()),
                ..MqttConfig::default()
            },
            backoff: (Duration::from_millis(50), Duration::from_millis(200)),
            ..BridgeConfig::new()
        }
    }

    pub async fn shutdown(self) {
        self.registry.shutdown().await;
        self.broker.shutdown().await;
    }
}

fn uuid_ish() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A µHome service that records the events it receives on `pattern`.
pub async fn recording_service(
    mesh: &Mesh,
    id: &str,
    pattern: &str,
) -> (Service, mpsc::UnboundedReceiver<OwnedEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let service = mesh
        .service(id)
        .handle(pattern, move |event: OwnedEvent| {
            let _ = tx.send(event);
            async { Reply::ok("Received") }
        })
        .subscribe(pattern)
        .start()
        .await
        .unwrap();
    (service, rx)
}

/// One MQTT message as a test client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// An MQTT 3.1.1 test client: subscribes to `filters` on every connection, records what it
/// receives.
pub struct MqttClient {
    pub client: AsyncClient,
    pub rx: mpsc::UnboundedReceiver<Received>,
    subscribed: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl MqttClient {
    pub async fn connect(port: u16, filters: &[&str]) -> MqttClient {
        MqttClient::connect_as(port, filters, None).await
    }

    /// With `login`: (user name, password).
    pub async fn connect_as(
        port: u16,
        filters: &[&str],
        login: Option<(&str, &str)>,
    ) -> MqttClient {
        let mut options = MqttOptions::new(format!("test-{}", uuid_ish()), "127.0.0.1", port);
        if let Some((user, password)) = login {
            options.set_credentials(user, password);
        }
        options.set_keep_alive(Duration::from_secs(5));
        options.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events) = AsyncClient::new(options, 1024);
        let (tx, rx) = mpsc::unbounded_channel();
        let (sub_tx, subscribed) = watch::channel(0u64);
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        let sub_client = client.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if filters.is_empty() {
                            sub_tx.send_modify(|n| *n += 1);
                        }
                        for f in &filters {
                            sub_client.subscribe(f, QoS::AtLeastOnce).await.unwrap();
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        sub_tx.send_modify(|n| *n += 1);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Received {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let mut c = MqttClient {
            client,
            rx,
            subscribed,
            task,
        };
        c.wait_subscribed(1).await;
        c
    }

    /// Waits until `n` subscriptions in all were acknowledged (or, without filters, `n`
    /// connections).
    pub async fn wait_subscribed(&mut self, n: u64) {
        tokio::time::timeout(
            Duration::from_secs(10),
            self.subscribed.wait_for(|s| *s >= n),
        )
        .await
        .expect("subscribed in time")
        .unwrap();
    }

    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .await
            .unwrap();
    }

    /// What arrives within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Received> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(r)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            out.push(r);
        }
        out
    }

    /// `n` messages, each within 5 s, then whatever else arrives within `quiet`: more
    /// than `n` when extras came.
    pub async fn take(&mut self, n: usize, quiet: Duration) -> Vec<Received> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.next(Duration::from_secs(5)).await);
        }
        out.extend(self.drain(quiet).await);
        out
    }

    /// The next message, within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Received {
        tokio::time::timeout(wait, self.rx.recv())
            .await
            .expect("an MQTT message in time")
            .unwrap()
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What arrives within `wait`.
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

/// `n` events, each within 5 s, then whatever else arrives within `quiet`.
pub async fn take(
    rx: &mut mpsc::UnboundedReceiver<OwnedEvent>,
    n: usize,
    quiet: Duration,
) -> Vec<OwnedEvent> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next(rx, Duration::from_secs(5)).await);
    }
    out.extend(drain(rx, quiet).await);
    out
}

/// The next event, within `wait`.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<OwnedEvent>, wait: Duration) -> OwnedEvent {
    tokio::time::timeout(wait, rx.recv())
        .await
        .expect("a µHome event in time")
        .unwrap()
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

/// A TCP relay to `target` that can be cut and restored on the same port: the µHome broker
/// going away and coming back, as the bridge sees it.
pub struct Relay {
    pub addr: std::net::SocketAddr,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    pub async fn start(target: &str) -> Relay {
        let listener = tokio::net::TcpListener::bind(LOOPBACK).await.unwrap();
        let mut relay = Relay {
            addr: listener.local_addr().unwrap(),
            target: target.to_string(),
            task: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Stops listening and drops every relayed connection.
    pub async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}
