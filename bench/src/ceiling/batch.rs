//! One partition's records as transactions of N records, each built as SQL
//! text before the clock starts. The statements are Sluice's: its fenced
//! offset-row write first (an INSERT for the partition's first batch, then
//! an UPDATE conditional on the previous value), the rows, the accumulating
//! statistics upsert of the batch's aggregates, the dead letters.

use std::collections::BTreeMap;
use std::fmt::Write;

use loadgen::EventKind;

use super::place::Placed;
use super::sql;

/// The pipeline name Sluice's seed `pipeline.toml` writes offsets and dead
/// letters under.
pub const PIPELINE: &str = "study-log";

/// One transaction, ready to send.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The offset-row statement; must change exactly one row.
    pub offset: String,
    /// The INSERTs, in order.
    pub inserts: Vec<String>,
    pub rows: usize,
    pub stats_rows: usize,
    pub dead_letters: usize,
}

/// Cuts `records` (one partition, offset order) into transactions of
/// `per_tx` records.
pub fn transactions(topic: &str, records: &[Placed], per_tx: usize) -> Vec<Transaction> {
    let mut out = Vec::new();
    let mut previous: Option<i64> = None;
    for chunk in records.chunks(per_tx.max(1)) {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else { continue };
        let next = last.offset + 1;
        let partition = first.partition;
        let offset = match previous {
            None => format!(
                "INSERT INTO sluice_offsets (pipeline, topic, kafka_partition, next_offset) VALUES ({}, {}, {partition}, {next})",
                sql::text(PIPELINE),
                sql::text(topic)
            ),
            Some(prev) => format!(
                "UPDATE sluice_offsets SET next_offset = {next} WHERE pipeline = {} AND topic = {} AND kafka_partition = {partition} AND next_offset = {prev}",
                sql::text(PIPELINE),
                sql::text(topic)
            ),
        };
        previous = Some(next);
        out.push(transaction(topic, chunk, offset));
    }
    out
}

fn transaction(topic: &str, chunk: &[Placed], offset: String) -> Transaction {
    let mut log = String::from(
        "INSERT INTO study_log (session_id, event_type, event_time, kafka_partition, kafka_offset) VALUES ",
    );
    let mut dead = String::from(
        "INSERT INTO dead_letter (pipeline, stage, reason, topic, kafka_partition, kafka_offset, record_key, record_value) VALUES ",
    );
    // (session, hour bucket, type) -> (count, first, last)
    let mut stats: BTreeMap<(&str, i64, &str), (u64, i64, i64)> = BTreeMap::new();
    let (mut rows, mut dead_letters) = (0, 0);
    for r in chunk {
        let e = &r.event;
        match e.kind {
            EventKind::Valid(t) => {
                if rows > 0 {
                    log.push_str(", ");
                }
                let _ = write!(
                    log,
                    "({}, {}, {}, {}, {})",
                    sql::text(&e.session),
                    sql::text(t.as_str()),
                    sql::datetime_ms(e.time_ms),
                    r.partition,
                    r.offset
                );
                rows += 1;
                let bucket = e.time_ms - e.time_ms.rem_euclid(3_600_000);
                let s = stats.entry((e.session.as_str(), bucket, t.as_str())).or_insert((0, e.time_ms, e.time_ms));
                s.0 += 1;
                s.1 = s.1.min(e.time_ms);
                s.2 = s.2.max(e.time_ms);
            }
            EventKind::Poison(kind) => {
                if dead_letters > 0 {
                    dead.push_str(", ");
                }
                let _ = write!(
                    dead,
                    "({}, 'validate', {}, {}, {}, {}, {}, {})",
                    sql::text(PIPELINE),
                    sql::text(&format!("poison pill: {kind}")),
                    sql::text(topic),
                    r.partition,
                    r.offset,
                    sql::bytes(e.key.as_bytes()),
                    sql::bytes(&e.value)
                );
                dead_letters += 1;
            }
        }
    }
    let mut inserts = Vec::new();
    if rows > 0 {
        inserts.push(log);
    }
    if !stats.is_empty() {
        let mut upsert = String::from(
            "INSERT INTO study_stats (session_id, bucket_start, event_type, event_count, first_event_at, last_event_at) VALUES ",
        );
        for (i, ((session, bucket, t), (count, first, last))) in stats.iter().enumerate() {
            if i > 0 {
                upsert.push_str(", ");
            }
            let bucket = sql::datetime_ms(*bucket);
            let _ = write!(
                upsert,
                "({}, {bucket}, {}, {count}, {}, {})",
                sql::text(session),
                sql::text(t),
                sql::datetime_ms(*first),
                sql::datetime_ms(*last)
            );
        }
        upsert.push_str(
            " ON DUPLICATE KEY UPDATE event_count = event_count + VALUES(event_count), \
             first_event_at = LEAST(first_event_at, VALUES(first_event_at)), \
             last_event_at = GREATEST(last_event_at, VALUES(last_event_at))",
        );
        inserts.push(upsert);
    }
    if dead_letters > 0 {
        inserts.push(dead);
    }
    Transaction { offset, inserts, rows, stats_rows: stats.len(), dead_letters }
}

#[cfg(test)]
mod tests {
    use loadgen::GeneratorConfig;

    use super::*;
    use crate::ceiling::place::place;

    #[test]
    fn transactions_cover_every_record_once() {
        let config = GeneratorConfig { sessions: 20, poison_percent: 5.0, ..GeneratorConfig::default() };
        let placed = place(config, 3_000, 3);
        let txs = transactions("t", &placed[0], 100);
        assert_eq!(txs.len(), placed[0].len().div_ceil(100));
        let covered: usize = txs.iter().map(|t| t.rows + t.dead_letters).sum();
        assert_eq!(covered, placed[0].len());
        assert!(txs[0].offset.starts_with("INSERT INTO sluice_offsets"));
        assert!(txs[1].offset.contains("AND next_offset = 100"));
        assert!(txs.iter().all(|t| t.stats_rows > 0 && t.stats_rows <= t.rows));
    }
}
