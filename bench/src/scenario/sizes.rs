//! How big each scenario is: the sizes, or `--quick` ones for a
//! smoke run of a few minutes.

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    /// drain: events in the backlog.
    pub drain_events: u64,
    /// catchup: seconds of load before the consumer starts, then seconds more.
    pub catchup_backlog_s: u64,
    pub catchup_live_s: u64,
    /// catchup: at most this long after the producer stops for lag to reach 0.
    pub catchup_tail_timeout_s: u64,
    /// latency: seconds of nominal load; the first `latency_warmup_s` of it are
    /// reported apart.
    pub latency_s: u64,
    pub latency_warmup_s: u64,
    /// latency: how often the database is polled for its max offsets, ms.
    pub latency_poll_ms: u64,
    /// rss: events in the backlog.
    pub rss_events: u64,
    /// batch-sizes: events in the backlog, and the sizes.
    pub batch_events: u64,
    pub batch_sizes: Vec<usize>,
    /// The seed's batch size (drain, catchup, latency, rss).
    pub default_batch: usize,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            drain_events: 1_000_000,
            catchup_backlog_s: 20,
            catchup_live_s: 60,
            catchup_tail_timeout_s: 600,
            latency_s: 70,
            latency_warmup_s: 10,
            latency_poll_ms: 10,
            rss_events: 10_000_000,
            batch_events: 300_000,
            batch_sizes: vec![100, 500, 1_000, 5_000, 10_000],
            default_batch: 500,
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            drain_events: 50_000,
            catchup_backlog_s: 5,
            catchup_live_s: 15,
            catchup_tail_timeout_s: 120,
            latency_s: 20,
            latency_warmup_s: 5,
            latency_poll_ms: 10,
            rss_events: 200_000,
            batch_events: 60_000,
            batch_sizes: vec![100, 500, 1_000, 5_000, 10_000],
            default_batch: 500,
        }
    }

    /// The longest a drain of `events` may take before the run is failed.
    pub fn drain_timeout(events: u64) -> Duration {
        Duration::from_secs(120 + events / 1_000)
    }
}
