//! One batch, one transaction.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Executor, MySql, MySqlPool, QueryBuilder};

use super::cell::Cell;
use super::dead_letter::{self, DeadLetter};
use super::plan::TablePlan;
use super::retry::{ErrorClass, classify};
use super::{SinkError, offsets};
use crate::config::{Accumulate, SqlIdent, TableMode};

/// The most placeholders one statement may carry (the protocol's limit).
const MAX_PLACEHOLDERS: usize = 65_535;

/// Rows for the table `plans[plan]`, each already bound in the plan's column
/// order.
#[derive(Debug, Default)]
pub struct TableRows {
    pub plan: usize,
    pub rows: Vec<Vec<Cell>>,
}

/// Everything one batch of one partition writes.
#[derive(Debug)]
pub struct BatchWrite<'a> {
    pub pipeline: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    /// The stored next offset this writer believes in (`None`: no row yet).
    pub expected: Option<i64>,
    /// The partition's next offset after this batch.
    pub next: i64,
    pub tables: Vec<TableRows>,
    pub dead_letters: Vec<DeadLetter>,
    /// The dead-letter topic, when one is set: the dead letters' rows name
    /// it until their copies are published.
    pub dead_letter_topic: Option<&'a str>,
}

/// Writes the batch in one transaction: first the fenced offset update, then
/// rows, upserts and dead letters. Either all of it lands or none; no step
/// waits on the database longer than `deadline`.
pub async fn write_batch(
    pool: &MySqlPool,
    plans: &[TablePlan],
    dead_letter_table: &SqlIdent,
    max_packet: usize,
    deadline: Duration,
    batch: &BatchWrite<'_>,
) -> Result<(), SinkError> {
    let mut tx = BatchTx::begin(pool, plans, max_packet, deadline, batch).await?;
    tx.rows(&batch.tables).await?;
    tx.dead_letters(dead_letter_table, &batch.dead_letters).await?;
    tx.commit().await
}

/// A batch's transaction, open: the offset already moved, rows and dead
/// letters still to come. It has a connection of its own; dropped without a
/// [`BatchTx::commit`] that succeeded (an error, a step past its deadline,
/// a stop), that connection is closed rather than returned to the pool: the
/// server rolls the transaction back, and a connection that hung or lost
/// track of its state is never used again.
pub struct BatchTx<'a> {
    conn: PoolConnection<MySql>,
    committed: bool,
    deadline: Duration,
    plans: &'a [TablePlan],
    max_packet: usize,
    pipeline: &'a str,
    topic: &'a str,
    partition: i32,
    dead_letter_topic: Option<&'a str>,
}

/// Rows of one part of a batch that the server refused, and why.
#[derive(Debug)]
pub struct Refused {
    /// The plan whose statement failed.
    pub plan: usize,
    pub error: sqlx::Error,
}

impl<'a> BatchTx<'a> {
    /// Begins the transaction and moves the partition's offset from
    /// `batch.expected` to `batch.next` (or fails with [`SinkError::Fenced`]).
    /// Each step (this one included) fails with [`SinkError::TimedOut`] when
    /// the database has not answered within `deadline`.
    pub async fn begin(
        pool: &MySqlPool,
        plans: &'a [TablePlan],
        max_packet: usize,
        deadline: Duration,
        batch: &BatchWrite<'a>,
    ) -> Result<BatchTx<'a>, SinkError> {
        let conn = within(deadline, async { Ok(pool.acquire().await?) }).await?;
        let mut tx = BatchTx {
            conn,
            committed: false,
            deadline,
            plans,
            max_packet,
            pipeline: batch.pipeline,
            topic: batch.topic,
            partition: batch.partition,
            dead_letter_topic: batch.dead_letter_topic,
        };
        let conn = &mut *tx.conn;
        within(deadline, async {
            conn.execute("BEGIN").await?;
            offsets::advance(conn, batch.pipeline, batch.topic, batch.partition, batch.expected, batch.next).await
        })
        .await?;
        Ok(tx)
    }

    /// Writes rows (and accumulates upserts). A statement's error names the
    /// table ([`SinkError::Rows`]).
    pub async fn rows(&mut self, tables: &[TableRows]) -> Result<(), SinkError> {
        let (plans, max_packet, conn) = (self.plans, self.max_packet, &mut *self.conn);
        within(self.deadline, async {
            for table in tables {
                let plan = &plans[table.plan];
                for chunk in chunks(&table.rows, plan.columns.len(), max_packet) {
                    let mut query = insert_statement(plan, chunk);
                    if let Err(source) = query.build().execute(&mut *conn).await {
                        return Err(SinkError::Rows { table: plan.table.to_string(), plan: table.plan, source });
                    }
                }
            }
            Ok(())
        })
        .await
    }

    /// [`BatchTx::rows`] inside a savepoint: when the server refuses a value
    /// of a row ([`ErrorClass::BadRow`]), what this part wrote is undone and
    /// the refusal returned; the transaction stays usable. Other errors end
    /// it as usual.
    pub async fn try_rows(&mut self, tables: &[TableRows]) -> Result<Option<Refused>, SinkError> {
        self.statement("SAVEPOINT sluice_part").await?;
        match self.rows(tables).await {
            Ok(()) => {
                self.statement("RELEASE SAVEPOINT sluice_part").await?;
                Ok(None)
            }
            Err(SinkError::Rows { plan, source, .. }) if classify(&source) == ErrorClass::BadRow => {
                self.statement("ROLLBACK TO SAVEPOINT sluice_part").await?;
                Ok(Some(Refused { plan, error: source }))
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the dead letters into `table`.
    pub async fn dead_letters(&mut self, table: &SqlIdent, dead_letters: &[DeadLetter]) -> Result<(), SinkError> {
        if dead_letters.is_empty() {
            return Ok(());
        }
        let rows: Vec<Vec<Cell>> = dead_letters
            .iter()
            .map(|d| d.row(self.pipeline, self.topic, self.partition, self.dead_letter_topic))
            .collect();
        let conn = &mut *self.conn;
        within(self.deadline, async {
            for chunk in chunks(&rows, dead_letter::COLUMNS.len(), self.max_packet) {
                let mut query = QueryBuilder::<MySql>::new(format!(
                    "INSERT INTO {} ({}) ",
                    table.quoted(),
                    dead_letter::COLUMNS.join(", ")
                ));
                query.push_values(chunk, |mut b, row| row.iter().for_each(|cell| cell.push_bind(&mut b)));
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        })
        .await
    }

    pub async fn commit(mut self) -> Result<(), SinkError> {
        self.statement("COMMIT").await?;
        self.committed = true;
        Ok(())
    }

    /// One statement without results, within the deadline.
    async fn statement(&mut self, sql: &'static str) -> Result<(), SinkError> {
        let conn = &mut *self.conn;
        within(self.deadline, async { Ok(conn.execute(sql).await.map(drop)?) }).await
    }
}

impl Drop for BatchTx<'_> {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

/// `step`, or [`SinkError::TimedOut`] once `deadline` has passed.
async fn within<T>(deadline: Duration, step: impl Future<Output = Result<T, SinkError>>) -> Result<T, SinkError> {
    tokio::time::timeout(deadline, step).await.unwrap_or(Err(SinkError::TimedOut(deadline)))
}

/// `INSERT INTO t (a, b) VALUES (…), (…)`, and for accumulate tables
/// `ON DUPLICATE KEY UPDATE` combining each non-key column. `VALUES(col)`
/// works on MariaDB and on MySQL 8 (where it is deprecated but kept).
fn insert_statement<'a>(plan: &TablePlan, rows: &'a [Vec<Cell>]) -> QueryBuilder<'a, MySql> {
    let names: Vec<String> = plan.columns.iter().map(|(c, _)| c.quoted()).collect();
    let mut query = QueryBuilder::<MySql>::new(format!("INSERT INTO {} ({}) ", plan.table.quoted(), names.join(", ")));
    query.push_values(rows, |mut b, row| row.iter().for_each(|cell| cell.push_bind(&mut b)));
    if plan.mode == TableMode::Accumulate {
        let updates: Vec<String> = plan
            .columns
            .iter()
            .map(|(c, _)| c)
            .filter(|c| !plan.key.contains(c))
            .map(|c| {
                let q = c.quoted();
                match plan.accumulate_of(c) {
                    Accumulate::Add => format!("{q} = {q} + VALUES({q})"),
                    Accumulate::Min => format!("{q} = LEAST({q}, VALUES({q}))"),
                    Accumulate::Max => format!("{q} = GREATEST({q}, VALUES({q}))"),
                    Accumulate::Replace => format!("{q} = VALUES({q})"),
                }
            })
            .collect();
        if updates.is_empty() {
            // Only key columns: a duplicate is simply already there.
            let first = plan.key.first().map(SqlIdent::quoted).unwrap_or_default();
            query.push(format!(" ON DUPLICATE KEY UPDATE {first} = {first}"));
        } else {
            query.push(format!(" ON DUPLICATE KEY UPDATE {}", updates.join(", ")));
        }
    }
    query
}

/// Splits `rows` so that no statement has more than [`MAX_PLACEHOLDERS`]
/// binds or more than half the server's packet size.
pub(super) fn chunks(rows: &[Vec<Cell>], columns: usize, max_packet: usize) -> Vec<&[Vec<Cell>]> {
    let max_rows = (MAX_PLACEHOLDERS / columns.max(1)).max(1);
    let max_bytes = (max_packet / 2).max(1024);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, row) in rows.iter().enumerate() {
        let size: usize = row.iter().map(Cell::wire_size).sum::<usize>() + 4;
        if i > start && (i - start >= max_rows || bytes + size > max_bytes) {
            out.push(&rows[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Cell, MAX_PLACEHOLDERS, chunks};

    #[test]
    fn chunks_respect_the_placeholder_limit() {
        let rows: Vec<Vec<Cell>> = (0..100_000).map(|i| vec![Cell::Int(i), Cell::Int(i)]).collect();
        let parts = chunks(&rows, 2, 64 << 20);
        assert!(parts.iter().all(|p| p.len() * 2 <= MAX_PLACEHOLDERS));
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), 100_000);
        assert_eq!(parts.len(), 4);
    }

    #[test]
    fn chunks_respect_the_packet_size() {
        let rows: Vec<Vec<Cell>> = (0..10).map(|_| vec![Cell::Bytes(vec![0; 300_000])]).collect();
        let parts = chunks(&rows, 1, 1 << 20);
        assert!(parts.iter().all(|p| p.len() == 1), "{:?}", parts.iter().map(|p| p.len()).collect::<Vec<_>>());
        // A row bigger than the limit still goes, alone: the server says no if it must.
        let huge = vec![vec![Cell::Bytes(vec![0; 2 << 20])], vec![Cell::Int(1)]];
        assert_eq!(chunks(&huge, 1, 1 << 20).len(), 2);
        assert!(chunks(&[], 3, 1 << 20).is_empty());
    }
}
