//! The broker stopped and started again under a running `sluice` while the
//! AI server keeps producing: Sluice waits, resumes by itself, and the tables
//! are exactly what a clean run gives.
//!
//! A test binary of its own: it stops the shared broker, so it must not run
//! beside the tests in `it` (cargo runs test binaries one after another).

#[allow(dead_code)]
#[path = "it/helpers/mod.rs"]
mod helpers;

use std::time::Duration;

use helpers::db::fresh_database;
use helpers::kafka::fresh_topic;
use helpers::sluice::{Load, Sluice, assert_exact, expected_offsets, produce, stack, wait_for_offsets, write_pipeline};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_waits_out_a_broker_restart_and_stays_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_pipeline(dir.path());
    let (url, pool) = fresh_database("kafkarestart").await;
    let topic = fresh_topic("kafkarestart", 3).await;
    let mut sluice = Sluice::start(
        &config,
        &url,
        &topic.brokers,
        &topic.name,
        &format!("{}-group", topic.name),
        dir.path().join("sluice.log"),
    );

    // About 25 s of traffic; the producer's client holds what it cannot
    // deliver while the broker is away and sends it afterwards.
    let producing = tokio::spawn(produce(Load {
        count: 30_000,
        sessions: 12,
        interval_ms: 10,
        seed: 7,
        ..Load::to(&topic, dir.path().join("events.jsonl"))
    }));
    tokio::time::sleep(Duration::from_secs(3)).await;
    sluice.assert_running();
    tokio::task::spawn_blocking(|| stack("down", "kafka")).await.expect("stop Kafka");
    tokio::time::sleep(Duration::from_secs(8)).await;
    sluice.assert_running();
    tokio::task::spawn_blocking(|| stack("up", "kafka")).await.expect("start Kafka");

    let events = producing.await.expect("producer task");
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&events), Duration::from_secs(180), &mut [&mut sluice])
        .await;
    assert_exact(&pool, &topic.name, &events).await;
    assert!(sluice.terminate().success());
    topic.delete().await;
}
