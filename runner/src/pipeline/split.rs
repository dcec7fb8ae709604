//! Rows the database refuses, found by splitting the batch.
//!
//! When a batch's write fails because the server refused a value of some row
//! (too long, out of range, a bad date, a duplicate key: [`ErrorClass::BadRow`]),
//! the batch is written again, in one transaction, in parts. Each part's
//! records go through the chain again, so a stage's aggregate rows cover only
//! that part (accumulating tables add the parts up to the same totals), and
//! each part's rows go in a savepoint. A part the server refuses is rolled
//! back and split in two, down to single records; a single record whose rows
//! are refused becomes a dead letter, with the server's error as the reason
//! and the stage that emitted the refused row. The offset moves once for the
//! whole batch, and the rest of the batch commits in that same transaction.
//!
//! [`ErrorClass::BadRow`]: crate::sink::ErrorClass::BadRow

use std::ops::Range;

use super::rows;
use super::worker::Shared;
use crate::sink::{BatchTx, BatchWrite, DeadLetter, SinkError};
use crate::transform::{Batch, Chain, ChainOutput};

/// Why a split write did not land.
#[derive(Debug, thiserror::Error)]
pub(super) enum SplitError {
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("the transforms failed while the batch was split: {0}")]
    Transform(String),
}

/// Writes `batch` in parts as described above, moving the offset from
/// `expected` to `next`, and returns every dead letter it wrote (the chain's
/// rejects and the records whose rows the server refused), in offset order,
/// and the rows it wrote.
pub(super) async fn write(
    shared: &Shared,
    batch: &Batch,
    expected: Option<i64>,
    next: i64,
) -> Result<Landed, SplitError> {
    let p = &shared.prepared;
    let pipeline = shared.pipeline.config.name.as_str();
    let mut chain = load(shared).await?;
    let whole = BatchWrite {
        pipeline,
        topic: &shared.topic,
        partition: batch.partition,
        expected,
        next,
        tables: Vec::new(),
        dead_letters: Vec::new(),
        dead_letter_topic: shared.dead_letter_topic_name(),
    };
    let mut tx = BatchTx::begin(&p.pool, &p.plans, p.max_packet, shared.write_timeout, &whole).await?;
    let mut dead_letters = Vec::new();
    let mut rows: Vec<(usize, usize)> = Vec::new();
    let mut parts: Vec<Range<usize>> = Vec::new();
    parts.push(0..batch.records.len());
    while let Some(range) = parts.pop() {
        let part = Batch {
            topic: batch.topic.clone(),
            partition: batch.partition,
            records: batch.records[range.clone()].to_vec(),
        };
        let output;
        (output, chain) = run(chain, part.clone()).await?;
        let write = rows::batch_write(pipeline, &shared.topic, &p.plans, &part, expected, &output, None);
        match tx.try_rows(&write.tables).await? {
            None => {
                dead_letters.extend(write.dead_letters);
                for table in &write.tables {
                    match rows.iter_mut().find(|(plan, _)| *plan == table.plan) {
                        Some((_, n)) => *n += table.rows.len(),
                        None => rows.push((table.plan, table.rows.len())),
                    }
                }
            }
            Some(refused) if range.len() == 1 => {
                let record = &part.records[0];
                let plan = &p.plans[refused.plan];
                tracing::warn!(
                    partition = batch.partition,
                    offset = record.offset,
                    table = %plan.table,
                    error = %refused.error,
                    "the database refused a record's row: dead-lettered"
                );
                dead_letters.push(DeadLetter {
                    stage: plan.stage.clone(),
                    reason: format!("the database refused its row in {}: {}", plan.table, refused.error),
                    offset: record.offset,
                    key: record.key.clone(),
                    value: Some(record.value.clone()),
                    module_sha256: output
                        .stages
                        .iter()
                        .find(|s| *s.stage == *plan.stage)
                        .map(|s| s.module_sha256.clone()),
                });
            }
            Some(_) => {
                // Left half first: parts are written in offset order.
                let middle = range.start + range.len() / 2;
                parts.push(middle..range.end);
                parts.push(range.start..middle);
            }
        }
    }
    tx.dead_letters(&shared.pipeline.config.dead_letter.table, &dead_letters).await?;
    tx.commit().await?;
    Ok(Landed { dead_letters, rows })
}

/// What a split wrote: every dead letter, and (plan, rows) per table.
pub(super) struct Landed {
    pub dead_letters: Vec<DeadLetter>,
    pub rows: Vec<(usize, usize)>,
}

/// A chain of this split's own: the worker's is busy with the next batch.
async fn load(shared: &Shared) -> Result<Chain, SplitError> {
    let engine = shared.prepared.engine.clone();
    let spec = shared.spec.clone();
    match tokio::task::spawn_blocking(move || Chain::load(&engine, &spec)).await {
        Ok(Ok(chain)) => Ok(chain),
        Ok(Err(e)) => Err(SplitError::Transform(e.to_string())),
        Err(e) => Err(SplitError::Transform(e.to_string())),
    }
}

async fn run(mut chain: Chain, part: Batch) -> Result<(ChainOutput, Chain), SplitError> {
    match tokio::task::spawn_blocking(move || (chain.run(&part), chain)).await {
        Ok((Ok(output), chain)) => Ok((output, chain)),
        Ok((Err(failure), _)) => Err(SplitError::Transform(failure.to_string())),
        Err(e) => Err(SplitError::Transform(e.to_string())),
    }
}
