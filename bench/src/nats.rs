//! The NATS side: nats-server as a child process, clients through async-nats.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::measure::{self, Run};
use crate::procs::{free_port, ServerProc};

pub struct Nats {
    pub process: ServerProc,
    pub addr: String,
}

async fn connect(addr: &str) -> Result<async_nats::Client, String> {
    async_nats::connect(addr)
        .await
        .map_err(|e| format!("nats connect {addr}: {e}"))
}

async fn connections(addr: &str, n: usize) -> Result<Arc<Vec<async_nats::Client>>, String> {
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(connect(addr).await?);
    }
    Ok(Arc::new(clients))
}

impl Nats {
    /// Starts `nats-server -a 127.0.0.1 -p PORT`.
    pub async fn start(binary: &Path, dir: &Path) -> Result<Nats, String> {
        let port = free_port()?;
        let mut cmd = Command::new(binary);
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        let process = ServerProc::spawn("nats-server", cmd, dir.join("nats.log"), &[port]).await?;
        Ok(Nats {
            process,
            addr: format!("nats://127.0.0.1:{port}"),
        })
    }

    /// Request/reply to one responder, `workers` requesters each on its own connection.
    pub async fn request_reply(
        &self,
        tag: u64,
        workers: usize,
        duration: Duration,
        payload: &Bytes,
    ) -> Result<Run, String> {
        let subject = format!("bench.rr.{tag}");
        let responder = connect(&self.addr).await?;
        let mut requests = responder
            .subscribe(subject.clone())
            .await
            .map_err(|e| e.to_string())?;
        responder.flush().await.map_err(|e| e.to_string())?;
        let answering = responder.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = requests.next().await {
                if let Some(reply) = message.reply {
                    let _ = answering.publish(reply, Bytes::from_static(b"ok")).await;
                }
            }
        });
        let clients = connections(&self.addr, workers).await?;
        let payload = payload.clone();
        let run = measure::run(
            duration,
            workers,
            None,
            Some(&self.process),
            move |worker| {
                let client = clients.get(worker).cloned();
                let (subject, payload) = (subject.clone(), payload.clone());
                async move {
                    let client = client.ok_or("no connection")?;
                    client
                        .request(subject, payload)
                        .await
                        .map(|_| 1)
                        .map_err(|e| e.to_string())
                }
            },
        )
        .await;
        task.abort();
        run
    }

    /// Core publish (no acknowledgement) from `publishers` connections to `subscribers`
    /// connections; counts messages received.
    pub async fn fan_out(
        &self,
        tag: u64,
        subscribers: usize,
        publishers: usize,
        duration: Duration,
        payload: &Bytes,
    ) -> Result<Run, String> {
        let subject = format!("bench.fan.{tag}");
        let received = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..subscribers {
            let client = connect(&self.addr).await?;
            let mut messages = client
                .subscribe(subject.clone())
                .await
                .map_err(|e| e.to_string())?;
            client.flush().await.map_err(|e| e.to_string())?;
            let received = received.clone();
            tasks.push(tokio::spawn(async move {
                let _client = client;
                while messages.next().await.is_some() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        let clients = connections(&self.addr, publishers).await?;
        let payload = payload.clone();
        let run = measure::run(
            duration,
            publishers,
            Some(received),
            Some(&self.process),
            move |worker| {
                let client = clients.get(worker).cloned();
                let (subject, payload) = (subject.clone(), payload.clone());
                async move {
                    let client = client.ok_or("no connection")?;
                    client
                        .publish(subject, payload)
                        .await
                        .map(|_| 1)
                        .map_err(|e| e.to_string())
                }
            },
        )
        .await;
        for task in tasks {
            task.abort();
        }
        run
    }
}
