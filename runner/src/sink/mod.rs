//! The MySQL sink: one transaction per batch holding the batch's rows, its
//! accumulated statistics, its dead letters and the partition's next offset.
//!
//! - [`plan`]: how a side output's rows map onto a table (checked against
//!   what the stages declare and what the table has).
//! - [`write`]: the transaction, with multi-row statements chunked under the
//!   placeholder and packet limits.
//! - [`dead_letter`]: a dead letter, its row in the dead-letter table, and
//!   that table as the dead-letter topic's outbox.
//! - [`offsets`]: the stored offsets and the conditional update that fences a
//!   consumer which lost its partition.
//! - [`retry`]: what a database error means: retry, split out refused rows,
//!   or wait for an operator.
//! - [`inspect`]: row and dead-letter counts, for `sluice status`.

mod cell;
mod dead_letter;
mod inspect;
mod offsets;
mod plan;
mod retry;
mod write;

pub use cell::Cell;
pub use dead_letter::{DeadLetter, mark_published, unpublished};
pub use inspect::{count_dead_letters, count_rows, dead_letter_reasons};
pub use offsets::{load_offset, load_offsets};
pub use plan::{Binding, OutputColumns, RowSource, TablePlan, plan_tables, verify_tables};
pub use retry::{ErrorClass, any_transient, classify, is_transient};
pub use write::{BatchTx, BatchWrite, Refused, TableRows, write_batch};

use sqlx::MySqlPool;

/// What the database said to a batch write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The stored offset was not the one this writer expected: another
    /// consumer owns (or owned) the partition. Nothing was written.
    #[error("offset fence: partition {partition} has stored next offset {stored:?}, this writer expected {expected:?}")]
    Fenced { partition: i32, stored: Option<i64>, expected: Option<i64> },
    /// A statement writing rows into `table` (the plan `plan`) failed.
    #[error("database error writing {table}: {source}")]
    Rows { table: String, plan: usize, source: sqlx::Error },
    /// The database did not answer one step of the write in time (a hung
    /// connection, a lock held elsewhere, a server that stopped answering).
    #[error("the database did not answer within {0:?}; the connection is closed and the batch will be written again")]
    TimedOut(std::time::Duration),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl SinkError {
    /// What the error means for the batch ([`classify`]); refused values
    /// count as [`ErrorClass::BadRow`] only in statements that write rows.
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkError::Fenced { .. } => ErrorClass::Operator,
            SinkError::TimedOut(_) => ErrorClass::Transient,
            SinkError::Rows { source, .. } => classify(source),
            SinkError::Database(e) => match classify(e) {
                ErrorClass::BadRow => ErrorClass::Operator,
                class => class,
            },
        }
    }
}

/// The server's `max_allowed_packet`, which bounds one statement.
pub async fn max_packet(pool: &MySqlPool) -> Result<usize, sqlx::Error> {
    let bytes: i64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)").fetch_one(pool).await?;
    Ok(usize::try_from(bytes).unwrap_or(1 << 20))
}
