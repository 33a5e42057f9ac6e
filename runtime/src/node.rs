//! A node: its id, what it dispatches, and how one request frame becomes one reply frame.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::Semaphore;
use uhome_protocol::core::HEALTHCHECK;
use uhome_protocol::{Event, Message};

use crate::codec::OwnedFrame;
use crate::config::ServerConfig;
use crate::reply::Reply;

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

/// A node: id, dispatch, and the limits of its server side.
pub struct Node {
    id: String,
    dispatch: Arc<dyn Dispatch>,
    handlers: Semaphore,
    config: ServerConfig,
}

impl Node {
    /// A node named `id`.
    pub fn new(id: impl Into<String>, dispatch: Arc<dyn Dispatch>, config: ServerConfig) -> Node {
        Node {
            id: id.into(),
            handlers: Semaphore::new(config.max_handlers_in_flight),
            dispatch,
            config,
        }
    }

    /// The node id, used as `source` of its replies.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Server settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Answers one request frame ([UH-EXCHANGE-2]). Checks go in the order of
    /// [UH-EXCHANGE-10]; every node answers healthchecks ([UH-CORE-2]).
    pub async fn respond(&self, frame: &OwnedFrame) -> Bytes {
        self.reply(frame).await.encode(&self.id)
    }

    /// The reply to one request frame, before encoding.
    pub async fn reply(&self, frame: &OwnedFrame) -> Reply {
        let work = match frame.view().request() {
            Err(error) => return Reply::for_error(&error, None),
            Ok(Message::Other(_)) => return Reply::no_handler(),
            Ok(Message::Event(event)) => {
                if event.event_type == HEALTHCHECK {
                    return Reply::healthy();
                }
                match self.dispatch.dispatch(frame.header.version, &event) {
                    Some(work) => work,
                    None => return Reply::no_handler(),
                }
            }
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

/// A future that answers at once.
pub fn ready(reply: Reply) -> ReplyFuture {
    Box::pin(std::future::ready(reply))
}
