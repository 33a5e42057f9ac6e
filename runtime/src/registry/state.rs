//! The registry's state: the list with each node's failed checks, the log it is kept in, and
//! the versions of the list wanted at and pushed to the broker.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use uhome_protocol::core_events::HEALTHCHECK;

use super::store::{Record, Store};
use super::RegistryConfig;
use crate::client::Client;
use crate::config::COMPACT_AFTER_RECORDS;
use crate::nodes::NodeEntry;

/// A listed node and its failed health checks in a row.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) node: NodeEntry,
    pub(super) failures: u32,
}

pub(super) struct RegistryInner {
    pub(super) config: RegistryConfig,
    pub(super) client: Client,
    /// Health-checks: connects only where the outbound allow-list allows ([UH-AUTH-25]).
    pub(super) peers: Client,
    pub(super) nodes: Mutex<Vec<Entry>>,
    /// Serializes changes of the list with their log records.
    pub(super) changes: tokio::sync::Mutex<()>,
    pub(super) store: Option<Arc<Mutex<Store>>>,
    /// Version of the list the broker should have; bumped on every change.
    pub(super) wanted: watch::Sender<u64>,
    /// Version of the last list whose push was attempted.
    pub(super) attempted: watch::Receiver<u64>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RegistryInner {
    /// The list, in registration order.
    pub(super) fn list(&self) -> Vec<NodeEntry> {
        lock(&self.nodes).iter().map(|e| e.node.clone()).collect()
    }

    /// Marks the list changed: the pusher sends it ([UH-REGISTRY-4]).
    pub(super) fn bump(&self) -> u64 {
        let mut version = 0;
        self.wanted.send_modify(|v| {
            *v += 1;
            version = *v;
        });
        version
    }

    /// Whether the node at `address` answers a healthcheck with success ([UH-CORE-2]).
    pub(super) async fn healthy(&self, address: &str) -> bool {
        matches!(self.peers.request(address, HEALTHCHECK, None).await, Ok(reply) if reply.is_success())
    }

    /// Appends `record` to the log (compacting it now and then) before the change is
    /// answered ([UH-REGISTRY-10]).
    pub(super) async fn persist(&self, record: Record) -> std::io::Result<()> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let snapshot = self.list();
        tokio::task::spawn_blocking(move || {
            let mut store = lock(&store);
            store.append(&record)?;
            if store.appended() >= COMPACT_AFTER_RECORDS {
                store.compact(&snapshot)?;
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Waits until the push of list `version` has been attempted ([UH-REGISTRY-4]).
    pub(super) async fn pushed(&self, version: u64) {
        let mut attempted = self.attempted.clone();
        let limit = self.config.deadlines.connect
            + self.config.deadlines.write
            + self.config.deadlines.read;
        let _ = tokio::time::timeout(limit, attempted.wait_for(|&v| v >= version)).await;
    }
}
