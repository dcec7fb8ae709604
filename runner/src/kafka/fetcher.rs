//! One partition's fetcher: a thread that takes the partition's records from
//! the partition's own librdkafka queue and hands them, in order, to the
//! partition worker's bounded channel.
//!
//! Backpressure needs nothing else: while the worker is behind, the channel
//! is full and the fetcher waits; the partition's queue then fills up to
//! librdkafka's prefetch limit (`queued.max.messages.kbytes` per partition)
//! and librdkafka stops fetching that partition until there is room again.
//! Nothing is paused, nothing fetched is thrown away, and the other
//! partitions keep flowing.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::topic_partition_list::Offset;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Routed;
use crate::transform::Record;

/// How long one poll of the partition's queue waits: how soon the fetcher
/// notices that it was stopped or asked to seek.
const POLL: Duration = Duration::from_millis(50);

/// A worker's request to re-read its partition from `offset`; records read
/// from then on carry `epoch`.
#[derive(Debug, Clone, Copy)]
pub(super) struct SeekTo {
    pub offset: i64,
    pub epoch: u32,
}

/// Everything one fetcher thread owns.
pub(super) struct Fetcher<C: ConsumerContext + 'static> {
    pub consumer: Arc<BaseConsumer<C>>,
    pub queue: PartitionQueue<C>,
    pub topic: String,
    pub partition: i32,
    pub records: mpsc::Sender<Routed>,
    pub seeks: std::sync::mpsc::Receiver<SeekTo>,
    pub stop: CancellationToken,
    pub runtime: tokio::runtime::Handle,
}

impl<C: ConsumerContext + 'static> Fetcher<C> {
    pub(super) fn spawn(self) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new().name(format!("sluice-fetch-{}", self.partition)).spawn(move || self.run())
    }

    fn run(self) {
        let mut epoch = 0;
        while !self.stop.is_cancelled() {
            // A seek is carried out here, on the thread that reads the queue,
            // so that every record read after it carries the new epoch
            // (librdkafka drops what it fetched before the seek).
            while let Ok(seek) = self.seeks.try_recv() {
                epoch = seek.epoch;
                if let Err(e) =
                    self.consumer.seek(&self.topic, self.partition, Offset::Offset(seek.offset), Duration::from_secs(5))
                {
                    tracing::warn!(partition = self.partition, offset = seek.offset, error = %e, "seek failed");
                }
            }
            match self.queue.poll(POLL) {
                Some(Ok(message)) => {
                    let record = to_record(&message);
                    drop(message);
                    // Waits while the worker's channel is full, until the
                    // partition is stopped.
                    let routed = Routed { epoch, record };
                    let sent = self.runtime.block_on(async {
                        tokio::select! {
                            biased;
                            () = self.stop.cancelled() => false,
                            sent = self.records.send(routed) => sent.is_ok(),
                        }
                    });
                    if !sent {
                        return;
                    }
                }
                Some(Err(e)) => tracing::warn!(partition = self.partition, error = %e, "Kafka fetch error"),
                None => {}
            }
        }
    }
}

pub(super) fn to_record(message: &BorrowedMessage<'_>) -> Record {
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
