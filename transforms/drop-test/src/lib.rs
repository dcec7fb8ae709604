//! Rejects test traffic: events whose `sessionId` starts with a prefix
//! (`"test-"` unless the params say otherwise). The example of
//! `transforms/README.md`.
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

/// The one field we read; serde skips the others without copying.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "sessionId", borrow)]
    session_id: Cow<'a, str>,
}

#[transform]
pub fn drop_test(params: &Params, batch: &Batch<'_>, out: &mut Output) {
    for record in batch {
        match serde_json::from_slice::<Event<'_>>(record.value) {
            Ok(e) if e.session_id.starts_with(&params.prefix) => {
                out.reject(format!("test session {}", e.session_id));
            }
            // Not test traffic, or not an event at all: judging that is
            // validate's job, not ours.
            _ => out.keep(),
        }
    }
}

#[cfg(test)]
mod tests {
    use sluice_transform::{OwnedBatch, Verdict, parse_params};

    use super::*;

    #[test]
    fn rejects_test_sessions_and_keeps_the_rest() {
        let batch = OwnedBatch::from_values([
            r#"{"sessionId":"test-1","eventType":"FOCUS"}"#,
            r#"{"sessionId":"session-42","eventType":"FOCUS"}"#,
        ]);
        let mut out = Output::new();
        drop_test(&Params::default(), &batch.view().unwrap(), &mut out);
        assert_eq!(out.verdicts(), [Verdict::Reject("test session test-1".into()), Verdict::Keep]);
    }

    #[test]
    fn params_come_from_pipeline_toml() {
        // What the host hands `init` for `[transforms.params] prefix = "qa-"`.
        let params: Params = parse_params("drop-test", r#"{"prefix": "qa-"}"#).unwrap();
        let batch = OwnedBatch::from_values([r#"{"sessionId":"qa-7"}"#, "{}"]);
        let mut out = Output::new();
        drop_test(&params, &batch.view().unwrap(), &mut out);
        assert_eq!(out.verdicts(), [Verdict::Reject("test session qa-7".into()), Verdict::Keep]);

        // A typo in pipeline.toml is refused at start, naming the field.
        let err = parse_params::<Params>("drop-test", r#"{"prefx": "qa-"}"#).err().unwrap();
        assert!(err.starts_with("drop-test: invalid params: field `prefx`: unknown field"), "{err}");
    }
}
