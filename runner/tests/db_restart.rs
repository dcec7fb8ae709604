//! MariaDB stopped and started again under a running `sluice`: it waits,
//! resumes, and the tables are exactly what a clean run gives.
//!
//! A test binary of its own: it stops the shared database, so it must not run
//! beside the tests in `it` (cargo runs test binaries one after another).

#[allow(dead_code)]
#[path = "it/helpers/mod.rs"]
mod helpers;

use std::time::Duration;

use helpers::db::fresh_database;
use helpers::kafka::fresh_topic;
use helpers::sluice::{Load, Sluice, assert_exact, expected_offsets, produce, stack, wait_for_offsets, write_pipeline};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_waits_out_a_database_restart_and_stays_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_pipeline(dir.path());
    let (url, pool) = fresh_database("dbrestart").await;
    let topic = fresh_topic("dbrestart", 3).await;
    let mut sluice = Sluice::start(
        &config,
        &url,
        &topic.brokers,
        &topic.name,
        &format!("{}-group", topic.name),
        dir.path().join("sluice.log"),
    );

    // About 30 s of traffic at 1,200 events/s: the outage falls inside it.
    let producing = tokio::spawn(produce(Load {
        count: 36_000,
        sessions: 12,
        interval_ms: 10,
        seed: 5,
        ..Load::to(&topic, dir.path().join("events.jsonl"))
    }));
    tokio::time::sleep(Duration::from_secs(3)).await;
    sluice.assert_running();
    drop(pool);
    tokio::task::spawn_blocking(|| stack("down", "mariadb")).await.expect("stop MariaDB");
    // Longer than the pool's 10 s acquire timeout, so that writes fail
    // (rather than only wait for a connection) while the database is away.
    tokio::time::sleep(Duration::from_secs(12)).await;
    sluice.assert_running();
    tokio::task::spawn_blocking(|| stack("up", "mariadb")).await.expect("start MariaDB");

    let events = producing.await.expect("producer task");
    let pool = sluice::db::connect(&url, &Default::default(), 2).await.expect("reconnect");
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&events), Duration::from_secs(180), &mut [&mut sluice])
        .await;
    assert_exact(&pool, &topic.name, &events).await;
    assert!(sluice.terminate().success());
    let log = std::fs::read_to_string(&sluice.log).unwrap_or_default();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
    assert!(
        log.contains("retrying"),
        "the outage was seen and waited out; warnings and errors:\n{}",
        warnings.join("\n")
    );
    topic.delete().await;
}
