//! One load-generation run: generate, pace, send, wait for every delivery
//! report, count.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::ensure;
use chrono::DateTime;
use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use rdkafka::producer::{DeliveryFuture, future_producer::OwnedDeliveryResult};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::events_out::{EventRecord, EventsWriter};
use super::file_sink::FileSink;
use super::generator::{Event, EventGenerator, GeneratorConfig};
use super::producer::{KafkaSink, SendError};
use super::progress::{Counters, Progress};
use super::summary::{RunInfo, SinkInfo, StopReason, Summary, Tally};

/// Everything a run needs. Start from [`LoadgenConfig::kafka`] or
/// [`LoadgenConfig::file`] and override fields.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadgenConfig {
    /// Learners, seed, simulated clock, poison and timestamp shares.
    pub generator: GeneratorConfig,
    pub sink: SinkConfig,
    /// Real time between two events of one session; 0 = as fast as possible.
    /// The simulated clock advances by `generator.step_ms` regardless.
    pub interval_ms: u64,
    /// Stop after this many events handed to the sink.
    pub count: Option<u64>,
    /// Stop after this much real time. With neither, run until shutdown.
    pub duration: Option<Duration>,
    /// Write every delivered event here, one JSON line each.
    pub events_out: Option<PathBuf>,
    /// Draw the progress line on stderr.
    pub progress: bool,
    /// Deliveries awaited at once, at most.
    pub max_in_flight: usize,
    /// librdkafka's `message.timeout.ms`: after this a message counts as failed.
    pub delivery_timeout: Duration,
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    Kafka {
        brokers: String,
        topic: String,
    },
    /// Raw values, one per line.
    File(PathBuf),
}

impl LoadgenConfig {
    /// Defaults ([`GeneratorConfig::default`], 70 ms pacing, no stop
    /// condition, no progress) sending to `topic` on `brokers`.
    pub fn kafka(brokers: impl Into<String>, topic: impl Into<String>) -> LoadgenConfig {
        LoadgenConfig::with_sink(SinkConfig::Kafka { brokers: brokers.into(), topic: topic.into() })
    }

    /// The same defaults, writing raw values to `path`.
    pub fn file(path: impl Into<PathBuf>) -> LoadgenConfig {
        LoadgenConfig::with_sink(SinkConfig::File(path.into()))
    }

    fn with_sink(sink: SinkConfig) -> LoadgenConfig {
        LoadgenConfig {
            generator: GeneratorConfig::default(),
            sink,
            interval_ms: 70,
            count: None,
            duration: None,
            events_out: None,
            progress: false,
            max_in_flight: 10_000,
            delivery_timeout: Duration::from_secs(60),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.generator.validate()?;
        ensure!(self.max_in_flight >= 1, "max-in-flight must be at least 1");
        ensure!(!self.delivery_timeout.is_zero(), "the delivery timeout must be positive");
        Ok(())
    }

    /// When event `event_ms` (simulated) is due, as real time since the start.
    fn due_after(&self, event_ms: i64) -> Duration {
        let simulated = u128::try_from(event_ms - self.generator.start_ms).unwrap_or(0);
        let real = simulated * u128::from(self.interval_ms) / u128::from(self.generator.step_ms.max(1));
        Duration::from_millis(u64::try_from(real).unwrap_or(u64::MAX))
    }
}

/// Runs to the configured stop condition.
pub async fn run(config: LoadgenConfig) -> anyhow::Result<Summary> {
    run_until(config, CancellationToken::new()).await
}

/// Runs until the stop condition or `shutdown`, whichever comes first; then
/// waits for every delivery report still outstanding.
pub async fn run_until(config: LoadgenConfig, shutdown: CancellationToken) -> anyhow::Result<Summary> {
    config.validate()?;
    let mut generator = EventGenerator::new(config.generator.clone());
    let mut sink = match &config.sink {
        SinkConfig::Kafka { brokers, topic } => {
            Sink::Kafka(KafkaSink::connect(brokers, topic, config.delivery_timeout).await?)
        }
        SinkConfig::File(path) => Sink::File(FileSink::create(path)?),
    };
    let mut book = Book {
        tally: Tally::new(generator.session_ids()),
        events_out: config.events_out.as_deref().map(EventsWriter::create).transpose()?,
        progress: Progress::new(config.progress, config.count),
    };

    let started = Instant::now();
    let deadline = config.duration.map(|d| started + d);
    let mut in_flight = FuturesUnordered::new();
    let mut handed: u64 = 0;
    let stopped_by = 'produce: loop {
        if config.count.is_some_and(|n| handed >= n) {
            break StopReason::Count;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break StopReason::Duration;
        }
        if shutdown.is_cancelled() {
            break StopReason::Interrupted;
        }
        let event = generator.next_event();

        if config.interval_ms > 0 {
            let due = started + config.due_after(event.time_ms);
            if deadline.is_some_and(|d| due >= d) {
                // Sleep out the rest of the run collecting reports, then stop.
                let d = deadline.unwrap_or(due);
                if !wait_until(d, &mut in_flight, &mut book, &shutdown).await? {
                    break StopReason::Interrupted;
                }
                break StopReason::Duration;
            }
            if !wait_until(due, &mut in_flight, &mut book, &shutdown).await? {
                break 'produce StopReason::Interrupted;
            }
        }

        handed += 1;
        match &mut sink {
            Sink::File(file) => {
                let line = file.write(&event)?;
                book.delivered(&event, 0, line)?;
            }
            Sink::Kafka(kafka) => {
                while in_flight.len() >= config.max_in_flight {
                    if let Some(report) = in_flight.next().await {
                        book.report(report)?;
                    }
                }
                loop {
                    match kafka.send(&event) {
                        Ok(delivery) => {
                            in_flight.push(delivered(event, delivery));
                            break;
                        }
                        Err(SendError::QueueFull) => match in_flight.next().await {
                            Some(report) => book.report(report)?,
                            None => tokio::time::sleep(Duration::from_millis(5)).await,
                        },
                        Err(SendError::Rejected(e)) => {
                            book.tally.failed(e.to_string());
                            break;
                        }
                    }
                }
                while let Some(Some(report)) = in_flight.next().now_or_never() {
                    book.report(report)?;
                }
            }
        }
        book.show(in_flight.len());
    };

    while let Some(report) = in_flight.next().await {
        book.report(report)?;
        book.show(in_flight.len());
    }
    if let Sink::File(file) = sink {
        file.finish()?;
    }
    if let Some(out) = book.events_out.take() {
        out.finish()?;
    }
    book.progress.finish();
    let elapsed = started.elapsed();
    let generator_config = generator.config();
    let info = RunInfo {
        sink: match &config.sink {
            SinkConfig::Kafka { brokers, topic } => SinkInfo::Kafka { brokers: brokers.clone(), topic: topic.clone() },
            SinkConfig::File(path) => SinkInfo::File { path: path.display().to_string() },
        },
        seed: generator_config.seed,
        session_count: generator_config.sessions,
        interval_ms: config.interval_ms,
        clock_step_ms: generator_config.step_ms,
        start_time: DateTime::from_timestamp_millis(generator_config.start_ms)
            .map(|t| {
                t.with_timezone(&generator_config.utc_offset).to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
            })
            .unwrap_or_default(),
    };
    Ok(book.tally.finish(info, stopped_by, elapsed))
}

enum Sink {
    Kafka(KafkaSink),
    File(FileSink),
}

/// A delivery report: the event and what became of it.
type Report = (Event, Result<OwnedDeliveryResult, futures::channel::oneshot::Canceled>);

async fn delivered(event: Event, delivery: DeliveryFuture) -> Report {
    (event, delivery.await)
}

/// The counts, the events file and the progress line, kept together.
struct Book {
    tally: Tally,
    events_out: Option<EventsWriter>,
    progress: Progress,
}

impl Book {
    fn delivered(&mut self, event: &Event, partition: i32, offset: i64) -> anyhow::Result<()> {
        self.tally.delivered(event, partition, offset);
        if let Some(out) = &mut self.events_out {
            out.write(&EventRecord::new(event, partition, offset))?;
        }
        Ok(())
    }

    fn report(&mut self, (event, result): Report) -> anyhow::Result<()> {
        match result {
            Ok(Ok(delivery)) => self.delivered(&event, delivery.partition, delivery.offset)?,
            Ok(Err((error, _))) => self.tally.failed(error.to_string()),
            Err(_) => self.tally.failed("the producer dropped the delivery report".to_string()),
        }
        Ok(())
    }

    fn show(&mut self, in_flight: usize) {
        self.progress.update(Counters {
            sent: self.tally.sent(),
            poison: self.tally.poison(),
            failed: self.tally.failed_count(),
            in_flight,
        });
    }
}

/// Sleeps until `due`, recording delivery reports meanwhile. `false` when
/// `shutdown` fired first.
async fn wait_until<F: Future<Output = Report>>(
    due: Instant,
    in_flight: &mut FuturesUnordered<F>,
    book: &mut Book,
    shutdown: &CancellationToken,
) -> anyhow::Result<bool> {
    let sleep = tokio::time::sleep_until(due);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return Ok(true),
            () = shutdown.cancelled() => return Ok(false),
            Some(report) = in_flight.next(), if !in_flight.is_empty() => {
                book.report(report)?;
                book.show(in_flight.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events_out::read_events;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("loadgen-{name}-{}-{:08x}", std::process::id(), rand::random::<u32>()))
    }

    #[tokio::test]
    async fn file_sink_writes_every_value_and_the_summary_matches() {
        let (output, events) = (temp("out.jsonl"), temp("events.jsonl"));
        let mut config = LoadgenConfig::file(&output);
        config.interval_ms = 0;
        config.count = Some(2_000);
        config.events_out = Some(events.clone());
        config.generator.sessions = 10;
        config.generator.poison_percent = 10.0;
        let summary = run(config).await.expect("run");
        let lines: Vec<String> =
            std::fs::read_to_string(&output).expect("output").lines().map(str::to_string).collect();
        let records = read_events(&events).expect("events");
        std::fs::remove_file(&output).ok();
        std::fs::remove_file(&events).ok();

        assert_eq!(summary.stopped_by, StopReason::Count);
        assert_eq!((summary.attempted, summary.sent, summary.failed), (2_000, 2_000, 0));
        assert_eq!(lines.len(), 2_000);
        assert_eq!(records.len(), 2_000);
        for (n, r) in records.iter().enumerate() {
            assert_eq!((r.partition, r.offset, r.seq), (0, n as i64, n as u64));
            assert_eq!(lines[n], r.value);
        }
        assert_eq!(records.iter().filter(|r| r.poison.is_some()).count() as u64, summary.poison);
        assert_eq!(summary.partitions[&0], crate::PartitionRange { first_offset: 0, last_offset: 1_999, count: 2_000 });
        assert_eq!(summary.sessions.len(), 10);
        assert!(summary.poison_kinds.values().all(|n| *n > 0), "{:?}", summary.poison_kinds);
    }

    #[tokio::test]
    async fn duration_stops_an_unbounded_run() {
        let output = temp("dur.jsonl");
        let mut config = LoadgenConfig::file(&output);
        config.interval_ms = 10;
        config.generator.step_ms = 10;
        config.generator.sessions = 2;
        config.duration = Some(Duration::from_millis(200));
        let summary = run(config).await.expect("run");
        std::fs::remove_file(&output).ok();
        assert_eq!(summary.stopped_by, StopReason::Duration);
        // Paced at 2 × 100 events/s for 0.2 s: about 40, never more than 42.
        assert!((1..=42).contains(&summary.sent), "{}", summary.sent);
    }

    #[tokio::test]
    async fn shutdown_interrupts() {
        let output = temp("int.jsonl");
        let mut config = LoadgenConfig::file(&output);
        config.generator.sessions = 1;
        config.interval_ms = 1_000;
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            trigger.cancel();
        });
        let summary = run_until(config, shutdown).await.expect("run");
        std::fs::remove_file(&output).ok();
        assert_eq!(summary.stopped_by, StopReason::Interrupted);
        assert_eq!(summary.sent, 1);
    }
}
