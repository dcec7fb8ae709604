//! Property tests of record decoding and counting: whatever the bytes,
//! `stats` never panics, keeps what it can read and rejects the rest with a
//! reason, its fast path reads what serde_json reads, and its rows count
//! exactly the kept records.
//!
//! Bounded and deterministic: each property runs a fixed number of cases
//! from a fixed seed; a failure proptest finds is kept in
//! `transforms/stats/proptest-regressions/fuzz.txt` and replayed first.

use std::collections::HashMap;

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
        rng_seed: RngSeed::Fixed(0x57a7_5eed),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// Event times: ordinary ones near an hour boundary, and the extremes.
fn event_time() -> impl Strategy<Value = i64> {
    const H: i64 = 1_769_594_400_000;
    prop_oneof![
        3 => H - 2 * HOUR_MS..H + 2 * HOUR_MS,
        1 => any::<i64>(),
        1 => select(vec![i64::MIN, i64::MIN + 1, -HOUR_MS, -1, 0, 1, HOUR_MS - 1, i64::MAX - 1, i64::MAX]),
    ]
}

/// A normalized event as `validate` writes it, with a session id and event
/// type from small sets (so that groups fill up) or any text.
fn canonical() -> impl Strategy<Value = (String, String, i64)> {
    (
        prop_oneof![3 => select(vec!["s1", "s2", "세션"]).prop_map(String::from), 1 => any::<String>()],
        prop_oneof![3 => select(vec!["FOCUS", "AWAY"]).prop_map(String::from), 1 => any::<String>()],
        event_time(),
    )
}

fn to_json((session, kind, time): &(String, String, i64)) -> Vec<u8> {
    let (session, kind) = (serde_json::to_string(session).expect("str"), serde_json::to_string(kind).expect("str"));
    format!(r#"{{"sessionId":{session},"eventType":{kind},"eventTime":{time}}}"#).into_bytes()
}

/// Ways to break a value.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    FlipByte(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let piece = prop_oneof![
        select(vec![
            &b"\""[..],
            b"\\",
            b"{",
            b"}",
            b",",
            b":",
            b" ",
            b"-",
            b"0",
            b"9",
            b"/",
            b".5",
            b"e3",
            b"\xff",
            b"\xc3",
            b"99999999999999999999",
            b"\\u00e9",
            b",\"x\":1",
        ])
        .prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 1..6),
    ];
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..8).prop_map(|(i, n)| Mutation::Delete(i, n)),
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

/// A record value: an event, a broken event, or any bytes.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => canonical().prop_map(|e| to_json(&e)),
        3 => (canonical(), prop::collection::vec(mutation(), 1..3)).prop_map(|(e, ms)| {
            let mut bytes = to_json(&e);
            for m in &ms {
                apply(&mut bytes, m);
            }
            bytes
        }),
        1 => prop::collection::vec(any::<u8>(), 0..100),
    ]
}

/// What serde_json makes of a value, as owned parts.
fn serde_read(value: &[u8]) -> Option<(String, String, i64)> {
    let n: Normalized<'_> = serde_json::from_slice(value).ok()?;
    Some((n.session_id.into_owned(), n.event_type.into_owned(), n.event_time))
}

/// One group of the oracle: (session, bucket, type) → count, first, last.
type Groups = Vec<((String, i64, String), (i64, i64, i64))>;

/// The rows `stats` should emit for the kept events, by a plain map, in
/// the order of each group's first event.
fn expected_groups(events: &[(String, String, i64)]) -> Groups {
    let mut groups: Groups = Vec::new();
    let mut index: HashMap<(String, i64, String), usize> = HashMap::new();
    for (session, kind, t) in events {
        let key = (session.clone(), t.div_euclid(HOUR_MS) * HOUR_MS, kind.clone());
        match index.get(&key) {
            Some(&i) => {
                let (count, first, last) = &mut groups[i].1;
                *count += 1;
                *first = (*first).min(*t);
                *last = (*last).max(*t);
            }
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, (1, *t, *t)));
            }
        }
    }
    groups
}

proptest! {
    #![proptest_config(config(256))]

    /// Batches of events, broken events and noise: one verdict per record,
    /// kept exactly when serde_json reads the value (and its times are ones
    /// an hour bucket exists for), rejected with a reason otherwise; the
    /// rows are the groups of the kept events.
    #[test]
    fn batches_are_counted_exactly(values in prop::collection::vec(value(), 1..24)) {
        let out = run::<Stats>("", &OwnedBatch::from_values(&values)).expect("process");
        let verdicts = out.to_verdicts();
        prop_assert_eq!(verdicts.len(), values.len());
        let mut kept = Vec::new();
        for (value, verdict) in values.iter().zip(&verdicts) {
            let read = serde_read(value);
            match verdict {
                Verdict::Keep => kept.push(read.expect("a kept value is read by serde_json")),
                Verdict::Reject(reason) => {
                    prop_assert!(reason.starts_with("not a normalized event"), "{}", reason);
                    prop_assert!(
                        read.as_ref().is_none_or(|(_, _, t)| t.checked_sub(t.rem_euclid(HOUR_MS)).is_none()),
                        "rejected {:?}: {}", String::from_utf8_lossy(value), reason
                    );
                }
                Verdict::Replace(_) | Verdict::Drop => prop_assert!(false, "stats neither replaces nor drops values"),
            }
        }
        let rows: Groups = out
            .to_rows()
            .into_iter()
            .map(|row| {
                assert_eq!((row.output, row.source), (STATS, None));
                match row.values.as_slice() {
                    [
                        Value::Text(session),
                        Value::TimestampMs(bucket),
                        Value::Text(kind),
                        Value::Int(count),
                        Value::TimestampMs(first),
                        Value::TimestampMs(last),
                    ] => ((session.to_string(), *bucket, kind.to_string()), (*count, *first, *last)),
                    other => panic!("a row of the wrong shape: {other:?}"),
                }
            })
            .collect();
        for ((_, bucket, _), (_, first, last)) in &rows {
            prop_assert!(bucket.rem_euclid(HOUR_MS) == 0 && bucket <= first && first <= last);
            prop_assert!(last - bucket < HOUR_MS);
        }
        prop_assert_eq!(rows, expected_groups(&kept));
    }

    /// The fast path reads exactly what serde_json reads, wherever it reads
    /// anything, and it reads every value `validate` writes with plain strings.
    #[test]
    fn the_fast_path_agrees_with_serde(event in canonical(), mutations in prop::collection::vec(mutation(), 0..3)) {
        let mut value = to_json(&event);
        let plain = |s: &str| !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
        // Numbers of more than 18 digits are left to serde_json.
        if mutations.is_empty() && plain(&event.0) && plain(&event.1) && event.2.unsigned_abs() < 10u64.pow(18) {
            prop_assert!(read_canonical(&value).is_some(), "{:?}", String::from_utf8_lossy(&value));
        }
        for m in &mutations {
            apply(&mut value, m);
        }
        if let Some(raw) = read_canonical(&value) {
            let fast = (String::from_utf8(raw.session_id.into_owned()), String::from_utf8(raw.event_type.into_owned()));
            match fast {
                (Ok(session), Ok(kind)) => prop_assert_eq!(Some((session, kind, raw.event_time)), serde_read(&value)),
                // Not UTF-8: serde_json refuses it, and so does `read`.
                _ => prop_assert!(read(&value).is_err()),
            }
        }
    }
}

/// Found by `batches_are_counted_exactly`: an `eventTime` within an hour of
/// `i64::MIN` has no hour bucket in `i64`, and computing one overflowed (a
/// panic in debug builds, a wrapped bucket in the release module). Such a
/// record is rejected now; the earliest time that has a bucket is kept.
#[test]
fn times_without_an_hour_bucket_are_rejected() {
    let values = [i64::MIN, EARLIEST_EVENT_TIME - 1, EARLIEST_EVENT_TIME]
        .map(|t| to_json(&("s".to_owned(), "FOCUS".to_owned(), t)));
    let out = run::<Stats>("", &OwnedBatch::from_values(&values)).expect("process");
    let verdicts = out.to_verdicts();
    for verdict in &verdicts[..2] {
        assert!(
            matches!(verdict, Verdict::Reject(r) if r.ends_with("is before the earliest hour bucket")),
            "{verdict:?}"
        );
    }
    assert_eq!(verdicts[2], Verdict::Keep);
    assert_eq!(out.to_rows()[0].values[1], Value::TimestampMs(EARLIEST_EVENT_TIME));
}
