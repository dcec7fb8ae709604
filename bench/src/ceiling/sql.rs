//! SQL literals for statements built as text.

use std::fmt::Write;

/// `'text'` with quotes and backslashes escaped.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `X'…'` for raw bytes.
pub fn bytes(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() * 2 + 3);
    out.push_str("X'");
    for b in value {
        let _ = write!(out, "{b:02X}");
    }
    out.push('\'');
    out
}

/// `'YYYY-MM-DD HH:MM:SS.mmm'` (UTC) of epoch milliseconds.
pub fn datetime_ms(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.3f")),
        None => "NULL".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(text("it's a\\b"), "'it''s a\\\\b'");
        assert_eq!(bytes(&[0, 255, 16]), "X'00FF10'");
        assert_eq!(datetime_ms(1_769_562_930_120), "'2026-01-28 01:15:30.120'");
    }
}
