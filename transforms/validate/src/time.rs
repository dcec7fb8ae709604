//! Timestamps: ISO-8601 with or without offset, or epoch milliseconds.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

use crate::event::Field;
use crate::quoted;

/// 1000-01-01T00:00:00.000Z, the start of MySQL's `DATETIME` range.
pub const MIN_EVENT_TIME_MS: i64 = -30_610_224_000_000;
/// 9999-12-31T23:59:59.999Z, the end of MySQL's `DATETIME` range.
pub const MAX_EVENT_TIME_MS: i64 = 253_402_300_799_999;

/// The event time in epoch milliseconds (UTC), or the reject reason.
/// `local` is the offset of ISO times that carry none.
pub fn parse_timestamp(field: &Field<'_>, local: FixedOffset) -> Result<i64, String> {
    let ms = match field {
        Field::Str(s) => parse_str(s, local).ok_or_else(|| {
            format!(
                "timestamp {} is neither ISO-8601 nor epoch milliseconds",
                quoted(s)
            )
        })?,
        Field::Int(n) => *n,
        Field::UInt(n) => i64::try_from(*n).unwrap_or(i64::MAX),
        // Truncate toward the past; NaN cannot come out of JSON, and the
        // cast saturates for infinities and huge values.
        Field::Float(x) => x.floor() as i64,
        other => {
            return Err(format!(
                "timestamp is not a string or a number (found {})",
                other.kind()
            ));
        }
    };
    if !(MIN_EVENT_TIME_MS..=MAX_EVENT_TIME_MS).contains(&ms) {
        let shown = match field {
            Field::Str(s) => quoted(s),
            Field::Int(n) => n.to_string(),
            Field::UInt(n) => n.to_string(),
            Field::Float(x) => x.to_string(),
            _ => String::new(),
        };
        return Err(format!(
            "timestamp {shown} is outside 1000-01-01T00:00:00Z..9999-12-31T23:59:59.999Z"
        ));
    }
    Ok(ms)
}

fn parse_str(s: &str, local: FixedOffset) -> Option<i64> {
    let b = s.as_bytes();
    if !b.is_empty()
        && b.iter()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 0 && *c == b'-'))
    {
        return s.parse::<i64>().ok();
    }
    // Anything after the date (10 bytes) that starts an offset?
    let has_offset = matches!(b.last(), Some(b'Z' | b'z'))
        || b.get(10..)
            .is_some_and(|rest| rest.iter().any(|c| matches!(c, b'+' | b'-')));
    if has_offset {
        DateTime::parse_from_rfc3339(s)
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%z"))
            .ok()
            .map(|t| t.timestamp_millis())
    } else {
        s.parse::<NaiveDateTime>()
            .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
            .ok()
            .and_then(|t| t.checked_sub_offset(local))
            .map(|t| t.and_utc().timestamp_millis())
    }
}
