//! The three shapes of `timestamp` the platform sends, and their parser.
//!
//! - `Offset`: `"2026-01-28T10:15:30.120+09:00"` (most events)
//! - `EpochMillis`: `1769562930120` (a JSON number)
//! - `Local`: `"2026-01-28T10:15:30.120"`, wall-clock time
//!   at the platform's offset (+09:00 by default)
//!
//! All three carry milliseconds. [`parse`] reads any of them back, the way the
//! validate stage does, so tests can compare instants.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How one event writes its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    Offset,
    EpochMillis,
    Local,
}

const LOCAL_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3f";

/// Renders `epoch_ms` in `format`, local shapes at `offset`.
pub fn render(epoch_ms: i64, format: TimestampFormat, offset: FixedOffset) -> Value {
    let at = DateTime::from_timestamp_millis(epoch_ms).unwrap_or(DateTime::UNIX_EPOCH).with_timezone(&offset);
    match format {
        TimestampFormat::EpochMillis => Value::from(epoch_ms),
        TimestampFormat::Offset => Value::from(at.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()),
        TimestampFormat::Local => Value::from(at.format(LOCAL_FORMAT).to_string()),
    }
}

/// Reads a `timestamp` field in any of the three shapes into epoch
/// milliseconds; times without an offset are read at `offset`. `None` for
/// anything else (`"yesterday"`, `true`, ...).
pub fn parse(value: &Value, offset: FixedOffset) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            if let Ok(at) = DateTime::parse_from_rfc3339(s) {
                return Some(at.timestamp_millis());
            }
            let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
            offset.from_local_datetime(&naive).single().map(|at| at.timestamp_millis())
        }
        _ => None,
    }
}

/// The platform's default offset, KST.
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or(Utc.fix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_three_shapes_of_one_instant() {
        let ms = DateTime::parse_from_rfc3339("2026-01-28T10:15:30.120+09:00").expect("parse").timestamp_millis();
        assert_eq!(render(ms, TimestampFormat::Offset, kst()), Value::from("2026-01-28T10:15:30.120+09:00"));
        assert_eq!(render(ms, TimestampFormat::Local, kst()), Value::from("2026-01-28T10:15:30.120"));
        assert_eq!(render(ms, TimestampFormat::EpochMillis, kst()), Value::from(1_769_562_930_120_i64));
        for f in [TimestampFormat::Offset, TimestampFormat::EpochMillis, TimestampFormat::Local] {
            assert_eq!(parse(&render(ms, f, kst()), kst()), Some(ms), "{f:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for v in [Value::from("yesterday"), Value::from(true), Value::Null, Value::from("2026-13-45T00:00:00")] {
            assert_eq!(parse(&v, kst()), None, "{v}");
        }
    }
}
