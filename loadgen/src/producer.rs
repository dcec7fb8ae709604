//! The Kafka sink: one idempotent `FutureProducer` (acks=all, linger 5 ms,
//! lz4 when librdkafka has it), keyed by session id.
//!
//! [`KafkaSink::connect`] checks that the broker answers and the topic exists
//! before anything is sent, so a missing broker is one clear error instead of
//! a delivery timeout per message.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use super::generator::Event;

/// How long the start-up check waits for the broker.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// A producer bound to one topic.
pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
    partitions: usize,
    compression: &'static str,
}

/// Why a message was not handed to librdkafka.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The local queue is full: wait for deliveries, then try again.
    #[error("the producer queue is full")]
    QueueFull,
    #[error("{0}")]
    Rejected(KafkaError),
}

impl KafkaSink {
    /// Creates the producer and checks that `topic` exists on `brokers`.
    pub async fn connect(brokers: &str, topic: &str, delivery_timeout: Duration) -> anyhow::Result<KafkaSink> {
        let (producer, compression) = create_producer(brokers, delivery_timeout)?;
        let probe = producer.clone();
        let probe_topic = topic.to_string();
        let metadata =
            tokio::task::spawn_blocking(move || probe.client().fetch_metadata(Some(&probe_topic), METADATA_TIMEOUT))
                .await
                .context("the metadata probe panicked")?
                .map_err(|e| {
                    anyhow!("cannot reach Kafka at {brokers} ({e}); start it with `scripts/stack up` or pass --brokers")
                })?;
        let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else {
            bail!("Kafka at {brokers} did not describe topic `{topic}`");
        };
        if let Some(err) = meta.error() {
            bail!(
                "topic `{topic}` is not usable on {brokers} ({:?}); create it first (`scripts/stack up` creates study-log-events)",
                RDKafkaErrorCode::from(err)
            );
        }
        let partitions = meta.partitions().len();
        tracing::debug!(brokers, topic, partitions, compression, "connected to Kafka");
        Ok(KafkaSink { producer, topic: topic.to_string(), partitions, compression })
    }

    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// `"lz4"` or `"none"`.
    pub fn compression(&self) -> &'static str {
        self.compression
    }

    /// Hands `event` to librdkafka (which copies it); the future resolves
    /// with its delivery report.
    pub fn send(&self, event: &Event) -> Result<DeliveryFuture, SendError> {
        let record = FutureRecord::to(&self.topic).key(event.key.as_bytes()).payload(event.value.as_slice());
        self.producer.send_result(record).map_err(|(e, _)| match e {
            KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => SendError::QueueFull,
            other => SendError::Rejected(other),
        })
    }
}

/// The producer, with lz4 if this librdkafka was built with it.
fn create_producer(brokers: &str, delivery_timeout: Duration) -> anyhow::Result<(FutureProducer, &'static str)> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "sluice-loadgen")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("allow.auto.create.topics", "false")
        .set("message.timeout.ms", delivery_timeout.as_millis().max(1).to_string());
    match config.clone().set("compression.type", "lz4").create() {
        Ok(producer) => Ok((producer, "lz4")),
        Err(e) => {
            tracing::debug!(error = %e, "lz4 unavailable, sending uncompressed");
            let producer = config.set("compression.type", "none").create().context("creating the Kafka producer")?;
            Ok((producer, "none"))
        }
    }
}
