//! The offsets table: the next offset of each partition, the source of truth
//! for where a partition resumes.

use std::collections::HashMap;

use sqlx::{MySqlConnection, MySqlPool};

use super::SinkError;

/// MySQL's ER_DUP_ENTRY.
const DUPLICATE_KEY: u16 = 1062;

/// The stored next offset of one partition, if any.
pub async fn load_offset(
    pool: &MySqlPool,
    pipeline: &str,
    topic: &str,
    partition: i32,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT next_offset FROM sluice_offsets WHERE pipeline = ? AND topic = ? AND kafka_partition = ?",
    )
    .bind(pipeline)
    .bind(topic)
    .bind(partition)
    .fetch_optional(pool)
    .await
}

/// The stored next offsets of a topic's partitions.
pub async fn load_offsets(pool: &MySqlPool, pipeline: &str, topic: &str) -> Result<HashMap<i32, i64>, sqlx::Error> {
    let rows: Vec<(i32, i64)> =
        sqlx::query_as("SELECT kafka_partition, next_offset FROM sluice_offsets WHERE pipeline = ? AND topic = ?")
            .bind(pipeline)
            .bind(topic)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Moves the partition's next offset from `expected` to `next`, or fails with
/// [`SinkError::Fenced`] when the stored value is not `expected`. Runs first in
/// the batch's transaction, so the row lock also orders concurrent writers.
pub(super) async fn advance(
    tx: &mut MySqlConnection,
    pipeline: &str,
    topic: &str,
    partition: i32,
    expected: Option<i64>,
    next: i64,
) -> Result<(), SinkError> {
    let fenced = |stored| SinkError::Fenced { partition, stored, expected };
    match expected {
        Some(expected_offset) => {
            // One statement: it moves the offset only from the value this
            // writer read, and its row lock orders concurrent writers.
            let moved = sqlx::query(
                "UPDATE sluice_offsets SET next_offset = ? \
                 WHERE pipeline = ? AND topic = ? AND kafka_partition = ? AND next_offset = ?",
            )
            .bind(next)
            .bind(pipeline)
            .bind(topic)
            .bind(partition)
            .bind(expected_offset)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() != 1 {
                // Fenced out: say what the stored offset is instead (a
                // locking read: the latest committed value, not a snapshot).
                let stored = sqlx::query_scalar(
                    "SELECT next_offset FROM sluice_offsets \
                     WHERE pipeline = ? AND topic = ? AND kafka_partition = ? FOR UPDATE",
                )
                .bind(pipeline)
                .bind(topic)
                .bind(partition)
                .fetch_optional(&mut *tx)
                .await?;
                return Err(fenced(stored));
            }
        }
        None => {
            let inserted = sqlx::query(
                "INSERT INTO sluice_offsets (pipeline, topic, kafka_partition, next_offset) VALUES (?, ?, ?, ?)",
            )
            .bind(pipeline)
            .bind(topic)
            .bind(partition)
            .bind(next)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                // A row is already there: someone else wrote first.
                Err(e) if super::retry::error_number(&e) == Some(DUPLICATE_KEY) => {
                    let stored = sqlx::query_scalar(
                        "SELECT next_offset FROM sluice_offsets WHERE pipeline = ? AND topic = ? AND kafka_partition = ?",
                    )
                    .bind(pipeline)
                    .bind(topic)
                    .bind(partition)
                    .fetch_optional(&mut *tx)
                    .await?;
                    return Err(fenced(stored));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
