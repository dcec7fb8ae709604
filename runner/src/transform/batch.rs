//! Host-side records and batches, and their columnar form for the boundary.
//!
//! The contract passes a batch column by column: a list per record field,
//! one keys buffer, one values buffer. [`Columnar`] builds that form into
//! buffers that are kept and reused from call to call, so after the first
//! batches building one allocates nothing (header keys aside), and wasmtime
//! copies each list into the module in one piece.

use super::bindings::wit;

/// One Kafka record as the host holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// Headers in order; a header may have no value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

/// Records of one partition of one topic, in offset order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    pub topic: String,
    pub partition: i32,
    pub records: Vec<Record>,
}

/// A batch in the contract's columnar form, built into buffers that are
/// kept and reused from call to call. The call borrows them
/// ([`Columnar::batch`]), so wasmtime copies each straight into the module.
#[derive(Debug, Default)]
pub(crate) struct Columnar {
    topic: String,
    partition: i32,
    offsets: Vec<i64>,
    timestamps: Vec<i64>,
    key_lens: Vec<i32>,
    keys: Vec<u8>,
    value_lens: Vec<u32>,
    values: Vec<u8>,
    header_counts: Vec<u32>,
    /// Every record's headers in order; entries past `headers_used` are
    /// kept only for their buffers.
    headers: Vec<(String, Option<Vec<u8>>)>,
    headers_used: usize,
}

/// The contract's timestamp of a record without one (Kafka's own value).
const NO_TIMESTAMP: i64 = -1;
/// The contract's key length of a record without a key.
const NO_KEY: i32 = -1;

/// A length that must fit the contract's `u32`. Kafka caps messages far
/// below 4 GiB, so saturating only matters for absurd input, which the guest
/// then sees as inconsistent lengths rather than the host panicking.
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Columnar {
    /// Empties the buffers (keeping their capacity) for a new batch.
    pub(crate) fn start(&mut self, topic: &str, partition: i32) {
        self.topic.clear();
        self.topic.push_str(topic);
        self.partition = partition;
        self.offsets.clear();
        self.timestamps.clear();
        self.key_lens.clear();
        self.keys.clear();
        self.value_lens.clear();
        self.values.clear();
        self.header_counts.clear();
        self.headers_used = 0;
    }

    /// Appends `record`, with `value` in place of its own value (the chain
    /// passes values replaced by earlier stages this way).
    pub(crate) fn push(&mut self, record: &Record, value: &[u8]) {
        self.push_shared(record, value.len());
        self.values.extend_from_slice(value);
    }

    /// Appends `record` without copying a value: its value is the next
    /// `len` bytes of the buffer the batch is then given (see
    /// [`batch`](Self::batch)).
    pub(crate) fn push_shared(&mut self, record: &Record, len: usize) {
        self.offsets.push(record.offset);
        // Kafka timestamps are never negative but for its own "none".
        self.timestamps.push(record.timestamp.filter(|t| *t >= 0).unwrap_or(NO_TIMESTAMP));
        self.key_lens.push(match &record.key {
            Some(k) => {
                self.keys.extend_from_slice(k);
                i32::try_from(k.len()).unwrap_or(i32::MAX)
            }
            None => NO_KEY,
        });
        self.value_lens.push(len32(len));
        self.header_counts.push(len32(record.headers.len()));
        for (key, val) in &record.headers {
            match self.headers.get_mut(self.headers_used) {
                Some((k, v)) => {
                    k.clear();
                    k.push_str(key);
                    match (v, val) {
                        (Some(buf), Some(new)) => {
                            buf.clear();
                            buf.extend_from_slice(new);
                        }
                        (slot, new) => *slot = new.clone(),
                    }
                }
                None => self.headers.push((key.clone(), val.clone())),
            }
            self.headers_used += 1;
        }
    }

    /// The headers in use, as the contract's type (a list to keep while
    /// the batch borrows it).
    pub(crate) fn headers(&self) -> Vec<wit::Header<'_>> {
        self.headers[..self.headers_used]
            .iter()
            .map(|(key, value)| wit::Header { key, value: value.as_deref() })
            .collect()
    }

    /// The finished batch, borrowing the buffers; the values are `shared`
    /// when the records were pushed with [`push_shared`](Self::push_shared).
    pub(crate) fn batch<'a>(&'a self, headers: &'a [wit::Header<'a>], shared: Option<&'a [u8]>) -> wit::Batch<'a> {
        wit::Batch {
            topic: &self.topic,
            partition: self.partition,
            offsets: &self.offsets,
            timestamps: &self.timestamps,
            key_lens: &self.key_lens,
            keys: &self.keys,
            value_lens: &self.value_lens,
            values: shared.unwrap_or(&self.values),
            header_counts: &self.header_counts,
            headers,
        }
    }

    /// Records in the batch being built.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(key: Option<&str>, value: &str, headers: &[(&str, Option<&str>)], offset: i64) -> Record {
        Record {
            key: key.map(|k| k.as_bytes().to_vec()),
            value: value.as_bytes().to_vec(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.map(|v| v.as_bytes().to_vec()))).collect(),
            offset,
            timestamp: Some(offset * 10),
        }
    }

    #[test]
    fn builds_the_columnar_form() {
        let mut c = Columnar::default();
        c.start("topic", 2);
        let a = record(Some("k1"), "v-one", &[("h", Some("x")), ("e", None)], 7);
        let b = record(None, "two", &[], 8);
        c.push(&a, &a.value);
        c.push(&b, b"2");
        let headers = c.headers();
        let batch = c.batch(&headers, None);
        assert_eq!(batch.topic, "topic");
        assert_eq!(batch.partition, 2);
        assert_eq!(batch.keys, b"k1");
        assert_eq!(c.batch(&headers, Some(b"shared")).values, b"shared");
        assert_eq!(batch.values, b"v-one2");
        assert_eq!(batch.headers.len(), 2);
        assert_eq!(batch.headers[1].value, None);
        assert_eq!(batch.offsets, [7, 8]);
        assert_eq!(batch.timestamps, [70, 80]);
        assert_eq!(batch.key_lens, [2, -1]);
        assert_eq!(batch.value_lens, [5, 1]);
        assert_eq!(batch.header_counts, [2, 0]);
    }

    #[test]
    fn reuse_leaves_nothing_behind() {
        let mut c = Columnar::default();
        c.start("t", 0);
        let a = record(Some("key"), "aaaa", &[("h1", Some("1")), ("h2", Some("2")), ("h3", None)], 1);
        c.push(&a, &a.value);
        c.start("u", 1);
        let b = record(None, "b", &[("z", None), ("y", Some("yy"))], 2);
        c.push(&b, &b.value);
        assert_eq!(c.len(), 1);
        let headers = c.headers();
        let batch = c.batch(&headers, None);
        assert_eq!(batch.topic, "u");
        assert_eq!((batch.offsets, batch.key_lens, batch.header_counts), (&[2i64][..], &[-1][..], &[2u32][..]));
        assert!(batch.keys.is_empty());
        assert_eq!(batch.values, b"b");
        assert_eq!(batch.headers.len(), 2);
        assert_eq!((batch.headers[0].key, batch.headers[0].value), ("z", None));
        assert_eq!((batch.headers[1].key, batch.headers[1].value), ("y", Some(&b"yy"[..])));
    }
}
