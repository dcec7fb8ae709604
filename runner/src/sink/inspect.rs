//! What `sluice status` reads back from the tables a pipeline writes.

use sqlx::MySqlPool;

use crate::config::SqlIdent;

/// The rows in `table`.
pub async fn count_rows(pool: &MySqlPool, table: &SqlIdent) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", table.quoted())).fetch_one(pool).await
}

/// The dead letters of `pipeline` in `table`.
pub async fn count_dead_letters(pool: &MySqlPool, table: &SqlIdent, pipeline: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {} WHERE pipeline = ?", table.quoted()))
        .bind(pipeline)
        .fetch_one(pool)
        .await
}

/// `pipeline`'s dead letters in `table` counted by stage and the first 60
/// characters of the reason, most frequent first, at most `limit` of them.
pub async fn dead_letter_reasons(
    pool: &MySqlPool,
    table: &SqlIdent,
    pipeline: &str,
    limit: u32,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT CAST(stage AS CHAR), CAST(LEFT(reason, 60) AS CHAR) AS r, COUNT(*) AS n FROM {} \
         WHERE pipeline = ? GROUP BY 1, 2 ORDER BY n DESC LIMIT ?",
        table.quoted()
    ))
    .bind(pipeline)
    .bind(limit)
    .fetch_all(pool)
    .await
}
