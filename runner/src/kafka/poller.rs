//! The polling thread: routes records to partition workers with bounded
//! queues, pauses and resumes partitions, commits and seeks on request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

use super::context::SourceContext;
use super::{Partitions, Request, Routed};
use crate::config::SourceConfig;
use crate::transform::Record;

/// How long one poll waits for a record.
const POLL: Duration = Duration::from_millis(50);
/// How long it waits while a partition is paused: how soon a worker that
/// made room gets records again.
const POLL_WHILE_PAUSED: Duration = Duration::from_millis(2);

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("creating the Kafka consumer for {brokers}: {source}")]
    Create { brokers: String, source: rdkafka::error::KafkaError },
    #[error("subscribing to {topic}: {source}")]
    Subscribe { topic: String, source: rdkafka::error::KafkaError },
    #[error("starting the poller thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// A running source. Dropping it does not stop it: cancel the shutdown token
/// given to [`Source::start`] and call [`Source::join`].
pub struct Source {
    thread: JoinHandle<()>,
}

impl Source {
    /// Subscribes and starts polling on a thread of its own. Records queue
    /// per partition up to `queue_records`; past that the partition pauses.
    pub fn start(
        config: &SourceConfig,
        partitions: Arc<dyn Partitions>,
        queue_records: usize,
        shutdown: CancellationToken,
    ) -> Result<Source, SourceError> {
        let topic = config.topic.as_str().to_string();
        let brokers = config.brokers.as_str().to_string();
        let client = super::client::config(
            config,
            &[
                ("partition.assignment.strategy", "range"),
                ("session.timeout.ms", "10000"),
                ("heartbeat.interval.ms", "1000"),
                ("queued.max.messages.kbytes", "16384"),
                ("fetch.wait.max.ms", "50"),
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
            topic: topic.clone(),
            partitions,
            runtime: tokio::runtime::Handle::current(),
            shutdown: shutdown.clone(),
            workers: Mutex::new(HashMap::new()),
            requests: requests_tx,
            channel_capacity: queue_records.max(1),
        };
        let consumer: BaseConsumer<SourceContext> = client
            .create_with_context(context)
            .map_err(|source| SourceError::Create { brokers: brokers.clone(), source })?;
        consumer.subscribe(&[&topic]).map_err(|source| SourceError::Subscribe { topic: topic.clone(), source })?;
        let thread = std::thread::Builder::new().name("sluice-poller".into()).spawn(move || {
            Poller { consumer, topic, requests: requests_rx, pending: HashMap::new() }.run(&shutdown);
        })?;
        Ok(Source { thread })
    }

    /// Waits for the poller to finish (after shutdown was cancelled): every
    /// worker finished its batch and the last offsets went to Kafka.
    pub fn join(self) {
        if self.thread.join().is_err() {
            tracing::error!("the poller thread panicked");
        }
    }
}

struct Poller {
    consumer: BaseConsumer<SourceContext>,
    topic: String,
    requests: std::sync::mpsc::Receiver<Request>,
    /// Records of paused partitions, waiting for room in the worker's queue.
    pending: HashMap<i32, Pending>,
}

/// A paused partition's records and the worker they were fetched for.
struct Pending {
    sender: mpsc::Sender<Routed>,
    queue: VecDeque<Routed>,
}

impl Poller {
    fn run(mut self, shutdown: &CancellationToken) {
        while !shutdown.is_cancelled() {
            self.serve_requests(CommitMode::Async);
            self.drain_pending();
            let wait = if self.pending.is_empty() { POLL } else { POLL_WHILE_PAUSED };
            match self.consumer.poll(wait) {
                Some(Ok(message)) => {
                    let partition = message.partition();
                    let record = to_record(&message);
                    drop(message);
                    self.route(partition, record);
                }
                Some(Err(e)) => tracing::warn!(error = %e, "Kafka consumer error"),
                None => {}
            }
        }
        tracing::info!("source stopping: finishing in-flight batches");
        self.consumer.context().stop_workers(None);
        self.serve_requests(CommitMode::Sync);
        self.consumer.unsubscribe();
    }

    /// Sends a record to its worker, or queues it and pauses the partition
    /// when the worker's queue is full.
    fn route(&mut self, partition: i32, record: Record) {
        let worker = {
            let workers = self.consumer.context().workers.lock().unwrap_or_else(PoisonError::into_inner);
            workers.get(&partition).map(|w| (w.records.clone(), w.epoch))
        };
        let Some((sender, epoch)) = worker else {
            return; // not ours (any more): the new owner reads it again
        };
        let routed = Routed { epoch, record };
        match self.pending.get_mut(&partition) {
            // Queued records go first, to the worker they were fetched for.
            Some(pending) if pending.sender.same_channel(&sender) => {
                pending.queue.push_back(routed);
                return;
            }
            // Fetched for an earlier assignment of the partition: stale.
            Some(_) => {
                self.pending.remove(&partition);
            }
            None => {}
        }
        match sender.try_send(routed) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(routed)) => {
                self.set_paused(partition, true);
                self.pending.insert(partition, Pending { sender, queue: VecDeque::from([routed]) });
            }
        }
    }

    /// Moves queued records into workers' queues as room appears; resumes a
    /// partition once its queue is empty, and drops queues of partitions that
    /// are no longer ours or were reassigned since.
    fn drain_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let current: HashMap<i32, _> = {
            let workers = self.consumer.context().workers.lock().unwrap_or_else(PoisonError::into_inner);
            workers.iter().map(|(p, w)| (*p, w.records.clone())).collect()
        };
        let mut resumed = Vec::new();
        for (partition, pending) in &mut self.pending {
            if !current.get(partition).is_some_and(|s| s.same_channel(&pending.sender)) {
                pending.queue.clear();
            }
            while let Some(record) = pending.queue.pop_front() {
                match pending.sender.try_send(record) {
                    Ok(()) => {}
                    Err(TrySendError::Full(record)) => {
                        pending.queue.push_front(record);
                        break;
                    }
                    Err(TrySendError::Closed(_)) => pending.queue.clear(),
                }
            }
            if pending.queue.is_empty() {
                resumed.push(*partition);
            }
        }
        for partition in resumed {
            self.pending.remove(&partition);
            self.set_paused(partition, false);
        }
    }

    fn set_paused(&self, partition: i32, paused: bool) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.topic, partition);
        let result = if paused { self.consumer.pause(&tpl) } else { self.consumer.resume(&tpl) };
        match result {
            Ok(()) => tracing::debug!(partition, paused, "backpressure"),
            Err(e) => tracing::debug!(partition, paused, error = %e, "pause/resume of a partition no longer assigned"),
        }
    }

    fn serve_requests(&mut self, mode: CommitMode) {
        let mut commits = TopicPartitionList::new();
        while let Ok(request) = self.requests.try_recv() {
            match request {
                Request::Commit { partition, next_offset } => {
                    if let Err(e) = commits.add_partition_offset(&self.topic, partition, Offset::Offset(next_offset)) {
                        tracing::debug!(partition, error = %e, "commit request");
                    }
                }
                Request::Seek { partition, offset } => {
                    if self.pending.remove(&partition).is_some() {
                        self.set_paused(partition, false);
                    }
                    if let Some(worker) = self
                        .consumer
                        .context()
                        .workers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_mut(&partition)
                    {
                        worker.epoch += 1;
                    }
                    if let Err(e) =
                        self.consumer.seek(&self.topic, partition, Offset::Offset(offset), Duration::from_secs(5))
                    {
                        tracing::warn!(partition, offset, error = %e, "seek failed");
                    }
                }
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

fn to_record(message: &BorrowedMessage<'_>) -> Record {
    let headers = message
        .headers()
        .map(|headers| headers.iter().map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec))).collect())
        .unwrap_or_default();
    Record {
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        headers,
        offset: message.offset(),
        timestamp: message.timestamp().to_millis(),
    }
}
