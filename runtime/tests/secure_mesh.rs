//! A secure mesh on loopback — registry, broker, a subscribing service and a publishing
//! sensor, every key pinned by one policy file — and an attacker process trying each attack
//! of the threat model (section 14.1 of `spec/protocol.md`): unregister a node,
//! push a forged list, subscribe as another node, publish a forbidden type, replay a captured
//! publish, forge a delivery to a subscriber. Each is refused with its code while the
//! sensor's events keep reaching the subscriber.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;
use uhome_protocol::auth::{KeyId, SigningKey};
use uhome_protocol::core_events::{
    BROKER_ID, HEALTHCHECK, NODES, PUBLISH, REGISTRY_ID, SUBSCRIBE, UNREGISTER,
};
use uhome_protocol::Envelope;
use uhome_runtime::broker::BrokerConfig;
use uhome_runtime::registry::RegistryConfig;
use uhome_runtime::security::{hex, with_member, AllowList, Policy, Security};
use uhome_runtime::service::{self, Service};
use uhome_runtime::{Client, ClientError, OwnedEvent, ReplyEvent};

const KITCHEN: &str = "µHome/lights/kitchen";
const HALL: &str = "µHome/sensors/hall";
const MOTION: &str = "home.sensors.hall.motion";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

#[derive(Clone)]
struct Keys {
    registry: SigningKey,
    broker: SigningKey,
    kitchen: SigningKey,
    hall: SigningKey,
    attacker: SigningKey,
}

impl Keys {
    /// Keys from the seeds `first` to `first + 4`.
    fn from_seeds(first: u8) -> Keys {
        Keys {
            registry: key(first),
            broker: key(first + 1),
            kitchen: key(first + 2),
            hall: key(first + 3),
            attacker: key(first + 4),
        }
    }
}

fn public(k: &SigningKey) -> String {
    hex(k.verifying_key().as_bytes())
}

fn policy(k: &Keys) -> Policy {
    Policy::parse(&format!(
        r#"
mode = "secure"

[[node]]
id = "{REGISTRY_ID}"
key = "{}"
role = "registry"

[[node]]
id = "{BROKER_ID}"
key = "{}"
role = "broker"

[[node]]
id = "{KITCHEN}"
key = "{}"
subscribe = ["home.sensors.>", "home.lights.*"]

[[node]]
id = "{HALL}"
key = "{}"
publish = ["home.sensors.hall.>"]
subscribe = ["home.lights.*"]
"#,
        public(&k.registry),
        public(&k.broker),
        public(&k.kitchen),
        public(&k.hall),
    ))
    .unwrap()
}

struct SecureMesh {
    registry: String,
    broker: String,
    kitchen: Service,
    deliveries: UnboundedReceiver<OwnedEvent>,
    hall: Client,
    policy: Policy,
    keys: Keys,
    _handles: (
        uhome_runtime::broker::BrokerHandle,
        uhome_runtime::registry::RegistryHandle,
    ),
}

async fn secure_mesh() -> SecureMesh {
    let keys = Keys::from_seeds(11);
    let policy = policy(&keys);
    let security = |k: &SigningKey| Arc::new(Security::from_policy(&policy, k.clone()));
    let broker = broker_with(BrokerConfig {
        deadlines: deadlines(1000),
        security: Some(security(&keys.broker)),
        ..BrokerConfig::default()
    })
    .await;
    let registry = registry_with(RegistryConfig {
        security: Some(security(&keys.registry)),
        ..registry_config(&broker)
    })
    .await;
    let (registry_addr, broker_addr) = (
        registry.local_addr().to_string(),
        broker.local_addr().to_string(),
    );
    let (handler, deliveries) = recorder();
    let kitchen = Service::builder(KITCHEN)
        .registry(registry_addr.clone())
        .broker(broker_addr.clone())
        .deadlines(deadlines(1000))
        .security(security(&keys.kitchen))
        .handle("home.sensors.>", handler)
        .subscribe("home.sensors.>")
        .give_up_after(Some(Duration::from_secs(5)))
        .start()
        .await
        .expect("the kitchen registers and subscribes, signed");
    let hall_security = security(&keys.hall);
    hall_security.learn_node(BROKER_ID, &broker_addr);
    hall_security.learn_node(REGISTRY_ID, &registry_addr);
    let hall = Client::with_deadlines(HALL, deadlines(1000)).with_security(hall_security);
    SecureMesh {
        registry: registry_addr,
        broker: broker_addr,
        kitchen,
        deliveries,
        hall,
        policy,
        keys,
        _handles: (broker, registry),
    }
}

fn code(reply: &ReplyEvent) -> String {
    reply.code().unwrap_or_default()
}

impl SecureMesh {
    /// A request signed with `signer` for the node `aud` names, as bytes: what an attacker
    /// holding that key (or a captured frame) sends.
    fn signed(
        &self,
        signer: &SigningKey,
        source: &str,
        event_type: &str,
        data: Option<&Value>,
        aud: &str,
    ) -> Vec<u8> {
        let frame = Client::new(source)
            .encode(&OwnedEvent::new(source, event_type, data))
            .unwrap();
        let aud = self
            .policy
            .nodes
            .iter()
            .find(|n| n.node_id == aud)
            .map(|n| KeyId::of(&n.key));
        let security = Security::from_policy(&self.policy, signer.clone());
        security.sign_request(&frame, aud).unwrap().0.to_vec()
    }

    fn unsigned(&self, source: &str, event_type: &str, data: Option<&Value>) -> Vec<u8> {
        Client::new(source)
            .encode(&OwnedEvent::new(source, event_type, data))
            .unwrap()
            .to_vec()
    }

    async fn send(&self, addr: &str, frame: &[u8]) -> ReplyEvent {
        let reply = Client::with_deadlines("attacker", deadlines(1000))
            .send_frame(addr, frame)
            .await
            .unwrap();
        ReplyEvent::decode(&reply).unwrap()
    }

    /// An event of the hall's as the broker would deliver it to the kitchen: `data`, the
    /// origin `origin_key` signs over `signed_data` (none: no origin), the frame signed by
    /// `frame_key`. The event's id and timestamp are `like`'s when given.
    fn delivery(
        &self,
        frame_key: &SigningKey,
        origin_key: Option<&SigningKey>,
        signed_data: &Value,
        data: &Value,
        like: Option<&OwnedEvent>,
    ) -> (Vec<u8>, OwnedEvent) {
        let mut event = OwnedEvent::new(HALL, MOTION, Some(data));
        if let Some(like) = like {
            event.id = like.id.clone();
            event.timestamp = like.timestamp.clone();
        }
        let mut frame = Client::new(HALL).encode(&event).unwrap().to_vec();
        if let Some(key) = origin_key {
            let signed_text = signed_data.to_string();
            let envelope = Envelope {
                id: &event.id,
                timestamp: &event.timestamp,
                source: &event.source,
                event_type: MOTION,
            };
            let origin = Security::from_policy(&self.policy, key.clone())
                .origin(&envelope, Some(&signed_text))
                .unwrap();
            frame = with_member(&frame, "origin", &origin.to_string())
                .unwrap()
                .to_vec();
        }
        let kitchen = self
            .policy
            .nodes
            .iter()
            .find(|n| n.node_id == KITCHEN)
            .unwrap();
        let signed = Security::from_policy(&self.policy, frame_key.clone())
            .sign_request(&frame, Some(KeyId::of(&kitchen.key)))
            .unwrap()
            .0
            .to_vec();
        (signed, event)
    }

    /// A publish of the hall's with its origin, signed for the broker, as bytes.
    fn signed_publish(&self, data: &Value) -> Vec<u8> {
        let hall = Security::from_policy(&self.policy, self.keys.hall.clone());
        let mut event = OwnedEvent::new(HALL, PUBLISH, None);
        let envelope = Envelope {
            id: &event.id,
            timestamp: &event.timestamp,
            source: &event.source,
            event_type: MOTION,
        };
        let origin = hall.origin(&envelope, Some(&data.to_string())).unwrap();
        event.data = Some(json!({"type": MOTION, "data": data, "origin": origin}).to_string());
        let frame = Client::new(HALL).encode(&event).unwrap();
        let broker = self
            .policy
            .nodes
            .iter()
            .find(|n| n.node_id == BROKER_ID)
            .unwrap();
        hall.sign_request(&frame, Some(KeyId::of(&broker.key)))
            .unwrap()
            .0
            .to_vec()
    }

    /// The sensor publishes (with its origin signature); the kitchen receives exactly that
    /// event, verified end to end.
    async fn legitimate_event_arrives(&mut self, n: u64) {
        let report = service::publish(&self.hall, &self.broker, MOTION, Some(&json!({"n": n})))
            .await
            .unwrap();
        assert_eq!(report.delivered, 1, "{report:?}");
        let got = drain(&mut self.deliveries, Duration::from_millis(300)).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].source, HALL);
        assert_eq!(got[0].data_value().unwrap(), json!({"n": n}));
    }
}

#[tokio::test]
async fn every_attack_on_a_secure_mesh_is_refused_while_the_sensor_keeps_reaching_the_kitchen() {
    let mut mesh = secure_mesh().await;
    let mut n = 0;
    mesh.legitimate_event_arrives(n).await;

    let k = mesh.keys.clone();
    let (registry, broker) = (mesh.registry.clone(), mesh.broker.clone());
    let kitchen_addr = mesh.kitchen.advertised().to_string();
    let motion = json!({"type": MOTION, "data": {"forged": true}});
    let attacks: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        // Unregister the kitchen.
        (
            "unregister, unsigned",
            &registry,
            mesh.unsigned(KITCHEN, UNREGISTER, Some(&json!({"nodeId": KITCHEN}))),
            "unauthenticated",
        ),
        (
            "unregister, the attacker's own key",
            &registry,
            mesh.signed(
                &k.attacker,
                KITCHEN,
                UNREGISTER,
                Some(&json!({"nodeId": KITCHEN})),
                REGISTRY_ID,
            ),
            "unknown_key",
        ),
        (
            "unregister, the hall's key claiming the kitchen's id",
            &registry,
            mesh.signed(
                &k.hall,
                KITCHEN,
                UNREGISTER,
                Some(&json!({"nodeId": KITCHEN})),
                REGISTRY_ID,
            ),
            "forbidden",
        ),
        (
            "unregister the kitchen as the hall",
            &registry,
            mesh.signed(
                &k.hall,
                HALL,
                UNREGISTER,
                Some(&json!({"nodeId": KITCHEN})),
                REGISTRY_ID,
            ),
            "forbidden",
        ),
        // Push a forged list to the broker.
        (
            "a forged list, unsigned",
            &broker,
            mesh.unsigned(REGISTRY_ID, NODES, Some(&json!({"nodes": []}))),
            "unauthenticated",
        ),
        (
            "a forged list, signed by the hall",
            &broker,
            mesh.signed(&k.hall, HALL, NODES, Some(&json!({"nodes": []})), BROKER_ID),
            "forbidden",
        ),
        (
            "a list sent to the registry's audience, replayed to the broker",
            &broker,
            mesh.signed(
                &k.registry,
                REGISTRY_ID,
                NODES,
                Some(&json!({"nodes": []})),
                REGISTRY_ID,
            ),
            "forbidden",
        ),
        // Subscribe as another node, or beyond the policy.
        (
            "subscribe as the kitchen",
            &broker,
            mesh.signed(
                &k.hall,
                KITCHEN,
                SUBSCRIBE,
                Some(&json!({"subscribe": "home.>"})),
                BROKER_ID,
            ),
            "forbidden",
        ),
        (
            "subscribe beyond the policy",
            &broker,
            mesh.signed(
                &k.hall,
                HALL,
                SUBSCRIBE,
                Some(&json!({"subscribe": "home.sensors.>"})),
                BROKER_ID,
            ),
            "forbidden",
        ),
        // Publish a forbidden type.
        (
            "publish home.door.unlock",
            &broker,
            mesh.signed(
                &k.hall,
                HALL,
                PUBLISH,
                Some(&json!({"type": "home.door.unlock"})),
                BROKER_ID,
            ),
            "forbidden",
        ),
        (
            "publish as the kitchen",
            &broker,
            mesh.signed(&k.hall, KITCHEN, PUBLISH, Some(&motion), BROKER_ID),
            "forbidden",
        ),
        // Forge a delivery to the subscriber.
        (
            "a delivery, unsigned",
            &kitchen_addr,
            mesh.unsigned(HALL, MOTION, Some(&json!({"forged": true}))),
            "unauthenticated",
        ),
        (
            "a delivery signed by the attacker",
            &kitchen_addr,
            mesh.signed(
                &k.attacker,
                HALL,
                MOTION,
                Some(&json!({"forged": true})),
                KITCHEN,
            ),
            "unknown_key",
        ),
        (
            "a delivery the broker signed for another node",
            &kitchen_addr,
            mesh.signed(
                &k.broker,
                HALL,
                MOTION,
                Some(&json!({"forged": true})),
                HALL,
            ),
            "forbidden",
        ),
        // A compromised broker: its key signs the frame, but the publisher's origin is needed.
        (
            "a delivery without the publisher's origin",
            &kitchen_addr,
            mesh.delivery(&k.broker, None, &json!({}), &json!({"n": 1}), None)
                .0,
            "unauthenticated",
        ),
        (
            "a delivery whose data the broker altered",
            &kitchen_addr,
            mesh.delivery(
                &k.broker,
                Some(&k.hall),
                &json!({"n": 1}),
                &json!({"n": 2}),
                None,
            )
            .0,
            "bad_signature",
        ),
        (
            "an event of the hall's with the registry's origin",
            &kitchen_addr,
            mesh.delivery(
                &k.broker,
                Some(&k.registry),
                &json!({"n": 3}),
                &json!({"n": 3}),
                None,
            )
            .0,
            "forbidden",
        ),
    ];
    for (what, addr, frame, expected) in &attacks {
        let reply = mesh.send(addr, frame).await;
        assert_eq!(reply.status, 2, "{what}: {}", reply.describe());
        assert_eq!(code(&reply), *expected, "{what}: {}", reply.describe());
        n += 1;
        mesh.legitimate_event_arrives(n).await;
    }

    // A captured publish, replayed: delivered once.
    let captured = mesh.signed_publish(&json!({"captured": true}));
    assert_eq!(code(&mesh.send(&broker, &captured).await), "published");
    assert_eq!(code(&mesh.send(&broker, &captured).await), "replayed");
    let got = drain(&mut mesh.deliveries, Duration::from_millis(300)).await;
    assert_eq!(got.len(), 1, "the replay was delivered: {got:?}");

    // A delivered event the broker sends again in a new frame (a fresh nonce): refused by
    // the delivery cache.
    let (once, event) = mesh.delivery(
        &k.broker,
        Some(&k.hall),
        &json!({"n": 5}),
        &json!({"n": 5}),
        None,
    );
    assert_eq!(code(&mesh.send(&kitchen_addr, &once).await), "ok");
    let (again, _) = mesh.delivery(
        &k.broker,
        Some(&k.hall),
        &json!({"n": 5}),
        &json!({"n": 5}),
        Some(&event),
    );
    assert_ne!(once, again);
    assert_eq!(code(&mesh.send(&kitchen_addr, &again).await), "replayed");
    let got = drain(&mut mesh.deliveries, Duration::from_millis(300)).await;
    assert_eq!(got.len(), 1, "delivered once: {got:?}");

    // The kitchen is still registered and subscribed; no forged list was installed.
    let nodes = mesh._handles.1.nodes();
    assert!(nodes.iter().any(|e| e.node_id == KITCHEN), "{nodes:?}");
    assert!(mesh._handles.0.nodes().iter().any(|e| e.node_id == KITCHEN));
    assert_eq!(mesh._handles.0.subscriptions(HALL), Vec::<String>::new());
    let health = mesh
        .hall
        .request(&mesh.registry, HEALTHCHECK, None)
        .await
        .unwrap();
    assert_eq!(code(&health), "healthy");
    mesh.legitimate_event_arrives(n + 1).await;
}

#[tokio::test]
async fn a_service_whose_key_the_policy_does_not_pin_cannot_join() {
    let mesh = secure_mesh().await;
    let stranger = Arc::new(Security::from_policy(&mesh.policy, key(99)));
    let result = Service::builder("µHome/stranger")
        .registry(mesh.registry.clone())
        .broker(mesh.broker.clone())
        .deadlines(deadlines(1000))
        .security(stranger)
        .give_up_after(Some(Duration::from_millis(600)))
        .start()
        .await;
    let error = result.err().expect("the registry refuses the stranger");
    assert!(error.to_string().contains("unknown_key"), "{error}");
    assert!(!mesh
        ._handles
        .1
        .nodes()
        .iter()
        .any(|e| e.node_id == "µHome/stranger"));
}

#[tokio::test]
async fn the_registry_never_health_checks_an_address_outside_the_outbound_allow_list() {
    let mesh = secure_mesh().await;
    // The policy has no [outbound]: the loopback and private ranges.
    for (address, reason) in [
        (
            "192.0.2.10:5102",
            "192.0.2.10 is not in the outbound allow-list",
        ),
        (
            "[2001:db8::1]:5102",
            "2001:db8::1 is not in the outbound allow-list",
        ),
        ("no-such-host.invalid:5102", "does not resolve"),
    ] {
        let frame = mesh.signed(
            &mesh.keys.hall,
            HALL,
            uhome_protocol::core_events::REGISTER,
            Some(&json!({"nodeId": HALL, "address": address})),
            REGISTRY_ID,
        );
        let reply = mesh.send(&mesh.registry, &frame).await;
        assert_eq!(code(&reply), "forbidden", "{address}: {}", reply.describe());
        assert!(
            reply.reason().unwrap().contains(reason),
            "{}",
            reply.describe()
        );
    }
    // A loopback address is allowed: the registry health-checks it (nothing listens on
    // port 1, so the registration is refused as unhealthy, not forbidden).
    let frame = mesh.signed(
        &mesh.keys.hall,
        HALL,
        uhome_protocol::core_events::REGISTER,
        Some(&json!({"nodeId": HALL, "address": "127.0.0.1:1"})),
        REGISTRY_ID,
    );
    assert_eq!(code(&mesh.send(&mesh.registry, &frame).await), "unhealthy");
}

/// The address of the next connection `listener` accepts within 3 s.
async fn accept(listener: &tokio::net::TcpListener) -> std::net::SocketAddr {
    let accepted = tokio::time::timeout(Duration::from_secs(3), listener.accept()).await;
    accepted.expect("a connection arrives").unwrap().1
}

#[tokio::test]
async fn connections_to_peer_addresses_go_only_to_resolved_addresses_the_outbound_list_allows() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let security = |blocks: &[&str]| {
        let keys = Keys::from_seeds(31);
        Arc::new(
            Security::from_policy(&policy(&keys), keys.registry)
                .with_outbound_allow(AllowList::parse(blocks).unwrap()),
        )
    };
    let elsewhere = security(&["192.0.2.0/24"]);
    let peers = Client::new(REGISTRY_ID)
        .with_security(elsewhere.clone())
        .for_peer_addresses();
    for address in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let error = peers.connect(&address).await.err().expect("refused");
        assert!(
            matches!(error, ClientError::NotAllowed { .. }),
            "{address}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains("is not in the outbound allow-list"),
            "{error}"
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), listener.accept())
            .await
            .is_err(),
        "nothing reached the listener"
    );
    // A name is resolved once, checked, and connected to as resolved.
    let loopback = Client::new(REGISTRY_ID)
        .with_security(security(&["127.0.0.0/8", "::1/128"]))
        .for_peer_addresses();
    let _connection = loopback
        .connect(&format!("localhost:{port}"))
        .await
        .unwrap();
    assert!(accept(&listener).await.ip().is_loopback());
    // Configured addresses (the registry's broker, the broker's registry) are not peers'.
    let configured = Client::new(REGISTRY_ID).with_security(elsewhere);
    let _connection = configured
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    accept(&listener).await;
}

/// Gives the broker at `broker_addr` a list, signed by the registry, of the kitchen at
/// `kitchen_addr`, subscribes the kitchen (signed) to the hall's sensors, and returns the
/// hall's client, which knows the broker.
async fn kitchen_subscribed(
    policy: &Policy,
    keys: &Keys,
    broker_addr: &str,
    kitchen_addr: &str,
    keep_alive: bool,
) -> Client {
    let broker_kid = Some(KeyId::of(&keys.broker.verifying_key()));
    let signed = |k: &SigningKey, source: &str, event_type: &str, data: Value| {
        let frame = Client::new(source)
            .encode(&OwnedEvent::new(source, event_type, Some(&data)))
            .unwrap();
        Security::from_policy(policy, k.clone())
            .sign_request(&frame, broker_kid)
            .unwrap()
            .0
    };
    let list = json!({"nodes": [
        {"nodeId": KITCHEN, "address": kitchen_addr, "keepAlive": keep_alive}
    ]});
    for frame in [
        signed(&keys.registry, REGISTRY_ID, NODES, list),
        signed(
            &keys.kitchen,
            KITCHEN,
            SUBSCRIBE,
            json!({"subscribe": "home.sensors.>"}),
        ),
    ] {
        let reply = Client::with_deadlines("test", deadlines(1000))
            .send_frame(broker_addr, &frame)
            .await
            .unwrap();
        let reply = ReplyEvent::decode(&reply).unwrap();
        assert!(reply.is_success(), "{}", reply.describe());
    }
    let hall_security = Arc::new(Security::from_policy(policy, keys.hall.clone()));
    hall_security.learn_node(BROKER_ID, broker_addr);
    Client::with_deadlines(HALL, deadlines(1000)).with_security(hall_security)
}

#[tokio::test]
async fn the_broker_never_delivers_to_an_address_outside_the_outbound_allow_list() {
    let keys = Keys::from_seeds(41);
    let policy = policy(&keys);
    // Kept connections and new ones alike.
    for keep_alive in [true, false] {
        let broker = broker_with(BrokerConfig {
            deadlines: deadlines(1000),
            security: Some(Arc::new(
                Security::from_policy(&policy, keys.broker.clone())
                    .with_outbound_allow(AllowList::parse(&["192.0.2.0/24"]).unwrap()),
            )),
            ..BrokerConfig::default()
        })
        .await;
        let broker_addr = broker.local_addr().to_string();
        let kitchen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let kitchen_addr = kitchen.local_addr().unwrap().to_string();
        let hall =
            kitchen_subscribed(&policy, &keys, &broker_addr, &kitchen_addr, keep_alive).await;
        let report = service::publish(&hall, &broker_addr, MOTION, Some(&json!({"n": 1})))
            .await
            .unwrap();
        assert_eq!(
            (report.delivered, report.failed.as_slice()),
            (0, [KITCHEN.to_string()].as_slice()),
            "keepAlive {keep_alive}: {report:?}"
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(300), kitchen.accept())
                .await
                .is_err(),
            "keepAlive {keep_alive}: the broker connected to the kitchen"
        );
    }
}

/// `policy` with only the nodes `ids` names.
fn pinning(policy: &Policy, ids: &[&str]) -> Policy {
    let mut partial = policy.clone();
    partial.nodes.retain(|n| ids.contains(&n.node_id.as_str()));
    partial
}

#[tokio::test]
async fn keys_travel_with_the_registrys_lists() {
    let keys = Keys::from_seeds(21);
    let full = policy(&keys);
    // Only the registry pins every node: the broker learns the kitchen's key from the list
    // it is pushed, the kitchen the hall's from its discover replies.
    let broker_policy = pinning(&full, &[REGISTRY_ID, BROKER_ID, HALL]);
    let kitchen_policy = pinning(&full, &[REGISTRY_ID, BROKER_ID]);
    let broker = broker_with(BrokerConfig {
        deadlines: deadlines(1000),
        security: Some(Arc::new(Security::from_policy(
            &broker_policy,
            keys.broker.clone(),
        ))),
        ..BrokerConfig::default()
    })
    .await;
    let registry = registry_with(RegistryConfig {
        security: Some(Arc::new(Security::from_policy(
            &full,
            keys.registry.clone(),
        ))),
        ..registry_config(&broker)
    })
    .await;
    let (registry_addr, broker_addr) = (
        registry.local_addr().to_string(),
        broker.local_addr().to_string(),
    );
    let (handler, mut deliveries) = recorder();
    let kitchen = Service::builder(KITCHEN)
        .registry(registry_addr.clone())
        .broker(broker_addr.clone())
        .deadlines(deadlines(1000))
        .refresh_interval(Duration::from_millis(200))
        .security(Arc::new(Security::from_policy(
            &kitchen_policy,
            keys.kitchen.clone(),
        )))
        .handle("home.sensors.>", handler)
        .subscribe("home.sensors.>")
        .give_up_after(Some(Duration::from_secs(5)))
        .start()
        .await
        .expect("the broker accepts the kitchen's signed subscribe with the key it was pushed");
    // The hall registers too (it subscribes to nothing): the registry lists its key.
    let hall_service = Service::builder(HALL)
        .registry(registry_addr.clone())
        .broker(broker_addr.clone())
        .deadlines(deadlines(1000))
        .security(Arc::new(Security::from_policy(&full, keys.hall.clone())))
        .give_up_after(Some(Duration::from_secs(5)))
        .start()
        .await
        .expect("the hall registers, signed");
    let hall = hall_service.client().clone();

    let listed = service::discover(&hall, &registry_addr).await.unwrap();
    let entry = listed.iter().find(|n| n.node_id == KITCHEN).unwrap();
    assert_eq!(entry.key.as_deref(), Some(public(&keys.kitchen).as_str()));
    assert_eq!(entry.address, kitchen.advertised());

    // Once the kitchen has refreshed, it verifies the hall's origin with the learnt key.
    let mut received = Vec::new();
    let mut failures = Vec::new();
    for n in 0..50 {
        let report = service::publish(&hall, &broker_addr, MOTION, Some(&json!({"n": n})))
            .await
            .unwrap();
        assert_eq!(
            report.delivered as usize + report.failed.len(),
            1,
            "{report:?}"
        );
        failures.extend(report.failed);
        received = drain(&mut deliveries, Duration::from_millis(100)).await;
        if !received.is_empty() {
            break;
        }
    }
    assert_eq!(
        received.len(),
        1,
        "the kitchen never accepted the hall's event: {failures:?}"
    );
    assert_eq!(received[0].source, HALL);

    // Lists signed by the registry that give the kitchen's key to another node, a key that is
    // not a string, or one new key to two nodes are refused whole, and the broker keeps
    // delivering to the kitchen.
    let registry_security = Security::from_policy(&full, keys.registry.clone());
    let broker_kid = KeyId::of(&keys.broker.verifying_key());
    let collision = json!({"nodes": [
        {"nodeId": KITCHEN, "address": kitchen.advertised(), "key": public(&keys.kitchen)},
        {"nodeId": "µHome/impostor", "address": "127.0.0.1:9", "key": public(&keys.kitchen)},
    ]});
    let not_a_key = json!({"nodes": [
        {"nodeId": KITCHEN, "address": kitchen.advertised(), "key": 5},
    ]});
    let twice = json!({"nodes": [
        {"nodeId": "µHome/impostor", "address": "127.0.0.1:9", "key": public(&keys.attacker)},
        {"nodeId": "µHome/impostor2", "address": "127.0.0.1:9", "key": public(&keys.attacker)},
    ]});
    for (list, named) in [
        (collision, "µHome/impostor"),
        (not_a_key, KITCHEN),
        (twice, "µHome/impostor2"),
    ] {
        let frame = Client::new(REGISTRY_ID)
            .encode(&OwnedEvent::new(REGISTRY_ID, NODES, Some(&list)))
            .unwrap();
        let (signed, _) = registry_security
            .sign_request(&frame, Some(broker_kid))
            .unwrap();
        let reply = Client::with_deadlines("test", deadlines(1000))
            .send_frame(&broker_addr, &signed)
            .await
            .unwrap();
        let reply = ReplyEvent::decode(&reply).unwrap();
        assert_eq!(code(&reply), "invalid_data", "{list}: {reply:?}");
        assert!(reply.describe().contains(named), "{list}: {reply:?}");
    }
    let report = service::publish(&hall, &broker_addr, MOTION, Some(&json!({"after": 1})))
        .await
        .unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    drop((broker, registry));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_share_the_kept_connections_of_a_keep_alive_subscriber() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::codec::Decoder;
    use uhome_runtime::codec::FrameCodec;
    use uhome_runtime::kept::CONNECTIONS_PER_NODE;
    use uhome_runtime::security::Admission;
    use uhome_runtime::Reply;

    const EVENTS: usize = 24;
    let keys = Keys::from_seeds(31);
    let policy = policy(&keys);
    let security = |k: &SigningKey| Arc::new(Security::from_policy(&policy, k.clone()));
    let broker = broker_with(BrokerConfig {
        deadlines: deadlines(1000),
        security: Some(security(&keys.broker)),
        ..BrokerConfig::default()
    })
    .await;
    let broker_addr = broker.local_addr().to_string();

    // The kitchen, played here: it admits each delivery as a secure node does (the broker's
    // frame, the hall's origin) and answers it signed for that delivery's nonce.
    let kitchen = security(&keys.kitchen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let kitchen_addr = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let admitted = Arc::new(AtomicUsize::new(0));
    let (seen, verified) = (connections.clone(), admitted.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, peer)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let (kitchen, verified) = (kitchen.clone(), verified.clone());
            tokio::spawn(async move {
                let mut buf = bytes::BytesMut::new();
                loop {
                    while let Some(frame) = FrameCodec.decode(&mut buf).unwrap() {
                        let frame = frame.view();
                        let admission = kitchen.admit(&frame, Some(peer.ip()));
                        assert!(
                            matches!(&admission, Ok(Admission::Signed(p)) if p.node_id == BROKER_ID),
                            "{admission:?}"
                        );
                        verified.fetch_add(1, Ordering::SeqCst);
                        let reply = kitchen
                            .sign_reply(&Reply::ok("Received").encode(KITCHEN), &frame)
                            .unwrap();
                        if stream.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                    match stream.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });

    let hall = kitchen_subscribed(&policy, &keys, &broker_addr, &kitchen_addr, true).await;
    for batch in 0..EVENTS / 4 {
        let sends = (0..4).map(|i| {
            let (hall, broker) = (hall.clone(), broker_addr.clone());
            async move {
                service::publish(&hall, &broker, MOTION, Some(&json!({"n": batch * 4 + i}))).await
            }
        });
        for report in futures_util::future::join_all(sends).await {
            let report = report.unwrap();
            assert_eq!(
                (report.delivered, report.failed.len()),
                (1, 0),
                "{report:?}"
            );
        }
    }
    assert_eq!(admitted.load(Ordering::SeqCst), EVENTS);
    let used = connections.load(Ordering::SeqCst);
    assert!(
        (1..=CONNECTIONS_PER_NODE).contains(&used),
        "{EVENTS} signed deliveries on {used} connections"
    );
}
