//! What the feature `auth` costs on a host: `verify_frame` of the signed register request
//! (a 212-byte event, 445 bytes signed) beside decoding the same event, signed and unsigned,
//! and `sign_frame`. Run with `cargo bench -p uhome-protocol --features auth --bench auth`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use uhome_protocol::auth::{
    sign_frame, verify_frame, KeyId, Nonce, ReplayCache, Signer, SigningKey, VerifyOptions,
};
use uhome_protocol::{encode_event, Body, Envelope, Frame, RawJson, V2};

const ENV: Envelope<'static> = Envelope {
    id: "b8008832-cd09-412a-85c4-f0dfea705ed1",
    timestamp: "2026-11-28T22:17:50.481Z",
    source: "µHome/dummyService",
    event_type: "µHome.core.register",
};
const DATA: &str = r#"{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102"}"#;
const NOW: u64 = 1_764_713_150_481;

fn auth(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let keys = [(KeyId::of(&key.verifying_key()), key.verifying_key())];
    let data = RawJson::parse(DATA).unwrap();
    let signer = Signer {
        key: &key,
        ts: NOW,
        nonce: Nonce([1; 16]),
        aud: None,
        re: None,
    };
    let mut plain = [0u8; 300];
    let n = encode_event(&mut plain, V2, 1, &ENV, Body::Data(&data)).unwrap();
    let plain = &plain[..n];
    assert_eq!(n - 5, 212);
    let mut signed = [0u8; 600];
    let m = sign_frame(&mut signed, V2, 1, &ENV, Body::Data(&data), &signer).unwrap();
    let signed = &signed[..m];

    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode unsigned (212 B)", |b| {
        b.iter(|| {
            let (frame, _) = Frame::decode(black_box(plain)).complete().unwrap();
            black_box(frame.request().unwrap());
        })
    });
    group.bench_function("decode signed (445 B)", |b| {
        b.iter(|| {
            let (frame, _) = Frame::decode(black_box(signed)).complete().unwrap();
            black_box(frame.request().unwrap());
        })
    });
    group.bench_function("verify_frame (445 B)", |b| {
        b.iter(|| {
            let (frame, _) = Frame::decode(black_box(signed)).complete().unwrap();
            // A fresh cache each time: the same nonce twice is refused.
            let mut cache = ReplayCache::<64>::new();
            let opts = VerifyOptions::default();
            black_box(verify_frame(&frame, &keys, NOW, &mut cache, &opts).unwrap());
        })
    });
    group.bench_function("sign_frame (445 B)", |b| {
        let mut out = [0u8; 600];
        b.iter(|| {
            let n = sign_frame(&mut out, V2, 1, &ENV, Body::Data(&data), black_box(&signer));
            black_box(n.unwrap());
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = auth
}
criterion_main!(benches);
