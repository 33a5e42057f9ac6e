//! The node list, owned: what the registry keeps and pushes and the broker delivers to
//! ([UH-REGISTRY-8], [UH-BROKER-1]).

use uhome_protocol::core_events::{NodeRef, Nodes};
use uhome_protocol::reply;

/// One node of the list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeEntry {
    /// `nodeId`
    pub node_id: String,
    /// `address`: `host:port`
    pub address: String,
    /// `keepAlive`: the node takes deliveries on kept, pipelined connections
    /// ([UH-REGISTRY-11], [UH-BROKER-13]).
    pub keep_alive: bool,
    /// `key`: the node's public key, hex, where the registry knows it ([UH-AUTH-20]).
    pub key: Option<String>,
}

impl NodeEntry {
    /// A node at `address` that takes each delivery on a new connection.
    pub fn new(node_id: impl Into<String>, address: impl Into<String>) -> NodeEntry {
        NodeEntry {
            node_id: node_id.into(),
            address: address.into(),
            keep_alive: false,
            key: None,
        }
    }

    /// Copies a checked list entry or registration.
    pub fn from_ref(node: &NodeRef<'_>) -> NodeEntry {
        NodeEntry {
            node_id: node.node_id.to_string(),
            address: node.address.to_string(),
            keep_alive: node.keep_alive,
            // A key that is not a string keeps its JSON text, which no key check accepts.
            key: node.key.map(|k| {
                k.as_string()
                    .map_or_else(|| k.as_str().to_string(), |s| s.to_string())
            }),
        }
    }

    /// The borrowed form `uhome-protocol` encodes.
    pub fn wire(&self) -> reply::NodeEntry<'_> {
        reply::NodeEntry {
            node_id: &self.node_id,
            address: &self.address,
            keep_alive: self.keep_alive,
            key: self.key.as_deref(),
        }
    }
}

/// Copies a checked `µHome.core.nodes` list, in order.
pub fn owned(nodes: &Nodes<'_>) -> Vec<NodeEntry> {
    nodes.iter().map(|n| NodeEntry::from_ref(&n)).collect()
}

/// The borrowed forms of `list`, for encoding.
pub fn wire(list: &[NodeEntry]) -> Vec<reply::NodeEntry<'_>> {
    list.iter().map(NodeEntry::wire).collect()
}

/// What differs from `old` to `new`, for the log: `+id (address)` for a node added,
/// `-id` for one removed, `id → address` for one that moved; `None` when nothing did.
pub fn change(old: &[NodeEntry], new: &[NodeEntry]) -> Option<String> {
    let mut changes = Vec::new();
    for entry in new {
        match old.iter().find(|o| o.node_id == entry.node_id) {
            None => changes.push(format!("+{} ({})", entry.node_id, entry.address)),
            Some(was) if was.address != entry.address => {
                changes.push(format!("{} → {}", entry.node_id, entry.address))
            }
            Some(_) => {}
        }
    }
    for entry in old {
        if !new.iter().any(|n| n.node_id == entry.node_id) {
            changes.push(format!("-{}", entry.node_id));
        }
    }
    (!changes.is_empty()).then(|| changes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::{change, NodeEntry};

    fn list(entries: &[(&str, &str)]) -> Vec<NodeEntry> {
        entries
            .iter()
            .map(|(id, address)| NodeEntry::new(*id, *address))
            .collect()
    }

    #[test]
    fn a_list_change_says_what_changed_and_nothing_when_nothing_did() {
        let before = list(&[("lamp", "h:1"), ("desk", "h:2")]);
        assert_eq!(change(&before, &before), None);
        let reordered = list(&[("desk", "h:2"), ("lamp", "h:1")]);
        assert_eq!(change(&before, &reordered), None);
        let after = list(&[("lamp", "h:9"), ("oven", "h:3")]);
        assert_eq!(
            change(&before, &after).as_deref(),
            Some("lamp → h:9, +oven (h:3), -desk")
        );
        assert_eq!(change(&[], &[]), None);
    }
}
