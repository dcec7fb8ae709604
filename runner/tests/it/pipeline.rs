//! `sluice run` end to end against the real broker and MariaDB: exactly the
//! valid events land once, every poison pill is dead-lettered, statistics
//! add up, and that stays true across poison pills at offset 0, SIGKILL at
//! random moments, and a rebalance after one of two processes dies.

use std::collections::BTreeMap;
use std::time::Duration;

use loadgen::{self, EventRecord};
use rand::Rng;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::helpers::db::fresh_database;
use crate::helpers::http::{free_address, get, sample, total};
use crate::helpers::kafka::{TestTopic, consume_all, fresh_topic, fresh_topic_name, fresh_topic_with, topic_named};
use crate::helpers::sluice::{
    Load, Sluice, assert_exact, expected_offsets, produce, wait_for_offsets, write_pipeline, write_pipeline_with,
    write_pipeline_with_dead_letter_topic, write_pipeline_with_stage,
};

/// Kafka's committed offsets of `group` (the secondary copy lag tools read).
fn committed(brokers: &str, group: &str, topic: &str, partitions: &[i32]) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", brokers).set("group.id", group).create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition(topic, *p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed offsets");
    committed
        .elements()
        .iter()
        .map(|e| {
            (
                e.partition(),
                match e.offset() {
                    Offset::Offset(o) => o,
                    _ => -1,
                },
            )
        })
        .collect()
}

struct Run {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    url: String,
    pool: sqlx::MySqlPool,
    topic: TestTopic,
    group: String,
    started: usize,
}

impl Run {
    async fn new(prefix: &str) -> Run {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_pipeline(dir.path());
        let (url, pool) = fresh_database(prefix).await;
        let topic = fresh_topic(prefix, 3).await;
        let group = format!("{}-group", topic.name);
        Run { dir, config, url, pool, topic, group, started: 0 }
    }

    /// Waits (up to 60 s) until every one of `events` is committed, while
    /// `sluice` runs.
    async fn wait_committed(&self, events: &[EventRecord], sluice: &mut Sluice) {
        let expected = expected_offsets(events);
        wait_for_offsets(&self.pool, &self.topic.name, &expected, Duration::from_secs(60), &mut [sluice]).await;
    }

    fn sluice(&mut self) -> Sluice {
        self.sluice_with(&[])
    }

    /// [`Run::sluice`] with more environment variables.
    fn sluice_with(&mut self, env: &[(&str, &str)]) -> Sluice {
        self.started += 1;
        let log = self.dir.path().join(format!("sluice-{}.log", self.started));
        Sluice::start_with_env(&self.config, &self.url, &self.topic.brokers, &self.topic.name, &self.group, log, env)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_exactly_once_with_poison_pills_and_zero_lag() {
    let mut run = Run::new("e2e").await;
    let http = free_address();
    let mut sluice = run.sluice_with(&[("SLUICE_HTTP_LISTEN", &http.to_string())]);
    let events = produce(Load {
        count: 4000,
        sessions: 25,
        interval_ms: 0,
        seed: 11,
        ..Load::to(&run.topic, run.dir.path().join("events.jsonl"))
    })
    .await;
    let kinds: std::collections::BTreeSet<_> = events.iter().filter_map(|e| e.poison).collect();
    assert_eq!(kinds.len(), 7, "every kind of poison pill was sent: {kinds:?}");
    let expected = expected_offsets(&events);
    wait_for_offsets(&run.pool, &run.topic.name, &expected, Duration::from_secs(120), &mut [&mut sluice]).await;
    assert_exact(&run.pool, &run.topic.name, &events).await;

    // Lag: Kafka's copy of the offsets catches up with the log end.
    let partitions: Vec<i32> = expected.keys().copied().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let kafka = committed(&run.topic.brokers, &run.group, &run.topic.name, &partitions);
        if kafka == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumer lag not zero: committed {kafka:?}, log end {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The metrics count what was produced, written and dead-lettered.
    let (status, metrics) = get(http, "/metrics").await.expect("scrape /metrics");
    assert_eq!(status, 200);
    let poison = events.iter().filter(|e| e.poison.is_some()).count() as f64;
    let sent = events.len() as f64;
    let count = |name: &str, labels: &str| sample(&metrics, name, labels);
    assert_eq!(count("sluice_stage_records_total", r#"stage="validate",outcome="in""#), sent, "{metrics}");
    assert_eq!(count("sluice_stage_records_total", r#"stage="validate",outcome="rejected""#), poison);
    assert_eq!(count("sluice_stage_records_total", r#"stage="stats",outcome="in""#), sent - poison);
    assert_eq!(count("sluice_sink_rows_total", r#"table="study_log""#), sent - poison);
    assert_eq!(count("sluice_dead_letters_total", r#"stage="validate",reason_class="rejected""#), poison);
    assert_eq!(total(&metrics, "sluice_dead_letters_total"), poison);
    let stats_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM study_stats").fetch_one(&run.pool).await.expect("count");
    assert!(count("sluice_sink_rows_total", r#"table="study_stats""#) >= stats_rows as f64, "upserted stats rows");
    assert_eq!(count("sluice_partitions_assigned", ""), 3.0);
    assert!(count("sluice_batch_records_count", "") >= 1.0, "{metrics}");
    for stage in ["validate", "stats"] {
        assert!(metrics.contains(&format!("sluice_module_info{{stage=\"{stage}\",sha256=\"")), "{metrics}");
    }
    assert_eq!(get(http, "/healthz").await.expect("healthz").0, 200);
    let (status, ready) = get(http, "/readyz").await.expect("readyz");
    assert_eq!(status, 200, "{ready}");

    let status = sluice.terminate();
    assert!(status.success(), "sluice exited with {status} after SIGTERM");
    run.topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_pill_at_offset_zero_blocks_nothing_on_first_start_or_after_restart() {
    let mut run = Run::new("pill0").await;
    // Dead letters also go to a topic of their own here.
    let dlq = fresh_topic("pill0-dlq", 1).await;
    run.config = write_pipeline_with_dead_letter_topic(run.dir.path(), Some(&dlq.name));
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &run.topic.brokers).create().expect("producer");
    let topic = run.topic.name.clone();
    let mut events = Vec::new();
    let valid = |p: i32, i: i64| {
        format!(r#"{{"sessionId":"learner-{p}","eventType":"FOCUS","timestamp":"2026-01-28T10:00:{i:02}.000+09:00"}}"#)
    };
    // Offset 0 of every partition is a poison pill.
    for partition in 0..3 {
        let pill = send(&producer, &topic, partition, "{\"sessionId\": \"broken", None).await;
        assert_eq!(pill.offset, 0);
        events.push(pill);
    }
    for partition in 0..3 {
        for i in 0..5 {
            events.push(
                send(&producer, &topic, partition, &valid(partition, i), Some(format!("learner-{partition}"))).await,
            );
        }
    }
    let mut sluice = run.sluice();
    run.wait_committed(&events, &mut sluice).await;
    assert_exact(&run.pool, &run.topic.name, &events).await;
    assert!(sluice.terminate().success());

    // After a restart: another pill first, then more events; it flows past again.
    for partition in 0..3 {
        events.push(send(&producer, &topic, partition, "", None).await);
        for i in 5..8 {
            events.push(
                send(&producer, &topic, partition, &valid(partition, i), Some(format!("learner-{partition}"))).await,
            );
        }
    }
    let mut sluice = run.sluice();
    run.wait_committed(&events, &mut sluice).await;
    assert_exact(&run.pool, &run.topic.name, &events).await;
    assert!(sluice.terminate().success());

    // The dead-letter topic holds each pill's original value, once.
    let pills: Vec<Vec<u8>> =
        events.iter().filter(|e| e.poison.is_some()).map(|e| e.value.as_bytes().to_vec()).collect();
    let (copies, log_end) = consume_all(&dlq.brokers, &dlq.name, pills.len(), Duration::from_secs(30)).await;
    assert_eq!(
        log_end.values().sum::<i64>(),
        i64::try_from(pills.len()).expect("count"),
        "no extra copies on the dead-letter topic"
    );
    let mut got: Vec<Vec<u8>> = copies.into_iter().map(|r| r.value).collect();
    let mut want = pills;
    got.sort();
    want.sort();
    assert_eq!(got, want, "dead-letter topic");
    dlq.delete().await;
    run.topic.delete().await;
}

/// Sends `value` to `partition`; `session` names the learner of a valid
/// event, `None` marks a poison pill.
async fn send(
    producer: &FutureProducer,
    topic: &str,
    partition: i32,
    value: &str,
    session: Option<String>,
) -> EventRecord {
    let key = format!("p{partition}");
    let delivery = producer
        .send(FutureRecord::to(topic).partition(partition).key(&key).payload(value), Duration::from_secs(10))
        .await
        .expect("send");
    record(delivery.partition, delivery.offset, value, session)
}

fn record(partition: i32, offset: i64, value: &str, session: Option<String>) -> EventRecord {
    let poison = if session.is_some() { None } else { Some(loadgen::PoisonKind::MalformedJson) };
    EventRecord {
        seq: 0,
        session: session.clone().unwrap_or_default(),
        partition,
        offset,
        key: String::new(),
        value: value.to_string(),
        poison,
        event_type: session.map(|_| loadgen::EventType::Focus),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let mut run = Run::new("crash").await;
    let producing = tokio::spawn(produce(Load {
        count: 24_000,
        sessions: 12,
        interval_ms: 5,
        seed: 7,
        ..Load::to(&run.topic, run.dir.path().join("events.jsonl"))
    }));
    let mut rng = rand::rng();
    for round in 0..10 {
        let mut sluice = run.sluice();
        let alive = Duration::from_millis(rng.random_range(700..2500));
        tokio::time::sleep(alive).await;
        sluice.assert_running();
        sluice.kill();
        eprintln!("round {round}: killed after {alive:?}");
    }
    let events = producing.await.expect("producer task");
    let mut sluice = run.sluice();
    wait_for_offsets(
        &run.pool,
        &run.topic.name,
        &expected_offsets(&events),
        Duration::from_secs(180),
        &mut [&mut sluice],
    )
    .await;
    assert_exact(&run.pool, &run.topic.name, &events).await;
    assert!(sluice.terminate().success());
    run.topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_in_one_group_survive_one_dying() {
    let mut run = Run::new("rebalance").await;
    let mut first = run.sluice();
    let mut second = run.sluice();
    let producing = tokio::spawn(produce(Load {
        count: 16_000,
        sessions: 12,
        interval_ms: 5,
        seed: 3,
        ..Load::to(&run.topic, run.dir.path().join("events.jsonl"))
    }));
    // Both share the partitions for a while, then one dies mid-run.
    let assignments =
        |s: &Sluice| std::fs::read_to_string(&s.log).unwrap_or_default().matches("partitions assigned").count();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while assignments(&first) == 0 || assignments(&second) == 0 {
        first.assert_running();
        second.assert_running();
        assert!(tokio::time::Instant::now() < deadline, "both processes own partitions within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = assignments(&second);
    first.kill();
    // The survivor is given the dead one's partitions.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while assignments(&second) == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no rebalance after the kill:\n{}",
            crate::helpers::sluice::tail(&second.log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = producing.await.expect("producer task");
    wait_for_offsets(
        &run.pool,
        &run.topic.name,
        &expected_offsets(&events),
        Duration::from_secs(180),
        &mut [&mut second],
    )
    .await;
    assert_exact(&run.pool, &run.topic.name, &events).await;
    assert!(second.terminate().success());
    run.topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_stage_pauses_the_partitions_instead_of_dead_lettering_everything() {
    let mut run = Run::new("broken").await;
    // A stage that fails every batch as a whole: a broken deploy.
    run.config = write_pipeline_with_stage(
        run.dir.path(),
        "[[transforms]]\nname = \"gate\"\nmodule = \"{modules}/misbehave.wasm\"\n[transforms.params]\nmode = \"error\"",
    );
    let mut sluice = run.sluice();
    let events = produce(Load {
        count: 600,
        sessions: 6,
        interval_ms: 0,
        seed: 21,
        ..Load::to(&run.topic, run.dir.path().join("events.jsonl"))
    })
    .await;
    // Compiling the three modules can take seconds on a busy machine.
    wait_log(&mut sluice, "stage broken").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    sluice.assert_running();
    let written: i64 = sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM study_log) + (SELECT COUNT(*) FROM dead_letter) + (SELECT COUNT(*) FROM sluice_offsets)")
        .fetch_one(&run.pool)
        .await
        .expect("count");
    assert_eq!(written, 0, "a broken stage writes nothing: no rows, no dead letters, no offsets");
    let log = std::fs::read_to_string(&sluice.log).unwrap_or_default();
    assert!(
        log.contains("stage broken"),
        "the broken stage is reported:\n{}",
        crate::helpers::sluice::tail(&sluice.log)
    );
    assert!(sluice.terminate().success(), "a partition waiting out a broken stage still shuts down cleanly");

    // The fixed deploy processes everything that waited, exactly once.
    run.config = write_pipeline_with_stage(
        run.dir.path(),
        "[[transforms]]\nname = \"gate\"\nmodule = \"{modules}/misbehave.wasm\"\n[transforms.params]\nmode = \"ok\"",
    );
    let mut sluice = run.sluice();
    run.wait_committed(&events, &mut sluice).await;
    assert_exact(&run.pool, &run.topic.name, &events).await;
    assert!(sluice.terminate().success());
    run.topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_replaced_by_a_broken_file_keeps_the_running_one() {
    let mut run = Run::new("reload").await;
    let module = run.dir.path().join("validate.wasm");
    std::fs::copy(crate::helpers::sluice::repo_root().join("target/transforms/validate.wasm"), &module)
        .expect("copy the module");
    let text = std::fs::read_to_string(&run.config).expect("read").replacen(
        &format!("{}/validate.wasm", crate::helpers::sluice::repo_root().join("target/transforms").display()),
        &module.display().to_string(),
        1,
    );
    std::fs::write(&run.config, text).expect("write");
    let mut sluice = run.sluice();
    let mut events = produce(Load {
        count: 500,
        sessions: 5,
        interval_ms: 0,
        seed: 31,
        ..Load::to(&run.topic, run.dir.path().join("first.jsonl"))
    })
    .await;
    run.wait_committed(&events, &mut sluice).await;

    // A deploy that is not a component at all, dropped in place (renamed, as a deploy should be).
    let staged = run.dir.path().join("validate.wasm.new");
    std::fs::write(&staged, b"not a wasm component").expect("write");
    std::fs::rename(&staged, &module).expect("rename");
    events.extend(
        produce(Load {
            count: 500,
            sessions: 5,
            interval_ms: 0,
            seed: 32,
            ..Load::to(&run.topic, run.dir.path().join("second.jsonl"))
        })
        .await,
    );
    run.wait_committed(&events, &mut sluice).await;
    assert_exact(&run.pool, &run.topic.name, &events).await;
    let log = std::fs::read_to_string(&sluice.log).unwrap_or_default();
    assert!(
        log.contains("kept the running module"),
        "the refused module is reported:\n{}",
        crate::helpers::sluice::tail(&sluice.log)
    );
    assert!(sluice.terminate().success());
    run.topic.delete().await;
}

/// `sluice check` on `config` with `url`: (success, stdout + stderr).
fn check(config: &std::path::Path, url: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["check", "--config"])
        .arg(config)
        .env("DATABASE_URL", url)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run sluice check");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_missing_tables_columns_and_refused_params_without_consuming() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_pipeline(dir.path());
    let (url, pool) = fresh_database("check").await;

    let (ok, out) = check(&config, &url);
    assert!(!ok && out.contains("table study_log does not exist"), "an unmigrated database fails the check:\n{out}");
    let tables: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            .fetch_one(&pool)
            .await
            .expect("count tables");
    assert_eq!(tables, 0, "check changes nothing");

    sluice::db::migrate(&pool).await.expect("migrate");
    let (ok, out) = check(&config, &url);
    assert!(ok && out.contains(": ok (2 stages, 2 tables)"), "{out}");

    sqlx::query("ALTER TABLE study_log DROP COLUMN event_type").execute(&pool).await.expect("drop a column");
    let (ok, out) = check(&config, &url);
    assert!(!ok && out.contains("table study_log has no column event_type"), "{out}");

    let text =
        std::fs::read_to_string(&config).expect("read").replace("local_offset = \"+09:00\"", "local_offset = \"nine\"");
    std::fs::write(&config, text).expect("write");
    let (ok, out) = check(&config, &url);
    assert!(!ok && out.contains("local_offset"), "a module refusing its params fails the check:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_the_database_refuses_is_dead_lettered_and_the_rest_of_its_batch_lands() {
    let mut run = Run::new("refused").await;
    // `validate` lets through an event type longer than study_log.event_type
    // (VARCHAR(32)): MariaDB answers 1406 for that record's row.
    let long_type = "CONCENTRATING_DEEPLY_ON_THE_LECTURE"; // 35 characters
    let text = std::fs::read_to_string(&run.config).expect("read the pipeline");
    let text = text.replace(r#""DROWSY"]"#, &format!(r#""DROWSY", "{long_type}"]"#));
    assert!(text.contains(long_type), "the long type is allowed");
    std::fs::write(&run.config, text).expect("write the pipeline");
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &run.topic.brokers).create().expect("producer");
    let event = |i: i64, event_type: &str| {
        format!(
            r#"{{"sessionId":"learner-1","eventType":"{event_type}","timestamp":"2026-01-28T10:00:{i:02}.000+09:00"}}"#
        )
    };
    // Ten events in one batch; the 4th (offset 3) has the long type.
    for i in 0..10 {
        let kind = if i == 3 { long_type } else { "FOCUS" };
        let sent = send(&producer, &run.topic.name, 0, &event(i, kind), Some("learner-1".into())).await;
        assert_eq!(sent.offset, i);
    }
    let mut sluice = run.sluice();
    let mut expected = BTreeMap::new();
    expected.insert(0, 10);
    wait_for_offsets(&run.pool, &run.topic.name, &expected, Duration::from_secs(60), &mut [&mut sluice]).await;

    let offsets: Vec<i64> = sqlx::query_scalar("SELECT kafka_offset FROM study_log ORDER BY kafka_offset")
        .fetch_all(&run.pool)
        .await
        .expect("rows");
    assert_eq!(offsets, vec![0, 1, 2, 4, 5, 6, 7, 8, 9], "the nine good events land, once");
    let dead: Vec<(String, String, i64, Vec<u8>)> =
        sqlx::query_as("SELECT stage, reason, kafka_offset, record_value FROM dead_letter")
            .fetch_all(&run.pool)
            .await
            .expect("dead letters");
    assert_eq!(dead.len(), 1, "one dead letter: {dead:?}");
    let (stage, reason, offset, value) = &dead[0];
    assert_eq!((stage.as_str(), *offset), ("validate", 3), "the stage that emitted the row, and the record");
    assert!(reason.contains("study_log") && reason.contains("1406"), "the database's error is the reason: {reason}");
    assert_eq!(value, event(3, long_type).as_bytes(), "the record as it came");
    let counted: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_type, CAST(SUM(event_count) AS SIGNED) FROM study_stats GROUP BY event_type")
            .fetch_all(&run.pool)
            .await
            .expect("stats");
    assert_eq!(counted, vec![("FOCUS".to_string(), 9)], "statistics count the nine, not the refused one");

    // The partition keeps flowing.
    for i in 10..15 {
        send(&producer, &run.topic.name, 0, &event(i, "FOCUS"), Some("learner-1".into())).await;
    }
    expected.insert(0, 15);
    wait_for_offsets(&run.pool, &run.topic.name, &expected, Duration::from_secs(60), &mut [&mut sluice]).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM study_log").fetch_one(&run.pool).await.expect("count");
    assert_eq!(rows, 14);
    assert!(sluice.terminate().success());
    run.topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_not_delivered_before_a_kill_reach_the_topic_after_a_restart() {
    let mut run = Run::new("outbox").await;
    // The dead-letter topic refuses the copies at first (every record batch
    // is larger than its max.message.bytes): the batch commits, the copies
    // are not delivered, and the process is killed in that state, as if it
    // had died between the commit and the delivery.
    let dlq = fresh_topic_with("outbox-dlq", 1, &[("max.message.bytes", "16")]).await;
    run.config = write_pipeline_with_dead_letter_topic(run.dir.path(), Some(&dlq.name));
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &run.topic.brokers).create().expect("producer");
    let mut events = Vec::new();
    for i in 0..6 {
        let value = if i % 2 == 0 {
            format!("{{\"broken\": {i}")
        } else {
            format!(
                r#"{{"sessionId":"learner-0","eventType":"FOCUS","timestamp":"2026-01-28T10:00:{i:02}.000+09:00"}}"#
            )
        };
        let session = (i % 2 == 1).then(|| "learner-0".to_string());
        events.push(send(&producer, &run.topic.name, 0, &value, session).await);
    }
    let mut sluice = run.sluice();
    run.wait_committed(&events, &mut sluice).await;
    sluice.kill();
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letter WHERE to_publish IS NOT NULL")
        .fetch_one(&run.pool)
        .await
        .expect("outbox");
    assert_eq!(pending, 3, "the three dead letters are committed and still to be published");

    // The topic takes writes again; a new process publishes what was left.
    dlq.set("max.message.bytes", "1048588").await;
    let mut sluice = run.sluice();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letter WHERE to_publish IS NOT NULL")
            .fetch_one(&run.pool)
            .await
            .expect("outbox");
        if pending == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{pending} dead letters still unpublished after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_exact(&run.pool, &run.topic.name, &events).await;
    assert!(sluice.terminate().success());
    let pills: Vec<Vec<u8>> =
        events.iter().filter(|e| e.poison.is_some()).map(|e| e.value.as_bytes().to_vec()).collect();
    let (copies, _) = consume_all(&dlq.brokers, &dlq.name, pills.len(), Duration::from_secs(30)).await;
    let mut got: Vec<Vec<u8>> = copies.into_iter().map(|r| r.value).collect();
    got.sort();
    got.dedup();
    let mut want = pills;
    want.sort();
    assert_eq!(got, want, "every dead letter is on the topic, at least once");
    dlq.delete().await;
    run.topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_topic_that_cannot_take_copies_holds_up_no_batch() {
    let mut run = Run::new("outbox-slow").await;
    // The dead-letter topic does not exist yet and may not be created on
    // first use: each copy waits for it until librdkafka gives up (30 s).
    // The batches must not wait with them.
    let dlq_name = fresh_topic_name("outbox-slow-dlq");
    run.config = write_pipeline_with(
        run.dir.path(),
        &[("allow.auto.create.topics", "false")],
        "max_retry_backoff_ms = 1000",
        Some(&dlq_name),
    );
    let text = std::fs::read_to_string(&run.config).expect("read the pipeline");
    std::fs::write(&run.config, text.replace("max_records = 500", "max_records = 50")).expect("write the pipeline");
    let mut sluice = run.sluice();
    let events = produce(Load {
        count: 1000,
        sessions: 5,
        seed: 61,
        ..Load::to(&run.topic, run.dir.path().join("events.jsonl"))
    })
    .await;
    let pills = events.iter().filter(|e| e.poison.is_some()).count();
    assert!(pills >= 20, "loadgen sent poison pills ({pills})");
    // 1,000 events in batches of at most 50: at least 20 batches, most with
    // a dead letter. Waiting 30 s for each would take many minutes.
    let started = std::time::Instant::now();
    run.wait_committed(&events, &mut sluice).await;
    assert_exact(&run.pool, &run.topic.name, &events).await;
    eprintln!("all batches committed {:?} after the load, with the dead-letter topic missing", started.elapsed());
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letter WHERE to_publish IS NOT NULL")
        .fetch_one(&run.pool)
        .await
        .expect("outbox");
    assert!(pending > 0, "the copies are still in the outbox");

    // Once the topic exists, the running process delivers every copy.
    let dlq = topic_named(&dlq_name, 1, &[]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letter WHERE to_publish IS NOT NULL")
            .fetch_one(&run.pool)
            .await
            .expect("outbox");
        if pending == 0 {
            break;
        }
        sluice.assert_running();
        assert!(tokio::time::Instant::now() < deadline, "{pending} dead letters still unpublished after 120 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (copies, _) = consume_all(&dlq.brokers, &dlq.name, pills, Duration::from_secs(30)).await;
    let mut got: Vec<&[u8]> = copies.iter().map(|c| c.value.as_slice()).collect();
    let mut want: Vec<&[u8]> = events.iter().filter(|e| e.poison.is_some()).map(|e| e.value.as_bytes()).collect();
    for v in [&mut got, &mut want] {
        v.sort_unstable();
        v.dedup();
    }
    assert_eq!(got, want, "every dead letter reached the topic");
    assert!(sluice.terminate().success());
    dlq.delete().await;
    run.topic.delete().await;
}

/// Waits (up to 60 s) until the log has `phrase`.
async fn wait_log(sluice: &mut Sluice, phrase: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&sluice.log).unwrap_or_default().contains(phrase) {
        sluice.assert_running();
        assert!(
            tokio::time::Instant::now() < deadline,
            "{phrase:?} not logged:\n{}",
            crate::helpers::sluice::tail(&sluice.log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_swapped_mid_stream_takes_effect_between_batches_and_dead_letters_name_their_module() {
    use sha2::Digest;
    let mut run = Run::new("swap").await;
    let module = run.dir.path().join("validate.wasm");
    let v1 = std::fs::read(crate::helpers::sluice::repo_root().join("target/transforms/validate.wasm")).expect("read");
    // The pipeline leaves validate's event types at the module's defaults;
    // v2's defaults no longer hold DISTRACTED, so it also rejects those events.
    // v3 is a deploy cut short: half of v2's bytes.
    let v2 = std::fs::read(crate::sandbox::patched_validate("DISTRACTED", "DISTRACTEX", "v2.wasm")).expect("read v2");
    let v3 = v2[..v2.len() / 2].to_vec();
    let hash = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    std::fs::write(&module, &v1).expect("write v1");
    let text = std::fs::read_to_string(&run.config)
        .expect("read")
        .replacen(
            &format!("{}/validate.wasm", crate::helpers::sluice::repo_root().join("target/transforms").display()),
            &module.display().to_string(),
            1,
        )
        .replacen("event_types = [\"FOCUS\", \"DISTRACTED\", \"AWAY\", \"DROWSY\"]\n", "", 1);
    assert!(!text.contains("event_types"), "validate runs with its default event types");
    std::fs::write(&run.config, text).expect("write");
    let deploy = |bytes: &[u8]| {
        let staged = module.with_extension("wasm.new");
        std::fs::write(&staged, bytes).expect("write");
        std::fs::rename(&staged, &module).expect("rename");
    };
    let http = free_address();
    let mut sluice = run.sluice_with(&[("SLUICE_HTTP_LISTEN", &http.to_string())]);
    let load = |n: u64, seed: u64, name: &str| Load {
        count: n,
        sessions: 5,
        interval_ms: 0,
        seed,
        ..Load::to(&run.topic, run.dir.path().join(name))
    };
    let first = produce(load(300, 71, "v1.jsonl")).await;
    run.wait_committed(&first, &mut sluice).await;

    deploy(&v2);
    wait_log(&mut sluice, "module compiled and initialized").await;
    let second = produce(load(300, 72, "v2.jsonl")).await;
    let mut all = first.clone();
    all.extend(second.iter().cloned());
    run.wait_committed(&all, &mut sluice).await;

    deploy(&v3);
    wait_log(&mut sluice, "kept the running module").await;
    let third = produce(load(200, 73, "v3.jsonl")).await;
    all.extend(third.iter().cloned());
    run.wait_committed(&all, &mut sluice).await;

    // Rows: v1's valid events, and later ones but DISTRACTED. Dead letters:
    // v1's poison pills with v1's hash; later pills and DISTRACTED events with
    // v2's; each record once.
    let distracted = |e: &EventRecord| e.poison.is_none() && e.event_type == Some(loadgen::EventType::Distracted);
    let later: Vec<&EventRecord> = second.iter().chain(&third).collect();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM study_log").fetch_one(&run.pool).await.expect("rows");
    let want_rows = first.iter().filter(|e| e.poison.is_none()).count()
        + later.iter().filter(|e| e.poison.is_none() && !distracted(e)).count();
    assert_eq!(rows, want_rows as i64);
    assert!(later.iter().any(|e| distracted(e)), "DISTRACTED events were sent after the swap");
    let dead: Vec<(i32, i64, Option<String>)> =
        sqlx::query_as("SELECT kafka_partition, kafka_offset, module_sha256 FROM dead_letter")
            .fetch_all(&run.pool)
            .await
            .expect("dead");
    let by_offset: std::collections::BTreeMap<(i32, i64), Option<String>> =
        dead.iter().map(|(p, o, h)| ((*p, *o), h.clone())).collect();
    assert_eq!(by_offset.len(), dead.len(), "no duplicate dead letters");
    let want: std::collections::BTreeMap<(i32, i64), Option<String>> = first
        .iter()
        .filter(|e| e.poison.is_some())
        .map(|e| ((e.partition, e.offset), Some(hash(&v1))))
        .chain(
            later
                .iter()
                .filter(|e| e.poison.is_some() || distracted(e))
                .map(|e| ((e.partition, e.offset), Some(hash(&v2)))),
        )
        .collect();
    let wrong: Vec<_> = want
        .iter()
        .filter(|(k, v)| by_offset.get(*k) != Some(*v))
        .map(|(k, v)| (k, v, by_offset.get(k)))
        .take(5)
        .collect();
    let extra: Vec<_> = by_offset.keys().filter(|k| !want.contains_key(*k)).take(5).collect();
    assert!(
        wrong.is_empty() && extra.is_empty(),
        "dead letters and the modules that rejected them: {} wrong (want, got) {wrong:?}, extra {extra:?}",
        want.len()
    );

    // The compile happened once, on the watcher; v3 was refused with one line.
    let log = std::fs::read_to_string(&sluice.log).unwrap_or_default();
    let v2_short = &hash(&v2)[..16];
    let compiles = log.lines().filter(|l| l.contains("compiled transform module") && l.contains(v2_short)).count();
    assert_eq!(compiles, 1, "v2 compiled once, by the watcher:\n{log}");
    assert_eq!(log.lines().filter(|l| l.contains("kept the running module")).count(), 1);
    assert!(log.contains("swapped in the new module at a batch boundary"));
    let (_, metrics) = get(http, "/metrics").await.expect("metrics");
    assert_eq!(sample(&metrics, "sluice_module_reloads_total", r#"stage="validate",result="accepted""#), 1.0);
    assert_eq!(sample(&metrics, "sluice_module_reloads_total", r#"stage="validate",result="refused""#), 1.0);
    let info = |h: &str| sample(&metrics, "sluice_module_info", &format!(r#"stage="validate",sha256="{h}""#));
    assert_eq!((info(&hash(&v1)), info(&hash(&v2))), (0.0, 1.0), "{metrics}");
    assert!(sluice.terminate().success());
    run.topic.delete().await;
}
