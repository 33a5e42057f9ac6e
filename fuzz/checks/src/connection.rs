//! `connection`: a byte stream, cut at arbitrary points, through the runtime's
//! per-connection handler (`uhome_runtime::connection::serve`) on an in-memory stream.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use uhome_protocol::core::{ERROR, HEALTHCHECK, RESPONSE};
use uhome_protocol::{Decoded, Event, Frame, Message};
use uhome_runtime::config::ServerConfig;
use uhome_runtime::node::ready;
use uhome_runtime::{connection, Dispatch, Node, Reply, ReplyFuture};

/// The one application type the node under fuzzing handles.
const ECHO: &str = "echo";

/// Longest a whole exchange may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(20);

struct Handlers;

impl Dispatch for Handlers {
    fn dispatch(&self, _: u16, event: &Event<'_>) -> Option<ReplyFuture> {
        (event.event_type == ECHO)
            .then(|| ready(Reply::response("echo", "Echo", serde_json::Map::new())))
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

fn node() -> Arc<Node> {
    static NODE: OnceLock<Arc<Node>> = OnceLock::new();
    NODE.get_or_init(|| {
        Arc::new(Node::new(
            "fuzz/node",
            Arc::new(Handlers),
            ServerConfig::default(),
        ))
    })
    .clone()
}

/// The status and code the spec gives the reply to one request frame ([UH-EXCHANGE-10]).
fn predicted(frame: &Frame<'_>) -> (u8, String) {
    match frame.request() {
        Err(e) => (
            e.code().status().unwrap_or(2),
            e.code().as_str().to_string(),
        ),
        Ok(Message::Other(_)) => (1, "no_handler".into()),
        Ok(Message::Event(e)) if e.event_type == HEALTHCHECK => (1, "healthy".into()),
        Ok(Message::Event(e)) if e.event_type == ECHO => (1, "echo".into()),
        Ok(Message::Event(_)) => (1, "no_handler".into()),
    }
}

/// Runs `stream`, written in chunks of `sizes`, through one connection, closes the sending
/// side, and returns everything the node wrote.
async fn exchange(stream: &[u8], sizes: &[usize]) -> Vec<u8> {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let node = node();
    let serving =
        tokio::spawn(
            async move { connection::serve(server, &node, &CancellationToken::new()).await },
        );
    let (mut from_node, mut to_node) = tokio::io::split(client);
    let reading = tokio::spawn(async move {
        let mut out = Vec::new();
        let _ = from_node.read_to_end(&mut out).await;
        out
    });
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= stream.len() {
            break;
        }
        let end = (at + size).min(stream.len());
        if to_node.write_all(&stream[at..end]).await.is_err() {
            break;
        }
        at = end;
        tokio::task::yield_now().await;
    }
    let _ = to_node.shutdown().await;
    let out = tokio::time::timeout(HANG, reading)
        .await
        .expect("the node answers and closes in time");
    tokio::time::timeout(HANG, serving)
        .await
        .expect("the connection task ends")
        .expect("no panic in the connection task");
    out.expect("no panic in the reader")
}

/// Parses `data` like `stream_chunks`: byte 0 gives `k`, then `k` u16 big-endian chunk
/// sizes, then the stream.
pub fn connection(data: &[u8]) {
    let (stream, sizes) = crate::stream::chunked(data);
    connection_with(stream, &sizes);
}

/// Feeds `stream` to a connection in chunks of `sizes` (in turn; all zero means whole) and
/// checks: the node never panics or hangs; it writes only whole frames, exactly one reply
/// per complete request frame, in order, each a version 2 `µHome.response`/`µHome.error`
/// with the status and code the spec gives that request; and afterwards it still answers a
/// healthcheck on a new connection.
pub fn connection_with(stream: &[u8], sizes: &[usize]) {
    let sizes: Vec<usize> = if sizes.iter().all(|&s| s == 0) {
        vec![stream.len().max(1)]
    } else {
        sizes.iter().map(|&s| s.max(1)).collect()
    };
    let mut expected = Vec::new();
    let mut at = 0;
    while let Decoded::Complete(frame, used) = Frame::decode(&stream[at..]) {
        expected.push(predicted(&frame));
        at += used;
    }
    let output = runtime().block_on(exchange(stream, &sizes));
    let mut replies = 0;
    let mut at = 0;
    while let Decoded::Complete(frame, used) = Frame::decode(&output[at..]) {
        let (status, code) = expected
            .get(replies)
            .unwrap_or_else(|| panic!("a reply to no request (reply {replies})"));
        assert_eq!(frame.version(), 2, "replies are version 2");
        let Ok(Message::Event(event)) = frame.message() else {
            panic!("reply {replies} is not an event")
        };
        let body = if event.event_type == RESPONSE {
            event.data
        } else {
            assert!(event.event_type == ERROR, "reply type {}", event.event_type);
            event.error
        };
        let body: serde_json::Value =
            serde_json::from_str(body.expect("a reply body").as_str()).expect("JSON body");
        assert_eq!(
            (frame.status(), body["code"].as_str()),
            (*status, Some(code.as_str())),
            "reply {replies}"
        );
        replies += 1;
        at += used;
    }
    assert_eq!(
        at,
        output.len(),
        "only whole frames: {} bytes left over",
        output.len() - at
    );
    assert_eq!(replies, expected.len(), "one reply per complete frame");
    let health = b"\x00\x49\x00\x02\x01{\"id\":\"1\",\"timestamp\":\"t\",\"source\":\"me\",\"type\":\"\xc2\xb5Home.core.healthcheck\"}";
    let after = runtime().block_on(exchange(health, &[health.len()]));
    let Decoded::Complete(frame, _) = Frame::decode(&after) else {
        panic!("no reply to a healthcheck afterwards")
    };
    assert_eq!(frame.status(), 1, "healthy afterwards");
}
