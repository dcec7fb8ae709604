//! `[source]`: the Kafka topic a pipeline consumes.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::interpolate::EnvString;
use super::ranged::Ranged;

/// ```toml
/// [source]
/// brokers = "${KAFKA_BROKERS:-127.0.0.1:9092}"
/// topic = "study-log-events"
/// group_id = "virtudy-group"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `brokers = "host:9092,host2:9092"`: Kafka bootstrap servers.
    pub brokers: EnvString,
    /// `topic = "study-log-events"`
    pub topic: EnvString,
    /// `group_id = "virtudy-group"`: the consumer group; run more Sluice
    /// processes with the same group to scale out.
    pub group_id: EnvString,
    /// `auto_offset_reset = "earliest"`: where a partition with no stored
    /// offset starts (`earliest` or `latest`).
    #[serde(default)]
    pub auto_offset_reset: OffsetReset,
    /// `max_records = 500`: a batch closes at this many records…
    #[serde(default = "default_max_records")]
    pub max_records: Ranged<1, 100_000>,
    /// `max_bytes = 4194304`: …or at this many bytes of keys and values…
    #[serde(default = "default_max_bytes")]
    pub max_bytes: Ranged<1024, 268_435_456>,
    /// `max_wait_ms = 100`: …or this long after its first record.
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: Ranged<1, 600_000>,
    /// `max_pending_batches = 2`: closed batches a partition may queue
    /// before its fetching waits (backpressure).
    #[serde(default = "default_max_pending_batches")]
    pub max_pending_batches: Ranged<1, 1024>,
    /// `[source.kafka]`: extra librdkafka properties, as strings, for every
    /// Kafka client of the pipeline (consumer, dead-letter producer,
    /// `sluice status`), for example `"security.protocol" = "SASL_SSL"`.
    #[serde(default)]
    pub kafka: BTreeMap<String, EnvString>,
}

/// Where to start a partition that has no stored offset.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OffsetReset {
    #[default]
    Earliest,
    Latest,
}

impl OffsetReset {
    pub fn as_kafka(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        }
    }
}

fn default_max_records() -> Ranged<1, 100_000> {
    Ranged::new(500)
}
fn default_max_bytes() -> Ranged<1024, 268_435_456> {
    Ranged::new(4 * 1024 * 1024)
}
fn default_max_wait_ms() -> Ranged<1, 600_000> {
    Ranged::new(100)
}
fn default_max_pending_batches() -> Ranged<1, 1024> {
    Ranged::new(2)
}
