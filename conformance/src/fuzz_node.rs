//! `fuzz --target`: the inputs of `fuzz --exec` sent to a live node — whole, split at random
//! points, or several pipelined on one connection — and each reply compared with what the
//! reference exchange core ([`uhome_protocol::exchange::answer`]) gives for those bytes:
//! version, status, type and code. The node's health is checked between batches; a crash or
//! a stall is reported with the bytes that preceded it. Each finding is saved as the bytes
//! sent and a JSON file saying how they were written and how to replay them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uhome_protocol::core_events::{ERROR, HEALTHCHECK, RESPONSE};
use uhome_protocol::exchange::{answer, Answer, Immediate, Limits};
use uhome_protocol::json::MAX_DEPTH;
use uhome_protocol::{Decoded, Frame, V2};

use crate::fuzz::{depth, has_lone_surrogate, next_input, Ddmin, Rng};
use crate::vectors::VectorFile;
use crate::wire::{Reply, Request};

/// What a run against a node does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed, time, iterations, where findings go, and the deadline of one exchange
    /// (connect, write, every reply and the node's close).
    pub run: crate::fuzz::Options,
    /// At most this many inputs per second.
    pub rate: u32,
    /// Inputs between two health checks.
    pub batch: u64,
    /// The node's payload limit ([UH-FRAME-6]).
    pub max_payload: usize,
}

/// How the bytes of one input are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// In one write.
    Whole,
    /// In several writes, cut at random points, with a pause between them.
    Split,
    /// Several inputs back to back in one write.
    Pipelined,
}

/// One exchange: the bytes and where the writes are cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// How the input was formed.
    pub mode: Mode,
    /// The bytes sent, in hex.
    pub hex: String,
    /// Offsets at which a write ends and the next, after a pause, begins.
    pub cuts: Vec<usize>,
}

impl Exchange {
    fn bytes(&self) -> Vec<u8> {
        hex::decode(&self.hex).unwrap_or_default()
    }
}

/// What the reference answers to one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    /// A reply decided by the exchange rules alone.
    Reply {
        status: u8,
        event_type: &'static str,
        code: &'static str,
    },
    /// A valid event handed to the node's handler: any reply that is not a refusal of the
    /// frame itself.
    Handled,
}

impl Expected {
    fn describe(&self) -> String {
        match self {
            Expected::Reply {
                status,
                event_type,
                code,
            } => format!("{event_type} status {status} code {code}"),
            Expected::Handled => "a handler's reply".into(),
        }
    }
}

/// The codes that refuse a frame by the rules of [UH-EXCHANGE-10]: a handler never gives them
/// for a frame the reference hands on.
const FRAME_CODES: &[&str] = &[
    "too_large",
    "unsupported_version",
    "bad_status",
    "invalid_utf8",
    "invalid_json",
    "too_deep",
    "duplicate_member",
    "invalid_event",
];

/// One frame of the input and the reference's answer.
struct Owed {
    frame: Vec<u8>,
    expected: Expected,
}

/// The frames a node must answer in `bytes`, in order; a trailing partial frame is never
/// answered ([UH-FRAME-3]).
fn owed(bytes: &[u8], limits: &Limits) -> Vec<Owed> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while let Decoded::Complete(frame, used) = Frame::decode(rest) {
        let expected = match answer(&frame, limits) {
            Answer::Reply(reply) => Expected::Reply {
                status: reply.status(),
                event_type: if matches!(reply, Immediate::Refused(_)) {
                    ERROR
                } else {
                    RESPONSE
                },
                code: reply.code().as_str(),
            },
            Answer::Dispatch { .. } => Expected::Handled,
        };
        out.push(Owed {
            frame: rest.get(..used).unwrap_or_default().to_vec(),
            expected,
        });
        rest = rest.get(used..).unwrap_or_default();
    }
    out
}

/// Whether the reference's answer stands for an accepted frame.
fn accepted(expected: &Expected) -> bool {
    match expected {
        Expected::Handled => true,
        Expected::Reply { code, .. } => matches!(*code, "healthy" | "no_handler"),
    }
}

/// Why `reply` disagrees with what the reference answers to `frame`, beyond what the
/// specification leaves open (lone surrogates, depth 65 to 128, repeated names the envelope
/// does not use); `None` when it does not.
fn judge(owed: &Owed, reply: &Reply) -> Option<String> {
    if reply.version != V2 {
        return Some(format!(
            "a reply of version {} ([UH-VERSION-5]: every reply is version 2)",
            reply.version
        ));
    }
    let code = reply.code().unwrap_or_default();
    let refused = reply.event_type == ERROR && FRAME_CODES.contains(&code);
    let lone = has_lone_surrogate(&owed.frame);
    let deep = depth(&owed.frame) > 64;
    let open = |code: &str| {
        (code == "too_deep" && deep)
            || code == "duplicate_member"
            || (code == "invalid_json" && lone)
    };
    match &owed.expected {
        Expected::Handled if refused && !open(code) => Some(format!(
            "the node refuses {code} a frame the reference accepts"
        )),
        Expected::Handled => None,
        expected @ Expected::Reply {
            status,
            event_type,
            code: want,
        } => {
            if reply.status == *status && reply.event_type == *event_type && code == *want {
                return None;
            }
            if accepted(expected) && refused && open(code) {
                return None;
            }
            if !accepted(expected)
                && !refused
                && ((*want == "invalid_json" && lone) || (*want == "too_deep" && deep))
            {
                return None;
            }
            Some(format!(
                "the node answers {} status {} code {code} where the reference answers {}",
                reply.event_type,
                reply.status,
                expected.describe()
            ))
        }
    }
}

/// What one exchange showed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// Every reply as the reference's, and the node closed after the half-close.
    Agrees,
    /// A disagreement: its class (for deduplication) and its description.
    Disagrees(String, String),
    /// The node could not be reached.
    Unreachable(String),
}

/// Runs one exchange: connect, write the bytes as `exchange` says, half-close, read every
/// reply until the node closes or the deadline passes, and judge them.
async fn exchange_with(
    addr: &str,
    exchange: &Exchange,
    limits: &Limits,
    deadline: Duration,
) -> Seen {
    let bytes = exchange.bytes();
    let owed = owed(&bytes, limits);
    let started = tokio::time::Instant::now();
    let until = started + deadline;
    let mut stream = match tokio::time::timeout_at(until, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Seen::Unreachable(format!("cannot connect: {e}")),
        Err(_) => return Seen::Unreachable("connecting timed out".into()),
    };
    let _ = stream.set_nodelay(true);
    let mut from = 0;
    let mut cuts = exchange.cuts.clone();
    cuts.push(bytes.len());
    for cut in cuts {
        let part = bytes.get(from..cut.min(bytes.len())).unwrap_or_default();
        from = cut.max(from);
        if part.is_empty() {
            continue;
        }
        match tokio::time::timeout_at(until, stream.write_all(part)).await {
            Ok(Ok(())) => {}
            // A node may close at once on a frame it cannot survive: judged by the replies.
            Ok(Err(_)) => break,
            Err(_) => {
                return Seen::Disagrees(
                    format!("{:?}: stalls", exchange.mode),
                    format!(
                        "the node stopped reading after {from} of {} bytes",
                        bytes.len()
                    ),
                )
            }
        }
        if from < bytes.len() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let _ = stream.shutdown().await;
    let mut received = Vec::new();
    let mut chunk = vec![0u8; 65536];
    let closed = loop {
        match tokio::time::timeout_at(until, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => received.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(_) => break false,
        }
    };
    let mut replies = Vec::new();
    let mut rest = received.as_slice();
    while let Decoded::Complete(_, used) = Frame::decode(rest) {
        replies.push(rest.get(..used).unwrap_or_default());
        rest = rest.get(used..).unwrap_or_default();
    }
    let mode = exchange.mode;
    let frames = owed.len();
    for (i, (owed, reply)) in owed.iter().zip(&replies).enumerate() {
        let reply = match Reply::decode(reply) {
            Ok(reply) => reply,
            Err(problem) => {
                return Seen::Disagrees(
                    format!("{mode:?}: a reply that is not an event"),
                    format!("reply {} of {frames}: {problem:?}", i + 1),
                )
            }
        };
        if let Some(what) = judge(owed, &reply) {
            let class = what.split(" where ").next().unwrap_or(&what).to_string();
            return Seen::Disagrees(
                format!("{mode:?}: {class}"),
                format!("frame {} of {frames}: {what}", i + 1),
            );
        }
    }
    if replies.len() != owed.len() {
        let why = if closed {
            "then closed the connection"
        } else {
            "then neither replied nor closed before the deadline"
        };
        return Seen::Disagrees(
            format!(
                "{mode:?}: {} replies",
                if replies.len() < owed.len() { "too few" } else { "too many" }
            ),
            format!(
                "the node sent {} replies to {} complete frames, {why} ([UH-EXCHANGE-4], [UH-EXCHANGE-5], [UH-FRAME-3])",
                replies.len(),
                owed.len()
            ),
        );
    }
    if !rest.is_empty() {
        return Seen::Disagrees(
            format!("{mode:?}: a partial reply frame"),
            format!("{} bytes after the last whole reply", rest.len()),
        );
    }
    Seen::Agrees
}

/// Whether the node answers a health check on a new connection within `deadline`.
async fn healthy(addr: &str, deadline: Duration) -> bool {
    let check = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(&Request::new(HEALTHCHECK, None).encode())
            .await
            .ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Decoded::Complete(_, used) = Frame::decode(&buf) {
                let reply = Reply::decode(buf.get(..used)?).ok()?;
                return Some(reply.code() == Some("healthy"));
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return Some(false);
            }
            buf.extend_from_slice(chunk.get(..n)?);
        }
    };
    matches!(tokio::time::timeout(deadline, check).await, Ok(Some(true)))
}

/// One finding against a node.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The kind of disagreement: how the bytes were written and what went wrong.
    pub class: String,
    /// What is wrong, in words.
    pub what: String,
    /// The exchange that shows it.
    pub exchange: Exchange,
    /// The JSON file written for it (the bytes are beside it, `.bin`).
    pub file: PathBuf,
}

/// What a run against a node found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Inputs sent.
    pub inputs: u64,
    /// Distinct findings.
    pub findings: Vec<Finding>,
    /// Seconds of the run.
    pub seconds: f64,
    /// Whether the run stopped because the node stopped answering.
    pub node_lost: bool,
}

/// The finding file: the exchange, what it showed, and the command that replays it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindingFile {
    /// The node the finding was made against.
    pub target: String,
    /// What is wrong.
    pub what: String,
    /// What the reference answers to each complete frame, in order.
    pub expected: Vec<String>,
    /// The exchange.
    #[serde(flatten)]
    pub exchange: Exchange,
    /// The bytes that went before, when the node stopped answering.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preceding: Vec<Exchange>,
    /// How to replay it.
    pub replay: String,
}

fn random_cuts(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..1 + rng.below(3))
        .map(|_| 1 + rng.below(len.max(2) - 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.retain(|&c| c < len);
    cuts
}

fn next_exchange(rng: &mut Rng, seeds: &[Vec<u8>]) -> Exchange {
    let one = |rng: &mut Rng| next_input(rng, seeds);
    let (mode, bytes) = match rng.below(4) {
        0 | 1 => (Mode::Whole, one(rng)),
        2 => (Mode::Split, one(rng)),
        _ => {
            let mut bytes = Vec::new();
            for _ in 0..2 + rng.below(3) {
                bytes.extend(one(rng));
            }
            (Mode::Pipelined, bytes)
        }
    };
    let cuts = if mode == Mode::Split {
        random_cuts(rng, bytes.len())
    } else {
        Vec::new()
    };
    Exchange {
        mode,
        hex: hex::encode(&bytes),
        cuts,
    }
}

/// Delta debugging over the payload of a single whole frame: the smallest payload found that
/// shows the same class of disagreement.
async fn minimize(
    addr: &str,
    exchange: Exchange,
    class: &str,
    limits: &Limits,
    deadline: Duration,
) -> Exchange {
    let bytes = exchange.bytes();
    let single = exchange.mode == Mode::Whole
        && matches!(Frame::decode(&bytes), Decoded::Complete(_, used) if used == bytes.len());
    if !single {
        return exchange;
    }
    let head = bytes.get(..5).unwrap_or_default().to_vec();
    let build = |payload: &[u8]| {
        let mut out = head.clone();
        out.extend_from_slice(payload);
        crate::fuzz::fix_length(&mut out);
        Exchange {
            mode: Mode::Whole,
            hex: hex::encode(&out),
            cuts: Vec::new(),
        }
    };
    let mut search = Ddmin::new(bytes.get(5..).unwrap_or_default().to_vec(), 200);
    while let Some(candidate) = search.candidate() {
        let same = matches!(exchange_with(addr, &build(&candidate), limits, deadline).await,
            Seen::Disagrees(c, _) if c == class);
        search.keep(same);
    }
    build(&search.into_smallest())
}

/// The limits the reference applies to the node's bytes.
pub fn limits(max_payload: usize) -> Limits {
    Limits {
        max_payload,
        max_depth: MAX_DEPTH,
    }
}

fn write_finding(
    out: &Path,
    n: usize,
    file: &FindingFile,
    bytes: &[u8],
) -> Result<PathBuf, String> {
    let json = out.join(format!("finding-{n}.json"));
    let text = serde_json::to_string_pretty(file).unwrap_or_default();
    std::fs::write(&json, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    let bin = out.join(format!("finding-{n}.bin"));
    std::fs::write(&bin, bytes).map_err(|e| format!("cannot write {}: {e}", bin.display()))?;
    Ok(json)
}

/// How to replay a finding file against the node.
pub fn replay_command(file: &Path, addr: &str) -> String {
    format!(
        "uhome-conformance fuzz --target {addr} --replay {}",
        file.display()
    )
}

fn expected_lines(exchange: &Exchange, limits: &Limits) -> Vec<String> {
    owed(&exchange.bytes(), limits)
        .iter()
        .map(|o| o.expected.describe())
        .collect()
}

/// Fuzzes the node at `addr` until the time or the iterations run out, or the node stops
/// answering; `progress` gets a line about once a second.
pub async fn run(
    files: &[VectorFile],
    addr: &str,
    options: &Options,
    mut progress: impl FnMut(&str),
) -> Result<Summary, String> {
    std::fs::create_dir_all(&options.run.out)
        .map_err(|e| format!("cannot create {}: {e}", options.run.out.display()))?;
    let limits = limits(options.max_payload);
    if !healthy(addr, options.run.timeout).await {
        return Err(format!("{addr} does not answer a health check"));
    }
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .flat_map(|f| &f.vectors)
        .filter_map(|v| v.bytes().ok())
        .collect();
    let mut rng = Rng::new(options.run.seed);
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut summary = Summary::default();
    let mut classes = std::collections::BTreeSet::new();
    let mut batch: Vec<Exchange> = Vec::new();
    let rate = f64::from(options.rate.max(1));
    loop {
        if options.run.iterations.is_some_and(|n| summary.inputs >= n)
            || options.run.time.is_some_and(|t| started.elapsed() >= t)
        {
            break;
        }
        let due = started + Duration::from_secs_f64(summary.inputs as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let exchange = next_exchange(&mut rng, &seeds);
        summary.inputs += 1;
        batch.push(exchange.clone());
        let seen = exchange_with(addr, &exchange, &limits, options.run.timeout).await;
        let lost = match &seen {
            Seen::Unreachable(_) => true,
            _ => {
                summary.inputs % options.batch.max(1) == 0
                    && !healthy(addr, options.run.timeout).await
            }
        };
        if lost {
            let what = match &seen {
                Seen::Unreachable(why) => format!(
                    "the node stopped accepting connections ({why}) after the preceding inputs"
                ),
                _ => "the node stopped answering health checks after the preceding inputs".into(),
            };
            let last = batch.pop().unwrap_or(exchange);
            let n = summary.findings.len() + 1;
            let file = FindingFile {
                target: addr.to_string(),
                what: what.clone(),
                expected: expected_lines(&last, &limits),
                exchange: last.clone(),
                preceding: std::mem::take(&mut batch),
                replay: String::new(),
            };
            let path = finish(&options.run.out, n, file, addr)?;
            summary.findings.push(Finding {
                class: "the node stopped answering".into(),
                what,
                exchange: last,
                file: path,
            });
            summary.node_lost = true;
            break;
        }
        if summary.inputs % options.batch.max(1) == 0 {
            batch.clear();
        }
        if let Seen::Disagrees(class, _) = seen {
            if classes.insert(class.clone()) {
                let small =
                    minimize(addr, exchange.clone(), &class, &limits, options.run.timeout).await;
                let (small, what) = match exchange_with(addr, &small, &limits, options.run.timeout)
                    .await
                {
                    Seen::Disagrees(c, what) if c == class => (small, what),
                    _ => match exchange_with(addr, &exchange, &limits, options.run.timeout).await {
                        Seen::Disagrees(_, what) => (exchange, what),
                        _ => (exchange, format!("{class} (not seen again on replay)")),
                    },
                };
                let n = summary.findings.len() + 1;
                let file = FindingFile {
                    target: addr.to_string(),
                    what: what.clone(),
                    expected: expected_lines(&small, &limits),
                    exchange: small.clone(),
                    preceding: Vec::new(),
                    replay: String::new(),
                };
                let path = finish(&options.run.out, n, file, addr)?;
                summary.findings.push(Finding {
                    class,
                    what,
                    exchange: small,
                    file: path,
                });
            }
        }
        if last_line.elapsed() >= Duration::from_secs(1) {
            last_line = Instant::now();
            progress(&progress_line(&summary, started.elapsed()));
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    progress(&progress_line(&summary, started.elapsed()));
    Ok(summary)
}

fn finish(out: &Path, n: usize, mut file: FindingFile, addr: &str) -> Result<PathBuf, String> {
    let json = out.join(format!("finding-{n}.json"));
    file.replay = replay_command(&json, addr);
    let mut bytes = Vec::new();
    for e in file.preceding.iter().chain(std::iter::once(&file.exchange)) {
        bytes.extend(e.bytes());
    }
    write_finding(out, n, &file, &bytes)
}

fn progress_line(summary: &Summary, elapsed: Duration) -> String {
    crate::fuzz::progress(summary.inputs, summary.findings.len(), elapsed)
}

/// What replaying a finding showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replayed {
    /// The node agreed with the reference in every attempt.
    Agrees { attempts: u32 },
    /// The node disagreed in attempt `attempt` (1-based); the attempts stop there.
    Fails { attempt: u32, what: String },
}

/// Replays a finding file against the node at `addr` up to `attempts` times, stopping at the
/// first disagreement. How the node's reads split the bytes is up to its scheduler, so a
/// finding about split frames may not show in every attempt.
pub async fn replay(
    file: &Path,
    addr: &str,
    max_payload: usize,
    deadline: Duration,
    attempts: u32,
) -> Result<Replayed, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let finding: FindingFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let limits = limits(max_payload);
    let attempts = attempts.max(1);
    for attempt in 1..=attempts {
        if let Some(what) = replay_once(&finding, addr, &limits, deadline).await {
            return Ok(Replayed::Fails { attempt, what });
        }
    }
    Ok(Replayed::Agrees { attempts })
}

/// One replay: the preceding exchanges, then the finding's; what it shows, `None` when the
/// node agrees with the reference.
async fn replay_once(
    finding: &FindingFile,
    addr: &str,
    limits: &Limits,
    deadline: Duration,
) -> Option<String> {
    for exchange in finding
        .preceding
        .iter()
        .chain(std::iter::once(&finding.exchange))
    {
        match exchange_with(addr, exchange, limits, deadline).await {
            Seen::Agrees => {}
            Seen::Disagrees(_, what) => return Some(what),
            Seen::Unreachable(why) => return Some(format!("the node is unreachable: {why}")),
        }
    }
    if !finding.preceding.is_empty() && !healthy(addr, deadline).await {
        return Some("the node stopped answering health checks".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::framed;

    #[test]
    fn the_reference_answers_every_whole_frame_and_no_partial_one() {
        let health = Request::new(HEALTHCHECK, None).encode();
        let mut bytes = framed(3, 0, b"{}");
        bytes.extend_from_slice(&health);
        bytes.extend_from_slice(health.get(..7).unwrap_or_default());
        let owed = owed(&bytes, &limits(65535));
        let codes: Vec<String> = owed.iter().map(|o| o.expected.describe()).collect();
        assert_eq!(
            codes,
            [
                "µHome.error status 2 code unsupported_version",
                "µHome.response status 1 code healthy"
            ]
        );
        let small = owed_frames_with_limit(&framed(2, 1, &[b' '; 5000]), 4096);
        assert_eq!(small, ["µHome.error status 2 code too_large"]);
    }

    fn owed_frames_with_limit(bytes: &[u8], max: usize) -> Vec<String> {
        owed(bytes, &limits(max))
            .iter()
            .map(|o| o.expected.describe())
            .collect()
    }

    #[test]
    fn what_the_specification_leaves_open_is_no_finding() {
        let deep = framed(
            2,
            1,
            format!(
                r#"{{"id":"1","timestamp":"t","source":"s","type":"x","data":{}1{}}}"#,
                "[".repeat(70),
                "]".repeat(70)
            )
            .as_bytes(),
        );
        let owed = owed(&deep, &limits(65535));
        let refusal = |code: &str| {
            let payload = format!(
                r#"{{"id":"r","timestamp":"t","source":"n","type":"{ERROR}","error":{{"message":"m","code":"{code}"}}}}"#
            );
            Reply::decode(&framed(2, 2, payload.as_bytes())).ok()
        };
        let judged = |code: &str| Some(judge(owed.first()?, &refusal(code)?));
        assert_eq!(
            judged("too_deep"),
            Some(None),
            "depth 65 to 128 may be refused"
        );
        assert!(
            matches!(judged("invalid_event"), Some(Some(_))),
            "{:?}",
            judged("invalid_event")
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_exchanges() {
        let seeds = vec![framed(2, 1, br#"{"id":"1"}"#)];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..40)
                .map(|_| next_exchange(&mut rng, &seeds))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert!(run(3)
            .iter()
            .any(|e| e.mode == Mode::Split && !e.cuts.is_empty()));
        assert!(run(3).iter().any(|e| e.mode == Mode::Pipelined));
    }
}
