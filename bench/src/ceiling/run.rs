//! The timed loop: one connection per partition, each sending its
//! partition's transactions one after the other; the clock runs from the
//! first BEGIN to the last COMMIT of all three. Commits are as durable as
//! the server makes them (its settings are reported with the result).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use sqlx::{Connection, MySqlConnection};

use super::batch::{self, Transaction};
use super::place;
use crate::db;
use crate::load::Load;

#[derive(Debug, Clone)]
pub struct Params {
    /// A fresh, empty database; the ceiling applies `migrations` itself.
    pub database_url: String,
    pub migrations: PathBuf,
    /// The topic the events are in (the offset rows and dead letters name it).
    pub topic: String,
    pub load: Load,
    pub count: u64,
    /// Records per transaction (Sluice's `max_records`).
    pub per_tx: usize,
    pub partitions: i32,
    /// Records per partition in the topic, if known: the placement must agree.
    pub expect: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub records_per_tx: usize,
    pub connections: usize,
    pub transactions: usize,
    pub records: u64,
    pub study_log_rows: usize,
    pub study_stats_rows_sent: usize,
    pub dead_letters: usize,
    pub seconds: f64,
    /// `study_log` rows per second.
    pub rows_per_sec: f64,
    /// Records (rows + dead letters) per second, comparable to the consumers' events/s.
    pub events_per_sec: f64,
    pub statements: &'static str,
    pub verified: bool,
}

pub async fn run(params: Params) -> anyhow::Result<Outcome> {
    let placed = place::place(params.load.generator(), params.count, params.partitions);
    let counts: Vec<i64> = placed.iter().map(|p| p.len() as i64).collect();
    if let Some(expect) = &params.expect
        && *expect != counts
    {
        bail!("the regenerated events do not match the topic: per partition {counts:?}, topic {expect:?}");
    }
    let plans: Vec<Vec<Transaction>> =
        placed.iter().map(|p| batch::transactions(&params.topic, p, params.per_tx)).collect();
    drop(placed);
    let (rows, stats, dead, txs) = plans
        .iter()
        .flatten()
        .fold((0, 0, 0, 0), |(r, s, d, n), t| (r + t.rows, s + t.stats_rows, d + t.dead_letters, n + 1));

    let mut setup = db::connect_one(&params.database_url).await?;
    db::apply_migrations(&mut setup, &params.migrations).await?;
    let mut conns = Vec::new();
    for _ in &plans {
        conns.push(db::connect_one(&params.database_url).await?);
    }

    // The writers run concurrently on this task (each waits on its own
    // connection); no thread hand-off in the loop.
    let started = Instant::now();
    futures::future::try_join_all(conns.into_iter().zip(plans).map(|(conn, plan)| write_all(conn, plan))).await?;
    let seconds = started.elapsed().as_secs_f64();

    let landed = db::count(&params.database_url, "study_log").await?;
    let dead_landed = db::count(&params.database_url, "dead_letter").await?;
    let verified = usize::try_from(landed).ok() == Some(rows) && usize::try_from(dead_landed).ok() == Some(dead);
    if !verified {
        eprintln!(
            "!!!!!!!! ceiling: study_log {landed} (sent {rows}), dead_letter {dead_landed} (sent {dead}) !!!!!!!!"
        );
    }
    Ok(Outcome {
        records_per_tx: params.per_tx,
        connections: counts.len(),
        transactions: txs,
        records: params.count,
        study_log_rows: rows,
        study_stats_rows_sent: stats,
        dead_letters: dead,
        seconds,
        rows_per_sec: rows as f64 / seconds,
        events_per_sec: params.count as f64 / seconds,
        statements: "text protocol, literal values, statements built before the clock",
        verified,
    })
}

async fn write_all(mut conn: MySqlConnection, plan: Vec<Transaction>) -> anyhow::Result<()> {
    for t in &plan {
        let mut tx = conn.begin().await.context("BEGIN")?;
        let moved = sqlx::raw_sql(&t.offset).execute(&mut *tx).await.context("the offset row")?;
        if moved.rows_affected() != 1 {
            bail!("the offset row statement changed {} rows: {}", moved.rows_affected(), t.offset);
        }
        for insert in &t.inserts {
            sqlx::raw_sql(insert).execute(&mut *tx).await.with_context(|| {
                format!("an INSERT of the ceiling: {}", insert.chars().take(120).collect::<String>())
            })?;
        }
        tx.commit().await.context("COMMIT")?;
    }
    Ok(())
}
