//! `[source]`: the Kafka topic a pipeline consumes, and the partitions and
//! replication factor `sluice run` creates it with when it is missing.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

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
    /// `partitions = 3`: the partitions `sluice run` creates the topic with
    /// when it does not exist. An existing topic is left as it is.
    #[serde(default = "default_partitions")]
    pub partitions: Ranged<1, 4096>,
    /// `replication_factor = 1`: the copies of each partition, for a topic
    /// `sluice run` creates (1 on a single broker, 3 in production). At most
    /// the number of brokers: the broker refuses more.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: Ranged<1, 16>,
    /// `[source.kafka]`: extra librdkafka properties, as strings, for every
    /// Kafka client of the pipeline (consumer, dead-letter producer,
    /// `sluice status`), for example `"security.protocol" = "SASL_SSL"`.
    #[serde(default)]
    pub kafka: KafkaSettings,
}

/// `[source.kafka]`: librdkafka properties. Relative `*.location` paths are
/// taken from the pipeline file's directory; `Debug` hides the values of
/// secrets (passwords, private keys, OAuth settings).
#[derive(Default, Deserialize)]
#[serde(transparent)]
pub struct KafkaSettings(BTreeMap<String, toml::Spanned<EnvString>>);

impl KafkaSettings {
    /// Every property as librdkafka takes it.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value.get_ref().as_str()))
    }

    /// Where `key`'s value is in the file.
    pub fn span(&self, key: &str) -> Option<Range<usize>> {
        self.0.get(key).map(toml::Spanned::span)
    }

    /// Whether `key` holds a secret, by librdkafka's names for them.
    pub fn is_secret(key: &str) -> bool {
        key.contains("password")
            || key.contains("secret")
            || key.starts_with("sasl.oauthbearer")
            || key == "ssl.key.pem"
    }

    /// Joins relative file paths (`ssl.ca.location` and the like, but not
    /// `probe`) onto `base`, the pipeline file's directory.
    pub(super) fn resolve_paths(&mut self, base: &Path) {
        for (key, value) in &mut self.0 {
            let path = value.get_ref().as_str();
            if key.ends_with(".location") && path != "probe" && Path::new(path).is_relative() {
                let joined = base.join(path).to_string_lossy().into_owned();
                *value.get_mut() = EnvString::from_expanded(joined);
            }
        }
    }
}

impl fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.iter() {
            if Self::is_secret(key) {
                map.entry(&key, &"<redacted>");
            } else {
                map.entry(&key, &value);
            }
        }
        map.finish()
    }
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
fn default_partitions() -> Ranged<1, 4096> {
    Ranged::new(3)
}
fn default_replication_factor() -> Ranged<1, 16> {
    Ranged::new(1)
}
