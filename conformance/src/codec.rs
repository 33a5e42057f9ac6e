//! `vectors --exec`: every vector through an external decoder program
//! (spec/conformance-contract.md, section 1).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::case::{CaseInfo, Level, Record, Role, Verdict};
use crate::json_eq::json_eq;
use crate::runner::{CaseReport, Selection};
use crate::spec::requirements;
use crate::vectors::{parse_json, Expect, Vector, VectorFile};

/// What the program did with one vector.
#[derive(Debug)]
enum Outcome {
    Accepted(serde_json::Value),
    /// Exit 0 with output serde_json cannot read (the message says why).
    Unreadable(String),
    Refused(String, Option<usize>),
    Crashed(String),
}

async fn decode(command: &str, input: &[u8], limit: Duration) -> (Outcome, String) {
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            return (
                Outcome::Crashed(format!("cannot start: {e}")),
                String::new(),
            )
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return (Outcome::Crashed(format!("wait failed: {e}")), String::new()),
        Err(_) => {
            return (
                Outcome::Crashed(format!("did not finish within {limit:?}")),
                String::new(),
            )
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr)
        .chars()
        .take(2000)
        .collect();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let outcome = match output.status.code() {
        Some(0) => match parse_json(&stdout) {
            Ok(value) => Outcome::Accepted(value),
            Err(e) => Outcome::Unreadable(format!(
                "exit 0 but stdout is not one JSON value ({e}): {:?}",
                stdout.chars().take(200).collect::<String>()
            )),
        },
        Some(1) => {
            let line = stdout.strip_suffix('\n').unwrap_or(&stdout);
            // `incomplete` may be followed by the bytes still needed: `incomplete 7`.
            let (code, needed) = match line.split_once(' ') {
                Some(("incomplete", n)) => match n.parse::<usize>() {
                    Ok(n) => ("incomplete", Some(n)),
                    Err(_) => (line, None),
                },
                _ => (line, None),
            };
            if crate::wire::is_code(code) {
                Outcome::Refused(code.to_string(), needed)
            } else {
                Outcome::Crashed(format!(
                    "exit 1 but stdout is not an error code: {:?}",
                    stdout.chars().take(200).collect::<String>()
                ))
            }
        }
        Some(n) => Outcome::Crashed(format!("exit status {n}")),
        None => Outcome::Crashed("killed by a signal".into()),
    };
    (outcome, stderr)
}

fn judge(v: &Vector, outcome: &Outcome) -> Result<Option<String>, (String, String)> {
    let expected = match v.result {
        Expect::Valid => format!(
            "accepted as {}",
            v.frame.as_ref().map(|f| f.to_string()).unwrap_or_default()
        ),
        Expect::Invalid => format!("refused with {}", v.error.as_deref().unwrap_or("")),
        Expect::Acceptable => format!(
            "accepted, or refused with {}",
            v.error.as_deref().unwrap_or("")
        ),
    };
    let actual = match outcome {
        Outcome::Accepted(frame) => format!("accepted as {frame}"),
        Outcome::Refused(code, None) => format!("refused with {code}"),
        Outcome::Refused(code, Some(n)) => format!("refused with {code}, {n} bytes needed"),
        Outcome::Crashed(why) | Outcome::Unreadable(why) => format!("crashed: {why}"),
    };
    let frame_ok = |frame: &serde_json::Value| v.frame.as_ref().is_none_or(|f| json_eq(f, frame));
    // An accepting decoder may print a lone surrogate escape ([UH-JSON-7]), which serde_json
    // cannot read: accepted, not comparable.
    if let (Expect::Acceptable, Outcome::Unreadable(why)) = (v.result, outcome) {
        if why.contains("surrogate") {
            return Ok(Some(
                "acceptable vector: accepted (a lone surrogate kept in the output)".into(),
            ));
        }
    }
    let ok = match (v.result, outcome) {
        (_, Outcome::Crashed(_) | Outcome::Unreadable(_)) => false,
        (Expect::Valid, Outcome::Accepted(frame)) => {
            v.frame.as_ref().is_some_and(|f| json_eq(f, frame))
        }
        (Expect::Invalid, Outcome::Refused(code, needed)) => {
            // [UH-FRAME-7]: a count, when the decoder gives one, is the vector's `needed`.
            v.error.as_deref() == Some(code.as_str()) && (needed.is_none() || *needed == v.needed)
        }
        (Expect::Acceptable, Outcome::Accepted(frame)) => frame_ok(frame),
        (Expect::Acceptable, Outcome::Refused(code, None)) => {
            v.error.as_deref() == Some(code.as_str())
        }
        _ => false,
    };
    match (ok, v.result) {
        (true, Expect::Acceptable) => Ok(Some(format!("acceptable vector: {actual}"))),
        (true, _) => Ok(None),
        (false, _) => Err((expected, actual)),
    }
}

/// Runs the selected vectors through `command`, `parallel` at a time.
pub async fn run(
    files: Vec<VectorFile>,
    command: &str,
    selection: &Selection,
    limit: Duration,
    parallel: usize,
    mut progress: impl FnMut(&CaseReport),
) -> Vec<CaseReport> {
    let reqs = Arc::new(requirements());
    let permits = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut index = 0usize;
    for file in files {
        for v in file.vectors {
            let id = format!("codec/{}", v.id);
            if !selection.selects(&id) {
                continue;
            }
            let (command, permits, reqs) = (command.to_string(), permits.clone(), reqs.clone());
            let order = index;
            index += 1;
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let started = Instant::now();
                let input = v.bytes().unwrap_or_default();
                let (outcome, stderr) = decode(&command, &input, limit).await;
                let level = v
                    .requirements
                    .iter()
                    .filter_map(|r| reqs.get(r).map(|q| q.level))
                    .min()
                    .unwrap_or(Level::Must);
                let info = CaseInfo {
                    id,
                    requirements: v.requirements.clone(),
                    level,
                    role: Role::Any,
                    description: v.description.clone(),
                    feature: None,
                };
                let judged = judge(&v, &outcome);
                let verdict = match &judged {
                    Ok(_) => Verdict::Pass,
                    Err(_) => info.verdict(&Err(crate::case::violation("", ""))),
                };
                let requirement_text = crate::spec::requirement_text(&v.requirements, &reqs);
                let mut transcript = Vec::new();
                if verdict != Verdict::Pass {
                    transcript.push(Record {
                        direction: "sent",
                        peer: "decoder stdin".into(),
                        hex: hex::encode(&input),
                        decoded: v.frame.clone(),
                    });
                    if !stderr.is_empty() {
                        transcript.push(Record {
                            direction: "note",
                            peer: String::new(),
                            hex: String::new(),
                            decoded: Some(format!("stderr: {stderr}").into()),
                        });
                    }
                }
                let (expected, actual, note) = match judged {
                    Ok(note) => (None, None, note),
                    Err((e, a)) => (Some(e), Some(a), None),
                };
                let report = CaseReport {
                    info,
                    target: format!("decoder `{command}`"),
                    verdict,
                    duration_ms: started.elapsed().as_millis() as u64,
                    requirement_text,
                    expected,
                    actual,
                    note,
                    transcript,
                };
                (order, report)
            });
        }
    }
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(result) = joined {
            progress(&result.1);
            done.push(result);
        }
    }
    done.sort_by_key(|(order, _)| *order);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_of_needed_bytes_is_checked_when_given() {
        let files = crate::vectors::embedded().unwrap();
        let v = files
            .iter()
            .flat_map(|f| f.vectors.iter())
            .find(|v| v.needed.is_some_and(|n| n > 1))
            .unwrap();
        let needed = v.needed.unwrap();
        let refused = |n| Outcome::Refused("incomplete".into(), n);
        assert!(judge(v, &refused(None)).is_ok());
        assert!(judge(v, &refused(Some(needed))).is_ok());
        assert!(judge(v, &refused(Some(needed - 1))).is_err());
        assert!(judge(v, &refused(Some(needed + 1))).is_err());
    }
}
