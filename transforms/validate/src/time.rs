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
        Field::Str(s) => parse_str(s, local)
            .ok_or_else(|| format!("timestamp {} is neither ISO-8601 nor epoch milliseconds", quoted(s)))?,
        Field::Int(n) => *n,
        Field::UInt(n) => i64::try_from(*n).unwrap_or(i64::MAX),
        // Truncate toward the past; NaN cannot come out of JSON, and the
        // cast saturates for infinities and huge values.
        Field::Float(x) => x.floor() as i64,
        other => {
            return Err(format!("timestamp is not a string or a number (found {})", other.kind()));
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
        return Err(format!("timestamp {shown} is outside 1000-01-01T00:00:00Z..9999-12-31T23:59:59.999Z"));
    }
    Ok(ms)
}

fn parse_str(s: &str, local: FixedOffset) -> Option<i64> {
    if let Some(ms) = parse_iso_fast(s.as_bytes(), local) {
        return Some(ms);
    }
    parse_str_chrono(s, local)
}

/// The common layout, `YYYY-MM-DDTHH:MM:SS[.f…][Z|±HH:MM]`, read at fixed
/// places with no loop over format items; `None` for anything else (other
/// separators, leap seconds, more than 9 fraction digits, `±HHMM`…), which
/// [`parse_str_chrono`] then reads. Where both read a text they agree (see
/// the tests).
fn parse_iso_fast(b: &[u8], local: FixedOffset) -> Option<i64> {
    // `YYYY-MM-DDTHH:MM:SS` as two eight-byte words and three bytes, checked
    // and read with word operations rather than a loop over the bytes.
    let (head, after) = b.split_first_chunk::<19>()?;
    let (w0, rest) = head.split_first_chunk::<8>()?;
    let (w1, &[s0, s1, s2]) = rest.split_first_chunk::<8>()? else {
        return None;
    };
    let (w0, w1) = (u64::from_le_bytes(*w0), u64::from_le_bytes(*w1));
    let tail = u64::from(s0) | u64::from(s1) << 8 | u64::from(s2) << 16;
    // XOR with the layout leaves each digit's value and zero for each
    // separator in its place; anything else leaves a byte above 9.
    let (d0, d1, d2) = (
        w0 ^ u64::from_le_bytes(*b"0000-00-"),
        w1 ^ u64::from_le_bytes(*b"00T00:00"),
        tail ^ u64::from_le_bytes(*b":00\0\0\0\0\0"),
    );
    if [d0, d1, d2].into_iter().any(|d| (d | d.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080 != 0) {
        return None;
    }
    // Byte `i` of a word, as a number.
    let at = |d: u64, i: u32| ((d >> (8 * i)) & 0xFF) as i64;
    let year = at(d0, 0) * 1000 + at(d0, 1) * 100 + at(d0, 2) * 10 + at(d0, 3);
    let month = at(d0, 5) * 10 + at(d0, 6);
    let day = at(d1, 0) * 10 + at(d1, 1);
    let hour = at(d1, 3) * 10 + at(d1, 4);
    let minute = at(d1, 6) * 10 + at(d1, 7);
    let second = at(d2, 1) * 10 + at(d2, 2);
    // The separators XOR to zero, so the layout is checked too.
    if at(d0, 4) | at(d0, 7) | at(d1, 2) | at(d1, 5) | at(d2, 0) != 0 {
        return None;
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = after;
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        // Truncated to the millisecond; missing places count as zeros.
        for i in 0..3 {
            let digit = fraction.get(i).filter(|_| i < n).map_or(0, |&c| i64::from(c - b'0'));
            millis = millis * 10 + digit;
        }
        rest = &fraction[n..];
    }
    let offset_seconds = match rest {
        [] => local.local_minus_utc() as i64,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = (hours * 60 + minutes) * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offset_seconds;
    Some(seconds * 1000 + millis)
}

/// The number in ASCII digits `b` (at most 4 of them).
fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Every shape `validate` accepts, through chrono.
fn parse_str_chrono(s: &str, local: FixedOffset) -> Option<i64> {
    let b = s.as_bytes();
    if !b.is_empty() && b.iter().enumerate().all(|(i, c)| c.is_ascii_digit() || (i == 0 && *c == b'-')) {
        return s.parse::<i64>().ok();
    }
    // Anything after the date (10 bytes) that starts an offset?
    let has_offset = matches!(b.last(), Some(b'Z' | b'z'))
        || b.get(10..).is_some_and(|rest| rest.iter().any(|c| matches!(c, b'+' | b'-')));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path reads exactly what chrono reads, wherever it reads
    /// anything: every combination of the parts below, valid or not.
    #[test]
    fn the_fast_path_agrees_with_chrono() {
        let dates = [
            "1000-01-01",
            "1600-02-29",
            "1700-02-29",
            "1969-12-31",
            "1970-01-01",
            "2000-02-29",
            "2023-02-29",
            "2024-02-29",
            "2026-01-28",
            "2026-04-31",
            "2026-06-30",
            "2026-12-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-01-32",
            "9999-12-31",
            "0000-01-01",
            "2026-1-28x",
            "20a6-01-28",
            "2026/01/28",
            "2026-0:-28",
            "2026-0/-28",
            "2026-01-2é",
            "２０２６-01-28",
        ];
        let times = [
            "T00:00:00",
            "T10:15:30",
            "T23:59:59",
            "T24:00:00",
            "T12:60:00",
            "T12:00:60",
            "t10:15:30",
            " 10:15:30",
            "T1:15:30x",
            "T10-15:30",
            "T10:15:3:",
            "T10:15:30\u{7f}",
            "T10:1é:30",
        ];
        let fractions = ["", ".1", ".12", ".120", ".1234", ".999999999", ".1234567891", ".", ".x"];
        let offsets = [
            "", "Z", "z", "+09:00", "-05:30", "+00:00", "-00:00", "+23:59", "+24:00", "+09:60", "+0900", "+09", "Zx",
            "-1:00",
        ];
        let locals = [0, 9 * 3600, -(5 * 3600 + 1800)].map(|s| FixedOffset::east_opt(s).unwrap());
        let mut fast_reads = 0;
        for date in dates {
            for time in times {
                for fraction in fractions {
                    for offset in offsets {
                        for local in locals {
                            let text = format!("{date}{time}{fraction}{offset}");
                            if let Some(ms) = parse_iso_fast(text.as_bytes(), local) {
                                fast_reads += 1;
                                assert_eq!(Some(ms), parse_str_chrono(&text, local), "{text} at {local}");
                            }
                        }
                    }
                }
            }
        }
        // The common shapes do take the fast path.
        assert!(fast_reads > 4_000, "{fast_reads}");
        let utc = FixedOffset::east_opt(0).unwrap();
        assert!(parse_iso_fast(b"2026-01-28T10:15:30.120+09:00", utc).is_some());
        assert!(parse_iso_fast(b"2026-01-28T10:15:30.120", utc).is_some());
        assert!(parse_iso_fast(b"2026-01-28T10:15:30Z", utc).is_some());
    }
}
