//! Running cases and collecting their reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::case::{CaseInfo, Problem, Record, Transcript, Verdict};
use crate::cases::Case;
use crate::ctx::Ctx;
use crate::peers::Peer;
use crate::profile::Profile;

/// Longest a single case may run before it is an ERROR.
pub const CASE_LIMIT: Duration = Duration::from_secs(120);

/// Which cases to run, and how.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Run only cases whose ID starts with one of these.
    pub only: Vec<String>,
    /// Skip cases whose ID starts with one of these.
    pub skip: Vec<String>,
}

impl Selection {
    /// Whether `id` is selected.
    pub fn selects(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|p| id.starts_with(p.as_str())))
            && !self.skip.iter().any(|p| id.starts_with(p.as_str()))
    }
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseReport {
    /// The case.
    #[serde(flatten)]
    pub info: CaseInfo,
    /// The node kind and address it ran against.
    pub target: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Milliseconds it took.
    pub duration_ms: u64,
    /// The requirement's text.
    pub requirement_text: String,
    /// What the requirement expects (when it did not pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What happened (when it did not pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// Why it was skipped or could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Frames sent and received (when it did not pass).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<Record>,
}

/// What runs a set of cases against one target.
pub struct Target {
    /// `service@127.0.0.1:5102`
    pub label: String,
    /// Address.
    pub addr: String,
    /// Profile.
    pub profile: Profile,
    /// The broker the suite plays for a registry target.
    pub broker: Option<Arc<Peer>>,
    /// How to start a service target (the service role's cases).
    pub service: Option<crate::launch::ServiceSetup>,
}

/// Runs `cases` against `target`, calling `progress` after each.
pub async fn run(
    cases: &[Case],
    target: &Target,
    selection: &Selection,
    timeout: Duration,
    run_id: &str,
    mut progress: impl FnMut(&CaseReport),
) -> Vec<CaseReport> {
    let requirements = crate::spec::requirements();
    let mut out = Vec::new();
    for case in cases.iter().filter(|c| selection.selects(&c.info.id)) {
        let transcript = Transcript::default();
        let ctx = Ctx {
            target: target.addr.clone(),
            timeout,
            profile: target.profile.clone(),
            transcript: transcript.clone(),
            run_id: run_id.to_string(),
            broker: target.broker.clone(),
            service: target.service.clone(),
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(CASE_LIMIT, case.run(&ctx)).await {
            Ok(result) => result,
            Err(_) => Err(Problem::Harness(format!(
                "the case did not finish within {CASE_LIMIT:?}"
            ))),
        };
        let verdict = case.info.verdict(&result);
        let (expected, actual, note) = match result {
            Ok(()) => (None, None, None),
            Err(Problem::Violation { expected, actual }) => (Some(expected), Some(actual), None),
            Err(Problem::Skip(why)) | Err(Problem::Harness(why)) => (None, None, Some(why)),
        };
        let requirement_text =
            crate::spec::requirement_text(&case.info.requirements, &requirements);
        let report = CaseReport {
            info: case.info.clone(),
            target: target.label.clone(),
            verdict,
            duration_ms: started.elapsed().as_millis() as u64,
            requirement_text,
            expected,
            actual,
            note,
            transcript: if verdict == Verdict::Pass {
                Vec::new()
            } else {
                transcript.records()
            },
        };
        progress(&report);
        out.push(report);
    }
    out
}
