//! Talking to the node under test: connections that record every byte, request builders,
//! decoded replies.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use uhome_protocol::{
    encode_event, Body, Code, Decoded, Envelope, Frame, RawJson, MAX_FRAME_LEN, V2,
};

use std::sync::Arc;

use crate::audit::Audit;
use crate::case::{violation, Problem, Transcript};

/// A connection to the target (or a harness peer) that records what it sends and receives.
///
/// Dropping it closes gracefully: a FIN, then what the peer still sends is read and
/// discarded for a moment, so that the peer never sees a reset ([`Conn::reset`] sends one on
/// purpose).
pub struct Conn {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    peer: String,
    transcript: Transcript,
    timeout: Duration,
    audit: Option<(Arc<Audit>, String)>,
    /// Bytes sent and not yet a whole frame, and the ids of the requests not yet answered.
    unsent_frame: Vec<u8>,
    pending: VecDeque<Option<String>>,
}

/// How long a dropped connection drains before it closes.
const DRAIN: Duration = Duration::from_millis(500);

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
            stream: Some(stream),
            buf: Vec::new(),
            peer: addr.to_string(),
            transcript: transcript.clone(),
            timeout: deadline,
            audit: None,
            unsent_frame: Vec::new(),
            pending: VecDeque::new(),
        })
    }

    /// Every reply frame read is checked by `audit` as received by `case`.
    pub fn audited(mut self, audit: Arc<Audit>, case: &str) -> Conn {
        self.audit = Some((audit, case.to_string()));
        self
    }

    fn stream(&mut self) -> std::io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }

    /// Writes `bytes` in one write.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Problem> {
        self.transcript.sent(&self.peer, bytes);
        if self.audit.is_some() {
            self.unsent_frame.extend_from_slice(bytes);
            while let Decoded::Complete(_, used) = Frame::decode(&self.unsent_frame) {
                let id = crate::audit::reply_id(self.unsent_frame.get(..used).unwrap_or_default());
                self.pending.push_back(id);
                self.unsent_frame.drain(..used);
            }
        }
        let deadline = self.timeout;
        let write = async {
            let stream = self.stream()?;
            stream.write_all(bytes).await
        };
        match timeout(deadline, write).await {
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
                if let Some((audit, case)) = &self.audit {
                    let request_id = self.pending.pop_front().flatten();
                    audit.inspect(case, &frame, request_id.as_deref(), &self.transcript);
                }
                return Read::Frame(frame);
            }
            let mut chunk = [0u8; 8192];
            let read = match self.stream.as_mut() {
                Some(stream) => tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await,
                None => Ok(Ok(0)),
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    if !self.buf.is_empty() {
                        self.transcript.received(&self.peer, &self.buf);
                        self.buf.clear();
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
            Read::Frame(bytes) => Reply::decode_noting(&bytes, &self.transcript),
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
        if let Ok(stream) = self.stream() {
            let _ = stream.shutdown().await;
        }
    }

    /// Closes with a reset (SO_LINGER 0) instead of FIN.
    pub fn reset(mut self) {
        self.transcript.note("client reset the connection");
        if let Some(stream) = self.stream.take() {
            if let Ok(std) = stream.into_std() {
                let _ = socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO));
            }
        }
    }

    /// Closes gracefully: FIN, then reads until the peer closes or `DRAIN` passes.
    pub async fn close(mut self) {
        if let Some(stream) = self.stream.take() {
            drain(stream).await;
        }
    }

    /// Whether the peer closes within `wait` (bytes received meanwhile are recorded).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        matches!(self.read_within(wait).await, Read::Closed)
    }
}

async fn drain(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 8192];
    let deadline = Instant::now() + DRAIN;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(drain(stream));
            }
        }
    }
}

/// A decoded reply frame, read leniently: a case judges the property it is named after, and
/// the envelope's other rules are the audit's ([`crate::audit`]).
#[derive(Debug, Clone)]
pub struct Reply {
    /// Header version.
    pub version: u16,
    /// Header status.
    pub status: u8,
    /// `id` (empty when absent or not a string).
    pub id: String,
    /// `timestamp` (empty when absent or not a string).
    pub timestamp: String,
    /// `source` (empty when absent or not a string).
    pub source: String,
    /// `type` (empty when absent or not a string).
    pub event_type: String,
    /// `data`, when present.
    pub data: Option<Value>,
    /// `error`, when present.
    pub error: Option<Value>,
    notes: Transcript,
}

impl Reply {
    /// Decodes a reply frame; a payload that is not a JSON object is a violation.
    pub fn decode(bytes: &[u8]) -> Result<Reply, Problem> {
        Reply::decode_noting(bytes, &Transcript::default())
    }

    /// Decodes a reply frame; what a check tolerates is noted in `notes`.
    pub fn decode_noting(bytes: &[u8], notes: &Transcript) -> Result<Reply, Problem> {
        let (frame, _) = Frame::decode(bytes)
            .complete()
            .ok_or_else(|| violation("a whole reply frame", "an incomplete frame"))?;
        let value: Value = serde_json::from_slice(frame.payload).map_err(|e| {
            violation(
                "a reply whose payload is a JSON object",
                format!("not JSON: {e}"),
            )
        })?;
        let Value::Object(mut members) = value else {
            return Err(violation(
                "a reply whose payload is a JSON object",
                format!("{value}"),
            ));
        };
        let text = |name: &str| match members.get(name) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        Ok(Reply {
            version: frame.header.version,
            status: frame.header.status,
            id: text("id"),
            timestamp: text("timestamp"),
            source: text("source"),
            event_type: text("type"),
            data: members.remove("data"),
            error: members.remove("error"),
            notes: notes.clone(),
        })
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

    /// Whether this is the answer with `code`: by its code, or — in a reply without one,
    /// whose code is judged by the audit — by the message of Appendix B (or `message`).
    pub fn is(&self, code: &str, message: Option<&str>) -> bool {
        match self.code() {
            Some(c) => c == code,
            None => {
                let fixed = Code::parse(code).and_then(Code::fixed_message);
                message.or(fixed).is_some_and(|m| self.message() == Some(m))
            }
        }
    }

    /// Checks status, type and code (and message when given). A reply without a code is
    /// recognised by its message (see [`Reply::is`]), with a note: the code is judged by
    /// the audit, not here.
    pub fn must_be(&self, status: u8, code: &str, message: Option<&str>) -> Result<(), Problem> {
        let event_type = if status == 1 {
            uhome_protocol::core_events::RESPONSE
        } else {
            uhome_protocol::core_events::ERROR
        };
        let ok = self.status == status
            && self.event_type == event_type
            && self.is(code, message)
            && (message.is_none() || self.message() == message);
        if ok {
            if self.code().is_none() {
                self.notes.note(&format!(
                    "the reply has no code; recognised as {code} by its message"
                ));
            }
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

/// The `timestamp` of every request the suite encodes.
pub const REQUEST_TIMESTAMP: &str = "2026-11-28T22:17:50.481Z";

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
            timestamp: REQUEST_TIMESTAMP,
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
