//! `vectors --exec`: every vector through an external decoder program
//! (spec/conformance-contract.md, section 1).

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::case::{CaseInfo, Level, Record, Role, Verdict};
use crate::json_eq::json_eq;
use crate::runner::{CaseReport, Selection};
use crate::spec::requirements;
use crate::vectors::{parse_json, Expect, Vector, VectorFile};

/// What the program did with one vector.
#[derive(Debug)]
pub(crate) enum Outcome {
    Accepted(serde_json::Value),
    /// Exit 0 with output serde_json cannot read (the message says why).
    Unreadable(String),
    Refused(String, Option<usize>),
    Crashed(String),
}

pub(crate) async fn decode(program: &str, input: &[u8], limit: Duration) -> (Outcome, String) {
    let mut one_shot = command(program, false);
    let child = one_shot.stdin(Stdio::piped()).spawn();
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
        Some(0) => accepted(&stdout, "exit 0 but stdout"),
        Some(1) => refused(
            stdout.strip_suffix('\n').unwrap_or(&stdout),
            "exit 1 but stdout",
        ),
        Some(n) => Outcome::Crashed(format!("exit status {n}")),
        None => Outcome::Crashed("killed by a signal".into()),
    };
    (outcome, stderr)
}

/// An acceptance: `text` is the canonical frame.
fn accepted(text: &str, what: &str) -> Outcome {
    match parse_json(text) {
        Ok(value) => Outcome::Accepted(value),
        Err(e) => Outcome::Unreadable(format!(
            "{what} is not one JSON value ({e}): {:?}",
            text.chars().take(200).collect::<String>()
        )),
    }
}

/// A refusal: `line` is an error code, `incomplete` possibly followed by the bytes still
/// needed (`incomplete 7`).
fn refused(line: &str, what: &str) -> Outcome {
    let (code, needed) = match line.split_once(' ') {
        Some(("incomplete", n)) => match n.parse::<usize>() {
            Ok(n) => ("incomplete", Some(n)),
            Err(_) => (line, None),
        },
        _ => (line, None),
    };
    if uhome_protocol::Code::is_valid(code) {
        Outcome::Refused(code.to_string(), needed)
    } else {
        Outcome::Crashed(format!(
            "{what} is not an error code: {:?}",
            line.chars().take(200).collect::<String>()
        ))
    }
}

/// The environment variable that asks a decoder program for the stream mode.
pub const STREAM_ENV: &str = "UHOME_CONFORMANCE_STREAM";
/// The first line a program that serves the stream mode prints.
pub const STREAM_HELLO: &str = "uhome-stream 1";

fn command(command: &str, stream: bool) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if stream {
        cmd.env(STREAM_ENV, "1");
    }
    cmd
}

/// Whether `program` declares the stream mode: started with [`STREAM_ENV`] set and stdin
/// closed, it prints [`STREAM_HELLO`] as its first line. A one-shot program decodes the empty
/// input instead.
pub async fn declares_stream(program: &str, limit: Duration) -> bool {
    let mut probe = command(program, true);
    let Ok(mut child) = probe.stdin(Stdio::null()).spawn() else {
        return false;
    };
    let Some(stdout) = child.stdout.take() else {
        return false;
    };
    let mut first = String::new();
    let mut reader = BufReader::new(stdout);
    let read = reader.read_line(&mut first);
    let declared = matches!(tokio::time::timeout(limit, read).await, Ok(Ok(_)))
        && first.trim_end() == STREAM_HELLO;
    let _ = child.kill().await;
    declared
}

/// One running program in the stream mode: a line of hex in, a line out, per input.
pub(crate) struct Stream {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<std::sync::Mutex<String>>,
}

/// The stderr tail kept for a failing vector.
const STDERR_TAIL: usize = 2000;

impl Stream {
    pub(crate) async fn start(program: &str, limit: Duration) -> Result<Stream, String> {
        let mut cmd = command(program, true);
        let mut child = cmd
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start: {e}"))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("no pipes to the program".into());
        };
        let tail = Arc::new(std::sync::Mutex::new(String::new()));
        let sink = tail.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut tail) = sink.lock() {
                    tail.push_str(&line);
                    tail.push('\n');
                    if tail.len() > 2 * STDERR_TAIL {
                        let cut = tail.len() - STDERR_TAIL;
                        let cut = (cut..tail.len())
                            .find(|&i| tail.is_char_boundary(i))
                            .unwrap_or(0);
                        tail.replace_range(..cut, "");
                    }
                }
            }
        });
        let mut stdout = BufReader::new(stdout).lines();
        match tokio::time::timeout(limit, stdout.next_line()).await {
            Ok(Ok(Some(line))) if line == STREAM_HELLO => Ok(Stream {
                child,
                stdin,
                stdout,
                stderr: tail,
            }),
            Ok(Ok(line)) => Err(format!("the first line is {line:?}, not {STREAM_HELLO:?}")),
            Ok(Err(e)) => Err(format!("cannot read stdout: {e}")),
            Err(_) => Err(format!("no {STREAM_HELLO:?} within {limit:?}")),
        }
    }

    /// Decodes one input; `None` in the outcome's place means the program is gone or hung and
    /// must be started again.
    pub(crate) async fn decode(
        &mut self,
        input: &[u8],
        limit: Duration,
    ) -> (Outcome, String, bool) {
        let line = format!("{}\n", hex::encode(input));
        let exchange = async {
            self.stdin.write_all(line.as_bytes()).await?;
            self.stdin.flush().await?;
            self.stdout.next_line().await
        };
        let (outcome, alive) = match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(Some(line))) if line.starts_with('{') => (accepted(&line, "the answer"), true),
            Ok(Ok(Some(line))) => (refused(&line, "the answer"), true),
            Ok(Ok(None)) => (Outcome::Crashed(self.ended().await), false),
            Ok(Err(e)) => (Outcome::Crashed(format!("the pipe failed: {e}")), false),
            Err(_) => (
                Outcome::Crashed(format!("no answer within {limit:?}")),
                false,
            ),
        };
        let stderr = self
            .stderr
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        (outcome, stderr, alive)
    }

    async fn ended(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await {
            Ok(Ok(status)) => match status.code() {
                Some(n) => format!("exited with status {n} instead of answering"),
                None => "killed by a signal".into(),
            },
            _ => "closed its stdout instead of answering".into(),
        }
    }
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

/// Runs the selected vectors through `program`, `parallel` at a time: in the stream mode
/// when the program declares it ([`declares_stream`]), else one process per vector.
pub async fn run(
    files: Vec<VectorFile>,
    program: &str,
    selection: &Selection,
    limit: Duration,
    parallel: usize,
    mut progress: impl FnMut(&CaseReport),
) -> Vec<CaseReport> {
    let reqs = Arc::new(requirements());
    let vectors: Vec<(usize, String, Vector)> = files
        .into_iter()
        .flat_map(|f| f.vectors)
        .map(|v| (format!("codec/{}", v.id), v))
        .filter(|(id, _)| selection.selects(id))
        .enumerate()
        .map(|(order, (id, v))| (order, id, v))
        .collect();
    let stream = declares_stream(program, limit).await;
    let queue = Arc::new(std::sync::Mutex::new(vectors.into_iter()));
    let mut workers = tokio::task::JoinSet::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..parallel.max(1) {
        let (queue, reqs, done, program) = (
            queue.clone(),
            reqs.clone(),
            done_tx.clone(),
            program.to_string(),
        );
        workers.spawn(async move {
            let mut decoder: Option<Stream> = None;
            let mut not_started = String::new();
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some((order, id, v)) = next else {
                    return;
                };
                let started = Instant::now();
                let input = v.bytes().unwrap_or_default();
                let (outcome, stderr) = if stream {
                    if decoder.is_none() {
                        match Stream::start(&program, limit).await {
                            Ok(started) => decoder = Some(started),
                            Err(why) => not_started = why,
                        }
                    }
                    match decoder.as_mut() {
                        Some(d) => {
                            let (outcome, stderr, alive) = d.decode(&input, limit).await;
                            if !alive {
                                decoder = None;
                            }
                            (outcome, stderr)
                        }
                        None => (
                            Outcome::Crashed(format!(
                                "the program did not start in stream mode: {not_started}"
                            )),
                            String::new(),
                        ),
                    }
                } else {
                    decode(&program, &input, limit).await
                };
                let report = report(&program, id, &v, &input, &outcome, &stderr, started, &reqs);
                if done.send((order, report)).is_err() {
                    return;
                }
            }
        });
    }
    drop(done_tx);
    let mut done = Vec::new();
    while let Some(result) = done_rx.recv().await {
        progress(&result.1);
        done.push(result);
    }
    while workers.join_next().await.is_some() {}
    done.sort_by_key(|(order, _)| *order);
    done.into_iter().map(|(_, r)| r).collect()
}

/// The case report of one vector.
#[allow(clippy::too_many_arguments)]
fn report(
    program: &str,
    id: String,
    v: &Vector,
    input: &[u8],
    outcome: &Outcome,
    stderr: &str,
    started: Instant,
    reqs: &std::collections::BTreeMap<String, crate::spec::Requirement>,
) -> CaseReport {
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
    let judged = judge(v, outcome);
    let verdict = match &judged {
        Ok(_) => Verdict::Pass,
        Err(_) => info.verdict(&Err(crate::case::violation("", ""))),
    };
    let requirement_text = crate::spec::requirement_text(&v.requirements, reqs);
    let mut transcript = Vec::new();
    if verdict != Verdict::Pass {
        transcript.push(Record {
            direction: "sent",
            peer: "decoder stdin".into(),
            hex: hex::encode(input),
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
    CaseReport {
        info,
        target: format!("decoder `{program}`"),
        verdict,
        duration_ms: started.elapsed().as_millis() as u64,
        requirement_text,
        expected,
        actual,
        note,
        transcript,
    }
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
