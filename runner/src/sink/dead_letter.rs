//! A dead letter: a record that could not be processed, the row it becomes
//! in the dead-letter table, and that table as the outbox of the dead-letter
//! topic (`to_publish` names the topic a row's copy still has to reach).

use sqlx::MySqlPool;

use super::cell::Cell;
use crate::config::SqlIdent;

/// The columns Sluice writes in the dead-letter table, in bind order.
pub(super) const COLUMNS: [&str; 10] = [
    "pipeline",
    "stage",
    "reason",
    "topic",
    "kafka_partition",
    "kafka_offset",
    "record_key",
    "record_value",
    "to_publish",
    "module_sha256",
];

/// A record that could not be processed, with what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub stage: String,
    pub reason: String,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// The content hash of the module that rejected the record (or emitted
    /// the row the database refused), hex.
    pub module_sha256: Option<String>,
}

impl DeadLetter {
    /// The row for [`COLUMNS`], for a record of `pipeline`'s `topic` and
    /// `partition`, still to be published to `to_publish` if that is set.
    pub(super) fn row(&self, pipeline: &str, topic: &str, partition: i32, to_publish: Option<&str>) -> Vec<Cell> {
        vec![
            Cell::Text(pipeline.to_string()),
            Cell::Text(self.stage.clone()),
            Cell::Text(self.reason.clone()),
            Cell::Text(topic.to_string()),
            Cell::Int(i64::from(partition)),
            Cell::Int(self.offset),
            self.key.clone().map_or(Cell::Null, Cell::Bytes),
            self.value.clone().map_or(Cell::Null, Cell::Bytes),
            to_publish.map_or(Cell::Null, |t| Cell::Text(t.to_string())),
            self.module_sha256.clone().map_or(Cell::Null, Cell::Text),
        ]
    }
}

/// The first `limit` dead letters of one partition whose copy has not been
/// delivered to a dead-letter topic yet, in offset order (whatever topic
/// they were meant for: they go to the one configured now).
pub async fn unpublished(
    pool: &MySqlPool,
    table: &SqlIdent,
    pipeline: &str,
    topic: &str,
    partition: i32,
    limit: u32,
) -> Result<Vec<DeadLetter>, sqlx::Error> {
    type Row = (String, String, i64, Option<Vec<u8>>, Option<Vec<u8>>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT stage, reason, kafka_offset, record_key, record_value, module_sha256 FROM {} \
         WHERE pipeline = ? AND topic = ? AND kafka_partition = ? AND to_publish IS NOT NULL \
         ORDER BY kafka_offset LIMIT ?",
        table.quoted()
    ))
    .bind(pipeline)
    .bind(topic)
    .bind(partition)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(stage, reason, offset, key, value, module_sha256)| DeadLetter {
            stage,
            reason,
            offset,
            key,
            value,
            module_sha256,
        })
        .collect())
}

/// Marks the dead letters at `offsets` of one partition as published.
pub async fn mark_published(
    pool: &MySqlPool,
    table: &SqlIdent,
    pipeline: &str,
    topic: &str,
    partition: i32,
    offsets: &[i64],
) -> Result<(), sqlx::Error> {
    for chunk in offsets.chunks(1_000) {
        let mut query = sqlx::QueryBuilder::<sqlx::MySql>::new(format!(
            "UPDATE {} SET to_publish = NULL WHERE pipeline = ",
            table.quoted()
        ));
        query.push_bind(pipeline).push(" AND topic = ").push_bind(topic);
        query.push(" AND kafka_partition = ").push_bind(partition).push(" AND kafka_offset IN (");
        let mut list = query.separated(", ");
        for offset in chunk {
            list.push_bind(*offset);
        }
        query.push(")");
        query.build().execute(pool).await?;
    }
    Ok(())
}
