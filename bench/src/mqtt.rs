//! The MQTT side: mosquitto as a child process with a generated configuration, clients
//! through rumqttc.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::measure::{self, Run};
use crate::procs::{free_port, ServerProc};

pub struct Mosquitto {
    pub process: ServerProc,
    pub port: u16,
}

fn options(id: String, port: u16) -> MqttOptions {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    options
}

impl Mosquitto {
    /// Starts mosquitto with `listener PORT 127.0.0.1` and anonymous clients allowed.
    pub async fn start(binary: &Path, dir: &Path) -> Result<Mosquitto, String> {
        let port = free_port()?;
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
        )
        .map_err(|e| format!("{}: {e}", config.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("-c").arg(&config);
        let process =
            ServerProc::spawn("mosquitto", cmd, dir.join("mosquitto.log"), &[port]).await?;
        Ok(Mosquitto { process, port })
    }

    /// `publishers` clients publishing at `qos` to `subscribers` clients subscribed at
    /// `qos`; counts messages the subscribers received.
    pub async fn fan_out(
        &self,
        tag: u64,
        subscribers: usize,
        publishers: usize,
        qos: QoS,
        duration: Duration,
        payload: &Bytes,
    ) -> Result<Run, String> {
        let topic = format!("bench/fan/{tag}");
        let received = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        let mut tasks: Vec<JoinHandle<()>> = Vec::new();
        for i in 0..subscribers {
            let (client, mut events) =
                AsyncClient::new(options(format!("bench-sub-{tag}-{i}"), self.port), 64);
            client
                .subscribe(topic.clone(), qos)
                .await
                .map_err(|e| e.to_string())?;
            let (acked, ack) = oneshot::channel();
            let received = received.clone();
            tasks.push(tokio::spawn(async move {
                let mut acked = Some(acked);
                loop {
                    match events.poll().await {
                        Ok(Event::Incoming(Packet::Publish(_))) => {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            if let Some(acked) = acked.take() {
                                let _ = acked.send(());
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            }));
            tokio::time::timeout(Duration::from_secs(5), ack)
                .await
                .map_err(|_| format!("mosquitto: subscriber {i} not acknowledged in 5 s"))?
                .map_err(|_| format!("mosquitto: subscriber {i} lost its connection"))?;
            clients.push(client);
        }
        let mut senders = Vec::new();
        for i in 0..publishers {
            let (client, mut events) =
                AsyncClient::new(options(format!("bench-pub-{tag}-{i}"), self.port), 64);
            tasks.push(tokio::spawn(
                async move { while events.poll().await.is_ok() {} },
            ));
            senders.push(client);
        }
        let senders = Arc::new(senders);
        let payload = payload.clone();
        let run = measure::run(duration, publishers, Some(received), Some(&self.process), {
            let senders = senders.clone();
            move |worker| {
                let client = senders.get(worker).cloned();
                let (topic, payload) = (topic.clone(), payload.clone());
                async move {
                    let client = client.ok_or("no connection")?;
                    client
                        .publish_bytes(topic, qos, false, payload)
                        .await
                        .map(|_| 1)
                        .map_err(|e| e.to_string())
                }
            }
        })
        .await;
        for client in clients.iter().chain(senders.iter()) {
            let _ = client.try_disconnect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        for task in tasks {
            task.abort();
        }
        run
    }
}
