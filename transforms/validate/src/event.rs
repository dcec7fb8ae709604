//! Parsing the input JSON into borrowed fields, with a reason for every way
//! it can fail.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The fields `validate` reads; each is whatever JSON value was there, so
/// that a wrong type gets a reason naming the field.
#[derive(Debug, Default, PartialEq)]
pub struct Event<'a> {
    pub session_id: Option<Field<'a>>,
    pub event_type: Option<Field<'a>>,
    pub timestamp: Option<Field<'a>>,
}

/// A JSON value, borrowed where possible. Arrays and objects are skipped, not
/// kept.
#[derive(Debug, PartialEq)]
pub enum Field<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Field<'_> {
    /// The JSON type, for reasons.
    pub fn kind(&self) -> &'static str {
        match self {
            Field::Str(_) => "string",
            Field::Int(_) | Field::UInt(_) | Field::Float(_) => "number",
            Field::Bool(_) => "boolean",
            Field::Null => "null",
            Field::Array => "array",
            Field::Object => "object",
        }
    }
}

/// Parses one record value. The error is the reject reason.
pub fn parse_event(value: &[u8]) -> Result<Event<'_>, String> {
    if value.is_empty() {
        return Err("empty value".into());
    }
    // One UTF-8 check for the whole value is cheaper than serde_json's check
    // of every string, and gives a clearer reason.
    // simdutf8 checks 16 bytes a step where the CPU (or wasm's simd128)
    // allows; std says where the bad bytes are.
    let text = match simdutf8::basic::from_utf8(value) {
        Ok(text) => text,
        Err(_) => std::str::from_utf8(value)
            .map_err(|e| format!("value is not UTF-8 (invalid bytes at offset {})", e.valid_up_to()))?,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let top = Top::deserialize(&mut de).and_then(|top| de.end().map(|()| top));
    match top {
        Ok(Top::Object(event)) => Ok(event),
        Ok(Top::Other(kind)) => Err(format!("value is a JSON {kind}, not an object")),
        Err(e) => Err(describe(&e)),
    }
}

/// A serde_json error as a reason: syntax errors with their position first.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    if e.is_data() {
        message.to_owned()
    } else {
        format!("invalid JSON at line {} column {}: {message}", e.line(), e.column())
    }
}

enum Top<'a> {
    Object(Event<'a>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut event = Event::default();
        while let Some(key) = map.next_key::<Key>()? {
            let (slot, name) = match key {
                Key::SessionId => (&mut event.session_id, "sessionId"),
                Key::EventType => (&mut event.event_type, "eventType"),
                Key::Timestamp => (&mut event.timestamp, "timestamp"),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format_args!("duplicate field {name}")));
            }
            *slot = Some(map.next_value::<Field<'de>>()?);
        }
        Ok(Top::Object(event))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Top::Other("array"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
        Ok(Top::Other("string"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
        Ok(Top::Other("number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
        Ok(Top::Other("number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
        Ok(Top::Other("number"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
        Ok(Top::Other("boolean"))
    }

    fn visit_unit<E>(self) -> Result<Top<'de>, E> {
        Ok(Top::Other("null"))
    }
}

/// The keys `validate` reads; every other key is skipped without copying.
enum Key {
    SessionId,
    EventType,
    Timestamp,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "sessionId" => Key::SessionId,
                    "eventType" => Key::EventType,
                    "timestamp" => Key::Timestamp,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(s)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Field<'de>, E> {
        Ok(Field::Int(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Field<'de>, E> {
        Ok(Field::UInt(n))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Field<'de>, E> {
        Ok(Field::Float(x))
    }

    fn visit_bool<E>(self, b: bool) -> Result<Field<'de>, E> {
        Ok(Field::Bool(b))
    }

    fn visit_unit<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Object)
    }
}
