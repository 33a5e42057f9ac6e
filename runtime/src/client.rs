//! The client side: deadlines on connect, write and read; one request per connection by
//! default ([UH-EXCHANGE-9]); reusable connections for peers known to conform.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::codec::Decoder;
use uhome_protocol::auth::{AuthError, KeyId, Nonce};
use uhome_protocol::{encode_event, Body, Code, Envelope, Message};

use crate::codec::{FrameCodec, OwnedFrame};
use crate::config::CLIENT_TIMEOUT;
use crate::event::OwnedEvent;
use crate::reply::{encode_frame_vec, estimate, Verbatim};
use crate::security::{Mode, PeerEntry, Security};

/// Why a request got no reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection to the address.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The cause.
        source: io::Error,
    },
    /// A deadline passed.
    #[error("{phase} timed out after {after:?}")]
    Timeout {
        /// `connect`, `write` or `read`.
        phase: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The connection failed.
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    /// The peer closed before a whole reply arrived.
    #[error("the peer closed the connection before replying")]
    Closed,
    /// The request could not be encoded (too large, …).
    #[error("cannot encode the request: {0}")]
    Encode(uhome_protocol::Error),
    /// The reply could not be decoded.
    #[error("undecodable reply: {0}")]
    BadReply(uhome_protocol::Error),
    /// `data` is not JSON.
    #[error("data is not JSON: {0}")]
    BadData(uhome_protocol::Error),
    /// In `secure` mode, no key is known for the node at the address.
    #[error(
        "no key is known for the node at {addr}: secure mode signs requests only for known nodes"
    )]
    NoKey {
        /// The address.
        addr: String,
    },
    /// The registry or the broker may not connect there (the outbound allow-list).
    #[error("{addr}: {reason}")]
    NotAllowed {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The request could not be signed.
    #[error("cannot sign the request: {0}")]
    Sign(AuthError),
    /// The reply is not signed by the node called, or not for this request: no reply.
    #[error("the reply from {addr} does not authenticate: {error}")]
    Unauthenticated {
        /// The address.
        addr: String,
        /// What failed (`error.code()`: the code of [UH-AUTH-27]).
        error: AuthError,
    },
}

/// A decoded reply: its status byte and its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyEvent {
    /// Status byte.
    pub status: u8,
    /// The event (`data` on success, `error` on failure).
    pub event: OwnedEvent,
}

impl ReplyEvent {
    /// Decodes a reply frame.
    pub fn decode(frame: &OwnedFrame) -> Result<ReplyEvent, uhome_protocol::Error> {
        let message = frame.view().message()?;
        let Message::Event(event) = message else {
            return Err(uhome_protocol::Error::InvalidEvent(
                uhome_protocol::EventFault::NotAnObject,
            ));
        };
        Ok(ReplyEvent {
            status: frame.header.status,
            event: OwnedEvent::from_event(frame.header.version, &event),
        })
    }

    /// Only status 1 is success ([UH-STATUS-4]).
    pub fn is_success(&self) -> bool {
        self.status == uhome_protocol::status::OK
    }

    /// `data` as a JSON value.
    pub fn data_value(&self) -> Option<Value> {
        self.event.data_value()
    }

    /// `error` as a JSON value.
    pub fn error_value(&self) -> Option<Value> {
        self.event.error_value()
    }

    fn body(&self) -> Option<Value> {
        if self.event.error.is_some() {
            self.error_value()
        } else {
            self.data_value()
        }
    }

    /// The reply's `code`; `None` for v0.0.1 replies ([UH-REPLY-4]).
    pub fn code(&self) -> Option<String> {
        self.body()?.get("code")?.as_str().map(str::to_string)
    }

    /// The code to decide on: `code`, or for a reply without one (a v0.0.1 node,
    /// [UH-REPLY-4], Appendix A) the code its message or reason stands for:
    /// `No Handler for Event registered` is `no_handler`, and the reasons
    /// `Node is not registered`, `Node already exists` and `Unhealthy service` of a refusal
    /// are `not_registered`, `already_registered` and `unhealthy`.
    pub fn effective_code(&self) -> Option<String> {
        if let Some(code) = self.code() {
            return Some(code);
        }
        let legacy = if self.is_success() {
            match self.message().as_deref() {
                Some(m) if Some(m) == Code::NoHandler.fixed_message() => Code::NoHandler,
                _ => return None,
            }
        } else {
            match self.reason().as_deref() {
                Some("Node is not registered") => Code::NotRegistered,
                Some("Node already exists") => Code::AlreadyRegistered,
                Some("Unhealthy service") => Code::Unhealthy,
                _ => return None,
            }
        };
        Some(legacy.as_str().to_string())
    }

    /// Whether the node has no handler for the request's type ([UH-REPLY-5]).
    pub fn is_no_handler(&self) -> bool {
        self.effective_code().as_deref() == Some(Code::NoHandler.as_str())
    }

    /// The reply for people: `code — message (reason)`, without the code part when the
    /// reply has none.
    pub fn describe(&self) -> String {
        let message = self.message().unwrap_or_else(|| "(no message)".into());
        let reason = self.reason().map(|r| format!(" ({r})")).unwrap_or_default();
        match self.code() {
            Some(code) => format!("{code} — {message}{reason}"),
            None => format!("{message}{reason} [no code: a v0.0.1 node?]"),
        }
    }

    /// The message: `data.message`, `error.message`, or a v0.0.1 plain-string `error`.
    pub fn message(&self) -> Option<String> {
        match self.body()? {
            Value::String(s) => Some(s),
            body => body.get("message")?.as_str().map(str::to_string),
        }
    }

    /// `error.reason`, when present.
    pub fn reason(&self) -> Option<String> {
        self.error_value()?
            .get("reason")?
            .as_str()
            .map(str::to_string)
    }

    /// The whole reply as JSON, for printing.
    pub fn to_json(&self) -> Value {
        let e = &self.event;
        let mut event = serde_json::Map::new();
        event.insert("id".into(), e.id.clone().into());
        event.insert("timestamp".into(), e.timestamp.clone().into());
        event.insert("source".into(), e.source.clone().into());
        event.insert("type".into(), e.event_type.clone().into());
        if let Some(data) = &e.data {
            event.insert(
                "data".into(),
                self.data_value().unwrap_or_else(|| data.clone().into()),
            );
        }
        if let Some(error) = &e.error {
            event.insert(
                "error".into(),
                self.error_value().unwrap_or_else(|| error.clone().into()),
            );
        }
        serde_json::json!({ "status": self.status, "version": e.version, "event": event })
    }
}

/// Deadlines of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Connecting.
    pub connect: Duration,
    /// Writing a request.
    pub write: Duration,
    /// Reading a reply.
    pub read: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            connect: CLIENT_TIMEOUT,
            write: CLIENT_TIMEOUT,
            read: CLIENT_TIMEOUT,
        }
    }
}

/// A µHome client speaking as node `source`.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    deadlines: Deadlines,
    security: Option<Arc<Security>>,
    /// Connections go only to addresses the security's outbound allow-list allows.
    checks_outbound: bool,
}

impl Client {
    /// A client with the default deadlines (3 s each).
    pub fn new(source: impl Into<String>) -> Client {
        Client::with_deadlines(source, Deadlines::default())
    }

    /// A client with the given deadlines.
    pub fn with_deadlines(source: impl Into<String>, deadlines: Deadlines) -> Client {
        Client {
            inner: Arc::new(Inner {
                source: source.into(),
                deadlines,
                security: None,
                checks_outbound: false,
            }),
        }
    }

    /// The same client signing its requests and verifying the replies with `security`.
    pub fn with_security(&self, security: Arc<Security>) -> Client {
        Client {
            inner: Arc::new(Inner {
                source: self.inner.source.clone(),
                deadlines: self.inner.deadlines,
                security: Some(security),
                checks_outbound: self.inner.checks_outbound,
            }),
        }
    }

    /// The same client for the addresses peers give (health checks, deliveries): with
    /// security, it connects only to an address the outbound allow-list allows, each name
    /// resolved once, checked, and connected to as resolved ([UH-AUTH-25]).
    pub fn for_peer_addresses(&self) -> Client {
        Client {
            inner: Arc::new(Inner {
                source: self.inner.source.clone(),
                deadlines: self.inner.deadlines,
                security: self.inner.security.clone(),
                checks_outbound: true,
            }),
        }
    }

    /// The client's security, when it signs.
    pub fn security(&self) -> Option<&Arc<Security>> {
        self.inner.security.as_ref()
    }

    /// The node id this client speaks as.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The deadlines.
    pub fn deadlines(&self) -> Deadlines {
        self.inner.deadlines
    }

    /// Sends `event_type` with `data` on a new connection and returns the reply.
    pub async fn request(
        &self,
        addr: &str,
        event_type: &str,
        data: Option<&Value>,
    ) -> Result<ReplyEvent, ClientError> {
        self.send(addr, &self.event(event_type, data)).await
    }

    /// A new request of `event_type` from this client's node id.
    pub fn event(&self, event_type: &str, data: Option<&Value>) -> OwnedEvent {
        OwnedEvent::new(&self.inner.source, event_type, data)
    }

    /// Sends one request on a new connection, reads the reply, closes ([UH-EXCHANGE-9]).
    /// With security, the request is signed for the node known at `addr` and the reply must
    /// be that node's, for this request.
    pub async fn send(&self, addr: &str, request: &OwnedEvent) -> Result<ReplyEvent, ClientError> {
        let (frame, check) = self.sealed(addr, request)?;
        let reply = self.send_frame(addr, &frame).await?;
        self.opened(addr, &reply, check.as_ref())
    }

    /// The request frame to send to `addr`, signed when this client has security and knows
    /// the node there, with what checks the reply.
    fn sealed(
        &self,
        addr: &str,
        request: &OwnedEvent,
    ) -> Result<(Bytes, Option<Expected>), ClientError> {
        self.seal(addr, self.encode(request)?)
    }

    /// Sends an encoded request frame on a new connection as [`Client::send`] does: signed
    /// and its reply verified when this client has security.
    pub async fn send_encoded(&self, addr: &str, frame: Bytes) -> Result<ReplyEvent, ClientError> {
        let (frame, check) = self.seal(addr, frame)?;
        let reply = self.send_frame(addr, &frame).await?;
        self.opened(addr, &reply, check.as_ref())
    }

    /// `frame` signed for the node at `addr` when this client signs, with what checks the
    /// reply ([`Client::opened`]).
    pub(crate) fn seal(
        &self,
        addr: &str,
        frame: Bytes,
    ) -> Result<(Bytes, Option<Expected>), ClientError> {
        let Some(security) = self.inner.security.as_ref().filter(|s| s.signs()) else {
            return Ok((frame, None));
        };
        let Some(peer) = security.peer_at(addr) else {
            return match security.mode() {
                Mode::Secure => Err(ClientError::NoKey {
                    addr: addr.to_string(),
                }),
                Mode::Compat => Ok((frame, None)),
            };
        };
        let (signed, nonce) = security
            .sign_request(&frame, Some(KeyId::of(&peer.key)))
            .map_err(ClientError::Sign)?;
        Ok((signed, Some(Expected { peer, nonce })))
    }

    /// The reply from `addr`, verified against `check` when the request was signed.
    pub(crate) fn opened(
        &self,
        addr: &str,
        reply: &OwnedFrame,
        check: Option<&Expected>,
    ) -> Result<ReplyEvent, ClientError> {
        if let (Some(security), Some(expected)) = (&self.inner.security, check) {
            security
                .verify_reply(&reply.view(), &expected.peer, &expected.nonce)
                .map_err(|error| ClientError::Unauthenticated {
                    addr: addr.to_string(),
                    error,
                })?;
        }
        ReplyEvent::decode(reply).map_err(ClientError::BadReply)
    }

    /// Sends pre-encoded bytes on a new connection and returns the first reply frame.
    pub async fn send_frame(&self, addr: &str, frame: &[u8]) -> Result<OwnedFrame, ClientError> {
        let mut connection = self.connect(addr).await?;
        let reply = connection.send_frame(frame).await;
        connection.close().await;
        reply
    }

    /// Opens a connection for several requests, for peers known to conform.
    pub async fn connect(&self, addr: &str) -> Result<Connection, ClientError> {
        let stream = self.open_stream(addr).await?;
        Ok(Connection {
            stream,
            buf: BytesMut::with_capacity(1024),
            client: self.clone(),
            addr: addr.to_string(),
        })
    }

    /// A TCP connection to `addr` within the connect deadline, with Nagle off; for peer
    /// addresses only to the resolved addresses the outbound allow-list allows.
    pub(crate) async fn open_stream(&self, addr: &str) -> Result<TcpStream, ClientError> {
        let connect_error = |source| ClientError::Connect {
            addr: addr.to_string(),
            source,
        };
        let connecting = async {
            match self.inner.security.as_ref() {
                Some(security) if self.inner.checks_outbound && security.restricts_outbound() => {
                    let resolved = security.outbound_addresses(addr).await.map_err(|refusal| {
                        ClientError::NotAllowed {
                            addr: addr.to_string(),
                            reason: refusal.reason,
                        }
                    })?;
                    TcpStream::connect(resolved.as_slice())
                        .await
                        .map_err(connect_error)
                }
                _ => TcpStream::connect(addr).await.map_err(connect_error),
            }
        };
        let deadline = self.inner.deadlines.connect;
        let stream = timeout(deadline, connecting)
            .await
            .map_err(|_| ClientError::Timeout {
                phase: "connect",
                after: deadline,
            })??;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Encodes a request frame (status 1, the event's version) in one buffer, so that it
    /// goes out in one write ([UH-EXCHANGE-12]). `data` must be JSON; `error` is not sent.
    pub fn encode(&self, request: &OwnedEvent) -> Result<Bytes, ClientError> {
        let data = request
            .data
            .as_deref()
            .map(|d| uhome_protocol::RawJson::parse(d).map(|_| Verbatim(d.trim())))
            .transpose()
            .map_err(|e| ClientError::BadData(e.into()))?;
        let envelope = Envelope {
            id: &request.id,
            timestamp: &request.timestamp,
            source: &request.source,
            event_type: &request.event_type,
        };
        let body = match &data {
            Some(data) => Body::Data(data),
            None => Body::None,
        };
        let size = estimate(
            request.data.as_ref().map_or(0, String::len)
                + request.id.len()
                + request.timestamp.len()
                + request.source.len()
                + request.event_type.len(),
        );
        encode_frame_vec(size, |out| {
            encode_event(
                out,
                request.version,
                uhome_protocol::status::OK,
                &envelope,
                body,
            )
        })
        .map_err(ClientError::Encode)
    }
}

/// A client connection carrying requests one after another.
pub struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    client: Client,
    addr: String,
}

/// What a signed request's reply must be: signed by `peer`, with `re` = `nonce`.
/// What a signed request's reply must show: the node's key and the request's nonce.
pub(crate) struct Expected {
    peer: Arc<PeerEntry>,
    nonce: Nonce,
}

impl Connection {
    /// Sends a request and reads its reply (signed and verified as [`Client::send`] does).
    pub async fn send(&mut self, request: &OwnedEvent) -> Result<ReplyEvent, ClientError> {
        let (frame, check) = self.client.sealed(&self.addr, request)?;
        let reply = self.send_frame(&frame).await?;
        self.client.opened(&self.addr, &reply, check.as_ref())
    }

    /// Writes `frame` in one write and reads one reply frame ([UH-EXCHANGE-11]).
    pub async fn send_frame(&mut self, frame: &[u8]) -> Result<OwnedFrame, ClientError> {
        let deadlines = self.client.inner.deadlines;
        match timeout(deadlines.write, self.stream.write_all(frame)).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(ClientError::Timeout {
                    phase: "write",
                    after: deadlines.write,
                })
            }
        }
        match timeout(deadlines.read, self.read_frame()).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                phase: "read",
                after: deadlines.read,
            }),
        }
    }

    async fn read_frame(&mut self) -> Result<OwnedFrame, ClientError> {
        loop {
            if let Some(frame) = FrameCodec.decode(&mut self.buf)? {
                return Ok(frame);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Sends FIN and closes.
    pub async fn close(mut self) {
        let _ = self.stream.shutdown().await;
    }
}
