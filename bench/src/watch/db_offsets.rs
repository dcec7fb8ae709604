//! The latency scenario's clock on commits: every `every`, one query for
//! each partition's `MAX(kafka_offset)` in `study_log` (one subquery per
//! partition, each a single lookup in the unique key on (partition, offset),
//! so it stays as cheap on a million rows as on none; a `GROUP BY` scans the
//! index and slows down as the table grows), with the wall time its answer
//! arrived. A record is committed by
//! the first answer whose maximum for its partition reaches its offset.
//!
//! The poller runs on a thread and a runtime of its own: the load generator
//! shares the bench's runtime, and a poll delayed behind it would make every
//! latency look longer than it was.

use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use sqlx::MySqlConnection;
use tokio::sync::watch;

use crate::db;

/// One answer: wall time (epoch ms, when it arrived) and the maximum
/// committed offset per partition (-1: none yet).
#[derive(Debug, Clone)]
pub struct MaxOffsets {
    pub at_ms: i64,
    pub max: Vec<i64>,
}

/// A poller running on a thread of its own until [`DbPoller::finish`].
pub struct DbPoller {
    stop: watch::Sender<bool>,
    thread: JoinHandle<anyhow::Result<Vec<MaxOffsets>>>,
}

impl DbPoller {
    pub async fn start(url: &str, partitions: usize, every: Duration) -> anyhow::Result<DbPoller> {
        let (stop, stopped) = watch::channel(false);
        let url = url.to_string();
        let thread = std::thread::Builder::new()
            .name("db-poller".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("the database poller's runtime")?;
                runtime.block_on(async {
                    let conn = db::connect_one(&url).await?;
                    poll(conn, partitions, every, stopped).await
                })
            })
            .context("starting the database poller thread")?;
        Ok(DbPoller { stop, thread })
    }

    pub async fn finish(self) -> anyhow::Result<Vec<MaxOffsets>> {
        let _ = self.stop.send(true);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the database poller thread panicked"))?
    }
}

async fn poll(
    mut conn: MySqlConnection,
    partitions: usize,
    every: Duration,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<Vec<MaxOffsets>> {
    let sql = (0..partitions)
        .map(|p| format!("SELECT {p}, (SELECT MAX(kafka_offset) FROM study_log WHERE kafka_partition = {p})"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut out = Vec::new();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stopped.borrow() {
        ticker.tick().await;
        let rows: Vec<(i64, Option<i64>)> = match sqlx::query_as(&sql).fetch_all(&mut conn).await {
            Ok(rows) => rows,
            // The table may not exist yet while the system starts (1146).
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42S02") => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("polling the committed offsets")),
        };
        let at_ms = chrono::Utc::now().timestamp_millis();
        let mut max = vec![-1; partitions];
        for (p, m) in rows {
            if let (Ok(i), Some(m)) = (usize::try_from(p), m)
                && let Some(slot) = max.get_mut(i)
            {
                *slot = m;
            }
        }
        out.push(MaxOffsets { at_ms, max });
    }
    Ok(out)
}
