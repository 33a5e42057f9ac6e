//! Section 8, replies: the reply to an unknown type, and the audit cases, each of which
//! judges one rule over every reply the run received ([`crate::audit`]). The audit cases run
//! after every other case, and each first sends a few requests of its own so that it has
//! replies to judge when run alone.

use serde_json::json;
use uhome_protocol::core_events::HEALTHCHECK;

use super::common::{is_no_handler, unknown};
use super::{case, Case, Run};
use crate::audit::{Defect, Rule};
use crate::case::{violation, CaseFuture, CaseInfo, CaseResult, Level, Role};
use crate::ctx::Ctx;
use crate::wire::{frame, Request};

/// At most this many defects are listed in Actual.
const LISTED: usize = 8;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case("UH-REPLY-5/unknown-type", &["UH-REPLY-5"], Level::Must, Role::Any,
            "an unknown type is answered status 1, code no_handler, message \"No Handler for Event registered\"", unknown_type),
    ]
}

fn unknown_type(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move { is_no_handler(&ctx.call_raw(&unknown(1)).await?) })
}

/// The audit cases.
pub(super) fn audits() -> Vec<Case> {
    let audit = |rule: Rule, requirements: &[&str], description: &str, run| Case {
        info: CaseInfo {
            id: rule.case_id().to_string(),
            requirements: requirements.iter().map(|r| r.to_string()).collect(),
            level: Level::Must,
            role: Role::Any,
            description: description.to_string(),
            feature: None,
        },
        run: Run::Audit(run),
    };
    vec![
        audit(Rule::Envelope, &["UH-REPLY-1", "UH-VERSION-5", "UH-STATUS-4", "UH-REPLY-3"],
            "every reply of the run is a strict version 2 event of type µHome.response (status 1, data) or µHome.error (status 0 or 2, error, no data)", envelope),
        audit(Rule::FreshId, &["UH-REPLY-9", "UH-REPLY-1"],
            "every reply of the run has a non-empty id no other reply had", fresh_id),
        audit(Rule::Timestamp, &["UH-REPLY-10", "UH-REPLY-1"],
            "every reply's timestamp is an RFC 3339 date-time within the contract's tolerance of the suite's clock", timestamp),
        audit(Rule::Source, &["UH-REPLY-1"],
            "every reply's source is the node's id (the profile's nodeId, else the first reply's source)", source),
        audit(Rule::CodeAndMessage, &["UH-REPLY-2", "UH-REPLY-3", "UH-REPLY-8"],
            "every reply's data or error object has a string message and a code matching [a-z][a-z0-9_]*", code_and_message),
        audit(Rule::VerbatimMessage, &["UH-REPLY-6"],
            "every reply with a code of Appendix B carries that code's message verbatim", verbatim),
        audit(Rule::Reason, &["UH-REPLY-11", "UH-EVENT-2", "UH-EVENT-5", "UH-CORE-3"],
            "every invalid_event, duplicate_member and invalid_data reply has a string reason; every reason is a string", reason),
    ]
}

/// A few replies of every kind the rules look at.
async fn traffic(ctx: &Ctx) -> CaseResult {
    let requests = [
        Request::new(HEALTHCHECK, None).encode(),
        Request::new(HEALTHCHECK, None).encode(),
        Request::new("conformance.audit", Some(json!({"n": 1}))).encode(),
        frame(2, 1, b"{oops"),
        frame(2, 1, br#"{"timestamp":"t","source":"s","type":"a"}"#),
        frame(
            2,
            1,
            br#"{"id":"1","timestamp":"t","source":"s","type":"a","type":"b"}"#,
        ),
        frame(7, 1, b"{}"),
    ];
    let mut conn = ctx.conn().await?;
    for request in &requests {
        conn.send(request).await?;
        let _ = conn.reply().await?;
    }
    Ok(())
}

async fn judge(ctx: &Ctx, rule: Rule, expected: &str) -> CaseResult {
    traffic(ctx).await?;
    let defects: Vec<Defect> = ctx.audit.defects(rule);
    if defects.is_empty() {
        ctx.transcript.note(&format!(
            "{} replies of the run checked",
            ctx.audit.replies()
        ));
        return Ok(());
    }
    let mut actual: Vec<String> = defects
        .iter()
        .take(LISTED)
        .map(|d| format!("{} (in {})", d.text, d.case))
        .collect();
    if defects.len() > LISTED {
        actual.push(format!("… {} in all", defects.len()));
    }
    Err(violation(
        format!(
            "{expected}, in all {} replies of the run",
            ctx.audit.replies()
        ),
        actual.join("; "),
    ))
}

fn envelope(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(judge(
        ctx,
        Rule::Envelope,
        "strict version 2 reply events with a consistent type, status and body",
    ))
}

fn fresh_id(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(judge(
        ctx,
        Rule::FreshId,
        "a distinct non-empty id in every reply",
    ))
}

fn timestamp(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(judge(
        ctx,
        Rule::Timestamp,
        "RFC 3339 timestamps close to the suite's clock",
    ))
}

fn source(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(judge(
        ctx,
        Rule::Source,
        "the node's id as source in every reply",
    ))
}

fn code_and_message(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(judge(
        ctx,
        Rule::CodeAndMessage,
        "a string message and a well-formed code in every reply",
    ))
}

fn verbatim(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(judge(
        ctx,
        Rule::VerbatimMessage,
        "the message of Appendix B for every code that has one",
    ))
}

fn reason(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(judge(
        ctx,
        Rule::Reason,
        "a string reason in every invalid_event, duplicate_member and invalid_data reply",
    ))
}
