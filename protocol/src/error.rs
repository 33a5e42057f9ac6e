//! The codec's one error type; every variant maps to exactly one code of Appendix B.

use core::fmt;

use crate::code::Code;
use crate::json::JsonFault;

/// A member of the event envelope (section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member {
    /// `id`
    Id,
    /// `timestamp`
    Timestamp,
    /// `source`
    Source,
    /// `type`
    Type,
    /// `data`
    Data,
    /// `error`
    Error,
}

impl Member {
    /// The four required members, in the order a fault is reported ([UH-EVENT-2]).
    pub const REQUIRED: [Member; 4] = [Member::Id, Member::Timestamp, Member::Source, Member::Type];
    /// All six envelope members.
    pub const ALL: [Member; 6] = [
        Member::Id,
        Member::Timestamp,
        Member::Source,
        Member::Type,
        Member::Data,
        Member::Error,
    ];

    /// The member's name.
    pub const fn name(self) -> &'static str {
        match self {
            Member::Id => "id",
            Member::Timestamp => "timestamp",
            Member::Source => "source",
            Member::Type => "type",
            Member::Data => "data",
            Member::Error => "error",
        }
    }
}

/// Why an envelope is not an event ([UH-EVENT-1], [UH-EVENT-2]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFault {
    /// The payload is valid JSON but not an object.
    NotAnObject,
    /// A required member is absent.
    Missing(Member),
    /// A required member is not a string.
    NotAString(Member),
    /// A required member is the empty string.
    Empty(Member),
}

/// Everything that can go wrong decoding or encoding µHome frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the frame needs ([UH-FRAME-3]).
    Incomplete {
        /// Bytes still missing (see [`crate::Decoded::Partial`]).
        needed: usize,
    },
    /// A version other than 1 and 2 ([UH-VERSION-4]).
    UnsupportedVersion(u16),
    /// A request whose status is not 1 ([UH-STATUS-3]).
    BadStatus(u8),
    /// The payload is not UTF-8 ([UH-JSON-2]).
    InvalidUtf8 {
        /// Length of the valid prefix.
        offset: usize,
    },
    /// The payload is not one strict JSON text ([UH-JSON-1] .. [UH-JSON-7]).
    InvalidJson {
        /// Byte offset of the fault.
        offset: usize,
        /// What is wrong.
        fault: JsonFault,
    },
    /// Nested deeper than the limit ([UH-JSON-8]).
    TooDeep {
        /// Byte offset of the bracket over the limit.
        offset: usize,
    },
    /// An envelope member occurs twice ([UH-EVENT-5]).
    DuplicateMember(Member),
    /// The payload is not an event envelope ([UH-EVENT-1], [UH-EVENT-2]).
    InvalidEvent(EventFault),
    /// A core event's `data` does not fit its schema ([UH-CORE-3]); the reason says how.
    InvalidData(&'static str),
    /// A subscription pattern outside the grammar ([UH-BROKER-3]).
    InvalidPattern,
    /// A publish of a reserved type ([UH-CORE-5]).
    ReservedType,
    /// A payload over 65535 bytes ([UH-FRAME-5]) or over a receiver's limit ([UH-FRAME-6]).
    TooLarge,
    /// The output buffer cannot hold the frame.
    BufferTooSmall,
}

impl Error {
    /// The code of Appendix B this error is reported with.
    pub const fn code(&self) -> Code {
        match self {
            Error::Incomplete { .. } => Code::Incomplete,
            Error::UnsupportedVersion(_) => Code::UnsupportedVersion,
            Error::BadStatus(_) => Code::BadStatus,
            Error::InvalidUtf8 { .. } => Code::InvalidUtf8,
            Error::InvalidJson { .. } => Code::InvalidJson,
            Error::TooDeep { .. } => Code::TooDeep,
            Error::DuplicateMember(_) => Code::DuplicateMember,
            Error::InvalidEvent(_) => Code::InvalidEvent,
            Error::InvalidData(_) => Code::InvalidData,
            Error::InvalidPattern => Code::InvalidPattern,
            Error::ReservedType => Code::ReservedType,
            Error::TooLarge => Code::TooLarge,
            Error::BufferTooSmall => Code::BufferTooSmall,
        }
    }
}

impl fmt::Display for EventFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventFault::NotAnObject => f.write_str("payload is not a JSON object"),
            EventFault::Missing(m) => write!(f, "member \"{}\" is missing", m.name()),
            EventFault::NotAString(m) => write!(f, "member \"{}\" is not a string", m.name()),
            EventFault::Empty(m) => write!(f, "member \"{}\" is empty", m.name()),
        }
    }
}

impl fmt::Display for Error {
    /// The reason, for people (the `reason` of an error reply).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Incomplete { needed } => write!(f, "{needed} more bytes needed"),
            Error::UnsupportedVersion(v) => write!(f, "version {v} is not supported"),
            Error::BadStatus(s) => write!(f, "a request carries status 1, not {s}"),
            Error::InvalidUtf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            Error::InvalidJson { offset, fault } => {
                write!(f, "{} at byte {offset}", fault.describe())
            }
            Error::TooDeep { offset } => write!(f, "nesting deeper than allowed at byte {offset}"),
            Error::DuplicateMember(m) => write!(f, "member \"{}\" occurs more than once", m.name()),
            Error::InvalidEvent(fault) => fault.fmt(f),
            Error::InvalidData(reason) => f.write_str(reason),
            Error::InvalidPattern => f.write_str("Invalid subscription pattern"),
            Error::ReservedType => f.write_str("event types beginning with µHome. are reserved"),
            Error::TooLarge => f.write_str("payload longer than allowed"),
            Error::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

impl core::error::Error for Error {}
