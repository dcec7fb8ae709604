//! `stats`: per-hour counts of study-log events.
//!
//! Reads the normalized value `validate` writes,
//! `{"sessionId":"...","eventType":"FOCUS","eventTime":<epoch ms>}`, keeps every
//! record it can read, and emits one row per (session, hour, event type) seen
//! in the batch on the `stats` output:
//!
//! | column           | kind         |                                       |
//! |------------------|--------------|---------------------------------------|
//! | `session_id`     | text         |                                       |
//! | `bucket_start`   | timestamp-ms | `eventTime` truncated to the hour, UTC |
//! | `event_type`     | text         |                                       |
//! | `event_count`    | int          | events in this batch                  |
//! | `first_event_at` | timestamp-ms | earliest `eventTime` in this batch    |
//! | `last_event_at`  | timestamp-ms | latest `eventTime` in this batch      |
//!
//! Rows are per batch, not tied to a record: the sink adds the counts of
//! successive batches and takes the min/max of the first/last times. A record
//! it cannot read is rejected with a reason. No params.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::str::Utf8Error;

use sluice_transform::bytes::eq_bytes;
use sluice_transform::prelude::*;

/// Index of the `stats` output in [`Stats::outputs`].
pub const STATS: u32 = 0;

const HOUR_MS: i64 = 3_600_000;

/// The normalized event, borrowed from the record where possible. Other
/// fields (an enrichment stage's) are ignored.
#[derive(Debug, Deserialize)]
pub struct Normalized<'a> {
    #[serde(rename = "sessionId", borrow)]
    pub session_id: Cow<'a, str>,
    #[serde(rename = "eventType", borrow)]
    pub event_type: Cow<'a, str>,
    #[serde(rename = "eventTime")]
    pub event_time: i64,
}

/// One (session, hour, event type) group of a batch.
#[derive(Debug, PartialEq, Eq)]
pub struct Group<'a> {
    pub session_id: Cow<'a, str>,
    pub bucket_start: i64,
    pub event_type: Cow<'a, str>,
    pub count: i64,
    pub first: i64,
    pub last: i64,
}

/// The earliest time whose hour starts within `i64`: [`hour_bucket`] is
/// defined from here on. (About 292 million years BC; `process` rejects
/// anything earlier. [`read_canonical`] reads no number that large.)
pub const EARLIEST_EVENT_TIME: i64 = i64::MIN / HOUR_MS * HOUR_MS;

/// The start of the UTC hour that holds `ms`, for `ms` from
/// [`EARLIEST_EVENT_TIME`] on.
pub fn hour_bucket(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// A fast fixed-key hasher: deterministic, and needs no random seed from the
/// host. (Keys are attacker-chosen only within one batch, which is small.)
type Hasher = rustc_hash::FxBuildHasher;

/// Groups events in arrival order of their first member.
#[derive(Debug, Default)]
pub struct Aggregate<'a> {
    /// Per session, the index in `groups` of its first group; the others
    /// follow through `next`. A session has few (hour, type) groups in a
    /// batch, so they are searched in a line, only the session id is
    /// hashed, and a new session costs no allocation of its own.
    sessions: HashMap<Key<'a>, usize, Hasher>,
    groups: Vec<Group<'a>>,
    /// Per group, the index of its session's next group, if any.
    next: Vec<Option<usize>>,
}

/// A session id as a map key: its bytes, compared with [`eq_bytes`] (fast
/// in wasm, where `==` calls a byte-by-byte `memcmp`).
#[derive(Debug)]
struct Key<'a>(Cow<'a, [u8]>);

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        eq_bytes(&self.0, &other.0)
    }
}

impl Eq for Key<'_> {}

impl std::hash::Hash for Key<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// An event's fields as bytes: text as read, not yet checked to be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent<'a> {
    pub session_id: Cow<'a, [u8]>,
    pub event_type: Cow<'a, [u8]>,
    pub event_time: i64,
}

impl<'a> From<Normalized<'a>> for RawEvent<'a> {
    fn from(n: Normalized<'a>) -> Self {
        let bytes = |text: Cow<'a, str>| match text {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        };
        RawEvent { session_id: bytes(n.session_id), event_type: bytes(n.event_type), event_time: n.event_time }
    }
}

/// `bytes` as text, if they are UTF-8.
fn text(bytes: Cow<'_, [u8]>) -> Result<Cow<'_, str>, Utf8Error> {
    Ok(match bytes {
        Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b)?),
        Cow::Owned(v) => Cow::Owned(String::from_utf8(v).map_err(|e| e.utf8_error())?),
    })
}

impl<'a> Aggregate<'a> {
    /// An aggregate with room for `sessions` sessions.
    pub fn with_capacity(sessions: usize) -> Self {
        Self {
            sessions: HashMap::with_capacity_and_hasher(sessions, Hasher::default()),
            groups: Vec::with_capacity(sessions),
            next: Vec::with_capacity(sessions),
        }
    }

    /// Counts `event` in its group. Its text is checked to be UTF-8 only
    /// when it starts a session or a group: an event equal byte for byte to
    /// one already counted needs no check. On an error nothing is counted.
    pub fn add(&mut self, event: RawEvent<'a>) -> Result<(), Utf8Error> {
        let bucket = hour_bucket(event.event_time);
        let t = event.event_time;
        let new = self.groups.len();
        let (session_id, event_type) = match self.sessions.entry(Key(event.session_id)) {
            Entry::Occupied(e) => {
                let mut i = *e.get();
                loop {
                    let g = &mut self.groups[i];
                    if g.bucket_start == bucket && eq_bytes(g.event_type.as_bytes(), &event.event_type) {
                        g.count += 1;
                        g.first = g.first.min(t);
                        g.last = g.last.max(t);
                        return Ok(());
                    }
                    match self.next[i] {
                        Some(n) => i = n,
                        None => break,
                    }
                }
                let session_id = self.groups[i].session_id.clone();
                let event_type = text(event.event_type)?;
                // The new group goes last in the session's line.
                self.next[i] = Some(new);
                (session_id, event_type)
            }
            Entry::Vacant(e) => {
                let session_id = text(e.key().0.clone())?;
                let event_type = text(event.event_type)?;
                e.insert(new);
                (session_id, event_type)
            }
        };
        self.groups.push(Group { session_id, bucket_start: bucket, event_type, count: 1, first: t, last: t });
        self.next.push(None);
        Ok(())
    }

    /// Number of sessions seen.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    pub fn groups(&self) -> &[Group<'a>] {
        &self.groups
    }
}

/// Parses a normalized value: the exact form `validate` writes takes a fast
/// path; anything else (another field order, whitespace, escapes, more
/// fields) goes through serde_json, with the same result.
pub fn read(value: &[u8]) -> Result<Normalized<'_>, String> {
    if let Some(raw) = read_canonical(value)
        && let (Ok(session_id), Ok(event_type)) = (text(raw.session_id), text(raw.event_type))
    {
        return Ok(Normalized { session_id, event_type, event_time: raw.event_time });
    }
    // One UTF-8 check for the whole value is cheaper in wasm than
    // serde_json's check of every string.
    let text =
        std::str::from_utf8(value).map_err(|e| format!("not UTF-8 (invalid bytes at offset {})", e.valid_up_to()))?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// `{"sessionId":"<id>","eventType":"<type>","eventTime":<ms>}` with no
/// escapes in the strings and nothing else, byte for byte, its two strings
/// not checked to be UTF-8 (everything else is matched as ASCII here, so the
/// value is UTF-8 exactly when they are); `None` for anything else.
///
/// Kept out of line: inlined into `process`, Cranelift spills its loop's
/// values to the stack (`stats` measured 5 % faster this way).
#[inline(never)]
pub fn read_canonical(value: &[u8]) -> Option<RawEvent<'_>> {
    let rest = strip(value, br#"{"sessionId":""#)?;
    let (session_id, rest) = plain_string(rest)?;
    let rest = strip(rest, br#","eventType":""#)?;
    let (event_type, rest) = plain_string(rest)?;
    let digits = strip(rest, br#","eventTime":"#)?.strip_suffix(b"}")?;
    let event_time = json_integer(digits)?;
    Some(RawEvent { session_id: Cow::Borrowed(session_id), event_type: Cow::Borrowed(event_type), event_time })
}

/// `s` without the prefix `p`, compared as one fixed-size array (a few word
/// compares, where a slice compare calls `memcmp`).
#[inline]
fn strip<'a, const N: usize>(s: &'a [u8], p: &[u8; N]) -> Option<&'a [u8]> {
    let (head, rest) = s.split_first_chunk::<N>()?;
    if head == p { Some(rest) } else { None }
}

/// A JSON integer (`-`? digits, no leading zero but a lone one) that fits
/// an `i64`; `None` for anything else.
fn json_integer(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    // Up to 18 digits cannot overflow; longer ones are left to serde_json.
    if digits.is_empty() || digits.len() > 18 || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    let n = match *digits {
        // Epoch milliseconds have 13 digits: two overlapping groups of
        // eight, read eight at a time, in place of a loop of 13 steps.
        [ref head @ .., _, _, _, _, _, _, _, _] if (1..=8).contains(&head.len()) => {
            let (first, _) = digits.split_first_chunk::<8>()?;
            let (_, last) = digits.split_last_chunk::<8>()?;
            // `first` holds the head's digits and then those it shares with
            // `last`: 8 - head.len() of them.
            let shared = 8 - head.len();
            eight_digits(*first)? / POW10[shared] * 100_000_000 + eight_digits(*last)?
        }
        _ => {
            let mut n: i64 = 0;
            for &c in digits {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    return None;
                }
                n = n * 10 + i64::from(d);
            }
            n
        }
    };
    Some(if negative { -n } else { n })
}

const POW10: [i64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// Eight ASCII digits, most significant first, as a number; `None` if any
/// byte is not a digit. Works on the eight bytes as one `u64`.
#[inline]
fn eight_digits(chunk: [u8; 8]) -> Option<i64> {
    let v = u64::from_le_bytes(chunk);
    // A byte is a digit when its high nibble is 3 and adding 6 to it does
    // not carry into the high nibble (0x30..=0x39).
    let high = v & 0xF0F0_F0F0_F0F0_F0F0;
    let carried = v.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    if high != 0x3030_3030_3030_3030 || carried != 0x3030_3030_3030_3030 {
        return None;
    }
    // The first digit is the lowest byte. Combine neighbours into pairs
    // (10 × first + second), pairs into fours, fours into the eight.
    let d = v & 0x0F0F_0F0F_0F0F_0F0F;
    let pairs = (d & 0x00FF_00FF_00FF_00FF) * 10 + ((d >> 8) & 0x00FF_00FF_00FF_00FF);
    let fours = (pairs & 0x0000_FFFF_0000_FFFF) * 100 + ((pairs >> 16) & 0x0000_FFFF_0000_FFFF);
    let eight = (fours & 0xFFFF_FFFF) * 10_000 + (fours >> 32);
    i64::try_from(eight).ok()
}

/// The bytes of a JSON string that needs no unescaping (the opening quote
/// already consumed), and what follows its closing quote.
fn plain_string(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if s[end] != b'"' {
        return None;
    }
    Some((&s[..end], &s[end + 1..]))
}

/// `event`, if its time has an hour bucket.
fn bucketed(event: Normalized<'_>) -> Result<Normalized<'_>, String> {
    if event.event_time < EARLIEST_EVENT_TIME {
        return Err(format!("eventTime {} is before the earliest hour bucket", event.event_time));
    }
    Ok(event)
}

#[derive(Debug)]
pub struct Stats {
    /// Sessions in the last batch, to size the next one's aggregate.
    sessions_hint: usize,
}

#[transform]
impl Transform for Stats {
    type Params = NoParams;

    fn init(_: NoParams) -> Result<Self, String> {
        Ok(Stats { sessions_hint: 0 })
    }

    fn outputs(&self) -> Vec<OutputDecl> {
        vec![
            OutputDecl::new("stats")
                .column("session_id", ColumnKind::Text)
                .column("bucket_start", ColumnKind::TimestampMs)
                .column("event_type", ColumnKind::Text)
                .column("event_count", ColumnKind::Int)
                .column("first_event_at", ColumnKind::TimestampMs)
                .column("last_event_at", ColumnKind::TimestampMs),
        ]
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) -> Result<(), String> {
        let mut agg = Aggregate::with_capacity(self.sessions_hint);
        for record in batch {
            // The fast path; the general one for anything it does not take,
            // and for the reason when the text is not UTF-8.
            if let Some(raw) = read_canonical(record.value)
                && agg.add(raw).is_ok()
            {
                out.keep();
                continue;
            }
            // (Text serde_json read is UTF-8, so `add` takes it.)
            let event = read(record.value).and_then(bucketed);
            match event.and_then(|event| agg.add(event.into()).map_err(|e| e.to_string())) {
                Ok(()) => out.keep(),
                Err(e) => out.reject(format!(
                    "not a normalized event {{\"sessionId\",\"eventType\",\"eventTime\"}} (is validate before stats?): {e}"
                )),
            }
        }
        self.sessions_hint = agg.sessions();
        for g in agg.groups {
            out.emit(
                STATS,
                [
                    Value::Text(g.session_id),
                    Value::TimestampMs(g.bucket_start),
                    Value::Text(g.event_type),
                    Value::Int(g.count),
                    Value::TimestampMs(g.first),
                    Value::TimestampMs(g.last),
                ],
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use sluice_transform::testing::run;
    use sluice_transform::{OwnedBatch, Row, Verdict};

    use super::*;

    /// 2026-01-28T10:00:00Z
    const H10: i64 = 1_769_594_400_000;

    fn ev(session: &str, kind: &str, t: i64) -> String {
        format!(r#"{{"sessionId":"{session}","eventType":"{kind}","eventTime":{t}}}"#)
    }

    fn row(session: &str, bucket: i64, kind: &str, count: i64, first: i64, last: i64) -> Row {
        Row {
            output: STATS,
            source: None,
            values: vec![
                Value::text(session.to_owned()),
                Value::TimestampMs(bucket),
                Value::text(kind.to_owned()),
                Value::Int(count),
                Value::TimestampMs(first),
                Value::TimestampMs(last),
            ],
        }
    }

    #[test]
    fn the_fast_path_reads_what_serde_reads() {
        let serde = |v: &str| {
            serde_json::from_str::<Normalized<'_>>(v)
                .ok()
                .map(|n| (n.session_id.into_owned(), n.event_type.into_owned(), n.event_time))
        };
        let fast = |v: &str| {
            read_canonical(v.as_bytes()).map(|n| {
                (
                    String::from_utf8(n.session_id.into_owned()).unwrap(),
                    String::from_utf8(n.event_type.into_owned()).unwrap(),
                    n.event_time,
                )
            })
        };
        for v in [
            r#"{"sessionId":"s-1","eventType":"FOCUS","eventTime":1769594400000}"#,
            r#"{"sessionId":"café ☕","eventType":"AWAY","eventTime":-5}"#,
            r#"{"sessionId":"","eventType":"","eventTime":0}"#,
            r#"{"sessionId":"s","eventType":"X","eventTime":-999999999999999999}"#,
            r#"{"sessionId":"s","eventType":"X","eventTime":123456789}"#,
            r#"{"sessionId":"s","eventType":"X","eventTime":1234567890123456}"#,
            r#"{"sessionId":"s","eventType":"X","eventTime":12345678901234567}"#,
            r#"{"sessionId":"s","eventType":"X","eventTime":-1769594400123}"#,
            r#"{"sessionId":"s","eventType":"X","eventTime":10000000}"#,
            r#"{"sessionId":"s","eventType":"X","eventTime":99999999}"#,
        ] {
            assert_eq!(fast(v), serde(v), "{v}");
            assert!(fast(v).is_some(), "{v}");
        }
        // Not the exact form: left to serde_json, which reads or rejects it.
        for v in [
            r#"{"sessionId":"a\"b","eventType":"X","eventTime":1}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":1,"extra":2}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":01}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":+1}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":1.5}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":-}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":99999999999999999999}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":-9223372036854775808}"#,
            r#"{ "sessionId":"a","eventType":"X","eventTime":1}"#,
            r#"{"eventType":"X","sessionId":"a","eventTime":1}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":17695944/0123}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":1769594400:23}"#,
            r#"{"sessionId":"a","eventType":"X","eventTime":17695944001 3}"#,
            r#"{"sessionId":"\u00e9","eventType":"X","eventTime":1}"#,
        ] {
            assert_eq!(fast(v), None, "{v}");
        }
        // Every digit count the fast path reads, against the plain loop.
        for len in 1..=18 {
            for lead in [1u8, 5, 9] {
                let mut digits: Vec<u8> = (0..len).map(|i| b'0' + ((lead as usize + i * 7) % 10) as u8).collect();
                digits[0] = b'0' + lead;
                let text = std::str::from_utf8(&digits).unwrap();
                assert_eq!(json_integer(&digits), text.parse::<i64>().ok(), "{text}");
                for bad in [b'/', b':', b' ', b'a', 0x80] {
                    let mut wrong = digits.clone();
                    wrong[len - 1] = bad;
                    assert_eq!(json_integer(&wrong), None, "{text} with {bad}");
                    wrong[len / 2] = bad;
                    assert_eq!(json_integer(&wrong), None, "{text} with {bad} inside");
                }
            }
        }
        assert_eq!(read(br#"{"sessionId":"a\"b","eventType":"X","eventTime":1}"#).unwrap().session_id, "a\"b");
        let min = br#"{"sessionId":"a","eventType":"X","eventTime":-9223372036854775808}"#;
        assert_eq!(read(min).unwrap().event_time, i64::MIN);
        assert!(read(b"{\"sessionId\":\"\xff\",\"eventType\":\"X\",\"eventTime\":1}").is_err());
    }

    #[test]
    fn hour_buckets() {
        assert_eq!(hour_bucket(H10), H10);
        assert_eq!(hour_bucket(H10 + HOUR_MS - 1), H10);
        assert_eq!(hour_bucket(H10 - 1), H10 - HOUR_MS);
        assert_eq!(hour_bucket(-1), -HOUR_MS);
        assert_eq!(hour_bucket(0), 0);
    }

    #[test]
    fn aggregates_per_session_hour_and_type_across_an_hour_boundary() {
        let batch = OwnedBatch::from_values([
            ev("s1", "FOCUS", H10 - 70),  // 09:59:59.930
            ev("s1", "FOCUS", H10 - 140), // earlier, but later in the batch
            ev("s1", "FOCUS", H10),       // 10:00:00.000, next hour
            ev("s1", "DISTRACTED", H10 + 70),
            ev("s2", "FOCUS", H10 + 5),
            ev("s1", "FOCUS", H10 + 3_599_999), // 10:59:59.999
            ev("s1", "FOCUS", H10 + 140),
        ]);
        let out = run::<Stats>("", &batch).unwrap();
        assert_eq!(out.to_verdicts(), vec![Verdict::Keep; 7]);
        assert_eq!(
            out.to_rows(),
            vec![
                row("s1", H10 - HOUR_MS, "FOCUS", 2, H10 - 140, H10 - 70),
                row("s1", H10, "FOCUS", 3, H10, H10 + 3_599_999),
                row("s1", H10, "DISTRACTED", 1, H10 + 70, H10 + 70),
                row("s2", H10, "FOCUS", 1, H10 + 5, H10 + 5),
            ]
        );
    }

    #[test]
    fn unreadable_records_are_rejected_and_not_counted() {
        let batch = OwnedBatch::from_values([
            ev("s1", "FOCUS", H10),
            r#"{"sessionId":"s1","eventType":"FOCUS","timestamp":"2026-01-28T10:00:00Z"}"#.to_owned(),
            r#"{"sessionId":"s1","eventType":"FOCUS","eventTime":"soon"}"#.to_owned(),
            "garbage".to_owned(),
        ]);
        let out = run::<Stats>("", &batch).unwrap();
        assert_eq!(out.to_verdicts()[0], Verdict::Keep);
        for (i, expected) in [
            (1, "missing field `eventTime`"),
            (2, "invalid type: string \"soon\", expected i64"),
            (3, "expected value at line 1 column 1"),
        ] {
            match &out.to_verdicts()[i] {
                Verdict::Reject(r) => {
                    assert!(r.starts_with("not a normalized event"), "{r}");
                    assert!(r.contains(expected), "{r}");
                }
                other => panic!("record {i}: {other:?}"),
            }
        }
        assert_eq!(out.to_rows(), vec![row("s1", H10, "FOCUS", 1, H10, H10)]);
    }

    #[test]
    fn values_that_are_not_utf8_are_rejected() {
        let batch = OwnedBatch::from_values([&b"{\"sessionId\":\"\xff\"}"[..]]);
        let out = run::<Stats>("", &batch).unwrap();
        assert_eq!(
            out.to_verdicts(),
            vec![Verdict::Reject(
                "not a normalized event {\"sessionId\",\"eventType\",\"eventTime\"} (is validate \
                 before stats?): not UTF-8 (invalid bytes at offset 14)"
                    .into()
            )]
        );
    }

    #[test]
    fn text_is_checked_once_per_session_and_group_and_bad_bytes_are_rejected() {
        let bad_session = b"{\"sessionId\":\"s\xff\",\"eventType\":\"FOCUS\",\"eventTime\":1}";
        let bad_type = b"{\"sessionId\":\"s1\",\"eventType\":\"F\xc3\",\"eventTime\":2}";
        let batch = OwnedBatch::from_values([
            &br#"{"sessionId":"s1","eventType":"FOCUS","eventTime":1}"#[..],
            &bad_session[..],
            &bad_type[..],
            &br#"{"sessionId":"s1","eventType":"FOCUS","eventTime":3}"#[..],
        ]);
        let out = run::<Stats>("", &batch).unwrap();
        let verdicts = out.to_verdicts();
        assert_eq!((&verdicts[0], &verdicts[3]), (&Verdict::Keep, &Verdict::Keep));
        for (i, offset) in [(1, 15), (2, 32)] {
            match &verdicts[i] {
                Verdict::Reject(r) => {
                    assert!(r.ends_with(&format!("not UTF-8 (invalid bytes at offset {offset})")), "{r}")
                }
                other => panic!("record {i}: {other:?}"),
            }
        }
        assert_eq!(out.to_rows(), vec![row("s1", 0, "FOCUS", 2, 1, 3)]);

        // Checked when a session or a group starts, and nothing is counted
        // when the check fails.
        let mut agg = Aggregate::default();
        let raw = |s: &'static [u8], t: &'static [u8], ms| RawEvent {
            session_id: Cow::Borrowed(s),
            event_type: Cow::Borrowed(t),
            event_time: ms,
        };
        assert!(agg.add(raw(b"s\xff", b"X", 1)).is_err());
        assert_eq!((agg.sessions(), agg.groups().len()), (0, 0));
        agg.add(raw(b"s", b"X", 1)).unwrap();
        assert!(agg.add(raw(b"s", b"\xff", 1)).is_err());
        agg.add(raw(b"s", b"X", 2)).unwrap();
        assert_eq!((agg.sessions(), agg.groups().len()), (1, 1));
        assert_eq!(agg.groups()[0].count, 2);
    }

    #[test]
    fn escaped_strings_group_with_their_unescaped_twins() {
        let batch = OwnedBatch::from_values([
            r#"{"sessionId":"caf\u00e9","eventType":"FOCUS","eventTime":1}"#,
            r#"{"sessionId":"café","eventType":"FOCUS","eventTime":2}"#,
        ]);
        let out = run::<Stats>("", &batch).unwrap();
        assert_eq!(out.to_rows(), vec![row("café", 0, "FOCUS", 2, 1, 2)]);
    }

    #[test]
    fn empty_batch_emits_nothing_and_params_are_refused() {
        let out = run::<Stats>("{}", &OwnedBatch::new("t", 0)).unwrap();
        assert!(out.to_verdicts().is_empty() && out.to_rows().is_empty());
        assert!(run::<Stats>(r#"{"x": 1}"#, &OwnedBatch::new("t", 0)).unwrap_err().contains("unknown field `x`"));
    }
}
