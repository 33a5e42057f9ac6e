//! Section 5, JSON: nesting depth.

use super::common::{is_no_handler, UNKNOWN};
use super::{case, Case};
use crate::case::{violation, CaseFuture, Level::*, Role::Any};
use crate::ctx::Ctx;
use crate::wire::frame;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case("UH-JSON-8/depth-64-accepted", &["UH-JSON-8"], Must, Any,
            "a payload nested 64 deep is accepted", depth_64),
        case("UH-JSON-8/deep-payloads-handled", &["UH-JSON-8", "UH-SECURITY-2"], Must, Any,
            "payloads nested 65, 129 and 10000 deep are accepted or refused too_deep, and the node stays healthy", deep_payloads),
    ]
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
        let limit = ctx.profile.max_payload();
        for depth in [65, 129, 10_000] {
            let bytes = nested(depth);
            let reply = ctx.call_raw(&bytes).await?;
            if bytes.len() - 5 > limit {
                // [UH-FRAME-6]: over the node's limit the length decides, before any parsing.
                reply.must_be(2, "too_large", None).map_err(|_| {
                    violation(
                        format!("depth {depth}, {} bytes over the declared maxPayload {limit}: too_large", bytes.len() - 5),
                        reply.summary(),
                    )
                })?;
            } else if is_no_handler(&reply).is_err() && reply.must_be(2, "too_deep", None).is_err()
            {
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
