//! latency: produce → committed in the database at the nominal load, no
//! backlog. The consumer starts first on an empty topic; once its group is
//! stable, loadgen sends at the nominal pace for `latency_s` seconds.
//!
//! Method (no change to either system): every `latency_poll_ms` one query
//! for each partition's `MAX(kafka_offset)` in `study_log` on the system's
//! database (see `watch::db_offsets`), with the wall time its answer
//! arrived; afterwards every record's Kafka timestamp (CreateTime, set when
//! loadgen produced it) is read back from the topic. A record's commit time
//! is the first answer whose maximum for its partition reaches its offset,
//! so each latency is an upper bound, late by at most one poll interval plus
//! the query's own time. Poison pills (the rows of `dead_letter`) are left
//! out. Records produced in the first `latency_warmup_s` seconds are
//! reported apart from the rest ("steady").

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use super::consume::cleanup;
use super::{Ctx, label};
use crate::db::{self, FreshDb};
use crate::kafka;
use crate::load::{self, Sent};
use crate::stats::{quantile, round};
use crate::systems::{self, System, Target};
use crate::verify::{self, Verification};
use crate::watch::db_offsets::{DbPoller, MaxOffsets};

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub records: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// (lower bound in ms, records) per 10 ms bucket, empty buckets left out.
    pub histogram_10ms: Vec<(i64, usize)>,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Percentiles {
        values.sort_by(f64::total_cmp);
        let mut histogram_10ms: Vec<(i64, usize)> = Vec::new();
        for v in &values {
            let bucket = (*v / 10.0).floor() as i64 * 10;
            match histogram_10ms.last_mut() {
                Some((b, n)) if *b == bucket => *n += 1,
                _ => histogram_10ms.push((bucket, 1)),
            }
        }
        Percentiles {
            records: values.len(),
            p50_ms: quantile(&values, 0.5),
            p99_ms: quantile(&values, 0.99),
            p999_ms: quantile(&values, 0.999),
            max_ms: values.last().copied(),
            histogram_10ms,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyRun {
    pub system: System,
    /// Records after the warm-up.
    pub steady: Percentiles,
    /// Every record.
    pub all: Percentiles,
    /// Valid records no poll saw committed (should be 0).
    pub never_seen: usize,
    pub poll_interval_ms: u64,
    /// Median time between two answers, ms (the real resolution).
    pub poll_median_gap_ms: f64,
    pub polls: usize,
    pub warmup_s: u64,
    pub sent: Sent,
    pub verification: Verification,
    pub log: String,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
    let mut runs = serde_json::Map::new();
    for system in System::BOTH {
        let run = one(ctx, system).await?;
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        println!(
            "  {:<7} steady p50 {} ms, p99 {} ms, p99.9 {} ms (all: p99 {} ms, max {} ms); poll every {} ms (median gap {:.1} ms){}",
            system.name(),
            ms(run.steady.p50_ms),
            ms(run.steady.p99_ms),
            ms(run.steady.p999_ms),
            ms(run.all.p99_ms),
            ms(run.all.max_ms),
            run.poll_interval_ms,
            run.poll_median_gap_ms,
            if run.verification.ok { "" } else { "  ROW COUNT MISMATCH" }
        );
        runs.insert(system.name().to_string(), serde_json::to_value(run)?);
    }
    Ok(json!({
        "params": { "sessions": ctx.load.sessions, "interval_ms": 70, "seconds": ctx.sizes.latency_s,
                    "warmup_s": ctx.sizes.latency_warmup_s, "poll_ms": ctx.sizes.latency_poll_ms,
                    "batch": ctx.sizes.default_batch },
        "systems": runs,
    }))
}

async fn one(ctx: &Ctx, system: System) -> anyhow::Result<LatencyRun> {
    let env = &ctx.env;
    let name = label("latency", system.name(), "");
    let topic = kafka::create_topic(&env.brokers, &name).await?;
    let db = FreshDb::create(&env.db_server, &name).await?;
    let group = format!("bench-{name}-{:08x}", rand::random::<u32>());
    let target = Target {
        topic: &topic,
        group: &group,
        db_name: &db.name,
        db_url: &db.url,
        batch: ctx.sizes.default_batch,
        label: &name,
    };
    let mut proc = systems::start(system, env, &target)?;
    wait_stable(&env.brokers, &group, &mut proc).await?;
    wait_table(&db.url, &mut proc).await?;

    let poll = Duration::from_millis(ctx.sizes.latency_poll_ms);
    let poller = DbPoller::start(&db.url, kafka::PARTITIONS as usize, poll).await?;
    println!("  {}: {} s of nominal load, consumer up", system.name(), ctx.sizes.latency_s);
    let produce_start_ms = chrono::Utc::now().timestamp_millis();
    let summary = load::live(&env.brokers, &topic, &ctx.load, Duration::from_secs(ctx.sizes.latency_s)).await?;
    let ends = load::ends(&summary);
    let reader = kafka::group_reader(&env.brokers, &group)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while !kafka::committed(&reader, &topic)?.iter().zip(&ends).all(|(c, e)| c >= e) {
        proc.check_running()?;
        if Instant::now() > deadline {
            bail!("{name}: not every record committed 300 s after the load stopped");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One more poll interval, so the database poller has seen the end.
    tokio::time::sleep(poll * 3).await;
    let polls = poller.finish().await?;
    proc.terminate(Duration::from_secs(60))?;
    let verification = verify::check(&name, &db.url, summary.valid, summary.poison).await?;

    let poison = poison_offsets(&db.url).await?;
    if !env.keep {
        db.drop_db().await?;
    }
    let (brokers, t, e) = (env.brokers.clone(), topic.clone(), ends.clone());
    let stamps = tokio::task::spawn_blocking(move || kafka::read_timestamps(&brokers, &t, &e))
        .await
        .context("the timestamp reader panicked")??;
    cleanup(ctx, &topic).await?;

    let warmup_end_ms = produce_start_ms + i64::try_from(ctx.sizes.latency_warmup_s * 1000).unwrap_or(0);
    let (all, steady, never_seen) = latencies(&polls, &stamps, &poison, warmup_end_ms);
    let mut gaps: Vec<f64> = polls.windows(2).map(|w| (w[1].at_ms - w[0].at_ms) as f64).collect();
    gaps.sort_by(f64::total_cmp);
    Ok(LatencyRun {
        system,
        steady: Percentiles::of(steady),
        all: Percentiles::of(all),
        never_seen,
        poll_interval_ms: ctx.sizes.latency_poll_ms,
        poll_median_gap_ms: round(quantile(&gaps, 0.5).unwrap_or(0.0), 1),
        polls: polls.len(),
        warmup_s: ctx.sizes.latency_warmup_s,
        sent: Sent::from(&summary),
        verification,
        log: proc.log.display().to_string(),
    })
}

/// Waits until the group is stable with a member (the consumer has its
/// partitions).
async fn wait_stable(brokers: &str, group: &str, proc: &mut crate::process::Proc) -> anyhow::Result<()> {
    let client = kafka::client(brokers)?;
    let deadline = Instant::now() + Duration::from_secs(180);
    while kafka::stable_members(&client, group) == 0 {
        proc.check_running()?;
        if Instant::now() > deadline {
            bail!("group {group} not stable after 180 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Waits until `study_log` exists (the system created its schema).
async fn wait_table(url: &str, proc: &mut crate::process::Proc) -> anyhow::Result<()> {
    let mut conn = db::connect_one(url).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while sqlx::query("SELECT 1 FROM study_log LIMIT 1").fetch_optional(&mut conn).await.is_err() {
        proc.check_running()?;
        if Instant::now() > deadline {
            bail!("study_log not created within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn poison_offsets(url: &str) -> anyhow::Result<BTreeSet<(i32, i64)>> {
    let mut conn = db::connect_one(url).await?;
    let rows: Vec<(i32, i64)> = sqlx::query_as("SELECT kafka_partition, kafka_offset FROM dead_letter")
        .fetch_all(&mut conn)
        .await
        .context("reading the dead letters' offsets")?;
    Ok(rows.into_iter().collect())
}

/// Latency of every valid record (ms), all and after the warm-up, and how
/// many no poll saw.
fn latencies(
    polls: &[MaxOffsets],
    stamps: &BTreeMap<i32, Vec<(i64, i64)>>,
    poison: &BTreeSet<(i32, i64)>,
    warmup_end_ms: i64,
) -> (Vec<f64>, Vec<f64>, usize) {
    let (mut all, mut steady, mut never) = (Vec::new(), Vec::new(), 0);
    for (&p, records) in stamps {
        let Ok(i) = usize::try_from(p) else { continue };
        // Running maximum: the offsets visible by each answer.
        let mut seen = Vec::with_capacity(polls.len());
        let mut max = -1;
        for poll in polls {
            max = max.max(poll.max.get(i).copied().unwrap_or(-1));
            seen.push((poll.at_ms, max));
        }
        for &(offset, ts) in records {
            if poison.contains(&(p, offset)) {
                continue;
            }
            let k = seen.partition_point(|&(_, m)| m < offset);
            let Some(&(at, _)) = seen.get(k) else {
                never += 1;
                continue;
            };
            let ms = (at - ts) as f64;
            all.push(ms);
            if ts >= warmup_end_ms {
                steady.push(ms);
            }
        }
    }
    (all, steady, never)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_time_is_the_first_poll_covering_the_offset() {
        let polls = vec![
            MaxOffsets { at_ms: 100, max: vec![-1] },
            MaxOffsets { at_ms: 110, max: vec![4] },
            MaxOffsets { at_ms: 120, max: vec![9] },
        ];
        let stamps = BTreeMap::from([(0, (0..12).map(|o| (o, 50 + o)).collect::<Vec<_>>())]);
        let poison = BTreeSet::from([(0, 3)]);
        let (all, steady, never) = latencies(&polls, &stamps, &poison, 55);
        assert_eq!(never, 2);
        assert_eq!(all.len(), 9);
        assert_eq!(all[0], 60.0);
        assert_eq!(all[4], 120.0 - 55.0);
        assert_eq!(steady.len(), 5);
    }
}
