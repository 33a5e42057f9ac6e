//! The frame authenticator: the envelope member
//! `"auth": {"kid", "ts", "nonce", ["aud",] ["re",] "sig"}`.

use ed25519_dalek::{Signature, Signer as _, SigningKey};
use sha2::{Digest, Sha512};

use super::error::{AuthError, AuthFault, Field};
use super::fields::{auth_fields, member, root, AuthFields};
use super::keys::{KeyId, KeyStore, Nonce};
use super::replay::ReplayCache;
use super::{DEFAULT_SKEW_MS, FRAME_DOMAIN, MAX_TS, SIG_HEX_LEN};
use crate::encode::{encode_event, Body, Envelope, WriteJson};
use crate::error::Error;
use crate::event::{Event, Message};
use crate::frame::Frame;
use crate::header::{HEADER_LEN, MAX_PAYLOAD_LEN};
use crate::json::RawJson;

/// The 64-byte digest a frame's signature signs: SHA-512 of `"uhome-frame-v1"`, `0x00`,
/// `version` (u16 big-endian), `status`, then `payload` with the 128 bytes from `sig_at`
/// read as ASCII `'0'`. The payload is hashed in place, in three slices.
pub fn frame_digest(version: u16, status: u8, payload: &[u8], sig_at: usize) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(FRAME_DOMAIN);
    h.update([0u8]);
    h.update(version.to_be_bytes());
    h.update([status]);
    let end = sig_at.saturating_add(SIG_HEX_LEN);
    h.update(payload.get(..sig_at).unwrap_or(payload));
    if sig_at < payload.len() {
        h.update([b'0'; SIG_HEX_LEN]);
        h.update(payload.get(end..).unwrap_or_default());
    }
    h.finalize().into()
}

/// What a sender puts in the authenticator.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'k> {
    /// The sender's key; its id is the `kid`.
    pub key: &'k SigningKey,
    /// The sender's clock, Unix milliseconds (at most [`MAX_TS`]).
    pub ts: u64,
    /// A fresh random nonce.
    pub nonce: Nonce,
    /// The key id of the node the request is for (requests in `secure` mode).
    pub aud: Option<KeyId>,
    /// In a reply, the request's nonce.
    pub re: Option<Nonce>,
}

/// What a receiver checks beyond the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The largest distance allowed between `ts` and the receiver's clock, in milliseconds.
    pub skew_ms: u64,
    /// The receiver's own key id: when set, a request must carry `aud` equal to it
    /// (else `forbidden`).
    pub audience: Option<KeyId>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            skew_ms: DEFAULT_SKEW_MS,
            audience: None,
        }
    }
}

/// A frame whose authenticator verified.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    /// The decoded event.
    pub event: Event<'a>,
    /// The signer's key id.
    pub kid: KeyId,
    /// The signer's clock.
    pub ts: u64,
    /// The frame's nonce.
    pub nonce: Nonce,
    /// The audience, if the frame names one.
    pub aud: Option<KeyId>,
    root: RawJson<'a>,
}

impl<'a> Verified<'a> {
    /// The root member `origin` (a delivered event's origin signature).
    pub fn origin(&self) -> Result<RawJson<'a>, AuthError> {
        member(self.root, Field::Origin)
            .map_err(AuthError::Unauthenticated)?
            .ok_or(AuthError::Unauthenticated(AuthFault::Missing(
                Field::Origin,
            )))
    }

    /// The whole payload as a JSON value.
    pub const fn root(&self) -> RawJson<'a> {
        self.root
    }
}

/// Writes an event frame as [`encode_event`] does, with the member `auth` last, signed.
/// Returns the frame's length.
pub fn sign_frame(
    out: &mut [u8],
    version: u16,
    status: u8,
    envelope: &Envelope<'_>,
    body: Body<'_>,
    signer: &Signer<'_>,
) -> Result<usize, AuthError> {
    let n = encode_event(out, version, status, envelope, body)?;
    sign_encoded(out, n, signer)
}

/// Appends the member `auth` to the event frame in `out[..len]` (an object payload, as
/// [`encode_event`] and [`append_member`] write it) and signs the frame. Returns the
/// frame's new length.
pub fn sign_encoded(out: &mut [u8], len: usize, signer: &Signer<'_>) -> Result<usize, AuthError> {
    if signer.ts > MAX_TS {
        return Err(AuthError::Unauthenticated(AuthFault::Malformed(Field::Ts)));
    }
    let total = append_member(out, len, "auth", &Placeholder(signer))?;
    let frame = out.get_mut(..total).ok_or(Error::BufferTooSmall)?;
    sign_in_place(frame, signer.key)?;
    Ok(total)
}

/// Appends the member `"name": value` to the object payload of the frame in `out[..len]`:
/// its closing `}` is replaced by `,"name":value}` (or `"name":value}` after `{`) and the
/// header's length updated. `name` is written as it is, so it must need no escapes. A
/// broker writes `origin` on a delivery so. Returns the frame's new length.
pub fn append_member(
    out: &mut [u8],
    len: usize,
    name: &str,
    value: &dyn WriteJson,
) -> Result<usize, Error> {
    let close = len
        .checked_sub(1)
        .filter(|c| *c > HEADER_LEN)
        .ok_or(Error::BufferTooSmall)?;
    if out.get(close) != Some(&b'}') {
        return Err(Error::InvalidData("the payload does not end with '}'"));
    }
    let empty = out.get(close - 1) == Some(&b'{') && close - 1 == HEADER_LEN;
    let mut w = Cursor { out, at: close };
    if !empty {
        w.put(b",")?;
    }
    w.put(b"\"")?;
    w.put(name.as_bytes())?;
    w.put(b"\":")?;
    let rest = w.out.get_mut(w.at..).ok_or(Error::BufferTooSmall)?;
    w.at += value.write_json(rest)?;
    w.put(b"}")?;
    let total = w.at;
    let length = total
        .checked_sub(HEADER_LEN)
        .filter(|len| *len <= MAX_PAYLOAD_LEN)
        .and_then(|len| u16::try_from(len).ok())
        .ok_or(Error::TooLarge)?;
    if let Some(head) = w.out.get_mut(..4) {
        let [l0, l1] = length.to_be_bytes();
        if let [h0, h1, ..] = head {
            *h0 = l0;
            *h1 = l1;
        }
    }
    Ok(total)
}

/// The authenticator with a `sig` of 128 `'0'`, for [`sign_in_place`] to fill.
struct Placeholder<'s, 'k>(&'s Signer<'k>);

impl WriteJson for Placeholder<'_, '_> {
    fn write_json(&self, out: &mut [u8]) -> Result<usize, Error> {
        let signer = self.0;
        let mut w = Cursor { out, at: 0 };
        w.put(b"{\"kid\":\"")?;
        w.put(&KeyId::of(&signer.key.verifying_key()).to_hex())?;
        w.put(b"\",\"ts\":")?;
        w.decimal(signer.ts)?;
        w.put(b",\"nonce\":\"")?;
        w.put(&signer.nonce.to_hex())?;
        if let Some(aud) = signer.aud {
            w.put(b"\",\"aud\":\"")?;
            w.put(&aud.to_hex())?;
        }
        if let Some(re) = signer.re {
            w.put(b"\",\"re\":\"")?;
            w.put(&re.to_hex())?;
        }
        w.put(b"\",\"sig\":\"")?;
        w.put(&[b'0'; SIG_HEX_LEN])?;
        w.put(b"\"}")?;
        Ok(w.at)
    }
}

/// Signs a frame that already carries an authenticator: `frame` starts with one whole frame
/// whose payload is an event with a member `auth` whose `sig` is any 128 lowercase hex
/// characters (128 `'0'` by convention). Writes the signature over them. For encoders other
/// than [`sign_frame`].
pub fn sign_in_place(frame: &mut [u8], key: &SigningKey) -> Result<(), AuthError> {
    let (sig_at, digest) = {
        let decoded = match Frame::decode(frame) {
            crate::Decoded::Complete(decoded, _) => decoded,
            crate::Decoded::Partial { needed } => return Err(Error::Incomplete { needed }.into()),
        };
        let fields = authenticated(&decoded, false, false)?.1;
        let digest = frame_digest(
            decoded.header.version,
            decoded.header.status,
            decoded.payload,
            fields.sig_at,
        );
        (fields.sig_at, digest)
    };
    let sig = key.sign(&digest).to_bytes();
    let start = HEADER_LEN + sig_at;
    let slot = frame
        .get_mut(start..start + SIG_HEX_LEN)
        .ok_or(AuthError::Unauthenticated(AuthFault::Malformed(Field::Sig)))?;
    super::hex::encode(&sig, slot);
    Ok(())
}

/// Decodes the frame (as a request: status 1, [`Frame::request`]; or with any status) and
/// reads its authenticator; `reply` requires `re`.
fn authenticated<'a>(
    frame: &Frame<'a>,
    request: bool,
    reply: bool,
) -> Result<(Event<'a>, AuthFields, RawJson<'a>), AuthError> {
    let message = if request {
        frame.request()
    } else {
        frame.message()
    }?;
    let Message::Event(event) = message else {
        return Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Auth)));
    };
    // Already validated by the decoder; the error branch is not taken.
    let text = core::str::from_utf8(frame.payload).map_err(|e| Error::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let fields = auth_fields(text, reply).map_err(AuthError::Unauthenticated)?;
    Ok((event, fields, root(text)))
}

/// The checks common to requests and replies, in the order of `UH-AUTH-26` after
/// decoding: form, key, clock, signature, audience.
fn verify_common<'a, K: KeyStore + ?Sized>(
    frame: &Frame<'a>,
    keys: &K,
    now_ms: u64,
    options: &VerifyOptions,
    reply: bool,
) -> Result<(Verified<'a>, Option<Nonce>), AuthError> {
    let (event, fields, root) = authenticated(frame, !reply, reply)?;
    let key = keys
        .key(&fields.kid)
        .filter(|key| fields.kid.names(key))
        .ok_or(AuthError::UnknownKey)?;
    if now_ms.abs_diff(fields.ts) > options.skew_ms {
        return Err(AuthError::Stale);
    }
    let digest = frame_digest(
        frame.header.version,
        frame.header.status,
        frame.payload,
        fields.sig_at,
    );
    key.verify_strict(&digest, &Signature::from_bytes(&fields.sig))
        .map_err(|_| AuthError::BadSignature)?;
    if let Some(own) = options.audience {
        if fields.aud != Some(own) {
            return Err(AuthError::Forbidden);
        }
    }
    Ok((
        Verified {
            event,
            kid: fields.kid,
            ts: fields.ts,
            nonce: fields.nonce,
            aud: fields.aud,
            root,
        },
        fields.re,
    ))
}

/// Verifies a request: decodes it as [`Frame::request`] does (its errors come first, as
/// [`AuthError::Decode`]), then checks, in this order, that it carries a well-formed
/// authenticator (`unauthenticated`), that `keys` knows its key (`unknown_key`), that `ts`
/// is within `options.skew_ms` of `now_ms` (`stale`), that the signature verifies
/// (`bad_signature`), that `aud` names `options.audience` when that is set (`forbidden`),
/// and that the nonce is new to `cache` (`replayed`), where it is then recorded.
pub fn verify_frame<'a, K: KeyStore + ?Sized, const N: usize>(
    frame: &Frame<'a>,
    keys: &K,
    now_ms: u64,
    cache: &mut ReplayCache<N>,
    options: &VerifyOptions,
) -> Result<Verified<'a>, AuthError> {
    let (verified, _) = verify_common(frame, keys, now_ms, options, false)?;
    cache.check_and_insert(
        &verified.kid,
        &verified.nonce.0,
        verified.ts,
        now_ms,
        options.skew_ms,
    )?;
    Ok(verified)
}

/// The nonce of a request's authenticator when the request decodes and its `auth` is in
/// form, its signature unchecked: what a node writes as `re` in the reply that refuses it.
pub fn request_nonce(frame: &Frame<'_>) -> Option<Nonce> {
    authenticated(frame, true, false)
        .ok()
        .map(|(_, fields, _)| fields.nonce)
}

/// Verifies a reply to the request whose nonce was `request`: decodes it as
/// [`Frame::message`] does (any status), checks as [`verify_frame`] does up to the signature
/// and the audience, then that `re` is `request` (`replayed` otherwise; a reply without `re`
/// is `unauthenticated`). No cache is needed: the request's nonce is fresh and one reply is
/// read per request. `keys` should hold only the key of the node called.
pub fn verify_reply<'a, K: KeyStore + ?Sized>(
    frame: &Frame<'a>,
    keys: &K,
    now_ms: u64,
    request: &Nonce,
    options: &VerifyOptions,
) -> Result<Verified<'a>, AuthError> {
    let (verified, re) = verify_common(frame, keys, now_ms, options, true)?;
    match re {
        Some(re) if re.ct_eq(request) => Ok(verified),
        Some(_) => Err(AuthError::Replayed),
        None => Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Re))),
    }
}

struct Cursor<'b> {
    out: &'b mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.at + bytes.len();
        self.out
            .get_mut(self.at..end)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }

    fn decimal(&mut self, mut n: u64) -> Result<(), Error> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.put(digits.get(i..).unwrap_or_default())
    }
}
