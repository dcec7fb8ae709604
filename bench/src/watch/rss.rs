//! Resident memory of a process over time (VmRSS from /proc).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::Sampler;
use crate::process;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rss {
    /// Seconds since the scenario's clock started.
    pub t: f64,
    pub mib: f64,
}

pub fn watch(pid: u32, every: Duration, t0: Instant) -> Sampler<Rss> {
    Sampler::spawn(move || {
        std::thread::sleep(every);
        process::rss_mib(pid).map(|mib| Rss { t: t0.elapsed().as_secs_f64(), mib: crate::stats::round(mib, 1) })
    })
}
