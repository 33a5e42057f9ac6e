//! Signed frames as the suite makes and checks them (section 14 of spec/protocol.md): its
//! requests, the replies of the peers it plays, and the checks of what a secure node sends.

use uhome_protocol::auth::{
    sign_encoded, verify_frame, verify_origin, verify_reply, AuthError, KeyId, Nonce, ReplayCache,
    Signer, SigningKey, VerifyOptions, VerifyingKey,
};
use uhome_protocol::{Decoded, Frame};

/// Room the member `auth` takes at most (a 16-digit `ts`, `aud` and `re`).
const AUTH_ROOM: usize = 400;

/// A key the suite signs with, and the node id the target's policy pins it to.
#[derive(Clone)]
pub struct Identity {
    /// The node id.
    pub node_id: String,
    /// The secret key.
    pub key: SigningKey,
}

impl Identity {
    /// The key id ([UH-AUTH-1]).
    pub fn kid(&self) -> KeyId {
        KeyId::of(&self.key.verifying_key())
    }

    /// The public key, 64 lowercase hex characters.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }
}

pub use uhome_runtime::security::now_ms;

/// 16 bytes from the operating system's random source.
pub fn fresh_nonce() -> Nonce {
    let mut n = [0u8; 16];
    if getrandom::fill(&mut n).is_err() {
        // A clock-derived nonce still differs per call within a run.
        n.copy_from_slice(
            &u128::from(now_ms())
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .to_be_bytes(),
        );
    }
    Nonce(n)
}

/// A key that no policy pins.
pub fn fresh_key() -> SigningKey {
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(16) {
        chunk.copy_from_slice(&fresh_nonce().0);
    }
    SigningKey::from_bytes(&seed)
}

/// Parses a 64-hex secret or public key, in either case.
pub fn parse32(text: &str) -> Option<[u8; 32]> {
    uhome_runtime::security::parse_hex32(&text.to_ascii_lowercase())
}

/// What goes into one authenticator.
#[derive(Debug, Clone, Copy)]
pub struct Sign {
    /// `ts`
    pub ts: u64,
    /// `nonce`
    pub nonce: Nonce,
    /// `aud`
    pub aud: Option<KeyId>,
    /// `re`
    pub re: Option<Nonce>,
}

impl Sign {
    /// Now, a fresh nonce, for `aud`.
    pub fn request(aud: Option<KeyId>) -> Sign {
        Sign {
            ts: now_ms(),
            nonce: fresh_nonce(),
            aud,
            re: None,
        }
    }
}

/// `frame` (one encoded event frame, object payload) with `auth` signed by `key`.
pub fn sign(frame: &[u8], key: &SigningKey, how: Sign) -> Option<Vec<u8>> {
    let mut out = vec![0u8; frame.len() + AUTH_ROOM];
    out.get_mut(..frame.len())?.copy_from_slice(frame);
    let signer = Signer {
        key,
        ts: how.ts,
        nonce: how.nonce,
        aud: how.aud,
        re: how.re,
    };
    let n = sign_encoded(&mut out, frame.len(), &signer).ok()?;
    out.truncate(n);
    Some(out)
}

/// The nonce of a request's authenticator, its signature unchecked.
pub fn nonce_of(frame: &Frame<'_>) -> Option<Nonce> {
    uhome_protocol::auth::request_nonce(frame)
}

fn decoded(bytes: &[u8]) -> Result<Frame<'_>, AuthError> {
    match Frame::decode(bytes) {
        Decoded::Complete(frame, _) => Ok(frame),
        Decoded::Partial { needed } => Err(uhome_protocol::Error::Incomplete { needed }.into()),
    }
}

/// Checks a reply the target sent to the request whose nonce was `nonce`: signed by `key`,
/// within `skew_ms`, with `re` = `nonce` ([UH-AUTH-6]).
pub fn check_reply(
    bytes: &[u8],
    key: &VerifyingKey,
    nonce: &Nonce,
    skew_ms: u64,
) -> Result<(), AuthError> {
    let frame = decoded(bytes)?;
    let store = [(KeyId::of(key), *key)];
    let options = VerifyOptions {
        skew_ms,
        audience: None,
    };
    verify_reply(&frame, &store[..], now_ms(), nonce, &options).map(|_| ())
}

/// Checks a request the target sent to a peer the suite plays: signed by `key`, for the
/// audience `aud` ([UH-AUTH-5]). Returns its nonce.
pub fn check_request(
    bytes: &[u8],
    key: &VerifyingKey,
    aud: KeyId,
    skew_ms: u64,
) -> Result<Nonce, AuthError> {
    let frame = decoded(bytes)?;
    let store = [(KeyId::of(key), *key)];
    let options = VerifyOptions {
        skew_ms,
        audience: Some(aud),
    };
    let mut cache = ReplayCache::<1>::new();
    verify_frame(&frame, &store[..], now_ms(), &mut cache, &options).map(|v| v.nonce)
}

/// Checks a delivery the target (a broker) sent to a subscriber the suite plays: the frame
/// signed by `broker` for the audience `aud` ([UH-AUTH-5]), then its root member `origin`,
/// the publisher's signature over what was delivered ([UH-AUTH-11]). Says which failed.
pub fn check_delivery(
    bytes: &[u8],
    broker: &VerifyingKey,
    aud: KeyId,
    publisher: &VerifyingKey,
    skew_ms: u64,
) -> Result<(), String> {
    let frame = decoded(bytes).map_err(|e| format!("the delivery: {e}"))?;
    let store = [(KeyId::of(broker), *broker)];
    let options = VerifyOptions {
        skew_ms,
        audience: Some(aud),
    };
    let mut cache = ReplayCache::<1>::new();
    let verified = verify_frame(&frame, &store[..], now_ms(), &mut cache, &options)
        .map_err(|e| format!("the delivery's frame, with the broker's key: {e}"))?;
    let origin = verified
        .origin()
        .map_err(|e| format!("the delivery's origin: {e}"))?;
    let kid = KeyId::of(publisher);
    let publishers = [(kid, *publisher)];
    let mut cache = ReplayCache::<1>::new();
    verify_origin(
        origin,
        &verified.event,
        &publishers[..],
        now_ms(),
        &mut cache,
        skew_ms,
        Some(&kid),
    )
    .map(|_| ())
    .map_err(|e| format!("the delivery's origin, with the publisher's key: {e}"))
}
