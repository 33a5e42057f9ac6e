//! Reports: console progress and summary, JSON, JUnit XML, and the exit status.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::case::Verdict;
use crate::runner::CaseReport;

/// Counts of verdicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// PASS
    pub pass: usize,
    /// FAIL
    pub fail: usize,
    /// NON-STRICT
    pub non_strict: usize,
    /// SKIPPED
    pub skipped: usize,
    /// ERROR
    pub error: usize,
}

impl Counts {
    /// Counts `reports`.
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a CaseReport>) -> Counts {
        let mut c = Counts::default();
        for r in reports {
            match r.verdict {
                Verdict::Pass => c.pass += 1,
                Verdict::Fail => c.fail += 1,
                Verdict::NonStrict => c.non_strict += 1,
                Verdict::Skipped => c.skipped += 1,
                Verdict::Error => c.error += 1,
            }
        }
        c
    }

    /// All cases.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.non_strict + self.skipped + self.error
    }
}

/// The exit status: 0 passed, 1 a conformance failure, 2 a harness error.
pub fn exit_status(reports: &[CaseReport], strict: bool) -> u8 {
    let c = Counts::of(reports);
    if c.fail > 0 || (strict && c.non_strict > 0) {
        1
    } else if c.error > 0 {
        2
    } else {
        0
    }
}

/// One console line for a finished case; details for those that did not pass.
pub fn line(r: &CaseReport, verbose: bool) -> Option<String> {
    let quiet = r.info.id.starts_with("vector/") || r.info.id.starts_with("codec/");
    if r.verdict == Verdict::Pass && quiet && !verbose {
        return None;
    }
    let mut s = format!(
        "{:<10} {:<60} {} ({} ms)",
        r.verdict.as_str(),
        r.info.id,
        r.target,
        r.duration_ms
    );
    if r.verdict != Verdict::Pass {
        s.push('\n');
        s.push_str(&details(r));
    }
    Some(s)
}

/// Requirement, Expected vs Actual, and the transcript.
pub fn details(r: &CaseReport) -> String {
    let mut s = String::new();
    for line in r.requirement_text.lines() {
        let _ = writeln!(s, "    requirement: {line}");
    }
    let _ = writeln!(
        s,
        "    level: {}  role: {}  — {}",
        r.info.level.as_str(),
        r.info.role.as_str(),
        r.info.description
    );
    if let Some(e) = &r.expected {
        let _ = writeln!(s, "    expected: {e}");
    }
    if let Some(a) = &r.actual {
        let _ = writeln!(s, "    actual:   {a}");
    }
    if let Some(n) = &r.note {
        let _ = writeln!(s, "    note: {n}");
    }
    for rec in r.transcript.iter().take(12) {
        if rec.direction == "note" {
            let _ = writeln!(
                s,
                "    -- {}",
                rec.decoded.as_ref().and_then(|d| d.as_str()).unwrap_or("")
            );
            continue;
        }
        let arrow = if rec.direction == "sent" { ">>" } else { "<<" };
        let hex: String = rec.hex.chars().take(160).collect();
        let _ = writeln!(
            s,
            "    {arrow} {} {}{}",
            rec.peer,
            hex,
            if rec.hex.len() > 160 { "…" } else { "" }
        );
        if let Some(decoded) = &rec.decoded {
            let text: String = decoded.to_string().chars().take(300).collect();
            let _ = writeln!(s, "       {text}");
        }
    }
    if r.transcript.len() > 12 {
        let _ = writeln!(
            s,
            "    … {} more records in the JSON report",
            r.transcript.len() - 12
        );
    }
    s
}

/// The summary table: verdicts per target and requirement area.
pub fn summary(reports: &[CaseReport]) -> String {
    let mut groups: BTreeMap<(String, String), Vec<&CaseReport>> = BTreeMap::new();
    for r in reports {
        groups
            .entry((r.target.clone(), r.info.area().to_string()))
            .or_default()
            .push(r);
    }
    let mut s = format!(
        "{:<34} {:<10} {:>6} {:>6} {:>10} {:>8} {:>6}\n",
        "target", "area", "PASS", "FAIL", "NON-STRICT", "SKIPPED", "ERROR"
    );
    for ((target, area), rs) in &groups {
        let c = Counts::of(rs.iter().copied());
        let _ = writeln!(
            s,
            "{target:<34} {area:<10} {:>6} {:>6} {:>10} {:>8} {:>6}",
            c.pass, c.fail, c.non_strict, c.skipped, c.error
        );
    }
    let c = Counts::of(reports);
    let _ = writeln!(
        s,
        "{:<34} {:<10} {:>6} {:>6} {:>10} {:>8} {:>6}",
        format!("total ({} cases)", c.total()),
        "",
        c.pass,
        c.fail,
        c.non_strict,
        c.skipped,
        c.error
    );
    s
}

/// The JSON report (`spec/conformance-report.schema.json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonReport<'a> {
    /// `uhome-conformance`
    pub tool: &'static str,
    /// The suite's version.
    pub tool_version: &'static str,
    /// The specification version.
    pub spec_version: &'static str,
    /// When the run started (RFC 3339).
    pub started: String,
    /// Whether NON-STRICT fails the run.
    pub strict: bool,
    /// The targets.
    pub targets: Vec<String>,
    /// Verdict counts.
    pub summary: Counts,
    /// The exit status.
    pub exit_status: u8,
    /// Every case.
    pub cases: &'a [CaseReport],
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `testsuite` per requirement area.
pub fn junit(reports: &[CaseReport], strict: bool) -> String {
    let mut areas: BTreeMap<&str, Vec<&CaseReport>> = BTreeMap::new();
    for r in reports {
        areas.entry(r.info.area()).or_default().push(r);
    }
    let failed =
        |r: &CaseReport| r.verdict == Verdict::Fail || (strict && r.verdict == Verdict::NonStrict);
    let seconds =
        |rs: &[&CaseReport]| rs.iter().map(|r| r.duration_ms).sum::<u64>() as f64 / 1000.0;
    let all: Vec<&CaseReport> = reports.iter().collect();
    let c = Counts::of(reports);
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"uhome-conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        c.total(),
        reports.iter().filter(|r| failed(r)).count(),
        c.error,
        c.skipped,
        seconds(&all)
    );
    for (area, rs) in &areas {
        let c = Counts::of(rs.iter().copied());
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml(area),
            c.total(),
            rs.iter().filter(|r| failed(r)).count(),
            c.error,
            c.skipped,
            seconds(rs)
        );
        for r in rs {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&r.target),
                xml(&r.info.id),
                r.duration_ms as f64 / 1000.0
            );
            let body = xml(&details(r));
            match r.verdict {
                Verdict::Pass => s.push_str("/>\n"),
                Verdict::NonStrict if !strict => {
                    let _ = write!(s, ">\n      <system-out>NON-STRICT (a SHOULD is broken)\n{body}</system-out>\n    </testcase>\n");
                }
                Verdict::Fail | Verdict::NonStrict => {
                    let _ = write!(
                        s,
                        ">\n      <failure type=\"{}\" message=\"{}\">{body}</failure>\n    </testcase>\n",
                        r.verdict.as_str(),
                        xml(r.expected.as_deref().unwrap_or(""))
                    );
                }
                Verdict::Skipped => {
                    let _ = write!(
                        s,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml(r.note.as_deref().unwrap_or(""))
                    );
                }
                Verdict::Error => {
                    let _ = write!(
                        s,
                        ">\n      <error message=\"{}\">{body}</error>\n    </testcase>\n",
                        xml(r.note.as_deref().unwrap_or(""))
                    );
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
