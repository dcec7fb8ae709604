//! TLS and SASL for real: pipelines that reach the broker only through its
//! SSL, SASL_PLAINTEXT and SASL_SSL listeners (PLAIN and SCRAM-SHA-512) and
//! MariaDB only as a user it refuses without TLS, with the certificates
//! `scripts/stack up` made. The tables come out exact each time.

use std::path::Path;
use std::time::Duration;

use crate::helpers::db::fresh_database;
use crate::helpers::kafka::{TestTopic, consume_all, fresh_topic};
use crate::helpers::secure::{SecureStack, secure_stack};
use crate::helpers::sluice::{
    Load, Sluice, assert_exact, expected_offsets, produce, wait_for_offsets, write_pipeline_with,
};

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
    let config = write_pipeline_with(
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
        let config = write_pipeline_with(&sub, &kafka, "", None);
        let target = Target { brokers, database_url: &url, pool: &pool, secrets: &secrets };
        run_to_exactness(&sub, &config, &topic, &target, 80).await;
        topic.delete().await;
    }
}

/// Waits (up to 40 s) until `log` holds every one of `phrases`; returns the log.
async fn wait_for_log(log: &Path, phrases: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if phrases.iter().all(|p| text.contains(p)) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all of {phrases:?} in {} within 40 s:\n{}",
            log.display(),
            crate::helpers::sluice::tail(log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A way to fail: name, brokers, `[source.kafka]`, `[sink]` lines, database
/// URL, and what the log must say.
type Failure<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, String, &'a str, Vec<&'a str>);

/// A CA made now with openssl, which signed none of the stack's certificates.
fn other_ca(dir: &Path) -> String {
    let (key, cert) = (dir.join("other-ca.key"), dir.join("other-ca.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Not the stack's CA"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl (scripts/stack up installs it)");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    cert.display().to_string()
}

/// Every failure a user can provoke with credentials, certificates and
/// configuration is reported with its cause, and no output shows a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_failed_handshakes_and_bad_config_are_reported_without_a_secret() {
    let stack = secure_stack();
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = fresh_topic("secrets", 1).await;
    let (tls_url, _pool) = tls_database(&stack, "secrets").await;
    let (plain_url, _plain_pool) = fresh_database("secrets").await;
    let ca = stack.ca.display().to_string();
    let other_ca = &other_ca(dir.path());
    let wrong_kafka = "wrong-kafka-5e7a1c";
    let wrong_db = "wrong-db-3c9e";
    let db_password = stack.db_server.rsplit_once('@').and_then(|(creds, _)| creds.rsplit_once(':')).map(|(_, p)| p);
    let db_password = db_password.expect("the TLS user's URL has a password").to_string();
    let secrets = [stack.password.as_str(), db_password.as_str(), wrong_kafka, wrong_db];
    let scram = |password: &'static str| {
        vec![
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "sluice"),
            ("sasl.password", password),
            ("ssl.ca.location", ca.as_str()),
        ]
    };
    let wrong_db_url = tls_url.replace(&db_password, wrong_db);
    let verify = format!("ssl_mode = \"verify_ca\"\nssl_ca = {ca:?}");
    // (name, brokers, [source.kafka], [sink] lines, database URL, what the log must say)
    let cases: Vec<Failure<'_>> = vec![
        (
            "kafka-wrong-password",
            &stack.sasl_ssl,
            scram("${WRONG_KAFKA_PASSWORD}"),
            String::new(),
            &plain_url,
            vec!["Authentication failed", "invalid credentials with SASL mechanism SCRAM-SHA-512"],
        ),
        (
            "kafka-mechanism-refused",
            &stack.sasl_ssl,
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.username", "sluice"),
                ("sasl.password", "${KAFKA_SASL_PASSWORD}"),
                ("ssl.ca.location", &ca),
            ],
            String::new(),
            &plain_url,
            vec!["Unsupported SASL mechanism"],
        ),
        (
            "kafka-untrusted-certificate",
            &stack.ssl,
            vec![("security.protocol", "SSL"), ("ssl.ca.location", other_ca)],
            String::new(),
            &plain_url,
            vec!["certificate verify failed"],
        ),
        (
            "mysql-without-tls",
            &stack.sasl_ssl,
            scram("${KAFKA_SASL_PASSWORD}"),
            "ssl_mode = \"disabled\"".to_string(),
            &tls_url,
            vec!["the database refuses Sluice", "Access denied for user 'sluice_tls'"],
        ),
        (
            "mysql-untrusted-certificate",
            &stack.sasl_ssl,
            scram("${KAFKA_SASL_PASSWORD}"),
            format!("ssl_mode = \"verify_ca\"\nssl_ca = {other_ca:?}"),
            &tls_url,
            vec!["the database refuses Sluice", "certificate verify failed"],
        ),
        (
            "mysql-wrong-password",
            &stack.sasl_ssl,
            scram("${KAFKA_SASL_PASSWORD}"),
            verify.clone(),
            &wrong_db_url,
            vec!["the database refuses Sluice", "Access denied for user 'sluice_tls'"],
        ),
    ];
    let env = [("KAFKA_SASL_PASSWORD", stack.password.as_str()), ("WRONG_KAFKA_PASSWORD", wrong_kafka)];
    for (name, brokers, kafka, sink, url, phrases) in cases {
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).expect("dir");
        let config = write_pipeline_with(&sub, &kafka, &sink, None);
        let log = sub.join("sluice.log");
        let group = format!("{}-{name}", topic.name);
        let mut sluice = Sluice::start_with_env(&config, url, brokers, &topic.name, &group, log.clone(), &env);
        let text = wait_for_log(&log, &phrases).await;
        sluice.kill();
        let said = text.lines().find(|l| l.contains(phrases[0])).unwrap_or_default();
        eprintln!("{name}: {said}");
        for secret in secrets {
            assert!(!text.contains(secret), "{name}: the log shows a secret:\n{text}");
        }
    }

    // Bad configuration: `sluice check` names each field and shows no secret.
    let sub = dir.path().join("bad-config");
    std::fs::create_dir(&sub).expect("dir");
    let mut kafka = scram("${KAFKA_SASL_PASSWORD}");
    kafka.push(("sasl.mechanisms.typo", "PLAIN"));
    let config = write_pipeline_with(&sub, &kafka, "ssl_mode = \"verify_ca\"\nssl_ca = \"missing-ca.pem\"", None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["check", "--config"])
        .arg(&config)
        .envs(env)
        .env("DATABASE_URL", &tls_url)
        .env("KAFKA_BROKERS", &stack.sasl_ssl)
        .env("SLUICE_TOPIC", &topic.name)
        .output()
        .expect("run sluice check");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "check passed a broken config:\n{text}");
    assert!(text.contains("sasl.mechanisms.typo") && text.contains("No such configuration property"), "{text}");
    for secret in secrets {
        assert!(!text.contains(secret), "sluice check shows a secret:\n{text}");
    }
    topic.delete().await;
}
