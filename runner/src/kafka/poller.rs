//! The polling thread: serves the consumer's events (the rebalances, which
//! start and stop the partitions' fetchers and workers) and sends the
//! workers' offsets to Kafka. Records never pass through it: each assigned
//! partition has a queue and a fetcher of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::context::SourceContext;
use super::{Partitions, Request};
use crate::config::SourceConfig;

/// How long one poll of the consumer waits for an event.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("creating the Kafka consumer for {brokers}: {source}")]
    Create { brokers: String, source: rdkafka::error::KafkaError },
    #[error("subscribing to {topic}: {source}")]
    Subscribe { topic: String, source: rdkafka::error::KafkaError },
    #[error("starting the poller thread: {0}")]
    Thread(#[from] std::io::Error),
    /// A record came through the consumer's main queue instead of its
    /// partition's: its partition's order can no longer be vouched for, so
    /// the source stops (nothing of it is written; a restart resumes from
    /// the stored offsets).
    #[error("record {offset} of partition {partition} bypassed its partition queue; stopping")]
    Misrouted { partition: i32, offset: i64 },
}

/// A running source. Dropping it does not stop it: cancel the shutdown token
/// given to [`Source::start`] and call [`Source::join`].
pub struct Source {
    thread: JoinHandle<Result<(), SourceError>>,
}

/// Records read ahead per partition, in librdkafka's queue and the worker's
/// channel together: enough for full batches back to back (below 20,000,
/// batches of 500 came slower), and no more, since each record waiting in
/// librdkafka costs about 600 bytes of its own (librdkafka's default of
/// 100,000 made a third of the process's RSS). The channel holds
/// `queue_records`; librdkafka prefetches the rest, at least 2,000.
const READ_AHEAD: usize = 20_000;

fn prefetch_records(queue_records: usize) -> usize {
    READ_AHEAD.saturating_sub(queue_records).max(2_000)
}

impl Source {
    /// Subscribes and starts polling on a thread of its own. Each assigned
    /// partition's worker gets a channel of `queue_records` records; while it
    /// is full, that partition's fetching waits.
    pub fn start(
        config: &SourceConfig,
        partitions: Arc<dyn Partitions>,
        queue_records: usize,
        shutdown: CancellationToken,
    ) -> Result<Source, SourceError> {
        let topic = config.topic.as_str().to_string();
        let brokers = config.brokers.as_str().to_string();
        let prefetch = prefetch_records(queue_records).to_string();
        let client = super::client::config(
            config,
            &[
                ("partition.assignment.strategy", "range"),
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
                // Prefetch per partition (each has a queue of its own): see
                // `prefetch_records`.
                ("queued.max.messages.kbytes", "16384"),
                ("queued.min.messages", &prefetch),
                ("fetch.wait.max.ms", "50"),
                // The consumer lag metric comes from librdkafka's statistics.
                ("statistics.interval.ms", "5000"),
            ],
            &[
                ("group.id", config.group_id.as_str()),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", config.auto_offset_reset.as_kafka()),
            ],
        );
        let (requests_tx, requests_rx) = std::sync::mpsc::channel();
        let context = SourceContext {
            consumer: OnceLock::new(),
            topic: topic.clone(),
            partitions,
            runtime: tokio::runtime::Handle::current(),
            shutdown: shutdown.clone(),
            workers: Mutex::new(HashMap::new()),
            requests: requests_tx,
            channel_capacity: queue_records.max(1),
        };
        let consumer: Arc<BaseConsumer<SourceContext>> = Arc::new(
            client
                .create_with_context(context)
                .map_err(|source| SourceError::Create { brokers: brokers.clone(), source })?,
        );
        let _ = consumer.context().consumer.set(Arc::downgrade(&consumer));
        consumer.subscribe(&[&topic]).map_err(|source| SourceError::Subscribe { topic: topic.clone(), source })?;
        let thread = std::thread::Builder::new()
            .name("sluice-poller".into())
            .spawn(move || Poller { consumer, topic, requests: requests_rx }.run(&shutdown))?;
        Ok(Source { thread })
    }

    /// Waits for the poller to finish (after shutdown was cancelled): every
    /// worker finished its batch and the last offsets went to Kafka.
    pub fn join(self) -> Result<(), SourceError> {
        self.thread.join().unwrap_or_else(|_| {
            tracing::error!("the poller thread panicked");
            Ok(())
        })
    }
}

struct Poller {
    consumer: Arc<BaseConsumer<SourceContext>>,
    topic: String,
    requests: std::sync::mpsc::Receiver<Request>,
}

impl Poller {
    fn run(self, shutdown: &CancellationToken) -> Result<(), SourceError> {
        let mut result = Ok(());
        while !shutdown.is_cancelled() {
            self.serve_requests(CommitMode::Async);
            match self.consumer.poll(POLL) {
                Some(Ok(message)) => {
                    // Cannot happen: every assigned partition's records go to
                    // its own queue. Should it, stop rather than guess.
                    let (partition, offset) = (message.partition(), message.offset());
                    tracing::error!(partition, offset, "a record bypassed its partition queue; stopping the source");
                    result = Err(SourceError::Misrouted { partition, offset });
                    shutdown.cancel();
                }
                Some(Err(e)) => tracing::warn!(error = %e, "Kafka consumer error"),
                None => {}
            }
        }
        tracing::info!("source stopping: finishing in-flight batches");
        self.consumer.context().stop_workers(None);
        self.serve_requests(CommitMode::Sync);
        self.consumer.unsubscribe();
        result
    }

    fn serve_requests(&self, mode: CommitMode) {
        let mut commits = TopicPartitionList::new();
        while let Ok(Request::Commit { partition, next_offset }) = self.requests.try_recv() {
            if let Err(e) = commits.add_partition_offset(&self.topic, partition, Offset::Offset(next_offset)) {
                tracing::debug!(partition, error = %e, "commit request");
            }
        }
        if commits.count() > 0 {
            // Kafka's copy is secondary (for lag tools): asynchronous while
            // running, and a failure only delays what those tools show.
            if let Err(e) = self.consumer.commit(&commits, mode) {
                tracing::debug!(error = %e, "Kafka offset commit");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::prefetch_records;

    #[test]
    fn read_ahead_is_shared_between_librdkafka_and_the_channel() {
        assert_eq!(prefetch_records(1_000), 19_000);
        assert_eq!(prefetch_records(20_000), 2_000);
        assert_eq!(prefetch_records(200_000), 2_000);
    }
}
