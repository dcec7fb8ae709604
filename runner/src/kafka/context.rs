//! Rebalance callbacks: stored offsets in, and a queue, a fetcher and a
//! worker for each partition, on assignment; workers out on revocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::fetcher::Fetcher;
use super::{PartitionControl, Partitions, Request};

/// How long a revocation waits for a worker to finish its batch. Past that
/// the partition goes anyway; the offset fence keeps the late write out.
const REVOKE_WAIT: Duration = Duration::from_secs(30);

/// A running partition worker and its fetcher, as the source sees them.
pub(super) struct Worker {
    pub stop: CancellationToken,
    pub task: JoinHandle<()>,
    pub fetcher: ThreadHandle<()>,
}

pub(super) struct SourceContext {
    /// The consumer this context belongs to, set once it is created: each
    /// partition's queue is split off from it.
    pub consumer: OnceLock<Weak<BaseConsumer<SourceContext>>>,
    pub topic: String,
    pub partitions: Arc<dyn Partitions>,
    pub runtime: tokio::runtime::Handle,
    pub shutdown: CancellationToken,
    pub workers: Mutex<HashMap<i32, Worker>>,
    pub requests: std::sync::mpsc::Sender<Request>,
    pub channel_capacity: usize,
}

impl ClientContext for SourceContext {
    /// librdkafka's statistics, every `statistics.interval.ms`: the lag of
    /// each partition this process consumes (log end − committed offset;
    /// Kafka's committed offset follows the one stored in MySQL).
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else { return };
        let assigned = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        for (partition, stats) in &topic.partitions {
            if *partition >= 0 && assigned.contains_key(partition) && stats.consumer_lag >= 0 {
                crate::metrics::lag(*partition, stats.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for SourceContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.stop_workers(Some(tpl));
                if let Err(e) = consumer.unassign() {
                    tracing::error!(error = %e, "unassigning revoked partitions failed");
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance error; dropping the assignment");
                self.stop_workers(None);
                let _ = consumer.unassign();
            }
        }
    }
}

impl SourceContext {
    fn partitions_of(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements_for_topic(&self.topic).iter().map(|e| e.partition()).collect()
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let partitions = self.partitions_of(tpl);
        let stored = loop {
            match self.partitions.stored_offsets(&partitions) {
                Ok(stored) => break stored,
                Err(e) if !self.shutdown.is_cancelled() => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read stored offsets; retrying in 1 s");
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(_) => return,
            }
        };
        for (partition, offset) in &stored {
            if let Err(e) = tpl.set_partition_offset(&self.topic, *partition, Offset::Offset(*offset)) {
                tracing::error!(partition, error = %e, "cannot set the starting offset");
            }
        }
        let Some(owner) = self.consumer.get().and_then(Weak::upgrade) else {
            tracing::error!("the consumer is gone; not taking the assignment");
            return;
        };
        // Each partition's records go to a queue of its own. Split before
        // assigning: librdkafka then never forwards the partition's records
        // to the consumer's main queue, so its fetcher sees all of them, in
        // order.
        let mut queues = Vec::with_capacity(partitions.len());
        for &partition in &partitions {
            match owner.split_partition_queue(&self.topic, partition) {
                Some(queue) => queues.push((partition, queue)),
                None => tracing::error!(partition, "cannot give the partition a queue of its own"),
            }
        }
        if let Err(e) = consumer.assign(tpl) {
            tracing::error!(error = %e, "assigning partitions failed");
            return;
        }
        tracing::info!(?partitions, ?stored, "partitions assigned");
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        for (partition, queue) in queues {
            let (records_tx, records_rx) = mpsc::channel(self.channel_capacity);
            let (seeks_tx, seeks_rx) = std::sync::mpsc::channel();
            let stop = self.shutdown.child_token();
            let fetcher = Fetcher {
                consumer: Arc::clone(&owner),
                queue,
                topic: self.topic.clone(),
                partition,
                records: records_tx,
                seeks: seeks_rx,
                stop: stop.clone(),
                runtime: self.runtime.clone(),
            };
            let fetcher = match fetcher.spawn() {
                Ok(thread) => thread,
                Err(e) => {
                    tracing::error!(partition, error = %e, "cannot start the partition's fetcher thread");
                    continue;
                }
            };
            let control =
                PartitionControl { stop: stop.clone(), requests: self.requests.clone(), seeks: seeks_tx, partition };
            let _guard = self.runtime.enter();
            let task =
                Arc::clone(&self.partitions).start(partition, stored.get(&partition).copied(), records_rx, control);
            workers.insert(partition, Worker { stop, task, fetcher });
        }
    }

    /// Stops the workers of `tpl`'s partitions (all when `None`) and waits
    /// for them to finish the batch in hand.
    pub(super) fn stop_workers(&self, tpl: Option<&TopicPartitionList>) {
        let stopped: Vec<(i32, Worker)> = {
            let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
            match tpl {
                Some(tpl) => {
                    self.partitions_of(tpl).into_iter().filter_map(|p| workers.remove(&p).map(|w| (p, w))).collect()
                }
                None => workers.drain().collect(),
            }
        };
        for (_, worker) in &stopped {
            worker.stop.cancel();
        }
        for (partition, worker) in stopped {
            // The fetcher notices the stop within one poll; joining it drops
            // its queue (and its hold on the consumer) before the partition goes.
            if worker.fetcher.join().is_err() {
                tracing::error!(partition, "the partition's fetcher thread panicked");
            }
            let waited = self.runtime.block_on(async { tokio::time::timeout(REVOKE_WAIT, worker.task).await });
            match waited {
                Ok(Ok(())) => tracing::info!(partition, "partition released"),
                Ok(Err(e)) => tracing::error!(partition, error = %e, "partition worker failed"),
                Err(_) => tracing::warn!(
                    partition,
                    "partition worker still busy after {REVOKE_WAIT:?}; releasing anyway (the offset fence keeps its write out)"
                ),
            }
        }
    }
}
