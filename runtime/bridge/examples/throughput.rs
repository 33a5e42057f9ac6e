//! Bridge throughput against a local mosquitto, side by side with direct MQTT and direct
//! µHome: messages per second for
//!
//! - MQTT → MQTT: one client publishes, another subscribes (the baseline);
//! - µHome → µHome: publishes through the broker to one service;
//! - µHome → MQTT: publishes through the broker, over the bridge, to an MQTT subscriber;
//! - MQTT → µHome: MQTT publishes, over the bridge, to a µHome service.
//!
//! All at QoS 1, so every message is counted. Run:
//! `cargo run --release -p uhome-bridge --example throughput -- [MESSAGES] [PUBLISHERS]`
//! (default 5000 messages, 16 concurrent µHome publishers). Needs `mosquitto` installed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use tokio::sync::{mpsc, Notify};
use uhome_bridge::{Bridge, BridgeConfig, FromMqtt, MqttConfig, ToMqtt};
use uhome_runtime::broker::{self, BrokerConfig};
use uhome_runtime::registry::{self, RegistryConfig};
use uhome_runtime::service::{self, Service};
use uhome_runtime::{Client, OwnedEvent, Reply};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn mosquitto() -> Option<PathBuf> {
    [
        "mosquitto",
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|bin| {
        Command::new(bin)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// An MQTT client that counts what arrives on `filter`; `done` fires at `expect`.
async fn counter(
    port: u16,
    id: &str,
    filter: &str,
    expect: u64,
) -> Result<(AsyncClient, Arc<AtomicU64>, Arc<Notify>)> {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(1000);
    let (client, mut events) = AsyncClient::new(options, 10_000);
    let count = Arc::new(AtomicU64::new(0));
    let done = Arc::new(Notify::new());
    let (subscribed_tx, mut subscribed) = mpsc::channel(1);
    client.subscribe(filter, QoS::AtLeastOnce).await?;
    let (c, d) = (count.clone(), done.clone());
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            match event {
                Event::Incoming(Packet::SubAck(_)) => {
                    let _ = subscribed_tx.try_send(());
                }
                Event::Incoming(Packet::Publish(_)) => {
                    let arrived = c.fetch_add(1, Ordering::Relaxed) + 1;
                    if arrived == expect {
                        d.notify_one();
                    }
                }
                _ => {}
            }
        }
    });
    subscribed.recv().await.ok_or("no SubAck")?;
    Ok((client, count, done))
}

/// An MQTT publisher.
fn publisher(port: u16, id: &str) -> AsyncClient {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(1000);
    let (client, mut events) = AsyncClient::new(options, 10_000);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    client
}

async fn wait(done: &Notify, count: &AtomicU64, expect: u64, what: &str) -> Result<()> {
    if tokio::time::timeout(Duration::from_secs(120), done.notified())
        .await
        .is_err()
    {
        return Err(format!(
            "{what}: {} of {expect} arrived in 120 s",
            count.load(Ordering::Relaxed)
        )
        .into());
    }
    Ok(())
}

/// Publishes `n` µHome events of `event_type` from `publishers` concurrent clients.
async fn uhome_publish(broker: &str, n: u64, publishers: u64, event_type: &str) -> Result<()> {
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let broker = broker.to_string();
        let event_type = event_type.to_string();
        let share = n / publishers + u64::from(p < n % publishers);
        tasks.push(tokio::spawn(async move {
            let client = Client::new(format!("bench/publisher-{p}"));
            for i in 0..share {
                service::publish(&client, &broker, &event_type, Some(&json!(i))).await?;
            }
            Ok::<(), uhome_runtime::service::ServiceError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

async fn bench(n: u64, publishers: u64) -> Result<()> {
    let Some(bin) = mosquitto() else {
        return Err("mosquitto is not installed (apt-get install -y mosquitto)".into());
    };
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\nmax_queued_messages 0\n"),
    )?;
    let mut mosquitto = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let outcome = async {
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let broker = broker::start("127.0.0.1:0", BrokerConfig::default()).await?;
        let b = broker.local_addr().to_string();
        let registry = registry::start(
            "127.0.0.1:0",
            RegistryConfig {
                broker: Some(b.clone()),
                ..RegistryConfig::default()
            },
        )
        .await?;
        let r = registry.local_addr().to_string();

        // MQTT → MQTT.
        let (_sub, count, done) = counter(port, "bench-baseline-sub", "baseline/#", n).await?;
        let publish = publisher(port, "bench-baseline-pub");
        let start = Instant::now();
        for i in 0..n {
            publish
                .publish("baseline/x", QoS::AtLeastOnce, false, i.to_string())
                .await?;
        }
        wait(&done, &count, n, "MQTT → MQTT").await?;
        let baseline = rate(n, start.elapsed());

        // µHome → µHome.
        let received = Arc::new(AtomicU64::new(0));
        let all = Arc::new(Notify::new());
        let (rc, ac) = (received.clone(), all.clone());
        let svc = Service::builder("bench/service")
            .registry(r.clone())
            .broker(b.clone())
            .handle(">", move |_: OwnedEvent| {
                let (rc, ac) = (rc.clone(), ac.clone());
                async move {
                    let got = rc.fetch_add(1, Ordering::Relaxed) + 1;
                    if got % n == 0 {
                        ac.notify_one();
                    }
                    Reply::ok("Received")
                }
            })
            .subscribe("direct.>")
            .subscribe("frommqtt.>")
            .start()
            .await?;
        let start = Instant::now();
        uhome_publish(&b, n, publishers, "direct.x").await?;
        wait(&all, &received, n, "µHome → µHome").await?;
        let direct = rate(n, start.elapsed());

        // The bridge, both directions.
        let bridge = Bridge::start(BridgeConfig {
            registry: r.clone(),
            broker: b.clone(),
            mqtt: MqttConfig {
                port,
                client_id: "bench-bridge".into(),
                ..MqttConfig::default()
            },
            to_mqtt: vec![ToMqtt {
                pattern: "tomqtt.>".into(),
                qos: 1,
                retain: false,
            }],
            from_mqtt: vec![FromMqtt {
                filter: "uhome/frommqtt/#".into(),
                qos: 1,
            }],
            buffer: n as usize,
            ..BridgeConfig::new()
        })
        .await?;
        bridge.ready().await?;

        let (_sub, count, done) = counter(port, "bench-bridge-sub", "uhome/tomqtt/#", n).await?;
        let start = Instant::now();
        uhome_publish(&b, n, publishers, "tomqtt.x").await?;
        wait(&done, &count, n, "µHome → MQTT").await?;
        let to_mqtt = rate(n, start.elapsed());

        let start = Instant::now();
        for i in 0..n {
            publish
                .publish("uhome/frommqtt/x", QoS::AtLeastOnce, false, i.to_string())
                .await?;
        }
        wait(&all, &received, 2 * n, "MQTT → µHome").await?;
        let from_mqtt = rate(n, start.elapsed());
        let stats = bridge.shutdown().await;

        println!("{n} messages each, QoS 1, loopback, {publishers} concurrent µHome publishers");
        println!("{:<34} {:>10}  {:>12}", "path", "msg/s", "× MQTT→MQTT");
        for (path, r) in [
            ("MQTT → MQTT (baseline)", baseline),
            ("µHome → µHome (no bridge)", direct),
            ("µHome → MQTT (bridge)", to_mqtt),
            ("MQTT → µHome (bridge)", from_mqtt),
        ] {
            println!("{path:<34} {r:>10.0}  {:>12.2}", r / baseline);
        }
        println!(
            "bridge: to MQTT forwarded {} dropped {}; from MQTT forwarded {} dropped {}",
            stats.to_mqtt.forwarded,
            stats.to_mqtt.dropped,
            stats.from_mqtt.forwarded,
            stats.from_mqtt.dropped
        );
        svc.shutdown().await;
        registry.shutdown().await;
        broker.shutdown().await;
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    let _ = mosquitto.kill();
    let _ = mosquitto.wait();
    outcome
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let n = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000u64);
    let publishers = args.next().and_then(|a| a.parse().ok()).unwrap_or(16u64);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("throughput: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(n.max(1), publishers.clamp(1, n.max(1)))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("throughput: {e}");
            ExitCode::FAILURE
        }
    }
}
