//! `fuzz --exec`: differential fuzzing of a decoder program (spec/conformance-contract.md,
//! section 1) against the reference codec. Inputs are the vectors mutated (bit flips,
//! interesting bytes, splices, header fields at their boundaries, length lies) and events
//! generated with the specification's edge cases; every disagreement the specification does
//! not allow, and every crash or hang, is minimized and written as a vector file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::canonical::{self, Refusal};
use crate::codec::{self, declares_stream, Outcome, Stream};
use crate::json_eq::json_eq;
use crate::vectors::{Expect, VectorFile};

/// What a fuzzing run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the input generator: the same seed gives the same inputs.
    pub seed: u64,
    /// Stop after this long.
    pub time: Option<Duration>,
    /// Stop after this many inputs.
    pub iterations: Option<u64>,
    /// Where findings are written.
    pub out: PathBuf,
    /// Deadline of one answer; a program that takes longer has hung.
    pub timeout: Duration,
}

/// One disagreement, minimized.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The bytes.
    pub input: Vec<u8>,
    /// What is wrong, in words.
    pub what: String,
    /// The file it was written to.
    pub file: PathBuf,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Inputs sent.
    pub inputs: u64,
    /// Distinct findings.
    pub findings: Vec<Finding>,
    /// Seconds of the run.
    pub seconds: f64,
}

/// A verdict, reduced to what the specification compares.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Accepted(Value),
    /// Accepted, with output serde_json cannot read (a lone surrogate kept as an escape).
    Unreadable(String),
    Refused(String, Option<usize>),
    Crashed(String),
}

impl Verdict {
    fn of_reference(bytes: &[u8]) -> Verdict {
        match canonical::decode(bytes) {
            Ok(value) => Verdict::Accepted(value),
            Err(Refusal { code, needed }) => Verdict::Refused(code, needed),
        }
    }

    fn of_program(outcome: Outcome) -> Verdict {
        match outcome {
            Outcome::Accepted(v) => Verdict::Accepted(v),
            Outcome::Unreadable(why) => Verdict::Unreadable(why),
            Outcome::Refused(code, needed) => Verdict::Refused(code, needed),
            Outcome::Crashed(why) => Verdict::Crashed(why),
        }
    }

    /// The class a minimized input must keep: the kind of verdict and its code.
    fn class(&self) -> String {
        match self {
            Verdict::Accepted(_) => "accepts".into(),
            Verdict::Unreadable(_) => "prints unreadable output".into(),
            Verdict::Refused(code, _) => format!("refuses {code}"),
            Verdict::Crashed(_) => "crashes".into(),
        }
    }
}

/// Why `program` disagrees with `reference` on `input` beyond what the specification leaves
/// open (`acceptable` in the vectors: lone surrogates, depth 65 to 128, repeated names the
/// envelope does not use); `None` when it does not.
fn disagreement(input: &[u8], reference: &Verdict, program: &Verdict) -> Option<String> {
    let lone = has_lone_surrogate(input);
    match (reference, program) {
        (_, Verdict::Crashed(why)) => Some(format!("the program crashed: {why}")),
        (Verdict::Accepted(a), Verdict::Accepted(b)) => (!json_eq(a, b) && !lone)
            .then(|| format!("the program decodes {b} where the reference decodes {a}")),
        (Verdict::Accepted(_), Verdict::Unreadable(why)) => {
            (!lone).then(|| format!("the program accepts with output that is not JSON: {why}"))
        }
        (Verdict::Refused(a, na), Verdict::Refused(b, nb)) => {
            if a != b {
                Some(format!(
                    "the program refuses {b} where the reference refuses {a}"
                ))
            } else if nb.is_some() && na != nb {
                Some(format!(
                    "the program says {} bytes are needed, the reference {}",
                    nb.unwrap_or_default(),
                    na.unwrap_or_default()
                ))
            } else {
                None
            }
        }
        (Verdict::Accepted(_), Verdict::Refused(code, _)) => {
            let allowed = (code == "invalid_json" && lone)
                || (code == "too_deep" && depth(input) > 64)
                || code == "duplicate_member";
            (!allowed).then(|| format!("the program refuses {code} where the reference accepts"))
        }
        (Verdict::Refused(code, _), Verdict::Accepted(_) | Verdict::Unreadable(_)) => {
            let allowed = code == "invalid_json" && lone;
            (!allowed).then(|| format!("the program accepts where the reference refuses {code}"))
        }
        (Verdict::Unreadable(_) | Verdict::Crashed(_), _) => None,
    }
}

/// Whether the payload holds a `\uD800`–`\uDFFF` escape not part of a pair ([UH-JSON-7]).
pub(crate) fn has_lone_surrogate(input: &[u8]) -> bool {
    let text = String::from_utf8_lossy(input.get(5..).unwrap_or_default()).to_lowercase();
    let units: Vec<u32> = text
        .match_indices("\\u")
        .filter_map(|(i, _)| text.get(i + 2..i + 6))
        .filter_map(|hex| u32::from_str_radix(hex, 16).ok())
        .collect();
    let mut i = 0;
    while let Some(&u) = units.get(i) {
        if (0xd800..0xdc00).contains(&u) {
            if !units
                .get(i + 1)
                .is_some_and(|n| (0xdc00..0xe000).contains(n))
            {
                return true;
            }
            i += 2;
        } else if (0xdc00..0xe000).contains(&u) {
            return true;
        } else {
            i += 1;
        }
    }
    false
}

/// The deepest nesting of `[` and `{` outside strings in the payload.
pub(crate) fn depth(input: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in input.get(5..).unwrap_or_default() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                max = max.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// xorshift64*: small, seedable, the same sequence everywhere.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// Bytes that sit at the edges of the grammar and of UTF-8.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x1f, 0x20, b'"', b'\\', b'/', b'{', b'}', b'[', b']', b',', b':', b'-', b'+',
    b'.', b'0', b'1', b'9', b'e', b'E', b'u', b'n', b't', b'f', 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf,
    0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
];

/// JSON texts with the specification's edge cases, for generated events.
const VALUES: &[&str] = &[
    "0",
    "-0",
    "01",
    "1.",
    ".5",
    "1e400",
    "-1e-400",
    "1E+2",
    "12345678901234567890123",
    "true",
    "false",
    "null",
    "nul",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"\\udc00\\ud800\"",
    "\"\\u00e9\"",
    "\"é\"",
    "\"\\/\"",
    "\"\\x\"",
    "\"\t\"",
    "[]",
    "{}",
    "[1,]",
    "{\"a\":1,}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"\\u0061\":2}",
    "[1 2]",
    "\"\u{10ffff}\"",
];

pub(crate) fn generated(rng: &mut Rng) -> Vec<u8> {
    let value = |rng: &mut Rng| -> String {
        let mut v = rng.pick(VALUES).copied().unwrap_or("0").to_string();
        for _ in 0..rng.below(3) {
            v = match rng.below(3) {
                0 => format!("[{v}]"),
                1 => format!("{{\"k\":{v}}}"),
                _ => format!("[{v},{}]", rng.pick(VALUES).copied().unwrap_or("0")),
            };
        }
        v
    };
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let names = ["id", "timestamp", "source", "type", "data", "error"];
    let escaped = ["\\u0069d", "typ\\u0065", "d\\u0061ta", "sourc\\u0065"];
    let mut members = vec![
        "\"id\":\"1\"".to_string(),
        "\"timestamp\":\"t\"".into(),
        "\"source\":\"fuzz\"".into(),
        "\"type\":\"fuzz.x\"".into(),
    ];
    match rng.below(6) {
        0 => members.push(format!("\"data\":{}", deep(60 + rng.below(75)))),
        1 => members.push(format!(
            "\"{}\":{}",
            rng.pick(&escaped).copied().unwrap_or("id"),
            value(rng)
        )),
        2 => {
            let i = rng.below(members.len());
            members.remove(i);
        }
        3 => members.push(format!(
            "\"{}\":{}",
            rng.pick(&names).copied().unwrap_or("id"),
            value(rng)
        )),
        _ => members.push(format!("\"data\":{}", value(rng))),
    }
    if rng.below(4) == 0 {
        let i = rng.below(members.len());
        if let Some(m) = members.get_mut(i) {
            if let Some(colon) = m.find(':') {
                *m = format!("{}:{}", &m[..colon], value(rng));
            }
        }
    }
    let payload = format!("{{{}}}", members.join(","));
    let version = if rng.below(8) == 0 { 1 } else { 2 };
    framed(version, 1, payload.as_bytes())
}

/// A frame from the grammar-aware generator the cargo-fuzz targets share
/// (`uhome_fuzz_checks::structured`), driven by up to 1 KiB of this generator's bytes.
pub(crate) fn structured(rng: &mut Rng) -> Vec<u8> {
    let len = 16 + rng.below(1024);
    let bytes: Vec<u8> = (0..len).map(|_| (rng.next() >> 56) as u8).collect();
    let mut u = arbitrary::Unstructured::new(&bytes);
    uhome_fuzz_checks::structured::frame_bytes(&mut u).unwrap_or_default()
}

/// One input: a mutated vector, a generated event or a structured frame, in equal shares.
pub(crate) fn next_input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(3) {
        0 => mutated(rng, seeds),
        1 => generated(rng),
        _ => structured(rng),
    }
}

pub(crate) fn framed(version: u16, status: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.push(status);
    out.extend_from_slice(payload.get(..usize::from(len)).unwrap_or(payload));
    out
}

/// Sets the header's length to the payload's, so that the payload is what gets judged.
pub(crate) fn fix_length(bytes: &mut [u8]) {
    let len = u16::try_from(bytes.len().saturating_sub(5)).unwrap_or(u16::MAX);
    if let Some(header) = bytes.get_mut(..2) {
        header.copy_from_slice(&len.to_be_bytes());
    }
}

pub(crate) fn mutated(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = rng.pick(seeds).cloned().unwrap_or_default();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(8) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 if !bytes.is_empty() => {
                let (i, value) = (at.min(bytes.len() - 1), rng.pick(INTERESTING).copied());
                if let Some(b) = bytes.get_mut(i) {
                    *b = value.unwrap_or(0);
                }
            }
            2 => bytes.insert(at, rng.pick(INTERESTING).copied().unwrap_or(0)),
            3 if at < bytes.len() => {
                bytes.remove(at);
            }
            4 => {
                let other = rng.pick(seeds).cloned().unwrap_or_default();
                let from = rng.below(other.len());
                bytes.truncate(at);
                bytes.extend_from_slice(other.get(from..).unwrap_or_default());
            }
            5 if bytes.len() >= 5 => {
                let version: u16 = *rng.pick(&[0, 1, 2, 3, 0xff, 0xffff]).unwrap_or(&2);
                if let Some(v) = bytes.get_mut(2..4) {
                    v.copy_from_slice(&version.to_be_bytes());
                }
            }
            6 if bytes.len() >= 5 => {
                let lie = (bytes.len() as i64 - 5 + *rng.pick(&[-1i64, 1, -5, 100]).unwrap_or(&1))
                    .clamp(0, 65535) as u16;
                if let Some(l) = bytes.get_mut(..2) {
                    l.copy_from_slice(&lie.to_be_bytes());
                }
                return bytes;
            }
            _ => bytes.truncate(at),
        }
    }
    if rng.below(10) < 8 {
        fix_length(&mut bytes);
    }
    bytes
}

/// The program under test, kept running in the stream mode when it declares it.
struct Program {
    command: String,
    stream: bool,
    running: Option<Stream>,
    timeout: Duration,
}

impl Program {
    async fn verdict(&mut self, input: &[u8]) -> Verdict {
        if !self.stream {
            return Verdict::of_program(codec::decode(&self.command, input, self.timeout).await.0);
        }
        if self.running.is_none() {
            match Stream::start(&self.command, self.timeout).await {
                Ok(stream) => self.running = Some(stream),
                Err(why) => return Verdict::Crashed(format!("cannot start: {why}")),
            }
        }
        let Some(stream) = self.running.as_mut() else {
            return Verdict::Crashed("not running".into());
        };
        let (outcome, _stderr, alive) = stream.decode(input, self.timeout).await;
        if !alive {
            self.running = None;
        }
        Verdict::of_program(outcome)
    }

    /// The disagreement class of `input`, when there is one.
    async fn class(&mut self, input: &[u8]) -> Option<(String, String)> {
        let reference = Verdict::of_reference(input);
        let program = self.verdict(input).await;
        let what = disagreement(input, &reference, &program)?;
        Some((format!("{} / {}", reference.class(), program.class()), what))
    }
}

/// Delta debugging (ddmin) over the payload, keeping the header consistent: the smallest
/// input found that shows the same class of disagreement.
async fn minimize(program: &mut Program, input: Vec<u8>, class: &str, budget: usize) -> Vec<u8> {
    let whole_frame = match input.get(..2) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])) + 5 == input.len(),
        _ => false,
    };
    let build = |payload: &[u8]| -> Vec<u8> {
        if whole_frame {
            let mut bytes = input.get(..5).unwrap_or_default().to_vec();
            bytes.extend_from_slice(payload);
            fix_length(&mut bytes);
            bytes
        } else {
            payload.to_vec()
        }
    };
    let current: Vec<u8> = if whole_frame {
        input.get(5..).unwrap_or_default().to_vec()
    } else {
        input.clone()
    };
    let mut search = Ddmin::new(current, budget);
    while let Some(candidate) = search.candidate() {
        let same = program
            .class(&build(&candidate))
            .await
            .is_some_and(|(c, _)| c == class);
        search.keep(same);
    }
    build(&search.into_smallest())
}

/// Delta debugging (ddmin, by removing chunks) as a state machine, so that the test of a
/// candidate may be asynchronous: [`Ddmin::candidate`] gives the next bytes to try and
/// [`Ddmin::keep`] says whether they still show the failure; at most `budget` candidates.
pub(crate) struct Ddmin {
    current: Vec<u8>,
    chunks: usize,
    start: usize,
    size: usize,
    calls: usize,
    budget: usize,
    pending: Option<Vec<u8>>,
}

impl Ddmin {
    pub(crate) fn new(input: Vec<u8>, budget: usize) -> Ddmin {
        Ddmin {
            current: input,
            chunks: 2,
            start: 0,
            size: 0,
            calls: 0,
            budget,
            pending: None,
        }
    }

    /// The next candidate: the smallest input so far without one of its chunks.
    pub(crate) fn candidate(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.current.len() < 2 || self.calls >= self.budget {
                return None;
            }
            if self.start >= self.current.len() {
                // A whole round removed nothing: finer chunks, or done.
                if self.chunks >= self.current.len() {
                    return None;
                }
                self.chunks = (self.chunks * 2).min(self.current.len());
                self.start = 0;
                continue;
            }
            self.size = self.current.len().div_ceil(self.chunks).max(1);
            let mut candidate = self.current.clone();
            candidate.drain(self.start..(self.start + self.size).min(self.current.len()));
            self.calls += 1;
            self.pending = Some(candidate.clone());
            return Some(candidate);
        }
    }

    /// Whether the last candidate still shows the failure.
    pub(crate) fn keep(&mut self, still_fails: bool) {
        match (still_fails, self.pending.take()) {
            (true, Some(smaller)) => {
                self.current = smaller;
                self.chunks = (self.chunks - 1).max(2);
                self.start = 0;
            }
            _ => self.start += self.size,
        }
    }

    /// The smallest input that showed the failure.
    pub(crate) fn into_smallest(self) -> Vec<u8> {
        self.current
    }
}

/// For each code of the reference, the requirement its vectors cite first.
fn requirement_of(files: &[VectorFile], verdict: &Verdict) -> String {
    let code = match verdict {
        Verdict::Refused(code, _) => Some(code.as_str()),
        _ => None,
    };
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for v in files.iter().flat_map(|f| &f.vectors) {
        let matches = match code {
            Some(code) => v.result == Expect::Invalid && v.error.as_deref() == Some(code),
            None => v.result == Expect::Valid,
        };
        if let (true, Some(r)) = (matches, v.requirements.first()) {
            *counts.entry(r.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or("UH-FRAME-1".into(), |(r, _)| r.to_string())
}

/// A finding as a vector file of its own, in the vectors' format, with the reference's
/// verdict as the expected one.
fn vector_file(files: &[VectorFile], input: &[u8], what: &str, n: usize) -> Value {
    let reference = Verdict::of_reference(input);
    let mut vector = serde_json::Map::new();
    vector.insert("id".into(), json!(format!("fuzz/finding-{n}")));
    vector.insert("description".into(), json!(what));
    vector.insert("hex".into(), json!(hex::encode(input)));
    vector.insert(
        "requirements".into(),
        json!([requirement_of(files, &reference)]),
    );
    vector.insert("flags".into(), json!([]));
    match &reference {
        Verdict::Accepted(frame) => {
            vector.insert("result".into(), json!("valid"));
            vector.insert("frame".into(), frame.clone());
        }
        Verdict::Refused(code, needed) => {
            vector.insert("result".into(), json!("invalid"));
            vector.insert("error".into(), json!(code));
            if let Some(n) = needed {
                vector.insert("needed".into(), json!(n));
            }
        }
        _ => {}
    }
    json!({
        "name": "fuzz-findings",
        "description": "A disagreement of a decoder program with the reference codec, found by uhome-conformance fuzz --exec; the expected verdict is the reference's.",
        "specVersion": uhome_protocol::SPEC_VERSION,
        "flags": {},
        "vectors": [vector],
    })
}

/// Fuzzes `command` until the time or the iterations run out; `progress` gets a line about
/// once a second.
pub async fn run(
    files: &[VectorFile],
    command: &str,
    options: &Options,
    mut progress: impl FnMut(&str),
) -> Result<Summary, String> {
    std::fs::create_dir_all(&options.out)
        .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .flat_map(|f| &f.vectors)
        .filter_map(|v| v.bytes().ok())
        .collect();
    let mut program = Program {
        command: command.to_string(),
        stream: declares_stream(command, options.timeout).await,
        running: None,
        timeout: options.timeout,
    };
    let mut rng = Rng::new(options.seed);
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut summary = Summary::default();
    let mut classes = std::collections::BTreeSet::new();
    loop {
        if options.iterations.is_some_and(|n| summary.inputs >= n)
            || options.time.is_some_and(|t| started.elapsed() >= t)
        {
            break;
        }
        let input = next_input(&mut rng, &seeds);
        summary.inputs += 1;
        if let Some((class, _)) = program.class(&input).await {
            if classes.insert(class.clone()) {
                let small = minimize(&mut program, input, &class, 400).await;
                let what = program
                    .class(&small)
                    .await
                    .map_or_else(|| class.clone(), |(_, what)| what);
                let n = summary.findings.len() + 1;
                let file = options.out.join(format!("finding-{n}.json"));
                let text = serde_json::to_string_pretty(&vector_file(files, &small, &what, n))
                    .unwrap_or_default();
                std::fs::write(&file, text + "\n")
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                summary.findings.push(Finding {
                    input: small,
                    what,
                    file,
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

fn progress_line(summary: &Summary, elapsed: Duration) -> String {
    progress(summary.inputs, summary.findings.len(), elapsed)
}

/// The progress line of both fuzzers.
pub(crate) fn progress(inputs: u64, findings: usize, elapsed: Duration) -> String {
    let rate = inputs as f64 / elapsed.as_secs_f64().max(1e-3);
    format!(
        "fuzz: {inputs} inputs in {:.1} s ({rate:.0}/s), {findings} findings",
        elapsed.as_secs_f64()
    )
}

/// How to replay a finding: the vector file through the same program.
pub fn replay_command(file: &Path, command: &str) -> String {
    format!(
        "uhome-conformance vectors --vectors {} --exec '{command}'",
        file.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_and_depth_are_seen() {
        let frame = |p: &str| framed(2, 1, p.as_bytes());
        assert!(has_lone_surrogate(&frame(r#"{"a":"\ud800"}"#)));
        assert!(has_lone_surrogate(&frame(r#"{"a":"\udc00\ud800"}"#)));
        assert!(!has_lone_surrogate(&frame(r#"{"a":"\ud83d\ude00"}"#)));
        assert_eq!(depth(&frame(r#"{"a":[[1]],"b":"[[[["}"#)), 3);
    }

    #[test]
    fn ddmin_finds_the_bytes_that_matter() {
        let shows = |b: &[u8]| b.contains(&b'x') && b.contains(&b'y');
        let mut search = Ddmin::new(b"aaaxbbbbbbycc".to_vec(), 1000);
        while let Some(candidate) = search.candidate() {
            search.keep(shows(&candidate));
        }
        assert_eq!(search.into_smallest(), b"xy");
        let mut bounded = Ddmin::new(b"aaaxbbbbbbycc".to_vec(), 3);
        let mut tried = 0;
        while let Some(candidate) = bounded.candidate() {
            tried += 1;
            bounded.keep(shows(&candidate));
        }
        assert_eq!(tried, 3, "the budget bounds the candidates");
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let seeds = vec![framed(2, 1, br#"{"id":"1"}"#)];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|i| {
                    if i % 2 == 0 {
                        mutated(&mut rng, &seeds)
                    } else {
                        generated(&mut rng)
                    }
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
