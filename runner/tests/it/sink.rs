//! The sink against the real MariaDB: one transaction per batch, accumulate
//! upserts, dead letters, chunking and the offset fence.

use std::path::Path;

use chrono::NaiveDateTime;
use sluice::config::Pipeline;
use sluice::sink::{
    self, BatchWrite, Cell, DeadLetter, ErrorClass, OutputColumns, RowSource, SinkError, TablePlan, TableRows,
};

use crate::helpers::db::fresh_database;

/// Long enough for any write these tests make.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn seed_pipeline(url: &str) -> Pipeline {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipeline.toml");
    let text = std::fs::read_to_string(&path).expect("read pipeline.toml").replace("${DATABASE_URL}", url);
    Pipeline::from_text(&path, text).expect("seed pipeline parses")
}

fn seed_outputs() -> Vec<OutputColumns> {
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect();
    vec![
        OutputColumns {
            stage: "validate".into(),
            output: "study_log".into(),
            columns: cols(&["session_id", "event_type", "event_time"]),
        },
        OutputColumns {
            stage: "stats".into(),
            output: "stats".into(),
            columns: cols(&[
                "session_id",
                "bucket_start",
                "event_type",
                "event_count",
                "first_event_at",
                "last_event_at",
            ]),
        },
    ]
}

fn ms(text: &str) -> i64 {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f").expect("time").and_utc().timestamp_millis()
}

fn log_row(plan: &TablePlan, session: &str, kind: &str, time: &str, offset: i64) -> Vec<Cell> {
    let source = RowSource { topic: "t", partition: 0, offset, key: Some(session.as_bytes()), timestamp: None };
    plan.bind(&[Cell::Text(session.into()), Cell::Text(kind.into()), Cell::from_epoch_ms(ms(time))], Some(source))
        .expect("bind")
}

fn stats_row(
    plan: &TablePlan,
    session: &str,
    bucket: &str,
    kind: &str,
    count: i64,
    first: &str,
    last: &str,
) -> Vec<Cell> {
    plan.bind(
        &[
            Cell::Text(session.into()),
            Cell::from_epoch_ms(ms(bucket)),
            Cell::Text(kind.into()),
            Cell::Int(count),
            Cell::from_epoch_ms(ms(first)),
            Cell::from_epoch_ms(ms(last)),
        ],
        None,
    )
    .expect("bind")
}

async fn count(pool: &sqlx::MySqlPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(pool).await.expect("count")
}

#[tokio::test]
async fn batches_land_whole_accumulate_and_are_fenced() {
    let (url, pool) = fresh_database("sink").await;
    sluice::db::migrate(&pool).await.expect("migrate");
    let pipeline = seed_pipeline(&url);
    let plans = sink::plan_tables(&pipeline, &seed_outputs()).expect("plan");
    let dead = &pipeline.config.dead_letter.table;
    assert_eq!(sink::verify_tables(&pool, &plans, dead).await.expect("verify"), Vec::<String>::new());
    let max_packet = sink::max_packet(&pool).await.expect("packet");

    let first = BatchWrite {
        pipeline: "study-log",
        topic: "t",
        partition: 0,
        expected: None,
        next: 3,
        tables: vec![
            TableRows {
                plan: 0,
                rows: vec![
                    log_row(&plans[0], "s1", "FOCUS", "2026-01-28 01:15:30.120", 0),
                    log_row(&plans[0], "s1", "AWAY", "2026-01-28 01:59:59.999", 2),
                ],
            },
            TableRows {
                plan: 1,
                rows: vec![stats_row(
                    &plans[1],
                    "s1",
                    "2026-01-28 01:00:00.000",
                    "FOCUS",
                    1,
                    "2026-01-28 01:15:30.120",
                    "2026-01-28 01:15:30.120",
                )],
            },
        ],
        dead_letters: vec![DeadLetter {
            stage: "validate".into(),
            reason: "invalid JSON".into(),
            offset: 1,
            key: Some(b"s1".to_vec()),
            value: Some(b"{oops".to_vec()),
            module_sha256: None,
        }],
        dead_letter_topic: None,
    };
    sink::write_batch(&pool, &plans, dead, max_packet, WRITE_TIMEOUT, &first).await.expect("first batch");
    assert_eq!(sink::load_offset(&pool, "study-log", "t", 0).await.expect("offset"), Some(3));

    let second = BatchWrite {
        expected: Some(3),
        next: 5,
        tables: vec![TableRows {
            plan: 1,
            rows: vec![stats_row(
                &plans[1],
                "s1",
                "2026-01-28 01:00:00.000",
                "FOCUS",
                2,
                "2026-01-28 01:10:00.000",
                "2026-01-28 01:20:00.000",
            )],
        }],
        dead_letters: vec![],
        dead_letter_topic: None,
        ..first
    };
    sink::write_batch(&pool, &plans, dead, max_packet, WRITE_TIMEOUT, &second).await.expect("second batch");

    let stats: (i64, NaiveDateTime, NaiveDateTime) =
        sqlx::query_as("SELECT event_count, first_event_at, last_event_at FROM study_stats WHERE session_id = 's1' AND event_type = 'FOCUS'")
            .fetch_one(&pool)
            .await
            .expect("stats row");
    assert_eq!(stats.0, 3, "counts add");
    assert_eq!(stats.1.to_string(), "2026-01-28 01:10:00", "first takes the minimum");
    assert_eq!(stats.2.to_string(), "2026-01-28 01:20:00", "last takes the maximum");
    let log: Vec<(String, String, i32, i64)> =
        sqlx::query_as("SELECT session_id, CAST(event_time AS CHAR), kafka_partition, kafka_offset FROM study_log ORDER BY kafka_offset")
            .fetch_all(&pool)
            .await
            .expect("log");
    assert_eq!(log[0], ("s1".to_string(), "2026-01-28 01:15:30.120".to_string(), 0, 0));
    assert_eq!(log.len(), 2);
    let dl: (String, String, i64, Vec<u8>) =
        sqlx::query_as("SELECT stage, reason, kafka_offset, record_value FROM dead_letter")
            .fetch_one(&pool)
            .await
            .expect("dead letter");
    assert_eq!(dl, ("validate".into(), "invalid JSON".into(), 1, b"{oops".to_vec()));

    // A writer that still believes in offset 3 is fenced, and writes nothing.
    let stale = BatchWrite {
        expected: Some(3),
        next: 9,
        tables: vec![TableRows {
            plan: 0,
            rows: vec![log_row(&plans[0], "s2", "FOCUS", "2026-01-28 02:00:00.000", 7)],
        }],
        dead_letters: vec![],
        dead_letter_topic: None,
        ..second
    };
    let err = sink::write_batch(&pool, &plans, dead, max_packet, WRITE_TIMEOUT, &stale).await.expect_err("fenced");
    assert!(matches!(err, SinkError::Fenced { stored: Some(5), expected: Some(3), .. }), "{err:?}");
    // So is one that thinks the partition was never written.
    let fresh = BatchWrite { expected: None, ..stale };
    let err = sink::write_batch(&pool, &plans, dead, max_packet, WRITE_TIMEOUT, &fresh).await.expect_err("fenced");
    assert!(matches!(err, SinkError::Fenced { stored: Some(5), expected: None, .. }), "{err:?}");
    assert_eq!(count(&pool, "study_log").await, 2);
    assert_eq!(sink::load_offset(&pool, "study-log", "t", 0).await.expect("offset"), Some(5));

    // A failing statement rolls the whole batch back, offset included.
    let bad = BatchWrite {
        expected: Some(5),
        next: 7,
        tables: vec![TableRows {
            plan: 0,
            rows: vec![
                log_row(&plans[0], "s3", "FOCUS", "2026-01-28 02:00:00.000", 5),
                log_row(&plans[0], &"x".repeat(65), "FOCUS", "2026-01-28 02:00:00.000", 6),
            ],
        }],
        dead_letters: vec![],
        dead_letter_topic: None,
        ..fresh
    };
    // (MariaDB and MySQL 8 are strict by default: a 65-character session_id is refused.)
    let err = sink::write_batch(&pool, &plans, dead, max_packet, WRITE_TIMEOUT, &bad)
        .await
        .expect_err("too long for VARCHAR(64)");
    assert_eq!(err.class(), ErrorClass::BadRow, "a value too long is a refused row, to split out: {err}");
    assert_eq!(count(&pool, "study_log").await, 2, "rolled back");
    assert_eq!(sink::load_offset(&pool, "study-log", "t", 0).await.expect("offset"), Some(5));
}

#[tokio::test]
async fn big_batches_are_chunked_under_the_limits() {
    let (url, pool) = fresh_database("chunks").await;
    sluice::db::migrate(&pool).await.expect("migrate");
    let pipeline = seed_pipeline(&url);
    let plans = sink::plan_tables(&pipeline, &seed_outputs()).expect("plan");
    // 30,000 rows × 5 columns = 150,000 placeholders: at least three statements.
    let rows: Vec<Vec<Cell>> = (0..30_000)
        .map(|i| log_row(&plans[0], &format!("s{}", i % 97), "FOCUS", "2026-01-28 02:00:00.000", i))
        .collect();
    let batch = BatchWrite {
        pipeline: "study-log",
        topic: "t",
        partition: 2,
        expected: None,
        next: 30_000,
        tables: vec![TableRows { plan: 0, rows }],
        dead_letters: vec![],
        dead_letter_topic: None,
    };
    // A small packet budget forces byte-based chunking as well.
    sink::write_batch(&pool, &plans, &pipeline.config.dead_letter.table, 256 * 1024, WRITE_TIMEOUT, &batch)
        .await
        .expect("write");
    assert_eq!(count(&pool, "study_log").await, 30_000);
}
