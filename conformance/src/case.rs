//! Cases, verdicts and what a case records.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde::Serialize;

pub use crate::spec::Level;

/// Which nodes a case applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every node.
    Any,
    /// Services.
    Service,
    /// Registries.
    Registry,
    /// Brokers.
    Broker,
    /// Every node in `secure` mode (section 14).
    Secure,
    /// Registries in `secure` mode.
    #[serde(rename = "secure-registry")]
    SecureRegistry,
    /// Brokers in `secure` mode.
    #[serde(rename = "secure-broker")]
    SecureBroker,
    /// Services (subscribers) in `secure` mode.
    #[serde(rename = "secure-service")]
    SecureService,
}

impl Role {
    /// `any`, `service`, `registry`, `broker`, `secure`, `secure-registry`, `secure-broker`,
    /// `secure-service`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Any => "any",
            Role::Service => "service",
            Role::Registry => "registry",
            Role::Broker => "broker",
            Role::Secure => "secure",
            Role::SecureRegistry => "secure-registry",
            Role::SecureBroker => "secure-broker",
            Role::SecureService => "secure-service",
        }
    }

    /// Whether this is a role of section 14's secure nodes.
    pub fn is_secure(self) -> bool {
        matches!(
            self,
            Role::Secure | Role::SecureRegistry | Role::SecureBroker | Role::SecureService
        )
    }

    /// Whether a case of this role runs against a target run as `target`: the node cases
    /// (`any`) with every 1.2 role, the `secure` cases with every secure role.
    pub fn applies_to(self, target: Role) -> bool {
        match target {
            Role::Secure | Role::SecureRegistry | Role::SecureBroker | Role::SecureService => {
                self == Role::Secure || self == target
            }
            Role::Any => self == Role::Any,
            _ => self == Role::Any || self == target,
        }
    }
}

/// The outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Verdict {
    /// Conforms.
    #[serde(rename = "PASS")]
    Pass,
    /// A MUST is broken.
    #[serde(rename = "FAIL")]
    Fail,
    /// A SHOULD is broken.
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    /// An optional feature the profile does not claim.
    #[serde(rename = "SKIPPED")]
    Skipped,
    /// The harness could not run the case.
    #[serde(rename = "ERROR")]
    Error,
}

impl Verdict {
    /// As printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NonStrict => "NON-STRICT",
            Verdict::Skipped => "SKIPPED",
            Verdict::Error => "ERROR",
        }
    }
}

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The node did not do what the requirement says.
    Violation {
        /// What the requirement expects.
        expected: String,
        /// What happened.
        actual: String,
    },
    /// The profile does not claim what the case needs.
    Skip(String),
    /// The harness could not run the case.
    Harness(String),
}

/// A failed check.
pub fn violation(expected: impl Into<String>, actual: impl Into<String>) -> Problem {
    Problem::Violation {
        expected: expected.into(),
        actual: actual.into(),
    }
}

/// The result of running a case.
pub type CaseResult = Result<(), Problem>;

/// A case's future.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = CaseResult> + Send + 'a>>;

/// Bytes seen on the wire during a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// `sent`, `received` or `note`.
    pub direction: &'static str,
    /// Where (`target`, or a harness peer).
    pub peer: String,
    /// The bytes, hex.
    pub hex: String,
    /// The bytes decoded as a frame, when they are one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<serde_json::Value>,
}

/// The transcript of one case; shared by its connections.
#[derive(Debug, Clone, Default)]
pub struct Transcript(Arc<Mutex<Vec<Record>>>);

/// At most this many bytes of one record are kept in hex.
const HEX_LIMIT: usize = 4096;

impl Transcript {
    fn push(&self, direction: &'static str, peer: &str, bytes: &[u8]) {
        let decoded = crate::canonical::decode(bytes).ok();
        let hex = if bytes.len() > HEX_LIMIT {
            format!(
                "{}… ({} bytes)",
                hex::encode(bytes.get(..HEX_LIMIT).unwrap_or(bytes)),
                bytes.len()
            )
        } else {
            hex::encode(bytes)
        };
        if let Ok(mut records) = self.0.lock() {
            records.push(Record {
                direction,
                peer: peer.to_string(),
                hex,
                decoded,
            });
        }
    }

    /// Records bytes sent to `peer`.
    pub fn sent(&self, peer: &str, bytes: &[u8]) {
        self.push("sent", peer, bytes);
    }

    /// Records bytes received from `peer`.
    pub fn received(&self, peer: &str, bytes: &[u8]) {
        self.push("received", peer, bytes);
    }

    /// Records a note.
    pub fn note(&self, text: &str) {
        if let Ok(mut records) = self.0.lock() {
            records.push(Record {
                direction: "note",
                peer: String::new(),
                hex: String::new(),
                decoded: Some(serde_json::Value::String(text.to_string())),
            });
        }
    }

    /// What was recorded.
    pub fn records(&self) -> Vec<Record> {
        self.0.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// A case of the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct CaseInfo {
    /// Stable ID: the first requirement it checks, then a name.
    pub id: String,
    /// Requirement IDs.
    pub requirements: Vec<String>,
    /// MUST, SHOULD or MAY: what breaking it means.
    pub level: Level,
    /// The nodes it applies to.
    pub role: Role,
    /// One line.
    pub description: String,
    /// The profile feature it needs, if optional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
}

impl CaseInfo {
    /// The requirement area, for grouping (`FRAME`, `EXCHANGE`, …).
    pub fn area(&self) -> &str {
        self.requirements
            .first()
            .map_or("OTHER", |r| crate::spec::area(r))
    }

    /// The verdict for a result.
    pub fn verdict(&self, result: &CaseResult) -> Verdict {
        match result {
            Ok(()) => Verdict::Pass,
            Err(Problem::Skip(_)) => Verdict::Skipped,
            Err(Problem::Harness(_)) => Verdict::Error,
            Err(Problem::Violation { .. }) => match self.level {
                Level::Must => Verdict::Fail,
                Level::Should | Level::May => Verdict::NonStrict,
            },
        }
    }
}
