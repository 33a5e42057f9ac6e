//! Cases every node must pass.

use std::time::Duration;

use serde_json::json;
use uhome_protocol::core::HEALTHCHECK;

use super::{case, Case};
use crate::case::{violation, CaseFuture, CaseResult, Level::*, Problem, Role::Any};
use crate::ctx::Ctx;
use crate::wire::{frame, Read, Reply, Request};

const UNKNOWN: &str = "conformance.unknown.type";

fn health() -> Vec<u8> {
    Request::new(HEALTHCHECK, None).encode()
}

fn unknown(n: u64) -> Vec<u8> {
    Request::new(UNKNOWN, Some(json!({ "n": n }))).encode()
}

fn is_no_handler(reply: &Reply) -> CaseResult {
    reply.must_be(1, "no_handler", Some("No Handler for Event registered"))
}

fn is_healthy(reply: &Reply) -> CaseResult {
    reply.must_be(1, "healthy", Some("Service is healthy"))
}

pub(super) fn cases() -> Vec<Case> {
    vec![
        case("UH-CORE-2/healthcheck", &["UH-CORE-2"], Must, Any,
            "µHome.core.healthcheck is answered status 1, code healthy, message \"Service is healthy\"", healthcheck),
        case("UH-REPLY-5/unknown-type", &["UH-REPLY-5"], Must, Any,
            "an unknown type is answered status 1, code no_handler, message \"No Handler for Event registered\"", unknown_type),
        case("UH-VERSION-5/reply-to-version-1", &["UH-VERSION-5", "UH-VERSION-2"], Must, Any,
            "a version 1 request is answered with a version 2 reply", reply_to_v1),
        case("UH-VERSION-4/connection-kept", &["UH-VERSION-4", "UH-EXCHANGE-7"], Must, Any,
            "after a frame of version 3 is refused, the same connection still answers", version_keeps_connection),
        case("UH-EXCHANGE-7/errors-keep-the-connection", &["UH-EXCHANGE-7", "UH-STATUS-3"], Must, Any,
            "invalid frames of every kind on one connection are each answered, and the connection still serves", errors_keep_connection),
        case("UH-EXCHANGE-3/split-in-header", &["UH-EXCHANGE-3"], Must, Any,
            "a frame split inside its header, with pauses, is reassembled and answered once", split_in_header),
        case("UH-EXCHANGE-3/split-in-payload", &["UH-EXCHANGE-3"], Must, Any,
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
        case("UH-JSON-8/depth-64-accepted", &["UH-JSON-8"], Must, Any,
            "a payload nested 64 deep is accepted", depth_64),
        case("UH-JSON-8/deep-payloads-handled", &["UH-JSON-8", "UH-SECURITY-2"], Must, Any,
            "payloads nested 65, 129 and 10000 deep are accepted or refused too_deep, and the node stays healthy", deep_payloads),
        case("UH-FRAME-6/largest-payload", &["UH-FRAME-6"], Should, Any,
            "a 65535-byte payload is accepted (a node may declare a lower maxPayload, then answers too_large above it)", largest_payload),
        case("UH-EXCHANGE-8/reset-mid-frame", &["UH-EXCHANGE-8", "UH-SECURITY-3"], Must, Any,
            "clients that reset in the middle of a frame and before their reply do not hurt the node", resets),
        case("UH-EXCHANGE-8/slow-client", &["UH-EXCHANGE-8"], Must, Any,
            "while one client trickles a frame byte by byte, other clients are served", slow_client),
        case("UH-EXCHANGE-8/after-garbage", &["UH-EXCHANGE-8", "UH-SECURITY-3"], Must, Any,
            "after connections of random bytes and oversized claims, other clients are served", after_garbage),
        idle("UH-EXCHANGE-6/idle-connection-closed", &["UH-EXCHANGE-6", "UH-SECURITY-2"], Must,
            "a connection with no frame is closed within the declared idle timeout", idle_closed),
        idle("UH-EXCHANGE-6/trickling-client-closed", &["UH-EXCHANGE-6"], Must,
            "a client trickling bytes of a frame is closed at the idle timeout too", trickle_closed),
        idle("UH-EXCHANGE-6/idle-timeout-at-least-5s", &["UH-EXCHANGE-6"], Should,
            "the idle timeout is at least 5 s", idle_at_least_5s),
    ]
}

fn idle(
    id: &str,
    reqs: &[&str],
    level: crate::case::Level,
    description: &str,
    run: fn(&Ctx) -> CaseFuture<'_>,
) -> Case {
    let mut c = case(id, reqs, level, Any, description, run);
    c.info.feature = Some("idleTimeout".into());
    c
}

fn healthcheck(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move { is_healthy(&ctx.call_raw(&health()).await?) })
}

fn unknown_type(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move { is_no_handler(&ctx.call_raw(&unknown(1)).await?) })
}

fn reply_to_v1(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let reply = ctx
            .call(&Request {
                version: 1,
                ..Request::new(HEALTHCHECK, None)
            })
            .await?;
        if reply.version != 2 {
            return Err(violation(
                "a version 2 reply",
                format!("version {}", reply.version),
            ));
        }
        is_healthy(&reply)?;
        let reply = ctx.call_raw(&frame(1, 1, b"[1,2,3]")).await?;
        is_no_handler(&reply)
    })
}

fn version_keeps_connection(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        let bad = Request {
            version: 3,
            ..Request::new(HEALTHCHECK, None)
        };
        conn.call(&bad.encode())
            .await?
            .must_be(2, "unsupported_version", None)?;
        is_healthy(&conn.call(&health()).await?)
    })
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

async fn send_in_pieces(
    ctx: &Ctx,
    bytes: &[u8],
    cuts: &[usize],
    pause: Duration,
) -> Result<Reply, Problem> {
    let mut conn = ctx.conn().await?;
    let mut start = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        conn.send(&bytes[start..cut]).await?;
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
        is_healthy(&conn.reply().await?)?;
        is_no_handler(&conn.reply().await?)?;
        conn.reply().await?.must_be(2, "bad_status", None)
    })
}

fn frame_and_partial(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let mut conn = ctx.conn().await?;
        let (first, second) = (unknown(3), health());
        conn.send(&[first.as_slice(), &second[..3]].concat())
            .await?;
        is_no_handler(&conn.reply().await?)?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        conn.send(&second[3..]).await?;
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

/// An unknown-type event whose `data` nests so that the payload has `depth` levels.
fn nested(depth: usize) -> Vec<u8> {
    let inner = depth.saturating_sub(1);
    let payload = format!(
        r#"{{"id":"deep","timestamp":"t","source":"{}","type":"{UNKNOWN}","data":{}{}}}"#,
        crate::wire::SUITE_SOURCE,
        "[".repeat(inner),
        "]".repeat(inner)
    );
    frame(2, 1, payload.as_bytes())
}

fn depth_64(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move { is_no_handler(&ctx.call_raw(&nested(64)).await?) })
}

fn deep_payloads(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        for depth in [65, 129, 10_000] {
            let reply = ctx.call_raw(&nested(depth)).await?;
            let accepted = is_no_handler(&reply).is_ok();
            if !accepted && reply.must_be(2, "too_deep", None).is_err() {
                return Err(violation(
                    format!("depth {depth}: accepted (status 1, no_handler) or refused (status 2, too_deep)"),
                    reply.summary(),
                ));
            }
            ctx.still_serving(&format!("a payload {depth} deep"))
                .await?;
        }
        Ok(())
    })
}

fn padded(len: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"id":"big","timestamp":"t","source":"{}","type":"{UNKNOWN}","data":""#,
        crate::wire::SUITE_SOURCE
    );
    let pad = len.saturating_sub(head.len() + 2);
    let payload = format!("{head}{}\"}}", "x".repeat(pad));
    frame(2, 1, payload.as_bytes())
}

fn largest_payload(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let limit = ctx.profile.max_payload();
        if limit < 4096 {
            return Err(violation(
                "a payload limit of at least 4096 bytes",
                format!("{limit} declared"),
            ));
        }
        if limit < uhome_protocol::MAX_PAYLOAD_LEN {
            is_no_handler(&ctx.call_raw(&padded(limit)).await?)?;
            let mut conn = ctx.conn().await?;
            conn.call(&padded(limit + 1))
                .await?
                .must_be(2, "too_large", None)?;
            is_healthy(&conn.call(&health()).await?)?;
            return Err(violation(
                "every payload up to 65535 bytes accepted",
                format!("the node declares maxPayload {limit}"),
            ));
        }
        is_no_handler(
            &ctx.call_raw(&padded(uhome_protocol::MAX_PAYLOAD_LEN))
                .await?,
        )
    })
}

fn resets(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let bytes = unknown(9);
        for cut in [2, 5, bytes.len() / 2, bytes.len()] {
            let mut conn = ctx.conn().await?;
            conn.send(&bytes[..cut]).await?;
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

fn declared_idle(ctx: &Ctx) -> Result<Duration, Problem> {
    ctx.profile
        .idle_timeout
        .ok_or_else(|| Problem::Skip("the profile declares no idleTimeout".into()))
}

fn idle_closed(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let idle = declared_idle(ctx)?;
        let mut conn = ctx.conn().await?;
        let started = tokio::time::Instant::now();
        if !conn.closed_within(idle + Duration::from_secs(2)).await {
            return Err(violation(
                format!("closed within {idle:?} (+2 s)"),
                "still open",
            ));
        }
        ctx.transcript
            .note(&format!("closed after {:?}", started.elapsed()));
        Ok(())
    })
}

fn trickle_closed(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let idle = declared_idle(ctx)?;
        let bytes = unknown(1);
        let mut conn = ctx.conn().await?;
        let deadline = tokio::time::Instant::now() + idle + Duration::from_secs(2);
        let step = (idle / 8).max(Duration::from_millis(50));
        for byte in &bytes[..bytes.len() - 1] {
            if conn.send(std::slice::from_ref(byte)).await.is_err() {
                return Ok(());
            }
            match conn.read_within(step).await {
                Read::Closed => return Ok(()),
                Read::Frame(_) => {
                    return Err(violation("no reply to an unfinished frame", "a reply"))
                }
                Read::TimedOut => {}
            }
            if tokio::time::Instant::now() > deadline {
                return Err(violation(
                    format!("closed within {idle:?} (+2 s) although bytes keep coming"),
                    "still open",
                ));
            }
        }
        Err(violation(
            "closed before the frame could finish",
            "still open after every byte but one",
        ))
    })
}

fn idle_at_least_5s(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let idle = declared_idle(ctx)?;
        if idle < Duration::from_secs(5) {
            return Err(violation(
                "an idle timeout of at least 5 s",
                format!("{idle:?} declared"),
            ));
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
