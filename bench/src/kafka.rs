//! The broker side: a fresh topic per scenario, its high watermarks, a
//! group's committed offsets (what the progress watcher polls), whether a
//! group is up, and every record's timestamp read back for the latency
//! scenario.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Partitions of every benchmark topic, as the seed's.
pub const PARTITIONS: i32 = 3;

fn admin(brokers: &str) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    ClientConfig::new().set("bootstrap.servers", brokers).create().context("creating a Kafka admin client")
}

/// A plain client (no group) for metadata and watermarks.
pub fn client(brokers: &str) -> anyhow::Result<BaseConsumer> {
    ClientConfig::new().set("bootstrap.servers", brokers).create().context("creating a Kafka client")
}

/// A client that reads `group`'s committed offsets; it never joins the group.
pub fn group_reader(brokers: &str, group: &str) -> anyhow::Result<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .with_context(|| format!("creating a Kafka client for group {group}"))
}

/// Creates `bench-<label>-<random>` with [`PARTITIONS`] partitions and waits
/// until each has a leader.
pub async fn create_topic(brokers: &str, label: &str) -> anyhow::Result<String> {
    let name = format!("bench-{label}-{:08x}", rand::random::<u32>());
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin(brokers)?
        .create_topics(&[NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1))], &options)
        .await
        .with_context(|| format!("creating topic {name} on {brokers}"))?;
    for r in results {
        r.map_err(|(topic, e)| anyhow!("creating topic {topic}: {e}"))?;
    }
    let probe = client(brokers)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = probe.fetch_metadata(Some(&name), TIMEOUT).ok().is_some_and(|m| {
            m.topics().iter().any(|t| {
                t.error().is_none()
                    && t.partitions().len() == PARTITIONS as usize
                    && t.partitions().iter().all(|p| p.leader() >= 0)
            })
        });
        if ready {
            return Ok(name);
        }
        if Instant::now() > deadline {
            bail!("topic {name} has no leaders after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn delete_topic(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = admin(brokers)?.delete_topics(&[topic], &options).await.context("deleting a topic")?;
    for r in results {
        r.map_err(|(topic, e)| anyhow!("deleting topic {topic}: {e}"))?;
    }
    Ok(())
}

/// The high watermark (next offset) of each partition.
pub fn high_watermarks(client: &BaseConsumer, topic: &str) -> anyhow::Result<Vec<i64>> {
    (0..PARTITIONS)
        .map(|p| {
            client
                .fetch_watermarks(topic, p, TIMEOUT)
                .map(|(_, high)| high)
                .with_context(|| format!("watermarks of {topic}/{p}"))
        })
        .collect()
}

/// `group`'s committed next offset of each partition; 0 where none yet.
pub fn committed(reader: &BaseConsumer, topic: &str) -> anyhow::Result<Vec<i64>> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    let got = reader.committed_offsets(tpl, TIMEOUT).context("reading a group's committed offsets")?;
    let mut out = vec![0; PARTITIONS as usize];
    for e in got.elements() {
        if let (Offset::Offset(n), Ok(i)) = (e.offset(), usize::try_from(e.partition()))
            && let Some(slot) = out.get_mut(i)
        {
            *slot = n;
        }
    }
    Ok(out)
}

/// Members of `group` when it is in the Stable state, else 0.
pub fn stable_members(client: &BaseConsumer, group: &str) -> usize {
    match client.fetch_group_list(Some(group), TIMEOUT) {
        Ok(list) => list.groups().iter().filter(|g| g.state() == "Stable").map(|g| g.members().len()).sum(),
        Err(_) => 0,
    }
}

/// Every record's producer timestamp (CreateTime, epoch ms), by partition,
/// in offset order: reads `topic` from the beginning up to `ends`.
pub fn read_timestamps(brokers: &str, topic: &str, ends: &[i64]) -> anyhow::Result<BTreeMap<i32, Vec<(i64, i64)>>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("bench-read-{:08x}", rand::random::<u32>()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .context("creating the timestamp reader")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning).context("building the assignment")?;
    }
    consumer.assign(&tpl).context("assigning the partitions to read")?;
    let mut out: BTreeMap<i32, Vec<(i64, i64)>> = (0..PARTITIONS).map(|p| (p, Vec::new())).collect();
    let done = |out: &BTreeMap<i32, Vec<(i64, i64)>>| {
        out.iter().all(|(p, v)| {
            let end = usize::try_from(*p).ok().and_then(|i| ends.get(i)).copied().unwrap_or(0);
            v.last().map_or(end == 0, |(o, _)| *o + 1 >= end)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done(&out) {
        if Instant::now() > deadline {
            bail!("reading {topic} back took more than 10 minutes");
        }
        let Some(message) = consumer.poll(Duration::from_millis(500)) else { continue };
        let message = message.context("reading the topic back")?;
        let ts = message.timestamp().to_millis().context("a record without a timestamp")?;
        out.entry(message.partition()).or_default().push((message.offset(), ts));
    }
    Ok(out)
}
