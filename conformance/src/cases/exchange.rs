//! Section 7, exchange: reassembly, pipelining, connections kept and closed.

use std::time::Duration;

use tokio::net::TcpStream;

use super::common::{health, is_healthy, is_no_handler, unknown, UNKNOWN};
use super::{case, Case};
use crate::case::{violation, CaseFuture, Level::*, Problem, Role::Any};
use crate::ctx::Ctx;
use crate::wire::{frame, Read, Reply, Request};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case("UH-EXCHANGE-7/errors-keep-the-connection", &["UH-EXCHANGE-7", "UH-STATUS-3"], Must, Any,
            "invalid frames of every kind on one connection are each answered, and the connection still serves", errors_keep_connection),
        case("UH-EXCHANGE-3/split-in-header", &["UH-EXCHANGE-3"], Must, Any,
            "a frame split inside its header, with pauses, is reassembled and answered once", split_in_header),
        case("UH-EXCHANGE-3/split-in-payload", &["UH-EXCHANGE-3", "UH-FRAME-3"], Must, Any,
            "a frame split inside its payload, with a pause, is reassembled and answered once", split_in_payload),
        case("UH-EXCHANGE-3/byte-by-byte", &["UH-EXCHANGE-3"], Must, Any,
            "a frame sent one byte per write is answered once", byte_by_byte),
        case("UH-EXCHANGE-4/pipelined", &["UH-EXCHANGE-4", "UH-EXCHANGE-2"], Must, Any,
            "three frames in one write are answered, in order", pipelined),
        case("UH-EXCHANGE-4/frame-and-part-of-the-next", &["UH-EXCHANGE-4", "UH-EXCHANGE-3"], Must, Any,
            "a frame and the start of the next in one write, the rest later: both answered", frame_and_partial),
        case("UH-EXCHANGE-2/many-requests-one-connection", &["UH-EXCHANGE-2"], Must, Any,
            "twenty requests one after another on one connection each get one reply", many_on_one),
        case("UH-EXCHANGE-5/half-close", &["UH-EXCHANGE-5"], Must, Any,
            "a client that half-closes right after its request still gets the reply", half_close),
        case("UH-EXCHANGE-1/no-unsolicited-frames", &["UH-EXCHANGE-1"], Must, Any,
            "after its reply the node sends nothing more on an open connection", no_unsolicited),
        case("UH-EXCHANGE-8/reset-mid-frame", &["UH-EXCHANGE-8", "UH-SECURITY-3"], Must, Any,
            "clients that reset in the middle of a frame and before their reply do not hurt the node", resets),
        case("UH-EXCHANGE-8/slow-client", &["UH-EXCHANGE-8"], Must, Any,
            "while one client trickles a frame byte by byte, other clients are served", slow_client),
        case("UH-EXCHANGE-8/after-garbage", &["UH-EXCHANGE-8", "UH-SECURITY-3"], Must, Any,
            "after connections of random bytes and oversized claims, other clients are served", after_garbage),
        case("UH-EXCHANGE-6/idle-connection-closed", &["UH-EXCHANGE-6", "UH-EXCHANGE-14", "UH-SECURITY-2"], Must, Any,
            "a connection with no frame is closed within the idle timeout (the profile's idleTimeout, else the 60 s bound)", idle_closed),
        case("UH-EXCHANGE-6/trickling-client-closed", &["UH-EXCHANGE-6", "UH-EXCHANGE-14"], Must, Any,
            "a client trickling bytes of a frame is closed within the idle timeout too", trickle_closed),
        case("UH-EXCHANGE-6/idle-timeout-at-least-5s", &["UH-EXCHANGE-6"], Should, Any,
            "the idle timeout is at least 5 s", idle_at_least_5s),
        case("UH-EXCHANGE-15/busy-connection-kept", &["UH-EXCHANGE-15"], Must, Any,
            "a connection that gets a request more often than the idle timeout stays open past it (the profile's idleTimeout, else the time an idle connection was closed after)", busy_kept),
        case("UH-EXCHANGE-16/unread-replies-kept", &["UH-EXCHANGE-16", "UH-EXCHANGE-5"], Must, Any,
            "replies the client reads only after the idle timeout has passed all arrive, in order", unread_replies),
        case("UH-EXCHANGE-17/quiet-connections-no-lockout", &["UH-EXCHANGE-17", "UH-EXCHANGE-8", "UH-SECURITY-2"], Must, Any,
            "with 64 more quiet connections held open by one client than the node serves (the profile's maxConnections, else 1024), a new client's healthcheck is answered", no_lockout),
    ]
}
async fn send_in_pieces(
    ctx: &Ctx,
    bytes: &[u8],
    cuts: &[usize],
    pause: Duration,
) -> Result<Reply, Problem> {
    let mut conn = ctx.conn().await?;
    let mut start = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        conn.send(bytes.get(start..cut).unwrap_or_default()).await?;
        start = cut;
        if cut < bytes.len() {
            if let Read::Frame(_) = conn.read_within(pause).await {
                return Err(violation(
                    "no reply before the frame is whole",
                    format!("a reply after {cut} bytes"),
                ));
            }
        }
    }
    let reply = conn.reply().await?;
    match conn.read_within(Duration::from_millis(200)).await {
        Read::Frame(_) => Err(violation("one reply", "a second reply to one frame")),
        _ => Ok(reply),
    }
}

fn errors_keep_connection(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        let bad: [(Vec<u8>, &str); 6] = [
            (frame(99, 1, b"{}"), "unsupported_version"),
            (
                Request {
                    status: 0,
                    ..Request::new(UNKNOWN, None)
                }
                .encode(),
                "bad_status",
            ),
            (frame(2, 1, b"not json!!"), "invalid_json"),
            (frame(2, 1, b"\"\xff\""), "invalid_utf8"),
            (frame(2, 1, b"null"), "invalid_event"),
            (
                frame(
                    2,
                    1,
                    br#"{"id":"1","timestamp":"t","source":"s","type":"a","type":"b"}"#,
                ),
                "duplicate_member",
            ),
        ];
        for (bytes, code) in &bad {
            conn.call(bytes).await?.must_be(2, code, None)?;
        }
        is_healthy(&conn.call(&health()).await?)
    })
}

fn split_in_header(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        for cut in 1..5 {
            is_healthy(&send_in_pieces(ctx, &health(), &[cut], Duration::from_millis(150)).await?)?;
        }
        is_healthy(
            &send_in_pieces(ctx, &health(), &[1, 2, 3, 4], Duration::from_millis(100)).await?,
        )
    })
}

fn split_in_payload(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let bytes = unknown(7);
        is_no_handler(&send_in_pieces(ctx, &bytes, &[60], Duration::from_millis(300)).await?)?;
        is_no_handler(
            &send_in_pieces(
                ctx,
                &bytes,
                &[5, bytes.len() - 1],
                Duration::from_millis(150),
            )
            .await?,
        )
    })
}

fn byte_by_byte(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let bytes = health();
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        is_healthy(&send_in_pieces(ctx, &bytes, &cuts, Duration::from_millis(2)).await?)
    })
}

fn pipelined(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        let bad_status = Request {
            status: 0,
            ..Request::new(UNKNOWN, None)
        }
        .encode();
        conn.send(&[health(), unknown(2), bad_status].concat())
            .await?;
        let mut replies = Vec::new();
        while replies.len() < 3 {
            match conn.read_within(ctx.timeout).await {
                Read::Frame(bytes) => replies.push(bytes),
                Read::Closed | Read::TimedOut => break,
            }
        }
        if replies.len() < 3 {
            return Err(violation(
                "a reply to each of the 3 frames of one write",
                format!(
                    "{} of 3 frames answered within {:?}",
                    replies.len(),
                    ctx.timeout
                ),
            ));
        }
        // In order: told apart by status, and by code or message where the reply has them.
        let wanted = [
            (1, "healthy", "Service is healthy"),
            (1, "no_handler", "No Handler for Event registered"),
            (2, "bad_status", "Error in Message"),
        ];
        for (n, (bytes, (status, code, message))) in replies.iter().zip(wanted).enumerate() {
            let reply = crate::wire::Reply::decode_noting(bytes, &ctx.transcript);
            let in_order = reply
                .as_ref()
                .is_ok_and(|r| r.status == status && r.is(code, Some(message)));
            if !in_order {
                return Err(violation(
                    "the replies in the order of the frames: healthy, no_handler, bad_status",
                    format!(
                        "reply {}: {}",
                        n + 1,
                        reply.map_or_else(|e| format!("{e:?}"), |r| r.summary())
                    ),
                ));
            }
        }
        Ok(())
    })
}

fn frame_and_partial(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        let (first, second) = (unknown(3), health());
        let (head, tail) = second.split_at(3.min(second.len()));
        conn.send(&[first.as_slice(), head].concat()).await?;
        is_no_handler(&conn.reply().await?)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.send(tail).await?;
        is_healthy(&conn.reply().await?)
    })
}

fn many_on_one(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        for n in 0..20 {
            is_no_handler(&conn.call(&unknown(n)).await?)?;
        }
        Ok(())
    })
}

fn half_close(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        conn.send(&health()).await?;
        conn.shutdown_write().await;
        is_healthy(&conn.reply().await?)
    })
}

fn no_unsolicited(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        is_healthy(&conn.call(&health()).await?)?;
        match conn.read_within(Duration::from_millis(500)).await {
            Read::Frame(bytes) => Err(violation(
                "nothing but replies",
                format!("an unrequested frame of {} bytes", bytes.len()),
            )),
            _ => Ok(()),
        }
    })
}

fn resets(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let bytes = unknown(9);
        for cut in [2, 5, bytes.len() / 2, bytes.len()] {
            let mut conn = ctx.conn().await?;
            conn.send(bytes.get(..cut).unwrap_or(&bytes)).await?;
            conn.reset();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        ctx.still_serving("clients that reset").await
    })
}

fn slow_client(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let bytes = health();
        let mut slow = ctx.conn().await?;
        for byte in bytes.iter().take(12) {
            slow.send(std::slice::from_ref(byte)).await?;
            ctx.still_serving("a slow client's byte").await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    })
}

fn after_garbage(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut seed: u32 = 0x1234_5678;
        for round in 0..8 {
            let mut bytes = Vec::new();
            for _ in 0..(64 * (round + 1)) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                bytes.push(seed as u8);
            }
            let mut conn = ctx.conn().await?;
            conn.send(&bytes).await?;
            let _ = conn.read_within(Duration::from_millis(50)).await;
            drop(conn);
        }
        // A header that claims 65535 bytes, then silence: the node must not wait on it for others.
        let mut claim = ctx.conn().await?;
        claim.send(&[0xff, 0xff, 0, 2, 1]).await?;
        ctx.still_serving("garbage and an unfinished 65535-byte claim")
            .await
    })
}

fn idle_closed(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let idle = idle_bound(ctx)?;
        match time_to_close(ctx, idle).await? {
            Some(_) => Ok(()),
            None => Err(violation(
                format!("closed within {idle:?} (+{IDLE_SLACK:?})"),
                "still open",
            )),
        }
    })
}

fn trickle_closed(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let idle = idle_bound(ctx)?;
        let bytes = unknown(1);
        let mut conn = ctx.conn().await?;
        let deadline = tokio::time::Instant::now() + idle + IDLE_SLACK;
        let step = (idle / 8).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut sent = 0;
        while tokio::time::Instant::now() <= deadline {
            if sent + 1 < bytes.len() {
                if conn
                    .send(bytes.get(sent..=sent).unwrap_or_default())
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                sent += 1;
            }
            let next = tokio::time::Instant::now() + step;
            loop {
                let left = next.saturating_duration_since(tokio::time::Instant::now());
                match conn.read_within(left).await {
                    Read::Closed => return Ok(()),
                    // Judged by the split cases ([UH-FRAME-3]); this case is about the close.
                    Read::Frame(_) => ctx.transcript.note(&format!(
                        "a reply after {sent} bytes of an unfinished frame"
                    )),
                    Read::TimedOut => break,
                }
            }
        }
        Err(violation(
            format!("closed within {idle:?} (+{IDLE_SLACK:?}) although bytes keep coming"),
            format!("still open after {sent} bytes trickled"),
        ))
    })
}

fn idle_at_least_5s(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        if let Some(idle) = ctx.profile.idle_timeout {
            if idle < Duration::from_secs(5) {
                return Err(violation(
                    "an idle timeout of at least 5 s",
                    format!("{idle:?} declared"),
                ));
            }
        }
        let mut conn = ctx.conn().await?;
        if conn
            .closed_within(Duration::from_secs(5) - Duration::from_millis(200))
            .await
        {
            return Err(violation("open for at least 5 s", "closed earlier"));
        }
        Ok(())
    })
}

fn busy_kept(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let idle = match ctx.profile.idle_timeout {
            Some(_) => idle_bound(ctx)?,
            // Without a declared timeout: how long the node keeps an idle connection.
            None => time_to_close(ctx, MAX_IDLE).await?.unwrap_or(MAX_IDLE),
        };
        let hold = idle + idle / 2 + IDLE_SLACK;
        let step = (idle / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let mut conn = ctx.conn().await?;
        let started = tokio::time::Instant::now();
        let mut answered = 0;
        while started.elapsed() < hold {
            conn.send(&health()).await.map_err(|_| {
                violation(
                    format!("open for {hold:?} while requests arrive every {step:?}"),
                    format!(
                        "closed after {:?} and {answered} replies",
                        started.elapsed()
                    ),
                )
            })?;
            match conn.read_within(ctx.timeout).await {
                Read::Frame(_) => answered += 1,
                _ => {
                    return Err(violation(
                        format!("open for {hold:?} while requests arrive every {step:?}"),
                        format!(
                            "closed or silent after {:?} and {answered} replies",
                            started.elapsed()
                        ),
                    ))
                }
            }
            tokio::time::sleep(step).await;
        }
        ctx.transcript.note(&format!(
            "{answered} requests over {hold:?}, every one answered"
        ));
        Ok(())
    })
}

fn unread_replies(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        const REQUESTS: usize = 50;
        let wait = ctx
            .profile
            .idle_timeout
            .map_or(Duration::from_secs(5), |idle| idle.min(MAX_IDLE))
            + Duration::from_secs(1);
        let mut conn = ctx.conn().await?;
        let burst: Vec<u8> = (0..REQUESTS as u64).flat_map(unknown).collect();
        conn.send(&burst).await?;
        ctx.transcript.note(&format!(
            "{REQUESTS} requests sent; not reading for {wait:?}"
        ));
        tokio::time::sleep(wait).await;
        for n in 0..REQUESTS {
            match conn.read_within(ctx.timeout).await {
                Read::Frame(_) => {}
                Read::Closed | Read::TimedOut => {
                    return Err(violation(
                        format!("all {REQUESTS} replies, read after {wait:?}"),
                        format!("{n} replies, then the connection closed or went silent"),
                    ))
                }
            }
        }
        Ok(())
    })
}

/// The idle timeout bound of [UH-EXCHANGE-14].
pub const MAX_IDLE: Duration = Duration::from_secs(60);

/// How late after its idle timeout a node may close and still pass.
const IDLE_SLACK: Duration = Duration::from_secs(2);

/// The idle timeout to hold the node to: the profile's, else the specification's bound.
fn idle_bound(ctx: &Ctx) -> Result<Duration, Problem> {
    match ctx.profile.idle_timeout {
        Some(idle) if idle > MAX_IDLE => Err(violation(
            format!("an idle timeout of at most {MAX_IDLE:?} ([UH-EXCHANGE-14])"),
            format!("the profile declares {idle:?}"),
        )),
        Some(idle) => Ok(idle),
        None => Ok(MAX_IDLE),
    }
}

/// When an idle connection is closed: `None` when it is not within `idle` + slack.
async fn time_to_close(ctx: &Ctx, idle: Duration) -> Result<Option<Duration>, Problem> {
    let mut conn = ctx.conn().await?;
    let started = tokio::time::Instant::now();
    if conn.closed_within(idle + IDLE_SLACK).await {
        let after = started.elapsed();
        ctx.transcript.note(&format!("closed after {after:?}"));
        Ok(Some(after))
    } else {
        Ok(None)
    }
}

/// The reference's bound ([UH-EXCHANGE-13]), assumed when the profile declares none.
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Quiet connections held beyond the node's bound.
const BEYOND: usize = 64;

/// Lets this process hold `connections` sockets (and, for the in-process reference, the
/// node's side of them). The soft limit is raised to the hard one: other cases may be
/// running in the same process.
fn allow_descriptors(connections: usize) -> Result<(), String> {
    let want = u64::try_from(2 * connections + 256).unwrap_or(u64::MAX);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) if soft >= want => Ok(()),
        Ok(soft) => Err(format!(
            "{want} file descriptors are needed and the limit is {soft} (raise the hard limit: ulimit -Hn)"
        )),
        Err(e) => Err(format!("cannot raise the descriptor limit: {e}")),
    }
}

fn no_lockout(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let bound = ctx
            .profile
            .max_connections
            .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        let count = bound + BEYOND;
        allow_descriptors(count).map_err(Problem::Harness)?;
        let connect = || async {
            match tokio::time::timeout(ctx.timeout, TcpStream::connect(&ctx.target)).await {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(e)) => Err(Problem::Harness(format!(
                    "cannot connect to {}: {e}",
                    ctx.target
                ))),
                Err(_) => Err(Problem::Harness(format!(
                    "connecting to {} timed out",
                    ctx.target
                ))),
            }
        };
        let mut quiet = Vec::with_capacity(count);
        for _ in 0..count {
            quiet.push(connect().await?);
        }
        ctx.still_serving(&format!(
            "{count} quiet connections held open by one client"
        ))
        .await?;
        drop(quiet);
        // Give the node a moment to see the closes before the next case.
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(())
    })
}
