//! The nodes the suite plays itself: services for the registry and the broker to call, and
//! a broker for the registry to push its list to.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uhome_protocol::core_events::{CoreType, ERROR, NODES, RESPONSE};
use uhome_protocol::reply::Response;
use uhome_protocol::{
    encode_event, Body, Code, Decoded, Envelope, Frame, Json, Message, MAX_FRAME_LEN, V2,
};

use crate::case::Transcript;

/// How a peer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Status 1 to everything.
    Healthy,
    /// Status 2 to everything.
    Refusing,
    /// Reads requests, never answers.
    Silent,
}

/// A request a peer received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// `type`
    pub event_type: String,
    /// `id`
    pub id: String,
    /// `source`
    pub source: String,
    /// `timestamp`
    pub timestamp: String,
    /// `data`
    pub data: Option<Value>,
    /// Header version and status.
    pub header: (u16, u8),
    /// Which connection it came on, numbered from 0 in the order they were accepted.
    pub connection: usize,
    /// The frame's bytes.
    pub raw: Vec<u8>,
}

struct State {
    mode: Mutex<Mode>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    transcript: Mutex<Transcript>,
    signer: Mutex<Option<uhome_protocol::auth::SigningKey>>,
}

/// A node played by the suite.
pub struct Peer {
    id: String,
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Peer {
    /// Listens on `addr` (`127.0.0.1:0` for an ephemeral port) as node `id`.
    pub async fn start(id: &str, addr: &str, mode: Mode) -> std::io::Result<Peer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            mode: Mutex::new(mode),
            received: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            transcript: Mutex::new(Transcript::default()),
            signer: Mutex::new(None),
        });
        let task = tokio::spawn(accept(listener, id.to_string(), state.clone()));
        Ok(Peer {
            id: id.to_string(),
            addr,
            state,
            task,
        })
    }

    /// The node id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The address, `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Changes how it answers.
    pub fn set_mode(&self, mode: Mode) {
        if let Ok(mut m) = self.state.mode.lock() {
            *m = mode;
        }
    }

    /// Signs every reply with `key` from now on, with `re` naming the request's nonce (a
    /// secure node's peer, section 14).
    pub fn sign_with(&self, key: uhome_protocol::auth::SigningKey) {
        if let Ok(mut s) = self.state.signer.lock() {
            *s = Some(key);
        }
    }

    /// Records its traffic into a case's transcript.
    pub fn record_into(&self, transcript: &Transcript) {
        if let Ok(mut t) = self.state.transcript.lock() {
            *t = transcript.clone();
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Requests of `event_type` received so far.
    pub fn received_of(&self, event_type: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event_type == event_type)
            .collect()
    }

    /// How many requests came on each connection that carried any, in connection order.
    pub fn requests_per_connection(&self) -> Vec<usize> {
        let mut counts = std::collections::BTreeMap::new();
        for r in self.received() {
            *counts.entry(r.connection).or_insert(0) += 1;
        }
        counts.into_values().collect()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        if let Ok(mut r) = self.state.received.lock() {
            r.clear();
        }
    }

    /// Waits until `check` holds for what was received, or `wait` passes.
    pub async fn wait_for(
        &self,
        wait: std::time::Duration,
        check: impl Fn(&[Received]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.state.arrived.notified();
            if check(&self.received()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.received());
            }
        }
    }

    /// Stops listening and closes its connections: the address is dead.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, id: String, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    let mut accepted = 0;
    while let Ok((stream, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {}
        connections.spawn(serve(stream, id.clone(), state.clone(), accepted));
        accepted += 1;
    }
}

async fn serve(mut stream: TcpStream, id: String, state: Arc<State>, connection: usize) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16384];
    loop {
        while let Decoded::Complete(frame, used) = Frame::decode(&buf) {
            let transcript = state
                .transcript
                .lock()
                .map(|t| t.clone())
                .unwrap_or_default();
            transcript.received(&id, buf.get(..used).unwrap_or_default());
            let reply = answer(
                &id,
                &frame,
                buf.get(..used).unwrap_or_default(),
                &state,
                connection,
            )
            .map(|reply| signed(reply, &frame, &state));
            buf.drain(..used);
            let Some(reply) = reply else { continue };
            transcript.sent(&id, &reply);
            if stream.write_all(&reply).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

/// `reply`, signed when the peer has a key.
fn signed(reply: Vec<u8>, request: &Frame<'_>, state: &State) -> Vec<u8> {
    let key = state.signer.lock().ok().and_then(|k| k.clone());
    let Some(key) = key else { return reply };
    let how = crate::signing::Sign {
        re: crate::signing::nonce_of(request),
        ..crate::signing::Sign::request(None)
    };
    crate::signing::sign(&reply, &key, how).unwrap_or(reply)
}

fn answer(
    id: &str,
    frame: &Frame<'_>,
    raw: &[u8],
    state: &State,
    connection: usize,
) -> Option<Vec<u8>> {
    let Ok(Message::Event(event)) = frame.message() else {
        return None;
    };
    let event_type = event.event_type.to_string();
    if let Ok(mut received) = state.received.lock() {
        received.push(Received {
            at: Instant::now(),
            event_type: event_type.clone(),
            id: event.id.to_string(),
            source: event.source.to_string(),
            timestamp: event.timestamp.to_string(),
            data: event.data.map(crate::canonical::value),
            header: (frame.header.version, frame.header.status),
            connection,
            raw: raw.to_vec(),
        });
    }
    state.arrived.notify_waiters();
    let mode = state.mode.lock().map(|m| *m).unwrap_or(Mode::Healthy);
    let mut out = vec![0u8; MAX_FRAME_LEN];
    let envelope = |event_type| Envelope {
        id: "conformance-peer-reply",
        timestamp: "2026-11-28T22:17:50.481Z",
        source: id,
        event_type,
    };
    let n = match mode {
        Mode::Silent => return None,
        Mode::Refusing => {
            let error = uhome_protocol::reply::ErrorReply::new(Code::Internal, None, None);
            encode_event(
                &mut out,
                V2,
                2,
                &envelope(ERROR),
                Body::Error(&Json(&error)),
            )
        }
        Mode::Healthy => {
            let data = match CoreType::of(&event.event_type) {
                Some(CoreType::Healthcheck) => Response::healthy(),
                Some(CoreType::Nodes) if event_type == NODES => Response::of(Code::NodesUpdated),
                _ => Response {
                    message: uhome_protocol::reply::Text::Str("Received"),
                    code: "received",
                },
            };
            encode_event(
                &mut out,
                V2,
                1,
                &envelope(RESPONSE),
                Body::Data(&Json(&data)),
            )
        }
    }
    .ok()?;
    out.truncate(n);
    Some(out)
}
