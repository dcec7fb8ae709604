//! `sluice status`: where a pipeline stands: per partition the stored
//! offset, the log end and the lag; rows per table; dead letters per stage
//! and reason. `--watch` redraws every second with the rate.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{Pipeline, SqlIdent};
use crate::kafka::Watermarks;
use crate::sink;

/// One look at the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Partition → (stored next offset, log end offset).
    pub partitions: BTreeMap<i32, (Option<i64>, i64)>,
    /// Table → rows.
    pub tables: BTreeMap<String, i64>,
    pub dead_letters: i64,
}

impl Snapshot {
    /// Records not yet in MySQL.
    pub fn lag(&self) -> i64 {
        self.partitions.values().map(|(stored, end)| (end - stored.unwrap_or(0)).max(0)).sum()
    }

    /// Records done: the sum of the stored offsets.
    pub fn done(&self) -> i64 {
        self.partitions.values().filter_map(|(stored, _)| *stored).sum()
    }
}

/// Reads the pipeline's state from Kafka and MySQL.
pub struct Watcher {
    pool: crate::db::Pool,
    watermarks: Watermarks,
    pipeline: String,
    tables: Vec<SqlIdent>,
    dead_letter_table: SqlIdent,
}

impl Watcher {
    pub async fn connect(pipeline: &Pipeline) -> anyhow::Result<Watcher> {
        let config = &pipeline.config;
        let pool = crate::db::connect(pipeline.database_url()?, &pipeline.database_tls()?, 2).await?;
        let watermarks = Watermarks::new(&config.source).context("creating a Kafka client")?;
        let mut tables: Vec<SqlIdent> = config.sink.tables.iter().map(|t| t.table.get_ref().clone()).collect();
        tables.sort();
        tables.dedup();
        Ok(Watcher {
            pool,
            watermarks,
            pipeline: config.name.to_string(),
            tables,
            dead_letter_table: config.dead_letter.table.clone(),
        })
    }

    pub async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let topic = self.watermarks.topic();
        let stored = sink::load_offsets(&self.pool, &self.pipeline, topic)
            .await
            .context("reading the stored offsets (has `sluice run` or `sluice migrate` used this database yet?)")?;
        let ends = tokio::task::block_in_place(|| self.watermarks.log_ends())
            .with_context(|| format!("reading the log-end offsets of {topic}"))?;
        let partitions = ends.into_iter().map(|(p, end)| (p, (stored.get(&p).copied(), end))).collect();
        let mut tables = BTreeMap::new();
        for table in &self.tables {
            let rows =
                sink::count_rows(&self.pool, table).await.with_context(|| format!("counting the rows of {table}"))?;
            tables.insert(table.to_string(), rows);
        }
        let dead_letters = sink::count_dead_letters(&self.pool, &self.dead_letter_table, &self.pipeline)
            .await
            .with_context(|| format!("counting the dead letters in {}", self.dead_letter_table))?;
        Ok(Snapshot { partitions, tables, dead_letters })
    }

    /// Dead letters by stage and the start of the reason, most frequent first.
    pub async fn dead_letter_reasons(&self) -> anyhow::Result<Vec<(String, String, i64)>> {
        Ok(sink::dead_letter_reasons(&self.pool, &self.dead_letter_table, &self.pipeline, 12).await?)
    }
}

/// One line: rate, lag, rows, dead letters.
pub fn line(snapshot: &Snapshot, rate: Option<f64>) -> String {
    let rate = rate.map_or_else(|| "-".to_string(), |r| format!("{r:.0}"));
    let tables: Vec<String> = snapshot.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
    format!(
        "{rate:>8} records/s | lag {:>7} | done {:>8} | {} | dead letters {}",
        snapshot.lag(),
        snapshot.done(),
        tables.join(" | "),
        snapshot.dead_letters
    )
}

/// How long `status` waits for the database before it reports the pipeline
/// stuck on it.
const DATABASE_ANSWER: Duration = Duration::from_secs(5);

/// The report when the database does not answer: Sluice cannot commit, so
/// every partition waits on it while Kafka's log end moves on (blocking).
fn stuck_on_database(pipeline: &Pipeline) -> String {
    let at = pipeline.database_url().ok().and_then(crate::db::address).unwrap_or_else(|| "the database".into());
    let ends = Watermarks::new(&pipeline.config.source)
        .and_then(|w| w.log_ends())
        .map_or_else(|e| format!("(log end unknown: {e})"), |ends| format!("log end {ends:?}"));
    format!(
        "stuck on the database: {at} has not answered within {}s, so no batch can commit; {ends}",
        DATABASE_ANSWER.as_secs()
    )
}

/// Prints the state once, or every second with `watch`; with `until_idle`,
/// stops once the lag has been zero for three looks in a row. A database
/// that does not answer is reported as such (an error once, a line per look
/// with `watch`).
pub async fn main(pipeline: Pipeline, watch: bool, until_idle: bool) -> anyhow::Result<()> {
    let Ok(watcher) = tokio::time::timeout(DATABASE_ANSWER, Watcher::connect(&pipeline)).await else {
        anyhow::bail!("{}", tokio::task::block_in_place(|| stuck_on_database(&pipeline)));
    };
    let watcher = watcher?;
    let mut last: Option<(Instant, i64)> = None;
    let mut idle = 0;
    loop {
        let Ok(snapshot) = tokio::time::timeout(DATABASE_ANSWER, watcher.snapshot()).await else {
            let stuck = tokio::task::block_in_place(|| stuck_on_database(&pipeline));
            anyhow::ensure!(watch || until_idle, "{stuck}");
            println!("{stuck}");
            continue;
        };
        let snapshot = snapshot?;
        let now = Instant::now();
        let rate = last.map(|(t, done)| (snapshot.done() - done) as f64 / now.duration_since(t).as_secs_f64());
        last = Some((now, snapshot.done()));
        println!("{}", line(&snapshot, rate));
        idle = if snapshot.lag() == 0 { idle + 1 } else { 0 };
        if !(watch || until_idle) || (until_idle && idle >= 3) {
            print_details(&watcher, &snapshot).await?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn print_details(watcher: &Watcher, snapshot: &Snapshot) -> anyhow::Result<()> {
    println!("partition  stored offset  log end  lag");
    for (p, (stored, end)) in &snapshot.partitions {
        let stored_text = stored.map_or_else(|| "-".to_string(), |s| s.to_string());
        println!("{p:>9}  {stored_text:>13}  {end:>7}  {:>3}", (end - stored.unwrap_or(0)).max(0));
    }
    for (table, rows) in &snapshot.tables {
        println!("table {table}: {rows} rows");
    }
    println!("dead letters: {}", snapshot.dead_letters);
    for (stage, reason, n) in watcher.dead_letter_reasons().await? {
        println!("  {n:>6}  {stage}: {reason}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Snapshot;

    #[test]
    fn lag_counts_unstored_partitions_from_zero() {
        let snapshot = Snapshot {
            partitions: [(0, (Some(10), 15)), (1, (None, 4)), (2, (Some(7), 7))].into(),
            ..Snapshot::default()
        };
        assert_eq!(snapshot.lag(), 9);
        assert_eq!(snapshot.done(), 17);
    }
}
