//! The terminal progress line: events/s, sent, poison, in flight. Hidden
//! unless asked for (the CLI asks when stderr is a terminal).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the message (rate, counters) is redrawn.
const REFRESH: Duration = Duration::from_millis(200);

pub struct Progress {
    bar: ProgressBar,
    last_refresh: Instant,
    window_start: Instant,
    window_sent: u64,
    rate: f64,
}

/// The counters shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub sent: u64,
    pub poison: u64,
    pub failed: u64,
    pub in_flight: usize,
}

impl Progress {
    /// A bar to `total` events when known, else a spinner.
    pub fn new(visible: bool, total: Option<u64>) -> Progress {
        let bar = match (visible, total) {
            (false, _) => ProgressBar::hidden(),
            (true, Some(n)) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} sent  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            ),
            (true, None) => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {pos} sent  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        if visible {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        let now = Instant::now();
        Progress { bar, last_refresh: now, window_start: now, window_sent: 0, rate: 0.0 }
    }

    pub fn update(&mut self, c: Counters) {
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(c.sent);
        let now = Instant::now();
        if now.duration_since(self.last_refresh) < REFRESH {
            return;
        }
        self.last_refresh = now;
        // The rate over the last second or so; over the run until then.
        let window = now.duration_since(self.window_start).as_secs_f64();
        if window >= 1.0 || self.window_sent == 0 {
            self.rate = c.sent.saturating_sub(self.window_sent) as f64 / window.max(0.001);
        }
        if window >= 1.0 {
            self.window_start = now;
            self.window_sent = c.sent;
        }
        let failed = if c.failed > 0 { format!("  failed {}", c.failed) } else { String::new() };
        self.bar.set_message(format!("{:.0} ev/s  poison {}  in flight {}{failed}", self.rate, c.poison, c.in_flight));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
