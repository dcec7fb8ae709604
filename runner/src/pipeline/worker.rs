//! One partition's worker: batch → transform chain → one MySQL transaction →
//! Kafka commit, with the retry policy for each way that can fail.
//!
//! | failure                                   | what happens                         |
//! |-------------------------------------------|--------------------------------------|
//! | a record is rejected, or traps alone      | dead letter, in the batch's transaction |
//! | a stage is broken (fails on most records, | the partition waits and retries the  |
//! | or errors for the whole batch)            | same batch with backoff              |
//! | the database fails                        | the same batch is retried with backoff, forever |
//! | the offset fence says another consumer    | the batch is dropped and the worker  |
//! | wrote                                     | resumes from the stored offset       |
//! | the partition is revoked / shutdown       | the batch in hand finishes, or is    |
//! |                                           | abandoned unwritten while it waits   |

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Prepared;
use super::rows;
use crate::config::Pipeline;
use crate::kafka::{BatchLimits, Cursor, DeadLetterTopic, PartitionControl, Routed, next_batch};
use crate::sink::{self, SinkError};
use crate::transform::{Batch, Chain, ChainOutput, ChainSpec};

/// What every worker of a pipeline shares.
pub struct Shared {
    pub pipeline: Pipeline,
    pub prepared: Prepared,
    pub topic: String,
    pub runtime: tokio::runtime::Handle,
    spec: ChainSpec,
    limits: BatchLimits,
    max_backoff: Duration,
    dead_letter_topic: Option<DeadLetterTopic>,
}

impl Shared {
    pub fn new(pipeline: Pipeline, prepared: Prepared) -> anyhow::Result<Shared> {
        let source = &pipeline.config.source;
        let dead_letter_topic = match &pipeline.config.dead_letter.topic {
            Some(topic) => Some(DeadLetterTopic::new(source, topic.as_str())?),
            None => None,
        };
        let limits = BatchLimits {
            max_records: source.max_records.as_usize(),
            max_bytes: source.max_bytes.as_usize(),
            max_wait: Duration::from_millis(source.max_wait_ms.get()),
        };
        Ok(Shared {
            topic: source.topic.as_str().to_string(),
            spec: ChainSpec::from_pipeline(&pipeline),
            max_backoff: Duration::from_millis(pipeline.config.sink.max_retry_backoff_ms.get()),
            limits,
            runtime: tokio::runtime::Handle::current(),
            dead_letter_topic,
            pipeline,
            prepared,
        })
    }
}

/// Exponential backoff from 200 ms to the configured maximum.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Backoff {
        Backoff { next: Duration::from_millis(200), max }
    }

    /// Waits; `false` if the partition was stopped meanwhile.
    async fn wait(&mut self, control: &PartitionControl) -> bool {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            () = control.stop.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}

pub async fn run(
    shared: Arc<Shared>,
    partition: i32,
    stored: Option<i64>,
    mut records: mpsc::Receiver<Routed>,
    control: PartitionControl,
) {
    let Some(mut chain) = load_chain(&shared, partition, &control).await else {
        return;
    };
    let mut expected = stored;
    let mut cursor = Cursor { epoch: 0, position: stored };
    loop {
        let batch_records = next_batch(&mut records, shared.limits, &mut cursor, &control.stop).await;
        let Some(first) = batch_records.first().map(|r| r.offset) else {
            return; // stopped, or revoked
        };
        let batch = Arc::new(Batch { topic: shared.topic.clone(), partition, records: batch_records });
        let started = std::time::Instant::now();
        let Some((output, returned)) = transform(&shared, chain, &batch, &control).await else {
            return;
        };
        let transformed = started.elapsed();
        chain = returned;
        let write = rows::batch_write(
            shared.pipeline.config.name.as_str(),
            &shared.topic,
            &shared.prepared.plans,
            &batch,
            expected,
            &output,
        );
        let mut backoff = Backoff::new(shared.max_backoff);
        loop {
            let p = &shared.prepared;
            match sink::write_batch(&p.pool, &p.plans, &shared.pipeline.config.dead_letter.table, p.max_packet, &write)
                .await
            {
                Ok(()) => {
                    expected = Some(write.next);
                    control.committed(write.next);
                    if let Some(dlq) = &shared.dead_letter_topic
                        && !write.dead_letters.is_empty()
                    {
                        dlq.publish(&shared.topic, partition, &write.dead_letters).await;
                    }
                    tracing::debug!(
                        partition,
                        records = batch.records.len(),
                        next = write.next,
                        transform_ms = transformed.as_secs_f64() * 1e3,
                        write_ms = (started.elapsed() - transformed).as_secs_f64() * 1e3,
                        "batch written"
                    );
                    break;
                }
                Err(SinkError::Fenced { stored, .. }) => {
                    // Someone else wrote this partition since we read its
                    // offset, or this very batch did and the reply to its
                    // COMMIT was lost with the connection. Either way the
                    // stored offset is the truth: continue from it.
                    let resume = stored.unwrap_or(first);
                    tracing::warn!(
                        partition,
                        ?stored,
                        resume,
                        "offset fence: the stored offset moved; resuming from it"
                    );
                    expected = stored;
                    control.seek(&mut cursor, resume);
                    break;
                }
                Err(e) => {
                    if e.is_transient() {
                        tracing::warn!(partition, error = %e, "database write failed; retrying the batch");
                    } else {
                        tracing::error!(partition, error = %e, "database refused the batch; retrying it until the database is fixed");
                    }
                    if !backoff.wait(&control).await {
                        return; // revoked or shutting down: nothing was written
                    }
                }
            }
        }
    }
}

/// Loads this worker's own instances of the stages, retrying while that
/// fails (a module replaced by a broken one, say).
async fn load_chain(shared: &Arc<Shared>, partition: i32, control: &PartitionControl) -> Option<Chain> {
    let mut backoff = Backoff::new(shared.max_backoff);
    loop {
        let engine = shared.prepared.engine.clone();
        let spec = shared.spec.clone();
        match tokio::task::spawn_blocking(move || Chain::load(&engine, &spec)).await {
            Ok(Ok(chain)) => return Some(chain),
            Ok(Err(e)) => tracing::error!(partition, error = %e, "loading the transforms failed; retrying"),
            Err(e) => tracing::error!(partition, error = %e, "loading the transforms panicked; retrying"),
        }
        if !backoff.wait(control).await {
            return None;
        }
    }
}

/// Runs the chain over the batch on a blocking thread, picking up replaced
/// modules first. A broken deploy pauses the partition and retries the same
/// batch with backoff. `None` when stopped meanwhile.
async fn transform(
    shared: &Arc<Shared>,
    mut chain: Chain,
    batch: &Arc<Batch>,
    control: &PartitionControl,
) -> Option<(ChainOutput, Chain)> {
    let mut backoff = Backoff::new(shared.max_backoff);
    loop {
        let engine = shared.prepared.engine.clone();
        let input = Arc::clone(batch);
        let joined = tokio::task::spawn_blocking(move || {
            chain.reload_changed(&engine);
            let result = chain.run(&input);
            (result, chain)
        })
        .await;
        match joined {
            Ok((Ok(output), returned)) => return Some((output, returned)),
            Ok((Err(failure), returned)) => {
                chain = returned;
                tracing::error!(partition = batch.partition, error = %failure, "stage broken: pausing the partition and retrying the batch");
            }
            Err(e) => {
                tracing::error!(partition = batch.partition, error = %e, "the transform thread panicked; reloading the stages");
                chain = load_chain(shared, batch.partition, control).await?;
            }
        }
        if !backoff.wait(control).await {
            return None;
        }
    }
}
