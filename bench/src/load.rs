//! The data: one generator configuration for everything a scenario sends,
//! so that the ceiling can regenerate exactly the events of a topic.

use std::time::Duration;

use anyhow::{Context, bail};
use loadgen::{GeneratorConfig, LoadgenConfig, Summary};
use serde::Serialize;

/// What to send: the issue's load (1,000 learners, 1 % poison pills).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Load {
    pub sessions: usize,
    pub poison_percent: f64,
    pub seed: u64,
    /// Simulated time of the first event, epoch ms.
    pub start_ms: i64,
}

impl Load {
    /// The issue's load with a fixed seed and simulated start, so a run is
    /// repeatable.
    pub fn standard() -> Load {
        Load { sessions: 1_000, poison_percent: 1.0, seed: 11, start_ms: 1_769_562_000_000 }
    }

    /// The generator both loadgen and the ceiling use.
    pub fn generator(&self) -> GeneratorConfig {
        GeneratorConfig {
            sessions: self.sessions,
            seed: self.seed,
            start_ms: self.start_ms,
            step_ms: 70,
            poison_percent: self.poison_percent,
            ..GeneratorConfig::default()
        }
    }

    /// Events per second at the nominal pace (one per 70 ms per learner).
    pub fn nominal_rate(&self) -> f64 {
        self.sessions as f64 * 1000.0 / 70.0
    }
}

/// Fills `topic` with `count` events as fast as possible (`--interval-ms 0`).
pub async fn fill(brokers: &str, topic: &str, load: &Load, count: u64) -> anyhow::Result<Summary> {
    let mut config = LoadgenConfig::kafka(brokers, topic);
    config.generator = load.generator();
    config.interval_ms = 0;
    config.count = Some(count);
    let summary = loadgen::run(config).await.with_context(|| format!("filling {topic} with loadgen"))?;
    if summary.sent != count || summary.failed > 0 {
        bail!(
            "loadgen delivered {} of {count} events ({} failed: {:?})",
            summary.sent,
            summary.failed,
            summary.failures
        );
    }
    Ok(summary)
}

/// Sends at the nominal pace (70 ms per learner) for `duration`, simulated
/// clock starting now.
pub async fn live(brokers: &str, topic: &str, load: &Load, duration: Duration) -> anyhow::Result<Summary> {
    let mut config = LoadgenConfig::kafka(brokers, topic);
    config.generator = Load { start_ms: chrono::Utc::now().timestamp_millis(), ..*load }.generator();
    config.interval_ms = 70;
    config.duration = Some(duration);
    let summary = loadgen::run(config).await.with_context(|| format!("live load on {topic} with loadgen"))?;
    if summary.failed > 0 {
        bail!("loadgen failed to deliver {} events: {:?}", summary.failed, summary.failures);
    }
    Ok(summary)
}

/// Next offset of each partition after the run, from the summary.
pub fn ends(summary: &Summary) -> Vec<i64> {
    (0..crate::kafka::PARTITIONS).map(|p| summary.partitions.get(&p).map_or(0, |r| r.last_offset + 1)).collect()
}

/// The summary's headline numbers, for the results.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub events: u64,
    pub valid: u64,
    pub poison: u64,
    pub seconds: f64,
    pub events_per_sec: f64,
}

impl From<&Summary> for Sent {
    fn from(s: &Summary) -> Sent {
        Sent {
            events: s.sent,
            valid: s.valid,
            poison: s.poison,
            seconds: s.elapsed_ms as f64 / 1000.0,
            events_per_sec: s.events_per_sec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_rate_is_the_issue_figure() {
        assert!((Load::standard().nominal_rate() - 14_285.7).abs() < 1.0);
    }
}
