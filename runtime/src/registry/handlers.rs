//! The registry's handlers: register ([UH-REGISTRY-1]..), unregister and discover.

use std::sync::Arc;

use uhome_protocol::core_events::{CoreType, NodeRef, Unregister};
use uhome_protocol::reply::{Discovered, Registered, Response};
use uhome_protocol::{Code, Event};

use super::push::fits;
use super::state::{lock, Entry, RegistryInner};
use super::store::Record;
use super::LOG_TARGET;
use crate::node::{ready, Dispatch, ReplyFuture};
use crate::nodes::{self, NodeEntry};
use crate::reply::Reply;
use crate::security::AUTH_ROOM;

impl RegistryInner {
    async fn register(self: Arc<Self>, mut node: NodeEntry) -> Reply {
        let fail = |code: Code, reason: &str| {
            Reply::for_code(code, Some(CoreType::Register), Some(reason))
        };
        // The list carries the key the policy pins to the node, never one a registration
        // claims ([UH-AUTH-20]).
        node.key = self.client.security().and_then(|s| s.key_of(&node.node_id));
        let NodeEntry {
            node_id,
            address,
            keep_alive,
            key,
        } = &node;
        if let Some(security) = self.client.security() {
            if let Some(refusal) = security.outbound_refusal(address).await {
                return refusal.reply(Some(CoreType::Register));
            }
            security.learn_node(node_id, address);
        }
        if !self.healthy(address).await {
            return fail(Code::Unhealthy, "Unhealthy service");
        }
        let version;
        let moved_from;
        {
            let _change = self.changes.lock().await;
            let existing = lock(&self.nodes)
                .iter()
                .find(|e| &e.node.node_id == node_id)
                .map(|e| e.node.address.clone());
            moved_from = existing.clone();
            match existing {
                Some(old) if &old == address => {}
                Some(old) => {
                    if self.healthy(&old).await {
                        return fail(Code::AlreadyRegistered, "Node already exists");
                    }
                }
                None => {
                    let mut list = self.list();
                    list.push(node.clone());
                    let reserve = self
                        .client
                        .security()
                        .filter(|s| s.signs())
                        .map_or(0, |_| AUTH_ROOM);
                    if !fits(&self.config.id, &list, reserve) {
                        return fail(Code::RegistryFull, "Registry is full");
                    }
                }
            }
            let record = Record::Register {
                node_id: node_id.clone(),
                address: address.clone(),
                keep_alive: *keep_alive,
            };
            let previous = lock(&self.nodes).clone();
            {
                let mut nodes = lock(&self.nodes);
                match nodes.iter_mut().find(|e| &e.node.node_id == node_id) {
                    Some(entry) => {
                        entry.node.address = address.clone();
                        entry.node.keep_alive = *keep_alive;
                        entry.node.key = key.clone();
                        entry.failures = 0;
                    }
                    None => nodes.push(Entry {
                        node: node.clone(),
                        failures: 0,
                    }),
                }
            }
            if let Err(e) = self.persist(record).await {
                *lock(&self.nodes) = previous;
                tracing::error!(target: LOG_TARGET, error = %e, "cannot write the registry state");
                return Reply::internal("the registry cannot store the registration");
            }
            version = self.bump();
        }
        match moved_from {
            None => tracing::info!(target: LOG_TARGET, node = %node_id, %address, "registered"),
            Some(old) if &old == address => {
                tracing::debug!(target: LOG_TARGET, node = %node_id, %address, "registration repeated")
            }
            Some(old) => {
                tracing::info!(target: LOG_TARGET, node = %node_id, %address, from = %old, "re-registered at a new address")
            }
        }
        self.pushed(version).await;
        Reply::data(&Registered::new(node_id, address))
    }

    async fn unregister(self: Arc<Self>, node_id: String) -> Reply {
        let _change = self.changes.lock().await;
        let previous = lock(&self.nodes).clone();
        if !previous.iter().any(|e| e.node.node_id == node_id) {
            return Reply::for_code(
                Code::NotRegistered,
                Some(CoreType::Unregister),
                Some("Node is not registered"),
            );
        }
        lock(&self.nodes).retain(|e| e.node.node_id != node_id);
        if let Err(e) = self
            .persist(Record::Unregister {
                node_id: node_id.clone(),
            })
            .await
        {
            *lock(&self.nodes) = previous;
            tracing::error!(target: LOG_TARGET, error = %e, "cannot write the registry state");
            return Reply::internal("the registry cannot store the change");
        }
        self.bump();
        tracing::info!(target: LOG_TARGET, node = %node_id, "unregistered");
        Reply::data(&Response::unregistered(&node_id))
    }
}

pub(super) struct RegistryDispatch {
    pub(super) shared: Arc<RegistryInner>,
}

impl Dispatch for RegistryDispatch {
    fn dispatch(&self, _version: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let shared = self.shared.clone();
        Some(match CoreType::of(&event.event_type)? {
            CoreType::Register => match NodeRef::from_data(event.data) {
                Ok(node) => Box::pin(shared.register(NodeEntry::from_ref(&node))),
                Err(e) => ready(Reply::for_error(&e, Some(CoreType::Register))),
            },
            CoreType::Unregister => match Unregister::from_data(event.data) {
                Ok(u) => Box::pin(shared.unregister(u.node_id.to_string())),
                Err(e) => ready(Reply::for_error(&e, Some(CoreType::Unregister))),
            },
            CoreType::Discover => {
                let list = shared.list();
                ready(Reply::data(&Discovered::new(&nodes::wire(&list))))
            }
            _ => return None,
        })
    }
}
