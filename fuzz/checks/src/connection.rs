//! `connection`: a byte stream, cut at arbitrary points, through a node: the sans-IO
//! exchange core of `uhome-protocol` on a `FrameBuffer` (the fuzz target, no tokio), and the
//! runtime's per-connection handler (`uhome_runtime::inbound::serve`) on an in-memory
//! stream (replayed by the tests).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use uhome_protocol::core_events::{ERROR, HEALTHCHECK, RESPONSE};
use uhome_protocol::exchange::{answer_next, Answer, Immediate, Limits};
use uhome_protocol::reply::{encode_response, ReplyEnvelope, Response, Text};
use uhome_protocol::{Decoded, Event, Frame, FrameBuffer, Message, HEADER_LEN, MAX_FRAME_LEN};
use uhome_runtime::config::ServerConfig;
use uhome_runtime::node::ready;
use uhome_runtime::{inbound, Dispatch, Node, Reply, ReplyFuture};

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

/// A constrained node's limits: the least payload and depth a node may accept
/// ([UH-FRAME-6], [UH-JSON-8]).
const CONSTRAINED: Limits = Limits {
    max_payload: 4096,
    max_depth: 64,
};

/// The status and code the spec gives the reply to one request frame ([UH-EXCHANGE-10]),
/// from a node with `limits`.
fn predicted(frame: &Frame<'_>, limits: &Limits) -> (u8, String) {
    if usize::from(frame.header.length) > limits.max_payload {
        return (2, "too_large".into());
    }
    match frame.request_with_depth(limits.max_depth) {
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
        tokio::spawn(async move { inbound::serve(server, &node, &CancellationToken::new()).await });
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

/// Feeds `stream` in chunks of `sizes` (in turn; all zero means whole) through the exchange
/// core on a `FrameBuffer`, as a `no_std` node would: a node accepting every payload
/// (`FrameBuffer<65540>`, the reference limits) and a constrained one (`FrameBuffer<4101>`,
/// payloads up to 4096 bytes, depth 64). Checks for each: nothing panics; every pushed
/// chunk is taken once frames are taken out; the replies are whole frames, exactly one per
/// complete request frame, in order, each a version 2 `µHome.response`/`µHome.error` with
/// the status and code the spec gives that request from a node with those limits.
pub fn connection_with(stream: &[u8], sizes: &[usize]) {
    let sizes = chunk_sizes(stream, sizes);
    let mut full: Box<FrameBuffer<MAX_FRAME_LEN>> = Box::default();
    let output = serve_core(&mut full, &Limits::REFERENCE, stream, &sizes);
    check_replies(&output, &expected(stream, &Limits::REFERENCE));
    let mut small: Box<FrameBuffer<{ HEADER_LEN + 4096 }>> = Box::default();
    let output = serve_core(&mut small, &CONSTRAINED, stream, &sizes);
    check_replies(&output, &expected(stream, &CONSTRAINED));
}

/// A node without IO: chunks in through `buf`, each frame answered by the exchange core,
/// the one handler (`echo`) answered inline; returns every reply frame written.
fn serve_core<const N: usize>(
    buf: &mut FrameBuffer<N>,
    limits: &Limits,
    stream: &[u8],
    sizes: &[usize],
) -> Vec<u8> {
    let envelope = ReplyEnvelope {
        id: "fuzz-reply",
        timestamp: "2026-11-28T22:17:50.481Z",
        source: "fuzz/node",
    };
    let mut out = Vec::new();
    let mut frame = vec![0u8; MAX_FRAME_LEN];
    let mut answer_all = |buf: &mut FrameBuffer<N>, out: &mut Vec<u8>| {
        let mut answered = 0;
        while let Some(next) = buf.pop() {
            let written = match answer_next(next, limits) {
                Answer::Reply(reply) => reply.encode(&mut frame, &envelope),
                Answer::Dispatch { event, .. } if event.event_type == ECHO => {
                    let echo = Response {
                        message: Text::Str("Echo"),
                        code: "echo",
                    };
                    encode_response(&mut frame, &envelope, &echo)
                }
                Answer::Dispatch { .. } => Immediate::NoHandler.encode(&mut frame, &envelope),
            };
            let n = written.expect("every immediate reply fits in a frame");
            out.extend_from_slice(&frame[..n]);
            answered += 1;
        }
        answered
    };
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at >= stream.len() {
            break;
        }
        let end = (at + size).min(stream.len());
        let mut chunk = &stream[at..end];
        loop {
            let taken = buf.push(chunk);
            chunk = &chunk[taken..];
            let answered = answer_all(buf, &mut out);
            if chunk.is_empty() {
                break;
            }
            assert!(
                taken > 0 || answered > 0,
                "the node takes nothing and answers nothing"
            );
        }
        at = end;
    }
    out
}

/// Feeds `stream` to a runtime connection in chunks of `sizes` (in turn; all zero means
/// whole) and checks: the node never panics or hangs; it writes only whole frames, exactly
/// one reply per complete request frame, in order, each a version 2
/// `µHome.response`/`µHome.error` with the status and code the spec gives that request; and
/// afterwards it still answers a healthcheck on a new connection.
pub fn connection_served_with(stream: &[u8], sizes: &[usize]) {
    let sizes = chunk_sizes(stream, sizes);
    let expected = expected(stream, &Limits::REFERENCE);
    let output = runtime().block_on(exchange(stream, &sizes));
    check_replies(&output, &expected);
    let health = b"\x00\x49\x00\x02\x01{\"id\":\"1\",\"timestamp\":\"t\",\"source\":\"me\",\"type\":\"\xc2\xb5Home.core.healthcheck\"}";
    let after = runtime().block_on(exchange(health, &[health.len()]));
    let Decoded::Complete(frame, _) = Frame::decode(&after) else {
        panic!("no reply to a healthcheck afterwards")
    };
    assert_eq!(frame.status(), 1, "healthy afterwards");
}

/// Chunk sizes in turn: 0 counts as 1; all zero means the whole stream at once.
fn chunk_sizes(stream: &[u8], sizes: &[usize]) -> Vec<usize> {
    if sizes.iter().all(|&s| s == 0) {
        vec![stream.len().max(1)]
    } else {
        sizes.iter().map(|&s| s.max(1)).collect()
    }
}

/// The predicted reply to each complete frame of `stream`, decoded whole.
fn expected(stream: &[u8], limits: &Limits) -> Vec<(u8, String)> {
    let mut expected = Vec::new();
    let mut at = 0;
    while let Decoded::Complete(frame, used) = Frame::decode(&stream[at..]) {
        expected.push(predicted(&frame, limits));
        at += used;
    }
    expected
}

/// `output` is whole frames only, one reply per expected one, in order, each a version 2
/// `µHome.response`/`µHome.error` with the expected status and code.
fn check_replies(output: &[u8], expected: &[(u8, String)]) {
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
}
