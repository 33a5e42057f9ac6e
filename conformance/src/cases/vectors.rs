//! One case per vector that fixes a node's reply: the vector's bytes sent as a request on a
//! fresh connection, the reply compared, and the node checked for health after an error.

use crate::case::{violation, CaseResult, Level, Role};
use crate::ctx::Ctx;
use crate::spec::requirements;
use crate::vectors::{embedded, ExpectedReply};

use super::{Case, CaseInfo, Run};

/// A vector as a wire case.
#[derive(Debug, Clone)]
pub struct VectorCase {
    /// Input bytes.
    pub bytes: Vec<u8>,
    /// The reply.
    pub reply: ExpectedReply,
}

pub(super) fn cases() -> Vec<Case> {
    let reqs = requirements();
    let Ok(files) = embedded() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for file in files {
        for v in file.vectors {
            let (Some(reply), Ok(bytes)) = (v.reply.clone(), v.bytes()) else {
                continue;
            };
            let role = match reply.role.as_str() {
                "service" => Role::Service,
                "registry" => Role::Registry,
                "broker" => Role::Broker,
                _ => Role::Any,
            };
            let level = v
                .requirements
                .iter()
                .filter_map(|r| reqs.get(r).map(|r| r.level))
                .min()
                .unwrap_or(Level::Must);
            out.push(Case {
                info: CaseInfo {
                    id: format!("vector/{}", v.id),
                    requirements: v.requirements.clone(),
                    level,
                    role,
                    description: v.description.clone(),
                    feature: None,
                },
                run: Run::Vector(std::sync::Arc::new(VectorCase { bytes, reply })),
            });
        }
    }
    out
}

pub(super) async fn run(v: &VectorCase, ctx: &Ctx) -> CaseResult {
    let payload = v
        .bytes
        .get(..2)
        .map_or(0, |h| usize::from(u16::from_be_bytes([h[0], h[1]])));
    let reply = ctx.call_raw(&v.bytes).await?;
    if payload > ctx.profile.max_payload() {
        // [UH-FRAME-6]: a constrained node answers too_large instead.
        return reply.must_be(2, "too_large", None);
    }
    let expected = &v.reply;
    reply.must_be(expected.status, &expected.code, expected.message.as_deref())?;
    if let Some(reason) = &expected.reason {
        reply.must_give_reason(reason)?;
    }
    if let Some(member) = &expected.member {
        let quoted = format!("\"{member}\"");
        if !reply.reason().is_some_and(|r| r.contains(&quoted)) {
            return Err(violation(
                format!("a reason naming the member {quoted} ([UH-REPLY-11])"),
                reply.summary(),
            ));
        }
    }
    if expected.status != 1 {
        ctx.still_serving("an invalid request").await?;
    }
    Ok(())
}
