//! The case catalogue.

mod audit;
mod broker;
mod lockout;
mod node;
mod registry;
pub mod service;
mod vectors;

use std::sync::Arc;

use crate::case::{CaseFuture, CaseInfo, Level, Role};
use crate::ctx::Ctx;

pub use vectors::VectorCase;

/// How a case runs.
#[derive(Clone)]
pub enum Run {
    /// A function of the context.
    Fn(fn(&Ctx) -> CaseFuture<'_>),
    /// A vector sent over TCP.
    Vector(Arc<VectorCase>),
    /// An audit of every reply of the run: runs after every other case.
    Audit(fn(&Ctx) -> CaseFuture<'_>),
}

/// A case: what it checks and how it runs.
#[derive(Clone)]
pub struct Case {
    /// Catalogue entry.
    pub info: CaseInfo,
    /// Its code.
    pub run: Run,
}

impl Case {
    /// Runs the case.
    pub fn run<'a>(&'a self, ctx: &'a Ctx) -> CaseFuture<'a> {
        match &self.run {
            Run::Fn(f) => f(ctx),
            Run::Vector(v) => Box::pin(vectors::run(v, ctx)),
            Run::Audit(f) => f(ctx),
        }
    }

    /// Whether it judges the replies of the whole run (and so runs last).
    pub fn is_audit(&self) -> bool {
        matches!(self.run, Run::Audit(_))
    }
}

pub(crate) fn case(
    id: &str,
    requirements: &[&str],
    level: Level,
    role: Role,
    description: &str,
    run: fn(&Ctx) -> CaseFuture<'_>,
) -> Case {
    Case {
        info: CaseInfo {
            id: id.to_string(),
            requirements: requirements.iter().map(|r| r.to_string()).collect(),
            level,
            role,
            description: description.to_string(),
            feature: None,
        },
        run: Run::Fn(run),
    }
}

/// Every case, in the order they run: node cases, vector cases, then the role cases.
pub fn catalogue() -> Vec<Case> {
    let mut all = node::cases();
    all.extend(lockout::cases());
    all.extend(vectors::cases());
    all.extend(registry::cases());
    all.extend(broker::cases());
    all.extend(service::cases());
    all.extend(audit::cases());
    all
}

/// Whether a case starts the service under test itself (the service role's cases), rather
/// than talking to a running node.
pub fn starts_the_service(info: &CaseInfo) -> bool {
    info.role == Role::Service && info.id.starts_with("UH-SERVICE-")
}

/// The cases that apply to a target of `role` (`Any` runs the node cases only).
pub fn for_role(all: &[Case], role: Role) -> Vec<Case> {
    all.iter()
        .filter(|c| c.info.role == Role::Any || (role != Role::Any && c.info.role == role))
        .cloned()
        .collect()
}

/// MUST requirements no case checks over the wire, and why. A test fails when a MUST is
/// neither covered by a case nor listed here.
pub const NOT_ON_THE_WIRE: &[(&str, &str)] = &[
    (
        "UH-FRAME-7",
        "a decoder's count of missing bytes; `vectors --exec` checks it against each vector's needed",
    ),
    (
        "UH-EXCHANGE-11",
        "a rule for clients reading replies; the suite checks nodes",
    ),
    (
        "UH-REGISTRY-10",
        "what a registry pushes after a restart needs the suite to restart it",
    ),
    (
        "UH-REPLY-7",
        "a handler failure depends on the node's own handlers failing on purpose",
    ),
];
