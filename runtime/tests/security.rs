//! A node with security over real TCP on loopback: signed requests accepted and their replies
//! verified; each attack of the threat model (spec/protocol.md 14.1) on one node refused with
//! its code while a legitimate client goes on being served; compat mode's allow-list; key files
//! and the policy file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use serde_json::{json, Value};
use uhome_protocol::auth::{KeyId, SigningKey};
use uhome_protocol::core_events::{HEALTHCHECK, NODES, PUBLISH, REGISTER, SUBSCRIBE, UNREGISTER};
use uhome_protocol::Event;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::security::{
    generate_key_file, hex, load_key_file, AllowList, KeyFileError, Mode, PeerEntry, Policy, Role,
    Security,
};
use uhome_runtime::server::{self, ServerHandle};
use uhome_runtime::{Client, ClientError, Dispatch, Node, OwnedEvent, ReplyEvent, ReplyFuture};

const NODE: &str = "test/secure";
const ALICE: &str = "test/alice";
const REGISTRY: &str = "µHome/core/serviceRegistry";

struct Nothing;
impl Dispatch for Nothing {
    fn dispatch(&self, _: u16, _: &Event<'_>) -> Option<ReplyFuture> {
        None
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn entry(node_id: &str, key: &SigningKey, role: Role, publish: &[&str]) -> PeerEntry {
    PeerEntry {
        node_id: node_id.into(),
        key: key.verifying_key(),
        role,
        publish: publish.iter().map(|p| p.to_string()).collect(),
        subscribe: Some(vec!["home.lights.*".into()]),
    }
}

/// The node's key, Alice's (may publish `home.sensors.>`), the registry's, a stranger's.
struct Keys {
    node: SigningKey,
    alice: SigningKey,
    registry: SigningKey,
    stranger: SigningKey,
}

fn keys() -> Keys {
    Keys {
        node: key(1),
        alice: key(2),
        registry: key(3),
        stranger: key(4),
    }
}

async fn node(security: Security) -> (ServerHandle, String) {
    let node = Node::new(NODE, Arc::new(Nothing), ServerConfig::default())
        .with_security(Arc::new(security));
    let handle = server::spawn("127.0.0.1:0", Arc::new(node)).await.unwrap();
    let addr = handle.local_addr().to_string();
    (handle, addr)
}

fn secure_node(k: &Keys) -> Security {
    Security::new(Mode::Secure, k.node.clone())
        .with_peer(entry(ALICE, &k.alice, Role::Node, &["home.sensors.>"]))
        .with_peer(entry(REGISTRY, &k.registry, Role::Registry, &[]))
}

/// A client speaking as `id` with `key`, knowing the node's key at `addr`.
fn client(id: &str, key: &SigningKey, node_key: &SigningKey, addr: &str) -> Client {
    let security =
        Security::new(Mode::Secure, key.clone()).with_peer(entry(NODE, node_key, Role::Node, &[]));
    security.learn_address(addr, KeyId::of(&node_key.verifying_key()));
    Client::new(id).with_security(Arc::new(security))
}

fn code(reply: &ReplyEvent) -> String {
    reply.code().unwrap_or_default()
}

async fn raw(addr: &str, frame: &[u8]) -> ReplyEvent {
    let reply = Client::new("raw").send_frame(addr, frame).await.unwrap();
    ReplyEvent::decode(&reply).unwrap()
}

/// A request signed by `signer` for the node with key id `aud`, as bytes.
fn signed(
    signer: &SigningKey,
    source: &str,
    event_type: &str,
    data: Option<&Value>,
    aud: Option<KeyId>,
) -> Vec<u8> {
    let event = OwnedEvent::new(source, event_type, data);
    let frame = Client::new(source).encode(&event).unwrap();
    let security = Security::new(Mode::Secure, signer.clone());
    security.sign_request(&frame, aud).unwrap().0.to_vec()
}

#[tokio::test]
async fn a_signed_request_is_served_and_its_reply_verifies() {
    let k = keys();
    let (_node, addr) = node(secure_node(&k)).await;
    let alice = client(ALICE, &k.alice, &k.node, &addr);
    let reply = alice.request(&addr, HEALTHCHECK, None).await.unwrap();
    assert_eq!(code(&reply), "healthy");
    // A type the node has no handler for passes authentication first.
    let reply = alice.request(&addr, "test.unknown", None).await.unwrap();
    assert_eq!(code(&reply), "no_handler");
    // The client refuses a reply from another key than the one it pinned for the address.
    let wrong = client(ALICE, &k.alice, &k.stranger, &addr);
    match wrong.request(&addr, HEALTHCHECK, None).await {
        Err(ClientError::Unauthenticated { error, .. }) => {
            assert_eq!(error.wire_code(), "unknown_key")
        }
        other => panic!("expected an unauthenticated reply, got {other:?}"),
    }
}

#[tokio::test]
async fn each_attack_on_a_secure_node_is_refused_with_its_code_while_alice_is_served() {
    let k = keys();
    let (_node, addr) = node(secure_node(&k)).await;
    let node_kid = Some(KeyId::of(&k.node.verifying_key()));
    let alice = client(ALICE, &k.alice, &k.node, &addr);

    let captured = signed(&k.alice, ALICE, HEALTHCHECK, None, node_kid);
    let mut altered = captured.clone();
    let at = altered.windows(5).position(|w| w == b"alice").unwrap();
    altered[at] = b'A';
    let attacks: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unsigned",
            Client::new(ALICE)
                .encode(&OwnedEvent::new(ALICE, HEALTHCHECK, None))
                .unwrap()
                .to_vec(),
            "unauthenticated",
        ),
        (
            "a key the node does not know",
            signed(&k.stranger, ALICE, HEALTHCHECK, None, node_kid),
            "unknown_key",
        ),
        ("one payload byte altered", altered, "bad_signature"),
        (
            "signed for another node",
            signed(&k.alice, ALICE, HEALTHCHECK, None, Some(KeyId([7; 8]))),
            "forbidden",
        ),
        (
            "source not the key's node",
            signed(&k.alice, "test/bob", HEALTHCHECK, None, node_kid),
            "forbidden",
        ),
        (
            "unregister another node",
            signed(
                &k.alice,
                ALICE,
                UNREGISTER,
                Some(&json!({"nodeId": "test/bob"})),
                node_kid,
            ),
            "forbidden",
        ),
        (
            "register as another node",
            signed(
                &k.alice,
                ALICE,
                REGISTER,
                Some(&json!({"nodeId": "test/bob", "address": "127.0.0.1:1"})),
                node_kid,
            ),
            "forbidden",
        ),
        (
            "register with another key",
            signed(
                &k.alice,
                ALICE,
                REGISTER,
                Some(&json!({"nodeId": ALICE, "address": "127.0.0.1:1",
                             "key": hex(k.stranger.verifying_key().as_bytes())})),
                node_kid,
            ),
            "forbidden",
        ),
        (
            "push a node list without the registry's key",
            signed(
                &k.alice,
                ALICE,
                NODES,
                Some(&json!({"nodes": []})),
                node_kid,
            ),
            "forbidden",
        ),
        (
            "publish a type the policy does not allow",
            signed(
                &k.alice,
                ALICE,
                PUBLISH,
                Some(&json!({"type": "home.door.unlock"})),
                node_kid,
            ),
            "forbidden",
        ),
        (
            "subscribe beyond the policy",
            signed(
                &k.alice,
                ALICE,
                SUBSCRIBE,
                Some(&json!({"subscribe": "home.>"})),
                node_kid,
            ),
            "forbidden",
        ),
    ];
    for (what, frame, expected) in &attacks {
        let reply = raw(&addr, frame).await;
        assert_eq!(reply.status, 2, "{what}");
        assert_eq!(code(&reply), *expected, "{what}: {}", reply.describe());
        // Alice is served between the attacks.
        let ok = alice.request(&addr, HEALTHCHECK, None).await.unwrap();
        assert_eq!(code(&ok), "healthy", "after {what}");
    }
    // A replay of a request the node served.
    assert_eq!(code(&raw(&addr, &captured).await), "healthy");
    assert_eq!(code(&raw(&addr, &captured).await), "replayed");
    // What the policy allows passes authorization (and reaches dispatch: no handler here).
    for (event_type, data) in [
        (PUBLISH, json!({"type": "home.sensors.hall.motion"})),
        (SUBSCRIBE, json!({"subscribe": "home.lights.kitchen"})),
        (UNREGISTER, json!({"nodeId": ALICE})),
    ] {
        let frame = signed(&k.alice, ALICE, event_type, Some(&data), node_kid);
        assert_eq!(
            code(&raw(&addr, &frame).await),
            "no_handler",
            "{event_type}"
        );
    }
    let list = signed(
        &k.registry,
        REGISTRY,
        NODES,
        Some(&json!({"nodes": []})),
        node_kid,
    );
    assert_eq!(code(&raw(&addr, &list).await), "no_handler");
}

#[tokio::test]
async fn compat_mode_serves_unsigned_requests_from_its_allow_list_only_and_never_ignores_a_bad_signature(
) {
    let k = keys();
    let unsigned = Client::new("legacy/node");
    let loopback = AllowList::parse(&["127.0.0.0/8"]).unwrap();
    let (_a, allowed) = node(secure_node(&k).with_compat_allow(loopback)).await;
    // A secure node with an allow-list still refuses unsigned requests: the list is compat's.
    let reply = unsigned.request(&allowed, HEALTHCHECK, None).await.unwrap();
    assert_eq!(code(&reply), "unauthenticated");

    let compat = |allow: &[&str]| {
        Security::new(Mode::Compat, k.node.clone())
            .with_peer(entry(ALICE, &k.alice, Role::Node, &[]))
            .with_compat_allow(AllowList::parse(allow).unwrap())
    };
    let (_b, open) = node(compat(&["127.0.0.0/8"])).await;
    let reply = unsigned.request(&open, HEALTHCHECK, None).await.unwrap();
    assert_eq!(code(&reply), "healthy");
    let node_kid = Some(KeyId::of(&k.node.verifying_key()));
    let mut broken = signed(&k.alice, ALICE, HEALTHCHECK, None, node_kid);
    let last_sig_digit = broken.len() - 4; // before `"}}`
    broken[last_sig_digit] = if broken[last_sig_digit] == b'0' {
        b'1'
    } else {
        b'0'
    };
    assert_eq!(code(&raw(&open, &broken).await), "bad_signature");

    let (_c, closed) = node(compat(&["10.0.0.0/8"])).await;
    let reply = unsigned.request(&closed, HEALTHCHECK, None).await.unwrap();
    assert_eq!(code(&reply), "unauthenticated");
    assert!(
        reply.reason().unwrap().contains("allow-list"),
        "{}",
        reply.describe()
    );
}

#[test]
fn allow_lists_match_cidr_blocks_and_ipv4_mapped_addresses() {
    let list = AllowList::parse(&["192.168.1.0/24", "::1", "10.0.0.7"]).unwrap();
    let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    assert!(list.allows(v4(192, 168, 1, 200)));
    assert!(!list.allows(v4(192, 168, 2, 1)));
    assert!(list.allows(v4(10, 0, 0, 7)));
    assert!(!list.allows(v4(10, 0, 0, 8)));
    assert!(list.allows("::1".parse().unwrap()));
    assert!(list.allows("::ffff:192.168.1.9".parse().unwrap()));
    assert!(AllowList::parse(&["192.168.1.0/33"]).is_err());
    assert!(!AllowList::default().allows(v4(127, 0, 0, 1)));
    assert!(AllowList::local().allows(v4(127, 0, 0, 1)));
    assert!(!AllowList::local().allows(v4(8, 8, 8, 8)));
}

#[test]
fn key_files_are_created_0600_and_refused_when_others_can_read_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.key");
    let made = generate_key_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(load_key_file(&path).unwrap().to_bytes(), made.to_bytes());
    // Never overwritten.
    assert!(matches!(
        generate_key_file(&path),
        Err(KeyFileError::Io { .. })
    ));
    assert_eq!(load_key_file(&path).unwrap().to_bytes(), made.to_bytes());
    // Two keys made so differ.
    let other = generate_key_file(&dir.path().join("other.key")).unwrap();
    assert_ne!(other.to_bytes(), made.to_bytes());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    match load_key_file(&path) {
        Err(KeyFileError::Exposed { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not hex\n").unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        load_key_file(&bad),
        Err(KeyFileError::Malformed { .. })
    ));
}

const POLICY: &str = r#"
mode = "secure"
skew_ms = 20000

[compat]
allow = ["127.0.0.0/8"]

[[node]]
id = "µHome/core/serviceRegistry"
key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
role = "registry"

[[node]]
id = "µHome/sensors/hall"
key = "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"
publish = ["home.sensors.hall.>"]
subscribe = ["home.lights.*"]
"#;

#[test]
fn the_policy_file_is_validated_at_load() {
    let policy = Policy::parse(POLICY).unwrap();
    assert_eq!(policy.mode, Mode::Secure);
    assert_eq!(policy.skew_ms, 20_000);
    assert_eq!(policy.nodes.len(), 2);
    assert_eq!(policy.nodes[0].role, Role::Registry);
    assert_eq!(
        policy.nodes[1].publish,
        vec!["home.sensors.hall.>".to_string()]
    );
    assert!(policy.compat_allow.allows("127.0.0.1".parse().unwrap()));
    let hall_key = "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025";
    let broken = [
        (POLICY.replace("\"registry\"", "\"king\""), "king"),
        (POLICY.replace("home.sensors.hall.>", "home.>.x"), "pattern"),
        (POLICY.replace(hall_key, &hall_key.to_uppercase()), "hex"),
        (
            POLICY.replace("µHome/sensors/hall", "µHome/core/serviceRegistry"),
            "twice",
        ),
        (
            POLICY.replace(
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                hall_key,
            ),
            "another node",
        ),
        (POLICY.replace("skew_ms", "skew"), "skew"),
        (
            POLICY.replace("mode = \"secure\"", "mode = \"open\""),
            "open",
        ),
        (POLICY.replace("127.0.0.0/8", "localhost"), "CIDR"),
    ];
    for (text, says) in broken {
        let error = Policy::parse(&text).unwrap_err();
        assert!(error.contains(says), "{says}: {error}");
    }
}
