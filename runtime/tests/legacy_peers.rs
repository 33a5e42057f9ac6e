//! A service against a v0.0.1 registry and broker: fake nodes on loopback that answer with
//! the exact reply bytes of `spec/vectors/legacy-exchanges.json` — replies without codes,
//! `no_handler` for discover and unregister, the subscribe race lost, and `Node already
//! exists` for a known id ([UH-SERVICE-3], [UH-SERVICE-7], [UH-SERVICE-8], Appendix A).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use common::*;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;
use uhome_protocol::core_events::{DISCOVER, HEALTHCHECK, REGISTER, SUBSCRIBE, UNREGISTER};
use uhome_runtime::codec::FrameCodec;
use uhome_runtime::service::{Service, Unregistration};
use uhome_runtime::{Client, Reply, ReplyEvent};

#[derive(Deserialize)]
struct File {
    exchanges: Vec<Exchange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Exchange {
    id: String,
    segments: Vec<Hex>,
    legacy_replies: Vec<Hex>,
}

#[derive(Deserialize)]
struct Hex {
    hex: String,
}

/// The captured bytes: (requests, v0.0.1's replies) of exchange `capture`.
fn capture(capture: &str) -> (Vec<u8>, Vec<u8>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/vectors/legacy-exchanges.json");
    let file: File = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exchange = file
        .exchanges
        .into_iter()
        .find(|e| e.id == format!("legacy-exchanges/{capture}"))
        .unwrap();
    (
        hex::decode(&exchange.segments[0].hex).unwrap(),
        hex::decode(&exchange.legacy_replies[0].hex).unwrap(),
    )
}

/// v0.0.1's refusal of a known id. The captures hold no such reply; this one is capture 4a's
/// reply with the registry's source, message and reason — v0.0.1's layout, no `code`.
fn node_already_exists() -> Vec<u8> {
    let (_, refused) = capture("4a-subscribe-not-registered");
    let payload = std::str::from_utf8(&refused[5..]).unwrap();
    let payload = payload
        .replace("µHome/core/eventBroker", "µHome/core/serviceRegistry")
        .replace(
            "Failed to subscribe for microservice to event",
            "Failed to register microservice",
        )
        .replace("Node is not registered", "Node already exists");
    assert!(!payload.contains("code"));
    let mut frame = (payload.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&refused[2..5]);
    frame.extend_from_slice(payload.as_bytes());
    frame
}

type Answer = Arc<dyn Fn(&ReplyEvent) -> Vec<u8> + Send + Sync>;

/// A fake node: reads one frame per connection, answers `answer`'s bytes, records each
/// request's type.
struct Fake {
    addr: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    async fn start(answer: Answer) -> Fake {
        let listener = TcpListener::bind(LOOPBACK).await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let answer = answer.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, answer, log).await;
                });
            }
        });
        Fake { addr, seen }
    }

    fn count(&self, event_type: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == event_type)
            .count()
    }
}

async fn serve(
    mut stream: TcpStream,
    answer: Answer,
    log: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut buf = BytesMut::new();
    let frame = loop {
        if let Some(frame) = FrameCodec.decode(&mut buf)? {
            break frame;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    };
    let Ok(request) = ReplyEvent::decode(&frame) else {
        return Ok(());
    };
    log.lock().unwrap().push(request.event.event_type.clone());
    let reply = answer(&request);
    stream.write_all(&reply).await?;
    stream.shutdown().await
}

/// A v0.0.1 registry: health-checks a registering address, registers each id once and
/// refuses it `Node already exists` ever after, has no discover or unregister.
async fn legacy_registry() -> Fake {
    let (_, registered) = capture("1-register");
    let (_, no_handler) = capture("6-unknown-type");
    let refused = node_already_exists();
    let known = Arc::new(Mutex::new(Vec::<String>::new()));
    let answer: Answer = Arc::new(move |request| {
        if request.event.event_type != REGISTER {
            return no_handler.clone();
        }
        let data = request.data_value().unwrap_or_default();
        let id = data["nodeId"].as_str().unwrap_or_default().to_string();
        let mut known = known.lock().unwrap();
        if known.contains(&id) {
            return refused.clone();
        }
        known.push(id);
        registered.clone()
    });
    let fake = Fake::start(answer).await;
    fake
}

/// A v0.0.1 broker whose list push loses the race: the first `lost` subscribes are refused
/// `Node is not registered`, later ones succeed.
async fn legacy_broker(lost: usize) -> Fake {
    let (_, not_registered) = capture("4a-subscribe-not-registered");
    let (_, subscribed) = capture("4b-subscribe");
    let (_, no_handler) = capture("6-unknown-type");
    let refusals = Arc::new(AtomicUsize::new(0));
    let answer: Answer = Arc::new(move |request| {
        if request.event.event_type != SUBSCRIBE {
            return no_handler.clone();
        }
        if refusals.fetch_add(1, Ordering::SeqCst) < lost {
            not_registered.clone()
        } else {
            subscribed.clone()
        }
    });
    Fake::start(answer).await
}

fn dummy(registry: &Fake, broker: &Fake) -> uhome_runtime::service::ServiceBuilder {
    Service::builder("µHome/dummyService")
        .registry(&registry.addr)
        .broker(&broker.addr)
        .deadlines(deadlines(1000))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .refresh_interval(Duration::from_millis(200))
        .handle("local.test", |_| async {
            Reply::response("received", "Received", serde_json::Map::new())
        })
        .subscribe("local.test")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_registers_and_subscribes_with_v0_0_1_nodes_and_survives_a_restart() {
    let registry = legacy_registry().await;
    let broker = legacy_broker(3).await;

    let service = dummy(&registry, &broker).start().await.unwrap();
    // Each retry checks the registration first: no discover, so it registers again and
    // is refused `Node already exists`, which counts as registered.
    assert_eq!((registry.count(REGISTER), registry.count(DISCOVER)), (4, 3));
    assert_eq!(
        broker.count(SUBSCRIBE),
        4,
        "three refusals without a code, reason `Node is not registered`, then success"
    );

    // The captured delivery of capture 5, byte for byte, gets the handler's reply.
    let (delivery, _) = capture("5-delivery");
    let reply = Client::new("probe")
        .send_frame(&service.local_addr().to_string(), &delivery)
        .await
        .unwrap();
    let reply = ReplyEvent::decode(&reply).unwrap();
    assert_eq!(reply.code().as_deref(), Some("received"));

    // The registry has no discover: each refresh registers again, is refused
    // `Node already exists`, and counts as registered; the subscriptions are sent again.
    let (registers, subscribes) = (registry.count(REGISTER), broker.count(SUBSCRIBE));
    assert!(
        eventually(Duration::from_secs(5), || registry.count(REGISTER)
            >= registers + 2
            && broker.count(SUBSCRIBE) >= subscribes + 2)
        .await
    );
    assert!(registry.count(DISCOVER) >= 2, "discover is tried first");
    assert!(
        tokio::time::timeout(Duration::from_millis(100), service.failed())
            .await
            .is_err(),
        "still running"
    );

    // v0.0.1 has no unregister: the service says so rather than `unregistered`.
    assert_eq!(service.shutdown().await, Unregistration::NoHandler);
    assert_eq!(registry.count(UNREGISTER), 1);

    // Restarted under the same id: v0.0.1 refuses `Node already exists` forever; the
    // service takes it as registered and subscribes.
    let subscribes = broker.count(SUBSCRIBE);
    let again = dummy(&registry, &broker).start().await.unwrap();
    assert!(broker.count(SUBSCRIBE) > subscribes);
    again.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v0_0_1_registry_health_checks_before_answering() {
    // The registry of v0.0.1 health-checks the address with the registration pending
    // ([UH-SERVICE-1]): a fake that does the same gets the service's `healthy`.
    let (_, registered) = capture("1-register");
    let healthy = Arc::new(Mutex::new(None));
    let record = healthy.clone();
    let listener = TcpListener::bind(LOOPBACK).await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = BytesMut::new();
            let frame = loop {
                if let Some(frame) = FrameCodec.decode(&mut buf).unwrap() {
                    break frame;
                }
                if stream.read_buf(&mut buf).await.unwrap() == 0 {
                    return;
                }
            };
            let request = ReplyEvent::decode(&frame).unwrap();
            let address = request.data_value().unwrap()["address"]
                .as_str()
                .unwrap()
                .to_string();
            let check = Client::new("µHome/core/serviceRegistry")
                .request(&address, HEALTHCHECK, None)
                .await
                .unwrap();
            *record.lock().unwrap() = check.code();
            stream.write_all(&registered).await.unwrap();
        }
    });
    let service = Service::builder("µHome/dummyService")
        .registry(&addr)
        .deadlines(deadlines(1000))
        .start()
        .await
        .unwrap();
    assert_eq!(healthy.lock().unwrap().as_deref(), Some("healthy"));
    drop(service);
}
