//! A node: its id, what it dispatches, and how one request frame becomes one reply frame.

use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::Semaphore;
use uhome_protocol::core_events::CoreType;
use uhome_protocol::exchange::{self, Answer, Immediate, Limits};
use uhome_protocol::{Event, Frame, Message};

use crate::codec::OwnedFrame;
use crate::config::ServerConfig;
use crate::reply::Reply;
use crate::security::Security;

/// The asynchronous part of handling a request.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send + 'static>>;

/// Routes decoded requests to handlers.
///
/// `dispatch` runs synchronously on the borrowed event — parse what is needed there — and
/// returns the owned work to run, or `None` when no handler takes the type ([UH-REPLY-5]).
pub trait Dispatch: Send + Sync + 'static {
    /// Chooses the work for `event`, sent with wire version `version`.
    fn dispatch(&self, version: u16, event: &Event<'_>) -> Option<ReplyFuture>;
}

/// A node: id, dispatch, the limits of its server side, and its security when it has a key.
pub struct Node {
    id: String,
    dispatch: Arc<dyn Dispatch>,
    handlers: Semaphore,
    config: ServerConfig,
    security: Option<Arc<Security>>,
}

impl Node {
    /// A node named `id`.
    pub fn new(id: impl Into<String>, dispatch: Arc<dyn Dispatch>, config: ServerConfig) -> Node {
        Node {
            id: id.into(),
            handlers: Semaphore::new(config.max_handlers_in_flight),
            dispatch,
            config,
            security: None,
        }
    }

    /// The node verifies every request and signs every reply with `security`
    /// (section 14 of `spec/protocol.md`).
    pub fn with_security(mut self, security: Arc<Security>) -> Node {
        self.security = Some(security);
        self
    }

    /// The node's security, when it has a key.
    pub fn security(&self) -> Option<&Arc<Security>> {
        self.security.as_ref()
    }

    /// The node id, used as `source` of its replies.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Server settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Answers one request frame from `peer` ([UH-EXCHANGE-2]). The exchange core of
    /// `uhome-protocol` decides by [UH-EXCHANGE-10]; every node answers healthchecks
    /// ([UH-CORE-2]). With security, the reply is signed.
    pub async fn reply_bytes(&self, frame: &OwnedFrame, peer: Option<IpAddr>) -> Bytes {
        let reply = self.reply(frame, peer).await.encode(&self.id);
        let Some(security) = self.security.as_ref().filter(|s| s.signs()) else {
            return reply;
        };
        match security.sign_reply(&reply, &frame.view()) {
            Ok(signed) => signed,
            Err(e) => {
                tracing::error!(node = %self.id, error = %e, "cannot sign the reply");
                let internal = Reply::internal("the reply could not be signed").encode(&self.id);
                security
                    .sign_reply(&internal, &frame.view())
                    .unwrap_or(internal)
            }
        }
    }

    /// The reply to one request frame, before encoding: decoding refusals first, then, with
    /// security, authentication and authorization, then dispatch (the order of [UH-AUTH-26]).
    pub async fn reply(&self, frame: &OwnedFrame, peer: Option<IpAddr>) -> Reply {
        let view = frame.view();
        let answer = exchange::answer(&view, &Limits::REFERENCE);
        if let (Some(security), Some(event)) = (&self.security, authenticated_part(&answer, &view))
        {
            let core = CoreType::of(&event.event_type);
            let checked = security
                .admit(&view, peer)
                .and_then(|admission| security.authorize(&admission, &event));
            if let Err(refusal) = checked {
                tracing::debug!(node = %self.id, ?peer, code = refusal.code.as_str(), reason = %refusal.reason, "request refused");
                return refusal.reply(core);
            }
        }
        let work = match answer {
            Answer::Reply(reply) => return immediate(&reply),
            Answer::Dispatch { version, event } => match self.dispatch.dispatch(version, &event) {
                Some(work) => work,
                None => return immediate(&Immediate::NoHandler),
            },
        };
        self.run(work).await
    }

    /// Runs a handler: bounded in number and time, a panic caught ([UH-REPLY-7]).
    async fn run(&self, work: ReplyFuture) -> Reply {
        let Ok(_permit) = self.handlers.acquire().await else {
            return Reply::internal("the node is shutting down");
        };
        match tokio::time::timeout(
            self.config.handler_timeout,
            AssertUnwindSafe(work).catch_unwind(),
        )
        .await
        {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => {
                tracing::error!(node = %self.id, "handler panicked");
                Reply::internal("the handler failed")
            }
            Err(_) => {
                tracing::warn!(node = %self.id, "handler exceeded its deadline");
                Reply::internal("the handler exceeded its deadline")
            }
        }
    }
}

/// The event to authenticate: every request that decoded, the healthcheck the exchange core
/// answers by itself included; `None` for a decoding refusal (answered first, unsigned
/// requests or not).
fn authenticated_part<'a>(answer: &Answer<'a>, frame: &Frame<'a>) -> Option<Event<'a>> {
    match answer {
        Answer::Dispatch { event, .. } => Some(*event),
        Answer::Reply(Immediate::Healthy) => match frame.request() {
            Ok(Message::Event(event)) => Some(event),
            _ => None,
        },
        Answer::Reply(_) => None,
    }
}

/// The runtime's form of a reply the exchange core decided.
fn immediate(reply: &Immediate) -> Reply {
    match reply {
        Immediate::Refused(error) => Reply::for_error(error, None),
        Immediate::Healthy => Reply::healthy(),
        Immediate::NoHandler => Reply::no_handler(),
    }
}

/// A future that answers at once.
pub fn ready(reply: Reply) -> ReplyFuture {
    Box::pin(std::future::ready(reply))
}
