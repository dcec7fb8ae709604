//! One input record, borrowed from its batch.

use std::str::Utf8Error;

/// One Kafka header. A header may have no value. (Same shape as the WIT
/// `header` record, which the ABI layer lifts straight into this type.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// A view of one record. Everything is borrowed from the batch: iterating a
/// batch copies nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Position of the record in its batch (0-based). Side-output rows that
    /// belong to this record carry it (see [`Output::emit_for`](crate::Output::emit_for)).
    pub index: u32,
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub headers: &'a [Header],
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the Unix epoch, if the record carries a timestamp.
    pub timestamp: Option<i64>,
}

impl<'a> Record<'a> {
    /// The value as UTF-8 text.
    pub fn value_str(&self) -> Result<&'a str, Utf8Error> {
        std::str::from_utf8(self.value)
    }

    /// The key as UTF-8 text; `None` when the record has no key.
    pub fn key_str(&self) -> Option<Result<&'a str, Utf8Error>> {
        self.key.map(std::str::from_utf8)
    }

    /// The value of the first header named `key` that has a value.
    pub fn header(&self, key: &str) -> Option<&'a [u8]> {
        self.headers.iter().find(|h| h.key == key && h.value.is_some()).and_then(|h| h.value.as_deref())
    }
}
