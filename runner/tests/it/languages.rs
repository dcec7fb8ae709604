//! Stages written in other languages run in a real pipeline like the Rust
//! ones: a Python stage (componentize-py, `transforms/templates/python`)
//! between `validate` and `stats`, dropping some sessions and writing a row
//! per record it keeps to a table of its own.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::helpers::db::fresh_database;
use crate::helpers::http::{free_address, get, sample};
use crate::helpers::kafka::fresh_topic;
use crate::helpers::sluice::{
    Load, Sluice, assert_exact, expected_offsets, produce, repo_root, wait_for_offsets, write_pipeline_with_stage,
};

/// The sessions the stage drops: `session-1` and `session-10` …
/// `session-19` of loadgen's 25.
const DROPPED_PREFIX: &str = "session-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_stage_between_validate_and_stats_drops_filters_and_writes_its_rows_exactly() {
    let module = repo_root().join("target/transforms/sessions-py.wasm");
    assert!(
        module.is_file(),
        "{} is missing: build it with `scripts/build-transforms` (needs componentize-py: scripts/setup)",
        module.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let stage = format!(
        "[[transforms]]\nname = \"sessions\"\nmodule = \"{{modules}}/sessions-py.wasm\"\n\
         [transforms.params]\nprefix = \"{DROPPED_PREFIX}\"\n"
    );
    let config = write_pipeline_with_stage(dir.path(), &stage);
    let mut text = std::fs::read_to_string(&config).expect("read the pipeline");
    text.push_str(
        "\n[[sink.tables]]\ntable = \"py_sessions\"\nfrom = \"sessions.sessions\"\nmode = \"insert\"\n\
         [sink.tables.columns]\nsession_id = \"session_id\"\nevent_type = \"event_type\"\n\
         kafka_partition = \"@partition\"\nkafka_offset = \"@offset\"\n",
    );
    std::fs::write(&config, text).expect("write the pipeline");

    let (url, pool) = fresh_database("lang").await;
    sqlx::query(
        "CREATE TABLE py_sessions (session_id VARCHAR(128) NOT NULL, event_type VARCHAR(32) NULL, \
         kafka_partition INT NOT NULL, kafka_offset BIGINT NOT NULL, PRIMARY KEY (kafka_partition, kafka_offset))",
    )
    .execute(&pool)
    .await
    .expect("create py_sessions");
    let topic = fresh_topic("lang", 3).await;
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
    let events = produce(Load {
        count: 3000,
        sessions: 25,
        interval_ms: 0,
        seed: 14,
        ..Load::to(&topic, dir.path().join("events.jsonl"))
    })
    .await;
    wait_for_offsets(&pool, &topic.name, &expected_offsets(&events), Duration::from_secs(180), &mut [&mut sluice])
        .await;

    // Dropped: valid events of the dropped sessions. They leave no row in
    // study_log (validate emitted one, the later drop removed it), no
    // statistics and no dead letter; everything else is exact.
    let dropped = |e: &&loadgen::EventRecord| e.poison.is_none() && e.session.starts_with(DROPPED_PREFIX);
    let n_dropped = events.iter().filter(dropped).count();
    assert!(n_dropped > 300, "the load has sessions to drop: {n_dropped}");
    let kept: Vec<_> = events.iter().filter(|e| !dropped(e)).cloned().collect();
    assert_exact(&pool, &topic.name, &kept).await;

    // The Python stage's own rows: one per record it kept.
    let expected: BTreeSet<(i32, i64, String, String)> = kept
        .iter()
        .filter(|e| e.poison.is_none())
        .map(|e| {
            let kind = e.event_type.map(|t| format!("{t:?}").to_uppercase()).unwrap_or_default();
            (e.partition, e.offset, e.session.clone(), kind)
        })
        .collect();
    let rows: Vec<(i32, i64, String, String)> =
        sqlx::query_as("SELECT kafka_partition, kafka_offset, session_id, event_type FROM py_sessions")
            .fetch_all(&pool)
            .await
            .expect("read py_sessions");
    assert_eq!(rows.len(), expected.len(), "py_sessions has one row per kept record");
    assert_eq!(rows.into_iter().collect::<BTreeSet<_>>(), expected);

    let (status, metrics) = get(http, "/metrics").await.expect("scrape /metrics");
    assert_eq!(status, 200);
    let count = |labels: &str| sample(&metrics, "sluice_stage_records_total", labels);
    assert_eq!(count(r#"stage="sessions",outcome="dropped""#), n_dropped as f64, "{metrics}");
    assert_eq!(count(r#"stage="sessions",outcome="rejected""#), 0.0);
    assert_eq!(count(r#"stage="stats",outcome="in""#), expected.len() as f64);

    let status = sluice.terminate();
    assert!(status.success(), "sluice exited with {status} after SIGTERM");
    topic.delete().await;
}
