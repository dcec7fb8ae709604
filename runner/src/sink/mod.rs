//! The MySQL sink: one transaction per batch holding the batch's rows, its
//! accumulated statistics, its dead letters and the partition's next offset.
//!
//! - [`plan`]: how a side output's rows map onto a table (checked against
//!   what the stages declare and what the table has).
//! - [`write`]: the transaction, with multi-row statements chunked under the
//!   placeholder and packet limits.
//! - [`dead_letter`]: a dead letter and its row in the dead-letter table.
//! - [`offsets`]: the stored offsets and the conditional update that fences a
//!   consumer which lost its partition.
//! - [`retry`]: which database errors are transient.
//! - [`inspect`]: row and dead-letter counts, for `sluice status`.

mod cell;
mod dead_letter;
mod inspect;
mod offsets;
mod plan;
mod retry;
mod write;

pub use cell::Cell;
pub use dead_letter::DeadLetter;
pub use inspect::{count_dead_letters, count_rows, dead_letter_reasons};
pub use offsets::{load_offset, load_offsets};
pub use plan::{Binding, OutputColumns, RowSource, TablePlan, plan_tables, verify_tables};
pub use retry::is_transient;
pub use write::{BatchWrite, TableRows, write_batch};

use sqlx::MySqlPool;

/// What the database said to a batch write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The stored offset was not the one this writer expected: another
    /// consumer owns (or owned) the partition. Nothing was written.
    #[error("offset fence: partition {partition} has stored next offset {stored:?}, this writer expected {expected:?}")]
    Fenced { partition: i32, stored: Option<i64>, expected: Option<i64> },
    /// A database error; [`is_transient`] tells whether it is worth retrying
    /// as is.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl SinkError {
    /// Deadlocks, lock wait timeouts and lost connections: retry the batch.
    pub fn is_transient(&self) -> bool {
        match self {
            SinkError::Fenced { .. } => false,
            SinkError::Database(e) => is_transient(e),
        }
    }
}

/// The server's `max_allowed_packet`, which bounds one statement.
pub async fn max_packet(pool: &MySqlPool) -> Result<usize, sqlx::Error> {
    let bytes: i64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)").fetch_one(pool).await?;
    Ok(usize::try_from(bytes).unwrap_or(1 << 20))
}
