//! One connection, server side: reassemble frames, answer each in order, close when idle.

use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
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
    /// A reply could not be written in time: the client does not read.
    WriteTimeout,
    /// The connection failed (reset, …).
    Io(io::Error),
}

/// Serves one connection until it ends.
///
/// Frames are answered one at a time, in order ([UH-EXCHANGE-2]); every complete frame
/// already received is answered before the connection closes, also on half-close and
/// shutdown ([UH-EXCHANGE-5]). The idle timeout counts from the opening or the last reply;
/// bytes of an unfinished frame do not restart it, so a trickling client is closed too.
pub async fn serve<S>(mut stream: S, node: &Node, shutdown: &CancellationToken) -> End
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
            let reply = node.reply_bytes(&frame).await;
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
        tokio::select! {
            read = timeout_at(deadline, stream.read_buf(&mut buf)) => match read {
                Err(_) => closing = Some(End::Idle),
                Ok(Ok(0)) => closing = Some(End::ClientClosed),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return End::Io(e),
            },
            () = shutdown.cancelled() => closing = Some(End::Shutdown),
        }
    }
}
