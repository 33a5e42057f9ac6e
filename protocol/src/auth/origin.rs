//! The origin signature: the publisher's signature over what the broker delivers
//! ([UH-BROKER-7]: `id`, `timestamp` and `source` of the publish, `type` = `data.type`,
//! `data` = `data.data`), carried as `data.origin` in the publish and as the root member
//! `origin` of each delivery.

use ed25519_dalek::{Signature, Signer as _, SigningKey};
use sha2::{Digest, Sha512};

use super::error::{AuthError, AuthFault, Field};
use super::fields::origin_fields;
use super::keys::{KeyId, KeyStore};
use super::replay::ReplayCache;
use super::{hex, MAX_TS, ORIGIN_DOMAIN};
use crate::encode::{Envelope, WriteJson};
use crate::error::Error;
use crate::event::Event;
use crate::json::{JsonStr, RawJson};

/// A string as the origin digest reads it: its unescaped UTF-8.
pub trait SignedText {
    /// Feeds `u32 BE length ‖ bytes` of the unescaped text to `h`.
    fn feed(&self, h: &mut Sha512);
}

impl SignedText for &str {
    fn feed(&self, h: &mut Sha512) {
        h.update(u32::try_from(self.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(self.as_bytes());
    }
}

impl SignedText for JsonStr<'_> {
    fn feed(&self, h: &mut Sha512) {
        if let Some(plain) = self.as_plain() {
            return plain.feed(h);
        }
        let len = self.unescaped_len();
        h.update(u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        let mut buf = [0u8; 4];
        for c in self.chars() {
            h.update(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// The 64-byte digest an origin signature signs: SHA-512 of `"uhome-origin-v1"`, `0x00`,
/// `ts` (u64 big-endian), then `id`, `timestamp`, `source` and `event_type` each as
/// `u32 BE length ‖ unescaped UTF-8`, then `0x00` when `data` is absent, or `0x01` and the
/// data value's JSON text exactly as written (without surrounding whitespace).
pub fn origin_digest<T: SignedText>(
    ts: u64,
    id: T,
    timestamp: T,
    source: T,
    event_type: T,
    data: Option<RawJson<'_>>,
) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(ORIGIN_DOMAIN);
    h.update([0u8]);
    h.update(ts.to_be_bytes());
    for text in [id, timestamp, source, event_type] {
        text.feed(&mut h);
    }
    match data {
        None => h.update([0u8]),
        Some(value) => {
            h.update([1u8]);
            h.update(value.as_str().as_bytes());
        }
    }
    h.finalize().into()
}

/// An origin signature: `{"kid":…,"ts":…,"sig":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The publisher's key id.
    pub kid: KeyId,
    /// The publisher's clock when it signed, Unix milliseconds.
    pub ts: u64,
    /// The Ed25519 signature of [`origin_digest`].
    pub sig: [u8; 64],
}

/// Signs what the broker will deliver of a publish: `envelope` holds the publish request's
/// `id`, `timestamp` and `source` and, as `event_type`, the type published (`data.type`);
/// `data` is the value the publish carries as `data.data`, whose bytes the publisher then
/// writes exactly as `data.as_str()`.
pub fn sign_origin(
    key: &SigningKey,
    ts: u64,
    envelope: &Envelope<'_>,
    data: Option<RawJson<'_>>,
) -> Result<Origin, AuthError> {
    if ts > MAX_TS {
        return Err(AuthError::Unauthenticated(AuthFault::Malformed(Field::Ts)));
    }
    let digest = origin_digest(
        ts,
        envelope.id,
        envelope.timestamp,
        envelope.source,
        envelope.event_type,
        data,
    );
    Ok(Origin {
        kid: KeyId::of(&key.verifying_key()),
        ts,
        sig: key.sign(&digest).to_bytes(),
    })
}

impl WriteJson for Origin {
    fn write_json(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut ts = [0u8; 20];
        let mut i = ts.len();
        let mut n = self.ts;
        loop {
            i -= 1;
            if let Some(d) = ts.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        let mut sig = [0u8; 128];
        hex::encode(&self.sig, &mut sig);
        let parts: [&[u8]; 7] = [
            b"{\"kid\":\"",
            &self.kid.to_hex(),
            b"\",\"ts\":",
            ts.get(i..).unwrap_or_default(),
            b",\"sig\":\"",
            &sig,
            b"\"}",
        ];
        let mut at = 0;
        for part in parts {
            let end = at + part.len();
            out.get_mut(at..end)
                .ok_or(Error::BufferTooSmall)?
                .copy_from_slice(part);
            at = end;
        }
        Ok(at)
    }
}

/// Verifies the origin signature `origin` of a delivered `event` with the publisher's key
/// from `keys`, in the order: form (`unauthenticated`), key (`unknown_key`), clock
/// (`stale`, `ts` within `skew_ms` of `now_ms`), signature (`bad_signature`), that the key
/// is `publisher`, the key id of the node `event.source` names, when given (`forbidden`),
/// then that the pair (publisher's key id, event `id`) is new to `cache` (`replayed`),
/// where it is then recorded. Returns the publisher's key id.
pub fn verify_origin<K: KeyStore + ?Sized, const N: usize>(
    origin: RawJson<'_>,
    event: &Event<'_>,
    keys: &K,
    now_ms: u64,
    cache: &mut ReplayCache<N>,
    skew_ms: u64,
    publisher: Option<&KeyId>,
) -> Result<KeyId, AuthError> {
    let fields = origin_fields(origin).map_err(AuthError::Unauthenticated)?;
    let key = keys
        .key(&fields.kid)
        .filter(|key| fields.kid.names(key))
        .ok_or(AuthError::UnknownKey)?;
    if now_ms.abs_diff(fields.ts) > skew_ms {
        return Err(AuthError::Stale);
    }
    let digest = origin_digest(
        fields.ts,
        event.id,
        event.timestamp,
        event.source,
        event.event_type,
        event.data,
    );
    key.verify_strict(&digest, &Signature::from_bytes(&fields.sig))
        .map_err(|_| AuthError::BadSignature)?;
    if publisher.is_some_and(|expected| *expected != fields.kid) {
        return Err(AuthError::Forbidden);
    }
    let mut h = Sha512::new();
    event.id.feed(&mut h);
    let id_digest: [u8; 64] = h.finalize().into();
    let mut tag = [0u8; 16];
    for (slot, b) in tag.iter_mut().zip(id_digest) {
        *slot = b;
    }
    cache.check_and_insert(&fields.kid, &tag, fields.ts, now_ms, skew_ms)?;
    Ok(fields.kid)
}
