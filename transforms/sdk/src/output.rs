//! What a stage returns: verdicts, typed side-output rows, and the
//! declarations of those outputs.
//!
//! [`Output`] collects the answer column by column, in the shape of the WIT
//! `batch-output` ([`BatchOutput`]), so that it crosses the boundary as a few
//! buffers: a replaced value is appended to one shared buffer, a row's text
//! to its column's buffer. [`Verdict`] and [`Row`] are the same answer one
//! record or one row at a time, for tests and tools.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::record::Record;

/// What a stage decided for one input record, with its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Pass the record on unchanged.
    Keep,
    /// Pass the record on with this new value.
    Replace(Vec<u8>),
    /// Drop the record and dead-letter it with this reason.
    Reject(String),
    /// Drop the record without a dead letter: filtered out, counted as
    /// dropped. Rows earlier stages emitted for it are not written.
    Drop,
}

/// The verdict alone, as it crosses the boundary (WIT `verdict`); the
/// payloads travel in [`BatchOutput::replacements`] and
/// [`BatchOutput::reasons`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictKind {
    Keep,
    Replace,
    Reject,
    Drop,
}

/// A typed value in a side-output row. Text and bytes may borrow: emitting
/// a row copies them into the output's buffers.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    /// Milliseconds since the Unix epoch, UTC.
    TimestampMs(i64),
}

impl<'a> Value<'a> {
    /// A text value, borrowed or owned.
    pub fn text(s: impl Into<Cow<'a, str>>) -> Self {
        Value::Text(s.into())
    }

    /// The column kind this value fits, `None` for [`Value::Null`].
    pub fn kind(&self) -> Option<ColumnKind> {
        Some(match self {
            Value::Null => return None,
            Value::Int(_) => ColumnKind::Int,
            Value::Float(_) => ColumnKind::Float,
            Value::Text(_) => ColumnKind::Text,
            Value::Bytes(_) => ColumnKind::Bytes,
            Value::TimestampMs(_) => ColumnKind::TimestampMs,
        })
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Text(Cow::Borrowed(s))
    }
}
impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Text(Cow::Owned(s))
    }
}
impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<f64> for Value<'_> {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(b: &'a [u8]) -> Self {
        Value::Bytes(Cow::Borrowed(b))
    }
}
impl From<Vec<u8>> for Value<'_> {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(Cow::Owned(b))
    }
}
impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The kind of a side-output column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    Int,
    Float,
    Text,
    Bytes,
    TimestampMs,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Int => "int",
            ColumnKind::Float => "float",
            ColumnKind::Text => "text",
            ColumnKind::Bytes => "bytes",
            ColumnKind::TimestampMs => "timestamp-ms",
        })
    }
}

/// One column of a side output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
}

/// A named side output (such as `stats`) and its columns, in row order.
///
/// ```
/// use sluice_transform::{ColumnKind, OutputDecl};
/// let decl = OutputDecl::new("study_log")
///     .column("session_id", ColumnKind::Text)
///     .column("event_time", ColumnKind::TimestampMs)
///     .nullable_column("note", ColumnKind::Text);
/// assert_eq!(decl.columns.len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputDecl {
    pub name: String,
    pub columns: Vec<Column>,
}

impl OutputDecl {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), columns: Vec::new() }
    }

    /// Adds a column that never holds [`Value::Null`].
    pub fn column(mut self, name: impl Into<String>, kind: ColumnKind) -> Self {
        self.columns.push(Column { name: name.into(), kind, nullable: false });
        self
    }

    /// Adds a column that may hold [`Value::Null`].
    pub fn nullable_column(mut self, name: impl Into<String>, kind: ColumnKind) -> Self {
        self.columns.push(Column { name: name.into(), kind, nullable: true });
        self
    }
}

/// What `init` tells the host: the stage's side outputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageInfo {
    pub outputs: Vec<OutputDecl>,
}

/// The texts of one column (WIT `text-values`): every row's text in `data`,
/// each row's length in `lens`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextValues {
    pub data: String,
    pub lens: Vec<u32>,
}

/// The byte strings of one column (WIT `bytes-values`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BytesValues {
    pub data: Vec<u8>,
    pub lens: Vec<u32>,
}

/// One column of a [`Rows`] set, one value per row (WIT `column-values`).
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnValues {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Text(TextValues),
    Bytes(BytesValues),
    TimestampMs(Vec<i64>),
}

impl ColumnValues {
    fn new(kind: ColumnKind, rows: usize) -> Self {
        match kind {
            ColumnKind::Int => ColumnValues::Int(Vec::with_capacity(rows)),
            ColumnKind::Float => ColumnValues::Float(Vec::with_capacity(rows)),
            ColumnKind::Text => ColumnValues::Text(TextValues { data: String::new(), lens: Vec::with_capacity(rows) }),
            ColumnKind::Bytes => ColumnValues::Bytes(BytesValues { data: Vec::new(), lens: Vec::with_capacity(rows) }),
            ColumnKind::TimestampMs => ColumnValues::TimestampMs(Vec::with_capacity(rows)),
        }
    }

    /// Appends `value` if it is of this column's kind; gives it back if not.
    #[inline]
    fn push<'v>(&mut self, value: Value<'v>) -> Result<(), Value<'v>> {
        match (self, value) {
            (ColumnValues::Int(c), Value::Int(v)) => c.push(v),
            (ColumnValues::Float(c), Value::Float(v)) => c.push(v),
            (ColumnValues::TimestampMs(c), Value::TimestampMs(v)) => c.push(v),
            (ColumnValues::Text(c), Value::Text(v)) => {
                c.data.push_str(&v);
                c.lens.push(len_u32(v.len()));
            }
            (ColumnValues::Bytes(c), Value::Bytes(v)) => {
                c.data.extend_from_slice(&v);
                c.lens.push(len_u32(v.len()));
            }
            (_, value) => return Err(value),
        }
        Ok(())
    }

    /// Appends the placeholder of a null.
    fn push_placeholder(&mut self) {
        match self {
            ColumnValues::Int(c) | ColumnValues::TimestampMs(c) => c.push(0),
            ColumnValues::Float(c) => c.push(0.0),
            ColumnValues::Text(c) => c.lens.push(0),
            ColumnValues::Bytes(c) => c.lens.push(0),
        }
    }
}

/// Rows for one side output, column by column (WIT `rows`).
#[derive(Clone, Debug, PartialEq)]
pub struct Rows {
    /// Index of the output in the stage's declared outputs.
    pub output: u32,
    pub count: u32,
    /// Empty for aggregates; else the source record of each row.
    pub sources: Vec<u32>,
    /// One per declared column.
    pub columns: Vec<ColumnValues>,
    /// (column, row) of each null.
    pub nulls: Vec<(u32, u32)>,
}

/// One side-output row, on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Index of the output in the stage's declared outputs.
    pub output: u32,
    /// Index in the batch of the record this row belongs to, if any. The sink
    /// binds that record's partition and offset and drops the row if a later
    /// stage rejects the record. `None` for aggregates.
    pub source: Option<u32>,
    /// Values in the order of the output's columns.
    pub values: Vec<Value<'static>>,
}

/// The result of one `process` call, as it crosses the boundary (WIT
/// `batch-output`). [`to_verdicts`](Self::to_verdicts) and
/// [`to_rows`](Self::to_rows) give it one record and one row at a time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchOutput {
    /// Exactly one per input record, in order.
    pub verdicts: Vec<VerdictKind>,
    /// The values of the `Replace` verdicts, in order, concatenated.
    pub replacements: Vec<u8>,
    pub replacement_lens: Vec<u32>,
    /// The reasons of the `Reject` verdicts, in order.
    pub reasons: Vec<String>,
    pub rows: Vec<Rows>,
}

impl BatchOutput {
    /// The verdicts with their values and reasons.
    pub fn to_verdicts(&self) -> Vec<Verdict> {
        let mut values = split(&self.replacements, &self.replacement_lens);
        let mut reasons = self.reasons.iter();
        self.verdicts
            .iter()
            .map(|kind| match kind {
                VerdictKind::Keep => Verdict::Keep,
                VerdictKind::Replace => Verdict::Replace(values.next().unwrap_or_default().to_vec()),
                VerdictKind::Reject => Verdict::Reject(reasons.next().cloned().unwrap_or_default()),
                VerdictKind::Drop => Verdict::Drop,
            })
            .collect()
    }

    /// Every row, set after set, each set in the order it was emitted.
    pub fn to_rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for set in &self.rows {
            let start = rows.len();
            for r in 0..set.count {
                rows.push(Row {
                    output: set.output,
                    source: set.sources.get(r as usize).copied(),
                    values: Vec::with_capacity(set.columns.len()),
                });
            }
            for column in &set.columns {
                let values: Vec<Value<'static>> = match column {
                    ColumnValues::Int(v) => v.iter().map(|&x| Value::Int(x)).collect(),
                    ColumnValues::Float(v) => v.iter().map(|&x| Value::Float(x)).collect(),
                    ColumnValues::TimestampMs(v) => v.iter().map(|&x| Value::TimestampMs(x)).collect(),
                    ColumnValues::Text(t) => split(t.data.as_bytes(), &t.lens)
                        .map(|b| Value::Text(Cow::Owned(String::from_utf8_lossy(b).into_owned())))
                        .collect(),
                    ColumnValues::Bytes(b) => {
                        split(&b.data, &b.lens).map(|b| Value::Bytes(Cow::Owned(b.to_vec()))).collect()
                    }
                };
                for (row, value) in rows[start..].iter_mut().zip(values) {
                    row.values.push(value);
                }
            }
            for &(column, row) in &set.nulls {
                if let Some(v) = rows.get_mut(start + row as usize).and_then(|r| r.values.get_mut(column as usize)) {
                    *v = Value::Null;
                }
            }
        }
        rows
    }
}

/// Slices `data` by consecutive lengths (short slices past its end).
fn split<'a>(data: &'a [u8], lens: &'a [u32]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut at = 0usize;
    lens.iter().map(move |&n| {
        let start = at.min(data.len());
        at += n as usize;
        &data[start..at.min(data.len())]
    })
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).expect("a value longer than 4 GiB")
}

/// Collects a stage's answer to one batch: call one of [`keep`](Self::keep),
/// [`replace`](Self::replace), [`reject`](Self::reject), [`drop`](Self::drop)
/// per record, in record order, and [`emit`](Self::emit) / [`emit_for`](Self::emit_for) for side
/// output rows. The SDK checks the verdict count and the rows against the
/// declared outputs before anything leaves the module.
#[derive(Debug, Default)]
pub struct Output {
    out: BatchOutput,
    decls: Arc<[OutputDecl]>,
    /// Per declared output, the index in `out.rows` of its set of
    /// aggregate rows and of its set of per-record rows.
    sets: Vec<[Option<usize>; 2]>,
    /// Rows emitted so far, to number them in messages.
    emitted: usize,
    /// The first row that did not fit its declaration.
    error: Option<String>,
    /// Expected rows per set, to size new sets.
    rows_hint: usize,
    unchecked: bool,
}

impl Output {
    /// An output for a stage that declares no side outputs (emitting a row
    /// on it is an error).
    pub fn new() -> Self {
        Self::default()
    }

    /// An output for a batch of `records` records of a stage with these
    /// outputs, with room for `rows_hint` rows per output and
    /// `replacement_bytes` bytes of new values.
    pub(crate) fn for_batch(
        records: usize,
        decls: Arc<[OutputDecl]>,
        rows_hint: usize,
        replacement_bytes: usize,
    ) -> Self {
        Self {
            out: BatchOutput {
                verdicts: Vec::with_capacity(records),
                replacements: Vec::with_capacity(replacement_bytes),
                replacement_lens: Vec::with_capacity(if replacement_bytes > 0 { records } else { 0 }),
                ..BatchOutput::default()
            },
            sets: vec![[None; 2]; decls.len()],
            decls,
            rows_hint,
            ..Self::default()
        }
    }

    /// Pass the next record on unchanged.
    #[inline]
    pub fn keep(&mut self) {
        self.out.verdicts.push(VerdictKind::Keep);
    }

    /// Pass the next record on with a new value.
    #[inline]
    pub fn replace(&mut self, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        self.out.replacements.extend_from_slice(value);
        self.out.replacement_lens.push(len_u32(value.len()));
        self.out.verdicts.push(VerdictKind::Replace);
    }

    /// Pass the next record on with the new value that `write` appends to
    /// the buffer it is given (it must only append). Saves building the
    /// value elsewhere and copying it.
    #[inline]
    pub fn replace_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.out.replacements.len();
        write(&mut self.out.replacements);
        let len = self.out.replacements.len().saturating_sub(start);
        self.out.replacement_lens.push(len_u32(len));
        self.out.verdicts.push(VerdictKind::Replace);
    }

    /// Drop the next record and dead-letter it with `reason`.
    #[inline]
    pub fn reject(&mut self, reason: impl Into<String>) {
        self.out.reasons.push(reason.into());
        self.out.verdicts.push(VerdictKind::Reject);
    }

    /// Drop the next record without a dead letter: a filter's "not for this
    /// pipeline". The host counts it as dropped and writes nothing for it.
    #[inline]
    #[allow(
        clippy::should_implement_trait,
        reason = "the verdict is `drop` in the contract and in every language's library; Output is not dropped by it"
    )]
    pub fn drop(&mut self) {
        self.out.verdicts.push(VerdictKind::Drop);
    }

    /// Push a verdict for the next record.
    pub fn push(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Keep => self.keep(),
            Verdict::Replace(value) => self.replace(value),
            Verdict::Reject(reason) => self.reject(reason),
            Verdict::Drop => self.drop(),
        }
    }

    /// Emit a row on output number `output` (its index in
    /// [`Transform::outputs`](crate::Transform::outputs)) that belongs to no
    /// record in particular, such as an aggregate.
    #[inline]
    pub fn emit<'v>(&mut self, output: u32, values: impl IntoIterator<Item = Value<'v>>) {
        self.push_row(output, None, values);
    }

    /// Emit a row on output number `output` that belongs to `record`: the
    /// sink can bind the record's partition and offset with it, and drops it
    /// if a later stage rejects the record.
    #[inline]
    pub fn emit_for<'v>(&mut self, record: &Record<'_>, output: u32, values: impl IntoIterator<Item = Value<'v>>) {
        self.push_row(output, Some(record.index), values);
    }

    fn push_row<'v>(&mut self, output: u32, source: Option<u32>, values: impl IntoIterator<Item = Value<'v>>) {
        let row = self.emitted;
        self.emitted += 1;
        if self.error.is_some() {
            return;
        }
        let Some(decl) = self.decls.get(output as usize) else {
            self.error =
                Some(format!("row {row}: output {output} is not declared (declared: {})", declared(&self.decls)));
            return;
        };
        let slot = usize::from(source.is_some());
        let set = match self.sets[output as usize][slot] {
            Some(i) => i,
            None => {
                let i = self.out.rows.len();
                self.out.rows.push(Rows {
                    output,
                    count: 0,
                    sources: Vec::with_capacity(if source.is_some() { self.rows_hint } else { 0 }),
                    columns: decl.columns.iter().map(|c| ColumnValues::new(c.kind, self.rows_hint)).collect(),
                    nulls: Vec::new(),
                });
                self.sets[output as usize][slot] = Some(i);
                i
            }
        };
        let set = &mut self.out.rows[set];
        let mut n = 0usize;
        for value in values {
            if let Some(column) = set.columns.get_mut(n) {
                let col = &decl.columns[n];
                if let Err(value) = column.push(value) {
                    if value == Value::Null && col.nullable {
                        column.push_placeholder();
                        set.nulls.push((n as u32, set.count));
                    } else if self.error.is_none() {
                        self.error = Some(format!(
                            "row {row}: on output {:?}: column {:?} is {}{}, got {}",
                            decl.name,
                            col.name,
                            col.kind,
                            if col.nullable { " (nullable)" } else { "" },
                            value.kind().map_or_else(|| "null".to_owned(), |k| k.to_string())
                        ));
                    }
                }
            }
            n += 1;
        }
        if n != decl.columns.len() && self.error.is_none() {
            self.error =
                Some(format!("row {row}: on output {:?}: {n} values for {} columns", decl.name, decl.columns.len()));
        }
        if let Some(source) = source {
            set.sources.push(source);
        }
        set.count += 1;
    }

    /// Verdicts so far, in record order.
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.out.to_verdicts()
    }

    /// Number of verdicts so far.
    pub fn verdict_count(&self) -> usize {
        self.out.verdicts.len()
    }

    /// Rows so far.
    pub fn rows(&self) -> Vec<Row> {
        self.out.to_rows()
    }

    /// Number of rows emitted so far.
    pub fn row_count(&self) -> usize {
        self.emitted
    }

    /// The first emitted row that did not fit its declared output.
    pub fn row_error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The collected verdicts and rows.
    pub fn into_batch_output(self) -> BatchOutput {
        self.out
    }

    /// Skip the SDK's checks of this output, so that a test module can hand
    /// the host a malformed answer. Not for real stages.
    #[doc(hidden)]
    pub fn __skip_checks(&mut self) {
        self.unchecked = true;
    }

    pub(crate) fn is_unchecked(&self) -> bool {
        self.unchecked
    }
}

fn declared(decls: &[OutputDecl]) -> String {
    if decls.is_empty() {
        return "none".to_owned();
    }
    decls.iter().enumerate().map(|(i, d)| format!("{i} = {:?}", d.name)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> Arc<[OutputDecl]> {
        vec![
            OutputDecl::new("log")
                .column("n", ColumnKind::Int)
                .nullable_column("s", ColumnKind::Text)
                .column("b", ColumnKind::Bytes),
        ]
        .into()
    }

    #[test]
    fn verdicts_round_trip_through_the_columns() {
        let mut out = Output::new();
        out.keep();
        out.replace("one");
        out.reject("bad");
        out.replace_with(|buf| buf.extend_from_slice(b"two!"));
        out.push(Verdict::Replace(Vec::new()));
        out.drop();
        let b = out.into_batch_output();
        assert_eq!(b.replacements, b"onetwo!");
        assert_eq!(b.replacement_lens, [3, 4, 0]);
        assert_eq!(b.reasons, ["bad"]);
        assert_eq!(
            b.to_verdicts(),
            [
                Verdict::Keep,
                Verdict::Replace(b"one".to_vec()),
                Verdict::Reject("bad".into()),
                Verdict::Replace(b"two!".to_vec()),
                Verdict::Replace(Vec::new()),
                Verdict::Drop,
            ]
        );
    }

    #[test]
    fn rows_go_column_by_column_with_nulls_and_sources() {
        let mut out = Output::for_batch(2, decls(), 0, 0);
        let record = Record {
            index: 1,
            key: None,
            value: b"",
            headers: &[],
            topic: "t",
            partition: 0,
            offset: 0,
            timestamp: None,
        };
        let borrowed = String::from("borrowed");
        out.emit(0, [Value::Int(1), Value::text(borrowed.as_str()), Value::from(&b"xy"[..])]);
        out.emit_for(&record, 0, [Value::Int(2), Value::Null, Value::from(vec![1u8])]);
        out.emit(0, [Value::Int(3), Value::text("ab".to_string()), Value::from(Vec::new())]);
        assert_eq!(out.row_error(), None);
        let b = out.into_batch_output();
        assert_eq!(b.rows.len(), 2, "one set of aggregates, one of per-record rows");
        assert_eq!(b.rows[0].count, 2);
        assert!(b.rows[0].sources.is_empty());
        assert_eq!(
            b.rows[0].columns[1],
            ColumnValues::Text(TextValues { data: "borrowedab".into(), lens: vec![8, 2] })
        );
        assert_eq!((b.rows[1].sources.as_slice(), b.rows[1].nulls.as_slice()), (&[1u32][..], &[(1u32, 0u32)][..]));
        let rows = b.to_rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].values[1], Value::text("ab"));
        assert_eq!(
            rows[2],
            Row {
                output: 0,
                source: Some(1),
                values: vec![Value::Int(2), Value::Null, Value::Bytes(Cow::Owned(vec![1]))]
            }
        );
    }

    #[test]
    fn the_first_misfit_row_is_the_error() {
        let mut out = Output::for_batch(1, decls(), 0, 0);
        out.emit(0, [Value::Int(1), Value::Null, Value::from(Vec::new())]);
        out.emit(0, [Value::Null, Value::Null, Value::from(Vec::new())]);
        out.emit(0, [Value::Int(1)]);
        assert_eq!(out.row_error(), Some("row 1: on output \"log\": column \"n\" is int, got null"));
        let mut out = Output::for_batch(1, decls(), 0, 0);
        out.emit(0, [Value::Int(1), Value::Null, Value::from(Vec::new()), Value::Int(4)]);
        assert_eq!(out.row_error(), Some("row 0: on output \"log\": 4 values for 3 columns"));
        let mut out = Output::new();
        out.emit(2, [Value::Int(1)]);
        assert_eq!(out.row_error(), Some("row 0: output 2 is not declared (declared: none)"));
    }
}
