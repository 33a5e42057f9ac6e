//! The accept loop: one task per connection, a cap on connections, graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::inbound::{self, End};
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

async fn accept_loop(listener: TcpListener, node: Arc<Node>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    // Past the cap, connections wait in the listen backlog until a slot frees
    // ([UH-EXCHANGE-13]).
    let slots = Arc::new(Semaphore::new(node.config().max_connections));
    let mut accept_errors = 0u32;
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            () = shutdown.cancelled() => break,
        };
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
                // Out of descriptors and the like: back off instead of spinning.
                accept_errors = accept_errors.saturating_add(1);
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(
                    10 * u64::from(accept_errors.min(100)),
                ))
                .await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let node = node.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let end = inbound::serve(stream, &node, &shutdown).await;
            match end {
                End::Io(e) => tracing::debug!(%peer, error = %e, "connection failed"),
                other => tracing::trace!(%peer, end = ?other, "connection closed"),
            }
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
