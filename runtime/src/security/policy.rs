//! The operator's policy file ([UH-AUTH-21]): the mode, the keys
//! pinned to node ids and what each node may do. TOML.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use uhome_protocol::auth::VerifyingKey;
use uhome_protocol::core_events::is_valid_pattern;

use super::allow::AllowList;
use super::keyfile::parse_hex32;
use super::Mode;

/// What a node's key may do beyond its own requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An ordinary node.
    Node,
    /// The registry: the only key that may send `µHome.core.nodes`.
    Registry,
    /// The broker: the key that signs deliveries.
    Broker,
    /// May unregister any node.
    Operator,
}

/// One `[[node]]` of the policy.
#[derive(Debug, Clone)]
pub struct PeerEntry {
    /// The node id pinned to the key.
    pub node_id: String,
    /// The key.
    pub key: VerifyingKey,
    /// Its role.
    pub role: Role,
    /// Type patterns it may publish (none: it may not publish).
    pub publish: Vec<String>,
    /// Patterns it may subscribe to; `None`: any.
    pub subscribe: Option<Vec<String>>,
}

/// A policy, validated.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `mode`
    pub mode: Mode,
    /// `skew_ms`
    pub skew_ms: u64,
    /// `[compat] allow`: who may send unauthenticated requests in `compat` mode.
    pub compat_allow: AllowList,
    /// `[outbound] allow`: where health checks and deliveries may go.
    pub outbound_allow: AllowList,
    /// The nodes.
    pub nodes: Vec<PeerEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    mode: Mode,
    skew_ms: Option<u64>,
    compat: Option<Blocks>,
    outbound: Option<Blocks>,
    #[serde(default)]
    node: Vec<NodeFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Blocks {
    allow: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    id: String,
    key: String,
    role: Option<Role>,
    #[serde(default)]
    publish: Vec<String>,
    subscribe: Option<Vec<String>>,
}

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and validates policy text: node ids and keys unique, keys 64 lowercase hex
    /// characters naming curve points, patterns valid, blocks CIDR.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut ids = BTreeSet::new();
        let mut keys = BTreeSet::new();
        let mut nodes = Vec::new();
        for n in file.node {
            if !ids.insert(n.id.clone()) {
                return Err(format!("node {:?} appears twice", n.id));
            }
            if !keys.insert(n.key.clone()) {
                return Err(format!("the key of node {:?} is another node's too", n.id));
            }
            let key = parse_hex32(&n.key)
                .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
                .ok_or_else(|| format!("node {:?}: key is not 64 lowercase hex characters of an Ed25519 public key", n.id))?;
            for p in n.publish.iter().chain(n.subscribe.iter().flatten()) {
                if !is_valid_pattern(p) {
                    return Err(format!("node {:?}: {p:?} is not a valid pattern", n.id));
                }
            }
            nodes.push(PeerEntry {
                node_id: n.id,
                key,
                role: n.role.unwrap_or(Role::Node),
                publish: n.publish,
                subscribe: n.subscribe,
            });
        }
        let blocks = |b: Option<Blocks>, default: AllowList| match b {
            Some(b) => AllowList::parse(&b.allow),
            None => Ok(default),
        };
        Ok(Policy {
            mode: file.mode,
            skew_ms: file
                .skew_ms
                .unwrap_or(uhome_protocol::auth::DEFAULT_SKEW_MS),
            compat_allow: blocks(file.compat, AllowList::default())?,
            outbound_allow: blocks(file.outbound, AllowList::local())?,
            nodes,
        })
    }
}
