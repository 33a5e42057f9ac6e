//! The suite's diagnosis is the truth about each case's own property: a node with v0.0.1's
//! reply shapes fails the cases of what it breaks and passes the others; a node that dies on
//! one input is blamed once, on the case that sent it, and the run goes on after a restart.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use uhome_conformance::case::{Role, Verdict};
use uhome_conformance::cases::{catalogue, for_role, starts_the_service};
use uhome_conformance::profile::Profile;
use uhome_conformance::runner::{run_with, CaseReport, Restart, RunOptions, Selection, Target};
use uhome_protocol::core_events::HEALTHCHECK;
use uhome_protocol::{Decoded, Frame, Message};

const IDLE: Duration = Duration::from_secs(5);

/// How the test node behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// v0.0.1's reply shapes: no `code`, errors as plain strings, each TCP read parsed as one
    /// frame and only its first frame answered, deep nesting answered with a stack error.
    Legacy,
    /// Answers like a conforming service, and dies (stops listening, drops every
    /// connection) on a frame of version 3.
    DiesOnVersion3,
    /// A conforming service that accepts payloads of at most 4096 bytes; when `closes`, it
    /// closes the connection after each too_large reply.
    Limited { closes: bool },
    /// A conforming service that closes every connection 3 s after it opened.
    FixedLifetime,
    /// A conforming service that never closes an idle connection.
    NeverCloses,
    /// A conforming service whose replies are altered after encoding.
    Mutated(Mutation),
}

/// One broken rule of the reply envelope.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mutation {
    SameId,
    RequestId,
    EpochTimestamp,
    SourceFlips,
    NoReason,
    ReasonWithoutMember,
}

const LIMIT: usize = 4096;

fn mutate(bytes: Vec<u8>, mutation: Mutation, request: &Frame<'_>) -> Vec<u8> {
    let Decoded::Complete(frame, _) = Frame::decode(&bytes) else {
        return bytes;
    };
    let mut event: Value = serde_json::from_slice(frame.payload).unwrap();
    let status = frame.header.status;
    match mutation {
        Mutation::SameId => event["id"] = json!("always-the-same"),
        Mutation::RequestId => {
            let request: Value = serde_json::from_slice(request.payload).unwrap_or_default();
            if let Some(id) = request.get("id").and_then(Value::as_str) {
                event["id"] = json!(id);
            }
        }
        Mutation::EpochTimestamp => event["timestamp"] = json!("1970-01-01T00:00:00.000Z"),
        Mutation::SourceFlips => {
            if NEXT.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
                event["source"] = json!("test/other");
            }
        }
        Mutation::NoReason => {
            if let Some(error) = event.get_mut("error").and_then(Value::as_object_mut) {
                error.remove("reason");
            }
        }
        Mutation::ReasonWithoutMember => {
            if let Some(error) = event.get_mut("error").and_then(Value::as_object_mut) {
                error.insert("reason".into(), json!("something is wrong"));
            }
        }
    }
    let payload = event.to_string().into_bytes();
    let mut out = vec![0u8; payload.len() + 5];
    let n = uhome_protocol::encode_frame(&mut out, 2, status, &payload).unwrap();
    out.truncate(n);
    out
}

static NEXT: AtomicU64 = AtomicU64::new(1);

fn reply(status: u8, body: Value) -> Vec<u8> {
    let (event_type, member) = if status == 1 {
        ("µHome.response", "data")
    } else {
        ("µHome.error", "error")
    };
    let event = json!({
        "id": format!("test-node-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        "timestamp": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "source": "test/node",
        "type": event_type,
        member: body,
    });
    let payload = event.to_string().into_bytes();
    let mut out = vec![0u8; payload.len() + 5];
    let n = uhome_protocol::encode_frame(&mut out, 2, status, &payload).unwrap();
    out.truncate(n);
    out
}

fn legacy_answer(bytes: &[u8]) -> Vec<u8> {
    let Decoded::Complete(frame, _) = Frame::decode(bytes) else {
        return reply(2, json!("Unexpected end of JSON input"));
    };
    if frame.header.status != 1 {
        return reply(2, json!("Error in Message"));
    }
    // JSON.parse takes any depth until the stack runs out.
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for b in frame.payload {
        match b {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    if deepest > 5000 {
        return reply(2, json!("Maximum call stack size exceeded"));
    }
    let mut parser = serde_json::Deserializer::from_slice(frame.payload);
    parser.disable_recursion_limit();
    let event = match serde::Deserialize::deserialize(&mut parser) {
        Ok(Value::Object(event)) => event,
        Ok(_) => return reply(1, json!({"message": "No Handler for Event registered"})),
        Err(e) => return reply(2, json!(format!("Unexpected token: {e}"))),
    };
    match event.get("type").and_then(Value::as_str) {
        Some("µHome.core.healthcheck") => reply(1, json!({"message": "Service is healthy"})),
        _ => reply(1, json!({"message": "No Handler for Event registered"})),
    }
}

fn conforming_answer(frame: &Frame<'_>) -> Vec<u8> {
    use uhome_runtime::Reply;
    let reply = match frame.request() {
        Err(e) => Reply::for_error(&e, None),
        Ok(Message::Event(event)) if event.event_type == HEALTHCHECK => Reply::healthy(),
        Ok(_) => Reply::no_handler(),
    };
    reply.encode("test/node").to_vec()
}

struct TestNode {
    kind: Kind,
    addr: Mutex<Option<SocketAddr>>,
    dead: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    starts: AtomicU64,
}

impl TestNode {
    async fn start(self: &Arc<Self>) {
        let bind = self
            .addr
            .lock()
            .unwrap()
            .map_or("127.0.0.1:0".to_string(), |a| a.to_string());
        let listener = TcpListener::bind(&bind).await.unwrap();
        *self.addr.lock().unwrap() = Some(listener.local_addr().unwrap());
        self.dead.store(false, Ordering::SeqCst);
        self.starts.fetch_add(1, Ordering::SeqCst);
        let node = self.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let conn = tokio::spawn(node.clone().serve(stream));
                node.tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn die(&self) {
        self.dead.store(true, Ordering::SeqCst);
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn addr(&self) -> String {
        self.addr.lock().unwrap().unwrap().to_string()
    }

    async fn serve(self: Arc<Self>, mut stream: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 65536];
        let mut deadline = tokio::time::Instant::now()
            + match self.kind {
                Kind::FixedLifetime => Duration::from_secs(3),
                Kind::NeverCloses => Duration::from_secs(3600),
                _ => IDLE,
            };
        loop {
            let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                Ok(Ok(n)) => n,
            };
            let mut replies = Vec::new();
            let mut close = false;
            if self.kind == Kind::Legacy {
                replies.push(legacy_answer(&chunk[..n]));
            } else {
                buf.extend_from_slice(&chunk[..n]);
                while let Decoded::Complete(frame, used) = Frame::decode(&buf) {
                    let too_large = usize::from(frame.header.length) > LIMIT;
                    let reply = match self.kind {
                        Kind::DiesOnVersion3 if frame.header.version == 3 => {
                            self.die();
                            return;
                        }
                        Kind::Limited { closes } if too_large => {
                            close = closes;
                            uhome_runtime::Reply::for_code(
                                uhome_protocol::Code::TooLarge,
                                None,
                                Some("over 4096 bytes"),
                            )
                            .encode("test/node")
                            .to_vec()
                        }
                        Kind::Mutated(mutation) => {
                            mutate(conforming_answer(&frame), mutation, &frame)
                        }
                        _ => conforming_answer(&frame),
                    };
                    replies.push(reply);
                    buf.drain(..used);
                    if close {
                        break;
                    }
                }
            }
            for r in replies {
                if stream.write_all(&r).await.is_err() {
                    return;
                }
                if self.kind != Kind::FixedLifetime {
                    deadline = tokio::time::Instant::now() + IDLE;
                }
            }
            if close {
                return;
            }
        }
    }
}

async fn node(kind: Kind) -> Arc<TestNode> {
    let node = Arc::new(TestNode {
        kind,
        addr: Mutex::new(None),
        dead: AtomicBool::new(false),
        tasks: Mutex::new(Vec::new()),
        starts: AtomicU64::new(0),
    });
    node.start().await;
    node
}

async fn reports(
    addr: String,
    only: &[&str],
    restart: Option<Restart>,
) -> BTreeMap<String, CaseReport> {
    reports_with(addr, only, restart, Profile::default()).await
}

async fn reports_with(
    addr: String,
    only: &[&str],
    restart: Option<Restart>,
    profile: Profile,
) -> BTreeMap<String, CaseReport> {
    let target = Target {
        label: format!("test@{addr}"),
        addr,
        profile,
        broker: None,
        service: None,
    };
    let options = RunOptions {
        selection: Selection {
            only: only.iter().map(|s| s.to_string()).collect(),
            skip: Vec::new(),
        },
        timeout: Duration::from_secs(2),
        run_id: "diagnosis".into(),
        restart,
    };
    // The cases that start the service themselves are judged in tests/service_role.rs.
    let cases: Vec<_> = for_role(&catalogue(), Role::Service)
        .into_iter()
        .filter(|c| !starts_the_service(&c.info))
        .collect();
    run_with(&cases, &target, &options, |_| {})
        .await
        .into_iter()
        .map(|r| (r.info.id.clone(), r))
        .collect()
}

fn verdict(reports: &BTreeMap<String, CaseReport>, id: &str) -> Verdict {
    reports
        .get(id)
        .unwrap_or_else(|| panic!("{id} did not run"))
        .verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_legacy_reply_shapes_fails_what_it_breaks_and_only_that() {
    let legacy = node(Kind::Legacy).await;
    let reports = reports(
        legacy.addr(),
        &[
            "UH-CORE-2/healthcheck",
            "UH-REPLY-5/unknown-type",
            "UH-EXCHANGE-4/pipelined",
            "UH-EXCHANGE-5/half-close",
            "UH-JSON-8/",
            "UH-REPLY-2/every-reply-code-and-message",
            "UH-REPLY-9/every-reply-id-fresh",
            "UH-REPLY-10/every-reply-timestamp",
            "UH-REPLY-1/every-reply-source",
        ],
        None,
    )
    .await;
    // No code, but the right status, type and message: each of these properties holds.
    for id in [
        "UH-CORE-2/healthcheck",
        "UH-REPLY-5/unknown-type",
        "UH-EXCHANGE-5/half-close",
        "UH-JSON-8/depth-64-accepted",
        "UH-REPLY-9/every-reply-id-fresh",
        "UH-REPLY-10/every-reply-timestamp",
        "UH-REPLY-1/every-reply-source",
    ] {
        assert_eq!(
            verdict(&reports, id),
            Verdict::Pass,
            "{id}: {:?}",
            reports[id]
        );
    }
    let healthcheck = &reports["UH-CORE-2/healthcheck"];
    assert!(
        healthcheck.transcript.is_empty(),
        "a pass keeps no transcript"
    );
    // The missing code is judged once, by the code audit.
    let code = &reports["UH-REPLY-2/every-reply-code-and-message"];
    assert_eq!(code.verdict, Verdict::Fail);
    assert!(
        code.actual.as_deref().unwrap().contains("no string code"),
        "{code:?}"
    );
    // Pipelining: only the first frame of the write is answered, and that is what it says.
    let pipelined = &reports["UH-EXCHANGE-4/pipelined"];
    assert_eq!(pipelined.verdict, Verdict::Fail);
    assert!(
        pipelined
            .actual
            .as_deref()
            .unwrap()
            .starts_with("1 of 3 frames answered"),
        "{pipelined:?}"
    );
    // Deep nesting: the 10000-deep payload was sent, and its stack error is the failure.
    let deep = &reports["UH-JSON-8/deep-payloads-handled"];
    assert_eq!(deep.verdict, Verdict::Fail);
    assert!(
        deep.expected.as_deref().unwrap().starts_with("depth 10000"),
        "{deep:?}"
    );
    assert!(deep
        .actual
        .as_deref()
        .unwrap()
        .contains("Maximum call stack size exceeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_dies_is_blamed_once_and_the_rest_is_target_down() {
    let dying = node(Kind::DiesOnVersion3).await;
    let only = [
        "UH-CORE-2/healthcheck",
        "UH-VERSION-4/connection-kept",
        "UH-EXCHANGE-7/errors-keep-the-connection",
        "UH-EXCHANGE-2/many-requests-one-connection",
    ];
    let reports = reports(dying.addr(), &only, None).await;
    assert_eq!(verdict(&reports, "UH-CORE-2/healthcheck"), Verdict::Pass);
    let killer = &reports["UH-VERSION-4/connection-kept"];
    assert_eq!(killer.verdict, Verdict::Fail);
    assert!(killer
        .info
        .requirements
        .contains(&"UH-SECURITY-3".to_string()));
    assert!(killer.requirement_text.contains("[UH-SECURITY-3]"));
    assert!(
        killer
            .actual
            .as_deref()
            .unwrap()
            .starts_with("the target stopped answering"),
        "{killer:?}"
    );
    for id in &only[2..] {
        let r = &reports[*id];
        assert_eq!(r.verdict, Verdict::Error, "{id}");
        assert!(
            r.note
                .as_deref()
                .unwrap()
                .contains("target down: it stopped answering after UH-VERSION-4/connection-kept"),
            "{r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_run_goes_on() {
    let dying = node(Kind::DiesOnVersion3).await;
    // The restart command touches a file; this test plays the supervisor that watches it.
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("restart");
    let supervisor = {
        let (dying, flag) = (dying.clone(), flag.clone());
        tokio::spawn(async move {
            loop {
                if std::fs::remove_file(&flag).is_ok() {
                    dying.start().await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let restart = Restart::Command(format!("touch '{}'", flag.display()));
    let reports = reports(
        dying.addr(),
        &[
            "UH-VERSION-4/connection-kept",
            "UH-EXCHANGE-7/errors-keep-the-connection",
            "UH-EXCHANGE-2/many-requests-one-connection",
        ],
        Some(restart),
    )
    .await;
    supervisor.abort();
    assert_eq!(
        verdict(&reports, "UH-VERSION-4/connection-kept"),
        Verdict::Fail
    );
    assert_eq!(
        verdict(&reports, "UH-EXCHANGE-7/errors-keep-the-connection"),
        Verdict::Pass
    );
    assert_eq!(
        verdict(&reports, "UH-EXCHANGE-2/many-requests-one-connection"),
        Verdict::Pass
    );
    assert_eq!(dying.starts.load(Ordering::SeqCst), 2, "restarted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_4096_byte_limit_conforms_when_it_says_so() {
    let limited = node(Kind::Limited { closes: false }).await;
    let profile = Profile {
        max_payload: Some(LIMIT),
        idle_timeout: Some(IDLE),
        ..Profile::default()
    };
    let reports = reports_with(limited.addr(), &[], None, profile).await;
    assert!(reports.len() > 500, "{} cases", reports.len());
    for (id, r) in &reports {
        let expected = if id == "UH-FRAME-6/largest-payload" {
            Verdict::NonStrict
        } else {
            Verdict::Pass
        };
        assert_eq!(r.verdict, expected, "{id}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_after_too_large_fails() {
    let closing = node(Kind::Limited { closes: true }).await;
    let profile = Profile {
        max_payload: Some(LIMIT),
        ..Profile::default()
    };
    let only = [
        "UH-FRAME-6/too-large-keeps-connection",
        "UH-CORE-2/healthcheck",
    ];
    let reports = reports_with(closing.addr(), &only, None, profile).await;
    assert_eq!(verdict(&reports, "UH-CORE-2/healthcheck"), Verdict::Pass);
    let r = &reports["UH-FRAME-6/too-large-keeps-connection"];
    assert_eq!(r.verdict, Verdict::Fail, "{r:?}");
    assert!(
        r.expected.as_deref().unwrap().contains("stays usable"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_closes_connections_at_a_fixed_age_fails_the_busy_case() {
    let node = node(Kind::FixedLifetime).await;
    let only = [
        "UH-EXCHANGE-6/idle-connection-closed",
        "UH-EXCHANGE-15/busy-connection-kept",
    ];
    let reports = reports(node.addr(), &only, None).await;
    // It does close idle connections in time; it also closes busy ones.
    assert_eq!(
        verdict(&reports, "UH-EXCHANGE-6/idle-connection-closed"),
        Verdict::Pass
    );
    let busy = &reports["UH-EXCHANGE-15/busy-connection-kept"];
    assert_eq!(busy.verdict, Verdict::Fail, "{busy:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_closes_idle_connections_fails_without_a_profile() {
    let node = node(Kind::NeverCloses).await;
    let reports = reports(node.addr(), &["UH-EXCHANGE-6/idle-connection-closed"], None).await;
    let idle = &reports["UH-EXCHANGE-6/idle-connection-closed"];
    assert_eq!(idle.verdict, Verdict::Fail, "{idle:?}");
    assert!(
        idle.expected.as_deref().unwrap().contains("60s"),
        "{idle:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_reply_fault_fails_its_audit_and_no_other_case() {
    let audits = [
        "UH-REPLY-1/every-reply-envelope",
        "UH-REPLY-9/every-reply-id-fresh",
        "UH-REPLY-10/every-reply-timestamp",
        "UH-REPLY-1/every-reply-source",
        "UH-REPLY-2/every-reply-code-and-message",
        "UH-REPLY-6/every-message-verbatim",
        "UH-REPLY-11/every-required-reason",
    ];
    let member_vector = "vector/envelope/type-missing";
    let mut only = audits.to_vec();
    only.extend(["UH-CORE-2/healthcheck", "UH-EXCHANGE-7/", member_vector]);
    for (mutation, failing) in [
        (Mutation::SameId, vec!["UH-REPLY-9/every-reply-id-fresh"]),
        (Mutation::RequestId, vec!["UH-REPLY-9/every-reply-id-fresh"]),
        (
            Mutation::EpochTimestamp,
            vec!["UH-REPLY-10/every-reply-timestamp"],
        ),
        (Mutation::SourceFlips, vec!["UH-REPLY-1/every-reply-source"]),
        (
            Mutation::NoReason,
            vec!["UH-REPLY-11/every-required-reason", member_vector],
        ),
        (Mutation::ReasonWithoutMember, vec![member_vector]),
    ] {
        let node = node(Kind::Mutated(mutation)).await;
        let reports = reports(node.addr(), &only, None).await;
        assert_eq!(reports.len(), only.len(), "{mutation:?}");
        for (id, r) in &reports {
            let expected = if failing.contains(&id.as_str()) {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            assert_eq!(r.verdict, expected, "{mutation:?}, {id}: {r:?}");
        }
    }
}
