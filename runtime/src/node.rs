//! A node: its id, what it dispatches, and how one request frame becomes one reply frame.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::Semaphore;
use uhome_protocol::exchange::{self, Answer, Immediate, Limits};
use uhome_protocol::Event;

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

    /// Answers one request frame ([UH-EXCHANGE-2]). The exchange core of `uhome-protocol`
    /// decides by [UH-EXCHANGE-10]; every node answers healthchecks ([UH-CORE-2]).
    pub async fn reply_bytes(&self, frame: &OwnedFrame) -> Bytes {
        self.reply(frame).await.encode(&self.id)
    }

    /// The reply to one request frame, before encoding.
    pub async fn reply(&self, frame: &OwnedFrame) -> Reply {
        let work = match exchange::answer(&frame.view(), &Limits::REFERENCE) {
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
