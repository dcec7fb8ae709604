//! What a stage answers: its declared side outputs (at init) and, per call,
//! a verdict per record plus typed rows. Host-side types, so that nothing
//! outside this facade depends on the generated bindings. Rows stay in the
//! column form they crossed the boundary in ([`RowSet`]); a [`RowRef`]
//! reads one row of it, [`Value`] one cell.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

/// The kind of a side-output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    Int,
    Float,
    Text,
    Bytes,
    /// Milliseconds since the Unix epoch, UTC.
    TimestampMs,
}

impl ColumnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Int => "int",
            ColumnKind::Float => "float",
            ColumnKind::Text => "text",
            ColumnKind::Bytes => "bytes",
            ColumnKind::TimestampMs => "timestamp-ms",
        }
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One column of a side output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
}

/// A side output a stage declared at init, such as `study_log` or `stats`.
/// Shared, not copied, by every batch's [`OutputRows`](super::OutputRows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDecl {
    pub name: Arc<str>,
    pub columns: Arc<[Column]>,
}

/// A typed value in a side-output row, borrowed from its [`RowSet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
    /// Milliseconds since the Unix epoch, UTC.
    TimestampMs(i64),
}

impl Value<'_> {
    /// The column kind this value fits; `None` for `Null`, which fits any
    /// nullable column.
    pub fn kind(&self) -> Option<ColumnKind> {
        match self {
            Value::Null => None,
            Value::Int(_) => Some(ColumnKind::Int),
            Value::Float(_) => Some(ColumnKind::Float),
            Value::Text(_) => Some(ColumnKind::Text),
            Value::Bytes(_) => Some(ColumnKind::Bytes),
            Value::TimestampMs(_) => Some(ColumnKind::TimestampMs),
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Human form for `sluice try` and logs: text quoted, bytes in hex,
    /// timestamps in RFC 3339 UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "0x{}", hex::encode(v)),
            Value::TimestampMs(ms) => match chrono::DateTime::from_timestamp_millis(*ms) {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ")),
                None => write!(f, "{ms}ms"),
            },
        }
    }
}

/// What a stage decided for one input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Pass it on unchanged.
    Keep,
    /// Pass it on with this value (a slice of the call's shared buffer of
    /// new values: no copy per record).
    Replace(Bytes),
    /// Drop it and dead-letter it with this reason.
    Reject(String),
    /// Drop it without a dead letter (filtered out).
    Drop,
}

/// The values of one column of a [`RowSet`], checked: one per row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ColumnData {
    Int(Vec<i64>),
    Float(Vec<f64>),
    /// Row `r`'s text is `data[span(ends, r)]`, on char boundaries.
    Text {
        data: String,
        ends: Vec<u32>,
    },
    Bytes {
        data: Vec<u8>,
        ends: Vec<u32>,
    },
    TimestampMs(Vec<i64>),
}

impl ColumnData {
    fn get(&self, row: usize) -> Value<'_> {
        match self {
            ColumnData::Int(v) => Value::Int(v[row]),
            ColumnData::Float(v) => Value::Float(v[row]),
            ColumnData::TimestampMs(v) => Value::TimestampMs(v[row]),
            ColumnData::Text { data, ends } => Value::Text(&data[span(ends, row)]),
            ColumnData::Bytes { data, ends } => Value::Bytes(&data[span(ends, row)]),
        }
    }
}

/// The `i`-th piece of a buffer cut at `ends` (the running sums of the
/// pieces' lengths, checked to end within the buffer).
fn span(ends: &[u32], i: usize) -> Range<usize> {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    start as usize..ends[i] as usize
}

/// Rows of one side output from one call, column by column, as they came
/// across the boundary; checked against the output's declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSet {
    pub(crate) output: usize,
    pub(crate) count: usize,
    /// Empty (aggregates) or one source record per row.
    pub(crate) sources: Vec<u32>,
    pub(crate) columns: Vec<ColumnData>,
    /// (column, row) of each null, sorted.
    pub(crate) nulls: Vec<(u32, u32)>,
    /// Empty, or per row whether it was dropped (its record was rejected
    /// by a later stage).
    pub(crate) dropped: Vec<bool>,
}

impl RowSet {
    /// Index of the output in the stage's declared outputs.
    pub fn output(&self) -> usize {
        self.output
    }

    /// Rows that were not dropped.
    pub fn rows(&self) -> impl Iterator<Item = RowRef<'_>> {
        (0..self.count).filter(|&r| !self.dropped.get(r).copied().unwrap_or(false)).map(|row| RowRef { set: self, row })
    }

    /// Number of rows that were not dropped.
    pub fn len(&self) -> usize {
        self.count - self.dropped.iter().filter(|d| **d).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every row whose source record `drop` picks.
    pub(crate) fn drop_rows(&mut self, drop: impl Fn(usize) -> bool) {
        if self.sources.iter().any(|&s| drop(s as usize)) {
            self.dropped = self.sources.iter().map(|&s| drop(s as usize)).collect();
        }
    }
}

/// One row of a [`RowSet`].
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    set: &'a RowSet,
    row: usize,
}

impl<'a> RowRef<'a> {
    /// Index of the output in the stage's declared outputs.
    pub fn output(&self) -> usize {
        self.set.output
    }

    /// Index of the input record this row belongs to, if any.
    pub fn source(&self) -> Option<usize> {
        self.set.sources.get(self.row).map(|&s| s as usize)
    }

    /// The value in column `column` (declaration order).
    pub fn value(&self, column: usize) -> Value<'a> {
        let set = self.set;
        if !set.nulls.is_empty() && set.nulls.binary_search(&(column as u32, self.row as u32)).is_ok() {
            return Value::Null;
        }
        set.columns[column].get(self.row)
    }

    /// The row's values in column order.
    pub fn values(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let row = *self;
        (0..self.set.columns.len()).map(move |c| row.value(c))
    }
}

/// What a stage decided for one record, without the payload (see
/// [`Answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Keep,
    Replace,
    Reject,
    Drop,
}

/// A checked answer to one call in the form it crossed in: a decision per
/// record, the new values in one shared buffer, the reasons, the row sets.
/// The chain reads it as it is; [`StageOutput`] gives each verdict its
/// payload.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub decisions: Vec<Decision>,
    /// The new values of the `Replace` decisions, in order, concatenated.
    pub replacements: Bytes,
    /// The `k`-th replacement is `replacements[span(ends, k)]`.
    pub ends: Vec<u32>,
    /// The reasons of the `Reject` decisions, in order.
    pub reasons: Vec<String>,
    pub rows: Vec<RowSet>,
}

/// One record's decision with its payload: a new value as its range in
/// [`Answer::replacements`], a reject with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Keep,
    Replace(Range<u32>),
    Reject(String),
    Drop,
}

impl Answer {
    /// The decisions with their payloads, in record order; leaves the
    /// replacements buffer and the rows in place.
    pub(crate) fn take_outcomes(&mut self) -> impl Iterator<Item = Outcome> + use<> {
        let ends = std::mem::take(&mut self.ends);
        let mut reasons = std::mem::take(&mut self.reasons).into_iter();
        let mut replaced = 0;
        std::mem::take(&mut self.decisions).into_iter().map(move |d| match d {
            Decision::Keep => Outcome::Keep,
            Decision::Replace => {
                replaced += 1;
                let r = span(&ends, replaced - 1);
                Outcome::Replace(r.start as u32..r.end as u32)
            }
            Decision::Reject => Outcome::Reject(reasons.next().unwrap_or_default()),
            Decision::Drop => Outcome::Drop,
        })
    }
}

impl From<Answer> for StageOutput {
    fn from(mut answer: Answer) -> StageOutput {
        let verdicts = answer
            .take_outcomes()
            .map(|o| match o {
                Outcome::Keep => Verdict::Keep,
                Outcome::Replace(r) => Verdict::Replace(answer.replacements.slice(r.start as usize..r.end as usize)),
                Outcome::Reject(reason) => Verdict::Reject(reason),
                Outcome::Drop => Verdict::Drop,
            })
            .collect();
        StageOutput { verdicts, rows: answer.rows }
    }
}

/// The checked answer to one `process` call: exactly one verdict per input
/// record, and row sets that match the declared outputs. Sources index the
/// batch given to the call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageOutput {
    pub verdicts: Vec<Verdict>,
    pub rows: Vec<RowSet>,
}

impl StageOutput {
    /// Rows of every set, in order.
    pub fn all_rows(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.rows.iter().flat_map(RowSet::rows)
    }
}
