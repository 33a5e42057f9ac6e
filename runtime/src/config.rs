//! Defaults: every timeout, limit and port the runtime uses, in one place.

use std::time::Duration;

/// The broker's port, as in v0.0.1.
pub const BROKER_PORT: u16 = 5100;
/// The registry's port, as in v0.0.1.
pub const REGISTRY_PORT: u16 = 5101;
/// The demo service's port, as in v0.0.1.
pub const SERVICE_PORT: u16 = 5102;

/// Close a connection with no complete frame for this long ([UH-EXCHANGE-6]).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; past it, connections wait in the listen backlog
/// ([UH-EXCHANGE-13]).
pub const MAX_CONNECTIONS: usize = 1024;
/// Handlers running at once across all connections of a node.
pub const MAX_HANDLERS_IN_FLIGHT: usize = 256;
/// A handler that takes longer is answered `internal` ([UH-REPLY-7]).
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(10);
/// Writing one reply; a client that does not read is disconnected.
pub const REPLY_WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a node shutting down lets in-flight requests finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Client deadlines: connect, write, read — each, as v0.0.1 ([UH-EXCHANGE-12]).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

/// Registry: interval of periodic health checks ([UH-REGISTRY-5]).
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(10);
/// Registry: consecutive failed checks before eviction ([UH-REGISTRY-5]).
pub const EVICT_AFTER: u32 = 3;
/// Registry: health checks running at once.
pub const MAX_HEALTH_CHECKS_IN_FLIGHT: usize = 64;
/// Registry: first and longest pause between retries of a failed list push
/// ([UH-REGISTRY-4]).
pub const PUSH_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// Registry: log records written before the log is compacted into a snapshot.
pub const COMPACT_AFTER_RECORDS: usize = 1000;

/// Broker: deliveries in flight at once ([UH-SECURITY-4]).
pub const MAX_DELIVERIES_IN_FLIGHT: usize = 256;
/// Broker: deliveries in flight at once to one subscriber ([UH-BROKER-11]).
pub const MAX_DELIVERIES_PER_SUBSCRIBER: usize = 16;

/// Service: first and longest pause between attempts to reach the registry or the broker
/// ([UH-SERVICE-6]).
pub const SERVICE_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(10));
/// Service: how often a registered service checks that the registry lists it and sends its
/// subscriptions again ([UH-SERVICE-7]).
pub const SERVICE_REFRESH: Duration = Duration::from_secs(10);
/// Service: the longest refresh interval the specification allows ([UH-SERVICE-7]).
pub const MAX_SERVICE_REFRESH: Duration = Duration::from_secs(30);

/// Settings of a node's server side.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// [`IDLE_TIMEOUT`]
    pub idle_timeout: Duration,
    /// [`MAX_CONNECTIONS`]
    pub max_connections: usize,
    /// [`MAX_HANDLERS_IN_FLIGHT`]
    pub max_handlers_in_flight: usize,
    /// [`HANDLER_TIMEOUT`]
    pub handler_timeout: Duration,
    /// [`REPLY_WRITE_TIMEOUT`]
    pub write_timeout: Duration,
    /// [`SHUTDOWN_GRACE`]
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_handlers_in_flight: MAX_HANDLERS_IN_FLIGHT,
            handler_timeout: HANDLER_TIMEOUT,
            write_timeout: REPLY_WRITE_TIMEOUT,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// Exponential backoff: `first`, doubling, capped at `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first`.
    pub fn new((first, max): (Duration, Duration)) -> Self {
        Backoff { next: first, max }
    }

    /// The next pause.
    pub fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }
}
