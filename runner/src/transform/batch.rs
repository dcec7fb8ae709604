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

/// A batch in the contract's columnar form, with reusable buffers.
#[derive(Debug)]
pub(crate) struct Columnar {
    batch: wit::Batch,
    /// Entries of `batch.headers` in use; the rest are kept for reuse.
    headers_used: usize,
}

impl Default for Columnar {
    fn default() -> Self {
        Columnar {
            batch: wit::Batch {
                topic: String::new(),
                partition: 0,
                offsets: Vec::new(),
                timestamps: Vec::new(),
                key_lens: Vec::new(),
                keys: Vec::new(),
                value_lens: Vec::new(),
                values: Vec::new(),
                header_counts: Vec::new(),
                headers: Vec::new(),
            },
            headers_used: 0,
        }
    }
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
        let b = &mut self.batch;
        b.topic.clear();
        b.topic.push_str(topic);
        b.partition = partition;
        b.offsets.clear();
        b.timestamps.clear();
        b.key_lens.clear();
        b.keys.clear();
        b.value_lens.clear();
        b.values.clear();
        b.header_counts.clear();
        self.headers_used = 0;
    }

    /// Appends `record`, with `value` in place of its own value (the chain
    /// passes values replaced by earlier stages this way).
    pub(crate) fn push(&mut self, record: &Record, value: &[u8]) {
        let b = &mut self.batch;
        b.offsets.push(record.offset);
        // Kafka timestamps are never negative but for its own "none".
        b.timestamps.push(record.timestamp.filter(|t| *t >= 0).unwrap_or(NO_TIMESTAMP));
        b.key_lens.push(match &record.key {
            Some(k) => {
                b.keys.extend_from_slice(k);
                i32::try_from(k.len()).unwrap_or(i32::MAX)
            }
            None => NO_KEY,
        });
        b.value_lens.push(len32(value.len()));
        b.values.extend_from_slice(value);
        b.header_counts.push(len32(record.headers.len()));
        for (key, val) in &record.headers {
            match b.headers.get_mut(self.headers_used) {
                Some(h) => {
                    h.key.clear();
                    h.key.push_str(key);
                    match (&mut h.value, val) {
                        (Some(buf), Some(v)) => {
                            buf.clear();
                            buf.extend_from_slice(v);
                        }
                        (slot, v) => *slot = v.clone(),
                    }
                }
                None => b.headers.push(wit::Header { key: key.clone(), value: val.clone() }),
            }
            self.headers_used += 1;
        }
    }

    /// The finished batch. Header entries past the ones in use are dropped
    /// here (they were kept only for their buffers).
    pub(crate) fn finish(&mut self) -> &wit::Batch {
        self.batch.headers.truncate(self.headers_used);
        &self.batch
    }

    /// Records in the batch being built.
    pub(crate) fn len(&self) -> usize {
        self.batch.offsets.len()
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
        let batch = c.finish();
        assert_eq!(batch.topic, "topic");
        assert_eq!(batch.partition, 2);
        assert_eq!(batch.keys, b"k1");
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
        let _ = c.finish();
        c.start("u", 1);
        let b = record(None, "b", &[("z", None), ("y", Some("yy"))], 2);
        c.push(&b, &b.value);
        assert_eq!(c.len(), 1);
        let batch = c.finish();
        assert_eq!(batch.topic, "u");
        assert_eq!((batch.offsets.as_slice(), batch.key_lens.as_slice(), batch.header_counts.as_slice()), (&[2i64][..], &[-1][..], &[2u32][..]));
        assert!(batch.keys.is_empty());
        assert_eq!(batch.values, b"b");
        assert_eq!(batch.headers.len(), 2);
        assert_eq!((batch.headers[0].key.as_str(), batch.headers[0].value.as_deref()), ("z", None));
        assert_eq!((batch.headers[1].key.as_str(), batch.headers[1].value.as_deref()), ("y", Some(&b"yy"[..])));
    }
}
