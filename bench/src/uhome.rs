//! The µHome side: `uhome mesh` as a child process, subscribers as services in this process,
//! publishers through `uhome_runtime::service`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use uhome_runtime::service::{self, Service};
use uhome_runtime::{Client, PublishOutcome, Reply};

use crate::measure::{self, Run};
use crate::procs::{free_port, ServerProc};

/// The broker and the registry in one `uhome mesh` process.
pub struct Mesh {
    pub process: ServerProc,
    pub broker: String,
    pub registry: String,
}

/// The `uhome` binary: `explicit`, or the workspace's release build, built first unless
/// `build` is false.
pub fn locate(explicit: Option<PathBuf>, build: bool) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("--uhome {}: no such file", path.display()))
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = root.join("target/release/uhome");
    if build {
        eprintln!("building uhome: cargo build --release -p uhome-cli --bin uhome");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "uhome-cli", "--bin", "uhome"])
            .current_dir(&root)
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("cargo build of uhome failed ({status})"));
        }
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} not found: build it (cargo build --release -p uhome-cli --bin uhome) or pass --uhome",
            binary.display()
        ))
    }
}

impl Mesh {
    /// Starts `uhome mesh --memory` on two ephemeral loopback ports.
    pub async fn start(binary: &Path, dir: &Path) -> Result<Mesh, String> {
        let broker = format!("127.0.0.1:{}", free_port()?);
        let registry = format!("127.0.0.1:{}", free_port()?);
        let mut cmd = Command::new(binary);
        cmd.args([
            "mesh",
            "--memory",
            "--broker-listen",
            &broker,
            "--registry-listen",
            &registry,
        ]);
        let ports: Vec<u16> = [&broker, &registry]
            .iter()
            .filter_map(|a| a.rsplit(':').next()?.parse().ok())
            .collect();
        let process =
            ServerProc::spawn("uhome mesh", cmd, dir.join("uhome-mesh.log"), &ports).await?;
        Ok(Mesh {
            process,
            broker,
            registry,
        })
    }

    /// `n` subscriber services of `event_type`, each counting into `received`; returns once
    /// a publish reaches all of them.
    async fn subscribers(
        &self,
        tag: u64,
        n: usize,
        event_type: &str,
        payload: &Value,
        received: &Arc<AtomicU64>,
    ) -> Result<Vec<Service>, String> {
        let started = futures_util::future::join_all((0..n).map(|i| {
            let received = received.clone();
            Service::builder(format!("bench/sub-{tag}-{i}"))
                .registry(self.registry.clone())
                .broker(self.broker.clone())
                .handle(event_type, move |_| {
                    received.fetch_add(1, Ordering::Relaxed);
                    async { Reply::ok("Received") }
                })
                .subscribe(event_type)
                .give_up_after(Some(Duration::from_secs(10)))
                .start()
        }))
        .await;
        let mut services = Vec::new();
        let mut failure = None;
        for (i, service) in started.into_iter().enumerate() {
            match service {
                Ok(service) => services.push(service),
                Err(e) => failure = Some(format!("subscriber {i}: {e}")),
            }
        }
        if let Some(failure) = failure {
            stop(services).await;
            return Err(failure);
        }
        let client = Client::new("bench/check");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let report = service::publish(&client, &self.broker, event_type, Some(payload))
                .await
                .map_err(|e| e.to_string())?;
            if report.delivered == n as u64 {
                return Ok(services);
            }
            if Instant::now() > deadline {
                stop(services).await;
                return Err(format!(
                    "the broker delivers to {} of {n} subscribers after 10 s",
                    report.delivered
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes with a delivery report to one subscriber, `workers` at a time; counts
    /// publishes reported delivered.
    pub async fn publish_round_trip(
        &self,
        tag: u64,
        workers: usize,
        duration: Duration,
        payload: &Value,
    ) -> Result<Run, String> {
        let event_type = format!("bench.rr.{tag}");
        let received = Arc::new(AtomicU64::new(0));
        let services = self
            .subscribers(tag, 1, &event_type, payload, &received)
            .await?;
        let client = Client::new("bench/publisher");
        let (broker, payload) = (Arc::new(self.broker.clone()), Arc::new(payload.clone()));
        let event_type = Arc::new(event_type);
        let run = measure::run(duration, workers, None, Some(&self.process), move |_| {
            let (client, broker, payload, event_type) = (
                client.clone(),
                broker.clone(),
                payload.clone(),
                event_type.clone(),
            );
            async move {
                let report = service::publish(&client, &broker, &event_type, Some(&payload))
                    .await
                    .map_err(|e| e.to_string())?;
                if report.delivered == 1 && report.failed.is_empty() {
                    Ok(1)
                } else {
                    Err(format!(
                        "delivered {}, failed {:?}",
                        report.delivered, report.failed
                    ))
                }
            }
        })
        .await;
        stop(services).await;
        run
    }

    /// `publishers` loops publishing to `subscribers` services, with a delivery report
    /// (`wait`) or without; counts deliveries the subscribers received.
    pub async fn fan_out(
        &self,
        tag: u64,
        subscribers: usize,
        publishers: usize,
        wait: bool,
        duration: Duration,
        payload: &Value,
    ) -> Result<Run, String> {
        let event_type = format!("bench.fan.{tag}");
        let received = Arc::new(AtomicU64::new(0));
        let services = self
            .subscribers(tag, subscribers, &event_type, payload, &received)
            .await?;
        let client = Client::new("bench/publisher");
        let (broker, payload) = (Arc::new(self.broker.clone()), Arc::new(payload.clone()));
        let event_type = Arc::new(event_type);
        let expected = subscribers as u64;
        let run = measure::run(
            duration,
            publishers,
            Some(received),
            Some(&self.process),
            move |_| {
                let (client, broker, payload, event_type) = (
                    client.clone(),
                    broker.clone(),
                    payload.clone(),
                    event_type.clone(),
                );
                async move {
                    if wait {
                        let report =
                            service::publish(&client, &broker, &event_type, Some(&payload))
                                .await
                                .map_err(|e| e.to_string())?;
                        if report.delivered < expected {
                            return Err(format!(
                                "delivered {} of {expected}, failed {:?}",
                                report.delivered, report.failed
                            ));
                        }
                    } else {
                        let outcome = service::publish_without_waiting(
                            &client,
                            &broker,
                            &event_type,
                            Some(&payload),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                        if let PublishOutcome::Queued(n) = outcome {
                            if n < expected {
                                return Err(format!("queued {n} of {expected}"));
                            }
                        }
                    }
                    Ok(1)
                }
            },
        )
        .await;
        stop(services).await;
        run
    }
}

/// Request/reply straight to a service, no broker: `workers` clients at a time.
pub async fn direct(
    tag: u64,
    workers: usize,
    duration: Duration,
    payload: &Value,
) -> Result<Run, String> {
    let service = Service::builder(format!("bench/echo-{tag}"))
        .handle("bench.echo", |_| async { Reply::ok("Received") })
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let target = Arc::new(service.local_addr().to_string());
    let client = Client::new("bench/client");
    let payload = Arc::new(payload.clone());
    let run = measure::run(duration, workers, None, None, move |_| {
        let (client, target, payload) = (client.clone(), target.clone(), payload.clone());
        async move {
            let reply = client
                .request(&target, "bench.echo", Some(&payload))
                .await
                .map_err(|e| e.to_string())?;
            if reply.is_success() {
                Ok(1)
            } else {
                Err(reply.describe())
            }
        }
    })
    .await;
    service.shutdown().await;
    run
}

async fn stop(services: Vec<Service>) {
    futures_util::future::join_all(services.into_iter().map(Service::shutdown)).await;
}
