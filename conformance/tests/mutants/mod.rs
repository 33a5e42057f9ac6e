//! A test-only node with one injected fault at a time, and the catalogue of those faults:
//! each breaks exactly one requirement, which the conformance suite must then FAIL.

pub mod broker;
pub mod node;
pub mod registry;

use uhome_conformance::case::Role;

/// One injected fault. `Unfaulted` is the node without a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Unfaulted,
    // Framing.
    NoReassembly,
    AnswersPartialFrame,
    LengthLittleEndian,
    OnlyFirstFrameOfRead,
    // Version, status, and the order of the checks.
    ReplyVersionEchoed,
    InterpretsUnknownVersion,
    StatusAccepted,
    StatusBeforeVersion,
    DecodeBeforeStatus,
    LimitAfterDecode,
    // JSON strictness.
    AcceptsInvalidJson,
    AcceptsInvalidUtf8,
    AcceptsBom,
    AcceptsBadNumbers,
    AcceptsControlCharacters,
    AcceptsTrailingCharacters,
    RefusesDepth64,
    // Envelope rules.
    AcceptsNonObject,
    AcceptsMissingMember,
    AcceptsDuplicateMember,
    RefusesUnknownMember,
    RefusesOddTimestamp,
    // Reply envelope fields.
    StaleReplyId,
    EchoedReplyId,
    FixedTimestamp,
    UnparsableTimestamp,
    SourceVaries,
    WrongReplyType,
    ErrorStatus1,
    ErrorWithData,
    DataNotAnObject,
    // Codes, messages, reasons.
    NoResponseCode,
    NoErrorCode,
    UppercaseCode,
    WrongHealthyMessage,
    WrongNoHandlerMessage,
    NoReason,
    ReasonNamesNoMember,
    UnknownIsError,
    HealthcheckUnanswered,
    // Exchange and ordering.
    PipelinedReversed,
    DoubleReply,
    UnsolicitedFrame,
    ErrorsCloseConnection,
    HalfCloseDropsReply,
    SerialConnections,
    DiesOnReset,
    // Idle and trickle.
    NeverClosesIdle,
    TrickleRestartsIdle,
    FixedLifetime,
    IdleCloseResets,
    // Limits.
    TooLargeCloses,
    LimitNotEnforced,
    LimitBelowDeclared,
    TooLargeWithoutDiscard,
    // Registry rules.
    NoHealthCheck,
    RefusalCountsAsHealthy,
    UnhealthyWithoutReason,
    WrongRegisteredMessage,
    ReplacesHealthyOldAddress,
    RefusesSameAddress,
    RefusesDeadOldAddress,
    DuplicateEntryOnMove,
    PushAfterAnswering,
    NoPushOnUnregister,
    NoPushRetry,
    NoEviction,
    DiscoverReversed,
    UnregisterUnknownSucceeds,
    NoFullCheck,
    // Broker rules.
    DeliversToUnsubscribed,
    DuplicateDelivery,
    DeliveredCountsAttempts,
    FailedNotReported,
    ListReplacementDropsKept,
    ListReplacementKeepsRemoved,
    SubscribeWithoutRegistration,
    StarMatchesSeveralTokens,
    GreaterMatchesNoToken,
    UnsubscribeAlwaysRemoved,
    SequentialDeliveries,
    DeliveryFreshId,
    RefusedListApplied,
    PublisherMustBeListed,
    NodesUpdatedMessageFixed,
}

/// A fault with what it breaks.
pub struct Mutant {
    pub fault: Fault,
    /// Area of the score table.
    pub area: &'static str,
    /// The node it is injected into: `Any` for faults of every node (run against the node
    /// cases), `Registry` or `Broker` for those of a role.
    pub role: Role,
    /// The one requirement it violates: a case naming it must FAIL.
    pub requirement: &'static str,
    /// What the faulty node does.
    pub does: &'static str,
    /// When it cannot be observed on the wire: why (then it is expected to survive).
    pub unobservable: Option<&'static str>,
}

const fn m(
    fault: Fault,
    area: &'static str,
    role: Role,
    requirement: &'static str,
    does: &'static str,
) -> Mutant {
    Mutant {
        fault,
        area,
        role,
        requirement,
        does,
        unobservable: None,
    }
}

use Fault::*;
use Role::{Any as S, Broker as B, Registry as R};

/// Every fault.
pub const CATALOGUE: &[Mutant] = &[
    m(NoReassembly, "framing", S, "UH-EXCHANGE-3", "parses each TCP read as one whole frame (v0.0.1)"),
    m(AnswersPartialFrame, "framing", S, "UH-FRAME-3", "answers invalid_json as soon as a header has arrived without its payload"),
    m(LengthLittleEndian, "framing", S, "UH-FRAME-2", "reads the length field little-endian"),
    m(OnlyFirstFrameOfRead, "framing", S, "UH-EXCHANGE-4", "answers the first frame of a read and drops the rest of the read"),
    m(ReplyVersionEchoed, "version/status/order", S, "UH-VERSION-5", "replies with the request's version"),
    m(InterpretsUnknownVersion, "version/status/order", S, "UH-VERSION-4", "interprets a frame of version 3 or more as version 2"),
    m(StatusAccepted, "version/status/order", S, "UH-STATUS-3", "serves requests whatever their status"),
    m(StatusBeforeVersion, "version/status/order", S, "UH-EXCHANGE-10", "checks the status before the version"),
    m(DecodeBeforeStatus, "version/status/order", S, "UH-EXCHANGE-10", "reports a payload decoding error before a bad status"),
    m(LimitAfterDecode, "version/status/order", S, "UH-EXCHANGE-10", "checks its payload limit after decoding (an invalid oversized payload gets the decoding error)"),
    m(AcceptsInvalidJson, "JSON strictness", S, "UH-JSON-1", "takes payloads that are not JSON as events of no known type"),
    m(AcceptsInvalidUtf8, "JSON strictness", S, "UH-JSON-2", "takes payloads that are not UTF-8"),
    m(AcceptsBom, "JSON strictness", S, "UH-JSON-3", "skips a leading byte order mark"),
    m(AcceptsBadNumbers, "JSON strictness", S, "UH-JSON-4", "takes numbers outside the grammar (01, 1., +1)"),
    m(AcceptsControlCharacters, "JSON strictness", S, "UH-JSON-5", "takes raw control characters and unknown escapes in strings"),
    m(AcceptsTrailingCharacters, "JSON strictness", S, "UH-JSON-6", "ignores bytes after the top-level value"),
    m(RefusesDepth64, "JSON strictness", S, "UH-JSON-8", "refuses payloads nested 64 deep as too_deep"),
    m(AcceptsNonObject, "envelope rules", S, "UH-EVENT-1", "takes a version 2 payload that is not an object as an event"),
    m(AcceptsMissingMember, "envelope rules", S, "UH-EVENT-2", "takes events with a missing, empty or non-string envelope member"),
    m(AcceptsDuplicateMember, "envelope rules", S, "UH-EVENT-5", "takes envelopes with a repeated member name"),
    m(RefusesUnknownMember, "envelope rules", S, "UH-EVENT-4", "refuses events with members beyond the six"),
    m(RefusesOddTimestamp, "envelope rules", S, "UH-EVENT-6", "refuses events whose timestamp is not RFC 3339"),
    m(StaleReplyId, "reply envelope", S, "UH-REPLY-1", "sends every reply with the same id"),
    m(EchoedReplyId, "reply envelope", S, "UH-REPLY-1", "sends the request's id as the reply's id"),
    m(FixedTimestamp, "reply envelope", S, "UH-REPLY-1", "stamps every reply 1970-01-01T00:00:00Z"),
    m(UnparsableTimestamp, "reply envelope", S, "UH-REPLY-1", "stamps replies with text that is not a time"),
    m(SourceVaries, "reply envelope", S, "UH-REPLY-1", "sends every other reply with a source that is not its node id"),
    m(WrongReplyType, "reply envelope", S, "UH-REPLY-1", "types its replies µHome.reply"),
    m(ErrorStatus1, "reply envelope", S, "UH-STATUS-4", "sends µHome.error replies with status 1"),
    m(ErrorWithData, "reply envelope", S, "UH-REPLY-3", "puts a data member in µHome.error replies"),
    m(DataNotAnObject, "reply envelope", S, "UH-REPLY-2", "sends a response's data as its message string (v0.0.1)"),
    m(NoResponseCode, "codes/messages/reasons", S, "UH-REPLY-2", "sends responses without code (v0.0.1)"),
    m(NoErrorCode, "codes/messages/reasons", S, "UH-REPLY-3", "sends errors without code (v0.0.1)"),
    m(UppercaseCode, "codes/messages/reasons", S, "UH-REPLY-8", "writes codes in upper case"),
    m(WrongHealthyMessage, "codes/messages/reasons", S, "UH-CORE-2", "answers healthchecks with the message \"Service is up\""),
    m(WrongNoHandlerMessage, "codes/messages/reasons", S, "UH-REPLY-5", "answers unknown types with the message \"No handler\""),
    m(NoReason, "codes/messages/reasons", S, "UH-EVENT-2", "sends error replies without reason"),
    m(ReasonNamesNoMember, "codes/messages/reasons", S, "UH-EVENT-2", "gives every error the reason \"bad request\""),
    m(UnknownIsError, "codes/messages/reasons", S, "UH-REPLY-5", "answers an unknown type with an error"),
    m(HealthcheckUnanswered, "codes/messages/reasons", S, "UH-CORE-2", "has no healthcheck handler (answers no_handler)"),
    m(PipelinedReversed, "ordering", S, "UH-EXCHANGE-4", "answers the frames of one read in reverse order"),
    m(DoubleReply, "ordering", S, "UH-EXCHANGE-2", "answers unknown types twice"),
    m(UnsolicitedFrame, "ordering", S, "UH-EXCHANGE-1", "sends a healthcheck request of its own after each healthy reply"),
    m(ErrorsCloseConnection, "ordering", S, "UH-EXCHANGE-7", "closes the connection after every error reply"),
    m(HalfCloseDropsReply, "half-close", S, "UH-EXCHANGE-5", "closes without replying when the client has half-closed"),
    m(SerialConnections, "half-close", S, "UH-EXCHANGE-8", "serves one connection at a time"),
    m(DiesOnReset, "half-close", S, "UH-SECURITY-3", "stops listening once a client resets its connection"),
    m(NeverClosesIdle, "idle and trickle", S, "UH-EXCHANGE-6", "never closes an idle connection"),
    m(TrickleRestartsIdle, "idle and trickle", S, "UH-EXCHANGE-6", "restarts the idle timeout on every byte, so a trickling client holds the connection"),
    m(FixedLifetime, "idle and trickle", S, "UH-EXCHANGE-15", "closes every connection 3 s after it opened, whatever arrives"),
    Mutant {
        unobservable: Some(
            "on loopback every reply written reaches the client's receive buffer at once, and a reset \
             does not take back what that buffer holds; a reset loses replies only while they wait in \
             the node's send buffer, when the client leaves megabytes unread",
        ),
        ..m(IdleCloseResets, "idle and trickle", S, "UH-EXCHANGE-16", "resets the connection at the idle timeout instead of closing it, dropping replies not yet delivered")
    },
    m(TooLargeCloses, "limits", S, "UH-FRAME-6", "closes the connection after a too_large reply"),
    m(LimitNotEnforced, "limits", S, "UH-FRAME-6", "serves payloads above its declared limit"),
    m(LimitBelowDeclared, "limits", S, "UH-FRAME-6", "refuses payloads over 4000 bytes as too_large (every node accepts 4096)"),
    m(TooLargeWithoutDiscard, "limits", S, "UH-FRAME-6", "answers too_large from the header and reads the payload as frames"),
    m(NoHealthCheck, "registry rules", R, "UH-REGISTRY-1", "registers without a health check"),
    m(RefusalCountsAsHealthy, "registry rules", R, "UH-REGISTRY-1", "counts any reply to the health check, status 2 too, as healthy"),
    m(UnhealthyWithoutReason, "registry rules", R, "UH-REGISTRY-1", "refuses unhealthy nodes without the reason \"Unhealthy service\""),
    m(WrongRegisteredMessage, "registry rules", R, "UH-REGISTRY-3", "answers registrations with the message \"Registered\""),
    m(ReplacesHealthyOldAddress, "registry rules", R, "UH-REGISTRY-2", "moves a known node id to a new address while the old one is healthy"),
    m(RefusesSameAddress, "registry rules", R, "UH-REGISTRY-2", "refuses a re-registration at the same address"),
    m(RefusesDeadOldAddress, "registry rules", R, "UH-REGISTRY-2", "refuses a new address even when the old one is dead"),
    m(DuplicateEntryOnMove, "registry rules", R, "UH-REGISTRY-2", "adds a second entry when a node moves instead of replacing it"),
    m(PushAfterAnswering, "registry rules", R, "UH-REGISTRY-4", "pushes the list to the broker after answering the registration"),
    m(NoPushOnUnregister, "registry rules", R, "UH-REGISTRY-4", "does not push the list after an unregistration"),
    m(NoPushRetry, "registry rules", R, "UH-REGISTRY-4", "pushes once and never retries while the broker is down"),
    m(NoEviction, "registry rules", R, "UH-REGISTRY-5", "health-checks but never evicts"),
    m(DiscoverReversed, "registry rules", R, "UH-REGISTRY-8", "lists the nodes newest first"),
    m(UnregisterUnknownSucceeds, "registry rules", R, "UH-REGISTRY-7", "answers unregistered for a node id it does not know"),
    m(NoFullCheck, "registry rules", R, "UH-REGISTRY-9", "registers nodes beyond what one frame can list"),
    m(DeliversToUnsubscribed, "broker rules", B, "UH-BROKER-7", "delivers every publish to every listed node"),
    m(DuplicateDelivery, "broker rules", B, "UH-BROKER-7", "delivers once per matching pattern"),
    m(DeliveredCountsAttempts, "broker rules", B, "UH-BROKER-9", "counts failed deliveries as delivered"),
    m(FailedNotReported, "broker rules", B, "UH-BROKER-9", "reports failed as [] whatever happened"),
    m(ListReplacementDropsKept, "broker rules", B, "UH-BROKER-2", "drops every subscription when the list is replaced"),
    m(ListReplacementKeepsRemoved, "broker rules", B, "UH-BROKER-2", "keeps the subscriptions of removed nodes"),
    m(SubscribeWithoutRegistration, "broker rules", B, "UH-BROKER-4", "takes subscriptions from nodes not in its list"),
    m(StarMatchesSeveralTokens, "broker rules", B, "UH-BROKER-3", "lets * match several tokens"),
    m(GreaterMatchesNoToken, "broker rules", B, "UH-BROKER-3", "lets > match zero tokens"),
    m(UnsubscribeAlwaysRemoved, "broker rules", B, "UH-BROKER-5", "answers removed: true whether the pattern was there or not"),
    m(SequentialDeliveries, "broker rules", B, "UH-BROKER-8", "delivers one subscriber after another without a deadline"),
    m(DeliveryFreshId, "broker rules", B, "UH-BROKER-7", "delivers with a fresh id instead of the publisher's"),
    m(RefusedListApplied, "broker rules", B, "UH-BROKER-1", "applies a list it refuses (a repeated node id)"),
    m(PublisherMustBeListed, "broker rules", B, "UH-BROKER-6", "refuses publishes from nodes not in its list"),
    m(NodesUpdatedMessageFixed, "broker rules", B, "UH-BROKER-1", "answers the list with \"Successfully updated active nodes\" (the spec keeps v0.0.1's spelling)"),
];

impl Fault {
    /// Whether the registry's health rounds do not push the list (a registry without the
    /// SHOULD of [UH-REGISTRY-6]: a round's push would otherwise retry or supersede).
    pub fn quiet_rounds(self) -> bool {
        matches!(self, NoPushOnUnregister | NoPushRetry)
    }

    /// Whether the node declares a payload limit below 65535 for this fault.
    pub fn limited(self) -> bool {
        matches!(
            self,
            LimitAfterDecode
                | TooLargeCloses
                | LimitNotEnforced
                | LimitBelowDeclared
                | TooLargeWithoutDiscard
        )
    }
}
