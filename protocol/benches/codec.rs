//! Codec benchmarks. Each group measures `uhome-protocol` beside its baselines on the same
//! bytes: `serde_json` decoding into an equivalent borrowed struct, and `core::str::from_utf8`
//! (the floor: every decoder must at least read the bytes once).

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uhome_protocol::{encode_event, Body, Envelope, Frame, Header, Message, RawJson, V2};

/// The register request of the v0.0.1 captures (section 1): 212-byte payload.
const REGISTER: &str = r#"{"id":"b8008832-cd09-412a-85c4-f0dfea705ed1","timestamp":"2026-11-28T22:17:50.481Z","source":"µHome/dummyService","type":"µHome.core.register","data":{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102"}}"#;

/// The serde_json equivalent of `uhome_protocol::Event`: borrowed where possible, escapes
/// handled, `data`/`error` validated and kept raw.
#[derive(Deserialize)]
#[allow(dead_code)]
struct SerdeEvent<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct SerdeOut<'a, D: Serialize> {
    id: &'a str,
    timestamp: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a D,
}

/// An event whose `data` is sensor readings, grown to about `size` bytes of payload.
fn readings_event(size: usize) -> String {
    let head = r#"{"id":"5b680688-ef44-4f1b-b684-1bd3706ccac5","timestamp":"2026-11-28T22:21:26.732Z","source":"µHome/sensors/hall","type":"home.sensors.readings","data":{"readings":["#;
    let mut s = String::from(head);
    let mut i = 0;
    while s.len() + 120 < size {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"sensor":"hall-{i}","celsius":{}.{},"humidity":0.{},"ok":true,"note":"window \"north\" µ","tags":["a","b"]}}"#,
            15 + i % 10,
            i % 10,
            40 + i % 50
        ));
        i += 1;
    }
    s.push_str("]}}");
    s
}

fn frame(payload: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.extend_from_slice(
        &Header {
            length: payload.len() as u16,
            version: V2,
            status: 1,
        }
        .to_bytes(),
    );
    out.extend_from_slice(payload.as_bytes());
    out
}

fn decode(c: &mut Criterion) {
    let cases = [
        ("register-212B", REGISTER.to_string()),
        ("event-4KiB", readings_event(4096)),
        ("event-60KiB", readings_event(60 * 1024)),
    ];
    for (name, payload) in &cases {
        let bytes = frame(payload);
        let mut group = c.benchmark_group(format!("decode/{name}"));
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_function(BenchmarkId::new("uhome", payload.len()), |b| {
            b.iter(|| {
                let (frame, _) = Frame::decode(black_box(&bytes)).complete().unwrap();
                match frame.message().unwrap() {
                    Message::Event(e) => black_box(e),
                    Message::Other(_) => unreachable!(),
                };
            })
        });
        group.bench_function(BenchmarkId::new("serde_json", payload.len()), |b| {
            b.iter(|| {
                let payload = &black_box(&bytes)[5..];
                black_box(serde_json::from_slice::<SerdeEvent>(payload).unwrap());
            })
        });
        group.bench_function(BenchmarkId::new("from_utf8-floor", payload.len()), |b| {
            b.iter(|| black_box(std::str::from_utf8(&black_box(&bytes)[5..]).unwrap()))
        });
        group.finish();
    }
}

fn header(c: &mut Criterion) {
    let bytes = frame(REGISTER);
    let mut group = c.benchmark_group("header");
    group.bench_function("uhome", |b| {
        b.iter(|| black_box(Header::decode(black_box(&bytes))))
    });
    group.bench_function("from_be_bytes-floor", |b| {
        b.iter(|| {
            let h = black_box(&bytes);
            black_box((
                u16::from_be_bytes([h[0], h[1]]),
                u16::from_be_bytes([h[2], h[3]]),
                h[4],
            ))
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let data_text = r#"{"nodeId":"µHome/dummyService","address":"127.0.0.1:5102"}"#;
    let data = RawJson::parse(data_text).unwrap();
    let value: serde_json::Value = serde_json::from_str(data_text).unwrap();
    let envelope = Envelope {
        id: "b8008832-cd09-412a-85c4-f0dfea705ed1",
        timestamp: "2026-11-28T22:17:50.481Z",
        source: "µHome/dummyService",
        event_type: "µHome.core.register",
    };
    let mut group = c.benchmark_group("encode/register-212B");
    let mut out = vec![0u8; 1024];
    group.bench_function("uhome", |b| {
        b.iter(|| {
            black_box(
                encode_event(&mut out, V2, 1, black_box(&envelope), Body::Data(&data)).unwrap(),
            )
        })
    });
    let mut vec = Vec::with_capacity(1024);
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            vec.clear();
            vec.extend_from_slice(&[0; 5]);
            let event = SerdeOut {
                id: envelope.id,
                timestamp: envelope.timestamp,
                source: envelope.source,
                event_type: envelope.event_type,
                data: &value,
            };
            serde_json::to_writer(&mut vec, black_box(&event)).unwrap();
            let len = (vec.len() - 5) as u16;
            vec[..2].copy_from_slice(&len.to_be_bytes());
            black_box(vec.len())
        })
    });
    group.finish();
}

criterion_group!(benches, header, decode, encode);
criterion_main!(benches);
