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
use helpers::http::{free_address, get};
use helpers::kafka::fresh_topic;
use helpers::sluice::{Load, Sluice, assert_exact, expected_offsets, produce, stack, wait_for_offsets, write_pipeline};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_waits_out_a_database_restart_and_stays_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_pipeline(dir.path());
    let (url, pool) = fresh_database("dbrestart").await;
    let topic = fresh_topic("dbrestart", 3).await;
    let http = free_address();
    let mut sluice = Sluice::start_with_env(
        &config,
        &url,
        &topic.brokers,
        &topic.name,
        &format!("{}-group", topic.name),
        dir.path().join("sluice.log"),
        &[("SLUICE_HTTP_LISTEN", &http.to_string())],
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
    let (ready, why) = readiness(http, true, Duration::from_secs(20)).await;
    assert!(ready, "ready before the outage: {why}");
    drop(pool);
    tokio::task::spawn_blocking(|| stack("down", "mariadb")).await.expect("stop MariaDB");
    // /readyz turns false within seconds, and says it is the database.
    let (ready, why) = readiness(http, false, Duration::from_secs(5)).await;
    assert!(!ready && why.contains("FAIL database"), "not ready while MariaDB is down: {why}");
    assert_eq!(get(http, "/healthz").await.map(|r| r.0), Ok(200), "alive all the same");
    // Longer than the pool's 10 s acquire timeout, so that writes fail
    // (rather than only wait for a connection) while the database is away.
    tokio::time::sleep(Duration::from_secs(12)).await;
    sluice.assert_running();
    tokio::task::spawn_blocking(|| stack("up", "mariadb")).await.expect("start MariaDB");
    let (ready, why) = readiness(http, true, Duration::from_secs(30)).await;
    assert!(ready, "ready again after MariaDB returned: {why}");

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

/// Polls `/readyz` until it answers `want` (ready or not) or `within` passes;
/// returns the last answer and its body.
async fn readiness(http: std::net::SocketAddr, want: bool, within: Duration) -> (bool, String) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (ready, body) = match get(http, "/readyz").await {
            Ok((status, body)) => (status == 200, body),
            Err(e) => (false, e),
        };
        if ready == want || tokio::time::Instant::now() > deadline {
            return (ready, body);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
