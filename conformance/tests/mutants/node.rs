//! The mutant's server side: its own connection loop (so framing, ordering, idle and limit
//! faults can be injected) around a runtime `Node` that computes each correct reply, and its
//! own reply encoder (so envelope and body faults can be injected).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use uhome_conformance::wire::frame;
use uhome_protocol::core_events::{ERROR, HEALTHCHECK, RESPONSE};
use uhome_protocol::error::EventFault;
use uhome_protocol::json::JsonFault;
use uhome_protocol::{Error, Header, Message};
use uhome_runtime::codec::OwnedFrame;
use uhome_runtime::{Node, Reply};

use super::Fault;
use super::Fault::*;

/// The idle timeout the mutant declares and enforces.
pub const IDLE: Duration = Duration::from_secs(5);
/// The payload limit it declares when its fault concerns limits.
pub const LIMIT: usize = 8192;

/// How a mutant serves.
pub struct Server {
    pub node: Node,
    pub fault: Fault,
    pub max_payload: usize,
    replies: AtomicU64,
    dead: Notify,
}

impl Server {
    pub fn new(node: Node, fault: Fault, limited: bool) -> Arc<Server> {
        Arc::new(Server {
            node,
            fault,
            max_payload: if limited { LIMIT } else { 65535 },
            replies: AtomicU64::new(0),
            dead: Notify::new(),
        })
    }

    /// Listens on an ephemeral loopback port; the address.
    pub async fn spawn(self: Arc<Self>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = self.dead.notified() => return,
                };
                let Ok((stream, _)) = accepted else { return };
                if self.fault == SerialConnections {
                    self.clone().serve(stream).await;
                } else {
                    tokio::spawn(self.clone().serve(stream));
                }
            }
        });
        addr
    }

    /// A complete frame at the start of `buf`: header, payload range end.
    fn whole_frame(&self, buf: &[u8]) -> Option<(Header, usize)> {
        let head = buf.get(..5)?;
        let length = if self.fault == LengthLittleEndian {
            u16::from_le_bytes([head[0], head[1]])
        } else {
            u16::from_be_bytes([head[0], head[1]])
        };
        let header = Header {
            length,
            version: u16::from_be_bytes([head[2], head[3]]),
            status: head[4],
        };
        let end = 5 + usize::from(length);
        (buf.len() >= end).then_some((header, end))
    }

    async fn serve(self: Arc<Self>, mut stream: TcpStream) {
        let opened = Instant::now();
        let idle = if self.fault == NeverClosesIdle {
            Duration::from_secs(3600)
        } else {
            IDLE
        };
        let mut deadline = opened + idle;
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 8192];
        let mut closing = false;
        let mut partial_answered = false;
        loop {
            // The complete frames received, answered in order.
            let mut frames = Vec::new();
            loop {
                if self.fault == TooLargeWithoutDiscard && buf.len() >= 5 {
                    let length = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
                    if length > self.max_payload {
                        buf.drain(..5);
                        frames.push(None);
                        continue;
                    }
                }
                let Some((header, end)) = self.whole_frame(&buf) else {
                    break;
                };
                let payload = Bytes::copy_from_slice(&buf[5..end]);
                buf.drain(..end);
                partial_answered = false;
                frames.push(Some(OwnedFrame { header, payload }));
                if self.fault == OnlyFirstFrameOfRead {
                    buf.clear();
                    break;
                }
            }
            if self.fault == PipelinedReversed {
                frames.reverse();
            }
            let mut answers = Vec::new();
            for request in frames {
                if self.fault == HalfCloseDropsReply && client_half_closed(&stream).await {
                    return;
                }
                answers.push(match request {
                    Some(request) => self.answer(&request).await,
                    None => self.encode(&too_large(), None),
                });
            }
            if self.fault == AnswersPartialFrame && buf.len() >= 5 && !partial_answered {
                partial_answered = true;
                answers.push(self.encode(&Reply::for_error(&unexpected_end(), None), None));
            }
            for (bytes, close) in answers {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
                if self.fault == UnsolicitedFrame && bytes.windows(7).any(|w| w == b"healthy") {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let request = uhome_conformance::wire::Request::new(HEALTHCHECK, None);
                    if stream.write_all(&request.encode()).await.is_err() {
                        return;
                    }
                }
                deadline = Instant::now() + idle;
                closing |= close;
            }
            if closing {
                let _ = stream.shutdown().await;
                return;
            }
            let lifetime = async {
                if self.fault == FixedLifetime {
                    tokio::time::sleep_until(opened + Duration::from_secs(3)).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                read = tokio::time::timeout_at(deadline, stream.read(&mut chunk)) => match read {
                    Err(_) if self.fault == IdleCloseResets => {
                        if let Ok(std) = stream.into_std() {
                            let _ = socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO));
                        }
                        return;
                    }
                    Err(_) => closing = true,
                    Ok(Ok(0)) => closing = true,
                    Ok(Ok(n)) => {
                        buf.extend_from_slice(&chunk[..n]);
                        if self.fault == TrickleRestartsIdle {
                            deadline = Instant::now() + idle;
                        }
                        if self.fault == NoReassembly {
                            self.no_reassembly(&mut stream, &mut buf).await;
                        }
                    }
                    Ok(Err(_)) => {
                        if self.fault == DiesOnReset {
                            // A permit is kept if the accept loop is not waiting at this moment.
                            self.dead.notify_one();
                        }
                        return;
                    }
                },
                () = lifetime => {
                    let _ = stream.shutdown().await;
                    return;
                }
            }
        }
    }

    /// As v0.0.1: what one read holds is the frame; an incomplete one is invalid JSON.
    async fn no_reassembly(&self, stream: &mut TcpStream, buf: &mut Vec<u8>) {
        if self.whole_frame(buf).is_none() {
            let (bytes, _) = self.encode(&Reply::for_error(&unexpected_end(), None), None);
            let _ = stream.write_all(&bytes).await;
            buf.clear();
        }
    }

    /// The reply frame to one request, and whether to close after it.
    async fn answer(&self, request: &OwnedFrame) -> (Vec<u8>, bool) {
        let reply = self.reply(request).await;
        let close = match self.fault {
            ErrorsCloseConnection => !reply.is_response(),
            TooLargeCloses => reply.code() == Some("too_large"),
            _ => false,
        };
        let (mut bytes, _) = self.encode(&reply, Some(request));
        if self.fault == DoubleReply && reply.code() == Some("no_handler") {
            bytes = [bytes.clone(), self.encode(&reply, Some(request)).0].concat();
        }
        (bytes, close)
    }

    async fn reply(&self, request: &OwnedFrame) -> Reply {
        let length = usize::from(request.header.length);
        let f = self.fault;
        if length > self.max_payload && f != LimitNotEnforced {
            if f == LimitAfterDecode {
                let reply = self.correct(request).await;
                if !reply.is_response() {
                    return reply;
                }
            }
            return too_large();
        }
        if f == LimitBelowDeclared && length > 4000 {
            return too_large();
        }
        let mut request = request.clone();
        let header = &mut request.header;
        let known = header.version == 1 || header.version == 2;
        match f {
            InterpretsUnknownVersion if !known => header.version = 2,
            StatusAccepted => header.status = 1,
            StatusBeforeVersion if header.status != 1 => {
                return Reply::for_error(&Error::BadStatus(header.status), None)
            }
            DecodeBeforeStatus if known && header.status != 1 => {
                if let Err(e) = request.view().message() {
                    return Reply::for_error(&e, None);
                }
            }
            AcceptsBom if request.payload.starts_with(b"\xef\xbb\xbf") => {
                request.payload = request.payload.slice(3..);
                request.header.length -= 3;
            }
            RefusesDepth64 if depth(&request.payload) >= 64 => {
                return Reply::for_error(&Error::TooDeep { offset: 0 }, None)
            }
            _ => {}
        }
        match request.view().request() {
            Err(e) if self.accepts(&e) => return Reply::no_handler(),
            Ok(Message::Event(event)) => {
                let odd_timestamp = humantime::parse_rfc3339(&event.timestamp.to_string()).is_err();
                if (f == RefusesUnknownMember && has_unknown_member(&request.payload))
                    || (f == RefusesOddTimestamp && odd_timestamp)
                {
                    return Reply::for_error(&Error::InvalidEvent(EventFault::NotAnObject), None);
                }
                if f == HealthcheckUnanswered && event.event_type == HEALTHCHECK {
                    return Reply::no_handler();
                }
            }
            _ => {}
        }
        let reply = self.correct(&request).await;
        if f == UnknownIsError && reply.code() == Some("no_handler") {
            return Reply::error(2, "no_handler", "No Handler for Event registered", None);
        }
        reply
    }

    /// The runtime's reply, with the declared limit.
    async fn correct(&self, request: &OwnedFrame) -> Reply {
        self.node.reply(request, None).await
    }

    fn accepts(&self, e: &Error) -> bool {
        match (self.fault, e) {
            (AcceptsInvalidJson, Error::InvalidJson { .. }) => true,
            (AcceptsInvalidUtf8, Error::InvalidUtf8 { .. }) => true,
            (AcceptsBadNumbers, Error::InvalidJson { fault, .. }) => {
                *fault == JsonFault::InvalidNumber
            }
            (AcceptsControlCharacters, Error::InvalidJson { fault, .. }) => {
                matches!(
                    fault,
                    JsonFault::ControlCharacter | JsonFault::InvalidEscape
                )
            }
            (AcceptsTrailingCharacters, Error::InvalidJson { fault, .. }) => {
                *fault == JsonFault::TrailingCharacters
            }
            (AcceptsNonObject, Error::InvalidEvent(EventFault::NotAnObject)) => true,
            (AcceptsMissingMember, Error::InvalidEvent(fault)) => *fault != EventFault::NotAnObject,
            (AcceptsDuplicateMember, Error::DuplicateMember(_)) => true,
            _ => false,
        }
    }

    /// The reply frame, with the envelope and body faults applied.
    fn encode(&self, reply: &Reply, request: Option<&OwnedFrame>) -> (Vec<u8>, bool) {
        let n = self.replies.fetch_add(1, Ordering::Relaxed);
        let f = self.fault;
        let response = reply.is_response();
        let mut status = reply.status();
        let mut body: Value = serde_json::from_str(reply.body()).unwrap_or_default();
        if let Value::Object(members) = &mut body {
            let code = members
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            match f {
                NoResponseCode if response => {
                    members.remove("code");
                }
                NoErrorCode if !response => {
                    members.remove("code");
                }
                UppercaseCode => {
                    members.insert("code".into(), code.to_uppercase().into());
                }
                WrongHealthyMessage if code == "healthy" => {
                    members.insert("message".into(), "Service is up".into());
                }
                WrongNoHandlerMessage if code == "no_handler" => {
                    members.insert("message".into(), "No handler".into());
                }
                NoReason if !response => {
                    members.remove("reason");
                }
                ReasonNamesNoMember if !response => {
                    members.insert("reason".into(), "bad request".into());
                }
                _ => {}
            }
        }
        if f == DataNotAnObject && response {
            body = body.get("message").cloned().unwrap_or_default();
        }
        if f == ErrorStatus1 && !response {
            status = 1;
        }
        let request_event = request.and_then(|r| match r.view().message() {
            Ok(Message::Event(e)) => Some(e.id.to_string()),
            _ => None,
        });
        let id = match f {
            StaleReplyId => "mutant-reply".to_string(),
            EchoedReplyId => request_event.unwrap_or_else(uhome_runtime::reply::new_id),
            _ => uhome_runtime::reply::new_id(),
        };
        let timestamp = match f {
            FixedTimestamp => "1970-01-01T00:00:00Z".to_string(),
            UnparsableTimestamp => "the day before yesterday".to_string(),
            _ => uhome_runtime::reply::now(),
        };
        let source = if f == SourceVaries && n % 2 == 1 {
            "mutant/someone-else"
        } else {
            self.node.id()
        };
        let event_type = match (f, response) {
            (WrongReplyType, _) => "µHome.reply",
            (_, true) => RESPONSE,
            (_, false) => ERROR,
        };
        let member = if response { "data" } else { "error" };
        let extra = if f == ErrorWithData && !response {
            r#","data":{}"#
        } else {
            ""
        };
        let payload = format!(
            r#"{{"id":{},"timestamp":{},"source":{},"type":{},"{member}":{body}{extra}}}"#,
            Value::from(id),
            Value::from(timestamp),
            Value::from(source),
            Value::from(event_type),
        );
        let version = match (f, request) {
            (ReplyVersionEchoed, Some(r)) => r.header.version,
            _ => 2,
        };
        (frame(version, status, payload.as_bytes()), false)
    }
}

fn too_large() -> Reply {
    Reply::for_error(&Error::TooLarge, None)
}

fn unexpected_end() -> Error {
    Error::InvalidJson {
        offset: 0,
        fault: JsonFault::UnexpectedEnd,
    }
}

async fn client_half_closed(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(10), stream.peek(&mut probe)).await,
        Ok(Ok(0))
    )
}

/// Deepest bracket nesting outside strings.
fn depth(payload: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in payload {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Whether the payload's top-level object has a member other than the six.
fn has_unknown_member(payload: &[u8]) -> bool {
    const SIX: [&str; 6] = ["id", "timestamp", "source", "type", "data", "error"];
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(members)) => members.keys().any(|k| !SIX.contains(&k.as_str())),
        _ => false,
    }
}
