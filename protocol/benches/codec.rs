//! Codec benchmarks. Each group measures `uhome-protocol` beside its baselines on the same
//! bytes: `serde_json` decoding into an equivalent borrowed struct, and `core::str::from_utf8`
//! (the floor: every decoder must at least read the bytes once).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

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

/// The envelope around `data`, as the readings events have it.
fn event_with(data: &str) -> String {
    format!(
        r#"{{"id":"5b680688-ef44-4f1b-b684-1bd3706ccac5","timestamp":"2026-11-28T22:21:26.732Z","source":"µHome/sensors/log","type":"home.log.lines","data":{data}}}"#
    )
}

/// A fixed pseudo-random sequence (xorshift), so every run measures the same bytes.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Other shapes of `data`, about 32 KiB each: long ASCII strings, non-ASCII text, numbers,
/// escapes, and the readings pretty-printed.
fn shapes() -> Vec<(&'static str, String)> {
    let mut rng = Lcg(0x9E37_79B9_7F4A_7C15);
    let mut list = |item: &mut dyn FnMut(&mut Lcg) -> String| {
        let mut s = String::from("[");
        while s.len() < 32 * 1024 {
            if s.len() > 1 {
                s.push(',');
            }
            s.push_str(&item(&mut rng));
        }
        s.push(']');
        event_with(&s)
    };
    let text = |rng: &mut Lcg, alphabet: &[&str], min: u64, max: u64| {
        let n = min + rng.below(max - min);
        let body: String = (0..n)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        format!("\"{body}\"")
    };
    const ASCII: &[&str] = &[
        "a", "b", "c", "d", "e", "f", "g", "h", "k", "m", "o", "r", "s", "t", "x", "z", " ", "-",
        "_", "/", ".", ",", "0", "1", "7", "A", "Q",
    ];
    const UNICODE: &[&str] = &["a", "é", "µ", "€", "😀", "漢", "字", " ", "b", "c"];
    const ESCAPES: &[&str] = &["a", "b", "c", "\\\"", "\\\\", "\\n", "\\t", "\\u0001"];
    let long = list(&mut |rng| text(rng, ASCII, 20, 200));
    let unicode = list(&mut |rng| text(rng, UNICODE, 5, 60));
    let escapes = list(&mut |rng| text(rng, ESCAPES, 5, 40));
    let numbers = list(&mut |rng| {
        let digits = rng.below(7) as usize;
        let value = rng.below(2_000_000_000) as f64 / 1e6 - 1000.0;
        format!("{value:.digits$}")
    });
    let readings: serde_json::Value = serde_json::from_str(&readings_event(30 * 1024)).unwrap();
    let pretty = serde_json::to_string_pretty(&readings).unwrap();
    vec![
        ("strings-long", long),
        ("text-non-ascii", unicode),
        ("escapes", escapes),
        ("numbers", numbers),
        ("pretty", pretty),
    ]
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

/// The same comparison on other shapes of payload, so that speed on the three sizes above is
/// not bought with a loss elsewhere.
fn decode_shapes(c: &mut Criterion) {
    for (name, payload) in shapes() {
        let bytes = frame(&payload);
        let mut group = c.benchmark_group(format!("decode-shape/{name}"));
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

criterion_group!(benches, header, decode, decode_shapes, encode);
criterion_main!(benches);
