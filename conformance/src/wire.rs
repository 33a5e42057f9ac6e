//! Talking to the node under test: connections that record every byte, request builders,
//! decoded replies.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use uhome_protocol::{
    encode_event, Body, Decoded, Envelope, Frame, Message, RawJson, MAX_FRAME_LEN, V2,
};

use crate::case::{violation, Problem, Transcript};

/// A connection to the target (or a harness peer) that records what it sends and receives.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    peer: String,
    transcript: Transcript,
    timeout: Duration,
}

/// What a read found.
#[derive(Debug)]
pub enum Read {
    /// A whole frame.
    Frame(Vec<u8>),
    /// The peer closed (cleanly or by reset) before a whole frame.
    Closed,
    /// Nothing whole within the deadline.
    TimedOut,
}

impl Conn {
    /// Connects to `addr`; failing to connect to the target is a harness error.
    pub async fn open(
        addr: &str,
        transcript: &Transcript,
        deadline: Duration,
    ) -> Result<Conn, Problem> {
        let stream = match timeout(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(Problem::Harness(format!("cannot connect to {addr}: {e}"))),
            Err(_) => return Err(Problem::Harness(format!("connecting to {addr} timed out"))),
        };
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::new(),
            peer: addr.to_string(),
            transcript: transcript.clone(),
            timeout: deadline,
        })
    }

    /// Writes `bytes` in one write.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Problem> {
        self.transcript.sent(&self.peer, bytes);
        match timeout(self.timeout, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(violation(
                "the connection to accept the request",
                format!("write failed: {e}"),
            )),
            Err(_) => Err(violation("the node to read the request", "write timed out")),
        }
    }

    /// Reads one frame within `wait`.
    pub async fn read_within(&mut self, wait: Duration) -> Read {
        let deadline = Instant::now() + wait;
        loop {
            if let Decoded::Complete(_, used) = Frame::decode(&self.buf) {
                let frame: Vec<u8> = self.buf.drain(..used).collect();
                self.transcript.received(&self.peer, &frame);
                return Read::Frame(frame);
            }
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    if !self.buf.is_empty() {
                        self.transcript.received(&self.peer, &self.buf);
                    }
                    return Read::Closed;
                }
                Ok(Ok(n)) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(_) => return Read::TimedOut,
            }
        }
    }

    /// Reads one reply frame within the case deadline; no reply is a violation.
    pub async fn reply(&mut self) -> Result<Reply, Problem> {
        match self.read_within(self.timeout).await {
            Read::Frame(bytes) => Reply::decode(&bytes),
            Read::Closed => Err(violation(
                "a reply frame",
                "the node closed the connection without replying",
            )),
            Read::TimedOut => Err(violation(
                "a reply frame",
                format!("no whole reply within {:?}", self.timeout),
            )),
        }
    }

    /// Sends a request and reads its reply.
    pub async fn call(&mut self, bytes: &[u8]) -> Result<Reply, Problem> {
        self.send(bytes).await?;
        self.reply().await
    }

    /// Half-closes the sending side.
    pub async fn shutdown_write(&mut self) {
        self.transcript.note("client half-closed its side");
        let _ = self.stream.shutdown().await;
    }

    /// Closes with a reset (SO_LINGER 0) instead of FIN.
    pub fn reset(self) {
        self.transcript.note("client reset the connection");
        if let Ok(std) = self.stream.into_std() {
            let _ = socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO));
        }
    }

    /// Whether the peer closes within `wait` (bytes received meanwhile are recorded).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        matches!(self.read_within(wait).await, Read::Closed)
    }
}

/// A decoded reply frame.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Header version.
    pub version: u16,
    /// Header status.
    pub status: u8,
    /// `id`
    pub id: String,
    /// `timestamp`
    pub timestamp: String,
    /// `source`
    pub source: String,
    /// `type`
    pub event_type: String,
    /// `data`, when present.
    pub data: Option<Value>,
    /// `error`, when present.
    pub error: Option<Value>,
}

impl Reply {
    /// Decodes a reply frame; an undecodable reply is a violation.
    pub fn decode(bytes: &[u8]) -> Result<Reply, Problem> {
        let (frame, _) = Frame::decode(bytes)
            .complete()
            .ok_or_else(|| violation("a whole reply frame", "an incomplete frame"))?;
        match frame.message() {
            Ok(Message::Event(event)) => Ok(Reply {
                version: frame.header.version,
                status: frame.header.status,
                id: event.id.to_string(),
                timestamp: event.timestamp.to_string(),
                source: event.source.to_string(),
                event_type: event.event_type.to_string(),
                data: event.data.map(crate::canonical::value),
                error: event.error.map(crate::canonical::value),
            }),
            Ok(Message::Other(_)) => Err(violation(
                "a version 2 reply event",
                "a version 1 non-event payload",
            )),
            Err(e) => Err(violation(
                "a decodable reply event",
                format!("{} ({e})", e.code()),
            )),
        }
    }

    fn body(&self) -> Option<&Value> {
        self.error.as_ref().or(self.data.as_ref())
    }

    /// The reply's `code`.
    pub fn code(&self) -> Option<&str> {
        self.body()?.get("code")?.as_str()
    }

    /// `message` (or a v0.0.1 plain-string error).
    pub fn message(&self) -> Option<&str> {
        match self.body()? {
            Value::String(s) => Some(s),
            body => body.get("message")?.as_str(),
        }
    }

    /// `error.reason`.
    pub fn reason(&self) -> Option<&str> {
        self.error.as_ref()?.get("reason")?.as_str()
    }

    /// A short description for Actual.
    pub fn summary(&self) -> String {
        format!(
            "status {}, {}, code {:?}, message {:?}{}",
            self.status,
            self.event_type,
            self.code(),
            self.message(),
            self.reason()
                .map(|r| format!(", reason {r:?}"))
                .unwrap_or_default()
        )
    }

    /// Checks `error.reason`, where the specification fixes its text.
    pub fn must_give_reason(&self, reason: &str) -> Result<(), Problem> {
        if self.reason() == Some(reason) {
            Ok(())
        } else {
            Err(violation(format!("reason {reason:?}"), self.summary()))
        }
    }

    /// Checks status, type and code (and message when given).
    pub fn must_be(&self, status: u8, code: &str, message: Option<&str>) -> Result<(), Problem> {
        let event_type = if status == 1 {
            uhome_protocol::core::RESPONSE
        } else {
            uhome_protocol::core::ERROR
        };
        let ok = self.status == status
            && self.event_type == event_type
            && self.code() == Some(code)
            && (message.is_none() || self.message() == message);
        if ok {
            Ok(())
        } else {
            Err(violation(
                format!(
                    "status {status}, {event_type}, code {code:?}{}",
                    message
                        .map(|m| format!(", message {m:?}"))
                        .unwrap_or_default()
                ),
                self.summary(),
            ))
        }
    }
}

/// A request to encode.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `type`
    pub event_type: &'a str,
    /// `data` as JSON text.
    pub data: Option<String>,
    /// `source`
    pub source: &'a str,
    /// `id`
    pub id: String,
    /// Header version.
    pub version: u16,
    /// Header status.
    pub status: u8,
}

/// The suite's node id when it plays a client.
pub const SUITE_SOURCE: &str = "uhome-conformance/client";

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh request id.
pub fn fresh_id() -> String {
    format!(
        "conformance-{}",
        NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

impl<'a> Request<'a> {
    /// A version 2, status 1 request of `event_type` with `data`.
    pub fn new(event_type: &'a str, data: Option<Value>) -> Request<'a> {
        Request {
            event_type,
            data: data.map(|d| d.to_string()),
            source: SUITE_SOURCE,
            id: fresh_id(),
            version: V2,
            status: 1,
        }
    }

    /// Sent as `source`.
    pub fn from(mut self, source: &'a str) -> Self {
        self.source = source;
        self
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; MAX_FRAME_LEN];
        let raw = self.data.as_deref().map(RawJson::parse);
        let body = match &raw {
            Some(Ok(raw)) => Body::Data(raw),
            _ => Body::None,
        };
        let envelope = Envelope {
            id: &self.id,
            timestamp: "2026-11-28T22:17:50.481Z",
            source: self.source,
            event_type: self.event_type,
        };
        let n = encode_event(&mut out, self.version, self.status, &envelope, body).unwrap_or(0);
        out.truncate(n);
        out
    }
}

/// A raw frame: header fields and payload.
pub fn frame(version: u16, status: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 5];
    let n = uhome_protocol::encode_frame(&mut out, version, status, payload).unwrap_or(0);
    out.truncate(n);
    out
}
