//! Events: decoding a frame's payload into the envelope of section 6 (version 2) or a
//! version 1 JSON text ([UH-VERSION-2]).

use crate::error::{Error, EventFault, Member};
use crate::json::{
    self, BufferTooSmall, JsonError, JsonFault, JsonStr, Kind, RawJson, ShapeMismatch, Visit,
};

/// Version 1 ([UH-VERSION-2]).
pub const V1: u16 = 1;
/// Version 2 ([UH-VERSION-3]); every reply is sent with it ([UH-VERSION-5]).
pub const V2: u16 = 2;

/// A decoded event, borrowing everything from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// `id`
    pub id: JsonStr<'a>,
    /// `timestamp`
    pub timestamp: JsonStr<'a>,
    /// `source`: the sender's node id.
    pub source: JsonStr<'a>,
    /// `type`
    pub event_type: JsonStr<'a>,
    /// `data`, when present (`null` is present).
    pub data: Option<RawJson<'a>>,
    /// `error`, when present.
    pub error: Option<RawJson<'a>>,
}

/// What a payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// An event: any version 2 payload, or a version 1 object with a string `type`.
    Event(Event<'a>),
    /// A version 1 payload that is not an event; it is answered as an unknown type
    /// ([UH-REPLY-5]).
    Other(RawJson<'a>),
}

impl<'a> Message<'a> {
    /// The event, if this is one.
    pub fn event(&self) -> Option<&Event<'a>> {
        match self {
            Message::Event(event) => Some(event),
            Message::Other(_) => None,
        }
    }
}

/// Decodes a payload of the given version (see [`Frame::message`](crate::Frame::message)).
pub fn decode_payload(
    version: u16,
    payload: &[u8],
    max_depth: usize,
) -> Result<Message<'_>, Error> {
    if version != V1 && version != V2 {
        return Err(Error::UnsupportedVersion(version));
    }
    let text = json::utf8(payload)?;
    let mut envelope = Envelope::default();
    json::scan(text, max_depth, &mut envelope)?;
    let root = trim(text);
    if let Some(member) = envelope.duplicate {
        return Err(Error::DuplicateMember(member));
    }
    let is_object = root.kind() == Kind::Object;
    if version == V1 {
        let is_event = is_object
            && envelope
                .get(Member::Type)
                .is_some_and(|t| t.kind() == Kind::String);
        return Ok(if is_event {
            Message::Event(envelope.v1_event())
        } else {
            Message::Other(root)
        });
    }
    if !is_object {
        return Err(Error::InvalidEvent(EventFault::NotAnObject));
    }
    envelope.v2_event().map(Message::Event)
}

impl From<JsonError> for Error {
    fn from(e: JsonError) -> Self {
        match e.fault {
            JsonFault::InvalidUtf8 => Error::InvalidUtf8 { offset: e.offset },
            JsonFault::TooDeep => Error::TooDeep { offset: e.offset },
            fault => Error::InvalidJson {
                offset: e.offset,
                fault,
            },
        }
    }
}

impl From<BufferTooSmall> for Error {
    fn from(_: BufferTooSmall) -> Self {
        Error::BufferTooSmall
    }
}

impl From<ShapeMismatch> for Error {
    fn from(_: ShapeMismatch) -> Self {
        Error::InvalidData("does not match the expected shape")
    }
}

fn trim(text: &str) -> RawJson<'_> {
    RawJson::from_validated(text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')))
}

/// The top-level members, collected during the validating scan.
#[derive(Default)]
struct Envelope<'a> {
    values: [Option<RawJson<'a>>; 6],
    duplicate: Option<Member>,
}

impl<'a> Envelope<'a> {
    fn get(&self, member: Member) -> Option<RawJson<'a>> {
        self.values.get(member as usize).copied().flatten()
    }

    fn string(&self, member: Member) -> Result<JsonStr<'a>, EventFault> {
        let value = self.get(member).ok_or(EventFault::Missing(member))?;
        let s = value.as_string().ok_or(EventFault::NotAString(member))?;
        if s.is_empty() {
            return Err(EventFault::Empty(member));
        }
        Ok(s)
    }

    fn v2_event(&self) -> Result<Event<'a>, Error> {
        // The required members in the order of [UH-EVENT-2]: the first fault is reported.
        let string = |m| self.string(m).map_err(Error::InvalidEvent);
        Ok(Event {
            id: string(Member::Id)?,
            timestamp: string(Member::Timestamp)?,
            source: string(Member::Source)?,
            event_type: string(Member::Type)?,
            data: self.get(Member::Data),
            error: self.get(Member::Error),
        })
    }

    /// [UH-VERSION-2]: string members taken when they are strings, else empty.
    fn v1_event(&self) -> Event<'a> {
        let text = |m: Member| {
            self.get(m)
                .and_then(|v| v.as_string())
                .unwrap_or(JsonStr::from_validated(""))
        };
        Event {
            id: text(Member::Id),
            timestamp: text(Member::Timestamp),
            source: text(Member::Source),
            event_type: text(Member::Type),
            data: self.get(Member::Data),
            error: self.get(Member::Error),
        }
    }
}

fn envelope_member(name: &[u8], escaped: bool) -> Option<Member> {
    if !escaped {
        return Member::ALL
            .into_iter()
            .find(|m| m.name().as_bytes() == name);
    }
    let name = JsonStr::from_validated(core::str::from_utf8(name).ok()?);
    Member::ALL.into_iter().find(|m| name.eq_str(m.name()))
}

impl<'a> Visit<'a> for Envelope<'a> {
    #[inline]
    fn root_member(&mut self, name: &'a [u8], escaped: bool, value: &'a str) {
        let Some(member) = envelope_member(name, escaped) else {
            return;
        };
        let Some(slot) = self.values.get_mut(member as usize) else {
            return;
        };
        if slot.is_some() {
            self.duplicate.get_or_insert(member);
        } else {
            *slot = Some(RawJson::from_validated(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::MAX_DEPTH;

    fn decode(version: u16, payload: &str) -> Result<Message<'_>, Error> {
        decode_payload(version, payload.as_bytes(), MAX_DEPTH)
    }

    const HEALTH: &str =
        r#"{"id":"1","timestamp":"t","source":"s","type":"µHome.core.healthcheck"}"#;

    #[test]
    fn decodes_an_envelope() {
        let Message::Event(e) = decode(2, HEALTH).unwrap() else {
            panic!("event expected")
        };
        assert!(e.event_type.eq_str("µHome.core.healthcheck"));
        assert!(e.data.is_none() && e.error.is_none());
    }

    #[test]
    fn refuses_other_versions_before_reading_the_payload() {
        assert_eq!(decode(3, "\u{0}"), Err(Error::UnsupportedVersion(3)));
        assert_eq!(decode(0, HEALTH), Err(Error::UnsupportedVersion(0)));
    }

    #[test]
    fn names_the_first_bad_member() {
        assert_eq!(
            decode(2, r#"{"type":"x","source":""}"#),
            Err(Error::InvalidEvent(EventFault::Missing(Member::Id)))
        );
        assert_eq!(
            decode(2, r#"{"id":"a","timestamp":"b","source":"","type":1}"#),
            Err(Error::InvalidEvent(EventFault::Empty(Member::Source)))
        );
        assert_eq!(
            decode(2, r#"{"id":"a","timestamp":["b"],"source":"","type":1}"#),
            Err(Error::InvalidEvent(EventFault::NotAString(
                Member::Timestamp
            )))
        );
        assert_eq!(
            decode(2, "[]"),
            Err(Error::InvalidEvent(EventFault::NotAnObject))
        );
    }

    #[test]
    fn duplicates_count_after_unescaping_and_precede_envelope_faults() {
        assert_eq!(
            decode(2, r#"{"type":"a","typ\u0065":"b"}"#),
            Err(Error::DuplicateMember(Member::Type))
        );
        let ok = r#"{"id":"1","timestamp":"t","source":"s","type":"x","z":1,"z":2,"data":{"k":1,"k":2}}"#;
        assert!(decode(2, ok).is_ok());
    }

    #[test]
    fn version_1_events_and_other_texts() {
        let Message::Event(e) = decode(1, r#"{"type":"a.b","id":5}"#).unwrap() else {
            panic!("event expected")
        };
        assert!(e.event_type.eq_str("a.b") && e.id.is_empty());
        assert!(matches!(decode(1, "[1,2]"), Ok(Message::Other(v)) if v.as_str() == "[1,2]"));
        assert!(matches!(decode(1, r#"{"type":5}"#), Ok(Message::Other(_))));
        assert!(matches!(decode(1, " null "), Ok(Message::Other(v)) if v.is_null()));
        assert_eq!(decode(1, "").unwrap_err().code(), crate::Code::InvalidJson);
    }

    #[test]
    fn data_null_is_present() {
        let p = r#"{"id":"1","timestamp":"t","source":"s","type":"x","data":null}"#;
        let Message::Event(e) = decode(2, p).unwrap() else {
            panic!()
        };
        assert!(e.data.is_some_and(|d| d.is_null()));
    }
}
