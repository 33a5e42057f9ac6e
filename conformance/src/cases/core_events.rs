//! Section 9, core events: the healthcheck every node answers.

use super::common::{health, is_healthy};
use super::{case, Case};
use crate::case::{CaseFuture, Level::*, Role::Any};
use crate::ctx::Ctx;

pub(super) fn cases() -> Vec<Case> {
    vec![case(
        "UH-CORE-2/healthcheck",
        &["UH-CORE-2"],
        Must,
        Any,
        "µHome.core.healthcheck is answered status 1, code healthy, message \"Service is healthy\"",
        healthcheck,
    )]
}
fn healthcheck(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move { is_healthy(&ctx.call_raw(&health()).await?) })
}
