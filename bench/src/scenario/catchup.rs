//! catchup: the nominal load (1,000 learners, one event per 70 ms each)
//! runs; after a backlog of `catchup_backlog_s` seconds the consumer starts;
//! the load goes on for `catchup_live_s` more, then stops. One system at a
//! time, each on its own topic with its own producer run.
//!
//! Lag is high watermarks minus the group's committed offsets in Kafka,
//! polled every 100 ms. Under live load a consumer that commits a batch at a
//! time never sits at exactly 0, so "caught up" is the first poll after the
//! consumer start with lag at most one second of nominal load; the first
//! poll with lag exactly 0 is reported too.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use super::consume::cleanup;
use super::{Ctx, label};
use crate::db::FreshDb;
use crate::kafka;
use crate::load::{self, Sent};
use crate::stats::round;
use crate::systems::{self, System, Target};
use crate::verify::{self, Verification};
use crate::watch::progress::{self, Progress};

const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Serialize)]
pub struct CatchupRun {
    pub system: System,
    /// Seconds since the producer started.
    pub consumer_start_s: f64,
    pub producer_end_s: f64,
    /// Lag at most this many events counts as caught up.
    pub caught_up_lag: i64,
    pub caught_up_s: Option<f64>,
    /// Consumer start → caught up.
    pub time_to_catch_up_s: Option<f64>,
    pub caught_up_while_producing: bool,
    /// Events committed from the consumer start until caught up, per second.
    pub catch_up_events_per_sec: Option<f64>,
    pub zero_lag_s: Option<f64>,
    pub zero_lag_while_producing: bool,
    pub max_lag: i64,
    pub sent: Sent,
    /// (seconds, lag, committed) every 0.5 s.
    pub timeline: Vec<(f64, i64, i64)>,
    pub poll_ms: u64,
    pub verification: Verification,
    pub log: String,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
    let mut runs = serde_json::Map::new();
    for system in System::BOTH {
        let run = one(ctx, system).await?;
        println!(
            "  {:<7} caught up (lag ≤ {}) {} after its start{}, at {} ev/s; lag 0 at {}; max lag {}{}",
            system.name(),
            run.caught_up_lag,
            run.time_to_catch_up_s.map_or("never".to_string(), |s| format!("{s:.1} s")),
            if run.caught_up_while_producing { " while the producer ran" } else { "" },
            run.catch_up_events_per_sec.map_or("-".to_string(), |r| format!("{r:.0}")),
            run.zero_lag_s.map_or("never".to_string(), |s| format!("{s:.1} s")),
            run.max_lag,
            if run.verification.ok { "" } else { "  ROW COUNT MISMATCH" }
        );
        runs.insert(system.name().to_string(), serde_json::to_value(run)?);
    }
    Ok(json!({
        "params": { "sessions": ctx.load.sessions, "interval_ms": 70, "nominal_events_per_sec": round(ctx.load.nominal_rate(), 0),
                    "backlog_s": ctx.sizes.catchup_backlog_s, "live_s": ctx.sizes.catchup_live_s,
                    "batch": ctx.sizes.default_batch, "poll_ms": POLL.as_millis() as u64 },
        "systems": runs,
    }))
}

async fn one(ctx: &Ctx, system: System) -> anyhow::Result<CatchupRun> {
    let env = &ctx.env;
    let name = label("catchup", system.name(), "");
    let topic = kafka::create_topic(&env.brokers, &name).await?;
    let db = FreshDb::create(&env.db_server, &name).await?;
    let group = format!("bench-{name}-{:08x}", rand::random::<u32>());
    let (backlog, live) = (ctx.sizes.catchup_backlog_s, ctx.sizes.catchup_live_s);
    println!("  {}: {backlog} s of nominal load before the consumer starts, {live} s more", system.name());

    let t0 = Instant::now();
    let producer = {
        let (brokers, topic, load) = (env.brokers.clone(), topic.clone(), ctx.load);
        tokio::spawn(async move { load::live(&brokers, &topic, &load, Duration::from_secs(backlog + live)).await })
    };
    let watcher = progress::watch(&env.brokers, &topic, &group, None, POLL, t0)?;
    tokio::time::sleep_until((t0 + Duration::from_secs(backlog)).into()).await;
    let target = Target {
        topic: &topic,
        group: &group,
        db_name: &db.name,
        db_url: &db.url,
        batch: ctx.sizes.default_batch,
        label: &name,
    };
    let consumer_start_s = t0.elapsed().as_secs_f64();
    let mut proc = systems::start(system, env, &target)?;

    let mut producer = Some(producer);
    let mut finished: Option<(f64, loadgen::Summary)> = None;
    let mut tail_deadline = None;
    loop {
        tokio::time::sleep(POLL).await;
        proc.check_running()?;
        if let Some(handle) = producer.take_if(|h| h.is_finished()) {
            let summary = handle.await.context("the producer task panicked")??;
            finished = Some((t0.elapsed().as_secs_f64(), summary));
            tail_deadline = Some(Instant::now() + Duration::from_secs(ctx.sizes.catchup_tail_timeout_s));
        }
        if let Some((_, summary)) = &finished {
            let ends = load::ends(summary);
            if watcher.last().is_some_and(|p| p.reached(&ends)) {
                break;
            }
            if tail_deadline.is_some_and(|d| Instant::now() > d) {
                eprintln!(
                    "!! {}: lag did not reach 0 within {} s of the producer's end",
                    system.name(),
                    ctx.sizes.catchup_tail_timeout_s
                );
                break;
            }
        }
    }
    let samples = watcher.finish();
    proc.terminate(Duration::from_secs(60))?;
    let Some((producer_end_s, summary)) = finished else { bail!("the producer never finished") };
    let verification = verify::check(&name, &db.url, summary.valid, summary.poison).await?;
    if !env.keep {
        db.drop_db().await?;
    }
    cleanup(ctx, &topic).await?;

    let caught_up_lag = ctx.load.nominal_rate().round() as i64;
    Ok(analyse(
        system,
        &samples,
        consumer_start_s,
        producer_end_s,
        caught_up_lag,
        Sent::from(&summary),
        verification,
        &proc.log,
    ))
}

#[allow(clippy::too_many_arguments)]
fn analyse(
    system: System,
    samples: &[Progress],
    consumer_start_s: f64,
    producer_end_s: f64,
    caught_up_lag: i64,
    sent: Sent,
    verification: Verification,
    log: &std::path::Path,
) -> CatchupRun {
    let after: Vec<&Progress> = samples.iter().filter(|p| p.t >= consumer_start_s).collect();
    // Caught up only once the consumer has committed something: before its
    // first commit, a short backlog could look small.
    let caught = after.iter().find(|p| p.committed_total() > 0 && p.lag() <= caught_up_lag);
    let zero = after.iter().find(|p| p.committed_total() > 0 && p.lag() == 0);
    let time_to = caught.map(|p| p.t - consumer_start_s);
    let rate = caught.zip(time_to).map(|(p, t)| round(p.committed_total() as f64 / t.max(1e-9), 0));
    let mut timeline = Vec::new();
    let mut next = 0.0;
    for p in samples {
        if p.t >= next {
            timeline.push((round(p.t, 2), p.lag(), p.committed_total()));
            next = p.t + 0.5;
        }
    }
    CatchupRun {
        system,
        consumer_start_s: round(consumer_start_s, 2),
        producer_end_s: round(producer_end_s, 2),
        caught_up_lag,
        caught_up_s: caught.map(|p| round(p.t, 2)),
        time_to_catch_up_s: time_to.map(|t| round(t, 2)),
        caught_up_while_producing: caught.is_some_and(|p| p.t < producer_end_s),
        catch_up_events_per_sec: rate,
        zero_lag_s: zero.map(|p| round(p.t, 2)),
        zero_lag_while_producing: zero.is_some_and(|p| p.t < producer_end_s),
        max_lag: samples.iter().map(Progress::lag).max().unwrap_or(0),
        sent,
        timeline,
        poll_ms: POLL.as_millis() as u64,
        verification,
        log: log.display().to_string(),
    }
}
