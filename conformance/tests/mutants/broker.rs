//! A broker written for the mutants: the rules of section 11 in a few lines each, so that
//! one of them at a time can be broken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinSet;
use uhome_protocol::core_events::{
    pattern_matches, CoreType, Nodes, Publish, Subscription, BROKER_ID,
};
use uhome_protocol::reply::{Published, Queued, Response, Unsubscribed};
use uhome_protocol::{Code, Event};
use uhome_runtime::client::Deadlines;
use uhome_runtime::{Client, Dispatch, OwnedEvent, Reply, ReplyFuture};

use super::Fault;
use super::Fault::*;

#[derive(Default)]
struct State {
    nodes: Vec<(String, String)>,
    /// Patterns per node id, in subscription order.
    subscriptions: HashMap<String, Vec<String>>,
}

pub struct Broker {
    fault: Fault,
    state: Mutex<State>,
    client: Client,
}

impl Broker {
    pub fn new(fault: Fault) -> Arc<Broker> {
        let limit = if fault == SequentialDeliveries {
            Duration::from_secs(60)
        } else {
            Duration::from_secs(1)
        };
        Arc::new(Broker {
            fault,
            state: Mutex::new(State::default()),
            client: Client::with_deadlines(
                BROKER_ID,
                Deadlines {
                    connect: limit,
                    write: limit,
                    read: limit,
                },
            ),
        })
    }

    fn matches(&self, pattern: &str, event_type: &str) -> bool {
        let (p, t): (Vec<&str>, Vec<&str>) = (
            pattern.split('.').collect(),
            event_type.split('.').collect(),
        );
        match self.fault {
            StarMatchesSeveralTokens if p.last() == Some(&"*") => {
                t.len() >= p.len() && pattern_matches(&pattern.replace('*', ">"), event_type)
            }
            GreaterMatchesNoToken if p.last() == Some(&">") => {
                let prefix = &p[..p.len() - 1];
                pattern_matches(pattern, event_type) || t == prefix
            }
            _ => pattern_matches(pattern, event_type),
        }
    }

    fn replace(&self, list: Vec<(String, String)>) {
        let mut state = self.state.lock().unwrap();
        match self.fault {
            ListReplacementDropsKept => state.subscriptions.clear(),
            ListReplacementKeepsRemoved => {}
            _ => state
                .subscriptions
                .retain(|id, _| list.iter().any(|(n, _)| n == id)),
        }
        state.nodes = list;
    }

    fn nodes(&self, data: Option<uhome_protocol::RawJson<'_>>) -> Reply {
        let nodes_updated = || {
            if self.fault == NodesUpdatedMessageFixed {
                Reply::response(
                    "nodes_updated",
                    "Successfully updated active nodes",
                    Default::default(),
                )
            } else {
                Reply::data(&Response::of(Code::NodesUpdated))
            }
        };
        match Nodes::from_data(data) {
            Ok(nodes) => {
                self.replace(
                    nodes
                        .iter()
                        .map(|n| (n.node_id.to_string(), n.address.to_string()))
                        .collect(),
                );
                nodes_updated()
            }
            Err(e) => {
                if self.fault == RefusedListApplied {
                    let value: Value = data
                        .and_then(|d| serde_json::from_str(&d.to_string()).ok())
                        .unwrap_or_default();
                    let list = value["nodes"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|n| {
                                    (
                                        n["nodeId"].as_str().unwrap_or_default().to_string(),
                                        n["address"].as_str().unwrap_or_default().to_string(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    self.state.lock().unwrap().nodes = list;
                    self.state.lock().unwrap().subscriptions.clear();
                }
                Reply::for_error(&e, Some(CoreType::Nodes))
            }
        }
    }

    fn subscribe(&self, event: &Event<'_>, kind: CoreType) -> Reply {
        let read = if kind == CoreType::Subscribe {
            Subscription::subscribe(event)
        } else {
            Subscription::unsubscribe(event)
        };
        let s = match read {
            Ok(s) => s,
            Err(e) => return Reply::for_error(&e, Some(kind)),
        };
        let (id, pattern) = (s.node_id.to_string(), s.pattern.to_string());
        let mut state = self.state.lock().unwrap();
        let listed = state.nodes.iter().any(|(n, _)| *n == id);
        if !listed && self.fault != SubscribeWithoutRegistration {
            return Reply::for_code(
                Code::NotRegistered,
                Some(kind),
                Some("Node is not registered"),
            );
        }
        let patterns = state.subscriptions.entry(id).or_default();
        if kind == CoreType::Subscribe {
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
            Reply::data(&Response::of(Code::Subscribed))
        } else {
            let before = patterns.len();
            patterns.retain(|p| *p != pattern);
            let removed = before != patterns.len() || self.fault == UnsubscribeAlwaysRemoved;
            Reply::data(&Unsubscribed::new(removed))
        }
    }

    /// Addresses to deliver `event_type` to, with their node ids.
    fn targets(&self, event_type: &str) -> Vec<(String, String)> {
        let state = self.state.lock().unwrap();
        let mut out = Vec::new();
        for (id, addr) in &state.nodes {
            let patterns = state.subscriptions.get(id).cloned().unwrap_or_default();
            let matching = patterns
                .iter()
                .filter(|p| self.matches(p, event_type))
                .count();
            let times = match self.fault {
                DeliversToUnsubscribed => 1,
                DuplicateDelivery => matching,
                _ => matching.min(1),
            };
            for _ in 0..times {
                out.push((id.clone(), addr.clone()));
            }
        }
        out
    }

    async fn publish(self: Arc<Self>, request: OwnedEvent) -> Reply {
        let targets = self.targets(&request.event_type);
        let request = Arc::new(request);
        let mut outcomes = Vec::new();
        if self.fault == SequentialDeliveries {
            for (id, addr) in targets {
                outcomes.push((id, self.client.send(&addr, &request).await.is_ok()));
            }
        } else {
            let mut sends = JoinSet::new();
            for (id, addr) in targets {
                let (broker, request) = (self.clone(), request.clone());
                sends.spawn(async move { (id, broker.client.send(&addr, &request).await.is_ok()) });
            }
            while let Some(Ok(outcome)) = sends.join_next().await {
                outcomes.push(outcome);
            }
        }
        let delivered = match self.fault {
            DeliveredCountsAttempts => outcomes.len(),
            _ => outcomes.iter().filter(|(_, ok)| *ok).count(),
        };
        let failed: Vec<&str> = match self.fault {
            FailedNotReported => Vec::new(),
            _ => outcomes
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(id, _)| id.as_str())
                .collect(),
        };
        Reply::data(&Published::new(delivered, &failed))
    }
}

pub struct BrokerDispatch(pub Arc<Broker>);

impl Dispatch for BrokerDispatch {
    fn dispatch(&self, _: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let broker = self.0.clone();
        let ready = uhome_runtime::node::ready;
        let kind = CoreType::of(&event.event_type)?;
        Some(match kind {
            CoreType::Nodes => ready(broker.nodes(event.data)),
            CoreType::Subscribe | CoreType::Unsubscribe => ready(broker.subscribe(event, kind)),
            CoreType::Publish => match Publish::from_data(event.data) {
                Err(e) => ready(Reply::for_error(&e, Some(kind))),
                Ok(publish) => {
                    let source = event.source.to_string();
                    let listed = broker
                        .state
                        .lock()
                        .unwrap()
                        .nodes
                        .iter()
                        .any(|(n, _)| *n == source);
                    if broker.fault == PublisherMustBeListed && !listed {
                        return Some(ready(Reply::for_code(
                            Code::NotRegistered,
                            Some(kind),
                            Some("Node is not registered"),
                        )));
                    }
                    let request = OwnedEvent {
                        version: uhome_protocol::V2,
                        event_type: publish.event_type.to_string(),
                        data: publish.data.map(|d| d.to_string()),
                        error: None,
                        id: match broker.fault {
                            DeliveryFreshId => uhome_runtime::reply::new_id(),
                            _ => event.id.to_string(),
                        },
                        timestamp: event.timestamp.to_string(),
                        source,
                    };
                    if !publish.wait {
                        let queued = broker.targets(&request.event_type).len();
                        tokio::spawn(broker.publish(request));
                        return Some(ready(Reply::data(&Queued::new(queued))));
                    }
                    Box::pin(broker.publish(request))
                }
            },
            _ => return None,
        })
    }
}
