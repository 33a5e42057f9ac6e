//! Key ids, nonces and the receiver's key store.

use core::fmt;

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use super::hex;

/// A key id: the first 8 bytes of SHA-512 of the 32-byte Ed25519 public key, sent as 16
/// lowercase hex characters (`kid`, `aud`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The key id of a public key.
    pub fn of(key: &VerifyingKey) -> KeyId {
        KeyId::of_bytes(key.as_bytes())
    }

    /// The key id of a public key given as its 32 bytes.
    pub fn of_bytes(public: &[u8; 32]) -> KeyId {
        let digest = Sha512::digest(public);
        let mut id = [0u8; 8];
        for (slot, b) in id.iter_mut().zip(digest.iter()) {
            *slot = *b;
        }
        KeyId(id)
    }

    /// Reads 16 lowercase hex characters.
    pub fn from_hex(text: &[u8]) -> Option<KeyId> {
        hex::decode(text).map(KeyId)
    }

    /// The 16 lowercase hex characters.
    pub fn to_hex(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        hex::encode(&self.0, &mut out);
        out
    }

    /// Whether `key` is the key this id names. Key ids are public, so timing tells nothing;
    /// the comparison is constant-time all the same.
    pub fn names(&self, key: &VerifyingKey) -> bool {
        KeyId::of(key).0.ct_eq(&self.0).into()
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        f.write_str(core::str::from_utf8(&hex).unwrap_or("?"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A request's nonce: 16 bytes, sent as 32 lowercase hex characters (`nonce`, `re`). A sender
/// draws each from a cryptographically secure random source.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 16]);

impl Nonce {
    /// Reads 32 lowercase hex characters.
    pub fn from_hex(text: &[u8]) -> Option<Nonce> {
        hex::decode(text).map(Nonce)
    }

    /// The 32 lowercase hex characters.
    pub fn to_hex(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::encode(&self.0, &mut out);
        out
    }

    /// Constant-time equality (a reply's `re` against the request's nonce).
    pub fn ct_eq(&self, other: &Nonce) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        write!(f, "Nonce({})", core::str::from_utf8(&hex).unwrap_or("?"))
    }
}

/// Where a receiver finds the public key a key id names: the operator's pinned keys and the
/// keys the registry distributes with the node list.
///
/// The verifier checks that the key returned is the one the id names ([`KeyId::names`]), so
/// a store that maps an id to another key gives `unknown_key`, never a wrong acceptance.
pub trait KeyStore {
    /// The public key with this id, if known.
    fn key(&self, kid: &KeyId) -> Option<VerifyingKey>;
}

impl<F: Fn(&KeyId) -> Option<VerifyingKey>> KeyStore for F {
    fn key(&self, kid: &KeyId) -> Option<VerifyingKey> {
        self(kid)
    }
}

/// A table of keys with their ids, searched in order.
impl KeyStore for [(KeyId, VerifyingKey)] {
    fn key(&self, kid: &KeyId) -> Option<VerifyingKey> {
        self.iter().find(|(id, _)| id == kid).map(|(_, key)| *key)
    }
}

impl<const N: usize> KeyStore for [(KeyId, VerifyingKey); N] {
    fn key(&self, kid: &KeyId) -> Option<VerifyingKey> {
        self.as_slice().key(kid)
    }
}
