//! The specification's code registry (Appendix B): every `code` a reply can carry, the local
//! codes of decoders and encoders, and the fixed message strings.

use core::fmt;

/// Every code of Appendix B of the specification.
///
/// Response codes go with status 1 (`µHome.response`), error codes with status 2 or 0
/// (`µHome.error`), local codes are never sent on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    // B.1 response codes
    /// `healthy` — [UH-CORE-2]
    Healthy,
    /// `registered` — [UH-REGISTRY-3]
    Registered,
    /// `unregistered` — [UH-REGISTRY-7]
    Unregistered,
    /// `nodes` — [UH-REGISTRY-8]
    Nodes,
    /// `nodes_updated` — [UH-BROKER-1]
    NodesUpdated,
    /// `subscribed` — [UH-BROKER-4]
    Subscribed,
    /// `unsubscribed` — [UH-BROKER-5]
    Unsubscribed,
    /// `published` — [UH-BROKER-9]
    Published,
    /// `queued` — [UH-BROKER-12]
    Queued,
    /// `no_handler` — [UH-REPLY-5]
    NoHandler,
    // B.2 error codes
    /// `too_large` — [UH-FRAME-5], [UH-FRAME-6]
    TooLarge,
    /// `unsupported_version` — [UH-VERSION-4]
    UnsupportedVersion,
    /// `bad_status` — [UH-STATUS-3]
    BadStatus,
    /// `invalid_utf8` — [UH-JSON-1], [UH-JSON-2]
    InvalidUtf8,
    /// `invalid_json` — [UH-JSON-1] to [UH-JSON-7]
    InvalidJson,
    /// `too_deep` — [UH-JSON-8]
    TooDeep,
    /// `duplicate_member` — [UH-EVENT-5]
    DuplicateMember,
    /// `invalid_event` — [UH-EVENT-1], [UH-EVENT-2]
    InvalidEvent,
    /// `invalid_data` — [UH-CORE-3]
    InvalidData,
    /// `invalid_pattern` — [UH-BROKER-4]
    InvalidPattern,
    /// `reserved_type` — [UH-BROKER-6]
    ReservedType,
    /// `unhealthy` — [UH-REGISTRY-1]
    Unhealthy,
    /// `already_registered` — [UH-REGISTRY-2]
    AlreadyRegistered,
    /// `not_registered` — [UH-REGISTRY-7], [UH-BROKER-4]
    NotRegistered,
    /// `registry_full` — [UH-REGISTRY-9]
    RegistryFull,
    /// `internal` — [UH-REPLY-7]
    Internal,
    // B.3 local codes
    /// `incomplete` — fewer bytes than the frame needs ([UH-FRAME-3]); never sent.
    Incomplete,
    /// `buffer_too_small` — an encoder's output buffer cannot hold the frame; never sent.
    BufferTooSmall,
}

/// Whether a code belongs on a response, on an error, or never on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Sent with status 1 in a `µHome.response`.
    Response,
    /// Sent in a `µHome.error`.
    Error,
    /// Never sent.
    Local,
}

impl Code {
    /// All codes, in registry order.
    pub const ALL: [Code; 28] = [
        Code::Healthy,
        Code::Registered,
        Code::Unregistered,
        Code::Nodes,
        Code::NodesUpdated,
        Code::Subscribed,
        Code::Unsubscribed,
        Code::Published,
        Code::Queued,
        Code::NoHandler,
        Code::TooLarge,
        Code::UnsupportedVersion,
        Code::BadStatus,
        Code::InvalidUtf8,
        Code::InvalidJson,
        Code::TooDeep,
        Code::DuplicateMember,
        Code::InvalidEvent,
        Code::InvalidData,
        Code::InvalidPattern,
        Code::ReservedType,
        Code::Unhealthy,
        Code::AlreadyRegistered,
        Code::NotRegistered,
        Code::RegistryFull,
        Code::Internal,
        Code::Incomplete,
        Code::BufferTooSmall,
    ];

    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Healthy => "healthy",
            Code::Registered => "registered",
            Code::Unregistered => "unregistered",
            Code::Nodes => "nodes",
            Code::NodesUpdated => "nodes_updated",
            Code::Subscribed => "subscribed",
            Code::Unsubscribed => "unsubscribed",
            Code::Published => "published",
            Code::Queued => "queued",
            Code::NoHandler => "no_handler",
            Code::TooLarge => "too_large",
            Code::UnsupportedVersion => "unsupported_version",
            Code::BadStatus => "bad_status",
            Code::InvalidUtf8 => "invalid_utf8",
            Code::InvalidJson => "invalid_json",
            Code::TooDeep => "too_deep",
            Code::DuplicateMember => "duplicate_member",
            Code::InvalidEvent => "invalid_event",
            Code::InvalidData => "invalid_data",
            Code::InvalidPattern => "invalid_pattern",
            Code::ReservedType => "reserved_type",
            Code::Unhealthy => "unhealthy",
            Code::AlreadyRegistered => "already_registered",
            Code::NotRegistered => "not_registered",
            Code::RegistryFull => "registry_full",
            Code::Internal => "internal",
            Code::Incomplete => "incomplete",
            Code::BufferTooSmall => "buffer_too_small",
        }
    }

    /// Whether `code` is well formed: `[a-z][a-z0-9_]*` ([UH-REPLY-8]). Every code of
    /// Appendix B is, and so must be every code an application handler chooses.
    pub fn is_valid(code: &str) -> bool {
        let mut bytes = code.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    /// Looks a wire code up.
    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// Response, error or local.
    pub const fn kind(self) -> CodeKind {
        match self {
            Code::Healthy
            | Code::Registered
            | Code::Unregistered
            | Code::Nodes
            | Code::NodesUpdated
            | Code::Subscribed
            | Code::Unsubscribed
            | Code::Published
            | Code::Queued
            | Code::NoHandler => CodeKind::Response,
            Code::Incomplete | Code::BufferTooSmall => CodeKind::Local,
            _ => CodeKind::Error,
        }
    }

    /// The status byte a reply with this code carries (Appendix B); `None` for local codes.
    pub const fn status(self) -> Option<u8> {
        match self.kind() {
            CodeKind::Response => Some(crate::status::OK),
            CodeKind::Local => None,
            CodeKind::Error => match self {
                Code::RegistryFull | Code::Internal => Some(crate::status::REPLIER_FAULT),
                _ => Some(crate::status::REQUESTER_FAULT),
            },
        }
    }

    /// The fixed message of this code where Appendix B gives one independent of the request
    /// type. Codes whose message depends on the type (`invalid_data`, `not_registered`, …)
    /// get theirs from [`crate::core_events::CoreType::failure_message`].
    pub const fn fixed_message(self) -> Option<&'static str> {
        Some(match self {
            Code::Healthy => "Service is healthy",
            Code::Nodes => "Active nodes",
            Code::NodesUpdated => "Succesfully updated active nodes",
            Code::Subscribed => "Successful subscribed to event",
            Code::Unsubscribed => "Successfully unsubscribed from event",
            Code::Published => "Event published",
            Code::Queued => "Event queued",
            Code::NoHandler => "No Handler for Event registered",
            Code::TooLarge => "Payload too large",
            Code::UnsupportedVersion => "Unsupported protocol version",
            Code::BadStatus => "Error in Message",
            Code::InvalidUtf8 => "Payload is not valid UTF-8",
            Code::InvalidJson => "Payload is not valid JSON",
            Code::TooDeep => "Payload nests too deeply",
            Code::DuplicateMember => "Duplicate member in event",
            Code::InvalidEvent => "Invalid event",
            Code::ReservedType => "Failed to publish event",
            Code::Unhealthy | Code::AlreadyRegistered | Code::RegistryFull => {
                "Failed to register microservice"
            }
            Code::Internal => "Internal error",
            _ => return None,
        })
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for (i, a) in Code::ALL.iter().enumerate() {
            assert_eq!(Code::parse(a.as_str()), Some(*a));
            for b in &Code::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
        assert_eq!(Code::parse("nope"), None);
    }

    #[test]
    fn codes_follow_uh_reply_8() {
        assert!(Code::ALL.iter().all(|c| Code::is_valid(c.as_str())));
        assert!(Code::is_valid("no_handler") && Code::is_valid("a1") && Code::is_valid("x"));
        for bad in ["", "1a", "Ab", "a-b", "_a", "aB", "a b", "µ"] {
            assert!(!Code::is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn statuses_follow_appendix_b() {
        assert_eq!(Code::NoHandler.status(), Some(1));
        assert_eq!(Code::BadStatus.status(), Some(2));
        assert_eq!(Code::Internal.status(), Some(0));
        assert_eq!(Code::RegistryFull.status(), Some(0));
        assert_eq!(Code::Incomplete.status(), None);
    }
}
