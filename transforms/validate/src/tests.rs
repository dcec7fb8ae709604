use sluice_transform::testing::run;
use sluice_transform::{OwnedBatch, Row, Verdict};

use super::*;

const UTC: &str = "{}";

/// Runs one value through the stage with `params`; the verdict and rows.
fn one(params: &str, value: &str) -> (Verdict, Vec<Row>) {
    let out = run::<Validate>(params, &OwnedBatch::from_values([value])).unwrap();
    assert_eq!(out.to_verdicts().len(), 1);
    (out.to_verdicts().into_iter().next().unwrap(), out.to_rows())
}

fn reason(params: &str, value: &str) -> String {
    match one(params, value).0 {
        Verdict::Reject(r) => r,
        other => panic!("expected a reject for {value}, got {other:?}"),
    }
}

/// The eventTime of an accepted event with this timestamp (a JSON literal).
fn event_time(params: &str, timestamp_json: &str) -> i64 {
    let value = format!(r#"{{"sessionId":"s","eventType":"FOCUS","timestamp":{timestamp_json}}}"#);
    match one(params, &value) {
        (Verdict::Replace(v), rows) => {
            let n: serde_json::Value = serde_json::from_slice(&v).unwrap();
            let ms = n["eventTime"].as_i64().unwrap();
            assert_eq!(rows[0].values[2], Value::TimestampMs(ms));
            ms
        }
        (other, _) => panic!("expected {timestamp_json} to be accepted, got {other:?}"),
    }
}

fn event(session: &str, kind: &str, ts: &str) -> String {
    format!(r#"{{"sessionId":{session:?},"eventType":{kind:?},"timestamp":{ts:?}}}"#)
}

// 2026-01-28T01:15:30.120Z
const T0: i64 = 1_769_562_930_120;

#[test]
fn keeps_a_valid_event_with_a_normalized_value_and_a_row() {
    let value = r#"{"sessionId":"session-42","eventType":"FOCUS","timestamp":"2026-01-28T10:15:30.120+09:00","extra":{"a":[1,2]}}"#;
    let out = run::<Validate>(UTC, &OwnedBatch::from_values([value])).unwrap();
    assert_eq!(
        out.to_verdicts(),
        vec![Verdict::Replace(br#"{"sessionId":"session-42","eventType":"FOCUS","eventTime":1769562930120}"#.to_vec())]
    );
    assert_eq!(
        out.to_rows(),
        vec![Row {
            output: STUDY_LOG,
            source: Some(0),
            values: vec![Value::text("session-42"), Value::text("FOCUS"), Value::TimestampMs(T0)],
        }]
    );
}

#[test]
fn declares_the_study_log_output() {
    let mut rt = sluice_transform::testing::Runtime::<Validate>::new("validate");
    let info = rt.init("").unwrap();
    assert_eq!(info.outputs.len(), 1);
    let decl = &info.outputs[STUDY_LOG as usize];
    assert_eq!(decl.name, "study_log");
    let cols: Vec<_> = decl.columns.iter().map(|c| (c.name.as_str(), c.kind, c.nullable)).collect();
    assert_eq!(
        cols,
        [
            ("session_id", ColumnKind::Text, false),
            ("event_type", ColumnKind::Text, false),
            ("event_time", ColumnKind::TimestampMs, false),
        ]
    );
}

#[test]
fn mixed_batch_gets_one_verdict_per_record_and_rows_for_kept_ones() {
    let batch = OwnedBatch::from_values([
        event("a", "FOCUS", "2026-01-28T01:15:30.120Z"),
        "not json".to_owned(),
        event("b", "AWAY", "2026-01-28T01:15:30.120Z"),
    ]);
    let out = run::<Validate>(UTC, &batch).unwrap();
    assert!(matches!(out.to_verdicts()[0], Verdict::Replace(_)));
    assert!(matches!(out.to_verdicts()[1], Verdict::Reject(_)));
    assert!(matches!(out.to_verdicts()[2], Verdict::Replace(_)));
    assert_eq!(out.to_rows().iter().map(|r| r.source).collect::<Vec<_>>(), [Some(0), Some(2)]);
}

#[test]
fn reject_reasons() {
    let cases = [
        ("", "empty value"),
        ("not json", "invalid JSON at line 1 column 2: expected ident"),
        ("{\"sessionId\":", "invalid JSON at line 1 column 13: EOF while parsing a value"),
        (r#"{"sessionId":"a"} x"#, "invalid JSON at line 1 column 19: trailing characters"),
        ("[1, 2]", "value is a JSON array, not an object"),
        ("\"FOCUS\"", "value is a JSON string, not an object"),
        ("42", "value is a JSON number, not an object"),
        (r#"{"eventType":"FOCUS","timestamp":1}"#, "missing field sessionId"),
        (r#"{"sessionId":"s","timestamp":1}"#, "missing field eventType"),
        (r#"{"sessionId":"s","eventType":"FOCUS"}"#, "missing field timestamp"),
        (r#"{"sessionId":42,"eventType":"FOCUS","timestamp":1}"#, "sessionId is not a string (found number)"),
        (r#"{"sessionId":null,"eventType":"FOCUS","timestamp":1}"#, "sessionId is not a string (found null)"),
        (r#"{"sessionId":"","eventType":"FOCUS","timestamp":1}"#, "sessionId is empty"),
        (r#"{"sessionId":"s","eventType":["FOCUS"],"timestamp":1}"#, "eventType is not a string (found array)"),
        (
            r#"{"sessionId":"s","eventType":"FOO","timestamp":1}"#,
            r#"eventType "FOO" is not one of FOCUS, DISTRACTED, AWAY, DROWSY"#,
        ),
        (
            r#"{"sessionId":"s","eventType":"focus","timestamp":1}"#,
            r#"eventType "focus" is not one of FOCUS, DISTRACTED, AWAY, DROWSY"#,
        ),
        (
            r#"{"sessionId":"s","eventType":"FOCUS","timestamp":"x"}"#,
            r#"timestamp "x" is neither ISO-8601 nor epoch milliseconds"#,
        ),
        (
            r#"{"sessionId":"s","eventType":"FOCUS","timestamp":"2026-13-01T00:00:00Z"}"#,
            r#"timestamp "2026-13-01T00:00:00Z" is neither ISO-8601 nor epoch milliseconds"#,
        ),
        (
            r#"{"sessionId":"s","eventType":"FOCUS","timestamp":"2026-01-28"}"#,
            r#"timestamp "2026-01-28" is neither ISO-8601 nor epoch milliseconds"#,
        ),
        (
            r#"{"sessionId":"s","eventType":"FOCUS","timestamp":true}"#,
            "timestamp is not a string or a number (found boolean)",
        ),
        (
            r#"{"sessionId":"s","eventType":"FOCUS","timestamp":"0999-12-31T23:59:59Z"}"#,
            r#"timestamp "0999-12-31T23:59:59Z" is outside 1000-01-01T00:00:00Z..9999-12-31T23:59:59.999Z"#,
        ),
        (
            r#"{"sessionId":"s","eventType":"FOCUS","timestamp":99999999999999999999}"#,
            "timestamp 100000000000000000000 is outside 1000-01-01T00:00:00Z..9999-12-31T23:59:59.999Z",
        ),
        (r#"{"sessionId":"a","sessionId":"b"}"#, "duplicate field sessionId"),
    ];
    for (value, expected) in cases {
        assert_eq!(reason(UTC, value), expected, "for value {value:?}");
    }
}

#[test]
fn huge_bad_values_are_cut_in_reasons() {
    let long = "X".repeat(10_000);
    let r = reason(UTC, &event("s", &long, "2026-01-28T01:15:30Z"));
    assert_eq!(r, format!("eventType \"{}\"... is not one of FOCUS, DISTRACTED, AWAY, DROWSY", "X".repeat(64)));
}

#[test]
fn session_id_length_boundary_counts_characters() {
    let ts = "2026-01-28T01:15:30Z";
    let at_limit = "s".repeat(64);
    assert!(matches!(one(UTC, &event(&at_limit, "FOCUS", ts)).0, Verdict::Replace(_)));
    assert_eq!(reason(UTC, &event(&"s".repeat(65), "FOCUS", ts)), "sessionId is 65 characters long, more than 64");
    // 64 characters of 3 bytes each: 192 bytes, still accepted.
    let wide = "세".repeat(64);
    assert!(matches!(one(UTC, &event(&wide, "FOCUS", ts)).0, Verdict::Replace(_)));
    assert_eq!(reason(UTC, &event(&"세".repeat(65), "FOCUS", ts)), "sessionId is 65 characters long, more than 64");
    // The limit is a param.
    let p = r#"{"max_session_id_len": 3}"#;
    assert!(matches!(one(p, &event("abc", "FOCUS", ts)).0, Verdict::Replace(_)));
    assert_eq!(reason(p, &event("abcd", "FOCUS", ts)), "sessionId is 4 characters long, more than 3");
}

#[test]
fn invalid_utf8_is_rejected() {
    let value: &[u8] = b"{\"sessionId\":\"a\xff\"}";
    let out = run::<Validate>(UTC, &OwnedBatch::from_values([value])).unwrap();
    assert_eq!(out.to_verdicts()[0], Verdict::Reject("value is not UTF-8 (invalid bytes at offset 15)".into()));
}

#[test]
fn normalized_json_matches_serde_json() {
    for session_id in ["session-42", "", "a\"b", "back\\slash", "tab\there", "\u{1}ctl", "세션-é", "\u{7f}\u{2028}"]
    {
        for event_type in ["FOCUS", "WITH \"QUOTE\""] {
            for event_time in [0, -1, T0, i64::MIN, i64::MAX] {
                let n = Normalized { session_id, event_type, event_time };
                let mut buf = Vec::new();
                n.write_json(&mut buf);
                let expected = serde_json::to_string(&n).unwrap();
                assert_eq!(String::from_utf8(buf).unwrap(), expected, "{n:?}");
                // The path for ids read without escapes, with the event type
                // rendered once.
                if !session_id.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
                    let mut buf = Vec::new();
                    let type_json = serde_json::to_vec(event_type).unwrap();
                    n.write_json_with(&mut buf, true, &type_json);
                    assert_eq!(String::from_utf8(buf).unwrap(), expected, "{n:?}");
                }
            }
        }
    }
}

#[test]
fn escaped_session_ids_round_trip() {
    let value = r#"{"sessionId":"a\"b\u00e9\n","eventType":"FOCUS","timestamp":0}"#;
    let (verdict, rows) = one(UTC, value);
    let Verdict::Replace(normalized) = verdict else { panic!("{verdict:?}") };
    let parsed: serde_json::Value = serde_json::from_slice(&normalized).unwrap();
    assert_eq!(parsed["sessionId"], "a\"bé\n");
    assert_eq!(rows[0].values[0], Value::text("a\"bé\n"));
}

#[test]
fn timestamp_forms() {
    // ISO-8601 with offsets.
    assert_eq!(event_time(UTC, r#""2026-01-28T10:15:30.120+09:00""#), T0);
    assert_eq!(event_time(UTC, r#""2026-01-28T01:15:30.120Z""#), T0);
    assert_eq!(event_time(UTC, r#""2026-01-28t01:15:30.120z""#), T0);
    assert_eq!(event_time(UTC, r#""2026-01-28 10:15:30.120+09:00""#), T0);
    assert_eq!(event_time(UTC, r#""2026-01-28T10:15:30.120+0900""#), T0);
    assert_eq!(event_time(UTC, r#""2026-01-27T20:15:30.120-05:00""#), T0);
    // Fractional seconds: none, coarse, fine (truncated to the millisecond).
    assert_eq!(event_time(UTC, r#""2026-01-28T01:15:30Z""#), T0 - 120);
    assert_eq!(event_time(UTC, r#""2026-01-28T01:15:30.1Z""#), T0 - 20);
    assert_eq!(event_time(UTC, r#""2026-01-28T01:15:30.120999999Z""#), T0);
    // Without offset: local time in `local_offset`.
    assert_eq!(event_time(UTC, r#""2026-01-28T01:15:30.120""#), T0);
    assert_eq!(event_time(UTC, r#""2026-01-28 01:15:30.120""#), T0);
    // Epoch milliseconds.
    assert_eq!(event_time(UTC, "1769562930120"), T0);
    assert_eq!(event_time(UTC, "1769562930120.9"), T0);
    assert_eq!(event_time(UTC, r#""1769562930120""#), T0);
    assert_eq!(event_time(UTC, "0"), 0);
    assert_eq!(event_time(UTC, "-1"), -1);
}

#[test]
fn local_offset_applies_only_to_times_without_one() {
    let seoul = r#"{"local_offset": "+09:00"}"#;
    assert_eq!(event_time(seoul, r#""2026-01-28T10:15:30.120""#), T0);
    assert_eq!(event_time(seoul, r#""2026-01-28T01:15:30.120Z""#), T0);
    assert_eq!(event_time(seoul, r#""2026-01-28T10:15:30.120+09:00""#), T0);
    assert_eq!(event_time(seoul, "1769562930120"), T0);
    let ny = r#"{"local_offset": "-05:00"}"#;
    assert_eq!(event_time(ny, r#""2026-01-27T20:15:30.120""#), T0);
    let india = r#"{"local_offset": "+05:30"}"#;
    assert_eq!(event_time(india, r#""2026-01-28T06:45:30.120""#), T0);
    assert_eq!(event_time(r#"{"local_offset": "Z"}"#, r#""2026-01-28T01:15:30.120""#), T0);
}

#[test]
fn range_boundaries() {
    assert_eq!(event_time(UTC, r#""1000-01-01T00:00:00Z""#), MIN_EVENT_TIME_MS);
    assert_eq!(event_time(UTC, r#""9999-12-31T23:59:59.999Z""#), MAX_EVENT_TIME_MS);
    assert!(reason(UTC, &event("s", "FOCUS", "9999-12-31T23:59:59.999-00:01")).contains("is outside"));
    let below = (MIN_EVENT_TIME_MS - 1).to_string();
    let value = format!(r#"{{"sessionId":"s","eventType":"FOCUS","timestamp":{below}}}"#);
    assert!(reason(UTC, &value).contains("is outside"));
}

#[test]
fn configured_event_types() {
    let p = r#"{"event_types": ["START", "STOP"]}"#;
    assert!(matches!(one(p, &event("s", "STOP", "2026-01-28T01:15:30Z")).0, Verdict::Replace(_)));
    assert_eq!(
        reason(p, &event("s", "FOCUS", "2026-01-28T01:15:30Z")),
        r#"eventType "FOCUS" is not one of START, STOP"#
    );
}

#[test]
fn bad_params_are_refused() {
    let init = |p: &str| sluice_transform::testing::Runtime::<Validate>::new("validate").init(p).map(|_| ());
    assert!(init("").is_ok());
    assert_eq!(
        init(r#"{"local_offset": "Asia/Seoul"}"#).unwrap_err(),
        r#"validate: local_offset "Asia/Seoul" is not a UTC offset like "+09:00" or "-05:30""#
    );
    assert!(init(r#"{"event_types": []}"#).unwrap_err().contains("event_types"));
    assert!(init(r#"{"max_session_id_len": 0}"#).unwrap_err().contains("max_session_id_len"));
    let err = init(r#"{"max_session_id_len": "64"}"#).unwrap_err();
    assert!(err.starts_with("validate: invalid params: field `max_session_id_len`: invalid type: string"), "{err}");
    let err = init(r#"{"event_type": ["A"]}"#).unwrap_err();
    assert!(err.contains("unknown field `event_type`"), "{err}");
}
