//! `sluice run`: the source, the transform chain and the sink wired together.
//!
//! - [`worker`]: one task per assigned partition: batch, transform, write,
//!   retry; the only place that decides what happens to a batch.
//! - [`rows`]: turns the chain's answer into the sink's batch write.
//! - [`split`]: rows the database refuses, found by writing the batch again
//!   in parts; their records become dead letters, the rest commits.
//! - [`outbox`]: a partition's publisher of dead letters to the dead-letter
//!   topic, off the batch path, from the dead-letter table.
//! - [`setup`]: what `run` and `check` share: loading the chain, planning the
//!   tables against what the stages declare, checking the database.

mod outbox;
mod rows;
mod setup;
mod split;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use setup::{Prepared, Schema, prepare};

use crate::config::Pipeline;
use crate::kafka::{PartitionControl, Partitions, Routed, Source};

/// Runs the pipeline until `shutdown` is cancelled, then finishes the batches
/// in hand, commits them and returns.
pub async fn run(pipeline: Pipeline, shutdown: CancellationToken) -> anyhow::Result<()> {
    let prepared = prepare(&pipeline, Schema::Migrate, &shutdown).await?;
    let Some(prepared) = prepared else {
        return Ok(()); // shut down while waiting for the database
    };
    let source_config = &pipeline.config.source;
    let queue_records = source_config.max_records.as_usize() * source_config.max_pending_batches.as_usize();
    let shared = Arc::new(worker::Shared::new(pipeline, prepared)?);
    let source = Source::start(&shared.pipeline.config.source, shared.clone(), queue_records, shutdown.clone())
        .context("starting the Kafka source")?;
    tracing::info!(
        pipeline = shared.pipeline.config.name.as_str(),
        topic = shared.topic.as_str(),
        group = shared.pipeline.config.source.group_id.as_str(),
        "running"
    );
    shutdown.cancelled().await;
    tracing::info!("shutting down: finishing the batches in hand");
    tokio::task::spawn_blocking(move || source.join()).await.context("joining the source")??;
    tracing::info!("stopped");
    Ok(())
}

impl Partitions for worker::Shared {
    fn stored_offsets(&self, partitions: &[i32]) -> anyhow::Result<HashMap<i32, i64>> {
        // Called from the rebalance callback, on the poller thread.
        let all = self.runtime.block_on(crate::sink::load_offsets(
            &self.prepared.pool,
            self.pipeline.config.name.as_str(),
            &self.topic,
        ))?;
        Ok(all.into_iter().filter(|(p, _)| partitions.contains(p)).collect())
    }

    fn start(
        self: Arc<Self>,
        partition: i32,
        stored: Option<i64>,
        records: mpsc::Receiver<Routed>,
        control: PartitionControl,
    ) -> JoinHandle<()> {
        self.runtime.spawn(worker::run(self.clone(), partition, stored, records, control))
    }
}
