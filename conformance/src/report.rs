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

/// Text for HTML: every character that could open markup or end an attribute is escaped, and
/// control characters become U+FFFD, so node-provided text never becomes markup.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// An HTML `id` for a case: its ID with every character outside `[A-Za-z0-9_-]` as `_`.
fn anchor(r: &CaseReport) -> String {
    let raw = format!("{} {}", r.target, r.info.id);
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::NonStrict => "nonstrict",
        Verdict::Skipped => "skipped",
        Verdict::Error => "error",
    }
}

const HTML_STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.v{display:inline-block;min-width:6.5em;text-align:center;font-weight:bold;border-radius:3px;padding:0 .4em;color:#fff}
.pass{background:#2e7d32}.fail{background:#c62828}.nonstrict{background:#ef6c00}.skipped{background:#757575}.error{background:#6a1b9a}
.zero{color:#bbb}
.case{border:1px solid #ccc;border-left:6px solid #999;margin:1.2em 0;padding:.5em 1em}
.case.fail{border-left-color:#c62828;background:#fff}.case.nonstrict{border-left-color:#ef6c00;background:#fff}
.case.error{border-left-color:#6a1b9a;background:#fff}.case.skipped{border-left-color:#757575;background:#fff}
.case h3{margin:.2em 0;font-size:1.1em}.meta{color:#555}
.req{background:#f7f7fb;border-left:3px solid #8c9eff;padding:.3em .6em;margin:.4em 0;white-space:pre-wrap}
.ea th{width:7em}.ea td{white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace}
.tr td{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.hex{word-break:break-all;max-width:34em;color:#444}.dec{white-space:pre-wrap;word-break:break-word}
.sent td.dir{color:#1565c0}.received td.dir{color:#2e7d32}.note td{background:#fffde7;font-style:italic}
ul.ok{columns:3 22em;padding-left:1.2em;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
";

/// Counts as table cells, zeros greyed.
fn count_cells(c: &Counts) -> String {
    [c.pass, c.fail, c.non_strict, c.skipped, c.error]
        .iter()
        .map(|n| {
            if *n == 0 {
                "<td class=\"n zero\">0</td>".to_string()
            } else {
                format!("<td class=\"n\">{n}</td>")
            }
        })
        .collect()
}

const COUNT_HEADERS: &str =
    "<th>PASS</th><th>FAIL</th><th>NON-STRICT</th><th>SKIPPED</th><th>ERROR</th>";

fn html_case(s: &mut String, r: &CaseReport) {
    let class = verdict_class(r.verdict);
    let _ = writeln!(
        s,
        "<div class=\"case {class}\" id=\"{}\"><h3><span class=\"v {class}\">{}</span> {}</h3>",
        anchor(r),
        r.verdict.as_str(),
        html_escape(&r.info.id)
    );
    let _ = writeln!(
        s,
        "<div class=\"meta\">{} · {} · role {} · {} ms — {}</div>",
        html_escape(&r.target),
        r.info.level.as_str(),
        r.info.role.as_str(),
        r.duration_ms,
        html_escape(&r.info.description)
    );
    if !r.requirement_text.is_empty() {
        let _ = writeln!(
            s,
            "<div class=\"req\">{}</div>",
            html_escape(&r.requirement_text)
        );
    }
    if r.expected.is_some() || r.actual.is_some() || r.note.is_some() {
        s.push_str("<table class=\"ea\">\n");
        for (label, value) in [
            ("Expected", &r.expected),
            ("Actual", &r.actual),
            ("Note", &r.note),
        ] {
            if let Some(v) = value {
                let _ = writeln!(s, "<tr><th>{label}</th><td>{}</td></tr>", html_escape(v));
            }
        }
        s.push_str("</table>\n");
    }
    if !r.transcript.is_empty() {
        s.push_str(
            "<table class=\"tr\"><tr><th>#</th><th>dir</th><th>peer</th><th>hex</th><th>decoded</th></tr>\n",
        );
        for (n, rec) in r.transcript.iter().enumerate() {
            if rec.direction == "note" {
                let text = rec.decoded.as_ref().and_then(|d| d.as_str()).unwrap_or("");
                let _ = writeln!(
                    s,
                    "<tr class=\"note\"><td>{}</td><td colspan=\"4\">{}</td></tr>",
                    n + 1,
                    html_escape(text)
                );
                continue;
            }
            let arrow = if rec.direction == "sent" {
                "&gt;&gt; sent"
            } else {
                "&lt;&lt; received"
            };
            let decoded = rec
                .decoded
                .as_ref()
                .map(|d| serde_json::to_string_pretty(d).unwrap_or_default())
                .unwrap_or_else(|| "(not a whole frame)".into());
            let _ = writeln!(
                s,
                "<tr class=\"{}\"><td>{}</td><td class=\"dir\">{arrow}</td><td>{}</td><td class=\"hex\">{}</td><td class=\"dec\">{}</td></tr>",
                html_escape(rec.direction),
                n + 1,
                html_escape(&rec.peer),
                html_escape(&rec.hex),
                html_escape(&decoded)
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("</div>\n");
}

/// The HTML report: one self-contained page (inline CSS, no scripts, no external resources)
/// with the summary per target and per requirement area, every case that did not pass with its
/// requirement, Expected and Actual and the frames in hex and decoded, then the passed cases.
pub fn html(doc: &JsonReport<'_>) -> String {
    let reports = doc.cases;
    let verdict = match doc.exit_status {
        0 => ("CONFORMS", "pass"),
        1 => ("DOES NOT CONFORM", "fail"),
        _ => ("INCOMPLETE", "error"),
    };
    let mut s = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    let _ = writeln!(
        s,
        "<title>µHome conformance: {}</title>\n<style>{HTML_STYLE}</style></head><body>",
        verdict.0
    );
    let _ = writeln!(
        s,
        "<h1>µHome conformance report</h1>\n<p><span class=\"v {}\">{}</span> exit status {} · {} {} · specification {} · started {}{}</p>",
        verdict.1,
        verdict.0,
        doc.exit_status,
        html_escape(doc.tool),
        html_escape(doc.tool_version),
        html_escape(doc.spec_version),
        html_escape(&doc.started),
        if doc.strict { " · --strict" } else { "" }
    );
    s.push_str("<p>Targets:</p><ul>\n");
    for t in &doc.targets {
        let _ = writeln!(s, "<li>{}</li>", html_escape(t));
    }
    s.push_str("</ul>\n");

    s.push_str("<h2>Summary per target</h2>\n<table><tr><th>target</th>");
    s.push_str(COUNT_HEADERS);
    s.push_str("<th>cases</th></tr>\n");
    let mut targets: BTreeMap<&str, Vec<&CaseReport>> = BTreeMap::new();
    let mut areas: BTreeMap<&str, Vec<&CaseReport>> = BTreeMap::new();
    for r in reports {
        targets.entry(&r.target).or_default().push(r);
        areas.entry(r.info.area()).or_default().push(r);
    }
    for (target, rs) in &targets {
        let c = Counts::of(rs.iter().copied());
        let _ = writeln!(
            s,
            "<tr><td>{}</td>{}<td class=\"n\">{}</td></tr>",
            html_escape(target),
            count_cells(&c),
            c.total()
        );
    }
    let _ = writeln!(
        s,
        "<tr><th>total</th>{}<td class=\"n\">{}</td></tr></table>",
        count_cells(&doc.summary),
        doc.summary.total()
    );

    s.push_str("<h2>Summary per requirement area</h2>\n<table><tr><th>area</th>");
    s.push_str(COUNT_HEADERS);
    s.push_str("<th>cases</th></tr>\n");
    for (area, rs) in &areas {
        let c = Counts::of(rs.iter().copied());
        let _ = writeln!(
            s,
            "<tr><td>{}</td>{}<td class=\"n\">{}</td></tr>",
            html_escape(area),
            count_cells(&c),
            c.total()
        );
    }
    s.push_str("</table>\n");

    let not_passed: Vec<&CaseReport> = reports
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .collect();
    let _ = writeln!(s, "<h2>Cases that did not pass ({})</h2>", not_passed.len());
    if not_passed.is_empty() {
        s.push_str("<p>None.</p>\n");
    } else {
        s.push_str("<table><tr><th>verdict</th><th>case</th><th>target</th></tr>\n");
        for r in &not_passed {
            let class = verdict_class(r.verdict);
            let _ = writeln!(
                s,
                "<tr><td><span class=\"v {class}\">{}</span></td><td><a href=\"#{}\">{}</a></td><td>{}</td></tr>",
                r.verdict.as_str(),
                anchor(r),
                html_escape(&r.info.id),
                html_escape(&r.target)
            );
        }
        s.push_str("</table>\n");
        for r in &not_passed {
            html_case(&mut s, r);
        }
    }

    let passed = reports.len() - not_passed.len();
    let _ = writeln!(s, "<h2>Passed cases ({passed})</h2>");
    for (target, rs) in &targets {
        let ok: Vec<&&CaseReport> = rs.iter().filter(|r| r.verdict == Verdict::Pass).collect();
        if ok.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "<h3>{} ({})</h3>\n<ul class=\"ok\">",
            html_escape(target),
            ok.len()
        );
        for r in ok {
            let _ = writeln!(
                s,
                "<li>{} <span class=\"meta\">{} ms</span></li>",
                html_escape(&r.info.id),
                r.duration_ms
            );
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</body></html>\n");
    s
}
