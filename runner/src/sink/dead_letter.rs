//! A dead letter: a record that could not be processed, and the row it
//! becomes in the dead-letter table.

use super::cell::Cell;

/// The columns Sluice writes in the dead-letter table, in bind order.
pub(super) const COLUMNS: [&str; 8] =
    ["pipeline", "stage", "reason", "topic", "kafka_partition", "kafka_offset", "record_key", "record_value"];

/// A record that could not be processed, with what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub stage: String,
    pub reason: String,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

impl DeadLetter {
    /// The row for [`COLUMNS`], for a record of `pipeline`'s `topic` and `partition`.
    pub(super) fn row(&self, pipeline: &str, topic: &str, partition: i32) -> Vec<Cell> {
        vec![
            Cell::Text(pipeline.to_string()),
            Cell::Text(self.stage.clone()),
            Cell::Text(self.reason.clone()),
            Cell::Text(topic.to_string()),
            Cell::Int(i64::from(partition)),
            Cell::Int(self.offset),
            self.key.clone().map_or(Cell::Null, Cell::Bytes),
            self.value.clone().map_or(Cell::Null, Cell::Bytes),
        ]
    }
}
