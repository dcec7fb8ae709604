//! The process's health for `/healthz` and `/readyz`, as the partitions'
//! workers report it, plus the two checks made when asked: a `SELECT 1` and
//! a metadata request to the broker.
//!
//! - Live: no worker has been inside one step (a transform call, one
//!   attempt at a write) for longer than the wedge limit. Every step is
//!   bounded (`time_ms`, `write_timeout_ms`), so one that lasts far longer
//!   means a stuck task, which a restart mends; a database that is down is
//!   not that (its retries are steps that end).
//! - Ready: the broker and the database answer, partitions are assigned,
//!   and no stage is broken.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::db::Pool;
use crate::kafka::Watermarks;

/// How long a readiness check waits for the broker or the database.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a partition's worker is doing.
#[derive(Debug, Default)]
struct PartitionState {
    /// In a step since then.
    busy_since: Option<Instant>,
    /// The stage that is broken, and why.
    broken: Option<String>,
}

pub struct Health {
    partitions: Mutex<BTreeMap<i32, PartitionState>>,
    wedge_after: Duration,
    database: OnceLock<Pool>,
    broker: OnceLock<Arc<Watermarks>>,
}

/// The answer of a check: each line says what was looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub ok: bool,
    pub lines: Vec<String>,
}

impl Health {
    /// A worker in one step for longer than `wedge_after` is wedged.
    pub fn new(wedge_after: Duration) -> Arc<Health> {
        Arc::new(Health {
            partitions: Mutex::default(),
            wedge_after,
            database: OnceLock::new(),
            broker: OnceLock::new(),
        })
    }

    /// The pool readiness pings, once connected.
    pub fn set_database(&self, pool: Pool) {
        let _ = self.database.set(pool);
    }

    /// The client readiness asks the broker with.
    pub fn set_broker(&self, broker: Watermarks) {
        let _ = self.broker.set(Arc::new(broker));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, PartitionState>> {
        self.partitions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn partition_started(&self, partition: i32) {
        let mut partitions = self.lock();
        partitions.insert(partition, PartitionState::default());
        crate::metrics::partitions(partitions.len());
    }

    pub fn partition_stopped(&self, partition: i32) {
        let mut partitions = self.lock();
        partitions.remove(&partition);
        crate::metrics::partitions(partitions.len());
    }

    /// Marks `partition` busy until the guard is dropped.
    pub fn step(self: &Arc<Self>, partition: i32) -> Step {
        if let Some(state) = self.lock().get_mut(&partition) {
            state.busy_since = Some(Instant::now());
        }
        Step { health: self.clone(), partition }
    }

    /// `partition`'s batch failed because `stage` is broken (`Some(why)`), or
    /// went through (`None`).
    pub fn broken(&self, partition: i32, why: Option<String>) {
        if let Some(state) = self.lock().get_mut(&partition) {
            state.broken = why;
        }
    }

    /// `/healthz`.
    pub fn liveness(&self) -> Report {
        let now = Instant::now();
        let mut lines = Vec::new();
        for (partition, state) in self.lock().iter() {
            if let Some(since) = state.busy_since.filter(|s| now.duration_since(*s) > self.wedge_after) {
                lines.push(format!(
                    "partition {partition}: wedged, in one step for {} s (limit {} s)",
                    now.duration_since(since).as_secs(),
                    self.wedge_after.as_secs()
                ));
            }
        }
        let ok = lines.is_empty();
        if ok {
            lines.push("alive".to_string());
        }
        Report { ok, lines }
    }

    /// `/readyz`.
    pub async fn readiness(&self) -> Report {
        let mut lines = Vec::new();
        let mut ok = true;
        let mut line = |pass: bool, text: String| {
            ok &= pass;
            lines.push(format!("{} {text}", if pass { "ok  " } else { "FAIL" }));
        };
        match self.broker.get().cloned() {
            None => line(false, "kafka: not connected yet".into()),
            Some(broker) => {
                let answer = tokio::task::spawn_blocking(move || broker.reachable(CHECK_TIMEOUT)).await;
                match answer {
                    Ok(Ok(())) => line(true, "kafka: the broker answers".into()),
                    Ok(Err(e)) => line(false, format!("kafka: {e}")),
                    Err(e) => line(false, format!("kafka: the check failed: {e}")),
                }
            }
        }
        match self.database.get() {
            None => line(false, "database: not connected yet".into()),
            Some(pool) => match tokio::time::timeout(CHECK_TIMEOUT, crate::db::ping(pool)).await {
                Ok(Ok(())) => line(true, "database: answers".into()),
                Ok(Err(e)) => line(false, format!("database: {e}")),
                Err(_) => line(false, format!("database: no answer within {} s", CHECK_TIMEOUT.as_secs())),
            },
        }
        let (assigned, broken): (usize, Vec<String>) = {
            let partitions = self.lock();
            let broken = partitions
                .iter()
                .filter_map(|(p, s)| s.broken.as_ref().map(|why| format!("partition {p}: {why}")))
                .collect();
            (partitions.len(), broken)
        };
        line(assigned > 0, format!("partitions: {assigned} assigned"));
        if broken.is_empty() {
            line(true, "stages: none broken".into());
        }
        for b in broken {
            line(false, format!("stage broken, {b}"));
        }
        crate::metrics::ready(ok);
        Report { ok, lines }
    }
}

/// A worker's step in progress; dropping it ends the step.
pub struct Step {
    health: Arc<Health>,
    partition: i32,
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(state) = self.health.lock().get_mut(&self.partition) {
            state.busy_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Health;

    #[test]
    fn a_step_longer_than_the_limit_is_wedged_and_a_finished_one_is_not() {
        let health = Health::new(Duration::from_millis(20));
        health.partition_started(4);
        let step = health.step(4);
        assert!(health.liveness().ok);
        std::thread::sleep(Duration::from_millis(40));
        let report = health.liveness();
        assert!(!report.ok);
        assert!(report.lines[0].starts_with("partition 4: wedged"), "{report:?}");
        drop(step);
        assert!(health.liveness().ok);
    }

    #[tokio::test]
    async fn not_ready_without_connections_partitions_or_with_a_broken_stage() {
        let health = Health::new(Duration::from_secs(60));
        let report = health.readiness().await;
        assert!(!report.ok);
        assert!(report.lines.iter().any(|l| l.contains("kafka: not connected yet")), "{report:?}");
        assert!(report.lines.iter().any(|l| l.contains("partitions: 0 assigned")), "{report:?}");
        health.partition_started(1);
        health.broken(1, Some("stage \"validate\" fails on 10 of 10 records".into()));
        let report = health.readiness().await;
        assert!(report.lines.iter().any(|l| l.starts_with("FAIL stage broken, partition 1: stage \"validate\"")));
        health.broken(1, None);
        let report = health.readiness().await;
        assert!(report.lines.iter().any(|l| l == "ok   stages: none broken"), "{report:?}");
    }
}
