//! A small service written from the specification, and copies of it with one fault each:
//! the service role's cases must pass the first and FAIL each copy on its requirement's cases
//! (`tests/service_role.rs`, and the service role's row of the mutation score,
//! `tests/mutation.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uhome_conformance::case::{Role, Verdict};
use uhome_conformance::cases::{catalogue, for_role, starts_the_service, Case};
use uhome_conformance::launch::{BoxFuture, Launcher, MeshAddrs, Running, ServiceSetup};
use uhome_conformance::profile::Profile;
use uhome_conformance::runner::{run, Selection, Target};
use uhome_protocol::core_events::{pattern_matches, DISCOVER, REGISTER, SUBSCRIBE, UNREGISTER};
use uhome_protocol::Event;
use uhome_runtime::client::Deadlines;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::{server, Client, Dispatch, Node, Reply, ReplyEvent, ReplyFuture};

const ID: &str = "faulty/service";
const PATTERN: &str = "faulty.>";
const REFRESH: Duration = Duration::from_secs(1);
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_millis(1600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Sends its registration, then starts listening.
    RegistersBeforeListening,
    /// Subscribes as soon as its registration is sent, before the reply.
    SubscribesBeforeReply,
    /// Gives up on the first refusal or failure of each request.
    NeverRetries,
    /// Stops without unregistering.
    NoUnregister,
    /// Exits when the registry cannot be reached at its start.
    GivesUpAtStart,
    /// Never checks its registration again, nor sends its subscriptions again.
    NoRefresh,
    /// Retries a refused subscribe only on code not_registered, not on the v0.0.1 reason.
    IgnoresLegacyReason,
    /// Takes a v0.0.1 `Node already exists` as a refusal and retries the registration.
    AlreadyExistsIsRefusal,
}

struct Handlers;

impl Dispatch for Handlers {
    fn dispatch(&self, _: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        let event_type = event.event_type.to_string();
        pattern_matches(PATTERN, &event_type).then(|| -> ReplyFuture {
            Box::pin(async { Reply::response("received", "Received", serde_json::Map::new()) })
        })
    }
}

fn no_code_reason(reply: &ReplyEvent, reason: &str) -> bool {
    reply.code().is_none() && reply.reason().as_deref() == Some(reason)
}

/// A request the service keeps sending until it succeeds: `Ok(true)` once it did,
/// `Ok(false)` when it gave up.
async fn keep_sending(
    client: &Client,
    addr: &str,
    event_type: &str,
    data: &Value,
    fault: Fault,
    first_ever: bool,
) -> bool {
    let mut pause = FIRST_PAUSE;
    loop {
        let outcome = client.request(addr, event_type, Some(data)).await;
        let retry = match &outcome {
            Ok(reply) if reply.is_success() => return true,
            Ok(reply)
                if event_type == REGISTER
                    && fault != Fault::AlreadyExistsIsRefusal
                    && no_code_reason(reply, "Node already exists") =>
            {
                return true
            }
            Ok(reply) if event_type == REGISTER => {
                matches!(
                    reply.code().as_deref(),
                    Some("unhealthy" | "internal" | "registry_full")
                ) || no_code_reason(reply, "Unhealthy service")
                    || (fault == Fault::AlreadyExistsIsRefusal
                        && no_code_reason(reply, "Node already exists"))
            }
            Ok(reply) => {
                reply.code().as_deref() == Some("not_registered")
                    || (fault != Fault::IgnoresLegacyReason
                        && no_code_reason(reply, "Node is not registered"))
            }
            Err(_) => !(fault == Fault::GivesUpAtStart && first_ever),
        };
        if !retry || fault == Fault::NeverRetries {
            return false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(CAP);
    }
}

/// The service's client side: register, subscribe, refresh; ends when it gives up.
async fn keeper(
    client: Client,
    mesh: MeshAddrs,
    address: String,
    fault: Fault,
    gave_up: Arc<AtomicBool>,
) {
    let register = json!({ "nodeId": ID, "address": address });
    let subscribe = json!({ "subscribe": PATTERN });
    let register_then_subscribe = |first_ever: bool| {
        let (client, mesh, register, subscribe) = (
            client.clone(),
            mesh.clone(),
            register.clone(),
            subscribe.clone(),
        );
        async move {
            if fault == Fault::SubscribesBeforeReply {
                let (registered, _) = tokio::join!(
                    keep_sending(
                        &client,
                        &mesh.registry,
                        REGISTER,
                        &register,
                        fault,
                        first_ever
                    ),
                    keep_sending(&client, &mesh.broker, SUBSCRIBE, &subscribe, fault, false)
                );
                return registered;
            }
            keep_sending(
                &client,
                &mesh.registry,
                REGISTER,
                &register,
                fault,
                first_ever,
            )
            .await
                && keep_sending(&client, &mesh.broker, SUBSCRIBE, &subscribe, fault, false).await
        }
    };
    if !register_then_subscribe(true).await {
        gave_up.store(true, Ordering::Relaxed);
        return;
    }
    if fault == Fault::NoRefresh {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(REFRESH).await;
        let listed = match client.request(&mesh.registry, DISCOVER, None).await {
            Ok(reply) if reply.code().as_deref() == Some("nodes") => reply
                .data_value()
                .and_then(|d| d["nodes"].as_array().cloned())
                .is_some_and(|nodes| nodes.iter().any(|n| n["nodeId"] == ID)),
            _ => false,
        };
        if !listed {
            register_then_subscribe(false).await;
        } else {
            keep_sending(&client, &mesh.broker, SUBSCRIBE, &subscribe, fault, false).await;
        }
    }
}

pub struct Faulty(pub Fault);

struct Instance {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    gave_up: Arc<AtomicBool>,
}

impl Launcher for Faulty {
    fn start<'a>(&'a self, mesh: &'a MeshAddrs) -> BoxFuture<'a, Result<Box<dyn Running>, String>> {
        let fault = self.0;
        let mesh = mesh.clone();
        Box::pin(async move {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let address = format!("127.0.0.1:{port}");
            let client = Client::with_deadlines(
                ID,
                Deadlines {
                    connect: Duration::from_secs(2),
                    write: Duration::from_secs(2),
                    read: Duration::from_secs(2),
                },
            );
            let (stop, mut stopped) = watch::channel(false);
            let gave_up = Arc::new(AtomicBool::new(false));
            let flag = gave_up.clone();
            let task = tokio::spawn(async move {
                let node = Arc::new(Node::new(ID, Arc::new(Handlers), ServerConfig::default()));
                let keeping = tokio::spawn(keeper(
                    client.clone(),
                    mesh.clone(),
                    address.clone(),
                    fault,
                    flag.clone(),
                ));
                if fault == Fault::RegistersBeforeListening {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let Ok(server) = server::spawn(address.as_str(), node).await else {
                    keeping.abort();
                    flag.store(true, Ordering::Relaxed);
                    return;
                };
                let _ = stopped.wait_for(|s| *s).await;
                keeping.abort();
                if fault != Fault::NoUnregister {
                    let data = json!({ "nodeId": ID });
                    let _ = client
                        .request(&mesh.registry, UNREGISTER, Some(&data))
                        .await;
                }
                server.shutdown().await;
            });
            Ok(Box::new(Instance {
                stop,
                task: Some(task),
                gave_up,
            }) as Box<dyn Running>)
        })
    }

    fn describe(&self) -> String {
        format!("a faulty service ({:?})", self.0)
    }
}

impl Running for Instance {
    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let _ = self.stop.send(true);
            if let Some(task) = self.task.take() {
                let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
            }
            Ok(())
        })
    }

    fn exited(&mut self) -> Option<String> {
        self.gave_up
            .load(Ordering::Relaxed)
            .then(|| "gave up".to_string())
    }

    fn output(&self) -> String {
        String::new()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub fn role_cases() -> Vec<Case> {
    for_role(&catalogue(), Role::Service)
        .into_iter()
        .filter(|c| starts_the_service(&c.info))
        .collect()
}

pub fn profile() -> Profile {
    Profile {
        refresh_interval: Some(REFRESH),
        subscriptions: Some(vec![PATTERN.into()]),
        ..Profile::default()
    }
}

pub async fn verdicts(fault: Fault) -> Vec<(String, Verdict, String)> {
    let target = Target {
        label: format!("faulty service {fault:?}"),
        addr: String::new(),
        profile: profile(),
        broker: None,
        service: Some(ServiceSetup::new(Arc::new(Faulty(fault)))),
    };
    run(
        &role_cases(),
        &target,
        &Selection::default(),
        Duration::from_secs(2),
        "service-role",
        |_| {},
    )
    .await
    .into_iter()
    .map(|r| {
        let why = format!("{:?} / {:?} / {:?}", r.expected, r.actual, r.note);
        (r.info.id, r.verdict, why)
    })
    .collect()
}
