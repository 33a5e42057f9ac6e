//! Core events (section 9): type names, typed views of their `data`, and the rules for node
//! ids, addresses, subscription patterns and published types.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::error::Error;
use crate::event::Event;
use crate::json::{Elements, JsonStr, Kind, RawJson};

/// `µHome.core.healthcheck`
pub const HEALTHCHECK: &str = "µHome.core.healthcheck";
/// `µHome.core.register`
pub const REGISTER: &str = "µHome.core.register";
/// `µHome.core.unregister`
pub const UNREGISTER: &str = "µHome.core.unregister";
/// `µHome.core.discover`
pub const DISCOVER: &str = "µHome.core.discover";
/// `µHome.core.nodes`
pub const NODES: &str = "µHome.core.nodes";
/// `µHome.core.subscribe`
pub const SUBSCRIBE: &str = "µHome.core.subscribe";
/// `µHome.core.unsubscribe`
pub const UNSUBSCRIBE: &str = "µHome.core.unsubscribe";
/// `µHome.core.publish`
pub const PUBLISH: &str = "µHome.core.publish";
/// `µHome.response`
pub const RESPONSE: &str = "µHome.response";
/// `µHome.error`
pub const ERROR: &str = "µHome.error";
/// Prefix of every reserved type ([UH-CORE-1], [UH-CORE-5]).
pub const RESERVED_PREFIX: &str = "µHome.";
/// The broker's node id.
pub const BROKER_ID: &str = "µHome/core/eventBroker";
/// The registry's node id.
pub const REGISTRY_ID: &str = "µHome/core/serviceRegistry";
/// Longest node id, address or pattern, in characters ([UH-CORE-4], [UH-BROKER-3]).
pub const MAX_NAME_CHARS: usize = 255;

/// The request types of [UH-CORE-1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreType {
    /// `µHome.core.healthcheck`, answered by every node.
    Healthcheck,
    /// `µHome.core.register` (registry).
    Register,
    /// `µHome.core.unregister` (registry).
    Unregister,
    /// `µHome.core.discover` (registry).
    Discover,
    /// `µHome.core.nodes` (broker).
    Nodes,
    /// `µHome.core.subscribe` (broker).
    Subscribe,
    /// `µHome.core.unsubscribe` (broker).
    Unsubscribe,
    /// `µHome.core.publish` (broker).
    Publish,
}

impl CoreType {
    /// Every core request type.
    pub const ALL: [CoreType; 8] = [
        CoreType::Healthcheck,
        CoreType::Register,
        CoreType::Unregister,
        CoreType::Discover,
        CoreType::Nodes,
        CoreType::Subscribe,
        CoreType::Unsubscribe,
        CoreType::Publish,
    ];

    /// The type name.
    pub const fn name(self) -> &'static str {
        match self {
            CoreType::Healthcheck => HEALTHCHECK,
            CoreType::Register => REGISTER,
            CoreType::Unregister => UNREGISTER,
            CoreType::Discover => DISCOVER,
            CoreType::Nodes => NODES,
            CoreType::Subscribe => SUBSCRIBE,
            CoreType::Unsubscribe => UNSUBSCRIBE,
            CoreType::Publish => PUBLISH,
        }
    }

    /// The core type an event type names, compared after unescaping ([UH-EVENT-7]).
    pub fn of(event_type: &JsonStr<'_>) -> Option<CoreType> {
        CoreType::ALL
            .into_iter()
            .find(|t| event_type.eq_str(t.name()))
    }

    /// The message of this type's failures (Appendix B.2).
    pub const fn failure_message(self) -> &'static str {
        match self {
            CoreType::Register => "Failed to register microservice",
            CoreType::Unregister => "Failed to unregister microservice",
            CoreType::Nodes => "Failed to update active nodes",
            CoreType::Subscribe => "Failed to subscribe for microservice to event",
            CoreType::Unsubscribe => "Failed to unsubscribe for microservice from event",
            CoreType::Publish => "Failed to publish event",
            CoreType::Healthcheck | CoreType::Discover => "Invalid data",
        }
    }
}

/// Reason for a subscribe without a subscriber (v0.0.1 wording, [UH-BROKER-4]).
pub const REASON_NO_SOURCE: &str = "Request did not contain a NodeId (source)";
/// Reason for a subscribe without a pattern (v0.0.1 wording, [UH-BROKER-4]).
pub const REASON_NO_SUBSCRIBE: &str = "Request did not contain a event to subscribe to";
/// Reason for an unsubscribe without a pattern ([UH-BROKER-5]).
pub const REASON_NO_UNSUBSCRIBE: &str = "Request did not contain a event to unsubscribe from";

/// A node id and its address, as in `µHome.core.register` and `µHome.core.nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRef<'a> {
    /// `nodeId`
    pub node_id: JsonStr<'a>,
    /// `address`: `host:port`
    pub address: JsonStr<'a>,
    /// `keepAlive`: the node takes deliveries on kept, pipelined connections
    /// ([UH-REGISTRY-11], [UH-BROKER-13]); false when absent.
    pub keep_alive: bool,
    /// `key`: the node's public key ([UH-AUTH-19], [UH-AUTH-20]), as written; its form is
    /// checked by whoever trusts it (1.2 ignores the member).
    pub key: Option<RawJson<'a>>,
}

/// `µHome.core.register` data ([UH-REGISTRY-1]).
pub type Register<'a> = NodeRef<'a>;

impl<'a> NodeRef<'a> {
    /// Reads `{"nodeId", "address", "keepAlive"?}` from a register request's `data` or a list
    /// entry ([UH-CORE-3]).
    pub fn from_data(data: Option<RawJson<'a>>) -> Result<Self, Error> {
        let [node_id, address, keep_alive, key] =
            members(data, ["nodeId", "address", "keepAlive", "key"])?;
        let node_id = node_id_value(node_id)?;
        let address = string_value(address, "\"address\" must be a string")?;
        if !is_valid_address(&address) {
            return Err(Error::InvalidData("\"address\" must be host:port"));
        }
        let keep_alive = match keep_alive.map(|k| k.as_str()) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(Error::InvalidData("\"keepAlive\" must be a boolean")),
        };
        Ok(NodeRef {
            node_id,
            address,
            keep_alive,
            key,
        })
    }
}

/// `µHome.core.unregister` data ([UH-REGISTRY-7]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unregister<'a> {
    /// `nodeId`
    pub node_id: JsonStr<'a>,
}

impl<'a> Unregister<'a> {
    /// Reads `{"nodeId"}`.
    pub fn from_data(data: Option<RawJson<'a>>) -> Result<Self, Error> {
        let [node_id] = members(data, ["nodeId"])?;
        Ok(Unregister {
            node_id: node_id_value(node_id)?,
        })
    }
}

/// `µHome.core.nodes` data ([UH-BROKER-1]): a validated list, iterated without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Nodes<'a> {
    list: RawJson<'a>,
    len: usize,
}

impl<'a> Nodes<'a> {
    /// Reads `{"nodes": [{"nodeId", "address"}, …]}` and checks every entry and that no node
    /// id repeats.
    pub fn from_data(data: Option<RawJson<'a>>) -> Result<Self, Error> {
        let [list] = members(data, ["nodes"])?;
        let list = list.ok_or(Error::InvalidData("\"nodes\" is missing"))?;
        if list.kind() != Kind::Array {
            return Err(Error::InvalidData("\"nodes\" must be an array"));
        }
        let mut len = 0;
        for (i, entry) in list.elements().enumerate() {
            let node = NodeRef::from_data(Some(entry))?;
            if list.elements().take(i).any(|earlier| {
                earlier
                    .get("nodeId")
                    .and_then(|id| id.as_string())
                    .is_some_and(|id| id == node.node_id)
            }) {
                return Err(Error::InvalidData("a node id occurs more than once"));
            }
            len += 1;
        }
        Ok(Nodes { list, len })
    }

    /// Number of nodes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The nodes in list order.
    pub fn iter(&self) -> NodeIter<'a> {
        NodeIter {
            elements: self.list.elements(),
        }
    }
}

/// Iterator over [`Nodes`].
#[derive(Clone)]
pub struct NodeIter<'a> {
    elements: Elements<'a>,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = NodeRef<'a>;

    fn next(&mut self) -> Option<NodeRef<'a>> {
        self.elements
            .find_map(|entry| NodeRef::from_data(Some(entry)).ok())
    }
}

/// `µHome.core.subscribe` or `µHome.core.unsubscribe` ([UH-BROKER-4], [UH-BROKER-5]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription<'a> {
    /// The subscriber: the event's `source`.
    pub node_id: JsonStr<'a>,
    /// The pattern, valid per [UH-BROKER-3].
    pub pattern: JsonStr<'a>,
}

impl<'a> Subscription<'a> {
    /// Reads a subscribe request, checking in the order of [UH-BROKER-4]; whether the node is
    /// registered is the broker's to check.
    pub fn subscribe(event: &Event<'a>) -> Result<Self, Error> {
        Self::read(event, "subscribe", REASON_NO_SUBSCRIBE)
    }

    /// Reads an unsubscribe request ([UH-BROKER-5]).
    pub fn unsubscribe(event: &Event<'a>) -> Result<Self, Error> {
        Self::read(event, "unsubscribe", REASON_NO_UNSUBSCRIBE)
    }

    fn read(event: &Event<'a>, member: &'static str, missing: &'static str) -> Result<Self, Error> {
        if event.source.is_empty() {
            return Err(Error::InvalidData(REASON_NO_SOURCE));
        }
        if !is_valid_node_id(&event.source) {
            return Err(Error::InvalidData(
                "\"source\" must have 1 to 255 characters",
            ));
        }
        let [pattern] = members(event.data, [member]).map_err(|e| match e {
            Error::InvalidData(r) if r == NOT_AN_OBJECT => Error::InvalidData(missing),
            other => other,
        })?;
        let pattern = pattern
            .and_then(|p| p.as_string())
            .ok_or(Error::InvalidData(missing))?;
        if !is_valid_pattern_json(&pattern) {
            return Err(Error::InvalidPattern);
        }
        Ok(Subscription {
            node_id: event.source,
            pattern,
        })
    }
}

/// `µHome.core.publish` data ([UH-BROKER-6]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// The type to deliver.
    pub event_type: JsonStr<'a>,
    /// The data to deliver, when present.
    pub data: Option<RawJson<'a>>,
    /// `wait`: whether the publisher waits for the delivery report ([UH-BROKER-12]); true
    /// when absent.
    pub wait: bool,
}

impl<'a> Publish<'a> {
    /// Reads `{"type", "data"?, "wait"?}` and checks the type, then `wait`.
    pub fn from_data(data: Option<RawJson<'a>>) -> Result<Self, Error> {
        let [event_type, payload, wait] = members(data, ["type", "data", "wait"])?;
        let event_type = string_value(event_type, "\"type\" must be a string")?;
        if event_type.is_empty() {
            return Err(Error::InvalidData("\"type\" is empty"));
        }
        if has_wildcard_token(&event_type) {
            return Err(Error::InvalidData(
                "a published type has no wildcard tokens",
            ));
        }
        if event_type.starts_with(RESERVED_PREFIX) {
            return Err(Error::ReservedType);
        }
        let wait = match wait.map(|w| w.as_str()) {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => return Err(Error::InvalidData("\"wait\" must be a boolean")),
        };
        Ok(Publish {
            event_type,
            data: payload,
            wait,
        })
    }
}

/// Whether a token of `event_type` is `*` or `>` ([UH-BROKER-6]).
fn has_wildcard_token(event_type: &JsonStr<'_>) -> bool {
    let mut token_len = 0;
    let mut last = ' ';
    for c in event_type.chars().chain(core::iter::once('.')) {
        if c == '.' {
            if token_len == 1 && matches!(last, '*' | '>') {
                return true;
            }
            token_len = 0;
        } else {
            token_len += 1;
            last = c;
        }
    }
    false
}

const NOT_AN_OBJECT: &str = "data must be an object";

/// The named members of an object `data`, each at most once ([UH-CORE-3]); other members
/// are ignored.
fn members<'a, const N: usize>(
    data: Option<RawJson<'a>>,
    names: [&str; N],
) -> Result<[Option<RawJson<'a>>; N], Error> {
    let data = data
        .filter(|d| d.kind() == Kind::Object)
        .ok_or(Error::InvalidData(NOT_AN_OBJECT))?;
    let mut found = [None; N];
    for (name, value) in data.members() {
        if let Some(i) = names.iter().position(|n| name.eq_str(n)) {
            let slot = found.get_mut(i).ok_or(Error::InvalidData(NOT_AN_OBJECT))?;
            if slot.is_some() {
                return Err(Error::InvalidData("a member occurs more than once"));
            }
            *slot = Some(value);
        }
    }
    Ok(found)
}

fn string_value<'a>(
    value: Option<RawJson<'a>>,
    reason: &'static str,
) -> Result<JsonStr<'a>, Error> {
    value
        .and_then(|v| v.as_string())
        .ok_or(Error::InvalidData(reason))
}

fn node_id_value(value: Option<RawJson<'_>>) -> Result<JsonStr<'_>, Error> {
    let id = string_value(value, "\"nodeId\" must be a string")?;
    if !is_valid_node_id(&id) {
        return Err(Error::InvalidData(
            "\"nodeId\" must have 1 to 255 characters",
        ));
    }
    Ok(id)
}

/// Runs `f` on the unescaped string if it has at most [`MAX_NAME_CHARS`] characters.
fn unescaped<R>(s: &JsonStr<'_>, f: impl FnOnce(&str) -> R) -> Option<R> {
    let mut buf = [0u8; MAX_NAME_CHARS * 4];
    if s.char_count() > MAX_NAME_CHARS {
        return None;
    }
    s.unescape_into(&mut buf).ok().map(f)
}

/// A node id: 1 to 255 characters ([UH-CORE-4]).
pub fn is_valid_node_id(id: &JsonStr<'_>) -> bool {
    !id.is_empty() && id.char_count() <= MAX_NAME_CHARS
}

/// An address `host:port` ([UH-CORE-4]).
pub fn is_valid_address(address: &JsonStr<'_>) -> bool {
    unescaped(address, address_ok).unwrap_or(false)
}

/// An address `host:port` ([UH-CORE-4]), already unescaped.
pub fn address_ok(address: &str) -> bool {
    let Some((host, port)) = address.rsplit_once(':') else {
        return false;
    };
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && !port.starts_with('0')
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    port_ok && address.chars().count() <= MAX_NAME_CHARS && host_ok(host)
}

fn host_ok(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[') {
        return inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<Ipv6Addr>().is_ok());
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().is_ok();
    }
    let last_label_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|label| label.bytes().all(|b| b.is_ascii_digit()));
    host.len() <= 253
        && !last_label_numeric
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// A subscription pattern ([UH-BROKER-3]).
pub fn is_valid_pattern_json(pattern: &JsonStr<'_>) -> bool {
    unescaped(pattern, is_valid_pattern).unwrap_or(false)
}

/// A subscription pattern ([UH-BROKER-3]), already unescaped.
pub fn is_valid_pattern(pattern: &str) -> bool {
    let mut tokens = pattern.split('.').peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() || (token == ">" && tokens.peek().is_some()) {
            return false;
        }
    }
    !pattern.is_empty() && pattern.chars().count() <= MAX_NAME_CHARS
}

/// Whether `pattern` (valid per [`is_valid_pattern`]) matches `event_type` ([UH-BROKER-3]).
pub fn pattern_matches(pattern: &str, event_type: &str) -> bool {
    let mut p = pattern.split('.');
    let mut t = event_type.split('.');
    loop {
        match (p.next(), t.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether every type `pattern` matches is matched by `allowed` (both valid per
/// [`is_valid_pattern`]): token by token, `allowed`'s `>` covers the rest, its `*` any one
/// token of `pattern` (`*` included), a literal only itself; `pattern`'s `>` only `>`.
pub fn pattern_covers(allowed: &str, pattern: &str) -> bool {
    let mut a = allowed.split('.');
    let mut p = pattern.split('.');
    loop {
        match (a.next(), p.next()) {
            (Some(">"), Some(_)) => return true,
            (Some(_), Some(">")) => return false,
            (Some("*"), Some(_)) => {}
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_cover_what_they_match() {
        let cases = [
            ("home.>", "home.lights.*", true),
            ("home.>", "home.>", true),
            ("home.>", "home", false),
            ("home.*", "home.lights", true),
            ("home.*", "home.*", true),
            ("home.*", "home.>", false),
            ("home.lights", "home.*", false),
            ("*.a", "x.a", true),
            (">", ">", true),
            ("a.b", "a.b", true),
            ("a.b", "a.b.c", false),
        ];
        for (allowed, pattern, covers) in cases {
            assert_eq!(
                pattern_covers(allowed, pattern),
                covers,
                "{allowed} ⊇ {pattern}"
            );
        }
        // Covering agrees with matching on the types of a small alphabet.
        let types = ["a", "b", "a.a", "a.b", "b.a", "a.a.a", "a.b.a"];
        let patterns = ["a", "*", ">", "a.*", "a.>", "*.a", "a.*.a", "*.*", "b.>"];
        for allowed in patterns {
            for pattern in patterns {
                if pattern_covers(allowed, pattern) {
                    for t in types {
                        assert!(
                            !pattern_matches(pattern, t) || pattern_matches(allowed, t),
                            "{allowed} covers {pattern} but not {t}"
                        );
                    }
                }
            }
        }
    }

    fn raw(s: &str) -> Option<RawJson<'_>> {
        Some(RawJson::parse(s).unwrap())
    }

    #[test]
    fn patterns_match_per_the_spec() {
        let cases = [
            ("local.test", "local.test", true),
            ("local.test", "local.test.x", false),
            ("local.*", "local.test", true),
            ("local.*", "local", false),
            ("local.*", "local.a.b", false),
            ("*.test", "x.test", true),
            ("local.>", "local.a.b", true),
            ("local.>", "local.a", true),
            ("local.>", "local", false),
            (">", "anything.at.all", true),
            ("*", "a", true),
            ("*", "a.b", false),
            ("a*b", "a*b", true),
            ("a*b", "axb", false),
            ("a.*.c", "a..c", true),
        ];
        for (p, t, m) in cases {
            assert!(is_valid_pattern(p), "{p}");
            assert_eq!(pattern_matches(p, t), m, "{p} vs {t}");
        }
        for bad in ["", "a..b", ".a", "a.", "a.>.b", ">.a"] {
            assert!(!is_valid_pattern(bad), "{bad:?}");
        }
        let long = [b'a'; 256];
        assert!(!is_valid_pattern(core::str::from_utf8(&long).unwrap()));
        assert!(is_valid_pattern(
            core::str::from_utf8(&long[..255]).unwrap()
        ));
    }

    #[test]
    fn addresses_per_the_spec() {
        for ok in [
            "127.0.0.1:5102",
            "[::1]:5102",
            "hub.local:1",
            "a-b.example:65535",
            "h:80",
        ] {
            assert!(address_ok(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:05102",
            "::1:5102",
            "[::1:5102",
            "127.0.0.01:1",
            "a.123:1",
            "999.1.1.1:1",
            "host.:1",
            "[fe80::1%eth0]:1",
            "256.0.0.1:1",
            ":80",
            "-a.b:1",
            "a_b:1",
            "a..b:1",
            "h:",
            "h:+1",
        ] {
            assert!(!address_ok(bad), "{bad}");
        }
    }

    #[test]
    fn register_data_shapes() {
        let r = NodeRef::from_data(raw(
            r#"{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102","x":[]}"#,
        ))
        .unwrap();
        assert!(r.node_id.eq_str("µHome/dummyService"));
        assert!(r.address.eq_str("127.0.0.1:5102"));
        let escaped = NodeRef::from_data(raw(r#"{"node\u0049d":"n","address":"h:1"}"#)).unwrap();
        assert!(escaped.node_id.eq_str("n"));
        for bad in [
            r#"{"address":"h:1"}"#,
            r#"{"nodeId":"","address":"h:1"}"#,
            r#"{"nodeId":5,"address":"h:1"}"#,
            r#"{"nodeId":"n","address":"h"}"#,
            r#"{"nodeId":"n","nodeId":"m","address":"h:1"}"#,
            "[]",
        ] {
            assert_eq!(
                NodeRef::from_data(raw(bad)).unwrap_err().code(),
                crate::Code::InvalidData,
                "{bad}"
            );
        }
        assert!(NodeRef::from_data(None).is_err());
    }

    #[test]
    fn nodes_are_checked_and_iterated() {
        let n = Nodes::from_data(raw(
            r#"{"nodes":[{"nodeId":"a","address":"h:1"},{"nodeId":"b","address":"h:2"}]}"#,
        ))
        .unwrap();
        assert_eq!(n.len(), 2);
        let ids: heapless::Vec<&str, 2> = n.iter().map(|x| x.node_id.raw()).collect();
        assert_eq!(ids.as_slice(), ["a", "b"]);
        assert!(Nodes::from_data(raw(
            r#"{"nodes":[{"nodeId":"a","address":"h:1"},{"nodeId":"\u0061","address":"h:2"}]}"#
        ))
        .is_err());
        assert!(Nodes::from_data(raw(r#"{"nodes":{}}"#)).is_err());
        assert!(Nodes::from_data(raw(r#"{"nodes":[{"nodeId":"a"}]}"#)).is_err());
        assert!(Nodes::from_data(raw(r#"{"nodes":[]}"#)).unwrap().is_empty());
    }

    #[test]
    fn publish_types() {
        let p = Publish::from_data(raw(r#"{"type":"local.test","data":{"on":true}}"#)).unwrap();
        assert!(p.event_type.eq_str("local.test"));
        assert_eq!(p.data.unwrap().as_str(), r#"{"on":true}"#);
        assert_eq!(
            Publish::from_data(raw(r#"{"type":"\u00b5Home.x"}"#)),
            Err(Error::ReservedType)
        );
        assert!(matches!(
            Publish::from_data(raw(r#"{"type":"µHome.*"}"#)),
            Err(Error::InvalidData(_))
        ));
        assert!(matches!(
            Publish::from_data(raw(r#"{"type":"a.*"}"#)),
            Err(Error::InvalidData(_))
        ));
        assert!(matches!(
            Publish::from_data(raw(r#"{"type":""}"#)),
            Err(Error::InvalidData(_))
        ));
        assert!(Publish::from_data(raw(r#"{"type":"a*"}"#)).is_ok());
    }
}
