//! Bad input against every node kind: the spec vectors over TCP, split and pipelined frames,
//! slow clients, idle connections, many connections.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::time::Duration;

use common::*;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uhome_protocol::core_events::HEALTHCHECK;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::service::Service;
use uhome_runtime::{Client, Reply, ReplyEvent};

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    id: String,
    hex: String,
    reply: Option<Expected>,
}

#[derive(Deserialize)]
struct Expected {
    role: String,
    status: u8,
    #[serde(rename = "type")]
    event_type: String,
    code: String,
    message: Option<String>,
    reason: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors");
    let mut out = Vec::new();
    for name in [
        "frame",
        "version-status",
        "json",
        "utf8",
        "envelope",
        "core",
        "legacy",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let mut de = serde_json::Deserializer::from_str(&text);
        de.disable_recursion_limit();
        out.extend(File::deserialize(&mut de).unwrap().vectors);
    }
    out
}

fn check(reply: &ReplyEvent, expected: &Expected) -> Result<(), String> {
    let got = (reply.status, reply.event.event_type.as_str(), reply.code());
    let want = (
        expected.status,
        expected.event_type.as_str(),
        Some(expected.code.clone()),
    );
    if got != want {
        return Err(format!("got {got:?}, want {want:?} ({:?})", reply.reason()));
    }
    if expected.message.is_some() && reply.message() != expected.message {
        return Err(format!(
            "message {:?}, want {:?}",
            reply.message(),
            expected.message
        ));
    }
    if expected.reason.is_some() && reply.reason() != expected.reason {
        return Err(format!(
            "reason {:?}, want {:?}",
            reply.reason(),
            expected.reason
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_with_a_reply_gets_it_from_every_node_kind() {
    let mesh = Mesh::start().await;
    let service = Service::builder("plain").start().await.unwrap();
    let targets = [
        ("service", service.local_addr().to_string()),
        ("registry", mesh.registry_addr()),
        ("broker", mesh.broker_addr()),
    ];
    let client = Client::new("vectors");
    let (mut sent, mut failures) = (0, Vec::new());
    for v in vectors() {
        let Some(expected) = &v.reply else { continue };
        let bytes = hex::decode(&v.hex).unwrap();
        for (kind, addr) in &targets {
            if expected.role != "any" && expected.role != *kind {
                continue;
            }
            sent += 1;
            let outcome = match client.send_frame(addr, &bytes).await {
                Ok(frame) => ReplyEvent::decode(&frame)
                    .map_err(|e| e.to_string())
                    .and_then(|r| check(&r, expected)),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = outcome {
                failures.push(format!("{} to the {kind}: {e}", v.id));
            }
        }
    }
    assert!(sent > 900, "only {sent} requests sent");
    assert!(
        failures.is_empty(),
        "{} of {sent} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (_, addr) in &targets {
        assert!(
            client
                .request(addr, HEALTHCHECK, None)
                .await
                .unwrap()
                .is_success(),
            "{addr} still healthy"
        );
    }
    service.shutdown().await;
    mesh.shutdown().await;
}

async fn echo_service(config: ServerConfig) -> Service {
    Service::builder("echo")
        .server_config(config)
        .handle("echo", |request: uhome_runtime::OwnedEvent| async move {
            let mut extra = serde_json::Map::new();
            extra.insert("echo".into(), request.data_value().unwrap_or_default());
            Reply::response("echo", "Echo", extra)
        })
        .start()
        .await
        .unwrap()
}

fn echo_frame(n: u64) -> Vec<u8> {
    let client = Client::new("c");
    client
        .encode(&client.event("echo", Some(&serde_json::json!(n))))
        .unwrap()
        .to_vec()
}

async fn read_replies(stream: &mut TcpStream, count: usize) -> Vec<ReplyEvent> {
    use tokio_util::codec::Decoder;
    let mut buf = bytes::BytesMut::new();
    let mut out = Vec::new();
    while out.len() < count {
        while let Some(frame) = uhome_runtime::codec::FrameCodec.decode(&mut buf).unwrap() {
            out.push(ReplyEvent::decode(&frame).unwrap());
        }
        if out.len() == count {
            break;
        }
        let n = tokio::time::timeout(Duration::from_secs(3), stream.read_buf(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        assert!(n > 0, "closed after {} replies", out.len());
    }
    out
}

fn echoed(reply: &ReplyEvent) -> Option<u64> {
    reply.data_value()?["echo"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_split_anywhere_are_reassembled() {
    let service = echo_service(ServerConfig::default()).await;
    let addr = service.local_addr();
    let frame = echo_frame(7);
    for cut in (1..frame.len()).step_by(7).chain([1, 2, 3, 4, 5, 6]) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        stream.write_all(&frame[..cut]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        stream.write_all(&frame[cut..]).await.unwrap();
        let replies = read_replies(&mut stream, 1).await;
        assert_eq!(echoed(&replies[0]), Some(7), "cut at {cut}");
    }
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    for byte in &frame {
        stream.write_all(std::slice::from_ref(byte)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        echoed(&read_replies(&mut stream, 1).await[0]),
        Some(7),
        "byte by byte"
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_frames_are_answered_in_order_bad_ones_included() {
    let service = echo_service(ServerConfig::default()).await;
    let mut burst = Vec::new();
    for n in 0..5 {
        burst.extend(echo_frame(n));
    }
    burst.extend([0, 2, 0, 3, 1, b'{', b'}']); // version 3
    burst.extend([0, 3, 0, 2, 1, b'{', b'x', b'}']); // invalid JSON
    burst.extend([0, 2, 0, 2, 0, b'{', b'}']); // status 0
    burst.extend(echo_frame(99));
    burst.extend([0, 9, 0, 2, 1]); // the start of a frame that never completes
    let mut stream = TcpStream::connect(service.local_addr()).await.unwrap();
    stream.write_all(&burst).await.unwrap();
    let replies = read_replies(&mut stream, 9).await;
    let echoes: Vec<Option<u64>> = replies[..5].iter().map(echoed).collect();
    assert_eq!(echoes, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    let codes: Vec<Option<String>> = replies[5..8].iter().map(ReplyEvent::code).collect();
    assert_eq!(
        codes,
        [
            Some("unsupported_version".into()),
            Some("invalid_json".into()),
            Some("bad_status".into())
        ]
    );
    assert_eq!(echoed(&replies[8]), Some(99));
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_client_still_gets_every_reply() {
    let service = echo_service(ServerConfig::default()).await;
    let mut stream = TcpStream::connect(service.local_addr()).await.unwrap();
    stream
        .write_all(&[echo_frame(1), echo_frame(2)].concat())
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let replies = read_replies(&mut stream, 2).await;
    assert_eq!(
        replies.iter().map(echoed).collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "then the node closes");
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_client_does_not_delay_others_and_is_closed_at_the_idle_timeout() {
    let idle = Duration::from_millis(1500);
    let service = echo_service(ServerConfig {
        idle_timeout: idle,
        ..ServerConfig::default()
    })
    .await;
    let addr = service.local_addr();
    let frame = echo_frame(5);
    let slow = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let opened = tokio::time::Instant::now();
        for byte in &frame {
            if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
                break;
            }
            let mut probe = [0u8; 1];
            match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(opened.elapsed()),
                Ok(Ok(_)) => panic!("a reply to an unfinished frame"),
                Err(_) => {}
            }
        }
        None
    });
    let client = Client::new("other");
    for _ in 0..10 {
        let started = tokio::time::Instant::now();
        let reply = client
            .request(&addr.to_string(), "echo", Some(&serde_json::json!(1)))
            .await
            .unwrap();
        assert_eq!(echoed(&reply), Some(1));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "another client is served while one trickles"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed_after = slow
        .await
        .unwrap()
        .expect("the trickling client was closed");
    assert!(
        closed_after >= idle - Duration::from_millis(100),
        "closed at {closed_after:?}, before the idle timeout"
    );
    assert!(
        closed_after < idle + Duration::from_secs(1),
        "closed at {closed_after:?}"
    );
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed() {
    let service = echo_service(ServerConfig {
        idle_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(service.local_addr()).await.unwrap();
    stream.write_all(&echo_frame(1)).await.unwrap();
    assert_eq!(echoed(&read_replies(&mut stream, 1).await[0]), Some(1));
    let mut rest = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut rest))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0);
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_connections_are_served() {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < 2048 {
        rlimit::Resource::NOFILE.set(hard.min(4096), hard).unwrap();
    }
    let service = echo_service(ServerConfig::default()).await;
    let addr = service.local_addr();
    let streams: Vec<TcpStream> =
        futures_util::future::join_all((0..500).map(|_| TcpStream::connect(addr)))
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
    let replies = futures_util::future::join_all(streams.into_iter().enumerate().map(
        |(i, mut stream)| async move {
            stream.write_all(&echo_frame(i as u64)).await.unwrap();
            let replies = read_replies(&mut stream, 1).await;
            (i, echoed(&replies[0]))
        },
    ))
    .await;
    assert_eq!(replies.len(), 500);
    for (i, echo) in replies {
        assert_eq!(echo, Some(i as u64));
    }
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_with_none_quiet_connections_wait_then_are_served() {
    let service = echo_service(ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    })
    .await;
    let addr = service.local_addr();
    // Half a frame on each: not quiet, so neither is closed to make room ([UH-EXCHANGE-17]).
    let frame = echo_frame(0);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&frame[..3]).await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    waiting.write_all(&echo_frame(3)).await.unwrap();
    let mut probe = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), waiting.peek(&mut probe))
            .await
            .is_err(),
        "no reply while at the cap"
    );
    let mut finished = held.pop().unwrap();
    finished.write_all(&frame[3..]).await.unwrap();
    assert_eq!(
        echoed(&read_replies(&mut finished, 1).await[0]),
        Some(0),
        "a held connection was kept"
    );
    drop(finished);
    assert_eq!(
        echoed(&read_replies(&mut waiting, 1).await[0]),
        Some(3),
        "served once a slot frees"
    );
    service.shutdown().await;
}
