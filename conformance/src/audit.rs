//! Every reply the suite receives from the target, checked against the rules that hold for
//! all replies: the strict version 2 envelope, a fresh `id`, a current RFC 3339 `timestamp`,
//! the node's `source`, a `code` and `message`, the verbatim messages of Appendix B and the
//! `reason`s the specification requires. A defect is noted in the transcript of the case
//! that received the reply and judged by the audit case of its rule, never by that case.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use uhome_protocol::core_events::{CoreType, ERROR, RESPONSE};
use uhome_protocol::{Code, Frame, Message};

use crate::case::Transcript;

/// How far a reply's `timestamp` may be from the suite's clock (spec/conformance-contract.md).
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(120);

/// The rules every reply is checked against, each judged by one audit case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Version 2, a strict event, type `µHome.response`/`µHome.error` with its status and body.
    Envelope,
    /// `id` distinct across every reply of the run.
    FreshId,
    /// `timestamp` RFC 3339 and close to the suite's clock.
    Timestamp,
    /// `source` the node's id, the same in every reply.
    Source,
    /// A string `code` matching `[a-z][a-z0-9_]*` and a string `message`.
    CodeAndMessage,
    /// The message of Appendix B, verbatim, where it gives one.
    VerbatimMessage,
    /// A string `reason` where the specification requires one.
    Reason,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 7] = [
        Rule::Envelope,
        Rule::FreshId,
        Rule::Timestamp,
        Rule::Source,
        Rule::CodeAndMessage,
        Rule::VerbatimMessage,
        Rule::Reason,
    ];

    /// The ID of the audit case that judges this rule.
    pub fn case_id(self) -> &'static str {
        match self {
            Rule::Envelope => "UH-REPLY-1/every-reply-envelope",
            Rule::FreshId => "UH-REPLY-9/every-reply-id-fresh",
            Rule::Timestamp => "UH-REPLY-10/every-reply-timestamp",
            Rule::Source => "UH-REPLY-1/every-reply-source",
            Rule::CodeAndMessage => "UH-REPLY-2/every-reply-code-and-message",
            Rule::VerbatimMessage => "UH-REPLY-6/every-message-verbatim",
            Rule::Reason => "UH-REPLY-11/every-required-reason",
        }
    }
}

/// A reply that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// The rule.
    pub rule: Rule,
    /// The case that received the reply.
    pub case: String,
    /// What was wrong.
    pub text: String,
}

#[derive(Debug, Default)]
struct State {
    ids: HashMap<String, String>,
    source: Option<(String, String)>,
    defects: Vec<Defect>,
    replies: usize,
}

/// The replies of one run against one target.
#[derive(Debug, Default)]
pub struct Audit {
    node_id: Option<String>,
    state: Mutex<State>,
}

impl Audit {
    /// An audit expecting `source` to be `node_id` when given (the profile's `nodeId`), else
    /// the first reply's `source`.
    pub fn new(node_id: Option<String>) -> Audit {
        Audit {
            node_id,
            state: Mutex::new(State::default()),
        }
    }

    /// The defects of `rule` found so far.
    pub fn defects(&self, rule: Rule) -> Vec<Defect> {
        self.state
            .lock()
            .map(|s| {
                s.defects
                    .iter()
                    .filter(|d| d.rule == rule)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Replies inspected so far.
    pub fn replies(&self) -> usize {
        self.state.lock().map(|s| s.replies).unwrap_or(0)
    }

    /// Checks one reply frame received by `case`, noting each defect in `transcript`.
    ///
    /// `request_id` is the `id` of the request this frame answers, when known.
    pub fn inspect(
        &self,
        case: &str,
        bytes: &[u8],
        request_id: Option<&str>,
        transcript: &Transcript,
    ) {
        let mut found = self.check(bytes);
        if let (Some(request_id), Some(reply_id)) = (request_id, reply_id(bytes)) {
            if request_id == reply_id && !request_id.is_empty() {
                found.push((
                    Rule::FreshId,
                    format!("id {reply_id:?} is the id of the request it answers"),
                ));
            }
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.replies += 1;
        for (rule, text) in found {
            transcript.note(&format!(
                "reply defect: {text} (judged by {})",
                rule.case_id()
            ));
            state.defects.push(Defect {
                rule,
                case: case.to_string(),
                text,
            });
        }
    }

    fn check(&self, bytes: &[u8]) -> Vec<(Rule, String)> {
        let mut found = Vec::new();
        let Some((frame, _)) = Frame::decode(bytes).complete() else {
            return vec![(Rule::Envelope, "an incomplete frame".into())];
        };
        if frame.header.version != 2 {
            found.push((
                Rule::Envelope,
                format!("version {}, not 2", frame.header.version),
            ));
        }
        let event = match frame.message() {
            Ok(Message::Event(event)) => event,
            Ok(Message::Other(_)) => {
                found.push((Rule::Envelope, "a payload that is not an event".into()));
                return found;
            }
            Err(e) => {
                found.push((
                    Rule::Envelope,
                    format!("not a strict event envelope: {} ({e})", e.code()),
                ));
                return found;
            }
        };
        let status = frame.header.status;
        let event_type = event.event_type.to_string();
        let body = if event_type == RESPONSE {
            if status != 1 {
                found.push((
                    Rule::Envelope,
                    format!("µHome.response with status {status}"),
                ));
            }
            event.data.map(crate::canonical::value)
        } else if event_type == ERROR {
            if status != 0 && status != 2 {
                found.push((Rule::Envelope, format!("µHome.error with status {status}")));
            }
            if event.data.is_some() {
                found.push((Rule::Envelope, "µHome.error with a data member".into()));
            }
            event.error.map(crate::canonical::value)
        } else {
            found.push((Rule::Envelope, format!("type {event_type:?}")));
            None
        };
        self.check_id(&event.id.to_string(), &mut found);
        check_timestamp(&event.timestamp.to_string(), &mut found);
        self.check_source(&event.source.to_string(), &mut found);
        let Some(body) = body.filter(Value::is_object) else {
            found.push((
                Rule::CodeAndMessage,
                format!(
                    "no {} object",
                    if event_type == ERROR { "error" } else { "data" }
                ),
            ));
            return found;
        };
        let code = body.get("code").and_then(Value::as_str);
        let message = body.get("message").and_then(Value::as_str);
        match code {
            Some(c) if uhome_protocol::Code::is_valid(c) => {}
            Some(c) => found.push((Rule::CodeAndMessage, format!("code {c:?}"))),
            None => found.push((Rule::CodeAndMessage, "no string code".into())),
        }
        if message.is_none() {
            found.push((Rule::CodeAndMessage, "no string message".into()));
        }
        let reason = body.get("reason");
        if reason.is_some_and(|r| !r.is_string()) {
            found.push((Rule::Reason, "a reason that is not a string".into()));
        }
        if let (Some(code), Some(message)) = (code.and_then(Code::parse), message) {
            if let Some(expected) = verbatim(code, message) {
                found.push((
                    Rule::VerbatimMessage,
                    format!("code {code}: message {message:?}, not {expected}"),
                ));
            }
            let needs_reason = matches!(
                code,
                Code::InvalidEvent | Code::DuplicateMember | Code::InvalidData
            );
            if needs_reason && event_type == ERROR && reason.is_none() {
                found.push((Rule::Reason, format!("code {code} without a reason")));
            }
        }
        found
    }

    fn check_id(&self, id: &str, found: &mut Vec<(Rule, String)>) {
        if id.is_empty() {
            found.push((Rule::FreshId, "an empty id".into()));
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let seen = state.replies + 1;
        if let Some(first) = state.ids.get(id) {
            found.push((
                Rule::FreshId,
                format!("id {id:?} already sent in a reply of {first}"),
            ));
        } else {
            state.ids.insert(id.to_string(), format!("reply {seen}"));
        }
    }

    fn check_source(&self, source: &str, found: &mut Vec<(Rule, String)>) {
        if source.is_empty() {
            found.push((Rule::Source, "an empty source".into()));
            return;
        }
        if let Some(node_id) = &self.node_id {
            if source != node_id {
                found.push((
                    Rule::Source,
                    format!("source {source:?}, the profile's nodeId is {node_id:?}"),
                ));
            }
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match &state.source {
            None => {
                state.source = Some((source.to_string(), format!("reply {}", state.replies + 1)))
            }
            Some((first, _)) if first == source => {}
            Some((first, at)) => found.push((
                Rule::Source,
                format!("source {source:?}, {at} had {first:?}"),
            )),
        }
    }
}

/// The `id` of a frame's event, read leniently.
pub fn reply_id(bytes: &[u8]) -> Option<String> {
    let (frame, _) = Frame::decode(bytes).complete()?;
    let value: Value = serde_json::from_slice(frame.payload).ok()?;
    value.get("id")?.as_str().map(str::to_string)
}

/// What the message of a reply with `code` must be, when `message` is not it.
fn verbatim(code: Code, message: &str) -> Option<String> {
    if let Some(fixed) = code.fixed_message() {
        return (message != fixed).then(|| format!("{fixed:?}"));
    }
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix('\''))
            .is_some_and(|id| !id.is_empty())
    };
    match code {
        Code::Registered if !named("Successfully registered microservice '") => {
            Some("\"Successfully registered microservice '<nodeId>'\"".into())
        }
        Code::Unregistered if !named("Successfully unregistered microservice '") => {
            Some("\"Successfully unregistered microservice '<nodeId>'\"".into())
        }
        Code::InvalidData | Code::InvalidPattern | Code::NotRegistered => {
            let failures = CoreType::ALL.map(CoreType::failure_message);
            (!failures.contains(&message)).then(|| "a type's failure message (Appendix B)".into())
        }
        _ => None,
    }
}

fn check_timestamp(timestamp: &str, found: &mut Vec<(Rule, String)>) {
    match rfc3339(timestamp) {
        None => found.push((
            Rule::Timestamp,
            format!("timestamp {timestamp:?} is not an RFC 3339 date-time"),
        )),
        Some(at) => {
            let now = SystemTime::now();
            let off = now
                .duration_since(at)
                .or_else(|_| at.duration_since(now))
                .unwrap_or_default();
            if off > CLOCK_TOLERANCE {
                found.push((
                    Rule::Timestamp,
                    format!(
                        "timestamp {timestamp:?} is {} s from the suite's clock (tolerance {} s)",
                        off.as_secs(),
                        CLOCK_TOLERANCE.as_secs()
                    ),
                ));
            }
        }
    }
}

/// An RFC 3339 `date-time` (`2026-11-28T22:17:50.481Z`, `2026-11-28T23:17:50+01:00`).
pub fn rfc3339(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    let (base, offset) = match bytes.last()? {
        b'Z' | b'z' => (&text[..text.len() - 1], 0i64),
        _ => {
            let at = text.len().checked_sub(6)?;
            if !text.is_char_boundary(at) {
                return None;
            }
            let (base, zone) = text.split_at(at);
            let z = zone.as_bytes();
            let sign = match z.first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits = |s: &[u8]| -> Option<i64> {
                s.iter().try_fold(0i64, |n, b| {
                    b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
                })
            };
            let (h, m) = (digits(z.get(1..3)?)?, digits(z.get(4..6)?)?);
            if z.get(3) != Some(&b':') || h > 23 || m > 59 {
                return None;
            }
            (base, sign * (h * 3600 + m * 60))
        }
    };
    let b = base.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let shape = b.len() >= 19
        && at(4) == b'-'
        && at(7) == b'-'
        && matches!(at(10), b'T' | b't')
        && at(13) == b':'
        && at(16) == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| at(i).is_ascii_digit())
        && (b.len() == 19
            || (at(19) == b'.'
                && b.len() > 20
                && b.get(20..)
                    .is_some_and(|f| f.iter().all(u8::is_ascii_digit))));
    if !shape {
        return None;
    }
    let utc = format!("{}T{}Z", &base[..10], &base[11..]);
    let at = humantime::parse_rfc3339(&utc).ok()?;
    let shift = Duration::from_secs(offset.unsigned_abs());
    if offset >= 0 {
        at.checked_sub(shift)
    } else {
        at.checked_add(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_date_times() {
        let utc = rfc3339("2026-11-28T22:17:50.481Z").unwrap();
        assert_eq!(rfc3339("2026-11-28T23:17:50.481+01:00"), Some(utc));
        assert_eq!(rfc3339("2026-11-28t21:17:50.481-01:00"), Some(utc));
        assert!(rfc3339("2026-11-28T22:17:50Z").is_some());
        for bad in [
            "",
            "t",
            "1",
            "2026-11-28 22:17:50Z",
            "2026-11-28T22:17:50",
            "2026-13-28T22:17:50Z",
            "2026-11-28T22:17:50.Z",
            "2026-11-28T22:17:50+0100",
            "Sat Nov 28 2026",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }
}
