//! Section 2, frame: payload length limits.

use super::common::{health, is_healthy, is_no_handler, UNKNOWN};
use super::{case, Case};
use crate::case::{violation, CaseFuture, Level::*, Problem, Role::Any};
use crate::ctx::Ctx;
use crate::wire::frame;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case("UH-FRAME-6/largest-payload", &["UH-FRAME-6"], Should, Any,
            "a 65535-byte payload is accepted (a node may declare a lower maxPayload, then answers too_large above it)", largest_payload),
        case("UH-FRAME-6/too-large-keeps-connection", &["UH-FRAME-6", "UH-EXCHANGE-7"], Must, Any,
            "a 4096-byte payload is accepted; a payload over the node's limit (the profile's maxPayload, else 65535) is answered too_large, and the same connection still answers", too_large_keeps_connection),
    ]
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

fn too_large_keeps_connection(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let limit = ctx.profile.max_payload();
        if limit < 4096 {
            return Err(violation(
                "a payload limit of at least 4096 bytes",
                format!("{limit} declared"),
            ));
        }
        let mut conn = ctx.conn().await?;
        is_no_handler(&conn.call(&padded(4096)).await?)?;
        let over = if limit < uhome_protocol::MAX_PAYLOAD_LEN {
            let reply = conn.call(&padded(limit + 1)).await?;
            reply.must_be(2, "too_large", None)?;
            format!("a {}-byte payload", limit + 1)
        } else {
            // Nothing is over the limit; a node that limits without saying so answers
            // too_large here, and must keep the connection all the same.
            let reply = conn.call(&padded(uhome_protocol::MAX_PAYLOAD_LEN)).await?;
            if is_no_handler(&reply).is_err() && reply.must_be(2, "too_large", None).is_err() {
                return Err(violation(
                    "a 65535-byte payload accepted (no_handler) or refused too_large",
                    reply.summary(),
                ));
            }
            "a 65535-byte payload".to_string()
        };
        match conn.call(&health()).await {
            Ok(reply) => is_healthy(&reply),
            Err(Problem::Violation { actual, .. }) => Err(violation(
                format!(
                    "the connection still answers after {over} ([UH-FRAME-6]: it stays usable)"
                ),
                actual,
            )),
            Err(other) => Err(other),
        }
    })
}
