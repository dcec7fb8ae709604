//! The optional copy of dead letters on a Kafka topic (`[dead_letter] topic`).
//!
//! The `dead_letter` table, written in the batch's transaction, is the
//! record of truth and the outbox: its rows name the topic until their copy
//! is delivered (`acks=all`, idempotent producer). Each partition's outbox
//! task (`pipeline::outbox`) publishes from it, off the batch path, and
//! again after a failure or a restart. So every dead letter reaches the
//! topic at least once, also across a crash between the commit and the
//! delivery.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::config::SourceConfig;
use crate::sink::DeadLetter;

/// A producer for the dead-letter topic.
pub struct DeadLetterTopic {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetterTopic {
    /// A producer to `topic` on the source's cluster, with its settings.
    pub fn new(source: &SourceConfig, topic: &str) -> Result<DeadLetterTopic, rdkafka::error::KafkaError> {
        let producer = super::client::config(
            source,
            &[("message.timeout.ms", "30000")],
            &[("enable.idempotence", "true"), ("acks", "all")],
        )
        .create()?;
        Ok(DeadLetterTopic { producer, topic: topic.to_string() })
    }

    /// Publishes each dead letter with its original key and value, and where
    /// it came from and why in headers (`sluice-stage`, `sluice-reason`,
    /// `sluice-topic`, `sluice-partition`, `sluice-offset`,
    /// `sluice-module-sha256`). Waits for every
    /// delivery and returns the offsets of the letters delivered; failures
    /// are logged.
    pub async fn publish(&self, topic: &str, partition: i32, letters: &[DeadLetter]) -> Vec<i64> {
        let sends = letters.iter().map(|letter| {
            let partition_text = partition.to_string();
            let offset_text = letter.offset.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header { key: "sluice-stage", value: Some(letter.stage.as_bytes()) })
                .insert(Header { key: "sluice-reason", value: Some(letter.reason.as_bytes()) })
                .insert(Header { key: "sluice-topic", value: Some(topic.as_bytes()) })
                .insert(Header { key: "sluice-partition", value: Some(partition_text.as_bytes()) })
                .insert(Header { key: "sluice-offset", value: Some(offset_text.as_bytes()) })
                .insert(Header {
                    key: "sluice-module-sha256",
                    value: letter.module_sha256.as_deref().map(str::as_bytes),
                });
            let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
            if let Some(key) = &letter.key {
                record = record.key(key.as_slice());
            }
            if let Some(value) = &letter.value {
                record = record.payload(value.as_slice());
            }
            self.producer.send(record, Duration::from_secs(30))
        });
        let mut delivered = Vec::with_capacity(letters.len());
        for (letter, result) in letters.iter().zip(join_all(sends).await) {
            match result {
                Ok(_) => delivered.push(letter.offset),
                Err((e, _)) => {
                    tracing::error!(topic = self.topic.as_str(), offset = letter.offset, error = %e, "publishing a dead letter to Kafka failed; it stays in the outbox and is tried again");
                }
            }
        }
        delivered
    }

    /// The topic dead letters are published to.
    pub fn name(&self) -> &str {
        &self.topic
    }
}
