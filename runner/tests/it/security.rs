//! TLS and SASL for real: pipelines that reach the broker only through its
//! SSL, SASL_PLAINTEXT and SASL_SSL listeners (PLAIN and SCRAM-SHA-512) and
//! MariaDB only as a user it refuses without TLS, with the certificates
//! `scripts/stack up` made. The tables come out exact each time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::helpers::db::fresh_database;
use crate::helpers::kafka::{TestTopic, consume_all, fresh_topic};
use crate::helpers::secure::{SecureStack, secure_stack};
use crate::helpers::sluice::{
    Load, Sluice, assert_exact, expected_offsets, produce, wait_for_offsets, write_pipeline_with_dead_letter_topic,
};

/// The seed pipeline with `[source.kafka]` set to `kafka` and `sink` lines
/// added to `[sink]`.
pub fn secured_pipeline(dir: &Path, kafka: &[(&str, &str)], sink: &str, dead_letter_topic: Option<&str>) -> PathBuf {
    let path = write_pipeline_with_dead_letter_topic(dir, dead_letter_topic);
    let text = std::fs::read_to_string(&path).expect("read the test pipeline");
    let url_line = "database_url = \"${DATABASE_URL}\"";
    assert!(text.contains(url_line), "the seed pipeline sets database_url from DATABASE_URL");
    let mut text = text.replacen(url_line, &format!("{url_line}\n{sink}"), 1);
    text.push_str("\n[source.kafka]\n");
    for (key, value) in kafka {
        text.push_str(&format!("{key:?} = {value:?}\n"));
    }
    std::fs::write(&path, text).expect("write the test pipeline");
    path
}

/// A fresh database, and its URL for the TLS-only user.
async fn tls_database(stack: &SecureStack, prefix: &str) -> (String, sqlx::MySqlPool) {
    let (url, pool) = fresh_database(prefix).await;
    let name = url.rsplit('/').next().expect("database name");
    (format!("{}/{name}", stack.db_server), pool)
}

/// Where a secured run reads and writes, and the secrets its file refers to.
struct Target<'a> {
    brokers: &'a str,
    database_url: &'a str,
    pool: &'a sqlx::MySqlPool,
    secrets: &'a [(&'a str, &'a str)],
}

/// Produces `count` events to `topic`, runs one `sluice run` with `config`
/// against `target` until every event is committed, and checks the tables.
async fn run_to_exactness(
    dir: &Path,
    config: &Path,
    topic: &TestTopic,
    target: &Target<'_>,
    count: u64,
) -> Vec<loadgen::EventRecord> {
    let name = config.file_stem().and_then(|s| s.to_str()).unwrap_or("pipeline");
    let events =
        produce(Load { count, sessions: 8, seed: 23, ..Load::to(topic, dir.join(format!("{name}.jsonl"))) }).await;
    let group = format!("{}-group", topic.name);
    let log = dir.join(format!("{name}.log"));
    let mut sluice =
        Sluice::start_with_env(config, target.database_url, target.brokers, &topic.name, &group, log, target.secrets);
    let expected = expected_offsets(&events);
    wait_for_offsets(target.pool, &topic.name, &expected, Duration::from_secs(90), &mut [&mut sluice]).await;
    assert_exact(target.pool, &topic.name, &events).await;
    assert!(sluice.terminate().success(), "sluice exited cleanly");
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_runs_over_sasl_ssl_with_scram_and_mysql_tls_verifying_the_server() {
    let stack = secure_stack();
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = fresh_topic("sasl-ssl", 3).await;
    let dlq = fresh_topic("sasl-ssl-dlq", 1).await;
    let (url, pool) = tls_database(&stack, "tls").await;
    let ca = stack.ca.display().to_string();
    let config = secured_pipeline(
        dir.path(),
        &[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", &stack.user),
            ("sasl.password", "${KAFKA_SASL_PASSWORD}"),
            ("ssl.ca.location", &ca),
        ],
        &format!("ssl_mode = \"verify_identity\"\nssl_ca = {ca:?}"),
        Some(&dlq.name),
    );
    let secrets = [("KAFKA_SASL_PASSWORD", stack.password.as_str())];
    let target = Target { brokers: &stack.sasl_ssl, database_url: &url, pool: &pool, secrets: &secrets };
    let events = run_to_exactness(dir.path(), &config, &topic, &target, 600).await;

    // The dead-letter producer went through the same listener.
    let pills = events.iter().filter(|e| e.poison.is_some()).count();
    assert!(pills > 0, "loadgen sent poison pills");
    let (copies, _) = consume_all(&dlq.brokers, &dlq.name, pills, Duration::from_secs(30)).await;
    assert!(copies.len() >= pills, "every dead letter reached the topic over SASL_SSL");
    dlq.delete().await;
    topic.delete().await;
}

/// A listener's name, address and the `[source.kafka]` settings for it.
type Way<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ssl_and_sasl_plain_listeners_each_carry_a_pipeline() {
    let stack = secure_stack();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = stack.ca.display().to_string();
    let ways: [Way<'_>; 3] = [
        ("ssl", &stack.ssl, vec![("security.protocol", "SSL"), ("ssl.ca.location", &ca)]),
        (
            "sasl-plaintext",
            &stack.sasl_plaintext,
            vec![
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", &stack.user),
                ("sasl.password", "${KAFKA_SASL_PASSWORD}"),
            ],
        ),
        (
            "sasl-ssl-plain",
            &stack.sasl_ssl,
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", &stack.user),
                ("sasl.password", "${KAFKA_SASL_PASSWORD}"),
                ("ssl.ca.location", &ca),
            ],
        ),
    ];
    let secrets = [("KAFKA_SASL_PASSWORD", stack.password.as_str())];
    for (name, brokers, kafka) in ways {
        let topic = fresh_topic(name, 1).await;
        let (url, pool) = fresh_database("listener").await;
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).expect("dir");
        let config = secured_pipeline(&sub, &kafka, "", None);
        let target = Target { brokers, database_url: &url, pool: &pool, secrets: &secrets };
        run_to_exactness(&sub, &config, &topic, &target, 80).await;
        topic.delete().await;
    }
}
