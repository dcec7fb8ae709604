//! Network faults between Sluice and each of MariaDB and Kafka, made by a
//! proxy the tests control: added latency, connections cut mid-transaction,
//! and a link that hangs. Nothing is lost or duplicated, Sluice resumes by
//! itself, a hanging database holds its memory flat, and `sluice status`
//! says what it is stuck on.

use std::path::Path;
use std::time::Duration;

use tokio::time::sleep;

use crate::helpers::db::{fresh_database, server_url};
use crate::helpers::kafka::fresh_topic;
use crate::helpers::proxy::{FaultProxy, Mode};
use crate::helpers::sluice::{
    Load, Sluice, assert_exact, expected_offsets, produce, tail, wait_for_offsets, write_pipeline_with,
};

/// Retries come fast, and a step of a write that hangs is given up after 2 s.
const IMPATIENT: &str = "write_timeout_ms = 2000\nmax_retry_backoff_ms = 1000";

/// `host:port` of the test database server.
fn database_address() -> String {
    let server = server_url();
    server.rsplit_once('@').map_or(server.clone(), |(_, at)| at.trim_end_matches('/').to_string())
}

/// `sluice status` on `config`, with the database at `url`: (success, output).
fn status(config: &Path, url: &str, topic: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["status", "--config"])
        .arg(config)
        .env("DATABASE_URL", url)
        .env("SLUICE_TOPIC", topic)
        .output()
        .expect("run sluice status");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_latency_cuts_mid_transaction_and_a_hang_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = fresh_topic("db-faults", 3).await;
    let (url, pool) = fresh_database("dbfaults").await;
    let proxy = FaultProxy::start(&database_address()).await;
    let proxied = url.replace(&database_address(), &proxy.addr.to_string());
    let config = write_pipeline_with(dir.path(), &[], IMPATIENT, None);
    let group = format!("{}-group", topic.name);
    let log = dir.path().join("sluice.log");
    let mut sluice = Sluice::start(&config, &proxied, &topic.brokers, &topic.name, &group, log.clone());
    // About 500 events a second for 12 s, while the link misbehaves.
    let load = tokio::spawn(produce(Load {
        count: 6000,
        sessions: 20,
        interval_ms: 40,
        seed: 31,
        ..Load::to(&topic, dir.path().join("events.jsonl"))
    }));
    sleep(Duration::from_secs(1)).await;
    proxy.set(Mode::Delay(Duration::from_millis(20)));
    sleep(Duration::from_secs(2)).await;
    proxy.set(Mode::Forward);
    let mut cut = 0;
    for _ in 0..4 {
        sleep(Duration::from_millis(600)).await;
        cut += proxy.cut();
    }
    assert!(cut > 0, "connections were open to be cut");
    sleep(Duration::from_millis(500)).await;
    proxy.set(Mode::Hang);
    sleep(Duration::from_secs(5)).await;
    let (ok, said) = status(&config, &proxied, &topic.name);
    assert!(!ok && said.contains("stuck on the database"), "sluice status during the hang:\n{said}");
    proxy.set(Mode::Forward);

    let events = load.await.expect("loadgen task");
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&events), Duration::from_secs(120), &mut [&mut sluice])
        .await;
    assert_exact(&pool, &topic.name, &events).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("did not answer within 2s"), "the hang was met by a write:\n{}", tail(&log));
    let retried = text.lines().filter(|l| l.contains("database write failed; retrying the batch")).count();
    eprintln!("batch writes retried after the faults: {retried}");
    assert!(sluice.terminate().success());
    topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_database_holds_memory_flat_while_the_backlog_grows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = fresh_topic("db-hang", 3).await;
    let (url, pool) = fresh_database("dbhang").await;
    let proxy = FaultProxy::start(&database_address()).await;
    let proxied = url.replace(&database_address(), &proxy.addr.to_string());
    let config = write_pipeline_with(dir.path(), &[], IMPATIENT, None);
    let group = format!("{}-group", topic.name);
    let log = dir.path().join("sluice.log");
    let mut sluice = Sluice::start(&config, &proxied, &topic.brokers, &topic.name, &group, log.clone());
    let warm = produce(Load { count: 3000, seed: 41, ..Load::to(&topic, dir.path().join("warm.jsonl")) }).await;
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&warm), Duration::from_secs(60), &mut [&mut sluice]).await;
    let before = rss_kib(sluice.pid());

    proxy.set(Mode::Hang);
    let backlog =
        produce(Load { count: 300_000, seed: 42, ..Load::to(&topic, dir.path().join("backlog.jsonl")) }).await;
    let mut peak = before;
    for _ in 0..25 {
        peak = peak.max(rss_kib(sluice.pid()));
        sleep(Duration::from_millis(200)).await;
    }
    sluice.assert_running();
    let grown_mib = (peak.saturating_sub(before)) / 1024;
    eprintln!("RSS before the hang {} MiB, peak while 300,000 events queued {} MiB", before / 1024, peak / 1024);
    // 300,000 events are about 60 MiB on the topic; what Sluice may hold is
    // bounded by its read-ahead, whatever the backlog.
    assert!(grown_mib < 96, "RSS grew by {grown_mib} MiB while the database hung");

    proxy.set(Mode::Forward);
    let mut events = warm;
    events.extend(backlog);
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&events), Duration::from_secs(240), &mut [&mut sluice])
        .await;
    assert_exact(&pool, &topic.name, &events).await;
    assert!(sluice.terminate().success());
    topic.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_latency_cuts_and_a_hang_lose_and_duplicate_nothing() {
    let proxy_at = std::env::var("KAFKA_FAULTS_PROXY").unwrap_or_else(|_| "127.0.0.1:9098".into());
    let listener = std::env::var("KAFKA_FAULTS_BROKERS").unwrap_or_else(|_| "127.0.0.1:9097".into());
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = fresh_topic("kafka-faults", 3).await;
    let (url, pool) = fresh_database("kfaults").await;
    // The broker's FAULTS listener advertises the proxy's address: after the
    // bootstrap, every request of Sluice's clients passes through it.
    let proxy = FaultProxy::start_on(&proxy_at, &listener).await;
    let config = write_pipeline_with(dir.path(), &[], IMPATIENT, None);
    let group = format!("{}-group", topic.name);
    let log = dir.path().join("sluice.log");
    let mut sluice = Sluice::start(&config, &url, &proxy_at, &topic.name, &group, log.clone());
    let load = tokio::spawn(produce(Load {
        count: 6000,
        sessions: 20,
        interval_ms: 40,
        seed: 51,
        ..Load::to(&topic, dir.path().join("events.jsonl"))
    }));
    sleep(Duration::from_secs(2)).await;
    proxy.set(Mode::Delay(Duration::from_millis(50)));
    sleep(Duration::from_secs(2)).await;
    proxy.set(Mode::Forward);
    let mut cut = 0;
    for _ in 0..3 {
        sleep(Duration::from_millis(800)).await;
        cut += proxy.cut();
    }
    assert!(cut > 0, "connections were open to be cut");
    sleep(Duration::from_millis(500)).await;
    proxy.set(Mode::Hang);
    sleep(Duration::from_secs(6)).await;
    proxy.set(Mode::Forward);

    let events = load.await.expect("loadgen task");
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&events), Duration::from_secs(180), &mut [&mut sluice])
        .await;
    assert_exact(&pool, &topic.name, &events).await;
    assert!(sluice.terminate().success());
    topic.delete().await;
}
