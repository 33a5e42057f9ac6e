//! Section 3, versions: version 1 requests, and unsupported versions.

use uhome_protocol::core_events::HEALTHCHECK;

use super::common::{health, is_healthy, is_no_handler};
use super::{case, Case};
use crate::case::{violation, CaseFuture, Level::*, Role::Any};
use crate::ctx::Ctx;
use crate::wire::{frame, Request};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(
            "UH-VERSION-5/reply-to-version-1",
            &["UH-VERSION-5", "UH-VERSION-2"],
            Must,
            Any,
            "a version 1 request is answered with a version 2 reply",
            reply_to_v1,
        ),
        case(
            "UH-VERSION-4/connection-kept",
            &["UH-VERSION-4", "UH-EXCHANGE-7"],
            Must,
            Any,
            "after a frame of version 3 is refused, the same connection still answers",
            version_keeps_connection,
        ),
    ]
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
