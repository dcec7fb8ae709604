//! One system draining a filled topic: a fresh database and group, the
//! process started, its committed offsets in Kafka polled every 20 ms until
//! every partition reached the end, its RSS sampled every 250 ms; then
//! SIGTERM and the row-count check.
//!
//! Start → first committed batch is the first poll that sees a committed
//! offset; "steady" throughput counts from there to the end.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use super::{Ctx, Sizes};
use crate::db::FreshDb;
use crate::process;
use crate::stats::round;
use crate::systems::{self, System, Target};
use crate::verify::{self, Verification};
use crate::watch::{progress, rss};

/// How often committed offsets are read during a drain.
pub const PROGRESS_POLL: Duration = Duration::from_millis(20);
/// How often RSS is read.
pub const RSS_POLL: Duration = Duration::from_millis(250);

/// A filled topic and what loadgen delivered to it.
#[derive(Debug, Clone)]
pub struct Backlog {
    pub topic: String,
    pub ends: Vec<i64>,
    pub valid: u64,
    pub poison: u64,
}

impl Backlog {
    pub fn events(&self) -> i64 {
        self.ends.iter().sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DrainRun {
    pub system: System,
    pub batch: usize,
    pub events: i64,
    /// Process start → every partition committed to the end.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// Process start → the first committed batch seen.
    pub first_commit_ms: f64,
    /// From the first committed batch seen to the end.
    pub steady_seconds: f64,
    /// `None` when the first commit seen was already the end (a tiny backlog).
    pub steady_events_per_sec: Option<f64>,
    /// VmHWM just before SIGTERM.
    pub peak_rss_mib: f64,
    pub rss: Vec<rss::Rss>,
    pub progress_poll_ms: u64,
    /// COMMITs the database server counted during the run (all clients:
    /// exact only when nothing else uses the server), and events per commit.
    pub server_commits: i64,
    pub events_per_commit: Option<f64>,
    pub verification: Verification,
    pub log: String,
}

pub async fn drain(
    ctx: &Ctx,
    system: System,
    backlog: &Backlog,
    batch: usize,
    label: &str,
) -> anyhow::Result<DrainRun> {
    let env = &ctx.env;
    let db = FreshDb::create(&env.db_server, label).await?;
    let group = format!("bench-{label}-{:08x}", rand::random::<u32>());
    let target = Target { topic: &backlog.topic, group: &group, db_name: &db.name, db_url: &db.url, batch, label };
    let commits_before = crate::db::commits(&env.db_server).await?;
    let t0 = Instant::now();
    let watcher = progress::watch(&env.brokers, &backlog.topic, &group, Some(backlog.ends.clone()), PROGRESS_POLL, t0)?;
    let mut proc = systems::start(system, env, &target)?;
    let memory = rss::watch(proc.pid(), RSS_POLL, t0);
    let deadline = t0 + Sizes::drain_timeout(backlog.events() as u64);
    let mut peak = 0.0;
    let end = loop {
        if let Some(p) = watcher.last().filter(|p| p.reached(&backlog.ends)) {
            break p.t;
        }
        proc.check_running()?;
        peak = process::peak_rss_mib(proc.pid()).unwrap_or(peak);
        if Instant::now() > deadline {
            let seen = watcher.last().map(|p| p.committed).unwrap_or_default();
            bail!(
                "{label}: committed {seen:?} of {:?} after {:?}; log {}",
                backlog.ends,
                deadline - t0,
                proc.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let peak = process::peak_rss_mib(proc.pid()).unwrap_or(peak);
    let server_commits = crate::db::commits(&env.db_server).await? - commits_before;
    let samples = watcher.finish();
    let rss = memory.finish();
    proc.terminate(Duration::from_secs(60))?;
    let verification = verify::check(label, &db.url, backlog.valid, backlog.poison).await?;
    if !env.keep {
        db.drop_db().await?;
    }

    let events = backlog.events();
    let first = samples.iter().find(|p| p.committed_total() > 0);
    let (first_t, first_done) = first.map_or((end, 0), |p| (p.t, p.committed_total()));
    let steady = (end - first_t).max(1e-9);
    let run = DrainRun {
        system,
        batch,
        events,
        seconds: round(end, 3),
        events_per_sec: round(events as f64 / end, 0),
        first_commit_ms: round(first_t * 1000.0, 0),
        steady_seconds: round(steady, 3),
        steady_events_per_sec: (first_done < events).then(|| round((events - first_done) as f64 / steady, 0)),
        peak_rss_mib: round(peak, 1),
        rss,
        progress_poll_ms: PROGRESS_POLL.as_millis() as u64,
        server_commits,
        events_per_commit: (server_commits > 0).then(|| round(events as f64 / server_commits as f64, 1)),
        verification,
        log: proc.log.display().to_string(),
    };
    println!(
        "  {:<7} batch {:>6}: {:>8.0} ev/s from start ({:.2} s), {:>8.0} ev/s steady, first commit {:>6.0} ms, peak RSS {:>6.1} MiB, {:.0} events/commit{}",
        system.name(),
        batch,
        run.events_per_sec,
        run.seconds,
        run.steady_events_per_sec.unwrap_or(f64::NAN),
        run.first_commit_ms,
        run.peak_rss_mib,
        run.events_per_commit.unwrap_or(f64::NAN),
        if run.verification.ok { "" } else { "  ROW COUNT MISMATCH" }
    );
    Ok(run)
}

/// A fresh topic filled with `count` events (loadgen, `--interval-ms 0`).
pub async fn fill(ctx: &Ctx, label: &str, count: u64) -> anyhow::Result<(Backlog, crate::load::Sent)> {
    let topic = crate::kafka::create_topic(&ctx.env.brokers, label).await?;
    println!("  filling {topic} with {count} events");
    let summary = crate::load::fill(&ctx.env.brokers, &topic, &ctx.load, count).await?;
    let sent = crate::load::Sent::from(&summary);
    println!("  filled: {} events ({} poison) in {:.1} s", sent.events, sent.poison, sent.seconds);
    let backlog = Backlog { topic, ends: crate::load::ends(&summary), valid: summary.valid, poison: summary.poison };
    Ok((backlog, sent))
}

/// Deletes the topic unless asked to keep it.
pub async fn cleanup(ctx: &Ctx, topic: &str) -> anyhow::Result<()> {
    if ctx.env.keep { Ok(()) } else { crate::kafka::delete_topic(&ctx.env.brokers, topic).await }
}
