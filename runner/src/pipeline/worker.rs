//! One partition's worker: batch → transform chain → one MySQL transaction →
//! Kafka commit, with the retry policy for each way that can fail.
//!
//! | failure                                   | what happens                         |
//! |-------------------------------------------|--------------------------------------|
//! | a record is rejected, or traps alone      | dead letter, in the batch's transaction |
//! | the database refuses a value of a row     | the batch is split to find the record; |
//! | (too long, out of range, duplicate key…)  | it is a dead letter, the rest commits |
//! | a stage is broken (fails on most records, | the partition waits and retries the  |
//! | or errors for the whole batch)            | same batch with backoff              |
//! | the database is down, busy or read-only,  | the same batch is retried with backoff, forever |
//! | or refuses the batch for another reason   |                                      |
//! | a step of the write gets no answer within | its connection is closed (the server |
//! | `write_timeout_ms` (a hung link)          | rolls back) and the batch retried    |
//! | the dead-letter topic refuses or is slow  | nothing waits: the outbox task tries |
//! |                                           | again; the batches go on             |
//! | the offset fence says another consumer    | the batch is dropped and the worker  |
//! | wrote                                     | resumes from the stored offset       |
//! | the partition is revoked / shutdown       | the batch in hand finishes, or is    |
//! |                                           | abandoned unwritten while it waits   |

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Prepared;
use super::outbox::Outbox;
use super::rows;
use super::split::{self, SplitError};
use crate::config::Pipeline;
use crate::health::Health;
use crate::kafka::{BatchLimits, Cursor, DeadLetterTopic, PartitionControl, Routed, next_batch};
use crate::metrics::{self, ReasonClass, RetryCause};
use crate::sink::{self, DeadLetter, ErrorClass, SinkError};
use crate::transform::{Batch, Chain, ChainOutput, ChainSpec, RecordOutcome, Swaps};

/// What every worker of a pipeline shares.
pub struct Shared {
    pub pipeline: Pipeline,
    pub prepared: Prepared,
    pub topic: String,
    pub runtime: tokio::runtime::Handle,
    pub(super) spec: ChainSpec,
    limits: BatchLimits,
    pub(super) max_backoff: Duration,
    /// How long one step of a batch's write may wait on the database.
    pub(super) write_timeout: Duration,
    pub(super) dead_letter_topic: Option<DeadLetterTopic>,
    pub(super) health: Arc<Health>,
    /// Modules the watcher swapped in, for each chain's next batch.
    pub(super) swaps: Arc<Swaps>,
}

impl Shared {
    pub(super) fn dead_letter_topic_name(&self) -> Option<&str> {
        self.dead_letter_topic.as_ref().map(DeadLetterTopic::name)
    }

    pub fn new(
        pipeline: Pipeline,
        prepared: Prepared,
        health: Arc<Health>,
        swaps: Arc<Swaps>,
    ) -> anyhow::Result<Shared> {
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
            write_timeout: Duration::from_millis(pipeline.config.sink.write_timeout_ms.get()),
            limits,
            runtime: tokio::runtime::Handle::current(),
            dead_letter_topic,
            pipeline,
            prepared,
            health,
            swaps,
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

/// A batch that went through the chain and waits for its write.
struct Transformed {
    batch: Arc<Batch>,
    output: ChainOutput,
    transform_ms: f64,
    /// How old the batch's first record was when the batch closed (its
    /// Kafka timestamp against the clock).
    age_ms: Option<i64>,
}

/// How a batch's write ended.
enum Written {
    /// Committed: the partition's stored offset is now `next`.
    Committed { next: i64 },
    /// The offset fence refused it: the stored offset is `stored`.
    Fenced { stored: Option<i64> },
    /// The partition was stopped while the write waited to be retried.
    Stopped,
}

/// The partition's loop. While one batch is written, the next one is
/// collected and transformed, so that the database and the transforms work
/// at the same time; the writes themselves stay one after the other, each
/// fenced on the offset the previous one stored.
pub async fn run(
    shared: Arc<Shared>,
    partition: i32,
    stored: Option<i64>,
    records: mpsc::Receiver<Routed>,
    control: PartitionControl,
) {
    shared.health.partition_started(partition);
    let outbox = Outbox::start(&shared, partition);
    run_partition(&shared, partition, stored, records, &control, outbox.as_ref()).await;
    if let Some(outbox) = outbox {
        outbox.close().await;
    }
    shared.health.partition_stopped(partition);
}

async fn run_partition(
    shared: &Arc<Shared>,
    partition: i32,
    stored: Option<i64>,
    mut records: mpsc::Receiver<Routed>,
    control: &PartitionControl,
    outbox: Option<&Outbox>,
) {
    let Some(mut chain) = load_chain(shared, partition, control).await else {
        return;
    };
    let mut expected = stored;
    let mut cursor = Cursor { epoch: 0, position: stored };
    let mut in_hand: Option<Transformed> = None;
    loop {
        // The next batch closes early once this write is done (see
        // `next_batch`): full batches under a backlog, small ones when caught up.
        let (done, sink_free) = tokio::sync::oneshot::channel::<()>();
        let writing = async {
            let written = match &in_hand {
                Some(t) => Some(write(shared, t, expected, control, outbox).await),
                None => None,
            };
            drop(done);
            written
        };
        let sink_free = async move {
            let _ = sink_free.await;
        };
        let preparing = prepare(shared, chain, partition, &mut records, &mut cursor, control, sink_free);
        let (written, prepared) = tokio::join!(writing, preparing);
        let Some(Transformed { batch, .. }) = in_hand.take() else {
            // Nothing was being written: the first batch, or after a seek.
            let Some((next, returned)) = prepared else { return };
            (chain, in_hand) = (returned, Some(next));
            continue;
        };
        match written {
            Some(Written::Committed { next }) => expected = Some(next),
            Some(Written::Fenced { stored }) => {
                // Someone else wrote this partition since we read its
                // offset, or this very batch did and the reply to its COMMIT
                // was lost with the connection. Either way the stored offset
                // is the truth: continue from it, dropping what was read
                // meanwhile.
                let first = batch.records.first().map_or(0, |r| r.offset);
                let resume = stored.unwrap_or(first);
                tracing::warn!(partition, ?stored, resume, "offset fence: the stored offset moved; resuming from it");
                expected = stored;
                control.seek(&mut cursor, resume);
                let Some((_, returned)) = prepared else { return };
                chain = returned;
                continue;
            }
            Some(Written::Stopped) | None => return,
        }
        // The batch in hand is written; stopped or revoked meanwhile, there
        // is no next one.
        let Some((next, returned)) = prepared else { return };
        (chain, in_hand) = (returned, Some(next));
    }
}

/// The next batch through the chain; `None` once the partition is stopped.
async fn prepare(
    shared: &Arc<Shared>,
    chain: Chain,
    partition: i32,
    records: &mut mpsc::Receiver<Routed>,
    cursor: &mut Cursor,
    control: &PartitionControl,
    sink_free: impl Future<Output = ()>,
) -> Option<(Transformed, Chain)> {
    let batch_records = next_batch(records, shared.limits, cursor, &control.stop, sink_free).await;
    if batch_records.is_empty() {
        return None; // stopped, or revoked
    }
    let age_ms = batch_records[0].timestamp.map(|ts| chrono::Utc::now().timestamp_millis() - ts);
    let batch = Arc::new(Batch { topic: shared.topic.clone(), partition, records: batch_records });
    let started = std::time::Instant::now();
    let (output, chain) = transform(shared, chain, &batch, control).await?;
    Some((Transformed { batch, output, transform_ms: started.elapsed().as_secs_f64() * 1e3, age_ms }, chain))
}

/// Writes `t` in one transaction, fenced on `expected`, retrying database
/// errors with backoff until it lands, is fenced out, or the partition stops.
async fn write(
    shared: &Shared,
    t: &Transformed,
    expected: Option<i64>,
    control: &PartitionControl,
    outbox: Option<&Outbox>,
) -> Written {
    let write = rows::batch_write(
        shared.pipeline.config.name.as_str(),
        &shared.topic,
        &shared.prepared.plans,
        &t.batch,
        expected,
        &t.output,
        shared.dead_letter_topic_name(),
    );
    let started = std::time::Instant::now();
    let mut backoff = Backoff::new(shared.max_backoff);
    let p = &shared.prepared;
    loop {
        let step = shared.health.step(write.partition);
        let attempt = sink::write_batch(
            &p.pool,
            &p.plans,
            &shared.pipeline.config.dead_letter.table,
            p.max_packet,
            shared.write_timeout,
            &write,
        )
        .await;
        let (cause, error) = match attempt {
            Ok(()) => {
                let rows: Vec<(usize, usize)> = write.tables.iter().map(|t| (t.plan, t.rows.len())).collect();
                committed(shared, t, control, outbox, write.next, &write.dead_letters, &rows, started);
                return Written::Committed { next: write.next };
            }
            Err(SinkError::Fenced { stored, .. }) => {
                metrics::retry(RetryCause::Fenced);
                return Written::Fenced { stored };
            }
            Err(e) if e.class() == ErrorClass::BadRow => {
                tracing::warn!(partition = write.partition, error = %e, "the database refused a row; splitting the batch to find it");
                match split::write(shared, &t.batch, expected, write.next).await {
                    Ok(landed) => {
                        committed(shared, t, control, outbox, write.next, &landed.dead_letters, &landed.rows, started);
                        return Written::Committed { next: write.next };
                    }
                    Err(SplitError::Sink(SinkError::Fenced { stored, .. })) => {
                        metrics::retry(RetryCause::Fenced);
                        return Written::Fenced { stored };
                    }
                    Err(SplitError::Sink(e)) => (retry_cause(&e), e.to_string()),
                    Err(e @ SplitError::Transform(_)) => (RetryCause::DatabaseRefused, e.to_string()),
                }
            }
            Err(e) => (retry_cause(&e), e.to_string()),
        };
        drop(step);
        metrics::retry(cause);
        if cause == RetryCause::DatabaseRefused {
            tracing::error!(partition = write.partition, %error, "database refused the batch; retrying it until the database is fixed");
        } else {
            tracing::warn!(partition = write.partition, %error, "database write failed; retrying the batch");
        }
        if !backoff.wait(control).await {
            return Written::Stopped; // revoked or shutting down: nothing was written
        }
    }
}

/// What a failed write is counted as.
fn retry_cause(error: &SinkError) -> RetryCause {
    match (error, error.class()) {
        (SinkError::TimedOut(_), _) => RetryCause::DatabaseTimeout,
        (_, ErrorClass::Transient) => RetryCause::Database,
        _ => RetryCause::DatabaseRefused,
    }
}

/// After a batch's commit: the Kafka commit, the dead-letter topic, the
/// metrics, the log. `rows` is (plan, rows written) per table.
#[allow(clippy::too_many_arguments, reason = "one call per way a batch commits; all of it is the batch's")]
fn committed(
    shared: &Shared,
    t: &Transformed,
    control: &PartitionControl,
    outbox: Option<&Outbox>,
    next: i64,
    dead_letters: &[DeadLetter],
    rows: &[(usize, usize)],
    started: std::time::Instant,
) {
    control.committed(next);
    if let Some(outbox) = outbox.filter(|_| !dead_letters.is_empty()) {
        outbox.wake();
    }
    let write_seconds = started.elapsed().as_secs_f64();
    for report in &t.output.stages {
        let seconds = report.elapsed.as_secs_f64();
        let counts = metrics::StageCounts {
            records_in: report.records_in,
            kept: report.kept,
            replaced: report.replaced,
            rejected: report.rejected,
            isolated: report.isolated,
            dropped: report.dropped,
        };
        metrics::stage(&report.stage, counts, seconds);
    }
    for letter in dead_letters {
        metrics::dead_letter(&letter.stage, reason_class(t, letter.offset));
    }
    for (plan, n) in rows {
        metrics::rows(shared.prepared.plans[*plan].table.as_str(), *n);
    }
    metrics::batch(t.batch.records.len(), t.transform_ms / 1e3 + write_seconds, write_seconds);
    tracing::debug!(
        partition = t.batch.partition,
        records = t.batch.records.len(),
        next,
        transform_ms = t.transform_ms,
        age_ms = t.age_ms,
        write_ms = write_seconds * 1e3,
        "batch written"
    );
}

/// Why the record at `offset` is a dead letter: a stage's verdict or
/// failure, or else the database's refusal of its row.
fn reason_class(t: &Transformed, offset: i64) -> ReasonClass {
    let first = t.batch.records.first().map_or(0, |r| r.offset);
    let index =
        usize::try_from(offset - first).ok().filter(|i| t.batch.records.get(*i).is_some_and(|r| r.offset == offset));
    let outcome =
        index.or_else(|| t.batch.records.iter().position(|r| r.offset == offset)).and_then(|i| t.output.records.get(i));
    match outcome {
        Some(RecordOutcome::Rejected(r)) if r.failure.is_some() => ReasonClass::Trapped,
        Some(RecordOutcome::Rejected(_)) => ReasonClass::Rejected,
        _ => ReasonClass::RefusedByDatabase,
    }
}

/// Loads this worker's own instances of the stages, retrying while that
/// fails (a module replaced by a broken one, say).
async fn load_chain(shared: &Arc<Shared>, partition: i32, control: &PartitionControl) -> Option<Chain> {
    if let Some(chain) = shared.prepared.take_spare() {
        return Some(chain);
    }
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
        let swaps = shared.swaps.clone();
        let input = Arc::clone(batch);
        let joined = tokio::task::spawn_blocking(move || {
            for stage in chain.adopt(&swaps) {
                tracing::info!(partition = input.partition, stage, "swapped in the new module at a batch boundary");
            }
            let result = chain.run(&input);
            (result, chain)
        })
        .await;
        match joined {
            Ok((Ok(output), returned)) => {
                shared.health.broken(batch.partition, None);
                return Some((output, returned));
            }
            Ok((Err(failure), returned)) => {
                chain = returned;
                tracing::error!(partition = batch.partition, error = %failure, "stage broken: pausing the partition and retrying the batch");
                shared.health.broken(batch.partition, Some(failure.to_string()));
                metrics::retry(RetryCause::StageBroken);
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
