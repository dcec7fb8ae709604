//! The `loadgen` command line. `src/bin/loadgen.rs` only calls [`main`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, Utc};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use super::generator::GeneratorConfig;
use super::run::{LoadgenConfig, SinkConfig, run_until};
use super::summary::Summary;

/// The study platform's AI server, simulated: focus events from N learners
/// into Kafka (or a file), with poison pills, then a JSON summary of exactly
/// what was delivered.
#[derive(Debug, Clone, Parser)]
#[command(name = "loadgen", version)]
pub struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,
    /// Topic to send to; it must exist.
    #[arg(long, default_value = "study-log-events")]
    pub topic: String,
    /// Number of simulated learners.
    #[arg(long, default_value_t = 50)]
    pub sessions: usize,
    /// Session ids are `<prefix>1` ..= `<prefix>N`.
    #[arg(long, default_value = "session-")]
    pub session_prefix: String,
    /// Real milliseconds between two events of one learner; 0 = as fast as possible.
    #[arg(long, default_value_t = 70)]
    pub interval_ms: u64,
    /// Simulated milliseconds between two events of one learner [default: the interval, or 70 when it is 0].
    #[arg(long)]
    pub clock_step_ms: Option<u64>,
    /// Stop after this many events.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this long (`30s`, `2m`, `1h30m`, `500ms`, or plain seconds).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// RNG seed; the same seed and --start give the same events [default: random, printed in the summary].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated time of the first event: RFC 3339, epoch milliseconds, or `now`.
    #[arg(long, default_value = "now", value_parser = parse_start)]
    pub start: Start,
    /// The platform's UTC offset, for offset timestamps and for local times.
    #[arg(long, default_value = "+09:00", allow_hyphen_values = true)]
    pub utc_offset: FixedOffset,
    /// Percentage of events that are poison pills.
    #[arg(long, default_value_t = 2.0)]
    pub poison_percent: f64,
    /// Percentage of timestamps written as epoch milliseconds.
    #[arg(long, default_value_t = 5.0)]
    pub epoch_millis_percent: f64,
    /// Percentage of timestamps written as local ISO time without an offset.
    #[arg(long, default_value_t = 5.0)]
    pub local_time_percent: f64,
    /// Write raw values, one per line, to this file instead of Kafka.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Write the summary JSON here instead of stdout.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Write every delivered event here, one JSON line each (partition, offset, key, value, kind).
    #[arg(long)]
    pub events_out: Option<PathBuf>,
    /// Delivery reports awaited at once, at most.
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// A message not delivered within this time counts as failed.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub delivery_timeout: Duration,
    /// Never draw the progress line (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

/// `--start`: a fixed time or the time the run begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Now,
    At(DateTime<Utc>),
}

impl Args {
    /// The run this command line describes.
    pub fn to_config(&self) -> LoadgenConfig {
        let start = match self.start {
            Start::Now => Utc::now(),
            Start::At(t) => t,
        };
        let generator = GeneratorConfig {
            sessions: self.sessions,
            session_prefix: self.session_prefix.clone(),
            seed: self.seed.unwrap_or_else(rand::random),
            start_ms: start.timestamp_millis(),
            step_ms: self.clock_step_ms.unwrap_or(if self.interval_ms == 0 { 70 } else { self.interval_ms }),
            utc_offset: self.utc_offset,
            poison_percent: self.poison_percent,
            epoch_millis_percent: self.epoch_millis_percent,
            local_time_percent: self.local_time_percent,
        };
        let sink = match &self.output {
            Some(path) => SinkConfig::File(path.clone()),
            None => SinkConfig::Kafka { brokers: self.brokers.clone(), topic: self.topic.clone() },
        };
        LoadgenConfig {
            generator,
            sink,
            interval_ms: self.interval_ms,
            count: self.count,
            duration: self.duration,
            events_out: self.events_out.clone(),
            progress: !self.no_progress && std::io::stderr().is_terminal(),
            max_in_flight: self.max_in_flight,
            delivery_timeout: self.delivery_timeout,
        }
    }
}

/// Parses the command line, runs, prints the summary. Ctrl-C stops sending
/// and still waits for outstanding deliveries. Fails when any delivery failed.
pub fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let config = args.to_config();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let summary = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
            }
        });
        run_until(config, shutdown).await
    })?;
    write_summary(&summary, args.summary.as_ref())?;
    if summary.failed > 0 {
        bail!("{} of {} events were not delivered: {:?}", summary.failed, summary.attempted, summary.failures);
    }
    Ok(())
}

fn write_summary(summary: &Summary, path: Option<&PathBuf>) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(summary).context("serializing the summary")?;
    match path {
        Some(path) => {
            std::fs::write(path, json + "\n").with_context(|| format!("writing the summary to {}", path.display()))
        }
        None => {
            println!("{json}");
            Ok(())
        }
    }
}

/// `30s`, `500ms`, `2m`, `1h30m`, `1.5s`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| format!("`{text}`: {e}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration (try 30s, 2m, 500ms)"))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            other => return Err(format!("`{text}`: unknown unit `{other}` (use ms, s, m or h)")),
        };
        total += Duration::try_from_secs_f64(value * scale).map_err(|e| format!("`{text}`: {e}"))?;
        rest = tail;
    }
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    Ok(total)
}

/// `now`, RFC 3339 (`2026-01-28T10:00:00+09:00`) or epoch milliseconds.
pub fn parse_start(text: &str) -> Result<Start, String> {
    if text == "now" {
        return Ok(Start::Now);
    }
    if let Ok(ms) = text.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms).map(Start::At).ok_or_else(|| format!("`{text}` is out of range"));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| Start::At(t.with_timezone(&Utc)))
        .map_err(|e| format!("`{text}` is not `now`, RFC 3339 or epoch milliseconds ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn starts() {
        assert_eq!(parse_start("now"), Ok(Start::Now));
        let t = DateTime::parse_from_rfc3339("2026-01-28T10:15:30.120+09:00").expect("parse").with_timezone(&Utc);
        assert_eq!(parse_start("2026-01-28T10:15:30.120+09:00"), Ok(Start::At(t)));
        assert_eq!(parse_start("1769562930120"), Ok(Start::At(t)));
        assert!(parse_start("yesterday").is_err());
    }

    #[test]
    fn interval_zero_keeps_a_70_ms_clock() {
        let args = Args::parse_from([
            "loadgen",
            "--interval-ms",
            "0",
            "--seed",
            "5",
            "--output",
            "x.jsonl",
            "--utc-offset",
            "-05:00",
        ]);
        let config = args.to_config();
        assert_eq!(config.generator.step_ms, 70);
        assert_eq!(config.generator.seed, 5);
        assert_eq!(config.generator.utc_offset, FixedOffset::west_opt(5 * 3600).expect("offset"));
        assert_eq!(config.sink, SinkConfig::File("x.jsonl".into()));
        let paced = Args::parse_from(["loadgen", "--interval-ms", "100"]).to_config();
        assert_eq!(paced.generator.step_ms, 100);
        assert!(matches!(paced.sink, SinkConfig::Kafka { .. }));
    }
}
