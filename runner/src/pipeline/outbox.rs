//! The dead-letter topic's publisher for one partition, off the batch path.
//!
//! The dead-letter table is the outbox: a row names the topic in
//! `to_publish` until its copy is delivered. After a commit that wrote dead
//! letters the worker only wakes this task; it reads what the outbox holds
//! for the partition, publishes it, and marks what was delivered. A topic
//! that refuses or a broker that is slow never holds up the next batch: what
//! is not delivered stays in the outbox and is tried again after a backoff,
//! on the next wake, or by the partition's next owner when it starts.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::worker::Shared;
use crate::sink;

/// The most dead letters one round reads from the outbox.
const ROUND: u32 = 5_000;

/// How long the last round, when the partition stops, may take.
const LAST_ROUND: Duration = Duration::from_secs(5);

/// A partition's publisher task.
pub(super) struct Outbox {
    wake: Arc<Notify>,
    closing: CancellationToken,
    task: JoinHandle<()>,
}

impl Outbox {
    /// Starts the task, which first publishes what a previous run of the
    /// partition left; `None` when no dead-letter topic is set.
    pub(super) fn start(shared: &Arc<Shared>, partition: i32) -> Option<Outbox> {
        shared.dead_letter_topic.as_ref()?;
        let wake = Arc::new(Notify::new());
        let closing = CancellationToken::new();
        let task = tokio::spawn(run(shared.clone(), partition, wake.clone(), closing.clone()));
        Some(Outbox { wake, closing, task })
    }

    /// New dead letters are committed: publish them soon.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }

    /// The partition stops: one last round for what the last batches wrote,
    /// for at most [`LAST_ROUND`]; the rest waits in the outbox.
    pub(super) async fn close(self) {
        self.closing.cancel();
        self.wake.notify_one();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(LAST_ROUND, self.task).await.is_err() {
            abort.abort();
        }
    }
}

async fn run(shared: Arc<Shared>, partition: i32, wake: Arc<Notify>, closing: CancellationToken) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let emptied = round(&shared, partition).await;
        if closing.is_cancelled() {
            return;
        }
        if emptied {
            backoff = Duration::from_secs(1);
            wake.notified().await;
        } else {
            // Not all delivered, or more than one round's worth: again after a
            // pause, or sooner when new dead letters come.
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(shared.max_backoff.max(Duration::from_secs(1)));
        }
    }
}

/// Publishes one round of the outbox; true when nothing is left in it.
async fn round(shared: &Shared, partition: i32) -> bool {
    let Some(topic) = &shared.dead_letter_topic else { return true };
    let p = &shared.prepared;
    let table = &shared.pipeline.config.dead_letter.table;
    let pipeline = shared.pipeline.config.name.as_str();
    let left = match sink::unpublished(&p.pool, table, pipeline, &shared.topic, partition, ROUND).await {
        Ok(left) => left,
        Err(e) => {
            tracing::warn!(partition, error = %e, "could not read the dead-letter outbox; trying again");
            return false;
        }
    };
    if left.is_empty() {
        return true;
    }
    let delivered = topic.publish(&shared.topic, partition, &left).await;
    if let Err(e) = sink::mark_published(&p.pool, table, pipeline, &shared.topic, partition, &delivered).await {
        // They go out again: at least once.
        tracing::warn!(partition, error = %e, "could not mark dead letters as published");
        return false;
    }
    tracing::debug!(partition, delivered = delivered.len(), of = left.len(), "dead letters published");
    delivered.len() == left.len() && left.len() < ROUND as usize
}
