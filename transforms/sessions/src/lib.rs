//! An example stage, the one `sluice new` starts every project with (the
//! same stage is written in Python and JavaScript in `transforms/templates`):
//!
//! - drops test traffic: events whose `sessionId` starts with `prefix`
//!   (`"test-"` unless the params say otherwise), with no dead letter;
//! - rejects (dead-letters) values that are not a JSON object with a
//!   string `sessionId`;
//! - keeps the rest, and emits one row per kept record on its `sessions`
//!   output: the session id and the event type (null when the event has
//!   none, or not as a string).
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::borrow::Cow;

use sluice_transform::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// `prefix = "test-"`: session ids that start with it are test traffic.
    pub prefix: String,
}

impl Default for Params {
    fn default() -> Self {
        Self { prefix: "test-".into() }
    }
}

pub struct Sessions {
    prefix: String,
}

/// Index of the `sessions` output in [`Transform::outputs`].
const SESSIONS: u32 = 0;

/// The fields we read; serde skips the others without copying.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "sessionId", borrow)]
    session_id: Cow<'a, str>,
    #[serde(rename = "eventType", borrow, default)]
    event_type: Option<TextOrOther<'a>>,
}

/// `eventType` as text when it is a string; anything else is no type.
#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrOther<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Other(serde::de::IgnoredAny),
}

#[transform]
impl Transform for Sessions {
    type Params = Params;

    fn init(params: Params) -> Result<Self, String> {
        Ok(Self { prefix: params.prefix })
    }

    fn outputs(&self) -> Vec<OutputDecl> {
        vec![
            OutputDecl::new("sessions")
                .column("session_id", ColumnKind::Text)
                .nullable_column("event_type", ColumnKind::Text),
        ]
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) -> Result<(), String> {
        for record in batch {
            let Ok(event) = serde_json::from_slice::<Event<'_>>(record.value) else {
                out.reject("not an event: no string sessionId");
                continue;
            };
            if event.session_id.starts_with(&self.prefix) {
                out.drop();
                continue;
            }
            let event_type = match event.event_type {
                Some(TextOrOther::Text(t)) => Value::text(t),
                _ => Value::Null,
            };
            out.keep();
            out.emit_for(&record, SESSIONS, [Value::text(event.session_id), event_type]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sluice_transform::testing::run;
    use sluice_transform::{OwnedBatch, Row, Verdict};

    use super::*;

    fn row(source: u32, session: &str, event_type: Option<&str>) -> Row {
        let event_type = event_type.map_or(Value::Null, |t| Value::text(t.to_owned()));
        Row { output: SESSIONS, source: Some(source), values: vec![Value::text(session.to_owned()), event_type] }
    }

    #[test]
    fn drops_test_sessions_rejects_non_events_and_emits_a_row_per_kept_record() {
        let batch = OwnedBatch::from_values([
            r#"{"sessionId":"test-1","eventType":"FOCUS"}"#,
            r#"{"sessionId":"session-42","eventType":"FOCUS"}"#,
            r#"{"sessionId":"session-7","eventType":3}"#,
            "not json",
            r#"{"sessionId":42}"#,
        ]);
        let out = run::<Sessions>("{}", &batch).unwrap();
        let reject = || Verdict::Reject("not an event: no string sessionId".into());
        assert_eq!(out.to_verdicts(), [Verdict::Drop, Verdict::Keep, Verdict::Keep, reject(), reject()]);
        assert_eq!(out.to_rows(), [row(1, "session-42", Some("FOCUS")), row(2, "session-7", None)]);
    }

    #[test]
    fn params_come_from_pipeline_toml() {
        // What the host hands `init` for `[transforms.params] prefix = "qa-"`.
        let batch = OwnedBatch::from_values([r#"{"sessionId":"qa-7"}"#, r#"{"sessionId":"test-1"}"#]);
        let out = run::<Sessions>(r#"{"prefix": "qa-"}"#, &batch).unwrap();
        assert_eq!(out.to_verdicts(), [Verdict::Drop, Verdict::Keep]);

        // A typo in pipeline.toml is refused at start, naming the field.
        let err = run::<Sessions>(r#"{"prefx": "qa-"}"#, &batch).unwrap_err();
        assert!(err.contains("invalid params: field `prefx`: unknown field"), "{err}");
    }
}
