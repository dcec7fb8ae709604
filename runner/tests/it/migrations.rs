//! The migrations against the real MariaDB.

use crate::helpers::db::fresh_database;

/// Columns of `table` as (name, type, nullable, key).
async fn columns(pool: &sqlx::MySqlPool, table: &str) -> Vec<(String, String, String)> {
    sqlx::query_as::<_, (String, String, String)>(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read columns")
}

/// Unique and primary keys of `table` as (index name, comma-joined columns).
async fn unique_keys(pool: &sqlx::MySqlPool, table: &str) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT INDEX_NAME, CAST(GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS CHAR) FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 GROUP BY INDEX_NAME ORDER BY INDEX_NAME",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("read keys")
}

fn has(cols: &[(String, String, String)], name: &str, ty: &str) -> bool {
    cols.iter().any(|(n, t, _)| n == name && t.starts_with(ty))
}

#[tokio::test]
async fn migrations_create_the_contract_tables_with_their_keys() {
    let (_url, pool) = fresh_database("migrate").await;
    sluice::db::migrate(&pool).await.expect("migrate");
    // Running again is a no-op, not an error.
    sluice::db::migrate(&pool).await.expect("migrate twice");

    let log = columns(&pool, "study_log").await;
    for (name, ty) in [
        ("id", "bigint"),
        ("session_id", "varchar(64)"),
        ("event_type", "varchar(32)"),
        ("event_time", "datetime(3)"),
        ("kafka_partition", "int"),
        ("kafka_offset", "bigint"),
    ] {
        assert!(has(&log, name, ty), "study_log.{name} {ty} missing: {log:?}");
    }
    assert_eq!(
        unique_keys(&pool, "study_log").await,
        vec![("PRIMARY".into(), "id".into()), ("uq_study_log_position".into(), "kafka_partition,kafka_offset".into())]
    );

    let stats = columns(&pool, "study_stats").await;
    for (name, ty) in [
        ("session_id", "varchar(64)"),
        ("bucket_start", "datetime"),
        ("event_type", "varchar(32)"),
        ("event_count", "bigint"),
        ("first_event_at", "datetime(3)"),
        ("last_event_at", "datetime(3)"),
    ] {
        assert!(has(&stats, name, ty), "study_stats.{name} {ty} missing: {stats:?}");
    }
    assert_eq!(
        unique_keys(&pool, "study_stats").await,
        vec![("PRIMARY".into(), "session_id,bucket_start,event_type".into())]
    );

    let dead = columns(&pool, "dead_letter").await;
    for name in [
        "id",
        "stage",
        "reason",
        "topic",
        "kafka_partition",
        "kafka_offset",
        "record_key",
        "record_value",
        "created_at",
        "to_publish",
        "module_sha256",
    ] {
        assert!(dead.iter().any(|(n, _, _)| n == name), "dead_letter.{name} missing: {dead:?}");
    }
    assert!(has(&dead, "record_value", "longblob"), "raw bytes: {dead:?}");

    assert_eq!(
        unique_keys(&pool, "sluice_offsets").await,
        vec![("PRIMARY".into(), "pipeline,topic,kafka_partition".into())]
    );
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
        .fetch_one(&pool)
        .await
        .expect("read migration log");
    assert_eq!(applied, i64::try_from(sluice::db::MIGRATOR.iter().count()).expect("count"));
}

#[tokio::test]
async fn processes_starting_together_migrate_once_without_errors() {
    let (url, pool) = fresh_database("migrate_race").await;
    let tls = sluice::config::DatabaseTls::default();
    let pools: Vec<_> = futures::future::join_all((0..4).map(|_| sluice::db::connect(&url, &tls, 1)))
        .await
        .into_iter()
        .map(|p| p.expect("connect"))
        .collect();
    let results = futures::future::join_all(pools.iter().map(sluice::db::migrate)).await;
    for result in results {
        result.expect("every concurrent migrate succeeds");
    }
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&pool).await.expect("count");
    assert_eq!(applied, i64::try_from(sluice::db::MIGRATOR.iter().count()).expect("count"));
}
