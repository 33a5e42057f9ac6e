#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails
//! The structured generator produces what its documentation claims, over many seeds.

use arbitrary::{Result, Unstructured};
use uhome_fuzz_checks::{reference, structured};
use uhome_protocol::json::{validate, JsonFault};
use uhome_protocol::{decode_payload, Decoded, Error, EventFault, Frame, Member, Message};

const SEEDS: u64 = 4000;

/// Deterministic pseudo-random input bytes (splitmix64), as a fuzzer would hand them over.
fn seed_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef;
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

fn outputs<T>(f: impl Fn(&mut Unstructured<'_>) -> Result<T>) -> Vec<T> {
    (0..SEEDS)
        .map(|seed| {
            let bytes = seed_bytes(seed, 1 + (seed as usize * 7) % 3000);
            f(&mut Unstructured::new(&bytes)).expect("the generator is total")
        })
        .collect()
}

#[test]
fn empty_input_still_generates() {
    for f in [
        structured::json_bytes,
        structured::event_bytes,
        structured::frame_bytes,
    ] {
        assert!(f(&mut Unstructured::new(&[])).is_ok());
    }
    let frame = structured::frame_bytes(&mut Unstructured::new(&[])).unwrap();
    assert!(frame.len() >= 5, "a header at least: {frame:?}");
}

#[test]
fn valid_json_text_is_always_valid_and_reaches_the_depth_edges() {
    let texts = outputs(structured::valid_json_text);
    let mut depths = std::collections::BTreeMap::<usize, usize>::new();
    for t in &texts {
        assert!(reference::serde_accepts(t), "serde_json refuses {t:?}");
        assert_eq!(
            t.trim_matches(reference::is_ws),
            t,
            "whitespace around {t:?}"
        );
        let depth = reference::depth(t);
        if depth <= 128 {
            assert!(
                validate(t.as_bytes(), depth).is_ok(),
                "refused at its depth: {t:?}"
            );
        } else {
            let err = validate(t.as_bytes(), 128).expect_err("deeper than 128 accepted");
            assert_eq!(err.fault, JsonFault::TooDeep);
        }
        *depths.entry(depth).or_default() += 1;
    }
    for d in structured::EDGE_DEPTHS {
        assert!(depths.contains_key(&d), "no text of depth {d}: {depths:?}");
    }
    assert!(texts.iter().any(|t| reference::has_lone_surrogate(t)));
    assert!(texts
        .iter()
        .any(|t| t.contains("\\ud83d\\ude00") || t.contains("\\uD83D\\uDE00")));
}

#[test]
fn json_bytes_hit_the_depth_limit_of_the_spec_and_the_grammar_faults() {
    let all = outputs(structured::json_bytes);
    let (mut at_64, mut at_65, mut invalid_json, mut invalid_utf8, mut valid) = (0, 0, 0, 0, 0);
    for bytes in &all {
        let Ok(text) = std::str::from_utf8(bytes) else {
            let err = validate(bytes, 128).expect_err("invalid UTF-8 accepted");
            assert_eq!(err.fault, JsonFault::InvalidUtf8);
            invalid_utf8 += 1;
            continue;
        };
        if !reference::serde_accepts(text) {
            assert!(validate(bytes, 128).is_err(), "accepted: {text:?}");
            invalid_json += 1;
            continue;
        }
        valid += 1;
        match reference::depth(text) {
            // A receiver must accept depth 64 ([UH-JSON-8]) ...
            64 => {
                assert!(validate(bytes, 64).is_ok(), "depth 64 refused: {text:?}");
                at_64 += 1;
            }
            // ... and one limited to 64 refuses 65 with too_deep.
            65 => {
                let err = validate(bytes, 64).expect_err("depth 65 accepted at limit 64");
                assert_eq!(err.fault, JsonFault::TooDeep);
                let v2 = decode_payload(2, bytes, 64);
                assert!(matches!(v2, Err(Error::TooDeep { .. })), "{v2:?}");
                at_65 += 1;
            }
            _ => {}
        }
    }
    assert!(
        at_64 > 0 && at_65 > 0,
        "depth 64: {at_64}, depth 65: {at_65}"
    );
    assert!(
        invalid_json > 0 && invalid_utf8 > 0,
        "{invalid_json} / {invalid_utf8}"
    );
    assert!(valid > all.len() / 2, "only {valid} of {} valid", all.len());
}

#[test]
fn event_bytes_are_often_events_and_hit_every_envelope_fault() {
    let all = outputs(structured::event_bytes);
    let mut events = 0;
    let mut reserved = 0;
    let mut faults = std::collections::BTreeSet::new();
    let mut duplicate_after_unescape = 0;
    for bytes in &all {
        let result = decode_payload(2, bytes, 128);
        uhome_fuzz_checks::check_message(2, bytes, &result);
        match &result {
            Ok(Message::Event(e)) => {
                events += 1;
                if e.event_type.to_string().starts_with("µHome.core.") {
                    reserved += 1;
                }
            }
            Ok(Message::Other(_)) => panic!("version 2 gave Other"),
            Err(Error::DuplicateMember(m)) => {
                faults.insert(format!("duplicate {}", m.name()));
                // A repeat only equal after unescaping: both spellings in the text.
                let text = String::from_utf8_lossy(bytes);
                if *m == Member::Type && text.contains("\"typ\\u0065\"") {
                    duplicate_after_unescape += 1;
                }
            }
            Err(Error::InvalidEvent(f)) => {
                let kind = match f {
                    EventFault::NotAnObject => "not an object".to_string(),
                    EventFault::Missing(m) => format!("missing {}", m.name()),
                    EventFault::NotAString(m) => format!("not a string {}", m.name()),
                    EventFault::Empty(m) => format!("empty {}", m.name()),
                };
                faults.insert(kind);
            }
            Err(Error::InvalidJson { .. }) => {
                faults.insert("invalid_json".to_string());
            }
            Err(Error::InvalidUtf8 { .. }) => {
                faults.insert("invalid_utf8".to_string());
            }
            Err(Error::TooDeep { .. }) => {
                faults.insert("too_deep".to_string());
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(
        events > all.len() / 5,
        "only {events} events of {}",
        all.len()
    );
    assert!(reserved > 0);
    assert!(
        duplicate_after_unescape > 0,
        "no typ\\u0065 duplicate refused"
    );
    let mut expected = vec![
        "not an object".to_string(),
        "invalid_json".to_string(),
        "invalid_utf8".to_string(),
        "too_deep".to_string(),
    ];
    for m in Member::REQUIRED {
        for kind in ["missing", "not a string", "empty", "duplicate"] {
            expected.push(format!("{kind} {}", m.name()));
        }
    }
    for m in ["data", "error"] {
        expected.push(format!("duplicate {m}"));
    }
    let missed: Vec<_> = expected.iter().filter(|e| !faults.contains(*e)).collect();
    assert!(missed.is_empty(), "never produced: {missed:?}");
}

#[test]
fn frame_bytes_vary_header_and_length() {
    let all = outputs(structured::frame_bytes);
    let (mut complete, mut partial, mut lies, mut trailing, mut events) = (0, 0, 0, 0, 0);
    let mut versions = std::collections::BTreeSet::new();
    let mut statuses = std::collections::BTreeSet::new();
    for bytes in &all {
        assert!(bytes.len() >= 5);
        let declared = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        versions.insert(u16::from_be_bytes([bytes[2], bytes[3]]).min(3));
        statuses.insert(bytes[4].min(2));
        match Frame::decode(bytes) {
            Decoded::Complete(frame, used) => {
                complete += 1;
                if used < bytes.len() {
                    trailing += 1;
                }
                if declared + 5 != bytes.len() && used == bytes.len() {
                    unreachable!("a complete frame uses its declared length");
                }
                if matches!(frame.message(), Ok(Message::Event(_))) {
                    events += 1;
                }
            }
            Decoded::Partial { .. } => partial += 1,
        }
        if declared + 5 > bytes.len() {
            lies += 1;
        }
    }
    assert!(
        complete > all.len() / 2,
        "{complete} complete of {}",
        all.len()
    );
    assert!(
        partial > 0 && lies > 0 && trailing > 0,
        "{partial} {lies} {trailing}"
    );
    assert!(events > all.len() / 10, "{events} events");
    assert_eq!(versions.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn the_first_byte_selects_the_generator() {
    assert_eq!(structured::selected(&[0xff, 1, 2]), Some(&[1u8, 2][..]));
    assert_eq!(structured::selected(&[0xf5]), Some(&[][..]));
    assert_eq!(structured::selected(&[0xf4, 1]), None);
    assert_eq!(structured::selected(b"{}"), None);
    assert_eq!(structured::selected(&[]), None);
}

#[test]
fn the_targets_hold_on_structured_inputs() {
    for seed in 0..1500 {
        let mut data = seed_bytes(seed, 1 + (seed as usize * 13) % 2000);
        data[0] = 0xf5 + (seed % 11) as u8;
        uhome_fuzz_checks::json_differential(&data);
        if seed < 400 {
            uhome_fuzz_checks::roundtrip(&data);
        }
    }
}

#[test]
fn structured_roundtrip_cases_come_from_decoded_events() {
    let cases = outputs(uhome_fuzz_checks::Case::structured);
    let reserved = cases
        .iter()
        .filter(|c| c.event_type.starts_with("µHome.core."))
        .count();
    let with_body = cases
        .iter()
        .filter(|c| !matches!(c.body, uhome_fuzz_checks::CaseBody::None))
        .count();
    assert!(reserved > 0, "no reserved type from a decoded event");
    assert!(
        with_body > cases.len() / 2,
        "{with_body} with data or error"
    );
}
