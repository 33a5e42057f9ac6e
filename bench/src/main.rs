//! `uhome-bench`: the µHome broker side by side with nats-server and mosquitto, on
//! loopback, interleaved in one run (µHome, then its peer, round after round), printing
//! the median of the rounds and the ratio of the medians.

mod measure;
mod mqtt;
mod nats;
mod procs;
mod report;
mod uhome;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use rumqttc::QoS;
use serde_json::{json, Value};

use crate::measure::Run;

#[derive(Parser, Clone)]
#[command(
    name = "uhome-bench",
    about = "The µHome broker side by side with nats-server and mosquitto, on loopback"
)]
pub struct Args {
    /// Rounds: every scenario runs once per round, µHome then its peer; the report gives
    /// the median of the rounds.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Length of each run.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1500ms")]
    pub duration: Duration,
    /// A short smoke run: one round of 300 ms runs.
    #[arg(long)]
    pub quick: bool,
    /// Concurrent requesters of the request/reply scenarios.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Publishers of the fan-out scenarios.
    #[arg(long, default_value_t = 8)]
    pub publishers: usize,
    /// Subscriber counts of the fan-out scenarios.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub subscribers: Vec<usize>,
    /// Payload size in bytes (the µHome event's `data` as JSON text, the NATS and MQTT
    /// message body).
    #[arg(long, default_value_t = 200)]
    pub payload: usize,
    /// The `uhome` binary [default: the workspace's target/release/uhome, built first].
    #[arg(long)]
    pub uhome: Option<PathBuf>,
    /// Do not run `cargo build --release -p uhome-cli --bin uhome` first.
    #[arg(long)]
    pub no_build: bool,
    /// nats-server binary [default: found on PATH].
    #[arg(long)]
    pub nats_server: Option<PathBuf>,
    /// mosquitto binary [default: found on PATH].
    #[arg(long)]
    pub mosquitto: Option<PathBuf>,
    /// Also write every figure, each run's and the medians, to this file as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Every run's figures, by series key (`uhome.fan.report.4`, `mosquitto.fan.qos1.4`, …).
#[derive(Default)]
pub struct Results {
    pub runs: BTreeMap<String, Vec<Run>>,
    /// VmRSS in KiB, by server and moment.
    pub memory: BTreeMap<String, Vec<u64>>,
}

impl Results {
    /// Waits until no broker is busy, then runs `run` and keeps its figures under `key`.
    async fn push(
        &mut self,
        key: String,
        servers: &[&procs::ServerProc],
        run: impl std::future::Future<Output = Result<Run, String>>,
    ) -> Result<(), String> {
        procs::quiesce(servers).await;
        let since = Instant::now();
        let run = run.await.map_err(|e| format!("{key}: {e}"))?;
        if run.errors > 0 {
            eprintln!(
                "  {key}: {} errors, last: {}",
                run.errors,
                run.last_error.as_deref().unwrap_or("?")
            );
        }
        eprintln!(
            "  {key:<28} {:>10.0}/s  ({:.0} operations/s; {:.1} s)",
            run.rate,
            run.ops_rate,
            since.elapsed().as_secs_f64()
        );
        self.runs.entry(key).or_default().push(run);
        Ok(())
    }

    fn memory(&mut self, key: &str, kib: Option<u64>) {
        if let Some(kib) = kib {
            self.memory.entry(key.to_string()).or_default().push(kib);
        }
    }
}

/// A peer server: found, started, or why not.
pub struct Peer<T> {
    pub server: Option<T>,
    pub status: String,
}

fn payload_json(size: usize) -> Value {
    // {"p":"xx…x"} is 8 bytes plus the string.
    json!({ "p": "x".repeat(size.saturating_sub(8)) })
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let (rounds, duration) = if args.quick {
        (1, Duration::from_millis(300))
    } else {
        (args.rounds.max(1), args.duration)
    };
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let binary = uhome::locate(args.uhome.clone(), !args.no_build)?;
    let started = Instant::now();
    let mesh = uhome::Mesh::start(&binary, dir.path()).await?;
    let nats = match args
        .nats_server
        .clone()
        .or_else(|| procs::find("nats-server"))
    {
        Some(bin) => {
            let version = procs::version_line(&bin, &["--version"]);
            Peer {
                server: Some(nats::Nats::start(&bin, dir.path()).await?),
                status: version,
            }
        }
        None => Peer {
            server: None,
            status: "not installed: skipped (apt-get install -y nats-server)".into(),
        },
    };
    let mosquitto = match args.mosquitto.clone().or_else(|| procs::find("mosquitto")) {
        Some(bin) => {
            let version = procs::version_line(&bin, &["-h"]);
            Peer {
                server: Some(mqtt::Mosquitto::start(&bin, dir.path()).await?),
                status: version,
            }
        }
        None => Peer {
            server: None,
            status: "not installed: skipped (apt-get install -y mosquitto)".into(),
        },
    };
    eprintln!("uhome: {}", binary.display());
    eprintln!("nats-server: {}", nats.status);
    eprintln!("mosquitto: {}", mosquitto.status);

    let mut results = Results::default();
    tokio::time::sleep(Duration::from_millis(500)).await;
    results.memory("uhome.idle", mesh.process.status_kib("VmRSS"));
    if let Some(m) = &mosquitto.server {
        results.memory("mosquitto.idle", m.process.status_kib("VmRSS"));
    }
    if let Some(n) = &nats.server {
        results.memory("nats.idle", n.process.status_kib("VmRSS"));
    }

    let mut servers = vec![&mesh.process];
    servers.extend(nats.server.as_ref().map(|n| &n.process));
    servers.extend(mosquitto.server.as_ref().map(|m| &m.process));
    let body = payload_json(args.payload);
    let bytes = Bytes::from(vec![b'x'; args.payload]);
    let mut tag = 0u64;
    let mut next = || {
        tag += 1;
        tag
    };
    for round in 1..=rounds {
        eprintln!("round {round} of {rounds}");
        for (workers, name) in [(1, "seq"), (args.concurrency, "concurrent")] {
            results
                .push(
                    format!("uhome.publish.{name}"),
                    &servers,
                    mesh.publish_round_trip(next(), workers, duration, &body),
                )
                .await?;
            if let Some(n) = &nats.server {
                results
                    .push(
                        format!("nats.request.{name}"),
                        &servers,
                        n.request_reply(next(), workers, duration, &bytes),
                    )
                    .await?;
            }
        }
        for &subs in &args.subscribers {
            results
                .push(
                    format!("uhome.fan.report.{subs}"),
                    &servers,
                    mesh.fan_out(next(), subs, args.publishers, true, duration, &body),
                )
                .await?;
            if let Some(m) = &mosquitto.server {
                results
                    .push(
                        format!("mosquitto.fan.qos1.{subs}"),
                        &servers,
                        m.fan_out(
                            next(),
                            subs,
                            args.publishers,
                            QoS::AtLeastOnce,
                            duration,
                            &bytes,
                        ),
                    )
                    .await?;
            }
        }
        for &subs in &args.subscribers {
            results
                .push(
                    format!("uhome.fan.nowait.{subs}"),
                    &servers,
                    mesh.fan_out(next(), subs, args.publishers, false, duration, &body),
                )
                .await?;
            if let Some(m) = &mosquitto.server {
                results
                    .push(
                        format!("mosquitto.fan.qos0.{subs}"),
                        &servers,
                        m.fan_out(
                            next(),
                            subs,
                            args.publishers,
                            QoS::AtMostOnce,
                            duration,
                            &bytes,
                        ),
                    )
                    .await?;
            }
            if let Some(n) = &nats.server {
                results
                    .push(
                        format!("nats.fan.{subs}"),
                        &servers,
                        n.fan_out(next(), subs, args.publishers, duration, &bytes),
                    )
                    .await?;
            }
        }
        results.memory("uhome.after", mesh.process.status_kib("VmRSS"));
        if let Some(m) = &mosquitto.server {
            results.memory("mosquitto.after", m.process.status_kib("VmRSS"));
        }
        if let Some(n) = &nats.server {
            results.memory("nats.after", n.process.status_kib("VmRSS"));
        }
        for (workers, name) in [(1, "seq"), (args.concurrency, "concurrent")] {
            results
                .push(
                    format!("uhome.direct.{name}"),
                    &servers,
                    uhome::direct(next(), workers, duration, &body),
                )
                .await?;
        }
    }
    results.memory("uhome.peak", mesh.process.status_kib("VmHWM"));
    if let Some(m) = &mosquitto.server {
        results.memory("mosquitto.peak", m.process.status_kib("VmHWM"));
    }
    if let Some(n) = &nats.server {
        results.memory("nats.peak", n.process.status_kib("VmHWM"));
    }
    let elapsed = started.elapsed();
    let setup = report::Setup {
        rounds,
        duration,
        concurrency: args.concurrency,
        publishers: args.publishers,
        subscribers: args.subscribers.clone(),
        payload: args.payload,
        uhome: binary.display().to_string(),
        nats: nats.status.clone(),
        mosquitto: mosquitto.status.clone(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        elapsed,
    };
    let table = report::Table::build(&setup, &results);
    print!("{}", table.text(&setup));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&table.json(&setup, &results))
            .map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("figures written to {}", path.display());
    }
    drop((mesh, nats, mosquitto));
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("uhome-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("uhome-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_json_payload_has_the_size_asked() {
        assert_eq!(super::payload_json(200).to_string().len(), 200);
    }
}
