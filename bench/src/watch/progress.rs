//! Progress of a consumer group: its committed offsets in Kafka, polled
//! every few tens of milliseconds, with the topic's high watermarks (fixed
//! for a backlog, polled under live load). Reads committed first, then the
//! watermarks, so lag is never under-stated.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::Sampler;
use crate::kafka;

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// Seconds since the scenario's clock started.
    pub t: f64,
    pub committed: Vec<i64>,
    pub high: Vec<i64>,
}

impl Progress {
    pub fn committed_total(&self) -> i64 {
        self.committed.iter().sum()
    }

    pub fn lag(&self) -> i64 {
        self.high.iter().zip(&self.committed).map(|(h, c)| (h - c).max(0)).sum()
    }

    /// Every partition committed up to `ends`.
    pub fn reached(&self, ends: &[i64]) -> bool {
        self.committed.iter().zip(ends).all(|(c, e)| c >= e)
    }
}

/// Polls `group` on `topic` every `every`; `highs` fixed, or `None` to poll
/// them too.
pub fn watch(
    brokers: &str,
    topic: &str,
    group: &str,
    highs: Option<Vec<i64>>,
    every: Duration,
    t0: Instant,
) -> anyhow::Result<Sampler<Progress>> {
    let reader = kafka::group_reader(brokers, group)?;
    let client = kafka::client(brokers).context("the watermark client")?;
    let topic = topic.to_string();
    Ok(Sampler::spawn(move || {
        let started = Instant::now();
        let sample = (|| {
            let committed = kafka::committed(&reader, &topic).ok()?;
            let high = match &highs {
                Some(h) => h.clone(),
                None => kafka::high_watermarks(&client, &topic).ok()?,
            };
            Some(Progress { t: t0.elapsed().as_secs_f64(), committed, high })
        })();
        std::thread::sleep(every.saturating_sub(started.elapsed()));
        sample
    }))
}
