//! Services: a builder for a node with application handlers, that registers with the
//! registry, subscribes through the broker, publishes, and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use uhome_protocol::core::{self, pattern_matches, pattern_ok};
use uhome_protocol::Event;

use crate::client::{Client, ClientError, Deadlines, ReplyEvent};
use crate::config::{Backoff, ServerConfig, SERVICE_BACKOFF, SERVICE_RETRIES};
use crate::node::{Dispatch, Node, ReplyFuture};
use crate::reply::Reply;
use crate::request::Request;
use crate::server::{self, ServerHandle};

/// An application handler.
pub type Handler = Arc<dyn Fn(Request) -> ReplyFuture + Send + Sync>;

/// Why a service could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A handler or subscription pattern is not valid ([UH-BROKER-3]).
    #[error("invalid pattern {0:?}")]
    Pattern(String),
    /// No registry or broker address was configured for the operation.
    #[error("no {0} address configured")]
    NotConfigured(&'static str),
    /// A peer could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A peer refused.
    #[error("{peer} refused: {code} — {message}{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Refused {
        /// `registry` or `broker`.
        peer: &'static str,
        /// The reply's code.
        code: String,
        /// The reply's message.
        message: String,
        /// The reply's reason.
        reason: Option<String>,
    },
}

impl ServiceError {
    fn refused(peer: &'static str, reply: &ReplyEvent) -> ServiceError {
        ServiceError::Refused {
            peer,
            code: reply.code().unwrap_or_default(),
            message: reply.message().unwrap_or_default(),
            reason: reply.reason(),
        }
    }
}

/// What the broker reported for a publish ([UH-BROKER-9]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// Deliveries that got a reply.
    pub delivered: u64,
    /// Node ids whose delivery failed.
    pub failed: Vec<String>,
}

/// Builds a [`Service`].
pub struct ServiceBuilder {
    id: String,
    listen: String,
    advertise: Option<String>,
    registry: Option<String>,
    broker: Option<String>,
    handlers: Vec<(String, Handler)>,
    subscriptions: Vec<String>,
    server: ServerConfig,
    deadlines: Deadlines,
}

impl ServiceBuilder {
    /// A service with node id `id`, listening on 127.0.0.1 on an ephemeral port.
    pub fn new(id: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder {
            id: id.into(),
            listen: "127.0.0.1:0".into(),
            advertise: None,
            registry: None,
            broker: None,
            handlers: Vec::new(),
            subscriptions: Vec::new(),
            server: ServerConfig::default(),
            deadlines: Deadlines::default(),
        }
    }

    /// Where to listen (port 0 picks one).
    pub fn listen(mut self, addr: impl Into<String>) -> Self {
        self.listen = addr.into();
        self
    }

    /// The address to register (default: the bound address).
    pub fn advertise(mut self, addr: impl Into<String>) -> Self {
        self.advertise = Some(addr.into());
        self
    }

    /// Registers with this registry on start and unregisters on shutdown.
    pub fn registry(mut self, addr: impl Into<String>) -> Self {
        self.registry = Some(addr.into());
        self
    }

    /// Subscribes and publishes through this broker.
    pub fn broker(mut self, addr: impl Into<String>) -> Self {
        self.broker = Some(addr.into());
        self
    }

    /// Handles events whose type matches `pattern` ([UH-BROKER-3] syntax; a plain type
    /// matches itself). The first matching handler, in the order added, answers.
    pub fn handle<F, Fut>(mut self, pattern: impl Into<String>, handler: F) -> Self
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |request| Box::pin(handler(request)));
        self.handlers.push((pattern.into(), handler));
        self
    }

    /// Subscribes to `pattern` on start, after registering.
    pub fn subscribe(mut self, pattern: impl Into<String>) -> Self {
        self.subscriptions.push(pattern.into());
        self
    }

    /// Server limits and timeouts.
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.server = config;
        self
    }

    /// Client deadlines for calls to the registry and the broker.
    pub fn deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Binds, serves, then registers (only once the listener is bound, so the registry's
    /// health check reaches it) and subscribes.
    pub async fn start(self) -> Result<Service, ServiceError> {
        for pattern in self
            .handlers
            .iter()
            .map(|(p, _)| p)
            .chain(&self.subscriptions)
        {
            if !pattern_ok(pattern) {
                return Err(ServiceError::Pattern(pattern.clone()));
            }
        }
        let dispatch = Arc::new(Handlers {
            handlers: self.handlers,
        });
        let node = Arc::new(Node::new(self.id.clone(), dispatch, self.server));
        let server =
            server::spawn(&self.listen, node)
                .await
                .map_err(|source| ServiceError::Bind {
                    addr: self.listen.clone(),
                    source,
                })?;
        let advertised = self
            .advertise
            .unwrap_or_else(|| server.local_addr().to_string());
        let service = Service {
            client: Client::with_deadlines(self.id.clone(), self.deadlines),
            id: self.id,
            advertised,
            registry: self.registry,
            broker: self.broker,
            server,
        };
        if let Err(e) = service.register().await {
            service.server.shutdown().await;
            return Err(e);
        }
        for pattern in &self.subscriptions {
            if let Err(e) = service.subscribe(pattern).await {
                service.shutdown().await;
                return Err(e);
            }
        }
        Ok(service)
    }
}

struct Handlers {
    handlers: Vec<(String, Handler)>,
}

impl Dispatch for Handlers {
    fn dispatch(&self, version: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let event_type = event.event_type.to_string();
        let (_, handler) = self
            .handlers
            .iter()
            .find(|(pattern, _)| *pattern == event_type)
            .or_else(|| {
                self.handlers
                    .iter()
                    .find(|(pattern, _)| pattern_matches(pattern, &event_type))
            })?;
        Some(handler(Request::from_event(version, event)))
    }
}

/// A running service.
pub struct Service {
    id: String,
    advertised: String,
    registry: Option<String>,
    broker: Option<String>,
    client: Client,
    server: ServerHandle,
}

impl Service {
    /// A builder.
    pub fn builder(id: impl Into<String>) -> ServiceBuilder {
        ServiceBuilder::new(id)
    }

    /// The node id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The address given to the registry.
    pub fn advertised(&self) -> &str {
        &self.advertised
    }

    /// A client speaking as this service.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls `peer` with retries and backoff while it is unreachable or answers one of
    /// `retry_codes`.
    async fn call(
        &self,
        peer: &'static str,
        addr: &str,
        event_type: &str,
        data: &Value,
        retry_codes: &[&str],
    ) -> Result<ReplyEvent, ServiceError> {
        let mut backoff = Backoff::new(SERVICE_BACKOFF);
        let mut attempt = 1;
        loop {
            let outcome = self.client.request(addr, event_type, Some(data)).await;
            let retry = match &outcome {
                Ok(reply) if reply.is_success() => return Ok(reply.clone()),
                Ok(reply) => reply
                    .code()
                    .is_some_and(|c| retry_codes.contains(&c.as_str())),
                Err(_) => true,
            };
            if !retry || attempt >= SERVICE_RETRIES {
                return match outcome {
                    Ok(reply) => Err(ServiceError::refused(peer, &reply)),
                    Err(e) => Err(e.into()),
                };
            }
            tracing::debug!(node = %self.id, peer, attempt, "retrying {event_type}");
            tokio::time::sleep(backoff.pause()).await;
            attempt += 1;
        }
    }

    async fn register(&self) -> Result<(), ServiceError> {
        let Some(registry) = &self.registry else {
            return Ok(());
        };
        let data = json!({ "nodeId": self.id, "address": self.advertised });
        self.call("registry", registry, core::REGISTER, &data, &[])
            .await?;
        tracing::info!(node = %self.id, address = %self.advertised, "registered");
        Ok(())
    }

    fn broker(&self) -> Result<&str, ServiceError> {
        self.broker
            .as_deref()
            .ok_or(ServiceError::NotConfigured("broker"))
    }

    /// Subscribes to `pattern`, retrying while the broker does not know the node yet (a
    /// v0.0.1 registry pushes the list after answering the registration).
    pub async fn subscribe(&self, pattern: &str) -> Result<(), ServiceError> {
        let data = json!({ "subscribe": pattern });
        self.call(
            "broker",
            self.broker()?,
            core::SUBSCRIBE,
            &data,
            &["not_registered"],
        )
        .await?;
        tracing::info!(node = %self.id, pattern, "subscribed");
        Ok(())
    }

    /// Removes the subscription to `pattern`; returns whether there was one.
    pub async fn unsubscribe(&self, pattern: &str) -> Result<bool, ServiceError> {
        let data = json!({ "unsubscribe": pattern });
        let reply = self
            .call("broker", self.broker()?, core::UNSUBSCRIBE, &data, &[])
            .await?;
        Ok(reply
            .data_value()
            .and_then(|d| d.get("removed").and_then(Value::as_bool))
            .unwrap_or(false))
    }

    /// Publishes an event of `event_type` through the broker ([UH-BROKER-6]).
    pub async fn publish(
        &self,
        event_type: &str,
        data: Option<&Value>,
    ) -> Result<PublishReport, ServiceError> {
        publish(&self.client, self.broker()?, event_type, data).await
    }

    /// Unregisters, stops accepting, and lets in-flight requests finish within the grace
    /// period.
    pub async fn shutdown(self) {
        if let Some(registry) = &self.registry {
            let data = json!({ "nodeId": self.id });
            match self
                .client
                .request(registry, core::UNREGISTER, Some(&data))
                .await
            {
                Ok(reply) if reply.is_success() => tracing::info!(node = %self.id, "unregistered"),
                Ok(reply) => {
                    tracing::warn!(node = %self.id, code = ?reply.code(), "unregister refused")
                }
                Err(e) => tracing::warn!(node = %self.id, error = %e, "unregister failed"),
            }
        }
        self.server.shutdown().await;
    }
}

/// Publishes through the broker at `broker` as `client`'s node id.
pub async fn publish(
    client: &Client,
    broker: &str,
    event_type: &str,
    data: Option<&Value>,
) -> Result<PublishReport, ServiceError> {
    let request = match data {
        Some(data) => json!({ "type": event_type, "data": data }),
        None => json!({ "type": event_type }),
    };
    let reply = client
        .request(broker, core::PUBLISH, Some(&request))
        .await?;
    if !reply.is_success() {
        return Err(ServiceError::refused("broker", &reply));
    }
    let data = reply.data_value().unwrap_or_default();
    Ok(PublishReport {
        delivered: data.get("delivered").and_then(Value::as_u64).unwrap_or(0),
        failed: data
            .get("failed")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    })
}
