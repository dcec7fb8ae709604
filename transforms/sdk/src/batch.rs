//! Batches: the columnar form the host sends ([`OwnedBatch`]) and the
//! borrowed view an author iterates ([`Batch`]).

use std::fmt;
use std::iter::FusedIterator;

use crate::record::{Header, Record};

/// A batch as it crosses the boundary (WIT `batch`), column by column: one
/// list per record field, one buffer for all keys, one for all values, one
/// list of headers, sliced by the per-record lengths. Build one in tests
/// with [`OwnedBatch::new`] and [`push`](OwnedBatch::push), then look at it
/// through [`OwnedBatch::view`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedBatch {
    pub topic: String,
    pub partition: i32,
    pub offsets: Vec<i64>,
    /// Milliseconds since the Unix epoch; -1 for none.
    pub timestamps: Vec<i64>,
    /// Length of each key in `keys`; -1 for a record without a key.
    pub key_lens: Vec<i32>,
    pub keys: Vec<u8>,
    pub value_lens: Vec<u32>,
    pub values: Vec<u8>,
    pub header_counts: Vec<u32>,
    pub headers: Vec<Header>,
}

impl OwnedBatch {
    /// An empty batch of `topic`/`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self { topic: topic.into(), partition, ..Self::default() }
    }

    /// Appends a record with the next offset (0 for the first), no timestamp
    /// and no headers.
    pub fn push(&mut self, key: Option<&[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        let offset = self.offsets.last().map_or(0, |o| o + 1);
        self.push_record(offset, None, key, value.as_ref(), &[])
    }

    /// Appends a record with every field given.
    pub fn push_record(
        &mut self,
        offset: i64,
        timestamp: Option<i64>,
        key: Option<&[u8]>,
        value: &[u8],
        headers: &[Header],
    ) -> &mut Self {
        self.offsets.push(offset);
        self.timestamps.push(timestamp.unwrap_or(NO_TIMESTAMP));
        self.key_lens.push(key.map_or(NO_KEY, |k| i32::try_from(k.len()).expect("a key longer than 2 GiB")));
        if let Some(k) = key {
            self.keys.extend_from_slice(k);
        }
        self.value_lens.push(len_u32(value.len()));
        self.values.extend_from_slice(value);
        self.header_counts.push(len_u32(headers.len()));
        self.headers.extend_from_slice(headers);
        self
    }

    /// A batch of key-less records with these values, offsets 0, 1, ...
    pub fn from_values<V: AsRef<[u8]>>(values: impl IntoIterator<Item = V>) -> Self {
        let mut batch = Self::new("test", 0);
        for v in values {
            batch.push(None, v);
        }
        batch
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The borrowed view, after checking that the per-record lists have one
    /// entry per record and that the lengths add up to the buffers.
    pub fn view(&self) -> Result<Batch<'_>, BatchError> {
        let n = self.offsets.len();
        for (part, len) in [
            ("timestamps", self.timestamps.len()),
            ("key-lens", self.key_lens.len()),
            ("value-lens", self.value_lens.len()),
            ("header-counts", self.header_counts.len()),
        ] {
            if len != n {
                return Err(BatchError::Entries { part, records: n, entries: len });
            }
        }
        // One pass over the three lists (in wasm every loop step also checks
        // the host's deadline, so fewer loops are faster).
        let (mut keys, mut values, mut headers, mut bad_key) = (0u64, 0u64, 0u64, false);
        for ((&k, &v), &h) in self.key_lens.iter().zip(&self.value_lens).zip(&self.header_counts) {
            // NO_KEY adds nothing; any other negative length is wrong.
            bad_key |= k < NO_KEY;
            keys += u64::from(k.max(0).unsigned_abs());
            values += u64::from(v);
            headers += u64::from(h);
        }
        if bad_key {
            let k = self.key_lens.iter().copied().find(|&k| k < NO_KEY);
            return Err(BatchError::KeyLength(k.unwrap_or(i32::MIN)));
        }
        for (part, declared, actual) in [
            ("keys", keys, self.keys.len()),
            ("values", values, self.values.len()),
            ("headers", headers, self.headers.len()),
        ] {
            if declared != actual as u64 {
                return Err(BatchError::Lengths { part, declared, actual });
            }
        }
        Ok(Batch { batch: self })
    }
}

/// `timestamps` entry of a record without a timestamp (Kafka's own value).
pub const NO_TIMESTAMP: i64 = -1;
/// `key_lens` entry of a record without a key.
pub const NO_KEY: i32 = -1;

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a record part longer than 4 GiB")
}

/// The records of one batch (one partition of one topic, in offset order),
/// borrowed from the buffers the host sent. Iterate it with `for record in
/// batch`; each [`Record`] borrows its key, value and headers in place.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    batch: &'a OwnedBatch,
}

/// The host sent a batch whose parts do not fit together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// A per-record list has another length than `offsets`.
    Entries { part: &'static str, records: usize, entries: usize },
    /// The lengths in a per-record list do not add up to their buffer.
    Lengths { part: &'static str, declared: u64, actual: usize },
    /// A key length below -1.
    KeyLength(i32),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Entries { part, records, entries } => {
                write!(f, "malformed batch: {records} records but {entries} entries in {part}")
            }
            BatchError::Lengths { part, declared, actual } => write!(
                f,
                "malformed batch: the records declare {declared} bytes/entries of {part} but the batch has {actual}"
            ),
            BatchError::KeyLength(k) => {
                write!(f, "malformed batch: key length {k} (only -1, no key, may be negative)")
            }
        }
    }
}

impl std::error::Error for BatchError {}

impl<'a> Batch<'a> {
    pub fn topic(&self) -> &'a str {
        &self.batch.topic
    }

    pub fn partition(&self) -> i32 {
        self.batch.partition
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.batch.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.offsets.is_empty()
    }

    /// The records in offset order.
    pub fn iter(&self) -> Records<'a> {
        let b = self.batch;
        Records {
            topic: &b.topic,
            partition: b.partition,
            index: 0,
            offsets: b.offsets.iter(),
            timestamps: b.timestamps.iter(),
            key_lens: b.key_lens.iter(),
            value_lens: b.value_lens.iter(),
            header_counts: b.header_counts.iter(),
            keys: &b.keys,
            values: &b.values,
            headers: &b.headers,
        }
    }
}

impl<'a> IntoIterator for &Batch<'a> {
    type Item = Record<'a>;
    type IntoIter = Records<'a>;

    fn into_iter(self) -> Records<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for Batch<'a> {
    type Item = Record<'a>;
    type IntoIter = Records<'a>;

    fn into_iter(self) -> Records<'a> {
        self.iter()
    }
}

/// Iterator over the records of a [`Batch`]: walks the per-record lists
/// side by side and takes each record's key, value and headers off the
/// front of the shared buffers, so each step is a few additions and slices.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    topic: &'a str,
    partition: i32,
    index: u32,
    offsets: std::slice::Iter<'a, i64>,
    timestamps: std::slice::Iter<'a, i64>,
    key_lens: std::slice::Iter<'a, i32>,
    value_lens: std::slice::Iter<'a, u32>,
    header_counts: std::slice::Iter<'a, u32>,
    /// What is left of the buffers.
    keys: &'a [u8],
    values: &'a [u8],
    headers: &'a [Header],
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    #[inline]
    fn next(&mut self) -> Option<Record<'a>> {
        let offset = *self.offsets.next()?;
        // `OwnedBatch::view` checked that every list has an entry per record
        // and that the lengths add up, so none of these runs out.
        let timestamp = *self.timestamps.next()?;
        let key = match *self.key_lens.next()? {
            n if n < 0 => None,
            n => {
                let (key, rest) = self.keys.split_at_checked(n as usize)?;
                self.keys = rest;
                Some(key)
            }
        };
        let (value, rest) = self.values.split_at_checked(*self.value_lens.next()? as usize)?;
        self.values = rest;
        let (headers, rest) = self.headers.split_at_checked(*self.header_counts.next()? as usize)?;
        self.headers = rest;
        let index = self.index;
        self.index += 1;
        Some(Record {
            index,
            key,
            value,
            headers,
            topic: self.topic,
            partition: self.partition,
            offset,
            timestamp: (timestamp >= 0).then_some(timestamp),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.offsets.size_hint()
    }
}

impl ExactSizeIterator for Records<'_> {}
impl FusedIterator for Records<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(k: &str, v: Option<&str>) -> Header {
        Header { key: k.into(), value: v.map(|v| v.as_bytes().to_vec()) }
    }

    #[test]
    fn decodes_keys_values_and_headers_in_place() {
        let mut owned = OwnedBatch::new("study-log-events", 2);
        owned
            .push_record(10, Some(1_000), Some(b"k1"), b"first", &[header("a", Some("1"))])
            .push_record(11, None, None, b"", &[])
            .push_record(12, Some(3_000), Some(b""), b"third value", &[header("b", None), header("c", Some("3"))]);
        let batch = owned.view().unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.topic(), "study-log-events");
        let records: Vec<Record<'_>> = batch.iter().collect();

        assert_eq!(records[0].index, 0);
        assert_eq!(records[0].key, Some(&b"k1"[..]));
        assert_eq!(records[0].value, b"first");
        assert_eq!(records[0].header("a"), Some(&b"1"[..]));
        assert_eq!(records[0].offset, 10);
        assert_eq!(records[0].timestamp, Some(1_000));
        assert_eq!(records[0].partition, 2);

        assert_eq!(records[1].key, None);
        assert_eq!(records[1].value, b"");
        assert!(records[1].headers.is_empty());
        assert_eq!(records[1].timestamp, None);

        assert_eq!(records[2].index, 2);
        assert_eq!(records[2].key, Some(&b""[..]));
        assert_eq!(records[2].value_str(), Ok("third value"));
        assert_eq!(records[2].headers.len(), 2);
        assert_eq!(records[2].header("b"), None);
        assert_eq!(records[2].header("c"), Some(&b"3"[..]));

        // Views point into the batch buffers: no copy per record.
        assert!(std::ptr::eq(records[2].value.as_ptr(), owned.values[5..].as_ptr()));
    }

    #[test]
    fn iterator_reports_exact_size() {
        let owned = OwnedBatch::from_values(["a", "b", "c"]);
        let batch = owned.view().unwrap();
        let mut it = batch.iter();
        assert_eq!(it.len(), 3);
        it.next();
        assert_eq!(it.len(), 2);
        assert_eq!((&batch).into_iter().map(|r| r.offset).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn empty_batch() {
        let owned = OwnedBatch::new("t", 0);
        let batch = owned.view().unwrap();
        assert!(batch.is_empty());
        assert_eq!(batch.iter().next(), None);
    }

    #[test]
    fn rejects_lengths_that_do_not_add_up() {
        let mut owned = OwnedBatch::from_values(["abc", "de"]);
        owned.values.pop();
        let err = owned.view().unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed batch: the records declare 5 bytes/entries of values but the batch has 4"
        );

        let mut owned = OwnedBatch::from_values(["x"]);
        owned.keys.push(b'k');
        assert!(owned.view().unwrap_err().to_string().contains("of keys"));

        let mut owned = OwnedBatch::from_values(["x"]);
        owned.header_counts[0] = 1;
        assert!(owned.view().unwrap_err().to_string().contains("of headers"));

        let mut owned = OwnedBatch::from_values(["x", "y"]);
        owned.timestamps.pop();
        assert_eq!(owned.view().unwrap_err().to_string(), "malformed batch: 2 records but 1 entries in timestamps");

        let mut owned = OwnedBatch::from_values(["x"]);
        owned.key_lens[0] = -2;
        assert!(owned.view().unwrap_err().to_string().contains("key length -2"));
    }
}
