//! What the screen shows, computed from the last scrapes: rates from counter
//! deltas, quantiles estimated from histogram buckets, the lag table. No
//! drawing and no I/O here.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local};

use super::scrape::{Bucket, Histogram, Metrics};

/// The outcomes `sluice_stage_records_total` counts, in column order.
pub const OUTCOMES: [&str; 6] = ["in", "kept", "replaced", "rejected", "isolated", "dropped"];

/// One scrape and when it was taken.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub wall: DateTime<Local>,
    pub metrics: Metrics,
}

/// The scrapes kept for rates (the last two) and for the histograms (all,
/// spanning up to the window).
#[derive(Debug)]
pub struct History {
    samples: VecDeque<Sample>,
    window: Duration,
}

impl History {
    pub fn new(window: Duration) -> History {
        History { samples: VecDeque::new(), window }
    }

    pub fn push(&mut self, sample: Sample) {
        let now = sample.at;
        self.samples.push_back(sample);
        while self.samples.len() > 2 && self.samples.get(1).is_some_and(|s| now - s.at >= self.window) {
            self.samples.pop_front();
        }
    }

    /// The dashboard of the latest scrape, if there is one.
    pub fn dashboard(&self) -> Option<Dashboard> {
        let current = self.samples.back()?;
        let previous = self.samples.len().checked_sub(2).and_then(|i| self.samples.get(i));
        let oldest = self.samples.front().filter(|s| s.at < current.at);
        Some(Dashboard::compute(current, previous, oldest))
    }
}

/// A counter's total and its rate over the last interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rated {
    pub total: f64,
    /// None until there are two scrapes.
    pub per_second: Option<f64>,
}

/// A counter series: its label values (e.g. stage and reason) and numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterRow {
    pub key: Vec<String>,
    pub value: Rated,
}

/// Records through one stage, per outcome in [`OUTCOMES`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRow {
    pub stage: String,
    pub outcomes: [Rated; OUTCOMES.len()],
}

#[derive(Debug, Clone, PartialEq)]
pub struct LagRow {
    pub partition: String,
    pub lag: f64,
    /// Negative while the partition catches up.
    pub change_per_second: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleRow {
    pub stage: String,
    /// The first 12 hex digits of the running module's sha256.
    pub sha256: Option<String>,
    pub accepted: f64,
    pub refused: f64,
}

/// Whether a histogram observes seconds or a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Count,
}

/// A histogram over the window: observations per second, p50, p99, mean.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramRow {
    pub name: String,
    pub unit: Unit,
    pub per_second: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub mean: Option<f64>,
}

/// Everything one frame shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub scraped: DateTime<Local>,
    pub up: Option<bool>,
    pub ready: Option<bool>,
    pub partitions_assigned: Option<f64>,
    pub stages: Vec<StageRow>,
    pub sink_rows: Vec<CounterRow>,
    /// What the histograms span: since the oldest scrape kept, or since
    /// Sluice started when there is only one scrape.
    pub window: Option<Duration>,
    pub histograms: Vec<HistogramRow>,
    pub lag: Vec<LagRow>,
    pub dead_letters: Vec<CounterRow>,
    pub modules: Vec<ModuleRow>,
    pub retries: Vec<CounterRow>,
}

impl Dashboard {
    pub fn compute(current: &Sample, previous: Option<&Sample>, oldest: Option<&Sample>) -> Dashboard {
        let now = &current.metrics;
        let rate = Rate::new(current, previous);
        let flag = |name| now.number(name, &[]).map(|v| v >= 1.0);

        let stage_names = label_values(now.numbers("sluice_stage_records_total"), "stage");
        let stages = stage_names
            .iter()
            .map(String::as_str)
            .map(|stage| StageRow {
                stage: stage.to_owned(),
                outcomes: OUTCOMES.map(|outcome| {
                    rate.counter("sluice_stage_records_total", &[("stage", stage), ("outcome", outcome)])
                }),
            })
            .collect();

        let mut lag: Vec<LagRow> = now
            .numbers("sluice_consumer_lag")
            .filter_map(|(labels, value)| {
                let partition = labels.get("partition")?.as_str();
                let before =
                    previous.and_then(|p| p.metrics.number("sluice_consumer_lag", &[("partition", partition)]));
                Some(LagRow {
                    partition: partition.to_owned(),
                    lag: value,
                    change_per_second: before.zip(rate.seconds).map(|(b, s)| (value - b) / s),
                })
            })
            .collect();
        // Numerically where the partitions are numbers: 2 before 10.
        lag.sort_by(|a, b| {
            (a.partition.parse::<i64>().ok(), &a.partition).cmp(&(b.partition.parse::<i64>().ok(), &b.partition))
        });

        let module_stages =
            label_values(now.numbers("sluice_module_info").chain(now.numbers("sluice_module_reloads_total")), "stage");
        let modules = module_stages
            .iter()
            .map(String::as_str)
            .map(|stage| ModuleRow {
                stage: stage.to_owned(),
                sha256: now
                    .numbers("sluice_module_info")
                    .find(|(l, v)| *v >= 1.0 && l.get("stage").is_some_and(|s| s == stage))
                    .and_then(|(l, _)| l.get("sha256"))
                    .map(|sha| sha.chars().take(12).collect()),
                accepted: now
                    .number("sluice_module_reloads_total", &[("stage", stage), ("result", "accepted")])
                    .unwrap_or(0.0),
                refused: now
                    .number("sluice_module_reloads_total", &[("stage", stage), ("result", "refused")])
                    .unwrap_or(0.0),
            })
            .collect();

        let window_start = oldest.or(previous);
        let window = window_start.map(|s| current.at - s.at);
        let histogram = |name: &str, title: String, labels: &[(&str, &str)], unit| {
            let latest = now.histogram(name, labels)?;
            let before = window_start.and_then(|s| s.metrics.histogram(name, labels));
            Some(histogram_row(title, unit, &latest, before.as_ref(), window))
        };
        let mut histograms: Vec<HistogramRow> = [
            histogram("sluice_batch_seconds", "batch latency".into(), &[], Unit::Seconds),
            histogram("sluice_batch_records", "records per batch".into(), &[], Unit::Count),
            histogram("sluice_sink_write_seconds", "sink write".into(), &[], Unit::Seconds),
        ]
        .into_iter()
        .flatten()
        .collect();
        for stage in now.histogram_labels("sluice_stage_seconds", "stage") {
            let title = format!("stage {stage}");
            histograms.extend(histogram("sluice_stage_seconds", title, &[("stage", stage.as_str())], Unit::Seconds));
        }

        Dashboard {
            scraped: current.wall,
            up: flag("sluice_up"),
            ready: flag("sluice_ready"),
            partitions_assigned: now.number("sluice_partitions_assigned", &[]),
            stages,
            sink_rows: rate.counters("sluice_sink_rows_total", &["table"]),
            window,
            histograms,
            lag,
            dead_letters: rate.counters("sluice_dead_letters_total", &["stage", "reason_class"]),
            modules,
            retries: rate.counters("sluice_retries_total", &["cause"]),
        }
    }

    pub fn lag_total(&self) -> f64 {
        self.lag.iter().map(|r| r.lag).sum()
    }
}

/// Rates between the current scrape and the one before.
struct Rate<'a> {
    current: &'a Sample,
    previous: Option<&'a Sample>,
    /// Seconds between them; None without a previous scrape.
    seconds: Option<f64>,
}

impl<'a> Rate<'a> {
    fn new(current: &'a Sample, previous: Option<&'a Sample>) -> Rate<'a> {
        let seconds = previous.map(|p| (current.at - p.at).as_secs_f64()).filter(|s| *s > 0.0);
        Rate { current, previous: previous.filter(|_| seconds.is_some()), seconds }
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Rated {
        let total = self.current.metrics.number(name, labels).unwrap_or(0.0);
        let before = self.previous.map(|p| p.metrics.number(name, labels).unwrap_or(0.0));
        Rated { total, per_second: before.zip(self.seconds).map(|(b, s)| increase(b, total) / s) }
    }

    /// Every series of counter `name`, keyed by the values of `keys`.
    fn counters(&self, name: &str, keys: &[&str]) -> Vec<CounterRow> {
        self.current
            .metrics
            .numbers(name)
            .map(|(labels, _)| {
                let key: Vec<String> = keys.iter().map(|k| labels.get(*k).cloned().unwrap_or_default()).collect();
                let wanted: Vec<(&str, &str)> = keys.iter().copied().zip(key.iter().map(String::as_str)).collect();
                CounterRow { value: self.counter(name, &wanted), key }
            })
            .collect()
    }
}

/// A counter's increase from `before` to `after`; a drop means the
/// process restarted and counted from zero.
fn increase(before: f64, after: f64) -> f64 {
    if after >= before { after - before } else { after }
}

/// The distinct values of `label`, in the order the series came.
fn label_values<'a>(series: impl Iterator<Item = (&'a super::scrape::Labels, f64)>, label: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for (labels, _) in series {
        if let Some(v) = labels.get(label)
            && !values.contains(v)
        {
            values.push(v.clone());
        }
    }
    values
}

fn histogram_row(
    name: String,
    unit: Unit,
    current: &Histogram,
    before: Option<&Histogram>,
    window: Option<Duration>,
) -> HistogramRow {
    let seconds = window.map(|w| w.as_secs_f64());
    let window = match before {
        Some(before) => difference(before, current),
        None => current.clone(),
    };
    let observed = window.count > 0.0;
    HistogramRow {
        name,
        unit,
        per_second: seconds.filter(|s| *s > 0.0 && before.is_some()).map(|s| window.count / s),
        p50: quantile(0.5, &window.buckets),
        p99: quantile(0.99, &window.buckets),
        mean: observed.then(|| window.sum / window.count),
    }
}

/// The observations between two scrapes of a histogram. After a restart
/// (the count dropped) or a change of buckets, the current one whole.
pub fn difference(before: &Histogram, after: &Histogram) -> Histogram {
    let same_buckets = before.buckets.len() == after.buckets.len()
        && before.buckets.iter().zip(&after.buckets).all(|(b, a)| b.le == a.le);
    if after.count < before.count || !same_buckets {
        return after.clone();
    }
    Histogram {
        buckets: before
            .buckets
            .iter()
            .zip(&after.buckets)
            .map(|(b, a)| Bucket { le: a.le, count: a.count - b.count })
            .collect(),
        sum: after.sum - before.sum,
        count: after.count - before.count,
    }
}

/// The `q` quantile (0..=1) estimated from cumulative buckets sorted by
/// `le`, interpolating linearly inside the bucket that holds it, as
/// Prometheus's `histogram_quantile` does: a quantile in the `+Inf`
/// bucket is reported as the highest finite bound. None without
/// observations.
pub fn quantile(q: f64, buckets: &[Bucket]) -> Option<f64> {
    let total = buckets.last()?.count;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let (mut lower, mut below) = (0.0_f64, 0.0_f64);
    for (i, bucket) in buckets.iter().enumerate() {
        if bucket.count >= rank && bucket.count > below {
            if bucket.le.is_infinite() {
                return (i > 0).then_some(lower);
            }
            if bucket.le <= lower {
                return Some(bucket.le);
            }
            let fraction = (rank - below) / (bucket.count - below);
            return Some(lower + (bucket.le - lower) * fraction);
        }
        lower = bucket.le;
        below = bucket.count;
    }
    None
}
