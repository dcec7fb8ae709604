//! The JSON value the AI server sends, field by field, so that poison pills
//! can drop a field or give it the wrong type.
//!
//! A valid event serializes exactly as the platform's does, fields in this
//! order: `{"sessionId":"session-42","eventType":"FOCUS","timestamp":"2026-01-28T10:15:30.120+09:00"}`.

use serde::Serialize;
use serde_json::Value;

/// One event's fields; a field that is `None` is left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Value>,
}

impl WireEvent {
    /// A well-formed event.
    pub fn new(session_id: &str, event_type: &str, timestamp: Value) -> WireEvent {
        WireEvent {
            session_id: Some(Value::from(session_id)),
            event_type: Some(Value::from(event_type)),
            timestamp: Some(timestamp),
        }
    }

    /// The bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing strings, numbers and booleans cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_event_has_the_platform_field_order() {
        let e = WireEvent::new("session-42", "FOCUS", Value::from("2026-01-28T10:15:30.120+09:00"));
        assert_eq!(
            String::from_utf8(e.to_bytes()).expect("utf-8"),
            r#"{"sessionId":"session-42","eventType":"FOCUS","timestamp":"2026-01-28T10:15:30.120+09:00"}"#
        );
    }
}
