//! What verification refuses, and the codes of section 14 of `spec/protocol.md` for it.

use core::fmt;

use crate::error::Error;

/// A member of the authenticator (`auth`) or of an origin signature (`origin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The envelope member `auth`.
    Auth,
    /// The member `origin` (of a delivered event, or of a publish's `data`).
    Origin,
    /// `kid`: the signer's key id.
    Kid,
    /// `ts`: the signer's clock, Unix milliseconds.
    Ts,
    /// `nonce`: 16 random bytes.
    Nonce,
    /// `sig`: the Ed25519 signature.
    Sig,
    /// `aud`: the key id of the node the request is for.
    Aud,
    /// `re`: in a reply, the nonce of the request.
    Re,
}

impl Field {
    /// The member's name.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Auth => "auth",
            Field::Origin => "origin",
            Field::Kid => "kid",
            Field::Ts => "ts",
            Field::Nonce => "nonce",
            Field::Sig => "sig",
            Field::Aud => "aud",
            Field::Re => "re",
        }
    }
}

/// Why an authenticator is out of form (`unauthenticated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFault {
    /// The member is absent (for `auth`: the frame carries no authenticator).
    Missing(Field),
    /// The member occurs more than once (names compared after unescaping).
    Repeated(Field),
    /// The member's value is not of its form: `auth` and `origin` an object; `kid` and `aud`
    /// 16, `nonce` and `re` 32, `sig` 128 lowercase hex characters in a string without
    /// escapes; `ts` an integer from 0 to 2^53 − 1 without sign, fraction or exponent.
    Malformed(Field),
}

/// The codes of `UH-AUTH-27` (section 14 of `spec/protocol.md`, Appendix B.2), each with
/// status 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthCode {
    /// `unauthenticated`: no authenticator, or one out of form.
    Unauthenticated,
    /// `bad_signature`: the signature does not verify.
    BadSignature,
    /// `unknown_key`: no key is known for the key id.
    UnknownKey,
    /// `stale`: `ts` is further from the receiver's clock than the skew allows.
    Stale,
    /// `replayed`: the nonce was seen, or `ts` is at or below the cache's floor, or a reply's
    /// `re` is not the request's nonce.
    Replayed,
    /// `forbidden`: authentic, but not for this receiver or not allowed to this sender.
    Forbidden,
}

impl AuthCode {
    /// All six codes.
    pub const ALL: [AuthCode; 6] = [
        AuthCode::Unauthenticated,
        AuthCode::BadSignature,
        AuthCode::UnknownKey,
        AuthCode::Stale,
        AuthCode::Replayed,
        AuthCode::Forbidden,
    ];

    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthCode::Unauthenticated => "unauthenticated",
            AuthCode::BadSignature => "bad_signature",
            AuthCode::UnknownKey => "unknown_key",
            AuthCode::Stale => "stale",
            AuthCode::Replayed => "replayed",
            AuthCode::Forbidden => "forbidden",
        }
    }

    /// The message `UH-AUTH-27` gives the code.
    pub const fn message(self) -> &'static str {
        match self {
            AuthCode::Unauthenticated => "Request is not authenticated",
            AuthCode::BadSignature => "Signature does not verify",
            AuthCode::UnknownKey => "Unknown key",
            AuthCode::Stale => "Request is stale",
            AuthCode::Replayed => "Request was replayed",
            AuthCode::Forbidden => "Request is forbidden",
        }
    }

    /// The status byte of the error reply: always 2, the requester's fault.
    pub const fn status(self) -> u8 {
        crate::status::REQUESTER_FAULT
    }
}

/// Why a frame or an origin signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// The frame does not decode (a code of Appendix B), or an encoder's buffer is too
    /// small. Decoding precedes every check of authentication.
    Decode(Error),
    /// `unauthenticated`.
    Unauthenticated(AuthFault),
    /// `unknown_key`.
    UnknownKey,
    /// `stale`.
    Stale,
    /// `bad_signature`.
    BadSignature,
    /// `forbidden`: the request's `aud` is absent or names another key.
    Forbidden,
    /// `replayed`.
    Replayed,
}

impl AuthError {
    /// The code of section 14, or `None` for a decoding error (see [`AuthError::wire_code`]).
    pub const fn code(&self) -> Option<AuthCode> {
        Some(match self {
            AuthError::Decode(_) => return None,
            AuthError::Unauthenticated(_) => AuthCode::Unauthenticated,
            AuthError::UnknownKey => AuthCode::UnknownKey,
            AuthError::Stale => AuthCode::Stale,
            AuthError::BadSignature => AuthCode::BadSignature,
            AuthError::Forbidden => AuthCode::Forbidden,
            AuthError::Replayed => AuthCode::Replayed,
        })
    }

    /// The code a reply carries for this error, whichever registry it comes from.
    pub const fn wire_code(&self) -> &'static str {
        match (self, self.code()) {
            (AuthError::Decode(e), _) => e.code().as_str(),
            (_, Some(code)) => code.as_str(),
            (_, None) => "internal",
        }
    }
}

impl From<Error> for AuthError {
    fn from(e: Error) -> Self {
        AuthError::Decode(e)
    }
}

impl fmt::Display for AuthFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFault::Missing(Field::Auth) => f.write_str("member \"auth\" is missing"),
            AuthFault::Missing(m) => write!(f, "member \"{}\" is missing", m.name()),
            AuthFault::Repeated(m) => write!(f, "member \"{}\" occurs more than once", m.name()),
            AuthFault::Malformed(m) => write!(f, "member \"{}\" is not of its form", m.name()),
        }
    }
}

impl fmt::Display for AuthError {
    /// The reason, for people (the `reason` of an error reply).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Decode(e) => e.fmt(f),
            AuthError::Unauthenticated(fault) => fault.fmt(f),
            AuthError::UnknownKey => f.write_str("no key is known for \"kid\""),
            AuthError::Stale => f.write_str("\"ts\" is outside the receiver's clock window"),
            AuthError::BadSignature => f.write_str("\"sig\" does not verify"),
            AuthError::Forbidden => f.write_str("\"aud\" does not name this node"),
            AuthError::Replayed => f.write_str("the nonce was seen before"),
        }
    }
}

impl core::error::Error for AuthError {}
