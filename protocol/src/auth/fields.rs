//! Reading the authenticator's members out of a decoded payload, without copying: values are
//! borrowed, and the `sig` value is located by its byte offset in the payload.

use super::error::{AuthFault, Field};
use super::hex;
use super::keys::{KeyId, Nonce};
use super::{MAX_TS, SIG_HEX_LEN};
use crate::json::{Kind, RawJson};

/// The members an authenticator may carry, in the order their faults are reported.
const FIELDS: [Field; 6] = [
    Field::Kid,
    Field::Ts,
    Field::Nonce,
    Field::Sig,
    Field::Aud,
    Field::Re,
];

/// The root JSON value of validated text, without surrounding whitespace.
pub(crate) fn root(text: &str) -> RawJson<'_> {
    RawJson::from_validated(text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')))
}

/// The one member `field` of the object `object` (names compared after unescaping): `None`
/// when absent or when `object` is not an object, [`AuthFault::Repeated`] when it occurs
/// twice.
pub(crate) fn member<'a>(
    object: RawJson<'a>,
    field: Field,
) -> Result<Option<RawJson<'a>>, AuthFault> {
    let mut found = None;
    for (name, value) in object.members() {
        if name.eq_str(field.name()) {
            if found.is_some() {
                return Err(AuthFault::Repeated(field));
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// Where the text of `inner` starts in `outer`, when `inner` is a slice of it.
pub(crate) fn offset_in(outer: &[u8], inner: &str) -> Option<usize> {
    let at = inner.as_ptr().addr().checked_sub(outer.as_ptr().addr())?;
    let end = at.checked_add(inner.len())?;
    (end <= outer.len()).then_some(at)
}

/// A string value of exactly `2 * N` lowercase hex characters without escapes.
fn hex_string<const N: usize>(value: RawJson<'_>) -> Option<[u8; N]> {
    let raw = value.as_str().strip_prefix('"')?.strip_suffix('"')?;
    hex::decode(raw.as_bytes())
}

/// An integer from 0 to [`MAX_TS`] written without sign, fraction or exponent.
fn timestamp(value: RawJson<'_>) -> Option<u64> {
    let digits = value.as_str().as_bytes();
    if digits.is_empty() || digits.len() > 16 || (digits.len() > 1 && digits.first() == Some(&b'0'))
    {
        return None;
    }
    let mut ts: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        ts = ts.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    (ts <= MAX_TS).then_some(ts)
}

/// The members of an authenticator object, each found at most once.
struct Slots<'a> {
    values: [Option<RawJson<'a>>; 6],
    repeated: [bool; 6],
}

impl<'a> Slots<'a> {
    fn collect(object: RawJson<'a>) -> Slots<'a> {
        let mut slots = Slots {
            values: [None; 6],
            repeated: [false; 6],
        };
        for (name, value) in object.members() {
            let Some(i) = FIELDS.iter().position(|f| name.eq_str(f.name())) else {
                continue;
            };
            if let (Some(slot), Some(repeated)) =
                (slots.values.get_mut(i), slots.repeated.get_mut(i))
            {
                if slot.is_some() {
                    *repeated = true;
                } else {
                    *slot = Some(value);
                }
            }
        }
        slots
    }

    /// The value of `field`: a fault when repeated, or absent and `required`.
    fn get(&self, field: Field, required: bool) -> Result<Option<RawJson<'a>>, AuthFault> {
        let i = FIELDS.iter().position(|f| *f == field).unwrap_or(0);
        if self.repeated.get(i).copied().unwrap_or(false) {
            return Err(AuthFault::Repeated(field));
        }
        match self.values.get(i).copied().flatten() {
            None if required => Err(AuthFault::Missing(field)),
            value => Ok(value),
        }
    }

    fn key_id(&self, field: Field, required: bool) -> Result<Option<KeyId>, AuthFault> {
        self.get(field, required)?
            .map(|v| hex_string(v).map(KeyId).ok_or(AuthFault::Malformed(field)))
            .transpose()
    }

    fn nonce(&self, field: Field, required: bool) -> Result<Option<Nonce>, AuthFault> {
        self.get(field, required)?
            .map(|v| hex_string(v).map(Nonce).ok_or(AuthFault::Malformed(field)))
            .transpose()
    }

    fn ts(&self) -> Result<u64, AuthFault> {
        let value = self
            .get(Field::Ts, true)?
            .ok_or(AuthFault::Missing(Field::Ts))?;
        timestamp(value).ok_or(AuthFault::Malformed(Field::Ts))
    }

    /// The signature and the offset of its first hex character in `payload`.
    fn sig(&self, payload: &[u8]) -> Result<([u8; 64], usize), AuthFault> {
        let malformed = AuthFault::Malformed(Field::Sig);
        let value = self
            .get(Field::Sig, true)?
            .ok_or(AuthFault::Missing(Field::Sig))?;
        let sig = hex_string::<64>(value).ok_or(malformed)?;
        let at = offset_in(payload, value.as_str()).ok_or(malformed)? + 1;
        match payload.get(at..at + SIG_HEX_LEN) {
            Some(hex) if hex::decode::<64>(hex) == Some(sig) => Ok((sig, at)),
            _ => Err(malformed),
        }
    }
}

/// A frame's authenticator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthFields {
    pub kid: KeyId,
    pub ts: u64,
    pub nonce: Nonce,
    pub sig: [u8; 64],
    /// Offset in the payload of the first of the 128 hex characters of `sig`.
    pub sig_at: usize,
    pub aud: Option<KeyId>,
    pub re: Option<Nonce>,
}

/// Reads the root member `auth` of the payload `text` (an event already decoded). A reply
/// (`reply` true) must carry `re`. Faults are reported for the first member in the order
/// `auth`, `kid`, `ts`, `nonce`, `sig`, `aud`, `re`.
pub(crate) fn auth_fields(text: &str, reply: bool) -> Result<AuthFields, AuthFault> {
    let auth = member(root(text), Field::Auth)?.ok_or(AuthFault::Missing(Field::Auth))?;
    if auth.kind() != Kind::Object {
        return Err(AuthFault::Malformed(Field::Auth));
    }
    let slots = Slots::collect(auth);
    let kid = slots
        .key_id(Field::Kid, true)?
        .ok_or(AuthFault::Missing(Field::Kid))?;
    let ts = slots.ts()?;
    let nonce = slots
        .nonce(Field::Nonce, true)?
        .ok_or(AuthFault::Missing(Field::Nonce))?;
    let (sig, sig_at) = slots.sig(text.as_bytes())?;
    let aud = slots.key_id(Field::Aud, false)?;
    let re = slots.nonce(Field::Re, reply)?;
    Ok(AuthFields {
        kid,
        ts,
        nonce,
        sig,
        sig_at,
        aud,
        re,
    })
}

/// An origin signature: `{"kid", "ts", "sig"}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OriginFields {
    pub kid: KeyId,
    pub ts: u64,
    pub sig: [u8; 64],
}

/// Reads an `origin` value. Faults in the order `origin`, `kid`, `ts`, `sig`.
pub(crate) fn origin_fields(origin: RawJson<'_>) -> Result<OriginFields, AuthFault> {
    if origin.kind() != Kind::Object {
        return Err(AuthFault::Malformed(Field::Origin));
    }
    let slots = Slots::collect(origin);
    let kid = slots
        .key_id(Field::Kid, true)?
        .ok_or(AuthFault::Missing(Field::Kid))?;
    let ts = slots.ts()?;
    let value = slots
        .get(Field::Sig, true)?
        .ok_or(AuthFault::Missing(Field::Sig))?;
    let sig = hex_string::<64>(value).ok_or(AuthFault::Malformed(Field::Sig))?;
    Ok(OriginFields { kid, ts, sig })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_plain_integers() {
        let ts = |s: &str| timestamp(RawJson::parse(s).unwrap());
        assert_eq!(ts("0"), Some(0));
        assert_eq!(ts("1764713150481"), Some(1_764_713_150_481));
        assert_eq!(ts("9007199254740991"), Some(MAX_TS));
        for bad in [
            "9007199254740992",
            "-0",
            "-1",
            "1.0",
            "1e3",
            "\"1\"",
            "null",
        ] {
            assert_eq!(ts(bad), None, "{bad}");
        }
    }

    #[test]
    fn offsets_are_of_slices_only() {
        let outer = "abcdef";
        assert_eq!(offset_in(outer.as_bytes(), &outer[2..4]), Some(2));
        assert_eq!(offset_in(&outer.as_bytes()[..3], &outer[2..4]), None);
    }
}
