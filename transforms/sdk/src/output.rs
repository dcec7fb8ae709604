//! What a stage returns: verdicts, typed side-output rows, and the
//! declarations of those outputs.
//!
//! These types have the exact shape of their WIT counterparts; the ABI layer
//! passes them across the boundary without converting.

use std::fmt;

use crate::record::Record;

/// What a stage decides for one input record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Pass the record on unchanged.
    Keep,
    /// Pass the record on with this new value.
    Replace(Vec<u8>),
    /// Drop the record and dead-letter it with this reason.
    Reject(String),
}

/// A typed value in a side-output row; the sink binds it as is.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    /// Milliseconds since the Unix epoch, UTC.
    TimestampMs(i64),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Self {
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

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
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
        Self {
            name: name.into(),
            columns: Vec::new(),
        }
    }

    /// Adds a column that never holds [`Value::Null`].
    pub fn column(mut self, name: impl Into<String>, kind: ColumnKind) -> Self {
        self.columns.push(Column {
            name: name.into(),
            kind,
            nullable: false,
        });
        self
    }

    /// Adds a column that may hold [`Value::Null`].
    pub fn nullable_column(mut self, name: impl Into<String>, kind: ColumnKind) -> Self {
        self.columns.push(Column {
            name: name.into(),
            kind,
            nullable: true,
        });
        self
    }
}

/// What `init` tells the host: the stage's side outputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageInfo {
    pub outputs: Vec<OutputDecl>,
}

/// One side-output row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Index of the output in the stage's declared outputs.
    pub output: u32,
    /// Index in the batch of the record this row belongs to, if any. The sink
    /// binds that record's partition and offset and drops the row if a later
    /// stage rejects the record. `None` for aggregates.
    pub source: Option<u32>,
    /// Values in the order of the output's columns.
    pub values: Vec<Value>,
}

/// The result of one `process` call, as it crosses the boundary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchOutput {
    /// Exactly one verdict per input record, in order.
    pub verdicts: Vec<Verdict>,
    pub rows: Vec<Row>,
}

/// Collects a stage's answer to one batch: call one of [`keep`](Self::keep),
/// [`replace`](Self::replace), [`reject`](Self::reject) per record, in record
/// order, and [`emit`](Self::emit) / [`emit_for`](Self::emit_for) for side
/// output rows. The SDK checks the verdict count and the rows against the
/// declared outputs before anything leaves the module.
#[derive(Debug, Default)]
pub struct Output {
    verdicts: Vec<Verdict>,
    rows: Vec<Row>,
    unchecked: bool,
}

impl Output {
    pub fn new() -> Self {
        Self::default()
    }

    /// An output with room for `records` verdicts and `rows` rows.
    pub fn with_capacity(records: usize, rows: usize) -> Self {
        Self {
            verdicts: Vec::with_capacity(records),
            rows: Vec::with_capacity(rows),
            unchecked: false,
        }
    }

    /// Pass the next record on unchanged.
    #[inline]
    pub fn keep(&mut self) {
        self.verdicts.push(Verdict::Keep);
    }

    /// Pass the next record on with a new value.
    #[inline]
    pub fn replace(&mut self, value: impl Into<Vec<u8>>) {
        self.verdicts.push(Verdict::Replace(value.into()));
    }

    /// Drop the next record and dead-letter it with `reason`.
    #[inline]
    pub fn reject(&mut self, reason: impl Into<String>) {
        self.verdicts.push(Verdict::Reject(reason.into()));
    }

    /// Push a verdict for the next record.
    #[inline]
    pub fn push(&mut self, verdict: Verdict) {
        self.verdicts.push(verdict);
    }

    /// Emit a row on output number `output` (its index in
    /// [`Transform::outputs`](crate::Transform::outputs)) that belongs to no
    /// record in particular, such as an aggregate.
    #[inline]
    pub fn emit(&mut self, output: u32, values: impl Into<Vec<Value>>) {
        self.rows.push(Row {
            output,
            source: None,
            values: values.into(),
        });
    }

    /// Emit a row on output number `output` that belongs to `record`: the
    /// sink can bind the record's partition and offset with it, and drops it
    /// if a later stage rejects the record.
    #[inline]
    pub fn emit_for(&mut self, record: &Record<'_>, output: u32, values: impl Into<Vec<Value>>) {
        self.rows.push(Row {
            output,
            source: Some(record.index),
            values: values.into(),
        });
    }

    /// Verdicts so far, in record order.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    /// Rows so far.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The collected verdicts and rows.
    pub fn into_batch_output(self) -> BatchOutput {
        BatchOutput {
            verdicts: self.verdicts,
            rows: self.rows,
        }
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
