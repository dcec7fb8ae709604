//! What a stage answers: its declared side outputs (at init) and, per call,
//! a verdict per record plus typed rows. Host-side mirrors of the WIT types,
//! so that nothing outside this facade depends on the generated bindings.

use std::fmt;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDecl {
    pub name: String,
    pub columns: Vec<Column>,
}

/// A typed value in a side-output row.
#[derive(Debug, Clone, PartialEq)]
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

impl fmt::Display for Value {
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
    /// Pass it on with this value.
    Replace(Vec<u8>),
    /// Drop it and dead-letter it with this reason.
    Reject(String),
}

/// One side-output row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Index into the stage's [`OutputDecl`]s.
    pub output: usize,
    /// Index of the input record (in the batch given to the call) this row
    /// belongs to, if any.
    pub source: Option<usize>,
    pub values: Vec<Value>,
}

/// The checked answer to one `process` call: exactly one verdict per input
/// record, and rows that match the declared outputs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StageOutput {
    pub verdicts: Vec<Verdict>,
    pub rows: Vec<Row>,
}
