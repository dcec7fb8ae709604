//! A throwaway topic per test on the stack's Kafka broker, and a consumer
//! that reads a topic back in full.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;

/// The broker the tests use; `scripts/stack up` starts it.
pub fn brokers() -> String {
    std::env::var("SLUICE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

fn admin(brokers: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", brokers).create().expect("create a Kafka admin client")
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)))
}

/// Panics with the way to start Kafka when the broker does not answer.
pub fn require_broker(brokers: &str) {
    let probe: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", brokers).create().expect("create a Kafka client");
    if let Err(e) = probe.fetch_metadata(None, Duration::from_secs(5)) {
        panic!("cannot reach Kafka at {brokers} ({e}); start it with `scripts/stack up` or set SLUICE_TEST_KAFKA");
    }
}

/// A topic that exists for one test. Deleted by [`TestTopic::delete`], or on
/// drop when the test panicked first.
pub struct TestTopic {
    pub name: String,
    pub brokers: String,
    deleted: bool,
}

/// Creates `sluice-test-<prefix>-<random>` with `partitions` partitions and
/// waits until every partition has a leader.
pub async fn fresh_topic(prefix: &str, partitions: i32) -> TestTopic {
    fresh_topic_with(prefix, partitions, &[]).await
}

/// [`fresh_topic`] with topic settings (`min.insync.replicas`, say).
pub async fn fresh_topic_with(prefix: &str, partitions: i32, settings: &[(&str, &str)]) -> TestTopic {
    topic_named(&fresh_topic_name(prefix), partitions, settings).await
}

/// A topic name no other test uses.
pub fn fresh_topic_name(prefix: &str) -> String {
    format!("sluice-test-{prefix}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Creates the topic `name`, like [`fresh_topic_with`].
pub async fn topic_named(name: &str, partitions: i32, settings: &[(&str, &str)]) -> TestTopic {
    let brokers = brokers();
    require_broker(&brokers);
    let name = name.to_string();
    let mut topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(1));
    for (key, value) in settings {
        topic = topic.set(key, value);
    }
    let results = admin(&brokers).create_topics(&[topic], &options()).await.expect("create topic request");
    for r in results {
        r.unwrap_or_else(|(topic, e)| panic!("create topic {topic}: {e}"));
    }
    let probe: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &brokers).create().expect("create a Kafka client");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = probe.fetch_metadata(Some(&name), Duration::from_secs(5)).ok().is_some_and(|m| {
            m.topics().iter().any(|t| {
                t.error().is_none()
                    && t.partitions().len() == usize::try_from(partitions).unwrap_or(0)
                    && t.partitions().iter().all(|p| p.leader() >= 0)
            })
        });
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "topic {name} has no leaders after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    TestTopic { name, brokers, deleted: false }
}

impl TestTopic {
    /// Changes one of the topic's settings.
    pub async fn set(&self, key: &str, value: &str) {
        let change = AlterConfig::new(ResourceSpecifier::Topic(&self.name)).set(key, value);
        let results = admin(&self.brokers).alter_configs(&[change], &options()).await.expect("alter configs request");
        for r in results {
            r.unwrap_or_else(|e| panic!("set {key}={value} on {}: {e:?}", self.name));
        }
    }

    pub async fn delete(mut self) {
        self.deleted = true;
        let results =
            admin(&self.brokers).delete_topics(&[&self.name], &options()).await.expect("delete topic request");
        for r in results {
            r.unwrap_or_else(|(topic, e)| panic!("delete topic {topic}: {e}"));
        }
    }
}

impl Drop for TestTopic {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // Best effort, off the test's runtime: the test is already failing.
        let (brokers, name) = (self.brokers.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(admin(&brokers).delete_topics(&[&name], &options())).ok()
        });
        let _ = cleanup.join();
    }
}

/// One message as read back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// The value; a null value reads as empty.
    pub value: Vec<u8>,
}

/// Reads `topic` from the beginning in a fresh consumer group until
/// `expected` messages arrived (or `timeout` passed), sorted by partition and
/// offset; with the high watermark of each partition afterwards.
pub async fn consume_all(
    brokers: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> (Vec<Received>, BTreeMap<i32, i64>) {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("sluice-test-{:08x}", rand::random::<u32>()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("create a Kafka consumer");
    consumer.subscribe(&[topic]).expect("subscribe");

    let deadline = tokio::time::Instant::now() + timeout;
    let mut received = Vec::with_capacity(expected);
    while received.len() < expected {
        let message = match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(message) => message.expect("consume"),
            Err(_) => panic!("read {} of {expected} messages from {topic} within {timeout:?}", received.len()),
        };
        received.push(Received {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        });
    }
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)).expect("topic metadata");
    let partitions: Vec<i32> = metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    let watermarks = partitions
        .into_iter()
        .map(|p| {
            let (_low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(5)).expect("watermarks");
            (p, high)
        })
        .collect();
    received.sort();
    (received, watermarks)
}
