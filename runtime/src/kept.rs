//! Kept-alive delivery connections ([UH-BROKER-13]): to a node that declared `keepAlive`, the
//! broker keeps a few connections open and pipelines deliveries on them, reading the replies
//! in order. A connection that fails is dropped; the next delivery opens another.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_util::codec::Decoder;

use crate::client::{Client, ClientError, Deadlines, ReplyEvent};
use crate::codec::{FrameCodec, OwnedFrame};

/// Connections kept to each node.
pub const CONNECTIONS_PER_NODE: usize = 2;

type Answer = oneshot::Sender<Result<OwnedFrame, ClientError>>;

/// One kept connection: a writer task and a reader task around one socket.
struct Pipe {
    jobs: mpsc::UnboundedSender<(Bytes, Answer)>,
    pending: Arc<AtomicUsize>,
    dead: Arc<AtomicBool>,
}

impl Pipe {
    async fn open(
        client: &Client,
        address: &str,
        deadlines: Deadlines,
    ) -> Result<Pipe, ClientError> {
        let stream = client.open_stream(address).await?;
        let (mut read, mut write) = stream.into_split();
        let (jobs, mut job_rx) = mpsc::unbounded_channel::<(Bytes, Answer)>();
        let (sent_tx, mut sent_rx) = mpsc::unbounded_channel::<(Instant, Answer)>();
        let pending = Arc::new(AtomicUsize::new(0));
        let dead = Arc::new(AtomicBool::new(false));
        let writer_dead = dead.clone();
        tokio::spawn(async move {
            while let Some((frame, answer)) = job_rx.recv().await {
                match timeout(deadlines.write, write.write_all(&frame)).await {
                    Ok(Ok(())) => {
                        if let Err(mpsc::error::SendError((_, answer))) =
                            sent_tx.send((Instant::now() + deadlines.read, answer))
                        {
                            let _ = answer.send(Err(ClientError::Closed));
                            break;
                        }
                    }
                    Ok(Err(e)) => {
                        let _ = answer.send(Err(ClientError::Io(e)));
                        break;
                    }
                    Err(_) => {
                        let _ = answer.send(Err(ClientError::Timeout {
                            phase: "write",
                            after: deadlines.write,
                        }));
                        break;
                    }
                }
            }
            writer_dead.store(true, Ordering::Release);
            let _ = write.shutdown().await;
        });
        let reader_dead = dead.clone();
        let reader_pending = pending.clone();
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(1024);
            let mut waiting: VecDeque<(Instant, Answer)> = VecDeque::new();
            'serve: while let Some(next) = sent_rx.recv().await {
                waiting.push_back(next);
                while let Some((deadline, answer)) = waiting.pop_front() {
                    let frame = loop {
                        match FrameCodec.decode(&mut buf) {
                            Ok(Some(frame)) => break Ok(frame),
                            Ok(None) => {}
                            Err(e) => break Err(ClientError::Io(e)),
                        }
                        match timeout_at(deadline, read.read_buf(&mut buf)).await {
                            Ok(Ok(0)) => break Err(ClientError::Closed),
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => break Err(ClientError::Io(e)),
                            Err(_) => {
                                break Err(ClientError::Timeout {
                                    phase: "read",
                                    after: deadlines.read,
                                })
                            }
                        }
                    };
                    reader_pending.fetch_sub(1, Ordering::AcqRel);
                    let failed = frame.is_err();
                    let _ = answer.send(frame);
                    if failed {
                        // Later replies can no longer be matched to their requests.
                        break 'serve;
                    }
                    while let Ok(next) = sent_rx.try_recv() {
                        waiting.push_back(next);
                    }
                }
            }
            reader_dead.store(true, Ordering::Release);
            for (_, answer) in waiting {
                let _ = answer.send(Err(ClientError::Closed));
            }
        });
        Ok(Pipe {
            jobs,
            pending,
            dead,
        })
    }

    fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire) || self.jobs.is_closed()
    }
}

/// The kept connections to one address; opening is one at a time, so that concurrent
/// deliveries do not open more than [`CONNECTIONS_PER_NODE`].
#[derive(Default)]
struct AddressPipes {
    pipes: Mutex<Vec<Arc<Pipe>>>,
    opening: tokio::sync::Mutex<()>,
}

impl AddressPipes {
    /// A live connection with room, the least busy; `None` to open one.
    fn pick(&self) -> Option<Arc<Pipe>> {
        let mut pipes = self.pipes.lock().unwrap_or_else(PoisonError::into_inner);
        pipes.retain(|p| !p.is_dead());
        let least = pipes
            .iter()
            .min_by_key(|p| p.pending.load(Ordering::Acquire))
            .cloned()?;
        (pipes.len() >= CONNECTIONS_PER_NODE || least.pending.load(Ordering::Acquire) == 0)
            .then_some(least)
    }

    async fn get(
        &self,
        client: &Client,
        address: &str,
        deadlines: Deadlines,
    ) -> Result<Arc<Pipe>, ClientError> {
        if let Some(pipe) = self.pick() {
            return Ok(pipe);
        }
        let _opening = self.opening.lock().await;
        if let Some(pipe) = self.pick() {
            return Ok(pipe);
        }
        let pipe = Arc::new(Pipe::open(client, address, deadlines).await?);
        self.pipes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pipe.clone());
        Ok(pipe)
    }
}

/// The kept connections of a broker, by node address.
pub struct KeptConnections {
    client: Client,
    addresses: Mutex<HashMap<String, Arc<AddressPipes>>>,
}

impl KeptConnections {
    /// Kept connections opened as `client` opens its connections.
    pub fn new(client: Client) -> KeptConnections {
        KeptConnections {
            client,
            addresses: Mutex::default(),
        }
    }

    /// Sends `frame` to `address` on a kept connection and reads its reply, within
    /// `deadlines`. [`is_unsent`] tells whether an error leaves the request unread by the
    /// node, so that it may be sent again on a new connection.
    pub async fn send(
        &self,
        address: &str,
        frame: Bytes,
        deadlines: Deadlines,
    ) -> Result<ReplyEvent, ClientError> {
        let frame = self.send_frame(address, frame, deadlines).await?;
        ReplyEvent::decode(&frame).map_err(ClientError::BadReply)
    }

    /// As [`KeptConnections::send`], returning the reply frame itself (for a caller that
    /// verifies its signature).
    pub async fn send_frame(
        &self,
        address: &str,
        frame: Bytes,
        deadlines: Deadlines,
    ) -> Result<OwnedFrame, ClientError> {
        let pipes = self.lock().entry(address.to_string()).or_default().clone();
        let pipe = pipes.get(&self.client, address, deadlines).await?;
        let (answer, reply) = oneshot::channel();
        pipe.pending.fetch_add(1, Ordering::AcqRel);
        if pipe.jobs.send((frame, answer)).is_err() {
            pipe.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(ClientError::Closed);
        }
        reply.await.unwrap_or(Err(ClientError::Closed))
    }

    /// Closes the connections to every address not in `keep`.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|address, _| keep(address));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<AddressPipes>>> {
        self.addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `error` means the node did not read the request: the kept connection was closed
/// or broke before any reply, so the request may go again on a new connection
/// ([UH-EXCHANGE-9], [UH-EXCHANGE-17]).
pub fn is_unsent(error: &ClientError) -> bool {
    matches!(error, ClientError::Closed | ClientError::Io(_))
}
