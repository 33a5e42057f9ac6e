//! Running cases and collecting their reports.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::audit::Audit;
use crate::case::{CaseInfo, Problem, Record, Transcript, Verdict};
use crate::cases::Case;
use crate::ctx::Ctx;
use crate::peers::Peer;
use crate::profile::Profile;
use crate::wire::{Conn, Read, Request};

/// Longest a single case may run before it is an ERROR.
pub const CASE_LIMIT: Duration = Duration::from_secs(300);

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
    /// Address; empty when each case starts its own instance (the service role's cases).
    pub addr: String,
    /// Profile.
    pub profile: Profile,
    /// The broker the suite plays for a registry target.
    pub broker: Option<Arc<Peer>>,
    /// How to start a service target (the service role's cases).
    pub service: Option<crate::launch::ServiceSetup>,
}

/// A future that restarts the target.
pub type RestartFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// How the target is restarted after a case left it not answering.
#[derive(Clone)]
pub enum Restart {
    /// `--restart-cmd`: run with `sh -c`; it starts the target again at the same address.
    Command(String),
    /// A function of the embedding program.
    Hook(Arc<dyn Fn() -> RestartFuture + Send + Sync>),
}

impl Restart {
    async fn run(&self, wait: Duration) -> Result<(), String> {
        match self {
            Restart::Command(cmd) => {
                let child = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::null())
                    .status();
                match tokio::time::timeout(wait, child).await {
                    Ok(Ok(status)) if status.success() => Ok(()),
                    Ok(Ok(status)) => Err(format!("`{cmd}` exited with {status}")),
                    Ok(Err(e)) => Err(format!("cannot run `{cmd}`: {e}")),
                    Err(_) => Err(format!("`{cmd}` did not exit within {wait:?}")),
                }
            }
            Restart::Hook(hook) => hook().await,
        }
    }
}

/// How a run goes beyond the cases: deadlines, ids, what happens when the target dies.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Which cases.
    pub selection: Selection,
    /// Deadline of each read and write.
    pub timeout: Duration,
    /// Prefix of the node ids the run creates.
    pub run_id: String,
    /// How to restart a target that stopped answering; without it the run ends there.
    pub restart: Option<Restart>,
}

/// How long the suite waits for a restarted target to answer.
pub const RESTART_WAIT: Duration = Duration::from_secs(30);

/// Runs `cases` against `target`, calling `progress` after each.
pub async fn run(
    cases: &[Case],
    target: &Target,
    selection: &Selection,
    timeout: Duration,
    run_id: &str,
    progress: impl FnMut(&CaseReport),
) -> Vec<CaseReport> {
    let options = RunOptions {
        selection: selection.clone(),
        timeout,
        run_id: run_id.to_string(),
        restart: None,
    };
    run_with(cases, target, &options, progress).await
}

/// Whether a TCP connection to `addr` can be opened.
async fn reachable(addr: &str, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

/// Whether the target answers a healthcheck on a new connection (any reply frame counts).
pub async fn alive(addr: &str, timeout: Duration) -> Result<(), String> {
    let transcript = Transcript::default();
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut conn = match Conn::open(addr, &transcript, timeout).await {
            Ok(conn) => conn,
            Err(Problem::Harness(e)) | Err(Problem::Skip(e)) => {
                last = e;
                continue;
            }
            Err(Problem::Violation { actual, .. }) => {
                last = actual;
                continue;
            }
        };
        let health = Request::new(uhome_protocol::core_events::HEALTHCHECK, None).encode();
        if conn.send(&health).await.is_err() {
            last = "the connection refused the healthcheck".into();
            continue;
        }
        match conn.read_within(timeout).await {
            Read::Frame(_) => {
                conn.close().await;
                return Ok(());
            }
            Read::Closed => last = "closed the connection without answering a healthcheck".into(),
            Read::TimedOut => last = format!("no answer to a healthcheck within {timeout:?}"),
        }
    }
    Err(last)
}

/// Runs `cases` against `target`: the audit cases last; after every case the target must
/// still answer, else that case FAILs [UH-SECURITY-3] and, unless it can be restarted, the
/// cases after it are not run ("target down").
pub async fn run_with(
    cases: &[Case],
    target: &Target,
    options: &RunOptions,
    mut progress: impl FnMut(&CaseReport),
) -> Vec<CaseReport> {
    let requirements = crate::spec::requirements();
    let audit = Arc::new(Audit::new(target.profile.node_id.clone()));
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| !c.is_audit())
        .chain(cases.iter().filter(|c| c.is_audit()))
        .filter(|c| options.selection.selects(&c.info.id))
        .collect();
    // No address: each case starts its own instance of the target (the service role).
    let mut watched = !target.addr.is_empty();
    let mut down: Option<String> = None;
    if watched {
        if let Err(e) = alive(&target.addr, options.timeout).await {
            if reachable(&target.addr, options.timeout).await {
                // It accepts connections but answers no healthcheck: every case judges what
                // it gets, and no case is blamed for a state the target started in.
                watched = false;
            } else {
                down = Some(format!(
                    "the target does not answer before the first case: {e}"
                ));
            }
        }
    }
    let mut out = Vec::new();
    for case in selected {
        let requirement_text =
            crate::spec::requirement_text(&case.info.requirements, &requirements);
        if let Some(why) = &down {
            let report = CaseReport {
                info: case.info.clone(),
                target: target.label.clone(),
                verdict: Verdict::Error,
                duration_ms: 0,
                requirement_text,
                expected: None,
                actual: None,
                note: Some(format!("target down: {why}")),
                transcript: Vec::new(),
            };
            progress(&report);
            out.push(report);
            continue;
        }
        let transcript = Transcript::default();
        let ctx = Ctx {
            target: target.addr.clone(),
            timeout: options.timeout,
            profile: target.profile.clone(),
            transcript: transcript.clone(),
            run_id: options.run_id.clone(),
            broker: target.broker.clone(),
            service: target.service.clone(),
            audit: audit.clone(),
            case_id: case.info.id.clone(),
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(CASE_LIMIT, case.run(&ctx)).await {
            Ok(result) => result,
            Err(_) => Err(Problem::Harness(format!(
                "the case did not finish within {CASE_LIMIT:?}"
            ))),
        };
        // Only a case of an optional feature may be skipped: no MUST escapes by a SKIP.
        let result = match result {
            Err(Problem::Skip(why)) if case.info.feature.is_none() => Err(Problem::Harness(
                format!("skipped, but the case needs no optional feature: {why}"),
            )),
            other => other,
        };
        let mut info = case.info.clone();
        let mut verdict = case.info.verdict(&result);
        let (mut expected, mut actual, mut note) = match result {
            Ok(()) => (None, None, None),
            Err(Problem::Violation { expected, actual }) => (Some(expected), Some(actual), None),
            Err(Problem::Skip(why)) | Err(Problem::Harness(why)) => (None, None, Some(why)),
        };
        let mut requirement_text = requirement_text;
        let after = match watched {
            true => alive(&target.addr, options.timeout).await,
            false => Ok(()),
        };
        if let Err(gone) = after {
            transcript.note(&format!(
                "after the case the target stopped answering: {gone}"
            ));
            let own = match (&expected, &actual, &note) {
                (Some(e), Some(a), _) => format!("; the case saw: expected {e}, actual {a}"),
                (_, _, Some(n)) => format!("; the case saw: {n}"),
                _ => String::new(),
            };
            verdict = Verdict::Fail;
            if !info.requirements.iter().any(|r| r == "UH-SECURITY-3") {
                info.requirements.push("UH-SECURITY-3".into());
                requirement_text = crate::spec::requirement_text(&info.requirements, &requirements);
            }
            expected = Some("[UH-SECURITY-3] the target keeps answering after this case".into());
            actual = Some(format!("the target stopped answering: {gone}"));
            note = Some(format!("this case's input brought the target down{own}"));
            down = Some(format!("it stopped answering after {}", case.info.id));
            if let Some(restart) = &options.restart {
                match restart_and_wait(restart, &target.addr, options.timeout).await {
                    Ok(()) => {
                        transcript.note("the target was restarted");
                        down = None;
                    }
                    Err(e) => {
                        down = Some(format!(
                            "it stopped answering after {} and the restart failed: {e}",
                            case.info.id
                        ))
                    }
                }
            }
        }
        let report = CaseReport {
            info,
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

async fn restart_and_wait(restart: &Restart, addr: &str, timeout: Duration) -> Result<(), String> {
    restart.run(RESTART_WAIT).await?;
    let deadline = Instant::now() + RESTART_WAIT;
    loop {
        match alive(addr, timeout.min(Duration::from_secs(2))).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "not answering {RESTART_WAIT:?} after the restart: {e}"
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
