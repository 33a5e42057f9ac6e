//! # uhome-runtime
//!
//! The µHome reference runtime on tokio: the node server ([`server`], [`inbound`]),
//! the [`client`], and the three node kinds — [`service`], [`registry`] and [`broker`].
//! Every byte is parsed and written by `uhome-protocol`; this crate does I/O, state and
//! time.

pub mod client;
pub mod codec;
pub mod config;
pub mod delivery;
pub mod event;
pub mod inbound;
pub mod kept;
pub mod node;
pub mod nodes;
pub mod reply;
pub mod security;
pub mod server;

pub use client::{Client, ClientError, ReplyEvent};
pub use delivery::{PublishOutcome, PublishReport};
pub use event::OwnedEvent;
pub use node::{Dispatch, Node, ReplyFuture};
pub use nodes::NodeEntry;
pub use reply::Reply;
pub mod broker;
pub mod registry;
pub mod service;
