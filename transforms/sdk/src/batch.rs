//! Batches: the columnar form the host sends ([`OwnedBatch`]) and the
//! borrowed view an author iterates ([`Batch`]).

use std::fmt;
use std::iter::FusedIterator;

use crate::record::{Header, Record, RecordMeta};

/// A batch as it crosses the boundary (WIT `batch`): one buffer for all keys,
/// one for all values, one list of headers, and per record the lengths that
/// slice them. Build one in tests with [`OwnedBatch::new`] and
/// [`push`](OwnedBatch::push), then look at it through [`OwnedBatch::view`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedBatch {
    pub topic: String,
    pub partition: i32,
    pub records: Vec<RecordMeta>,
    pub keys: Vec<u8>,
    pub values: Vec<u8>,
    pub headers: Vec<Header>,
}

impl OwnedBatch {
    /// An empty batch of `topic`/`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
            ..Self::default()
        }
    }

    /// Appends a record with the next offset (0 for the first), no timestamp
    /// and no headers.
    pub fn push(&mut self, key: Option<&[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        let offset = self.records.last().map_or(0, |m| m.offset + 1);
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
        self.records.push(RecordMeta {
            offset,
            timestamp,
            key_len: key.map(|k| len_u32(k.len())),
            value_len: len_u32(value.len()),
            header_count: len_u32(headers.len()),
        });
        if let Some(k) = key {
            self.keys.extend_from_slice(k);
        }
        self.values.extend_from_slice(value);
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

    /// The borrowed view, after checking that the lengths add up to the
    /// buffers.
    pub fn view(&self) -> Result<Batch<'_>, BatchError> {
        Batch::new(
            &self.topic,
            self.partition,
            &self.records,
            &self.keys,
            &self.values,
            &self.headers,
        )
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a record part longer than 4 GiB")
}

/// The records of one batch (one partition of one topic, in offset order),
/// borrowed from the buffers the host sent. Iterate it with `for record in
/// batch`; each [`Record`] borrows its key, value and headers in place.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    topic: &'a str,
    partition: i32,
    metas: &'a [RecordMeta],
    keys: &'a [u8],
    values: &'a [u8],
    headers: &'a [Header],
}

/// The lengths in a batch's record metadata do not add up to its buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchError {
    part: &'static str,
    declared: u64,
    actual: usize,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed batch: the records declare {} bytes/entries of {} but the batch has {}",
            self.declared, self.part, self.actual
        )
    }
}

impl std::error::Error for BatchError {}

impl<'a> Batch<'a> {
    /// A view over columnar buffers. Fails if the per-record lengths do not
    /// add up to the buffer sizes exactly.
    pub fn new(
        topic: &'a str,
        partition: i32,
        metas: &'a [RecordMeta],
        keys: &'a [u8],
        values: &'a [u8],
        headers: &'a [Header],
    ) -> Result<Self, BatchError> {
        let (mut k, mut v, mut h) = (0u64, 0u64, 0u64);
        for m in metas {
            k += u64::from(m.key_len.unwrap_or(0));
            v += u64::from(m.value_len);
            h += u64::from(m.header_count);
        }
        for (part, declared, actual) in [
            ("keys", k, keys.len()),
            ("values", v, values.len()),
            ("headers", h, headers.len()),
        ] {
            if declared != actual as u64 {
                return Err(BatchError {
                    part,
                    declared,
                    actual,
                });
            }
        }
        Ok(Self {
            topic,
            partition,
            metas,
            keys,
            values,
            headers,
        })
    }

    pub fn topic(&self) -> &'a str {
        self.topic
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.metas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    /// The records in offset order.
    pub fn iter(&self) -> Records<'a> {
        Records {
            batch: *self,
            index: 0,
            key_at: 0,
            value_at: 0,
            header_at: 0,
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

/// Iterator over the records of a [`Batch`]; walks the shared buffers with
/// running offsets, so each step is a few additions and slices.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    batch: Batch<'a>,
    index: usize,
    key_at: usize,
    value_at: usize,
    header_at: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    #[inline]
    fn next(&mut self) -> Option<Record<'a>> {
        let b = &self.batch;
        let meta = b.metas.get(self.index)?;
        // `Batch::new` checked that the lengths add up, so these slices are in
        // bounds.
        let key = meta.key_len.map(|n| {
            let start = self.key_at;
            self.key_at += n as usize;
            &b.keys[start..self.key_at]
        });
        let start = self.value_at;
        self.value_at += meta.value_len as usize;
        let value = &b.values[start..self.value_at];
        let start = self.header_at;
        self.header_at += meta.header_count as usize;
        let headers = &b.headers[start..self.header_at];
        let record = Record {
            index: self.index as u32,
            key,
            value,
            headers,
            topic: b.topic,
            partition: b.partition,
            offset: meta.offset,
            timestamp: meta.timestamp,
        };
        self.index += 1;
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.batch.metas.len() - self.index;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Records<'_> {}
impl FusedIterator for Records<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(k: &str, v: Option<&str>) -> Header {
        Header {
            key: k.into(),
            value: v.map(|v| v.as_bytes().to_vec()),
        }
    }

    #[test]
    fn decodes_keys_values_and_headers_in_place() {
        let mut owned = OwnedBatch::new("study-log-events", 2);
        owned
            .push_record(
                10,
                Some(1_000),
                Some(b"k1"),
                b"first",
                &[header("a", Some("1"))],
            )
            .push_record(11, None, None, b"", &[])
            .push_record(
                12,
                Some(3_000),
                Some(b""),
                b"third value",
                &[header("b", None), header("c", Some("3"))],
            );
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
        assert!(std::ptr::eq(
            records[2].value.as_ptr(),
            owned.values[5..].as_ptr()
        ));
    }

    #[test]
    fn iterator_reports_exact_size() {
        let owned = OwnedBatch::from_values(["a", "b", "c"]);
        let batch = owned.view().unwrap();
        let mut it = batch.iter();
        assert_eq!(it.len(), 3);
        it.next();
        assert_eq!(it.len(), 2);
        assert_eq!(
            (&batch).into_iter().map(|r| r.offset).collect::<Vec<_>>(),
            [0, 1, 2]
        );
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
        owned.records[0].header_count = 1;
        assert!(owned.view().unwrap_err().to_string().contains("of headers"));
    }
}
