//! Periodic health checks: a round checks every listed node, evicts those over the
//! threshold ([UH-REGISTRY-5]) and pushes the list either way ([UH-REGISTRY-6]).

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::state::{lock, RegistryInner};
use super::store::Record;
use super::LOG_TARGET;
use crate::config::MAX_HEALTH_CHECKS_IN_FLIGHT;
use crate::nodes::NodeEntry;

impl RegistryInner {
    /// One round of health checks.
    async fn health_round(self: &Arc<Self>) {
        let targets = self.list();
        let permits = Arc::new(Semaphore::new(MAX_HEALTH_CHECKS_IN_FLIGHT));
        let mut checks = JoinSet::new();
        for node in targets {
            let shared = self.clone();
            let permits = permits.clone();
            checks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let healthy = shared.healthy(&node.address).await;
                (node, healthy)
            });
        }
        let mut results: Vec<(NodeEntry, bool)> = Vec::new();
        while let Some(result) = checks.join_next().await {
            if let Ok(result) = result {
                results.push(result);
            }
        }
        let _change = self.changes.lock().await;
        let mut evicted = Vec::new();
        {
            let mut nodes = lock(&self.nodes);
            for (node, healthy) in results {
                // A node that moved or left during the round is not judged by it.
                let Some(entry) = nodes.iter_mut().find(|e| e.node == node) else {
                    continue;
                };
                entry.failures = if healthy { 0 } else { entry.failures + 1 };
                if entry.failures >= self.config.evict_after {
                    evicted.push(node.node_id);
                }
            }
            nodes.retain(|e| !evicted.contains(&e.node.node_id));
        }
        for node_id in evicted {
            tracing::warn!(target: LOG_TARGET, node = %node_id, "evicted after failed health checks");
            if let Err(e) = self.persist(Record::Unregister { node_id }).await {
                tracing::error!(target: LOG_TARGET, error = %e, "cannot write the registry state");
            }
        }
        self.bump();
    }
}

/// Runs a health round every `health_interval` until `stop`.
pub(super) fn spawn(shared: Arc<RegistryInner>, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(shared.config.health_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => shared.health_round().await,
                () = stop.cancelled() => return,
            }
        }
    })
}
