//! The case catalogue, one module per section of spec/protocol.md: a case lives in the
//! module of the section of the requirement it is named after (its first). The vector cases,
//! one per vector of spec/vectors, are in `vectors`.

mod auth;
mod broker;
mod common;
mod core_events;
mod exchange;
mod frame;
mod json;
mod registry;
mod reply;
pub mod service;
mod vectors;
mod version;

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

/// Every case, in the order they run: the node cases, the vector cases, the role cases,
/// then the audit cases.
pub fn catalogue() -> Vec<Case> {
    let mut all = node_cases();
    all.extend(vectors::cases());
    all.extend(registry::cases());
    all.extend(broker::cases());
    all.extend(service::cases());
    all.extend(auth::cases());
    all.extend(reply::audits());
    all
}

/// The order the node cases run in: quick checks first, then the robustness cases, and last
/// those that wait out the idle timeout.
const NODE_ORDER: &[&str] = &[
    "UH-CORE-2/healthcheck",
    "UH-REPLY-5/unknown-type",
    "UH-VERSION-5/reply-to-version-1",
    "UH-VERSION-4/connection-kept",
    "UH-EXCHANGE-7/errors-keep-the-connection",
    "UH-EXCHANGE-3/split-in-header",
    "UH-EXCHANGE-3/split-in-payload",
    "UH-EXCHANGE-3/byte-by-byte",
    "UH-EXCHANGE-4/pipelined",
    "UH-EXCHANGE-4/frame-and-part-of-the-next",
    "UH-EXCHANGE-2/many-requests-one-connection",
    "UH-EXCHANGE-5/half-close",
    "UH-EXCHANGE-1/no-unsolicited-frames",
    "UH-JSON-8/depth-64-accepted",
    "UH-JSON-8/deep-payloads-handled",
    "UH-FRAME-6/largest-payload",
    "UH-EXCHANGE-8/reset-mid-frame",
    "UH-EXCHANGE-8/slow-client",
    "UH-EXCHANGE-8/after-garbage",
    "UH-EXCHANGE-17/quiet-connections-no-lockout",
    "UH-FRAME-6/too-large-keeps-connection",
    "UH-EXCHANGE-6/idle-connection-closed",
    "UH-EXCHANGE-6/trickling-client-closed",
    "UH-EXCHANGE-6/idle-timeout-at-least-5s",
    "UH-EXCHANGE-15/busy-connection-kept",
    "UH-EXCHANGE-16/unread-replies-kept",
];

/// The node cases of every section, in [`NODE_ORDER`] (a case missing from it runs after the
/// listed ones).
fn node_cases() -> Vec<Case> {
    let mut cases: Vec<Case> = node_sections()
        .into_iter()
        .flat_map(|(_, cases)| cases)
        .collect();
    cases.sort_by_key(|c| {
        NODE_ORDER
            .iter()
            .position(|id| *id == c.info.id)
            .unwrap_or(NODE_ORDER.len())
    });
    cases
}

/// The node cases of each section (but the audit cases), with the prefix of its requirements.
fn node_sections() -> [(&'static str, Vec<Case>); 6] {
    [
        ("UH-FRAME-", frame::cases()),
        ("UH-VERSION-", version::cases()),
        ("UH-JSON-", json::cases()),
        ("UH-EXCHANGE-", exchange::cases()),
        ("UH-REPLY-", reply::cases()),
        ("UH-CORE-", core_events::cases()),
    ]
}

/// Whether a case starts the service under test itself (the service role's cases), rather
/// than talking to a running node.
pub fn starts_the_service(info: &CaseInfo) -> bool {
    info.role == Role::Service && info.id.starts_with("UH-SERVICE-")
}

/// The cases that apply to a target of `role` (`Any` runs the node cases only; a secure
/// role, the secure cases only — a node in `secure` mode refuses the 1.2 cases' unsigned
/// requests — and the audits of every reply of the run).
pub fn for_role(all: &[Case], role: Role) -> Vec<Case> {
    all.iter()
        .filter(|c| c.info.role.applies_to(role) || (role.is_secure() && c.is_audit()))
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
    (
        "UH-AUTH-10",
        "what a publisher adds to its publish happens when its application publishes, which the suite cannot prompt",
    ),
    (
        "UH-AUTH-19",
        "a node MAY learn keys from lists, and one that does not is right to accept a list whatever its keys; a key id collision needs two keys with one id besides",
    ),
    (
        "UH-AUTH-21",
        "the policy file is read at the node's start, not over the wire",
    ),
    (
        "UH-AUTH-23",
        "the secure roles check nodes in secure mode; compat's allow-list is of peer addresses the suite cannot choose on loopback",
    ),
    (
        "UH-AUTH-24",
        "the mode is the node's configuration and what it logs at start, not on the wire",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_case_is_in_the_module_of_its_section() {
        let roles = [
            ("UH-REGISTRY-", registry::cases()),
            ("UH-BROKER-", broker::cases()),
            ("UH-SERVICE-", service::cases()),
            ("UH-AUTH-", auth::cases()),
            ("UH-REPLY-", reply::audits()),
        ];
        for (prefix, cases) in node_sections().into_iter().chain(roles) {
            for c in cases {
                assert!(
                    c.info.id.starts_with(prefix),
                    "{} is not in {prefix}*",
                    c.info.id
                );
            }
        }
    }

    #[test]
    fn node_order_lists_every_node_case_once() {
        let ids: Vec<String> = node_cases().into_iter().map(|c| c.info.id).collect();
        assert_eq!(ids, NODE_ORDER);
    }
}
