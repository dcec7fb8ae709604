//! Poison pills: the kinds of broken message the AI server sends now and
//! then, each built from the event it was meant to send.
//!
//! | kind                 | value                                                     |
//! |----------------------|-----------------------------------------------------------|
//! | `malformed_json`     | the event's JSON cut short (`{"sessionId":"sess`)         |
//! | `missing_field`      | no `sessionId`, no `eventType` or no `timestamp`          |
//! | `wrong_type`         | `timestamp` a boolean, `sessionId` or `eventType` a number |
//! | `unknown_event_type` | `"eventType":"SLEEPING"`                                  |
//! | `empty_value`        | zero bytes                                                |
//! | `long_session_id`    | a `sessionId` of 65 – 96 characters; the key is that id   |
//! | `bad_timestamp`      | `"yesterday"`, an impossible date, or `""`                |
//!
//! Every pill except `long_session_id` is keyed by its learner's session id,
//! so it lands in that learner's partition, between its valid events.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::wire::WireEvent;

/// The closed set of poison-pill kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoisonKind {
    MalformedJson,
    MissingField,
    WrongType,
    UnknownEventType,
    EmptyValue,
    LongSessionId,
    BadTimestamp,
}

/// A pill: the key to send it under and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pill {
    pub key: String,
    pub value: Vec<u8>,
}

/// The event type no configuration knows.
pub const UNKNOWN_EVENT_TYPE: &str = "SLEEPING";

/// Timestamps no parser should accept.
const BAD_TIMESTAMPS: [&str; 3] = ["yesterday", "2026-13-45T25:61:00+09:00", ""];

impl PoisonKind {
    /// Every kind, in summary order.
    pub const ALL: [PoisonKind; 7] = [
        PoisonKind::MalformedJson,
        PoisonKind::MissingField,
        PoisonKind::WrongType,
        PoisonKind::UnknownEventType,
        PoisonKind::EmptyValue,
        PoisonKind::LongSessionId,
        PoisonKind::BadTimestamp,
    ];

    /// The name in summaries and event files, e.g. `"malformed_json"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PoisonKind::MalformedJson => "malformed_json",
            PoisonKind::MissingField => "missing_field",
            PoisonKind::WrongType => "wrong_type",
            PoisonKind::UnknownEventType => "unknown_event_type",
            PoisonKind::EmptyValue => "empty_value",
            PoisonKind::LongSessionId => "long_session_id",
            PoisonKind::BadTimestamp => "bad_timestamp",
        }
    }

    /// A uniformly chosen kind.
    pub fn pick(rng: &mut impl Rng) -> PoisonKind {
        PoisonKind::ALL[rng.random_range(0..PoisonKind::ALL.len())]
    }

    /// Spoils `event`, which learner `session_id` meant to send.
    pub fn make(self, session_id: &str, mut event: WireEvent, rng: &mut impl Rng) -> Pill {
        let key = session_id.to_string();
        let value = match self {
            PoisonKind::MalformedJson => {
                let mut bytes = event.to_bytes();
                bytes.truncate(rng.random_range(1..bytes.len().max(2)));
                bytes
            }
            PoisonKind::MissingField => {
                match rng.random_range(0..3) {
                    0 => event.session_id = None,
                    1 => event.event_type = None,
                    _ => event.timestamp = None,
                }
                event.to_bytes()
            }
            PoisonKind::WrongType => {
                match rng.random_range(0..3) {
                    0 => event.timestamp = Some(Value::from(rng.random_bool(0.5))),
                    1 => event.session_id = Some(Value::from(session_number(session_id))),
                    _ => event.event_type = Some(Value::from(rng.random_range(0..4u8))),
                }
                event.to_bytes()
            }
            PoisonKind::UnknownEventType => {
                event.event_type = Some(Value::from(UNKNOWN_EVENT_TYPE));
                event.to_bytes()
            }
            PoisonKind::EmptyValue => Vec::new(),
            PoisonKind::LongSessionId => {
                let len = rng.random_range(65..=96usize);
                let mut long = format!("{session_id}-");
                while long.len() < len {
                    long.push('x');
                }
                event.session_id = Some(Value::from(long.clone()));
                return Pill { key: long, value: event.to_bytes() };
            }
            PoisonKind::BadTimestamp => {
                event.timestamp = Some(Value::from(BAD_TIMESTAMPS[rng.random_range(0..BAD_TIMESTAMPS.len())]));
                event.to_bytes()
            }
        };
        Pill { key, value }
    }
}

/// `42` for `"session-42"`: the id as the number a buggy client might send.
fn session_number(session_id: &str) -> u64 {
    let digits: String = session_id.chars().filter(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

impl fmt::Display for PoisonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PoisonKind {
    type Err = String;

    fn from_str(s: &str) -> Result<PoisonKind, String> {
        PoisonKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown poison kind `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn event() -> WireEvent {
        WireEvent::new("session-42", "FOCUS", Value::from("2026-01-28T10:15:30.120+09:00"))
    }

    fn json(pill: &Pill) -> Option<serde_json::Map<String, Value>> {
        serde_json::from_slice::<Value>(&pill.value).ok()?.as_object().cloned()
    }

    #[test]
    fn each_kind_is_broken_the_way_it_says() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            for kind in PoisonKind::ALL {
                let pill = kind.make("session-42", event(), &mut rng);
                let obj = json(&pill);
                match kind {
                    PoisonKind::MalformedJson => assert!(obj.is_none() && !pill.value.is_empty(), "{pill:?}"),
                    PoisonKind::EmptyValue => assert!(pill.value.is_empty()),
                    PoisonKind::MissingField => assert_eq!(obj.expect("object").len(), 2),
                    PoisonKind::WrongType => {
                        let o = obj.expect("object");
                        assert_eq!(o.len(), 3);
                        assert!(
                            !o["sessionId"].is_string() || !o["eventType"].is_string() || o["timestamp"].is_boolean()
                        );
                    }
                    PoisonKind::UnknownEventType => assert_eq!(obj.expect("object")["eventType"], "SLEEPING"),
                    PoisonKind::LongSessionId => {
                        let id = obj.expect("object")["sessionId"].as_str().expect("string").to_string();
                        assert!((65..=96).contains(&id.len()), "{id}");
                        assert_eq!(pill.key, id);
                    }
                    PoisonKind::BadTimestamp => {
                        let o = obj.expect("object");
                        assert!(BAD_TIMESTAMPS.contains(&o["timestamp"].as_str().expect("string")));
                    }
                }
                if kind != PoisonKind::LongSessionId {
                    assert_eq!(pill.key, "session-42");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in PoisonKind::ALL {
            assert_eq!(kind.as_str().parse::<PoisonKind>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).expect("serialize"), Value::from(kind.as_str()));
        }
    }
}
