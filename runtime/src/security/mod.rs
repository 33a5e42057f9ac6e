//! Authenticated nodes (section 14 of `spec/protocol.md`, `UH-AUTH`): a node's mode and
//! key, the keys it trusts and what each may do, and the checks and signatures of one
//! exchange. The codec side is `uhome_protocol::auth`.
//!
//! A node with a [`Security`] verifies every request after decoding (step 5 of the order of
//! checks, [UH-AUTH-26]), authorizes it by the rules of [UH-AUTH-13] to [UH-AUTH-18], and signs every reply, with
//! `re` naming the request's nonce. Its client signs every request for a node whose key it
//! knows and verifies the reply with that key.

mod allow;
mod keyfile;
mod policy;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use uhome_protocol::auth::{
    append_member, request_nonce, sign_encoded, sign_origin, verify_frame, verify_origin,
    verify_reply, AuthCode, AuthError, AuthFault, Field, KeyId, Nonce, ReplayCache, Signer,
    SigningKey, Verified, VerifyOptions, VerifyingKey,
};
use uhome_protocol::core_events::{pattern_covers, pattern_matches, CoreType};
use uhome_protocol::{Envelope, Event, Frame, RawJson};

pub use allow::AllowList;
pub use keyfile::{
    describe, generate_key_file, hex, load_key_file, parse_hex32, random_key, KeyFileError,
};
pub use policy::{PeerEntry, Policy, Role};

use crate::nodes::NodeEntry;
use crate::reply::{Reply, Verbatim};

/// The replay cache's capacity: 4096 × 32 bytes (section 5.2).
pub const REPLAY_CACHE: usize = 4096;

/// Room the member `auth` needs in a frame: 233 bytes with a 13-digit `ts`, 273 with `re`.
pub const AUTH_ROOM: usize = 320;

/// How a node treats unauthenticated requests (section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every request must carry a valid authenticator.
    Secure,
    /// Requests without `auth` are served from the compat allow-list's addresses.
    Compat,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Secure => "secure",
            Mode::Compat => "compat",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "secure" => Ok(Mode::Secure),
            "compat" => Ok(Mode::Compat),
            other => Err(format!("{other:?} is not a mode: secure or compat")),
        }
    }
}

/// Who sent a request that passed authentication.
#[derive(Debug, Clone)]
pub enum Admission {
    /// No `auth`, from an address of the compat allow-list.
    Unauthenticated,
    /// Signed by a known key.
    Signed(Arc<PeerEntry>),
}

/// A refused request: the code of section 10 and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code.
    pub code: AuthCode,
    /// What was wrong, naming the member between double quotes.
    pub reason: String,
}

impl Refusal {
    fn forbidden(reason: impl Into<String>) -> Refusal {
        Refusal {
            code: AuthCode::Forbidden,
            reason: reason.into(),
        }
    }

    fn of(error: &AuthError) -> Refusal {
        Refusal {
            code: error.code().unwrap_or(AuthCode::Unauthenticated),
            reason: error.to_string(),
        }
    }

    /// The error reply: status 2, the code, the type's failure message for `forbidden` on a
    /// core type, else the code's message.
    pub fn reply(&self, request: Option<CoreType>) -> Reply {
        // Appendix B gives no failure message to healthcheck and discover.
        let message = match (self.code, request) {
            (AuthCode::Forbidden, Some(core))
                if !matches!(core, CoreType::Healthcheck | CoreType::Discover) =>
            {
                core.failure_message()
            }
            _ => self.code.message(),
        };
        Reply::error(
            self.code.status(),
            self.code.as_str(),
            message,
            Some(&self.reason),
        )
    }
}

/// A node's security: its mode and key, the keys it trusts, its replay cache.
pub struct Security {
    mode: Mode,
    key: Option<SigningKey>,
    kid: Option<KeyId>,
    skew_ms: u64,
    compat_allow: AllowList,
    outbound_allow: AllowList,
    peers: RwLock<HashMap<KeyId, Arc<PeerEntry>>>,
    learnt: RwLock<HashSet<KeyId>>,
    by_address: RwLock<HashMap<String, KeyId>>,
    cache: Mutex<Box<ReplayCache<REPLAY_CACHE>>>,
    deliveries: Mutex<Box<ReplayCache<REPLAY_CACHE>>>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("mode", &self.mode)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// `frame` (an event frame) with the member `"name": value` (JSON text) added last.
pub fn with_member(frame: &[u8], name: &str, value: &str) -> Result<Bytes, uhome_protocol::Error> {
    let mut out = vec![0u8; frame.len() + name.len() + value.len() + 4];
    out.get_mut(..frame.len())
        .ok_or(uhome_protocol::Error::BufferTooSmall)?
        .copy_from_slice(frame);
    let n = append_member(&mut out, frame.len(), name, &Verbatim(value))?;
    out.truncate(n);
    Ok(Bytes::from(out))
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether a payload can hold a member `auth`: it spells `auth`, or has an escape that could
/// spell it. Most unsigned requests are answered without decoding them a second time.
fn may_carry_auth(payload: &[u8]) -> bool {
    payload.windows(4).any(|w| w == b"auth") || payload.windows(2).any(|w| w == b"\\u")
}

fn fresh_nonce() -> Nonce {
    let mut n = [0u8; 16];
    // No random source is a broken host; a zero nonce is then refused as replayed by
    // receivers after its first use, never accepted twice.
    if getrandom::fill(&mut n).is_err() {
        tracing::error!("the operating system's random source failed");
    }
    Nonce(n)
}

impl Security {
    /// A node with `key` in `mode`, trusting no other key yet; compat allow-list empty,
    /// outbound allow-list the loopback and private ranges.
    pub fn new(mode: Mode, key: SigningKey) -> Security {
        Security::with_key(mode, Some(key), AllowList::default(), AllowList::local())
    }

    /// `compat` without a key: unauthenticated requests are served from `allow` and refused
    /// from elsewhere; nothing is signed, and signed requests are refused (no key is
    /// trusted). What a node runs when nothing is configured.
    pub fn keyless(allow: AllowList) -> Security {
        Security::with_key(Mode::Compat, None, allow, AllowList::any())
    }

    fn with_key(
        mode: Mode,
        key: Option<SigningKey>,
        compat_allow: AllowList,
        outbound_allow: AllowList,
    ) -> Security {
        Security {
            mode,
            kid: key.as_ref().map(|k| KeyId::of(&k.verifying_key())),
            key,
            skew_ms: uhome_protocol::auth::DEFAULT_SKEW_MS,
            compat_allow,
            outbound_allow,
            peers: RwLock::new(HashMap::new()),
            learnt: RwLock::new(HashSet::new()),
            by_address: RwLock::new(HashMap::new()),
            cache: Mutex::new(Box::new(ReplayCache::new())),
            deliveries: Mutex::new(Box::new(ReplayCache::new())),
        }
    }

    /// Whether this node signs (it has a key).
    pub fn signs(&self) -> bool {
        self.key.is_some()
    }

    /// A node with `key` configured by `policy`.
    pub fn from_policy(policy: &Policy, key: SigningKey) -> Security {
        let mut s = Security::new(policy.mode, key)
            .with_compat_allow(policy.compat_allow.clone())
            .with_outbound_allow(policy.outbound_allow.clone())
            .with_skew_ms(policy.skew_ms);
        for entry in &policy.nodes {
            s = s.with_peer(entry.clone());
        }
        s
    }

    /// Trusts a key for a node id.
    pub fn with_peer(self, entry: PeerEntry) -> Security {
        self.trust(entry);
        self
    }

    /// Unauthenticated requests are served from these addresses in `compat` mode.
    pub fn with_compat_allow(mut self, allow: AllowList) -> Security {
        self.compat_allow = allow;
        self
    }

    /// Health checks and deliveries go only to these addresses.
    pub fn with_outbound_allow(mut self, allow: AllowList) -> Security {
        self.outbound_allow = allow;
        self
    }

    /// Another mode than the policy's.
    pub fn with_mode(mut self, mode: Mode) -> Security {
        self.mode = mode;
        self
    }

    /// The clock window.
    pub fn with_skew_ms(mut self, skew_ms: u64) -> Security {
        self.skew_ms = skew_ms;
        self
    }

    /// Adds or replaces a trusted key.
    pub fn trust(&self, entry: PeerEntry) {
        let kid = KeyId::of(&entry.key);
        if let Ok(mut peers) = self.peers.write() {
            peers.insert(kid, Arc::new(entry));
        }
    }

    /// The public key (hex) the node `node_id` is known by.
    pub fn key_of(&self, node_id: &str) -> Option<String> {
        self.peer_by_node(node_id).map(|p| hex(p.key.as_bytes()))
    }

    /// Learns the keys of a list the registry signed ([UH-AUTH-19]): an entry's `key` must
    /// be 64 lowercase hex characters, and no key id may name two keys, nor a key two
    /// nodes (`invalid_data`, the list is refused whole). A key the policy pins is never
    /// replaced; a learnt one is when the registry lists another for the node. Only in
    /// `secure` mode, where every list that reaches a node verified with the registry's key;
    /// in `compat` a list may be unsigned, and nothing is learnt.
    pub fn learn_keys(&self, list: &[NodeEntry]) -> Result<(), String> {
        if self.mode != Mode::Secure {
            return Ok(());
        }
        // The list is checked whole, against itself and the store, and applied under one lock.
        let mut listed: Vec<(&str, KeyId, VerifyingKey)> = Vec::new();
        for node in list {
            let Some(text) = &node.key else { continue };
            let key = parse_hex32(text)
                .filter(|_| text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
                .ok_or_else(|| {
                    format!(
                        "\"key\" of {:?} is not an Ed25519 public key in 64 lowercase hex characters",
                        node.node_id
                    )
                })?;
            let kid = KeyId::of(&key);
            if let Some((other, _, _)) = listed
                .iter()
                .find(|(id, k, _)| *k == kid || *id == node.node_id.as_str())
            {
                return Err(format!(
                    "{:?} and {other:?} share a key, or one node is listed twice",
                    node.node_id
                ));
            }
            listed.push((&node.node_id, kid, key));
        }
        let Ok(mut peers) = self.peers.write() else {
            return Err("the key store is unavailable".into());
        };
        let Ok(mut learnt) = self.learnt.write() else {
            return Err("the key store is unavailable".into());
        };
        let mut changes = Vec::new();
        for (node_id, kid, key) in listed {
            match peers.get(&kid) {
                Some(known) if known.key != key => {
                    return Err(format!(
                        "\"key\" of {node_id:?} has the key id {kid} of another key"
                    ))
                }
                Some(known) if known.node_id != node_id => {
                    return Err(format!(
                        "\"key\" of {node_id:?} is the key of {:?}",
                        known.node_id
                    ))
                }
                Some(_) => continue,
                None => {}
            }
            let current = peers
                .iter()
                .find(|(_, p)| p.node_id == node_id)
                .map(|(k, _)| *k);
            match current {
                Some(pinned) if !learnt.contains(&pinned) => {
                    tracing::warn!(node = %node_id, "the list gives the node another key than the policy: the policy's is kept");
                }
                replaced => changes.push((replaced, kid, node_id.to_string(), key)),
            }
        }
        for (replaced, kid, node_id, key) in changes {
            if let Some(old) = replaced {
                peers.remove(&old);
                learnt.remove(&old);
            }
            peers.insert(
                kid,
                Arc::new(PeerEntry {
                    node_id,
                    key,
                    role: Role::Node,
                    publish: Vec::new(),
                    subscribe: None,
                }),
            );
            learnt.insert(kid);
        }
        Ok(())
    }

    /// Records that the node at `address` has key `kid`, for the client's requests to it.
    pub fn learn_address(&self, address: &str, kid: KeyId) {
        if let Ok(mut map) = self.by_address.write() {
            map.insert(address.to_string(), kid);
        }
    }

    /// Records the address of a node whose key is trusted, for the client's requests to it
    /// (the registry at a registration, the broker from the list, a service for the
    /// registry and the broker).
    pub fn learn_node(&self, node_id: &str, address: &str) {
        if let Some(peer) = self.peer_by_node(node_id) {
            self.learn_address(address, KeyId::of(&peer.key));
        }
    }

    /// Why the registry or the broker must not connect to `address` (section 8): a name
    /// that does not resolve, or an address (any the name resolves to) outside the outbound
    /// allow-list. A list that allows every address resolves nothing.
    pub async fn outbound_refusal(&self, address: &str) -> Option<Refusal> {
        if !self.restricts_outbound() {
            return None;
        }
        self.outbound_addresses(address).await.err()
    }

    /// Whether the outbound allow-list leaves out any address.
    pub fn restricts_outbound(&self) -> bool {
        self.outbound_allow != AllowList::any()
    }

    /// The addresses `address` resolves to, once, when every one is in the outbound
    /// allow-list: the only addresses a connection to it may go to ([UH-AUTH-25]).
    pub async fn outbound_addresses(&self, address: &str) -> Result<Vec<SocketAddr>, Refusal> {
        let resolved: Vec<SocketAddr> = match address.parse() {
            Ok(addr) => vec![addr],
            Err(_) => match tokio::net::lookup_host(address).await {
                Ok(found) => found.collect(),
                Err(e) => {
                    return Err(Refusal::forbidden(format!(
                        "\"address\" {address:?} does not resolve: {e}"
                    )))
                }
            },
        };
        match resolved
            .iter()
            .find(|a| !self.outbound_allow.allows(a.ip()))
        {
            Some(outside) => Err(Refusal::forbidden(format!(
                "\"address\": {} is not in the outbound allow-list",
                outside.ip()
            ))),
            None if resolved.is_empty() => Err(Refusal::forbidden(format!(
                "\"address\" {address:?} resolves to no address"
            ))),
            None => Ok(resolved),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// This node's key id.
    pub fn kid(&self) -> Option<KeyId> {
        self.kid
    }

    /// This node's public key.
    pub fn public_key(&self) -> Option<VerifyingKey> {
        self.key.as_ref().map(SigningKey::verifying_key)
    }

    /// The compat allow-list.
    pub fn compat_allow(&self) -> &AllowList {
        &self.compat_allow
    }

    /// The outbound allow-list.
    pub fn outbound_allow(&self) -> &AllowList {
        &self.outbound_allow
    }

    /// The trusted key with this id.
    pub fn peer(&self, kid: &KeyId) -> Option<Arc<PeerEntry>> {
        self.peers.read().ok()?.get(kid).cloned()
    }

    /// The trusted key pinned to a node id.
    pub fn peer_by_node(&self, node_id: &str) -> Option<Arc<PeerEntry>> {
        let peers = self.peers.read().ok()?;
        peers.values().find(|p| p.node_id == node_id).cloned()
    }

    /// The key of the node at `address`, when known.
    pub fn peer_at(&self, address: &str) -> Option<Arc<PeerEntry>> {
        let kid = *self.by_address.read().ok()?.get(address)?;
        self.peer(&kid)
    }

    /// Authenticates a request that decoded (section 9 step 5): in `compat`, a request
    /// without `auth` from an allowed address passes unauthenticated; otherwise the
    /// authenticator must verify with a trusted key, name this node as `aud`, and carry a
    /// nonce not seen before (recorded then).
    pub fn admit(&self, frame: &Frame<'_>, peer: Option<IpAddr>) -> Result<Admission, Refusal> {
        let now = now_ms();
        let options = VerifyOptions {
            skew_ms: self.skew_ms,
            audience: self.kid,
        };
        let store = |kid: &KeyId| self.peer(kid).map(|p| p.key);
        // The signature is checked without the cache's lock; only the nonce's record holds it.
        let mut unchecked = ReplayCache::<0>::new();
        let result = if may_carry_auth(frame.payload) {
            verify_frame(frame, &store, now, &mut unchecked, &options)
        } else {
            Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Auth)))
        };
        let verified = match result {
            Ok(verified) => verified,
            Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Auth)))
                if self.mode == Mode::Compat && peer.is_some_and(|ip| self.compat_allow.allows(ip)) =>
            {
                return Ok(Admission::Unauthenticated)
            }
            Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Auth))) => {
                return Err(Refusal {
                    code: AuthCode::Unauthenticated,
                    reason: match self.mode {
                        Mode::Secure => "member \"auth\" is missing: this node is in secure mode".into(),
                        Mode::Compat => "member \"auth\" is missing and the address is not in the compat allow-list".into(),
                    },
                })
            }
            Err(e) => return Err(Refusal::of(&e)),
        };
        let fresh = self
            .cache
            .lock()
            .map_or(Err(AuthError::Replayed), |mut cache| {
                cache.check_and_insert(
                    &verified.kid,
                    &verified.nonce.0,
                    verified.ts,
                    now,
                    self.skew_ms,
                )
            });
        fresh.map_err(|e| Refusal::of(&e))?;
        let peer = self
            .peer(&verified.kid)
            .ok_or_else(|| Refusal::of(&AuthError::UnknownKey))?;
        if peer.role == Role::Broker && CoreType::of(&verified.event.event_type).is_none() {
            self.check_origin(&verified, now)?;
        }
        Ok(Admission::Signed(peer))
    }

    /// A delivery's origin (section 4 item 3): the publisher's signature over what the
    /// broker delivered, by the key pinned to the node `source` names; each delivered event
    /// once. In `compat`, a delivery without `origin` passes.
    fn check_origin(&self, delivery: &Verified<'_>, now: u64) -> Result<(), Refusal> {
        let origin = match delivery.origin() {
            Ok(origin) => origin,
            Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Origin)))
                if self.mode == Mode::Compat =>
            {
                return Ok(())
            }
            Err(e) => return Err(Refusal::of(&e)),
        };
        let source = delivery.event.source.to_string();
        let publisher = self.peer_by_node(&source).map(|p| KeyId::of(&p.key));
        let store = |kid: &KeyId| self.peer(kid).map(|p| p.key);
        let checked = self
            .deliveries
            .lock()
            .map_or(Err(AuthError::Replayed), |mut cache| {
                verify_origin(
                    origin,
                    &delivery.event,
                    &store,
                    now,
                    &mut cache,
                    self.skew_ms,
                    publisher.as_ref(),
                )
            });
        match (checked, publisher) {
            (Err(AuthError::Forbidden), _) => Err(Refusal::forbidden(
                "\"origin\" is not signed by the key pinned to the node \"source\" names",
            )),
            (Err(e), _) => Err(Refusal {
                code: e.code().unwrap_or(AuthCode::Unauthenticated),
                reason: format!("\"origin\": {e}"),
            }),
            (Ok(_), None) => Err(Refusal::forbidden(format!(
                "\"source\" {source:?} is no node of the policy: its origin cannot be checked"
            ))),
            (Ok(_), Some(_)) => Ok(()),
        }
    }

    /// The origin signature of a publish (section 4 item 1), as the value of `data.origin`;
    /// `None` without a key.
    pub fn origin(&self, envelope: &Envelope<'_>, data: Option<&str>) -> Option<Value> {
        let key = self.key.as_ref()?;
        let data = match data {
            Some(text) => Some(RawJson::parse(text).ok()?),
            None => None,
        };
        let origin = sign_origin(key, now_ms(), envelope, data).ok()?;
        Some(serde_json::json!({
            "kid": String::from_utf8_lossy(&origin.kid.to_hex()),
            "ts": origin.ts,
            "sig": hex(&origin.sig),
        }))
    }

    /// Authorizes an authenticated request (sections 6.1 and 6.2). Rules that read `data`
    /// refuse only what they can read: malformed `data` is the handler's to refuse
    /// (`invalid_data`), as the order of [UH-AUTH-26] puts it first.
    pub fn authorize(&self, admission: &Admission, event: &Event<'_>) -> Result<(), Refusal> {
        let Admission::Signed(peer) = admission else {
            return Ok(());
        };
        let core = CoreType::of(&event.event_type);
        if peer.role == Role::Broker && core.is_none() {
            // A delivery: `source` is the publisher's, the frame the broker's (section 6.1).
            return Ok(());
        }
        if event.source != *peer.node_id {
            return Err(Refusal::forbidden(format!(
                "\"source\" is not {:?}, the node the key is pinned to",
                peer.node_id
            )));
        }
        let Some(core) = core else {
            return Ok(());
        };
        let data: Option<Value> = event
            .data
            .and_then(|d| serde_json::from_str(d.as_str()).ok());
        let text = |name: &str| data.as_ref()?.get(name)?.as_str().map(str::to_string);
        match core {
            CoreType::Healthcheck | CoreType::Discover => Ok(()),
            CoreType::Register => {
                if text("nodeId").is_some_and(|id| id != peer.node_id) {
                    return Err(Refusal::forbidden("\"nodeId\" is not the signer's node"));
                }
                if text("key").is_some_and(|k| k != hex(peer.key.as_bytes())) {
                    return Err(Refusal::forbidden(
                        "\"key\" is not the key the policy pins to the node",
                    ));
                }
                Ok(())
            }
            CoreType::Unregister => match text("nodeId") {
                Some(id) if id != peer.node_id && peer.role != Role::Operator => Err(
                    Refusal::forbidden("\"nodeId\" is another node and the signer is no operator"),
                ),
                _ => Ok(()),
            },
            CoreType::Nodes if peer.role != Role::Registry => Err(Refusal::forbidden(
                "only the registry's key may send \"µHome.core.nodes\"",
            )),
            CoreType::Nodes => Ok(()),
            CoreType::Subscribe | CoreType::Unsubscribe => {
                let member = if core == CoreType::Subscribe {
                    "subscribe"
                } else {
                    "unsubscribe"
                };
                match (text(member), &peer.subscribe) {
                    (Some(pattern), Some(allowed))
                        if core == CoreType::Subscribe
                            && !allowed.iter().any(|a| pattern_covers(a, &pattern)) =>
                    {
                        Err(Refusal::forbidden(format!(
                            "\"subscribe\": the policy does not let the node subscribe to {pattern:?}"
                        )))
                    }
                    _ => Ok(()),
                }
            }
            CoreType::Publish => match text("type") {
                Some(t) if !peer.publish.iter().any(|p| pattern_matches(p, &t)) => {
                    Err(Refusal::forbidden(format!(
                        "\"type\": the policy does not let the node publish {t:?}"
                    )))
                }
                _ => Ok(()),
            },
        }
    }

    /// Signs an encoded reply, with `re` when the request carried a well-formed nonce (a
    /// node without a key returns it as it is).
    pub fn sign_reply(&self, reply: &[u8], request: &Frame<'_>) -> Result<Bytes, AuthError> {
        if self.key.is_none() {
            return Ok(Bytes::copy_from_slice(reply));
        }
        self.sign(reply, None, request_nonce(request))
            .map(|(b, _)| b)
    }

    /// Signs an encoded request for the node with key id `aud`; returns the frame and its
    /// nonce, to match the reply with.
    pub fn sign_request(
        &self,
        request: &[u8],
        aud: Option<KeyId>,
    ) -> Result<(Bytes, Nonce), AuthError> {
        self.sign(request, aud, None)
    }

    fn sign(
        &self,
        frame: &[u8],
        aud: Option<KeyId>,
        re: Option<Nonce>,
    ) -> Result<(Bytes, Nonce), AuthError> {
        let key = self
            .key
            .as_ref()
            .ok_or(AuthError::Unauthenticated(AuthFault::Missing(Field::Kid)))?;
        let nonce = fresh_nonce();
        let signer = Signer {
            key,
            ts: now_ms(),
            nonce,
            aud,
            re,
        };
        let mut out = vec![0u8; frame.len() + AUTH_ROOM];
        out.get_mut(..frame.len())
            .ok_or(AuthError::Decode(uhome_protocol::Error::BufferTooSmall))?
            .copy_from_slice(frame);
        let n = sign_encoded(&mut out, frame.len(), &signer)?;
        out.truncate(n);
        Ok((Bytes::from(out), nonce))
    }

    /// Verifies a reply from the node with key `from` to the request whose nonce was
    /// `nonce`.
    pub fn verify_reply(
        &self,
        reply: &Frame<'_>,
        from: &PeerEntry,
        nonce: &Nonce,
    ) -> Result<(), AuthError> {
        let keys = [(KeyId::of(&from.key), from.key)];
        let options = VerifyOptions {
            skew_ms: self.skew_ms,
            audience: None,
        };
        verify_reply(reply, &keys, now_ms(), nonce, &options).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::may_carry_auth;

    #[test]
    fn only_payloads_that_cannot_spell_auth_skip_verification() {
        assert!(may_carry_auth(br#"{"auth":{}}"#));
        assert!(may_carry_auth(br#"{"\u0061uth":{}}"#));
        assert!(may_carry_auth(br#"{"data":"author"}"#));
        assert!(!may_carry_auth(br#"{"id":"1","type":"x","data":{"a":1}}"#));
        assert!(!may_carry_auth(b""));
    }
}
