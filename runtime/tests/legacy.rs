//! v0.0.1 compatibility: each captured exchange of `spec/vectors/legacy-exchanges.json`
//! replayed against our nodes. Compatible exchanges must get v0.0.1's type, status and
//! message; departures get what the specification gives instead.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;
use uhome_protocol::core_events::NODES;
use uhome_protocol::{Frame, Message};
use uhome_runtime::codec::FrameCodec;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::service::Service;
use uhome_runtime::{Client, OwnedEvent, Reply, ReplyEvent};

#[derive(Deserialize)]
struct File {
    exchanges: Vec<Exchange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Exchange {
    id: String,
    role: String,
    segments: Vec<Segment>,
    half_close: bool,
    legacy_replies: Vec<LegacyReply>,
    outcome: String,
    expected: Vec<Expected>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Segment {
    hex: String,
    pause_ms_before: u64,
}

#[derive(Deserialize)]
struct LegacyReply {
    #[serde(rename = "type")]
    event_type: String,
    status: u8,
    message: String,
}

#[derive(Deserialize)]
struct Expected {
    status: u8,
    #[serde(rename = "type")]
    event_type: String,
    code: String,
    message: Option<String>,
    reason: Option<String>,
}

fn exchanges() -> Vec<Exchange> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/vectors/legacy-exchanges.json");
    serde_json::from_str::<File>(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .exchanges
}

/// Rewrites the address of a captured register request (the capture's 127.0.0.1:5102 is
/// not ours to bind) and re-encodes it with the captured id, timestamp and source.
fn with_address(frame: &[u8], address: &str) -> Vec<u8> {
    let (frame, _) = Frame::decode(frame).complete().unwrap();
    let Ok(Message::Event(event)) = frame.message() else {
        panic!("a register event")
    };
    let mut data: serde_json::Value = serde_json::from_str(event.data.unwrap().as_str()).unwrap();
    data["address"] = json!(address);
    let request = OwnedEvent {
        version: uhome_protocol::V2,
        event_type: event.event_type.to_string(),
        data: Some(data.to_string()),
        error: None,
        id: event.id.to_string(),
        timestamp: event.timestamp.to_string(),
        source: event.source.to_string(),
    };
    Client::new("unused").encode(&request).unwrap().to_vec()
}

async fn replay(
    addr: &str,
    segments: &[Vec<u8>],
    pauses: &[u64],
    half_close: bool,
    count: usize,
) -> (Vec<ReplyEvent>, bool) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    for (segment, pause) in segments.iter().zip(pauses) {
        tokio::time::sleep(Duration::from_millis(*pause)).await;
        stream.write_all(segment).await.unwrap();
    }
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut buf = BytesMut::new();
    let mut replies = Vec::new();
    loop {
        while let Some(frame) = FrameCodec.decode(&mut buf).unwrap() {
            replies.push(ReplyEvent::decode(&frame).unwrap());
        }
        let wait = if replies.len() < count {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(300)
        };
        match tokio::time::timeout(wait, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return (replies, true),
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return (replies, true),
            Err(_) => return (replies, false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_captured_exchange_gets_the_legacy_or_the_specified_reply() {
    let mesh = Mesh::start().await;
    let healthy = Service::builder("healthy").start().await.unwrap();
    let dummy = Service::builder("µHome/dummyService")
        .server_config(ServerConfig {
            idle_timeout: Duration::from_secs(1),
            ..ServerConfig::default()
        })
        .handle("local.test", |_| async {
            Reply::response("received", "Received", serde_json::Map::new())
        })
        .start()
        .await
        .unwrap();
    let client = Client::new("µHome/core/serviceRegistry");
    let mut failures = Vec::new();
    let all = exchanges();
    assert_eq!(all.len(), 26);
    for exchange in &all {
        let capture = exchange.id.trim_start_matches("legacy-exchanges/");
        let mut segments: Vec<Vec<u8>> = exchange
            .segments
            .iter()
            .map(|s| hex::decode(&s.hex).unwrap())
            .collect();
        let pauses: Vec<u64> = exchange
            .segments
            .iter()
            .map(|s| s.pause_ms_before)
            .collect();
        let addr = match exchange.role.as_str() {
            "registry" => mesh.registry_addr(),
            "service" => dummy.local_addr().to_string(),
            _ => mesh.broker_addr(),
        };
        match capture {
            "1-register" => {
                segments[0] = with_address(&segments[0], &healthy.local_addr().to_string())
            }
            "4a-subscribe-not-registered" => {
                let nodes = json!({"nodes": []});
                assert!(client
                    .request(&mesh.broker_addr(), NODES, Some(&nodes))
                    .await
                    .unwrap()
                    .is_success());
            }
            "4b-subscribe" => {
                let nodes = json!({"nodes": [{"nodeId": "µHome/dummyService", "address": dummy.local_addr().to_string()}]});
                assert!(client
                    .request(&mesh.broker_addr(), NODES, Some(&nodes))
                    .await
                    .unwrap()
                    .is_success());
            }
            _ => {}
        }
        let (replies, closed) = replay(
            &addr,
            &segments,
            &pauses,
            exchange.half_close,
            exchange.expected.len(),
        )
        .await;
        if replies.len() != exchange.expected.len() {
            failures.push(format!(
                "{capture}: {} replies, want {}",
                replies.len(),
                exchange.expected.len()
            ));
            continue;
        }
        for (i, (got, want)) in replies.iter().zip(&exchange.expected).enumerate() {
            let ok = got.status == want.status
                && got.event.event_type == want.event_type
                && got.code().as_deref() == Some(want.code.as_str())
                && (want.message.is_none() || got.message() == want.message)
                && (want.reason.is_none() || got.reason() == want.reason);
            if !ok {
                failures.push(format!(
                    "{capture} reply {i}: got {} {} {:?} {:?}",
                    got.status,
                    got.event.event_type,
                    got.code(),
                    got.message()
                ));
            }
            if exchange.outcome == "compatible" {
                let legacy = &exchange.legacy_replies[i];
                if (got.event.event_type.as_str(), got.status, got.message())
                    != (
                        legacy.event_type.as_str(),
                        legacy.status,
                        Some(legacy.message.clone()),
                    )
                {
                    failures.push(format!(
                        "{capture} reply {i}: not what v0.0.1 answered ({} {} {:?})",
                        legacy.event_type, legacy.status, legacy.message
                    ));
                }
            }
        }
        if exchange.half_close && !closed {
            failures.push(format!(
                "{capture}: the node did not close after answering a half-closed client"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    healthy.shutdown().await;
    dummy.shutdown().await;
    mesh.shutdown().await;
}
