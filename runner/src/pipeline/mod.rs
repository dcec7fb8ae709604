//! `sluice run`: the source, the transform chain and the sink wired together.
//!
//! - [`worker`]: one task per assigned partition: batch, transform, write,
//!   retry; the only place that decides what happens to a batch.
//! - [`rows`]: turns the chain's answer into the sink's batch write.
//! - [`split`]: rows the database refuses, found by writing the batch again
//!   in parts; their records become dead letters, the rest commits.
//! - [`watcher`]: the module watcher: compiles and tries changed module
//!   files off the batch path; workers swap them in between batches.
//! - [`outbox`]: a partition's publisher of dead letters to the dead-letter
//!   topic, off the batch path, from the dead-letter table.
//! - [`setup`]: what `run` and `check` share: loading the chain, planning the
//!   tables against what the stages declare, checking the database.

mod outbox;
mod rows;
mod setup;
mod split;
mod watcher;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use setup::{Prepared, Schema, prepare};

use crate::config::Pipeline;
use crate::health::Health;
use crate::kafka::{PartitionControl, Partitions, Routed, Source, Watermarks};
use crate::transform::{Chain, ChainSpec, Swaps};

/// Runs the pipeline until `shutdown` is cancelled, then finishes the batches
/// in hand, commits them and returns.
pub async fn run(pipeline: Pipeline, shutdown: CancellationToken) -> anyhow::Result<()> {
    crate::metrics::handle();
    // A worker in one write step for this long is wedged: every step ends
    // within write_timeout_ms.
    let wedge_after = Duration::from_millis(pipeline.config.sink.write_timeout_ms.get()) * 4 + Duration::from_secs(60);
    let health = Health::new(wedge_after);
    crate::http::serve(pipeline.config.http.listen.0, health.clone(), shutdown.clone()).await?;
    match Watermarks::new(&pipeline.config.source) {
        Ok(broker) => health.set_broker(broker),
        Err(e) => tracing::warn!(error = %e, "no Kafka client for the readiness check; /readyz stays false"),
    }
    let prepared = prepare(&pipeline, Schema::Migrate, &shutdown).await?;
    let Some(prepared) = prepared else {
        return Ok(()); // shut down while waiting for the database
    };
    health.set_database(prepared.pool.clone());
    let source_config = &pipeline.config.source;
    let queue_records = source_config.max_records.as_usize() * source_config.max_pending_batches.as_usize();
    let swaps = Arc::new(Swaps::default());
    let watch_stop = CancellationToken::new();
    // The modules are compiled and cached already: instantiating only.
    let watcher_chain = Chain::load(&prepared.engine, &ChainSpec::from_pipeline(&pipeline))
        .context("loading the stages for the module watcher")?;
    let watcher = watcher::Watcher::start(prepared.engine.clone(), watcher_chain, swaps.clone(), watch_stop.clone())
        .context("starting the module watcher")?;
    tokio::spawn(wake_on_hangup(watcher.wake.clone(), shutdown.clone()));
    let shared = Arc::new(worker::Shared::new(pipeline, prepared, health, swaps)?);
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
    watch_stop.cancel();
    tokio::task::spawn_blocking(move || watcher.join()).await.context("joining the module watcher")?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP: look at the module files now.
async fn wake_on_hangup(wake: std::sync::mpsc::Sender<()>, shutdown: CancellationToken) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; module files are still looked at every second");
        return;
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            got = hangups.recv() => {
                if got.is_none() || wake.send(()).is_err() {
                    return;
                }
                tracing::info!("SIGHUP: looking at the module files now");
            }
        }
    }
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
