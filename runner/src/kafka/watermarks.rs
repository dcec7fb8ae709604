//! The log-end offset of each partition of the source topic.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::config::SourceConfig;

/// How long one metadata or watermark request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A client that reads the source topic's log-end offsets; it joins no group.
pub struct Watermarks {
    consumer: BaseConsumer,
    topic: String,
}

impl Watermarks {
    pub fn new(source: &SourceConfig) -> Result<Watermarks, rdkafka::error::KafkaError> {
        let consumer = super::client::config(source, &[], &[]).create()?;
        Ok(Watermarks { consumer, topic: source.topic.as_str().to_string() })
    }

    /// Partition → log-end offset (blocking).
    pub fn log_ends(&self) -> Result<BTreeMap<i32, i64>, rdkafka::error::KafkaError> {
        let metadata = self.consumer.fetch_metadata(Some(&self.topic), TIMEOUT)?;
        let mut ends = BTreeMap::new();
        for topic in metadata.topics() {
            for partition in topic.partitions() {
                let (_, high) = self.consumer.fetch_watermarks(&self.topic, partition.id(), TIMEOUT)?;
                ends.insert(partition.id(), high);
            }
        }
        Ok(ends)
    }

    /// Whether the broker answers a metadata request for the topic within
    /// `timeout` (blocking).
    pub fn reachable(&self, timeout: Duration) -> Result<(), rdkafka::error::KafkaError> {
        let metadata = self.consumer.fetch_metadata(Some(&self.topic), timeout)?;
        match metadata.topics().first().and_then(|t| t.error()) {
            Some(e) => Err(rdkafka::error::KafkaError::MetadataFetch(e.into())),
            None => Ok(()),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
}
