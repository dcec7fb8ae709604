//! A value bound into a statement.

use chrono::{DateTime, NaiveDateTime};
use sqlx::mysql::MySql;
use sqlx::query_builder::Separated;

/// One bind value. Timestamps are UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Time(NaiveDateTime),
}

impl Cell {
    /// A UTC timestamp from epoch milliseconds; out-of-range values become
    /// NULL (the column constraint then says what is wrong).
    pub fn from_epoch_ms(ms: i64) -> Cell {
        DateTime::from_timestamp_millis(ms).map_or(Cell::Null, |t| Cell::Time(t.naive_utc()))
    }

    /// Roughly how many bytes this value adds to a statement.
    pub fn wire_size(&self) -> usize {
        match self {
            Cell::Null => 4,
            Cell::Int(_) | Cell::Float(_) => 8,
            Cell::Text(s) => s.len() + 4,
            Cell::Bytes(b) => b.len() + 4,
            Cell::Time(_) => 12,
        }
    }

    /// Binds the value by reference: statements borrow the batch.
    pub(crate) fn push_bind<'a>(&'a self, separated: &mut Separated<'_, 'a, MySql, &'static str>) {
        match self {
            Cell::Null => separated.push_bind(None::<i64>),
            Cell::Int(v) => separated.push_bind(*v),
            Cell::Float(v) => separated.push_bind(*v),
            Cell::Text(v) => separated.push_bind(v.as_str()),
            Cell::Bytes(v) => separated.push_bind(v.as_slice()),
            Cell::Time(v) => separated.push_bind(*v),
        };
    }
}
