//! Property tests of record decoding: whatever the bytes, `validate` never
//! panics and gives every record a verdict, a kept one with the normalized
//! value and its row, a rejected one with a reason.
//!
//! Bounded and deterministic: each property runs a fixed number of cases
//! from a fixed seed; a failure proptest finds is kept in
//! `transforms/validate/proptest-regressions/fuzz.txt` and replayed first.

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{RngAlgorithm, RngSeed};
use sluice_transform::testing::run;
use sluice_transform::{OwnedBatch, Verdict};

use super::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0a11_da7e),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

const SEOUL: &str = r#"{"local_offset": "+09:00"}"#;
const EVENT_TYPES: [&str; 4] = ["FOCUS", "DISTRACTED", "AWAY", "DROWSY"];

/// What one record came out as.
#[derive(Debug)]
enum Outcome {
    Kept { session_id: String, event_type: String, event_time: i64 },
    Rejected(String),
}

/// Runs `values` as one batch and checks the answer's shape: one verdict
/// per record, `Replace` or `Reject` (never `Keep`: the value is always
/// normalized), a non-empty reason, and one row per kept record whose
/// values are the normalized value's.
fn outcomes(values: &[Vec<u8>]) -> Vec<Outcome> {
    let out = run::<Validate>(SEOUL, &OwnedBatch::from_values(values.iter().map(Vec::as_slice))).expect("process");
    let verdicts = out.to_verdicts();
    assert_eq!(verdicts.len(), values.len());
    let rows = out.to_rows();
    let mut rows = rows.iter();
    verdicts
        .into_iter()
        .enumerate()
        .map(|(i, verdict)| match verdict {
            Verdict::Replace(value) => {
                let n: serde_json::Value = serde_json::from_slice(&value).expect("the normalized value is JSON");
                let object = n.as_object().expect("an object");
                assert_eq!(object.len(), 3, "{n}");
                let session_id = n["sessionId"].as_str().expect("sessionId").to_owned();
                let event_type = n["eventType"].as_str().expect("eventType").to_owned();
                let event_time = n["eventTime"].as_i64().expect("eventTime");
                assert!(!session_id.is_empty() && session_id.chars().count() <= 64, "{session_id:?}");
                assert!(EVENT_TYPES.contains(&event_type.as_str()), "{event_type:?}");
                assert!((MIN_EVENT_TIME_MS..=MAX_EVENT_TIME_MS).contains(&event_time), "{event_time}");
                let row = rows.next().expect("a row for a kept record");
                assert_eq!(row.output, STUDY_LOG);
                assert_eq!(row.source, Some(i as u32));
                assert_eq!(
                    row.values,
                    [Value::text(session_id.clone()), Value::text(event_type.clone()), Value::TimestampMs(event_time)]
                );
                Outcome::Kept { session_id, event_type, event_time }
            }
            Verdict::Reject(reason) => {
                assert!(!reason.trim().is_empty(), "an empty reason for record {i}");
                // Reasons quote bad values cut short: a huge value cannot
                // make a huge reason.
                assert!(reason.len() < 1_024, "a reason of {} bytes", reason.len());
                Outcome::Rejected(reason)
            }
            Verdict::Keep => panic!("record {i} kept without its normalized value"),
            Verdict::Drop => panic!("record {i} dropped: validate rejects or keeps"),
        })
        .collect()
}

fn one(value: &[u8]) -> Outcome {
    outcomes(&[value.to_vec()]).pop().expect("one outcome")
}

/// The three fields, read by serde's derive rather than `validate`'s own
/// visitor. Other fields are skipped unread, as `validate` skips them (so
/// `1e400` there is fine: JSON's grammar allows it).
#[derive(Deserialize)]
struct Fields {
    #[serde(rename = "sessionId")]
    session_id: String,
    #[serde(rename = "eventType")]
    event_type: String,
    timestamp: serde_json::Value,
}

/// A kept record's fields are what the input said, read independently: the
/// decoder took nothing that is not there.
fn check_against_serde(value: &[u8], outcome: &Outcome) {
    let Outcome::Kept { session_id, event_type, .. } = outcome else { return };
    let fields: Fields = serde_json::from_slice(value).expect("a kept value has the fields");
    assert_eq!(&fields.session_id, session_id);
    assert_eq!(&fields.event_type, event_type);
    assert!(fields.timestamp.is_string() || fields.timestamp.is_number(), "{}", fields.timestamp);
}

/// Timestamps in every form `validate` reads, and near misses.
fn timestamp() -> impl Strategy<Value = String> {
    let iso = (
        0u32..=10_000,
        0u32..=13,
        0u32..=32,
        0u32..=25,
        0u32..=61,
        0u32..=61,
        select(vec!["", ".1", ".120", ".123456789", ".1234567891", "."]),
        select(vec!["", "Z", "z", "+09:00", "-05:30", "+0900", "+24:00", "-00:00", "+09"]),
        select(vec!["T", " ", "t"]),
    )
        .prop_map(|(y, mo, d, h, mi, s, fraction, offset, sep)| {
            format!("\"{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{fraction}{offset}\"")
        });
    prop_oneof![
        3 => iso,
        2 => json_number(),
        1 => json_number().prop_map(|n| format!("\"{n}\"")),
        1 => "\"[-0-9:.TZz+ ]{0,30}\"",
        1 => select(vec!["true", "null", "[]", "{}", "\"\"", "\"-\"", "[1]", "{\"a\":1}"]).prop_map(String::from),
    ]
}

/// JSON number literals: ordinary, huge, fractional, with exponents.
fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (MIN_EVENT_TIME_MS - 10..=MAX_EVENT_TIME_MS + 10).prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(|x| format!("{x:?}")),
        (-1e16f64..1e16).prop_map(|x| x.to_string()),
        "-?[1-9][0-9]{18,60}",
        "-?[1-9][0-9]{0,15}\\.[0-9]{1,20}",
        "-?[1-9][0-9]?[eE][-+]?[0-9]{1,3}",
        select(vec!["0", "-0", "0.0", "-0.0", "1e400", "-1e400", "1E3", "9223372036854775807", "9223372036854775808"])
            .prop_map(String::from),
    ]
}

/// A valid-looking event: any session id, a listed event type (mostly),
/// any timestamp form, and maybe an extra field.
fn event() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![3 => "[a-z0-9-]{1,20}", 1 => any::<String>(), 1 => "\\PC{60,70}"],
        prop_oneof![4 => select(EVENT_TYPES.to_vec()).prop_map(String::from), 1 => any::<String>()],
        timestamp(),
        prop::option::of(json_number()),
    )
        .prop_map(|(session, kind, ts, extra)| {
            let session = serde_json::to_string(&session).expect("string");
            let kind = serde_json::to_string(&kind).expect("string");
            let extra = extra.map_or(String::new(), |n| format!(",\"extra\":[{n},{{\"a\":null}}]"));
            format!(r#"{{"sessionId":{session},"eventType":{kind},"timestamp":{ts}{extra}}}"#).into_bytes()
        })
}

/// Ways to break an event.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Delete(Index, usize),
    Duplicate(Index, usize, Index),
    Insert(Index, Vec<u8>),
    FlipByte(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let piece = prop_oneof![
        select(vec![
            &b"{"[..],
            b"}",
            b"[",
            b"]",
            b"\"",
            b"\\",
            b",",
            b":",
            b"\\u0000",
            b"\\ud800",
            b"\xff",
            b"\xc3",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\0",
            b" ",
            b"\n",
            b"null",
            b"1e999",
            b"-",
            b"99999999999999999999999",
            b"\xef\xbb\xbf",
            b"\"sessionId\":\"x\",",
            b"\"timestamp\":1,",
        ])
        .prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 1..8),
        "\\PC{1,4}".prop_map(String::into_bytes),
    ];
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..32, any::<Index>()).prop_map(|(i, n, to)| Mutation::Duplicate(i, n, to)),
        (any::<Index>(), piece).prop_map(|(i, p)| Mutation::Insert(i, p)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    let at = |i: &Index| i.index(n + 1);
    match m {
        Mutation::Truncate(i) => bytes.truncate(at(i)),
        Mutation::Delete(i, len) => {
            let start = at(i);
            bytes.drain(start..(start + len).min(n));
        }
        Mutation::Duplicate(i, len, to) => {
            let start = at(i);
            let span = bytes[start..(start + len).min(n)].to_vec();
            let to = at(to);
            bytes.splice(to..to, span);
        }
        Mutation::Insert(i, piece) => {
            let start = at(i);
            bytes.splice(start..start, piece.iter().copied());
        }
        Mutation::FlipByte(i, b) => {
            if n > 0 {
                bytes[i.index(n)] ^= b | 1;
            }
        }
    }
}

/// `depth` levels of `[` or `{"a":`, closed.
fn nested(depth: usize, object: bool) -> String {
    if object {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    } else {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }
}

/// What serde_json makes of a number literal, the way `validate` takes
/// it: an integer exactly, a float floored, `None` when it is not a number
/// serde_json reads (out of f64's range).
fn number_as_millis(literal: &str) -> Option<i128> {
    match serde_json::from_str::<serde_json::Number>(literal).ok()? {
        n if n.is_i64() => n.as_i64().map(i128::from),
        n if n.is_u64() => n.as_u64().map(i128::from),
        n => n.as_f64().map(|x| x.floor() as i128),
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes, a batch of them at a time.
    #[test]
    fn any_bytes_get_a_verdict(values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..8)) {
        for (value, outcome) in values.iter().zip(outcomes(&values)) {
            check_against_serde(value, &outcome);
        }
    }

    /// Events, valid or nearly, with every timestamp form.
    #[test]
    fn events_get_a_verdict_that_matches_their_fields(value in event()) {
        let outcome = one(&value);
        check_against_serde(&value, &outcome);
    }

    /// Events truncated, cut, duplicated, with bytes flipped and pieces
    /// (invalid UTF-8, escapes, huge numbers, brackets) put in.
    #[test]
    fn broken_events_get_a_verdict(value in event(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let mut value = value;
        for m in &mutations {
            apply(&mut value, m);
        }
        let outcome = one(&value);
        check_against_serde(&value, &outcome);
        if std::str::from_utf8(&value).is_err() {
            let Outcome::Rejected(reason) = &outcome else { panic!("kept a value that is not UTF-8") };
            prop_assert!(reason.starts_with("value is not UTF-8 (invalid bytes at offset "), "{reason}");
        }
    }

    /// A number as the timestamp is epoch milliseconds, floored; kept when
    /// in MySQL's DATETIME range, else rejected.
    #[test]
    fn numeric_timestamps_are_floored_and_range_checked(n in json_number()) {
        let value = format!(r#"{{"sessionId":"s","eventType":"AWAY","timestamp":{n}}}"#);
        let expected = number_as_millis(&n);
        match one(value.as_bytes()) {
            Outcome::Kept { event_time, .. } => prop_assert_eq!(Some(i128::from(event_time)), expected, "{}", n),
            Outcome::Rejected(reason) => {
                let in_range = expected
                    .is_some_and(|ms| (i128::from(MIN_EVENT_TIME_MS)..=i128::from(MAX_EVENT_TIME_MS)).contains(&ms));
                prop_assert!(!in_range, "{} rejected: {}", n, reason);
                prop_assert!(reason.starts_with("timestamp ") || reason.starts_with("invalid JSON"), "{}", reason);
            }
        }
    }

    /// An ISO-8601 timestamp with an offset that chrono reads as RFC 3339
    /// is kept with chrono's time (when in range); whatever is kept is in
    /// range.
    #[test]
    fn iso_timestamps_agree_with_chrono(ts in timestamp()) {
        let value = format!(r#"{{"sessionId":"s","eventType":"FOCUS","timestamp":{ts}}}"#);
        let outcome = one(value.as_bytes());
        let text = ts.trim_matches('"');
        let chrono = ts.starts_with('"').then(|| chrono::DateTime::parse_from_rfc3339(text).ok()).flatten();
        let in_range = |ms: &i64| (MIN_EVENT_TIME_MS..=MAX_EVENT_TIME_MS).contains(ms);
        if let Some(ms) = chrono.map(|t| t.timestamp_millis()).filter(in_range) {
            match outcome {
                Outcome::Kept { event_time, .. } => prop_assert_eq!(event_time, ms, "{}", text),
                Outcome::Rejected(reason) => prop_assert!(false, "{} rejected: {}", text, reason),
            }
        }
    }

    /// The session id is kept exactly (escapes and all) when it has 1 to
    /// 64 characters, and rejected otherwise.
    #[test]
    fn session_ids_round_trip_or_are_rejected(
        session in prop_oneof![any::<String>(), "\\PC{60,70}", "[\\x00-\\x20\"\\\\]{0,70}"],
    ) {
        let value = format!(
            r#"{{"sessionId":{},"eventType":"DROWSY","timestamp":"2026-01-28T10:15:30+09:00"}}"#,
            serde_json::to_string(&session).expect("string")
        );
        let chars = session.chars().count();
        match one(value.as_bytes()) {
            Outcome::Kept { session_id, .. } => {
                prop_assert_eq!(session_id, session);
                prop_assert!((1..=64).contains(&chars));
            }
            Outcome::Rejected(reason) => {
                prop_assert!(chars == 0 || chars > 64, "{:?} rejected: {}", session, reason);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Deep nesting anywhere (the whole value, an ignored field, a field
    /// `validate` reads) is skipped without recursion, never a crash: an
    /// ignored field's value does not matter, a read one is the wrong type.
    #[test]
    fn deep_nesting_is_skipped_or_rejected(depth in 1usize..5_000, object in any::<bool>(), place in 0u8..4) {
        let deep = nested(depth, object);
        let value = match place {
            0 => deep.clone(),
            1 => format!(r#"{{"sessionId":"s","eventType":"FOCUS","timestamp":0,"extra":{deep}}}"#),
            2 => format!(r#"{{"sessionId":{deep},"eventType":"FOCUS","timestamp":0}}"#),
            _ => format!(r#"{{"sessionId":"s","eventType":"FOCUS","timestamp":{deep}}}"#),
        };
        let kind = if object { "object" } else { "array" };
        let expected = match place {
            0 if object => "missing field sessionId".to_owned(),
            0 => "value is a JSON array, not an object".to_owned(),
            1 => String::new(),
            2 => format!("sessionId is not a string (found {kind})"),
            _ => format!("timestamp is not a string or a number (found {kind})"),
        };
        match one(value.as_bytes()) {
            Outcome::Kept { event_time, .. } => prop_assert!(place == 1 && event_time == 0, "kept {}", value),
            Outcome::Rejected(reason) => prop_assert_eq!(reason, expected),
        }
    }
}

/// The seeds the properties start from, as plain examples: every form of
/// the README's event decodes.
#[test]
fn seed_events_are_kept() {
    for ts in ["\"2026-01-28T10:15:30.120+09:00\"", "\"2026-01-28T10:15:30.120\"", "1769562930120", "\"1769562930120\""]
    {
        let value = format!(r#"{{"sessionId":"s-1","eventType":"FOCUS","timestamp":{ts}}}"#);
        assert!(matches!(one(value.as_bytes()), Outcome::Kept { event_time: 1_769_562_930_120, .. }), "{ts}");
    }
}
