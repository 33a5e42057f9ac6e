//! The suite catches broken nodes: each deliberately faulty node must FAIL exactly the cases
//! its fault breaks, and PASS (or, for undeclared features, SKIP) every other.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uhome_conformance::case::{Role, Verdict};
use uhome_conformance::cases::{catalogue, for_role, starts_the_service, Case};
use uhome_conformance::peers::{Mode, Peer};
use uhome_conformance::profile::Profile;
use uhome_conformance::runner::{run, Selection, Target};
use uhome_conformance::vectors::embedded;
use uhome_protocol::core_events::{CoreType, NodeRef, Unregister, HEALTHCHECK, NODES};
use uhome_protocol::reply::{Discovered, NodeEntry, Registered, Response};
use uhome_protocol::{Code, Decoded, Event, Frame, Message};
use uhome_runtime::config::ServerConfig;
use uhome_runtime::{server, Client, Dispatch, Node, Reply, ReplyFuture};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Fault {
    /// Parses each TCP read (of at most 8 KiB) as one whole frame, as v0.0.1 does.
    NoReassembly,
    /// Answers an unknown type with an error.
    UnknownIsError,
    /// Closes without replying when the client has half-closed.
    ClosesBeforeReplying,
    /// Takes payloads that are not JSON as events of no known type.
    AcceptsInvalidJson,
}

const READ: usize = 8192;

/// The faulty nodes close a connection without a complete frame for this long.
const IDLE: Duration = Duration::from_secs(5);

fn reply_to(frame: &Frame<'_>, fault: Fault) -> Vec<u8> {
    let reply = match frame.request() {
        Err(e) if fault == Fault::AcceptsInvalidJson && e.code() == Code::InvalidJson => {
            Reply::no_handler()
        }
        Err(e) => Reply::for_error(&e, None),
        Ok(Message::Other(_)) => Reply::no_handler(),
        Ok(Message::Event(event)) if event.event_type == HEALTHCHECK => Reply::healthy(),
        Ok(Message::Event(_)) if fault == Fault::UnknownIsError => {
            Reply::error(2, "no_handler", "No Handler for Event registered", None)
        }
        Ok(Message::Event(_)) => Reply::no_handler(),
    };
    reply.encode("faulty/service").to_vec()
}

async fn client_half_closed(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(10), stream.peek(&mut probe)).await,
        Ok(Ok(0))
    )
}

async fn serve(mut stream: TcpStream, fault: Fault) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; READ];
    let mut deadline = tokio::time::Instant::now() + IDLE;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => n,
        };
        if fault == Fault::NoReassembly {
            let reply = match Frame::decode(&chunk[..n]) {
                Decoded::Complete(frame, _) => reply_to(&frame, fault),
                Decoded::Partial { .. } => Reply::for_error(
                    &uhome_protocol::Error::InvalidJson {
                        offset: n,
                        fault: uhome_protocol::json::JsonFault::UnexpectedEnd,
                    },
                    None,
                )
                .encode("faulty/service")
                .to_vec(),
            };
            if stream.write_all(&reply).await.is_err() {
                return;
            }
            deadline = tokio::time::Instant::now() + IDLE;
            continue;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Decoded::Complete(frame, used) = Frame::decode(&buf) {
            if fault == Fault::ClosesBeforeReplying && client_half_closed(&stream).await {
                return;
            }
            let reply = reply_to(&frame, fault);
            buf.drain(..used);
            if stream.write_all(&reply).await.is_err() {
                return;
            }
            deadline = tokio::time::Instant::now() + IDLE;
        }
    }
}

async fn faulty_service(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, fault));
        }
    });
    addr
}

async fn verdicts(
    cases: &[Case],
    addr: String,
    broker: Option<Arc<Peer>>,
) -> Vec<(String, Verdict)> {
    verdicts_with(cases, addr, broker, Profile::default()).await
}

async fn verdicts_with(
    cases: &[Case],
    addr: String,
    broker: Option<Arc<Peer>>,
    profile: Profile,
) -> Vec<(String, Verdict)> {
    let target = Target {
        label: format!("faulty@{addr}"),
        addr,
        profile,
        broker,
        service: None,
    };
    run(
        cases,
        &target,
        &Selection::default(),
        Duration::from_secs(2),
        "faulty",
        |_| {},
    )
    .await
    .into_iter()
    .map(|r| (r.info.id, r.verdict))
    .collect()
}

/// Checks that exactly `expected` failed, nothing errored, and only the cases of an optional
/// feature the profile does not claim were skipped (no MUST case escapes by a SKIP).
fn assert_fails_exactly(results: &[(String, Verdict)], expected: &BTreeSet<String>) {
    let failed: BTreeSet<String> = results
        .iter()
        .filter(|(_, v)| *v == Verdict::Fail)
        .map(|(id, _)| id.clone())
        .collect();
    let missed: Vec<_> = expected.difference(&failed).collect();
    let extra: Vec<_> = failed.difference(expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "not caught: {missed:?}\nwrongly failed: {extra:?}"
    );
    for (id, verdict) in results {
        match verdict {
            Verdict::Pass | Verdict::Fail => {}
            Verdict::Skipped => assert!(
                catalogue()
                    .iter()
                    .any(|c| c.info.id == *id && c.info.feature.is_some()),
                "{id} skipped without a feature to claim"
            ),
            other => panic!("{id}: {other:?}"),
        }
    }
    assert!(!expected.is_empty());
}

/// A 65535-byte payload the faulty node mishandles breaks a SHOULD: NON-STRICT, not FAIL.
fn take_non_strict_largest_payload(results: &mut Vec<(String, Verdict)>) {
    let largest = results
        .iter()
        .position(|(id, _)| id == "UH-FRAME-6/largest-payload")
        .unwrap();
    assert_eq!(results.remove(largest).1, Verdict::NonStrict);
}

/// A faulty target a test judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scenario {
    Service(Fault),
    CarelessRegistry,
}

const SCENARIOS: [Scenario; 5] = [
    Scenario::Service(Fault::NoReassembly),
    Scenario::Service(Fault::UnknownIsError),
    Scenario::Service(Fault::ClosesBeforeReplying),
    Scenario::Service(Fault::AcceptsInvalidJson),
    Scenario::CarelessRegistry,
];

type Verdicts = Vec<(String, Verdict)>;

/// The verdicts of `scenario`'s run. The first test to ask starts every scenario's run, each
/// on a thread of its own: the runs mostly wait on the nodes' idle timeouts, so they overlap
/// rather than queue for the test harness's threads.
fn verdicts_of(scenario: Scenario) -> Verdicts {
    static RUNS: OnceLock<Mutex<HashMap<Scenario, JoinHandle<Verdicts>>>> = OnceLock::new();
    let run = RUNS
        .get_or_init(|| {
            let runs = SCENARIOS.iter().map(|&s| {
                let run = std::thread::spawn(move || {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(run_scenario(s))
                });
                (s, run)
            });
            Mutex::new(runs.collect())
        })
        .lock()
        .unwrap()
        .remove(&scenario)
        .expect("each scenario is judged by one test");
    run.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

async fn run_scenario(scenario: Scenario) -> Verdicts {
    match scenario {
        // The node declares the idle timeout it keeps. Each trickled byte restarts it, so the
        // trickle case fails the node after IDLE (+ slack) rather than after the 60 s bound.
        Scenario::Service(Fault::NoReassembly) => {
            let profile = Profile {
                idle_timeout: Some(IDLE),
                ..Profile::default()
            };
            let addr = faulty_service(Fault::NoReassembly).await;
            verdicts_with(&service_cases(), addr, None, profile).await
        }
        Scenario::Service(fault) => {
            verdicts(&service_cases(), faulty_service(fault).await, None).await
        }
        Scenario::CarelessRegistry => careless_registry().await,
    }
}

/// Vector cases run against a service, with their bytes and expected reply code, and the
/// decoded frame's shape.
fn service_vectors() -> Vec<(String, usize, String, bool)> {
    let mut out = Vec::new();
    for file in embedded().unwrap() {
        for v in file.vectors {
            let Some(reply) = &v.reply else { continue };
            if reply.role != "any" && reply.role != "service" {
                continue;
            }
            let is_event = v.frame.as_ref().is_some_and(|f| f.get("event").is_some());
            out.push((
                format!("vector/{}", v.id),
                v.bytes().unwrap().len(),
                reply.code.clone(),
                is_event,
            ));
        }
    }
    out
}

/// The cases run against a running service (those that start the service themselves are
/// judged in tests/service_role.rs).
fn service_cases() -> Vec<Case> {
    for_role(&catalogue(), Role::Service)
        .into_iter()
        .filter(|c| !starts_the_service(&c.info))
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_node_that_does_not_reassemble_frames() {
    let mut results = verdicts_of(Scenario::Service(Fault::NoReassembly));
    let mut expected = ids(&[
        "UH-EXCHANGE-3/split-in-header",
        "UH-EXCHANGE-3/split-in-payload",
        "UH-EXCHANGE-3/byte-by-byte",
        "UH-EXCHANGE-4/pipelined",
        "UH-EXCHANGE-4/frame-and-part-of-the-next",
        "UH-EXCHANGE-16/unread-replies-kept",
        // Each trickled byte is a read parsed alone and answered, which restarts the timeout.
        "UH-EXCHANGE-6/trickling-client-closed",
        "UH-JSON-8/deep-payloads-handled",
        "UH-FRAME-6/too-large-keeps-connection",
    ]);
    // Frames longer than one read arrive in pieces. (Where the spec's reply is invalid_json,
    // the first piece parsed alone draws the same reply, as v0.0.1's did.)
    expected.extend(
        service_vectors()
            .into_iter()
            .filter(|(_, len, code, _)| *len > READ && code != "invalid_json")
            .map(|(id, ..)| id),
    );
    // A 65535-byte payload spans reads: the SHOULD case turns NON-STRICT.
    take_non_strict_largest_payload(&mut results);
    assert_fails_exactly(&results, &expected);
}

#[test]
fn a_node_that_answers_unknown_types_with_an_error() {
    let mut results = verdicts_of(Scenario::Service(Fault::UnknownIsError));
    let mut expected = ids(&[
        "UH-REPLY-5/unknown-type",
        "UH-EXCHANGE-3/split-in-payload",
        "UH-EXCHANGE-4/pipelined",
        "UH-EXCHANGE-4/frame-and-part-of-the-next",
        "UH-EXCHANGE-2/many-requests-one-connection",
        "UH-FRAME-6/too-large-keeps-connection",
        "UH-JSON-8/depth-64-accepted",
        "UH-JSON-8/deep-payloads-handled",
    ]);
    expected.extend(
        service_vectors()
            .into_iter()
            .filter(|(_, _, code, is_event)| code == "no_handler" && *is_event)
            .map(|(id, ..)| id),
    );
    take_non_strict_largest_payload(&mut results);
    assert_fails_exactly(&results, &expected);
}

#[test]
fn a_node_that_closes_before_replying() {
    let results = verdicts_of(Scenario::Service(Fault::ClosesBeforeReplying));
    assert_fails_exactly(&results, &ids(&["UH-EXCHANGE-5/half-close"]));
}

#[test]
fn a_node_that_accepts_invalid_json() {
    let results = verdicts_of(Scenario::Service(Fault::AcceptsInvalidJson));
    let mut expected = ids(&["UH-EXCHANGE-7/errors-keep-the-connection"]);
    expected.extend(
        service_vectors()
            .into_iter()
            .filter(|(_, _, code, _)| code == "invalid_json")
            .map(|(id, ..)| id),
    );
    assert_fails_exactly(&results, &expected);
}

/// A registry that registers without a health check, and otherwise follows the spec.
struct CarelessRegistry {
    nodes: Mutex<Vec<(String, String)>>,
    /// Node ids that registered with keepAlive true ([UH-REGISTRY-11]).
    keep_alive: Mutex<std::collections::HashSet<String>>,
    broker: String,
    client: Client,
}

impl CarelessRegistry {
    fn entries<'a>(&self, list: &'a [(String, String)]) -> Vec<NodeEntry<'a>> {
        let kept = self.keep_alive.lock().unwrap();
        list.iter()
            .map(|(id, addr)| NodeEntry {
                node_id: id,
                address: addr,
                keep_alive: kept.contains(id),
                key: None,
            })
            .collect()
    }

    /// Pushes the current list; retries in the background until the broker answers.
    async fn push(self: Arc<Self>) {
        if self.push_once().await {
            return;
        }
        tokio::spawn(async move {
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if self.push_once().await {
                    return;
                }
            }
        });
    }

    /// Sends the current list; whether the broker accepted it.
    async fn push_once(&self) -> bool {
        let list = self.nodes.lock().unwrap().clone();
        let nodes = json!({ "nodes": self.entries(&list) });
        matches!(self.client.request(&self.broker, NODES, Some(&nodes)).await, Ok(r) if r.is_success())
    }
}

struct CarelessDispatch(Arc<CarelessRegistry>);

impl Dispatch for CarelessDispatch {
    fn dispatch(&self, _: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let registry = self.0.clone();
        let reply = match CoreType::of(&event.event_type)? {
            CoreType::Register => match NodeRef::from_data(event.data) {
                Err(e) => Reply::for_error(&e, Some(CoreType::Register)),
                Ok(node) => {
                    let (id, addr) = (node.node_id.to_string(), node.address.to_string());
                    let mut kept = registry.keep_alive.lock().unwrap();
                    match node.keep_alive {
                        true => kept.insert(id.clone()),
                        false => kept.remove(&id),
                    };
                    drop(kept);
                    let mut list = registry.nodes.lock().unwrap().clone();
                    match list.iter_mut().find(|(n, _)| *n == id) {
                        Some(entry) => entry.1 = addr.clone(),
                        None => list.push((id.clone(), addr.clone())),
                    }
                    if Reply::data(&Discovered::new(&registry.entries(&list)))
                        .try_encode("r")
                        .is_err()
                    {
                        Reply::for_code(
                            Code::RegistryFull,
                            Some(CoreType::Register),
                            Some("Registry is full"),
                        )
                    } else {
                        *registry.nodes.lock().unwrap() = list;
                        return Some(Box::pin(async move {
                            registry.clone().push().await;
                            Reply::data(&Registered::new(&id, &addr))
                        }));
                    }
                }
            },
            CoreType::Unregister => match Unregister::from_data(event.data) {
                Err(e) => Reply::for_error(&e, Some(CoreType::Unregister)),
                Ok(u) => {
                    let id = u.node_id.to_string();
                    let removed = {
                        let mut list = registry.nodes.lock().unwrap();
                        let before = list.len();
                        list.retain(|(n, _)| *n != id);
                        before != list.len()
                    };
                    if !removed {
                        Reply::for_code(
                            Code::NotRegistered,
                            Some(CoreType::Unregister),
                            Some("Node is not registered"),
                        )
                    } else {
                        return Some(Box::pin(async move {
                            registry.clone().push().await;
                            Reply::data(&Response::unregistered(&id))
                        }));
                    }
                }
            },
            CoreType::Discover => {
                let list = registry.nodes.lock().unwrap().clone();
                Reply::data(&Discovered::new(&registry.entries(&list)))
            }
            _ => return None,
        };
        Some(uhome_runtime::node::ready(reply))
    }
}

/// The registry role's cases against a [`CarelessRegistry`].
async fn careless_registry() -> Verdicts {
    let broker = Arc::new(
        Peer::start("µHome/core/eventBroker", "127.0.0.1:0", Mode::Healthy)
            .await
            .unwrap(),
    );
    let registry = Arc::new(CarelessRegistry {
        nodes: Mutex::new(Vec::new()),
        keep_alive: Mutex::default(),
        broker: broker.addr(),
        client: Client::with_deadlines(
            "µHome/core/serviceRegistry",
            uhome_runtime::client::Deadlines {
                connect: Duration::from_millis(500),
                write: Duration::from_millis(500),
                read: Duration::from_millis(500),
            },
        ),
    });
    let node = Arc::new(Node::new(
        "µHome/core/serviceRegistry",
        Arc::new(CarelessDispatch(registry)),
        ServerConfig {
            idle_timeout: IDLE,
            ..ServerConfig::default()
        },
    ));
    let handle = server::spawn("127.0.0.1:0", node).await.unwrap();
    let cases = for_role(&catalogue(), Role::Registry);
    let profile = Profile {
        health_interval: Some(Duration::from_millis(300)),
        evict_after: Some(2),
        ..Profile::default()
    };
    let results = verdicts_with(
        &cases,
        handle.local_addr().to_string(),
        Some(broker),
        profile,
    )
    .await;
    handle.shutdown().await;
    results
}

#[test]
fn a_registry_that_does_not_health_check() {
    let results = verdicts_of(Scenario::CarelessRegistry);
    assert_fails_exactly(
        &results,
        &ids(&[
            "UH-REGISTRY-5/eviction",
            "UH-REGISTRY-1/health-checked-first",
            "UH-REGISTRY-1/dead-address-unhealthy",
            "UH-REGISTRY-1/refusing-node-unhealthy",
            "UH-REGISTRY-2/healthy-old-address",
        ]),
    );
}
