//! Authenticated frames and origin signatures (section 14 of `spec/protocol.md`,
//! `UH-AUTH`). Compiled with the cargo feature `auth` only.
//!
//! - [`KeyId`]: a node's Ed25519 public key named by the first 8 bytes of its SHA-512.
//! - [`sign_frame`] / [`sign_in_place`] write the envelope member `auth`; [`verify_frame`]
//!   and [`verify_reply`] check it in the order of `UH-AUTH-26`: form (`unauthenticated`), key
//!   (`unknown_key`), clock (`stale`), signature (`bad_signature`), audience (`forbidden`),
//!   freshness of the nonce or the reply's binding (`replayed`).
//! - [`sign_origin`] / [`verify_origin`]: the publisher's signature over what a broker
//!   delivers, so a subscriber checks a delivery end to end.
//! - [`ReplayCache`]: the nonces seen within the clock window, in a fixed capacity.
//!
//! The frame signature covers the header's version and status and every payload byte: the
//! digest is SHA-512 over `"uhome-frame-v1" 0x00 version(u16 BE) status(u8)` and the payload
//! with the 128 characters of the `sig` value read as `'0'`, hashed in three slices without a
//! copy. Ed25519 (RFC 8032, pure) signs that 64-byte digest.
//!
//! ```
//! use uhome_protocol::auth::{
//!     sign_frame, verify_frame, AuthError, KeyId, Nonce, ReplayCache, Signer, SigningKey,
//!     VerifyOptions,
//! };
//! use uhome_protocol::{Body, Envelope, Frame, V2};
//!
//! let key = SigningKey::from_bytes(&[7; 32]); // from the node's key file
//! let now = 1_764_713_150_481; // Unix ms
//! let envelope = Envelope {
//!     id: "1",
//!     timestamp: "2026-12-02T18:40:00.000Z",
//!     source: "µHome/hall",
//!     event_type: "µHome.core.healthcheck",
//! };
//! let signer = Signer { key: &key, ts: now, nonce: Nonce([9; 16]), aud: None, re: None };
//! let mut out = [0u8; 512];
//! let n = sign_frame(&mut out, V2, 1, &envelope, Body::None, &signer).unwrap();
//!
//! // The receiver: its known keys, its clock, its replay cache.
//! let keys = [(KeyId::of(&key.verifying_key()), key.verifying_key())];
//! let mut cache = ReplayCache::<64>::new();
//! let (frame, _) = Frame::decode(&out[..n]).complete().unwrap();
//! let verified = verify_frame(&frame, &keys, now, &mut cache, &VerifyOptions::default());
//! assert_eq!(verified.unwrap().event.source, "µHome/hall");
//! let again = verify_frame(&frame, &keys, now, &mut cache, &VerifyOptions::default());
//! assert_eq!(again.unwrap_err(), AuthError::Replayed);
//! ```

mod error;
mod fields;
mod frame;
mod hex;
mod keys;
mod origin;
mod replay;

/// The Ed25519 implementation, for what this module does not wrap (key generation from a
/// random source, raw signatures).
pub use ed25519_dalek;
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
pub use error::{AuthCode, AuthError, AuthFault, Field};
pub use frame::{
    append_member, frame_digest, request_nonce, sign_encoded, sign_frame, sign_in_place,
    verify_frame, verify_reply, Signer, Verified, VerifyOptions,
};
pub use keys::{KeyId, KeyStore, Nonce};
pub use origin::{origin_digest, sign_origin, verify_origin, Origin, SignedText};
pub use replay::ReplayCache;

/// The default tolerance between a sender's `ts` and the receiver's clock: 30 s.
pub const DEFAULT_SKEW_MS: u64 = 30_000;
/// Largest `ts` accepted: 2^53 − 1, the largest integer every JSON peer reads exactly.
pub const MAX_TS: u64 = (1 << 53) - 1;
/// Characters of a `sig` value: 64 bytes in lowercase hex.
pub const SIG_HEX_LEN: usize = 128;
/// The frame signature's domain string.
pub const FRAME_DOMAIN: &[u8] = b"uhome-frame-v1";
/// The origin signature's domain string.
pub const ORIGIN_DOMAIN: &[u8] = b"uhome-origin-v1";
