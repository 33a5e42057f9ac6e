//! The feature `auth`: known answers for the dependencies and the digests, sign → verify,
//! each way a frame or an origin signature can be wrong, and the order of the checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use proptest::prelude::*;
use uhome_protocol::auth::{
    append_member, frame_digest, origin_digest, sign_encoded, sign_frame, sign_in_place,
    sign_origin, verify_frame, verify_origin, verify_reply, AuthCode, AuthError, AuthFault, Field,
    KeyId, Nonce, ReplayCache, Signer, SigningKey, VerifyOptions, VerifyingKey,
};
use uhome_protocol::{encode_event, Body, Envelope, Error, Frame, Message, RawJson, V1, V2};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn table(keys: &[&SigningKey]) -> Vec<(KeyId, VerifyingKey)> {
    keys.iter()
        .map(|k| (KeyId::of(&k.verifying_key()), k.verifying_key()))
        .collect()
}

const NOW: u64 = 1_764_713_150_481;
const N1: Nonce = Nonce([0x11; 16]);
const N2: Nonce = Nonce([0x22; 16]);

const ENV: Envelope<'static> = Envelope {
    id: "b8008832-cd09-412a-85c4-f0dfea705ed1",
    timestamp: "2026-11-28T22:17:50.481Z",
    source: "µHome/dummyService",
    event_type: "µHome.core.register",
};

const DATA: &str = r#"{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102"}"#;

fn signer(key: &SigningKey, ts: u64, nonce: Nonce) -> Signer<'_> {
    Signer {
        key,
        ts,
        nonce,
        aud: None,
        re: None,
    }
}

/// The register request of the v0.0.1 captures, signed.
fn signed(signer: &Signer<'_>, status: u8) -> Vec<u8> {
    let data = RawJson::parse(DATA).unwrap();
    let mut out = vec![0u8; 1024];
    let n = sign_frame(&mut out, V2, status, &ENV, Body::Data(&data), signer).unwrap();
    out.truncate(n);
    out
}

/// A frame with the given payload text.
fn frame_of(version: u16, status: u8, payload: &str) -> Vec<u8> {
    let mut out = vec![0u8; payload.len() + 5];
    uhome_protocol::encode_frame(&mut out, version, status, payload.as_bytes()).unwrap();
    out
}

fn payload(frame: &[u8]) -> &str {
    std::str::from_utf8(&frame[5..]).unwrap()
}

/// Verifies a request with a fresh cache, at `NOW`, with the keys given.
fn check(bytes: &[u8], keys: &[(KeyId, VerifyingKey)]) -> Result<(), AuthError> {
    let (frame, _) = Frame::decode(bytes).complete().unwrap();
    let mut cache = ReplayCache::<8>::new();
    verify_frame(&frame, keys, NOW, &mut cache, &VerifyOptions::default()).map(|_| ())
}

#[test]
fn rfc_8032_test_vectors_1_to_3() {
    let vectors = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];
    use uhome_protocol::auth::ed25519_dalek::Signer as _;
    for (secret, public, message, signature) in vectors {
        let sk = SigningKey::from_bytes(&unhex(secret).try_into().unwrap());
        let vk = sk.verifying_key();
        assert_eq!(vk.as_bytes().as_slice(), unhex(public).as_slice());
        let sig = sk.sign(&unhex(message));
        assert_eq!(sig.to_bytes().as_slice(), unhex(signature).as_slice());
        assert!(vk.verify_strict(&unhex(message), &sig).is_ok());
        let mut other = unhex(message);
        other.push(0);
        assert!(vk.verify_strict(&other, &sig).is_err());
    }
}

#[test]
fn key_ids_are_the_first_8_bytes_of_sha512_of_the_public_key() {
    // Computed with Python's hashlib from RFC 8032's public keys 1 and 2.
    let pk1: [u8; 32] = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        .try_into()
        .unwrap();
    assert_eq!(KeyId::of_bytes(&pk1).to_string(), "0e02a50225b4baaa");
    let pk2: [u8; 32] = unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        .try_into()
        .unwrap();
    assert_eq!(KeyId::of_bytes(&pk2).to_string(), "56c04d48d44f95fb");
    assert_eq!(
        KeyId::from_hex(b"56c04d48d44f95fb"),
        Some(KeyId::of_bytes(&pk2))
    );
    assert_eq!(KeyId::from_hex(b"56C04D48D44F95FB"), None);
}

#[test]
fn frame_digest_is_the_specified_layout() {
    // Python: sha512(b"uhome-frame-v1\0" + b"\0\2\1" + payload with the sig read as '0').
    let sig = "a".repeat(128);
    let p = format!(
        r#"{{"id":"1","timestamp":"t","source":"s","type":"x","auth":{{"kid":"0e02a50225b4baaa","ts":5,"nonce":"{}","sig":"{sig}"}}}}"#,
        "0".repeat(32)
    );
    assert_eq!(p.find(&sig), Some(140));
    let d = frame_digest(2, 1, p.as_bytes(), 140);
    assert_eq!(
        d.to_vec(),
        unhex("edb4ede2e405f7259585dd802abf5835111724ddcb7e93a7123ce37f15c2543b6ed743ee90352017d6fca7c0a91119172cd23e239886dfc6d3895dce835fd23c")
    );
}

#[test]
fn origin_digest_is_the_specified_layout() {
    // Python: sha512(b"uhome-origin-v1\0" + ts u64 BE + (u32 BE len + bytes) x 4 + flag + data).
    let d = origin_digest(
        NOW,
        "id-1",
        "2026-11-28T22:17:50.481Z",
        "µHome/sensor",
        "home.temp",
        Some(RawJson::parse(r#"{"c":21.5}"#).unwrap()),
    );
    assert_eq!(d.to_vec(), unhex("75b53cbf60a8e38d0bcc8340b2c0123321b9fdd5aee8f0d45368bed01562a4d4baaeccaeed0b985f7683f77dc1fb14c37e5260b7e67057d1a3288860fde07f77"));
    let d = origin_digest(7, "a", "b", "c", "d", None);
    assert_eq!(d.to_vec(), unhex("f3c3e05a8dc16dfbba4b436bab231ac5e32c7d53402e342a6c02942d23b52254eef65270df5874488cdb9f286896f439ddff4182e9b65b318af8c02a0d34b688"));
}

#[test]
fn sign_then_verify_and_plain_decoders_still_read_it() {
    let k = key(1);
    let bytes = signed(&signer(&k, NOW, N1), 1);
    let text = payload(&bytes);
    assert!(text.starts_with(r#"{"id":"b8008832-cd09-412a-85c4-f0dfea705ed1","#));
    assert!(text.contains(r#","auth":{"kid":""#), "{text}");
    let (frame, used) = Frame::decode(&bytes).complete().unwrap();
    assert_eq!(used, bytes.len());
    // A 1.0 receiver ignores the member (UH-EVENT-4).
    let Ok(Message::Event(plain)) = frame.request() else {
        panic!("decodes without the feature's help")
    };
    assert_eq!(plain.data.unwrap().as_str(), DATA);
    let keys = table(&[&key(9), &k]);
    let mut cache = ReplayCache::<8>::new();
    let v = verify_frame(
        &frame,
        keys.as_slice(),
        NOW,
        &mut cache,
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(v.kid, KeyId::of(&k.verifying_key()));
    assert_eq!((v.ts, v.nonce, v.aud), (NOW, N1, None));
    assert_eq!(v.event, plain);
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_forged_signature_is_bad_signature() {
    let k = key(1);
    let keys = table(&[&k]);
    let mut bytes = signed(&signer(&k, NOW, N1), 1);
    let at = payload(&bytes).find(r#""sig":""#).unwrap() + 5 + 7 + 10;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    assert_eq!(check(&bytes, &keys), Err(AuthError::BadSignature));
    // Signed by another key under this key's id.
    let impostor = key(2);
    let mut forged = signed(&signer(&impostor, NOW, N1), 1);
    let kid_at = payload(&forged).find(r#""kid":""#).unwrap() + 5 + 7;
    forged[kid_at..kid_at + 16].copy_from_slice(&KeyId::of(&k.verifying_key()).to_hex());
    sign_in_place(&mut forged, &impostor).unwrap();
    assert_eq!(check(&forged, &keys), Err(AuthError::BadSignature));
}

#[test]
fn a_sig_out_of_form_is_unauthenticated() {
    let k = key(1);
    let keys = table(&[&k]);
    let good = signed(&signer(&k, NOW, N1), 1);
    let text = payload(&good).to_string();
    let start = text.find(r#""sig":""#).unwrap() + 7;
    let sig = &text[start..start + 128];
    let malformed = Err(AuthError::Unauthenticated(AuthFault::Malformed(Field::Sig)));
    let variants = [
        text.replace(sig, &sig[..127]),
        text.replace(sig, &format!("{sig}0")),
        text.replace(sig, &sig.to_uppercase()),
        text.replace(sig, &format!(r"\u00{:x}{}", sig.as_bytes()[0], &sig[1..])),
        text.replace(&format!("\"{sig}\""), "12"),
    ];
    for (i, v) in variants.iter().enumerate() {
        assert_eq!(check(&frame_of(V2, 1, v), &keys), malformed, "variant {i}");
    }
    assert_eq!(check(&good, &keys), Ok(()));
}

#[test]
fn an_unknown_key_id_is_unknown_key() {
    let k = key(1);
    let bytes = signed(&signer(&k, NOW, N1), 1);
    assert_eq!(
        check(&bytes, &table(&[&key(2)])),
        Err(AuthError::UnknownKey)
    );
    // A store that answers the id with another key.
    let wrong = [(KeyId::of(&k.verifying_key()), key(2).verifying_key())];
    assert_eq!(check(&bytes, &wrong), Err(AuthError::UnknownKey));
    // A closure is a key store too.
    let (frame, _) = Frame::decode(&bytes).complete().unwrap();
    let none = |_: &KeyId| None;
    let mut cache = ReplayCache::<1>::new();
    assert_eq!(
        verify_frame(&frame, &none, NOW, &mut cache, &VerifyOptions::default()).unwrap_err(),
        AuthError::UnknownKey
    );
}

#[test]
fn altered_version_or_status_fails() {
    let k = key(1);
    let keys = table(&[&k]);
    let bytes = signed(&signer(&k, NOW, N1), 1);
    let mut v1 = bytes.clone();
    v1[3] = V1 as u8;
    assert_eq!(check(&v1, &keys), Err(AuthError::BadSignature));
    // As a request, status 2 is refused by the codec first ...
    let mut s2 = bytes.clone();
    s2[4] = 2;
    assert_eq!(
        check(&s2, &keys),
        Err(AuthError::Decode(Error::BadStatus(2)))
    );
    // ... and as a reply, the signature covers it.
    let reply = signed(
        &Signer {
            re: Some(N2),
            ..signer(&k, NOW, N1)
        },
        1,
    );
    let mut r2 = reply.clone();
    r2[4] = 2;
    for (bytes, expected) in [(&reply, Ok(())), (&r2, Err(AuthError::BadSignature))] {
        let (frame, _) = Frame::decode(bytes).complete().unwrap();
        let got = verify_reply(&frame, keys.as_slice(), NOW, &N2, &VerifyOptions::default());
        assert_eq!(got.map(|_| ()), expected);
    }
}

#[test]
fn altered_payload_bytes_fail_inside_and_outside_data() {
    let k = key(1);
    let keys = table(&[&k]);
    let bytes = signed(&signer(&k, NOW, N1), 1);
    let text = payload(&bytes);
    // Inside data, in the envelope, in the authenticator, and a name escaped.
    for (from, to) in [
        ("127.0.0.1:5102".to_string(), "127.0.0.1:5103".to_string()),
        (
            "dummyService\",\"type".to_string(),
            "dummyServicf\",\"type".to_string(),
        ),
        (format!("\"ts\":{NOW}"), format!("\"ts\":{}", NOW + 1)),
        ("\"type\"".to_string(), "\"typ\\u0065\"".to_string()),
    ] {
        let altered = text.replacen(&from, &to, 1);
        assert_ne!(altered, text);
        let got = check(&frame_of(V2, 1, &altered), &keys);
        assert_eq!(got, Err(AuthError::BadSignature), "{from}");
    }
}

#[test]
fn stale_in_the_past_and_in_the_future() {
    let k = key(1);
    let keys = table(&[&k]);
    let skew = VerifyOptions::default().skew_ms;
    for (ts, expected) in [
        (NOW - skew, Ok(())),
        (NOW + skew, Ok(())),
        (NOW - skew - 1, Err(AuthError::Stale)),
        (NOW + skew + 1, Err(AuthError::Stale)),
    ] {
        assert_eq!(
            check(&signed(&signer(&k, ts, N1), 1), &keys),
            expected,
            "{ts}"
        );
    }
    let (frame, _) = Frame::decode(&signed(&signer(&k, NOW - 5_000, N1), 1))
        .complete()
        .map(|(f, n)| (f.payload.to_vec(), n))
        .unwrap();
    let bytes = frame_of(V2, 1, std::str::from_utf8(&frame).unwrap());
    let (frame, _) = Frame::decode(&bytes).complete().unwrap();
    let tight = VerifyOptions {
        skew_ms: 1_000,
        audience: None,
    };
    let mut cache = ReplayCache::<4>::new();
    assert_eq!(
        verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &tight).unwrap_err(),
        AuthError::Stale
    );
}

#[test]
fn a_replayed_nonce_is_replayed() {
    let k = key(1);
    let keys = table(&[&k]);
    let bytes = signed(&signer(&k, NOW, N1), 1);
    let (frame, _) = Frame::decode(&bytes).complete().unwrap();
    let mut cache = ReplayCache::<8>::new();
    let opts = VerifyOptions::default();
    assert!(verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &opts).is_ok());
    assert_eq!(
        verify_frame(&frame, keys.as_slice(), NOW + 10, &mut cache, &opts).unwrap_err(),
        AuthError::Replayed
    );
    // The same nonce from another key is another pair.
    let other = key(2);
    let keys = table(&[&k, &other]);
    let bytes = signed(&signer(&other, NOW, N1), 1);
    let (frame, _) = Frame::decode(&bytes).complete().unwrap();
    assert!(verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &opts).is_ok());
}

#[test]
fn a_full_cache_raises_the_floor() {
    let k = key(1);
    let keys = table(&[&k]);
    let opts = VerifyOptions::default();
    let mut cache = ReplayCache::<2>::new();
    let frames: Vec<Vec<u8>> = (0..3u8)
        .map(|i| signed(&signer(&k, NOW + u64::from(i), Nonce([i; 16])), 1))
        .collect();
    for bytes in &frames {
        let (frame, _) = Frame::decode(bytes).complete().unwrap();
        verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &opts).unwrap();
    }
    assert_eq!((cache.len(), cache.floor()), (2, Some(NOW)));
    let verify = |cache: &mut ReplayCache<2>, bytes: &[u8]| {
        let (frame, _) = Frame::decode(bytes).complete().unwrap();
        verify_frame(&frame, keys.as_slice(), NOW, cache, &opts).map(|_| ())
    };
    // The evicted frame comes again: at the floor.
    assert_eq!(verify(&mut cache, &frames[0]), Err(AuthError::Replayed));
    // A new nonce at the floor's ts is refused; one above it is accepted.
    let at_floor = signed(&signer(&k, NOW, Nonce([9; 16])), 1);
    assert_eq!(verify(&mut cache, &at_floor), Err(AuthError::Replayed));
    let above = signed(&signer(&k, NOW + 3, Nonce([9; 16])), 1);
    assert_eq!(verify(&mut cache, &above), Ok(()));
    // Every frame once accepted stays refused.
    for bytes in &frames {
        assert_eq!(verify(&mut cache, bytes), Err(AuthError::Replayed));
    }
}

#[test]
fn a_reply_must_carry_the_requests_nonce() {
    let k = key(1);
    let keys = table(&[&k]);
    let opts = VerifyOptions::default();
    let reply = signed(
        &Signer {
            re: Some(N1),
            ..signer(&k, NOW, N2)
        },
        2,
    );
    let (frame, _) = Frame::decode(&reply).complete().unwrap();
    assert!(verify_reply(&frame, keys.as_slice(), NOW, &N1, &opts).is_ok());
    assert_eq!(
        verify_reply(&frame, keys.as_slice(), NOW, &N2, &opts).unwrap_err(),
        AuthError::Replayed
    );
    let bare = signed(&signer(&k, NOW, N2), 2);
    let (frame, _) = Frame::decode(&bare).complete().unwrap();
    assert_eq!(
        verify_reply(&frame, keys.as_slice(), NOW, &N1, &opts).unwrap_err(),
        AuthError::Unauthenticated(AuthFault::Missing(Field::Re))
    );
}

#[test]
fn the_audience_must_be_this_node_when_it_asks() {
    let k = key(1);
    let me = KeyId([7; 8]);
    let keys = table(&[&k]);
    let opts = VerifyOptions {
        audience: Some(me),
        ..VerifyOptions::default()
    };
    for (aud, expected) in [
        (Some(me), Ok(())),
        (Some(KeyId([8; 8])), Err(AuthError::Forbidden)),
        (None, Err(AuthError::Forbidden)),
    ] {
        let bytes = signed(
            &Signer {
                aud,
                ..signer(&k, NOW, N1)
            },
            1,
        );
        let (frame, _) = Frame::decode(&bytes).complete().unwrap();
        let mut cache = ReplayCache::<2>::new();
        let got = verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &opts);
        assert_eq!(got.map(|v| v.aud), expected.map(|_| aud), "{aud:?}");
    }
}

#[test]
fn authenticators_out_of_form_are_unauthenticated() {
    let k = key(1);
    let keys = table(&[&k]);
    let text = payload(&signed(&signer(&k, NOW, N1), 1)).to_string();
    let kid = KeyId::of(&k.verifying_key()).to_string();
    let auth_at = text.find(r#","auth":"#).unwrap();
    let unauth = |f| Err(AuthError::Unauthenticated(f));
    let cases: Vec<(String, Result<(), AuthError>)> = vec![
        (
            format!("{}}}", &text[..auth_at]),
            unauth(AuthFault::Missing(Field::Auth)),
        ),
        (
            format!("{},\"auth\":1}}", &text[..auth_at]),
            unauth(AuthFault::Malformed(Field::Auth)),
        ),
        (
            text.replacen(",\"auth\":", ",\"auth\":{},\"auth\":", 1),
            unauth(AuthFault::Repeated(Field::Auth)),
        ),
        (
            text.replacen(",\"auth\":", ",\"\\u0061uth\":{},\"auth\":", 1),
            unauth(AuthFault::Repeated(Field::Auth)),
        ),
        (
            text.replacen("{\"kid\":", "{\"kid\":\"0000000000000000\",\"kid\":", 1),
            unauth(AuthFault::Repeated(Field::Kid)),
        ),
        (
            text.replacen(&kid, &kid.to_uppercase(), 1),
            unauth(AuthFault::Malformed(Field::Kid)),
        ),
        (
            text.replacen("\"ts\":", "\"ts\":-", 1),
            unauth(AuthFault::Malformed(Field::Ts)),
        ),
        (
            text.replacen(&format!("\"ts\":{NOW}"), &format!("\"ts\":{NOW}.0"), 1),
            unauth(AuthFault::Malformed(Field::Ts)),
        ),
        (
            text.replacen(&format!("\"ts\":{NOW},"), "", 1),
            unauth(AuthFault::Missing(Field::Ts)),
        ),
        (
            text.replacen("\"nonce\":\"11", "\"nonce\":\"1", 1),
            unauth(AuthFault::Malformed(Field::Nonce)),
        ),
        (
            text.replacen("\"nonce\":", "\"aud\":7,\"nonce\":", 1),
            unauth(AuthFault::Malformed(Field::Aud)),
        ),
        (
            text.replacen("\"nonce\":", "\"extra\":[1],\"nonce\":", 1),
            Err(AuthError::BadSignature),
        ),
    ];
    for (p, expected) in cases {
        assert_eq!(check(&frame_of(V2, 1, &p), &keys), expected, "{p}");
    }
    // A version 1 payload that is not an event has no envelope, so no authenticator.
    assert_eq!(
        check(&frame_of(V1, 1, "[1]"), &keys),
        unauth(AuthFault::Missing(Field::Auth))
    );
    // Decoding errors come first.
    assert_eq!(
        check(&frame_of(V2, 1, "{"), &keys).unwrap_err().wire_code(),
        "invalid_json"
    );
}

#[test]
fn checks_come_in_the_specified_order() {
    let k = key(1);
    let keys = table(&[&k]);
    let text = payload(&signed(&signer(&k, NOW + 60_000, N1), 1)).to_string();
    let start = text.find(r#""sig":""#).unwrap() + 7;
    let forged = format!(
        "{}{}{}",
        &text[..start],
        "0".repeat(128),
        &text[start + 128..]
    );
    // stale before bad_signature
    assert_eq!(
        check(&frame_of(V2, 1, &forged), &keys),
        Err(AuthError::Stale)
    );
    // unknown_key before stale
    assert_eq!(
        check(&frame_of(V2, 1, &forged), &[]),
        Err(AuthError::UnknownKey)
    );
    // unauthenticated before unknown_key
    let bad_nonce = forged.replacen("\"nonce\":\"11", "\"nonce\":\"1", 1);
    assert_eq!(
        check(&frame_of(V2, 1, &bad_nonce), &[]),
        Err(AuthError::Unauthenticated(AuthFault::Malformed(
            Field::Nonce
        )))
    );
    // bad_signature before forbidden and replayed
    let fresh = payload(&signed(&signer(&k, NOW, N1), 1)).to_string();
    let start = fresh.find(r#""sig":""#).unwrap() + 7;
    let forged = format!(
        "{}{}{}",
        &fresh[..start],
        "0".repeat(128),
        &fresh[start + 128..]
    );
    let bytes = frame_of(V2, 1, &forged);
    let (frame, _) = Frame::decode(&bytes).complete().unwrap();
    let opts = VerifyOptions {
        audience: Some(KeyId([3; 8])),
        ..VerifyOptions::default()
    };
    let mut cache = ReplayCache::<2>::new();
    cache
        .check_and_insert(&KeyId::of(&k.verifying_key()), &N1.0, NOW, NOW, 30_000)
        .unwrap();
    assert_eq!(
        verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &opts).unwrap_err(),
        AuthError::BadSignature
    );
    // forbidden before replayed, and a refused frame is not recorded.
    let genuine = signed(&signer(&k, NOW, N1), 1);
    let (frame, _) = Frame::decode(&genuine).complete().unwrap();
    assert_eq!(
        verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &opts).unwrap_err(),
        AuthError::Forbidden
    );
    assert_eq!(cache.len(), 1);
}

#[test]
fn codes_are_well_formed_and_distinct() {
    for (i, c) in AuthCode::ALL.iter().enumerate() {
        assert!(uhome_protocol::Code::is_valid(c.as_str()), "{c:?}");
        assert!(uhome_protocol::Code::parse(c.as_str()).is_none());
        assert_eq!(c.status(), 2);
        for d in &AuthCode::ALL[i + 1..] {
            assert_ne!(c.as_str(), d.as_str());
        }
    }
    assert_eq!(AuthError::Replayed.wire_code(), "replayed");
    assert_eq!(
        AuthError::Decode(Error::TooDeep { offset: 0 }).wire_code(),
        "too_deep"
    );
}

#[test]
fn sign_in_place_signs_any_encoders_frame() {
    let k = key(1);
    let keys = table(&[&k]);
    // The authenticator first, other members after it, whitespace: any layout.
    let p = format!(
        r#"{{ "auth" : {{"sig":"{}","nonce":"{}","ts":{NOW},"kid":"{}"}}, "id":"1","timestamp":"t","source":"s","type":"x","data":[1, 2] }}"#,
        "0".repeat(128),
        "ab".repeat(16),
        KeyId::of(&k.verifying_key())
    );
    let mut bytes = frame_of(V2, 1, &p);
    sign_in_place(&mut bytes, &k).unwrap();
    assert_eq!(check(&bytes, &keys), Ok(()));
    let mut none = frame_of(
        V2,
        1,
        r#"{"id":"1","timestamp":"t","source":"s","type":"x"}"#,
    );
    assert_eq!(
        sign_in_place(&mut none, &k),
        Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Auth)))
    );
}

#[test]
fn encoders_refuse_instead_of_truncating() {
    let k = key(1);
    let data = RawJson::parse(DATA).unwrap();
    let mut out = [0u8; 300];
    let got = sign_frame(
        &mut out,
        V2,
        1,
        &ENV,
        Body::Data(&data),
        &signer(&k, NOW, N1),
    );
    assert_eq!(got, Err(AuthError::Decode(Error::BufferTooSmall)));
    let mut out = [0u8; 1024];
    let got = sign_frame(&mut out, V2, 1, &ENV, Body::None, &signer(&k, 1 << 53, N1));
    assert_eq!(
        got,
        Err(AuthError::Unauthenticated(AuthFault::Malformed(Field::Ts)))
    );
}

/// A broker's delivery of a publish: `id`, `timestamp`, `source` copied, `type` and `data`
/// from the publish's `data`, the origin at the root, the frame signed by the broker.
fn delivery(broker: &SigningKey, env: &Envelope<'_>, data: &str, origin_json: &str) -> Vec<u8> {
    let data = RawJson::parse(data).unwrap();
    let origin = RawJson::parse(origin_json).unwrap();
    let mut out = vec![0u8; 2048];
    let n = encode_event(&mut out, V2, 1, env, Body::Data(&data)).unwrap();
    let n = append_member(&mut out, n, "origin", &origin).unwrap();
    let n = sign_encoded(&mut out, n, &signer(broker, NOW, N2)).unwrap();
    out.truncate(n);
    out
}

#[test]
fn origin_signatures_verify_end_to_end() {
    let publisher = key(1);
    let broker = key(2);
    let keys = table(&[&publisher, &broker]);
    let published = Envelope {
        id: "5b680688-ef44-4f1b-b684-1bd3706ccac5",
        timestamp: "2026-11-28T22:21:26.732Z",
        source: "µHome/sensors/hall",
        event_type: "home.sensors.readings",
    };
    let data = r#"{"celsius":21.5,"room":"hall"}"#;
    let origin = sign_origin(
        &publisher,
        NOW,
        &published,
        Some(RawJson::parse(data).unwrap()),
    )
    .unwrap();
    let mut origin_json = [0u8; 256];
    let n = uhome_protocol::WriteJson::write_json(&origin, &mut origin_json).unwrap();
    let origin_json = std::str::from_utf8(&origin_json[..n]).unwrap().to_string();

    let deliver = |env: &Envelope<'_>, data: &str, cache: &mut ReplayCache<8>| {
        let bytes = delivery(&broker, env, data, &origin_json);
        let (frame, _) = Frame::decode(&bytes).complete().unwrap();
        let mut frames = ReplayCache::<8>::new();
        let v = verify_frame(
            &frame,
            keys.as_slice(),
            NOW,
            &mut frames,
            &VerifyOptions::default(),
        )
        .unwrap();
        assert_eq!(v.kid, KeyId::of(&broker.verifying_key()));
        verify_origin(
            v.origin()?,
            &v.event,
            keys.as_slice(),
            NOW,
            cache,
            30_000,
            None,
        )
    };
    let mut cache = ReplayCache::<8>::new();
    assert_eq!(
        deliver(&published, data, &mut cache),
        Ok(KeyId::of(&publisher.verifying_key()))
    );
    // The same publish delivered again.
    assert_eq!(
        deliver(&published, data, &mut cache),
        Err(AuthError::Replayed)
    );
    // A broker that alters data bytes (even only whitespace), the type or the source.
    let mut fresh = ReplayCache::<8>::new();
    let spaced = r#"{"celsius":21.5, "room":"hall"}"#;
    assert_eq!(
        deliver(&published, spaced, &mut fresh),
        Err(AuthError::BadSignature)
    );
    let retyped = Envelope {
        event_type: "home.sensors.other",
        ..published
    };
    assert_eq!(
        deliver(&retyped, data, &mut fresh),
        Err(AuthError::BadSignature)
    );
    let resourced = Envelope {
        source: "µHome/sensors/attic",
        ..published
    };
    assert_eq!(
        deliver(&resourced, data, &mut fresh),
        Err(AuthError::BadSignature)
    );
    // Strings are signed unescaped: a delivery that escapes them differently verifies.
    let bytes = delivery(&broker, &published, data, &origin_json);
    let text = payload(&bytes).replacen("µHome/sensors/hall", "\\u00b5Home\\/sensors/hall", 1);
    let mut rewritten = frame_of(V2, 1, &text);
    sign_in_place(&mut rewritten, &broker).unwrap();
    let (frame, _) = Frame::decode(&rewritten).complete().unwrap();
    let v = verify_frame(
        &frame,
        keys.as_slice(),
        NOW,
        &mut ReplayCache::<2>::new(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert!(v.event.source.as_plain().is_none());
    let origin_value = v.origin().unwrap();
    assert_eq!(
        verify_origin(
            origin_value,
            &v.event,
            keys.as_slice(),
            NOW,
            &mut fresh,
            30_000,
            Some(&KeyId::of(&publisher.verifying_key())),
        ),
        Ok(KeyId::of(&publisher.verifying_key()))
    );
    // A delivery without an origin.
    let bytes = signed(&signer(&broker, NOW, N1), 1);
    let (frame, _) = Frame::decode(&bytes).complete().unwrap();
    let v = verify_frame(
        &frame,
        keys.as_slice(),
        NOW,
        &mut ReplayCache::<2>::new(),
        &VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!(
        v.origin().unwrap_err(),
        AuthError::Unauthenticated(AuthFault::Missing(Field::Origin))
    );
}

#[test]
fn origins_out_of_form_or_old_or_unknown() {
    let publisher = key(1);
    let keys = table(&[&publisher]);
    let env = Envelope {
        id: "1",
        timestamp: "t",
        source: "s",
        event_type: "x",
    };
    let event_bytes = frame_of(
        V2,
        1,
        r#"{"id":"1","timestamp":"t","source":"s","type":"x"}"#,
    );
    let (frame, _) = Frame::decode(&event_bytes).complete().unwrap();
    let Ok(Message::Event(event)) = frame.message() else {
        panic!()
    };
    let origin = |ts| {
        let o = sign_origin(&publisher, ts, &env, None).unwrap();
        let mut out = [0u8; 256];
        let n = uhome_protocol::WriteJson::write_json(&o, &mut out).unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    };
    let verify_as = |json: &str, keys: &[(KeyId, VerifyingKey)], publisher: Option<&KeyId>| {
        let mut cache = ReplayCache::<2>::new();
        let origin = RawJson::parse(json).unwrap();
        verify_origin(origin, &event, keys, NOW, &mut cache, 30_000, publisher)
    };
    let verify = |json: &str, keys: &[(KeyId, VerifyingKey)]| verify_as(json, keys, None);
    // Signed by a key that is not the one of the node `source` names: forbidden, after the
    // signature.
    let other = KeyId([5; 8]);
    assert_eq!(
        verify_as(&origin(NOW), &keys, Some(&other)),
        Err(AuthError::Forbidden)
    );
    let forged = {
        let genuine = origin(NOW);
        let at = genuine.find("\"sig\":\"").unwrap() + 7;
        format!("{}{}\"}}", &genuine[..at], "0".repeat(128))
    };
    assert_eq!(
        verify_as(&forged, &keys, Some(&other)),
        Err(AuthError::BadSignature)
    );
    assert!(verify(&origin(NOW), &keys).is_ok());
    assert_eq!(verify(&origin(NOW - 30_001), &keys), Err(AuthError::Stale));
    assert_eq!(verify(&origin(NOW), &[]), Err(AuthError::UnknownKey));
    assert_eq!(
        verify("[]", &keys),
        Err(AuthError::Unauthenticated(AuthFault::Malformed(
            Field::Origin
        )))
    );
    let no_sig = origin(NOW).replacen("\"sig\":", "\"sag\":", 1);
    assert_eq!(
        verify(&no_sig, &keys),
        Err(AuthError::Unauthenticated(AuthFault::Missing(Field::Sig)))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-byte change of a signed frame fails verification.
    #[test]
    fn any_single_byte_change_fails(at in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let k = key(1);
        let keys = table(&[&k]);
        let mut bytes = signed(&signer(&k, NOW, N1), 1);
        let i = at.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        let got = match Frame::decode(&bytes).complete() {
            None => None,
            Some((frame, _)) => {
                let mut cache = ReplayCache::<2>::new();
                Some(verify_frame(&frame, keys.as_slice(), NOW, &mut cache, &VerifyOptions::default()).map(|_| ()))
            }
        };
        prop_assert!(!matches!(got, Some(Ok(()))), "byte {i} changed by {delta}: {got:?}");
    }
}
