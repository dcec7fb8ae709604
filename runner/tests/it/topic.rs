//! The source topic at start-up: `sluice run` creates a missing topic with
//! `[source] partitions` and `replication_factor` and then consumes it; a
//! broker that refuses the settings stops the start with an error naming the
//! topic, the settings and the broker's reason, before anything is consumed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::helpers::db::fresh_database;
use crate::helpers::kafka::{brokers, fresh_topic_name, require_broker};
use crate::helpers::sluice::{
    Load, Sluice, assert_exact, expected_offsets, produce, tail, wait_for_offsets, write_pipeline_with,
};

/// The seed pipeline with `[source] partitions` and `replication_factor` set.
fn write_pipeline_creating(dir: &Path, partitions: u32, replication_factor: u32) -> std::path::PathBuf {
    let path = write_pipeline_with(dir, &[], "", None);
    let text = std::fs::read_to_string(&path).expect("read the test pipeline");
    let mut set = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with("partitions = ") {
                set += 1;
                format!("partitions = {partitions}")
            } else if line.starts_with("replication_factor = ") {
                set += 1;
                format!("replication_factor = {replication_factor}")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert_eq!(set, 2, "the seed pipeline sets partitions and replication_factor in [source]");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the test pipeline");
    path
}

/// A metadata-only client: a consumer, so that asking about a missing topic
/// does not make the broker create it.
fn metadata_client(brokers: &str) -> BaseConsumer {
    ClientConfig::new().set("bootstrap.servers", brokers).create().expect("create a Kafka client")
}

/// The partitions of `topic` once it exists and each has a leader; `None`
/// while the broker does not know it.
fn partitions_with_leaders(client: &BaseConsumer, topic: &str) -> Option<usize> {
    let metadata = client.fetch_metadata(Some(topic), Duration::from_secs(5)).ok()?;
    let found = metadata.topics().iter().find(|t| t.name() == topic)?;
    let ready =
        found.error().is_none() && !found.partitions().is_empty() && found.partitions().iter().all(|p| p.leader() >= 0);
    ready.then(|| found.partitions().len())
}

/// Deletes the topic Sluice created when the test ends, passed or not.
struct DeleteOnDrop {
    brokers: String,
    topic: String,
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let (brokers, topic) = (self.brokers.clone(), self.topic.clone());
        // Off the test's runtime, best effort.
        let cleanup = std::thread::spawn(move || {
            let admin: AdminClient<DefaultClientContext> =
                ClientConfig::new().set("bootstrap.servers", &brokers).create().ok()?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)));
            runtime.block_on(admin.delete_topics(&[&topic], &options)).ok()
        });
        let _ = cleanup.join();
    }
}

/// A topic that does not exist is created with the configured partitions
/// (2, not the broker's default of 3) before the consumer starts, and events
/// sent to it then land in MySQL exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_is_created_with_the_configured_partitions_and_consumed() {
    let brokers = brokers();
    require_broker(&brokers);
    let dir = tempfile::tempdir().expect("temp dir");
    let name = fresh_topic_name("created");
    let _cleanup = DeleteOnDrop { brokers: brokers.clone(), topic: name.clone() };
    let client = metadata_client(&brokers);
    assert_eq!(partitions_with_leaders(&client, &name), None, "{name} exists before the test");

    let (url, pool) = fresh_database("topic_created").await;
    let config = write_pipeline_creating(dir.path(), 2, 1);
    let log = dir.path().join("sluice.log");
    let group = format!("{name}-group");
    let mut sluice = Sluice::start(&config, &url, &brokers, &name, &group, log.clone());

    // Nothing sends to the topic before Sluice has made it: a producer would
    // have the broker create it with its own defaults.
    let deadline = Instant::now() + Duration::from_secs(60);
    let partitions = loop {
        if let Some(n) = partitions_with_leaders(&client, &name) {
            break n;
        }
        sluice.assert_running();
        assert!(Instant::now() < deadline, "Sluice did not create {name} within 60 s:\n{}", tail(&log));
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(partitions, 2, "{name} was created with the broker's defaults, not [source] partitions");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("created the source topic with 2 partitions and replication factor 1"),
        "no log line about the creation:\n{}",
        tail(&log)
    );

    let events = produce(Load {
        brokers: brokers.clone(),
        topic: name.clone(),
        events: dir.path().join("events.jsonl"),
        count: 800,
        sessions: 10,
        interval_ms: 0,
        seed: 29,
    })
    .await;
    let expected = expected_offsets(&events);
    assert!(expected.keys().all(|p| (0..2).contains(p)), "events went to partitions {expected:?}");
    wait_for_offsets(&pool, &name, &expected, Duration::from_secs(120), &mut [&mut sluice]).await;
    assert_exact(&pool, &name, &events).await;
    assert!(sluice.terminate().success(), "sluice did not exit cleanly:\n{}", tail(&log));
}

/// Replication factor 3 on the single-broker stack: the broker refuses, and
/// Sluice exits at once with an error that names the topic, the settings and
/// the broker's reason. It creates no topic (not even one with the broker's
/// defaults) and touches no table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_replication_factor_stops_the_start_with_the_reason() {
    let brokers = brokers();
    require_broker(&brokers);
    let client = metadata_client(&brokers);
    let cluster = client.fetch_metadata(None, Duration::from_secs(5)).expect("cluster metadata").brokers().len();
    assert!(cluster < 3, "this test needs fewer than 3 brokers; {brokers} has {cluster}");
    let dir = tempfile::tempdir().expect("temp dir");
    let name = fresh_topic_name("refused");
    let _cleanup = DeleteOnDrop { brokers: brokers.clone(), topic: name.clone() };
    let (url, pool) = fresh_database("topic_refused").await;
    let config = write_pipeline_creating(dir.path(), 3, 3);

    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--config"])
        .env("SLUICE_HTTP_LISTEN", "127.0.0.1:0")
        .arg(&config)
        .env("DATABASE_URL", &url)
        .env("KAFKA_BROKERS", &brokers)
        .env("SLUICE_TOPIC", &name)
        .env("SLUICE_GROUP", format!("{name}-group"))
        .env("RUST_LOG", "info,sluice=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sluice");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll sluice") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("sluice's output");
            panic!(
                "sluice still runs 60 s after the broker refused the topic:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let out = child.wait_with_output().expect("sluice's output");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "sluice exited with success after a refusal:\n{text}");
    let said = text.lines().find(|l| l.contains("Kafka refuses to create the topic")).unwrap_or_else(|| {
        panic!("no line says that Kafka refuses the topic:\n{text}");
    });
    eprintln!("{said}");
    for part in [
        name.as_str(),
        "partitions = 3",
        "replication_factor = 3",
        "Invalid replication factor",
        &format!("the cluster has {cluster} broker"),
    ] {
        assert!(said.contains(part), "the refusal does not say {part:?}: {said}");
    }
    assert!(!text.contains(": running "), "sluice started consuming:\n{text}");

    assert_eq!(partitions_with_leaders(&client, &name), None, "{name} was created after all");
    let (tables,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()")
            .fetch_one(&pool)
            .await
            .expect("count tables");
    assert_eq!(tables, 0, "sluice touched the database before the topic was settled");
}
