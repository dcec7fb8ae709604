//! `validate`: checks study-log events and normalizes them.
//!
//! Input: a JSON object with `sessionId` (non-empty string, at most
//! `max_session_id_len` characters), `eventType` (one of `event_types`) and
//! `timestamp`. Unknown fields are ignored. The timestamp may be
//!
//! - ISO-8601 with an offset: `2026-01-28T10:15:30.120+09:00`, `...Z`,
//!   `...+0900` (a space instead of `T` works too);
//! - ISO-8601 without an offset, a local time read in `local_offset`:
//!   `2026-01-28T10:15:30.120`;
//! - epoch milliseconds, as a JSON number (a fraction is truncated toward
//!   the past) or a string of digits.
//!
//! Seconds are required; fractional seconds of any precision are accepted
//! (kept to the millisecond, truncated). Times outside 1000-01-01 ..
//! 9999-12-31 UTC (the MySQL `DATETIME` range) are rejected.
//!
//! A valid record is kept with a normalized value,
//! `{"sessionId":"...","eventType":"FOCUS","eventTime":<epoch ms UTC>}`, and
//! gets one row on the `study_log` output (`session_id`, `event_type`,
//! `event_time`). Anything else is rejected with a reason that says what is
//! wrong.
//!
//! Params (`[transforms.params]`), all optional:
//!
//! ```toml
//! event_types = ["FOCUS", "DISTRACTED", "AWAY", "DROWSY"]
//! local_offset = "+09:00"        # default "+00:00"
//! max_session_id_len = 64
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod event;
mod time;

use std::borrow::Cow;

use chrono::FixedOffset;
use serde::Serialize;
use sluice_transform::prelude::*;

pub use event::{Event, Field, parse_event};
pub use time::{MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS, parse_timestamp};

/// Index of the `study_log` output in [`Validate::outputs`].
pub const STUDY_LOG: u32 = 0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Accepted `eventType` values, compared exactly.
    pub event_types: Vec<String>,
    /// UTC offset of timestamps that carry none, like `+09:00` (or `Z`).
    pub local_offset: String,
    /// Longest accepted `sessionId`, in characters. `study_log.session_id`
    /// is `VARCHAR(64)`.
    pub max_session_id_len: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            event_types: ["FOCUS", "DISTRACTED", "AWAY", "DROWSY"].map(String::from).to_vec(),
            local_offset: "+00:00".into(),
            max_session_id_len: 64,
        }
    }
}

#[derive(Debug)]
pub struct Validate {
    event_types: Vec<String>,
    /// Each of `event_types` as a JSON string literal, for the output.
    event_types_json: Vec<Vec<u8>>,
    /// `event_types` joined for reject reasons.
    event_type_list: String,
    local_offset: FixedOffset,
    max_session_id_len: usize,
}

/// A record that passed: borrowed from the input where possible.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Normalized<'a> {
    #[serde(rename = "sessionId")]
    pub session_id: &'a str,
    #[serde(rename = "eventType")]
    pub event_type: &'a str,
    /// Milliseconds since the Unix epoch, UTC.
    #[serde(rename = "eventTime")]
    pub event_time: i64,
}

impl Normalized<'_> {
    /// Appends the normalized value, compact JSON, to `buf`: the same bytes
    /// as `serde_json::to_writer`, about twice as fast in wasm.
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        let mut event_type = Vec::new();
        write_json_str(&mut event_type, self.event_type);
        self.write_json_with(buf, false, &event_type);
    }

    /// [`write_json`](Self::write_json) with the event type already a JSON
    /// literal, and the session id copied without a look for characters to
    /// escape when `plain_session` says it has none.
    fn write_json_with(&self, buf: &mut Vec<u8>, plain_session: bool, event_type_json: &[u8]) {
        buf.extend_from_slice(br#"{"sessionId":"#);
        if plain_session {
            buf.push(b'"');
            buf.extend_from_slice(self.session_id.as_bytes());
            buf.push(b'"');
        } else {
            write_json_str(buf, self.session_id);
        }
        buf.extend_from_slice(br#","eventType":"#);
        buf.extend_from_slice(event_type_json);
        buf.extend_from_slice(br#","eventTime":"#);
        buf.extend_from_slice(itoa::Buffer::new().format(self.event_time).as_bytes());
        buf.push(b'}');
    }
}

/// A JSON string literal. Most ids need no escaping and are copied as they
/// are; the rest go through serde_json.
fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *buf, s);
    } else {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    }
}

#[transform]
impl Transform for Validate {
    type Params = Params;

    fn init(params: Params) -> Result<Self, String> {
        if params.event_types.is_empty() || params.event_types.iter().any(String::is_empty) {
            return Err("validate: event_types must list at least one non-empty event type".into());
        }
        if params.max_session_id_len == 0 {
            return Err("validate: max_session_id_len must be at least 1".into());
        }
        let local_offset = parse_offset(&params.local_offset)?;
        Ok(Self {
            event_type_list: params.event_types.join(", "),
            event_types_json: params
                .event_types
                .iter()
                .map(|t| {
                    let mut json = Vec::new();
                    write_json_str(&mut json, t);
                    json
                })
                .collect(),
            event_types: params.event_types,
            local_offset,
            max_session_id_len: params.max_session_id_len,
        })
    }

    fn outputs(&self) -> Vec<OutputDecl> {
        vec![
            OutputDecl::new("study_log")
                .column("session_id", ColumnKind::Text)
                .column("event_type", ColumnKind::Text)
                .column("event_time", ColumnKind::TimestampMs),
        ]
    }

    fn process(&mut self, batch: &Batch<'_>, out: &mut Output) -> Result<(), String> {
        for record in batch {
            let event = match parse_event(record.value) {
                Ok(event) => event,
                Err(reason) => {
                    out.reject(reason);
                    continue;
                }
            };
            match self.check_at(&event) {
                Ok((n, type_index)) => {
                    // A string serde_json could borrow from the input had no
                    // escapes, so it needs none: copy it as it is.
                    let plain_session = matches!(event.session_id, Some(Field::Str(Cow::Borrowed(_))));
                    let type_json = &self.event_types_json[type_index];
                    out.replace_with(|buf| n.write_json_with(buf, plain_session, type_json));
                    out.emit_for(
                        &record,
                        STUDY_LOG,
                        [Value::text(n.session_id), Value::text(n.event_type), Value::TimestampMs(n.event_time)],
                    );
                }
                Err(reason) => out.reject(reason),
            }
        }
        Ok(())
    }
}

impl Validate {
    /// Checks a parsed event against the rules; the reason on failure.
    pub fn check<'e>(&'e self, event: &'e Event<'_>) -> Result<Normalized<'e>, String> {
        self.check_at(event).map(|(n, _)| n)
    }

    /// [`check`](Self::check), and the index of the event type in
    /// `event_types`.
    fn check_at<'e>(&'e self, event: &'e Event<'_>) -> Result<(Normalized<'e>, usize), String> {
        let session_id = match &event.session_id {
            None => return Err("missing field sessionId".into()),
            Some(Field::Str(s)) => s.as_ref(),
            Some(other) => {
                return Err(format!("sessionId is not a string (found {})", other.kind()));
            }
        };
        if session_id.is_empty() {
            return Err("sessionId is empty".into());
        }
        // Count characters only when the byte length could exceed the limit.
        if session_id.len() > self.max_session_id_len {
            let chars = session_id.chars().count();
            if chars > self.max_session_id_len {
                return Err(format!("sessionId is {chars} characters long, more than {}", self.max_session_id_len));
            }
        }

        let event_type = match &event.event_type {
            None => return Err("missing field eventType".into()),
            Some(Field::Str(s)) => s,
            Some(other) => {
                return Err(format!("eventType is not a string (found {})", other.kind()));
            }
        };
        let Some(type_index) = self.event_types.iter().position(|t| t == event_type) else {
            return Err(format!("eventType {} is not one of {}", quoted(event_type), self.event_type_list));
        };

        let Some(timestamp) = &event.timestamp else {
            return Err("missing field timestamp".into());
        };
        let event_time = parse_timestamp(timestamp, self.local_offset)?;
        Ok((Normalized { session_id, event_type: &self.event_types[type_index], event_time }, type_index))
    }
}

fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    if s == "Z" || s == "z" {
        return Ok(FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()));
    }
    s.parse::<FixedOffset>()
        .map_err(|_| format!("validate: local_offset {} is not a UTC offset like \"+09:00\" or \"-05:30\"", quoted(s)))
}

/// `s` in double quotes with JSON-like escapes, cut to 64 characters so that
/// a huge bad value cannot blow up a reject reason.
pub(crate) fn quoted(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}...", &s[..cut]),
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
