//! A registry written for the mutants: the rules of section 10 in a few lines each, so that
//! one of them at a time can be broken.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use uhome_protocol::core_events::{CoreType, NodeRef, Unregister, HEALTHCHECK, NODES};
use uhome_protocol::reply::{Discovered, NodeEntry, Registered, Response};
use uhome_protocol::{Code, Event};
use uhome_runtime::client::Deadlines;
use uhome_runtime::{Client, Dispatch, Reply, ReplyFuture};

use super::Fault;
use super::Fault::*;

/// The health check interval and eviction threshold the mutant declares.
pub const HEALTH_INTERVAL: Duration = Duration::from_millis(300);
pub const EVICT_AFTER: u32 = 2;

pub struct Registry {
    fault: Fault,
    /// Whether each health round ends with a push ([UH-REGISTRY-6]).
    round_pushes: bool,
    /// Node id, address, consecutive failed checks; in registration order.
    nodes: Mutex<Vec<(String, String, u32)>>,
    broker: String,
    client: Client,
    /// Whether a retry loop is running (it pushes the list current at each attempt).
    retrying: AtomicBool,
    /// Node ids that registered with keepAlive true ([UH-REGISTRY-11]).
    keep_alive: Mutex<HashSet<String>>,
}

fn deadlines() -> Deadlines {
    let d = Duration::from_millis(500);
    Deadlines {
        connect: d,
        write: d,
        read: d,
    }
}

impl Registry {
    /// A registry pushing to `broker`; starts its health rounds.
    pub fn start(fault: Fault, broker: String, round_pushes: bool) -> Arc<Registry> {
        let registry = Arc::new(Registry {
            fault,
            round_pushes,
            nodes: Mutex::new(Vec::new()),
            broker,
            client: Client::with_deadlines("µHome/core/serviceRegistry", deadlines()),
            retrying: AtomicBool::new(false),
            keep_alive: Mutex::new(HashSet::new()),
        });
        let weak = Arc::downgrade(&registry);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEALTH_INTERVAL).await;
                let Some(registry) = weak.upgrade() else {
                    return;
                };
                registry.health_round().await;
            }
        });
        registry
    }

    fn list(&self) -> Vec<(String, String)> {
        self.nodes
            .lock()
            .unwrap()
            .iter()
            .map(|(id, addr, _)| (id.clone(), addr.clone()))
            .collect()
    }

    async fn healthy(&self, address: &str) -> bool {
        match self.client.request(address, HEALTHCHECK, None).await {
            Ok(reply) => reply.is_success() || self.fault == RefusalCountsAsHealthy,
            Err(_) => false,
        }
    }

    async fn push_once(&self) -> bool {
        let list = self.list();
        if list
            .iter()
            .map(|(id, addr)| id.len() + addr.len() + 30)
            .sum::<usize>()
            > 65535
        {
            return false; // cannot be one frame (only under NoFullCheck)
        }
        let kept = self.keep_alive.lock().unwrap().clone();
        let nodes: Vec<_> = list
            .iter()
            .map(|(id, addr)| match kept.contains(id) {
                true => json!({"nodeId": id, "address": addr, "keepAlive": true}),
                false => json!({"nodeId": id, "address": addr}),
            })
            .collect();
        let data = json!({ "nodes": nodes });
        matches!(self.client.request(&self.broker, NODES, Some(&data)).await, Ok(r) if r.is_success())
    }

    /// Pushes the list; retries in the background until the broker takes it.
    async fn push(self: Arc<Self>) {
        if self.push_once().await
            || self.fault == NoPushRetry
            || self.retrying.swap(true, Ordering::SeqCst)
        {
            return;
        }
        tokio::spawn(async move {
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if self.push_once().await {
                    break;
                }
            }
            self.retrying.store(false, Ordering::SeqCst);
        });
    }

    /// Pushes before the reply, or after it under [`PushAfterAnswering`].
    async fn pushed_then(self: Arc<Self>, reply: Reply) -> Reply {
        if self.fault == PushAfterAnswering {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                self.push().await;
            });
        } else {
            self.push().await;
        }
        reply
    }

    async fn register(self: Arc<Self>, id: String, addr: String) -> Reply {
        let fail = |code, reason| Reply::for_code(code, Some(CoreType::Register), Some(reason));
        if self.fault != NoHealthCheck && !self.healthy(&addr).await {
            return if self.fault == UnhealthyWithoutReason {
                Reply::for_code(Code::Unhealthy, Some(CoreType::Register), None)
            } else {
                fail(Code::Unhealthy, "Unhealthy service")
            };
        }
        let old = self
            .nodes
            .lock()
            .unwrap()
            .iter()
            .find(|(n, _, _)| *n == id)
            .map(|(_, a, _)| a.clone());
        match old {
            Some(old) if old == addr => {
                if self.fault == RefusesSameAddress {
                    return fail(Code::AlreadyRegistered, "Node already exists");
                }
            }
            Some(old) => {
                let refuse = match self.fault {
                    ReplacesHealthyOldAddress => false,
                    RefusesDeadOldAddress => true,
                    _ => self.healthy(&old).await,
                };
                if refuse {
                    return fail(Code::AlreadyRegistered, "Node already exists");
                }
                let mut nodes = self.nodes.lock().unwrap();
                if self.fault == DuplicateEntryOnMove {
                    nodes.push((id.clone(), addr.clone(), 0));
                } else if let Some(entry) = nodes.iter_mut().find(|(n, _, _)| *n == id) {
                    *entry = (id.clone(), addr.clone(), 0);
                }
            }
            None => {
                let mut list = self.list();
                list.push((id.clone(), addr.clone()));
                let kept = self.keep_alive.lock().unwrap().clone();
                let entries = entries(&list, &kept);
                let fits = self.fault == NoFullCheck
                    || Reply::data(&Discovered::new(&entries))
                        .try_encode("µHome/core/serviceRegistry")
                        .is_ok();
                if !fits {
                    return fail(Code::RegistryFull, "Registry is full");
                }
                self.nodes
                    .lock()
                    .unwrap()
                    .push((id.clone(), addr.clone(), 0));
            }
        }
        let reply = if self.fault == WrongRegisteredMessage {
            Reply::response(
                "registered",
                "Registered",
                json!({"nodeId": id, "address": addr})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            )
        } else {
            Reply::data(&Registered::new(&id, &addr))
        };
        self.pushed_then(reply).await
    }

    async fn unregister(self: Arc<Self>, id: String) -> Reply {
        let removed = {
            let mut nodes = self.nodes.lock().unwrap();
            let before = nodes.len();
            nodes.retain(|(n, _, _)| *n != id);
            before != nodes.len()
        };
        if !removed && self.fault != UnregisterUnknownSucceeds {
            return Reply::for_code(
                Code::NotRegistered,
                Some(CoreType::Unregister),
                Some("Node is not registered"),
            );
        }
        let reply = Reply::data(&Response::unregistered(&id));
        if self.fault == NoPushOnUnregister {
            return reply;
        }
        self.pushed_then(reply).await
    }

    async fn health_round(self: &Arc<Self>) {
        let before = self.list().len();
        for (id, addr) in self.list() {
            let healthy = self.healthy(&addr).await;
            let mut nodes = self.nodes.lock().unwrap();
            if let Some(entry) = nodes.iter_mut().find(|(n, a, _)| *n == id && *a == addr) {
                entry.2 = if healthy { 0 } else { entry.2 + 1 };
            }
            if self.fault != NoEviction {
                nodes.retain(|(_, _, failures)| *failures < EVICT_AFTER);
            }
        }
        // [UH-REGISTRY-4] after an eviction; [UH-REGISTRY-6] after every round.
        if self.round_pushes || self.list().len() != before {
            self.clone().push().await;
        }
    }
}

fn entries<'a>(list: &'a [(String, String)], kept: &HashSet<String>) -> Vec<NodeEntry<'a>> {
    list.iter()
        .map(|(id, addr)| NodeEntry {
            node_id: id,
            address: addr,
            keep_alive: kept.contains(id),
            key: None,
        })
        .collect()
}

pub struct RegistryDispatch(pub Arc<Registry>);

impl Dispatch for RegistryDispatch {
    fn dispatch(&self, _: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let registry = self.0.clone();
        let ready = uhome_runtime::node::ready;
        Some(match CoreType::of(&event.event_type)? {
            CoreType::Register => match NodeRef::from_data(event.data) {
                Err(e) => ready(Reply::for_error(&e, Some(CoreType::Register))),
                Ok(node) => {
                    let id = node.node_id.to_string();
                    let mut kept = registry.keep_alive.lock().unwrap();
                    match node.keep_alive {
                        true => kept.insert(id.clone()),
                        false => kept.remove(&id),
                    };
                    drop(kept);
                    Box::pin(registry.register(id, node.address.to_string()))
                }
            },
            CoreType::Unregister => match Unregister::from_data(event.data) {
                Err(e) => ready(Reply::for_error(&e, Some(CoreType::Unregister))),
                Ok(u) => Box::pin(registry.unregister(u.node_id.to_string())),
            },
            CoreType::Discover => {
                let mut list = registry.list();
                if registry.fault == DiscoverReversed {
                    list.reverse();
                }
                let kept = registry.keep_alive.lock().unwrap().clone();
                ready(Reply::data(&Discovered::new(&entries(&list, &kept))))
            }
            _ => return None,
        })
    }
}
