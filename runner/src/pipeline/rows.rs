//! From the chain's answer to the sink's batch write.

use crate::sink::{BatchWrite, Cell, DeadLetter, RowSource, TablePlan, TableRows};
use crate::transform::{Batch, ChainOutput, RecordOutcome, Value};

/// A side-output value as a bind value.
fn cell(value: Value<'_>) -> Cell {
    match value {
        Value::Null => Cell::Null,
        Value::Int(v) => Cell::Int(v),
        Value::Float(v) => Cell::Float(v),
        Value::Text(v) => Cell::Text(v.to_string()),
        Value::Bytes(v) => Cell::Bytes(v.to_vec()),
        Value::TimestampMs(ms) => Cell::from_epoch_ms(ms),
    }
}

/// Everything `output` says about `batch`, as one write: rows for each
/// planned table, a dead letter for each rejected record, and the
/// partition's next offset, for `pipeline`'s partition of `topic`.
pub(super) fn batch_write<'a>(
    pipeline: &'a str,
    topic: &'a str,
    plans: &[TablePlan],
    batch: &Batch,
    expected: Option<i64>,
    output: &ChainOutput,
    dead_letter_topic: Option<&'a str>,
) -> BatchWrite<'a> {
    let mut dead_letters = Vec::new();
    for (record, outcome) in batch.records.iter().zip(&output.records) {
        if let RecordOutcome::Rejected(rejection) = outcome {
            dead_letters.push(DeadLetter {
                stage: rejection.stage.to_string(),
                reason: rejection.reason.clone(),
                offset: record.offset,
                key: record.key.clone(),
                value: Some(record.value.clone()),
                module_sha256: output.stages.get(rejection.stage_index).map(|s| s.module_sha256.clone()),
            });
        }
    }
    let mut tables = Vec::new();
    for (index, plan) in plans.iter().enumerate() {
        let Some(rows) = output.output(&plan.stage, &plan.output) else {
            continue;
        };
        let mut bound = Vec::with_capacity(rows.len());
        // Rows of records that a later stage rejected are already left out.
        for row in rows.rows() {
            let source = row.source().and_then(|i| batch.records.get(i)).map(|r| RowSource {
                topic: &batch.topic,
                partition: batch.partition,
                offset: r.offset,
                key: r.key.as_deref(),
                timestamp: r.timestamp,
            });
            let values: Vec<Cell> = row.values().map(cell).collect();
            match plan.bind(&values, source) {
                Ok(cells) => bound.push(cells),
                Err(e) => {
                    tracing::error!(table = %plan.table, error = %e, "row dropped: it does not fit the table plan")
                }
            }
        }
        if !bound.is_empty() {
            tables.push(TableRows { plan: index, rows: bound });
        }
    }
    let next = batch.records.last().map_or(expected.unwrap_or(0), |r| r.offset + 1);
    BatchWrite { pipeline, topic, partition: batch.partition, expected, next, tables, dead_letters, dead_letter_topic }
}
