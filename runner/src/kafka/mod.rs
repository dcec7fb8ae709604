//! Everything that talks to Kafka; the only module that knows rdkafka. The
//! source is a consumer group member that hands each assigned partition's
//! records, in order, to that partition's worker.
//!
//! - [`client`]: the one function every Kafka client starts from: the
//!   brokers and the user's `[source.kafka]` properties (TLS, SASL), and the
//!   check of those properties against librdkafka at start-up.
//! - [`poller`]: the thread that polls the consumer for its events (the
//!   rebalances) and sends the workers' offsets to Kafka.
//! - [`context`]: the rebalance callbacks. On assignment the stored offsets
//!   (MySQL, the source of truth) become the starting positions, and each
//!   partition gets its own queue, fetcher and worker; on revocation the
//!   partitions' workers are stopped, and waited for, before they go.
//! - [`fetcher`]: one thread per assigned partition that moves its records,
//!   in order, from its own librdkafka queue into its worker's bounded
//!   channel; a worker that falls behind stops its fetcher, and librdkafka
//!   then stops fetching that partition (memory stays bounded, nothing is
//!   paused or fetched twice). Seeks are carried out there.
//! - [`batcher`]: closes a batch at `max_records`, `max_bytes`,
//!   `max_wait_ms`, or once the sink is free and no record waits.
//! - [`dead_letter_topic`]: the optional copy of dead letters on a topic.
//! - [`topic`]: the source topic at start-up: created with `[source]
//!   partitions` and `replication_factor` when missing, never altered when
//!   it exists; a broker's refusal is an error naming both.
//! - [`watermarks`]: the partitions' log-end offsets, for `sluice status`.

mod batcher;
mod client;
mod context;
mod dead_letter_topic;
mod fetcher;
mod poller;
mod topic;
mod watermarks;

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use batcher::{BatchLimits, Cursor, Routed, next_batch};
pub use client::check_settings;
pub use dead_letter_topic::DeadLetterTopic;
pub use poller::{Source, SourceError};
pub use topic::{TopicError, TopicState, ensure_topic};
pub use watermarks::Watermarks;

/// What the source asks of the rest of the runner for each partition.
pub trait Partitions: Send + Sync + 'static {
    /// The stored next offsets of `partitions` (blocking; called from the
    /// rebalance callback). An error is retried until it succeeds or the
    /// source shuts down.
    fn stored_offsets(&self, partitions: &[i32]) -> anyhow::Result<HashMap<i32, i64>>;

    /// Starts the worker of a newly assigned partition. `stored` is its
    /// stored next offset, if any. The worker ends when `records` closes or
    /// `control.stop` is cancelled, after finishing the batch in hand.
    fn start(
        self: std::sync::Arc<Self>,
        partition: i32,
        stored: Option<i64>,
        records: mpsc::Receiver<Routed>,
        control: PartitionControl,
    ) -> JoinHandle<()>;
}

/// A worker's line back to the source.
#[derive(Debug, Clone)]
pub struct PartitionControl {
    /// Cancelled when the partition is revoked or the source shuts down.
    pub stop: CancellationToken,
    requests: std::sync::mpsc::Sender<Request>,
    seeks: std::sync::mpsc::Sender<fetcher::SeekTo>,
    partition: i32,
}

impl PartitionControl {
    /// Records that everything before `next_offset` is in MySQL, so Kafka's
    /// committed offset (what lag tools read) can follow.
    pub fn committed(&self, next_offset: i64) {
        let _ = self.requests.send(Request::Commit { partition: self.partition, next_offset });
    }

    /// Restarts fetching at `offset` (after the offset fence showed the
    /// stored position differs from the worker's) and moves the cursor past
    /// everything fetched before.
    pub fn seek(&self, cursor: &mut Cursor, offset: i64) {
        cursor.epoch += 1;
        cursor.position = Some(offset);
        let _ = self.seeks.send(fetcher::SeekTo { offset, epoch: cursor.epoch });
    }
}

#[derive(Debug)]
enum Request {
    Commit { partition: i32, next_offset: i64 },
}
