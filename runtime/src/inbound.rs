//! One connection, server side: reassemble frames, answer each in order, close when idle or
//! when evicted while quiet ([UH-EXCHANGE-17]).

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use crate::codec::FrameCodec;
use crate::node::Node;

/// Why a connection ended.
#[derive(Debug)]
pub enum End {
    /// The client closed its side and every complete frame was answered.
    ClientClosed,
    /// No complete frame for the idle timeout ([UH-EXCHANGE-6]).
    Idle,
    /// The node is shutting down; every complete frame received was answered.
    Shutdown,
    /// Closed while quiet to free a slot for a new connection ([UH-EXCHANGE-17]).
    Evicted,
    /// A reply could not be written in time: the client does not read.
    WriteTimeout,
    /// The connection failed (reset, …).
    Io(io::Error),
}

/// What the accept loop sees of a connection: since when it has been quiet (no byte of a
/// frame buffered, no request being answered, no reply unwritten), and a way to ask it to
/// close while it is.
#[derive(Debug)]
pub struct Activity {
    /// Milliseconds since [`epoch`] at which the connection became quiet; [`BUSY`] while not.
    quiet_since: AtomicU64,
    evict: Notify,
}

const BUSY: u64 = u64::MAX;

fn epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(BUSY - 1)
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

impl Activity {
    /// A connection just opened: quiet from now.
    pub fn new() -> Activity {
        Activity {
            quiet_since: AtomicU64::new(now_ms()),
            evict: Notify::new(),
        }
    }

    /// Since when the connection has been quiet, in milliseconds of a process-wide clock
    /// (smaller is longer); `None` while it is not quiet.
    pub fn quiet_since(&self) -> Option<u64> {
        Some(self.quiet_since.load(Ordering::Acquire)).filter(|&t| t != BUSY)
    }

    /// Asks the connection to close if it is quiet when it next waits for bytes; a busy
    /// connection ignores the request.
    pub fn evict(&self) {
        self.evict.notify_waiters();
    }

    fn set_quiet(&self, quiet: bool) {
        if !quiet {
            self.quiet_since.store(BUSY, Ordering::Release);
        } else if self.quiet_since.load(Ordering::Acquire) == BUSY {
            self.quiet_since.store(now_ms(), Ordering::Release);
        }
    }
}

/// Serves one connection until it ends.
///
/// Frames are answered one at a time, in order ([UH-EXCHANGE-2]); every complete frame
/// already received is answered before the connection closes, also on half-close and
/// shutdown ([UH-EXCHANGE-5]). The idle timeout counts from the opening or the last reply;
/// bytes of an unfinished frame do not restart it, so a trickling client is closed too.
pub async fn serve<S>(stream: S, node: &Node, shutdown: &CancellationToken) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    serve_tracked(stream, None, node, shutdown, &Activity::new()).await
}

/// [`serve`] for a connection from `peer`, publishing its [`Activity`]: it closes with [`End::Evicted`] when
/// asked while quiet.
pub async fn serve_tracked<S>(
    mut stream: S,
    peer: Option<IpAddr>,
    node: &Node,
    shutdown: &CancellationToken,
    activity: &Activity,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = node.config();
    let mut codec = FrameCodec;
    let mut buf = BytesMut::with_capacity(4096);
    let mut deadline = Instant::now() + config.idle_timeout;
    let mut closing = None;
    loop {
        loop {
            let frame = match codec.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return End::Io(e),
            };
            let reply = node.reply_bytes(&frame, peer).await;
            match timeout(config.write_timeout, stream.write_all(&reply)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return End::Io(e),
                Err(_) => return End::WriteTimeout,
            }
            deadline = Instant::now() + config.idle_timeout;
        }
        if let Some(end) = closing {
            let _ = stream.shutdown().await;
            return end;
        }
        let quiet = buf.is_empty();
        activity.set_quiet(quiet);
        tokio::select! {
            read = timeout_at(deadline, stream.read_buf(&mut buf)) => match read {
                Err(_) => closing = Some(End::Idle),
                Ok(Ok(0)) => closing = Some(End::ClientClosed),
                Ok(Ok(_)) => activity.set_quiet(false),
                Ok(Err(e)) => return End::Io(e),
            },
            () = activity.evict.notified(), if quiet => closing = Some(End::Evicted),
            () = shutdown.cancelled() => closing = Some(End::Shutdown),
        }
    }
}
