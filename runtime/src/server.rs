//! The accept loop: one task per connection, a cap on connections that evicts the
//! longest-quiet connection rather than lock new clients out, graceful shutdown.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::inbound::{self, Activity, End};
use crate::node::Node;

/// A running server; dropping it does not stop it, [`ServerHandle::shutdown`] does.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token cancelled when the server shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, lets connections answer what they have received (within the
    /// node's grace period), and returns when all are closed.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Waits until the server stops.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves `node` on it.
pub async fn spawn(addr: impl ToSocketAddrs, node: Arc<Node>) -> io::Result<ServerHandle> {
    let listener = TcpListener::bind(addr).await?;
    Ok(spawn_on(listener, node))
}

/// Serves `node` on a bound listener.
pub fn spawn_on(listener: TcpListener, node: Arc<Node>) -> ServerHandle {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(accept_loop(listener, node, shutdown.clone()));
    ServerHandle {
        addr,
        shutdown,
        task,
    }
}

/// How long the accept loop waits for an evicted connection to free its slot before it asks
/// the next one.
const EVICTION_WAIT: Duration = Duration::from_millis(50);

/// The connections being served, by a serial number.
#[derive(Default)]
struct Open {
    connections: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Open {
    fn insert(&self, serial: u64, activity: Arc<Activity>) {
        self.lock().insert(serial, activity);
    }

    fn remove(&self, serial: u64) {
        self.lock().remove(&serial);
    }

    /// The connection quiet the longest, skipping those already asked.
    fn longest_quiet(&self, asked: &[u64]) -> Option<(u64, Arc<Activity>)> {
        self.lock()
            .iter()
            .filter(|(serial, _)| !asked.contains(serial))
            .filter_map(|(serial, a)| a.quiet_since().map(|t| (t, *serial, a.clone())))
            .min_by_key(|(t, serial, _)| (*t, *serial))
            .map(|(_, serial, a)| (serial, a))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A slot for a connection just accepted. At the cap, quiet connections are asked to close,
/// longest-quiet first ([UH-EXCHANGE-17]); when none is quiet, the new connection waits for
/// one to end ([UH-EXCHANGE-13]). `None` when the server is shutting down.
async fn slot(
    slots: &Arc<Semaphore>,
    open: &Open,
    shutdown: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    let mut asked = Vec::new();
    loop {
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return Some(permit);
        }
        let wait = match open.longest_quiet(&asked) {
            Some((serial, activity)) => {
                activity.evict();
                asked.push(serial);
                EVICTION_WAIT
            }
            None => {
                asked.clear();
                // Busy connections become quiet or end; look again soon.
                EVICTION_WAIT * 2
            }
        };
        tokio::select! {
            permit = tokio::time::timeout(wait, slots.clone().acquire_owned()) => match permit {
                Ok(Ok(permit)) => return Some(permit),
                Ok(Err(_)) => return None,
                Err(_) => {}
            },
            () = shutdown.cancelled() => return None,
        }
    }
}

async fn accept_loop(listener: TcpListener, node: Arc<Node>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(node.config().max_connections));
    let open = Arc::new(Open::default());
    let mut serial = 0u64;
    let mut accept_errors = 0u32;
    loop {
        while connections.try_join_next().is_some() {}
        // Wait for a slot before accepting while none is quiet, so that a flood of busy
        // connections leaves the rest in the listen backlog ([UH-EXCHANGE-13]).
        while slots.available_permits() == 0 && open.longest_quiet(&[]).is_none() {
            tokio::select! {
                permit = tokio::time::timeout(EVICTION_WAIT * 2, slots.clone().acquire_owned()) => {
                    if let Ok(Err(_)) = permit {
                        break;
                    }
                }
                () = shutdown.cancelled() => break,
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => {
                accept_errors = 0;
                conn
            }
            Err(e) => {
                // Out of descriptors and the like: free one held by a quiet connection
                // ([UH-EXCHANGE-17]) and back off instead of spinning.
                accept_errors = accept_errors.saturating_add(1);
                tracing::warn!(error = %e, "accept failed");
                if let Some((_, quiet)) = open.longest_quiet(&[]) {
                    quiet.evict();
                }
                tokio::time::sleep(Duration::from_millis(
                    10 * u64::from(accept_errors.min(100)),
                ))
                .await;
                continue;
            }
        };
        let Some(permit) = slot(&slots, &open, &shutdown).await else {
            break;
        };
        let _ = stream.set_nodelay(true);
        serial += 1;
        let id = serial;
        let activity = Arc::new(Activity::new());
        open.insert(id, activity.clone());
        let node = node.clone();
        let shutdown = shutdown.clone();
        let open = open.clone();
        connections.spawn(async move {
            let end =
                inbound::serve_tracked(stream, Some(peer.ip()), &node, &shutdown, &activity).await;
            match end {
                End::Io(e) => tracing::debug!(%peer, error = %e, "connection failed"),
                End::Evicted => {
                    tracing::debug!(%peer, "quiet connection closed to serve a new one")
                }
                other => tracing::trace!(%peer, end = ?other, "connection closed"),
            }
            open.remove(id);
            drop(permit);
        });
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(node.config().shutdown_grace, drain)
        .await
        .is_err()
    {
        tracing::warn!(node = %node.id(), open = connections.len(), "closing connections still open after the grace period");
        connections.shutdown().await;
    }
}
